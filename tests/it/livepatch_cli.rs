//! `secwrap check` and `secwrap diff` as a livepatch build uses them, through
//! the record: stale objects after a config change, planted name
//! collisions, an object whose flags were lost, orphaned sections in an
//! image, and `diff --build` against the originals kept before a rebuild.

use crate::common::{TestEnv, make_build};

/// A tree of three files with a Makefile that has real dependencies, so
/// touching one source rebuilds one object.
fn tree(toml_extra: &str) -> TestEnv {
    TestEnv::new()
        .env_remove("SECWRAP_LOG")
        .file(".config", "CONFIG_LIVEPATCH=y\n")
        .file(
            "secwrap.toml",
            format!("kconfig = \".config\"\n{toml_extra}\n[log]\npath = \"log.jsonl\"\n"),
        )
        .file("a.c", "int va = 1;\nint fa(void) { return va; }\n")
        .file("b.c", "int vb = 2;\nint fb(void) { return vb; }\n")
        .file("c.c", "int vc = 3;\nint fc(void) { return vc; }\n")
        .file(
            "Makefile",
            "OBJS := a.o b.o c.o\nall: $(OBJS)\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\nclean:\n\trm -f *.o\n",
        )
}

/// Makes `file` newer than anything built so far without sleeping.
fn touch_newer(t: &TestEnv, file: &str) {
    t.run_program("touch", &["-d", "+2 seconds", file]).go();
}

#[test]
fn stale_objects_after_a_config_change() {
    if !crate::common::require_compiler("gcc") || !crate::common::require_program("make") {
        return;
    }
    let t = tree("");
    make_build(&t, "split");
    // Livepatch support turned off: make sees no change, secwrap's flags go.
    t.write(".config", "# CONFIG_LIVEPATCH is not set\n");
    touch_newer(&t, "a.c");
    make_build(&t, "unsplit");
    let out = t
        .run(&["check", "--build", "unsplit"])
        .status(1)
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    let stale: Vec<&str> = stdout.lines().collect();
    assert_eq!(stale.len(), 2, "{stdout}");
    for (line, object) in stale.iter().zip(["b.o", "c.o"]) {
        assert!(
            line.starts_with(&format!("{}: config: stale: ", t.path(object).display())),
            "{line}"
        );
        assert!(line.contains("build `unsplit`"), "{line}");
    }
    // A clean rebuild leaves nothing stale.
    t.run_program("make", &["-s", "clean"]).go();
    make_build(&t, "clean");
    t.run(&["check", "--build", "clean"]).go();
}

#[test]
fn planted_name_collisions_and_nothing_else() {
    if !crate::common::require_compiler("gcc") || !crate::common::require_program("make") {
        return;
    }
    let t = tree("");
    t.write(
        "b.c",
        "int startup(void) { return 1; }\nint unlikely(int x) { return x + 1; }\nint startup_late(void) { return 2; }\n",
    );
    make_build(&t, "one");
    let out = t
        .run(&["check", "--build", "one"])
        .status(1)
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    let findings: Vec<&str> = stdout.lines().collect();
    assert_eq!(findings.len(), 2, "{stdout}");
    let b_o = t.path("b.o").display().to_string();
    assert!(
        findings
            .iter()
            .any(|line| line.starts_with(&format!("{b_o}: startup: "))),
        "{stdout}"
    );
    assert!(
        findings
            .iter()
            .any(|line| line.starts_with(&format!("{b_o}: unlikely: "))),
        "{stdout}"
    );
}

#[test]
fn object_recorded_as_split_but_not_split() {
    if !crate::common::require_compiler("gcc") {
        return;
    }
    let t = tree("");
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    t.run(&["check", "a.o"]).go();
    // Rebuilt behind secwrap's back without the flags (a launcher that drops
    // them, a stray manual compile): the record says split, the object is not.
    t.run_program("gcc", &["-O2", "-c", "a.c", "-o", "a.o"])
        .go();
    let out = t.run(&["check", "a.o"]).status(1).stdout_any().go();
    let stdout = out.stdout_text();
    assert!(stdout.contains("fa"), "{stdout}");
    assert!(stdout.contains("va"), "{stdout}");
    // An object the record does not know is judged from the object alone:
    // unsplit and unrecorded, it did not go through secwrap.
    t.run_program("gcc", &["-O2", "-c", "b.c", "-o", "b.o"])
        .go();
    let out = t.run(&["check", "b.o"]).status(1).stdout_any().go();
    let stdout = out.stdout_text();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("b.o: fb: not split and not recorded: 2 items in shared sections (function `fb` in `.text`, data `vb` in `.data`), and no record in `"),
        "{stdout}"
    );
}

