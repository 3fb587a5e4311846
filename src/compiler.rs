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

/// Variables a launcher sets for the program it runs, and nobody else
/// does: in secwrap's environment they say a launcher runs above it
/// (`route::LauncherAbove`). Never the user's own settings (`CCACHE_DIR`,
/// `CCACHE_PREFIX`, `DISTCC_HOSTS`), which the right order passes through
/// secwrap too. ccache sets `UNCACHED_ERR_FD` for every compiler it runs
/// (its `set_up_uncached_err`, 3.x and 4.x); distcc and icecc set their
/// recursion guards before running the local compiler or preprocessor
/// (`dcc_increment_safeguard` in `safeguard.c`, `local.cpp`). sccache
/// sets none: its server's executable is the sign.
pub const LAUNCHER_CHILD_VARS: &[(&str, &str)] = &[
    ("ccache", "UNCACHED_ERR_FD"),
    ("distcc", "_DISTCC_SAFEGUARD"),
    ("icecc", "_ICECC_SAFEGUARD"),
];

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
    // `c++`'s own dash-free spelling keeps the cross prefix logic simple.
    match last_component(unversioned(name.as_bytes())) {
        b"clang" | b"clang++" => Some(Family::Clang),
        b"gcc" | b"g++" | b"cc" | b"c++" => Some(Family::Gcc),
        _ => None,
    }
}

/// Programs that are not compilers, which secwrap meets in front of it
/// all the same (`CROSS_COMPILE="secwrap aarch64-linux-gnu-"` sends the
/// binutils, `cpp` and `gcc-ar` too; Kbuild's `$(CROSS_COMPILE)` list): by
/// the last dash-separated word of the name, cross prefix and version
/// gone (`x86_64-linux-gnu-objcopy`, `gcc-ar-12`, `llvm-objcopy-14`,
/// `ld.bfd`). `cpp` is gcc's preprocessor (it defines `__GNUC__`, so
/// asking it would take it for gcc); the shells take `-c` for a command.
const KNOWN_TOOLS: &[&[u8]] = &[
    b"addr2line",
    b"ar",
    b"as",
    b"bash",
    b"c++filt",
    b"cpp",
    b"dash",
    b"dlltool",
    b"dwp",
    b"elfedit",
    b"gcov",
    b"gdb",
    b"gold",
    b"gprof",
    b"ksh",
    b"ld",
    b"ld.bfd",
    b"ld.gold",
    b"ld.lld",
    b"lld",
    b"make",
    b"nm",
    b"objcopy",
    b"objdump",
    b"ranlib",
    b"readelf",
    b"sh",
    b"size",
    b"strings",
    b"strip",
    b"windres",
    b"zsh",
];

/// Tools whose own name has a dash, matched as the whole name or its end
/// (`clang-format-14`, `aarch64-linux-gnu-gcov-tool`): clang's tools, and
/// `clang-cl`, a driver with MSVC's syntax that the argument table does
/// not describe.
const KNOWN_DASHED_TOOLS: &[&[u8]] = &[
    b"clang-check",
    b"clang-cl",
    b"clang-cpp",
    b"clang-format",
    b"clang-tidy",
    b"gcov-dump",
    b"gcov-tool",
    b"lto-dump",
];

/// Whether `name` (a file name) is a known program that is not a C/C++
/// compiler ([`KNOWN_TOOLS`]): passed through unrecorded, never asked
/// what it is.
pub fn is_known_tool(name: &OsStr) -> bool {
    let stem = unversioned(name.as_bytes());
    KNOWN_TOOLS.contains(&last_component(stem))
        || KNOWN_DASHED_TOOLS.iter().any(|tool| {
            stem.strip_suffix(*tool)
                .is_some_and(|before| before.is_empty() || before.ends_with(b"-"))
        })
}

/// `name` without a version suffix: digits and dots at the end, and the
/// dash before them (`gcc-12.2` → `gcc`, `gcc72` → `gcc`).
fn unversioned(name: &[u8]) -> &[u8] {
    let name = name.trim_ascii_end();
    let end = name
        .iter()
        .rposition(|byte| !(byte.is_ascii_digit() || *byte == b'.'))
        .map_or(0, |last| last + 1);
    let stem = &name[..end];
    if end < name.len() {
        stem.strip_suffix(b"-").unwrap_or(stem)
    } else {
        stem
    }
}

