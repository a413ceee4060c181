//! [`InternetGateway`]: the VPC's door to the internet, for instances with a
//! public IP and for NAT gateways. Attachment to a VPC is part of it.

use crate::resource::{Arn, Input, InternetGatewayId, Outputs, Resource, Tags, VpcId};
use serde::{Deserialize, Serialize};

/// An internet gateway, optionally attached to a VPC.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let igw = stack.add("igw", InternetGateway::new().vpc(vpc.id()));
/// let _id: Output<InternetGatewayId> = igw.id();
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:InternetGateway", outputs = InternetGatewayOutputs)]
pub struct InternetGateway {
    /// The VPC it is attached to; changing it detaches and re-attaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<Input<VpcId>>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl InternetGateway {
    /// A detached internet gateway.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attaches the gateway to `vpc_id`.
    pub fn vpc(mut self, vpc_id: impl Into<Input<VpcId>>) -> Self {
        self.vpc_id = Some(vpc_id.into());
        self
    }
}

/// What AWS reports for an internet gateway.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct InternetGatewayOutputs {
    /// `igw-…`
    pub id: InternetGatewayId,
    /// The gateway's ARN.
    pub arn: Arn,
    /// The attached VPC, if any.
    pub vpc_id: Option<VpcId>,
}
