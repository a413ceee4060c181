//! VPCs and subnets in the simulated cloud: AWS's CIDR rules (a VPC block is
//! /16 to /28; a subnet's lies inside its VPC's and overlaps no other subnet
//! of that VPC), availability zones of the region, the main route table,
//! default security group and default network ACL AWS creates with every
//! VPC, dependency checks on delete, and private address allocation inside a
//! subnet (AWS reserves the first four addresses and the last). Also the
//! provider handlers for [`Vpc`] and [`Subnet`].

use super::SimProvider;
use super::cloud::{Cloud, Done, fresh_id, invalid};
use super::dispatch::{Simulated, configured, resolved};
use super::table::{Record, facts};
use crate::analysis::cidr::{self, MAX_PREFIX, MIN_PREFIX};
use crate::aws::ec2::{Subnet, SubnetOutputs, Vpc, VpcOutputs};
use crate::provider::ProviderError;
use crate::resource::{RouteTableId, SecurityGroupId, SubnetId, Tags, Urn, VpcId};
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

facts!(
    VpcRec for Vpc, "DescribeVpcs": "VPCs",
    not found "InvalidVpcID.NotFound", "The vpc ID '{id}' does not exist",
    noun "vpc"
);

impl Record for VpcRec {}

facts!(
    SubnetRec for Subnet, "DescribeSubnets": "subnets",
    not found "InvalidSubnetID.NotFound", "The subnet ID '{id}' does not exist",
    noun "subnet"
);

impl Record for SubnetRec {
    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }
}

impl Cloud {
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
    ) -> Done {
        let vpc = self.vpcs.get_mut(id)?;
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
    pub(super) fn delete_vpc(&mut self, id: &str) -> Done {
        let vpc = self.remove_unused::<VpcRec>(id)?;
        // What is left is the table AWS made with it, if it still exists.
        self.route_tables.retain(|_, t| t.vpc_id != id);
        self.security_groups
            .remove(&vpc.default_security_group_id)?;
        self.network_acls.retain(|_, a| a.vpc_id != id);
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
        let vpc_block = self.vpcs.get(vpc_id)?.cidr_block;
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
    pub(super) fn modify_subnet_attribute(&mut self, id: &str, map_public: bool) -> Done {
        let subnet = self.subnets.get_mut(id)?;
        subnet.map_public_ip_on_launch = map_public;
        Ok(())
    }

    /// DeleteSubnet: not while instances, NAT gateways or endpoint network
    /// interfaces are in it. Its route table and network ACL associations
    /// go with it.
    pub(super) fn delete_subnet(&mut self, id: &str) -> Done {
        self.remove_unused::<SubnetRec>(id)?;
        for table in self.route_tables.values_mut() {
            table.associations.retain(|a| a.subnet_id != id);
        }
        self.drop_network_acl_association(id);
        Ok(())
    }

    /// The lowest free private address of subnet `id`.
    pub(super) fn allocate_private_ip(&self, id: &str) -> Result<Ipv4Addr, ProviderError> {
        self.allocate_private_ip_except(id, Vec::new())
    }

    /// The lowest free private address of subnet `id` that isn't one of
    /// `also_used` (addresses handed out but not yet recorded).
    pub(super) fn allocate_private_ip_except(
        &self,
        id: &str,
        also_used: Vec<Ipv4Addr>,
    ) -> Result<Ipv4Addr, ProviderError> {
        let block = self.subnets.get(id)?.cidr_block;
        let task_enis = self.services.values().flat_map(|s| &s.tasks);
        let task_enis = task_enis.filter_map(|t| t.eni.as_ref());
        let used: BTreeSet<Ipv4Addr> = self
            .instances
            .values()
            .filter(|i| i.subnet_id == id)
            .map(|i| i.private_ip)
            .chain(
                self.nat_gateways
                    .values()
                    .filter(|n| n.subnet_id.as_deref() == Some(id) && !n.is_gone())
                    .filter_map(|n| n.private_ip),
            )
            .chain(
                self.live_endpoints()
                    .flat_map(|e| &e.interfaces)
                    .filter(|i| i.subnet_id == id)
                    .map(|i| i.private_ip),
            )
            .chain(
                task_enis
                    .filter(|e| e.subnet_id == id)
                    .map(|e| e.private_ip),
            )
            .chain(also_used)
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
}

impl Simulated for Vpc {
    fn outputs(cloud: &Cloud, v: &VpcRec) -> VpcOutputs {
        VpcOutputs {
            id: VpcId::new(&v.id),
            arn: cloud.arn("ec2", &format!("vpc/{}", v.id)),
            cidr_block: v.cidr_block.to_string(),
            // The main table now, as DescribeRouteTables reports it.
            main_route_table_id: RouteTableId::new(
                cloud
                    .main_association_of(&v.id)
                    .map_or(v.main_route_table_id.as_str(), |(t, _)| t.id.as_str()),
            ),
            default_security_group_id: SecurityGroupId::new(&v.default_security_group_id),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let id = sim.api("CreateVpc", |c, _| {
            c.create_vpc(&props.cidr_block, props.tags.clone())
        })?;
        configured(sim, urn, id, props)
    }

    /// ModifyVpcAttribute for each DNS attribute that differs from `props`.
    fn modify(sim: &SimProvider, _: &Urn, id: &str, props: &Self) -> Done {
        let (api, want) = ("ModifyVpcAttribute", props.enable_dns_support);
        let support = |v: &VpcRec| v.enable_dns_support;
        sim.change(id, api, support, want, |c, on| {
            c.modify_vpc_attribute(id, Some(on), None)
        })?;
        let hostnames = |v: &VpcRec| v.enable_dns_hostnames;
        sim.change(id, api, hostnames, props.enable_dns_hostnames, |c, on| {
            c.modify_vpc_attribute(id, None, Some(on))
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteVpc", |c, _| c.delete_vpc(id))
    }
}

impl Simulated for Subnet {
    fn outputs(cloud: &Cloud, s: &SubnetRec) -> SubnetOutputs {
        SubnetOutputs {
            id: SubnetId::new(&s.id),
            arn: cloud.arn("ec2", &format!("subnet/{}", s.id)),
            vpc_id: VpcId::new(&s.vpc_id),
            availability_zone: s.availability_zone.clone(),
            cidr_block: s.cidr_block.to_string(),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let vpc_id = resolved(urn, "vpc_id", &props.vpc_id)?.as_str();
        let id = sim.api("CreateSubnet", |c, _| {
            let (cidr, zone) = (&props.cidr_block, &props.availability_zone);
            c.create_subnet(vpc_id, cidr, zone, props.tags.clone())
        })?;
        configured(sim, urn, id, props)
    }

    /// ModifySubnetAttribute MapPublicIpOnLaunch, if it differs.
    fn modify(sim: &SimProvider, _: &Urn, id: &str, props: &Self) -> Done {
        let public = |s: &SubnetRec| s.map_public_ip_on_launch;
        let want = props.map_public_ip_on_launch;
        sim.change(id, "ModifySubnetAttribute", public, want, |c, on| {
            c.modify_subnet_attribute(id, on)
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteSubnet", |c, _| c.delete_subnet(id))
    }
}
