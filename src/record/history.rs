//! History: what the invocation record says happened, build by build.
//!
//! Pure functions over records, for the subcommands `log builds`, `log
//! changed`, `log export` and `check --build`: over a slice read by
//! `record::read_log`, or record by record as `record::index` streams the
//! log ([`BuildsTally`], [`CompiledObjects`], [`RecordFacts`]).
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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::classify::Classification;
use crate::inject::SkipReason;
use crate::paths::{final_object, normalize, relative_to};
use crate::record::{InvocationRecord, OsText, Term};

/// The name of the build that records without a build id form.
pub const UNNAMED_BUILD: &str = "-";

/// One build and what it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub id: String,
    pub first_time: String,
    pub last_time: String,
    /// Index range of its records in the log's order (first..=last).
    pub first_index: usize,
    pub last_index: usize,
    /// Its records counted (flattened: the index stores the fields as
    /// they were before the tally was its own type).
    #[serde(flatten)]
    pub tally: Tally,
    /// The config fingerprint of its last compile, if it compiled.
    pub fingerprint: Option<String>,
}

impl Build {
    /// A build whose first record is `facts`, the log's record `index`
    /// (counted, not yet added: [`Build::add`]).
    fn starting(facts: &RecordFacts<'_>, index: usize) -> Build {
        Build {
            id: facts.build.to_string(),
            first_time: facts.time.to_string(),
            last_time: facts.time.to_string(),
            first_index: index,
            last_index: index,
            tally: Tally::default(),
            fingerprint: None,
        }
    }

    /// Counts the log's record `index` of this build.
    pub fn add(&mut self, facts: &RecordFacts<'_>, index: usize) {
        facts.time.clone_into(&mut self.last_time);
        self.last_index = index;
        self.tally.add(&facts.kind, facts.counts());
        if facts.is_object_compile() {
            self.fingerprint = Some(facts.config.to_string());
        }
    }
}

/// What [`builds`] and `record::stats` read of one record: the same
/// whether it comes from a whole [`InvocationRecord`] or from the log
/// reader's light view of a line (`record::reader`), so that both count
/// alike.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordFacts<'a> {
    /// [`build_of`].
    pub build: &'a str,
    pub time: &'a str,
    pub kind: Term<Classification>,
    /// [`InvocationRecord::is_build_system_probe`].
    pub probe: bool,
    /// Any flag injected.
    pub injected: bool,
    pub status: Option<i32>,
    pub config: &'a str,
    /// Each skipped flag's reason, in the record's order.
    pub skip_reasons: Vec<Term<SkipReason>>,
    /// secwrap's own flag probes answered from its cache, and run.
    pub probes_cached: usize,
    pub probes_run: usize,
    pub secwrap_ms: Option<f64>,
}

impl<'a> RecordFacts<'a> {
    pub fn of(record: &'a InvocationRecord) -> RecordFacts<'a> {
        let cached = record.probes.iter().filter(|probe| probe.cached).count();
        RecordFacts {
            build: build_of(record),
            time: &record.time,
            kind: record.kind.clone(),
            probe: record.is_build_system_probe(),
            injected: !record.injected.is_empty(),
            status: record.status,
            config: &record.config,
            skip_reasons: record
                .skipped
                .iter()
                .map(|skipped| skipped.reason.clone())
                .collect(),
            probes_cached: cached,
            probes_run: record.probes.len() - cached,
            secwrap_ms: record.secwrap_ms,
        }
    }

    pub fn counts(&self) -> RecordCounts {
        RecordCounts {
            probe: self.probe,
            injected: self.injected,
            failed: self.status != Some(0),
        }
    }

    /// [`is_object_compile`].
    pub fn is_object_compile(&self) -> bool {
        self.kind.is(Classification::Compile) && self.status == Some(0) && !self.probe
    }
}

/// [`builds`] record by record: the builds in the order they first
/// appear, each found by its id in constant time (a log of 2,000 builds
/// would otherwise cost records x builds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildsTally {
    builds: Vec<Build>,
    positions: HashMap<String, usize>,
}

