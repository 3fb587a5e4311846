//! Reading a relocatable object the way a livepatch tool sees it: every
//! function and data item with its own section, its bytes and its
//! relocations in a form that can be compared between two builds.
//!
//! # What gcc 12 and clang 14 emit (x86-64, `-O2 -ffunction-sections
//! -fdata-sections -c`)
//!
//! | source | gcc 12 | clang 14 |
//! | --- | --- | --- |
//! | `int f(void)`, `static int g(void)` | `.text.f`, `.text.g` (local) | same |
//! | `__attribute__((cold))` function `r` | `.text.unlikely.r` | same |
//! | `__attribute__((hot))` function `h` | `.text.hot.h` | same |
//! | `main`, a constructor `c` | `.text.startup.main`, `.text.startup.c` | `.text.main`, `.text.c` |
//! | a destructor `d` | `.text.exit.d` | `.text.d` |
//! | `f` with an unlikely path calling a cold function (1) | `f` in `.text.f`, local `f.cold` in `.text.unlikely.f` | not split |
//! | static `f` called with a constant | `f.constprop.0` in `.text.f.constprop.0` | `f` in `.text.f` |
//! | static `f` taking a struct by value | `f.isra.0` in `.text.f.isra.0` | `f` in `.text.f` |
//! | partial inlining of an early-return path | `f.part.0` in `.text.f.part.0` | no clone |
//! | `int v = 1;`, `int z;`, `const int t[4]` | `.data.v`, `.bss.z`, `.rodata.t` | same |
//! | `int *p = &v;` (Debian gcc builds PIE by default) | `.data.rel.local.p` | `.data.p` |
//! | `__thread int t = 3;`, `__thread int u;` | `.tdata.t`, `.tbss.u` (`STT_TLS`) | same |
//! | `static int n` inside `f` | `n.0` in `.bss.n.0` | `f.n` in `.bss.f.n` |
//! | `__func__` in `f` | local `__func__.0` in `.rodata.__func__.0` | local `.L__func__.f` in `.rodata.str1.1` |
//! | string literals | `.LC0` labels (`NOTYPE`, size 0) in `.rodata.<fn>.str1.1` | `.L.str` objects in `.rodata.str1.1` |
//!
//! (1) Also `main.cold` in `.text.unlikely.main`, `f.constprop.0.cold` in
//! `.text.unlikely.f.constprop.0`, and a cold clone `r.constprop.0` in
//! `.text.unlikely.r.constprop.0`. Without `-ffunction-sections`, gcc puts
//! cold code in `.text.unlikely` and clang in `.text.unlikely.` (trailing
//! dot).
//!
//! So the section is always the symbol's full name behind a prefix, with
//! one exception: a cold part `<base>.cold` goes to `.text.unlikely.<base>`
//! (only `.cold` is stripped: clones keep their whole name, `.part.0`
//! included). gcc 8 named cold parts `<base>.cold.<N>`, accepted
//! too. That is kpatch's `is_bundleable` rule, extended to the prefixes gcc
//! and LLVM use (`.text.split.` is clang's `-fsplit-machine-functions`,
//! `.text.unknown.` its profile-guided "unknown hotness").
//!
//! # Normalized relocations
//! A relocation is compared as (offset, `r_type`, target, addend) where the
//! target is the symbol's name, or for a section symbol the section's name.
//! A target inside a mergeable section (`SHF_MERGE`: `.rodata.str1.1`,
//! `.rodata.cst8`) is replaced by the bytes it points at, the string up to
//! its NUL or the constant, because the offsets and `.LC<N>` label numbers
//! there shift whenever any literal of the file is added or removed, while
//! a changed literal must count as a change of the function using it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{ElfFile, FileHeader, SectionHeader};
use object::{
    Architecture, Object, ObjectKind, ObjectSection, ObjectSymbol, RelocationEncoding,
    RelocationFlags, RelocationKind, RelocationTarget, SectionIndex, SymbolKind, SymbolSection,
};

/// Why an object cannot be analysed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The file cannot be read.
    #[error("cannot read `{}`: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// Not an ELF file (and not LLVM bitcode).
    #[error(
        "`{}` is not an ELF file: pass objects written by gcc or clang",
        path.display()
    )]
    NotElf { path: PathBuf },
    /// ELF magic, but the headers or tables do not parse.
    #[error("`{}` is a malformed ELF file ({message}): rebuild it", path.display())]
    Malformed { path: PathBuf, message: String },
    /// An LTO object: IR instead of machine code. `detail` says which kind:
    /// `.gnu.lto_ sections` (gcc `-flto`) or `LLVM bitcode` (clang `-flto`).
    #[error(
        "`{}` holds LTO IR ({detail}), not code: livepatch diffs need objects compiled without -flto",
        path.display()
    )]
    LtoIr { path: PathBuf, detail: &'static str },
    /// A linked image where a relocatable object (`ET_REL`) was expected.
    #[error(
        "`{}` is a linked image, not a relocatable object: pass the `.o` files the compiler wrote",
        path.display()
    )]
    NotRelocatable { path: PathBuf },
    /// A relocatable object where a linked image (`ET_EXEC`, `ET_DYN`) was
    /// expected.
    #[error(
        "`{}` is a relocatable object, not a linked image: pass the linked image (vmlinux, xen-syms, a program)",
        path.display()
    )]
    NotLinked { path: PathBuf },
}

