//! [`LaunchTemplate`]: how an Auto Scaling group launches instances (AMI,
//! type, user data, instance profile, security groups, public IP). Every
//! update makes a new version; groups follow `$Latest`.

use crate::resource::{
    FieldError, Input, InstanceProfileName, LaunchTemplateId, Outputs, Resource, SecurityGroupId,
    Tags,
};
use serde::{Deserialize, Serialize};

/// A launch template.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let cluster = stack.add("app", EcsCluster::new());
/// let lt = stack.add(
///     "ecs-hosts",
///     LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small")
///         .user_data(cluster.name().map(|c| format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"))),
/// );
/// # let _ = lt;
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:LaunchTemplate", outputs = LaunchTemplateOutputs, validate = Self::validate_fields)]
pub struct LaunchTemplate {
    /// The template name; generated from the logical name when absent.
    /// Changing it replaces the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The AMI, `ami-…`.
    pub image_id: String,
    /// The instance type, e.g. `t3.small`.
    pub instance_type: String,
    /// User data as plain text (providers encode it as AWS requires).
    /// Sensitive: it often carries tokens or passwords, so plans show it as
    /// `[sensitive]` and state files hold it encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(sensitive)]
    pub user_data: Option<Input<String>>,
    /// The instance profile instances run with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile: Option<Input<InstanceProfileName>>,
    /// Security groups of the instances' network interface.
    #[serde(default)]
    #[resource(set)]
    pub security_group_ids: Vec<Input<SecurityGroupId>>,
    /// Whether instances get a public IPv4 address; `None` follows the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associate_public_ip_address: Option<bool>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl LaunchTemplate {
    /// A template for `image_id` on `instance_type`.
    pub fn new(image_id: impl Into<String>, instance_type: impl Into<String>) -> Self {
        Self {
            name: None,
            image_id: image_id.into(),
            instance_type: instance_type.into(),
            user_data: None,
            iam_instance_profile: None,
            security_group_ids: Vec::new(),
            associate_public_ip_address: None,
            tags: Tags::new(),
        }
    }
    /// Sets the template name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Sets the user data (plain text).
    pub fn user_data(mut self, data: impl Into<Input<String>>) -> Self {
        self.user_data = Some(data.into());
        self
    }
    /// Sets the instance profile.
    pub fn iam_instance_profile(mut self, profile: impl Into<Input<InstanceProfileName>>) -> Self {
        self.iam_instance_profile = Some(profile.into());
        self
    }
    /// Adds a security group.
    pub fn security_group(mut self, group: impl Into<Input<SecurityGroupId>>) -> Self {
        self.security_group_ids.push(group.into());
        self
    }
    /// Sets whether instances get a public IPv4 address.
    pub fn associate_public_ip_address(mut self, on: bool) -> Self {
        self.associate_public_ip_address = Some(on);
        self
    }
}

impl LaunchTemplate {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        crate::aws::check_name(&self.name, 128, &mut errors);
        let ami = &self.image_id;
        if !(ami.starts_with("ami-")
            && ami.len() > 4
            && ami[4..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            errors.push(FieldError::new(
                "image_id",
                format!("`{ami}` is not an AMI id (ami-…)"),
            ));
        }
        let t = &self.instance_type;
        let ok = t
            .split_once('.')
            .is_some_and(|(family, size)| !family.is_empty() && !size.is_empty())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            errors.push(FieldError::new(
                "instance_type",
                format!("`{t}` is not an instance type (like t3.small)"),
            ));
        }
        errors
    }
}

/// What AWS reports for a launch template.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct LaunchTemplateOutputs {
    /// `lt-…`
    pub id: LaunchTemplateId,
    /// The template name.
    pub name: String,
    /// The newest version number.
    pub latest_version: u64,
}
