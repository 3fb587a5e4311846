//! Checks that split sections really are split, and that splitting does not
//! break the link:
//! - an object compiled with the flags must have no function or data item
//!   in a shared section ([`check_split`]);
//! - a function must not be named like one of the compiler's special text
//!   sections ([`check_special_names`], Linux `scripts/check-function-names.sh`);
//! - a linked image must not hold split input sections as orphan output
//!   sections: the linker script lacks its catch-alls ([`check_image`], Xen
//!   `6ff9a7e62b`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use object::read::elf::{ElfFile, FileHeader};
use object::{
    Object, ObjectKind, ObjectSection, ObjectSymbol, SectionIndex, SymbolKind, SymbolSection,
};

use crate::livepatch::elf::{self, FUNCTION_SECTION_KINDS, ItemKind, ObjectError, ParsedElf};
use crate::record::InvocationRecord;

/// One problem found, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The object or image checked.
    pub subject: PathBuf,
    /// The symbol or section at fault.
    pub item: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.subject.display(),
            self.item,
            self.message
        )
    }
}

/// (a) Functions and data items of `path` in shared sections. Meant for
/// objects the invocation record says were compiled with
/// `-ffunction-sections -fdata-sections`: a finding means the flags did not
/// take effect (overridden later on the line, dropped by a launcher, or the
/// object was rebuilt without secwrap).
pub fn check_split(path: &Path) -> Result<Vec<Finding>, ObjectError> {
    let items = elf::read_items(path)?;
    Ok(items
        .unsplit
        .iter()
        .map(|unsplit| {
            let message = if unsplit.section == "COMMON" {
                format!(
                    "{} `{}` is a common symbol (a tentative definition under -fcommon), which -fdata-sections cannot give a section; compile with -fno-common",
                    unsplit.kind, unsplit.name
                )
            } else {
                let flag = match unsplit.kind {
                    ItemKind::Function => "-ffunction-sections",
                    ItemKind::Data => "-fdata-sections",
                };
                format!(
                    "{} `{}` is in the shared section `{}`, so {flag} did not take effect; rebuild the object with -ffunction-sections -fdata-sections last on the line (a later -fno-function-sections/-fno-data-sections wins)",
                    unsplit.kind, unsplit.name, unsplit.section
                )
            };
            Finding {
                subject: path.to_path_buf(),
                item: unsplit.name.clone(),
                message,
            }
        })
        .collect())
}

/// The compiler's special text-section kinds a function name must not
/// start with, as Linux's `scripts/check-function-names.sh` (`93863f3f859a`)
/// matches them: `^(startup|exit|split|unlikely|hot|unknown)(\.|$)`.
pub const SPECIAL_SECTION_NAMES: &[&str] =
    &["startup", "exit", "split", "unlikely", "hot", "unknown"];

