//! Writing files only their owner may read (backups, TLS keys): mode 0600
//! from creation, refusing to replace a file unless asked, synced to disk.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
/// unless `force`; then a new file is written beside it and renamed over
/// it, so the old file's mode never applies to the new content and anyone
/// holding the old file open never sees it.
pub(crate) fn write_private(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    if !force {
        return create(path, bytes);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staged = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&staged);
    create(&staged, bytes)?;
    std::fs::rename(&staged, path).with_context(|| format!("cannot replace {}", path.display())).inspect_err(|_| {
        let _ = std::fs::remove_file(&staged);
    })?;
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
    }
}
