//! The serving checks before deploy: every load balancer spans two zones
//! (one subnet each); internet clients reach every listener of an
//! internet-facing one; each ECS service is declared the way the API
//! accepts (container and port in its task definition, target type and VPC
//! of its target group, a listener forwarding to it); it has instances to
//! run on (else one error naming the hosts' root cause); its images can be
//! pulled from every subnet its tasks run in; and its load balancers reach
//! the tasks on the traffic and health-check ports. Declaration checks are
//! in [`super::service_decl`], fix texts in [`super::service_fix`].

use super::declared::{Declared, EcsHosts, urn_of};
use super::declared_lb::{ServiceDecl, TargetGroupDecl};
use super::findings::{Finding, Severity};
use super::network::{Key, Model};
use super::reach::{Blocked, Code, Source};
use super::service_decl::{consistent, hosts_of, load_balancer_checks, load_balancer_waits};
use super::service_fix::{image_fix, listener_fix, target_fix};
use super::serving::{image_pull_detail, internet_reaches_listener, lb_reaches_target, zones};
use crate::aws::ecs_task::NetworkMode;
use crate::aws::elb::HealthCheckPort;
use crate::resource::Urn;
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The host ports ECS hands out for a dynamic mapping in bridge mode.
pub(crate) const DYNAMIC_PORTS: (u16, u16) = (32768, 65535);

pub(super) fn finding(code: Code, urn: &Urn, message: String, fix: String) -> Finding {
    Finding {
        code,
        policy: None,
        severity: if code.is_error() {
            Severity::Error
        } else {
            Severity::Warning
        },
        urn: urn.clone(),
        subnet: None,
        field: None,
        message,
        path: Vec::new(),
        blocked_at: None,
        fix,
    }
}

fn blocked_finding(
    code: Code,
    urn: &Urn,
    subnet: Option<String>,
    message: String,
    b: Blocked,
    fix: String,
) -> Finding {
    Finding {
        subnet,
        field: None,
        path: b.hops,
        blocked_at: Some(b.reason),
        ..finding(code, urn, message, fix)
    }
}

pub(super) fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn listener_checks(d: &Declared, out: &mut Vec<Finding>) {
    let model = &d.model;
    // ELB associates a target group with one load balancer only.
    let mut by_group: BTreeMap<&Urn, BTreeSet<&Key>> = BTreeMap::new();
    for l in &d.serving.listeners {
        if let (Some(tg), Some(lb)) = (&l.target_group, &l.lb) {
            by_group.entry(tg).or_default().insert(lb);
        }
    }
    for (tg, lbs) in by_group.iter().filter(|(_, lbs)| lbs.len() > 1) {
        let names: Vec<&str> = lbs.iter().map(|k| model.label(k)).collect();
        out.push(finding(
            Code::Inconsistent,
            tg,
            format!(
                "target group {} is forwarded to by load balancers {}: ELB associates a target group with one load balancer",
                tg.name(),
                names.join(" and ")
            ),
            "give each load balancer its own target group (and bind the service to each), or forward from one load balancer only".to_string(),
        ));
    }
    for l in &d.serving.listeners {
        let Some((lb_key, lb)) =
            l.lb.as_ref()
                .and_then(|k| model.load_balancers.get_key_value(k))
        else {
            continue;
        };
        let tg = l
            .target_group
            .as_ref()
            .and_then(|u| d.serving.target_group(u));
        if let Some(tg) = tg
            && !lb.vpc.is_empty()
            && tg.vpc != lb.vpc
        {
            out.push(finding(
                Code::OtherVpc,
                &l.urn,
                format!(
                    "listener {} of load balancer {} forwards to target group {} of VPC {}, but the load balancer is in VPC {}: ELB rejects it",
                    l.urn.name(),
                    lb.label,
                    tg.urn.name(),
                    model.label(&tg.vpc),
                    model.label(&lb.vpc)
                ),
                format!(
                    "declare target group {} in the load balancer's VPC: TargetGroup::http({}, {}.id())",
                    tg.urn.name(),
                    tg.port,
                    model.label(&lb.vpc)
                ),
            ));
        }
        if !lb.internet_facing || zones(model, lb).len() < 2 {
            continue;
        }
        if let Err(b) = internet_reaches_listener(model, lb_key, l.port) {
            // A subnet's route is the load balancer's problem, not one listener's.
            let urn = match b.code {
                Code::LoadBalancerNoInternetRoute | Code::GatewayNotAttached => {
                    urn_of(lb_key).unwrap_or_else(|| l.urn.clone())
                }
                _ => l.urn.clone(),
            };
            let message = match b.code {
                Code::LoadBalancerNoInternetRoute | Code::GatewayNotAttached => format!(
                    "internet-facing load balancer {} can't answer internet clients: one of its subnets doesn't route to an attached internet gateway",
                    lb.label
                ),
                _ => format!(
                    "internet clients can't reach listener {} (port {}) of load balancer {}",
                    l.urn.name(),
                    l.port,
                    lb.label
                ),
            };
            let fix = listener_fix(model, lb_key, &b, l.port);
            out.push(blocked_finding(b.code, &urn, None, message, b, fix));
        }
    }
}

