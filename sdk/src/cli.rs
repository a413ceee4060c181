//! The command line every keel program gets from [`run`]: `preview`, `up`,
//! `destroy`, `check`, `refresh`, `adopt`, `import` and `state` (`verify`,
//! `backups`, `restore`), with `--yes`, `--json`, `--parallel N`,
//! `--state-dir DIR`, `--skip-checks` and `--provider`. `preview` and `up` run
//! the pre-deploy checks first and stop on errors. With no subcommand it previews and applies on the simulator
//! without asking. This module owns argument parsing, confirmation, and
//! printing (progress lines, summaries, JSON documents); the work is the
//! engine's. Signals (Ctrl-C) are `signals`'.

mod adopt;
mod report;
mod signals;

use crate::engine::{
    ApplyReport, DEFAULT_GRACE, Drift, EngineError, Event, EventSink, Outcome, RefreshReport,
    RetryPolicy,
};
use crate::ops::{self, blocking::block_on};
use crate::plan::{Action, Plan, SENSITIVE, render_json, render_text};
use crate::provider::Provider;
use crate::provider::sim::{Faults, SimLatency, SimProvider};
use crate::stack::Stack;
use crate::state::LocalStore;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use signals::Signals;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod state_command;

use report::{Printer, print_drift, print_report, report_json, verb};

/// Where resources are created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProviderKind {
    /// The embedded AWS simulator, persisted under the state directory.
    Sim,
    /// AWS (or an AWS API at `AWS_ENDPOINT_URL`), with the standard
    /// credential chain and region.
    #[cfg(feature = "aws")]
    Aws,
}

#[derive(Parser, Debug)]
#[command(about = "Deploy this keel stack", long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Don't ask for confirmation.
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The most provider calls in flight at once.
    #[arg(long, global = true, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    /// Where state lives (`<DIR>/<stack>/`).
    #[arg(long, global = true, env = "KEEL_STATE_DIR", default_value = ".keel")]
    state_dir: PathBuf,
    /// Where resources are created.
    #[arg(long, global = true, env = "KEEL_PROVIDER", value_enum, default_value_t = ProviderKind::Sim)]
    provider: ProviderKind,
    /// Deploy even if pre-deploy checks find errors.
    #[arg(long, global = true)]
    skip_checks: bool,
    /// Plan against state as recorded, without reading the cloud first.
    #[arg(long, global = true)]
    no_refresh: bool,
    /// Also print the provider's API calls per operation.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    /// After Ctrl-C, how long calls in flight may take to finish before
    /// they are left to the next run.
    #[arg(long, global = true, value_name = "SECS", default_value_t = DEFAULT_GRACE.as_secs())]
    grace_period: u64,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Show what `up` would do.
    Preview,
    /// Create, update and delete resources to match the program.
    Up,
    /// Delete every resource of the stack.
    Destroy,
    /// Run the pre-deploy checks only (no state, no provider calls).
    Check,
    /// Read every resource back from the cloud and record what drifted.
    Refresh,
    /// Take every resource of the program found in the cloud by its
    /// `keel:urn` tag into state (after lost state).
    Adopt,
    /// Take one existing resource into state as a resource of the program.
    Import {
        /// The program's resource, by URN or by `type::name` or name.
        resource: String,
        /// Its cloud id.
        id: String,
    },
    /// Check, list and restore the stack's saved state.
    State {
        #[command(subcommand)]
        command: state_command::StateCommand,
    },
}

/// Runs the command line for `stack` with the process's arguments, printing
/// to stdout, and returns the process exit code. SIGINT, SIGTERM and SIGHUP
/// stop an apply gracefully, then exit 130, 143 or 129 (see `signals`).
///
/// ```no_run
/// use keel::prelude::*;
/// fn main() -> std::process::ExitCode {
///     let mut stack = Stack::new("demo");
///     stack.add("main", Vpc::new("10.0.0.0/16"));
///     keel::cli::run(stack)
/// }
/// ```
pub fn run(stack: Stack) -> ExitCode {
    let mut out = std::io::stdout();
    let code = run_main(&stack, std::env::args_os().collect(), &mut out, true);
    ExitCode::from(code)
}

/// Like [`run`], with explicit arguments (the first is the program name) and
/// output; returns 0 on success, 1 on failure, 2 on bad arguments. Works from
/// `main` and from inside a tokio runtime (the command then runs on a thread
/// of its own). It installs no signal handler.
///
/// ```
/// use keel::prelude::*;
/// let dir = std::env::temp_dir().join(format!("keel-doc-cli-{}", std::process::id()));
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let mut out = Vec::new();
/// let args = ["prog", "preview", "--state-dir", dir.to_str().unwrap()];
/// assert_eq!(keel::cli::run_with(&stack, args, &mut out), 0);
/// assert!(String::from_utf8(out).unwrap().contains("1 to create"));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn run_with<I, T>(stack: &Stack, args: I, out: &mut (dyn Write + Send)) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    run_main(stack, args, out, false)
}

