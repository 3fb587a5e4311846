//! Exec: the only place that runs the real compiler for the build.
//!
//! stdin, stdout and stderr are inherited: they belong to the compiler
//! (build scripts parse `gcc --version` and `-E` output; sccache PR #2777).
//! While the compiler runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to
//! secwrap are forwarded to it (as Bear's wrapper does). Afterwards
//! [`Outcome::exit`] leaves secwrap exactly as the compiler left: the same
//! exit status, or death by the same signal, so `make` sees what the
//! compiler did.
//!
//! std's `Command` resets the signal mask and SIGPIPE in the child, so the
//! compiler starts with default signal handling whatever secwrap does here.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Signals a user or build tool sends to stop a job.
const STOP_SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// What secwrap does with a stop signal while its child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalPolicy {
    /// Forward all four to the child: the shim, so that a stop signal sent
    /// to secwrap alone reaches the compiler (as Bear's wrapper does).
    ForwardAll,
    /// Ignore SIGINT and SIGQUIT, forward SIGTERM and SIGHUP: `secwrap
    /// run`, as system(3) does. Ctrl-C already reaches the child through
    /// the terminal's process group; a second SIGINT would make `make` stop
    /// waiting for its jobs and leave compiles unrecorded.
    LikeSystem,
}

/// The compiler's pid while it runs, for the signal handler.
static CHILD_PID: AtomicI32 = AtomicI32::new(0);

/// How the compiler ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
}

impl Outcome {
    fn from_status(status: ExitStatus) -> Outcome {
        match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(signal)) => Outcome::Signaled(signal),
            // Stopped/continued statuses are not reported by wait() here.
            (None, None) => Outcome::Exited(1),
        }
    }

    /// Ends secwrap the way the compiler ended.
    pub fn exit(self) -> ! {
        match self {
            Outcome::Exited(code) => std::process::exit(code),
            Outcome::Signaled(signal) => die_of(signal),
        }
    }
}

/// A finished run.
pub struct Run {
    pub outcome: Outcome,
    pub duration: Duration,
}

/// Runs `program` with `args` (argv[0] is `program` as given: an absolute
/// path found on PATH, never canonicalised) and waits for it, forwarding
/// stop signals. `env` is added to the child's environment; `cwd`, when
/// given, is where it runs (the shim's `Invocation::cwd`, which is the
/// process's own unless a test runs the shim in-process).
pub fn run(
    program: &Path,
    args: &[OsString],
    env: &[(&str, &OsStr)],
    cwd: Option<&Path>,
    policy: SignalPolicy,
) -> std::io::Result<Run> {
    let mut command = Command::new(program);
    command.args(args).envs(env.iter().copied());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let started = Instant::now();
    // Block the stop signals until the pid is known, so one arriving while
    // the child starts is forwarded rather than lost or fatal to us alone.
    let blocked = SignalBlock::new();
    let mut child = command.spawn()?;
    CHILD_PID.store(child.id() as i32, Ordering::SeqCst);
    install_handlers(policy);
    drop(blocked);
    let status = child.wait();
    CHILD_PID.store(0, Ordering::SeqCst);
    Ok(Run {
        outcome: Outcome::from_status(status?),
        duration: started.elapsed(),
    })
}

/// Replaces secwrap with `program`: for pure pass-through, where nothing is
/// recorded afterwards and so nothing needs to wait. Returns only on error.
pub fn exec_replace(
    program: &Path,
    args: &[OsString],
    env_guard: Option<(&str, &str)>,
) -> std::io::Error {
    let mut command = Command::new(program);
    command.args(args);
    if let Some((key, value)) = env_guard {
        command.env(key, value);
    }
    command.exec()
}

/// Dies of `signal` with its default action, as the compiler did; no core
/// file of secwrap's own is left for a compiler that crashed.
fn die_of(signal: libc::c_int) -> ! {
    // SAFETY: plain libc calls with valid arguments; the process is ending.
    unsafe {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    // A signal whose default action does not terminate: exit as a shell
    // reports a signal death.
    std::process::exit(128 + signal)
}

extern "C" fn forward_signal(signal: libc::c_int) {
    let pid = CHILD_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn install_handlers(policy: SignalPolicy) {
    for signal in STOP_SIGNALS {
        let ignore =
            policy == SignalPolicy::LikeSystem && matches!(signal, libc::SIGINT | libc::SIGQUIT);
        // SAFETY: the handler only reads an atomic and calls kill(2), both
        // async-signal-safe; SA_RESTART keeps wait() going after it.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = if ignore {
                libc::SIG_IGN
            } else {
                forward_signal as *const () as libc::sighandler_t
            };
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The forwarded signals blocked for the guard's lifetime.
struct SignalBlock {
    previous: libc::sigset_t,
}

impl SignalBlock {
    fn new() -> SignalBlock {
        // SAFETY: sigset operations on owned, initialised sets.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in STOP_SIGNALS {
                libc::sigaddset(&mut set, signal);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, &mut previous);
            SignalBlock { previous }
        }
    }
}

impl Drop for SignalBlock {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut());
        }
    }
}
