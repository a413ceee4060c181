//! ECS services. The ARN is the id. `CreateService` gets the cluster, task
//! definition, desired count, the EC2 launch type or a one-provider
//! capacity provider strategy, the load balancers, the awsvpc network, the
//! deployment configuration, the grace period and the tags (propagated to
//! tasks from the service). After a create or an update keel waits,
//! bounded by [`Timeouts::service`](super::Timeouts), until the service is
//! `ACTIVE` with a `PRIMARY` deployment of the requested task definition —
//! not until its tasks run: steady state (`runningCount` reaching the
//! desired count) is what the program's probe of running tasks waits for,
//! since a service whose tasks can't be placed yet (hosts still booting)
//! is not a failed deployment of the service, and moto runs no tasks at
//! all. Deleting scales it to 0, deletes it and waits until it is
//! `INACTIVE` (bounded). Services are described ten a call with their tags;
//! their cluster comes from a long-format ARN (`service/cluster/name`) or,
//! for a short one (moto's default, old AWS accounts), from asking each
//! cluster. Observed: task definition, desired count, network, deployment
//! percentages, grace period, load balancers, tags, the given name. moto
//! 5.2 ignores `CreateService`'s capacity provider strategy, deployment
//! configuration and grace period and reports none of them; keel reads a
//! field that is not reported as unchanged.

use super::ecs::{ecs_tags, sync_ecs_tags};
use super::ecs_capacity::all_clusters;
use super::resource::{AwsResource, Cx, Query, Res, keep_order, observed_tags, send};
use super::util::{physical_name, val, vals, wait_for};
use crate::aws::ecs::{
    EcsService, EcsServiceOutputs, ServiceArn, ServiceLoadBalancer, TaskNetwork,
};
use crate::aws::ecs_task::TaskDefinitionArn;
use crate::aws::elb::TargetGroupArn;
use crate::provider::ProviderError;
use crate::resource::{Input, SecurityGroupId, SubnetId, Tags};
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentConfiguration, LaunchType,
    LoadBalancer as Binding, NetworkConfiguration, PropagateTags, Service, ServiceField,
};
use std::collections::BTreeMap;

/// The most services `DescribeServices` takes.
const BATCH: usize = 10;

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn count(n: i32) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn service_tags(s: &Service) -> Tags {
    observed_tags(s.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

fn network(cx: &Cx<'_>, n: &Option<TaskNetwork>) -> Res<Option<NetworkConfiguration>> {
    let Some(n) = n else { return Ok(None) };
    let groups = vals(&n.security_group_ids);
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(vals(&n.subnet_ids)))
        .set_security_groups((!groups.is_empty()).then_some(groups))
        .build()
        .map_err(|e| ProviderError::bad_inputs(cx.urn, format!("network: {e}")))?;
    Ok(Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build(),
    ))
}

fn deployment(s: &EcsService) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(int(s.deployment_minimum_healthy_percent))
        .maximum_percent(int(s.deployment_maximum_percent))
        .build()
}

fn binding(lb: &ServiceLoadBalancer) -> Binding {
    Binding::builder()
        .target_group_arn(val(&lb.target_group_arn))
        .container_name(&lb.container_name)
        .container_port(i32::from(lb.container_port))
        .build()
}

/// The cluster of a long-format service ARN (`…:service/cluster/name`).
fn cluster_in_arn(arn: &str) -> Option<&str> {
    let path = arn.split_once(":service/")?.1;
    let (cluster, name) = path.split_once('/')?;
    (!cluster.is_empty() && !name.is_empty()).then_some(cluster)
}

/// Services `arns` of `cluster` with their tags (ten a call), less INACTIVE
/// and missing ones.
async fn describe_in(cx: &Cx<'_>, cluster: &str, arns: &[String]) -> Res<Vec<Service>> {
    let mut found = Vec::new();
    for chunk in arns.chunks(BATCH) {
        let call = cx.c.ecs.describe_services().cluster(cluster);
        let call = call
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags);
        let out = match send!(cx, "DescribeServices", call) {
            Ok(out) => out,
            // The cluster went, and its services with it.
            Err(e) if e.is_not_found() => return Ok(found),
            Err(e) => return Err(e),
        };
        found.extend(
            out.services()
                .iter()
                .filter(|s| s.status() != Some("INACTIVE"))
                .cloned(),
        );
    }
    Ok(found)
}

/// The cluster of service `arn`: from a long-format ARN, else the cluster
/// that knows it (a short ARN names none); `None` if none does.
async fn service_cluster(cx: &Cx<'_>, arn: &str) -> Res<Option<String>> {
    if let Some(cluster) = cluster_in_arn(arn) {
        return Ok(Some(cluster.to_string()));
    }
    for cluster in all_clusters(cx).await? {
        let ids = [arn.to_string()];
        if !describe_in(cx, &cluster, &ids).await?.is_empty() {
            return Ok(Some(cluster));
        }
    }
    Ok(None)
}

