//! The analysis and the simulator must agree on the load balancer stack
//! (issue 10: an internet-facing load balancer in the public subnets
//! serving an ECS service whose tasks run on the private container
//! instances). Each topology is the tutorial's stack with one thing (or a
//! few) changed; the pre-deploy analysis must report exactly the expected
//! codes, and, deployed on the simulator anyway (as with `--skip-checks`),
//! the stack must serve (every desired task running, every running task a
//! healthy target, every listener of an internet-facing load balancer
//! reachable from the internet in the simulator's own network) if and only
//! if the analysis found no error.

use keel::analysis::serving::internet_reaches_listener;
use keel::aws::ec2::{AclRule, NetworkAcl, VpcEndpoint};
use keel::aws::ecs::{EcsService, TaskNetwork};
use keel::aws::ecs_task::{Container, NetworkMode, PortMapping, TaskDefinition};
use keel::aws::elb::{HealthCheck, Listener, LoadBalancer, TargetGroup};
use keel::aws::iam::ECS_INSTANCE_POLICY_ARN;
use keel::engine::{ApplyOptions, Deployment, Outcome};
use keel::prelude::*;
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::LocalStore;
use keel_tests::state_dir;
use std::sync::Arc;

const ECR_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0";
const HUB_IMAGE: &str = "nginx:1.27";
const ECS_ENDPOINTS: &[&str] = &["ecs", "ecs-agent", "ecs-telemetry"];
const ALL_ENDPOINTS: &[&str] = &[
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "ecr.api",
    "ecr.dkr",
    "s3",
];
const NO_S3: &[&str] = &["ecs", "ecs-agent", "ecs-telemetry", "ecr.api", "ecr.dkr"];

#[derive(Clone, Copy, PartialEq)]
enum LbSubnets {
    Public,
    Private,
    /// public-a and private-a: one zone.
    OneZone,
}

#[derive(Clone, Copy, PartialEq)]
enum Tasks {
    /// Bridge mode, container port 80 on a dynamic host port.
    Dynamic,
    /// Bridge mode, container port 80 on host port 8080.
    Fixed,
    /// awsvpc mode; the bool says whether the tasks' group admits 80 from the load balancer.
    Awsvpc(bool),
}

#[derive(Clone, Copy)]
struct Topology {
    name: &'static str,
    lb_subnets: LbSubnets,
    internal: bool,
    /// The load balancer's group admits 80 from anywhere.
    lb_admits_80: bool,
    /// The hosts' group admits the dynamic range (and 8080) from the load balancer's group.
    hosts_admit_lb: bool,
    tasks: Tasks,
    /// A health check on this fixed port (the container also maps it, host port = port).
    health_port: Option<u16>,
    /// The health check's port is one nothing maps.
    health_port_unmapped: bool,
    image: &'static str,
    /// NAT gateways (one per zone) and the private tables' default route to them.
    nat: bool,
    /// The private tables route nowhere (the NAT gateways exist).
    nat_route: bool,
    endpoints: &'static [&'static str],
    /// The private subnets' ACL lets out only HTTPS: replies to the load balancer are dropped.
    acl_drops_lb_replies: bool,
    /// No Auto Scaling group joins the cluster.
    no_hosts: bool,
    /// The target group takes instances even for awsvpc tasks.
    instance_targets: bool,
    /// The service binds container `api` instead of `web`.
    wrong_container: bool,
    /// The service binds container port 8080, which isn't mapped.
    unmapped_port: bool,
    desired: u32,
    /// The service doesn't depend on the listener.
    no_listener_dependency: bool,
    /// A second load balancer forwards to the same target group.
    second_lb: bool,
    /// The internet gateway is created after the load balancer (it
    /// depends on it) instead of before.
    igw_after_lb: bool,
    /// Expected finding codes, sorted.
    codes: &'static [&'static str],
    // Gateway endpoints (issue 11, item 3).
    /// An S3 gateway endpoint, and which route tables it is associated with.
    s3_gateway: S3Gateway,
    // Which cluster the agent joins.
    /// The hosts' user data never sets ECS_CLUSTER: they join `default`.
    hosts_join_default: bool,
}

