//! The `aws` provider's load balancer stack end to end against moto: an
//! internet-facing application load balancer in the public subnets, its
//! target group and listener, and an ECS service of a task definition on a
//! capacity provider whose Auto Scaling group runs in the private subnets.
//! Deployed through the public API, then checked with independent SDK calls
//! (not keel's reads): the load balancer sits in the public subnets, the
//! listener forwards to the target group, the service runs the task
//! definition on the cluster with the capacity provider. An update changes
//! the desired count and the health check path in place; destroying leaves
//! nothing tagged with the stack.
//!
//! moto runs no ECS tasks: the service's running count stays 0 and no
//! target registers, so this test checks configuration, not traffic. moto
//! also drops a service's capacity provider strategy, deployment
//! configuration and grace period (AWS reports them).

use aws_sdk_ecs::types::ServiceField;
use keel::aws::ecs_task::{Container, PortMapping};
use keel::aws::elb::HealthCheck;
use keel::aws::iam::ECS_INSTANCE_POLICY_ARN;
use keel::components::Network;
use keel::engine::{ApplyOptions, Deployment};
use keel::prelude::*;
use keel::provider::{FindRequest, Provider};
use keel::state::LocalStore;
use keel_tests::{aws_on_fresh_moto, state_dir};
use std::sync::Arc;

const STACK: &str = "moto-lb";

/// The whole picture; `desired` tasks, health checks of `health_path`.
fn lb_stack(desired: u32, health_path: &str) -> Stack {
    let mut stack = Stack::new(STACK);
    let net =
        Network::new("10.0.0.0/16", vec!["us-east-1a", "us-east-1b"]).declare(&mut stack, "net");
    let vpc = &net.vpc;
    let alb_sg = stack.add(
        "alb",
        SecurityGroup::new(vpc.id(), "load balancer")
            .ingress(
                Rule::tcp(80)
                    .cidr("0.0.0.0/0")
                    .describe("HTTP from anywhere"),
            )
            .egress(
                Rule::tcp_range(32768, 65535)
                    .cidr("10.0.0.0/16")
                    .describe("dynamic host ports"),
            ),
    );
    let hosts_sg = stack.add(
        "ecs-hosts",
        SecurityGroup::new(vpc.id(), "ECS container instances")
            .ingress(
                Rule::tcp_range(32768, 65535)
                    .group(alb_sg.id())
                    .describe("the load balancer"),
            )
            .egress(Rule::tcp(443).cidr("0.0.0.0/0").describe("ECS and ECR")),
    );
    let role = stack.add(
        "ecs-instance",
        IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN),
    );
    let profile = stack.add("ecs-instance", InstanceProfile::new(role.name()));
    let cluster = stack.add("app", EcsCluster::new());
    let user_data = cluster
        .name()
        .map(|name| format!("#!/bin/bash\necho ECS_CLUSTER={name} >> /etc/ecs/ecs.config\n"));
    let template = stack.add(
        "ecs-hosts",
        LaunchTemplate::new("ami-0a3c14e1ddbe7f23c", "t3.small")
            .user_data(user_data)
            .iam_instance_profile(profile.name())
            .security_group(hosts_sg.id()),
    );
    let mut asg = AutoScalingGroup::new(template.id(), 0, 4).desired_capacity(2);
    for s in net.private_subnet_ids() {
        asg = asg.subnet(s);
    }
    let asg = stack.add("ecs-hosts", asg);
    let cp = stack.add(
        "hosts",
        CapacityProvider::new(asg.arn(), cluster.name()).name("web-hosts"),
    );
    let mut lb = LoadBalancer::new().security_group(alb_sg.id());
    for s in net.public_subnet_ids() {
        lb = lb.subnet(s);
    }
    let lb = stack.add("web", lb);
    let tg = stack.add(
        "web",
        TargetGroup::http(80, vpc.id())
            .health_check(HealthCheck::http(health_path))
            .deregistration_delay_seconds(30),
    );
    let listener = stack.add("http", Listener::http(lb.arn(), 80, tg.arn()));
    let task = stack.add(
        "web",
        TaskDefinition::new().container(
            Container::new("web", "public.ecr.aws/nginx/nginx:1.27")
                .memory(128)
                .port(PortMapping::dynamic(80))
                .env("MODE", "demo"),
        ),
    );
    // ECS refuses a target group no load balancer forwards to yet.
    let svc = stack.add_with(
        "web",
        EcsService::new(cluster.name(), task.arn(), desired)
            .load_balancer(tg.arn(), "web", 80)
            .capacity_provider(cp.name())
            .health_check_grace_period_seconds(60),
        ResourceOptions::new().depends_on(listener.urn()),
    );
    stack.export("url", lb.url());
    stack.export("lb_arn", lb.arn());
    stack.export("tg_arn", tg.arn());
    stack.export("task_arn", task.arn());
    stack.export("service_arn", svc.arn());
    stack.export("cluster", cluster.name());
    stack.export("public_subnet_ids", Output::all(net.public_subnet_ids()));
    stack
}

async fn apply(
    stack: &Stack,
    aws: Arc<dyn Provider>,
    dir: &std::path::Path,
) -> keel::engine::ApplyReport {
    let store = LocalStore::open(dir, STACK).unwrap();
    let mut d = Deployment::open(stack, aws, Box::new(store)).unwrap();
    let plan = d.plan().unwrap();
    let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    report
}

