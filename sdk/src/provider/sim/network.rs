//! VPCs and subnets in the simulated cloud: AWS's CIDR rules (a VPC block is
//! /16 to /28; a subnet's lies inside its VPC's and overlaps no other subnet
//! of that VPC), availability zones of the region, the main route table,
//! default security group and default network ACL AWS creates with every
//! VPC, dependency checks on delete, and private address allocation inside a
//! subnet (AWS reserves the first four addresses and the last). Also the
//! provider handlers for [`Vpc`] and [`Subnet`].

use super::cloud::{Cloud, Kind, dependency, fresh_id, invalid};
use super::latency::Op;
use super::{SimProvider, Simulated, resolved};
use crate::analysis::cidr::{self, MAX_PREFIX, MIN_PREFIX};
use crate::aws::ec2::{Subnet, SubnetOutputs, Vpc, VpcOutputs};
use crate::provider::ProviderError;
use crate::resource::{RouteTableId, SecurityGroupId, SubnetId, Tags, Urn, VpcId};
use async_trait::async_trait;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// A VPC.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct VpcRec {
    pub id: String,
    pub cidr_block: Ipv4Net,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
    pub main_route_table_id: String,
    pub default_security_group_id: String,
    pub tags: Tags,
}

/// A subnet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct SubnetRec {
    pub id: String,
    pub vpc_id: String,
    pub cidr_block: Ipv4Net,
    pub availability_zone: String,
    pub map_public_ip_on_launch: bool,
    pub tags: Tags,
}

fn bad_cidr(value: &str) -> ProviderError {
    invalid(format!(
        "Value ({value}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
    ))
}

/// "2 subnets (subnet-a, subnet-b)"-style list for dependency messages.
pub(super) fn listing(what: &str, ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| format!("{what} ({})", ids.join(", ")))
}

impl Cloud {
    pub(super) fn vpc(&self, id: &str) -> Result<&VpcRec, ProviderError> {
        self.vpcs.get(id).ok_or_else(|| Kind::Vpc.not_found(id))
    }

    pub(super) fn subnet(&self, id: &str) -> Result<&SubnetRec, ProviderError> {
        self.subnets
            .get(id)
            .ok_or_else(|| Kind::Subnet.not_found(id))
    }