#[test]
fn image_with_and_without_catch_alls() {
    if !crate::common::require_compiler("gcc") {
        return;
    }
    let t = tree("")
        .file("start.c", "int fa(void);\nvoid _start(void) { for (;;) fa(); }\n")
        .file(
            "bare.lds",
            "SECTIONS {\n  . = 0x400000;\n  .text : { *(.text) }\n  _etext = .;\n  .data : { *(.data) }\n  .bss : { *(.bss) }\n}\n",
        )
        .file(
            "catchall.lds",
            "SECTIONS {\n  . = 0x400000;\n  .text : { *(.text) *(.text.*) }\n  _etext = .;\n  .data : { *(.data .data.*) }\n  .bss : { *(.bss .bss.*) }\n}\n",
        );
    for source in ["a.c", "start.c"] {
        let object = source.replace(".c", ".o");
        t.run(&[
            "gcc",
            "-O2",
            "-ffreestanding",
            "-fno-pie",
            "-c",
            source,
            "-o",
            &object,
        ])
        .go();
    }
    for script in ["bare", "catchall"] {
        t.run_program(
            "gcc",
            &[
                "-nostdlib",
                "-static",
                "-no-pie",
                &format!("-Wl,-T,{script}.lds"),
                // One segment for everything, as these scripts make: ld
                // (binutils 2.39 on) would warn it is RWX.
                "-Wl,--no-warn-rwx-segments",
                "a.o",
                "start.o",
                "-o",
                &format!("{script}.elf"),
            ],
        )
        .go();
    }
    let bare = t
        .run(&["check", "--image", "bare.elf"])
        .status(1)
        .stdout_any()
        .go();
    let stdout = bare.stdout_text();
    assert!(stdout.contains(".text.fa"), "{stdout}");
    assert!(stdout.contains(".data.va"), "{stdout}");
    t.run(&["check", "--image", "catchall.elf"]).go();
}

#[test]
fn diff_build_against_kept_originals() {
    if !crate::common::require_compiler("gcc") || !crate::common::require_program("make") {
        return;
    }
    let t = tree("[livepatch]\nkeep_originals = \"orig\"\n");
    make_build(&t, "orig");
    t.write("b.c", "int vb = 2;\nint fb(void) { return vb + 1; }\n");
    touch_newer(&t, "b.c");
    make_build(&t, "patched");
    t.run(&["diff", "--build", "patched"])
        .status(1)
        .stdout("b.o: changed function `fb`\n")
        .go();
    // Without kept originals there is nothing to compare with: said plainly,
    // for each object.
    let t = tree("");
    make_build(&t, "orig");
    touch_newer(&t, "b.c");
    make_build(&t, "patched");
    t.run(&["diff", "--build", "patched"])
        .status(2)
        .stderr("secwrap: error: `b.o`: no original to compare with: set `[livepatch] keep_originals` in secwrap.toml before the patched build\n")
        .go();
}

/// An object written after its last recorded compile ended (as `cc1`/`as`
/// finish one when secwrap was killed before it could record): `check
/// --build` names it; an object as its compile left it is not named.
#[test]
fn objects_written_after_their_record_are_found() {
    if !crate::common::require_compiler("gcc") || !crate::common::require_program("make") {
        return;
    }
    let t = tree("");
    make_build(&t, "first");
    t.run(&["check", "--build", "first"]).go();
    // Two minutes on: past the grace left for a build's own steps
    // (objcopy, recordmcount) on a fresh object.
    t.run_program("touch", &["-d", "+120 seconds", "b.o"]).go();
    let out = t
        .run(&["check", "--build", "first"])
        .status(1)
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "{}: record: written after its last recorded compile (",
            t.path("b.o").display()
        )),
        "{stdout}"
    );
}

