//! [`VpcEndpoint`]: an interface endpoint that puts an AWS service's API on
//! network interfaces inside the VPC. With private DNS, the service's regional
//! name resolves to those interfaces, so instances reach it without a route
//! to the internet — an alternative to a NAT gateway for ECS (which needs
//! `ecs`, `ecs-agent` and `ecs-telemetry`).

use crate::resource::{
    FieldError, Input, Outputs, Resource, SecurityGroupId, SubnetId, Tags, VpcEndpointId, VpcId,
};
use serde::{Deserialize, Serialize};

/// The ECS services a container instance's agent talks to.
pub const ECS_AGENT_SERVICES: [&str; 3] = ["ecs", "ecs-agent", "ecs-telemetry"];

/// An interface VPC endpoint.
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
    /// Whether the service's regional DNS name resolves to the endpoint.
    #[serde(default = "yes")]
    pub private_dns_enabled: bool,
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
            tags: Tags::new(),
        }
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
        if self.subnet_ids.is_empty() {
            errors.push(FieldError::new(
                "subnet_ids",
                "an interface endpoint needs at least one subnet",
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
}
