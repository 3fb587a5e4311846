//! Files the shim writes by itself (issue 9, item 2): the invocation log,
//! the kept originals and the cache. Nothing at their paths is followed,
//! nothing another user made or could swap in is written, a full disk
//! leaves no fragment behind, and a held cache lock does not hang the
//! build. Tests that give files to another user (chown) or mount a small
//! file system need root: under CI they must run (CI runs as root); else,
//! without root, they say so and stop.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use secwrap::record::read_log;

use crate::common::*;

/// The uid of the planting user: no account is needed for a file to be
/// owned by it.
const MALLORY: u32 = 4242;

fn is_root(why: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("this test must run as root under CI ({why})");
    }
    eprintln!("skipped: not root, cannot {why}");
    false
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None)
        .unwrap_or_else(|error| panic!("chown {}: {error}", path.display()));
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The usual tree with its log at `log` (relative to the root).
fn tree_logging_to(log: &str) -> TestEnv {
    let t = TestEnv::livepatch();
    let path = t.path(log);
    t.env("SECWRAP_LOG", path)
}

const COMPILE: [&str; 5] = ["gcc", "-c", "a.c", "-o", "a.o"];

/// `secwrap gcc -c a.c -o a.o` refused because of the log at `log`: exit 2,
/// one error line with `why`, and the compiler not run.
#[track_caller]
fn assert_log_refused(t: &TestEnv, log: &str, why: &str) {
    t.run(&COMPILE)
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: cannot open the invocation log: {why}\n",
            t.path(log).display()
        ))
        .go();
    assert!(!t.exists("a.o"), "the compiler ran");
}

#[test]
fn a_symlink_at_the_log_path_is_refused() {
    if !require_compiler("gcc") {
        return;
    }
    let t = tree_logging_to("logs/log.jsonl");
    t.write("victim", "root:x:0:0:root:/root:/bin/bash\n");
    symlink(t.path("victim"), t.path("logs/log.jsonl"));
    assert_log_refused(&t, "logs/log.jsonl", "it is a symlink");
    assert_eq!(t.read_text("victim"), "root:x:0:0:root:/root:/bin/bash\n");

    // Dangling: following it would create its target.
    std::fs::remove_file(t.path("logs/log.jsonl")).unwrap();
    symlink(t.path("created-by-the-log"), t.path("logs/log.jsonl"));
    assert_log_refused(&t, "logs/log.jsonl", "it is a symlink");
    assert!(!t.exists("created-by-the-log"));

    // Passthrough: one warning, and the compiler exactly as asked for.
    let t = t.env("SECWRAP_ON_ERROR", "passthrough");
    let out = t
        .run(&COMPILE)
        .stderr_contains(
            "cannot open the invocation log: it is a symlink; running the compiler unchanged",
        )
        .go();
    assert_eq!(out.stderr_text().lines().count(), 1);
    t.assert_not_split("a.o");
    assert!(!t.exists("created-by-the-log"));
}

#[test]
fn a_log_others_can_write_or_with_two_links_is_refused() {
    if !require_compiler("gcc") {
        return;
    }
    let t = tree_logging_to("log.jsonl");
    t.write("log.jsonl", "");
    chmod(&t.path("log.jsonl"), 0o666);
    assert_log_refused(&t, "log.jsonl", "it is writable by others (mode 0666)");
    assert_eq!(t.read("log.jsonl"), b"");

    // A hard link to a file elsewhere (`/etc/passwd` made in another
    // user's directory): appending would write the other file.
    std::fs::remove_file(t.path("log.jsonl")).unwrap();
    t.write("passwd", "root:x:0:0:root:/root:/bin/bash\n");
    std::fs::hard_link(t.path("passwd"), t.path("log.jsonl")).unwrap();
    assert_log_refused(&t, "log.jsonl", "it has 2 hard links");
    assert_eq!(t.read_text("passwd"), "root:x:0:0:root:/root:/bin/bash\n");
}

