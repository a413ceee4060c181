//! Interface VPC endpoints on EC2.
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
//! `deleted` or no longer described.
//!
//! EC2 spells endpoint states in lower case (`available`) where the SDK's
//! enum has `Available`, so states are compared as lower-case strings.

use super::Clients;
use super::ec2_network::sync_tags;
use super::util::{aws_error, is_not_found, outputs, parse, tag_specs, wait_for};
use crate::aws::ec2::{VpcEndpoint, VpcEndpointOutputs};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{Urn, VpcEndpointId};
use aws_sdk_ec2::types::{Filter, ResourceType, VpcEndpoint as LiveEndpoint, VpcEndpointType};

fn state(e: &LiveEndpoint) -> String {
    e.state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

fn gone(urn: &Urn, id: &str) -> ProviderError {
    ProviderError::new(
        "InvalidVpcEndpointId.NotFound",
        format!("{urn}: VPC endpoint {id} no longer exists"),
    )
}

/// Endpoint `id`, unless EC2 doesn't know it or it is deleted.
async fn describe(c: &Clients, urn: &Urn, id: &str) -> Result<Option<LiveEndpoint>, ProviderError> {
    let described = c
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .map_err(aws_error(urn, "DescribeVpcEndpoints"));
    let out = match described {
        Ok(out) => out,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let found = out
        .vpc_endpoints()
        .iter()
        .find(|e| e.vpc_endpoint_id() == Some(id));
    Ok(found.filter(|e| state(e) != "deleted").cloned())
}

/// The outputs, with the private addresses of the endpoint's interfaces.
async fn endpoint_outputs(
    c: &Clients,
    urn: &Urn,
    id: &str,
    e: &LiveEndpoint,
) -> Result<Outputs, ProviderError> {
    let mut private_ips = Vec::new();
    if !e.network_interface_ids().is_empty() {
        let out = c
            .ec2
            .describe_network_interfaces()
            .set_network_interface_ids(Some(e.network_interface_ids().to_vec()))
            .send()
            .await
            .map_err(aws_error(urn, "DescribeNetworkInterfaces"))?;
        // In the endpoint's order of interfaces.
        for ni in e.network_interface_ids() {
            let found = out
                .network_interfaces()
                .iter()
                .find(|n| n.network_interface_id() == Some(ni.as_str()));
            if let Some(ip) = found.and_then(|n| n.private_ip_address()) {
                private_ips.push(ip.to_string());
            }
        }
    }
    outputs(&VpcEndpointOutputs {
        id: VpcEndpointId::new(id),
        state: state(e),
        private_ips,
    })
}

/// Polls until endpoint `id` is available; its outputs.
async fn wait_available(c: &Clients, urn: &Urn, id: &str) -> Result<Outputs, ProviderError> {
    let t = c.timeouts;
    let what = format!("VPC endpoint {id} to become available");
    let live = wait_for(urn, &what, t.endpoint, t.poll, || async {
        let e = describe(c, urn, id).await?.ok_or_else(|| gone(urn, id))?;
        match state(&e).as_str() {
            "available" => Ok(Some(e)),
            "pending" | "pendingacceptance" => Ok(None),
            other => {
                let why = e
                    .last_error()
                    .and_then(|l| l.message())
                    .or(e.failure_reason())
                    .unwrap_or("EC2 gave no reason");
                Err(ProviderError::new(
                    "VpcEndpointFailed",
                    format!("{urn}: VPC endpoint {id} became {other} instead of available: {why}"),
                ))
            }
        }
    })
    .await?;
    endpoint_outputs(c, urn, id, &live).await
}

fn ids<T: ToString>(inputs: &[crate::resource::Input<T>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in inputs.iter().filter_map(|i| i.value()) {
        let v = v.to_string();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The default security group of VPC `vpc`.
async fn default_group(c: &Clients, urn: &Urn, vpc: &str) -> Result<String, ProviderError> {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .map_err(aws_error(urn, "DescribeSecurityGroups"))?;
    out.security_groups()
        .iter()
        .find_map(|g| g.group_id())
        .map(str::to_string)
        .ok_or_else(|| {
            ProviderError::new(
                "InvalidGroup.NotFound",
                format!("{urn}: VPC {vpc} has no default security group"),
            )
        })
}

pub(crate) async fn create_vpc_endpoint(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let e: VpcEndpoint = parse(urn, &req.inputs)?;
    let groups = ids(&e.security_group_ids);
    let out = c
        .ec2
        .create_vpc_endpoint()
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .vpc_id(e.vpc_id.value().map(|v| v.to_string()).unwrap_or_default())
        .service_name(&e.service_name)
        .set_subnet_ids(Some(ids(&e.subnet_ids)))
        .set_security_group_ids((!groups.is_empty()).then_some(groups))
        .private_dns_enabled(e.private_dns_enabled)
        .set_tag_specifications(tag_specs(ResourceType::VpcEndpoint, &e.tags))
        .send()
        .await
        .map_err(aws_error(urn, "CreateVpcEndpoint"))?;
    let id = out
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .ok_or_else(|| ProviderError::internal(format!("{urn}: CreateVpcEndpoint returned no id")))?
        .to_string();
    let outputs = wait_available(c, urn, &id).await?;
    Ok(CreateResponse { id, outputs })
}

pub(crate) async fn read_vpc_endpoint(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    match describe(c, &req.urn, &req.id).await? {
        Some(e) => endpoint_outputs(c, &req.urn, &req.id, &e).await.map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn update_vpc_endpoint(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let id = req.id.as_str();
    let old: VpcEndpoint = parse(urn, &req.old_inputs)?;
    let new: VpcEndpoint = parse(urn, &req.new_inputs)?;
    let live = describe(c, urn, id).await?.ok_or_else(|| gone(urn, id))?;
    let want_subnets = ids(&new.subnet_ids);
    let mut want_groups = ids(&new.security_group_ids);
    if want_groups.is_empty() {
        let vpc = live.vpc_id().ok_or_else(|| gone(urn, id))?;
        want_groups.push(default_group(c, urn, vpc).await?);
    }
    let have_subnets = live.subnet_ids();
    let have_groups: Vec<&str> = live.groups().iter().filter_map(|g| g.group_id()).collect();
    let add_subnets: Vec<String> = want_subnets
        .iter()
        .filter(|s| !have_subnets.contains(s))
        .cloned()
        .collect();
    let remove_subnets: Vec<String> = have_subnets
        .iter()
        .filter(|s| !want_subnets.contains(s))
        .cloned()
        .collect();
    let add_groups: Vec<String> = want_groups
        .iter()
        .filter(|g| !have_groups.contains(&g.as_str()))
        .cloned()
        .collect();
    let remove_groups: Vec<String> = have_groups
        .iter()
        .filter(|g| !want_groups.iter().any(|w| w == *g))
        .map(|g| g.to_string())
        .collect();
    let private_dns = (live.private_dns_enabled() != Some(new.private_dns_enabled))
        .then_some(new.private_dns_enabled);
    let nonempty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    let changes = !(add_subnets.is_empty()
        && remove_subnets.is_empty()
        && add_groups.is_empty()
        && remove_groups.is_empty()
        && private_dns.is_none());
    if changes {
        c.ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(id)
            .set_add_subnet_ids(nonempty(add_subnets))
            .set_remove_subnet_ids(nonempty(remove_subnets))
            .set_add_security_group_ids(nonempty(add_groups))
            .set_remove_security_group_ids(nonempty(remove_groups))
            .set_private_dns_enabled(private_dns)
            .send()
            .await
            .map_err(aws_error(urn, "ModifyVpcEndpoint"))?;
    }
    sync_tags(c, urn, id, &old.tags, &new.tags).await?;
    wait_available(c, urn, id).await
}

pub(crate) async fn delete_vpc_endpoint(
    c: &Clients,
    req: DeleteRequest,
) -> Result<(), ProviderError> {
    let urn = &req.urn;
    let id = req.id.as_str();
    let deleted = c
        .ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .map_err(aws_error(urn, "DeleteVpcEndpoints"));
    let out = match deleted {
        Ok(out) => out,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    // Failures come back per endpoint in the answer, not as an error.
    if let Some(err) = out.unsuccessful().iter().filter_map(|u| u.error()).next() {
        let failed = ProviderError::new(
            err.code().unwrap_or("Unknown"),
            format!(
                "{urn}: DeleteVpcEndpoints: {}",
                err.message().unwrap_or("EC2 gave no reason")
            ),
        );
        if is_not_found(&failed) {
            return Ok(());
        }
        return Err(failed);
    }
    let t = c.timeouts;
    let what = format!("VPC endpoint {id} to be deleted");
    wait_for(urn, &what, t.endpoint, t.poll, || async {
        Ok(describe(c, urn, id).await?.is_none().then_some(()))
    })
    .await
}