/// Waits until service `arn` is ACTIVE with a PRIMARY deployment of
/// `task_definition`; the service.
async fn wait_deployed(
    cx: &Cx<'_>,
    cluster: &str,
    arn: &str,
    task_definition: &str,
) -> Res<Service> {
    let t = cx.c.timeouts;
    let what = format!("ECS service {arn} to start a deployment of {task_definition}");
    wait_for(cx.urn, &what, t.service, t.poll, || async {
        let ids = [arn.to_string()];
        let found = describe_in(cx, cluster, &ids).await?;
        let Some(s) = found.into_iter().next() else {
            return Err(ProviderError::not_found(format!(
                "{}: ECS service {arn} vanished while deploying",
                cx.urn
            )));
        };
        let primary = s
            .deployments()
            .iter()
            .any(|d| d.status() == Some("PRIMARY"));
        let ready =
            s.status() == Some("ACTIVE") && s.task_definition() == Some(task_definition) && primary;
        Ok(ready.then_some(s))
    })
    .await
}

#[async_trait]
impl AwsResource for EcsService {
    type Live = Service;

    async fn create(cx: &Cx<'_>, s: &Self) -> Res<Self::Outputs> {
        let name = physical_name(cx.urn, &s.name);
        let cluster = val(&s.cluster);
        let task = val(&s.task_definition);
        let call =
            cx.c.ecs
                .create_service()
                .cluster(&cluster)
                .service_name(&name);
        let call = call
            .task_definition(&task)
            .desired_count(int(s.desired_count));
        let call = match &s.capacity_provider {
            Some(cp) => {
                let item = CapacityProviderStrategyItem::builder()
                    .capacity_provider(val(cp))
                    .weight(1)
                    .build()
                    .map_err(|e| {
                        ProviderError::bad_inputs(cx.urn, format!("capacity_provider: {e}"))
                    })?;
                call.capacity_provider_strategy(item)
            }
            None => call.launch_type(LaunchType::Ec2),
        };
        let call = call.set_load_balancers(Some(s.load_balancers.iter().map(binding).collect()));
        let call = call.set_network_configuration(network(cx, &s.network)?);
        let call = call.deployment_configuration(deployment(s));
        let call = call
            .set_health_check_grace_period_seconds(s.health_check_grace_period_seconds.map(int));
        let call = call.set_tags((!s.tags.is_empty()).then(|| ecs_tags(&s.tags)));
        let call = call.propagate_tags(PropagateTags::Service);
        let out = send!(cx, "CreateService", call)?;
        let made = out.service().and_then(|s| s.service_arn());
        let arn = cx.new_id("CreateService", made)?;
        let live = wait_deployed(cx, &cluster, &arn, &task).await?;
        Self::outputs(cx, &live)
    }

