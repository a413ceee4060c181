//! Nothing lost on a crash: the example stack's `up` (and `destroy`) is
//! stopped at every mutating call in turn — before the call reaches the
//! cloud, and after it took effect but before its result was recorded — as
//! a killed process stops, then run again. Every time, the rerun converges
//! (a further preview plans nothing), the cloud holds exactly what state
//! records (no orphans, no two resources with one tag), both instances
//! register, and `destroy` leaves the cloud empty. Also: lost state makes
//! `up` refuse rather than duplicate, and `adopt` brings it back.

use keel::Stack;
use keel::engine::{Adoption, EngineError, Recovery};
use keel::ops::{self, Options};
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::{MemoryStore, StateStore};
use keel::testing::{CrashPoint, TestProvider, audit_sim};
use keel_examples::stacks::private_ecs::{Options as Example, build};
use std::sync::Arc;
use std::time::Duration;

fn example() -> Stack {
    build(&Example {
        registration_timeout: Duration::from_secs(5),
        ..Example::default()
    })
}

fn sim() -> SimProvider {
    SimProvider::in_memory().with_latency(SimLatency::none())
}

/// Runs `up` (or `destroy`) through a provider that crashes at mutating
/// call `n`, and drops the run there. Whether the crash point was reached.
async fn crashed_run(
    stack: &Stack,
    sim: &SimProvider,
    store: &MemoryStore,
    n: usize,
    point: CrashPoint,
    destroying: bool,
) -> bool {
    let (provider, crash) = TestProvider::new(sim.clone()).crash_at(n, point);
    let provider: Arc<dyn Provider> = Arc::new(provider);
    let opts = Options::new();
    let store = Box::new(store.clone());
    let run = async {
        if destroying {
            ops::destroy(stack, provider, store, &opts).await
        } else {
            ops::up(stack, provider, store, &opts).await
        }
    };
    tokio::select! {
        result = run => {
            let report = result.expect("the run itself works");
            assert!(report.succeeded(), "{report:?}");
            false
        }
        () = crash.reached() => true,
    }
}

