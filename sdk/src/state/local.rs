//! [`LocalStore`]: state as files under `<state-dir>/<stack>/`:
//! `snapshot.json` (replaced atomically: temp file, fsync, rename, fsync of
//! the directory), `journal.jsonl` (one record a line, fsynced per append) and
//! `lock` (an OS lock held while the store is open; see `lock`).

use super::lock::StateLock;
use super::{JournalRecord, SCHEMA_VERSION, Snapshot, StateError, StateStore};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// File-backed state for one stack.
///
/// ```
/// use keel::state::{LocalStore, StateStore};
/// let dir = std::env::temp_dir().join(format!("keel-doc-{}", std::process::id()));
/// let mut store = LocalStore::open(&dir, "demo").unwrap();
/// let snapshot = store.load().unwrap();
/// assert_eq!(snapshot.stack, "demo");
/// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct LocalStore {
    dir: PathBuf,
    stack: String,
    journal: Option<File>,
    _lock: StateLock,
    /// The serial of the snapshot on disk, which journal lines build on.
    base_serial: u64,
}

/// A journal line with the serial of the snapshot it applies on top of, so
/// records already compacted into a newer snapshot are skipped on replay.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    base: u64,
    #[serde(flatten)]
    record: JournalRecord,
}

impl LocalStore {
    /// Opens (creating the directory if needed) and locks the state of
    /// `stack` under `state_dir`. Fails if another run holds it (the lock
    /// dies with its holder, so a crashed run never blocks the next).
    pub fn open(state_dir: &Path, stack: &str) -> Result<Self, StateError> {
        let dir = state_dir.join(stack);
        fs::create_dir_all(&dir).map_err(|source| StateError::Io {
            path: dir.clone(),
            source,
        })?;
        let lock = StateLock::acquire(&dir.join("lock"))?;
        Ok(Self {
            dir,
            stack: stack.to_string(),
            journal: None,
            _lock: lock,
            base_serial: 0,
        })
    }

    /// The directory holding this stack's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The snapshot file.
    pub fn snapshot_path(&self) -> PathBuf {
        self.dir.join("snapshot.json")
    }

