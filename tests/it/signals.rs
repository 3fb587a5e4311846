//! The compiler starts with the signal state the build tool gave secwrap
//! (nothing blocked that was not blocked, nothing ignored that was not
//! ignored), and stop signals end it: `timeout -s TERM`, a process-group
//! SIGINT (Ctrl-C). The compiler is a compiled C program, not a shell
//! script: dash resets the signal mask and would hide a blocked one.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

/// A fake `gcc`: answers `--version` and flag probes, writes its
/// `SigBlk`/`SigIgn` lines to `$FAKE_STATUS`; then with `$FAKE_PID` writes
/// its pid and sleeps; with `$FAKE_DIR` starts a fake `cc1` (a child that
/// writes the object after 3 s), both writing their pids there first, and
/// waits for it; otherwise writes the `-o` output and exits 0.
const FAKE_GCC: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_pid(const char *path) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *file = fopen(tmp, "w");
    fprintf(file, "%d\n", (int)getpid());
    fclose(file);
    rename(tmp, path);
}

static void write_output(const char *output) {
    FILE *object = output ? fopen(output, "w") : NULL;
    if (object) fclose(object);
}

int main(int argc, char **argv) {
    const char *output = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "/dev/null") == 0) return 0;
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) output = argv[i + 1];
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("gcc (fake) 1.0");
        return 0;
    }
    const char *status_path = getenv("FAKE_STATUS");
    if (status_path) {
        FILE *in = fopen("/proc/self/status", "r"), *out = fopen(status_path, "w");
        char line[256];
        while (in && out && fgets(line, sizeof line, in))
            if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
                fputs(line, out);
        if (out) fclose(out);
        if (in) fclose(in);
    }
    const char *pid_path = getenv("FAKE_PID");
    if (pid_path) {
        write_pid(pid_path);
        sleep(30);
    }
    const char *dir = getenv("FAKE_DIR");
    if (dir) {
        char path[4096];
        pid_t cc1 = fork();
        snprintf(path, sizeof path, "%s/%s", dir, cc1 == 0 ? "cc1.pid" : "driver.pid");
        write_pid(path);
        if (cc1 == 0) {
            sleep(3);
            write_output(output);
            return 0;
        }
        int status;
        waitpid(cc1, &status, 0);
        return 0;
    }
    write_output(output);
    return 0;
}
"#;

/// A livepatch tree (a rule applies: the probe runs too) with the fake
/// compiled at `bin/gcc`.
fn tree() -> (TestEnv, PathBuf) {
    let t = TestEnv::livepatch().file("fake.c", FAKE_GCC);
    let fake = t.path("bin/gcc");
    std::fs::create_dir_all(t.path("bin")).expect("bin/");
    t.run_program("gcc", &["-O", "-o", fake.to_str().unwrap(), "fake.c"])
        .go();
    (t, fake)
}

/// Starts the run with SIGHUP and SIGPIPE ignored and SIGUSR1 blocked, as
/// `nohup`, a build tool that ignores SIGPIPE (std's `Command` in a
/// program with std's runtime resets it, secwrap's spawn must not) and one
/// that blocks a signal would.
fn nohup_and_blocked_usr1(command: &mut Command) {
    default_stop_signals(command);
    // SAFETY: signal(2) and sigprocmask(2) are async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
}

/// `(SigBlk, SigIgn)` of the fake's last run, for the standard signals
/// 1-31 only: glibc reserves 32 and 33 for itself, and whether its
/// `posix_spawn` or a `fork` started a process shows there.
fn signal_state(t: &TestEnv) -> (u64, u64) {
    let text = t.read_text("status.txt");
    let field = |name: &str| {
        let line = text
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"));
        u64::from_str_radix(line.trim(), 16).expect("hex mask") & 0x7fff_ffff
    };
    (field("SigBlk:"), field("SigIgn:"))
}

#[test]
fn the_compiler_gets_the_callers_signal_state() {
    if !require_compiler("gcc") {
        return;
    }
    let (t, fake) = tree();
    let status = t.path("status.txt");
    let t = t.env("FAKE_STATUS", &status);
    let fake = fake.to_str().unwrap();
    // The harness's own state: nothing blocked (secwrap used to start the
    // compiler with SigBlk 0000000000004007), and what is ignored is what
    // the caller ignores.
    t.run_program(fake, &["-c", "a.c", "-o", "direct.o"]).go();
    let direct = signal_state(&t);
    assert_eq!(direct.0, 0, "blocked in the harness itself");
    t.run(&[fake, "-c", "a.c", "-o", "a.o"]).go();
    assert_eq!(signal_state(&t), direct);
    assert_eq!(t.only_record().status, Some(0));
    // SIGHUP and SIGPIPE ignored and SIGUSR1 blocked on entry: the same in the compiler
    // as when the caller runs it directly.
    t.run_program(fake, &["-c", "a.c", "-o", "direct.o"])
        .spawn_with(nohup_and_blocked_usr1)
        .wait();
    let direct = signal_state(&t);
    assert_eq!(
        direct,
        (
            1 << (libc::SIGUSR1 - 1),
            1 << (libc::SIGHUP - 1) | 1 << (libc::SIGPIPE - 1)
        )
    );
    t.run(&[fake, "-c", "a.c", "-o", "a.o"])
        .spawn_with(nohup_and_blocked_usr1)
        .wait();
    assert_eq!(signal_state(&t), direct);
}

