//! [`NatGateway`]: outbound IPv4 for instances without public addresses. A
//! zonal NAT gateway sits in one subnet: a public one needs an Elastic IP and
//! a subnet that routes 0.0.0.0/0 to an attached internet gateway. A regional
//! one (AWS, November 2025) is created for a VPC, in no subnet, serves every
//! zone of it under one id, and reaches the internet through the VPC's
//! attached internet gateway (its Elastic IPs are AWS's unless given).

use crate::resource::{
    AllocationId, FieldError, Input, NatGatewayId, Outputs, References, Resource, SubnetId, Tags,
    VpcId,
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

/// Whether a NAT gateway works in one availability zone or across the VPC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, References)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityMode {
    /// In one subnet, serving its zone (public or private connectivity).
    #[default]
    Zonal,
    /// One NAT gateway for the whole VPC, expanding to every zone that has
    /// workloads; public connectivity only, no subnet, and the VPC needs an
    /// attached internet gateway (no public subnet).
    Regional,
}

impl AvailabilityMode {
    fn is_zonal(&self) -> bool {
        *self == AvailabilityMode::Zonal
    }
}

/// A NAT gateway: zonal, in a subnet ([`NatGateway::public`],
/// [`NatGateway::private`]), or regional, for a whole VPC
/// ([`NatGateway::regional`]).
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
    /// The subnet a zonal gateway sits in (none for a regional one).
    /// Changing it replaces the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub subnet_id: Option<Input<SubnetId>>,
    /// The VPC a regional gateway serves (none for a zonal one: its
    /// subnet's). Changing it replaces the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub vpc_id: Option<Input<VpcId>>,
    /// The Elastic IP: required for a zonal public gateway, optional for a
    /// regional one (AWS allocates its addresses when absent). Changing it
    /// replaces the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub allocation_id: Option<Input<AllocationId>>,
    /// Public or private. Changing it replaces the gateway.
    #[serde(default)]
    #[resource(replace)]
    pub connectivity: Connectivity,
    /// Zonal or regional. Changing it replaces the gateway.
    #[serde(default, skip_serializing_if = "AvailabilityMode::is_zonal")]
    #[resource(replace)]
    pub availability_mode: AvailabilityMode,
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
            subnet_id: Some(subnet_id.into()),
            vpc_id: None,
            allocation_id: Some(allocation_id.into()),
            connectivity: Connectivity::Public,
            availability_mode: AvailabilityMode::Zonal,
            tags: Tags::new(),
        }
    }

    /// A private NAT gateway in `subnet_id` (no internet access).
    ///
    /// ```
    /// use keel::prelude::*;
    /// let nat = NatGateway::private(SubnetId::new("subnet-1"));
    /// assert_eq!(nat.connectivity, Connectivity::Private);
    /// ```
    pub fn private(subnet_id: impl Into<Input<SubnetId>>) -> Self {
        Self {
            subnet_id: Some(subnet_id.into()),
            vpc_id: None,
            allocation_id: None,
            connectivity: Connectivity::Private,
            availability_mode: AvailabilityMode::Zonal,
            tags: Tags::new(),
        }
    }

    /// A regional NAT gateway for `vpc_id`: one id serving every zone of
    /// the VPC, in no subnet, its Elastic IPs allocated by AWS. It reaches
    /// the internet through the VPC's internet gateway, which must be
    /// attached; private subnets of every zone route 0.0.0.0/0 to it.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// stack.add("main", InternetGateway::new().vpc(vpc.id()));
    /// let nat = stack.add("egress", NatGateway::regional(vpc.id()));
    /// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.10.0/24", "us-east-1a"));
    /// stack.add(
    ///     "private",
    ///     RouteTable::new(vpc.id())
    ///         .route_to_nat_gateway("0.0.0.0/0", nat.id())
    ///         .associate(private.id()),
    /// );
    /// assert!(stack.validate().is_ok());
    /// ```
    pub fn regional(vpc_id: impl Into<Input<VpcId>>) -> Self {
        Self {
            subnet_id: None,
            vpc_id: Some(vpc_id.into()),
            allocation_id: None,
            connectivity: Connectivity::Public,
            availability_mode: AvailabilityMode::Regional,
            tags: Tags::new(),
        }
    }

    /// Uses Elastic IP `allocation_id` (a regional gateway's, instead of
    /// addresses AWS allocates).
    ///
    /// ```
    /// use keel::prelude::*;
    /// let nat = NatGateway::regional(VpcId::new("vpc-1"))
    ///     .allocation_id(AllocationId::new("eipalloc-1"));
    /// assert!(nat.allocation_id.is_some());
    /// ```
    pub fn allocation_id(mut self, allocation_id: impl Into<Input<AllocationId>>) -> Self {
        self.allocation_id = Some(allocation_id.into());
        self
    }
}

