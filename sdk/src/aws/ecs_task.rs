//! ECS task definitions: [`TaskDefinition`] and its [`Container`]s. A task
//! definition revision never changes: every change registers a new
//! revision (keel replaces the resource, new before old, so a service
//! moves to the new revision before the old one is deregistered).

use crate::resource::{
    Arn, FieldError, Input, Output, Outputs, References, Resource, Tags, cloud_id,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

cloud_id!(
    /// The ARN of one revision of a task definition,
    /// `arn:aws:ecs:…:task-definition/family:3`.
    ///
    /// ```
    /// let arn = keel::aws::ecs_task::TaskDefinitionArn::new(
    ///     "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
    /// );
    /// assert!(arn.as_str().ends_with("web:3"));
    /// ```
    TaskDefinitionArn, "arn"
);

/// How a task's containers are networked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, References)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Docker's bridge on the instance: container ports map to host ports
    /// (host port 0: a dynamic one from 32768–65535).
    #[default]
    Bridge,
    /// Each task gets its own network interface, subnet and security groups.
    Awsvpc,
    /// Containers use the instance's network directly.
    Host,
}

impl NetworkMode {
    /// As ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::Awsvpc => "awsvpc",
            NetworkMode::Host => "host",
        }
    }
}

/// A container port published by a task.
///
/// ```
/// use keel::aws::ecs_task::PortMapping;
/// let dynamic = PortMapping::dynamic(80);
/// assert_eq!(dynamic.host_port, Some(0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, References)]
pub struct PortMapping {
    /// The port the container listens on.
    pub container_port: u16,
    /// The instance's port: `Some(0)` picks a free one from 32768–65535
    /// (bridge mode); `None` is the container port (required in awsvpc and
    /// host mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
}

impl PortMapping {
    /// The container port on the same host port.
    pub fn same(port: u16) -> Self {
        Self {
            container_port: port,
            host_port: None,
        }
    }
    /// The container port on a dynamic host port (bridge mode).
    pub fn dynamic(port: u16) -> Self {
        Self {
            container_port: port,
            host_port: Some(0),
        }
    }
    /// The container port on host port `host`.
    pub fn host(port: u16, host: u16) -> Self {
        Self {
            container_port: port,
            host_port: Some(host),
        }
    }
}

/// Where a container's logs go (`awslogs`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, References)]
pub struct LogConfiguration {
    /// The log driver, e.g. `awslogs`.
    pub driver: String,
    /// The driver's options (`awslogs-group`, `awslogs-region`…).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// One container of a task.
///
/// ```
/// use keel::aws::ecs_task::{Container, PortMapping};
/// let web = Container::new("web", "public.ecr.aws/nginx/nginx:1.27")
///     .cpu(128)
///     .memory(256)
///     .port(PortMapping::dynamic(80))
///     .env("MODE", "demo");
/// assert_eq!(web.port_mappings.len(), 1);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, References)]
pub struct Container {
    /// Its name in the task.
    pub name: String,
    /// The image (`repository:tag` or a digest).
    pub image: String,
    /// CPU units reserved on the instance (1024 = one vCPU).
    #[serde(default)]
    pub cpu: u32,
    /// Hard memory limit in MiB (reserved on the instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Soft memory limit in MiB (reserved when `memory` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u32>,
    /// Whether the task stops when this container does.
    #[serde(default = "yes")]
    pub essential: bool,
    /// Published ports.
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    /// Environment variables (values may be other resources' outputs).
    #[serde(default)]
    pub environment: BTreeMap<String, Input<String>>,
    /// The command, overriding the image's.
    #[serde(default)]
    pub command: Vec<String>,
    /// Where its logs go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
}

fn yes() -> bool {
    true
}

impl Container {
    /// An essential container `name` running `image`.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            cpu: 0,
            memory: None,
            memory_reservation: None,
            essential: true,
            port_mappings: Vec::new(),
            environment: BTreeMap::new(),
            command: Vec::new(),
            log_configuration: None,
        }
    }
    /// Reserves CPU units.
    pub fn cpu(mut self, units: u32) -> Self {
        self.cpu = units;
        self
    }
    /// Sets the hard memory limit (MiB).
    pub fn memory(mut self, mib: u32) -> Self {
        self.memory = Some(mib);
        self
    }
    /// Sets the soft memory limit (MiB).
    pub fn memory_reservation(mut self, mib: u32) -> Self {
        self.memory_reservation = Some(mib);
        self
    }
    /// Publishes a port.
    pub fn port(mut self, mapping: PortMapping) -> Self {
        self.port_mappings.push(mapping);
        self
    }
    /// Sets an environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<Input<String>>) -> Self {
        self.environment.insert(name.into(), value.into());
        self
    }
    /// Sets the command.
    pub fn command<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.command = args.into_iter().map(Into::into).collect();
        self
    }
    /// Sends logs to CloudWatch Logs group `group` in `region` (`awslogs`).
    pub fn awslogs(mut self, group: impl Into<String>, region: impl Into<String>) -> Self {
        let options = BTreeMap::from([
            ("awslogs-group".to_string(), group.into()),
            ("awslogs-region".to_string(), region.into()),
            ("awslogs-stream-prefix".to_string(), self.name.clone()),
        ]);
        self.log_configuration = Some(LogConfiguration {
            driver: "awslogs".into(),
            options,
        });
        self
    }
    /// The memory the container reserves on an instance (MiB).
    pub fn reserved_memory(&self) -> u32 {
        self.memory.or(self.memory_reservation).unwrap_or(0)
    }
}

