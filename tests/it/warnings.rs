//! The warning policy (README, "Errors and warnings"): one line at most,
//! never on calls whose stderr build tools parse (info queries, `-E`/`-M`,
//! build-system probes), and the build-system probe mark in the record.

use crate::common::*;

compiler_tests! {
    /// Passthrough of bad input warns on a compile, but not on `-E`,
    /// `--version` or a Kbuild-style probe, whose output stays the compiler's.
    fn passthrough_warning_stays_off_quiet_calls(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(LIVEPATCH)
            .config("kconfig = \".config\"\n[log\n")
            .env("SECWRAP_ON_ERROR", "passthrough");
        let plain = t.run_program(real(cc), &["-E", "a.c"]).unchecked().go();
        t.run(&[cc, "-E", "a.c"]).like(&plain).go();
        let version = t.run_program(real(cc), &["--version"]).unchecked().go();
        t.run(&[cc, "--version"]).like(&version).go();
        t.run(&[cc, "-Werror", "-c", "-x", "c", "/dev/null", "-o", "tmp/probe.o"]).go();
        let location = format!("{}:2:5", t.path("secwrap.toml").display());
        let compile = t
            .run(&[cc, "-c", "a.c", "-o", "a.o"])
            .stderr_contains(&format!("secwrap: warning: {location}:"))
            .go();
        assert_eq!(compile.stderr_text().lines().count(), 1);
        t.assert_not_split("a.o");
    }

    /// configure's `conftest.c` and Kbuild's `-x c /dev/null` are marked
    /// as build-system probes and left out of `log changed`.
    fn build_system_probes_are_marked_and_not_objects(cc) {
        let t = TestEnv::livepatch().file("conftest.c", "int main(void) { return 0; }\n");
        t.run(&[cc, "-c", "conftest.c", "-o", "conftest.o"]).go();
        t.run(&[cc, "-c", "-x", "c", "/dev/null", "-o", "tmp/t.o"]).go();
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        let marks: Vec<bool> = t
            .records()
            .iter()
            .map(|record| record.build_system_probe)
            .collect();
        assert_eq!(marks, [true, true, false]);
        t.run(&["log", "changed"]).stdout("a.o\n").go();
    }
}

/// A once-per-build warning (an unusable cache) shows on the first call of
/// a build only, and every call's record carries it; a new build shows it
/// again.
#[test]
fn once_per_build_warnings_show_once() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    std::fs::set_permissions(
        t.path("cache"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let warning = format!(
        "cache directory `{}` is not a private directory of yours (or cannot be made one): working without a cache",
        t.path("cache").display()
    );
    let t = t.env("SECWRAP_BUILD_ID", "one");
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"])
        .stderr(format!("secwrap: warning: {warning}\n"))
        .go();
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    let t = t.env("SECWRAP_BUILD_ID", "two");
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"])
        .stderr(format!("secwrap: warning: {warning}\n"))
        .go();
    let records = t.records();
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|record| record.warnings == [warning.clone()])
    );
}

/// `skipped` as (flag, reason word) pairs.
fn skip_words(record: &secwrap::record::InvocationRecord) -> Vec<(String, String)> {
    skipped(record)
        .into_iter()
        .map(|(flag, reason)| {
            let word = serde_json::to_value(reason).unwrap();
            (flag.to_string(), word.as_str().unwrap().to_string())
        })
        .collect()
}

compiler_tests! {
    /// A secwrap.toml whose rules read Kconfig symbols, and no Kconfig
    /// values anywhere: strict stops before the compiler with one line
    /// naming the file and the rule; passthrough compiles unsplit, records
    /// `no_kconfig` and says so once per build.
    fn rules_without_kconfig_values(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .config("[[rule]]\nname = \"lp\"\nwhen = \"LIVEPATCH\"\ncflags = [\"-ffunction-sections\"]\n[log]\npath = \"log.jsonl\"\n");
        let message = format!(
            "{}: rule `lp` reads Kconfig symbols, but no Kconfig values were found (no `kconfig` key, no include/config/auto.conf or .config upward): nothing added; name them with `kconfig = ...`, or split every compile with `when = \"y\"` (`secwrap init --always`)",
            t.path("secwrap.toml").display()
        );
        t.run(&[cc, "-c", "a.c", "-o", "a.o"])
            .status(2)
            .stderr(format!("secwrap: error: {message}\n"))
            .go();
        assert!(!t.exists("a.o") && !t.exists("log.jsonl"));
        // A build system's test compile is not stopped: its answer must
        // stay the compiler's. It is recorded as undecided.
        t.run(&[cc, "-c", "-x", "c", "/dev/null", "-o", "probe.o"]).go();

        let t = t.env("SECWRAP_ON_ERROR", "passthrough").env("SECWRAP_BUILD_ID", "b");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"])
            .stderr(format!("secwrap: warning: {message}\n"))
            .go();
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_not_split("a.o");
        let records = t.records();
        assert_eq!(records.len(), 3);
        for record in &records {
            assert_eq!(skip_words(record), [("-ffunction-sections".to_string(), "no_kconfig".to_string())]);
            assert_eq!(record.warnings, std::slice::from_ref(&message));
        }
    }

    /// The "always" rule reads no symbol: no Kconfig needed, no message.
    fn always_rule_needs_no_kconfig(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .config("[[rule]]\nwhen = \"y\"\ncflags = [\"-ffunction-sections\", \"-fdata-sections\"]\n[log]\npath = \"log.jsonl\"\n");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        assert_injected_split(&t.only_record());
    }

    /// No secwrap.toml and no Kconfig (a distribution package): the
    /// built-in rules cannot decide; never an error, but not silent.
    fn no_config_and_no_kconfig_is_said(cc) {
        let t = TestEnv::new().file("a.c", A_C).env("SECWRAP_LOG", "log.jsonl");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"])
            .stderr_contains("no secwrap.toml here, and the built-in rules read Kconfig symbols, but no Kconfig values were found")
            .go();
        t.assert_not_split("a.o");
        assert_eq!(
            skip_words(&t.only_record()),
            [
                ("-ffunction-sections".to_string(), "no_kconfig".to_string()),
                ("-fdata-sections".to_string(), "no_kconfig".to_string())
            ]
        );
        // `--version` and `-E` stay quiet.
        let version = t.run_program(real(cc), &["--version"]).unchecked().go();
        t.run(&[cc, "--version"]).like(&version).go();
    }
}
