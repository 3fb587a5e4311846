//! Load (issue 9, item 6): many jobs against one log and a cold cache, as
//! `make -j32` on a big tree. No record is lost or torn, and each flag
//! group is probed once while the other jobs wait on its lock.
//!
//! The compiler is a small C program (built here with the real gcc) that
//! answers like gcc and writes an empty object: the test measures secwrap,
//! not cc1. 32 jobs × `SECWRAP_LOAD_CALLS` calls each (default 150, so the
//! suite stays within seconds on two cores; the issue's full run is
//! `SECWRAP_LOAD_CALLS=2000 cargo test --release --test it load:: -- --nocapture`).

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::time::Instant;

use crate::common::*;

const JOBS: usize = 32;
const DEFAULT_CALLS: usize = 150;

/// Answers as secwrap asks (`--version`: a gcc-like line; a flag probe on
/// `/dev/null`: yes) and "compiles" by creating the `-o` file empty.
const FAKE_GCC_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("gcc (fake) 1.0");
        return 0;
    }
    const char *output = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "/dev/null") == 0)
            return 0;
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            output = argv[i + 1];
    }
    if (output != NULL) {
        int fd = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return 1;
        close(fd);
    }
    return 0;
}
"#;

/// Two rules, so two flag groups, each probed once.
const TWO_RULES: &str = "kconfig = \".config\"\n\
    [[rule]]\nname = \"split\"\nwhen = \"LIVEPATCH\"\n\
    cflags = [\"-ffunction-sections\", \"-fdata-sections\"]\n\
    [[rule]]\nname = \"common\"\nwhen = \"LIVEPATCH\"\n\
    cflags = [\"-fno-common\"]\nrequired = false\n";

fn calls_per_job() -> usize {
    match std::env::var("SECWRAP_LOAD_CALLS") {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("SECWRAP_LOAD_CALLS={value}: not a number")),
        Err(_) => DEFAULT_CALLS,
    }
}

#[test]
fn thirty_two_jobs_one_log_a_cold_cache() {
    if !require_compiler("gcc") {
        return;
    }
    let _alone = exclusive();
    let calls = calls_per_job();
    let t = TestEnv::new()
        .file("a.c", A_C)
        .file("fake/gcc.c", FAKE_GCC_C)
        .kconfig(LIVEPATCH)
        .config(TWO_RULES);
    t.run_program("gcc", &["-O2", "-o", "fake/gcc", "fake/gcc.c"])
        .go();
    let fake = t.path("fake");
    let t = t.env("PATH", path_with_first(&[&fake]));
    for job in 0..JOBS {
        std::fs::create_dir_all(t.path(format!("out/{job}"))).expect("output directory");
    }

    let start = Barrier::new(JOBS);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for job in 0..JOBS {
            let (t, start) = (&t, &start);
            scope.spawn(move || {
                let output = format!("out/{job}/a.o");
                start.wait();
                for call in 0..calls {
                    let mark = format!("-DCALL={job}_{call}");
                    t.run(&["gcc", "-c", "a.c", "-o", &output, &mark]).go();
                }
            });
        }
    });
    let elapsed = started.elapsed();

    let log = t.path("log.jsonl");
    let (records, bad_lines) = secwrap::record::read_log(&log).expect("the log");
    assert_eq!(bad_lines, vec![], "torn or glued records");
    assert_eq!(records.len(), JOBS * calls, "lost records");
    // Every call once: no record lost, none written twice.
    let mut marks: BTreeMap<String, usize> = BTreeMap::new();
    for record in &records {
        assert_eq!(record.status, Some(0));
        let mark = record
            .argv
            .iter()
            .map(text)
            .find(|word| word.starts_with("-DCALL="))
            .expect("the call's mark");
        *marks.entry(mark.to_string()).or_default() += 1;
    }
    assert_eq!(marks.len(), JOBS * calls);
    assert!(marks.values().all(|count| *count == 1));

    // One probe per flag group; every other answer came from the cache.
    let mut computed: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut cached = 0;
    for record in &records {
        assert_eq!(record.probes.len(), 2, "{:?}", record.probes);
        for probe in &record.probes {
            let flags: Vec<String> = probe
                .flags
                .iter()
                .map(|flag| text(flag).to_string())
                .collect();
            assert!(probe.supported, "{flags:?}");
            if probe.cached {
                cached += 1;
            } else {
                *computed.entry(flags).or_default() += 1;
            }
        }
    }
    let groups: Vec<Vec<String>> = vec![
        vec!["-fno-common".into()],
        vec!["-ffunction-sections".into(), "-fdata-sections".into()],
    ];
    assert_eq!(
        computed,
        groups.into_iter().map(|group| (group, 1)).collect(),
        "each group probed once"
    );
    assert_eq!(cached, 2 * JOBS * calls - 2);
    // A lock given up at its deadline says so in the record's warnings.
    let gave_up = records
        .iter()
        .filter(|record| {
            record
                .warnings
                .iter()
                .any(|warning| warning.contains("cache lock"))
        })
        .count();
    eprintln!(
        "load: {JOBS} jobs x {calls} calls = {} records in {:.1} s ({:.0} calls/s), \
         {} probes computed, {cached} cached, {gave_up} records with a cache lock given up",
        records.len(),
        elapsed.as_secs_f64(),
        records.len() as f64 / elapsed.as_secs_f64(),
        computed.values().sum::<usize>(),
    );
}
