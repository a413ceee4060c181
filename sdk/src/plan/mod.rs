//! Plans: the diff of a program against saved state. Each resource gets one
//! [`Action`] from a closed set (`+` create, `~` update, `-/+` replace, `-`
//! delete, or same) with property-level before/after; outputs of resources
//! not yet created are `(known after apply)`. Steps come in a deterministic
//! order: declared resources in dependency order, then deletes in reverse
//! dependency order. Each step carries the resource's lifecycle [`Guards`];
//! a plan that would delete or replace a protected resource is refused
//! (`guards`). This module owns computing and rendering plans; the engine
//! executes them.

mod diff;
mod guards;
mod render;
mod sensitive;

use diff::top_field;
pub use diff::{PropertyChange, diff};
pub(crate) use guards::keep_ignored;
pub use guards::{Guards, ProtectedBecause, ProtectedChange};
pub use render::{render_json, render_text};
pub use sensitive::SENSITIVE;
pub(crate) use sensitive::{hide, redact};

use crate::resource::{OutputValues, Resolve, STACK_TAG, URN_TAG, Urn, contains_unknown};
use crate::stack::{Declared, Schema, Stack};
use crate::state::{ResourceState, Snapshot};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// What a plan does to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `+` create a new resource.
    Create,
    /// `~` change it in place.
    Update,
    /// `-/+` create a new one and delete the old (or the reverse).
    Replace,
    /// `-` delete it.
    Delete,
    /// No change.
    Same,
}

impl Action {
    /// The symbol plans show: `+`, `~`, `-/+`, `-`, or a space.
    ///
    /// ```
    /// assert_eq!(keel::plan::Action::Replace.symbol(), "-/+");
    /// ```
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Same => " ",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Same => "same",
        })
    }
}

/// One resource's part of a plan.
#[derive(Clone, Debug)]
pub struct Step {
    /// The resource.
    pub urn: Urn,
    /// What happens to it.
    pub action: Action,
    /// Changed properties (update, replace).
    pub changes: Vec<PropertyChange>,
    /// For a replacement: whether the old one is deleted first.
    pub delete_before_replace: bool,
    /// The recorded state (update, replace, delete, same).
    pub old: Option<ResourceState>,
    /// Dependencies in the program (empty for deletes).
    pub dependencies: Vec<Urn>,
    /// Scheduling cost (typical seconds on AWS).
    pub cost: u32,
    /// The lifecycle guards that hold for this step (see [`Guards`]).
    pub guards: Guards,
}

/// Counts of steps by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources to create.
    pub create: usize,
    /// Resources to update in place.
    pub update: usize,
    /// Resources to replace.
    pub replace: usize,
    /// Resources to delete.
    pub delete: usize,
    /// Resources unchanged.
    pub same: usize,
}

impl Summary {
    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.replace + self.delete > 0
    }

    fn count(&mut self, action: Action) {
        match action {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Replace => self.replace += 1,
            Action::Delete => self.delete += 1,
            Action::Same => self.same += 1,
        }
    }
}

/// A plan for one stack.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The stack.
    pub stack: String,
    /// Steps in execution-compatible order.
    pub steps: Vec<Step>,
    /// Whether this plan destroys the whole stack.
    pub destroy: bool,
}

impl Plan {
    /// Counts by action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for step in &self.steps {
            s.count(step.action);
        }
        s
    }

    /// The step for `urn` (the live one if a URN has two).
    pub fn step(&self, urn: &Urn) -> Option<&Step> {
        self.steps.iter().find(|s| &s.urn == urn)
    }
}

/// A program resource's inputs, resolved against the outputs in `known`
/// (still-unknown ones left as the unknown marker), with keel's ownership
/// tags added.
pub(crate) fn resolve_inputs(
    d: &Declared,
    stack: &str,
    known: &dyn Resolve,
) -> serde_json::Result<Value> {
    let template = d.inputs.as_ref().map_err(|e| {
        <serde_json::Error as serde::ser::Error>::custom(format!(
            "{}: the inputs can't be serialized: {e}",
            d.urn
        ))
    })?;
    let mut inputs = template.resolve(known);
    if let Some(obj) = inputs.as_object_mut() {
        let tags = obj
            .entry("tags")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(tags) = tags.as_object_mut() {
            tags.insert(URN_TAG.into(), Value::String(d.urn.to_string()));
            tags.insert(STACK_TAG.into(), Value::String(stack.to_string()));
        }
    }
    Ok(inputs)
}

