//! VPCs and subnets on EC2.

use super::Clients;
use super::util::{aws_error, is_not_found, outputs, parse, tag_specs, wait_for};
use crate::aws::ec2::{Subnet, SubnetOutputs, Vpc, VpcOutputs};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{Arn, RouteTableId, SecurityGroupId, SubnetId, Tags, Urn, VpcId};
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType};
use std::collections::BTreeMap;
use std::time::Duration;

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn flag(on: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(on).build()
}

/// Adds, changes and removes EC2 tags so `id` carries exactly `new`.
pub(crate) async fn sync_tags(
    c: &Clients,
    urn: &Urn,
    id: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let removed: Vec<aws_sdk_ec2::types::Tag> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
        .collect();
    if !removed.is_empty() {
        c.ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(removed))
            .send()
            .await
            .map_err(aws_error(urn, "DeleteTags"))?;
    }
    let changed: Tags = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        c.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(super::util::ec2_tags(&changed)))
            .send()
            .await
            .map_err(aws_error(urn, "CreateTags"))?;
    }
    Ok(())
}

/// Outputs of several VPCs with three calls in all (VPCs, their main route
/// tables, their default security groups).
async fn vpcs_outputs(
    c: &Clients,
    urn: &Urn,
    ids: &[String],
) -> Result<BTreeMap<String, Outputs>, ProviderError> {
    let described = c
        .ec2
        .describe_vpcs()
        .set_vpc_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(aws_error(urn, "DescribeVpcs"))?;
    let vpc_filter = Filter::builder()
        .name("vpc-id")
        .set_values(Some(ids.to_vec()))
        .build();
    let tables = c
        .ec2
        .describe_route_tables()
        .filters(vpc_filter.clone())
        .filters(filter("association.main", "true"))
        .send()
        .await
        .map_err(aws_error(urn, "DescribeRouteTables"))?;
    let groups = c
        .ec2
        .describe_security_groups()
        .filters(vpc_filter)
        .filters(filter("group-name", "default"))
        .send()
        .await
        .map_err(aws_error(urn, "DescribeSecurityGroups"))?;
    let mut out = BTreeMap::new();
    for vpc in described.vpcs() {
        let Some(id) = vpc.vpc_id() else { continue };
        let main = tables
            .route_tables()
            .iter()
            .find(|t| t.vpc_id() == Some(id))
            .and_then(|t| t.route_table_id())
            .unwrap_or_default();
        let default_sg = groups
            .security_groups()
            .iter()
            .find(|g| g.vpc_id() == Some(id))
            .and_then(|g| g.group_id())
            .unwrap_or_default();
        let owner = vpc.owner_id().unwrap_or_default();
        let o = outputs(&VpcOutputs {
            id: VpcId::new(id),
            arn: Arn::new(format!("arn:aws:ec2:{}:{owner}:vpc/{id}", c.region)),
            cidr_block: vpc.cidr_block().unwrap_or_default().to_string(),
            main_route_table_id: RouteTableId::new(main),
            default_security_group_id: SecurityGroupId::new(default_sg),
        })?;
        out.insert(id.to_string(), o);
    }
    Ok(out)
}

