//! Lifecycle guards: `protect`, `retain_on_delete` and `ignore_changes`, as
//! a resource's options declare them and state records them. This module
//! owns what they mean to a plan: which guards hold for a step, the
//! deletes and replacements protection refuses (before any provider call),
//! and the declared inputs with ignored fields kept at their recorded values.
//! The executor reads a step's guards to retain instead of deleting and to
//! record the flags in state.

use super::{Action, Plan, Step};
use crate::resource::Urn;
use crate::stack::Stack;
use crate::state::ResourceState;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// The lifecycle guards of one resource, from its
/// [`crate::ResourceOptions`] and, for what the program no longer declares,
/// from state.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use keel::state::MemoryStore;
/// use std::sync::Arc;
/// let mut stack = Stack::new("demo");
/// let options = ResourceOptions::new().protect().ignore_changes([Vpc::TAGS]);
/// stack.add_with("main", Vpc::new("10.0.0.0/16"), options);
/// let (sim, store) = (Arc::new(SimProvider::in_memory()), Box::new(MemoryStore::new("demo")));
/// let preview = keel::ops::blocking::preview(&stack, sim, store, &Default::default()).unwrap();
/// let guards = &preview.plan.steps[0].guards;
/// assert_eq!(guards.labels(), ["protect", "ignore_changes(tags)"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Guards {
    /// No plan may delete or replace it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Deleting it drops it from state and leaves it in the cloud.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// Fields whose changes (in the program or drift) are not planned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
}

impl Guards {
    /// Whether no guard is set.
    pub fn is_empty(&self) -> bool {
        *self == Guards::default()
    }

    /// The guards as plans show them: `protect`, `retain_on_delete`,
    /// `ignore_changes(a, b)`.
    pub fn labels(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.protect {
            out.push("protect".to_string());
        }
        if self.retain_on_delete {
            out.push("retain_on_delete".to_string());
        }
        if !self.ignore_changes.is_empty() {
            out.push(format!(
                "ignore_changes({})",
                self.ignore_changes.join(", ")
            ));
        }
        out
    }

    /// The flags state records of `r`.
    fn recorded(r: &ResourceState) -> Self {
        Guards {
            protect: r.protect,
            retain_on_delete: r.retain_on_delete,
            ignore_changes: Vec::new(),
        }
    }

    /// Whether state records other flags for `r` than these.
    pub(crate) fn differ_from(&self, r: &ResourceState) -> bool {
        self.protect != r.protect || self.retain_on_delete != r.retain_on_delete
    }

    /// `r` with these flags recorded.
    pub(crate) fn record(&self, r: &mut ResourceState) {
        r.protect = self.protect;
        r.retain_on_delete = self.retain_on_delete;
    }

    /// How the flags recorded for `r` would change: `protect removed`.
    pub(crate) fn changes_from(&self, r: &ResourceState) -> Vec<String> {
        let mut out = Vec::new();
        for (name, recorded, now) in [
            ("protect", r.protect, self.protect),
            (
                "retain_on_delete",
                r.retain_on_delete,
                self.retain_on_delete,
            ),
        ] {
            if recorded != now {
                out.push(format!("{name} {}", if now { "added" } else { "removed" }));
            }
        }
        out
    }
}

/// The guards that hold when recorded resource `r` is deleted. In an `up`,
/// the program's if it still declares `r` (the `up` records them), else the
/// recorded ones. A destroy doesn't apply the program, so both hold: what
/// state records and what the program declares. The leftover of a
/// replacement (`pending_delete`) is never protected: the replacement that
/// superseded it was allowed.
pub(crate) fn for_delete(stack: Option<&Stack>, r: &ResourceState, destroy: bool) -> Guards {
    let declared = stack.and_then(|s| s.declared(&r.urn)).map(|d| &d.guards);
    let recorded = Guards::recorded(r);
    let mut guards = match (declared, destroy) {
        (Some(d), false) => Guards {
            ignore_changes: Vec::new(),
            ..d.clone()
        },
        (Some(d), true) => Guards {
            protect: d.protect || recorded.protect,
            retain_on_delete: d.retain_on_delete || recorded.retain_on_delete,
            ignore_changes: Vec::new(),
        },
        (None, _) => recorded,
    };
    if r.pending_delete {
        guards.protect = false;
    }
    guards
}

/// Replaces, in the resolved `inputs`, each field of `ignored` with its
/// recorded value (or removes it if none was recorded), so a change to it,
/// in the program or in the cloud, is neither planned nor applied.
pub(crate) fn keep_ignored(inputs: &mut Value, recorded: &Value, ignored: &[String]) {
    let Some(obj) = inputs.as_object_mut() else {
        return;
    };
    for field in ignored {
        match recorded.get(field) {
            Some(v) => {
                obj.insert(field.clone(), v.clone());
            }
            None => {
                obj.remove(field);
            }
        }
    }
}

/// Why a protected resource may not go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProtectedBecause {
    /// The program no longer declares it.
    Removed,
    /// A change forces replacement.
    Replaced {
        /// The field whose change forces it.
        field: String,
    },
    /// The stack is being destroyed.
    Destroyed,
}

