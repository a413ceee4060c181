//! ECS capacity providers. The name is the id. Creating one makes the
//! provider (its Auto Scaling group, managed scaling, managed termination
//! protection, tags), then adds it to its cluster's capacity providers with
//! `PutClusterCapacityProviders`. That call replaces the cluster's whole
//! list, so keel reads the list, adds the name and writes it back
//! (read-modify-write, keeping the default strategy): two writers of one
//! cluster's list at the same moment (two capacity providers of one
//! cluster created concurrently, another tool) can lose one another's
//! change. ECS refuses a concurrent update with `UpdateInProgressException`,
//! which is retried, but a write that lands between another's read and
//! write is not detected; keep one writer per cluster (keel's own plan
//! creates them in sequence only if they depend on one another). Deleting
//! removes it from every cluster listing it (the same read-modify-write),
//! then deletes it, retrying while ECS still counts it in use, and waits
//! until it is gone or `INACTIVE` (bounded by
//! [`Timeouts::capacity`](super::Timeouts)). Deleting a cluster
//! (`aws/ecs.rs`) empties its list first, so the two orders both work.
//! `UpdateCapacityProvider` changes managed scaling and termination
//! protection. Observed: both of those, the tags and the given name.
//!
//! A search by tag describes every capacity provider (no names). moto 5.2
//! fails that call (HTTP 500, which the SDK retries first: a few seconds);
//! then keel describes the providers the account's clusters list, which
//! misses one no cluster lists (a create cut short between its two calls)
//! on such an endpoint only.

use super::ecs::{ecs_tags, sync_ecs_tags};
use super::resource::{AwsResource, Cx, Query, Res, gone_is_fine, observed_tags, send};
use super::retry::retry_on;
use super::util::{physical_name, val, wait_for};
use crate::aws::ecs::{
    CapacityProvider, CapacityProviderName, CapacityProviderOutputs, ManagedScaling,
};
use crate::provider::ProviderError;
use crate::resource::{Arn, Input, Tags};
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider as LiveCp,
    CapacityProviderField, CapacityProviderStrategyItem, ManagedScaling as LiveScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};

/// ECS's codes for a cluster or provider another update is changing.
const BUSY: [&str; 3] = [
    "UpdateInProgressException",
    "ResourceInUseException",
    "ClusterContainsServicesException",
];

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn build_error(cx: &Cx<'_>, what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::bad_inputs(cx.urn, format!("{what}: {e}"))
}

fn scaling(m: &Option<ManagedScaling>) -> LiveScaling {
    match m {
        Some(m) => LiveScaling::builder()
            .status(ManagedScalingStatus::Enabled)
            .target_capacity(int(m.target_capacity))
            .minimum_scaling_step_size(int(m.minimum_scaling_step_size))
            .maximum_scaling_step_size(int(m.maximum_scaling_step_size))
            .build(),
        None => LiveScaling::builder()
            .status(ManagedScalingStatus::Disabled)
            .build(),
    }
}

fn protection(on: bool) -> ManagedTerminationProtection {
    if on {
        ManagedTerminationProtection::Enabled
    } else {
        ManagedTerminationProtection::Disabled
    }
}

/// A generated capacity provider name may not start with `aws`, `ecs` or
/// `fargate`.
fn provider_name(cx: &Cx<'_>, given: &Option<String>) -> String {
    let name = physical_name(cx.urn, given);
    let lower = name.to_ascii_lowercase();
    let reserved = ["aws", "ecs", "fargate"]
        .iter()
        .any(|p| lower.starts_with(p));
    if given.is_none() && reserved {
        format!("cp-{name}")
    } else {
        name
    }
}

/// The capacity providers and default strategy of `cluster`, as ECS has
/// them now; `None` if the cluster is gone.
async fn cluster_providers(
    cx: &Cx<'_>,
    cluster: &str,
) -> Res<Option<(Vec<String>, Vec<CapacityProviderStrategyItem>)>> {
    let call = cx.c.ecs.describe_clusters().clusters(cluster);
    let out = send!(cx, "DescribeClusters", call)?;
    let live = out
        .clusters()
        .iter()
        .find(|k| k.status() != Some("INACTIVE"));
    Ok(live.map(|k| {
        (
            k.capacity_providers().to_vec(),
            k.default_capacity_provider_strategy().to_vec(),
        )
    }))
}

