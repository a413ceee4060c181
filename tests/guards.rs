//! Lifecycle guards on the simulator, through the operations a program runs:
//! `protect()` refuses deletes and replacements (removed from the program,
//! a forcing change, destroy) with no mutating provider call, until an `up`
//! without it records that; `retain_on_delete()` leaves the resource in the
//! cloud and drops it from state; `ignore_changes` keeps program edits and
//! drift of the named fields from being planned while other fields update
//! (drift on moto, since the simulator's resources change only through keel).

use keel::engine::{EngineError, Event, EventLog};
use keel::ops::{self, Options};
use keel::plan::{Action, PlanError, ProtectedBecause, render_text};
use keel::prelude::*;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::provider::{CreateRequest, Provider};
use keel::state::{JournalRecord, MemoryStore, StateStore};
use keel_tests::state_dir;
use std::sync::Arc;

fn sim() -> SimProvider {
    SimProvider::in_memory().with_latency(SimLatency::none())
}

fn urn(ty: &str, name: &str) -> Urn {
    Urn::new("guards", ty, name)
}

/// A VPC `10.<n>.0.0/16` with `options` and a subnet in it.
fn network(n: u8, options: ResourceOptions) -> Stack {
    let mut s = Stack::new("guards");
    let vpc = s.add_with("main", Vpc::new(format!("10.{n}.0.0/16")), options);
    let block = format!("10.{n}.1.0/24");
    s.add("app", Subnet::new(vpc.id(), block, "us-east-1a"));
    s
}

/// How many resources of type `token` the simulator has.
fn count(sim: &SimProvider, token: &str) -> usize {
    sim.resource_counts().get(token).copied().unwrap_or(0)
}

