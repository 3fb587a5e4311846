//! Files secwrap writes by itself: the invocation log (`record::LogWriter`),
//! its index (`record::index`: [`write_private`], [`open_private`]), the
//! kept original objects (`[livepatch] keep_originals`) and the cache
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
//! -o`, `init --dir`'s secwrap.toml, `trust`'s user config) follows other
//! conventions, [`write_output`]'s: it goes where it is told, as `cp` and
//! `sort -o` write:
//! - `-` is stdout (where the command allows a stream);
//! - a symlink is written through: to a regular file at its end, by a
//!   temporary beside that file renamed onto it (the link stays a link, as
//!   a dotfile manager's links do after `sed -i --follow-symlinks`); to
//!   anything else (a FIFO, a tty, `/dev/stdout`, `/dev/null`), by opening
//!   it and writing in place, never renaming over a device;
//! - a dangling symlink is refused, as `cp` refuses ("not writing through
//!   dangling symlink"; `sort -o` would create the target);
//! - a new file gets `0666 & ~umask`, as `open(2)` with `O_CREAT` gives
//!   every shell redirection; an existing one keeps its mode and, when the
//!   user may give it, its owner (GNU `sed -i` does the same `fchown`).
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
    // Checked first, as the directory is there on every call but the
    // first: what is missing shows as NotFound.
    match check_directories(dir, users) {
        Ok(shared) => {
            return Ok(PreparedDirectory {
                path: dir.to_path_buf(),
                shared,
            });
        }
        Err(error)
            if error.kind() == io::ErrorKind::NotFound
                && std::fs::symlink_metadata(dir)
                    .is_err_and(|error| error.kind() == io::ErrorKind::NotFound) =>
        {
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
    // Each directory's lstat on the way down, while it shows `dir` to be
    // its own canonical path (absolute, no `.`, `..` or symlink): then the
    // walk up below needs no `realpath` and no second lstat of each one.
    let mut walked = Some(Vec::new()).filter(|_| dir.is_absolute());
    for component in dir.components() {
        prefix.push(component);
        match component {
            Component::RootDir => {}
            Component::Normal(_) => {
                let metadata = std::fs::symlink_metadata(&prefix)?;
                if metadata.file_type().is_symlink() {
                    walked = None;
                    if !users.trusts(metadata.uid()) {
                        return Err(Refused::LinkOwner {
                            link: prefix,
                            uid: metadata.uid(),
                        }
                        .into());
                    }
                }
                if let Some(walked) = &mut walked {
                    walked.push((prefix.clone(), metadata));
                }
            }
            _ => walked = None,
        }
    }
    // Then the directories themselves, where the symlinks lead (OpenSSH's
    // `safe_path` walks the `realpath` up to `/` the same way), from `dir`
    // up to `/`.
    let ancestors = match walked {
        Some(mut walked) => {
            walked.push((PathBuf::from("/"), std::fs::symlink_metadata("/")?));
            walked.reverse();
            walked
        }
        None => std::fs::canonicalize(dir)?
            .ancestors()
            .map(|ancestor| Ok((ancestor.to_path_buf(), std::fs::symlink_metadata(ancestor)?)))
            .collect::<io::Result<_>>()?,
    };
    let mut shared = false;
    for (depth, (ancestor, metadata)) in ancestors.into_iter().enumerate() {
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
    open_checked(path, users, true)
}

/// As [`open_for_append`], for a log that must exist already (`secwrap log
/// clear` and `prune`): the same checks, nothing created.
pub fn open_existing(path: &Path, users: TrustedUsers) -> io::Result<File> {
    open_checked(path, users, false)
}

fn open_checked(path: &Path, users: TrustedUsers, create: bool) -> io::Result<File> {
    let directory = if create {
        prepare_directory(parent(path), users)?
    } else {
        // Nothing is created: the directories must be there, and pass.
        let dir = parent(path);
        PreparedDirectory {
            path: dir.to_path_buf(),
            shared: check_directories(dir, users)?,
        }
    };
    // O_NOFOLLOW: a symlink at the final component, even a dangling one,
    // is refused, never followed (it would create or append to its
    // target). O_NONBLOCK: a FIFO planted there fails or is seen by fstat,
    // instead of blocking the open until someone reads it.
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(create)
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

/// Opens, for reading, a file secwrap wrote by itself with [`write_private`]
/// (the log's index): `None` when there is none. Judged as the files it
/// appends to are, and stricter, since such a file is only ever created
/// 0600: no symlink at the end, a regular file of a trusted user with one
/// link, writable by no one but its owner, in directories
/// [`prepare_directory`] accepts.
pub fn open_private(path: &Path, users: TrustedUsers) -> io::Result<Option<File>> {
    let dir = parent(path);
    let directory = PreparedDirectory {
        path: dir.to_path_buf(),
        shared: check_directories(dir, users)?,
    };
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(why_not_opened(path, users, error)),
    };
    let metadata = file.metadata()?;
    check_owned(&metadata, users, &directory)?;
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Refused::Writable { mode }.into());
    }
    if metadata.nlink() != 1 {
        return Err(Refused::HardLinks {
            links: metadata.nlink(),
        }
        .into());
    }
    clear_nonblocking(&file)?;
    Ok(Some(file))
}

