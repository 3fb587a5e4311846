//! Exit codes and the `SECWRAP_*` environment variables, in one place.

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
