//! Every recipe in `wrappers/` as written, with the real tool: CMake (the
//! launcher, and the include by absolute and by installed path, before a
//! ccache, without secwrap), Meson's native file, autoconf + automake +
//! libtool, `dpkg-buildpackage` with the Debian snippet (autoconf, meson and
//! cmake packages) and `rpmbuild` with the RPM macros. Each builds the
//! fixture project in `fixtures/recipes/` (a library `util.c` and a program
//! `main.c`, a `secwrap.toml` with the `init --always` rule, as a package
//! without Kconfig has) and checks every object is split, each compile is
//! recorded once with the build id the recipe sets, in the log the recipe
//! names.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use secwrap::classify::Classification;
use secwrap::record::InvocationRecord;

use crate::common::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/recipes")
}

fn wrapper(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("wrappers")
        .join(rel)
}

/// The directory of the binary under test, which the recipes find on PATH.
fn secwrap_dir() -> &'static Path {
    Path::new(SECWRAP).parent().expect("secwrap's directory")
}

/// The harness PATH with the binary under test first.
fn path_with_secwrap() -> OsString {
    path_with_first(&[secwrap_dir()])
}

/// The harness PATH without any directory holding a `secwrap` (a `cargo
/// install`ed one in `~/.cargo/bin` would be found otherwise).
fn path_without_secwrap() -> OsString {
    let kept: Vec<PathBuf> = std::env::split_paths(&default_path())
        .filter(|dir| !dir.join("secwrap").exists())
        .collect();
    std::env::join_paths(kept).expect("PATH entries join")
}

/// A tree for one recipe: the project (sources, `secwrap.toml`, and the
/// build files of `system`: `autotools`, `cmake`, `meson`, `make`) in
/// `dir`; secwrap on PATH; no `SECWRAP_LOG` of the harness's own unless
/// `log` (the recipe under test sets it).
fn project(dir: &str, system: &str, log: bool) -> TestEnv {
    let mut t = TestEnv::new().env("PATH", path_with_secwrap());
    if !log {
        t = t.env_remove("SECWRAP_LOG");
    }
    let fixtures = fixtures();
    for rel in ["src/util.c", "src/main.c", "secwrap.toml"] {
        t.write(Path::new(dir).join(rel), read(&fixtures.join(rel)));
    }
    for entry in std::fs::read_dir(fixtures.join(system)).expect("fixture directory") {
        let entry = entry.expect("directory entry");
        t.write(Path::new(dir).join(entry.file_name()), read(&entry.path()));
    }
    t
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// The `.o` files under `dir` (build-system probes' `conftest.o` are
/// removed by the tools that make them), sorted.
fn objects_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() && !path.is_symlink() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "o") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &mut found);
    found.sort();
    found
}

/// Asserts each object is split: `util`'s have `.text.get`, `.text.set`
/// and `.data.counter`, `main`'s `.text.main` (`.text.startup.main` when
/// optimised: gcc's name for a split `main` at -O2, where an unsplit one is
/// in `.text.startup`).
#[track_caller]
fn assert_objects_split(objects: &[PathBuf]) {
    for object in objects {
        let sections = sections(object);
        let name = object.file_name().unwrap().to_string_lossy();
        let has = |section: &str| sections.iter().any(|name| name == section);
        if name.contains("util") {
            for section in SPLIT_SECTIONS {
                assert!(
                    has(section),
                    "{} lacks {section}: {sections:?}",
                    object.display()
                );
            }
        } else if name.contains("main") {
            assert!(
                has(".text.main") || has(".text.startup.main"),
                "{} lacks .text.main: {sections:?}",
                object.display()
            );
        } else {
            panic!("unexpected object {}", object.display())
        }
    }
}

/// The tree's own compiles among `records` (not build-system probes), by
/// output.
fn tree_compiles(records: &[InvocationRecord]) -> Vec<&InvocationRecord> {
    records
        .iter()
        .filter(|record| record.kind.is(Classification::Compile) && !record.is_build_system_probe())
        .collect()
}

