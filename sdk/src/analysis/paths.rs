//! Paths a test asserts on, walked hop by hop on the declared [`Model`]:
//! a subnet's internet egress through a NAT gateway
//! ([`egress_via_nat`]), and whether a group's instances are exposed to
//! the internet ([`exposure`]). Each answer carries the hops, so a failed
//! assertion in `keel::testing` shows where the path goes and where it
//! stops. The reachability of AWS endpoints is [`super::reach`]'s.

use super::declared::EcsHosts;
use super::ecs::public_gateway;
use super::network::{Key, Model, Target};
use super::reach::acl_allows;
use super::serving::INTERNET_CLIENT;
use crate::aws::ec2::EPHEMERAL_PORTS;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// A path that doesn't go where it should: the hops up to the point it
/// stops, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stop {
    pub hops: Vec<String>,
    pub why: String,
}

fn stop(hops: &[String], why: String) -> Stop {
    Stop {
        hops: hops.to_vec(),
        why,
    }
}

/// A public address no VPC contains: where "the internet" is.
const INTERNET: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

/// Whether `subnet`'s traffic to the internet leaves through a public NAT
/// gateway that itself reaches the internet: the subnet's route table
/// sends it to the NAT gateway, which has an Elastic IP and sits in a
/// subnet routing 0.0.0.0/0 to an attached internet gateway (a regional
/// gateway: its VPC has one attached). The hops on success.
pub(crate) fn egress_via_nat(model: &Model, subnet: &str) -> Result<Vec<String>, Stop> {
    let mut hops = Vec::new();
    let Some(s) = model.subnets.get(subnet) else {
        return Err(stop(
            &hops,
            format!("subnet {subnet} isn't declared in this stack"),
        ));
    };
    hops.push(format!("subnet {} ({})", s.label, s.az));
    let Some((_, table)) = model.route_table_of(subnet) else {
        return Err(stop(
            &hops,
            format!("subnet {} has no route table", s.label),
        ));
    };
    let nat = match model.best_route(table, INTERNET) {
        Some((net, Target::NatGateway(n))) => {
            hops.push(format!(
                "route table {}: {net} → NAT gateway {}",
                table.label,
                model.label(&n)
            ));
            n
        }
        Some((net, other)) => {
            let to = describe(model, &other);
            return Err(stop(
                &hops,
                format!(
                    "route table {} sends the internet ({net}) to {to}, not to a NAT gateway",
                    table.label
                ),
            ));
        }
        None => {
            return Err(stop(
                &hops,
                format!(
                    "route table {} has no route to the internet (no 0.0.0.0/0)",
                    table.label
                ),
            ));
        }
    };
    let Some(n) = model.nat_gateways.get(&nat) else {
        return Err(stop(
            &hops,
            format!("NAT gateway {nat} is outside the stack: where it leads can't be checked"),
        ));
    };
    if !n.public {
        return Err(stop(
            &hops,
            format!(
                "NAT gateway {} is private: it doesn't reach the internet",
                n.label
            ),
        ));
    }
    if !n.has_eip {
        return Err(stop(
            &hops,
            format!("NAT gateway {} has no Elastic IP", n.label),
        ));
    }
    if let Some(vpc) = &n.regional {
        let attached = (model.internet_gateways.iter()).find(|(_, g)| g.vpc.as_ref() == Some(vpc));
        let Some((_, g)) = attached else {
            return Err(stop(
                &hops,
                format!(
                    "regional NAT gateway {}: VPC {} has no attached internet gateway",
                    n.label,
                    model.label(vpc)
                ),
            ));
        };
        hops.push(format!(
            "regional NAT gateway {} → internet gateway {}",
            n.label, g.label
        ));
        return Ok(hops);
    }
    let home = model.label(&n.subnet).to_string();
    hops.push(format!("NAT gateway {} in subnet {home}", n.label));
    match public_gateway(model, &n.subnet) {
        Some(g) => {
            let (_, t) = model
                .route_table_of(&n.subnet)
                .expect("a public gateway has a table");
            hops.push(format!(
                "route table {}: 0.0.0.0/0 → internet gateway {}",
                t.label,
                model.label(&g)
            ));
            Ok(hops)
        }
        None => {
            let to = match model.route_table_of(&n.subnet) {
                None => "it has no route table".to_string(),
                Some((_, t)) => match model.best_route(t, INTERNET) {
                    None => format!("its route table {} has no route to the internet", t.label),
                    Some((net, target)) => format!(
                        "its route table {} sends the internet ({net}) to {}",
                        t.label,
                        describe(model, &target)
                    ),
                },
            };
            Err(stop(
                &hops,
                format!(
                    "NAT gateway {} is in subnet {home}, which isn't public: {to}, not to an attached internet gateway",
                    n.label
                ),
            ))
        }
    }
}

