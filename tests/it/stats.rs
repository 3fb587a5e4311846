//! `secwrap stats`: the counters of a log made by real compiles, checked
//! against the records themselves (the text form is a snapshot in
//! `snapshots.rs`).

use serde_json::Value;

use crate::common::*;

/// Build `orig`: one split compile (its flag probe runs: a miss). Build
/// `patched`: two compiles, one failing, and a failing `cc-option`-style
/// probe of `/dev/null` (a build-system probe), the flag probes cached.
pub fn two_builds() -> Option<TestEnv> {
    if !require_compiler("gcc") {
        return None;
    }
    let t = TestEnv::livepatch()
        .file("b.c", B_C)
        .file("bad.c", "int f(void) { return }\n");
    let secwrap_gcc = |args: &str| format!("{SECWRAP} gcc {args}");
    t.run(&[
        "run",
        "--build-id",
        "orig",
        "--",
        SECWRAP,
        "gcc",
        "-c",
        "a.c",
        "-o",
        "a.o",
    ])
    .stderr_contains("secwrap: build orig: ")
    .go();
    let script = [
        secwrap_gcc("-c a.c -o a.o"),
        secwrap_gcc("-c b.c -o b.o"),
        format!("! {}", secwrap_gcc("-c bad.c -o bad.o 2>/dev/null")),
        format!(
            "! {}",
            secwrap_gcc("-Werror -fno-such-flag -c -x c /dev/null -o /dev/null 2>/dev/null")
        ),
    ]
    .join(" && ");
    t.run(&["run", "--build-id", "patched", "--", "sh", "-c", &script])
        .stderr_contains("secwrap: build patched: ")
        .go();
    Some(t)
}

fn stats_json(t: &TestEnv, args: &[&str]) -> Value {
    let out = t.run(args).stdout_any().go();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", out.describe()))
}

/// `stats --json`: the whole log and the latest build, each number as the
/// records say.
#[test]
fn json_counts_match_the_records() {
    let Some(t) = two_builds() else { return };
    let records = t.records();
    assert_eq!(records.len(), 5);
    let stats = stats_json(&t, &["stats", "--json"]);
    assert_eq!(stats["log"], t.path("log.jsonl").to_str().unwrap());
    assert_eq!(
        (stats["records"].as_u64(), stats["builds"].as_u64()),
        (Some(5), Some(2))
    );

    let whole = &stats["whole_log"];
    assert_eq!(whole["calls"], 5);
    assert_eq!(whole["kinds"], serde_json::json!({"compile": 4}));
    assert_eq!(
        (
            whole["compiles"].as_u64(),
            whole["compiles_injected"].as_u64()
        ),
        (Some(4), Some(4))
    );
    assert_eq!(whole["failed"], 1);
    assert_eq!(whole["build_system_probes"], 1);
    assert_eq!(whole["build_system_probes_failed"], 1);
    let hits = records
        .iter()
        .flat_map(|r| &r.probes)
        .filter(|p| p.cached)
        .count();
    let misses = records
        .iter()
        .flat_map(|r| &r.probes)
        .filter(|p| !p.cached)
        .count();
    assert!(misses >= 1 && hits >= 1, "{records:#?}");
    assert_eq!(
        whole["probe_cache"],
        serde_json::json!({"hits": hits, "misses": misses})
    );
    let total: f64 = records
        .iter()
        .map(|r| r.secwrap_ms.expect("measured"))
        .sum();
    let time = &whole["secwrap_time"];
    assert!(
        (time["total_ms"].as_f64().unwrap() - total).abs() < 1e-6,
        "{time}"
    );
    assert!(
        (time["mean_ms"].as_f64().unwrap() - total / 5.0).abs() < 1e-6,
        "{time}"
    );
    assert_eq!(
        (time["measured"].as_u64(), time["not_measured"].as_u64()),
        (Some(5), Some(0))
    );
    // Time apart from the compiler's: the difference, never negative.
    for record in &records {
        assert!(record.secwrap_ms.unwrap() >= 0.0, "{record:#?}");
    }

    let build = &stats["build"];
    assert_eq!(build["id"], "patched");
    assert_eq!(build["calls"], 4);
    assert_eq!(
        (build["compiles"].as_u64(), build["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(build["build_system_probes_failed"], 1);
    assert_eq!(build["probe_cache"]["misses"], 0);
    assert_eq!(build["first_time"].as_str(), Some(records[1].time.as_str()));

    // `--build orig`: that build alone, no whole-log part.
    let orig = stats_json(&t, &["stats", "--build", "orig", "--json"]);
    assert!(orig.get("whole_log").is_none(), "{orig}");
    assert_eq!(orig["build"]["id"], "orig");
    assert_eq!(orig["build"]["calls"], 1);
    assert_eq!(orig["build"]["compiles_injected"], 1);
    assert_eq!(
        orig["build"]["probe_cache"]["misses"].as_u64(),
        Some(misses as u64)
    );
}

/// A record from before `secwrap_ms` is counted as not measured, and the
/// mean is over the measured ones only.
#[test]
fn old_records_are_not_measured() {
    let Some(t) = two_builds() else { return };
    let measured: Vec<f64> = t.records().iter().map(|r| r.secwrap_ms.unwrap()).collect();
    let mut log = t.read("log.jsonl");
    log.extend_from_slice(OLD_RECORD.as_bytes());
    t.write("log.jsonl", log);
    let stats = stats_json(&t, &["stats", "--json"]);
    let time = &stats["whole_log"]["secwrap_time"];
    assert_eq!(
        (time["measured"].as_u64(), time["not_measured"].as_u64()),
        (Some(5), Some(1))
    );
    let mean = measured.iter().sum::<f64>() / 5.0;
    assert!(
        (time["mean_ms"].as_f64().unwrap() - mean).abs() < 1e-6,
        "{time}"
    );
    // The old record is outside any build: the latest build is then `-`.
    assert_eq!(stats["build"]["id"], "-");
    assert_eq!(stats["build"]["secwrap_time"]["mean_ms"], Value::Null);
    let out = t.run(&["stats", "--build", "-"]).stdout_any().go();
    let text = out.stdout_text();
    let heading = "\nbuild `-` (records outside `secwrap run`), 2025-01-01T00:00:00.000Z .. 2025-01-01T00:00:00.000Z:\n";
    assert!(text.contains(heading), "{text}");
    assert!(
        text.contains(
            "  time secwrap added:   not measured (1 call from before secwrap measured it)\n"
        ),
        "{text}"
    );
}

/// An unknown build: the one wording every subcommand uses; an empty log.
#[test]
fn unknown_build_and_empty_log() {
    let t = TestEnv::new();
    t.write("log.jsonl", "");
    t.run(&["stats", "--build", "nope"])
        .status(2)
        .stderr(format!(
            "secwrap: error: no build `nope` in {}\n",
            t.path("log.jsonl").display()
        ))
        .go();
    t.run(&["stats"])
        .stdout(format!(
            "log {}: 0 records in 0 builds\n\nwhole log:\n  no records\n",
            t.path("log.jsonl").display()
        ))
        .go();
}
