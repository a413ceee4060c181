//! VPC endpoints on EC2: interface endpoints and gateway endpoints (S3,
//! DynamoDB: `RouteTableIds` instead of subnets and groups; EC2 adds their
//! prefix-list routes to the tables; `ModifyVpcEndpoint` adds and removes
//! tables and sets the policy document).
//!
//! Creating one is asynchronous: EC2 answers `pending` and provisions a
//! network interface in each subnet; keel polls until `available` (bounded by
//! [`Timeouts::endpoint`](super::Timeouts)) and fails with EC2's last error
//! if the endpoint ends `failed` or `rejected`. Updates compare the declared
//! subnets and groups with what EC2 describes and send one
//! `ModifyVpcEndpoint` with the differences; an endpoint declared without
//! security groups uses its VPC's default group, as AWS does. Deleting is
//! asynchronous too: `DeleteVpcEndpoints` reports per-endpoint failures in
//! its answer (not as an error), then keel polls until the endpoint is
//! `deleted` or no longer described. A read counts one `deleting` or
//! `deleted` as gone, as the simulator does; a search by tag leaves out
//! `failed` and `rejected` ones too (nothing to adopt).
//!
//! Reads observe the VPC, service, subnets, private DNS flag, tags and the
//! security groups (an endpoint declared without groups keeps none while
//! EC2 reports at most the one it chose). EC2 spells endpoint states in
//! lower case (`available`) where the SDK's enum has `Available`, so states
//! are compared as lower-case strings.

use super::resource::{
    AwsResource, Cx, Query, Res, ec2_describe, gone_is_fine, keep_order, must_live, send,
};
use super::util::{sync_tags, tag_specs, tags_of, val, vals, wait_for};
use crate::aws::ec2::{EndpointType, VpcEndpoint, VpcEndpointOutputs};
use crate::provider::ProviderError;
use crate::resource::{
    Input, PrefixListId, RouteTableId, SecurityGroupId, SubnetId, VpcEndpointId, VpcId,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, VpcEndpoint as Described, VpcEndpointType};

/// An endpoint as described, with the private addresses of its interfaces.
pub(crate) struct LiveEndpoint {
    e: Described,
    private_ips: Vec<String>,
    /// The service's prefix list (gateway endpoints).
    prefix_list: Option<String>,
}

/// The prefix list of a gateway endpoint's service.
async fn prefix_list(cx: &Cx<'_>, e: &Described) -> Result<Option<String>, ProviderError> {
    if e.vpc_endpoint_type() != Some(&VpcEndpointType::Gateway) {
        return Ok(None);
    }
    let Some(service) = e.service_name() else {
        return Ok(None);
    };
    let call = cx.c.ec2.describe_prefix_lists();
    let call = call.filters(
        Filter::builder()
            .name("prefix-list-name")
            .values(service)
            .build(),
    );
    let out = send!(cx, "DescribePrefixLists", call)?;
    let found = out.prefix_lists().iter().find_map(|p| p.prefix_list_id());
    Ok(found.map(str::to_string))
}

/// The CreateVpcEndpoint request `e` declares.
pub(crate) fn create_request(
    ec2: &aws_sdk_ec2::Client,
    e: &VpcEndpoint,
) -> aws_sdk_ec2::operation::create_vpc_endpoint::builders::CreateVpcEndpointFluentBuilder {
    let call = ec2.create_vpc_endpoint();
    let call = call.vpc_id(val(&e.vpc_id)).service_name(&e.service_name);
    let call = call.set_policy_document(e.policy.clone());
    let call = call.set_tag_specifications(tag_specs(ResourceType::VpcEndpoint, &e.tags));
    if e.is_gateway() {
        let call = call.vpc_endpoint_type(VpcEndpointType::Gateway);
        return call.set_route_table_ids(Some(vals(&e.route_table_ids)));
    }
    let groups = vals(&e.security_group_ids);
    let call = call.vpc_endpoint_type(VpcEndpointType::Interface);
    let call = call.set_subnet_ids(Some(vals(&e.subnet_ids)));
    let call = call.set_security_group_ids((!groups.is_empty()).then_some(groups));
    call.private_dns_enabled(e.private_dns_enabled)
}

