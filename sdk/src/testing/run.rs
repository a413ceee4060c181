//! Planning and applying a stack inside a plain `#[test]`: [`plan`] and
//! [`apply`] run against a fresh in-memory simulator and the in-memory
//! state store (no runtime to set up, no network, no files),
//! [`apply_with`] against any provider, and [`deploy`] without asserting
//! success, for tests of failures. The result, [`Deployed`], holds
//! what to assert on: the plan, each resource's typed outputs, the
//! exports, and the simulator's cloud.

use crate::engine::{ApplyReport, Outcome};
use crate::ops::{Options, Preview, UpReport, blocking};
use crate::plan::Plan;
use crate::provider::Provider;
use crate::provider::sim::{SimLatency, SimProvider};
use crate::resource::Resource;
use crate::stack::{Reference, Stack};
use crate::state::{MemoryStore, Snapshot, StateStore};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A simulator for tests: in memory, with no latency.
fn simulator() -> SimProvider {
    SimProvider::in_memory().with_latency(SimLatency::none())
}

/// What `up` would do to `stack` on an empty cloud, with the pre-deploy
/// checks' findings: [`Preview::plan`] and [`Preview::checks`]. Panics on
/// a declaration error, naming it.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let preview = keel::testing::plan(&stack);
/// assert_eq!(preview.plan.summary().create, 1);
/// assert!(preview.checks.findings.is_empty());
/// ```
#[track_caller]
pub fn plan(stack: &Stack) -> Preview {
    let store = Box::new(MemoryStore::new(stack.name()));
    match blocking::preview(stack, Arc::new(simulator()), store, &Options::default()) {
        Ok(preview) => preview,
        Err(e) => panic!("stack {} can't be planned: {e}", stack.name()),
    }
}

/// A stack applied in a test: the report of the `up`, the state it left,
/// and the simulator it ran on (when it did). The next version of the
/// program can be planned or applied against it ([`Deployed::preview`],
/// [`Deployed::apply`]), e.g. to assert that a change replaces nothing.
pub struct Deployed {
    /// What `up` planned and did.
    pub report: UpReport,
    /// The state after it.
    pub state: Snapshot,
    sim: Option<SimProvider>,
    /// Where it went, for the next version of the stack.
    provider: Arc<dyn Provider>,
    store: MemoryStore,
}

impl std::fmt::Debug for Deployed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployed")
            .field("report", &self.report)
            .field("state", &self.state)
            .field("provider", &self.provider.name())
            .finish()
    }
}

impl Deployed {
    /// What `up` would do to this deployment to make it `next` (the
    /// program's next version, same stack name): its plan and checks.
    ///
    /// ```
    /// use keel::testing::*;
    /// let stack = |cidr: &str| {
    ///     let mut stack = Stack::new("demo");
    ///     let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    ///     stack.add("a", Subnet::new(vpc.id(), cidr, "us-east-1a"));
    ///     stack
    /// };
    /// let deployed = apply(&stack("10.0.1.0/24"));
    /// let next = deployed.preview(&stack("10.0.2.0/24"));
    /// let s = next.plan.summary();
    /// assert_eq!((s.replace, s.update, s.same), (1, 0, 1), "a subnet's block can't change in place");
    /// ```
    #[track_caller]
    pub fn preview(&self, next: &Stack) -> Preview {
        let store = Box::new(self.store.clone());
        let options = Options::default();
        match blocking::preview(next, self.provider.clone(), store, &options) {
            Ok(preview) => preview,
            Err(e) => panic!("stack {} can't be planned: {e}", next.name()),
        }
    }

    /// Applies `next` (the program's next version, same stack name) to
    /// this deployment, as `up` would; panics as [`apply`] does.
    ///
    /// ```
    /// use keel::testing::*;
    /// let stack = |tag: &str| {
    ///     let mut stack = Stack::new("demo");
    ///     stack.add("main", Vpc::new("10.0.0.0/16").tag("team", tag));
    ///     stack
    /// };
    /// let v1 = apply(&stack("web"));
    /// let v2 = v1.apply(&stack("api"));
    /// assert_eq!(v2.plan().summary().update, 1);
    /// assert_eq!(v2.sim().api_calls()["CreateVpc"], 1, "updated in place");
    /// ```
    #[track_caller]
    pub fn apply(&self, next: &Stack) -> Deployed {
        let mut deployed = run_up(next, self.provider.clone(), self.store.clone());
        assert_applied(next, &deployed);
        deployed.sim = self.sim.clone();
        deployed
    }

    /// What was planned.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// assert_eq!(keel::testing::apply(&stack).plan().summary().create, 1);
    /// ```
    pub fn plan(&self) -> &Plan {
        &self.report.preview.plan
    }

    /// What applying did (`None` when the checks blocked it).
    pub fn applied(&self) -> Option<&ApplyReport> {
        self.report.applied.as_ref()
    }

