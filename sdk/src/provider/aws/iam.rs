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
//!
//! IAM has no batched Get and no tag filter: reads get one by one, and a
//! search by tag lists the path `/` and gets each entry for its tags.
//! Observed: a role's trust policy (compared as JSON, after IAM's URL
//! encoding), managed policies, tags and given name; a profile's role, tags
//! and given name.

use super::resource::{
    AwsResource, Cx, Query, Res, gone_is_fine, keep_order, observed_tags, outputs_now, send,
};
use super::retry::retry_on;
use super::util::{physical_name, tag_changes, val};
use crate::aws::iam::{IamRole, IamRoleOutputs, InstanceProfile, InstanceProfileOutputs};
use crate::provider::ProviderError;
use crate::resource::{Arn, Input, InstanceProfileName, RoleName, Tags};
use async_trait::async_trait;
use aws_sdk_iam::types::{InstanceProfile as LiveProfile, Role, Tag};
use std::future::Future;
use std::time::Duration;

/// How long IAM may take to show a change everywhere.
const IAM_PROPAGATION: Duration = Duration::from_secs(60);

fn poll(cx: &Cx<'_>) -> Duration {
    cx.c.timeouts.poll.min(Duration::from_secs(2))
}

fn iam_tags(cx: &Cx<'_>, tags: &Tags) -> Result<Option<Vec<Tag>>, ProviderError> {
    if tags.is_empty() {
        return Ok(None);
    }
    let built: Result<Vec<Tag>, _> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let building = |e| ProviderError::internal(format!("{}: building IAM tags: {e}", cx.urn));
    built.map(Some).map_err(building)
}

fn tags_of(tags: &[Tag]) -> Tags {
    observed_tags(tags.iter().map(|t| (t.key(), t.value())))
}

