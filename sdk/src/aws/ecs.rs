//! ECS: [`EcsCluster`], [`CapacityProvider`] and [`EcsService`] (task
//! definitions are in [`crate::aws::ecs_task`]). Container instances
//! register with a cluster on their own (the ECS agent reads `ECS_CLUSTER`
//! from its config); the cluster reports how many did, as AWS's
//! `registeredContainerInstancesCount`. A capacity provider ties an Auto
//! Scaling group to a cluster; a service keeps a number of tasks of a task
//! definition running on the cluster's instances and registers them with a
//! load balancer's target group.

use crate::aws::ecs_task::TaskDefinitionArn;
use crate::aws::elb::TargetGroupArn;
use crate::resource::{
    Arn, ClusterName, FieldError, Handle, Input, Outputs, References, Resource, SecurityGroupId,
    SubnetId, Tags, cloud_id,
};
use crate::stack::Probe;
use serde::{Deserialize, Serialize};

cloud_id!(
    /// The name of an ECS capacity provider (ECS's id for it).
    ///
    /// ```
    /// let name = keel::aws::ecs::CapacityProviderName::new("ecs-hosts");
    /// assert_eq!(name.as_str(), "ecs-hosts");
    /// ```
    CapacityProviderName, ""
);
cloud_id!(
    /// The ARN of an ECS service, `arn:aws:ecs:…:service/cluster/name`.
    ///
    /// ```
    /// let arn = keel::aws::ecs::ServiceArn::new("arn:aws:ecs:us-east-1:123456789012:service/app/web");
    /// assert!(arn.as_str().ends_with("service/app/web"));
    /// ```
    ServiceArn, "arn"
);

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
    /// Of those, the ones whose agent is connected (it reaches `ecs-agent`
    /// too): only these are given tasks. A registered,
    /// disconnected instance stays registered (finding E036).
    #[serde(default)]
    pub connected_container_instances_count: u64,
}

/// The output field a [`Probe`] of registered instances reads.
pub(crate) const REGISTERED_FIELD: &str = "registered_container_instances_count";
/// The output field a [`Probe`] of connected instances reads.
pub(crate) const CONNECTED_FIELD: &str = "connected_container_instances_count";

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

    /// A probe of the registered container instances whose agent is
    /// connected (`agentConnected`), read after `up`: the instances that
    /// can run tasks.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let cluster = stack.add("app", EcsCluster::new());
    /// stack.export_probe("registered", cluster.registered_container_instances());
    /// stack.export_probe("connected", cluster.connected_container_instances());
    /// ```
    pub fn connected_container_instances(&self) -> Probe {
        Probe::new(self.urn().clone(), CONNECTED_FIELD)
    }
}

/// Managed scaling of a capacity provider: ECS scales the Auto Scaling
/// group to keep its instances `target_capacity` percent used.
///
/// ```
/// let m = keel::aws::ecs::ManagedScaling::target(100);
/// assert_eq!(m.target_capacity, 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, References)]
pub struct ManagedScaling {
    /// The utilisation to keep, 1–100 percent.
    pub target_capacity: u32,
    /// The fewest instances one scaling step adds or removes (1–10000).
    pub minimum_scaling_step_size: u32,
    /// The most (1–10000).
    pub maximum_scaling_step_size: u32,
}

impl ManagedScaling {
    /// Managed scaling to `percent` utilisation, steps of 1 to 10000.
    pub fn target(percent: u32) -> Self {
        Self {
            target_capacity: percent,
            minimum_scaling_step_size: 1,
            maximum_scaling_step_size: 10_000,
        }
    }
}