#[test]
fn a_log_in_a_directory_others_can_write_is_refused_unless_sticky() {
    if !require_compiler("gcc") {
        return;
    }
    let t = tree_logging_to("open/log.jsonl");
    std::fs::create_dir(t.path("open")).unwrap();
    chmod(&t.path("open"), 0o777);
    let why = format!(
        "directory `{}` is writable by others and not sticky",
        t.path("open").display()
    );
    assert_log_refused(&t, "open/log.jsonl", &why);
    assert!(!t.exists("open/log.jsonl"));

    // Sticky, as /tmp: the user's own log is fine.
    chmod(&t.path("open"), 0o1777);
    t.run(&COMPILE).go();
    t.assert_split("a.o");
    assert_eq!(records_at(&t.path("open/log.jsonl")).len(), 1);
}

#[test]
fn missing_log_directories_are_created_private() {
    if !require_compiler("gcc") {
        return;
    }
    let t = tree_logging_to("logs/2026/build.jsonl");
    t.run(&COMPILE).go();
    for dir in ["logs", "logs/2026"] {
        let mode = std::fs::metadata(t.path(dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700, "{dir}");
    }
    assert_eq!(records_at(&t.path("logs/2026/build.jsonl")).len(), 1);
}

#[test]
fn a_log_or_a_log_directory_of_another_user_is_refused() {
    if !require_compiler("gcc") || !is_root("give files to another user") {
        return;
    }
    // Planted first in a sticky directory, where it cannot be swapped but
    // could have been made by anyone.
    let t = tree_logging_to("shared/log.jsonl");
    std::fs::create_dir(t.path("shared")).unwrap();
    chmod(&t.path("shared"), 0o1777);
    t.write("shared/log.jsonl", "");
    chown(&t.path("shared/log.jsonl"), MALLORY);
    assert_log_refused(&t, "shared/log.jsonl", "it is owned by uid 4242");
    assert_eq!(t.read("shared/log.jsonl"), b"");

    // A directory of theirs on the way: they could put anything there.
    let t = tree_logging_to("theirs/logs/log.jsonl");
    std::fs::create_dir(t.path("theirs")).unwrap();
    chown(&t.path("theirs"), MALLORY);
    let why = format!(
        "directory `{}` is owned by uid 4242",
        t.path("theirs").display()
    );
    assert_log_refused(&t, "theirs/logs/log.jsonl", &why);
    assert!(
        !t.exists("theirs/logs"),
        "created in another user's directory"
    );
}

/// A tmpfs mounted for one test, unmounted when the guard drops, even when
/// the test panics.
struct Mount(PathBuf);

impl Mount {
    /// `None` (a skip with the reason) when tmpfs cannot be mounted here,
    /// except under CI, where that fails the test.
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        if !is_root("mount a small file system") {
            return None;
        }
        std::fs::create_dir_all(dir).expect("mount point");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("run mount");
        if out.status.success() {
            return Some(Mount(dir.to_path_buf()));
        }
        let why = String::from_utf8_lossy(&out.stderr);
        if std::env::var_os("CI").is_some() {
            panic!("cannot mount a tmpfs under CI: {why}");
        }
        eprintln!("skipped: cannot mount a tmpfs: {why}");
        None
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {}", self.0.display());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let status = Command::new("umount").arg(&self.0).status();
        if !matches!(status, Ok(status) if status.success()) && !std::thread::panicking() {
            panic!("umount {}: {status:?}", self.0.display());
        }
    }
}

/// Hardening review 7: on a full disk the append fails (strict: exit 2,
/// one error line) and leaves no fragment: once there is room again, the
/// next records are whole and every line of the log reads back.
#[test]
fn a_full_disk_leaves_no_fragment_in_the_log() {
    if !require_compiler("gcc") {
        return;
    }
    let t = tree_logging_to("full/log.jsonl");
    let Some(mount) = Mount::tmpfs(&t.path("full"), "64k") else {
        return;
    };
    let log = t.path("full/log.jsonl");
    let error = format!(
        "secwrap: error: {}: cannot append the invocation record: No space left on device\n",
        log.display()
    );
    let mut recorded = 0;
    loop {
        let out = t.run(&COMPILE).unchecked().go();
        if out.code() == Some(0) && out.stderr.is_empty() {
            recorded += 1;
            assert!(recorded < 1000, "the 64k file system never filled up");
            continue;
        }
        assert_eq!(out.code(), Some(2), "{}", out.describe());
        assert_eq!(out.stderr_text(), error);
        break;
    }
    let text = std::fs::read(&log).unwrap();
    assert!(
        text.ends_with(b"\n"),
        "a fragment was left after the failed append"
    );
    let (records, bad_lines) = read_log(&log).unwrap();
    assert_eq!((records.len(), bad_lines), (recorded, vec![]));

    mount.resize("256k");
    t.run(&COMPILE).go();
    t.run(&COMPILE).go();
    let (records, bad_lines) = read_log(&log).unwrap();
    assert_eq!(bad_lines, vec![], "a record was glued to a fragment");
    assert_eq!(records.len(), recorded + 2);
    assert!(records.iter().all(|record| record.status == Some(0)));
    eprintln!(
        "full disk: {recorded} records fit in 64k, the append of record {} failed and was truncated away",
        recorded + 1
    );
}