/// The driver or tool word: everything after the last dash (the cross
/// prefix dropped).
fn last_component(stem: &[u8]) -> &[u8] {
    match stem.iter().rposition(|&byte| byte == b'-') {
        Some(dash) => &stem[dash + 1..],
        None => stem,
    }
}

/// Whether `path` names a compiler launcher, by its own name or, for a
/// masquerade symlink such as `/usr/lib/ccache/gcc`, by its target's.
pub fn launcher_name(path: &Path) -> Option<&'static str> {
    let by_name = |path: &Path| {
        let name = path.file_name()?.to_str()?;
        LAUNCHERS.iter().copied().find(|launcher| *launcher == name)
    };
    // A bare name is looked up on PATH, not in the working directory: a
    // `./gcc` link there is not what runs, so only the name counts.
    if !path.as_os_str().as_bytes().contains(&b'/') {
        return by_name(path);
    }
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

/// Whether a program's file name is secwrap's (`secwrap`, `secwrap-0.3`):
/// the one rule for the mode `lib.rs` picks, the words `split_cc` skips
/// and the links `secwrap shims` counts as its own.
pub fn is_secwrap_name(name: &OsStr) -> bool {
    name.as_bytes().starts_with(b"secwrap")
}

/// A `$(CC)` value split into the compiler word and the words after it.
/// `$(CC)` may be several words: launchers and secwrap itself are skipped
/// (a probe asks the real compiler); the words after the compiler are part
/// of every probe, as they are of Kbuild's `$(CC) -Werror ...`. `None`
/// when no word is left for the compiler.
pub fn split_cc(cc: &str) -> Option<(&str, Vec<&str>)> {
    let mut words = cc.split_whitespace().skip_while(|word| {
        let path = Path::new(word);
        path.file_name().is_some_and(is_secwrap_name) || launcher_name(path).is_some()
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
    /// The running executable, through `/proc/self/exe`: its `stat` and,
    /// for [`SelfIdentity::is_me`]'s byte comparison, its bytes, with no
    /// `readlink` (the kernel's path rebuild, on every compile).
    pub fn current() -> std::io::Result<SelfIdentity> {
        SelfIdentity::of(PathBuf::from("/proc/self/exe"))
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
    /// Where `PATH` led to secwrap itself under this name first (its
    /// masquerade link), when it did.
    pub own_entry: Option<PathBuf>,
    /// A launcher masquerade link of the same name in a `PATH` entry
    /// before [`ResolvedCompiler::own_entry`] (`/usr/lib/ccache/gcc`): the
    /// shell runs it before secwrap, the wrong order (`route::LauncherAbove`).
    pub launcher_ahead: Option<PathBuf>,
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
                    own_entry: None,
                    launcher_ahead: None,
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
    let mut own_entry: Option<PathBuf> = None;
    let mut launcher = None;
    let mut launcher_ahead: Option<PathBuf> = None;
    let mut first_before_me: Option<ResolvedCompiler> = None;
    for candidate in candidates {
        if me.is_me(&candidate) {
            // Everything found before our own entry is a wrapper in front
            // of us; start over from here.
            own_entry.get_or_insert_with(|| candidate.clone());
            launcher = None;
            continue;
        }
        if launcher_name(&candidate).is_some() {
            if own_entry.is_none() {
                launcher_ahead.get_or_insert_with(|| candidate.clone());
            }
            if use_launchers && launcher.is_none() {
                // Run the launcher itself (`/usr/bin/ccache`), not its
                // masquerade link: called as `gcc`, ccache would search for
                // gcc itself and take our compiler path for an input file.
                launcher = Some(std::fs::canonicalize(&candidate).unwrap_or(candidate));
            }
            continue;
        }
        if own_entry.is_some() || !after_own_entry {
            return Ok(ResolvedCompiler {
                compiler: candidate,
                launcher,
                // Only a link before secwrap's own entry is ahead of it.
                launcher_ahead: own_entry.as_ref().and(launcher_ahead),
                own_entry,
            });
        }
        first_before_me.get_or_insert(ResolvedCompiler {
            compiler: candidate,
            launcher: launcher.clone(),
            own_entry: None,
            launcher_ahead: None,
        });
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

/// Whether a shell could run `path` (the rule of the shim's own PATH
/// lookup, also `secwrap shims`').
pub fn is_executable(path: &Path) -> bool {
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
            // (`secwrap shims` must make no link for them).
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
    fn known_tools_are_not_compilers() {
        for name in [
            "ld",
            "ld.bfd",
            "x86_64-linux-gnu-ld.gold",
            "ld.lld-14",
            "as",
            "aarch64-linux-gnu-as",
            "ar",
            "gcc-ar",
            "gcc-ar-12",
            "x86_64-linux-gnu-gcc-nm-12",
            "llvm-ar-14",
            "llvm-objcopy",
            "objcopy",
            "arm-none-eabi-objcopy",
            "objdump",
            "nm",
            "strip",
            "ranlib",
            "readelf",
            "size",
            "strings",
            "addr2line",
            "c++filt",
            "cpp",
            "cpp-12",
            "x86_64-linux-gnu-cpp-12",
            "clang-cpp-14",
            "clang-format",
            "clang-format-14",
            "clang-tidy",
            "clang-cl",
            "gcov",
            "gcov-tool-12",
            "aarch64-linux-gnu-gcov-dump",
            "sh",
            "bash",
            "make",
        ] {
            assert!(is_known_tool(OsStr::new(name)), "{name} is a known tool");
            assert_eq!(compiler_family(OsStr::new(name)), None, "{name}");
        }
        // Unknown names: asked (when the line is a compile), not guessed.
        for name in [
            "mycc",
            "kgcc",
            "deploy",
            "deploy.sh",
            "icx",
            "tcc",
            "cc1",
            "gcc",
            "clang-14",
            "",
            "12",
            "ldd",
            "asm",
            "shc",
            "clang-formatter",
        ] {
            assert!(
                !is_known_tool(OsStr::new(name)),
                "{name} is not a known tool"
            );
        }
    }

    /// `PATH` order as `resolve` sees it: a launcher masquerade link in an
    /// entry before secwrap's own is ahead of it; one after is the launcher
    /// to run.
    #[test]
    fn a_launcher_link_before_secwrap_is_ahead_of_it() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let me_path = std::env::current_exe().unwrap();
        let me = SelfIdentity::of(me_path.clone()).unwrap();
        for sub in ["launchers", "mask", "real", "bin"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let ccache = root.join("bin/ccache");
        std::fs::write(&ccache, "#!/bin/sh\n").unwrap();
        std::fs::write(root.join("real/gcc"), "#!/bin/sh\n").unwrap();
        for file in [&ccache, &root.join("real/gcc")] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        symlink(&ccache, root.join("launchers/gcc")).unwrap();
        symlink(&me_path, root.join("mask/gcc")).unwrap();
        let resolve_on = |order: &[&str]| {
            let path = std::env::join_paths(order.iter().map(|sub| root.join(sub))).unwrap();
            resolve(OsStr::new("gcc"), Some(&path), root, &me, true, true).unwrap()
        };
        let wrong = resolve_on(&["launchers", "mask", "real"]);
        assert_eq!(wrong.launcher_ahead, Some(root.join("launchers/gcc")));
        assert_eq!(wrong.own_entry, Some(root.join("mask/gcc")));
        assert_eq!(
            (wrong.compiler, wrong.launcher),
            (root.join("real/gcc"), None)
        );
        let right = resolve_on(&["mask", "launchers", "real"]);
        assert_eq!(right.launcher_ahead, None);
        assert_eq!(right.own_entry, Some(root.join("mask/gcc")));
        assert_eq!(
            right.launcher,
            Some(std::fs::canonicalize(&ccache).unwrap())
        );
        // secwrap not on PATH at all (called by its path): nothing is ahead.
        let elsewhere = resolve_on(&["launchers", "real"]);
        assert_eq!(
            (elsewhere.launcher_ahead, elsewhere.own_entry),
            (None, None)
        );
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
