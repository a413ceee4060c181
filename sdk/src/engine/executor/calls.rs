//! What one step calls: deciding, once its dependencies are applied, which
//! provider call a node needs ([`prepare`]), the begin record that makes
//! the call recoverable ([`begin_record`]), and making the call with
//! retries, turning its answer into the record to journal ([`run`]).

use super::Node;
use crate::engine::retry::{self, RetryPolicy};
use crate::plan::{
    Action, Plan, Step, decide, immutable_change, is_unresolved, keep_ignored, redact,
    resolve_inputs, secret_paths,
};
use crate::provider::{
    CreateRequest, DeleteRequest, ErrorKind, Outputs, Provider, ProviderError, UpdateRequest,
};
use crate::resource::Urn;
use crate::stack::Stack;
use crate::state::{JournalRecord, ResourceState, Snapshot};
use serde_json::Value;

/// A provider call, with the dependencies to record and the secret paths
/// of the inputs it sends (kept out of its error messages, sealed in state).
pub(super) enum Call {
    Create(CreateRequest, Vec<Urn>, Vec<String>),
    Update(UpdateRequest, Vec<Urn>, Vec<String>),
    Delete(DeleteRequest, Vec<String>),
}

pub(super) fn op_name(call: &Call) -> &'static str {
    match call {
        Call::Create(..) => "create",
        Call::Update(..) => "update",
        Call::Delete(..) => "delete",
    }
}

/// The begin record of `call`: what recovery needs to find its result if
/// the run dies before the end is recorded (a create's inputs carry the
/// `keel:urn` tag it is found by).
pub(super) fn begin_record(call: &Call) -> JournalRecord {
    let (urn, id, inputs, dependencies, secret_paths) = match call {
        Call::Create(r, deps, secrets) => {
            let inputs = Some(&r.inputs);
            (&r.urn, None, inputs, deps.clone(), secrets.clone())
        }
        Call::Update(r, ..) => (&r.urn, Some(&r.id), None, Vec::new(), Vec::new()),
        Call::Delete(r, _) => (&r.urn, Some(&r.id), None, Vec::new(), Vec::new()),
    };
    JournalRecord::Begin {
        urn: urn.clone(),
        operation: op_name(call).to_string(),
        id: id.cloned(),
        inputs: inputs.cloned(),
        dependencies,
        secret_paths,
    }
}

pub(super) enum Prepared {
    Nothing,
    /// A change to state alone, no provider call: a retained delete, or
    /// guards whose recorded flags changed.
    Record(Action, JournalRecord),
    Invalid(Action, ProviderError),
    Call(Action, Call),
}