/// A fragment a killed writer left (written here by hand): the next record
/// starts on a fresh line, so `log show` finds one bad line, not two.
#[test]
fn a_record_after_a_fragment_starts_on_a_fresh_line() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    t.run(&COMPILE).go();
    let mut text = t.read("log.jsonl");
    text.extend_from_slice(b"{\"version\":1,\"secwrap\":\"0.2.0\",\"ti");
    t.write("log.jsonl", &text);
    t.run(&COMPILE).go();

    let (records, bad_lines) = read_log(&t.path("log.jsonl")).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(bad_lines.len(), 1, "{bad_lines:?}");
    assert_eq!(bad_lines[0].line, 2);
    let out = t
        .run(&["log", "show"])
        .stdout_contains("2 records (2 compile)")
        .stdout_contains("; 1 bad line skipped")
        .stderr(format!(
            "secwrap: warning: {}:2: torn line (a writer was killed mid-write); skipped\n",
            t.path("log.jsonl").display()
        ))
        .go();
    assert_eq!(
        out.stdout_text().lines().count(),
        3,
        "{}",
        out.stdout_text()
    );
}

/// The usual tree keeping originals in `orig/`, with `a.o` from a first
/// build to be overwritten. The compiles run outside `secwrap run`, so their
/// copies go to `orig/-/` (the unnamed build's directory).
fn keeping_tree() -> TestEnv {
    let t = TestEnv::livepatch()
        .config("kconfig = \".config\"\n[livepatch]\nkeep_originals = \"orig\"\n");
    t.run_program("gcc", &["-c", "a.c", "-o", "a.o"]).go();
    t
}

#[test]
fn a_symlink_planted_at_a_kept_copy_is_an_error() {
    if !require_compiler("gcc") {
        return;
    }
    let t = keeping_tree();
    let first = t.read("a.o");
    t.write("victim", "precious\n");
    std::fs::create_dir_all(t.path("orig/-")).unwrap();
    symlink(t.path("victim"), t.path("orig/-/a.o"));
    t.run(&COMPILE)
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: cannot keep the original object: it is a symlink\n",
            t.path("orig/-/a.o").display()
        ))
        .go();
    assert_eq!(t.read_text("victim"), "precious\n");
    assert_eq!(t.read("a.o"), first, "the compiler ran");
    assert!(t.records().is_empty());
}

#[test]
fn a_kept_copy_of_another_user_is_an_error() {
    if !require_compiler("gcc") || !is_root("give files to another user") {
        return;
    }
    let t = keeping_tree();
    t.write("orig/-/a.o", "a fake original\n");
    chown(&t.path("orig/-/a.o"), MALLORY);
    t.run(&COMPILE)
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: cannot keep the original object: it is owned by uid 4242\n",
            t.path("orig/-/a.o").display()
        ))
        .go();
    assert_eq!(t.read_text("orig/-/a.o"), "a fake original\n");
}

