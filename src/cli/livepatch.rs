//! `secwrap diff` and `secwrap check`.

use super::*;

pub(super) fn diff(original: &Path, patched: &Path) -> Result<Outcome, String> {
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

pub(super) fn check(
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
pub(super) fn diff_build(id: &str, log: Option<PathBuf>) -> Result<Outcome, String> {
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
