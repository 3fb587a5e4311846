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
//! The compiler starts with the signal state secwrap was given: std's
//! `Command` lets the child inherit the signal mask (since 2022) and resets
//! only SIGPIPE, so nothing is ever blocked around the spawn. Instead the
//! forwarding handlers are installed before it, and a signal that arrives
//! before the child's pid is known is kept pending and forwarded as soon as
//! it is (exec resets caught signals to their default in the child). A stop
//! signal ignored on entry (`nohup`, a background job's SIGINT) gets no
//! handler: it stays ignored, for secwrap and for the compiler.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};
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

/// Which of fds 0, 1, 2 were closed when secwrap started (bits 0-2), set
/// once by [`note_closed_stdio`]: the compiler gets them closed too.
static CLOSED_STDIO: AtomicU8 = AtomicU8::new(0);

/// Notes which standard fds are closed and opens `/dev/null` on them, so
/// that no file secwrap opens later takes their number (std's runtime
/// does the same, but forgets they were closed). For the process entry
/// only, before anything else opens a file.
pub fn note_closed_stdio() {
    let mut closed = 0u8;
    for fd in 0..3 {
        // SAFETY: fcntl(F_GETFD) on a small integer only queries it.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            closed |= 1 << fd;
            // SAFETY: open(2) with a static path; it takes the lowest
            // free fd, which is `fd` as the lower ones are open.
            unsafe {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
    CLOSED_STDIO.store(closed, Ordering::SeqCst);
}

/// Closes, in the child, the standard fds that were closed on entry. Only
/// then does the spawn take std's fork path instead of `posix_spawn`.
fn close_stdio_closed_on_entry(command: &mut Command) {
    let closed = CLOSED_STDIO.load(Ordering::SeqCst);
    if closed == 0 {
        return;
    }
    // SAFETY: close(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(move || {
            for fd in 0..3 {
                if closed & (1 << fd) != 0 {
                    libc::close(fd);
                }
            }
            Ok(())
        });
    }
}

/// Whether [`adopt_orphans`] made this process a child subreaper.
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// Makes secwrap the subreaper of the compiler's descendants
/// (`PR_SET_CHILD_SUBREAPER`): when the driver dies, its `cc1` and `as`
/// become secwrap's children instead of init's, so that
/// [`run`] can end them when the driver was killed. Orphans otherwise
/// finish objects after `make` has seen the compile fail, and make takes
/// those objects as up to date later, with no record describing them.
pub fn adopt_orphans() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes an integer flag only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0 {
        SUBREAPER.store(true, Ordering::SeqCst);
    }
}

/// After the driver died of a signal: kills and reaps every descendant it
/// left to secwrap (only then: a driver that exits normally may leave a
/// daemon on purpose, as sccache starts its server).
fn end_adopted_descendants() {
    if !SUBREAPER.load(Ordering::SeqCst) {
        return;
    }
    // Killing one may orphan its own children to us: a few rounds.
    for _ in 0..16 {
        let adopted = children_of(std::process::id());
        if adopted.is_empty() {
            return;
        }
        for &pid in &adopted {
            // SAFETY: kill and waitpid on our own children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// The pids whose parent is `parent`, from `/proc/<pid>/stat` (its fourth
/// field, after the parenthesised command name, which may hold anything).
fn children_of(parent: u32) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
            let after_name = &stat[stat.iter().rposition(|&byte| byte == b')')? + 1..];
            let ppid = std::str::from_utf8(after_name)
                .ok()?
                .split_whitespace()
                .nth(1)?;
            (ppid.parse::<u32>().ok()? == parent).then_some(pid)
        })
        .collect()
}

/// The compiler's pid while it runs, for the signal handler.
static CHILD_PID: AtomicI32 = AtomicI32::new(0);
/// A stop signal that arrived before the pid was known, to forward then.
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// `SignalPolicy::LikeSystem` in force: SIGINT and SIGQUIT are not forwarded.
static LIKE_SYSTEM: AtomicBool = AtomicBool::new(false);

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
    close_stdio_closed_on_entry(&mut command);
    let started = Instant::now();
    install_handlers(policy);
    let mut child = command.spawn()?;
    let pid = child.id() as i32;
    CHILD_PID.store(pid, Ordering::SeqCst);
    // Whoever takes a pending signal first forwards it: here, or the
    // handler once it sees the pid (`forward_signal`).
    let pending = PENDING_SIGNAL.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: kill(2) on the child we just started.
        unsafe {
            libc::kill(pid, pending);
        }
    }
    let status = child.wait();
    CHILD_PID.store(0, Ordering::SeqCst);
    if status
        .as_ref()
        .is_ok_and(|status| status.signal().is_some())
    {
        end_adopted_descendants();
    }
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
    env_guard: Option<(&str, &OsStr)>,
) -> std::io::Error {
    let mut command = Command::new(program);
    command.args(args);
    if let Some((key, value)) = env_guard {
        command.env(key, value);
    }
    close_stdio_closed_on_entry(&mut command);
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
    // `secwrap run`, as system(3): Ctrl-C and Ctrl-\ reach the child through
    // the terminal's process group already; secwrap itself ignores them.
    if LIKE_SYSTEM.load(Ordering::SeqCst) && matches!(signal, libc::SIGINT | libc::SIGQUIT) {
        return;
    }
    PENDING_SIGNAL.store(signal, Ordering::SeqCst);
    let pid = CHILD_PID.load(Ordering::SeqCst);
    if pid > 0 && PENDING_SIGNAL.swap(0, Ordering::SeqCst) == signal {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Installs the forwarding handler for each stop signal not ignored on
/// entry. The handler (not `SIG_IGN`) also serves `LikeSystem`'s ignoring,
/// because an ignored disposition would be inherited by the child.
fn install_handlers(policy: SignalPolicy) {
    LIKE_SYSTEM.store(policy == SignalPolicy::LikeSystem, Ordering::SeqCst);
    for signal in STOP_SIGNALS {
        // SAFETY: sigaction on a zeroed struct reads the disposition; the
        // handler only touches atomics and calls kill(2), both
        // async-signal-safe; SA_RESTART keeps wait() going after it.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut current);
            if current.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}
