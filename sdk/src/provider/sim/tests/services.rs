//! IAM, launch template, Auto Scaling and ECS rules, each with AWS's error
//! code, plus ids and names as AWS shapes them.

use super::*;
use crate::aws::autoscaling::AutoScalingGroupOutputs;
use crate::aws::ec2::LaunchTemplateOutputs;
use crate::aws::ecs::EcsClusterOutputs;
use crate::aws::iam::IamRoleOutputs;
use crate::resource::{RoleName, STACK_TAG, URN_TAG};

fn role() -> IamRole {
    IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN)
}

#[tokio::test]
async fn roles_and_profiles_follow_iam_rules() {
    let sim = sim();
    let r = try_create(&sim, "host", &role().name("host"))
        .await
        .unwrap();
    let out: IamRoleOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    assert_eq!(out.arn.as_str(), "arn:aws:iam::123456789012:role/host");
    assert_eq!(
        refused(&sim, "again", &role().name("host")).await,
        "EntityAlreadyExists"
    );
    let orphan = InstanceProfile::new(RoleName::new("nobody"));
    assert_eq!(refused(&sim, "orphan", &orphan).await, "NoSuchEntity");
    assert!(sim.peek(|c| c.instance_profiles.is_empty()), "rolled back");

    let profile = create(&sim, "host", &InstanceProfile::new(RoleName::new("host"))).await;
    assert!(
        profile.starts_with("host-") && profile.len() == 12,
        "auto-named: {profile}"
    );
    // IAM refuses to delete a role a profile holds…
    assert_eq!(
        code(delete::<IamRole>(&sim, "host", "host").await),
        "DeleteConflict"
    );
    // …and the provider's profile delete removes the role first.
    delete::<InstanceProfile>(&sim, "host", &profile)
        .await
        .unwrap();
    // Policy changes happen in place.
    update(
        &sim,
        "host",
        "host",
        &role()
            .name("host")
            .managed_policy("arn:aws:iam::aws:policy/ReadOnlyAccess"),
    )
    .await
    .unwrap();
    assert_eq!(sim.peek(|c| c.roles["host"].managed_policy_arns.len()), 2);
    delete::<IamRole>(&sim, "host", "host").await.unwrap();
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn launch_templates_version_every_change() {
    let sim = sim();
    let lt = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small").name("hosts");
    let r = try_create(&sim, "hosts", &lt).await.unwrap();
    assert!(r.id.starts_with("lt-"));
    assert_eq!(r.outputs["latest_version"], 1);
    assert_eq!(
        refused(&sim, "dup", &lt).await,
        "InvalidLaunchTemplateName.AlreadyExistsException"
    );
    let bigger = lt.clone().tag("team", "a");
    let out = update(&sim, "hosts", &r.id, &bigger).await.unwrap();
    assert_eq!(out["latest_version"], 1, "tags alone make no version");
    let bigger = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.large").name("hosts");
    let out: LaunchTemplateOutputs = serde_json::from_value(Value::Object(
        update(&sim, "hosts", &r.id, &bigger).await.unwrap(),
    ))
    .unwrap();
    assert_eq!(out.latest_version, 2);
    assert_eq!(sim.peek(|c| c.launch_templates[&r.id].versions.len()), 2);
    let bad = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small")
        .iam_instance_profile(InstanceProfileName::new("missing"));
    assert_eq!(refused(&sim, "bad", &bad).await, "InvalidParameterValue");
    let bad = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small")
        .security_group(SecurityGroupId::new("sg-00000000000000000"));
    assert_eq!(refused(&sim, "bad", &bad).await, "InvalidGroup.NotFound");
}

#[tokio::test]
async fn auto_scaling_groups_validate_and_scale() {
    let sim = sim();
    let (vpc, a) = vpc_with_subnet(&sim).await;
    let b = subnet(&sim, "b", &vpc, "10.0.2.0/24", "us-east-1b").await;
    let lt = create(
        &sim,
        "hosts",
        &LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small"),
    )
    .await;
    let group = |desired: u32| {
        AutoScalingGroup::new(LaunchTemplateId::new(&lt), 1, 4)
            .desired_capacity(desired)
            .subnet(SubnetId::new(&a))
            .subnet(SubnetId::new(&b))
            .name("hosts")
            .tag("team", "a")
    };
    let r = try_create(&sim, "hosts", &group(3)).await.unwrap();
    let out: AutoScalingGroupOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    assert_eq!(out.instance_count, 3);
    assert!(
        out.arn
            .as_str()
            .starts_with("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:")
    );
    assert!(out.arn.as_str().ends_with(":autoScalingGroupName/hosts"));
    let instances = sim.instances();
    let in_a = instances
        .iter()
        .filter(|i| i.subnet_id.as_str() == a)
        .count();
    assert_eq!((instances.len(), in_a), (3, 2), "round robin across AZs");
    assert!(
        instances
            .iter()
            .all(|i| i.state == "running" && i.public_ip.is_none())
    );
    assert!(sim.peek(|c| c.instances.values().all(|i| i.tags["team"] == "a")));

    assert_eq!(refused(&sim, "dup", &group(2)).await, "AlreadyExists");
    let no_lt = AutoScalingGroup::new(LaunchTemplateId::new("lt-00000000000000000"), 1, 1)
        .subnet(SubnetId::new(&a));
    assert_eq!(refused(&sim, "x", &no_lt).await, "ValidationError");
    let too_many = AutoScalingGroup::new(LaunchTemplateId::new(&lt), 1, 2)
        .desired_capacity(3)
        .subnet(SubnetId::new(&a));
    assert_eq!(refused(&sim, "x", &too_many).await, "ValidationError");
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let c = subnet(&sim, "c", &other, "10.1.0.0/24", "us-east-1c").await;
    let split = AutoScalingGroup::new(LaunchTemplateId::new(&lt), 1, 2)
        .subnet(SubnetId::new(&a))
        .subnet(SubnetId::new(&c));
    assert_eq!(refused(&sim, "x", &split).await, "ValidationError");

    let out = update(&sim, "hosts", "hosts", &group(1)).await.unwrap();
    assert_eq!(out["instance_count"], 1);
    // A subnet with an instance in it can't be deleted.
    let busy = sim.instances()[0].subnet_id.to_string();
    assert_eq!(
        code(delete::<Subnet>(&sim, "busy", &busy).await),
        "DependencyViolation"
    );
    delete::<AutoScalingGroup>(&sim, "hosts", "hosts")
        .await
        .unwrap();
    assert!(sim.instances().is_empty());
    assert_eq!(read::<AutoScalingGroup>(&sim, "hosts", "hosts").await, None);
}

#[tokio::test]
async fn an_existing_cluster_of_another_stack_is_not_adopted() {
    let sim = sim();
    let mut mine = EcsCluster::new().name("app");
    mine.tags
        .insert(URN_TAG.into(), urn::<EcsCluster>("app").to_string());
    mine.tags.insert(STACK_TAG.into(), "test".into());
    let r = try_create(&sim, "app", &mine).await.unwrap();
    let out: EcsClusterOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    assert_eq!(
        out.arn.as_str(),
        "arn:aws:ecs:us-east-1:123456789012:cluster/app"
    );
    assert_eq!(
        (
            out.status.as_str(),
            out.registered_container_instances_count
        ),
        ("ACTIVE", 0)
    );
    // The same resource creating again (a retried create) adopts its own.
    assert_eq!(try_create(&sim, "app", &mine).await.unwrap().id, "app");
    // Another resource with the same cluster name doesn't.
    let err = try_create(&sim, "other", &EcsCluster::new().name("app"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ResourceInUseException");
    // The raw API is idempotent, as in AWS.
    let raw = sim.api("CreateCluster", |c, _| {
        Ok(c.create_cluster("app", true, Tags::new()).tags.clone())
    });
    assert_eq!(raw.unwrap().get(URN_TAG), mine.tags.get(URN_TAG));
    assert_eq!(sim.resource_count(), 1);
    delete::<EcsCluster>(&sim, "app", "app").await.unwrap();
    assert_eq!(read::<EcsCluster>(&sim, "app", "app").await, None);
}
