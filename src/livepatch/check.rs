//! Checks that split sections really are split, and that splitting does not
//! break the link:
//! - an object compiled with the flags must have no function or data item
//!   in a shared section that the flags would have split, and an object
//!   the record does not know must be split too ([`check_split`],
//!   [`check_unrecorded`]);
//! - a function must not be named like one of the compiler's special text
//!   sections ([`check_special_names`], Linux `scripts/check-function-names.sh`);
//! - a linked image must not hold split input sections as orphan output
//!   sections: the linker script lacks its catch-alls ([`image_orphans`],
//!   Xen `6ff9a7e62b`);
//! - a linker script must gather each split family after the special
//!   sections it keeps apart ([`check_linker_script`], `lds`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use object::read::elf::{ElfFile, FileHeader};
use object::{
    Object, ObjectKind, ObjectSection, ObjectSymbol, SectionIndex, SymbolKind, SymbolSection,
};
use serde::Serialize;

use crate::error::{BadInput, io_message};
use crate::livepatch::elf::{
    self, FUNCTION_SECTION_KINDS, ItemKind, ItemLayout, ObjectError, ParsedElf, Placement,
    SplitFacts,
};
use crate::livepatch::lds::{self, ScriptFindingKind};
use crate::record::{InvocationRecord, OsText};
use crate::text::plural;

/// What a finding is about, as `check --json` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An object the record says was compiled with the flags has an item
    /// the compiler put in a shared section.
    NotSplit,
    /// An object no record describes has items in shared sections.
    NotRecorded,
    /// A tentative definition under `-fcommon`.
    CommonSymbol,
    /// A function named like a special text section.
    SpecialName,
    /// An object compiled under another config than the build's.
    Stale,
    /// An object written after its last recorded compile.
    UnrecordedWrite,
    /// An orphan output section of split input sections in an image.
    Orphan,
    /// A linker script gathers no section of a split family.
    NotGathered,
    /// A linker script discards a split family.
    Discarded,
    /// A linker script's catch-all comes before a special pattern.
    CatchAllFirst,
}

/// One problem found, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The object, image or linker script checked.
    pub subject: PathBuf,
    /// The line of a linker script the finding is about.
    pub line: Option<usize>,
    /// The symbol, section or pattern at fault.
    pub item: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Finding {
    fn new(kind: FindingKind, subject: &Path, item: impl Into<String>, message: String) -> Finding {
        Finding {
            kind,
            subject: subject.to_path_buf(),
            line: None,
            item: item.into(),
            message,
        }
    }

    /// The finding as `check --json` prints it: `check` (the kind),
    /// `subject` (a string, or `{"bytes": base64}` when the path is not
    /// UTF-8, as in the invocation record), `line` (a number or null),
    /// `item`, `message`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "check": self.kind,
            "subject": OsText::new(self.subject.as_os_str()),
            "line": self.line,
            "item": self.item,
            "message": self.message,
        })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.subject.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}: {}", self.item, self.message)
    }
}

/// An item of an object in a shared section, and why it is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedItem {
    /// A tentative definition (`-fcommon`): no flag gives it a section.
    Common,
    /// The source put it there: an explicit `__attribute__((section))` or
    /// top-level `asm()`, which no flag can split. Known from the object
    /// when another item of its kind has a section of its own.
    PlacedBySource,
    /// No size: top-level asm (`.type f, @function` without `.size`); a
    /// compiler sizes everything it emits.
    Sizeless,
    /// Nothing in the object says who put it there.
    Unexplained,
}

/// How an object's items sit, judged from the object alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitJudgement<'a> {
    /// Each item in a shared section (`ObjectItems::unsplit`), judged.
    pub shared: Vec<(&'a elf::UnsplitSymbol, SharedItem)>,
    /// The object proves it was compiled without `-ffunction-sections`: a
    /// function the compiler emitted (it has a call-frame description) is
    /// in a shared text section, and no function has a section of its own.
    pub proven_unsplit: bool,
}

