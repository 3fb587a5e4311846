//! A launcher running *above* secwrap is the wrong order (issue 10, item
//! 2): with a ccache or distcc masquerade directory before secwrap's on
//! PATH, ccache hashes the command line before secwrap adds its flags and
//! distcc preprocesses through secwrap and compiles elsewhere without
//! them. Strict stops with one line naming both directories; passthrough
//! warns once per build and the compile goes on; the right order says
//! nothing. Real ccache and distcc (with a distccd on loopback, as the
//! issue's build used one).

use std::path::{Path, PathBuf};

use secwrap::classify::Classification;

use crate::common::*;

/// The livepatch tree with a private ccache directory, secwrap's
/// masquerade directory `mask` and ccache's `ccache-links`.
fn ccache_tree(cc: &str) -> (TestEnv, PathBuf, PathBuf) {
    let t = TestEnv::livepatch().file("b.c", B_C);
    let ccache_dir = t.path("ccache");
    let t = t.env("CCACHE_DIR", ccache_dir);
    let mask = links(&t, "mask", Path::new(SECWRAP), &names(cc));
    let launcher = links(&t, "ccache-links", &real("ccache"), &names(cc));
    (t, mask, launcher)
}

/// What secwrap says for a ccache masquerade directory ahead of its own.
fn ccache_ahead(cc: &str, links: &Path, mask: &Path) -> String {
    let (links, mask) = (links.display(), mask.display());
    format!(
        "`{links}/{cc}` (a ccache masquerade link) comes before secwrap's `{mask}` on PATH: ccache runs before secwrap, on the command line without secwrap's flags; put `{mask}` before `{links}` on PATH, or take `{links}` off PATH and use launcher = [\"ccache\"] in secwrap.toml"
    )
}

/// Two objects through `make -j2` with `CC=cc` by name, in one build.
const MAKEFILE: &str = "all: a.o b.o\n%.o: %.c\n\t$(CC) -c $< -o $@\n";

/// The livepatch tree, a distccd, secwrap's `mask` and distcc's
/// `distcc-links`; distcc sends jobs to that distccd only.
fn distcc_tree(cc: &str) -> Option<(TestEnv, Distccd, PathBuf, PathBuf)> {
    if !require_program("distcc") || !require_program("distccd") {
        return None;
    }
    let t = TestEnv::livepatch();
    let distccd = Distccd::start(&t);
    let t = t.env("DISTCC_HOSTS", &distccd.hosts);
    let mask = links(&t, "mask", Path::new(SECWRAP), &names(cc));
    let launcher = links(&t, "distcc-links", &real("distcc"), &names(cc));
    Some((t, distccd, mask, launcher))
}

/// What secwrap says under distcc started from a masquerade directory
/// ahead of its own (distcc takes that directory off the PATH it gives
/// the compiler; the one it was started with names it).
fn distcc_above(links: &Path, mask: &Path) -> String {
    let (links, mask) = (links.display(), mask.display());
    let distcc = std::fs::canonicalize(real("distcc")).unwrap();
    format!(
        "secwrap runs under distcc (its parent process, `{}`), found through `{links}` before secwrap's `{mask}` on PATH: distcc runs before secwrap, on the command line without secwrap's flags; put `{mask}` before `{links}` on PATH, or take `{links}` off PATH and use launcher = [\"distcc\"] in secwrap.toml",
        distcc.display()
    )
}

