//! Target registration and health in the simulated cloud. Each RUNNING
//! task of a service with load balancer bindings is a target of the bound
//! target group: its instance and host port, or (`awsvpc`) its interface's
//! address and the container port; a task that stops is deregistered at
//! once (the deregistration delay isn't modelled). A target's health is
//! what ELB would report: `unused` (`Target.NotInUse`) while no load
//! balancer forwards to the group, `initial` while the load balancer is
//! provisioning and for the group's first `healthy_threshold` checks, then
//! `healthy` if some active load balancer forwarding to the group reaches
//! the target on the health-check port (`analysis::serving::lb_reaches_target`,
//! the rules the pre-deploy checks apply), else `unhealthy` with
//! `Target.Timeout`; a health check on a port the task doesn't listen on is
//! refused (`Target.FailedHealthChecks`). An unhealthy target is its
//! service's `last_event`, in the words of ECS's service event. ECS would
//! also stop such tasks and start new ones; the simulator leaves them
//! running.

use super::SimProvider;
use super::cloud::{Clock, Cloud};
use super::table::{Life, Phase, Record};
use super::target_groups::{Health, TargetRec};
use super::tasks::TaskStatus;
use crate::analysis::network::Model;
use crate::analysis::reach::Source;
use crate::analysis::serving::lb_reaches_target;
use crate::aws::elb::{HealthCheckPort, TargetGroupArn};
use ipnet::Ipv4Net;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// One registered target, as [`SimProvider::targets`] reports it (ELB's
/// DescribeTargetHealth).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimTarget {
    /// Its target group.
    pub target_group: TargetGroupArn,
    /// `i-…`, or the task's IP address.
    pub id: String,
    /// The port it receives traffic on.
    pub port: u16,
    /// `initial`, `healthy`, `unhealthy` or `unused`.
    pub health: String,
    /// ELB's reason code unless healthy (`Target.Timeout`,
    /// `Target.FailedHealthChecks`, `Target.NotInUse`,
    /// `Elb.RegistrationInProgress`).
    pub reason: Option<String>,
    /// Why, in words: for a timeout, where the path from the load balancer
    /// is blocked.
    pub description: Option<String>,
}

impl SimProvider {
    /// Every registered target of every target group, with its health now.
    ///
    /// ```
    /// let sim = keel::provider::sim::SimProvider::in_memory();
    /// assert!(sim.targets().is_empty());
    /// ```
    pub fn targets(&self) -> Vec<SimTarget> {
        self.peek(|c| {
            let groups = c.target_groups.values();
            let each = groups.flat_map(|g| g.targets.iter().map(move |t| (g, t)));
            each.map(|(g, t)| SimTarget {
                target_group: TargetGroupArn::new(&g.arn),
                id: t.id.clone(),
                port: t.port,
                health: t.health.as_str().to_string(),
                reason: t.reason.clone(),
                description: t.description.clone(),
            })
            .collect()
        })
    }
}

/// A target a RUNNING task should be, and where health checks reach it.
#[derive(Clone, Debug)]
struct Wanted {
    /// The service whose task it is (its ARN).
    service: String,
    /// `i-…` or the task's address.
    id: String,
    port: u16,
    /// Ports the task listens on there (host ports, or container ports).
    listening: Vec<u16>,
    label: String,
    subnet: String,
    address: Ipv4Addr,
    public_ip: bool,
    groups: Vec<String>,
}

/// A target's health and, unless healthy, ELB's reason code and why.
type Verdict = (Health, Option<String>, Option<String>);

impl Cloud {
    /// The targets every target group should have now, from the services'
    /// RUNNING tasks.
    fn wanted_targets(&self) -> BTreeMap<String, Vec<Wanted>> {
        let mut wanted: BTreeMap<String, Vec<Wanted>> = BTreeMap::new();
        let services = self.services.values().filter(|s| s.life() != Life::Gone);
        for s in services {
            let running = s.tasks.iter().filter(|t| t.status == TaskStatus::Running);
            for t in running {
                let Some(i) = self.instances.find(&t.instance_id) else {
                    continue;
                };
                for b in &s.load_balancers {
                    let Some(port) = t.port_for(b.container_port) else {
                        continue;
                    };
                    let target = match &t.eni {
                        Some(e) => Wanted {
                            service: s.arn.clone(),
                            id: e.private_ip.to_string(),
                            port,
                            listening: t.ports.iter().map(|(c, _)| *c).chain([port]).collect(),
                            label: format!("task {} ({})", t.id, e.private_ip),
                            subnet: e.subnet_id.clone(),
                            address: e.private_ip,
                            public_ip: false,
                            groups: s
                                .network
                                .iter()
                                .flat_map(|n| n.security_group_ids.clone())
                                .collect(),
                        },
                        None => Wanted {
                            service: s.arn.clone(),
                            id: i.id.clone(),
                            port,
                            listening: t.ports.iter().map(|(_, h)| *h).collect(),
                            label: format!("{}:{port} (task {})", i.id, t.id),
                            subnet: i.subnet_id.clone(),
                            address: i.private_ip,
                            public_ip: i.public_ip.is_some(),
                            groups: i.security_group_ids.clone(),
                        },
                    };
                    wanted
                        .entry(b.target_group_arn.clone())
                        .or_default()
                        .push(target);
                }
            }
        }
        wanted
    }