impl ObjectError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ObjectError::Io { path, .. }
            | ObjectError::NotElf { path }
            | ObjectError::Malformed { path, .. }
            | ObjectError::LtoIr { path, .. }
            | ObjectError::NotRelocatable { path }
            | ObjectError::NotLinked { path } => path,
        }
    }
}

/// What a symbol is, for livepatching: code or data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    /// `STT_FUNC` (and `STT_GNU_IFUNC`).
    Function,
    /// `STT_OBJECT` and `STT_TLS`.
    Data,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Function => "function",
            ItemKind::Data => "data",
        })
    }
}

/// Where a symbol sits, judged from its name and its section's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Its own section, named after it (`.text.f`, `.text.unlikely.f` for
    /// `f.cold`, `.data.v`): what livepatch tools need.
    OwnSection,
    /// A section the compiler fills with every item of its kind when the
    /// split flags are off (`.text`, `.data`, `.bss`, `.text.unlikely`,
    /// `COMMON` for `-fcommon` tentative definitions).
    SharedSection,
    /// Any other section: an explicit `__attribute__((section))`
    /// (`.data..read_mostly`, `.init.text`) or an alias living in another
    /// function's section. Compared by the symbol's own byte range.
    OtherSection,
}

/// A relocation target, named so that two builds can be compared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NormalizedTarget {
    /// A named symbol (function, object, undefined external).
    Symbol(String),
    /// A section symbol: the section's name.
    Section(String),
    /// A NUL-terminated string in a `SHF_MERGE|SHF_STRINGS` section,
    /// without its terminator.
    MergedString(Vec<u8>),
    /// An entry of a `SHF_MERGE` constant pool (`.rodata.cst8`).
    MergedConstant(Vec<u8>),
    /// No symbol (`r_sym` 0).
    Absolute,
}

/// One relocation of an item, normalized for comparing two builds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NormalizedRelocation {
    /// Offset from the start of the item (its section, or its symbol when
    /// it shares the section).
    pub offset: u64,
    /// The relocation type (`r_type`): kind, encoding and size in one.
    pub flags: RelocationFlags,
    pub target: NormalizedTarget,
    /// The addend; for a merged target, relative to the start of the
    /// string or constant pointed at.
    pub addend: i64,
}

/// A function or data item of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The symbol name, as the compiler wrote it (`f.constprop.0`).
    pub name: String,
    pub kind: ItemKind,
    /// The section holding it.
    pub section: String,
    /// `STB_LOCAL` (a `static` function or variable, or a compiler clone).
    pub local: bool,
    /// How it sits in `section`.
    pub placement: Placement,
    /// The symbol's size (`st_size`).
    pub size: u64,
    /// The size of `section`.
    pub section_size: u64,
    /// The compared bytes: the whole section when the item is alone in it,
    /// else its symbol's range; `None` for `SHT_NOBITS` (`.bss.*`, `.tbss.*`),
    /// compared by size. Bytes under implicit (`REL`) addends are zeroed, the
    /// addend is in the relocation.
    pub bytes: Option<Vec<u8>>,
    /// The relocations applying to those bytes, sorted by offset.
    pub relocations: Vec<NormalizedRelocation>,
}

/// A symbol that should have its own section and does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsplitSymbol {
    pub name: String,
    pub kind: ItemKind,
    /// The shared section (`.text`, `.data`), or `COMMON`.
    pub section: String,
    /// The symbol's size (`st_size`): gcc and clang size everything they
    /// emit, top-level asm may not (`.type f, @function` without `.size`).
    pub size: u64,
    /// A call-frame description (an FDE in `.eh_frame` or `.debug_frame`)
    /// starts at this function: the compiler writes one for every function
    /// it emits when unwind tables or debug info are on (gcc's
    /// `.cfi_sections .debug_frame` under `-fno-asynchronous-unwind-tables
    /// -g`), top-level asm only if it says `.cfi_startproc`. Always false
    /// for data.
    pub frame_info: bool,
}

/// Where the items of a relocatable object sit, without their bytes or
/// relocations: all `check` judges, so it reads no section contents
/// (`diff` reads them, [`ObjectItems`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemLayout {
    pub path: PathBuf,
    /// Each item's kind and placement, in symbol-table order, including
    /// those in shared sections (which are also listed in `unsplit`).
    pub placements: Vec<(ItemKind, Placement)>,
    /// As [`ObjectItems::unsplit`].
    pub unsplit: Vec<UnsplitSymbol>,
}

