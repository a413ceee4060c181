//! Persistence of the simulated cloud: the whole [`Cloud`] as one pretty JSON
//! file, replaced atomically (temporary file in the same directory, fsync,
//! rename) so a crash leaves either the old cloud or the new one. A file that
//! doesn't parse is an error, never a silent reset. This module owns the file
//! format and its errors, and [`Shared`]: the file as every simulator that
//! opens it shares it (other processes included), one call at a time under
//! an OS lock, reloaded when another one changed it and saved only when
//! this call changed it. When to call is the provider's business.

use super::cloud::{Cloud, FORMAT};
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why the simulated cloud couldn't be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum SimStoreError {
    /// The file exists but can't be read, or can't be written.
    #[error("simulated cloud {}: {source}", path.display())]
    Io {
        /// The cloud file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file isn't a simulated cloud this version understands.
    #[error(
        "simulated cloud {} is corrupt ({message}); move it away to start with an empty cloud",
        path.display()
    )]
    Corrupt {
        /// The cloud file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SimStoreError + '_ {
    move |source| SimStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Loads the cloud at `path`; `None` if there is no file yet.
fn load(path: &Path) -> Result<Option<Cloud>, SimStoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path)(e)),
    };
    let corrupt = |message: String| SimStoreError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let cloud: Cloud = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    if cloud.format != FORMAT {
        return Err(corrupt(format!(
            "format {} where this keel writes format {FORMAT}",
            cloud.format
        )));
    }
    Ok(Some(cloud))
}

/// `cloud` as the file has it.
fn encode(path: &Path, cloud: &Cloud) -> Result<String, SimStoreError> {
    let mut json = serde_json::to_string_pretty(cloud).map_err(|e| SimStoreError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    json.push('\n');
    Ok(json)
}

/// Replaces the file at `path` with `json`, atomically.
fn write(path: &Path, json: &str) -> Result<(), SimStoreError> {
    let err = io_error(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cloud.json".to_string());
    crate::state::files::create_private_dir_all(&dir).map_err(io_error(path))?;
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = crate::state::files::create_private(&tmp)?;
        file.write_all(json.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // Best effort: don't leave a stray temporary file behind.
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    // Make the rename itself durable where directories can be synced.
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The cloud file shared by every simulator that opens it, other processes
/// included. Each call holds an exclusive OS lock on the lock file beside it
/// (`cloud.json.lock`; `std`'s `File::lock`: `flock` or `LockFileEx`, so it
/// dies with its holder), and the lock file holds a token that changes
/// before every save: a handle whose token differs reloads the cloud before
/// the call, so no handle ever saves over another's change.
pub(super) struct Shared {
    path: PathBuf,
    lock: fs::File,
    /// The token the cloud this handle has was loaded or saved under;
    /// `None` if unknown (then the next call reloads).
    token: Option<u64>,
    /// The cloud as last loaded or saved, with its clock left out: a call
    /// that changed only the clock saves nothing.
    saved: String,
}

/// A [`Shared`] cloud file, locked; unlocked when dropped.
pub(super) struct Held<'a>(&'a mut Shared);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Closing the file would release it too; the handle stays open.
        let _ = self.0.lock.unlock();
    }
}

impl Shared {
    /// Opens the cloud file at `path` for sharing: its lock file (created,
    /// with its directory, if missing) and the cloud, `None` if there is
    /// none yet.
    pub(super) fn open(path: &Path) -> Result<(Self, Option<Cloud>), SimStoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::state::files::create_private_dir_all(dir).map_err(io_error(path))?;
        }
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path.with_file_name(name))
            .map_err(io_error(path))?;
        let mut shared = Self {
            path: path.to_path_buf(),
            lock,
            token: None,
            saved: String::new(),
        };
        let cloud = shared.hold()?.reload()?;
        Ok((shared, cloud))
    }

    /// Takes the lock, waiting while another call holds it.
    pub(super) fn hold(&mut self) -> Result<Held<'_>, SimStoreError> {
        self.lock.lock().map_err(io_error(&self.path))?;
        Ok(Held(self))
    }
}

impl Held<'_> {
    /// The cloud in the file if another handle saved it since this one
    /// last loaded or saved it (`Some(None)`: there is no file anymore);
    /// `None` if this handle's copy is current.
    pub(super) fn changed(&mut self) -> Result<Option<Option<Cloud>>, SimStoreError> {
        let token = self.token()?;
        if token.is_some() && token == self.0.token {
            return Ok(None);
        }
        self.reload().map(Some)
    }

    /// Loads the cloud, whatever the token says.
    fn reload(&mut self) -> Result<Option<Cloud>, SimStoreError> {
        let token = self.token()?;
        let cloud = load(&self.0.path)?;
        let saved = match &cloud {
            Some(c) => self.without_clock(c)?,
            None => String::new(),
        };
        (self.0.token, self.0.saved) = (token, saved);
        Ok(cloud)
    }

    /// Saves `cloud` if it differs from what was last loaded or saved by
    /// more than its clock: first a new token, so a handle that sees the
    /// token reloads even if the save itself is cut short.
    pub(super) fn save_if_changed(&mut self, cloud: &Cloud) -> Result<(), SimStoreError> {
        let compared = self.without_clock(cloud)?;
        if compared == self.0.saved {
            return Ok(());
        }
        let token = fastrand::u64(..);
        let path = self.0.path.clone();
        let lock = &mut self.0.lock;
        let written = (|| {
            lock.set_len(0)?;
            lock.rewind()?;
            lock.write_all(token.to_string().as_bytes())
        })();
        written.map_err(io_error(&path))?;
        self.0.token = None;
        write(&path, &encode(&path, cloud)?)?;
        (self.0.token, self.0.saved) = (Some(token), compared);
        Ok(())
    }

    /// The token in the lock file; `None` if it has none (or a torn one).
    fn token(&mut self) -> Result<Option<u64>, SimStoreError> {
        let mut text = String::new();
        let lock = &mut self.0.lock;
        let read = lock.rewind().and_then(|()| lock.read_to_string(&mut text));
        read.map_err(io_error(&self.0.path))?;
        Ok(text.trim().parse().ok())
    }

    /// `cloud` encoded with its clock at 0.
    fn without_clock(&self, cloud: &Cloud) -> Result<String, SimStoreError> {
        let mut c = cloud.clone();
        c.clock_ms = 0;
        encode(&self.0.path, &c)
    }
}
