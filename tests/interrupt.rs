//! Interrupting a run: through the library's `Interrupt` handle (steps not
//! yet started are reported and left alone, calls in flight finish and are
//! recorded, the lock is released, the next `up` converges with nothing
//! orphaned; a call still running at the end of the grace period stays
//! pending in state) and through signals sent to a process running
//! `keel::cli::run` (exit 130 with a summary; a second Ctrl-C exits at once).

use async_trait::async_trait;
use keel::Urn;
use keel::engine::{Event, EventSink, Interrupt, Outcome};
use keel::ops::{self, Options};
use keel::plan::Action;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::provider::{
    CreateRequest, CreateResponse, DeleteRequest, FindRequest, Found, Outputs, Provider,
    ProviderError, ReadRequest, ReadResponse, UpdateRequest,
};
use keel::state::{LocalStore, Snapshot, StateStore};
use keel_examples::stacks::private_ecs::{Options as StackOptions, build};
use keel_tests::state_dir;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Lines, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const NAT: &str = "aws:ec2:NatGateway";

/// Interrupts the run when the `n`th call finishes.
struct InterruptAfter {
    n: usize,
    finished: AtomicUsize,
    interrupt: Interrupt,
}

impl EventSink for InterruptAfter {
    fn event(&self, event: &Event) {
        if let Event::Finished { .. } = event
            && self.finished.fetch_add(1, Ordering::SeqCst) + 1 == self.n
        {
            self.interrupt.interrupt();
        }
    }
}

/// The simulator, interrupting the run once a NAT gateway's create has made
/// the gateway and is waiting for it to become available.
struct InterruptDuringNat {
    sim: SimProvider,
    interrupt: Interrupt,
}

#[async_trait]
impl Provider for InterruptDuringNat {
    fn name(&self) -> &str {
        "sim"
    }
    async fn create(&self, request: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let is_nat = request.urn.type_token() == NAT;
        let mut call = self.sim.create(request);
        if is_nat {
            // One poll makes the gateway; then it waits to be available.
            tokio::select! {
                biased;
                done = &mut call => return done,
                () = std::future::ready(()) => self.interrupt.interrupt(),
            }
        }
        call.await
    }
    async fn read(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        self.sim.read(request).await
    }
    async fn update(&self, request: UpdateRequest) -> Result<Outputs, ProviderError> {
        self.sim.update(request).await
    }
    async fn delete(&self, request: DeleteRequest) -> Result<(), ProviderError> {
        self.sim.delete(request).await
    }
    async fn find_by_tags(&self, request: FindRequest) -> Result<Vec<Found>, ProviderError> {
        self.sim.find_by_tags(request).await
    }
}

/// The state in `dir`, opened (so its lock is free) and loaded.
fn load(dir: &Path, stack: &str) -> Snapshot {
    let mut store = LocalStore::open(dir, stack).expect("the state lock was released");
    store.load().expect("load state")
}

async fn tagged(sim: &SimProvider, urn: &Urn) -> Vec<Found> {
    let request = FindRequest { urn: urn.clone() };
    sim.find_by_tags(request).await.expect("find by tags")
}

/// Resources per type in the simulator, instances (the Auto Scaling
/// group's, not declared) left out.
fn cloud_counts(sim: &SimProvider) -> BTreeMap<String, usize> {
    let mut counts = sim.resource_counts();
    counts.remove("aws:ec2:Instance");
    counts
}

