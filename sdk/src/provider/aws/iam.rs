//! IAM roles and instance profiles. Names are the ids (IAM has no other
//! handle keel needs); both are created with path `/` and keel's tags.
//!
//! A role's managed policies are compared with what IAM lists, so a policy
//! detached out of band is attached again on update. Deleting a role first
//! detaches its managed policies and takes it out of every instance profile
//! (IAM refuses `DeleteRole` otherwise); deleting a profile first removes its
//! role. IAM is eventually consistent: a role created a moment ago can be
//! unknown to `AddRoleToInstanceProfile`, and a policy detached a moment ago
//! can still block `DeleteRole`, so those calls are retried for a bounded
//! time. Inline policies are not keel's and are left alone (IAM then refuses
//! to delete the role, and says why).

use super::Clients;
use super::retry::retry_on;
use super::util::{aws_error, is_not_found, outputs, parse, physical_name};
use crate::aws::iam::{IamRole, IamRoleOutputs, InstanceProfile, InstanceProfileOutputs};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{Arn, InstanceProfileName, RoleName, Tags, Urn};
use aws_sdk_iam::types::Tag;
use std::time::Duration;

/// How long IAM may take to show a change everywhere.
const IAM_PROPAGATION: Duration = Duration::from_secs(60);

fn poll(c: &Clients) -> Duration {
    c.timeouts.poll.min(Duration::from_secs(2))
}

fn iam_tags(urn: &Urn, tags: &Tags) -> Result<Option<Vec<Tag>>, ProviderError> {
    if tags.is_empty() {
        return Ok(None);
    }
    let built: Result<Vec<Tag>, _> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    built
        .map(Some)
        .map_err(|e| ProviderError::internal(format!("{urn}: building IAM tags: {e}")))
}

/// Tag keys in `old` but not in `new`, and tags of `new` that are new or changed.
fn tag_changes(old: &Tags, new: &Tags) -> (Vec<String>, Tags) {
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (removed, changed)
}

/// `Ok(())` for a call that failed because the thing is already gone.
fn gone_is_fine(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

// -------------------------------------------------------------------- roles

async fn role_outputs(
    c: &Clients,
    urn: &Urn,
    name: &str,
) -> Result<Option<Outputs>, ProviderError> {
    let got = c
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(aws_error(urn, "GetRole"));
    let out = match got {
        Ok(out) => out,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let role = out
        .role()
        .ok_or_else(|| ProviderError::internal(format!("{urn}: GetRole returned no role")))?;
    outputs(&IamRoleOutputs {
        id: RoleName::new(name),
        name: RoleName::new(name),
        arn: Arn::new(role.arn()),
    })
    .map(Some)
}

/// The ARNs of the managed policies attached to role `name`.
async fn attached_policies(
    c: &Clients,
    urn: &Urn,
    name: &str,
) -> Result<Vec<String>, ProviderError> {
    let policies = c
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_error(urn, "ListAttachedRolePolicies"))?;
    Ok(policies
        .iter()
        .filter_map(|p| p.policy_arn())
        .map(str::to_string)
        .collect())
}

async fn attach(c: &Clients, urn: &Urn, name: &str, arn: &str) -> Result<(), ProviderError> {
    c.iam
        .attach_role_policy()
        .role_name(name)
        .policy_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(aws_error(urn, "AttachRolePolicy"))
}

async fn detach(c: &Clients, urn: &Urn, name: &str, arn: &str) -> Result<(), ProviderError> {
    let r = c
        .iam
        .detach_role_policy()
        .role_name(name)
        .policy_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(aws_error(urn, "DetachRolePolicy"));
    gone_is_fine(r)
}

async fn remove_role(
    c: &Clients,
    urn: &Urn,
    profile: &str,
    role: &str,
) -> Result<(), ProviderError> {
    let r = c
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(profile)
        .role_name(role)
        .send()
        .await
        .map(|_| ())
        .map_err(aws_error(urn, "RemoveRoleFromInstanceProfile"));
    gone_is_fine(r)
}

/// Detaches, removes from profiles and deletes role `name`; gone is fine.
async fn teardown_role(c: &Clients, urn: &Urn, name: &str) -> Result<(), ProviderError> {
    let attached = match attached_policies(c, urn, name).await {
        Err(e) if is_not_found(&e) => return Ok(()),
        other => other?,
    };
    for arn in &attached {
        detach(c, urn, name, arn).await?;
    }
    let profiles = c
        .iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_error(urn, "ListInstanceProfilesForRole"));
    let profiles = match profiles {
        Err(e) if is_not_found(&e) => return Ok(()),
        other => other?,
    };
    for p in &profiles {
        remove_role(c, urn, p.instance_profile_name(), name).await?;
    }
    let deleted = retry_on(
        urn,
        "IAM to let the role be deleted",
        &["DeleteConflict"],
        IAM_PROPAGATION,
        poll(c),
        || async {
            c.iam
                .delete_role()
                .role_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(urn, "DeleteRole"))
        },
    )
    .await;
    gone_is_fine(deleted)
}

