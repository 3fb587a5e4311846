//! `secwrap diff` and `secwrap check`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::exit::EXIT_ERROR;
use crate::livepatch::check::{
    Finding, check_image, check_special_names, check_split, stale_objects, unrecorded_writes,
};
use crate::livepatch::diff::{
    DiffReport, KeptObject, RecordedObjects, diff_kept, diff_pair, diff_trees, render, render_json,
};
use crate::livepatch::elf::ObjectError;
use crate::paths::{normalize, relative_to};
use crate::record::InvocationRecord;
use crate::record::history::{self, OriginalSide, PatchedSide};

use super::{CommandStatus, current_dir, load_config, log_path, read_records};

/// `secwrap diff ORIGINAL PATCHED`: two objects, or two trees of objects
/// (the log, when there is one, says which files are split C objects).
pub(super) fn diff(
    original: &Path,
    patched: &Path,
    log: Option<PathBuf>,
    json: bool,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let report = if original.is_dir() && patched.is_dir() {
        diff_trees(original, patched, &recorded_objects(log)?)
    } else {
        diff_pair(original, patched)
    };
    print_report(out, &report, json)
}

/// What the log says about each object it knows (`RecordedObjects`), for
/// `diff DIR1 DIR2`: `--log`, else the configured log if there is one.
/// Without a log (none configured, the file not there, or no config to
/// read) the trees are judged from the objects alone, which is stricter.
fn recorded_objects(log: Option<PathBuf>) -> Result<RecordedObjects> {
    let records = match log {
        Some(log) => read_records(Some(log))?.1,
        None => match log_path(None) {
            Ok(path) if path.is_file() => read_records(Some(path))?.1,
            _ => Vec::new(),
        },
    };
    Ok(history::latest_writes(&records)
        .into_iter()
        .map(|(object, record)| (object, history::is_split_compile(record)))
        .collect())
}

pub(super) fn check(
    objects: &[PathBuf],
    build: Option<&str>,
    images: &[PathBuf],
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    type CheckResult = Result<Vec<Finding>, ObjectError>;
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
            results.push(check_special_names(path));
            if record.is_some_and(history::compiled_split) {
                results.push(check_split(path));
            }
        };
    let cwd = current_dir()?;
    let latest = history::latest_compiles(&records, usize::MAX);
    for object in objects {
        let absolute = normalize(&cwd.join(object));
        check_object(object, latest.get(&absolute).copied(), &mut results);
    }
    if let Some(id) = build {
        let builds = history::builds(&records);
        let build = builds
            .iter()
            .find(|build| build.id == id)
            .with_context(|| format!("no build `{id}` in the log"))?;
        let as_of_build = history::latest_compiles(&records, build.last_index);
        let compiled = history::changed_objects(&records, &[build], Path::new(""));
        for object in compiled.iter().filter(|object| object.is_file()) {
            check_object(object, as_of_build.get(object).copied(), &mut results);
        }
        if let Some(fingerprint) = &build.fingerprint {
            results.push(Ok(stale_objects(&as_of_build, fingerprint, id)));
        }
        results.push(Ok(unrecorded_writes(&latest)));
    }
    for image in images {
        results.push(check_image(image));
    }
    let (mut found, mut failed) = (false, false);
    for result in results {
        match result {
            Ok(findings) => {
                for finding in findings {
                    found = true;
                    writeln!(out, "{finding}")?;
                }
            }
            Err(error) => {
                failed = true;
                // In order with the findings when both reach one terminal.
                out.flush()?;
                eprintln!("secwrap: error: {error}");
            }
        }
    }
    Ok(match (failed, found) {
        (true, _) => CommandStatus::Exit(EXIT_ERROR),
        (false, true) => CommandStatus::No,
        (false, false) => CommandStatus::Success,
    })
}

/// `secwrap diff --build BUILD [--against A]`: the objects the build
/// compiled, each against the original the baseline had (the copy kept by
/// the first later compile, `history::pair_with_originals`), labelled
/// relative to the working directory. A missing pair is that object's
/// refusal, not the command's error.
pub(super) fn diff_build(
    id: &str,
    against: Option<&str>,
    log: Option<PathBuf>,
    json: bool,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let (path, records, _) = read_records(log)?;
    let builds = history::builds(&records);
    let find = |id: &str| {
        builds
            .iter()
            .find(|build| build.id == id)
            .with_context(|| format!("no build `{id}` in {}", path.display()))
    };
    let build = find(id)?;
    let against = against.map(find).transpose()?;
    if let Some(baseline) = against
        && baseline.last_index >= build.first_index
    {
        bail!(
            "`--against {}`: build `{}` does not end before build `{id}` starts in {}",
            baseline.id,
            baseline.id,
            path.display()
        );
    }
    let keeping = history::any_kept(&records)
        || load_config().is_ok_and(|config| config.keep_originals.is_some());
    let start = history::baseline_start(&records, &builds, build, against);
    let cwd = current_dir()?;
    let relative = |path: &Path| relative_to(path, &cwd);
    let objects: Vec<KeptObject> = history::pair_with_originals(&records, start, build, keeping)
        .into_iter()
        .map(|pair| {
            let unpaired = pair
                .original
                .missing_reason()
                .or_else(|| pair.patched.missing_reason(id));
            let original = match &pair.original {
                OriginalSide::Kept { copy, .. } => Some(relative(copy)),
                _ => None,
            };
            let patched = match &pair.patched {
                PatchedSide::Kept { copy, .. } => relative(copy),
                _ => relative(&pair.object),
            };
            KeptObject {
                label: relative(&pair.object),
                original,
                patched,
                unpaired,
            }
        })
        .collect();
    print_report(out, &diff_kept(&objects), json)
}

/// Prints a diff report, as text (changes on stdout; refusals and the
/// skipped count on stderr, after stdout is flushed so that a terminal
/// shows them in this order) or as one JSON document on stdout; the exit
/// status is the report's.
fn print_report(out: &mut dyn Write, report: &DiffReport, json: bool) -> Result<CommandStatus> {
    if json {
        out.write_all(render_json(report).as_bytes())?;
    } else {
        let (stdout, stderr) = render(report);
        out.write_all(stdout.as_bytes())?;
        out.flush()?;
        eprint!("{stderr}");
    }
    Ok(CommandStatus::Exit(report.status()))
}
