//! Which functions and data items changed between two builds of an object:
//! the first step of kpatch's and Xen livepatch-build-tools'
//! `create-diff-object`, which compares the original and the patched object
//! section by section. That only works when every item has its own section
//! (a change to one function in a shared `.text` moves every function after
//! it, and calls inside `.text` are resolved by the assembler, leaving no
//! relocation to compare), so an unsplit object is refused, as
//! `create-diff-object` refuses it ("expected bundled symbol").
//!
//! Items are matched by name and kind, so two `static` functions with the
//! same name in two objects never meet (each object is diffed on its own);
//! inside one object a repeated name (an `ld -r` output joining two files)
//! is matched by its occurrence. Compiler clones (`f.constprop.0`,
//! `f.cold`) are items of their own, named as the compiler names them. A
//! change confined to a cold part reports `f.cold` alone; the tool consuming
//! this still has to replace its parent `f`, the only way into it (kpatch
//! links the two as parent and child, klp-build counts the child's
//! instructions in the parent's checksum).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::livepatch::elf::{self, Item, ItemKind, ObjectError, ObjectItems};
use crate::record::OsText;
use crate::text::plural;

/// How an item differs between the original and the patched object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Changed,
    Added,
    Removed,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Changed => "changed",
            Change::Added => "added",
            Change::Removed => "removed",
        })
    }
}

/// One changed, added or removed item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemChange {
    pub name: String,
    pub kind: ItemKind,
    pub change: Change,
    /// The item's section in the patched object (the original one for a
    /// removed item).
    pub section: String,
}

/// The differences between two builds of one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectDiff {
    /// Sorted by name, then kind.
    pub changes: Vec<ItemChange>,
}

/// Why two objects cannot be compared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// An item lives in a shared section (`.text`, `.data`, `COMMON`).
    #[error("`{}` is not split: {}", path.display(), not_split_reason(symbol, *kind, section))]
    NotSplit {
        path: PathBuf,
        symbol: String,
        kind: ItemKind,
        section: String,
    },
    /// The files differ, but neither holds a function or data symbol: what
    /// changed cannot be named (assembly without `.type`, a binary blob
    /// made by `objcopy -I binary`).
    #[error(
        "`{}` differs, but holds no function or data symbol to compare",
        path.display()
    )]
    NoItems { path: PathBuf },
    /// `diff --build`: no pair to compare (no original kept, or the patched
    /// build's object overwritten since); `reason` says which.
    #[error("`{}`: {reason}", path.display())]
    Unpaired { path: PathBuf, reason: String },
}

/// Why an item in a shared section cannot be diffed, and the fix: a common
/// symbol needs `-fno-common`, as `-fdata-sections` cannot place it.
fn not_split_reason(symbol: &str, kind: ItemKind, section: &str) -> String {
    if section == "COMMON" {
        format!(
            "{kind} `{symbol}` is a common symbol, which -fdata-sections cannot place; compile it with -fno-common"
        )
    } else {
        format!(
            "{kind} `{symbol}` is in `{section}`; compile it with -ffunction-sections -fdata-sections"
        )
    }
}

/// Compares two builds of one object. Files that differ where neither has
/// an item are refused ([`DiffError::NoItems`]): "no change" would be a
/// guess.
pub fn diff_objects(original: &Path, patched: &Path) -> Result<ObjectDiff, DiffError> {
    let original_items = split_items(original)?;
    let patched_items = split_items(patched)?;
    let diff = compare(&original_items, &patched_items);
    if diff.changes.is_empty()
        && original_items.items.is_empty()
        && patched_items.items.is_empty()
        && !same_bytes(original, patched)?
    {
        return Err(DiffError::NoItems {
            path: patched.to_path_buf(),
        });
    }
    Ok(diff)
}

/// One object's result in a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectReport {
    /// How the object is named in the output: the patched path as given
    /// (two objects), relative to the trees (two trees), or to the
    /// working directory (`--build`).
    pub label: PathBuf,
    /// The file compared against; `None` for an object that is new (all
    /// its items added).
    pub original: Option<PathBuf>,
    /// The file compared; `None` for an object that is gone (all its
    /// items removed).
    pub patched: Option<PathBuf>,
    pub outcome: Result<ObjectDiff, DiffError>,
}

