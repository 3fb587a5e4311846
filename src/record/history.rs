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
//! `.tmp_$$/tmp.o`: `record::build_probe`) are not objects of the tree.
//!
//! `log changed` leaves out by default, besides probes, the objects in
//! [`ALWAYS_REBUILT`]: version objects every build recompiles with a new
//! date, which would put that date into every livepatch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

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
    /// Records by kind, build-system probes left out (they are `probes`).
    pub kinds: BTreeMap<String, usize>,
    /// Records with flags injected, and failed ones, probes left out.
    pub injected: usize,
    pub failed: usize,
    /// Build-system probes (`record::build_probe`), and how many failed:
    /// counted apart, as a failed probe is an answer, not a broken build.
    pub probes: usize,
    pub probes_failed: usize,
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
                    probes: 0,
                    probes_failed: 0,
                    fingerprint: None,
                });
                builds.len() - 1
            }
        };
        let build = &mut builds[position];
        build.last_time = record.time.clone();
        build.last_index = index;
        let counts = RecordCounts::of(record);
        if counts.probe {
            build.probes += 1;
            build.probes_failed += usize::from(counts.failed);
        } else {
            *build.kinds.entry(record.kind.to_string()).or_default() += 1;
            build.injected += usize::from(counts.injected);
            build.failed += usize::from(counts.failed);
        }
        if is_object_compile(record) {
            build.fingerprint = Some(record.config.clone());
        }
    }
    builds
}

/// What a record adds to a summary's counts (`log show`, `log builds`,
/// `secwrap run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordCounts {
    /// A build system's probe, counted apart from the tree's calls.
    pub probe: bool,
    pub injected: bool,
    /// Not exit status 0 (also killed by a signal).
    pub failed: bool,
}

impl RecordCounts {
    pub fn of(record: &InvocationRecord) -> RecordCounts {
        RecordCounts {
            probe: record.is_build_system_probe(),
            injected: !record.injected.is_empty(),
            failed: record.status != Some(0),
        }
    }
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
/// relative to `root`, sorted; build-system probes left out.
pub fn changed_objects(
    records: &[InvocationRecord],
    builds: &[&Build],
    root: &Path,
) -> Vec<PathBuf> {
    compiled_objects(records, builds, root)
        .into_iter()
        .filter(|object| !object.build_system_probe)
        .map(|object| object.relative)
        .collect()
}

/// An object file that successful compiles of the selected builds wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledObject {
    /// Its final name (see [`final_object`]), normalised, absolute.
    pub absolute: PathBuf,
    /// The same relative to the root asked for; absolute when outside it.
    pub relative: PathBuf,
    /// Every compile that wrote it was a build system's probe
    /// (`record::build_probe`).
    pub build_system_probe: bool,
}

/// Every object successful compiles of the given builds wrote, probes
/// included (and marked), each once, sorted by `relative`.
pub fn compiled_objects(
    records: &[InvocationRecord],
    builds: &[&Build],
    root: &Path,
) -> Vec<CompiledObject> {
    let wanted: BTreeSet<&str> = builds.iter().map(|build| build.id.as_str()).collect();
    let mut objects: BTreeMap<PathBuf, CompiledObject> = BTreeMap::new();
    for record in records.iter().filter(|record| {
        wanted.contains(build_of(record))
            && record.kind.is(Classification::Compile)
            && record.status == Some(0)
    }) {
        let probe = record.is_build_system_probe();
        for object in written_objects(record)
            .iter()
            .filter_map(|output| final_object(output))
        {
            let relative = relative_to(&object, root);
            objects
                .entry(relative.clone())
                .and_modify(|known| known.build_system_probe &= probe)
                .or_insert_with(|| CompiledObject {
                    absolute: normalize(&object),
                    relative,
                    build_system_probe: probe,
                });
        }
    }
    objects.into_values().collect()
}