    /// CreateVpc: also creates the main route table, default security group
    /// and default network ACL.
    pub(super) fn create_vpc(
        &mut self,
        cidr_block: &str,
        tags: Tags,
    ) -> Result<String, ProviderError> {
        let block = cidr::parse(cidr_block).map_err(|_| bad_cidr(cidr_block))?;
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&block.prefix_len()) {
            return Err(ProviderError::new(
                "InvalidVpc.Range",
                format!("The CIDR '{cidr_block}' is invalid."),
            ));
        }
        let id = fresh_id("vpc", &self.vpcs);
        let main_route_table_id = self.add_main_route_table(&id);
        let default_security_group_id = self.add_default_security_group(&id);
        self.add_default_network_acl(&id);
        let vpc = VpcRec {
            id: id.clone(),
            cidr_block: block,
            enable_dns_support: true,
            enable_dns_hostnames: false,
            main_route_table_id,
            default_security_group_id,
            tags,
        };
        self.vpcs.insert(id.clone(), vpc);
        Ok(id)
    }

    /// ModifyVpcAttribute (one attribute per call, as in AWS).
    pub(super) fn modify_vpc_attribute(
        &mut self,
        id: &str,
        dns_support: Option<bool>,
        dns_hostnames: Option<bool>,
    ) -> Result<(), ProviderError> {
        let vpc = self
            .vpcs
            .get_mut(id)
            .ok_or_else(|| Kind::Vpc.not_found(id))?;
        if let Some(on) = dns_support {
            vpc.enable_dns_support = on;
        }
        if let Some(on) = dns_hostnames {
            vpc.enable_dns_hostnames = on;
        }
        Ok(())
    }

    /// DeleteVpc: only once nothing but its main route table, default
    /// security group and default network ACL is left in it.
    pub(super) fn delete_vpc(&mut self, id: &str) -> Result<(), ProviderError> {
        let vpc = self.vpc(id)?.clone();
        let ids = |ids: Vec<&String>| ids.into_iter().cloned().collect::<Vec<String>>();
        let subnets = ids(self
            .subnets
            .values()
            .filter(|s| s.vpc_id == id)
            .map(|s| &s.id)
            .collect());
        let igws = ids(self
            .internet_gateways
            .values()
            .filter(|g| g.vpc_id.as_deref() == Some(id))
            .map(|g| &g.id)
            .collect());
        let tables = ids(self
            .route_tables
            .values()
            .filter(|t| t.vpc_id == id && !t.main)
            .map(|t| &t.id)
            .collect());
        let groups = ids(self
            .security_groups
            .values()
            .filter(|g| g.vpc_id == id && !g.default)
            .map(|g| &g.id)
            .collect());
        let nats = ids(self
            .nat_gateways
            .values()
            .filter(|n| n.vpc_id == id && !n.is_gone())
            .map(|n| &n.id)
            .collect());
        let acls = ids(self
            .network_acls
            .values()
            .filter(|a| a.vpc_id == id && !a.default)
            .map(|a| &a.id)
            .collect());
        let remaining: Vec<String> = [
            listing("subnets", &subnets),
            listing("attached internet gateways", &igws),
            listing("route tables", &tables),
            listing("security groups", &groups),
            listing("network ACLs", &acls),
            listing("NAT gateways", &nats),
            self.endpoints_in_vpc(id),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !remaining.is_empty() {
            return Err(dependency(format!(
                "The vpc '{id}' has dependencies and cannot be deleted. Remaining: {}",
                remaining.join("; ")
            )));
        }
        self.route_tables.remove(&vpc.main_route_table_id);
        self.security_groups.remove(&vpc.default_security_group_id);
        self.network_acls.retain(|_, a| a.vpc_id != id);
        self.vpcs.remove(id);
        Ok(())
    }

    /// CreateSubnet.
    pub(super) fn create_subnet(
        &mut self,
        vpc_id: &str,
        cidr_block: &str,
        availability_zone: &str,
        tags: Tags,
    ) -> Result<String, ProviderError> {
        let vpc_block = self.vpc(vpc_id)?.cidr_block;
        let block = cidr::parse(cidr_block).map_err(|_| bad_cidr(cidr_block))?;
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&block.prefix_len()) || !vpc_block.contains(&block) {
            return Err(ProviderError::new(
                "InvalidSubnet.Range",
                format!("The CIDR '{cidr_block}' is invalid."),
            ));
        }
        let zones = self.zones();
        if !zones.iter().any(|z| z == availability_zone) {
            return Err(invalid(format!(
                "Value ({availability_zone}) for parameter availabilityZone is invalid. \
                 Subnets can currently only be created in the following availability zones: {}.",
                zones.join(", ")
            )));
        }
        let conflict = self
            .subnets
            .values()
            .find(|s| s.vpc_id == vpc_id && cidr::overlaps(&s.cidr_block, &block));
        if let Some(other) = conflict {
            return Err(ProviderError::new(
                "InvalidSubnet.Conflict",
                format!(
                    "The CIDR '{cidr_block}' conflicts with another subnet ({} has {})",
                    other.id, other.cidr_block
                ),
            ));
        }
        let id = fresh_id("subnet", &self.subnets);
        let subnet = SubnetRec {
            id: id.clone(),
            vpc_id: vpc_id.to_string(),
            cidr_block: block,
            availability_zone: availability_zone.to_string(),
            map_public_ip_on_launch: false,
            tags,
        };
        self.subnets.insert(id.clone(), subnet);
        self.associate_default_network_acl(&id, vpc_id);
        Ok(id)
    }

    /// ModifySubnetAttribute MapPublicIpOnLaunch.
    pub(super) fn modify_subnet_attribute(
        &mut self,
        id: &str,
        map_public: bool,
    ) -> Result<(), ProviderError> {
        let subnet = self
            .subnets
            .get_mut(id)
            .ok_or_else(|| Kind::Subnet.not_found(id))?;
        subnet.map_public_ip_on_launch = map_public;
        Ok(())
    }

    /// DeleteSubnet: not while instances, NAT gateways or endpoint network
    /// interfaces are in it. Its route table and network ACL associations
    /// go with it.
    pub(super) fn delete_subnet(&mut self, id: &str) -> Result<(), ProviderError> {
        self.subnet(id)?;
        let instances: Vec<String> = self
            .instances
            .values()
            .filter(|i| i.subnet_id == id)
            .map(|i| i.id.clone())
            .collect();
        let nats: Vec<String> = self
            .nat_gateways
            .values()
            .filter(|n| n.subnet_id == id && !n.is_gone())
            .map(|n| n.id.clone())
            .collect();
        let interfaces = self.endpoint_interfaces_in(id);
        let remaining: Vec<String> = [
            listing("instances", &instances),
            listing("NAT gateways", &nats),
            listing("VPC endpoint network interfaces", &interfaces),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !remaining.is_empty() {
            return Err(dependency(format!(
                "The subnet '{id}' has dependencies and cannot be deleted. Remaining: {}",
                remaining.join("; ")
            )));
        }
        for table in self.route_tables.values_mut() {
            table.associations.retain(|a| a.subnet_id != id);
        }
        self.drop_network_acl_association(id);
        self.subnets.remove(id);
        Ok(())
    }

    /// The lowest free private address of subnet `id`.
    pub(super) fn allocate_private_ip(&self, id: &str) -> Result<Ipv4Addr, ProviderError> {
        let block = self.subnet(id)?.cidr_block;
        let used: BTreeSet<Ipv4Addr> = self
            .instances
            .values()
            .filter(|i| i.subnet_id == id)
            .map(|i| i.private_ip)
            .chain(
                self.nat_gateways
                    .values()
                    .filter(|n| n.subnet_id == id && !n.is_gone())
                    .map(|n| n.private_ip),
            )
            .chain(
                self.live_endpoints()
                    .flat_map(|e| &e.interfaces)
                    .filter(|i| i.subnet_id == id)
                    .map(|i| i.private_ip),
            )
            .collect();
        let first = u32::from(block.network()).saturating_add(4);
        let last = u32::from(block.broadcast()).saturating_sub(1);
        (first..=last)
            .map(Ipv4Addr::from)
            .find(|ip| !used.contains(ip))
            .ok_or_else(|| {
                ProviderError::new(
                    "InsufficientFreeAddressesInSubnet",
                    format!("There are not enough free addresses in subnet '{id}' to satisfy the requested number of instances."),
                )
            })
    }

    fn vpc_outputs(&self, v: &VpcRec) -> VpcOutputs {
        VpcOutputs {
            id: VpcId::new(&v.id),
            arn: self.arn("ec2", &format!("vpc/{}", v.id)),
            cidr_block: v.cidr_block.to_string(),
            main_route_table_id: RouteTableId::new(&v.main_route_table_id),
            default_security_group_id: SecurityGroupId::new(&v.default_security_group_id),
        }
    }

    fn subnet_outputs(&self, s: &SubnetRec) -> SubnetOutputs {
        SubnetOutputs {
            id: SubnetId::new(&s.id),
            arn: self.arn("ec2", &format!("subnet/{}", s.id)),
            vpc_id: VpcId::new(&s.vpc_id),
            availability_zone: s.availability_zone.clone(),
            cidr_block: s.cidr_block.to_string(),
        }
    }
}