/// Asserts the tree's compiles in `records` are exactly one per object in
/// `objects` (util and main: at least two), each with the split flags
/// injected and a build id `build` accepts.
#[track_caller]
fn assert_recorded(
    records: &[InvocationRecord],
    objects: &[PathBuf],
    build: impl Fn(&str) -> bool,
) {
    assert!(
        objects.len() >= 2,
        "expected util and main objects: {objects:?}"
    );
    let compiles = tree_compiles(records);
    let mut outputs: Vec<PathBuf> = compiles
        .iter()
        .map(|record| PathBuf::from(some_text(&record.output)))
        .collect();
    outputs.sort();
    assert_eq!(outputs, objects, "one record per compile: {compiles:#?}");
    for record in compiles {
        assert_injected_split(record);
        let id = record.build.as_deref().unwrap_or("");
        assert!(build(id), "build id `{id}`: {record:#?}");
    }
}

/// CMake's objects of the fixture: `util` (a shared library) and `main`.
fn cmake_objects(build: &Path) -> Vec<PathBuf> {
    let objects = objects_under(build);
    assert_eq!(
        objects.len(),
        2,
        "objects under {}: {objects:?}",
        build.display()
    );
    objects
}

/// `cmake -G Ninja -S src -B build ARGS...` (its stdout declared to hold
/// `stdout`), then `cmake --build build` with `SECWRAP_BUILD_ID=id` in the
/// environment, as the include says the build id comes.
fn cmake_build(t: TestEnv, args: &[&str], stdout: &str, id: &str) -> TestEnv {
    let mut configure = vec!["-G", "Ninja", "-S", "src", "-B", "build"];
    configure.extend_from_slice(args);
    t.run_program("cmake", &configure)
        .stdout_contains(stdout)
        .go();
    let t = t.env("SECWRAP_BUILD_ID", id);
    t.run_program("cmake", &["--build", "build"])
        .stdout_any()
        .go();
    t
}

fn require_all(programs: &[&str]) -> bool {
    programs.iter().all(|program| require_program(program))
}

#[test]
fn cmake_launcher_on_the_command_line() {
    if !require_all(&["cmake", "ninja", "gcc"]) {
        return;
    }
    let t = project("src", "cmake", true);
    let t = cmake_build(
        t,
        &[
            "-DCMAKE_C_COMPILER_LAUNCHER=secwrap",
            "-DCMAKE_CXX_COMPILER_LAUNCHER=secwrap",
        ],
        "Build files have been written",
        "cmake-launcher",
    );
    let objects = cmake_objects(&t.path("build"));
    assert_objects_split(&objects);
    assert_recorded(&t.records(), &objects, |id| id == "cmake-launcher");
}

#[test]
fn cmake_include_by_absolute_path() {
    if !require_all(&["cmake", "ninja", "gcc"]) {
        return;
    }
    let t = project("src", "cmake", true);
    let include = format!(
        "-DCMAKE_PROJECT_INCLUDE={}",
        wrapper("cmake/secwrap-launcher.cmake").display()
    );
    let t = cmake_build(
        t,
        &[&include],
        &format!("-- secwrap: C compiles go through {SECWRAP}\n"),
        "cmake-include",
    );
    let objects = cmake_objects(&t.path("build"));
    assert_objects_split(&objects);
    assert_recorded(&t.records(), &objects, |id| id == "cmake-include");
}

#[test]
fn cmake_include_from_install_support() {
    if !require_all(&["cmake", "ninja", "gcc"]) {
        return;
    }
    let t = project("src", "cmake", true);
    let prefix = t.path("prefix");
    t.run(&["install-support".as_ref(), prefix.as_os_str()])
        .stdout_contains("install-support: ")
        .go();
    let include = format!(
        "-DCMAKE_PROJECT_INCLUDE={}",
        prefix
            .join("share/secwrap/cmake/secwrap-launcher.cmake")
            .display()
    );
    let t = cmake_build(
        t,
        &[&include],
        &format!("-- secwrap: C compiles go through {SECWRAP}\n"),
        "cmake-installed",
    );
    let objects = cmake_objects(&t.path("build"));
    assert_objects_split(&objects);
    assert_recorded(&t.records(), &objects, |id| id == "cmake-installed");
}

