//! [`RouteTable`]: routes (destination block → target) and the subnets that
//! use them. The local route for the VPC's block is always present, as in AWS.

use crate::cidr;
use crate::resource::{
    FieldError, Input, InternetGatewayId, NatGatewayId, Outputs, References, Resource,
    RouteTableId, SubnetId, Tags, VpcId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a route sends traffic.
#[derive(Clone, Debug, Serialize, Deserialize, References)]
#[serde(rename_all = "snake_case")]
pub enum RouteTarget {
    /// The VPC itself (the implicit local route).
    Local,
    /// An internet gateway attached to the same VPC.
    InternetGateway(Input<InternetGatewayId>),
    /// A NAT gateway in the same VPC.
    NatGateway(Input<NatGatewayId>),
}

/// One route.
///
/// ```
/// use keel::prelude::*;
/// let r = Route::new("0.0.0.0/0", RouteTarget::InternetGateway(InternetGatewayId::new("igw-1").into()));
/// assert_eq!(r.destination_cidr_block, "0.0.0.0/0");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, References)]
pub struct Route {
    /// The destination IPv4 block.
    pub destination_cidr_block: String,
    /// The target.
    pub target: RouteTarget,
}

impl Route {
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
    #[resource(set_key = Route::key)]
    pub routes: Vec<Route>,
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
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// Routes `destination` to an internet gateway.
    pub fn route_to_internet_gateway(
        self,
        destination: impl Into<String>,
        gateway: impl Into<Input<InternetGatewayId>>,
    ) -> Self {
        self.route(Route::new(
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
        self.route(Route::new(
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