/// A relocatable object as `check` judges its split: where its items sit,
/// and what tells the compiler's placement from the source's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitFacts {
    pub items: ItemLayout,
    /// `.comment` holds an identification string. gcc and clang write one
    /// (`.ident`) for every translation unit they compile; the assembler
    /// alone writes none, so an object assembled from `.S` or `.s` has
    /// none (unless its source says `.ident`, or the C was compiled with
    /// `-fno-ident`).
    pub compiler_comment: bool,
}

/// The items of one relocatable object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectItems {
    pub path: PathBuf,
    /// Every function and data item in symbol-table order, including those
    /// in shared sections (which are also listed in `unsplit`).
    pub items: Vec<Item>,
    /// Functions and data in shared sections: the object was not compiled
    /// with `-ffunction-sections -fdata-sections` (or with `-fcommon`).
    pub unsplit: Vec<UnsplitSymbol>,
}

/// The prefixes the compiler puts in front of a function's name, beyond
/// plain `.text.`: gcc's `default_function_section` kinds and LLVM's
/// section prefixes.
pub const FUNCTION_SECTION_KINDS: &[&str] =
    &["unlikely", "hot", "startup", "exit", "split", "unknown"];

/// The prefixes `-fdata-sections` puts in front of a data item's name:
/// kpatch's `is_bundleable` list, Linux's `DATA_MAIN`/`BSS_MAIN`/`SDATA_MAIN`,
/// gcc's TLS and x86-64 large-model sections, RISC-V's `.srodata`.
pub const DATA_SECTION_PREFIXES: &[&str] = &[
    ".data.",
    ".bss.",
    ".rodata.",
    ".data.rel.",
    ".data.rel.local.",
    ".data.rel.ro.",
    ".data.rel.ro.local.",
    ".tdata.",
    ".tbss.",
    ".sdata.",
    ".sbss.",
    ".srodata.",
    ".ldata.",
    ".lbss.",
    ".lrodata.",
];

/// Sections the compiler fills with every function when
/// `-ffunction-sections` is off: gcc's `.text.<kind>`, and clang's
/// `.text.<kind>.` with a trailing dot (clang 14 puts a cold function in
/// `.text.unlikely.`).
pub const SHARED_TEXT_SECTIONS: &[&str] = &[
    ".text",
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
];

/// Sections the compiler fills with every data item when `-fdata-sections`
/// is off.
const SHARED_DATA_SECTIONS: &[&str] = &[
    ".data",
    ".bss",
    ".rodata",
    ".data.rel",
    ".data.rel.local",
    ".data.rel.ro",
    ".data.rel.ro.local",
    ".tdata",
    ".tbss",
    ".sdata",
    ".sbss",
    ".srodata",
    ".ldata",
    ".lbss",
    ".lrodata",
    "COMMON",
];

/// The name without a cold-part suffix: `f.cold` → `f`, gcc 8's
/// `f.cold.3` → `f`; `None` when it is not a cold part.
pub fn cold_part_base(name: &str) -> Option<&str> {
    if let Some(base) = name.strip_suffix(".cold") {
        return Some(base).filter(|base| !base.is_empty());
    }
    let (rest, number) = name.rsplit_once('.')?;
    if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    rest.strip_suffix(".cold").filter(|base| !base.is_empty())
}

/// Where function `name` sits when it is in section `section`.
pub fn function_placement(name: &str, section: &str) -> Placement {
    if let Some(rest) = section.strip_prefix(".text.") {
        if rest == name {
            return Placement::OwnSection;
        }
        if let Some((kind, owner)) = rest.split_once('.')
            && FUNCTION_SECTION_KINDS.contains(&kind)
            && (owner == name || Some(owner) == cold_part_base(name))
        {
            return Placement::OwnSection;
        }
    }
    if SHARED_TEXT_SECTIONS.contains(&section) {
        Placement::SharedSection
    } else {
        Placement::OtherSection
    }
}

/// Where data item `name` sits when it is in section `section`.
pub fn data_placement(name: &str, section: &str) -> Placement {
    let own = DATA_SECTION_PREFIXES
        .iter()
        .any(|prefix| section.strip_prefix(prefix) == Some(name));
    if own {
        Placement::OwnSection
    } else if SHARED_DATA_SECTIONS.contains(&section) {
        Placement::SharedSection
    } else {
        Placement::OtherSection
    }
}

/// Reads relocatable object `path` for `check`: its items and whether a
/// compiler wrote it.
pub fn read_split_facts(path: &Path) -> Result<SplitFacts, ObjectError> {
    let data = read_file(path)?;
    split_facts(path, &parse_elf(path, &data)?)
}

/// [`read_split_facts`] of an object already parsed (`check --build`
/// parses each object once for all its checks).
pub(crate) fn split_facts(path: &Path, parsed: &ParsedElf<'_>) -> Result<SplitFacts, ObjectError> {
    let (items, compiler_comment) = match parsed {
        ParsedElf::Elf32(file) => (layout_of(path, file)?, has_compiler_comment(file)),
        ParsedElf::Elf64(file) => (layout_of(path, file)?, has_compiler_comment(file)),
    };
    Ok(SplitFacts {
        items,
        compiler_comment,
    })
}