/// Files a report left out, by why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Byte-identical on both sides.
    pub identical: usize,
    /// Files that differ (or are on one side only) and are not C/C++
    /// objects compiled with the split flags, as the invocation log says
    /// (assembled `.S` files, `ld -r` aggregates, blobs, excluded or
    /// unrecorded compiles): livepatch tools build from the changed C
    /// objects, and these cannot be compared function by function.
    pub not_split_c: usize,
}

impl Skipped {
    pub fn total(&self) -> usize {
        self.identical + self.not_split_c
    }
}

/// What `secwrap diff` found: each object compared (unchanged ones
/// included, with no changes) or refused, sorted by label, and what it
/// skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffReport {
    pub objects: Vec<ObjectReport>,
    pub skipped: Skipped,
}

impl DiffReport {
    /// The exit status: 0 when nothing differs, 1 when something does, 2
    /// when an object that differs could not be compared (as diff(1):
    /// trouble wins over differences).
    pub fn status(&self) -> i32 {
        if self.objects.iter().any(|object| object.outcome.is_err()) {
            2
        } else if self
            .objects
            .iter()
            .any(|object| matches!(&object.outcome, Ok(diff) if !diff.changes.is_empty()))
        {
            1
        } else {
            0
        }
    }
}

/// Two objects named on the command line: compared whatever they are
/// (identical files included), so that a file that is not a split object
/// is refused with the reason.
pub fn diff_pair(original: &Path, patched: &Path) -> DiffReport {
    DiffReport {
        objects: vec![ObjectReport {
            label: patched.to_path_buf(),
            original: Some(original.to_path_buf()),
            patched: Some(patched.to_path_buf()),
            outcome: diff_objects(original, patched),
        }],
        skipped: Skipped::default(),
    }
}

/// What the invocation log says about an object (by its final name,
/// normalised, absolute): whether its latest write was a C/C++ compile
/// with the split flags; `None` for an object the log does not know
/// (every object, without a log). A lookup rather than a map of its own,
/// so that the log's map of 40,000 objects is not copied into another.
pub type RecordedObjects<'a> = dyn Fn(&Path) -> Option<bool> + 'a;

