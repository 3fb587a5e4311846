//! Object analysis for livepatch builds: what a split object holds
//! (`elf`), what changed between two builds (`diff`), whether the split
//! is what livepatching needs (`check`, with `lds` for linker scripts),
//! and which objects a linked image holds (`linked`). Only the subcommands
//! (`cli/`) use it.

pub mod check;
pub mod diff;
pub mod elf;
pub mod lds;
pub mod linked;
