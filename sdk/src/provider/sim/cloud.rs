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

use super::compute::InstanceRec;
use super::latency::{Op, SimLatency};
use super::table::{Kept, Stored, Table, Use};
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

/// Declares the cloud's tables: one per registered resource type, named in
/// the registry (`Vpc => vpcs`) and holding the record its `Kept` impl
/// names, plus the records no resource type declares (instances). Generates
/// the [`Cloud`] struct, each record type's [`Stored`] impl (its type token,
/// table and tags), resource counts and the reference index.
macro_rules! tables {
    (
        registered: [$($R:ty => $field:ident),* $(,)?]
        records: [$($xfield:ident: $XRec:ty = $xtoken:literal),* $(,)?]
    ) => {
        /// Every simulated resource, keyed by id (or name, where AWS uses names).
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub(super) struct Cloud {
            pub format: u32,
            pub region: String,
            /// The simulated clock when the cloud was last brought up to date.
            pub clock_ms: u64,
            $(#[serde(default)] pub $field: Table<<$R as Kept>::Rec>,)*
            $(#[serde(default)] pub $xfield: Table<$XRec>,)*
        }

        impl Cloud {
            /// An empty cloud in `region`.
            pub(super) fn new(region: &str) -> Self {
                Self {
                    format: FORMAT,
                    region: region.to_string(),
                    clock_ms: 0,
                    $($field: Table::default(),)*
                    $($xfield: Table::default(),)*
                }
            }

            /// How many resources of each type exist, by type token
            /// (instances as `aws:ec2:Instance`). What AWS creates with a
            /// VPC (its main route table, default security group and default
            /// network ACL) and deleted NAT gateways and endpoints still
            /// visible don't count.
            pub(super) fn resource_counts(&self) -> BTreeMap<String, usize> {
                let counts = [
                    $((<$R as Resource>::TYPE, self.$field.count()),)*
                    $(($xtoken, self.$xfield.count()),)*
                ];
                counts
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(k, n)| (k.to_string(), n))
                    .collect()
            }

            /// The reference index: every use of a resource by a record
            /// that isn't gone, table by table.
            pub(super) fn index(&self) -> impl Iterator<Item = Use> + '_ {
                std::iter::empty()
                    $(.chain(self.$field.uses()))*
                    $(.chain(self.$xfield.uses()))*
            }
        }

        $(impl Stored for <$R as Kept>::Rec {
            const TYPE: &'static str = <$R as Resource>::TYPE;
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

        $(impl Stored for $XRec {
            const TYPE: &'static str = $xtoken;
            fn table(cloud: &Cloud) -> &Table<Self> {
                &cloud.$xfield
            }
            fn table_mut(cloud: &mut Cloud) -> &mut Table<Self> {
                &mut cloud.$xfield
            }
            fn tags(&self) -> &Tags {
                &self.tags
            }
            fn tags_mut(&mut self) -> &mut Tags {
                &mut self.tags
            }
        })*
    };
}

/// The registry's types (with the test-only ones in tests) and instances.
macro_rules! cloud_tables {
    ($($R:ty => $field:ident),* $(,)?) => {
        tables! {
            registered: [$($R => $field),*]
            records: [
                instances: InstanceRec = "aws:ec2:Instance",
                outside: super::outside::OutsideRec = "aws:ec2:Outside",
            ]
        }
    };
}
crate::registry::simulated_types!(cloud_tables);

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
        self.load_balancers.advance(clock.now);
        self.advance_instances(clock.now);
        self.converge_groups(&clock);
        // Instances launched with no boot time are running at once.
        self.advance_instances(clock.now);
        self.register_instances();
        self.run_services(&clock);
    }
}
