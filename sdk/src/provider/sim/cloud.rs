//! The simulated cloud: [`Cloud`] holds every simulated resource of one
//! account and region, and is what the simulator persists. This module owns
//! the model's shape, AWS-shaped ids, names and ARNs, the simulated clock,
//! tags by resource kind, and `reconcile`, which brings time-driven state up
//! to date (NAT gateways and endpoints becoming available, instances
//! booting, Auto Scaling groups converging, ECS agents registering). The API operations on each
//! kind of resource live in the concept modules beside it.
//!
//! Time is a simulated clock in milliseconds that runs while a simulator is
//! open (on tokio's clock) and is saved with the cloud: a NAT gateway saved
//! while `pending` stays pending for the rest of its creation time after the
//! cloud is loaded again.

use super::acls::AclRec;
use super::compute::{GroupRec, InstanceRec};
use super::ecs::ClusterRec;
use super::endpoints::EndpointRec;
use super::gateways::{AddressRec, InternetGatewayRec, NatGatewayRec};
use super::iam::{ProfileRec, RoleRec};
use super::latency::{Op, SimLatency};
use super::launch_templates::LaunchTemplateRec;
use super::network::{SubnetRec, VpcRec};
use super::routing::RouteTableRec;
use super::security::SecurityGroupRec;
use crate::aws::autoscaling::AutoScalingGroup;
use crate::aws::ec2::{
    ElasticIp, InternetGateway, LaunchTemplate, NatGateway, NetworkAcl, RouteTable, SecurityGroup,
    Subnet, Vpc, VpcEndpoint,
};
use crate::aws::ecs::EcsCluster;
use crate::aws::iam::{IamRole, InstanceProfile};
use crate::provider::ProviderError;
use crate::resource::{Arn, Resource, Tags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The simulated AWS account.
pub(super) const ACCOUNT_ID: &str = "123456789012";
/// The region a new cloud lives in.
pub(super) const DEFAULT_REGION: &str = "us-east-1";
/// The version of the persisted format.
pub(super) const FORMAT: u32 = 1;

/// The simulated time of one call, and how long things started now take.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    /// Milliseconds on the cloud's clock.
    pub now: u64,
    /// The latency setting of the simulator making the call.
    pub latency: SimLatency,
}

impl Clock {
    /// When something of kind `op` started now completes.
    pub(super) fn after(&self, op: Op) -> u64 {
        self.now.saturating_add(self.latency.millis(op))
    }
}

/// Every simulated resource, keyed by id (or name, where AWS uses names).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Cloud {
    pub format: u32,
    pub region: String,
    /// The simulated clock when the cloud was last brought up to date.
    pub clock_ms: u64,
    #[serde(default)]
    pub vpcs: BTreeMap<String, VpcRec>,
    #[serde(default)]
    pub subnets: BTreeMap<String, SubnetRec>,
    #[serde(default)]
    pub internet_gateways: BTreeMap<String, InternetGatewayRec>,
    #[serde(default)]
    pub addresses: BTreeMap<String, AddressRec>,
    #[serde(default)]
    pub nat_gateways: BTreeMap<String, NatGatewayRec>,
    #[serde(default)]
    pub route_tables: BTreeMap<String, RouteTableRec>,
    #[serde(default)]
    pub security_groups: BTreeMap<String, SecurityGroupRec>,
    #[serde(default)]
    pub network_acls: BTreeMap<String, AclRec>,
    #[serde(default)]
    pub vpc_endpoints: BTreeMap<String, EndpointRec>,
    #[serde(default)]
    pub launch_templates: BTreeMap<String, LaunchTemplateRec>,
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceRec>,
    #[serde(default)]
    pub roles: BTreeMap<String, RoleRec>,
    #[serde(default)]
    pub instance_profiles: BTreeMap<String, ProfileRec>,
    #[serde(default)]
    pub groups: BTreeMap<String, GroupRec>,
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterRec>,
}

/// A kind of taggable resource, for operations every kind shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Vpc,
    Subnet,
    InternetGateway,
    Address,
    NatGateway,
    RouteTable,
    SecurityGroup,
    NetworkAcl,
    VpcEndpoint,
    LaunchTemplate,
    Role,
    InstanceProfile,
    Group,
    Cluster,
}

impl Kind {
    /// The APIs that add and remove this kind's tags.
    pub(super) fn tag_apis(self) -> (&'static str, &'static str) {
        match self {
            Kind::Role => ("TagRole", "UntagRole"),
            Kind::InstanceProfile => ("TagInstanceProfile", "UntagInstanceProfile"),
            Kind::Group => ("CreateOrUpdateTags", "DeleteTags"),
            Kind::Cluster => ("TagResource", "UntagResource"),
            _ => ("CreateTags", "DeleteTags"),
        }
    }

