//! The engine: opens a stack's state, plans, executes plans through a
//! provider, reads exported outputs and compacts the journal into the
//! snapshot. [`Deployment`] is the entry point programs and tests use; the
//! drain loop lives in `executor`, progress events in `events`, how
//! provider calls are retried in `retry`, the handle that stops a run in
//! `interrupt`.

mod adopt;
mod crash;
mod events;
mod executor;
mod interrupt;
mod recover;
mod refresh;
mod retry;

pub use adopt::{AdoptError, Adopted, Adoption, Unrecorded};
pub use crash::{CRASH_AT_ENV, CRASH_SIGNAL_ENV};
pub use events::{Event, EventLog, EventSink, NullSink};
pub use executor::{Execution, Outcome};
pub use interrupt::{DEFAULT_GRACE, Interrupt};
pub use recover::{Recovered, Recovery, RecoveryError};
pub use refresh::{Drift, RefreshReport};
pub use retry::RetryPolicy;

use crate::plan::{Plan, plan, plan_destroy};
use crate::provider::{Provider, ProviderError, ReadRequest};
use crate::stack::{DeclarationErrors, Export, Stack, ValidStack};
use crate::state::{StateError, StateStore};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// Why the engine could not run at all (as opposed to steps that failed,
/// which an [`Execution`] reports).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The program's declaration is invalid; nothing was called.
    #[error("the stack's declaration is invalid:\n{0}")]
    Declaration(#[from] DeclarationErrors),
    /// State could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// No plan could be made (a refused change, unserializable inputs).
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// An operation a previous run left unfinished could not be reconciled
    /// with the cloud; nothing was planned.
    #[error(transparent)]
    Recovery(Box<RecoveryError>),
    /// State records nothing but the cloud holds the program's resources.
    #[error("{0}")]
    Unrecorded(Unrecorded),
    /// A resource could not be adopted or imported.
    #[error(transparent)]
    Adopt(Box<AdoptError>),
    /// The async runtime a blocking call needs could not start.
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl From<RecoveryError> for EngineError {
    fn from(e: RecoveryError) -> Self {
        EngineError::Recovery(Box::new(e))
    }
}

impl From<AdoptError> for EngineError {
    fn from(e: AdoptError) -> Self {
        EngineError::Adopt(Box::new(e))
    }
}

/// Options of [`Deployment::apply`].
///
/// ```
/// use keel::engine::{ApplyOptions, Interrupt};
/// let stop = Interrupt::new();
/// let opts = ApplyOptions::default().parallel(4).interrupt(stop.clone());
/// assert_eq!(opts.parallel, 4);
/// stop.interrupt(); // from elsewhere: the run stops starting steps
/// assert!(opts.interrupt.is_interrupted());
/// ```
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// The most provider calls in flight at once.
    pub parallel: usize,
    /// How failed provider calls are retried.
    pub retry: RetryPolicy,
    /// Stops the run starting steps when triggered (see [`Interrupt`]).
    pub interrupt: Interrupt,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            parallel: 10,
            retry: RetryPolicy::default(),
            interrupt: Interrupt::new(),
        }
    }
}

impl ApplyOptions {
    /// Sets the bound on concurrent provider calls (at least 1).
    pub fn parallel(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// Sets how failed provider calls are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Stops the run when `interrupt` is triggered: no further step
    /// starts, calls in flight get its grace period to finish and are
    /// recorded, those still running then are abandoned (left pending in
    /// state for the next run to reconcile), and the report says which
    /// steps were not started.
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }
}

/// What reading the exports after `up` found.
#[derive(Debug, Default)]
struct Exports {
    outputs: Map<String, Value>,
    warnings: Vec<String>,
    unmet: Vec<String>,
}

