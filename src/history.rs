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
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::args::{Arg, DriverArgs};
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
        *build.kinds.entry(record.kind.clone()).or_default() += 1;
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
    record.kind == "compile"
        && record.status == Some(0)
        && !record
            .inputs
            .iter()
            .any(|input| matches!(input, OsText::Text(text) if text == "/dev/null" || text == "-"))
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

/// The object that ends up in the link for a compile output: `.tmp_foo.o`
/// and `.foo.o.tmp` become `foo.o`. `None` for temporaries that are not
/// objects of the tree (recordmcount's `.tmp_mc_*`, probes in `.tmp_*/`
/// directories) and for outputs that are not objects.
pub fn final_object(output: &Path) -> Option<PathBuf> {
    let name = output.file_name()?.as_bytes();
    let in_probe_dir = output.parent().is_some_and(|dir| {
        dir.file_name()
            .is_some_and(|dir| dir.as_bytes().starts_with(b".tmp_"))
    });
    if in_probe_dir || name.starts_with(b".tmp_mc_") {
        return None;
    }
    let final_name: &[u8] = if let Some(rest) = name.strip_prefix(b".tmp_") {
        rest
    } else if let Some(rest) = name
        .strip_prefix(b".")
        .and_then(|rest| rest.strip_suffix(b".tmp"))
    {
        rest
    } else {
        name
    };
    final_name
        .ends_with(b".o")
        .then(|| output.with_file_name(OsStr::from_bytes(final_name)))
}

/// `path` without `.` and with `..` folded, lexically (no symlinks are
/// followed: the build's own view of its paths is what livepatch tools use).
pub fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push("..");
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `path` relative to `root` when it is inside it, else absolute.
pub fn relative_to(path: &Path, root: &Path) -> PathBuf {
    let path = normalize(path);
    let root = normalize(root);
    path.strip_prefix(&root)
        .map_or(path.clone(), Path::to_path_buf)
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
                .any(|skipped| skipped.flag == flag && skipped.reason == "present")
    })
}

/// One `compile_commands.json` entry (the Clang JSON Compilation Database
/// format, with `arguments` and `output`, as Bear writes it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileCommand {
    pub directory: String,
    pub file: String,
    pub arguments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// Kinds that compile a source, and so have entries (Bear's rule: `-c`,
/// `-S`, `-MD`, `-fsyntax-only`, compile-and-link and assembly do; `-E`,
/// `-M`, links and info queries do not).
const EXPORTED_KINDS: &[&str] = &["compile", "compile_and_link", "syntax_check", "assemble"];

/// Entries for every source compiled by `records`, one per source, with
/// the arguments as run (injected flags included, launcher dropped, other
/// sources of a multi-source job removed). Identical entries are dropped;
/// two different compiles of one source both stay (Bear 3.1.1 keeps only
/// the first per file and output, which hides the second command line).
pub fn compile_commands(records: &[InvocationRecord]) -> Vec<CompileCommand> {
    let mut entries: Vec<CompileCommand> = Vec::new();
    for record in records
        .iter()
        .filter(|record| EXPORTED_KINDS.contains(&record.kind.as_str()))
    {
        let text = |value: &OsText| value.display();
        let directory = text(&record.cwd);
        let mut exec: Vec<OsString> = record
            .exec
            .iter()
            .filter_map(OsText::to_os_string)
            .collect();
        if record.launcher.is_some() && exec.len() > 1 {
            exec.remove(0);
        }
        let Some((program, args)) = exec.split_first() else {
            continue;
        };
        let sources: Vec<(usize, &OsStr)> = DriverArgs::new(args)
            .filter_map(|(index, arg)| match arg {
                Arg::Input(path) if is_source(path) => Some((index, path)),
                _ => None,
            })
            .collect();
        let output = record.output.as_ref().map(text);
        for (index, source) in &sources {
            let mut arguments = vec![program.to_string_lossy().into_owned()];
            arguments.extend(
                args.iter()
                    .enumerate()
                    .filter(|(other, _)| {
                        *other == *index
                            || !sources
                                .iter()
                                .any(|(source_index, _)| source_index == other)
                    })
                    .map(|(_, arg)| arg.to_string_lossy().into_owned()),
            );
            let file = normalize(&Path::new(&directory).join(source))
                .to_string_lossy()
                .into_owned();
            let entry = CompileCommand {
                directory: directory.clone(),
                file,
                arguments,
                output: output.clone(),
            };
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
    }
    entries
}

/// Merges `new` into `old`: a new entry replaces an old one for the same
/// directory, file and output (the same object rebuilt), others are kept.
pub fn merge_compile_commands(
    old: Vec<CompileCommand>,
    new: Vec<CompileCommand>,
) -> Vec<CompileCommand> {
    let mut merged: Vec<CompileCommand> = old
        .into_iter()
        .filter(|old| {
            !new.iter().any(|new| {
                new.directory == old.directory && new.file == old.file && new.output == old.output
            })
        })
        .collect();
    merged.extend(new);
    merged
}

fn is_source(path: &OsStr) -> bool {
    use crate::classify::Language;
    path != "-" && Language::from_path(path) != Language::LinkerInput
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_final(output: &str, expected: Option<&str>) {
        assert_eq!(
            final_object(Path::new(output)),
            expected.map(PathBuf::from),
            "{output}"
        );
    }

    #[test]
    fn final_objects() {
        check_final("/t/core/foo.o", Some("/t/core/foo.o"));
        check_final("/t/core/.tmp_foo.o", Some("/t/core/foo.o"));
        check_final(
            "/t/xen/arch/x86/.setup.o.tmp",
            Some("/t/xen/arch/x86/setup.o"),
        );
        check_final("/t/core/.tmp_mc_foo.o", None);
        check_final("/t/.tmp_1234/tmp.o", None);
        check_final("/t/core/foo.s", None);
        check_final("/t/a.out", None);
    }

    #[test]
    fn normalizes_lexically() {
        assert_eq!(
            normalize(Path::new("/t/xen/./arch/../common/a.o")),
            Path::new("/t/xen/common/a.o")
        );
        assert_eq!(
            relative_to(Path::new("/t/xen/common/a.o"), Path::new("/t/xen/")),
            Path::new("common/a.o")
        );
        assert_eq!(
            relative_to(Path::new("/elsewhere/a.o"), Path::new("/t/xen")),
            Path::new("/elsewhere/a.o")
        );
    }
}
