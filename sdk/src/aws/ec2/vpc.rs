//! [`Vpc`]: an isolated IPv4 network. AWS gives every VPC a main route table
//! (local route only) and a default security group; both are outputs.

use crate::cidr;
use crate::resource::{
    Arn, FieldError, Outputs, Resource, RouteTableId, SecurityGroupId, Tags, VpcId,
};
use serde::{Deserialize, Serialize};

/// A VPC.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16").enable_dns_hostnames(true));
/// let _id: Output<VpcId> = vpc.id();
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:Vpc", outputs = VpcOutputs, validate = Self::validate_fields)]
pub struct Vpc {
    /// The IPv4 block, /16 to /28. Changing it replaces the VPC.
    #[resource(replace)]
    pub cidr_block: String,
    /// Whether the Amazon DNS server resolves names (AWS default: true).
    #[serde(default = "yes")]
    pub enable_dns_support: bool,
    /// Whether instances get public DNS hostnames.
    #[serde(default)]
    pub enable_dns_hostnames: bool,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

fn yes() -> bool {
    true
}

impl Vpc {
    /// A VPC with IPv4 block `cidr_block`.
    pub fn new(cidr_block: impl Into<String>) -> Self {
        Self {
            cidr_block: cidr_block.into(),
            enable_dns_support: true,
            enable_dns_hostnames: false,
            tags: Tags::new(),
        }
    }

    /// Sets DNS hostnames for instances.
    pub fn enable_dns_hostnames(mut self, on: bool) -> Self {
        self.enable_dns_hostnames = on;
        self
    }

    /// Sets DNS resolution through the Amazon DNS server.
    pub fn enable_dns_support(mut self, on: bool) -> Self {
        self.enable_dns_support = on;
        self
    }
}

impl Vpc {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        match cidr::parse_block(&self.cidr_block) {
            Ok(_) => Vec::new(),
            Err(e) => vec![FieldError::new("cidr_block", e)],
        }
    }
}

/// What AWS reports for a VPC.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct VpcOutputs {
    /// `vpc-…`
    pub id: VpcId,
    /// The VPC's ARN.
    pub arn: Arn,
    /// The IPv4 block.
    pub cidr_block: String,
    /// The VPC's main route table, which subnets without an explicit
    /// association use: the one AWS created with the VPC, until a
    /// [`super::MainRouteTableAssociation`] makes another table main (a
    /// refresh then reports that one, as AWS does; the association's
    /// `original_route_table_id` keeps naming AWS's table).
    pub main_route_table_id: RouteTableId,
    /// The security group AWS created with the VPC.
    pub default_security_group_id: SecurityGroupId,
}
