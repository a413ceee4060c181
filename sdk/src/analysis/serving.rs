//! Whether a load balancer can serve: internet clients reach a listener
//! ([`internet_reaches_listener`]), the load balancer reaches a target on
//! the traffic or health-check port ([`lb_reaches_target`]), and an
//! instance or task can pull its container image ([`image_pull`]). Decided
//! on a [`Model`] with the rules of [`super::reach`] (security groups,
//! routes by longest prefix, stateless network ACLs both ways), so the
//! simulator at run time and the analysis before deploy agree.

use super::network::{Key, LoadBalancerFacts, Model, Target};
use super::reach::{
    Blocked, Code, Source, blocked, check_acl, check_egress, reach_internet, reach_service,
};
use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The address analysis and the simulator use for "a client on the
/// internet" (outside every private and Amazon range of the model).
pub const INTERNET_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

/// The source ports of internet clients and of load balancer nodes (AWS
/// documents 1024–65535 for both): network ACLs must let replies to them out.
pub const CLIENT_PORTS: (u16, u16) = (1024, 65535);

fn lb_facts<'m>(model: &'m Model, lb: &str) -> Result<&'m LoadBalancerFacts, Blocked> {
    model.load_balancers.get(lb).ok_or_else(|| {
        blocked(
            Code::Unknown,
            lb,
            format!("load balancer {lb} is not known"),
            &[],
        )
    })
}

fn subnet_block(model: &Model, subnet: &str) -> Ipv4Net {
    model
        .subnets
        .get(subnet)
        .and_then(|s| s.cidr)
        .unwrap_or_else(|| Ipv4Net::from(Ipv4Addr::UNSPECIFIED))
}

/// The availability zones of a load balancer's known subnets.
pub fn zones(model: &Model, lb: &LoadBalancerFacts) -> BTreeSet<String> {
    lb.subnets
        .iter()
        .filter_map(|s| model.subnets.get(s))
        .map(|s| s.az.clone())
        .collect()
}

