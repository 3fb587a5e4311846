//! The probe against Kbuild's own recipe, and its cache (issue 3).
//!
//! The agreement tests run Kconfig's `cc-option` recipe as a shell command,
//! independently of secwrap's code, and require `secwrap probe` to give the
//! same answer for every flag.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;

use secwrap::inject::SkipReason;

use crate::common::{SECWRAP, TestEnv, require_compiler, require_program, sections, skipped};

/// Flags valid and invalid, gcc-only and clang-only, -W/-Wno-, -f/-m, with values.
const FLAGS: &[&str] = &[
    "-ffunction-sections",
    "-fdata-sections",
    "-ffunction-sections -fdata-sections",
    "-fno-common",
    "-fno-strict-aliasing",
    "-fno-pie",
    "-fstack-protector-strong",
    "-fno-omit-frame-pointer",
    "-fconserve-stack",
    "-fno-var-tracking-assignments",
    "-fno-strength-reduce",
    "-fno-delete-null-pointer-checks",
    "-fzero-call-used-regs=used-gpr",
    "-fcf-protection=full",
    "-fpatchable-function-entry=16",
    "-fsanitize=kernel-address",
    "-fmacro-prefix-map=/src=.",
    "-fmin-function-alignment=16",
    "-fstrict-flex-arrays=3",
    "-fno-stack-clash-protection",
    "-fbogus-option",
    "-gdwarf-4",
    "-gsplit-dwarf",
    "-ftest-coverage",
    "-mno-red-zone",
    "-mcmodel=kernel",
    "-mindirect-branch=thunk-extern",
    "-mfunction-return=thunk-extern",
    "-mretpoline",
    "-march=x86-64-v2",
    "-march=bogus",
    "-mabi=ms",
    "-mbogus-flag",
    "-m32",
    "-Wall",
    "-Wvla",
    "-Wno-vla",
    "-Wdeclaration-after-statement",
    "-Wno-pointer-sign",
    "-Wimplicit-fallthrough=5",
    "-Wframe-larger-than=2048",
    "-Wno-unused-but-set-variable",
    "-Wgnu",
    "-Wno-gnu",
    "-Wbogus-warning",
    "-Wno-bogus-warning",
    "-Oz",
];

/// Kbuild's `CLANG_FLAGS` warnings-as-errors (scripts/Makefile.clang).
const KBUILD_CLANG_FLAGS: &str = "-Werror=unknown-warning-option -Werror=ignored-optimization-argument -Werror=option-ignored -Werror=unused-command-line-argument";

/// Kconfig's `cc-option` recipe, verbatim in shell.
fn kbuild_cc_option(compiler: &str, flag: &str) -> bool {
    let clang_flags = if compiler.contains("clang") {
        KBUILD_CLANG_FLAGS
    } else {
        ""
    };
    let recipe = format!(
        r#"trap "rm -rf .tmp_$$" EXIT; mkdir .tmp_$$; {compiler} -Werror {clang_flags} {flag} -c -x c /dev/null -o .tmp_$$/tmp.o"#
    );
    let t = tempfile::tempdir().unwrap();
    Command::new("sh")
        .args(["-c", &format!("{{ {recipe}; }} >/dev/null 2>&1")])
        .current_dir(t.path())
        .status()
        .unwrap()
        .success()
}

