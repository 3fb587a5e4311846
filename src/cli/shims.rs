//! Subcommands about compiler names, on the one table the shim itself uses
//! ([`compiler_family`]), so that what `wrappers/mklinks` links and what
//! the shim treats as a compiler cannot drift apart (the shell copy it
//! replaces made no link for `arm-none-eabi-gcc`, `gcc72` or cross clang).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use anyhow::Result;

use super::CommandStatus;
use crate::compiler::compiler_family;

/// `secwrap is-compiler NAME...`: prints each NAME (a file name) that is a
/// C/C++ compiler driver name, one a line, as its raw bytes, and exits 0
/// when all of them are, 1 otherwise, as `secwrap probe` answers for flags.
/// One call takes every candidate name, so `mklinks` runs secwrap once.
pub(super) fn is_compiler(names: &[OsString], out: &mut dyn Write) -> Result<CommandStatus> {
    let mut all = true;
    for name in names {
        if compiler_family(name).is_some() {
            out.write_all(name.as_bytes())?;
            out.write_all(b"\n")?;
        } else {
            all = false;
        }
    }
    Ok(if all {
        CommandStatus::Success
    } else {
        CommandStatus::No
    })
}
