//! Findings: what analysis and policies report, each with a stable code, a
//! severity, the resource (and the policy, for a policy's findings), the path tried hop by hop, the element that blocks it and a
//! concrete fix; and their rendering as text and JSON.

use super::reach::Code;
use crate::resource::Urn;
use serde::Serialize;
use std::fmt::Write;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Stops `preview` and `up` (unless `--skip-checks`).
    Error,
    /// Shown, doesn't stop anything.
    Warning,
}

/// One problem analysis found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code (`E001`…, `W101`…, `P001`…).
    pub code: Code,
    /// The policy that reported it, for findings of policies
    /// ([`crate::policy::Policy`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Error or warning.
    pub severity: Severity,
    /// The resource the finding is about (the instances' group, a NAT gateway…).
    pub urn: Urn,
    /// The subnet concerned, for findings about instances in one subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// The field of the resource the finding is about, for findings about
    /// one declared reference (`subnet_ids`, `routes`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What goes wrong.
    pub message: String,
    /// The path tried, hop by hop, up to the blocking element.
    pub path: Vec<String>,
    /// The element that blocks it and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_at: Option<String>,
    /// A concrete fix.
    pub fix: String,
}

impl Finding {
    /// Whether this finding stops a deploy.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All findings of one analysis, errors first.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let report = keel::analysis::check(&stack);
/// assert!(report.findings.is_empty() && !report.has_errors());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }

    /// Counts of errors and warnings.
    pub fn counts(&self) -> (usize, usize) {
        let errors = self.findings.iter().filter(|f| f.is_error()).count();
        (errors, self.findings.len() - errors)
    }

    /// The codes, in order (handy in tests).
    pub fn codes(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.code.as_str()).collect()
    }

    /// The findings as text, one block each, then a summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            match &f.policy {
                Some(policy) => writeln!(out, "{level}[{} {policy}]: {}", f.code, f.message),
                None => writeln!(out, "{level}[{}]: {}", f.code, f.message),
            }
            .ok();
            match &f.field {
                Some(field) => writeln!(out, "  --> {} (field `{field}`)", f.urn),
                None => writeln!(out, "  --> {}", f.urn),
            }
            .ok();
            for (i, hop) in f.path.iter().enumerate() {
                let lead = if i == 0 { "path:" } else { "   →" };
                let _ = writeln!(out, "  {lead:<5} {hop}");
            }
            if let Some(b) = &f.blocked_at {
                let _ = writeln!(out, "  blocked: {b}");
            }
            if !f.fix.is_empty() {
                let _ = writeln!(out, "  fix: {}", f.fix);
            }
            out.push('\n');
        }
        let (e, w) = self.counts();
        let _ = writeln!(out, "checks: {e} error(s), {w} warning(s)");
        out
    }
}