/// The result of [`Deployment::apply`].
#[derive(Debug)]
pub struct ApplyReport {
    /// What happened to each step.
    pub execution: Execution,
    /// The stack's exported values (only after a successful `up`).
    pub outputs: Map<String, Value>,
    /// The names of exported values that are secret (exported from a
    /// [`crate::Output::secret`] or derived from one): the command line
    /// shows them as `[sensitive]`.
    pub secret_outputs: Vec<String>,
    /// Problems reading exports (e.g. a probe's bounded wait ran out).
    pub warnings: Vec<String>,
    /// Exports whose probe didn't reach its minimum in time (each also has
    /// a warning saying what it read): the stack was applied but doesn't do
    /// what the program expects, so `up` exits non-zero.
    pub unmet: Vec<String>,
}

impl ApplyReport {
    /// Whether every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.execution.succeeded()
    }

    /// Whether every step succeeded and every probe reached its minimum.
    pub fn met(&self) -> bool {
        self.succeeded() && self.unmet.is_empty()
    }
}

/// A stack bound to a provider and its state: plan, apply, destroy.
///
/// ```
/// use keel::prelude::*;
/// use keel::engine::{ApplyOptions, Deployment};
/// use keel::provider::sim::SimProvider;
/// use keel::state::LocalStore;
/// use std::sync::Arc;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("keel-doc-deploy-{}", std::process::id()));
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let store = LocalStore::open(&dir, stack.name()).unwrap();
/// let mut deployment = Deployment::open(&stack, Arc::new(SimProvider::in_memory()), Box::new(store)).unwrap();
/// let plan = deployment.plan().unwrap();
/// assert_eq!(plan.summary().create, 1);
/// let report = deployment.apply(&plan, ApplyOptions::default()).await.unwrap();
/// assert!(report.succeeded());
/// assert_eq!(deployment.plan().unwrap().summary().same, 1);
/// # drop(deployment); std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// ```
pub struct Deployment<'a> {
    stack: &'a Stack,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    snapshot: crate::state::Snapshot,
    events: Arc<dyn EventSink + 'a>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Deployment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("stack", &self.stack.name())
            .field("provider", &self.provider.name())
            .field("serial", &self.snapshot.serial)
            .finish_non_exhaustive()
    }
}

impl<'a> Deployment<'a> {
    /// Validates `stack` and loads its state. Fails, before any provider
    /// call and without touching state, if either is invalid.
    pub fn open(
        stack: &'a Stack,
        provider: Arc<dyn Provider>,
        store: Box<dyn StateStore + 'a>,
    ) -> Result<Self, EngineError> {
        Self::open_valid(stack.validated()?, provider, store)
    }

    /// Like [`Deployment::open`] for a stack validated already.
    pub fn open_valid(
        stack: ValidStack<'a>,
        provider: Arc<dyn Provider>,
        mut store: Box<dyn StateStore + 'a>,
    ) -> Result<Self, EngineError> {
        let snapshot = store.load()?;
        Ok(Self {
            stack: stack.stack(),
            provider,
            store,
            snapshot,
            events: Arc::new(NullSink),
            retry: RetryPolicy::default(),
        })
    }

    /// Retries failed reads of [`Deployment::refresh`] by `policy`.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sends progress events to `sink`.
    pub fn with_events(mut self, sink: Arc<dyn EventSink + 'a>) -> Self {
        self.events = sink;
        self
    }

