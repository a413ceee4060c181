//! Refresh: read every recorded resource back from the cloud (batched by
//! type, so N resources of one type cost one Describe call per page where the
//! API allows) and compare with state. Drift is reported per property; a
//! resource gone from the cloud is dropped from state so the next plan
//! creates it again. A read that fails retryably is tried again alone, by
//! the run's [`RetryPolicy`]. `preview` keeps the result in memory; `refresh` and `up`
//! record it.

use super::retry::{self, RetryPolicy};
use crate::plan::{PropertyChange, diff, hide, redact};
use crate::provider::{Provider, ProviderError, ReadRequest};
use crate::resource::Urn;
use crate::state::{JournalRecord, ResourceState, Snapshot, StateError, StateStore};
use serde::Serialize;
use std::collections::BTreeMap;

/// What refresh found for one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// Inputs or outputs differ from what was recorded.
    Changed {
        /// The resource.
        urn: Urn,
        /// Input differences (recorded → cloud).
        changes: Vec<PropertyChange>,
    },
    /// The resource no longer exists.
    Gone {
        /// The resource.
        urn: Urn,
        /// The id it had.
        id: String,
    },
}

/// The result of a refresh.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RefreshReport {
    /// Resources that drifted or vanished.
    pub drift: Vec<Drift>,
    /// Resources that couldn't be read.
    pub errors: Vec<(Urn, ProviderError)>,
    /// Resources read.
    pub read: usize,
}

/// Reads every live record of `snapshot` through `provider` and applies what
/// changed to `snapshot` (and, with a store, records it durably).
pub(crate) async fn refresh(
    provider: &dyn Provider,
    snapshot: &mut Snapshot,
    mut store: Option<&mut dyn StateStore>,
    policy: &RetryPolicy,
) -> Result<RefreshReport, StateError> {
    let mut by_type: BTreeMap<String, Vec<ResourceState>> = BTreeMap::new();
    for r in snapshot.resources.iter().filter(|r| !r.pending_delete) {
        by_type
            .entry(r.type_token.clone())
            .or_default()
            .push(r.clone());
    }
    let mut report = RefreshReport::default();
    for records in by_type.into_values() {
        let requests: Vec<ReadRequest> = records
            .iter()
            .map(|r| ReadRequest {
                urn: r.urn.clone(),
                id: r.id.clone(),
                inputs: r.inputs.clone(),
                outputs: r.outputs.clone(),
            })
            .collect();
        let mut results = provider.read_many(requests.clone()).await;
        for (result, request) in results.iter_mut().zip(&requests) {
            if matches!(result, Err(e) if e.retryable()) {
                let read = || provider.read(request.clone());
                (*result, _) = retry::with(policy, ProviderError::retryable, read).await;
            }
        }
        for (record, result) in records.into_iter().zip(results) {
            report.read += 1;
            let update = match result {
                Err(e) => {
                    let e = redact(e, &record.inputs, &record.secret_paths);
                    report.errors.push((record.urn.clone(), e));
                    continue;
                }
                Ok(None) => {
                    report.drift.push(Drift::Gone {
                        urn: record.urn.clone(),
                        id: record.id.clone(),
                    });
                    JournalRecord::Removed {
                        urn: record.urn.clone(),
                        id: record.id.clone(),
                    }
                }
                Ok(Some(now)) => {
                    // Drift is a difference in configuration; outputs that
                    // move on their own (instance counts) are just updated.
                    let mut changes = diff(&record.inputs, &now.inputs, &[]);
                    hide(&mut changes, &[], &[&record.secret_paths]);
                    if changes.is_empty() && now.outputs == record.outputs {
                        continue;
                    }
                    if !changes.is_empty() {
                        report.drift.push(Drift::Changed {
                            urn: record.urn.clone(),
                            changes,
                        });
                    }
                    JournalRecord::Put {
                        resource: ResourceState {
                            inputs: now.inputs,
                            outputs: now.outputs,
                            ..record
                        },
                    }
                }
            };
            if let Some(store) = store.as_deref_mut() {
                store.append(&update)?;
            }
            snapshot.apply(&update);
        }
    }
    Ok(report)
}
