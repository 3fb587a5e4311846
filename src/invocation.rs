//! Everything a shim invocation reads from its process, gathered once.
//!
//! The later stages (`route`, `plan`, `shim`) read only this value, never
//! `std::env`: so the whole shim runs in-process under a test's own
//! environment (as just's `run(args) -> Result<(), i32>` does), and a
//! variable is read in exactly one place.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::compiler::SelfIdentity;
use crate::config::ConfigEnv;
use crate::error::io_message;
use crate::exit::{BUILD_ID_VAR, DEPTH_VAR, DISABLE_VAR, EXIT_ERROR};
use crate::shim::ShimError;

/// One compiler invocation's input.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The command line as received; `argv[0]` is how secwrap was called.
    pub argv: Vec<OsString>,
    /// Where the compiler (or launcher) word is: 0 in masquerade mode
    /// (`gcc ...` is a link to secwrap), 1 in prefix mode (`secwrap gcc ...`).
    pub word_index: usize,
    pub cwd: PathBuf,
    /// `PATH`, as the compiler is looked up on it.
    pub path_var: Option<OsString>,
    /// `SECWRAP_DEPTH`: how many secwraps are above this one, when the
    /// value comes from a live secwrap among this process's ancestors.
    pub depth: u32,
    /// A `SECWRAP_DEPTH` that does not (a debugging shell's `export`, a
    /// build started from inside another's compiler): ignored, so that it
    /// cannot turn secwrap into a silent pass-through, and warned about.
    pub stray_depth: Option<OsString>,
    /// `SECWRAP_DISABLE` set to anything but empty or `0`.
    pub disabled: bool,
    /// `SECWRAP_BUILD_ID`, set by `secwrap run`.
    pub build_id: Option<String>,
    /// What config discovery reads (`SECWRAP_CONFIG`, `SECWRAP_LOG`, ...).
    pub config_env: ConfigEnv,
    /// The probe cache (`SECWRAP_CACHE_DIR`, XDG, `~/.cache`).
    pub cache_dir: Option<PathBuf>,
    /// Where once-per-build warning markers live (`state::default_dir`).
    pub state_dir: Option<PathBuf>,
    /// The build this call is part of when no build id names it: the
    /// process group and session, which every job of one `make` shares.
    pub session: (i32, i32),
    /// secwrap's own executable, so that it is never taken for the compiler.
    pub me: SelfIdentity,
    /// This is the whole process (not a test calling the shim in-process):
    /// process-wide settings such as adopting the compiler's orphans
    /// (`exec::adopt_orphans`) are secwrap's to make.
    pub owns_process: bool,
    /// The process that started secwrap (masquerade mode only, where a
    /// launcher above secwrap is the wrong order: `route::LauncherAbove`).
    pub parent: Option<ParentProcess>,
    /// The variables of `compiler::LAUNCHER_CHILD_VARS` that are set, with
    /// their values (masquerade mode only).
    pub launcher_vars: Vec<(&'static str, OsString)>,
}

/// What secwrap reads of its parent process, from `/proc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentProcess {
    /// Its executable (`/proc/PPID/exe`), the file it runs.
    pub exe: PathBuf,
    /// Its `argv[0]` and the `PATH` it was started with (`/proc/PPID/cmdline`
    /// and `environ`), read only when `exe` is a launcher: distcc drops its
    /// masquerade directory from the `PATH` it gives the compiler, so only
    /// its own says where that directory is.
    pub argv0: Option<OsString>,
    pub path_var: Option<OsString>,
}

impl Invocation {
    /// Reads the process: working directory, environment, own executable.
    pub fn from_process(argv: Vec<OsString>, word_index: usize) -> Result<Invocation, ShimError> {
        let cwd = std::env::current_dir().map_err(|error| {
            ShimError::fatal(
                EXIT_ERROR,
                format!("cannot read the working directory: {}", io_message(&error)),
            )
        })?;
        let me = SelfIdentity::current().map_err(|error| {
            ShimError::fatal(
                EXIT_ERROR,
                format!(
                    "cannot find secwrap's own executable: {}",
                    io_message(&error)
                ),
            )
        })?;
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let config_env = ConfigEnv::from_process(cwd.clone());
        let (depth, stray_depth) = match var(DEPTH_VAR) {
            None => (0, None),
            Some(value) => match parse_depth(&value) {
                Some((depth, setter)) if is_ancestor(setter) => (depth, None),
                _ => (0, Some(value)),
            },
        };
        Ok(Invocation {
            argv,
            word_index,
            path_var: std::env::var_os("PATH"),
            depth,
            stray_depth,
            disabled: var(DISABLE_VAR).is_some_and(|value| value != "0"),
            build_id: var(BUILD_ID_VAR).and_then(|value| value.into_string().ok()),
            cache_dir: crate::cache::default_dir(),
            state_dir: config_env.state_dir.clone(),
            config_env,
            session: session(),
            me,
            owns_process: true,
            parent: (word_index == 0).then(parent_process).flatten(),
            launcher_vars: if word_index == 0 {
                crate::compiler::LAUNCHER_CHILD_VARS
                    .iter()
                    .filter_map(|(_, name)| Some((*name, var(name)?)))
                    .collect()
            } else {
                Vec::new()
            },
            cwd,
        })
    }

