//! Snapshots of what people read: `secwrap config`, `log show`,
//! `log builds`, `check` with findings, `stats`, `--help`, `log --help`,
//! `stats --help` and `log prune --help` (insta, snapshots in `tests/it/snapshots/`). What differs between
//! machines and runs (the temporary tree, times, durations, pids, compiler
//! versions) is filtered out, so a snapshot changes only when the output
//! does. To accept a change: `INSTA_UPDATE=always cargo test --test it
//! snapshots::`, then review the `.snap` diff before committing it. Under
//! CI (`CI=true`) nothing is written and a mismatch fails.

use crate::common::*;

/// The filters that make `t`'s output the same on every machine and run.
fn filters(t: &TestEnv) -> Vec<(String, &'static str)> {
    vec![
        (escape(&t.root().display().to_string()), "[ROOT]"),
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z".to_string(),
            "[TIME]",
        ),
        (r"\b\d+(\.\d+)? ?ms\b".to_string(), "[DURATION]"),
        (r"\bpid \d+\b".to_string(), "pid [PID]"),
        (
            r"\b(gcc|clang)( version|\)) \d+\.\d+(\.\d+)?".to_string(),
            "$1$2 [VERSION]",
        ),
    ]
}

/// `text` matched literally in a filter's regex.
fn escape(text: &str) -> String {
    let mut escaped = String::new();
    for character in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// Asserts `value` matches snapshot `name`, through `t`'s filters.
#[track_caller]
fn snapshot(t: &TestEnv, name: &str, value: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in filters(t) {
        settings.add_filter(&pattern, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, value));
}

#[test]
fn config() {
    let t = TestEnv::livepatch();
    let out = t.run(&["config"]).stdout_any().go();
    snapshot(&t, "config", &out.stdout_text());
}

/// Three compiles (one split, one preprocess-only, one failed) through
/// secwrap, for the log readers.
fn logged_tree() -> Option<TestEnv> {
    if !require_compiler("gcc") {
        return None;
    }
    let t = TestEnv::livepatch().file("bad.c", "int f(void) { return }\n");
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    t.run(&["gcc", "-E", "a.c"])
        .stdout_contains("int get(void)")
        .go();
    t.run(&["gcc", "-c", "bad.c", "-o", "bad.o"])
        .status(1)
        .stderr_contains("error")
        .go();
    Some(t)
}

#[test]
fn log_show() {
    let Some(t) = logged_tree() else { return };
    let out = t.run(&["log", "show"]).stdout_any().go();
    snapshot(&t, "log_show", &out.stdout_text());
}

#[test]
fn log_builds() {
    let Some(t) = logged_tree() else { return };
    let out = t.run(&["log", "builds"]).stdout_any().go();
    snapshot(&t, "log_builds", &out.stdout_text());
}

/// `check` finding both kinds of trouble: an object recorded as split that
/// is not (rebuilt behind secwrap's back) and functions named like the
/// sections gcc reserves.
#[test]
fn check_with_findings() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch().file(
        "names.c",
        "int startup(void) { return 1; }\nint unlikely(int x) { return x + 1; }\n",
    );
    t.run(&["gcc", "-O2", "-c", "names.c", "-o", "names.o"])
        .go();
    t.run(&["gcc", "-O2", "-c", "a.c", "-o", "a.o"]).go();
    t.run_program("gcc", &["-O2", "-c", "a.c", "-o", "a.o"])
        .go();
    let out = t
        .run(&["check", "names.o", "a.o"])
        .status(1)
        .stdout_any()
        .go();
    snapshot(&t, "check_with_findings", &out.stdout_text());
}

#[test]
fn help() {
    let t = TestEnv::new();
    let out = t.run(&["--help"]).stdout_any().go();
    snapshot(&t, "help", &out.stdout_text());
}

#[test]
fn log_help() {
    let t = TestEnv::new();
    let out = t.run(&["log", "--help"]).stdout_any().go();
    snapshot(&t, "log_help", &out.stdout_text());
}

/// `secwrap stats` on two builds of real compiles (`stats::two_builds`).
#[test]
fn stats() {
    let Some(t) = crate::stats::two_builds() else {
        return;
    };
    let out = t.run(&["stats"]).stdout_any().go();
    snapshot(&t, "stats", &out.stdout_text());
}

#[test]
fn stats_help() {
    let t = TestEnv::new();
    let out = t.run(&["stats", "--help"]).stdout_any().go();
    snapshot(&t, "stats_help", &out.stdout_text());
}

#[test]
fn log_prune_help() {
    let t = TestEnv::new();
    let out = t.run(&["log", "prune", "--help"]).stdout_any().go();
    snapshot(&t, "log_prune_help", &out.stdout_text());
}