    /// The stack being deployed.
    pub fn stack(&self) -> &'a Stack {
        self.stack
    }

    /// The state as recorded so far.
    pub fn snapshot(&self) -> &crate::state::Snapshot {
        &self.snapshot
    }

    /// The provider's name.
    pub fn provider_name(&self) -> &str {
        self.provider.name()
    }

    /// Reads every recorded resource back from the cloud and brings state
    /// in line with it: drifted configuration is recorded as it now is (so
    /// the next plan puts it back), vanished resources are dropped (so the
    /// next plan creates them). With `persist`, the result is written to
    /// state now; without, it is kept in memory, where plans made by this
    /// deployment see it and a later [`Deployment::apply`] records it with
    /// the run's results.
    pub async fn refresh(&mut self, persist: bool) -> Result<RefreshReport, EngineError> {
        let store: Option<&mut dyn StateStore> = if persist {
            Some(&mut *self.store)
        } else {
            None
        };
        let provider = &*self.provider;
        let report = refresh::refresh(provider, &mut self.snapshot, store, &self.retry).await?;
        Ok(report)
    }

    /// Reconciles the operations a previous run began and never finished
    /// with the cloud (see [`Recovered`]). With `persist`, the results are
    /// recorded and the calls recovery needs are made (deleting copies left
    /// by earlier runs, finishing deletes); without, it only reads, and
    /// plans made by this deployment see what `up` would record.
    pub async fn recover(&mut self, persist: bool) -> Result<Vec<Recovered>, EngineError> {
        let store: Option<&mut dyn StateStore> = if persist {
            Some(&mut *self.store)
        } else {
            None
        };
        recover::recover(&*self.provider, &mut self.snapshot, store, self.retry).await
    }

    /// Fails with [`EngineError::Unrecorded`] if state records no resource
    /// but the cloud holds resources tagged as the program's (a lost state
    /// directory): `up` would create second copies.
    pub async fn guard_unrecorded(&self, parallel: usize) -> Result<(), EngineError> {
        let policy = self.retry;
        adopt::guard_unrecorded(&self.provider, self.stack, &self.snapshot, parallel, policy).await
    }

    /// Takes every declared resource that state doesn't record, and that
    /// exactly one live resource carries the tag of, into state (read back
    /// from the cloud), then writes a new snapshot.
    pub async fn adopt(&mut self, parallel: usize) -> Result<Vec<Adopted>, EngineError> {
        let adopted = adopt::adopt(
            &self.provider,
            self.stack,
            &mut self.snapshot,
            &mut *self.store,
            parallel,
            self.retry,
        )
        .await?;
        self.commit()?;
        Ok(adopted)
    }

    /// Takes live resource `id` into state as declared resource `urn` (read
    /// back from the cloud), then writes a new snapshot.
    pub async fn import(
        &mut self,
        urn: &crate::resource::Urn,
        id: &str,
    ) -> Result<(), EngineError> {
        adopt::import(
            &*self.provider,
            self.stack,
            &mut self.snapshot,
            &mut *self.store,
            urn,
            id,
        )
        .await?;
        self.commit()
    }

    /// Writes the state as it now is into a new snapshot (after a
    /// persisted [`Deployment::refresh`] that isn't followed by `apply`).
    pub fn commit(&mut self) -> Result<(), EngineError> {
        self.snapshot.serial += 1;
        self.store.compact(&self.snapshot)?;
        Ok(())
    }

    /// The plan to bring the cloud in line with the program.
    pub fn plan(&self) -> Result<Plan, EngineError> {
        Ok(plan(self.stack, &self.snapshot)?)
    }

    /// The plan to delete everything the stack's state records; refused if
    /// that would delete a protected resource.
    pub fn plan_destroy(&self) -> Result<Plan, EngineError> {
        Ok(plan_destroy(Some(self.stack), &self.snapshot)?)
    }

    /// Executes `plan` (from [`Deployment::plan`] or
    /// [`Deployment::plan_destroy`]), then reads the exports and compacts
    /// the journal into a new snapshot. When `options.interrupt` fires, the
    /// run stops as [`ApplyOptions::interrupt`] says and the state reached
    /// is compacted all the same.
    pub async fn apply(
        &mut self,
        plan: &Plan,
        options: ApplyOptions,
    ) -> Result<ApplyReport, EngineError> {
        let destroying = plan.destroy;
        let execution = executor::execute(
            Some(self.stack),
            plan,
            self.provider.clone(),
            &mut *self.store,
            &mut self.snapshot,
            &options,
            &*self.events,
        )
        .await;
        let mut report = ApplyReport {
            execution,
            outputs: Map::new(),
            secret_outputs: Vec::new(),
            warnings: Vec::new(),
            unmet: Vec::new(),
        };
        if report.execution.state_error.is_none() {
            if destroying || self.snapshot.resources.is_empty() {
                self.snapshot.outputs.clear();
                self.snapshot.secret_outputs.clear();
            } else if report.succeeded() {
                // Probes may wait long; an interrupt keeps the last outputs.
                match options
                    .interrupt
                    .unless_interrupted(self.read_exports())
                    .await
                {
                    Some(exports) => {
                        self.snapshot.outputs = exports.outputs.clone();
                        self.snapshot.secret_outputs = self.stack.secret_exports();
                        report.secret_outputs = self.snapshot.secret_outputs.clone();
                        report.outputs = exports.outputs;
                        report.warnings = exports.warnings;
                        report.unmet = exports.unmet;
                    }
                    None => report.warnings.push(
                        "interrupted while reading the exports; they were not updated".into(),
                    ),
                }
            }
            self.snapshot.serial += 1;
            self.store.compact(&self.snapshot)?;
        }
        Ok(report)
    }

    async fn read_exports(&self) -> Exports {
        let mut exports = Exports::default();
        for (name, export) in &self.stack.exports {
            let value = match export {
                Export::Value(output) => output.resolve_json(&self.snapshot).unwrap_or(Value::Null),
                Export::Probe(probe) => {
                    let value = match self.probe(probe).await {
                        Ok((value, None)) => value,
                        Ok((value, Some(w))) => {
                            exports.warnings.push(format!("export `{name}`: {w}"));
                            exports.unmet.push(name.clone());
                            value
                        }
                        Err(e) => {
                            exports.warnings.push(format!("export `{name}`: {e}"));
                            if probe.at_least.is_some() {
                                exports.unmet.push(name.clone());
                            }
                            Value::Null
                        }
                    };
                    match (probe.as_fraction, probe.at_least, value.as_u64()) {
                        (true, Some(min), Some(v)) => Value::String(format!("{v}/{min}")),
                        _ => value,
                    }
                }
            };
            exports.outputs.insert(name.clone(), value);
        }
        exports
    }

    /// Reads a probe, polling until its minimum is reached or time runs out.
    async fn probe(
        &self,
        probe: &crate::stack::Probe,
    ) -> Result<(Value, Option<String>), ProviderError> {
        let gone = |what: &str| ProviderError::not_found(format!("{} {what}", probe.urn));
        let record = self
            .snapshot
            .get(&probe.urn)
            .ok_or_else(|| gone("is not in state"))?;
        let start = tokio::time::Instant::now();
        let interval =
            (probe.timeout / 50).clamp(Duration::from_millis(20), Duration::from_secs(2));
        loop {
            let outputs = self
                .provider
                .read(ReadRequest {
                    urn: probe.urn.clone(),
                    id: record.id.clone(),
                    inputs: record.inputs.clone(),
                    outputs: record.outputs.clone(),
                })
                .await?
                .ok_or_else(|| gone("no longer exists"))?
                .outputs;
            let value = outputs.get(probe.field).cloned().unwrap_or(Value::Null);
            let reached = match (probe.at_least, value.as_u64()) {
                (None, _) => true,
                (Some(min), Some(v)) => v >= min,
                (Some(_), None) => false,
            };
            if reached {
                return Ok((value, None));
            }
            if start.elapsed() >= probe.timeout {
                let warning = format!(
                    "{} of {} was {value} after waiting {:.1?}; expected at least {}",
                    probe.field,
                    probe.urn,
                    probe.timeout,
                    probe.at_least.unwrap_or(0)
                );
                return Ok((value, Some(warning)));
            }
            tokio::time::sleep(interval).await;
        }
    }
}
