//! Subcommands: they sit beside the shim path and share its config loading
//! and record schema, never its process handling. One file per group
//! (`setup`: init, config; `probe`: probe, cache; `log`: log, run;
//! `livepatch`: diff, check; `shims`: shims; `docs`: completions, man;
//! `install`: install-support); handlers parse, call the stages and print.
//!
//! Output is data on stdout, written through the locked `out` the
//! dispatcher hands each handler; a reader that goes away is a quiet exit 0,
//! as ripgrep's. Handlers return `anyhow::Result` with context; an error is
//! one `secwrap: error: ...` line on stderr (a usage error keeps clap's
//! usage lines after it) and exit status 2.

use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Parser, Subcommand};

use crate::compiler::{LAUNCHERS, compiler_family};
use crate::config::{Config, ConfigEnv};
use crate::error::io_message;
use crate::exit::EXIT_ERROR;
use crate::record::index::LogSummary;
use crate::record::{BadLine, InvocationRecord, read_log};
/// The one `plural()`, for the subcommands' `use super::plural`.
pub(crate) use crate::text::plural;

mod docs;
mod doctor;
mod install;
mod livepatch;
mod log;
mod probe;
mod setup;
mod stats;

use docs::{CompletionShell, completions, man_page};
use doctor::doctor;
use install::install_support;
use livepatch::{CheckRequest, check, diff, diff_build};
use log::{log_builds, log_changed, log_clear, log_export, log_prune, log_show, run_build};
use probe::{cache, probe_flags};
use setup::{init, show_config, trust_dir};

mod shims;

