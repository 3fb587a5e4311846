//! Subcommands: they sit beside the shim path and share its config loading
//! and record schema, never its process handling. Output is data on stdout;
//! errors are one `secwrap: error: ...` line on stderr and exit status 2.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigEnv, DEFAULT_RULES, SPLIT_FLAGS};
use crate::error::{BadInput, io_message};
use crate::exit::EXIT_ERROR;
use crate::kconfig::{KconfigFormat, KconfigValues};
use crate::record::{InvocationRecord, read_log};

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
    Init {
        /// The tree's `.config`, `include/config/auto.conf` or `include/generated/autoconf.h`.
        #[arg(long)]
        kconfig: PathBuf,
        /// Where to write secwrap.toml.
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
    Config,
    /// Ask the compiler which flags it accepts, exactly as Kbuild's `cc-option` does.
    ///
    /// Prints the supported flags space separated, as `$(call cc-option,...)`
    /// expands; exits 0 when all are supported, 1 otherwise. Each FLAG
    /// argument is one group (`"-ffunction-sections -fdata-sections"` is
    /// probed as one, as cc-option allows).
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
        #[arg(required = true, allow_hyphen_values = true, trailing_var_arg = true)]
        flags: Vec<OsString>,
    },
    /// Run a build command as one build, tagged with a build id.
    ///
    /// Every record the command makes carries the build id
    /// (`SECWRAP_BUILD_ID`); a summary follows on stderr; the exit status is
    /// the command's.
    Run {
        /// The build id (default: the UTC time and secwrap's pid).
        #[arg(long)]
        build_id: Option<String>,
        /// The command, e.g. `make -j8 CC="secwrap gcc"`.
        #[arg(required = true, allow_hyphen_values = true, trailing_var_arg = true)]
        command: Vec<OsString>,
    },
    /// Show what the probe cache holds, or clear it.
    Cache {
        #[command(subcommand)]
        command: Option<CacheCommand>,
    },
    /// Functions and data items that differ between split objects.
    ///
    /// Two objects, two trees of objects, or a build's objects against the
    /// originals kept before it: changed, added, removed. Exit 0: none, 1:
    /// some, 2: an object was refused (not split, LTO IR, not ELF).
    Diff {
        /// The original object, or directory of objects.
        #[arg(required_unless_present = "build")]
        original: Option<PathBuf>,
        /// The patched object, or directory of objects.
        #[arg(required_unless_present = "build")]
        patched: Option<PathBuf>,
        /// Instead: every object this build compiled against the original
        /// kept before it (`[livepatch] keep_originals`).
        #[arg(long, conflicts_with_all = ["original", "patched"])]
        build: Option<String>,
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Check that split sections are what livepatching needs.
    ///
    /// Objects really split, no function names that collide with the
    /// compiler's special sections, no stale objects, no orphaned sections
    /// in an image. Exit 1 when anything is found.
    Check {
        /// Objects to check: special names, and the split itself when the
        /// record says they were compiled with the flags.
        objects: Vec<PathBuf>,
        /// Check the objects this build compiled, and every object the
        /// record knows whose latest compile ran under another config.
        #[arg(long)]
        build: Option<String>,
        /// A linked image (vmlinux, xen-syms, a program) to check for
        /// orphaned split sections.
        #[arg(long)]
        image: Vec<PathBuf>,
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Read the invocation log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Print each NAME that is a compiler driver name (for `wrappers/mklinks`).
    ///
    /// Exits 0 when every NAME is one, 1 otherwise.
    #[command(hide = true)]
    IsCompiler {
        /// File names (`gcc-12`, `arm-none-eabi-gcc`, `gcc-ar-12`, ...).
        names: Vec<OsString>,
    },
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Where the cache is and every entry (the default).
    Show,
    /// Remove every entry.
    Clear,
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// A readable summary: one line per invocation, then counts.
    Show {
        /// The log to read (default: the configured one).
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// The builds in the log, with counts by kind.
    Builds {
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Objects (re)compiled in the builds after BUILD (default: in the latest
    /// build), one path a line, relative to the build root: what livepatch
    /// tools read as `changed_objs`.
    Changed {
        /// List what was compiled after this build.
        #[arg(long)]
        since: Option<String>,
        /// Paths are relative to this directory (default: the working directory).
        #[arg(long)]
        root: Option<PathBuf>,
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Write the compiles as a compilation database.
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Only this build's compiles.
        #[arg(long)]
        build: Option<String>,
        /// Where to write (atomically).
        #[arg(long, short, default_value = "compile_commands.json")]
        output: PathBuf,
        /// Merge into an existing file: entries for the same source and output are replaced.
        #[arg(long)]
        merge: bool,
        #[arg(long)]
        log: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ExportFormat {
    /// `compile_commands.json` (directory, file, arguments, output), as Bear writes.
    CompileCommands,
}

/// How a subcommand ended, when it did not fail.
enum Outcome {
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
    "config",
    "diff",
    "help",
    "init",
    "is-compiler",
    "log",
    "probe",
    "run",
];

/// Whether `word` (argv[1] when called as `secwrap`) selects the CLI.
pub fn is_cli_word(word: &OsString) -> bool {
    let word = word.as_encoded_bytes();
    word.starts_with(b"-") || SUBCOMMANDS.iter().any(|name| name.as_bytes() == word)
}

/// Runs a subcommand; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Command::Init {
            kconfig,
            dir,
            log,
            force,
        } => init(&kconfig, &dir, &log, force),
        Command::Config => show_config(),
        Command::Probe {
            cc,
            disable_warning,
            explain,
            no_cache,
            flags,
        } => probe_flags(cc, disable_warning, explain, no_cache, &flags),
        Command::Cache { command } => cache(command.unwrap_or(CacheCommand::Show)),
        Command::Run { build_id, command } => run_build(build_id, &command),
        Command::Diff {
            original,
            patched,
            build,
            log,
        } => match (original, patched, build) {
            (Some(original), Some(patched), None) => diff(&original, &patched),
            (_, _, Some(build)) => diff_build(&build, log),
            _ => Err("give ORIGINAL and PATCHED, or --build BUILD".to_string()),
        },
        Command::Check {
            objects,
            build,
            image,
            log,
        } => check(&objects, build.as_deref(), &image, log),
        Command::Log { command } => match command {
            LogCommand::Show { log } => log_show(log),
            LogCommand::Builds { log } => log_builds(log),
            LogCommand::Changed { since, root, log } => log_changed(since, root, log),
            LogCommand::Export {
                format: ExportFormat::CompileCommands,
                build,
                output,
                merge,
                log,
            } => log_export(build, &output, merge, log),
        },
        Command::IsCompiler { names } => shims::is_compiler(&names),
    };
    match result {
        Ok(Outcome::Success) => 0,
        Ok(Outcome::No) => 1,
        Ok(Outcome::Exit(code)) => code,
        Err(message) => {
            eprintln!("secwrap: error: {message}");
            EXIT_ERROR
        }
    }
}

fn current_dir() -> Result<PathBuf, String> {
    std::env::current_dir()
        .map_err(|error| format!("cannot read the working directory: {}", io_message(&error)))
}

fn load_config() -> Result<Config, String> {
    Config::load(&ConfigEnv::from_process(current_dir()?)).map_err(|error| error.to_string())
}

fn init(kconfig: &Path, dir: &Path, log: &str, force: bool) -> Result<Outcome, String> {
    let cwd = current_dir()?;
    let dir = crate::paths::normalize(&cwd.join(dir));
    let kconfig = crate::paths::normalize(&cwd.join(kconfig));
    let text = std::fs::read(&kconfig)
        .map_err(|error| format!("{}: {}", kconfig.display(), io_message(&error)))?;
    let (values, diagnostics) = KconfigValues::parse(&text, KconfigFormat::detect(&kconfig, &text));
    if let Some(first) = diagnostics.first() {
        return Err(BadInput {
            path: kconfig.clone(),
            position: Some((first.line, first.column)),
            message: first.message.clone(),
        }
        .to_string());
    }
    let target = dir.join(crate::config::CONFIG_FILE_NAME);
    if target.exists() && !force {
        return Err(format!(
            "{} already exists (use --force to replace it)",
            target.display()
        ));
    }
    let relative = kconfig.strip_prefix(&dir).unwrap_or(&kconfig);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# secwrap.toml, written by `secwrap init`. Paths are relative to this file."
    );
    let _ = writeln!(
        text,
        "kconfig = {}",
        toml_string(&relative.to_string_lossy())
    );
    let _ = writeln!(text, "\n[log]\npath = {}\n", toml_string(log));
    let _ = writeln!(text, "# With no [[rule]], the built-in rules apply:");
    for (name, when) in DEFAULT_RULES {
        let _ = writeln!(
            text,
            "#   {name}: when = \"{when}\" -> {}",
            SPLIT_FLAGS.join(" ")
        );
    }
    let _ = writeln!(text, "# Your own rules replace them, for example:");
    let _ = writeln!(
        text,
        "# [[rule]]\n# name = \"split-sections\"\n# when = \"CC_SPLIT_SECTIONS || LIVEPATCH\"\n# cflags = [\"-ffunction-sections\", \"-fdata-sections\"]"
    );
    std::fs::write(&target, text)
        .map_err(|error| format!("{}: {}", target.display(), io_message(&error)))?;
    println!(
        "wrote {} ({} Kconfig symbols in {})",
        target.display(),
        values.len(),
        kconfig.display()
    );
    Ok(Outcome::Success)
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

fn show_config() -> Result<Outcome, String> {
    let config = load_config()?;
    let values = config.load_kconfig().map_err(|error| error.to_string())?;
    let decision = config.evaluate(&values);
    let mut out = String::new();
    let sourced =
        |path: &Path, origin: &dyn std::fmt::Display| format!("{} ({origin})", path.display());
    let _ = writeln!(
        out,
        "config file:  {}",
        config
            .file
            .as_ref()
            .map_or("none (built-in defaults)".to_string(), |file| sourced(
                &file.value,
                &file.origin
            ))
    );
    let _ = writeln!(out, "root:         {}", config.root.display());
    let _ = writeln!(
        out,
        "kconfig:      {}",
        config
            .kconfig
            .as_ref()
            .map_or("none found (every symbol is n)".to_string(), |kconfig| {
                format!(
                    "{}, {} symbols",
                    sourced(&kconfig.value, &kconfig.origin),
                    values.len()
                )
            })
    );
    let _ = writeln!(
        out,
        "log:          {}",
        config
            .log
            .as_ref()
            .map_or("none (set [log] path or SECWRAP_LOG)".to_string(), |log| {
                sourced(&log.value, &log.origin)
            })
    );
    let _ = writeln!(
        out,
        "on_error:     {} ({})",
        config.on_error.value.as_str(),
        config.on_error.origin
    );
    let launcher: Vec<_> = config
        .launcher
        .iter()
        .map(|word| word.to_string_lossy())
        .collect();
    let _ = writeln!(
        out,
        "launcher:     {}",
        if launcher.is_empty() {
            "none".to_string()
        } else {
            launcher.join(" ")
        }
    );
    let _ = writeln!(
        out,
        "exclude:      {}",
        if config.exclude_patterns.is_empty() {
            "none".to_string()
        } else {
            config.exclude_patterns.join(", ")
        }
    );
    let _ = writeln!(out, "override_user_choice: {}", config.override_user_choice);
    let _ = writeln!(out, "rules ({}):", config.rules_origin);
    for rule in &config.rules {
        let symbols: Vec<String> = rule
            .when
            .symbols()
            .iter()
            .map(|symbol| {
                format!(
                    "{symbol}={}",
                    values
                        .get(symbol)
                        .map_or("<undefined>".to_string(), |value| value.as_text())
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  {}: when {} is {} [{}]; cflags: {}; ldflags: {}",
            rule.name,
            rule.when,
            rule.when.eval(&values).as_str(),
            symbols.join(" "),
            none_or_join(&rule.cflags),
            none_or_join(&rule.ldflags),
        );
    }
    let flags = |wanted: &[crate::config::WantedFlag]| {
        let flags: Vec<String> = wanted
            .iter()
            .map(|flag| flag.flag.to_string_lossy().into_owned())
            .collect();
        none_or_join(&flags)
    };
    let _ = writeln!(out, "compile jobs get:  {}", flags(&decision.cflags));
    let _ = writeln!(out, "link jobs get:     {}", flags(&decision.ldflags));
    let _ = writeln!(out, "fingerprint:  {}", decision.fingerprint);
    print!("{out}");
    Ok(Outcome::Success)
}

fn none_or_join(values: &[String]) -> String {
    if values.is_empty() {
        "none".to_string()
    } else {
        values.join(" ")
    }
}

fn log_show(log: Option<PathBuf>) -> Result<Outcome, String> {
    let (_, records, bad_lines) = read_records(log)?;
    let mut out = String::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let (mut injected, mut failed) = (0, 0);
    for record in &records {
        *kinds.entry(record.kind.to_string()).or_default() += 1;
        injected += usize::from(!record.injected.is_empty());
        failed += usize::from(record.status != Some(0));
        let _ = writeln!(out, "{}", summary_line(record));
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    let _ = writeln!(
        out,
        "{} records ({}); flags injected into {injected}; {failed} failed{}",
        records.len(),
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        if bad_lines.is_empty() {
            String::new()
        } else {
            format!("; {} bad lines skipped", bad_lines.len())
        }
    );
    print!("{out}");
    Ok(Outcome::Success)
}

fn summary_line(record: &InvocationRecord) -> String {
    let target = record
        .output
        .as_ref()
        .or(record.inputs.first())
        .map_or("-".to_string(), |path| path.display());
    let status = match (record.status, record.signal) {
        (_, Some(signal)) => format!("signal {signal}"),
        (Some(code), None) => format!("exit {code}"),
        (None, None) => "exit ?".to_string(),
    };
    let mut line = format!("{} {:<16} {:<8} {target}", record.time, record.kind, status);
    if !record.injected.is_empty() {
        let flags: Vec<String> = record.injected.iter().map(|flag| flag.display()).collect();
        let _ = write!(line, "  +[{}]", flags.join(" "));
    }
    if !record.skipped.is_empty() {
        let skipped: Vec<String> = record
            .skipped
            .iter()
            .map(|skipped| format!("{}({})", skipped.flag.display(), skipped.reason))
            .collect();
        let _ = write!(line, "  skipped[{}]", skipped.join(" "));
    }
    line
}

fn probe_flags(
    cc: Option<String>,
    disable_warning: bool,
    explain: bool,
    no_cache: bool,
    flags: &[OsString],
) -> Result<Outcome, String> {
    let cwd = current_dir()?;
    let cc = cc
        .or_else(|| std::env::var("CC").ok().filter(|cc| !cc.trim().is_empty()))
        .unwrap_or_else(|| "cc".to_string());
    // `$(CC)` may be several words: launchers and secwrap itself are
    // skipped (the probe asks the real compiler); words after the compiler
    // are part of every probe, as they are of Kbuild's `$(CC) -Werror ...`.
    let mut words = cc.split_whitespace().skip_while(|word| {
        let name = Path::new(word)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.starts_with("secwrap") || crate::compiler::launcher_name(Path::new(word)).is_some()
    });
    let compiler_word = words
        .next()
        .ok_or_else(|| format!("no compiler in `--cc {cc}`"))?;
    let extra_args: Vec<OsString> = words.map(OsString::from).collect();
    let me = crate::compiler::SelfIdentity::current().map_err(|error| io_message(&error))?;
    let path_var = std::env::var_os("PATH");
    let resolved = crate::compiler::resolve(
        compiler_word.as_ref(),
        path_var.as_deref(),
        &cwd,
        &me,
        false,
        false,
    )
    .map_err(|_| format!("compiler `{compiler_word}` not found on PATH"))?;
    let cache = if no_cache {
        None
    } else {
        crate::cache::default_dir().and_then(crate::cache::DiskCache::open)
    };
    let prober =
        crate::probe::Prober::new(cache, vec![(crate::exit::DEPTH_VAR.into(), "1".into())]);
    let (mut supported, mut all) = (Vec::new(), true);
    for argument in flags {
        let mut group: Vec<OsString> = argument
            .to_string_lossy()
            .split_whitespace()
            .map(OsString::from)
            .collect();
        if group.is_empty() {
            continue;
        }
        let mode = if disable_warning {
            group = group
                .iter()
                .map(|name| disabled_warning(&name.to_string_lossy()))
                .collect();
            crate::probe::ProbeMode::DisableWarning
        } else {
            crate::probe::ProbeMode::Option
        };
        let answer = prober
            .probe(&crate::probe::ProbeRequest {
                compiler: &resolved.compiler,
                target_args: &extra_args,
                flags: &group,
                mode,
            })
            .map_err(|error| error.to_string())?;
        let text: Vec<String> = group
            .iter()
            .map(|flag| flag.to_string_lossy().into_owned())
            .collect();
        if explain {
            let source = if answer.cached { "cached" } else { "probed" };
            match answer.supported {
                true => println!("{}: yes ({source})", text.join(" ")),
                false => println!("{}: no ({source}): {}", text.join(" "), answer.message),
            }
        }
        all &= answer.supported;
        if answer.supported {
            supported.extend(text);
        }
    }
    if !explain {
        println!("{}", supported.join(" "));
    }
    Ok(if all { Outcome::Success } else { Outcome::No })
}

/// `vla`, `-Wvla` or `-Wno-vla` as `-Wno-vla` (what `cc-disable-warning` emits).
fn disabled_warning(name: &str) -> OsString {
    let bare = name
        .strip_prefix("-Wno-")
        .or_else(|| name.strip_prefix("-W"))
        .unwrap_or(name);
    OsString::from(format!("-Wno-{bare}"))
}

fn cache(command: CacheCommand) -> Result<Outcome, String> {
    let dir = crate::cache::default_dir()
        .ok_or("no cache directory (set SECWRAP_CACHE_DIR, XDG_CACHE_HOME or HOME)")?;
    match command {
        CacheCommand::Show => {
            println!("cache: {}", dir.display());
            let entries = crate::cache::list_entries(&dir);
            for (name, description) in &entries {
                println!("{name}: {description}");
            }
            println!("{} entries", entries.len());
        }
        CacheCommand::Clear => {
            let removed = if dir.is_dir() {
                crate::cache::clear(&dir)
                    .map_err(|error| format!("{}: {}", dir.display(), io_message(&error)))?
            } else {
                0
            };
            println!("removed {removed} entries from {}", dir.display());
        }
    }
    Ok(Outcome::Success)
}

/// The log to read: `--log`, else the configured one.
fn log_path(log: Option<PathBuf>) -> Result<PathBuf, String> {
    match log {
        Some(path) => Ok(current_dir()?.join(path)),
        None => load_config()?.log.map(|log| log.value).ok_or_else(|| {
            "no invocation log configured (give --log, set [log] path or SECWRAP_LOG)".to_string()
        }),
    }
}

/// Reads the log, warning about (and skipping) bad lines.
fn read_records(
    log: Option<PathBuf>,
) -> Result<(PathBuf, Vec<InvocationRecord>, Vec<crate::record::BadLine>), String> {
    let path = log_path(log)?;
    let (records, bad_lines) =
        read_log(&path).map_err(|error| format!("{}: {}", path.display(), io_message(&error)))?;
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

fn run_build(build_id: Option<String>, command: &[OsString]) -> Result<Outcome, String> {
    let log = log_path(None)
        .map_err(|error| format!("`secwrap run` records into the invocation log: {error}"))?;
    let build_id = build_id.unwrap_or_else(|| {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        format!("{}-{}", now.replace([':', '-'], ""), std::process::id())
    });
    let (program, args) = command.split_first().ok_or("no command to run")?;
    let resolved = which::which(program)
        .map_err(|_| format!("command `{}` not found", program.to_string_lossy()))?;
    let run = crate::exec::run(
        &resolved,
        args,
        &[
            ("SECWRAP_BUILD_ID", build_id.as_ref()),
            ("SECWRAP_LOG", log.as_os_str()),
        ],
        None,
        crate::exec::SignalPolicy::LikeSystem,
    )
    .map_err(|error| {
        format!(
            "cannot run `{}`: {}",
            resolved.display(),
            io_message(&error)
        )
    })?;
    let records = read_log(&log)
        .map(|(records, _)| records)
        .unwrap_or_default();
    let builds = crate::record::history::builds(&records);
    let summary = builds
        .iter()
        .find(|build| build.id == build_id)
        .map_or_else(|| "no compiler invocations".to_string(), build_summary);
    eprintln!(
        "secwrap: build {build_id}: {summary}; log {}",
        log.display()
    );
    run.outcome.exit()
}

fn build_summary(build: &crate::record::history::Build) -> String {
    let total: usize = build.kinds.values().sum();
    let kinds: Vec<String> = build
        .kinds
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    format!(
        "{total} invocations ({}), flags injected into {}, {} failed",
        kinds.join(", "),
        build.injected,
        build.failed
    )
}

fn log_builds(log: Option<PathBuf>) -> Result<Outcome, String> {
    let (_, records, _) = read_records(log)?;
    for build in crate::record::history::builds(&records) {
        println!(
            "{}  {} .. {}  {}",
            build.id,
            build.first_time,
            build.last_time,
            build_summary(&build)
        );
    }
    Ok(Outcome::Success)
}

fn log_changed(
    since: Option<String>,
    root: Option<PathBuf>,
    log: Option<PathBuf>,
) -> Result<Outcome, String> {
    let (path, records, _) = read_records(log)?;
    let cwd = current_dir()?;
    let root = root.map_or_else(|| cwd.clone(), |root| cwd.join(root));
    let builds = crate::record::history::builds(&records);
    let selected =
        crate::record::history::builds_after(&builds, since.as_deref()).ok_or_else(|| {
            format!(
                "no build `{}` in {}",
                since.as_deref().unwrap_or(""),
                path.display()
            )
        })?;
    // Raw bytes: a path that is not UTF-8 must reach the livepatch tool intact.
    let mut stdout = std::io::stdout().lock();
    for object in crate::record::history::changed_objects(&records, &selected, &root) {
        let mut line = object.into_os_string().into_encoded_bytes();
        line.push(b'\n');
        std::io::Write::write_all(&mut stdout, &line).map_err(|error| io_message(&error))?;
    }
    Ok(Outcome::Success)
}

fn log_export(
    build: Option<String>,
    output: &Path,
    merge: bool,
    log: Option<PathBuf>,
) -> Result<Outcome, String> {
    let (path, records, _) = read_records(log)?;
    let selected: Vec<InvocationRecord> = match &build {
        Some(id) => {
            let chosen: Vec<InvocationRecord> = records
                .into_iter()
                .filter(|record| crate::record::history::build_of(record) == id)
                .collect();
            if chosen.is_empty() {
                return Err(format!("no build `{id}` in {}", path.display()));
            }
            chosen
        }
        None => records,
    };
    let mut entries = crate::record::export::compile_commands(&selected);
    let output = current_dir()?.join(output);
    if merge && output.exists() {
        let old_text = std::fs::read(&output)
            .map_err(|error| format!("{}: {}", output.display(), io_message(&error)))?;
        let old: Vec<crate::record::export::CompileCommand> = serde_json::from_slice(&old_text)
            .map_err(|error| {
                format!(
                    "{}:{}:{}: not a compilation database: {error}",
                    output.display(),
                    error.line(),
                    error.column()
                )
            })?;
        entries = crate::record::export::merge_compile_commands(old, entries);
    }
    crate::atomic::write_atomic(&output, |file| {
        let mut writer = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut writer, &entries).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut writer, b"\n")?;
        std::io::Write::flush(&mut writer)
    })
    .map_err(|error| format!("{}: {}", output.display(), io_message(&error)))?;
    println!("wrote {} entries to {}", entries.len(), output.display());
    Ok(Outcome::Success)
}

fn diff(original: &Path, patched: &Path) -> Result<Outcome, String> {
    let results = if original.is_dir() && patched.is_dir() {
        crate::livepatch::diff::diff_trees(original, patched)
    } else {
        vec![(
            patched.to_path_buf(),
            crate::livepatch::diff::diff_objects(original, patched),
        )]
    };
    let (stdout, stderr, code) = crate::livepatch::diff::render(&results);
    print!("{stdout}");
    eprint!("{stderr}");
    Ok(Outcome::Exit(code))
}

fn check(
    objects: &[PathBuf],
    build: Option<&str>,
    images: &[PathBuf],
    log: Option<PathBuf>,
) -> Result<Outcome, String> {
    type CheckResult =
        Result<Vec<crate::livepatch::check::Finding>, crate::livepatch::elf::ObjectError>;
    let mut results: Vec<CheckResult> = Vec::new();
    // Object checks need the record only to know which objects were meant
    // to be split; without a log, names are still checked.
    let records =
        if build.is_some() || (!objects.is_empty() && (log.is_some() || log_path(None).is_ok())) {
            read_records(log)?.1
        } else {
            Vec::new()
        };
    let check_object =
        |path: &Path, record: Option<&InvocationRecord>, results: &mut Vec<CheckResult>| {
            results.push(crate::livepatch::check::check_special_names(path));
            if record.is_some_and(crate::record::history::compiled_split) {
                results.push(crate::livepatch::check::check_split(path));
            }
        };
    let cwd = current_dir()?;
    let latest = crate::record::history::latest_compiles(&records, usize::MAX);
    for object in objects {
        let absolute = crate::paths::normalize(&cwd.join(object));
        check_object(object, latest.get(&absolute).copied(), &mut results);
    }
    if let Some(id) = build {
        let builds = crate::record::history::builds(&records);
        let build = builds
            .iter()
            .find(|build| build.id == id)
            .ok_or_else(|| format!("no build `{id}` in the log"))?;
        let as_of_build = crate::record::history::latest_compiles(&records, build.last_index);
        let compiled = crate::record::history::changed_objects(&records, &[build], Path::new(""));
        for object in compiled.iter().filter(|object| object.is_file()) {
            check_object(object, as_of_build.get(object).copied(), &mut results);
        }
        // (c) Stale: flags secwrap adds are not in make's view of the
        // command line, so a config change does not rebuild these.
        if let Some(fingerprint) = &build.fingerprint {
            let stale = as_of_build
                .iter()
                .filter(|(object, record)| object.is_file() && &record.config != fingerprint)
                .map(|(object, record)| crate::livepatch::check::Finding {
                    subject: object.clone(),
                    item: "config".to_string(),
                    message: format!(
                        "stale: last compiled under config {} but build `{id}` uses {fingerprint}; make does not see the flags secwrap adds, so rebuild it (touch its source, or make clean)",
                        record.config
                    ),
                })
                .collect();
            results.push(Ok(stale));
        }
    }
    for image in images {
        results.push(crate::livepatch::check::check_image(image));
    }
    let (mut found, mut failed) = (false, false);
    for result in results {
        match result {
            Ok(findings) => {
                for finding in findings {
                    found = true;
                    println!("{finding}");
                }
            }
            Err(error) => {
                failed = true;
                eprintln!("secwrap: error: {error}");
            }
        }
    }
    Ok(match (failed, found) {
        (true, _) => Outcome::Exit(EXIT_ERROR),
        (false, true) => Outcome::No,
        (false, false) => Outcome::Success,
    })
}

/// `secwrap diff --build BUILD`: the objects the build compiled, each against
/// its kept original, labelled relative to the working directory.
fn diff_build(id: &str, log: Option<PathBuf>) -> Result<Outcome, String> {
    let (path, records, _) = read_records(log)?;
    let builds = crate::record::history::builds(&records);
    let build = builds
        .iter()
        .find(|build| build.id == id)
        .ok_or_else(|| format!("no build `{id}` in {}", path.display()))?;
    let cwd = current_dir()?;
    let objects = crate::record::history::changed_objects(&records, &[build], Path::new(""));
    let mut kept = std::collections::BTreeMap::new();
    for record in records
        .iter()
        .filter(|record| crate::record::history::build_of(record) == id)
    {
        for original in &record.originals {
            if let (Some(object), Some(copy)) =
                (original.object.to_os_string(), original.copy.to_os_string())
            {
                kept.insert(
                    crate::paths::normalize(Path::new(&object)),
                    PathBuf::from(copy),
                );
            }
        }
    }
    if kept.is_empty() && !objects.is_empty() {
        return Err(format!(
            "build `{id}` kept no originals to compare with: set `[livepatch] keep_originals` in secwrap.toml before the patched build"
        ));
    }
    let pairs: Vec<(PathBuf, Option<PathBuf>, PathBuf)> = objects
        .iter()
        .map(|object| {
            (
                crate::paths::relative_to(object, &cwd),
                kept.get(object).cloned(),
                object.clone(),
            )
        })
        .collect();
    let (stdout, stderr, code) =
        crate::livepatch::diff::render(&crate::livepatch::diff::diff_kept(&pairs));
    print!("{stdout}");
    eprint!("{stderr}");
    Ok(Outcome::Exit(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
}
