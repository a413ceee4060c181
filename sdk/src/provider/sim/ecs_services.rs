//! ECS services in the simulated cloud, with ECS's rules. A service runs on an ACTIVE cluster, an ACTIVE
//! task definition, and binds containers and ports the task definition
//! has to target groups a load balancer forwards to; `awsvpc` tasks need a
//! network configuration and `ip` target groups (and only they take `ip`
//! target groups). A service is deleted by
//! scaling it to 0 and then DeleteService (`DRAINING` until its tasks have
//! stopped, then `INACTIVE`), and a cluster with services can't be deleted.
//! Running the tasks is `tasks`' job. Also the provider handler for
//! [`EcsService`].

use super::Poll;
use super::SimProvider;
use super::capacity_providers::CapacityProviderRec;
use super::cloud::{Cloud, Done, physical_name};
use super::dispatch::{Simulated, configured, resolved};
use super::ecs::ClusterRec;
use super::network::SubnetRec;
use super::security::SecurityGroupRec;
use super::table::{Life, Record, Stored, Use, facts};
use super::tasks::TaskRec;
use crate::aws::ecs::{EcsService, EcsServiceOutputs, ServiceArn};
use crate::aws::ecs_task::NetworkMode;
use crate::aws::elb::TargetType;
use crate::provider::ProviderError;
use crate::resource::{Tags, Urn};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A service's binding to a target group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BindingRec {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: u16,
}

/// The network of a service's `awsvpc` tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct NetworkRec {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

/// An ECS service, keyed by ARN; its tasks live on it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ServiceRec {
    pub arn: String,
    pub name: String,
    pub cluster: String,
    pub task_definition: String,
    pub desired_count: u32,
    pub load_balancers: Vec<BindingRec>,
    pub network: Option<NetworkRec>,
    pub capacity_provider: Option<String>,
    /// Percent of the desired tasks a deployment keeps running.
    #[serde(default = "hundred")]
    pub minimum_healthy_percent: u32,
    /// Percent of the desired tasks that may be running or starting
    /// during a deployment.
    #[serde(default = "two_hundred")]
    pub maximum_percent: u32,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// Why the last task stopped or couldn't be placed; empty when all is well.
    pub last_event: String,
    #[serde(default)]
    pub tasks: Vec<TaskRec>,
    /// When the scheduler next tries to place tasks (cloud clock).
    #[serde(default)]
    pub retry_at_ms: u64,
    pub tags: Tags,
}

fn hundred() -> u32 {
    100
}

fn two_hundred() -> u32 {
    200
}

facts!(
    ServiceRec for EcsService, "DescribeServices": "services",
    not found "ServiceNotFoundException", "Service not found: {id}",
    tags "TagResource", "UntagResource"
);

impl Record for ServiceRec {
    fn life(&self) -> Life {
        match self.status.as_str() {
            "ACTIVE" => Life::Live,
            "DRAINING" => Life::Deleting,
            _ => Life::Gone,
        }
    }

    /// Its cluster and capacity provider, and the subnets and groups of its
    /// `awsvpc` tasks' network interfaces.
    fn uses(&self, id: &str) -> Vec<Use> {
        let mut uses = vec![Use::of::<Self>(ClusterRec::TYPE, &self.cluster, id)];
        let provider = self.capacity_provider.iter();
        uses.extend(provider.map(|p| Use::of::<Self>(CapacityProviderRec::TYPE, p, id)));
        for t in &self.tasks {
            if let Some(eni) = &t.eni {
                let label = format!("{} ({})", eni.id, t.id);
                uses.push(Use::new(
                    SubnetRec::TYPE,
                    &eni.subnet_id,
                    "network interfaces",
                    &label,
                ));
                let groups = self.network.iter().flat_map(|n| &n.security_group_ids);
                uses.extend(groups.map(|g| {
                    Use::new(
                        SecurityGroupRec::TYPE,
                        g,
                        "used by network interfaces",
                        &label,
                    )
                }));
            }
        }
        uses
    }
}

