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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::livepatch::elf::{self, Item, ItemKind, ObjectError, ObjectItems};

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

/// Compares two builds of one object.
pub fn diff_objects(original: &Path, patched: &Path) -> Result<ObjectDiff, DiffError> {
    let original = split_items(original)?;
    let patched = split_items(patched)?;
    Ok(compare(&original, &patched))
}

/// Over two directory trees: every `*.o` under `patched_dir` paired with the
/// same relative path under `original_dir`. An object on one side only has
/// all its items added or removed, and is not refused when unsplit: nothing
/// is compared, and livepatch-build-tools copies such objects as they are.
/// Unchanged objects are left out. Sorted by relative path. A directory that
/// cannot be walked is reported as an error entry under its own path.
pub fn diff_trees(
    original_dir: &Path,
    patched_dir: &Path,
) -> Vec<(PathBuf, Result<ObjectDiff, DiffError>)> {
    let mut results = Vec::new();
    let mut relative_paths = BTreeSet::new();
    for dir in [original_dir, patched_dir] {
        if let Err(error) = collect_objects(dir, Path::new(""), &mut relative_paths) {
            results.push((dir.to_path_buf(), Err(DiffError::Object(error))));
        }
    }
    if !results.is_empty() {
        return results;
    }
    for relative in relative_paths {
        let original = original_dir.join(&relative);
        let patched = patched_dir.join(&relative);
        let result = match (original.is_file(), patched.is_file()) {
            (true, true) => diff_objects(&original, &patched),
            (false, true) => elf::read_items(&patched)
                .map(|items| one_sided(&items, Change::Added))
                .map_err(DiffError::Object),
            (true, false) => elf::read_items(&original)
                .map(|items| one_sided(&items, Change::Removed))
                .map_err(DiffError::Object),
            (false, false) => continue,
        };
        if matches!(&result, Ok(diff) if diff.changes.is_empty()) {
            continue;
        }
        results.push((relative, result));
    }
    results
}

/// Over one build: each object it compiled against the original kept
/// before the compile overwrote it (`[livepatch] keep_originals`); an object
/// with no original is new, all its items added. `pairs` are (label, kept
/// original, object). Unchanged objects are left out.
pub fn diff_kept(
    pairs: &[(PathBuf, Option<PathBuf>, PathBuf)],
) -> Vec<(PathBuf, Result<ObjectDiff, DiffError>)> {
    pairs
        .iter()
        .map(|(label, original, patched)| {
            let result = match original {
                Some(original) => diff_objects(original, patched),
                None => elf::read_items(patched)
                    .map(|items| one_sided(&items, Change::Added))
                    .map_err(DiffError::Object),
            };
            (label.clone(), result)
        })
        .filter(|(_, result)| !matches!(result, Ok(diff) if diff.changes.is_empty()))
        .collect()
}

/// What `secwrap diff` prints and its exit status: one line per change on
/// stdout, such as ``core/sched.o: changed function `sched_pick` ``, one
/// `secwrap: error:` line per refused object on stderr; 0 when nothing
/// differs, 1 when something does, 2 when an object was refused (as
/// diff(1): trouble wins over differences).
pub fn render(results: &[(PathBuf, Result<ObjectDiff, DiffError>)]) -> (String, String, i32) {
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut differences = false;
    let mut refused = false;
    for (path, result) in results {
        match result {
            Ok(diff) => {
                for change in &diff.changes {
                    differences = true;
                    stdout.push_str(&format!(
                        "{}: {} {} `{}`\n",
                        path.display(),
                        change.change,
                        change.kind,
                        change.name
                    ));
                }
            }
            Err(error) => {
                refused = true;
                stderr.push_str(&format!("secwrap: error: {error}\n"));
            }
        }
    }
    let status = if refused {
        2
    } else if differences {
        1
    } else {
        0
    };
    (stdout, stderr, status)
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

/// Every `*.o` file under `root/relative`, relative to `root`. Symlinked
/// directories are not entered (as `find` without `-L`), so a link loop
/// cannot hang the walk; a symlink to an object file counts.
fn collect_objects(
    root: &Path,
    relative: &Path,
    found: &mut BTreeSet<PathBuf>,
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
            && root.join(&entry_relative).is_file()
        {
            found.insert(entry_relative);
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

    #[track_caller]
    fn check_render(
        results: &[(PathBuf, Result<ObjectDiff, DiffError>)],
        stdout: &str,
        stderr: &str,
        status: i32,
    ) {
        let rendered = render(results);
        assert_eq!(rendered, (stdout.to_string(), stderr.to_string(), status));
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
        check_render(&[], "", "", 0);
        check_render(
            &[(PathBuf::from("a.o"), Ok(ObjectDiff::default()))],
            "",
            "",
            0,
        );
        check_render(
            &[(PathBuf::from("dir/a.o"), Ok(changed.clone()))],
            "dir/a.o: changed function `f`\ndir/a.o: removed function `g`\ndir/a.o: added data `v`\n",
            "",
            1,
        );
        check_render(
            &[
                (PathBuf::from("a.o"), Ok(changed)),
                (PathBuf::from("b.o"), Err(refused)),
                (PathBuf::from("c.o"), Err(common)),
            ],
            "a.o: changed function `f`\na.o: removed function `g`\na.o: added data `v`\n",
            "secwrap: error: `b.o` is not split: function `f` is in `.text`; compile it with -ffunction-sections -fdata-sections\n\
             secwrap: error: `c.o` is not split: data `v` is a common symbol, which -fdata-sections cannot place; compile it with -fno-common\n",
            2,
        );
    }
}
