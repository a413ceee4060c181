//! [`LocalStore`]: state as files under `<state-dir>/<stack>/`:
//! `snapshot.json` (replaced atomically: temp file, fsync, rename, fsync of
//! the directory), `journal.jsonl` (one record a line, fsynced per append),
//! `backups/` (a copy of each snapshot written, the last N; see `backups`)
//! and `lock` (an OS lock held while the store is open; see `lock`). The
//! snapshot and every journal line carry a checksum (see `format`); files
//! are private to their owner (see `files`).

use super::files::{self, create_private_dir_all, private_options};
use super::format::{self, Seal, Style};
use super::lock::StateLock;
use super::{JournalRecord, SCHEMA_VERSION, Snapshot, StateError, StateStore};
use serde_json::Value;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// How many snapshots `backups/` keeps unless told otherwise.
pub const DEFAULT_BACKUPS: usize = 10;

/// File-backed state for one stack.
///
/// ```
/// use keel::state::{LocalStore, StateStore};
/// let dir = std::env::temp_dir().join(format!("keel-doc-{}", std::process::id()));
/// let mut store = LocalStore::open(&dir, "demo").unwrap().keep_backups(3);
/// let mut snapshot = store.load().unwrap();
/// assert_eq!(snapshot.stack, "demo");
/// snapshot.serial += 1;
/// store.compact(&snapshot).unwrap();
/// assert_eq!(store.backups().unwrap()[0].serial, 1);
/// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct LocalStore {
    pub(super) dir: PathBuf,
    pub(super) stack: String,
    journal: Option<File>,
    _lock: StateLock,
    /// The serial of the snapshot on disk, which journal lines build on.
    base_serial: u64,
    /// Whether `base_serial` was read from or written to `snapshot.json`.
    on_disk: bool,
    pub(super) keep: usize,
}

/// A journal line with the serial of the snapshot it applies on top of, so
/// records already compacted into a newer snapshot are skipped on replay.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    base: u64,
    #[serde(flatten)]
    record: JournalRecord,
}

/// A journal file as read, before anything is repaired.
#[derive(Default)]
pub(super) struct Journal {
    /// Each record with the serial it builds on, in order.
    pub(super) records: Vec<(u64, JournalRecord)>,
    /// Where a torn last line starts (a run died writing it).
    torn: Option<u64>,
    /// The last line is whole but its newline never made it to disk.
    unterminated: bool,
    /// Some line carries no checksum (written before checksums).
    pub(super) unchecked: bool,
}

impl LocalStore {
    /// Opens (creating the directory if needed) and locks the state of
    /// `stack` under `state_dir`. Fails if another run holds it (the lock
    /// dies with its holder, so a crashed run never blocks the next).
    pub fn open(state_dir: &Path, stack: &str) -> Result<Self, StateError> {
        let dir = state_dir.join(stack);
        create_private_dir_all(&dir).map_err(|source| StateError::Io {
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
            on_disk: false,
            keep: DEFAULT_BACKUPS,
        })
    }