/// An ECS capacity provider: the Auto Scaling group whose instances serve
/// a cluster's tasks, associated with that cluster.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// # let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// # let a = stack.add("private-a", Subnet::new(vpc.id(), "10.0.10.0/24", "us-east-1a"));
/// # let lt = stack.add("hosts", LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small"));
/// let asg = stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 4).subnet(a.id()));
/// let cluster = stack.add("app", EcsCluster::new());
/// let cp = stack.add("hosts", CapacityProvider::new(asg.arn(), cluster.name()));
/// let _name = cp.name();
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ecs:CapacityProvider", outputs = CapacityProviderOutputs, cost = 3, validate = Self::validate_fields)]
pub struct CapacityProvider {
    /// The name; generated from the logical name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The Auto Scaling group (its ARN).
    #[resource(replace)]
    pub auto_scaling_group_arn: Input<Arn>,
    /// The cluster it serves.
    #[resource(replace)]
    pub cluster: Input<ClusterName>,
    /// Managed scaling, if ECS should scale the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_scaling: Option<ManagedScaling>,
    /// Whether instances running tasks are protected from scale-in.
    #[serde(default)]
    pub managed_termination_protection: bool,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl CapacityProvider {
    /// A capacity provider for the group `auto_scaling_group_arn`, serving `cluster`.
    pub fn new(
        auto_scaling_group_arn: impl Into<Input<Arn>>,
        cluster: impl Into<Input<ClusterName>>,
    ) -> Self {
        Self {
            name: None,
            auto_scaling_group_arn: auto_scaling_group_arn.into(),
            cluster: cluster.into(),
            managed_scaling: None,
            managed_termination_protection: false,
            tags: Tags::new(),
        }
    }
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Turns managed scaling on.
    pub fn managed_scaling(mut self, scaling: ManagedScaling) -> Self {
        self.managed_scaling = Some(scaling);
        self
    }

    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(n) = &self.name {
            let lower = n.to_ascii_lowercase();
            let ok = !n.is_empty()
                && n.len() <= 255
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !["aws", "ecs", "fargate"]
                    .iter()
                    .any(|p| lower.starts_with(p));
            if !ok {
                errors.push(FieldError::new(
                    "name",
                    format!(
                        "`{n}`: up to 255 letters, digits, hyphens and underscores, not starting with aws, ecs or fargate"
                    ),
                ));
            }
        }
        if let Some(m) = &self.managed_scaling {
            if !(1..=100).contains(&m.target_capacity) {
                errors.push(FieldError::new(
                    "managed_scaling.target_capacity",
                    format!("{} is outside 1..=100", m.target_capacity),
                ));
            }
            let steps = 1..=10_000;
            if !steps.contains(&m.minimum_scaling_step_size)
                || !steps.contains(&m.maximum_scaling_step_size)
                || m.minimum_scaling_step_size > m.maximum_scaling_step_size
            {
                errors.push(FieldError::new(
                    "managed_scaling.minimum_scaling_step_size",
                    "step sizes must be 1..=10000, minimum no larger than maximum",
                ));
            }
        }
        errors
    }
}

/// What ECS reports for a capacity provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct CapacityProviderOutputs {
    /// The name (its id).
    pub id: CapacityProviderName,
    /// The name.
    pub name: CapacityProviderName,
    /// The ARN.
    pub arn: Arn,
    /// `ACTIVE` once created.
    pub status: String,
}

/// A service's binding to a load balancer: which container and port the
/// target group's targets are.
#[derive(Clone, Debug, Serialize, Deserialize, References)]
pub struct ServiceLoadBalancer {
    /// The target group tasks are registered in.
    pub target_group_arn: Input<TargetGroupArn>,
    /// The container receiving traffic.
    pub container_name: String,
    /// Its container port.
    pub container_port: u16,
}

/// The network of `awsvpc` tasks: each gets an interface in one of the
/// subnets with the groups.
#[derive(Clone, Debug, Default, Serialize, Deserialize, References)]
pub struct TaskNetwork {
    /// The subnets tasks are placed in.
    #[serde(default)]
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// The tasks' security groups.
    #[serde(default)]
    pub security_group_ids: Vec<Input<SecurityGroupId>>,
}

