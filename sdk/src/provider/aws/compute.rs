//! Launch templates (EC2) and Auto Scaling groups.
//!
//! A launch template's settings live in versions: every update that changes
//! them creates a version and makes it the default; groups launch from
//! `$Latest`. User data is given as plain text and sent base64-encoded.
//! When the program sets `associate_public_ip_address`, the security groups
//! go into a network interface (device 0) with the flag, as AWS requires
//! when a template specifies the interface. Instances launched from the
//! template carry the template's tags (a tag specification in the data);
//! the group's tags propagate to instances too, and where both name a key
//! (`keel:urn`) the group's value wins, as in Auto Scaling.
//!
//! A group is created or updated, then polled until its desired capacity is
//! `InService` (bounded by [`Timeouts::capacity`](super::Timeouts), with an
//! error naming the group, the counts and the last failed scaling activity).
//! Deleting forces the instances to terminate and waits for the group to go.
//! What instances do once running (ECS registration) is not this module's.

use super::Clients;
use super::ec2_network::sync_tags;
use super::retry::retry_on;
use super::util::{
    aws_error, ec2_tags, is_not_found, outputs, parse, physical_name, tag_specs, wait_for,
};
use crate::aws::autoscaling::{AutoScalingGroup, AutoScalingGroupOutputs};
use crate::aws::ec2::{LaunchTemplate, LaunchTemplateOutputs};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, ErrorKind, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{Arn, AutoScalingGroupName, LaunchTemplateId, Tags, Urn};
use aws_sdk_autoscaling::types::{
    AutoScalingGroup as LiveGroup, LaunchTemplateSpecification, Tag as AsgTag,
};
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
};
use base64::Engine;

fn missing(urn: &Urn, what: &str) -> ProviderError {
    ProviderError::internal(format!("{urn}: the response has no {what}"))
}

/// A size for the Auto Scaling API (which takes `i32`).
fn size(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------- templates

/// The launch settings `lt` declares, as one template version's data.
fn template_data(lt: &LaunchTemplate) -> RequestLaunchTemplateData {
    let groups: Vec<String> = lt
        .security_group_ids
        .iter()
        .filter_map(|g| g.value())
        .map(|g| g.to_string())
        .collect();
    let mut data = RequestLaunchTemplateData::builder()
        .image_id(&lt.image_id)
        .instance_type(InstanceType::from(lt.instance_type.as_str()));
    if !lt.tags.is_empty() {
        data = data.tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(ec2_tags(&lt.tags)))
                .build(),
        );
    }
    if let Some(text) = lt.user_data.as_ref().and_then(|u| u.value()) {
        data = data.user_data(base64::engine::general_purpose::STANDARD.encode(text));
    }
    if let Some(profile) = lt.iam_instance_profile.as_ref().and_then(|p| p.value()) {
        data = data.iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .name(profile.as_str())
                .build(),
        );
    }
    match lt.associate_public_ip_address {
        // AWS refuses SecurityGroupIds beside a network interface: the groups
        // belong to the interface then.
        Some(public) => {
            data = data.network_interfaces(
                LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                    .device_index(0)
                    .associate_public_ip_address(public)
                    .set_groups((!groups.is_empty()).then_some(groups))
                    .build(),
            )
        }
        None if !groups.is_empty() => data = data.set_security_group_ids(Some(groups)),
        None => {}
    }
    data.build()
}

/// Whether two template inputs launch differently (anything but the name,
/// which replaces the template; tags count, as instances carry them).
fn data_changed(old: &serde_json::Value, new: &serde_json::Value) -> bool {
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("name");
        }
        v
    };
    strip(old) != strip(new)
}

