//! IAM: [`IamRole`] and [`InstanceProfile`], what EC2 instances (such as ECS
//! container instances) run as.

use crate::resource::{
    Arn, FieldError, Input, InstanceProfileName, Outputs, Resource, RoleName, Tags,
};
use serde::{Deserialize, Serialize};

/// The AWS managed policy ECS container instances need.
pub const ECS_INSTANCE_POLICY_ARN: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";

/// The AWS managed policy a task execution role needs (pull images from
/// ECR, write logs to CloudWatch Logs).
pub const ECS_TASK_EXECUTION_POLICY_ARN: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

/// An IAM role.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let role = stack.add(
///     "ecs-instance",
///     IamRole::for_service("ec2.amazonaws.com").managed_policy(keel::aws::iam::ECS_INSTANCE_POLICY_ARN),
/// );
/// let _name: Output<RoleName> = role.name();
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:iam:Role", outputs = IamRoleOutputs, cost = 2, validate = Self::validate_fields)]
pub struct IamRole {
    /// The role name; generated from the logical name when absent. Changing
    /// it replaces the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The trust policy document (JSON).
    pub assume_role_policy: String,
    /// Attached managed policies.
    #[serde(default)]
    #[resource(set)]
    pub managed_policy_arns: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl IamRole {
    /// A role that `service` (e.g. `ec2.amazonaws.com`) may assume.
    pub fn for_service(service: &str) -> Self {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": service },
                "Action": "sts:AssumeRole"
            }]
        });
        Self::new(policy.to_string())
    }
    /// A role with the trust policy `assume_role_policy`.
    pub fn new(assume_role_policy: impl Into<String>) -> Self {
        Self {
            name: None,
            assume_role_policy: assume_role_policy.into(),
            managed_policy_arns: Vec::new(),
            tags: Tags::new(),
        }
    }
    /// Sets the role name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Attaches a managed policy.
    pub fn managed_policy(mut self, arn: impl Into<String>) -> Self {
        self.managed_policy_arns.push(arn.into());
        self
    }
}

impl IamRole {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        crate::aws::check_name(&self.name, 64, &mut errors);
        match serde_json::from_str::<serde_json::Value>(&self.assume_role_policy) {
            Ok(v) if v.get("Statement").is_some() => {}
            Ok(_) => errors.push(FieldError::new(
                "assume_role_policy",
                "the policy has no `Statement`",
            )),
            Err(e) => errors.push(FieldError::new(
                "assume_role_policy",
                format!("not valid JSON: {e}"),
            )),
        }
        for (i, arn) in self.managed_policy_arns.iter().enumerate() {
            if !arn.starts_with("arn:aws:iam::") || !arn.contains(":policy/") {
                errors.push(FieldError::new(
                    format!("managed_policy_arns[{i}]"),
                    format!("`{arn}` is not a policy ARN"),
                ));
            }
        }
        errors
    }
}

/// What AWS reports for a role.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct IamRoleOutputs {
    /// The role name (IAM's id for it).
    pub id: RoleName,
    /// The role name.
    pub name: RoleName,
    /// The role's ARN.
    pub arn: Arn,
}

/// An instance profile: the container that hands a role to EC2 instances.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let role = stack.add("ecs-instance", IamRole::for_service("ec2.amazonaws.com"));
/// let profile = stack.add("ecs-instance", InstanceProfile::new(role.name()));
/// let _name: Output<InstanceProfileName> = profile.name();
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
// IAM is eventually consistent: a new profile takes seconds to be usable.
#[resource(token = "aws:iam:InstanceProfile", outputs = InstanceProfileOutputs, cost = 8, validate = Self::validate_fields)]
pub struct InstanceProfile {
    /// The profile name; generated from the logical name when absent.
    /// Changing it replaces the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The role it holds.
    pub role: Input<RoleName>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl InstanceProfile {
    /// A profile holding `role`.
    pub fn new(role: impl Into<Input<RoleName>>) -> Self {
        Self {
            name: None,
            role: role.into(),
            tags: Tags::new(),
        }
    }
    /// Sets the profile name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl InstanceProfile {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        crate::aws::check_name(&self.name, 128, &mut errors);
        errors
    }
}

/// What AWS reports for an instance profile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct InstanceProfileOutputs {
    /// The profile name (IAM's id for it).
    pub id: InstanceProfileName,
    /// The profile name.
    pub name: InstanceProfileName,
    /// The profile's ARN.
    pub arn: Arn,
}
