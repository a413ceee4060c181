//! Whether an instance reaches an AWS service's regional endpoint over
//! HTTPS, decided hop by hop on a [`Model`]: name resolution (an interface
//! endpoint with private DNS, else the public address), security group
//! egress, the subnet's route table by longest prefix, internet gateway
//! attachment and public address, NAT gateway connectivity, Elastic IP and
//! its own subnet's route, network ACLs both ways (they are stateless), and an
//! endpoint's security group; gateway endpoints and targets outside the
//! stack in [`super::reach_route`]. The first thing that stops the traffic is
//! reported with a stable [`Code`]. Used by the simulator at run time and by
//! the analysis before deploy.

pub use super::codes::Code;
use super::network::{AclFacts, AclRuleFacts, Key, Model, Target};
use crate::aws::ec2::{EPHEMERAL_PORTS, Protocol};
use ipnet::Ipv4Net;

/// Where traffic starts: an instance (or, statically, any instance of a
/// subnet).
#[derive(Clone, Debug)]
pub struct Source<'a> {
    /// For messages (`i-…`, `instances of ecs-hosts`).
    pub label: &'a str,
    /// The subnet it is in.
    pub subnet: &'a str,
    /// Its address: a /32, or the subnet's block when not yet known.
    pub address: Ipv4Net,
    /// Whether it has a public address.
    pub public_ip: bool,
    /// Its security groups.
    pub security_groups: &'a [Key],
}

/// Why traffic doesn't get through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// What kind of problem.
    pub code: Code,
    /// The element that stops it.
    pub element: Key,
    /// What happens there.
    pub reason: String,
    /// The path up to that element.
    pub hops: Vec<String>,
}

pub(super) fn blocked(code: Code, element: &str, reason: String, hops: &[String]) -> Blocked {
    Blocked {
        code,
        element: element.to_string(),
        reason,
        hops: hops.to_vec(),
    }
}

/// The port range a client's return traffic arrives on.
pub(super) const CLIENT_RETURN: (u16, u16) = EPHEMERAL_PORTS;
/// The port range a NAT gateway's return traffic from the internet arrives on.
pub(super) const NAT_RETURN: (u16, u16) = (1024, 65535);

/// Whether `rules` (first match by number, implicit deny) allow TCP on every
/// port of `ports` with peer `peer`.
pub(super) fn acl_allows(
    rules: &[AclRuleFacts],
    ports: (u16, u16),
    peer: Ipv4Net,
) -> Result<(), Option<u16>> {
    let mut sorted: Vec<&AclRuleFacts> = rules.iter().collect();
    sorted.sort_by_key(|r| r.number);
    // The decision is constant between rule boundaries: test each segment.
    let mut starts = vec![ports.0];
    for r in &sorted {
        for p in [Some(r.ports.0), r.ports.1.checked_add(1)]
            .into_iter()
            .flatten()
        {
            if p > ports.0 && p <= ports.1 {
                starts.push(p);
            }
        }
    }
    for port in starts {
        let hit = sorted.iter().find(|r| {
            let proto = matches!(r.protocol, Protocol::All | Protocol::Tcp);
            let in_range = r.protocol == Protocol::All || (r.ports.0 <= port && port <= r.ports.1);
            proto && in_range && r.cidr.contains(&peer)
        });
        match hit {
            Some(r) if r.allow => {}
            Some(r) => return Err(Some(r.number)),
            None => return Err(None),
        }
    }
    Ok(())
}

fn describe_acl_block(acl: &AclFacts, dir: &str, what: &str, rule: Option<u16>) -> String {
    match rule {
        Some(n) => format!("network ACL {} {dir} rule {n} denies {what}", acl.label),
        None => format!(
            "network ACL {} has no {dir} rule allowing {what} (the final rule denies it)",
            acl.label
        ),
    }
}

/// Checks one subnet's ACL for traffic leaving (`out_*`) and coming back.
pub(super) fn check_acl(
    model: &Model,
    subnet: &str,
    out: (&str, (u16, u16), Ipv4Net),
    back: (&str, (u16, u16), Ipv4Net),
    hops: &[String],
) -> Result<(), Blocked> {
    let Some((key, acl)) = model.acl_of(subnet) else {
        return Ok(()); // the default ACL allows everything
    };
    let (out_dir, out_ports, out_peer) = out;
    let (back_dir, back_ports, back_peer) = back;
    let rules = |dir: &str| {
        if dir == "outbound" {
            &acl.egress
        } else {
            &acl.ingress
        }
    };
    if let Err(rule) = acl_allows(rules(out_dir), out_ports, out_peer) {
        let what = format!(
            "TCP {}-{} {} {out_peer}",
            out_ports.0,
            out_ports.1,
            if out_dir == "outbound" { "to" } else { "from" }
        );
        return Err(blocked(
            Code::AclRequest,
            key,
            describe_acl_block(acl, out_dir, &what, rule),
            hops,
        ));
    }
    if let Err(rule) = acl_allows(rules(back_dir), back_ports, back_peer) {
        let what = format!(
            "return traffic on TCP {}-{} {} {back_peer}",
            back_ports.0,
            back_ports.1,
            if back_dir == "outbound" { "to" } else { "from" }
        );
        return Err(blocked(
            Code::AclReturn,
            key,
            describe_acl_block(acl, back_dir, &what, rule),
            hops,
        ));
    }
    Ok(())
}

