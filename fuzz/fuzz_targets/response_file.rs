//! The response-file tokeniser: any bytes, and quoted words round-trip.
#![no_main]

#[path = "../../tests/properties/checks.rs"]
mod checks;
mod common;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    checks::check_tokenize_bytes(data);
    let mut u = Unstructured::new(data);
    let (Ok(words), Ok(styles)) = (common::words(&mut u, 8), common::bytes(&mut u, 8)) else {
        return;
    };
    checks::check_tokenize_round_trip(&words, &styles, &[b" ", b"\t\n", b"\x0c"]);
});
