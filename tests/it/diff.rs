//! `secwrap diff` on iteration and on real trees (issue 10): `--build`
//! after a second and a third patched build, `--against`, an object with
//! no original, whole trees holding assembled objects, `ld -r` aggregates
//! and blobs, with and without a log, `--json`, and the keep directory of
//! a build id that is no plain name.

use crate::common::{TestEnv, make_build, require_compiler, require_program};

const A_C: &str = "int va = 1;\nint fa(void) { return va; }\n";
const B_C: &str = "int vb = 2;\nint fb(void) { return vb; }\n";
const C_C: &str = "int vc = 3;\nint fc(void) { return vc; }\n";

/// A tree whose Makefile builds every `*.c` (so a source added by a patch
/// is built), with `toml_extra` in its secwrap.toml and the log in
/// `log.jsonl`.
fn tree(toml_extra: &str) -> TestEnv {
    TestEnv::new()
        .env_remove("SECWRAP_LOG")
        .file(".config", "CONFIG_LIVEPATCH=y\n")
        .file("secwrap.toml", config(toml_extra))
        .file("a.c", A_C)
        .file("b.c", B_C)
        .file("c.c", C_C)
        .file(
            "Makefile",
            "OBJS := $(patsubst %.c,%.o,$(sort $(wildcard *.c)))\nall: $(OBJS)\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
        )
}

fn config(toml_extra: &str) -> String {
    format!("kconfig = \".config\"\n{toml_extra}\n[log]\npath = \"log.jsonl\"\n")
}

const KEEP: &str = "[livepatch]\nkeep_originals = \"orig\"\n";

/// Sources older than objects, so that make rebuilds only what a patch
/// touches next (no sleeping: fixed times, sources before objects).
fn settle(t: &TestEnv) {
    let run = |pattern: &str, time: &str| {
        t.run_program("sh", &["-c", &format!("touch -d @{time} {pattern}")])
            .go();
    };
    run("*.c", "1700000000");
    run("*.o", "1700000010");
}

/// Writes a source as a patch changes it: newer than every object.
fn patch(t: &TestEnv, file: &str, text: &str) {
    t.write(file, text);
    t.run_program("touch", &["-d", "@1700000020", file]).go();
}

fn build(t: &TestEnv, id: &str) {
    make_build(t, id);
    settle(t);
}

const B_P1: &str = "int vb = 2;\nint fb(void) { return vb + 1; }\n";
const B_P2: &str =
    "int vb = 2;\nint fb(void) { return vb + 1; }\nint gb(int x) { return x * 3; }\n";
const B_P3: &str =
    "int vb = 2;\nint fb(void) { return vb + 1; }\nint gb(int x) { return x * 5; }\n";