/// The subnets of `h` where no finding stops its instances from
/// registering and connecting, and the first finding that does.
fn usable<'f>(
    d: &Declared,
    h: &EcsHosts,
    host_findings: &'f [Finding],
) -> (Vec<Key>, Option<&'f Finding>) {
    let stopping: Vec<&Finding> = host_findings
        .iter()
        .filter(|f| f.urn == h.urn && f.is_error())
        .collect();
    if stopping.iter().any(|f| f.subnet.is_none()) {
        return (
            Vec::new(),
            stopping.into_iter().find(|f| f.subnet.is_none()),
        );
    }
    let mut seen = BTreeSet::new();
    let subnets = h
        .subnets
        .iter()
        .filter(|s| seen.insert(*s))
        .filter(|s| {
            d.model.subnets.get(*s).is_some_and(|facts| {
                !stopping
                    .iter()
                    .any(|f| f.subnet.as_deref() == Some(facts.label.as_str()))
            })
        })
        .cloned()
        .collect();
    (subnets, stopping.first().copied())
}

/// Where a service's tasks run, as sources of traffic.
struct TaskPlace {
    label: String,
    subnet: Key,
    address: Ipv4Net,
    public_ip: bool,
    groups: Vec<Key>,
    hosts: usize,
}

impl TaskPlace {
    fn source(&self) -> Source<'_> {
        Source {
            label: &self.label,
            subnet: &self.subnet,
            address: self.address,
            public_ip: self.public_ip,
            security_groups: &self.groups,
        }
    }
}

