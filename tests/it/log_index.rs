//! The log's index (`<log>.index`, `record/index.rs`): made by the readers,
//! reused, never trusted when it does not describe the log (another inode,
//! a rewrite, a truncation, a hand edit, a file that fails the checks), and
//! never the cause of another answer: every reader prints the same with
//! and without it.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;

/// A record of `build` (none: outside `secwrap run`) compiling `object`,
/// the `n`th of the log (its time and pid), `status` its exit status.
fn record(build: Option<&str>, object: &str, n: usize, status: i32) -> String {
    let mut record = json!({
        "version": 1,
        "secwrap": "0.2.0",
        "time": format!("2026-12-01T10:{:02}:{:02}.000Z", n / 60 % 60, n % 60),
        "pid": 1000 + n,
        "cwd": "/w",
        "compiler": "/usr/bin/gcc",
        "argv": ["gcc", "-c", format!("{object}.c"), "-o", format!("{object}.o"), "-DNAME=\"x\""],
        "exec": ["/usr/bin/gcc", "-c", format!("{object}.c"), "-o", format!("{object}.o"),
                 "-ffunction-sections", "-fdata-sections"],
        "kind": "compile",
        "injected": ["-ffunction-sections", "-fdata-sections"],
        "skipped": [{"flag": "-fno-common", "reason": "present"}],
        "inputs": [format!("/w/{object}.c")],
        "output": format!("/w/{object}.o"),
        "lto": false,
        "probes": [{"flags": ["-ffunction-sections"], "mode": "option", "supported": true,
                    "cached": n.is_multiple_of(2)}],
        "config": format!("fp{}", n % 3),
        "status": status,
        "signal": null,
        "duration_ms": 12.5,
        "secwrap_ms": 0.125 + n as f64 / 1000.0,
    });
    if let Some(build) = build {
        record["build"] = Value::String(build.to_string());
    }
    if object.ends_with("conftest") {
        record["build_system_probe"] = Value::Bool(true);
    }
    format!("{record}\n")
}

