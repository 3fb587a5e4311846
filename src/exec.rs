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
//! The compiler starts with the signal state secwrap was given, SIGPIPE
//! included: glibc's `posix_spawn` (see [`spawn`]) changes neither mask nor
//! dispositions, and nothing is ever blocked around the spawn. Instead the
//! forwarding handlers are installed before it, and a signal that arrives
//! before the child's pid is known is kept pending and forwarded as soon as
//! it is (exec resets caught signals to their default in the child). A stop
//! signal ignored on entry (`nohup`, a background job's SIGINT) gets no
//! handler: it stays ignored, for secwrap and for the compiler.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
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
    // One poll(2) for the three, as std's runtime asks: a closed fd comes
    // back as POLLNVAL.
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll(2) on an array of three initialised pollfds, no wait.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } != -1;
    let mut closed = 0u8;
    for polled_fd in fds {
        let fd = polled_fd.fd;
        let is_closed = if polled {
            polled_fd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: fcntl(F_GETFD) on a small integer only queries it.
            (unsafe { libc::fcntl(fd, libc::F_GETFD) }) == -1
        };
        if is_closed {
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

/// Set by [`ignore_sigpipe`] when SIGPIPE was at its default on entry.
static SIGPIPE_WAS_DEFAULT: AtomicBool = AtomicBool::new(false);

/// Ignores SIGPIPE, as std's runtime would, for the subcommands (a closed
/// pipe is then an error they end on quietly), noting whether it was at
/// its default: a child then gets the default back, as from std's
/// `Command`, and not secwrap's own choice. The shim never calls this, so
/// the compiler gets SIGPIPE as the build tool gave it.
pub fn ignore_sigpipe() {
    // SAFETY: setting a disposition before any thread exists.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    SIGPIPE_WAS_DEFAULT.store(previous == libc::SIG_DFL, Ordering::SeqCst);
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
        let adopted = children_of(crate::invocation::own_pid());
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
    let started = Instant::now();
    install_handlers(policy);
    crate::stages::mark("spawn");
    let pid = spawn(program, args, env, cwd)?;
    crate::stages::mark("spawned");
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
    let outcome = wait_for(pid);
    CHILD_PID.store(0, Ordering::SeqCst);
    if matches!(outcome, Ok(Outcome::Signaled(_))) {
        end_adopted_descendants();
    }
    Ok(Run {
        outcome: outcome?,
        duration: started.elapsed(),
    })
}

/// Replaces secwrap with `program`, given `argv` as they are (argv[0]
/// included) and the environment unchanged: `secwrap` handing a subcommand
/// to `secwrap-cli`. The standard fds stay as they are (those closed on
/// entry are on `/dev/null`, as std's runtime would leave them for the
/// subcommands). Returns only on failure.
pub fn exec_as(program: &Path, argv: &[OsString]) -> std::io::Error {
    let (strings, path) = match (
        c_strings(argv.iter().map(OsString::as_os_str)),
        c_string(program.as_os_str().as_bytes()),
    ) {
        (Ok(strings), Ok(path)) => (strings, path),
        (Err(error), _) | (_, Err(error)) => return error,
    };
    let argv = pointers(&strings);
    // SAFETY: path and argv are NUL-terminated and outlive the call.
    unsafe {
        libc::execve(path.as_ptr(), argv.as_ptr().cast(), environ.cast());
    }
    std::io::Error::last_os_error()
}

/// Replaces secwrap with `program`: for pure pass-through, where nothing is
/// recorded afterwards and so nothing needs to wait. Returns only on error.
pub fn exec_replace(
    program: &Path,
    args: &[OsString],
    env_guard: Option<(&str, &OsStr)>,
) -> std::io::Error {
    let spawn_args = match SpawnArgs::new(program, args, env_guard.as_slice()) {
        Ok(spawn_args) => spawn_args,
        Err(error) => return error,
    };
    let argv = pointers(&spawn_args.argv);
    let closed = CLOSED_STDIO.load(Ordering::SeqCst);
    // SAFETY: argv and envp are NULL-terminated and outlive the call; the
    // fds closed are the standard ones secwrap occupied with /dev/null.
    unsafe {
        for fd in 0..3 {
            if closed & (1 << fd) != 0 {
                libc::close(fd);
            }
        }
        libc::execve(argv[0], argv.as_ptr().cast(), spawn_args.envp().cast());
    }
    std::io::Error::last_os_error()
}

unsafe extern "C" {
    /// The process's environment, as `execve` takes it (std keeps no
    /// copy: `std::env::set_var` edits this array too).
    static environ: *const *const libc::c_char;
}

/// A NUL-terminated copy of an `OsStr` for `execve`; an interior NUL (which
/// no argv word or environment entry can hold) is `InvalidInput`, as std's
/// `Command` reports it.
fn c_string(bytes: &[u8]) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "an argument holds a NUL byte",
        )
    })
}

