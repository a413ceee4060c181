//! Unit-testing infrastructure in plain Rust tests, and the helpers keel's
//! own tests use. With `use keel::testing::*` and nothing else (it
//! re-exports [`crate::prelude`]):
//!
//! - typed queries over the declared stack, with no deploy
//!   ([`crate::Stack::resources`], [`crate::Stack::get`],
//!   [`crate::Stack::follow`]) and assertions that name what they found
//!   ([`expect`], [`assert_all`], [`assert_any`], [`assert_count`]);
//! - network assertions on the same model as the pre-deploy checks, with
//!   the path hop by hop when they fail ([`assert_reaches`],
//!   [`assert_egress_via_nat`], [`assert_no_public_ip`],
//!   [`assert_not_reachable_from_internet`]);
//! - [`plan`] and [`apply`] on an in-memory simulator and state store,
//!   with typed outputs and exports ([`Deployed`]); [`apply_with`] and
//!   [`deploy`] with any provider, such as a [`MockProvider`] of typed
//!   closures (fake outputs, injected errors);
//! - stable text for `insta` snapshots ([`graph_snapshot`],
//!   [`plan_snapshot`]).
//!
//! ```
//! use keel::testing::*;
//! let mut stack = Stack::new("demo");
//! let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
//! let igw = stack.add("igw", InternetGateway::new().vpc(vpc.id()));
//! let public = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
//! let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
//! stack.add("public", RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id()).associate(public.id()));
//! let eip = stack.add("nat-a", ElasticIp::new());
//! let nat = stack.add("nat-a", NatGateway::public(public.id(), eip.id()));
//! stack.add("private-a", RouteTable::new(vpc.id()).route_to_nat_gateway("0.0.0.0/0", nat.id()).associate(private.id()));
//!
//! // each private subnet's default route goes to a NAT gateway in a public subnet
//! for subnet in stack.resources::<Subnet>().filter(|s| s.name().contains("private")) {
//!     assert_egress_via_nat(&stack, &subnet);
//! }
//! ```
//!
//! For keel's own tests and providers: [`TestProvider`] wraps any
//! provider (usually the simulator), counts calls, tracks how many run at
//! once, can hold calls open for a set time and injects failures chosen by
//! closures (the shape of Pulumi's `deploytest.Provider`), and can stand
//! for a process killed at a chosen call ([`TestProvider::crash_at`]).
//! [`state_conformance`] is the suite every state store passes; [`audit`]
//! compares the cloud with a stack's state (orphans, duplicates).

mod audit;
mod conformance;
mod expect;
mod mock;
#[cfg(test)]
mod mock_tests;
mod network;
#[cfg(test)]
mod network_tests;
mod policy;
#[cfg(test)]
pub(crate) mod queue;
mod run;
mod snapshot;

pub use crate::prelude::*;
pub use audit::{Audit, audit, audit_sim};
pub use conformance::state_conformance;
pub use expect::{assert_all, assert_any, assert_count, expect};
pub use mock::MockProvider;
pub use network::{
    Endpoint, assert_egress_via_nat, assert_no_public_ip, assert_not_reachable_from_internet,
    assert_reaches, egress_via_nat, reaches,
};
pub use policy::{assert_policies, assert_policy};
pub use run::{Deployed, apply, apply_with, deploy, plan};
pub use snapshot::{graph_snapshot, plan_snapshot, redact};

use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, FindRequest, Found, Outputs, Provider,
    ProviderError, ReadRequest, ReadResponse, UpdateRequest,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A provider operation, for failure rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `create`
    Create,
    /// `read`
    Read,
    /// `update`
    Update,
    /// `delete`
    Delete,
    /// `find_by_tags`
    Find,
}

type FailRule = Arc<dyn Fn(&Urn, Op) -> Option<ProviderError> + Send + Sync>;

/// Where a simulated crash stops a mutating call (see
/// [`TestProvider::crash_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// After its begin record, before the call reaches the cloud.
    BeforeCall,
    /// After the call took effect in the cloud, before its result is
    /// recorded.
    AfterCall,
}

/// Fires when a [`TestProvider::crash_at`] crash point is reached.
#[derive(Clone, Debug, Default)]
pub struct Crash {
    hit: Arc<tokio::sync::Notify>,
    fired: Arc<std::sync::atomic::AtomicBool>,
}

impl Crash {
    /// Waits until the crash point is reached; the run should then be
    /// dropped, as a killed process stops.
    pub async fn reached(&self) {
        let notified = self.hit.notified();
        if self.fired.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }

    /// Whether the crash point was reached.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.hit.notify_waiters();
    }
}

#[derive(Clone, Debug)]
struct CrashPlan {
    at: usize,
    point: CrashPoint,
    seen: Arc<AtomicUsize>,
    crash: Crash,
}