fn check_agreement(compiler: &str) {
    let t = TestEnv::new();
    let mut expected_supported = Vec::new();
    let mut disagreements = Vec::new();
    let (mut yes, mut no) = (0, 0);
    for flag in FLAGS {
        let kbuild = kbuild_cc_option(compiler, flag);
        // Any answer (disagreements are listed below), but never a word
        // on stderr.
        let output = t
            .run(&["probe", "--cc", compiler, "--", flag])
            .unchecked()
            .stderr("")
            .go();
        let secwrap = output.status.code() == Some(0);
        assert!(matches!(output.status.code(), Some(0 | 1)), "{flag}");
        let printed = String::from_utf8(output.stdout).unwrap();
        assert_eq!(
            printed.trim(),
            if kbuild { *flag } else { "" },
            "{compiler} {flag}: printed flags"
        );
        if kbuild != secwrap {
            disagreements.push(format!("{flag}: kbuild {kbuild}, secwrap {secwrap}"));
        }
        if kbuild {
            expected_supported.push(*flag);
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(disagreements.is_empty(), "{compiler}: {disagreements:#?}");
    // A list that tests nothing would agree trivially.
    assert!(
        yes >= 15 && no >= 8,
        "{compiler}: {yes} supported, {no} not"
    );
    // All at once, answered from the cache now, expands like cc-option.
    let mut args = vec!["probe", "--cc", compiler, "--"];
    args.extend(FLAGS);
    let output = t.run(&args).status(1).stdout_any().go();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        expected_supported.join(" ")
    );
}

#[test]
fn agrees_with_kbuild_cc_option_gcc() {
    if require_compiler("gcc") {
        check_agreement("gcc");
    }
}

#[test]
fn agrees_with_kbuild_cc_option_clang() {
    if require_compiler("clang") {
        check_agreement("clang");
    }
}

/// Kbuild's `cc-disable-warning`: probe `-WX`, emit `-Wno-X`.
fn kbuild_cc_disable_warning(compiler: &str, warning: &str) -> Option<String> {
    kbuild_cc_option(compiler, &format!("-W{warning}")).then(|| format!("-Wno-{warning}"))
}

fn check_disable_warning(compiler: &str) {
    let t = TestEnv::new();
    for warning in [
        "vla",
        "pointer-sign",
        "unused-but-set-variable",
        "gnu",
        "bogus-warning",
        "frame-address",
    ] {
        let expected = kbuild_cc_disable_warning(compiler, warning);
        let output = t
            .run(&["probe", "--disable-warning", "--cc", compiler, warning])
            .status(if expected.is_some() { 0 } else { 1 })
            .stdout_any()
            .go();
        assert_eq!(
            String::from_utf8(output.stdout).unwrap().trim(),
            expected.unwrap_or_default(),
            "{compiler} {warning}"
        );
    }
}

#[test]
fn disable_warning_agrees_with_kbuild_gcc() {
    if require_compiler("gcc") {
        check_disable_warning("gcc");
    }
}

#[test]
fn disable_warning_agrees_with_kbuild_clang() {
    if require_compiler("clang") {
        check_disable_warning("clang");
    }
}

#[test]
fn explain_names_source_and_message() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new();
    let first = t
        .run(&[
            "probe",
            "--explain",
            "--cc",
            "gcc",
            "-ffunction-sections",
            "-fbogus-option",
        ])
        .status(1)
        .stdout_any()
        .go();
    let text = String::from_utf8(first.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "-ffunction-sections: yes (probed)");
    assert!(
        lines[1].starts_with("-fbogus-option: no (probed): "),
        "{text}"
    );
    assert!(
        lines[1].contains("-fbogus-option"),
        "the compiler's own message: {text}"
    );
    t.run(&["probe", "--explain", "--cc", "gcc", "-ffunction-sections"])
        .stdout("-ffunction-sections: yes (cached)\n")
        .go();
    // Multi-word $CC, as Kbuild allows (CC="ccache gcc"): the launcher is skipped.
    t.run(&[
        "probe",
        "--explain",
        "--cc",
        "secwrap gcc",
        "-ffunction-sections",
    ])
    .stdout("-ffunction-sections: yes (cached)\n")
    .go();
}

#[test]
fn target_args_are_part_of_the_probe_and_the_key() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new();
    // -mcmodel=large is valid for x86-64 and an error with -m32.
    t.run(&["probe", "--cc", "gcc", "-mcmodel=large"])
        .stdout("-mcmodel=large\n")
        .go();
    t.run(&["probe", "--cc", "gcc -m32", "-mcmodel=large"])
        .status(1)
        .stdout("\n")
        .go();
    assert!(!kbuild_cc_option("gcc -m32", "-mcmodel=large"));
}