/// Writes a file secwrap keeps for itself beside one it writes (the log's
/// index): its directory judged as [`prepare_directory`] judges it, then
/// [`write_atomic`] (0600, renamed onto `path`, never written through a
/// symlink there).
pub fn write_private(path: &Path, users: TrustedUsers, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    prepare_directory(parent(path), users)?;
    write_atomic(path, |file| file.write_all(bytes))
}

/// Replaces the file at `path`, open as `old` (and locked by the caller),
/// with `bytes`: a temporary beside it, given `old`'s mode, owner and
/// group, renamed onto it. A reader or writer holding `old` keeps the old
/// file; the log's writers notice the change under the lock and reopen
/// (`record::LogWriter::append`).
pub fn replace_file(path: &Path, old: &File, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let metadata = old.metadata()?;
    let mut temporary = temporary_beside(path)?;
    temporary.as_file_mut().write_all(bytes)?;
    let file = temporary.as_file();
    let made = file.metadata()?;
    if (made.uid(), made.gid()) != (metadata.uid(), metadata.gid()) {
        // An error, not a log silently given to someone else.
        std::os::unix::fs::fchown(file, Some(metadata.uid()), Some(metadata.gid())).map_err(
            |error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "cannot give the rewritten file its owner (uid {}, gid {}): {}",
                        metadata.uid(),
                        metadata.gid(),
                        crate::error::io_message(&error)
                    ),
                )
            },
        )?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(metadata.mode() & 0o7777))?;
    file.sync_all()?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
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

/// Where [`write_output`] writes a path the user named, decided from what
/// is there now ([`output_target`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// `-`: the command's standard output.
    Stdout,
    /// A regular file, or a new one: `path` is where the symlinks lead (the
    /// name itself when there are none); written to a temporary beside it
    /// and renamed onto it. `existing` is the mode, uid and gid to keep.
    Replace {
        path: PathBuf,
        existing: Option<(u32, u32, u32)>,
    },
    /// Not a regular file at the end (a FIFO, a tty, a character device, a
    /// `/proc/self/fd` link such as `/dev/stdout`): opened `O_WRONLY |
    /// O_TRUNC` and written in place.
    InPlace { path: PathBuf },
}

impl OutputTarget {
    /// Whether the output is a stream rather than a file (stdout, a pipe, a
    /// device): a note about what was written then belongs on stderr.
    pub fn is_stream(&self) -> bool {
        !matches!(self, OutputTarget::Replace { .. })
    }
}

