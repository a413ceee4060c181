//! Launch templates on EC2.
//!
//! A launch template's settings live in versions: every update that changes
//! them creates a version and makes it the default; groups launch from
//! `$Latest`. User data is given as plain text and sent base64-encoded.
//! When the program sets `associate_public_ip_address`, the security groups
//! go into a network interface (device 0) with the flag, as AWS requires
//! when a template specifies the interface. Instances launched from the
//! template carry the template's tags (a tag specification in the data).
//!
//! A template is described with its latest version's data (one more call
//! per template); observed are the image, instance type, user data, the
//! name (when the program gave one) and the template's tags.

use super::resource::{AwsResource, Cx, Query, Res, ec2_describe, gone_is_fine, outputs_now, send};
use super::util::{ec2_tags, physical_name, sync_tags, tag_specs, tags_of, vals};
use crate::aws::ec2::{LaunchTemplate, LaunchTemplateOutputs};
use crate::provider::ProviderError;
use crate::resource::{Input, LaunchTemplateId};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData,
};
use base64::Engine;

/// A template as described, with its latest version's launch data.
pub(crate) struct LiveTemplate {
    t: aws_sdk_ec2::types::LaunchTemplate,
    data: Option<ResponseLaunchTemplateData>,
}

/// The launch settings `lt` declares, as one template version's data.
fn template_data(lt: &LaunchTemplate) -> RequestLaunchTemplateData {
    let groups = vals(&lt.security_group_ids);
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

/// Whether two templates launch differently (anything but the name, which
/// replaces the template; tags count, as instances carry them).
fn data_changed(old: &LaunchTemplate, new: &LaunchTemplate) -> bool {
    let strip = |lt: &LaunchTemplate| {
        let mut lt = lt.clone();
        lt.name = None;
        serde_json::to_value(lt).ok()
    };
    strip(old) != strip(new)
}

/// The data of version `version` of template `id`.
async fn version_data(
    cx: &Cx<'_>,
    id: &str,
    version: i64,
) -> Result<Option<ResponseLaunchTemplateData>, ProviderError> {
    let call = cx.c.ec2.describe_launch_template_versions();
    let call = call.launch_template_id(id);
    let call = call.versions(version.to_string());
    let out = send!(cx, "DescribeLaunchTemplateVersions", call)?;
    let v = out.launch_template_versions().first();
    Ok(v.and_then(|v| v.launch_template_data()).cloned())
}

#[async_trait]
impl AwsResource for LaunchTemplate {
    type Live = LiveTemplate;

    async fn create(cx: &Cx<'_>, lt: &Self) -> Res<Self::Outputs> {
        let name = physical_name(cx.urn, &lt.name);
        let call = cx.c.ec2.create_launch_template();
        let call = call.launch_template_name(&name);
        let call = call.launch_template_data(template_data(lt));
        let call = call.set_tag_specifications(tag_specs(ResourceType::LaunchTemplate, &lt.tags));
        let out = send!(cx, "CreateLaunchTemplate", call)?;
        let t = out
            .launch_template()
            .ok_or_else(|| cx.missing("CreateLaunchTemplate", "template"))?;
        let id = t
            .launch_template_id()
            .ok_or_else(|| cx.missing("CreateLaunchTemplate", "id"))?;
        Ok(LaunchTemplateOutputs {
            id: LaunchTemplateId::new(id),
            name: t.launch_template_name().unwrap_or(&name).to_string(),
            latest_version: t
                .latest_version_number()
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(1),
        })
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeLaunchTemplates" =>
            describe_launch_templates(set_launch_template_ids, filters))?;
        let mut found = Vec::new();
        for t in out.launch_templates() {
            let (Some(id), Some(latest)) = (t.launch_template_id(), t.latest_version_number())
            else {
                continue;
            };
            let data = version_data(cx, id, latest).await?;
            found.push(LiveTemplate { t: t.clone(), data });
        }
        Ok(found)
    }

    fn outputs(cx: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let t = &l.t;
        let latest = t.latest_version_number();
        let name = t.launch_template_name();
        Ok(LaunchTemplateOutputs {
            id: LaunchTemplateId::new(t.launch_template_id().unwrap_or_default()),
            name: name
                .ok_or_else(|| cx.missing("DescribeLaunchTemplates", "name"))?
                .to_string(),
            latest_version: latest
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or_default(),
        })
    }

    fn observe(recorded: &Self, l: &Self::Live) -> Self {
        let mut lt = recorded.clone();
        lt.name = lt
            .name
            .map(|n| l.t.launch_template_name().unwrap_or(&n).to_string());
        lt.tags = tags_of(l.t.tags());
        let Some(data) = &l.data else { return lt };
        if let Some(image) = data.image_id() {
            lt.image_id = image.to_string();
        }
        if let Some(t) = data.instance_type() {
            lt.instance_type = t.as_str().to_string();
        }
        let decode = |b64: &str| base64::engine::general_purpose::STANDARD.decode(b64).ok();
        let text = data
            .user_data()
            .and_then(decode)
            .and_then(|b| String::from_utf8(b).ok());
        lt.user_data = text.map(Input::Value);
        lt
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let id = id.as_str();
        if data_changed(old, new) {
            let call = cx.c.ec2.create_launch_template_version();
            let call = call.launch_template_id(id);
            let call = call.launch_template_data(template_data(new));
            let out = send!(cx, "CreateLaunchTemplateVersion", call)?;
            let version = out
                .launch_template_version()
                .and_then(|v| v.version_number());
            let version =
                version.ok_or_else(|| cx.missing("CreateLaunchTemplateVersion", "version"))?;
            let call = cx.c.ec2.modify_launch_template().launch_template_id(id);
            let call = call.default_version(version.to_string());
            send!(cx, "ModifyLaunchTemplate", call)?;
        }
        sync_tags(cx, id, &old.tags, &new.tags).await?;
        outputs_now::<Self>(cx, id, "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let call = cx.c.ec2.delete_launch_template();
        let call = call.launch_template_id(id.as_str());
        gone_is_fine(send!(cx, "DeleteLaunchTemplate", call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{InstanceProfileName, SecurityGroupId};

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
        let a = template();
        let b = template().name("renamed");
        let c = template().associate_public_ip_address(false);
        assert!(!data_changed(&a, &b));
        assert!(data_changed(&a, &c));
    }
}