#[derive(Debug, Parser)]
#[command(
    name = "secwrap",
    version,
    about = "A transparent gcc/clang shim that adds split-section flags when the tree's Kconfig says so, and records every compile",
    after_help = "As a compiler wrapper: `secwrap gcc ARGS...`, `make CC=\"secwrap gcc\"`, or a link to secwrap named like the compiler."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a secwrap.toml for a tree, naming its Kconfig values.
    #[command(after_help = examples::INIT)]
    Init {
        /// The tree's `.config`, `include/config/auto.conf` or `include/generated/autoconf.h`.
        #[arg(long, required_unless_present = "always")]
        kconfig: Option<PathBuf>,
        /// No Kconfig: one rule, `when = "y"`, that gives every compile of the tree the split flags (most distribution packages).
        #[arg(long, conflicts_with = "kconfig")]
        always: bool,
        /// The directory to write secwrap.toml in; `-` prints it on stdout.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Invocation log path, relative to DIR.
        #[arg(long, default_value = "secwrap.jsonl")]
        log: String,
        /// Replace an existing secwrap.toml.
        #[arg(long)]
        force: bool,
    },
    /// Show the effective config, where each value came from, and the flags it adds.
    #[command(after_help = examples::CONFIG)]
    Config {
        /// Show what a compile of FILE from here would use: the config and
        /// Kconfig are also searched from FILE's directory (out-of-tree builds).
        #[arg(long = "for", value_name = "FILE")]
        for_file: Option<PathBuf>,
    },
    /// Ask the compiler which flags it accepts, exactly as Kbuild's `cc-option` does.
    ///
    /// Prints the supported flags space separated, as `$(call cc-option,...)`
    /// expands; exits 0 when all are supported, 1 otherwise. Each FLAG
    /// argument is one group (`"-ffunction-sections -fdata-sections"` is
    /// probed as one, as cc-option allows).
    #[command(after_help = examples::PROBE)]
    Probe {
        /// The compiler, possibly several words (`"ccache gcc"`, `"gcc -m32"`). Default: `$CC`, else `cc`.
        #[arg(long)]
        cc: Option<String>,
        /// Answer as `cc-disable-warning`: FLAG is a warning name (`vla`, `-Wvla` or `-Wno-vla`), probed as `-Wvla`, printed as `-Wno-vla`.
        #[arg(long)]
        disable_warning: bool,
        /// One line per flag group: yes/no, cached or probed, and the compiler's message for a no.
        #[arg(long)]
        explain: bool,
        /// Ask the compiler; neither read nor write the cache.
        #[arg(long)]
        no_cache: bool,
        /// The flag groups to ask about, one argument each (`-fdata-sections`,
        /// `"-ffunction-sections -fdata-sections"`).
        #[arg(required = true, allow_hyphen_values = true, trailing_var_arg = true)]
        flags: Vec<OsString>,
    },
    /// Run a build command as one build, tagged with a build id.
    ///
    /// The shim directory (`secwrap shims`' default DIR) is refreshed and
    /// put first on PATH for the command, so a build that calls `gcc`,
    /// `cc` or `clang` by name runs secwrap; CC and CXX are left as they
    /// are. Every record the command makes carries the build id
    /// (`SECWRAP_BUILD_ID`); a summary follows on stderr; the exit status is
    /// the command's. Options come before the command: `secwrap run
    /// --build-id orig -- make -j8 CC="secwrap gcc"`.
    ///
    /// A PATH shim cannot see a compiler named by absolute path
    /// (`CC=/usr/bin/gcc`), nor one a CMake or Meson build directory
    /// configured before `secwrap run` stored: configure inside `secwrap run`.
    #[command(override_usage = "secwrap run [OPTIONS] -- COMMAND...")]
    #[command(after_help = examples::RUN)]
    Run {
        /// The build id (default: an inherited non-empty `SECWRAP_BUILD_ID`,
        /// so a `secwrap run` inside a recipe stays in the outer build; else
        /// the UTC time and secwrap's pid).
        #[arg(long)]
        build_id: Option<String>,
        /// The invocation log to record into (default: the configured one: `[log] path` or `SECWRAP_LOG`).
        #[arg(long)]
        log: Option<PathBuf>,
        /// Leave PATH as it is: no shim directory, so only compilers
        /// called through secwrap (`CC="secwrap gcc"`) are seen.
        #[arg(long)]
        no_shims: bool,
        /// The command, after `--`, e.g. `-- make -j8`.
        // No `allow_hyphen_values`: an unknown option before the command is
        // a usage error, not the program to run; `trailing_var_arg` keeps
        // the command's own options (`make -j8` without `--`) as its words.
        #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Make or refresh links to secwrap named like the compilers on PATH.
    ///
    /// One symlink to this secwrap for each C/C++ compiler found on PATH
    /// (`gcc`, `cc`, `clang++`, `gcc-12`, `x86_64-linux-gnu-gcc`, ...; not
    /// tools such as `gcc-ar-12`), as Debian's `update-ccache-symlinks`
    /// keeps /usr/lib/ccache. Links of secwrap's that point elsewhere are
    /// re-pointed (atomically), links for compilers no longer on PATH are
    /// removed; anything else in DIR is left alone and reported, with exit
    /// status 1. With DIR first on PATH, a build that runs `gcc` runs
    /// secwrap, which runs the real gcc after it on PATH. `secwrap run`
    /// refreshes the default DIR and puts it first by itself.
    #[command(after_help = examples::SHIMS)]
    Shims {
        /// The directory (default: `$XDG_DATA_HOME/secwrap/shims`, else
        /// `~/.local/share/secwrap/shims`). Created 0700 if missing; refused
        /// if it is a symlink, not the user's, or writable by others.
        dir: Option<PathBuf>,
        /// Only these compilers (names as on PATH, each a compiler name
        /// found there); other links of secwrap's in DIR are removed.
        #[arg(long, num_args = 1.., value_name = "NAME", value_delimiter = ',')]
        compilers: Vec<OsString>,
        /// Change nothing: say whether DIR is current (every compiler has
        /// its link to this secwrap, none stale) and first on PATH, before
        /// every directory with a real compiler or a ccache/distcc/icecc
        /// masquerade link; one line per problem, exit 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Show what the probe cache holds, or clear it.
    #[command(after_help = examples::CACHE)]
    Cache {
        #[command(subcommand)]
        command: Option<CacheCommand>,
    },
    /// Functions and data items that differ between split objects.
    ///
    /// Two objects, two trees of objects, or a build's objects against the
    /// originals kept before it: changed, added, removed. Trees skip
    /// identical files and, with a log, files not compiled from C with the
    /// split flags, and count them on stderr. Exit 0: none, 1: some, 2: an
    /// object that differs could not be compared (not split, LTO IR, not
    /// ELF, no original kept), or an error.
    #[command(after_help = examples::DIFF)]
    Diff {
        /// The original object, or directory of objects.
        #[arg(required_unless_present = "build")]
        original: Option<PathBuf>,
        /// The patched object, or directory of objects.
        #[arg(required_unless_present = "build")]
        patched: Option<PathBuf>,
        /// Instead: every object this build compiled against the original
        /// kept before it was first recompiled (`[livepatch] keep_originals`).
        #[arg(long, conflicts_with_all = ["original", "patched"])]
        build: Option<String>,
        /// With --build: compare with the objects as this earlier build left
        /// them (default: as they were before the first build that kept
        /// originals).
        #[arg(long, requires = "build")]
        against: Option<String>,
        /// One JSON document on stdout: each object's changed, added and
        /// removed functions and data, or why it was refused, and the
        /// skipped counts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Check that split sections are what livepatching needs.
    ///
    /// Objects split wherever the flags can split them, and known to the
    /// record; no function names that collide with the compiler's special
    /// sections, no stale objects, no orphaned sections in an image, a
    /// linker script that gathers split sections after its special ones.
    /// Exit 1 when anything is found, 2 on an error.
    #[command(group(
        clap::ArgGroup::new("subjects")
            .args(["objects", "build", "image", "lds"])
            .required(true)
            .multiple(true)
    ))]
    #[command(after_help = examples::CHECK)]
    Check {
        /// Objects to check: special names, and the split itself (judged
        /// with the record's compile when there is one, from the object
        /// alone when there is none).
        objects: Vec<PathBuf>,
        /// Check the objects this build compiled, and every object the
        /// record knows whose latest compile ran under another config.
        #[arg(long)]
        build: Option<String>,
        /// A linked image (vmlinux, xen-syms, a program) to check for
        /// orphaned split sections: one line per family unless --verbose.
        #[arg(long, value_name = "IMAGE")]
        image: Vec<PathBuf>,
        /// A preprocessed linker script (Xen's `xen.lds`, Linux's
        /// `vmlinux.lds`, `ld --verbose` output): does it gather `.text.*`,
        /// `.data.*`, `.bss.*` and `.rodata.*` after its special sections?
        /// With --image, its output-section names tell orphans exactly.
        #[arg(long, value_name = "SCRIPT")]
        lds: Vec<PathBuf>,
        /// List every orphan section of an image, not one line per family.
        #[arg(long, short)]
        verbose: bool,
        /// Print each finding as a JSON object on its own line (fields:
        /// check, subject, line, item, message; README, "Check").
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Counts from the invocation log, as `ccache -s` shows its own.
    ///
    /// Calls by kind, compiles with flags injected, flags skipped by reason,
    /// secwrap's flag-probe cache hits and misses, failures (build-system
    /// probes apart), and the wall time secwrap added. For the whole log
    /// and its latest build, or for one build.
    #[command(after_help = examples::STATS)]
    Stats {
        /// Only this build (`log builds` lists them; `-` for records made
        /// outside `secwrap run`).
        #[arg(long)]
        build: Option<String>,
        /// One JSON document on stdout (fields: README, "Counters").
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Read the invocation log.
    #[command(after_help = examples::LOG)]
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Why is this object unsplit or unrecorded? One report.
    ///
    /// The config and Kconfig a compile of FILE would use and why they are
    /// trusted, secwrap's shim directory on PATH and launchers before it,
    /// the compiler, and the last record for FILE (an object or a source).
    /// Exit 1 when a problem is found.
    #[command(after_help = examples::DOCTOR)]
    Doctor {
        /// An object or source file of the tree.
        file: Option<PathBuf>,
        /// The compiler to ask when no record names one (default: `cc`).
        #[arg(long)]
        cc: Option<String>,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Let a tree's own secwrap.toml set every key (README, "Trust").
    ///
    /// Adds DIR to `safe_dirs` in your own config
    /// (`~/.config/secwrap/secwrap.toml`), as git's `safe.directory`: a
    /// secwrap.toml found upward in DIR may then name any launcher, flags
    /// off the safe list and files outside its tree.
    #[command(after_help = examples::TRUST)]
    Trust {
        /// The tree to trust (made absolute and physical).
        dir: PathBuf,
    },
    /// Print the shell completion script for SHELL.
    ///
    /// bash: `source <(secwrap completions bash)`; zsh: save as `_secwrap`
    /// on `$fpath`; fish: save in `~/.config/fish/completions/secwrap.fish`.
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Install the man pages, shell completions and build-system recipes under PREFIX.
    ///
    /// `cargo install --path .` installs the binary; this lays out the rest
    /// as a package would: PREFIX/share/man/man1/secwrap.1 and a page per
    /// subcommand, the bash, zsh and fish completions, and the recipes under
    /// PREFIX/share/secwrap/ (cmake/secwrap-launcher.cmake,
    /// meson/secwrap-native.ini, rpm/macros.secwrap, debian/rules.snippet).
    /// Files already up to date are left alone; run it again after
    /// upgrading secwrap.
    #[command(after_help = examples::INSTALL_SUPPORT)]
    InstallSupport {
        /// Where to install: `/usr/local`, or `~/.local` for one user.
        prefix: PathBuf,
        /// List what would be written, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the man page, secwrap.1, in roff (`secwrap man > secwrap.1`), or
    /// a subcommand's (`secwrap man log show`: secwrap-log-show.1).
    #[command(hide = true)]
    #[command(after_help = examples::MAN)]
    Man {
        /// The subcommand, as words (`log show`).
        subcommand: Vec<String>,
    },
}

/// The `Examples:` section of each subcommand's help: real command lines
/// (`every_subcommand_has_examples_and_every_option_help` keeps them there).
mod examples {
    pub const INIT: &str = "Examples:\n  secwrap init --kconfig .config\n  secwrap init --always --log build/secwrap.jsonl\n  secwrap init --kconfig include/config/auto.conf --dir - > secwrap.toml";
    pub const CONFIG: &str =
        "Examples:\n  secwrap config\n  secwrap config --for drivers/net/dummy.c";
    pub const PROBE: &str = "Examples:\n  secwrap probe --cc gcc -ffunction-sections -fdata-sections\n  secwrap probe --cc \"ccache gcc\" --explain \"-ffunction-sections -fdata-sections\" -fno-such-flag\n  secwrap probe --disable-warning vla";
    pub const RUN: &str = "Examples:
  secwrap run -- make -j8
  secwrap run -- cmake -S . -B build && secwrap run -- cmake --build build
  secwrap run --build-id orig --no-shims --log build/secwrap.jsonl -- make CC=\"secwrap gcc\"";
    pub const CACHE: &str = "Examples:\n  secwrap cache\n  secwrap cache clear";
    pub const DIFF: &str = "Examples:\n  secwrap diff orig/foo.o foo.o\n  secwrap diff --build patched --json\n  secwrap diff --build patched --against orig";
    pub const CHECK: &str = "Examples:\n  secwrap check --build patched\n  secwrap check --image vmlinux --lds arch/x86/kernel/vmlinux.lds\n  secwrap check --json foo.o";
    pub const STATS: &str = "Examples:\n  secwrap stats\n  secwrap stats --build patched --json";
    pub const LOG: &str = "Examples:\n  secwrap log show --build patched --failed\n  secwrap log changed --since orig > changed_objs\n  secwrap log prune --keep-builds 5";
    pub const DOCTOR: &str =
        "Examples:\n  secwrap doctor drivers/net/dummy.o\n  secwrap doctor --cc clang src/main.c";
    pub const TRUST: &str = "Examples:\n  secwrap trust ~/src/linux";
    pub const COMPLETIONS: &str = "Examples:\n  source <(secwrap completions bash)\n  secwrap completions fish > ~/.config/fish/completions/secwrap.fish";
    pub const MAN: &str = "Examples:\n  secwrap man > secwrap.1\n  secwrap man log show | man -l -";
    pub const INSTALL_SUPPORT: &str = "Examples:\n  secwrap install-support ~/.local\n  secwrap install-support /usr/local --dry-run";
    pub const SHIMS: &str = "Examples:
  secwrap shims
  secwrap shims --check
  secwrap shims ~/cross --compilers arm-none-eabi-gcc arm-none-eabi-g++";
    pub const CACHE_SHOW: &str = "Examples:\n  secwrap cache show";
    pub const CACHE_CLEAR: &str = "Examples:\n  secwrap cache clear";
    pub const LOG_SHOW: &str = "Examples:\n  secwrap log show\n  secwrap log show --build patched --failed\n  secwrap log show --since orig --kind compile";
    pub const LOG_BUILDS: &str =
        "Examples:\n  secwrap log builds\n  secwrap log builds --log build/secwrap.jsonl";
    pub const LOG_CHANGED: &str = "Examples:\n  secwrap log changed --since orig > changed_objs\n  secwrap log changed --image vmlinux -0 | xargs -0 ls -l\n  secwrap log changed --exclude 'tools/**' --verbose";
    pub const LOG_CLEAR: &str =
        "Examples:\n  secwrap log clear\n  secwrap log clear --log build/secwrap.jsonl";
    pub const LOG_PRUNE: &str = "Examples:\n  secwrap log prune --keep-builds 2 --dry-run\n  secwrap log prune --keep-builds 2";
    pub const LOG_EXPORT: &str = "Examples:\n  secwrap log export\n  secwrap log export --build patched -o - | jq length\n  secwrap log export --merge -o build/compile_commands.json";
}

/// `--log`, for every subcommand that reads the log.
#[derive(Debug, clap::Args)]
struct LogArgs {
    /// The invocation log (default: the configured one: `[log] path` or `SECWRAP_LOG`).
    #[arg(long)]
    log: Option<PathBuf>,
}

/// Which records `log show` shows.
#[derive(Debug, Default, clap::Args)]
struct ShowFilter {
    /// Only the records of this build (`log builds` lists them; `-` for
    /// records made outside `secwrap run`).
    #[arg(long, conflicts_with = "since")]
    build: Option<String>,
    /// Only the records of the builds after this one.
    #[arg(long)]
    since: Option<String>,
    /// Only records of this kind (`compile`, `link_only`, `preprocess_only`,
    /// `info_query`, `assemble`, ...: the record's `kind`).
    #[arg(long)]
    kind: Option<String>,
    /// Only the tree's calls that failed (exit status not 0, or a signal); a
    /// build-system probe's failure is an answer, not a failure, and is left
    /// out.
    #[arg(long)]
    failed: bool,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Where the cache is and every entry (the default).
    #[command(after_help = examples::CACHE_SHOW)]
    Show,
    /// Remove every entry.
    #[command(after_help = examples::CACHE_CLEAR)]
    Clear,
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// A readable summary: one line per invocation, then counts.
    ///
    /// Filters narrow the lines and the summary: `secwrap log show --build
    /// patched --failed`, `secwrap log show --since orig --kind compile`.
    #[command(after_help = examples::LOG_SHOW)]
    Show {
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        filter: ShowFilter,
    },
    /// The builds in the log, with counts by kind.
    #[command(after_help = examples::LOG_BUILDS)]
    Builds {
        #[command(flatten)]
        log: LogArgs,
    },
    /// Objects (re)compiled in the builds after BUILD (default: in the latest
    /// build), one path a line, relative to the build root: what livepatch
    /// tools read as `changed_objs`.
    ///
    /// Left out unless `--no-default-excludes`: build-system probes
    /// (configure's `conftest.o`, Xen's `arch/x86/efi/check.o`) and the
    /// version objects every build recompiles with its date
    /// (`init/version-timestamp.o`, `init/version.o`,
    /// `arch/x86/boot/version.o`, Xen's `common/version.o` or
    /// `xen/common/version.o`). What is left out is counted on stderr when
    /// it is a terminal, and named with `--verbose`; stdout is the list only.
    #[command(after_help = examples::LOG_CHANGED)]
    Changed(ChangedArgs),
    /// Remove every record (the log is emptied in place, under its lock).
    #[command(after_help = examples::LOG_CLEAR)]
    Clear {
        #[command(flatten)]
        log: LogArgs,
    },
    /// Keep only the latest builds' records (rewritten atomically, under
    /// the log's lock: a compile appending meanwhile is never lost).
    #[command(after_help = examples::LOG_PRUNE)]
    Prune {
        /// How many builds to keep, the latest by first record (`log
        /// builds` order; records outside `secwrap run` are the build `-`).
        #[arg(long, value_name = "N")]
        keep_builds: usize,
        /// Say what would be kept and removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Write the compiles as a compilation database.
    #[command(after_help = examples::LOG_EXPORT)]
    Export {
        /// The database format (the one there is).
        #[arg(long, value_enum, default_value = "compile-commands")]
        format: ExportFormat,
        /// Only this build's compiles.
        #[arg(long)]
        build: Option<String>,
        /// Where to write (atomically, through a symlink; a FIFO or device in
        /// place: README, "Output files"); `-` is stdout.
        #[arg(long, short, default_value = "compile_commands.json")]
        output: PathBuf,
        /// Merge into an existing file: entries for the same source and output are replaced.
        #[arg(long)]
        merge: bool,
        /// Also the build system's own test compiles of a source (configure's `conftest.c`, CMake's, Xen's EFI check), left out by default.
        #[arg(long)]
        include_probes: bool,
        #[command(flatten)]
        log: LogArgs,
    },
}

/// `secwrap log changed`.
#[derive(Debug, clap::Args)]
struct ChangedArgs {
    /// List what was compiled after this build.
    #[arg(long)]
    since: Option<String>,
    /// Paths are relative to this directory (default: the working directory).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Leave out the objects whose path, as printed, matches GLOB (`*` stays within one directory, `**` crosses them); repeatable.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Keep build-system probes and the always-rebuilt version objects.
    #[arg(long)]
    no_default_excludes: bool,
    /// Keep only the objects with a function or data item in IMAGE's symbol table (vmlinux, xen-syms, a module); repeatable: in any of them.
    #[arg(long, value_name = "IMAGE")]
    image: Vec<PathBuf>,
    /// End each path with a NUL byte instead of a newline (for `xargs -0`).
    #[arg(short = '0', long = "null", conflicts_with = "json")]
    null: bool,
    /// A JSON array of the paths; a path that is not UTF-8 is `{"bytes": "<base64>"}`, as in the record.
    #[arg(long)]
    json: bool,
    /// Name every object left out, and why, on stderr.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ExportFormat {
    /// `compile_commands.json` (directory, file, arguments, output), as Bear writes.
    CompileCommands,
}

/// How a subcommand ended, when it did not fail.
enum CommandStatus {
    Success,
    /// A question answered "no" (`secwrap probe` with an unsupported flag,
    /// `secwrap check` with findings).
    No,
    /// A status decided by the command itself (`secwrap diff`).
    Exit(i32),
}

/// The subcommand names, which select the CLI rather than prefix mode.
/// Kept as a plain list because every `secwrap gcc ...` call checks it;
/// `subcommand_words_match_the_cli` keeps it equal to clap's.
const SUBCOMMANDS: &[&str] = &[
    "cache",
    "check",
    "completions",
    "config",
    "diff",
    "doctor",
    "help",
    "init",
    "install-support",
    "log",
    "man",
    "probe",
    "run",
    "shims",
    "stats",
    "trust",
];

/// Whether `word` (argv[1] when called as `secwrap`) selects the CLI.
pub fn is_cli_word(word: &OsString) -> bool {
    let word = word.as_encoded_bytes();
    word.starts_with(b"-") || SUBCOMMANDS.iter().any(|name| name.as_bytes() == word)
}

/// The subcommand `word` is one edit away from (a substitution, an
/// insertion, a deletion or two adjacent letters swapped: `lgo` is `log`),
/// for a "did you mean" when `secwrap WORD` finds no compiler named `WORD`.
/// Damerau-Levenshtein through strsim, the crate clap's own suggestions use.
pub fn suggest_subcommand(word: &OsStr) -> Option<&'static str> {
    let word = word.to_str()?;
    // A path, a compiler or a launcher is what it says, not a typo: a
    // missing `ccache` is one edit from `cache`, and means ccache.
    if word.contains('/')
        || compiler_family(OsStr::new(word)).is_some()
        || LAUNCHERS.contains(&word)
    {
        return None;
    }
    SUBCOMMANDS
        .iter()
        .copied()
        .find(|name| strsim::damerau_levenshtein(word, name) == 1)
}

/// Runs a subcommand; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) => return report_clap_error(&error),
    };
    let mut stdout = std::io::stdout().lock();
    let result = dispatch(cli.command, &mut stdout).and_then(|status| {
        stdout.flush()?;
        Ok(status)
    });
    match result {
        Ok(CommandStatus::Success) => 0,
        Ok(CommandStatus::No) => 1,
        Ok(CommandStatus::Exit(code)) => code,
        // The reader stopped reading (`secwrap log show | head -1`): not an
        // error, and nothing to say; ripgrep exits 0 quietly the same way.
        Err(error) if is_broken_pipe(&error) => 0,
        Err(error) => {
            eprintln!("secwrap: error: {}", ErrorLine(&error));
            EXIT_ERROR
        }
    }
}

/// Runs the subcommand, its output to `out`.
fn dispatch(command: Command, out: &mut dyn Write) -> Result<CommandStatus> {
    match command {
        Command::Init {
            kconfig,
            always: _,
            dir,
            log,
            force,
        } => init(kconfig.as_deref(), &dir, &log, force, out),
        Command::Config { for_file } => show_config(for_file.as_deref(), out),
        Command::Trust { dir } => trust_dir(&dir, out),
        Command::Doctor { file, cc, log } => doctor(file.as_deref(), cc.as_deref(), log.log, out),
        Command::Probe {
            cc,
            disable_warning,
            explain,
            no_cache,
            flags,
        } => probe_flags(cc, disable_warning, explain, no_cache, &flags, out),
        Command::Cache { command } => cache(command.unwrap_or(CacheCommand::Show), out),
        Command::Run {
            build_id,
            log,
            no_shims,
            command,
        } => run_build(build_id, log, no_shims, &command),
        Command::Diff {
            original,
            patched,
            build,
            against,
            json,
            log,
        } => match (original, patched, build) {
            (Some(original), Some(patched), None) => diff(&original, &patched, log.log, json, out),
            (_, _, Some(build)) => diff_build(&build, against.as_deref(), log.log, json, out),
            _ => Err(anyhow!("give ORIGINAL and PATCHED, or --build BUILD")),
        },
        Command::Check {
            objects,
            build,
            image,
            lds,
            verbose,
            json,
            log,
        } => check(
            &CheckRequest {
                objects: &objects,
                build: build.as_deref(),
                images: &image,
                scripts: &lds,
                verbose,
                json,
            },
            log.log,
            out,
        ),
        Command::Log { command } => match command {
            LogCommand::Show { log, filter } => log_show(log.log, &filter, out),
            LogCommand::Builds { log } => log_builds(log.log, out),
            LogCommand::Clear { log } => log_clear(log.log, out),
            LogCommand::Prune {
                keep_builds,
                dry_run,
                log,
            } => log_prune(keep_builds, dry_run, log.log, out),
            LogCommand::Changed(args) => log_changed(args, out),
            LogCommand::Export {
                format: ExportFormat::CompileCommands,
                build,
                output,
                merge,
                include_probes,
                log,
            } => log_export(build, &output, merge, include_probes, log.log, out),
        },
        Command::Stats { build, json, log } => stats::stats(build.as_deref(), json, log.log, out),
        Command::Completions { shell } => completions(shell, out),
        Command::InstallSupport { prefix, dry_run } => install_support(&prefix, dry_run, out),
        Command::Man { subcommand } => man_page(&subcommand, out),
        Command::Shims {
            dir,
            compilers,
            check,
        } => shims::shims(dir, &compilers, check, out),
    }
}

/// `--help` and `--version` as clap prints them; a usage error as clap
/// words it (usage and tip lines kept), with secwrap's `secwrap: error:`
/// prefix on its first line, as every other error has.
fn report_clap_error(error: &clap::Error) -> i32 {
    if !error.use_stderr() {
        // Help or version, on stdout: a closed pipe is not worth a word.
        let _ = error.print();
        return error.exit_code();
    }
    let text = error.render().to_string();
    match text.strip_prefix("error: ") {
        Some(rest) => eprint!("secwrap: error: {rest}"),
        // Help shown for a missing subcommand (`secwrap log`): as it is.
        None => eprint!("{text}"),
    }
    error.exit_code()
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|error| error.kind() == ErrorKind::BrokenPipe)
    })
}

