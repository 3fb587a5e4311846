//! Probe: does the real compiler accept these flags? Answered as Kbuild's
//! `cc-option` answers it, once per compiler, flag group and target.
//!
//! # The recipe
//! Kconfig's `cc-option` (`scripts/Kconfig.include` since `4d0831e8a029`):
//! `$(CC) -Werror $(CLANG_FLAGS) <flags> -c -x c /dev/null -o <tmpdir>/tmp.o`,
//! judged on the exit status alone, output thrown away, in a private
//! temporary directory (not `/dev/null` as output: `-gsplit-dwarf` and
//! `-ftest-coverage` write files beside it). For clang, `CLANG_FLAGS` adds
//! `-Werror=unknown-warning-option -Werror=ignored-optimization-argument
//! -Werror=option-ignored -Werror=unused-command-line-argument`
//! (`scripts/Makefile.clang`), because clang only warns about those. The
//! target-selecting arguments of the real command line (`--target=`,
//! `-m32`, `-march=`, ...) come first, as `CLANG_FLAGS` carries
//! `--target=`. gcc's quirk is kept: it accepts any `-Wno-X` (it only
//! complains when another diagnostic is printed), so the plain probe says
//! yes to it; [`ProbeMode::DisableWarning`] asks as `cc-disable-warning`
//! does, probing `-WX` to emit `-Wno-X`.
//!
//! # The cache
//! Kbuild removed its make-level cache because stale answers after a
//! compiler update were "difficult to figure out" and root-owned entries
//! broke builds (`e08d6de4e532`). So entries here are keyed on everything
//! that can change the answer, in two levels:
//! 1. `id-<hash>` ([`IdentityKey`]): the path the compiler is run by,
//!    device, inode, size and mtime → its `--version` first line and family;
//!    for a program of unknown name also ([`FamilyKey`]) the same identity
//!    and the question → the family its preprocessor says it is
//!    (`identify.rs`), or none;
//! 2. `probe-<hash>` ([`ProbeKey`]): that identity and version text, the
//!    target arguments, the mode and the flag group → yes/no and the
//!    compiler's message.
//!
//! A changed or replaced compiler has a new identity, so it is asked again
//! without any manual step. Entries are written to a temporary file and
//! renamed into place; each holds its full key, so a truncated,
//! corrupt or colliding entry is detected and re-probed, never trusted. An
//! entry not owned by the current user is ignored. Under `make -j` with a
//! cold cache, concurrent secwraps wait on a per-key lock file, so each key
//! is probed once.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cache::{DiskCache, FileIdentity};
use crate::compiler::Family;
use crate::record::OsText;

/// Bumped when the recipe or the key changes, so old answers are not
/// reused (2: keyed by the path the compiler is run by, not its canonical
/// path, which had one target's answers reused for another's).
const RECIPE_VERSION: u32 = 2;

/// Kbuild's `CLANG_FLAGS` warnings-as-errors (`scripts/Makefile.clang`,
/// plus `db1547c56886` for the last two).
pub const CLANG_PROBE_FLAGS: &[&str] = &[
    "-Werror=unknown-warning-option",
    "-Werror=ignored-optimization-argument",
    "-Werror=option-ignored",
    "-Werror=unused-command-line-argument",
];

/// How a flag group is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMode {
    /// `cc-option`: the flags as given.
    Option,
    /// `cc-disable-warning`: each `-Wno-X` is probed as `-WX`.
    DisableWarning,
}

impl ProbeMode {
    /// The mode a group of flags to inject needs: any `-Wno-X` in it is
    /// asked about in its positive form (Xen's `Config.mk` does the same
    /// with `$(2:-Wno-%=-W%)`).
    pub fn for_flags(flags: &[OsString]) -> ProbeMode {
        if flags
            .iter()
            .any(|flag| flag.as_bytes().starts_with(b"-Wno-"))
        {
            ProbeMode::DisableWarning
        } else {
            ProbeMode::Option
        }
    }

