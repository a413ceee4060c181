//! ECS task definitions. The ARN of the registered revision
//! (`…:task-definition/family:3`) is the id; every change but tags
//! registers a new revision (the declaration marks those fields
//! `replace`), so an update only retags.
//!
//! Registration sends the containers (image, CPU, memory and reservation,
//! essential, port mappings, environment, command, log configuration), the
//! network mode, the task and execution roles, task-level CPU and memory,
//! `requiresCompatibilities: EC2` and the tags. A port mapping without a
//! host port is sent with the container port as host port (keel's meaning
//! of `None`, and what awsvpc and host mode require); host port 0 asks for
//! a dynamic one in bridge mode.
//!
//! `DescribeTaskDefinition` takes one revision per call. A deregistered
//! revision stays describable as `INACTIVE`; keel reads it as gone, and ECS
//! answers `ClientException` ("Unable to describe task definition") for one
//! that was deleted, which is read as not found too. Deleting deregisters
//! the revision and then asks `DeleteTaskDefinitions` to remove it; a
//! partition or endpoint without that call (it is newer than the rest) is
//! tolerated, the revision staying `INACTIVE` as it did before the call
//! existed. A search by tag lists the account's ACTIVE revisions and
//! describes each (ECS has no tag filter).

use super::ecs::{ecs_tags, sync_ecs_tags};
use super::resource::{AwsResource, Cx, Query, Res, observed_tags, send};
use super::util::val;
use crate::aws::ecs_task::{
    Container, LogConfiguration, NetworkMode, PortMapping, TaskDefinition, TaskDefinitionArn,
    TaskDefinitionOutputs,
};
use crate::provider::ProviderError;
use crate::resource::{Arn, Input, Tags};
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration as LiveLog, LogDriver,
    NetworkMode as LiveMode, PortMapping as LivePort, TaskDefinition as LiveTask,
    TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};

/// A task definition revision as described, with its tags.
#[derive(Debug)]
pub(crate) struct LiveTaskDefinition {
    task: LiveTask,
    tags: Tags,
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn uint(n: i32) -> Option<u32> {
    u32::try_from(n).ok()
}

fn log_configuration(cx: &Cx<'_>, c: &Container) -> Res<Option<LiveLog>> {
    let Some(l) = &c.log_configuration else {
        return Ok(None);
    };
    let options = l.options.clone().into_iter().collect();
    LiveLog::builder()
        .log_driver(LogDriver::from(l.driver.as_str()))
        .set_options(Some(options))
        .build()
        .map(Some)
        .map_err(|e| {
            ProviderError::bad_inputs(
                cx.urn,
                format!("container `{}`: log_configuration: {e}", c.name),
            )
        })
}

fn container_definition(cx: &Cx<'_>, c: &Container) -> Res<ContainerDefinition> {
    let ports = c.port_mappings.iter().map(|p| {
        LivePort::builder()
            .container_port(i32::from(p.container_port))
            .host_port(i32::from(p.host_port.unwrap_or(p.container_port)))
            .protocol(TransportProtocol::Tcp)
            .build()
    });
    let env = c
        .environment
        .iter()
        .map(|(k, v)| KeyValuePair::builder().name(k).value(val(v)).build());
    Ok(ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .cpu(int(c.cpu))
        .set_memory(c.memory.map(int))
        .set_memory_reservation(c.memory_reservation.map(int))
        .essential(c.essential)
        .set_port_mappings(Some(ports.collect()))
        .set_environment(Some(env.collect()))
        .set_command((!c.command.is_empty()).then(|| c.command.clone()))
        .set_log_configuration(log_configuration(cx, c)?)
        .build())
}

/// Container `d` as keel declares it; `was` (the recorded container of that
/// name) keeps what ECS fills in on its own from reading as drift.
fn container_of(d: &ContainerDefinition, was: Option<&Container>) -> Container {
    let port_mappings = d
        .port_mappings()
        .iter()
        .filter_map(|p| {
            let container_port = u16::try_from(p.container_port()?).ok()?;
            let host = p.host_port().and_then(|h| u16::try_from(h).ok());
            let recorded = was.and_then(|w| {
                w.port_mappings
                    .iter()
                    .find(|m| m.container_port == container_port)
            });
            let host_port = match (host, recorded) {
                // Sent as the container port for `None`.
                (Some(h), Some(r)) if r.host_port.is_none() && h == container_port => None,
                (None, _) => None,
                (Some(h), _) => Some(h),
            };
            Some(PortMapping {
                container_port,
                host_port,
            })
        })
        .collect();
    let environment = d
        .environment()
        .iter()
        .filter_map(|kv| {
            Some((
                kv.name()?.to_string(),
                Input::Value(kv.value()?.to_string()),
            ))
        })
        .collect();
    let log_configuration = d.log_configuration().map(|l| LogConfiguration {
        driver: l.log_driver().as_str().to_string(),
        options: l
            .options()
            .map(|o| o.clone().into_iter().collect())
            .unwrap_or_default(),
    });
    Container {
        name: d.name().unwrap_or_default().to_string(),
        image: d.image().unwrap_or_default().to_string(),
        cpu: uint(d.cpu()).unwrap_or(0),
        memory: d.memory().and_then(uint),
        memory_reservation: d.memory_reservation().and_then(uint),
        essential: d.essential().unwrap_or(true),
        port_mappings,
        environment,
        command: d.command().to_vec(),
        log_configuration,
    }
}

fn network_mode(m: NetworkMode) -> LiveMode {
    LiveMode::from(m.as_str())
}

/// The not-found error for revision `arn`.
fn gone(cx: &Cx<'_>, arn: &str) -> ProviderError {
    ProviderError::not_found(format!("{}: task definition {arn} does not exist", cx.urn))
}

/// ECS answers `ClientException` for a revision it doesn't know.
fn unknown_revision(e: &ProviderError) -> bool {
    e.code() == "ClientException"
        && (e.message.contains("Unable to describe") || e.message.contains("does not exist"))
}

/// Revision `arn` with its tags; `None` if it is unknown or INACTIVE.
async fn describe_one(cx: &Cx<'_>, arn: &str) -> Res<Option<LiveTaskDefinition>> {
    let call = cx.c.ecs.describe_task_definition().task_definition(arn);
    let call = call.include(TaskDefinitionField::Tags);
    let out = match send!(cx, "DescribeTaskDefinition", call) {
        Ok(out) => out,
        Err(e) if unknown_revision(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(task) = out.task_definition() else {
        return Ok(None);
    };
    if task.status() == Some(&TaskDefinitionStatus::Inactive)
        || task.status() == Some(&TaskDefinitionStatus::DeleteInProgress)
    {
        return Ok(None);
    }
    let tags = observed_tags(
        out.tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?))),
    );
    Ok(Some(LiveTaskDefinition {
        task: task.clone(),
        tags,
    }))
}

