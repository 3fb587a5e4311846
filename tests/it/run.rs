//! `secwrap run` with its shim directory first on PATH: builds that call
//! the compiler by name (make's default `$(CC)`, CMake and Meson configured
//! inside `secwrap run`, a hand-written build.ninja, a shell script) are
//! split and recorded with no CC set; `CC="secwrap gcc"` is not wrapped
//! twice; `--no-shims` leaves PATH alone; the summary says what happened.

use std::path::{Path, PathBuf};

use secwrap::record::InvocationRecord;

use crate::common::*;

/// The shim directory `secwrap run` uses in a test's tree.
fn shim_dir(t: &TestEnv) -> PathBuf {
    t.path("xdg/data/secwrap/shims")
}

/// Two sources and a link, all through make's default `$(CC)` (`cc`).
const MAKEFILE: &str = "prog: a.o main.o\n\
                        \t$(CC) a.o main.o -o prog\n\
                        %.o: %.c\n\
                        \t$(CC) -c $< -o $@\n";

fn tree() -> TestEnv {
    TestEnv::livepatch().file("main.c", MAIN_C)
}

/// Runs `secwrap run --build-id ID -- COMMAND...`; returns its stderr
/// lines: the shim line when the directory changed, then the command's
/// own, then the summary.
#[track_caller]
fn run_build(t: &TestEnv, id: &str, command: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "--build-id", id, "--"];
    args.extend(command);
    let out = t
        .run(&args)
        .stdout_any()
        .stderr_contains(&format!("secwrap: build {id}: "))
        .go();
    out.stderr_text().lines().map(str::to_string).collect()
}

/// The summary line (the last one), checked to start and end as every
/// summary does.
#[track_caller]
fn summary(t: &TestEnv, id: &str, lines: &[String]) -> String {
    let last = lines.last().cloned().unwrap_or_default();
    let prefix = format!("secwrap: build {id}: ");
    let suffix = format!("; log {}", t.path("log.jsonl").display());
    assert!(
        last.starts_with(&prefix) && last.ends_with(&suffix),
        "not a summary: {last}"
    );
    last[prefix.len()..last.len() - suffix.len()].to_string()
}

/// The build's compile records (build-system probes left out), each
/// checked to carry the build id.
#[track_caller]
fn compiles(t: &TestEnv, id: &str) -> Vec<InvocationRecord> {
    t.records()
        .into_iter()
        .filter(|record| record.build.as_deref() == Some(id))
        .filter(|record| {
            record.kind.is(secwrap::classify::Classification::Compile)
                && !record.is_build_system_probe()
        })
        .collect()
}

/// One record per object in `objects` (relative to the tree), in any order.
#[track_caller]
fn assert_one_record_each(t: &TestEnv, records: &[InvocationRecord], objects: &[&str]) {
    let mut outputs: Vec<PathBuf> = records
        .iter()
        .map(|record| lexical(&t.path(some_text(&record.output))))
        .collect();
    outputs.sort();
    let mut expected: Vec<PathBuf> = objects.iter().map(|object| t.path(object)).collect();
    expected.sort();
    assert_eq!(outputs, expected, "{records:#?}");
    for record in records {
        assert_injected_split(record);
    }
}

/// The first stderr line of a run that made the shim directory.
#[track_caller]
fn assert_made_shims(t: &TestEnv, line: &str) {
    let prefix = "secwrap: shims: ";
    let middle = format!(" links in {} (", shim_dir(t).display());
    assert!(
        line.starts_with(prefix) && line.contains(&middle) && line.ends_with(" made)"),
        "not the shim line: {line}"
    );
}

