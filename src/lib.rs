//! secwrap: a transparent gcc/clang shim that injects split-section flags
//! when the tree's Kconfig says so, and records every compiler invocation.
//!
//! Modules in the order an invocation flows through them (CONTRIBUTING.md,
//! "Architecture", has the codemap and the invariants):
//! `argv` → `args` → `classify` → `config` (+ `kconfig`) → `inject` →
//! `exec` → `record`, orchestrated by `shim`. `compiler` finds the real
//! program. `cli` holds the subcommands, beside the shim path.

pub mod args;
pub mod atomic;
pub mod cache;
pub mod classify;
pub mod cli;
pub mod compiler;
pub mod config;
pub mod error;
pub mod exec;
pub mod exit;
pub mod identify;
pub mod inject;
pub mod invocation;
pub mod kconfig;
pub mod livepatch;
pub mod paths;
pub mod plan;
pub mod probe;
pub mod record;
pub mod response_file;
pub mod route;
pub mod run_report;
pub mod shim;
pub mod stages;
pub mod state;
pub mod text;
pub mod trust;
pub mod warning;

use std::ffi::OsString;
use std::path::Path;

/// The process entry (`src/main.rs` is `#![no_main]`). std's `lang_start`
/// would first reopen closed fds 0-2 on `/dev/null` and ignore SIGPIPE:
/// then a compile with stdout closed (`gcc -E a.c >&-`, which fails) would
/// write into `/dev/null` and succeed, and the compiler would not start
/// with the state the build tool gave secwrap. So secwrap notes which
/// standard fds were closed (`exec` closes them again for the compiler,
/// and occupies them meanwhile so no file secwrap opens lands on them),
/// and only the subcommands ignore SIGPIPE, as std would, so that a closed
/// pipe is an error they turn into a quiet exit.
pub fn start() -> ! {
    stages::mark("main");
    exec::note_closed_stdio();
    let argv: Vec<OsString> = std::env::args_os().collect();
    // A panic must not unwind out of the C `main`: exit as std's runtime
    // does after printing it (the panic hook has printed it).
    let _ = std::panic::catch_unwind(move || main(argv));
    std::process::exit(101)
}

/// Decides the mode before any option parser sees the arguments: a
/// compiler's `-o`, `--version` and `-v` must never reach clap.
///
/// - called as `secwrap*` with a subcommand or an option first: the CLI;
/// - called as `secwrap*` with anything else first: prefix mode, that word
///   is the compiler (`secwrap gcc -c a.c`);
/// - called under any other name (a symlink, hard link or copy named
///   `gcc`, `clang-14`, ...): masquerade mode, argv[0] is the compiler.
pub fn main(argv: Vec<OsString>) -> ! {
    let called_as = argv
        .first()
        .and_then(|argv0| Path::new(argv0).file_name())
        .map(compiler::is_secwrap_name)
        .unwrap_or(true);
    if !called_as {
        shim::main(argv, 0, |_| None);
    }
    match argv.get(1) {
        Some(word) if !cli::is_cli_word(word) => shim::main(argv, 1, cli::suggest_subcommand),
        _ => {
            exec::ignore_sigpipe();
            std::process::exit(cli::main(argv))
        }
    }
}
