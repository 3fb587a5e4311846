//! secwrap's program entry: a C `main`, so that nothing of std's runtime
//! start-up runs before secwrap sees the process as the build tool gave it
//! (`secwrap::start` says what std would have changed).

// Under `cargo test` the test harness brings its own `main`.
#![cfg_attr(not(test), no_main)]

/// A bump arena in front of malloc: a call allocates a few hundred small
/// blocks and exits (`secwrap::arena`).
#[global_allocator]
static ALLOCATOR: secwrap::arena::Arena = secwrap::arena::Arena::new();

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // std reads argc/argv itself on glibc (from `.init_array`), so
    // `std::env::args_os` works without `lang_start`.
    secwrap::start()
}