compiler_tests! {
    /// make with its default `$(CC)` (`cc`), or `CC=<name>`: no secwrap on
    /// the make line at all.
    fn make_calls_the_compiler_by_name(cc) {
        if !require_program("make") {
            return;
        }
        let t = tree().file("Makefile", MAKEFILE);
        // gcc is `cc` here; clang is named.
        let cc_var = format!("CC={cc}");
        let command: Vec<&str> = if cc == "gcc" {
            vec!["make"]
        } else {
            vec!["make", cc_var.as_str()]
        };
        let lines = run_build(&t, "m1", &command);
        assert_made_shims(&t, &lines[0]);
        assert_eq!(
            summary(&t, "m1", &lines),
            "3 invocations (2 compile, 1 link_only), flags injected into 2, 0 failed, 2 flag probes by secwrap (1 run, 1 cached)"
        );
        t.assert_split("a.o");
        assert_one_record_each(&t, &compiles(&t, "m1"), &["a.o", "main.o"]);
        let name = if cc == "gcc" { "cc" } else { cc };
        for record in compiles(&t, "m1") {
            assert_eq!(texts(&record.argv)[0], name, "{record:#?}");
        }
        assert!(t.exists("prog"));

        // Again: the links are current, so the only line is the summary
        // (make's own lines are on stdout).
        std::fs::remove_file(t.path("a.o")).unwrap();
        let lines = run_build(&t, "m2", &command);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(
            summary(&t, "m2", &lines),
            "2 invocations (1 compile, 1 link_only), flags injected into 1, 0 failed, 1 flag probe by secwrap (0 run, 1 cached)"
        );
        assert_one_record_each(&t, &compiles(&t, "m2"), &["a.o"]);
    }

    /// A hand-written build.ninja that runs the compiler by name.
    fn ninja_calls_the_compiler_by_name(cc) {
        if !require_program("ninja") {
            return;
        }
        let t = tree().file(
            "build.ninja",
            format!("rule cc\n  command = {cc} -c $in -o $out\nbuild a.o: cc a.c\nbuild main.o: cc main.c\n"),
        );
        let lines = run_build(&t, "n1", &["ninja"]);
        assert_eq!(
            summary(&t, "n1", &lines),
            "2 invocations (2 compile), flags injected into 2, 0 failed, 2 flag probes by secwrap (1 run, 1 cached)"
        );
        t.assert_split("a.o");
        assert_one_record_each(&t, &compiles(&t, "n1"), &["a.o", "main.o"]);
    }

    /// A shell script calling the compiler by name; its own command too.
    fn a_script_calls_the_compiler_by_name(cc) {
        let t = tree().file("build.sh", format!("{cc} -c a.c -o a.o\n"));
        let lines = run_build(&t, "s1", &["sh", "build.sh"]);
        assert_made_shims(&t, &lines[0]);
        assert_eq!(
            summary(&t, "s1", &lines),
            "1 invocation (1 compile), flags injected into 1, 0 failed, 1 flag probe by secwrap (1 run, 0 cached)"
        );
        t.assert_split("a.o");
        assert_one_record_each(&t, &compiles(&t, "s1"), &["a.o"]);
        // The command itself is looked up on the new PATH.
        run_build(&t, "s2", &[cc, "-c", "main.c", "-o", "main.o"]);
        assert_one_record_each(&t, &compiles(&t, "s2"), &["main.o"]);
    }

    /// CMake configured inside `secwrap run` stores the link's path, so a
    /// later `cmake --build` (a second one after a touched source too) is
    /// still split and recorded.
    fn cmake_configured_inside_run(cc) {
        if !require_program("cmake") || !require_program("make") {
            return;
        }
        let t = tree().file(
            "CMakeLists.txt",
            "cmake_minimum_required(VERSION 3.13)\nproject(p C)\nadd_executable(prog a.c main.c)\n",
        );
        let compiler = format!("-DCMAKE_C_COMPILER={cc}");
        let mut configure = vec!["cmake", "-S", ".", "-B", "b"];
        if cc != "gcc" {
            configure.push(compiler.as_str());
        }
        run_build(&t, "configure", &configure);
        let cache = t.read_text("b/CMakeCache.txt");
        let stored = cache
            .lines()
            .find(|line| line.starts_with("CMAKE_C_COMPILER:"))
            .unwrap_or_else(|| panic!("no CMAKE_C_COMPILER in the cache:\n{cache}"));
        assert!(
            stored.contains(shim_dir(&t).to_str().unwrap()),
            "CMake did not store the shim's path: {stored}"
        );

        let lines = run_build(&t, "b1", &["cmake", "--build", "b"]);
        assert_eq!(
            summary(&t, "b1", &lines),
            "3 invocations (2 compile, 1 link_only), flags injected into 2, 0 failed, 2 flag probes by secwrap (0 run, 2 cached)"
        );
        let objects = ["b/CMakeFiles/prog.dir/a.c.o", "b/CMakeFiles/prog.dir/main.c.o"];
        t.assert_split(objects[0]);
        assert_one_record_each(&t, &compiles(&t, "b1"), &objects);

        // A touched source: recompiled through the stored link. Dated
        // ahead, so it is newer than its object whatever the clock's
        // granularity.
        t.write("a.c", format!("{A_C}int more(void) {{ return 2; }}\n"));
        std::fs::File::options()
            .write(true)
            .open(t.path("a.c"))
            .and_then(|file| {
                file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            })
            .expect("date a.c ahead");
        let lines = run_build(&t, "b2", &["cmake", "--build", "b"]);
        assert_eq!(
            summary(&t, "b2", &lines),
            "2 invocations (1 compile, 1 link_only), flags injected into 1, 0 failed, 1 flag probe by secwrap (0 run, 1 cached)"
        );
        t.assert_split(objects[0]);
        assert!(
            t.sections(objects[0]).iter().any(|name| name == ".text.more"),
            "{:?}",
            t.sections(objects[0])
        );
        assert_one_record_each(&t, &compiles(&t, "b2"), &objects[..1]);
    }
}

