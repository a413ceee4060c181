//! Backups of a [`LocalStore`]'s snapshots, in `<stack dir>/backups/`: each
//! compaction writes a copy of the new snapshot as `snapshot.<serial>.json`
//! (and of the one it replaces, if that has none yet) before `snapshot.json`
//! changes, and the oldest beyond the store's limit are pruned. So a damaged
//! or lost `snapshot.json` has an identical copy to go back to, and earlier
//! states stay at hand. [`LocalStore::restore`] puts one back; whatever it
//! replaces is copied to `backups/set-aside.<time>.*` first, and those files
//! are never pruned.

use super::files::{self, create_private_dir_all};
use super::{LocalStore, Snapshot, StateError};
use serde::Serialize;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// One kept snapshot, as [`LocalStore::backups`] lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Backup {
    /// The snapshot's serial (`state restore <serial>` puts it back).
    pub serial: u64,
    /// The file.
    pub path: PathBuf,
    /// When it was written, in seconds since the Unix epoch.
    pub written: Option<u64>,
    /// How many live resources it records, if it is readable.
    pub resources: Option<usize>,
    /// Why it can't be restored, if it can't.
    pub damage: Option<String>,
}

/// What [`LocalStore::restore`] did.
#[derive(Clone, Debug, Serialize)]
pub struct Restored {
    /// The serial of the backup put back.
    pub from: u64,
    /// The serial of the snapshot now current (above every serial seen, so
    /// no stale journal line is ever replayed over it).
    pub serial: u64,
    /// Journal records replayed over it.
    pub replayed: usize,
    /// Copies of what it replaced, in `backups/`.
    pub set_aside: Vec<PathBuf>,
}

impl LocalStore {
    /// The directory of kept snapshots.
    pub fn backups_dir(&self) -> PathBuf {
        self.dir.join("backups")
    }

    pub(super) fn backup_path(&self, serial: u64) -> PathBuf {
        self.backups_dir().join(format!("snapshot.{serial}.json"))
    }

