//! Saved state: what keel believes exists. A [`Snapshot`] (schema version,
//! lineage, serial, and per resource its URN, type, cloud id, inputs,
//! outputs, dependencies and lifecycle guards) plus an append-only journal of
//! [`JournalRecord`]s. Each step is durable in the journal before it counts
//! as done, at a cost that doesn't grow with the stack; at the end of a run
//! the journal is compacted into a new snapshot. This module owns the data
//! model and the [`StateStore`] contract; [`local`] stores files on disk
//! (checksummed, with backups of past snapshots), [`MemoryStore`] keeps them
//! in memory, and [`verify`] checks a snapshot's consistency.

mod backups;
pub(crate) mod files;
mod format;
pub mod local;
mod lock;
mod memory;
pub mod secrets;
mod verify;

pub use backups::{Backup, Restored};
pub use local::{DEFAULT_BACKUPS, LocalStore};
pub use memory::MemoryStore;
pub use verify::{Problem, Severity, Verification, verify};

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
    /// Adopted by crash recovery after an interrupted create, which may
    /// have stopped between its calls: the next plan updates it even if
    /// its inputs match, so every part of its configuration is applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repair: bool,
    /// Declared with `protect()`: no plan may delete or replace it, even
    /// once the program no longer declares it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Declared with `retain_on_delete()`: deleting it drops it from state
    /// and leaves it in the cloud.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// The JSON pointers (`/user_data`) of `inputs` that are secret: shown
    /// as `[sensitive]`, and sealed in state files ([`secrets`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_paths: Vec<String>,
}

/// An operation that started and never finished (the process died), with
/// what its begin record holds to find the result later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// The resource.
    pub urn: Urn,
    /// What was being done: `create`, `update`, `delete`.
    pub operation: String,
    /// The cloud id an update or delete was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The resolved inputs a create was called with (its `keel:urn` tag
    /// among them, which is how recovery finds what it made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    /// The resources a create depended on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Urn>,
    /// The JSON pointers of `inputs` that are secret (sealed in files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_paths: Vec<String>,
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
    /// The names of exported outputs that are secret (derived from a
    /// secret): shown as `[sensitive]`, and sealed in state files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_outputs: Vec<String>,
    /// Resources keel let go of (`retain_on_delete`): left in the cloud and
    /// still carrying this stack's tags, so searches by tag (recovery,
    /// `adopt`, the lost-state guard) skip them rather than take them back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<Released>,
}

