//! The operations a keel program runs: [`preview`], [`up`], [`destroy`],
//! [`refresh`] and [`check`], as library calls that take the stack, a
//! provider and a state store and return typed reports. The command line
//! (`cli`), tests and any program embedding keel all call these; each
//! validates the stack once ([`IntoValid`]). They are async and work inside
//! any tokio runtime; [`blocking`] has the same operations for code that has
//! none.
//!
//! `up` and `destroy` come in two stages for callers that ask before they
//! change anything: [`stage_up`]/[`stage_destroy`] read and plan, and
//! [`Staged::apply`] carries the plan out.

pub mod blocking;

use crate::analysis;
use crate::engine::{
    Adopted, ApplyOptions, ApplyReport, Deployment, EngineError, EventSink, Interrupt, NullSink,
    Recovered, RefreshReport, RetryPolicy,
};
use crate::plan::Plan;
use crate::provider::Provider;
use crate::stack::{DeclarationErrors, IntoValid};
use crate::state::{PendingOperation, StateStore};
use std::fmt;
use std::sync::Arc;

/// How an operation runs.
///
/// ```
/// let options = keel::ops::Options::new().parallel(4).refresh(false);
/// assert_eq!(options.parallel, 4);
/// assert!(!options.refresh);
/// ```
#[derive(Clone)]
pub struct Options<'a> {
    /// The most provider calls in flight at once (at least 1; default 10).
    pub parallel: usize,
    /// Read every recorded resource from the cloud before planning, so the
    /// plan repairs drift (default on; `destroy` never refreshes).
    pub refresh: bool,
    /// Apply even if the pre-deploy checks find errors (default off).
    pub skip_checks: bool,
    /// How failed provider calls (refresh reads included) are retried.
    pub retry: RetryPolicy,
    events: Arc<dyn EventSink + 'a>,
    interrupt: Interrupt,
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("parallel", &self.parallel)
            .field("refresh", &self.refresh)
            .field("skip_checks", &self.skip_checks)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            parallel: 10,
            refresh: true,
            skip_checks: false,
            retry: RetryPolicy::default(),
            events: Arc::new(NullSink),
            interrupt: Interrupt::new(),
        }
    }
}

impl<'a> Options<'a> {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bounds concurrent provider calls.
    pub fn parallel(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// Whether to read the cloud before planning.
    pub fn refresh(mut self, on: bool) -> Self {
        self.refresh = on;
        self
    }

    /// Whether to apply despite failed checks.
    pub fn skip_checks(mut self, on: bool) -> Self {
        self.skip_checks = on;
        self
    }

    /// Sets how failed provider calls are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sends progress events of the apply to `sink`.
    pub fn events(mut self, sink: Arc<dyn EventSink + 'a>) -> Self {
        self.events = sink;
        self
    }

    /// Stops the apply when `interrupt` fires (see
    /// [`ApplyOptions::interrupt`]); an apply staged after it fired starts
    /// no step.
    ///
    /// ```
    /// use keel::prelude::*;
    /// use keel::engine::{Interrupt, Outcome};
    /// use keel::provider::sim::SimProvider;
    /// use keel::state::MemoryStore;
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let stop = Interrupt::new();
    /// let options = keel::ops::Options::new().interrupt(stop.clone());
    /// let sim = Arc::new(SimProvider::in_memory());
    /// let store = Box::new(MemoryStore::new("demo"));
    /// let staged = keel::ops::stage_up(&stack, sim.clone(), store, &options).await.unwrap();
    /// stop.interrupt(); // e.g. Ctrl-C while the plan is shown
    /// let execution = staged.apply().await.unwrap().applied.unwrap().execution;
    /// assert!(execution.interrupted);
    /// assert!(matches!(execution.outcomes[..], [(_, Outcome::NotStarted { .. })]));
    /// assert_eq!(sim.resource_count(), 0);
    /// # });
    /// ```
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }
}

/// What an operation found before changing anything.
#[derive(Clone, Debug)]
pub struct Preview {
    /// The stack's name.
    pub stack: String,
    /// The provider's name.
    pub provider: String,
    /// Operations a previous run started and never recorded as finished.
    pub interrupted: Vec<PendingOperation>,
    /// What recovery found and did about them, one entry each (in a
    /// preview: what it would record; nothing is written or deleted).
    pub recovered: Vec<Recovered>,
    /// The pre-deploy checks (empty for `destroy`).
    pub checks: analysis::Report,
    /// What a refresh read, if one ran.
    pub drift: Option<RefreshReport>,
    /// What applying would do.
    pub plan: Plan,
    /// Whether the checks found errors and `skip_checks` is off: applying
    /// then changes nothing.
    pub blocked: bool,
}

