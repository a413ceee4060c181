//! [`ElasticIp`]: a static public IPv4 address in the VPC domain, used by
//! public NAT gateways.

use crate::resource::{AllocationId, Outputs, Resource, Tags};
use serde::{Deserialize, Serialize};

/// An Elastic IP address.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let eip = stack.add("nat-a", ElasticIp::new());
/// let _ip: Output<String> = eip.public_ip();
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:ElasticIp", outputs = ElasticIpOutputs)]
pub struct ElasticIp {
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl ElasticIp {
    /// A new address allocation.
    pub fn new() -> Self {
        Self::default()
    }
}

/// What AWS reports for an Elastic IP.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct ElasticIpOutputs {
    /// `eipalloc-…`
    pub id: AllocationId,
    /// The public address.
    pub public_ip: String,
}
