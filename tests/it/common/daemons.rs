//! The daemons the launcher tests start, real programs only: a distccd on
//! loopback, an sccache server on a private port, and icecream's scheduler
//! with two iceccd in a network namespace of the test's own. Each is a
//! child of the test in a process group of its own ([`TestEnv::command`]),
//! waited for with a bounded poll, and stopped by that group when its
//! guard drops, on a panic too, so nothing outlives the test.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// How long a daemon may take to be ready: icecream's daemons log in to
/// the scheduler on a 3-second retry, twice on a loaded machine.
pub const DAEMON_START: Duration = Duration::from_secs(30);

/// A process the test started and stops: SIGTERM to its process group,
/// then SIGKILL if it has not gone within a few seconds.
pub struct Daemon {
    child: Child,
    what: String,
    log: Option<PathBuf>,
}

impl Daemon {
    /// Starts `command` (made by [`TestEnv::command`], so in a process
    /// group of its own); `log` is shown when it dies early.
    pub fn spawn(mut command: Command, what: &str, log: Option<PathBuf>) -> Daemon {
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {what}: {error}"));
        Daemon {
            child,
            what: what.to_string(),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (and so cannot be what a test talks to).
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    /// Polls `ready` every 20 ms for at most [`DAEMON_START`]; fails the
    /// test, with the daemon's log, if it exits or does not get ready.
    #[track_caller]
    pub fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + DAEMON_START;
        while !ready() {
            let log = || {
                self.log
                    .as_deref()
                    .and_then(|log| std::fs::read_to_string(log).ok())
                    .unwrap_or_default()
            };
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("{} exited ({status}) before {what}:\n{}", self.what, log());
            }
            assert!(
                Instant::now() < deadline,
                "{}: not {what} within {DAEMON_START:?}:\n{}",
                self.what,
                log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the process group this test started.
        unsafe {
            libc::kill(-group, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; whatever of the group is left (workers too).
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
        // Its workers die of the same signals a moment later: wait for
        // them, so that nothing of the group outlives the guard.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !processes_in_group(group as u32).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A free loopback port (closed again: the daemon binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `rel` under the tree, created and writable by every user: for a daemon
/// that drops root for its own user (distccd, iceccd, icecc-scheduler).
/// The tree's root gets search permission for them too.
pub fn shared_dir(t: &TestEnv, rel: &str) -> PathBuf {
    let dir = t.path(rel);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(t.root(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

/// A distccd on loopback, started for one test: `--allow 127.0.0.1`, a
/// private port, `--log-file` with `--verbose` (each job's argv and its
/// `COMPILE_OK`), `--no-detach`.
pub struct Distccd {
    pub hosts: String,
    pub log: PathBuf,
    _daemon: Daemon,
}

impl Distccd {
    pub fn start(t: &TestEnv) -> Distccd {
        let port = free_port();
        // distccd started as root runs as the `distccd` user: its
        // temporary directory and log are in a directory it can write.
        let dir = shared_dir(t, "distccd");
        let log = dir.join("distccd.log");
        let port_text = port.to_string();
        let log_text = log.to_str().unwrap();
        let mut command = t.command(
            "distccd",
            &[
                "--daemon",
                "--no-detach",
                "--listen",
                "127.0.0.1",
                "--allow",
                "127.0.0.1",
                "--port",
                &port_text,
                "--jobs",
                "2",
                "--log-file",
                log_text,
                "--verbose",
            ],
        );
        command
            .env("TMPDIR", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut daemon = Daemon::spawn(command, "distccd", Some(log.clone()));
        daemon.wait_until("listening", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Distccd {
            hosts: format!("127.0.0.1:{port}"),
            log,
            _daemon: daemon,
        }
    }

    /// A distccd, and the tree's environment sending every job to it
    /// alone (`DISTCC_HOSTS`), with local fallbacks off (`DISTCC_FALLBACK=0`,
    /// `DISTCC_SKIP_LOCAL_RETRY`): a job compiled anywhere else fails.
    pub fn client(t: TestEnv) -> (TestEnv, Distccd) {
        let distccd = Distccd::start(&t);
        let t = t
            .env("DISTCC_HOSTS", format!("{}/2", distccd.hosts))
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1");
        (t, distccd)
    }

    /// The pid, and so the process group, of the distccd the test started.
    pub fn pid(&self) -> u32 {
        self._daemon.pid()
    }

    /// The log's lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The jobs distccd compiled and sent back (`COMPILE_OK` summaries),
    /// once there are `expected` of them or after a bounded wait: distccd
    /// logs a job's summary after the client has its object, so a build
    /// can end before the line is written.
    pub fn jobs_ok(&self, expected: usize) -> usize {
        let count = || {
            self.log_lines()
                .iter()
                .filter(|line| line.contains("COMPILE_OK"))
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while count() < expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        count()
    }

    /// The command line of each job distccd received, as it logs it
    /// (`(dcc_r_argv) got arguments: ...`), in order.
    pub fn job_arguments(&self) -> Vec<String> {
        self.log_lines()
            .iter()
            .filter_map(|line| {
                line.split_once("(dcc_r_argv) got arguments: ")
                    .map(|(_, args)| args.to_string())
            })
            .collect()
    }
}

/// An sccache server on a private port with a private cache, run in the
/// foreground as the test's own child (`SCCACHE_START_SERVER=1` with
/// `SCCACHE_NO_DAEMON=1`: the server itself, not a client that forks one
/// off), no idle timeout.
pub struct Sccache {
    daemon: Daemon,
}

impl Sccache {
    /// The server, and the tree's environment pointed at it. A client
    /// that found no server would start one: `SCCACHE_NO_DAEMON` keeps
    /// such a stray in the run's process group, which the harness kills.
    pub fn start(t: TestEnv) -> (TestEnv, Sccache) {
        let port = free_port();
        let log = t.path("sccache-server.log");
        let mut command = t.command("sccache", &[] as &[&str]);
        command
            .env("SCCACHE_START_SERVER", "1")
            .env("SCCACHE_NO_DAEMON", "1")
            .env("SCCACHE_SERVER_PORT", port.to_string())
            .env("SCCACHE_DIR", t.path("sccache"))
            .env("SCCACHE_IDLE_TIMEOUT", "0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut daemon = Daemon::spawn(command, "sccache server", Some(log));
        daemon.wait_until("listening", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let t = t
            .env("SCCACHE_SERVER_PORT", port.to_string())
            .env("SCCACHE_NO_DAEMON", "1");
        (t, Sccache { daemon })
    }

    /// The server's pid, and so its process group.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// `sccache --show-stats` against this server: each counter by its
    /// label (`Cache hits`, `Cache misses`, `Compile requests`).
    #[track_caller]
    pub fn stats(&mut self, t: &TestEnv) -> BTreeMap<String, u64> {
        assert!(!self.daemon.exited(), "the sccache server exited");
        let out = t
            .run_program("sccache", &["--show-stats"])
            .stdout_any()
            .go();
        out.stdout_text()
            .lines()
            .filter_map(|line| {
                let (label, value) = line.trim_end().rsplit_once(char::is_whitespace)?;
                Some((label.trim().to_string(), value.parse().ok()?))
            })
            .collect()
    }
}

/// A network namespace of the test's own with only `lo`, up: held by an
/// `unshare -n sleep` the test started; programs enter it with `nsenter
/// --net=` (which execs them: the pid the test gets is theirs).
pub struct NetNs {
    net: PathBuf,
    _holder: Daemon,
}

impl NetNs {
    /// `None` (with a skip line) when no namespace can be made outside
    /// `CI`; under `CI` that is a failure.
    pub fn create(t: &TestEnv) -> Option<NetNs> {
        if !require_program("unshare") || !require_program("nsenter") || !require_program("ip") {
            return None;
        }
        let mut command = t.command("unshare", &["--net", "--", "sleep", "600"]);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let mut holder = Daemon::spawn(command, "unshare --net", None);
        let own = std::fs::read_link("/proc/self/ns/net").expect("own network namespace");
        let net = PathBuf::from(format!("/proc/{}/ns/net", holder.pid()));
        let deadline = Instant::now() + DAEMON_START;
        loop {
            if holder.exited() {
                let message = "`unshare --net` failed: no network namespace (root needed)";
                if std::env::var_os("CI").is_some() {
                    panic!("{message}");
                }
                eprintln!("skipped: {message}");
                return None;
            }
            if std::fs::read_link(&net).is_ok_and(|ns| ns != own) {
                break;
            }
            assert!(Instant::now() < deadline, "unshare made no namespace");
            std::thread::sleep(Duration::from_millis(20));
        }
        let netns = NetNs {
            net,
            _holder: holder,
        };
        t.run_program("nsenter", &netns.args(&["ip", "link", "set", "lo", "up"]))
            .go();
        Some(netns)
    }

    /// `nsenter`'s arguments to run `program_and_args` in the namespace.
    pub fn args(&self, program_and_args: &[&str]) -> Vec<String> {
        let mut args = vec![format!("--net={}", self.net.display()), "--".to_string()];
        args.extend(program_and_args.iter().map(|word| word.to_string()));
        args
    }
}

/// icecream in a [`NetNs`]: an icecc-scheduler and two iceccd, `localice`
/// (`--no-remote`: it never compiles for others) and `remoteice`, each on
/// its own port with its own `ICECC_TEST_SOCKET`, environment directory
/// and log. One iceccd alone never sends a job anywhere: the scheduler
/// picks the client's own node and icecc builds locally ("building
/// myself"). The client talks to `localice` and prefers `remoteice`
/// (`ICECC_TEST_REMOTEBUILD=1`, `ICECC_PREFERRED_HOST`), with a
/// compiler environment made by `icecc-create-env` up front
/// (`ICECC_VERSION`), so no job waits for the daemon to pack one.
pub struct Icecream {
    pub dir: PathBuf,
    // Dropped in this order: the daemons, then the namespace's holder.
    _remote: Daemon,
    _local: Daemon,
    _scheduler: Daemon,
    pub netns: NetNs,
}

impl Icecream {
    /// The cluster, and the tree's environment as an icecc client of
    /// `localice`; `None` when a program or the namespace is missing
    /// outside `CI` (see [`NetNs::create`]).
    pub fn start(t: TestEnv) -> Option<(TestEnv, Icecream)> {
        for program in ["icecc", "iceccd", "icecc-scheduler", "icecc-create-env"] {
            if !require_program(program) {
                return None;
            }
        }
        let netns = NetNs::create(&t)?;
        // The daemons drop root for the `icecc` user.
        let dir = shared_dir(&t, "icecc");
        let log = |name: &str| dir.join(format!("{name}.log"));
        let in_netns = |args: &[&str]| {
            let mut command = t.command("nsenter", &netns.args(args));
            command.stdout(Stdio::null()).stderr(Stdio::null());
            command
        };
        let scheduler_log = log("scheduler");
        let mut scheduler = Daemon::spawn(
            in_netns(&[
                "icecc-scheduler",
                "--port",
                "8765",
                "--netname",
                "secwrap-test",
                "--log-file",
                scheduler_log.to_str().unwrap(),
                "-vvv",
            ]),
            "icecc-scheduler",
            Some(scheduler_log.clone()),
        );
        let scheduler_says = |needle: &str| {
            std::fs::read_to_string(&scheduler_log).is_ok_and(|text| text.contains(needle))
        };
        scheduler.wait_until("ready", || scheduler_says("scheduler ready"));
        let iceccd = |name: &str, port: &str, remote: bool| {
            let log = log(name);
            let envs = dir.join(format!("envs-{name}"));
            let mut args = vec![
                "iceccd",
                "--port",
                port,
                "-s",
                "127.0.0.1:8765",
                "-n",
                "secwrap-test",
                "-N",
                name,
                "-l",
                log.to_str().unwrap(),
                "-b",
                envs.to_str().unwrap(),
                "-vvv",
            ];
            if !remote {
                args.push("--no-remote");
            }
            let mut command = in_netns(&args);
            command.env("ICECC_TEST_SOCKET", dir.join(format!("{name}.sock")));
            Daemon::spawn(command, name, Some(log))
        };
        let mut local = iceccd("localice", "10245", false);
        let mut remote = iceccd("remoteice", "10246", true);
        // Packed while the daemons log in (both take seconds).
        let environment = create_environment(&t, &dir);
        local.wait_until("logged in", || scheduler_says("login localice"));
        remote.wait_until("logged in", || scheduler_says("login remoteice"));
        let t = t
            .env("ICECC_TEST_SOCKET", dir.join("localice.sock"))
            .env("ICECC_TEST_REMOTEBUILD", "1")
            .env("ICECC_PREFERRED_HOST", "remoteice")
            .env("ICECC_VERSION", &environment);
        let icecream = Icecream {
            dir,
            _remote: remote,
            _local: local,
            _scheduler: scheduler,
            netns,
        };
        Some((t, icecream))
    }

    /// `nsenter`'s arguments for `program_and_args` in the namespace.
    pub fn args(&self, program_and_args: &[&str]) -> Vec<String> {
        self.netns.args(program_and_args)
    }

    /// The argument lists `remoteice` compiled with (its `remote compile
    /// arguments:` lines).
    pub fn remote_compiles(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("remoteice.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                line.split_once("remote compile arguments: ")
                    .map(|(_, args)| args.to_string())
            })
            .collect()
    }
}

/// gcc's compiler environment for icecc (`icecc-create-env --gcc`, zstd:
/// seconds, where the daemon's own gzip run takes ten or more).
fn create_environment(t: &TestEnv, dir: &Path) -> PathBuf {
    let (gcc, gxx) = (real("gcc"), real("g++"));
    let out = t
        .command(
            "icecc-create-env",
            &[
                "--gcc",
                gcc.to_str().unwrap(),
                gxx.to_str().unwrap(),
                "--compression",
                "zstd",
            ],
        )
        .current_dir(dir)
        .output()
        .expect("run icecc-create-env");
    assert!(
        out.status.success(),
        "icecc-create-env: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".tar.zst"))
        .expect("icecc-create-env wrote a .tar.zst")
}

/// The live processes in process group `group`, from `/proc/PID/stat`
/// (the state and the process group are the first and third fields after
/// the command name in parentheses); a zombie has exited already.
pub fn processes_in_group(group: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let entry = entry.expect("/proc entry");
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, after_name)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = after_name.split_whitespace().take(3).collect();
        if let [state, _ppid, pgrp] = fields[..]
            && state != "Z"
            && pgrp == group.to_string()
        {
            found.push(pid);
        }
    }
    found
}