fn describe(model: &Model, target: &Target) -> String {
    match target {
        Target::Local => "the VPC (local)".to_string(),
        Target::InternetGateway(g) => format!("internet gateway {}", model.label(g)),
        Target::NatGateway(n) => format!("NAT gateway {}", model.label(n)),
        Target::GatewayEndpoint(e) => format!("gateway endpoint {}", model.label(e)),
        other => {
            let (kind, k) = other.outside().expect("the rest are outside");
            format!("{kind} {}", model.label(k))
        }
    }
}

/// Which subnets of `hosts` give its instances a public address, and why
/// (the launch template's setting or the subnet's).
pub(crate) fn public_ips(model: &Model, hosts: &EcsHosts) -> Vec<String> {
    let mut out = Vec::new();
    for subnet in &hosts.subnets {
        let Some(s) = model.subnets.get(subnet) else {
            continue;
        };
        match hosts.public_ip {
            Some(true) => out.push(format!(
                "subnet {}: the launch template associates a public IP address",
                s.label
            )),
            None if s.map_public_ip => out.push(format!(
                "subnet {}: map_public_ip_on_launch gives instances a public IP address",
                s.label
            )),
            _ => {}
        }
    }
    out
}

/// The first path by which a client on the internet reaches `hosts`'
/// instances on some TCP port, if any: a public address, a route back to
/// an attached internet gateway, a security group rule admitting the
/// internet, and the subnet's network ACL allowing the request in and the
/// reply out.
pub(crate) fn exposure(model: &Model, hosts: &EcsHosts) -> Option<Vec<String>> {
    let client = Ipv4Net::from(INTERNET_CLIENT);
    for subnet in &hosts.subnets {
        let Some(s) = model.subnets.get(subnet) else {
            continue;
        };
        if !hosts.public_ip.unwrap_or(s.map_public_ip) {
            continue;
        }
        let mut hops = vec![format!(
            "instances in subnet {} have a public IP address",
            s.label
        )];
        let Some(g) = public_gateway(model, subnet) else {
            continue;
        };
        let (_, t) = model.route_table_of(subnet)?;
        hops.push(format!(
            "route table {}: 0.0.0.0/0 → internet gateway {} (attached)",
            t.label,
            model.label(&g)
        ));
        let Some((group, ports)) = admits_internet(model, &hosts.security_groups) else {
            continue;
        };
        hops.push(format!(
            "security group {group} admits TCP {}-{} from the internet",
            ports.0, ports.1
        ));
        if let Some((_, acl)) = model.acl_of(subnet) {
            let inbound = acl_allows(&acl.ingress, (ports.0, ports.0), client).is_ok();
            let outbound = acl_allows(&acl.egress, EPHEMERAL_PORTS, client).is_ok();
            if !(inbound && outbound) {
                continue;
            }
            hops.push(format!(
                "network ACL {} allows the request and the reply",
                acl.label
            ));
        }
        return Some(hops);
    }
    None
}

/// The first of `groups` with an inbound TCP rule from a block holding
/// internet clients, and that rule's ports.
fn admits_internet(model: &Model, groups: &[Key]) -> Option<(String, (u16, u16))> {
    groups
        .iter()
        .filter_map(|k| model.security_groups.get(k))
        .find_map(|sg| {
            let rule = sg.ingress.iter().find(|r| {
                let tcp = r.admits_tcp(r.ports.0) || r.admits_tcp(1);
                tcp && r.cidrs.iter().any(|c| c.contains(&INTERNET_CLIENT))
            })?;
            let ports = match rule.protocol {
                crate::aws::ec2::Protocol::All => (0, 65535),
                _ => rule.ports,
            };
            Some((sg.label.clone(), ports))
        })
}