fn state(e: &Described) -> String {
    e.state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The private addresses of the endpoint's interfaces, in its order.
async fn private_ips(cx: &Cx<'_>, e: &Described) -> Result<Vec<String>, ProviderError> {
    let nis = e.network_interface_ids();
    if nis.is_empty() {
        return Ok(Vec::new());
    }
    let call = cx.c.ec2.describe_network_interfaces();
    let call = call.set_network_interface_ids(Some(nis.to_vec()));
    // Interfaces of an endpoint being deleted may be gone already.
    let out = match send!(cx, "DescribeNetworkInterfaces", call) {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let ip = |ni: &String| {
        let found = out
            .network_interfaces()
            .iter()
            .find(|n| n.network_interface_id() == Some(ni.as_str()));
        found
            .and_then(|n| n.private_ip_address())
            .map(str::to_string)
    };
    Ok(nis.iter().filter_map(ip).collect())
}

/// Polls until endpoint `id` is available; its outputs.
async fn wait_available(cx: &Cx<'_>, id: &str) -> Result<VpcEndpointOutputs, ProviderError> {
    let t = cx.c.timeouts;
    let what = format!("VPC endpoint {id} to become available");
    let live = wait_for(cx.urn, &what, t.endpoint, t.poll, || async {
        let l = must_live::<VpcEndpoint>(cx, id, "while becoming available").await?;
        match state(&l.e).as_str() {
            "available" => Ok(Some(l)),
            "pending" | "pendingacceptance" => Ok(None),
            other => {
                let e = &l.e;
                let why = e
                    .last_error()
                    .and_then(|l| l.message())
                    .or(e.failure_reason());
                Err(ProviderError::new(
                    "VpcEndpointFailed",
                    format!(
                        "{}: VPC endpoint {id} became {other} instead of available: {}",
                        cx.urn,
                        why.unwrap_or("EC2 gave no reason")
                    ),
                ))
            }
        }
    })
    .await?;
    VpcEndpoint::outputs(cx, &live)
}

/// The default security group of VPC `vpc`.
async fn default_group(cx: &Cx<'_>, vpc: &str) -> Result<String, ProviderError> {
    let call = cx.c.ec2.describe_security_groups();
    let call = call.filters(Filter::builder().name("vpc-id").values(vpc).build());
    let call = call.filters(
        Filter::builder()
            .name("group-name")
            .values("default")
            .build(),
    );
    let out = send!(cx, "DescribeSecurityGroups", call)?;
    let found = out.security_groups().iter().find_map(|g| g.group_id());
    found.map(str::to_string).ok_or_else(|| {
        ProviderError::new(
            "InvalidGroup.NotFound",
            format!("{}: VPC {vpc} has no default security group", cx.urn),
        )
    })
}

/// `want` less `have`.
fn minus(want: &[String], have: &[String]) -> Option<Vec<String>> {
    let v: Vec<String> = want.iter().filter(|w| !have.contains(w)).cloned().collect();
    (!v.is_empty()).then_some(v)
}

#[async_trait]
impl AwsResource for VpcEndpoint {
    type Live = LiveEndpoint;

    async fn create(cx: &Cx<'_>, e: &Self) -> Res<Self::Outputs> {
        let call = create_request(&cx.c.ec2, e);
        let out = send!(cx, "CreateVpcEndpoint", call)?;
        let id = cx.new_id(
            "CreateVpcEndpoint",
            out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()),
        )?;
        wait_available(cx, &id).await
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeVpcEndpoints" =>
            describe_vpc_endpoints(set_vpc_endpoint_ids, filters))?;
        let gone: &[&str] = match query {
            Query::Ids(_) => &["deleting", "deleted"],
            Query::Tagged => &["deleting", "deleted", "failed", "rejected"],
        };
        let mut found = Vec::new();
        for e in out.vpc_endpoints() {
            if gone.contains(&state(e).as_str()) {
                continue;
            }
            let private_ips = private_ips(cx, e).await?;
            let prefix_list = prefix_list(cx, e).await?;
            found.push(LiveEndpoint {
                e: e.clone(),
                private_ips,
                prefix_list,
            });
        }
        Ok(found)
    }

    fn outputs(_: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        Ok(VpcEndpointOutputs {
            id: VpcEndpointId::new(l.e.vpc_endpoint_id().unwrap_or_default()),
            state: state(&l.e),
            private_ips: l.private_ips.clone(),
            prefix_list_id: l.prefix_list.as_deref().map(PrefixListId::new),
        })
    }

    fn observe(recorded: &Self, l: &Self::Live) -> Self {
        let (r, e) = (recorded, &l.e);
        let groups: Vec<String> = e
            .groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(str::to_string)
            .collect();
        let groups = match vals(&r.security_group_ids) {
            declared if declared.is_empty() && groups.len() <= 1 => declared,
            declared => keep_order(&declared, &groups),
        };
        VpcEndpoint {
            vpc_id: e
                .vpc_id()
                .map_or(r.vpc_id.clone(), |v| Input::Value(VpcId::new(v))),
            service_name: e.service_name().unwrap_or(&r.service_name).to_string(),
            subnet_ids: keep_order(&vals(&r.subnet_ids), e.subnet_ids())
                .iter()
                .map(|s| Input::Value(SubnetId::new(s)))
                .collect(),
            security_group_ids: groups
                .iter()
                .map(|g| Input::Value(SecurityGroupId::new(g)))
                .collect(),
            private_dns_enabled: e.private_dns_enabled().unwrap_or(r.private_dns_enabled),
            vpc_endpoint_type: match e.vpc_endpoint_type() {
                Some(VpcEndpointType::Gateway) => EndpointType::Gateway,
                Some(VpcEndpointType::Interface) => EndpointType::Interface,
                _ => r.vpc_endpoint_type,
            },
            route_table_ids: keep_order(&vals(&r.route_table_ids), e.route_table_ids())
                .iter()
                .map(|t| Input::Value(RouteTableId::new(t)))
                .collect(),
            // EC2 reports AWS's default policy when none was given; keep
            // the declared document (JSON spelling differs).
            policy: r.policy.clone(),
            tags: tags_of(e.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let id = id.as_str();
        let live = must_live::<Self>(cx, id, "before the update").await?.e;
        if new.is_gateway() {
            let want = vals(&new.route_table_ids);
            let have = live.route_table_ids();
            let call = cx.c.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
            let call = call.set_add_route_table_ids(minus(&want, have));
            let call = call.set_remove_route_table_ids(minus(have, &want));
            let policy = (old.policy != new.policy).then(|| {
                // No policy: back to AWS's default, full access.
                new.policy.clone().unwrap_or_else(|| {
                    r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#.to_string()
                })
            });
            let call = call.set_policy_document(policy.clone());
            if call.get_add_route_table_ids().is_some()
                || call.get_remove_route_table_ids().is_some()
                || policy.is_some()
            {
                send!(cx, "ModifyVpcEndpoint", call)?;
            }
            sync_tags(cx, id, &old.tags, &new.tags).await?;
            return wait_available(cx, id).await;
        }
        let want_subnets = vals(&new.subnet_ids);
        let mut want_groups = vals(&new.security_group_ids);
        if want_groups.is_empty() {
            let vpc = live.vpc_id().unwrap_or_default();
            want_groups.push(default_group(cx, vpc).await?);
        }
        let have_subnets = live.subnet_ids();
        let have_groups: Vec<String> = live
            .groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(str::to_string)
            .collect();
        let private_dns = (live.private_dns_enabled() != Some(new.private_dns_enabled))
            .then_some(new.private_dns_enabled);
        let call = cx.c.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
        let call = call.set_add_subnet_ids(minus(&want_subnets, have_subnets));
        let call = call.set_remove_subnet_ids(minus(have_subnets, &want_subnets));
        let call = call.set_add_security_group_ids(minus(&want_groups, &have_groups));
        let call = call.set_remove_security_group_ids(minus(&have_groups, &want_groups));
        let call = call.set_private_dns_enabled(private_dns);
        let policy = (old.policy != new.policy)
            .then(|| new.policy.clone())
            .flatten();
        let call = call.set_policy_document(policy.clone());
        let changes = policy.is_some()
            || call.get_add_subnet_ids().is_some()
            || call.get_remove_subnet_ids().is_some()
            || call.get_add_security_group_ids().is_some()
            || call.get_remove_security_group_ids().is_some()
            || private_dns.is_some();
        if changes {
            send!(cx, "ModifyVpcEndpoint", call)?;
        }
        sync_tags(cx, id, &old.tags, &new.tags).await?;
        wait_available(cx, id).await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let id = id.as_str();
        let call = cx.c.ec2.delete_vpc_endpoints().vpc_endpoint_ids(id);
        // Failures come back per endpoint in the answer, not as an error.
        // One not found may still be deleting (a delete cut short): the
        // wait below finds out.
        let answer = send!(cx, "DeleteVpcEndpoints", call).and_then(|out| {
            match out.unsuccessful().iter().filter_map(|u| u.error()).next() {
                Some(err) => Err(ProviderError::new(
                    err.code().unwrap_or("Unknown"),
                    format!(
                        "{}: DeleteVpcEndpoints: {}",
                        cx.urn,
                        err.message().unwrap_or("EC2 gave no reason")
                    ),
                )),
                None => Ok(()),
            }
        });
        gone_is_fine(answer)?;
        let t = cx.c.timeouts;
        let what = format!("VPC endpoint {id} to be deleted");
        wait_for(cx.urn, &what, t.endpoint, t.poll, || async {
            let call = cx.c.ec2.describe_vpc_endpoints().vpc_endpoint_ids(id);
            let remaining = match send!(cx, "DescribeVpcEndpoints", call) {
                Ok(out) => out.vpc_endpoints().iter().any(|e| state(e) != "deleted"),
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e),
            };
            // One `deleting` still holds its network interfaces (and with
            // them its subnets): wait until it is really gone.
            Ok((!remaining).then_some(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Tags;

    fn client() -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    #[test]
    fn gateway_endpoints_ask_for_route_tables_and_a_policy() {
        let mut e = VpcEndpoint::gateway(VpcId::new("vpc-1"), "com.amazonaws.us-east-1.s3")
            .route_table(RouteTableId::new("rtb-1"))
            .policy(r#"{"Statement":[]}"#);
        e.tags = Tags::new();
        let call = create_request(&client(), &e);
        assert_eq!(
            call.get_vpc_endpoint_type(),
            &Some(VpcEndpointType::Gateway)
        );
        assert_eq!(call.get_route_table_ids(), &Some(vec!["rtb-1".to_string()]));
        assert_eq!(
            call.get_policy_document().as_deref(),
            Some(r#"{"Statement":[]}"#)
        );
        assert_eq!(call.get_subnet_ids(), &None);
        assert_eq!(call.get_private_dns_enabled(), &None);
        let i = VpcEndpoint::interface(VpcId::new("vpc-1"), "com.amazonaws.us-east-1.ecs")
            .subnet(SubnetId::new("subnet-1"));
        let call = create_request(&client(), &i);
        assert_eq!(
            call.get_vpc_endpoint_type(),
            &Some(VpcEndpointType::Interface)
        );
        assert_eq!(call.get_route_table_ids(), &None);
        assert_eq!(call.get_private_dns_enabled(), &Some(true));
    }
}