/// [`run_with`], catching signals with `catch`.
fn run_main(stack: &Stack, args: Vec<OsString>, out: &mut (dyn Write + Send), catch: bool) -> u8 {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = write!(out, "{}", e.render());
            return code;
        }
    };
    let printer = Arc::new(Printer::new(args.json, out));
    let signals = Signals::new(std::time::Duration::from_secs(args.grace_period), catch);
    // From `main` or from inside a tokio runtime alike.
    // A panic inside the command is a failed command (exit 1), as it was
    // when the command ran on a thread of its own.
    let run = std::panic::AssertUnwindSafe(|| {
        block_on(|| execute(stack, &args, printer.clone(), &signals))
    });
    let Ok(result) = std::panic::catch_unwind(run) else {
        return 1;
    };
    let result = result.map_err(CliError::from).and_then(|r| r);
    let code = signals.received().map(signals::Signal::exit_code);
    match result {
        Ok(true) => code.unwrap_or(0),
        Ok(false) => code.unwrap_or(1),
        Err(e) => {
            if args.json {
                printer.line(&json!({"stack": stack.name(), "error": e.to_string()}).to_string());
            } else {
                printer.line(&format!("error: {e}"));
            }
            code.unwrap_or(1)
        }
    }
}

/// Failures that stop a command before or between steps.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("could not open the simulator's cloud: {0}")]
    Sim(String),
    #[error("{0}")]
    Refused(String),
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
}

async fn open_provider(args: &Args) -> Result<Arc<dyn Provider>, CliError> {
    match args.provider {
        ProviderKind::Sim => {
            let path = sim_path(&args.state_dir);
            let sim = SimProvider::open(&path, SimLatency::from_env())
                .map_err(|e| CliError::Sim(e.to_string()))?;
            let sim = match Faults::from_env().map_err(CliError::Sim)? {
                Some(faults) => sim.with_faults(faults),
                None => sim,
            };
            Ok(Arc::new(sim))
        }
        #[cfg(feature = "aws")]
        ProviderKind::Aws => {
            let aws = crate::provider::aws::AwsProvider::from_env()
                .await
                .map_err(|e| {
                    CliError::Refused(format!("could not configure the aws provider: {e}"))
                })?;
            Ok(Arc::new(aws))
        }
    }
}

/// How provider calls are retried: AWS's policy, or for the simulator the
/// same waits at its speed (times its latency scale, at least 1 ms).
fn retry_policy(args: &Args) -> RetryPolicy {
    let aws = RetryPolicy::default();
    match args.provider {
        ProviderKind::Sim => {
            let scaled = aws.base.mul_f64(SimLatency::from_env().scale());
            aws.base(scaled.max(std::time::Duration::from_millis(1)))
        }
        #[cfg(feature = "aws")]
        ProviderKind::Aws => aws,
    }
}

/// Where the simulator keeps its cloud: shared by every stack of a state
/// directory, like one AWS account.
pub fn sim_path(state_dir: &Path) -> PathBuf {
    state_dir.join("sim").join("cloud.json")
}

