//! The lock that keeps two runs off one stack's state: an OS file lock
//! (`flock` on Unix, `LockFileEx` on Windows, through
//! [`std::fs::File::try_lock`]) on `<stack dir>/lock`, held while the store
//! is open and released by the OS when the holder exits, however it exits.
//! There are no stale locks to take over and so no takeover race. The file's
//! content only describes the holder (process, host, command, start time)
//! for the refusal message; the file is never deleted, since deleting a lock
//! file lets two runs lock two different files.

use super::StateError;
use serde::{Deserialize, Serialize};
use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Who holds a lock, as the holder wrote it.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    host: String,
    command: String,
    /// Seconds since the Unix epoch.
    started: u64,
}

impl Holder {
    fn me() -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "this host".to_string());
        Self {
            pid: std::process::id(),
            host,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            started: now(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "process {} on {} (`{}`), running for {} s",
            self.pid,
            self.host,
            self.command,
            now().saturating_sub(self.started)
        )
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub(super) struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock at `path`, or says who holds it.
    pub(super) fn acquire(path: &Path) -> Result<Self, StateError> {
        let io = |source| StateError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = super::files::private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                let holder = serde_json::to_string(&Holder::me()).unwrap_or_default();
                file.set_len(0).map_err(io)?;
                file.write_all(holder.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(Self { _file: file })
            }
            Err(TryLockError::WouldBlock) => Err(refusal(path.to_path_buf())),
            Err(TryLockError::Error(source)) => Err(io(source)),
        }
    }
}

/// The error for a lock someone else holds, naming them if the file says.
fn refusal(path: PathBuf) -> StateError {
    // The holder may be writing its description this very moment.
    let holder = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<Holder>(&text).ok());
    StateError::Locked {
        pid: holder.as_ref().map_or(0, |h| h.pid),
        holder: holder.map_or_else(|| "another keel run".to_string(), |h| h.describe()),
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("keel-lock-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lock");
        // A lock file left by a run that died is no obstacle.
        std::fs::write(
            &path,
            "{\"pid\":999999,\"host\":\"gone\",\"command\":\"x\",\"started\":0}",
        )
        .unwrap();
        let first = StateLock::acquire(&path).unwrap();
        match StateLock::acquire(&path) {
            Err(StateError::Locked { pid, holder, .. }) => {
                assert_eq!(pid, std::process::id());
                assert!(
                    holder.starts_with(&format!("process {}", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("expected the lock to hold, got {other:?}"),
        }
        drop(first);
        let again = StateLock::acquire(&path);
        assert!(again.is_ok(), "{again:?}");
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
