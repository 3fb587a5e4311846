//! `secwrap shims`: a link for exactly the names secwrap takes for
//! compilers (the shim's own table), none for the tools installed beside
//! them; refreshed in place (re-pointed, stale ones removed), never
//! touching what is not its own; `--compilers`, `--check`, and the
//! directory checks.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// Driver names a shell rule would miss, and a plain one.
const COMPILERS: &[&str] = &[
    "gcc",
    "arm-none-eabi-gcc",
    "gcc72",
    "aarch64-linux-gnu-clang",
    "clang-14",
];

/// Tools whose names start or end like a driver's.
const TOOLS: &[&str] = &["gcc-ar-12", "clang-format-14", "gcc-nm"];

/// secwrap's physical path: what every link points at.
fn target() -> PathBuf {
    Path::new(SECWRAP).canonicalize().expect("secwrap's path")
}

/// A tree with tiny executables named `names` in `bin/` (the subcommand
/// looks at names only) and PATH = `bin/` only, so that the links are
/// exactly the ones planted.
fn planted(names: &[&str]) -> TestEnv {
    let t = TestEnv::new();
    for name in names {
        t.executable(Path::new("bin").join(name), "#!/bin/sh\nexit 0\n");
    }
    let path = t.path("bin");
    t.env("PATH", path)
}

/// The names in `dir`, each with what its symlink points at.
fn links(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut links: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| {
            let entry = entry.expect("directory entry");
            let target = std::fs::read_link(entry.path())
                .unwrap_or_else(|error| panic!("{}: {error}", entry.path().display()));
            (entry.file_name().into_string().expect("UTF-8 name"), target)
        })
        .collect();
    links.sort();
    links
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    names.sort();
    names
}

fn names(links: &[(String, PathBuf)]) -> Vec<String> {
    links.iter().map(|(name, _)| name.clone()).collect()
}

fn export_hint(dir: &Path) -> String {
    format!("use: export PATH=\"{}:$PATH\"", dir.display())
}

