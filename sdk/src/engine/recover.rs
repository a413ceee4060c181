//! Crash recovery: reconciling the operations a previous run began and never
//! recorded as finished (it was killed, lost power, or abandoned calls when
//! interrupted) with the cloud, before anything is planned. Each begin
//! record holds what is needed to find the result: a create's inputs (with
//! the `keel:urn` tag it was made with) and dependencies, an update's or
//! delete's cloud id.
//!
//! - A create is looked for by its tag ([`Provider::find_by_tags`]): found,
//!   it is waited for ([`Provider::settle`]) and adopted into state as the
//!   create would have recorded it; copies left by earlier interrupted runs
//!   are deleted. Not found, it never happened and is dropped.
//! - An update is read back: state records what the cloud now has, and the
//!   next plan finishes the update if it didn't take.
//! - A delete is read back: if the resource is still there it stays in state
//!   (the plan decides again); if it is gone or going, the delete is run
//!   again (deletes are idempotent and wait until the resource is gone, so
//!   what depended on it can go next) and it leaves state.
//!
//! In a dry run (a preview) recovery makes no mutating call and writes
//! nothing: it reads, and applies what it would record to the in-memory
//! snapshot only, so the preview plans what `up` will do.

use super::EngineError;
use super::retry::{self, RetryPolicy};
use crate::provider::{
    DeleteRequest, FindRequest, Found, Provider, ProviderError, ReadRequest, ReadResponse,
};
use crate::resource::Urn;
use crate::state::{JournalRecord, PendingOperation, ResourceState, Snapshot, StateStore};
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// What recovery did about one interrupted operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recovered {
    /// The resource.
    pub urn: Urn,
    /// The interrupted operation: `create`, `update` or `delete`.
    pub operation: String,
    /// What was found and done.
    pub outcome: Recovery,
}

/// The outcome of recovering one interrupted operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Recovery {
    /// The create had happened: the resource was found by its tag and taken
    /// into state.
    Adopted {
        /// Its cloud id.
        id: String,
        /// Other copies carrying the same tag (left by earlier interrupted
        /// runs), deleted (in a dry run: to be deleted).
        duplicates: Vec<String>,
        /// Copies that could not be deleted, with why.
        left: Vec<String>,
    },
    /// Nothing carries the create's tag: it never happened.
    NotCreated,
    /// The updated resource was read back and recorded as it now is.
    Reread {
        /// Its cloud id.
        id: String,
    },
    /// The resource being updated or deleted no longer exists (a delete
    /// that was under way has been waited for).
    Gone {
        /// Its cloud id.
        id: String,
    },
    /// The delete never took effect: the resource is still there and stays
    /// in state.
    StillThere {
        /// Its cloud id.
        id: String,
    },
}

impl fmt::Display for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (urn, op) = (&self.urn, &self.operation);
        match &self.outcome {
            Recovery::Adopted {
                id,
                duplicates,
                left,
            } => {
                write!(f, "{urn}: the interrupted {op} had made {id}; recorded it")?;
                if !duplicates.is_empty() {
                    write!(
                        f,
                        "; deleted {} copies left by earlier runs ({})",
                        duplicates.len(),
                        duplicates.join(", ")
                    )?;
                }
                for l in left {
                    write!(f, "; {l}")?;
                }
                Ok(())
            }
            Recovery::NotCreated => {
                write!(f, "{urn}: the interrupted {op} made nothing; dropped it")
            }
            Recovery::Reread { id } => {
                write!(f, "{urn}: the interrupted {op} of {id}: read it back")
            }
            Recovery::Gone { id } => {
                write!(f, "{urn}: the interrupted {op} of {id}: it is gone")
            }
            Recovery::StillThere { id } => write!(
                f,
                "{urn}: the interrupted {op} of {id} had not taken effect; it is still there"
            ),
        }
    }
}

/// Why recovery could not reconcile an interrupted operation. Its begin
/// record stays, so the next run tries again.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not recover the interrupted {operation} of {urn}: {error}; nothing was planned (run again to retry recovery)"
)]
pub struct RecoveryError {
    /// The resource.
    pub urn: Urn,
    /// The interrupted operation.
    pub operation: String,
    /// What the provider said.
    pub error: ProviderError,
}

/// Reconciles every pending operation of `snapshot` with the cloud. With a
/// store, records the results and makes the calls recovery needs (deleting
/// duplicates, finishing deletes); without one (a dry run) it only reads
/// and changes the in-memory snapshot.
pub(crate) async fn recover(
    provider: &dyn Provider,
    snapshot: &mut Snapshot,
    mut store: Option<&mut dyn StateStore>,
    policy: RetryPolicy,
) -> Result<Vec<Recovered>, EngineError> {
    // Every call recovery makes is retried as the run's calls are.
    let provider = &Retrying {
        inner: provider,
        policy,
    };
    let pending = snapshot.pending_operations.clone();
    let mut done = Vec::with_capacity(pending.len());
    for op in pending {
        let fail = |error| RecoveryError {
            urn: op.urn.clone(),
            operation: op.operation.clone(),
            error,
        };
        let live = store.is_some();
        let (outcome, record) = match op.operation.as_str() {
            "create" => create(provider, snapshot, &op, live).await.map_err(fail)?,
            "update" => update(provider, snapshot, &op).await.map_err(fail)?,
            _ => delete(provider, snapshot, &op, live).await.map_err(fail)?,
        };
        if let Some(store) = store.as_deref_mut() {
            store.append(&record)?;
        }
        snapshot.apply(&record);
        done.push(Recovered {
            urn: op.urn,
            operation: op.operation,
            outcome,
        });
    }
    Ok(done)
}

type Step = Result<(Recovery, JournalRecord), ProviderError>;

