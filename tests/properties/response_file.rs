//! The response-file tokeniser (`response_file::tokenize_gnu`).

use std::ffi::OsString;

use proptest::collection::vec;
use proptest::prelude::*;

use crate::checks::{check_tokenize_bytes, check_tokenize_round_trip};
use crate::strategies::{bytes, os_bytes, separator};

proptest! {
    #![proptest_config(crate::budget(6000))]

    /// Any bytes: no panic, nothing invented, plain text split on blanks.
    #[test]
    fn tokenizing_any_bytes(contents in prop_oneof![
        bytes(96),
        vec(proptest::sample::select(&b" \t\n\r\x0b\x0c'\"\\ab@-"[..]), 0..64),
    ]) {
        check_tokenize_bytes(&contents);
    }

    /// Words quoted libiberty-style read back as the same words.
    #[test]
    fn quoted_words_round_trip(
        words in vec(prop_oneof![os_bytes(10), "[ -~]{0,6}".prop_map(OsString::from)], 0..8),
        styles in bytes(8),
        separators in vec(separator(), 1..4),
    ) {
        check_tokenize_round_trip(&words, &styles, &separators);
    }
}
