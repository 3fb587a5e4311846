//! `secwrap log ...` (show, builds, changed, export) and `secwrap run`.

use std::ffi::{OsStr, OsString};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::atomic::{self, OutputTarget};
use crate::classify::Classification;
use crate::config::ConfigEnv;
use crate::exec::{self, SignalPolicy};
use crate::exit::{BUILD_ID_VAR, EXIT_ERROR, LOG_VAR, RUN_REPORT_VAR};
use crate::livepatch::linked::{ImageSymbols, defined_items};
use crate::record::export::{CompileCommand, CompileCommands, Probes, merge_compile_commands};
use crate::record::history::{
    self, AlwaysRebuilt, Build, CompiledObject, CompiledObjects, RecordCounts, Tally,
};
use crate::record::index::LogSummary;
use crate::record::stats::Stats;
use crate::record::{self, InvocationRecord, OsText};
use crate::run_report::Report;

use super::{
    ChangedArgs, CommandStatus, ShowFilter, current_dir, fold_records_of, log_path, no_build,
    plural, read_summary,
};

pub(super) fn log_show(
    log: Option<PathBuf>,
    filter: &ShowFilter,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let (path, summary) = read_summary(log)?;
    let in_builds = builds_shown(&summary, filter, &path)?;
    // One line per record: buffered, not a write per line.
    let mut out = BufWriter::new(out);
    let mut tally = Tally::default();
    let mut shown = 0;
    let show = |record: &InvocationRecord| -> std::io::Result<()> {
        if shows(record, filter) {
            let counts = RecordCounts::of(record);
            tally.add(&record.kind, counts);
            shown += 1;
            write_summary_line(&mut out, record, counts.probe)?;
        }
        Ok(())
    };
    match &in_builds {
        // Those builds' records alone, read through their ranges.
        Some(ids) => summary.stream_records_of(&path, ids, show),
        // Every record, one at a time.
        None => summary.for_each_record(show),
    }
    .with_context(|| path.display().to_string())?;
    let bad_lines = summary.bad_lines();
    writeln!(
        out,
        "{} ({}); flags injected into {}; {} failed{}{}",
        plural(shown, "record"),
        kinds_and_probes(&tally),
        tally.injected,
        tally.failed,
        if tally.probes == 0 {
            String::new()
        } else {
            format!("; {} of the probes failed", tally.probes_failed)
        },
        if bad_lines.is_empty() {
            String::new()
        } else {
            format!("; {} skipped", plural(bad_lines.len(), "bad line"))
        }
    )?;
    out.flush()?;
    Ok(CommandStatus::Success)
}

/// The builds `--build` or `--since` ask for, `None` for every record;
/// checks `--kind` too, before anything is read.
fn builds_shown<'s>(
    summary: &'s LogSummary,
    filter: &ShowFilter,
    log: &std::path::Path,
) -> Result<Option<Vec<&'s str>>> {
    let no_build = |id: &str| no_build(id, log);
    let builds = summary.builds();
    let in_builds: Option<Vec<&str>> = match (&filter.build, &filter.since) {
        (Some(id), _) => {
            let build = builds
                .iter()
                .find(|build| build.id == *id)
                .ok_or_else(|| no_build(id))?;
            Some(vec![build.id.as_str()])
        }
        (None, Some(since)) => Some(
            history::builds_after(builds, Some(since))
                .ok_or_else(|| no_build(since))?
                .iter()
                .map(|build| build.id.as_str())
                .collect(),
        ),
        (None, None) => None,
    };
    if let Some(kind) = &filter.kind
        && serde_json::from_value::<Classification>(serde_json::Value::String(kind.clone()))
            .is_err()
    {
        bail!("unknown kind `{kind}`: `secwrap log show` prints each record's kind second");
    }
    Ok(in_builds)
}

/// Whether `filter`'s `--kind` and `--failed` keep a record (its build
/// was chosen by [`builds_shown`]).
fn shows(record: &InvocationRecord, filter: &ShowFilter) -> bool {
    filter
        .kind
        .as_ref()
        .is_none_or(|kind| record.kind.to_string() == *kind)
        && (!filter.failed
            || (!record.is_build_system_probe()
                && (record.signal.is_some() || record.status != Some(0))))
}

