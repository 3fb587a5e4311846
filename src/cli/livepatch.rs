//! `secwrap diff` and `secwrap check`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::exit::EXIT_ERROR;
use crate::livepatch::check::{
    Finding, check_image, check_special_names, check_split, stale_objects, unrecorded_writes,
};
use crate::livepatch::diff::{diff_kept, diff_objects, diff_trees, render};
use crate::livepatch::elf::ObjectError;
use crate::paths::{normalize, relative_to};
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
