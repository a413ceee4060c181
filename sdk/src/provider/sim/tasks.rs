//! ECS tasks in the simulated cloud, driven by time: each ACTIVE service
//! keeps `desired_count` tasks of its task definition. A task is placed on
//! a running container instance of the service's cluster (of its capacity
//! provider's group, if it names one) whose agent is connected and that has
//! the CPU and memory left (registered resources by instance type, see
//! [`registered_resources`]) and the host ports: bridge mode maps host port
//! 0 to the lowest free port of 32768–65535, a fixed host port must be free
//! on the instance; an `awsvpc` task gets a network interface in one of the
//! service's subnets in the instance's zone (as many per instance as its
//! type has interfaces, less the primary one). A placed task is `PENDING`
//! while ECS pulls its images (over the network of the instance, or of the
//! task's interface, as `analysis::serving::image_pull` decides) and then
//! `RUNNING`, or stops with `CannotPullContainerError`. Failures are the
//! service's `last_event` until it reaches a steady state, and the
//! scheduler retries after a while. A task
//! whose instance stops running or registered stops too. A deployment (a
//! new task definition) stops old tasks down to the minimum healthy
//! percent, starts new ones up to the maximum percent, and stops the rest
//! of the old ones once as many new ones run as desired; a DRAINING
//! service stops its tasks and becomes INACTIVE. Target
//! registration and health are in `target_health`.

use super::cloud::{Clock, Cloud, random_hex};
use super::compute::{InstanceRec, InstanceState};
use super::ecs_services::ServiceRec;
use super::latency::Op;
use super::task_definitions::TaskDefinitionRec;
use crate::analysis::network::Model;
use crate::analysis::reach::Source;
use crate::analysis::serving::image_pull;
use crate::aws::ecs_task::NetworkMode;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Where a task is, as ECS names it (stopped tasks are dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum TaskStatus {
    Pending,
    Running,
}

impl TaskStatus {
    /// As ECS writes it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "PENDING",
            TaskStatus::Running => "RUNNING",
        }
    }
}

/// The network interface of an `awsvpc` task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct EniRec {
    pub id: String,
    pub subnet_id: String,
    pub private_ip: Ipv4Addr,
}

/// A task of a service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TaskRec {
    /// 32 hex digits, as ECS's task ids.
    pub id: String,
    pub task_definition: String,
    pub instance_id: String,
    pub status: TaskStatus,
    /// When `PENDING` ends (cloud clock).
    pub until_ms: u64,
    /// Container port → host port (bridge and host mode).
    pub ports: Vec<(u16, u16)>,
    pub eni: Option<EniRec>,
    pub cpu: u32,
    pub memory: u32,
}

impl TaskRec {
    /// The port traffic for `container_port` arrives on: the host port,
    /// or (awsvpc) the container port on the task's interface.
    pub(super) fn port_for(&self, container_port: u16) -> Option<u16> {
        match &self.eni {
            Some(_) => Some(container_port),
            None => self
                .ports
                .iter()
                .find(|(c, _)| *c == container_port)
                .map(|(_, h)| *h),
        }
    }
}

/// The CPU units and MiB of memory an instance type registers with ECS
/// (1024 units per vCPU; memory less what the OS and agent keep), and its
/// network interfaces. An unknown type registers as a t3.medium (2048
/// units, 3900 MiB, 3 interfaces).
pub(super) fn registered_resources(instance_type: &str) -> (u32, u32, u32) {
    match instance_type {
        "t3.nano" | "t3a.nano" => (2048, 400, 2),
        "t3.micro" | "t3a.micro" | "t2.micro" => (2048, 900, 2),
        "t3.small" | "t3a.small" | "t2.small" => (2048, 1900, 3),
        "t3.medium" | "t3a.medium" | "t2.medium" => (2048, 3900, 3),
        "t3.large" | "t3a.large" => (2048, 7800, 3),
        "t3.xlarge" => (4096, 15_700, 4),
        "m5.large" | "m6i.large" | "c5.large" => (2048, 7600, 3),
        "m5.xlarge" | "m6i.xlarge" => (4096, 15_500, 4),
        "m5.2xlarge" => (8192, 31_400, 4),
        "c5.xlarge" => (4096, 7400, 4),
        _ => (2048, 3900, 3),
    }
}

/// The first dynamic host port ECS hands out in bridge mode.
const DYNAMIC_PORTS: std::ops::RangeInclusive<u16> = 32768..=65535;

