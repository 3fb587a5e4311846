//! The `.config`/`auto.conf`/`autoconf.h` reader (`kconfig`).

use proptest::prelude::*;

use secwrap::kconfig::KconfigFormat;

use crate::checks::{check_kconfig_bytes, check_kconfig_round_trip};
use crate::strategies::{autoconf_values, dot_config_values, kconfig_text};

proptest! {
    #![proptest_config(crate::budget(3000))]

    /// Any bytes: every line a value, a diagnostic or nothing, the same as
    /// when read alone; diagnostics inside their lines.
    #[test]
    fn reading_any_bytes(text in kconfig_text()) {
        check_kconfig_bytes(&text);
    }
}

proptest! {
    // Fewer cases: up to 24 symbols with long strings each, about 7 ms a
    // case in a debug build.
    #![proptest_config(crate::budget(1000))]

    #[test]
    fn dot_config_round_trips(values in dot_config_values()) {
        check_kconfig_round_trip(&values, KconfigFormat::DotConfig);
    }

    #[test]
    fn auto_conf_round_trips(values in dot_config_values()) {
        check_kconfig_round_trip(&values, KconfigFormat::AutoConf);
    }

    #[test]
    fn autoconf_header_round_trips(values in autoconf_values()) {
        check_kconfig_round_trip(&values, KconfigFormat::AutoconfHeader);
    }
}
