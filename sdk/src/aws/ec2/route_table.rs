//! [`RouteTable`]: routes (destination block → target) and the subnets that
//! use them. The local route for the VPC's block is always present, as in AWS.
//! Also [`RouteTarget`], where any route sends traffic (a table's own
//! [`RouteEntry`] or a standalone [`super::Route`]), and its checks.

use crate::cidr;
use crate::resource::{
    EgressOnlyInternetGatewayId, FieldError, Input, InternetGatewayId, NatGatewayId, Outputs,
    References, Resource, RouteTableId, SubnetId, Tags, TransitGatewayId, VpcId,
    VpcPeeringConnectionId, VpnGatewayId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a route sends traffic. Transit gateways, peering connections and
/// virtual private gateways live outside keel's stacks (they are referenced
/// by id), so checks follow traffic up to them and say it leaves what keel
/// can see. A gateway endpoint is not a target one declares: its
/// association with a table adds its prefix-list route (see
/// [`super::VpcEndpoint::gateway`]).
///
/// ```
/// use keel::prelude::*;
/// let t = RouteTarget::transit_gateway(TransitGatewayId::new("tgw-0a1b2c3d4e5f67890"));
/// assert_eq!(t.kind(), "transit gateway");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, References)]
#[serde(rename_all = "snake_case")]
pub enum RouteTarget {
    /// The VPC itself (the implicit local route).
    Local,
    /// An internet gateway attached to the same VPC.
    InternetGateway(Input<InternetGatewayId>),
    /// A NAT gateway in the same VPC.
    NatGateway(Input<NatGatewayId>),
    /// A transit gateway with an attachment in the same VPC.
    TransitGateway(Input<TransitGatewayId>),
    /// An active VPC peering connection of the same VPC.
    VpcPeeringConnection(Input<VpcPeeringConnectionId>),
    /// A virtual private gateway attached to the same VPC.
    VpnGateway(Input<VpnGatewayId>),
    /// An egress-only internet gateway: IPv6 traffic only in AWS. keel
    /// routes IPv4 destinations, so a route to one is refused before any
    /// call (AWS would answer `InvalidParameterValue`).
    EgressOnlyInternetGateway(Input<EgressOnlyInternetGatewayId>),
}

impl RouteTarget {
    /// To an internet gateway.
    pub fn internet_gateway(id: impl Into<Input<InternetGatewayId>>) -> Self {
        Self::InternetGateway(id.into())
    }
    /// To a NAT gateway.
    pub fn nat_gateway(id: impl Into<Input<NatGatewayId>>) -> Self {
        Self::NatGateway(id.into())
    }
    /// To a transit gateway.
    pub fn transit_gateway(id: impl Into<Input<TransitGatewayId>>) -> Self {
        Self::TransitGateway(id.into())
    }
    /// To a VPC peering connection.
    pub fn peering_connection(id: impl Into<Input<VpcPeeringConnectionId>>) -> Self {
        Self::VpcPeeringConnection(id.into())
    }
    /// To a virtual private gateway.
    pub fn vpn_gateway(id: impl Into<Input<VpnGatewayId>>) -> Self {
        Self::VpnGateway(id.into())
    }

    /// What kind of target it is, for messages (`NAT gateway`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::InternetGateway(_) => "internet gateway",
            Self::NatGateway(_) => "NAT gateway",
            Self::TransitGateway(_) => "transit gateway",
            Self::VpcPeeringConnection(_) => "VPC peering connection",
            Self::VpnGateway(_) => "virtual private gateway",
            Self::EgressOnlyInternetGateway(_) => "egress-only internet gateway",
        }
    }

    /// The problem with routing an IPv4 destination to this target, if any.
    pub(crate) fn ipv4_problem(&self) -> Option<String> {
        matches!(self, Self::EgressOnlyInternetGateway(_)).then(|| {
            "an egress-only internet gateway carries IPv6 traffic only, and keel routes IPv4 destinations (AWS: InvalidParameterValue); use a NAT gateway for IPv4".to_string()
        })
    }
}