/// A launcher the user set stays, after secwrap: `secwrap;ccache`, so the
/// cache key sees the flags. Built twice (the second from the cache): split
/// and recorded both times, ccache the recorded launcher.
#[test]
fn cmake_include_goes_before_ccache() {
    if !require_all(&["cmake", "ninja", "gcc", "ccache"]) {
        return;
    }
    let t = project("src", "cmake", true);
    let ccache_dir = t.path("ccache");
    let t = t.env("CCACHE_DIR", ccache_dir);
    let include = format!(
        "-DCMAKE_PROJECT_INCLUDE={}",
        wrapper("cmake/secwrap-launcher.cmake").display()
    );
    let t = cmake_build(
        t,
        &[&include, "-DCMAKE_C_COMPILER_LAUNCHER=ccache"],
        &format!("-- secwrap: C compiles go through {SECWRAP}, then 'ccache'\n"),
        "cmake-ccache-1",
    );
    let objects = cmake_objects(&t.path("build"));
    assert_objects_split(&objects);
    let first = t.records();
    assert_recorded(&first, &objects, |id| id == "cmake-ccache-1");
    let ccache = real("ccache");
    for record in tree_compiles(&first) {
        assert_eq!(
            some_text(&record.launcher),
            ccache.to_str().unwrap(),
            "{record:#?}"
        );
    }
    // Again from scratch: ccache answers from its cache, the objects are
    // still split, and each compile is recorded again.
    std::fs::remove_dir_all(t.path("build")).expect("remove the build");
    let t = cmake_build(
        t,
        &[&include, "-DCMAKE_C_COMPILER_LAUNCHER=ccache"],
        "then 'ccache'",
        "cmake-ccache-2",
    );
    assert_objects_split(&objects);
    let second: Vec<InvocationRecord> = t
        .records()
        .into_iter()
        .filter(|record| record.build.as_deref() == Some("cmake-ccache-2"))
        .collect();
    assert_recorded(&second, &objects, |id| id == "cmake-ccache-2");
    // The second build's two compiles came from the cache.
    let (hits, _) = ccache_hits_and_misses(&t);
    assert_eq!(hits, 2, "{:?}", ccache_stats(&t));
}

/// A launcher list that already runs secwrap is left as it is: no second
/// secwrap in front.
#[test]
fn cmake_include_leaves_a_list_with_secwrap() {
    if !require_all(&["cmake", "ninja", "gcc", "ccache"]) {
        return;
    }
    let t = project("src", "cmake", true);
    let ccache_dir = t.path("ccache");
    let t = t.env("CCACHE_DIR", ccache_dir);
    let include = format!(
        "-DCMAKE_PROJECT_INCLUDE={}",
        wrapper("cmake/secwrap-launcher.cmake").display()
    );
    let t = cmake_build(
        t,
        &[&include, "-DCMAKE_C_COMPILER_LAUNCHER=secwrap;ccache"],
        "-- secwrap: CMAKE_C_COMPILER_LAUNCHER already runs secwrap ('secwrap;ccache'), leaving it\n",
        "cmake-listed",
    );
    let objects = cmake_objects(&t.path("build"));
    assert_objects_split(&objects);
    let records = t.records();
    assert_recorded(&records, &objects, |id| id == "cmake-listed");
    for record in tree_compiles(&records) {
        let argv = texts(&record.argv);
        // As the user wrote it, once.
        assert_eq!(argv[..2], ["secwrap", "ccache"], "{record:#?}");
    }
}

/// Collapses CMake's line wrapping of a message, so a sentence can be
/// looked for whole.
fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn cmake_include_without_secwrap_fails() {
    if !require_all(&["cmake", "ninja", "gcc"]) {
        return;
    }
    let t = project("src", "cmake", true).env("PATH", path_without_secwrap());
    let include = format!(
        "-DCMAKE_PROJECT_INCLUDE={}",
        wrapper("cmake/secwrap-launcher.cmake").display()
    );
    let out = t
        .run_program(
            "cmake",
            &["-G", "Ninja", "-S", "src", "-B", "build", &include],
        )
        .status(1)
        .stdout_any()
        .stderr_contains("CMake Error at")
        .go();
    let stderr = unwrapped(&out.stderr_text());
    assert!(
        stderr.contains(
            "secwrap: not found on PATH; install it (cargo install), give -DSECWRAP=/path/to/secwrap, or -DSECWRAP_OPTIONAL=ON to build without it"
        ),
        "{stderr}"
    );
    assert!(!t.exists("build/build.ninja"), "configure went on");
}

