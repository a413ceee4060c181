//! ECS: [`EcsCluster`]. Container instances register with a cluster on their
//! own (the ECS agent reads `ECS_CLUSTER` from its config); the cluster
//! reports how many did, as AWS's `registeredContainerInstancesCount`.

use crate::resource::{Arn, ClusterName, FieldError, Handle, Outputs, Resource, Tags};
use crate::stack::Probe;
use serde::{Deserialize, Serialize};

/// An ECS cluster.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let cluster = stack.add("app", EcsCluster::new());
/// let _name: Output<ClusterName> = cluster.name();
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize, Resource)]
// ECS returns the existing cluster when one of that name exists, so two
// can't coexist during a replacement.
#[resource(token = "aws:ecs:Cluster", outputs = EcsClusterOutputs, cost = 3, delete_before_replace, validate = Self::validate_fields)]
pub struct EcsCluster {
    /// The cluster name; generated from the logical name when absent.
    /// Changing it replaces the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// Whether CloudWatch Container Insights is on.
    #[serde(default)]
    pub container_insights: bool,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl EcsCluster {
    /// A cluster named after its logical name.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the cluster name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Turns Container Insights on or off.
    pub fn container_insights(mut self, on: bool) -> Self {
        self.container_insights = on;
        self
    }
}

impl EcsCluster {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(n) = &self.name
            && (n.is_empty()
                || n.len() > 255
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            errors.push(FieldError::new(
                "name",
                format!("`{n}`: up to 255 letters, digits, hyphens and underscores"),
            ));
        }
        errors
    }
}

/// What AWS reports for a cluster.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct EcsClusterOutputs {
    /// The cluster name (keel's id for it).
    pub id: ClusterName,
    /// The cluster name.
    pub name: ClusterName,
    /// The cluster's ARN.
    pub arn: Arn,
    /// `ACTIVE` once created.
    pub status: String,
    /// Container instances registered with the cluster when last read.
    pub registered_container_instances_count: u64,
}

/// The output field a [`Probe`] of registered instances reads.
pub(crate) const REGISTERED_FIELD: &str = "registered_container_instances_count";

impl Handle<EcsCluster> {
    /// A probe of `registeredContainerInstancesCount`, read after `up`.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let cluster = stack.add("app", EcsCluster::new());
    /// stack.export_probe("registered", cluster.registered_container_instances());
    /// ```
    pub fn registered_container_instances(&self) -> Probe {
        Probe::new(self.urn().clone(), REGISTERED_FIELD)
    }
}
