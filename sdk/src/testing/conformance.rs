//! The state store conformance suite, like Terraform's `statemgr.TestFull`:
//! one set of checks every [`StateStore`] must pass — the local file store,
//! the in-memory store, and any store added later (S3) or written by a user.

use crate::resource::Urn;
use crate::state::{JournalRecord, ResourceState, StateStore};
use serde_json::json;

fn urn(stack: &str, name: &str) -> Urn {
    Urn::new(stack, "aws:ec2:Vpc", name)
}

fn put(stack: &str, name: &str, id: &str) -> JournalRecord {
    JournalRecord::Put {
        resource: ResourceState {
            urn: urn(stack, name),
            type_token: "aws:ec2:Vpc".into(),
            id: id.into(),
            inputs: json!({"cidr_block": "10.0.0.0/16"}),
            outputs: json!({"id": id}).as_object().cloned().unwrap_or_default(),
            dependencies: Vec::new(),
            pending_delete: false,
            repair: false,
            protect: false,
            retain_on_delete: false,
        },
    }
}

fn begin(stack: &str, name: &str, operation: &str) -> JournalRecord {
    JournalRecord::begin(urn(stack, name), operation)
}

/// Runs the suite against stores made by `open`, which opens the state of
/// stack `stack` afresh each time it is called (a new process reading the
/// same state); the suite drops each store before opening the next. Panics
/// with the broken rule's description on the first failure.
///
/// ```
/// use keel::state::MemoryStore;
/// let shared = MemoryStore::new("conformance");
/// keel::testing::state_conformance("conformance", || shared.clone());
/// ```
pub fn state_conformance<S, F>(stack: &str, mut open: F)
where
    S: StateStore,
    F: FnMut() -> S,
{
    // 1. Nothing saved: an empty snapshot of this stack.
    let mut store = open();
    let empty = store.load().expect("load empty state");
    assert_eq!(empty.stack, stack, "a new snapshot names its stack");
    assert!(
        empty.resources.is_empty() && empty.pending_operations.is_empty(),
        "a new snapshot is empty"
    );
    assert_eq!(empty.serial, 0, "a new snapshot has serial 0");

    // 2. Appended records survive without compaction (a crash).
    store.append(&begin(stack, "a", "create")).expect("append");
    store.append(&put(stack, "a", "vpc-1")).expect("append");
    store.append(&begin(stack, "b", "create")).expect("append");
    drop(store);
    let mut store = open();
    let crashed = store.load().expect("load after a crash");
    assert_eq!(
        crashed.resources.len(),
        1,
        "a finished step survives a crash"
    );
    assert_eq!(crashed.resources[0].id, "vpc-1");
    assert_eq!(
        crashed.pending_operations.len(),
        1,
        "a begin without an end is reported as pending"
    );
    assert_eq!(crashed.pending_operations[0].urn, urn(stack, "b"));

    // 3. Compaction replaces the snapshot and clears the journal.
    let mut compacted = crashed.clone();
    compacted.pending_operations.clear();
    compacted.serial += 1;
    store.compact(&compacted).expect("compact");
    drop(store);
    let mut store = open();
    let reloaded = store.load().expect("load after compaction");
    assert_eq!(reloaded, compacted, "the compacted snapshot is what loads");

    // 4. Records after a compaction apply on top of it, once.
    store.append(&put(stack, "b", "vpc-2")).expect("append");
    store
        .append(&JournalRecord::Removed {
            urn: urn(stack, "a"),
            id: "vpc-1".into(),
        })
        .expect("append");
    drop(store);
    let mut store = open();
    let after = store.load().expect("load");
    let ids: Vec<&str> = after.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["vpc-2"], "puts and removes replay over the snapshot");
    assert_eq!(
        after.lineage, compacted.lineage,
        "the lineage never changes"
    );
    let mut next = after.clone();
    next.serial += 1;
    store.compact(&next).expect("compact");
    drop(store);
    let mut store = open();
    assert_eq!(
        store.load().expect("load"),
        next,
        "records compacted into a snapshot are not replayed again"
    );
}