/// The result of [`up`] or [`destroy`].
#[derive(Debug)]
pub struct UpReport {
    /// What was found and planned.
    pub preview: Preview,
    /// What applying did; `None` when the checks blocked it.
    pub applied: Option<ApplyReport>,
}

impl UpReport {
    /// Whether the plan was applied and every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.applied.as_ref().is_some_and(ApplyReport::succeeded)
    }
}

/// A planned `up` or `destroy`, state open and locked, not yet applied.
pub struct Staged<'a> {
    deployment: Deployment<'a>,
    preview: Preview,
    parallel: usize,
    retry: RetryPolicy,
    interrupt: Interrupt,
}

impl fmt::Debug for Staged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Staged")
            .field("preview", &self.preview)
            .finish_non_exhaustive()
    }
}

impl<'a> Staged<'a> {
    /// The staged run of `deployment`, with what was found and planned.
    #[allow(clippy::too_many_arguments)]
    fn new(
        deployment: Deployment<'a>,
        interrupted: Vec<PendingOperation>,
        recovered: Vec<Recovered>,
        checks: analysis::Report,
        drift: Option<RefreshReport>,
        plan: Plan,
        blocked: bool,
        options: &Options<'_>,
    ) -> Self {
        let preview = Preview {
            stack: deployment.stack().name().to_string(),
            provider: deployment.provider_name().to_string(),
            interrupted,
            recovered,
            checks,
            drift,
            plan,
            blocked,
        };
        Self {
            deployment,
            preview,
            parallel: options.parallel,
            retry: options.retry,
            interrupt: options.interrupt.clone(),
        }
    }

    /// What was found and planned.
    pub fn preview(&self) -> &Preview {
        &self.preview
    }

    /// Carries the plan out (nothing if the checks blocked it).
    pub async fn apply(mut self) -> Result<UpReport, EngineError> {
        if self.preview.blocked {
            return Ok(UpReport {
                preview: self.preview,
                applied: None,
            });
        }
        let options = ApplyOptions::default()
            .parallel(self.parallel)
            .retry(self.retry)
            .interrupt(self.interrupt);
        let applied = self.deployment.apply(&self.preview.plan, options).await?;
        Ok(UpReport {
            preview: self.preview,
            applied: Some(applied),
        })
    }
}

/// Opens state for `stack` (validated once, here) with progress events.
fn open<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<Deployment<'a>, EngineError> {
    Ok(
        Deployment::open_valid(stack.into_valid()?, provider, store)?
            .with_events(options.events.clone())
            .with_retry(options.retry),
    )
}

/// Reads (unless `options.refresh` is off), checks and plans `up`; applies
/// nothing. State is only read.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use keel::state::MemoryStore;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let sim = Arc::new(SimProvider::in_memory());
/// let store = Box::new(MemoryStore::new("demo"));
/// let preview = keel::ops::preview(&stack, sim, store, &Default::default()).await.unwrap();
/// assert_eq!(preview.plan.summary().create, 1);
/// # });
/// ```
pub async fn preview<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<Preview, EngineError> {
    Ok(stage(stack, provider, store, options, false).await?.preview)
}

/// The first stage of [`up`]: recovers what a previous run left unfinished
/// (see [`Recovered`]), refuses to create a second copy of a stack whose
/// state was lost ([`EngineError::Unrecorded`]), reads, checks and plans.
pub async fn stage_up<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<Staged<'a>, EngineError> {
    stage(stack, provider, store, options, true).await
}

/// [`stage_up`], recording recovery with `persist`, else (a preview) only
/// reading.
async fn stage<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
    persist: bool,
) -> Result<Staged<'a>, EngineError> {
    let mut deployment = open(stack, provider, store, options)?;
    let interrupted = deployment.snapshot().pending_operations.clone();
    let checks = analysis::check(deployment.stack());
    let blocked = checks.has_errors() && !options.skip_checks;
    // Blocked runs make no provider call.
    let recovered = if blocked {
        Vec::new()
    } else {
        let recovered = deployment.recover(persist).await?;
        deployment.guard_unrecorded(options.parallel).await?;
        recovered
    };
    // Refreshing reads the cloud; blocked runs make no provider call.
    let drift = if options.refresh && !blocked {
        Some(deployment.refresh(false).await?)
    } else {
        None
    };
    let plan = deployment.plan()?;
    Ok(Staged::new(
        deployment,
        interrupted,
        recovered,
        checks,
        drift,
        plan,
        blocked,
        options,
    ))
}

