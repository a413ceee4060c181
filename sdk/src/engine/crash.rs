//! Crash points: the moments an apply can die that matter for what state
//! and cloud look like afterwards — after a begin record is durable, after
//! a provider call returned but before its end record is written, and after
//! the end record. Each is counted, process-wide, in the order reached.
//!
//! This is instrumentation for keel's crash harness (`cargo xtask
//! crash-test`), off unless `KEEL_CRASH_AT=<n>` is set: at the `n`th point
//! (0-based) the process prints `keel: crash point <n>: <what>` to stderr and
//! kills itself with `SIGKILL` (or `KEEL_CRASH_SIGNAL=INT` sends itself
//! `SIGINT` and goes on, to test graceful interruption).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable naming the crash point.
pub const CRASH_AT_ENV: &str = "KEEL_CRASH_AT";
/// The environment variable naming the signal (`KILL`, default, or `INT`).
pub const CRASH_SIGNAL_ENV: &str = "KEEL_CRASH_SIGNAL";

static REACHED: AtomicUsize = AtomicUsize::new(0);

fn target() -> Option<usize> {
    static TARGET: OnceLock<Option<usize>> = OnceLock::new();
    *TARGET.get_or_init(|| std::env::var(CRASH_AT_ENV).ok()?.trim().parse().ok())
}

/// Counts a crash point; at the chosen one, the process dies (or is
/// interrupted) here.
pub(crate) fn point(what: impl FnOnce() -> String) {
    let Some(target) = target() else { return };
    if REACHED.fetch_add(1, Ordering::SeqCst) != target {
        return;
    }
    let signal = std::env::var(CRASH_SIGNAL_ENV).unwrap_or_else(|_| "KILL".into());
    eprintln!("keel: crash point {target}: {}", what());
    let pid = std::process::id().to_string();
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status();
    if signal == "KILL" {
        // The signal is on its way; if it could not be sent, die anyway.
        if sent.is_err() {
            std::process::abort();
        }
        loop {
            std::thread::park();
        }
    }
}
