//! Writing a file so that no reader ever sees half of it: the one helper
//! for the cache entries (`cache.rs`), `secwrap log export`'s compilation
//! database and the kept original objects (`[livepatch] keep_originals`).
//!
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

use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

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
/// The copy gets `from`'s permission bits, as `std::fs::copy` gives. A
/// concurrent copier loses cleanly: one of them creates `to`, the other
/// gets `false`.
pub fn copy_noclobber(from: &Path, to: &Path) -> io::Result<bool> {
    let mut source = File::open(from)?;
    let permissions = source.metadata()?.permissions();
    let mut temporary = temporary_beside(to)?;
    io::copy(&mut source, temporary.as_file_mut())?;
    temporary.as_file().set_permissions(permissions)?;
    match temporary.persist_noclobber(to) {
        Ok(_) => Ok(true),
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.error),
    }
}

/// A temporary file in `path`'s directory, named `.tmp-<name>-<random>`
/// (`secwrap cache clear` removes strays by that prefix).
fn temporary_beside(path: &Path) -> io::Result<NamedTempFile> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
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