async fn vpc_outputs(c: &Clients, urn: &Urn, id: &str) -> Result<Option<Outputs>, ProviderError> {
    match vpcs_outputs(c, urn, &[id.to_string()]).await {
        Ok(mut found) => Ok(found.remove(id)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads many resources with one batched lookup; if AWS fails the batch
/// because one is gone, falls back to reading them one by one.
pub(crate) async fn batched<F, Fut, G, Gut>(
    reqs: &[ReadRequest],
    many: F,
    one: G,
) -> Vec<Result<Option<Outputs>, ProviderError>>
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<BTreeMap<String, Outputs>, ProviderError>>,
    G: Fn(String) -> Gut,
    Gut: std::future::Future<Output = Result<Option<Outputs>, ProviderError>>,
{
    let ids: Vec<String> = reqs.iter().map(|r| r.id.clone()).collect();
    match many(ids).await {
        Ok(found) => reqs.iter().map(|r| Ok(found.get(&r.id).cloned())).collect(),
        Err(e) if is_not_found(&e) => {
            let mut out = Vec::new();
            for r in reqs {
                out.push(one(r.id.clone()).await);
            }
            out
        }
        Err(e) => reqs.iter().map(|_| Err(e.clone())).collect(),
    }
}

/// Outputs of many VPCs, batched.
pub(crate) async fn read_vpcs(
    c: &Clients,
    reqs: &[ReadRequest],
) -> Vec<Result<Option<Outputs>, ProviderError>> {
    let Some(first) = reqs.first() else {
        return Vec::new();
    };
    let urn = &first.urn;
    batched(
        reqs,
        |ids| async move { vpcs_outputs(c, urn, &ids).await },
        |id| async move { vpc_outputs(c, urn, &id).await },
    )
    .await
}

async fn set_dns(
    c: &Clients,
    urn: &Urn,
    id: &str,
    support: Option<bool>,
    hostnames: Option<bool>,
) -> Result<(), ProviderError> {
    // ModifyVpcAttribute takes one attribute per call; support must be on
    // before hostnames can be.
    if let Some(on) = support {
        c.ec2
            .modify_vpc_attribute()
            .vpc_id(id)
            .enable_dns_support(flag(on))
            .send()
            .await
            .map_err(aws_error(urn, "ModifyVpcAttribute"))?;
    }
    if let Some(on) = hostnames {
        c.ec2
            .modify_vpc_attribute()
            .vpc_id(id)
            .enable_dns_hostnames(flag(on))
            .send()
            .await
            .map_err(aws_error(urn, "ModifyVpcAttribute"))?;
    }
    Ok(())
}

pub(crate) async fn create_vpc(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let v: Vpc = parse(urn, &req.inputs)?;
    let out = c
        .ec2
        .create_vpc()
        .cidr_block(&v.cidr_block)
        .set_tag_specifications(tag_specs(ResourceType::Vpc, &v.tags))
        .send()
        .await
        .map_err(aws_error(urn, "CreateVpc"))?;
    let id = out
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| ProviderError::internal(format!("{urn}: CreateVpc returned no id")))?
        .to_string();
    wait_for(
        urn,
        "the VPC to become available",
        Duration::from_secs(120),
        c.timeouts.poll.min(Duration::from_secs(2)),
        || async {
            let d = c
                .ec2
                .describe_vpcs()
                .vpc_ids(&id)
                .send()
                .await
                .map_err(aws_error(urn, "DescribeVpcs"))?;
            Ok(d.vpcs()
                .first()
                .filter(|v| v.state().map(|s| s.as_str()) != Some("pending"))
                .map(|_| ()))
        },
    )
    .await?;
    set_dns(
        c,
        urn,
        &id,
        (!v.enable_dns_support).then_some(false),
        v.enable_dns_hostnames.then_some(true),
    )
    .await?;
    let outputs = vpc_outputs(c, urn, &id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidVpcID.NotFound",
            format!("{urn}: {id} vanished after creation"),
        )
    })?;
    Ok(CreateResponse { id, outputs })
}

pub(crate) async fn read_vpc(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    vpc_outputs(c, &req.urn, &req.id).await
}

pub(crate) async fn update_vpc(c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let old: Vpc = parse(urn, &req.old_inputs)?;
    let new: Vpc = parse(urn, &req.new_inputs)?;
    let support =
        (old.enable_dns_support != new.enable_dns_support).then_some(new.enable_dns_support);
    let hostnames =
        (old.enable_dns_hostnames != new.enable_dns_hostnames).then_some(new.enable_dns_hostnames);
    set_dns(c, urn, &req.id, support, hostnames).await?;
    sync_tags(c, urn, &req.id, &old.tags, &new.tags).await?;
    vpc_outputs(c, urn, &req.id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidVpcID.NotFound",
            format!("{urn}: {} no longer exists", req.id),
        )
    })
}

