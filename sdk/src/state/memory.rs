//! [`MemoryStore`]: state kept in memory, for tests and for programs that
//! embed keel and keep state themselves. Clones share one state, so a clone
//! opened again after a "crash" (the first one dropped without compacting)
//! sees the journal the first one left, exactly as a reopened file store
//! does. It passes the same conformance suite as every store
//! ([`crate::testing::state_conformance`]).

use super::{JournalRecord, Snapshot, StateError, StateStore};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Saved {
    snapshot: Option<Snapshot>,
    journal: Vec<JournalRecord>,
}

/// State in memory, shared by clones.
///
/// ```
/// use keel::state::{JournalRecord, MemoryStore, StateStore};
/// use keel::Urn;
/// let mut store = MemoryStore::new("demo");
/// let reopened = store.clone();
/// assert!(store.load().unwrap().resources.is_empty());
/// store
///     .append(&JournalRecord::begin(Urn::new("demo", "aws:ec2:Vpc", "main"), "create"))
///     .unwrap();
/// drop(store); // no compaction: the journal is what survives
/// assert_eq!(reopened.clone().load().unwrap().pending_operations.len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct MemoryStore {
    stack: String,
    saved: Arc<Mutex<Saved>>,
}

impl MemoryStore {
    /// An empty store for stack `stack`.
    pub fn new(stack: &str) -> Self {
        Self {
            stack: stack.to_string(),
            saved: Arc::default(),
        }
    }

    fn saved(&self) -> std::sync::MutexGuard<'_, Saved> {
        // A poisoned lock means a panic elsewhere mid-call; the data is
        // plain and each call leaves it whole.
        self.saved.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StateStore for MemoryStore {
    fn load(&mut self) -> Result<Snapshot, StateError> {
        let saved = self.saved();
        let mut snapshot = saved
            .snapshot
            .clone()
            .unwrap_or_else(|| Snapshot::new(&self.stack));
        for record in &saved.journal {
            snapshot.apply(record);
        }
        Ok(snapshot)
    }

    fn append(&mut self, record: &JournalRecord) -> Result<(), StateError> {
        self.saved().journal.push(record.clone());
        Ok(())
    }

    fn compact(&mut self, snapshot: &Snapshot) -> Result<(), StateError> {
        let mut saved = self.saved();
        saved.snapshot = Some(snapshot.clone());
        saved.journal.clear();
        Ok(())
    }
}