/// `2 compile, 1 link_only`, then `; 3 build-system probes` if any.
fn kinds_and_probes(tally: &Tally) -> String {
    let kinds: Vec<String> = tally
        .kinds
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    match (kinds.is_empty(), tally.probes) {
        (true, 0) => "none".to_string(),
        (false, 0) => kinds.join(", "),
        (true, probes) => plural(probes, "build-system probe"),
        (false, probes) => format!(
            "{}; {}",
            kinds.join(", "),
            plural(probes, "build-system probe")
        ),
    }
}

fn write_summary_line(
    out: &mut impl Write,
    record: &InvocationRecord,
    probe: bool,
) -> std::io::Result<()> {
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
    if probe {
        write!(out, "  (build-system probe)")?;
    }
    writeln!(out)
}

pub(super) fn run_build(
    build_id: Option<String>,
    log: Option<PathBuf>,
    no_shims: bool,
    command: &[OsString],
) -> Result<CommandStatus> {
    let log = log_path(log).context("`secwrap run` records into the invocation log")?;
    let build_id = build_id_to_use(build_id, std::env::var_os(BUILD_ID_VAR));
    let (program, args) = command.split_first().context("no command to run")?;
    // Before the command runs, so that a configure step in it (CMake,
    // Meson) stores the shim's path, which stays where it is.
    let shims = if no_shims {
        None
    } else {
        Some(super::shims::refresh_for_run()?)
    };
    let mut env: Vec<(&str, &OsStr)> = vec![
        (BUILD_ID_VAR, build_id.as_ref()),
        (LOG_VAR, log.as_os_str()),
    ];
    // The command itself is looked up as its children will look up
    // theirs: `secwrap run -- gcc -c a.c` runs the shim too.
    let path_var = match &shims {
        Some((_, path_var)) => Some(path_var.clone()),
        None => std::env::var_os("PATH"),
    };
    if let Some((_, path_var)) = &shims {
        env.push(("PATH", path_var));
    }
    let resolved = which::which_in(program, path_var, current_dir()?)
        .map_err(|_| anyhow!("command `{}` not found", program.to_string_lossy()))?;
    // The calls secwrap stops or runs unchanged say so here too: a build
    // tool may keep their stderr in its own log (`run_report.rs`).
    let report_dir = tempfile::Builder::new()
        .prefix("secwrap-run-")
        .tempdir()
        .context("cannot make the run's report directory")?;
    let report_path = report_dir.path().join("report");
    std::fs::write(&report_path, "")
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    env.push((RUN_REPORT_VAR, report_path.as_os_str()));
    let run = exec::run(&resolved, args, &env, None, SignalPolicy::LikeSystem)
        .with_context(|| format!("cannot run `{}`", resolved.display()))?;
    let report = Report::parse(&std::fs::read_to_string(&report_path).unwrap_or_default());
    // The summaries through the log's index: the end of a build does not
    // read the log's whole history.
    let users = ConfigEnv::from_process(current_dir()?).users;
    let summary = LogSummary::read(&log, users)
        .ok()
        .map(|(summary, _)| summary);
    let found = summary.as_ref().and_then(|summary| {
        let position = summary
            .builds()
            .iter()
            .position(|build| build.id == build_id)?;
        Some((&summary.builds()[position], summary.stats_of(position)))
    });
    match found {
        Some((build, stats)) => {
            eprintln!(
                "secwrap: build {build_id}: {}{}; log {}",
                build_summary(build),
                secwrap_work(stats),
                log.display()
            );
        }
        // The usual cause: the build called the compiler by a name that is
        // not secwrap, which no record can show; say where to look.
        None => eprintln!(
            "secwrap: build {build_id}: no compiler invocations recorded; log {}: did the build call the compiler through secwrap? ({})",
            log.display(),
            match &shims {
                Some((dir, _)) => format!(
                    "CC=\"secwrap gcc\", or by name: secwrap's shims in `{}` were first on PATH; a shim cannot see a compiler named by absolute path, e.g. CC=/usr/bin/gcc, nor the one a CMake or Meson build directory configured before `secwrap run` stored: configure inside `secwrap run`",
                    dir.display()
                ),
                None => "CC=\"secwrap gcc\", or a shim directory first on PATH: --no-shims left PATH as it was; a compiler named by absolute path, e.g. CC=/usr/bin/gcc, is not seen".to_string(),
            }
        ),
    }
    if let Some(first) = report.stopped.first() {
        eprintln!(
            "secwrap: error: build {build_id}: secwrap stopped {}, which the build may not have shown: {first}",
            plural(report.stopped.len(), "call")
        );
    }
    if let Some(first) = report.unchanged.first() {
        eprintln!(
            "secwrap: warning: build {build_id}: {} ran unchanged (unsplit, unrecorded): {first}",
            plural(report.unchanged.len(), "call")
        );
    }
    // `exit` below skips destructors.
    drop(report_dir);
    match run.outcome {
        // A build that succeeded although secwrap stopped calls (a
        // configure that fell back to another compiler, a compiler check
        // that gave up on a feature) is not the build that was asked for.
        exec::Outcome::Exited(0) if !report.stopped.is_empty() => std::process::exit(EXIT_ERROR),
        outcome => outcome.exit(),
    }
}

