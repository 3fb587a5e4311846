//! `secwrap diff` and `secwrap check`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::classify::Classification;
use crate::exit::EXIT_ERROR;
use crate::livepatch::check::{
    Finding, check_linker_script, check_object, check_special_names, check_split, check_unrecorded,
    image_orphans, orphan_finding, orphan_summaries, stale_objects, unrecorded_writes,
};
use crate::livepatch::diff::{
    DiffReport, KeptObject, diff_kept, diff_pair, diff_trees, render, render_json,
};
use crate::paths::{normalize, relative_to};
use crate::record::InvocationRecord;
use crate::record::history::{self, OriginalSide, PatchedSide};

use super::{
    CommandStatus, current_dir, load_config, log_path, no_build, read_records, read_summary,
};

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
        let recorded = recorded_objects(log)?;
        diff_trees(original, patched, &|object: &Path| {
            recorded.get(object).copied()
        })
    } else {
        diff_pair(original, patched)
    };
    print_report(out, &report, json)
}

/// The records that say what each object is (`RecordedObjects`), for
/// `diff DIR1 DIR2`: `--log`, else the configured log if there is one.
/// Without a log (none configured, the file not there, or no config to
/// read) the trees are judged from the objects alone, which is stricter.
fn recorded_objects(log: Option<PathBuf>) -> Result<BTreeMap<PathBuf, bool>> {
    let log = match log {
        Some(log) => log,
        None => match log_path(None) {
            Ok(path) if path.is_file() => path,
            _ => return Ok(BTreeMap::new()),
        },
    };
    // Streamed: one record held at a time, whatever the log's size.
    let (path, summary) = read_summary(Some(log))?;
    let mut latest = history::LatestWrites::new(history::is_split_compile);
    summary
        .for_each_record(|record| {
            latest.add(record);
            Ok(())
        })
        .with_context(|| path.display().to_string())?;
    Ok(latest.into_map())
}

/// What `secwrap check` was asked to look at, and how to print it.
pub(super) struct CheckRequest<'a> {
    pub objects: &'a [PathBuf],
    pub build: Option<&'a str>,
    pub images: &'a [PathBuf],
    pub scripts: &'a [PathBuf],
    /// Every orphan section, not one line per family.
    pub verbose: bool,
    /// JSON Lines instead of text.
    pub json: bool,
}

pub(super) fn check(
    request: &CheckRequest<'_>,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    type CheckResult = Result<Vec<Finding>, String>;
    let mut results: Vec<CheckResult> = Vec::new();
    // Objects need the record to know how each was compiled; without a
    // log (none configured, or none written yet: a tree's default log
    // appears with its first record) they are judged from the object alone.
    let wants_log = request.build.is_some()
        || (!request.objects.is_empty()
            && (log.is_some() || log_path(None).is_ok_and(|path| path.is_file())));
    let (log_file, records) = if wants_log {
        let (path, records, _) = read_records(log)?;
        (Some(path), records)
    } else {
        (None, Vec::new())
    };
    let split_check = |path: &Path, record: Option<&InvocationRecord>| -> Option<CheckResult> {
        let record = record?;
        (record.kind.is(Classification::Compile) && history::compiled_split(record))
            .then(|| check_split(path).map_err(|error| error.to_string()))
    };
    let cwd = current_dir()?;
    // Only named objects are looked up by their latest write.
    let outputs = if request.objects.is_empty() {
        BTreeMap::new()
    } else {
        latest_outputs(&records)
    };
    let mut named_compiles = BTreeMap::new();
    for object in request.objects {
        let absolute = normalize(&cwd.join(object));
        results.push(check_special_names(object).map_err(|error| error.to_string()));
        match outputs.get(&absolute).copied() {
            // Compiled without the flags on purpose (the rules did not
            // want them, the user turned them off), or assembled: as meant.
            Some(record) => {
                results.extend(split_check(object, Some(record)));
                if record.kind.is(Classification::Compile) {
                    named_compiles.insert(absolute, record);
                }
            }
            None => results.push(
                check_unrecorded(object, log_file.as_deref()).map_err(|error| error.to_string()),
            ),
        }
    }
    if let Some(id) = request.build {
        let builds = history::builds(&records);
        let build = builds.iter().find(|build| build.id == id).ok_or_else(|| {
            // `--build` always reads the log, so the path is there.
            no_build(id, log_file.as_deref().unwrap_or(Path::new("the log")))
        })?;
        let as_of_build = history::latest_compiles(&records, build.last_index);
        let compiled = history::changed_objects(&records, &[build], Path::new(""));
        for object in &compiled {
            // `as_of_build` holds only compiles (`history::is_object_compile`).
            let split_recorded = as_of_build
                .get(object)
                .is_some_and(|record| history::compiled_split(record));
            // An object removed since is not checked.
            let Some(checks) = check_object(object, split_recorded) else {
                continue;
            };
            results.push(checks.special_names.map_err(|error| error.to_string()));
            results.extend(
                checks
                    .split
                    .map(|split| split.map_err(|error| error.to_string())),
            );
        }
        if let Some(fingerprint) = &build.fingerprint {
            results.push(Ok(stale_objects(&as_of_build, fingerprint, id)));
        }
        // The latest compiles of the whole log: those as of the build when
        // it is the log's last.
        let latest = if build.last_index + 1 >= records.len() {
            as_of_build
        } else {
            history::latest_compiles(&records, usize::MAX)
        };
        results.push(Ok(unrecorded_writes(&latest)));
    } else {
        // A named object rewritten after its record is not what the record
        // says, however split it looks.
        results.push(Ok(unrecorded_writes(&named_compiles)));
    }
    let mut script_outputs: BTreeSet<String> = BTreeSet::new();
    let mut scripts_read = false;
    for script in request.scripts {
        match check_linker_script(script) {
            Ok((findings, parsed)) => {
                scripts_read = true;
                script_outputs.extend(
                    parsed
                        .output_section_names()
                        .into_iter()
                        .map(str::to_string),
                );
                results.push(Ok(findings));
            }
            Err(error) => results.push(Err(error.to_string())),
        }
    }
    let script_outputs: Option<BTreeSet<&str>> =
        scripts_read.then(|| script_outputs.iter().map(String::as_str).collect());
    for image in request.images {
        let orphans = match image_orphans(image, script_outputs.as_ref()) {
            Ok(orphans) => orphans,
            Err(error) => {
                results.push(Err(error.to_string()));
                continue;
            }
        };
        results.push(Ok(if request.verbose || request.json {
            orphans
                .iter()
                .map(|orphan| orphan_finding(image, orphan))
                .collect()
        } else {
            orphan_summaries(image, &orphans)
        }));
    }
    let (mut found, mut failed) = (false, false);
    for result in results {
        match result {
            Ok(findings) => {
                for finding in findings {
                    found = true;
                    if request.json {
                        writeln!(out, "{}", finding.to_json())?;
                    } else {
                        writeln!(out, "{finding}")?;
                    }
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

/// For each object file, the last successful record that wrote it: a
/// compile (`history::is_object_compile`) or an assembly of `.s`/`.S`,
/// whose object no flag splits.
fn latest_outputs(records: &[InvocationRecord]) -> BTreeMap<PathBuf, &InvocationRecord> {
    let assembled = |record: &InvocationRecord| {
        record.kind.is(Classification::Assemble)
            && record.status == Some(0)
            && !record.is_build_system_probe()
    };
    history::latest_by_object(records, |record| {
        history::is_object_compile(record) || assembled(record)
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
            .ok_or_else(|| no_build(id, &path))
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