/// A client's HTTPS request out of `subnet` to `peer`, and its reply back
/// on the ephemeral ports, through the subnet's network ACL.
pub(super) fn check_https_out(
    model: &Model,
    subnet: &str,
    peer: Ipv4Net,
    hops: &[String],
) -> Result<(), Blocked> {
    check_acl(
        model,
        subnet,
        ("outbound", (443, 443), peer),
        ("inbound", CLIENT_RETURN, peer),
        hops,
    )
}

/// Whether `src`'s security groups let TCP `port` out to `dest` (or to a
/// member of `dest_groups`).
pub(super) fn check_egress(
    model: &Model,
    src: &Source<'_>,
    port: u16,
    dest: Ipv4Net,
    dest_groups: &[Key],
    hops: &[String],
) -> Result<(), Blocked> {
    let allowed = src
        .security_groups
        .iter()
        .filter_map(|g| model.security_groups.get(g))
        .any(|sg| {
            sg.egress.iter().any(|r| {
                r.admits_tcp(port)
                    && (r.cidrs.iter().any(|c| c.contains(&dest))
                        || r.groups.iter().any(|g| dest_groups.contains(g)))
            })
        });
    if allowed {
        return Ok(());
    }
    let element = src
        .security_groups
        .first()
        .map(String::as_str)
        .unwrap_or(src.subnet);
    let names: Vec<&str> = src.security_groups.iter().map(|g| model.label(g)).collect();
    let reason = if names.is_empty() {
        "the instances have no security group".to_string()
    } else {
        format!(
            "security group {} allows no outbound TCP {port} to {dest}",
            names.join(", ")
        )
    };
    Err(blocked(Code::SecurityGroupEgress, element, reason, hops))
}

/// Decides whether `src` reaches `service` (`ecs`, `ecs-agent`,
/// `ecs-telemetry`, `ecr.api`…) over HTTPS: through an interface endpoint
/// with private DNS when its VPC has one, else over the internet. On
/// success, the path hop by hop.
///
/// ```
/// use keel::analysis::network::{Model, SubnetFacts, VpcFacts};
/// use keel::analysis::reach::{Code, Source, reach_service};
/// let mut m = Model::default();
/// m.vpcs.insert("vpc".into(), VpcFacts { label: "main".into(), cidr: "10.0.0.0/16".parse().ok(), dns_support: true, dns_hostnames: true });
/// m.subnets.insert("s".into(), SubnetFacts { label: "a".into(), vpc: "vpc".into(), cidr: "10.0.1.0/24".parse().ok(), az: "us-east-1a".into(), map_public_ip: false });
/// let src = Source { label: "host", subnet: "s", address: "10.0.1.0/24".parse().unwrap(), public_ip: false, security_groups: &[] };
/// // no security group, no route table: blocked at the first check
/// assert_eq!(reach_service(&m, &src, "ecs").unwrap_err().code, Code::SecurityGroupEgress);
/// ```
pub fn reach_service(
    model: &Model,
    src: &Source<'_>,
    service: &str,
) -> Result<Vec<String>, Blocked> {
    reach_https(model, src, service, true)
}

/// Decides whether `src` reaches `host` (a public name such as
/// `registry-1.docker.io`) over HTTPS through the internet: interface
/// endpoints don't serve it. On success, the path hop by hop.
///
/// ```
/// use keel::analysis::network::Model;
/// use keel::analysis::reach::{Code, Source, reach_internet};
/// let src = Source { label: "host", subnet: "s", address: "10.0.1.0/24".parse().unwrap(), public_ip: false, security_groups: &[] };
/// assert_eq!(reach_internet(&Model::default(), &src, "ghcr.io").unwrap_err().code, Code::Unknown);
/// ```
pub fn reach_internet(model: &Model, src: &Source<'_>, host: &str) -> Result<Vec<String>, Blocked> {
    reach_https(model, src, host, false)
}

