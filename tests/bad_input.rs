//! Bad input is refused before any provider call, with an error naming the
//! resource and the field, and state is left exactly as it was.

use keel::DeclarationError;
use keel::engine::{Deployment, EngineError};
use keel::prelude::*;
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::{LocalStore, StateError};
use keel::testing::TestProvider;
use keel_tests::{state_dir, up};
use std::sync::Arc;

/// Validates `stack`, expecting failure; returns the messages.
fn errors(stack: &Stack) -> Vec<String> {
    match stack.validate() {
        Ok(()) => panic!("{} should be invalid", stack.name()),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

fn with_vpc(block: &str) -> (Stack, Handle<Vpc>) {
    let mut s = Stack::new("bad");
    let vpc = s.add("main", Vpc::new(block));
    (s, vpc)
}

#[test]
fn malformed_cidr() {
    let (s, _) = with_vpc("10.0.0/16");
    assert_eq!(
        errors(&s),
        [
            "urn:keel:bad::aws:ec2:Vpc::main: field `cidr_block`: `10.0.0/16` is not a valid IPv4 CIDR block (expected a.b.c.d/n)"
        ]
    );
    let (s, _) = with_vpc("10.0.0.1/16");
    assert!(errors(&s)[0].contains("host bits set; the network address is `10.0.0.0/16`"));
}

#[test]
fn prefix_lengths_aws_refuses() {
    for (block, len) in [("10.0.0.0/8", 8), ("10.0.0.0/29", 29)] {
        let (s, _) = with_vpc(block);
        let e = errors(&s);
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("Vpc::main: field `cidr_block`"), "{}", e[0]);
        assert!(
            e[0].contains(&format!("prefix length /{len}; AWS accepts /16 to /28")),
            "{}",
            e[0]
        );
    }
}

#[test]
fn subnet_outside_its_vpc() {
    let (mut s, vpc) = with_vpc("10.0.0.0/16");
    s.add("app", Subnet::new(vpc.id(), "10.1.0.0/24", "us-east-1a"));
    assert_eq!(
        errors(&s),
        [
            "urn:keel:bad::aws:ec2:Subnet::app: field `cidr_block`: 10.1.0.0/24 is outside the block 10.0.0.0/16 of VPC `main` (AWS would refuse it: InvalidSubnet.Range)"
        ]
    );
}

#[test]
fn overlapping_subnets() {
    let (mut s, vpc) = with_vpc("10.0.0.0/16");
    s.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
    s.add("b", Subnet::new(vpc.id(), "10.0.1.128/25", "us-east-1b"));
    s.add("c", Subnet::new(vpc.id(), "10.0.2.0/24", "us-east-1b"));
    assert_eq!(
        errors(&s),
        [
            "urn:keel:bad::aws:ec2:Subnet::b: field `cidr_block`: 10.0.1.128/25 overlaps 10.0.1.0/24 of subnet `a` in VPC `main` (AWS would refuse it: InvalidSubnet.Conflict)"
        ]
    );
}

#[test]
fn desired_capacity_outside_min_max() {
    let (mut s, vpc) = with_vpc("10.0.0.0/16");
    let subnet = s.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
    let lt = s.add(
        "hosts",
        LaunchTemplate::new("ami-0123456789abcdef0", "t3.small"),
    );
    s.add(
        "hosts",
        AutoScalingGroup::new(lt.id(), 1, 3)
            .desired_capacity(5)
            .subnet(subnet.id()),
    );
    assert_eq!(
        errors(&s),
        [
            "urn:keel:bad::aws:autoscaling:Group::hosts: field `desired_capacity`: desired_capacity 5 is outside min_size..max_size (1..3)"
        ]
    );
}

#[test]
fn cycles_are_reported_with_their_members() {
    let mut s = Stack::new("bad");
    let (vpc, _) = (s.add("main", Vpc::new("10.0.0.0/16")), ());
    let web_urn = Urn::new("bad", "aws:ec2:SecurityGroup", "web");
    // db admits web (data edge db -> web); web waits for db explicitly.
    let db = s.add_with(
        "db",
        SecurityGroup::new(vpc.id(), "db")
            .ingress(Rule::tcp(5432).group(SecurityGroupId::new("sg-placeholder"))),
        ResourceOptions::new().depends_on(&web_urn),
    );
    s.add(
        "web",
        SecurityGroup::new(vpc.id(), "web").ingress(Rule::tcp(443).group(db.id())),
    );
    let e = s.validate().unwrap_err();
    assert_eq!(
        e.0,
        vec![DeclarationError::Cycle {
            urns: vec![
                Urn::new("bad", "aws:ec2:SecurityGroup", "db"),
                web_urn.clone()
            ]
        }]
    );
    assert_eq!(
        e.0[0].to_string(),
        "dependency cycle: urn:keel:bad::aws:ec2:SecurityGroup::db -> urn:keel:bad::aws:ec2:SecurityGroup::web -> urn:keel:bad::aws:ec2:SecurityGroup::db"
    );
}

#[test]
fn duplicate_names_and_dangling_references() {
    let (mut s, _) = with_vpc("10.0.0.0/16");
    s.add("main", Vpc::new("10.1.0.0/16"));
    let ghost = Urn::new("bad", "aws:ec2:Vpc", "ghost");
    s.add_with(
        "x",
        ElasticIp::new(),
        ResourceOptions::new().depends_on(&ghost),
    );
    let e = errors(&s);
    assert!(e.contains(
        &"urn:keel:bad::aws:ec2:Vpc::main: the name `main` is declared twice for type aws:ec2:Vpc"
            .to_string()
    ));
    assert!(e.contains(&"urn:keel:bad::aws:ec2:ElasticIp::x: depends on urn:keel:bad::aws:ec2:Vpc::ghost, which is not declared in this stack".to_string()));
}

#[tokio::test]
async fn invalid_stacks_make_no_provider_calls_and_leave_state_alone() {
    let dir = state_dir();
    let provider = TestProvider::new(SimProvider::in_memory().with_latency(SimLatency::none()));
    let shared: Arc<dyn Provider> = Arc::new(provider.clone());
    let (good, vpc) = with_vpc("10.0.0.0/16");
    let _ = vpc;
    up(&good, shared.clone(), dir.path(), 2).await;
    let snapshot = std::fs::read(dir.path().join("bad/snapshot.json")).unwrap();
    let calls = provider.mutating_calls();

    let (bad, _) = with_vpc("10.0.0.0/33");
    let store = LocalStore::open(dir.path(), "bad").unwrap();
    match Deployment::open(&bad, shared, Box::new(store)) {
        Err(EngineError::Declaration(e)) => assert!(e.to_string().contains("field `cidr_block`")),
        other => panic!("expected a declaration error, got {:?}", other.err()),
    }
    assert_eq!(provider.mutating_calls(), calls);
    assert_eq!(
        std::fs::read(dir.path().join("bad/snapshot.json")).unwrap(),
        snapshot
    );
}

/// Writes `content` as the stack's snapshot, opens it, and checks the error
/// and that the file is byte-for-byte unchanged.
fn refuses(content: &[u8]) -> StateError {
    let dir = state_dir();
    let path = dir.path().join("bad/snapshot.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    let (stack, _) = with_vpc("10.0.0.0/16");
    let store = LocalStore::open(dir.path(), "bad").unwrap();
    let provider: Arc<dyn Provider> = Arc::new(SimProvider::in_memory());
    let err = match Deployment::open(&stack, provider, Box::new(store)) {
        Err(EngineError::State(e)) => e,
        other => panic!("expected a state error, got {:?}", other.err()),
    };
    assert_eq!(
        std::fs::read(&path).unwrap(),
        content,
        "the state file was modified"
    );
    err
}

#[test]
fn truncated_state_is_refused() {
    let e = refuses(br#"{"schema_version": 1, "stack": "bad", "lineage": "x", "serial": 3, "resources": [{"urn": "#);
    assert!(matches!(e, StateError::Corrupt { .. }));
    assert!(
        e.to_string()
            .contains("refusing to continue (the file was not modified)"),
        "{e}"
    );
}

#[test]
fn garbage_state_is_refused() {
    let e = refuses(b"\x00\x01not json at all");
    assert!(matches!(e, StateError::Corrupt { .. }), "{e}");
}

#[test]
fn newer_schema_is_refused() {
    let e = refuses(
        br#"{"schema_version": 99, "stack": "bad", "lineage": "x", "serial": 1, "resources": []}"#,
    );
    assert!(
        matches!(e, StateError::NewerSchema { found: 99, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade keel"), "{e}");
}

#[test]
fn another_stacks_state_is_refused() {
    let e = refuses(
        br#"{"schema_version": 1, "stack": "other", "lineage": "x", "serial": 1, "resources": []}"#,
    );
    assert!(matches!(e, StateError::WrongStack { .. }), "{e}");
}

#[test]
fn unreadable_state_is_refused() {
    let dir = state_dir();
    let path = dir.path().join("bad/snapshot.json");
    // A directory where the file should be: reading fails with an I/O error.
    std::fs::create_dir_all(&path).unwrap();
    let (stack, _) = with_vpc("10.0.0.0/16");
    let store = LocalStore::open(dir.path(), "bad").unwrap();
    let provider: Arc<dyn Provider> = Arc::new(SimProvider::in_memory());
    match Deployment::open(&stack, provider, Box::new(store)) {
        Err(EngineError::State(StateError::Io { path: p, .. })) => assert_eq!(p, path),
        other => panic!("expected an I/O error, got {:?}", other.err()),
    }
    assert!(path.is_dir());
}

#[test]
fn a_second_run_on_the_same_stack_is_locked_out() {
    let dir = state_dir();
    let _first = LocalStore::open(dir.path(), "bad").unwrap();
    match LocalStore::open(dir.path(), "bad") {
        Err(StateError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected the lock to hold, got {other:?}"),
    }
}

/// Many pairs of runs racing for one stack: exactly one of each pair gets
/// it, and a lock file left behind by a run that is gone blocks nobody.
#[test]
fn two_runs_racing_for_one_stack_never_both_proceed() {
    let dir = state_dir();
    for trial in 0..200 {
        let barrier = std::sync::Barrier::new(2);
        let opened: Vec<bool> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let store = LocalStore::open(dir.path(), "race");
                        // Hold it until both have tried.
                        barrier.wait();
                        store.is_ok()
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(
            opened.iter().filter(|o| **o).count(),
            1,
            "trial {trial}: {opened:?}"
        );
    }
    // The lock file stays (it is never deleted); it holds nobody out.
    assert!(dir.path().join("race/lock").exists());
    assert!(LocalStore::open(dir.path(), "race").is_ok());
}