#[test]
fn cmake_include_optional_without_secwrap_warns_and_builds() {
    if !require_all(&["cmake", "ninja", "gcc"]) {
        return;
    }
    let t = project("src", "cmake", true).env("PATH", path_without_secwrap());
    let include = format!(
        "-DCMAKE_PROJECT_INCLUDE={}",
        wrapper("cmake/secwrap-launcher.cmake").display()
    );
    let out = t
        .run_program(
            "cmake",
            &[
                "-G",
                "Ninja",
                "-S",
                "src",
                "-B",
                "build",
                &include,
                "-DSECWRAP_OPTIONAL=ON",
            ],
        )
        .stdout_any()
        .stderr_contains("CMake Warning at")
        .go();
    assert!(
        unwrapped(&out.stderr_text()).contains(
            "secwrap: not found on PATH; SECWRAP_OPTIONAL is ON, so compiling without it"
        ),
        "{}",
        out.stderr_text()
    );
    t.run_program("cmake", &["--build", "build"])
        .stdout_any()
        .go();
    // Built, and without secwrap: unsplit, nothing recorded.
    let objects = cmake_objects(&t.path("build"));
    let util = objects
        .iter()
        .find(|object| object.to_string_lossy().contains("util"))
        .expect("util's object");
    assert!(
        !sections(util).iter().any(|name| name == ".text.get"),
        "{}",
        util.display()
    );
    assert!(t.records().is_empty(), "{:#?}", t.records());
}

#[test]
fn meson_native_file() {
    if !require_all(&["meson", "ninja", "gcc"]) {
        return;
    }
    let t = project("src", "meson", true);
    let native = wrapper("meson/secwrap-native.ini");
    t.run_program(
        "meson",
        &[
            "setup".as_ref(),
            t.path("build").as_os_str(),
            t.path("src").as_os_str(),
            "--native-file".as_ref(),
            native.as_os_str(),
        ],
    )
    .stdout_contains("C compiler for the host machine: secwrap gcc")
    .go();
    let t = t.env("SECWRAP_BUILD_ID", "meson-1");
    t.run_program("meson", &["compile", "-C", "build"])
        .stdout_any()
        .go();
    let objects = objects_under(&t.path("build"));
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert_objects_split(&objects);
    let records = t.records();
    assert_recorded(&records, &objects, |id| id == "meson-1");
    // meson setup's compiler checks are in the log too, marked as probes.
    assert!(
        records.iter().any(InvocationRecord::is_build_system_probe),
        "{records:#?}"
    );
}

