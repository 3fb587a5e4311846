//! Classification, seen from outside: the record's `kind`, and whether the
//! job's output got split.

use crate::common::*;

/// Runs `secwrap CC ARGS...` in `t`, expects success, and returns the
/// last record, whose `kind` must be `kind`.
#[track_caller]
fn run_kind(t: &TestEnv, cc: &str, args: &[&str], kind: &str) -> serde_json::Value {
    let mut argv = vec![cc];
    argv.extend_from_slice(args);
    t.run(&argv).success();
    let record = t.records().pop().expect("a record");
    assert_eq!(text(&record, "kind"), kind, "{argv:?}: {record:#}");
    assert_eq!(record["status"], 0, "{record:#}");
    record
}

compiler_tests! {
    fn compile_c(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-c", "a.c", "-o", "a.o"], "compile");
        assert_injected_split(&record);
        t.assert_split("a.o");
    }

    /// `-S`: the assembly names the split sections.
    fn compile_to_assembly(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-S", "a.c", "-o", "a.s"], "compile");
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
        let record = run_kind(&t, cc, &["-c", "-MD", "a.c", "-o", "a.o"], "compile");
        assert_injected_split(&record);
        t.assert_split("a.o");
        assert!(t.exists("a.d"));

        let record = run_kind(
            &t,
            cc,
            &["-c", "-MMD", "-MF", "dep.d", "a.c", "-o", "b.o"],
            "compile",
        );
        assert_injected_split(&record);
        t.assert_split("b.o");
        assert!(t.exists("dep.d"));
    }

    /// Sources to a program in one go: compiled split (the linker's
    /// `--gc-sections` can then drop the unused `set`).
    fn compile_and_link(cc) {
        let t = TestEnv::livepatch().file("main.c", MAIN_C);
        let out = t.run(&[
            cc,
            "a.c",
            "main.c",
            "-o",
            "prog",
            "-Wl,--gc-sections,--print-gc-sections",
        ]);
        out.success();
        assert!(
            out.stderr_text().contains("'.text.set'"),
            "the linker saw no .text.set section to remove: {}",
            out.stderr_text()
        );
        let record = t.records().pop().unwrap();
        assert_eq!(text(&record, "kind"), "compile_and_link");
        assert_injected_split(&record);
        assert_eq!(
            text(&record, "output"),
            t.path("prog").to_str().unwrap()
        );
        assert!(t.exists("prog"));
    }

    /// Objects only: a link, nothing injected.
    fn link_only(cc) {
        let t = TestEnv::livepatch().file("main.c", MAIN_C);
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).quiet_success();
        t.run(&[cc, "-c", "main.c", "-o", "main.o"]).quiet_success();
        let record = run_kind(&t, cc, &["a.o", "main.o", "-o", "prog"], "link_only");
        assert_injected_nothing(&record);
        assert_eq!(
            skipped(&record),
            [
                ("-ffunction-sections".to_string(), "not_compile".to_string()),
                ("-fdata-sections".to_string(), "not_compile".to_string()),
            ]
        );
        assert!(t.exists("prog"));
    }

    /// `-E`, `-M`, `-MM`: preprocessor output, nothing injected.
    fn preprocess_only(cc) {
        let t = TestEnv::livepatch();
        for flag in ["-E", "-M", "-MM"] {
            let record = run_kind(&t, cc, &[flag, "a.c"], "preprocess_only");
            assert_injected_nothing(&record);
        }
    }

    /// Questions to the driver: nothing injected.
    fn info_queries(cc) {
        let t = TestEnv::livepatch();
        for args in [
            &["--version"][..],
            &["-v"],
            &["-dumpversion"],
            &["-dumpmachine"],
            &["-print-file-name=libc.so"],
            &["--help"],
            &["-###", "-c", "a.c"],
        ] {
            let record = run_kind(&t, cc, args, "info_query");
            assert_injected_nothing(&record);
        }
        assert!(!t.exists("a.o"), "-### compiled something");
    }

    fn syntax_check(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-fsyntax-only", "a.c"], "syntax_check");
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
            let record = run_kind(&t, cc, args, "assemble");
            assert_injected_nothing(&record);
            assert_eq!(
                skipped(&record),
                [
                    ("-ffunction-sections".to_string(), "language".to_string()),
                    ("-fdata-sections".to_string(), "language".to_string()),
                ]
            );
        }
        assert!(t.exists("v.o") && t.exists("w.o") && t.exists("x.o"));
    }

    /// No input at all: `other`, and the compiler's own complaint.
    fn other_without_input(cc) {
        let t = TestEnv::livepatch();
        let direct = t.run_program(cc, &["-c"]);
        let out = t.run(&[cc, "-c"]);
        assert_eq!(out.code(), direct.code());
        assert_ne!(out.code(), Some(0));
        assert_eq!(out.stderr_text(), direct.stderr_text());
        let record = t.only_record();
        assert_eq!(text(&record, "kind"), "other");
        assert_injected_nothing(&record);
        assert_eq!(record["status"], direct.code().unwrap());
    }

    /// `-x c` makes the following input C whatever its name.
    fn x_c_applies_to_following_inputs(cc) {
        let t = TestEnv::livepatch().file("foo.txt", A_C);
        let record = run_kind(&t, cc, &["-x", "c", "foo.txt", "-c", "-o", "foo.o"], "compile");
        assert_injected_split(&record);
        t.assert_split("foo.o");
    }

    /// `-` with `-x c`: the source comes on stdin.
    fn stdin_source(cc) {
        let t = TestEnv::livepatch();
        t.run_stdin(&[cc, "-x", "c", "-", "-c", "-o", "s.o"], A_C.as_bytes())
            .quiet_success();
        t.assert_split("s.o");
        let record = t.only_record();
        assert_eq!(text(&record, "kind"), "compile");
        assert_eq!(texts(&record, "inputs"), ["-"]);
        assert_injected_split(&record);
    }

    /// Several sources: every object split, every output recorded.
    fn multiple_sources(cc) {
        let t = TestEnv::livepatch().file("b.c", B_C);
        let record = run_kind(&t, cc, &["-c", "a.c", "b.c"], "compile");
        t.assert_split("a.o");
        let b = t.sections("b.o");
        assert!(b.iter().any(|name| name == ".text.bget"), "{b:?}");
        assert!(b.iter().any(|name| name == ".data.bvar"), "{b:?}");
        assert_eq!(
            texts(&record, "outputs"),
            [
                t.path("a.o").to_str().unwrap(),
                t.path("b.o").to_str().unwrap()
            ]
        );
        assert!(record["output"].is_null(), "{record:#}");
        assert_eq!(
            texts(&record, "inputs"),
            [
                t.path("a.c").to_str().unwrap(),
                t.path("b.c").to_str().unwrap()
            ]
        );
    }

    /// `-oFILE` glued.
    fn glued_output(cc) {
        let t = TestEnv::livepatch();
        let record = run_kind(&t, cc, &["-c", "a.c", "-oglued.o"], "compile");
        t.assert_split("glued.o");
        assert_eq!(text(&record, "output"), t.path("glued.o").to_str().unwrap());
    }

    /// `@args.rsp`: classified by its contents, run as written.
    fn response_file(cc) {
        let t = TestEnv::livepatch().file("args.rsp", "-c a.c\n-o a.o\n");
        let record = run_kind(&t, cc, &["@args.rsp"], "compile");
        assert_injected_split(&record);
        t.assert_split("a.o");
        let exec = texts(&record, "exec");
        assert!(exec.iter().any(|word| word == "@args.rsp"), "{exec:?}");
        assert_eq!(text(&record, "output"), t.path("a.o").to_str().unwrap());
    }

    /// A response file naming another.
    fn nested_response_file(cc) {
        let t = TestEnv::livepatch()
            .file("outer.rsp", "-c @inner.rsp")
            .file("inner.rsp", "a.c -o 'nested out.o'");
        let record = run_kind(&t, cc, &["@outer.rsp"], "compile");
        assert_injected_split(&record);
        t.assert_split("nested out.o");
    }

    /// An unreadable `@file` stays literal: the compiler's own error and
    /// status come back.
    fn missing_response_file_is_literal(cc) {
        let t = TestEnv::livepatch();
        let direct = t.run_program(real(cc), &["@missing.rsp"]);
        let out = t.run(&[cc, "@missing.rsp"]);
        assert_ne!(direct.code(), Some(0));
        assert_eq!(out.code(), direct.code());
        assert_eq!(out.stdout_text(), direct.stdout_text());
        assert_eq!(out.stderr_text(), direct.stderr_text());
        let record = t.only_record();
        assert_eq!(texts(&record, "exec")[1..], ["@missing.rsp"]);
        assert_eq!(record["status"], direct.code().unwrap());
    }
}