async fn template_outputs(
    c: &Clients,
    urn: &Urn,
    id: &str,
) -> Result<Option<Outputs>, ProviderError> {
    let described = c
        .ec2
        .describe_launch_templates()
        .launch_template_ids(id)
        .send()
        .await
        .map_err(aws_error(urn, "DescribeLaunchTemplates"));
    let out = match described {
        Ok(out) => out,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(t) = out
        .launch_templates()
        .iter()
        .find(|t| t.launch_template_id() == Some(id))
    else {
        return Ok(None);
    };
    let latest = t
        .latest_version_number()
        .ok_or_else(|| missing(urn, "LatestVersionNumber"))?;
    outputs(&LaunchTemplateOutputs {
        id: LaunchTemplateId::new(id),
        name: t
            .launch_template_name()
            .ok_or_else(|| missing(urn, "LaunchTemplateName"))?
            .to_string(),
        latest_version: u64::try_from(latest).unwrap_or_default(),
    })
    .map(Some)
}

pub(crate) async fn create_launch_template(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let lt: LaunchTemplate = parse(urn, &req.inputs)?;
    let name = physical_name(urn, &lt.name);
    let out = c
        .ec2
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(template_data(&lt))
        .set_tag_specifications(tag_specs(ResourceType::LaunchTemplate, &lt.tags))
        .send()
        .await
        .map_err(aws_error(urn, "CreateLaunchTemplate"))?;
    let t = out
        .launch_template()
        .ok_or_else(|| missing(urn, "LaunchTemplate"))?;
    let id = t
        .launch_template_id()
        .ok_or_else(|| missing(urn, "LaunchTemplateId"))?
        .to_string();
    let outputs = outputs(&LaunchTemplateOutputs {
        id: LaunchTemplateId::new(&id),
        name: t.launch_template_name().unwrap_or(&name).to_string(),
        latest_version: t
            .latest_version_number()
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(1),
    })?;
    Ok(CreateResponse { id, outputs })
}

pub(crate) async fn read_launch_template(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    template_outputs(c, &req.urn, &req.id).await
}

pub(crate) async fn update_launch_template(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let old: LaunchTemplate = parse(urn, &req.old_inputs)?;
    let new: LaunchTemplate = parse(urn, &req.new_inputs)?;
    if data_changed(&req.old_inputs, &req.new_inputs) {
        let out = c
            .ec2
            .create_launch_template_version()
            .launch_template_id(&req.id)
            .launch_template_data(template_data(&new))
            .send()
            .await
            .map_err(aws_error(urn, "CreateLaunchTemplateVersion"))?;
        let version = out
            .launch_template_version()
            .and_then(|v| v.version_number())
            .ok_or_else(|| missing(urn, "VersionNumber"))?;
        c.ec2
            .modify_launch_template()
            .launch_template_id(&req.id)
            .default_version(version.to_string())
            .send()
            .await
            .map_err(aws_error(urn, "ModifyLaunchTemplate"))?;
    }
    sync_tags(c, urn, &req.id, &old.tags, &new.tags).await?;
    template_outputs(c, urn, &req.id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidLaunchTemplateId.NotFound",
            format!("{urn}: {} no longer exists", req.id),
        )
    })
}

pub(crate) async fn delete_launch_template(
    c: &Clients,
    req: DeleteRequest,
) -> Result<(), ProviderError> {
    let deleted = c
        .ec2
        .delete_launch_template()
        .launch_template_id(&req.id)
        .send()
        .await
        .map_err(aws_error(&req.urn, "DeleteLaunchTemplate"));
    match deleted {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

// ------------------------------------------------------------------- groups

/// Auto Scaling tags for group `name`, propagated to its instances.
fn group_tags(name: &str, tags: &Tags) -> Vec<AsgTag> {
    tags.iter()
        .map(|(k, v)| {
            AsgTag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .build()
        })
        .collect()
}

fn template_spec(g: &AutoScalingGroup) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .set_launch_template_id(g.launch_template_id.value().map(|id| id.to_string()))
        .version("$Latest")
        .build()
}

fn subnets(g: &AutoScalingGroup) -> String {
    let ids: Vec<String> = g
        .subnet_ids
        .iter()
        .filter_map(|s| s.value())
        .map(|s| s.to_string())
        .collect();
    ids.join(",")
}

/// Auto Scaling answers `ValidationError` for a group that doesn't exist.
fn group_not_found(e: &ProviderError) -> bool {
    e.code() == "ValidationError" && e.message.contains("not found")
}

async fn describe_group(
    c: &Clients,
    urn: &Urn,
    name: &str,
) -> Result<Option<LiveGroup>, ProviderError> {
    let out = c
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(aws_error(urn, "DescribeAutoScalingGroups"))?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(name))
        .cloned())
}