/// What secwrap itself did in a build, beyond the counts of
/// [`build_summary`]: the calls that did not get a flag, by reason, and its
/// own flag probes, run or answered from the cache, as `secwrap stats`
/// counts them (`record::stats`). Empty when there is neither.
fn secwrap_work(stats: &Stats) -> String {
    let mut work = String::new();
    if !stats.skipped.is_empty() {
        work.push_str(&format!(
            ", flags skipped: {}",
            super::stats::skipped_by_reason(&stats.skipped)
        ));
    }
    let (probed, cached) = (stats.probe_cache.misses, stats.probe_cache.hits);
    if probed + cached > 0 {
        work.push_str(&format!(
            ", {} by secwrap ({probed} run, {cached} cached)",
            plural(probed + cached, "flag probe")
        ));
    }
    work
}

/// The build id for `secwrap run`: `--build-id`, else an inherited
/// non-empty `SECWRAP_BUILD_ID` (a `secwrap run` in a recipe of an outer
/// one stays in the outer build, as the shim itself does), else the UTC
/// time and secwrap's pid.
fn build_id_to_use(given: Option<String>, inherited: Option<OsString>) -> String {
    given
        .or_else(|| {
            inherited
                .and_then(|id| id.into_string().ok())
                .filter(|id| !id.is_empty())
        })
        .unwrap_or_else(|| {
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            format!("{}-{}", now.replace([':', '-'], ""), std::process::id())
        })
}

fn build_summary(build: &Build) -> String {
    let tally = &build.tally;
    let mut summary = format!(
        "{} ({}), flags injected into {}, {} failed",
        plural(tally.total(), "invocation"),
        kinds_and_probes(tally),
        tally.injected,
        tally.failed
    );
    if tally.probes > 0 {
        summary.push_str(&format!(", {} of the probes failed", tally.probes_failed));
    }
    summary
}

pub(super) fn log_builds(log: Option<PathBuf>, out: &mut dyn Write) -> Result<CommandStatus> {
    let (_, summary) = read_summary(log)?;
    for build in summary.builds() {
        writeln!(
            out,
            "{}  {} .. {}  {}",
            build.id,
            build.first_time,
            build.last_time,
            build_summary(build)
        )?;
    }
    Ok(CommandStatus::Success)
}

/// `secwrap log clear`.
pub(super) fn log_clear(log: Option<PathBuf>, out: &mut dyn Write) -> Result<CommandStatus> {
    let path = log_path(log)?;
    let users = ConfigEnv::from_process(current_dir()?).users;
    let cleared = record::clear_log(&path, users).with_context(|| path.display().to_string())?;
    let bad_lines = if cleared.bad_lines == 0 {
        String::new()
    } else {
        format!(" and {}", plural(cleared.bad_lines, "bad line"))
    };
    writeln!(
        out,
        "removed {}{bad_lines} from {}",
        plural(cleared.records, "record"),
        path.display()
    )?;
    Ok(CommandStatus::Success)
}

/// `secwrap log prune --keep-builds N [--dry-run]`.
pub(super) fn log_prune(
    keep: usize,
    dry_run: bool,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let path = log_path(log)?;
    let users = ConfigEnv::from_process(current_dir()?).users;
    let pruned = record::prune_log(&path, users, keep, dry_run)
        .with_context(|| path.display().to_string())?;
    writeln!(out, "{}", prune_summary(&pruned, dry_run, &path))?;
    Ok(CommandStatus::Success)
}