/// A delete or replacement of a protected resource that a plan would make.
///
/// ```
/// use keel::plan::{ProtectedBecause, ProtectedChange};
/// let refused = ProtectedChange {
///     urn: keel::Urn::new("prod", "aws:ec2:Vpc", "main"),
///     because: ProtectedBecause::Destroyed,
/// };
/// assert!(refused.to_string().contains("remove `.protect()`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProtectedChange {
    /// The protected resource.
    pub urn: Urn,
    /// What would delete or replace it.
    pub because: ProtectedBecause,
}

impl fmt::Display for ProtectedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urn = &self.urn;
        match &self.because {
            ProtectedBecause::Removed => write!(
                f,
                "{urn} is protected and no longer declared, so this plan would delete it; to delete it, declare it again without `.protect()` and run `up` (that records the change without touching the cloud), then remove it"
            ),
            ProtectedBecause::Replaced { field } => write!(
                f,
                "{urn} is protected and a change to `{field}` forces its replacement; revert the change, or remove `.protect()` from it to allow the replacement"
            ),
            ProtectedBecause::Destroyed => write!(
                f,
                "{urn} is protected, so destroy would delete it; remove `.protect()` from it and run `up` (that records the change without touching the cloud), then destroy"
            ),
        }
    }
}

/// The deletes and replacements of protected resources in `steps`.
pub(crate) fn protected_changes(plan_destroy: bool, steps: &[Step]) -> Vec<ProtectedChange> {
    steps
        .iter()
        .filter(|s| s.guards.protect)
        .filter_map(|s| {
            let because = match s.action {
                Action::Delete if plan_destroy => ProtectedBecause::Destroyed,
                Action::Delete => ProtectedBecause::Removed,
                Action::Replace => ProtectedBecause::Replaced {
                    field: s
                        .changes
                        .iter()
                        .find(|c| c.forces_replacement)
                        .map_or_else(|| "type".to_string(), |c| c.path.clone()),
                },
                _ => return None,
            };
            Some(ProtectedChange {
                urn: s.urn.clone(),
                because,
            })
        })
        .collect()
}

/// The steps whose only change is to the guards state records (no call).
pub(crate) fn state_only(step: &Step) -> Option<Vec<String>> {
    let old = step.old.as_ref()?;
    (step.action == Action::Same && step.guards.differ_from(old))
        .then(|| step.guards.changes_from(old))
}

