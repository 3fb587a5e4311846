//! `secwrap doctor [FILE]`: why is this object unsplit or unrecorded?
//!
//! One report from the same stages a compile runs: the config and Kconfig a
//! compile of FILE would use and why they were trusted, the shim
//! directories on `PATH` and any launcher masquerade directory before them,
//! the compiler behind the name, and the last record for FILE with what it
//! says. Each problem found is a `problem:` line with its fix; the exit
//! status is 1 when there is one, as `check`'s.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cache::{self, DiskCache};
use crate::compiler::{self, Family, SelfIdentity};
use crate::config::{Config, ConfigEnv};
use crate::exit::DEPTH_VAR;
use crate::paths::{final_object, normalize};
use crate::probe::Prober;
use crate::record::{InvocationRecord, history, reader};
use crate::route::{Evidence, LauncherAbove};

use super::{CommandStatus, current_dir, plural};

/// The plain driver names every masquerade directory holds (`secwrap
/// shims` also links the versioned and cross-prefixed ones it finds).
const DRIVER_NAMES: &[&str] = &["cc", "gcc", "c++", "g++", "clang", "clang++"];

pub(super) fn doctor(
    file: Option<&Path>,
    cc: Option<&str>,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let cwd = current_dir()?;
    let shim = crate::shim_binary()?;
    let me = SelfIdentity::of(shim.clone())?;
    let mut problems: Vec<String> = Vec::new();
    writeln!(
        out,
        "secwrap:      {} ({})",
        env!("CARGO_PKG_VERSION"),
        shim.display()
    )?;

    // PATH: where secwrap masquerades, and launchers that would run first.
    let path_var = std::env::var_os("PATH");
    let entries: Vec<PathBuf> = path_var
        .as_deref()
        .map(|path| std::env::split_paths(path).collect())
        .unwrap_or_default();
    let shims: Vec<(usize, Vec<&str>)> = entries
        .iter()
        .enumerate()
        .filter_map(|(index, dir)| {
            let names: Vec<&str> = DRIVER_NAMES
                .iter()
                .copied()
                .filter(|name| me.is_me(&dir.join(name)))
                .collect();
            (!names.is_empty()).then_some((index, names))
        })
        .collect();
    match shims.first() {
        None => writeln!(
            out,
            "shims:        none on PATH (prefix mode only: CC=\"secwrap gcc\")"
        )?,
        Some((index, names)) => {
            writeln!(
                out,
                "shims:        {} ({})",
                entries[*index].display(),
                names.join(", ")
            )?;
            // Resolved as the shim resolves a masquerade call, and said
            // in the words of its own error.
            for name in names {
                let resolved =
                    compiler::resolve(OsStr::new(name), path_var.as_deref(), &cwd, &me, true, true);
                if let Ok(resolved) = resolved
                    && let Some(link) = &resolved.launcher_ahead
                    && let Some(launcher) = compiler::launcher_name(link)
                {
                    let above = LauncherAbove {
                        launcher,
                        evidence: Evidence::PathOrder,
                        own_dir: resolved
                            .own_entry
                            .as_deref()
                            .and_then(Path::parent)
                            .map(Path::to_path_buf),
                        launcher_dir: link.parent().map(Path::to_path_buf),
                    };
                    problems.push(above.message(OsStr::new(name)));
                    break;
                }
            }
        }
    }
    if let Some(depth) = std::env::var_os(DEPTH_VAR) {
        writeln!(
            out,
            "{DEPTH_VAR}: {} (set in this shell: ignored by secwrap with a warning)",
            depth.to_string_lossy()
        )?;
    }

    // The config a compile of FILE from here would use.
    let file = file.map(|file| normalize(&cwd.join(file)));
    let source_dir = file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let env = ConfigEnv {
        source_dir,
        ..ConfigEnv::from_process(cwd.clone())
    };
    let config = match Config::load(&env) {
        Ok(config) => config,
        Err(error) => {
            problems.push(format!("the config cannot be used: {error}"));
            return finish(out, &problems);
        }
    };
    match &config.file {
        Some(found) => writeln!(
            out,
            "config file:  {} ({})\ntrust:        {}",
            found.value.display(),
            found.origin,
            config.trust
        )?,
        None => writeln!(out, "config file:  none (built-in rules)")?,
    }
    let values = match config.load_kconfig() {
        Ok(values) => values,
        Err(error) => {
            problems.push(format!("the Kconfig values cannot be read: {error}"));
            return finish(out, &problems);
        }
    };
    match &config.kconfig {
        Some(kconfig) => writeln!(
            out,
            "kconfig:      {} ({}), {}",
            kconfig.value.display(),
            kconfig.origin,
            plural(values.len(), "symbol")
        )?,
        None => writeln!(out, "kconfig:      none found")?,
    }
    for (dir, uid) in crate::config::searches_stopped(&env) {
        writeln!(
            out,
            "search:       stopped before `{}`, owned by uid {uid}: nothing in or above it is read",
            dir.display()
        )?;
    }
    let decision = config.evaluate(&values);
    let flags: Vec<String> = decision
        .cflags
        .iter()
        .map(|flag| flag.flag.to_string_lossy().into_owned())
        .collect();
    writeln!(
        out,
        "flags:        {}",
        if flags.is_empty() {
            "none".to_string()
        } else {
            format!("{} (rules: {})", flags.join(" "), decision.fired.join(", "))
        }
    )?;
    if !decision.cflags_without_kconfig.is_empty() {
        problems.push(
            "the rules read Kconfig symbols and no Kconfig values were found: name them with `kconfig = ...`, or split every compile with `when = \"y\"` (`secwrap init --always`)"
                .to_string(),
        );
    } else if flags.is_empty() {
        writeln!(
            out,
            "              (no rule applies: compiles are not split; `secwrap config` shows each rule's value)"
        )?;
    }
    if let Some(file) = &file
        && config.is_excluded([file.as_path()])
    {
        writeln!(out, "excluded:     yes (an `exclude` glob matches it)")?;
    }

    // The compiler: the one the last record ran, else --cc (else `cc`).
    let log_path = match log {
        Some(log) => Some(cwd.join(log)),
        None => config.log.as_ref().map(|log| log.value.clone()),
    };
    match &log_path {
        Some(path) => writeln!(out, "log:          {}", path.display())?,
        None => writeln!(out, "log:          off")?,
    }
    let last = match (&log_path, file.as_deref()) {
        (Some(path), Some(file)) => last_record_for(path, file),
        _ => None,
    };
    let last = last.as_ref();
    let compiler_word: OsString = match (last, cc) {
        (Some(record), _) => record.compiler.to_os_string().unwrap_or_default(),
        (None, Some(cc)) => cc.into(),
        (None, None) => "cc".into(),
    };
    match compiler::resolve(&compiler_word, path_var.as_deref(), &cwd, &me, false, false) {
        Ok(resolved) => {
            let cache = cache::default_dir().and_then(DiskCache::open);
            let prober = Prober::new(
                cache,
                vec![(DEPTH_VAR.into(), crate::invocation::child_depth(0))],
            );
            match prober.identity(&resolved.compiler) {
                Ok(identity) => writeln!(
                    out,
                    "compiler:     {} ({}: {})",
                    resolved.compiler.display(),
                    match identity.family {
                        Family::Gcc => "gcc",
                        Family::Clang => "clang",
                    },
                    identity.version
                )?,
                Err(error) => problems.push(format!(
                    "compiler `{}` cannot be asked its version: {error}",
                    resolved.compiler.display()
                )),
            }
        }
        Err(not_found) => problems.push(not_found.to_string()),
    }

    // What the record says about FILE, and what the object says.
    if let Some(file) = &file {
        report_file(out, file, last, log_path.as_deref(), &mut problems)?;
    }
    finish(out, &problems)
}