impl NatGateway {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut error = |field: &str, message: &str| {
            errors.push(FieldError::new(field, message));
        };
        match self.availability_mode {
            AvailabilityMode::Zonal => {
                if self.subnet_id.is_none() {
                    error("subnet_id", "a zonal NAT gateway needs a subnet");
                }
                if self.vpc_id.is_some() {
                    error(
                        "vpc_id",
                        "only a regional NAT gateway takes a VPC (a zonal one is in its subnet's)",
                    );
                }
                match (self.connectivity, &self.allocation_id) {
                    (Connectivity::Public, None) => error(
                        "allocation_id",
                        "a public NAT gateway needs an Elastic IP allocation",
                    ),
                    (Connectivity::Private, Some(_)) => error(
                        "allocation_id",
                        "a private NAT gateway can't have an Elastic IP allocation",
                    ),
                    _ => {}
                }
            }
            AvailabilityMode::Regional => {
                if self.vpc_id.is_none() {
                    error("vpc_id", "a regional NAT gateway needs a VPC");
                }
                if self.subnet_id.is_some() {
                    error(
                        "subnet_id",
                        "a regional NAT gateway sits in no subnet: give its VPC (NatGateway::regional)",
                    );
                }
                if self.connectivity == Connectivity::Private {
                    error(
                        "connectivity",
                        "a regional NAT gateway has public connectivity only",
                    );
                }
            }
        }
        errors
    }
}

/// What AWS reports for a NAT gateway.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct NatGatewayOutputs {
    /// `nat-…`
    pub id: NatGatewayId,
    /// The subnet (zonal gateways).
    pub subnet_id: Option<SubnetId>,
    /// The public address (public gateways; a regional one's first, once
    /// AWS has allocated it).
    pub public_ip: Option<String>,
    /// The private address in the subnet (zonal gateways).
    pub private_ip: Option<String>,
    /// `available` once created.
    pub state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(nat: &NatGateway) -> Vec<String> {
        nat.validate().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_regional_gateway_takes_a_vpc_no_subnet_and_public_connectivity() {
        let nat = NatGateway::regional(VpcId::new("vpc-1"));
        assert!(fields(&nat).is_empty());
        assert!(fields(&nat.clone().allocation_id(AllocationId::new("eipalloc-1"))).is_empty());

        let mut in_subnet = nat.clone();
        in_subnet.subnet_id = Some(Input::Value(SubnetId::new("subnet-1")));
        assert_eq!(fields(&in_subnet), ["subnet_id"]);
        let mut private = nat.clone();
        private.connectivity = Connectivity::Private;
        assert_eq!(fields(&private), ["connectivity"]);
        let mut no_vpc = nat;
        no_vpc.vpc_id = None;
        assert_eq!(fields(&no_vpc), ["vpc_id"]);
    }

    #[test]
    fn a_zonal_gateway_takes_a_subnet_and_no_vpc() {
        let nat = NatGateway::public(SubnetId::new("subnet-1"), AllocationId::new("eipalloc-1"));
        assert!(fields(&nat).is_empty());
        let mut with_vpc = nat.clone();
        with_vpc.vpc_id = Some(Input::Value(VpcId::new("vpc-1")));
        assert_eq!(fields(&with_vpc), ["vpc_id"]);
        let mut no_subnet = nat;
        no_subnet.subnet_id = None;
        assert_eq!(fields(&no_subnet), ["subnet_id"]);
        assert_eq!(
            fields(&NatGateway::private(SubnetId::new("s")).allocation_id(AllocationId::new("e"))),
            ["allocation_id"]
        );
    }

    #[test]
    fn a_zonal_gateway_serializes_as_before_the_mode_existed() {
        let nat = NatGateway::public(SubnetId::new("subnet-1"), AllocationId::new("eipalloc-1"));
        let json = serde_json::to_value(&nat).unwrap_or_default();
        assert!(json.get("availability_mode").is_none(), "{json}");
        assert!(json.get("vpc_id").is_none(), "{json}");
        let regional = serde_json::to_value(NatGateway::regional(VpcId::new("vpc-1")));
        assert_eq!(
            regional.unwrap_or_default()["availability_mode"],
            "regional"
        );
    }
}