fn protected_refusal(result: Result<ops::UpReport, EngineError>) -> Vec<ProtectedBecause> {
    match result {
        Err(EngineError::Plan(PlanError::Protected(refused))) => {
            refused.into_iter().map(|r| r.because).collect()
        }
        other => panic!("expected a protected refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn protect_refuses_removal_replacement_and_destroy_until_an_up_drops_it() {
    let sim = sim();
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let store = MemoryStore::new("guards");
    let opts = Options::new();
    let protected = network(0, ResourceOptions::new().protect());
    let report = ops::up(&protected, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let vpc = urn("aws:ec2:Vpc", "main");
    let recorded = store.clone().load().unwrap();
    assert!(recorded.get(&vpc).unwrap().protect);
    assert!(!recorded.get(&urn("aws:ec2:Subnet", "app")).unwrap().protect);
    let preview = ops::preview(&protected, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    let shown = keel::plan::render_json(&preview.plan);
    assert_eq!(shown["steps"][0]["guards"]["protect"], true, "{shown}");
    let writes = sim.mutating_calls();

    // A change that forces replacement.
    let moved = network(9, ResourceOptions::new().protect());
    let refused = ops::up(&moved, provider.clone(), Box::new(store.clone()), &opts).await;
    assert_eq!(
        protected_refusal(refused),
        [ProtectedBecause::Replaced {
            field: "cidr_block".into()
        }]
    );

    // Removed from the program (the subnet with it): state's flag holds, and
    // the unprotected subnet isn't deleted either, since nothing is applied.
    let empty = Stack::new("guards");
    let refused = ops::up(&empty, provider.clone(), Box::new(store.clone()), &opts).await;
    assert_eq!(protected_refusal(refused), [ProtectedBecause::Removed]);

    // Destroy, with the program or the state alone saying so.
    let refused = ops::destroy(&protected, provider.clone(), Box::new(store.clone()), &opts).await;
    assert_eq!(protected_refusal(refused), [ProtectedBecause::Destroyed]);
    let unprotected = network(0, ResourceOptions::new());
    let refused = ops::destroy(
        &unprotected,
        provider.clone(),
        Box::new(store.clone()),
        &opts,
    )
    .await;
    assert_eq!(protected_refusal(refused), [ProtectedBecause::Destroyed]);

    assert_eq!(
        sim.mutating_calls(),
        writes,
        "no refused plan wrote anything"
    );
    assert_eq!(sim.resource_count(), 2);
    assert_eq!(
        store.clone().load().unwrap(),
        recorded,
        "state is unchanged"
    );

    // Dropping protect is an `up` that records it and calls nothing.
    let report = ops::up(
        &unprotected,
        provider.clone(),
        Box::new(store.clone()),
        &opts,
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert!(!report.preview.plan.summary().has_changes());
    assert_eq!(report.preview.plan.guard_updates().count(), 1);
    assert_eq!(sim.mutating_calls(), writes);
    assert!(!store.clone().load().unwrap().get(&vpc).unwrap().protect);

    // Now it may go.
    let report = ops::destroy(
        &unprotected,
        provider.clone(),
        Box::new(store.clone()),
        &opts,
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn retain_on_delete_leaves_the_resource_in_the_cloud_and_drops_it_from_state() {
    let sim = sim();
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let store = MemoryStore::new("guards");
    let log = Arc::new(EventLog::default());
    let opts = Options::new().events(log.clone());
    let retained = network(0, ResourceOptions::new().retain_on_delete());
    let report = ops::up(&retained, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");

    // The old half of a replacement is retained: both VPCs exist, state
    // has the new one only.
    let moved = Stack::new("guards");
    let mut moved = moved;
    moved.add_with(
        "main",
        Vpc::new("10.1.0.0/16"),
        ResourceOptions::new().retain_on_delete(),
    );
    let deletes_before = sim.api_calls().get("DeleteVpc").copied().unwrap_or(0);
    let report = ops::up(&moved, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let text = render_text(&report.preview.plan);
    assert!(
        text.contains("the old one is retained in the cloud"),
        "{text}"
    );
    assert_eq!(count(&sim, "aws:ec2:Vpc"), 2);
    assert_eq!(count(&sim, "aws:ec2:Subnet"), 0, "the subnet was deleted");
    let state = store.clone().load().unwrap();
    assert_eq!(state.resources.len(), 1);
    assert_eq!(state.resources[0].inputs["cidr_block"], "10.1.0.0/16");

    // Removed from the program: dropped from state, kept in the cloud, and
    // the progress says so.
    let report = ops::up(
        &Stack::new("guards"),
        provider.clone(),
        Box::new(store.clone()),
        &opts,
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let step = &report.preview.plan.steps[0];
    assert_eq!(step.action, Action::Delete);
    assert!(step.guards.retain_on_delete);
    let text = render_text(&report.preview.plan);
    assert!(
        text.contains("main  (retained in the cloud: dropped from state only)"),
        "{text}"
    );
    assert_eq!(
        sim.api_calls().get("DeleteVpc").copied().unwrap_or(0),
        deletes_before,
        "no VPC was deleted"
    );
    assert_eq!(count(&sim, "aws:ec2:Vpc"), 2);
    assert!(store.clone().load().unwrap().resources.is_empty());
    let retained_events = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Retained { .. }))
        .count();
    assert_eq!(retained_events, 2);

    // Destroy retains too.
    let again = network(2, ResourceOptions::new().retain_on_delete());
    ops::up(&again, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    let report = ops::destroy(&again, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(count(&sim, "aws:ec2:Vpc"), 3);
    assert!(store.clone().load().unwrap().resources.is_empty());
}

/// A retained resource keeps this stack's `keel:urn` tag in the cloud, but
/// state remembers keel let go of it: the lost-state guard doesn't count it,
/// `adopt` doesn't take it, and recovering an interrupted create of the same
/// URN neither adopts it nor deletes it as a copy.
#[tokio::test]
async fn a_released_resource_is_never_taken_back_by_its_tag() {
    let sim = sim();
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let store = MemoryStore::new("guards");
    let opts = Options::new();
    let mut retained = Stack::new("guards");
    retained.add_with(
        "main",
        Vpc::new("10.0.0.0/16"),
        ResourceOptions::new().retain_on_delete(),
    );
    ops::up(&retained, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    let old = store.clone().load().unwrap().resources[0].id.clone();
    let report = ops::destroy(&retained, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let state = store.clone().load().unwrap();
    assert!(state.resources.is_empty());
    assert!(state.is_released(&old));

    // A run that dies right after creating the VPC again.
    let vpc = urn("aws:ec2:Vpc", "main");
    let mut inputs = serde_json::to_value(Vpc::new("10.0.0.0/16")).unwrap();
    inputs["tags"][URN_TAG] = vpc.to_string().into();
    inputs["tags"][STACK_TAG] = "guards".into();
    let made = provider
        .create(CreateRequest {
            urn: vpc.clone(),
            inputs: inputs.clone(),
        })
        .await
        .unwrap();
    let mut journal = store.clone();
    journal
        .append(&JournalRecord::Begin {
            urn: vpc.clone(),
            operation: "create".into(),
            id: None,
            inputs: Some(inputs),
            dependencies: Vec::new(),
            secret_paths: Vec::new(),
        })
        .unwrap();
    let report = ops::up(&retained, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let state = store.clone().load().unwrap();
    assert_eq!(
        state.get(&vpc).unwrap().id,
        made.id,
        "the new one is adopted"
    );
    assert_eq!(count(&sim, "aws:ec2:Vpc"), 2, "the released one is kept");

    // Everything released again, state records nothing: the lost-state guard
    // doesn't count released resources, so a new `up` creates one.
    let report = ops::destroy(&retained, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let report = ops::up(&retained, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.preview.plan.summary().create, 1);
    assert_eq!(count(&sim, "aws:ec2:Vpc"), 3);
}

/// A VPC whose DNS hostnames setting is left to whoever changes it.
fn hostnames_ignored(hostnames: bool, support: bool) -> Stack {
    let mut s = Stack::new("guards");
    s.add_with(
        "main",
        Vpc::new("10.0.0.0/16")
            .enable_dns_hostnames(hostnames)
            .enable_dns_support(support),
        ResourceOptions::new().ignore_changes([Vpc::ENABLE_DNS_HOSTNAMES]),
    );
    s
}

#[tokio::test]
async fn ignore_changes_keeps_program_edits_of_its_fields_out_of_plans() {
    let sim = sim();
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let store = MemoryStore::new("guards");
    let opts = Options::new();
    let recorded = |field: &str| store.clone().load().unwrap().resources[0].inputs[field].clone();
    // A create uses the declared value.
    let program = hostnames_ignored(true, true);
    let report = ops::up(&program, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(recorded("enable_dns_hostnames"), true);
    let writes = sim.mutating_calls();

    // A program edit of the ignored field isn't planned.
    let edited = hostnames_ignored(false, true);
    let report = ops::up(&edited, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(!report.preview.plan.summary().has_changes());
    assert_eq!(sim.mutating_calls(), writes);

    // Another field still updates; the update keeps the recorded value of
    // the ignored one.
    let both = hostnames_ignored(false, false);
    let modify = || sim.api_calls().get("ModifyVpcAttribute").copied();
    let modified = modify();
    let report = ops::up(&both, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let step = &report.preview.plan.steps[0];
    assert_eq!(step.action, Action::Update);
    let paths: Vec<&str> = step.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["enable_dns_support"]);
    assert_eq!(
        modify(),
        modified.map(|n| n + 1),
        "one attribute changed, not the ignored one"
    );
    assert_eq!(recorded("enable_dns_support"), false);
    assert_eq!(recorded("enable_dns_hostnames"), true);
    let text = render_text(&report.preview.plan);
    assert!(
        text.contains("[ignore_changes(enable_dns_hostnames)]"),
        "{text}"
    );
}

/// The simulator's resources change only through keel; on moto the VPC's
/// DNS hostnames setting is changed behind keel's back, as a console user
/// would, and a refresh sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_changes_keeps_drift_of_its_fields_on_moto() {
    let aws: Arc<dyn Provider> = Arc::new(keel_tests::aws_on_fresh_moto().await);
    let store = MemoryStore::new("guards");
    let opts = Options::new();
    let program = hostnames_ignored(false, true);
    let report = ops::up(&program, aws.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let vpc = store.clone().load().unwrap().resources[0].id.clone();
    let ec2 = aws_sdk_ec2::Client::new(&keel_tests::moto_config().await);
    let hostnames = || async {
        ec2.describe_vpc_attribute()
            .vpc_id(&vpc)
            .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
            .send()
            .await
            .unwrap()
            .enable_dns_hostnames()
            .and_then(|v| v.value())
    };
    let on = aws_sdk_ec2::types::AttributeBooleanValue::builder()
        .value(true)
        .build();
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(on)
        .send()
        .await
        .unwrap();

    // The refresh sees the drift; the plan leaves it.
    let report = ops::up(&program, aws.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    let drift = &report.preview.drift.as_ref().unwrap().drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert!(
        !report.preview.plan.summary().has_changes(),
        "{}",
        render_text(&report.preview.plan)
    );
    assert_eq!(hostnames().await, Some(true));

    // Updating another field keeps it.
    let report = ops::up(
        &hostnames_ignored(false, false),
        aws.clone(),
        Box::new(store.clone()),
        &opts,
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.preview.plan.summary().update, 1);
    assert_eq!(hostnames().await, Some(true), "the drift is kept");

    let report = ops::destroy(&program, aws, Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
}

#[test]
fn the_cli_shows_guards_and_says_what_to_do_when_refusing() {
    let dir = state_dir();
    let d = dir.path().to_str().unwrap().to_string();
    let run = |stack: &Stack, args: &[&str]| {
        let mut out = Vec::new();
        let mut all = vec!["guards"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--state-dir", &d]);
        let code = keel::cli::run_with(stack, all, &mut out);
        (code, String::from_utf8(out).unwrap())
    };
    let protected = network(0, ResourceOptions::new().protect());
    let (code, out) = run(&protected, &["preview"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("main  [protect]"), "{out}");
    let (code, out) = run(&protected, &["up"]);
    assert_eq!(code, 0, "{out}");

    let (code, out) = run(&protected, &["destroy", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error: refusing to plan: 1 protected resource(s)")
            && out.contains("urn:keel:guards::aws:ec2:Vpc::main is protected")
            && out.contains("remove `.protect()` from it and run `up`"),
        "{out}"
    );

    let unprotected = network(0, ResourceOptions::new());
    let (code, out) = run(&unprotected, &["up"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(state only: protect removed)"), "{out}");
    let (code, out) = run(&unprotected, &["destroy", "--yes"]);
    assert_eq!(code, 0, "{out}");
}