/// The special kind `name` collides with: `startup`, `startup.cold` and
/// `exit.constprop.0` do; `startup_late` does not (neither `.text.startup`
/// nor `.text.startup.*` matches `.text.startup_late`).
pub fn special_name_collision(name: &str) -> Option<&'static str> {
    SPECIAL_SECTION_NAMES.iter().copied().find(|special| {
        name.strip_prefix(special)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// What the compiler uses `.text.<kind>` for, and what linker scripts do
/// with it (Linux `include/asm-generic/vmlinux.lds.h`).
fn special_section_use(kind: &str) -> &'static str {
    match kind {
        "startup" => {
            "the section gcc uses for constructors and main (linker scripts send it to .init.text)"
        }
        "exit" => {
            "the section gcc uses for destructors (linker scripts send it to .exit.text or discard it)"
        }
        "unlikely" => {
            "the section gcc and clang use for cold code (linker scripts gather it apart from the hot text)"
        }
        "hot" => {
            "the section gcc and clang use for hot code (linker scripts gather it apart from the other text)"
        }
        "split" => "the section clang's -fsplit-machine-functions uses for split-off cold blocks",
        _ => "the section clang uses for code of unknown hotness under profile-guided optimisation",
    }
}

/// (b) Defined functions whose names collide with the compiler's special
/// `.text.<kind>` sections: with `-ffunction-sections` a function `startup`
/// lands in `.text.startup`, and no linker-script pattern can tell it from
/// gcc's constructors. Reads any ELF file with a symbol table (an object,
/// `vmlinux.o`, a linked image), as the Linux script runs `nm` on
/// `vmlinux.o`; only function symbols count (`nm`'s `T`, `t`, `W`, `w`).
pub fn check_special_names(path: &Path) -> Result<Vec<Finding>, ObjectError> {
    let data = read(path)?;
    let parsed = elf::parse_elf(path, &data)?;
    let names = match &parsed {
        ParsedElf::Elf32(file) => defined_function_names(path, file)?,
        ParsedElf::Elf64(file) => defined_function_names(path, file)?,
    };
    let mut findings = Vec::new();
    for (name, section) in names {
        let Some(kind) = special_name_collision(&name) else {
            continue;
        };
        let section_use = special_section_use(kind);
        let special = format!(".text.{kind}");
        let message = if name == kind {
            format!("function `{name}` lands in `{special}`, {section_use}; rename it")
        } else if section.starts_with(&format!("{special}.")) {
            // gcc names a clone's section after the clone: `exit.constprop.0`
            // lands in `.text.exit.constprop.0`, which `.text.exit.*` takes.
            format!(
                "function `{name}` lands in `{section}`, which `{special}.*` patterns take for `{special}`, {section_use}; rename `{kind}`"
            )
        } else {
            format!(
                "function `{name}` comes from a function named `{kind}`, which lands in `{special}`, {section_use}; rename `{kind}`"
            )
        };
        findings.push(Finding {
            subject: path.to_path_buf(),
            item: name,
            message,
        });
    }
    Ok(findings)
}

fn defined_function_names<Elf: FileHeader<Endian = object::Endianness>>(
    path: &Path,
    file: &ElfFile<'_, Elf>,
) -> Result<Vec<(String, String)>, ObjectError> {
    let mut names = Vec::new();
    for symbol in file.symbols() {
        let SymbolSection::Section(index) = symbol.section() else {
            continue;
        };
        if symbol.kind() != SymbolKind::Text {
            continue;
        }
        let name = symbol.name().map_err(|error| malformed(path, error))?;
        let section = file
            .section_by_index(index)
            .and_then(|section| section.name().map(str::to_string))
            .map_err(|error| malformed(path, error))?;
        names.push((name.to_string(), section));
    }
    Ok(names)
}

/// A family of split input sections, and the catch-all that gathers it.
struct SplitFamily {
    /// `.text.`: every per-item section starts with it.
    prefix: &'static str,
    /// The output section the catch-all belongs in.
    output: &'static str,
    /// What the catch-all must come after, if anything.
    after: &'static str,
    /// Symbols that end the range the family belongs to, first found wins.
    end_symbols: &'static [&'static str],
    /// Why being past that symbol matters.
    consequence: &'static str,
}

