//! Which program to run: compiler names, launchers, and finding the real
//! compiler without ever finding secwrap again.
//!
//! secwrap recognises itself by file identity, not by name (prior-art §8.1):
//! a symlink or hard link to it has its device and inode, a copy has its
//! size and bytes. On `PATH` it takes the first candidate *after* its own
//! entry, as icecc and hardening-wrapper do ("ignore paths before our own
//! for compatibility with other wrappers"), so a wrapper placed in front of
//! secwrap that calls it keeps working. A ccache/sccache/distcc/icecc
//! masquerade link met on the way is not run as "the compiler": it becomes
//! the launcher in front of the real compiler, which secwrap names by
//! absolute path, so the launcher's own `PATH` search cannot come back to
//! secwrap (Bear's `interception-wrapper-recursion.md`).

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Compiler launchers: `secwrap ccache gcc ...` means gcc is the compiler.
pub const LAUNCHERS: &[&str] = &["ccache", "distcc", "icecc", "sccache"];

/// The compiler family, which decides clang-only probe details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Gcc,
    Clang,
}

/// Whether `name` (a file name, no directory) is a C/C++ compiler driver:
/// `gcc`, `cc`, `c++`, `g++`, `clang`, `clang++`, with a cross prefix
/// (`x86_64-linux-gnu-gcc`, `arm-none-eabi-gcc-13`) and a version suffix
/// (`gcc-12`, `clang-14`, `gcc72` as kpatch learnt in `4c40c3f`).
pub fn compiler_family(name: &OsStr) -> Option<Family> {
    let name = name.as_bytes();
    // Drop a version suffix: digits and dots, optionally after a dash.
    let unversioned = name.trim_ascii_end();
    let end = unversioned
        .iter()
        .rposition(|byte| !(byte.is_ascii_digit() || *byte == b'.'))
        .map_or(0, |last| last + 1);
    let mut stem = &unversioned[..end];
    if end < unversioned.len() {
        stem = stem.strip_suffix(b"-").unwrap_or(stem);
    }
    // Drop a cross prefix: everything up to the last dash before the driver name.
    let driver = match stem.iter().rposition(|&byte| byte == b'-') {
        Some(dash) => &stem[dash + 1..],
        None => stem,
    };
    // `c++`'s own dash-free spelling keeps the cross prefix logic simple.
    match driver {
        b"clang" | b"clang++" => Some(Family::Clang),
        b"gcc" | b"g++" | b"cc" | b"c++" => Some(Family::Gcc),
        _ => None,
    }
}

/// Whether `path` names a compiler launcher, by its own name or, for a
/// masquerade symlink such as `/usr/lib/ccache/gcc`, by its target's.
pub fn launcher_name(path: &Path) -> Option<&'static str> {
    let by_name = |path: &Path| {
        let name = path.file_name()?.to_str()?;
        LAUNCHERS.iter().copied().find(|launcher| *launcher == name)
    };
    // Follow the link chain hop by hop (a masquerade link points at the
    // launcher in one or two hops): cheaper than canonicalising every
    // candidate's directories on each compile.
    let mut current = path.to_path_buf();
    for _ in 0..16 {
        if let Some(launcher) = by_name(&current) {
            return Some(launcher);
        }
        let target = std::fs::read_link(&current).ok()?;
        current = match current.parent() {
            Some(dir) => dir.join(target),
            None => target,
        };
    }
    None
}

/// A `$(CC)` value split into the compiler word and the words after it.
/// `$(CC)` may be several words: launchers and secwrap itself are skipped
/// (a probe asks the real compiler); the words after the compiler are part
/// of every probe, as they are of Kbuild's `$(CC) -Werror ...`. `None`
/// when no word is left for the compiler.
pub fn split_cc(cc: &str) -> Option<(&str, Vec<&str>)> {
    let mut words = cc.split_whitespace().skip_while(|word| {
        let path = Path::new(word);
        let called_secwrap = path
            .file_name()
            .is_some_and(|name| name.as_bytes().starts_with(b"secwrap"));
        called_secwrap || launcher_name(path).is_some()
    });
    let compiler_word = words.next()?;
    Some((compiler_word, words.collect()))
}

