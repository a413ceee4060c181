//! ECS's rules for task definitions, capacity providers and services, each
//! with AWS's error code, on the tutorial's topology; and `awsvpc` tasks,
//! which get their own interfaces and register as IP targets.

use super::serving::{Serving, serve};
use super::*;
use crate::aws::ecs::{CapacityProvider, EcsService, TaskNetwork};
use crate::aws::ecs_task::{
    Container, NetworkMode, PortMapping, TaskDefinition, TaskDefinitionArn,
};
use crate::aws::elb::{Listener, LoadBalancerArn, TargetGroup, TargetGroupArn};
use crate::resource::{Arn, ClusterName};

fn web(image: &str) -> Container {
    Container::new("web", image)
        .memory(256)
        .port(PortMapping::dynamic(80))
}

#[tokio::test]
async fn task_definitions_get_revisions_and_checked_roles() {
    let sim = sim();
    let stack = deploy(&sim, &Shape::default()).await;
    let td = TaskDefinition::new().family("web").container(web("nginx"));
    let one = create(&sim, "web", &td).await;
    assert!(one.ends_with(":task-definition/web:1"), "{one}");
    let two = create(&sim, "web-next", &td).await;
    assert!(two.ends_with("web:2"), "{two}");
    delete::<TaskDefinition>(&sim, "web", &one).await.unwrap();
    assert!(
        read::<TaskDefinition>(&sim, "web", &one).await.is_none(),
        "INACTIVE reads as gone"
    );
    let three = create(&sim, "web-again", &td).await;
    assert!(
        three.ends_with("web:3"),
        "deregistered revisions count: {three}"
    );

    let missing = Arn::new("arn:aws:iam::123456789012:role/nobody");
    let bad = td.clone().execution_role(missing);
    assert_eq!(refused(&sim, "bad", &bad).await, "ClientException");
    let role = stack.id::<IamRole>("ecs-host");
    let good = td
        .clone()
        .execution_role(Arn::new(format!("arn:aws:iam::123456789012:role/{role}")));
    create(&sim, "good", &good).await;
    // Another account's role isn't the simulator's to check.
    let foreign = td.execution_role(Arn::new("arn:aws:iam::210987654321:role/theirs"));
    create(&sim, "foreign", &foreign).await;
}

#[tokio::test]
async fn capacity_providers_follow_ecs_rules() {
    let sim = sim();
    let stack = deploy(&sim, &Shape::default()).await;
    let asg_arn = sim.peek(|c| c.groups[&stack.asg].arn.clone());
    let cluster = || ClusterName::new(&stack.cluster);
    let unknown = CapacityProvider::new(
        Arn::new(
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/none",
        ),
        cluster(),
    );
    assert_eq!(refused(&sim, "unknown", &unknown).await, "ClientException");
    let cp = create(
        &sim,
        "hosts",
        &CapacityProvider::new(Arn::new(&asg_arn), cluster()).name("hosts"),
    )
    .await;
    assert_eq!(
        sim.peek(|c| c.capacity_providers[&cp].cluster.clone()),
        Some("app".into()),
        "associated"
    );
    let second = CapacityProvider::new(Arn::new(&asg_arn), cluster()).name("more");
    assert_eq!(refused(&sim, "more", &second).await, "ClientException");
    assert!(sim.peek(|c| !c.capacity_providers.contains_key("more")));

    // A service on it keeps it from being removed.
    let td = create(&sim, "web", &TaskDefinition::new().container(web("nginx"))).await;
    let svc = EcsService::new(cluster(), TaskDefinitionArn::new(&td), 1)
        .capacity_provider(crate::aws::ecs::CapacityProviderName::new(&cp));
    let svc = create(&sim, "web", &svc).await;
    let out = read::<EcsService>(&sim, "web", &svc).await.unwrap();
    assert_eq!(out["running_count"], 1, "{out:?}");
    assert_eq!(
        code(delete::<CapacityProvider>(&sim, "hosts", &cp).await),
        "ResourceInUseException"
    );
    delete::<EcsService>(&sim, "web", &svc).await.unwrap();
    delete::<CapacityProvider>(&sim, "hosts", &cp)
        .await
        .unwrap();
    assert!(sim.peek(|c| c.capacity_providers.is_empty()));
}

