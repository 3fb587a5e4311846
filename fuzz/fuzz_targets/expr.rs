//! The Kconfig expression parser: any text; what parses round-trips
//! through printing.
#![no_main]

#[path = "../../tests/properties/checks.rs"]
mod checks;
mod common;

use libfuzzer_sys::fuzz_target;
use secwrap::kconfig::{KconfigValue, KconfigValues, Tristate};

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let mut values = KconfigValues::default();
    values.insert("A", KconfigValue::Tristate(Tristate::M));
    values.insert("I", KconfigValue::Int(8));
    checks::check_expr_source(&source, &values);
});
