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