/// An error as its one `secwrap: error:` line: anyhow's `{:#}` form (the
/// context chain joined with `: `), with each io error shown as
/// `error::io_message` shows it, without Rust's " (os error N)" suffix.
struct ErrorLine<'a>(&'a anyhow::Error);

impl std::fmt::Display for ErrorLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, cause) in self.0.chain().enumerate() {
            if index > 0 {
                f.write_str(": ")?;
            }
            match cause.downcast_ref::<std::io::Error>() {
                Some(error) => f.write_str(&io_message(error))?,
                None => write!(f, "{cause}")?,
            }
        }
        Ok(())
    }
}

fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().context("cannot read the working directory")
}

fn load_config() -> Result<Config> {
    Ok(Config::load(&ConfigEnv::from_process(current_dir()?))?)
}

/// The log to read: `--log`, else the configured one.
fn log_path(log: Option<PathBuf>) -> Result<PathBuf> {
    match log {
        Some(path) => Ok(current_dir()?.join(path)),
        None => {
            let config = load_config()?;
            if config.log_off {
                bail!("recording is off (SECWRAP_LOG=off)");
            }
            config.log.map(|log| log.value).context(
                "no invocation log: no `[log] path`, no SECWRAP_LOG, and no state directory for the default log (HOME and XDG_STATE_HOME unset); give --log",
            )
        }
    }
}

