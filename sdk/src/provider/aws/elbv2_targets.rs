//! Target groups and listeners (ELB v2); tags and batching are shared with
//! load balancers in `elbv2`.
//!
//! A target group is created with its protocol, port, VPC, target type and
//! health check, then its deregistration delay is set
//! (`ModifyTargetGroupAttributes`); `ModifyTargetGroup` changes the health
//! check. Its outputs count registered and `healthy` targets as
//! `DescribeTargetHealth` reports them (on moto nothing registers, since no
//! ECS task runs). Deleting one a listener still forwards to fails with
//! `ResourceInUse` for a moment after the listener went; that is retried,
//! bounded by [`Timeouts::load_balancer`](super::Timeouts).
//!
//! A listener's default action forwards to its target group; an HTTPS one
//! carries its certificate and ELB's recommended TLS policy
//! (`ELBSecurityPolicy-TLS13-1-2-2021-06`). `ModifyListener` changes the
//! port, protocol, certificate and target group in place. Listeners are
//! described by ARN; a search by tag walks every load balancer's listeners.

use super::elbv2::{ELB_BATCH, describe_lbs, elb_name, elb_tags, sync_elb_tags, tags_by_arn};
use super::resource::{AwsResource, Cx, Query, Res, gone_is_fine, must_live, send};
use super::retry::retry_on;
use super::util::val;
use crate::aws::elb::{
    AppProtocol, HealthCheck, HealthCheckPort, Listener, ListenerArn, ListenerOutputs,
    LoadBalancerArn, TargetGroup, TargetGroupArn, TargetGroupOutputs,
};
use crate::resource::{Arn, Input, Tags};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener as LiveListenerDesc, Matcher, ProtocolEnum,
    TargetGroup as LiveTg, TargetGroupAttribute, TargetHealthStateEnum, TargetTypeEnum,
};

/// ELB's recommended TLS policy for HTTPS listeners.
const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// The attribute key of the deregistration delay.
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

fn protocol(p: AppProtocol) -> ProtocolEnum {
    ProtocolEnum::from(p.as_str())
}

fn app_protocol(p: Option<&ProtocolEnum>) -> Option<AppProtocol> {
    match p? {
        ProtocolEnum::Http => Some(AppProtocol::Http),
        ProtocolEnum::Https => Some(AppProtocol::Https),
        _ => None,
    }
}

fn health_port(p: HealthCheckPort) -> String {
    match p {
        HealthCheckPort::TrafficPort => "traffic-port".into(),
        HealthCheckPort::Port(n) => n.to_string(),
    }
}

/// Applies health check `$hc` to `$call` (CreateTargetGroup and
/// ModifyTargetGroup take the same fields).
macro_rules! with_health_check {
    ($call:expr_2021, $hc:expr_2021) => {{
        let hc: &HealthCheck = $hc;
        let matcher = Matcher::builder().http_code(&hc.matcher).build();
        $call
            .health_check_enabled(true)
            .health_check_protocol(protocol(hc.protocol))
            .health_check_path(&hc.path)
            .health_check_port(health_port(hc.port))
            .healthy_threshold_count(i32::from(hc.healthy_threshold))
            .unhealthy_threshold_count(i32::from(hc.unhealthy_threshold))
            .health_check_interval_seconds(i32::from(hc.interval_seconds))
            .health_check_timeout_seconds(i32::from(hc.timeout_seconds))
            .matcher(matcher)
    }};
}

/// A target group as described, with its tags, deregistration delay and
/// target counts.
#[derive(Debug)]
pub(crate) struct LiveTargetGroup {
    tg: LiveTg,
    tags: Tags,
    deregistration_delay: Option<u32>,
    registered: u64,
    healthy: u64,
}

async fn deregistration_delay(cx: &Cx<'_>, arn: &str) -> Res<Option<u32>> {
    let call = cx.c.elb.describe_target_group_attributes();
    let out = send!(
        cx,
        "DescribeTargetGroupAttributes",
        call.target_group_arn(arn)
    )?;
    Ok(out
        .attributes()
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
        .and_then(|a| a.value()?.parse().ok()))
}