/// secwrap's own executable, to be recognised wherever it turns up.
#[derive(Clone, Debug)]
pub struct SelfIdentity {
    path: PathBuf,
    device: u64,
    inode: u64,
    size: u64,
}

impl SelfIdentity {
    pub fn current() -> std::io::Result<SelfIdentity> {
        SelfIdentity::of(std::env::current_exe()?)
    }

    /// The identity of the executable at `path` (a test's stand-in for
    /// secwrap, run in-process).
    pub fn of(path: PathBuf) -> std::io::Result<SelfIdentity> {
        let metadata = std::fs::metadata(&path)?;
        Ok(SelfIdentity {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.len(),
            path,
        })
    }

    /// Whether `candidate` is secwrap: the same file (through any number of
    /// symlinks or hard links), or a byte-identical copy.
    pub fn is_me(&self, candidate: &Path) -> bool {
        let Ok(metadata) = std::fs::metadata(candidate) else {
            return false;
        };
        if metadata.dev() == self.device && metadata.ino() == self.inode {
            return true;
        }
        // Only a file of exactly our size can be a copy; compare bytes then.
        metadata.len() == self.size && self.same_bytes(candidate, &metadata)
    }

    fn same_bytes(&self, candidate: &Path, metadata: &Metadata) -> bool {
        if !metadata.is_file() {
            return false;
        }
        let (Ok(mut mine), Ok(mut theirs)) = (File::open(&self.path), File::open(candidate)) else {
            return false;
        };
        let (mut a, mut b) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
        loop {
            let (Ok(n), Ok(m)) = (read_full(&mut mine, &mut a), read_full(&mut theirs, &mut b))
            else {
                return false;
            };
            if n != m || a[..n] != b[..m] {
                return false;
            }
            if n == 0 {
                return true;
            }
        }
    }
}

fn read_full(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The program chain to run for a compiler word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedCompiler {
    /// The real compiler: an absolute path as found on `PATH` (never
    /// canonicalised: clang picks its driver mode from the name, sccache#1437).
    pub compiler: PathBuf,
    /// The launcher behind a masquerade link met before it on `PATH`, to
    /// run in front (`/usr/bin/ccache`, canonical).
    pub launcher: Option<PathBuf>,
}

/// Why no compiler could be found, or none that can be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("compiler `{}` {}", name.to_string_lossy(), reason.describe())]
pub struct NotFound {
    pub name: OsString,
    pub reason: NotFoundReason,
}

/// What stands behind a compiler word that cannot be run, as a shell tells
/// them apart (dash and bash: "not found" 127, "Permission denied" 126).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotFoundReason {
    /// A name: nothing runnable on `PATH` (secwrap itself skipped).
    NotOnPath,
    /// A path to nothing (`ENOENT`, `ENOTDIR`).
    NoSuchFile,
    /// A path to a directory: `execve` fails with `EACCES`.
    Directory,
    /// A path to a file without an execute bit, or one that cannot even be
    /// looked at (`EACCES` on a directory on the way, `ELOOP`).
    NotExecutable,
}

impl NotFoundReason {
    fn describe(self) -> &'static str {
        match self {
            NotFoundReason::NotOnPath => "not found on PATH (secwrap itself skipped)",
            NotFoundReason::NoSuchFile => "not found",
            NotFoundReason::Directory => "is a directory",
            NotFoundReason::NotExecutable => "is not executable",
        }
    }
}

impl NotFound {
    /// The status a shell exits with for the same word: 127 when there is
    /// nothing, 126 when there is something it cannot execute (POSIX,
    /// "Command Search and Execution").
    pub fn exit_code(&self) -> i32 {
        match self.reason {
            NotFoundReason::NotOnPath | NotFoundReason::NoSuchFile => crate::exit::EXIT_NOT_FOUND,
            NotFoundReason::Directory | NotFoundReason::NotExecutable => {
                crate::exit::EXIT_CANNOT_RUN
            }
        }
    }
}

