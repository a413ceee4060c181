//! Resources that exist in the cloud but not in state. Every resource keel
//! creates carries a `keel:urn` tag naming it, so a stack's resources can be
//! found whatever happened to its state. This module owns the guard that
//! stops `up` from making a second copy of a stack whose state was lost
//! ([`Unrecorded`]), `adopt` (take every tagged resource of the program into
//! state) and `import` (take one given resource, made outside keel or
//! untagged, into state as a declared resource).

use super::EngineError;
use super::retry::{self, RetryPolicy};
use crate::plan::resolve_inputs;
use crate::provider::{FindRequest, Found, Provider, ProviderError, ReadRequest};
use crate::resource::Urn;
use crate::stack::{Declared, Stack};
use crate::state::{JournalRecord, ResourceState, Snapshot, StateStore};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use tokio::task::JoinSet;

/// The cloud holds resources tagged as this stack's that its state doesn't
/// record (the state directory was lost, deleted or replaced): creating
/// them again would make a second copy of each.
#[derive(Clone, Debug, PartialEq)]
pub struct Unrecorded {
    /// The stack.
    pub stack: String,
    /// Each declared resource found in the cloud, with the ids found.
    pub found: Vec<(Urn, Vec<String>)>,
}

impl fmt::Display for Unrecorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n: usize = self.found.iter().map(|(_, ids)| ids.len()).sum();
        writeln!(
            f,
            "the state of stack `{}` records no resources, but the cloud holds {n} resources tagged as this stack's, so creating them would make second copies:",
            self.stack
        )?;
        for (urn, ids) in self.found.iter().take(5) {
            writeln!(f, "    {urn} = {}", ids.join(", "))?;
        }
        if self.found.len() > 5 {
            writeln!(f, "    … and {} more", self.found.len() - 5)?;
        }
        write!(
            f,
            "nothing was created. To go on: `adopt` takes every tagged resource of the program into state (then `preview` shows what differs); `import <urn> <id>` takes one resource; or restore the state from a backup (`state backups`, `state restore <serial>`)"
        )
    }
}

/// Why a resource could not be adopted or imported; state is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The program doesn't declare the URN.
    #[error("{0} is not declared by the program; import takes a resource the program declares")]
    NotDeclared(Urn),
    /// State already records the resource.
    #[error("{urn} is already in state as {id}; nothing to import")]
    AlreadyRecorded {
        /// The resource.
        urn: Urn,
        /// The recorded id.
        id: String,
    },
    /// The cloud has no such resource.
    #[error("{urn}: the cloud has no resource {id} of type {}", urn.type_token())]
    NotFound {
        /// The resource.
        urn: Urn,
        /// The id asked for.
        id: String,
    },
    /// The provider failed.
    #[error("{urn}: {error}")]
    Provider {
        /// The resource.
        urn: Urn,
        /// What the provider said.
        error: ProviderError,
    },
}

/// What `adopt` did for one declared resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Adopted {
    /// The resource.
    pub urn: Urn,
    /// What was found and done.
    pub outcome: Adoption,
}

/// The outcome of adopting one declared resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Adoption {
    /// Found by its tag and recorded.
    Adopted {
        /// Its cloud id.
        id: String,
    },
    /// State already recorded it.
    Recorded {
        /// Its recorded id.
        id: String,
    },
    /// Nothing in the cloud carries its tag; `up` will create it.
    NotFound,
    /// Several resources carry its tag; none was adopted (import the right
    /// one, delete the others).
    Ambiguous {
        /// The ids found.
        ids: Vec<String>,
    },
}