    /// The words actually put on the probe's command line.
    pub fn probe_words(self, flags: &[OsString]) -> Vec<OsString> {
        flags
            .iter()
            .map(
                |flag| match (self, flag.as_bytes().strip_prefix(b"-Wno-")) {
                    (ProbeMode::DisableWarning, Some(warning)) => {
                        let mut positive = b"-W".to_vec();
                        positive.extend_from_slice(warning);
                        OsStr::from_bytes(&positive).to_os_string()
                    }
                    _ => flag.clone(),
                },
            )
            .collect()
    }
}

/// A warning named as `vla`, `-Wvla` or `-Wno-vla`, spelled `-Wno-vla`:
/// what Kbuild's `cc-disable-warning` emits, and what
/// [`ProbeMode::DisableWarning`] then probes as `-Wvla`.
pub fn disabled_warning(name: &str) -> OsString {
    let bare = name
        .strip_prefix("-Wno-")
        .or_else(|| name.strip_prefix("-W"))
        .unwrap_or(name);
    OsString::from(format!("-Wno-{bare}"))
}

/// The compiler as probes see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompilerIdentity {
    /// The compiler file, by the path it is run by (see [`compiler_file`]).
    pub file: FileIdentity,
    /// First line of `--version`.
    pub version: String,
    pub family: Family,
}

/// The key of an `id-` entry: what `--version` is asked of.
#[derive(Clone, Debug, Serialize)]
pub struct IdentityKey<'a> {
    pub recipe: u32,
    pub compiler: &'a FileIdentity,
}

/// The key of the `id-` entry for a program of unknown name: what family
/// its preprocessor says it is (`identify.rs`). The question is part of
/// the key, so it never meets an [`IdentityKey`] entry of the same file.
#[derive(Clone, Debug, Serialize)]
pub struct FamilyKey<'a> {
    pub recipe: u32,
    pub question: &'static str,
    pub compiler: &'a FileIdentity,
}

/// Bumped when [`crate::identify::MARKER_SOURCE`] or how it is asked changes.
const IDENTIFY_RECIPE: u32 = 1;

/// The key of a `probe-` entry: everything the answer depends on. The
/// compiler is named by its file only, as the `id-` entry is: its version
/// is a function of that file for the cache, so a warm probe reads this one
/// entry and not the `id-` one too (one entry per call; issue 12).
#[derive(Clone, Debug, Serialize)]
pub struct ProbeKey<'a> {
    pub recipe: u32,
    pub compiler: &'a FileIdentity,
    pub mode: ProbeMode,
    /// Bytes exactly as on the command line (non-UTF-8 as base64).
    pub target_args: Vec<OsText>,
    pub flags: Vec<OsText>,
}

impl<'a> ProbeKey<'a> {
    pub fn new(compiler: &'a FileIdentity, request: &ProbeRequest<'_>) -> ProbeKey<'a> {
        let texts = |words: &[OsString]| words.iter().map(|word| OsText::new(word)).collect();
        ProbeKey {
            recipe: RECIPE_VERSION,
            compiler,
            mode: request.mode,
            target_args: texts(request.target_args),
            flags: texts(request.flags),
        }
    }
}

/// One answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeAnswer {
    pub supported: bool,
    /// What the compiler printed when it said no (stderr, trimmed).
    pub message: String,
    /// Whether this answer came from the cache (never stored as true).
    #[serde(skip)]
    pub cached: bool,
}

/// What a probe is about.
#[derive(Clone, Debug)]
pub struct ProbeRequest<'a> {
    /// The real compiler (never a launcher, never secwrap).
    pub compiler: &'a Path,
    pub target_args: &'a [OsString],
    pub flags: &'a [OsString],
    pub mode: ProbeMode,
}

/// A probe that could not be carried out (the compiler could not be
/// started, or cannot even print its version); distinct from a "no".
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProbeError {
    pub message: String,
    /// The compiler is missing or could not be started: the status a shell
    /// gives for that. 127 when it exited 127 (as a shell does for a missing
    /// command, and an inner secwrap for a loop back to itself) or could not
    /// be started for want of a file (`ENOENT`: gone, or a `#!` interpreter
    /// that is not there); 126 when `execve` refuses the file (`EACCES`,
    /// `ENOEXEC`...). The caller exits with it whatever `on_error` says, as
    /// the compile itself would have failed so.
    pub shell_status: Option<i32>,
}

