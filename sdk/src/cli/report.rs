//! How the command line prints: the [`Printer`] all output goes through
//! (text lines, progress lines from the engine's events, JSON documents),
//! drift, the report of an apply and its JSON form.

use super::*;

pub(super) fn print_drift(printer: &Printer<'_>, report: &RefreshReport) {
    for (urn, e) in &report.errors {
        printer.text(&format!("warning: could not read {urn}: {e}"));
    }
    if report.drift.is_empty() {
        return;
    }
    printer.text("Drift (the cloud differs from state):");
    for d in &report.drift {
        match d {
            Drift::Changed { urn, changes } => {
                printer.text(&format!("  ~ {} {}", urn.type_token(), urn.name()));
                for c in changes {
                    let before = c
                        .before
                        .as_ref()
                        .map_or("(none)".to_string(), |v| v.to_string());
                    let after = c
                        .after
                        .as_ref()
                        .map_or("(none)".to_string(), |v| v.to_string());
                    printer.text(&format!("      {}: {before} => {after}", c.path));
                }
            }
            Drift::Gone { urn, id } => {
                printer.text(&format!(
                    "  - {} {}: {id} was deleted outside keel",
                    urn.type_token(),
                    urn.name()
                ));
            }
        }
    }
    printer.text("");
}

pub(super) fn print_report(
    printer: &Printer<'_>,
    report: &ApplyReport,
    elapsed: std::time::Duration,
) {
    let mut counts = [0usize; 9];
    for (_, o) in &report.execution.outcomes {
        let i = match o {
            Outcome::Done {
                action: Action::Create,
            } => 0,
            Outcome::Done {
                action: Action::Update,
            } => 1,
            Outcome::Done {
                action: Action::Replace,
            } => 2,
            Outcome::Done {
                action: Action::Delete,
            } => 3,
            Outcome::Done {
                action: Action::Same,
            }
            | Outcome::NotStarted {
                action: Action::Same,
            } => 4,
            Outcome::Failed { .. } => 5,
            Outcome::Skipped { .. } => 6,
            Outcome::NotStarted { .. } => 7,
            Outcome::Abandoned { .. } => 8,
        };
        counts[i] += 1;
    }
    let stopped = (report.execution.interrupted)
        .then(|| format!(", {} not started, {} abandoned", counts[7], counts[8]));
    printer.text(&format!(
        "\nResources: {} created, {} updated, {} replaced, {} deleted, {} unchanged, {} failed, {} skipped{}. Duration: {:.1}s",
        counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], stopped.unwrap_or_default(), elapsed.as_secs_f64()
    ));
    if let Some(e) = &report.execution.state_error {
        printer.text(&format!("error: {e}"));
    }
    for w in &report.warnings {
        printer.text(&format!("warning: {w}"));
    }
    let outputs = shown_outputs(report);
    if !outputs.is_empty() {
        printer.text("\nOutputs:");
        let width = outputs.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, v) in &outputs {
            printer.text(&format!("    {k:<width$}  {v}"));
        }
    }
    if !report.unmet.is_empty() {
        printer.text(&format!(
            "\nerror: applied, but {} did not reach what the program waits for (see the warnings above)",
            report
                .unmet
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// The exported outputs as printed: secret ones as `[sensitive]`.
pub(super) fn shown_outputs(report: &ApplyReport) -> serde_json::Map<String, Value> {
    let mut outputs = report.outputs.clone();
    for name in &report.secret_outputs {
        if let Some(v) = outputs.get_mut(name) {
            *v = Value::String(SENSITIVE.to_string());
        }
    }
    outputs
}

pub(super) fn report_json(plan: &Plan, report: &ApplyReport) -> Value {
    let steps: Vec<Value> = report
        .execution
        .outcomes
        .iter()
        .map(|(urn, o)| match o {
            Outcome::Done { action } => {
                json!({"urn": urn.to_string(), "action": action, "status": "done"})
            }
            Outcome::Failed { action, error } => json!({
                "urn": urn.to_string(), "action": action, "status": "failed",
                "error": {"code": error.code(), "message": error.message},
            }),
            Outcome::Skipped { action, blocked_by } => json!({
                "urn": urn.to_string(), "action": action, "status": "skipped",
                "blocked_by": blocked_by.to_string(),
            }),
            Outcome::NotStarted { action } | Outcome::Abandoned { action } => {
                json!({"urn": urn.to_string(), "action": action, "status": signals::status(o)})
            }
        })
        .collect();
    json!({
        "stack": plan.stack,
        "succeeded": report.succeeded(),
        "summary": plan.summary(),
        "steps": steps,
        "outputs": shown_outputs(report),
        "warnings": report.warnings,
        "unmet": report.unmet,
        "provider_calls": report.execution.provider_calls,
        "state_error": report.execution.state_error,
        "interrupted": report.execution.interrupted,
    })
}

/// All output goes through here: text lines (suppressed with `--json`),
/// progress lines while a run is in progress, and JSON documents.
pub(super) struct Printer<'w> {
    pub(super) json: bool,
    progress: std::sync::atomic::AtomicBool,
    out: Mutex<&'w mut (dyn Write + Send)>,
}

impl<'w> Printer<'w> {
    pub(super) fn new(json: bool, out: &'w mut (dyn Write + Send)) -> Self {
        Self {
            json,
            progress: std::sync::atomic::AtomicBool::new(false),
            out: Mutex::new(out),
        }
    }

    pub(super) fn line(&self, s: &str) {
        if let Ok(mut out) = self.out.lock() {
            // Output errors (a closed pipe) must not stop a deployment.
            let _ = writeln!(out, "{s}");
            let _ = out.flush();
        }
    }

    pub(super) fn text(&self, s: &str) {
        if !self.json {
            self.line(s);
        }
    }

    pub(super) fn prompt(&self, s: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = write!(out, "{s}");
            let _ = out.flush();
        }
    }

    pub(super) fn progress(&self, on: bool) {
        self.progress.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

pub(super) fn verb(action: Action, done: bool) -> &'static str {
    match (action, done) {
        (Action::Create, false) => "creating",
        (Action::Create, true) => "created",
        (Action::Update, false) => "updating",
        (Action::Update, true) => "updated",
        (Action::Replace, false) => "creating replacement",
        (Action::Replace, true) => "created replacement",
        (Action::Delete, false) => "deleting",
        (Action::Delete, true) => "deleted",
        (Action::Same, _) => "unchanged",
    }
}

impl EventSink for Printer<'_> {
    fn event(&self, event: &Event) {
        if self.json || !self.progress.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let line = match event {
            Event::Started { urn, action } => {
                format!(
                    "  {:<3} {} {}: {}...",
                    action.symbol(),
                    urn.type_token(),
                    urn.name(),
                    verb(*action, false)
                )
            }
            Event::Finished {
                urn,
                action,
                id,
                elapsed,
            } => format!(
                "  {:<3} {} {}: {} {id} ({:.1}s)",
                action.symbol(),
                urn.type_token(),
                urn.name(),
                verb(*action, true),
                elapsed.as_secs_f64()
            ),
            Event::Failed {
                urn,
                action,
                error,
                elapsed,
            } => format!(
                "  {:<3} {} {}: {} FAILED ({:.1}s): {error}",
                "x",
                urn.type_token(),
                urn.name(),
                verb(*action, false),
                elapsed.as_secs_f64()
            ),
            Event::Retained { urn, id } => format!(
                "  {:<3} {} {}: removed from state, {id} retained in the cloud",
                Action::Delete.symbol(),
                urn.type_token(),
                urn.name(),
            ),
            Event::Skipped {
                urn,
                action,
                blocked_by,
            } => format!(
                "  {:<3} {} {}: {} skipped, blocked by the failure of {}",
                "!",
                urn.type_token(),
                urn.name(),
                action,
                blocked_by.name()
            ),
            Event::Interrupted { .. } | Event::Abandoned { .. } => {
                signals::event_line(event).unwrap_or_default()
            }
        };
        self.line(&line);
    }
}
