//! Helpers shared by the integration tests: a state directory that cleans up
//! after itself, one-call plan/apply through the public API, and [`moto`], a
//! local AWS API for the aws provider's tests.

use keel::engine::{ApplyOptions, ApplyReport, Deployment};
use keel::plan::Plan;
use keel::provider::Provider;
use keel::state::LocalStore;
use keel::Stack;
use std::path::Path;
use std::sync::Arc;

pub mod moto;

/// A fresh temporary state directory.
pub fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("keel-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// Plans `stack` against its state in `dir`.
pub fn plan(stack: &Stack, provider: Arc<dyn Provider>, dir: &Path) -> Plan {
    let store = LocalStore::open(dir, stack.name()).expect("open state");
    let d = Deployment::open(stack, provider, Box::new(store)).expect("open deployment");
    d.plan().expect("plan")
}

/// Plans and applies `stack`; returns the plan and the report.
pub async fn up(
    stack: &Stack,
    provider: Arc<dyn Provider>,
    dir: &Path,
    parallel: usize,
) -> (Plan, ApplyReport) {
    let store = LocalStore::open(dir, stack.name()).expect("open state");
    let mut d = Deployment::open(stack, provider, Box::new(store)).expect("open deployment");
    let plan = d.plan().expect("plan");
    let report = d
        .apply(&plan, ApplyOptions::default().parallel(parallel))
        .await
        .expect("apply");
    (plan, report)
}

/// Destroys everything `stack`'s state records.
pub async fn destroy(
    stack: &Stack,
    provider: Arc<dyn Provider>,
    dir: &Path,
) -> (Plan, ApplyReport) {
    let store = LocalStore::open(dir, stack.name()).expect("open state");
    let mut d = Deployment::open(stack, provider, Box::new(store)).expect("open deployment");
    let plan = d.plan_destroy();
    let report = d
        .apply(&plan, ApplyOptions::default())
        .await
        .expect("destroy");
    (plan, report)
}

/// The aws provider pointed at the shared moto server, wiped first, with
/// short waits (moto makes everything available at once).
pub async fn aws_on_fresh_moto() -> keel::provider::aws::AwsProvider {
    let moto = moto::Moto::shared();
    moto.reset();
    for (k, v) in moto.aws_env() {
        std::env::set_var(k, v);
    }
    keel::provider::aws::AwsProvider::from_env()
        .await
        .expect("configure the aws provider")
        .with_timeouts(keel::provider::aws::Timeouts {
            nat_gateway: std::time::Duration::from_secs(60),
            capacity: std::time::Duration::from_secs(60),
            endpoint: std::time::Duration::from_secs(60),
            poll: std::time::Duration::from_millis(200),
        })
}
