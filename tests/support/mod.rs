//! Helpers shared by the integration tests: a state directory that cleans up
//! after itself, one-call plan/apply through the public API, the ECS hosts
//! many test stacks declare, and [`moto`], a local AWS API for the aws
//! provider's tests.

use keel::aws::iam::ECS_INSTANCE_POLICY_ARN;
use keel::engine::{ApplyOptions, ApplyReport, Deployment};
use keel::plan::Plan;
use keel::prelude::*;
use keel::provider::Provider;
use keel::state::LocalStore;
use std::path::Path;
use std::sync::Arc;

pub mod moto;

/// Two ECS container instances (HTTPS egress only, an instance profile,
/// user data naming cluster `app`) in `subnets` of `vpc`, with the cluster.
pub fn ecs_hosts(
    s: &mut Stack,
    vpc: Output<VpcId>,
    subnets: impl IntoIterator<Item = Output<SubnetId>>,
) -> Handle<AutoScalingGroup> {
    let sg = s.add(
        "hosts",
        SecurityGroup::new(vpc, "ECS container instances").egress(Rule::tcp(443).cidr("0.0.0.0/0")),
    );
    let role = s.add(
        "ecs",
        IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN),
    );
    let profile = s.add("ecs", InstanceProfile::new(role.name()));
    let cluster = s.add("app", EcsCluster::new());
    let user_data = cluster
        .name()
        .map(|c| format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"));
    let lt = s.add(
        "hosts",
        LaunchTemplate::new("ami-0a3c14e1ddbe7f23c", "t3.small")
            .user_data(user_data)
            .iam_instance_profile(profile.name())
            .security_group(sg.id()),
    );
    let mut asg = AutoScalingGroup::new(lt.id(), 0, 4).desired_capacity(2);
    for subnet in subnets {
        asg = asg.subnet(subnet);
    }
    s.add("hosts", asg)
}

/// A fresh temporary state directory.
pub fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("keel-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// Plans `stack` against its state in `dir`.
pub fn plan(stack: &Stack, provider: Arc<dyn Provider>, dir: &Path) -> Plan {
    let store = LocalStore::open(dir, stack.name()).expect("open state");
    let d = Deployment::open(stack, provider, Box::new(store)).expect("open deployment");
    d.plan().expect("plan")
}

/// Plans and applies `stack`; returns the plan and the report.
pub async fn up(
    stack: &Stack,
    provider: Arc<dyn Provider>,
    dir: &Path,
    parallel: usize,
) -> (Plan, ApplyReport) {
    let store = LocalStore::open(dir, stack.name()).expect("open state");
    let mut d = Deployment::open(stack, provider, Box::new(store)).expect("open deployment");
    let plan = d.plan().expect("plan");
    let report = d
        .apply(&plan, ApplyOptions::default().parallel(parallel))
        .await
        .expect("apply");
    (plan, report)
}

/// Destroys everything `stack`'s state records.
pub async fn destroy(
    stack: &Stack,
    provider: Arc<dyn Provider>,
    dir: &Path,
) -> (Plan, ApplyReport) {
    let store = LocalStore::open(dir, stack.name()).expect("open state");
    let mut d = Deployment::open(stack, provider, Box::new(store)).expect("open deployment");
    let plan = d.plan_destroy().expect("plan destroy");
    let report = d
        .apply(&plan, ApplyOptions::default())
        .await
        .expect("destroy");
    (plan, report)
}

/// An AWS SDK configuration for the shared moto server (endpoint, region,
/// fake credentials), built without touching the process environment.
pub async fn moto_config() -> aws_config::SdkConfig {
    let moto = moto::Moto::shared();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto.endpoint.clone())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// The aws provider pointed at the shared moto server, wiped first, with
/// short waits (moto makes everything available at once).
pub async fn aws_on_fresh_moto() -> keel::provider::aws::AwsProvider {
    let moto = moto::Moto::shared();
    moto.reset();
    keel::provider::aws::AwsProvider::from_config(&moto_config().await)
        .expect("configure the aws provider")
        .with_timeouts(keel::provider::aws::Timeouts {
            nat_gateway: std::time::Duration::from_secs(60),
            capacity: std::time::Duration::from_secs(60),
            endpoint: std::time::Duration::from_secs(60),
            load_balancer: std::time::Duration::from_secs(60),
            service: std::time::Duration::from_secs(60),
            poll: std::time::Duration::from_millis(200),
        })
}