async fn execute(
    stack: &Stack,
    args: &Args,
    printer: Arc<Printer<'_>>,
    signals: &Signals,
) -> Result<bool, CliError> {
    signals.listen()?;
    // The one validation of this command, before the state directory is
    // touched (the stack's name is a path component there).
    let stack = stack.validated().map_err(EngineError::from)?;
    let command = args.command.clone();
    if command == Some(Command::Check) {
        let report = ops::check(stack).map_err(EngineError::from)?;
        if args.json {
            let doc = json!({"stack": stack.name(), "findings": report.findings, "passed": !report.has_errors()});
            printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        } else {
            printer.text(&format!("Checking stack `{}`\n", stack.name()));
            printer.text(report.render_text().trim_end());
        }
        return Ok(!report.has_errors());
    }
    if let Some(Command::State { command }) = &command {
        return state_command::run(stack.name(), args, *command, &printer);
    }
    let store =
        Box::new(LocalStore::open(&args.state_dir, stack.name()).map_err(EngineError::from)?);
    let provider = open_provider(args).await?;
    let options = ops::Options::new()
        .parallel(usize::from(args.parallel))
        .refresh(!args.no_refresh)
        .skip_checks(args.skip_checks)
        .retry(retry_policy(args))
        .events(printer.clone())
        .interrupt(signals.interrupt());
    let verb = match command {
        Some(Command::Destroy) => "Destroying",
        Some(Command::Preview) => "Previewing",
        Some(Command::Refresh) => "Refreshing",
        Some(Command::Adopt) => "Adopting resources into",
        Some(Command::Import { .. }) => "Importing into",
        _ => "Updating",
    };
    printer.text(&format!(
        "{verb} stack `{}` on {}\n",
        stack.name(),
        provider.name()
    ));
    match &command {
        Some(Command::Adopt) => {
            return adopt::adopt(stack, provider, store, &options, &printer).await;
        }
        Some(Command::Import { resource, id }) => {
            return adopt::import(stack, provider, store, &options, &printer, resource, id).await;
        }
        _ => {}
    }
    if command == Some(Command::Refresh) {
        let report = ops::refresh(stack, provider.clone(), store, &options).await?;
        print_drift(&printer, &report);
        if args.json {
            let errors: Vec<Value> = report
                .errors
                .iter()
                .map(|(u, e)| json!({"urn": u.to_string(), "error": e}))
                .collect();
            let doc = json!({"stack": stack.name(), "drift": report.drift, "read": report.read,
                "errors": errors, "api_calls": provider.api_calls()});
            printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        } else if report.drift.is_empty() {
            printer.text(&format!("No drift: {} resources match state.", report.read));
        }
        return Ok(report.errors.is_empty());
    }
    let staged = match command {
        Some(Command::Destroy) => {
            ops::stage_destroy(stack, provider.clone(), store, &options).await?
        }
        _ => ops::stage_up(stack, provider.clone(), store, &options).await?,
    };
    let preview = staged.preview();
    adopt::print_recovered(
        &printer,
        &preview.recovered,
        command == Some(Command::Preview),
    );
    let checks = &preview.checks;
    if !checks.findings.is_empty() {
        printer.text(checks.render_text().trim_end());
        printer.text("");
    }
    if let Some(drift) = &preview.drift {
        print_drift(&printer, drift);
    }
    let plan = &preview.plan;
    if command == Some(Command::Preview) || preview.blocked {
        if args.json {
            let mut doc = render_json(plan);
            doc["findings"] = json!(checks.findings);
            doc["drift"] = json!(preview.drift.as_ref().map(|d| &d.drift));
            doc["recovered"] = json!(preview.recovered);
            printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        } else {
            printer.text(render_text(plan).trim_end());
        }
        if preview.blocked {
            let (errors, _) = checks.counts();
            printer.text(&format!(
                "\nerror: {errors} check(s) failed; nothing was created or changed. Fix them, or pass --skip-checks to deploy anyway."
            ));
            return Ok(false);
        }
        return Ok(true);
    }
    if checks.has_errors() {
        printer.text("warning: deploying despite failed checks (--skip-checks)\n");
    }
    printer.text(render_text(plan).trim_end());
    let changes = plan.summary().has_changes();
    if changes && !confirm(command.as_ref(), plan, args, &printer)? {
        return Err(CliError::Refused("cancelled; nothing was changed".into()));
    }
    if changes {
        printer.text("");
    }
    printer.progress(true);
    signals.applying();
    let started = Instant::now();
    let report = staged.apply().await;
    printer.progress(false);
    let report = report?;
    let Some(applied) = &report.applied else {
        return Ok(false);
    };
    let (plan, checks) = (&report.preview.plan, &report.preview.checks);
    let calls = provider.api_calls();
    if args.json {
        let mut doc = report_json(plan, applied);
        doc["findings"] = json!(checks.findings);
        doc["drift"] = json!(report.preview.drift.as_ref().map(|d| &d.drift));
        doc["recovered"] = json!(report.preview.recovered);
        doc["api_calls"] = json!(calls);
        doc["api_calls_total"] = json!(calls.values().sum::<u64>());
        doc["signal"] = json!(signals.received().map(signals::Signal::name));
        printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_report(&printer, applied, started.elapsed());
        if args.verbose {
            printer.text(&format!(
                "\nAPI calls ({} in all):",
                calls.values().sum::<u64>()
            ));
            for (op, n) in &calls {
                printer.text(&format!("    {op:<48} {n}"));
            }
        }
        if let Some(signal) = signals.received() {
            let command = if plan.destroy { "destroy" } else { "up" };
            signals::print_summary(&printer, signal, command, applied);
        }
    }
    Ok(report.succeeded() && applied.unmet.is_empty())
}

fn confirm(
    command: Option<&Command>,
    plan: &Plan,
    args: &Args,
    printer: &Printer<'_>,
) -> Result<bool, CliError> {
    // Destroy always asks; `up` asks when real resources are at stake (not
    // on the simulator).
    let real = args.provider != ProviderKind::Sim;
    if args.yes || !(command == Some(&Command::Destroy) || real) {
        return Ok(true);
    }
    let s = plan.summary();
    let what = if command == Some(&Command::Destroy) {
        format!("delete {} resources", s.delete)
    } else {
        format!(
            "create {}, update {}, replace {} and delete {} resources",
            s.create, s.update, s.replace, s.delete
        )
    };
    if args.json || !std::io::stdin().is_terminal() {
        return Err(CliError::Refused(format!(
            "this would {what} of stack `{}`; pass --yes to confirm when not running interactively",
            plan.stack
        )));
    }
    printer.prompt(&format!(
        "\nThis will {what} of stack `{}`. Type `yes` to confirm: ",
        plan.stack
    ));
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
