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
//! 1. `id-<hash>`: the compiler file's canonical path, device, inode, size
//!    and mtime → its `--version` first line and family;
//! 2. `probe-<hash>`: that identity and version text, the target arguments,
//!    the mode and the flag group → yes/no and the compiler's message.
//!
//! A changed or replaced compiler has a new identity, so it is asked again
//! without any manual step. Entries are written to a temporary file and
//! renamed into place; each holds the full text of its key, so a truncated,
//! corrupt or colliding entry is detected and re-probed, never trusted. An
//! entry not owned by the current user is ignored. Under `make -j` with a
//! cold cache, concurrent secwraps wait on a per-key lock file, so each key
//! is probed once.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::cache::DiskCache;
use crate::compiler::Family;

/// Bumped when the recipe changes, so old answers are not reused.
const RECIPE_VERSION: u32 = 1;

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
    /// Canonical path of the compiler file (after symlinks).
    pub canonical: PathBuf,
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    pub mtime_ns: i128,
    /// First line of `--version`.
    pub version: String,
    pub family: Family,
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
#[derive(Debug)]
pub struct ProbeError {
    pub message: String,
    /// The compiler exited 127, as a shell does for a missing command (and
    /// an inner secwrap does for a loop back to itself).
    pub compiler_missing: bool,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
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
        let metadata = std::fs::metadata(compiler).map_err(|error| ProbeError {
            compiler_missing: false,
            message: format!(
                "cannot read `{}`: {}",
                compiler.display(),
                crate::error::io_message(&error)
            ),
        })?;
        let canonical = std::fs::canonicalize(compiler).unwrap_or_else(|_| compiler.to_path_buf());
        let mtime_ns = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |duration| duration.as_nanos() as i128);
        let key = format!(
            "identity v{RECIPE_VERSION}\0{}\0{}\0{}\0{}\0{mtime_ns}",
            canonical.display(),
            metadata.dev(),
            metadata.ino(),
            metadata.len()
        );
        self.cached("id", &key, || {
            let output = duct::cmd(compiler, ["--version"])
                .stdin_null()
                .stdout_capture()
                .stderr_capture()
                .unchecked()
                .full_env(self.env())
                .run()
                .map_err(|error| ProbeError {
                    message: format!(
                        "cannot run `{} --version`: {}",
                        compiler.display(),
                        crate::error::io_message(&error)
                    ),
                    compiler_missing: false,
                })?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                return Err(ProbeError {
                    message: format!(
                        "`{} --version` failed ({}): {}",
                        compiler.display(),
                        output.status,
                        stderr.trim().lines().last().unwrap_or("no message")
                    ),
                    compiler_missing: output.status.code() == Some(127),
                });
            }
            let version = String::from_utf8_lossy(&output.stdout)
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
                canonical: canonical.clone(),
                device: metadata.dev(),
                inode: metadata.ino(),
                size: metadata.len(),
                mtime_ns,
                version,
                family,
            })
        })
        .map(|(identity, _)| identity)
    }

    /// Whether the compiler accepts the flag group, as `cc-option` answers.
    pub fn probe(&self, request: &ProbeRequest<'_>) -> Result<ProbeAnswer, ProbeError> {
        let identity = self.identity(request.compiler)?;
        let mut key = format!(
            "probe v{RECIPE_VERSION}\0{}\0{}\0{}\0{}\0{}\0{}\0{:?}",
            identity.canonical.display(),
            identity.device,
            identity.inode,
            identity.size,
            identity.mtime_ns,
            identity.version,
            request.mode
        );
        for word in request.target_args {
            key.push_str("\0target ");
            key.push_str(&String::from_utf8_lossy(word.as_bytes()));
        }
        for word in request.flags {
            key.push_str("\0flag ");
            key.push_str(&String::from_utf8_lossy(word.as_bytes()));
        }
        self.cached("probe", &key, || {
            run_probe(request, identity.family, &self.env())
        })
        .map(|(answer, cached)| ProbeAnswer { cached, ..answer })
    }

    /// The process environment plus the recursion guard.
    fn env(&self) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        env.extend(self.child_env.iter().cloned());
        env
    }

    fn cached<T, F>(&self, kind: &str, key: &str, compute: F) -> Result<(T, bool), ProbeError>
    where
        T: Serialize + for<'de> Deserialize<'de>,
        F: FnOnce() -> Result<T, ProbeError>,
    {
        match &self.cache {
            Some(cache) => cache.get_or_compute(kind, key, compute),
            None => compute().map(|value| (value, false)),
        }
    }
}

/// Runs the recipe once.
fn run_probe(
    request: &ProbeRequest<'_>,
    family: Family,
    env: &[(OsString, OsString)],
) -> Result<ProbeAnswer, ProbeError> {
    let scratch = tempfile::Builder::new()
        .prefix("secwrap-probe-")
        .tempdir()
        .map_err(|error| ProbeError {
            compiler_missing: false,
            message: format!(
                "cannot create a temporary directory: {}",
                crate::error::io_message(&error)
            ),
        })?;
    let mut args: Vec<OsString> = vec!["-Werror".into()];
    args.extend(request.target_args.iter().cloned());
    if family == Family::Clang {
        args.extend(CLANG_PROBE_FLAGS.iter().map(OsString::from));
    }
    args.extend(request.mode.probe_words(request.flags));
    args.extend(["-c", "-x", "c", "/dev/null", "-o"].map(OsString::from));
    args.push(scratch.path().join("tmp.o").into_os_string());
    let output = duct::cmd(request.compiler, args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .full_env(env.iter().cloned())
        .run()
        .map_err(|error| ProbeError {
            compiler_missing: false,
            message: format!(
                "cannot run `{}`: {}",
                request.compiler.display(),
                crate::error::io_message(&error)
            ),
        })?;
    let supported = output.status.success();
    Ok(ProbeAnswer {
        supported,
        message: if supported {
            String::new()
        } else {
            String::from_utf8_lossy(&output.stderr)
                .trim()
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        },
        cached: false,
    })
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
}