/// Where `s`'s tasks run, or the finding saying they can't run anywhere.
fn places(
    d: &Declared,
    s: &ServiceDecl,
    host_findings: &[Finding],
) -> Result<Vec<TaskPlace>, Box<Finding>> {
    let name = s.urn.name();
    let hosts = hosts_of(d, s);
    let cluster = match urn_of(&s.cluster) {
        Some(u) => u.name().to_string(),
        None => s.cluster.clone(),
    };
    if hosts.is_empty() {
        let mut f = finding(
            Code::NoCapacity,
            &s.urn,
            format!(
                "service {name} has no instances to run on: no Auto Scaling group's instances join cluster {cluster}"
            ),
            format!(
                "declare an Auto Scaling group whose launch template's user data writes ECS_CLUSTER from cluster {cluster} (cluster.name().map(|n| format!(\"#!/bin/bash\\necho ECS_CLUSTER={{n}} >> /etc/ecs/ecs.config\\n\"))), with an instance profile and a path to ECS"
            ),
        );
        // Groups whose user data sends their agent elsewhere: the root cause.
        let elsewhere = host_findings
            .iter()
            .find(|f| matches!(f.code, Code::WrongCluster | Code::ClusterNotSet));
        if let Some(c) = elsewhere {
            f.blocked_at = Some(format!("{} on {}: {}", c.code, c.urn.name(), c.message));
            f.fix = format!("fix {} on {} first: {}", c.code, c.urn.name(), c.fix);
        }
        return Err(Box::new(f));
    }
    let mut places = Vec::new();
    let mut cause = None;
    for (i, h) in hosts.iter().enumerate() {
        let (subnets, why) = usable(d, h, host_findings);
        cause = cause.or(why);
        for k in subnets {
            let Some(f) = d.model.subnets.get(&k) else {
                continue;
            };
            places.push(TaskPlace {
                label: format!("instances of {}", h.urn.name()),
                address: f
                    .cidr
                    .unwrap_or_else(|| Ipv4Net::from(Ipv4Addr::UNSPECIFIED)),
                public_ip: h.public_ip.unwrap_or(f.map_public_ip),
                groups: h.security_groups.clone(),
                subnet: k,
                hosts: i,
            });
        }
    }
    if places.is_empty() {
        let names: Vec<&str> = hosts.iter().map(|h| h.urn.name()).collect();
        let mut f = finding(
            Code::NoCapacity,
            &s.urn,
            format!(
                "service {name} has no instances to run on: instances of {} can't register with cluster {cluster} or connect their agent",
                names.join(", ")
            ),
            "fix the hosts' finding above; the service's tasks are placed once its instances register".into(),
        );
        if let Some(c) = cause {
            f.blocked_at = Some(format!("{} on {}: {}", c.code, c.urn.name(), c.message));
            f.path = c.path.clone();
            f.fix = format!("fix {} on {} first: {}", c.code, c.urn.name(), c.fix);
        }
        return Err(Box::new(f));
    }
    if s.mode() != NetworkMode::Awsvpc {
        return Ok(places);
    }
    let host_zones: BTreeMap<String, usize> = places
        .iter()
        .filter_map(|p| {
            d.model
                .subnets
                .get(&p.subnet)
                .map(|f| (f.az.clone(), p.hosts))
        })
        .collect();
    let mut tasks = Vec::new();
    for k in &s.subnets {
        let Some(f) = d.model.subnets.get(k) else {
            continue;
        };
        let Some(hosts) = host_zones.get(&f.az) else {
            continue;
        };
        let groups = if s.security_groups.is_empty() {
            vec![super::declared::sibling(
                &f.vpc,
                "default_security_group_id",
            )]
        } else {
            s.security_groups.clone()
        };
        tasks.push(TaskPlace {
            label: format!("tasks of {name}"),
            subnet: k.clone(),
            address: f
                .cidr
                .unwrap_or_else(|| Ipv4Net::from(Ipv4Addr::UNSPECIFIED)),
            public_ip: false,
            groups,
            hosts: *hosts,
        });
    }
    if tasks.is_empty() {
        let zones: Vec<&str> = host_zones.keys().map(String::as_str).collect();
        return Err(Box::new(finding(
            Code::NoCapacity,
            &s.urn,
            format!(
                "service {name}'s awsvpc subnets are in no availability zone where the cluster's instances run ({}): ECS can't give a task an interface",
                list(&zones)
            ),
            format!(
                "add a subnet of {} to service {name}'s network",
                list(&zones)
            ),
        )));
    }
    Ok(tasks)
}

/// Every port of `range` where some rule of the model starts or stops
/// deciding (the decision is constant between those), for range checks.
fn boundary_ports(model: &Model, range: (u16, u16)) -> Vec<u16> {
    let mut ports = BTreeSet::from([range.0, range.1]);
    let sg = model
        .security_groups
        .values()
        .flat_map(|g| g.ingress.iter().chain(&g.egress))
        .map(|r| r.ports);
    let acl = model
        .network_acls
        .values()
        .flat_map(|a| a.ingress.iter().chain(&a.egress))
        .map(|r| r.ports);
    for (lo, hi) in sg.chain(acl) {
        for p in [Some(lo), lo.checked_sub(1), Some(hi), hi.checked_add(1)]
            .into_iter()
            .flatten()
        {
            if range.0 <= p && p <= range.1 {
                ports.insert(p);
            }
        }
    }
    ports.into_iter().collect()
}

