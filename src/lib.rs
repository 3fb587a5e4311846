//! secwrap: a transparent gcc/clang shim that injects split-section flags
//! when the tree's Kconfig says so, and records every compiler invocation.
//!
//! Modules in the order an invocation flows through them (CONTRIBUTING.md,
//! "Architecture", has the codemap and the invariants):
//! `argv` → `args` → `classify` → `config` (+ `kconfig`) → `inject` →
//! `exec` → `record`, orchestrated by `shim`. `compiler` finds the real
//! program. `cli` holds the subcommands, beside the shim path.

pub mod arena;
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

/// The name of the binary that holds the subcommands, installed beside
/// `secwrap` (`src/bin/secwrap-cli.rs`). The shim's binary leaves them out:
/// every compile maps and faults in the pages of the code it touches, and
/// without the subcommands' code (clap, the livepatch analysis) the shim's
/// code lies closer together (README, "Performance").
pub const CLI_BINARY: &str = "secwrap-cli";

/// The process entry of `secwrap` (`src/main.rs` is `#![no_main]`). std's `lang_start`
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
/// - called as `secwrap*` with a subcommand or an option first: the CLI,
///   which is `secwrap-cli` beside this binary, run with the same argv;
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
        _ => hand_to_cli(&argv),
    }
}

/// Runs `secwrap-cli` from this binary's directory in place of this
/// process, with the same argv (clap names the program from argv[0]), or
/// says why it cannot.
fn hand_to_cli(argv: &[OsString]) -> ! {
    let cli = std::fs::read_link("/proc/self/exe")
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(CLI_BINARY)));
    let Some(cli) = cli else {
        eprintln!("secwrap: error: cannot find secwrap's own executable (/proc/self/exe)");
        std::process::exit(exit::EXIT_ERROR)
    };
    let error = exec::exec_as(&cli, argv);
    eprintln!(
        "secwrap: error: the subcommands are in `{CLI_BINARY}`, installed beside secwrap, and `{}` cannot be run: {} (`cargo install --path .` installs both)",
        cli.display(),
        error::io_message(&error)
    );
    std::process::exit(if error.kind() == std::io::ErrorKind::NotFound {
        exit::EXIT_NOT_FOUND
    } else {
        exit::EXIT_CANNOT_RUN
    })
}

/// The process entry of `secwrap-cli`: the subcommands, as `secwrap`
/// hands them over. SIGPIPE is ignored as std's runtime would, so that a
/// closed pipe is an error the subcommands end on quietly.
pub fn cli_start() -> ! {
    exec::ignore_sigpipe();
    let argv: Vec<OsString> = std::env::args_os().collect();
    let _ = std::panic::catch_unwind(move || std::process::exit(cli::main(argv)));
    std::process::exit(101)
}

/// The `secwrap` binary the subcommands work for: the one beside
/// `secwrap-cli` (the shim links `secwrap shims` and `secwrap run` make
/// point at it; `doctor` and `probe` recognise it on PATH), or the running
/// binary itself when it is not `secwrap-cli` (a test running the
/// subcommands in-process).
pub fn shim_binary() -> std::io::Result<std::path::PathBuf> {
    // The kernel's link is the physical path, as `hand_to_cli` reads it.
    let exe = std::fs::read_link("/proc/self/exe")?;
    if exe.file_name() != Some(std::ffi::OsStr::new(CLI_BINARY)) {
        return Ok(exe);
    }
    let shim = exe.with_file_name("secwrap");
    std::fs::metadata(&shim).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "`{}`, the secwrap beside {CLI_BINARY}: {}",
                shim.display(),
                error::io_message(&error)
            ),
        )
    })?;
    Ok(shim)
}
