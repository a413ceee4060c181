//! [`VpcEndpoint`]: an interface endpoint that puts an AWS service's API on
//! network interfaces inside the VPC. With private DNS, the service's regional
//! name resolves to those interfaces, so instances reach it without a route
//! to the internet — an alternative to a NAT gateway for ECS (which needs
//! `ecs`, `ecs-agent` and `ecs-telemetry`). A gateway endpoint (S3,
//! DynamoDB) instead adds a route for the service's prefix list to each
//! route table it is associated with: what a NAT-less private subnet needs to
//! fetch image layers from S3.

use crate::resource::{
    FieldError, Input, Outputs, PrefixListId, References, Resource, RouteTableId, SecurityGroupId,
    SubnetId, Tags, VpcEndpointId, VpcId,
};
use serde::{Deserialize, Serialize};

/// The ECS services a container instance's agent talks to.
pub const ECS_AGENT_SERVICES: [&str; 3] = ["ecs", "ecs-agent", "ecs-telemetry"];

/// The services AWS offers gateway endpoints for.
pub const GATEWAY_SERVICES: [&str; 2] = ["s3", "dynamodb"];

/// What kind of endpoint.
///
/// ```
/// use keel::aws::ec2::{EndpointType, VpcEndpoint};
/// let e = VpcEndpoint::gateway(keel::VpcId::new("vpc-1"), "com.amazonaws.us-east-1.s3");
/// assert_eq!(e.vpc_endpoint_type, EndpointType::Gateway);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, References)]
pub enum EndpointType {
    /// Network interfaces in subnets, reached through private DNS.
    #[default]
    Interface,
    /// Prefix-list routes in route tables (S3, DynamoDB).
    Gateway,
}