/// Longest prefix first, so `.data.rel.ro.x` is not taken for `.data.`.
const SPLIT_FAMILIES: &[SplitFamily] = &[
    SplitFamily {
        prefix: ".text.",
        output: ".text",
        after: " after the special `.text.*` patterns",
        end_symbols: &["_etext"],
        consequence: "outside the executable range",
    },
    SplitFamily {
        prefix: ".data.rel.ro.local.",
        output: ".data.rel.ro",
        after: "",
        end_symbols: &["_edata"],
        consequence: "outside the data range",
    },
    SplitFamily {
        prefix: ".data.rel.ro.",
        output: ".data.rel.ro",
        after: "",
        end_symbols: &["_edata"],
        consequence: "outside the data range",
    },
    SplitFamily {
        prefix: ".data.rel.local.",
        output: ".data",
        after: "",
        end_symbols: &["_edata"],
        consequence: "outside the data range",
    },
    SplitFamily {
        prefix: ".data.rel.",
        output: ".data",
        after: "",
        end_symbols: &["_edata"],
        consequence: "outside the data range",
    },
    SplitFamily {
        prefix: ".data.",
        output: ".data",
        after: " after the special `.data.*` patterns",
        end_symbols: &["_edata"],
        consequence: "outside the data range",
    },
    SplitFamily {
        prefix: ".rodata.",
        output: ".rodata",
        after: "",
        end_symbols: &["__end_rodata", "_erodata"],
        consequence: "outside the read-only data range",
    },
    SplitFamily {
        prefix: ".bss.",
        output: ".bss",
        after: " after `*(.bss)`",
        end_symbols: &["__bss_end", "__bss_stop"],
        consequence: "outside the range boot code zeroes",
    },
    SplitFamily {
        prefix: ".tdata.",
        output: ".tdata",
        after: "",
        end_symbols: &[],
        consequence: "",
    },
    SplitFamily {
        prefix: ".tbss.",
        output: ".tbss",
        after: "",
        end_symbols: &[],
        consequence: "",
    },
    SplitFamily {
        prefix: ".sdata.",
        output: ".sdata",
        after: "",
        end_symbols: &["_edata"],
        consequence: "outside the data range",
    },
    SplitFamily {
        prefix: ".sbss.",
        output: ".sbss",
        after: "",
        end_symbols: &["__bss_end", "__bss_stop"],
        consequence: "outside the range boot code zeroes",
    },
];

/// Output-section names that look split but are not per-item sections:
/// - what the compiler emits WITHOUT the split flags (`.text.unlikely` for
///   cold code, `.text.startup` for main and constructors, `.text.exit`,
///   `.text.hot`, LLVM's `.text.split`/`.text.unknown`, clang's variants
///   with a trailing dot such as `.text.unlikely.`, `.data.rel.ro` and
///   friends for PIC data). An unsplit build linked by a script without the
///   matching pattern orphans them too, but that is no sign of splitting,
///   and ld's own default script keeps `.data.rel.ro` as an output section
///   on purpose.
/// - `.text.head`: the output section Linux's x86 and Arm scripts used for
///   the entry code before they renamed it `.head.text` so that
///   `-ffunction-sections` (a function `head`) could not collide with it;
///   a script with a `.text.head` output section made it on purpose.
const NOT_PER_ITEM: &[&str] = &[
    ".text.unlikely",
    ".text.hot",
    ".text.startup",
    ".text.exit",
    ".text.split",
    ".text.unknown",
    ".text.unlikely.",
    ".text.hot.",
    ".text.startup.",
    ".text.exit.",
    ".text.split.",
    ".text.unknown.",
    ".text.head",
    ".data.rel",
    ".data.rel.local",
    ".data.rel.ro",
    ".data.rel.ro.local",
];

/// Whether `name`, as an output section of a linked image, looks like a
/// split per-item input section that the linker script did not gather (an
/// orphan `ld` named after its input section). [`check_image`] also wants
/// the section to hold the item it is named after. Not reported:
/// - the names in [`NOT_PER_ITEM`];
/// - merged literals `.rodata.str<N>.<M>` and `.rodata.cst<N>`, emitted
///   with or without the flags (a constant named `cst8` is ambiguous with
///   them, as a function named `startup` is with `.text.startup`);
/// - kernel-style special sections with a double dot (`.data..percpu`,
///   `.bss..page_aligned`): "the dot character is valid in a section name
///   but not a C identifier", so no item can produce them (Linux,
///   "kbuild: linker script do not match C names unless
///   LD_DEAD_CODE_DATA_ELIMINATION is configured"), except clang's
///   per-item `..L<name>` and `..compoundliteral` sections, which Linux's
///   `DATA_MAIN`/`BSS_MAIN` gather for exactly that reason.
pub fn is_orphan_split_name(name: &str) -> bool {
    split_family(name).is_some()
}