async fn set_deregistration_delay(cx: &Cx<'_>, arn: &str, seconds: u32) -> Res<()> {
    let attr = TargetGroupAttribute::builder()
        .key(DEREGISTRATION_DELAY)
        .value(seconds.to_string())
        .build();
    let call = cx.c.elb.modify_target_group_attributes();
    let call = call.target_group_arn(arn).attributes(attr);
    send!(cx, "ModifyTargetGroupAttributes", call).map(drop)
}

/// Registered and healthy targets of target group `arn`.
async fn target_counts(cx: &Cx<'_>, arn: &str) -> Res<(u64, u64)> {
    let call = cx.c.elb.describe_target_health().target_group_arn(arn);
    let out = send!(cx, "DescribeTargetHealth", call)?;
    let all = out.target_health_descriptions();
    let healthy = all
        .iter()
        .filter(|d| {
            d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
        })
        .count();
    Ok((all.len() as u64, healthy as u64))
}

async fn describe_tgs(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<LiveTg>> {
    match query {
        Query::Ids(arns) => {
            let mut found = Vec::new();
            for chunk in arns.chunks(ELB_BATCH) {
                let call = cx.c.elb.describe_target_groups();
                let call = call.set_target_group_arns(Some(chunk.to_vec()));
                let out = send!(cx, "DescribeTargetGroups", call)?;
                found.extend(out.target_groups().iter().cloned());
            }
            Ok(found)
        }
        Query::Tagged => {
            let pages = cx.c.elb.describe_target_groups().into_paginator().send();
            let pages = pages
                .try_collect()
                .await
                .map_err(cx.err("DescribeTargetGroups"))?;
            Ok(pages
                .iter()
                .flat_map(|p| p.target_groups().to_vec())
                .collect())
        }
    }
}

#[async_trait]
impl AwsResource for TargetGroup {
    type Live = LiveTargetGroup;

    async fn create(cx: &Cx<'_>, tg: &Self) -> Res<Self::Outputs> {
        let name = elb_name(cx.urn, &tg.name);
        let call = cx.c.elb.create_target_group().name(&name);
        let call = call
            .protocol(protocol(tg.protocol))
            .port(i32::from(tg.port));
        let call = call.vpc_id(val(&tg.vpc_id));
        let kind = match tg.target_type {
            crate::aws::elb::TargetType::Instance => TargetTypeEnum::Instance,
            crate::aws::elb::TargetType::Ip => TargetTypeEnum::Ip,
        };
        let call = with_health_check!(call.target_type(kind), &tg.health_check);
        let call = call.set_tags((!tg.tags.is_empty()).then(|| elb_tags(&tg.tags)));
        let out = send!(cx, "CreateTargetGroup", call)?;
        let made = out.target_groups().first();
        let arn = cx.new_id("CreateTargetGroup", made.and_then(|t| t.target_group_arn()))?;
        set_deregistration_delay(cx, &arn, tg.deregistration_delay_seconds).await?;
        Self::outputs(cx, &must_live::<Self>(cx, &arn, "after creation").await?)
    }

    /// By ARN, 20 a call; by tag, every target group listed and the tagged
    /// ones kept. Each with its attributes and target health.
    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let tgs = describe_tgs(cx, query).await?;
        let arns: Vec<String> = tgs
            .iter()
            .filter_map(|t| t.target_group_arn().map(str::to_string))
            .collect();
        let mut tags = tags_by_arn(cx, &arns).await?;
        let mut out = Vec::new();
        for tg in tgs {
            let arn = tg.target_group_arn().unwrap_or_default().to_string();
            let tags = tags.remove(&arn).unwrap_or_default();
            if matches!(query, Query::Tagged) && !cx.owns(&tags) {
                continue;
            }
            let deregistration_delay = deregistration_delay(cx, &arn).await?;
            let (registered, healthy) = target_counts(cx, &arn).await?;
            out.push(LiveTargetGroup {
                tg,
                tags,
                deregistration_delay,
                registered,
                healthy,
            });
        }
        Ok(out)
    }

    fn outputs(cx: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let arn =
            l.tg.target_group_arn()
                .ok_or_else(|| cx.missing("DescribeTargetGroups", "target group ARN"))?;
        Ok(TargetGroupOutputs {
            id: TargetGroupArn::new(arn),
            arn: TargetGroupArn::new(arn),
            name: l.tg.target_group_name().unwrap_or_default().to_string(),
            load_balancer_arns: l
                .tg
                .load_balancer_arns()
                .iter()
                .map(LoadBalancerArn::new)
                .collect(),
            registered_targets: l.registered,
            healthy_targets: l.healthy,
        })
    }

    fn observe(r: &Self, l: &Self::Live) -> Self {
        let tg = &l.tg;
        let was = &r.health_check;
        let num = |v: Option<i32>, d: u16| v.and_then(|v| u16::try_from(v).ok()).unwrap_or(d);
        let count = |v: Option<i32>, d: u8| v.and_then(|v| u8::try_from(v).ok()).unwrap_or(d);
        let port = match tg.health_check_port() {
            Some("traffic-port") => HealthCheckPort::TrafficPort,
            Some(p) => p.parse().map_or(was.port, HealthCheckPort::Port),
            None => was.port,
        };
        TargetGroup {
            name: r
                .name
                .as_ref()
                .map(|n| tg.target_group_name().unwrap_or(n).to_string()),
            protocol: app_protocol(tg.protocol()).unwrap_or(r.protocol),
            port: tg
                .port()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(r.port),
            vpc_id: r.vpc_id.clone(),
            target_type: match tg.target_type() {
                Some(TargetTypeEnum::Ip) => crate::aws::elb::TargetType::Ip,
                Some(TargetTypeEnum::Instance) => crate::aws::elb::TargetType::Instance,
                _ => r.target_type,
            },
            health_check: HealthCheck {
                protocol: app_protocol(tg.health_check_protocol()).unwrap_or(was.protocol),
                path: tg.health_check_path().unwrap_or(&was.path).to_string(),
                port,
                healthy_threshold: count(tg.healthy_threshold_count(), was.healthy_threshold),
                unhealthy_threshold: count(tg.unhealthy_threshold_count(), was.unhealthy_threshold),
                interval_seconds: num(tg.health_check_interval_seconds(), was.interval_seconds),
                timeout_seconds: num(tg.health_check_timeout_seconds(), was.timeout_seconds),
                matcher: tg
                    .matcher()
                    .and_then(|m| m.http_code())
                    .unwrap_or(&was.matcher)
                    .to_string(),
            },
            deregistration_delay_seconds: l
                .deregistration_delay
                .unwrap_or(r.deregistration_delay_seconds),
            tags: l.tags.clone(),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let arn = id.as_str();
        if old.health_check != new.health_check {
            let call = cx.c.elb.modify_target_group().target_group_arn(arn);
            send!(
                cx,
                "ModifyTargetGroup",
                with_health_check!(call, &new.health_check)
            )?;
        }
        if old.deregistration_delay_seconds != new.deregistration_delay_seconds {
            set_deregistration_delay(cx, arn, new.deregistration_delay_seconds).await?;
        }
        sync_elb_tags(cx, arn, &old.tags, &new.tags).await?;
        Self::outputs(cx, &must_live::<Self>(cx, arn, "during the update").await?)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let arn = id.as_str();
        let t = cx.c.timeouts;
        let what = format!("target group {arn} to be released by its listeners and rules");
        let deleted = retry_on(
            cx.urn,
            &what,
            &["ResourceInUse"],
            t.load_balancer,
            t.poll,
            || async {
                let call = cx.c.elb.delete_target_group().target_group_arn(arn);
                send!(cx, "DeleteTargetGroup", call).map(drop)
            },
        )
        .await;
        gone_is_fine(deleted)
    }
}

/// A listener as described, with its tags.
#[derive(Debug)]
pub(crate) struct LiveListener {
    listener: LiveListenerDesc,
    tags: Tags,
}

/// The target group a listener's default action forwards to.
fn forwards_to(l: &LiveListenerDesc) -> Option<String> {
    let forward = l
        .default_actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    let direct = forward.target_group_arn().map(str::to_string);
    direct.or_else(|| {
        let tuples = forward.forward_config()?.target_groups();
        tuples.first()?.target_group_arn().map(str::to_string)
    })
}

fn forward(target_group_arn: String) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

fn certificates(l: &Listener) -> Option<Vec<Certificate>> {
    let arn = l.certificate_arn.as_ref()?;
    Some(vec![
        Certificate::builder().certificate_arn(val(arn)).build(),
    ])
}

async fn describe_listeners(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<LiveListenerDesc>> {
    let mut found = Vec::new();
    match query {
        Query::Ids(arns) => {
            for chunk in arns.chunks(ELB_BATCH) {
                let call = cx.c.elb.describe_listeners();
                let call = call.set_listener_arns(Some(chunk.to_vec()));
                let out = send!(cx, "DescribeListeners", call)?;
                found.extend(out.listeners().iter().cloned());
            }
        }
        Query::Tagged => {
            for lb in describe_lbs(cx, None).await? {
                let Some(lb_arn) = lb.load_balancer_arn() else {
                    continue;
                };
                let call = cx.c.elb.describe_listeners().load_balancer_arn(lb_arn);
                let pages = call.into_paginator().send().try_collect().await;
                match pages.map_err(cx.err("DescribeListeners")) {
                    Ok(pages) => found.extend(pages.iter().flat_map(|p| p.listeners().to_vec())),
                    // Deleted between the two calls.
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(found)
}

#[async_trait]
impl AwsResource for Listener {
    type Live = LiveListener;

    async fn create(cx: &Cx<'_>, l: &Self) -> Res<Self::Outputs> {
        let call = cx.c.elb.create_listener();
        let call = call.load_balancer_arn(val(&l.load_balancer_arn));
        let call = call.port(i32::from(l.port)).protocol(protocol(l.protocol));
        let call = call.default_actions(forward(val(&l.target_group_arn)));
        let call = call.set_certificates(certificates(l));
        let https = l.protocol == AppProtocol::Https;
        let call = call.set_ssl_policy(https.then(|| SSL_POLICY.to_string()));
        let call = call.set_tags((!l.tags.is_empty()).then(|| elb_tags(&l.tags)));
        let out = send!(cx, "CreateListener", call)?;
        let made = out.listeners().first();
        let arn = cx.new_id("CreateListener", made.and_then(|l| l.listener_arn()))?;
        Ok(ListenerOutputs {
            id: ListenerArn::new(&arn),
            arn: ListenerArn::new(&arn),
        })
    }

    /// By ARN, 20 a call; by tag, the listeners of every load balancer with
    /// the tagged ones kept.
    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let listeners = describe_listeners(cx, query).await?;
        let arns: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_string))
            .collect();
        let mut tags = tags_by_arn(cx, &arns).await?;
        let mut out = Vec::new();
        for listener in listeners {
            let arn = listener.listener_arn().unwrap_or_default();
            let tags = tags.remove(arn).unwrap_or_default();
            if matches!(query, Query::Tagged) && !cx.owns(&tags) {
                continue;
            }
            out.push(LiveListener { listener, tags });
        }
        Ok(out)
    }

    fn outputs(cx: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let arn = l
            .listener
            .listener_arn()
            .ok_or_else(|| cx.missing("DescribeListeners", "listener ARN"))?;
        Ok(ListenerOutputs {
            id: ListenerArn::new(arn),
            arn: ListenerArn::new(arn),
        })
    }

    fn observe(r: &Self, l: &Self::Live) -> Self {
        let d = &l.listener;
        let cert = d.certificates().first().and_then(|c| c.certificate_arn());
        Listener {
            load_balancer_arn: d
                .load_balancer_arn()
                .map_or(r.load_balancer_arn.clone(), |a| {
                    Input::Value(LoadBalancerArn::new(a))
                }),
            port: d
                .port()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(r.port),
            protocol: app_protocol(d.protocol()).unwrap_or(r.protocol),
            certificate_arn: cert.map(|c| Input::Value(Arn::new(c))),
            target_group_arn: forwards_to(d).map_or(r.target_group_arn.clone(), |a| {
                Input::Value(TargetGroupArn::new(a))
            }),
            tags: l.tags.clone(),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let arn = id.as_str();
        let call = cx.c.elb.modify_listener().listener_arn(arn);
        let call = call
            .port(i32::from(new.port))
            .protocol(protocol(new.protocol));
        let call = call.default_actions(forward(val(&new.target_group_arn)));
        let call = call.set_certificates(certificates(new));
        let https = new.protocol == AppProtocol::Https;
        let call = call.set_ssl_policy(https.then(|| SSL_POLICY.to_string()));
        send!(cx, "ModifyListener", call)?;
        sync_elb_tags(cx, arn, &old.tags, &new.tags).await?;
        Self::outputs(cx, &must_live::<Self>(cx, arn, "during the update").await?)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let call = cx.c.elb.delete_listener().listener_arn(id.as_str());
        gone_is_fine(send!(cx, "DeleteListener", call))
    }
}