    /// The typed outputs of a deployed resource (a handle, or a reference
    /// to it). Panics if it wasn't deployed.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let deployed = keel::testing::apply(&stack);
    /// let out = deployed.outputs(&vpc);
    /// assert!(out.id.as_str().starts_with("vpc-"));
    /// assert_eq!(out.cidr_block, "10.0.0.0/16");
    /// ```
    #[track_caller]
    pub fn outputs<R: Resource>(&self, resource: &impl Reference<R>) -> R::Outputs {
        let urn = resource.target().expect("a resource declared in the stack");
        let Some(state) = self.state.get(urn) else {
            panic!("{} wasn't deployed", urn.name());
        };
        let outputs = serde_json::Value::Object(state.outputs.clone());
        serde_json::from_value(outputs)
            .unwrap_or_else(|e| panic!("{}'s outputs don't read as {}: {e}", urn.name(), R::TYPE))
    }

    /// An export's value, typed. Panics if there is none by that name.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// stack.export("cidr", vpc.cidr_block());
    /// let cidr: String = keel::testing::apply(&stack).export("cidr");
    /// assert_eq!(cidr, "10.0.0.0/16");
    /// ```
    #[track_caller]
    pub fn export<T: DeserializeOwned>(&self, name: &str) -> T {
        let Some(value) = self.state.outputs.get(name) else {
            let names: Vec<&String> = self.state.outputs.keys().collect();
            panic!("no export named {name}; the stack exports {names:?}");
        };
        serde_json::from_value(value.clone()).unwrap_or_else(|e| {
            panic!("export {name} ({value}) doesn't read as the type asked: {e}")
        })
    }

    /// The simulator the stack was applied to ([`apply`] only): its
    /// instances, registrations, tasks, API calls.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let deployed = keel::testing::apply(&stack);
    /// assert_eq!(deployed.sim().api_calls()["CreateVpc"], 1);
    /// ```
    #[track_caller]
    pub fn sim(&self) -> &SimProvider {
        self.sim
            .as_ref()
            .expect("applied with apply_with: no simulator")
    }
}

/// Applies `stack` to a fresh in-memory simulator and state store, as `up`
/// does (checks first). Panics, with the findings or the failed steps, if
/// the checks block it or a step fails.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let deployed = keel::testing::apply(&stack);
/// assert_eq!(deployed.plan().summary().create, 1);
/// ```
#[track_caller]
pub fn apply(stack: &Stack) -> Deployed {
    let sim = simulator();
    let mut deployed = apply_with(stack, Arc::new(sim.clone()));
    deployed.sim = Some(sim);
    deployed
}

/// Applies `stack` with `provider` (a [`super::MockProvider`], a
/// [`super::TestProvider`], a simulator set up by the test) and the
/// in-memory state store. Panics as [`apply`] does.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use std::sync::Arc;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let deployed = keel::testing::apply_with(&stack, Arc::new(SimProvider::in_memory()));
/// assert!(deployed.report.succeeded());
/// ```
#[track_caller]
pub fn apply_with(stack: &Stack, provider: Arc<dyn Provider>) -> Deployed {
    let deployed = deploy(stack, provider);
    assert_applied(stack, &deployed);
    deployed
}

/// Panics, with the findings or the failed steps, unless `deployed` was
/// applied in full.
#[track_caller]
fn assert_applied(stack: &Stack, deployed: &Deployed) {
    let report = &deployed.report;
    if report.preview.blocked {
        panic!(
            "the checks block stack {}:\n{}",
            stack.name(),
            report.preview.checks.render_text()
        );
    }
    let applied = report.applied.as_ref().expect("not blocked");
    if !applied.succeeded() {
        let failed = applied
            .execution
            .outcomes
            .iter()
            .filter_map(|(urn, o)| match o {
                Outcome::Failed { action, error } => Some(format!("\n  {action} {urn}: {error}")),
                _ => None,
            });
        let failed: String = failed.collect();
        panic!("applying stack {} failed:{failed}", stack.name());
    }
}

/// Runs `up` for `stack` with `provider` and the in-memory state store,
/// and returns what happened, failed steps or blocking checks included
/// ([`Deployed::report`]): for tests of how a program fails. Panics only
/// when `up` can't run at all (a declaration error).
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use std::sync::Arc;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0123456789abcdef0", "t3.small")
///     .user_data("#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\n"));
/// stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()));
/// let deployed = keel::testing::deploy(&stack, Arc::new(SimProvider::in_memory()));
/// assert!(deployed.report.preview.blocked, "no route to ECS: the checks stop it");
/// ```
#[track_caller]
pub fn deploy(stack: &Stack, provider: Arc<dyn Provider>) -> Deployed {
    run_up(stack, provider, MemoryStore::new(stack.name()))
}

#[track_caller]
fn run_up(stack: &Stack, provider: Arc<dyn Provider>, store: MemoryStore) -> Deployed {
    let options = Options::default();
    let up = blocking::up(stack, provider.clone(), Box::new(store.clone()), &options);
    let report = up.unwrap_or_else(|e| panic!("stack {} can't be applied: {e}", stack.name()));
    let state = store.clone().load().expect("the in-memory store loads");
    Deployed {
        report,
        state,
        sim: None,
        provider,
        store,
    }
}