fn state_counts(state: &Snapshot) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in &state.resources {
        *counts.entry(r.type_token.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn an_interrupted_up_records_what_finished_and_the_next_up_converges() {
    let dir = state_dir();
    let sim = SimProvider::in_memory().with_latency(SimLatency::scaled(0.001));
    let stack = build(&StackOptions::default());
    let interrupt = Interrupt::new();
    let sink = Arc::new(InterruptAfter {
        n: 3,
        finished: AtomicUsize::new(0),
        interrupt: interrupt.clone(),
    });
    let options = Options::new().events(sink).interrupt(interrupt);
    let store = Box::new(LocalStore::open(dir.path(), stack.name()).unwrap());
    let report = ops::up(&stack, Arc::new(sim.clone()), store, &options)
        .await
        .expect("an interrupted run still ends cleanly");
    assert!(!report.succeeded());
    let applied = report.applied.expect("applied");
    let exec = &applied.execution;
    assert!(exec.interrupted);
    assert_eq!(exec.state_error, None);
    let not_started = exec
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::NotStarted { .. }))
        .count();
    assert!(not_started > 0, "{:?}", exec.outcomes);
    let created: BTreeSet<&Urn> = exec
        .outcomes
        .iter()
        .filter_map(|(urn, o)| match o {
            Outcome::Done {
                action: Action::Create,
            } => Some(urn),
            Outcome::NotStarted { .. } => None,
            other => panic!("{urn}: {other:?}; expected done or not started"),
        })
        .collect();
    assert!(created.len() >= 3, "{created:?}");
    assert_eq!(created.len() + not_started, stack.len());
    assert!(
        applied.outputs.is_empty(),
        "no exports after a cut-short run"
    );

    // State holds exactly what finished, nothing pending; the lock is free.
    let state = load(dir.path(), stack.name());
    assert!(state.pending_operations.is_empty(), "{state:?}");
    let recorded: BTreeSet<&Urn> = state.resources.iter().map(|r| &r.urn).collect();
    assert_eq!(recorded, created);
    // The cloud holds exactly what state records.
    for urn in stack.urns() {
        let found = tagged(&sim, urn).await;
        match state.get(urn) {
            Some(r) => assert_eq!(found.iter().map(|f| &f.id).collect::<Vec<_>>(), [&r.id]),
            None => assert!(found.is_empty(), "{urn}: {found:?}"),
        }
    }
    assert_eq!(cloud_counts(&sim), state_counts(&state));

    // The next run creates the rest, and nothing twice.
    let store = Box::new(LocalStore::open(dir.path(), stack.name()).unwrap());
    let report = ops::up(&stack, Arc::new(sim.clone()), store, &Options::new())
        .await
        .unwrap();
    assert!(report.preview.interrupted.is_empty());
    assert_eq!(report.preview.plan.summary().create, not_started);
    assert!(report.succeeded(), "{report:?}");
    let store = Box::new(LocalStore::open(dir.path(), stack.name()).unwrap());
    let preview = ops::preview(&stack, Arc::new(sim.clone()), store, &Options::new())
        .await
        .unwrap();
    assert!(!preview.plan.summary().has_changes());
    for urn in stack.urns() {
        assert_eq!(tagged(&sim, urn).await.len(), 1, "{urn}");
    }
    let state = load(dir.path(), stack.name());
    assert_eq!(state.resources.len(), stack.len());
    assert_eq!(cloud_counts(&sim), state_counts(&state));
}

#[tokio::test]
async fn a_call_still_running_after_the_grace_period_is_left_pending() {
    let dir = state_dir();
    // A NAT gateway takes two seconds to become available; no grace.
    let sim = SimProvider::in_memory().with_latency(SimLatency::realistic());
    let stack = build(&StackOptions::default());
    let interrupt = Interrupt::with_grace(Duration::ZERO);
    let provider = Arc::new(InterruptDuringNat {
        sim: sim.clone(),
        interrupt: interrupt.clone(),
    });
    let options = Options::new().interrupt(interrupt);
    let store = Box::new(LocalStore::open(dir.path(), stack.name()).unwrap());
    let report = ops::up(&stack, provider, store, &options)
        .await
        .expect("an interrupted run still ends cleanly");
    let exec = &report.applied.expect("applied").execution;
    assert!(exec.interrupted);
    assert_eq!(exec.state_error, None);
    let abandoned: BTreeSet<&Urn> = exec
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Abandoned { .. }))
        .map(|(urn, _)| urn)
        .collect();
    let nat = abandoned
        .iter()
        .find(|u| u.type_token() == NAT)
        .copied()
        .expect("the NAT gateway's create was abandoned");
    assert!(
        !exec
            .outcomes
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Failed { .. } | Outcome::Skipped { .. })),
        "{:?}",
        exec.outcomes
    );

    // Each abandoned call is a pending operation, the NAT gateway's a
    // create: the gateway exists, tagged, but state doesn't record it.
    let state = load(dir.path(), stack.name());
    let pending: BTreeSet<&Urn> = state.pending_operations.iter().map(|p| &p.urn).collect();
    assert_eq!(pending, abandoned);
    assert!(
        state
            .pending_operations
            .iter()
            .any(|p| &p.urn == nat && p.operation == "create")
    );
    assert!(state.get(nat).is_none());
    assert_eq!(tagged(&sim, nat).await.len(), 1);
}

