//! Failure isolation and the concurrency bound of the executor.

use keel::engine::{ApplyOptions, Deployment, Event, EventLog, Outcome};
use keel::plan::Action;
use keel::prelude::*;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::provider::{Provider, ProviderError};
use keel::state::LocalStore;
use keel::testing::{Op, TestProvider};
use keel_tests::{state_dir, up};
use std::sync::Arc;
use std::time::Duration;

fn two_branches() -> Stack {
    let mut s = Stack::new("branches");
    let a = s.add("a", Vpc::new("10.0.0.0/16"));
    let a1 = s.add("a1", Subnet::new(a.id(), "10.0.1.0/24", "us-east-1a"));
    let a2 = s.add("a2", Subnet::new(a.id(), "10.0.2.0/24", "us-east-1a"));
    s.add(
        "a",
        RouteTable::new(a.id())
            .associate(a1.id())
            .associate(a2.id()),
    );
    let b = s.add("b", Vpc::new("10.1.0.0/16"));
    s.add("b1", Subnet::new(b.id(), "10.1.1.0/24", "us-east-1b"));
    s
}

#[tokio::test]
async fn a_failure_skips_its_dependents_once_and_independent_branches_finish() {
    let dir = state_dir();
    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let provider = TestProvider::new(sim).fail_when(|urn, op| {
        (urn.name() == "a1" && op == Op::Create)
            .then(|| ProviderError::new("InjectedFailure", "a1 is doomed"))
    });
    let stack = two_branches();
    let log = Arc::new(EventLog::default());
    let store = LocalStore::open(dir.path(), stack.name()).unwrap();
    let mut d = Deployment::open(&stack, Arc::new(provider), Box::new(store))
        .unwrap()
        .with_events(log.clone());
    let plan = d.plan().unwrap();
    let report = d
        .apply(&plan, ApplyOptions::default().parallel(1))
        .await
        .unwrap();
    assert!(!report.succeeded());

    let outcome = |name: &str| {
        report
            .execution
            .outcomes
            .iter()
            .filter(|(u, _)| u.name() == name)
            .map(|(_, o)| o.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        matches!(&outcome("a1")[..], [Outcome::Failed { error, .. }] if error.code() == "InjectedFailure")
    );
    assert!(
        matches!(&outcome("a")[..], [Outcome::Done { .. }, Outcome::Skipped { blocked_by, .. }] | [Outcome::Skipped { blocked_by, .. }, Outcome::Done { .. }] if blocked_by.name() == "a1")
    );
    for independent in ["b", "b1", "a2"] {
        assert!(
            matches!(&outcome(independent)[..], [Outcome::Done { .. }]),
            "{independent}"
        );
    }
    let skipped: Vec<Urn> = log
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Skipped {
                urn, blocked_by, ..
            } => {
                assert_eq!(blocked_by.name(), "a1");
                Some(urn)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        skipped,
        vec![Urn::new("branches", "aws:ec2:RouteTable", "a")]
    );

    // State records what was created and nothing else; the next plan picks
    // up where this one stopped.
    let recorded: Vec<&str> = d
        .snapshot()
        .resources
        .iter()
        .map(|r| r.urn.name())
        .collect();
    assert!(recorded.contains(&"b1") && recorded.contains(&"a2") && !recorded.contains(&"a1"));
    assert!(d.snapshot().pending_operations.is_empty());
    let next = d.plan().unwrap();
    assert_eq!(
        next.summary().create,
        2,
        "a1 and the route table remain to create"
    );
}

#[tokio::test]
async fn a_cloud_error_makes_the_cli_exit_non_zero() {
    // A route to the internet gateway of another VPC: the checks catch it
    // (E041), so they are skipped to reach AWS's (here, the simulator's)
    // refusal.
    let mut s = Stack::new("cross-vpc");
    let a = s.add("a", Vpc::new("10.0.0.0/16"));
    let b = s.add("b", Vpc::new("10.1.0.0/16"));
    let igw = s.add("a", InternetGateway::new().vpc(a.id()));
    s.add(
        "b",
        RouteTable::new(b.id()).route_to_internet_gateway("0.0.0.0/0", igw.id()),
    );
    let dir = state_dir();
    let mut out = Vec::new();
    let code = tokio::task::spawn_blocking(move || {
        let code = keel::cli::run_with(
            &s,
            [
                "prog",
                "up",
                "--skip-checks",
                "--state-dir",
                dir.path().to_str().unwrap(),
            ],
            &mut out,
        );
        (code, String::from_utf8(out).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(code.0, 1, "{}", code.1);
    assert!(code.1.contains("InvalidParameterValue"), "{}", code.1);
    assert!(code.1.contains("1 failed"), "{}", code.1);
}

fn many_vpcs(n: usize) -> Stack {
    let mut s = Stack::new("wide");
    for i in 0..n {
        let vpc = s.add(&format!("v{i}"), Vpc::new(format!("10.{i}.0.0/16")));
        s.add(
            &format!("s{i}"),
            Subnet::new(vpc.id(), format!("10.{i}.1.0/24"), "us-east-1a"),
        );
    }
    s
}

#[tokio::test(start_paused = true)]
async fn never_more_calls_in_flight_than_parallel() {
    for parallel in [1, 3, 8] {
        let dir = state_dir();
        let provider = TestProvider::new(SimProvider::in_memory().with_latency(SimLatency::none()))
            .delay(Duration::from_millis(100));
        let shared: Arc<dyn Provider> = Arc::new(provider.clone());
        let (_, report) = up(&many_vpcs(12), shared, dir.path(), parallel).await;
        assert!(report.succeeded());
        assert_eq!(provider.calls(Op::Create), 24);
        assert_eq!(provider.max_concurrent(), parallel, "parallel {parallel}");
        assert!(report.execution.max_in_flight <= parallel);
    }
}

#[tokio::test(start_paused = true)]
async fn the_longest_chain_starts_first() {
    // With one slot, the VPC (ahead of subnet -> NAT gateway, ~122 s on AWS)
    // goes before the ECS cluster (~3 s) and the Elastic IP (~121 s).
    let mut s = Stack::new("chain");
    let cluster = s.add("app", EcsCluster::new());
    let eip = s.add("nat", ElasticIp::new());
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    let subnet = s.add("public", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
    s.add("nat", NatGateway::public(subnet.id(), eip.id()));
    let _ = cluster;
    let dir = state_dir();
    let log = Arc::new(EventLog::default());
    let store = LocalStore::open(dir.path(), s.name()).unwrap();
    let provider: Arc<dyn Provider> =
        Arc::new(SimProvider::in_memory().with_latency(SimLatency::none()));
    let mut d = Deployment::open(&s, provider, Box::new(store))
        .unwrap()
        .with_events(log.clone());
    let plan = d.plan().unwrap();
    assert!(
        d.apply(&plan, ApplyOptions::default().parallel(1))
            .await
            .unwrap()
            .succeeded()
    );
    let started: Vec<String> = log
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Started {
                urn,
                action: Action::Create,
            } => Some(urn.type_token().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(started[0], "aws:ec2:Vpc");
    // The subnet, released the moment the VPC finished, ties with the
    // Elastic IP (both head ~121 s of work); both go before the cluster.
    let mut next = started[1..3].to_vec();
    next.sort();
    assert_eq!(next, ["aws:ec2:ElasticIp", "aws:ec2:Subnet"]);
    assert_eq!(started.last().map(String::as_str), Some("aws:ecs:Cluster"));
}