/// A log of interleaved builds, with the damage a log can hold: garbage,
/// a torn line followed by a record, a blank line, non-UTF-8 paths.
fn mixed_log() -> String {
    let mut log = String::new();
    for n in 0..6 {
        log += &record(Some("b1"), &format!("one/f{n}"), n, 0);
    }
    log += "\n";
    for n in 6..20usize {
        // b2 and b3 interleave, as two builds sharing a log do.
        let build = if n.is_multiple_of(2) { "b2" } else { "b3" };
        log += &record(Some(build), &format!("two/f{n}"), n, i32::from(n == 7));
    }
    log += "not json at all\n";
    log += r#"{"version":1,"secwrap":"0.2.0","ti"#;
    log += "\n";
    log += &record(None, "loose", 20, 0);
    log += &record(Some("b3"), "conftest", 21, 1);
    log += &record(Some("b4"), "four/last", 22, 0);
    let mut bytes = record(Some("b4"), "four/bytes", 23, 0);
    bytes = bytes.replace("\"/w/four/bytes.o\"", r#"{"bytes":"L3cvZm91ci9i6XRlcy5v"}"#);
    log + &bytes
}

/// Every reader, as the tests run them.
const READERS: &[&[&str]] = &[
    &["log", "builds"],
    &["log", "changed"],
    &["log", "changed", "--since", "b1"],
    &["log", "changed", "--since", "b2", "--no-default-excludes"],
    &["log", "export", "--build", "b2", "-o", "-"],
    &[
        "log",
        "export",
        "--build",
        "b3",
        "--include-probes",
        "-o",
        "-",
    ],
    &["log", "export", "-o", "-"],
    &["stats"],
    &["stats", "--json"],
    &["stats", "--build", "b3"],
    &["stats", "--build", "-", "--json"],
    &["log", "show"],
    &["log", "show", "--build", "b3"],
    &["log", "show", "--since", "b2"],
    &["log", "show", "--failed"],
    &["log", "show", "--kind", "compile", "--build", "b2"],
];

/// What every reader printed (status, stdout, stderr), in order.
fn answers(t: &TestEnv) -> Vec<(Option<i32>, String, String)> {
    READERS
        .iter()
        .map(|args| {
            let out = t.run(args).unchecked().go();
            (out.code(), out.stdout_text(), out.stderr_text())
        })
        .collect()
}

fn index(t: &TestEnv) -> PathBuf {
    t.path("log.jsonl.index")
}

/// The answers without any index, each reader starting from none.
fn answers_without_index(t: &TestEnv) -> Vec<(Option<i32>, String, String)> {
    READERS
        .iter()
        .map(|args| {
            let _ = std::fs::remove_file(index(t));
            let out = t.run(args).unchecked().go();
            (out.code(), out.stdout_text(), out.stderr_text())
        })
        .collect()
}

#[track_caller]
fn assert_same(with: &[(Option<i32>, String, String)], without: &[(Option<i32>, String, String)]) {
    for ((args, with), without) in READERS.iter().zip(with).zip(without) {
        assert_eq!(with, without, "`secwrap {}`", args.join(" "));
    }
}

fn append(t: &TestEnv, text: &str) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(t.path("log.jsonl"))
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Every reader prints the same whether the index is there or not: when
/// it was just made, when it is reused, and when lines were appended after
/// it (a build going on across its end, a torn last line that a later
/// append turns into a torn line in the middle).
#[test]
fn every_reader_answers_the_same_with_and_without_the_index() {
    let t = TestEnv::new().file("log.jsonl", mixed_log());
    let fresh = answers_without_index(&t);
    // Sanity: the log is what the test means it to be.
    assert!(fresh[0].1.starts_with("b1  "), "{}", fresh[0].1);
    assert_eq!(fresh[0].1.lines().count(), 5, "{}", fresh[0].1);
    assert!(
        fresh[0].2.contains("log.jsonl:22: not a record")
            && fresh[0].2.contains("log.jsonl:23: torn line"),
        "{}",
        fresh[0].2
    );
    t.run(&["log", "builds"]).stdout_any().stderr_any().go();
    assert!(index(&t).is_file());
    assert_same(&answers(&t), &fresh);

    // A torn last line (with its newline): covered by the index, then no
    // longer last once a record follows it.
    append(&t, "{\"version\":1,\"secwr\n");
    let torn_last = answers_without_index(&t);
    assert!(
        torn_last[0].2.contains("log.jsonl:28: torn last line"),
        "{}",
        torn_last[0].2
    );
    t.run(&["log", "builds"]).stdout_any().stderr_any().go();
    assert_same(&answers(&t), &torn_last);
    append(&t, &record(Some("b4"), "four/more", 24, 0));
    append(&t, &record(Some("b5"), "five/new", 25, 0));
    let grown = answers(&t);
    assert_same(&grown, &answers_without_index(&t));
    assert!(
        grown[0].2.contains("log.jsonl:28: torn line"),
        "{}",
        grown[0].2
    );
    // A fragment without a newline at the end: never covered.
    append(&t, "{\"version\":1,\"sec");
    let fragment = answers(&t);
    assert!(
        fragment[0].2.contains("log.jsonl:31: torn last line"),
        "{}",
        fragment[0].2
    );
    assert_same(&fragment, &answers_without_index(&t));
}

/// The index is written beside the log, private (0600), and reused: a
/// second reader with nothing appended leaves it as it is, and what it
/// says is what the reader prints (an edit that keeps its checksum right
/// shows), while an append makes the next reader cover the new lines.
#[test]
fn index_is_made_private_and_reused() {
    let mut log = String::new();
    for n in 0..4 {
        log += &record(Some("b1"), &format!("f{n}"), n, 0);
    }
    let t = TestEnv::new().file("log.jsonl", &log);
    assert!(!index(&t).exists());
    let first = t.run(&["log", "builds"]).stdout_any().go();
    let metadata = std::fs::symlink_metadata(index(&t)).unwrap();
    assert!(metadata.is_file());
    assert_eq!(metadata.mode() & 0o777, 0o600);
    let bytes = std::fs::read(index(&t)).unwrap();
    t.run(&["log", "builds"]).stdout(&first.stdout).go();
    assert_eq!(std::fs::read(index(&t)).unwrap(), bytes);
    assert_eq!(
        std::fs::symlink_metadata(index(&t)).unwrap().ino(),
        metadata.ino(),
        "not rewritten when nothing was appended"
    );

    // The covered prefix is read from the index, not from the log.
    let edited = rewrite_index(&t, |body| {
        body["builds"][0]["first_time"] = Value::String("from-the-index".into());
    });
    t.run(&["log", "builds"])
        .stdout_contains("b1  from-the-index .. ")
        .go();
    assert!(edited);

    append(&t, &record(Some("b2"), "g0", 9, 0));
    t.run(&["log", "builds"])
        .stdout_contains("b2  2026-12-01T10:00:09.000Z .. 2026-12-01T10:00:09.000Z  1 invocation")
        .go();
    let body = index_body(&t);
    assert_eq!(body["records"], 5);
    assert_eq!(
        body["covered"]["len"].as_u64(),
        Some(std::fs::metadata(t.path("log.jsonl")).unwrap().len())
    );
}

/// The index's body as JSON.
fn index_body(t: &TestEnv) -> Value {
    let bytes = std::fs::read(index(t)).unwrap();
    let newline = bytes.iter().position(|&byte| byte == b'\n').unwrap();
    serde_json::from_slice(&bytes[newline + 1..]).unwrap()
}

/// Edits the index's body and writes it back with a right checksum.
fn rewrite_index(t: &TestEnv, edit: impl FnOnce(&mut Value)) -> bool {
    let mut body = index_body(t);
    edit(&mut body);
    let body = serde_json::to_vec(&body).unwrap();
    let digest: String = Sha256::digest(&body)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let mut bytes = format!("{{\"secwrap_log_index\":1,\"sha256\":\"{digest}\"}}\n").into_bytes();
    bytes.extend_from_slice(&body);
    std::fs::write(index(t), bytes).unwrap();
    std::fs::set_permissions(index(t), std::fs::Permissions::from_mode(0o600)).unwrap();
    true
}

/// An index that no longer describes the log is not used: after `log
/// prune` (which removes it; its rewrite is another inode anyway), after
/// the log was replaced by another file, and after the log was truncated
/// and grown again with other records (same inode, longer than before).
#[test]
fn stale_index_is_not_used() {
    let build = |id: &str, objects: usize, from: usize| -> String {
        (0..objects)
            .map(|n| record(Some(id), &format!("{id}/f{n}"), from + n, 0))
            .collect()
    };
    let t = TestEnv::new().file("log.jsonl", build("b1", 3, 0) + &build("b2", 3, 3));
    t.run(&["log", "builds"]).stdout_any().go();
    assert!(index(&t).is_file());

    t.run(&["log", "prune", "--keep-builds", "1"])
        .stdout_contains("removed 1 build (3 records)")
        .go();
    assert!(!index(&t).exists(), "prune removes the index");
    let out = t.run(&["log", "builds"]).stdout_any().go();
    assert!(
        out.stdout_text().starts_with("b2  "),
        "{}",
        out.stdout_text()
    );
    assert_same(&answers(&t), &answers_without_index(&t));

    t.run(&["log", "clear"]).stdout_any().go();
    assert!(!index(&t).exists(), "clear removes the index");
    t.run(&["log", "builds"]).go();

    // Replaced by another file (another inode), as long as the old one.
    append(&t, &build("b1", 3, 0));
    t.run(&["log", "builds"]).stdout_any().go();
    std::fs::write(t.path("other.jsonl"), build("x1", 3, 0)).unwrap();
    std::fs::rename(t.path("other.jsonl"), t.path("log.jsonl")).unwrap();
    t.run(&["log", "changed"])
        .stdout("/w/x1/f0.o\n/w/x1/f1.o\n/w/x1/f2.o\n")
        .go();

    // Truncated in place and grown again, longer, with other records.
    let inode = std::fs::metadata(t.path("log.jsonl")).unwrap().ino();
    std::fs::write(t.path("log.jsonl"), build("y1", 4, 0)).unwrap();
    assert_eq!(std::fs::metadata(t.path("log.jsonl")).unwrap().ino(), inode);
    t.run(&["log", "changed"])
        .stdout("/w/y1/f0.o\n/w/y1/f1.o\n/w/y1/f2.o\n/w/y1/f3.o\n")
        .go();
    assert_same(&answers(&t), &answers_without_index(&t));

    // Shorter than what the index covers.
    std::fs::write(t.path("log.jsonl"), build("z1", 1, 0)).unwrap();
    t.run(&["log", "changed"]).stdout("/w/z1/f0.o\n").go();
}

/// The records a question reads through the index's ranges are checked
/// against it: a log edited in place where the index does not look (its
/// hashes cover the first and last 64 KiB) is read whole instead, with a
/// warning, and the index is removed.
#[test]
fn records_that_do_not_match_the_index_make_the_reader_read_the_log() {
    let mut log = String::new();
    for n in 0..400 {
        let build = ["b1", "b2", "b3"][n * 3 / 400];
        log += &record(Some(build), &format!("f{n:03}"), n, 0);
    }
    assert!(log.len() > 3 * 64 * 1024, "{}", log.len());
    let t = TestEnv::new().file("log.jsonl", &log);
    t.run(&["log", "builds"]).stdout_any().go();
    // A record of b2 in the middle becomes one of b3, bytes for bytes.
    let at = log.find("\"build\":\"b2\"").unwrap() + 60 * (log.len() / 400);
    let at = at + log[at..].find("\"build\":\"b2\"").unwrap();
    assert!(at > 64 * 1024 && at < log.len() - 64 * 1024);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path("log.jsonl"))
        .unwrap();
    std::os::unix::fs::FileExt::write_at(&file, b"\"build\":\"b3\"", at as u64).unwrap();
    drop(file);
    let expected = {
        let reference =
            TestEnv::new().file("log.jsonl", std::fs::read(t.path("log.jsonl")).unwrap());
        reference
            .run(&["log", "export", "--build", "b2", "-o", "-"])
            .stdout_any()
            .stderr_any()
            .go()
            .stdout
    };
    t.run(&["log", "export", "--build", "b2", "-o", "-"])
        .stdout(&expected)
        .stderr_contains("log.jsonl.index: the log's index does not match the log (edited in place?): removed it and read the whole log")
        .go();
    assert!(!index(&t).exists());

    // `log show --build`, which prints as it reads: an error after what it
    // printed, and the right answer on the next run.
    let edit = |build: &[u8]| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(t.path("log.jsonl"))
            .unwrap();
        std::os::unix::fs::FileExt::write_at(&file, build, at as u64).unwrap();
    };
    edit(b"\"build\":\"b2\"");
    t.run(&["log", "builds"]).stdout_any().go();
    edit(b"\"build\":\"b3\"");
    t.run(&["log", "show", "--build", "b2"])
        .status(2)
        .stdout_any()
        .stderr_contains("the log's index does not match the log (edited in place?): removed it; run the command again")
        .go();
    assert!(!index(&t).exists());
    t.run(&["log", "show", "--build", "b2"])
        .stdout_contains("records (")
        .go();
}