#[async_trait]
impl AwsResource for TaskDefinition {
    type Live = LiveTaskDefinition;

    async fn create(cx: &Cx<'_>, t: &Self) -> Res<Self::Outputs> {
        let family = t.family_name(cx.urn.name());
        let containers = t
            .containers
            .iter()
            .map(|c| container_definition(cx, c))
            .collect::<Res<Vec<_>>>()?;
        let call = cx.c.ecs.register_task_definition().family(&family);
        let call = call.set_container_definitions(Some(containers));
        let call = call.network_mode(network_mode(t.network_mode));
        let call = call.set_task_role_arn(t.task_role_arn.as_ref().map(val));
        let call = call.set_execution_role_arn(t.execution_role_arn.as_ref().map(val));
        let call = call.set_cpu(t.cpu.map(|c| c.to_string()));
        let call = call.set_memory(t.memory.map(|m| m.to_string()));
        let call = call.requires_compatibilities(Compatibility::Ec2);
        let call = call.set_tags((!t.tags.is_empty()).then(|| ecs_tags(&t.tags)));
        let out = send!(cx, "RegisterTaskDefinition", call)?;
        let task = out
            .task_definition()
            .ok_or_else(|| cx.missing("RegisterTaskDefinition", "task definition"))?;
        Self::outputs(
            cx,
            &LiveTaskDefinition {
                task: task.clone(),
                tags: t.tags.clone(),
            },
        )
    }