/// `kept 1 build (2 records) and removed 2 builds (3 records) from LOG`,
/// `would keep ...` for a dry run.
fn prune_summary(pruned: &record::Pruned, dry_run: bool, path: &Path) -> String {
    let (keep, remove) = if dry_run {
        ("would keep", "remove")
    } else {
        ("kept", "removed")
    };
    let builds = |ids: &[String], records: usize| {
        format!(
            "{} ({})",
            plural(ids.len(), "build"),
            plural(records, "record")
        )
    };
    let mut summary = format!(
        "{keep} {}",
        builds(&pruned.kept_builds, pruned.kept_records)
    );
    if pruned.removed_records == 0 && pruned.removed_bad_lines == 0 {
        summary.push_str(&format!(" of {}: nothing to remove", path.display()));
        return summary;
    }
    summary.push_str(&format!(
        " and {remove} {}",
        builds(&pruned.removed_builds, pruned.removed_records)
    ));
    if pruned.removed_bad_lines > 0 {
        summary.push_str(&format!(
            " and {}",
            plural(pruned.removed_bad_lines, "bad line")
        ));
    }
    summary.push_str(&format!(" from {}", path.display()));
    if !pruned.removed_builds.is_empty() {
        summary.push_str(&format!(": {}", pruned.removed_builds.join(", ")));
    }
    summary
}

pub(super) fn log_changed(args: ChangedArgs, out: &mut dyn Write) -> Result<CommandStatus> {
    let excludes = UserExcludes::new(&args.exclude)?;
    let (path, summary) = read_summary(args.log.log)?;
    let cwd = current_dir()?;
    let root = args.root.map_or_else(|| cwd.clone(), |root| cwd.join(root));
    let since = args.since.as_deref();
    let selected = history::builds_after(summary.builds(), since)
        .ok_or_else(|| no_build(since.unwrap_or(""), &path))?;
    let ids: Vec<&str> = selected.iter().map(|build| build.id.as_str()).collect();
    let images: Vec<(PathBuf, ImageSymbols)> = args
        .image
        .iter()
        .map(|image| {
            let image = cwd.join(image);
            ImageSymbols::read(&image).map(|symbols| (image, symbols))
        })
        .collect::<Result<_, _>>()?;

    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    let objects = fold_records_of(
        &path,
        &summary,
        &ids,
        || CompiledObjects::new(&root),
        CompiledObjects::add,
    )?
    .into_sorted();
    let total = objects.len();
    for object in objects {
        match leave_out(&object, !args.no_default_excludes, &excludes, &images)? {
            Some(reason) => left_out.push((object, reason)),
            None => kept.push(object),
        }
    }

    let format = if args.null {
        ListFormat::Nul
    } else if args.json {
        ListFormat::Json
    } else {
        ListFormat::Lines
    };
    write_objects(out, &kept, format)?;
    if args.verbose || std::io::stderr().is_terminal() {
        let image_names: Vec<String> = images
            .iter()
            .map(|(image, _)| format!("`{}`", image.display()))
            .collect();
        let report = left_out_report(&left_out, total, args.verbose, &image_names.join(", "));
        eprint!("{report}");
    }
    Ok(CommandStatus::Success)
}

/// Why `object` is left out, if it is: the default excludes (when
/// `defaults`), then the `--exclude` globs, then the images (an object is
/// read only when it is still in the list).
fn leave_out<'a>(
    object: &CompiledObject,
    defaults: bool,
    excludes: &UserExcludes<'a>,
    images: &[(PathBuf, ImageSymbols)],
) -> Result<Option<LeftOut<'a>>> {
    if defaults {
        if object.build_system_probe {
            return Ok(Some(LeftOut::BuildSystemProbe));
        }
        if let Some(entry) = history::always_rebuilt(&object.relative) {
            return Ok(Some(LeftOut::AlwaysRebuilt(entry)));
        }
    }
    if let Some(glob) = excludes.matching(&object.relative) {
        return Ok(Some(LeftOut::Excluded(glob)));
    }
    if images.is_empty() {
        return Ok(None);
    }
    let items = defined_items(&object.absolute).context("--image reads every object it judges")?;
    let in_an_image = images
        .iter()
        .any(|(_, symbols)| symbols.holds_any(items.iter().map(Vec::as_slice)));
    Ok((!in_an_image).then_some(LeftOut::NotInImage))
}

/// How `log changed` prints its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    /// One path a line: the `changed_objs` file of livepatch-build-tools and
    /// kpatch-build.
    Lines,
    /// `-0`: each path followed by a NUL byte, for `xargs -0`.
    Nul,
    /// `--json`: one JSON array, each path as the record writes paths.
    Json,
}

