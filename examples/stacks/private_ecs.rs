//! The architecture of the "ECS on private subnets" tutorial, across two
//! availability zones: a public and a private subnet per AZ, an internet
//! gateway, an Elastic IP and NAT gateway per AZ (or one shared), a public
//! route table sending 0.0.0.0/0 to the internet gateway, private route tables
//! sending 0.0.0.0/0 to a NAT gateway, a security group that allows outbound
//! traffic, the ECS instance role and profile, a launch template whose user
//! data names the cluster, an Auto Scaling group of two instances in the
//! private subnets, and the ECS cluster.

use keel::aws::iam::ECS_INSTANCE_POLICY_ARN;
use keel::components::{NatStrategy, Network};
use keel::prelude::*;
use std::time::Duration;

/// The two availability zones and their subnet blocks.
pub const ZONES: [(&str, &str, &str); 2] = [
    ("us-east-1a", "10.0.0.0/24", "10.0.10.0/24"),
    ("us-east-1b", "10.0.1.0/24", "10.0.11.0/24"),
];

/// An ECS-optimized Amazon Linux 2023 AMI id (region-specific on real AWS).
pub const ECS_AMI: &str = "ami-0a3c14e1ddbe7f23c";

/// What to build.
#[derive(Clone, Debug)]
pub struct Options {
    /// The stack name.
    pub stack: String,
    /// NAT gateways: one per zone, one shared, or none.
    pub nat: NatStrategy,
    /// Hand-wired stack only: leave the 0.0.0.0/0 route out of the private
    /// route tables — the tutorial's failure, where instances never register.
    pub omit_private_nat_route: bool,
    /// Container instances to run.
    pub desired_capacity: u32,
    /// How long `up` waits for them to register.
    pub registration_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            stack: "private-ecs".into(),
            nat: NatStrategy::OnePerAz,
            omit_private_nat_route: false,
            desired_capacity: 2,
            registration_timeout: Duration::from_secs(60),
        }
    }
}

/// Declares the stack with the [`Network`] component.
pub fn build(options: &Options) -> Stack {
    let mut stack = Stack::new(options.stack.clone());
    let zones: Vec<&str> = ZONES.iter().map(|(az, _, _)| *az).collect();
    let net = Network::new("10.0.0.0/16", zones)
        .nat(options.nat)
        .declare(&mut stack, "net");
    stack.export("vpc_id", net.vpc.id());
    stack.export("public_subnet_ids", Output::all(net.public_subnet_ids()));
    stack.export("private_subnet_ids", Output::all(net.private_subnet_ids()));
    stack.export("nat_public_ips", Output::all(net.nat_public_ips()));
    ecs_hosts(&mut stack, &net.vpc, net.private_subnet_ids(), options);
    stack
}

/// Declares the same architecture resource by resource.
pub fn build_manual(options: &Options) -> Stack {
    let mut stack = Stack::new(options.stack.clone());
    let vpc = stack.add("main", Vpc::new("10.0.0.0/16").enable_dns_hostnames(true));
    let igw = stack.add("main", InternetGateway::new().vpc(vpc.id()));

    let mut public_rt = RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id());
    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    let mut nats = Vec::new();
    let mut nat_ips = Vec::new();
    for (i, (az, public_block, private_block)) in ZONES.iter().enumerate() {
        let suffix = &az[az.len() - 1..];
        let public = stack.add(
            &format!("public-{suffix}"),
            Subnet::new(vpc.id(), *public_block, *az).map_public_ip_on_launch(true),
        );
        let private = stack.add(
            &format!("private-{suffix}"),
            Subnet::new(vpc.id(), *private_block, *az),
        );
        public_rt = public_rt.associate(public.id());
        let wants_nat = match options.nat {
            NatStrategy::None => false,
            NatStrategy::Single => i == 0,
            NatStrategy::OnePerAz => true,
        };
        if wants_nat {
            let eip = stack.add(&format!("nat-{suffix}"), ElasticIp::new());
            let nat = stack.add(
                &format!("nat-{suffix}"),
                NatGateway::public(public.id(), eip.id()),
            );
            nat_ips.push(eip.public_ip());
            nats.push(nat);
        }
        public_subnets.push(public);
        private_subnets.push(private);
    }
    stack.add("public", public_rt);
    for (i, private) in private_subnets.iter().enumerate() {
        let suffix = &ZONES[i].0[ZONES[i].0.len() - 1..];
        let mut rt = RouteTable::new(vpc.id()).associate(private.id());
        if let Some(nat) = nats.get(i.min(nats.len().saturating_sub(1)))
            && !options.omit_private_nat_route
        {
            rt = rt.route_to_nat_gateway("0.0.0.0/0", nat.id());
        }
        stack.add(&format!("private-{suffix}"), rt);
    }
    stack.export("vpc_id", vpc.id());
    stack.export(
        "public_subnet_ids",
        Output::all(public_subnets.iter().map(|s| s.id())),
    );
    stack.export(
        "private_subnet_ids",
        Output::all(private_subnets.iter().map(|s| s.id())),
    );
    stack.export("nat_public_ips", Output::all(nat_ips));
    ecs_hosts(
        &mut stack,
        &vpc,
        private_subnets.iter().map(|s| s.id()).collect(),
        options,
    );
    stack
}

/// The ECS part: security group, instance role and profile, cluster, launch
/// template whose user data names the cluster, and the Auto Scaling group in
/// `subnets`; exports the cluster name and the registered instance count.
fn ecs_hosts(
    stack: &mut Stack,
    vpc: &Handle<Vpc>,
    subnets: Vec<Output<SubnetId>>,
    options: &Options,
) {
    let hosts_sg = stack.add(
        "ecs-hosts",
        SecurityGroup::new(vpc.id(), "ECS container instances")
            .ingress(
                Rule::tcp_range(32768, 65535)
                    .cidr("10.0.0.0/16")
                    .describe("dynamic host ports from the VPC"),
            )
            .egress(
                Rule::tcp(443)
                    .cidr("0.0.0.0/0")
                    .describe("ECS, ECR and S3 endpoints"),
            ),
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
        LaunchTemplate::new(ECS_AMI, "t3.small")
            .user_data(user_data)
            .iam_instance_profile(profile.name())
            .security_group(hosts_sg.id()),
    );
    let mut asg =
        AutoScalingGroup::new(template.id(), 0, 4).desired_capacity(options.desired_capacity);
    for subnet in subnets {
        asg = asg.subnet(subnet);
    }
    stack.add("ecs-hosts", asg);

    stack.export("cluster_name", cluster.name());
    stack.export_probe(
        "registered_container_instances",
        cluster.registered_container_instances().wait_for_at_least(
            u64::from(options.desired_capacity),
            options.registration_timeout,
        ),
    );
}
