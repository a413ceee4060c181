//! The fixes of the serving checks ([`super::service`]), phrased with the
//! program's own names: which group admits what from which, which subnets
//! a load balancer belongs in, which endpoints or routes an image pull
//! needs.

use super::declared::EcsHosts;
use super::ecs::{fix_for, public_gateway, working_nats};
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
        Code::AclRequest => format!(
            "allow tcp {p} between the load balancer's subnets and subnet {} in network ACL {} (outbound on the load balancer's side, inbound on the targets'), numbered below any rule that denies it",
            l(target.subnet),
            acl_name(model, b)
        ),
        Code::AclReturn => format!(
            "network ACLs are stateless: allow the replies on tcp 1024-65535 between subnet {} and the load balancer's subnets in network ACL {} (AclRule::allow_tcp(110, 1024, 65535, <the other side's block>))",
            l(target.subnet),
            acl_name(model, b)
        ),
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
    let nat = facts
        .and_then(|f| working_nats(model, &f.vpc, &f.az).first().copied())
        .map_or("a public NAT gateway".to_string(), |(n, s)| {
            format!(
                "NAT gateway {} (in public subnet {})",
                model.label(n),
                model.label(s)
            )
        });
    match registry {
        Registry::Ecr { region } => format!(
            "add interface endpoints with private DNS for com.amazonaws.{region}.ecr.api, com.amazonaws.{region}.ecr.dkr and com.amazonaws.{region}.s3 (image layers live in S3), or route 0.0.0.0/0 of {rt} to {nat}"
        ),
        Registry::Public { host } => format!(
            "{image} comes from {host}, which only the internet serves (no VPC endpoint): route 0.0.0.0/0 of {rt} to {nat}, or push the image to ECR and pull it through endpoints for ecr.api, ecr.dkr and s3"
        ),
    }
}
