//! Application load balancers (ELB v2), and what ELB's three resource
//! types share: tags (ELB has no tag filter on its Describe calls, so tags
//! are read with `DescribeTags`, at most 20 ARNs a call, and a search by
//! tag lists everything and keeps what carries the `keel:urn` tag) and
//! batching by 20 ARNs (`DescribeLoadBalancers` and `DescribeTargetGroups`
//! take at most 20 names or ARNs).
//!
//! A load balancer is created with its scheme, subnets, groups and tags,
//! then its idle timeout is set (`ModifyLoadBalancerAttributes`), and keel
//! waits (bounded by [`Timeouts::load_balancer`](super::Timeouts)) until it
//! is `active`; `failed` is an error naming the reason ELB gives. An update
//! calls `SetSubnets`, `SetSecurityGroups` and the attribute call only for
//! what changed. Deleting waits until `DescribeLoadBalancers` answers
//! `LoadBalancerNotFound`. Observed: subnets (from its zones), groups, the
//! idle timeout, tags and the given name; the scheme is observed as well.
//! On moto a load balancer is `provisioning` until first described, then
//! `active`.

use super::resource::{AwsResource, Cx, Query, Res, keep_order, must_live, observed_tags, send};
use super::util::{tag_changes, vals, wait_for};
use crate::aws::elb::{LoadBalancer, LoadBalancerArn, LoadBalancerOutputs, Scheme};
use crate::provider::ProviderError;
use crate::resource::{Input, SecurityGroupId, SubnetId, Tags, Urn, VpcId};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer as LiveLb, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    Tag,
};
use std::collections::BTreeMap;

/// The most names or ARNs ELB's Describe calls (and `DescribeTags`) take.
pub(super) const ELB_BATCH: usize = 20;

/// The attribute key of the idle timeout.
const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";

/// ELB tags.
pub(super) fn elb_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A name for an ELB resource: the one given, else the logical name cut to
/// fit with 7 random hex digits (ELB names are at most 32 characters of
/// letters, digits and hyphens).
pub(super) fn elb_name(urn: &Urn, given: &Option<String>) -> String {
    if let Some(n) = given {
        return n.clone();
    }
    let base: String = urn
        .name()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect();
    let base = base.trim_matches('-');
    let base = if base.is_empty() || base.starts_with("internal") {
        "keel"
    } else {
        base
    };
    format!("{base}-{:07x}", fastrand::u32(..0x1000_0000))
}

/// The tags of each of `arns` (load balancers, target groups or listeners).
pub(super) async fn tags_by_arn(cx: &Cx<'_>, arns: &[String]) -> Res<BTreeMap<String, Tags>> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(ELB_BATCH) {
        let call =
            cx.c.elb
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()));
        let found = send!(cx, "DescribeTags", call)?;
        for d in found.tag_descriptions() {
            let Some(arn) = d.resource_arn() else {
                continue;
            };
            let pairs = d.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)));
            out.insert(arn.to_string(), observed_tags(pairs));
        }
    }
    Ok(out)
}

/// Adds, changes and removes tags so ELB resource `arn` carries `new`.
pub(super) async fn sync_elb_tags(cx: &Cx<'_>, arn: &str, old: &Tags, new: &Tags) -> Res<()> {
    let (removed, changed) = tag_changes(old, new);
    if !removed.is_empty() {
        let call = cx.c.elb.remove_tags().resource_arns(arn);
        let call = call.set_tag_keys(Some(removed.into_keys().collect()));
        send!(cx, "RemoveTags", call)?;
    }
    if !changed.is_empty() {
        let call = cx.c.elb.add_tags().resource_arns(arn);
        send!(cx, "AddTags", call.set_tags(Some(elb_tags(&changed))))?;
    }
    Ok(())
}

/// A load balancer as described, with its tags and idle timeout.
#[derive(Debug)]
pub(crate) struct LiveLoadBalancer {
    lb: LiveLb,
    tags: Tags,
    idle_timeout: Option<u32>,
}

/// Load balancers by ARN (20 a call), or every one when `arns` is `None`.
pub(super) async fn describe_lbs(cx: &Cx<'_>, arns: Option<&[String]>) -> Res<Vec<LiveLb>> {
    let Some(arns) = arns else {
        let pages = cx.c.elb.describe_load_balancers().into_paginator().send();
        let pages = pages
            .try_collect()
            .await
            .map_err(cx.err("DescribeLoadBalancers"))?;
        return Ok(pages
            .iter()
            .flat_map(|p| p.load_balancers().to_vec())
            .collect());
    };
    let mut found = Vec::new();
    for chunk in arns.chunks(ELB_BATCH) {
        let call = cx.c.elb.describe_load_balancers();
        let out = send!(
            cx,
            "DescribeLoadBalancers",
            call.set_load_balancer_arns(Some(chunk.to_vec()))
        )?;
        found.extend(out.load_balancers().iter().cloned());
    }
    Ok(found)
}

