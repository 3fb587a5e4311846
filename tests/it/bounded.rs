//! Bounded input (issue 9, item 4): response files that never end or must
//! not be read, an option left without its value at the end of the line,
//! and a compiler that cannot be run, each ending as the compiler or the
//! shell would end it.

use std::os::unix::fs::PermissionsExt;

use secwrap::inject::SkipReason;

use crate::common::*;

/// `CC ARGS...` run directly, for the status and stderr secwrap must give.
fn direct(t: &TestEnv, cc: &str, args: &[&str]) -> Out {
    t.run_program(real(cc), args).unchecked().go()
}

compiler_tests! {
    /// A response file naming itself twice: libiberty stops at 2000 `@`
    /// words, and secwrap with it, instead of expanding 2^64 words. The
    /// status is the compiler's own (gcc: "too many @-files encountered";
    /// clang: a recursive expansion error).
    fn self_including_response_file_ends(cc) {
        let t = TestEnv::livepatch()
            .file("self2.rsp", "-c a.c -o a.o @self2.rsp @self2.rsp\n");
        let expected = direct(&t, cc, &["@self2.rsp"]);
        assert_ne!(expected.code(), Some(0), "the compiler accepted the loop");
        // gcc stops at 2000 @-files, and so does secwrap, which then cannot
        // plan the line: strict stops with its own error; passthrough
        // leaves the compiler to fail as it does alone.
        t.run(&[cc, "@self2.rsp"])
            .status(2)
            .stderr_contains("too many @-files (libiberty's limit, 2000)")
            .go();
        let t = t.env("SECWRAP_ON_ERROR", "passthrough");
        let out = t.run(&[cc, "@self2.rsp"]).failure().stderr_contains("secwrap: warning: ").go();
        assert_eq!(out.code(), expected.code(), "{}", out.stderr_text());
    }

    /// A call that allocates far past the shim's 1 MiB arena
    /// (`src/arena.rs`): a 1.3 MB `.config` of 40,000 symbols parsed
    /// whole on a cold cache, and a response file of 4,000 words (gcc
    /// hands cc1 all options, quoted, in one variable of at most 128 KiB).
    /// The compile is split and recorded as any other, the response file
    /// passed on as written.
    fn a_call_past_the_arena_is_split_and_recorded(cc) {
        let mut kconfig = String::from(LIVEPATCH);
        for n in 0..40_000 {
            kconfig.push_str(&format!("CONFIG_FILLER_SYMBOL_{n}=\"value {n}\"\n"));
        }
        let words: Vec<String> = (0..4_000).map(|n| format!("-DWORD_{n}=1")).collect();
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(&kconfig)
            .config(KCONFIG_TOML)
            .file("big.rsp", words.join(" "));
        assert!(kconfig.len() > 1_300_000 && words.join(" ").len() > 45_000);
        t.run(&[cc, "-c", "a.c", "-o", "a.o", "@big.rsp"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_eq!(texts(&record.injected), ["-ffunction-sections", "-fdata-sections"]);
        assert_eq!(texts(&record.argv).last(), Some(&"@big.rsp"));
        assert_eq!(record.status, Some(0));
    }

    /// `CC @/dev/stdin` with a pipe on stdin: secwrap does not read the
    /// pipe, so the compiler still gets its data (clang reads it and
    /// compiles; gcc cannot seek a pipe and keeps the word literally, as a
    /// linker input), and the record claims no compile.
    fn response_file_on_a_pipe_is_left_to_the_compiler(cc) {
        let t = TestEnv::livepatch();
        let words: &[u8] = b"-c a.c -o direct.o\n";
        let expected = {
            let mut command = t.command(real(cc), &["@/dev/stdin"]);
            command.stdin(std::process::Stdio::piped());
            let mut child = command.spawn().expect("spawn the compiler");
            std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), words)
                .expect("write stdin");
            wait_output(child, cc)
        };
        // A rule wants flags for words secwrap may not read: strict stops.
        t.run(&[cc, "@/dev/stdin"])
            .stdin("-c a.c -o piped.o\n")
            .status(2)
            .stderr_contains("/dev/stdin: not a regular file")
            .go();
        assert!(!t.exists("piped.o"));
        // With no rule that applies, the compiler reads the pipe itself.
        t.write(".config", NO_LIVEPATCH);
        let out = t
            .run(&[cc, "@/dev/stdin"])
            .stdin("-c a.c -o piped.o\n")
            .unchecked()
            .go();
        assert_eq!(out.code(), expected.code(), "{}", out.stderr_text());
        assert_eq!(t.exists("piped.o"), t.exists("direct.o"), "the pipe was read by secwrap");
        let record = t.only_record();
        assert!(record.kind.is(secwrap::classify::Classification::Other), "{:?}", record.kind);
        assert_injected_nothing(&record);
    }

    /// `CC -c a.c -o`: nothing is appended to become `-o`'s value; the
    /// compiler fails as it does alone ("missing filename after `-o`"),
    /// with its own stderr, and no object named after an injected flag.
    fn dangling_output_option_gets_no_flag(cc) {
        for tail in [&["-o"][..], &["-MD", "-MF"], &["-MT"], &["-Xlinker"], &["-x"]] {
            let t = TestEnv::livepatch();
            let mut args = vec![cc, "-c", "a.c"];
            args.extend_from_slice(tail);
            let expected = direct(&t, cc, &args[1..]);
            assert_ne!(expected.code(), Some(0), "{args:?} works without secwrap");
            t.run(&args).like(&expected).go();
            for flag in SPLIT_FLAGS {
                assert!(!t.exists(flag), "{args:?} wrote `{flag}`");
            }
            let record = t.only_record();
            assert_injected_nothing(&record);
            let reasons: Vec<SkipReason> = skipped(&record).into_iter().map(|(_, reason)| reason).collect();
            assert_eq!(reasons, [SkipReason::MissingValue, SkipReason::MissingValue], "{args:?}");
        }
    }
}

