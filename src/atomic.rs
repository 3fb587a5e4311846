//! Files secwrap writes by itself: the invocation log (`record::LogWriter`),
//! the kept original objects (`[livepatch] keep_originals`) and the cache
//! entries (`cache.rs`); and writing a file so that no reader ever sees half
//! of it (those, and `secwrap log export`'s compilation database).
//!
//! # Where secwrap may write by itself
//! The log and the keep directory can be named by a config or the
//! environment, and may lie in a directory others can write (`/tmp`). The
//! hardening review's findings 4 and 5 had root append to or create any file
//! through a planted symlink, a planted hard link, or a file another user
//! made first. So, as OpenSSH's `safe_path` judges the files it reads and
//! the kernel's `fs.protected_symlinks`/`fs.protected_regular` (not set in
//! every container) would:
//! - every directory on the way ([`prepare_directory`]), after symlinks, is
//!   owned by a trusted user (`trust::TrustedUsers`: the effective user,
//!   root, and as root the tree owner) and not writable by others unless
//!   sticky; a symlink on the way is owned by a trusted user; missing ones
//!   are created 0700 once the existing part has passed;
//! - the file itself is opened without following a symlink at its final
//!   component (`O_NOFOLLOW`), then judged on its `fstat` ([`check_owned`]):
//!   a regular file owned by a trusted user (never chowned), not writable by
//!   others, and, in a sticky directory others can write, the user's own.
//!   The log is also refused with more than one hard link (a link to
//!   `/etc/passwd` made in another user's directory).
//!
//! An output the user names on a subcommand's command line (`log export
//! -o`) follows other conventions: it goes where it is told, as `cp` does.
//!
//! # Atomic writes
//! Why one helper: each of those had its own temporary-then-rename, and the
//! hand-written one (`<copy>.<pid>.partial`, then `rename`) checked
//! `copy.exists()` first, which follows a symlink planted at the copy's
//! place and races with a concurrent compile of the same object. Here the
//! temporary is a `tempfile` in the destination's own directory (a rename
//! never crosses file systems, and a crash leaves a `.tmp-*` file, never a
//! torn destination), and:
//! - [`write_atomic`] replaces the destination (`rename(2)`);
//! - [`copy_noclobber`] never replaces it: "first copy wins", as kpatch-cc
//!   keeps the first original in `orig/`. `persist_noclobber` creates the
//!   name with `renameat2(RENAME_NOREPLACE)` (or `link(2)`), which fail on
//!   any existing name, a symlink included, and never follow it.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use tempfile::NamedTempFile;

use crate::trust::{TrustedUsers, WORLD_WRITABLE, effective_uid, others_may_replace};

/// Why secwrap will not write a file it writes by itself, or use a
/// directory on the way to it. Each message completes "cannot open X: ".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("it is a symlink")]
    Symlink,
    #[error("it is not a regular file")]
    NotRegular,
    #[error("it is owned by uid {uid}")]
    Owner { uid: u32 },
    #[error(
        "it is owned by uid {uid}, not by you, in directory `{}` that others can write",
        dir.display()
    )]
    NotOwnInShared { dir: PathBuf, uid: u32 },
    #[error("it is writable by others (mode {mode:04o})")]
    Writable { mode: u32 },
    #[error("it has {links} hard links")]
    HardLinks { links: u64 },
    #[error("`{}` is a symlink owned by uid {uid}", link.display())]
    LinkOwner { link: PathBuf, uid: u32 },
    #[error("directory `{}` is owned by uid {uid}", dir.display())]
    DirectoryOwner { dir: PathBuf, uid: u32 },
    #[error("directory `{}` is writable by others and not sticky", dir.display())]
    DirectoryWritable { dir: PathBuf },
}

impl From<Refused> for io::Error {
    fn from(refused: Refused) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, refused)
    }
}

/// A directory ready to hold a file secwrap writes by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedDirectory {
    /// The directory (`.` for a bare file name).
    pub path: PathBuf,
    /// Others may write it (it is sticky, or it would have been refused):
    /// a file in it must be the user's own.
    pub shared: bool,
}

