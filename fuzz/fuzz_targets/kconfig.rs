//! The Kconfig reader: any bytes in both formats, and written values read
//! back.
#![no_main]

#[path = "../../tests/properties/checks.rs"]
mod checks;
mod common;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use secwrap::kconfig::KconfigFormat;

fuzz_target!(|data: &[u8]| {
    checks::check_kconfig_bytes(data);
    let mut u = Unstructured::new(data);
    let header: bool = u.arbitrary().unwrap_or_default();
    let Ok(values) = common::kconfig_values(&mut u, header) else {
        return;
    };
    let format = if header {
        KconfigFormat::AutoconfHeader
    } else {
        KconfigFormat::DotConfig
    };
    checks::check_kconfig_round_trip(&values, format);
});
