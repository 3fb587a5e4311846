//! Property tests: the invariants of `checks.rs` over generated inputs,
//! realistic and hostile (CONTRIBUTING.md, "Properties and fuzzing").
//!
//! One module per target. Each `proptest!` block runs a fixed number of
//! cases, sized so that the whole binary takes well under a minute on the
//! CI machine; `SECWRAP_PROPTEST_CASES=N` multiplies every count by N for a
//! longer local run. Failures are shrunk and printed, never persisted to a
//! file (`failure_persistence: None`): a case worth keeping becomes a unit
//! test in the module it is about.

mod checks;
mod strategies;

mod args;
mod config;
mod expr;
mod kconfig;
mod log;
mod response_file;

use proptest::test_runner::Config as ProptestConfig;

/// `cases` cases, times `SECWRAP_PROPTEST_CASES` when set.
pub fn budget(cases: u32) -> ProptestConfig {
    let multiplier = std::env::var("SECWRAP_PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    ProptestConfig {
        cases: cases.saturating_mul(multiplier),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A fresh directory under the target directory (not `/tmp`), so that
/// what secwrap searches for upward from it (`.config`, `secwrap.toml`)
/// is this worktree's, which has none at its root, and nobody else's.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("properties-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a scratch directory under the target directory")
}