/// Brings the cloud in line with the program: [`stage_up`] then
/// [`Staged::apply`]. What a refresh read is recorded with the run.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use keel::state::MemoryStore;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// stack.export("vpc", vpc.id());
/// let sim = Arc::new(SimProvider::in_memory());
/// let store = MemoryStore::new("demo");
/// let report = keel::ops::up(&stack, sim, Box::new(store), &Default::default()).await.unwrap();
/// assert!(report.succeeded());
/// assert!(report.applied.unwrap().outputs["vpc"].as_str().unwrap().starts_with("vpc-"));
/// # });
/// ```
pub async fn up<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<UpReport, EngineError> {
    stage_up(stack, provider, store, options)
        .await?
        .apply()
        .await
}

/// The first stage of [`destroy`]: recovers what a previous run left
/// unfinished (so what an interrupted `up` created is deleted too), then
/// plans deleting everything the stack's state records (no checks, no
/// refresh). If state records nothing but the cloud holds the program's
/// resources, fails with [`EngineError::Unrecorded`] (adopt them first).
pub async fn stage_destroy<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<Staged<'a>, EngineError> {
    let mut deployment = open(stack, provider, store, options)?;
    let interrupted = deployment.snapshot().pending_operations.clone();
    let recovered = deployment.recover(true).await?;
    deployment.guard_unrecorded(options.parallel).await?;
    let plan = deployment.plan_destroy()?;
    let checks = analysis::Report::default();
    Ok(Staged::new(
        deployment,
        interrupted,
        recovered,
        checks,
        None,
        plan,
        false,
        options,
    ))
}

/// Deletes every resource the stack's state records, dependents first.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use keel::state::MemoryStore;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let sim = SimProvider::in_memory();
/// let store = MemoryStore::new("demo");
/// let opts = Default::default();
/// keel::ops::up(&stack, Arc::new(sim.clone()), Box::new(store.clone()), &opts).await.unwrap();
/// let report = keel::ops::destroy(&stack, Arc::new(sim.clone()), Box::new(store), &opts).await.unwrap();
/// assert!(report.succeeded());
/// assert_eq!(sim.resource_count(), 0);
/// # });
/// ```
pub async fn destroy<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<UpReport, EngineError> {
    stage_destroy(stack, provider, store, options)
        .await?
        .apply()
        .await
}

/// Reads every recorded resource back and records what drifted or vanished
/// in state, so the next plan repairs it.
pub async fn refresh<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<RefreshReport, EngineError> {
    let mut deployment = open(stack, provider, store, options)?;
    deployment.recover(true).await?;
    let report = deployment.refresh(true).await?;
    deployment.commit()?;
    Ok(report)
}

/// Takes every resource of the program that state doesn't record, and that
/// exactly one live resource carries the `keel:urn` tag of, into state, read
/// back from the cloud: how a stack whose state was lost gets it back.
///
/// ```
/// use keel::prelude::*;
/// use keel::engine::Adoption;
/// use keel::provider::sim::SimProvider;
/// use keel::state::MemoryStore;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let sim = SimProvider::in_memory();
/// let opts = Default::default();
/// keel::ops::up(&stack, Arc::new(sim.clone()), Box::new(MemoryStore::new("demo")), &opts).await.unwrap();
/// // The state is lost: a new, empty store.
/// let store = MemoryStore::new("demo");
/// let adopted = keel::ops::adopt(&stack, Arc::new(sim.clone()), Box::new(store.clone()), &opts).await.unwrap();
/// assert!(matches!(adopted[0].outcome, Adoption::Adopted { .. }));
/// let preview = keel::ops::preview(&stack, Arc::new(sim), Box::new(store), &opts).await.unwrap();
/// assert!(!preview.plan.summary().has_changes());
/// # });
/// ```
pub async fn adopt<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<Vec<Adopted>, EngineError> {
    let mut deployment = open(stack, provider, store, options)?;
    deployment.recover(true).await?;
    deployment.adopt(options.parallel).await
}

/// Takes live resource `id` (made outside keel, or untagged) into state as
/// the program's resource `urn`, read back from the cloud.
pub async fn import<'a>(
    stack: impl IntoValid<'a>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    urn: &crate::resource::Urn,
    id: &str,
    options: &Options<'a>,
) -> Result<(), EngineError> {
    let mut deployment = open(stack, provider, store, options)?;
    deployment.recover(true).await?;
    deployment.import(urn, id).await
}

/// The pre-deploy checks alone: no state, no provider.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// assert!(keel::ops::check(&stack).unwrap().findings.is_empty());
/// ```
pub fn check<'a>(stack: impl IntoValid<'a>) -> Result<analysis::Report, DeclarationErrors> {
    Ok(analysis::check(stack.into_valid()?.stack()))
}
