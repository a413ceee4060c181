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

#[path = "corpus_serving/topology.rs"]
mod topology;

use keel::analysis::serving::internet_reaches_listener;
use keel::engine::{ApplyOptions, Deployment, Outcome};
use keel::prelude::*;
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::LocalStore;
use keel_tests::state_dir;
use std::sync::Arc;
use topology::*;

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
