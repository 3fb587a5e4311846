//! `secwrap diff` and `secwrap check`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::classify::Classification;
use crate::exit::EXIT_ERROR;
use crate::livepatch::check::{
    Finding, check_linker_script, check_special_names, check_split, check_unrecorded,
    image_orphans, orphan_finding, orphan_summaries, stale_objects, unrecorded_writes,
};
use crate::livepatch::diff::{diff_kept, diff_objects, diff_trees, render};
use crate::paths::{final_object, normalize, relative_to};
use crate::record::InvocationRecord;
use crate::record::history;

use super::{CommandStatus, current_dir, log_path, read_records};

pub(super) fn diff(original: &Path, patched: &Path, out: &mut dyn Write) -> Result<CommandStatus> {
    let results = if original.is_dir() && patched.is_dir() {
        diff_trees(original, patched)
    } else {
        vec![(patched.to_path_buf(), diff_objects(original, patched))]
    };
    let (stdout, stderr, code) = render(&results);
    print_rendered(out, &stdout, &stderr)?;
    Ok(CommandStatus::Exit(code))
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
    // log they are judged from the object alone.
    let wants_log = request.build.is_some()
        || (!request.objects.is_empty() && (log.is_some() || log_path(None).is_ok()));
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
    let outputs = latest_outputs(&records);
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
        let build = builds
            .iter()
            .find(|build| build.id == id)
            .with_context(|| format!("no build `{id}` in the log"))?;
        let as_of_build = history::latest_compiles(&records, build.last_index);
        let compiled = history::changed_objects(&records, &[build], Path::new(""));
        for object in compiled.iter().filter(|object| object.is_file()) {
            results.push(check_special_names(object).map_err(|error| error.to_string()));
            results.extend(split_check(object, as_of_build.get(object).copied()));
        }
        if let Some(fingerprint) = &build.fingerprint {
            results.push(Ok(stale_objects(&as_of_build, fingerprint, id)));
        }
        results.push(Ok(unrecorded_writes(&history::latest_compiles(
            &records,
            usize::MAX,
        ))));
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
    let mut latest = BTreeMap::new();
    let assembled = |record: &InvocationRecord| {
        record.kind.is(Classification::Assemble)
            && record.status == Some(0)
            && !record.is_build_system_probe()
    };
    for record in records
        .iter()
        .filter(|record| history::is_object_compile(record) || assembled(record))
    {
        for object in history::written_objects(record)
            .iter()
            .filter_map(|output| final_object(output))
        {
            latest.insert(normalize(&object), record);
        }
    }
    latest
}

/// `secwrap diff --build BUILD`: the objects the build compiled, each against
/// its kept original, labelled relative to the working directory.
pub(super) fn diff_build(
    id: &str,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let (path, records, _) = read_records(log)?;
    let builds = history::builds(&records);
    let build = builds
        .iter()
        .find(|build| build.id == id)
        .with_context(|| format!("no build `{id}` in {}", path.display()))?;
    let cwd = current_dir()?;
    let objects = history::changed_objects(&records, &[build], Path::new(""));
    let kept = history::kept_originals(&records, id);
    if kept.is_empty() && !objects.is_empty() {
        bail!(
            "build `{id}` kept no originals to compare with: set `[livepatch] keep_originals` in secwrap.toml before the patched build"
        );
    }
    let pairs: Vec<(PathBuf, Option<PathBuf>, PathBuf)> = objects
        .iter()
        .map(|object| {
            (
                relative_to(object, &cwd),
                kept.get(object).cloned(),
                object.clone(),
            )
        })
        .collect();
    let (stdout, stderr, code) = render(&diff_kept(&pairs));
    print_rendered(out, &stdout, &stderr)?;
    Ok(CommandStatus::Exit(code))
}

/// `diff`'s report: the changes on stdout, then the refusals on stderr
/// (stdout flushed first, so that a terminal shows them in this order).
fn print_rendered(out: &mut dyn Write, stdout: &str, stderr: &str) -> std::io::Result<()> {
    out.write_all(stdout.as_bytes())?;
    out.flush()?;
    eprint!("{stderr}");
    Ok(())
}
