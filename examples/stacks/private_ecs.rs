//! The architecture of the "ECS on private subnets" tutorial, across two
//! availability zones: a public and a private subnet per AZ, an internet
//! gateway, an Elastic IP and NAT gateway per AZ (or one shared), a public
//! route table sending 0.0.0.0/0 to the internet gateway, private route tables
//! sending 0.0.0.0/0 to a NAT gateway, a security group for the instances
//! that allows exactly the outbound traffic they need (HTTPS to ECS, ECR and
//! the image registry), the ECS instance role and profile, a launch template whose user
//! data names the cluster, an Auto Scaling group of two instances in the
//! private subnets, and the ECS cluster; then the tutorial's whole picture:
//! an internet-facing load balancer in the public subnets whose listener
//! forwards to a target group, and an ECS service of two web tasks on the
//! private instances (a capacity provider ties their group to the cluster),
//! registered in that target group.

use keel::aws::iam::{ECS_INSTANCE_POLICY_ARN, ECS_TASK_EXECUTION_POLICY_ARN};
use keel::components::{NatStrategy, Network};
use keel::prelude::*;
use std::time::Duration;

/// The VPC's address block.
pub const VPC_BLOCK: &str = "10.0.0.0/16";

/// The two availability zones and their subnet blocks.
pub const ZONES: [(&str, &str, &str); 2] = [
    ("us-east-1a", "10.0.0.0/24", "10.0.10.0/24"),
    ("us-east-1b", "10.0.1.0/24", "10.0.11.0/24"),
];

/// An ECS-optimized Amazon Linux 2023 AMI id (region-specific on real AWS).
pub const ECS_AMI: &str = "ami-0a3c14e1ddbe7f23c";

/// The small web server the service runs, from the public ECR gallery
/// (pulled over HTTPS through the NAT gateways).
pub const WEB_IMAGE: &str = "public.ecr.aws/nginx/nginx:1.27-alpine";

/// What to build.
#[derive(Clone, Debug)]
pub struct Options {
    /// The stack name.
    pub stack: String,
    /// NAT gateways: one per zone, one shared, one regional, or none.
    pub nat: NatStrategy,
    /// Hand-wired stack only: leave the 0.0.0.0/0 route out of the private
    /// route tables — the tutorial's failure, where instances never register.
    pub omit_private_nat_route: bool,
    /// Hand-wired stack only: put each NAT gateway in its zone's private
    /// subnet, which has no route to the internet gateway — every property
    /// is present, yet nothing gets out.
    pub nat_in_private_subnets: bool,
    /// Container instances to run.
    pub desired_capacity: u32,
    /// Whether `up` waits (bounded) for the instances to register, the
    /// tasks to run and their targets to be healthy, and fails without
    /// them. Off on moto, which runs no ECS agents.
    pub wait: bool,
    /// How long `up` waits for them to register.
    pub registration_timeout: Duration,
    /// Web tasks the service runs.
    pub web_tasks: u32,
    /// How long `up` waits for the tasks to run and their targets to be
    /// healthy.
    pub service_timeout: Duration,
    /// Whether the instances' security group admits the load balancer on
    /// the dynamic host ports (without it, targets are never healthy).
    pub hosts_admit_load_balancer: bool,
    /// Put the load balancer in the private subnets (which have no route
    /// to the internet gateway): the internet can't reach it.
    pub load_balancer_in_private_subnets: bool,
    /// The one port the instances' security group lets out (HTTPS, 443:
    /// ECS, ECR and the image registry all listen there). Any other port
    /// leaves the agent unable to reach ECS.
    pub hosts_egress_port: u16,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            stack: "private-ecs".into(),
            nat: NatStrategy::OnePerAz,
            omit_private_nat_route: false,
            nat_in_private_subnets: false,
            desired_capacity: 2,
            wait: true,
            registration_timeout: Duration::from_secs(60),
            web_tasks: 2,
            service_timeout: Duration::from_secs(120),
            hosts_admit_load_balancer: true,
            load_balancer_in_private_subnets: false,
            hosts_egress_port: 443,
        }
    }
}

