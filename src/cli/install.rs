//! `secwrap install-support PREFIX`: everything around the binary that
//! `cargo install` does not install, laid out as a distribution package
//! would: the man pages, the shell completions, and the build-system and
//! packaging recipes of `wrappers/` under `PREFIX/share/secwrap/`. The
//! recipes are compiled in (`include_str!`), so the installed binary
//! carries the copies that match it and a checkout is not needed.
//!
//! Idempotent, as `install(1)` run twice: a file that already holds the
//! same bytes with mode 0644 is left alone and reported `unchanged`; any
//! other is replaced atomically (`atomic::write_atomic`: a reader never sees
//! half a page), 0644. Directories it creates are 0755; existing ones are
//! left as they are.

use std::fs::DirBuilder;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::docs::{CompletionShell, completion_script, man_pages};
use super::{CommandStatus, current_dir, plural};
use crate::atomic::write_atomic;

/// The recipes, by their path under `PREFIX/share/secwrap/` (the same as
/// under `wrappers/`), which the recipes' own comments and README cite.
pub(super) const RECIPES: [(&str, &str); 4] = [
    (
        "cmake/secwrap-launcher.cmake",
        include_str!("../../wrappers/cmake/secwrap-launcher.cmake"),
    ),
    (
        "meson/secwrap-native.ini",
        include_str!("../../wrappers/meson/secwrap-native.ini"),
    ),
    (
        "rpm/macros.secwrap",
        include_str!("../../wrappers/rpm/macros.secwrap"),
    ),
    (
        "debian/rules.snippet",
        include_str!("../../wrappers/debian/rules.snippet"),
    ),
];

const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// Every file, by its path under PREFIX, with its bytes. The completion
/// directories are the ones each shell's own packages use (Debian's
/// bash-completion, zsh and fish packages read them under /usr and
/// /usr/local).
fn support_files() -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = man_pages()?
        .into_iter()
        .map(|page| (Path::new("share/man/man1").join(page.file_name), page.roff))
        .collect();
    for (path, shell) in [
        (
            "share/bash-completion/completions/secwrap",
            CompletionShell::Bash,
        ),
        ("share/zsh/site-functions/_secwrap", CompletionShell::Zsh),
        (
            "share/fish/vendor_completions.d/secwrap.fish",
            CompletionShell::Fish,
        ),
    ] {
        files.push((PathBuf::from(path), completion_script(shell)));
    }
    for (path, text) in RECIPES {
        files.push((
            Path::new("share/secwrap").join(path),
            text.as_bytes().to_vec(),
        ));
    }
    Ok(files)
}

/// Whether `path` is a regular file holding exactly `bytes` with mode 0644.
fn is_current(path: &Path, bytes: &[u8]) -> Result<bool> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        // Not there yet, or PREFIX runs through a file (then creating it
        // says so).
        Err(error) if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(false);
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    if !metadata.is_file()
        || metadata.permissions().mode() & 0o7777 != FILE_MODE
        || metadata.len() != bytes.len() as u64
    {
        return Ok(false);
    }
    let current = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(current == bytes)
}

/// Creates `dir` and its missing parents, each 0755 whatever the umask
/// (as `install -d -m 0755`); existing ones keep their mode.
fn create_directories(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut walk = Some(dir);
    while let Some(current) = walk {
        if current.exists() {
            break;
        }
        missing.push(current);
        walk = current.parent();
    }
    for dir in missing.into_iter().rev() {
        match DirBuilder::new().mode(DIR_MODE).create(dir) {
            Ok(()) => {}
            // Made by a concurrent run: fine, it is what we wanted.
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot create {}", dir.display()));
            }
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
            .with_context(|| format!("cannot set the mode of {}", dir.display()))?;
    }
    Ok(())
}

/// `secwrap install-support [--dry-run] PREFIX`: one line per file
/// (`wrote`, `unchanged`, or with `--dry-run` `would write`), then the
/// counts.
pub(super) fn install_support(
    prefix: &Path,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let prefix = current_dir()?.join(prefix);
    let mut written = 0;
    let mut unchanged = 0;
    for (relative, bytes) in support_files()? {
        let path = prefix.join(&relative);
        if is_current(&path, &bytes)? {
            unchanged += 1;
            writeln!(out, "unchanged   {}", path.display())?;
            continue;
        }
        written += 1;
        if dry_run {
            writeln!(out, "would write {}", path.display())?;
            continue;
        }
        if let Some(parent) = path.parent() {
            create_directories(parent)?;
        }
        write_atomic(&path, |file| {
            file.write_all(&bytes)?;
            // tempfile makes the temporary 0600; a man page or a recipe is
            // for every user to read.
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        })
        .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "wrote       {}", path.display())?;
    }
    let verb = if dry_run { "to write" } else { "written" };
    writeln!(
        out,
        "install-support: {} {verb}, {unchanged} unchanged, under {}",
        plural(written, "file"),
        prefix.display()
    )?;
    Ok(CommandStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(relative: &str, wanted: bool) {
        let files = support_files().expect("pages render");
        assert_eq!(
            files.iter().any(|(path, _)| path == Path::new(relative)),
            wanted,
            "{relative}: {:?}",
            files.iter().map(|(path, _)| path).collect::<Vec<_>>()
        );
    }

    #[test]
    fn lays_out_pages_completions_and_recipes() {
        check("share/man/man1/secwrap.1", true);
        check("share/man/man1/secwrap-init.1", true);
        check("share/man/man1/secwrap-log.1", true);
        check("share/man/man1/secwrap-log-show.1", true);
        check("share/man/man1/secwrap-install-support.1", true);
        check("share/bash-completion/completions/secwrap", true);
        check("share/zsh/site-functions/_secwrap", true);
        check("share/fish/vendor_completions.d/secwrap.fish", true);
        check("share/secwrap/cmake/secwrap-launcher.cmake", true);
        check("share/secwrap/meson/secwrap-native.ini", true);
        check("share/secwrap/rpm/macros.secwrap", true);
        check("share/secwrap/debian/rules.snippet", true);
        // Hidden subcommands and clap's `help` have no page.
        check("share/man/man1/secwrap-man.1", false);
        check("share/man/man1/secwrap-shims.1", true);
        check("share/man/man1/secwrap-help.1", false);
    }
}