impl Plan {
    /// Steps that change nothing in the cloud but the guards state records
    /// for them (`protect` removed, …), with what changes.
    pub fn guard_updates(&self) -> impl Iterator<Item = (&Step, Vec<String>)> {
        self.steps
            .iter()
            .filter_map(|s| state_only(s).map(|changes| (s, changes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ec2::Vpc;
    use crate::plan::{PlanError, plan, plan_destroy, render_json, render_text, resolve_inputs};
    use crate::resource::OutputValues;
    use crate::state::Snapshot;
    use crate::{ResourceOptions, Stack};
    use serde_json::json;

    /// The state after `stack` (whose resources read no outputs) was
    /// applied: each resource with its resolved inputs and recorded guards.
    fn applied(stack: &Stack) -> Snapshot {
        let mut state = Snapshot::new(stack.name());
        for (i, d) in stack.resources.iter().enumerate() {
            let mut r = ResourceState {
                urn: d.urn.clone(),
                type_token: d.schema.type_token.to_string(),
                id: format!("vpc-{i}"),
                inputs: resolve_inputs(d, stack.name(), &OutputValues::new()).unwrap(),
                outputs: Default::default(),
                dependencies: Vec::new(),
                pending_delete: false,
                repair: false,
                protect: false,
                retain_on_delete: false,
                secret_paths: Vec::new(),
            };
            d.guards.record(&mut r);
            state.resources.push(r);
        }
        state
    }

    fn one(vpc: Vpc, options: ResourceOptions) -> Stack {
        let mut stack = Stack::new("g");
        stack.add_with("main", vpc, options);
        stack
    }

    fn refused(result: Result<Plan, PlanError>) -> Vec<ProtectedChange> {
        match result {
            Err(PlanError::Protected(refused)) => refused,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn kept_fields_take_the_recorded_value_or_go() {
        let mut inputs = json!({"a": 1, "b": {"x": 2}, "c": 3});
        keep_ignored(
            &mut inputs,
            &json!({"a": 9, "b": {"y": 1}}),
            &["b".into(), "c".into()],
        );
        assert_eq!(inputs, json!({"a": 1, "b": {"y": 1}}));
    }

    #[test]
    fn protection_refuses_replacement_removal_and_destroy() {
        let protect = ResourceOptions::new().protect();
        let state = applied(&one(Vpc::new("10.0.0.0/16"), protect.clone()));
        assert!(state.resources[0].protect);

        // A replacement, naming the field that forces it.
        let moved = one(Vpc::new("10.1.0.0/16"), protect.clone());
        let r = refused(plan(&moved, &state));
        assert_eq!(
            r[0].because,
            ProtectedBecause::Replaced {
                field: "cidr_block".into()
            }
        );
        assert!(
            r[0].to_string()
                .contains("`cidr_block` forces its replacement")
        );

        // Removed from the program: state's flag holds.
        let empty = Stack::new("g");
        let r = refused(plan(&empty, &state));
        assert_eq!(r[0].because, ProtectedBecause::Removed);
        assert_eq!(r[0].urn, state.resources[0].urn);

        // Destroy: state's flag holds even if the program dropped it, and the
        // program's holds even if state doesn't record it yet.
        let unprotected = one(Vpc::new("10.0.0.0/16"), ResourceOptions::new());
        let r = refused(plan_destroy(Some(&unprotected), &state));
        assert_eq!(r[0].because, ProtectedBecause::Destroyed);
        let plain = applied(&unprotected);
        refused(plan_destroy(
            Some(&one(Vpc::new("10.0.0.0/16"), protect)),
            &plain,
        ));
        assert!(plan_destroy(Some(&unprotected), &plain).is_ok());
        assert!(plan_destroy(None, &plain).is_ok());

        // The error names every refused resource and what to do.
        let e = PlanError::Protected(r).to_string();
        assert!(
            e.contains("1 protected resource(s)") && e.contains("run `up`"),
            "{e}"
        );
    }

    #[test]
    fn dropping_protect_is_a_state_only_step_and_then_allows_replacement() {
        let state = applied(&one(
            Vpc::new("10.0.0.0/16"),
            ResourceOptions::new().protect(),
        ));
        let dropped = one(Vpc::new("10.0.0.0/16"), ResourceOptions::new());
        let p = plan(&dropped, &state).unwrap();
        assert!(!p.summary().has_changes());
        let updates: Vec<_> = p.guard_updates().collect();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].1, vec!["protect removed".to_string()]);
        let text = render_text(&p);
        assert!(text.contains("(state only: protect removed)"), "{text}");
        assert!(text.contains("1 with guards to record in state"), "{text}");
        assert_eq!(
            render_json(&p)["steps"][0]["state_only"],
            json!(["protect removed"])
        );
        // The program, not the recorded flag, decides for what it declares.
        let moved = one(Vpc::new("10.1.0.0/16"), ResourceOptions::new());
        assert_eq!(plan(&moved, &state).unwrap().summary().replace, 1);
    }

    #[test]
    fn a_replaced_leftover_is_not_protected_but_can_be_retained() {
        let mut state = applied(&one(
            Vpc::new("10.0.0.0/16"),
            ResourceOptions::new().protect().retain_on_delete(),
        ));
        state.resources[0].pending_delete = true;
        let empty = Stack::new("g");
        let p = plan(&empty, &state).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert!(!p.steps[0].guards.protect && p.steps[0].guards.retain_on_delete);
        let text = render_text(&p);
        assert!(
            text.contains("main  (retained in the cloud: dropped from state only)"),
            "{text}"
        );
    }

    #[test]
    fn ignored_fields_are_not_planned_and_others_still_are() {
        let ignore = ResourceOptions::new().ignore_changes([Vpc::ENABLE_DNS_HOSTNAMES]);
        let state = applied(&one(Vpc::new("10.0.0.0/16"), ignore.clone()));
        let edited = one(
            Vpc::new("10.0.0.0/16").enable_dns_hostnames(true),
            ignore.clone(),
        );
        let p = plan(&edited, &state).unwrap();
        assert_eq!(p.steps[0].action, Action::Same);
        // Drift recorded by a refresh isn't planned back either.
        let mut drifted = state.clone();
        drifted.resources[0].inputs["enable_dns_hostnames"] = json!(true);
        let p = plan(&one(Vpc::new("10.0.0.0/16"), ignore.clone()), &drifted).unwrap();
        assert_eq!(p.steps[0].action, Action::Same);
        // Another field still updates, and the ignored one isn't in the diff.
        let both = one(
            Vpc::new("10.0.0.0/16")
                .enable_dns_hostnames(true)
                .enable_dns_support(false),
            ignore,
        );
        let p = plan(&both, &state).unwrap();
        assert_eq!(p.steps[0].action, Action::Update);
        let paths: Vec<&str> = p.steps[0].changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["enable_dns_support"]);
        let text = render_text(&p);
        assert!(
            text.contains("[ignore_changes(enable_dns_hostnames)]"),
            "{text}"
        );
        assert_eq!(
            render_json(&p)["steps"][0]["guards"],
            json!({"ignore_changes": ["enable_dns_hostnames"]})
        );
    }

    #[test]
    fn a_field_of_another_type_is_a_declaration_error() {
        use crate::aws::ec2::Subnet;
        let stack = one(
            Vpc::new("10.0.0.0/16"),
            ResourceOptions::new().ignore_changes([Subnet::AVAILABILITY_ZONE]),
        );
        let e = stack.validate().unwrap_err().to_string();
        assert!(
            e.contains("urn:keel:g::aws:ec2:Vpc::main: field `availability_zone`")
                && e.contains("of aws:ec2:Subnet, but this resource is a aws:ec2:Vpc"),
            "{e}"
        );
    }
}