/// Wraps a provider with counters, a concurrency gauge, a per-call delay and
/// failure injection.
///
/// ```
/// use keel::testing::{Op, TestProvider};
/// use keel::provider::{sim::SimProvider, ProviderError};
/// let p = TestProvider::new(SimProvider::in_memory())
///     .fail_when(|urn, op| (urn.name() == "broken" && op == Op::Create)
///         .then(|| ProviderError::new("InjectedFailure", "as the test asked")));
/// assert_eq!(p.calls(Op::Create), 0);
/// ```
#[derive(Clone)]
pub struct TestProvider {
    inner: Arc<dyn Provider>,
    fail: Option<FailRule>,
    delay: Duration,
    counts: Arc<[AtomicUsize; 5]>,
    current: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    crash: Option<CrashPlan>,
}

impl std::fmt::Debug for TestProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProvider")
            .field("inner", &self.inner.name())
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl TestProvider {
    /// Wraps `inner`.
    pub fn new(inner: impl Provider + 'static) -> Self {
        Self::wrap(Arc::new(inner))
    }

    /// Wraps a shared provider.
    pub fn wrap(inner: Arc<dyn Provider>) -> Self {
        Self {
            inner,
            fail: None,
            delay: Duration::ZERO,
            counts: Arc::new(Default::default()),
            current: Arc::new(AtomicUsize::new(0)),
            max: Arc::new(AtomicUsize::new(0)),
            crash: None,
        }
    }

    /// Stands for a process killed at the `n`th mutating call (0-based, in
    /// the order calls start): that call stops at `point` and never
    /// returns, and the returned [`Crash`] fires. Dropping the run then
    /// leaves state and cloud as a kill at that moment would.
    ///
    /// ```
    /// use keel::testing::{CrashPoint, TestProvider};
    /// use keel::provider::sim::SimProvider;
    /// let (provider, crash) = TestProvider::new(SimProvider::in_memory()).crash_at(3, CrashPoint::AfterCall);
    /// assert!(!crash.fired());
    /// # let _ = provider;
    /// ```
    pub fn crash_at(mut self, n: usize, point: CrashPoint) -> (Self, Crash) {
        let crash = Crash::default();
        self.crash = Some(CrashPlan {
            at: n,
            point,
            seen: Arc::new(AtomicUsize::new(0)),
            crash: crash.clone(),
        });
        (self, crash)
    }

    /// Runs mutating call `call`, unless it is the one a crash stops.
    async fn mutate<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let Some(plan) = &self.crash else {
            return call.await;
        };
        if plan.seen.fetch_add(1, Ordering::SeqCst) != plan.at {
            return call.await;
        }
        if plan.point == CrashPoint::AfterCall {
            // The call's effect happens; its answer is lost.
            let _ = call.await;
        }
        plan.crash.fire();
        std::future::pending().await
    }

    /// Fails the calls for which `rule` returns an error (without calling
    /// the wrapped provider).
    pub fn fail_when(
        mut self,
        rule: impl Fn(&Urn, Op) -> Option<ProviderError> + Send + Sync + 'static,
    ) -> Self {
        self.fail = Some(Arc::new(rule));
        self
    }

    /// Holds every mutating call open for `delay` (on tokio's clock), so
    /// concurrency is observable.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Calls of `op` so far.
    pub fn calls(&self, op: Op) -> usize {
        self.counts[op as usize].load(Ordering::SeqCst)
    }

    /// Create, update and delete calls so far.
    pub fn mutating_calls(&self) -> usize {
        self.calls(Op::Create) + self.calls(Op::Update) + self.calls(Op::Delete)
    }

    /// The most mutating calls that were in flight at once.
    pub fn max_concurrent(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    async fn enter(&self, urn: &Urn, op: Op) -> Result<Gauge, ProviderError> {
        self.counts[op as usize].fetch_add(1, Ordering::SeqCst);
        if let Some(e) = self.fail.as_ref().and_then(|f| f(urn, op)) {
            return Err(e);
        }
        if matches!(op, Op::Read | Op::Find) {
            return Ok(Gauge(None));
        }
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        let gauge = Gauge(Some(self.current.clone()));
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        Ok(gauge)
    }
}

/// Decrements the in-flight gauge when a call ends, however it ends.
struct Gauge(Option<Arc<AtomicUsize>>);

impl Drop for Gauge {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl Provider for TestProvider {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn create(&self, request: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let _g = self.enter(&request.urn, Op::Create).await?;
        self.mutate(self.inner.create(request)).await
    }
    async fn read(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let _g = self.enter(&request.urn, Op::Read).await?;
        self.inner.read(request).await
    }
    async fn update(&self, request: UpdateRequest) -> Result<Outputs, ProviderError> {
        let _g = self.enter(&request.urn, Op::Update).await?;
        self.mutate(self.inner.update(request)).await
    }
    async fn delete(&self, request: DeleteRequest) -> Result<(), ProviderError> {
        let _g = self.enter(&request.urn, Op::Delete).await?;
        self.mutate(self.inner.delete(request)).await
    }
    async fn find_by_tags(&self, request: FindRequest) -> Result<Vec<Found>, ProviderError> {
        let _g = self.enter(&request.urn, Op::Find).await?;
        self.inner.find_by_tags(request).await
    }
    async fn settle(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let _g = self.enter(&request.urn, Op::Read).await?;
        self.inner.settle(request).await
    }
    fn api_calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.inner.api_calls()
    }
}
