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
//! Which instances register is up to their agents, not this module; it
//! reports `registeredContainerInstancesCount` as ECS does.

use super::Clients;
use super::retry::retry_on;
use super::util::{aws_error, is_not_found, outputs, parse, physical_name, wait_for};
use crate::aws::ecs::{EcsCluster, EcsClusterOutputs};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{Arn, ClusterName, Tags, URN_TAG, Urn};
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName, Tag};
use std::time::Duration;

fn ecs_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn insights(on: bool) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if on { "enabled" } else { "disabled" })
        .build()
}

/// Whether Container Insights is on (`enabled` or `enhanced`).
fn insights_on(k: &Cluster) -> bool {
    k.settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value())
        .is_some_and(|v| v != "disabled")
}

/// Cluster `name` with its tags and settings, unless missing or INACTIVE.
async fn describe(c: &Clients, urn: &Urn, name: &str) -> Result<Option<Cluster>, ProviderError> {
    let out = c
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .map_err(aws_error(urn, "DescribeClusters"))?;
    let live = out
        .clusters()
        .iter()
        .find(|k| k.cluster_name() == Some(name) && k.status() != Some("INACTIVE"));
    Ok(live.cloned())
}

fn cluster_outputs(urn: &Urn, name: &str, k: &Cluster) -> Result<Outputs, ProviderError> {
    let arn = k.cluster_arn().ok_or_else(|| {
        ProviderError::internal(format!(
            "{urn}: ECS returned cluster `{name}` without an ARN"
        ))
    })?;
    outputs(&EcsClusterOutputs {
        id: ClusterName::new(name),
        name: ClusterName::new(name),
        arn: Arn::new(arn),
        status: k.status().unwrap_or("UNKNOWN").to_string(),
        registered_container_instances_count: u64::try_from(
            k.registered_container_instances_count(),
        )
        .unwrap_or_default(),
    })
}

pub(crate) async fn create_cluster(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let k: EcsCluster = parse(urn, &req.inputs)?;
    let name = physical_name(urn, &k.name);
    // CreateCluster would hand back an existing ACTIVE cluster; refuse to
    // adopt one this resource didn't create.
    if let Some(existing) = describe(c, urn, &name).await? {
        let owner = existing
            .tags()
            .iter()
            .find(|t| t.key() == Some(URN_TAG))
            .and_then(|t| t.value());
        if owner.is_none() || owner != k.tags.get(URN_TAG).map(String::as_str) {
            let by = owner.map_or("outside keel".to_string(), |u| format!("by {u}"));
            let status = existing.status().unwrap_or("ACTIVE");
            return Err(ProviderError::new(
                "ResourceInUseException",
                format!(
                    "{urn}: ECS cluster `{name}` already exists ({status}, created {by}); ECS would return it instead of creating a new one. Choose another name or delete that cluster."
                ),
            ));
        }
    }
    let out = c
        .ecs
        .create_cluster()
        .cluster_name(&name)
        .set_tags((!k.tags.is_empty()).then(|| ecs_tags(&k.tags)))
        .settings(insights(k.container_insights))
        .send()
        .await
        .map_err(aws_error(urn, "CreateCluster"))?;
    let created = out.cluster().ok_or_else(|| {
        ProviderError::internal(format!("{urn}: CreateCluster returned no cluster"))
    })?;
    if created.status() == Some("ACTIVE") {
        let outputs = cluster_outputs(urn, &name, created)?;
        return Ok(CreateResponse { id: name, outputs });
    }
    // PROVISIONING (when capacity providers set up resources): wait.
    let t = c.timeouts;
    let what = format!("ECS cluster `{name}` to become ACTIVE");
    let live = wait_for(
        urn,
        &what,
        t.capacity,
        t.poll.min(Duration::from_secs(2)),
        || async {
            match describe(c, urn, &name).await? {
                Some(k) if k.status() == Some("ACTIVE") => Ok(Some(k)),
                Some(k) if k.status() == Some("FAILED") => Err(ProviderError::new(
                    "ClusterFailed",
                    format!("{urn}: ECS cluster `{name}` became FAILED while being created"),
                )),
                _ => Ok(None),
            }
        },
    )
    .await?;
    let outputs = cluster_outputs(urn, &name, &live)?;
    Ok(CreateResponse { id: name, outputs })
}

pub(crate) async fn read_cluster(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    match describe(c, &req.urn, &req.id).await? {
        Some(k) => cluster_outputs(&req.urn, &req.id, &k).map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn update_cluster(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let name = req.id.as_str();
    let old: EcsCluster = parse(urn, &req.old_inputs)?;
    let new: EcsCluster = parse(urn, &req.new_inputs)?;
    let gone = || {
        ProviderError::new(
            "ClusterNotFoundException",
            format!("{urn}: ECS cluster `{name}` no longer exists"),
        )
    };
    let live = describe(c, urn, name).await?.ok_or_else(gone)?;
    if insights_on(&live) != new.container_insights {
        c.ecs
            .update_cluster()
            .cluster(name)
            .settings(insights(new.container_insights))
            .send()
            .await
            .map_err(aws_error(urn, "UpdateCluster"))?;
    }
    let arn = live.cluster_arn().ok_or_else(|| {
        ProviderError::internal(format!(
            "{urn}: ECS returned cluster `{name}` without an ARN"
        ))
    })?;
    let removed: Vec<String> = old
        .tags
        .keys()
        .filter(|k| !new.tags.contains_key(*k))
        .cloned()
        .collect();
    if !removed.is_empty() {
        c.ecs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(aws_error(urn, "UntagResource"))?;
    }
    let changed: Tags = new
        .tags
        .iter()
        .filter(|(k, v)| old.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        c.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(&changed)))
            .send()
            .await
            .map_err(aws_error(urn, "TagResource"))?;
    }
    let live = describe(c, urn, name).await?.ok_or_else(gone)?;
    cluster_outputs(urn, name, &live)
}

pub(crate) async fn delete_cluster(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    let urn = &req.urn;
    let name = req.id.as_str();
    let Some(live) = describe(c, urn, name).await? else {
        return Ok(());
    };
    if !live.capacity_providers().is_empty()
        || !live.default_capacity_provider_strategy().is_empty()
    {
        c.ecs
            .put_cluster_capacity_providers()
            .cluster(name)
            .set_capacity_providers(Some(Vec::new()))
            .set_default_capacity_provider_strategy(Some(Vec::new()))
            .send()
            .await
            .map_err(aws_error(urn, "PutClusterCapacityProviders"))?;
    }
    // Hosts terminated a moment ago (their group deleted first) take a while
    // to deregister, and their tasks to stop.
    let busy = [
        "ClusterContainsContainerInstancesException",
        "ClusterContainsTasksException",
        "UpdateInProgressException",
    ];
    let t = c.timeouts;
    let deleted = retry_on(
        urn,
        "container instances to deregister from the cluster",
        &busy,
        t.capacity,
        t.poll,
        || async {
            c.ecs
                .delete_cluster()
                .cluster(name)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(urn, "DeleteCluster"))
        },
    )
    .await;
    match deleted {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}