/// An object every build recompiles although its source did not change,
/// and why: `log changed` leaves it out unless told not to.
#[derive(Debug, PartialEq, Eq)]
pub struct AlwaysRebuilt {
    /// A glob on the path as `log changed` prints it (relative to its root).
    pub glob: &'static str,
    /// What it is and why it is rebuilt, for `log changed --verbose`.
    pub why: &'static str,
}

/// Version objects: their source includes a header every build regenerates
/// with the build's date (and number), so each build recompiles them and
/// their data differs, and a livepatch built from the list would carry
/// that date: `xen_compile_date` and `xen_compile_time` in real-trees.md
/// section 3. livepatch-build-tools' `livepatch-gcc` skips `version.o`,
/// kpatch-build's `kpatch-cc` `init/version.o` and `arch/x86/boot/*`.
///
/// Objects rebuilt for the same reason whose code and data do not change
/// are not here: Xen's `arch/x86/debug.o` and `arch/x86/efi/boot.o` include
/// `xen/compile.h`, yet create-diff-object found nothing in them (section
/// 3), while a patch to them is a real change (`livepatch-gcc` skips
/// `debug.o` by name, and with it such a patch).
pub const ALWAYS_REBUILT: &[AlwaysRebuilt] = &[
    AlwaysRebuilt {
        glob: "init/version-timestamp.o",
        why: "Linux 6.1+ `linux_banner` and `init_uts_ns` with the build's date, compiled at every vmlinux link",
    },
    AlwaysRebuilt {
        glob: "init/version.o",
        why: "Linux before 6.1: `linux_banner` with the build's number and date from the regenerated `include/generated/compile.h`; kpatch-cc skips it",
    },
    AlwaysRebuilt {
        glob: "arch/x86/boot/version.o",
        why: "Linux x86 setup's `kernel_version` string with the build's date; 16-bit setup code, not in vmlinux",
    },
    AlwaysRebuilt {
        glob: "common/version.o",
        why: "Xen's `xen_compile_date`, `xen_compile_time` and friends from the regenerated `include/xen/compile.h` (root at `xen/`); livepatch-gcc skips it",
    },
    AlwaysRebuilt {
        glob: "xen/common/version.o",
        why: "Xen's `xen_compile_date`, `xen_compile_time` and friends (root at the top of the Xen repository); livepatch-gcc skips it",
    },
];

