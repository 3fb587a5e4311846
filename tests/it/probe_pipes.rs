//! The probe waits for the compiler's exit, not for the end of its output:
//! a compiler that leaves a helper process behind, holding its stdout and
//! stderr, must not stall a cold probe (it did for as long as the helper
//! lived while the probe read pipes to EOF).

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

/// Generous for two cold questions on a loaded machine, far below the
/// helper's 30 s: a hang guard, not a timing assertion.
const DEADLINE: Duration = Duration::from_secs(10);

/// A fake gcc that answers `--version` and every probe (`/dev/null` among
/// its arguments) at once, each time leaving a child that sleeps 30 s with
/// stdout and stderr open; it appends each child's pid to `PIDS`.
const FAKE_CC: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void leave_helper(void) {
    pid_t pid = fork();
    if (pid == 0) {
        sleep(30);
        _exit(0);
    }
    FILE *pids = fopen(PIDS, "a");
    if (pids != NULL) {
        fprintf(pids, "%d\n", (int)pid);
        fclose(pids);
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("gcc (fake) 1.0");
        fflush(stdout);
        leave_helper();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "/dev/null") == 0) {
            leave_helper();
            return 0;
        }
    }
    return 1;
}
"#;

/// Kills every helper the fake compiler recorded.
fn kill_helpers(pids: &std::path::Path) {
    let text = std::fs::read_to_string(pids).unwrap_or_default();
    for pid in text
        .lines()
        .filter_map(|line| line.trim().parse::<i32>().ok())
    {
        // SAFETY: kill(2) on a process this test's fake compiler started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

#[test]
fn cold_probe_does_not_wait_for_a_compilers_helper() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new();
    let pids = t.path("helpers.pid");
    let source = FAKE_CC.replace("PIDS", &format!("{:?}", pids.display().to_string()));
    t.write("fake.c", source);
    let fake = t.path("fake-cc");
    t.run_program(
        "gcc",
        &[
            "-o".as_ref(),
            fake.as_os_str(),
            t.path("fake.c").as_os_str(),
        ],
    )
    .go();

    let mut command = t.command(
        SECWRAP,
        &[
            "probe".as_ref(),
            "--explain".as_ref(),
            "--cc".as_ref(),
            fake.as_os_str(),
            "--".as_ref(),
            "-ffunction-sections".as_ref(),
        ],
    );
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn secwrap");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if started.elapsed() >= DEADLINE {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The helpers and anything else left in secwrap's process group go
    // before the pipes are read, so reading cannot block on them.
    kill_helpers(&pids);
    kill_group(&child);
    let _ = child.wait();
    let mut stdout = String::new();
    let mut stderr = String::new();
    let _ = child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout);
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    let status = status.unwrap_or_else(|| {
        panic!("`secwrap probe` waited for the compiler's helper: not done within {DEADLINE:?}")
    });
    assert!(status.success(), "{status}\n{stdout}{stderr}");
    assert_eq!(stdout, "-ffunction-sections: yes (probed)\n", "{stderr}");
    // Both questions ran the fake, so both left a helper behind.
    let helpers = std::fs::read_to_string(&pids).unwrap_or_default();
    assert_eq!(helpers.lines().count(), 2, "{helpers}");
}
