//! The fault harness: `kill -9` of secwrap, of the compiler driver or of
//! `cc1` at random points of a `make -j8` build, then the checks a
//! livepatch build relies on: the log reads whole, the probe cache still
//! answers, a rebuild succeeds and splits everything, and no object exists
//! that its record does not describe (where secwrap lived to see the end).

use std::time::Duration;

use secwrap::classify::Classification;
use secwrap::record::read_log;

use crate::common::*;

const SOURCES: usize = 32;
/// Rounds in the suite; `SECWRAP_FAULT_ROUNDS` for a longer run.
const ROUNDS: u64 = 6;

fn rounds() -> u64 {
    std::env::var("SECWRAP_FAULT_ROUNDS")
        .map(|value| value.parse().expect("SECWRAP_FAULT_ROUNDS: a number"))
        .unwrap_or(ROUNDS)
}

/// The process group's members named `name`, with their parents
/// (`/proc/<pid>/stat`: the command in parentheses, then state, ppid, pgrp).
fn members(group: u32, name: &str) -> Vec<(libc::pid_t, libc::pid_t)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, tail) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1;
            let mut fields = tail.split_whitespace().skip(1);
            let ppid: libc::pid_t = fields.next()?.parse().ok()?;
            let pgrp: u32 = fields.next()?.parse().ok()?;
            (pgrp == group && comm == name).then_some((pid, ppid))
        })
        .collect()
}

/// A small deterministic generator (xorshift), so a failing round can be
/// replayed from the seed it prints.
struct Random(u64);

impl Random {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[test]
fn kill_9_at_random_points_of_a_parallel_build() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let _alone = exclusive();
    let mut t = TestEnv::livepatch();
    let mut objects = Vec::new();
    for index in 0..SOURCES {
        let body: String = (0..25)
            .map(|f| format!("int f{index}_{f}(int x) {{ return x * {f} + {index}; }}\n"))
            .collect();
        t.write(format!("s{index}.c"), body);
        objects.push(format!("s{index}.o"));
    }
    t.write(
        "Makefile",
        format!(
            "all: {}\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
            objects.join(" ")
        ),
    );
    let cc = format!("CC={SECWRAP} gcc");
    let seed = std::process::id() as u64 | 1;
    eprintln!("fault harness seed {seed}");
    let mut random = Random(seed);
    let mut kills = 0;
    for round in 0..rounds() {
        t = t.env("SECWRAP_BUILD_ID", format!("fault-{round}"));
        for object in &objects {
            let _ = std::fs::remove_file(t.path(object));
        }
        // The driver is killed while its assembler runs: the moment when an
        // orphan would still finish the object.
        let victim = ["secwrap", "gcc", "cc1"][(round % 3) as usize];
        let make = t
            .run_program("make", &["-j8", "-k", "-s", &cc])
            .unchecked()
            .spawn_with(default_stop_signals);
        std::thread::sleep(Duration::from_millis(50 + random.next(300)));
        let candidates: Vec<libc::pid_t> = if victim == "gcc" {
            let mut assemblers = Vec::new();
            for _ in 0..400 {
                assemblers = members(make.id(), "as");
                if !assemblers.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            assemblers.into_iter().map(|(_, parent)| parent).collect()
        } else {
            members(make.id(), victim)
                .into_iter()
                .map(|(pid, _)| pid)
                .collect()
        };
        let killed = !candidates.is_empty();
        if let Some(&pid) = candidates.get(random.next(candidates.len().max(1) as u64) as usize) {
            // SAFETY: a process of the build this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        make.wait();
        eprintln!("round {round}: killed {victim}: {killed}");
        kills += u64::from(killed);

        // The log reads whole: every line a record.
        let (records, bad) = read_log(&t.path("log.jsonl")).expect("the log");
        assert!(bad.is_empty(), "round {round}: {bad:?}");
        // Where secwrap saw the end, no object exists without a successful
        // record: a killed driver's `cc1` was ended, a killed `cc1` failed
        // the compile and gcc removed its output.
        if victim != "secwrap" {
            for object in &objects {
                let path = t.path(object);
                if !path.exists() {
                    continue;
                }
                let recorded = records.iter().any(|record| {
                    record.build.as_deref() == Some(&format!("fault-{round}"))
                        && record.kind.is(Classification::Compile)
                        && record.status == Some(0)
                        && record.output.as_ref().map(text) == Some(path.to_str().unwrap())
                });
                assert!(
                    recorded,
                    "round {round}: {object} exists without a successful record"
                );
            }
        }
        // The probe cache still answers.
        t.run(&["probe", "--cc", "gcc", "-ffunction-sections"])
            .stdout("-ffunction-sections\n")
            .go();
        // A rebuild finishes and splits every object.
        t.run_program("make", &["-j8", "-s", &cc]).go();
        for object in &objects {
            let sections = t.sections(object);
            assert!(
                sections.iter().any(|name| name.starts_with(".text.f")),
                "round {round}: {object} not split: {sections:?}"
            );
        }
    }
    eprintln!(
        "fault harness: {kills} kills in {} rounds, all checks held",
        rounds()
    );
    assert!(kills > 0, "no round found a process to kill");
}
