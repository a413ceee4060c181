//! Security groups on EC2. A new group has AWS's default allow-all egress;
//! keel revokes it only when the program says so (`revoke_default_egress`).
//! Rule updates authorize what is new and revoke what is gone, so unchanged
//! rules never flap.

use super::Clients;
use super::ec2_network::batched;
use super::ec2_network::sync_tags;
use super::retry::retry_on;
use super::util::{aws_error, is_not_found, outputs, parse, physical_name, tag_specs};
use crate::aws::ec2::{Peer, Protocol, Rule, SecurityGroup, SecurityGroupOutputs};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{SecurityGroupId, Urn, VpcId};
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use std::collections::BTreeMap;

/// One rule as AWS's IpPermission; `own` is the group's id (for self peers).
fn permission(rule: &Rule, own: &str) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(match rule.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
        Protocol::All => "-1",
    });
    if rule.protocol != Protocol::All {
        p = p
            .from_port(i32::from(rule.from_port))
            .to_port(i32::from(rule.to_port));
    }
    for peer in &rule.peers {
        p = match peer {
            Peer::Cidr(c) => {
                let mut r = IpRange::builder().cidr_ip(c);
                if let Some(d) = &rule.description {
                    r = r.description(d);
                }
                p.ip_ranges(r.build())
            }
            Peer::Group(g) => p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(g.value().map(|v| v.to_string()).unwrap_or_default())
                    .build(),
            ),
            Peer::SelfGroup => {
                p.user_id_group_pairs(UserIdGroupPair::builder().group_id(own).build())
            }
        };
    }
    p.build()
}

fn key(rule: &Rule) -> String {
    // Descriptions don't identify a rule (AWS compares without them).
    let mut r = rule.clone();
    r.description = None;
    serde_json::to_string(&r).unwrap_or_default()
}

/// Rules in `a` but not in `b`.
fn minus<'a>(a: &'a [Rule], b: &[Rule]) -> Vec<&'a Rule> {
    let keys: Vec<String> = b.iter().map(key).collect();
    a.iter().filter(|r| !keys.contains(&key(r))).collect()
}

async fn authorize(
    c: &Clients,
    urn: &Urn,
    id: &str,
    ingress: &[&Rule],
    egress: &[&Rule],
) -> Result<(), ProviderError> {
    if !ingress.is_empty() {
        c.ec2
            .authorize_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(ingress.iter().map(|r| permission(r, id)).collect()))
            .send()
            .await
            .map_err(aws_error(urn, "AuthorizeSecurityGroupIngress"))?;
    }
    if !egress.is_empty() {
        c.ec2
            .authorize_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(egress.iter().map(|r| permission(r, id)).collect()))
            .send()
            .await
            .map_err(aws_error(urn, "AuthorizeSecurityGroupEgress"))?;
    }
    Ok(())
}

async fn revoke(
    c: &Clients,
    urn: &Urn,
    id: &str,
    ingress: &[&Rule],
    egress: &[&Rule],
) -> Result<(), ProviderError> {
    if !ingress.is_empty() {
        c.ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(ingress.iter().map(|r| permission(r, id)).collect()))
            .send()
            .await
            .map_err(aws_error(urn, "RevokeSecurityGroupIngress"))?;
    }
    if !egress.is_empty() {
        c.ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(egress.iter().map(|r| permission(r, id)).collect()))
            .send()
            .await
            .map_err(aws_error(urn, "RevokeSecurityGroupEgress"))?;
    }
    Ok(())
}

/// The declared egress rules AWS doesn't already have by default.
fn declared_egress(sg: &SecurityGroup) -> Vec<Rule> {
    let default = key(&Rule::all().cidr("0.0.0.0/0"));
    sg.egress
        .iter()
        .filter(|r| sg.revoke_default_egress || key(r) != default)
        .cloned()
        .collect()
}

fn group_outputs_of(g: &aws_sdk_ec2::types::SecurityGroup) -> Result<Outputs, ProviderError> {
    outputs(&SecurityGroupOutputs {
        id: SecurityGroupId::new(g.group_id().unwrap_or_default()),
        name: g.group_name().unwrap_or_default().to_string(),
        vpc_id: VpcId::new(g.vpc_id().unwrap_or_default()),
    })
}