/// An index that fails the checks of a file secwrap writes by itself, or
/// whose checksum does not match, is ignored with a warning, the log read
/// whole, and the index made again (renamed over what was there: a
/// symlink's target is never written).
#[test]
fn untrusted_or_damaged_index_is_ignored_and_rebuilt() {
    let mut log = String::new();
    for n in 0..3 {
        log += &record(Some("b1"), &format!("f{n}"), n, 0);
    }
    let t = TestEnv::new().file("log.jsonl", &log);
    let expected = t.run(&["log", "builds"]).stdout_any().go().stdout;

    // Damaged: one byte changed, the checksum left as it was.
    let mut bytes = std::fs::read(index(&t)).unwrap();
    let at = bytes.len() - 20;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(index(&t), &bytes).unwrap();
    t.run(&["log", "builds"])
        .stdout(&expected)
        .stderr_contains("log.jsonl.index: ignored the log's index (damaged: its checksum does not match); reading the whole log")
        .go();
    t.run(&["log", "builds"]).stdout(&expected).go();

    // Writable by the group.
    std::fs::set_permissions(index(&t), std::fs::Permissions::from_mode(0o620)).unwrap();
    t.run(&["log", "builds"])
        .stdout(&expected)
        .stderr_contains("ignored the log's index (it is writable by others (mode 0620))")
        .go();
    assert_eq!(std::fs::metadata(index(&t)).unwrap().mode() & 0o777, 0o600);
    t.run(&["log", "builds"]).stdout(&expected).go();

    // A symlink, to a file the reader must not write.
    let good = std::fs::read(index(&t)).unwrap();
    std::fs::write(t.path("elsewhere"), &good).unwrap();
    std::fs::remove_file(index(&t)).unwrap();
    std::os::unix::fs::symlink(t.path("elsewhere"), index(&t)).unwrap();
    append(&t, &record(Some("b2"), "g", 5, 0));
    let out = t
        .run(&["log", "builds"])
        .stdout_any()
        .stderr_contains("ignored the log's index (it is a symlink)")
        .go();
    assert!(
        out.stdout_text().contains("\nb2  "),
        "{}",
        out.stdout_text()
    );
    assert_eq!(std::fs::read(t.path("elsewhere")).unwrap(), good);
    assert!(std::fs::symlink_metadata(index(&t)).unwrap().is_file());
    t.run(&["log", "builds"]).stdout(&out.stdout).go();

    // Another user's (needs root to give it away).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: the other-user case must run"
        );
        eprintln!("skipped: not root, cannot give the index to another user");
        return;
    }
    std::os::unix::fs::chown(index(&t), Some(4242), None).unwrap();
    t.run(&["log", "builds"])
        .stdout(&out.stdout)
        .stderr_contains("ignored the log's index (it is owned by uid 4242)")
        .go();
    assert_eq!(std::fs::metadata(index(&t)).unwrap().uid(), 0);

    // A log in another user's directory: read without an index, and
    // without a word; none is written there.
    std::fs::create_dir(t.path("theirs")).unwrap();
    std::fs::copy(t.path("log.jsonl"), t.path("theirs/log.jsonl")).unwrap();
    std::os::unix::fs::chown(t.path("theirs"), Some(4242), None).unwrap();
    t.run(&["log", "builds", "--log", "theirs/log.jsonl"])
        .stdout(&out.stdout)
        .go();
    assert!(!t.path("theirs/log.jsonl.index").exists());
}