/// Kernel's limit on symlinks followed in one lookup (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Decides where `path` (as the user named it) is written. Errors: a
/// directory, a dangling symlink, a symlink loop.
pub fn output_target(path: &Path) -> io::Result<OutputTarget> {
    if path == Path::new("-") {
        return Ok(OutputTarget::Stdout);
    }
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        let metadata = match std::fs::symlink_metadata(&current) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound && current == path => {
                return Ok(OutputTarget::Replace {
                    path: current,
                    existing: None,
                });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "not writing through dangling symlink to `{}` (as cp)",
                        current.display()
                    ),
                ));
            }
            Err(error) => return Err(error),
        };
        let file_type = metadata.file_type();
        if file_type.is_symlink() {
            // `/dev/stdout -> /proc/self/fd/1`, `/dev/fd/N`: the kernel's
            // links to open descriptors name no file to rename onto (the
            // one they name may be a pipe, or the file a shell opened with
            // `>>`), so they are written in place, as gawk treats
            // `/dev/stdout`.
            let link = std::fs::read_link(&current)?;
            let next = if link.is_absolute() {
                link
            } else {
                parent(&current).join(link)
            };
            let in_proc = |candidate: &Path| {
                candidate.starts_with("/proc")
                    || std::fs::canonicalize(parent(candidate))
                        .is_ok_and(|dir| dir.starts_with("/proc"))
            };
            if in_proc(&current) || in_proc(&next) {
                return Ok(OutputTarget::InPlace {
                    path: path.to_path_buf(),
                });
            }
            current = next;
            continue;
        }
        if file_type.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
        if file_type.is_file() {
            return Ok(OutputTarget::Replace {
                path: current,
                existing: Some((metadata.mode() & 0o7777, metadata.uid(), metadata.gid())),
            });
        }
        return Ok(OutputTarget::InPlace {
            path: path.to_path_buf(),
        });
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// The process's umask, read once: from `/proc/self/status` (Linux 4.7
/// and later), which reads it without changing it; else by `umask(2)`,
/// set and set back (the CLI writes its outputs from one thread).
pub fn process_umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let from_proc = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status.lines().find_map(|line| {
                    line.strip_prefix("Umask:")
                        .and_then(|value| u32::from_str_radix(value.trim(), 8).ok())
                })
            });
        from_proc.unwrap_or_else(|| {
            // SAFETY: umask(2) cannot fail; the old mask is set back at once.
            unsafe {
                let old = libc::umask(0o022);
                libc::umask(old);
                old as u32
            }
        })
    })
}

