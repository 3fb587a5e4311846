//! The trust model (README, "Trust"): a `secwrap.toml` or `.config` found
//! upward that someone else could have planted is refused, and a found
//! file may not set what runs programs or writes files. Files are given to
//! another user with chown, which needs root: under CI these tests must
//! run (CI runs as root); elsewhere, without root, they say so and stop.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use secwrap::inject::SkipReason;

/// The uid of the planting user: no account is needed for a file to be
/// owned by it.
const MALLORY: u32 = 4242;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("the trust tests must run as root under CI (chown to another user)");
    }
    eprintln!("skipped: not root, cannot give files to another user");
    false
}

fn chown(path: &std::path::Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None)
        .unwrap_or_else(|error| panic!("chown {}: {error}", path.display()));
}

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A shared sticky directory (as /tmp) with the victim's tree inside, and
/// a program that leaves `pwned` when anything runs it.
fn shared_tree() -> TestEnv {
    let t = TestEnv::new()
        .file("shared/victim/a.c", A_C)
        .cwd("shared/victim");
    chmod(&t.path("shared"), 0o1777);
    let pwned = t.path("pwned");
    t.executable(
        "evil.sh",
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec \"$@\"\n",
            pwned.display()
        ),
    );
    t
}

#[test]
fn a_config_planted_by_another_user_is_refused() {
    if !is_root() {
        return;
    }
    let t = shared_tree();
    let planted = t.path("shared/secwrap.toml");
    t.write(
        &planted,
        format!("launcher = [\"{}\"]\n", t.path("evil.sh").display()),
    );
    chown(&planted, MALLORY);
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"])
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: not trusted: owned by uid {MALLORY} (see README \"Trust\")\n",
            planted.display()
        ))
        .go();
    assert!(!t.exists("pwned") && !t.exists("shared/victim/a.o"));
    // Passthrough: a warning, and the compiler as asked for (no launcher).
    let t = t.env("SECWRAP_ON_ERROR", "passthrough");
    let out = t
        .run(&["gcc", "-c", "a.c", "-o", "a.o"])
        .stderr_contains("not trusted: owned by uid 4242")
        .go();
    assert!(out.stderr_text().starts_with("secwrap: warning: "));
    assert!(!t.exists("pwned"));
    t.assert_not_split("shared/victim/a.o");
}

#[test]
fn a_config_others_can_write_is_refused() {
    if !is_root() {
        return;
    }
    let t = shared_tree();
    let planted = t.path("shared/secwrap.toml");
    t.write(&planted, "exclude = [\"**\"]\n");
    chmod(&planted, 0o666);
    t.run(&["gcc", "-c", "a.c"])
        .status(2)
        .stderr_contains("not trusted: writable by others (mode 0666)")
        .go();
    // A directory anyone may rename things in, between the file and the
    // working directory: what is above it is not trusted either.
    chmod(&planted, 0o644);
    chmod(&t.path("shared"), 0o777);
    t.run(&["gcc", "-c", "a.c"])
        .status(2)
        .stderr_contains(&format!(
            "not trusted: directory `{}` is writable by others and not sticky",
            t.path("shared").display()
        ))
        .go();
}

#[test]
fn a_planted_dot_config_is_refused() {
    if !is_root() {
        return;
    }
    let t = shared_tree();
    let planted = t.path("shared/.config");
    t.write(&planted, LIVEPATCH);
    chown(&planted, MALLORY);
    t.run(&["gcc", "-c", "a.c"])
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: not trusted: owned by uid {MALLORY} (see README \"Trust\")\n",
            planted.display()
        ))
        .go();
}

#[test]
fn the_search_stops_before_another_users_directory() {
    if !is_root() {
        return;
    }
    // mallory's directory holds root's tree: nothing in or above it is read.
    let t = TestEnv::new()
        .file("mallory/secwrap.toml", "kconfig = \".config\"\n")
        .file("mallory/.config", LIVEPATCH)
        .file("mallory/tree/a.c", A_C)
        .cwd("mallory/tree");
    chown(&t.path("mallory"), MALLORY);
    // Not silently: the built-in rules could not be decided, and say so.
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"])
        .stderr_contains("no secwrap.toml here, and the built-in rules read Kconfig symbols, but no Kconfig values were found")
        .stderr_contains(&format!(
            "(the search stopped before `{}`, owned by uid {MALLORY})",
            t.path("mallory").display()
        ))
        .go();
    t.run(&["doctor", "a.c"])
        .status(1)
        .stdout_contains(&format!(
            "search:       stopped before `{}`, owned by uid {MALLORY}: nothing in or above it is read\n",
            t.path("mallory").display()
        ))
        .go();
    t.assert_not_split("mallory/tree/a.o");
    let record = t.only_record();
    assert_injected_nothing(&record);
    assert_eq!(
        skipped(&record),
        [
            ("-ffunction-sections", SkipReason::NoKconfig),
            ("-fdata-sections", SkipReason::NoKconfig)
        ]
    );
}

