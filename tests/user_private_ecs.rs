//! The `private_ecs` stack tested the way a user tests their own program:
//! `use keel::testing::*` and plain `#[test]`s, no runtime, no network, no
//! files. Most tests read the declared stack (typed queries, network
//! assertions, a plan snapshot); one deploys it on the in-memory simulator
//! and checks that the instances register and the service serves.

use keel::testing::*;
use keel_examples::stacks::private_ecs::{Options, build, build_manual};

fn stack() -> Stack {
    build(&Options::default())
}

#[test]
fn each_private_subnet_leaves_through_a_nat_gateway_in_a_public_subnet() {
    let stack = stack();
    for subnet in stack
        .resources::<Subnet>()
        .filter(|s| s.name().contains("private"))
    {
        assert_egress_via_nat(&stack, &subnet);
    }
}

#[test]
fn one_nat_gateway_per_zone_in_that_zones_public_subnet() {
    let stack = stack();
    assert_count::<NatGateway>(&stack, 2);
    let mut zones = Vec::new();
    for nat in stack.resources::<NatGateway>() {
        let subnet = stack
            .follow::<Subnet>(nat.subnet_id.as_ref().unwrap())
            .unwrap();
        assert!(
            subnet.name().contains("public"),
            "{} is in {}",
            nat.name(),
            subnet.name()
        );
        assert!(
            nat.allocation_id.is_some(),
            "{} has an Elastic IP",
            nat.name()
        );
        zones.push(subnet.resource().availability_zone.clone());
    }
    zones.sort();
    assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
}

#[test]
fn each_private_route_table_sends_the_internet_to_its_own_zones_nat() {
    let stack = stack();
    for table in stack
        .resources::<RouteTable>()
        .filter(|t| t.name().contains("private"))
    {
        let default = table
            .routes
            .iter()
            .find(|r| r.destination_cidr_block == "0.0.0.0/0");
        let Some(RouteTarget::NatGateway(nat)) = default.map(|r| &r.target) else {
            panic!("{} has no 0.0.0.0/0 route to a NAT gateway", table.name());
        };
        let nat = stack.follow::<NatGateway>(nat).unwrap();
        let home = stack
            .follow::<Subnet>(nat.subnet_id.as_ref().unwrap())
            .unwrap();
        for subnet in &table.subnet_ids {
            let subnet = stack.follow::<Subnet>(subnet).unwrap();
            assert_eq!(
                subnet.resource().availability_zone,
                home.resource().availability_zone
            );
        }
    }
}

#[test]
fn the_hosts_let_out_https_only_and_admit_only_the_load_balancer() {
    let stack = stack();
    let hosts = expect::<SecurityGroup>(&stack, "ecs-hosts");
    let ports: Vec<(u16, u16)> = hosts
        .egress
        .iter()
        .map(|r| (r.from_port, r.to_port))
        .collect();
    assert_eq!(ports, [(443, 443)]);
    let lb = expect::<SecurityGroup>(&stack, "alb");
    for rule in &hosts.ingress {
        let from_lb = rule.peers.iter().any(|p| match p {
            Peer::Group(g) => stack
                .follow::<SecurityGroup>(g)
                .is_some_and(|g| g.urn() == lb.urn()),
            _ => false,
        });
        assert!(
            from_lb,
            "ecs-hosts admits {rule:?} from something else than the load balancer"
        );
    }
}

#[test]
fn the_stack_declares_what_the_tutorial_draws() {
    let stack = stack();
    let counts = stack.counts();
    assert_eq!(counts["aws:ec2:Vpc"], 1);
    assert_eq!(counts["aws:ec2:Subnet"], 4);
    assert_eq!(counts["aws:autoscaling:Group"], 1);
    assert_eq!(counts["aws:elbv2:LoadBalancer"], 1);
    assert_all::<Subnet>(&stack, "sit in a /24", |s| s.cidr_block.ends_with("/24"));
    assert_any::<LaunchTemplate>(&stack, "has an instance profile", |t| {
        t.iam_instance_profile.is_some()
    });
}