/// Adds (`add`) or removes provider `name` to or from `cluster`'s list,
/// read-modify-write, retried while ECS reports another update running.
async fn edit_cluster_list(cx: &Cx<'_>, cluster: &str, name: &str, add: bool) -> Res<()> {
    let t = cx.c.timeouts;
    let what = format!("ECS cluster `{cluster}` to accept a change of its capacity providers");
    retry_on(cx.urn, &what, &BUSY, t.capacity, t.poll, || async {
        let Some((mut list, strategy)) = cluster_providers(cx, cluster).await? else {
            return if add {
                Err(ProviderError::not_found(format!(
                    "{}: ECS cluster `{cluster}` does not exist",
                    cx.urn
                )))
            } else {
                Ok(())
            };
        };
        let present = list.iter().any(|p| p == name);
        if present == add {
            return Ok(());
        }
        let strategy: Vec<_> = strategy
            .into_iter()
            .filter(|s| add || s.capacity_provider() != name)
            .collect();
        if add {
            list.push(name.to_string());
        } else {
            list.retain(|p| p != name);
        }
        let call = cx.c.ecs.put_cluster_capacity_providers().cluster(cluster);
        let call = call.set_capacity_providers(Some(list));
        let call = call.set_default_capacity_provider_strategy(Some(strategy));
        send!(cx, "PutClusterCapacityProviders", call).map(drop)
    })
    .await
}

/// Capacity providers by name (all of them when `names` is `None`), with
/// their tags, less INACTIVE ones.
async fn describe_providers(cx: &Cx<'_>, names: Option<&[String]>) -> Res<Vec<LiveCp>> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let call = cx.c.ecs.describe_capacity_providers();
        let call = call.set_capacity_providers(names.map(<[String]>::to_vec));
        let call = call.include(CapacityProviderField::Tags);
        let out = send!(cx, "DescribeCapacityProviders", call.set_next_token(token))?;
        found.extend(
            out.capacity_providers()
                .iter()
                .filter(|p| p.status().is_none_or(|s| s.as_str() != "INACTIVE"))
                .cloned(),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() || names.is_some() {
            return Ok(found);
        }
    }
}

fn cp_tags(p: &LiveCp) -> Tags {
    observed_tags(p.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

/// Every cluster's name, as listed.
pub(super) async fn all_clusters(cx: &Cx<'_>) -> Res<Vec<String>> {
    let pages = cx.c.ecs.list_clusters().into_paginator().send();
    let pages = pages.try_collect().await.map_err(cx.err("ListClusters"))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.cluster_arns().to_vec())
        .collect())
}

#[async_trait]
impl AwsResource for CapacityProvider {
    type Live = LiveCp;

    async fn create(cx: &Cx<'_>, p: &Self) -> Res<Self::Outputs> {
        let name = provider_name(cx, &p.name);
        let asg = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(val(&p.auto_scaling_group_arn))
            .managed_scaling(scaling(&p.managed_scaling))
            .managed_termination_protection(protection(p.managed_termination_protection))
            .build()
            .map_err(|e| build_error(cx, "auto_scaling_group_arn", e))?;
        let call = cx.c.ecs.create_capacity_provider().name(&name);
        let call = call.auto_scaling_group_provider(asg);
        let call = call.set_tags((!p.tags.is_empty()).then(|| ecs_tags(&p.tags)));
        let out = send!(cx, "CreateCapacityProvider", call)?;
        let made = out
            .capacity_provider()
            .ok_or_else(|| cx.missing("CreateCapacityProvider", "capacity provider"))?
            .clone();
        edit_cluster_list(cx, &val(&p.cluster), &name, true).await?;
        Self::outputs(cx, &made)
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        match query {
            Query::Ids(names) => describe_providers(cx, Some(names)).await,
            Query::Tagged => {
                let all = match describe_providers(cx, None).await {
                    Ok(all) => all,
                    // moto fails the call without names; ask for the
                    // providers the clusters list instead.
                    Err(e) if !e.is_not_found() => {
                        let mut names = Vec::new();
                        for cluster in all_clusters(cx).await? {
                            if let Some((list, _)) = cluster_providers(cx, &cluster).await? {
                                names.extend(list);
                            }
                        }
                        if names.is_empty() {
                            return Ok(Vec::new());
                        }
                        describe_providers(cx, Some(&names)).await?
                    }
                    Err(e) => return Err(e),
                };
                Ok(all.into_iter().filter(|p| cx.owns(&cp_tags(p))).collect())
            }
        }
    }