/// A task definition: the containers a task runs and how.
///
/// ```
/// use keel::prelude::*;
/// use keel::aws::ecs_task::{Container, PortMapping};
/// let mut stack = Stack::new("demo");
/// let exec = stack.add("exec", IamRole::for_service("ecs-tasks.amazonaws.com")
///     .managed_policy(keel::aws::iam::ECS_TASK_EXECUTION_POLICY_ARN));
/// let web = stack.add("web", TaskDefinition::new()
///     .container(Container::new("web", "public.ecr.aws/nginx/nginx:1.27").memory(256).port(PortMapping::dynamic(80)))
///     .execution_role(exec.arn()));
/// let _arn = web.arn();
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ecs:TaskDefinition", outputs = TaskDefinitionOutputs, cost = 2, validate = Self::validate_fields)]
pub struct TaskDefinition {
    /// The family; generated from the logical name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub family: Option<String>,
    /// The containers.
    #[resource(replace)]
    pub containers: Vec<Container>,
    /// The network mode.
    #[serde(default)]
    #[resource(replace)]
    pub network_mode: NetworkMode,
    /// The role the containers' code runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub task_role_arn: Option<Input<Arn>>,
    /// The role ECS uses to pull images and write logs for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub execution_role_arn: Option<Input<Arn>>,
    /// Task-level CPU units (optional on EC2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub cpu: Option<u32>,
    /// Task-level memory in MiB (optional on EC2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub memory: Option<u32>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl TaskDefinition {
    /// A task definition in bridge mode; add containers.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the family.
    pub fn family(mut self, family: impl Into<String>) -> Self {
        self.family = Some(family.into());
        self
    }
    /// Adds a container.
    pub fn container(mut self, container: Container) -> Self {
        self.containers.push(container);
        self
    }
    /// Sets the network mode.
    pub fn network_mode(mut self, mode: NetworkMode) -> Self {
        self.network_mode = mode;
        self
    }
    /// Sets the task role.
    pub fn task_role(mut self, arn: impl Into<Input<Arn>>) -> Self {
        self.task_role_arn = Some(arn.into());
        self
    }
    /// Sets the execution role.
    pub fn execution_role(mut self, arn: impl Into<Input<Arn>>) -> Self {
        self.execution_role_arn = Some(arn.into());
        self
    }
    /// The family registered for the resource named `logical`: the given
    /// one, else the logical name (letters, digits, `-` and `_` kept, others
    /// made `-`). It carries no random suffix, so a replacement registers
    /// the family's next revision, as ECS users expect.
    ///
    /// ```
    /// use keel::prelude::*;
    /// assert_eq!(TaskDefinition::new().family_name("web.app"), "web-app");
    /// assert_eq!(TaskDefinition::new().family("api").family_name("web"), "api");
    /// ```
    pub fn family_name(&self, logical: &str) -> String {
        self.family.clone().unwrap_or_else(|| {
            logical.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "-",
            )
        })
    }
    /// The CPU units a task reserves on an instance.
    pub fn reserved_cpu(&self) -> u32 {
        self.cpu
            .unwrap_or_else(|| self.containers.iter().map(|c| c.cpu).sum())
    }
    /// The memory a task reserves on an instance (MiB).
    pub fn reserved_memory(&self) -> u32 {
        self.memory
            .unwrap_or_else(|| self.containers.iter().map(Container::reserved_memory).sum())
    }
    /// The container named `name`.
    pub fn find_container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(f) = &self.family
            && (f.is_empty()
                || f.len() > 255
                || !f
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            errors.push(FieldError::new(
                "family",
                format!("`{f}`: up to 255 letters, digits, hyphens and underscores"),
            ));
        }
        if self.containers.is_empty() {
            errors.push(FieldError::new(
                "containers",
                "a task definition needs at least one container",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.containers.iter().enumerate() {
            let field = |f: &str| format!("containers[{i}].{f}");
            if c.name.is_empty() || !names.insert(c.name.as_str()) {
                errors.push(FieldError::new(
                    field("name"),
                    format!("`{}`: container names must be unique and not empty", c.name),
                ));
            }
            if c.image.trim().is_empty() || c.image.contains(char::is_whitespace) {
                errors.push(FieldError::new(
                    field("image"),
                    format!("`{}` is not an image reference", c.image),
                ));
            }
            if c.memory.is_none() && c.memory_reservation.is_none() && self.memory.is_none() {
                errors.push(FieldError::new(
                    field("memory"),
                    "on EC2, a container needs memory or memory_reservation when the task sets no memory",
                ));
            }
            if let (Some(hard), Some(soft)) = (c.memory, c.memory_reservation)
                && soft > hard
            {
                errors.push(FieldError::new(
                    field("memory_reservation"),
                    format!("{soft} MiB is above the hard limit memory ({hard} MiB)"),
                ));
            }
            for (j, p) in c.port_mappings.iter().enumerate() {
                let field = format!("containers[{i}].port_mappings[{j}]");
                if p.container_port == 0 {
                    errors.push(FieldError::new(
                        format!("{field}.container_port"),
                        "port 0 is not a port",
                    ));
                }
                let fixed = matches!(self.network_mode, NetworkMode::Awsvpc | NetworkMode::Host);
                if fixed && p.host_port.is_some_and(|h| h != p.container_port) {
                    errors.push(FieldError::new(
                        format!("{field}.host_port"),
                        format!(
                            "in {} mode the host port must equal the container port ({})",
                            self.network_mode.as_str(),
                            p.container_port
                        ),
                    ));
                }
            }
        }
        errors
    }
}

/// What ECS reports for a task definition revision.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct TaskDefinitionOutputs {
    /// The revision's ARN (its id).
    pub id: TaskDefinitionArn,
    /// The revision's ARN.
    pub arn: TaskDefinitionArn,
    /// The family.
    pub family: String,
    /// The revision number.
    pub revision: u64,
}

impl crate::Handle<TaskDefinition> {
    /// `family:revision`, as the ECS console shows it.
    ///
    /// ```
    /// use keel::prelude::*;
    /// use keel::aws::ecs_task::Container;
    /// let mut stack = Stack::new("demo");
    /// let web = stack.add("web", TaskDefinition::new().container(Container::new("web", "nginx").memory(128)));
    /// stack.export("task", web.family_revision());
    /// ```
    pub fn family_revision(&self) -> Output<String> {
        self.arn().map(|a| {
            a.as_str()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
    }
}