#[tokio::test]
async fn services_follow_ecs_rules() {
    let sim = sim();
    let mut stack = deploy(&sim, &Shape::default()).await;
    serve(&sim, &mut stack, &Serving::default()).await;
    let vpc = VpcId::new(stack.id::<Vpc>("main"));
    let td = TaskDefinitionArn::new(stack.id::<TaskDefinition>("web"));
    let tg = stack.id::<TargetGroup>("web").to_string();
    let service = |cluster: &str| EcsService::new(ClusterName::new(cluster), td.clone(), 1);

    assert_eq!(
        refused(&sim, "lost", &service("nope")).await,
        "ClusterNotFoundException"
    );
    let bare = create(&sim, "bare", &TargetGroup::http(80, vpc.clone())).await;
    let unattached = service("app").load_balancer(TargetGroupArn::new(&bare), "web", 80);
    assert_eq!(
        refused(&sim, "unattached", &unattached).await,
        "InvalidParameterException"
    );
    let no_port = service("app").load_balancer(TargetGroupArn::new(&tg), "web", 8080);
    assert_eq!(
        refused(&sim, "no-port", &no_port).await,
        "InvalidParameterException"
    );
    let no_container = service("app").load_balancer(TargetGroupArn::new(&tg), "api", 80);
    assert_eq!(
        refused(&sim, "no-container", &no_container).await,
        "InvalidParameterException"
    );
    let network = TaskNetwork {
        subnet_ids: vec![SubnetId::new(stack.id::<Subnet>("private-0")).into()],
        security_group_ids: Vec::new(),
    };
    let bridge_with_network = service("app").network(network.clone());
    assert_eq!(
        refused(&sim, "bridge-net", &bridge_with_network).await,
        "InvalidParameterException"
    );

    let awsvpc = Container::new("web", "nginx")
        .memory(256)
        .port(PortMapping::same(80));
    let awsvpc = TaskDefinition::new()
        .container(awsvpc)
        .network_mode(NetworkMode::Awsvpc);
    let awsvpc = TaskDefinitionArn::new(create(&sim, "vpc-web", &awsvpc).await);
    let no_network = EcsService::new(ClusterName::new("app"), awsvpc.clone(), 1);
    assert_eq!(
        refused(&sim, "no-net", &no_network).await,
        "InvalidParameterException"
    );
    let lb = LoadBalancerArn::new(stack.id::<crate::aws::elb::LoadBalancer>("web"));
    let instance_tg = create(&sim, "inst", &TargetGroup::http(80, vpc.clone())).await;
    create(
        &sim,
        "inst",
        &Listener::http(lb, 8081, TargetGroupArn::new(&instance_tg)),
    )
    .await;
    let wrong_type = no_network.clone().network(network).load_balancer(
        TargetGroupArn::new(&instance_tg),
        "web",
        80,
    );
    assert_eq!(
        refused(&sim, "wrong-type", &wrong_type).await,
        "InvalidParameterException"
    );
    let ip_tg = create(&sim, "ip", &TargetGroup::http(80, vpc.clone()).ip_targets()).await;
    let lb = LoadBalancerArn::new(stack.id::<crate::aws::elb::LoadBalancer>("web"));
    create(
        &sim,
        "ip",
        &Listener::http(lb, 8082, TargetGroupArn::new(&ip_tg)),
    )
    .await;
    let bridge_to_ip = service("app").load_balancer(TargetGroupArn::new(&ip_tg), "web", 80);
    assert_eq!(
        refused(&sim, "bridge-ip", &bridge_to_ip).await,
        "InvalidParameterException"
    );

    // An inactive revision can't start a new service.
    let old = create(&sim, "old", &TaskDefinition::new().container(web("nginx"))).await;
    delete::<TaskDefinition>(&sim, "old", &old).await.unwrap();
    let stale = EcsService::new(ClusterName::new("app"), TaskDefinitionArn::new(&old), 1);
    assert_eq!(refused(&sim, "stale", &stale).await, "ClientException");
    // One service of a name per cluster.
    let name = stack
        .id::<EcsService>("web")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        refused(&sim, "twin", &service("app").name(name)).await,
        "InvalidParameterException"
    );
}

