//! Trust: whether a file secwrap found (rather than was told about) may be
//! used, as ccache guards its directory-specific `ccache.conf` and OpenSSH
//! its `safe_path`.
//!
//! A file found upward from the working directory (`secwrap.toml`,
//! `.config`, `include/config/auto.conf`) is used only when:
//! - it is a regular file (a symlink to one counts, if the link itself
//!   passes) owned by a trusted user and not writable by others;
//! - every directory from the working directory up to the file's is owned
//!   by a trusted user, and none is writable by others unless sticky.
//!
//! The trusted users are the effective user, root, and, when running as
//! root, the tree owner: the owner of the working directory (`sudo make
//! install` in a user's tree runs the compiler as root).
//!
//! The search goes up from the working directory and stops
//! - before a directory owned by an untrusted user (nothing in or above it
//!   is looked at);
//! - after `$HOME`, a directory holding a `.git` or `.hg` marker (a `.git`
//!   file counts: worktrees and submodules), and the root of a mount.

use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `S_IWOTH`: writable by others.
pub const WORLD_WRITABLE: u32 = 0o002;
/// `S_ISVTX`: only an entry's owner may remove or rename it.
pub const STICKY: u32 = 0o1000;

/// The effective uid: whose files secwrap's own are.
pub fn effective_uid() -> u32 {
    // Asked once: secwrap never changes its uid, and each owner check
    // (the cache, its entries, the log's directories) would ask again.
    static EUID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    *EUID.get_or_init(|| unsafe { libc::geteuid() })
}

/// Who may own what secwrap finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedUsers {
    euid: u32,
    /// When running as root: the owner of the working directory.
    tree_owner: Option<u32>,
}

impl Default for TrustedUsers {
    fn default() -> TrustedUsers {
        TrustedUsers::effective_user()
    }
}

impl TrustedUsers {
    pub fn new(euid: u32, working_directory_owner: u32) -> TrustedUsers {
        TrustedUsers {
            euid,
            tree_owner: (euid == 0).then_some(working_directory_owner),
        }
    }

    /// The process's own: its effective uid, and `cwd`'s owner as root.
    pub fn of_process(cwd: &Path) -> TrustedUsers {
        let euid = effective_uid();
        // Only root trusts the tree's owner: no stat for anyone else.
        let owner = match euid {
            0 => std::fs::metadata(cwd).map_or(euid, |metadata| metadata.uid()),
            _ => euid,
        };
        TrustedUsers::new(euid, owner)
    }

    /// The effective user alone (and root): what a test's `ConfigEnv` gets.
    pub fn effective_user() -> TrustedUsers {
        let euid = effective_uid();
        TrustedUsers::new(euid, euid)
    }

    pub fn trusts(&self, uid: u32) -> bool {
        uid == self.euid || uid == 0 || Some(uid) == self.tree_owner
    }
}

/// Why a found file is not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    #[error("owned by uid {uid}")]
    Owner { uid: u32 },
    #[error("writable by others (mode {mode:04o})")]
    Writable { mode: u32 },
    #[error("not a regular file")]
    NotRegular,
    #[error("the symlink is owned by uid {uid}")]
    LinkOwner { uid: u32 },
    #[error("directory `{}` is owned by uid {uid}", dir.display())]
    DirectoryOwner { dir: PathBuf, uid: u32 },
    #[error("directory `{}` is writable by others and not sticky", dir.display())]
    DirectoryWritable { dir: PathBuf },
}

/// The result of an upward search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing found before the search stopped.
    Nothing,
    /// Nothing found before a directory of an untrusted owner, where the
    /// search stopped: worth saying when nothing was found (a tree inside
    /// another user's directory reads nothing from above it).
    Stopped { before: PathBuf, uid: u32 },
    /// A file that passed every check.
    Trusted(PathBuf),
    /// A file found but not to be used, and why.
    Refused(PathBuf, Untrusted),
}

/// Where the search stops (besides other users' directories).
#[derive(Clone, Debug, Default)]
pub struct Ceilings {
    /// `$HOME`: a user's config above their home is not theirs.
    pub home: Option<PathBuf>,
}