/// The secret paths (JSON pointers) of a program resource's resolved
/// `inputs`: its sensitive fields and where it holds secret outputs.
pub(crate) fn secret_paths(d: &Declared, inputs: &Value) -> Vec<String> {
    let declared = d.inputs.as_ref().map_or(&[][..], |t| t.secret_paths());
    sensitive::secret_paths(d.schema.fields, declared, inputs)
}

/// What a declared resource with resolved `inputs` (secret at
/// `secret_paths`) needs, given its recorded state `old`: the one decision
/// the planner makes ahead and the executor makes again once the
/// dependencies' outputs are known.
pub(crate) fn decide(
    old: Option<&ResourceState>,
    schema: &Schema,
    inputs: &Value,
    secret_paths: &[String],
) -> (Action, Vec<PropertyChange>) {
    match old {
        None => (Action::Create, Vec::new()),
        Some(old) if old.type_token != schema.type_token => (Action::Replace, Vec::new()),
        Some(old) => {
            let mut changes = diff(&old.inputs, inputs, schema.fields);
            hide(
                &mut changes,
                schema.fields,
                &[&old.secret_paths, secret_paths],
            );
            let action = if changes.is_empty() && !old.repair {
                Action::Same
            } else if changes.is_empty() {
                // Adopted after an interrupted create: apply it all again.
                Action::Update
            } else if changes.iter().any(|c| c.forces_replacement) {
                Action::Replace
            } else {
                Action::Update
            };
            (action, changes)
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A resource's inputs could not be serialized.
    #[error("could not serialize inputs: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The program changes a field that can't change once the resource
    /// exists (`#[resource(immutable)]`).
    #[error("{0}")]
    Immutable(Box<RefusedChange>),
    /// The plan would delete or replace resources declared with
    /// `protect()` (each named with why and what to do).
    #[error(
        "refusing to plan: {} protected resource(s) would be deleted or replaced; nothing was changed\n{}",
        .0.len(),
        .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
    )]
    Protected(Vec<ProtectedChange>),
}

/// A change to a field marked `#[resource(immutable)]`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{urn}: field `{field}` can't change once the resource exists (recorded {before}, declared {after}); to move to the new value, declare a new resource under another name and remove this one"
)]
pub struct RefusedChange {
    /// The resource.
    pub urn: Urn,
    /// The property that would change.
    pub field: String,
    /// Its recorded value.
    pub before: String,
    /// The declared value (`(known after apply)` if not known yet).
    pub after: String,
}

/// The first change of `changes` to a field the type marks immutable.
pub(crate) fn immutable_change(
    urn: &Urn,
    schema: &Schema,
    changes: &[PropertyChange],
) -> Result<(), PlanError> {
    let refused = changes.iter().find(|c| {
        schema
            .fields
            .iter()
            .any(|f| f.immutable && f.name == top_field(&c.path))
    });
    let Some(c) = refused else { return Ok(()) };
    let show = |v: &Option<Value>| v.as_ref().map_or("(none)".to_string(), |v| v.to_string());
    Err(PlanError::Immutable(Box::new(RefusedChange {
        urn: urn.clone(),
        field: c.path.clone(),
        before: show(&c.before),
        after: if c.after_unknown {
            "(known after apply)".to_string()
        } else {
            show(&c.after)
        },
    })))
}

