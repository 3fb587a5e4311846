//! Object analysis for livepatch builds: what a split object holds
//! (`elf`), what changed between two builds (`diff`), and whether the split
//! is what livepatching needs (`check`, with `lds` for linker scripts). Only
//! the subcommands (`cli/`) use it.

pub mod check;
pub mod diff;
pub mod elf;
pub mod lds;