impl BuildsTally {
    /// Builds already counted, in their order (an index's, then more).
    pub fn from_builds(builds: Vec<Build>) -> BuildsTally {
        let positions = builds
            .iter()
            .enumerate()
            .map(|(position, build)| (build.id.clone(), position))
            .collect();
        BuildsTally { builds, positions }
    }

    /// Counts the log's record `index`; returns its build's position.
    pub fn add(&mut self, facts: &RecordFacts<'_>, index: usize) -> usize {
        let position = match self.positions.get(facts.build) {
            Some(&position) => position,
            None => {
                self.builds.push(Build::starting(facts, index));
                self.positions
                    .insert(facts.build.to_string(), self.builds.len() - 1);
                self.builds.len() - 1
            }
        };
        self.builds[position].add(facts, index);
        position
    }

    pub fn builds(&self) -> &[Build] {
        &self.builds
    }

    pub fn into_builds(self) -> Vec<Build> {
        self.builds
    }
}

/// The build a record belongs to.
pub fn build_of(record: &InvocationRecord) -> &str {
    record.build.as_deref().unwrap_or(UNNAMED_BUILD)
}

/// Builds in the order they first appear.
pub fn builds(records: &[InvocationRecord]) -> Vec<Build> {
    let mut tally = BuildsTally::default();
    for (index, record) in records.iter().enumerate() {
        tally.add(&RecordFacts::of(record), index);
    }
    tally.into_builds()
}

/// Records counted for a summary (`log show`, `log builds`, `secwrap
/// run`), build-system probes apart from the tree's calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Records by kind, build-system probes left out (they are `probes`).
    pub kinds: BTreeMap<String, usize>,
    /// Records with flags injected, and failed ones, probes left out.
    pub injected: usize,
    pub failed: usize,
    /// Build-system probes (`record::build_probe`), and how many failed:
    /// counted apart, as a failed probe is an answer, not a broken build.
    pub probes: usize,
    pub probes_failed: usize,
}

impl Tally {
    /// Counts one record of `kind`.
    pub fn add(&mut self, kind: &Term<Classification>, counts: RecordCounts) {
        if counts.probe {
            self.probes += 1;
            self.probes_failed += usize::from(counts.failed);
        } else {
            *self.kinds.entry(kind.to_string()).or_default() += 1;
            self.injected += usize::from(counts.injected);
            self.failed += usize::from(counts.failed);
        }
    }

    /// Every record counted, probes included.
    pub fn total(&self) -> usize {
        self.kinds.values().sum::<usize>() + self.probes
    }
}

/// What a record adds to a [`Tally`].
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
    let mut objects = CompiledObjects::new(root);
    for record in records
        .iter()
        .filter(|record| wanted.contains(build_of(record)))
    {
        objects.add(record);
    }
    objects.into_sorted()
}

/// [`compiled_objects`] a record at a time (the caller picks the builds'
/// records), so that a reader streaming the log holds the objects only.
#[derive(Clone, Debug)]
pub struct CompiledObjects {
    root: PathBuf,
    objects: BTreeMap<PathBuf, CompiledObject>,
}

impl CompiledObjects {
    pub fn new(root: &Path) -> CompiledObjects {
        CompiledObjects {
            root: root.to_path_buf(),
            objects: BTreeMap::new(),
        }
    }

    /// Counts one record of the selected builds.
    pub fn add(&mut self, record: &InvocationRecord) {
        if !(record.kind.is(Classification::Compile) && record.status == Some(0)) {
            return;
        }
        let probe = record.is_build_system_probe();
        for object in written_objects(record)
            .iter()
            .filter_map(|output| final_object(output))
        {
            let relative = relative_to(&object, &self.root);
            self.objects
                .entry(relative.clone())
                .and_modify(|known| known.build_system_probe &= probe)
                .or_insert_with(|| CompiledObject {
                    absolute: normalize(&object),
                    relative,
                    build_system_probe: probe,
                });
        }
    }