/// Over two directory trees: every `*.o` under either, paired by relative
/// path. As livepatch-build-tools diffs only the objects a patch changed:
///
/// - byte-identical files are skipped (compared first: cheap);
/// - with a log that knows the trees (`recorded` names a file of either),
///   files whose latest record is not a C/C++ compile with the split flags
///   are skipped;
/// - without one, every file that differs is compared, and one that cannot
///   be (not split, not ELF, no symbols) is refused.
///
/// An object on one side only has all its items added or removed, and is
/// not refused when unsplit: nothing is compared, and livepatch-build-tools
/// copies such objects as they are. A directory that cannot be walked is
/// reported as a refusal under its own path.
pub fn diff_trees(
    original_dir: &Path,
    patched_dir: &Path,
    recorded: &RecordedObjects<'_>,
) -> DiffReport {
    let mut report = DiffReport::default();
    let mut relative_paths: BTreeMap<PathBuf, Sides> = BTreeMap::new();
    for (dir, side) in [(original_dir, Side::Original), (patched_dir, Side::Patched)] {
        let mut found = Vec::new();
        let walked = collect_objects(dir, Path::new(""), &mut found);
        for relative in found {
            relative_paths.entry(relative).or_default().add(side);
        }
        if let Err(error) = walked {
            report.objects.push(ObjectReport {
                label: dir.to_path_buf(),
                original: None,
                patched: None,
                outcome: Err(DiffError::Object(error)),
            });
        }
    }
    if !report.objects.is_empty() {
        return report;
    }
    // The records name objects by their physical, absolute path (the
    // compile's working directory as getcwd gave it).
    let physical = |dir: &Path| std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let (original_physical, patched_physical) = (physical(original_dir), physical(patched_dir));
    let recorded_as = |relative: &Path| {
        [&patched_physical, &original_physical]
            .iter()
            .find_map(|dir| recorded(&crate::paths::normalize(&dir.join(relative))))
    };
    // A log that knows no file of either tree is about another tree.
    let log_knows_trees = relative_paths
        .keys()
        .any(|relative| recorded_as(relative).is_some());
    for (relative, sides) in relative_paths {
        let original = original_dir.join(&relative);
        let patched = patched_dir.join(&relative);
        let (on_original, on_patched) = (sides.original, sides.patched);
        if on_original && on_patched {
            match same_bytes(&original, &patched) {
                Ok(true) => {
                    report.skipped.identical += 1;
                    continue;
                }
                Ok(false) => {}
                Err(error) => {
                    report.objects.push(ObjectReport {
                        label: relative,
                        original: Some(original),
                        patched: Some(patched),
                        outcome: Err(error),
                    });
                    continue;
                }
            }
        }
        if log_knows_trees && recorded_as(&relative) != Some(true) {
            report.skipped.not_split_c += 1;
            continue;
        }
        let (outcome, original, patched) = match (on_original, on_patched) {
            (true, true) => (
                diff_objects(&original, &patched),
                Some(original),
                Some(patched),
            ),
            (false, true) => (all_items(&patched, Change::Added), None, Some(patched)),
            (true, false) => (all_items(&original, Change::Removed), Some(original), None),
            (false, false) => continue,
        };
        report.objects.push(ObjectReport {
            label: relative,
            original,
            patched,
            outcome,
        });
    }
    report
}

/// One object a build compiled, with what to compare it with
/// (`secwrap diff --build`, from `record::history::pair_with_originals`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptObject {
    pub label: PathBuf,
    /// The kept original; `None` for a new object.
    pub original: Option<PathBuf>,
    /// The object as the build left it (the file, or the copy a later
    /// build kept).
    pub patched: PathBuf,
    /// Why there is nothing to compare, when there is not.
    pub unpaired: Option<String>,
}

/// Over one build: each object it compiled against its original (kept
/// before a compile overwrote it, `[livepatch] keep_originals`); an object
/// with no original is new, all its items added; one with no pair is
/// refused with the reason. Byte-identical pairs are skipped.
pub fn diff_kept(objects: &[KeptObject]) -> DiffReport {
    let mut report = DiffReport::default();
    for object in objects {
        let outcome = match (&object.unpaired, &object.original) {
            (Some(reason), _) => Err(DiffError::Unpaired {
                path: object.label.clone(),
                reason: reason.clone(),
            }),
            (None, Some(original)) => match same_bytes(original, &object.patched) {
                Ok(true) => {
                    report.skipped.identical += 1;
                    continue;
                }
                Ok(false) => diff_objects(original, &object.patched),
                Err(error) => Err(error),
            },
            (None, None) => all_items(&object.patched, Change::Added),
        };
        report.objects.push(ObjectReport {
            label: object.label.clone(),
            original: object.original.clone(),
            patched: Some(object.patched.clone()),
            outcome,
        });
    }
    report
}

/// What `secwrap diff` prints: one line per change on stdout, such as
/// ``core/sched.o: changed function `sched_pick` ``; one `secwrap: error:`
/// line per refused object on stderr, then one line counting the skipped
/// files (``secwrap: skipped 111 files: 95 identical, 16 not split C
/// objects``) when there are any. Returns (stdout,
/// stderr); the status is [`DiffReport::status`].
pub fn render(report: &DiffReport) -> (String, String) {
    let mut stdout = String::new();
    let mut stderr = String::new();
    for object in &report.objects {
        match &object.outcome {
            Ok(diff) => {
                for change in &diff.changes {
                    stdout.push_str(&format!(
                        "{}: {} {} `{}`\n",
                        object.label.display(),
                        change.change,
                        change.kind,
                        change.name
                    ));
                }
            }
            Err(error) => stderr.push_str(&format!("secwrap: error: {error}\n")),
        }
    }
    let skipped = &report.skipped;
    if skipped.total() > 0 {
        let mut parts = Vec::new();
        if skipped.identical > 0 {
            parts.push(format!("{} identical", skipped.identical));
        }
        if skipped.not_split_c > 0 {
            parts.push(plural(skipped.not_split_c, "not split C object"));
        }
        stderr.push_str(&format!(
            "secwrap: skipped {}: {}\n",
            plural(skipped.total(), "file"),
            parts.join(", ")
        ));
    }
    (stdout, stderr)
}

