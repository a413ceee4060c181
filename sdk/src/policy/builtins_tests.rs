//! Each built-in policy over a stack that passes and stacks that break it.

use super::*;
use crate::analysis::Finding;
use crate::components::{NatStrategy, Network};
use crate::prelude::*;

fn names(findings: &[Finding]) -> Vec<(&str, Option<&str>)> {
    findings
        .iter()
        .map(|f| (f.urn.name(), f.field.as_deref()))
        .collect()
}

#[test]
fn ssh_from_anywhere_by_port_range_or_all_traffic_is_caught() {
    let mut stack = Stack::new("demo");
    let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    stack.add(
        "open",
        SecurityGroup::new(vpc.id(), "open")
            .ingress(Rule::tcp(443).cidr("0.0.0.0/0"))
            .ingress(Rule::tcp(22).cidr("10.0.0.0/8").cidr("0.0.0.0/0"))
            .ingress(Rule::tcp_range(1, 1024).cidr("0.0.0.0/0"))
            .ingress(Rule::all().cidr("0.0.0.0/0")),
    );
    let findings = no_ssh_from_anywhere().check(&stack);
    assert_eq!(
        names(&findings),
        [
            ("open", Some("ingress[1]")),
            ("open", Some("ingress[2]")),
            ("open", Some("ingress[3]"))
        ]
    );
    assert!(
        findings
            .iter()
            .all(|f| f.is_error() && f.code.as_str() == "P001")
    );
    assert_eq!(
        findings[1].message,
        "security group open admits SSH from anywhere: ingress[2] allows TCP 1-1024 from 0.0.0.0/0"
    );
    assert!(findings[2].message.contains("all traffic"));
}

#[test]
fn ssh_from_known_blocks_udp_or_egress_passes() {
    let mut stack = Stack::new("demo");
    let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    let bastion = stack.add("bastion", SecurityGroup::new(vpc.id(), "bastion"));
    stack.add(
        "hosts",
        SecurityGroup::new(vpc.id(), "hosts")
            .ingress(Rule::tcp(22).cidr("203.0.113.0/24"))
            .ingress(Rule::tcp(22).group(bastion.id()))
            .ingress(Rule::tcp_range(23, 65535).cidr("0.0.0.0/0"))
            .ingress(Rule::udp_range(22, 22).cidr("0.0.0.0/0"))
            .egress(Rule::all().cidr("0.0.0.0/0")),
    );
    assert_eq!(no_ssh_from_anywhere().check(&stack), []);
}

#[test]
fn require_tag_names_each_untagged_taggable_resource() {
    let mut stack = Stack::new("demo");
    let vpc = stack.add("main", Vpc::new("10.0.0.0/16").tag("team", "net"));
    let rt = stack.add("rt", RouteTable::new(vpc.id()).tag("owner", "x"));
    let igw = stack.add(
        "igw",
        InternetGateway::new().vpc(vpc.id()).tag("team", "net"),
    );
    // Routes carry no tags in AWS: never asked for one.
    stack.add(
        "default",
        Route::new(
            rt.id(),
            "0.0.0.0/0",
            RouteTarget::internet_gateway(igw.id()),
        ),
    );
    let findings = require_tag("team").check(&stack);
    assert_eq!(names(&findings), [("rt", Some("tags"))]);
    assert_eq!(findings[0].code.as_str(), "P002");
    assert_eq!(
        findings[0].message,
        "aws:ec2:RouteTable rt has no `team` tag"
    );
    assert_eq!(findings[0].fix, "add .tag(\"team\", …) to rt");
}

#[test]
fn require_tag_passes_when_every_taggable_resource_has_it() {
    let mut stack = Stack::new("demo");
    let vpc = stack.add("main", Vpc::new("10.0.0.0/16").tag("team", "net"));
    stack.add("rt", RouteTable::new(vpc.id()).tag("team", ""));
    assert_eq!(require_tag("team").check(&stack), []);
    assert_eq!(require_tag("cost-center").check(&stack).len(), 2);
}

/// A VPC with subnets `private-a` and `public-a` (the latter mapping public
/// IPs), and a group of instances from `lt` in `subnet`.
fn hosts_in(subnet: &str, lt: LaunchTemplate, map_public: bool) -> Stack {
    let mut stack = Stack::new("demo");
    let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    let mut ids = std::collections::BTreeMap::new();
    for (name, cidr) in [("Private-A", "10.0.1.0/24"), ("public-a", "10.0.2.0/24")] {
        let s = Subnet::new(vpc.id(), cidr, "us-east-1a").map_public_ip_on_launch(map_public);
        ids.insert(name, stack.add(name, s).id());
    }
    let lt = stack.add("hosts", lt);
    stack.add(
        "hosts",
        AutoScalingGroup::new(lt.id(), 1, 1).subnet(ids[subnet].clone()),
    );
    stack
}