#[test]
fn kept_copies_go_in_directories_created_private() {
    if !require_compiler("gcc") {
        return;
    }
    let t = keeping_tree();
    t.run(&COMPILE).go();
    let mode = std::fs::metadata(t.path("orig"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
    let mode = std::fs::metadata(t.path("orig/-"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
    assert_eq!(t.only_record().originals.len(), 1);
    assert!(t.exists("orig/-/a.o"));
    // A keep directory others can write: refused, nothing copied.
    let t = keeping_tree();
    std::fs::create_dir(t.path("orig")).unwrap();
    chmod(&t.path("orig"), 0o777);
    t.run(&COMPILE)
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: cannot keep the original object: directory `{}` is writable by others and not sticky\n",
            t.path("orig/-/a.o").display(),
            t.path("orig").display()
        ))
        .go();
    assert!(!t.exists("orig/-/a.o"));
}

/// Hardening review 9: a cache directory others can write is not used
/// (they could plant and hold its lock files). The compile works,
/// uncached: nothing is written there and every call probes.
#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    chmod(&t.path("cache"), 0o777);
    // Each run is a build of its own here (its own process group).
    let warning = format!(
        "secwrap: warning: cache directory `{}` is not a private directory of yours (or cannot be made one): working without a cache\n",
        t.path("cache").display()
    );
    for _ in 0..2 {
        t.run(&COMPILE).stderr(&warning).go();
        t.assert_split("a.o");
    }
    let names: Vec<_> = std::fs::read_dir(t.path("cache")).unwrap().collect();
    assert!(names.is_empty(), "written to: {names:?}");
    let records = t.records();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|record| record.probes.iter().all(|probe| !probe.cached)),
        "{records:#?}"
    );
}

/// Names in the cache directory that start with `prefix`.
fn cache_names(t: &TestEnv, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(t.path("cache"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// A probe's lock held by someone else (a stopped or stuck holder, here
/// the test itself, throughout): the compile waits until the deadline
/// (10 s), then probes without the lock, stores the answer and finishes,
/// instead of hanging the build.
#[test]
fn a_held_cache_lock_is_given_up_at_the_deadline() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch();
    t.run(&COMPILE).go();
    // The flag group's answer made cold again, its lock held.
    let entries = cache_names(&t, "probe-");
    let [entry, lock] = entries.as_slice() else {
        panic!("one probe entry and its lock: {entries:?}");
    };
    assert_eq!(lock, &format!("{entry}.lock"));
    std::fs::remove_file(t.path("cache").join(entry)).unwrap();
    let holder = File::open(t.path("cache").join(lock)).unwrap();
    holder.lock().expect("hold the probe's lock");

    let warning = format!(
        "waited 10s for the cache lock `{}`, computed without it",
        t.path("cache").join(lock).display()
    );
    t.run(&COMPILE)
        .stderr(format!("secwrap: warning: {warning}\n"))
        .go();
    t.assert_split("a.o");
    let records = t.records();
    assert_eq!(records.last().unwrap().warnings, [warning]);
    let probes = &records.last().unwrap().probes;
    assert_eq!(probes.len(), 1);
    assert!(!probes[0].cached, "answered without probing: {probes:?}");
    // Computed and stored while the lock was still held here.
    assert!(t.path("cache").join(entry).is_file());
    drop(holder);
    let metadata = std::fs::metadata(t.path("cache").join(entry)).unwrap();
    assert_eq!(metadata.mode() & 0o077, 0, "the entry is private");
}

/// The usual tree with one split compile in its log, for the output tests.
fn tree_with_a_compile() -> Option<TestEnv> {
    if !require_compiler("gcc") {
        return None;
    }
    let t = TestEnv::livepatch();
    t.run(&COMPILE).go();
    Some(t)
}

/// The compilation database `log export` writes for [`tree_with_a_compile`].
fn assert_database(t: &TestEnv, bytes: &[u8]) {
    let entries: Vec<serde_json::Value> = serde_json::from_slice(bytes)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(bytes)));
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["file"], t.path("a.c").to_str().unwrap());
}

/// Files in `dir` a write may have left behind (`.tmp-*`).
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tmp-"))
        .collect()
}