fn in_service(g: &LiveGroup) -> usize {
    let states = g.instances().iter().filter_map(|i| i.lifecycle_state());
    states.filter(|s| s.as_str() == "InService").count()
}

/// At least `desired` instances in service and none still terminating (a
/// group scaling in has reached its size only once they are gone).
fn settled(g: &LiveGroup, desired: u32) -> bool {
    let terminating = g
        .instances()
        .iter()
        .filter_map(|i| i.lifecycle_state())
        .any(|s| s.as_str().starts_with("Terminating"));
    in_service(g) >= desired as usize && !terminating
}

fn group_outputs(urn: &Urn, name: &str, g: &LiveGroup) -> Result<Outputs, ProviderError> {
    outputs(&AutoScalingGroupOutputs {
        id: AutoScalingGroupName::new(name),
        name: AutoScalingGroupName::new(name),
        arn: Arn::new(
            g.auto_scaling_group_arn()
                .ok_or_else(|| missing(urn, "AutoScalingGroupARN"))?,
        ),
        instance_count: in_service(g) as u64,
    })
}

/// The error for a group that didn't reach `desired` in time: the counts and
/// why the last launch failed, if one did.
async fn capacity_error(c: &Clients, urn: &Urn, name: &str, desired: u32) -> ProviderError {
    let current = match describe_group(c, urn, name).await {
        Ok(Some(g)) => in_service(&g).to_string(),
        _ => "an unknown number".to_string(),
    };
    let activities = c
        .asg
        .describe_scaling_activities()
        .auto_scaling_group_name(name)
        .max_records(10)
        .send()
        .await;
    let failure = activities.ok().and_then(|out| {
        out.activities()
            .iter()
            .find(|a| {
                a.status_code()
                    .is_some_and(|s| matches!(s.as_str(), "Failed" | "Cancelled"))
            })
            .map(|a| {
                a.status_message()
                    .or(a.description())
                    .unwrap_or("no message")
                    .to_string()
            })
    });
    let why = failure.map_or(String::new(), |m| {
        format!("; last failed scaling activity: {m}")
    });
    ProviderError::timeout(format!(
        "{urn}: Auto Scaling group `{name}` has {current} of {desired} desired instances InService after {:.0?}{why}",
        c.timeouts.capacity
    ))
}

/// Polls group `name` until `desired` instances are in service; its outputs.
async fn wait_for_capacity(
    c: &Clients,
    urn: &Urn,
    name: &str,
    desired: u32,
) -> Result<Outputs, ProviderError> {
    let t = c.timeouts;
    let what = format!("Auto Scaling group `{name}` to have {desired} instances InService");
    let waited = wait_for(urn, &what, t.capacity, t.poll, || async {
        let g = describe_group(c, urn, name).await?.ok_or_else(|| {
            ProviderError::new(
                "ValidationError",
                format!("{urn}: Auto Scaling group `{name}` not found"),
            )
        })?;
        Ok(settled(&g, desired).then_some(g))
    })
    .await;
    match waited {
        Ok(g) => group_outputs(urn, name, &g),
        Err(e) if e.kind == ErrorKind::Timeout => Err(capacity_error(c, urn, name, desired).await),
        Err(e) => Err(e),
    }
}

pub(crate) async fn create_group(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let g: AutoScalingGroup = parse(urn, &req.inputs)?;
    let name = physical_name(urn, &g.name);
    c.asg
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .launch_template(template_spec(&g))
        .vpc_zone_identifier(subnets(&g))
        .min_size(size(g.min_size))
        .max_size(size(g.max_size))
        .desired_capacity(size(g.capacity()))
        .set_tags(Some(group_tags(&name, &g.tags)))
        .send()
        .await
        .map_err(aws_error(urn, "CreateAutoScalingGroup"))?;
    let outputs = wait_for_capacity(c, urn, &name, g.capacity()).await?;
    Ok(CreateResponse { id: name, outputs })
}

