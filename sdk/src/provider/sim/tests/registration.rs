//! The ECS registration rule on whole topologies: the tutorial's stack
//! registers both instances; each way of breaking its path to the ECS
//! endpoint registers none and says which hop failed.

use super::*;
use crate::analysis::reach::Code;
use crate::aws::ecs::EcsClusterOutputs;

/// The cluster's registered count, as a provider read reports it.
pub(super) async fn registered(sim: &SimProvider, cluster: &str) -> u64 {
    let out = read::<EcsCluster>(sim, "app", cluster)
        .await
        .expect("cluster exists");
    let out: EcsClusterOutputs = serde_json::from_value(Value::Object(out)).unwrap();
    assert_eq!(
        out.registered_container_instances_count,
        sim.registered_instances(cluster)
    );
    out.registered_container_instances_count
}

/// The reasons instances gave for not registering, each with finding `code`.
pub(super) fn reasons(sim: &SimProvider, code: Code) -> Vec<String> {
    let instances = sim.instances();
    assert_eq!(instances.len(), 2);
    let reasons: Vec<String> = instances
        .iter()
        .filter_map(|i| i.registration_error.clone())
        .collect();
    assert_eq!(reasons.len(), 2, "both say why: {reasons:?}");
    for i in &instances {
        assert!(!i.agent_connected);
        assert_eq!(
            i.registration_code.as_deref(),
            Some(code.as_str()),
            "{:?}",
            i.registration_error
        );
    }
    reasons
}

/// Deploys `shape`: no instance registers, and each says why with
/// finding `code`; their reasons.
pub(super) async fn unregistered(sim: &SimProvider, shape: &Shape, code: Code) -> Vec<String> {
    let stack = deploy(sim, shape).await;
    assert_eq!(registered(sim, &stack.cluster).await, 0);
    reasons(sim, code)
}

#[tokio::test]
async fn the_tutorial_stack_registers_both_instances() {
    let sim = sim();
    let stack = deploy(&sim, &Shape::default()).await;
    assert_eq!(registered(&sim, &stack.cluster).await, 2);
    let instances = sim.instances();
    assert!(
        instances
            .iter()
            .all(|i| i.public_ip.is_none() && i.state == "running")
    );
    assert!(
        instances
            .iter()
            .all(|i| i.registered_cluster.as_ref().map(|c| c.as_str()) == Some("app"))
    );
    let zones: Vec<&str> = instances
        .iter()
        .map(|i| i.availability_zone.as_str())
        .collect();
    assert!(
        zones.contains(&"us-east-1a") && zones.contains(&"us-east-1b"),
        "{zones:?}"
    );
    assert!(sim.instance_reachability().iter().all(|(_, r)| r.is_ok()));
    assert!(
        instances
            .iter()
            .all(|i| i.agent_connected && i.registration_code.is_none())
    );
    let asg = read::<AutoScalingGroup>(&sim, "ecs-hosts", &stack.asg)
        .await
        .unwrap();
    assert_eq!(asg["instance_count"], 2);

    // Destroying in reverse order leaves nothing behind.
    stack.destroy(&sim).await;
    assert_eq!(sim.resource_count(), 0, "{:?}", sim.resource_counts());
}

#[tokio::test]
async fn without_the_nat_route_nothing_registers_until_it_is_added() {
    let sim = sim();
    let shape = Shape {
        nat_route: false,
        ..Shape::default()
    };
    let stack = deploy(&sim, &shape).await;
    assert_eq!(registered(&sim, &stack.cluster).await, 0);
    for why in reasons(&sim, Code::NoRoute) {
        assert!(why.contains("has no route to 52.46.141.38"), "{why}");
        assert!(
            why.contains("main route table") || why.contains("route table rtb-"),
            "{why}"
        );
    }
    // Adding the route fixes it: the agents keep retrying.
    for (i, (table, nat)) in stack
        .private_route_tables
        .iter()
        .zip(&stack.nats)
        .enumerate()
    {
        let private = sim.peek(|c| c.route_tables[table].associations[0].subnet_id.clone());
        let fixed = RouteTable::new(VpcId::new(
            sim.peek(|c| c.route_tables[table].vpc_id.clone()),
        ))
        .route_to_nat_gateway("0.0.0.0/0", NatGatewayId::new(nat))
        .associate(SubnetId::new(&private));
        update(&sim, &format!("private-{i}"), table, &fixed)
            .await
            .unwrap();
    }
    assert_eq!(registered(&sim, &stack.cluster).await, 2);
}

