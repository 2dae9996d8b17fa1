//! `hush credential-helper install`: links `docker-credential-hush` and
//! `git-credential-hush` to this binary, which looks at the name it was
//! started under.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::exit_code::usage;

/// The names the helpers answer to.
pub(crate) const HELPER_NAMES: [&str; 2] = ["docker-credential-hush", "git-credential-hush"];

/// Creates the links in `dir` (default: beside this binary).
pub(crate) fn install(dir: Option<PathBuf>, force: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this binary's path")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let dir = match dir {
        Some(d) => d,
        None => exe.parent().map(Path::to_path_buf).context("this binary has no parent directory")?,
    };
    for name in HELPER_NAMES {
        let link = dir.join(name);
        match std::fs::read_link(&link) {
            Ok(target) if target == exe => {
                println!("{} already links to {}", link.display(), exe.display());
                continue;
            }
            _ if link.symlink_metadata().is_ok() => {
                if !force {
                    return usage(format!("{} exists; pass --force to replace it", link.display()));
                }
                std::fs::remove_file(&link).with_context(|| format!("cannot remove {}", link.display()))?;
            }
            _ => {}
        }
        std::os::unix::fs::symlink(&exe, &link).with_context(|| format!("cannot create {}", link.display()))?;
        println!("{} -> {}", link.display(), exe.display());
    }
    Ok(())
}