async fn idle_timeout(cx: &Cx<'_>, arn: &str) -> Res<Option<u32>> {
    let call = cx.c.elb.describe_load_balancer_attributes();
    let out = send!(
        cx,
        "DescribeLoadBalancerAttributes",
        call.load_balancer_arn(arn)
    )?;
    Ok(out
        .attributes()
        .iter()
        .find(|a| a.key() == Some(IDLE_TIMEOUT))
        .and_then(|a| a.value()?.parse().ok()))
}

async fn set_idle_timeout(cx: &Cx<'_>, arn: &str, seconds: u32) -> Res<()> {
    let attr = LoadBalancerAttribute::builder()
        .key(IDLE_TIMEOUT)
        .value(seconds.to_string())
        .build();
    let call = cx.c.elb.modify_load_balancer_attributes();
    let call = call.load_balancer_arn(arn).attributes(attr);
    send!(cx, "ModifyLoadBalancerAttributes", call).map(drop)
}

fn state_of(lb: &LiveLb) -> &str {
    lb.state()
        .and_then(|s| s.code())
        .map_or("unknown", |c| c.as_str())
}

/// Waits until load balancer `arn` is `active`; its outputs.
async fn wait_active(cx: &Cx<'_>, arn: &str) -> Res<LoadBalancerOutputs> {
    let t = cx.c.timeouts;
    let what = format!("load balancer {arn} to become active");
    let live = wait_for(cx.urn, &what, t.load_balancer, t.poll, || async {
        let l = must_live::<LoadBalancer>(cx, arn, "while being provisioned").await?;
        match state_of(&l.lb) {
            "active" => Ok(Some(l)),
            "failed" => {
                let why =
                    l.lb.state()
                        .and_then(|s| s.reason())
                        .unwrap_or("no reason given");
                Err(ProviderError::new(
                    "LoadBalancerFailed",
                    format!("{}: load balancer {arn} failed to provision: {why}", cx.urn),
                ))
            }
            _ => Ok(None),
        }
    })
    .await?;
    LoadBalancer::outputs(cx, &live)
}

fn subnets_of(lb: &LiveLb) -> Vec<String> {
    lb.availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect()
}

#[async_trait]
impl AwsResource for LoadBalancer {
    type Live = LiveLoadBalancer;

    async fn create(cx: &Cx<'_>, lb: &Self) -> Res<Self::Outputs> {
        let name = elb_name(cx.urn, &lb.name);
        let call = cx.c.elb.create_load_balancer().name(&name);
        let call = call.r#type(LoadBalancerTypeEnum::Application);
        let call = call.scheme(LoadBalancerSchemeEnum::from(lb.scheme.as_str()));
        let call = call.set_subnets(Some(vals(&lb.subnet_ids)));
        let groups = vals(&lb.security_group_ids);
        let call = call.set_security_groups((!groups.is_empty()).then_some(groups));
        let call = call.set_tags((!lb.tags.is_empty()).then(|| elb_tags(&lb.tags)));
        let out = send!(cx, "CreateLoadBalancer", call)?;
        let made = out.load_balancers().first();
        let arn = cx.new_id(
            "CreateLoadBalancer",
            made.and_then(|l| l.load_balancer_arn()),
        )?;
        if lb.idle_timeout_seconds != 60 {
            set_idle_timeout(cx, &arn, lb.idle_timeout_seconds).await?;
        }
        wait_active(cx, &arn).await
    }

