//! Stable text of a stack's resource graph ([`graph_snapshot`]) and of a
//! plan ([`plan_snapshot`]) for snapshot tests with `insta`: resources in
//! declaration order, inputs as sorted `path: value` lines, references as
//! `${Type:name.field}`, and cloud ids, random name suffixes and times
//! redacted, so `cargo insta review` shows an infrastructure change as a
//! readable diff and nothing else.

use crate::plan::{Action, Plan};
use crate::resource::{Resolve, Urn};
use crate::stack::Stack;
use serde_json::Value;
use std::fmt::Write;

/// Resolves every reference to `${Type:name.field}`.
struct Named;

impl Resolve for Named {
    fn output(&self, urn: &Urn, field: &str) -> Option<Value> {
        Some(Value::String(reference(urn, field)))
    }
}

/// `Type:name`, e.g. `Vpc:main`.
fn short(urn: &Urn) -> String {
    let kind = urn.type_token().rsplit(':').next().unwrap_or_default();
    format!("{kind}:{}", urn.name())
}

fn reference(urn: &Urn, field: &str) -> String {
    format!("${{{}.{field}}}", short(urn))
}

/// The stack's resources in declaration order, each with its inputs (one
/// sorted `path: value` line each, references as `${Type:name.field}`)
/// and its dependencies. Declared inputs hold no cloud ids (they are
/// references until apply), so nothing is redacted.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// stack.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let text = keel::testing::graph_snapshot(&stack);
/// assert!(text.contains("aws:ec2:Subnet a\n"));
/// assert!(text.contains("  vpc_id: ${Vpc:main.id}\n  depends on: Vpc:main\n"));
/// // in a test: insta::assert_snapshot!(keel::testing::graph_snapshot(&stack));
/// ```
pub fn graph_snapshot(stack: &Stack) -> String {
    let mut out = String::new();
    for d in &stack.resources {
        let _ = writeln!(out, "{} {}", d.urn.type_token(), d.urn.name());
        inputs(stack, &d.urn, &mut out);
        if !d.deps.is_empty() {
            let deps: Vec<String> = d.deps.iter().map(short).collect();
            let _ = writeln!(out, "  depends on: {}", deps.join(", "));
        }
    }
    out
}

/// The inputs of declared resource `urn`, one line each.
fn inputs(stack: &Stack, urn: &Urn, out: &mut String) {
    let Some(d) = stack.declared(urn) else { return };
    let Ok(template) = &d.inputs else {
        let _ = writeln!(out, "  (inputs can't be serialized)");
        return;
    };
    let mut lines = Vec::new();
    flatten(&template.resolve(&Named), String::new(), &mut lines);
    lines.sort();
    for (path, value) in lines {
        let _ = writeln!(out, "  {path}: {value}");
    }
}

/// `value`'s leaves as `(path, shown value)`; empty arrays, objects and
/// nulls are left out (they are what every default looks like).
fn flatten(value: &Value, path: String, out: &mut Vec<(String, String)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                flatten(v, join(k), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) if s.starts_with("${") && s.ends_with('}') => {
            out.push((path, s.clone()));
        }
        other => out.push((path, other.to_string())),
    }
}

/// What a plan does, step by step: creates with the declared inputs (as
/// [`graph_snapshot`] shows them), updates and replacements with each
/// changed property before and after, deletes by name; unchanged
/// resources are left out, and the counts close it. Ids, random name
/// suffixes and times are redacted.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let preview = keel::testing::plan(&stack);
/// let text = keel::testing::plan_snapshot(&stack, &preview.plan);
/// assert!(text.starts_with("+ aws:ec2:Vpc main\n  cidr_block: \"10.0.0.0/16\"\n"));
/// assert!(text.ends_with("1 to create, 0 to update, 0 to replace, 0 to delete\n"));
/// ```
pub fn plan_snapshot(stack: &Stack, plan: &Plan) -> String {
    let mut out = String::new();
    for step in plan.steps.iter().filter(|s| s.action != Action::Same) {
        let (kind, name) = (step.urn.type_token(), step.urn.name());
        let _ = writeln!(out, "{} {kind} {name}", step.action.symbol());
        match step.action {
            Action::Create => inputs(stack, &step.urn, &mut out),
            Action::Update | Action::Replace => {
                for c in &step.changes {
                    let show = |v: &Option<Value>| match v {
                        _ if c.sensitive => "[sensitive]".to_string(),
                        None => "(none)".to_string(),
                        Some(v) => redact(&v.to_string()),
                    };
                    let after = if c.after_unknown {
                        "(known after apply)".to_string()
                    } else {
                        show(&c.after)
                    };
                    let forces = if c.forces_replacement {
                        " (forces replacement)"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, "  {}: {} => {after}{forces}", c.path, show(&c.before));
                }
            }
            Action::Delete | Action::Same => {}
        }
    }
    let s = plan.summary();
    let _ = writeln!(
        out,
        "{} to create, {} to update, {} to replace, {} to delete",
        s.create, s.update, s.replace, s.delete
    );
    out
}

/// `text` with cloud ids (`vpc-0a1b2c3d`, an ARN's account), random name
/// suffixes (a run of 8 or more digits or hex after `-`) and RFC 3339
/// times replaced by stable marks.
///
/// ```
/// use keel::testing::redact;
/// assert_eq!(redact("vpc-0a1b2c3d4e5f67890"), "vpc-<id>");
/// assert_eq!(redact("web-1576118084.us-east-1.elb.amazonaws.com"), "web-<id>.us-east-1.elb.amazonaws.com");
/// assert_eq!(redact("arn:aws:iam::123456789012:role/r"), "arn:aws:iam::<account>:role/r");
/// assert_eq!(redact("at 2026-12-05T16:25:09Z"), "at <time>");
/// assert_eq!(redact("10.0.0.0/16 us-east-1a"), "10.0.0.0/16 us-east-1a");
/// ```
pub fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = time_at(&chars, i) {
            out.push_str("<time>");
            i = end;
            continue;
        }
        let c = chars[i];
        let run = |from: usize| {
            (from..chars.len())
                .take_while(|&j| chars[j].is_ascii_hexdigit() && !chars[j].is_ascii_uppercase())
                .count()
        };
        if c == '-'
            && run(i + 1) >= 8
            && !chars
                .get(i + 1 + run(i + 1))
                .is_some_and(|n| n.is_ascii_alphanumeric())
        {
            out.push_str("-<id>");
            i += 1 + run(i + 1);
            continue;
        }
        if c == ':'
            && (i + 1..i + 13).all(|j| chars.get(j).is_some_and(char::is_ascii_digit))
            && chars.get(i + 13) == Some(&':')
        {
            out.push_str(":<account>");
            i += 13;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The end of an RFC 3339 time (`2026-12-05T16:25:09Z`, with optional
/// fraction and offset) starting at `i`, if one does.
fn time_at(chars: &[char], i: usize) -> Option<usize> {
    let shape = "dddd-dd-ddTdd:dd:dd";
    let fits = shape.chars().enumerate().all(|(k, s)| {
        chars
            .get(i + k)
            .is_some_and(|&c| if s == 'd' { c.is_ascii_digit() } else { c == s })
    });
    if !fits {
        return None;
    }
    let mut end = i + shape.len();
    while chars
        .get(end)
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'Z' | '+' | ':'))
    {
        end += 1;
    }
    Some(end)
}