    /// The journal file.
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    fn read_snapshot(&self) -> Result<Option<Snapshot>, StateError> {
        let path = self.snapshot_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        let version = value.get("schema_version").and_then(|v| v.as_u64());
        match version {
            None => {
                return Err(StateError::Corrupt {
                    path,
                    detail: "no schema_version".into(),
                });
            }
            Some(v) if v > u64::from(SCHEMA_VERSION) => {
                return Err(StateError::NewerSchema {
                    path,
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
        }
        let snapshot: Snapshot =
            serde_json::from_value(value).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if snapshot.stack != self.stack {
            return Err(StateError::WrongStack {
                path,
                found: snapshot.stack,
                expected: self.stack.clone(),
            });
        }
        Ok(Some(snapshot))
    }

    fn read_journal(&self, snapshot: &mut Snapshot) -> Result<(), StateError> {
        let path = self.journal_path();
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let complete = text.ends_with(b"\n");
        let lines: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_slice::<Line>(line) {
                Ok(l) if l.base >= snapshot.serial => snapshot.apply(&l.record),
                Ok(_) => {}
                // The last line of a run that died mid-write: its step never
                // counted as done, and its Begin record is already applied.
                // Cut it off so the next record starts on a line of its own.
                Err(_) if i + 1 == lines.len() && !complete => {
                    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                    let io = |source| StateError::Io {
                        path: path.clone(),
                        source,
                    };
                    let f = OpenOptions::new().write(true).open(&path).map_err(io)?;
                    f.set_len(keep as u64).map_err(io)?;
                    f.sync_all().map_err(io)?;
                }
                Err(e) => {
                    return Err(StateError::Corrupt {
                        path,
                        detail: format!("line {}: {e}", i + 1),
                    });
                }
            }
        }
        Ok(())
    }
}

impl StateStore for LocalStore {
    fn load(&mut self) -> Result<Snapshot, StateError> {
        let mut snapshot = self
            .read_snapshot()?
            .unwrap_or_else(|| Snapshot::new(&self.stack));
        self.base_serial = snapshot.serial;
        self.read_journal(&mut snapshot)?;
        Ok(snapshot)
    }

    fn append(&mut self, record: &JournalRecord) -> Result<(), StateError> {
        let path = self.journal_path();
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        if self.journal.is_none() {
            let created = !path.exists();
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io)?;
            if created {
                // A new file's name is durable only once its directory is.
                File::open(&self.dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io)?;
            }
            self.journal = Some(f);
        }
        let base = self.base_serial;
        let mut line = serde_json::to_vec(&Line {
            base,
            record: record.clone(),
        })
        .map_err(|e| StateError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        let f = self
            .journal
            .as_mut()
            .ok_or_else(|| io(ErrorKind::NotFound.into()))?;
        f.write_all(&line).map_err(io)?;
        f.sync_data().map_err(io)
    }

    fn compact(&mut self, snapshot: &Snapshot) -> Result<(), StateError> {
        let path = self.snapshot_path();
        let tmp = self.dir.join("snapshot.json.tmp");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| StateError::Io { path: p, source }
        };
        let json = serde_json::to_vec_pretty(snapshot).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&json).map_err(io(&tmp))?;
            f.write_all(b"\n").map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        self.base_serial = snapshot.serial;
        self.journal = None;
        match fs::remove_file(self.journal_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io {
                path: self.journal_path(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Urn;
    use crate::state::ResourceState;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "keel-state-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn put(name: &str, id: &str) -> JournalRecord {
        JournalRecord::Put {
            resource: ResourceState {
                urn: Urn::new("s", "aws:ec2:Vpc", name),
                type_token: "aws:ec2:Vpc".into(),
                id: id.into(),
                inputs: serde_json::json!({"cidr_block": "10.0.0.0/16"}),
                outputs: Default::default(),
                dependencies: vec![],
                pending_delete: false,
                protect: false,
                retain_on_delete: false,
            },
        }
    }

    #[test]
    fn journal_survives_a_crash_and_compaction_clears_it() {
        let d = dir();
        {
            let mut store = LocalStore::open(&d, "s").unwrap();
            let mut snap = store.load().unwrap();
            for r in [put("a", "vpc-1"), put("b", "vpc-2")] {
                store.append(&r).unwrap();
                snap.apply(&r);
            }
            // "crash": dropped without compacting
        }
        let mut store = LocalStore::open(&d, "s").unwrap();
        let mut snap = store.load().unwrap();
        assert_eq!(snap.resources.len(), 2);
        snap.serial += 1;
        store.compact(&snap).unwrap();
        assert!(!store.journal_path().exists());
        let again = store.load().unwrap();
        assert_eq!(again, snap);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn torn_last_line_is_ignored_but_a_torn_middle_line_is_corruption() {
        let d = dir();
        let mut store = LocalStore::open(&d, "s").unwrap();
        store.load().unwrap();
        store
            .append(&JournalRecord::Begin {
                urn: Urn::new("s", "aws:ec2:Vpc", "a"),
                operation: "create".into(),
            })
            .unwrap();
        store.append(&put("a", "vpc-1")).unwrap();
        let path = store.journal_path();
        let mut text = fs::read(&path).unwrap();
        text.extend_from_slice(br#"{"base":0,"record":"put","resou"#);
        fs::write(&path, &text).unwrap();
        let snap = store.load().unwrap();
        assert_eq!(snap.resources.len(), 1);
        assert!(
            snap.pending_operations.is_empty(),
            "the begin was closed by its put"
        );
        // The torn bytes were cut off: the next record gets a line of its own.
        store.append(&put("b", "vpc-2")).unwrap();
        assert_eq!(store.load().unwrap().resources.len(), 2);

        text.extend_from_slice(b"\n");
        text.extend_from_slice(&fs::read(&path).unwrap()[..10]);
        fs::write(&path, &text).unwrap();
        assert!(matches!(store.load(), Err(StateError::Corrupt { .. })));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_unfinished_operation_is_reported_as_pending() {
        let d = dir();
        let mut store = LocalStore::open(&d, "s").unwrap();
        store.load().unwrap();
        store
            .append(&JournalRecord::Begin {
                urn: Urn::new("s", "aws:ec2:Vpc", "a"),
                operation: "create".into(),
            })
            .unwrap();
        let snap = store.load().unwrap();
        assert_eq!(snap.pending_operations.len(), 1);
        assert_eq!(snap.pending_operations[0].operation, "create");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn records_compacted_into_a_newer_snapshot_are_not_replayed() {
        let d = dir();
        let mut store = LocalStore::open(&d, "s").unwrap();
        let mut snap = store.load().unwrap();
        let r = put("a", "vpc-1");
        store.append(&r).unwrap();
        snap.apply(&r);
        let stale = fs::read(store.journal_path()).unwrap();
        // The resource is deleted in the next run, then the old journal
        // reappears (a crash between rename and journal removal).
        snap.serial += 1;
        store.compact(&snap).unwrap();
        let gone = JournalRecord::Removed {
            urn: Urn::new("s", "aws:ec2:Vpc", "a"),
            id: "vpc-1".into(),
        };
        snap.apply(&gone);
        snap.serial += 1;
        store.compact(&snap).unwrap();
        fs::write(store.journal_path(), stale).unwrap();
        assert!(store.load().unwrap().resources.is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn appending_costs_the_same_whatever_the_stack_size() {
        // The journal grows by one line per record; the snapshot is not
        // rewritten while a run records steps.
        let d = dir();
        let mut store = LocalStore::open(&d, "s").unwrap();
        let mut snap = store.load().unwrap();
        for i in 0..200 {
            let r = put(&format!("r{i}"), &format!("vpc-{i}"));
            let before = fs::metadata(store.journal_path())
                .map(|m| m.len())
                .unwrap_or(0);
            store.append(&r).unwrap();
            snap.apply(&r);
            let grew = fs::metadata(store.journal_path()).unwrap().len() - before;
            assert!(grew < 400, "record {i} took {grew} bytes");
        }
        assert!(!store.snapshot_path().exists());
        fs::remove_dir_all(&d).unwrap();
    }
}