/// `-o /dev/stdout`: written in place into the pipe the harness reads
/// (never renamed onto, so `/dev/stdout` stays the kernel's symlink), the
/// note on stderr. As root, who could replace `/dev/stdout`, so that a
/// rename onto it would show.
#[test]
fn output_to_dev_stdout_is_written_in_place() {
    let Some(t) = tree_with_a_compile() else {
        return;
    };
    if !is_root("show that /dev/stdout, which root could replace, is not") {
        return;
    }
    let before = std::fs::read_link("/dev/stdout").expect("/dev/stdout is a symlink");
    let out = t
        .run(&["log", "export", "-o", "/dev/stdout"])
        .stdout_any()
        .stderr("secwrap: wrote 1 entry to /dev/stdout\n")
        .go();
    assert_database(&t, &out.stdout);
    let metadata = std::fs::symlink_metadata("/dev/stdout").unwrap();
    assert!(metadata.file_type().is_symlink(), "{metadata:?}");
    assert_eq!(std::fs::read_link("/dev/stdout").unwrap(), before);
    assert!(temporaries(Path::new("/dev")).is_empty());
}

/// A symlink to a regular file (a dotfile manager's): the link stays, the
/// file it names gets the database, keeping its mode; no temporary left.
#[test]
fn output_through_a_symlink_updates_its_target() {
    let Some(t) = tree_with_a_compile() else {
        return;
    };
    t.write("elsewhere/db.json", "[]\n");
    chmod(&t.path("elsewhere/db.json"), 0o640);
    symlink("../elsewhere/db.json", t.path("out/link.json"));
    t.run(&["log", "export", "-o", "out/link.json"])
        .stdout(format!(
            "wrote 1 entry to {}\n",
            t.path("out/link.json").display()
        ))
        .go();
    assert!(
        std::fs::symlink_metadata(t.path("out/link.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_database(&t, &t.read("elsewhere/db.json"));
    let mode = std::fs::metadata(t.path("elsewhere/db.json"))
        .unwrap()
        .mode();
    assert_eq!(mode & 0o7777, 0o640);
    assert!(temporaries(&t.path("elsewhere")).is_empty());
    assert!(temporaries(&t.path("out")).is_empty());

    // `--merge` reads the file the link names, and writes it the same way.
    t.run(&["log", "export", "--merge", "-o", "out/link.json"])
        .stdout_contains("wrote 1 entry to ")
        .go();
    assert_database(&t, &t.read("elsewhere/db.json"));
    assert!(t.path("out/link.json").is_symlink());
}

/// A FIFO: opened and written in place; a reader gets the bytes.
#[test]
fn output_to_a_fifo_reaches_its_reader() {
    let Some(t) = tree_with_a_compile() else {
        return;
    };
    let fifo = t.path("pipe");
    let name = std::ffi::CString::new(fifo.clone().into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo has no other precondition.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read the FIFO"))
    };
    t.run(&["log", "export", "-o", "pipe"])
        .stderr(format!("secwrap: wrote 1 entry to {}\n", fifo.display()))
        .go();
    assert_database(&t, &reader.join().unwrap());
    let metadata = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&metadata.file_type()),
        "the FIFO was replaced: {metadata:?}"
    );
    // `--merge` cannot rewrite a FIFO: one line, nothing opened.
    t.run(&["log", "export", "--merge", "-o", "pipe"])
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: --merge rewrites a file, and this is not a regular file\n",
            fifo.display()
        ))
        .go();
}

/// A dangling symlink is refused, as `cp` refuses it ("not writing through
/// dangling symlink"): one error line, the target not created.
#[test]
fn output_through_a_dangling_symlink_is_refused() {
    let Some(t) = tree_with_a_compile() else {
        return;
    };
    symlink("gone/db.json", t.path("db.json"));
    t.run(&["log", "export", "-o", "db.json"])
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: not writing through dangling symlink to `{}` (as cp)\n",
            t.path("db.json").display(),
            t.path("gone/db.json").display()
        ))
        .go();
    assert!(!t.exists("gone"));
    assert!(t.path("db.json").is_symlink());
}

