//! Renders a [`Plan`] for people (symbols, property changes, summary line)
//! and for programs (one JSON document).

use super::{Action, Plan, PropertyChange};
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

/// The plan as text: one line per resource that changes, with its property
/// changes, then a summary line.
///
/// ```no_run
/// # fn show(plan: &keel::plan::Plan) {
/// print!("{}", keel::plan::render_text(plan));
/// # }
/// ```
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let width = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Same)
        .map(|s| s.urn.type_token().len())
        .max()
        .unwrap_or(0);
    for step in plan.steps.iter().filter(|s| s.action != Action::Same) {
        let note = match step.action {
            Action::Replace if step.delete_before_replace => "  (delete before create)",
            Action::Replace => "  (create before delete)",
            Action::Delete if step.old.as_ref().is_some_and(|o| o.pending_delete) => {
                "  (replaced earlier)"
            }
            _ => "",
        };
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
    if !s.has_changes() {
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
/// `{"stack", "steps": [{"urn", "type", "action", …}], "summary": {…}}`.
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
            step
        })
        .collect();
    json!({
        "stack": plan.stack,
        "steps": steps,
        "summary": plan.summary(),
    })
}
