//! `cargo xtask <task>`: the project's own automation.
//!
//! - `ci`: what CI runs — formatting, clippy with warnings as errors, the
//!   test suite (`cargo test --workspace`, the README's command), and the
//!   example end to end on the simulator (up, up again with no changes,
//!   destroy).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root()?;
    match task.as_str() {
        "ci" => ci(&root),
        _ => {
            eprintln!("usage: cargo xtask ci");
            bail!("unknown task `{task}`")
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
    eprintln!("+ cargo {}", args.join(" "));
    let out = Command::new(env!("CARGO"))
        .args(args)
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
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    cargo(root, &["test", "--workspace"])?;
    example_end_to_end(root)?;
    eprintln!("ci: all checks passed");
    Ok(())
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