/// The entries `query` names: by name, one Get each (skipping those IAM
/// doesn't know), or every entry `list` names that carries the context's
/// `keel:urn` tag (IAM has no tag filter).
async fn by_query<T, L, G, Fut>(
    cx: &Cx<'_>,
    query: Query<'_>,
    list: L,
    get: G,
    tags: fn(&T) -> &[Tag],
) -> Res<Vec<T>>
where
    L: Future<Output = Res<Vec<String>>>,
    G: Fn(String) -> Fut,
    Fut: Future<Output = Res<T>>,
{
    let names = match query {
        Query::Ids(ids) => ids.to_vec(),
        Query::Tagged => list.await?,
    };
    let mut found = Vec::new();
    for name in names {
        match get(name).await {
            Ok(t) if matches!(query, Query::Ids(_)) || cx.owns(&tags_of(tags(&t))) => found.push(t),
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// `doc` as JSON, decoding IAM's URL encoding first where needed.
fn policy_json(doc: &str) -> Option<serde_json::Value> {
    serde_json::from_str(doc)
        .ok()
        .or_else(|| serde_json::from_str(&url_decode(doc)).ok())
}

fn url_decode(s: &str) -> String {
    let (b, mut out, mut i) = (s.as_bytes(), Vec::new(), 0);
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// -------------------------------------------------------------------- roles

/// A role as IAM has it, with its managed policies.
pub(crate) struct LiveRole {
    role: Role,
    policies: Vec<String>,
}

/// The ARNs of the managed policies attached to role `name`.
async fn attached_policies(cx: &Cx<'_>, name: &str) -> Result<Vec<String>, ProviderError> {
    let call = cx.c.iam.list_attached_role_policies().role_name(name);
    let policies = call.into_paginator().items().send().try_collect().await;
    let policies = policies.map_err(cx.err("ListAttachedRolePolicies"))?;
    Ok(policies
        .iter()
        .filter_map(|p| p.policy_arn())
        .map(str::to_string)
        .collect())
}

async fn get_role(cx: &Cx<'_>, name: String) -> Result<LiveRole, ProviderError> {
    let out = send!(cx, "GetRole", cx.c.iam.get_role().role_name(&name))?;
    let role = out
        .role()
        .ok_or_else(|| cx.missing("GetRole", "role"))?
        .clone();
    let policies = attached_policies(cx, &name).await?;
    Ok(LiveRole { role, policies })
}

async fn attach(cx: &Cx<'_>, name: &str, arn: &str) -> Result<(), ProviderError> {
    let call = cx.c.iam.attach_role_policy();
    let call = call.role_name(name).policy_arn(arn);
    send!(cx, "AttachRolePolicy", call).map(drop)
}

async fn detach(cx: &Cx<'_>, name: &str, arn: &str) -> Result<(), ProviderError> {
    let call = cx.c.iam.detach_role_policy();
    let call = call.role_name(name).policy_arn(arn);
    gone_is_fine(send!(cx, "DetachRolePolicy", call))
}

async fn remove_role(cx: &Cx<'_>, profile: &str, role: &str) -> Result<(), ProviderError> {
    let call = cx.c.iam.remove_role_from_instance_profile();
    let call = call.instance_profile_name(profile).role_name(role);
    gone_is_fine(send!(cx, "RemoveRoleFromInstanceProfile", call))
}

/// Calls `delete` until IAM stops answering `DeleteConflict` (bounded);
/// gone is fine.
async fn delete_when_free<F, Fut>(cx: &Cx<'_>, what: &str, delete: F) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ProviderError>>,
{
    let codes = ["DeleteConflict"];
    gone_is_fine(retry_on(cx.urn, what, &codes, IAM_PROPAGATION, poll(cx), delete).await)
}

/// Detaches, removes from profiles and deletes role `name`; gone is fine.
async fn teardown_role(cx: &Cx<'_>, name: &str) -> Result<(), ProviderError> {
    let attached = match attached_policies(cx, name).await {
        Err(e) if e.is_not_found() => return Ok(()),
        other => other?,
    };
    for arn in &attached {
        detach(cx, name, arn).await?;
    }
    let call = cx.c.iam.list_instance_profiles_for_role().role_name(name);
    let profiles = call.into_paginator().items().send().try_collect().await;
    let profiles = match profiles.map_err(cx.err("ListInstanceProfilesForRole")) {
        Err(e) if e.is_not_found() => return Ok(()),
        other => other?,
    };
    for p in &profiles {
        remove_role(cx, p.instance_profile_name(), name).await?;
    }
    delete_when_free(cx, "IAM to let the role be deleted", || async {
        let call = cx.c.iam.delete_role().role_name(name);
        send!(cx, "DeleteRole", call).map(drop)
    })
    .await
}

#[async_trait]
impl AwsResource for IamRole {
    type Live = LiveRole;

    async fn create(cx: &Cx<'_>, r: &Self) -> Res<Self::Outputs> {
        let name = physical_name(cx.urn, &r.name);
        let call = cx.c.iam.create_role().role_name(&name).path("/");
        let call = call.assume_role_policy_document(&r.assume_role_policy);
        let call = call.set_tags(iam_tags(cx, &r.tags)?);
        let out = send!(cx, "CreateRole", call)?;
        let role = out.role().ok_or_else(|| cx.missing("CreateRole", "role"))?;
        let made = LiveRole {
            role: role.clone(),
            policies: Vec::new(),
        };
        for policy in &r.managed_policy_arns {
            if let Err(e) = attach(cx, &name, policy).await {
                // Roll back, so no role is left that nobody records.
                let _ = teardown_role(cx, &name).await;
                return Err(e);
            }
        }
        Self::outputs(cx, &made)
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let list = async {
            let call = cx.c.iam.list_roles().path_prefix("/");
            let roles = call.into_paginator().items().send().try_collect().await;
            let roles = roles.map_err(cx.err("ListRoles"))?;
            Ok(roles.iter().map(|r| r.role_name().to_string()).collect())
        };
        by_query(cx, query, list, |n| get_role(cx, n), |l| l.role.tags()).await
    }

    fn outputs(_: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let name = RoleName::new(l.role.role_name());
        Ok(IamRoleOutputs {
            id: name.clone(),
            name,
            arn: Arn::new(l.role.arn()),
        })
    }

    fn observe(recorded: &Self, l: &Self::Live) -> Self {
        let r = recorded;
        let live_doc = l.role.assume_role_policy_document();
        let same = live_doc.is_none_or(|d| policy_json(d) == policy_json(&r.assume_role_policy));
        IamRole {
            name: r.name.as_ref().map(|_| l.role.role_name().to_string()),
            assume_role_policy: match (same, live_doc) {
                (false, Some(d)) => policy_json(d).map_or(url_decode(d), |v| v.to_string()),
                _ => r.assume_role_policy.clone(),
            },
            managed_policy_arns: keep_order(&r.managed_policy_arns, &l.policies),
            tags: tags_of(l.role.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let name = id.as_str();
        if old.assume_role_policy != new.assume_role_policy {
            let call = cx.c.iam.update_assume_role_policy().role_name(name);
            let call = call.policy_document(&new.assume_role_policy);
            send!(cx, "UpdateAssumeRolePolicy", call)?;
        }
        let live = attached_policies(cx, name).await?;
        for arn in live.iter().filter(|a| !new.managed_policy_arns.contains(a)) {
            detach(cx, name, arn).await?;
        }
        for arn in new.managed_policy_arns.iter().filter(|a| !live.contains(a)) {
            attach(cx, name, arn).await?;
        }
        let (removed, changed) = tag_changes(&old.tags, &new.tags);
        if !removed.is_empty() {
            let call = cx.c.iam.untag_role().role_name(name);
            let call = call.set_tag_keys(Some(removed.into_keys().collect()));
            send!(cx, "UntagRole", call)?;
        }
        if let Some(tags) = iam_tags(cx, &changed)? {
            let call = cx.c.iam.tag_role().role_name(name).set_tags(Some(tags));
            send!(cx, "TagRole", call)?;
        }
        outputs_now::<Self>(cx, name, "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        teardown_role(cx, id.as_str()).await
    }
}

// --------------------------------------------------------- instance profiles

async fn get_profile(cx: &Cx<'_>, name: String) -> Result<LiveProfile, ProviderError> {
    let call = cx.c.iam.get_instance_profile().instance_profile_name(&name);
    let out = send!(cx, "GetInstanceProfile", call)?;
    let p = out
        .instance_profile()
        .ok_or_else(|| cx.missing("GetInstanceProfile", "profile"))?;
    Ok(p.clone())
}

/// Adds `role` to profile `name`; a role created a moment ago may not be
/// visible yet, so `NoSuchEntity` is retried for a while.
async fn add_role(cx: &Cx<'_>, name: &str, role: &str) -> Result<(), ProviderError> {
    let what = "IAM to know the role";
    retry_on(
        cx.urn,
        what,
        &["NoSuchEntity"],
        IAM_PROPAGATION,
        poll(cx),
        || async {
            let call = cx.c.iam.add_role_to_instance_profile();
            let call = call.instance_profile_name(name).role_name(role);
            send!(cx, "AddRoleToInstanceProfile", call).map(drop)
        },
    )
    .await
}

/// Removes every role from profile `name` and deletes it; gone is fine.
async fn teardown_profile(cx: &Cx<'_>, name: &str) -> Result<(), ProviderError> {
    let Some(p) = super::resource::live::<InstanceProfile>(cx, name).await? else {
        return Ok(());
    };
    for role in p.roles() {
        remove_role(cx, name, role.role_name()).await?;
    }
    delete_when_free(cx, "IAM to let the profile be deleted", || async {
        let call = cx.c.iam.delete_instance_profile();
        let call = call.instance_profile_name(name);
        send!(cx, "DeleteInstanceProfile", call).map(drop)
    })
    .await
}

#[async_trait]
impl AwsResource for InstanceProfile {
    type Live = LiveProfile;

    async fn create(cx: &Cx<'_>, p: &Self) -> Res<Self::Outputs> {
        let name = physical_name(cx.urn, &p.name);
        let role = val(&p.role);
        let call = cx.c.iam.create_instance_profile().path("/");
        let call = call
            .instance_profile_name(&name)
            .set_tags(iam_tags(cx, &p.tags)?);
        let out = send!(cx, "CreateInstanceProfile", call)?;
        let made = out.instance_profile();
        let made = made.ok_or_else(|| cx.missing("CreateInstanceProfile", "profile"))?;
        if let Err(e) = add_role(cx, &name, &role).await {
            // Roll back, so no profile is left that nobody records.
            let _ = teardown_profile(cx, &name).await;
            return Err(e);
        }
        Self::outputs(cx, made)
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let list = async {
            let call = cx.c.iam.list_instance_profiles().path_prefix("/");
            let listed = call.into_paginator().items().send().try_collect().await;
            let listed = listed.map_err(cx.err("ListInstanceProfiles"))?;
            Ok(listed
                .iter()
                .map(|p| p.instance_profile_name().to_string())
                .collect())
        };
        by_query(cx, query, list, |n| get_profile(cx, n), LiveProfile::tags).await
    }

    fn outputs(_: &Cx<'_>, p: &Self::Live) -> Res<Self::Outputs> {
        let name = InstanceProfileName::new(p.instance_profile_name());
        Ok(InstanceProfileOutputs {
            id: name.clone(),
            name,
            arn: Arn::new(p.arn()),
        })
    }

    fn observe(recorded: &Self, p: &Self::Live) -> Self {
        let r = recorded;
        let role = p.roles().first().map(|role| role.role_name());
        InstanceProfile {
            name: r
                .name
                .as_ref()
                .map(|_| p.instance_profile_name().to_string()),
            role: role.map_or(r.role.clone(), |n| Input::Value(RoleName::new(n))),
            tags: tags_of(p.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let name = id.as_str();
        let role = val(&new.role);
        let p = super::resource::must_live::<Self>(cx, name, "before the update").await?;
        let have: Vec<&str> = p.roles().iter().map(|r| r.role_name()).collect();
        // A profile holds at most one role: the old one must leave first.
        for other in have.iter().filter(|r| **r != role) {
            remove_role(cx, name, other).await?;
        }
        if !have.contains(&role.as_str()) {
            add_role(cx, name, &role).await?;
        }
        let (removed, changed) = tag_changes(&old.tags, &new.tags);
        if !removed.is_empty() {
            let call = cx.c.iam.untag_instance_profile();
            let call = call.instance_profile_name(name);
            let call = call.set_tag_keys(Some(removed.into_keys().collect()));
            send!(cx, "UntagInstanceProfile", call)?;
        }
        if let Some(tags) = iam_tags(cx, &changed)? {
            let call = cx.c.iam.tag_instance_profile().instance_profile_name(name);
            send!(cx, "TagInstanceProfile", call.set_tags(Some(tags)))?;
        }
        outputs_now::<Self>(cx, name, "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        teardown_profile(cx, id.as_str()).await
    }
}
