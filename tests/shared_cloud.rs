//! Two stacks in one state directory share the simulator's cloud, as two
//! stacks share one AWS account: deployed at the same time, through two
//! simulator handles in one process or by two processes running the
//! command line, each keeps every one of its resources.

use keel::Stack;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::provider::{FindRequest, Provider};
use keel::state::{LocalStore, StateStore};
use keel_examples::stacks::private_ecs::{Options, build};
use keel_tests::{state_dir, up};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// The example stack named `name`.
fn stack(name: &str) -> Stack {
    build(&Options {
        stack: name.into(),
        ..Options::default()
    })
}

/// Every resource `stack`'s state in `dir` records exists in the cloud at
/// `dir`, found by its ownership tag exactly once with its recorded id.
async fn keeps_everything(dir: &Path, stack: &Stack) {
    let cloud = SimProvider::open(&keel::cli::sim_path(dir), SimLatency::none()).unwrap();
    let state = LocalStore::open(dir, stack.name()).unwrap().load().unwrap();
    assert_eq!(state.resources.len(), stack.len(), "{}", stack.name());
    for r in &state.resources {
        let found = cloud
            .find_by_tags(FindRequest { urn: r.urn.clone() })
            .await
            .unwrap();
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, [r.id.as_str()], "{}", r.urn);
    }
}

/// Resources per type in the cloud at `dir`.
fn counts(dir: &Path) -> BTreeMap<String, usize> {
    let cloud = SimProvider::open(&keel::cli::sim_path(dir), SimLatency::none()).unwrap();
    cloud.resource_counts()
}

/// What one stack alone leaves in a cloud, per type, times `n`.
async fn alone_times(n: usize) -> BTreeMap<String, usize> {
    let dir = state_dir();
    let sim = SimProvider::open(&keel::cli::sim_path(dir.path()), SimLatency::none()).unwrap();
    let (_, report) = up(&stack("alone"), Arc::new(sim), dir.path(), 10).await;
    assert!(report.succeeded(), "{report:?}");
    counts(dir.path())
        .into_iter()
        .map(|(t, c)| (t, c * n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stacks_deployed_at_once_through_two_handles_keep_all_their_resources() {
    let dir = state_dir();
    let path = keel::cli::sim_path(dir.path());
    let (a, b) = (stack("a"), stack("b"));
    let open = || Arc::new(SimProvider::open(&path, SimLatency::none()).unwrap());
    let ((_, ra), (_, rb)) = tokio::join!(
        up(&a, open(), dir.path(), 10),
        up(&b, open(), dir.path(), 10)
    );
    assert!(ra.succeeded() && rb.succeeded(), "{ra:?}\n{rb:?}");
    keeps_everything(dir.path(), &a).await;
    keeps_everything(dir.path(), &b).await;
    assert_eq!(counts(dir.path()), alone_times(2).await);
}

/// The environment variable that makes [`child_up`] run `up` for a stack.
const CHILD_STACK: &str = "KEEL_TEST_CHILD_STACK";
/// Its state directory.
const CHILD_DIR: &str = "KEEL_TEST_CHILD_DIR";

/// Run by [`two_processes_deploying_two_stacks_keep_all_their_resources`]
/// in child processes: `up` of the stack the environment names, through the
/// command line (a program of its own, in its own process).
#[test]
#[ignore = "a child process of two_processes_deploying_two_stacks_keep_all_their_resources"]
fn child_up() {
    let name = std::env::var(CHILD_STACK).expect("run by the parent test");
    let dir = std::env::var(CHILD_DIR).expect("run by the parent test");
    let mut out = Vec::new();
    let args = ["prog", "up", "--yes", "--state-dir", &dir];
    let code = keel::cli::run_with(&stack(&name), args, &mut out);
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn two_processes_deploying_two_stacks_keep_all_their_resources() {
    let dir = state_dir();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            Command::new(&exe)
                .args(["child_up", "--exact", "--ignored", "--nocapture"])
                .env(CHILD_STACK, name)
                .env(CHILD_DIR, dir.path())
                .env("KEEL_SIM_LATENCY", "0")
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child's `up` failed");
    }
    keeps_everything(dir.path(), &stack("a")).await;
    keeps_everything(dir.path(), &stack("b")).await;
    assert_eq!(counts(dir.path()), alone_times(2).await);
}
