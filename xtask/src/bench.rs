//! `cargo xtask bench`: the benchmarks, each printing figures (tests assert
//! behaviour, never times). `keel-bench` (release build, no AWS SDK) times
//! `keel::testing` over generated stacks of 1,000 and 10,000 resources next
//! to the peers' figures; then the user's test file of the example stack
//! (`tests/user_private_ecs.rs`) is built and its run timed on its own.

use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

pub fn run(root: &Path) -> Result<()> {
    super::cargo(root, &["run", "--release", "--quiet", "-p", "keel-bench"])?;
    user_test_file(root)
}

/// Builds `tests/user_private_ecs.rs` (dev profile, as `cargo test` does),
/// then runs its binary three times and prints the best wall time.
fn user_test_file(root: &Path) -> Result<()> {
    let args = [
        "test",
        "--workspace",
        "--test",
        "user_private_ecs",
        "--no-run",
    ];
    eprintln!("+ cargo {}", args.join(" "));
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(root)
        .output()
        .context("building the user test file")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success(),
        "cargo test --no-run failed:\n{stderr}"
    );
    // "  Executable user_private_ecs.rs (/…/debug/deps/user_private_ecs-…)"
    let binary = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Executable user_private_ecs.rs ("))
        .and_then(|l| l.strip_suffix(')'))
        .with_context(|| format!("cargo didn't name the test binary:\n{stderr}"))?;
    let mut best = f64::MAX;
    let mut tests = String::new();
    for _ in 0..3 {
        let start = Instant::now();
        let run = Command::new(root.join(binary))
            .current_dir(root.join("tests"))
            .output()?;
        best = best.min(start.elapsed().as_secs_f64());
        anyhow::ensure!(run.status.success(), "the user test file failed");
        let stdout = String::from_utf8_lossy(&run.stdout).to_string();
        tests = stdout
            .lines()
            .find(|l| l.starts_with("test result"))
            .unwrap_or_default()
            .to_string();
    }
    println!(
        "\nthe user's test file of the example stack (tests/user_private_ecs.rs, dev build, after compilation):"
    );
    println!("  best of 3: {:.0} ms wall time ({tests})", best * 1000.0);
    Ok(())
}
