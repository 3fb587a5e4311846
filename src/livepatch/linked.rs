//! Whether an object ended up in a linked image, judged by symbol names,
//! for `log changed --image`: kpatch-build's `find_kobj` keeps only the
//! objects that are part of vmlinux or of a module, so that boot code
//! (`arch/x86/boot/**`), the vDSO or host tools never reach the patch.
//!
//! An object is in the image when at least one function or data item it
//! defines (global or local, `STT_FUNC`, `STT_OBJECT`, `STT_TLS` or common)
//! has its name among the symbols the image defines. Names only, so a
//! name the image defines for something else (a local `init` or
//! `__func__.0` of another object, x86 boot code's own `memcpy`) counts as
//! a match: an object can be kept wrongly, never dropped wrongly, as long
//! as the image keeps its symbol table (xen-syms, vmlinux, a module, an
//! unstripped program). A kept object that is not linked is a loud failure
//! later (create-diff-object cannot find its symbols in the image), a
//! dropped one a patch silently incomplete. Sizes are not compared: linker
//! relaxation (RISC-V, LoongArch) shrinks functions. Xen's
//! `CONFIG_ENFORCE_UNIQUE_SYMBOLS` renames locals to `file.c#name` in the
//! object and the image alike. An object that defines no function or data
//! (only assembler labels) is not in any image.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSymbol, SymbolKind, SymbolSection};

use crate::livepatch::elf::{self, ObjectError, ParsedElf};

/// Why an image cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// Stripped: nothing to look names up in.
    #[error(
        "`{}` has no symbol table (stripped?): pass the image as linked, before `strip` (vmlinux, xen-syms)",
        path.display()
    )]
    NoSymbols { path: PathBuf },
}

/// The names of the symbols an image defines.
#[derive(Clone, Debug, Default)]
pub struct ImageSymbols {
    names: HashSet<Vec<u8>>,
}

impl ImageSymbols {
    /// Reads the symbol table (`.symtab`) of an ELF image.
    pub fn read(path: &Path) -> Result<ImageSymbols, ImageError> {
        let data = read(path)?;
        let names: HashSet<Vec<u8>> = match elf::parse_elf(path, &data)? {
            ParsedElf::Elf32(file) => defined_names(&file, |_| true),
            ParsedElf::Elf64(file) => defined_names(&file, |_| true),
        };
        if names.is_empty() {
            return Err(ImageError::NoSymbols {
                path: path.to_path_buf(),
            });
        }
        Ok(ImageSymbols { names })
    }

    /// Whether the image defines any of `names`.
    pub fn holds_any<'a>(&self, mut names: impl Iterator<Item = &'a [u8]>) -> bool {
        names.any(|name| self.names.contains(name))
    }
}

/// The names of the functions and data items an object defines.
pub fn defined_items(path: &Path) -> Result<Vec<Vec<u8>>, ObjectError> {
    let data = read(path)?;
    let is_item =
        |kind: SymbolKind| matches!(kind, SymbolKind::Text | SymbolKind::Data | SymbolKind::Tls);
    let names = match elf::parse_elf(path, &data)? {
        ParsedElf::Elf32(file) => defined_names(&file, is_item),
        ParsedElf::Elf64(file) => defined_names(&file, is_item),
    };
    Ok(names.into_iter().collect())
}

/// Names of the symbols `file` defines (in a section, common or absolute) whose kind
/// `wanted` accepts; nameless ones left out.
fn defined_names<'data>(
    file: &impl Object<'data>,
    wanted: impl Fn(SymbolKind) -> bool,
) -> HashSet<Vec<u8>> {
    file.symbols()
        .filter(|symbol| {
            matches!(
                symbol.section(),
                SymbolSection::Section(_) | SymbolSection::Common | SymbolSection::Absolute
            ) && wanted(symbol.kind())
        })
        .filter_map(|symbol| symbol.name_bytes().ok())
        .filter(|name| !name.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, ObjectError> {
    std::fs::read(path).map_err(|error| ObjectError::Io {
        path: path.to_path_buf(),
        message: crate::error::io_message(&error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(image: &[&str], object: &[&str], expected: bool) {
        let symbols = ImageSymbols {
            names: image.iter().map(|name| name.as_bytes().to_vec()).collect(),
        };
        assert_eq!(
            symbols.holds_any(object.iter().map(|name| name.as_bytes())),
            expected,
            "{object:?} in {image:?}"
        );
    }

    #[test]
    fn held_by_name() {
        check(&["main", "kill_pid", "jiffies"], &["kill_pid"], true);
        // One item of the object linked is enough (the rest garbage-collected).
        check(&["main", "used"], &["unused", "used"], true);
        // Xen's renamed locals.
        check(
            &["common/kernel.c#taint_note"],
            &["common/kernel.c#taint_note"],
            true,
        );
        check(&["main", "kill_pid"], &["misc_puts", "lines"], false);
        // Nothing defined: in no image.
        check(&["main"], &[], false);
    }
}
