//! How secwrap is called and how it finds the real compiler: prefix mode,
//! compiler paths, masquerade links and copies, loops, launchers, and the
//! off switch. A split object proves both that secwrap ran and that the
//! real compiler ran behind it.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A masquerade directory `dir` holding a symlink to secwrap named `name`.
fn symlink_dir(t: &TestEnv, dir: &str, name: &str) -> PathBuf {
    symlink(SECWRAP, t.path(dir).join(name));
    t.path(dir)
}

/// A masquerade directory `dir` holding a copy of secwrap named `name`.
fn copy_dir(t: &TestEnv, dir: &str, name: &str) -> PathBuf {
    std::fs::create_dir_all(t.path(dir)).unwrap();
    std::fs::copy(SECWRAP, t.path(dir).join(name)).expect("copy secwrap");
    t.path(dir)
}

/// Compiles `a.c` as `name` (found on `path`) and checks the object is split
/// and the one record names the real compiler.
#[track_caller]
fn check_masquerade(t: &TestEnv, name: &str, real_compiler: &Path) {
    t.run_program(name, &["-c", "a.c", "-o", "a.o"]).go();
    t.assert_split("a.o");
    let record = t.only_record();
    assert_eq!(texts(&record.argv)[0], name);
    assert_eq!(text(&record.compiler), real_compiler.to_str().unwrap());
    assert_injected_split(&record);
}

