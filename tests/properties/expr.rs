//! The Kconfig expression parser and printer (`kconfig::expr`).

use proptest::prelude::*;

use crate::checks::{check_expr_hostile, check_expr_round_trip, check_expr_source};
use crate::strategies::{expr, expr_source, kconfig_values};

proptest! {
    #![proptest_config(crate::budget(4000))]

    /// Any text: parsed ones round-trip, errors point inside the text.
    #[test]
    fn parsing_any_text(source in expr_source(), values in kconfig_values()) {
        check_expr_source(&source, &values);
    }
}

proptest! {
    // Fewer cases: deep generated trees print and parse in about 5 ms a
    // case in a debug build.
    #![proptest_config(crate::budget(1500))]

    /// print -> parse gives the same expression.
    #[test]
    fn printed_expressions_parse_back(expr in expr()) {
        check_expr_round_trip(&expr);
    }
}

proptest! {
    #![proptest_config(crate::budget(24))]

    /// Nesting around the limit and far past it, flat chains of any length.
    #[test]
    fn deep_nesting_and_long_chains(depth in prop_oneof![0..300usize, 1000..100_001usize], chain in 1..20_000usize) {
        check_expr_hostile(depth, chain);
    }
}

/// The sizes the hardening review tried, always (the generator above draws
/// them only now and then).
#[test]
fn one_hundred_thousand_levels_and_terms() {
    check_expr_hostile(100_000, 100_000);
    check_expr_hostile(256, 2);
    check_expr_hostile(257, 1);
}