/// Decides whether internet clients reach TCP `port` of load balancer `lb`:
/// an internet-facing scheme, subnets in at least two zones, each subnet's
/// route table sending the internet to an internet gateway attached to the
/// load balancer's VPC, a security group admitting `port` from the
/// internet, and network ACLs letting the request in and the reply out.
/// On success, the path hop by hop.
///
/// ```
/// use keel::analysis::network::{LoadBalancerFacts, Model};
/// use keel::analysis::reach::Code;
/// use keel::analysis::serving::internet_reaches_listener;
/// let mut m = Model::default();
/// m.load_balancers.insert("lb".into(), LoadBalancerFacts {
///     label: "web".into(), vpc: "vpc".into(), internet_facing: false,
///     subnets: vec![], security_groups: vec![],
/// });
/// let b = internet_reaches_listener(&m, "lb", 80).unwrap_err();
/// assert_eq!(b.code, Code::ListenerUnreachable);
/// ```
pub fn internet_reaches_listener(
    model: &Model,
    lb: &str,
    port: u16,
) -> Result<Vec<String>, Blocked> {
    let facts = lb_facts(model, lb)?;
    let client = Ipv4Net::from(INTERNET_CLIENT);
    let mut hops = vec![format!(
        "internet client {INTERNET_CLIENT} → load balancer {} port {port}",
        facts.label
    )];
    if !facts.internet_facing {
        let reason = format!(
            "load balancer {} is internal: it has private addresses only, which the internet can't reach",
            facts.label
        );
        return Err(blocked(Code::ListenerUnreachable, lb, reason, &hops));
    }
    let zones = zones(model, facts);
    if zones.len() < 2 {
        let reason = format!(
            "load balancer {}'s subnets are in {} availability zone(s) ({}); an application load balancer needs two",
            facts.label,
            zones.len(),
            zones.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        return Err(blocked(Code::LoadBalancerOneZone, lb, reason, &hops));
    }
    let admitted = facts
        .security_groups
        .iter()
        .filter_map(|g| model.security_groups.get(g))
        .any(|sg| {
            sg.ingress
                .iter()
                .any(|r| r.admits_tcp(port) && r.cidrs.iter().any(|c| c.contains(&client)))
        });
    if !admitted {
        let names: Vec<&str> = facts
            .security_groups
            .iter()
            .map(|g| model.label(g))
            .collect();
        let element = facts.security_groups.first().map_or(lb, String::as_str);
        let reason = if names.is_empty() {
            format!("load balancer {} has no security group", facts.label)
        } else {
            format!(
                "security group {} admits no TCP {port} from the internet (0.0.0.0/0)",
                names.join(", ")
            )
        };
        return Err(blocked(Code::ListenerUnreachable, element, reason, &hops));
    }
    hops.push(format!(
        "security group {} admits TCP {port} from the internet",
        facts
            .security_groups
            .iter()
            .map(|g| model.label(g))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for subnet_key in &facts.subnets {
        let Some(subnet) = model.subnets.get(subnet_key) else {
            let reason = format!("subnet {subnet_key} is not known");
            return Err(blocked(Code::Unknown, subnet_key, reason, &hops));
        };
        let Some((rt_key, rt)) = model.route_table_of(subnet_key) else {
            let reason = format!("subnet {} has no route table", subnet.label);
            return Err(blocked(
                Code::LoadBalancerNoInternetRoute,
                subnet_key,
                reason,
                &hops,
            ));
        };
        match model.best_route(rt, INTERNET_CLIENT) {
            Some((net, Target::InternetGateway(g))) => {
                let attached = model
                    .internet_gateways
                    .get(&g)
                    .is_some_and(|f| f.vpc.as_deref() == Some(facts.vpc.as_str()));
                if !attached {
                    let reason = format!(
                        "internet gateway {} is not attached to load balancer {}'s VPC {}",
                        model.label(&g),
                        facts.label,
                        model.label(&facts.vpc)
                    );
                    return Err(blocked(Code::GatewayNotAttached, &g, reason, &hops));
                }
                hops.push(format!(
                    "subnet {} ({}): route table {}: {net} → internet gateway {}",
                    subnet.label,
                    subnet.az,
                    rt.label,
                    model.label(&g)
                ));
            }
            other => {
                let now = match other {
                    Some((net, Target::NatGateway(n))) => {
                        format!("sends {net} to NAT gateway {}", model.label(&n))
                    }
                    _ => "has no route to the internet".to_string(),
                };
                let reason = format!(
                    "internet-facing load balancer {} has a node in subnet {}, whose route table {} {now}: replies to internet clients can't leave",
                    facts.label, subnet.label, rt.label
                );
                return Err(blocked(
                    Code::LoadBalancerNoInternetRoute,
                    rt_key,
                    reason,
                    &hops,
                ));
            }
        }
        check_acl(
            model,
            subnet_key,
            ("inbound", (port, port), client),
            ("outbound", CLIENT_PORTS, client),
            &hops,
        )?;
    }
    hops.push(format!("listener on port {port} of {}", facts.label));
    Ok(hops)
}

/// Decides whether load balancer `lb` reaches `target` (an instance, or an
/// `awsvpc` task's interface) on TCP `port` (traffic or health-check port):
/// the same VPC, the load balancer's groups' egress to the target, network
/// ACLs of both subnets both ways (none between nodes of one subnet), and
/// the target's groups admitting the load balancer's groups or its subnets'
/// blocks. Routing inside a VPC is the local route. On success, the path.
///
/// ```
/// use keel::analysis::network::{LoadBalancerFacts, Model};
/// use keel::analysis::reach::{Code, Source};
/// use keel::analysis::serving::lb_reaches_target;
/// let mut m = Model::default();
/// m.load_balancers.insert("lb".into(), LoadBalancerFacts {
///     label: "web".into(), vpc: "vpc".into(), internet_facing: true,
///     subnets: vec![], security_groups: vec![],
/// });
/// let target = Source { label: "host", subnet: "s", address: "10.0.1.0/24".parse().unwrap(), public_ip: false, security_groups: &[] };
/// assert_eq!(lb_reaches_target(&m, "lb", &target, 80).unwrap_err().code, Code::Unknown);
/// ```
pub fn lb_reaches_target(
    model: &Model,
    lb: &str,
    target: &Source<'_>,
    port: u16,
) -> Result<Vec<String>, Blocked> {
    let facts = lb_facts(model, lb)?;
    let mut hops = vec![format!(
        "load balancer {} → {} port {port}",
        facts.label, target.label
    )];
    let Some(t_subnet) = model.subnets.get(target.subnet) else {
        let reason = format!("subnet {} is not known", target.subnet);
        return Err(blocked(Code::Unknown, target.subnet, reason, &hops));
    };
    if t_subnet.vpc != facts.vpc {
        let reason = format!(
            "{} is in VPC {}, load balancer {} in VPC {}",
            target.label,
            model.label(&t_subnet.vpc),
            facts.label,
            model.label(&facts.vpc)
        );
        return Err(blocked(Code::OtherVpc, target.subnet, reason, &hops));
    }
    let Some(first) = facts.subnets.first() else {
        let reason = format!("load balancer {} has no subnet", facts.label);
        return Err(blocked(Code::LoadBalancerOneZone, lb, reason, &hops));
    };
    let lb_label = format!("load balancer {}", facts.label);
    let lb_src = Source {
        label: &lb_label,
        subnet: first,
        address: subnet_block(model, first),
        public_ip: false,
        security_groups: &facts.security_groups,
    };
    check_egress(
        model,
        &lb_src,
        port,
        target.address,
        target.security_groups,
        &hops,
    )
    .map_err(|b| Blocked {
        code: Code::LoadBalancerEgress,
        element: if facts.security_groups.is_empty() {
            lb.to_string()
        } else {
            b.element
        },
        reason: if facts.security_groups.is_empty() {
            format!("load balancer {} has no security group", facts.label)
        } else {
            b.reason
        },
        hops: b.hops,
    })?;
    hops.push(format!(
        "security group {} allows TCP {port} out to {}",
        names(model, &facts.security_groups),
        target.label
    ));
    for lb_subnet in &facts.subnets {
        let lb_net = subnet_block(model, lb_subnet);
        if lb_subnet == target.subnet {
            continue;
        }
        check_acl(
            model,
            lb_subnet,
            ("outbound", (port, port), target.address),
            ("inbound", CLIENT_PORTS, target.address),
            &hops,
        )?;
        check_acl(
            model,
            target.subnet,
            ("inbound", (port, port), lb_net),
            ("outbound", CLIENT_PORTS, lb_net),
            &hops,
        )?;
    }
    hops.push(format!(
        "local route to {} in subnet {}",
        target.label, t_subnet.label
    ));
    let groups: Vec<_> = target
        .security_groups
        .iter()
        .filter_map(|g| model.security_groups.get(g))
        .collect();
    let unadmitted: Vec<&Key> = facts
        .subnets
        .iter()
        .filter(|lb_subnet| {
            let lb_net = subnet_block(model, lb_subnet);
            !groups.iter().any(|sg| {
                sg.ingress.iter().any(|r| {
                    r.admits_tcp(port)
                        && (r.cidrs.iter().any(|c| c.contains(&lb_net))
                            || r.groups.iter().any(|g| facts.security_groups.contains(g)))
                })
            })
        })
        .collect();
    if let Some(lb_subnet) = unadmitted.first() {
        let element = target
            .security_groups
            .first()
            .map_or(target.subnet, String::as_str);
        let reason = if target.security_groups.is_empty() {
            format!("{} has no security group", target.label)
        } else {
            format!(
                "security group {} admits no TCP {port} from load balancer {} (its group {} or its subnet {}'s block {})",
                names(model, target.security_groups),
                facts.label,
                names(model, &facts.security_groups),
                model.label(lb_subnet),
                subnet_block(model, lb_subnet)
            )
        };
        return Err(blocked(Code::TargetIngress, element, reason, &hops));
    }
    hops.push(format!(
        "security group {} admits TCP {port} from the load balancer",
        names(model, target.security_groups)
    ));
    Ok(hops)
}

fn names(model: &Model, keys: &[Key]) -> String {
    keys.iter()
        .map(|k| model.label(k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where an image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registry {
    /// A private ECR repository (`<account>.dkr.ecr.<region>.amazonaws.com/…`):
    /// reached through `ecr.api`, `ecr.dkr` and `s3` (layers live in S3),
    /// each by an interface endpoint or the internet.
    Ecr {
        /// The repository's region.
        region: String,
    },
    /// Any other registry, reached over the internet only (Docker Hub's
    /// `registry-1.docker.io` for bare names such as `nginx:1.27`).
    Public {
        /// The registry's host name.
        host: String,
    },
}

/// The registry an image reference names.
///
/// ```
/// use keel::analysis::serving::{Registry, registry_of};
/// assert_eq!(registry_of("nginx:1.27"), Registry::Public { host: "registry-1.docker.io".into() });
/// assert_eq!(registry_of("ghcr.io/org/app:1"), Registry::Public { host: "ghcr.io".into() });
/// assert_eq!(
///     registry_of("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"),
///     Registry::Ecr { region: "us-east-1".into() },
/// );
/// ```
pub fn registry_of(image: &str) -> Registry {
    let first = image.split('/').next().unwrap_or("");
    let names_host =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if !names_host {
        return Registry::Public {
            host: "registry-1.docker.io".into(),
        };
    }
    let host = first.split(':').next().unwrap_or(first);
    let parts: Vec<&str> = host.split('.').collect();
    if let [account, "dkr", "ecr", region, "amazonaws", "com"] = parts.as_slice()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
    {
        return Registry::Ecr {
            region: region.to_string(),
        };
    }
    let host = if host == "docker.io" {
        "registry-1.docker.io"
    } else {
        host
    };
    Registry::Public { host: host.into() }
}

/// Decides whether `src` (an instance, or an `awsvpc` task) can pull
/// `image`: a private ECR image needs HTTPS to `ecr.api`, `ecr.dkr` and
/// `s3` (each by an interface endpoint with private DNS or the internet,
/// `s3` also by a gateway endpoint's route in the subnet's table);
/// any other registry needs the internet. On success, the path hop by hop;
/// blocked, [`Code::ImagePull`] with the underlying reason (the element is
/// the one that stops it).
///
/// ```
/// use keel::analysis::network::Model;
/// use keel::analysis::reach::{Code, Source};
/// use keel::analysis::serving::image_pull;
/// let src = Source { label: "host", subnet: "s", address: "10.0.1.0/24".parse().unwrap(), public_ip: false, security_groups: &[] };
/// assert_eq!(image_pull(&Model::default(), &src, "nginx:1.27").unwrap_err().code, Code::ImagePull);
/// ```
pub fn image_pull(model: &Model, src: &Source<'_>, image: &str) -> Result<Vec<String>, Blocked> {
    image_pull_detail(model, src, image).map_err(|(service, b)| Blocked {
        code: Code::ImagePull,
        reason: format!(
            "{} can't pull {image}: no path to {service} ({})",
            src.label, b.reason
        ),
        ..b
    })
}

/// Like [`image_pull`], but blocked with the service that can't be
/// reached and the underlying reachability code (for fixes).
pub(crate) fn image_pull_detail(
    model: &Model,
    src: &Source<'_>,
    image: &str,
) -> Result<Vec<String>, (String, Blocked)> {
    match registry_of(image) {
        Registry::Ecr { region } => {
            let mut hops = Vec::new();
            for service in ["ecr.api", "ecr.dkr", "s3"] {
                let path = reach_service(model, src, service).map_err(|b| {
                    let name = format!("{service}.{region}.amazonaws.com");
                    (name, b)
                })?;
                hops.push(format!("{service}: {}", path.join(" → ")));
            }
            Ok(hops)
        }
        Registry::Public { host } => {
            reach_internet(model, src, &host).map_err(|b| (host.clone(), b))
        }
    }
}

#[cfg(test)]
#[path = "serving_tests.rs"]
mod tests;