/// clang takes its target from the name it is run by, so two links to one
/// clang file answer differently: `-mbranch-protection=standard` is an
/// aarch64 flag, unused (an error under `-Werror`) on x86-64. The cache
/// keyed by the canonical path gave the aarch64 link the x86-64 answer.
#[test]
fn a_target_named_link_to_clang_gets_its_own_answer() {
    if !require_compiler("clang") {
        return;
    }
    let t = TestEnv::new();
    let clang = crate::common::real("clang");
    for target in ["x86_64", "aarch64"] {
        let link = t.path(format!("bin/{target}-linux-gnu-clang"));
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&clang, &link).unwrap();
    }
    let flag = "-mbranch-protection=standard";
    let cc = |target: &str| t.path(format!("bin/{target}-linux-gnu-clang"));
    assert!(!kbuild_cc_option(cc("x86_64").to_str().unwrap(), flag));
    assert!(kbuild_cc_option(cc("aarch64").to_str().unwrap(), flag));
    // `secwrap probe [--explain] --cc <target's link> FLAG`.
    let probe = |explain: bool, target: &str| {
        let mut args = vec![OsString::from("probe")];
        if explain {
            args.push("--explain".into());
        }
        args.extend(["--cc".into(), cc(target).into_os_string(), flag.into()]);
        t.run(&args)
    };
    // x86-64 first, so that its answer is in the cache when aarch64 asks.
    probe(false, "x86_64").status(1).stdout("\n").go();
    probe(false, "aarch64").stdout(format!("{flag}\n")).go();
    // Both answers are cached now, each under its own name.
    probe(true, "x86_64")
        .status(1)
        .stdout_contains(&format!("{flag}: no (cached)"))
        .go();
    probe(true, "aarch64")
        .stdout(format!("{flag}: yes (cached)\n"))
        .go();
}

fn split_config(t: &TestEnv, rule_extra: &str) {
    t.write(".config", "CONFIG_LIVEPATCH=y\n");
    t.write(
        "secwrap.toml",
        format!(
            "kconfig = \".config\"\n[[rule]]\nname = \"split\"\nwhen = \"LIVEPATCH\"\ncflags = [\"-ffunction-sections\", \"-fdata-sections\"]\n{rule_extra}\n"
        ),
    );
}

#[test]
fn cold_cache_parallel_build_probes_once() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = TestEnv::new();
    split_config(&t, "");
    let count = 48;
    for index in 0..count {
        t.write(
            format!("src/f{index}.c"),
            format!("int v{index} = {index}; int f{index}(void) {{ return v{index}; }}\n"),
        );
    }
    t.write(
        "Makefile",
        "OBJS := $(patsubst %.c,%.o,$(wildcard src/*.c))\nall: $(OBJS)\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
    );
    // make echoes each recipe on stdout; stderr stays empty.
    t.run_program("make", &["-j16", &format!("CC={SECWRAP} gcc")])
        .stdout_contains(&format!("{SECWRAP} gcc -O2 -c src/"))
        .go();
    let records = t.records();
    assert_eq!(records.len(), count);
    let probes_run: usize = records
        .iter()
        .flat_map(|record| &record.probes)
        .filter(|probe| !probe.cached)
        .count();
    let probes_asked: usize = records.iter().map(|record| record.probes.len()).sum();
    assert_eq!(probes_asked, count, "every compile asks");
    assert_eq!(
        probes_run, 1,
        "one compiler, one flag group, one target: one probe"
    );
    for index in 0..count {
        let sections = sections(&t.path(format!("src/f{index}.o")));
        assert!(
            sections.contains(&format!(".text.f{index}")),
            "{sections:?}"
        );
    }
}

/// A `gcc` that rejects `-ffunction-sections` like an old or foreign compiler would.
const REJECTS_SPLIT: &str = r#"#!/bin/sh
for arg in "$@"; do
  if [ "$arg" = -ffunction-sections ]; then
    echo "gcc: error: unrecognized command-line option '-ffunction-sections'" >&2
    exit 1
  fi
done
exec /usr/bin/gcc "$@"
"#;

#[test]
fn changed_compiler_is_noticed_without_clearing_the_cache() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new();
    let fake = t.executable("bin/gcc", REJECTS_SPLIT);
    let fake = fake.to_str().unwrap();
    t.run(&["probe", "--explain", "--cc", fake, "-ffunction-sections"])
        .status(1)
        .stdout_contains("-ffunction-sections: no (probed): ")
        .go();
    t.run(&["probe", "--explain", "--cc", fake, "-ffunction-sections"])
        .status(1)
        .stdout_contains("-ffunction-sections: no (cached)")
        .go();
    // The "compiler" is upgraded: new contents, new size and mtime.
    t.executable("bin/gcc", "#!/bin/sh\nexec /usr/bin/gcc \"$@\"\n");
    t.run(&["probe", "--explain", "--cc", fake, "-ffunction-sections"])
        .stdout("-ffunction-sections: yes (probed)\n")
        .go();
    // Same size, only the mtime moves: still a new identity.
    let path = t.path("bin/gcc");
    let before = std::fs::metadata(&path).unwrap();
    let status = Command::new("touch")
        .args(["-d", "2001-01-01", path.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), before.len());
    t.run(&["probe", "--explain", "--cc", fake, "-ffunction-sections"])
        .stdout("-ffunction-sections: yes (probed)\n")
        .go();
}

