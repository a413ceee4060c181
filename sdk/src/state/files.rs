//! How keel creates the files that hold state: private to the user running
//! keel (files 0600, directories 0700 on Unix; state records cloud ids and
//! may hold secrets), and replaced atomically (temp file, fsync, rename,
//! fsync of the directory) so a crash leaves the old file or the new one,
//! never a mix. Used by the state store and by the simulator's cloud file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` and any missing parents, each new one private (0700).
pub(crate) fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Options that create a file private to its owner (0600); an existing
/// file keeps its mode.
pub(crate) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Like [`File::create`], but a new file is private (0600).
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Makes the directory entries of `dir` durable (a new or renamed name
/// survives a crash only once its directory is synced).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

/// Replaces `path` with `bytes` atomically and durably, through a private
/// temporary file beside it. On failure `path` is as it was and the
/// temporary file is removed. Errors name the file they concern.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), (std::path::PathBuf, io::Error)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let mut f = create_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        // Best effort: the temporary file is of no use to anyone.
        let _ = fs::remove_file(&tmp);
        return Err((tmp, e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err((path.to_path_buf(), e));
    }
    sync_dir(dir).map_err(|e| (dir.to_path_buf(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_files_and_new_directories_are_private() {
        let root = std::env::temp_dir().join(format!("keel-files-{}", fastrand::u64(..)));
        let dir = root.join("a").join("b");
        create_private_dir_all(&dir).unwrap();
        let file = dir.join("f.json");
        replace(&file, b"one").unwrap();
        replace(&file, b"two").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert!(!dir.join("f.json.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&file), 0o600);
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&root.join("a")), 0o700);
        }
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_failed_replace_leaves_the_file_as_it_was() {
        let root = std::env::temp_dir().join(format!("keel-files-{}", fastrand::u64(..)));
        create_private_dir_all(&root).unwrap();
        let file = root.join("f.json");
        replace(&file, b"kept").unwrap();
        // A directory where the temporary file would go: creating it fails.
        fs::create_dir(root.join("f.json.tmp")).unwrap();
        let (path, _) = replace(&file, b"lost").unwrap_err();
        assert_eq!(path, root.join("f.json.tmp"));
        assert_eq!(fs::read(&file).unwrap(), b"kept");
        fs::remove_dir_all(&root).unwrap();
    }
}