/// Judges where an object's shared-section items came from.
///
/// With `-ffunction-sections` gcc and clang give every function they emit
/// a section named after it (gcc `varasm.cc`, `default_unique_section`;
/// the only exception is a function whose source names a section), and
/// `-fdata-sections` does the same for variables. So in an object where
/// one function sits in `.text.<name>`, `-ffunction-sections` was in
/// effect, and a function still in `.text` was put there by the source:
/// Xen's `arch_generic_hweightl`, defined in top-level `asm()` in a file
/// whose C functions are split; likewise a variable still in `.data` next
/// to split ones is an explicit `__section(".data")` (Linux
/// `arch/x86/boot/compressed/misc.c`: `lines`, `cols`). The two flags are
/// judged apart, as a build may pass one without the other.
///
/// An object with no item of a kind in a section of its own says nothing
/// for that kind: an object holding only top-level asm is the same with
/// or without the flags. One thing still tells the compiler's placement:
/// a call-frame description (FDE), which gcc and clang write for every
/// function they emit when unwind tables or debug info are on, and which
/// top-level asm has only if it says `.cfi_startproc`. Such a function in
/// `.text`, with no function split, proves the object was compiled
/// without `-ffunction-sections` ([`SplitJudgement::proven_unsplit`]).
pub fn judge_split(items: &ItemLayout) -> SplitJudgement<'_> {
    let has_own_section =
        |kind: ItemKind| items.placements.contains(&(kind, Placement::OwnSection));
    let functions_split = has_own_section(ItemKind::Function);
    let data_split = has_own_section(ItemKind::Data);
    let shared: Vec<_> = items
        .unsplit
        .iter()
        .map(|symbol| {
            let flag_in_effect = match symbol.kind {
                ItemKind::Function => functions_split,
                ItemKind::Data => data_split,
            };
            let judgement = if symbol.section == "COMMON" {
                SharedItem::Common
            } else if flag_in_effect {
                SharedItem::PlacedBySource
            } else if symbol.size == 0 {
                SharedItem::Sizeless
            } else {
                SharedItem::Unexplained
            };
            (symbol, judgement)
        })
        .collect();
    let proven_unsplit = !functions_split
        && shared.iter().any(|(symbol, judgement)| {
            *judgement == SharedItem::Unexplained
                && symbol.kind == ItemKind::Function
                && symbol.frame_info
        });
    SplitJudgement {
        shared,
        proven_unsplit,
    }
}

/// (a) Functions and data items the compiler put in shared sections of
/// `path`, an object the invocation record says was compiled with
/// `-ffunction-sections -fdata-sections` in effect. A finding means the
/// object is not what that compile wrote (rebuilt behind secwrap's back, a
/// launcher that dropped the flags). The record is believed where the
/// object cannot contradict it ([`judge_split`]): items the source placed
/// are no finding, and neither are items of an object that proves nothing
/// either way (only top-level asm, no call-frame information).
pub fn check_split(path: &Path) -> Result<Vec<Finding>, ObjectError> {
    let facts = elf::read_split_facts(path)?;
    Ok(recorded_split_findings(path, &facts.items))
}

/// What `check` finds in one object it was given or a build compiled: its
/// special names ([`check_special_names`]) and, when its record says the
/// split flags were in effect, its split ([`check_split`]). Each is its
/// own result, as `check` reports them apart (an object that cannot be
/// read is one error for each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectChecks {
    pub special_names: Result<Vec<Finding>, ObjectError>,
    /// `None` when the split was not asked about.
    pub split: Option<Result<Vec<Finding>, ObjectError>>,
}

/// [`check_special_names`] and, with `check_recorded_split`,
/// [`check_split`] of `path` from one read and one parse of the file:
/// `check --build` looks at every object a build compiled. `None` when
/// `path` is not a regular file (removed since the build).
pub fn check_object(path: &Path, check_recorded_split: bool) -> Option<ObjectChecks> {
    let data = match elf::read_if_file(path) {
        Ok(data) => data?,
        Err(error) => return Some(ObjectChecks::failed(error, check_recorded_split)),
    };
    let parsed = match elf::parse_elf(path, &data) {
        Ok(parsed) => parsed,
        Err(error) => return Some(ObjectChecks::failed(error, check_recorded_split)),
    };
    Some(ObjectChecks {
        special_names: special_name_findings(path, &parsed),
        split: check_recorded_split.then(|| {
            elf::split_facts(path, &parsed).map(|facts| recorded_split_findings(path, &facts.items))
        }),
    })
}

impl ObjectChecks {
    fn failed(error: ObjectError, check_recorded_split: bool) -> ObjectChecks {
        ObjectChecks {
            split: check_recorded_split.then(|| Err(error.clone())),
            special_names: Err(error),
        }
    }
}

