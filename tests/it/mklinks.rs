//! `wrappers/mklinks`: a link for exactly the names secwrap takes for
//! compilers (`secwrap is-compiler`, the shim's own rule), none for the
//! tools installed beside them.

use std::path::Path;

use crate::common::*;

/// Driver names the shell rule it replaced missed, and a plain one.
const COMPILERS: &[&str] = &[
    "gcc",
    "arm-none-eabi-gcc",
    "gcc72",
    "aarch64-linux-gnu-clang",
    "clang-14",
];

/// Tools whose names start or end like a driver's.
const TOOLS: &[&str] = &["gcc-ar-12", "clang-format-14", "gcc-nm"];

fn mklinks() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wrappers/mklinks")
}

#[test]
fn links_compilers_and_not_tools() {
    let t = TestEnv::new();
    // mklinks looks at names only: tiny executables do.
    for name in COMPILERS.iter().chain(TOOLS) {
        t.executable(Path::new("bin").join(name), "#!/bin/sh\nexit 0\n");
    }
    let path = format!("{}:/usr/bin:/bin", t.path("bin").display());
    let t = t.env("PATH", path);
    let out = t
        .run_program(mklinks(), &[t.path("links").as_os_str(), SECWRAP.as_ref()])
        .stdout_contains("mklinks: ")
        .go();
    // Every link points at the binary mklinks was given.
    let mut linked = Vec::new();
    for entry in std::fs::read_dir(t.path("links")).expect("links directory") {
        let entry = entry.expect("directory entry");
        let target = std::fs::read_link(entry.path())
            .unwrap_or_else(|error| panic!("{}: {error}", entry.path().display()));
        assert_eq!(target, Path::new(SECWRAP), "{}", entry.path().display());
        linked.push(entry.file_name().into_string().expect("UTF-8 name"));
    }
    // /usr/bin adds its own compilers; of the names planted here, exactly
    // the compilers are linked.
    let mut planted: Vec<&str> = linked
        .iter()
        .map(String::as_str)
        .filter(|name| COMPILERS.contains(name) || TOOLS.contains(name))
        .collect();
    planted.sort();
    let mut expected = COMPILERS.to_vec();
    expected.sort();
    assert_eq!(planted, expected, "{}", out.stdout_text());
}

#[test]
fn is_compiler_prints_the_compilers() {
    let t = TestEnv::new();
    let mut args = vec!["is-compiler", "--"];
    args.extend(COMPILERS);
    let expected = format!("{}\n", COMPILERS.join("\n"));
    t.run(&args).stdout(&expected).go();
    args.extend(TOOLS);
    t.run(&args).status(1).stdout(&expected).go();
}