pub(crate) async fn delete_vpc(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    match c
        .ec2
        .delete_vpc()
        .vpc_id(&req.id)
        .send()
        .await
        .map_err(aws_error(&req.urn, "DeleteVpc"))
    {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

fn subnet_outputs_of(s: &aws_sdk_ec2::types::Subnet) -> Result<Outputs, ProviderError> {
    outputs(&SubnetOutputs {
        id: SubnetId::new(s.subnet_id().unwrap_or_default()),
        arn: Arn::new(s.subnet_arn().unwrap_or_default()),
        vpc_id: VpcId::new(s.vpc_id().unwrap_or_default()),
        availability_zone: s.availability_zone().unwrap_or_default().to_string(),
        cidr_block: s.cidr_block().unwrap_or_default().to_string(),
    })
}

async fn subnets_outputs(
    c: &Clients,
    urn: &Urn,
    ids: &[String],
) -> Result<BTreeMap<String, Outputs>, ProviderError> {
    let out = c
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(aws_error(urn, "DescribeSubnets"))?;
    let mut found = BTreeMap::new();
    for s in out.subnets() {
        if let Some(id) = s.subnet_id() {
            found.insert(id.to_string(), subnet_outputs_of(s)?);
        }
    }
    Ok(found)
}

async fn subnet_outputs(
    c: &Clients,
    urn: &Urn,
    id: &str,
) -> Result<Option<Outputs>, ProviderError> {
    match subnets_outputs(c, urn, &[id.to_string()]).await {
        Ok(mut found) => Ok(found.remove(id)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Outputs of many subnets, batched.
pub(crate) async fn read_subnets(
    c: &Clients,
    reqs: &[ReadRequest],
) -> Vec<Result<Option<Outputs>, ProviderError>> {
    let Some(first) = reqs.first() else {
        return Vec::new();
    };
    let urn = &first.urn;
    batched(
        reqs,
        |ids| async move { subnets_outputs(c, urn, &ids).await },
        |id| async move { subnet_outputs(c, urn, &id).await },
    )
    .await
}

pub(crate) async fn create_subnet(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let s: Subnet = parse(urn, &req.inputs)?;
    let vpc = s.vpc_id.value().map(|v| v.to_string()).unwrap_or_default();
    let out = c
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block(&s.cidr_block)
        .availability_zone(&s.availability_zone)
        .set_tag_specifications(tag_specs(ResourceType::Subnet, &s.tags))
        .send()
        .await
        .map_err(aws_error(urn, "CreateSubnet"))?;
    let id = out
        .subnet()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| ProviderError::internal(format!("{urn}: CreateSubnet returned no id")))?
        .to_string();
    if s.map_public_ip_on_launch {
        c.ec2
            .modify_subnet_attribute()
            .subnet_id(&id)
            .map_public_ip_on_launch(flag(true))
            .send()
            .await
            .map_err(aws_error(urn, "ModifySubnetAttribute"))?;
    }
    let outputs = subnet_outputs(c, urn, &id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidSubnetID.NotFound",
            format!("{urn}: {id} vanished after creation"),
        )
    })?;
    Ok(CreateResponse { id, outputs })
}

pub(crate) async fn read_subnet(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    subnet_outputs(c, &req.urn, &req.id).await
}

pub(crate) async fn update_subnet(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let old: Subnet = parse(urn, &req.old_inputs)?;
    let new: Subnet = parse(urn, &req.new_inputs)?;
    if old.map_public_ip_on_launch != new.map_public_ip_on_launch {
        c.ec2
            .modify_subnet_attribute()
            .subnet_id(&req.id)
            .map_public_ip_on_launch(flag(new.map_public_ip_on_launch))
            .send()
            .await
            .map_err(aws_error(urn, "ModifySubnetAttribute"))?;
    }
    sync_tags(c, urn, &req.id, &old.tags, &new.tags).await?;
    subnet_outputs(c, urn, &req.id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidSubnetID.NotFound",
            format!("{urn}: {} no longer exists", req.id),
        )
    })
}

pub(crate) async fn delete_subnet(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    match c
        .ec2
        .delete_subnet()
        .subnet_id(&req.id)
        .send()
        .await
        .map_err(aws_error(&req.urn, "DeleteSubnet"))
    {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}