/// Writes the paths (relative, as raw bytes: a path that is not UTF-8 must
/// reach the livepatch tool intact).
fn write_objects(
    out: &mut dyn Write,
    objects: &[CompiledObject],
    format: ListFormat,
) -> Result<()> {
    let mut out = BufWriter::new(out);
    match format {
        ListFormat::Lines | ListFormat::Nul => {
            let end: &[u8] = if format == ListFormat::Nul {
                b"\0"
            } else {
                b"\n"
            };
            for object in objects {
                out.write_all(object.relative.as_os_str().as_encoded_bytes())?;
                out.write_all(end)?;
            }
        }
        ListFormat::Json => {
            let paths: Vec<OsText> = objects
                .iter()
                .map(|object| OsText::new(object.relative.as_os_str()))
                .collect();
            serde_json::to_writer(&mut out, &paths).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Why `log changed` left an object out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LeftOut<'a> {
    BuildSystemProbe,
    AlwaysRebuilt(&'static AlwaysRebuilt),
    /// The `--exclude` glob it matched.
    Excluded(&'a str),
    /// Not one of its functions or data items is in an `--image`.
    NotInImage,
}

/// The `--exclude` globs, compiled as `exclude` in secwrap.toml is.
struct UserExcludes<'a> {
    globs: &'a [String],
    set: GlobSet,
}

impl<'a> UserExcludes<'a> {
    fn new(globs: &'a [String]) -> Result<UserExcludes<'a>> {
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            builder.add(
                GlobBuilder::new(glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|error| anyhow!("bad --exclude glob `{glob}`: {}", error.kind()))?,
            );
        }
        let set = builder
            .build()
            .map_err(|error| anyhow!("bad --exclude globs: {error}"))?;
        Ok(UserExcludes { globs, set })
    }

    /// The first glob `path` matches.
    fn matching(&self, path: &Path) -> Option<&'a str> {
        let globs = self.globs;
        self.set
            .matches(path)
            .first()
            .and_then(|&index| globs.get(index))
            .map(String::as_str)
    }
}

/// What stderr gets about the objects left out: with `verbose`, a line per
/// object and the count; without, the count only, and nothing when none
/// was left out. `images` names the `--image`s.
fn left_out_report(
    left_out: &[(CompiledObject, LeftOut<'_>)],
    total: usize,
    verbose: bool,
    images: &str,
) -> String {
    let mut report = String::new();
    if left_out.is_empty() && !verbose {
        return report;
    }
    let (mut probes, mut rebuilt, mut excluded, mut not_linked) = (0, 0, 0, 0);
    for (object, reason) in left_out {
        let why = match reason {
            LeftOut::BuildSystemProbe => {
                probes += 1;
                "a build-system probe (--no-default-excludes keeps it)".to_string()
            }
            LeftOut::AlwaysRebuilt(entry) => {
                rebuilt += 1;
                format!(
                    "rebuilt by every build: {} (--no-default-excludes keeps it)",
                    entry.why
                )
            }
            LeftOut::Excluded(glob) => {
                excluded += 1;
                format!("--exclude `{glob}`")
            }
            LeftOut::NotInImage => {
                not_linked += 1;
                format!("none of its functions or data is in {images}")
            }
        };
        if verbose {
            report.push_str(&format!(
                "secwrap: left out {}: {why}\n",
                object.relative.display()
            ));
        }
    }
    let parts: Vec<String> = [
        (probes, plural(probes, "build-system probe")),
        (rebuilt, format!("{rebuilt} rebuilt by every build")),
        (excluded, format!("{excluded} by --exclude")),
        (not_linked, format!("{not_linked} not in the image")),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(_, part)| part)
    .collect();
    report.push_str(&format!(
        "secwrap: left out {} of {}{}{}\n",
        left_out.len(),
        plural(total, "object"),
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        },
        if verbose {
            ""
        } else {
            "; --verbose names them"
        }
    ));
    report
}

pub(super) fn log_export(
    build: Option<String>,
    output: &Path,
    merge: bool,
    include_probes: bool,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let (path, summary) = read_summary(log)?;
    let probes = if include_probes {
        Probes::Include
    } else {
        Probes::LeaveOut
    };
    let export = match &build {
        Some(id) => {
            if !summary.builds().iter().any(|build| build.id == *id) {
                return Err(no_build(id, &path));
            }
            fold_records_of(
                &path,
                &summary,
                &[id],
                || CompileCommands::new(probes),
                CompileCommands::add,
            )?
        }
        None => {
            let mut export = CompileCommands::new(probes);
            summary
                .for_each_record(|record| {
                    export.add(record);
                    Ok(())
                })
                .with_context(|| path.display().to_string())?;
            export
        }
    }
    .finish();
    let mut entries = export.entries;
    let probes_note = match export.probes_left_out {
        0 => String::new(),
        1 => "; left out 1 build-system probe (--include-probes keeps it)".to_string(),
        count => format!("; left out {count} build-system probes (--include-probes keeps them)"),
    };
    // `-o -` is stdout, and a pipe or device is written in place
    // (`atomic::write_output`); the line that says what was written goes to
    // stderr there, out of the JSON's way.
    let output = if output == Path::new("-") {
        output.to_path_buf()
    } else {
        current_dir()?.join(output)
    };
    let target = atomic::output_target(&output).with_context(|| output.display().to_string())?;
    if merge {
        match &target {
            OutputTarget::Replace {
                path,
                existing: Some(_),
            } => {
                let old_text = std::fs::read(path).with_context(|| path.display().to_string())?;
                let old: Vec<CompileCommand> =
                    serde_json::from_slice(&old_text).map_err(|error| {
                        anyhow!(
                            "{}:{}:{}: not a compilation database: {error}",
                            output.display(),
                            error.line(),
                            error.column()
                        )
                    })?;
                entries = merge_compile_commands(old, entries);
            }
            OutputTarget::Replace { existing: None, .. } => {}
            OutputTarget::Stdout => {
                bail!("--merge rewrites a file; `-o -` is stdout: name the file to merge into")
            }
            OutputTarget::InPlace { .. } => bail!(
                "{}: --merge rewrites a file, and this is not a regular file",
                output.display()
            ),
        }
    }
    let written = atomic::write_output(&output, out, 0, |file| {
        let mut file = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut file, &entries).map_err(std::io::Error::other)?;
        file.write_all(b"\n")?;
        file.flush()
    })
    .with_context(|| output.display().to_string())?;
    let entries = plural(entries.len(), "entry");
    match written {
        OutputTarget::Stdout => eprintln!("secwrap: wrote {entries} to stdout{probes_note}"),
        OutputTarget::InPlace { .. } => eprintln!(
            "secwrap: wrote {entries} to {}{probes_note}",
            output.display()
        ),
        OutputTarget::Replace { .. } => {
            writeln!(out, "wrote {entries} to {}{probes_note}", output.display())?
        }
    }
    Ok(CommandStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_build_id(given: Option<&str>, inherited: Option<&str>, expected: Option<&str>) {
        let id = build_id_to_use(given.map(str::to_string), inherited.map(OsString::from));
        match expected {
            Some(expected) => assert_eq!(id, expected, "given {given:?}, inherited {inherited:?}"),
            // Fresh: the time, then `-` and this process's pid.
            None => assert!(
                id.ends_with(&format!("Z-{}", std::process::id())) && id.len() > 10,
                "fresh id `{id}` for given {given:?}, inherited {inherited:?}"
            ),
        }
    }

    #[track_caller]
    fn check_prune_summary(
        kept: &[&str],
        removed: &[&str],
        records: (usize, usize, usize),
        dry_run: bool,
        expected: &str,
    ) {
        let ids = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect();
        let pruned = record::Pruned {
            kept_builds: ids(kept),
            removed_builds: ids(removed),
            kept_records: records.0,
            removed_records: records.1,
            removed_bad_lines: records.2,
        };
        assert_eq!(
            prune_summary(&pruned, dry_run, Path::new("/l.jsonl")),
            expected
        );
    }

    #[test]
    fn prune_summaries() {
        check_prune_summary(
            &["b"],
            &["a", "-"],
            (2, 3, 0),
            false,
            "kept 1 build (2 records) and removed 2 builds (3 records) from /l.jsonl: a, -",
        );
        check_prune_summary(
            &["b", "c"],
            &["a"],
            (1, 1, 2),
            true,
            "would keep 2 builds (1 record) and remove 1 build (1 record) and 2 bad lines from /l.jsonl: a",
        );
        check_prune_summary(
            &["a"],
            &[],
            (4, 0, 0),
            false,
            "kept 1 build (4 records) of /l.jsonl: nothing to remove",
        );
        check_prune_summary(
            &[],
            &[],
            (0, 0, 1),
            false,
            "kept 0 builds (0 records) and removed 0 builds (0 records) and 1 bad line from /l.jsonl",
        );
    }

    #[test]
    fn build_id_is_given_then_inherited_then_fresh() {
        check_build_id(Some("mine"), Some("outer"), Some("mine"));
        check_build_id(Some("mine"), None, Some("mine"));
        check_build_id(None, Some("outer"), Some("outer"));
        check_build_id(None, Some(""), None);
        check_build_id(None, None, None);
    }
}