#[test]
fn timeout_term_ends_the_compile_and_the_record_says_so() {
    if !require_compiler("gcc") || !require_program("timeout") {
        return;
    }
    let (t, fake) = tree();
    let pid = t.path("pid.txt");
    let t = t.env("FAKE_PID", &pid);
    // timeout(1) sends SIGTERM to secwrap after 1 s; the compile dies of
    // it (it used to sleep on with SIGTERM blocked, and be recorded as a
    // success), and timeout reports 124.
    t.run_program(
        "timeout",
        &[
            "-s",
            "TERM",
            "1",
            SECWRAP,
            fake.to_str().unwrap(),
            "-c",
            "a.c",
            "-o",
            "a.o",
        ],
    )
    .status(124)
    .spawn_with(default_stop_signals)
    .wait();
    let record = t.only_record();
    assert_eq!((record.status, record.signal), (None, Some(libc::SIGTERM)));
    assert!(!t.exists("a.o"), "the compile ran to its end");
}

#[test]
fn a_process_group_sigint_ends_the_compile() {
    if !require_compiler("gcc") {
        return;
    }
    let (t, fake) = tree();
    let pid = t.path("pid.txt");
    let t = t.env("FAKE_PID", &pid);
    // Ctrl-C: the terminal signals the whole foreground group, secwrap and
    // the compiler alike.
    let running = t
        .run(&[fake.to_str().unwrap(), "-c", "a.c", "-o", "a.o"])
        .signal(libc::SIGINT)
        .spawn_with(default_stop_signals);
    wait_for_file(&t.path("pid.txt"));
    running.signal_group(libc::SIGINT);
    running.wait();
    let record = t.only_record();
    assert_eq!((record.status, record.signal), (None, Some(libc::SIGINT)));
    assert!(!t.exists("a.o"));
}

fn read_pid(t: &TestEnv, name: &str) -> libc::pid_t {
    let path = t.path(name);
    wait_for_file(&path);
    t.read_text(&path).trim().parse().expect("a pid")
}

fn is_alive(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// The driver killed (SIGKILL, as the OOM killer or a `kill -9` of gcc):
/// the `cc1` it leaves is secwrap's to end, so no object appears after the
/// compile has been recorded as killed.
#[test]
fn a_killed_drivers_orphans_are_ended() {
    if !require_compiler("gcc") {
        return;
    }
    let (t, driver) = tree();
    let root = t.root().to_path_buf();
    let t = t.env("FAKE_DIR", &root);
    let running = t
        .run(&[driver.to_str().unwrap(), "-c", "a.c", "-o", "a.o"])
        .signal(libc::SIGKILL)
        .spawn_with(default_stop_signals);
    let cc1 = read_pid(&t, "cc1.pid");
    send_signal(read_pid(&t, "driver.pid") as u32, libc::SIGKILL);
    running.wait();
    let orphan_lived = is_alive(cc1);
    if orphan_lived {
        // SAFETY: the orphan this test's fake started.
        unsafe { libc::kill(cc1, libc::SIGKILL) };
    }
    assert!(!orphan_lived, "cc1 outlived the killed driver and secwrap");
    assert!(!t.exists("a.o"));
    let record = t.only_record();
    assert_eq!((record.status, record.signal), (None, Some(libc::SIGKILL)));
}

/// SigIgn (signals 1-31, as [`signal_state`]) of `cat /proc/self/status`
/// run directly and by `secwrap run`, with `prepare` setting up the
/// caller's state.
fn sigign_under_run(t: &TestEnv, prepare: fn(&mut Command)) -> (u64, u64) {
    let sigign = |out: Out| {
        let text = out.stdout_text();
        let mask = text
            .lines()
            .find_map(|line| line.strip_prefix("SigIgn:"))
            .unwrap_or_else(|| panic!("no SigIgn in {}", out.describe()));
        u64::from_str_radix(mask.trim(), 16).expect("hex mask") & 0x7fff_ffff
    };
    let direct = t
        .run_program("cat", &["/proc/self/status"])
        .stdout_any()
        .spawn_with(prepare)
        .wait();
    let through_run = t
        .run(&["run", "--no-shims", "--", "cat", "/proc/self/status"])
        .stdout_any()
        .stderr_any()
        .spawn_with(prepare)
        .wait();
    (sigign(direct), sigign(through_run))
}

/// `secwrap run` ignores SIGPIPE for itself (as std's runtime would) but
/// hands the build SIGPIPE as it got it: default stays default (a build
/// that ignored it would keep writing into closed pipes), ignored stays
/// ignored.
#[test]
fn secwrap_run_hands_the_build_sigpipe_as_given() {
    let t = TestEnv::new();
    let (direct, through_run) = sigign_under_run(&t, default_stop_signals);
    assert_eq!(through_run, direct);
    fn sigpipe_ignored(command: &mut Command) {
        default_stop_signals(command);
        // SAFETY: signal(2) is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let (direct_ignored, through_run) = sigign_under_run(&t, sigpipe_ignored);
    assert_eq!(direct_ignored, direct | 1 << (libc::SIGPIPE - 1));
    assert_eq!(through_run, direct_ignored);
}