/// What `posix_spawn` takes: argv, and envp when `env` adds variables
/// (otherwise the child gets `environ` itself, copied by nobody).
struct SpawnArgs {
    argv: Vec<CString>,
    /// NULL-terminated: `environ`'s own entries, but those `env` replaces,
    /// then `added`. The entries are not copied: a kernel build's `make`
    /// passes a hundred variables, each a copy and an allocation at every
    /// compile otherwise.
    envp: Option<Vec<*const libc::c_char>>,
    /// The entries `env` sets, which `envp` points into (a `CString`'s
    /// bytes stay where they are when it moves).
    #[expect(dead_code, reason = "owns the strings `envp` points into")]
    added: Vec<CString>,
}

impl SpawnArgs {
    fn new(
        program: &Path,
        args: &[OsString],
        env: &[(&str, &OsStr)],
    ) -> std::io::Result<SpawnArgs> {
        let argv = c_strings(
            std::iter::once(program.as_os_str()).chain(args.iter().map(OsString::as_os_str)),
        )?;
        if env.is_empty() {
            return Ok(SpawnArgs {
                argv,
                envp: None,
                added: Vec::new(),
            });
        }
        let added = env
            .iter()
            .map(|(name, value)| {
                let mut entry = Vec::with_capacity(name.len() + 1 + value.len());
                entry.extend_from_slice(name.as_bytes());
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                c_string(&entry)
            })
            .collect::<std::io::Result<Vec<CString>>>()?;
        let mut envp = Vec::new();
        // SAFETY: `environ` is a NULL-terminated array of C strings;
        // secwrap is single-threaded here and never edits its environment,
        // so the entries outlive the spawn or exec these pointers are for.
        unsafe {
            let mut entry = environ;
            while !entry.is_null() && !(*entry).is_null() {
                if !env.iter().any(|(name, _)| names(*entry, name)) {
                    envp.push(*entry);
                }
                entry = entry.add(1);
            }
        }
        envp.extend(added.iter().map(|entry| entry.as_ptr()));
        envp.push(std::ptr::null());
        Ok(SpawnArgs {
            argv,
            envp: Some(envp),
            added,
        })
    }

    /// The environment to hand on: the built one, else `environ`.
    fn envp(&self) -> *const *const libc::c_char {
        self.envp.as_ref().map_or(
            // SAFETY: reading the pointer `environ` holds.
            unsafe { environ },
            |envp| envp.as_ptr(),
        )
    }
}

/// Whether the C string `entry` (`NAME=value`) sets `name`: compared byte
/// by byte up to the `=`, without measuring the whole entry (a build's
/// environment holds long values: PATH, make's MAKEFLAGS).
///
/// # Safety
/// `entry` points to a NUL-terminated string.
unsafe fn names(entry: *const libc::c_char, name: &str) -> bool {
    let name = name.as_bytes();
    // SAFETY: each byte read is within the string: the comparison stops at
    // the first mismatch, and its NUL mismatches every byte of `name`
    // (which holds none), so `name.len()` is at most the NUL's index.
    let byte = |index: usize| unsafe { *entry.add(index) as u8 };
    name.iter()
        .enumerate()
        .all(|(index, &expected)| byte(index) == expected)
        && byte(name.len()) == b'='
}

/// [`c_string`] of each word: an argv for `execve`.
fn c_strings<'a>(words: impl Iterator<Item = &'a OsStr>) -> std::io::Result<Vec<CString>> {
    words.map(|word| c_string(word.as_bytes())).collect()
}