/// Declares the stack with the [`Network`] component.
pub fn build(options: &Options) -> Stack {
    let mut stack = Stack::new(options.stack.clone());
    let zones: Vec<&str> = ZONES.iter().map(|(az, _, _)| *az).collect();
    let net = Network::new(VPC_BLOCK, zones)
        .nat(options.nat)
        .declare(&mut stack, "net");
    stack.export("vpc_id", net.vpc.id());
    stack.export("public_subnet_ids", Output::all(net.public_subnet_ids()));
    stack.export("private_subnet_ids", Output::all(net.private_subnet_ids()));
    stack.export("nat_public_ips", Output::all(net.nat_public_ips()));
    let subnets = Subnets {
        public: net.public_subnet_ids(),
        private: net.private_subnet_ids(),
        internet_gateway: net.internet_gateway.urn().clone(),
    };
    declare_app(&mut stack, &net.vpc, subnets, options);
    stack
}

/// Declares the same architecture resource by resource.
pub fn build_manual(options: &Options) -> Stack {
    let mut stack = Stack::new(options.stack.clone());
    let vpc = stack.add("main", Vpc::new(VPC_BLOCK).enable_dns_hostnames(true));
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
            NatStrategy::None | NatStrategy::Regional => false,
            NatStrategy::Single => i == 0,
            NatStrategy::OnePerAz => true,
        };
        if wants_nat {
            let eip = stack.add(&format!("nat-{suffix}"), ElasticIp::new());
            let nat = stack.add(
                &format!("nat-{suffix}"),
                NatGateway::public(
                    if options.nat_in_private_subnets {
                        private.id()
                    } else {
                        public.id()
                    },
                    eip.id(),
                ),
            );
            nat_ips.push(eip.public_ip());
            nats.push(nat);
        }
        public_subnets.push(public);
        private_subnets.push(private);
    }
    stack.add("public", public_rt);
    if options.nat == NatStrategy::Regional {
        // One for the VPC, in no subnet, going out through the internet gateway.
        let after_igw = ResourceOptions::new().depends_on(igw.urn());
        nats.push(stack.add_with("nat", NatGateway::regional(vpc.id()), after_igw));
    }
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
    let subnets = Subnets {
        public: public_subnets.iter().map(|s| s.id()).collect(),
        private: private_subnets.iter().map(|s| s.id()).collect(),
        internet_gateway: igw.urn().clone(),
    };
    declare_app(&mut stack, &vpc, subnets, options);
    stack
}

/// The subnets the application goes into, and the internet gateway an
/// internet-facing load balancer needs attached before it is created.
struct Subnets {
    public: Vec<Output<SubnetId>>,
    private: Vec<Output<SubnetId>>,
    internet_gateway: Urn,
}

/// Everything on top of the network: the ECS hosts and the web service
/// behind the load balancer.
fn declare_app(stack: &mut Stack, vpc: &Handle<Vpc>, subnets: Subnets, options: &Options) {
    // The load balancer talks to the instances on their dynamic host ports
    // (traffic and health checks); in the VPC's block, since the hosts'
    // group already names this one.
    let alb_sg = stack.add(
        "alb",
        SecurityGroup::new(vpc.id(), "web load balancer")
            .ingress(
                Rule::tcp(80)
                    .cidr("0.0.0.0/0")
                    .describe("HTTP from anywhere"),
            )
            .egress(
                Rule::tcp_range(32768, 65535)
                    .cidr(VPC_BLOCK)
                    .describe("dynamic host ports of the ECS instances"),
            ),
    );
    let hosts = ecs_hosts(stack, vpc, &alb_sg, subnets.private.clone(), options);
    let lb_subnets = if options.load_balancer_in_private_subnets {
        subnets.private
    } else {
        subnets.public
    };
    let lb = LoadBalancerPlace {
        subnets: lb_subnets,
        internet_gateway: subnets.internet_gateway,
    };
    web_service(stack, vpc, &alb_sg, &hosts, lb, options);
}

/// Where the load balancer goes.
struct LoadBalancerPlace {
    subnets: Vec<Output<SubnetId>>,
    internet_gateway: Urn,
}

/// The container instances: their cluster and Auto Scaling group.
struct Hosts {
    cluster: Handle<EcsCluster>,
    group: Handle<AutoScalingGroup>,
}