    /// Each object once, sorted by `relative`.
    pub fn into_sorted(self) -> Vec<CompiledObject> {
        self.objects.into_values().collect()
    }
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
        glob: "arch/x86/boot/compressed/misc.o",
        why: "Linux x86 decompressor, compiled against the generated `voffset.h` (vmlinux's addresses), so any patch to vmlinux rebuilds it; not in vmlinux (kpatch-build's `find_kobj` drops it)",
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
    let known = &records[..records.len().min(last_index.saturating_add(1))];
    latest_by_object(known, is_object_compile)
}

/// Each object's latest record among those `counts` accepts: objects by
/// final, normalised absolute path (the one walk behind
/// [`latest_compiles`] and `check`'s own; [`LatestWrites`] is the same
/// walk record by record).
pub fn latest_by_object(
    records: &[InvocationRecord],
    counts: impl Fn(&InvocationRecord) -> bool,
) -> BTreeMap<PathBuf, &InvocationRecord> {
    let mut latest = BTreeMap::new();
    for record in records.iter().filter(|record| counts(record)) {
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

/// A successful write of the tree's (not a build-system probe's).
fn is_tree_write(record: &InvocationRecord) -> bool {
    record.status == Some(0) && !record.is_build_system_probe()
}

/// What `judge` says of each object's latest successful write in the log,
/// whatever the kind (a compile, an assembly, a compile-and-link writing an
/// object), the log read record by record: objects by final, normalised
/// absolute path. `diff DIR1 DIR2` asks it whether a file is a C/C++
/// object compiled split ([`is_split_compile`]).
pub struct LatestWrites<T> {
    judge: fn(&InvocationRecord) -> T,
    latest: BTreeMap<PathBuf, T>,
}

impl<T: Clone> LatestWrites<T> {
    pub fn new(judge: fn(&InvocationRecord) -> T) -> LatestWrites<T> {
        LatestWrites {
            judge,
            latest: BTreeMap::new(),
        }
    }

    /// The next record in the log's order.
    pub fn add(&mut self, record: &InvocationRecord) {
        if !is_tree_write(record) {
            return;
        }
        let value = (self.judge)(record);
        for object in written_objects(record)
            .iter()
            .filter_map(|output| final_object(output))
        {
            self.latest.insert(normalize(&object), value.clone());
        }
    }

    pub fn into_map(self) -> BTreeMap<PathBuf, T> {
        self.latest
    }
}

/// Whether a record compiled C or C++ into an object with both split
/// flags in effect: the objects `diff` can compare function by function.
/// (secwrap adds the flags only to C-family compiles, so `compiled_split`
/// on a compile says the language too.)
pub fn is_split_compile(record: &InvocationRecord) -> bool {
    is_object_compile(record) && compiled_split(record)
}

/// Whether `[livepatch] keep_originals` was in effect for any record: some
/// record kept an original.
pub fn any_kept(records: &[InvocationRecord]) -> bool {
    records.iter().any(|record| !record.originals.is_empty())
}

/// What one record did to an object: kept a copy of it, or (successfully)
/// compiled it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Touch {
    Kept(PathBuf),
    Compiled,
}

/// Every object's touches (final name, normalised), each with its
/// record's index, in the log's order; a record that kept a copy before
/// compiling over it has both, the copy first. One pass over the log, so
/// that `diff --build` on a full rebuild is not objects × records.
fn touches(records: &[InvocationRecord]) -> BTreeMap<PathBuf, Vec<(usize, Touch)>> {
    let mut touches: BTreeMap<PathBuf, Vec<(usize, Touch)>> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        for original in &record.originals {
            // Bad base64: no pair rather than a wrong one.
            if let (Some(object), Some(copy)) =
                (original.object.to_os_string(), original.copy.to_os_string())
            {
                touches
                    .entry(normalize(Path::new(&object)))
                    .or_default()
                    .push((index, Touch::Kept(PathBuf::from(copy))));
            }
        }
        if is_object_compile(record) {
            for object in written_objects(record)
                .iter()
                .filter_map(|output| final_object(output))
            {
                touches
                    .entry(normalize(&object))
                    .or_default()
                    .push((index, Touch::Compiled));
            }
        }
    }
    touches
}

