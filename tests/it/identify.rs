//! Compilers of unknown names are identified by asking them, not guessed
//! from the name (issue 10, item 1): a copy or link of gcc/clang named
//! `mycc` or `kgcc`, and a compiled wrapper that execs the compiler, get
//! the flags and a record saying what they were identified as; a program
//! that is not gcc- or clang-like passes through untouched, asked at most
//! once; a program whose line is not a compile, and the known tools, are
//! never asked. Each program writes its arguments to `$RUNS_FILE`, one
//! line per run, so a test sees every time secwrap started it.

use std::path::{Path, PathBuf};

use secwrap::compiler::Family;
use secwrap::record::Term;

use crate::common::*;

/// Appends its arguments to `$RUNS_FILE`, then (with `REAL_CC` defined)
/// execs that compiler with its own argv, or else prints `STDOUT_TEXT`
/// and `STDERR_TEXT` and exits `EXIT_STATUS`. Compiled: the wrapper is a
/// program, as a vendor driver or a site's `kgcc` is, not a shell script.
const RECORDER_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *runs = getenv("RUNS_FILE");
    FILE *log = runs ? fopen(runs, "a") : NULL;
    if (log) {
        for (int i = 1; i < argc; i++) fprintf(log, i > 1 ? " %s" : "%s", argv[i]);
        fputc('\n', log);
        fclose(log);
    }
#ifdef REAL_CC
    /* As a wrapper does (`exec gcc "$@"`): the driver finds its own
       programs from its argv[0]. */
    argv[0] = REAL_CC;
    execv(REAL_CC, argv);
    perror("execv");
    return 127;
#else
    fputs(STDOUT_TEXT, stdout);
    fputs(STDERR_TEXT, stderr);
    return EXIT_STATUS;
#endif
}
"#;

/// Compiles [`RECORDER_C`] to `rel` with the given `-D` definitions.
fn recorder(t: &TestEnv, rel: &str, defines: &[String]) -> PathBuf {
    t.write("recorder.c", RECORDER_C);
    let output = t.path(rel);
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    let mut args: Vec<String> = defines.iter().map(|define| format!("-D{define}")).collect();
    args.extend([
        "-o".into(),
        output.to_str().unwrap().into(),
        "recorder.c".into(),
    ]);
    t.run_program(real("gcc"), &args).go();
    output
}

/// A program that only prints and exits, as `deploy` does.
fn printing_program(t: &TestEnv, rel: &str, stdout: &str, stderr: &str, status: i32) -> PathBuf {
    recorder(
        t,
        rel,
        &[
            format!("STDOUT_TEXT={stdout:?}"),
            format!("STDERR_TEXT={stderr:?}"),
            format!("EXIT_STATUS={status}"),
        ],
    )
}

/// The tree, with `$RUNS_FILE` set to `runs.txt` in it.
fn tree() -> TestEnv {
    let t = TestEnv::livepatch();
    let runs = t.path("runs.txt");
    t.env("RUNS_FILE", runs)
}