fn split_family(name: &str) -> Option<&'static SplitFamily> {
    if NOT_PER_ITEM.contains(&name) || is_merged_literal_section(name) {
        return None;
    }
    let family = SPLIT_FAMILIES
        .iter()
        .find(|family| name.starts_with(family.prefix))?;
    let rest = &name[family.prefix.len()..];
    if rest.is_empty() {
        return None;
    }
    if let Some(special) = rest.strip_prefix('.') {
        let clang_per_item = special.starts_with('L') || special.starts_with("compoundliteral");
        if !clang_per_item {
            return None;
        }
    }
    Some(family)
}

/// Names only a compiler produces, whose sections hold no symbol to show
/// for it: clang's per-item sections for private globals and compound
/// literals (`.data..L__unnamed_1`, `.bss..compoundliteral`: assembler-local
/// symbols, gone from the image) and gcc's per-function literal pools
/// (`.rodata.<fn>.str1.1`, `.rodata.<fn>.cst8`: `.LC<N>` labels). No script
/// names an output section like that on purpose.
fn is_compiler_only_name(name: &str, family: &SplitFamily) -> bool {
    let rest = &name[family.prefix.len()..];
    if rest.starts_with('.') {
        return true;
    }
    if family.prefix != ".rodata." {
        return false;
    }
    // `pick.str1.1` or `pick.cst8`: a function name, then a pool suffix.
    let string_pool = rest
        .rsplit_once('.')
        .and_then(|(head, _)| head.rsplit_once('.'))
        .is_some_and(|(function, _)| {
            !function.is_empty() && is_literal_pool(&rest[function.len() + 1..])
        });
    let constant_pool = rest
        .rsplit_once('.')
        .is_some_and(|(function, pool)| !function.is_empty() && is_literal_pool(pool));
    string_pool || constant_pool
}

/// Whether a section named `name` holds the item it is named after:
/// `.text.f` holds `f`, `.text.unlikely.f` holds `f` or `f.cold`,
/// `.data.v` holds `v`.
fn holds_named_item(name: &str, family: &SplitFamily, held: &[&str]) -> bool {
    let rest = &name[family.prefix.len()..];
    let after_kind = match rest.split_once('.') {
        Some((kind, item))
            if family.prefix == ".text." && FUNCTION_SECTION_KINDS.contains(&kind) =>
        {
            Some(item)
        }
        _ => None,
    };
    held.iter().any(|symbol| {
        *symbol == rest
            || Some(*symbol) == after_kind
            || (after_kind.is_some() && elf::cold_part_base(symbol) == after_kind)
    })
}

/// `.rodata.str1.1`, `.rodata.str2.2`, `.rodata.cst8`, `.rodata.cst16`.
fn is_merged_literal_section(name: &str) -> bool {
    name.strip_prefix(".rodata.").is_some_and(is_literal_pool)
}

/// `str<width>.<align>` or `cst<size>`: the name gcc and clang give a
/// mergeable literal pool, after `.rodata.` (and a function's name under
/// gcc `-fdata-sections`).
fn is_literal_pool(suffix: &str) -> bool {
    let all_digits =
        |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if let Some(size) = suffix.strip_prefix("cst") {
        return all_digits(size);
    }
    suffix
        .strip_prefix("str")
        .and_then(|sizes| sizes.split_once('.'))
        .is_some_and(|(width, align)| all_digits(width) && all_digits(align))
}

/// (d) Orphan split sections in a linked image (vmlinux, xen-syms, a
/// program): an output section named like `.text.<fn>` means the linker
/// script has no catch-all for that family, so ld placed the section by its
/// orphan rules, typically after `_etext`, where nothing expects code. One
/// finding per output section (ld merges same-named orphans).
pub fn check_image(path: &Path) -> Result<Vec<Finding>, ObjectError> {
    let data = read(path)?;
    match elf::parse_elf(path, &data)? {
        ParsedElf::Elf32(file) => image_findings(path, &file),
        ParsedElf::Elf64(file) => image_findings(path, &file),
    }
}

