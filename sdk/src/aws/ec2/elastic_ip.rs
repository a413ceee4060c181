//! [`ElasticIp`]: a static public IPv4 address in the VPC domain, used by
//! public NAT gateways.

use crate::aws::tags_field;
use crate::resource::{AllocationId, Handle, Output, Resource, Tags};
use serde::{Deserialize, Serialize};

/// An Elastic IP address.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let eip = stack.add("nat-a", ElasticIp::new());
/// let _ip: Output<String> = eip.public_ip();
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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

impl Resource for ElasticIp {
    const TYPE: &'static str = "aws:ec2:ElasticIp";
    tags_field!();
}

/// What AWS reports for an Elastic IP.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ElasticIpOutputs {
    /// `eipalloc-…`
    pub id: AllocationId,
    /// The public address.
    pub public_ip: String,
}

impl Handle<ElasticIp> {
    /// The allocation id.
    pub fn id(&self) -> Output<AllocationId> {
        self.output("id")
    }
    /// The public IPv4 address.
    pub fn public_ip(&self) -> Output<String> {
        self.output("public_ip")
    }
}
