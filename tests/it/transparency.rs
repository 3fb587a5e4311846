//! secwrap is invisible: the compiler's stdout, stderr, exit status,
//! signals and stdin pass through unchanged.

use crate::common::*;

/// `CC ARGS` through secwrap and directly: the same stdout bytes and
/// status, and an empty stderr from both.
#[track_caller]
fn same_as_direct(t: &TestEnv, cc: &str, args: &[&str]) {
    let direct = t.run_program(cc, args).stdout_any().go();
    assert!(!direct.stdout.is_empty());
    let mut argv = vec![cc];
    argv.extend_from_slice(args);
    t.run(&argv).like(&direct).go();
}

compiler_tests! {
    fn version_output(cc) {
        same_as_direct(&TestEnv::livepatch(), cc, &["--version"]);
    }

    fn preprocessed_output(cc) {
        same_as_direct(&TestEnv::livepatch(), cc, &["-E", "a.c"]);
    }

    fn dumpmachine_output(cc) {
        same_as_direct(&TestEnv::livepatch(), cc, &["-dumpmachine"]);
    }

    fn print_file_name_output(cc) {
        same_as_direct(&TestEnv::livepatch(), cc, &["-print-file-name=libc.so"]);
    }

    /// Warnings reach stderr byte for byte (the injected flags change none).
    fn warnings_identical(cc) {
        let t = TestEnv::livepatch().file(
            "w.c",
            "int f(void) {\n  int unused;\n  return 0;\n}\n",
        );
        let direct = t
            .run_program(cc, &["-Wall", "-c", "w.c", "-o", "direct.o"])
            .stderr_contains("unused")
            .go();
        t.run(&[cc, "-Wall", "-c", "w.c", "-o", "direct.o"])
            .like(&direct)
            .go();
    }

    /// A compile error: the compiler's status and stderr, recorded too.
    fn syntax_error_status_and_stderr(cc) {
        let t = TestEnv::livepatch().file("bad.c", "int f(void) { return }\n");
        let direct = t
            .run_program(cc, &["-c", "bad.c", "-o", "bad.o"])
            .status(1)
            .stderr_contains("bad.c:1:")
            .go();
        t.run(&[cc, "-c", "bad.c", "-o", "bad.o"]).like(&direct).go();
        assert_eq!(t.only_record().status, Some(1));
    }

    /// The source read from secwrap's stdin.
    fn stdin_passthrough(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-x", "c", "-c", "-o", "s.o", "-"])
            .stdin(A_C)
            .go();
        t.assert_split("s.o");
        t.run(&[cc, "-x", "c", "-E", "-"])
            .stdin("int from_stdin = __LINE__;\n")
            .stdout_contains("int from_stdin = 1;")
            .go();
    }
}

/// A compiler's exit status comes back as secwrap's.
#[test]
fn exit_status_passthrough() {
    let t = TestEnv::livepatch();
    t.fake_gcc("fake", "echo out; echo err >&2; exit 3");
    t.run(&["./fake/gcc", "-c", "a.c", "-o", "a.o"])
        .status(3)
        .stdout("out\n")
        .stderr("err\n")
        .go();
    let record = t.only_record();
    assert_eq!((record.status, record.signal), (Some(3), None));
}

/// A compiler that dies of SIGSEGV: secwrap dies of it too.
#[test]
fn compiler_death_by_signal_is_reproduced() {
    let t = TestEnv::livepatch();
    // No core file from the shell: it would only litter the tree.
    t.fake_gcc("fake", "ulimit -c 0\nkill -SEGV $$\nexit 99");
    t.run(&["./fake/gcc", "-c", "a.c", "-o", "a.o"])
        .signal(libc::SIGSEGV)
        .go();
    let record = t.only_record();
    assert_eq!((record.status, record.signal), (None, Some(libc::SIGSEGV)));
}

/// SIGTERM to secwrap reaches the compiler, and secwrap exits as it did.
#[test]
fn sigterm_is_forwarded() {
    let t = TestEnv::livepatch();
    let term = t.path("term.txt");
    let pid = t.path("pid.txt");
    t.fake_gcc(
        "fake",
        &format!(
            "trap 'echo got-term > \"{term}\"; kill $! 2>/dev/null; exit 143' TERM\n\
             echo $$ > \"{pid}.tmp\" && mv \"{pid}.tmp\" \"{pid}\"\n\
             sleep 30 </dev/null >/dev/null 2>&1 &\n\
             wait\n\
             exit 7",
            term = term.display(),
            pid = pid.display()
        ),
    );
    let running = t
        .run(&["./fake/gcc", "-c", "a.c", "-o", "a.o"])
        .status(143)
        .spawn_with(default_stop_signals);
    wait_for_file(&pid);
    send_signal(running.id(), libc::SIGTERM);
    running.wait();
    assert_eq!(t.read_text("term.txt"), "got-term\n");
    let record = t.only_record();
    assert_eq!((record.status, record.signal), (Some(143), None));
}