fn template() -> LaunchTemplate {
    LaunchTemplate::new("ami-0123456789abcdef0", "t3.small")
}

#[test]
fn public_ip_in_a_private_subnet_from_the_template_or_the_subnet_is_caught() {
    let policy = no_public_ip_in_private_subnets();
    let by_template = hosts_in(
        "Private-A",
        template().associate_public_ip_address(true),
        false,
    );
    let findings = policy.check(&by_template);
    assert_eq!(names(&findings), [("hosts", Some("subnet_ids[0]"))]);
    assert_eq!(
        findings[0].message,
        "instances of hosts get a public IP in private subnet Private-A: launch template hosts sets associate_public_ip_address"
    );
    assert_eq!(findings[0].code.as_str(), "P003");

    let by_subnet = hosts_in("Private-A", template(), true);
    let findings = policy.check(&by_subnet);
    assert_eq!(names(&findings), [("hosts", Some("subnet_ids[0]"))]);
    assert!(
        findings[0]
            .message
            .ends_with("subnet Private-A maps public IPs on launch")
    );
}

#[test]
fn no_public_ip_or_a_public_subnet_passes() {
    let policy = no_public_ip_in_private_subnets();
    // The template's `false` wins over the subnet's mapping.
    let off = hosts_in(
        "Private-A",
        template().associate_public_ip_address(false),
        true,
    );
    assert_eq!(policy.check(&off), []);
    let public = hosts_in(
        "public-a",
        template().associate_public_ip_address(true),
        true,
    );
    assert_eq!(policy.check(&public), []);
}

#[test]
fn nat_per_zone_passes_one_per_zone_and_regional() {
    for strategy in [
        NatStrategy::OnePerAz,
        NatStrategy::Regional,
        NatStrategy::None,
    ] {
        let mut stack = Stack::new("prod");
        Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b", "us-east-1c"])
            .nat(strategy)
            .declare(&mut stack, "net");
        assert_eq!(nat_per_zone().check(&stack), [], "{strategy:?}");
    }
}

#[test]
fn nat_per_zone_names_each_subnet_using_another_zones_nat() {
    let mut stack = Stack::new("prod");
    Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b", "us-east-1c"])
        .nat(NatStrategy::Single)
        .declare(&mut stack, "net");
    let findings = nat_per_zone().check(&stack);
    assert_eq!(findings.len(), 2);
    assert!(
        findings
            .iter()
            .all(|f| f.code.as_str() == "P004" && f.is_error())
    );
    assert!(
        findings[0]
            .message
            .contains("in us-east-1b reaches the internet through NAT gateway")
    );
    assert!(
        findings[0]
            .fix
            .starts_with("add a NAT gateway in a public subnet of us-east-1b")
    );
    assert!(findings[1].message.contains("in us-east-1c"));
}

#[test]
fn nat_per_zone_points_at_the_zones_own_nat_when_there_is_one() {
    let mut stack = Stack::new("prod");
    let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    let igw = stack.add("igw", InternetGateway::new().vpc(vpc.id()));
    let mut public_rt = RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id());
    let mut nats = Vec::new();
    for (zone, cidr) in [("a", "10.0.0.0/24"), ("b", "10.0.1.0/24")] {
        let az = format!("us-east-1{zone}");
        let public = stack.add(&format!("public-{zone}"), Subnet::new(vpc.id(), cidr, &az));
        public_rt = public_rt.associate(public.id());
        let eip = stack.add(&format!("nat-{zone}"), ElasticIp::new());
        nats.push(stack.add(
            &format!("nat-{zone}"),
            NatGateway::public(public.id(), eip.id()),
        ));
    }
    stack.add("public", public_rt);
    let private_b = stack.add(
        "private-b",
        Subnet::new(vpc.id(), "10.0.11.0/24", "us-east-1b"),
    );
    stack.add(
        "private",
        RouteTable::new(vpc.id())
            .route_to_nat_gateway("0.0.0.0/0", nats[0].id())
            .associate(private_b.id()),
    );
    let findings = nat_per_zone().check(&stack);
    assert_eq!(names(&findings), [("private-b", None)]);
    assert!(
        findings[0]
            .fix
            .contains("to NAT gateway nat-b, which is in us-east-1b"),
        "{}",
        findings[0].fix
    );
    // A warning while a team migrates: same finding, not blocking.
    let soft = nat_per_zone()
        .with_severity(Severity::Warning)
        .check(&stack);
    assert!(!soft[0].is_error());
}
