//! The load balancer stack on the tutorial's topology: an internet-facing
//! load balancer in the public subnets serving an ECS service whose tasks
//! run on the private container instances. Tasks are placed, pull their
//! images and run, and their targets turn healthy; or, with one thing
//! wrong, no task is placed, images can't be pulled, or targets are
//! unhealthy, each for the reason ECS or ELB would give. The whole stack
//! is destroyed in dependency order and leaves the cloud empty.

use super::*;
use crate::aws::ecs::EcsService;
use crate::aws::ecs_task::{Container, PortMapping, TaskDefinition};
use crate::aws::elb::{HealthCheck, Listener, LoadBalancer, TargetGroup};
use crate::provider::sim::latency::Op;
use crate::provider::sim::target_groups::Health;
use crate::resource::ClusterName;

/// What the serving part of the stack looks like.
#[derive(Clone, Debug)]
pub(super) struct Serving {
    /// The hosts' group admits the dynamic port range from the load balancer's group.
    pub hosts_admit_lb: bool,
    /// The image the task runs.
    pub image: &'static str,
    /// Tasks the service keeps.
    pub desired: u32,
    /// The target group's health check.
    pub health_check: HealthCheck,
}

impl Default for Serving {
    fn default() -> Self {
        Self {
            hosts_admit_lb: true,
            image: "public.ecr.aws/nginx/nginx:1.27",
            desired: 2,
            health_check: HealthCheck::http("/"),
        }
    }
}

/// Adds the serving stack to `stack`: load balancer, target group,
/// listener, task definition and service. Ids of the new resources are
/// pushed to `stack.created` in creation order.
pub(super) async fn serve(sim: &SimProvider, stack: &mut Deployed, serving: &Serving) {
    macro_rules! add {
        ($name:expr_2021, $props:expr_2021) => {{
            let props = $props;
            let id = create(sim, $name, &props).await;
            stack.created.push((urn_of(&props, $name), id.clone()));
            id
        }};
    }
    fn urn_of<R: Resource>(_: &R, name: &str) -> Urn {
        urn::<R>(name)
    }
    let vpc = stack.id::<Vpc>("main").to_string();
    let vpc_id = || VpcId::new(&vpc);
    let lb_sg = SecurityGroup::new(vpc_id(), "web").ingress(Rule::tcp(80).cidr("0.0.0.0/0"));
    let lb_sg = add!("web-lb", lb_sg);
    if serving.hosts_admit_lb {
        let hosts = stack.id::<SecurityGroup>("ecs-hosts").to_string();
        let admit = Rule::tcp_range(32768, 65535).group(SecurityGroupId::new(&lb_sg));
        let props = SecurityGroup::new(vpc_id(), "ECS hosts").ingress(admit);
        update(sim, "ecs-hosts", &hosts, &props).await.unwrap();
    }
    let mut lb = LoadBalancer::new().security_group(SecurityGroupId::new(&lb_sg));
    for i in 0..2 {
        lb = lb.subnet(SubnetId::new(stack.id::<Subnet>(&format!("public-{i}"))));
    }
    let lb = add!("web", lb);
    let tg = TargetGroup::http(80, vpc_id()).health_check(serving.health_check.clone());
    let tg = add!("web", tg);
    let listener = Listener::http(LoadBalancerArn::new(&lb), 80, TargetGroupArn::new(&tg));
    add!("http", listener);
    let container = Container::new("web", serving.image)
        .memory(256)
        .port(PortMapping::dynamic(80));
    let td = add!("web", TaskDefinition::new().container(container));
    let service = EcsService::new(
        ClusterName::new(&stack.cluster),
        TaskDefinitionArn::new(&td),
        serving.desired,
    )
    .load_balancer(TargetGroupArn::new(&tg), "web", 80);
    add!("web", service);
}

use crate::aws::ecs_task::TaskDefinitionArn;
use crate::aws::elb::{LoadBalancerArn, TargetGroupArn};

/// The service's outputs now.
async fn service(sim: &SimProvider, stack: &Deployed) -> Outputs {
    let id = stack.id::<EcsService>("web");
    read::<EcsService>(sim, "web", id)
        .await
        .expect("service exists")
}

/// The target group's outputs now.
async fn targets(sim: &SimProvider, stack: &Deployed) -> Outputs {
    let id = stack.id::<TargetGroup>("web");
    read::<TargetGroup>(sim, "web", id)
        .await
        .expect("target group exists")
}

/// Destroys `stack` newest first, once the hosts' group no longer refers
/// to the load balancer's (keel would have made that rule after both).
async fn teardown(sim: &SimProvider, stack: &Deployed) {
    let hosts = stack.id::<SecurityGroup>("ecs-hosts");
    let vpc = VpcId::new(stack.id::<Vpc>("main"));
    let props = SecurityGroup::new(vpc, "ECS hosts");
    update(sim, "ecs-hosts", hosts, &props).await.unwrap();
    stack.destroy(sim).await;
}