/// Why no instance could take a task.
fn unplaceable(service: &str, reason: &str) -> String {
    format!(
        "(service {service}) was unable to place a task because no container instance met all of its requirements. Reason: {reason}"
    )
}

/// Where a task fits on an instance: its container → host ports, or
/// (awsvpc) the subnet of its interface.
type Fit = (Vec<(u16, u16)>, Option<String>);

/// A service's view of its cluster for one placement: where tasks of every
/// service already are.
struct Placement<'a> {
    cloud: &'a Cloud,
    td: &'a TaskDefinitionRec,
    service: &'a ServiceRec,
    /// Tasks of every service (this one's as it is being changed).
    placed: Vec<&'a TaskRec>,
}

impl Placement<'_> {
    /// Whether `i` can take one more task, and the task's ports or
    /// interface subnet; else why not.
    fn fit(&self, i: &InstanceRec, extra: &[TaskRec]) -> Result<Fit, String> {
        let on: Vec<&TaskRec> = self
            .placed
            .iter()
            .copied()
            .chain(extra.iter())
            .filter(|t| t.instance_id == i.id)
            .collect();
        let (cpu, memory, enis) = registered_resources(&i.spec.instance_type);
        let used_cpu: u32 = on.iter().map(|t| t.cpu).sum();
        let used_mem: u32 = on.iter().map(|t| t.memory).sum();
        if used_cpu + self.td.reserved_cpu() > cpu {
            return Err(format!(
                "The closest matching container-instance {} has insufficient CPU units available.",
                i.id
            ));
        }
        if used_mem + self.td.reserved_memory() > memory {
            return Err(format!(
                "The closest matching container-instance {} has insufficient memory available.",
                i.id
            ));
        }
        if self.td.network_mode == NetworkMode::Awsvpc {
            let with_eni = on.iter().filter(|t| t.eni.is_some()).count() as u32;
            if with_eni + 1 >= enis {
                return Err(format!(
                    "The closest matching container-instance {} encountered error \"RESOURCE:ENI\".",
                    i.id
                ));
            }
            let subnets = self.service.network.iter().flat_map(|n| &n.subnet_ids);
            let mut in_zone = subnets.filter(|s| {
                self.cloud
                    .subnets
                    .find(s)
                    .is_some_and(|r| r.availability_zone == i.availability_zone)
            });
            return match in_zone.next() {
                Some(s) => Ok((Vec::new(), Some(s.clone()))),
                None => Err(format!(
                    "The closest matching container-instance {} is in {}, where the service has no subnet.",
                    i.id, i.availability_zone
                )),
            };
        }
        let mut taken: Vec<u16> = on
            .iter()
            .flat_map(|t| t.ports.iter().map(|(_, h)| *h))
            .collect();
        let mut ports = Vec::new();
        for c in &self.td.containers {
            for p in &c.port_mappings {
                let host = match p.host_port {
                    Some(0) if self.td.network_mode == NetworkMode::Bridge => {
                        let free = DYNAMIC_PORTS.clone().find(|h| !taken.contains(h));
                        free.ok_or_else(|| format!("The closest matching container-instance {} has no free dynamic port.", i.id))?
                    }
                    Some(h) if h != 0 => h,
                    _ => p.container_port,
                };
                if taken.contains(&host) {
                    return Err(format!(
                        "The closest matching container-instance {} is already using a port required by your task ({host}).",
                        i.id
                    ));
                }
                taken.push(host);
                ports.push((p.container_port, host));
            }
        }
        Ok((ports, None))
    }
}