/// autoconf + automake + libtool, `./configure CC="secwrap gcc"`: the
/// static and the PIC object of the library (`src/util.o`,
/// `src/.libs/util.o`) and the program's are split and recorded; every
/// configure probe (`conftest.c`) is recorded as a build-system probe.
#[test]
fn autotools_with_libtool() {
    if !require_all(&["autoreconf", "libtoolize", "automake", "make", "gcc"]) {
        return;
    }
    let t = project("src", "autotools", true).cwd("src");
    t.run_program("autoreconf", &["-fi"])
        .stdout_any()
        .stderr_any()
        .go();
    // configure's default CFLAGS are `-g -O2`; no -O2 keeps the test quick.
    t.run_program("./configure", &["CC=secwrap gcc", "CFLAGS=-g"])
        .stdout_contains("checking for gcc... secwrap gcc")
        .go();
    let configure_records = t.records();
    let probes: Vec<&InvocationRecord> = configure_records
        .iter()
        .filter(|record| {
            texts(&record.inputs)
                .iter()
                .any(|input| input.ends_with("/conftest.c"))
        })
        .collect();
    assert!(probes.len() >= 5, "{configure_records:#?}");
    for record in &probes {
        assert!(record.is_build_system_probe(), "{record:#?}");
    }
    assert!(
        tree_compiles(&configure_records).is_empty(),
        "{configure_records:#?}"
    );
    let t = t.env("SECWRAP_BUILD_ID", "autotools-1");
    t.run_program("make", &["-s"])
        .stdout_any()
        .stderr_any()
        .go();
    let objects = objects_under(&t.path("src/src"));
    let names: Vec<String> = objects
        .iter()
        .map(|object| {
            object
                .strip_prefix(t.path("src"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["src/.libs/util.o", "src/main.o", "src/util.o"],
        "{objects:?}"
    );
    assert_objects_split(&objects);
    assert_recorded(&t.records(), &objects, |id| id == "autotools-1");
}

/// How `debian/rules` gets the snippet's common lines.
#[derive(Clone, Copy)]
enum Snippet {
    /// Pasted from `wrappers/debian/rules.snippet`.
    Pasted,
    /// `include PREFIX/share/secwrap/debian/rules.snippet`, as
    /// `secwrap install-support PREFIX` put it.
    Included,
}

/// A minimal Debian source package in `recipe-1.0/`: `debian/control`,
/// `changelog` (1.0-1), and `debian/rules` made of the snippet's common
/// lines (`how`) and those of `variant` (uncommented as a packager does),
/// then `dh $@` with `buildsystem`.
fn debian_package(
    system: &str,
    build_depends: &str,
    variant: &str,
    buildsystem: &str,
    how: Snippet,
) -> TestEnv {
    let t = project("recipe-1.0", system, false).env(
        "DEB_BUILD_OPTIONS",
        // No -O2 (main's function stays `.text.main`), no debug package.
        "noopt nostrip nocheck noautodbgsym",
    );
    t.write(
        "recipe-1.0/debian/control",
        format!(
            "Source: recipe\n\
             Section: devel\n\
             Priority: optional\n\
             Maintainer: secwrap tests <tests@example.invalid>\n\
             Build-Depends: debhelper-compat (= 13){build_depends}\n\
             Standards-Version: 4.6.2\n\
             Rules-Requires-Root: no\n\
             \n\
             Package: recipe\n\
             Architecture: any\n\
             Depends: ${{shlibs:Depends}}, ${{misc:Depends}}\n\
             Description: secwrap recipe test package\n \
             Built by secwrap's integration tests.\n"
        ),
    );
    t.write(
        "recipe-1.0/debian/changelog",
        "recipe (1.0-1) unstable; urgency=medium\n\n  * Test build.\n\n \
         -- secwrap tests <tests@example.invalid>  Wed, 02 Dec 2026 00:00:00 +0000\n",
    );
    let snippet = String::from_utf8(read(&wrapper("debian/rules.snippet"))).expect("UTF-8");
    let mut rules = String::from("#!/usr/bin/make -f\n");
    match how {
        Snippet::Pasted => rules.push_str(&snippet_lines(&snippet, None)),
        Snippet::Included => {
            let prefix = t.path("prefix");
            t.run(&["install-support".as_ref(), prefix.as_os_str()])
                .stdout_contains("install-support: ")
                .go();
            rules.push_str(&format!(
                "include {}\n",
                prefix.join("share/secwrap/debian/rules.snippet").display()
            ));
        }
    }
    rules.push_str(&snippet_lines(&snippet, Some(variant)));
    rules.push_str(&format!("\n%:\n\tdh $@ --buildsystem={buildsystem}\n"));
    t.executable("recipe-1.0/debian/rules", rules);
    t
}

/// The snippet's lines a packager pastes: the common ones (not comments),
/// or with `Some(variant)` those of `# --- Variant X:`, uncommented (a
/// commented line of the recipe is `#` and then no blank, its prose `# `).
fn snippet_lines(snippet: &str, variant: Option<&str>) -> String {
    let mut lines = String::new();
    let mut section: Option<&str> = None;
    for line in snippet.lines() {
        if let Some(header) = line.strip_prefix("# --- ") {
            section = header
                .strip_prefix("Variant ")
                .and_then(|rest| rest.split(':').next());
            if header == "end" {
                section = None;
            }
            continue;
        }
        match variant {
            None if section.is_none() && !line.starts_with('#') && !line.is_empty() => {
                lines.push_str(line);
                lines.push('\n');
            }
            Some(wanted) if section == Some(wanted) => {
                if let Some(code) = line.strip_prefix('#')
                    && !code.is_empty()
                    && !code.starts_with(' ')
                {
                    lines.push_str(code);
                    lines.push('\n');
                }
            }
            _ => {}
        }
    }
    assert!(!lines.is_empty(), "no lines for {variant:?} in the snippet");
    lines
}

/// `dpkg-buildpackage -us -uc -b` of the package; then the .deb is there,
/// the build dir's objects are split, and the log the snippet names (next
/// to the .deb, outside the build tree) holds one record per compile, all
/// of this build, `recipe-1.0-1-<UTC time>`.
fn dpkg_build_and_check(t: &TestEnv, build_dir: &str, objects_wanted: usize) {
    t.run_program("dpkg-buildpackage", &["-us", "-uc", "-b"])
        .cwd("recipe-1.0")
        .stdout_any()
        .stderr_any()
        .go();
    assert!(
        has_deb(t.root()),
        "no recipe_1.0-1_*.deb in {}",
        t.root().display()
    );
    let objects: Vec<PathBuf> = objects_under(&t.path("recipe-1.0").join(build_dir))
        .into_iter()
        .filter(|object| !object.starts_with(t.path("recipe-1.0/debian")))
        .collect();
    assert_eq!(objects.len(), objects_wanted, "{objects:?}");
    assert_objects_split(&objects);
    let log = t.path("recipe_1.0-1.secwrap.jsonl");
    let records = records_at(&log);
    assert!(!records.is_empty(), "no records in {}", log.display());
    let is_package_build = |id: &str| {
        id.strip_prefix("recipe-1.0-1-").is_some_and(|date| {
            date.len() == 16
                && date.ends_with('Z')
                && date.as_bytes()[8] == b'T'
                && date[..8]
                    .bytes()
                    .chain(date[9..15].bytes())
                    .all(|b| b.is_ascii_digit())
        })
    };
    assert_recorded(&records, &objects, is_package_build);
    // One build: every record, probes included, carries the same id.
    let first = records[0].build.clone();
    for record in &records {
        assert_eq!(record.build, first, "{record:#?}");
    }
}

fn has_deb(dir: &Path) -> bool {
    std::fs::read_dir(dir).expect("directory").any(|entry| {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        name.starts_with("recipe_1.0-1_") && name.ends_with(".deb")
    })
}

#[test]
fn dpkg_buildpackage_autoconf() {
    if !require_all(&["dpkg-buildpackage", "dh", "autoreconf", "libtoolize", "gcc"]) {
        return;
    }
    let t = debian_package("autotools", "", "A", "autoconf", Snippet::Pasted);
    // libtool's static and PIC objects of util, and main's.
    dpkg_build_and_check(&t, ".", 3);
}

#[test]
fn dpkg_buildpackage_meson() {
    if !require_all(&["dpkg-buildpackage", "dh", "meson", "ninja", "gcc"]) {
        return;
    }
    let t = debian_package(
        "meson",
        ", meson, ninja-build",
        "A",
        "meson",
        Snippet::Pasted,
    );
    dpkg_build_and_check(&t, ".", 2);
}

#[test]
fn dpkg_buildpackage_cmake() {
    if !require_all(&["dpkg-buildpackage", "dh", "cmake", "gcc"]) {
        return;
    }
    let t = debian_package("cmake", ", cmake", "C", "cmake", Snippet::Included);
    dpkg_build_and_check(&t, ".", 2);
}

/// Variant B: a `secwrap shims` directory under `debian/` first on PATH,
/// for an upstream Makefile that runs `cc` by name (make's default
/// `$(CC)`; no CC set anywhere).
#[test]
fn dpkg_buildpackage_shims() {
    if !require_all(&["dpkg-buildpackage", "dh", "make", "gcc"]) {
        return;
    }
    let t = debian_package("make", "", "B", "makefile", Snippet::Pasted);
    dpkg_build_and_check(&t, ".", 2);
    let link = t.path("recipe-1.0/debian/.secwrap-shims/cc");
    assert_eq!(
        std::fs::read_link(&link)
            .unwrap_or_else(|error| panic!("{}: {error}", link.display()))
            .canonicalize()
            .unwrap(),
        Path::new(SECWRAP).canonicalize().unwrap()
    );
}

/// Without secwrap on PATH, `debian/rules` stops as it is read, saying so,
/// before configure could fail with "C compiler cannot create executables".
#[test]
fn debian_rules_without_secwrap_says_so() {
    if !require_all(&["make", "dpkg-parsechangelog"]) {
        return;
    }
    let t = debian_package("autotools", "", "A", "autoconf", Snippet::Pasted)
        .env("PATH", path_without_secwrap());
    t.run_program("make", &["-f", "debian/rules", "build"])
        .cwd("recipe-1.0")
        .status(2)
        .stderr(
            "debian/rules:3: *** secwrap: not found on PATH; install it or put its directory on PATH.  Stop.\n",
        )
        .go();
    assert!(objects_under(&t.path("recipe-1.0")).is_empty());
}

/// A minimal spec building the plain-make variant from a tarball, with
/// `%secwrap_env` and `%make_build`, in a private `_topdir`.
fn rpm_tree() -> TestEnv {
    let t = project("top/unpacked/recipe-1.0", "make", false);
    std::fs::create_dir_all(t.path("top/SOURCES")).expect("SOURCES");
    t.run_program(
        "tar",
        &[
            "-C",
            "top/unpacked",
            "-czf",
            "top/SOURCES/recipe-1.0.tar.gz",
            "recipe-1.0",
        ],
    )
    .go();
    t.write(
        "top/SPECS/recipe.spec",
        "Name: recipe\n\
         Version: 1.0\n\
         Release: 1\n\
         Summary: secwrap recipe test package\n\
         License: MIT\n\
         Source0: recipe-1.0.tar.gz\n\
         \n\
         %description\n\
         Built by secwrap's integration tests.\n\
         \n\
         %prep\n\
         %setup -q\n\
         \n\
         %build\n\
         %secwrap_env\n\
         %make_build\n\
         \n\
         %install\n\
         %make_install\n\
         \n\
         %files\n\
         /usr/bin/recipe\n",
    );
    t
}

fn rpmbuild_args(t: &TestEnv) -> Vec<String> {
    vec![
        "--define".into(),
        format!("_topdir {}", t.path("top").display()),
        // No debuginfo subpackage: not what is tested, and slow.
        "--define".into(),
        "debug_package %{nil}".into(),
        "--load".into(),
        wrapper("rpm/macros.secwrap").display().to_string(),
        // Keep BUILD/ to look at the objects.
        "--noclean".into(),
        "--nodeps".into(),
        "-bb".into(),
        "top/SPECS/recipe.spec".into(),
    ]
}

/// `%secwrap_bin` found on PATH (no define); the log under `_topdir`,
/// outside the build directory; the build id the package's.
#[test]
fn rpmbuild_with_the_macros() {
    if !require_all(&["rpmbuild", "make", "gcc", "tar"]) {
        return;
    }
    let t = rpm_tree();
    t.run_program("rpmbuild", &rpmbuild_args(&t))
        .stdout_any()
        .stderr_any()
        .go();
    let arch = std::env::consts::ARCH;
    let rpm = format!("top/RPMS/{arch}/recipe-1.0-1.{arch}.rpm");
    assert!(t.exists(&rpm), "no {rpm}");
    let objects = objects_under(&t.path("top/BUILD/recipe-1.0"));
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert_objects_split(&objects);
    let records = records_at(&t.path("top/SECWRAP/recipe.jsonl"));
    assert_recorded(&records, &objects, |id| {
        id.strip_prefix("recipe-1.0-1-")
            .is_some_and(|date| date.len() == 16 && date.ends_with('Z'))
    });
    // The compiler secwrap was given is rpm's %{__cc}; secwrap itself the
    // one on PATH.
    for record in tree_compiles(&records) {
        assert_eq!(texts(&record.argv)[0], SECWRAP, "{record:#?}");
    }
}

/// Without secwrap on PATH the build stops in %build, saying so, before
/// anything is compiled.
#[test]
fn rpmbuild_without_secwrap_says_so() {
    if !require_all(&["rpmbuild", "make", "gcc", "tar"]) {
        return;
    }
    let t = rpm_tree().env("PATH", path_without_secwrap());
    t.run_program("rpmbuild", &rpmbuild_args(&t))
        .status(1)
        .stdout_any()
        .stderr_contains("\nerror: secwrap: 'secwrap' not found on PATH (")
        .stderr_contains("); install it, or rpmbuild --define 'secwrap_bin /path/to/secwrap'\n")
        .go();
    assert!(
        objects_under(&t.path("top/BUILD/recipe-1.0")).is_empty(),
        "compiled without secwrap"
    );
}