impl ProbeError {
    /// An error that is not about starting the compiler.
    fn other(message: String) -> ProbeError {
        ProbeError {
            message,
            shell_status: None,
        }
    }

    /// `compiler` could not be looked at or started: `error` from `stat`
    /// or from the spawn.
    fn cannot_start(message: String, error: &std::io::Error) -> ProbeError {
        let missing = matches!(
            error.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        );
        ProbeError {
            message,
            shell_status: Some(if missing {
                crate::exit::EXIT_NOT_FOUND
            } else {
                crate::exit::EXIT_CANNOT_RUN
            }),
        }
    }
}

/// Probes through the on-disk cache (none: always probe).
pub struct Prober {
    cache: Option<DiskCache>,
    /// Environment for the probe's child: the recursion guard.
    child_env: Vec<(OsString, OsString)>,
}

impl Prober {
    pub fn new(cache: Option<DiskCache>, child_env: Vec<(OsString, OsString)>) -> Prober {
        Prober { cache, child_env }
    }

    /// The compiler's identity, from the cache or by asking `--version`.
    pub fn identity(&self, compiler: &Path) -> Result<CompilerIdentity, ProbeError> {
        self.identity_of(compiler, compiler_file(compiler)?)
    }

    /// [`Prober::identity`] of `compiler`, whose file identity is known.
    fn identity_of(
        &self,
        compiler: &Path,
        file: FileIdentity,
    ) -> Result<CompilerIdentity, ProbeError> {
        let key = IdentityKey {
            recipe: RECIPE_VERSION,
            compiler: &file,
        };
        self.cached("id", &key, || {
            // Files, not pipes: a pipe's EOF waits for every process holding
            // it, and a compiler may leave a helper behind (a pipe made each
            // cold probe wait for that helper, 16 s instead of 0.04 s).
            let scratch = scratch_dir()?;
            let (stdout, stderr) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
            let status = compiler_command(compiler, ["--version"], &self.child_env)
                .stdout_path(&stdout)
                .stderr_path(&stderr)
                .run()
                .map_err(|error| {
                    let message = format!(
                        "cannot run `{} --version`: {}",
                        compiler.display(),
                        crate::error::io_message(&error)
                    );
                    ProbeError::cannot_start(message, &error)
                })?
                .status;
            if !status.success() {
                let stderr = read_start(&stderr);
                let missing = status.code() == Some(crate::exit::EXIT_NOT_FOUND);
                return Err(ProbeError {
                    message: format!(
                        "`{} --version` failed ({}): {}",
                        compiler.display(),
                        status,
                        stderr.trim().lines().last().unwrap_or("no message")
                    ),
                    shell_status: missing.then_some(crate::exit::EXIT_NOT_FOUND),
                });
            }
            let version = read_start(&stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            // clang says so in its version line ("Debian clang version 14"),
            // also when installed as `cc`.
            let family = if version.contains("clang") {
                Family::Clang
            } else {
                Family::Gcc
            };
            Ok(CompilerIdentity {
                file: file.clone(),
                version,
                family,
            })
        })
        .map(|(identity, _)| identity)
    }

    /// The family a program of unknown name is (`identify.rs`): `Some`
    /// when it preprocesses [`crate::identify::MARKER_SOURCE`] as gcc or
    /// clang does, `None` for anything else (another compiler, a program
    /// that fails or prints something else). Asked once per file identity:
    /// the answer, a "no" included, is cached like `--version`'s. The
    /// program runs in the scratch directory, so anything it writes stays
    /// there and the answer does not depend on where the build runs it.
    /// An error (a program that cannot be started, no scratch directory)
    /// is not stored.
    pub fn identify(&self, program: &Path) -> Result<Option<Family>, ProbeError> {
        let file = compiler_file(program)?;
        let key = FamilyKey {
            recipe: IDENTIFY_RECIPE,
            question: "preprocessed family markers",
            compiler: &file,
        };
        self.cached("id", &key, || {
            let scratch = scratch_dir()?;
            let source = scratch.path().join("identify.c");
            std::fs::write(&source, crate::identify::MARKER_SOURCE).map_err(|error| {
                ProbeError::other(format!(
                    "cannot write `{}`: {}",
                    source.display(),
                    crate::error::io_message(&error)
                ))
            })?;
            let (stdout, stderr) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
            let args = [OsStr::new("-E"), OsStr::new("-x"), OsStr::new("c")]
                .into_iter()
                .map(OsStr::to_os_string)
                .chain([source.into_os_string()]);
            let status = compiler_command(program, args, &self.child_env)
                .dir(scratch.path())
                .stdout_path(&stdout)
                .stderr_path(&stderr)
                .run()
                .map_err(|error| {
                    let message = format!(
                        "cannot run `{}`: {}",
                        program.display(),
                        crate::error::io_message(&error)
                    );
                    ProbeError::cannot_start(message, &error)
                })?
                .status;
            // A failure or a death by signal is a "no" like any other: a
            // compiler preprocesses this file. (Ctrl-C reaches secwrap too,
            // which then dies before storing anything.)
            Ok(status
                .success()
                .then(|| crate::identify::family_from_preprocessed(&read_start(&stdout)))
                .flatten())
        })
        .map(|(family, _)| family)
    }

    /// Whether the compiler accepts the flag group, as `cc-option` answers.
    pub fn probe(&self, request: &ProbeRequest<'_>) -> Result<ProbeAnswer, ProbeError> {
        let file = compiler_file(request.compiler)?;
        let key = ProbeKey::new(&file, request);
        self.cached("probe", &key, || {
            let identity = self.identity_of(request.compiler, file.clone())?;
            run_probe(request, identity.family, &self.child_env)
        })
        .map(|(answer, cached)| ProbeAnswer { cached, ..answer })
    }

    /// Whether a cache lock was given up on at its deadline, by the probes
    /// or by anyone else sharing this prober's cache (the Kconfig values):
    /// the text of the warning that says so, once per build.
    pub fn cache_lock_given_up(&self) -> Option<String> {
        self.cache.as_ref()?.lock_given_up_message()
    }

    fn cached<K, T, F>(&self, kind: &str, key: &K, compute: F) -> Result<(T, bool), ProbeError>
    where
        K: Serialize,
        T: Serialize + for<'de> Deserialize<'de>,
        F: FnOnce() -> Result<T, ProbeError>,
    {
        match &self.cache {
            Some(cache) => cache.get_or_compute(kind, key, compute),
            None => compute().map(|value| (value, false)),
        }
    }
}

/// The identity of the compiler file at `compiler`, named by that path as
/// it is run, not by its canonical one: clang takes its target from the
/// name it is run by (`aarch64-linux-gnu-clang -> clang` targets aarch64,
/// as Kbuild's `CROSS_COMPILE` relies on), so two links to one file may
/// answer a probe differently. The file itself is the rest of the key.
fn compiler_file(compiler: &Path) -> Result<FileIdentity, ProbeError> {
    let metadata = std::fs::metadata(compiler).map_err(|error| {
        let message = format!(
            "cannot read `{}`: {}",
            compiler.display(),
            crate::error::io_message(&error)
        );
        ProbeError::cannot_start(message, &error)
    })?;
    Ok(FileIdentity::from_metadata(compiler, &metadata))
}

/// Runs the recipe once.
fn run_probe(
    request: &ProbeRequest<'_>,
    family: Family,
    child_env: &[(OsString, OsString)],
) -> Result<ProbeAnswer, ProbeError> {
    let scratch = scratch_dir()?;
    let mut args: Vec<OsString> = vec!["-Werror".into()];
    args.extend(request.target_args.iter().cloned());
    if family == Family::Clang {
        args.extend(CLANG_PROBE_FLAGS.iter().map(OsString::from));
    }
    args.extend(request.mode.probe_words(request.flags));
    args.extend(["-c", "-x", "c", "/dev/null", "-o"].map(OsString::from));
    args.push(scratch.path().join("tmp.o").into_os_string());
    // Output thrown away as Kbuild's `>/dev/null 2>&1`, except stderr's
    // first line for the record; a file, so only the compiler's own exit
    // is waited for (see `identity`).
    let stderr = scratch.path().join("stderr");
    let status = compiler_command(request.compiler, args, child_env)
        .stdout_null()
        .stderr_path(&stderr)
        .run()
        .map_err(|error| {
            let message = format!(
                "cannot run `{}`: {}",
                request.compiler.display(),
                crate::error::io_message(&error)
            );
            ProbeError::cannot_start(message, &error)
        })?
        .status;
    let supported = status.success();
    Ok(ProbeAnswer {
        supported,
        message: if supported {
            String::new()
        } else {
            read_start(&stderr)
                .trim()
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        },
        cached: false,
    })
}

/// The compiler run to ask a question: stdin from `/dev/null`, the exit
/// status judged by the caller, the inherited environment plus the
/// recursion guard (`child_env`).
fn compiler_command<I>(
    compiler: &Path,
    args: I,
    child_env: &[(OsString, OsString)],
) -> duct::Expression
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    child_env.iter().fold(
        duct::cmd(compiler, args).stdin_null().unchecked(),
        |command, (name, value)| command.env(name, value),
    )
}

