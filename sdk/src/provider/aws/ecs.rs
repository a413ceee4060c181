//! ECS clusters. The cluster name is the id.
//!
//! ECS's `CreateCluster` is idempotent: for an ACTIVE cluster of that name it
//! returns the existing one. Keel refuses to adopt a cluster this resource
//! didn't create (its `keel:urn` tag differs): creating fails with
//! `ResourceInUseException` instead. A deleted cluster stays visible as
//! `INACTIVE` for a while; keel treats it as gone. Container Insights is
//! changed with `UpdateCluster` (the same settings `UpdateClusterSettings`
//! takes; moto implements only the former). Deleting deregisters the
//! cluster's capacity providers first, and waits (bounded) while container
//! instances of just-terminated hosts are still deregistering, which ECS
//! reports as `ClusterContainsContainerInstancesException`.
//!
//! Clusters are described many at a time with their tags and settings; a
//! search by tag lists the clusters and describes them (ECS has no tag
//! filter). Observed: Container Insights, tags and the given name. Which
//! instances register is up to their agents, not this module; it reports
//! `registeredContainerInstancesCount` as ECS does, and how many of those
//! have a connected agent (`ListContainerInstances` with the filter
//! `agentConnected==true`, asked only when some are registered).

use super::resource::{AwsResource, Cx, Query, Res, gone_is_fine, must_live, observed_tags, send};
use super::retry::retry_on;
use super::util::{physical_name, tag_changes, wait_for};
use crate::aws::ecs::{EcsCluster, EcsClusterOutputs};
use crate::provider::ProviderError;
use crate::resource::{Arn, ClusterName, Tags, URN_TAG};
use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName, Tag};
use std::time::Duration;

pub(super) fn ecs_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Adds, changes and removes ECS tags so `arn` carries `new`.
pub(super) async fn sync_ecs_tags(cx: &Cx<'_>, arn: &str, old: &Tags, new: &Tags) -> Res<()> {
    let (removed, changed) = tag_changes(old, new);
    if !removed.is_empty() {
        let call = cx.c.ecs.untag_resource().resource_arn(arn);
        let call = call.set_tag_keys(Some(removed.into_keys().collect()));
        send!(cx, "UntagResource", call)?;
    }
    if !changed.is_empty() {
        let call = cx.c.ecs.tag_resource().resource_arn(arn);
        send!(cx, "TagResource", call.set_tags(Some(ecs_tags(&changed))))?;
    }
    Ok(())
}

fn tags_of(k: &Cluster) -> Tags {
    observed_tags(k.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

fn insights(on: bool) -> ClusterSetting {
    let value = if on { "enabled" } else { "disabled" };
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(value)
        .build()
}

/// Whether Container Insights is on (`enabled` or `enhanced`).
fn insights_on(k: &Cluster) -> bool {
    let setting = k
        .settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights));
    setting
        .and_then(|s| s.value())
        .is_some_and(|v| v != "disabled")
}

/// A described cluster and how many of its container instances have a
/// connected agent.
pub(crate) struct LiveCluster {
    cluster: Cluster,
    connected: u64,
}

impl std::ops::Deref for LiveCluster {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

/// How many container instances of cluster `arn` have a connected agent.
async fn connected_count(cx: &Cx<'_>, arn: &str) -> Result<u64, ProviderError> {
    let pages =
        cx.c.ecs
            .list_container_instances()
            .cluster(arn)
            .filter("agentConnected==true")
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(cx.err("ListContainerInstances"))?;
    let count: usize = pages
        .iter()
        .map(|p| p.container_instance_arns().len())
        .sum();
    Ok(count as u64)
}

/// Clusters (names or ARNs) with their tags and settings, less INACTIVE
/// ones, and their connected container instances.
async fn describe_clusters(
    cx: &Cx<'_>,
    names: Vec<String>,
) -> Result<Vec<LiveCluster>, ProviderError> {
    let mut live = Vec::new();
    for cluster in describe_cluster_records(cx, names).await? {
        let connected = match cluster.cluster_arn() {
            Some(arn) if cluster.registered_container_instances_count() > 0 => {
                connected_count(cx, arn).await?
            }
            _ => 0,
        };
        live.push(LiveCluster { cluster, connected });
    }
    Ok(live)
}

/// Clusters (names or ARNs) with their tags and settings, less INACTIVE ones.
async fn describe_cluster_records(
    cx: &Cx<'_>,
    names: Vec<String>,
) -> Result<Vec<Cluster>, ProviderError> {
    let mut found = Vec::new();
    // DescribeClusters takes at most 100 clusters.
    for chunk in names.chunks(100) {
        let call = cx.c.ecs.describe_clusters();
        let call = call.set_clusters(Some(chunk.to_vec()));
        let call = call
            .include(ClusterField::Tags)
            .include(ClusterField::Settings);
        let out = send!(cx, "DescribeClusters", call)?;
        found.extend(
            out.clusters()
                .iter()
                .filter(|k| k.status() != Some("INACTIVE"))
                .cloned(),
        );
    }
    Ok(found)
}

#[async_trait]
impl AwsResource for EcsCluster {
    type Live = LiveCluster;