/// `secwrap diff --json`: the report as one JSON document on one line
/// (README, "Diff", names the fields):
///
/// ```json
/// {"objects":[{"path":"b.o","original":"orig/p1/b.o","patched":"b.o",
///   "functions":{"changed":["fb"],"added":[],"removed":[]},
///   "data":{"changed":[],"added":[],"removed":[]}}],
///  "skipped":{"identical":2,"not_split_c":0},
///  "status":1}
/// ```
///
/// A refused object has `error` (the message of its `secwrap: error:`
/// line) instead of `functions` and `data`. Paths are strings, or
/// `{"bytes": "<base64>"}` when not UTF-8, as in the record.
pub fn render_json(report: &DiffReport) -> String {
    let path = |path: &Path| OsText::new(path.as_os_str());
    let objects = report
        .objects
        .iter()
        .map(|object| {
            let (functions, data, error) = match &object.outcome {
                Ok(diff) => (
                    Some(JsonChanges::of_kind(diff, ItemKind::Function)),
                    Some(JsonChanges::of_kind(diff, ItemKind::Data)),
                    None,
                ),
                Err(error) => (None, None, Some(error.to_string())),
            };
            JsonObject {
                path: path(&object.label),
                original: object.original.as_deref().map(path),
                patched: object.patched.as_deref().map(path),
                functions,
                data,
                error,
            }
        })
        .collect();
    let document = JsonReport {
        objects,
        skipped: JsonSkipped {
            identical: report.skipped.identical,
            not_split_c: report.skipped.not_split_c,
        },
        status: report.status(),
    };
    // Plain data with string keys: serialising cannot fail.
    let mut line = serde_json::to_string(&document).unwrap_or_default();
    line.push('\n');
    line
}

/// The `--json` document; field order as README lists them.
#[derive(Serialize)]
struct JsonReport<'a> {
    objects: Vec<JsonObject<'a>>,
    skipped: JsonSkipped,
    status: i32,
}

#[derive(Serialize)]
struct JsonObject<'a> {
    path: OsText,
    original: Option<OsText>,
    patched: Option<OsText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    functions: Option<JsonChanges<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonChanges<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct JsonSkipped {
    identical: usize,
    not_split_c: usize,
}

/// The names of one kind's items by change, sorted (a name repeated in an
/// `ld -r` output repeats).
#[derive(Serialize)]
struct JsonChanges<'a> {
    changed: Vec<&'a str>,
    added: Vec<&'a str>,
    removed: Vec<&'a str>,
}

impl<'a> JsonChanges<'a> {
    fn of_kind(diff: &'a ObjectDiff, kind: ItemKind) -> JsonChanges<'a> {
        let names = |wanted: Change| -> Vec<&'a str> {
            diff.changes
                .iter()
                .filter(|change| change.kind == kind && change.change == wanted)
                .map(|change| change.name.as_str())
                .collect()
        };
        JsonChanges {
            changed: names(Change::Changed),
            added: names(Change::Added),
            removed: names(Change::Removed),
        }
    }
}