async fn groups_outputs(
    c: &Clients,
    urn: &Urn,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Outputs>, ProviderError> {
    let out = c
        .ec2
        .describe_security_groups()
        .set_group_ids(Some(ids))
        .send()
        .await
        .map_err(aws_error(urn, "DescribeSecurityGroups"))?;
    let mut found = BTreeMap::new();
    for g in out.security_groups() {
        if let Some(id) = g.group_id() {
            found.insert(id.to_string(), group_outputs_of(g)?);
        }
    }
    Ok(found)
}

async fn group_outputs(c: &Clients, urn: &Urn, id: &str) -> Result<Option<Outputs>, ProviderError> {
    match groups_outputs(c, urn, vec![id.to_string()]).await {
        Ok(mut found) => Ok(found.remove(id)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Outputs of many security groups with one DescribeSecurityGroups call.
pub(crate) async fn read_security_groups(
    c: &Clients,
    reqs: &[ReadRequest],
) -> Vec<Result<Option<Outputs>, ProviderError>> {
    let Some(first) = reqs.first() else {
        return Vec::new();
    };
    let urn = &first.urn;
    batched(
        reqs,
        |ids| groups_outputs(c, urn, ids),
        |id| async move { group_outputs(c, urn, &id).await },
    )
    .await
}

pub(crate) async fn create_security_group(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let sg: SecurityGroup = parse(urn, &req.inputs)?;
    let name = physical_name(urn, &sg.name);
    let vpc = sg.vpc_id.value().map(|v| v.to_string()).unwrap_or_default();
    let out = c
        .ec2
        .create_security_group()
        .group_name(&name)
        .description(&sg.description)
        .vpc_id(&vpc)
        .set_tag_specifications(tag_specs(ResourceType::SecurityGroup, &sg.tags))
        .send()
        .await
        .map_err(aws_error(urn, "CreateSecurityGroup"))?;
    let id = out
        .group_id()
        .ok_or_else(|| {
            ProviderError::internal(format!("{urn}: CreateSecurityGroup returned no id"))
        })?
        .to_string();
    let rules = async {
        if sg.revoke_default_egress {
            revoke(c, urn, &id, &[], &[&Rule::all().cidr("0.0.0.0/0")]).await?;
        }
        let ingress: Vec<&Rule> = sg.ingress.iter().collect();
        let egress = declared_egress(&sg);
        authorize(c, urn, &id, &ingress, &egress.iter().collect::<Vec<_>>()).await
    };
    if let Err(e) = rules.await {
        let _ = c.ec2.delete_security_group().group_id(&id).send().await;
        return Err(e);
    }
    let outputs = group_outputs(c, urn, &id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidGroup.NotFound",
            format!("{urn}: {id} vanished after creation"),
        )
    })?;
    Ok(CreateResponse { id, outputs })
}

pub(crate) async fn read_security_group(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    group_outputs(c, &req.urn, &req.id).await
}

pub(crate) async fn update_security_group(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let id = &req.id;
    let old: SecurityGroup = parse(urn, &req.old_inputs)?;
    let new: SecurityGroup = parse(urn, &req.new_inputs)?;
    let default = [Rule::all().cidr("0.0.0.0/0")];
    let (old_egress, new_egress) = (declared_egress(&old), declared_egress(&new));
    let mut revoke_egress = minus(&old_egress, &new_egress);
    let mut grant_egress = minus(&new_egress, &old_egress);
    match (old.revoke_default_egress, new.revoke_default_egress) {
        (false, true) => revoke_egress.push(&default[0]),
        (true, false) => grant_egress.push(&default[0]),
        _ => {}
    }
    revoke(
        c,
        urn,
        id,
        &minus(&old.ingress, &new.ingress),
        &revoke_egress,
    )
    .await?;
    authorize(
        c,
        urn,
        id,
        &minus(&new.ingress, &old.ingress),
        &grant_egress,
    )
    .await?;
    sync_tags(c, urn, id, &old.tags, &new.tags).await?;
    group_outputs(c, urn, id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidGroup.NotFound",
            format!("{urn}: {id} no longer exists"),
        )
    })
}

pub(crate) async fn delete_security_group(
    c: &Clients,
    req: DeleteRequest,
) -> Result<(), ProviderError> {
    let urn = &req.urn;
    // Network interfaces of just-terminated instances let go of the group
    // a little later: retry DependencyViolation for a bounded time, then
    // report AWS's own error.
    let deleted = retry_on(
        urn,
        "the security group's network interfaces to go",
        &["DependencyViolation"],
        c.timeouts.capacity,
        c.timeouts.poll,
        || async {
            c.ec2
                .delete_security_group()
                .group_id(&req.id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(urn, "DeleteSecurityGroup"))
        },
    )
    .await;
    match deleted {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}
