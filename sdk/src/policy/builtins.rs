//! The policies teams ask for most, ready to register on a stack: no SSH
//! from anywhere (`P001`), a required tag (`P002`), no public IP in a
//! subnet named private (`P003`) and one NAT gateway per zone (`P004`).
//! Each is an error; [`Policy::with_severity`] makes one a warning.

use super::{Policy, Violation};
use crate::analysis::declared::urn_of;
use crate::analysis::ecs::{nat_routes, working_nats};
use crate::analysis::{Severity, reach::Code};
use crate::aws::autoscaling::AutoScalingGroup;
use crate::aws::ec2::{LaunchTemplate, Peer, Protocol, Rule, SecurityGroup, Subnet};
use crate::cidr;
use crate::stack::Stack;

const SSH: u16 = 22;

/// Whether `rule` admits TCP 22 from 0.0.0.0/0 (all traffic, or TCP on a
/// range covering 22).
fn admits_ssh_from_anywhere(rule: &Rule) -> bool {
    let covers_ssh = match rule.protocol {
        Protocol::All => true,
        Protocol::Tcp => rule.from_port <= SSH && SSH <= rule.to_port,
        Protocol::Udp | Protocol::Icmp => false,
    };
    covers_ssh
        && rule.peers.iter().any(
            |p| matches!(p, Peer::Cidr(c) if cidr::parse(c).is_ok_and(|n| n.prefix_len() == 0)),
        )
}

/// `no-ssh-from-anywhere` (`P001`, error): no security group admits SSH
/// from 0.0.0.0/0, whether by a TCP rule on 22, a TCP range covering 22 or
/// an all-traffic rule. The finding names the group and the rule
/// (`ingress[i]`).
///
/// ```
/// use keel::policy::builtins;
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// stack.add("bastion", SecurityGroup::new(vpc.id(), "bastion")
///     .ingress(Rule::tcp_range(20, 25).cidr("0.0.0.0/0")));
/// let findings = builtins::no_ssh_from_anywhere().check(&stack);
/// assert_eq!(findings[0].field.as_deref(), Some("ingress[0]"));
/// ```
pub fn no_ssh_from_anywhere() -> Policy {
    Policy::with_code(
        Code::SshFromAnywhere,
        "no-ssh-from-anywhere",
        Severity::Error,
        |stack: &Stack| {
            let mut out = Vec::new();
            for sg in stack.resources::<SecurityGroup>() {
                for (i, rule) in sg.ingress.iter().enumerate() {
                    if !admits_ssh_from_anywhere(rule) {
                        continue;
                    }
                    let what = match rule.protocol {
                        Protocol::All => "all traffic".to_string(),
                        _ if rule.from_port == rule.to_port => format!("TCP {}", rule.from_port),
                        _ => format!("TCP {}-{}", rule.from_port, rule.to_port),
                    };
                    out.push(
                        Violation::new(
                            sg.urn(),
                            format!(
                                "security group {} admits SSH from anywhere: ingress[{i}] allows {what} from 0.0.0.0/0",
                                sg.name()
                            ),
                        )
                        .field(format!("ingress[{i}]"))
                        .fix("admit port 22 from a known block or a bastion's security group, or use SSM Session Manager instead of SSH"),
                    );
                }
            }
            out
        },
    )
}

/// `require-tag-<key>` (`P002`, error): every resource AWS keeps tags on
/// carries the tag `key` (any value). Routes and main route table
/// associations have no tags in AWS and are left out
/// ([`crate::Resource::TAGGABLE`]).
///
/// ```
/// use keel::policy::builtins;
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16").tag("team", "network"));
/// stack.add("app", EcsCluster::new());
/// let findings = builtins::require_tag("team").check(&stack);
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].urn.name(), "app");
/// assert_eq!(findings[0].policy.as_deref(), Some("require-tag-team"));
/// ```
pub fn require_tag(key: impl Into<String>) -> Policy {
    let key = key.into();
    Policy::with_code(
        Code::MissingTag,
        format!("require-tag-{key}"),
        Severity::Error,
        move |stack: &Stack| {
            stack
                .resources
                .iter()
                .filter(|d| d.schema.taggable && !d.resource.tags().contains_key(&key))
                .map(|d| {
                    Violation::new(
                        &d.urn,
                        format!("{} {} has no `{key}` tag", d.urn.type_token(), d.urn.name()),
                    )
                    .field("tags")
                    .fix(format!("add .tag(\"{key}\", …) to {}", d.urn.name()))
                })
                .collect()
        },
    )
}