impl SimProvider {
    /// ModifyVpcAttribute for each DNS attribute that differs from `props`.
    fn set_vpc_attributes(&self, id: &str, props: &Vpc) -> Result<(), ProviderError> {
        let (support, hostnames) = self.peek(|c| {
            c.vpc(id)
                .map(|v| (v.enable_dns_support, v.enable_dns_hostnames))
        })?;
        if support != props.enable_dns_support {
            self.api("ModifyVpcAttribute", |c, _| {
                c.modify_vpc_attribute(id, Some(props.enable_dns_support), None)
            })?;
        }
        if hostnames != props.enable_dns_hostnames {
            self.api("ModifyVpcAttribute", |c, _| {
                c.modify_vpc_attribute(id, None, Some(props.enable_dns_hostnames))
            })?;
        }
        Ok(())
    }
}

#[async_trait]
impl Simulated for Vpc {
    async fn create(
        sim: &SimProvider,
        _urn: &Urn,
        props: Self,
    ) -> Result<Self::Outputs, ProviderError> {
        let id = sim.api("CreateVpc", |c, _| {
            c.create_vpc(&props.cidr_block, props.tags.clone())
        })?;
        sim.set_vpc_attributes(&id, &props)?;
        sim.pause(Op::Call).await;
        sim.peek(|c| c.vpc(&id).map(|v| c.vpc_outputs(v)))
    }