/// The bytes of `path`, or why they cannot be read.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, ObjectError> {
    std::fs::read(path).map_err(|error| io_error(path, error))
}

/// The bytes of `path` when it is a regular file (after symlinks, as
/// [`Path::is_file`]), `None` when it is not (gone, a directory): one
/// open, one `fstat` and reads up to the size it gave, where asking
/// `is_file` first and then reading costs two lookups of the path and a
/// read more (`check --build` reads every object of a build).
pub(crate) fn read_if_file(path: &Path) -> Result<Option<Vec<u8>>, ObjectError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(_) if !path.is_file() => return Ok(None),
        Err(error) => return Err(io_error(path, error)),
    };
    let metadata = file.metadata().map_err(|error| io_error(path, error))?;
    if !metadata.is_file() {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(metadata.len())
        .read_to_end(&mut data)
        .map_err(|error| io_error(path, error))?;
    Ok(Some(data))
}

fn io_error(path: &Path, error: std::io::Error) -> ObjectError {
    ObjectError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

fn has_compiler_comment<Elf: FileHeader<Endian = object::Endianness>>(
    file: &ElfFile<'_, Elf>,
) -> bool {
    file.section_by_name(".comment")
        .and_then(|section| section.data().ok())
        .is_some_and(|data| data.iter().any(|byte| *byte != 0))
}

/// The (section, address) at which a call-frame description starts: the
/// targets of the relocations in `.eh_frame` and `.debug_frame` that point
/// into another section. An FDE's initial location is such a relocation
/// (`R_X86_64_PC32 .text+0x40` in `.eh_frame`, `R_X86_64_64` in
/// `.debug_frame`); the other relocations there point at the frame section
/// itself (a CIE), at a personality routine's pointer or at an LSDA, none
/// of which is a function's start in a text section.
fn frame_starts<Elf: FileHeader<Endian = object::Endianness>>(
    file: &ElfFile<'_, Elf>,
) -> object::Result<HashSet<(SectionIndex, u64)>> {
    let mut starts = HashSet::new();
    for section in file.sections() {
        if !matches!(section.name(), Ok(".eh_frame" | ".debug_frame")) {
            continue;
        }
        let mut bytes = section.data()?.to_vec();
        for (offset, relocation) in section.relocations() {
            let RelocationTarget::Symbol(index) = relocation.target() else {
                continue;
            };
            let symbol = file.symbol_by_index(index)?;
            let SymbolSection::Section(target) = symbol.section() else {
                continue;
            };
            if target == section.index() {
                continue;
            }
            let mut addend = relocation.addend();
            // REL (i386, 32-bit Arm): the addend sits in the place.
            if relocation.has_implicit_addend()
                && let Some(implicit) =
                    take_implicit_addend(&mut bytes, offset, &relocation, file.is_little_endian())
            {
                addend = addend.wrapping_add(implicit);
            }
            starts.insert((target, symbol.address().wrapping_add_signed(addend)));
        }
    }
    Ok(starts)
}

/// Reads the functions and data items of relocatable object `path`.
pub fn read_items(path: &Path) -> Result<ObjectItems, ObjectError> {
    let data = read_file(path)?;
    match parse_elf(path, &data)? {
        ParsedElf::Elf32(file) => items_of(path, &file),
        ParsedElf::Elf64(file) => items_of(path, &file),
    }
}

/// An ELF file of either class, parsed.
pub(crate) enum ParsedElf<'data> {
    Elf32(object::read::elf::ElfFile32<'data>),
    Elf64(object::read::elf::ElfFile64<'data>),
}

/// The magic of LLVM bitcode (`BC` 0xC0DE) and of its wrapper header
/// (0x0B17C0DE, little endian), what clang `-flto` writes instead of ELF.
const BITCODE_MAGIC: &[u8] = b"BC\xc0\xde";
const BITCODE_WRAPPER_MAGIC: &[u8] = b"\xde\xc0\x17\x0b";

/// Parses `data` as ELF, refusing LTO IR: gcc `-flto` objects are ELF but
/// hold only `.gnu.lto_*` IR sections (a `-ffat-lto-objects` one also holds
/// code, but an `-flto` link regenerates the code from the IR, so that is
/// not what runs), clang `-flto` writes bitcode.
pub(crate) fn parse_elf<'data>(
    path: &Path,
    data: &'data [u8],
) -> Result<ParsedElf<'data>, ObjectError> {
    if data.starts_with(BITCODE_MAGIC) || data.starts_with(BITCODE_WRAPPER_MAGIC) {
        return Err(ObjectError::LtoIr {
            path: path.to_path_buf(),
            detail: "LLVM bitcode",
        });
    }
    if !data.starts_with(&elf::ELFMAG) {
        return Err(ObjectError::NotElf {
            path: path.to_path_buf(),
        });
    }
    let malformed = |error: object::Error| ObjectError::Malformed {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let parsed = match object::File::parse(data).map_err(malformed)? {
        object::File::Elf32(file) => ParsedElf::Elf32(file),
        object::File::Elf64(file) => ParsedElf::Elf64(file),
        _ => {
            return Err(ObjectError::NotElf {
                path: path.to_path_buf(),
            });
        }
    };
    let has_lto_sections = match &parsed {
        ParsedElf::Elf32(file) => has_gnu_lto_sections(file),
        ParsedElf::Elf64(file) => has_gnu_lto_sections(file),
    };
    if has_lto_sections {
        return Err(ObjectError::LtoIr {
            path: path.to_path_buf(),
            detail: ".gnu.lto_ sections",
        });
    }
    Ok(parsed)
}

fn has_gnu_lto_sections<Elf: FileHeader>(file: &ElfFile<'_, Elf>) -> bool {
    file.sections().any(|section| {
        section
            .name_bytes()
            .is_ok_and(|name| name.starts_with(b".gnu.lto_"))
    })
}

/// A candidate symbol, before its bytes are read.
struct Candidate {
    name: String,
    kind: ItemKind,
    section_index: Option<SectionIndex>,
    section: String,
    local: bool,
    placement: Placement,
    address: u64,
    size: u64,
}

/// The functions and data items of a relocatable object, where each sits,
/// and those in shared sections: the one reading of the symbol table
/// behind [`items_of`] (which adds the contents) and [`layout_of`].
fn candidates_of<Elf: FileHeader<Endian = object::Endianness>>(
    path: &Path,
    file: &ElfFile<'_, Elf>,
) -> Result<(Vec<Candidate>, Vec<UnsplitSymbol>), ObjectError> {
    if file.kind() != ObjectKind::Relocatable {
        return Err(ObjectError::NotRelocatable {
            path: path.to_path_buf(),
        });
    }
    let malformed = |error: object::Error| ObjectError::Malformed {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let frames = frame_starts(file).map_err(malformed)?;
    let mut candidates = Vec::new();
    for symbol in file.symbols() {
        let kind = match symbol.kind() {
            SymbolKind::Text => ItemKind::Function,
            SymbolKind::Data | SymbolKind::Tls => ItemKind::Data,
            // Section, file and NOTYPE symbols (`.LC0` string labels) are
            // not items.
            _ => continue,
        };
        let name = symbol.name().map_err(malformed)?;
        // Assembler-local names (clang's `.L.str`, `.L__func__.f`) are
        // literals, compared through the relocations that use them.
        if name.is_empty() || name.starts_with(".L") {
            continue;
        }
        let local = symbol.is_local();
        if local && symbol.size() == 0 {
            continue;
        }
        let (section_index, section) = match symbol.section() {
            SymbolSection::Section(index) => {
                let section = file.section_by_index(index).map_err(malformed)?;
                if local && is_mergeable(&section) {
                    continue;
                }
                (Some(index), section.name().map_err(malformed)?.to_string())
            }
            SymbolSection::Common => (None, "COMMON".to_string()),
            _ => continue,
        };
        let placement = match kind {
            ItemKind::Function => function_placement(name, &section),
            ItemKind::Data => data_placement(name, &section),
        };
        candidates.push(Candidate {
            name: name.to_string(),
            kind,
            section_index,
            section,
            local,
            placement,
            address: symbol.address(),
            size: symbol.size(),
        });
    }

    let unsplit = candidates
        .iter()
        .filter(|candidate| candidate.placement == Placement::SharedSection)
        .map(|candidate| UnsplitSymbol {
            name: candidate.name.clone(),
            kind: candidate.kind,
            section: candidate.section.clone(),
            size: candidate.size,
            frame_info: candidate.kind == ItemKind::Function
                && candidate
                    .section_index
                    .is_some_and(|index| frames.contains(&(index, candidate.address))),
        })
        .collect();
    Ok((candidates, unsplit))
}

/// Where the items of a relocatable object sit, no contents read.
fn layout_of<Elf: FileHeader<Endian = object::Endianness>>(
    path: &Path,
    file: &ElfFile<'_, Elf>,
) -> Result<ItemLayout, ObjectError> {
    let (candidates, unsplit) = candidates_of(path, file)?;
    Ok(ItemLayout {
        path: path.to_path_buf(),
        placements: candidates
            .iter()
            .map(|candidate| (candidate.kind, candidate.placement))
            .collect(),
        unsplit,
    })
}

fn items_of<Elf: FileHeader<Endian = object::Endianness>>(
    path: &Path,
    file: &ElfFile<'_, Elf>,
) -> Result<ObjectItems, ObjectError> {
    let (candidates, unsplit) = candidates_of(path, file)?;
    let malformed = |error: object::Error| ObjectError::Malformed {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    // Per section: how many items it holds, and its bytes and relocations,
    // read once (a `vmlinux.o` has a hundred thousand symbols).
    let mut items_per_section: HashMap<SectionIndex, usize> = HashMap::new();
    for candidate in &candidates {
        if let Some(index) = candidate.section_index {
            *items_per_section.entry(index).or_default() += 1;
        }
    }
    let mut contents: HashMap<SectionIndex, SectionContents> = HashMap::new();
    let mut items = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let (section_size, bytes, relocations) = match candidate.section_index {
            // A common symbol has no section: only its size is known.
            None => (candidate.size, None, Vec::new()),
            Some(index) => {
                let section = match contents.entry(index) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => {
                        let section = file.section_by_index(index).map_err(malformed)?;
                        entry.insert(section_contents(file, &section).map_err(malformed)?)
                    }
                };
                // Alone in its section (the split case), the item is the
                // whole section, so padding and trailing literals count
                // too. Sharing it (an alias, an `ld -r` output joining two
                // `.text.validate`, an explicit section), it is its
                // symbol's range.
                let range = if items_per_section[&index] > 1 {
                    candidate.address..candidate.address.saturating_add(candidate.size)
                } else {
                    0..section.size
                };
                let (bytes, relocations) = section.slice(range);
                (section.size, bytes, relocations)
            }
        };
        items.push(Item {
            name: candidate.name,
            kind: candidate.kind,
            section: candidate.section,
            local: candidate.local,
            placement: candidate.placement,
            size: candidate.size,
            section_size,
            bytes,
            relocations,
        });
    }
    Ok(ObjectItems {
        path: path.to_path_buf(),
        items,
        unsplit,
    })
}

fn section_flags<'data>(
    section: &impl ObjectSection<'data>,
) -> (elf::SectionType, elf::SectionFlags) {
    match section.flags() {
        object::SectionFlags::Elf { sh_type, sh_flags } => (sh_type, sh_flags),
        _ => (elf::SectionType::default(), elf::SectionFlags::default()),
    }
}