unregistered_tests! {
    without_https_egress_nothing_registers:
        Shape { https_egress: false, ..Shape::default() },
        Code::SecurityGroupEgress, ["allows no outbound TCP 443"];
    a_nat_gateway_in_a_private_subnet_leads_nowhere:
        Shape { nat_in_private_subnets: true, ..Shape::default() },
        Code::NatNoInternet, ["NAT gateway nat-", "no route to an internet gateway"];
    public_subnet_instances_without_a_public_ip_do_not:
        Shape { hosts_in_public_subnets: true, public_ip: Some(false), ..Shape::default() },
        Code::NoPublicIp, ["no public IPv4 address"];
}

#[tokio::test]
async fn public_subnet_instances_register_with_a_public_ip() {
    let sim = sim();
    let shape = Shape {
        hosts_in_public_subnets: true,
        ..Shape::default()
    };
    let stack = deploy(&sim, &shape).await;
    assert_eq!(registered(&sim, &stack.cluster).await, 2);
    assert!(sim.instances().iter().all(|i| i.public_ip.is_some()));
}

#[tokio::test]
async fn the_agent_needs_credentials_and_the_right_cluster_name() {
    let sim = sim();
    let no_profile = Shape {
        instance_profile: false,
        ..Shape::default()
    };
    let reasons = unregistered(&sim, &no_profile, Code::NoInstanceProfile).await;
    assert!(reasons.iter().all(|w| w.contains("no instance profile")));

    let sim = super::sim();
    let default_cluster = Shape {
        user_data_cluster: None,
        ..Shape::default()
    };
    let reasons = unregistered(&sim, &default_cluster, Code::ClusterNotSet).await;
    assert!(reasons.iter().all(|w| w.contains("`default`")));
    assert!(reasons.iter().all(|w| w.contains("there is no user data")));

    let sim = super::sim();
    let unreadable = Shape {
        user_data: Some(
            "#!/bin/bash\necho ECS_CLUSTER=$(cat /opt/cluster) >> /etc/ecs/ecs.config\n",
        ),
        ..Shape::default()
    };
    let reasons = unregistered(&sim, &unreadable, Code::UserDataUnreadable).await;
    assert!(
        reasons.iter().all(|w| w.contains("$(cat /opt/cluster)")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_cluster_with_registered_instances_cannot_be_deleted() {
    let sim = sim();
    let stack = deploy(&sim, &Shape::default()).await;
    let err = delete::<EcsCluster>(&sim, "app", &stack.cluster)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ClusterContainsContainerInstancesException");
    // Deleting the group terminates and deregisters its instances.
    delete::<AutoScalingGroup>(&sim, "ecs-hosts", &stack.asg)
        .await
        .unwrap();
    assert_eq!(sim.registered_instances("app"), 0);
    delete::<EcsCluster>(&sim, "app", &stack.cluster)
        .await
        .unwrap();
}

/// The simulator's agent reads its cluster as the analysis does: every
/// form of user data that writes ECS_CLUSTER registers.
#[tokio::test]
async fn the_agent_joins_the_cluster_its_user_data_writes_in_any_form() {
    let forms: [&'static str; 4] = [
        "#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_CLUSTER=app\nECS_ENABLE_TASK_IAM_ROLE=true\nEOF\n",
        "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    append: true\n    content: |\n      ECS_CLUSTER=app\n",
        "Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b\nContent-Type: text/x-shellscript\n\n#!/bin/bash\necho ECS_CLUSTER=app | tee -a /etc/ecs/ecs.config\n--b--\n",
        "[settings.ecs]\ncluster = \"app\"\n",
    ];
    for form in forms {
        let sim = sim();
        let shape = Shape {
            user_data: Some(form),
            ..Shape::default()
        };
        let stack = deploy(&sim, &shape).await;
        assert_eq!(registered(&sim, &stack.cluster).await, 2, "{form}");
        assert_eq!(
            crate::analysis::agent_cluster(Some(form)).joins(),
            Some("app")
        );
    }
}