/// The first record of the baseline's aftermath for `diff --build`: every
/// record from this index on came after the baseline. With `against`
/// (`--against A`), the baseline is build A as it ended: the records after
/// its last one. Without, it is the oldest state the kept originals hold:
/// the start of the build that kept the first original (found up to the
/// end of `patched`), or the start of `patched` itself when none did.
pub fn baseline_start(
    records: &[InvocationRecord],
    builds: &[Build],
    patched: &Build,
    against: Option<&Build>,
) -> usize {
    if let Some(against) = against {
        return against.last_index + 1;
    }
    let known = &records[..records.len().min(patched.last_index + 1)];
    known
        .iter()
        .find(|record| !record.originals.is_empty())
        .and_then(|first| builds.iter().find(|build| build.id == build_of(first)))
        .map_or(patched.first_index, |keeper| {
            keeper.first_index.min(patched.first_index)
        })
}

/// The original side of one object in `diff --build`: what it was at the
/// baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginalSide {
    /// The copy kept by the first record after the baseline that
    /// overwrote it (build `build`).
    Kept { copy: PathBuf, build: String },
    /// Not there at the baseline: first compiled after it by `build`,
    /// which kept no copy because there was nothing to keep (no compile of
    /// it before, and originals were being kept).
    New { build: String },
    /// Recompiled after the baseline by `build` without a copy kept,
    /// though `compiled_before` had compiled it: its original is lost.
    NotKept {
        build: String,
        compiled_before: String,
    },
    /// First compiled after the baseline by `build` with no copy kept, and
    /// the log holds nothing from before the baseline: a new object and one
    /// compiled before the log began look the same (one build holding both
    /// the baseline and the patch, as records without a build id do).
    NoHistory { build: String },
    /// No record ever kept an original and none is configured: the
    /// answer is `[livepatch] keep_originals`.
    NothingKept,
}

impl OriginalSide {
    /// Why there is no original to compare with, as `diff` says it; `None`
    /// when there is one, or the object is new.
    pub fn missing_reason(&self) -> Option<String> {
        match self {
            OriginalSide::Kept { .. } | OriginalSide::New { .. } => None,
            OriginalSide::NotKept {
                build,
                compiled_before,
            } => Some(format!(
                "no original to compare with: build `{build}` recompiled it without keeping a copy (build `{compiled_before}` had compiled it before)"
            )),
            OriginalSide::NoHistory { build } => Some(format!(
                "no original to compare with: build `{build}` kept no copy, and the log holds nothing from before it to tell a new object from an old one; give each build its own id (`secwrap run --build-id`)"
            )),
            OriginalSide::NothingKept => Some(
                "no original to compare with: set `[livepatch] keep_originals` in secwrap.toml before the patched build"
                    .to_string(),
            ),
        }
    }
}

/// The patched side of one object in `diff --build`: the object as the
/// patched build left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchedSide {
    /// The file as it is now: no later compile overwrote it.
    Current,
    /// A later build (`build`) overwrote it and kept this copy first.
    Kept { copy: PathBuf, build: String },
    /// A later build (`build`) overwrote it without keeping a copy: the
    /// patched build's object is gone.
    Overwritten { build: String },
}

