//! The crash harness (`cargo xtask crash-test`): runs the example stack as a
//! separate process and kills it at every crash point of `up` in turn (after
//! each begin record, after each provider call returned but before its end
//! record, after each end record; see `KEEL_CRASH_AT` in `keel::engine`)
//! and at random times, then runs `up` again and checks that it converged
//! (a further preview plans nothing), that the cloud holds exactly the
//! program's resources (no orphans, no two with one `keel:urn` tag), that
//! both instances registered (simulator), and that `destroy` leaves the
//! cloud empty. Prints a table; exits 1 if any point failed.
//!
//! ```text
//! crash-test [--all | --every N] [--random N] [--signal kill|int] [--provider sim|aws]
//! KEEL_CRASH_TEST_PROGRAM=1 crash-test <cli args>   # the example's command line
//! ```

use anyhow::{Context, Result, bail};
use keel::Stack;
use keel::engine::{CRASH_AT_ENV, CRASH_SIGNAL_ENV};
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::{LocalStore, StateStore};
use keel::testing::{Audit, audit, audit_sim};
use keel_examples::stacks::private_ecs::{Options, build};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use keel_tests::moto;

/// How long `up` waits for the instances to register (the simulator
/// registers them at once; moto never does).
const TIMEOUT_ENV: &str = "KEEL_CRASH_TEST_REGISTRATION_SECS";
/// Set when the harness runs itself as the program under test.
const PROGRAM_ENV: &str = "KEEL_CRASH_TEST_PROGRAM";