fn service_checks(d: &Declared, host_findings: &[Finding], out: &mut Vec<Finding>) {
    for s in &d.serving.services {
        let name = s.urn.name();
        let Some((td_urn, td)) = &s.task_definition else {
            out.push(finding(
                Code::Unknown,
                &s.urn,
                format!("service {name}'s task definition isn't declared in this stack: its tasks can't be checked"),
                "declare the task definition in this stack, or check its images and ports by hand".into(),
            ));
            continue;
        };
        if !consistent(d, s, out) {
            continue;
        }
        let places = match places(d, s, host_findings) {
            Ok(p) => p,
            Err(f) => {
                out.push(*f);
                continue;
            }
        };
        let hosts = hosts_of(d, s);
        fixed_port_capacity(s, td, &hosts, &places, out);
        let images: BTreeSet<&str> = td.containers.iter().map(|c| c.image.as_str()).collect();
        for p in &places {
            let subnet = d.model.label(&p.subnet).to_string();
            for image in &images {
                if let Err((service, b)) = image_pull_detail(&d.model, &p.source(), image) {
                    let fix = image_fix(&d.model, &b, hosts[p.hosts], &p.subnet, image);
                    let message = format!(
                        "{} in subnet {subnet} can't pull image {image} of task definition {}: no path to {service}, so service {name}'s tasks stop with CannotPullContainerError",
                        p.label,
                        td_urn.name()
                    );
                    out.push(blocked_finding(
                        Code::ImagePull,
                        &s.urn,
                        Some(subnet.clone()),
                        message,
                        b,
                        fix,
                    ));
                }
            }
        }
        for b in &s.service.load_balancers {
            let Some(tg) = urn_of(&super::declared::key(&b.target_group_arn))
                .and_then(|u| d.serving.target_group(&u))
            else {
                continue;
            };
            let Some(c) = td.find_container(&b.container_name) else {
                continue;
            };
            let Some(mapping) = c
                .port_mappings
                .iter()
                .find(|p| p.container_port == b.container_port)
            else {
                continue;
            };
            let traffic = match (s.mode(), mapping.host_port) {
                (NetworkMode::Bridge, Some(0)) => DYNAMIC_PORTS,
                (NetworkMode::Bridge, Some(h)) => (h, h),
                _ => (b.container_port, b.container_port),
            };
            target_checks(d, s, tg, td, traffic, &places, out);
        }
    }
}

/// Tasks that take a fixed host port fit once per instance: more desired
/// than the cluster's usable instances never all run.
fn fixed_port_capacity(
    s: &ServiceDecl,
    td: &crate::aws::ecs_task::TaskDefinition,
    hosts: &[&EcsHosts],
    places: &[TaskPlace],
    out: &mut Vec<Finding>,
) {
    let fixed = td
        .containers
        .iter()
        .flat_map(|c| &c.port_mappings)
        .find_map(|m| match (s.mode(), m.host_port) {
            (NetworkMode::Bridge, Some(0)) | (NetworkMode::Awsvpc, _) => None,
            (NetworkMode::Bridge, Some(h)) => Some(h),
            _ => Some(m.container_port),
        });
    let Some(port) = fixed else { return };
    let used: BTreeSet<usize> = places.iter().map(|p| p.hosts).collect();
    let instances: u32 = used.iter().map(|i| hosts[*i].capacity).sum();
    if s.service.desired_count > instances {
        let name = s.urn.name();
        out.push(finding(
            Code::NoCapacity,
            &s.urn,
            format!(
                "service {name} wants {} tasks, but each takes host port {port} and the cluster keeps {instances} instance(s) for them: at most {instances} run",
                s.service.desired_count
            ),
            format!("map the port dynamically (PortMapping::dynamic) in bridge mode, or raise the Auto Scaling group's capacity to {}", s.service.desired_count),
        ));
    }
}

