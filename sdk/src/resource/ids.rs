//! Typed cloud identifiers. Each AWS id kind is its own type, so the compiler
//! refuses a [`SubnetId`] where a [`VpcId`] belongs. This module owns the id
//! types and their AWS prefixes; it does not generate ids (the providers do).

use serde::Serialize;
use std::fmt;

/// A typed cloud identifier: what [`crate::Resource::Id`] is.
///
/// ```
/// use keel::{CloudId, VpcId};
/// let id = <VpcId as CloudId>::from_cloud("vpc-0a1b2c3d4e5f67890".to_string());
/// assert_eq!(CloudId::as_str(&id), "vpc-0a1b2c3d4e5f67890");
/// ```
pub trait CloudId:
    Clone
    + fmt::Debug
    + fmt::Display
    + PartialEq
    + Eq
    + std::hash::Hash
    + Ord
    + Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Wraps an id the cloud returned.
    fn from_cloud(id: String) -> Self;
    /// The id as AWS spells it.
    fn as_str(&self) -> &str;
}

/// Declares a typed id (usable by any resource type's own file).
macro_rules! cloud_id {
    ($(#[$doc:meta])* $name:ident, $prefix:expr_2021) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The AWS prefix of this kind of id (empty when AWS uses names).
            pub const PREFIX: &'static str = $prefix;

            /// Wraps an id that already exists in the cloud, e.g. one imported
            /// from another stack.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as AWS spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl $crate::References for $name {
            fn references(&self, _: &mut Vec<$crate::Output<::serde_json::Value>>) {}
        }

        impl $crate::CloudId for $name {
            fn from_cloud(id: String) -> Self {
                Self(id)
            }
            fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
// Only test-only types use it outside this file so far.
#[allow(unused_imports)]
pub(crate) use cloud_id;

cloud_id!(
    /// The id of a VPC, `vpc-…`.
    ///
    /// ```
    /// let id = keel::VpcId::new("vpc-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "vpc-0a1b2c3d4e5f67890");
    /// ```
    VpcId, "vpc"
);
cloud_id!(
    /// The id of a subnet, `subnet-…`.
    ///
    /// ```
    /// let id = keel::SubnetId::new("subnet-0a1b2c3d4e5f67890");
    /// assert_eq!(id.to_string(), "subnet-0a1b2c3d4e5f67890");
    /// ```
    SubnetId, "subnet"
);
cloud_id!(
    /// The id of an internet gateway, `igw-…`.
    ///
    /// ```
    /// let id = keel::InternetGatewayId::new("igw-0a1b2c3d4e5f67890");
    /// assert!(id.as_str().starts_with(keel::InternetGatewayId::PREFIX));
    /// ```
    InternetGatewayId, "igw"
);
cloud_id!(
    /// The allocation id of an Elastic IP, `eipalloc-…`.
    ///
    /// ```
    /// let id = keel::AllocationId::new("eipalloc-0a1b2c3d4e5f67890");
    /// assert_eq!(keel::AllocationId::PREFIX, "eipalloc");
    /// # let _ = id;
    /// ```
    AllocationId, "eipalloc"
);
cloud_id!(
    /// The id of a NAT gateway, `nat-…`.
    ///
    /// ```
    /// let id = keel::NatGatewayId::new("nat-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "nat-0a1b2c3d4e5f67890");
    /// ```
    NatGatewayId, "nat"
);
cloud_id!(
    /// The id of a route table, `rtb-…`.
    ///
    /// ```
    /// let id = keel::RouteTableId::new("rtb-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "rtb-0a1b2c3d4e5f67890");
    /// ```
    RouteTableId, "rtb"
);
cloud_id!(
    /// The id of a security group, `sg-…`.
    ///
    /// ```
    /// let id = keel::SecurityGroupId::new("sg-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "sg-0a1b2c3d4e5f67890");
    /// ```
    SecurityGroupId, "sg"
);
cloud_id!(
    /// The id of a network ACL, `acl-…`.
    ///
    /// ```
    /// let id = keel::NetworkAclId::new("acl-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "acl-0a1b2c3d4e5f67890");
    /// ```
    NetworkAclId, "acl"
);
cloud_id!(
    /// The id of a VPC endpoint, `vpce-…`.
    ///
    /// ```
    /// let id = keel::VpcEndpointId::new("vpce-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "vpce-0a1b2c3d4e5f67890");
    /// ```
    VpcEndpointId, "vpce"
);
cloud_id!(
    /// The id of a launch template, `lt-…`.
    ///
    /// ```
    /// let id = keel::LaunchTemplateId::new("lt-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "lt-0a1b2c3d4e5f67890");
    /// ```
    LaunchTemplateId, "lt"
);
cloud_id!(
    /// The id of an EC2 instance, `i-…`.
    ///
    /// ```
    /// let id = keel::InstanceId::new("i-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "i-0a1b2c3d4e5f67890");
    /// ```
    InstanceId, "i"
);
cloud_id!(
    /// The name of an IAM role (IAM identifies roles by name).
    ///
    /// ```
    /// let role = keel::RoleName::new("ecs-instance-role");
    /// assert_eq!(role.as_str(), "ecs-instance-role");
    /// ```
    RoleName, ""
);
cloud_id!(
    /// The name of an IAM instance profile.
    ///
    /// ```
    /// let p = keel::InstanceProfileName::new("ecs-instance-profile");
    /// assert_eq!(p.as_str(), "ecs-instance-profile");
    /// ```
    InstanceProfileName, ""
);
cloud_id!(
    /// The name of an Auto Scaling group.
    ///
    /// ```
    /// let g = keel::AutoScalingGroupName::new("ecs-hosts");
    /// assert_eq!(g.as_str(), "ecs-hosts");
    /// ```
    AutoScalingGroupName, ""
);
cloud_id!(
    /// The name of an ECS cluster.
    ///
    /// ```
    /// let c = keel::ClusterName::new("app");
    /// assert_eq!(c.as_str(), "app");
    /// ```
    ClusterName, ""
);
cloud_id!(
    /// An Amazon Resource Name.
    ///
    /// ```
    /// let arn = keel::Arn::new("arn:aws:iam::123456789012:role/ecs");
    /// assert!(arn.as_str().starts_with("arn:aws:"));
    /// ```
    Arn, "arn"
);
cloud_id!(
    /// The id of a transit gateway, `tgw-…` (keel doesn't create them: it
    /// routes to one made elsewhere).
    ///
    /// ```
    /// let id = keel::TransitGatewayId::new("tgw-0a1b2c3d4e5f67890");
    /// assert_eq!(keel::TransitGatewayId::PREFIX, "tgw");
    /// # let _ = id;
    /// ```
    TransitGatewayId, "tgw"
);
cloud_id!(
    /// The id of a VPC peering connection, `pcx-…` (made elsewhere).
    ///
    /// ```
    /// let id = keel::VpcPeeringConnectionId::new("pcx-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "pcx-0a1b2c3d4e5f67890");
    /// ```
    VpcPeeringConnectionId, "pcx"
);
cloud_id!(
    /// The id of a virtual private gateway, `vgw-…` (made elsewhere).
    ///
    /// ```
    /// let id = keel::VpnGatewayId::new("vgw-0a1b2c3d4e5f67890");
    /// assert_eq!(id.as_str(), "vgw-0a1b2c3d4e5f67890");
    /// ```
    VpnGatewayId, "vgw"
);
cloud_id!(
    /// The id of an egress-only internet gateway, `eigw-…` (IPv6 only).
    ///
    /// ```
    /// let id = keel::EgressOnlyInternetGatewayId::new("eigw-0a1b2c3d4e5f67890");
    /// assert_eq!(keel::EgressOnlyInternetGatewayId::PREFIX, "eigw");
    /// # let _ = id;
    /// ```
    EgressOnlyInternetGatewayId, "eigw"
);
cloud_id!(
    /// The id of a prefix list, `pl-…`: a named set of address blocks, such
    /// as the one AWS keeps for S3 in a region.
    ///
    /// ```
    /// let id = keel::PrefixListId::new("pl-63a5400a");
    /// assert_eq!(id.as_str(), "pl-63a5400a");
    /// ```
    PrefixListId, "pl"
);
cloud_id!(
    /// The id keel gives one route: `<route table id>_<destination>`, the
    /// form Terraform imports `aws_route` by (AWS gives routes no id).
    ///
    /// ```
    /// let id = keel::RouteId::new("rtb-0a1b2c3d4e5f67890_0.0.0.0/0");
    /// assert_eq!(id.parts(), Some(("rtb-0a1b2c3d4e5f67890", "0.0.0.0/0")));
    /// ```
    RouteId, ""
);

impl RouteId {
    /// The id of the route to `destination` (a block or a prefix list id)
    /// in `table`.
    ///
    /// ```
    /// let id = keel::RouteId::of("rtb-1", "pl-63a5400a");
    /// assert_eq!(id.as_str(), "rtb-1_pl-63a5400a");
    /// ```
    pub fn of(table: &str, destination: &str) -> Self {
        Self(format!("{table}_{destination}"))
    }

    /// The route table and the destination this id names.
    pub fn parts(&self) -> Option<(&str, &str)> {
        self.0
            .split_once('_')
            .filter(|(t, d)| !t.is_empty() && !d.is_empty())
    }
}
cloud_id!(
    /// The id of a route table association, `rtbassoc-…`: a subnet's
    /// explicit association, or a VPC's main association (which names the
    /// VPC's main table). AWS gives a new one each time an association is
    /// replaced.
    ///
    /// ```
    /// let id = keel::RouteTableAssociationId::new("rtbassoc-0a1b2c3d4e5f67890");
    /// assert_eq!(keel::RouteTableAssociationId::PREFIX, "rtbassoc");
    /// # let _ = id;
    /// ```
    RouteTableAssociationId, "rtbassoc"
);
cloud_id!(
    /// The id keel gives a main route table association:
    /// `<vpc id>_<original main route table id>`. AWS's own association id
    /// changes each time the main table is replaced, so keel's names what
    /// stays: the VPC, and the table to give the main role back to when the
    /// association is deleted.
    ///
    /// ```
    /// let id = keel::MainRouteTableAssociationId::new("vpc-0a1b2c3d4e5f67890_rtb-0a1b2c3d4e5f67890");
    /// assert_eq!(id.parts(), Some(("vpc-0a1b2c3d4e5f67890", "rtb-0a1b2c3d4e5f67890")));
    /// ```
    MainRouteTableAssociationId, ""
);

impl MainRouteTableAssociationId {
    /// The id of the main association of `vpc` whose main table was
    /// `original_table` before keel replaced it.
    ///
    /// ```
    /// let id = keel::MainRouteTableAssociationId::of("vpc-1", "rtb-1");
    /// assert_eq!(id.as_str(), "vpc-1_rtb-1");
    /// ```
    pub fn of(vpc: &str, original_table: &str) -> Self {
        Self(format!("{vpc}_{original_table}"))
    }

    /// The VPC and the original main route table this id names.
    pub fn parts(&self) -> Option<(&str, &str)> {
        self.0
            .split_once('_')
            .filter(|(v, t)| !v.is_empty() && !t.is_empty())
    }
}