/// An ECS service: keeps `desired_count` tasks of a task definition running
/// on a cluster's container instances, registered with a target group.
///
/// ```
/// use keel::prelude::*;
/// use keel::aws::ecs_task::{Container, PortMapping};
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let cluster = stack.add("app", EcsCluster::new());
/// let task = stack.add("web", TaskDefinition::new()
///     .container(Container::new("web", "nginx").memory(128).port(PortMapping::dynamic(80))));
/// let tg = stack.add("web", TargetGroup::http(80, vpc.id()));
/// let svc = stack.add("web", EcsService::new(cluster.name(), task.arn(), 2).load_balancer(tg.arn(), "web", 80));
/// stack.export_probe("running", svc.running_tasks());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ecs:Service", outputs = EcsServiceOutputs, cost = 30, validate = Self::validate_fields)]
pub struct EcsService {
    /// The service name; generated from the logical name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The cluster.
    #[resource(replace)]
    pub cluster: Input<ClusterName>,
    /// The task definition revision to run.
    pub task_definition: Input<TaskDefinitionArn>,
    /// Tasks to keep running.
    pub desired_count: u32,
    /// Target groups its tasks are registered in.
    #[serde(default)]
    #[resource(replace)]
    pub load_balancers: Vec<ServiceLoadBalancer>,
    /// The network of `awsvpc` tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<TaskNetwork>,
    /// The capacity provider its tasks use (else the EC2 launch type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub capacity_provider: Option<Input<CapacityProviderName>>,
    /// The fewest tasks, in percent of `desired_count`, kept running during
    /// a deployment (0–100).
    #[serde(default = "default_min_percent")]
    pub deployment_minimum_healthy_percent: u32,
    /// The most, in percent (at least 100).
    #[serde(default = "default_max_percent")]
    pub deployment_maximum_percent: u32,
    /// Seconds ECS ignores failing load balancer health checks of a new task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<u32>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

fn default_min_percent() -> u32 {
    100
}

fn default_max_percent() -> u32 {
    200
}

impl EcsService {
    /// A service of `desired_count` tasks of `task_definition` on `cluster`.
    pub fn new(
        cluster: impl Into<Input<ClusterName>>,
        task_definition: impl Into<Input<TaskDefinitionArn>>,
        desired_count: u32,
    ) -> Self {
        Self {
            name: None,
            cluster: cluster.into(),
            task_definition: task_definition.into(),
            desired_count,
            load_balancers: Vec::new(),
            network: None,
            capacity_provider: None,
            deployment_minimum_healthy_percent: default_min_percent(),
            deployment_maximum_percent: default_max_percent(),
            health_check_grace_period_seconds: None,
            tags: Tags::new(),
        }
    }
    /// Sets the service name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Registers the tasks' `container_name:container_port` in a target group.
    pub fn load_balancer(
        mut self,
        target_group_arn: impl Into<Input<TargetGroupArn>>,
        container_name: impl Into<String>,
        container_port: u16,
    ) -> Self {
        self.load_balancers.push(ServiceLoadBalancer {
            target_group_arn: target_group_arn.into(),
            container_name: container_name.into(),
            container_port,
        });
        self
    }
    /// Places `awsvpc` tasks in `network`.
    pub fn network(mut self, network: TaskNetwork) -> Self {
        self.network = Some(network);
        self
    }
    /// Runs tasks on a capacity provider.
    pub fn capacity_provider(mut self, name: impl Into<Input<CapacityProviderName>>) -> Self {
        self.capacity_provider = Some(name.into());
        self
    }
    /// Sets the deployment's minimum healthy and maximum percent.
    pub fn deployment(mut self, minimum_healthy_percent: u32, maximum_percent: u32) -> Self {
        self.deployment_minimum_healthy_percent = minimum_healthy_percent;
        self.deployment_maximum_percent = maximum_percent;
        self
    }
    /// Sets the health-check grace period.
    pub fn health_check_grace_period_seconds(mut self, seconds: u32) -> Self {
        self.health_check_grace_period_seconds = Some(seconds);
        self
    }

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
        if self.deployment_minimum_healthy_percent > 100 {
            errors.push(FieldError::new(
                "deployment_minimum_healthy_percent",
                format!("{} is above 100", self.deployment_minimum_healthy_percent),
            ));
        }
        if self.deployment_maximum_percent < 100
            || self.deployment_maximum_percent < self.deployment_minimum_healthy_percent
        {
            errors.push(FieldError::new(
                "deployment_maximum_percent",
                format!(
                    "{} must be at least 100 and at least the minimum healthy percent",
                    self.deployment_maximum_percent
                ),
            ));
        }
        if self.health_check_grace_period_seconds.is_some() && self.load_balancers.is_empty() {
            errors.push(FieldError::new(
                "health_check_grace_period_seconds",
                "only a service with a load balancer has a health-check grace period",
            ));
        }
        for (i, lb) in self.load_balancers.iter().enumerate() {
            if lb.container_name.is_empty() {
                errors.push(FieldError::new(
                    format!("load_balancers[{i}].container_name"),
                    "names no container",
                ));
            }
            if lb.container_port == 0 {
                errors.push(FieldError::new(
                    format!("load_balancers[{i}].container_port"),
                    "port 0 is not a port",
                ));
            }
        }
        if let Some(net) = &self.network
            && net.subnet_ids.is_empty()
        {
            errors.push(FieldError::new(
                "network.subnet_ids",
                "awsvpc tasks need at least one subnet",
            ));
        }
        errors
    }
}

/// What ECS reports for a service.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct EcsServiceOutputs {
    /// The ARN (its id).
    pub id: ServiceArn,
    /// The ARN.
    pub arn: ServiceArn,
    /// The name.
    pub name: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// Tasks it keeps running.
    pub desired_count: u64,
    /// Tasks running when last read (AWS's `runningCount`).
    pub running_count: u64,
    /// Tasks starting when last read (`pendingCount`).
    pub pending_count: u64,
    /// Why the last task that stopped did (`CannotPullContainerError: …`),
    /// or why none could be placed; empty when all is well.
    pub last_event: String,
}

/// The output field a [`Probe`] of running tasks reads.
pub(crate) const RUNNING_FIELD: &str = "running_count";

impl Handle<EcsService> {
    /// A probe of `runningCount`, read after `up`.
    ///
    /// ```
    /// use keel::prelude::*;
    /// use keel::aws::ecs_task::Container;
    /// use std::time::Duration;
    /// let mut stack = Stack::new("demo");
    /// let cluster = stack.add("app", EcsCluster::new());
    /// let task = stack.add("web", TaskDefinition::new().container(Container::new("web", "nginx").memory(128)));
    /// let svc = stack.add("web", EcsService::new(cluster.name(), task.arn(), 2));
    /// stack.export_probe("running", svc.running_tasks().wait_for_at_least(2, Duration::from_secs(60)));
    /// ```
    pub fn running_tasks(&self) -> Probe {
        Probe::new(self.urn().clone(), RUNNING_FIELD)
    }
}