/// An S3 gateway endpoint.
#[derive(Clone, Copy, PartialEq)]
enum S3Gateway {
    None,
    /// Associated with the private subnets' tables.
    Private,
    /// Associated with the public table only.
    PublicOnly,
}

const OK: Topology = Topology {
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

const ZONES: [(&str, &str, &str); 2] = [
    ("us-east-1a", "10.0.0.0/24", "10.0.10.0/24"),
    ("us-east-1b", "10.0.1.0/24", "10.0.11.0/24"),
];

fn build(t: &Topology) -> Stack {
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
fn build_gateway_endpoint(
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

fn corpus() -> Vec<Topology> {
    let t = |name, codes, f: &dyn Fn(&mut Topology)| {
        let mut x = Topology { name, codes, ..OK };
        f(&mut x);
        x
    };
    vec![
        t("ok-serving", &[], &|_| {}),
        t("ok-ecr-through-endpoints-no-nat", &[], &|x| {
            x.nat = false;
            x.image = ECR_IMAGE;
            x.endpoints = ALL_ENDPOINTS;
        }),
        t("ok-awsvpc-tasks", &[], &|x| x.tasks = Tasks::Awsvpc(true)),
        t("ok-fixed-host-port", &[], &|x| x.tasks = Tasks::Fixed),
        t("ok-health-check-on-fixed-port", &[], &|x| {
            x.health_port = Some(8080)
        }),
        t("ok-internal-load-balancer", &[], &|x| {
            x.internal = true;
            x.lb_subnets = LbSubnets::Private;
        }),
        t("lb-group-does-not-admit-80", &["E020"], &|x| {
            x.lb_admits_80 = false
        }),
        t(
            "hosts-shut-out-the-dynamic-range",
            &["E024", "E024"],
            &|x| x.hosts_admit_lb = false,
        ),
        t("health-port-not-admitted", &["E024", "E024"], &|x| {
            x.health_port = Some(9000);
        }),
        t("health-port-nothing-listens-on", &["E029"], &|x| {
            x.health_port = Some(8080);
            x.health_port_unmapped = true;
        }),
        t("lb-in-private-subnets", &["E021"], &|x| {
            x.lb_subnets = LbSubnets::Private
        }),
        t("lb-in-one-zone", &["E022"], &|x| {
            x.lb_subnets = LbSubnets::OneZone
        }),
        t(
            "docker-hub-image-with-endpoints-only",
            &["E025", "E025"],
            &|x| {
                x.nat = false;
                x.endpoints = ALL_ENDPOINTS;
            },
        ),
        t("ecr-image-without-s3-endpoint", &["E025", "E025"], &|x| {
            x.nat = false;
            x.image = ECR_IMAGE;
            x.endpoints = NO_S3;
        }),
        t("ok-ecr-through-endpoints-and-s3-gateway", &[], &|x| {
            x.image = ECR_IMAGE;
            x.nat = false;
            x.endpoints = NO_S3;
            x.s3_gateway = S3Gateway::Private;
        }),
        t(
            "ecr-image-s3-gateway-on-public-table-only",
            &["E025", "E025"],
            &|x| {
                x.image = ECR_IMAGE;
                x.nat = false;
                x.endpoints = NO_S3;
                x.s3_gateway = S3Gateway::PublicOnly;
            },
        ),
        t("ecr-image-without-ecr-endpoints", &["E025", "E025"], &|x| {
            x.nat = false;
            x.image = ECR_IMAGE;
            x.endpoints = ECS_ENDPOINTS;
        }),
        t("nacl-drops-replies-to-the-lb", &["E011", "E011"], &|x| {
            x.acl_drops_lb_replies = true
        }),
        t(
            "awsvpc-tasks-group-without-ingress",
            &["E024", "E024"],
            &|x| x.tasks = Tasks::Awsvpc(false),
        ),
        t("awsvpc-with-instance-target-group", &["E027"], &|x| {
            x.tasks = Tasks::Awsvpc(true);
            x.instance_targets = true;
        }),
        t("hosts-without-nat-route", &["E001", "E001", "E026"], &|x| {
            x.nat_route = false
        }),
        t("cluster-without-instances", &["E026"], &|x| {
            x.no_hosts = true
        }),
        t("binding-names-another-container", &["E027"], &|x| {
            x.wrong_container = true
        }),
        t("binding-port-not-mapped", &["E027"], &|x| {
            x.unmapped_port = true
        }),
        t("service-does-not-wait-for-the-listener", &["E027"], &|x| {
            x.no_listener_dependency = true
        }),
        t("two-load-balancers-one-target-group", &["E027"], &|x| {
            x.second_lb = true
        }),
        t(
            "internet-gateway-after-the-load-balancer",
            &["E027"],
            &|x| x.igw_after_lb = true,
        ),
        t("fixed-host-port-more-tasks-than-hosts", &["E026"], &|x| {
            x.tasks = Tasks::Fixed;
            x.desired = 3;
        }),
        t(
            "lb-closed-and-hosts-closed",
            &["E020", "E024", "E024"],
            &|x| {
                x.lb_admits_80 = false;
                x.hosts_admit_lb = false;
            },
        ),
        t(
            "private-lb-and-docker-hub-without-nat",
            &["E021", "E025", "E025"],
            &|x| {
                x.lb_subnets = LbSubnets::Private;
                x.nat = false;
                x.endpoints = ALL_ENDPOINTS;
            },
        ),
        // The hosts register but their agent can't connect: E036, named
        // once as the service's root cause.
        t(
            "hosts-agent-disconnected",
            &["E026", "E036", "E036"],
            &|x| {
                x.nat = false;
                x.image = ECR_IMAGE;
                x.endpoints = &["ecs", "ecr.api", "ecr.dkr", "s3"];
            },
        ),
        // The hosts join `default` (E035): E026 names it as the root cause.
        t("hosts-join-default", &["E026", "E035"], &|x| {
            x.hosts_join_default = true
        }),
    ]
}

/// What the simulator says after deploying `stack` anyway: whether it
/// serves, and why not.
async fn simulate(stack: &Stack) -> (bool, String) {
    let dir = state_dir();
    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let store = LocalStore::open(dir.path(), stack.name()).expect("open state");
    let mut d = Deployment::open(stack, provider, Box::new(store)).expect("open deployment");
    let plan = d.plan().expect("plan");
    match d.apply(&plan, ApplyOptions::default()).await {
        Ok(report) if report.succeeded() => {}
        Ok(report) => {
            let failed: Vec<String> = report
                .execution
                .outcomes
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::Failed { .. }))
                .map(|(u, o)| format!("{}: {o:?}", u.name()))
                .collect();
            return (false, format!("the apply failed: {}", failed.join("; ")));
        }
        Err(e) => return (false, format!("the apply failed: {e}")),
    }
    d.refresh(false).await.expect("refresh");
    let snapshot = d.snapshot();
    let of = |token: &'static str| {
        snapshot
            .resources
            .iter()
            .filter(move |r| r.urn.type_token() == token)
    };
    let mut why = Vec::new();
    for svc in of("aws:ecs:Service") {
        let out = &svc.outputs;
        let (running, desired) = (&out["running_count"], &out["desired_count"]);
        if running != desired {
            why.push(format!(
                "{running} of {desired} tasks run ({})",
                out["last_event"]
            ));
        }
        for tg in of("aws:elbv2:TargetGroup") {
            let healthy = &tg.outputs["healthy_targets"];
            if healthy != running {
                why.push(format!(
                    "{healthy} healthy targets for {running} running tasks"
                ));
            }
        }
    }
    let model = sim.network_model();
    for lb in of("aws:elbv2:LoadBalancer") {
        let facing = model
            .load_balancers
            .get(&lb.id)
            .is_some_and(|f| f.internet_facing);
        if facing && let Err(b) = internet_reaches_listener(&model, &lb.id, 80) {
            why.push(format!(
                "the internet can't reach port 80 ({}: {})",
                b.code, b.reason
            ));
        }
    }
    (why.is_empty(), why.join("; "))
}