    /// AWS's error for an id of this kind that doesn't exist.
    pub(super) fn not_found(self, id: &str) -> ProviderError {
        let (code, message) = match self {
            Kind::Vpc => (
                "InvalidVpcID.NotFound",
                format!("The vpc ID '{id}' does not exist"),
            ),
            Kind::Subnet => (
                "InvalidSubnetID.NotFound",
                format!("The subnet ID '{id}' does not exist"),
            ),
            Kind::InternetGateway => (
                "InvalidInternetGatewayID.NotFound",
                format!("The internetGateway ID '{id}' does not exist"),
            ),
            Kind::Address => (
                "InvalidAllocationID.NotFound",
                format!("The allocation ID '{id}' does not exist"),
            ),
            Kind::NatGateway => (
                "NatGatewayNotFound",
                format!("The Nat Gateway {id} was not found"),
            ),
            Kind::RouteTable => (
                "InvalidRouteTableID.NotFound",
                format!("The routeTable ID '{id}' does not exist"),
            ),
            Kind::SecurityGroup => (
                "InvalidGroup.NotFound",
                format!("The security group '{id}' does not exist"),
            ),
            Kind::NetworkAcl => (
                "InvalidNetworkAclID.NotFound",
                format!("The networkAcl ID '{id}' does not exist"),
            ),
            Kind::VpcEndpoint => (
                "InvalidVpcEndpointId.NotFound",
                format!("The Vpc Endpoint Id '{id}' does not exist"),
            ),
            Kind::LaunchTemplate => (
                "InvalidLaunchTemplateId.NotFound",
                format!("The specified launch template, with template ID {id}, does not exist."),
            ),
            Kind::Role => (
                "NoSuchEntity",
                format!("The role with name {id} cannot be found."),
            ),
            Kind::InstanceProfile => (
                "NoSuchEntity",
                format!("Instance Profile {id} cannot be found."),
            ),
            Kind::Group => (
                "ValidationError",
                format!("AutoScalingGroup name not found - AutoScalingGroup '{id}' not found"),
            ),
            Kind::Cluster => ("ClusterNotFoundException", "Cluster not found.".to_string()),
        };
        ProviderError::new(code, message)
    }
}

/// `InvalidParameterValue` with `message`.
pub(super) fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new("InvalidParameterValue", message)
}

/// `DependencyViolation` with `message`.
pub(super) fn dependency(message: impl Into<String>) -> ProviderError {
    ProviderError::new("DependencyViolation", message)
}

/// `len` random lowercase hex digits.
pub(super) fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A new id `prefix-` + 17 hex digits (like `vpc-0a1b2c3d4e5f67890`) not yet in `taken`.
pub(super) fn fresh_id<V>(prefix: &str, taken: &BTreeMap<String, V>) -> String {
    loop {
        let id = format!("{prefix}-{}", random_hex(17));
        if !taken.contains_key(&id) {
            return id;
        }
    }
}

/// The physical name for a named resource: the one given, else the logical
/// name plus a random suffix, as Pulumi's auto-naming does.
pub(super) fn physical_name(given: Option<&str>, logical: &str) -> String {
    match given {
        Some(name) => name.to_string(),
        None => format!("{logical}-{}", random_hex(7)),
    }
}

/// A global IAM ARN, `arn:aws:iam::ACCOUNT:kind/name`.
pub(super) fn iam_arn(kind: &str, name: &str) -> Arn {
    Arn::new(format!("arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"))
}

impl Cloud {
    /// An empty cloud in `region`.
    pub(super) fn new(region: &str) -> Self {
        Self {
            format: FORMAT,
            region: region.to_string(),
            clock_ms: 0,
            vpcs: BTreeMap::new(),
            subnets: BTreeMap::new(),
            internet_gateways: BTreeMap::new(),
            addresses: BTreeMap::new(),
            nat_gateways: BTreeMap::new(),
            route_tables: BTreeMap::new(),
            security_groups: BTreeMap::new(),
            network_acls: BTreeMap::new(),
            vpc_endpoints: BTreeMap::new(),
            launch_templates: BTreeMap::new(),
            instances: BTreeMap::new(),
            roles: BTreeMap::new(),
            instance_profiles: BTreeMap::new(),
            groups: BTreeMap::new(),
            clusters: BTreeMap::new(),
        }
    }

    /// A regional ARN, `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`.
    pub(super) fn arn(&self, service: &str, resource: &str) -> Arn {
        Arn::new(format!(
            "arn:aws:{service}:{}:{ACCOUNT_ID}:{resource}",
            self.region
        ))
    }

