//! Classification, seen from outside: the record's `kind`, and whether the
//! job's output got split.

use secwrap::classify::Classification::{self, *};
use secwrap::inject::SkipReason;
use secwrap::record::{InvocationRecord, Term};

use crate::common::*;

/// Runs `secwrap CC ARGS...` in `t`, expecting success with nothing on
/// stdout or stderr, and returns the last record, whose `kind` must be
/// `kind`.
#[track_caller]
fn run_kind(t: &TestEnv, cc: &str, args: &[&str], kind: Classification) -> InvocationRecord {
    let mut argv = vec![cc];
    argv.extend_from_slice(args);
    check_kind(t, t.run(&argv), kind)
}

/// Finishes `run` and checks the last record is of `kind`, with status 0.
#[track_caller]
fn check_kind(t: &TestEnv, run: Run<'_>, kind: Classification) -> InvocationRecord {
    run.go();
    let record = t.records().pop().expect("a record");
    assert_eq!(record.kind, Term::Known(kind), "{record:#?}");
    assert_eq!(record.status, Some(0), "{record:#?}");
    record
}

compiler_tests! {
    fn compile_c(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-c", "a.c", "-o", "a.o"], Compile);
        assert_injected_split(&record);
        t.assert_split("a.o");
    }

    /// `-S`: the assembly names the split sections.
    fn compile_to_assembly(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-S", "a.c", "-o", "a.s"], Compile);
        assert_injected_split(&record);
        let assembly = t.read_text("a.s");
        for section in SPLIT_SECTIONS {
            assert!(
                assembly.contains(&format!(".section\t{section}")),
                "no `.section\\t{section}` in:\n{assembly}"
            );
        }
    }

    /// Dependency generation alongside a compile is still a compile.
    fn compile_with_dependency_files(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-c", "-MD", "a.c", "-o", "a.o"], Compile);
        assert_injected_split(&record);
        t.assert_split("a.o");
        assert!(t.exists("a.d"));

        let record = run_kind(
            &t,
            cc,
            &["-c", "-MMD", "-MF", "dep.d", "a.c", "-o", "b.o"],
            Compile,
        );
        assert_injected_split(&record);
        t.assert_split("b.o");
        assert!(t.exists("dep.d"));
    }

    /// Sources to a program in one go: compiled split (the linker's
    /// `--gc-sections` can then drop the unused `set`).
    fn compile_and_link(cc) {
        let t = TestEnv::livepatch().file("main.c", MAIN_C);
        // The linker lists what it removed on stderr: `.text.set` must be
        // among it.
        let run = t
            .run(&[
                cc,
                "a.c",
                "main.c",
                "-o",
                "prog",
                "-Wl,--gc-sections,--print-gc-sections",
            ])
            .stderr_contains("'.text.set'");
        let record = check_kind(&t, run, CompileAndLink);
        assert_injected_split(&record);
        assert_eq!(some_text(&record.output), t.path("prog").to_str().unwrap());
        assert!(t.exists("prog"));
    }

    /// Objects only: a link, nothing injected.
    fn link_only(cc) {
        let t = TestEnv::livepatch().file("main.c", MAIN_C);
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.run(&[cc, "-c", "main.c", "-o", "main.o"]).go();
        let record = run_kind(&t, cc, &["a.o", "main.o", "-o", "prog"], LinkOnly);
        assert_injected_nothing(&record);
        assert_eq!(
            skipped(&record),
            [
                ("-ffunction-sections", SkipReason::NotCompile),
                ("-fdata-sections", SkipReason::NotCompile),
            ]
        );
        assert!(t.exists("prog"));
    }

    /// `-E`, `-M`, `-MM`: preprocessor output, nothing injected.
    fn preprocess_only(cc) {
        let t = TestEnv::livepatch();
        for (flag, stdout) in [("-E", "int get(void)"), ("-M", "a.o: a.c"), ("-MM", "a.o: a.c")] {
            let run = t.run(&[cc, flag, "a.c"]).stdout_contains(stdout);
            let record = check_kind(&t, run, PreprocessOnly);
            assert_injected_nothing(&record);
        }
    }

    /// Questions to the driver: nothing injected.
    fn info_queries(cc) {
        let t = TestEnv::livepatch();
        // Each answers on stdout, but `-v` and `-###` on stderr.
        for (args, on_stderr) in [
            (&["--version"][..], false),
            (&["-v"], true),
            (&["-dumpversion"], false),
            (&["-dumpmachine"], false),
            (&["-print-file-name=libc.so"], false),
            (&["--help"], false),
            (&["-###", "-c", "a.c"], true),
        ] {
            let mut argv = vec![cc];
            argv.extend_from_slice(args);
            let run = if on_stderr {
                t.run(&argv).stderr_contains("version")
            } else {
                t.run(&argv).stdout_any()
            };
            let record = check_kind(&t, run, InfoQuery);
            assert_injected_nothing(&record);
        }
        assert!(!t.exists("a.o"), "-### compiled something");
    }

    fn syntax_check(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-fsyntax-only", "a.c"], SyntaxCheck);
        assert_injected_nothing(&record);
    }

    /// `.s`, `.S` and `-x assembler`: assembled, nothing injected.
    fn assembler_inputs(cc) {
        let t = TestEnv::livepatch()
            .file("v.s", ASM)
            .file("w.S", format!("#define VALUE 1\n{ASM}"))
            .file("x.asm", ASM);
        for args in [
            &["-c", "v.s", "-o", "v.o"][..],
            &["-c", "w.S", "-o", "w.o"],
            &["-c", "-x", "assembler", "x.asm", "-o", "x.o"],
        ] {
            let record = run_kind(&t, cc, args, Assemble);
            assert_injected_nothing(&record);
            assert_eq!(
                skipped(&record),
                [
                    ("-ffunction-sections", SkipReason::Language),
                    ("-fdata-sections", SkipReason::Language),
                ]
            );
        }
        assert!(t.exists("v.o") && t.exists("w.o") && t.exists("x.o"));
    }

    /// No input at all: `other`, and the compiler's own complaint.
    fn other_without_input(cc) {
        let t = TestEnv::livepatch();
        let direct = t
            .run_program(cc, &["-c"])
            .failure()
            .stderr_contains("no input files")
            .go();
        t.run(&[cc, "-c"]).like(&direct).go();
        let record = t.only_record();
        assert_eq!(record.kind, Term::Known(Other));
        assert_injected_nothing(&record);
        assert_eq!(record.status, direct.code());
    }

    /// `-x c` makes the following input C whatever its name.
    fn x_c_applies_to_following_inputs(cc) {
        let t = TestEnv::livepatch().file("foo.txt", A_C);
        let record = run_kind(&t, cc, &["-x", "c", "foo.txt", "-c", "-o", "foo.o"], Compile);
        assert_injected_split(&record);
        t.assert_split("foo.o");
    }

    /// `-` with `-x c`: the source comes on stdin.
    fn stdin_source(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-x", "c", "-", "-c", "-o", "s.o"]).stdin(A_C).go();
        t.assert_split("s.o");
        let record = t.only_record();
        assert_eq!(record.kind, Term::Known(Compile));
        assert_eq!(texts(&record.inputs), ["-"]);
        assert_injected_split(&record);
    }

    /// Several sources: every object split, every output recorded.
    fn multiple_sources(cc) {
        let t = TestEnv::livepatch().file("b.c", B_C);
        let record = run_kind(&t, cc, &["-c", "a.c", "b.c"], Compile);
        t.assert_split("a.o");
        let b = t.sections("b.o");
        assert!(b.iter().any(|name| name == ".text.bget"), "{b:?}");
        assert!(b.iter().any(|name| name == ".data.bvar"), "{b:?}");
        assert_eq!(
            texts(&record.outputs),
            [
                t.path("a.o").to_str().unwrap(),
                t.path("b.o").to_str().unwrap()
            ]
        );
        assert_eq!(record.output, None, "{record:#?}");
        assert_eq!(
            texts(&record.inputs),
            [
                t.path("a.c").to_str().unwrap(),
                t.path("b.c").to_str().unwrap()
            ]
        );
    }

    /// `-oFILE` glued.
    fn glued_output(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-c", "a.c", "-oglued.o"], Compile);
        t.assert_split("glued.o");
        assert_eq!(some_text(&record.output), t.path("glued.o").to_str().unwrap());
    }

    /// `@args.rsp`: classified by its contents, run as written.
    fn response_file(cc) {
        let t = TestEnv::livepatch().file("args.rsp", "-c a.c\n-o a.o\n");
        let record = run_kind(&t, cc, &["@args.rsp"], Compile);
        assert_injected_split(&record);
        t.assert_split("a.o");
        let exec = texts(&record.exec);
        assert!(exec.contains(&"@args.rsp"), "{exec:?}");
        assert_eq!(some_text(&record.output), t.path("a.o").to_str().unwrap());
    }

    /// A response file naming another.
    fn nested_response_file(cc) {
        let t = TestEnv::livepatch()
            .file("outer.rsp", "-c @inner.rsp")
            .file("inner.rsp", "a.c -o 'nested out.o'");
        let record = run_kind(&t, cc, &["@outer.rsp"], Compile);
        assert_injected_split(&record);
        t.assert_split("nested out.o");
    }

    /// An unreadable `@file` stays literal: the compiler's own error and
    /// status come back.
    fn missing_response_file_is_literal(cc) {
        let t = TestEnv::livepatch();
        let direct = t
            .run_program(real(cc), &["@missing.rsp"])
            .failure()
            .stderr_contains("missing.rsp")
            .go();
        t.run(&[cc, "@missing.rsp"]).like(&direct).go();
        let record = t.only_record();
        assert_eq!(texts(&record.exec)[1..], ["@missing.rsp"]);
        assert_eq!(record.status, direct.code());
    }
}