/// What the simulator shows when the analysis reports `code`.
fn symptom(code: &str) -> Option<&'static str> {
    Some(match code {
        "E020" | "E021" => "the internet can't reach port 80",
        "E011" | "E024" | "E029" => "0 healthy targets for 2 running tasks",
        "E025" => "CannotPullContainerError",
        "E026" => "was unable to place a task",
        "E022" => {
            "A load balancer cannot be attached to multiple subnets in the same Availability Zone"
        }
        "E027" => "the apply failed",
        _ => return None,
    })
}

#[tokio::test]
async fn analysis_and_simulator_agree_on_the_serving_stack() {
    let topologies = corpus();
    assert!(topologies.len() >= 15);
    let mut failures = Vec::new();
    for t in &topologies {
        let stack = build(t);
        stack
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let report = keel::analysis::check(&stack);
        let mut codes = report.codes();
        codes.sort();
        if codes != t.codes {
            failures.push(format!(
                "{}: codes {codes:?}, expected {:?}\n{}",
                t.name,
                t.codes,
                report.render_text()
            ));
            continue;
        }
        let (serves, why) = simulate(&stack).await;
        // Each error shows in the simulator as what AWS would do.
        let missing: Vec<&str> = t
            .codes
            .iter()
            .filter_map(|c| symptom(c).filter(|s| !why.contains(s)))
            .collect();
        if !missing.is_empty() {
            failures.push(format!(
                "{}: the simulator doesn't show {missing:?}: {why}",
                t.name
            ));
        }
        if serves == report.has_errors() {
            failures.push(format!(
                "{}: analysis {}, simulator {}",
                t.name,
                if report.has_errors() {
                    "finds errors"
                } else {
                    "finds none"
                },
                if serves {
                    "serves".to_string()
                } else {
                    format!("doesn't serve: {why}")
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreement(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The report of the topology named `name`.
fn report_of(name: &str) -> keel::analysis::Report {
    let t = corpus()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no topology {name}"));
    keel::analysis::check(&build(&t))
}

#[test]
fn fixes_name_the_program_s_own_resources() {
    let fix = |name: &str| {
        let r = report_of(name);
        r.findings.iter().map(|f| f.fix.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        fix("hosts-shut-out-the-dynamic-range")[0],
        "allow tcp 32768-65535 from security group alb to security group ecs-hosts: .ingress(Rule::tcp_range(32768, 65535).group(alb.id())) on ecs-hosts"
    );
    assert_eq!(
        fix("health-port-not-admitted")[0],
        "allow tcp 9000 from security group alb to security group ecs-hosts: .ingress(Rule::tcp(9000).group(alb.id())) on ecs-hosts"
    );
    assert_eq!(
        fix("lb-group-does-not-admit-80"),
        [
            "allow tcp 80 from 0.0.0.0/0 in security group alb: .ingress(Rule::tcp(80).cidr(\"0.0.0.0/0\"))"
        ]
    );
    assert_eq!(
        fix("lb-in-private-subnets"),
        [
            "put load balancer web in public subnets (public-a, public-b: their route table sends 0.0.0.0/0 to an attached internet gateway) instead of private-a, private-b"
        ]
    );
    // The service's one finding names the hosts' cause and its fix.
    let r = report_of("hosts-without-nat-route");
    let service = r
        .findings
        .iter()
        .find(|f| f.code.as_str() == "E026")
        .expect("E026");
    assert_eq!(
        service.fix,
        "fix E001 on hosts first: route 0.0.0.0/0 of route table private-a to NAT gateway nat-a (in public subnet public-a)"
    );
    assert_eq!(
        service.urn.to_string(),
        "urn:keel:hosts-without-nat-route::aws:ecs:Service::web"
    );
}

#[test]
fn every_report_reads_the_same() {
    for t in corpus().iter().filter(|t| !t.codes.is_empty()) {
        let text = keel::analysis::check(&build(t)).render_text();
        insta::assert_snapshot!(format!("serving_{}", t.name), text);
    }
}
