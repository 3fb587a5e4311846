//! How the subcommands end when things go wrong around them: a reader that
//! stops reading (`secwrap log show | head -1`) is a quiet exit 0, as
//! ripgrep's is; a usage error is clap's report under secwrap's
//! `secwrap: error:` prefix, exit status 2; help and version exit 0.

use std::io::{BufRead, BufReader, Read};

use crate::common::*;

/// Records in the big log: its summary is megabytes, far more than a pipe
/// holds, so secwrap is still writing when the reader goes away.
const BIG_LOG_RECORDS: usize = 40_000;

/// A tree whose `big.jsonl` holds [`BIG_LOG_RECORDS`] copies of the record
/// a real `secwrap gcc -c a.c` wrote, each with its own object (`a0.o`,
/// `a1.o`, ...) so that `log changed` has as many lines to print. `None`
/// when gcc is missing.
fn tree_with_big_log() -> Option<TestEnv> {
    if !require_compiler("gcc") {
        return None;
    }
    let t = TestEnv::livepatch();
    t.run(&["gcc", "-c", "a.c"]).go();
    let log = t.read_text("log.jsonl");
    let record = log.lines().next().expect("one record");
    assert!(record.contains("/a.o\""), "{record}");
    let mut big = String::new();
    for index in 0..BIG_LOG_RECORDS {
        big.push_str(&record.replace("/a.o\"", &format!("/a{index}.o\"")));
        big.push('\n');
    }
    t.write("big.jsonl", big);
    Some(t)
}

/// Runs `secwrap ARGS...`, reads one line of its stdout and closes the
/// pipe; returns that line, the exit status and stderr.
fn read_one_line_then_close(t: &TestEnv, args: &[&str]) -> (String, Option<i32>, String) {
    let mut child = t.command(SECWRAP, args).spawn().expect("spawn secwrap");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read a line");
    drop(stdout);
    let status = wait_with_timeout(&mut child, &format!("secwrap {}", args.join(" ")));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    (line, status.code(), stderr)
}

#[test]
fn log_show_into_a_closed_pipe_exits_0_quietly() {
    let Some(t) = tree_with_big_log() else {
        return;
    };
    let (line, code, stderr) = read_one_line_then_close(&t, &["log", "show", "--log", "big.jsonl"]);
    assert!(line.contains(" compile "), "{line}");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn log_changed_into_a_closed_pipe_exits_0_quietly() {
    let Some(t) = tree_with_big_log() else {
        return;
    };
    let (line, code, stderr) =
        read_one_line_then_close(&t, &["log", "changed", "--log", "big.jsonl"]);
    assert!(line.ends_with(".o\n"), "{line}");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

/// A usage error clap finds: its words and usage lines, with the
/// `secwrap: error:` prefix every secwrap error has, exit status 2.
#[track_caller]
fn assert_usage_error(args: &[&str], detail: &str) {
    let out = TestEnv::new()
        .run(args)
        .status(secwrap::exit::EXIT_ERROR)
        .stderr_contains("secwrap: error: ")
        .go();
    let stderr = out.stderr_text();
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("secwrap: error: "), "{stderr}");
    assert!(first.contains(detail), "no `{detail}` in: {stderr}");
    assert!(!stderr.contains("\nerror: "), "{stderr}");
    assert!(stderr.contains("\nUsage: secwrap "), "{stderr}");
}

#[test]
fn mistyped_subcommand_is_a_usage_error_with_the_prefix() {
    assert_usage_error(&["log", "shwo"], "unrecognized subcommand 'shwo'");
}

#[test]
fn missing_argument_is_a_usage_error_with_the_prefix() {
    assert_usage_error(&["diff"], "required arguments were not provided");
}

#[test]
fn help_and_version_print_on_stdout_and_exit_0() {
    let t = TestEnv::new();
    t.run(&["--version"])
        .stdout(format!("secwrap {}\n", env!("CARGO_PKG_VERSION")))
        .go();
    for args in [&["--help"][..], &["log", "--help"], &["help", "log"]] {
        t.run(args).stdout_contains("\nUsage: secwrap ").go();
    }
}

/// `secwrap lgo show`: no program `lgo`, one edit from `log`, so the
/// compiler-not-found error says which subcommand was meant; a word that
/// is not close to one gets the error alone.
#[test]
fn a_mistyped_subcommand_word_gets_a_hint() {
    let t = TestEnv::new();
    t.run(&["lgo", "show"])
        .status(secwrap::exit::EXIT_NOT_FOUND)
        .stderr(
            "secwrap: error: compiler `lgo` not found on PATH (secwrap itself skipped); did you mean `secwrap log`?\n",
        )
        .go();
    t.run(&["gcc-nope", "-c", "a.c"])
        .status(secwrap::exit::EXIT_NOT_FOUND)
        .stderr("secwrap: error: compiler `gcc-nope` not found on PATH (secwrap itself skipped)\n")
        .go();
}

/// `secwrap run --bogus -- touch ran`: an option `run` does not have is a
/// usage error, not the command, and nothing runs.
#[test]
fn an_unknown_run_option_is_a_usage_error_and_runs_nothing() {
    assert_usage_error(
        &["run", "--bogus", "--", "touch", "ran"],
        "unexpected argument '--bogus' found",
    );
    let t = TestEnv::new();
    t.run(&["run", "--bogus", "touch", "ran"])
        .status(secwrap::exit::EXIT_ERROR)
        .stderr_contains("secwrap: error: unexpected argument '--bogus' found\n")
        .go();
    assert!(!t.exists("ran"), "the command ran");
}
