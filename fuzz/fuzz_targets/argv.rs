//! The argument model and injection: `checks::check_driver_args` on any
//! words, `checks::check_injection` with response files.
#![no_main]

#[path = "../../tests/properties/checks.rs"]
mod checks;
mod common;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(argv), Ok(files), Ok(wanted), Ok(excluded), Ok(override_user_choice)) = (
        common::words(&mut u, 12),
        common::response_files(&mut u),
        common::wanted_flags(&mut u),
        u.arbitrary::<bool>(),
        u.arbitrary::<bool>(),
    ) else {
        return;
    };
    checks::check_driver_args(&argv);
    // Narrowed as the proptest is (tests/properties/args.rs): no readable
    // `@file` before a literal `--`.
    let mut argv = argv;
    if let Some(end) = secwrap::args::end_of_options(&argv) {
        for word in &mut argv[..end] {
            if word.to_str().is_some_and(|w| w.starts_with("@rsp")) {
                *word = "@rsp9".into();
            }
        }
    }
    let dir = common::scratch_dir();
    checks::write_response_files(dir, &files);
    checks::check_injection(dir, &argv, &wanted, excluded, override_user_choice);
});
