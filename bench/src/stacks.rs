//! Generated stacks for the benchmark: `cells(n)` repeats the tutorial's
//! network and hosts (a VPC with an attached internet gateway, a public
//! and a private subnet in each of two zones, an Elastic IP and NAT
//! gateway per zone in its public subnet, a public route table and one
//! private table per zone, the hosts' security group, launch template and
//! Auto Scaling group) until the stack holds about `n` resources, sharing
//! one cluster, role and instance profile.

use keel::prelude::*;

/// Resources in one cell.
const PER_CELL: usize = 16;

/// A stack of about `n` resources that passes every check.
pub fn cells(n: usize) -> Stack {
    let mut stack = Stack::new(format!("bench-{n}"));
    let role = stack.add(
        "ecs-instance",
        IamRole::for_service("ec2.amazonaws.com")
            .managed_policy(keel::aws::iam::ECS_INSTANCE_POLICY_ARN),
    );
    let profile = stack.add("ecs-instance", InstanceProfile::new(role.name()));
    let cluster = stack.add("app", EcsCluster::new());
    let user_data = cluster
        .name()
        .map(|c| format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"));
    for i in 0..(n.saturating_sub(3) / PER_CELL).max(1) {
        // 10.x.y.0/20: 4,096 VPCs fit in 10.0.0.0/8.
        let (x, y) = (i / 16, (i % 16) * 16);
        let vpc = stack.add(&format!("v{i}"), Vpc::new(format!("10.{x}.{y}.0/20")));
        let igw = stack.add(&format!("v{i}"), InternetGateway::new().vpc(vpc.id()));
        let mut public_rt =
            RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id());
        let mut privates = Vec::new();
        for (z, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let block = |k: usize| format!("10.{x}.{}.0/24", y + 2 * z + k);
            let public = stack.add(
                &format!("v{i}-public-{z}"),
                Subnet::new(vpc.id(), block(0), *az).map_public_ip_on_launch(true),
            );
            let private = stack.add(
                &format!("v{i}-private-{z}"),
                Subnet::new(vpc.id(), block(1), *az),
            );
            public_rt = public_rt.associate(public.id());
            let eip = stack.add(&format!("v{i}-nat-{z}"), ElasticIp::new());
            let nat = stack.add(
                &format!("v{i}-nat-{z}"),
                NatGateway::public(public.id(), eip.id()),
            );
            stack.add(
                &format!("v{i}-private-{z}"),
                RouteTable::new(vpc.id())
                    .route_to_nat_gateway("0.0.0.0/0", nat.id())
                    .associate(private.id()),
            );
            privates.push(private);
        }
        stack.add(&format!("v{i}-public"), public_rt);
        let sg = stack.add(
            &format!("v{i}-hosts"),
            SecurityGroup::new(vpc.id(), "hosts").egress(Rule::tcp(443).cidr("0.0.0.0/0")),
        );
        let lt = stack.add(
            &format!("v{i}-hosts"),
            LaunchTemplate::new("ami-0a3c14e1ddbe7f23c", "t3.small")
                .iam_instance_profile(profile.name())
                .security_group(sg.id())
                .user_data(user_data.clone()),
        );
        let mut asg = AutoScalingGroup::new(lt.id(), 0, 2).desired_capacity(2);
        for p in &privates {
            asg = asg.subnet(p.id());
        }
        stack.add(&format!("v{i}-hosts"), asg);
    }
    stack
}