#[test]
fn corrupt_and_foreign_entries_are_reprobed() {
    if !require_compiler("gcc") {
        return;
    }
    // A cache directory secwrap creates itself (the harness's exists already).
    let t = TestEnv::new();
    let cache = t.path("private-cache");
    let t = t.env("SECWRAP_CACHE_DIR", &cache);
    let ask = |how: &str| {
        t.run(&["probe", "--explain", "--cc", "gcc", "-ffunction-sections"])
            .stdout(format!("-ffunction-sections: yes ({how})\n"))
            .go()
    };
    ask("probed");
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.to_string_lossy().ends_with(".lock"))
        .collect();
    assert_eq!(
        entries.len(),
        2,
        "one identity and one probe entry: {entries:?}"
    );
    // The cache directory is private.
    assert_eq!(std::fs::metadata(&cache).unwrap().mode() & 0o777, 0o700);
    for entry in &entries {
        let text = std::fs::read(entry).unwrap();
        std::fs::write(entry, &text[..text.len() / 2]).unwrap();
    }
    ask("probed");
    ask("cached");
    // An entry owned by someone else is not trusted (only root can set that up).
    if effective_uid() == 0 {
        for entry in &entries {
            let status = Command::new("chown")
                .args(["12345", entry.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        ask("probed");
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must test foreign entries"
        );
        eprintln!("skipped: foreign-owner part needs root");
    }
}

fn effective_uid() -> u32 {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn required_flag_unsupported_stops_the_build() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new();
    split_config(&t, "");
    t.write("a.c", "int g = 1; int f(void) { return g; }\n");
    let fake = t.executable("bin/gcc", REJECTS_SPLIT);
    let mut run = t
        .run(&[fake.to_str().unwrap(), "-c", "a.c", "-o", "a.o"])
        .status(2);
    for needle in [
        fake.to_str().unwrap(),
        "-ffunction-sections -fdata-sections",
        "rule `split`",
        "unrecognized command-line option",
    ] {
        run = run.stderr_contains(needle);
    }
    let stderr = run.go().stderr_text();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("secwrap: error: "), "{stderr}");
    assert!(!t.path("a.o").exists(), "the compiler must not run");
    assert!(t.records().is_empty());
}

#[test]
fn optional_flag_unsupported_is_skipped_and_recorded() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new();
    split_config(&t, "required = false");
    t.write("a.c", "int g = 1; int f(void) { return g; }\n");
    let fake = t.executable("bin/gcc", REJECTS_SPLIT);
    t.run(&[fake.to_str().unwrap(), "-c", "a.c", "-o", "a.o"])
        .go();
    assert!(!sections(&t.path("a.o")).contains(&".text.f".to_string()));
    let record = t.only_record();
    assert!(record.injected.is_empty(), "{record:#?}");
    assert_eq!(
        skipped(&record),
        [
            ("-ffunction-sections", SkipReason::Unsupported),
            ("-fdata-sections", SkipReason::Unsupported),
        ]
    );
    assert!(!record.probes[0].supported, "{record:#?}");
}

#[test]
fn cache_show_and_clear() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new();
    t.run(&["probe", "--cc", "gcc", "-ffunction-sections"])
        .stdout("-ffunction-sections\n")
        .go();
    let shown = t.run(&["cache", "show"]).stdout_any().go().stdout_text();
    assert!(
        shown.starts_with(&format!("cache: {}\n", t.path("cache").display())),
        "{shown}"
    );
    assert!(shown.ends_with("2 entries\n"), "{shown}");
    assert!(shown.contains("-ffunction-sections"), "{shown}");
    t.run(&["cache", "clear"])
        .stdout(format!(
            "removed 2 entries from {}\n",
            t.path("cache").display()
        ))
        .go();
    let shown = t.run(&["cache"]).stdout_any().go().stdout_text();
    assert!(shown.ends_with("0 entries\n"), "{shown}");
}
