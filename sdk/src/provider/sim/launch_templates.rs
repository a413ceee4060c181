//! Launch templates in the simulated cloud: names unique per region, every
//! change a new version (groups launch from the latest), and the checks AWS
//! makes of the security groups and instance profile a template names. Also
//! the provider handler for [`LaunchTemplate`].

use super::SimProvider;
use super::cloud::{Cloud, Done, fresh_id, invalid, physical_name};
use super::dispatch::{Simulated, resolved};
use super::table::{Record, facts};
use crate::aws::ec2::{LaunchTemplate, LaunchTemplateOutputs};
use crate::provider::ProviderError;
use crate::resource::{LaunchTemplateId, Tags, Urn};
use serde::{Deserialize, Serialize};

/// What one launch template version launches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct LaunchSpec {
    pub image_id: String,
    pub instance_type: String,
    pub user_data: Option<String>,
    pub iam_instance_profile: Option<String>,
    pub security_group_ids: Vec<String>,
    pub associate_public_ip_address: Option<bool>,
}

/// One version of a launch template.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TemplateVersion {
    pub number: u64,
    pub spec: LaunchSpec,
}

/// A launch template with its version history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct LaunchTemplateRec {
    pub id: String,
    pub name: String,
    pub versions: Vec<TemplateVersion>,
    pub tags: Tags,
}

impl LaunchTemplateRec {
    /// The newest version.
    pub(super) fn latest(&self) -> Option<&TemplateVersion> {
        self.versions.last()
    }
}

/// The launch settings `props` declares.
fn launch_spec(urn: &Urn, props: &LaunchTemplate) -> Result<LaunchSpec, ProviderError> {
    let user_data = props
        .user_data
        .as_ref()
        .map(|u| resolved(urn, "user_data", u))
        .transpose()?;
    let profile = props.iam_instance_profile.as_ref();
    let profile = profile
        .map(|p| resolved(urn, "iam_instance_profile", p))
        .transpose()?;
    let mut groups = Vec::new();
    for g in &props.security_group_ids {
        groups.push(resolved(urn, "security_group_ids", g)?.to_string());
    }
    Ok(LaunchSpec {
        image_id: props.image_id.clone(),
        instance_type: props.instance_type.clone(),
        user_data: user_data.cloned(),
        iam_instance_profile: profile.map(|p| p.to_string()),
        security_group_ids: groups,
        associate_public_ip_address: props.associate_public_ip_address,
    })
}

facts!(
    LaunchTemplateRec for LaunchTemplate, "DescribeLaunchTemplates": "launch templates",
    not found "InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID {id}, does not exist."
);

impl Record for LaunchTemplateRec {}

impl Cloud {
    /// What AWS checks of a template's security groups and instance profile.
    fn check_launch_spec(&self, spec: &LaunchSpec) -> Done {
        for g in &spec.security_group_ids {
            self.security_groups.get(g)?;
        }
        if let Some(p) = &spec.iam_instance_profile
            && !self.instance_profiles.contains_key(p)
        {
            return Err(invalid(format!(
                "Value ({p}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
            )));
        }
        Ok(())
    }

    /// CreateLaunchTemplate: version 1.
    pub(super) fn create_launch_template(
        &mut self,
        name: &str,
        spec: LaunchSpec,
        tags: Tags,
    ) -> Result<String, ProviderError> {
        if self.launch_templates.values().any(|t| t.name == name) {
            return Err(ProviderError::new(
                "InvalidLaunchTemplateName.AlreadyExistsException",
                format!("Launch template name already in use: {name}"),
            ));
        }
        self.check_launch_spec(&spec)?;
        let id = fresh_id("lt", &self.launch_templates);
        let template = LaunchTemplateRec {
            id: id.clone(),
            name: name.to_string(),
            versions: vec![TemplateVersion { number: 1, spec }],
            tags,
        };
        self.launch_templates.insert(id.clone(), template);
        Ok(id)
    }

    /// CreateLaunchTemplateVersion: the latest version plus one.
    pub(super) fn create_launch_template_version(
        &mut self,
        id: &str,
        spec: LaunchSpec,
    ) -> Result<u64, ProviderError> {
        self.check_launch_spec(&spec)?;
        let template = self.launch_templates.get_mut(id)?;
        let number = template.latest().map_or(0, |v| v.number) + 1;
        template.versions.push(TemplateVersion { number, spec });
        Ok(number)
    }

    /// DeleteLaunchTemplate (groups using it keep their instances).
    pub(super) fn delete_launch_template(&mut self, id: &str) -> Done {
        self.launch_templates.remove(id).map(drop)
    }
}

impl Simulated for LaunchTemplate {
    fn outputs(_: &Cloud, t: &LaunchTemplateRec) -> LaunchTemplateOutputs {
        LaunchTemplateOutputs {
            id: LaunchTemplateId::new(&t.id),
            name: t.name.clone(),
            latest_version: t.latest().map_or(0, |v| v.number),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let spec = launch_spec(urn, props)?;
        let name = physical_name(props.name.as_deref(), urn.name());
        sim.api("CreateLaunchTemplate", |c, _| {
            c.create_launch_template(&name, spec, props.tags.clone())
        })
    }

    /// A new version, if the settings differ from the latest one's.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let spec = launch_spec(urn, props)?;
        let latest = sim.peek(|c| {
            let template = c.launch_templates.get(id);
            template.map(|t| t.latest().map(|v| v.spec.clone()))
        })?;
        if latest.as_ref() != Some(&spec) {
            sim.api("CreateLaunchTemplateVersion", |c, _| {
                c.create_launch_template_version(id, spec)
            })?;
        }
        Ok(())
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteLaunchTemplate", |c, _| c.delete_launch_template(id))
    }
}