/// Finds the real program for `word` (`gcc`, `./cc`, `/usr/bin/gcc`),
/// skipping secwrap itself. With `use_launchers` false (an inner secwrap),
/// launcher masquerade links are skipped too, which breaks any loop through
/// them. With `after_own_entry` (masquerade mode: the shell found secwrap
/// on `PATH` under this name) the first candidate after secwrap's own entry
/// wins; otherwise (prefix mode) the first candidate that is not secwrap.
pub fn resolve(
    word: &OsStr,
    path_var: Option<&OsStr>,
    cwd: &Path,
    me: &SelfIdentity,
    use_launchers: bool,
    after_own_entry: bool,
) -> Result<ResolvedCompiler, NotFound> {
    let not_found = || NotFound {
        name: word.to_os_string(),
        reason: NotFoundReason::NotOnPath,
    };
    let direct = Path::new(word);
    let name = if word.as_bytes().contains(&b'/') {
        // A path: used as is unless it is secwrap under another name, in
        // which case its file name is looked up like a masquerade.
        let path = cwd.join(direct);
        if !me.is_me(&path) {
            return match not_runnable(&path) {
                None => Ok(ResolvedCompiler {
                    compiler: path,
                    launcher: None,
                }),
                Some(reason) => Err(NotFound {
                    name: word.to_os_string(),
                    reason,
                }),
            };
        }
        direct.file_name().ok_or_else(not_found)?
    } else {
        word
    };
    let candidates = which::which_in_all(name, path_var, cwd).map_err(|_| not_found())?;
    let mut seen_me = false;
    let mut launcher = None;
    let mut first_before_me: Option<ResolvedCompiler> = None;
    for candidate in candidates {
        if me.is_me(&candidate) {
            // Everything found before our own entry is a wrapper in front
            // of us; start over from here.
            seen_me = true;
            launcher = None;
            continue;
        }
        if launcher_name(&candidate).is_some() {
            if use_launchers && launcher.is_none() {
                // Run the launcher itself (`/usr/bin/ccache`), not its
                // masquerade link: called as `gcc`, ccache would search for
                // gcc itself and take our compiler path for an input file.
                launcher = Some(std::fs::canonicalize(&candidate).unwrap_or(candidate));
            }
            continue;
        }
        let found = ResolvedCompiler {
            compiler: candidate,
            launcher: launcher.clone(),
        };
        if seen_me || !after_own_entry {
            return Ok(found);
        }
        first_before_me.get_or_insert(found);
    }
    first_before_me.ok_or_else(not_found)
}

/// Resolves a launcher word (`ccache`) through `PATH`, skipping secwrap.
pub fn resolve_program(
    word: &OsStr,
    path_var: Option<&OsStr>,
    cwd: &Path,
    me: &SelfIdentity,
) -> Option<PathBuf> {
    if word.as_bytes().contains(&b'/') {
        let path = cwd.join(word);
        return is_executable(&path).then_some(path);
    }
    which::which_in_all(word, path_var, cwd)
        .ok()?
        .find(|candidate| !me.is_me(candidate))
}

fn is_executable(path: &Path) -> bool {
    not_runnable(path).is_none()
}