/// A resource keel dropped from state and left in the cloud.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// The URN it had.
    pub urn: Urn,
    /// Its cloud id.
    pub id: String,
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
            secret_outputs: Vec::new(),
            released: Vec::new(),
        }
    }

    /// Whether `id` is a resource keel let go of (see [`Snapshot::released`]).
    pub fn is_released(&self, id: &str) -> bool {
        self.released.iter().any(|r| r.id == id)
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
            JournalRecord::Begin {
                urn,
                operation,
                id,
                inputs,
                dependencies,
                secret_paths,
            } => {
                let op = PendingOperation {
                    urn: urn.clone(),
                    operation: operation.clone(),
                    id: id.clone(),
                    inputs: inputs.clone(),
                    dependencies: dependencies.clone(),
                    secret_paths: secret_paths.clone(),
                };
                if !self.pending_operations.contains(&op) {
                    self.pending_operations.push(op);
                }
            }
            JournalRecord::Put { resource } => {
                self.finish(&resource.urn);
                // Taken back (an import of a released resource).
                self.released.retain(|r| r.id != resource.id);
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
            JournalRecord::Released { urn, id } => {
                self.finish(urn);
                self.resources.retain(|r| !(&r.urn == urn && &r.id == id));
                let released = Released {
                    urn: urn.clone(),
                    id: id.clone(),
                };
                if !self.released.contains(&released) {
                    self.released.push(released);
                }
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
    /// A provider call is about to start (durable before it does), with
    /// what recovery needs to find its result if the run dies before the
    /// call's end is recorded.
    Begin {
        /// The resource.
        urn: Urn,
        /// `create`, `update` or `delete`.
        operation: String,
        /// The cloud id an update or delete is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The resolved inputs of a create, tags included.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<Value>,
        /// The resources a create depends on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dependencies: Vec<Urn>,
        /// The JSON pointers of `inputs` that are secret (sealed in files).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        secret_paths: Vec<String>,
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
    /// A resource declared with `retain_on_delete()` was let go of instead
    /// of deleted: dropped from state, left in the cloud (no provider call).
    Released {
        /// The resource.
        urn: Urn,
        /// Its cloud id.
        id: String,
    },
    /// The call failed; nothing changed in the cloud as far as keel knows.
    Failed {
        /// The resource.
        urn: Urn,
    },
}

impl JournalRecord {
    /// A begin record of `operation` on `urn` that carries nothing else.
    ///
    /// ```
    /// use keel::state::JournalRecord;
    /// let urn = keel::Urn::new("demo", "aws:ec2:Vpc", "main");
    /// let begin = JournalRecord::begin(urn, "delete");
    /// assert!(matches!(begin, JournalRecord::Begin { id: None, .. }));
    /// ```
    pub fn begin(urn: Urn, operation: &str) -> Self {
        JournalRecord::Begin {
            urn,
            operation: operation.to_string(),
            id: None,
            inputs: None,
            dependencies: Vec::new(),
            secret_paths: Vec::new(),
        }
    }
}

/// What a damaged-state message suggests: the commands that inspect state
/// and put a kept snapshot back.
const RECOVER: &str = "`state verify` lists every problem, `state backups` lists the snapshots kept in backups/, and `state restore <serial>` puts one back, replaying the journal over it (`--force` sets a damaged journal aside instead)";

/// Why state can't be read or written. Every variant leaves existing files
/// as they were, and its message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file couldn't be read or written.
    #[error("state file {path}: {source}; {}", io_advice(source))]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file exists but isn't valid state (truncated, edited, another format).
    #[error(
        "state file {path} is unreadable: {detail}; refusing to continue (the file was not modified). {RECOVER}"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A file's content doesn't match the checksum keel wrote with it.
    #[error(
        "state file {path}{} is damaged: {detail}; refusing to continue (the file was not modified). {RECOVER}",
        line.map(|l| format!(" line {l}")).unwrap_or_default()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The journal line (1-based), for a journal.
        line: Option<usize>,
        /// What the checksum says.
        detail: String,
    },
    /// The journal continues a snapshot other than the one on disk: the
    /// snapshot was deleted, or replaced by an older one.
    #[error(
        "journal {journal} records changes made on top of snapshot serial {base}, but {path} {}; replaying it over another snapshot would lose or repeat resources, so keel stopped (no file was modified). `state restore {base}` puts back the copy of snapshot serial {base} kept in backups/ and replays the journal over it; `state backups` lists the copies kept",
        found.map_or_else(|| "is missing".to_string(), |s| format!("has serial {s}"))
    )]
    JournalAhead {
        /// The snapshot file.
        path: PathBuf,
        /// The journal file.
        journal: PathBuf,
        /// The serial of the snapshot the journal continues.
        base: u64,
        /// The serial of the snapshot on disk, if there is one.
        found: Option<u64>,
    },
    /// Written by a newer keel.
    #[error(
        "state file {path} has schema version {found}, newer than {supported} which this keel understands; upgrade keel, or use the version that wrote it (the file was not modified)"
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
        "state file {path} belongs to stack `{found}`, not `{expected}` (the file was not modified); check `--state-dir` and the stack's name: each stack's state lives in <state-dir>/<stack>/, and one stack's files must not be copied under another's name"
    )]
    WrongStack {
        /// The file.
        path: PathBuf,
        /// The stack it names.
        found: String,
        /// The stack being run.
        expected: String,
    },
    /// A state file holds sealed secrets that can't be opened (no key, or
    /// another key), or the key can't be read.
    #[error("state file {path}: {detail} (the file was not modified; see keel::state::secrets)")]
    Secrets {
        /// The file (or where the key was looked for).
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Another keel run holds the stack.
    #[error(
        "stack is locked by {holder} (lock file {path}); the lock is released when that run ends, however it ends: wait for it to finish, or stop that process, then run again"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The process holding it (0 if it couldn't be told).
        pid: u32,
        /// Who holds it: process, host, command and how long it has run.
        holder: String,
    },
    /// `state restore` of a serial no backup has.
    #[error(
        "no backup of snapshot serial {serial} in {dir} (kept: {}); `state backups` lists them",
        if available.is_empty() { "none".to_string() } else { available.iter().map(u64::to_string).collect::<Vec<_>>().join(", ") }
    )]
    NoBackup {
        /// The backups directory.
        dir: PathBuf,
        /// The serial asked for.
        serial: u64,
        /// The serials kept.
        available: Vec<u64>,
    },
    /// `state restore` without `--force` while operations are unsettled.
    #[error(
        "not restoring: {} operation(s) began and never recorded an end ({}); the next `up` or `refresh` settles them against the cloud, so run one of those first. `--force` restores anyway: they stay listed as interrupted, and their results must then be checked by hand",
        pending.len(),
        pending.iter().map(|p| format!("{} {}", p.operation, p.urn)).collect::<Vec<_>>().join(", ")
    )]
    Unsettled {
        /// The operations.
        pending: Vec<PendingOperation>,
    },
}

/// What to do about an I/O error on a state file.
fn io_advice(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => {
            "keel may not access it: check its owner and permissions (keel creates state files 0600 and directories 0700 for the user running it) and run again; no state file was modified"
        }
        K::StorageFull | K::QuotaExceeded => {
            "free some space and run again; existing state files were left as they were"
        }
        K::IsADirectory | K::NotADirectory => {
            "something else is in the way at that path: move it away and run again; no state file was modified"
        }
        _ => {
            "fix the cause (the path, the disk, the mount) and run again; existing state files were left as they were"
        }
    }
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
    fn a_released_resource_leaves_state_and_is_remembered_until_taken_back() {
        let urn = Urn::new("s", "aws:ec2:Vpc", "main");
        let resource = ResourceState {
            urn: urn.clone(),
            type_token: "aws:ec2:Vpc".into(),
            id: "vpc-1".into(),
            inputs: Value::Null,
            outputs: Default::default(),
            dependencies: Vec::new(),
            pending_delete: false,
            repair: false,
            protect: false,
            retain_on_delete: true,
            secret_paths: Vec::new(),
        };
        let mut s = Snapshot::new("s");
        s.apply(&JournalRecord::Put {
            resource: resource.clone(),
        });
        let released = JournalRecord::Released {
            urn: urn.clone(),
            id: "vpc-1".into(),
        };
        s.apply(&released);
        s.apply(&released);
        assert!(s.resources.is_empty());
        assert_eq!(s.released.len(), 1, "replaying is harmless");
        assert!(s.is_released("vpc-1"));
        // Older state has no list; an empty list isn't written.
        let json = serde_json::to_value(Snapshot::new("s")).unwrap();
        assert!(json.get("released").is_none());
        let old: Snapshot = serde_json::from_value(json).unwrap();
        assert!(old.released.is_empty());
        // An import takes it back.
        s.apply(&JournalRecord::Put { resource });
        assert!(!s.is_released("vpc-1"));
        assert_eq!(s.resources.len(), 1);
    }

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
