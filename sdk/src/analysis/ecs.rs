//! The ECS checks: for every group of instances that runs the ECS agent,
//! can its instances reach the regional ECS endpoints over HTTPS from each
//! subnet they launch into, do they have an instance profile, and does their
//! user data name this stack's cluster? Plus the availability warnings (one
//! NAT gateway for several zones). Every finding comes with a concrete fix
//! phrased with the program's own names.

use super::declared::{Declared, EcsHosts, urn_of};
use super::findings::{Finding, Severity};
use super::network::{Key, Model, NatFacts, RouteTableFacts, SubnetFacts, Target};
use super::reach::{Blocked, Code, Source, reach_service};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

const INTERNET: Ipv4Addr = Ipv4Addr::new(8, 8, 8, 8);

fn region_of(az: &str) -> &str {
    az.trim_end_matches(|c: char| c.is_ascii_lowercase())
}

/// Whether `subnet`'s route table sends the internet to an attached
/// internet gateway (the gateway's key if so).
pub(super) fn public_gateway(model: &Model, subnet: &str) -> Option<Key> {
    let vpc = &model.subnets.get(subnet)?.vpc;
    let (_, rt) = model.route_table_of(subnet)?;
    match model.best_route(rt, INTERNET)? {
        (_, Target::InternetGateway(g))
            if model.internet_gateways.get(&g)?.vpc.as_ref() == Some(vpc) =>
        {
            Some(g)
        }
        _ => None,
    }
}

/// Public NAT gateways of `vpc` that really reach the internet, those in
/// `az` first.
pub(crate) fn working_nats<'m>(model: &'m Model, vpc: &str, az: &str) -> Vec<(&'m Key, &'m Key)> {
    let mut nats: Vec<(&Key, &Key, bool)> = model
        .nat_gateways
        .iter()
        .filter(|(_, n)| n.public && n.has_eip)
        .filter(|(_, n)| model.subnets.get(&n.subnet).is_some_and(|s| s.vpc == vpc))
        .filter(|(_, n)| public_gateway(model, &n.subnet).is_some())
        .map(|(k, n)| {
            (
                k,
                &n.subnet,
                model.subnets.get(&n.subnet).is_some_and(|s| s.az == az),
            )
        })
        .collect();
    nats.sort_by_key(|(_, _, same)| !same);
    nats.into_iter().map(|(k, s, _)| (k, s)).collect()
}

pub(super) fn public_subnet_in(model: &Model, vpc: &str, az: &str) -> Option<Key> {
    model
        .subnets
        .iter()
        .filter(|(_, s)| s.vpc == vpc && s.az == az)
        .find(|(k, _)| public_gateway(model, k).is_some())
        .map(|(k, _)| k.clone())
}

