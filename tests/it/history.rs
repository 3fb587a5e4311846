//! History: `secwrap run` tagging a build, `log builds`, `log changed`,
//! `[livepatch] keep_originals`, `log export` against Bear, an interrupted
//! `make -j`, and non-UTF-8 object paths. Every test runs real make and a
//! real compiler through the binary and checks what it left behind.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::common::*;

/// `CC=<secwrap> <cc>`, as a make argument.
fn cc_var(cc: &str) -> String {
    format!("CC={SECWRAP} {cc}")
}

/// A string field of a compile_commands.json entry.
#[track_caller]
fn field<'a>(entry: &'a Value, name: &str) -> &'a str {
    entry[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` is not a string: {entry:#}"))
}

/// The lines of a run's stdout.
fn stdout_lines(out: &Out) -> Vec<String> {
    out.stdout_text().lines().map(str::to_string).collect()
}

/// Sets the mtime of every `.c` file under the listed directories to 20 s
/// ago and of every `.o` file to 10 s ago, so that an edit made right
/// after is newer than its object whatever the file system's timestamp
/// granularity (a build and an edit within one clock tick would otherwise
/// look up to date to make).
fn backdate(t: &TestEnv, dirs: &[&str]) {
    fn walk(dir: &Path, now: SystemTime) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, now);
                continue;
            }
            let age = match path.extension().and_then(OsStr::to_str) {
                Some("c") => 20,
                Some("o") => 10,
                _ => continue,
            };
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(now - Duration::from_secs(age)))
                .unwrap_or_else(|error| panic!("backdating {}: {error}", path.display()));
        }
    }
    let now = SystemTime::now();
    for dir in dirs {
        walk(&t.path(dir), now);
    }
}

/// A one-line change to `rel`: one more function.
fn edit(t: &TestEnv, rel: &str, function: &str) {
    let mut text = t.read_text(rel);
    text.push_str(&format!("int {function}(void) {{ return 42; }}\n"));
    t.write(rel, text);
}

/// The build summary line `secwrap run` ends with.
fn summary_line(id: &str, summary: &str, log: &Path) -> String {
    format!("secwrap: build {id}: {summary}; log {}", log.display())
}

/// Makes the tree's shim directory (`secwrap shims`, the one `secwrap run`
/// refreshes), so that a run's only stderr line is its summary.
fn shims_made(t: &TestEnv) {
    t.run(&["shims"]).stdout_contains(" made)").go();
}

/// Three sources and a link: 3 compiles and 1 link per full build.
const SMALL_MAKEFILE: &str = "prog: a.o b.o main.o\n\
                              \t$(CC) a.o b.o main.o -o prog\n\
                              %.o: %.c\n\
                              \t$(CC) -c $< -o $@\n";

fn small_tree() -> TestEnv {
    TestEnv::livepatch()
        .file("b.c", B_C)
        .file("main.c", MAIN_C)
        .file("broken.c", "int broken(void) { return }\n")
        .file("Makefile", SMALL_MAKEFILE)
}

/// `secwrap run`: every record of the command carries the build id (given,
/// or generated), one summary line follows on stderr, and the exit status
/// is the command's, failing or not.
#[test]
fn run_tags_records_and_passes_status() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = small_tree()
        .config("kconfig = \".config\"\n[log]\npath = \"logs/build.jsonl\"\n")
        .env_remove("SECWRAP_LOG");
    let log = t.path("logs/build.jsonl");
    let cc = cc_var("gcc");
    shims_made(&t);

    // make echoes its recipes; secwrap adds only the summary.
    t.run(&["run", "--build-id", "b1", "--", "make", cc.as_str()])
        .stdout_any()
        .stderr(format!(
            "{}\n",
            summary_line(
                "b1",
                "4 invocations (3 compile, 1 link_only), flags injected into 3, 0 failed, 3 flag probes by secwrap (1 run, 2 cached)",
                &log
            )
        ))
        .go();
    t.assert_split("a.o");
    let records = records_at(&log);
    assert_eq!(records.len(), 4, "{records:#?}");
    assert!(
        records
            .iter()
            .all(|record| record.build.as_deref() == Some("b1")),
        "{records:#?}"
    );

    // No id given: one is generated, and a failing make's status comes
    // back (make says 2), with the failed compile recorded.
    let out = t
        .run(&["run", "--", "make", cc.as_str(), "broken.o"])
        .status(2)
        .stdout_any()
        .stderr_contains("Error 1")
        .go();
    let stderr = out.stderr_text();
    let last = stderr.lines().last().unwrap_or_default().to_string();
    let id = last
        .strip_prefix("secwrap: build ")
        .and_then(|rest| rest.split_once(": "))
        .map(|(id, _)| id.to_string())
        .unwrap_or_else(|| panic!("no summary line last: {stderr}"));
    assert!(
        !id.is_empty() && id != "-" && id != "b1" && !id.contains(char::is_whitespace),
        "generated id `{id}`"
    );
    assert_eq!(
        last,
        summary_line(
            &id,
            "1 invocation (1 compile), flags injected into 1, 1 failed, 1 flag probe by secwrap (0 run, 1 cached)",
            &log
        )
    );
    let records = records_at(&log);
    assert_eq!(records.len(), 5, "{records:#?}");
    assert_eq!(records[4].build.as_deref(), Some(id.as_str()));
    assert_eq!(records[4].status, Some(1));

    // Any status passes through, with no compile at all; the summary then
    // says where the compiler calls may have gone.
    t.run(&["run", "--build-id", "five", "--", "sh", "-c", "exit 5"])
        .status(5)
        .stderr(format!("{}\n", no_compiles_line(&t, "five", &log)))
        .go();
    assert_eq!(records_at(&log).len(), 5);
}

/// The summary of a build that recorded no compile, with its hint.
fn no_compiles_line(t: &TestEnv, id: &str, log: &Path) -> String {
    format!(
        "secwrap: build {id}: no compiler invocations recorded; log {}: did the build call the compiler through secwrap? (CC=\"secwrap gcc\", or by name: secwrap's shims in `{}` were first on PATH; a shim cannot see a compiler named by absolute path, e.g. CC=/usr/bin/gcc, nor the one a CMake or Meson build directory configured before `secwrap run` stored: configure inside `secwrap run`)",
        log.display(),
        t.path("xdg/data/secwrap/shims").display()
    )
}

/// `secwrap run`'s own options: `--log` records into the log it names,
/// `--build-id` wins over an inherited `SECWRAP_BUILD_ID`, an inherited
/// one is kept by a nested `secwrap run` (a recipe that calls it), and the
/// command needs no `--` when its first word is not an option.
#[test]
fn run_options_log_build_id_and_nesting() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch()
        .file("b.c", B_C)
        .env_remove("SECWRAP_LOG")
        .env_remove("SECWRAP_BUILD_ID");
    let log = t.path("mine.jsonl");
    shims_made(&t);

    // `--log` before `--`: the compile is recorded there, tagged.
    t.run(&[
        "run",
        "--log",
        "mine.jsonl",
        "--build-id",
        "b1",
        "--",
        SECWRAP,
        "gcc",
        "-c",
        "a.c",
        "-o",
        "a.o",
    ])
    .stderr(format!(
        "{}\n",
        summary_line(
            "b1",
            "1 invocation (1 compile), flags injected into 1, 0 failed, 1 flag probe by secwrap (1 run, 0 cached)",
            &log
        )
    ))
    .go();
    t.assert_split("a.o");
    let records = records_at(&log);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].build.as_deref(), Some("b1"));

    // Nested: the inner `secwrap run` keeps the outer id, so both
    // summaries are of build `outer` and the compile is in it.
    let inner = format!("{SECWRAP} run -- {SECWRAP} gcc -c b.c -o b.o");
    t.run(&[
        "run",
        "--log",
        "mine.jsonl",
        "--build-id",
        "outer",
        "--",
        "sh",
        "-c",
        &inner,
    ])
    .stderr(format!(
        "{line}\n{line}\n",
        line = summary_line(
            "outer",
            "1 invocation (1 compile), flags injected into 1, 0 failed, 1 flag probe by secwrap (0 run, 1 cached)",
            &log
        )
    ))
    .go();
    let records = records_at(&log);
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(records[1].build.as_deref(), Some("outer"));

    // An inherited id is used when none is given, `--build-id` wins over
    // it, and an empty one is not an id. No `--`: `-c` and `-o` are the
    // command's, not secwrap's.
    let t = t.env("SECWRAP_BUILD_ID", "inherited");
    t.run(&[
        "run",
        "--log",
        "mine.jsonl",
        SECWRAP,
        "gcc",
        "-c",
        "a.c",
        "-o",
        "a.o",
    ])
    .stderr_contains("secwrap: build inherited: 1 invocation (1 compile)")
    .go();
    t.run(&[
        "run",
        "--log",
        "mine.jsonl",
        "--build-id",
        "given",
        SECWRAP,
        "gcc",
        "-c",
        "a.c",
        "-o",
        "a.o",
    ])
    .stderr_contains("secwrap: build given: 1 invocation (1 compile)")
    .go();
    let t = t.env("SECWRAP_BUILD_ID", "");
    let out = t
        .run(&["run", "--log", "mine.jsonl", "--", "true"])
        .stderr_contains(": no compiler invocations recorded; log ")
        .go();
    let stderr = out.stderr_text();
    let id = stderr
        .strip_prefix("secwrap: build ")
        .and_then(|rest| rest.split_once(": "))
        .map(|(id, _)| id)
        .unwrap_or_default();
    assert!(!id.is_empty() && id != "inherited", "{stderr}");
    assert_eq!(stderr, format!("{}\n", no_compiles_line(&t, id, &log)));
    let builds: Vec<Option<String>> = records_at(&log)
        .into_iter()
        .map(|record| record.build)
        .collect();
    assert_eq!(
        builds,
        [Some("b1"), Some("outer"), Some("inherited"), Some("given")]
            .map(|id| id.map(str::to_string))
            .to_vec()
    );
}

/// `secwrap run` with recording off: exit 2, one error line, and the
/// command is not run. (With no log configured it uses the default log.)
#[test]
fn run_with_recording_off_is_an_error() {
    let t = TestEnv::new().env("SECWRAP_LOG", "off");
    t.run(&["run", "--", "touch", "ran"])
        .status(2)
        .stderr("secwrap: error: `secwrap run` records into the invocation log: recording is off (SECWRAP_LOG=off)\n")
        .go();
    assert!(!t.exists("ran"), "the command ran without a log");
}

/// `log builds`: builds in order of first appearance, counts by kind;
/// records made outside `secwrap run` form one build named `-`.
#[test]
fn log_builds_in_order_with_unnamed() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = small_tree().file(
        "Makefile",
        "all: a.o b.o a.i\n\
         %.o: %.c\n\
         \t$(CC) -c $< -o $@\n\
         a.i: a.c\n\
         \t$(CC) -E a.c -o a.i\n",
    );
    let cc = cc_var("gcc");
    t.run(&["gcc", "-c", "a.c", "-o", "first.o"]).go();
    t.run(&["run", "--build-id", "one", "--", "make", cc.as_str()])
        .stdout_any()
        .stderr_contains("secwrap: build one: ")
        .go();
    t.run(&["gcc", "-c", "b.c", "-o", "late.o"]).go();
    t.run(&[
        "run",
        "--build-id",
        "two",
        "--",
        "make",
        "-B",
        cc.as_str(),
        "a.o",
    ])
    .stdout_any()
    .stderr_contains("secwrap: build two: ")
    .go();

    let records = t.records();
    assert_eq!(records.len(), 6, "{records:#?}");
    let time = |index: usize| records[index].time.clone();
    let expected = [
        format!(
            "-  {} .. {}  2 invocations (2 compile), flags injected into 2, 0 failed",
            time(0),
            time(4)
        ),
        format!(
            "one  {} .. {}  3 invocations (2 compile, 1 preprocess_only), flags injected into 2, 0 failed",
            time(1),
            time(3)
        ),
        format!(
            "two  {} .. {}  1 invocation (1 compile), flags injected into 1, 0 failed",
            time(5),
            time(5)
        ),
    ];
    let out = t.run(&["log", "builds"]).stdout_any().go();
    assert_eq!(stdout_lines(&out), expected);
}

/// Twelve sources in subdirectories with proper dependencies, compiled the
/// ways real trees do: a pattern rule, `cd sub && $(CC)`, `../` in the
/// paths, old Kbuild's `.tmp_y.o` + `mv`, Xen's `.z.o.tmp` + `objcopy`,
/// and a build-system probe into `.tmp_$$/` on every build.
const TREE_MAKEFILE: &str = "\
OBJS := core/a.o core/b.o core/c.o lib/d.o lib/deep/f.o drivers/g.o drivers/h.o
SPECIAL := lib/e.o sub/x.o drivers/i.o sub/y.o sub/z.o

all: probe $(OBJS) $(SPECIAL)

# Kconfig's cc-option recipe, as a build system runs it.
probe:
\tmkdir -p .tmp_$$$$ && $(CC) -Werror -ffunction-sections -c -x c /dev/null -o .tmp_$$$$/tmp.o && rm -rf .tmp_$$$$

%.o: %.c
\t$(CC) -O2 -c $< -o $@

# `..` in the paths, from the top.
lib/e.o: lib/e.c
\t$(CC) -O2 -c lib/deep/../e.c -o lib/deep/../e.o

# From a subdirectory.
sub/x.o: sub/x.c
\tcd sub && $(CC) -O2 -c x.c -o x.o

# From a subdirectory, with `..`.
drivers/i.o: drivers/i.c
\tcd sub && $(CC) -O2 -c ../drivers/i.c -o ../drivers/i.o

# Old Kbuild: compile to a temporary, then rename.
sub/y.o: sub/y.c
\t$(CC) -O2 -c sub/y.c -o sub/.tmp_y.o && mv sub/.tmp_y.o sub/y.o

# Xen's CONFIG_ENFORCE_UNIQUE_SYMBOLS: compile to .z.o.tmp, objcopy to z.o.
sub/z.o: sub/z.c
\t$(CC) -O2 -c sub/z.c -o sub/.z.o.tmp && objcopy sub/.z.o.tmp sub/z.o

.PHONY: all probe
";

/// Every object of the tree, as `log changed` lists them.
const TREE_OBJECTS: [&str; 12] = [
    "core/a.o",
    "core/b.o",
    "core/c.o",
    "drivers/g.o",
    "drivers/h.o",
    "drivers/i.o",
    "lib/d.o",
    "lib/deep/f.o",
    "lib/e.o",
    "sub/x.o",
    "sub/y.o",
    "sub/z.o",
];

/// The two sources the patch touches: one compiled from `sub/` through
/// `../`, one through Xen's temporary.
const PATCHED_SOURCES: [&str; 2] = ["drivers/i.c", "sub/z.c"];
const PATCHED_OBJECTS: [&str; 2] = ["drivers/i.o", "sub/z.o"];
const TREE_DIRS: [&str; 4] = ["core", "lib", "drivers", "sub"];

fn tree(config: &str) -> TestEnv {
    let t = TestEnv::new()
        .kconfig(LIVEPATCH)
        .config(config)
        .file("Makefile", TREE_MAKEFILE);
    for object in TREE_OBJECTS {
        let source = object.replace(".o", ".c");
        let name = Path::new(object)
            .file_stem()
            .and_then(OsStr::to_str)
            .expect("stem");
        t.write(
            &source,
            format!("int {name}_data = 1;\nint {name}_get(void) {{ return {name}_data; }}\n"),
        );
    }
    t
}

/// Builds the tree through `secwrap run` as build `id`.
fn build_tree(t: &TestEnv, cc: &str, id: &str) {
    let cc = cc_var(cc);
    if !t.path("xdg/data/secwrap/shims").exists() {
        shims_made(t);
    }
    // make echoes its recipes; secwrap adds only the summary.
    let out = t
        .run(&["run", "--build-id", id, "--", "make", "-j4", cc.as_str()])
        .stdout_any()
        .stderr_contains(&format!("secwrap: build {id}: "))
        .go();
    let stderr = out.stderr_text();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

compiler_tests! {
    /// `log changed`: after a first build every object of the tree (final
    /// names, normalised, no probe); after a two-file patch exactly those
    /// two, also `--since` the first build; `--root` rebases; an unknown
    /// build is an error.
    fn changed_objects(cc) {
        if !require_program("make") || !require_program("objcopy") {
            return;
        }
        let t = tree(KCONFIG_TOML);
        build_tree(&t, cc, "orig");
        assert!(!t.exists("sub/.tmp_y.o") && t.exists("sub/y.o") && t.exists("sub/z.o"));
        let out = t.run(&["log", "changed"]).stdout_any().go();
        assert_eq!(stdout_lines(&out), TREE_OBJECTS, "after the first build");
        // The probe compiled and was recorded, but is not an object of the tree.
        assert!(
            t.records().iter().any(|record| texts(&record.inputs) == ["/dev/null"]),
            "the probe was not recorded"
        );

        backdate(&t, &TREE_DIRS);
        for (source, function) in PATCHED_SOURCES.iter().zip(["patched_i", "patched_z"]) {
            edit(&t, source, function);
        }
        build_tree(&t, cc, "patched");
        let patched: Vec<_> = t
            .records()
            .into_iter()
            .filter(|record| record.build.as_deref() == Some("patched"))
            .collect();
        // Two compiles and the probe: make rebuilt exactly the patch.
        assert_eq!(patched.len(), 3, "{patched:#?}");

        let out = t.run(&["log", "changed"]).stdout_any().go();
        assert_eq!(stdout_lines(&out), PATCHED_OBJECTS);
        let out = t.run(&["log", "changed", "--since", "orig"]).stdout_any().go();
        assert_eq!(stdout_lines(&out), PATCHED_OBJECTS);
        // Relative to `sub/`; what lies outside it stays absolute.
        let out = t.run(&["log", "changed", "--root", "sub/"]).stdout_any().go();
        assert_eq!(
            stdout_lines(&out),
            [t.path("drivers/i.o").to_str().unwrap(), "z.o"]
        );
        // Relative to the working directory.
        let t = t.cwd("sub");
        let out = t.run(&["log", "changed", "--root", ".."]).stdout_any().go();
        assert_eq!(stdout_lines(&out), PATCHED_OBJECTS);

        let out = t
            .run(&["log", "changed", "--since", "NOPE"])
            .status(2)
            .stderr_contains("secwrap: error: no build `NOPE`")
            .go();
        let stderr = out.stderr_text();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("secwrap: error: "), "{stderr}");
    }
}

/// `[livepatch] keep_originals`: each build copies each object it
/// overwrites into its own directory (`orig/<build id>/`), byte for byte as
/// it was before that build, once; objects not rebuilt are not copied.
#[test]
fn keep_originals_copies_once_per_build() {
    if !require_compiler("gcc") || !require_program("make") || !require_program("objcopy") {
        return;
    }
    let t = tree("kconfig = \".config\"\n[livepatch]\nkeep_originals = \"orig\"\n");
    build_tree(&t, "gcc", "orig");
    assert!(!t.exists("orig"), "a clean build overwrote nothing");
    let snapshot = |t: &TestEnv| -> BTreeMap<&str, Vec<u8>> {
        TREE_OBJECTS
            .iter()
            .map(|object| (*object, t.read(object)))
            .collect()
    };
    let first = snapshot(&t);

    backdate(&t, &TREE_DIRS);
    for (source, function) in PATCHED_SOURCES.iter().zip(["patched_i", "patched_z"]) {
        edit(&t, source, function);
    }
    build_tree(&t, "gcc", "patched");
    let kept = |t: &TestEnv| -> BTreeSet<String> {
        fn walk(dir: &Path, root: &Path, found: &mut BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).expect("read_dir") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    walk(&path, root, found);
                } else {
                    let relative = path.strip_prefix(root).expect("under orig");
                    found.insert(relative.to_str().expect("UTF-8").to_string());
                }
            }
        }
        let mut found = BTreeSet::new();
        walk(&t.path("orig"), &t.path("orig"), &mut found);
        found
    };
    let in_build = |build: &str| -> BTreeSet<String> {
        PATCHED_OBJECTS
            .iter()
            .map(|object| format!("{build}/{object}"))
            .collect()
    };
    assert_eq!(
        kept(&t),
        in_build("patched"),
        "exactly the overwritten objects, no partial copies"
    );
    for object in PATCHED_OBJECTS {
        assert!(
            t.read(Path::new("orig/patched").join(object)) == first[object],
            "orig/patched/{object} differs from the first build's {object}"
        );
        assert!(
            t.read(object) != first[object],
            "{object} was not rebuilt with the patch"
        );
    }
    // The records say where each copy went.
    let originals = |build: &str| -> BTreeMap<String, Vec<String>> {
        t.records()
            .iter()
            .filter(|record| record.build.as_deref() == Some(build) && !record.originals.is_empty())
            .map(|record| {
                (
                    some_text(&record.output).to_string(),
                    record
                        .originals
                        .iter()
                        .map(|kept| text(&kept.copy).to_string())
                        .collect::<Vec<_>>(),
                )
            })
            .collect()
    };
    let expected = |build: &str| -> BTreeMap<String, Vec<String>> {
        [
            (
                t.path("sub/../drivers/i.o"),
                t.path(format!("orig/{build}/drivers/i.o")),
            ),
            (
                t.path("sub/.z.o.tmp"),
                t.path(format!("orig/{build}/sub/z.o")),
            ),
        ]
        .into_iter()
        .map(|(output, copy)| {
            (
                output.to_str().unwrap().to_string(),
                vec![copy.to_str().unwrap().to_string()],
            )
        })
        .collect()
    };
    assert_eq!(originals("patched"), expected("patched"));
    let patched = snapshot(&t);

    // A second patched build keeps the first patched build's objects in
    // its own directory; the first build's copies stay as they were.
    backdate(&t, &TREE_DIRS);
    for (source, function) in PATCHED_SOURCES.iter().zip(["again_i", "again_z"]) {
        edit(&t, source, function);
    }
    build_tree(&t, "gcc", "patched2");
    assert_eq!(
        kept(&t),
        in_build("patched")
            .union(&in_build("patched2"))
            .cloned()
            .collect()
    );
    for object in PATCHED_OBJECTS {
        assert!(
            t.read(Path::new("orig/patched").join(object)) == first[object],
            "orig/patched/{object} was overwritten by the second patched build"
        );
        assert!(
            t.read(Path::new("orig/patched2").join(object)) == patched[object],
            "orig/patched2/{object} is not the first patched build's {object}"
        );
    }
    assert_eq!(originals("patched2"), expected("patched2"));
    let second: Vec<_> = t
        .records()
        .into_iter()
        .filter(|record| record.build.as_deref() == Some("patched2"))
        .collect();
    assert_eq!(second.len(), 3, "{second:#?}");
    // Both patched builds, each object once.
    let out = t
        .run(&["log", "changed", "--since", "orig"])
        .stdout_any()
        .go();
    assert_eq!(stdout_lines(&out), PATCHED_OBJECTS);
}

/// A compile command in Bear 3.1.1's canonical form, as observed with
/// `bear -- make` on this machine (bear 3.1.1, gcc 12):
///
/// - `arguments[0]` is the compiler, absolute;
/// - then every other flag, in its original order, except that Bear drops
///   dependency-file flags (`-MD`, `-MMD`, `-MP`, and `-MF`/`-MT`/`-MQ`
///   with their value; `-Wp,-MMD,x.d` is kept as a flag) and linker
///   inputs (`-lX`, `-LDIR`, on compile jobs as on compile-and-link);
/// - for compile-and-link (no `-c`, `-S` or `-E`) it adds `-c` right
///   after the compiler;
/// - then `-o OUT` when the command has a separate `-o` (a joined `-oOUT`
///   stays where it was, as a flag, and Bear records no `output`);
/// - then the source, as written on the command line.
///
/// Bear also keeps one entry per (file, output): a second compile of a
/// source to the same output, or without `-o`, is dropped (the project
/// below compiles each source once). Normalising an entry already in this
/// form leaves it unchanged.
fn bear_canonical(directory: &str, file: &str, arguments: &[String]) -> Vec<String> {
    let (compiler, rest) = arguments.split_first().expect("a compiler");
    let is_source = |word: &str| lexical(&Path::new(directory).join(word)) == Path::new(file);
    let links = !rest
        .iter()
        .any(|word| word == "-c" || word == "-S" || word == "-E");
    let mut flags = Vec::new();
    let (mut output, mut source) = (None, None);
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "-o" => output = words.next().cloned(),
            "-MF" | "-MT" | "-MQ" | "-l" | "-L" => {
                words.next();
            }
            "-MD" | "-MMD" | "-MP" => {}
            _ if word.starts_with("-l") || word.starts_with("-L") => {}
            _ if source.is_none() && !word.starts_with('-') && is_source(word) => {
                source = Some(word.clone());
            }
            _ => flags.push(word.clone()),
        }
    }
    let mut canonical = vec![compiler.clone()];
    if links {
        canonical.push("-c".to_string());
    }
    canonical.extend(flags);
    if let Some(output) = output {
        canonical.extend(["-o".to_string(), output]);
    }
    canonical.extend(source);
    canonical
}

/// A compilation database as (directory, file) → (arguments, output).
fn database(path: &Path) -> BTreeMap<(String, String), (Vec<String>, Option<String>)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let entries: Vec<Value> = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON ({error}): {text}", path.display()));
    let mut by_source = BTreeMap::new();
    for entry in &entries {
        let key = (
            field(entry, "directory").to_string(),
            field(entry, "file").to_string(),
        );
        let arguments = entry["arguments"]
            .as_array()
            .unwrap_or_else(|| panic!("`arguments` is not an array: {entry:#}"))
            .iter()
            .map(|word| word.as_str().expect("a string argument").to_string())
            .collect();
        let value = (arguments, entry["output"].as_str().map(str::to_string));
        assert!(
            by_source.insert(key.clone(), value).is_none(),
            "{}: two entries for {key:?}",
            path.display()
        );
    }
    by_source
}

/// Temporary files `log export` may have left beside its output.
fn export_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| {
            name.starts_with(".tmp-")
                || name.starts_with(".compile_commands")
                || name.ends_with(".tmp")
        })
        .collect()
}

/// Generated sources for the export test: 200 in `gen/dir0..7`, a
/// multi-source job, a compile-and-link, and a compile from `sub/`.
const EXPORT_MAKEFILE: &str = "\
GEN := $(sort $(wildcard gen/*/*.c))
OBJS := $(GEN:.c=.o)

all: $(OBJS) multi.stamp prog sub/s.o

%.o: %.c
\t$(CC) -MMD -MP -c $< -O2 -o $@ -DGEN

multi.stamp: multi/ma.c multi/mb.c
\t$(CC) -O2 -DMULTI -c multi/ma.c multi/mb.c
\ttouch $@

prog: main.c
\t$(CC) -O2 -DMAIN main.c -o prog -L. -lm

sub/s.o: sub/s.c
\tcd sub && $(CC) -O2 -Wall -c s.c -o s.o

clean:
\trm -f $(OBJS) $(GEN:.c=.d) ma.o mb.o multi.stamp prog sub/s.o

.PHONY: all clean
";

/// `log export --format compile-commands` against Bear 3.1.1 on the same
/// make run: the same sources in the same directories, the same arguments
/// once secwrap's own flags are removed and both are in Bear's canonical
/// order; written atomically; `--build` and `--merge`.
#[test]
fn export_matches_bear() {
    if !require_compiler("gcc") || !require_program("make") || !require_program("bear") {
        return;
    }
    let t = TestEnv::livepatch()
        .file("Makefile", EXPORT_MAKEFILE)
        .file("multi/ma.c", A_C)
        .file("multi/mb.c", B_C)
        .file("main.c", "int main(void) { return 0; }\n")
        .file("sub/s.c", B_C);
    for index in 0..200 {
        t.write(
            format!("gen/dir{}/f{index}.c", index % 8),
            format!("int f{index}(void) {{ return {index}; }}\n"),
        );
    }
    t.run_program(
        "bear",
        &["--output", "bear.json", "--", "make", "CC=gcc", "-j4"],
    )
    .stdout_any()
    .go();
    assert!(t.records().is_empty(), "bear's build went through secwrap");
    t.run_program("make", &["clean"]).stdout_any().go();
    let cc = cc_var("gcc");
    t.run(&[
        "run",
        "--build-id",
        "full",
        "--",
        "make",
        cc.as_str(),
        "-j4",
    ])
    .stdout_any()
    .stderr_contains("secwrap: build full: ")
    .go();
    t.run(&["log", "export", "--format", "compile-commands"])
        .stdout(format!(
            "wrote 204 entries to {}\n",
            t.path("compile_commands.json").display()
        ))
        .go();
    assert_eq!(export_leftovers(t.root()), Vec::<String>::new());

    let bear = database(&t.path("bear.json"));
    let ours = database(&t.path("compile_commands.json"));
    assert_eq!(bear.len(), 204, "bear: {:#?}", bear.keys());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        bear.keys().collect::<Vec<_>>(),
        "(directory, file) pairs"
    );

    // What secwrap added to each source's compile, from the records.
    let mut injected: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for record in t.records() {
        let cwd = record.cwd.display();
        for input in &record.inputs {
            let file = lexical(Path::new(&input.display()));
            injected.insert(
                (cwd.clone(), file.to_str().unwrap().to_string()),
                record.injected.iter().map(|flag| flag.display()).collect(),
            );
        }
    }
    for ((directory, file), (arguments, output)) in &ours {
        let (bear_arguments, bear_output) = &bear[&(directory.clone(), file.clone())];
        let added = &injected[&(directory.clone(), file.clone())];
        assert_eq!(added, &SPLIT_FLAGS, "{file}: injected");
        let mut stripped = arguments.clone();
        for flag in added {
            let at = stripped
                .iter()
                .rposition(|word| word == flag)
                .unwrap_or_else(|| panic!("{file}: {flag} not in {arguments:?}"));
            stripped.remove(at);
        }
        assert!(
            arguments[0].starts_with('/') && arguments[0] == bear_arguments[0],
            "{file}: compiler {:?} vs Bear's {:?}",
            arguments[0],
            bear_arguments[0]
        );
        assert_eq!(
            bear_canonical(directory, file, &stripped),
            bear_canonical(directory, file, bear_arguments),
            "{file}: secwrap {arguments:?} vs bear {bear_arguments:?}"
        );
        assert_eq!(
            bear_canonical(directory, file, bear_arguments),
            *bear_arguments,
            "{file}: the normaliser does not describe Bear"
        );
        assert_eq!(output, bear_output, "{file}: output");
    }

    // `--build`: one build's compiles only.
    t.write("extra.c", A_C);
    t.run(&[
        "run",
        "--build-id",
        "extra",
        "--",
        SECWRAP,
        "gcc",
        "-O1",
        "-c",
        "extra.c",
        "-o",
        "extra.o",
    ])
    .stderr_contains("secwrap: build extra: ")
    .go();
    t.run(&[
        "log",
        "export",
        "--format",
        "compile-commands",
        "--build",
        "full",
        "-o",
        "full.json",
    ])
    .stdout_contains("wrote 204 entries to ")
    .go();
    assert_eq!(
        database(&t.path("full.json")).keys().collect::<Vec<_>>(),
        bear.keys().collect::<Vec<_>>()
    );
    t.run(&[
        "log",
        "export",
        "--format",
        "compile-commands",
        "--build",
        "extra",
        "-o",
        "extra.json",
    ])
    .stdout_contains("wrote 1 entry to ")
    .go();
    let extra_text = t.read_text("extra.json");
    let extra: Vec<Value> = serde_json::from_str(&extra_text).expect("extra.json is JSON");
    assert_eq!(extra.len(), 1, "{extra_text}");
    let root = t.root().to_str().unwrap();
    assert_eq!(field(&extra[0], "directory"), root);
    assert_eq!(field(&extra[0], "file"), format!("{root}/extra.c"));
    assert_eq!(field(&extra[0], "output"), format!("{root}/extra.o"));
    t.run(&[
        "log",
        "export",
        "--format",
        "compile-commands",
        "--build",
        "NOPE",
        "-o",
        "nope.json",
    ])
    .status(2)
    .stderr_contains("no build `NOPE`")
    .go();
    assert!(!t.exists("nope.json"));

    // `--merge`: the entry for the same (directory, file, output) is
    // replaced, the others are kept as they were.
    let stale = serde_json::json!({
        "directory": root,
        "file": format!("{root}/extra.c"),
        "arguments": ["/usr/bin/gcc", "-O0", "-c", "-o", "extra.o", "extra.c"],
        "output": format!("{root}/extra.o"),
    });
    let other_output = serde_json::json!({
        "directory": root,
        "file": format!("{root}/extra.c"),
        "arguments": ["/usr/bin/gcc", "-g", "-c", "-o", "extra-debug.o", "extra.c"],
        "output": format!("{root}/extra-debug.o"),
    });
    let elsewhere = serde_json::json!({
        "directory": "/elsewhere",
        "file": "/elsewhere/x.c",
        "arguments": ["/usr/bin/cc", "-c", "-o", "x.o", "x.c"],
        "output": "/elsewhere/x.o",
    });
    t.write(
        "merged.json",
        serde_json::to_string_pretty(&serde_json::json!([stale, other_output, elsewhere])).unwrap(),
    );
    t.run(&[
        "log",
        "export",
        "--format",
        "compile-commands",
        "--build",
        "extra",
        "--merge",
        "-o",
        "merged.json",
    ])
    .stdout_contains("merged.json")
    .go();
    let merged: Vec<Value> =
        serde_json::from_str(&t.read_text("merged.json")).expect("merged.json is JSON");
    assert_eq!(merged.len(), 3, "{merged:#?}");
    assert!(merged.contains(&other_output), "{merged:#?}");
    assert!(merged.contains(&elsewhere), "{merged:#?}");
    assert!(merged.contains(&extra[0]), "{merged:#?}");
    assert!(!merged.contains(&stale), "{merged:#?}");

    // A corrupt file to merge into: an error naming the place, file kept.
    let corrupt = "[\n  {\"directory\": \"/x\",\n    oops\n]\n";
    t.write("corrupt.json", corrupt);
    let out = t
        .run(&[
            "log",
            "export",
            "--format",
            "compile-commands",
            "--merge",
            "-o",
            "corrupt.json",
        ])
        .status(2)
        .stderr_contains(&format!(
            "secwrap: error: {}:3:5: ",
            t.path("corrupt.json").display()
        ))
        .go();
    let stderr = out.stderr_text();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("secwrap: error: "), "{stderr}");
    assert_eq!(t.read_text("corrupt.json"), corrupt);
    assert_eq!(export_leftovers(t.root()), Vec::<String>::new());
}

/// Starts `secwrap ARGS...` in its own process group, waits until `ready`
/// says so, sends SIGINT to the whole group (secwrap run, make, the
/// shells, the shims, the compilers: what Ctrl-C at a terminal does), and
/// returns the run's end and the log as it was just before the signal.
fn interrupt_when(run: Run<'_>, t: &TestEnv, ready: impl Fn(&[u8]) -> bool) -> (Out, Vec<u8>) {
    let running = run.spawn_with(default_stop_signals);
    let log = t.path("log.jsonl");
    let deadline = Instant::now() + TIMEOUT;
    let before = loop {
        let text = std::fs::read(&log).unwrap_or_default();
        if ready(&text) {
            break text;
        }
        if Instant::now() >= deadline {
            running.signal_group(libc::SIGKILL);
            panic!("not ready to interrupt within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    running.signal_group(libc::SIGINT);
    (running.wait(), before)
}

fn line_count(text: &[u8]) -> usize {
    text.iter().filter(|byte| **byte == b'\n').count()
}

/// `make -j4` through `secwrap run`, interrupted with SIGINT to the whole
/// process group while slow jobs run: make stops, every line of the log is
/// a whole record, the records of finished compiles are kept; then a torn
/// last line does not stop any `log` subcommand.
#[test]
fn interrupted_build_keeps_whole_records() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let mut objects = Vec::new();
    let t = TestEnv::livepatch().file(
        "Makefile",
        "include objects.mk\n\
         all: $(OBJS)\n\
         src/slow%.o: src/slow%.c\n\
         \tsleep 5 && $(CC) -c $< -o $@\n\
         %.o: %.c\n\
         \t$(CC) -c $< -o $@\n",
    );
    for index in 0..30 {
        // Every eighth file is slow, so the slow ones hold slots while
        // the others go on compiling.
        let name = if index % 8 == 3 {
            format!("src/slow{index}")
        } else {
            format!("src/f{index}")
        };
        t.write(
            format!("{name}.c"),
            format!("int d{index} = {index};\nint f{index}(void) {{ return d{index}; }}\n"),
        );
        objects.push(format!("{name}.o"));
    }
    t.write("objects.mk", format!("OBJS := {}\n", objects.join(" ")));

    let cc = cc_var("gcc");
    // make dies of the SIGINT, saying so on stderr, and so does secwrap run.
    let run = t
        .run(&["run", "--build-id", "int", "--", "make", "-j4", cc.as_str()])
        .signal(libc::SIGINT)
        .stdout_any()
        .stderr_contains("secwrap: build int: ");
    let (_, before) = interrupt_when(run, &t, |log| line_count(log) >= 4);

    let log = t.path("log.jsonl");
    let after = std::fs::read(&log).expect("the log");
    assert!(
        after.starts_with(&before),
        "records written before the signal changed"
    );
    assert!(after.ends_with(b"\n"), "a torn last line");
    let records = records_at(&log);
    assert!(
        records.len() < objects.len(),
        "make did not stop: {} records",
        records.len()
    );
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.build.as_deref(), Some("int"));
        let output = record.output.as_ref().expect("an output").display();
        assert!(!output.contains("/slow"), "a slow job compiled: {output}");
        match (record.status, record.signal) {
            (Some(0), None) => {
                // make may delete an object whose recipe had not returned
                // when the signal came; one that is there is whole.
                if Path::new(&output).exists() {
                    assert!(sections(Path::new(&output)).iter().any(|s| s == ".text"));
                }
            }
            // A compile in flight dies of the signal.
            (None, Some(libc::SIGINT)) => assert!(
                index >= line_count(&before),
                "record {} was written before the signal, yet says interrupted",
                index + 1
            ),
            other => panic!("record {}: status/signal {other:?}", index + 1),
        }
    }

    // A writer killed mid-write: every reader warns and goes on.
    let torn_line = records.len() + 1;
    let mut text = after.clone();
    text.extend_from_slice(b"{\"version\":1,\"sec");
    std::fs::write(&log, &text).expect("append a torn line");
    let warning = format!("secwrap: warning: {}:{torn_line}: ", log.display());
    let finished: Vec<String> = records
        .iter()
        .filter(|record| record.status == Some(0))
        .map(|record| {
            let output = record.output.as_ref().unwrap().display();
            let root = format!("{}/", t.root().display());
            output.strip_prefix(&root).unwrap().to_string()
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for args in [
        &["log", "show"][..],
        &["log", "builds"],
        &["log", "changed"],
        &["log", "export", "--format", "compile-commands"],
    ] {
        let out = t.run(args).stdout_any().stderr_contains(&warning).go();
        let stderr = out.stderr_text();
        assert!(
            stderr.lines().count() == 1 && stderr.starts_with(&warning),
            "`secwrap {}`: {stderr}",
            args.join(" ")
        );
        match args[1] {
            "changed" => assert_eq!(stdout_lines(&out), finished),
            "builds" => {
                let lines = stdout_lines(&out);
                assert_eq!(lines.len(), 1, "{lines:?}");
                assert!(lines[0].starts_with("int  "), "{lines:?}");
            }
            "show" => assert!(
                out.stdout_text().contains("1 bad line skipped"),
                "{}",
                out.stdout_text()
            ),
            _ => {}
        }
    }
    assert_eq!(export_leftovers(t.root()), Vec::<String>::new());
}

/// Ctrl-C during `secwrap run -- make -j4`: make gets the SIGINT from the
/// terminal's process group and, as GNU make does, waits for its running
/// jobs before dying of it. `secwrap run` must not cut that short: when it
/// returns, make's jobs have ended, every compile has its record, and the
/// summary counts them all. A job that tidies up for half a second on
/// SIGINT (`tidy`, as a tool removing partial output) shows whether make
/// waited.
///
/// A second SIGINT that reaches make while it handles the first kills it
/// on the spot (make resets the handler to the default first); one that
/// arrives while the first is still pending merges with it. Which happens
/// depends on scheduling, so the interrupt is tried five times.
#[test]
fn interrupted_run_waits_for_make() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    for attempt in 1..=5 {
        interrupt_run_once(attempt);
    }
}

fn interrupt_run_once(attempt: u32) {
    let t = TestEnv::livepatch().file(
        "Makefile",
        "OBJS := src/f0.o src/f1.o src/f2.o src/f3.o src/f4.o src/f5.o\n\
         all: tidy src/slow.o $(OBJS)\n\
         tidy:\n\
         \t@trap 'sleep 0.5; echo tidied > tidied; exit 130' INT; touch tidy.started; \
         sleep 5 </dev/null >/dev/null 2>&1 & wait\n\
         src/slow.o: src/slow.c\n\
         \tsleep 5 && $(CC) -c $< -o $@\n\
         %.o: %.c\n\
         \t$(CC) -c $< -o $@\n\
         .PHONY: all tidy\n",
    );
    for name in ["f0", "f1", "f2", "f3", "f4", "f5", "slow"] {
        t.write(
            format!("src/{name}.c"),
            format!("int {name}(void) {{ return 1; }}\n"),
        );
    }
    let cc = cc_var("gcc");
    let started = t.path("tidy.started");
    let run = t
        .run(&["run", "--build-id", "int", "--", "make", "-j4", cc.as_str()])
        .signal(libc::SIGINT)
        .stdout_any()
        .stderr_contains("secwrap: build int: ");
    let (out, _) = interrupt_when(run, &t, |log| line_count(log) >= 2 && started.exists());
    let stderr = out.stderr_text();
    assert!(
        t.exists("tidied"),
        "attempt {attempt}: `secwrap run` returned before make's interrupted jobs had \
         ended: the `tidy` job never finished its SIGINT handler\n{stderr}"
    );
    let records = t.records();
    let summary = stderr
        .lines()
        .find(|line| line.starts_with("secwrap: build int: "))
        .unwrap_or_else(|| panic!("attempt {attempt}: no summary: {stderr}"));
    assert!(
        summary.starts_with(&format!(
            "secwrap: build int: {} {}",
            records.len(),
            if records.len() == 1 {
                "invocation ("
            } else {
                "invocations ("
            }
        )),
        "attempt {attempt}: the summary does not count the {} records in the log: {summary}",
        records.len()
    );
    for name in ["f0", "f1", "f2", "f3", "f4", "f5"] {
        let object = t.path(format!("src/{name}.o"));
        if object.exists() {
            assert!(
                records
                    .iter()
                    .any(|record| record.output.as_ref().map(|o| o.display())
                        == Some(object.display().to_string())),
                "attempt {attempt}: src/{name}.o was compiled but has no record"
            );
        }
    }
}

/// An object named with the bytes `caf\xe9.o`: `log changed` prints those
/// bytes; `log export` still writes a valid database.
#[test]
fn non_utf8_object_path() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    let source = OsStr::from_bytes(b"caf\xe9.c");
    let object = OsStr::from_bytes(b"caf\xe9.o");
    std::fs::write(t.path(source), A_C).unwrap();
    let args: Vec<&OsStr> = vec![
        OsStr::new("gcc"),
        OsStr::new("-c"),
        source,
        OsStr::new("-o"),
        object,
    ];
    t.run(&args).go();
    t.assert_split(object);

    // Export first: `log changed` below may fail the test.
    //
    // JSON strings hold Unicode only, so the entry cannot carry the raw
    // bytes: secwrap writes the path lossily, the byte 0xE9 as U+FFFD
    // (`caf\u{fffd}.c`), still a valid database. (Bear 3.1.1 itself fails on
    // such a compile: its gRPC layer rejects the non-UTF-8 argument and it
    // writes `[]`.)
    t.run(&["log", "export", "--format", "compile-commands"])
        .stdout_contains("wrote 1 entry to ")
        .go();
    let entries: Vec<Value> =
        serde_json::from_str(&t.read_text("compile_commands.json")).expect("valid JSON");
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let root = t.root().to_str().unwrap();
    assert_eq!(field(&entries[0], "directory"), root);
    assert_eq!(field(&entries[0], "file"), format!("{root}/caf\u{fffd}.c"));
    assert_eq!(
        entries[0]["arguments"].as_array().expect("arguments")[1..5],
        ["-c", "caf\u{fffd}.c", "-o", "caf\u{fffd}.o"]
    );

    // The object's path, byte for byte (what a livepatch tool opens).
    t.run(&["log", "changed"]).stdout(b"caf\xe9.o\n").go();
}

/// `log export -o -`: the database on stdout (no file named `-`), the
/// count on stderr, `--format` not needed; `--merge` into stdout is an
/// error. An unknown build reads the same in `log export` and `check`.
#[test]
fn export_to_stdout_and_unknown_build_wording() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    let out = t
        .run(&["log", "export", "-o", "-"])
        .stdout_any()
        .stderr("secwrap: wrote 1 entry to stdout\n")
        .go();
    let entries: Vec<Value> = serde_json::from_str(&out.stdout_text()).expect("a JSON array");
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let root = t.path("");
    assert_eq!(
        field(&entries[0], "file"),
        root.join("a.c").to_str().unwrap()
    );
    assert_eq!(
        field(&entries[0], "output"),
        root.join("a.o").to_str().unwrap()
    );
    assert!(!t.exists("-") && !t.exists("compile_commands.json"));

    t.run(&["log", "export"])
        .stdout(format!(
            "wrote 1 entry to {}\n",
            t.path("compile_commands.json").display()
        ))
        .go();
    t.run(&["log", "export", "--merge", "-o", "-"])
        .status(2)
        .stderr("secwrap: error: --merge rewrites a file; `-o -` is stdout: name the file to merge into\n")
        .go();

    let log = t.path("log.jsonl");
    for args in [
        &["log", "export", "--build", "NOPE"][..],
        &["check", "--build", "NOPE"],
    ] {
        t.run(args)
            .status(2)
            .stderr(format!(
                "secwrap: error: no build `NOPE` in {}\n",
                log.display()
            ))
            .go();
    }
}

/// `log show` filters: `--build`, `--since`, `--kind`, `--failed` (the
/// tree's failures; a build-system probe's failure is its answer).
#[test]
fn log_show_filters() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch().env("SECWRAP_BUILD_ID", "b1");
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    let t = t.env("SECWRAP_BUILD_ID", "b2");
    t.run(&["gcc", "-E", "a.c"]).stdout_any().go();
    t.run(&["gcc", "-c", "missing.c", "-o", "m.o"])
        .failure()
        .stderr_any()
        .go();
    // A Kbuild-style probe the compiler rejects: an answer, not a failure.
    t.run(&[
        "gcc",
        "-Werror",
        "-fno-such-flag",
        "-c",
        "-x",
        "c",
        "/dev/null",
        "-o",
        "tmp/p.o",
    ])
    .failure()
    .stderr_any()
    .go();
    let lines = |args: &[&str]| -> Vec<String> {
        let out = t.run(args).stdout_any().go();
        out.stdout_text().lines().map(str::to_string).collect()
    };

    let failed = lines(&["log", "show", "--build", "b2", "--failed"]);
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(
        failed[0].contains(" compile ") && failed[0].contains("m.o"),
        "{failed:#?}"
    );
    assert!(
        failed[1].starts_with("1 record (1 compile); "),
        "{failed:#?}"
    );

    let preprocess = lines(&["log", "show", "--since", "b1", "--kind", "preprocess_only"]);
    assert_eq!(preprocess.len(), 2, "{preprocess:#?}");
    assert!(
        preprocess[0].contains(" preprocess_only "),
        "{preprocess:#?}"
    );

    let b1 = lines(&["log", "show", "--build", "b1"]);
    assert_eq!(b1.len(), 2, "{b1:#?}");
    assert!(b1[0].contains("a.o"), "{b1:#?}");
    assert_eq!(lines(&["log", "show"]).len(), 5);

    let log = t.path("log.jsonl");
    t.run(&["log", "show", "--build", "nope"])
        .status(2)
        .stderr(format!(
            "secwrap: error: no build `nope` in {}\n",
            log.display()
        ))
        .go();
    t.run(&["log", "show", "--kind", "compiles"])
        .status(2)
        .stderr("secwrap: error: unknown kind `compiles`: `secwrap log show` prints each record's kind second\n")
        .go();
}
