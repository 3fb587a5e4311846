//! Paths as the build sees them: lexical normalisation, paths relative to a
//! root, and the object a temporary compile output becomes.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The object that ends up in the link for a compile output: `.tmp_foo.o`
/// and `.foo.o.tmp` become `foo.o`. `None` for temporaries that are not
/// objects of the tree (recordmcount's `.tmp_mc_*`, probes in `.tmp_*/`
/// directories) and for outputs that are not objects.
pub fn final_object(output: &Path) -> Option<PathBuf> {
    let name = output.file_name()?.as_bytes();
    let in_probe_dir = output.parent().is_some_and(|dir| {
        dir.file_name()
            .is_some_and(|dir| dir.as_bytes().starts_with(b".tmp_"))
    });
    if in_probe_dir || name.starts_with(b".tmp_mc_") {
        return None;
    }
    let final_name: &[u8] = if let Some(rest) = name.strip_prefix(b".tmp_") {
        rest
    } else if let Some(rest) = name
        .strip_prefix(b".")
        .and_then(|rest| rest.strip_suffix(b".tmp"))
    {
        rest
    } else {
        name
    };
    final_name
        .ends_with(b".o")
        .then(|| output.with_file_name(OsStr::from_bytes(final_name)))
}

/// `path` without `.` and with `..` folded, lexically (no symlinks are
/// followed: the build's own view of its paths is what livepatch tools use).
pub fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push("..");
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `path` relative to `root` when it is inside it, else absolute.
pub fn relative_to(path: &Path, root: &Path) -> PathBuf {
    let path = normalize(path);
    let root = normalize(root);
    path.strip_prefix(&root)
        .map_or(path.clone(), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_final(output: &str, expected: Option<&str>) {
        assert_eq!(
            final_object(Path::new(output)),
            expected.map(PathBuf::from),
            "{output}"
        );
    }

    #[test]
    fn final_objects() {
        check_final("/t/core/foo.o", Some("/t/core/foo.o"));
        check_final("/t/core/.tmp_foo.o", Some("/t/core/foo.o"));
        check_final(
            "/t/xen/arch/x86/.setup.o.tmp",
            Some("/t/xen/arch/x86/setup.o"),
        );
        check_final("/t/core/.tmp_mc_foo.o", None);
        check_final("/t/.tmp_1234/tmp.o", None);
        check_final("/t/core/foo.s", None);
        check_final("/t/a.out", None);
    }

    #[test]
    fn normalizes_lexically() {
        assert_eq!(
            normalize(Path::new("/t/xen/./arch/../common/a.o")),
            Path::new("/t/xen/common/a.o")
        );
        assert_eq!(
            relative_to(Path::new("/t/xen/common/a.o"), Path::new("/t/xen/")),
            Path::new("common/a.o")
        );
        assert_eq!(
            relative_to(Path::new("/elsewhere/a.o"), Path::new("/t/xen")),
            Path::new("/elsewhere/a.o")
        );
    }
}
