//! The engine against a simulator that fails: with transient faults (server
//! errors, throttling, lost answers, resources not yet visible) on a tenth
//! of every operation, `up` of the example converges to the same cloud as a
//! fault-free run, a second preview plans nothing, and `destroy` leaves
//! nothing; a permanent fault fails only its step and what depends on it.

use keel::Stack;
use keel::engine::{Outcome, RetryPolicy};
use keel::ops::{self, Options};
use keel::provider::sim::{Faults, SimProvider};
use keel::provider::{FindRequest, Provider};
use keel::state::MemoryStore;
use keel::{Urn, plan::Action};
use keel_examples::stacks::private_ecs::{Options as StackOptions, build};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Retries at the simulator's speed (it has no latency here).
fn options() -> Options<'static> {
    Options::new().retry(RetryPolicy::default().base(Duration::from_millis(2)))
}

fn stack() -> Stack {
    build(&StackOptions::default())
}

/// What `up` of the example leaves in a fault-free cloud, per type, and the
/// API calls it took.
async fn fault_free() -> (BTreeMap<String, usize>, u64) {
    let sim = SimProvider::in_memory();
    let store = MemoryStore::new(stack().name());
    let report = ops::up(&stack(), Arc::new(sim.clone()), Box::new(store), &options())
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let calls = sim.api_calls().values().sum();
    (sim.resource_counts(), calls)
}

#[tokio::test]
async fn transient_faults_on_every_operation_converge_to_the_fault_free_cloud() {
    let (want, fault_free_calls) = fault_free().await;
    let stack = stack();
    for seed in [7, 11, 23] {
        let sim = SimProvider::in_memory();
        let faulty_sim = sim.clone().with_faults(Faults::transient(0.10).seed(seed));
        let faulty: Arc<dyn Provider> = Arc::new(faulty_sim.clone());
        let store = MemoryStore::new(stack.name());
        let report = ops::up(&stack, faulty.clone(), Box::new(store.clone()), &options())
            .await
            .unwrap();
        let applied = report.applied.as_ref().unwrap();
        assert!(report.succeeded(), "seed {seed}: {:?}", applied.execution);
        assert_eq!(sim.resource_counts(), want, "seed {seed}");
        let cluster = applied.outputs["cluster_name"].as_str().unwrap();
        assert_eq!(sim.registered_instances(cluster), 2, "seed {seed}");
        // Every declared resource exists exactly once (a fault-free look).
        for urn in stack.urns() {
            let found = sim.find_by_tags(FindRequest { urn: urn.clone() });
            assert_eq!(found.await.unwrap().len(), 1, "seed {seed}: {urn}");
        }
        let retries = applied.execution.retries;
        let calls: u64 = sim.api_calls().values().sum();
        eprintln!(
            "seed {seed}: up injected {:?}, {retries} retries, {calls} API calls (fault-free: {fault_free_calls})",
            faulty_sim.faults_injected()
        );
        // Faults also hit the searches and reads before the apply (the
        // lost-state guard), which retry without counting in the execution.
        let injected: u64 = faulty_sim.faults_injected().values().sum();
        assert!(injected > 0, "seed {seed}: faults were injected");

        // Still faulty: the next preview reads everything and plans nothing.
        let preview = ops::preview(&stack, faulty.clone(), Box::new(store.clone()), &options())
            .await
            .unwrap();
        let drift = preview.drift.as_ref().unwrap();
        assert!(drift.errors.is_empty(), "seed {seed}: {:?}", drift.errors);
        assert!(!preview.plan.summary().has_changes(), "seed {seed}");

        let report = ops::destroy(&stack, faulty.clone(), Box::new(store), &options())
            .await
            .unwrap();
        assert!(report.succeeded(), "seed {seed}: {:?}", report.applied);
        assert_eq!(sim.resource_count(), 0, "seed {seed}");
    }
}

/// `urn` and everything that depends on it, directly or not, in `stack`.
fn dependents(stack: &Stack, plan: &keel::plan::Plan, urn: &Urn) -> BTreeSet<Urn> {
    let mut out = BTreeSet::from([urn.clone()]);
    loop {
        let more: Vec<Urn> = plan
            .steps
            .iter()
            .filter(|s| !out.contains(&s.urn) && s.dependencies.iter().any(|d| out.contains(d)))
            .map(|s| s.urn.clone())
            .collect();
        if more.is_empty() {
            assert!(out.len() < stack.len());
            return out;
        }
        out.extend(more);
    }
}

#[tokio::test]
async fn a_permanent_fault_fails_only_its_step_and_its_dependents() {
    let stack = stack();
    let sim = SimProvider::in_memory();
    let faulty = sim.clone().with_faults(Faults::none().fail("net-nat-a"));
    let store = MemoryStore::new(stack.name());
    let report = ops::up(
        &stack,
        Arc::new(faulty.clone()),
        Box::new(store),
        &options(),
    )
    .await
    .unwrap();
    assert!(!report.succeeded());
    let plan = &report.preview.plan;
    let nat = plan
        .steps
        .iter()
        .map(|s| &s.urn)
        .find(|u| u.name() == "net-nat-a")
        .unwrap()
        .clone();
    let blocked = dependents(&stack, plan, &nat);
    assert!(blocked.len() > 1, "the NAT gateway has dependents");
    let execution = &report.applied.as_ref().unwrap().execution;
    assert_eq!(execution.outcomes.len(), stack.len());
    assert_eq!(execution.retries, 0, "a permanent fault is not retried");
    for (urn, outcome) in &execution.outcomes {
        match outcome {
            Outcome::Failed { error, .. } => {
                assert_eq!(urn, &nat);
                assert_eq!(error.code(), "UnauthorizedOperation");
            }
            Outcome::Skipped { blocked_by, .. } => {
                assert_eq!(blocked_by, &nat);
                assert!(blocked.contains(urn), "{urn}");
            }
            Outcome::Done { action } => {
                assert!(!blocked.contains(urn), "{urn}");
                assert_eq!(*action, Action::Create);
                let found = sim.find_by_tags(FindRequest { urn: urn.clone() });
                assert_eq!(found.await.unwrap().len(), 1, "{urn}");
            }
            other => panic!("{urn}: nothing interrupted this run: {other:?}"),
        }
    }
    let done = execution
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Done { .. }));
    assert_eq!(done.count(), stack.len() - blocked.len());
    assert_eq!(faulty.faults_injected()["permanent"], 1);
}