fn recorded_split_findings(path: &Path, items: &ItemLayout) -> Vec<Finding> {
    let judgement = judge_split(items);
    judgement
        .shared
        .iter()
        .filter_map(|(symbol, shared)| match shared {
            SharedItem::Common => Some(common_finding(path, symbol)),
            SharedItem::Unexplained if judgement.proven_unsplit => {
                let flag = match symbol.kind {
                    ItemKind::Function => "-ffunction-sections",
                    ItemKind::Data => "-fdata-sections",
                };
                Some(Finding::new(
                    FindingKind::NotSplit,
                    path,
                    &symbol.name,
                    format!(
                        "{} `{}` is in the shared section `{}`, so {flag} did not take effect; rebuild the object with -ffunction-sections -fdata-sections last on the line (a later -fno-function-sections/-fno-data-sections wins)",
                        symbol.kind, symbol.name, symbol.section
                    ),
                ))
            }
            _ => None,
        })
        .collect()
}

fn common_finding(path: &Path, symbol: &elf::UnsplitSymbol) -> Finding {
    Finding::new(
        FindingKind::CommonSymbol,
        path,
        &symbol.name,
        format!(
            "{} `{}` is a common symbol (a tentative definition under -fcommon), which -fdata-sections cannot give a section; compile with -fno-common",
            symbol.kind, symbol.name
        ),
    )
}

/// (a') An object no compile record describes, judged from the object
/// alone: a finding when it has items in shared sections that nothing in
/// it explains ([`judge_split`]), because then the flags would most likely
/// have split them and the compile did not go through secwrap (a launcher
/// such as ccache or distcc ahead of secwrap on `PATH`, a manual compile).
/// An object without a compiler's `.comment` was assembled, not compiled
/// from C, and is left alone. `log` is the log searched, `None` when no
/// log is configured.
pub fn check_unrecorded(path: &Path, log: Option<&Path>) -> Result<Vec<Finding>, ObjectError> {
    let facts = elf::read_split_facts(path)?;
    Ok(unrecorded_findings(path, &facts, log))
}

fn unrecorded_findings(path: &Path, facts: &SplitFacts, log: Option<&Path>) -> Vec<Finding> {
    let judgement = judge_split(&facts.items);
    let mut findings: Vec<Finding> = judgement
        .shared
        .iter()
        .filter(|(_, shared)| *shared == SharedItem::Common)
        .map(|(symbol, _)| common_finding(path, symbol))
        .collect();
    let unexplained: Vec<&elf::UnsplitSymbol> = judgement
        .shared
        .iter()
        .filter(|(_, shared)| *shared == SharedItem::Unexplained)
        .map(|(symbol, _)| *symbol)
        .collect();
    let Some(first) = unexplained.first() else {
        return findings;
    };
    if !facts.compiler_comment {
        return findings;
    }
    const SHOWN: usize = 3;
    let mut listed: Vec<String> = unexplained
        .iter()
        .take(SHOWN)
        .map(|symbol| format!("{} `{}` in `{}`", symbol.kind, symbol.name, symbol.section))
        .collect();
    if unexplained.len() > SHOWN {
        listed.push(format!("{} more", unexplained.len() - SHOWN));
    }
    let no_record = match log {
        Some(log) => format!("no record in `{}` says how it was compiled", log.display()),
        None => "no invocation log says how it was compiled (none written here yet, or give --log)"
            .to_string(),
    };
    findings.push(Finding::new(
        FindingKind::NotRecorded,
        path,
        &first.name,
        format!(
            "not split and not recorded: {} in shared sections ({}), and {no_record}; was it compiled through secwrap? (ccache or distcc ahead of secwrap on PATH compiles without it): rebuild it through secwrap",
            plural(unexplained.len(), "item"),
            listed.join(", ")
        ),
    ));
    findings
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
    let data = elf::read_file(path)?;
    special_name_findings(path, &elf::parse_elf(path, &data)?)
}