/// Meson configured and compiled inside `secwrap run`, its default `cc`.
#[test]
fn meson_setup_and_compile_inside_run() {
    if !require_program("meson") || !require_program("ninja") || !require_compiler("gcc") {
        return;
    }
    // Meson puts sccache or ccache in front of the compiler by itself
    // when `sccache --version` or `ccache --version` succeeds
    // (`BinaryTable.detect_compiler_cache`), unless CC is set; a launcher
    // in front of secwrap is what the shim refuses (`route::LauncherAbove`,
    // README "secwrap run"). Stand-ins that fail hide them, as on a machine
    // without either.
    let t = tree().file(
        "meson.build",
        "project('p', 'c')\nexecutable('prog', 'a.c', 'main.c')\n",
    );
    for launcher in ["sccache", "ccache"] {
        t.executable(
            Path::new("no-launchers").join(launcher),
            "#!/bin/sh\nexit 1\n",
        );
    }
    let path = path_with_first(&[&t.path("no-launchers")]);
    let t = t.env("PATH", path);
    run_build(&t, "setup", &["meson", "setup", "b"]);
    let lines = run_build(&t, "m1", &["meson", "compile", "-C", "b"]);
    // `meson compile` asks the compiler its version once (the info_query).
    assert_eq!(
        summary(&t, "m1", &lines),
        "4 invocations (2 compile, 1 info_query, 1 link_only), flags injected into 2, 0 failed, 2 flag probes by secwrap (0 run, 2 cached)"
    );
    let objects = ["b/prog.p/a.c.o", "b/prog.p/main.c.o"];
    t.assert_split(objects[0]);
    assert_one_record_each(&t, &compiles(&t, "m1"), &objects);
}

