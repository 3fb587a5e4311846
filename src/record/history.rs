//! History: what the invocation record says happened, build by build.
//!
//! Pure functions over records read by `record::read_log`, for the
//! subcommands `log builds`, `log changed`, `log export` and `check --build`.
//!
//! A record belongs to the build named by its `build` field
//! (`SECWRAP_BUILD_ID`, set by `secwrap run`); records without one belong to
//! the log as a whole, one unnamed build. Builds are ordered by their first
//! record in the log.
//!
//! Objects are tracked by the file that ends up in the link. Kbuild and Xen
//! sometimes compile to a temporary and rename it: old Kbuild compiled to
//! `.tmp_foo.o` and moved it (kpatch `7b4ee86`), Xen with
//! `CONFIG_ENFORCE_UNIQUE_SYMBOLS` compiles to `.foo.o.tmp` and `objcopy`s it
//! to `foo.o` (`xen/Rules.mk`). [`final_object`] maps those names back;
//! recordmcount's `.tmp_mc_*.o` and build-system probes (`-x c /dev/null`,
//! `.tmp_$$/tmp.o`) are not objects of the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::classify::Classification;
use crate::inject::SkipReason;
use crate::paths::{final_object, normalize, relative_to};
use crate::record::{InvocationRecord, OsText};

/// The name of the build that records without a build id form.
pub const UNNAMED_BUILD: &str = "-";

/// One build and what it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    pub id: String,
    pub first_time: String,
    pub last_time: String,
    /// Index range of its records in the log's order (first..=last).
    pub first_index: usize,
    pub last_index: usize,
    pub kinds: BTreeMap<String, usize>,
    pub injected: usize,
    pub failed: usize,
    /// The config fingerprint of its last compile, if it compiled.
    pub fingerprint: Option<String>,
}

/// The build a record belongs to.
pub fn build_of(record: &InvocationRecord) -> &str {
    record.build.as_deref().unwrap_or(UNNAMED_BUILD)
}

/// Builds in the order they first appear.
pub fn builds(records: &[InvocationRecord]) -> Vec<Build> {
    let mut builds: Vec<Build> = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let id = build_of(record);
        let position = match builds.iter().position(|build| build.id == id) {
            Some(position) => position,
            None => {
                builds.push(Build {
                    id: id.to_string(),
                    first_time: record.time.clone(),
                    last_time: record.time.clone(),
                    first_index: index,
                    last_index: index,
                    kinds: BTreeMap::new(),
                    injected: 0,
                    failed: 0,
                    fingerprint: None,
                });
                builds.len() - 1
            }
        };
        let build = &mut builds[position];
        build.last_time = record.time.clone();
        build.last_index = index;
        *build.kinds.entry(record.kind.to_string()).or_default() += 1;
        build.injected += usize::from(!record.injected.is_empty());
        build.failed += usize::from(record.status != Some(0));
        if is_object_compile(record) {
            build.fingerprint = Some(record.config.clone());
        }
    }
    builds
}

/// The builds `log changed` looks at: those after `since` (exclusive), or
/// the latest one. `None` when `since` is not a build in the log.
pub fn builds_after<'a>(builds: &'a [Build], since: Option<&str>) -> Option<Vec<&'a Build>> {
    match since {
        None => Some(builds.last().into_iter().collect()),
        Some(id) => {
            let at = builds.iter().position(|build| build.id == id)?;
            Some(builds[at + 1..].iter().collect())
        }
    }
}

/// Whether a record compiled a source of the tree into an object file
/// successfully (not a probe by the build system, not a failed compile).
pub fn is_object_compile(record: &InvocationRecord) -> bool {
    record.kind.is(Classification::Compile)
        && record.status == Some(0)
        && !record.is_build_system_probe()
}

/// Every object file a record wrote, as absolute paths.
pub fn written_objects(record: &InvocationRecord) -> Vec<PathBuf> {
    record
        .output
        .iter()
        .chain(&record.outputs)
        .filter_map(OsText::to_os_string)
        .map(PathBuf::from)
        .collect()
}