/// The lines of `runs.txt`: one per run of a recorder.
fn runs(t: &TestEnv) -> Vec<String> {
    std::fs::read_to_string(t.path("runs.txt"))
        .map(|text| text.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The identification's run: `-E -x c <private dir>/identify.c`, the
/// private directory made under `$TMPDIR` (the tree's `tmp`).
#[track_caller]
fn assert_identification(t: &TestEnv, run: &str) {
    let words: Vec<&str> = run.split(' ').collect();
    let private = |file: &str| {
        let dir = Path::new(file).parent().unwrap();
        dir.parent() == Some(t.path("tmp").as_path())
            && dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("secwrap-probe-")
    };
    assert!(
        words.len() == 4
            && words[..3] == ["-E", "-x", "c"]
            && words[3].ends_with("/identify.c")
            && private(words[3]),
        "not the identification run: {run:?}"
    );
}

fn family(cc: &str) -> Family {
    if cc == "clang" {
        Family::Clang
    } else {
        Family::Gcc
    }
}

/// Compiles `a.c` through `secwrap <compiler>` and checks the object is
/// split and the record says what the compiler was identified as.
#[track_caller]
fn check_identified(t: &TestEnv, compiler: &Path, cc: &str) {
    t.run(&[compiler.to_str().unwrap(), "-c", "a.c", "-o", "a.o"])
        .go();
    t.assert_split("a.o");
    let record = t.only_record();
    assert_eq!(
        record.identified,
        Some(Term::Known(family(cc))),
        "{record:#?}"
    );
    assert_eq!(text(&record.compiler), compiler.to_str().unwrap());
    assert_injected_split(&record);
}

compiler_tests! {
    /// A symlink to the compiler named `mycc`.
    fn a_link_named_mycc_is_identified(cc) {
        let t = tree();
        let mycc = t.path("bin/mycc");
        symlink(real(cc), &mycc);
        check_identified(&t, &mycc, cc);
    }

    /// A copy of the compiler's executable named `kgcc`, in a toolchain
    /// directory laid out as the installed one (gcc finds `cc1` relative
    /// to where it was started: `../lib/gcc/...`).
    fn a_copy_named_kgcc_is_identified(cc) {
        let t = tree();
        let kgcc = t.path("toolchain/bin/kgcc");
        std::fs::create_dir_all(t.path("toolchain/bin")).unwrap();
        symlink("/usr/lib", t.path("toolchain/lib"));
        std::fs::copy(std::fs::canonicalize(real(cc)).unwrap(), &kgcc).expect("copy");
        check_identified(&t, &kgcc, cc);
    }

    /// A compiled wrapper that execs the compiler: asked once what it is
    /// (then `--version` and the flag probe, as any compiler), and on the
    /// next compile not asked again.
    fn a_wrapper_program_is_identified_once(cc) {
        let t = tree();
        let real_cc = real(cc);
        let wrapper = recorder(&t, "bin/cc-wrapper", &[format!("REAL_CC={:?}", real_cc.to_str().unwrap())]);
        check_identified(&t, &wrapper, cc);
        let first = runs(&t);
        assert_eq!(first.len(), 4, "identify, --version, probe, compile: {first:#?}");
        assert_identification(&t, &first[0]);
        assert_eq!(first[1], "--version");
        assert!(first[2].contains("-ffunction-sections -fdata-sections"), "{first:#?}");
        assert_eq!(first[3], "-c a.c -o a.o -ffunction-sections -fdata-sections");
        t.write("b.c", B_C);
        t.run(&[wrapper.to_str().unwrap(), "-c", "b.c", "-o", "b.o"]).go();
        assert_eq!(
            runs(&t)[4..],
            ["-c b.c -o b.o -ffunction-sections -fdata-sections"],
            "asked only once"
        );
        let records = t.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].identified, Some(Term::Known(family(cc))));
    }

    /// Masquerade mode under a name that says nothing: a link to secwrap
    /// named `mycc` first on PATH, the real `mycc` (a link to the
    /// compiler) after it.
    fn masquerade_under_an_unknown_name(cc) {
        let t = tree();
        symlink(SECWRAP, t.path("mask/mycc"));
        symlink(real(cc), t.path("bin/mycc"));
        let path = path_with_first(&[&t.path("mask"), &t.path("bin")]);
        let t = t.env("PATH", path);
        t.run_program("mycc", &["-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let record = t.only_record();
        assert_eq!(record.identified, Some(Term::Known(family(cc))));
        assert_eq!(text(&record.compiler), t.path("bin/mycc").to_str().unwrap());
    }
}

/// A known driver name is not asked: its record says nothing of
/// identification.
#[test]
fn a_known_driver_name_is_not_identified() {
    let t = tree();
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    t.assert_split("a.o");
    assert_eq!(t.only_record().identified, None);
}

/// `deploy -c config.c`: a compile-looking line, so it is asked once; not
/// gcc-like, so it runs unchanged and unrecorded, its stdout, stderr and
/// exit status its own. Asked once: the next call only runs it.
#[test]
fn a_program_that_is_not_a_compiler_passes_through_asked_once() {
    let t = tree().file("config.c", "int x;\n");
    let deploy = printing_program(&t, "deploy", "deployed\n", "deploy: done\n", 3);
    let word = deploy.to_str().unwrap();
    for _ in 0..2 {
        t.run(&[word, "-c", "config.c"])
            .status(3)
            .stdout("deployed\n")
            .stderr("deploy: done\n")
            .go();
    }
    let all = runs(&t);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_identification(&t, &all[0]);
    assert_eq!(
        all[1..],
        ["-c config.c", "-c config.c"],
        "unchanged, no flags"
    );
    assert!(!t.exists("log.jsonl"), "nothing recorded");
    // One that exits 0 and prints something else on the probe is no
    // compiler either.
    let quiet = printing_program(&t, "bin/quiet", "ok\n", "", 0);
    t.run(&[quiet.to_str().unwrap(), "a.c", "-o", "prog"])
        .stdout("ok\n")
        .go();
    let all = runs(&t);
    assert_eq!(all.len(), 5, "{all:#?}");
    assert_identification(&t, &all[3]);
    assert_eq!(all[4], "a.c -o prog");
    assert!(!t.exists("log.jsonl"), "nothing recorded");
}

/// `secwrap ./deploy.sh arg`: not a compile, so never run with a probe's
/// arguments; it runs once, as called.
#[test]
fn a_program_whose_line_is_not_a_compile_is_never_asked() {
    let t = tree();
    let runs_file = t.path("runs.txt");
    t.executable(
        "deploy.sh",
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\necho deployed\nexit 4\n",
            runs_file.display()
        ),
    );
    for args in [
        &["arg"][..],
        &["prod.tar.gz", "--force"],
        &["--version"],
        &["-v"],
        &[],
        &["-c", "start.S"],
    ] {
        let mut line = vec!["./deploy.sh"];
        line.extend_from_slice(args);
        t.run(&line).status(4).stdout("deployed\n").go();
    }
    assert_eq!(
        runs(&t),
        [
            "arg",
            "prod.tar.gz --force",
            "--version",
            "-v",
            "",
            "-c start.S"
        ]
    );
    assert!(!t.exists("log.jsonl"), "nothing recorded");
}

/// The binutils and friends (what `CROSS_COMPILE="secwrap ..."` sends)
/// pass through without being asked, whatever their line looks like.
#[test]
fn known_tools_are_never_asked() {
    let t = tree();
    let tool = printing_program(&t, "tool", "", "", 0);
    let cross = cross_prefixed_name("gcc").replace("-gcc", "");
    let names = [
        "ld".to_string(),
        "ar".into(),
        "as".into(),
        "objcopy".into(),
        "nm".into(),
        "strip".into(),
        "cpp".into(),
        "gcc-ar-12".into(),
        format!("{cross}-objcopy"),
        format!("{cross}-ld.bfd"),
    ];
    for name in &names {
        let path = t.path("bin").join(name);
        std::fs::create_dir_all(t.path("bin")).unwrap();
        std::fs::copy(&tool, &path).unwrap();
        t.run(&[path.to_str().unwrap(), "-c", "a.c", "-o", "a.o"])
            .go();
    }
    assert_eq!(
        runs(&t),
        vec!["-c a.c -o a.o"; names.len()],
        "each run once, as called"
    );
    assert!(!t.exists("log.jsonl"), "nothing recorded");
}
