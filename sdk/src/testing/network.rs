//! Network assertions on the declared stack, with no deploy: that a
//! group's instances reach an AWS endpoint ([`assert_reaches`]), that a
//! subnet leaves for the internet through a working NAT gateway
//! ([`assert_egress_via_nat`]), that instances get no public address
//! ([`assert_no_public_ip`]) and can't be reached from the internet
//! ([`assert_not_reachable_from_internet`]). They walk the same model as
//! the pre-deploy checks and the simulator, and a failure prints the path
//! hop by hop up to where it stops.

use crate::analysis::declared::EcsHosts;
use crate::analysis::network::Model;
use crate::analysis::paths::{self, exposure, public_ips};
use crate::analysis::reach::{Source, reach_internet, reach_service};
use crate::aws::autoscaling::AutoScalingGroup;
use crate::aws::ec2::Subnet;
use crate::resource::{Urn, placeholder};
use crate::stack::{Reference, Stack};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Where instances must get to: an AWS service's regional endpoint (over
/// an interface endpoint with private DNS when the VPC has one, else the
/// internet), or a public host on the internet.
///
/// ```
/// use keel::testing::Endpoint;
/// assert_eq!(Endpoint::Ecs.to_string(), "ECS (ecs)");
/// assert_eq!(Endpoint::Internet("ghcr.io").to_string(), "ghcr.io");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `ecs`: where the agent registers.
    Ecs,
    /// `ecs-agent`: the agent's connection (tasks are placed through it).
    EcsAgent,
    /// `ecs-telemetry`: the agent's metrics.
    EcsTelemetry,
    /// `ecr.api`: private image metadata.
    EcrApi,
    /// `ecr.dkr`: private image manifests.
    EcrDkr,
    /// `s3`: ECR's image layers, and any bucket.
    S3,
    /// `logs`: CloudWatch Logs.
    Logs,
    /// Any other regional service, by its short name (`sqs`, `ssm`).
    Service(&'static str),
    /// A public host (a container registry such as `registry-1.docker.io`).
    Internet(&'static str),
}

impl Endpoint {
    fn service(self) -> Option<&'static str> {
        Some(match self {
            Endpoint::Ecs => "ecs",
            Endpoint::EcsAgent => "ecs-agent",
            Endpoint::EcsTelemetry => "ecs-telemetry",
            Endpoint::EcrApi => "ecr.api",
            Endpoint::EcrDkr => "ecr.dkr",
            Endpoint::S3 => "s3",
            Endpoint::Logs => "logs",
            Endpoint::Service(s) => s,
            Endpoint::Internet(_) => return None,
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self, self.service()) {
            (Endpoint::Internet(host), _) => f.write_str(host),
            (Endpoint::Ecs, Some(s)) => write!(f, "ECS ({s})"),
            (_, Some(s)) => f.write_str(s),
            (_, None) => Ok(()),
        }
    }
}

/// The analysis's view of `group`, or a panic naming what's missing.
#[track_caller]
fn group_of<'a>(
    stack: &'a Stack,
    group: &impl Reference<AutoScalingGroup>,
) -> (&'a Model, EcsHosts) {
    let urn = group
        .target()
        .expect("the Auto Scaling group must be declared in the stack");
    let d = stack.analysis();
    let Some(hosts) = d.groups.iter().find(|h| &h.urn == urn).cloned() else {
        panic!(
            "{} isn't an Auto Scaling group of stack {} with a declared launch template",
            urn.name(),
            stack.name()
        );
    };
    (&d.model, hosts)
}

fn numbered(hops: &[String]) -> String {
    let lines = hops.iter().enumerate();
    lines
        .map(|(i, h)| format!("\n    {}. {h}", i + 1))
        .collect()
}

/// Whether the instances of `group` reach `endpoint` over HTTPS from every
/// subnet they launch into; the first failure, with its path, otherwise.
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::{Endpoint, reaches};
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0123456789abcdef0", "t3.small"));
/// let asg = stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()));
/// let why = reaches(&stack, &asg, Endpoint::Ecs).unwrap_err();
/// assert!(why.contains("no route"), "{why}");
/// ```
pub fn reaches(
    stack: &Stack,
    group: &impl Reference<AutoScalingGroup>,
    endpoint: Endpoint,
) -> Result<(), String> {
    let (model, hosts) = group_of(stack, group);
    let name = hosts.urn.name();
    for subnet in &hosts.subnets {
        let Some(s) = model.subnets.get(subnet) else {
            return Err(format!(
                "instances of {name} launch into subnet {subnet}, which the stack doesn't declare"
            ));
        };
        let label = format!("instances of {name}");
        let src = Source {
            label: &label,
            subnet,
            address: s
                .cidr
                .unwrap_or_else(|| Ipv4Net::from(Ipv4Addr::UNSPECIFIED)),
            public_ip: hosts.public_ip.unwrap_or(s.map_public_ip),
            security_groups: &hosts.security_groups,
        };
        let reached = match (endpoint, endpoint.service()) {
            (Endpoint::Internet(host), _) => reach_internet(model, &src, host),
            (_, Some(service)) => reach_service(model, &src, service),
            (_, None) => unreachable!("every other endpoint is a service"),
        };
        if let Err(b) = reached {
            return Err(format!(
                "instances of {name} in subnet {} don't reach {endpoint} over HTTPS: {} ({}){}",
                s.label,
                b.reason,
                b.code.as_str(),
                if b.hops.is_empty() {
                    String::new()
                } else {
                    format!("\n  path:{}", numbered(&b.hops))
                }
            ));
        }
    }
    Ok(())
}