/// The last compile record that wrote `file` (an object) or read it (a
/// source).
/// The log's last record that wrote or read `file`, the log read as a
/// stream (one record held at a time); none when it cannot be read.
fn last_record_for(log: &Path, file: &Path) -> Option<InvocationRecord> {
    let touches = |record: &InvocationRecord| {
        let writes = history::written_objects(record)
            .iter()
            .filter_map(|output| final_object(output))
            .any(|object| normalize(&object) == file);
        let cwd = PathBuf::from(record.cwd.to_os_string().unwrap_or_default());
        let reads = record.inputs.iter().any(|input| {
            input
                .to_os_string()
                .is_some_and(|input| normalize(&cwd.join(input)) == file)
        });
        writes || reads
    };
    let log = std::fs::File::open(log).ok()?;
    let mut last = None;
    reader::for_each_record(&log, None, |record| {
        if touches(record) {
            last = Some(record.clone());
        }
        Ok(())
    })
    .ok()?;
    last
}

fn report_file(
    out: &mut dyn Write,
    file: &Path,
    last: Option<&InvocationRecord>,
    log: Option<&Path>,
    problems: &mut Vec<String>,
) -> Result<()> {
    let is_object = file.extension() == Some(OsStr::new("o"));
    match last {
        None => {
            writeln!(out, "last record:  none for {}", file.display())?;
            if is_object && file.is_file() {
                problems.push(format!(
                    "`{}` has no compile record{}: it was not compiled through secwrap (a ccache or distcc directory before secwrap's on PATH, CC not set to secwrap, or recording off)",
                    file.display(),
                    log.map_or(String::new(), |log| format!(" in {}", log.display()))
                ));
            }
        }
        Some(record) => {
            let status = match (record.status, record.signal) {
                (_, Some(signal)) => format!("killed by signal {signal}"),
                (Some(code), None) => format!("exit {code}"),
                (None, None) => "exit ?".to_string(),
            };
            writeln!(
                out,
                "last record:  {} build {} {} {status}",
                record.time,
                history::build_of(record),
                record.kind
            )?;
            let injected: Vec<String> = record.injected.iter().map(|flag| flag.display()).collect();
            writeln!(
                out,
                "  injected:   {}",
                if injected.is_empty() {
                    "nothing".to_string()
                } else {
                    injected.join(" ")
                }
            )?;
            for skipped in &record.skipped {
                writeln!(
                    out,
                    "  skipped:    {} ({})",
                    skipped.flag.display(),
                    skipped.reason
                )?;
            }
            for warning in &record.warnings {
                writeln!(out, "  warning:    {warning}")?;
            }
            if !history::compiled_split(record) && history::is_object_compile(record) {
                problems.push(format!(
                    "the last compile of `{}` ran without both split flags (see `skipped` above)",
                    file.display()
                ));
            }
        }
    }
    if is_object && file.is_file() {
        match crate::livepatch::check::check_split(file) {
            Ok(findings) if findings.is_empty() => writeln!(out, "object:       split")?,
            Ok(findings) => {
                writeln!(
                    out,
                    "object:       not split ({} in shared sections)",
                    plural(findings.len(), "item")
                )?;
                if last.is_some_and(history::compiled_split) {
                    problems.push(format!(
                        "`{}` is not split although its record says it was compiled with the flags: written since by something else?",
                        file.display()
                    ));
                }
            }
            Err(error) => writeln!(out, "object:       cannot be read: {error}")?,
        }
    }
    Ok(())
}

fn finish(out: &mut dyn Write, problems: &[String]) -> Result<CommandStatus> {
    for problem in problems {
        writeln!(out, "problem:      {problem}")?;
    }
    Ok(if problems.is_empty() {
        CommandStatus::Success
    } else {
        CommandStatus::No
    })
}
