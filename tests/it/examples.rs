//! The bundled examples, run as a newcomer runs them (README), with the
//! binary under test: `examples/run-demo.sh` (split objects, exclusions, one
//! record per compile) and `examples/livepatch-demo.sh` (patch, rebuild,
//! `log changed` and `diff` naming exactly the changed object and function).

use std::path::Path;

use crate::common::{SECWRAP, TestEnv, require_compiler, require_program};

fn run_example(script: &str, compiler: &str) {
    if !require_compiler(compiler) || !require_program("make") || !require_program("patch") {
        return;
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = TestEnv::new().env("SECWRAP", SECWRAP).env("CC", compiler);
    let out = t
        .run_program(repository.join("examples").join(script), &[] as &[&str])
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains(": OK ("), "{stdout}");
}

compiler_tests! {
    fn livepatch_demo(cc) {
        run_example("livepatch-demo.sh", cc);
    }
}

#[test]
fn run_demo() {
    run_example("run-demo.sh", "gcc");
}