/// Asserts that the instances of `group` reach `endpoint` over HTTPS from
/// every subnet they launch into; the failure shows the path hop by hop and
/// what stops it.
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::{Endpoint, assert_reaches};
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let igw = stack.add("igw", InternetGateway::new().vpc(vpc.id()));
/// let public = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a").map_public_ip_on_launch(true));
/// stack.add("public", RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id()).associate(public.id()));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0123456789abcdef0", "t3.small"));
/// let asg = stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(public.id()));
/// assert_reaches(&stack, &asg, Endpoint::Ecs);
/// ```
#[track_caller]
pub fn assert_reaches(stack: &Stack, group: &impl Reference<AutoScalingGroup>, endpoint: Endpoint) {
    if let Err(why) = reaches(stack, group, endpoint) {
        panic!("{why}");
    }
}

/// Whether `subnet`'s traffic to the internet leaves through a public NAT
/// gateway with an Elastic IP, in a subnet that routes 0.0.0.0/0 to an
/// attached internet gateway (or a regional NAT gateway of a VPC with one):
/// the path hop by hop, or what's wrong with it.
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::egress_via_nat;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let why = egress_via_nat(&stack, &private).unwrap_err();
/// assert!(why.ends_with("has no route to the internet (no 0.0.0.0/0)\n  path:\n    1. subnet private-a (us-east-1a)"), "{why}");
/// ```
pub fn egress_via_nat(
    stack: &Stack,
    subnet: &impl Reference<Subnet>,
) -> Result<Vec<String>, String> {
    let urn = subnet
        .target()
        .expect("the subnet must be declared in the stack");
    let model = &stack.analysis().model;
    paths::egress_via_nat(model, &id_key(urn)).map_err(|stop| {
        format!(
            "subnet {} doesn't reach the internet through a NAT gateway: {}{}",
            urn.name(),
            stop.why,
            if stop.hops.is_empty() {
                String::new()
            } else {
                format!("\n  path:{}", numbered(&stop.hops))
            }
        )
    })
}

/// Asserts [`egress_via_nat`]: `subnet`'s traffic to the internet leaves
/// through a working NAT gateway. A NAT gateway placed in a private subnet
/// fails like this (every property is right; the path isn't):
///
/// ```text
/// subnet private-a doesn't reach the internet through a NAT gateway: NAT gateway nat-a
/// is in subnet private-a, which isn't public: its route table private-a sends the
/// internet (0.0.0.0/0) to NAT gateway nat-a, not to an attached internet gateway
///   path:
///     1. subnet private-a (us-east-1a)
///     2. route table private-a: 0.0.0.0/0 → NAT gateway nat-a
///     3. NAT gateway nat-a in subnet private-a
/// ```
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::assert_egress_via_nat;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let igw = stack.add("igw", InternetGateway::new().vpc(vpc.id()));
/// let public = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// stack.add("public", RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id()).associate(public.id()));
/// let eip = stack.add("nat-a", ElasticIp::new());
/// let nat = stack.add("nat-a", NatGateway::public(public.id(), eip.id()));
/// stack.add("private-a", RouteTable::new(vpc.id()).route_to_nat_gateway("0.0.0.0/0", nat.id()).associate(private.id()));
/// assert_egress_via_nat(&stack, &private);
/// ```
#[track_caller]
pub fn assert_egress_via_nat(stack: &Stack, subnet: &impl Reference<Subnet>) {
    if let Err(why) = egress_via_nat(stack, subnet) {
        panic!("{why}");
    }
}

/// Asserts that no instance of `group` gets a public IP address (from its
/// launch template or its subnets' `map_public_ip_on_launch`).
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::assert_no_public_ip;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0123456789abcdef0", "t3.small"));
/// let asg = stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()));
/// assert_no_public_ip(&stack, &asg);
/// ```
#[track_caller]
pub fn assert_no_public_ip(stack: &Stack, group: &impl Reference<AutoScalingGroup>) {
    let (model, hosts) = group_of(stack, group);
    let public = public_ips(model, &hosts);
    if !public.is_empty() {
        panic!(
            "instances of {} get a public IP address:\n  {}",
            hosts.urn.name(),
            public.join("\n  ")
        );
    }
}

/// Asserts that no client on the internet reaches the instances of
/// `group` on any TCP port: the failure shows the path that lets it in
/// (public address, route to an attached internet gateway, the security
/// group rule, the network ACL).
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::assert_not_reachable_from_internet;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0123456789abcdef0", "t3.small"));
/// let asg = stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()));
/// assert_not_reachable_from_internet(&stack, &asg);
/// ```
#[track_caller]
pub fn assert_not_reachable_from_internet(stack: &Stack, group: &impl Reference<AutoScalingGroup>) {
    let (model, hosts) = group_of(stack, group);
    if let Some(path) = exposure(model, &hosts) {
        panic!(
            "instances of {} can be reached from the internet:{}",
            hosts.urn.name(),
            numbered(&path)
        );
    }
}

/// The analysis key of a declared resource's id.
fn id_key(urn: &Urn) -> String {
    placeholder(urn, "id")
}
