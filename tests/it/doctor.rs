//! `secwrap doctor [FILE]`: one report on why an object is unsplit or
//! unrecorded, from the same stages a compile runs.

use crate::common::*;

compiler_tests! {
    /// An object compiled through secwrap: its record and the object agree,
    /// nothing to report, exit 0.
    fn a_recorded_split_object_is_fine(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        let out = t
            .run(&["doctor", "a.o"])
            .stdout_contains(&format!(
                "config file:  {} (found upward from the working directory, owner and mode checked)\n",
                t.path("secwrap.toml").display()
            ))
            .stdout_contains("flags:        -ffunction-sections -fdata-sections (rules: xen-split-sections)\n")
            .stdout_contains(" build - compile exit 0\n  injected:   -ffunction-sections -fdata-sections\n")
            .stdout_contains("object:       split\n")
            .go();
        assert!(!out.stdout_text().contains("problem:"), "{}", out.stdout_text());
    }

    /// An object compiled behind secwrap's back (what a ccache directory
    /// first on PATH does): unsplit and not in the record, said so, exit 1.
    fn an_unrecorded_unsplit_object_is_a_problem(cc) {
        let t = TestEnv::livepatch();
        t.run_program(real(cc), &["-c", "a.c", "-o", "a.o"]).go();
        t.run(&["doctor", "a.o"])
            .status(1)
            .stdout_contains(&format!("last record:  none for {}\n", t.path("a.o").display()))
            .stdout_contains("object:       not split (")
            .stdout_contains(&format!(
                "problem:      `{}` has no compile record in {}: it was not compiled through secwrap",
                t.path("a.o").display(),
                t.path("log.jsonl").display()
            ))
            .go();
    }
}

/// A ccache masquerade directory before secwrap's on PATH: named, with the
/// fix.
#[test]
fn a_launcher_directory_before_the_shims_is_a_problem() {
    if !require_compiler("gcc") || !require_program("ccache") {
        return;
    }
    let t = TestEnv::livepatch();
    std::fs::create_dir_all(t.path("ccache")).unwrap();
    std::fs::create_dir_all(t.path("mask")).unwrap();
    let ccache = which::which("ccache").unwrap();
    std::os::unix::fs::symlink(&ccache, t.path("ccache/gcc")).unwrap();
    std::os::unix::fs::symlink(SECWRAP, t.path("mask/gcc")).unwrap();
    let path = path_with_first(&[&t.path("ccache"), &t.path("mask")]);
    let t = t.env("PATH", path);
    t.run(&["doctor"])
        .status(1)
        .stdout_contains(&format!("shims:        {} (gcc)\n", t.path("mask").display()))
        .stdout_contains(&format!(
            "problem:      `{ccache}/gcc` (a ccache masquerade link) comes before secwrap's `{mask}` on PATH: ccache runs before secwrap, on the command line without secwrap's flags; put `{mask}` before `{ccache}` on PATH, or take `{ccache}` off PATH and use launcher = [\"ccache\"] in secwrap.toml\n",
            ccache = t.path("ccache").display(),
            mask = t.path("mask").display(),
        ))
        .go();
}

/// Rules that read Kconfig symbols and no Kconfig values: the problem and
/// the fix; the compile's own error says the same.
#[test]
fn rules_without_kconfig_values_are_a_problem() {
    let t = TestEnv::new()
        .file("a.c", A_C)
        .config("[log]\npath = \"log.jsonl\"\n");
    t.run(&["doctor", "a.c"])
        .status(1)
        .stdout_contains("kconfig:      none found\n")
        .stdout_contains("problem:      the rules read Kconfig symbols and no Kconfig values were found: name them with `kconfig = ...`, or split every compile with `when = \"y\"` (`secwrap init --always`)\n")
        .go();
}
