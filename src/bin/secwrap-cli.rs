//! `secwrap-cli`: secwrap's subcommands, which `secwrap SUBCOMMAND ...`
//! hands over to (`secwrap::CLI_BINARY`), so that the shim's own binary,
//! started at every compile, holds only the shim's code. A C `main`, as
//! `src/main.rs`, so that SIGPIPE is seen as the build tool gave it
//! (`secwrap::cli_start`).

// Under `cargo test` the test harness brings its own `main`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    secwrap::cli_start()
}
