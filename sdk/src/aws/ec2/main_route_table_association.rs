//! [`MainRouteTableAssociation`]: makes a route table the VPC's main table,
//! the one every subnet without an explicit association uses — what
//! Terraform's `aws_main_route_table_association` and Pulumi's
//! `aws.ec2.MainRouteTableAssociation` are. Creating it remembers which
//! table was main before; deleting it gives that table the main role back.

use crate::resource::{
    FieldError, Input, MainRouteTableAssociationId, Outputs, Resource, RouteTableAssociationId,
    RouteTableId, Tags, VpcId,
};
use serde::{Deserialize, Serialize};

/// The VPC's main route table association, pointed at a table of the same
/// VPC. Subnets with no explicit association (no [`super::RouteTable`]
/// lists them) route through that table from then on, and pre-deploy
/// checks follow them there. Deleting it gives the table that was main
/// before back its role (if that table still exists), so the declared table
/// can be deleted after it: AWS refuses to delete a VPC's main table
/// (`DependencyViolation`).
///
/// The VPC's `main_route_table_id` output follows AWS: once refreshed, it
/// names the table made main here. A [`super::Route`] meant for the table
/// AWS made with the VPC is better declared on this association's
/// `original_route_table_id`, which never moves.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let public = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// let eip = stack.add("nat-ip", ElasticIp::new());
/// let nat = stack.add("nat", NatGateway::public(public.id(), eip.id()));
/// let private = stack.add(
///     "private",
///     RouteTable::new(vpc.id()).route_to_nat_gateway("0.0.0.0/0", nat.id()),
/// );
/// // every subnet without an association now routes through `private`
/// let main = stack.add("main-table", MainRouteTableAssociation::new(vpc.id(), private.id()));
/// let _original: Output<RouteTableId> = main.original_route_table_id();
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(
    token = "aws:ec2:MainRouteTableAssociation",
    outputs = MainRouteTableAssociationOutputs,
    validate = Self::validate_fields,
    untaggable
)]
pub struct MainRouteTableAssociation {
    /// The VPC. Changing it replaces the association (the old VPC gets its
    /// original main table back).
    #[resource(replace)]
    pub vpc_id: Input<VpcId>,
    /// The table to make main; it must be in the VPC. Changing it replaces
    /// the main association in place (ReplaceRouteTableAssociation).
    pub route_table_id: Input<RouteTableId>,
    /// keel's bookkeeping tags. AWS associations have no tags: nothing is
    /// sent.
    #[serde(default)]
    pub tags: Tags,
}

impl MainRouteTableAssociation {
    /// Makes `route_table_id` the main route table of `vpc_id`.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let main = MainRouteTableAssociation::new(
    ///     VpcId::new("vpc-0a1b2c3d4e5f67890"),
    ///     RouteTableId::new("rtb-0a1b2c3d4e5f67890"),
    /// );
    /// assert!(main.route_table_id.value().is_some());
    /// ```
    pub fn new(
        vpc_id: impl Into<Input<VpcId>>,
        route_table_id: impl Into<Input<RouteTableId>>,
    ) -> Self {
        Self {
            vpc_id: vpc_id.into(),
            route_table_id: route_table_id.into(),
            tags: Tags::new(),
        }
    }

    /// Checks of this declaration alone (see [`Resource::validate`]): ids
    /// given as text must have their AWS prefix.
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Input::Value(vpc) = &self.vpc_id
            && !vpc.as_str().starts_with("vpc-")
        {
            errors.push(FieldError::new(
                "vpc_id",
                format!("`{vpc}` is not a VPC id (vpc-…)"),
            ));
        }
        if let Input::Value(table) = &self.route_table_id
            && !table.as_str().starts_with("rtb-")
        {
            errors.push(FieldError::new(
                "route_table_id",
                format!("`{table}` is not a route table id (rtb-…)"),
            ));
        }
        errors
    }
}

/// What keel reports for a main route table association.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct MainRouteTableAssociationOutputs {
    /// `<vpc id>_<original route table id>`.
    pub id: MainRouteTableAssociationId,
    /// The VPC.
    pub vpc_id: VpcId,
    /// The VPC's main table now (another than the declared one if it was
    /// changed outside keel).
    pub route_table_id: RouteTableId,
    /// AWS's id of the main association now (`rtbassoc-…`).
    pub association_id: RouteTableAssociationId,
    /// The table that was main before keel's association: main again once
    /// the association is deleted.
    pub original_route_table_id: RouteTableId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_given_as_text_must_have_their_prefix() {
        let ok = MainRouteTableAssociation::new(VpcId::new("vpc-1"), RouteTableId::new("rtb-1"));
        assert!(ok.validate_fields().is_empty());
        let swapped =
            MainRouteTableAssociation::new(VpcId::new("rtb-1"), RouteTableId::new("vpc-1"));
        let fields: Vec<String> = swapped
            .validate_fields()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["vpc_id", "route_table_id"]);
    }
}
