//! Writing files only their owner may read (backups, TLS keys): mode 0600
//! from creation, refusing to replace a file unless asked, synced to disk.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Context;

/// Creates `path` (which must not exist) with mode 0600 and writes `bytes`.
fn create(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `bytes` to `path` with mode 0600. An existing file is an error
/// unless `force`; then a new file is written beside it (owned as the old
/// one was) and renamed over it, so the old file's mode never applies to
/// the new content and anyone holding the old file open never sees it. A
/// path that is not a regular file (a link, a device) is not replaced.
pub(crate) fn write_private(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let existing = match std::fs::symlink_metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
    };
    let Some(existing) = existing.filter(|_| force) else {
        return create(path, bytes);
    };
    if !existing.file_type().is_file() {
        anyhow::bail!("{} is not a regular file (a link or a device?); nothing was written", path.display());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staged = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&staged);
    let written = create(&staged, bytes)
        .and_then(|()| {
            // Keep the owner: root renewing a key that a service user reads.
            std::os::unix::fs::chown(&staged, Some(existing.uid()), Some(existing.gid()))
                .or_else(|e| if existing.uid() == rustix::process::getuid().as_raw() { Ok(()) } else { Err(e) })
                .with_context(|| format!("cannot give {} its owner back", path.display()))
        })
        .and_then(|()| std::fs::rename(&staged, path).with_context(|| format!("cannot replace {}", path.display())));
    if written.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    written?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn private_files_are_0600_and_replaced_only_when_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_private(&path, b"one", false).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let error = write_private(&path, b"two", false).unwrap_err().to_string();
        assert!(error.contains("cannot write"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        // A world-readable file replaced with force: the new content is 0600.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no staged file left behind");
        // A link is not replaced, even with force.
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let error = write_private(&link, b"three", true).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
    }
}