#[tokio::test]
async fn awsvpc_tasks_get_interfaces_and_register_as_ip_targets() {
    let sim = sim();
    let mut stack = deploy(&sim, &Shape::default()).await;
    serve(
        &sim,
        &mut stack,
        &Serving {
            desired: 0,
            ..Serving::default()
        },
    )
    .await;
    let vpc = VpcId::new(stack.id::<Vpc>("main"));
    let lb_sg = SecurityGroupId::new(stack.id::<SecurityGroup>("web-lb"));
    let task_sg = SecurityGroup::new(vpc.clone(), "tasks").ingress(Rule::tcp(80).group(lb_sg));
    let task_sg = create(&sim, "tasks", &task_sg).await;
    let tg = create(&sim, "ip", &TargetGroup::http(80, vpc).ip_targets()).await;
    let lb = LoadBalancerArn::new(stack.id::<crate::aws::elb::LoadBalancer>("web"));
    let listener = create(
        &sim,
        "ip",
        &Listener::http(lb, 8080, TargetGroupArn::new(&tg)),
    )
    .await;
    let td = TaskDefinition::new()
        .container(
            Container::new("web", "public.ecr.aws/nginx/nginx:1.27")
                .memory(256)
                .port(PortMapping::same(80)),
        )
        .network_mode(NetworkMode::Awsvpc);
    let td = create(&sim, "ip", &td).await;
    let network = TaskNetwork {
        subnet_ids: (0..2)
            .map(|i| SubnetId::new(stack.id::<Subnet>(&format!("private-{i}"))).into())
            .collect(),
        security_group_ids: vec![SecurityGroupId::new(&task_sg).into()],
    };
    // t3.small hosts have 3 interfaces: 2 tasks each, so 5 can't all fit.
    let svc = EcsService::new(ClusterName::new("app"), TaskDefinitionArn::new(&td), 5)
        .network(network)
        .load_balancer(TargetGroupArn::new(&tg), "web", 80);
    let svc = create(&sim, "ip", &svc).await;
    let out = read::<EcsService>(&sim, "ip", &svc).await.unwrap();
    assert_eq!(out["running_count"], 4, "{out:?}");
    let event = out["last_event"].as_str().unwrap_or_default();
    assert!(event.contains("RESOURCE:ENI"), "{event}");
    let targets = read::<TargetGroup>(&sim, "ip", &tg).await.unwrap();
    assert_eq!(targets["healthy_targets"], 4, "{targets:?}");
    let ips = sim.peek(|c| {
        c.target_groups[&tg]
            .targets
            .iter()
            .map(|t| t.id.clone())
            .collect::<Vec<_>>()
    });
    assert!(
        ips.iter().all(|ip| ip.starts_with("10.0.1")),
        "private addresses: {ips:?}"
    );
    // The interfaces keep the task group in use.
    assert_eq!(
        code(delete::<SecurityGroup>(&sim, "tasks", &task_sg).await),
        "DependencyViolation"
    );

    delete::<EcsService>(&sim, "ip", &svc).await.unwrap();
    delete::<Listener>(&sim, "ip", &listener).await.unwrap();
    delete::<TargetGroup>(&sim, "ip", &tg).await.unwrap();
    delete::<SecurityGroup>(&sim, "tasks", &task_sg)
        .await
        .unwrap();
}

#[tokio::test]
async fn deployments_respect_the_minimum_healthy_and_maximum_percent() {
    let sim = sim();
    deploy(&sim, &Shape::default()).await;
    // A fixed host port: one task per instance, two instances.
    let fixed = |mode: &str| {
        let c = Container::new("web", "public.ecr.aws/nginx/nginx:1.27")
            .memory(256)
            .port(PortMapping::host(80, 80))
            .env("MODE", mode);
        TaskDefinition::new().family("fixed").container(c)
    };
    let one = TaskDefinitionArn::new(create(&sim, "one", &fixed("one")).await);
    let two = TaskDefinitionArn::new(create(&sim, "two", &fixed("two")).await);
    let svc = EcsService::new(ClusterName::new("app"), one.clone(), 2);
    let id = create(&sim, "web", &svc).await;
    assert_eq!(
        read::<EcsService>(&sim, "web", &id).await.unwrap()["running_count"],
        2
    );
    let revisions = |sim: &SimProvider| {
        sim.peek(|c| {
            let tasks = c.services[&id].tasks.iter();
            let mut r: Vec<String> = tasks.map(|t| t.task_definition.clone()).collect();
            r.sort();
            r
        })
    };

    // 100/200 (the default): the new tasks find port 80 taken, the old keep running.
    let stuck = EcsService::new(ClusterName::new("app"), two.clone(), 2);
    let out = update(&sim, "web", &id, &stuck).await.unwrap();
    assert_eq!(out["running_count"], 2);
    let event = out["last_event"].as_str().unwrap_or_default().to_string();
    assert!(event.contains("already using a port"), "{event}");
    assert_eq!(revisions(&sim), [one.as_str(), one.as_str()]);

    // 50/100: one old task stops at once, so a new one fits; then the other.
    let rolling = stuck.deployment(50, 100);
    update(&sim, "web", &id, &rolling).await.unwrap();
    for _ in 0..4 {
        read::<EcsService>(&sim, "web", &id).await;
    }
    assert_eq!(revisions(&sim), [two.as_str(), two.as_str()]);
    let out = read::<EcsService>(&sim, "web", &id).await.unwrap();
    assert_eq!(
        (out["running_count"].as_u64(), out["last_event"].as_str()),
        (Some(2), Some(""))
    );
}
