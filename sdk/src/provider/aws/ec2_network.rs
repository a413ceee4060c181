//! VPCs and subnets on EC2. A VPC is described with its main route table,
//! its default security group (one call each for any number of VPCs) and
//! its two DNS attributes; observed are its CIDR block, DNS flags and tags,
//! and a subnet's CIDR block, zone, public-IP flag, VPC and tags.

use super::resource::{AwsResource, Cx, Query, Res, ec2_describe, gone_is_fine, outputs_now, send};
use super::util::{sync_tags, tag_specs, tags_of, val, wait_for};
use crate::aws::ec2::{Subnet, SubnetOutputs, Vpc, VpcOutputs};
use crate::provider::ProviderError;
use crate::resource::{Arn, Input, RouteTableId, SecurityGroupId, SubnetId, VpcId};
use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, VpcAttributeName};
use std::time::Duration;

fn filter(name: &str, values: Vec<String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

fn flag(on: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(on).build()
}

/// A VPC as described, with what its outputs and observed flags need.
pub(crate) struct LiveVpc {
    vpc: aws_sdk_ec2::types::Vpc,
    main_route_table: String,
    default_group: String,
    dns_support: bool,
    dns_hostnames: bool,
}

/// One DNS attribute of VPC `id`.
async fn dns_flag(cx: &Cx<'_>, id: &str, attr: VpcAttributeName) -> Result<bool, ProviderError> {
    let call = cx.c.ec2.describe_vpc_attribute();
    let call = call.vpc_id(id).attribute(attr.clone());
    let out = send!(cx, "DescribeVpcAttribute", call)?;
    let value = match attr {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    Ok(value.and_then(|v| v.value()).unwrap_or(false))
}

async fn set_dns(
    cx: &Cx<'_>,
    id: &str,
    support: Option<bool>,
    hostnames: Option<bool>,
) -> Result<(), ProviderError> {
    // ModifyVpcAttribute takes one attribute per call; support must be on
    // before hostnames can be.
    if let Some(on) = support {
        let call = cx.c.ec2.modify_vpc_attribute().vpc_id(id);
        let call = call.enable_dns_support(flag(on));
        send!(cx, "ModifyVpcAttribute", call)?;
    }
    if let Some(on) = hostnames {
        let call = cx.c.ec2.modify_vpc_attribute().vpc_id(id);
        let call = call.enable_dns_hostnames(flag(on));
        send!(cx, "ModifyVpcAttribute", call)?;
    }
    Ok(())
}

#[async_trait]
impl AwsResource for Vpc {
    type Live = LiveVpc;

    async fn create(cx: &Cx<'_>, v: &Self) -> Res<Self::Outputs> {
        let call = cx.c.ec2.create_vpc().cidr_block(&v.cidr_block);
        let call = call.set_tag_specifications(tag_specs(ResourceType::Vpc, &v.tags));
        let out = send!(cx, "CreateVpc", call)?;
        let id = cx.new_id("CreateVpc", out.vpc().and_then(|v| v.vpc_id()))?;
        let poll = cx.c.timeouts.poll.min(Duration::from_secs(2));
        let what = "the VPC to become available";
        wait_for(cx.urn, what, Duration::from_secs(120), poll, || async {
            let call = cx.c.ec2.describe_vpcs().vpc_ids(&id);
            let d = send!(cx, "DescribeVpcs", call)?;
            let pending =
                |v: &&aws_sdk_ec2::types::Vpc| v.state().map(|s| s.as_str()) == Some("pending");
            Ok(d.vpcs().first().filter(|v| !pending(v)).map(|_| ()))
        })
        .await?;
        let support = (!v.enable_dns_support).then_some(false);
        set_dns(cx, &id, support, v.enable_dns_hostnames.then_some(true)).await?;
        outputs_now::<Self>(cx, &id, "after creation").await
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let described = ec2_describe!(cx, query, "DescribeVpcs" =>
            describe_vpcs(set_vpc_ids, filters))?;
        let ids: Vec<String> = described
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id())
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let call = cx.c.ec2.describe_route_tables();
        let call = call.filters(filter("vpc-id", ids.clone()));
        let call = call.filters(filter("association.main", vec!["true".into()]));
        let tables = send!(cx, "DescribeRouteTables", call)?;
        let call = cx.c.ec2.describe_security_groups();
        let call = call.filters(filter("vpc-id", ids));
        let call = call.filters(filter("group-name", vec!["default".into()]));
        let groups = send!(cx, "DescribeSecurityGroups", call)?;
        let mut out = Vec::new();
        for vpc in described.vpcs() {
            let Some(id) = vpc.vpc_id() else { continue };
            let main = tables
                .route_tables()
                .iter()
                .find(|t| t.vpc_id() == Some(id));
            let group = groups
                .security_groups()
                .iter()
                .find(|g| g.vpc_id() == Some(id));
            out.push(LiveVpc {
                vpc: vpc.clone(),
                main_route_table: main
                    .and_then(|t| t.route_table_id())
                    .unwrap_or_default()
                    .into(),
                default_group: group.and_then(|g| g.group_id()).unwrap_or_default().into(),
                dns_support: dns_flag(cx, id, VpcAttributeName::EnableDnsSupport).await?,
                dns_hostnames: dns_flag(cx, id, VpcAttributeName::EnableDnsHostnames).await?,
            });
        }
        Ok(out)
    }

    fn outputs(cx: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let id = l.vpc.vpc_id().unwrap_or_default();
        let owner = l.vpc.owner_id().unwrap_or_default();
        Ok(VpcOutputs {
            id: VpcId::new(id),
            arn: Arn::new(format!("arn:aws:ec2:{}:{owner}:vpc/{id}", cx.c.region)),
            cidr_block: l.vpc.cidr_block().unwrap_or_default().to_string(),
            main_route_table_id: RouteTableId::new(&l.main_route_table),
            default_security_group_id: SecurityGroupId::new(&l.default_group),
        })
    }

    fn observe(recorded: &Self, l: &Self::Live) -> Self {
        Vpc {
            cidr_block: l
                .vpc
                .cidr_block()
                .unwrap_or(&recorded.cidr_block)
                .to_string(),
            enable_dns_support: l.dns_support,
            enable_dns_hostnames: l.dns_hostnames,
            tags: tags_of(l.vpc.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let support =
            (old.enable_dns_support != new.enable_dns_support).then_some(new.enable_dns_support);
        let hostnames = (old.enable_dns_hostnames != new.enable_dns_hostnames)
            .then_some(new.enable_dns_hostnames);
        set_dns(cx, id.as_str(), support, hostnames).await?;
        sync_tags(cx, id.as_str(), &old.tags, &new.tags).await?;
        outputs_now::<Self>(cx, id.as_str(), "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let call = cx.c.ec2.delete_vpc().vpc_id(id.as_str());
        gone_is_fine(send!(cx, "DeleteVpc", call))
    }
}

async fn set_public_ip(cx: &Cx<'_>, id: &str, on: bool) -> Result<(), ProviderError> {
    let call = cx.c.ec2.modify_subnet_attribute().subnet_id(id);
    let call = call.map_public_ip_on_launch(flag(on));
    send!(cx, "ModifySubnetAttribute", call)?;
    Ok(())
}

#[async_trait]
impl AwsResource for Subnet {
    type Live = aws_sdk_ec2::types::Subnet;

    async fn create(cx: &Cx<'_>, s: &Self) -> Res<Self::Outputs> {
        let vpc = val(&s.vpc_id);
        let call = cx.c.ec2.create_subnet();
        let call = call.vpc_id(&vpc).cidr_block(&s.cidr_block);
        let call = call.availability_zone(&s.availability_zone);
        let call = call.set_tag_specifications(tag_specs(ResourceType::Subnet, &s.tags));
        let out = send!(cx, "CreateSubnet", call)?;
        let id = cx.new_id("CreateSubnet", out.subnet().and_then(|s| s.subnet_id()))?;
        if s.map_public_ip_on_launch {
            set_public_ip(cx, &id, true).await?;
        }
        outputs_now::<Self>(cx, &id, "after creation").await
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeSubnets" =>
            describe_subnets(set_subnet_ids, filters))?;
        Ok(out.subnets().to_vec())
    }

    fn outputs(_: &Cx<'_>, s: &Self::Live) -> Res<Self::Outputs> {
        Ok(SubnetOutputs {
            id: SubnetId::new(s.subnet_id().unwrap_or_default()),
            arn: Arn::new(s.subnet_arn().unwrap_or_default()),
            vpc_id: VpcId::new(s.vpc_id().unwrap_or_default()),
            availability_zone: s.availability_zone().unwrap_or_default().to_string(),
            cidr_block: s.cidr_block().unwrap_or_default().to_string(),
        })
    }

    fn observe(recorded: &Self, s: &Self::Live) -> Self {
        let r = recorded;
        Subnet {
            vpc_id: s
                .vpc_id()
                .map_or(r.vpc_id.clone(), |v| Input::Value(VpcId::new(v))),
            cidr_block: s.cidr_block().unwrap_or(&r.cidr_block).to_string(),
            availability_zone: s
                .availability_zone()
                .unwrap_or(&r.availability_zone)
                .to_string(),
            map_public_ip_on_launch: s
                .map_public_ip_on_launch()
                .unwrap_or(r.map_public_ip_on_launch),
            tags: tags_of(s.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        if old.map_public_ip_on_launch != new.map_public_ip_on_launch {
            set_public_ip(cx, id.as_str(), new.map_public_ip_on_launch).await?;
        }
        sync_tags(cx, id.as_str(), &old.tags, &new.tags).await?;
        outputs_now::<Self>(cx, id.as_str(), "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let call = cx.c.ec2.delete_subnet().subnet_id(id.as_str());
        gone_is_fine(send!(cx, "DeleteSubnet", call))
    }
}