/// NULL-terminated pointers to `strings`, for as long as they live.
fn pointers(strings: &[CString]) -> Vec<*mut libc::c_char> {
    strings
        .iter()
        .map(|string| string.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect()
}

/// Starts `program` with glibc's `posix_spawn` (a `CLONE_VFORK` clone: no
/// page tables copied, nothing run in the child but the exec), which std's
/// `Command` does not use in a static binary (it falls back to `fork` and
/// a pipe handshake). The child inherits the signal mask and dispositions
/// secwrap was given (exec resets the caught ones: the forwarding
/// handlers), SIGPIPE included, which `Command` would reset to its default
/// (only what [`ignore_sigpipe`] changed is undone).
/// The standard fds closed on entry are closed again. `program` is a path
/// (callers look bare names up on PATH); a file `execve` refuses
/// (`ENOEXEC`: a script without `#!`) is an error, as for the probes.
fn spawn(
    program: &Path,
    args: &[OsString],
    env: &[(&str, &OsStr)],
    cwd: Option<&Path>,
) -> std::io::Result<libc::pid_t> {
    let spawn_args = SpawnArgs::new(program, args, env)?;
    let cwd = cwd
        .map(|cwd| c_string(cwd.as_os_str().as_bytes()))
        .transpose()?;
    let argv = pointers(&spawn_args.argv);
    // SAFETY: every pointer handed to posix_spawn outlives the call
    // (argv/envp/cwd above); the file actions are initialised before use
    // and destroyed after it.
    unsafe {
        let envp = spawn_args.envp();
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        let mut attributes: libc::posix_spawnattr_t = std::mem::zeroed();
        check(libc::posix_spawnattr_init(&mut attributes))?;
        let spawned = (|| {
            if SIGPIPE_WAS_DEFAULT.load(Ordering::SeqCst) {
                let mut default: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut default);
                libc::sigaddset(&mut default, libc::SIGPIPE);
                check(libc::posix_spawnattr_setsigdefault(
                    &mut attributes,
                    &default,
                ))?;
                check(libc::posix_spawnattr_setflags(
                    &mut attributes,
                    libc::POSIX_SPAWN_SETSIGDEF as libc::c_short,
                ))?;
            }
            let closed = CLOSED_STDIO.load(Ordering::SeqCst);
            for fd in 0..3 {
                if closed & (1 << fd) != 0 {
                    check(libc::posix_spawn_file_actions_addclose(&mut actions, fd))?;
                }
            }
            if let Some(cwd) = &cwd {
                check(libc::posix_spawn_file_actions_addchdir_np(
                    &mut actions,
                    cwd.as_ptr(),
                ))?;
            }
            let mut pid: libc::pid_t = 0;
            check(libc::posix_spawn(
                &mut pid,
                argv[0],
                &actions,
                &attributes,
                argv.as_ptr(),
                envp.cast(),
            ))
            .map(|()| pid)
        })();
        libc::posix_spawnattr_destroy(&mut attributes);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        spawned
    }
}

/// A `posix_spawn*` return value (an errno, not -1) as a result.
fn check(returned: libc::c_int) -> std::io::Result<()> {
    match returned {
        0 => Ok(()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

/// Waits for the child, through the interruptions of the forwarding
/// handlers.
fn wait_for(pid: libc::pid_t) -> std::io::Result<Outcome> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    Ok(if libc::WIFSIGNALED(status) {
        Outcome::Signaled(libc::WTERMSIG(status))
    } else {
        Outcome::Exited(libc::WEXITSTATUS(status))
    })
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

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn an_entry_names_a_variable_up_to_its_equals_sign() {
        for (entry, name, expected) in [
            (&b"SECWRAP_DEPTH=1:42\0"[..], "SECWRAP_DEPTH", true),
            (b"SECWRAP_DEPTH=\0", "SECWRAP_DEPTH", true),
            (b"SECWRAP_DEPTHS=1\0", "SECWRAP_DEPTH", false),
            (b"SECWRAP_DEPT=1\0", "SECWRAP_DEPTH", false),
            (b"SECWRAP_DEP\0", "SECWRAP_DEPTH", false),
            (b"SECWRAP_DEPTH\0", "SECWRAP_DEPTH", false),
            (b"PATH=/usr/bin\0", "SECWRAP_DEPTH", false),
        ] {
            // SAFETY: every entry above ends with a NUL.
            let named = unsafe { names(entry.as_ptr().cast(), name) };
            assert_eq!(named, expected, "{entry:?}");
        }
    }
}
