//! Unit tests of the wiring checks on small declared stacks: what the
//! agreement corpus (tests/corpus/wiring.rs) doesn't deploy: a service's
//! task network, and references to resources outside the stack by id.

use super::check;
use crate::aws::ecs_task::{Container, NetworkMode, PortMapping};
use crate::prelude::*;

/// The wiring findings' codes and the resources they are on.
fn wiring(stack: &Stack) -> Vec<(String, String, String)> {
    let report = check(stack);
    let wired = ["E041", "E042", "E043", "E044", "E045"];
    let findings = report.findings.iter();
    findings
        .filter(|f| wired.contains(&f.code.as_str()))
        .map(|f| {
            let field = f.field.clone().unwrap_or_default();
            (f.code.to_string(), f.urn.name().to_string(), field)
        })
        .collect()
}

/// Two VPCs, a subnet in each zone of `main` and one in `other`, and a
/// task definition in awsvpc mode.
fn two_vpcs() -> (
    Stack,
    [Handle<Subnet>; 3],
    Handle<SecurityGroup>,
    Handle<SecurityGroup>,
) {
    let mut s = Stack::new("wiring");
    let main = s.add("main", Vpc::new("10.0.0.0/16"));
    let other = s.add("other", Vpc::new("10.1.0.0/16"));
    let a = s.add("a", Subnet::new(main.id(), "10.0.0.0/24", "us-east-1a"));
    let b = s.add("b", Subnet::new(main.id(), "10.0.1.0/24", "us-east-1b"));
    let o = s.add("o", Subnet::new(other.id(), "10.1.0.0/24", "us-east-1b"));
    let own = s.add("tasks", SecurityGroup::new(main.id(), "tasks"));
    let theirs = s.add("theirs", SecurityGroup::new(other.id(), "theirs"));
    (s, [a, b, o], own, theirs)
}

fn service(s: &mut Stack, network: TaskNetwork) {
    let cluster = s.add("app", EcsCluster::new());
    let task = s.add(
        "web",
        TaskDefinition::new()
            .network_mode(NetworkMode::Awsvpc)
            .container(
                Container::new("web", "nginx")
                    .memory(128)
                    .port(PortMapping::same(80)),
            ),
    );
    s.add(
        "web",
        EcsService::new(cluster.name(), task.arn(), 1).network(network),
    );
}

#[test]
fn a_service_whose_task_subnets_span_vpcs_is_e044() {
    let (mut s, [a, _, o], own, _) = two_vpcs();
    let net = TaskNetwork {
        subnet_ids: vec![a.id().into(), o.id().into()],
        security_group_ids: vec![own.id().into()],
    };
    service(&mut s, net);
    let found = wiring(&s);
    assert_eq!(found, [("E044".into(), "web".into(), "subnet_ids".into())]);
}

#[test]
fn a_service_with_another_vpcs_group_is_e045() {
    let (mut s, [a, b, _], _, theirs) = two_vpcs();
    let net = TaskNetwork {
        subnet_ids: vec![a.id().into(), b.id().into()],
        security_group_ids: vec![theirs.id().into()],
    };
    service(&mut s, net);
    let found = wiring(&s);
    assert_eq!(
        found,
        [("E045".into(), "web".into(), "security_group_ids".into())]
    );
    let report = check(&s);
    let f = report
        .findings
        .iter()
        .find(|f| f.code.as_str() == "E045")
        .unwrap();
    assert!(
        f.message.contains("InvalidParameterException"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("theirs") && f.message.contains("web"),
        "{}",
        f.message
    );
}

#[test]
fn literal_ids_are_compared_only_with_literal_ids() {
    // A table of an existing VPC (by id) and a declared subnet: keel can't
    // know whether they are one VPC, so it says nothing.
    let mut s = Stack::new("outside");
    let main = s.add("main", Vpc::new("10.0.0.0/16"));
    let a = s.add("a", Subnet::new(main.id(), "10.0.0.0/24", "us-east-1a"));
    s.add(
        "theirs",
        RouteTable::new(VpcId::new("vpc-0aaaaaaaaaaaaaaaa")).associate(a.id()),
    );
    assert_eq!(wiring(&s), []);

    // Two existing VPCs by id are two VPCs.
    let mut s = Stack::new("outside");
    let x = s.add(
        "x",
        Subnet::new(
            VpcId::new("vpc-0aaaaaaaaaaaaaaaa"),
            "10.0.0.0/24",
            "us-east-1a",
        ),
    );
    s.add(
        "y",
        RouteTable::new(VpcId::new("vpc-0bbbbbbbbbbbbbbbb")).associate(x.id()),
    );
    assert_eq!(
        wiring(&s),
        [("E042".into(), "y".into(), "subnet_ids".into())]
    );
}

#[test]
fn an_existing_subnet_claimed_by_two_tables_is_e043() {
    let mut s = Stack::new("twice");
    let main = s.add("main", Vpc::new("10.0.0.0/16"));
    let existing = SubnetId::new("subnet-0aaaaaaaaaaaaaaaa");
    s.add(
        "one",
        RouteTable::new(main.id()).associate(existing.clone()),
    );
    s.add("two", RouteTable::new(main.id()).associate(existing));
    assert_eq!(
        wiring(&s),
        [("E043".into(), "two".into(), "subnet_ids".into())]
    );
}

#[test]
fn a_vpcs_main_table_set_twice_is_e043_and_of_another_vpc_is_e042() {
    let (mut s, _, _, _) = two_vpcs();
    let main = VpcId::new("vpc-0aaaaaaaaaaaaaaaa");
    let table =
        |s: &mut Stack, name: &str, vpc: &VpcId| s.add(name, RouteTable::new(vpc.clone())).id();
    let (one, two) = (table(&mut s, "one", &main), table(&mut s, "two", &main));
    s.add("first", MainRouteTableAssociation::new(main.clone(), one));
    s.add("second", MainRouteTableAssociation::new(main.clone(), two));
    let elsewhere = table(&mut s, "elsewhere", &VpcId::new("vpc-0bbbbbbbbbbbbbbbb"));
    s.add("third", MainRouteTableAssociation::new(main, elsewhere));
    let mut found = wiring(&s);
    found.sort();
    assert_eq!(
        found,
        [
            ("E042".into(), "third".into(), "route_table_id".into()),
            ("E043".into(), "second".into(), "vpc_id".into()),
            ("E043".into(), "third".into(), "vpc_id".into()),
        ]
    );
    let report = check(&s);
    let twice = report.findings.iter().find(|f| f.urn.name() == "second");
    let message = &twice.unwrap().message;
    assert!(
        message.contains("first") && message.contains("silently replaces"),
        "{message}"
    );
}

#[test]
fn a_correct_two_vpc_stack_has_no_wiring_finding() {
    let (mut s, [a, b, _], own, _) = two_vpcs();
    let net = TaskNetwork {
        subnet_ids: vec![a.id().into(), b.id().into()],
        security_group_ids: vec![own.id().into()],
    };
    service(&mut s, net);
    assert_eq!(wiring(&s), []);
}