fn target_checks(
    d: &Declared,
    s: &ServiceDecl,
    tg: &TargetGroupDecl,
    td: &crate::aws::ecs_task::TaskDefinition,
    traffic: (u16, u16),
    places: &[TaskPlace],
    out: &mut Vec<Finding>,
) {
    let model = &d.model;
    let name = s.urn.name();
    let mut ports = boundary_ports(model, traffic);
    if let HealthCheckPort::Port(p) = tg.health_port {
        let listening: BTreeSet<u16> = td
            .containers
            .iter()
            .flat_map(|c| &c.port_mappings)
            .filter_map(|m| match (s.mode(), m.host_port) {
                (NetworkMode::Bridge, Some(0)) => None,
                (NetworkMode::Bridge, Some(h)) => Some(h),
                _ => Some(m.container_port),
            })
            .collect();
        if !listening.contains(&p) {
            let open: Vec<String> = listening.iter().map(u16::to_string).collect();
            out.push(finding(
                Code::HealthCheckPortClosed,
                &tg.urn,
                format!(
                    "target group {} checks health on port {p}, where service {name}'s tasks don't listen (fixed ports: {}): every target stays unhealthy",
                    tg.urn.name(),
                    list(&open.iter().map(String::as_str).collect::<Vec<_>>())
                ),
                format!("check the traffic port (drop .port({p}) from target group {}'s health check) or map port {p} in task definition {}", tg.urn.name(), s.task_definition.as_ref().map_or("", |(u, _)| u.name())),
            ));
            return;
        }
        ports.push(p);
    }
    let lbs: BTreeSet<&Key> = d
        .serving
        .listeners
        .iter()
        .filter(|l| l.target_group.as_ref() == Some(&tg.urn))
        .filter_map(|l| l.lb.as_ref())
        .collect();
    for lb in lbs {
        for place in places {
            let src = place.source();
            let blocked = ports.iter().find_map(|p| {
                lb_reaches_target(model, lb, &src, *p)
                    .err()
                    .map(|b| (*p, b))
            });
            if let Some((port, b)) = blocked {
                let range = if traffic.0 <= port && port <= traffic.1 {
                    traffic
                } else {
                    (port, port)
                };
                let what = if range.0 == range.1 {
                    format!("port {port}")
                } else {
                    format!("ports {}-{}", range.0, range.1)
                };
                let message = format!(
                    "load balancer {} can't reach {} in subnet {} on {what} (target group {}), so service {name}'s targets stay unhealthy",
                    model.label(lb),
                    place.label,
                    model.label(&place.subnet),
                    tg.urn.name()
                );
                let fix = target_fix(model, lb, &src, &b, range);
                out.push(blocked_finding(
                    b.code,
                    &s.urn,
                    Some(model.label(&place.subnet).to_string()),
                    message,
                    b,
                    fix,
                ));
            }
        }
    }
}

/// Every serving finding for the declared stack; `host_findings` are the
/// ECS hosts' (a service on hosts that can't register gets one finding
/// naming their cause).
pub(crate) fn check(d: &Declared, host_findings: &[Finding]) -> Vec<Finding> {
    let mut out = Vec::new();
    load_balancer_checks(&d.model, &mut out);
    load_balancer_waits(d, &mut out);
    listener_checks(d, &mut out);
    service_checks(d, host_findings, &mut out);
    let mut seen = BTreeSet::new();
    out.retain(|f| {
        let what = f.blocked_at.clone().unwrap_or_else(|| f.message.clone());
        seen.insert((f.urn.clone(), f.code, f.subnet.clone(), what))
    });
    out
}