pub(crate) async fn read_group(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    match describe_group(c, &req.urn, &req.id).await? {
        Some(g) => group_outputs(&req.urn, &req.id, &g).map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn update_group(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let old: AutoScalingGroup = parse(urn, &req.old_inputs)?;
    let new: AutoScalingGroup = parse(urn, &req.new_inputs)?;
    let name = req.id.as_str();
    c.asg
        .update_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(template_spec(&new))
        .vpc_zone_identifier(subnets(&new))
        .min_size(size(new.min_size))
        .max_size(size(new.max_size))
        .desired_capacity(size(new.capacity()))
        .send()
        .await
        .map_err(aws_error(urn, "UpdateAutoScalingGroup"))?;
    let removed: Tags = old
        .tags
        .iter()
        .filter(|(k, _)| !new.tags.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !removed.is_empty() {
        c.asg
            .delete_tags()
            .set_tags(Some(group_tags(name, &removed)))
            .send()
            .await
            .map_err(aws_error(urn, "DeleteTags"))?;
    }
    let changed: Tags = new
        .tags
        .iter()
        .filter(|(k, v)| old.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        c.asg
            .create_or_update_tags()
            .set_tags(Some(group_tags(name, &changed)))
            .send()
            .await
            .map_err(aws_error(urn, "CreateOrUpdateTags"))?;
    }
    wait_for_capacity(c, urn, name, new.capacity()).await
}

pub(crate) async fn delete_group(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    let urn = &req.urn;
    let name = req.id.as_str();
    let t = c.timeouts;
    // ForceDelete terminates the instances with the group; a scaling
    // activity still starting can refuse it for a moment.
    let deleted = retry_on(
        urn,
        "a running scaling activity to let the group be deleted",
        &["ScalingActivityInProgress", "ResourceContention"],
        t.capacity,
        t.poll,
        || async {
            c.asg
                .delete_auto_scaling_group()
                .auto_scaling_group_name(name)
                .force_delete(true)
                .send()
                .await
                .map_err(aws_error(urn, "DeleteAutoScalingGroup"))
        },
    )
    .await;
    match deleted {
        Err(e) if group_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let what = format!("Auto Scaling group `{name}` to terminate its instances and go");
    wait_for(urn, &what, t.capacity, t.poll, || async {
        Ok(describe_group(c, urn, name).await?.is_none().then_some(()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{InstanceProfileName, SecurityGroupId};
    use aws_sdk_autoscaling::types::{Instance, LifecycleState};

    fn template() -> LaunchTemplate {
        LaunchTemplate::new("ami-0123abcd", "t3.small")
            .user_data("#!/bin/bash\necho hi\n")
            .iam_instance_profile(InstanceProfileName::new("hosts"))
            .security_group(SecurityGroupId::new("sg-1"))
    }

    #[test]
    fn groups_move_into_the_network_interface_when_the_public_ip_flag_is_set() {
        let plain = template_data(&template());
        assert_eq!(plain.security_group_ids(), ["sg-1"]);
        assert!(plain.network_interfaces().is_empty());
        assert_eq!(plain.user_data(), Some("IyEvYmluL2Jhc2gKZWNobyBoaQo="));
        assert_eq!(
            plain.iam_instance_profile().and_then(|p| p.name()),
            Some("hosts")
        );

        let public = template_data(&template().associate_public_ip_address(true));
        assert!(public.security_group_ids().is_empty());
        let ni = &public.network_interfaces()[0];
        assert_eq!(
            (ni.device_index(), ni.associate_public_ip_address()),
            (Some(0), Some(true))
        );
        assert_eq!(ni.groups(), ["sg-1"]);
    }

    #[test]
    fn instances_carry_the_template_tags() {
        let mut lt = template();
        lt.tags.insert("keel:urn".into(), "urn:x".into());
        let data = template_data(&lt);
        let spec = &data.tag_specifications()[0];
        assert_eq!(spec.resource_type(), Some(&ResourceType::Instance));
        assert_eq!(spec.tags()[0].key(), Some("keel:urn"));
    }

    #[test]
    fn a_new_name_alone_is_no_new_version() {
        let a = serde_json::to_value(template()).unwrap_or_default();
        let b = serde_json::to_value(template().name("renamed")).unwrap_or_default();
        let c =
            serde_json::to_value(template().associate_public_ip_address(false)).unwrap_or_default();
        assert!(!data_changed(&a, &b));
        assert!(data_changed(&a, &c));
    }

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