/// Writes a file the user named (`-o FILE`) through `write`, by
/// [`output_target`]'s conventions; `stdout` is the command's standard
/// output, for `-`. `deny` are mode bits a new file never gets, on top of
/// the umask: `WORLD_WRITABLE` for a file secwrap later reads through its
/// trust checks, which would refuse it (a secwrap.toml, the user config).
/// On an error a replaced file is untouched and the temporary removed.
/// Returns where it wrote.
pub fn write_output(
    path: &Path,
    stdout: &mut dyn io::Write,
    deny: u32,
    write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> io::Result<OutputTarget> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let target = output_target(path)?;
    match &target {
        OutputTarget::Stdout => {
            write(stdout)?;
            stdout.flush()?;
        }
        OutputTarget::InPlace { path } => {
            let mut file = OpenOptions::new().write(true).truncate(true).open(path)?;
            write(&mut file)?;
            file.flush()?;
        }
        OutputTarget::Replace { path, existing } => {
            let mut temporary = temporary_beside(path)?;
            write(temporary.as_file_mut())?;
            let mode = match existing {
                Some((mode, _, _)) => *mode,
                None => 0o666 & !process_umask() & !deny,
            };
            let file = temporary.as_file();
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            if let Some((_, uid, gid)) = *existing {
                let metadata = file.metadata()?;
                if (metadata.uid(), metadata.gid()) != (uid, gid) {
                    // As `sed -i`: the owner and group are kept when the
                    // user may give them (root, or a group of the user's);
                    // when not, the file is the user's, as any rewrite
                    // by rename leaves it.
                    let _ = std::os::unix::fs::fchown(file, Some(uid), Some(gid))
                        .or_else(|_| std::os::unix::fs::fchown(file, None, Some(gid)));
                    // chown may clear set-id bits: set the mode again.
                    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
            }
            temporary.persist(path).map_err(|error| error.error)?;
        }
    }
    Ok(target)
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

    /// What [`output_target`] decides for `name` in a tree `setup` made,
    /// with the tree's path written `T`: `stdout`, `replace PATH (new)`,
    /// `replace PATH (mode)`, `in place PATH`, or the error.
    #[track_caller]
    fn check_output(setup: impl FnOnce(&Path), name: &str, expected: &str) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        setup(&root);
        let path = if name.starts_with('/') || name == "-" {
            PathBuf::from(name)
        } else {
            root.join(name)
        };
        let shown = match output_target(&path) {
            Ok(OutputTarget::Stdout) => "stdout".to_string(),
            Ok(OutputTarget::Replace {
                path,
                existing: None,
            }) => format!("replace {} (new)", path.display()),
            Ok(OutputTarget::Replace {
                path,
                existing: Some((mode, _, _)),
            }) => format!("replace {} ({mode:04o})", path.display()),
            Ok(OutputTarget::InPlace { path }) => format!("in place {}", path.display()),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(
            shown.replace(&root.display().to_string(), "T"),
            expected,
            "{name}"
        );
    }

    #[test]
    fn where_a_named_output_is_written() {
        let nothing = |_: &Path| {};
        let file = |t: &Path| {
            std::fs::write(t.join("out.json"), "").unwrap();
            chmod(&t.join("out.json"), 0o640);
        };
        check_output(nothing, "-", "stdout");
        check_output(nothing, "out.json", "replace T/out.json (new)");
        check_output(file, "out.json", "replace T/out.json (0640)");
        // Through symlinks, relative and absolute, to the file at the end.
        let links = |t: &Path| {
            file(t);
            std::fs::create_dir(t.join("sub")).unwrap();
            std::os::unix::fs::symlink("../out.json", t.join("sub/rel")).unwrap();
            std::os::unix::fs::symlink(t.join("sub/rel"), t.join("abs")).unwrap();
        };
        check_output(links, "sub/rel", "replace T/sub/../out.json (0640)");
        check_output(links, "abs", "replace T/sub/../out.json (0640)");
        let dangling =
            |t: &Path| std::os::unix::fs::symlink("nowhere", t.join("out.json")).unwrap();
        check_output(
            dangling,
            "out.json",
            "error: not writing through dangling symlink to `T/nowhere` (as cp)",
        );
        let looped = |t: &Path| {
            std::os::unix::fs::symlink("b", t.join("a")).unwrap();
            std::os::unix::fs::symlink("a", t.join("b")).unwrap();
        };
        check_output(
            looped,
            "a",
            "error: Too many levels of symbolic links (os error 40)",
        );
        check_output(nothing, ".", "error: it is a directory");
        let fifo = |t: &Path| {
            let path = std::ffi::CString::new(t.join("fifo").into_os_string().into_encoded_bytes());
            // SAFETY: a valid C string; mkfifo has no other precondition.
            assert_eq!(unsafe { libc::mkfifo(path.unwrap().as_ptr(), 0o600) }, 0);
            std::os::unix::fs::symlink(t.join("fifo"), t.join("to-fifo")).unwrap();
        };
        check_output(fifo, "fifo", "in place T/fifo");
        check_output(fifo, "to-fifo", "in place T/to-fifo");
        // Devices and the kernel's descriptor links: in place, by the name given.
        check_output(nothing, "/dev/null", "in place /dev/null");
        check_output(nothing, "/dev/stdout", "in place /dev/stdout");
        check_output(nothing, "/dev/fd/2", "in place /dev/fd/2");
        check_output(nothing, "/proc/self/fd/2", "in place /proc/self/fd/2");
    }

    #[test]
    fn write_output_keeps_a_link_and_a_mode() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.json");
        std::fs::write(&target, "old").unwrap();
        chmod(&target, 0o640);
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("target.json", &link).unwrap();
        let mut stdout = Vec::new();
        let written = write_output(&link, &mut stdout, 0, |file| file.write_all(b"new")).unwrap();
        assert!(!written.is_stream());
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o640);
        assert_eq!(names(dir.path()), ["link.json", "target.json"]);
        // `-` writes the stream it is given; a failed write leaves the file.
        let written =
            write_output(Path::new("-"), &mut stdout, 0, |out| out.write_all(b"x")).unwrap();
        assert_eq!(
            (written, stdout.as_slice()),
            (OutputTarget::Stdout, &b"x"[..])
        );
        let failed = write_output(&link, &mut stdout, 0, |_| Err(io::Error::other("no")));
        assert_eq!(failed.unwrap_err().to_string(), "no");
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["link.json", "target.json"]);
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