    /// One `DescribeTaskDefinition` per revision (the API takes one); by
    /// tag, every ACTIVE revision listed and described.
    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let arns: Vec<String> = match query {
            Query::Ids(arns) => {
                if let [one] = arns {
                    // A single read: a missing revision is not-found.
                    return match describe_one(cx, one).await? {
                        Some(l) => Ok(vec![l]),
                        None => Err(gone(cx, one)),
                    };
                }
                arns.to_vec()
            }
            Query::Tagged => {
                let pages = cx.c.ecs.list_task_definitions().into_paginator().send();
                let pages = pages
                    .try_collect()
                    .await
                    .map_err(cx.err("ListTaskDefinitions"))?;
                pages
                    .iter()
                    .flat_map(|p| p.task_definition_arns().to_vec())
                    .collect()
            }
        };
        let mut out = Vec::new();
        for arn in &arns {
            if let Some(l) = describe_one(cx, arn).await?
                && (matches!(query, Query::Ids(_)) || cx.owns(&l.tags))
            {
                out.push(l);
            }
        }
        Ok(out)
    }

    fn outputs(cx: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let arn = l
            .task
            .task_definition_arn()
            .ok_or_else(|| cx.missing("DescribeTaskDefinition", "task definition ARN"))?;
        Ok(TaskDefinitionOutputs {
            id: TaskDefinitionArn::new(arn),
            arn: TaskDefinitionArn::new(arn),
            family: l.task.family().unwrap_or_default().to_string(),
            revision: u64::try_from(l.task.revision()).unwrap_or_default(),
        })
    }

    fn observe(r: &Self, l: &Self::Live) -> Self {
        let t = &l.task;
        let mode = match t.network_mode() {
            Some(LiveMode::Awsvpc) => NetworkMode::Awsvpc,
            Some(LiveMode::Host) => NetworkMode::Host,
            Some(LiveMode::Bridge) => NetworkMode::Bridge,
            _ => r.network_mode,
        };
        let containers = t
            .container_definitions()
            .iter()
            .map(|d| {
                let was = r.find_container(d.name().unwrap_or_default());
                container_of(d, was)
            })
            .collect();
        let role = |live: Option<&str>, was: &Option<Input<Arn>>| match live {
            Some(a) if was.as_ref().map(val).as_deref() != Some(a) => {
                Some(Input::Value(Arn::new(a)))
            }
            Some(_) => was.clone(),
            None => None,
        };
        TaskDefinition {
            family: r
                .family
                .as_ref()
                .map(|f| t.family().unwrap_or(f).to_string()),
            containers,
            network_mode: mode,
            task_role_arn: role(t.task_role_arn(), &r.task_role_arn),
            execution_role_arn: role(t.execution_role_arn(), &r.execution_role_arn),
            cpu: t
                .cpu()
                .and_then(|c| c.parse().ok())
                .or(r.cpu.filter(|_| t.cpu().is_some())),
            memory: t
                .memory()
                .and_then(|m| m.parse().ok())
                .or(r.memory.filter(|_| t.memory().is_some())),
            tags: l.tags.clone(),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let arn = id.as_str();
        sync_ecs_tags(cx, arn, &old.tags, &new.tags).await?;
        let live = describe_one(cx, arn).await?.ok_or_else(|| gone(cx, arn))?;
        Self::outputs(cx, &live)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let arn = id.as_str();
        let call = cx.c.ecs.deregister_task_definition().task_definition(arn);
        match send!(cx, "DeregisterTaskDefinition", call) {
            Err(e) if unknown_revision(&e) || e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let call = cx.c.ecs.delete_task_definitions().task_definitions(arn);
        match send!(cx, "DeleteTaskDefinitions", call) {
            Ok(_) => Ok(()),
            // An endpoint without the call: the revision stays INACTIVE.
            Err(e)
                if matches!(
                    e.code(),
                    "UnknownOperationException" | "InvalidAction" | "NotImplemented"
                ) || unknown_revision(&e) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(container_port: i32, host_port: i32) -> ContainerDefinition {
        let port = LivePort::builder()
            .container_port(container_port)
            .host_port(host_port)
            .build();
        ContainerDefinition::builder()
            .name("web")
            .image("nginx")
            .memory(128)
            .port_mappings(port)
            .build()
    }

    #[test]
    fn a_host_port_ecs_filled_in_is_not_drift() {
        let same = Container::new("web", "nginx")
            .memory(128)
            .port(PortMapping::same(80));
        let read = container_of(&live(80, 80), Some(&same));
        assert_eq!(read.port_mappings, same.port_mappings);
        let dynamic = Container::new("web", "nginx")
            .memory(128)
            .port(PortMapping::dynamic(80));
        let read = container_of(&live(80, 0), Some(&dynamic));
        assert_eq!(read.port_mappings, dynamic.port_mappings);
        // Changed behind keel's back: reported as it is.
        let read = container_of(&live(80, 8080), Some(&same));
        assert_eq!(read.port_mappings, vec![PortMapping::host(80, 8080)]);
    }
}