fn out(report: &keel::engine::ApplyReport, key: &str) -> String {
    report.outputs[key].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balanced_ecs_service_deploys_updates_and_destroys_on_moto() {
    let aws = aws_on_fresh_moto().await;
    let shared: Arc<dyn Provider> = Arc::new(aws.clone());
    let dir = state_dir();

    let report = apply(&lb_stack(2, "/"), shared.clone(), dir.path()).await;
    let conf = keel_tests::moto_config().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let ecs = aws_sdk_ecs::Client::new(&conf);

    // The load balancer is internet-facing, in the public subnets.
    let lb_arn = out(&report, "lb_arn");
    let lbs = elb
        .describe_load_balancers()
        .load_balancer_arns(&lb_arn)
        .send()
        .await
        .unwrap();
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    let mut lb_subnets: Vec<String> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    lb_subnets.sort();
    let mut public: Vec<String> = report.outputs["public_subnet_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    public.sort();
    assert_eq!(lb_subnets, public);
    assert!(out(&report, "url").starts_with("http://"));

    // The listener forwards to the target group.
    let tg_arn = out(&report, "tg_arn");
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1);
    let l = &listeners.listeners()[0];
    assert_eq!(l.port(), Some(80));
    let action = &l.default_actions()[0];
    assert_eq!(action.r#type().map(|t| t.as_str()), Some("forward"));
    assert_eq!(action.target_group_arn(), Some(tg_arn.as_str()));
    let tgs = elb
        .describe_target_groups()
        .target_group_arns(&tg_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tgs.target_groups()[0].load_balancer_arns(),
        std::slice::from_ref(&lb_arn)
    );
    assert_eq!(tgs.target_groups()[0].health_check_path(), Some("/"));

    // The service runs the task definition on the cluster, through the
    // capacity provider, registered with the target group.
    let cluster = out(&report, "cluster");
    let service_arn = out(&report, "service_arn");
    let described = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service_arn)
        .include(ServiceField::Tags)
        .send()
        .await
        .unwrap();
    let svc = &described.services()[0];
    assert_eq!(
        svc.task_definition(),
        Some(out(&report, "task_arn").as_str())
    );
    assert_eq!(svc.desired_count(), 2);
    assert_eq!(
        svc.load_balancers()[0].target_group_arn(),
        Some(tg_arn.as_str())
    );
    // moto ignores CreateService's capacity provider strategy (and its
    // deployment configuration and grace period): AWS would list
    // `web-hosts` here. The cluster's list is checked below.
    assert!(svc.tags().iter().any(|t| t.key() == Some("keel:urn")));
    let clusters = ecs
        .describe_clusters()
        .clusters(&cluster)
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.clusters()[0].capacity_providers(), ["web-hosts"]);
    let task = ecs
        .describe_task_definition()
        .task_definition(out(&report, "task_arn"))
        .send()
        .await
        .unwrap();
    let container = &task.task_definition().unwrap().container_definitions()[0];
    assert_eq!(container.port_mappings()[0].host_port(), Some(0));

    // Each new resource is found again by its `keel:urn` tag alone.
    let tagged = [
        (LoadBalancer::TYPE, "web", lb_arn.clone()),
        (TargetGroup::TYPE, "web", tg_arn.clone()),
        (
            Listener::TYPE,
            "http",
            l.listener_arn().unwrap().to_string(),
        ),
        (TaskDefinition::TYPE, "web", out(&report, "task_arn")),
        (CapacityProvider::TYPE, "hosts", "web-hosts".to_string()),
        (EcsService::TYPE, "web", service_arn.clone()),
    ];
    for (token, name, id) in tagged {
        let urn = keel::Urn::new(STACK, token, name);
        let found = aws.find_by_tags(FindRequest { urn: urn.clone() }).await;
        let ids: Vec<String> = found.unwrap().into_iter().map(|f| f.id).collect();
        assert_eq!(ids, [id], "{urn}");
    }

    // Nothing changed: nothing to do.
    let store = LocalStore::open(dir.path(), STACK).unwrap();
    let same = lb_stack(2, "/");
    let mut d = Deployment::open(&same, shared.clone(), Box::new(store)).unwrap();
    let plan = d.plan().unwrap();
    assert!(
        !plan.summary().has_changes(),
        "{}",
        keel::plan::render_text(&plan)
    );
    let refreshed = d.refresh(true).await.unwrap();
    assert!(refreshed.errors.is_empty(), "{:?}", refreshed.errors);
    assert!(refreshed.drift.is_empty(), "{:?}", refreshed.drift);
    drop(d);

    // Update in place: three tasks, another health check path.
    let report = apply(&lb_stack(3, "/healthz"), shared.clone(), dir.path()).await;
    assert_eq!(out(&report, "service_arn"), service_arn);
    let described = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.services()[0].desired_count(), 3);
    let tgs = elb
        .describe_target_groups()
        .target_group_arns(&tg_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tgs.target_groups()[0].health_check_path(), Some("/healthz"));

    // Destroy: nothing tagged with the stack is left.
    let store = LocalStore::open(dir.path(), STACK).unwrap();
    let last = lb_stack(3, "/healthz");
    let mut d = Deployment::open(&last, shared, Box::new(store)).unwrap();
    let plan = d.plan_destroy().unwrap();
    let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(
        elb.describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .is_empty()
    );
    assert!(
        elb.describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .is_empty()
    );
    let left = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service_arn)
        .send()
        .await;
    // The cluster is gone with its services (or the service reads INACTIVE).
    if let Ok(left) = left {
        assert!(
            left.services()
                .iter()
                .all(|s| s.status() == Some("INACTIVE"))
        );
    }
    let providers = ecs
        .describe_capacity_providers()
        .capacity_providers("web-hosts")
        .send()
        .await
        .unwrap();
    assert!(
        providers
            .capacity_providers()
            .iter()
            .all(|p| p.status().map(|s| s.as_str()) == Some("INACTIVE")),
        "{providers:?}"
    );
    let tasks = ecs.list_task_definitions().send().await.unwrap();
    assert!(tasks.task_definition_arns().is_empty(), "{tasks:?}");
}
