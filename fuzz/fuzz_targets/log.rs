//! The log: records round-trip through `LogWriter` and `read_log` around
//! damage.
#![no_main]

#[path = "../../tests/properties/checks.rs"]
mod checks;
mod common;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut records = Vec::new();
    let mut garbage = Vec::new();
    for _ in 0..u.int_in_range(0..=4).unwrap_or(0) {
        let (Ok(record), Ok(bytes)) = (common::record(&mut u), common::bytes(&mut u, 24)) else {
            break;
        };
        records.push(record);
        garbage.push(bytes);
    }
    garbage.push(common::bytes(&mut u, 24).unwrap_or_default());
    checks::check_log(common::scratch_dir(), &records, &garbage);
});