/// Two builds appending to one log interleave: a question about one of
/// them reads its records through many ranges and gets them all, in the
/// log's order, and nothing of the other, also for records appended after
/// the index.
#[test]
fn interleaved_builds_through_the_index() {
    let mut log = String::new();
    for n in 0..40usize {
        let build = if n.is_multiple_of(3) { "a" } else { "b" };
        log += &record(Some(build), &format!("{build}/f{n:02}"), n, 0);
    }
    let t = TestEnv::new().file("log.jsonl", &log);
    t.run(&["log", "builds"]).stdout_any().go();
    let ranges = index_body(&t)["extras"][0]["ranges"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(ranges, 14, "a's records are 14 runs of one");
    let out = t
        .run(&["log", "show", "--build", "a"])
        .stdout_contains("14 records (14 compile)")
        .go();
    assert_eq!(out.stdout_text().matches("/w/a/").count(), 14);
    assert_eq!(out.stdout_text().matches("/w/b/").count(), 0);

    append(&t, &record(Some("a"), "a/f40", 40, 0));
    append(&t, &record(Some("b"), "b/f41", 41, 0));
    append(&t, &record(Some("a"), "a/f42", 42, 0));
    let out = t
        .run(&["log", "export", "--build", "a", "-o", "-"])
        .stdout_any()
        .stderr("secwrap: wrote 16 entries to stdout\n")
        .go();
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let outputs: Vec<&str> = entries
        .iter()
        .map(|entry| entry["output"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..40usize)
        .filter(|n| n.is_multiple_of(3))
        .chain([40, 42])
        .map(|n| format!("/w/a/f{n:02}.o"))
        .collect();
    assert_eq!(outputs, expected, "a's records in the log's order");
    // `--since a`: the builds after a's first record, b alone.
    let out = t.run(&["log", "changed", "--since", "a"]).stdout_any().go();
    assert_eq!(out.stdout_text().lines().count(), 27);
    assert!(
        out.stdout_text()
            .lines()
            .all(|line| line.starts_with("/w/b/"))
    );
}