/// The ECS part: security group (admitting the load balancer on the
/// dynamic host ports), instance role and profile, cluster, launch template
/// whose user data names the cluster, and the Auto Scaling group in
/// `subnets`; exports the cluster name and the registered instance count.
fn ecs_hosts(
    stack: &mut Stack,
    vpc: &Handle<Vpc>,
    alb_sg: &Handle<SecurityGroup>,
    subnets: Vec<Output<SubnetId>>,
    options: &Options,
) -> Hosts {
    // Declared egress replaces AWS's default allow-all rule: HTTPS out is
    // all the instances get.
    let mut hosts_sg = SecurityGroup::new(vpc.id(), "ECS container instances").egress(
        Rule::tcp(options.hosts_egress_port)
            .cidr("0.0.0.0/0")
            .describe("ECS, ECR, S3 and the image registry (HTTPS)"),
    );
    if options.hosts_admit_load_balancer {
        hosts_sg = hosts_sg.ingress(
            Rule::tcp_range(32768, 65535)
                .group(alb_sg.id())
                .describe("dynamic host ports from the load balancer"),
        );
    }
    let hosts_sg = stack.add("ecs-hosts", hosts_sg);
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
    let group = stack.add("ecs-hosts", asg);

    stack.export("cluster_name", cluster.name());
    let registered = cluster.registered_container_instances();
    let registered = match options.wait {
        true => registered.wait_for_at_least(
            u64::from(options.desired_capacity),
            options.registration_timeout,
        ),
        false => registered,
    };
    stack.export_probe("registered_container_instances", registered);
    // Registered is not enough: only instances whose agent is connected run tasks.
    stack.export_probe(
        "connected_container_instances",
        cluster.connected_container_instances(),
    );
    Hosts { cluster, group }
}

/// The web service: the load balancer in `subnets` with an HTTP listener
/// forwarding to a target group, the task execution role, the task
/// definition (nginx on a dynamic host port), the capacity provider of the
/// hosts' group, and the service registering its tasks in the target
/// group; exports the URL, running tasks and healthy targets.
fn web_service(
    stack: &mut Stack,
    vpc: &Handle<Vpc>,
    alb_sg: &Handle<SecurityGroup>,
    hosts: &Hosts,
    place: LoadBalancerPlace,
    options: &Options,
) {
    let mut lb = LoadBalancer::new().security_group(alb_sg.id());
    for subnet in place.subnets {
        lb = lb.subnet(subnet);
    }
    // ELB refuses an internet-facing load balancer in a VPC without an
    // attached internet gateway (InvalidSubnet).
    let after_igw = ResourceOptions::new().depends_on(&place.internet_gateway);
    let lb = stack.add_with("web", lb, after_igw);
    let targets = stack.add(
        "web",
        TargetGroup::http(80, vpc.id())
            .health_check(HealthCheck::http("/"))
            .deregistration_delay_seconds(30),
    );
    let listener = stack.add("http", Listener::http(lb.arn(), 80, targets.arn()));
    let execution = stack.add(
        "ecs-task-execution",
        IamRole::for_service("ecs-tasks.amazonaws.com")
            .managed_policy(ECS_TASK_EXECUTION_POLICY_ARN),
    );
    let task = stack.add(
        "web",
        TaskDefinition::new()
            .container(
                Container::new("web", WEB_IMAGE)
                    .cpu(128)
                    .memory(128)
                    .port(PortMapping::dynamic(80)),
            )
            .execution_role(execution.arn()),
    );
    let capacity = stack.add(
        "ecs-hosts",
        CapacityProvider::new(hosts.group.arn(), hosts.cluster.name()),
    );
    // ECS refuses a target group no load balancer forwards to yet.
    let service = stack.add_with(
        "web",
        EcsService::new(hosts.cluster.name(), task.arn(), options.web_tasks)
            .load_balancer(targets.arn(), "web", 80)
            .capacity_provider(capacity.name())
            .health_check_grace_period_seconds(30),
        ResourceOptions::new().depends_on(listener.urn()),
    );

    stack.export("url", lb.url());
    let wanted = u64::from(options.web_tasks);
    let wait = |probe: Probe| match options.wait {
        true => probe
            .wait_for_at_least(wanted, options.service_timeout)
            .as_fraction(),
        false => probe,
    };
    stack.export_probe("running_tasks", wait(service.running_tasks()));
    stack.export_probe("healthy_targets", wait(targets.healthy_targets()));
}