/// ECS's `InvalidParameterException`.
pub(super) fn invalid_parameter(message: impl Into<String>) -> ProviderError {
    ProviderError::new("InvalidParameterException", message)
}

/// ECS's `ClientException`.
pub(super) fn client(message: impl Into<String>) -> ProviderError {
    ProviderError::new("ClientException", message)
}

/// What CreateService and UpdateService take, resolved.
#[derive(Clone, Debug, PartialEq)]
struct ServiceSpec {
    name: String,
    cluster: String,
    task_definition: String,
    desired_count: u32,
    load_balancers: Vec<BindingRec>,
    network: Option<NetworkRec>,
    capacity_provider: Option<String>,
    /// Minimum healthy and maximum percent.
    deployment: (u32, u32),
    tags: Tags,
}

impl ServiceSpec {
    fn of(urn: &Urn, props: &EcsService) -> Result<Self, ProviderError> {
        let bindings = props.load_balancers.iter().enumerate().map(|(i, b)| {
            let field = format!("load_balancers[{i}].target_group_arn");
            Ok(BindingRec {
                target_group_arn: resolved(urn, &field, &b.target_group_arn)?
                    .as_str()
                    .to_string(),
                container_name: b.container_name.clone(),
                container_port: b.container_port,
            })
        });
        let network = match &props.network {
            None => None,
            Some(n) => {
                let subnets = n.subnet_ids.iter();
                let subnets = subnets.map(|s| {
                    resolved(urn, "network.subnet_ids", s).map(|s| s.as_str().to_string())
                });
                let groups = n.security_group_ids.iter();
                let groups = groups.map(|g| {
                    resolved(urn, "network.security_group_ids", g).map(|g| g.as_str().to_string())
                });
                Some(NetworkRec {
                    subnet_ids: subnets.collect::<Result<_, _>>()?,
                    security_group_ids: groups.collect::<Result<_, _>>()?,
                })
            }
        };
        let provider = props.capacity_provider.as_ref();
        let provider = provider
            .map(|p| resolved(urn, "capacity_provider", p))
            .transpose()?;
        Ok(Self {
            name: physical_name(props.name.as_deref(), urn.name()),
            cluster: resolved(urn, "cluster", &props.cluster)?
                .as_str()
                .to_string(),
            task_definition: resolved(urn, "task_definition", &props.task_definition)?
                .as_str()
                .to_string(),
            desired_count: props.desired_count,
            load_balancers: bindings.collect::<Result<_, ProviderError>>()?,
            network,
            capacity_provider: provider.map(|p| p.as_str().to_string()),
            deployment: (
                props.deployment_minimum_healthy_percent,
                props.deployment_maximum_percent,
            ),
            tags: props.tags.clone(),
        })
    }
}