/// The one wording of a build id the log does not have, for every
/// subcommand that takes `--build`, `--since` or `--against`.
fn no_build(id: &str, log: &std::path::Path) -> anyhow::Error {
    anyhow!("no build `{id}` in {}", log.display())
}

/// Reads the log, warning about (and skipping) bad lines.
fn read_records(log: Option<PathBuf>) -> Result<(PathBuf, Vec<InvocationRecord>, Vec<BadLine>)> {
    let path = log_path(log)?;
    let (records, bad_lines) = read_log(&path).with_context(|| path.display().to_string())?;
    for bad in &bad_lines {
        eprintln!(
            "secwrap: warning: {}:{}: {}",
            path.display(),
            bad.line,
            bad.message
        );
    }
    Ok((path, records, bad_lines))
}

/// Reads the log into its summaries (through its index: `record::index`),
/// warning about the index if it was ignored and about (and skipping) bad
/// lines, as [`read_records`] does.
fn read_summary(log: Option<PathBuf>) -> Result<(PathBuf, LogSummary)> {
    let path = log_path(log)?;
    let users = ConfigEnv::from_process(current_dir()?).users;
    let (summary, warnings) =
        LogSummary::read(&path, users).with_context(|| path.display().to_string())?;
    warn_all(&warnings);
    for bad in summary.bad_lines() {
        eprintln!(
            "secwrap: warning: {}:{}: {}",
            path.display(),
            bad.line,
            bad.message
        );
    }
    Ok((path, summary))
}