/// Makes `dir` fit to hold a file secwrap writes by itself: the directories
/// that exist are checked first (after symlinks, up to `/`: owned by a
/// trusted user, not writable by others unless sticky; symlinks on the way
/// owned by a trusted user), then the missing ones are created 0700, as
/// kpatch-build keeps its `orig/` in the user's private `~/.kpatch`.
pub fn prepare_directory(dir: &Path, users: TrustedUsers) -> io::Result<PreparedDirectory> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match std::fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            // Nothing is created inside a directory that fails the checks.
            let existing = dir
                .ancestors()
                .skip(1)
                .map(|ancestor| {
                    if ancestor.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        ancestor
                    }
                })
                .find(|ancestor| std::fs::symlink_metadata(ancestor).is_ok())
                .unwrap_or(Path::new("."));
            check_directories(existing, users)?;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        Err(error) => return Err(error),
    }
    let shared = check_directories(dir, users)?;
    Ok(PreparedDirectory {
        path: dir.to_path_buf(),
        shared,
    })
}

/// Checks `dir` and every directory above it; returns whether others may
/// write `dir` itself (sticky).
fn check_directories(dir: &Path, users: TrustedUsers) -> io::Result<bool> {
    // A symlink on the way is judged by its owner, as trust.rs judges a
    // found file's link and `fs.protected_symlinks` would in a sticky
    // directory: another user's `/tmp/logs -> /etc` is not followed.
    let mut prefix = PathBuf::new();
    for component in dir.components() {
        prefix.push(component);
        if let Component::Normal(_) = component {
            let metadata = std::fs::symlink_metadata(&prefix)?;
            if metadata.file_type().is_symlink() && !users.trusts(metadata.uid()) {
                return Err(Refused::LinkOwner {
                    link: prefix,
                    uid: metadata.uid(),
                }
                .into());
            }
        }
    }
    // Then the directories themselves, where the symlinks lead (OpenSSH's
    // `safe_path` walks the `realpath` up to `/` the same way).
    let canonical = std::fs::canonicalize(dir)?;
    let mut shared = false;
    for (depth, ancestor) in canonical.ancestors().enumerate() {
        let metadata = std::fs::symlink_metadata(ancestor)?;
        if !metadata.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("`{}` is not a directory", ancestor.display()),
            ));
        }
        if !users.trusts(metadata.uid()) {
            return Err(Refused::DirectoryOwner {
                dir: ancestor.to_path_buf(),
                uid: metadata.uid(),
            }
            .into());
        }
        if others_may_replace(&metadata) {
            return Err(Refused::DirectoryWritable {
                dir: ancestor.to_path_buf(),
            }
            .into());
        }
        // Writable by others, but sticky (as /tmp).
        shared |= depth == 0 && metadata.mode() & WORLD_WRITABLE != 0;
    }
    Ok(shared)
}

/// Judges a file secwrap writes by itself, from its `lstat` or `fstat`: a
/// regular file (not a symlink) owned by a trusted user, not writable by
/// others, and the user's own in a directory others can write.
pub fn check_owned(
    metadata: &Metadata,
    users: TrustedUsers,
    directory: &PreparedDirectory,
) -> Result<(), Refused> {
    if metadata.file_type().is_symlink() {
        return Err(Refused::Symlink);
    }
    if !metadata.is_file() {
        return Err(Refused::NotRegular);
    }
    let uid = metadata.uid();
    if !users.trusts(uid) {
        return Err(Refused::Owner { uid });
    }
    // In a sticky directory others can write, such as /tmp, another user
    // could have made the file first; only our own is ours.
    if directory.shared && uid != effective_uid() {
        return Err(Refused::NotOwnInShared {
            dir: directory.path.clone(),
            uid,
        });
    }
    let mode = metadata.mode() & 0o7777;
    if mode & WORLD_WRITABLE != 0 {
        return Err(Refused::Writable { mode });
    }
    Ok(())
}

/// Opens `path` for appending (and reading), created 0644 if missing, in a
/// directory [`prepare_directory`] accepts, and refuses anything but a
/// regular file of a trusted user with one link. Never truncates.
pub fn open_for_append(path: &Path, users: TrustedUsers) -> io::Result<File> {
    let directory = prepare_directory(parent(path), users)?;
    // O_NOFOLLOW: a symlink at the final component, even a dangling one,
    // is refused, never followed (it would create or append to its
    // target). O_NONBLOCK: a FIFO planted there fails or is seen by fstat,
    // instead of blocking the open until someone reads it.
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| why_not_opened(path, users, error))?;
    let metadata = file.metadata()?;
    check_owned(&metadata, users, &directory)?;
    if metadata.nlink() != 1 {
        return Err(Refused::HardLinks {
            links: metadata.nlink(),
        }
        .into());
    }
    clear_nonblocking(&file)?;
    Ok(file)
}