fn is_mergeable<'data>(section: &impl ObjectSection<'data>) -> bool {
    section_flags(section).1.contains(elf::SHF_MERGE)
}

/// A section's bytes and normalized relocations, read once for all the
/// items in it.
struct SectionContents {
    size: u64,
    /// `None` for `SHT_NOBITS`. Implicit (`REL`) addends are zeroed.
    bytes: Option<Vec<u8>>,
    /// Sorted by offset, offsets from the start of the section.
    relocations: Vec<NormalizedRelocation>,
}

impl SectionContents {
    /// The bytes and relocations of `range`, offsets made relative to its
    /// start.
    fn slice(&self, range: std::ops::Range<u64>) -> (Option<Vec<u8>>, Vec<NormalizedRelocation>) {
        let bytes = self.bytes.as_ref().map(|bytes| {
            let start = usize::try_from(range.start)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = usize::try_from(range.end)
                .unwrap_or(usize::MAX)
                .clamp(start, bytes.len());
            bytes[start..end].to_vec()
        });
        let first = self
            .relocations
            .partition_point(|relocation| relocation.offset < range.start);
        let relocations = self.relocations[first..]
            .iter()
            .take_while(|relocation| relocation.offset < range.end)
            .map(|relocation| NormalizedRelocation {
                offset: relocation.offset - range.start,
                ..relocation.clone()
            })
            .collect();
        (bytes, relocations)
    }
}

