//! Auto Scaling groups. The group's tags propagate to its instances, and
//! where the template's and the group's both name a key (`keel:urn`) the
//! group's value wins, as in Auto Scaling.
//!
//! A group is created or updated, then polled until its desired capacity is
//! `InService` (bounded by [`Timeouts::capacity`](super::Timeouts), with an
//! error naming the group, the counts and the last failed scaling activity).
//! Deleting forces the instances to terminate and waits for the group to go,
//! also when it was already being deleted; a read or search counts a group
//! being deleted (Status `Delete in progress`) as gone, as the simulator
//! does. Reads observe the sizes, the launch template, the subnets, the
//! name (when the program gave one) and the tags. What instances do once
//! running (ECS registration) is not this module's.

use super::resource::{AwsResource, Cx, Query, Res, keep_order, observed_tags, send};
use super::retry::retry_on;
use super::util::{physical_name, tag_changes, vals, wait_for};
use crate::aws::autoscaling::{AutoScalingGroup, AutoScalingGroupOutputs};
use crate::provider::{ErrorKind, ProviderError};
use crate::resource::{
    Arn, AutoScalingGroupName, Input, LaunchTemplateId, SubnetId, Tags, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup as LiveGroup, Filter, LaunchTemplateSpecification, Tag as AsgTag,
};

/// A size for the Auto Scaling API (which takes `i32`).
fn size(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Auto Scaling tags for group `name`, propagated to its instances.
fn group_tags(name: &str, tags: &Tags) -> Vec<AsgTag> {
    let tag = |(k, v): (&String, &String)| {
        let t = AsgTag::builder()
            .resource_id(name)
            .resource_type("auto-scaling-group");
        t.key(k).value(v).propagate_at_launch(true).build()
    };
    tags.iter().map(tag).collect()
}

fn template_spec(g: &AutoScalingGroup) -> LaunchTemplateSpecification {
    let id = g.launch_template_id.value().map(|id| id.to_string());
    LaunchTemplateSpecification::builder()
        .set_launch_template_id(id)
        .version("$Latest")
        .build()
}

/// Auto Scaling answers `ValidationError` for a group that doesn't exist.
fn group_not_found(e: &ProviderError) -> bool {
    e.code() == "ValidationError" && e.message.contains("not found")
}

fn in_service(g: &LiveGroup) -> usize {
    let states = g.instances().iter().filter_map(|i| i.lifecycle_state());
    states.filter(|s| s.as_str() == "InService").count()
}

/// At least `desired` instances in service and none still terminating (a
/// group scaling in has reached its size only once they are gone).
fn settled(g: &LiveGroup, desired: u32) -> bool {
    let mut states = g.instances().iter().filter_map(|i| i.lifecycle_state());
    let terminating = states.any(|s| s.as_str().starts_with("Terminating"));
    in_service(g) >= desired as usize && !terminating
}

/// Group `name` as described, even while it is being deleted.
async fn describe_group(cx: &Cx<'_>, name: &str) -> Result<Option<LiveGroup>, ProviderError> {
    let call = cx.c.asg.describe_auto_scaling_groups();
    let call = call.auto_scaling_group_names(name);
    let out = send!(cx, "DescribeAutoScalingGroups", call)?;
    let found = out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(name));
    Ok(found.cloned())
}

