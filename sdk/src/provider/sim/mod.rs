//! The embedded AWS simulator, [`SimProvider`]: an in-process model of the
//! EC2, Auto Scaling, IAM and ECS behaviour keel manages, with AWS-shaped
//! ids, AWS's validation rules and error codes, per-operation latency, and
//! the ECS registration rule keel exists for (an instance joins its cluster
//! only if it can reach the regional ECS endpoint, decided by the same
//! `analysis::reach` rules the pre-deploy checks use).
//!
//! This file owns the provider: the [`Provider`] impl (each call handed to
//! `dispatch` by the URN's type token), API-call accounting, latency waits,
//! polling, keeping a file-backed cloud in step with the file, and
//! inspection for tests and examples.
//!
//! A cloud in a file is shared: every API call, reads included, runs under
//! the file's OS lock on the cloud as the file has it (reloaded if another
//! handle or process saved since), brings time-driven state up to date,
//! and saves if anything but the clock changed, so stacks that share one
//! state directory never overwrite each other and a deleting group finishes
//! being deleted whoever looks next (see `store`). The clock never runs
//! backwards: a handle that loads a cloud whose clock is ahead of its own
//! runs on from there.
//! `dispatch` owns what every type's handlers share (the create, update and
//! delete flows, reads and searches by tag, retagging, delete-if-present).
//! The model is in `cloud` (the account: its list of tables, clock, and
//! errors by kind), `table` (the record store, life cycles, and the
//! reference index dependency checks use) and the concept modules:
//! `network` (VPCs, subnets), `gateways` (internet and NAT gateways, Elastic
//! IPs), `routing`, `security`, `acls` (network ACLs), `endpoints` (interface
//! VPC endpoints), `launch_templates`, `compute` (Auto Scaling groups and
//! instances), `iam` and `ecs`, `elb` (load balancers, listeners) and
//! `target_groups`, `task_definitions`, `capacity_providers`,
//! `ecs_services`, each with its types' `Simulated` steps; `tasks` runs
//! services' tasks as time passes (placement, image pulls) and
//! `target_health` registers them as targets and decides their health;
//! `model` translates the cloud into the shared network model.
//!
//! Each resource type's handler makes the AWS API calls a careful provider
//! would (a delete detaches an internet gateway first, a failed step of a
//! create rolls back what it made), and each call is counted by its AWS name.
//! Registration with ECS is evaluated lazily: whenever the cloud is read or
//! changed, running instances whose agent isn't registered yet try again.
//!
//! A handle can inject faults ([`Faults`], module `faults`): each provider
//! call asks the handle's fault plan first, which may refuse it with a
//! transient or permanent AWS error, or let it take effect and lose the
//! answer; `KEEL_SIM_FAULTS` ([`FAULTS_ENV`]) sets one for the command line.

mod acls;
mod capacity_providers;
mod cloud;
mod compute;
mod dispatch;
mod ecs;
mod ecs_services;
mod elb;
mod endpoints;
mod faults;
mod gateway_endpoints;
mod gateways;
mod iam;
mod latency;
mod launch_templates;
mod main_route_tables;
mod model;
mod network;
mod outside;
#[cfg(test)]
mod queues;
mod routes;
mod routing;
mod security;
mod store;
mod table;
mod target_groups;
mod target_health;
mod task_definitions;
mod tasks;
#[cfg(test)]
mod tests;

pub use compute::SimInstance;
pub use faults::{FAULTS_ENV, Faults};
pub use latency::{LATENCY_ENV, SimLatency};
pub use outside::OutsideKind;
pub use store::SimStoreError;
pub use target_health::SimTarget;

use super::*;
use crate::analysis::network::Model;
use crate::analysis::reach::Blocked;
use crate::resource::InstanceId;
use cloud::{Clock, Cloud, DEFAULT_REGION};
use latency::Op;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The embedded AWS simulator.
///
/// Clones share one simulated cloud, so a test can keep a handle to inspect
/// the cloud after handing another to the engine.
///
/// ```
/// use keel::provider::sim::{SimLatency, SimProvider};
/// let sim = SimProvider::in_memory().with_latency(SimLatency::none());
/// let inspector = sim.clone();
/// assert_eq!(inspector.resource_count(), 0);
/// assert_eq!(inspector.region(), "us-east-1");
/// ```
#[derive(Clone)]
pub struct SimProvider {
    inner: Arc<Inner>,
    latency: SimLatency,
    /// This handle's faults (clones made after `with_faults` share them).
    faults: Option<Arc<Mutex<faults::Plan>>>,
}