impl Cloud {
    /// The checks CreateService and UpdateService share.
    fn check_service(&self, spec: &ServiceSpec) -> Done {
        let cluster = self.clusters.find(&spec.cluster);
        if cluster.is_none_or(|c| c.status != "ACTIVE") {
            return Err(ProviderError::new(
                "ClusterNotFoundException",
                format!("Cluster not found: {}", spec.cluster),
            ));
        }
        let td = match self.task_definitions.get(&spec.task_definition) {
            Ok(td) => td,
            Err(_) if self.task_definitions.contains_key(&spec.task_definition) => {
                return Err(client(format!(
                    "TaskDefinition is inactive: {}",
                    spec.task_definition
                )));
            }
            Err(e) => return Err(e),
        };
        if let Some(p) = &spec.capacity_provider {
            let associated = self
                .capacity_providers
                .find(p)
                .and_then(|p| p.cluster.as_deref());
            if associated != Some(spec.cluster.as_str()) {
                return Err(invalid_parameter(format!(
                    "The specified capacity provider strategy cannot contain a capacity provider ({p}) that is not associated with the cluster {}.",
                    spec.cluster
                )));
            }
        }
        let awsvpc = td.network_mode == NetworkMode::Awsvpc;
        match (&spec.network, awsvpc) {
            (None, true) => {
                return Err(invalid_parameter(
                    "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
                ));
            }
            (Some(_), false) => {
                return Err(invalid_parameter(format!(
                    "Network Configuration is not valid for the given networkMode ({}) of this task definition.",
                    td.network_mode.as_str()
                )));
            }
            (Some(n), true) => self.check_task_network(n)?,
            (None, false) => {}
        }
        for b in &spec.load_balancers {
            let tg = self
                .target_groups
                .find(&b.target_group_arn)
                .ok_or_else(|| {
                    invalid_parameter(format!(
                        "Target group {} does not exist.",
                        b.target_group_arn
                    ))
                })?;
            if self.load_balancers_of(&tg.arn).is_empty() {
                return Err(invalid_parameter(format!(
                    "The target group with targetGroupArn {} does not have an associated load balancer.",
                    tg.arn
                )));
            }
            let container = td.containers.iter().find(|c| c.name == b.container_name);
            let port = container.and_then(|c| {
                c.port_mappings
                    .iter()
                    .find(|p| p.container_port == b.container_port)
            });
            if port.is_none() {
                return Err(invalid_parameter(format!(
                    "The container {} did not have a container port {} defined in {}.",
                    b.container_name,
                    b.container_port,
                    td.family_revision()
                )));
            }
            if awsvpc && tg.target_type != TargetType::Ip {
                return Err(invalid_parameter(format!(
                    "The provided target group {} has target type instance, which is incompatible with the awsvpc network mode specified in the task definition.",
                    tg.arn
                )));
            }
            if !awsvpc && tg.target_type == TargetType::Ip {
                return Err(invalid_parameter(format!(
                    "The provided target group {} has target type ip, which is incompatible with the {} network mode specified in the task definition.",
                    tg.arn,
                    td.network_mode.as_str()
                )));
            }
        }
        Ok(())
    }

    /// An `awsvpc` network: its subnets exist, in one VPC with its groups.
    fn check_task_network(&self, n: &NetworkRec) -> Done {
        let mut vpc: Option<&str> = None;
        for s in &n.subnet_ids {
            let rec = self.subnets.find(s).ok_or_else(|| invalid_parameter(format!("Error retrieving subnet information for [{s}]: The subnet ID '{s}' does not exist")))?;
            if vpc.is_some_and(|v| v != rec.vpc_id) {
                return Err(invalid_parameter("Subnets must all be in the same VPC."));
            }
            vpc = Some(&rec.vpc_id);
        }
        for g in &n.security_group_ids {
            match self.security_groups.find(g) {
                Some(rec) if Some(rec.vpc_id.as_str()) == vpc => {}
                Some(_) => {
                    return Err(invalid_parameter(format!(
                        "Security group {g} is not in the subnets' VPC."
                    )));
                }
                None => {
                    return Err(invalid_parameter(format!(
                        "Error retrieving security group information for [{g}]: The security group '{g}' does not exist"
                    )));
                }
            }
        }
        Ok(())
    }

    /// CreateService: one ACTIVE or DRAINING service of a name per cluster.
    fn create_service(&mut self, spec: ServiceSpec) -> Result<String, ProviderError> {
        let arn = self
            .arn("ecs", &format!("service/{}/{}", spec.cluster, spec.name))
            .as_str()
            .to_string();
        if self.services.find(&arn).is_some() {
            return Err(invalid_parameter("Creation of service was not idempotent."));
        }
        self.check_service(&spec)?;
        let rec = ServiceRec {
            arn: arn.clone(),
            name: spec.name,
            cluster: spec.cluster,
            task_definition: spec.task_definition,
            desired_count: spec.desired_count,
            load_balancers: spec.load_balancers,
            network: spec.network,
            capacity_provider: spec.capacity_provider,
            minimum_healthy_percent: spec.deployment.0,
            maximum_percent: spec.deployment.1,
            status: "ACTIVE".into(),
            last_event: String::new(),
            tasks: Vec::new(),
            retry_at_ms: 0,
            tags: spec.tags,
        };
        self.services.insert(arn.clone(), rec);
        Ok(arn)
    }