#[test]
fn links_compilers_and_not_tools_then_changes_nothing() {
    let mut all = COMPILERS.to_vec();
    all.extend(TOOLS);
    let t = planted(&all);
    let dir = t.path("links");
    let out = t.run(&["shims", "links"]).stdout_any().go();
    let mut expected_lines: Vec<String> = sorted(COMPILERS)
        .iter()
        .map(|name| format!("made    {}/{name} -> {}", dir.display(), target().display()))
        .collect();
    expected_lines.push(format!(
        "5 links in {} (5 made); {}",
        dir.display(),
        export_hint(&dir)
    ));
    assert_eq!(out.stdout_text(), expected_lines.join("\n") + "\n");
    let made = links(&dir);
    assert_eq!(names(&made), sorted(COMPILERS));
    assert!(
        made.iter().all(|(_, points_at)| *points_at == target()),
        "{made:?}"
    );
    // Created for the user alone.
    let mode = std::fs::metadata(&dir)
        .expect("links dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);

    // Idempotent: nothing to change, and it says so.
    t.run(&["shims", "links"])
        .stdout(format!(
            "5 links in {}, none changed; {}\n",
            dir.display(),
            export_hint(&dir)
        ))
        .go();
    assert_eq!(links(&dir), made);
}

/// The real compilers on the harness PATH, linked and then run through
/// the link: the object is split and the call recorded.
#[test]
fn real_compilers_are_linked_and_the_links_work() {
    if !require_compiler("gcc") || !require_compiler("clang") {
        return;
    }
    let t = TestEnv::livepatch();
    let dir = t.path("links");
    t.run(&["shims", "links"]).stdout_contains("made    ").go();
    let made = names(&links(&dir));
    for name in [
        "gcc".to_string(),
        "cc".to_string(),
        "clang".to_string(),
        versioned_name("gcc"),
        cross_prefixed_name("gcc"),
    ] {
        assert!(made.contains(&name), "no link for {name}: {made:?}");
    }
    // Tools beside them are not compilers.
    for name in made.iter() {
        assert!(
            !name.contains("-ar") && !name.contains("-nm") && !name.contains("format"),
            "a tool was linked: {name}"
        );
    }
    let t = t.env("PATH", path_with_first(&[&dir]));
    t.run_program("gcc", &["-c", "a.c", "-o", "a.o"]).go();
    t.run_program("clang", &["-c", "a.c", "-o", "b.o"]).go();
    t.assert_split("a.o");
    t.assert_split("b.o");
    let records = t.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(
        some_text(&records[0].output),
        t.path("a.o").to_str().unwrap()
    );
    assert_eq!(text(&records[0].compiler), real("gcc").to_str().unwrap());
    assert_eq!(text(&records[1].compiler), real("clang").to_str().unwrap());
}

/// secwrap moved (a rebuild elsewhere, a reinstall): the links to the old
/// binary, even dangling, are ours and re-pointed at the running one.
#[test]
fn links_are_re_pointed_after_secwrap_moved() {
    let t = planted(&["gcc", "cc"]);
    let dir = t.path("links");
    let old = t.path("old/secwrap");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::copy(SECWRAP, &old).expect("copy of secwrap");
    // An installation moved is both binaries: the subcommands are in the other.
    std::fs::copy(SECWRAP_CLI, old.with_file_name("secwrap-cli")).expect("copy of secwrap-cli");
    t.run_program(&old, &["shims", "links"])
        .stdout_contains("(2 made)")
        .go();
    assert!(links(&dir).iter().all(|(_, points_at)| *points_at == old));
    std::fs::remove_file(&old).unwrap();

    t.run(&["shims", "links"])
        .stdout(format!(
            "updated {0}/cc -> {1} (was {2})\n\
             updated {0}/gcc -> {1} (was {2})\n\
             2 links in {0} (2 updated); {3}\n",
            dir.display(),
            target().display(),
            old.display(),
            export_hint(&dir)
        ))
        .go();
    assert!(
        links(&dir)
            .iter()
            .all(|(_, points_at)| *points_at == target())
    );
}

#[test]
fn a_link_for_a_compiler_gone_from_path_is_removed() {
    let t = planted(&["gcc", "gcc-77"]);
    let dir = t.path("links");
    t.run(&["shims", "links"]).stdout_contains("(2 made)").go();
    std::fs::remove_file(t.path("bin/gcc-77")).unwrap();
    t.run(&["shims", "links"])
        .stdout(format!(
            "removed {0}/gcc-77 (no such compiler on PATH now)\n\
             1 link in {0} (1 removed); {1}\n",
            dir.display(),
            export_hint(&dir)
        ))
        .go();
    assert_eq!(names(&links(&dir)), ["gcc"]);
}

/// A file secwrap did not make is left alone, reported, exit 1; the other
/// links are made all the same.
#[test]
fn what_is_not_a_link_of_secwraps_is_left_alone() {
    let t = planted(&["gcc", "cc", "clang"]);
    let dir = t.path("links");
    t.write("links/gcc", "#!/bin/sh\necho mine\n");
    symlink("/bin/true", dir.join("cc"));
    let out = t
        .run(&["shims", "links"])
        .status(1)
        .stdout(format!(
            "made    {0}/clang -> {1}\n1 link in {0} (1 made); {2}\n",
            dir.display(),
            target().display(),
            export_hint(&dir)
        ))
        .stderr(format!(
            "secwrap: refusing to replace `{0}/cc`: a symlink to another program, not a link secwrap made; left alone\n\
             secwrap: refusing to replace `{0}/gcc`: a regular file, not a link secwrap made; left alone\n",
            dir.display()
        ))
        .go();
    assert_eq!(
        t.read_text("links/gcc"),
        "#!/bin/sh\necho mine\n",
        "{}",
        out.describe()
    );
    assert_eq!(
        std::fs::read_link(dir.join("cc")).unwrap(),
        Path::new("/bin/true")
    );
}

/// `--compilers`: only the names given (other links of secwrap's go);
/// a name that is no compiler, or no compiler on PATH, is an error.
#[test]
fn compilers_option_links_only_those() {
    let t = planted(&["gcc", "cc", "arm-none-eabi-gcc", "gcc-ar-12"]);
    let dir = t.path("links");
    t.run(&["shims", "links"]).stdout_contains("(3 made)").go();
    t.run(&["shims", "links", "--compilers", "gcc", "arm-none-eabi-gcc"])
        .stdout(format!(
            "removed {0}/cc (not among --compilers)\n\
             2 links in {0} (1 removed); {1}\n",
            dir.display(),
            export_hint(&dir)
        ))
        .go();
    assert_eq!(names(&links(&dir)), ["arm-none-eabi-gcc", "gcc"]);

    t.run(&["shims", "links", "--compilers", "gcc-ar-12"])
        .status(2)
        .stderr(
            "secwrap: error: `gcc-ar-12` is not a compiler name: --compilers takes C/C++ driver names (gcc, g++, cc, c++, clang, clang++, with a cross prefix or a version: `arm-none-eabi-gcc`, `gcc-12`)\n",
        )
        .go();
    t.run(&["shims", "links", "--compilers", "gcc,clang-99"])
        .status(2)
        .stderr(format!(
            "secwrap: error: compiler `clang-99` not found on PATH (`{}` and secwrap's own links skipped)\n",
            dir.display()
        ))
        .go();
    assert_eq!(
        names(&links(&dir)),
        ["arm-none-eabi-gcc", "gcc"],
        "an error changed nothing"
    );
}

/// `--check`: writes nothing; exit 0 when current and first on PATH, and
/// one line per problem (missing, stale, pointing elsewhere, not first)
/// with exit 1 otherwise.
#[test]
fn check_says_whether_the_directory_is_current_and_first() {
    let t = planted(&["gcc", "cc"]);
    let dir = t.path("links");
    let bin = t.path("bin");
    let fix = format!("run `secwrap shims {}`", dir.display());
    t.run(&["shims", "links", "--check"])
        .status(1)
        .stdout(format!(
            "`{0}` does not exist: {fix}\n`{0}` is not on PATH: export PATH=\"{0}:$PATH\"\n",
            dir.display()
        ))
        .go();
    assert!(!dir.exists(), "--check created the directory");

    t.run(&["shims", "links"]).stdout_contains("(2 made)").go();
    let first = std::env::join_paths([&dir, &bin]).unwrap();
    let t = t.env("PATH", &first);
    t.run(&["shims", "links", "--check"])
        .stdout(format!(
            "`{}` is current (2 links) and first on PATH\n",
            dir.display()
        ))
        .go();

    // A compiler added, one gone, one link pointing at another secwrap,
    // and the real compilers before the links on PATH.
    t.executable("bin/clang", "#!/bin/sh\nexit 0\n");
    std::fs::remove_file(t.path("bin/cc")).unwrap();
    std::fs::remove_file(dir.join("gcc")).unwrap();
    symlink("/opt/old/secwrap", dir.join("gcc"));
    let before = listing(&dir);
    let t = t.env("PATH", std::env::join_paths([&bin, &dir]).unwrap());
    t.run(&["shims", "links", "--check"])
        .status(1)
        .stdout(format!(
            "`{0}/clang` is missing (`{1}/clang` is on PATH): {fix}\n\
             `{0}/gcc` points at `/opt/old/secwrap`, not at this secwrap (`{2}`): {fix}\n\
             `{0}/cc` is stale: no `cc` on PATH now: {fix}\n\
             `{1}` comes before `{0}` on PATH and holds clang, gcc: they run without secwrap; put `{0}` first\n",
            dir.display(),
            bin.display(),
            target().display()
        ))
        .go();
    assert_eq!(listing(&dir), before, "--check changed the directory");
}

/// A ccache masquerade directory before the links: said in the words the
/// shim uses when it meets one (`route::LauncherAbove`).
#[test]
fn check_names_a_launcher_directory_before_the_links() {
    if !require_program("ccache") {
        return;
    }
    let t = planted(&["gcc"]);
    let dir = t.path("links");
    let masquerade = t.path("ccache-links");
    symlink(real("ccache"), masquerade.join("gcc"));
    t.run(&["shims", "links"]).stdout_contains("(1 made)").go();
    let path = std::env::join_paths([&masquerade, &dir, &t.path("bin")]).unwrap();
    t.env("PATH", path)
        .run(&["shims", "links", "--check"])
        .status(1)
        .stdout(format!(
            "`{1}/gcc` (a ccache masquerade link) comes before secwrap's `{0}` on PATH: ccache runs before secwrap, on the command line without secwrap's flags; put `{0}` before `{1}` on PATH, or take `{1}` off PATH and use launcher = [\"ccache\"] in secwrap.toml\n",
            dir.display(),
            masquerade.display()
        ))
        .go();
}

fn listing(dir: &Path) -> Vec<(String, PathBuf)> {
    links(dir)
}

/// The directory decides what every build runs as `gcc`: a symlink, one
/// others may write, or one of another user is refused.
#[test]
fn an_unsafe_directory_is_refused() {
    let t = planted(&["gcc"]);
    let refused = |dir: &Path, why: &str| {
        t.run(&["shims".as_ref(), dir.as_os_str()])
            .status(2)
            .stderr(format!(
                "secwrap: error: cannot use shim directory `{}`: {why}\n",
                dir.display()
            ))
            .go();
        t.run(&["shims".as_ref(), dir.as_os_str(), "--check".as_ref()])
            .status(2)
            .stderr(format!(
                "secwrap: error: cannot use shim directory `{}`: {why}\n",
                dir.display()
            ))
            .go();
    };
    std::fs::create_dir(t.path("real")).unwrap();
    symlink(t.path("real"), t.path("link"));
    refused(&t.path("link"), "it is a symlink");
    for mode in [0o777, 0o775, 0o1777] {
        let dir = t.path(format!("mode-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        refused(&dir, &format!("it is writable by others (mode {mode:04o})"));
    }
    t.write("file", "");
    refused(&t.path("file"), "it is not a directory");
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let dir = t.path("nobody");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        refused(&dir, "it is owned by uid 65534, not by you");
    }
    // Nothing was linked in any of them.
    assert!(std::fs::read_dir(t.path("real")).unwrap().next().is_none());
}

/// No DIR: `$XDG_DATA_HOME/secwrap/shims`, else
/// `$HOME/.local/share/secwrap/shims`.
#[test]
fn the_default_directory_is_per_user_data() {
    let t = planted(&["gcc"]);
    let xdg = t.path("xdg/data/secwrap/shims");
    t.run(&["shims"])
        .stdout_contains(&format!("1 link in {} (1 made)", xdg.display()))
        .go();
    assert_eq!(names(&links(&xdg)), ["gcc"]);
    let t = t.env_remove("XDG_DATA_HOME");
    let home = t.path("home/.local/share/secwrap/shims");
    t.run(&["shims"])
        .stdout_contains(&format!("1 link in {} (1 made)", home.display()))
        .go();
    assert_eq!(names(&links(&home)), ["gcc"]);
    // A relative XDG_DATA_HOME is ignored, as the XDG specification says.
    let t = t.env("XDG_DATA_HOME", "relative");
    t.run(&["shims"])
        .stdout_contains(&format!("1 link in {}, none changed", home.display()))
        .go();
}

/// Neither XDG_DATA_HOME nor HOME: no default directory, said as such,
/// for `secwrap shims` and for `secwrap run` (which then runs nothing).
#[test]
fn without_home_there_is_no_default_directory() {
    let t = planted(&["gcc"])
        .env_remove("XDG_DATA_HOME")
        .env_remove("HOME");
    t.run(&["shims"])
        .status(2)
        .stderr("secwrap: error: no shim directory: neither XDG_DATA_HOME nor HOME is an absolute path; give DIR\n")
        .go();
    t.run(&["run", "--", "touch", "ran"])
        .status(2)
        .stderr("secwrap: error: no shim directory: neither XDG_DATA_HOME nor HOME is an absolute path; `secwrap run --no-shims` leaves PATH alone\n")
        .go();
    assert!(!t.exists("ran"), "the command ran");
}

/// `--check` from inside a launcher's compile (ccache sets
/// `UNCACHED_ERR_FD` for what it runs): the launcher runs first whatever
/// PATH says, in the shim's words.
#[test]
fn check_sees_a_launcher_above_it() {
    let t = planted(&["gcc"]);
    let dir = t.path("links");
    t.run(&["shims", "links"]).stdout_contains("(1 made)").go();
    let path = std::env::join_paths([&dir, &t.path("bin")]).unwrap();
    t.env("PATH", path)
        .env("UNCACHED_ERR_FD", "2")
        .run(&["shims", "links", "--check"])
        .status(1)
        .stdout("secwrap runs under ccache (`UNCACHED_ERR_FD` is set, as ccache sets it for the compiler it runs): ccache runs before secwrap, on the command line without secwrap's flags; run secwrap first: `secwrap ccache gcc`, or `gcc` with launcher = [\"ccache\"] in secwrap.toml\n")
        .go();
}
