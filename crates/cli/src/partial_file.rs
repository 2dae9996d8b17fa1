//! A file written piece by piece (a backup as it downloads) that appears
//! under its name only once it is whole: it is written beside its place
//! under a hidden name, mode 0600 from creation, synced, then renamed
//! over. Dropped before that (an error, Ctrl-C), the partial file is
//! removed, so a cut download never looks like a backup.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A file being written; see the module.
#[derive(Debug)]
pub(crate) struct PartialFile {
    file: Option<File>,
    partial: PathBuf,
    target: PathBuf,
    written: u64,
}

/// Refuses an existing `path` unless `force`; a path that is not a regular file is never replaced.
fn check_target(path: &Path, force: bool) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot write {}", path.display())),
        Ok(meta) if !meta.file_type().is_file() => {
            anyhow::bail!("{} is not a regular file (a link or a device?); nothing was written", path.display())
        }
        Ok(_) if force => Ok(()),
        Ok(_) => anyhow::bail!("{} exists; give --force to replace it", path.display()),
    }
}

impl PartialFile {
    /// Starts writing what will become `target`.
    pub(crate) fn create(target: &Path, force: bool) -> anyhow::Result<Self> {
        check_target(target, force)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = target.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        Ok(Self { file: Some(file), partial, target: target.to_owned(), written: 0 })
    }

    /// Appends `bytes`.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let file = self.file.as_mut().context("the file is closed")?;
        file.write_all(bytes).with_context(|| format!("cannot write {}", self.partial.display()))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Syncs the file and puts it in its place (replacing the target only if `force`).
    pub(crate) fn finish(mut self, force: bool) -> anyhow::Result<()> {
        let file = self.file.take().context("the file is closed")?;
        file.sync_all().with_context(|| format!("cannot write {}", self.partial.display()))?;
        drop(file);
        check_target(&self.target, force)?;
        let placed = if force {
            std::fs::rename(&self.partial, &self.target)
        } else {
            // A link never replaces a file that appeared meanwhile.
            std::fs::hard_link(&self.partial, &self.target)
        };
        placed.with_context(|| format!("cannot move the backup into {}", self.target.display()))?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        // Still here after finish? Only if it did not reach the rename.
        let _ = std::fs::remove_file(&self.partial);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("hush.backup");
        let mut file = PartialFile::create(&target, false).unwrap();
        file.write(b"part").unwrap();
        assert!(!target.exists());
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the partial file is gone");

        let mut file = PartialFile::create(&target, false).unwrap();
        file.write(b"whole").unwrap();
        assert_eq!(file.written(), 5);
        file.finish(false).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_existing_file_is_replaced_only_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("b");
        std::fs::write(&target, "old").unwrap();
        assert!(PartialFile::create(&target, false).unwrap_err().to_string().contains("--force"));
        let mut file = PartialFile::create(&target, true).unwrap();
        file.write(b"new").unwrap();
        file.finish(true).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        std::os::unix::fs::symlink(&target, dir.path().join("link")).unwrap();
        assert!(PartialFile::create(&dir.path().join("link"), true).is_err());
    }
}