    /// The serials of the kept snapshots, oldest first.
    pub(super) fn backup_serials(&self) -> Result<Vec<u64>, StateError> {
        let dir = self.backups_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StateError::Io { path: dir, source }),
        };
        let mut serials = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| StateError::Io {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let serial = name.to_str().and_then(|n| {
                n.strip_prefix("snapshot.")?
                    .strip_suffix(".json")?
                    .parse::<u64>()
                    .ok()
            });
            serials.extend(serial);
        }
        serials.sort_unstable();
        Ok(serials)
    }

    /// The kept snapshots, newest first, each read and checked.
    ///
    /// ```
    /// use keel::state::{LocalStore, StateStore};
    /// let dir = std::env::temp_dir().join(format!("keel-doc-backups-{}", std::process::id()));
    /// let mut store = LocalStore::open(&dir, "demo").unwrap().keep_backups(2);
    /// let mut snapshot = store.load().unwrap();
    /// for _ in 0..3 {
    ///     snapshot.serial += 1;
    ///     store.compact(&snapshot).unwrap();
    /// }
    /// let serials: Vec<u64> = store.backups().unwrap().iter().map(|b| b.serial).collect();
    /// assert_eq!(serials, [3, 2]);
    /// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn backups(&self) -> Result<Vec<Backup>, StateError> {
        let mut backups = Vec::new();
        for serial in self.backup_serials()?.into_iter().rev() {
            let path = self.backup_path(serial);
            let written = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            let (resources, damage) = match self.read_snapshot_at(&path) {
                Ok(Some((s, _))) if s.serial == serial => (Some(live(&s)), None),
                Ok(Some((s, _))) => (None, Some(format!("it holds serial {}", s.serial))),
                Ok(None) => continue, // pruned meanwhile
                Err(e) => (None, Some(e.to_string())),
            };
            backups.push(Backup {
                serial,
                path,
                written,
                resources,
                damage,
            });
        }
        Ok(backups)
    }

    /// Copies `restore` and others set aside in `backups/`, oldest first.
    pub fn set_aside(&self) -> Result<Vec<PathBuf>, StateError> {
        let dir = self.backups_dir();
        let mut found: Vec<PathBuf> = match fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("set-aside."))
                })
                .collect(),
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(StateError::Io { path: dir, source }),
        };
        found.sort();
        Ok(found)
    }

    /// Writes `bytes` (a sealed snapshot) as the backup of `serial`.
    pub(super) fn keep_copy(&self, serial: u64, bytes: &[u8]) -> Result<(), StateError> {
        if self.keep == 0 {
            return Ok(());
        }
        self.write_backup(&self.backup_path(serial), bytes)
    }

    /// Makes sure the snapshot on disk, of `serial`, has a backup before it
    /// is replaced (one written before backups existed has none).
    pub(super) fn keep_previous(&self, serial: u64) -> Result<(), StateError> {
        if self.keep == 0 || self.backup_path(serial).exists() {
            return Ok(());
        }
        let path = self.snapshot_path();
        match fs::read(&path) {
            Ok(bytes) => self.keep_copy(serial, &bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    fn write_backup(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        let io = |(path, source)| StateError::Io { path, source };
        let dir = self.backups_dir();
        create_private_dir_all(&dir).map_err(|e| io((dir.clone(), e)))?;
        files::replace(path, bytes).map_err(io)
    }

    /// Removes the oldest backups beyond the limit. Best effort: a backup
    /// left over is harmless, and the next compaction prunes again.
    pub(super) fn prune_backups(&self) {
        if let Ok(serials) = self.backup_serials() {
            let extra = serials.len().saturating_sub(self.keep.max(1));
            for serial in &serials[..extra] {
                let _ = fs::remove_file(self.backup_path(*serial));
            }
        }
    }

    /// Makes the backup of `serial` the current snapshot. The journal's
    /// records from the current run are replayed over it (a `put` or a
    /// `removed` says what the cloud now holds, whichever snapshot it lands
    /// on), it gets a serial above every one seen, and the current snapshot
    /// and journal are first copied to `backups/set-aside.<time>.*` unless
    /// a backup already holds them: nothing is lost, and restoring again
    /// undoes it. Refused if the backup is damaged, or, without `force`,
    /// while operations began and never ended (the next `up` or `refresh`
    /// settles them) or while the journal is damaged (with `force` it is set
    /// aside unreplayed).
    ///
    /// ```
    /// use keel::state::{LocalStore, StateStore};
    /// let dir = std::env::temp_dir().join(format!("keel-doc-restore-{}", std::process::id()));
    /// let mut store = LocalStore::open(&dir, "demo").unwrap();
    /// let mut snapshot = store.load().unwrap();
    /// snapshot.serial += 1;
    /// store.compact(&snapshot).unwrap();
    /// std::fs::write(store.snapshot_path(), "{ damaged").unwrap();
    /// assert!(store.load().is_err());
    /// let restored = store.restore(1, false).unwrap();
    /// assert_eq!((restored.from, restored.serial), (1, 2));
    /// assert_eq!(store.load().unwrap().serial, 2);
    /// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn restore(&mut self, serial: u64, force: bool) -> Result<Restored, StateError> {
        let available = self.backup_serials()?;
        let (mut restored, _) = self
            .read_snapshot_at(&self.backup_path(serial))?
            .ok_or_else(|| StateError::NoBackup {
                dir: self.backups_dir(),
                serial,
                available: available.clone(),
            })?;
        let current_path = self.snapshot_path();
        let current_bytes = read_if_present(&current_path)?;
        let current = self
            .read_snapshot_at(&current_path)
            .ok()
            .flatten()
            .map(|(s, _)| s);
        // A damaged snapshot may still say which serial it was.
        let current_serial = current.as_ref().map(|s| s.serial).or_else(|| {
            let value: serde_json::Value =
                serde_json::from_slice(current_bytes.as_deref()?).ok()?;
            value.get("serial")?.as_u64()
        });
        let journal_bytes = read_if_present(&self.journal_path())?;
        let journal = match self.read_journal_file() {
            Ok(j) => j.unwrap_or_default(),
            Err(e) if !force => return Err(e),
            Err(_) => Default::default(), // set aside below, unreplayed
        };
        let newest_base = journal.records.iter().map(|(b, _)| *b).max();
        let cutoff = current_serial.or(newest_base).unwrap_or(0);
        let records: Vec<_> = journal
            .records
            .iter()
            .filter(|(b, _)| *b >= cutoff)
            .map(|(_, r)| r)
            .collect();
        // What the next run would find unsettled.
        let mut probe = current
            .clone()
            .unwrap_or_else(|| Snapshot::new(&self.stack));
        records.iter().for_each(|r| probe.apply(r));
        if !probe.pending_operations.is_empty() && !force {
            return Err(StateError::Unsettled {
                pending: probe.pending_operations,
            });
        }

        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut set_aside = Vec::new();
        if let Some(bytes) = &current_bytes {
            let kept = current_serial
                .and_then(|s| fs::read(self.backup_path(s)).ok())
                .is_some_and(|b| &b == bytes);
            if !kept {
                let label = current_serial.map_or_else(|| "unknown".to_string(), |s| s.to_string());
                let path = self
                    .backups_dir()
                    .join(format!("set-aside.{stamp}.snapshot.{label}.json"));
                self.write_backup(&path, bytes)?;
                set_aside.push(path);
            }
        }
        if let Some(bytes) = journal_bytes.filter(|b| !b.is_empty()) {
            let path = self
                .backups_dir()
                .join(format!("set-aside.{stamp}.journal.jsonl"));
            self.write_backup(&path, &bytes)?;
            set_aside.push(path);
        }

        let highest = [current_serial, newest_base, available.last().copied()]
            .into_iter()
            .flatten()
            .fold(serial, u64::max);
        records.iter().for_each(|r| restored.apply(r));
        restored.serial = highest + 1;
        // What it replaces is kept above, not by compaction.
        self.forget_disk();
        super::StateStore::compact(self, &restored)?;
        Ok(Restored {
            from: serial,
            serial: restored.serial,
            replayed: records.len(),
            set_aside,
        })
    }
}

/// How many live (not pending-delete) resources `snapshot` records.
pub(super) fn live(snapshot: &Snapshot) -> usize {
    snapshot
        .resources
        .iter()
        .filter(|r| !r.pending_delete)
        .count()
}

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
