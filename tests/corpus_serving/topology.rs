//! The serving corpus's stack: the tutorial's whole picture (VPC, NAT
//! gateways, ECS hosts in the private subnets, an internet-facing load
//! balancer, a service) built from a [`Topology`] of flags, each flag one
//! way to change or break it.

use keel::aws::ec2::{AclRule, NetworkAcl, VpcEndpoint};
use keel::aws::ecs::{EcsService, TaskNetwork};
use keel::aws::ecs_task::{Container, NetworkMode, PortMapping, TaskDefinition};
use keel::aws::elb::{HealthCheck, Listener, LoadBalancer, TargetGroup};
use keel::aws::iam::ECS_INSTANCE_POLICY_ARN;
use keel::prelude::*;

pub(super) const ECR_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0";
pub(super) const HUB_IMAGE: &str = "nginx:1.27";
pub(super) const ECS_ENDPOINTS: &[&str] = &["ecs", "ecs-agent", "ecs-telemetry"];
pub(super) const ALL_ENDPOINTS: &[&str] = &[
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "ecr.api",
    "ecr.dkr",
    "s3",
];
pub(super) const NO_S3: &[&str] = &["ecs", "ecs-agent", "ecs-telemetry", "ecr.api", "ecr.dkr"];

#[derive(Clone, Copy, PartialEq)]
pub(super) enum LbSubnets {
    Public,
    Private,
    /// public-a and private-a: one zone.
    OneZone,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Tasks {
    /// Bridge mode, container port 80 on a dynamic host port.
    Dynamic,
    /// Bridge mode, container port 80 on host port 8080.
    Fixed,
    /// awsvpc mode; the bool says whether the tasks' group admits 80 from the load balancer.
    Awsvpc(bool),
}

#[derive(Clone, Copy)]
pub(super) struct Topology {
    pub(super) name: &'static str,
    pub(super) lb_subnets: LbSubnets,
    pub(super) internal: bool,
    /// The load balancer's group admits 80 from anywhere.
    pub(super) lb_admits_80: bool,
    /// The hosts' group admits the dynamic range (and 8080) from the load balancer's group.
    pub(super) hosts_admit_lb: bool,
    pub(super) tasks: Tasks,
    /// A health check on this fixed port (the container also maps it, host port = port).
    pub(super) health_port: Option<u16>,
    /// The health check's port is one nothing maps.
    pub(super) health_port_unmapped: bool,
    pub(super) image: &'static str,
    /// NAT gateways (one per zone) and the private tables' default route to them.
    pub(super) nat: bool,
    /// The private tables route nowhere (the NAT gateways exist).
    pub(super) nat_route: bool,
    pub(super) endpoints: &'static [&'static str],
    /// The private subnets' ACL lets out only HTTPS: replies to the load balancer are dropped.
    pub(super) acl_drops_lb_replies: bool,
    /// No Auto Scaling group joins the cluster.
    pub(super) no_hosts: bool,
    /// The target group takes instances even for awsvpc tasks.
    pub(super) instance_targets: bool,
    /// The service binds container `api` instead of `web`.
    pub(super) wrong_container: bool,
    /// The service binds container port 8080, which isn't mapped.
    pub(super) unmapped_port: bool,
    pub(super) desired: u32,
    /// The service doesn't depend on the listener.
    pub(super) no_listener_dependency: bool,
    /// A second load balancer forwards to the same target group.
    pub(super) second_lb: bool,
    /// The internet gateway is created after the load balancer (it
    /// depends on it) instead of before.
    pub(super) igw_after_lb: bool,
    /// Expected finding codes, sorted.
    pub(super) codes: &'static [&'static str],
    // Gateway endpoints (issue 11, item 3).
    /// An S3 gateway endpoint, and which route tables it is associated with.
    pub(super) s3_gateway: S3Gateway,
    // Which cluster the agent joins.
    /// The hosts' user data never sets ECS_CLUSTER: they join `default`.
    pub(super) hosts_join_default: bool,
}

/// An S3 gateway endpoint.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum S3Gateway {
    None,
    /// Associated with the private subnets' tables.
    Private,
    /// Associated with the public table only.
    PublicOnly,
}