#[test]
fn the_hosts_reach_ecs_and_nothing_on_the_internet_reaches_them() {
    let stack = stack();
    let hosts = expect::<AutoScalingGroup>(&stack, "ecs-hosts");
    for endpoint in [Endpoint::Ecs, Endpoint::EcsAgent, Endpoint::EcsTelemetry] {
        assert_reaches(&stack, &hosts, endpoint);
    }
    assert_reaches(&stack, &hosts, Endpoint::Internet("public.ecr.aws"));
    assert_no_public_ip(&stack, &hosts);
    assert_not_reachable_from_internet(&stack, &hosts);
}

#[test]
fn the_plan_is_the_reviewed_one() {
    let stack = stack();
    let preview = plan(&stack);
    assert!(
        preview.checks.findings.is_empty(),
        "{}",
        preview.checks.render_text()
    );
    insta::assert_snapshot!(plan_snapshot(&stack, &preview.plan));
}

#[test]
fn deployed_the_instances_register_and_the_service_serves() {
    let stack = stack();
    let hosts = expect::<AutoScalingGroup>(&stack, "ecs-hosts");
    let deployed = apply(&stack);
    assert_eq!(deployed.outputs(&hosts).instance_count, 2);
    assert_eq!(deployed.export::<String>("running_tasks"), "2/2");
    assert_eq!(deployed.export::<String>("healthy_targets"), "2/2");
    let url: String = deployed.export("url");
    assert!(url.starts_with("http://web-"), "{url}");
}

#[test]
fn a_nat_gateway_moved_into_a_private_subnet_is_caught_with_its_path() {
    // Every resource and property is still there: only the path is wrong.
    let broken = build_manual(&Options {
        nat_in_private_subnets: true,
        ..Options::default()
    });
    let private_a = expect::<Subnet>(&broken, "private-a");
    let message = egress_via_nat(&broken, &private_a).unwrap_err();
    assert_eq!(
        message,
        "subnet private-a doesn't reach the internet through a NAT gateway: \
         NAT gateway nat-a is in subnet private-a, which isn't public: \
         its route table private-a sends the internet (0.0.0.0/0) to NAT gateway nat-a, \
         not to an attached internet gateway
  path:
    1. subnet private-a (us-east-1a)
    2. route table private-a: 0.0.0.0/0 → NAT gateway nat-a
    3. NAT gateway nat-a in subnet private-a"
    );
    // The same stack passes every property check a CDK-style test makes.
    assert_count::<NatGateway>(&broken, 2);
    assert_all::<NatGateway>(&broken, "have an Elastic IP", |n| n.allocation_id.is_some());
}

#[test]
fn scaling_the_hosts_to_three_changes_one_resource_in_place() {
    let deployed = apply(&stack());
    let bigger = build(&Options {
        desired_capacity: 3,
        ..Options::default()
    });
    let next = deployed.preview(&bigger);
    let summary = next.plan.summary();
    assert_eq!(
        (
            summary.update,
            summary.replace,
            summary.create,
            summary.delete
        ),
        (1, 0, 0, 0)
    );
    let step = next
        .plan
        .steps
        .iter()
        .find(|s| s.action != keel::plan::Action::Same)
        .unwrap();
    assert_eq!(step.urn.name(), "ecs-hosts");
    let hosts = expect::<AutoScalingGroup>(&bigger, "ecs-hosts");
    assert_eq!(deployed.apply(&bigger).outputs(&hosts).instance_count, 3);
}

#[test]
fn the_stack_keeps_the_teams_policies() {
    let stack = stack();
    assert_policy(&stack, &keel::policy::builtins::no_ssh_from_anywhere());
    assert_policy(
        &stack,
        &keel::policy::builtins::no_public_ip_in_private_subnets(),
    );
    assert_policy(&stack, &keel::policy::builtins::nat_per_zone());
    // The example tags nothing: a team-tag policy says which resources lack it.
    let untagged = keel::policy::builtins::require_tag("team").check(&stack);
    assert!(
        untagged.iter().any(|f| f.urn.name() == "net-nat-a"),
        "{untagged:?}"
    );
}