/// Looks for the first of `names` (relative paths, tried in order in each
/// directory) from `cwd` upward, and judges what it finds.
pub fn search_upward(
    cwd: &Path,
    names: &[&str],
    users: TrustedUsers,
    ceilings: &Ceilings,
) -> Found {
    // The first directory others may write to without the sticky bit: a
    // file found at or above it could have been swapped in from below.
    let mut writable_below: Option<PathBuf> = None;
    for dir in cwd.ancestors() {
        let Ok(metadata) = std::fs::symlink_metadata(dir) else {
            return Found::Nothing;
        };
        if !users.trusts(metadata.uid()) {
            return Found::Stopped {
                before: dir.to_path_buf(),
                uid: metadata.uid(),
            };
        }
        if writable_below.is_none() && others_may_replace(&metadata) {
            writable_below = Some(dir.to_path_buf());
        }
        for name in names {
            let path = dir.join(name);
            let Ok(entry) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let verdict = match &writable_below {
                Some(dir) => Err(Untrusted::DirectoryWritable { dir: dir.clone() }),
                None => check_entry(&path, &entry, users)
                    .and_then(|()| check_directories_within(dir, &path, users)),
            };
            return match verdict {
                Ok(()) => Found::Trusted(path),
                Err(why) => Found::Refused(path, why),
            };
        }
        if is_ceiling(dir, &metadata, ceilings) {
            return Found::Nothing;
        }
    }
    Found::Nothing
}

/// A file named directly (not found): judged the same way, without the
/// directory walk. For files secwrap would otherwise use unchecked.
pub fn check_file(path: &Path, users: TrustedUsers) -> Result<(), Untrusted> {
    let entry = std::fs::symlink_metadata(path).map_err(|_| Untrusted::NotRegular)?;
    check_entry(path, &entry, users)
}

fn check_entry(path: &Path, entry: &Metadata, users: TrustedUsers) -> Result<(), Untrusted> {
    let file = if entry.file_type().is_symlink() {
        if !users.trusts(entry.uid()) {
            return Err(Untrusted::LinkOwner { uid: entry.uid() });
        }
        std::fs::metadata(path).map_err(|_| Untrusted::NotRegular)?
    } else {
        entry.clone()
    };
    if !file.is_file() {
        return Err(Untrusted::NotRegular);
    }
    if !users.trusts(file.uid()) {
        return Err(Untrusted::Owner { uid: file.uid() });
    }
    let mode = file.permissions().mode() & 0o7777;
    if mode & WORLD_WRITABLE != 0 {
        return Err(Untrusted::Writable { mode });
    }
    Ok(())
}

/// The directories between `dir` and a file found under it by a relative
/// name with components (`include/config/auto.conf`).
fn check_directories_within(dir: &Path, path: &Path, users: TrustedUsers) -> Result<(), Untrusted> {
    let mut current = path.parent();
    while let Some(inner) = current.filter(|inner| *inner != dir) {
        let metadata = std::fs::symlink_metadata(inner).map_err(|_| Untrusted::NotRegular)?;
        if !users.trusts(metadata.uid()) {
            return Err(Untrusted::DirectoryOwner {
                dir: inner.to_path_buf(),
                uid: metadata.uid(),
            });
        }
        if others_may_replace(&metadata) {
            return Err(Untrusted::DirectoryWritable {
                dir: inner.to_path_buf(),
            });
        }
        current = inner.parent();
    }
    Ok(())
}

/// Whether others may create, rename or remove entries of a directory:
/// writable by them and not sticky.
pub fn others_may_replace(metadata: &Metadata) -> bool {
    let mode = metadata.permissions().mode();
    mode & WORLD_WRITABLE != 0 && mode & STICKY == 0
}

