//! The fixes of the serving checks ([`super::service`]), phrased with the
//! program's own names: which group admits what from which, which subnets
//! a load balancer belongs in, which endpoints or routes an image pull
//! needs.

use super::declared::EcsHosts;
use super::ecs::{fix_for, public_gateway, public_subnet_in, working_nats};
use super::network::Model;
use super::reach::{Blocked, Code, Source};
use super::serving::{Registry, registry_of};

fn rule(range: (u16, u16)) -> String {
    if range.0 == range.1 {
        format!("Rule::tcp({})", range.0)
    } else {
        format!("Rule::tcp_range({}, {})", range.0, range.1)
    }
}

fn ports(range: (u16, u16)) -> String {
    if range.0 == range.1 {
        range.0.to_string()
    } else {
        format!("{}-{}", range.0, range.1)
    }
}

fn acl_name(model: &Model, b: &Blocked) -> String {
    model.label(&b.element).to_string()
}

/// The fix when internet clients can't reach listener `port` of `lb`.
pub(super) fn listener_fix(model: &Model, lb: &str, b: &Blocked, port: u16) -> String {
    let l = |k: &str| model.label(k).to_string();
    let Some(facts) = model.load_balancers.get(lb) else {
        return format!("declare {} in this stack so keel can check it", l(lb));
    };
    match b.code {
        Code::ListenerUnreachable if !facts.internet_facing => format!(
            "make load balancer {} internet-facing (drop .internal()) in public subnets",
            facts.label
        ),
        Code::ListenerUnreachable if b.element == lb => format!(
            "give load balancer {} a security group that admits tcp {port} from 0.0.0.0/0",
            facts.label
        ),
        Code::ListenerUnreachable => format!(
            "allow tcp {port} from 0.0.0.0/0 in security group {}: .ingress(Rule::tcp({port}).cidr(\"0.0.0.0/0\"))",
            l(&b.element)
        ),
        Code::LoadBalancerNoInternetRoute => {
            let public: Vec<(&str, &str)> = model
                .subnets
                .iter()
                .filter(|(k, s)| s.vpc == facts.vpc && public_gateway(model, k).is_some())
                .map(|(_, s)| (s.label.as_str(), s.az.as_str()))
                .collect();
            let zones: std::collections::BTreeSet<&str> = public.iter().map(|(_, z)| *z).collect();
            let private: Vec<&str> = facts
                .subnets
                .iter()
                .filter(|k| public_gateway(model, k).is_none())
                .map(|k| model.label(k))
                .collect();
            if zones.len() >= 2 {
                let names: Vec<&str> = public.iter().map(|(n, _)| *n).collect();
                format!(
                    "put load balancer {} in public subnets ({}: their route table sends 0.0.0.0/0 to an attached internet gateway) instead of {}",
                    facts.label,
                    names.join(", "),
                    private.join(", ")
                )
            } else {
                let igw = model
                    .internet_gateways
                    .iter()
                    .find(|(_, g)| g.vpc.as_deref() == Some(facts.vpc.as_str()))
                    .map_or(
                        "an internet gateway attached to the VPC".to_string(),
                        |(_, g)| format!("internet gateway {}", g.label),
                    );
                format!(
                    "route 0.0.0.0/0 of {} to {igw}, or put load balancer {} in public subnets",
                    l(&b.element),
                    facts.label
                )
            }
        }
        Code::GatewayNotAttached => format!(
            "attach internet gateway {} to VPC {} (InternetGateway::new().vpc(vpc.id()))",
            l(&b.element),
            l(&facts.vpc)
        ),
        Code::AclRequest => format!(
            "allow the requests in network ACL {}, numbered below any rule that denies them: .ingress(AclRule::allow_tcp(100, {port}, {port}, \"0.0.0.0/0\"))",
            acl_name(model, b)
        ),
        Code::AclReturn => format!(
            "network ACLs are stateless: allow the replies to internet clients out of network ACL {}: .egress(AclRule::allow_tcp(110, 1024, 65535, \"0.0.0.0/0\"))",
            acl_name(model, b)
        ),
        _ => format!(
            "declare {} in this stack so keel can check the path, or check it by hand",
            l(&b.element)
        ),
    }
}