compiler_tests! {
    /// `secwrap gcc ...`: the compiler is looked up on PATH.
    fn prefix_with_path_lookup(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_eq!(text(&record.compiler), real(cc).to_str().unwrap());
        assert_eq!(texts(&record.argv)[..2], [SECWRAP, cc]);
    }

    /// `secwrap /usr/bin/gcc ...`.
    fn prefix_with_absolute_compiler(cc) {
        let t = TestEnv::livepatch();
        let compiler = real(cc);
        t.run(&[compiler.to_str().unwrap(), "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        assert_eq!(text(&t.only_record().compiler), compiler.to_str().unwrap());
    }

    /// `secwrap ./bin/gcc ...`, `bin/gcc` a symlink to the real compiler.
    fn prefix_with_relative_compiler(cc) {
        let t = TestEnv::livepatch();
        symlink(real(cc), t.path("bin").join(cc));
        let word = format!("./bin/{cc}");
        t.run(&[word.as_str(), "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_eq!(
            Path::new(text(&record.compiler)),
            t.path("bin").join(cc),
            "the compiler as named, absolute, not canonicalised"
        );
    }

    /// A symlink to secwrap named `gcc`, first on PATH.
    fn masquerade_symlink(cc) {
        let t = TestEnv::livepatch();
        let dir = symlink_dir(&t, "mask", cc);
        let t = t.env("PATH", path_with_first(&[&dir]));
        check_masquerade(&t, cc, &real(cc));
    }

    /// A hard link to secwrap named `gcc`, first on PATH.
    fn masquerade_hard_link(cc) {
        let t = TestEnv::livepatch();
        let link = t.path("mask").join(cc);
        std::fs::create_dir_all(t.path("mask")).unwrap();
        if std::fs::hard_link(SECWRAP, &link).is_err() {
            // Another filesystem: link a copy living on this one.
            let copy = t.path("secwrap-copy");
            std::fs::copy(SECWRAP, &copy).expect("copy secwrap");
            std::fs::hard_link(&copy, &link).expect("hard link");
        }
        let path = path_with_first(&[&t.path("mask")]);
        let t = t.env("PATH", path);
        check_masquerade(&t, cc, &real(cc));
    }

    /// A copy of secwrap named `gcc`, first on PATH.
    fn masquerade_copy(cc) {
        let t = TestEnv::livepatch();
        let dir = copy_dir(&t, "mask", cc);
        let t = t.env("PATH", path_with_first(&[&dir]));
        check_masquerade(&t, cc, &real(cc));
    }

    /// A link named like the versioned driver (`gcc-12`, `clang-14`).
    fn masquerade_versioned_name(cc) {
        let name = versioned_name(cc);
        if which::which(&name).is_err() {
            eprintln!("skipped: `{name}` is not on PATH");
            return;
        }
        let t = TestEnv::livepatch();
        let dir = symlink_dir(&t, "mask", &name);
        let t = t.env("PATH", path_with_first(&[&dir]));
        check_masquerade(&t, &name, &real(&name));
    }

    /// A link named like the target-prefixed driver (`x86_64-linux-gnu-gcc`).
    fn masquerade_cross_prefixed_name(cc) {
        let name = cross_prefixed_name(cc);
        if which::which(&name).is_err() {
            eprintln!("skipped: `{name}` is not on PATH");
            return;
        }
        let t = TestEnv::livepatch();
        let dir = symlink_dir(&t, "mask", &name);
        let t = t.env("PATH", path_with_first(&[&dir]));
        check_masquerade(&t, &name, &real(&name));
    }

    /// Two masquerade directories (a symlink and a copy) before the real
    /// compiler: one compile, one record.
    fn two_masquerade_directories(cc) {
        let t = TestEnv::livepatch();
        let links = symlink_dir(&t, "links", cc);
        let copies = copy_dir(&t, "copies", cc);
        let t = t.env("PATH", path_with_first(&[&links, &copies]));
        check_masquerade(&t, cc, &real(cc));
    }

    /// `secwrap gcc` while a masquerade directory is first on PATH.
    fn prefix_with_masquerade_dir_on_path(cc) {
        let t = TestEnv::livepatch();
        let dir = symlink_dir(&t, "mask", cc);
        let t = t.env("PATH", path_with_first(&[&dir]));
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        assert_eq!(text(&t.only_record().compiler), real(cc).to_str().unwrap());
    }

    /// PATH holds only the masquerade directory: 127, naming the compiler.
    fn no_real_compiler_behind_masquerade(cc) {
        let t = TestEnv::livepatch();
        let dir = symlink_dir(&t, "mask", cc);
        let t = t.env("PATH", &dir);
        let out = t
            .run_program(cc, &["-c", "a.c", "-o", "a.o"])
            .status(127)
            .stderr_contains(&format!("`{cc}`"))
            .go();
        let stderr = out.stderr_text();
        assert!(stderr.starts_with("secwrap: error: "), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!t.exists("a.o"));
        // In prefix mode too.
        t.run(&[cc, "-c", "a.c", "-o", "a.o"])
            .status(127)
            .stderr_contains(&format!("`{cc}`"))
            .go();
    }

    /// `secwrap ccache gcc ...`: ccache runs in front of the real compiler.
    fn explicit_launcher(cc) {
        if !require_program("ccache") {
            return;
        }
        let t = TestEnv::livepatch();
        let ccache_dir = t.path("ccache");
        let t = t.env("CCACHE_DIR", ccache_dir);
        t.run(&["ccache", cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert!(
            some_text(&record.launcher).ends_with("/ccache"),
            "{record:#?}"
        );
        assert_eq!(text(&record.compiler), real(cc).to_str().unwrap());
        assert_injected_split(&record);
    }

    /// `launcher = ["ccache"]` in the config.
    fn launcher_from_config(cc) {
        if !require_program("ccache") {
            return;
        }
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(LIVEPATCH)
            .config("kconfig = \".config\"\nlauncher = [\"ccache\"]\n");
        let ccache_dir = t.path("ccache");
        let t = t.env("CCACHE_DIR", ccache_dir);
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert!(
            some_text(&record.launcher).ends_with("/ccache"),
            "{record:#?}"
        );
        assert_eq!(texts(&record.exec)[0], some_text(&record.launcher));
        assert_eq!(text(&record.compiler), real(cc).to_str().unwrap());
    }

    /// `SECWRAP_LAUNCHER` names the launcher (words split on whitespace),
    /// over the file's `launcher`; one that is not on PATH is an error
    /// naming the variable.
    fn launcher_from_environment(cc) {
        if !require_program("ccache") {
            return;
        }
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(LIVEPATCH)
            .config("kconfig = \".config\"\nlauncher = [\"distcc\"]\n");
        let ccache_dir = t.path("ccache");
        let t = t.env("CCACHE_DIR", ccache_dir).env("SECWRAP_LAUNCHER", "ccache");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert!(some_text(&record.launcher).ends_with("/ccache"), "{record:#?}");
        assert_eq!(text(&record.compiler), real(cc).to_str().unwrap());
        t.run(&["config"])
            .stdout_contains("launcher:     ccache (environment variable SECWRAP_LAUNCHER)\n")
            .go();
        let t = t.env("SECWRAP_LAUNCHER", "nosuch-launcher -j2");
        t.run(&[cc, "-c", "a.c", "-o", "b.o"])
            .status(2)
            .stderr("secwrap: error: SECWRAP_LAUNCHER: launcher `nosuch-launcher` not found on PATH\n")
            .go();
        assert!(!t.exists("b.o"));
    }

    /// A ccache masquerade directory after secwrap's: ccache becomes the
    /// launcher, the real compiler stays the compiler, and the compile is
    /// as clean as without it.
    fn ccache_masquerade_dir_after_secwrap(cc) {
        if !require_program("ccache") {
            return;
        }
        let t = TestEnv::livepatch();
        let ccache_dir = t.path("ccache");
        let t = t.env("CCACHE_DIR", ccache_dir);
        let mask = symlink_dir(&t, "mask", cc);
        let ccache_link = t.path("ccache-links").join(cc);
        symlink(real("ccache"), &ccache_link);
        let path = path_with_first(&[&mask, &t.path("ccache-links")]);
        let t = t.env("PATH", path);
        t.run_program(cc, &["-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        // The launcher runs as itself (the link's target), in prefix mode:
        // called through a link named like the compiler, ccache would take
        // the compiler path for an input file.
        let ccache_binary = std::fs::canonicalize(&ccache_link).unwrap();
        assert_eq!(
            some_text(&record.launcher),
            ccache_binary.to_str().unwrap(),
            "{record:#?}"
        );
        assert_eq!(text(&record.compiler), real(cc).to_str().unwrap());
    }

    /// `SECWRAP_DISABLE=1`: the compiler runs unchanged, nothing recorded.
    fn disabled(cc) {
        let t = TestEnv::livepatch().env("SECWRAP_DISABLE", "1");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_not_split("a.o");
        assert!(!t.exists("log.jsonl"), "a record was written");
    }
}

/// Two masquerade directories before the compiler: it runs exactly once.
#[test]
fn two_masquerade_directories_run_compiler_once() {
    let t = TestEnv::livepatch();
    let links = symlink_dir(&t, "links", "gcc");
    let copies = copy_dir(&t, "copies", "gcc");
    t.fake_gcc("fake", "exit 0");
    let path = std::env::join_paths([&links, &copies, &t.path("fake")]).unwrap();
    let t = t.env("PATH", path);
    t.run_program("gcc", &["-c", "a.c", "-o", "a.o"]).go();
    assert_eq!(
        t.fake_runs("fake"),
        ["-c a.c -o a.o -ffunction-sections -fdata-sections"]
    );
    assert_eq!(t.records().len(), 1);
}

/// A foreign wrapper after secwrap that calls `gcc` again: a clear failure
/// (127), not an endless loop.
#[test]
fn loop_through_foreign_wrapper_fails_clearly() {
    let t = TestEnv::livepatch();
    let mask = symlink_dir(&t, "mask", "gcc");
    // A plain foreign wrapper: it knows nothing of secwrap or its probes.
    t.executable("wrapper/gcc", "#!/bin/sh\nexec gcc \"$@\"\n");
    let path = path_with_first(&[&mask, &t.path("wrapper")]);
    let t = t.env("PATH", path);
    let out = t
        .run_program("gcc", &["-c", "a.c", "-o", "a.o"])
        .status(127)
        .stderr_contains("`gcc` leads back to secwrap")
        .go();
    let stderr = out.stderr_text();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("secwrap: error: "), "{stderr}");
    assert!(!t.exists("a.o"));
}

/// A `SECWRAP_DEPTH` left in the environment (a debugging shell's
/// `export`, an old secwrap's plain number, a setter that is not an
/// ancestor): ignored with a warning, the call wrapped and recorded.
#[test]
fn stray_depth_is_ignored_with_a_warning() {
    if !require_compiler("gcc") {
        return;
    }
    // pid 2 (kthreadd, or nothing in a pid namespace) is never our ancestor.
    for (build, value) in [("plain", "1"), ("foreign", "1:2"), ("garbage", "x")] {
        let t = TestEnv::livepatch()
            .env("SECWRAP_DEPTH", value)
            .env("SECWRAP_BUILD_ID", build);
        let warning = format!(
            "ignoring SECWRAP_DEPTH={value}: no secwrap above this one set it (left over in the environment?); this call is wrapped and recorded"
        );
        t.run(&["gcc", "-c", "a.c", "-o", "a.o"])
            .stderr(format!("secwrap: warning: {warning}\n"))
            .go();
        // Once per build.
        t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let records = t.records();
        assert_eq!(records.len(), 2, "{value}");
        assert!(
            records
                .iter()
                .all(|record| record.warnings == [warning.clone()])
        );
    }
}

/// The guard a secwrap sets names it, and is honoured from any depth of
/// its descendants: a foreign wrapper that runs `gcc` as a child (not by
/// `exec`) after secwrap on PATH is still caught as a loop, never recorded
/// over and over.
#[test]
fn loop_through_a_wrapper_that_forks_is_caught() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    let mask = symlink_dir(&t, "mask", "gcc");
    std::fs::create_dir_all(t.path("wrapper")).unwrap();
    // A compiled wrapper: `system("gcc ...")` puts a shell and the wrapper
    // between the outer secwrap and the inner one.
    t.write(
        "wrapper.c",
        "#include <stdlib.h>\n#include <string.h>\n\
         int main(int c, char **v) { char cmd[4096] = \"gcc\"; \
         for (int i = 1; i < c; i++) { strcat(cmd, \" \"); strcat(cmd, v[i]); } \
         return system(cmd) == 0 ? 0 : 1; }\n",
    );
    t.run_program(real("gcc"), &["wrapper.c", "-o", "wrapper/gcc"])
        .go();
    let path = path_with_first(&[&mask, &t.path("wrapper")]);
    let t = t.env("PATH", path);
    t.run_program("gcc", &["-c", "a.c", "-o", "a.o"])
        .status(2)
        .stderr_contains("`gcc` leads back to secwrap 4 times")
        .go();
    // Found by the outer secwrap's probe, before anything ran or was written.
    assert!(!t.exists("a.o") && !t.exists("log.jsonl"));
}

/// In prefix mode a bare compiler word is looked up on PATH: a link of the
/// same name in the working directory (here `gcc -> ccache`, as in a
/// masquerade directory) is not what runs, so it does not make the word a
/// launcher (it did: the compile then went through unsplit and unrecorded).
#[test]
fn a_link_in_the_working_directory_does_not_make_the_word_a_launcher() {
    let t = TestEnv::livepatch();
    symlink("ccache", t.path("gcc"));
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    t.assert_split("a.o");
    assert_eq!(t.only_record().launcher, None);
}
