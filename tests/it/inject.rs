//! What gets injected, decided by Kconfig and the config's rules, and the
//! injection rules: idempotence, the user's choice, overrides, exclusions,
//! and never a flag on a job that would reject it.

use secwrap::classify::Classification;
use secwrap::inject::SkipReason;
use secwrap::record::Term;

use crate::common::*;

compiler_tests! {
    /// `CONFIG_LIVEPATCH=y`: the object is split, the record says so.
    fn livepatch_splits(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_eq!(record.kind, Term::Known(Classification::Compile));
        assert_injected_split(&record);
    }

    /// `CONFIG_LIVEPATCH` not set: nothing split, `injected: []`.
    fn livepatch_not_set_leaves_object_alone(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(NO_LIVEPATCH)
            .config(KCONFIG_TOML);
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_not_split("a.o");
        let record = t.only_record();
        assert_eq!(record.kind, Term::Known(Classification::Compile));
        assert_injected_nothing(&record);
    }

    /// No secwrap.toml: the built-in rules read the `.config` found upward
    /// from the working directory.
    fn builtin_rules_discover_kconfig_upward(cc) {
        let t = TestEnv::new()
            .kconfig(LIVEPATCH)
            .file("src/a.c", A_C)
            .cwd("src");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("src/a.o");
    }

    /// Xen's hidden `CC_SPLIT_SECTIONS` alone.
    fn cc_split_sections_alone(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig("CONFIG_CC_SPLIT_SECTIONS=y\n")
            .config(KCONFIG_TOML);
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
    }

    /// Linux's `LD_DEAD_CODE_DATA_ELIMINATION` alone.
    fn ld_dead_code_data_elimination_alone(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig("CONFIG_LD_DEAD_CODE_DATA_ELIMINATION=y\n")
            .config(KCONFIG_TOML);
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
    }

    /// Kconfig values from `include/generated/autoconf.h`.
    fn autoconf_header_source(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .file(
                "include/generated/autoconf.h",
                "/* Automatically generated file; DO NOT EDIT. */\n#define CONFIG_LIVEPATCH 1\n",
            )
            .config("kconfig = \"include/generated/autoconf.h\"\n");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
    }

    /// A `[[rule]]` replaces the built-in ones; its condition decides.
    fn custom_rule_condition(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(LIVEPATCH)
            .config(concat!(
                "kconfig = \".config\"\n",
                "[[rule]]\n",
                "name = \"livepatch-release\"\n",
                "when = \"LIVEPATCH && !DEBUG\"\n",
                "cflags = [\"-ffunction-sections\", \"-fdata-sections\"]\n",
            ));
        t.run(&[cc, "-c", "a.c", "-o", "yes.o"]).go();
        t.assert_split("yes.o");

        t.write(".config", "CONFIG_LIVEPATCH=y\nCONFIG_DEBUG=y\n");
        t.run(&[cc, "-c", "a.c", "-o", "no.o"]).go();
        t.assert_not_split("no.o");

        let records = t.records();
        assert_eq!(records.len(), 2);
        assert_injected_split(&records[0]);
        assert_injected_nothing(&records[1]);
        assert_ne!(
            records[0].config,
            records[1].config,
            "the fingerprint covers the Kconfig values the rule reads"
        );
    }

    /// A flag already on the line is not added again.
    fn idempotent_when_flag_present(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-c", "-ffunction-sections", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_eq!(texts(&record.injected), ["-fdata-sections"]);
        assert_eq!(
            skipped(&record),
            [("-ffunction-sections", SkipReason::Present)]
        );
        let exec = texts(&record.exec);
        assert_eq!(
            exec.iter().filter(|word| **word == "-ffunction-sections").count(),
            1,
            "exec: {exec:?}"
        );
    }

    /// `-fno-function-sections` anywhere on the line wins over the config.
    fn user_choice_wins(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-c", "a.c", "-o", "a.o", "-fno-function-sections"]).go();
        let sections = t.sections("a.o");
        assert!(
            !sections.iter().any(|name| name == ".text.get"),
            "{sections:?}"
        );
        assert!(
            sections.iter().any(|name| name == ".data.counter"),
            "{sections:?}"
        );
        let record = t.only_record();
        assert_eq!(texts(&record.injected), ["-fdata-sections"]);
        assert_eq!(
            skipped(&record),
            [("-ffunction-sections", SkipReason::UserChoice)]
        );
    }

    /// `override_user_choice = true`: the flag goes after the user's.
    fn override_user_choice(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .kconfig(LIVEPATCH)
            .config("kconfig = \".config\"\noverride_user_choice = true\n");
        t.run(&[cc, "-fno-function-sections", "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_injected_split(&record);
        let exec = texts(&record.exec);
        let position = |flag: &str| exec.iter().position(|word| *word == flag).unwrap();
        assert!(
            position("-fno-function-sections") < position("-ffunction-sections"),
            "exec: {exec:?}"
        );
    }

    /// `exclude` globs keep matching sources unsplit; others still split.
    fn exclude_glob(cc) {
        let t = TestEnv::new()
            .file("a.c", A_C)
            .file("boot/x.c", A_C)
            .kconfig(LIVEPATCH)
            .config("kconfig = \".config\"\nexclude = [\"boot/**\"]\n");
        t.run(&[cc, "-c", "boot/x.c", "-o", "boot/x.o"]).go();
        t.assert_not_split("boot/x.o");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let records = t.records();
        assert_eq!(records.len(), 2);
        assert_injected_nothing(&records[0]);
        assert_eq!(
            skipped(&records[0]),
            [
                ("-ffunction-sections", SkipReason::Excluded),
                ("-fdata-sections", SkipReason::Excluded),
            ]
        );
        assert_injected_split(&records[1]);
    }
}

/// clang with `-Werror=unused-command-line-argument` fails on an unused
/// flag: jobs that compile nothing must get none.
#[test]
fn clang_unused_argument_error_on_jobs_that_compile_nothing() {
    if !require_compiler("clang") {
        return;
    }
    let t = TestEnv::livepatch().file("main.c", MAIN_C).file("v.s", ASM);
    const WERROR: &str = "-Werror=unused-command-line-argument";
    for (job, stdout) in [
        (&[WERROR, "-E", "a.c"][..], Some("int get(void)")),
        (&[WERROR, "-M", "a.c"], Some("a.o: a.c")),
        (&[WERROR, "-fsyntax-only", "a.c"], None),
        (&[WERROR, "-c", "v.s", "-o", "v.o"], None),
    ] {
        let mut args = vec!["clang"];
        args.extend_from_slice(job);
        match stdout {
            Some(stdout) => t.run(&args).stdout_contains(stdout).go(),
            None => t.run(&args).go(),
        };
    }
    // Link-only: objects first (split), then the link, which must stay clean.
    t.run(&["clang", "-c", "a.c", "-o", "a.o"]).go();
    t.run(&["clang", "-c", "main.c", "-o", "main.o"]).go();
    t.run(&["clang", WERROR, "a.o", "main.o", "-o", "prog"])
        .go();
    assert!(t.exists("prog"));
    let records = t.records();
    assert_eq!(records.len(), 7);
    for index in [0, 1, 2, 3, 6] {
        assert_injected_nothing(&records[index]);
        assert_eq!(records[index].status, Some(0));
    }
}