/// The objects compiled in `records` of the given builds, each once,
/// relative to `root`, sorted.
pub fn changed_objects(
    records: &[InvocationRecord],
    builds: &[&Build],
    root: &Path,
) -> Vec<PathBuf> {
    let wanted: BTreeSet<&str> = builds.iter().map(|build| build.id.as_str()).collect();
    records
        .iter()
        .filter(|record| wanted.contains(build_of(record)) && is_object_compile(record))
        .flat_map(written_objects)
        .filter_map(|output| final_object(&output))
        .map(|object| relative_to(&object, root))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// For each object known up to record `last_index` (inclusive), its
/// latest successful compile; objects by final, normalised absolute path.
pub fn latest_compiles(
    records: &[InvocationRecord],
    last_index: usize,
) -> BTreeMap<PathBuf, &InvocationRecord> {
    let mut latest = BTreeMap::new();
    let known = &records[..records.len().min(last_index.saturating_add(1))];
    for record in known.iter().filter(|record| is_object_compile(record)) {
        for object in written_objects(record)
            .iter()
            .filter_map(|output| final_object(output))
        {
            latest.insert(normalize(&object), record);
        }
    }
    latest
}

/// Whether the compile ran with both split flags in effect: added by
/// secwrap, or already on the line (the build adds them itself).
pub fn compiled_split(record: &InvocationRecord) -> bool {
    crate::config::SPLIT_FLAGS.iter().all(|flag| {
        let flag = OsText::Text((*flag).to_string());
        record.injected.contains(&flag)
            || record
                .skipped
                .iter()
                .any(|skipped| skipped.flag == flag && skipped.reason.is(SkipReason::Present))
    })
}

/// The originals build `build_id` kept before overwriting them
/// (`[livepatch] keep_originals`): each object (final name, normalised) to
/// its copy. The shim copies an object aside once (a copy already there is
/// kept, as kpatch-cc keeps `orig/`), so later compiles add no pair.
pub fn kept_originals(records: &[InvocationRecord], build_id: &str) -> BTreeMap<PathBuf, PathBuf> {
    let mut kept = BTreeMap::new();
    for record in records.iter().filter(|record| build_of(record) == build_id) {
        for original in &record.originals {
            if let (Some(object), Some(copy)) =
                (original.object.to_os_string(), original.copy.to_os_string())
            {
                kept.insert(normalize(Path::new(&object)), PathBuf::from(copy));
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    /// A compile record of build `build` that kept `originals` (object, copy).
    fn record(build: &str, originals: serde_json::Value) -> InvocationRecord {
        serde_json::from_value(serde_json::json!({
            "version": 1, "secwrap": "0", "time": "t", "pid": 1, "build": build,
            "cwd": "/t", "compiler": "/usr/bin/gcc", "argv": [], "exec": [],
            "kind": "compile", "injected": [], "skipped": [], "inputs": [],
            "output": null, "lto": false, "config": "C",
            "status": 0, "signal": null, "duration_ms": 0.0,
            "originals": originals,
        }))
        .expect("a record")
    }

    #[test]
    fn kept_originals_of_one_build() {
        let records = [
            record(
                "b1",
                serde_json::json!([{"object": "/t/old.o", "copy": "/k/old.o"}]),
            ),
            record(
                "b2",
                serde_json::json!([
                    // Normalised: the key is the object's final name.
                    {"object": "/t/./sub/../a.o", "copy": "/k/a.o"},
                    // Not UTF-8 (base64 of `/t/\xff.o`): kept byte for byte.
                    {"object": {"bytes": "L3Qv/y5v"}, "copy": "/k/ff.o"},
                    // Bad base64: no pair rather than a wrong one.
                    {"object": {"bytes": "!"}, "copy": "/k/bad.o"},
                ]),
            ),
            record("b2", serde_json::json!([])),
        ];
        let non_utf8 = PathBuf::from(OsString::from_vec(b"/t/\xff.o".to_vec()));
        assert_eq!(
            kept_originals(&records, "b2"),
            BTreeMap::from([
                (PathBuf::from("/t/a.o"), PathBuf::from("/k/a.o")),
                (non_utf8, PathBuf::from("/k/ff.o")),
            ])
        );
        assert_eq!(
            kept_originals(&records, "b1"),
            BTreeMap::from([(PathBuf::from("/t/old.o"), PathBuf::from("/k/old.o"))])
        );
        assert_eq!(kept_originals(&records, "b3"), BTreeMap::new());
    }
}