    /// Keeps the last `n` snapshots in `backups/` ([`DEFAULT_BACKUPS`]
    /// unless told); 0 keeps none.
    pub fn keep_backups(mut self, n: usize) -> Self {
        self.keep = n;
        self
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

    /// Forgets the snapshot and journal on disk (before `restore` replaces
    /// them, having kept copies itself).
    pub(super) fn forget_disk(&mut self) {
        self.on_disk = false;
        self.journal = None;
    }

    /// Reads a snapshot file (the current one or a backup): `None` if there
    /// is none; refused if damaged, newer, or another stack's.
    pub(super) fn read_snapshot_at(
        &self,
        path: &Path,
    ) -> Result<Option<(Snapshot, Seal)>, StateError> {
        let bytes = match fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let corrupt = |detail: String| StateError::Corrupt {
            path: path.to_path_buf(),
            detail,
        };
        let text =
            std::str::from_utf8(&bytes).map_err(|e| corrupt(format!("not UTF-8 text: {e}")))?;
        let (object, seal) = format::open(text, Style::Pretty).map_err(corrupt)?;
        match object.get("schema_version").and_then(Value::as_u64) {
            None => return Err(corrupt("no schema_version".into())),
            Some(v) if v > u64::from(SCHEMA_VERSION) => {
                return Err(StateError::NewerSchema {
                    path: path.to_path_buf(),
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
        }
        if let Seal::Mismatch(detail) = seal {
            return Err(StateError::Checksum {
                path: path.to_path_buf(),
                line: None,
                detail,
            });
        }
        let snapshot: Snapshot =
            serde_json::from_value(Value::Object(object)).map_err(|e| corrupt(e.to_string()))?;
        if snapshot.stack != self.stack {
            return Err(StateError::WrongStack {
                path: path.to_path_buf(),
                found: snapshot.stack,
                expected: self.stack.clone(),
            });
        }
        Ok(Some((snapshot, seal)))
    }

    /// Reads the journal without changing it: `None` if there is none.
    pub(super) fn read_journal_file(&self) -> Result<Option<Journal>, StateError> {
        let path = self.journal_path();
        let bytes = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let complete = bytes.ends_with(b"\n");
        let lines: Vec<(usize, &[u8])> = bytes
            .split(|&b| b == b'\n')
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .collect();
        let mut journal = Journal::default();
        for (k, &(i, line)) in lines.iter().enumerate() {
            let last = k + 1 == lines.len() && !complete;
            let corrupt = |detail: String| StateError::Corrupt {
                path: path.clone(),
                detail: format!("line {}: {detail}", i + 1),
            };
            let opened = std::str::from_utf8(line)
                .map_err(|e| format!("not UTF-8 text: {e}"))
                .and_then(|text| format::open(text, Style::Compact));
            let (object, seal) = match opened {
                Ok(o) => o,
                // The last line of a run that died mid-write: its step never
                // counted as done, and its Begin record is already applied.
                Err(_) if last => {
                    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                    journal.torn = Some(keep as u64);
                    break;
                }
                Err(detail) => return Err(corrupt(detail)),
            };
            match seal {
                Seal::Mismatch(detail) => {
                    return Err(StateError::Checksum {
                        path,
                        line: Some(i + 1),
                        detail,
                    });
                }
                Seal::Absent => journal.unchecked = true,
                Seal::Verified => {}
            }
            let l: Line = serde_json::from_value(Value::Object(object))
                .map_err(|e| corrupt(e.to_string()))?;
            journal.records.push((l.base, l.record));
            journal.unterminated = last;
        }
        Ok(Some(journal))
    }

    /// Replays `journal` over `snapshot` (read from disk if `on_disk`), in
    /// memory; refused if the journal continues a later snapshot.
    pub(super) fn replay(
        &self,
        journal: &Journal,
        snapshot: &mut Snapshot,
        on_disk: bool,
    ) -> Result<(), StateError> {
        if let Some(&(base, _)) = journal.records.iter().max_by_key(|(b, _)| *b)
            && base > snapshot.serial
        {
            return Err(StateError::JournalAhead {
                path: self.snapshot_path(),
                journal: self.journal_path(),
                base,
                found: on_disk.then_some(snapshot.serial),
            });
        }
        for (base, record) in &journal.records {
            if *base >= snapshot.serial {
                snapshot.apply(record);
            }
        }
        Ok(())
    }

    /// Cuts off a torn last line, or ends a whole last line whose newline
    /// was lost, so the next record starts on a line of its own.
    fn repair_journal(&self, journal: &Journal) -> Result<(), StateError> {
        let path = self.journal_path();
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        if let Some(keep) = journal.torn {
            let f = OpenOptions::new().write(true).open(&path).map_err(io)?;
            f.set_len(keep).map_err(io)?;
            f.sync_all().map_err(io)?;
        } else if journal.unterminated {
            let mut f = OpenOptions::new().append(true).open(&path).map_err(io)?;
            f.write_all(b"\n").map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        Ok(())
    }
}

impl StateStore for LocalStore {
    fn load(&mut self) -> Result<Snapshot, StateError> {
        let found = self.read_snapshot_at(&self.snapshot_path())?;
        let on_disk = found.is_some();
        let mut snapshot = found.map_or_else(|| Snapshot::new(&self.stack), |(s, _)| s);
        self.base_serial = snapshot.serial;
        self.on_disk = on_disk;
        if let Some(journal) = self.read_journal_file()? {
            self.replay(&journal, &mut snapshot, on_disk)?;
            self.repair_journal(&journal)?;
        }
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
            let f = private_options()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io)?;
            if created {
                // A new file's name is durable only once its directory is.
                files::sync_dir(&self.dir).map_err(io)?;
            }
            self.journal = Some(f);
        }
        let base = self.base_serial;
        let line = serde_json::to_vec(&Line {
            base,
            record: record.clone(),
        })
        .map_err(|e| StateError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let mut line = format::seal(&line, Style::Compact);
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
        let json = serde_json::to_vec_pretty(snapshot).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let mut sealed = format::seal(&json, Style::Pretty);
        sealed.push(b'\n');
        // The snapshot being replaced and the new one are both in backups/
        // before snapshot.json changes.
        if self.on_disk {
            self.keep_previous(self.base_serial)?;
        }
        self.keep_copy(snapshot.serial, &sealed)?;
        files::replace(&path, &sealed).map_err(|(path, source)| StateError::Io { path, source })?;
        self.base_serial = snapshot.serial;
        self.on_disk = true;
        self.journal = None;
        self.prune_backups();
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
                repair: false,
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
            .append(&JournalRecord::begin(
                Urn::new("s", "aws:ec2:Vpc", "a"),
                "create",
            ))
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
            .append(&JournalRecord::begin(
                Urn::new("s", "aws:ec2:Vpc", "a"),
                "create",
            ))
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
