//! `secwrap probe` and `secwrap cache`.

use std::ffi::OsString;
use std::io::Write;

use crate::cache::{self, DiskCache};
use crate::compiler::{SelfIdentity, resolve, split_cc};
use anyhow::{Context as _, Result, anyhow};

use crate::exit::DEPTH_VAR;
use crate::probe::{ProbeMode, ProbeRequest, Prober, disabled_warning};

use super::{CacheCommand, CommandStatus, current_dir, plural};

pub(super) fn probe_flags(
    cc: Option<String>,
    disable_warning: bool,
    explain: bool,
    no_cache: bool,
    flags: &[OsString],
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let cwd = current_dir()?;
    let cc = cc
        .or_else(|| std::env::var("CC").ok().filter(|cc| !cc.trim().is_empty()))
        .unwrap_or_else(|| "cc".to_string());
    let (compiler_word, extra_args) =
        split_cc(&cc).with_context(|| format!("no compiler in `--cc {cc}`"))?;
    let extra_args: Vec<OsString> = extra_args.into_iter().map(OsString::from).collect();
    let me = SelfIdentity::of(crate::shim_binary()?)?;
    let path_var = std::env::var_os("PATH");
    let resolved = resolve(
        compiler_word.as_ref(),
        path_var.as_deref(),
        &cwd,
        &me,
        false,
        false,
    )
    .map_err(|_| anyhow!("compiler `{compiler_word}` not found on PATH"))?;
    let cache = if no_cache {
        None
    } else {
        cache::default_dir().and_then(DiskCache::open)
    };
    let prober = Prober::new(
        cache,
        vec![(DEPTH_VAR.into(), crate::invocation::child_depth(0))],
    );
    let (mut supported, mut all) = (Vec::new(), true);
    for argument in flags {
        let mut group: Vec<OsString> = argument
            .to_string_lossy()
            .split_whitespace()
            .map(OsString::from)
            .collect();
        if group.is_empty() {
            continue;
        }
        let mode = if disable_warning {
            group = group
                .iter()
                .map(|name| disabled_warning(&name.to_string_lossy()))
                .collect();
            ProbeMode::DisableWarning
        } else {
            ProbeMode::Option
        };
        let answer = prober
            .probe(&ProbeRequest {
                compiler: &resolved.compiler,
                target_args: &extra_args,
                flags: &group,
                mode,
            })
            .map_err(|error| anyhow!("{error}"))?;
        let text: Vec<String> = group
            .iter()
            .map(|flag| flag.to_string_lossy().into_owned())
            .collect();
        if explain {
            let source = if answer.cached { "cached" } else { "probed" };
            match answer.supported {
                true => writeln!(out, "{}: yes ({source})", text.join(" "))?,
                false => writeln!(out, "{}: no ({source}): {}", text.join(" "), answer.message)?,
            }
        }
        all &= answer.supported;
        if answer.supported {
            supported.extend(text);
        }
    }
    if !explain {
        writeln!(out, "{}", supported.join(" "))?;
    }
    Ok(if all {
        CommandStatus::Success
    } else {
        CommandStatus::No
    })
}

pub(super) fn cache(command: CacheCommand, out: &mut dyn Write) -> Result<CommandStatus> {
    let dir = cache::default_dir()
        .context("no cache directory (set SECWRAP_CACHE_DIR, XDG_CACHE_HOME or HOME)")?;
    match command {
        CacheCommand::Show => {
            writeln!(out, "cache: {}", dir.display())?;
            let entries = cache::list_entries(&dir);
            for (name, description) in &entries {
                writeln!(out, "{name}: {description}")?;
            }
            writeln!(out, "{}", plural(entries.len(), "entry"))?;
        }
        CacheCommand::Clear => {
            let removed = if dir.is_dir() {
                cache::clear(&dir).with_context(|| dir.display().to_string())?
            } else {
                0
            };
            writeln!(
                out,
                "removed {} from {}",
                plural(removed, "entry"),
                dir.display()
            )?;
        }
    }
    Ok(CommandStatus::Success)
}