/// A private temporary directory for one question's files.
fn scratch_dir() -> Result<tempfile::TempDir, ProbeError> {
    tempfile::Builder::new()
        .prefix("secwrap-probe-")
        .tempdir()
        .map_err(|error| {
            ProbeError::other(format!(
                "cannot create a temporary directory: {}",
                crate::error::io_message(&error)
            ))
        })
}

/// The start of a file the compiler wrote (its first 64 KiB, lossily as
/// text, the way its output was read from a pipe); empty if unreadable.
fn read_start(path: &Path) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(1 << 16).read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_warning_table() {
        for (name, expected) in [
            ("vla", "-Wno-vla"),
            ("-Wvla", "-Wno-vla"),
            ("-Wno-vla", "-Wno-vla"),
            ("format-overflow=2", "-Wno-format-overflow=2"),
            ("-Wno-", "-Wno-"),
        ] {
            assert_eq!(disabled_warning(name), expected, "name: {name}");
        }
    }

    #[test]
    fn disable_warning_mode_probes_the_positive_form() {
        let flags: Vec<OsString> = ["-Wno-vla", "-fno-common"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(ProbeMode::for_flags(&flags), ProbeMode::DisableWarning);
        assert_eq!(
            ProbeMode::DisableWarning.probe_words(&flags),
            ["-Wvla", "-fno-common"]
        );
        assert_eq!(
            ProbeMode::Option.probe_words(&flags),
            ["-Wno-vla", "-fno-common"]
        );
        let split: Vec<OsString> = ["-ffunction-sections", "-fdata-sections"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(ProbeMode::for_flags(&split), ProbeMode::Option);
    }

    #[test]
    fn flags_differing_in_a_non_utf8_byte_are_different_entries() {
        use std::os::unix::ffi::OsStringExt;
        let identity = CompilerIdentity {
            file: FileIdentity {
                path: OsText::new(OsStr::new("/usr/bin/gcc-12")),
                device: 1,
                inode: 2,
                size: 3,
                mtime_ns: 4,
            },
            version: "gcc (Debian 12.2.0-14) 12.2.0".to_string(),
            family: Family::Gcc,
        };
        // Both are "-fx\u{FFFD}" when converted lossily.
        let (first, second) = (
            vec![OsString::from_vec(b"-fx\xff".to_vec())],
            vec![OsString::from_vec(b"-fx\xfe".to_vec())],
        );
        let request = |flags| ProbeRequest {
            compiler: Path::new("/usr/bin/gcc-12"),
            target_args: &[],
            flags,
            mode: ProbeMode::Option,
        };
        let (first, second) = (request(&first), request(&second));
        let key = |request| serde_json::to_string(&ProbeKey::new(&identity.file, request)).unwrap();
        assert_ne!(key(&first), key(&second));

        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path().to_path_buf()).unwrap();
        let ask = |request, answer: bool| -> (bool, bool) {
            cache
                .get_or_compute("probe", &ProbeKey::new(&identity.file, request), || {
                    Ok::<_, ()>(answer)
                })
                .unwrap()
        };
        assert_eq!(ask(&first, true), (true, false));
        assert_eq!(ask(&second, false), (false, false));
        assert_eq!(ask(&first, false), (true, true));
        assert_eq!(ask(&second, true), (false, true));
    }
}
