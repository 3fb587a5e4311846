//! Everything a shim invocation reads from its process, gathered once.
//!
//! The later stages (`route`, `plan`, `shim`) read only this value, never
//! `std::env`: so the whole shim runs in-process under a test's own
//! environment (as just's `run(args) -> Result<(), i32>` does), and a
//! variable is read in exactly one place.

use std::ffi::OsString;
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
    /// `SECWRAP_DEPTH`: how many secwraps are above this one.
    pub depth: u32,
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
        Ok(Invocation {
            argv,
            word_index,
            path_var: std::env::var_os("PATH"),
            depth: var(DEPTH_VAR)
                .and_then(|value| value.to_str()?.parse().ok())
                .unwrap_or(0),
            disabled: var(DISABLE_VAR).is_some_and(|value| value != "0"),
            build_id: var(BUILD_ID_VAR).and_then(|value| value.into_string().ok()),
            config_env: ConfigEnv::from_process(cwd.clone()),
            cache_dir: crate::cache::default_dir(),
            state_dir: crate::state::default_dir(),
            session: session(),
            me,
            owns_process: true,
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
}

fn session() -> (i32, i32) {
    // SAFETY: getpgrp and getsid(0) have no preconditions and cannot fail
    // for the calling process.
    unsafe { (libc::getpgrp(), libc::getsid(0)) }
}