compiler_tests! {
    /// ccache first: strict stops with the one line, nothing compiled,
    /// nothing recorded.
    fn ccache_links_before_secwrap_stop_strict(cc) {
        if !require_program("ccache") {
            return;
        }
        let (t, mask, links) = ccache_tree(cc);
        let t = t.env("PATH", path_with_first(&[&links, &mask]));
        t.run_program(cc, &["-c", "a.c", "-o", "a.o"])
            .status(2)
            .stderr(format!("secwrap: error: {}\n", ccache_ahead(cc, &links, &mask)))
            .go();
        assert!(!t.exists("a.o"), "nothing compiled");
        assert!(!t.exists("log.jsonl"), "nothing recorded");
    }

    /// ccache first, passthrough: a build of two objects warns once, and
    /// the compiles go on wrapped; every record holds the warning.
    fn ccache_links_before_secwrap_warn_once_in_passthrough(cc) {
        if !require_program("ccache") || !require_program("make") {
            return;
        }
        let (t, mask, links) = ccache_tree(cc);
        let t = t
            .file("Makefile", MAKEFILE)
            .env("PATH", path_with_first(&[&links, &mask]))
            .env("SECWRAP_ON_ERROR", "passthrough");
        let cc_var = format!("CC={cc}");
        t.run_program("make", &["-s", "-j2", cc_var.as_str()])
            .stderr(format!("secwrap: warning: {}\n", ccache_ahead(cc, &links, &mask)))
            .go();
        t.assert_split("a.o");
        assert!(t.sections("b.o").iter().any(|name| name == ".text.bget"));
        let records = t.records();
        let compiles = records
            .iter()
            .filter(|record| record.kind.is(Classification::Compile))
            .count();
        assert_eq!(compiles, 2, "{records:#?}");
        for record in &records {
            assert_eq!(record.warnings, [ccache_ahead(cc, &links, &mask)], "{record:#?}");
        }
    }

    /// secwrap first, ccache after it, with the user's ccache settings
    /// (`CCACHE_DIR`, `CCACHE_PREFIX`) in the environment, as the right
    /// order passes them on: nothing said, the object split, ccache the
    /// launcher.
    fn ccache_links_after_secwrap_say_nothing(cc) {
        if !require_program("ccache") {
            return;
        }
        let (t, mask, links) = ccache_tree(cc);
        let t = t
            .env("PATH", path_with_first(&[&mask, &links]))
            .env("CCACHE_PREFIX", "nice");
        t.run_program(cc, &["-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert!(some_text(&record.launcher).ends_with("/ccache"), "{record:#?}");
        assert!(record.warnings.is_empty(), "{record:#?}");
        assert_injected_split(&record);
    }

    /// distcc first, sending to a distccd: its `-E` runs through secwrap,
    /// which stops it (strict) with the line naming both directories; no
    /// object, no record.
    fn distcc_links_before_secwrap_stop_strict(cc) {
        let Some((t, _distccd, mask, links)) = distcc_tree(cc) else {
            return;
        };
        let t = t.env("PATH", path_with_first(&[&links, &mask]));
        t.run_program(cc, &["-c", "a.c", "-o", "a.o"])
            .status(2)
            .stderr_contains(&format!("secwrap: error: {}\n", distcc_above(&links, &mask)))
            .go();
        assert!(!t.exists("a.o"), "nothing compiled");
        assert!(!t.exists("log.jsonl"), "nothing recorded");
    }

    /// distcc first, passthrough: the build goes on as it would without
    /// the check, with one warning: distcc preprocessed through secwrap
    /// (the only record, `-E`) and the distccd compiled the object without
    /// the flags, unsplit, which is what the warning is about.
    fn distcc_links_before_secwrap_warn_in_passthrough(cc) {
        let Some((t, _distccd, mask, links)) = distcc_tree(cc) else {
            return;
        };
        let t = t
            .env("PATH", path_with_first(&[&links, &mask]))
            .env("SECWRAP_ON_ERROR", "passthrough");
        t.run_program(cc, &["-c", "a.c", "-o", "a.o"])
            .stderr(format!("secwrap: warning: {}\n", distcc_above(&links, &mask)))
            .go();
        t.assert_not_split("a.o");
        let record = t.only_record();
        assert!(record.kind.is(Classification::PreprocessOnly), "{record:#?}");
        assert_eq!(record.warnings, [distcc_above(&links, &mask)]);
    }

    /// secwrap first, distcc after it: the flags go to the distccd with
    /// the job, the object comes back split, nothing said.
    fn distcc_links_after_secwrap_say_nothing(cc) {
        let Some((t, _distccd, mask, links)) = distcc_tree(cc) else {
            return;
        };
        let t = t.env("PATH", path_with_first(&[&mask, &links]));
        t.run_program(cc, &["-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_eq!(
            some_text(&record.launcher),
            std::fs::canonicalize(real("distcc")).unwrap().to_str().unwrap()
        );
        assert!(record.warnings.is_empty(), "{record:#?}");
    }
}

/// Prefix mode is not masquerade mode: `secwrap gcc` with a ccache
/// masquerade directory first on PATH is the right order (secwrap runs
/// first) and says nothing.
#[test]
fn prefix_mode_with_ccache_links_first_says_nothing() {
    if !require_program("ccache") {
        return;
    }
    let (t, _mask, links) = ccache_tree("gcc");
    let t = t.env("PATH", path_with_first(&[&links]));
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    t.assert_split("a.o");
    assert!(t.only_record().warnings.is_empty());
}