/// `CC="secwrap gcc"` with the shims on PATH: secwrap skips its own links
/// as it resolves `gcc`, so each compile is wrapped once, one record.
#[test]
fn secwrap_in_cc_is_not_wrapped_twice() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = tree().file("Makefile", MAKEFILE);
    let cc = format!("CC={SECWRAP} gcc");
    let lines = run_build(&t, "twice", &["make", cc.as_str()]);
    assert_eq!(
        summary(&t, "twice", &lines),
        "3 invocations (2 compile, 1 link_only), flags injected into 2, 0 failed, 2 flag probes by secwrap (1 run, 1 cached)"
    );
    let records = compiles(&t, "twice");
    assert_one_record_each(&t, &records, &["a.o", "main.o"]);
    for record in &records {
        assert_eq!(text(&record.compiler), real("gcc").to_str().unwrap());
        assert_eq!(texts(&record.argv)[0], SECWRAP);
    }
    assert_eq!(t.records().len(), 3);
}

/// `--no-shims`: PATH as it was, so a build calling `cc` is not seen; the
/// summary says what is.
#[test]
fn no_shims_leaves_path_alone() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = tree().file("Makefile", MAKEFILE);
    t.run(&["run", "--build-id", "plain", "--no-shims", "--", "make", "a.o"])
        .stdout("cc -c a.c -o a.o\n")
        .stderr(format!(
            "secwrap: build plain: no compiler invocations recorded; log {}: did the build call the compiler through secwrap? (CC=\"secwrap gcc\", or a shim directory first on PATH: --no-shims left PATH as it was; a compiler named by absolute path, e.g. CC=/usr/bin/gcc, is not seen)\n",
            t.path("log.jsonl").display()
        ))
        .go();
    t.assert_not_split("a.o");
    assert!(t.records().is_empty());
    assert!(!shim_dir(&t).exists(), "--no-shims made the shim directory");
}

/// A compiler named by absolute path is not seen by a shim: the summary
/// says so, naming the shim directory.
#[test]
fn a_compiler_named_by_path_is_not_seen_and_the_summary_says_why() {
    if !require_compiler("gcc") {
        return;
    }
    let t = tree();
    let gcc = real("gcc");
    let gcc = gcc.to_str().unwrap();
    let out = t
        .run(&[
            "run",
            "--build-id",
            "abs",
            "--",
            gcc,
            "-c",
            "a.c",
            "-o",
            "a.o",
        ])
        .stderr_contains("secwrap: shims: ")
        .go();
    let last = out
        .stderr_text()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        last,
        format!(
            "secwrap: build abs: no compiler invocations recorded; log {}: did the build call the compiler through secwrap? (CC=\"secwrap gcc\", or by name: secwrap's shims in `{}` were first on PATH; a shim cannot see a compiler named by absolute path, e.g. CC=/usr/bin/gcc, nor the one a CMake or Meson build directory configured before `secwrap run` stored: configure inside `secwrap run`)",
            t.path("log.jsonl").display(),
            shim_dir(&t).display()
        )
    );
    t.assert_not_split("a.o");
}

/// Flags skipped are counted by reason: an excluded source.
#[test]
fn the_summary_counts_skipped_flags_by_reason() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let t = tree()
        .file("Makefile", MAKEFILE)
        .config("kconfig = \".config\"\nexclude = [\"main.c\"]\n");
    let lines = run_build(&t, "ex", &["make", "a.o", "main.o"]);
    assert_eq!(
        summary(&t, "ex", &lines),
        "2 invocations (2 compile), flags injected into 1, 0 failed, flags skipped: excluded in 1, 1 flag probe by secwrap (1 run, 0 cached)"
    );
    t.assert_split("a.o");
    t.assert_not_split("main.o");
}

/// An option `run` does not have, before `--`, is a usage error and
/// nothing runs (a misspelt `--no-shims` must not become the command).
#[test]
fn a_misspelt_option_is_a_usage_error() {
    let t = TestEnv::new();
    t.run(&["run", "--no-shim", "--", "touch", "ran"])
        .status(secwrap::exit::EXIT_ERROR)
        .stderr_contains("secwrap: error: unexpected argument '--no-shim' found\n")
        .go();
    assert!(!t.exists("ran"), "the command ran");
    assert!(!Path::new(&shim_dir(&t)).exists());
}

