//! The bundled examples, run as a newcomer runs them (README), with the
//! binary under test: `examples/run-demo.sh` (split objects, exclusions, one
//! record per compile, `KEEP=1`) and `examples/livepatch-demo.sh` (patch, rebuild,
//! `log changed` and `diff` naming exactly the changed object and function).

use std::path::Path;

use crate::common::{SECWRAP, TestEnv, require_compiler, require_program};

/// Runs an example script with `env` added; its stdout and the harness tree
/// (its TMPDIR holds the script's scratch tree), or `None` when a program it
/// needs is missing (outside CI).
fn run_example_with(
    script: &str,
    compiler: &str,
    env: &[(&str, &str)],
) -> Option<(TestEnv, String)> {
    if !require_compiler(compiler) || !require_program("make") || !require_program("patch") {
        return None;
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut t = TestEnv::new().env("SECWRAP", SECWRAP).env("CC", compiler);
    for (key, value) in env {
        t = t.env(key, value);
    }
    let out = t
        .run_program(repository.join("examples").join(script), &[] as &[&str])
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    Some((t, stdout))
}

fn run_example(script: &str, compiler: &str) {
    if let Some((_t, stdout)) = run_example_with(script, compiler, &[]) {
        let last = stdout.lines().last().unwrap_or_default();
        assert!(last.contains(": OK ("), "{stdout}");
    }
}

compiler_tests! {
    fn livepatch_demo(cc) {
        run_example("livepatch-demo.sh", cc);
    }
}

/// README, "The two commands", quotes the last line; the table has a row
/// per object, and the counts line counts the same records as the last.
#[test]
fn run_demo() {
    let Some((_t, stdout)) = run_example_with("run-demo.sh", "gcc", &[]) else {
        return;
    };
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some("demo: OK (4 objects split, 1 excluded; 6 records: 5 compiles, 1 link)"),
        "{stdout}"
    );
    let objects = lines
        .iter()
        .filter(|line| line.ends_with(" injected") || line.ends_with("(excluded)"))
        .count();
    assert_eq!(objects, 5, "{stdout}");
    assert!(
        stdout.contains(
            "\norphan-section warnings: 0; build/secwrap.jsonl: 6 records: 5 compiles, 1 link (for 5 objects and demo.elf)\n"
        ),
        "{stdout}"
    );
    // `log show`'s own count, which the demo's must agree with.
    assert!(
        stdout.contains("\n6 records (5 compile, 1 link_only);"),
        "{stdout}"
    );
}

/// `KEEP=1`: the tree stays, and its path is the last line.
#[test]
fn run_demo_keeps_its_tree() {
    let Some((t, stdout)) = run_example_with("run-demo.sh", "gcc", &[("KEEP", "1")]) else {
        return;
    };
    let last = stdout.lines().last().unwrap_or_default();
    let kept = Path::new(
        last.strip_prefix("demo: kept ")
            .unwrap_or_else(|| panic!("no kept path:\n{stdout}")),
    );
    // Under the run's TMPDIR, so the harness tree removes it.
    assert!(kept.starts_with(t.path("tmp")), "{last}");
    // The tree as built: its log has the six records the summary counts.
    let log = std::fs::read_to_string(kept.join("build/secwrap.jsonl")).expect("kept log");
    assert_eq!(log.lines().count(), 6, "{log}");
    assert!(kept.join("build/core/mem.o").is_file(), "{last}");
}
