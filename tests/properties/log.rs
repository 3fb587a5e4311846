//! The invocation log (`record::LogWriter`, `record::read_log`).

use proptest::collection::vec;
use proptest::prelude::*;

use crate::checks::check_log;
use crate::strategies::{garbage, record};

proptest! {
    #![proptest_config(crate::budget(600))]

    /// Records round-trip; damage between them costs only damaged lines.
    #[test]
    fn records_round_trip_around_damage(
        records in vec(record(), 0..5),
        garbage in vec(garbage(), 6),
    ) {
        DIR.with(|dir| check_log(dir.path(), &records, &garbage));
    }
}

thread_local! {
    static DIR: tempfile::TempDir = crate::scratch_dir();
}