pub(crate) async fn create_role(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let r: IamRole = parse(urn, &req.inputs)?;
    let name = physical_name(urn, &r.name);
    let out = c
        .iam
        .create_role()
        .role_name(&name)
        .path("/")
        .assume_role_policy_document(&r.assume_role_policy)
        .set_tags(iam_tags(urn, &r.tags)?)
        .send()
        .await
        .map_err(aws_error(urn, "CreateRole"))?;
    let arn = out
        .role()
        .map(|role| role.arn().to_string())
        .ok_or_else(|| ProviderError::internal(format!("{urn}: CreateRole returned no role")))?;
    for policy in &r.managed_policy_arns {
        if let Err(e) = attach(c, urn, &name, policy).await {
            // Roll back, so no role is left that nobody records.
            let _ = teardown_role(c, urn, &name).await;
            return Err(e);
        }
    }
    let outputs = outputs(&IamRoleOutputs {
        id: RoleName::new(&name),
        name: RoleName::new(&name),
        arn: Arn::new(arn),
    })?;
    Ok(CreateResponse { id: name, outputs })
}

pub(crate) async fn read_role(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    role_outputs(c, &req.urn, &req.id).await
}

pub(crate) async fn update_role(c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let name = req.id.as_str();
    let old: IamRole = parse(urn, &req.old_inputs)?;
    let new: IamRole = parse(urn, &req.new_inputs)?;
    if old.assume_role_policy != new.assume_role_policy {
        c.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(&new.assume_role_policy)
            .send()
            .await
            .map_err(aws_error(urn, "UpdateAssumeRolePolicy"))?;
    }
    let live = attached_policies(c, urn, name).await?;
    for arn in live.iter().filter(|a| !new.managed_policy_arns.contains(a)) {
        detach(c, urn, name, arn).await?;
    }
    for arn in new.managed_policy_arns.iter().filter(|a| !live.contains(a)) {
        attach(c, urn, name, arn).await?;
    }
    let (removed, changed) = tag_changes(&old.tags, &new.tags);
    if !removed.is_empty() {
        c.iam
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(aws_error(urn, "UntagRole"))?;
    }
    if let Some(tags) = iam_tags(urn, &changed)? {
        c.iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(aws_error(urn, "TagRole"))?;
    }
    role_outputs(c, urn, name).await?.ok_or_else(|| {
        ProviderError::new(
            "NoSuchEntity",
            format!("{urn}: role {name} no longer exists"),
        )
    })
}

pub(crate) async fn delete_role(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    teardown_role(c, &req.urn, &req.id).await
}

// --------------------------------------------------------- instance profiles

async fn profile_outputs(
    c: &Clients,
    urn: &Urn,
    name: &str,
) -> Result<Option<(Outputs, Vec<String>)>, ProviderError> {
    let got = c
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .map_err(aws_error(urn, "GetInstanceProfile"));
    let out = match got {
        Ok(out) => out,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let p = out.instance_profile().ok_or_else(|| {
        ProviderError::internal(format!("{urn}: GetInstanceProfile returned no profile"))
    })?;
    let roles = p
        .roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .collect();
    let outputs = outputs(&InstanceProfileOutputs {
        id: InstanceProfileName::new(name),
        name: InstanceProfileName::new(name),
        arn: Arn::new(p.arn()),
    })?;
    Ok(Some((outputs, roles)))
}

/// Adds `role` to profile `name`; a role created a moment ago may not be
/// visible yet, so `NoSuchEntity` is retried for a while.
async fn add_role(c: &Clients, urn: &Urn, name: &str, role: &str) -> Result<(), ProviderError> {
    retry_on(
        urn,
        "IAM to know the role",
        &["NoSuchEntity"],
        IAM_PROPAGATION,
        poll(c),
        || async {
            c.iam
                .add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(role)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(urn, "AddRoleToInstanceProfile"))
        },
    )
    .await
}