    /// Registers and deregisters targets to match the RUNNING tasks, and
    /// decides every target's health; unhealthy ones are their service's
    /// last event.
    pub(super) fn sync_targets(&mut self, model: &Model, clock: &Clock) {
        let mut wanted = self.wanted_targets();
        let mut events = Vec::new();
        let arns: Vec<String> = self.target_groups.keys().cloned().collect();
        for arn in arns {
            let want = wanted.remove(&arn).unwrap_or_default();
            let Some(tg) = self.target_groups.find(&arn) else {
                continue;
            };
            let mut targets = Vec::new();
            for w in &want {
                let old = tg.targets.iter().find(|t| t.id == w.id && t.port == w.port);
                let registered_ms = old.map_or(clock.now, |t| t.registered_ms);
                let (health, reason, description) =
                    self.verdict(&arn, w, registered_ms, model, clock);
                if health == Health::Unhealthy {
                    let event = format!(
                        "(service {}) ({}) (port {}) is unhealthy in target-group {} due to (reason {})",
                        self.services
                            .find(&w.service)
                            .map_or("?", |s| s.name.as_str()),
                        w.label,
                        w.port,
                        tg.name,
                        description.as_deref().unwrap_or_default()
                    );
                    events.push((w.service.clone(), event));
                }
                targets.push(TargetRec {
                    id: w.id.clone(),
                    port: w.port,
                    health,
                    reason,
                    description,
                    registered_ms,
                });
            }
            if let Ok(tg) = self.target_groups.get_mut(&arn) {
                tg.targets = targets;
            }
        }
        for (service, event) in events {
            if let Ok(s) = self.services.get_mut(&service) {
                s.last_event = event;
            }
        }
    }

    /// The health of target `w` of group `arn`, registered at `registered_ms`.
    fn verdict(
        &self,
        arn: &str,
        w: &Wanted,
        registered_ms: u64,
        model: &Model,
        clock: &Clock,
    ) -> Verdict {
        let Some(tg) = self.target_groups.find(arn) else {
            return (Health::Unused, None, None);
        };
        let lbs = self.load_balancers_of(arn);
        if lbs.is_empty() {
            let why = "Target group is not configured to receive traffic from the load balancer";
            return (
                Health::Unused,
                Some("Target.NotInUse".into()),
                Some(why.into()),
            );
        }
        let active: Vec<&String> = lbs
            .iter()
            .filter(|l| {
                self.load_balancers
                    .find(l)
                    .is_some_and(|l| l.state == Phase::Available)
            })
            .collect();
        let check = &tg.health_check;
        let window =
            f64::from(check.interval_seconds) * f64::from(check.healthy_threshold) * 1000.0;
        let window = (window * clock.latency.scale()).round() as u64;
        if active.is_empty() || clock.now < registered_ms.saturating_add(window) {
            let why = "Target registration is in progress";
            return (
                Health::Initial,
                Some("Elb.RegistrationInProgress".into()),
                Some(why.into()),
            );
        }
        let port = match check.port {
            HealthCheckPort::TrafficPort => w.port,
            HealthCheckPort::Port(p) => p,
        };
        let source = Source {
            label: &w.label,
            subnet: &w.subnet,
            address: Ipv4Net::from(w.address),
            public_ip: w.public_ip,
            security_groups: &w.groups,
        };
        let mut blocked = Vec::new();
        for lb in active {
            match lb_reaches_target(model, lb, &source, port) {
                Ok(_) if w.listening.contains(&port) => return (Health::Healthy, None, None),
                Ok(_) => {
                    let why = format!(
                        "Health checks failed: connection refused on port {port} (the task listens on {:?})",
                        w.listening
                    );
                    return (
                        Health::Unhealthy,
                        Some("Target.FailedHealthChecks".into()),
                        Some(why),
                    );
                }
                Err(b) => blocked.push(format!("{}: {} ({})", model.label(lb), b.reason, b.code)),
            }
        }
        let why = format!("Request timed out: {}", blocked.join("; "));
        (Health::Unhealthy, Some("Target.Timeout".into()), Some(why))
    }
}
