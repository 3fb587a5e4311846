//! `secwrap log ...` (show, builds, changed, export) and `secwrap run`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::exec::{self, SignalPolicy};
use crate::exit::{BUILD_ID_VAR, LOG_VAR};
use crate::record::export::{CompileCommand, compile_commands, merge_compile_commands};
use crate::record::history::{self, Build};
use crate::record::{InvocationRecord, read_log};

use super::{CommandStatus, current_dir, log_path, read_records};

pub(super) fn log_show(log: Option<PathBuf>, out: &mut dyn Write) -> Result<CommandStatus> {
    let (_, records, bad_lines) = read_records(log)?;
    // One line per record: buffered, not a write per line.
    let mut out = BufWriter::new(out);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let (mut injected, mut failed) = (0, 0);
    for record in &records {
        *kinds.entry(record.kind.to_string()).or_default() += 1;
        injected += usize::from(!record.injected.is_empty());
        failed += usize::from(record.status != Some(0));
        write_summary_line(&mut out, record)?;
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    writeln!(
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
    )?;
    out.flush()?;
    Ok(CommandStatus::Success)
}

fn write_summary_line(out: &mut impl Write, record: &InvocationRecord) -> std::io::Result<()> {
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
    write!(
        out,
        "{} {:<16} {:<8} {target}",
        record.time, record.kind, status
    )?;
    if !record.injected.is_empty() {
        let flags: Vec<String> = record.injected.iter().map(|flag| flag.display()).collect();
        write!(out, "  +[{}]", flags.join(" "))?;
    }
    if !record.skipped.is_empty() {
        let skipped: Vec<String> = record
            .skipped
            .iter()
            .map(|skipped| format!("{}({})", skipped.flag.display(), skipped.reason))
            .collect();
        write!(out, "  skipped[{}]", skipped.join(" "))?;
    }
    writeln!(out)
}

pub(super) fn run_build(build_id: Option<String>, command: &[OsString]) -> Result<CommandStatus> {
    let log = log_path(None).context("`secwrap run` records into the invocation log")?;
    let build_id = build_id.unwrap_or_else(|| {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        format!("{}-{}", now.replace([':', '-'], ""), std::process::id())
    });
    let (program, args) = command.split_first().context("no command to run")?;
    let resolved = which::which(program)
        .map_err(|_| anyhow!("command `{}` not found", program.to_string_lossy()))?;
    let run = exec::run(
        &resolved,
        args,
        &[
            (BUILD_ID_VAR, build_id.as_ref()),
            (LOG_VAR, log.as_os_str()),
        ],
        None,
        SignalPolicy::LikeSystem,
    )
    .with_context(|| format!("cannot run `{}`", resolved.display()))?;
    let records = read_log(&log)
        .map(|(records, _)| records)
        .unwrap_or_default();
    let builds = history::builds(&records);
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

fn build_summary(build: &Build) -> String {
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

pub(super) fn log_builds(log: Option<PathBuf>, out: &mut dyn Write) -> Result<CommandStatus> {
    let (_, records, _) = read_records(log)?;
    for build in history::builds(&records) {
        writeln!(
            out,
            "{}  {} .. {}  {}",
            build.id,
            build.first_time,
            build.last_time,
            build_summary(&build)
        )?;
    }
    Ok(CommandStatus::Success)
}

pub(super) fn log_changed(
    since: Option<String>,
    root: Option<PathBuf>,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let (path, records, _) = read_records(log)?;
    let cwd = current_dir()?;
    let root = root.map_or_else(|| cwd.clone(), |root| cwd.join(root));
    let builds = history::builds(&records);
    let selected = history::builds_after(&builds, since.as_deref()).with_context(|| {
        format!(
            "no build `{}` in {}",
            since.as_deref().unwrap_or(""),
            path.display()
        )
    })?;
    // Raw bytes: a path that is not UTF-8 must reach the livepatch tool intact.
    let mut out = BufWriter::new(out);
    for object in history::changed_objects(&records, &selected, &root) {
        out.write_all(object.as_os_str().as_encoded_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(CommandStatus::Success)
}

pub(super) fn log_export(
    build: Option<String>,
    output: &Path,
    merge: bool,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let (path, records, _) = read_records(log)?;
    let selected: Vec<InvocationRecord> = match &build {
        Some(id) => {
            let chosen: Vec<InvocationRecord> = records
                .into_iter()
                .filter(|record| history::build_of(record) == id)
                .collect();
            if chosen.is_empty() {
                bail!("no build `{id}` in {}", path.display());
            }
            chosen
        }
        None => records,
    };
    let mut entries = compile_commands(&selected);
    let output = current_dir()?.join(output);
    if merge && output.exists() {
        let old_text = std::fs::read(&output).with_context(|| output.display().to_string())?;
        let old: Vec<CompileCommand> = serde_json::from_slice(&old_text).map_err(|error| {
            anyhow!(
                "{}:{}:{}: not a compilation database: {error}",
                output.display(),
                error.line(),
                error.column()
            )
        })?;
        entries = merge_compile_commands(old, entries);
    }
    let directory = output.parent().unwrap_or(Path::new("."));
    let write = || -> std::io::Result<()> {
        let mut temporary = tempfile::Builder::new()
            .prefix(".compile_commands.")
            .tempfile_in(directory)?;
        serde_json::to_writer_pretty(&mut temporary, &entries).map_err(std::io::Error::other)?;
        temporary.write_all(b"\n")?;
        temporary.persist(&output).map_err(|error| error.error)?;
        Ok(())
    };
    write().with_context(|| output.display().to_string())?;
    writeln!(
        out,
        "wrote {} entries to {}",
        entries.len(),
        output.display()
    )?;
    Ok(CommandStatus::Success)
}