fn special_name_findings(path: &Path, parsed: &ParsedElf<'_>) -> Result<Vec<Finding>, ObjectError> {
    let names = match parsed {
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
        findings.push(Finding::new(FindingKind::SpecialName, path, name, message));
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
#[derive(Debug, PartialEq, Eq)]
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

/// Whether the item a section named `name` is named after is defined in
/// the image: `.text.f` names `f`, `.text.unlikely.f` names `f` or its
/// cold part `f.cold`, `.data.v` names `v`. `defined` holds every symbol
/// the image defines, `cold_bases` the `f` of each `f.cold` among them.
fn names_defined_item(
    name: &str,
    family: &SplitFamily,
    defined: &HashSet<&str>,
    cold_bases: &HashSet<&str>,
) -> bool {
    let rest = &name[family.prefix.len()..];
    if defined.contains(rest) {
        return true;
    }
    match rest.split_once('.') {
        Some((kind, item))
            if family.prefix == ".text." && FUNCTION_SECTION_KINDS.contains(&kind) =>
        {
            defined.contains(item) || cold_bases.contains(item)
        }
        _ => false,
    }
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

/// An output section of a linked image made of split input sections
/// that the linker script did not gather: ld names an orphan output
/// section after its input sections and merges same-named ones, so there
/// is one per distinct name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphan {
    /// `.text.do_work`.
    pub section: String,
    pub address: u64,
    family: &'static SplitFamily,
    /// The symbol ending the family's range in the image (`_etext`) and its
    /// address, if the image has one.
    end: Option<(&'static str, u64)>,
}

/// (d) Orphan split sections in a linked image (vmlinux, xen-syms, a
/// program): an output section named like `.text.<fn>` means the linker
/// script has no catch-all for that family, so ld placed the section by its
/// orphan rules, typically after `_etext`, where nothing expects code. One
/// finding per output section, as [`orphan_finding`] words it.
pub fn check_image(path: &Path) -> Result<Vec<Finding>, ObjectError> {
    Ok(image_orphans(path, None)?
        .iter()
        .map(|orphan| orphan_finding(path, orphan))
        .collect())
}

/// The orphans of image `path`, in section-header order.
///
/// A script may keep a split-looking name as an output section on purpose
/// (Xen's `DECL_SECTION(.data.read_mostly)`, `.data.ro_after_init`). With
/// the script (`script_outputs`, its output-section names, from `check
/// --lds`) that is known exactly: every other split-looking output section
/// is an orphan, since ld makes output sections only from the script and
/// from orphans. Without it, an output section counts as an orphan when the
/// item it is named after is defined somewhere in the image (or it has a
/// name only a compiler makes, or the image has no symbols at all): a
/// script's own `.data.read_mostly` names no symbol `read_mostly`, while
/// `.text.sched_clock` still counts when it holds only the body of a weak
/// `sched_clock` that a strong definition elsewhere overrode (Linux: the
/// strong one is in `.noinstr.text`, and the image keeps no symbol for
/// the weak body). A script output section named like a defined symbol
/// would be misjudged; `--lds` settles that.
pub fn image_orphans(
    path: &Path,
    script_outputs: Option<&BTreeSet<&str>>,
) -> Result<Vec<Orphan>, ObjectError> {
    let data = elf::read_file(path)?;
    match elf::parse_elf(path, &data)? {
        ParsedElf::Elf32(file) => orphans_of(path, &file, script_outputs),
        ParsedElf::Elf64(file) => orphans_of(path, &file, script_outputs),
    }
}

fn orphans_of<Elf: FileHeader<Endian = object::Endianness>>(
    path: &Path,
    file: &ElfFile<'_, Elf>,
    script_outputs: Option<&BTreeSet<&str>>,
) -> Result<Vec<Orphan>, ObjectError> {
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
    // One pass over the symbol table: the range-end symbols, and every
    // defined name.
    let mut end_symbols: HashMap<&str, u64> = HashMap::new();
    let mut defined: HashSet<&str> = HashSet::new();
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if let Some(wanted) = SPLIT_FAMILIES
            .iter()
            .flat_map(|family| family.end_symbols.iter().copied())
            .find(|wanted| *wanted == name)
        {
            end_symbols.entry(wanted).or_insert(symbol.address());
        }
        if matches!(symbol.section(), SymbolSection::Section(_)) {
            defined.insert(name);
        }
    }
    let cold_bases: HashSet<&str> = defined
        .iter()
        .filter_map(|name| elf::cold_part_base(name))
        .collect();
    let mut orphans = Vec::new();
    for section in file.sections() {
        let Some(&(name, family)) = candidates.get(&section.index()) else {
            continue;
        };
        let orphan = match script_outputs {
            Some(outputs) => !outputs.contains(name),
            // A stripped image is judged by the name alone.
            None => {
                defined.is_empty()
                    || is_compiler_only_name(name, family)
                    || names_defined_item(name, family, &defined, &cold_bases)
            }
        };
        if !orphan {
            continue;
        }
        let end = family
            .end_symbols
            .iter()
            .find_map(|symbol| end_symbols.get(symbol).map(|address| (*symbol, *address)));
        orphans.push(Orphan {
            section: name.to_string(),
            address: section.address(),
            family,
            end,
        });
    }
    Ok(orphans)
}

/// One orphan, with where ld put it and the fix.
pub fn orphan_finding(path: &Path, orphan: &Orphan) -> Finding {
    let family = orphan.family;
    let address = orphan.address;
    let mut placement = format!("placed it at {address:#x}");
    if let Some((symbol, end)) = orphan.end {
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
    Finding::new(
        FindingKind::Orphan,
        path,
        &orphan.section,
        format!(
            "orphan section: the linker script does not gather split `{prefix}*` sections, so ld {placement}; add `*({prefix}*)`{after} in the linker script's `{output}` output section, as Xen 6ff9a7e62b does",
            prefix = family.prefix,
            after = family.after,
            output = family.output,
        ),
    )
}

/// One finding per family of orphans, in the order the families first
/// appear: how many, a few of them, where they went and the seed's fix
/// (what `check --image` prints without `--verbose`; Xen before the seed
/// has 4,409 orphans, in three families).
pub fn orphan_summaries(path: &Path, orphans: &[Orphan]) -> Vec<Finding> {
    const EXAMPLES: usize = 3;
    let mut families: Vec<(&'static SplitFamily, Vec<&Orphan>)> = Vec::new();
    for orphan in orphans {
        match families
            .iter_mut()
            .find(|(family, _)| std::ptr::eq(*family, orphan.family))
        {
            Some((_, members)) => members.push(orphan),
            None => families.push((orphan.family, vec![orphan])),
        }
    }
    families
        .into_iter()
        .map(|(family, members)| {
            let names: Vec<String> = members
                .iter()
                .take(EXAMPLES)
                .map(|orphan| format!("`{}`", orphan.section))
                .collect();
            let examples = match members.len() {
                1 => names.join(""),
                count if count <= EXAMPLES => format!(
                    "{} and {}",
                    names[..names.len() - 1].join(", "),
                    names[names.len() - 1]
                ),
                _ => format!("such as {}", names.join(", ")),
            };
            let count = plural(members.len(), "orphan section");
            let past_end: Vec<(&str, bool)> = members
                .iter()
                .filter_map(|orphan| {
                    orphan
                        .end
                        .map(|(symbol, end)| (symbol, orphan.address >= end))
                })
                .collect();
            let placement = match past_end.first() {
                Some((symbol, _)) => {
                    let after = past_end.iter().filter(|(_, past)| *past).count();
                    let which = if after == members.len() {
                        "all".to_string()
                    } else {
                        format!("{after} of them")
                    };
                    format!(
                        " ({which} after `{symbol}`, {})",
                        family.consequence
                    )
                }
                None => String::new(),
            };
            let pattern = format!("{}*", family.prefix);
            let advice = lds::CATCH_ALLS
                .iter()
                .find(|catch_all| catch_all.pattern == pattern)
                .map_or_else(
                    || {
                        format!(
                            "add `*({pattern})` to the `{}` output section",
                            family.output
                        )
                    },
                    |catch_all| catch_all.advice.to_string(),
                );
            Finding::new(
                FindingKind::Orphan,
                path,
                &pattern,
                format!(
                    "{count}, {examples}: the linker script does not gather split `{pattern}` sections, so ld made each an output section of its own outside `{}`{placement}; {advice}; `--verbose` lists every section",
                    family.output
                ),
            )
        })
        .collect()
}

/// (e) A linker script's problems for split objects (`lds::analyse`), and
/// its output-section names for [`image_orphans`].
pub fn check_linker_script(path: &Path) -> Result<(Vec<Finding>, lds::Script), BadInput> {
    let text = std::fs::read(path).map_err(|error| BadInput {
        path: path.to_path_buf(),
        position: None,
        message: format!("cannot read the linker script: {}", io_message(&error)),
    })?;
    let text = String::from_utf8_lossy(&text);
    let script = lds::parse(&text).map_err(|error| BadInput {
        path: path.to_path_buf(),
        position: Some((error.line, error.column)),
        message: error.message,
    })?;
    let findings = lds::analyse(&script)
        .into_iter()
        .map(|finding| Finding {
            kind: match finding.kind {
                ScriptFindingKind::NotGathered => FindingKind::NotGathered,
                ScriptFindingKind::Discarded => FindingKind::Discarded,
                ScriptFindingKind::CatchAllFirst => FindingKind::CatchAllFirst,
            },
            subject: path.to_path_buf(),
            line: finding.line,
            item: finding.item,
            message: finding.message,
        })
        .collect();
    Ok((findings, script))
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
        .filter(|(object, record)| record.config != fingerprint && object.is_file())
        .map(|(object, record)| {
            Finding::new(
                FindingKind::Stale,
                object,
                "config",
                format!(
                    "stale: last compiled under config {} but build `{build_id}` uses {fingerprint}; make does not see the flags secwrap adds, so rebuild it (touch its source, or make clean)",
                    record.config
                ),
            )
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
            (modified > ended + POST_PROCESSING_GRACE).then(|| {
                Finding::new(
                    FindingKind::UnrecordedWrite,
                    object,
                    "record",
                    format!(
                        "written after its last recorded compile ({}) ended: no record describes it (a compile killed before secwrap could record it?), so rebuild it",
                        record.time
                    ),
                )
            })
        })
        .collect()
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
    fn check_evidence(name: &str, defined: &[&str], compiler_only: bool, names_item: bool) {
        let family = split_family(name).unwrap_or_else(|| panic!("`{name}` is no split name"));
        assert_eq!(
            is_compiler_only_name(name, family),
            compiler_only,
            "{name} compiler-only"
        );
        let defined_set: HashSet<&str> = defined.iter().copied().collect();
        let cold_bases: HashSet<&str> = defined
            .iter()
            .filter_map(|name| elf::cold_part_base(name))
            .collect();
        assert_eq!(
            names_defined_item(name, family, &defined_set, &cold_bases),
            names_item,
            "{name} with {defined:?} defined"
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
        // The body of an overridden weak `sched_clock`: its section holds
        // no symbol, the strong `sched_clock` is defined elsewhere.
        check_evidence(
            ".text.sched_clock",
            &["sched_clock", "native_sched_clock"],
            false,
            true,
        );
        // Xen's deliberate output sections name nothing the image defines.
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

    /// An object's items from rows (name, kind, section, size, frame
    /// information), placed as `elf` places them.
    fn object(rows: &[(&str, ItemKind, &str, u64, bool)]) -> ItemLayout {
        let mut placements = Vec::new();
        let mut unsplit = Vec::new();
        for &(name, kind, section, size, frame_info) in rows {
            let placement = match kind {
                ItemKind::Function => elf::function_placement(name, section),
                ItemKind::Data => elf::data_placement(name, section),
            };
            if placement == Placement::SharedSection {
                unsplit.push(elf::UnsplitSymbol {
                    name: name.to_string(),
                    kind,
                    section: section.to_string(),
                    size,
                    frame_info,
                });
            }
            placements.push((kind, placement));
        }
        ItemLayout {
            path: PathBuf::from("x.o"),
            placements,
            unsplit,
        }
    }

    #[track_caller]
    fn check_judgement(
        rows: &[(&str, ItemKind, &str, u64, bool)],
        expected: &[(&str, SharedItem)],
        proven_unsplit: bool,
    ) {
        let items = object(rows);
        let judgement = judge_split(&items);
        let got: Vec<(&str, SharedItem)> = judgement
            .shared
            .iter()
            .map(|(symbol, shared)| (symbol.name.as_str(), *shared))
            .collect();
        assert_eq!(got, expected, "{rows:?}");
        assert_eq!(judgement.proven_unsplit, proven_unsplit, "{rows:?}");
    }

    #[test]
    fn judge_split_table() {
        use ItemKind::{Data, Function};
        use SharedItem::*;
        // Xen's generic-hweightl.o alone: top-level asm, nothing to tell.
        check_judgement(
            &[("arch_generic_hweightl", Function, ".text", 6, false)],
            &[("arch_generic_hweightl", Unexplained)],
            false,
        );
        // ... next to a split C function: placed by the source.
        check_judgement(
            &[
                ("arch_generic_hweightl", Function, ".text", 6, false),
                ("helper", Function, ".text.helper", 4, true),
            ],
            &[("arch_generic_hweightl", PlacedBySource)],
            false,
        );
        // Linux misc.c: `lines`/`cols` in `.data` by `__section(".data")`,
        // next to split data; the flags are judged apart.
        check_judgement(
            &[
                ("lines", Data, ".data", 4, false),
                ("cols", Data, ".data", 4, false),
                ("vidport", Data, ".bss.vidport", 4, false),
                ("putstr", Function, ".text.putstr", 87, true),
            ],
            &[("lines", PlacedBySource), ("cols", PlacedBySource)],
            false,
        );
        check_judgement(
            &[
                ("lines", Data, ".data", 4, false),
                ("putstr", Function, ".text.putstr", 87, true),
            ],
            &[("lines", Unexplained)],
            false,
        );
        // Compiled without the flags, with unwind tables: proven.
        check_judgement(
            &[
                ("va", Data, ".data", 4, false),
                ("fa", Function, ".text", 7, true),
            ],
            &[("va", Unexplained), ("fa", Unexplained)],
            true,
        );
        // The same without unwind tables or debug info (a kernel): not.
        check_judgement(
            &[
                ("va", Data, ".data", 4, false),
                ("fa", Function, ".text", 7, false),
            ],
            &[("va", Unexplained), ("fa", Unexplained)],
            false,
        );
        // An asm label without `.size`, and a common symbol.
        check_judgement(
            &[
                ("entry", Function, ".text", 0, false),
                ("tentative", Data, "COMMON", 4, false),
                ("split_fn", Function, ".text.split_fn", 3, true),
            ],
            &[("entry", PlacedBySource), ("tentative", Common)],
            false,
        );
        check_judgement(
            &[("entry", Function, ".text", 0, false)],
            &[("entry", Sizeless)],
            false,
        );
        // A split function with a cold part in its own section.
        check_judgement(
            &[
                ("work", Function, ".text.work", 40, true),
                ("work.cold", Function, ".text.unlikely.work", 9, false),
            ],
            &[],
            false,
        );
    }

    #[test]
    fn recorded_and_unrecorded_findings() {
        use ItemKind::{Data, Function};
        let path = Path::new("x.o");
        let items = |rows: &[(&str, ItemKind, &str, u64, bool)]| object(rows);
        let names = |findings: Vec<Finding>| -> Vec<(FindingKind, String)> {
            findings
                .into_iter()
                .map(|finding| (finding.kind, finding.item))
                .collect()
        };
        let unsplit = items(&[
            ("va", Data, ".data", 4, false),
            ("fa", Function, ".text", 7, true),
        ]);
        assert_eq!(
            names(recorded_split_findings(path, &unsplit)),
            [
                (FindingKind::NotSplit, "va".to_string()),
                (FindingKind::NotSplit, "fa".to_string())
            ]
        );
        // The record believed where the object cannot contradict it.
        let asm_only = items(&[("arch_generic_hweightl", Function, ".text", 6, false)]);
        assert_eq!(names(recorded_split_findings(path, &asm_only)), []);
        // No record: the object alone, one finding for it.
        let facts = |items: ItemLayout, compiler_comment: bool| SplitFacts {
            items,
            compiler_comment,
        };
        let findings = unrecorded_findings(path, &facts(unsplit.clone(), true), None);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].to_string(),
            "x.o: va: not split and not recorded: 2 items in shared sections (data `va` in `.data`, function `fa` in `.text`), and no invocation log says how it was compiled (none written here yet, or give --log); was it compiled through secwrap? (ccache or distcc ahead of secwrap on PATH compiles without it): rebuild it through secwrap"
        );
        let findings = unrecorded_findings(
            path,
            &facts(unsplit.clone(), true),
            Some(Path::new("log.jsonl")),
        );
        assert!(
            findings[0]
                .message
                .contains("and no record in `log.jsonl` says how it was compiled;"),
            "{}",
            findings[0].message
        );
        // Assembled (no compiler `.comment`), or split: nothing.
        assert_eq!(
            names(unrecorded_findings(path, &facts(unsplit, false), None)),
            []
        );
        let split = items(&[
            ("va", Data, ".data.va", 4, false),
            ("fa", Function, ".text.fa", 7, true),
        ]);
        assert_eq!(
            names(unrecorded_findings(path, &facts(split, true), None)),
            []
        );
        let many = items(&[
            ("a", Function, ".text", 1, false),
            ("b", Function, ".text", 1, false),
            ("c", Function, ".text", 1, false),
            ("d", Function, ".text", 1, false),
            ("e", Function, ".text", 1, false),
        ]);
        let findings = unrecorded_findings(path, &facts(many, true), None);
        assert!(
            findings[0].message.starts_with("not split and not recorded: 5 items in shared sections (function `a` in `.text`, function `b` in `.text`, function `c` in `.text`, 2 more), and"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn orphan_summary_table() {
        let orphan = |section: &str, address: u64, end: Option<u64>| {
            let family = split_family(section).expect("a split name");
            Orphan {
                section: section.to_string(),
                address,
                family,
                end: end.map(|end| (family.end_symbols[0], end)),
            }
        };
        let path = Path::new("vmlinux");
        let summary = |orphans: &[Orphan]| -> Vec<String> {
            orphan_summaries(path, orphans)
                .into_iter()
                .map(|finding| {
                    let message = finding.message;
                    format!(
                        "{}: {}",
                        finding.item,
                        &message[..message.find(':').unwrap()]
                    )
                })
                .collect()
        };
        assert_eq!(summary(&[]), Vec::<String>::new());
        assert_eq!(
            summary(&[orphan(".bss.zeroed", 0x10, None)]),
            [".bss.*: 1 orphan section, `.bss.zeroed`"]
        );
        assert_eq!(
            summary(&[
                orphan(".text.a", 0x10, Some(0x8)),
                orphan(".data.v", 0x30, None),
                orphan(".text.b", 0x20, Some(0x8)),
            ]),
            [
                ".text.*: 2 orphan sections, `.text.a` and `.text.b`",
                ".data.*: 1 orphan section, `.data.v`"
            ]
        );
        let many: Vec<Orphan> = ["a", "b", "c", "d"]
            .iter()
            .zip([0x4, 0x10, 0x20, 0x30])
            .map(|(name, address)| orphan(&format!(".text.{name}"), address, Some(0x8)))
            .collect();
        let findings = orphan_summaries(path, &many);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.starts_with(
                "4 orphan sections, such as `.text.a`, `.text.b`, `.text.c`: the linker script does not gather split `.text.*` sections, so ld made each an output section of its own outside `.text` (3 of them after `_etext`, outside the executable range); add `*(.text.*)`"
            ),
            "{}",
            findings[0].message
        );
        assert_eq!(findings[0].kind, FindingKind::Orphan);
        assert_eq!(findings[0].to_string().split(": ").next(), Some("vmlinux"));
    }

    /// README's `--json` table names every kind, spelled as serde spells it.
    #[test]
    fn readme_lists_every_finding_kind() {
        use FindingKind::*;
        let readme = include_str!("../../README.md");
        let row = readme
            .lines()
            .find(|line| line.trim_start().starts_with("| `check` |"))
            .expect("README's check --json table has a `check` row");
        let documented: Vec<&str> = row.split('`').skip(3).step_by(2).collect();
        let kinds = [
            NotSplit,
            NotRecorded,
            CommonSymbol,
            SpecialName,
            Stale,
            UnrecordedWrite,
            Orphan,
            NotGathered,
            Discarded,
            CatchAllFirst,
        ];
        let spelled: Vec<String> = kinds
            .iter()
            .map(|kind| {
                serde_json::to_value(kind)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(documented, spelled);
    }

    #[test]
    fn finding_display_and_json() {
        let mut finding = Finding::new(
            FindingKind::Orphan,
            Path::new("build/xen-syms"),
            ".text.f",
            "orphan section".to_string(),
        );
        assert_eq!(
            finding.to_string(),
            "build/xen-syms: .text.f: orphan section"
        );
        assert_eq!(
            finding.to_json(),
            serde_json::json!({
                "check": "orphan", "subject": "build/xen-syms", "line": null,
                "item": ".text.f", "message": "orphan section",
            })
        );
        finding.kind = FindingKind::CatchAllFirst;
        finding.subject = PathBuf::from("xen.lds");
        finding.line = Some(12);
        assert_eq!(finding.to_string(), "xen.lds:12: .text.f: orphan section");
        assert_eq!(finding.to_json()["check"], "catch_all_first");
        assert_eq!(finding.to_json()["line"], 12);
        use std::os::unix::ffi::OsStrExt;
        finding.subject = PathBuf::from(std::ffi::OsStr::from_bytes(b"x\xff.lds"));
        assert_eq!(
            finding.to_json()["subject"],
            serde_json::json!({"bytes": "eP8ubGRz"})
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
            [Finding::new(
                FindingKind::Stale,
                &dir.path().join("stale.o"),
                "config",
                "stale: last compiled under config OLD but build `b2` uses NEW; make does not see the flags secwrap adds, so rebuild it (touch its source, or make clean)".to_string(),
            )]
        );
        assert_eq!(stale_objects(&as_of_build, "OLD", "b1").len(), 1);
        assert_eq!(stale_objects(&BTreeMap::new(), "NEW", "b2"), []);
    }
}
