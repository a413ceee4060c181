//! Failure messages of the network assertions on small stacks: each names
//! what's wrong and shows the path up to it.

use super::*;
use crate::prelude::*;

/// A VPC with an attached gateway, a public subnet routed to it and a
/// private subnet with no route table of its own.
struct Net {
    stack: Stack,
    vpc: Handle<Vpc>,
    public: Handle<Subnet>,
    private: Handle<Subnet>,
}

fn net() -> Net {
    let mut s = Stack::new("t");
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    let igw = s.add("igw", InternetGateway::new().vpc(vpc.id()));
    let public = s.add(
        "public-a",
        Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a").map_public_ip_on_launch(true),
    );
    let private = s.add(
        "private-a",
        Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"),
    );
    s.add(
        "public",
        RouteTable::new(vpc.id())
            .route_to_internet_gateway("0.0.0.0/0", igw.id())
            .associate(public.id()),
    );
    Net {
        stack: s,
        vpc,
        public,
        private,
    }
}

fn hosts(n: &mut Net, subnet: Output<SubnetId>, sg: SecurityGroup) -> Handle<AutoScalingGroup> {
    let sg = n.stack.add("hosts", sg);
    let lt = n.stack.add(
        "hosts",
        LaunchTemplate::new("ami-0123456789abcdef0", "t3.small").security_group(sg.id()),
    );
    n.stack
        .add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(subnet))
}

fn panic_text(f: impl FnOnce()) -> String {
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
    e.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn a_private_subnet_without_a_nat_route_fails_reaches_with_e001_and_its_path() {
    let mut n = net();
    let sg = SecurityGroup::new(n.vpc.id(), "hosts").egress(Rule::tcp(443).cidr("0.0.0.0/0"));
    let subnet = n.private.id();
    let asg = hosts(&mut n, subnet, sg);
    let why = reaches(&n.stack, &asg, Endpoint::Ecs).unwrap_err();
    assert!(
        why.starts_with(
            "instances of hosts in subnet private-a don't reach ECS (ecs) over HTTPS: "
        ) && why.contains("(E001)\n  path:\n    1. "),
        "{why}"
    );
    let why = egress_via_nat(&n.stack, &n.private).unwrap_err();
    assert!(
        why.contains("has no route to the internet (no 0.0.0.0/0)"),
        "{why}"
    );
}

#[test]
fn egress_via_nat_names_a_wrong_target_a_private_nat_and_accepts_a_regional_one() {
    let mut n = net();
    let why = egress_via_nat(&n.stack, &n.public).unwrap_err();
    assert!(
        why.contains("route table public sends the internet (0.0.0.0/0) to internet gateway igw, not to a NAT gateway"),
        "{why}"
    );
    let nat = n.stack.add("nat", NatGateway::private(n.public.id()));
    n.stack.add(
        "private-a",
        RouteTable::new(n.vpc.id())
            .route_to_nat_gateway("0.0.0.0/0", nat.id())
            .associate(n.private.id()),
    );
    let why = egress_via_nat(&n.stack, &n.private).unwrap_err();
    assert!(why.contains("NAT gateway nat is private"), "{why}");

    let mut r = net();
    let regional = r.stack.add("regional", NatGateway::regional(r.vpc.id()));
    r.stack.add(
        "private-a",
        RouteTable::new(r.vpc.id())
            .route_to_nat_gateway("0.0.0.0/0", regional.id())
            .associate(r.private.id()),
    );
    let path = egress_via_nat(&r.stack, &r.private).unwrap();
    assert_eq!(
        path.last().unwrap(),
        "regional NAT gateway regional → internet gateway igw"
    );
}

#[test]
fn ssh_open_to_the_internet_on_public_hosts_is_reachable_unless_an_acl_denies_it() {
    let mut n = net();
    let sg = SecurityGroup::new(n.vpc.id(), "hosts").ingress(Rule::tcp(22).cidr("0.0.0.0/0"));
    let subnet = n.public.id();
    let asg = hosts(&mut n, subnet, sg);
    let m = panic_text(|| assert_not_reachable_from_internet(&n.stack, &asg));
    assert_eq!(
        m,
        "instances of hosts can be reached from the internet:\n    \
         1. instances in subnet public-a have a public IP address\n    \
         2. route table public: 0.0.0.0/0 → internet gateway igw (attached)\n    \
         3. security group hosts admits TCP 22-22 from the internet"
    );
    let m = panic_text(|| assert_no_public_ip(&n.stack, &asg));
    assert!(
        m.contains("subnet public-a: map_public_ip_on_launch"),
        "{m}"
    );

    // An ACL that lets nothing in from outside the VPC closes the path.
    n.stack.add(
        "closed",
        NetworkAcl::new(n.vpc.id())
            .ingress(AclRule::allow_all(100, "10.0.0.0/16"))
            .egress(AclRule::allow_all(100, "0.0.0.0/0"))
            .associate(n.public.id()),
    );
    assert_not_reachable_from_internet(&n.stack, &asg);
}

#[test]
fn hosts_in_a_private_subnet_pass_the_exposure_assertions() {
    let mut n = net();
    let sg = SecurityGroup::new(n.vpc.id(), "hosts").ingress(Rule::tcp(22).cidr("0.0.0.0/0"));
    let subnet = n.private.id();
    let asg = hosts(&mut n, subnet, sg);
    assert_no_public_ip(&n.stack, &asg);
    assert_not_reachable_from_internet(&n.stack, &asg);
}
