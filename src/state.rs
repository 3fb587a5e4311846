//! secwrap's state directory: markers that make a warning show once per
//! build instead of once per compile.
//!
//! Where: `SECWRAP_STATE_DIR`, else `$XDG_STATE_HOME/secwrap`, else
//! `~/.local/state/secwrap` (the XDG base directory for state that outlives
//! one process but is not worth keeping). As with the cache, a directory
//! someone else owns, or one others can write to, is not used: a marker
//! planted by another user must not silence a warning.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::exit::STATE_DIR_VAR;
use crate::trust::{WORLD_WRITABLE, effective_uid};

/// The state directory the environment names.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    var(STATE_DIR_VAR)
        .map(PathBuf::from)
        .or_else(|| var("XDG_STATE_HOME").map(|dir| PathBuf::from(dir).join("secwrap")))
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".local/state/secwrap")))
}

/// The stable per-user directory of `secwrap shims` and `secwrap run`'s
/// masquerade links: `$XDG_DATA_HOME/secwrap/shims`, else
/// `$HOME/.local/share/secwrap/shims`. Data, not state: the links are
/// worth keeping, as CMake and Meson store the compiler path they found
/// (so a build configured under `secwrap run` names it for good), and
/// Debian keeps ccache's in `/usr/lib/ccache`. A relative
/// `XDG_DATA_HOME` is ignored, as the XDG base directory specification
/// says; a relative `PATH` entry would follow the build's working directory.
pub fn default_shim_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    var("XDG_DATA_HOME")
        .map(|dir| dir.join("secwrap/shims"))
        .or_else(|| var("HOME").map(|home| home.join(".local/share/secwrap/shims")))
}

/// Whether this is the first call to claim `key` in `dir`: creates the
/// marker exclusively (`O_EXCL`, so of the concurrent jobs of a `make -j`
/// exactly one wins). Without a usable directory every call is first: a
/// warning shown too often is better than one never shown.
pub fn first_to_claim(dir: Option<&Path>, key: &impl Serialize) -> bool {
    let Some(dir) = dir.and_then(private_dir) else {
        return true;
    };
    let key = serde_json::to_vec(key).unwrap_or_default();
    let digest = Sha256::digest(&key);
    let name = crate::cache::hex(&digest[..12]);
    let marker = dir.join(format!("warned-{name}"));
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&marker)
    {
        Ok(_) => true,
        Err(error) if error.kind() == ErrorKind::AlreadyExists => false,
        Err(_) => true,
    }
}

/// `dir` created 0700 if missing; `None` unless it is a real directory
/// (not a symlink) owned by us and writable by nobody else.
fn private_dir(dir: &Path) -> Option<&Path> {
    let metadata = match std::fs::symlink_metadata(dir) {
        Ok(metadata) => metadata,
        Err(_) => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .ok()?;
            std::fs::symlink_metadata(dir).ok()?
        }
    };
    // Stricter than the cache: not even the group may write it.
    let writable_by_others = metadata.mode() & (WORLD_WRITABLE | 0o020) != 0;
    (metadata.is_dir() && metadata.uid() == effective_uid() && !writable_by_others).then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn one_claim_per_key() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("state");
        assert!(first_to_claim(Some(&dir), &("build", 1)));
        assert!(!first_to_claim(Some(&dir), &("build", 1)));
        assert!(first_to_claim(Some(&dir), &("build", 2)));
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn a_directory_others_can_write_is_not_used() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("state");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(first_to_claim(Some(&dir), &"key"));
        assert!(first_to_claim(Some(&dir), &"key"), "no marker was trusted");
        let link = temp.path().join("link");
        std::os::unix::fs::symlink(temp.path(), &link).unwrap();
        assert!(first_to_claim(Some(&link), &"key"));
        assert!(first_to_claim(Some(&link), &"key"));
    }
}
