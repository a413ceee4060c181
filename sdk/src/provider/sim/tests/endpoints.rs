//! Interface VPC endpoints: AWS's rules (service names, one subnet per zone,
//! security groups of the VPC, private DNS and its VPC attributes), their
//! network interfaces as dependents, the wait for `available`, and what they
//! do to ECS registration in private subnets with no NAT route.

use super::registration::registered;
use super::*;
use crate::analysis::reach::Code;
use crate::aws::ec2::VpcEndpointOutputs;
use crate::resource::URN_TAG;

const ECS: &str = "com.amazonaws.us-east-1.ecs";

#[tokio::test]
async fn endpoints_follow_aws_rules() {
    let sim = sim();
    let (vpc, a) = vpc_with_subnet(&sim).await;
    let vpc_id = || VpcId::new(&vpc);
    let endpoint =
        |service: &str| VpcEndpoint::interface(vpc_id(), service).subnet(SubnetId::new(&a));
    // The VPC has DNS hostnames off.
    let err = try_create(&sim, "ecs", &endpoint(ECS)).await.unwrap_err();
    assert_eq!(err.code(), "InvalidParameter");
    assert!(
        err.message
            .contains("enableDnsSupport and enableDnsHostnames"),
        "{err}"
    );
    for bad in [
        "com.amazonaws.us-west-2.ecs",
        "com.amazonaws.us-east-1.nope",
    ] {
        let r = try_create(&sim, "x", &endpoint(bad).private_dns(false)).await;
        assert_eq!(code(r), "InvalidServiceName", "{bad}");
    }
    let same_zone = Subnet::new(vpc_id(), "10.0.2.0/24", "us-east-1a");
    let a2 = create(&sim, "a2", &same_zone).await;
    let two = endpoint(ECS).private_dns(false).subnet(SubnetId::new(&a2));
    assert_eq!(refused(&sim, "x", &two).await, "DuplicateSubnetsInSameZone");
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let foreign_sg = create(&sim, "far", &SecurityGroup::new(VpcId::new(&other), "far")).await;
    let foreign = endpoint(ECS)
        .private_dns(false)
        .security_group(SecurityGroupId::new(&foreign_sg));
    assert_eq!(refused(&sim, "x", &foreign).await, "InvalidParameter");
    let missing = endpoint(ECS)
        .private_dns(false)
        .security_group(SecurityGroupId::new("sg-00000000000000000"));
    assert_eq!(refused(&sim, "x", &missing).await, "InvalidGroup.NotFound");
    assert_eq!(sim.peek(|c| c.vpc_endpoints.len()), 0, "nothing made");

    // Without private DNS it works; no groups means the VPC's default group.
    let r = try_create(&sim, "ecs", &endpoint(ECS).private_dns(false))
        .await
        .unwrap();
    let out: VpcEndpointOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    assert!(r.id.starts_with("vpce-"));
    assert_eq!(
        (out.state.as_str(), out.private_ips),
        ("available", vec!["10.0.1.4".to_string()])
    );
    let default_sg = sim.peek(|c| c.vpcs[&vpc].default_security_group_id.clone());
    assert_eq!(
        sim.peek(|c| c.vpc_endpoints[&r.id].security_group_ids.clone()),
        vec![default_sg.clone()]
    );
    // Its interface holds its address, its subnet and its group.
    let eip = create(&sim, "ip", &ElasticIp::new()).await;
    let nat = NatGateway::public(SubnetId::new(&a), AllocationId::new(&eip));
    let nat = try_create(&sim, "nat", &nat).await.unwrap();
    assert_eq!(nat.outputs["private_ip"], "10.0.1.5");
    delete::<NatGateway>(&sim, "nat", &nat.id).await.unwrap();
    let err = delete::<Subnet>(&sim, "a", &a).await.unwrap_err();
    assert_eq!(err.code(), "DependencyViolation");
    assert!(
        err.message.contains("VPC endpoint network interfaces"),
        "{err}"
    );
    let raw = sim.api("DeleteSecurityGroup", |c, _| {
        c.delete_security_group(&default_sg)
    });
    assert_eq!(code(raw), "CannotDelete");
    let err = delete::<Vpc>(&sim, "main", &vpc).await.unwrap_err();
    assert!(err.message.contains("VPC endpoints"), "{err}");

    // With both DNS attributes on, private DNS works — once per service.
    update(&sim, "main", &vpc, &dns_vpc()).await.unwrap();
    let sg = create(&sim, "sg", &SecurityGroup::new(vpc_id(), "endpoints")).await;
    let dns = create(&sim, "ecs-dns", &endpoint(ECS)).await;
    let conflict = try_create(&sim, "ecs-dns2", &endpoint(ECS))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), "InvalidParameter");
    assert!(
        conflict.message.contains("conflicting DNS domain"),
        "{conflict}"
    );
    let err = update(&sim, "ecs", &r.id, &endpoint(ECS))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameter");

    // Updates change subnets and groups in place.
    let b = create(
        &sim,
        "b",
        &Subnet::new(vpc_id(), "10.0.3.0/24", "us-east-1b"),
    )
    .await;
    let moved = endpoint(ECS)
        .private_dns(false)
        .subnet(SubnetId::new(&b))
        .security_group(SecurityGroupId::new(&sg));
    let out = update(&sim, "ecs", &r.id, &moved).await.unwrap();
    assert_eq!(out["private_ips"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        sim.peek(|c| c.vpc_endpoints[&r.id].security_group_ids.clone()),
        vec![sg.clone()]
    );
    assert_eq!(
        code(delete::<SecurityGroup>(&sim, "sg", &sg).await),
        "DependencyViolation"
    );
    // Failed calls count too, as in CloudTrail.
    let calls = sim.api_calls();
    assert_eq!(
        (calls["CreateVpcEndpoint"], calls["ModifyVpcEndpoint"]),
        (9, 2)
    );

    for (name, id) in [("ecs", &r.id), ("ecs-dns", &dns)] {
        delete::<VpcEndpoint>(&sim, name, id).await.unwrap();
        assert_eq!(read::<VpcEndpoint>(&sim, name, id).await, None);
    }
    assert_eq!(sim.api_calls()["DeleteVpcEndpoints"], 2);
    for (name, id) in [("a", &a), ("a2", &a2), ("b", &b)] {
        delete::<Subnet>(&sim, name, id).await.unwrap();
    }
    delete::<SecurityGroup>(&sim, "sg", &sg).await.unwrap();
    delete::<SecurityGroup>(&sim, "far", &foreign_sg)
        .await
        .unwrap();
    delete::<ElasticIp>(&sim, "ip", &eip).await.unwrap();
    delete::<Vpc>(&sim, "other", &other).await.unwrap();
    delete::<Vpc>(&sim, "main", &vpc).await.unwrap();
    assert_eq!(sim.resource_count(), 0, "{:?}", sim.resource_counts());
}