impl PatchedSide {
    /// Why the object as build `patched` left it cannot be had, as `diff`
    /// says it; `None` when it can.
    pub fn missing_reason(&self, patched: &str) -> Option<String> {
        match self {
            PatchedSide::Current | PatchedSide::Kept { .. } => None,
            PatchedSide::Overwritten { build } => Some(format!(
                "build `{build}` recompiled it after build `{patched}` without keeping a copy: the object as `{patched}` left it is gone"
            )),
        }
    }
}

/// Both sides of one object the patched build compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptPair {
    /// Final name, normalised, absolute.
    pub object: PathBuf,
    pub original: OriginalSide,
    pub patched: PatchedSide,
}

/// Pairs every object build `patched` compiled (sorted, each once) with its
/// original: the tree as it stood at the baseline, each object's copy
/// kept by the first record from `baseline_start` on that recompiled or
/// kept it (the keep directory is per build, `DIR/<build>/`, so that copy
/// is the object as the baseline had it, however many builds came
/// between). `keeping` says whether originals were being kept at all
/// (configured now, or [`any_kept`]).
///
/// Two readings need the record's order. A compile with no copy kept
/// before a later copy *of the same build* is the build's first compile of
/// an object it then compiles again: one build holding both the baseline
/// and the patch (records without a build id), so the later copy is the
/// baseline's. A compile with no copy of an object the log never compiled
/// before is a new object (all its items added), when originals were being
/// kept (the copy is made whenever the object exists) and the log reaches
/// back before the baseline.
pub fn pair_with_originals(
    records: &[InvocationRecord],
    baseline_start: usize,
    patched: &Build,
    keeping: bool,
) -> Vec<KeptPair> {
    let until = records.len().min(patched.last_index + 1);
    let start = baseline_start.min(until);
    let touches = touches(records);
    let build_at = |index: usize| build_of(&records[index]).to_string();
    changed_objects(records, &[patched], Path::new(""))
        .into_iter()
        .map(|object| {
            let touched = touches.get(&object).map_or(&[][..], Vec::as_slice);
            let (before, after) =
                touched.split_at(touched.partition_point(|(index, _)| *index < start));
            let (between, later) =
                after.split_at(after.partition_point(|(index, _)| *index < until));
            KeptPair {
                original: original_side(before, between, &build_at, start, &patched.id, keeping),
                patched: patched_side(later, &build_at),
                object,
            }
        })
        .collect()
}

/// `before`, `between`: the object's touches before the baseline and
/// from it to the end of the patched build.
fn original_side(
    before: &[(usize, Touch)],
    between: &[(usize, Touch)],
    build_at: &dyn Fn(usize) -> String,
    start: usize,
    patched_id: &str,
    keeping: bool,
) -> OriginalSide {
    let first_copy = between.iter().find_map(|(index, touch)| match touch {
        Touch::Kept(copy) => Some((*index, copy)),
        Touch::Compiled => None,
    });
    let first_compile = between
        .iter()
        .find(|(_, touch)| *touch == Touch::Compiled)
        .map(|(index, _)| *index);
    match (first_copy, first_compile) {
        (Some((copy_index, copy)), compile)
            if compile.is_none_or(|compile_index| {
                copy_index <= compile_index || build_at(compile_index) == build_at(copy_index)
            }) =>
        {
            OriginalSide::Kept {
                copy: copy.clone(),
                build: build_at(copy_index),
            }
        }
        _ if !keeping => OriginalSide::NothingKept,
        (_, compile) => {
            // No compile after the baseline at all: the patched build's
            // own compile came before it, and nothing was kept for it.
            let build = compile.map_or_else(|| patched_id.to_string(), build_at);
            let compiled_before = before
                .iter()
                .rev()
                .find(|(_, touch)| *touch == Touch::Compiled);
            match compiled_before {
                Some((index, _)) => OriginalSide::NotKept {
                    build,
                    compiled_before: build_at(*index),
                },
                // Never compiled before, by a log that holds the baseline.
                None if start > 0 => OriginalSide::New { build },
                None => OriginalSide::NoHistory { build },
            }
        }
    }
}