struct Inner {
    state: Mutex<State>,
    path: Option<PathBuf>,
    /// tokio's clock when the simulator opened; the cloud's clock is
    /// `base_ms` plus the time elapsed since.
    epoch: Instant,
}

struct State {
    cloud: Cloud,
    calls: BTreeMap<String, u64>,
    /// The cloud's clock at `epoch` (moved on when a reloaded cloud's clock
    /// is ahead).
    base_ms: u64,
    /// The file the cloud is shared through, if any.
    file: Option<store::Shared>,
}

/// Whether an AWS API name is read-only (`Describe*`, `Get*`, `List*`).
fn is_read_only(api: &str) -> bool {
    ["Describe", "Get", "List"]
        .iter()
        .any(|p| api.starts_with(p))
}

/// A cloud as loaded from its file (a new one if there is none), with what
/// older versions didn't save filled in.
fn loaded(cloud: Option<Cloud>) -> Cloud {
    let mut cloud = cloud.unwrap_or_else(|| Cloud::new(DEFAULT_REGION));
    cloud.backfill_network_acls();
    cloud.backfill_main_associations();
    cloud
}

/// The result of one look at something that completes over time.
enum Poll<T> {
    /// Done.
    Ready(T),
    /// Not yet; look again at this time on the cloud's clock.
    At(u64),
}

impl SimProvider {
    /// A simulator whose cloud lives in memory only, with no latency.
    pub fn in_memory() -> Self {
        Self::with_cloud(Cloud::new(DEFAULT_REGION), None, SimLatency::none())
    }

    /// A simulator whose cloud is saved at `path` after every mutating call
    /// and loaded from it if it exists. A file that can't be read or parsed
    /// is an error (it is never silently replaced).
    ///
    /// Every handle opened on one file (in this process or another) sees
    /// the others' changes: each call takes the file's lock and works on
    /// the cloud as saved last.
    pub fn open(path: &Path, latency: SimLatency) -> Result<Self, SimStoreError> {
        let (file, cloud) = store::Shared::open(path)?;
        let sim = Self::with_cloud(loaded(cloud), Some(path.to_path_buf()), latency);
        sim.lock().file = Some(file);
        Ok(sim)
    }