/// A process running the example through `keel::cli::run`.
struct Run {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
}

impl Run {
    fn start(dir: &Path, latency: &str, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_private_ecs_cli"))
            .args(args)
            .arg("--state-dir")
            .arg(dir)
            .env("KEEL_SIM_LATENCY", latency)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads output until a line satisfies `want`.
    fn wait_for(&mut self, want: impl Fn(&str) -> bool) {
        for line in self.lines.by_ref() {
            let line = line.expect("read output");
            let found = want(&line);
            self.seen.push(line);
            if found {
                return;
            }
        }
        panic!("the run ended first:\n{}", self.seen.join("\n"));
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; returns the code, all of stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        for line in self.lines.by_ref() {
            self.seen.push(line.expect("read output"));
        }
        let mut stderr = String::new();
        let mut err = self.child.stderr.take().unwrap();
        err.read_to_string(&mut stderr).unwrap();
        let status = self.child.wait().unwrap();
        (status.code(), self.seen.join("\n"), stderr)
    }
}

/// The number before `after` in `text` (`"4 created"`, after = " created").
fn number_before(text: &str, after: &str) -> usize {
    let end = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} in:\n{text}"));
    let digits: String = text[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().unwrap()
}

#[test]
fn ctrl_c_stops_the_cli_with_a_summary_and_the_next_run_finishes() {
    let dir = state_dir();
    let stack = build(&StackOptions::default());
    let mut run = Run::start(dir.path(), "0.05", &["up", "--yes"]);
    run.wait_for(|l| l.contains(": created "));
    run.signal("-INT");
    let (code, out, err) = run.finish();
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert!(out.lines().any(|l| l.starts_with("Interrupted: ")), "{out}");
    assert!(out.contains("\nInterrupted by SIGINT: "), "{out}");
    assert!(out.contains("Not started:"), "{out}");
    assert!(out.contains("Run `up` again to finish."), "{out}");
    let done = number_before(&out, " done, 0 failed or skipped");
    assert_eq!(number_before(&out, " abandoned."), 0, "{out}");
    assert!(load(dir.path(), stack.name()).pending_operations.is_empty());

    let (code, out, err) = Run::start(dir.path(), "0", &["up", "--yes"]).finish();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(!out.contains("warning: a previous run"), "{out}");
    assert_eq!(
        number_before(&out, " created,") + done,
        stack.len(),
        "{out}"
    );

    let (code, out, _) = Run::start(dir.path(), "0", &["preview"]).finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_leaves_the_call_in_flight_pending() {
    let dir = state_dir();
    let stack = build(&StackOptions::default());
    // A NAT gateway takes 12 s: far longer than the test waits.
    let mut run = Run::start(dir.path(), "0.1", &["up", "--yes"]);
    run.wait_for(|l| l.contains("NatGateway") && l.ends_with("creating..."));
    run.signal("-INT");
    run.wait_for(|l| l.starts_with("Interrupted: waiting"));
    run.signal("-INT");
    let (code, out, err) = run.finish();
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert!(!out.contains("Interrupted by SIGINT:"), "no summary: {out}");
    assert!(err.contains("stopping at once"), "{err}");
    let state = load(dir.path(), stack.name());
    assert!(
        state
            .pending_operations
            .iter()
            .any(|p| p.urn.type_token() == NAT && p.operation == "create"),
        "{state:?}"
    );
}

#[test]
fn sigterm_before_the_apply_exits_143_and_changes_nothing() {
    let dir = state_dir();
    let stack = build(&StackOptions::default());
    // A preview never applies: a signal while it reads the cloud (a read
    // takes 200 ms at AWS speed) ends it at once.
    let (code, out, _) = Run::start(dir.path(), "0", &["up", "--yes"]).finish();
    assert_eq!(code, Some(0), "{out}");
    let before = load(dir.path(), stack.name());
    let mut run = Run::start(dir.path(), "1", &["preview"]);
    run.wait_for(|l| l.starts_with("Previewing stack"));
    run.signal("-TERM");
    let (code, out, err) = run.finish();
    assert_eq!(code, Some(143), "{out}\n{err}");
    assert!(err.contains("Interrupted by SIGTERM"), "{err}");
    assert_eq!(load(dir.path(), stack.name()), before);
}
