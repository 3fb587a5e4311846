//! secwrap's own bad input: one `secwrap: error:` line naming the file and
//! position, a non-zero exit, the compiler not run and the log untouched;
//! or, with `on_error = "passthrough"`, one warning and the compiler run
//! unchanged.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;

/// A tree with `a.c`, a fake compiler that leaves `fake/runs.txt` when it
/// runs, and a log holding one earlier record.
fn tree() -> TestEnv {
    let t = TestEnv::new()
        .file("a.c", A_C)
        .file("log.jsonl", OLD_RECORD);
    t.fake_gcc("fake", "exit 0");
    t
}

/// Runs the fake compiler through secwrap and checks secwrap refused: exit
/// status 2, stderr exactly one line `secwrap: error: {location}: ...`
/// containing `detail`, compiler not run, log untouched.
#[track_caller]
fn assert_refused(t: &TestEnv, location: &str, detail: &str) {
    let out = t
        .run(&["./fake/gcc", "-c", "a.c", "-o", "a.o"])
        .status(secwrap::exit::EXIT_ERROR)
        .stderr_contains(detail)
        .go();
    let stderr = out.stderr_text();
    let prefix = format!("secwrap: error: {location}: ");
    assert!(
        stderr.starts_with(&prefix),
        "want `{prefix}...`, got: {stderr}"
    );
    assert!(
        stderr.ends_with('\n') && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert_eq!(
        t.fake_runs("fake"),
        Vec::<String>::new(),
        "the compiler ran"
    );
    assert_eq!(t.read_text("log.jsonl"), OLD_RECORD, "the log changed");
}

#[test]
fn malformed_toml() {
    let t = tree().config("kconfig = \".config\"\n[log\npath = \"x\"\n");
    let location = format!("{}:2:5", t.path("secwrap.toml").display());
    assert_refused(&t, &location, "");
}

#[test]
fn unknown_key() {
    let t = tree().config("kconfig = \".config\"\ncolour = 1\n");
    let location = format!("{}:2:1", t.path("secwrap.toml").display());
    assert_refused(&t, &location, "colour");
}

#[test]
fn bad_rule_expression() {
    let t = tree().kconfig(LIVEPATCH).config(
        "kconfig = \".config\"\n[[rule]]\nwhen = \"LIVEPATCH &&\"\ncflags = [\"-ffunction-sections\"]\n",
    );
    // Line 3, the end of the expression inside the quotes.
    let location = format!("{}:3:21", t.path("secwrap.toml").display());
    assert_refused(&t, &location, "when");
}

#[test]
fn missing_kconfig_file() {
    let t = tree().config("kconfig = \"nope/.config\"\n");
    let location = format!("{}:1:11", t.path("secwrap.toml").display());
    assert_refused(&t, &location, &t.path("nope/.config").display().to_string());
}

#[test]
fn bad_kconfig_line() {
    let t = tree()
        .kconfig("CONFIG_LIVEPATCH=y\nCONFIG_X=\ngarbage line\n")
        .config(KCONFIG_TOML);
    let location = format!("{}:3:1", t.path(".config").display());
    assert_refused(&t, &location, "");
}

/// A bad line in a discovered `.config` (no secwrap.toml) is as fatal.
#[test]
fn bad_discovered_kconfig_line() {
    let t = tree().kconfig("CONFIG_LIVEPATCH=y\n\ngarbage line\n");
    let location = format!("{}:3:1", t.path(".config").display());
    assert_refused(&t, &location, "");
}

/// A log that cannot be opened: refused before the compiler runs.
#[test]
fn unwritable_log() {
    let t = tree().kconfig(LIVEPATCH);
    // A read-only directory stops everyone but root; a path under a
    // regular file stops root too.
    std::fs::create_dir(t.path("ro")).unwrap();
    std::fs::set_permissions(t.path("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let log = if std::fs::write(t.path("ro/probe"), "").is_err() {
        "ro/log.jsonl"
    } else {
        t.write("afile", "a regular file\n");
        "afile/log.jsonl"
    };
    let t = t
        .config(&format!("kconfig = \".config\"\n[log]\npath = \"{log}\"\n"))
        .env_remove("SECWRAP_LOG");
    assert_refused(&t, &t.path(log).display().to_string(), "log");
    std::fs::set_permissions(t.path("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A compiler that is nowhere: 127, naming it.
#[test]
fn missing_compiler() {
    let t = tree();
    let out = t
        .run(&["x86_64-nowhere-linux-gnu-gcc", "-c", "a.c", "-o", "a.o"])
        .status(127)
        .stderr_contains("`x86_64-nowhere-linux-gnu-gcc`")
        .go();
    let stderr = out.stderr_text();
    assert!(stderr.starts_with("secwrap: error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(t.read_text("log.jsonl"), OLD_RECORD);
}

/// `SECWRAP_ON_ERROR` with a value secwrap does not know is itself an error.
#[test]
fn bad_on_error_variable() {
    let t = tree().kconfig(LIVEPATCH).env("SECWRAP_ON_ERROR", "lenient");
    assert_refused(&t, "SECWRAP_ON_ERROR", "lenient");
}

/// Runs `CC -c a.c -o a.o` through secwrap expecting the passthrough of
/// bad input: success, the object NOT split, and exactly one warning line
/// naming `location`.
#[track_caller]
fn assert_passed_through(t: &TestEnv, cc: &str, location: &str) {
    let out = t
        .run(&[cc, "-c", "a.c", "-o", "a.o"])
        .stderr_contains("secwrap: warning: ")
        .go();
    t.assert_not_split("a.o");
    let stderr = out.stderr_text();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("secwrap: warning: {location}:")),
        "{stderr}"
    );
}

compiler_tests! {
    /// `on_error = "passthrough"` with a bad `.config`.
    fn passthrough_on_bad_kconfig(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig("CONFIG_LIVEPATCH=y\nCONFIG_X=\ngarbage line\n")
            .config("kconfig = \".config\"\non_error = \"passthrough\"\n");
        let location = format!("{}:3:1", t.path(".config").display());
        assert_passed_through(&t, cc, &location);
    }

    /// `SECWRAP_ON_ERROR=passthrough` with a malformed secwrap.toml.
    fn passthrough_env_on_malformed_toml(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(LIVEPATCH)
            .config("kconfig = \".config\"\n[log\n")
            .env("SECWRAP_ON_ERROR", "passthrough");
        let location = format!("{}:2:5", t.path("secwrap.toml").display());
        assert_passed_through(&t, cc, &location);
    }
}

/// A launcher that is not found, from a config named by `SECWRAP_CONFIG`
/// (a file found upward may name only a known launcher: see trust.rs).
#[test]
fn launcher_from_config_not_found() {
    let t = tree().config("launcher = [\"no-such-launcher\"]\n");
    let named = t.path("secwrap.toml");
    let t = t.env("SECWRAP_CONFIG", &named);
    let location = format!("{}:1:12", t.path("secwrap.toml").display());
    assert_refused(
        &t,
        &location,
        "launcher `no-such-launcher` not found on PATH",
    );
}