/// `@/dev/zero`: libiberty sizes it as 0 bytes, so gcc takes it as empty;
/// secwrap reads nothing from it (it used to read 2 GB). (Not clang: clang
/// reads a device to its end.)
#[test]
fn dev_zero_response_file_is_not_read() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    let args = ["-c", "a.c", "-o", "a.o", "@/dev/zero"];
    let expected = direct(&t, "gcc", &args);
    let mut with_secwrap = vec!["gcc"];
    with_secwrap.extend_from_slice(&args);
    // Not read: strict refuses to plan a line it cannot see whole, and
    // passthrough runs it unchanged, ending as gcc's does.
    t.run(&with_secwrap)
        .status(2)
        .stderr("secwrap: error: /dev/zero: not a regular file: its words are left unread for the compiler, so no flag can be planned for them\n")
        .go();
    let t = t.env("SECWRAP_ON_ERROR", "passthrough");
    let out = t.run(&with_secwrap).unchecked().go();
    assert_eq!(out.code(), expected.code(), "{}", out.stderr_text());
    assert!(
        out.stderr_text()
            .starts_with("secwrap: warning: /dev/zero: not a regular file")
    );
}

/// A compiler that cannot be run, at `bin/gcc`, and the config around it.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// A rule applies (`CONFIG_LIVEPATCH=y`): flags would be probed.
    RuleApplies,
    /// No rule applies: nothing to probe.
    NoRule,
    /// A rule applies, and `on_error = "passthrough"`.
    Passthrough,
}

fn broken_compiler_tree(setup: Setup) -> TestEnv {
    match setup {
        Setup::RuleApplies => TestEnv::livepatch(),
        Setup::NoRule => TestEnv::new()
            .file("a.c", A_C)
            .kconfig(NO_LIVEPATCH)
            .config(KCONFIG_TOML),
        Setup::Passthrough => {
            TestEnv::livepatch().config(&format!("{KCONFIG_TOML}on_error = \"passthrough\"\n"))
        }
    }
}