    /// Ten a call per cluster with their tags; by tag, every cluster's
    /// services listed and the tagged ones kept.
    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let mut found = Vec::new();
        match query {
            Query::Ids(arns) => {
                let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for arn in arns {
                    if let Some(cluster) = service_cluster(cx, arn).await? {
                        by_cluster.entry(cluster).or_default().push(arn.clone());
                    }
                }
                for (cluster, arns) in by_cluster {
                    found.extend(describe_in(cx, &cluster, &arns).await?);
                }
            }
            Query::Tagged => {
                for cluster in all_clusters(cx).await? {
                    let call = cx.c.ecs.list_services().cluster(&cluster);
                    let pages = call.into_paginator().send().try_collect().await;
                    let arns: Vec<String> = match pages.map_err(cx.err("ListServices")) {
                        Ok(pages) => pages
                            .iter()
                            .flat_map(|p| p.service_arns().to_vec())
                            .collect(),
                        Err(e) if e.is_not_found() => continue,
                        Err(e) => return Err(e),
                    };
                    let services = describe_in(cx, &cluster, &arns).await?;
                    found.extend(services.into_iter().filter(|s| cx.owns(&service_tags(s))));
                }
            }
        }
        Ok(found)
    }

    fn outputs(cx: &Cx<'_>, s: &Self::Live) -> Res<Self::Outputs> {
        let arn = s
            .service_arn()
            .ok_or_else(|| cx.missing("DescribeServices", "service ARN"))?;
        // ECS lists events newest first.
        let last_event = s.events().first().and_then(|e| e.message());
        Ok(EcsServiceOutputs {
            id: ServiceArn::new(arn),
            arn: ServiceArn::new(arn),
            name: s.service_name().unwrap_or_default().to_string(),
            status: s.status().unwrap_or("UNKNOWN").to_string(),
            desired_count: count(s.desired_count()),
            running_count: count(s.running_count()),
            pending_count: count(s.pending_count()),
            last_event: last_event.unwrap_or_default().to_string(),
        })
    }

    fn observe(r: &Self, s: &Self::Live) -> Self {
        let vpc = s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration());
        let network = vpc.map(|v| {
            let was = r.network.clone().unwrap_or_default();
            TaskNetwork {
                subnet_ids: keep_order(&vals(&was.subnet_ids), v.subnets())
                    .iter()
                    .map(|s| Input::Value(SubnetId::new(s)))
                    .collect(),
                security_group_ids: keep_order(&vals(&was.security_group_ids), v.security_groups())
                    .iter()
                    .map(|g| Input::Value(SecurityGroupId::new(g)))
                    .collect(),
            }
        });
        let load_balancers = s
            .load_balancers()
            .iter()
            .filter_map(|b| {
                Some(ServiceLoadBalancer {
                    target_group_arn: Input::Value(TargetGroupArn::new(b.target_group_arn()?)),
                    container_name: b.container_name()?.to_string(),
                    container_port: u16::try_from(b.container_port()?).ok()?,
                })
            })
            .collect::<Vec<_>>();
        let same_lbs = load_balancers.len() == r.load_balancers.len()
            && load_balancers.iter().zip(&r.load_balancers).all(|(a, b)| {
                val(&a.target_group_arn) == val(&b.target_group_arn)
                    && a.container_name == b.container_name
                    && a.container_port == b.container_port
            });
        let deploy = s.deployment_configuration();
        let pct = |v: Option<i32>, d: u32| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(d);
        let task = s.task_definition();
        EcsService {
            name: r
                .name
                .as_ref()
                .map(|n| s.service_name().unwrap_or(n).to_string()),
            cluster: r.cluster.clone(),
            task_definition: match task {
                Some(t) if val(&r.task_definition) != t => Input::Value(TaskDefinitionArn::new(t)),
                _ => r.task_definition.clone(),
            },
            desired_count: u32::try_from(s.desired_count()).unwrap_or(r.desired_count),
            load_balancers: if same_lbs {
                r.load_balancers.clone()
            } else {
                load_balancers
            },
            network: if network.is_none() && r.network.is_some() {
                None
            } else {
                network.or_else(|| r.network.clone())
            },
            capacity_provider: r.capacity_provider.clone(),
            deployment_minimum_healthy_percent: pct(
                deploy.and_then(|d| d.minimum_healthy_percent()),
                r.deployment_minimum_healthy_percent,
            ),
            deployment_maximum_percent: pct(
                deploy.and_then(|d| d.maximum_percent()),
                r.deployment_maximum_percent,
            ),
            // AWS reports 0 for none; an endpoint that reports nothing
            // (moto) leaves the recorded value.
            health_check_grace_period_seconds: match s.health_check_grace_period_seconds() {
                None => r.health_check_grace_period_seconds,
                Some(0) if r.health_check_grace_period_seconds.is_none() => None,
                Some(g) => u32::try_from(g).ok(),
            },
            tags: service_tags(s),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let arn = id.as_str();
        let cluster = val(&new.cluster);
        let task = val(&new.task_definition);
        let call = cx.c.ecs.update_service().cluster(&cluster).service(arn);
        let call = call
            .desired_count(int(new.desired_count))
            .task_definition(&task);
        let call = call.set_network_configuration(network(cx, &new.network)?);
        let call = call.deployment_configuration(deployment(new));
        let call = call
            .set_health_check_grace_period_seconds(new.health_check_grace_period_seconds.map(int));
        send!(cx, "UpdateService", call)?;
        sync_ecs_tags(cx, arn, &old.tags, &new.tags).await?;
        let live = wait_deployed(cx, &cluster, arn, &task).await?;
        Self::outputs(cx, &live)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let arn = id.as_str();
        let Some(cluster) = service_cluster(cx, arn).await? else {
            return Ok(());
        };
        // A service already deleting (DRAINING) refuses both calls with
        // ServiceNotActiveException; the wait below still applies.
        let gone = |e: &ProviderError| e.is_not_found() || e.code() == "ServiceNotActiveException";
        let call = cx.c.ecs.update_service().cluster(&cluster).service(arn);
        match send!(cx, "UpdateService", call.desired_count(0)) {
            Err(e) if !gone(&e) => return Err(e),
            _ => {}
        }
        let call = cx.c.ecs.delete_service().cluster(&cluster).service(arn);
        match send!(cx, "DeleteService", call) {
            Err(e) if !gone(&e) => return Err(e),
            _ => {}
        }
        let t = cx.c.timeouts;
        let what = format!("ECS service {arn} to drain and become INACTIVE");
        wait_for(cx.urn, &what, t.service, t.poll, || async {
            let ids = [arn.to_string()];
            Ok(describe_in(cx, &cluster, &ids)
                .await?
                .is_empty()
                .then_some(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::cluster_in_arn;

    #[test]
    fn the_cluster_is_read_from_long_arns_only() {
        let long = "arn:aws:ecs:us-east-1:123456789012:service/app/web";
        assert_eq!(cluster_in_arn(long), Some("app"));
        let short = "arn:aws:ecs:us-east-1:123456789012:service/web";
        assert_eq!(cluster_in_arn(short), None);
    }
}
