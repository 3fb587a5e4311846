//! `secwrap probe` and `secwrap cache`.

use std::ffi::OsString;
use std::path::Path;

use crate::cache::{self, DiskCache};
use crate::compiler::{SelfIdentity, launcher_name, resolve};
use crate::error::io_message;
use crate::exit::DEPTH_VAR;
use crate::probe::{ProbeMode, ProbeRequest, Prober};

use super::{CacheCommand, CommandStatus, current_dir};

pub(super) fn probe_flags(
    cc: Option<String>,
    disable_warning: bool,
    explain: bool,
    no_cache: bool,
    flags: &[OsString],
) -> Result<CommandStatus, String> {
    let cwd = current_dir()?;
    let cc = cc
        .or_else(|| std::env::var("CC").ok().filter(|cc| !cc.trim().is_empty()))
        .unwrap_or_else(|| "cc".to_string());
    // `$(CC)` may be several words: launchers and secwrap itself are
    // skipped (the probe asks the real compiler); words after the compiler
    // are part of every probe, as they are of Kbuild's `$(CC) -Werror ...`.
    let mut words = cc.split_whitespace().skip_while(|word| {
        let name = Path::new(word)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.starts_with("secwrap") || launcher_name(Path::new(word)).is_some()
    });
    let compiler_word = words
        .next()
        .ok_or_else(|| format!("no compiler in `--cc {cc}`"))?;
    let extra_args: Vec<OsString> = words.map(OsString::from).collect();
    let me = SelfIdentity::current().map_err(|error| io_message(&error))?;
    let path_var = std::env::var_os("PATH");
    let resolved = resolve(
        compiler_word.as_ref(),
        path_var.as_deref(),
        &cwd,
        &me,
        false,
        false,
    )
    .map_err(|_| format!("compiler `{compiler_word}` not found on PATH"))?;
    let cache = if no_cache {
        None
    } else {
        cache::default_dir().and_then(DiskCache::open)
    };
    let prober = Prober::new(cache, vec![(DEPTH_VAR.into(), "1".into())]);
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
            .map_err(|error| error.to_string())?;
        let text: Vec<String> = group
            .iter()
            .map(|flag| flag.to_string_lossy().into_owned())
            .collect();
        if explain {
            let source = if answer.cached { "cached" } else { "probed" };
            match answer.supported {
                true => println!("{}: yes ({source})", text.join(" ")),
                false => println!("{}: no ({source}): {}", text.join(" "), answer.message),
            }
        }
        all &= answer.supported;
        if answer.supported {
            supported.extend(text);
        }
    }
    if !explain {
        println!("{}", supported.join(" "));
    }
    Ok(if all {
        CommandStatus::Success
    } else {
        CommandStatus::No
    })
}

/// `vla`, `-Wvla` or `-Wno-vla` as `-Wno-vla` (what `cc-disable-warning` emits).
fn disabled_warning(name: &str) -> OsString {
    let bare = name
        .strip_prefix("-Wno-")
        .or_else(|| name.strip_prefix("-W"))
        .unwrap_or(name);
    OsString::from(format!("-Wno-{bare}"))
}

pub(super) fn cache(command: CacheCommand) -> Result<CommandStatus, String> {
    let dir = cache::default_dir()
        .ok_or("no cache directory (set SECWRAP_CACHE_DIR, XDG_CACHE_HOME or HOME)")?;
    match command {
        CacheCommand::Show => {
            println!("cache: {}", dir.display());
            let entries = cache::list_entries(&dir);
            for (name, description) in &entries {
                println!("{name}: {description}");
            }
            println!("{} entries", entries.len());
        }
        CacheCommand::Clear => {
            let removed = if dir.is_dir() {
                cache::clear(&dir)
                    .map_err(|error| format!("{}: {}", dir.display(), io_message(&error)))?
            } else {
                0
            };
            println!("removed {removed} entries from {}", dir.display());
        }
    }
    Ok(CommandStatus::Success)
}