/// Plans `stack` against `state`. The stack must have passed
/// [`Stack::validate`]. Outputs of resources that keep their identity are
/// known to their dependents (from state); the others stay unknown until
/// apply. Pure: neither the stack nor the state is touched.
pub(crate) fn plan(stack: &Stack, state: &Snapshot) -> Result<Plan, PlanError> {
    let mut known = OutputValues::new();
    let mut steps = Vec::new();
    for d in stack.dependency_order() {
        let urn = &d.urn;
        let mut inputs = resolve_inputs(d, stack.name(), &known)?;
        let old = state.get(urn).cloned();
        if let Some(old) = &old {
            keep_ignored(&mut inputs, &old.inputs, &d.guards.ignore_changes);
        }
        let secrets = secret_paths(d, &inputs);
        let (action, changes) = decide(old.as_ref(), &d.schema, &inputs, &secrets);
        immutable_change(urn, &d.schema, &changes)?;
        if let (Action::Same | Action::Update, Some(old)) = (action, &old) {
            known.insert(urn.clone(), Value::Object(old.outputs.clone()));
        }
        // A replacement that depends on one deleted before it is recreated
        // must go the same way: its old self would still hold the old one.
        let dbr = action == Action::Replace
            && (d.schema.delete_before_replace
                || steps
                    .iter()
                    .any(|s: &Step| s.delete_before_replace && d.deps.contains(&s.urn)));
        steps.push(Step {
            urn: urn.clone(),
            action,
            changes,
            delete_before_replace: dbr,
            old,
            dependencies: d.deps.clone(),
            cost: d.schema.cost,
            guards: d.guards.clone(),
        });
    }
    steps.extend(delete_steps(Some(stack), state, false, |r| {
        r.pending_delete || stack.declared(&r.urn).is_none()
    }));
    refuse_protected(Plan {
        stack: stack.name().to_string(),
        steps,
        destroy: false,
    })
}

/// Plans deleting everything in `state`. `stack`, the program, adds its
/// guards to those state records.
pub(crate) fn plan_destroy(stack: Option<&Stack>, state: &Snapshot) -> Result<Plan, PlanError> {
    refuse_protected(Plan {
        stack: state.stack.clone(),
        steps: delete_steps(stack, state, true, |_| true),
        destroy: true,
    })
}

/// `plan`, unless it deletes or replaces a protected resource.
fn refuse_protected(plan: Plan) -> Result<Plan, PlanError> {
    let refused = guards::protected_changes(plan.destroy, &plan.steps);
    if refused.is_empty() {
        Ok(plan)
    } else {
        Err(PlanError::Protected(refused))
    }
}

/// Delete steps for the state records `select` picks, dependents first,
/// with the guards that hold for each (see `guards::for_delete`).
fn delete_steps(
    stack: Option<&Stack>,
    state: &Snapshot,
    destroy: bool,
    select: impl Fn(&ResourceState) -> bool,
) -> Vec<Step> {
    let doomed: Vec<&ResourceState> = state.resources.iter().filter(|r| select(r)).collect();
    // Order: a resource comes after everything that depends on it.
    let mut dag = crate::graph::Dag::new();
    let index: BTreeMap<(&Urn, &str), &ResourceState> = doomed
        .iter()
        .map(|r| ((&r.urn, r.id.as_str()), *r))
        .collect();
    for r in &doomed {
        dag.add_node((r.urn.clone(), r.id.clone()));
    }
    for r in &doomed {
        for dep in &r.dependencies {
            for other in doomed.iter().filter(|o| &o.urn == dep) {
                // reversed edge: the dependency "depends on" its dependent
                dag.add_edge(
                    &(other.urn.clone(), other.id.clone()),
                    &(r.urn.clone(), r.id.clone()),
                );
            }
        }
    }
    let order = dag.topological_order().unwrap_or_else(|| {
        doomed
            .iter()
            .map(|r| (r.urn.clone(), r.id.clone()))
            .collect()
    });
    order
        .iter()
        .filter_map(|(urn, id)| index.get(&(urn, id.as_str())))
        .map(|r| Step {
            urn: r.urn.clone(),
            action: Action::Delete,
            changes: Vec::new(),
            delete_before_replace: false,
            old: Some((*r).clone()),
            dependencies: Vec::new(),
            cost: 1,
            guards: guards::for_delete(stack, r, destroy),
        })
        .collect()
}

/// Whether resolved inputs still wait on outputs.
pub(crate) fn is_unresolved(inputs: &Value) -> bool {
    contains_unknown(inputs)
}