/// The reason an open failed, when `lstat` shows one (a symlink, a FIFO
/// without a reader, a file of another user `fs.protected_regular` kept
/// closed); else the error as it is.
fn why_not_opened(path: &Path, users: TrustedUsers, error: io::Error) -> io::Error {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return error;
    };
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        Refused::Symlink.into()
    } else if file_type.is_fifo() || !metadata.is_file() {
        Refused::NotRegular.into()
    } else if !users.trusts(metadata.uid()) {
        Refused::Owner {
            uid: metadata.uid(),
        }
        .into()
    } else {
        error
    }
}

fn clear_nonblocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on an open descriptor we own; F_GETFL/F_SETFL take and
    // return plain flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `path`'s directory, `.` for a bare name.
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `path` through `write` into a temporary beside it, then renames
/// the temporary over `path`. On any error `path` is untouched and the
/// temporary is removed. The file is private to the user (0600), as
/// `tempfile` creates it.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let mut temporary = temporary_beside(path)?;
    write(temporary.as_file_mut())?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// Copies `from` to `to` unless `to` already exists (as any kind of file,
/// a dangling symlink included): returns whether this call made the copy.
/// The copy gets `from`'s permission bits, as `std::fs::copy` gives, less
/// write for others (which [`check_owned`] would refuse on the next
/// build's look at it). A concurrent copier loses cleanly: one of them
/// creates `to`, the other gets `false`.
pub fn copy_noclobber(from: &Path, to: &Path) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mut source = File::open(from)?;
    let mode = source.metadata()?.permissions().mode() & 0o777 & !WORLD_WRITABLE;
    let mut temporary = temporary_beside(to)?;
    io::copy(&mut source, temporary.as_file_mut())?;
    temporary
        .as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    match temporary.persist_noclobber(to) {
        Ok(_) => Ok(true),
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.error),
    }
}

