//! [`Route`]: one route (a destination block or a prefix list → a target)
//! added to any route table: one keel declares, the VPC's main table
//! (`vpc.main_route_table_id()`), or a table outside the stack by id — what
//! Terraform's `aws_route` and Pulumi's `aws.ec2.Route` are. A
//! [`super::RouteTable`] leaves such routes alone: it manages the
//! destinations it declares itself.

use super::route_table::RouteTarget;
use crate::cidr;
use crate::resource::{
    FieldError, Input, Outputs, PrefixListId, Resource, RouteId, RouteTableId, Tags,
};
use serde::{Deserialize, Serialize};

/// One route in a route table.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let public = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// let eip = stack.add("nat-ip", ElasticIp::new());
/// let nat = stack.add("nat", NatGateway::public(public.id(), eip.id()));
/// // private subnets without an association use the main table: route it
/// stack.add(
///     "private-default",
///     Route::new(vpc.main_route_table_id(), "0.0.0.0/0", RouteTarget::nat_gateway(nat.id())),
/// );
/// // and a table outside the stack, by id, to a transit gateway
/// stack.add(
///     "to-hub",
///     Route::new(
///         RouteTableId::new("rtb-0a1b2c3d4e5f67890"),
///         "10.100.0.0/16",
///         RouteTarget::transit_gateway(TransitGatewayId::new("tgw-0a1b2c3d4e5f67890")),
///     ),
/// );
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(
    token = "aws:ec2:Route",
    outputs = RouteOutputs,
    validate = Self::validate_fields,
    untaggable
)]
pub struct Route {
    /// The table. Changing it replaces the route.
    #[resource(replace)]
    pub route_table_id: Input<RouteTableId>,
    /// The destination IPv4 block (or else a prefix list). Changing it
    /// replaces the route.
    #[serde(default)]
    #[resource(replace)]
    pub destination_cidr_block: Option<String>,
    /// The destination prefix list (or else a block). Changing it replaces
    /// the route.
    #[serde(default)]
    #[resource(replace)]
    pub destination_prefix_list_id: Option<Input<PrefixListId>>,
    /// The target. Changing it replaces the route in place (ReplaceRoute).
    pub target: RouteTarget,
    /// keel's bookkeeping tags. AWS routes have no tags: nothing is sent.
    #[serde(default)]
    pub tags: Tags,
}

impl Route {
    /// A route for block `destination` in `table` to `target`.
    pub fn new(
        table: impl Into<Input<RouteTableId>>,
        destination: impl Into<String>,
        target: RouteTarget,
    ) -> Self {
        Self {
            route_table_id: table.into(),
            destination_cidr_block: Some(destination.into()),
            destination_prefix_list_id: None,
            target,
            tags: Tags::new(),
        }
    }

    /// A route for the blocks of prefix list `list` in `table` to `target`.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let r = Route::to_prefix_list(
    ///     RouteTableId::new("rtb-1"),
    ///     PrefixListId::new("pl-0123456789abcdef0"),
    ///     RouteTarget::transit_gateway(TransitGatewayId::new("tgw-1")),
    /// );
    /// assert!(r.destination_cidr_block.is_none());
    /// ```
    pub fn to_prefix_list(
        table: impl Into<Input<RouteTableId>>,
        list: impl Into<Input<PrefixListId>>,
        target: RouteTarget,
    ) -> Self {
        Self {
            route_table_id: table.into(),
            destination_cidr_block: None,
            destination_prefix_list_id: Some(list.into()),
            target,
            tags: Tags::new(),
        }
    }

    /// The destination as AWS names it: the block, else the prefix list id
    /// (`None` while that id is not known yet).
    pub fn destination(&self) -> Option<String> {
        match (
            &self.destination_cidr_block,
            &self.destination_prefix_list_id,
        ) {
            (Some(block), _) => Some(block.clone()),
            (None, Some(list)) => list.value().map(|l| l.to_string()),
            (None, None) => None,
        }
    }
}

impl Route {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match (&self.destination_cidr_block, &self.destination_prefix_list_id) {
            (Some(_), Some(_)) => errors.push(FieldError::new(
                "destination_prefix_list_id",
                "a route has one destination: a block or a prefix list, not both (AWS: InvalidParameterCombination)",
            )),
            (None, None) => errors.push(FieldError::new(
                "destination_cidr_block",
                "a route needs a destination block or a prefix list (AWS: MissingParameter)",
            )),
            (Some(block), None) => {
                if let Err(e) = cidr::parse(block) {
                    errors.push(FieldError::new("destination_cidr_block", e));
                }
            }
            (None, Some(_)) => {}
        }
        if let Some(Input::Value(list)) = &self.destination_prefix_list_id
            && !list.as_str().starts_with("pl-")
        {
            errors.push(FieldError::new(
                "destination_prefix_list_id",
                format!("`{list}` is not a prefix list id (pl-…)"),
            ));
        }
        match &self.target {
            RouteTarget::Local => errors.push(FieldError::new(
                "target",
                "the local route exists in every table and can't be added (AWS: InvalidParameterValue)",
            )),
            t => {
                if let Some(problem) = t.ipv4_problem() {
                    errors.push(FieldError::new("target", problem));
                }
            }
        }
        errors
    }
}

/// What keel reports for a route.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct RouteOutputs {
    /// `<route table id>_<destination>`.
    pub id: RouteId,
    /// The table.
    pub route_table_id: RouteTableId,
    /// `active`, or `blackhole` once its target is gone.
    pub state: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{EgressOnlyInternetGatewayId, NatGatewayId};

    fn fields(r: &Route) -> Vec<String> {
        r.validate_fields().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn one_destination_a_real_target() {
        let nat = || RouteTarget::nat_gateway(NatGatewayId::new("nat-1"));
        let ok = Route::new(RouteTableId::new("rtb-1"), "0.0.0.0/0", nat());
        assert!(fields(&ok).is_empty());
        let mut both = ok.clone();
        both.destination_prefix_list_id = Some(PrefixListId::new("pl-1").into());
        assert_eq!(fields(&both), ["destination_prefix_list_id"]);
        let mut none = ok.clone();
        none.destination_cidr_block = None;
        assert_eq!(fields(&none), ["destination_cidr_block"]);
        let bad = Route::new(RouteTableId::new("rtb-1"), "10.0.0.0/33", nat());
        assert_eq!(fields(&bad), ["destination_cidr_block"]);
        let local = Route::new(
            RouteTableId::new("rtb-1"),
            "10.0.0.0/16",
            RouteTarget::Local,
        );
        assert_eq!(fields(&local), ["target"]);
        let eigw = RouteTarget::EgressOnlyInternetGateway(
            EgressOnlyInternetGatewayId::new("eigw-1").into(),
        );
        let v6 = Route::new(RouteTableId::new("rtb-1"), "0.0.0.0/0", eigw);
        let errors = v6.validate_fields();
        assert_eq!(errors[0].field, "target");
        assert!(errors[0].message.contains("IPv6"));
        let list =
            Route::to_prefix_list(RouteTableId::new("rtb-1"), PrefixListId::new("sg-1"), nat());
        assert_eq!(fields(&list), ["destination_prefix_list_id"]);
    }
}
