//! secwrap is invisible: the compiler's stdout, stderr, exit status,
//! signals and stdin pass through unchanged.

use std::os::unix::process::ExitStatusExt;

use crate::common::*;

/// `CC ARGS` through secwrap and directly: the same stdout bytes and
/// status, and an empty stderr from both.
#[track_caller]
fn same_as_direct(t: &TestEnv, cc: &str, args: &[&str]) {
    let direct = t.run_program(cc, args);
    direct.quiet_success();
    let mut argv = vec![cc];
    argv.extend_from_slice(args);
    let wrapped = t.run(&argv);
    wrapped.quiet_success();
    assert!(!direct.stdout.is_empty());
    assert_eq!(
        wrapped.stdout_text(),
        direct.stdout_text(),
        "stdout of {args:?} differs"
    );
    assert_eq!(wrapped.stdout, direct.stdout);
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
        let direct = t.run_program(cc, &["-Wall", "-c", "w.c", "-o", "direct.o"]);
        direct.success();
        assert!(
            direct.stderr_text().contains("unused"),
            "no warning to compare: {}",
            direct.stderr_text()
        );
        let wrapped = t.run(&[cc, "-Wall", "-c", "w.c", "-o", "direct.o"]);
        wrapped.success();
        assert_eq!(wrapped.stderr_text(), direct.stderr_text());
        assert!(wrapped.stdout.is_empty());
    }

    /// A compile error: the compiler's status and stderr, recorded too.
    fn syntax_error_status_and_stderr(cc) {
        let t = TestEnv::livepatch().file("bad.c", "int f(void) { return }\n");
        let direct = t.run_program(cc, &["-c", "bad.c", "-o", "bad.o"]);
        assert_eq!(direct.code(), Some(1));
        let wrapped = t.run(&[cc, "-c", "bad.c", "-o", "bad.o"]);
        wrapped.code_is(1);
        assert_eq!(wrapped.stderr_text(), direct.stderr_text());
        assert!(wrapped.stdout.is_empty());
        assert_eq!(t.only_record()["status"], 1);
    }

    /// The source read from secwrap's stdin.
    fn stdin_passthrough(cc) {
        let t = TestEnv::livepatch();
        t.run_stdin(&[cc, "-x", "c", "-c", "-o", "s.o", "-"], A_C.as_bytes())
            .quiet_success();
        t.assert_split("s.o");
        let out = t.run_stdin(&[cc, "-x", "c", "-E", "-"], b"int from_stdin = __LINE__;\n");
        out.quiet_success();
        assert!(
            out.stdout_text().contains("int from_stdin = 1;"),
            "{}",
            out.stdout_text()
        );
    }
}

/// A compiler's exit status comes back as secwrap's.
#[test]
fn exit_status_passthrough() {
    let t = TestEnv::livepatch();
    t.fake_gcc("fake", "echo out; echo err >&2; exit 3");
    let out = t.run(&["./fake/gcc", "-c", "a.c", "-o", "a.o"]);
    out.code_is(3);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    let record = t.only_record();
    assert_eq!(record["status"], 3);
    assert!(record["signal"].is_null());
}

/// A compiler that dies of SIGSEGV: secwrap dies of it too.
#[test]
fn compiler_death_by_signal_is_reproduced() {
    let t = TestEnv::livepatch();
    // No core file from the shell: it would only litter the tree.
    t.fake_gcc("fake", "ulimit -c 0\nkill -SEGV $$\nexit 99");
    let out = t.run(&["./fake/gcc", "-c", "a.c", "-o", "a.o"]);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{:?}", out.status);
    assert!(out.stderr.is_empty(), "{}", out.stderr_text());
    let record = t.only_record();
    assert_eq!(record["signal"], libc::SIGSEGV);
    assert!(record["status"].is_null());
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
    let mut command = t.command(SECWRAP, &["./fake/gcc", "-c", "a.c", "-o", "a.o"]);
    default_stop_signals(&mut command);
    let child = command.spawn().expect("spawn secwrap");
    wait_for_file(&pid);
    send_signal(child.id(), libc::SIGTERM);
    let out = wait_output(child, "secwrap ./fake/gcc (SIGTERM)");
    out.code_is(143);
    assert_eq!(t.read_text("term.txt"), "got-term\n");
    let record = t.only_record();
    assert_eq!(record["status"], 143);
    assert!(record["signal"].is_null());
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
    let mut command = t.command(SECWRAP, &["./fake/gcc", "-c", "a.c", "-o", "a.o"]);
    default_stop_signals(&mut command);
    let child = command.spawn().expect("spawn secwrap");
    wait_for_file(&pid);
    send_signal(child.id(), libc::SIGINT);
    let out = wait_output(child, "secwrap ./fake/gcc (SIGINT)");
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{:?}", out.status);
    let record = t.only_record();
    assert_eq!(record["signal"], libc::SIGINT);
    assert!(record["status"].is_null());
}
