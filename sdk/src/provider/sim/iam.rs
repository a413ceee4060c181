//! IAM in the simulated cloud: roles and instance profiles, global names
//! unique per account, at most one role per profile, and the delete rules
//! (a role can't go while attached policies or a profile hold it; a profile
//! can't go while it holds a role). Also the provider handlers for
//! [`IamRole`] and [`InstanceProfile`]; the profile handler waits for IAM's
//! propagation delay, as instances launched sooner couldn't use it.

use super::SimProvider;
use super::cloud::{Cloud, Done, iam_arn, physical_name};
use super::dispatch::{Made, Simulated, configured, resolved};
use super::latency::Op;
use super::table::{Record, Stored, Use, Users, facts, listing};
use crate::aws::iam::{IamRole, IamRoleOutputs, InstanceProfile, InstanceProfileOutputs};
use crate::provider::ProviderError;
use crate::resource::{InstanceProfileName, RoleName, Tags, Urn};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// An IAM role.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RoleRec {
    pub name: String,
    pub assume_role_policy: String,
    pub managed_policy_arns: Vec<String>,
    pub tags: Tags,
}

/// An instance profile.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ProfileRec {
    pub name: String,
    pub roles: Vec<String>,
    pub tags: Tags,
}

fn conflict(message: impl Into<String>) -> ProviderError {
    ProviderError::new("DeleteConflict", message)
}

fn exists(what: &str, name: &str) -> ProviderError {
    ProviderError::new(
        "EntityAlreadyExists",
        format!("{what} with name {name} already exists."),
    )
}

facts!(
    RoleRec for IamRole, "GetRole": "roles",
    not found "NoSuchEntity", "The role with name {id} cannot be found.",
    tags "TagRole", "UntagRole"
);

impl Record for RoleRec {
    fn in_use(_: &str, users: &Users) -> ProviderError {
        ProviderError::new(
            "DeleteConflict",
            format!(
                "Cannot delete entity, must remove roles from instance profile first ({}).",
                listing(users)
            ),
        )
    }
}

facts!(
    ProfileRec for InstanceProfile, "GetInstanceProfile": "instance profiles",
    not found "NoSuchEntity", "Instance Profile {id} cannot be found.",
    tags "TagInstanceProfile", "UntagInstanceProfile"
);

impl Record for ProfileRec {
    fn uses(&self, name: &str) -> Vec<Use> {
        let roles = self.roles.iter();
        roles
            .map(|r| Use::of::<Self>(RoleRec::TYPE, r, name))
            .collect()
    }
}

impl Cloud {
    /// CreateRole.
    pub(super) fn create_role(&mut self, name: &str, policy: &str, tags: Tags) -> Done {
        if self.roles.contains_key(name) {
            return Err(exists("Role", name));
        }
        let role = RoleRec {
            name: name.to_string(),
            assume_role_policy: policy.to_string(),
            managed_policy_arns: Vec::new(),
            tags,
        };
        self.roles.insert(name.to_string(), role);
        Ok(())
    }

    /// UpdateAssumeRolePolicy.
    pub(super) fn update_assume_role_policy(&mut self, name: &str, policy: &str) -> Done {
        let role = self.roles.get_mut(name)?;
        role.assume_role_policy = policy.to_string();
        Ok(())
    }

    /// AttachRolePolicy (attaching one already attached is a no-op, as in AWS).
    pub(super) fn attach_role_policy(&mut self, name: &str, arn: &str) -> Done {
        let role = self.roles.get_mut(name)?;
        if !role.managed_policy_arns.iter().any(|a| a == arn) {
            role.managed_policy_arns.push(arn.to_string());
        }
        Ok(())
    }

    /// DetachRolePolicy.
    pub(super) fn detach_role_policy(&mut self, name: &str, arn: &str) -> Done {
        let role = self.roles.get_mut(name)?;
        let before = role.managed_policy_arns.len();
        role.managed_policy_arns.retain(|a| a != arn);
        if role.managed_policy_arns.len() == before {
            return Err(ProviderError::new(
                "NoSuchEntity",
                format!("Policy {arn} was not found."),
            ));
        }
        Ok(())
    }

    /// DeleteRole: not while policies are attached or a profile holds it.
    pub(super) fn delete_role(&mut self, name: &str) -> Done {
        let role = self.roles.get(name)?;
        if !role.managed_policy_arns.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        self.remove_unused::<RoleRec>(name).map(drop)
    }

    /// CreateInstanceProfile (empty).
    pub(super) fn create_instance_profile(&mut self, name: &str, tags: Tags) -> Done {
        if self.instance_profiles.contains_key(name) {
            return Err(exists("Instance Profile", name));
        }
        let profile = ProfileRec {
            name: name.to_string(),
            roles: Vec::new(),
            tags,
        };
        self.instance_profiles.insert(name.to_string(), profile);
        Ok(())
    }

    /// AddRoleToInstanceProfile: the role must exist; a profile holds one role.
    pub(super) fn add_role_to_instance_profile(&mut self, name: &str, role: &str) -> Done {
        self.roles.get(role)?;
        let profile = self.instance_profiles.get(name)?;
        if !profile.roles.is_empty() {
            return Err(ProviderError::new(
                "LimitExceeded",
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
            ));
        }
        self.instance_profiles
            .get_mut(name)?
            .roles
            .push(role.to_string());
        Ok(())
    }

