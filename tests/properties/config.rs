//! The TOML config loader (`config::Config::load`).

use proptest::prelude::*;

use crate::checks::check_config;
use crate::strategies::toml_document;

proptest! {
    #![proptest_config(crate::budget(1500))]

    /// Valid and broken documents: no panic, positions inside the file.
    #[test]
    fn loading_any_document(document in toml_document()) {
        DIR.with(|dir| check_config(dir.path(), &document.text, &document.plain_whens));
    }
}

thread_local! {
    /// Holds the config and the `k.config` its `kconfig` key may name.
    static DIR: tempfile::TempDir = {
        let dir = crate::scratch_dir();
        std::fs::write(dir.path().join("k.config"), "CONFIG_A=y\n").expect("write k.config");
        dir
    };
}