/// For each declared resource state doesn't record, the live resources
/// carrying its tag (only those with at least one, and not those keel let
/// go of: [`Snapshot::released`]), looked up concurrently.
pub(crate) async fn tagged(
    provider: &Arc<dyn Provider>,
    stack: &Stack,
    snapshot: &Snapshot,
    parallel: usize,
    policy: RetryPolicy,
) -> Result<Vec<(Urn, Vec<Found>)>, AdoptError> {
    let mut urns = stack
        .urns()
        .filter(|u| snapshot.get(u).is_none())
        .cloned()
        .collect::<Vec<_>>()
        .into_iter();
    let mut tasks = JoinSet::new();
    let mut found = Vec::new();
    loop {
        while tasks.len() < parallel.max(1) {
            let Some(urn) = urns.next() else { break };
            let provider = provider.clone();
            tasks.spawn(async move {
                let find = || provider.find_by_tags(FindRequest { urn: urn.clone() });
                let (r, _) = retry::with(&policy, ProviderError::retryable, find).await;
                (urn, r)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        // A search that panicked panics here: nothing is hidden.
        let (urn, result) = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let mut hits = result.map_err(|error| AdoptError::Provider {
            urn: urn.clone(),
            error,
        })?;
        hits.retain(|h| !snapshot.is_released(&h.id));
        if !hits.is_empty() {
            found.push((urn, hits));
        }
    }
    let order: Vec<&Urn> = stack.urns().collect();
    found.sort_by_key(|(u, _)| order.iter().position(|o| *o == u));
    Ok(found)
}

/// The guard before a first `up`: an error if state records nothing but
/// the cloud holds resources tagged as the program's.
pub(crate) async fn guard_unrecorded(
    provider: &Arc<dyn Provider>,
    stack: &Stack,
    snapshot: &Snapshot,
    parallel: usize,
    policy: RetryPolicy,
) -> Result<(), EngineError> {
    if !snapshot.resources.is_empty() || stack.is_empty() {
        return Ok(());
    }
    let found = tagged(provider, stack, snapshot, parallel, policy).await?;
    if found.is_empty() {
        return Ok(());
    }
    Err(EngineError::Unrecorded(Unrecorded {
        stack: stack.name().to_string(),
        found: found
            .into_iter()
            .map(|(u, hits)| (u, hits.into_iter().map(|h| h.id).collect()))
            .collect(),
    }))
}

/// Reads resource `id` as declaration `d` and records it.
async fn take(
    provider: &dyn Provider,
    stack: &Stack,
    d: &Declared,
    id: String,
    outputs: crate::provider::Outputs,
    snapshot: &mut Snapshot,
    store: &mut dyn StateStore,
) -> Result<bool, EngineError> {
    let urn = d.urn.clone();
    let provider_error = |error| AdoptError::Provider {
        urn: urn.clone(),
        error,
    };
    let inputs = resolve_inputs(d, stack.name(), &*snapshot)
        .map_err(|e| provider_error(ProviderError::bad_inputs(&d.urn, e)))?;
    let secret_paths = crate::plan::secret_paths(d, &inputs);
    let read = provider
        .read(ReadRequest {
            urn: urn.clone(),
            id: id.clone(),
            inputs,
            outputs,
        })
        .await
        .map_err(provider_error)?;
    let Some(read) = read else {
        return Ok(false);
    };
    let mut resource = ResourceState {
        urn: urn.clone(),
        type_token: urn.type_token().to_string(),
        id,
        inputs: read.inputs,
        outputs: read.outputs,
        dependencies: d.deps.clone(),
        pending_delete: false,
        repair: false,
        protect: false,
        retain_on_delete: false,
        secret_paths,
    };
    d.guards.record(&mut resource);
    let record = JournalRecord::Put { resource };
    store.append(&record)?;
    snapshot.apply(&record);
    Ok(true)
}

/// Takes every declared resource that state doesn't record and that exactly
/// one live resource is tagged as into state, dependencies first.
pub(crate) async fn adopt(
    provider: &Arc<dyn Provider>,
    stack: &Stack,
    snapshot: &mut Snapshot,
    store: &mut dyn StateStore,
    parallel: usize,
    policy: RetryPolicy,
) -> Result<Vec<Adopted>, EngineError> {
    let mut found = tagged(provider, stack, snapshot, parallel, policy).await?;
    let mut report = Vec::new();
    for d in stack.dependency_order() {
        let urn = d.urn.clone();
        let outcome = if let Some(r) = snapshot.get(&urn) {
            Adoption::Recorded { id: r.id.clone() }
        } else {
            match found.iter().position(|(u, _)| u == &urn) {
                None => Adoption::NotFound,
                Some(i) => {
                    let (_, mut hits) = found.swap_remove(i);
                    if hits.len() > 1 {
                        let ids = hits.into_iter().map(|h| h.id).collect();
                        Adoption::Ambiguous { ids }
                    } else {
                        let hit = hits.remove(0);
                        let id = hit.id.clone();
                        match take(&**provider, stack, d, hit.id, hit.outputs, snapshot, store)
                            .await?
                        {
                            true => Adoption::Adopted { id },
                            false => Adoption::NotFound,
                        }
                    }
                }
            }
        };
        report.push(Adopted { urn, outcome });
    }
    Ok(report)
}

/// Takes live resource `id` into state as declared resource `urn`.
pub(crate) async fn import(
    provider: &dyn Provider,
    stack: &Stack,
    snapshot: &mut Snapshot,
    store: &mut dyn StateStore,
    urn: &Urn,
    id: &str,
) -> Result<(), EngineError> {
    let d = stack
        .declared(urn)
        .ok_or_else(|| AdoptError::NotDeclared(urn.clone()))?;
    if let Some(r) = snapshot.get(urn) {
        return Err(AdoptError::AlreadyRecorded {
            urn: urn.clone(),
            id: r.id.clone(),
        }
        .into());
    }
    let outputs = Default::default();
    if take(provider, stack, d, id.to_string(), outputs, snapshot, store).await? {
        Ok(())
    } else {
        Err(AdoptError::NotFound {
            urn: urn.clone(),
            id: id.to_string(),
        }
        .into())
    }
}
