//! [`Subnet`]: a range of a VPC's addresses in one availability zone.

use crate::cidr;
use crate::resource::{Arn, FieldError, Input, Outputs, Resource, SubnetId, Tags, VpcId};
use serde::{Deserialize, Serialize};

/// A subnet.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let public = stack.add(
///     "public-a",
///     Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a").map_public_ip_on_launch(true),
/// );
/// # let _ = public;
/// ```
///
/// Ids are typed, so a subnet id can't stand in for a VPC id:
///
/// ```compile_fail
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let a = stack.add("a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// let b = Subnet::new(a.id(), "10.0.1.0/24", "us-east-1a"); // SubnetId is not a VpcId
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
// The same block can't exist twice in a VPC, so the old one goes first.
#[resource(token = "aws:ec2:Subnet", outputs = SubnetOutputs, delete_before_replace, validate = Self::validate_fields)]
pub struct Subnet {
    /// The VPC. Changing it replaces the subnet.
    #[resource(replace)]
    pub vpc_id: Input<VpcId>,
    /// The IPv4 block, inside the VPC's, /16 to /28. Changing it replaces the subnet.
    #[resource(replace)]
    pub cidr_block: String,
    /// The availability zone, e.g. `us-east-1a`. Changing it replaces the subnet.
    #[resource(replace)]
    pub availability_zone: String,
    /// Whether instances launched here get a public IPv4 address.
    #[serde(default)]
    pub map_public_ip_on_launch: bool,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl Subnet {
    /// A subnet of `vpc_id` with block `cidr_block` in `availability_zone`.
    pub fn new(
        vpc_id: impl Into<Input<VpcId>>,
        cidr_block: impl Into<String>,
        availability_zone: impl Into<String>,
    ) -> Self {
        Self {
            vpc_id: vpc_id.into(),
            cidr_block: cidr_block.into(),
            availability_zone: availability_zone.into(),
            map_public_ip_on_launch: false,
            tags: Tags::new(),
        }
    }

    /// Gives instances launched here a public IPv4 address.
    pub fn map_public_ip_on_launch(mut self, on: bool) -> Self {
        self.map_public_ip_on_launch = on;
        self
    }
}

/// Whether `az` looks like an availability zone name (`us-east-1a`); the
/// problem as a field error if not.
pub(crate) fn check_availability_zone(az: &str) -> Result<(), FieldError> {
    let ok = az.len() >= 4
        && az.ends_with(|c: char| c.is_ascii_lowercase())
        && az[..az.len() - 1].ends_with(|c: char| c.is_ascii_digit())
        && az.matches('-').count() >= 2
        && az
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "availability_zone",
            format!("`{az}` is not an availability zone name (like `us-east-1a`)"),
        ))
    }
}

impl Subnet {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(e) = cidr::parse_block(&self.cidr_block) {
            errors.push(FieldError::new("cidr_block", e));
        }
        errors.extend(check_availability_zone(&self.availability_zone).err());
        errors
    }
}

/// What AWS reports for a subnet.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct SubnetOutputs {
    /// `subnet-…`
    pub id: SubnetId,
    /// The subnet's ARN.
    pub arn: Arn,
    /// The VPC.
    pub vpc_id: VpcId,
    /// The availability zone.
    pub availability_zone: String,
    /// The IPv4 block.
    pub cidr_block: String,
}