fn is_ceiling(dir: &Path, metadata: &Metadata, ceilings: &Ceilings) -> bool {
    if ceilings.home.as_deref() == Some(dir) {
        return true;
    }
    if [".git", ".hg"]
        .iter()
        .any(|marker| std::fs::symlink_metadata(dir.join(marker)).is_ok())
    {
        return true;
    }
    // The root of a mount: its parent is on another device (or it is `/`).
    match dir.parent() {
        Some(parent) => {
            std::fs::metadata(parent).map_or(true, |parent| parent.dev() != metadata.dev())
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> TrustedUsers {
        TrustedUsers::effective_user()
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn trusted_users() {
        let user = TrustedUsers::new(1000, 1000);
        assert!(user.trusts(1000) && user.trusts(0) && !user.trusts(1001));
        // Root trusts the tree's owner; a user never trusts another user.
        let root = TrustedUsers::new(0, 1001);
        assert!(root.trusts(0) && root.trusts(1001) && !root.trusts(1002));
        assert!(!TrustedUsers::new(1000, 1001).trusts(1001));
    }

    #[test]
    fn finds_the_nearest_and_judges_its_mode() {
        let temp = tempfile::tempdir().unwrap();
        let tree = temp.path().join("tree");
        std::fs::create_dir_all(tree.join("sub/dir")).unwrap();
        std::fs::create_dir(tree.join(".git")).unwrap();
        std::fs::write(tree.join("secwrap.toml"), "").unwrap();
        let cwd = tree.join("sub/dir");
        let search = |names: &[&str]| search_upward(&cwd, names, me(), &Ceilings::default());
        assert_eq!(
            search(&["secwrap.toml"]),
            Found::Trusted(tree.join("secwrap.toml"))
        );
        chmod(&tree.join("secwrap.toml"), 0o666);
        assert_eq!(
            search(&["secwrap.toml"]),
            Found::Refused(
                tree.join("secwrap.toml"),
                Untrusted::Writable { mode: 0o666 }
            )
        );
        // The `.git` marker is a ceiling: nothing above the tree is found.
        std::fs::write(temp.path().join("above.toml"), "").unwrap();
        assert_eq!(search(&["above.toml"]), Found::Nothing);
    }

    #[test]
    fn a_writable_directory_on_the_way_refuses_what_is_above_it() {
        let temp = tempfile::tempdir().unwrap();
        let tree = temp.path().join("tree");
        std::fs::create_dir_all(tree.join("open/cwd")).unwrap();
        std::fs::write(tree.join("secwrap.toml"), "").unwrap();
        chmod(&tree.join("open"), 0o777);
        let cwd = tree.join("open/cwd");
        let found = search_upward(&cwd, &["secwrap.toml"], me(), &Ceilings::default());
        assert_eq!(
            found,
            Found::Refused(
                tree.join("secwrap.toml"),
                Untrusted::DirectoryWritable {
                    dir: tree.join("open")
                }
            )
        );
        // Sticky, as /tmp: fine.
        chmod(&tree.join("open"), 0o1777);
        let found = search_upward(&cwd, &["secwrap.toml"], me(), &Ceilings::default());
        assert_eq!(found, Found::Trusted(tree.join("secwrap.toml")));
    }

    #[test]
    fn home_is_a_ceiling_and_inner_directories_are_checked() {
        let temp = tempfile::tempdir().unwrap();
        let home = temp.path().join("home");
        std::fs::create_dir_all(home.join("proj/include/config")).unwrap();
        std::fs::write(temp.path().join("secwrap.toml"), "").unwrap();
        let ceilings = Ceilings {
            home: Some(home.clone()),
        };
        let cwd = home.join("proj");
        assert_eq!(
            search_upward(&cwd, &["secwrap.toml"], me(), &ceilings),
            Found::Nothing
        );
        let auto_conf = cwd.join("include/config/auto.conf");
        std::fs::write(&auto_conf, "").unwrap();
        let names = ["include/config/auto.conf", ".config"];
        assert_eq!(
            search_upward(&cwd, &names, me(), &ceilings),
            Found::Trusted(auto_conf.clone())
        );
        chmod(&cwd.join("include"), 0o777);
        assert_eq!(
            search_upward(&cwd, &names, me(), &ceilings),
            Found::Refused(
                auto_conf,
                Untrusted::DirectoryWritable {
                    dir: cwd.join("include")
                }
            )
        );
    }

    #[test]
    fn symlinks_and_non_files() {
        let temp = tempfile::tempdir().unwrap();
        let tree = temp.path();
        std::fs::create_dir(tree.join(".git")).unwrap();
        std::fs::create_dir(tree.join("secwrap.toml")).unwrap();
        let found = search_upward(tree, &["secwrap.toml"], me(), &Ceilings::default());
        assert_eq!(
            found,
            Found::Refused(tree.join("secwrap.toml"), Untrusted::NotRegular)
        );
        std::fs::write(tree.join("real.toml"), "").unwrap();
        std::os::unix::fs::symlink(tree.join("real.toml"), tree.join("link.toml")).unwrap();
        let found = search_upward(tree, &["link.toml"], me(), &Ceilings::default());
        assert_eq!(found, Found::Trusted(tree.join("link.toml")));
    }
}