/// `later`: the object's touches after the patched build.
fn patched_side(later: &[(usize, Touch)], build_at: &dyn Fn(usize) -> String) -> PatchedSide {
    match later.first() {
        Some((index, Touch::Kept(copy))) => PatchedSide::Kept {
            copy: copy.clone(),
            build: build_at(*index),
        },
        Some((index, Touch::Compiled)) => PatchedSide::Overwritten {
            build: build_at(*index),
        },
        None => PatchedSide::Current,
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    /// A successful compile record of build `build` writing `output` (no
    /// output when empty) after keeping `originals` (object, copy).
    fn compile(build: &str, output: &str, originals: serde_json::Value) -> InvocationRecord {
        serde_json::from_value(serde_json::json!({
            "version": 1, "secwrap": "0", "time": "t", "pid": 1, "build": build,
            "cwd": "/t", "compiler": "/usr/bin/gcc", "argv": [], "exec": [],
            "kind": "compile", "injected": [], "skipped": [], "inputs": [],
            "output": if output.is_empty() { serde_json::Value::Null } else { output.into() },
            "lto": false, "config": "C",
            "status": 0, "signal": null, "duration_ms": 0.0,
            "originals": originals,
        }))
        .expect("a record")
    }

    /// A compile of `/t/<name>.o` that kept `/k/<build>/<name>.o`.
    fn kept(build: &str, name: &str) -> InvocationRecord {
        compile(
            build,
            &format!("/t/{name}.o"),
            serde_json::json!([{"object": format!("/t/{name}.o"), "copy": format!("/k/{build}/{name}.o")}]),
        )
    }

    /// A compile of `/t/<name>.o` that kept nothing.
    fn unkept(build: &str, name: &str) -> InvocationRecord {
        compile(build, &format!("/t/{name}.o"), serde_json::json!([]))
    }

    fn copy(build: &str, name: &str) -> PathBuf {
        PathBuf::from(format!("/k/{build}/{name}.o"))
    }

    fn from(build: &str, name: &str) -> OriginalSide {
        OriginalSide::Kept {
            copy: copy(build, name),
            build: build.to_string(),
        }
    }

    fn later(build: &str, name: &str) -> PatchedSide {
        PatchedSide::Kept {
            copy: copy(build, name),
            build: build.to_string(),
        }
    }

    /// `diff --build patched [--against against]` over `records`: each
    /// object's name (`/t/<name>.o`) with its two sides.
    #[track_caller]
    fn check_pairs(
        records: &[InvocationRecord],
        patched: &str,
        against: Option<&str>,
        keeping: bool,
        expected: &[(&str, OriginalSide, PatchedSide)],
    ) {
        let builds = builds(records);
        let find = |id: &str| builds.iter().find(|build| build.id == id).expect(id);
        let start = baseline_start(records, &builds, find(patched), against.map(find));
        let pairs = pair_with_originals(records, start, find(patched), keeping);
        let expected: Vec<KeptPair> = expected
            .iter()
            .map(|(name, original, patched)| KeptPair {
                object: PathBuf::from(format!("/t/{name}.o")),
                original: original.clone(),
                patched: patched.clone(),
            })
            .collect();
        assert_eq!(pairs, expected, "--build {patched} --against {against:?}");
    }

    /// The iteration of issue 10: a baseline, then three patched builds;
    /// every build against the baseline whatever came between, and
    /// against each other.
    #[test]
    fn pairing_across_patched_builds() {
        use PatchedSide::Current;
        let records = [
            unkept("orig", "a"),
            unkept("orig", "b"),
            unkept("orig", "c"),
            // Patch 1 rebuilds a.o; patch 2 only a.o again; patch 3 a.o,
            // b.o for the first time, and a new n.o.
            kept("p1", "a"),
            kept("p2", "a"),
            kept("p3", "a"),
            kept("p3", "b"),
            unkept("p3", "n"),
        ];
        let new = |build: &str| OriginalSide::New {
            build: build.to_string(),
        };
        // Each patched build against the baseline, as patch 3 left the tree:
        // what p1 and p2 built is in the copies the next build kept.
        check_pairs(
            &records,
            "p1",
            None,
            true,
            &[("a", from("p1", "a"), later("p2", "a"))],
        );
        check_pairs(
            &records,
            "p2",
            None,
            true,
            &[("a", from("p1", "a"), later("p3", "a"))],
        );
        let against_orig = [
            ("a", from("p1", "a"), Current),
            ("b", from("p3", "b"), Current),
            ("n", new("p3"), Current),
        ];
        check_pairs(&records, "p3", None, true, &against_orig);
        // Naming the baseline build, or the first build that kept: the same.
        check_pairs(&records, "p3", Some("orig"), true, &against_orig);
        check_pairs(
            &records,
            "p2",
            Some("orig"),
            true,
            &[("a", from("p1", "a"), later("p3", "a"))],
        );
        // Against the previous patched build: its objects, as the next build
        // kept them.
        check_pairs(
            &records,
            "p3",
            Some("p2"),
            true,
            &[
                ("a", from("p3", "a"), Current),
                ("b", from("p3", "b"), Current),
                ("n", new("p3"), Current),
            ],
        );
        check_pairs(
            &records,
            "p2",
            Some("p1"),
            true,
            &[("a", from("p2", "a"), later("p3", "a"))],
        );
    }

    #[test]
    fn pairing_without_an_original() {
        use PatchedSide::Current;
        // Patch 1 rebuilt a.o before keep_originals was set; patch 2 kept b.o.
        let records = [
            unkept("orig", "a"),
            unkept("orig", "b"),
            unkept("p1", "a"),
            kept("p2", "b"),
        ];
        let not_kept = OriginalSide::NotKept {
            build: "p1".to_string(),
            compiled_before: "orig".to_string(),
        };
        check_pairs(&records, "p1", None, true, &[("a", not_kept, Current)]);
        check_pairs(
            &records,
            "p2",
            None,
            true,
            &[("b", from("p2", "b"), Current)],
        );
        // Nothing ever kept and nothing configured: say so, per object.
        let records = [unkept("orig", "a"), unkept("p1", "a")];
        check_pairs(
            &records,
            "p1",
            None,
            false,
            &[("a", OriginalSide::NothingKept, Current)],
        );
        // A later build overwrote the patched build's object without a copy.
        let records = [
            unkept("orig", "a"),
            kept("p1", "a"),
            unkept("p1", "a"),
            unkept("p2", "a"),
        ];
        let gone = PatchedSide::Overwritten {
            build: "p2".to_string(),
        };
        check_pairs(&records, "p1", None, true, &[("a", from("p1", "a"), gone)]);
    }

    #[test]
    fn pairing_new_objects() {
        use PatchedSide::Current;
        // n.o appears in patch 1 and is rebuilt by patch 2, which keeps
        // patch 1's n.o: against the baseline it is still new.
        let records = [
            unkept("orig", "a"),
            kept("p1", "a"),
            unkept("p1", "n"),
            kept("p2", "n"),
        ];
        let new_in_p1 = OriginalSide::New {
            build: "p1".to_string(),
        };
        check_pairs(
            &records,
            "p2",
            None,
            true,
            &[("n", new_in_p1.clone(), Current)],
        );
        check_pairs(
            &records,
            "p1",
            None,
            true,
            &[
                ("a", from("p1", "a"), Current),
                ("n", new_in_p1, later("p2", "n")),
            ],
        );
        // One build without an id holds the baseline and the patch: the copy
        // its second compile of a.o kept is the baseline's; b.o, compiled
        // once, may be new or the baseline's, and the log cannot tell.
        let records = [
            unkept(UNNAMED_BUILD, "a"),
            unkept(UNNAMED_BUILD, "b"),
            kept(UNNAMED_BUILD, "a"),
        ];
        check_pairs(
            &records,
            UNNAMED_BUILD,
            None,
            true,
            &[
                ("a", from(UNNAMED_BUILD, "a"), Current),
                (
                    "b",
                    OriginalSide::NoHistory {
                        build: UNNAMED_BUILD.to_string(),
                    },
                    Current,
                ),
            ],
        );
    }

    #[test]
    fn kept_copies_are_matched_by_final_normalised_name() {
        let non_utf8 = PathBuf::from(OsString::from_vec(b"/t/\xff.o".to_vec()));
        let record = compile(
            "p1",
            "/t/sub/../.a.o.tmp",
            serde_json::json!([
                // Normalised: the key is the object's final name.
                {"object": "/t/./sub/../a.o", "copy": "/k/a.o"},
                // Not UTF-8 (base64 of `/t/\xff.o`): matched byte for byte.
                {"object": {"bytes": "L3Qv/y5v"}, "copy": "/k/ff.o"},
                // Bad base64: no pair rather than a wrong one.
                {"object": {"bytes": "!"}, "copy": "/k/bad.o"},
            ]),
        );
        assert_eq!(
            touches(&[unkept("orig", "a"), record.clone()]),
            BTreeMap::from([
                (
                    PathBuf::from("/t/a.o"),
                    vec![
                        (0, Touch::Compiled),
                        (1, Touch::Kept(PathBuf::from("/k/a.o"))),
                        // The compile's own output, by its final name.
                        (1, Touch::Compiled),
                    ]
                ),
                (non_utf8, vec![(1, Touch::Kept(PathBuf::from("/k/ff.o")))]),
            ])
        );
        assert!(any_kept(&[unkept("orig", "a"), record]));
        assert!(!any_kept(&[unkept("orig", "a")]));
    }

    /// A compile record of build `build`: `inputs` to `output` (absolute),
    /// with its exit status and the shim's probe mark.
    fn compile_of(
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
            compile_of("b1", &["/t/a.c"], "/t/a.o", 0, false),
            // Marked by the shim.
            compile_of("b1", &["/t/conftest.c"], "/t/conftest.o", 0, true),
            // Unmarked (an older secwrap): the classifier judges it.
            compile_of(
                "b1",
                &["/x/arch/x86/efi/check.c"],
                "/x/arch/x86/efi/check.o",
                0,
                false,
            ),
            // Written by a probe and by a compile of the tree: an object.
            compile_of("b1", &["/t/b.c"], "/t/b.o", 0, false),
            compile_of("b1", &["/dev/null"], "/t/b.o", 0, false),
            // Not objects: failed, probe directory, another build.
            compile_of("b1", &["/t/c.c"], "/t/c.o", 1, false),
            compile_of("b1", &["/dev/null"], "/t/.tmp_12/tmp.o", 0, false),
            compile_of("b2", &["/t/d.c"], "/t/d.o", 0, false),
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
            compile_of("b1", &["/t/a.c"], "/t/a.o", 0, false),
            compile_of("b1", &["/t/c.c"], "/t/c.o", 1, false),
            compile_of("b1", &["/dev/null"], "/t/.tmp_1/tmp.o", 0, true),
            compile_of("b1", &["/dev/null"], "/t/.tmp_2/tmp.o", 1, false),
            compile_of("b1", &["-"], "/dev/null", 1, false),
        ];
        let all = builds(&records);
        assert_eq!(all.len(), 1);
        let tally = &all[0].tally;
        assert_eq!(tally.kinds, BTreeMap::from([("compile".to_string(), 2)]));
        assert_eq!((tally.injected, tally.failed), (2, 1));
        assert_eq!((tally.probes, tally.probes_failed), (3, 2));
        assert_eq!(tally.total(), 5);
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
