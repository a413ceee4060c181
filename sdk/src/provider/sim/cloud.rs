//! The simulated cloud: [`Cloud`] holds every simulated resource of one
//! account and region, and is what the simulator persists. This module owns
//! the model's shape (the list of tables, one per record type), AWS-shaped
//! ids, names and ARNs, the simulated clock, the `Kind` of each table (whose
//! errors and tag APIs are its record type's, stated where the record is),
//! and `reconcile`, which brings time-driven state up to date
//! (NAT gateways and endpoints becoming available, instances booting, Auto
//! Scaling groups converging, ECS agents registering). The API operations on
//! each kind of resource live in the concept modules beside it; what every
//! table shares lives in `table`.
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
use super::table::{Kept, Record, Stored, Table, Use, Users};
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

/// Declares the cloud's tables (a line may carry attributes such as
/// `#[cfg(test)]`): the [`Cloud`] struct with one [`Table`]
/// per record type, each record type's [`Stored`] impl (its kind, type
/// token, plural, table and tags) and, for the types keel declares, their
/// [`Kept`] impl (the record and the Describe call); also what spans every
/// table, resource counts and the reference index.
macro_rules! tables {
    (@kept [$(#[$attr:meta])*] $Rec:ty, $R:ty, $describe:literal) => {
        $(#[$attr])*
        impl Kept for $R {
            type Rec = $Rec;
            const DESCRIBE: &'static str = $describe;
        }
    };
    (@kept [$(#[$attr:meta])*] $Rec:ty) => {};
    ($($(#[$attr:meta])* $field:ident: $Rec:ty = $kind:ident, $plural:literal $(, $token:literal)? $(=> $R:ty, $describe:literal)?;)*) => {
        /// Every simulated resource, keyed by id (or name, where AWS uses names).
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub(super) struct Cloud {
            pub format: u32,
            pub region: String,
            /// The simulated clock when the cloud was last brought up to date.
            pub clock_ms: u64,
            $($(#[$attr])* #[serde(default)] pub $field: Table<$Rec>,)*
        }

        impl Cloud {
            /// An empty cloud in `region`.
            pub(super) fn new(region: &str) -> Self {
                Self {
                    format: FORMAT,
                    region: region.to_string(),
                    clock_ms: 0,
                    $($(#[$attr])* $field: Table::default(),)*
                }
            }

            /// How many resources of each type exist, by type token
            /// (instances as `aws:ec2:Instance`). What AWS creates with a
            /// VPC (its main route table, default security group and default
            /// network ACL) and deleted NAT gateways and endpoints still
            /// visible don't count.
            // Pushed one by one: a table may be `cfg`'d out, which an array
            // element can't be.
            #[allow(clippy::vec_init_then_push)]
            pub(super) fn resource_counts(&self) -> BTreeMap<String, usize> {
                let mut counts = Vec::new();
                $($(#[$attr])* counts.push((<$Rec as Stored>::TYPE, self.$field.count()));)*
                counts
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(k, n)| (k.to_string(), n))
                    .collect()
            }

            /// The reference index: every use of a resource by a record
            /// that isn't gone, table by table.
            #[allow(clippy::vec_init_then_push)]
            pub(super) fn index(&self) -> impl Iterator<Item = Use> + '_ {
                let mut uses: Vec<Box<dyn Iterator<Item = Use> + '_>> = Vec::new();
                $($(#[$attr])* uses.push(Box::new(self.$field.uses()));)*
                uses.into_iter().flatten()
            }
        }

        $($(#[$attr])* impl Stored for $Rec {
            const KIND: Kind = Kind::$kind;
            const TYPE: &'static str = $($token)? $(<$R as Resource>::TYPE)?;
            const PLURAL: &'static str = $plural;
            fn table(cloud: &Cloud) -> &Table<Self> {
                &cloud.$field
            }
            fn table_mut(cloud: &mut Cloud) -> &mut Table<Self> {
                &mut cloud.$field
            }
            fn tags(&self) -> &Tags {
                &self.tags
            }
            fn tags_mut(&mut self) -> &mut Tags {
                &mut self.tags
            }
        })*

        /// A kind of simulated resource, one per table, for what every kind
        /// answers in its own words (see [`Record`]'s AWS facts).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) enum Kind {
            $($(#[$attr])* $kind,)*
        }

        impl Kind {
            /// The APIs that add and remove this kind's tags.
            pub(super) fn tag_apis(self) -> (&'static str, &'static str) {
                match self {
                    $($(#[$attr])* Kind::$kind => <$Rec as Record>::TAG_APIS,)*
                }
            }

            /// AWS's error for an id of this kind that doesn't exist.
            pub(super) fn not_found(self, id: &str) -> ProviderError {
                let (code, message) = match self {
                    $($(#[$attr])* Kind::$kind => <$Rec as Record>::NOT_FOUND,)*
                };
                ProviderError::new(code, message.replace("{id}", id))
            }

            /// AWS's error for deleting resource `id` of this kind while
            /// `users` still use it.
            pub(super) fn in_use(self, id: &str, users: &Users) -> ProviderError {
                match self {
                    $($(#[$attr])* Kind::$kind => <$Rec as Record>::in_use(id, users),)*
                }
            }
        }

        $(tables!(@kept [$(#[$attr])*] $Rec $(, $R, $describe)?);)*
    };
}

tables! {
    vpcs: VpcRec = Vpc, "VPCs" => Vpc, "DescribeVpcs";
    subnets: SubnetRec = Subnet, "subnets" => Subnet, "DescribeSubnets";
    internet_gateways: InternetGatewayRec = InternetGateway, "attached internet gateways" => InternetGateway, "DescribeInternetGateways";
    addresses: AddressRec = Address, "Elastic IPs" => ElasticIp, "DescribeAddresses";
    nat_gateways: NatGatewayRec = NatGateway, "NAT gateways" => NatGateway, "DescribeNatGateways";
    route_tables: RouteTableRec = RouteTable, "route tables" => RouteTable, "DescribeRouteTables";
    security_groups: SecurityGroupRec = SecurityGroup, "security groups" => SecurityGroup, "DescribeSecurityGroups";
    network_acls: AclRec = NetworkAcl, "network ACLs" => NetworkAcl, "DescribeNetworkAcls";
    vpc_endpoints: EndpointRec = VpcEndpoint, "VPC endpoints" => VpcEndpoint, "DescribeVpcEndpoints";
    launch_templates: LaunchTemplateRec = LaunchTemplate, "launch templates" => LaunchTemplate, "DescribeLaunchTemplates";
    instances: InstanceRec = Instance, "instances", "aws:ec2:Instance";
    roles: RoleRec = Role, "roles" => IamRole, "GetRole";
    instance_profiles: ProfileRec = InstanceProfile, "instance profiles" => InstanceProfile, "GetInstanceProfile";
    groups: GroupRec = Group, "Auto Scaling groups" => AutoScalingGroup, "DescribeAutoScalingGroups";
    clusters: ClusterRec = Cluster, "clusters" => EcsCluster, "DescribeClusters";
    #[cfg(test)]
    queues: super::queues::QueueRec = Queue, "queues" => crate::testing::queue::Queue, "GetQueueAttributes";
}

/// What an operation that returns nothing returns.
pub(super) type Done = Result<(), ProviderError>;

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

    /// Brings time-driven state up to `clock.now`: gateways, endpoints and
    /// instances change state, groups launch or terminate instances to match their
    /// capacity, and running instances try to register with ECS.
    pub(super) fn reconcile(&mut self, clock: &Clock) {
        self.clock_ms = self.clock_ms.max(clock.now);
        let clock = Clock {
            now: self.clock_ms,
            latency: clock.latency,
        };
        self.nat_gateways.advance(clock.now);
        self.vpc_endpoints.advance(clock.now);
        self.advance_instances(clock.now);
        self.converge_groups(&clock);
        // Instances launched with no boot time are running at once.
        self.advance_instances(clock.now);
        self.register_instances();
    }
}