/// Issue 10, item 5: a baseline, then three patched builds: patch 2
/// rebuilds only an object patch 1 already rebuilt, patch 3 rebuilds it
/// again, rebuilds another for the first time and adds a new one. Each
/// build's `diff --build` lists exactly what changed against the
/// baseline, before and after the builds that follow it, nothing spurious.
#[test]
fn diff_build_across_three_patched_builds() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = tree(KEEP);
    build(&t, "orig");
    patch(&t, "b.c", B_P1);
    build(&t, "p1");
    let p1 = "b.o: changed function `fb`\n";
    t.run(&["diff", "--build", "p1"]).status(1).stdout(p1).go();

    patch(&t, "b.c", B_P2);
    build(&t, "p2");
    let p2 = "b.o: changed function `fb`\nb.o: added function `gb`\n";
    t.run(&["diff", "--build", "p2"]).status(1).stdout(p2).go();
    // p1's own answer has not moved: its b.o is now the copy p2 kept.
    t.run(&["diff", "--build", "p1"]).status(1).stdout(p1).go();

    patch(&t, "b.c", B_P3);
    patch(&t, "c.c", "int vc = 3;\nint fc(void) { return vc + 1; }\n");
    patch(&t, "d.c", "int vd = 4;\nint fd(void) { return vd; }\n");
    build(&t, "p3");
    let p3 = "b.o: changed function `fb`\nb.o: added function `gb`\n\
              c.o: changed function `fc`\n\
              d.o: added function `fd`\nd.o: added data `vd`\n";
    t.run(&["diff", "--build", "p3"]).status(1).stdout(p3).go();
    t.run(&["diff", "--build", "p2"]).status(1).stdout(p2).go();
    t.run(&["diff", "--build", "p1"]).status(1).stdout(p1).go();
    // Each build kept, in its own directory, the objects as they were
    // before it: the baseline's b.o by p1, p1's by p2, p2's b.o and the
    // baseline's c.o by p3; the new d.o had nothing to keep.
    for copy in ["orig/p1/b.o", "orig/p2/b.o", "orig/p3/b.o", "orig/p3/c.o"] {
        assert!(t.exists(copy), "{copy}");
    }
    assert!(!t.exists("orig/p3/d.o"));
    assert!(!t.exists("orig/b.o"));
    // The same answer as comparing the baseline's copies by hand.
    t.run(&["diff", "orig/p1/b.o", "b.o"])
        .status(1)
        .stdout("b.o: changed function `fb`\nb.o: added function `gb`\n")
        .go();
    t.run(&["diff", "orig/p3/c.o", "c.o"])
        .status(1)
        .stdout("c.o: changed function `fc`\n")
        .go();

    // Naming the baseline build is the default; naming a patched build
    // compares with the objects as it left them.
    t.run(&["diff", "--build", "p3", "--against", "orig"])
        .status(1)
        .stdout(p3)
        .go();
    t.run(&["diff", "--build", "p3", "--against", "p2"])
        .status(1)
        .stdout(
            "b.o: changed function `gb`\nc.o: changed function `fc`\n\
             d.o: added function `fd`\nd.o: added data `vd`\n",
        )
        .go();
    t.run(&["diff", "--build", "p2", "--against", "p1"])
        .status(1)
        .stdout("b.o: added function `gb`\n")
        .go();
    let log = t.path("log.jsonl");
    t.run(&["diff", "--build", "p1", "--against", "p3"])
        .status(2)
        .stderr(format!(
            "secwrap: error: `--against p3`: build `p3` does not end before build `p1` starts in {}\n",
            log.display()
        ))
        .go();
    t.run(&["diff", "--build", "p1", "--against", "nope"])
        .status(2)
        .stderr(format!(
            "secwrap: error: no build `nope` in {}\n",
            log.display()
        ))
        .go();

    // As JSON: the files each object was compared with, a new object's
    // missing original, p1's b.o as the copy p2 kept.
    let functions = |changed: &str, added: &str| {
        format!(r#""functions":{{"changed":[{changed}],"added":[{added}],"removed":[]}}"#)
    };
    let no_data = r#""data":{"changed":[],"added":[],"removed":[]}"#;
    t.run(&["diff", "--build", "p3", "--json"])
        .status(1)
        .stdout(format!(
            concat!(
                r#"{{"objects":["#,
                r#"{{"path":"b.o","original":"orig/p1/b.o","patched":"b.o",{},{}}},"#,
                r#"{{"path":"c.o","original":"orig/p3/c.o","patched":"c.o",{},{}}},"#,
                r#"{{"path":"d.o","original":null,"patched":"d.o",{},"data":{{"changed":[],"added":["vd"],"removed":[]}}}}"#,
                r#"],"skipped":{{"identical":0,"not_split_c":0}},"status":1}}"#,
                "\n"
            ),
            functions(r#""fb""#, r#""gb""#),
            no_data,
            functions(r#""fc""#, ""),
            no_data,
            functions("", r#""fd""#),
        ))
        .go();
    t.run(&["diff", "--build", "p1", "--json"])
        .status(1)
        .stdout(format!(
            concat!(
                r#"{{"objects":[{{"path":"b.o","original":"orig/p1/b.o","patched":"orig/p2/b.o",{},{}}}],"#,
                r#""skipped":{{"identical":0,"not_split_c":0}},"status":1}}"#,
                "\n"
            ),
            functions(r#""fb""#, ""),
            no_data,
        ))
        .go();
}

/// No original for an object: its own refusal (exit 2), the others still
/// compared; an object a later build overwrote without a copy, likewise.
/// `keep_originals` is named only when no original was ever kept.
#[test]
fn diff_build_refuses_objects_without_a_pair() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = tree("");
    build(&t, "orig");
    // Patch 1 before keep_originals was set; patch 2 after.
    patch(&t, "b.c", B_P1);
    build(&t, "p1");
    t.write("secwrap.toml", config(KEEP));
    patch(&t, "b.c", "int vb = 2;\nint fb(void) { return vb + 2; }\n");
    patch(&t, "c.c", "int vc = 3;\nint fc(void) { return vc + 1; }\n");
    build(&t, "p2");

    let b_lost = "secwrap: error: `b.o`: no original to compare with: build `p1` recompiled it without keeping a copy (build `orig` had compiled it before)\n";
    t.run(&["diff", "--build", "p1"])
        .status(2)
        .stderr(b_lost)
        .go();
    // The default baseline is the first build that kept originals.
    t.run(&["diff", "--build", "p2"])
        .status(1)
        .stdout("b.o: changed function `fb`\nc.o: changed function `fc`\n")
        .go();
    // Against the real baseline, b.o has no original: c.o is still listed.
    t.run(&["diff", "--build", "p2", "--against", "orig"])
        .status(2)
        .stdout("c.o: changed function `fc`\n")
        .stderr(b_lost)
        .go();

    // Patch 3 without keep_originals again: p2's c.o is gone.
    t.write("secwrap.toml", config(""));
    patch(&t, "c.c", "int vc = 3;\nint fc(void) { return vc + 2; }\n");
    build(&t, "p3");
    t.run(&["diff", "--build", "p2"])
        .status(2)
        .stdout("b.o: changed function `fb`\n")
        .stderr("secwrap: error: `c.o`: build `p3` recompiled it after build `p2` without keeping a copy: the object as `p2` left it is gone\n")
        .go();
    let out = t
        .run(&["diff", "--build", "p2", "--json"])
        .status(2)
        .stdout_any()
        .go();
    assert!(
        out.stdout_text().contains(r#"{"path":"c.o","original":"orig/p2/c.o","patched":"c.o","error":"`c.o`: build `p3` recompiled it after build `p2` without keeping a copy: the object as `p2` left it is gone"}"#),
        "{}",
        out.stdout_text()
    );
}

/// The objects of one tree, twice: `orig/` and `patched/`, each holding a
/// split C object that is the same on both sides (`a.o`) and one that
/// changes (`b.o`), an object assembled from a `.S` file (`s.o`), an `ld
/// -r` aggregate of `a.o` and the assembled object (`built_in.o`), a file
/// that is no ELF at all (`blob.o`, as Xen's PE `buildid.o`) and a blob
/// turned into an object by `ld -r -b binary` (`data.o`, symbols without
/// a type). `others_differ`: whether the last four differ between the
/// sides too. With `through_secwrap`, the patched side's compiles are
/// recorded in the log.
fn two_trees(t: &TestEnv, others_differ: bool, through_secwrap: bool) {
    let split = ["-O2", "-ffunction-sections", "-fdata-sections"];
    let asm = |body: &str| {
        format!(
            "\t.text\n\t.globl sfunc\n\t.type sfunc, %function\nsfunc:\n{body}\tret\n\t.size sfunc, .-sfunc\n\t.section .note.GNU-stack,\"\",%progbits\n"
        )
    };
    for side in ["orig", "patched"] {
        let patched = side == "patched";
        let differs = patched && others_differ;
        t.write(format!("{side}/a.c"), A_C);
        t.write(format!("{side}/b.c"), if patched { B_P1 } else { B_C });
        t.write(
            format!("{side}/s.S"),
            asm(if differs { "\tnop\n" } else { "" }),
        );
        t.write(
            format!("{side}/blob.o"),
            if differs { "BLOB 2\n" } else { "BLOB 1\n" },
        );
        t.write(
            format!("{side}/data.bin"),
            if differs { "two\n" } else { "one\n" },
        );
        // Through secwrap, which adds the split flags to the C compiles
        // itself; else gcc with them (nothing for the assembly).
        let compile = |source: &str, object: &str| {
            let is_c = source.ends_with(".c");
            if patched && through_secwrap {
                let mut line = vec!["gcc"];
                if is_c {
                    line.push("-O2");
                }
                line.extend(["-c", source, "-o", object]);
                t.run(&line).cwd(side).go();
            } else {
                let mut line: Vec<&str> = if is_c { split.to_vec() } else { Vec::new() };
                line.extend(["-c", source, "-o", object]);
                t.run_program("gcc", &line).cwd(side).go();
            }
        };
        compile("a.c", "a.o");
        compile("b.c", "b.o");
        compile("s.S", "s.o");
        t.run_program("ld", &["-r", "a.o", "s.o", "-o", "built_in.o"])
            .cwd(side)
            .go();
        t.run_program("ld", &["-r", "-b", "binary", "data.bin", "-o", "data.o"])
            .cwd(side)
            .go();
    }
}

/// Without a log: identical files are skipped whatever they are, and
/// counted; a changed file that cannot be compared is refused (exit 2).
#[test]
fn diff_trees_judged_from_the_objects() {
    if !require_compiler("gcc") || !require_program("ld") {
        return;
    }
    let t = TestEnv::new().env_remove("SECWRAP_LOG");
    two_trees(&t, false, false);
    t.run(&["diff", "orig", "patched"])
        .status(1)
        .stdout("b.o: changed function `fb`\n")
        .stderr("secwrap: skipped 5 files: 5 identical\n")
        .go();

    let t = TestEnv::new().env_remove("SECWRAP_LOG");
    two_trees(&t, true, false);
    // A blob on the patched side only: no item to call added.
    t.write("patched/only.bin", "new\n");
    t.run_program("ld", &["-r", "-b", "binary", "only.bin", "-o", "only.o"])
        .cwd("patched")
        .go();
    let not_split = "is not split: function `sfunc` is in `.text`; compile it with -ffunction-sections -fdata-sections";
    t.run(&["diff", "orig", "patched"])
        .status(2)
        .stdout("b.o: changed function `fb`\n")
        .stderr(format!(
            "secwrap: error: `orig/blob.o` is not an ELF file: pass objects written by gcc or clang\n\
             secwrap: error: `orig/built_in.o` {not_split}\n\
             secwrap: error: `patched/data.o` differs, but holds no function or data symbol to compare\n\
             secwrap: error: `patched/only.o` differs, but holds no function or data symbol to compare\n\
             secwrap: error: `orig/s.o` {not_split}\n\
             secwrap: skipped 1 file: 1 identical\n"
        ))
        .go();
    // As JSON: the refusals in the document, nothing on stderr.
    let out = t
        .run(&["diff", "--json", "orig", "patched"])
        .status(2)
        .stdout_any()
        .go();
    let document: serde_json::Value =
        serde_json::from_str(&out.stdout_text()).expect("one JSON document");
    let paths: Vec<&str> = document["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| object["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["b.o", "blob.o", "built_in.o", "data.o", "only.o", "s.o"]
    );
    assert_eq!(
        document["objects"][3]["error"],
        "`patched/data.o` differs, but holds no function or data symbol to compare"
    );
    assert_eq!(
        document["skipped"],
        serde_json::json!({"identical": 1, "not_split_c": 0})
    );
    assert_eq!(document["status"], 2);
}

/// With a log that recorded the patched tree's compiles: files whose
/// latest record is not a C compile with the split flags (the `.S`
/// assembly) or that no record wrote (the `ld -r` outputs, the blob) are
/// skipped even when they differ, and counted; only the C objects are
/// compared. A log that knows neither tree is not used.
#[test]
fn diff_trees_with_a_log() {
    if !require_compiler("gcc") || !require_program("ld") {
        return;
    }
    let t = TestEnv::livepatch();
    two_trees(&t, true, true);
    let records = t.records();
    assert_eq!(records.len(), 3, "{records:#?}");
    let skipped = "secwrap: skipped 5 files: 1 identical, 4 not split C objects\n";
    t.run(&["diff", "orig", "patched"])
        .status(1)
        .stdout("b.o: changed function `fb`\n")
        .stderr(skipped)
        .go();
    // `--log`, from elsewhere, is the same log.
    t.run(&["diff", "--log", "../log.jsonl", "../orig", "../patched"])
        .cwd("patched")
        .status(1)
        .stdout("b.o: changed function `fb`\n")
        .stderr(skipped)
        .go();
    t.run(&["diff", "--json", "orig", "patched"])
        .status(1)
        .stdout(concat!(
            r#"{"objects":[{"path":"b.o","original":"orig/b.o","patched":"patched/b.o","#,
            r#""functions":{"changed":["fb"],"added":[],"removed":[]},"data":{"changed":[],"added":[],"removed":[]}}],"#,
            r#""skipped":{"identical":1,"not_split_c":4},"status":1}"#,
            "\n"
        ))
        .go();
    // Nothing differs but the skipped files: exit 0.
    t.write("patched/b.o", t.read("orig/b.o"));
    t.run(&["diff", "orig", "patched"])
        .stderr("secwrap: skipped 6 files: 2 identical, 4 not split C objects\n")
        .go();
    // A log about another tree says nothing about these: judged alone.
    let other = TestEnv::livepatch();
    other.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    t.run(&[
        "diff",
        "--log",
        other.path("log.jsonl").to_str().unwrap(),
        "orig",
        "patched",
    ])
    .status(2)
    .stderr_contains("secwrap: error: `orig/s.o` is not split")
    .stderr_contains("secwrap: skipped 2 files: 2 identical\n")
    .go();
}

/// Two objects named on the command line, as JSON: one entry, the
/// patched path as given; a refusal is the entry's `error`.
#[test]
fn diff_two_objects_as_json() {
    if !require_compiler("gcc") || !require_program("ld") {
        return;
    }
    let t = TestEnv::new().env_remove("SECWRAP_LOG");
    two_trees(&t, true, false);
    t.run(&["diff", "--json", "orig/b.o", "patched/b.o"])
        .status(1)
        .stdout(concat!(
            r#"{"objects":[{"path":"patched/b.o","original":"orig/b.o","patched":"patched/b.o","#,
            r#""functions":{"changed":["fb"],"added":[],"removed":[]},"data":{"changed":[],"added":[],"removed":[]}}],"#,
            r#""skipped":{"identical":0,"not_split_c":0},"status":1}"#,
            "\n"
        ))
        .go();
    t.run(&["diff", "--json", "orig/a.o", "patched/a.o"])
        .stdout(concat!(
            r#"{"objects":[{"path":"patched/a.o","original":"orig/a.o","patched":"patched/a.o","#,
            r#""functions":{"changed":[],"added":[],"removed":[]},"data":{"changed":[],"added":[],"removed":[]}}],"#,
            r#""skipped":{"identical":0,"not_split_c":0},"status":0}"#,
            "\n"
        ))
        .go();
    t.run(&["diff", "--json", "orig/s.o", "patched/s.o"])
        .status(2)
        .stdout(concat!(
            r#"{"objects":[{"path":"patched/s.o","original":"orig/s.o","patched":"patched/s.o","#,
            r#""error":"`orig/s.o` is not split: function `sfunc` is in `.text`; compile it with -ffunction-sections -fdata-sections"}],"#,
            r#""skipped":{"identical":0,"not_split_c":0},"status":2}"#,
            "\n"
        ))
        .go();
}

/// A build id is one directory under the keep directory, whatever it
/// says: `../../escaped` keeps into `orig/%2E.%2F..%2Fescaped/`, not two
/// levels up.
#[test]
fn a_build_id_is_one_directory_of_the_keep_directory() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch().config(&format!("kconfig = \".config\"\n{KEEP}"));
    t.run_program("gcc", &["-c", "a.c", "-o", "a.o"]).go();
    let first = t.read("a.o");
    let t = t.env("SECWRAP_BUILD_ID", "../../escaped");
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    let copy = "orig/%2E.%2F..%2Fescaped/a.o";
    assert!(t.read(copy) == first, "{copy} is not the object as it was");
    let outside = t.root().parent().unwrap().join("escaped");
    assert!(!outside.exists(), "{}", outside.display());
    let record = t.only_record();
    assert_eq!(record.build.as_deref(), Some("../../escaped"));
    assert_eq!(
        record.originals[0].copy,
        secwrap::record::OsText::Text(t.path(copy).to_str().unwrap().to_string())
    );
}
