//! The `state` commands: `state verify` checks the stack's state files,
//! `state backups` lists the snapshots kept in `backups/`, and
//! `state restore <serial> [--force]` makes one current again. They read and
//! write state only (no provider calls); the work is
//! [`LocalStore::verify`], [`LocalStore::backups`] and
//! [`LocalStore::restore`].

use super::{Args, CliError, Printer};
use crate::engine::EngineError;
use crate::state::{LocalStore, Severity};
use clap::Subcommand;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// What to do with the stack's saved state.
#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StateCommand {
    /// Check the state files (checksums, readability, schema) and what they
    /// hold (no URN live twice, every resource has an id, no dependency on
    /// a resource state doesn't record); exit status 1 on problems.
    Verify,
    /// List the snapshots kept in backups/, newest first.
    Backups,
    /// Make the kept snapshot SERIAL current again, replaying the journal
    /// over it; what it replaces is kept in backups/ first.
    Restore {
        /// The serial of the snapshot to put back (see `state backups`).
        serial: u64,
        /// Restore even while operations began and never ended, or with a
        /// damaged journal (set aside unreplayed).
        #[arg(long)]
        force: bool,
    },
}

/// Runs `command` on the state of stack `stack`.
pub(super) fn run(
    stack: &str,
    args: &Args,
    command: StateCommand,
    printer: &Printer<'_>,
) -> Result<bool, CliError> {
    let mut store = LocalStore::open(&args.state_dir, stack).map_err(EngineError::from)?;
    match command {
        StateCommand::Verify => {
            let report = store.verify();
            if args.json {
                let doc = json!({"stack": stack, "passed": report.passed(), "serial": report.serial,
                    "resources": report.resources, "problems": report.problems, "unchecked": report.unchecked});
                printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
                return Ok(report.passed());
            }
            printer.text(&format!(
                "Verifying the state of stack `{stack}` in {}",
                store.dir().display()
            ));
            for p in &report.problems {
                let label = if p.severity == Severity::Error {
                    "error: "
                } else {
                    ""
                };
                printer.text(&format!("  {label}{p}"));
            }
            for path in &report.unchecked {
                printer.text(&format!(
                    "  note: {} has no checksum (written by an earlier keel), so it could not be checked; the snapshot gets one at the next compaction",
                    path.display()
                ));
            }
            let errors = report
                .problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            if errors > 0 {
                printer.text(&format!("{errors} problem(s) found; nothing was changed."));
            } else {
                printer.text(&format!(
                    "State is sound: serial {}, {} resources.",
                    report.serial.unwrap_or(0),
                    report.resources
                ));
            }
            Ok(report.passed())
        }
        StateCommand::Backups => {
            let backups = store.backups().map_err(EngineError::from)?;
            let set_aside = store.set_aside().map_err(EngineError::from)?;
            if args.json {
                let doc = json!({"stack": stack, "backups": backups, "set_aside": set_aside});
                printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
                return Ok(true);
            }
            if backups.is_empty() {
                printer.text(&format!(
                    "No snapshots are kept for stack `{stack}` yet (one is kept each time a run saves state)."
                ));
            } else {
                printer.text(&format!(
                    "Snapshots kept for stack `{stack}` in {}, newest first (`state restore <serial>` puts one back):",
                    store.backups_dir().display()
                ));
                printer.text(&format!("  {:>8}  {:<14}  resources", "serial", "written"));
                for b in &backups {
                    let what = match (&b.resources, &b.damage) {
                        (_, Some(damage)) => format!("damaged, can't be restored: {damage}"),
                        (Some(n), None) => n.to_string(),
                        (None, None) => "?".to_string(),
                    };
                    let written = b.written.map_or_else(|| "?".to_string(), ago);
                    printer.text(&format!("  {:>8}  {written:<14}  {what}", b.serial));
                }
            }
            if !set_aside.is_empty() {
                printer.text("Set aside by `state restore` (never pruned; delete them when no longer needed):");
                for path in &set_aside {
                    printer.text(&format!("  {}", path.display()));
                }
            }
            Ok(true)
        }
        StateCommand::Restore { serial, force } => {
            let restored = store.restore(serial, force).map_err(EngineError::from)?;
            if args.json {
                let doc = json!({"stack": stack, "restored": restored});
                printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
                return Ok(true);
            }
            printer.text(&format!(
                "Restored snapshot serial {} of stack `{stack}`; it is now serial {} ({} journal record(s) replayed over it).",
                restored.from, restored.serial, restored.replayed
            ));
            for path in &restored.set_aside {
                printer.text(&format!("  kept what it replaced: {}", path.display()));
            }
            printer.text(
                "Run `refresh` to compare it with the cloud, then `preview` to see what `up` would change.",
            );
            Ok(true)
        }
    }
}

/// How long ago `secs` (since the Unix epoch) was, roughly.
fn ago(secs: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = now.saturating_sub(secs);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86400 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86400),
    }
}