/// One route of a [`RouteTable`] (declared with the table; a standalone
/// route on any table is a [`super::Route`]).
///
/// ```
/// use keel::prelude::*;
/// let r = RouteEntry::new("0.0.0.0/0", RouteTarget::InternetGateway(InternetGatewayId::new("igw-1").into()));
/// assert_eq!(r.destination_cidr_block, "0.0.0.0/0");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, References)]
pub struct RouteEntry {
    /// The destination IPv4 block.
    pub destination_cidr_block: String,
    /// The target.
    pub target: RouteTarget,
}

impl RouteEntry {
    /// What identifies a route in its table: its destination.
    pub(crate) fn key(&self) -> String {
        self.destination_cidr_block.clone()
    }

    /// A route for `destination` to `target`.
    pub fn new(destination: impl Into<String>, target: RouteTarget) -> Self {
        Self {
            destination_cidr_block: destination.into(),
            target,
        }
    }
}

/// A route table with its routes and subnet associations.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let igw = stack.add("igw", InternetGateway::new().vpc(vpc.id()));
/// let public = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// let rt = stack.add(
///     "public",
///     RouteTable::new(vpc.id())
///         .route_to_internet_gateway("0.0.0.0/0", igw.id())
///         .associate(public.id()),
/// );
/// # let _ = rt;
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:RouteTable", outputs = RouteTableOutputs, validate = Self::validate_fields)]
pub struct RouteTable {
    /// The VPC. Changing it replaces the table.
    #[resource(replace)]
    pub vpc_id: Input<VpcId>,
    /// Routes besides the implicit local one.
    #[serde(default)]
    #[resource(set_key = RouteEntry::key)]
    pub routes: Vec<RouteEntry>,
    /// Subnets that use this table (explicit associations). Ordered: the
    /// outputs' `association_ids` follow this order.
    #[serde(default)]
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl RouteTable {
    /// A table in `vpc_id` with only the local route.
    pub fn new(vpc_id: impl Into<Input<VpcId>>) -> Self {
        Self {
            vpc_id: vpc_id.into(),
            routes: Vec::new(),
            subnet_ids: Vec::new(),
            tags: Tags::new(),
        }
    }

    /// Adds a route.
    pub fn route(mut self, route: RouteEntry) -> Self {
        self.routes.push(route);
        self
    }

    /// Routes `destination` to an internet gateway.
    pub fn route_to_internet_gateway(
        self,
        destination: impl Into<String>,
        gateway: impl Into<Input<InternetGatewayId>>,
    ) -> Self {
        self.route(RouteEntry::new(
            destination,
            RouteTarget::InternetGateway(gateway.into()),
        ))
    }

    /// Routes `destination` to a NAT gateway.
    pub fn route_to_nat_gateway(
        self,
        destination: impl Into<String>,
        gateway: impl Into<Input<NatGatewayId>>,
    ) -> Self {
        self.route(RouteEntry::new(
            destination,
            RouteTarget::NatGateway(gateway.into()),
        ))
    }

    /// Associates a subnet with this table.
    pub fn associate(mut self, subnet_id: impl Into<Input<SubnetId>>) -> Self {
        self.subnet_ids.push(subnet_id.into());
        self
    }
}

impl RouteTable {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, route) in self.routes.iter().enumerate() {
            let field = format!("routes[{i}].destination_cidr_block");
            match cidr::parse(&route.destination_cidr_block) {
                Ok(net) => {
                    if !seen.insert(net) {
                        errors.push(FieldError::new(field, format!("{net} is routed twice")));
                    }
                }
                Err(e) => errors.push(FieldError::new(field, e)),
            }
            if let Some(problem) = route.target.ipv4_problem() {
                errors.push(FieldError::new(format!("routes[{i}].target"), problem));
            }
        }
        errors
    }
}

/// What AWS reports for a route table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct RouteTableOutputs {
    /// `rtb-…`
    pub id: RouteTableId,
    /// The VPC.
    pub vpc_id: VpcId,
    /// One association id per associated subnet, in `subnet_ids` order.
    pub association_ids: Vec<String>,
}