/// The provider with recovery's calls retried by the run's policy.
struct Retrying<'p> {
    inner: &'p dyn Provider,
    policy: RetryPolicy,
}

impl Retrying<'_> {
    async fn find_by_tags(&self, r: FindRequest) -> Result<Vec<Found>, ProviderError> {
        let call = || self.inner.find_by_tags(r.clone());
        retry::with(&self.policy, ProviderError::retryable, call)
            .await
            .0
    }
    async fn read(&self, r: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let call = || self.inner.read(r.clone());
        retry::with(&self.policy, ProviderError::retryable, call)
            .await
            .0
    }
    async fn settle(&self, r: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let call = || self.inner.settle(r.clone());
        retry::with(&self.policy, ProviderError::retryable, call)
            .await
            .0
    }
    async fn delete(&self, r: DeleteRequest) -> Result<(), ProviderError> {
        let call = || self.inner.delete(r.clone());
        retry::with(&self.policy, ProviderError::retryable, call)
            .await
            .0
    }
}

fn dropped(op: &PendingOperation) -> JournalRecord {
    JournalRecord::Failed {
        urn: op.urn.clone(),
    }
}

async fn create(
    provider: &Retrying<'_>,
    snapshot: &Snapshot,
    op: &PendingOperation,
    live: bool,
) -> Step {
    let urn = &op.urn;
    let known: Vec<&str> = snapshot
        .resources
        .iter()
        .filter(|r| &r.urn == urn)
        .map(|r| r.id.as_str())
        .collect();
    let mut found = provider
        .find_by_tags(FindRequest { urn: urn.clone() })
        .await?;
    // What state already records (the live half of a replacement) isn't
    // what the interrupted create made, nor is what keel let go of
    // (`retain_on_delete`), which is never deleted as a copy.
    found.retain(|f| !known.contains(&f.id.as_str()) && !snapshot.is_released(&f.id));
    if found.is_empty() {
        return Ok((Recovery::NotCreated, dropped(op)));
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    let kept = found.remove(0);
    let inputs = op.inputs.clone().unwrap_or(Value::Null);
    let mut left = Vec::new();
    let mut duplicates = Vec::new();
    for extra in found {
        duplicates.push(extra.id.clone());
        if !live {
            continue;
        }
        let request = DeleteRequest {
            urn: urn.clone(),
            id: extra.id.clone(),
            inputs: inputs.clone(),
            outputs: extra.outputs,
        };
        if let Err(e) = provider.delete(request).await {
            duplicates.pop();
            left.push(format!("could not delete copy {}: {e}", extra.id));
        }
    }
    let request = ReadRequest {
        urn: urn.clone(),
        id: kept.id.clone(),
        inputs,
        outputs: kept.outputs,
    };
    let read = if live {
        provider.settle(request).await?
    } else {
        provider.read(request).await?
    };
    let Some(read) = read else {
        return Ok((Recovery::NotCreated, dropped(op)));
    };
    let resource = ResourceState {
        urn: urn.clone(),
        type_token: urn.type_token().to_string(),
        id: kept.id.clone(),
        inputs: read.inputs,
        outputs: read.outputs,
        dependencies: op.dependencies.clone(),
        pending_delete: false,
        // The create may have stopped between its calls.
        repair: true,
        // The next plan records the declared guards.
        protect: false,
        retain_on_delete: false,
        secret_paths: op.secret_paths.clone(),
    };
    let outcome = Recovery::Adopted {
        id: kept.id,
        duplicates,
        left,
    };
    Ok((outcome, JournalRecord::Put { resource }))
}

/// The recorded resource an update or delete was about.
fn target<'s>(snapshot: &'s Snapshot, op: &PendingOperation) -> Option<&'s ResourceState> {
    let mut records = snapshot.resources.iter().filter(|r| r.urn == op.urn);
    match &op.id {
        Some(id) => records.find(|r| &r.id == id),
        // A begin record from a keel that didn't record ids.
        None => records.find(|r| !r.pending_delete),
    }
}

fn read_request(record: &ResourceState) -> ReadRequest {
    ReadRequest {
        urn: record.urn.clone(),
        id: record.id.clone(),
        inputs: record.inputs.clone(),
        outputs: record.outputs.clone(),
    }
}

async fn update(provider: &Retrying<'_>, snapshot: &Snapshot, op: &PendingOperation) -> Step {
    let Some(record) = target(snapshot, op) else {
        return Ok((Recovery::NotCreated, dropped(op)));
    };
    let id = record.id.clone();
    match provider.read(read_request(record)).await? {
        Some(read) => {
            let mut resource = record.clone();
            resource.inputs = read.inputs;
            resource.outputs = read.outputs;
            Ok((Recovery::Reread { id }, JournalRecord::Put { resource }))
        }
        None => {
            let urn = op.urn.clone();
            Ok((
                Recovery::Gone { id: id.clone() },
                JournalRecord::Removed { urn, id },
            ))
        }
    }
}

async fn delete(
    provider: &Retrying<'_>,
    snapshot: &Snapshot,
    op: &PendingOperation,
    live: bool,
) -> Step {
    let Some(record) = target(snapshot, op) else {
        return Ok((Recovery::NotCreated, dropped(op)));
    };
    let id = record.id.clone();
    if provider.read(read_request(record)).await?.is_some() {
        return Ok((Recovery::StillThere { id }, dropped(op)));
    }
    if live {
        // Gone or going: waits until it is really gone.
        provider
            .delete(DeleteRequest {
                urn: record.urn.clone(),
                id: id.clone(),
                inputs: record.inputs.clone(),
                outputs: record.outputs.clone(),
            })
            .await?;
    }
    let urn = op.urn.clone();
    Ok((
        Recovery::Gone { id: id.clone() },
        JournalRecord::Removed { urn, id },
    ))
}