/// A temporary file in `path`'s directory, named `.tmp-<name>-<random>`
/// (`secwrap cache clear` removes strays by that prefix).
fn temporary_beside(path: &Path) -> io::Result<NamedTempFile> {
    let directory = parent(path);
    let mut prefix = std::ffi::OsString::from(".tmp-");
    if let Some(name) = path.file_name() {
        prefix.push(name);
        prefix.push("-");
    }
    tempfile::Builder::new()
        .prefix(&prefix)
        .tempfile_in(directory)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// How `open_for_append` judges `log` in a tree `setup` made: `Ok` or
    /// the message, with the tree's path written `T`.
    #[track_caller]
    fn check(setup: impl FnOnce(&Path), log: &str, expected: Result<(), &str>) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        setup(&root);
        let result = open_for_append(&root.join(log), TrustedUsers::effective_user())
            .map(drop)
            .map_err(|error| error.to_string().replace(&root.display().to_string(), "T"));
        assert_eq!(result, expected.map_err(str::to_string), "{log}");
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn files_written_by_secwrap_itself() {
        let nothing = |_: &Path| {};
        check(nothing, "log.jsonl", Ok(()));
        check(nothing, "new/dirs/log.jsonl", Ok(()));
        check(
            |t| std::fs::write(t.join("log"), "x\n").unwrap(),
            "log",
            Ok(()),
        );
        // Symlinks at the final component: live or dangling, not followed.
        let live = |t: &Path| {
            std::fs::write(t.join("target"), "").unwrap();
            std::os::unix::fs::symlink(t.join("target"), t.join("log")).unwrap();
        };
        check(live, "log", Err("it is a symlink"));
        let dangling =
            |t: &Path| std::os::unix::fs::symlink(t.join("nowhere"), t.join("log")).unwrap();
        check(dangling, "log", Err("it is a symlink"));
        // A symlinked directory of ours is followed, and judged where it leads.
        let linked_dir = |t: &Path| {
            std::fs::create_dir(t.join("real")).unwrap();
            std::os::unix::fs::symlink(t.join("real"), t.join("dir")).unwrap();
        };
        check(linked_dir, "dir/log", Ok(()));
        let open_dir = |t: &Path| {
            std::fs::create_dir(t.join("real")).unwrap();
            chmod(&t.join("real"), 0o777);
            std::os::unix::fs::symlink(t.join("real"), t.join("dir")).unwrap();
        };
        let writable = "directory `T/real` is writable by others and not sticky";
        check(open_dir, "dir/log", Err(writable));
        let writable_file = |t: &Path| {
            std::fs::write(t.join("log"), "").unwrap();
            chmod(&t.join("log"), 0o666);
        };
        check(
            writable_file,
            "log",
            Err("it is writable by others (mode 0666)"),
        );
        let hard_link = |t: &Path| {
            std::fs::write(t.join("passwd"), "").unwrap();
            std::fs::hard_link(t.join("passwd"), t.join("log")).unwrap();
        };
        check(hard_link, "log", Err("it has 2 hard links"));
        let fifo = |t: &Path| {
            let path = std::ffi::CString::new(t.join("log").into_os_string().into_encoded_bytes());
            // SAFETY: a valid C string; mkfifo has no other precondition.
            assert_eq!(unsafe { libc::mkfifo(path.unwrap().as_ptr(), 0o600) }, 0);
        };
        check(fifo, "log", Err("it is not a regular file"));
        check(
            |t| std::fs::create_dir(t.join("log")).unwrap(),
            "log",
            Err("it is not a regular file"),
        );
        // Directories others can write: refused unless sticky, and then
        // nothing is created below the refused one.
        let open = |t: &Path| {
            std::fs::create_dir(t.join("open")).unwrap();
            chmod(&t.join("open"), 0o777);
        };
        check(
            open,
            "open/log",
            Err("directory `T/open` is writable by others and not sticky"),
        );
        check(
            open,
            "open/sub/log",
            Err("directory `T/open` is writable by others and not sticky"),
        );
        let sticky = |t: &Path| {
            std::fs::create_dir(t.join("sticky")).unwrap();
            chmod(&t.join("sticky"), 0o1777);
        };
        check(sticky, "sticky/log", Ok(()));
        check(sticky, "sticky/sub/log", Ok(()));
    }

    #[test]
    fn missing_directories_are_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a/b/log.jsonl");
        open_for_append(&log, TrustedUsers::effective_user()).unwrap();
        for created in ["a", "a/b"] {
            let mode = std::fs::metadata(dir.path().join(created))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o700, "{created}");
        }
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        assert!(open_for_append(&open.join("sub/log"), TrustedUsers::effective_user()).is_err());
        assert!(
            !open.join("sub").exists(),
            "created below a refused directory"
        );
    }

    #[test]
    fn write_atomic_writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomic(&path, |file| file.write_all(b"first\n")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first\n");
        write_atomic(&path, |file| file.write_all(b"second\n")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn write_atomic_failing_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, b"old").unwrap();
        let failed = write_atomic(&path, |file| {
            file.write_all(b"half")?;
            Err(io::Error::other("serialising failed"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "serialising failed");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn copy_noclobber_keeps_the_first_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("first.o"), dir.path().join("second.o"));
        std::fs::write(&first, b"original").unwrap();
        std::fs::set_permissions(&first, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&second, b"patched").unwrap();
        let copy = dir.path().join("copy.o");
        assert!(copy_noclobber(&first, &copy).unwrap());
        assert!(!copy_noclobber(&second, &copy).unwrap());
        assert_eq!(std::fs::read(&copy).unwrap(), b"original");
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(names(dir.path()), ["copy.o", "first.o", "second.o"]);
    }

    #[test]
    fn copy_noclobber_does_not_follow_a_symlink_at_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("a.o");
        std::fs::write(&object, b"object").unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let copy = dir.path().join("copy.o");
        std::os::unix::fs::symlink(&victim, &copy).unwrap();
        assert!(!copy_noclobber(&object, &copy).unwrap());
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert!(std::fs::symlink_metadata(&copy).unwrap().is_symlink());
        // A dangling one is not followed either (it would create its target).
        let dangling = dir.path().join("dangling.o");
        let nowhere = dir.path().join("nowhere");
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        assert!(!copy_noclobber(&object, &dangling).unwrap());
        assert!(!nowhere.exists());
        assert_eq!(names(dir.path()), ["a.o", "copy.o", "dangling.o", "victim"]);
    }

    #[test]
    fn copy_noclobber_of_a_missing_source_fails_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let error = copy_noclobber(&dir.path().join("absent.o"), &dir.path().join("copy.o"));
        assert_eq!(error.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(names(dir.path()).is_empty());
    }
}