    fn outputs(cx: &Cx<'_>, p: &Self::Live) -> Res<Self::Outputs> {
        let name = p
            .name()
            .ok_or_else(|| cx.missing("DescribeCapacityProviders", "name"))?;
        Ok(CapacityProviderOutputs {
            id: CapacityProviderName::new(name),
            name: CapacityProviderName::new(name),
            arn: Arn::new(p.capacity_provider_arn().unwrap_or_default()),
            status: p.status().map_or("UNKNOWN", |s| s.as_str()).to_string(),
        })
    }

    fn observe(r: &Self, p: &Self::Live) -> Self {
        let asg = p.auto_scaling_group_provider();
        let managed = asg.and_then(|a| a.managed_scaling());
        let managed_scaling = match managed {
            Some(m) if m.status() == Some(&ManagedScalingStatus::Enabled) => {
                let was = r
                    .managed_scaling
                    .clone()
                    .unwrap_or(ManagedScaling::target(100));
                let n = |v: Option<i32>, d: u32| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(d);
                Some(ManagedScaling {
                    target_capacity: n(m.target_capacity(), was.target_capacity),
                    minimum_scaling_step_size: n(
                        m.minimum_scaling_step_size(),
                        was.minimum_scaling_step_size,
                    ),
                    maximum_scaling_step_size: n(
                        m.maximum_scaling_step_size(),
                        was.maximum_scaling_step_size,
                    ),
                })
            }
            Some(_) => None,
            None => r.managed_scaling.clone(),
        };
        let protected = asg.and_then(|a| a.managed_termination_protection());
        CapacityProvider {
            name: r.name.as_ref().map(|n| p.name().unwrap_or(n).to_string()),
            auto_scaling_group_arn: asg
                .map(|a| a.auto_scaling_group_arn())
                .map_or(r.auto_scaling_group_arn.clone(), |a| {
                    Input::Value(Arn::new(a))
                }),
            cluster: r.cluster.clone(),
            managed_scaling,
            managed_termination_protection: protected
                .map_or(r.managed_termination_protection, |m| {
                    *m == ManagedTerminationProtection::Enabled
                }),
            tags: cp_tags(p),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let name = id.as_str();
        if old.managed_scaling != new.managed_scaling
            || old.managed_termination_protection != new.managed_termination_protection
        {
            let asg = AutoScalingGroupProviderUpdate::builder()
                .managed_scaling(scaling(&new.managed_scaling))
                .managed_termination_protection(protection(new.managed_termination_protection))
                .build();
            let call = cx.c.ecs.update_capacity_provider().name(name);
            send!(
                cx,
                "UpdateCapacityProvider",
                call.auto_scaling_group_provider(asg)
            )?;
        }
        let live = super::resource::must_live::<Self>(cx, name, "during the update").await?;
        let arn = live.capacity_provider_arn().unwrap_or(name);
        sync_ecs_tags(cx, arn, &old.tags, &new.tags).await?;
        Self::outputs(cx, &live)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let name = id.as_str();
        if super::resource::live::<Self>(cx, name).await?.is_none() {
            return Ok(());
        }
        for cluster in all_clusters(cx).await? {
            let listed = cluster_providers(cx, &cluster).await?;
            if listed.is_some_and(|(list, _)| list.iter().any(|p| p == name)) {
                edit_cluster_list(cx, &cluster, name, false).await?;
            }
        }
        let t = cx.c.timeouts;
        let what = format!("capacity provider `{name}` to be released by its services");
        let deleted = retry_on(cx.urn, &what, &BUSY, t.capacity, t.poll, || async {
            let call = cx.c.ecs.delete_capacity_provider().capacity_provider(name);
            send!(cx, "DeleteCapacityProvider", call).map(drop)
        })
        .await;
        gone_is_fine(deleted)?;
        let what = format!("capacity provider `{name}` to finish deleting");
        wait_for(cx.urn, &what, t.capacity, t.poll, || async {
            let names = [name.to_string()];
            let left = describe_providers(cx, Some(&names)).await?;
            Ok(left.is_empty().then_some(()))
        })
        .await
    }
}