#[tokio::test]
async fn the_provider_waits_for_endpoints_and_labels_them() {
    // An endpoint takes 60 ms at this scale to create, 30 ms to delete.
    let sim = SimProvider::in_memory().with_latency(SimLatency::scaled(0.001));
    let vpc = create(&sim, "main", &dns_vpc()).await;
    let subnet = Subnet::new(VpcId::new(&vpc), "10.0.1.0/24", "us-east-1a");
    let subnet = create(&sim, "a", &subnet).await;
    let mut endpoint = VpcEndpoint::interface(VpcId::new(&vpc), ECS).subnet(SubnetId::new(&subnet));
    endpoint
        .tags
        .insert(URN_TAG.into(), urn::<VpcEndpoint>("ecs").to_string());
    let r = try_create(&sim, "ecs", &endpoint).await.unwrap();
    assert_eq!(r.outputs["state"], "available");
    assert!(sim.api_calls()["DescribeVpcEndpoints"] >= 2, "polled");
    let model = sim.network_model();
    let facts = &model.endpoints[&r.id];
    assert_eq!(
        (facts.label.as_str(), facts.service.as_str()),
        ("ecs", "ecs")
    );
    assert!(facts.private_dns);
    assert_eq!(model.label(&subnet), subnet, "no URN tag: the id");
    delete::<VpcEndpoint>(&sim, "ecs", &r.id).await.unwrap();
    delete::<Subnet>(&sim, "a", &subnet).await.unwrap();
}

/// The private subnets reach nothing outside the VPC except through
/// endpoints for `services`.
fn endpoints_only(services: &'static [&'static str]) -> Shape {
    Shape {
        nat_route: false,
        endpoints: services,
        ..Shape::default()
    }
}

#[tokio::test]
async fn ecs_endpoints_replace_the_nat_gateway() {
    let sim = sim();
    let stack = deploy(
        &sim,
        &endpoints_only(&["ecs", "ecs-agent", "ecs-telemetry"]),
    )
    .await;
    assert_eq!(registered(&sim, &stack.cluster).await, 2);
    let instances = sim.instances();
    assert!(
        instances
            .iter()
            .all(|i| i.agent_connected && i.registration_error.is_none())
    );
    for (_, path) in sim.instance_reachability() {
        let hops = path.expect("reachable");
        assert!(
            hops.iter().any(|h| h.contains("interface endpoint")),
            "{hops:?}"
        );
    }
    // A subnet with endpoint interfaces can't be deleted.
    let private = stack.id::<Subnet>("private-0");
    assert_eq!(
        code(delete::<Subnet>(&sim, "private-0", private).await),
        "DependencyViolation"
    );
    stack.destroy(&sim).await;
    assert_eq!(sim.resource_count(), 0, "{:?}", sim.resource_counts());
}

unregistered_tests! {
    an_endpoint_group_that_refuses_https_stops_registration:
        Shape {
            endpoint_https_ingress: false,
            ..endpoints_only(&["ecs", "ecs-agent", "ecs-telemetry"])
        },
        Code::EndpointSecurityGroup, ["admits no TCP 443"];
}

#[tokio::test]
async fn an_ecs_endpoint_alone_registers_a_disconnected_agent() {
    let sim = sim();
    let stack = deploy(&sim, &endpoints_only(&["ecs"])).await;
    assert_eq!(registered(&sim, &stack.cluster).await, 2);
    for i in sim.instances() {
        assert!(!i.agent_connected);
        assert_eq!(i.registration_code.as_deref(), Some("E036"));
        let why = i.registration_error.unwrap_or_default();
        assert!(
            why.contains("ecs-agent is unreachable") && why.contains("E001"),
            "{why}"
        );
    }
}

#[tokio::test]
async fn without_ecs_telemetry_the_agent_stays_connected() {
    // The telemetry session (TCS) is apart from the agent's connection
    // (ACS): failing it loses metrics, not tasks (amazon-ecs-agent#1074).
    let sim = sim();
    let stack = deploy(&sim, &endpoints_only(&["ecs", "ecs-agent"])).await;
    assert_eq!(registered(&sim, &stack.cluster).await, 2);
    for i in sim.instances() {
        assert!(i.agent_connected, "{:?}", i.registration_error);
        assert_eq!(i.registration_code, None);
    }
}
