//! [`NatGateway`]: outbound IPv4 for instances without public addresses. A
//! public NAT gateway needs an Elastic IP and must sit in a subnet that routes
//! 0.0.0.0/0 to an attached internet gateway.

use crate::resource::{
    AllocationId, FieldError, Input, NatGatewayId, Outputs, References, Resource, SubnetId, Tags,
};
use serde::{Deserialize, Serialize};

/// Whether a NAT gateway reaches the internet or only other networks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, References)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Internet access through an Elastic IP and the VPC's internet gateway.
    #[default]
    Public,
    /// Only to other VPCs or on-premises networks; no internet.
    Private,
}

/// A NAT gateway.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let public = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// let eip = stack.add("nat-a", ElasticIp::new());
/// let nat = stack.add("nat-a", NatGateway::public(public.id(), eip.id()));
/// # let _ = nat;
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
// AWS takes one to two minutes to make a NAT gateway available.
#[resource(token = "aws:ec2:NatGateway", outputs = NatGatewayOutputs, cost = 120, validate = Self::validate_fields)]
pub struct NatGateway {
    /// The subnet it sits in. Changing it replaces the gateway.
    #[resource(replace)]
    pub subnet_id: Input<SubnetId>,
    /// The Elastic IP (public gateways only). Changing it replaces the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub allocation_id: Option<Input<AllocationId>>,
    /// Public or private. Changing it replaces the gateway.
    #[serde(default)]
    #[resource(replace)]
    pub connectivity: Connectivity,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl NatGateway {
    /// A public NAT gateway in `subnet_id` using Elastic IP `allocation_id`.
    pub fn public(
        subnet_id: impl Into<Input<SubnetId>>,
        allocation_id: impl Into<Input<AllocationId>>,
    ) -> Self {
        Self {
            subnet_id: subnet_id.into(),
            allocation_id: Some(allocation_id.into()),
            connectivity: Connectivity::Public,
            tags: Tags::new(),
        }
    }

    /// A private NAT gateway in `subnet_id` (no internet access).
    pub fn private(subnet_id: impl Into<Input<SubnetId>>) -> Self {
        Self {
            subnet_id: subnet_id.into(),
            allocation_id: None,
            connectivity: Connectivity::Private,
            tags: Tags::new(),
        }
    }
}

impl NatGateway {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        match (self.connectivity, &self.allocation_id) {
            (Connectivity::Public, None) => vec![FieldError::new(
                "allocation_id",
                "a public NAT gateway needs an Elastic IP allocation",
            )],
            (Connectivity::Private, Some(_)) => vec![FieldError::new(
                "allocation_id",
                "a private NAT gateway can't have an Elastic IP allocation",
            )],
            _ => Vec::new(),
        }
    }
}

/// What AWS reports for a NAT gateway.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct NatGatewayOutputs {
    /// `nat-…`
    pub id: NatGatewayId,
    /// The subnet.
    pub subnet_id: SubnetId,
    /// The public address (public gateways).
    pub public_ip: Option<String>,
    /// The private address in the subnet.
    pub private_ip: String,
    /// `available` once created.
    pub state: String,
}
