//! The serving checks on declarations alone, before any reachability:
//! what the ELB and ECS APIs would reject (a load balancer's zones, a
//! service's container, port, target type, VPC, capacity provider, a target
//! group without a listener or a service that doesn't wait for it), and
//! which Auto Scaling groups a service's tasks are placed on.

use super::declared::{Declared, EcsHosts, urn_of};
use super::declared_lb::ServiceDecl;
use super::ecs::public_gateway;
use super::findings::Finding;
use super::network::Model;
use super::reach::Code;
use super::service::{finding, list};
use super::serving::zones;
use crate::aws::ecs_task::NetworkMode;
use crate::aws::elb::TargetType;
use crate::resource::Urn;
use std::collections::BTreeMap;

/// Zones and subnets of every load balancer: ELB takes at least two zones,
/// one subnet per zone.
pub(super) fn load_balancer_checks(model: &Model, out: &mut Vec<Finding>) {
    for (k, lb) in &model.load_balancers {
        let Some(urn) = urn_of(k) else { continue };
        let mut by_zone: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in lb.subnets.iter().filter_map(|s| model.subnets.get(s)) {
            by_zone.entry(&s.az).or_default().push(&s.label);
        }
        let used = zones(model, lb);
        let shared: Vec<String> = by_zone
            .iter()
            .filter(|(_, l)| l.len() > 1)
            .map(|(az, l)| format!("{} share {az}", l.join(" and ")))
            .collect();
        if used.len() < 2 || !shared.is_empty() {
            let spare = model
                .subnets
                .iter()
                .filter(|(_, s)| s.vpc == lb.vpc && !used.contains(&s.az))
                .filter(|(sk, _)| !lb.internet_facing || public_gateway(model, sk).is_some())
                .map(|(_, s)| s)
                .next();
            let fix = match spare {
                _ if used.len() >= 2 => format!(
                    "keep one subnet per zone in load balancer {}: {}",
                    lb.label,
                    shared.join("; ")
                ),
                Some(s) => format!(
                    "add subnet {} ({}) to load balancer {}: .subnet({}.id())",
                    s.label, s.az, lb.label, s.label
                ),
                None => format!(
                    "declare a{} subnet in a second availability zone of VPC {} and add it to load balancer {}",
                    if lb.internet_facing { " public" } else { "" },
                    model.label(&lb.vpc),
                    lb.label
                ),
            };
            out.push(finding(
                Code::LoadBalancerOneZone,
                &urn,
                format!(
                    "load balancer {} has subnets in {} availability zone(s) ({}){}: ELB takes an application load balancer's subnets in at least two zones, one subnet per zone",
                    lb.label,
                    used.len(),
                    list(&used.iter().map(String::as_str).collect::<Vec<_>>()),
                    if shared.is_empty() { String::new() } else { format!(", and {}", shared.join("; ")) }
                ),
                fix,
            ));
        }
    }
}

/// An internet-facing load balancer must be created after its VPC's
/// internet gateway: ELB refuses one in a VPC with no gateway attached
/// (`InvalidSubnet`), and keel creates resources that don't depend on each
/// other in parallel.
pub(super) fn load_balancer_waits(d: &Declared, out: &mut Vec<Finding>) {
    for (k, lb) in &d.model.load_balancers {
        let Some(urn) = urn_of(k) else { continue };
        let Some(after) = d.serving.lb_after.get(&urn) else {
            continue;
        };
        if !lb.internet_facing {
            continue;
        }
        let gateways: Vec<(Urn, &str)> = d
            .model
            .internet_gateways
            .iter()
            .filter(|(_, g)| g.vpc.as_ref() == Some(&lb.vpc))
            .filter_map(|(gk, g)| Some((urn_of(gk)?, g.label.as_str())))
            .collect();
        if gateways.is_empty() || gateways.iter().any(|(g, _)| after.contains(g)) {
            continue;
        }
        let igw = gateways[0].1;
        out.push(finding(
            Code::Inconsistent,
            &urn,
            format!(
                "internet-facing load balancer {} doesn't depend on internet gateway {igw}, so keel may create it first, and ELB rejects an internet-facing load balancer in a VPC with no internet gateway attached (InvalidSubnet)",
                lb.label
            ),
            format!(
                "make load balancer {} depend on the gateway: stack.add_with(\"{}\", lb, ResourceOptions::new().depends_on({igw}.urn()))",
                lb.label, lb.label
            ),
        ));
    }
}