/// Removes every role from profile `name` and deletes it; gone is fine.
async fn teardown_profile(c: &Clients, urn: &Urn, name: &str) -> Result<(), ProviderError> {
    let Some((_, roles)) = profile_outputs(c, urn, name).await? else {
        return Ok(());
    };
    for role in &roles {
        remove_role(c, urn, name, role).await?;
    }
    let deleted = retry_on(
        urn,
        "IAM to let the profile be deleted",
        &["DeleteConflict"],
        IAM_PROPAGATION,
        poll(c),
        || async {
            c.iam
                .delete_instance_profile()
                .instance_profile_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(urn, "DeleteInstanceProfile"))
        },
    )
    .await;
    gone_is_fine(deleted)
}

pub(crate) async fn create_instance_profile(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let p: InstanceProfile = parse(urn, &req.inputs)?;
    let name = physical_name(urn, &p.name);
    let role = p.role.value().map(|r| r.to_string()).unwrap_or_default();
    let out = c
        .iam
        .create_instance_profile()
        .instance_profile_name(&name)
        .path("/")
        .set_tags(iam_tags(urn, &p.tags)?)
        .send()
        .await
        .map_err(aws_error(urn, "CreateInstanceProfile"))?;
    let arn = out
        .instance_profile()
        .map(|p| p.arn().to_string())
        .ok_or_else(|| {
            ProviderError::internal(format!("{urn}: CreateInstanceProfile returned no profile"))
        })?;
    if let Err(e) = add_role(c, urn, &name, &role).await {
        // Roll back, so no profile is left that nobody records.
        let _ = teardown_profile(c, urn, &name).await;
        return Err(e);
    }
    let outputs = outputs(&InstanceProfileOutputs {
        id: InstanceProfileName::new(&name),
        name: InstanceProfileName::new(&name),
        arn: Arn::new(arn),
    })?;
    Ok(CreateResponse { id: name, outputs })
}

pub(crate) async fn read_instance_profile(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    Ok(profile_outputs(c, &req.urn, &req.id).await?.map(|(o, _)| o))
}

pub(crate) async fn update_instance_profile(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let name = req.id.as_str();
    let old: InstanceProfile = parse(urn, &req.old_inputs)?;
    let new: InstanceProfile = parse(urn, &req.new_inputs)?;
    let role = new.role.value().map(|r| r.to_string()).unwrap_or_default();
    let (_, have) = profile_outputs(c, urn, name).await?.ok_or_else(|| {
        ProviderError::new(
            "NoSuchEntity",
            format!("{urn}: instance profile {name} no longer exists"),
        )
    })?;
    // A profile holds at most one role: the old one must leave first.
    for other in have.iter().filter(|r| **r != role) {
        remove_role(c, urn, name, other).await?;
    }
    if !have.contains(&role) {
        add_role(c, urn, name, &role).await?;
    }
    let (removed, changed) = tag_changes(&old.tags, &new.tags);
    if !removed.is_empty() {
        c.iam
            .untag_instance_profile()
            .instance_profile_name(name)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(aws_error(urn, "UntagInstanceProfile"))?;
    }
    if let Some(tags) = iam_tags(urn, &changed)? {
        c.iam
            .tag_instance_profile()
            .instance_profile_name(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(aws_error(urn, "TagInstanceProfile"))?;
    }
    profile_outputs(c, urn, name)
        .await?
        .map(|(o, _)| o)
        .ok_or_else(|| {
            ProviderError::new(
                "NoSuchEntity",
                format!("{urn}: instance profile {name} no longer exists"),
            )
        })
}

pub(crate) async fn delete_instance_profile(
    c: &Clients,
    req: DeleteRequest,
) -> Result<(), ProviderError> {
    teardown_profile(c, &req.urn, &req.id).await
}