/// A shim directory that is not the user's own real one is refused
/// before the command runs, naming it and the way out.
#[test]
fn an_unsafe_shim_directory_stops_the_run() {
    let t = TestEnv::new();
    std::fs::create_dir_all(t.path("elsewhere")).unwrap();
    symlink(t.path("elsewhere"), shim_dir(&t));
    t.run(&["run", "--", "touch", "ran"])
        .status(secwrap::exit::EXIT_ERROR)
        .stderr(format!(
            "secwrap: error: cannot use shim directory `{}`: it is a symlink; `secwrap run --no-shims` leaves PATH alone\n",
            shim_dir(&t).display()
        ))
        .go();
    assert!(!t.exists("ran"), "the command ran");
    t.run(&["run", "--no-shims", "--", "touch", "ran"])
        .stderr_contains("no compiler invocations recorded")
        .go();
    assert!(t.exists("ran"));
}

/// `CC="ccache gcc"` under `secwrap run`: ccache finds secwrap's `gcc`
/// link on PATH and runs above it, which strict mode refuses with the
/// shim's launcher message (README "Launchers go after secwrap"); nothing
/// is compiled or recorded. `CC="secwrap ccache gcc"` is the right order.
#[test]
fn a_launcher_in_cc_finds_the_shim_and_is_refused() {
    if !require_compiler("gcc") || !require_program("make") || !require_program("ccache") {
        return;
    }
    let t = tree().file("Makefile", MAKEFILE);
    t.run(&["run", "--build-id", "cc", "--", "make", "CC=ccache gcc", "a.o"])
        .status(2)
        .stdout("ccache gcc -c a.c -o a.o\n")
        .stderr_contains("secwrap: error: secwrap runs under ccache (`UNCACHED_ERR_FD` is set, as ccache sets it for the compiler it runs): ccache runs before secwrap")
        .stderr_contains("secwrap: build cc: no compiler invocations recorded; ")
        .go();
    assert!(!t.exists("a.o"));
    let cc = format!("CC={SECWRAP} ccache gcc");
    let lines = run_build(&t, "right", &["make", cc.as_str(), "a.o"]);
    assert_eq!(
        summary(&t, "right", &lines),
        "1 invocation (1 compile), flags injected into 1, 0 failed, 1 flag probe by secwrap (1 run, 0 cached)"
    );
    t.assert_split("a.o");
    let records = compiles(&t, "right");
    assert_eq!(
        some_text(&records[0].launcher),
        real("ccache").canonicalize().unwrap().to_str().unwrap()
    );
}

/// A build that keeps the shim's refusal to itself and falls back to the
/// compiler by path, as configure and Meson's compiler checks do with a
/// compiler that fails: the build succeeds unsplit, so the run must say
/// what secwrap stopped and fail (`run_report.rs`).
#[test]
fn a_stopped_call_the_build_hid_fails_the_run() {
    if !require_compiler("gcc") || !require_program("ccache") {
        return;
    }
    let gcc = real("gcc");
    let t = tree().file(
        "build.sh",
        format!(
            "ccache gcc -c a.c -o a.o 2>/dev/null || {} -c a.c -o a.o\n",
            gcc.display()
        ),
    );
    t.run(&["run", "--build-id", "hid", "--", "sh", "build.sh"])
        .status(2)
        .stderr_contains("secwrap: build hid: no compiler invocations recorded; ")
        // ccache runs the compiler once or twice (preprocessor mode).
        .stderr_contains("secwrap: error: build hid: secwrap stopped ")
        .stderr_contains(", which the build may not have shown: secwrap runs under ccache")
        .go();
    t.assert_not_split("a.o");
    // Nothing is left of the run's report directory (TMPDIR is the tree's).
    let leftovers: Vec<_> = std::fs::read_dir(t.path("tmp"))
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("secwrap-run-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