/// The records of the builds `ids` added into what `start` makes
/// (`LogSummary::fold_records_of`), warning if the index turned out not to
/// match the log.
fn fold_records_of<A>(
    path: &Path,
    summary: &LogSummary,
    ids: &[&str],
    start: impl Fn() -> A,
    add: impl FnMut(&mut A, &InvocationRecord),
) -> Result<A> {
    let mut add = add;
    let (answer, warnings) = summary
        .fold_records_of(path, ids, start, |answer, record| {
            add(answer, record);
            Ok(())
        })
        .with_context(|| path.display().to_string())?;
    warn_all(&warnings);
    Ok(answer)
}

fn warn_all(warnings: &[String]) {
    for warning in warnings {
        eprintln!("secwrap: warning: {warning}");
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn subcommand_words_match_the_cli() {
        let mut names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|command| command.get_name().to_string())
            .chain(["help".to_string()])
            .collect();
        names.sort();
        assert_eq!(names, SUBCOMMANDS);
    }

    /// The words of the secwrap command in an example line, as a shell
    /// splits them: from `secwrap` to the first unquoted `>`, `|` or `)`,
    /// with `'...'` and `"..."` quoting (all the examples use).
    fn example_words(line: &str) -> Vec<String> {
        let start = line.find("secwrap ").expect("an example runs secwrap");
        let (mut words, mut word, mut quote, mut in_word) = (vec![], String::new(), None, false);
        for character in line[start..].chars() {
            match (quote, character) {
                (Some(open), c) if c == open => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(character);
                    in_word = true;
                }
                (None, '>' | '|' | ')') => break,
                (None, ' ') => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                    }
                    in_word = false;
                }
                (None, c) => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            words.push(word);
        }
        words
    }

    /// Every subcommand's help ends with `Examples:` and one to three
    /// command lines that clap accepts as they are written; every option
    /// and argument has a help line (`secwrap SUB --help` says what it is).
    #[test]
    fn every_subcommand_has_examples_and_every_option_help() {
        fn walk(command: &clap::Command, path: &str, problems: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none() && id != "help" && id != "version" {
                    problems.push(format!("{path}: `{id}` has no help"));
                }
            }
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let after = sub.get_after_help().map(|text| text.to_string());
                match after
                    .as_deref()
                    .and_then(|text| text.strip_prefix("Examples:\n"))
                {
                    None => problems.push(format!("{path}: no `Examples:` section")),
                    Some(lines) => {
                        let lines: Vec<&str> = lines.lines().collect();
                        if !(1..=3).contains(&lines.len()) {
                            problems.push(format!("{path}: {} examples", lines.len()));
                        }
                        for line in lines {
                            let words = example_words(line);
                            if let Err(error) = Cli::try_parse_from(&words)
                                && error.use_stderr()
                            {
                                problems.push(format!("{path}: `{line}`: {error}"));
                            }
                            if !words.join(" ").starts_with(&path) {
                                problems.push(format!("{path}: `{line}` runs another subcommand"));
                            }
                        }
                    }
                }
                walk(sub, &path, problems);
            }
        }
        let mut problems = Vec::new();
        walk(&Cli::command(), "secwrap", &mut problems);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        assert_eq!(
            example_words(r#"x <(secwrap run -- make CC="secwrap gcc" 'a b') > f"#),
            ["secwrap", "run", "--", "make", "CC=secwrap gcc", "a b"]
        );
    }

    #[track_caller]
    fn check_suggestion(word: &[u8], expected: Option<&str>) {
        let word = OsStr::from_bytes(word);
        assert_eq!(suggest_subcommand(word), expected, "word: {word:?}");
    }

    #[test]
    fn suggests_a_subcommand_one_edit_away() {
        // Each kind of edit.
        check_suggestion(b"lgo", Some("log"));
        check_suggestion(b"chek", Some("check"));
        check_suggestion(b"porbe", Some("probe"));
        check_suggestion(b"cahce", Some("cache"));
        check_suggestion(b"conifg", Some("config"));
        check_suggestion(b"dif", Some("diff"));
        check_suggestion(b"inti", Some("init"));
        check_suggestion(b"runn", Some("run"));
        check_suggestion(b"logs", Some("log"));
        check_suggestion(b"probes", Some("probe"));
        check_suggestion(b"chack", Some("check"));
        check_suggestion(b"hlep", Some("help"));
        // Compilers and tools met in prefix mode, and words too far off.
        for word in [
            &b"gcc"[..],
            b"cc",
            b"clang",
            b"ld",
            b"as",
            b"g++",
            b"c++",
            b"ccache",
            b"sccache",
            b"./lgo",
            b"/usr/bin/chek",
            b"make",
            b"log",
            b"check",
            b"lgoo",
            b"",
            b"l",
        ] {
            check_suggestion(word, None);
        }
        // Not UTF-8: no subcommand is spelled that way.
        check_suggestion(b"lo\xffg", None);
        check_suggestion(b"l\xffg", None);
    }
}