/// `no-public-ip-in-private-subnets` (`P003`, error): no Auto Scaling
/// group launches instances with a public IP into a subnet whose name
/// contains "private" (case-insensitive). An instance gets one when its
/// launch template sets `associate_public_ip_address(true)`, or when the
/// template leaves it unset and the subnet maps public IPs on launch.
///
/// ```
/// use keel::policy::builtins;
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0123456789abcdef0", "t3.small")
///     .associate_public_ip_address(true));
/// stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()));
/// let findings = builtins::no_public_ip_in_private_subnets().check(&stack);
/// assert_eq!(findings[0].urn.name(), "hosts");
/// assert_eq!(findings[0].field.as_deref(), Some("subnet_ids[0]"));
/// ```
pub fn no_public_ip_in_private_subnets() -> Policy {
    Policy::with_code(
        Code::PublicIpInPrivateSubnet,
        "no-public-ip-in-private-subnets",
        Severity::Error,
        |stack: &Stack| {
            let mut out = Vec::new();
            for asg in stack.resources::<AutoScalingGroup>() {
                let template = stack.follow::<LaunchTemplate>(&asg.launch_template_id);
                let template_says = template.and_then(|t| t.associate_public_ip_address);
                for (i, input) in asg.subnet_ids.iter().enumerate() {
                    let Some(subnet) = stack.follow::<Subnet>(input) else {
                        continue;
                    };
                    if !subnet.name().to_ascii_lowercase().contains("private") {
                        continue;
                    }
                    let public = template_says.unwrap_or(subnet.map_public_ip_on_launch);
                    if !public {
                        continue;
                    }
                    let (why, fix) = match (template_says, template) {
                        (Some(true), Some(t)) => (
                            format!(
                                "launch template {} sets associate_public_ip_address",
                                t.name()
                            ),
                            format!(
                                "set .associate_public_ip_address(false) on launch template {}",
                                t.name()
                            ),
                        ),
                        _ => (
                            format!("subnet {} maps public IPs on launch", subnet.name()),
                            format!(
                                "drop .map_public_ip_on_launch(true) from subnet {}, or set .associate_public_ip_address(false) on the launch template",
                                subnet.name()
                            ),
                        ),
                    };
                    out.push(
                        Violation::new(
                            asg.urn(),
                            format!(
                                "instances of {} get a public IP in private subnet {}: {why}",
                                asg.name(),
                                subnet.name()
                            ),
                        )
                        .field(format!("subnet_ids[{i}]"))
                        .fix(fix),
                    );
                }
            }
            out
        },
    )
}

/// `nat-per-zone` (`P004`, error; register it on production stacks): every
/// subnet that reaches the internet through a NAT gateway uses one in its
/// own availability zone, so an outage of one zone cuts no other zone's
/// egress. The analysis only warns about this (W101, W102, for ECS hosts);
/// this policy makes it an error for every subnet, from the same routes.
/// Regional NAT gateways serve every zone and pass.
///
/// ```
/// use keel::policy::builtins;
/// use keel::prelude::*;
/// use keel::components::{NatStrategy, Network};
/// let mut stack = Stack::new("prod");
/// Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b"])
///     .nat(NatStrategy::Single)
///     .declare(&mut stack, "net");
/// let findings = builtins::nat_per_zone().check(&stack);
/// assert_eq!(findings.len(), 1); // the private subnet of us-east-1b
/// ```
pub fn nat_per_zone() -> Policy {
    Policy::with_code(
        Code::NatOfAnotherZone,
        "nat-per-zone",
        Severity::Error,
        |stack: &Stack| {
            let model = &stack.analysis().model;
            let routes = nat_routes(model);
            let mut out = Vec::new();
            for r in routes.iter().filter(|r| r.nat_az != r.subnet_facts.az) {
                let Some(urn) = urn_of(r.subnet) else {
                    continue;
                };
                let az = r.subnet_facts.az.as_str();
                // A working NAT gateway of the subnet's own zone, if any.
                let own = working_nats(model, &r.subnet_facts.vpc, az)
                    .into_iter()
                    .find(|(_, s)| model.subnets.get(*s).is_some_and(|s| s.az == az));
                let fix = match own {
                    Some((nat, _)) => format!(
                        "route {}'s 0.0.0.0/0 to NAT gateway {}, which is in {az}",
                        r.table.label,
                        model.label(nat)
                    ),
                    None => format!(
                        "add a NAT gateway in a public subnet of {az} and route {}'s 0.0.0.0/0 to it (NatStrategy::OnePerAz)",
                        r.table.label
                    ),
                };
                out.push(
                    Violation::new(
                        &urn,
                        format!(
                            "subnet {} in {az} reaches the internet through NAT gateway {} in {}: an outage of {} cuts its egress",
                            r.subnet_facts.label, r.nat_facts.label, r.nat_az, r.nat_az
                        ),
                    )
                    .fix(fix),
                );
            }
            out
        },
    )
}

#[cfg(test)]
#[path = "builtins_tests.rs"]
mod tests;