    async fn create(cx: &Cx<'_>, k: &Self) -> Res<Self::Outputs> {
        let name = physical_name(cx.urn, &k.name);
        // CreateCluster would hand back an existing ACTIVE cluster; refuse to
        // adopt one this resource didn't create.
        if let Some(existing) = super::resource::live::<Self>(cx, &name).await? {
            let tags = tags_of(&existing);
            let owner = tags.get(URN_TAG);
            if owner.is_none() || owner != k.tags.get(URN_TAG) {
                let by = owner.map_or("outside keel".to_string(), |u| format!("by {u}"));
                let status = existing.status().unwrap_or("ACTIVE");
                return Err(ProviderError::new(
                    "ResourceInUseException",
                    format!(
                        "{}: ECS cluster `{name}` already exists ({status}, created {by}); ECS would return it instead of creating a new one. Choose another name or delete that cluster.",
                        cx.urn
                    ),
                ));
            }
        }
        let call = cx.c.ecs.create_cluster().cluster_name(&name);
        let call = call.set_tags((!k.tags.is_empty()).then(|| ecs_tags(&k.tags)));
        let call = call.settings(insights(k.container_insights));
        let out = send!(cx, "CreateCluster", call)?;
        let created = out
            .cluster()
            .ok_or_else(|| cx.missing("CreateCluster", "cluster"))?;
        if created.status() == Some("ACTIVE") {
            let live = LiveCluster {
                cluster: created.clone(),
                connected: 0,
            };
            return Self::outputs(cx, &live);
        }
        // PROVISIONING (when capacity providers set up resources): wait.
        let t = cx.c.timeouts;
        let what = format!("ECS cluster `{name}` to become ACTIVE");
        let live = wait_for(
            cx.urn,
            &what,
            t.capacity,
            t.poll.min(Duration::from_secs(2)),
            || async {
                let k = must_live::<Self>(cx, &name, "while being created").await?;
                match k.status() {
                    Some("ACTIVE") => Ok(Some(k)),
                    Some("FAILED") => Err(ProviderError::new(
                        "ClusterFailed",
                        format!(
                            "{}: ECS cluster `{name}` became FAILED while being created",
                            cx.urn
                        ),
                    )),
                    _ => Ok(None),
                }
            },
        )
        .await?;
        Self::outputs(cx, &live)
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        match query {
            Query::Ids(names) => describe_clusters(cx, names.to_vec()).await,
            Query::Tagged => {
                let listed =
                    cx.c.ecs
                        .list_clusters()
                        .into_paginator()
                        .send()
                        .try_collect()
                        .await;
                let listed = listed.map_err(cx.err("ListClusters"))?;
                let arns = listed
                    .iter()
                    .flat_map(|page| page.cluster_arns().to_vec())
                    .collect();
                let found = describe_clusters(cx, arns).await?;
                Ok(found.into_iter().filter(|k| cx.owns(&tags_of(k))).collect())
            }
        }
    }

    fn outputs(cx: &Cx<'_>, k: &Self::Live) -> Res<Self::Outputs> {
        let name = ClusterName::new(k.cluster_name().unwrap_or_default());
        let arn = k
            .cluster_arn()
            .ok_or_else(|| cx.missing("DescribeClusters", "cluster ARN"))?;
        let count = u64::try_from(k.registered_container_instances_count()).unwrap_or_default();
        Ok(EcsClusterOutputs {
            id: name.clone(),
            name,
            arn: Arn::new(arn),
            status: k.status().unwrap_or("UNKNOWN").to_string(),
            registered_container_instances_count: count,
            connected_container_instances_count: k.connected,
        })
    }

    fn observe(recorded: &Self, k: &Self::Live) -> Self {
        EcsCluster {
            name: recorded
                .name
                .as_ref()
                .map(|n| k.cluster_name().unwrap_or(n).to_string()),
            container_insights: insights_on(k),
            tags: tags_of(k),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let name = id.as_str();
        let live = must_live::<Self>(cx, name, "before the update").await?;
        if insights_on(&live) != new.container_insights {
            let call = cx.c.ecs.update_cluster().cluster(name);
            let call = call.settings(insights(new.container_insights));
            send!(cx, "UpdateCluster", call)?;
        }
        let arn = live
            .cluster_arn()
            .ok_or_else(|| cx.missing("DescribeClusters", "cluster ARN"))?;
        let (removed, changed) = tag_changes(&old.tags, &new.tags);
        if !removed.is_empty() {
            let call = cx.c.ecs.untag_resource().resource_arn(arn);
            let call = call.set_tag_keys(Some(removed.into_keys().collect()));
            send!(cx, "UntagResource", call)?;
        }
        if !changed.is_empty() {
            let call = cx.c.ecs.tag_resource();
            let call = call.resource_arn(arn).set_tags(Some(ecs_tags(&changed)));
            send!(cx, "TagResource", call)?;
        }
        Self::outputs(cx, &must_live::<Self>(cx, name, "during the update").await?)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let name = id.as_str();
        let Some(live) = super::resource::live::<Self>(cx, name).await? else {
            return Ok(());
        };
        if !live.capacity_providers().is_empty()
            || !live.default_capacity_provider_strategy().is_empty()
        {
            let call = cx.c.ecs.put_cluster_capacity_providers().cluster(name);
            let call = call.set_capacity_providers(Some(Vec::new()));
            let call = call.set_default_capacity_provider_strategy(Some(Vec::new()));
            send!(cx, "PutClusterCapacityProviders", call)?;
        }
        // Hosts terminated a moment ago (their group deleted first) take a
        // while to deregister, and their tasks to stop.
        let busy = [
            "ClusterContainsContainerInstancesException",
            "ClusterContainsTasksException",
            "UpdateInProgressException",
        ];
        let t = cx.c.timeouts;
        let what = "container instances to deregister from the cluster";
        let deleted = retry_on(cx.urn, what, &busy, t.capacity, t.poll, || async {
            let call = cx.c.ecs.delete_cluster().cluster(name);
            send!(cx, "DeleteCluster", call).map(drop)
        })
        .await;
        gone_is_fine(deleted)
    }
}