    fn with_cloud(cloud: Cloud, path: Option<PathBuf>, latency: SimLatency) -> Self {
        let base_ms = cloud.clock_ms;
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    cloud,
                    calls: BTreeMap::new(),
                    base_ms,
                    file: None,
                }),
                path,
                epoch: Instant::now(),
            }),
            latency,
            faults: None,
        }
    }

    /// This handle with faults injected into its calls, drawn from
    /// `faults`'s seed (other clones keep theirs; clones of this one share
    /// the draws).
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = Some(Arc::new(Mutex::new(faults::Plan::new(faults))));
        self
    }

    /// The faults this handle injected so far, by kind (`server`,
    /// `throttling`, `timeout`, `consistency`, `permanent`).
    pub fn faults_injected(&self) -> BTreeMap<String, u64> {
        let plan = self.faults.as_ref();
        plan.map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).injected())
            .unwrap_or_default()
    }

    /// Runs provider call `call` of `urn`, whose request names `named`,
    /// through this handle's faults.
    async fn faulty<T>(
        &self,
        call: faults::Call,
        urn: &Urn,
        named: &[&str],
        run: impl std::future::Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let verdict = match &self.faults {
            Some(plan) => {
                let mut plan = plan.lock().unwrap_or_else(|e| e.into_inner());
                plan.before(call, urn, named)
            }
            None => faults::Verdict::Pass,
        };
        match verdict {
            faults::Verdict::Refuse(e) => Err(e),
            faults::Verdict::LoseAnswer => {
                run.await?;
                Err(faults::timeout(urn, call))
            }
            faults::Verdict::Pass => run.await,
        }
    }

    /// This handle with different latency (other clones keep theirs).
    pub fn with_latency(mut self, latency: SimLatency) -> Self {
        self.latency = latency;
        self
    }

    /// The latency of this handle's calls.
    pub fn latency(&self) -> SimLatency {
        self.latency
    }

    /// The simulated region, `us-east-1` unless a loaded cloud says otherwise.
    pub fn region(&self) -> String {
        self.lock().cloud.region.clone()
    }

    /// The file the cloud is saved in, if any.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// How many times each AWS API was called through this simulator (all
    /// clones), by AWS name (`CreateVpc`, `DescribeNatGateways`…). Counts
    /// are not persisted.
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        self.lock().calls.clone()
    }

    /// How many calls changed something (every API but `Describe*`, `Get*`
    /// and `List*`).
    pub fn mutating_calls(&self) -> u64 {
        let state = self.lock();
        let calls = state.calls.iter();
        calls
            .filter(|(k, _)| !is_read_only(k))
            .map(|(_, n)| n)
            .sum()
    }

    /// How many resources exist, instances included. What AWS makes along
    /// with a VPC (main route table, default security group, default network
    /// ACL) doesn't count, so a fully destroyed stack leaves 0.
    pub fn resource_count(&self) -> usize {
        self.peek(|c| c.resource_counts().values().sum())
    }

    /// How many resources of each type exist, by type token (instances as
    /// `aws:ec2:Instance`); types with none are left out.
    pub fn resource_counts(&self) -> BTreeMap<String, usize> {
        self.peek(|c| c.resource_counts())
    }

    /// How many container instances are registered with cluster `name` now.
    pub fn registered_instances(&self, cluster_name: &str) -> u64 {
        self.peek(|c| c.registered_count(cluster_name))
    }

    /// How many of the container instances registered with cluster `name`
    /// have a connected agent now (they reach `ecs-agent` too).
    pub fn connected_instances(&self, cluster_name: &str) -> u64 {
        self.peek(|c| c.connected_count(cluster_name))
    }

    /// Every instance, with its state and ECS registration.
    pub fn instances(&self) -> Vec<SimInstance> {
        self.peek(|c| c.instance_summaries())
    }

    /// Each Auto Scaling group's last failed scaling activity, by group
    /// name (what DescribeScalingActivities shows as its status message):
    /// why it launches no instance. Groups whose last launch worked are
    /// left out.
    pub fn scaling_failures(&self) -> BTreeMap<String, String> {
        self.peek(|c| {
            let groups = c.groups.values();
            groups
                .filter_map(|g| Some((g.name.clone(), g.activity_error.clone()?)))
                .collect()
        })
    }

    /// For each instance, whether it can reach the regional `ecs` endpoint
    /// over HTTPS now: the path hop by hop, or where and why it is blocked
    /// (decided by [`reach_service`](crate::analysis::reach::reach_service)
    /// on [`network_model`](Self::network_model)).
    pub fn instance_reachability(&self) -> Vec<(InstanceId, Result<Vec<String>, Blocked>)> {
        self.peek(|c| {
            let model = c.network_model();
            let instances = c.instances.values();
            instances
                .map(|i| {
                    (
                        InstanceId::new(&i.id),
                        ecs::instance_reach(i, &model, "ecs"),
                    )
                })
                .collect()
        })
    }

    /// The cloud's network as the shared reachability [`Model`]: keys are
    /// cloud ids, labels the logical names of keel's `keel:urn` tags (else
    /// the ids). What the simulator decides registration on, for comparing
    /// with the pre-deploy analysis.
    pub fn network_model(&self) -> Model {
        self.peek(|c| c.network_model())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic elsewhere mid-call; the model is
        // plain data and every operation validates before it mutates.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cloud's time now: this handle's own clock, unless the cloud's
    /// (saved by another handle) is ahead, in which case this handle's
    /// clock moves on to it first.
    fn clock(&self, base_ms: &mut u64, cloud: &Cloud) -> Clock {
        let elapsed = u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let own = base_ms.saturating_add(elapsed);
        if cloud.clock_ms > own {
            *base_ms += cloud.clock_ms - own;
        }
        Clock {
            now: own.max(cloud.clock_ms),
            latency: self.latency,
        }
    }

    /// Looks at the (up-to-date) cloud without making an API call.
    fn peek<T>(&self, f: impl FnOnce(&Cloud) -> T) -> T {
        self.peek_mut(|c| f(c))
    }

    /// Like [`peek`](Self::peek), for lookups that need `&mut` access (no
    /// API call, nothing saved). A cloud file that can't be reloaded leaves
    /// the copy in memory; the next API call reports why.
    fn peek_mut<T>(&self, f: impl FnOnce(&mut Cloud) -> T) -> T {
        let mut state = self.lock();
        let state = &mut *state;
        if let Some(file) = &mut state.file
            && let Ok(Some(fresh)) = file.hold().and_then(|mut held| held.changed())
        {
            state.cloud = loaded(fresh);
        }
        let clock = self.clock(&mut state.base_ms, &state.cloud);
        state.cloud.reconcile(&clock);
        f(&mut state.cloud)
    }

    /// One AWS API call named `api`: counted, applied to the up-to-date
    /// cloud (for a cloud in a file: under its lock, reloaded first if
    /// another handle saved since), and saved if anything but the clock
    /// changed — by the call or by time.
    fn api<T>(
        &self,
        api: &str,
        f: impl FnOnce(&mut Cloud, &Clock) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut state = self.lock();
        let state = &mut *state;
        *state.calls.entry(api.to_string()).or_default() += 1;
        let store_error = |e: SimStoreError| ProviderError::internal(e.to_string());
        let mut held = match &mut state.file {
            Some(file) => Some(file.hold().map_err(store_error)?),
            None => None,
        };
        if let Some(held) = &mut held
            && let Some(fresh) = held.changed().map_err(store_error)?
        {
            state.cloud = loaded(fresh);
        }
        let clock = self.clock(&mut state.base_ms, &state.cloud);
        state.cloud.reconcile(&clock);
        let result = f(&mut state.cloud, &clock);
        state.cloud.reconcile(&clock);
        if let Some(mut held) = held
            && let Err(e) = held.save_if_changed(&state.cloud)
        {
            return result.and(Err(store_error(e)));
        }
        result
    }

    /// A read-only call returning a resource's outputs, or `None` if it's gone.
    async fn describe<T>(
        &self,
        api: &str,
        f: impl FnOnce(&Cloud) -> Option<T>,
    ) -> Result<Option<T>, ProviderError> {
        let found = self.api(api, |c, _| Ok(f(c)))?;
        self.pause(Op::Read).await;
        Ok(found)
    }

    /// Sleeps as long as `op` takes at this handle's latency.
    async fn pause(&self, op: Op) {
        let d = self.latency.duration(op);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// Polls with read-only call `api` until `f` is ready, sleeping until the
    /// time it names in between.
    async fn wait_for<T>(
        &self,
        api: &str,
        mut f: impl FnMut(&mut Cloud, &Clock) -> Result<Poll<T>, ProviderError>,
    ) -> Result<T, ProviderError> {
        loop {
            let (poll, now) = self.api(api, |c, clock| Ok((f(c, clock)?, clock.now)))?;
            match poll {
                Poll::Ready(v) => return Ok(v),
                Poll::At(at) => {
                    let ms = at.saturating_sub(now).max(1);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            }
        }
    }
}

impl fmt::Debug for SimProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimProvider")
            .field("path", &self.inner.path)
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Provider for SimProvider {
    fn name(&self) -> &str {
        "sim"
    }

    fn api_calls(&self) -> BTreeMap<String, u64> {
        SimProvider::api_calls(self)
    }

    async fn create(&self, r: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let urn = r.urn.clone();
        let named = faults::strings(&r.inputs);
        let run = dispatch::ops(&urn)?.create(self, r.clone());
        let made = self.faulty(faults::Call::Create, &urn, &named, run).await?;
        if let Some(plan) = &self.faults {
            let mut plan = plan.lock().unwrap_or_else(|e| e.into_inner());
            plan.created(&urn, &made.id);
        }
        Ok(made)
    }

    async fn read(&self, r: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let run = dispatch::ops(&r.urn)?.read(self, &r);
        let outputs = self.faulty(faults::Call::Read, &r.urn, &[], run).await?;
        // The simulator's resources change only through keel, so their
        // configuration is what was recorded.
        Ok(outputs.map(|outputs| ReadResponse {
            inputs: r.inputs,
            outputs,
        }))
    }

    async fn update(&self, r: UpdateRequest) -> Result<Outputs, ProviderError> {
        let urn = r.urn.clone();
        let named = faults::strings(&r.new_inputs);
        let run = dispatch::ops(&urn)?.update(self, r.clone());
        self.faulty(faults::Call::Update, &urn, &named, run).await
    }

    async fn delete(&self, r: DeleteRequest) -> Result<(), ProviderError> {
        let run = dispatch::ops(&r.urn)?.delete(self, &r);
        self.faulty(faults::Call::Delete, &r.urn, &[], run).await
    }

    async fn find_by_tags(&self, r: FindRequest) -> Result<Vec<Found>, ProviderError> {
        let run = dispatch::ops(&r.urn)?.find(self, &r);
        self.faulty(faults::Call::Find, &r.urn, &[], run).await
    }

    async fn settle(&self, r: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let outputs = dispatch::ops(&r.urn)?.settle(self, &r).await?;
        Ok(outputs.map(|outputs| ReadResponse {
            inputs: r.inputs,
            outputs,
        }))
    }
}