/// Deploys the tutorial's topology shaped by `shape` and the serving stack.
async fn deploy_serving(sim: &SimProvider, shape: &Shape, serving: &Serving) -> Deployed {
    let mut stack = deploy(sim, shape).await;
    serve(sim, &mut stack, serving).await;
    stack
}

#[tokio::test]
async fn tasks_run_and_targets_turn_healthy() {
    let sim = sim();
    let stack = deploy_serving(&sim, &Shape::default(), &Serving::default()).await;
    let svc = service(&sim, &stack).await;
    assert_eq!(svc["running_count"], 2, "{svc:?}");
    assert_eq!(svc["pending_count"], 0);
    assert_eq!(svc["last_event"], "");
    let tg = targets(&sim, &stack).await;
    assert_eq!(tg["registered_targets"], 2, "{tg:?}");
    assert_eq!(tg["healthy_targets"], 2, "{tg:?}");
    assert_eq!(tg["load_balancer_arns"][0], stack.id::<LoadBalancer>("web"));
    // One task per instance (spread), each on a dynamic port.
    let ports: Vec<(String, u16)> = sim.peek(|c| {
        let tg = c.target_groups.values().next().expect("a target group");
        tg.targets.iter().map(|t| (t.id.clone(), t.port)).collect()
    });
    assert_ne!(ports[0].0, ports[1].0, "{ports:?}");
    assert!(ports.iter().all(|(_, p)| *p >= 32768), "{ports:?}");

    // Scaling down stops a task and deregisters its target.
    let td = stack.id::<TaskDefinition>("web");
    let tg_id = stack.id::<TargetGroup>("web");
    let fewer = EcsService::new(ClusterName::new("app"), TaskDefinitionArn::new(td), 1)
        .load_balancer(TargetGroupArn::new(tg_id), "web", 80);
    let out = update(&sim, "web", stack.id::<EcsService>("web"), &fewer)
        .await
        .unwrap();
    assert_eq!(out["desired_count"], 1);
    assert_eq!(service(&sim, &stack).await["running_count"], 1);
    assert_eq!(targets(&sim, &stack).await["registered_targets"], 1);

    teardown(&sim, &stack).await;
    assert_eq!(
        sim.resource_counts(),
        BTreeMap::new(),
        "the cloud ends empty"
    );
}