impl Cloud {
    /// Runs every service's scheduler and brings target groups up to date.
    pub(super) fn run_services(&mut self, clock: &Clock) {
        let busy = |s: &ServiceRec| s.status != "INACTIVE";
        let arns: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| busy(s))
            .map(|(k, _)| k.clone())
            .collect();
        if arns.is_empty() {
            return;
        }
        let model = self.network_model();
        for arn in &arns {
            self.schedule(arn, &model, clock);
        }
        self.sync_targets(&model, clock);
    }

    /// One look by the scheduler at service `arn`.
    fn schedule(&mut self, arn: &str, model: &Model, clock: &Clock) {
        let Some(mut s) = self.services.get(arn).ok().cloned() else {
            return;
        };
        let retry = clock.after(Op::TaskStart);
        // Tasks whose instance is gone, stopped or deregistered stop.
        s.tasks.retain(|t| {
            let i = self.instances.find(&t.instance_id);
            let alive = i.is_some_and(|i| i.state == InstanceState::Running && i.registered_cluster.as_deref() == Some(&s.cluster));
            if !alive {
                s.last_event = format!("(service {}) task {} stopped: its container instance {} stopped or deregistered.", s.name, t.id, t.instance_id);
            }
            alive
        });
        // Pending tasks whose images are pulled start, or stop.
        let mut stopped = Vec::new();
        let due = |t: &TaskRec| t.status == TaskStatus::Pending && t.until_ms <= clock.now;
        let outcomes: Vec<(String, Result<(), String>)> = s
            .tasks
            .iter()
            .filter(|t| due(t))
            .map(|t| (t.id.clone(), self.pull_images(t, &s, model)))
            .collect();
        for (id, outcome) in outcomes {
            match outcome {
                Ok(()) => {
                    let started = s.tasks.iter_mut().find(|t| t.id == id);
                    started
                        .into_iter()
                        .for_each(|t| t.status = TaskStatus::Running);
                }
                Err(why) => {
                    s.last_event = format!("(service {}) task {id} stopped: {why}", s.name);
                    stopped.push(id);
                }
            }
        }
        if !stopped.is_empty() {
            s.tasks.retain(|t| !stopped.contains(&t.id));
            s.retry_at_ms = retry;
        }
        let desired = if s.status == "ACTIVE" {
            s.desired_count as usize
        } else {
            0
        };
        let current = |t: &&TaskRec| t.task_definition == s.task_definition;
        let running_new = s
            .tasks
            .iter()
            .filter(current)
            .filter(|t| t.status == TaskStatus::Running)
            .count();
        if running_new >= desired {
            s.tasks.retain(|t| t.task_definition == s.task_definition);
        }
        // A deployment stops old tasks down to the minimum healthy percent
        // at once, and starts new ones up to the maximum percent.
        let keep = (desired * s.minimum_healthy_percent as usize).div_ceil(100);
        let running = s.tasks.iter().filter(|t| t.status == TaskStatus::Running);
        let mut stoppable = running.count().saturating_sub(keep);
        s.tasks.retain(|t| {
            let stop = stoppable > 0 && t.task_definition != s.task_definition;
            if stop {
                stoppable -= 1;
            }
            !stop
        });
        let room = (desired * s.maximum_percent as usize / 100).saturating_sub(s.tasks.len());
        let live_new = s.tasks.iter().filter(current).count();
        if live_new > desired {
            // Pending ones first, then the newest.
            s.tasks.sort_by_key(|t| {
                (
                    t.task_definition != s.task_definition,
                    t.status == TaskStatus::Running,
                    t.until_ms,
                )
            });
            let mut extra = live_new - desired;
            s.tasks.retain(|t| {
                let stop = extra > 0 && t.task_definition == s.task_definition;
                if stop {
                    extra -= 1;
                }
                !stop
            });
        } else if live_new < desired && room > 0 && clock.now >= s.retry_at_ms {
            match self.place(&s, (desired - live_new).min(room), clock) {
                Ok(new) => s.tasks.extend(new),
                Err((new, why)) => {
                    s.tasks.extend(new);
                    s.last_event = why;
                    s.retry_at_ms = retry;
                }
            }
        }
        let steady = s.tasks.len() == desired
            && s.tasks
                .iter()
                .all(|t| t.status == TaskStatus::Running && t.task_definition == s.task_definition);
        if steady {
            // ECS's "has reached a steady state": nothing to report.
            s.last_event.clear();
        }
        if s.status == "DRAINING" && s.tasks.is_empty() {
            s.status = "INACTIVE".into();
        }
        self.services.insert(arn.to_string(), s);
    }

    /// Places up to `n` tasks of service `s`: the new tasks, or (with those
    /// that fit) why the rest don't.
    fn place(
        &self,
        s: &ServiceRec,
        n: usize,
        clock: &Clock,
    ) -> Result<Vec<TaskRec>, (Vec<TaskRec>, String)> {
        let Some(td) = self.revision(&s.task_definition) else {
            let why = format!(
                "(service {}) task definition {} is missing.",
                s.name, s.task_definition
            );
            return Err((Vec::new(), why));
        };
        let group = s
            .capacity_provider
            .as_ref()
            .and_then(|p| self.capacity_providers.find(p))
            .map(|p| p.group.clone());
        let candidates: Vec<&InstanceRec> = self
            .instances
            .values()
            .filter(|i| {
                i.state == InstanceState::Running
                    && i.registered_cluster.as_deref() == Some(&s.cluster)
            })
            .filter(|i| group.is_none() || i.group == group)
            .collect();
        let connected: Vec<&InstanceRec> = candidates
            .iter()
            .copied()
            .filter(|i| i.agent_connected)
            .collect();
        let others = self
            .services
            .iter()
            .filter(|(k, _)| **k != s.arn)
            .flat_map(|(_, o)| &o.tasks);
        let placement = Placement {
            cloud: self,
            td,
            service: s,
            placed: others.chain(&s.tasks).collect(),
        };
        let mut new: Vec<TaskRec> = Vec::new();
        for _ in 0..n {
            if candidates.is_empty() {
                return Err((
                    new,
                    unplaceable(
                        &s.name,
                        "No Container Instances were found in your cluster.",
                    ),
                ));
            }
            if connected.is_empty() {
                return Err((
                    new,
                    unplaceable(&s.name, "No container instance's agent is connected."),
                ));
            }
            // Spread: the instance with the fewest of this service's tasks.
            let mut ranked = connected.clone();
            let mine = |i: &InstanceRec| {
                s.tasks
                    .iter()
                    .chain(&new)
                    .filter(|t| t.instance_id == i.id)
                    .count()
            };
            ranked.sort_by_key(|i| (mine(i), i.id.clone()));
            let mut last = String::new();
            let mut placed = None;
            for i in ranked {
                match placement.fit(i, &new) {
                    Ok(fit) => {
                        placed = Some((i, fit));
                        break;
                    }
                    Err(why) => last = why,
                }
            }
            let Some((i, (ports, subnet))) = placed else {
                return Err((new, unplaceable(&s.name, &last)));
            };
            let eni = match subnet {
                Some(subnet) => match self.allocate_task_ip(&subnet, &new) {
                    Some(ip) => Some(EniRec {
                        id: format!("eni-{}", random_hex(17)),
                        subnet_id: subnet,
                        private_ip: ip,
                    }),
                    None => {
                        return Err((
                            new,
                            unplaceable(&s.name, &format!("subnet {subnet} has no free address")),
                        ));
                    }
                },
                None => None,
            };
            new.push(TaskRec {
                id: random_hex(32),
                task_definition: td.arn.clone(),
                instance_id: i.id.clone(),
                status: TaskStatus::Pending,
                until_ms: clock.after(Op::TaskStart),
                ports,
                eni,
                cpu: td.reserved_cpu(),
                memory: td.reserved_memory(),
            });
        }
        Ok(new)
    }

    /// A free address in `subnet` for a task interface, counting the
    /// interfaces of `new` tasks not yet recorded.
    fn allocate_task_ip(&self, subnet: &str, new: &[TaskRec]) -> Option<Ipv4Addr> {
        let ip = self.allocate_private_ip_except(
            subnet,
            new.iter()
                .filter_map(|t| t.eni.as_ref())
                .map(|e| e.private_ip)
                .collect(),
        );
        ip.ok()
    }

    /// Whether task `t`'s images can be pulled: `Err` is ECS's stopped reason.
    fn pull_images(&self, t: &TaskRec, s: &ServiceRec, model: &Model) -> Result<(), String> {
        let td = self.revision(&t.task_definition);
        let td = td.ok_or_else(|| format!("task definition {} is gone", t.task_definition))?;
        let i = self
            .instances
            .find(&t.instance_id)
            .ok_or_else(|| format!("instance {} is gone", t.instance_id))?;
        let no_groups: Vec<String> = Vec::new();
        let (subnet, address, public_ip, groups) = match &t.eni {
            Some(e) => (
                e.subnet_id.as_str(),
                Ipv4Net::from(e.private_ip),
                false,
                s.network
                    .as_ref()
                    .map_or(&no_groups, |n| &n.security_group_ids),
            ),
            None => (
                i.subnet_id.as_str(),
                Ipv4Net::from(i.private_ip),
                i.public_ip.is_some(),
                &i.security_group_ids,
            ),
        };
        let label = format!("task {} on {}", t.id, i.id);
        let source = Source {
            label: &label,
            subnet,
            address,
            public_ip,
            security_groups: groups,
        };
        for c in &td.containers {
            if let Err(b) = image_pull(model, &source, &c.image) {
                return Err(format!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {}: {} ({})",
                    c.image, b.reason, b.code
                ));
            }
        }
        Ok(())
    }
}
