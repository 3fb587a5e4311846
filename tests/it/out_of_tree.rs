//! Out-of-tree builds (`cmake -S src -B /elsewhere`, `meson setup ../build`,
//! Kbuild `O=` with the config in the source tree): the compile's working
//! directory is outside the tree, so the config and Kconfig are also
//! searched from the source's directory.

use crate::common::*;

/// A source tree with its config and Kconfig, and an empty build
/// directory beside it, where the compiles run.
fn source_and_build_trees() -> TestEnv {
    TestEnv::new()
        .file("src/lib/a.c", A_C)
        .file("src/.config", LIVEPATCH)
        .file("src/secwrap.toml", KCONFIG_TOML)
        .file("build/.keep", "")
        .cwd("build")
}

compiler_tests! {
    /// Compiled from the build directory: the tree's config is found from
    /// the source's side, the object split, the record says why.
    fn config_found_from_the_source(cc) {
        let t = source_and_build_trees();
        t.run(&[cc, "-c", "../src/lib/a.c", "-o", "a.o"]).go();
        t.assert_split("build/a.o");
        let record = t.only_record();
        assert_injected_split(&record);
        // What `secwrap config --for` shows for that file is what it used.
        t.run(&["config", "--for", "../src/lib/a.c"])
            .stdout_contains(&format!(
                "config file:  {} (found upward from the source's directory, owner and mode checked)\n",
                t.path("src/secwrap.toml").display()
            ))
            .stdout_contains(&format!(
                "kconfig:      {} (config file, line 1 column 11), 1 symbol\n",
                t.path("src/.config").display()
            ))
            .stdout_contains(&format!("{}: not excluded\n", t.path("src/lib/a.c").display()))
            .go();
        // Without --for, from the build directory, nothing is found.
        t.run(&["config"])
            .stdout_contains("config file:  none (built-in defaults)\n")
            .go();
    }

    /// Two searches, two different configs: which one was meant is not
    /// secwrap's to guess. Strict stops with both paths; nothing runs.
    fn two_different_configs_are_an_error(cc) {
        let t = source_and_build_trees().file("build/secwrap.toml", KCONFIG_TOML);
        t.run(&[cc, "-c", "../src/lib/a.c", "-o", "a.o"])
            .status(2)
            .stderr(format!(
                "secwrap: error: {}: found upward from the source, but `{}` was found upward from the working directory `{}`: name the one to use with SECWRAP_CONFIG or `kconfig`\n",
                t.path("src/secwrap.toml").display(),
                t.path("build/secwrap.toml").display(),
                t.path("build").display()
            ))
            .go();
        assert!(!t.exists("build/a.o"));
        // Naming one settles it.
        let named = t.path("src/secwrap.toml");
        let t = t.env("SECWRAP_CONFIG", named);
        t.run(&[cc, "-c", "../src/lib/a.c", "-o", "a.o"]).go();
        t.assert_split("build/a.o");
    }

    /// The source side is judged as the working directory's is: a planted
    /// file in a directory others may write to is refused, loudly.
    fn the_source_side_is_checked_for_trust(cc) {
        let t = TestEnv::new()
            .file("shared/src/a.c", A_C)
            .file("shared/src/.config", LIVEPATCH)
            .file("build/.keep", "")
            .cwd("build");
        std::fs::set_permissions(
            t.path("shared/src"),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        t.run(&[cc, "-c", "../shared/src/a.c", "-o", "a.o"])
            .status(2)
            .stderr_contains(&format!(
                "secwrap: error: {}: not trusted: directory `{}` is writable by others and not sticky",
                t.path("shared/src/.config").display(),
                t.path("shared/src").display()
            ))
            .go();
    }
}

/// A VPATH build with make, as Kbuild `O=` and automake do it: make runs
/// in the build directory and names sources in the tree.
#[test]
fn vpath_build_with_make() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = source_and_build_trees()
        .file("src/lib/b.c", A_C.replace("get", "get_b").as_str())
        .file(
            "src/Makefile",
            "VPATH = $(SRC)/lib\nall: a.o b.o\n%.o: %.c\n\t$(CC) -c $< -o $@\n",
        );
    let makefile = t.path("src/Makefile");
    let src = format!("SRC={}", t.path("src").display());
    let cc = format!("CC={SECWRAP} gcc");
    t.run_program("make", &["-s", "-f", makefile.to_str().unwrap(), &src, &cc])
        .go();
    t.assert_split("build/a.o");
    assert!(t.sections("build/b.o").contains(&".text.get_b".to_string()));
    let records = t.records();
    assert_eq!(records.len(), 2);
    records.iter().for_each(assert_injected_split);
}
