//! Saved state: what keel believes exists. A [`Snapshot`] (schema version,
//! lineage, serial, and per resource its URN, type, cloud id, inputs,
//! outputs, dependencies and lifecycle guards) plus an append-only journal of
//! [`JournalRecord`]s. Each step is durable in the journal before it counts
//! as done, at a cost that doesn't grow with the stack; at the end of a run
//! the journal is compacted into a new snapshot. This module owns the data
//! model and the [`StateStore`] contract; [`local`] stores files on disk,
//! [`MemoryStore`] keeps them in memory.

pub mod local;
mod lock;
mod memory;

pub use local::LocalStore;
pub use memory::MemoryStore;

use crate::provider::Outputs;
use crate::resource::{Resolve, Urn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// The snapshot format this version of keel writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// One resource as keel recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// The URN.
    pub urn: Urn,
    /// The type token.
    #[serde(rename = "type")]
    pub type_token: String,
    /// The cloud id.
    pub id: String,
    /// The resolved inputs it was created or last updated with.
    pub inputs: Value,
    /// The outputs the provider returned.
    pub outputs: Outputs,
    /// The resources it depended on when last applied (deletes run in
    /// reverse order of these).
    pub dependencies: Vec<Urn>,
    /// A replaced resource whose delete hasn't happened yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending_delete: bool,
    /// Declared with `protect()`: no plan may delete or replace it, even
    /// once the program no longer declares it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Declared with `retain_on_delete()`: deleting it drops it from state
    /// and leaves it in the cloud.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
}

/// An operation that started and never finished (the process died).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// The resource.
    pub urn: Urn,
    /// What was being done: `create`, `update`, `delete`.
    pub operation: String,
}

/// The saved state of one stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The format version.
    pub schema_version: u32,
    /// The stack.
    pub stack: String,
    /// A random id fixed when the stack's state is first created; a state
    /// file from another lineage is another stack's.
    pub lineage: String,
    /// Incremented at every snapshot write.
    pub serial: u64,
    /// Resources, in the order they were recorded.
    pub resources: Vec<ResourceState>,
    /// Operations a previous run started and never recorded as finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_operations: Vec<PendingOperation>,
    /// The stack's exported outputs after the last `up`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub outputs: serde_json::Map<String, Value>,
}

impl Snapshot {
    /// The empty state of a new stack.
    ///
    /// ```
    /// let s = keel::state::Snapshot::new("prod");
    /// assert_eq!(s.serial, 0);
    /// assert!(s.resources.is_empty());
    /// ```
    pub fn new(stack: &str) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            stack: stack.to_string(),
            lineage: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            serial: 0,
            resources: Vec::new(),
            pending_operations: Vec::new(),
            outputs: serde_json::Map::new(),
        }
    }

    /// The live (not pending-delete) record of `urn`.
    pub fn get(&self, urn: &Urn) -> Option<&ResourceState> {
        self.resources
            .iter()
            .find(|r| &r.urn == urn && !r.pending_delete)
    }

    /// Applies one journal record. Replaying a record twice has the same
    /// effect as once, so a journal replayed over a snapshot that already
    /// contains it is harmless.
    pub fn apply(&mut self, record: &JournalRecord) {
        match record {
            JournalRecord::Begin { urn, operation } => {
                let op = PendingOperation {
                    urn: urn.clone(),
                    operation: operation.clone(),
                };
                if !self.pending_operations.contains(&op) {
                    self.pending_operations.push(op);
                }
            }
            JournalRecord::Put { resource } => {
                self.finish(&resource.urn);
                match self
                    .resources
                    .iter_mut()
                    .find(|r| r.urn == resource.urn && r.id == resource.id)
                {
                    Some(existing) => *existing = resource.clone(),
                    None => {
                        // A new id for a live URN: the old one is superseded
                        // (create-before-delete replacement).
                        for r in self.resources.iter_mut().filter(|r| r.urn == resource.urn) {
                            r.pending_delete = true;
                        }
                        self.resources.push(resource.clone());
                    }
                }
            }
            JournalRecord::Removed { urn, id } => {
                self.finish(urn);
                self.resources.retain(|r| !(&r.urn == urn && &r.id == id));
            }
            JournalRecord::Failed { urn } => self.finish(urn),
        }
    }

    fn finish(&mut self, urn: &Urn) {
        self.pending_operations.retain(|p| &p.urn != urn);
    }
}

/// Outputs resolve against the live records: what the executor reads once a
/// resource's dependencies are applied.
impl Resolve for Snapshot {
    fn output(&self, urn: &Urn, field: &str) -> Option<Value> {
        self.get(urn)?.outputs.get(field).cloned()
    }
}

/// One entry of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum JournalRecord {
    /// A provider call is about to start (durable before it does).
    Begin {
        /// The resource.
        urn: Urn,
        /// `create`, `update` or `delete`.
        operation: String,
    },
    /// A create or update finished: the resource as it now is.
    Put {
        /// The new record.
        resource: ResourceState,
    },
    /// A delete finished.
    Removed {
        /// The resource.
        urn: Urn,
        /// The cloud id that was deleted.
        id: String,
    },
    /// The call failed; nothing changed in the cloud as far as keel knows.
    Failed {
        /// The resource.
        urn: Urn,
    },
}

/// Why state can't be read or written. Every variant leaves existing files
/// as they were.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file couldn't be read or written.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file exists but isn't valid state (truncated, edited, another format).
    #[error(
        "state file {path} is unreadable: {detail}; refusing to continue (the file was not modified)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Written by a newer keel.
    #[error(
        "state file {path} has schema version {found}, newer than {supported} which this keel understands; upgrade keel (the file was not modified)"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// This keel's version.
        supported: u32,
    },
    /// The file belongs to another stack.
    #[error(
        "state file {path} belongs to stack `{found}`, not `{expected}` (the file was not modified)"
    )]
    WrongStack {
        /// The file.
        path: PathBuf,
        /// The stack it names.
        found: String,
        /// The stack being run.
        expected: String,
    },
    /// Another keel run holds the stack.
    #[error(
        "stack is locked by {holder} (lock file {path}); the lock is released when that run ends, however it ends"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The process holding it (0 if it couldn't be told).
        pid: u32,
        /// Who holds it: process, host, command and how long it has run.
        holder: String,
    },
}

/// Where a stack's state lives. Every store passes the same conformance
/// suite, [`crate::testing::state_conformance`] (run for [`LocalStore`] and
/// [`MemoryStore`] by `state::tests`).
pub trait StateStore: Send {
    /// The state: the snapshot with any journal left by an interrupted run
    /// replayed over it, or a new empty snapshot if there is none.
    fn load(&mut self) -> Result<Snapshot, StateError>;
    /// Appends one record durably: when this returns, it survives a crash.
    fn append(&mut self, record: &JournalRecord) -> Result<(), StateError>;
    /// Atomically replaces the snapshot with `snapshot` (its serial bumped
    /// by the caller) and clears the journal.
    fn compact(&mut self, snapshot: &Snapshot) -> Result<(), StateError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::state_conformance;

    #[test]
    fn the_memory_store_conforms() {
        let shared = MemoryStore::new("conformance");
        state_conformance("conformance", || shared.clone());
    }

    #[test]
    fn the_local_store_conforms() {
        let dir = std::env::temp_dir().join(format!(
            "keel-conformance-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        state_conformance("conformance", || {
            LocalStore::open(&dir, "conformance").expect("open the local store")
        });
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