/// SIGINT to secwrap kills the compiler with it, and secwrap dies of it.
#[test]
fn sigint_is_forwarded() {
    let t = TestEnv::livepatch();
    let pid = t.path("pid.txt");
    t.fake_gcc(
        "fake",
        &format!(
            "echo $$ > \"{pid}.tmp\" && mv \"{pid}.tmp\" \"{pid}\"\n\
             exec sleep 30 </dev/null >/dev/null 2>&1",
            pid = pid.display()
        ),
    );
    let running = t
        .run(&["./fake/gcc", "-c", "a.c", "-o", "a.o"])
        .signal(libc::SIGINT)
        .spawn_with(default_stop_signals);
    wait_for_file(&pid);
    send_signal(running.id(), libc::SIGINT);
    running.wait();
    let record = t.only_record();
    assert_eq!((record.status, record.signal), (None, Some(libc::SIGINT)));
}

/// Closes `fd` in the child before it runs, as `>&-` or `<&-` in a shell.
fn closing(fd: libc::c_int) -> impl Fn(&mut std::process::Command) {
    move |command| {
        // SAFETY: close(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(command, move || {
                libc::close(fd);
                Ok(())
            });
        }
    }
}

compiler_tests! {
    /// A compile whose stdout (or stdin) the build tool closed fails as it
    /// does without secwrap: std's runtime would have reopened the fd on
    /// `/dev/null`, and `-E` would have "succeeded" into it.
    fn closed_standard_fds_stay_closed(cc) {
        let t = TestEnv::livepatch();
        for (fd, args) in [(1, &[cc, "-E", "a.c"][..]), (0, &[cc, "-x", "c", "-E", "-"])] {
            let direct = t
                .run_program(real(cc), &args[1..])
                .unchecked()
                .spawn_with(closing(fd))
                .wait();
            // gcc fails on a closed stream (clang -E does not mind one).
            if cc == "gcc" {
                assert_ne!(direct.code(), Some(0), "{args:?} with fd {fd} closed");
            }
            let wrapped = t.run(args).unchecked().spawn_with(closing(fd)).wait();
            assert_eq!(wrapped.code(), direct.code(), "{args:?}: {}", wrapped.stderr_text());
            assert_eq!(wrapped.stderr_text(), direct.stderr_text());
        }
    }
}

/// A compiler that writes its environment on stdout, each entry ended by
/// a NUL, and succeeds.
const ENV_DUMP: &str = r#"
#include <stdio.h>
#include <string.h>
extern char **environ;
int main(void)
{
    for (char **entry = environ; *entry; entry++)
        fwrite(*entry, 1, strlen(*entry) + 1, stdout);
    return 0;
}
"#;

/// The compiler gets secwrap's environment as the build gave it: every
/// entry, in order, byte for byte (a value that is not UTF-8 included),
/// then `SECWRAP_DEPTH` (its depth and secwrap's pid), which replaces one
/// left in the environment (exec.rs hands on `environ`'s own entries,
/// uncopied).
#[test]
fn the_compiler_gets_the_environment_with_only_the_depth_added() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let t = TestEnv::new()
        .file("env.c", ENV_DUMP)
        .env("SECWRAP_TEST_BYTES", OsStr::from_bytes(b"\xff=\xfe x"));
    std::fs::create_dir_all(t.path("bin")).unwrap();
    let fake = t.path("bin/gcc");
    t.run_program("gcc", &["-o", fake.to_str().unwrap(), "env.c"])
        .go();
    let fake = fake.to_str().unwrap();
    let entries = |stdout: &[u8]| -> Vec<Vec<u8>> {
        let mut entries: Vec<Vec<u8>> = stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        assert_eq!(entries.pop(), Some(Vec::new()), "entries end with a NUL");
        entries
    };
    let text = |entries: &[Vec<u8>]| -> Vec<String> {
        entries
            .iter()
            .map(|entry| String::from_utf8_lossy(entry).into_owned())
            .collect()
    };
    let check = |t: &TestEnv| {
        let direct = entries(&t.run_program(fake, &["-c", "a.c"]).stdout_any().go().stdout);
        assert!(direct.contains(&b"SECWRAP_TEST_BYTES=\xff=\xfe x".to_vec()));
        let mut wrapped = entries(
            &t.run(&[fake, "-c", "a.c"])
                .stdout_any()
                .stderr_any()
                .go()
                .stdout,
        );
        let depth = String::from_utf8(wrapped.pop().unwrap()).unwrap();
        let pid = depth
            .strip_prefix("SECWRAP_DEPTH=1:")
            .unwrap_or_else(|| panic!("last entry {depth:?}"));
        assert!(pid.parse::<u32>().is_ok(), "{depth}");
        let expected: Vec<Vec<u8>> = direct
            .into_iter()
            .filter(|entry| !entry.starts_with(b"SECWRAP_DEPTH="))
            .collect();
        assert!(
            wrapped == expected,
            "{:?}\n!=\n{:?}",
            text(&wrapped),
            text(&expected)
        );
    };
    check(&t);
    let t = t.env("SECWRAP_DEPTH", "7");
    check(&t);
}