    /// UpdateService: desired count, task definition, network and
    /// deployment configuration.
    fn update_service(&mut self, arn: &str, want: &ServiceSpec) -> Done {
        let s = self.services.get(arn)?;
        if s.status != "ACTIVE" {
            return Err(ProviderError::new(
                "ServiceNotActiveException",
                format!("Service was not ACTIVE: {arn}"),
            ));
        }
        let spec = ServiceSpec {
            load_balancers: s.load_balancers.clone(),
            capacity_provider: s.capacity_provider.clone(),
            ..want.clone()
        };
        self.check_service(&spec)?;
        let s = self.services.get_mut(arn)?;
        s.desired_count = want.desired_count;
        s.task_definition = want.task_definition.clone();
        s.network = want.network.clone();
        (s.minimum_healthy_percent, s.maximum_percent) = want.deployment;
        s.retry_at_ms = 0;
        Ok(())
    }

    /// DeleteService: only once scaled to 0; `DRAINING` until its tasks stop.
    pub(super) fn delete_service(&mut self, arn: &str) -> Done {
        let s = self.services.get_mut(arn)?;
        if s.desired_count > 0 {
            return Err(invalid_parameter(
                "The service cannot be stopped while it is scaled above 0.",
            ));
        }
        if s.status == "ACTIVE" {
            s.status = "DRAINING".into();
        }
        Ok(())
    }
}

#[async_trait]
impl Simulated for EcsService {
    fn outputs(_: &Cloud, s: &ServiceRec) -> EcsServiceOutputs {
        let count = |status: &str| {
            s.tasks
                .iter()
                .filter(|t| t.status.as_str() == status)
                .count() as u64
        };
        EcsServiceOutputs {
            id: ServiceArn::new(&s.arn),
            arn: ServiceArn::new(&s.arn),
            name: s.name.clone(),
            status: s.status.clone(),
            desired_count: u64::from(s.desired_count),
            running_count: count("RUNNING"),
            pending_count: count("PENDING"),
            last_event: s.last_event.clone(),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let spec = ServiceSpec::of(urn, props)?;
        let arn = sim.api("CreateService", |c, _| c.create_service(spec))?;
        configured(sim, urn, arn, props)
    }

    /// UpdateService when the desired count, task definition, network or
    /// deployment configuration differ.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let want = ServiceSpec::of(urn, props)?;
        let now = |s: &ServiceRec| {
            let deployment = (s.minimum_healthy_percent, s.maximum_percent);
            (
                s.desired_count,
                s.task_definition.clone(),
                s.network.clone(),
                deployment,
            )
        };
        let key = (
            want.desired_count,
            want.task_definition.clone(),
            want.network.clone(),
            want.deployment,
        );
        sim.change(id, "UpdateService", now, key, |c, _| {
            c.update_service(id, &want)
        })
    }

    /// Scales to 0 (UpdateService), then DeleteService.
    fn remove(sim: &SimProvider, id: &str) -> Done {
        let desired = sim.peek(|c| c.services.get(id).map(|s| s.desired_count))?;
        if desired > 0 {
            sim.api("UpdateService", |c, _| {
                c.services.get_mut(id)?.desired_count = 0;
                Ok(())
            })?;
        }
        sim.api("DeleteService", |c, _| c.delete_service(id))
    }

    /// Polls DescribeServices until its tasks have stopped and it is INACTIVE.
    async fn gone(sim: &SimProvider, id: &str) -> Done {
        sim.wait_for("DescribeServices", |c, clock| {
            Ok(match c.services.find(id) {
                Some(_) => Poll::At(clock.now),
                None => Poll::Ready(()),
            })
        })
        .await
    }
}