pub(super) fn fix_for(model: &Model, b: &Blocked, hosts: &EcsHosts, subnet_key: &str) -> String {
    let l = |k: &str| model.label(k).to_string();
    let subnet = model.subnets.get(subnet_key);
    let (vpc, az) = subnet
        .map(|s| (s.vpc.as_str(), s.az.as_str()))
        .unwrap_or(("", ""));
    let nat_hint = || {
        working_nats(model, vpc, az)
            .first()
            .map(|(n, s)| format!("NAT gateway {} (in public subnet {})", l(n), l(s)))
    };
    let template = hosts
        .template
        .as_ref()
        .map(|u| u.name().to_string())
        .unwrap_or_default();
    match b.code {
        Code::NoRoute => {
            let rt = model.route_tables.get(&b.element);
            let target = match nat_hint() {
                Some(n) => n,
                None => match public_subnet_in(model, vpc, az) {
                    Some(p) => {
                        return format!(
                            "add an Elastic IP and a public NAT gateway in subnet {}, then route 0.0.0.0/0 of {} to it (or add interface endpoints for ecs, ecs-agent and ecs-telemetry with private DNS)",
                            l(&p),
                            rt.map_or(format!("subnet {}'s route table", l(subnet_key)), |t| format!("route table {}", t.label))
                        )
                    }
                    None => {
                        return "give the VPC an attached internet gateway, a public subnet and a public NAT gateway there, then route 0.0.0.0/0 of the instances' route table to the NAT gateway".into()
                    }
                },
            };
            match rt {
                Some(t) if !t.main => {
                    format!("route 0.0.0.0/0 of route table {} to {target}", t.label)
                }
                _ => format!(
                    "associate subnet {} with a route table that routes 0.0.0.0/0 to {target}",
                    l(subnet_key)
                ),
            }
        }
        Code::GatewayNotAttached => format!(
            "attach internet gateway {} to VPC {} (InternetGateway::new().vpc(vpc.id()))",
            l(&b.element),
            l(vpc)
        ),
        Code::NoPublicIp => {
            let via = nat_hint().map(|n| format!(" ({n})")).unwrap_or_default();
            format!(
                "route subnet {}'s 0.0.0.0/0 through a public NAT gateway{via} instead, or give the instances public addresses (Subnet::map_public_ip_on_launch(true) on {}, or LaunchTemplate::associate_public_ip_address(true) on {template})",
                l(subnet_key),
                l(subnet_key)
            )
        }
        Code::NatPrivate => format!(
            "make NAT gateway {} public (NatGateway::public with an Elastic IP) or route 0.0.0.0/0 to a public one",
            l(&b.element)
        ),
        Code::NatNoEip => format!(
            "give NAT gateway {} an Elastic IP (NatGateway::public(subnet, eip.id()))",
            l(&b.element)
        ),
        Code::NatNoInternet => match public_subnet_in(model, vpc, az) {
            Some(p) => format!(
                "a NAT gateway must sit in a public subnet: put it in subnet {} (whose route table sends 0.0.0.0/0 to an attached internet gateway), or route 0.0.0.0/0 of {} to an attached internet gateway",
                l(&p),
                l(&b.element)
            ),
            None => format!(
                "route 0.0.0.0/0 of {} (the NAT gateway's subnet) to an internet gateway attached to VPC {}",
                l(&b.element),
                l(vpc)
            ),
        },
        Code::NatOtherVpc => match nat_hint() {
            Some(n) => format!(
                "route 0.0.0.0/0 to {n}, which is in the instances' VPC {}",
                l(vpc)
            ),
            None => format!("route 0.0.0.0/0 to a public NAT gateway in VPC {}", l(vpc)),
        },
        Code::RegionalNatNoInternetGateway => format!(
            "attach an internet gateway to VPC {} (InternetGateway::new().vpc(vpc.id())): regional NAT gateway {} sends traffic out through it",
            l(vpc),
            l(&b.element)
        ),
        Code::NatNotAvailable => {
            format!("wait for NAT gateway {} to become available", l(&b.element))
        }
        Code::SecurityGroupEgress => format!(
            "allow outbound HTTPS in security group {}: .egress(Rule::tcp(443).cidr(\"0.0.0.0/0\"))",
            l(&b.element)
        ),
        Code::AclRequest => format!(
            "network ACLs are checked in rule order: add an allow rule for TCP 443 to {} (outbound to the endpoint from the instances' subnet; inbound from the VPC on a NAT gateway's or endpoint's subnet), numbered below any rule that denies it",
            l(&b.element)
        ),
        Code::AclReturn => format!(
            "network ACLs are stateless: allow the replies in {}, e.g. .ingress(AclRule::allow_tcp(110, 1024, 65535, \"0.0.0.0/0\")) on the instances' subnet (and outbound 1024-65535 to the VPC on a NAT gateway's or endpoint's subnet)",
            l(&b.element)
        ),
        Code::EndpointSecurityGroup => {
            let vpc_block = model
                .vpcs
                .get(vpc)
                .and_then(|v| v.cidr)
                .map_or("the VPC's block".to_string(), |c| c.to_string());
            format!(
                "admit HTTPS from the instances in security group {}: .ingress(Rule::tcp(443).cidr(\"{vpc_block}\"))",
                l(&b.element)
            )
        }
        Code::DnsDisabled => format!(
            "turn DNS support on for VPC {} (Vpc::enable_dns_support(true))",
            l(&b.element)
        ),
        _ => format!(
            "declare {} in this stack so keel can check the path, or check it by hand",
            l(&b.element)
        ),
    }
}

