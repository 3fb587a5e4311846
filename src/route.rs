//! Route: which program chain a call runs, and whether secwrap wraps it or
//! only passes it through.
//!
//! Pure pass-through (the process is replaced by the compiler, nothing
//! recorded) happens for `SECWRAP_DISABLE=1`, for a secwrap run by another
//! secwrap's compiler (the recursion guard `SECWRAP_DEPTH` is set: the outer
//! one has already injected and recorded), for programs that are not
//! compilers (`CROSS_COMPILE="secwrap "` also sends `objcopy`, `ld`, `ar`),
//! and for a launcher asked about itself (`secwrap ccache -s`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::compiler;
use crate::exit::{EXIT_NOT_FOUND, MAX_DEPTH};
use crate::invocation::Invocation;
use crate::shim::ShimError;

/// A program chain: an optional launcher (with its own words), then the
/// compiler by absolute path, then the arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub launcher: Option<PathBuf>,
    /// The launcher's own arguments from the config (`["distcc", "-j4"]`).
    pub launcher_words: Vec<OsString>,
    pub compiler: PathBuf,
    pub args: Vec<OsString>,
}

impl Chain {
    /// The program to start and its arguments: the launcher (if any) runs
    /// the compiler by absolute path, so its own `PATH` search cannot come
    /// back to secwrap.
    pub fn command(&self) -> (PathBuf, Vec<OsString>) {
        match &self.launcher {
            Some(launcher) => {
                let mut args = Vec::with_capacity(self.launcher_words.len() + self.args.len() + 1);
                args.extend_from_slice(&self.launcher_words);
                args.push(self.compiler.clone().into_os_string());
                args.extend_from_slice(&self.args);
                (launcher.clone(), args)
            }
            None => (self.compiler.clone(), self.args.clone()),
        }
    }
}

/// What to do with the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Replace secwrap with the chain, unchanged and unrecorded; `guard`
    /// passes the recursion guard on (an inner secwrap's child).
    PassThrough { chain: Chain, guard: bool },
    /// Plan, run and record; the chain as the user asked for it.
    Wrap(Chain),
}

/// Resolves the launcher and compiler the call names and decides the route.
pub fn route(invocation: &Invocation) -> Result<Route, ShimError> {
    let word = invocation.word();
    let name = Path::new(word).file_name().unwrap_or(word.as_os_str());
    if invocation.depth >= MAX_DEPTH {
        return Err(ShimError::fatal(
            EXIT_NOT_FOUND,
            format!(
                "`{}` leads back to secwrap {} times: a wrapper on PATH after secwrap calls `{}` again; no real compiler reached",
                word.to_string_lossy(),
                invocation.depth,
                name.to_string_lossy()
            ),
        ));
    }
    let path_var = invocation.path_var.as_deref();
    let (cwd, me) = (&invocation.cwd, &invocation.me);

    // `secwrap ccache gcc ...`: the compiler is the word after the launcher.
    let mut rest = invocation.rest();
    let explicit_launcher = match compiler::launcher_name(Path::new(word)) {
        Some(_) => {
            let launcher = compiler::resolve_program(word, path_var, cwd, me).ok_or_else(|| {
                ShimError::fatal(
                    EXIT_NOT_FOUND,
                    format!("launcher `{}` not found on PATH", word.to_string_lossy()),
                )
            })?;
            match rest.split_first() {
                Some((next, others)) if !next.as_bytes().starts_with(b"-") => {
                    rest = others;
                    Some((launcher, next))
                }
                // The launcher's own options (`ccache -s`): not a compile.
                _ => {
                    return Ok(Route::PassThrough {
                        chain: launcher_only(launcher, rest),
                        guard: false,
                    });
                }
            }
        }
        None => None,
    };
    let compiler_word = explicit_launcher.as_ref().map_or(word, |(_, next)| next);
    let compiler_name = Path::new(compiler_word)
        .file_name()
        .unwrap_or(compiler_word.as_os_str());
    let inner = invocation.depth > 0;
    let use_launchers = !inner && !invocation.disabled && explicit_launcher.is_none();
    let resolved = compiler::resolve(
        compiler_word,
        path_var,
        cwd,
        me,
        use_launchers,
        invocation.word_index == 0,
    )
    .map_err(|not_found| ShimError::compiler_not_found(&not_found))?;
    let chain = Chain {
        launcher: explicit_launcher
            .map(|(launcher, _)| launcher)
            .or(resolved.launcher),
        launcher_words: Vec::new(),
        compiler: resolved.compiler,
        args: rest.to_vec(),
    };
    if invocation.disabled || inner || compiler::compiler_family(compiler_name).is_none() {
        return Ok(Route::PassThrough {
            chain,
            guard: inner,
        });
    }
    Ok(Route::Wrap(chain))
}

/// `secwrap ccache -s`: the launcher alone, with its own arguments.
fn launcher_only(launcher: PathBuf, args: &[OsString]) -> Chain {
    Chain {
        launcher: None,
        launcher_words: Vec::new(),
        compiler: launcher,
        args: args.to_vec(),
    }
}