fn image_findings<Elf: FileHeader<Endian = object::Endianness>>(
    path: &Path,
    file: &ElfFile<'_, Elf>,
) -> Result<Vec<Finding>, ObjectError> {
    if !matches!(file.kind(), ObjectKind::Executable | ObjectKind::Dynamic) {
        return Err(ObjectError::NotLinked {
            path: path.to_path_buf(),
        });
    }
    let mut candidates: HashMap<SectionIndex, (&str, &'static SplitFamily)> = HashMap::new();
    for section in file.sections() {
        let name = section.name().map_err(|error| malformed(path, error))?;
        if let Some(family) = split_family(name) {
            candidates.insert(section.index(), (name, family));
        }
    }
    // One pass over the symbol table: the range-end symbols, and the
    // symbols each candidate section holds.
    let mut end_symbols: HashMap<&str, u64> = HashMap::new();
    let mut held: HashMap<SectionIndex, Vec<&str>> = HashMap::new();
    let mut has_symbols = false;
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        has_symbols = true;
        if let Some(wanted) = SPLIT_FAMILIES
            .iter()
            .flat_map(|family| family.end_symbols.iter().copied())
            .find(|wanted| *wanted == name)
        {
            end_symbols.entry(wanted).or_insert(symbol.address());
        }
        if let SymbolSection::Section(index) = symbol.section()
            && candidates.contains_key(&index)
        {
            held.entry(index).or_default().push(name);
        }
    }
    let symbol_address = |wanted: &str| end_symbols.get(wanted).copied();
    let mut findings = Vec::new();
    for section in file.sections() {
        let Some(&(name, family)) = candidates.get(&section.index()) else {
            continue;
        };
        // A script may keep a single-dot name as an output section on
        // purpose: Xen's `DECL_SECTION(.data.read_mostly)` and
        // `.data.ro_after_init`. Those hold many symbols, none named
        // `read_mostly`; an orphan made of split sections holds the item it
        // is named after. A stripped image is judged by the name alone.
        let held_names = held
            .get(&section.index())
            .map(Vec::as_slice)
            .unwrap_or_default();
        if has_symbols
            && !is_compiler_only_name(name, family)
            && !holds_named_item(name, family, held_names)
        {
            continue;
        }
        let address = section.address();
        let mut placement = format!("placed it at {address:#x}");
        if let Some((symbol, end)) = family
            .end_symbols
            .iter()
            .find_map(|symbol| symbol_address(symbol).map(|end| (symbol, end)))
        {
            let relative = match address.checked_sub(end) {
                Some(0) => format!("right at `{symbol}`, {}", family.consequence),
                Some(distance) => format!(
                    "{distance:#x} bytes after `{symbol}`, {}",
                    family.consequence
                ),
                None => format!(
                    "before `{symbol}` but outside the `{}` output section",
                    family.output
                ),
            };
            placement.push_str(", ");
            placement.push_str(&relative);
        }
        findings.push(Finding {
            subject: path.to_path_buf(),
            item: name.to_string(),
            message: format!(
                "orphan section: the linker script does not gather split `{prefix}*` sections, so ld {placement}; add `*({prefix}*)`{after} in the linker script's `{output}` output section, as Xen 6ff9a7e62b does",
                prefix = family.prefix,
                after = family.after,
                output = family.output,
            ),
        });
    }
    Ok(findings)
}

/// (c) Stale objects: of the objects the record knows as of build
/// `build_id` (`as_of_build`, each with its latest compile; see
/// `record::history::latest_compiles`), those still on disk whose latest
/// compile ran under another config than the build's `fingerprint`. The
/// flags secwrap adds are not in make's view of the command line, so a
/// config change does not rebuild them.
pub fn stale_objects(
    as_of_build: &BTreeMap<PathBuf, &InvocationRecord>,
    fingerprint: &str,
    build_id: &str,
) -> Vec<Finding> {
    as_of_build
        .iter()
        .filter(|(object, record)| object.is_file() && record.config != fingerprint)
        .map(|(object, record)| Finding {
            subject: object.clone(),
            item: "config".to_string(),
            message: format!(
                "stale: last compiled under config {} but build `{build_id}` uses {fingerprint}; make does not see the flags secwrap adds, so rebuild it (touch its source, or make clean)",
                record.config
            ),
        })
        .collect()
}

