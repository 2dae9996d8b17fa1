//! Writing files only their owner may read (backups, TLS keys): mode 0600
//! from creation, refusing to replace a file unless asked, synced to disk.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` with mode 0600; an existing file is an error
/// unless `force`, and then it is made 0600 too.
pub(crate) fn write_private(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    // A file replaced with --force would keep its old mode otherwise.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}