fn host_findings(d: &Declared, h: &EcsHosts, out: &mut Vec<Finding>) {
    let model = &d.model;
    let asg = h.urn.name();
    let template = h
        .template
        .as_ref()
        .map(|u| u.name().to_string())
        .unwrap_or_default();
    if !h.instance_profile {
        out.push(Finding {
            code: Code::NoInstanceProfile,
            policy: None,
            severity: Severity::Error,
            urn: h.urn.clone(),
            subnet: None,
            field: None,
            message: format!("instances of {asg} run the ECS agent without an instance profile, so it can't call ECS to register"),
            path: Vec::new(),
            blocked_at: Some(format!("launch template {template}: no iam_instance_profile")),
            fix: format!(
                "set iam_instance_profile on launch template {template} to an instance profile whose role has {}",
                crate::aws::iam::ECS_INSTANCE_POLICY_ARN
            ),
        });
    }
    super::ecs_cluster::cluster_findings(d, h, &template, out);
    let mut seen = BTreeSet::new();
    for subnet_key in h.subnets.iter().filter(|s| seen.insert(*s)) {
        let Some(subnet) = model.subnets.get(subnet_key) else {
            out.push(Finding {
                code: Code::Unknown,
                policy: None,
                severity: Severity::Warning,
                urn: h.urn.clone(),
                subnet: Some(subnet_key.clone()),
                field: None,
                message: format!("instances of {asg} launch into subnet {subnet_key}, which this stack doesn't declare: their path to ECS can't be checked"),
                path: Vec::new(),
                blocked_at: None,
                fix: "declare the subnet (and its routing) in this stack, or check its path to ECS by hand".into(),
            });
            continue;
        };
        let label = format!("instances of {asg}");
        let src = Source {
            label: &label,
            subnet: subnet_key,
            address: subnet
                .cidr
                .unwrap_or_else(|| Ipv4Net::from(Ipv4Addr::UNSPECIFIED)),
            public_ip: h.public_ip.unwrap_or(subnet.map_public_ip),
            security_groups: &h.security_groups,
        };
        let region = region_of(&subnet.az);
        match reach_service(model, &src, "ecs") {
            Err(b) => out.push(Finding {
                code: b.code,
                policy: None,
                severity: if b.code.is_error() { Severity::Error } else { Severity::Warning },
                urn: h.urn.clone(),
                subnet: Some(subnet.label.clone()),
                field: None,
                message: format!(
                    "instances of {asg} in subnet {} can't reach ECS (ecs.{region}.amazonaws.com:443), so they will never register with the cluster",
                    subnet.label
                ),
                blocked_at: Some(b.reason.clone()),
                fix: fix_for(model, &b, h, subnet_key),
                path: b.hops,
            }),
            Ok(_) => {
                // The agent's connection (ACS) is `ecs-agent`; its metrics
                // session (TCS) is `ecs-telemetry`, and failing it leaves
                // the agent connected (amazon-ecs-agent#1074).
                let agent = reach_service(model, &src, "ecs-agent").err();
                let telemetry = reach_service(model, &src, "ecs-telemetry").err();
                let names = [("ecs-agent", agent.is_some()), ("ecs-telemetry", telemetry.is_some())];
                let missing: Vec<&str> = names.iter().filter(|(_, m)| *m).map(|(n, _)| *n).collect();
                let (code, severity, outcome, b) = match (agent, telemetry) {
                    (Some(b), _) => (Code::AgentDisconnected, Severity::Error, "the agent stays disconnected and no task is ever placed on them", b),
                    (None, Some(b)) => (Code::TelemetryUnreachable, Severity::Warning, "the agent stays connected and tasks run, but it sends no metrics (CloudWatch container instance metrics, Container Insights)", b),
                    (None, None) => continue,
                };
                out.push(Finding {
                    code,
                    policy: None,
                    severity,
                    urn: h.urn.clone(),
                    subnet: Some(subnet.label.clone()),
                    field: None,
                    message: format!(
                        "instances of {asg} in subnet {} register with ECS but can't reach {}: {outcome}",
                        subnet.label,
                        missing.join(" and ")
                    ),
                    path: b.hops.clone(),
                    blocked_at: Some(b.reason.clone()),
                    fix: super::ecs_cluster::disconnected_fix(model, &b, h, subnet_key, &missing),
                });
            }
        }
    }
}