/// A VPC endpoint: an interface endpoint ([`VpcEndpoint::interface`]) or
/// a gateway endpoint ([`VpcEndpoint::gateway`]).
///
/// ```
/// use keel::prelude::*;
/// use keel::aws::ec2::VpcEndpoint;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16").enable_dns_hostnames(true));
/// let a = stack.add("private-a", Subnet::new(vpc.id(), "10.0.10.0/24", "us-east-1a"));
/// let sg = stack.add("endpoints", SecurityGroup::new(vpc.id(), "endpoints")
///     .ingress(Rule::tcp(443).cidr("10.0.0.0/16")));
/// stack.add("ecs", VpcEndpoint::interface(vpc.id(), "com.amazonaws.us-east-1.ecs")
///     .subnet(a.id()).security_group(sg.id()));
/// // S3 through a gateway endpoint: a route in the VPC's main table
/// stack.add("s3", VpcEndpoint::gateway(vpc.id(), "com.amazonaws.us-east-1.s3")
///     .route_table(vpc.main_route_table_id()));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:VpcEndpoint", outputs = VpcEndpointOutputs, cost = 60, validate = Self::validate_fields)]
pub struct VpcEndpoint {
    /// The VPC. Changing it replaces the endpoint.
    #[resource(replace)]
    pub vpc_id: Input<VpcId>,
    /// The service, `com.amazonaws.<region>.<service>`. Changing it replaces the endpoint.
    #[resource(replace)]
    pub service_name: String,
    /// Subnets that get an endpoint network interface (one per AZ).
    #[serde(default)]
    #[resource(set)]
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// Security groups of the endpoint's network interfaces.
    #[serde(default)]
    #[resource(set)]
    pub security_group_ids: Vec<Input<SecurityGroupId>>,
    /// Whether the service's regional DNS name resolves to the endpoint
    /// (interface endpoints).
    #[serde(default = "yes")]
    pub private_dns_enabled: bool,
    /// Interface or gateway. Changing it replaces the endpoint.
    #[serde(default)]
    #[resource(replace)]
    pub vpc_endpoint_type: EndpointType,
    /// Route tables that get the service's prefix-list route (gateway
    /// endpoints).
    #[serde(default)]
    #[resource(set)]
    pub route_table_ids: Vec<Input<RouteTableId>>,
    /// The endpoint policy (a JSON document); AWS's default allows all.
    #[serde(default)]
    pub policy: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

fn yes() -> bool {
    true
}

impl VpcEndpoint {
    /// An interface endpoint for `service_name` in `vpc_id`, with private DNS.
    pub fn interface(vpc_id: impl Into<Input<VpcId>>, service_name: impl Into<String>) -> Self {
        Self {
            vpc_id: vpc_id.into(),
            service_name: service_name.into(),
            subnet_ids: Vec::new(),
            security_group_ids: Vec::new(),
            private_dns_enabled: true,
            vpc_endpoint_type: EndpointType::Interface,
            route_table_ids: Vec::new(),
            policy: None,
            tags: Tags::new(),
        }
    }
    /// A gateway endpoint for `service_name` (`com.amazonaws.<region>.s3`
    /// or `.dynamodb`) in `vpc_id`; associate route tables with
    /// [`route_table`](Self::route_table).
    pub fn gateway(vpc_id: impl Into<Input<VpcId>>, service_name: impl Into<String>) -> Self {
        Self {
            private_dns_enabled: false,
            vpc_endpoint_type: EndpointType::Gateway,
            ..Self::interface(vpc_id, service_name)
        }
    }
    /// Associates a route table (gateway endpoints): AWS adds a route for
    /// the service's prefix list to it.
    pub fn route_table(mut self, table: impl Into<Input<RouteTableId>>) -> Self {
        self.route_table_ids.push(table.into());
        self
    }
    /// Sets the endpoint policy, a JSON document.
    ///
    /// ```
    /// let e = keel::aws::ec2::VpcEndpoint::gateway(keel::VpcId::new("vpc-1"), "com.amazonaws.us-east-1.s3")
    ///     .policy(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#);
    /// assert!(e.policy.is_some());
    /// ```
    pub fn policy(mut self, document: impl Into<String>) -> Self {
        self.policy = Some(document.into());
        self
    }
    /// Whether it is a gateway endpoint.
    pub fn is_gateway(&self) -> bool {
        self.vpc_endpoint_type == EndpointType::Gateway
    }
    /// Adds a subnet.
    pub fn subnet(mut self, subnet_id: impl Into<Input<SubnetId>>) -> Self {
        self.subnet_ids.push(subnet_id.into());
        self
    }
    /// Adds a security group.
    pub fn security_group(mut self, group: impl Into<Input<SecurityGroupId>>) -> Self {
        self.security_group_ids.push(group.into());
        self
    }
    /// Turns private DNS on or off.
    pub fn private_dns(mut self, on: bool) -> Self {
        self.private_dns_enabled = on;
        self
    }
    /// The short service name: `ecs` for `com.amazonaws.us-east-1.ecs`.
    ///
    /// ```
    /// let e = keel::aws::ec2::VpcEndpoint::interface(keel::VpcId::new("vpc-1"), "com.amazonaws.us-east-1.ecs-agent");
    /// assert_eq!(e.service(), Some("ecs-agent"));
    /// assert_eq!(e.region(), Some("us-east-1"));
    /// ```
    pub fn service(&self) -> Option<&str> {
        self.parts().map(|(_, s)| s)
    }
    /// The region in the service name.
    pub fn region(&self) -> Option<&str> {
        self.parts().map(|(r, _)| r)
    }
    fn parts(&self) -> Option<(&str, &str)> {
        let rest = self.service_name.strip_prefix("com.amazonaws.")?;
        let (region, service) = rest.split_once('.')?;
        (!region.is_empty() && !service.is_empty()).then_some((region, service))
    }
}

impl VpcEndpoint {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.parts().is_none() {
            errors.push(FieldError::new(
                "service_name",
                format!(
                    "`{}` is not an AWS service name (com.amazonaws.<region>.<service>)",
                    self.service_name
                ),
            ));
        }
        if let Some(policy) = &self.policy
            && !serde_json::from_str::<serde_json::Value>(policy).is_ok_and(|v| v.is_object())
        {
            errors.push(FieldError::new(
                "policy",
                "the endpoint policy must be a JSON object (AWS: MalformedPolicyDocument)",
            ));
        }
        if self.is_gateway() {
            if let Some(service) = self.service()
                && !GATEWAY_SERVICES.contains(&service)
            {
                errors.push(FieldError::new(
                    "service_name",
                    format!("AWS offers gateway endpoints for s3 and dynamodb only, not {service}: use an interface endpoint"),
                ));
            }
            let interface_only = [
                ("subnet_ids", !self.subnet_ids.is_empty()),
                ("security_group_ids", !self.security_group_ids.is_empty()),
                ("private_dns_enabled", self.private_dns_enabled),
            ];
            for (field, set) in interface_only {
                if set {
                    errors.push(FieldError::new(
                        field,
                        "a gateway endpoint has no network interfaces: subnets, security groups and private DNS are for interface endpoints (AWS: InvalidParameter)",
                    ));
                }
            }
            return errors;
        }
        if self.subnet_ids.is_empty() {
            errors.push(FieldError::new(
                "subnet_ids",
                "an interface endpoint needs at least one subnet",
            ));
        }
        if !self.route_table_ids.is_empty() {
            errors.push(FieldError::new(
                "route_table_ids",
                "route tables are for gateway endpoints; an interface endpoint is reached through its subnets (AWS: InvalidParameter)",
            ));
        }
        errors
    }
}

/// What AWS reports for a VPC endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct VpcEndpointOutputs {
    /// `vpce-…`
    pub id: VpcEndpointId,
    /// `available` once created.
    pub state: String,
    /// The private addresses of its network interfaces, one per subnet.
    pub private_ips: Vec<String>,
    /// The service's prefix list (gateway endpoints).
    #[serde(default)]
    pub prefix_list_id: Option<PrefixListId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: &VpcEndpoint) -> Vec<String> {
        e.validate_fields().into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn gateway_endpoints_take_route_tables_not_interfaces() {
        let gw = || VpcEndpoint::gateway(VpcId::new("vpc-1"), "com.amazonaws.us-east-1.s3");
        assert!(fields(&gw().route_table(RouteTableId::new("rtb-1"))).is_empty());
        let ecs = VpcEndpoint::gateway(VpcId::new("vpc-1"), "com.amazonaws.us-east-1.ecs");
        assert_eq!(fields(&ecs), ["service_name"]);
        let with_subnet = gw().subnet(SubnetId::new("subnet-1")).private_dns(true);
        assert_eq!(fields(&with_subnet), ["subnet_ids", "private_dns_enabled"]);
        assert_eq!(fields(&gw().policy("not json")), ["policy"]);
        let iface = VpcEndpoint::interface(VpcId::new("vpc-1"), "com.amazonaws.us-east-1.s3")
            .subnet(SubnetId::new("subnet-1"))
            .route_table(RouteTableId::new("rtb-1"));
        assert_eq!(fields(&iface), ["route_table_ids"]);
    }
}