    /// RemoveRoleFromInstanceProfile.
    pub(super) fn remove_role_from_instance_profile(&mut self, name: &str, role: &str) -> Done {
        let profile = self.instance_profiles.get_mut(name)?;
        let before = profile.roles.len();
        profile.roles.retain(|r| r != role);
        if profile.roles.len() == before {
            return Err(RoleRec::not_found(role));
        }
        Ok(())
    }

    /// DeleteInstanceProfile: not while it holds a role.
    pub(super) fn delete_instance_profile(&mut self, name: &str) -> Done {
        if !self.instance_profiles.get(name)?.roles.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must remove roles from instance profile first.",
            ));
        }
        self.instance_profiles.remove(name).map(drop)
    }
}

impl Simulated for IamRole {
    fn outputs(_: &Cloud, r: &RoleRec) -> IamRoleOutputs {
        IamRoleOutputs {
            id: RoleName::new(&r.name),
            name: RoleName::new(&r.name),
            arn: iam_arn("role", &r.name),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let name = physical_name(props.name.as_deref(), urn.name());
        sim.api("CreateRole", |c, _| {
            c.create_role(&name, &props.assume_role_policy, props.tags.clone())
        })?;
        configured(sim, urn, name, props)
    }

    /// Makes the trust policy and attached policies match `props`.
    fn modify(sim: &SimProvider, _: &Urn, id: &str, props: &Self) -> Done {
        let have = sim.peek(|c| c.roles.get(id).cloned())?;
        if have.assume_role_policy != props.assume_role_policy {
            sim.api("UpdateAssumeRolePolicy", |c, _| {
                c.update_assume_role_policy(id, &props.assume_role_policy)
            })?;
        }
        for arn in &have.managed_policy_arns {
            if !props.managed_policy_arns.contains(arn) {
                sim.api("DetachRolePolicy", |c, _| c.detach_role_policy(id, arn))?;
            }
        }
        for arn in &props.managed_policy_arns {
            if !have.managed_policy_arns.contains(arn) {
                sim.api("AttachRolePolicy", |c, _| c.attach_role_policy(id, arn))?;
            }
        }
        Ok(())
    }

    /// Detaches every policy, then deletes the role.
    fn remove(sim: &SimProvider, id: &str) -> Done {
        let attached = sim.api("ListAttachedRolePolicies", |c, _| {
            c.roles.get(id).map(|r| r.managed_policy_arns.clone())
        })?;
        for arn in &attached {
            sim.api("DetachRolePolicy", |c, _| c.detach_role_policy(id, arn))?;
        }
        sim.api("DeleteRole", |c, _| c.delete_role(id))
    }
}

#[async_trait]
impl Simulated for InstanceProfile {
    // IAM is eventually consistent: EC2 can't use a new profile at once.
    const CREATE: Op = Op::IamPropagation;

    fn outputs(_: &Cloud, p: &ProfileRec) -> InstanceProfileOutputs {
        InstanceProfileOutputs {
            id: InstanceProfileName::new(&p.name),
            name: InstanceProfileName::new(&p.name),
            arn: iam_arn("instance-profile", &p.name),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let name = physical_name(props.name.as_deref(), urn.name());
        sim.api("CreateInstanceProfile", |c, _| {
            c.create_instance_profile(&name, props.tags.clone())
        })?;
        configured(sim, urn, name, props)
    }

    /// Puts the declared role (alone) in the profile.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let role = resolved(urn, "role", &props.role)?.as_str();
        let have = sim.peek(|c| c.instance_profiles.get(id).map(|p| p.roles.clone()))?;
        for old in have.iter().filter(|r| *r != role) {
            sim.api("RemoveRoleFromInstanceProfile", |c, _| {
                c.remove_role_from_instance_profile(id, old)
            })?;
        }
        if !have.iter().any(|r| r == role) {
            sim.api("AddRoleToInstanceProfile", |c, _| {
                c.add_role_to_instance_profile(id, role)
            })?;
        }
        Ok(())
    }

    /// Removes its role, then deletes the profile.
    fn remove(sim: &SimProvider, id: &str) -> Done {
        let roles = sim.api("GetInstanceProfile", |c, _| {
            c.instance_profiles.get(id).map(|p| p.roles.clone())
        })?;
        for role in &roles {
            sim.api("RemoveRoleFromInstanceProfile", |c, _| {
                c.remove_role_from_instance_profile(id, role)
            })?;
        }
        sim.api("DeleteInstanceProfile", |c, _| {
            c.delete_instance_profile(id)
        })
    }

    /// As the default, but a changed role takes IAM's propagation time.
    async fn update(sim: &SimProvider, urn: &Urn, id: &str, props: Self) -> Made<Self> {
        let role = resolved(urn, "role", &props.role)?.as_str();
        let changed = sim.peek(|c| c.instance_profiles.get(id).map(|p| p.roles != [role]))?;
        Self::modify(sim, urn, id, &props)?;
        sim.retag::<ProfileRec>(id, &props.tags)?;
        let op = if changed {
            Op::IamPropagation
        } else {
            Op::Call
        };
        sim.pause(op).await;
        Self::settle(sim, id).await
    }
}
