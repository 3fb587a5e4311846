//! The config loader: any file, positions inside it.
#![no_main]

#[path = "../../tests/properties/checks.rs"]
mod checks;
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    checks::check_config(common::scratch_dir(), data, &[]);
});