fn section_contents<Elf: FileHeader<Endian = object::Endianness>>(
    file: &ElfFile<'_, Elf>,
    section: &object::read::elf::ElfSection<'_, '_, Elf>,
) -> object::Result<SectionContents> {
    let nobits = section_flags(section).0 == elf::SHT_NOBITS;
    let mut bytes = if nobits {
        None
    } else {
        Some(section.data()?.to_vec())
    };
    let mut relocations = Vec::new();
    for (offset, relocation) in section.relocations() {
        let mut addend = relocation.addend();
        // REL (i386, 32-bit Arm): the addend sits in the bytes; move it into
        // the relocation so the bytes compare equal when only it moved.
        if relocation.has_implicit_addend()
            && let Some(bytes) = bytes.as_mut()
            && let Some(implicit) =
                take_implicit_addend(bytes, offset, &relocation, file.is_little_endian())
        {
            addend = addend.wrapping_add(implicit);
        }
        let (target, addend) = normalize_target(file, &relocation, addend)?;
        relocations.push(NormalizedRelocation {
            offset,
            flags: relocation.flags(),
            target,
            addend,
        });
    }
    relocations.sort_by_key(|relocation| relocation.offset);
    Ok(SectionContents {
        size: section.size(),
        bytes,
        relocations,
    })
}

/// Reads and zeroes the inline addend of a plainly encoded 8/16/32/64-bit
/// place.
fn take_implicit_addend(
    bytes: &mut [u8],
    offset: u64,
    relocation: &object::Relocation,
    little_endian: bool,
) -> Option<i64> {
    if relocation.encoding() != RelocationEncoding::Generic {
        return None;
    }
    let width = usize::from(relocation.size() / 8);
    if !matches!(width, 1 | 2 | 4 | 8) {
        return None;
    }
    let start = usize::try_from(offset).ok()?;
    let place = bytes.get_mut(start..start.checked_add(width)?)?;
    let mut buffer = [0u8; 8];
    if little_endian {
        buffer[..width].copy_from_slice(place);
    } else {
        for (index, byte) in place.iter().rev().enumerate() {
            buffer[index] = *byte;
        }
    }
    let unsigned = u64::from_le_bytes(buffer);
    let shift = 64 - 8 * width as u32;
    let value = ((unsigned << shift) as i64) >> shift;
    place.fill(0);
    Some(value)
}