    /// The region's availability zones (`us-east-1a` … `us-east-1f`).
    pub(super) fn zones(&self) -> Vec<String> {
        ('a'..='f').map(|z| format!("{}{z}", self.region)).collect()
    }

    /// A public address no resource uses yet, from 3.80.0.0/12 (an Amazon
    /// block in us-east-1).
    pub(super) fn allocate_public_ip(&self) -> Ipv4Addr {
        let base = u32::from(Ipv4Addr::new(3, 80, 0, 0));
        loop {
            let ip = Ipv4Addr::from(base + fastrand::u32(1..(1 << 20) - 1));
            let taken = self.addresses.values().any(|a| a.public_ip == ip)
                || self.instances.values().any(|i| i.public_ip == Some(ip));
            if !taken {
                return ip;
            }
        }
    }

    /// The tags of resource `id` of `kind`.
    pub(super) fn tags_mut(&mut self, kind: Kind, id: &str) -> Option<&mut Tags> {
        match kind {
            Kind::Vpc => self.vpcs.get_mut(id).map(|r| &mut r.tags),
            Kind::Subnet => self.subnets.get_mut(id).map(|r| &mut r.tags),
            Kind::InternetGateway => self.internet_gateways.get_mut(id).map(|r| &mut r.tags),
            Kind::Address => self.addresses.get_mut(id).map(|r| &mut r.tags),
            Kind::NatGateway => self.nat_gateways.get_mut(id).map(|r| &mut r.tags),
            Kind::RouteTable => self.route_tables.get_mut(id).map(|r| &mut r.tags),
            Kind::SecurityGroup => self.security_groups.get_mut(id).map(|r| &mut r.tags),
            Kind::NetworkAcl => self.network_acls.get_mut(id).map(|r| &mut r.tags),
            Kind::VpcEndpoint => self.vpc_endpoints.get_mut(id).map(|r| &mut r.tags),
            Kind::LaunchTemplate => self.launch_templates.get_mut(id).map(|r| &mut r.tags),
            Kind::Role => self.roles.get_mut(id).map(|r| &mut r.tags),
            Kind::InstanceProfile => self.instance_profiles.get_mut(id).map(|r| &mut r.tags),
            Kind::Group => self.groups.get_mut(id).map(|r| &mut r.tags),
            Kind::Cluster => self.clusters.get_mut(id).map(|r| &mut r.tags),
        }
    }

    /// Brings time-driven state up to `clock.now`: gateways, endpoints and
    /// instances change state, groups launch or terminate instances to match their
    /// capacity, and running instances try to register with ECS.
    pub(super) fn reconcile(&mut self, clock: &Clock) {
        self.clock_ms = self.clock_ms.max(clock.now);
        let clock = Clock {
            now: self.clock_ms,
            latency: clock.latency,
        };
        self.advance_nat_gateways(clock.now);
        self.advance_vpc_endpoints(clock.now);
        self.advance_instances(clock.now);
        self.converge_groups(&clock);
        // Instances launched with no boot time are running at once.
        self.advance_instances(clock.now);
        self.register_instances();
    }

    /// How many resources of each type exist, by type token (instances as
    /// `aws:ec2:Instance`). What AWS creates with a VPC (its main route
    /// table, default security group and default network ACL) and deleted
    /// NAT gateways and endpoints still visible don't count.
    pub(super) fn resource_counts(&self) -> BTreeMap<String, usize> {
        let counts = [
            (Vpc::TYPE, self.vpcs.len()),
            (Subnet::TYPE, self.subnets.len()),
            (InternetGateway::TYPE, self.internet_gateways.len()),
            (ElasticIp::TYPE, self.addresses.len()),
            (
                NatGateway::TYPE,
                self.nat_gateways.values().filter(|n| !n.is_gone()).count(),
            ),
            (
                RouteTable::TYPE,
                self.route_tables.values().filter(|t| !t.main).count(),
            ),
            (
                SecurityGroup::TYPE,
                self.security_groups.values().filter(|g| !g.default).count(),
            ),
            (
                NetworkAcl::TYPE,
                self.network_acls.values().filter(|a| !a.default).count(),
            ),
            (
                VpcEndpoint::TYPE,
                self.vpc_endpoints.values().filter(|e| !e.is_gone()).count(),
            ),
            (LaunchTemplate::TYPE, self.launch_templates.len()),
            ("aws:ec2:Instance", self.instances.len()),
            (IamRole::TYPE, self.roles.len()),
            (InstanceProfile::TYPE, self.instance_profiles.len()),
            (AutoScalingGroup::TYPE, self.groups.len()),
            (EcsCluster::TYPE, self.clusters.len()),
        ];
        counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_string(), n))
            .collect()
    }
}