/// How long after its recorded compile ended an object may still be
/// written by the build's own steps on it (Xen's `objcopy` of `.x.o.tmp`,
/// recordmcount, `ld -r` in place) before the write counts as unrecorded.
pub const POST_PROCESSING_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Objects written after their last successful record ended (by more than
/// [`POST_PROCESSING_GRACE`]): no record describes what they hold. A
/// compile killed with secwrap (`kill -9`) before it could record, whose
/// `cc1`/`as` finished the object anyway, leaves exactly this, and make
/// later takes the object as up to date.
pub fn unrecorded_writes(latest: &BTreeMap<PathBuf, &InvocationRecord>) -> Vec<Finding> {
    latest
        .iter()
        .filter_map(|(object, record)| {
            let modified = std::fs::metadata(object).ok()?.modified().ok()?;
            let started = humantime::parse_rfc3339(&record.time).ok()?;
            let ended = started + std::time::Duration::from_secs_f64(record.duration_ms.max(0.0) / 1000.0);
            (modified > ended + POST_PROCESSING_GRACE).then(|| Finding {
                subject: object.clone(),
                item: "record".to_string(),
                message: format!(
                    "written after its last recorded compile ({}) ended: no record describes it (a compile killed before secwrap could record it?), so rebuild it",
                    record.time
                ),
            })
        })
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, ObjectError> {
    std::fs::read(path).map_err(|error| ObjectError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

fn malformed(path: &Path, error: object::Error) -> ObjectError {
    ObjectError::Malformed {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_name_collision_table() {
        let table = [
            ("startup", Some("startup")),
            ("exit", Some("exit")),
            ("split", Some("split")),
            ("unlikely", Some("unlikely")),
            ("hot", Some("hot")),
            ("unknown", Some("unknown")),
            ("startup.cold", Some("startup")),
            ("exit.constprop.0", Some("exit")),
            ("hot.part.0", Some("hot")),
            ("startup_late", None),
            ("startups", None),
            ("exit_", None),
            ("do_exit", None),
            ("hotplug", None),
            ("Startup", None),
            ("start", None),
            ("", None),
        ];
        for (name, expected) in table {
            assert_eq!(special_name_collision(name), expected, "{name}");
        }
    }

    #[test]
    fn orphan_split_name_table() {
        let table = [
            (".text.f", true),
            (".text.f.constprop.0", true),
            (".text.unlikely.f", true),
            (".text.startup.main", true),
            (".text.exit.dtor", true),
            (".text.hot.f", true),
            (".text.startup_late", true),
            (".data.counter", true),
            (".data.rel.local.ptr", true),
            (".data.rel.ro.local.names", true),
            (".data.rel.ro.names", true),
            (".bss.zeroed", true),
            (".rodata.table", true),
            (".rodata.pick.str1.1", true),
            (".rodata.str1", true),
            (".tdata.tls2", true),
            (".tbss.tls1", true),
            (".data..L__unnamed_1", true),
            (".data..compoundliteral", true),
            (".bss..compoundliteral.2", true),
            (".rodata..L__const.main.table", true),
            (".text", false),
            (".data", false),
            (".bss", false),
            (".rodata", false),
            (".text.", false),
            (".text.unlikely", false),
            (".text.hot", false),
            (".text.startup", false),
            (".text.exit", false),
            (".text.split", false),
            (".text.unknown", false),
            (".text.unlikely.", false),
            (".text.hot.", false),
            (".text.head", false),
            (".data.rel", false),
            (".data.rel.ro", false),
            (".data.rel.ro.local", false),
            (".data.rel.local", false),
            (".rodata.str1.1", false),
            (".rodata.str2.2", false),
            (".rodata.cst8", false),
            (".rodata.cst16", false),
            (".data..percpu", false),
            (".data..read_mostly", false),
            (".bss..page_aligned", false),
            (".text..refcount", false),
            (".head.text", false),
            (".init.text", false),
            (".tdata", false),
            (".eh_frame", false),
            (".comment", false),
            (".textual", false),
        ];
        for (name, expected) in table {
            assert_eq!(is_orphan_split_name(name), expected, "{name}");
        }
    }

    #[track_caller]
    fn check_evidence(name: &str, held: &[&str], compiler_only: bool, holds_item: bool) {
        let family = split_family(name).unwrap_or_else(|| panic!("`{name}` is no split name"));
        assert_eq!(
            is_compiler_only_name(name, family),
            compiler_only,
            "{name} compiler-only"
        );
        assert_eq!(
            holds_named_item(name, family, held),
            holds_item,
            "{name} holding {held:?}"
        );
    }

    #[test]
    fn orphan_evidence_table() {
        check_evidence(".text.work", &["work"], false, true);
        check_evidence(".text.work", &["helper", "work"], false, true);
        check_evidence(".text.unlikely.work", &["work.cold"], false, true);
        check_evidence(".text.unlikely.report", &["report"], false, true);
        check_evidence(".text.startup.main", &["main"], false, true);
        check_evidence(".text.f.constprop.0", &["f.constprop.0"], false, true);
        check_evidence(".data.counter", &["counter"], false, true);
        check_evidence(".bss.calls.0", &["calls.0"], false, true);
        check_evidence(".data.rel.local.ptr", &["ptr"], false, true);
        // Xen's deliberate output sections hold other things.
        check_evidence(
            ".data.read_mostly",
            &["opt_noirqbalance", "__start_schedulers_array"],
            false,
            false,
        );
        check_evidence(
            ".data.ro_after_init",
            &["__ro_after_init_start"],
            false,
            false,
        );
        check_evidence(".text.work", &[], false, false);
        check_evidence(".data.counter", &["counter.cold"], false, false);
        // Compiler-only names need no symbol.
        check_evidence(".data..L__unnamed_1", &[], true, false);
        check_evidence(".bss..compoundliteral", &[], true, false);
        check_evidence(".rodata.pick.str1.1", &[], true, false);
        check_evidence(".rodata.bad.constprop.0.str1.1", &[], true, false);
        check_evidence(".rodata.pick.cst8", &[], true, false);
        check_evidence(".rodata.table", &[], false, false);
        check_evidence(".rodata.str1", &[], false, false);
    }

    #[test]
    fn finding_display() {
        let finding = Finding {
            subject: PathBuf::from("build/xen-syms"),
            item: ".text.f".to_string(),
            message: "orphan section".to_string(),
        };
        assert_eq!(
            finding.to_string(),
            "build/xen-syms: .text.f: orphan section"
        );
    }

    /// A compile record under config `config` (only the fields the check reads matter).
    fn record_under(config: &str) -> InvocationRecord {
        serde_json::from_value(serde_json::json!({
            "version": 1, "secwrap": "0", "time": "t", "pid": 1,
            "cwd": "/", "compiler": "/usr/bin/gcc", "argv": [], "exec": [],
            "kind": "compile", "injected": [], "skipped": [], "inputs": [],
            "output": null, "lto": false, "config": config,
            "status": 0, "signal": null, "duration_ms": 0.0,
        }))
        .expect("a record")
    }

    #[test]
    fn stale_objects_are_those_on_disk_under_another_config() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let on_disk = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, b"").expect("write");
            path
        };
        let (current, old) = (record_under("NEW"), record_under("OLD"));
        let as_of_build = BTreeMap::from([
            (on_disk("same.o"), &current),
            (on_disk("stale.o"), &old),
            // Removed since (make clean): nothing to rebuild.
            (dir.path().join("gone.o"), &old),
        ]);
        let stale = stale_objects(&as_of_build, "NEW", "b2");
        assert_eq!(
            stale,
            [Finding {
                subject: dir.path().join("stale.o"),
                item: "config".to_string(),
                message: "stale: last compiled under config OLD but build `b2` uses NEW; make does not see the flags secwrap adds, so rebuild it (touch its source, or make clean)".to_string(),
            }]
        );
        assert_eq!(stale_objects(&as_of_build, "OLD", "b1").len(), 1);
        assert_eq!(stale_objects(&BTreeMap::new(), "NEW", "b2"), []);
    }
}