/// The entry of [`ALWAYS_REBUILT`] a path (as printed) matches, if any.
pub fn always_rebuilt(path: &Path) -> Option<&'static AlwaysRebuilt> {
    static GLOBS: LazyLock<GlobSet> = LazyLock::new(|| {
        let mut builder = GlobSetBuilder::new();
        for entry in ALWAYS_REBUILT {
            builder.add(
                GlobBuilder::new(entry.glob)
                    .literal_separator(true)
                    .build()
                    .expect("a fixed glob of ALWAYS_REBUILT (always_rebuilt_table checks each)"),
            );
        }
        builder
            .build()
            .expect("the fixed globs of ALWAYS_REBUILT (always_rebuilt_table checks them)")
    });
    GLOBS
        .matches(path)
        .first()
        .and_then(|&index| ALWAYS_REBUILT.get(index))
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

    /// A compile record of build `build`: `inputs` to `output` (absolute),
    /// with its exit status and the shim's probe mark.
    fn compile(
        build: &str,
        inputs: &[&str],
        output: &str,
        status: i32,
        marked: bool,
    ) -> InvocationRecord {
        serde_json::from_value(serde_json::json!({
            "version": 1, "secwrap": "0", "time": "t", "pid": 1, "build": build,
            "cwd": "/t", "compiler": "/usr/bin/gcc", "argv": [], "exec": [],
            "kind": "compile", "injected": ["-ffunction-sections"], "skipped": [],
            "inputs": inputs, "output": output, "lto": false, "config": "C",
            "status": status, "signal": null, "duration_ms": 0.0,
            "build_system_probe": marked,
        }))
        .expect("a record")
    }

    #[test]
    fn compiled_objects_mark_probes() {
        let records = [
            compile("b1", &["/t/a.c"], "/t/a.o", 0, false),
            // Marked by the shim.
            compile("b1", &["/t/conftest.c"], "/t/conftest.o", 0, true),
            // Unmarked (an older secwrap): the classifier judges it.
            compile(
                "b1",
                &["/x/arch/x86/efi/check.c"],
                "/x/arch/x86/efi/check.o",
                0,
                false,
            ),
            // Written by a probe and by a compile of the tree: an object.
            compile("b1", &["/t/b.c"], "/t/b.o", 0, false),
            compile("b1", &["/dev/null"], "/t/b.o", 0, false),
            // Not objects: failed, probe directory, another build.
            compile("b1", &["/t/c.c"], "/t/c.o", 1, false),
            compile("b1", &["/dev/null"], "/t/.tmp_12/tmp.o", 0, false),
            compile("b2", &["/t/d.c"], "/t/d.o", 0, false),
        ];
        let all = builds(&records);
        let object = |relative: &str, absolute: &str, probe: bool| CompiledObject {
            absolute: PathBuf::from(absolute),
            relative: PathBuf::from(relative),
            build_system_probe: probe,
        };
        assert_eq!(
            compiled_objects(&records, &[&all[0]], Path::new("/t")),
            [
                object("/x/arch/x86/efi/check.o", "/x/arch/x86/efi/check.o", true),
                object("a.o", "/t/a.o", false),
                object("b.o", "/t/b.o", false),
                object("conftest.o", "/t/conftest.o", true),
            ]
        );
        assert_eq!(
            changed_objects(&records, &[&all[0]], Path::new("/t")),
            [PathBuf::from("a.o"), PathBuf::from("b.o")]
        );
    }

    #[test]
    fn builds_count_probes_apart() {
        let records = [
            compile("b1", &["/t/a.c"], "/t/a.o", 0, false),
            compile("b1", &["/t/c.c"], "/t/c.o", 1, false),
            compile("b1", &["/dev/null"], "/t/.tmp_1/tmp.o", 0, true),
            compile("b1", &["/dev/null"], "/t/.tmp_2/tmp.o", 1, false),
            compile("b1", &["-"], "/dev/null", 1, false),
        ];
        let all = builds(&records);
        assert_eq!(all.len(), 1);
        let build = &all[0];
        assert_eq!(build.kinds, BTreeMap::from([("compile".to_string(), 2)]));
        assert_eq!((build.injected, build.failed), (2, 1));
        assert_eq!((build.probes, build.probes_failed), (3, 2));
    }

    #[track_caller]
    fn check_always_rebuilt(path: &str, expected: Option<&str>) {
        assert_eq!(
            always_rebuilt(Path::new(path)).map(|entry| entry.glob),
            expected,
            "{path}"
        );
    }

    #[test]
    fn always_rebuilt_table() {
        for entry in ALWAYS_REBUILT {
            assert!(
                GlobBuilder::new(entry.glob)
                    .literal_separator(true)
                    .build()
                    .is_ok(),
                "{}",
                entry.glob
            );
            check_always_rebuilt(entry.glob, Some(entry.glob));
        }
        check_always_rebuilt("init/version.o", Some("init/version.o"));
        check_always_rebuilt("xen/common/version.o", Some("xen/common/version.o"));
        // Anchored at the root: other trees' files of the same name stay.
        check_always_rebuilt("lib/common/version.o", None);
        check_always_rebuilt("version.o", None);
        check_always_rebuilt("/abs/init/version.o", None);
        check_always_rebuilt("arch/x86/boot/compressed/version.o", None);
        check_always_rebuilt("arch/x86/debug.o", None);
        check_always_rebuilt("init/main.o", None);
    }
}