compiler_tests! {
    /// Keys a found file may not set, even the user's own: it may have come
    /// in a tarball. Each is refused at its position; nothing runs.
    fn unsafe_keys_in_a_found_file_are_refused(cc) {
        let t = TestEnv::livepatch();
        let evil = t.path("evil.sh");
        t.executable("evil.sh", format!("#!/bin/sh\ntouch '{}'\nexec \"$@\"\n", t.path("pwned").display()));
        let cases = [
            (
                format!("launcher = [\"{}\"]\n", evil.display()),
                "1:12",
                "`launcher` other than one of ccache, distcc, icecc, sccache".to_string(),
            ),
            (
                format!("[[rule]]\nwhen = \"y\"\ncflags = [\"-wrapper\", \"{}\"]\n", evil.display()),
                "3:11",
                "`cflags` flag `-wrapper` (not on the list of safe flags)".to_string(),
            ),
            (
                "[[rule]]\nwhen = \"y\"\nldflags = [\"-Wl,--gc-sections\"]\n".to_string(),
                "3:12",
                "`ldflags` flag `-Wl,--gc-sections` (not on the list of safe flags)".to_string(),
            ),
            (
                "[log]\npath = \"/etc/secwrap-test.jsonl\"\n".to_string(),
                "2:8",
                "`[log] path` outside the file's tree".to_string(),
            ),
            (
                "[livepatch]\nkeep_originals = \"../orig\"\n".to_string(),
                "2:18",
                "`keep_originals` outside the file's tree".to_string(),
            ),
        ];
        for (toml, position, what) in cases {
            t.write("secwrap.toml", format!("kconfig = \".config\"\n{toml}"));
            let location = format!("{}:{}", t.path("secwrap.toml").display(), bump_line(position));
            t.run(&[cc, "-c", "a.c", "-o", "a.o"])
                .status(2)
                .stderr(format!(
                    "secwrap: error: {location}: not trusted: {what} in a file found upward (see README \"Trust\")\n"
                ))
                .go();
            assert!(!t.exists("pwned") && !t.exists("a.o"), "{toml}");
        }
        assert!(!std::path::Path::new("/etc/secwrap-test.jsonl").exists());
    }

    /// The same keys are the user's to set: from `SECWRAP_CONFIG`, or from a
    /// found file whose tree the user's own config lists in `safe_dirs`.
    fn safe_dirs_and_named_configs_may_set_unsafe_keys(cc) {
        let t = TestEnv::livepatch().config(
            "kconfig = \".config\"\n[[rule]]\nwhen = \"LIVEPATCH\"\ncflags = [\"-ffunction-sections\"]\nldflags = [\"-Wl,--gc-sections\"]\n",
        );
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).status(2).stderr_contains("not trusted").go();
        let named = t.path("secwrap.toml");
        let t = t.env("SECWRAP_CONFIG", &named);
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        let t = t.env_remove("SECWRAP_CONFIG");
        let user_config = t.path("xdg/config/secwrap/secwrap.toml");
        t.write(&user_config, format!("safe_dirs = [\"{}\"]\n", t.root().display()));
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        let records = t.records();
        assert_eq!(records.len(), 2);
        assert_eq!(texts(&records[1].injected), ["-ffunction-sections"]);
    }
}

/// `position` one line down: every case starts with the `kconfig` line.
fn bump_line(position: &str) -> String {
    let (line, column) = position.split_once(':').expect("line:column");
    format!("{}:{column}", line.parse::<usize>().expect("line") + 1)
}

/// `secwrap trust DIR` lists the tree in `safe_dirs` of the user's own
/// config, keeping what the file already says; the tree's own file may
/// then set unsafe keys.
#[test]
fn secwrap_trust_marks_a_tree_safe() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch().config(
        "kconfig = \".config\"\n[[rule]]\nwhen = \"LIVEPATCH\"\nldflags = [\"-Wl,--gc-sections\"]\n",
    );
    t.run(&["gcc", "-c", "a.c"])
        .status(2)
        .stderr_contains("not trusted")
        .go();
    let user_config = t.path("xdg/config/secwrap/secwrap.toml");
    t.write(&user_config, "# my settings\non_error = \"strict\"\n");
    let root = t.root().display().to_string();
    t.run(&["trust", "."])
        .stdout(format!(
            "added {root} to safe_dirs of {}\n",
            user_config.display()
        ))
        .go();
    t.run(&["trust", &root])
        .stdout(format!(
            "{root} is already in safe_dirs of {}\n",
            user_config.display()
        ))
        .go();
    let text = t.read_text(&user_config);
    assert!(
        text.starts_with("# my settings\non_error = \"strict\"\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("safe_dirs = [\"{root}\"]")),
        "{text}"
    );
    t.run(&["gcc", "-c", "a.c"]).go();
    t.run(&["trust", "no-such-dir"])
        .status(2)
        .stderr_contains("secwrap: error: `no-such-dir`: No such file or directory")
        .go();
}

/// A Kconfig file the config merely names may be anyone's (`/etc/shadow`,
/// a secret): its errors name the file, line and column, never a value.
#[test]
fn kconfig_errors_never_print_what_they_read() {
    let t = TestEnv::new()
        .file("a.c", A_C)
        .file(
            "elsewhere/secret.conf",
            "CONFIG_DB_PASSWORD=hunter2-s3cret\n",
        )
        .config("kconfig = \"elsewhere/secret.conf\"\n");
    let out = t
        .run(&["gcc", "-c", "a.c"])
        .status(2)
        .stderr(format!(
            "secwrap: error: {}:1:20: invalid value: not `y`, `m`, `n`, a number or a quoted string\n",
            t.path("elsewhere/secret.conf").display()
        ))
        .go();
    assert!(!out.stderr_text().contains("hunter2"));
}