/// A new output gets `0666 & ~umask` (022: 0644, 077: 0600), as a shell
/// redirection would; an existing one keeps its mode whatever the umask.
/// `init`'s secwrap.toml is never writable by others, since a found one
/// that is would be refused.
#[test]
fn new_outputs_get_the_mode_the_umask_allows() {
    let Some(t) = tree_with_a_compile() else {
        return;
    };
    let under_umask = |umask: &str, args: &str| {
        t.run_program(
            "sh",
            &[
                "-c",
                &format!("umask {umask} && exec \"$0\" {args}"),
                SECWRAP,
            ],
        )
        .stdout_contains("wrote ")
        .go();
    };
    let mode = |rel: &str| std::fs::metadata(t.path(rel)).unwrap().mode() & 0o7777;
    under_umask("022", "log export -o new-022.json");
    under_umask("077", "log export -o new-077.json");
    under_umask("000", "log export -o new-000.json");
    assert_eq!(
        (
            mode("new-022.json"),
            mode("new-077.json"),
            mode("new-000.json")
        ),
        (0o644, 0o600, 0o666)
    );
    chmod(&t.path("new-077.json"), 0o604);
    under_umask("022", "log export -o new-077.json");
    assert_eq!(mode("new-077.json"), 0o604);
    std::fs::create_dir(t.path("tree")).unwrap();
    under_umask("000", "init --always --dir tree");
    assert_eq!(mode("tree/secwrap.toml"), 0o664);
}

/// `init --dir -`: the secwrap.toml on stdout, the note on stderr, no file.
#[test]
fn init_to_stdout_writes_no_file() {
    let t = TestEnv::new().kconfig(LIVEPATCH);
    let out = t
        .run(&["init", "--kconfig", ".config", "--dir", "-"])
        .stdout_any()
        .stderr(format!(
            "secwrap: wrote secwrap.toml to stdout (1 Kconfig symbol in {})\n",
            t.path(".config").display()
        ))
        .go();
    let text = out.stdout_text();
    assert!(text.contains("kconfig = \".config\""), "{text}");
    assert!(!t.exists("secwrap.toml") && !t.exists("-"));
}

/// `secwrap trust` edits the user's config through the symlink a dotfile
/// manager keeps there: the link stays, the file it names gets the entry.
#[test]
fn trust_writes_the_user_config_through_its_symlink() {
    let t = TestEnv::new().file("dotfiles/secwrap.toml", "# mine\n");
    chmod(&t.path("dotfiles/secwrap.toml"), 0o600);
    std::fs::create_dir_all(t.path("tree")).unwrap();
    let config = t.path("xdg/config/secwrap/secwrap.toml");
    symlink(t.path("dotfiles/secwrap.toml"), &config);
    t.run(&["trust", "tree"])
        .stdout(format!(
            "added {} to safe_dirs of {}\n",
            t.path("tree").display(),
            config.display()
        ))
        .go();
    assert!(config.is_symlink());
    let text = t.read_text("dotfiles/secwrap.toml");
    assert!(text.contains("# mine\n"), "{text}");
    assert!(text.contains(t.path("tree").to_str().unwrap()), "{text}");
    let mode = std::fs::metadata(t.path("dotfiles/secwrap.toml"))
        .unwrap()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
}

/// `log prune` rewrites the log with its mode and owner (here root's log
/// with group 4242, mode 0640), and refuses a log another user owns, as
/// the writers do, leaving it as it was.
#[test]
fn log_prune_keeps_mode_and_owner_and_refuses_another_users_log() {
    if !is_root("give the log another group and another owner") {
        return;
    }
    let t = TestEnv::new();
    let two = OLD_RECORD.replace(r#""pid":1,"#, r#""pid":1,"build":"b","#);
    t.write("log.jsonl", format!("{OLD_RECORD}{two}"));
    let log = t.path("log.jsonl");
    std::os::unix::fs::chown(&log, None, Some(MALLORY)).unwrap();
    chmod(&log, 0o640);
    t.run(&["log", "prune", "--keep-builds", "1"])
        .stdout(format!(
            "kept 1 build (1 record) and removed 1 build (1 record) from {}: -\n",
            log.display()
        ))
        .go();
    let metadata = std::fs::metadata(&log).unwrap();
    assert_eq!(
        (metadata.uid(), metadata.gid(), metadata.mode() & 0o7777),
        (0, MALLORY, 0o640)
    );
    assert_eq!(t.read_text("log.jsonl"), two);

    chown(&log, MALLORY);
    for args in [
        &["log", "prune", "--keep-builds", "0"][..],
        &["log", "clear"],
    ] {
        t.run(args)
            .status(2)
            .stderr(format!(
                "secwrap: error: {}: it is owned by uid {MALLORY}\n",
                log.display()
            ))
            .go();
    }
    assert_eq!(t.read_text("log.jsonl"), two);
}