/// Trees of many objects: `a.o` copied to 600 paths in three directories
/// on each side, three of them patched, one pair hard-linked (one file,
/// identical without a read), one object gone and one new. The changes
/// come out sorted by path, each once, and the identical files are all
/// counted.
#[test]
fn diff_trees_of_many_objects() {
    if !crate::common::require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new()
        .env_remove("SECWRAP_LOG")
        .file("a.c", "int va = 1;\nint fa(void) { return va; }\n")
        .file("b.c", "int va = 1;\nint fa(void) { return va + 1; }\n");
    for source in ["a", "b"] {
        t.run_program(
            "gcc",
            &[
                "-O2",
                "-ffunction-sections",
                "-fdata-sections",
                "-c",
                &format!("{source}.c"),
                "-o",
                &format!("{source}.o"),
            ],
        )
        .go();
    }
    let (original, patched) = (t.read("a.o"), t.read("b.o"));
    for index in 0..600 {
        let relative = format!("d{}/m{index:03}.o", index % 3);
        t.write(format!("orig/{relative}"), &original);
        if index == 42 {
            std::fs::hard_link(
                t.path(format!("orig/{relative}")),
                t.path(format!("patched/{relative}")),
            )
            .expect("hard link");
        } else if [17, 301, 599].contains(&index) {
            t.write(format!("patched/{relative}"), &patched);
        } else {
            t.write(format!("patched/{relative}"), &original);
        }
    }
    t.write("orig/d0/gone.o", &original);
    t.write("patched/d2/new.o", &original);
    t.run(&["diff", "orig", "patched"])
        .status(1)
        .stdout(
            "d0/gone.o: removed function `fa`\n\
             d0/gone.o: removed data `va`\n\
             d1/m301.o: changed function `fa`\n\
             d2/m017.o: changed function `fa`\n\
             d2/m599.o: changed function `fa`\n\
             d2/new.o: added function `fa`\n\
             d2/new.o: added data `va`\n",
        )
        .stderr("secwrap: skipped 597 files: 597 identical\n")
        .go();
}

/// `check --build` over a build of 600 objects (one real compile through
/// secwrap, its record copied for each): the three copies that are
/// unsplit objects are found, in the order of their paths, and an object
/// removed since the build is left out.
#[test]
fn check_build_of_many_objects() {
    if !crate::common::require_compiler("gcc") {
        return;
    }
    let t = tree("").env("SECWRAP_BUILD_ID", "many");
    t.run(&["gcc", "-O2", "-c", "a.c", "-o", "a.o"]).go();
    t.run_program("gcc", &["-O2", "-c", "b.c", "-o", "b.o"])
        .go();
    let record = t.raw_records().pop().expect("the compile's record");
    let (split, unsplit) = (t.read("a.o"), t.read("b.o"));
    let unsplit_at = [5, 250, 580];
    let mut log = String::new();
    for index in 0..600 {
        let object = format!("obj/{index:03}.o");
        let mut copy = record.clone();
        copy["output"] = t.path(&object).to_str().expect("UTF-8 path").into();
        log.push_str(&format!("{copy}\n"));
        if index == 100 {
            continue;
        }
        t.write(
            &object,
            if unsplit_at.contains(&index) {
                &unsplit
            } else {
                &split
            },
        );
    }
    t.write("log.jsonl", log);
    let out = t
        .run(&["check", "--build", "many"])
        .status(1)
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    let subjects: Vec<&str> = stdout
        .lines()
        .map(|line| line.split(": ").next().unwrap_or(""))
        .collect();
    let expected: Vec<String> = unsplit_at
        .iter()
        .flat_map(|index| {
            let object = t.path(format!("obj/{index:03}.o")).display().to_string();
            [object.clone(), object]
        })
        .collect();
    assert_eq!(subjects, expected, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|line| line.contains("did not take effect")),
        "{stdout}"
    );
}