/// Why a shell could not run `path`, if it could not: what `execve` would
/// say, judged from `stat` (a file needs an execute bit; root's `execve`
/// also needs one).
fn not_runnable(path: &Path) -> Option<NotFoundReason> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Some(NotFoundReason::NoSuchFile)
        }
        Err(_) => Some(NotFoundReason::NotExecutable),
        Ok(metadata) if metadata.is_dir() => Some(NotFoundReason::Directory),
        Ok(metadata) if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 => {
            Some(NotFoundReason::NotExecutable)
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, expected: Option<Family>) {
        assert_eq!(compiler_family(OsStr::new(name)), expected, "name: {name}");
    }

    #[test]
    fn recognises_compiler_names() {
        for name in [
            "gcc",
            "cc",
            "g++",
            "c++",
            "gcc-12",
            "gcc-12.2",
            "gcc72",
            "x86_64-linux-gnu-gcc",
            "aarch64-linux-gnu-gcc",
            "arm-none-eabi-gcc",
            "arm-none-eabi-gcc-13",
            "x86_64-linux-gnu-g++-12",
        ] {
            check(name, Some(Family::Gcc));
        }
        for name in [
            "clang",
            "clang++",
            "clang-14",
            "clang++-14",
            "aarch64-linux-gnu-clang",
            "x86_64-linux-gnu-clang-18",
        ] {
            check(name, Some(Family::Clang));
        }
        for name in [
            "ld",
            "objcopy",
            "x86_64-linux-gnu-objcopy",
            "ccache",
            // The tools installed beside the drivers, versioned or not
            // (`wrappers/mklinks` must make no link for them).
            "gcc-ar",
            "gcc-ar-12",
            "gcc-nm",
            "gcc-nm-12",
            "gcc-ranlib-12",
            "x86_64-linux-gnu-gcc-ar-12",
            "clang-format-14",
            "clang-cpp-14",
            "clang-tidy",
            "clang-tidy-14",
            "clang-cl",
            "c++filt",
            "as",
            "secwrap",
            "",
            "12",
            "cpp",
        ] {
            check(name, None);
        }
    }

    #[test]
    fn not_found_names_the_compiler() {
        for (name, reason, message, code) in [
            (
                "gcc-99",
                NotFoundReason::NotOnPath,
                "compiler `gcc-99` not found on PATH (secwrap itself skipped)",
                127,
            ),
            (
                "./gcc",
                NotFoundReason::NoSuchFile,
                "compiler `./gcc` not found",
                127,
            ),
            (
                "bin/gcc",
                NotFoundReason::Directory,
                "compiler `bin/gcc` is a directory",
                126,
            ),
            (
                "/x/gcc",
                NotFoundReason::NotExecutable,
                "compiler `/x/gcc` is not executable",
                126,
            ),
        ] {
            let error = NotFound {
                name: OsString::from(name),
                reason,
            };
            assert_eq!(
                (error.to_string(), error.exit_code()),
                (message.to_string(), code)
            );
        }
    }

    /// A path word resolves to what a shell would run, or says why not.
    #[test]
    fn paths_that_cannot_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("dir")).unwrap();
        std::fs::write(root.join("plain"), "").unwrap();
        std::fs::write(root.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(root.join("tool"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let me = SelfIdentity::of(std::env::current_exe().unwrap()).unwrap();
        for (word, expected) in [
            ("./dir", Some(NotFoundReason::Directory)),
            ("./plain", Some(NotFoundReason::NotExecutable)),
            ("./missing", Some(NotFoundReason::NoSuchFile)),
            ("./plain/x", Some(NotFoundReason::NoSuchFile)),
            ("./tool", None),
        ] {
            let resolved = resolve(OsStr::new(word), None, root, &me, true, false);
            assert_eq!(
                resolved.err().map(|error| error.reason),
                expected,
                "word: {word}"
            );
        }
    }

    #[track_caller]
    fn check_split_cc(cc: &str, expected: Option<(&str, &[&str])>) {
        let got = split_cc(cc);
        let got = got.as_ref().map(|(word, extra)| (*word, extra.as_slice()));
        assert_eq!(got, expected, "cc: {cc:?}");
    }

    #[test]
    fn split_cc_table() {
        check_split_cc("gcc", Some(("gcc", &[])));
        check_split_cc("  gcc  ", Some(("gcc", &[])));
        check_split_cc("gcc -m32", Some(("gcc", &["-m32"])));
        check_split_cc("ccache gcc", Some(("gcc", &[])));
        check_split_cc(
            "/usr/bin/ccache gcc -m32 -O2",
            Some(("gcc", &["-m32", "-O2"])),
        );
        check_split_cc("sccache distcc clang", Some(("clang", &[])));
        check_split_cc("secwrap gcc", Some(("gcc", &[])));
        check_split_cc(
            "/opt/bin/secwrap-1.2 ccache clang -target x",
            Some(("clang", &["-target", "x"])),
        );
        // Only leading launchers are skipped: a later `ccache` is an argument.
        check_split_cc("gcc ccache", Some(("gcc", &["ccache"])));
        check_split_cc("", None);
        check_split_cc("   ", None);
        check_split_cc("ccache", None);
        check_split_cc("secwrap ccache", None);
    }
}