/// Decides, with every dependency now applied, what call `node` needs.
pub(super) fn prepare(
    stack: Option<&Stack>,
    plan: &Plan,
    step: &Step,
    node: &Node,
    snapshot: &Snapshot,
) -> Prepared {
    let urn = node.urn();
    if let Node::Delete(_, id) = node {
        let Some(old) = snapshot
            .resources
            .iter()
            .find(|r| &r.urn == urn && &r.id == id)
        else {
            return Prepared::Nothing; // already gone
        };
        if step.guards.retain_on_delete {
            return Prepared::Record(
                Action::Delete,
                JournalRecord::Released {
                    urn: urn.clone(),
                    id: old.id.clone(),
                },
            );
        }
        return Prepared::Call(
            Action::Delete,
            Call::Delete(
                DeleteRequest {
                    urn: urn.clone(),
                    id: old.id.clone(),
                    inputs: old.inputs.clone(),
                    outputs: old.outputs.clone(),
                },
                old.secret_paths.clone(),
            ),
        );
    }
    let Some(declared) = stack.and_then(|s| s.declared(urn)) else {
        return Prepared::Invalid(
            step.action,
            internal(urn, "planned for a stack that doesn't declare it"),
        );
    };
    let mut inputs = match resolve_inputs(declared, &plan.stack, snapshot) {
        Ok(i) => i,
        Err(e) => return Prepared::Invalid(step.action, internal(urn, e)),
    };
    let current = snapshot.get(urn);
    // Ignored fields keep the recorded value, also for a replacement whose
    // old half is already gone (delete before create).
    if let Some(recorded) = current.or(step.old.as_ref()) {
        keep_ignored(
            &mut inputs,
            &recorded.inputs,
            &declared.guards.ignore_changes,
        );
    }
    if is_unresolved(&inputs) {
        return Prepared::Invalid(
            step.action,
            internal(
                urn,
                "an input is still unknown although its dependencies were applied",
            ),
        );
    }
    let deps = declared.deps.clone();
    let secrets = secret_paths(declared, &inputs);
    match (step.action, current) {
        (Action::Create | Action::Replace, _) | (_, None) => {
            let action = if step.action == Action::Same || step.action == Action::Update {
                Action::Create // recorded state vanished (a failed earlier replacement)
            } else {
                step.action
            };
            // A create-before-delete replacement whose new half already
            // exists (not possible within one run) would show as the live record.
            Prepared::Call(
                action,
                Call::Create(
                    CreateRequest {
                        urn: urn.clone(),
                        inputs,
                    },
                    deps,
                    secrets,
                ),
            )
        }
        (_, Some(old)) => {
            let (action, changes) = decide(Some(old), &declared.schema, &inputs, &secrets);
            if action == Action::Same {
                if !step.guards.differ_from(old) {
                    return Prepared::Nothing;
                }
                let mut resource = old.clone();
                step.guards.record(&mut resource);
                return Prepared::Record(Action::Same, JournalRecord::Put { resource });
            }
            // A value known only now may change a field that must not.
            if let Err(e) = immutable_change(urn, &declared.schema, &changes) {
                return Prepared::Invalid(
                    Action::Update,
                    ProviderError::of(ErrorKind::InvalidInputs, e.to_string()),
                );
            }
            if action == Action::Replace {
                return Prepared::Invalid(
                    Action::Update,
                    ProviderError::internal(format!(
                        "{urn}: `{}` changed during apply in a way that forces replacement; run again to plan it",
                        changes
                            .iter()
                            .find(|c| c.forces_replacement)
                            .map_or("", |c| c.path.as_str())
                    )),
                );
            }
            Prepared::Call(
                Action::Update,
                Call::Update(
                    UpdateRequest {
                        urn: urn.clone(),
                        id: old.id.clone(),
                        old_inputs: old.inputs.clone(),
                        old_outputs: old.outputs.clone(),
                        new_inputs: inputs,
                    },
                    deps,
                    secrets,
                ),
            )
        }
    }
}

fn internal(urn: &Urn, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::internal(format!("{urn}: {e}"))
}

/// Makes `call`, retried by `policy` (`fresh`: it references something
/// created in this run); what to record, and how many retries it took.
/// Errors have secret values replaced by `[sensitive]`.
pub(super) async fn run(
    provider: &dyn Provider,
    call: Call,
    policy: &RetryPolicy,
    fresh: bool,
) -> (Result<JournalRecord, ProviderError>, u32) {
    let put =
        |urn: Urn, id: String, inputs: Value, outputs: Outputs, deps: Vec<Urn>, secret_paths| {
            JournalRecord::Put {
                resource: ResourceState {
                    type_token: urn.type_token().to_string(),
                    urn,
                    id,
                    inputs,
                    outputs,
                    dependencies: deps,
                    pending_delete: false,
                    repair: false,
                    protect: false,
                    retain_on_delete: false,
                    secret_paths,
                },
            }
        };
    match call {
        Call::Create(req, deps, secrets) => {
            let (resp, retries) = retry::create(provider, &req, policy, fresh).await;
            let record = match resp {
                Ok(r) => Ok(put(req.urn, r.id, req.inputs, r.outputs, deps, secrets)),
                Err(e) => Err(redact(e, &req.inputs, &secrets)),
            };
            (record, retries)
        }
        Call::Update(req, deps, secrets) => {
            let transient = |e: &ProviderError| retry::transient(e, fresh);
            let update = || provider.update(req.clone());
            let (outputs, retries) = retry::with(policy, transient, update).await;
            let record = match outputs {
                Ok(o) => Ok(put(req.urn, req.id, req.new_inputs, o, deps, secrets)),
                Err(e) => {
                    let e = redact(e, &req.new_inputs, &secrets);
                    // An error may quote the values being replaced.
                    Err(redact(e, &req.old_inputs, &secrets))
                }
            };
            (record, retries)
        }
        Call::Delete(req, secrets) => {
            let delete = || provider.delete(req.clone());
            let (done, retries) = retry::with(policy, ProviderError::retryable, delete).await;
            let record = match done {
                Ok(()) => Ok(JournalRecord::Removed {
                    urn: req.urn,
                    id: req.id,
                }),
                Err(e) => Err(redact(e, &req.inputs, &secrets)),
            };
            (record, retries)
        }
    }
}