#[tokio::test]
async fn targets_are_unhealthy_when_the_hosts_group_shuts_out_the_load_balancer() {
    let sim = sim();
    let serving = Serving {
        hosts_admit_lb: false,
        ..Serving::default()
    };
    let stack = deploy_serving(&sim, &Shape::default(), &serving).await;
    assert_eq!(service(&sim, &stack).await["running_count"], 2);
    let tg = targets(&sim, &stack).await;
    assert_eq!(tg["registered_targets"], 2);
    assert_eq!(tg["healthy_targets"], 0);
    let verdicts = sim.targets();
    assert_eq!(verdicts.len(), 2);
    let event = service(&sim, &stack).await["last_event"].to_string();
    assert!(event.contains("is unhealthy in target-group"), "{event}");
    assert!(event.contains("Request timed out"), "{event}");
    let hosts = stack.id::<SecurityGroup>("ecs-hosts");
    for t in verdicts {
        assert_eq!(t.health, "unhealthy");
        assert_eq!(t.reason.as_deref(), Some("Target.Timeout"));
        let why = t.description.unwrap_or_default();
        assert!(why.contains(hosts), "names the hosts' group: {why}");
    }
    teardown(&sim, &stack).await;
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn a_health_check_on_a_port_the_task_does_not_listen_on_fails() {
    let sim = sim();
    let serving = Serving {
        health_check: HealthCheck::http("/").port(32768 + 999),
        ..Serving::default()
    };
    let stack = deploy_serving(&sim, &Shape::default(), &serving).await;
    let reasons = sim.peek(|c| {
        let tg = c.target_groups.values().next().expect("a target group");
        tg.targets
            .iter()
            .map(|t| t.reason.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(reasons.len(), 2);
    assert!(
        reasons
            .iter()
            .all(|r| r.as_deref() == Some("Target.FailedHealthChecks")),
        "{reasons:?}"
    );
    teardown(&sim, &stack).await;
}

#[tokio::test]
async fn no_tasks_are_placed_when_no_instance_registers() {
    let sim = sim();
    let shape = Shape {
        instance_profile: false,
        ..Shape::default()
    };
    let stack = deploy_serving(&sim, &shape, &Serving::default()).await;
    let svc = service(&sim, &stack).await;
    assert_eq!(svc["running_count"], 0);
    assert_eq!(svc["pending_count"], 0);
    let event = svc["last_event"].as_str().unwrap_or_default();
    assert!(event.contains("unable to place a task"), "{event}");
    assert!(
        event.contains("No Container Instances were found"),
        "{event}"
    );
    assert_eq!(targets(&sim, &stack).await["registered_targets"], 0);
    teardown(&sim, &stack).await;
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn tasks_stop_with_cannot_pull_container_error_without_a_path_to_the_registry() {
    let sim = sim();
    // The agents reach ECS through endpoints, but nothing reaches the internet.
    let shape = Shape {
        nat_route: false,
        endpoints: &["ecs", "ecs-agent", "ecs-telemetry"],
        ..Shape::default()
    };
    let stack = deploy_serving(&sim, &shape, &Serving::default()).await;
    assert_eq!(
        super::registration::registered(&sim, &stack.cluster).await,
        2,
        "hosts registered"
    );
    let svc = service(&sim, &stack).await;
    assert_eq!(svc["running_count"], 0, "{svc:?}");
    let event = svc["last_event"].as_str().unwrap_or_default();
    assert!(event.contains("CannotPullContainerError"), "{event}");
    assert!(event.contains("public.ecr.aws/nginx/nginx:1.27"), "{event}");
    // The scheduler keeps retrying: once the private subnets route to the
    // NAT gateways, the tasks start and the event clears.
    for i in 0..2 {
        let private = SubnetId::new(stack.id::<Subnet>(&format!("private-{i}")));
        let nat = NatGatewayId::new(&stack.nats[i]);
        let rt = RouteTable::new(VpcId::new(stack.id::<Vpc>("main")))
            .associate(private)
            .route_to_nat_gateway("0.0.0.0/0", nat);
        let id = &stack.private_route_tables[i];
        update(&sim, &format!("private-{i}"), id, &rt)
            .await
            .unwrap();
    }
    let svc = service(&sim, &stack).await;
    assert_eq!(svc["running_count"], 2, "{svc:?}");
    assert_eq!(svc["last_event"], "");
    teardown(&sim, &stack).await;
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn delete_order_is_enforced() {
    let sim = sim();
    let stack = deploy_serving(&sim, &Shape::default(), &Serving::default()).await;
    let tg = stack.id::<TargetGroup>("web");
    // A listener forwards to the target group.
    assert_eq!(
        code(delete::<TargetGroup>(&sim, "web", tg).await),
        "ResourceInUse"
    );
    // The cluster has a service.
    assert_eq!(
        code(delete::<EcsCluster>(&sim, "app", &stack.cluster).await),
        "ClusterContainsServicesException"
    );
    // DeleteService refuses a service still scaled above 0.
    let svc = stack.id::<EcsService>("web");
    let direct = sim.api("DeleteService", |c, _| c.delete_service(svc));
    assert_eq!(code(direct), "InvalidParameterException");
    teardown(&sim, &stack).await;
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn tasks_and_targets_take_their_time_on_the_simulated_clock() {
    let sim = SimProvider::in_memory().with_latency(SimLatency::realistic());
    let stack = deploy_serving(&sim, &Shape::default(), &Serving::default()).await;
    // Just created: the tasks are pulling their images.
    let svc = service(&sim, &stack).await;
    assert_eq!(
        (svc["pending_count"].as_u64(), svc["running_count"].as_u64()),
        (Some(2), Some(0)),
        "{svc:?}"
    );
    let start = SimLatency::realistic().duration(Op::TaskStart);
    tokio::time::sleep(start).await;
    assert_eq!(service(&sim, &stack).await["running_count"], 2);
    // Registered, the targets are `initial` for the first healthy_threshold checks.
    let tg = targets(&sim, &stack).await;
    assert_eq!(
        (
            tg["registered_targets"].as_u64(),
            tg["healthy_targets"].as_u64()
        ),
        (Some(2), Some(0)),
        "{tg:?}"
    );
    let healthy = sim.peek(|c| {
        c.target_groups
            .values()
            .flat_map(|t| t.targets.clone())
            .collect::<Vec<_>>()
    });
    assert!(
        healthy.iter().all(|t| t.health == Health::Initial),
        "{healthy:?}"
    );
    // 5 checks 30 s apart, at a sixtieth of AWS's speed.
    tokio::time::sleep(std::time::Duration::from_millis(5 * 30_000 / 60)).await;
    assert_eq!(targets(&sim, &stack).await["healthy_targets"], 2);
    teardown(&sim, &stack).await;
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn a_running_service_survives_a_reopen() {
    let dir = super::lifecycle::temp_dir("serving");
    let path = dir.join("cloud.json");
    let sim = SimProvider::open(&path, SimLatency::none()).unwrap();
    let stack = deploy_serving(&sim, &Shape::default(), &Serving::default()).await;
    let before = sim.targets();
    assert_eq!(before.len(), 2);
    drop(sim);
    let again = SimProvider::open(&path, SimLatency::none()).unwrap();
    assert_eq!(service(&again, &stack).await["running_count"], 2);
    assert_eq!(again.targets(), before, "the same targets, still healthy");
    teardown(&again, &stack).await;
    assert_eq!(again.resource_count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