    /// By ARN, 20 a call, with their tags and idle timeouts; by tag, every
    /// load balancer listed and the tagged ones kept.
    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let lbs = match query {
            Query::Ids(arns) => describe_lbs(cx, Some(arns)).await?,
            Query::Tagged => describe_lbs(cx, None).await?,
        };
        let arns: Vec<String> = lbs
            .iter()
            .filter_map(|l| l.load_balancer_arn().map(str::to_string))
            .collect();
        let mut tags = tags_by_arn(cx, &arns).await?;
        let mut out = Vec::new();
        for lb in lbs {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            let tags = tags.remove(&arn).unwrap_or_default();
            if matches!(query, Query::Tagged) && !cx.owns(&tags) {
                continue;
            }
            let idle_timeout = idle_timeout(cx, &arn).await?;
            out.push(LiveLoadBalancer {
                lb,
                tags,
                idle_timeout,
            });
        }
        Ok(out)
    }

    fn outputs(cx: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let lb = &l.lb;
        let arn = lb
            .load_balancer_arn()
            .ok_or_else(|| cx.missing("DescribeLoadBalancers", "load balancer ARN"))?;
        Ok(LoadBalancerOutputs {
            id: LoadBalancerArn::new(arn),
            arn: LoadBalancerArn::new(arn),
            name: lb.load_balancer_name().unwrap_or_default().to_string(),
            dns_name: lb.dns_name().unwrap_or_default().to_string(),
            canonical_hosted_zone_id: lb
                .canonical_hosted_zone_id()
                .unwrap_or_default()
                .to_string(),
            vpc_id: VpcId::new(lb.vpc_id().unwrap_or_default()),
            state: state_of(lb).to_string(),
        })
    }

    fn observe(r: &Self, l: &Self::Live) -> Self {
        let lb = &l.lb;
        let scheme = match lb.scheme() {
            Some(LoadBalancerSchemeEnum::Internal) => Scheme::Internal,
            Some(LoadBalancerSchemeEnum::InternetFacing) => Scheme::InternetFacing,
            _ => r.scheme,
        };
        let groups = lb.security_groups().to_vec();
        LoadBalancer {
            name: r
                .name
                .as_ref()
                .map(|n| lb.load_balancer_name().unwrap_or(n).to_string()),
            scheme,
            subnet_ids: keep_order(&vals(&r.subnet_ids), &subnets_of(lb))
                .iter()
                .map(|s| Input::Value(SubnetId::new(s)))
                .collect(),
            // No groups given: ELB puts the VPC's default group on it.
            security_group_ids: if r.security_group_ids.is_empty() && groups.len() <= 1 {
                Vec::new()
            } else {
                keep_order(&vals(&r.security_group_ids), &groups)
                    .iter()
                    .map(|g| Input::Value(SecurityGroupId::new(g)))
                    .collect()
            },
            idle_timeout_seconds: l.idle_timeout.unwrap_or(r.idle_timeout_seconds),
            tags: l.tags.clone(),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let arn = id.as_str();
        let live = must_live::<Self>(cx, arn, "before the update").await?;
        let (mut want, mut have) = (vals(&new.subnet_ids), subnets_of(&live.lb));
        want.sort();
        have.sort();
        if want != have {
            let call = cx.c.elb.set_subnets().load_balancer_arn(arn);
            send!(cx, "SetSubnets", call.set_subnets(Some(want)))?;
        }
        let (mut want, mut have) = (
            vals(&new.security_group_ids),
            live.lb.security_groups().to_vec(),
        );
        want.sort();
        have.sort();
        if !want.is_empty() && want != have {
            let call = cx.c.elb.set_security_groups().load_balancer_arn(arn);
            send!(
                cx,
                "SetSecurityGroups",
                call.set_security_groups(Some(want))
            )?;
        }
        if live.idle_timeout != Some(new.idle_timeout_seconds) {
            set_idle_timeout(cx, arn, new.idle_timeout_seconds).await?;
        }
        sync_elb_tags(cx, arn, &old.tags, &new.tags).await?;
        wait_active(cx, arn).await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let arn = id.as_str();
        let call = cx.c.elb.delete_load_balancer().load_balancer_arn(arn);
        match send!(cx, "DeleteLoadBalancer", call) {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
        let t = cx.c.timeouts;
        let what = format!("load balancer {arn} to be deleted");
        wait_for(cx.urn, &what, t.load_balancer, t.poll, || async {
            let arns = [arn.to_string()];
            match describe_lbs(cx, Some(&arns)).await {
                Ok(found) => Ok(found.is_empty().then_some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                Err(e) => Err(e),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::elb_name;
    use crate::resource::Urn;

    #[test]
    fn generated_names_fit_elbs_rule() {
        let long = Urn::new(
            "s",
            "aws:elbv2:LoadBalancer",
            "a_very_long_logical_name_of_a_balancer",
        );
        let name = elb_name(&long, &None);
        assert!(name.len() <= 32, "{name}");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let internal = Urn::new("s", "aws:elbv2:LoadBalancer", "internal-web");
        assert!(elb_name(&internal, &None).starts_with("keel-"));
        let given = Some("web".to_string());
        assert_eq!(elb_name(&long, &given), "web");
    }
}