/// Whether two files hold the same bytes: sizes first (from the open
/// files), then one file under two names (hard links, as `cp -l` trees
/// share), then the contents a block at a time, stopping at the first
/// difference. A tree diff runs this on every pair, most of them
/// identical, so it opens each file once and reads it once.
fn same_bytes(original: &Path, patched: &Path) -> Result<bool, DiffError> {
    use std::os::unix::fs::MetadataExt;
    let read_error = |path: &Path, error: std::io::Error| {
        DiffError::Object(ObjectError::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    };
    let open = |path: &Path| {
        std::fs::File::open(path)
            .and_then(|file| Ok((file.metadata()?, file)))
            .map_err(|error| read_error(path, error))
    };
    // A file that cannot be opened is an error only when its size does
    // not already tell the two apart, as when sizes were compared first.
    let unopened = |error: DiffError| {
        let length = |path: &Path| {
            std::fs::metadata(path)
                .map(|metadata| metadata.len())
                .map_err(|error| read_error(path, error))
        };
        if length(original)? != length(patched)? {
            return Ok(false);
        }
        Err(error)
    };
    let (original_metadata, mut original_file) = match open(original) {
        Ok(opened) => opened,
        Err(error) => return unopened(error),
    };
    let (patched_metadata, mut patched_file) = match open(patched) {
        Ok(opened) => opened,
        Err(error) => return unopened(error),
    };
    if original_metadata.len() != patched_metadata.len() {
        return Ok(false);
    }
    if (original_metadata.dev(), original_metadata.ino())
        == (patched_metadata.dev(), patched_metadata.ino())
    {
        return Ok(true);
    }
    const BLOCK: usize = 64 * 1024;
    let length = usize::try_from(original_metadata.len()).unwrap_or(usize::MAX);
    let mut original_block = vec![0; length.min(BLOCK)];
    let mut patched_block = vec![0; length.min(BLOCK)];
    let mut left = length;
    while left > 0 {
        let size = left.min(BLOCK);
        let original_read = fill(&mut original_file, &mut original_block[..size])
            .map_err(|error| read_error(original, error))?;
        let patched_read = fill(&mut patched_file, &mut patched_block[..size])
            .map_err(|error| read_error(patched, error))?;
        if original_block[..original_read] != patched_block[..patched_read] {
            return Ok(false);
        }
        if original_read < size {
            // Both shrank alike since they were opened: the same bytes.
            return Ok(true);
        }
        left -= size;
    }
    Ok(true)
}

/// Reads into `buffer` until it is full or the file ends; how much it read.
fn fill(file: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Every item of an object on one side only: added or removed. One with
/// no item at all is refused as [`DiffError::NoItems`]: it is a change that
/// cannot be named, not "no change".
fn all_items(path: &Path, change: Change) -> Result<ObjectDiff, DiffError> {
    let items = elf::read_items(path)?;
    if items.items.is_empty() {
        return Err(DiffError::NoItems {
            path: path.to_path_buf(),
        });
    }
    Ok(one_sided(&items, change))
}

/// The items of `path`, refusing an object with an item in a shared section.
fn split_items(path: &Path) -> Result<ObjectItems, DiffError> {
    let items = elf::read_items(path)?;
    if let Some(unsplit) = items.unsplit.first() {
        return Err(DiffError::NotSplit {
            path: path.to_path_buf(),
            symbol: unsplit.name.clone(),
            kind: unsplit.kind,
            section: unsplit.section.clone(),
        });
    }
    Ok(items)
}

/// Items keyed by (name, kind, occurrence of that name and kind).
fn keyed(items: &ObjectItems) -> BTreeMap<(&str, ItemKind, usize), &Item> {
    let mut seen: BTreeMap<(&str, ItemKind), usize> = BTreeMap::new();
    let mut keyed = BTreeMap::new();
    for item in &items.items {
        let occurrence = seen.entry((item.name.as_str(), item.kind)).or_default();
        keyed.insert((item.name.as_str(), item.kind, *occurrence), item);
        *occurrence += 1;
    }
    keyed
}

/// Whether an item differs between the builds: its placement, binding,
/// size, bytes (size alone for `SHT_NOBITS`), section size or normalized
/// relocations.
pub fn item_differs(original: &Item, patched: &Item) -> bool {
    original.section != patched.section
        || original.local != patched.local
        || original.size != patched.size
        || original.section_size != patched.section_size
        || original.bytes != patched.bytes
        || original.relocations != patched.relocations
}

fn compare(original: &ObjectItems, patched: &ObjectItems) -> ObjectDiff {
    let original_items = keyed(original);
    let patched_items = keyed(patched);
    let mut changes = Vec::new();
    for (key, patched_item) in &patched_items {
        match original_items.get(key) {
            Some(original_item) if item_differs(original_item, patched_item) => {
                changes.push(change_of(patched_item, Change::Changed));
            }
            Some(_) => {}
            None => changes.push(change_of(patched_item, Change::Added)),
        }
    }
    for (key, original_item) in &original_items {
        if !patched_items.contains_key(key) {
            changes.push(change_of(original_item, Change::Removed));
        }
    }
    sort_changes(&mut changes);
    ObjectDiff { changes }
}

fn one_sided(items: &ObjectItems, change: Change) -> ObjectDiff {
    let mut changes: Vec<ItemChange> = items
        .items
        .iter()
        .map(|item| change_of(item, change))
        .collect();
    sort_changes(&mut changes);
    ObjectDiff { changes }
}

fn change_of(item: &Item, change: Change) -> ItemChange {
    ItemChange {
        name: item.name.clone(),
        kind: item.kind,
        change,
        section: item.section.clone(),
    }
}

fn sort_changes(changes: &mut [ItemChange]) {
    changes.sort_by(|left, right| {
        (&left.name, left.kind, left.change).cmp(&(&right.name, right.kind, right.change))
    });
}

/// One of the two trees `diff` compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Original,
    Patched,
}

/// The trees a relative path is an object file in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sides {
    original: bool,
    patched: bool,
}

