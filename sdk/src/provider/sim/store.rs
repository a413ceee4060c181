//! Persistence of the simulated cloud: the whole [`Cloud`] as one pretty JSON
//! file, replaced atomically (temporary file in the same directory, fsync,
//! rename) so a crash leaves either the old cloud or the new one. A file that
//! doesn't parse is an error, never a silent reset. This module owns the file
//! format and its errors; when to save is the provider's business.

use super::cloud::{Cloud, FORMAT};
use std::fs;
use std::io::{self, Write};
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
pub(super) fn load(path: &Path) -> Result<Option<Cloud>, SimStoreError> {
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

/// Replaces the file at `path` with `cloud`, atomically.
pub(super) fn save(path: &Path, cloud: &Cloud) -> Result<(), SimStoreError> {
    let err = io_error(path);
    let mut json = serde_json::to_string_pretty(cloud).map_err(|e| SimStoreError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    json.push('\n');
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
