//! Subcommands: they sit beside the shim path and share its config loading
//! and record schema, never its process handling. Output is data on stdout;
//! errors are one `secwrap: error: ...` line on stderr and exit status 2.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigEnv, ConfigError, DEFAULT_RULES, SPLIT_FLAGS, io_message};
use crate::kconfig::{KconfigFormat, KconfigValues};
use crate::record::{InvocationRecord, read_log};
use crate::shim::EXIT_ERROR;

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
    /// Read the invocation log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// A readable summary: one line per invocation, then counts.
    Show {
        /// The log to read (default: the configured one).
        #[arg(long)]
        log: Option<PathBuf>,
    },
}

/// The words that select the CLI rather than prefix mode.
pub fn is_cli_word(word: &OsString) -> bool {
    let word = word.as_encoded_bytes();
    word.starts_with(b"-") || [&b"init"[..], b"config", b"log", b"help"].contains(&word)
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
        Command::Log {
            command: LogCommand::Show { log },
        } => log_show(log),
    };
    match result {
        Ok(()) => 0,
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

fn init(kconfig: &Path, dir: &Path, log: &str, force: bool) -> Result<(), String> {
    let cwd = current_dir()?;
    let dir = cwd.join(dir);
    let kconfig = cwd.join(kconfig);
    let text = std::fs::read(&kconfig)
        .map_err(|error| format!("{}: {}", kconfig.display(), io_message(&error)))?;
    let (values, diagnostics) = KconfigValues::parse(&text, KconfigFormat::detect(&kconfig, &text));
    if let Some(first) = diagnostics.first() {
        return Err(ConfigError {
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
    Ok(())
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

fn show_config() -> Result<(), String> {
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
        "on_error:     {:?} ({})",
        config.on_error.value, config.on_error.origin
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
    let flags = |wanted: &[crate::inject::WantedFlag]| {
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
    Ok(())
}

fn none_or_join(values: &[String]) -> String {
    if values.is_empty() {
        "none".to_string()
    } else {
        values.join(" ")
    }
}

fn log_show(log: Option<PathBuf>) -> Result<(), String> {
    let path = match log {
        Some(path) => current_dir()?.join(path),
        None => load_config()?
            .log
            .map(|log| log.value)
            .ok_or("no invocation log configured (give --log, set [log] path or SECWRAP_LOG)")?,
    };
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
    let mut out = String::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut injected, mut failed) = (0, 0);
    for record in &records {
        *kinds.entry(record.kind.as_str()).or_default() += 1;
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
    Ok(())
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