impl Sides {
    fn add(&mut self, side: Side) {
        match side {
            Side::Original => self.original = true,
            Side::Patched => self.patched = true,
        }
    }
}

/// Every `*.o` file under `root/relative`, relative to `root`. Symlinked
/// directories are not entered (as `find` without `-L`), so a link loop
/// cannot hang the walk; a symlink to an object file counts. The walk's
/// own file types answer for regular files; only a symlink costs a `stat`.
fn collect_objects(
    root: &Path,
    relative: &Path,
    found: &mut Vec<PathBuf>,
) -> Result<(), ObjectError> {
    let dir = root.join(relative);
    let io_error = |error: std::io::Error| ObjectError::Io {
        path: dir.clone(),
        message: error.to_string(),
    };
    for entry in std::fs::read_dir(&dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let file_type = entry.file_type().map_err(io_error)?;
        let entry_relative = relative.join(entry.file_name());
        if file_type.is_dir() {
            collect_objects(root, &entry_relative, found)?;
        } else if entry_relative
            .extension()
            .is_some_and(|extension| extension == "o")
            && (file_type.is_file()
                || (file_type.is_symlink() && root.join(&entry_relative).is_file()))
        {
            found.push(entry_relative);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, kind: ItemKind, change: Change) -> ItemChange {
        ItemChange {
            name: name.to_string(),
            kind,
            change,
            section: format!(".text.{name}"),
        }
    }

    /// A report of `results` (label, outcome), each compared with
    /// `orig/<label>`, and `skipped`.
    fn report(results: &[(&str, Result<ObjectDiff, DiffError>)], skipped: Skipped) -> DiffReport {
        DiffReport {
            objects: results
                .iter()
                .map(|(label, outcome)| ObjectReport {
                    label: PathBuf::from(label),
                    original: Some(Path::new("orig").join(label)),
                    patched: Some(PathBuf::from(label)),
                    outcome: outcome.clone(),
                })
                .collect(),
            skipped,
        }
    }

    #[track_caller]
    fn check_render(report: &DiffReport, stdout: &str, stderr: &str, status: i32) {
        assert_eq!(render(report), (stdout.to_string(), stderr.to_string()));
        assert_eq!(report.status(), status);
    }

    /// An item of an object: its name, kind and a body standing for its
    /// bytes.
    fn item(name: &str, kind: ItemKind, body: &[u8]) -> Item {
        Item {
            name: name.to_string(),
            kind,
            section: format!(".text.{name}"),
            local: true,
            placement: crate::livepatch::elf::Placement::OwnSection,
            size: body.len() as u64,
            section_size: body.len() as u64,
            bytes: Some(body.to_vec()),
            relocations: Vec::new(),
        }
    }

    fn object(items: Vec<Item>) -> ObjectItems {
        ObjectItems {
            path: PathBuf::from("x.o"),
            items,
            unsplit: Vec::new(),
        }
    }

    #[track_caller]
    fn check_compare(original: Vec<Item>, patched: Vec<Item>, expected: &[&str]) {
        let diff = compare(&object(original), &object(patched));
        let rendered: Vec<String> = diff
            .changes
            .iter()
            .map(|change| format!("{} {} {}", change.change, change.kind, change.name))
            .collect();
        assert_eq!(rendered, expected);
    }

    #[test]
    fn compare_table() {
        use ItemKind::{Data, Function};
        check_compare(
            vec![item("f", Function, b"a")],
            vec![item("f", Function, b"a")],
            &[],
        );
        check_compare(
            vec![item("f", Function, b"a")],
            vec![item("f", Function, b"b")],
            &["changed function f"],
        );
        // Same name, different kinds: two items.
        check_compare(
            vec![item("v", Function, b"a")],
            vec![item("v", Function, b"a"), item("v", Data, b"1")],
            &["added data v"],
        );
        // A repeated local name (an `ld -r` output joining two files) is
        // matched by occurrence: only the second one changed.
        check_compare(
            vec![
                item("validate", Function, b"a"),
                item("validate", Function, b"b"),
            ],
            vec![
                item("validate", Function, b"a"),
                item("validate", Function, b"c"),
            ],
            &["changed function validate"],
        );
        check_compare(
            vec![
                item("validate", Function, b"a"),
                item("validate", Function, b"b"),
            ],
            vec![item("validate", Function, b"a")],
            &["removed function validate"],
        );
        // Sorted by name whatever the symbol-table order.
        check_compare(
            vec![item("b", Function, b"1"), item("z", Function, b"1")],
            vec![item("z", Function, b"2"), item("a", Function, b"1")],
            &[
                "added function a",
                "removed function b",
                "changed function z",
            ],
        );
    }

    #[test]
    fn item_differs_table() {
        let base = item("f", ItemKind::Function, b"ab");
        let mut moved = base.clone();
        moved.section = ".text.unlikely.f".to_string();
        let mut made_global = base.clone();
        made_global.local = false;
        let mut grown_section = base.clone();
        grown_section.section_size = 4;
        let mut zeroed = base.clone();
        zeroed.bytes = None;
        let mut relocated = base.clone();
        relocated
            .relocations
            .push(crate::livepatch::elf::NormalizedRelocation {
                offset: 0,
                flags: object::RelocationFlags::Elf {
                    r_type: object::elf::R_X86_64_PC32,
                },
                target: crate::livepatch::elf::NormalizedTarget::Symbol("g".to_string()),
                addend: -4,
            });
        let table = [
            (&base, false),
            (&moved, true),
            (&made_global, true),
            (&grown_section, true),
            (&zeroed, true),
            (&relocated, true),
        ];
        for (patched, expected) in table {
            assert_eq!(item_differs(&base, patched), expected, "{patched:?}");
        }
    }

    #[test]
    fn render_table() {
        let changed = ObjectDiff {
            changes: vec![
                change("f", ItemKind::Function, Change::Changed),
                change("g", ItemKind::Function, Change::Removed),
                change("v", ItemKind::Data, Change::Added),
            ],
        };
        let refused = DiffError::NotSplit {
            path: PathBuf::from("b.o"),
            symbol: "f".to_string(),
            kind: ItemKind::Function,
            section: ".text".to_string(),
        };
        let common = DiffError::NotSplit {
            path: PathBuf::from("c.o"),
            symbol: "v".to_string(),
            kind: ItemKind::Data,
            section: "COMMON".to_string(),
        };
        let none = Skipped::default();
        check_render(&report(&[], none), "", "", 0);
        check_render(
            &report(&[("a.o", Ok(ObjectDiff::default()))], none),
            "",
            "",
            0,
        );
        check_render(
            &report(&[("dir/a.o", Ok(changed.clone()))], none),
            "dir/a.o: changed function `f`\ndir/a.o: removed function `g`\ndir/a.o: added data `v`\n",
            "",
            1,
        );
        check_render(
            &report(
                &[
                    ("a.o", Ok(changed.clone())),
                    ("b.o", Err(refused.clone())),
                    ("c.o", Err(common)),
                ],
                none,
            ),
            "a.o: changed function `f`\na.o: removed function `g`\na.o: added data `v`\n",
            "secwrap: error: `b.o` is not split: function `f` is in `.text`; compile it with -ffunction-sections -fdata-sections\n\
             secwrap: error: `c.o` is not split: data `v` is a common symbol, which -fdata-sections cannot place; compile it with -fno-common\n",
            2,
        );
        // Skipped files: one line, after the refusals, naming what is there.
        let identical = Skipped {
            identical: 1,
            not_split_c: 0,
        };
        check_render(
            &report(&[], identical),
            "",
            "secwrap: skipped 1 file: 1 identical\n",
            0,
        );
        let both = Skipped {
            identical: 95,
            not_split_c: 16,
        };
        check_render(
            &report(&[("b.o", Err(refused))], both),
            "",
            "secwrap: error: `b.o` is not split: function `f` is in `.text`; compile it with -ffunction-sections -fdata-sections\n\
             secwrap: skipped 111 files: 95 identical, 16 not split C objects\n",
            2,
        );
        check_render(
            &report(
                &[],
                Skipped {
                    identical: 0,
                    not_split_c: 2,
                },
            ),
            "",
            "secwrap: skipped 2 files: 2 not split C objects\n",
            0,
        );
        let unpaired = DiffError::Unpaired {
            path: PathBuf::from("d.o"),
            reason: "no original to compare with".to_string(),
        };
        check_render(
            &report(&[("a.o", Ok(changed)), ("d.o", Err(unpaired))], none),
            "a.o: changed function `f`\na.o: removed function `g`\na.o: added data `v`\n",
            "secwrap: error: `d.o`: no original to compare with\n",
            2,
        );
    }

    #[test]
    fn json_document() {
        let changed = ObjectDiff {
            changes: vec![
                change("f", ItemKind::Function, Change::Changed),
                change("g", ItemKind::Function, Change::Removed),
                change("v", ItemKind::Data, Change::Added),
                change("w", ItemKind::Data, Change::Changed),
            ],
        };
        let mut report = report(
            &[
                ("a.o", Ok(changed)),
                ("same.o", Ok(ObjectDiff::default())),
                (
                    "d.o",
                    Err(DiffError::Unpaired {
                        path: PathBuf::from("d.o"),
                        reason: "no original to compare with".to_string(),
                    }),
                ),
            ],
            Skipped {
                identical: 3,
                not_split_c: 1,
            },
        );
        // A new object: no original; a path that is not UTF-8: base64.
        report.objects[1].original = None;
        report.objects[1].label = PathBuf::from(std::ffi::OsString::from(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"\xff.o"),
        ));
        let expected = concat!(
            r#"{"objects":["#,
            r#"{"path":"a.o","original":"orig/a.o","patched":"a.o","functions":{"changed":["f"],"added":[],"removed":["g"]},"data":{"changed":["w"],"added":["v"],"removed":[]}},"#,
            r#"{"path":{"bytes":"/y5v"},"original":null,"patched":"same.o","functions":{"changed":[],"added":[],"removed":[]},"data":{"changed":[],"added":[],"removed":[]}},"#,
            r#"{"path":"d.o","original":"orig/d.o","patched":"d.o","error":"`d.o`: no original to compare with"}"#,
            r#"],"skipped":{"identical":3,"not_split_c":1},"status":2}"#,
            "\n"
        );
        assert_eq!(render_json(&report), expected);
    }
}