    async fn read(sim: &SimProvider, id: &str) -> Result<Option<Self::Outputs>, ProviderError> {
        sim.describe("DescribeVpcs", |c| c.vpcs.get(id).map(|v| c.vpc_outputs(v)))
            .await
    }

    async fn update(
        sim: &SimProvider,
        _urn: &Urn,
        id: &str,
        props: Self,
    ) -> Result<Self::Outputs, ProviderError> {
        sim.set_vpc_attributes(id, &props)?;
        sim.retag(Kind::Vpc, id, &props.tags)?;
        sim.pause(Op::Call).await;
        sim.peek(|c| c.vpc(id).map(|v| c.vpc_outputs(v)))
    }

    async fn delete(sim: &SimProvider, id: &str) -> Result<(), ProviderError> {
        match sim.api("DeleteVpc", |c, _| c.delete_vpc(id)) {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        }
        sim.pause(Op::Call).await;
        Ok(())
    }
}

#[async_trait]
impl Simulated for Subnet {
    async fn create(
        sim: &SimProvider,
        urn: &Urn,
        props: Self,
    ) -> Result<Self::Outputs, ProviderError> {
        let vpc_id = resolved(urn, "vpc_id", &props.vpc_id)?.as_str();
        let id = sim.api("CreateSubnet", |c, _| {
            c.create_subnet(
                vpc_id,
                &props.cidr_block,
                &props.availability_zone,
                props.tags.clone(),
            )
        })?;
        if props.map_public_ip_on_launch {
            sim.api("ModifySubnetAttribute", |c, _| {
                c.modify_subnet_attribute(&id, true)
            })?;
        }
        sim.pause(Op::Call).await;
        sim.peek(|c| c.subnet(&id).map(|s| c.subnet_outputs(s)))
    }

    async fn read(sim: &SimProvider, id: &str) -> Result<Option<Self::Outputs>, ProviderError> {
        sim.describe("DescribeSubnets", |c| {
            c.subnets.get(id).map(|s| c.subnet_outputs(s))
        })
        .await
    }

    async fn update(
        sim: &SimProvider,
        _urn: &Urn,
        id: &str,
        props: Self,
    ) -> Result<Self::Outputs, ProviderError> {
        let current = sim.peek(|c| c.subnet(id).map(|s| s.map_public_ip_on_launch))?;
        if current != props.map_public_ip_on_launch {
            sim.api("ModifySubnetAttribute", |c, _| {
                c.modify_subnet_attribute(id, props.map_public_ip_on_launch)
            })?;
        }
        sim.retag(Kind::Subnet, id, &props.tags)?;
        sim.pause(Op::Call).await;
        sim.peek(|c| c.subnet(id).map(|s| c.subnet_outputs(s)))
    }

    async fn delete(sim: &SimProvider, id: &str) -> Result<(), ProviderError> {
        match sim.api("DeleteSubnet", |c, _| c.delete_subnet(id)) {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        }
        sim.pause(Op::Call).await;
        Ok(())
    }
}
