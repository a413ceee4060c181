//! `cargo xtask <task>`: the project's own automation.
//!
//! - `ci`: what CI runs — formatting, clippy with warnings as errors, the
//!   test suite (`cargo test --workspace`, the README's command) against one
//!   moto server started for it (`KEEL_MOTO_ENDPOINT`), and the example end
//!   to end on the simulator (up, up again with no changes, destroy).
//! - `emulator start|stop`: a moto server that outlives xtask, for running
//!   tests or examples against it by hand (see `emulator.rs`).
//! - `bench`: the benchmarks (see `bench.rs`); they print figures.
//! - `crash-test [--all | --every N] [--random N] [--signal kill|int]
//!   [--provider aws]`: kills the example's `up` at its crash points and at
//!   random times and checks that the next run recovers (the harness is
//!   `tests/crash/main.rs`); CI runs a sample.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

mod bench;
mod emulator;
// The tests crate's moto harness, compiled here too so xtask shares it
// without depending on keel (and so without building the AWS SDK first).
#[allow(dead_code)] // the test-only helpers (reset, aws_env, query…)
#[path = "../../tests/support/moto.rs"]
mod moto;

const USAGE: &str = "usage: cargo xtask <ci | bench | emulator start | emulator stop | crash-test [--all | --every N] [--random N] [--signal kill|int] [--provider sim|aws]>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root()?;
    match args.as_slice() {
        ["ci"] => ci(&root),
        ["bench"] => bench::run(&root),
        ["emulator", "start"] => emulator::start(),
        ["emulator", "stop"] => emulator::stop(),
        ["crash-test", rest @ ..] => crash_test(&root, rest),
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown task `{}`", args.join(" "))
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(dir
        .parent()
        .context("xtask lives inside the workspace")?
        .to_path_buf())
}

fn cargo(root: &Path, args: &[&str]) -> Result<String> {
    cargo_with_env(root, args, &[])
}

/// Runs cargo with extra environment variables; prints and returns stdout.
fn cargo_with_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    eprintln!("+ cargo {}", args.join(" "));
    let out = Command::new(env!("CARGO"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .output()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("cargo {} failed with {}", args.join(" "), out.status);
    }
    Ok(stdout)
}

fn ci(root: &Path) -> Result<()> {
    cargo(root, &["fmt", "--all", "--", "--check"])?;
    // Clippy builds dependencies in check mode; keeping those artifacts in a
    // directory of their own stops them from confusing later doctest builds.
    let clippy_dir = moto::target_dir().join("clippy");
    let clippy_dir = clippy_dir.to_str().context("utf-8 target path")?;
    cargo_with_env(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[("CARGO_TARGET_DIR", clippy_dir)],
    )?;
    test_against_moto(root)?;
    example_end_to_end(root)?;
    // A sample of the crash sweep: every 6th crash point and one random
    // kill, on the simulator.
    crash_test(root, &["--every", "6", "--random", "1"])?;
    eprintln!("ci: all checks passed");
    Ok(())
}

/// `cargo test --workspace` with one moto server for all test processes
/// (their `Moto::shared()` uses `KEEL_MOTO_ENDPOINT`), stopped afterwards
/// whether the tests pass or not. The server is tied to this process: it also
/// goes away if xtask is killed.
fn test_against_moto(root: &Path) -> Result<()> {
    let moto = moto::Moto::from_env_or_start().context("starting moto for the tests")?;
    eprintln!("ci: tests use moto at {}", moto.endpoint);
    let tests = cargo_with_env(
        root,
        &["test", "--workspace"],
        &[(moto::ENDPOINT_VAR, &moto.endpoint)],
    );
    drop(moto);
    tests.map(drop)
}

/// The crash harness with `args` (see `tests/crash/main.rs`).
fn crash_test(root: &Path, args: &[&str]) -> Result<()> {
    let mut cmd = vec![
        "run",
        "--quiet",
        "-p",
        "keel-tests",
        "--bin",
        "crash-test",
        "--",
    ];
    cmd.extend_from_slice(args);
    cargo(root, &cmd).map(drop)
}

/// The README's first command, on a fresh state directory: it must create
/// the stack and register both instances, then find nothing to change, then
/// destroy everything.
fn example_end_to_end(root: &Path) -> Result<()> {
    let state = root.join("target").join("xtask-example-state");
    if state.exists() {
        std::fs::remove_dir_all(&state).context("clearing the example's state")?;
    }
    let dir = state.to_str().context("utf-8 path")?;
    let base = ["run", "--quiet", "--example", "private_ecs", "--"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        v.extend_from_slice(&["--state-dir", dir]);
        v
    };
    let first = cargo(root, &with(&[]))?;
    if !first.lines().any(|l| {
        l.trim_start().starts_with("registered_container_instances") && l.trim_end().ends_with(" 2")
    }) {
        bail!("the example did not report 2 registered container instances");
    }
    let second = cargo(root, &with(&[]))?;
    if !second.contains("No changes.") {
        bail!("running the example again planned changes");
    }
    cargo(root, &with(&["destroy", "--yes"]))?;
    // The tutorial's mistake must be stopped by the checks, with the fix.
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--example",
            "private_ecs_broken",
            "--",
            "preview",
            "--state-dir",
            dir,
        ])
        .current_dir(root)
        .output()
        .context("running private_ecs_broken")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if out.status.success()
        || !text.contains("error[E001]")
        || !text.contains("fix: route 0.0.0.0/0")
    {
        bail!("private_ecs_broken was not stopped by the checks with a fix");
    }
    std::fs::remove_dir_all(&state).context("removing the example's state")?;
    Ok(())
}