/// A subnet whose internet route goes to a zonal NAT gateway of its own VPC.
pub(crate) struct NatRoute<'m> {
    /// The subnet's key.
    pub subnet: &'m Key,
    /// The subnet's facts.
    pub subnet_facts: &'m SubnetFacts,
    /// The route table it uses.
    pub table: &'m RouteTableFacts,
    /// The NAT gateway's key.
    pub nat: &'m Key,
    /// The NAT gateway's facts.
    pub nat_facts: &'m NatFacts,
    /// The zone of the NAT gateway's subnet.
    pub nat_az: &'m str,
}

/// Every subnet whose 0.0.0.0/0 goes to a NAT gateway sitting in a subnet
/// of the same VPC, in subnet order. Regional gateways serve every zone and
/// are left out; a NAT gateway of another VPC serves nothing (E007 says so).
/// The zone warnings (W101, W102) and the `nat_per_zone` policy read it.
pub(crate) fn nat_routes(model: &Model) -> Vec<NatRoute<'_>> {
    let mut out = Vec::new();
    for (subnet, subnet_facts) in &model.subnets {
        let Some((_, table)) = model.route_table_of(subnet) else {
            continue;
        };
        let Some((_, Target::NatGateway(n))) = model.best_route(table, INTERNET) else {
            continue;
        };
        let Some((nat, nat_facts)) = model.nat_gateways.get_key_value(&n) else {
            continue;
        };
        let Some(nat_subnet) = model
            .subnets
            .get(&nat_facts.subnet)
            .filter(|s| s.vpc == subnet_facts.vpc)
        else {
            continue;
        };
        out.push(NatRoute {
            subnet,
            subnet_facts,
            table,
            nat,
            nat_facts,
            nat_az: &nat_subnet.az,
        });
    }
    out
}

/// NAT gateways that serve subnets of several zones, and ECS hosts whose
/// zone has no NAT gateway of its own.
fn zone_warnings(d: &Declared, out: &mut Vec<Finding>) {
    let model = &d.model;
    let routes = nat_routes(model);
    let mut served: BTreeMap<&Key, (&NatRoute<'_>, BTreeSet<&str>)> = BTreeMap::new();
    for r in &routes {
        let entry = served.entry(r.nat).or_insert_with(|| (r, BTreeSet::new()));
        entry.1.insert(r.subnet_facts.az.as_str());
    }
    for (nat_key, (r, zones)) in &served {
        let own = r.nat_az;
        let others: Vec<&str> = zones.iter().copied().filter(|z| *z != own).collect();
        if others.is_empty() {
            continue;
        }
        let Some(urn) = urn_of(nat_key) else { continue };
        out.push(Finding {
            code: Code::SingleNatManyZones,
            policy: None,
            severity: Severity::Warning,
            urn,
            subnet: None,
            field: None,
            message: format!(
                "NAT gateway {} in {own} also serves subnets in {}: an outage of {own} cuts their internet access",
                r.nat_facts.label,
                others.join(", ")
            ),
            path: Vec::new(),
            blocked_at: None,
            fix: "use one NAT gateway per availability zone (NatStrategy::OnePerAz), each in that zone's public subnet".into(),
        });
    }
    let by_subnet: BTreeMap<&Key, &NatRoute<'_>> = routes.iter().map(|r| (r.subnet, r)).collect();
    for h in &d.hosts {
        let mut zones = BTreeSet::new();
        for subnet_key in &h.subnets {
            let Some(r) = by_subnet.get(subnet_key) else {
                continue;
            };
            let subnet = r.subnet_facts;
            let nat_az = r.nat_az;
            if nat_az != subnet.az && zones.insert(subnet.az.as_str()) {
                out.push(Finding {
                    code: Code::ZoneWithoutNat,
                    policy: None,
                    severity: Severity::Warning,
                    urn: h.urn.clone(),
                    subnet: Some(subnet.label.clone()),
                    field: None,
                    message: format!(
                        "instances of {} in {} reach the internet through NAT gateway {} in {nat_az}",
                        h.urn.name(),
                        subnet.az,
                        r.nat_facts.label
                    ),
                    path: Vec::new(),
                    blocked_at: None,
                    fix: format!("add a NAT gateway in a public subnet of {} and route {}'s 0.0.0.0/0 to it", subnet.az, r.table.label),
                });
            }
        }
    }
}

/// Every ECS finding for the declared stack.
pub(crate) fn check(d: &Declared) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in &d.hosts {
        host_findings(d, h, &mut out);
    }
    zone_warnings(d, &mut out);
    out
}