/// The error for a group that didn't reach `desired` in time: the counts and
/// why the last launch failed, if one did.
async fn capacity_error(cx: &Cx<'_>, name: &str, desired: u32) -> ProviderError {
    let current = match describe_group(cx, name).await {
        Ok(Some(g)) => in_service(&g).to_string(),
        _ => "an unknown number".to_string(),
    };
    let call = cx.c.asg.describe_scaling_activities();
    let call = call.auto_scaling_group_name(name);
    let activities = call.max_records(10).send().await;
    let failure = activities.ok().and_then(|out| {
        let failed = |s: &str| matches!(s, "Failed" | "Cancelled");
        let a = out
            .activities()
            .iter()
            .find(|a| a.status_code().is_some_and(|s| failed(s.as_str())))?;
        Some(
            a.status_message()
                .or(a.description())
                .unwrap_or("no message")
                .to_string(),
        )
    });
    let why = failure.map_or(String::new(), |m| {
        format!("; last failed scaling activity: {m}")
    });
    ProviderError::timeout(format!(
        "{}: Auto Scaling group `{name}` has {current} of {desired} desired instances InService after {:.0?}{why}",
        cx.urn, cx.c.timeouts.capacity
    ))
}

/// Polls group `name` until `desired` instances are in service; its outputs.
async fn wait_for_capacity(
    cx: &Cx<'_>,
    name: &str,
    desired: u32,
) -> Result<AutoScalingGroupOutputs, ProviderError> {
    let t = cx.c.timeouts;
    let what = format!("Auto Scaling group `{name}` to have {desired} instances InService");
    let waited = wait_for(cx.urn, &what, t.capacity, t.poll, || async {
        let g = describe_group(cx, name).await?.ok_or_else(|| {
            let msg = format!("{}: Auto Scaling group `{name}` not found", cx.urn);
            ProviderError::new("ValidationError", msg)
        })?;
        Ok(settled(&g, desired).then_some(g))
    })
    .await;
    match waited {
        Ok(g) => AutoScalingGroup::outputs(cx, &g),
        Err(e) if e.kind == ErrorKind::Timeout => Err(capacity_error(cx, name, desired).await),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl AwsResource for AutoScalingGroup {
    type Live = LiveGroup;

    async fn create(cx: &Cx<'_>, g: &Self) -> Res<Self::Outputs> {
        let name = physical_name(cx.urn, &g.name);
        let call = cx.c.asg.create_auto_scaling_group();
        let call = call.auto_scaling_group_name(&name);
        let call = call.launch_template(template_spec(g));
        let call = call.vpc_zone_identifier(vals(&g.subnet_ids).join(","));
        let call = call.min_size(size(g.min_size)).max_size(size(g.max_size));
        let call = call.desired_capacity(size(g.capacity()));
        let call = call.set_tags(Some(group_tags(&name, &g.tags)));
        send!(cx, "CreateAutoScalingGroup", call)?;
        wait_for_capacity(cx, &name, g.capacity()).await
    }

    /// Groups by name (one call for any number), or by the `keel:urn` tag
    /// filter; groups being deleted are left out.
    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let call = cx.c.asg.describe_auto_scaling_groups();
        let call = match query {
            Query::Ids(ids) => call.set_auto_scaling_group_names(Some(ids.to_vec())),
            Query::Tagged => {
                let f = Filter::builder()
                    .name(format!("tag:{URN_TAG}"))
                    .values(cx.urn.to_string());
                call.filters(f.build())
            }
        };
        let out = send!(cx, "DescribeAutoScalingGroups", call)?;
        let deleting = |g: &&LiveGroup| g.status().is_some_and(|s| s.starts_with("Delete"));
        Ok(out
            .auto_scaling_groups()
            .iter()
            .filter(|g| !deleting(g))
            .cloned()
            .collect())
    }

    fn outputs(cx: &Cx<'_>, g: &Self::Live) -> Res<Self::Outputs> {
        let name = AutoScalingGroupName::new(g.auto_scaling_group_name().unwrap_or_default());
        let arn = g.auto_scaling_group_arn();
        Ok(AutoScalingGroupOutputs {
            id: name.clone(),
            name,
            arn: Arn::new(arn.ok_or_else(|| cx.missing("DescribeAutoScalingGroups", "ARN"))?),
            instance_count: in_service(g) as u64,
        })
    }

    fn observe(recorded: &Self, g: &Self::Live) -> Self {
        let r = recorded;
        let live_subnets: Vec<String> = g
            .vpc_zone_identifier()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let desired = u32::try_from(g.desired_capacity().unwrap_or(0)).ok();
        let template = g.launch_template().and_then(|t| t.launch_template_id());
        let tags = g.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)));
        AutoScalingGroup {
            name: r
                .name
                .as_ref()
                .map(|n| g.auto_scaling_group_name().unwrap_or(n).to_string()),
            launch_template_id: template.map_or(r.launch_template_id.clone(), |t| {
                Input::Value(LaunchTemplateId::new(t))
            }),
            subnet_ids: keep_order(&vals(&r.subnet_ids), &live_subnets)
                .iter()
                .map(|s| Input::Value(SubnetId::new(s)))
                .collect(),
            min_size: g
                .min_size()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(r.min_size),
            max_size: g
                .max_size()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(r.max_size),
            // Unset means the minimum: stays unset while that holds.
            desired_capacity: match (r.desired_capacity, desired) {
                (None, Some(d)) if d == r.min_size => None,
                (_, d) => d.or(r.desired_capacity),
            },
            tags: observed_tags(tags),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let name = id.as_str();
        let call = cx.c.asg.update_auto_scaling_group();
        let call = call.auto_scaling_group_name(name);
        let call = call.launch_template(template_spec(new));
        let call = call.vpc_zone_identifier(vals(&new.subnet_ids).join(","));
        let call = call
            .min_size(size(new.min_size))
            .max_size(size(new.max_size));
        let call = call.desired_capacity(size(new.capacity()));
        send!(cx, "UpdateAutoScalingGroup", call)?;
        let (removed, changed) = tag_changes(&old.tags, &new.tags);
        if !removed.is_empty() {
            let call = cx.c.asg.delete_tags();
            let call = call.set_tags(Some(group_tags(name, &removed)));
            send!(cx, "DeleteTags", call)?;
        }
        if !changed.is_empty() {
            let call = cx.c.asg.create_or_update_tags();
            let call = call.set_tags(Some(group_tags(name, &changed)));
            send!(cx, "CreateOrUpdateTags", call)?;
        }
        wait_for_capacity(cx, name, new.capacity()).await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let name = id.as_str();
        let t = cx.c.timeouts;
        // ForceDelete terminates the instances with the group; a scaling
        // activity still starting can refuse it for a moment.
        let what = "a running scaling activity to let the group be deleted";
        let busy = ["ScalingActivityInProgress", "ResourceContention"];
        let deleted = retry_on(cx.urn, what, &busy, t.capacity, t.poll, || async {
            let call = cx.c.asg.delete_auto_scaling_group();
            let call = call.auto_scaling_group_name(name);
            send!(cx, "DeleteAutoScalingGroup", call.force_delete(true))
        })
        .await;
        match deleted {
            // Not found, it may still be deleting (a delete cut short): the
            // wait below finds out.
            Err(e) if group_not_found(&e) => {}
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let what = format!("Auto Scaling group `{name}` to terminate its instances and go");
        wait_for(cx.urn, &what, t.capacity, t.poll, || async {
            Ok(describe_group(cx, name).await?.is_none().then_some(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::types::{Instance, LifecycleState};

    fn group(states: &[LifecycleState]) -> LiveGroup {
        let instances = states
            .iter()
            .map(|s| Instance::builder().lifecycle_state(s.clone()).build())
            .collect();
        LiveGroup::builder().set_instances(Some(instances)).build()
    }

    #[test]
    fn a_group_has_settled_once_enough_are_in_service_and_none_terminating() {
        use LifecycleState::{InService, Pending, Terminating};
        assert!(!settled(&group(&[InService, Pending]), 2));
        assert!(settled(&group(&[InService, InService]), 2));
        assert!(!settled(&group(&[InService, InService, Terminating]), 2));
        assert!(settled(&group(&[]), 0));
    }
}
