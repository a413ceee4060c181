//! Auto Scaling: [`AutoScalingGroup`], which keeps a number of instances
//! running from a launch template across subnets.

use crate::resource::{
    Arn, AutoScalingGroupName, FieldError, Input, LaunchTemplateId, Outputs, Resource, SubnetId,
    Tags,
};
use serde::{Deserialize, Serialize};

/// An Auto Scaling group.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let a = stack.add("private-a", Subnet::new(vpc.id(), "10.0.10.0/24", "us-east-1a"));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small"));
/// let asg = stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 4).desired_capacity(2).subnet(a.id()));
/// # let _ = asg;
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
// Instances take about a minute to boot.
#[resource(token = "aws:autoscaling:Group", outputs = AutoScalingGroupOutputs, cost = 60, validate = Self::validate_fields)]
pub struct AutoScalingGroup {
    /// The group name; generated from the logical name when absent.
    /// Changing it replaces the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The launch template (its `$Latest` version is used).
    pub launch_template_id: Input<LaunchTemplateId>,
    /// The subnets instances launch into, spread across them.
    #[serde(default)]
    #[resource(set)]
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// Minimum instances.
    pub min_size: u32,
    /// Maximum instances.
    pub max_size: u32,
    /// Instances to run; `None` means `min_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<u32>,
    /// Tags (propagated to instances at launch).
    #[serde(default)]
    pub tags: Tags,
}

impl AutoScalingGroup {
    /// A group of `min_size..=max_size` instances from `launch_template_id`.
    pub fn new(
        launch_template_id: impl Into<Input<LaunchTemplateId>>,
        min_size: u32,
        max_size: u32,
    ) -> Self {
        Self {
            name: None,
            launch_template_id: launch_template_id.into(),
            subnet_ids: Vec::new(),
            min_size,
            max_size,
            desired_capacity: None,
            tags: Tags::new(),
        }
    }
    /// Sets the group name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Sets the desired capacity.
    pub fn desired_capacity(mut self, n: u32) -> Self {
        self.desired_capacity = Some(n);
        self
    }
    /// Adds a subnet.
    pub fn subnet(mut self, subnet_id: impl Into<Input<SubnetId>>) -> Self {
        self.subnet_ids.push(subnet_id.into());
        self
    }
    /// The capacity the group keeps: desired, else minimum.
    pub fn capacity(&self) -> u32 {
        self.desired_capacity.unwrap_or(self.min_size)
    }
}

impl AutoScalingGroup {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        crate::aws::check_name(&self.name, 255, &mut errors);
        if self.min_size > self.max_size {
            errors.push(FieldError::new(
                "min_size",
                format!(
                    "min_size {} is above max_size {}",
                    self.min_size, self.max_size
                ),
            ));
        }
        if let Some(d) = self.desired_capacity
            && (d < self.min_size || d > self.max_size)
        {
            errors.push(FieldError::new(
                "desired_capacity",
                format!(
                    "desired_capacity {d} is outside min_size..max_size ({}..{})",
                    self.min_size, self.max_size
                ),
            ));
        }
        if self.subnet_ids.is_empty() {
            errors.push(FieldError::new(
                "subnet_ids",
                "the group needs at least one subnet",
            ));
        }
        errors
    }
}

/// What AWS reports for an Auto Scaling group.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct AutoScalingGroupOutputs {
    /// The group name (its id).
    pub id: AutoScalingGroupName,
    /// The group name.
    pub name: AutoScalingGroupName,
    /// The group's ARN.
    pub arn: Arn,
    /// Instances in service when last read.
    pub instance_count: u64,
}