/// How many bytes past `S + A` an x86 PC-relative place points: the CPU
/// adds the displacement to the address of the next instruction, which is
/// the end of the 32-bit field for the `lea`/`mov` that load a literal
/// (kpatch's `rela_target_offset` adds the same 4). Other architectures
/// address `S + A` itself (AArch64 `adrp`/`add :lo12:`).
fn pc_relative_adjust(architecture: Architecture, relocation: &object::Relocation) -> i64 {
    let x86 = matches!(
        architecture,
        Architecture::X86_64 | Architecture::X86_64_X32 | Architecture::I386
    );
    let relative = matches!(
        relocation.kind(),
        RelocationKind::Relative | RelocationKind::PltRelative
    );
    if x86 && relative {
        i64::from(relocation.size() / 8)
    } else {
        0
    }
}

fn normalize_target<Elf: FileHeader<Endian = object::Endianness>>(
    file: &ElfFile<'_, Elf>,
    relocation: &object::Relocation,
    addend: i64,
) -> object::Result<(NormalizedTarget, i64)> {
    let symbol_index = match relocation.target() {
        RelocationTarget::Symbol(index) => index,
        RelocationTarget::Section(index) => {
            let section = file.section_by_index(index)?;
            return Ok((
                NormalizedTarget::Section(section.name()?.to_string()),
                addend,
            ));
        }
        _ => return Ok((NormalizedTarget::Absolute, addend)),
    };
    let symbol = file.symbol_by_index(symbol_index)?;
    let SymbolSection::Section(section_index) = symbol.section() else {
        return Ok((NormalizedTarget::Symbol(symbol.name()?.to_string()), addend));
    };
    let section = file.section_by_index(section_index)?;
    if is_mergeable(&section) {
        let header = section.elf_section_header();
        let entry_size = header.sh_entsize(file.endian()).into();
        let strings = section_flags(&section).1.contains(elf::SHF_STRINGS);
        let pointed = i64::try_from(symbol.address())
            .unwrap_or(i64::MAX)
            .wrapping_add(addend)
            .wrapping_add(pc_relative_adjust(file.architecture(), relocation));
        let data = section.data()?;
        if let Ok(pointed) = u64::try_from(pointed)
            && let Some(entity) = merged_entity(data, entry_size, strings, pointed)
        {
            let start = entity.start as i64;
            let residual = addend
                .wrapping_add(symbol.address() as i64)
                .wrapping_sub(start);
            let bytes = data[entity].to_vec();
            let target = if strings {
                NormalizedTarget::MergedString(bytes)
            } else {
                NormalizedTarget::MergedConstant(bytes)
            };
            return Ok((target, residual));
        }
    }
    if symbol.kind() == SymbolKind::Section {
        Ok((
            NormalizedTarget::Section(section.name()?.to_string()),
            addend,
        ))
    } else {
        Ok((NormalizedTarget::Symbol(symbol.name()?.to_string()), addend))
    }
}