    /// The compiler (or launcher) word the user wrote.
    pub fn word(&self) -> &OsString {
        &self.argv[self.word_index]
    }

    /// The arguments after that word.
    pub fn rest(&self) -> &[OsString] {
        &self.argv[self.word_index + 1..]
    }

    /// `SECWRAP_DEPTH` for what this secwrap starts.
    pub fn child_depth(&self) -> OsString {
        child_depth(self.depth)
    }
}

/// The `SECWRAP_DEPTH` value a secwrap at `depth` gives its children:
/// `DEPTH:PID`, the pid being this process, which stays an ancestor of
/// any secwrap its compiler starts (`exec` keeps the pid in pass-through).
pub fn child_depth(depth: u32) -> OsString {
    format!("{}:{}", depth + 1, own_pid()).into()
}

/// This process's pid, asked of the kernel once (glibc no longer caches
/// it): the depth variable, the record and the orphans' search all name it.
pub fn own_pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// `DEPTH:PID` (see [`child_depth`]); anything else is not secwrap's.
fn parse_depth(value: &OsStr) -> Option<(u32, u32)> {
    let (depth, pid) = value.to_str()?.split_once(':')?;
    Some((depth.parse().ok()?, pid.parse().ok()?))
}

/// Whether `pid` is this process or its parent, grandparent, ...: the
/// secwrap that set `SECWRAP_DEPTH` is alive and above us (or became us
/// by `exec`, as a wrapper's `exec gcc "$@"` does), as the recursion guard
/// means. A pid reused since cannot be an ancestor started before us.
fn is_ancestor(pid: u32) -> bool {
    let mut current = own_pid();
    // Deep enough for any real chain (make, sh, ccache, the driver ...).
    for _ in 0..64 {
        if current == pid {
            return true;
        }
        if current <= 1 {
            return false;
        }
        match parent_of(current) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

/// The parent pid from `/proc/PID/stat`: the field after the command name,
/// which is in parentheses and may itself hold `)` and spaces.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_parent(&stat)
}

fn parse_stat_parent(stat: &[u8]) -> Option<u32> {
    let after_name = &stat[stat.iter().rposition(|&byte| byte == b')')? + 1..];
    let mut fields = after_name
        .split(|&byte| byte == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    std::str::from_utf8(fields.next()?).ok()?.parse().ok()
}

/// The parent process as [`ParentProcess`] describes it; `None` when
/// `/proc` does not say (another user's process, no `/proc`).
fn parent_process() -> Option<ParentProcess> {
    let proc = PathBuf::from(format!("/proc/{}", std::os::unix::process::parent_id()));
    let exe = std::fs::read_link(proc.join("exe")).ok()?;
    let is_launcher = crate::compiler::launcher_name(&exe).is_some();
    let read = |name: &str| {
        is_launcher
            .then(|| std::fs::read(proc.join(name)).ok())
            .flatten()
    };
    let argv0 = read("cmdline").and_then(|cmdline| {
        let first = cmdline.split(|&byte| byte == 0).next()?;
        (!first.is_empty()).then(|| OsStr::from_bytes(first).to_os_string())
    });
    let path_var = read("environ").and_then(|environ| {
        environ
            .split(|&byte| byte == 0)
            .find_map(|entry| entry.strip_prefix(b"PATH="))
            .map(|value| OsStr::from_bytes(value).to_os_string())
    });
    Some(ParentProcess {
        exe,
        argv0,
        path_var,
    })
}

fn session() -> (i32, i32) {
    // SAFETY: getpgrp and getsid(0) have no preconditions and cannot fail
    // for the calling process.
    unsafe { (libc::getpgrp(), libc::getsid(0)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_values() {
        let cases: &[(&str, Option<(u32, u32)>)] = &[
            ("1:4242", Some((1, 4242))),
            ("3:1", Some((3, 1))),
            // Written by a shell or an older secwrap: no setter to check.
            ("1", None),
            ("", None),
            ("x:12", None),
            ("1:", None),
            ("1:-5", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_depth(OsStr::new(value)), *expected, "{value:?}");
        }
    }

    #[test]
    fn stat_parent_field() {
        let cases: &[(&[u8], Option<u32>)] = &[
            (b"123 (make) S 77 123 123 0", Some(77)),
            // A command name with `) ` in it, as a program may name itself.
            (b"9 (a) S 5 (b)) R 66 9 9", Some(66)),
            (b"9 (sh)", None),
        ];
        for (stat, expected) in cases {
            assert_eq!(parse_stat_parent(stat), *expected);
        }
    }

    #[test]
    fn this_process_sees_its_parent_as_an_ancestor() {
        assert!(is_ancestor(std::os::unix::process::parent_id()));
        assert!(is_ancestor(std::process::id()));
        assert!(is_ancestor(1));
        assert!(!is_ancestor(u32::MAX));
    }
}
