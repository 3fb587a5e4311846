//! Exit codes and the names of the `SECWRAP_*` environment variables, in
//! one place (README, "Environment", lists them for users).

/// The recursion guard: how many secwraps are above this process.
pub const DEPTH_VAR: &str = "SECWRAP_DEPTH";
/// A chain this deep is a loop through some other wrapper (distcc and
/// icecc stop at 2 with their own `_DISTCC_SAFEGUARD`/`_ICECC_SAFEGUARD`).
pub const MAX_DEPTH: u32 = 4;

/// secwrap's own failures, before or around the compiler.
pub const EXIT_ERROR: i32 = 2;
/// No real compiler (as a shell reports a missing command).
pub const EXIT_NOT_FOUND: i32 = 127;
/// The compiler exists but could not be started.
pub const EXIT_CANNOT_RUN: i32 = 126;

/// `SECWRAP_DISABLE=1`: pass every call through untouched and unrecorded.
pub const DISABLE_VAR: &str = "SECWRAP_DISABLE";
/// The build id `secwrap run` gives every record of one build.
pub const BUILD_ID_VAR: &str = "SECWRAP_BUILD_ID";
/// The invocation log, overriding `[log] path`.
pub const LOG_VAR: &str = "SECWRAP_LOG";
/// The config file, overriding discovery.
pub const CONFIG_VAR: &str = "SECWRAP_CONFIG";
/// The launcher to run in front of the compiler (`ccache`, `distcc -j8`:
/// words split on whitespace), overriding the config's `launcher`.
pub const LAUNCHER_VAR: &str = "SECWRAP_LAUNCHER";
/// `strict` or `passthrough`, overriding `on_error`.
pub const ON_ERROR_VAR: &str = "SECWRAP_ON_ERROR";
/// The probe cache directory.
pub const CACHE_DIR_VAR: &str = "SECWRAP_CACHE_DIR";
/// The state directory (once-per-build warning markers).
pub const STATE_DIR_VAR: &str = "SECWRAP_STATE_DIR";
/// The file `secwrap run` counts stopped and unchanged calls in (`run_report.rs`).
pub const RUN_REPORT_VAR: &str = "SECWRAP_RUN_REPORT";