/// The fix when load balancer `lb` can't reach `target` on `range`.
pub(super) fn target_fix(
    model: &Model,
    lb: &str,
    target: &Source<'_>,
    b: &Blocked,
    range: (u16, u16),
) -> String {
    let l = |k: &str| model.label(k).to_string();
    let lb_groups: Vec<String> = model
        .load_balancers
        .get(lb)
        .map(|f| f.security_groups.iter().map(|g| l(g)).collect())
        .unwrap_or_default();
    let lb_group = lb_groups.first().cloned().unwrap_or_else(|| l(lb));
    let target_group = target
        .security_groups
        .first()
        .map_or_else(|| target.label.to_string(), |g| l(g));
    let p = ports(range);
    match b.code {
        Code::TargetIngress => format!(
            "allow tcp {p} from security group {lb_group} to security group {target_group}: .ingress({}.group({lb_group}.id())) on {target_group}",
            rule(range)
        ),
        Code::LoadBalancerEgress => format!(
            "allow tcp {p} from security group {lb_group} to security group {target_group}: .egress({}.group({target_group}.id())) on {lb_group}",
            rule(range)
        ),
        Code::AclRequest | Code::AclReturn => {
            let vpc_block = model
                .subnets
                .get(target.subnet)
                .and_then(|s| model.vpcs.get(&s.vpc))
                .and_then(|v| v.cidr)
                .map_or("<the VPC's block>".to_string(), |c| c.to_string());
            let dir = if b.reason.contains("outbound") {
                "egress"
            } else {
                "ingress"
            };
            let (what, ports) = if b.code == Code::AclReturn {
                (
                    "network ACLs are stateless: allow the replies (tcp 1024-65535, the load balancer's ports)",
                    (1024, 65535),
                )
            } else {
                ("allow the load balancer's requests", range)
            };
            format!(
                "{what} in network ACL {}, numbered below any rule that denies them: .{dir}(AclRule::allow_tcp(110, {}, {}, \"{vpc_block}\"))",
                acl_name(model, b),
                ports.0,
                ports.1
            )
        }
        Code::OtherVpc => format!(
            "run the targets in load balancer {}'s VPC, or give them a load balancer of their own VPC",
            l(lb)
        ),
        _ => format!(
            "declare {} in this stack so keel can check the path, or check it by hand",
            l(&b.element)
        ),
    }
}

/// The fix when `image` can't be pulled from `subnet` (`b` is the
/// reachability verdict for the service it couldn't reach).
pub(super) fn image_fix(
    model: &Model,
    b: &Blocked,
    hosts: &EcsHosts,
    subnet: &str,
    image: &str,
) -> String {
    let registry = registry_of(image);
    if b.code != Code::NoRoute {
        return fix_for(model, b, hosts, subnet);
    }
    let facts = model.subnets.get(subnet);
    let rt = model
        .route_table_of(subnet)
        .map(|(_, t)| t)
        .filter(|t| !t.main)
        .map_or(
            format!("subnet {}'s route table", model.label(subnet)),
            |t| format!("route table {}", t.label),
        );
    let nat = match facts.and_then(|f| working_nats(model, &f.vpc, &f.az).first().copied()) {
        Some((n, s)) => format!(
            "NAT gateway {} (in public subnet {})",
            model.label(n),
            model.label(s)
        ),
        None => match facts.and_then(|f| public_subnet_in(model, &f.vpc, &f.az)) {
            Some(p) => format!(
                "a public NAT gateway (with an Elastic IP) in public subnet {}",
                model.label(&p)
            ),
            None => "a public NAT gateway in a public subnet".to_string(),
        },
    };
    match registry {
        Registry::Ecr { region } => {
            let vpc = facts.map(|f| f.vpc.as_str()).unwrap_or_default();
            let interface = |svc: &str| {
                model
                    .endpoints
                    .values()
                    .any(|e| e.vpc == vpc && e.service == svc && e.private_dns)
            };
            let missing: Vec<String> = ["ecr.api", "ecr.dkr"]
                .into_iter()
                .filter(|svc| !interface(svc))
                .map(|svc| format!("com.amazonaws.{region}.{svc}"))
                .collect();
            let table = model.route_table_of(subnet).map(|(k, _)| k);
            let s3_routed = model.gateway_endpoints.values().any(|e| {
                e.vpc == vpc
                    && e.service == "s3"
                    && table.is_some_and(|t| e.route_tables.contains(t))
            });
            let mut adds = Vec::new();
            if !missing.is_empty() {
                adds.push(format!(
                    "interface endpoints with private DNS for {}",
                    missing.join(", ")
                ));
            }
            if !s3_routed && !interface("s3") {
                adds.push(format!(
                    "a gateway endpoint for com.amazonaws.{region}.s3 associated with {rt}"
                ));
            }
            format!(
                "add {} (pulling from ECR needs ecr.api, ecr.dkr and s3, where image layers live), or route 0.0.0.0/0 of {rt} to {nat}",
                adds.join(" and ")
            )
        }
        Registry::Public { host } => format!(
            "{image} comes from {host}, which only the internet serves (no VPC endpoint): route 0.0.0.0/0 of {rt} to {nat}, or push the image to ECR and pull it through endpoints for ecr.api, ecr.dkr and s3"
        ),
    }
}
