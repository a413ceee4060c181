//! Renders a [`Plan`] for people (symbols, property changes, lifecycle
//! guards, summary line) and for programs (one JSON document).

use super::guards::state_only;
use super::{Action, Plan, PropertyChange, Step};
use serde_json::{Value, json};
use std::fmt::Write;

fn show(v: &Option<Value>) -> String {
    match v {
        None => "null".into(),
        Some(v) => v.to_string(),
    }
}

fn change_line(c: &PropertyChange) -> String {
    let (symbol, body) = match (&c.before, c.after_unknown, &c.after) {
        (None, true, _) => ("+", format!("{}: (known after apply)", c.path)),
        (Some(_), true, _) => (
            "~",
            format!("{}: {} => (known after apply)", c.path, show(&c.before)),
        ),
        (None, false, after) => ("+", format!("{}: {}", c.path, show(after))),
        (Some(_), false, None) => ("-", format!("{}: {}", c.path, show(&c.before))),
        (Some(_), false, after) => (
            "~",
            format!("{}: {} => {}", c.path, show(&c.before), show(after)),
        ),
    };
    let forces = if c.forces_replacement {
        "  # forces replacement"
    } else {
        ""
    };
    format!("      {symbol} {body}{forces}")
}

/// What a step's line says after the name: how it is carried out, and its
/// guards (`[protect, ignore_changes(tags)]`).
fn step_note(step: &Step) -> String {
    let retain = step.guards.retain_on_delete;
    let mut note = match step.action {
        Action::Replace if step.delete_before_replace => "  (delete before create".to_string(),
        Action::Replace => "  (create before delete".to_string(),
        Action::Delete if retain => "  (retained in the cloud: dropped from state only".to_string(),
        Action::Delete if step.old.as_ref().is_some_and(|o| o.pending_delete) => {
            "  (replaced earlier".to_string()
        }
        _ => String::new(),
    };
    if step.action == Action::Replace && retain {
        note.push_str("; the old one is retained in the cloud");
    }
    if let Some(changes) = state_only(step) {
        note = format!("  (state only: {}", changes.join(", "));
    }
    if !note.is_empty() {
        note.push(')');
    }
    let labels = step.guards.labels();
    if step.action != Action::Delete && !labels.is_empty() {
        note.push_str(&format!("  [{}]", labels.join(", ")));
    }
    note
}

/// The plan as text: one line per resource that changes (in the cloud, or
/// only in the guards state records), with its property changes and
/// guards, then a summary line.
///
/// ```no_run
/// # fn show(plan: &keel::plan::Plan) {
/// print!("{}", keel::plan::render_text(plan));
/// # }
/// ```
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let shown = |s: &&Step| s.action != Action::Same || state_only(s).is_some();
    let width = plan
        .steps
        .iter()
        .filter(shown)
        .map(|s| s.urn.type_token().len())
        .max()
        .unwrap_or(0);
    for step in plan.steps.iter().filter(shown) {
        let note = step_note(step);
        let _ = writeln!(
            out,
            "  {:<3} {:<width$}  {}{note}",
            step.action.symbol(),
            step.urn.type_token(),
            step.urn.name(),
        );
        for c in &step.changes {
            let _ = writeln!(out, "{}", change_line(c));
        }
    }
    let s = plan.summary();
    let recorded = plan.guard_updates().count();
    if !s.has_changes() && recorded > 0 {
        let _ = writeln!(
            out,
            "\nNo changes in the cloud. {} resources unchanged, {recorded} with guards to record in state.",
            s.same
        );
    } else if !s.has_changes() {
        let _ = writeln!(out, "No changes. {} resources unchanged.", s.same);
    } else {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
            s.create, s.update, s.replace, s.delete, s.same
        );
    }
    out
}

/// The plan as one JSON document:
/// `{"stack", "steps": [{"urn", "type", "action", …}], "summary": {…}}`; a
/// step with lifecycle guards has `"guards": {"protect": true, …}`, and one
/// whose only change is to the guards state records has `"state_only"`.
///
/// ```no_run
/// # fn show(plan: &keel::plan::Plan) {
/// let doc = keel::plan::render_json(plan);
/// assert!(doc["summary"]["create"].is_u64());
/// # }
/// ```
pub fn render_json(plan: &Plan) -> Value {
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            let mut step = json!({
                "urn": s.urn.to_string(),
                "type": s.urn.type_token(),
                "name": s.urn.name(),
                "action": s.action,
            });
            if let Some(old) = &s.old {
                step["id"] = json!(old.id);
            }
            if !s.changes.is_empty() {
                step["changes"] = json!(s.changes);
            }
            if s.action == Action::Replace {
                step["delete_before_replace"] = json!(s.delete_before_replace);
            }
            if !s.guards.is_empty() {
                step["guards"] = json!(s.guards);
            }
            if let Some(changes) = state_only(s) {
                step["state_only"] = json!(changes);
            }
            step
        })
        .collect();
    json!({
        "stack": plan.stack,
        "steps": steps,
        "summary": plan.summary(),
    })
}