/// `up` again, then checks convergence, the cloud against state, and the
/// registered instances; then `destroy` leaves nothing.
async fn converges(stack: &Stack, sim: &SimProvider, store: &MemoryStore, what: &str) {
    let p: Arc<dyn Provider> = Arc::new(sim.clone());
    let opts = Options::new();
    let report = ops::up(stack, p.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap_or_else(|e| panic!("{what}: rerun failed: {e}"));
    assert!(report.succeeded(), "{what}: {report:?}");
    let applied = report.applied.as_ref().expect("applied");
    assert_eq!(
        applied.outputs["registered_container_instances"], 2,
        "{what}: {:?}",
        applied.outputs
    );
    let again = ops::preview(stack, p.clone(), Box::new(store.clone()), &opts)
        .await
        .expect("preview");
    assert!(
        !again.plan.summary().has_changes(),
        "{what}: not converged: {:?}",
        again.plan.summary()
    );
    let snapshot = store.clone().load().expect("load");
    assert!(snapshot.pending_operations.is_empty(), "{what}");
    let found = audit_sim(sim, stack, &snapshot).await.expect("audit");
    assert!(found.is_clean(), "{what}: {found:?}");
    let gone = ops::destroy(stack, p, Box::new(store.clone()), &opts)
        .await
        .expect("destroy");
    assert!(gone.succeeded(), "{what}: {gone:?}");
    assert_eq!(
        sim.resource_count(),
        0,
        "{what}: {:?}",
        sim.resource_counts()
    );
}

#[tokio::test]
async fn an_up_killed_at_any_call_converges_on_the_next_run() {
    let stack = example();
    let mut points = 0;
    for point in [CrashPoint::BeforeCall, CrashPoint::AfterCall] {
        for n in 0.. {
            let (sim, store) = (sim(), MemoryStore::new(stack.name()));
            if !crashed_run(&stack, &sim, &store, n, point, false).await {
                break;
            }
            points += 1;
            let interrupted = store.clone().load().expect("load").pending_operations;
            assert!(!interrupted.is_empty(), "the crash left a begin record");
            converges(
                &stack,
                &sim,
                &store,
                &format!("up killed at call {n} {point:?}"),
            )
            .await;
        }
    }
    // 19 creates, each stopped before and after its call.
    assert_eq!(points, 2 * stack.len(), "every create was a crash point");
}

#[tokio::test]
async fn a_destroy_killed_at_any_call_finishes_on_the_next_destroy_or_up() {
    let stack = example();
    for point in [CrashPoint::BeforeCall, CrashPoint::AfterCall] {
        for n in 0..stack.len() {
            let (sim, store) = (sim(), MemoryStore::new(stack.name()));
            let p: Arc<dyn Provider> = Arc::new(sim.clone());
            let store_box = Box::new(store.clone());
            let up = ops::up(&stack, p.clone(), store_box, &Options::new()).await;
            assert!(up.expect("up").succeeded());
            assert!(crashed_run(&stack, &sim, &store, n, point, true).await);
            let what = format!("destroy killed at call {n} {point:?}");
            if n % 2 == 0 {
                // Destroy again: everything goes.
                let again = ops::destroy(&stack, p, Box::new(store.clone()), &Options::new())
                    .await
                    .expect("destroy");
                assert!(again.succeeded(), "{what}: {again:?}");
                assert_eq!(
                    sim.resource_count(),
                    0,
                    "{what}: {:?}",
                    sim.resource_counts()
                );
            } else {
                // Or change one's mind: `up` brings it all back.
                converges(&stack, &sim, &store, &what).await;
            }
        }
    }
}

#[tokio::test]
async fn recovery_adopts_a_create_that_happened_and_drops_one_that_did_not() {
    let stack = example();
    let (sim, store) = (sim(), MemoryStore::new(stack.name()));
    assert!(crashed_run(&stack, &sim, &store, 0, CrashPoint::AfterCall, false).await);
    let p: Arc<dyn Provider> = Arc::new(sim.clone());
    let preview = ops::preview(&stack, p.clone(), Box::new(store.clone()), &Options::new())
        .await
        .expect("preview");
    // Call 0 had taken effect; calls started beside it finished or were
    // cut short too.
    let state = store.clone().load().unwrap();
    let (interrupted, recorded) = (state.pending_operations, state.resources.len());
    assert_eq!(preview.recovered.len(), interrupted.len());
    let first = &preview.recovered[0];
    assert!(
        matches!(first.outcome, Recovery::Adopted { ref duplicates, .. } if duplicates.is_empty()),
        "{first:?}"
    );
    let adopted = preview
        .recovered
        .iter()
        .filter(|r| matches!(r.outcome, Recovery::Adopted { .. }))
        .count();
    // A preview records nothing: the next run recovers again.
    assert_eq!(
        store.clone().load().unwrap().pending_operations,
        interrupted
    );
    assert_eq!(
        preview.plan.summary().create,
        stack.len() - recorded - adopted,
        "adopted resources aren't created again"
    );

    let (sim, store) = (self::sim(), MemoryStore::new(stack.name()));
    assert!(crashed_run(&stack, &sim, &store, 0, CrashPoint::BeforeCall, false).await);
    let p: Arc<dyn Provider> = Arc::new(sim.clone());
    let preview = ops::preview(&stack, p, Box::new(store.clone()), &Options::new())
        .await
        .expect("preview");
    assert_eq!(preview.recovered[0].outcome, Recovery::NotCreated);
    let recorded = store.clone().load().unwrap().resources.len();
    let adopted = preview
        .recovered
        .iter()
        .filter(|r| matches!(r.outcome, Recovery::Adopted { .. }))
        .count();
    assert_eq!(
        preview.plan.summary().create,
        stack.len() - recorded - adopted,
        "{:#?} {:?}",
        preview.recovered,
        preview.plan.summary()
    );
}

#[tokio::test]
async fn lost_state_makes_up_refuse_and_adopt_brings_it_back() {
    let stack = example();
    let sim = sim();
    let p: Arc<dyn Provider> = Arc::new(sim.clone());
    let opts = Options::new();
    let first = ops::up(
        &stack,
        p.clone(),
        Box::new(MemoryStore::new(stack.name())),
        &opts,
    );
    assert!(first.await.expect("up").succeeded());
    let before = sim.resource_counts();

    // The state directory is gone: a new, empty store.
    let store = MemoryStore::new(stack.name());
    for attempt in 0..2 {
        let refused = ops::up(&stack, p.clone(), Box::new(store.clone()), &opts).await;
        let Err(EngineError::Unrecorded(unrecorded)) = refused else {
            panic!("attempt {attempt}: expected a refusal, got {refused:?}");
        };
        assert_eq!(unrecorded.found.len(), stack.len());
        let message = unrecorded.to_string();
        assert!(message.contains("`adopt`"), "{message}");
        let tagged = format!("{} resources tagged", stack.len());
        assert!(message.contains(&tagged), "{message}");
    }
    assert_eq!(sim.resource_counts(), before, "nothing was created");
    let destroy = ops::destroy(&stack, p.clone(), Box::new(store.clone()), &opts).await;
    assert!(matches!(destroy, Err(EngineError::Unrecorded(_))));

    let adopted = ops::adopt(&stack, p.clone(), Box::new(store.clone()), &opts)
        .await
        .expect("adopt");
    assert_eq!(adopted.len(), stack.len());
    assert!(
        adopted
            .iter()
            .all(|a| matches!(a.outcome, Adoption::Adopted { .. })),
        "{adopted:?}"
    );
    let preview = ops::preview(&stack, p, Box::new(store.clone()), &opts)
        .await
        .expect("preview");
    assert!(
        !preview.plan.summary().has_changes(),
        "{:?}",
        preview.plan.summary()
    );
    converges(&stack, &sim, &store, "after adopt").await;
}