pub(super) const OK: Topology = Topology {
    name: "",
    lb_subnets: LbSubnets::Public,
    internal: false,
    lb_admits_80: true,
    hosts_admit_lb: true,
    tasks: Tasks::Dynamic,
    health_port: None,
    health_port_unmapped: false,
    image: HUB_IMAGE,
    nat: true,
    nat_route: true,
    endpoints: &[],
    acl_drops_lb_replies: false,
    no_hosts: false,
    instance_targets: false,
    wrong_container: false,
    unmapped_port: false,
    desired: 2,
    no_listener_dependency: false,
    second_lb: false,
    igw_after_lb: false,
    codes: &[],
    // Gateway endpoints.
    s3_gateway: S3Gateway::None,
    // Which cluster the agent joins.
    hosts_join_default: false,
};

pub(super) const ZONES: [(&str, &str, &str); 2] = [
    ("us-east-1a", "10.0.0.0/24", "10.0.10.0/24"),
    ("us-east-1b", "10.0.1.0/24", "10.0.11.0/24"),
];

pub(super) fn build(t: &Topology) -> Stack {
    let mut s = Stack::new(t.name);
    let vpc = s.add(
        "main",
        Vpc::new("10.0.0.0/16")
            .enable_dns_hostnames(true)
            .enable_dns_support(true),
    );
    let igw = InternetGateway::new().vpc(vpc.id());
    let igw_urn = Urn::new(t.name, InternetGateway::TYPE, "main");
    let lb_urn = Urn::new(t.name, LoadBalancer::TYPE, "web");
    let igw = if t.igw_after_lb {
        s.add_with("main", igw, ResourceOptions::new().depends_on(&lb_urn))
    } else {
        s.add("main", igw)
    };
    let mut public_rt = RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id());
    let (mut publics, mut privates, mut private_tables) = (Vec::new(), Vec::new(), Vec::new());
    for (az, pub_block, priv_block) in ZONES {
        let z = &az[az.len() - 1..];
        let public = s.add(
            &format!("public-{z}"),
            Subnet::new(vpc.id(), pub_block, az).map_public_ip_on_launch(true),
        );
        let private = s.add(
            &format!("private-{z}"),
            Subnet::new(vpc.id(), priv_block, az),
        );
        public_rt = public_rt.associate(public.id());
        let mut rt = RouteTable::new(vpc.id()).associate(private.id());
        if t.nat {
            let eip = s.add(&format!("nat-{z}"), ElasticIp::new());
            let nat = s.add(
                &format!("nat-{z}"),
                NatGateway::public(public.id(), eip.id()),
            );
            if t.nat_route {
                rt = rt.route_to_nat_gateway("0.0.0.0/0", nat.id());
            }
        }
        private_tables.push(s.add(&format!("private-{z}"), rt).id());
        publics.push(public);
        privates.push(private);
    }
    let public_table = s.add("public", public_rt).id();
    build_gateway_endpoint(t, &mut s, vpc.id(), public_table, &private_tables);
    if t.acl_drops_lb_replies {
        let mut acl = NetworkAcl::new(vpc.id())
            .ingress(AclRule::allow_all(100, "0.0.0.0/0"))
            .egress(AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0"));
        for p in &privates {
            acl = acl.associate(p.id());
        }
        s.add("private", acl);
    }
    if !t.endpoints.is_empty() {
        let sg = s.add(
            "endpoints",
            SecurityGroup::new(vpc.id(), "interface endpoints")
                .ingress(Rule::tcp(443).cidr("10.0.0.0/16")),
        );
        for svc in t.endpoints {
            let mut ep = VpcEndpoint::interface(vpc.id(), format!("com.amazonaws.us-east-1.{svc}"))
                .security_group(sg.id());
            for p in &privates {
                ep = ep.subnet(p.id());
            }
            s.add(svc, ep);
        }
    }

    let mut alb = SecurityGroup::new(vpc.id(), "load balancer");
    alb = if t.lb_admits_80 {
        alb.ingress(Rule::tcp(80).cidr("0.0.0.0/0"))
    } else {
        alb.ingress(Rule::tcp(443).cidr("0.0.0.0/0"))
    };
    let alb = s.add("alb", alb);
    let mut hosts_sg = SecurityGroup::new(vpc.id(), "ECS container instances");
    if t.hosts_admit_lb {
        hosts_sg = hosts_sg
            .ingress(Rule::tcp_range(32768, 65535).group(alb.id()))
            .ingress(Rule::tcp(8080).group(alb.id()));
    }
    let hosts_sg = s.add("ecs-hosts", hosts_sg);

    let mut lb = LoadBalancer::new().security_group(alb.id());
    match t.lb_subnets {
        LbSubnets::Public => lb = lb.subnet(publics[0].id()).subnet(publics[1].id()),
        LbSubnets::Private => lb = lb.subnet(privates[0].id()).subnet(privates[1].id()),
        LbSubnets::OneZone => lb = lb.subnet(publics[0].id()).subnet(privates[0].id()),
    }
    if t.internal {
        lb = lb.internal();
    }
    let lb = if t.igw_after_lb {
        s.add("web", lb)
    } else {
        // ELB refuses an internet-facing load balancer before the gateway.
        s.add_with("web", lb, ResourceOptions::new().depends_on(&igw_urn))
    };
    let mut check = HealthCheck::http("/");
    if let Some(p) = t.health_port {
        check = check.port(p);
    }
    let mut tg = TargetGroup::http(80, vpc.id()).health_check(check);
    if matches!(t.tasks, Tasks::Awsvpc(_)) && !t.instance_targets {
        tg = tg.ip_targets();
    }
    let tg = s.add("web", tg);
    let listener = s.add("http", Listener::http(lb.arn(), 80, tg.arn()));
    if t.second_lb {
        let other = s.add_with(
            "other",
            LoadBalancer::new()
                .subnet(publics[0].id())
                .subnet(publics[1].id())
                .security_group(alb.id()),
            ResourceOptions::new().depends_on(&igw_urn),
        );
        s.add("other-http", Listener::http(other.arn(), 80, tg.arn()));
    }

    let mut web = Container::new("web", t.image).memory(256);
    web = match t.tasks {
        Tasks::Dynamic => web.port(PortMapping::dynamic(80)),
        Tasks::Fixed => web.port(PortMapping::host(80, 8080)),
        Tasks::Awsvpc(_) => web.port(PortMapping::same(80)),
    };
    if let (Some(p), false) = (t.health_port, t.health_port_unmapped) {
        web = web.port(PortMapping::host(p, p));
    }
    let mut td = TaskDefinition::new().container(web);
    if let Tasks::Awsvpc(_) = t.tasks {
        td = td.network_mode(NetworkMode::Awsvpc);
    }
    let td = s.add("web", td);

    let role = s.add(
        "ecs",
        IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN),
    );
    let profile = s.add("ecs", InstanceProfile::new(role.name()));
    let cluster = s.add("app", EcsCluster::new());
    if !t.no_hosts {
        let user_data: Input<String> = if t.hosts_join_default {
            "#!/bin/bash\nyum install -y amazon-efs-utils\n".into()
        } else {
            cluster
                .name()
                .map(|c| format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"))
                .into()
        };
        let lt = s.add(
            "hosts",
            LaunchTemplate::new("ami-0a3c14e1ddbe7f23c", "t3.small")
                .user_data(user_data)
                .security_group(hosts_sg.id())
                .iam_instance_profile(profile.name()),
        );
        let mut asg = AutoScalingGroup::new(lt.id(), 0, 4).desired_capacity(2);
        for p in &privates {
            asg = asg.subnet(p.id());
        }
        s.add("hosts", asg);
    }
    let (container, port) = match (t.wrong_container, t.unmapped_port) {
        (true, _) => ("api", 80),
        (_, true) => ("web", 8080),
        _ => ("web", 80),
    };
    let mut service = EcsService::new(cluster.name(), td.arn(), t.desired).load_balancer(
        tg.arn(),
        container,
        port,
    );
    if let Tasks::Awsvpc(admits) = t.tasks {
        let mut tasks_sg = SecurityGroup::new(vpc.id(), "web tasks");
        if admits {
            tasks_sg = tasks_sg.ingress(Rule::tcp(80).group(alb.id()));
        }
        let tasks_sg = s.add("web-tasks", tasks_sg);
        service = service.network(TaskNetwork {
            subnet_ids: privates.iter().map(|p| p.id().into()).collect(),
            security_group_ids: vec![tasks_sg.id().into()],
        });
    }
    let mut options = ResourceOptions::new();
    if !t.no_listener_dependency {
        options = options.depends_on(listener.urn());
    }
    s.add_with("web", service, options);
    s
}

/// The gateway endpoint topic's part of the stack.
pub(super) fn build_gateway_endpoint(
    t: &Topology,
    s: &mut Stack,
    vpc: Output<VpcId>,
    public: Output<RouteTableId>,
    private: &[Output<RouteTableId>],
) {
    let ep = VpcEndpoint::gateway(vpc, "com.amazonaws.us-east-1.s3");
    let ep = match t.s3_gateway {
        S3Gateway::None => return,
        S3Gateway::Private => private.iter().fold(ep, |ep, rt| ep.route_table(rt.clone())),
        S3Gateway::PublicOnly => ep.route_table(public),
    };
    s.add("s3-gateway", ep);
}