fn reach_https(
    model: &Model,
    src: &Source<'_>,
    service: &str,
    endpoints: bool,
) -> Result<Vec<String>, Blocked> {
    let mut hops = Vec::new();
    let Some(subnet) = model.subnets.get(src.subnet) else {
        return Err(blocked(
            Code::Unknown,
            src.subnet,
            format!("subnet {} is not known", src.subnet),
            &hops,
        ));
    };
    hops.push(format!(
        "{} in subnet {} ({})",
        src.label, subnet.label, subnet.az
    ));
    let Some(vpc) = model.vpcs.get(&subnet.vpc) else {
        return Err(blocked(
            Code::Unknown,
            &subnet.vpc,
            format!("VPC {} is not known", subnet.vpc),
            &hops,
        ));
    };
    if !vpc.dns_support {
        let reason = format!(
            "VPC {} has DNS support off, so the {service} endpoint's name doesn't resolve",
            vpc.label
        );
        return Err(blocked(Code::DnsDisabled, &subnet.vpc, reason, &hops));
    }

    let endpoint = model.endpoints.iter().find(|(_, e)| {
        endpoints
            && e.vpc == subnet.vpc
            && e.service == service
            && e.private_dns
            && !e.subnets.is_empty()
    });
    if let (Some((ep_key, ep)), true) = (endpoint, vpc.dns_hostnames) {
        hops.push(format!(
            "{service} resolves to interface endpoint {} (private DNS)",
            ep.label
        ));
        let ep_subnet_key = ep
            .subnets
            .iter()
            .find(|s| model.subnets.get(*s).is_some_and(|f| f.az == subnet.az))
            .unwrap_or(&ep.subnets[0]);
        let Some(ep_net) = model.subnets.get(ep_subnet_key).and_then(|s| s.cidr) else {
            return Err(blocked(
                Code::Unknown,
                ep_subnet_key,
                format!("subnet {ep_subnet_key} is not known"),
                &hops,
            ));
        };
        check_egress(model, src, 443, ep_net, &ep.security_groups, &hops)?;
        hops.push(format!(
            "local route to the endpoint's interface in {}",
            model.label(ep_subnet_key)
        ));
        if ep_subnet_key != src.subnet {
            check_https_out(model, src.subnet, ep_net, &hops)?;
            check_acl(
                model,
                ep_subnet_key,
                ("inbound", (443, 443), src.address),
                ("outbound", CLIENT_RETURN, src.address),
                &hops,
            )?;
        }
        let admitted = ep
            .security_groups
            .iter()
            .filter_map(|g| model.security_groups.get(g))
            .any(|sg| {
                sg.ingress.iter().any(|r| {
                    r.admits_tcp(443)
                        && (r.cidrs.iter().any(|c| c.contains(&src.address))
                            || r.groups.iter().any(|g| src.security_groups.contains(g)))
                })
            });
        if !admitted {
            let element = ep
                .security_groups
                .first()
                .map(String::as_str)
                .unwrap_or(ep_key);
            let names: Vec<&str> = ep.security_groups.iter().map(|g| model.label(g)).collect();
            let reason = format!(
                "endpoint {}'s security group {} admits no TCP 443 from {}",
                ep.label,
                names.join(", "),
                src.address
            );
            return Err(blocked(Code::EndpointSecurityGroup, element, reason, &hops));
        }
        hops.push(format!("endpoint {} → {service} API", ep.label));
        return Ok(hops);
    }

    let dest_ip = super::network::service_address(service);
    let dest = Ipv4Net::from(dest_ip);
    hops.push(format!("{service} resolves to {dest_ip} (public)"));
    check_egress(model, src, 443, dest, &[], &hops)?;
    let Some((rt_key, rt)) = model.route_table_of(src.subnet) else {
        let reason = format!("subnet {} has no route table", subnet.label);
        return Err(blocked(Code::NoRoute, src.subnet, reason, &hops));
    };
    let route = model.best_route(rt, dest_ip);
    match route {
        None | Some((_, Target::Local)) => {
            let reason = format!(
                "route table {} (used by subnet {}) has no route to {dest_ip}",
                rt.label, subnet.label
            );
            Err(blocked(Code::NoRoute, rt_key, reason, &hops))
        }
        Some((net, Target::InternetGateway(g))) => {
            hops.push(format!(
                "route table {}: {net} → internet gateway {}",
                rt.label,
                model.label(&g)
            ));
            let attached = model
                .internet_gateways
                .get(&g)
                .map(|f| f.vpc.as_deref() == Some(subnet.vpc.as_str()));
            match attached {
                None => {
                    return Err(blocked(
                        Code::Unknown,
                        &g,
                        format!("internet gateway {g} is not known"),
                        &hops,
                    ));
                }
                Some(false) => {
                    let reason = format!(
                        "internet gateway {} is not attached to VPC {}",
                        model.label(&g),
                        vpc.label
                    );
                    return Err(blocked(Code::GatewayNotAttached, &g, reason, &hops));
                }
                Some(true) => {}
            }
            check_https_out(model, src.subnet, dest, &hops)?;
            if !src.public_ip {
                let reason = format!(
                    "{} has no public IPv4 address, and an internet gateway only forwards traffic from public addresses",
                    src.label
                );
                return Err(blocked(Code::NoPublicIp, src.subnet, reason, &hops));
            }
            hops.push(format!(
                "internet gateway {} → {dest_ip}:443",
                model.label(&g)
            ));
            Ok(hops)
        }
        Some((net, Target::GatewayEndpoint(e))) => {
            super::reach_route::via_gateway_endpoint(model, src, (rt, net, &e), service, dest, hops)
        }
        Some((
            net,
            t @ (Target::TransitGateway(_) | Target::PeeringConnection(_) | Target::VpnGateway(_)),
        )) => Err(super::reach_route::leaves_stack(
            model,
            (rt_key, rt),
            net,
            &t,
            &format!("{service} ({dest_ip})"),
            &hops,
        )),
        Some((net, Target::NatGateway(n))) => {
            hops.push(format!(
                "route table {}: {net} → NAT gateway {}",
                rt.label,
                model.label(&n)
            ));
            let Some(nat) = model.nat_gateways.get(&n) else {
                return Err(blocked(
                    Code::Unknown,
                    &n,
                    format!("NAT gateway {n} is not known"),
                    &hops,
                ));
            };
            if let Some(nat_vpc) = &nat.regional {
                let via = super::reach_nat::Regional {
                    key: &n,
                    nat,
                    vpc: nat_vpc,
                };
                return via.reach(model, src, dest, hops);
            }
            let Some(nat_subnet) = model.subnets.get(&nat.subnet) else {
                return Err(blocked(
                    Code::Unknown,
                    &nat.subnet,
                    format!("subnet {} is not known", nat.subnet),
                    &hops,
                ));
            };
            if nat_subnet.vpc != subnet.vpc {
                let reason = format!(
                    "NAT gateway {} is in VPC {}, not {}",
                    nat.label,
                    model.label(&nat_subnet.vpc),
                    vpc.label
                );
                return Err(blocked(Code::NatOtherVpc, &n, reason, &hops));
            }
            if !nat.public {
                let reason = format!(
                    "NAT gateway {} has private connectivity: it doesn't reach the internet",
                    nat.label
                );
                return Err(blocked(Code::NatPrivate, &n, reason, &hops));
            }
            if !nat.has_eip {
                let reason = format!("NAT gateway {} has no Elastic IP", nat.label);
                return Err(blocked(Code::NatNoEip, &n, reason, &hops));
            }
            if !nat.available {
                let reason = format!("NAT gateway {} is not available yet", nat.label);
                return Err(blocked(Code::NatNotAvailable, &n, reason, &hops));
            }
            if nat.subnet != src.subnet {
                check_https_out(model, src.subnet, dest, &hops)?;
                check_acl(
                    model,
                    &nat.subnet,
                    ("inbound", (443, 443), src.address),
                    ("outbound", CLIENT_RETURN, src.address),
                    &hops,
                )?;
            }
            hops.push(format!(
                "NAT gateway {} (public, Elastic IP) in subnet {}",
                nat.label, nat_subnet.label
            ));
            check_acl(
                model,
                &nat.subnet,
                ("outbound", (443, 443), dest),
                ("inbound", NAT_RETURN, dest),
                &hops,
            )?;
            let nat_route = model
                .route_table_of(&nat.subnet)
                .map(|(k, t)| (k, t, model.best_route(t, dest_ip)));
            match nat_route {
                Some((_, t, Some((net, Target::InternetGateway(g))))) => {
                    hops.push(format!(
                        "route table {}: {net} → internet gateway {}",
                        t.label,
                        model.label(&g)
                    ));
                    let attached = model
                        .internet_gateways
                        .get(&g)
                        .map(|f| f.vpc.as_deref() == Some(subnet.vpc.as_str()));
                    if attached != Some(true) {
                        let reason = format!(
                            "internet gateway {} is not attached to VPC {}",
                            model.label(&g),
                            vpc.label
                        );
                        return Err(blocked(Code::GatewayNotAttached, &g, reason, &hops));
                    }
                    hops.push(format!(
                        "internet gateway {} → {dest_ip}:443",
                        model.label(&g)
                    ));
                    Ok(hops)
                }
                Some((k, t, _)) => {
                    let reason = format!(
                        "NAT gateway {} sits in subnet {}, whose route table {} has no route to an internet gateway for {dest_ip}",
                        nat.label, nat_subnet.label, t.label
                    );
                    Err(blocked(Code::NatNoInternet, k, reason, &hops))
                }
                None => {
                    let reason = format!(
                        "NAT gateway {}'s subnet {} has no route table",
                        nat.label, nat_subnet.label
                    );
                    Err(blocked(Code::NatNoInternet, &nat.subnet, reason, &hops))
                }
            }
        }
    }
}