/// secwrap exits as `sh -c` does for the same compiler path.
#[track_caller]
fn assert_exits_like_the_shell(t: &TestEnv, setup: Setup, expected: i32) {
    let shell = t
        .run_program("sh", &["-c", "./bin/gcc -c a.c -o a.o"])
        .status(expected)
        .stderr_any()
        .go();
    assert_eq!(shell.code(), Some(expected), "the shell's own status");
    let out = t
        .run(&["./bin/gcc", "-c", "a.c", "-o", "a.o"])
        .status(expected)
        .stderr_contains("secwrap: error: ")
        .go();
    assert!(
        out.stderr_text().starts_with("secwrap: error: ") && out.stderr_text().lines().count() == 1,
        "{setup:?}: {}",
        out.stderr_text()
    );
}

/// No file at the path: 127, whatever the config.
#[test]
fn missing_compiler_exits_127() {
    for setup in [Setup::RuleApplies, Setup::NoRule, Setup::Passthrough] {
        let t = broken_compiler_tree(setup);
        std::fs::create_dir_all(t.path("bin")).expect("bin/");
        assert_exits_like_the_shell(&t, setup, 127);
    }
}

/// A script whose `#!` interpreter is not there: `execve` fails with
/// `ENOENT`, the shell says "not found" (127). With a rule the probe meets
/// it first, and exits so whatever `on_error` says.
#[test]
fn missing_interpreter_exits_127_when_probed() {
    for setup in [Setup::RuleApplies, Setup::Passthrough] {
        let t = broken_compiler_tree(setup);
        t.executable("bin/gcc", "#!/nonexistent/sh\n");
        assert_exits_like_the_shell(&t, setup, 127);
    }
}

/// A file without an execute bit, or a directory, at the path: resolution
/// tells them from a missing file (the shell's 126 needs route.rs to exit
/// with `NotFound::exit_code`); the record is never written.
#[test]
fn unrunnable_compiler_is_refused_before_anything_runs() {
    for make in ["directory", "not executable"] {
        let t = broken_compiler_tree(Setup::RuleApplies);
        if make == "directory" {
            std::fs::create_dir_all(t.path("bin/gcc")).expect("bin/gcc/");
        } else {
            t.write("bin/gcc", "#!/bin/sh\nexit 0\n");
            std::fs::set_permissions(t.path("bin/gcc"), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        t.run(&["./bin/gcc", "-c", "a.c", "-o", "a.o"])
            .status(126)
            .stderr_contains("secwrap: error: ")
            .go();
        assert!(!t.exists("a.o"), "{make}");
        assert!(t.records().is_empty(), "{make}");
    }
}

/// A directory at the path: `execve` says `EACCES`, the shell 126
/// ("Permission denied"), whatever the config.
#[test]
fn directory_as_compiler_exits_126() {
    for setup in [Setup::RuleApplies, Setup::NoRule, Setup::Passthrough] {
        let t = broken_compiler_tree(setup);
        std::fs::create_dir_all(t.path("bin/gcc")).expect("bin/gcc/");
        assert_exits_like_the_shell(&t, setup, 126);
    }
}

/// A file without an execute bit: 126, whatever the config.
#[test]
fn compiler_without_execute_bit_exits_126() {
    for setup in [Setup::RuleApplies, Setup::NoRule, Setup::Passthrough] {
        let t = broken_compiler_tree(setup);
        t.write("bin/gcc", "#!/bin/sh\nexit 0\n");
        std::fs::set_permissions(t.path("bin/gcc"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert_exits_like_the_shell(&t, setup, 126);
    }
}

/// A missing `#!` interpreter and no rule: the compile's own spawn fails
/// with `ENOENT`, and the shell's status is 127.
#[test]
fn missing_interpreter_exits_127_unprobed() {
    let t = broken_compiler_tree(Setup::NoRule);
    t.executable("bin/gcc", "#!/nonexistent/sh\n");
    assert_exits_like_the_shell(&t, Setup::NoRule, 127);
}