/// A cluster reference as one comparable name: a declared cluster's
/// literal name, else its URN; a literal as is.
pub(super) fn cluster_identity(d: &Declared, reference: &str) -> String {
    match urn_of(reference) {
        Some(urn) => match d.clusters.iter().find(|c| c.urn == urn) {
            Some(c) => c.name.clone().unwrap_or_else(|| urn.to_string()),
            None => urn.to_string(),
        },
        None => reference.to_string(),
    }
}

/// Declaration errors the ECS and ELB APIs would reject; `false` if any.
pub(super) fn consistent(d: &Declared, s: &ServiceDecl, out: &mut Vec<Finding>) -> bool {
    let before = out.len();
    let name = s.urn.name();
    let Some((td_urn, td)) = &s.task_definition else {
        return true;
    };
    let td_name = td_urn.name();
    let mode = td.network_mode;
    match (mode == NetworkMode::Awsvpc, s.service.network.is_some()) {
        (true, false) => out.push(finding(
            Code::Inconsistent,
            &s.urn,
            format!("service {name} runs task definition {td_name} in awsvpc mode without a network configuration: ECS rejects it"),
            format!("give service {name} its tasks' subnets and groups: .network(TaskNetwork {{ subnet_ids: vec![private_a.id()], security_group_ids: vec![tasks.id()] }})"),
        )),
        (false, true) => out.push(finding(
            Code::Inconsistent,
            &s.urn,
            format!("service {name} has a network configuration, but task definition {td_name} uses {} mode: ECS takes one only for awsvpc", mode.as_str()),
            format!("set .network_mode(NetworkMode::Awsvpc) on task definition {td_name}, or drop service {name}'s network"),
        )),
        _ => {}
    }
    if let Some(cp_cluster) = &s.capacity_cluster
        && cluster_identity(d, cp_cluster) != cluster_identity(d, &s.cluster)
    {
        out.push(finding(
            Code::Inconsistent,
            &s.urn,
            format!("service {name}'s capacity provider is associated with another cluster than the service's: ECS rejects it"),
            format!("give the capacity provider service {name}'s cluster (CapacityProvider::new(asg.arn(), cluster.name()))"),
        ));
    }
    let names: Vec<&str> = td.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, b) in s.service.load_balancers.iter().enumerate() {
        let field = format!("load_balancers[{i}]");
        let Some(c) = td.find_container(&b.container_name) else {
            out.push(finding(
                Code::Inconsistent,
                &s.urn,
                format!(
                    "service {name}'s {field}.container_name `{}` is not a container of task definition {td_name} (it has {})",
                    b.container_name,
                    list(&names)
                ),
                format!("name one of task definition {td_name}'s containers ({}) in service {name}'s load balancer", list(&names)),
            ));
            continue;
        };
        if !c
            .port_mappings
            .iter()
            .any(|p| p.container_port == b.container_port)
        {
            let mapped: Vec<String> = c
                .port_mappings
                .iter()
                .map(|p| p.container_port.to_string())
                .collect();
            let mapping = if mode == NetworkMode::Bridge {
                "dynamic"
            } else {
                "same"
            };
            out.push(finding(
                Code::Inconsistent,
                &s.urn,
                format!(
                    "service {name}'s {field}.container_port {}: container `{}` of task definition {td_name} maps no such port (it maps {})",
                    b.container_port,
                    c.name,
                    list(&mapped.iter().map(String::as_str).collect::<Vec<_>>())
                ),
                format!(
                    "add .port(PortMapping::{mapping}({})) to container `{}` of task definition {td_name}, or bind a port it maps",
                    b.container_port, c.name
                ),
            ));
        }
        let Some(tg) = urn_of(&super::declared::key(&b.target_group_arn))
            .and_then(|u| d.serving.target_group(&u))
        else {
            continue;
        };
        let tg_name = tg.urn.name();
        match (tg.target_type, mode) {
            (TargetType::Instance, NetworkMode::Awsvpc) => out.push(finding(
                Code::Inconsistent,
                &s.urn,
                format!("target group {tg_name} has target type instance, but service {name}'s tasks use awsvpc mode: ECS registers their IP addresses, so it rejects the target group"),
                format!("make target group {tg_name} take IP targets: TargetGroup::http({}, vpc.id()).ip_targets()", tg.port),
            )),
            (TargetType::Ip, NetworkMode::Bridge | NetworkMode::Host) => out.push(finding(
                Code::Inconsistent,
                &s.urn,
                format!("target group {tg_name} has target type ip, but service {name}'s tasks use {} mode, which registers instances", mode.as_str()),
                format!("drop .ip_targets() from target group {tg_name}, or run the tasks in awsvpc mode"),
            )),
            _ => {}
        }
        let listeners: Vec<&Urn> = d
            .serving
            .listeners
            .iter()
            .filter(|l| l.target_group.as_ref() == Some(&tg.urn))
            .map(|l| &l.urn)
            .collect();
        if listeners.is_empty() {
            out.push(finding(
                Code::Inconsistent,
                &s.urn,
                format!("target group {tg_name} of service {name} is not the target of any listener: ECS rejects a target group with no load balancer"),
                format!("add a listener that forwards to it: Listener::http(lb.arn(), 80, {tg_name}.arn())"),
            ));
        } else if !listeners.iter().any(|l| s.after.contains(*l)) {
            let l = listeners[0].name();
            out.push(finding(
                Code::Inconsistent,
                &s.urn,
                format!("service {name} doesn't wait for listener {l}: keel creates them in parallel, and ECS rejects a service whose target group {tg_name} has no load balancer yet"),
                format!("make service {name} depend on the listener: stack.add_with(\"{name}\", service, ResourceOptions::new().depends_on(listener.urn()))"),
            ));
        }
        let task_subnets = if mode == NetworkMode::Awsvpc {
            s.subnets.clone()
        } else {
            hosts_of(d, s)
                .iter()
                .flat_map(|h| h.subnets.clone())
                .collect()
        };
        if let Some(vpc) = task_subnets
            .iter()
            .find_map(|k| d.model.subnets.get(k))
            .map(|f| &f.vpc)
            && *vpc != tg.vpc
        {
            out.push(finding(
                Code::OtherVpc,
                &s.urn,
                format!(
                    "target group {tg_name} is in VPC {}, but service {name}'s tasks run in VPC {}: ELB rejects targets outside the group's VPC",
                    d.model.label(&tg.vpc),
                    d.model.label(vpc)
                ),
                format!("declare target group {tg_name} in VPC {}: TargetGroup::http({}, {}.id())", d.model.label(vpc), tg.port, d.model.label(vpc)),
            ));
        }
    }
    out.len() == before
}

/// The groups of instances a service's tasks are placed on.
pub(super) fn hosts_of<'d>(d: &'d Declared, s: &ServiceDecl) -> Vec<&'d EcsHosts> {
    let cluster = cluster_identity(d, &s.cluster);
    d.hosts
        .iter()
        // A group whose cluster keel can't read (W106) is given the doubt.
        .filter(|h| {
            h.cluster
                .joins()
                .is_none_or(|c| cluster_identity(d, c) == cluster)
        })
        .filter(|h| s.capacity_group.as_ref().is_none_or(|g| *g == h.urn))
        .collect()
}