fn stack() -> Stack {
    let secs = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    // 0 (moto, which runs no ECS agents): no waits, so `up` can succeed.
    build(&Options {
        wait: secs > 0,
        registration_timeout: Duration::from_secs(secs),
        service_timeout: Duration::from_secs(secs),
        ..Options::default()
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ProviderKind {
    Sim,
    Aws,
}

struct Config {
    every: usize,
    random: usize,
    signal: &'static str,
    provider: ProviderKind,
}

fn parse(args: &[String]) -> Result<Config> {
    let mut c = Config {
        every: 4,
        random: 2,
        signal: "KILL",
        provider: ProviderKind::Sim,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--all" => c.every = 1,
            "--every" => c.every = value()?.parse()?,
            "--random" => c.random = value()?.parse()?,
            "--signal" => {
                c.signal = match value()?.to_ascii_lowercase().as_str() {
                    "kill" => "KILL",
                    "int" => "INT",
                    other => bail!("--signal kill|int, not {other}"),
                }
            }
            "--provider" => {
                c.provider = match value()?.as_str() {
                    "sim" => ProviderKind::Sim,
                    "aws" => ProviderKind::Aws,
                    other => bail!("--provider sim|aws, not {other}"),
                }
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(c.every.max(1)).map(|every| Config { every, ..c })
}

fn main() -> std::process::ExitCode {
    if std::env::var_os(PROGRAM_ENV).is_some() {
        // The example's command line, signal handling included.
        return keel::cli::run(stack());
    }
    match harness() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn harness() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = parse(&args)?;
    let moto = match config.provider {
        ProviderKind::Aws => Some(moto::Moto::from_env_or_start()?),
        ProviderKind::Sim => None,
    };
    let harness = Harness {
        exe: std::env::current_exe()?,
        moto,
        config,
    };
    harness.run()
}

struct Harness {
    exe: PathBuf,
    moto: Option<moto::Moto>,
    config: Config,
}

/// One trial's result.
struct Row {
    point: String,
    killed: String,
    recovered: usize,
    converged: bool,
    audit: Option<Audit>,
    destroyed: bool,
    error: Option<String>,
}

impl Row {
    fn ok(&self) -> bool {
        self.error.is_none()
            && self.converged
            && self.destroyed
            && self.audit.as_ref().is_some_and(Audit::is_clean)
    }
}

impl Harness {
    fn run(&self) -> Result<()> {
        let started = Instant::now();
        let mut rows = Vec::new();
        // Boundary points: 0, every, 2·every… until a run finishes unkilled.
        let mut n = 0;
        loop {
            let row = self.trial(Kill::At(n))?;
            let Some(row) = row else { break };
            print_row(&row);
            rows.push(row);
            n += self.config.every;
        }
        for i in 0..self.config.random {
            let at = Duration::from_millis(fastrand::u64(200..4000));
            if let Some(row) = self.trial(Kill::After(at, i))? {
                print_row(&row);
                rows.push(row);
            }
        }
        let failed = rows.iter().filter(|r| !r.ok()).count();
        let orphans: usize = rows
            .iter()
            .filter_map(|r| r.audit.as_ref().map(Audit::orphan_count))
            .sum();
        println!(
            "\n{} points on {:?} with SIG{}: {} converged, {failed} failed, {orphans} orphans, in {:.0?}",
            rows.len(),
            self.config.provider,
            self.config.signal,
            rows.len() - failed,
            started.elapsed()
        );
        if failed > 0 {
            bail!("{failed} crash points did not recover");
        }
        Ok(())
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.env(PROGRAM_ENV, "1")
            .args(args)
            .args(["--yes", "--state-dir"])
            .arg(dir)
            .env_remove(CRASH_AT_ENV)
            .env("KEEL_SIM_LATENCY", "0")
            .stdin(Stdio::null());
        if let Some(moto) = &self.moto {
            c.args(["--provider", "aws"]).envs(moto.aws_env());
            c.env(TIMEOUT_ENV, "0");
        }
        c
    }

    fn run_cli(&self, dir: &Path, args: &[&str]) -> Result<(ExitStatus, String)> {
        let out = self.command(dir, args).output()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        Ok((out.status, text))
    }

    /// One crash and recovery; `None` if the run wasn't killed (the point
    /// lies beyond the end of the run).
    fn trial(&self, kill: Kill) -> Result<Option<Row>> {
        if let Some(moto) = &self.moto {
            moto.reset();
        }
        let dir = tempfile::Builder::new().prefix("keel-crash-").tempdir()?;
        let (point, killed) = match kill {
            Kill::At(n) => {
                let out = self
                    .command(dir.path(), &["up"])
                    .env(CRASH_AT_ENV, n.to_string())
                    .env(CRASH_SIGNAL_ENV, self.config.signal)
                    .output()?;
                let stderr = String::from_utf8_lossy(&out.stderr);
                let Some(line) = stderr.lines().find(|l| l.starts_with("keel: crash point")) else {
                    return Ok(None);
                };
                let what = line.split_once(": ").map_or("", |(_, w)| w);
                let what = what.split_once(": ").map_or(what, |(_, w)| w);
                (format!("{n} {what}"), describe(out.status))
            }
            Kill::After(at, i) => {
                let mut child = self
                    .command(dir.path(), &["up"])
                    .env("KEEL_SIM_LATENCY", "0.05")
                    .stdout(Stdio::piped())
                    .spawn()?;
                let stdout = child.stdout.take().context("stdout")?;
                let reader = std::thread::spawn(move || BufReader::new(stdout).lines().count());
                // The kill time is the experiment's variable, not a wait for
                // a condition.
                std::thread::sleep(at);
                let signal = format!("-{}", self.config.signal);
                Command::new("kill")
                    .args([signal.as_str(), &child.id().to_string()])
                    .status()?;
                let status = child.wait()?;
                let _ = reader.join();
                (format!("random #{i} at {at:.1?}"), describe(status))
            }
        };
        let mut row = Row {
            point,
            killed,
            recovered: 0,
            converged: false,
            audit: None,
            destroyed: false,
            error: None,
        };
        if let Err(e) = self.recover(dir.path(), &mut row) {
            row.error = Some(format!("{e:#}"));
        }
        Ok(Some(row))
    }

    fn recover(&self, dir: &Path, row: &mut Row) -> Result<()> {
        let (status, out) = self.run_cli(dir, &["up"])?;
        row.recovered = out.lines().filter(|l| l.starts_with("recovered")).count();
        if !status.success() {
            bail!("rerun failed: {}", last_lines(&out));
        }
        if self.moto.is_none()
            && !out.lines().any(|l| {
                l.trim_start().starts_with("registered_container_instances")
                    && l.trim_end().ends_with(" 2")
            })
        {
            bail!("rerun did not register 2 instances: {}", last_lines(&out));
        }
        let (status, out) = self.run_cli(dir, &["preview"])?;
        row.converged = status.success() && out.contains("No changes.");
        let stack = stack();
        row.audit = Some(self.audit(dir, &stack)?);
        let (status, out) = self.run_cli(dir, &["destroy"])?;
        if !status.success() {
            bail!("destroy failed: {}", last_lines(&out));
        }
        let after = self.audit(dir, &stack)?;
        row.destroyed = after.is_clean()
            && match self.moto {
                None => sim(dir)?.resource_count() == 0,
                Some(_) => true,
            };
        Ok(())
    }

    fn audit(&self, dir: &Path, stack: &Stack) -> Result<Audit> {
        let snapshot = LocalStore::open(dir, stack.name())?.load()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            Ok(match &self.moto {
                None => audit_sim(&sim(dir)?, stack, &snapshot).await?,
                Some(moto) => {
                    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .endpoint_url(moto.endpoint.clone())
                        .region(aws_config::Region::new("us-east-1"))
                        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                            "testing", "testing", None, None, "moto",
                        ))
                        .load()
                        .await;
                    let aws = keel::provider::aws::AwsProvider::from_config(&conf)?;
                    let aws: &dyn Provider = &aws;
                    audit(aws, stack, &snapshot).await?
                }
            })
        })
    }
}

enum Kill {
    At(usize),
    After(Duration, usize),
}

fn sim(dir: &Path) -> Result<SimProvider> {
    Ok(SimProvider::open(
        &keel::cli::sim_path(dir),
        SimLatency::none(),
    )?)
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(9)) => "SIGKILL".into(),
        (_, Some(s)) => format!("signal {s}"),
        (Some(c), _) => format!("exit {c}"),
        _ => "?".into(),
    }
}

fn last_lines(out: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    lines[lines.len().saturating_sub(6)..].join(" | ")
}

fn print_row(r: &Row) {
    let audit = match &r.audit {
        Some(a) if a.is_clean() => "clean".to_string(),
        Some(a) => format!(
            "{} orphans, {} dup, {} missing",
            a.orphan_count(),
            a.duplicates.len(),
            a.missing.len()
        ),
        None => "-".into(),
    };
    println!(
        "{:<4} {:<58} {:<9} recovered {:<2} converged {:<5} {:<26} destroy-empty {:<5} {}",
        if r.ok() { "ok" } else { "FAIL" },
        truncate(&r.point, 58),
        r.killed,
        r.recovered,
        r.converged,
        audit,
        r.destroyed,
        r.error.as_deref().unwrap_or("")
    );
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}