/// The byte range of the entry of a mergeable section that `offset` points
/// into: for strings, from the character after the previous NUL up to (not
/// including) the next NUL, in units of `entry_size` (the character width);
/// for constants, the `entry_size`-byte entry. `None` when out of range.
pub fn merged_entity(
    data: &[u8],
    entry_size: u64,
    strings: bool,
    offset: u64,
) -> Option<std::ops::Range<usize>> {
    let width = usize::try_from(entry_size.max(1)).ok()?;
    let offset = usize::try_from(offset).ok()?;
    if offset >= data.len() {
        return None;
    }
    let aligned = offset - offset % width;
    if !strings {
        let end = aligned.checked_add(width)?;
        return (end <= data.len()).then_some(aligned..end);
    }
    let is_nul = |at: usize| data[at..at + width].iter().all(|byte| *byte == 0);
    let mut start = aligned;
    while start >= width && !is_nul(start - width) {
        start -= width;
    }
    let mut end = aligned;
    while end + width <= data.len() && !is_nul(end) {
        end += width;
    }
    Some(start..end.min(data.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_function(name: &str, section: &str, expected: Placement) {
        assert_eq!(
            function_placement(name, section),
            expected,
            "function `{name}` in `{section}`"
        );
    }

    #[track_caller]
    fn check_data(name: &str, section: &str, expected: Placement) {
        assert_eq!(
            data_placement(name, section),
            expected,
            "data `{name}` in `{section}`"
        );
    }

    #[test]
    fn function_placement_table() {
        use Placement::*;
        let table = [
            ("f", ".text.f", OwnSection),
            ("f.constprop.0", ".text.f.constprop.0", OwnSection),
            ("f.isra.0", ".text.f.isra.0", OwnSection),
            ("f.part.0", ".text.f.part.0", OwnSection),
            ("report", ".text.unlikely.report", OwnSection),
            (
                "bad.constprop.0",
                ".text.unlikely.bad.constprop.0",
                OwnSection,
            ),
            ("f.cold", ".text.unlikely.f", OwnSection),
            ("f.cold.3", ".text.unlikely.f", OwnSection),
            ("main.cold", ".text.unlikely.main", OwnSection),
            (
                "f.constprop.0.cold",
                ".text.unlikely.f.constprop.0",
                OwnSection,
            ),
            ("f.cold", ".text.split.f", OwnSection),
            ("hotfn", ".text.hot.hotfn", OwnSection),
            ("main", ".text.startup.main", OwnSection),
            ("ctor", ".text.startup.ctor", OwnSection),
            ("dtor", ".text.exit.dtor", OwnSection),
            ("startup", ".text.startup", OwnSection),
            ("unlikely", ".text.unlikely", OwnSection),
            ("startup_late", ".text.startup_late", OwnSection),
            ("f", ".text", SharedSection),
            ("f", ".text.unlikely", SharedSection),
            ("main", ".text.startup", SharedSection),
            ("dtor", ".text.exit", SharedSection),
            ("f", ".text.hot", SharedSection),
            ("report", ".text.unlikely.", SharedSection),
            ("f", ".text.hot.", SharedSection),
            ("g", ".text.f", OtherSection),
            ("f.cold", ".text.f", OtherSection),
            ("f.part.0", ".text.unlikely.f", OtherSection),
            ("f", ".text.cold.f", OtherSection),
            ("_start", ".head.text", OtherSection),
            ("init_fn", ".init.text", OtherSection),
        ];
        for (name, section, expected) in table {
            check_function(name, section, expected);
        }
    }

    #[test]
    fn data_placement_table() {
        use Placement::*;
        let table = [
            ("counter", ".data.counter", OwnSection),
            ("zeroed", ".bss.zeroed", OwnSection),
            ("table", ".rodata.table", OwnSection),
            ("ptr", ".data.rel.local.ptr", OwnSection),
            ("names", ".data.rel.ro.local.names", OwnSection),
            ("names", ".data.rel.ro.names", OwnSection),
            ("ops", ".data.rel.ops", OwnSection),
            ("tls1", ".tbss.tls1", OwnSection),
            ("tls2", ".tdata.tls2", OwnSection),
            ("small", ".sdata.small", OwnSection),
            ("small", ".sbss.small", OwnSection),
            ("calls.0", ".bss.calls.0", OwnSection),
            ("f.calls", ".bss.f.calls", OwnSection),
            ("__func__.0", ".rodata.__func__.0", OwnSection),
            ("counter", ".data", SharedSection),
            ("zeroed", ".bss", SharedSection),
            ("table", ".rodata", SharedSection),
            ("ptr", ".data.rel.local", SharedSection),
            ("tls1", ".tbss", SharedSection),
            ("common", "COMMON", SharedSection),
            ("nr_cpus", ".data..read_mostly", OtherSection),
            ("counter", ".data.other", OtherSection),
            ("counter", ".bss.counter.0", OtherSection),
        ];
        for (name, section, expected) in table {
            check_data(name, section, expected);
        }
    }

    #[test]
    fn cold_part_base_table() {
        let table = [
            ("f.cold", Some("f")),
            ("f.cold.0", Some("f")),
            ("f.constprop.0.cold", Some("f.constprop.0")),
            ("f", None),
            (".cold", None),
            ("f.cold.x", None),
            ("f.cold.", None),
            ("f.part.0", None),
            ("coldf", None),
        ];
        for (name, expected) in table {
            assert_eq!(cold_part_base(name), expected, "{name}");
        }
    }

    #[track_caller]
    fn check_entity(
        data: &[u8],
        entry_size: u64,
        strings: bool,
        offset: u64,
        expected: Option<std::ops::Range<usize>>,
    ) {
        assert_eq!(
            merged_entity(data, entry_size, strings, offset),
            expected,
            "{data:?} entsize {entry_size} at {offset}"
        );
    }

    #[test]
    fn merged_entity_table() {
        let strings = b"hello\0world\0\0x\0";
        check_entity(strings, 1, true, 0, Some(0..5));
        check_entity(strings, 1, true, 2, Some(0..5));
        check_entity(strings, 1, true, 6, Some(6..11));
        check_entity(strings, 1, true, 12, Some(12..12));
        check_entity(strings, 1, true, 13, Some(13..14));
        check_entity(strings, 1, true, 15, None);
        // Two-byte characters: "ab", then "c".
        let wide = b"a\0b\0\0\0c\0\0\0";
        check_entity(wide, 2, true, 0, Some(0..4));
        check_entity(wide, 2, true, 6, Some(6..8));
        let constants = b"\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0";
        check_entity(constants, 8, false, 8, Some(8..16));
        check_entity(constants, 8, false, 12, Some(8..16));
        check_entity(&constants[..4], 8, false, 0, None);
    }
}
