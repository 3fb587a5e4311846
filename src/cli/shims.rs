//! `secwrap shims`: a masquerade directory, symlinks to secwrap named like
//! the compilers on `PATH`, as Debian's `update-ccache-symlinks` keeps
//! `/usr/lib/ccache`; and the refresh `secwrap run` does before each build.
//!
//! Which names are compilers is the shim's own table
//! ([`compiler_family`]: `gcc`, `cc`, `clang++`, `gcc-12`, `gcc72`,
//! `arm-none-eabi-gcc`, never `gcc-ar-12` or `clang-format-14`), so what is
//! linked and what the shim treats as a compiler cannot drift apart (the
//! shell script `wrappers/mklinks` this replaces had to ask secwrap).
//!
//! Only compilers that exist get a link: a dangling `clang` would make a
//! configure-style probe pick a compiler secwrap then cannot find. A link
//! is replaced by renaming a new one over it, so a build running meanwhile
//! never finds `gcc` missing. Only secwrap's own links are touched; a file
//! someone else put in the directory is left alone and reported.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::{CommandStatus, current_dir, plural};
use crate::atomic::prepare_directory;
use crate::compiler::{
    LAUNCHER_CHILD_VARS, SelfIdentity, compiler_family, is_executable, is_secwrap_name,
    launcher_name,
};
use crate::paths::normalize;
use crate::route::{Evidence, LauncherAbove, launcher_above_by_variable};
use crate::trust::{TrustedUsers, effective_uid};

/// `secwrap shims [DIR] [--compilers NAME...] [--check]`.
pub(super) fn shims(
    dir: Option<PathBuf>,
    compilers: &[OsString],
    check: bool,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let cwd = current_dir()?;
    let dir = match dir {
        Some(dir) => normalize(&cwd.join(dir)),
        None => default_dir().map_err(|error| anyhow::anyhow!("{error}; give DIR"))?,
    };
    let target = own_target()?;
    let me = SelfIdentity::of(target.clone()).context("cannot read the secwrap binary")?;
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    if check {
        return check_dir(&dir, &target, &me, compilers, &path_var, out);
    }
    let dir = prepare_shim_dir(&dir)?;
    let wanted = wanted_compilers(&path_var, &dir, &me, compilers)?;
    let stale = if compilers.is_empty() {
        Stale::NotOnPath
    } else {
        Stale::NotAsked
    };
    let refresh = refresh(&dir, &target, &me, &wanted, stale)?;
    for change in &refresh.changes {
        writeln!(out, "{change}")?;
    }
    for foreign in &refresh.foreign {
        eprintln!("secwrap: {foreign}");
    }
    if wanted.is_empty() {
        eprintln!("secwrap: no compilers found on PATH");
    }
    writeln!(
        out,
        "{}; use: export PATH=\"{}:$PATH\"",
        refresh.counts(&dir),
        dir.display()
    )?;
    Ok(if refresh.foreign.is_empty() {
        CommandStatus::Success
    } else {
        CommandStatus::No
    })
}

/// The shim directory `secwrap run` puts first on `PATH`, refreshed, and
/// its new `PATH`; says on stderr what it changed (one line) and what it
/// left alone. Called before the build runs, so that CMake and Meson
/// store the path of a link that stays (a temporary directory would be
/// gone by the next build).
pub(super) fn refresh_for_run() -> Result<(PathBuf, OsString)> {
    let way_out = |error: anyhow::Error| {
        anyhow::anyhow!(
            "{}; `secwrap run --no-shims` leaves PATH alone",
            super::ErrorLine(&error)
        )
    };
    let dir = default_dir().map_err(way_out)?;
    let target = own_target()?;
    let me = SelfIdentity::of(target.clone()).context("cannot read the secwrap binary")?;
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dir = prepare_shim_dir(&dir).map_err(way_out)?;
    let wanted = wanted_compilers(&path_var, &dir, &me, &[])?;
    let refresh = refresh(&dir, &target, &me, &wanted, Stale::NotOnPath)?;
    if !refresh.changes.is_empty() {
        eprintln!("secwrap: shims: {}", refresh.counts(&dir));
    }
    for foreign in &refresh.foreign {
        eprintln!("secwrap: warning: {foreign}");
    }
    Ok((dir.clone(), path_with_first(&dir, &path_var)?))
}

/// `PATH` with `dir` first, and nowhere else (a nested `secwrap run`
/// finds it already there).
pub(super) fn path_with_first(dir: &Path, path_var: &OsStr) -> Result<OsString> {
    // No PATH at all: what execvp(3) searches then (glibc's `_CS_PATH`),
    // not the working directory an empty entry would mean.
    let path_var = if path_var.is_empty() {
        OsStr::new("/bin:/usr/bin")
    } else {
        path_var
    };
    let rest = std::env::split_paths(path_var).filter(|entry| !same_dir(entry, dir));
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(rest))
        .with_context(|| format!("cannot put `{}` on PATH", dir.display()))
}

fn default_dir() -> Result<PathBuf> {
    crate::state::default_shim_dir()
        .context("no shim directory: neither XDG_DATA_HOME nor HOME is an absolute path")
}

/// What the links point at: the running binary, physical (a link to a
/// link would break when the first one is moved or refreshed).
fn own_target() -> Result<PathBuf> {
    crate::shim_binary().context("cannot find the secwrap binary beside secwrap-cli")
}

/// `dir` made fit to hold the links, and its physical path: every
/// directory up to `/` trusted as for the files secwrap writes by itself
/// (`atomic::prepare_directory`, missing ones created 0700), and `dir`
/// itself a real directory of the user's that nobody else may write. The
/// links decide which program every build runs as `gcc`: "a file secwrap
/// found is not a file the user wrote".
fn prepare_shim_dir(dir: &Path) -> Result<PathBuf> {
    let refuse =
        |why: String| anyhow::anyhow!("cannot use shim directory `{}`: {why}", dir.display());
    check_shim_dir(dir).map_err(refuse)?;
    prepare_directory(dir, TrustedUsers::effective_user())
        .with_context(|| format!("cannot use shim directory `{}`", dir.display()))?;
    check_shim_dir(dir).map_err(refuse)?;
    std::fs::canonicalize(dir).with_context(|| format!("cannot resolve `{}`", dir.display()))
}

/// Why an existing `dir` is not a shim directory, if it is not (a missing
/// one passes: it is created).
fn check_shim_dir(dir: &Path) -> Result<(), String> {
    let metadata = match std::fs::symlink_metadata(dir) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(crate::error::io_message(&error)),
    };
    let mode = metadata.permissions().mode() & 0o7777;
    if metadata.file_type().is_symlink() {
        Err("it is a symlink".to_string())
    } else if !metadata.is_dir() {
        Err("it is not a directory".to_string())
    } else if metadata.uid() != effective_uid() {
        Err(format!("it is owned by uid {}, not by you", metadata.uid()))
    } else if mode & 0o022 != 0 {
        Err(format!("it is writable by others (mode {mode:04o})"))
    } else {
        Ok(())
    }
}

/// The compilers a shim directory should hold: their names, each with the
/// first program of that name on `PATH` (DIR itself skipped). With
/// `asked`, those names only, each checked.
fn wanted_compilers(
    path_var: &OsStr,
    dir: &Path,
    me: &SelfIdentity,
    asked: &[OsString],
) -> Result<BTreeMap<OsString, PathBuf>> {
    let found = compilers_on_path(path_var, dir, me);
    if asked.is_empty() {
        return Ok(found);
    }
    let mut wanted = BTreeMap::new();
    for name in asked {
        let shown = name.to_string_lossy();
        if compiler_family(name).is_none() || name.as_encoded_bytes().contains(&b'/') {
            bail!(
                "`{shown}` is not a compiler name: --compilers takes C/C++ driver names (gcc, g++, cc, c++, clang, clang++, with a cross prefix or a version: `arm-none-eabi-gcc`, `gcc-12`)"
            );
        }
        match found.get(name) {
            Some(program) => wanted.insert(name.clone(), program.clone()),
            None => bail!(
                "compiler `{shown}` not found on PATH (`{}` and secwrap's own links skipped)",
                dir.display()
            ),
        };
    }
    Ok(wanted)
}

/// Every program on `PATH` named like a compiler, by name, the first of
/// each name: not in `dir` (or a directory that resolves to it), not
/// secwrap under any name (another shim directory), not a launcher's
/// masquerade link (`/usr/lib/ccache/gcc` runs ccache, which the shim
/// finds by itself behind its own entry).
fn compilers_on_path(
    path_var: &OsStr,
    dir: &Path,
    me: &SelfIdentity,
) -> BTreeMap<OsString, PathBuf> {
    let mut found = BTreeMap::new();
    for entry in std::env::split_paths(path_var) {
        // A relative entry (`.`, empty) names a different directory from
        // each working directory: nothing to link to for good.
        if !entry.is_absolute() || same_dir(&entry, dir) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(&entry) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name();
            if found.contains_key(&name) || compiler_family(&name).is_none() {
                continue;
            }
            let path = file.path();
            if is_executable(&path) && !is_secwrap(&path, me) && launcher_name(&path).is_none() {
                found.insert(name, path);
            }
        }
    }
    found
}

/// Whether `path` runs secwrap: this one (through any links, or a copy),
/// or another secwrap binary a link names (`secwrap`, `secwrap-0.3`:
/// `compiler::is_secwrap_name`).
fn is_secwrap(path: &Path, me: &SelfIdentity) -> bool {
    me.is_me(path) || std::fs::canonicalize(path).is_ok_and(|target| named_secwrap(&target))
}

fn named_secwrap(path: &Path) -> bool {
    path.file_name().is_some_and(is_secwrap_name)
}

/// Whether two directories are the same one (by their physical paths).
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// What stands at a compiler's name in the shim directory.
enum Entry {
    Missing,
    /// A symlink of secwrap's: to a secwrap binary, this one or another
    /// (a build moved or deleted since), and where it points.
    Ours(PathBuf),
    /// Anything else, described.
    Foreign(&'static str),
}

fn entry_at(link: &Path, me: &SelfIdentity) -> Result<Entry> {
    let metadata = match std::fs::symlink_metadata(link) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Entry::Missing),
        Err(error) => return Err(error).with_context(|| link.display().to_string()),
    };
    if !metadata.file_type().is_symlink() {
        return Ok(Entry::Foreign(if metadata.is_dir() {
            "a directory"
        } else if metadata.is_file() {
            "a regular file"
        } else {
            "a special file"
        }));
    }
    let points_at = std::fs::read_link(link).with_context(|| link.display().to_string())?;
    Ok(if named_secwrap(&points_at) || me.is_me(link) {
        Entry::Ours(points_at)
    } else {
        Entry::Foreign("a symlink to another program")
    })
}

/// One change a refresh made, as printed.
enum Change {
    Made {
        link: PathBuf,
        target: PathBuf,
    },
    Updated {
        link: PathBuf,
        target: PathBuf,
        was: PathBuf,
    },
    Removed {
        link: PathBuf,
        why: Stale,
    },
}

/// Why a link of ours went.
#[derive(Clone, Copy)]
enum Stale {
    NotOnPath,
    NotAsked,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Made { link, target } => {
                write!(f, "made    {} -> {}", link.display(), target.display())
            }
            Change::Updated { link, target, was } => write!(
                f,
                "updated {} -> {} (was {})",
                link.display(),
                target.display(),
                was.display()
            ),
            Change::Removed { link, why } => write!(
                f,
                "removed {} ({})",
                link.display(),
                match why {
                    Stale::NotOnPath => "no such compiler on PATH now",
                    Stale::NotAsked => "not among --compilers",
                }
            ),
        }
    }
}

/// A name secwrap wanted that something else holds.
struct Foreign {
    link: PathBuf,
    what: &'static str,
}

impl std::fmt::Display for Foreign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refusing to replace `{}`: {}, not a link secwrap made; left alone",
            self.link.display(),
            self.what
        )
    }
}

struct Refresh {
    changes: Vec<Change>,
    foreign: Vec<Foreign>,
    /// Links of ours in the directory afterwards.
    links: usize,
}

impl Refresh {
    /// `12 links in DIR (2 made, 1 updated)`, or `..., none changed`.
    fn counts(&self, dir: &Path) -> String {
        let count = |wanted: fn(&Change) -> bool| self.changes.iter().filter(|c| wanted(c)).count();
        let parts: Vec<String> = [
            (count(|c| matches!(c, Change::Made { .. })), "made"),
            (count(|c| matches!(c, Change::Updated { .. })), "updated"),
            (count(|c| matches!(c, Change::Removed { .. })), "removed"),
        ]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
        let links = format!("{} in {}", plural(self.links, "link"), dir.display());
        if parts.is_empty() {
            format!("{links}, none changed")
        } else {
            format!("{links} ({})", parts.join(", "))
        }
    }
}

/// Makes `dir` hold exactly a link to `target` for each wanted name:
/// missing ones made, ours pointing elsewhere re-pointed, ours for other
/// names removed; anything else left alone and reported.
fn refresh(
    dir: &Path,
    target: &Path,
    me: &SelfIdentity,
    wanted: &BTreeMap<OsString, PathBuf>,
    stale: Stale,
) -> Result<Refresh> {
    let mut refresh = Refresh {
        changes: Vec::new(),
        foreign: Vec::new(),
        links: 0,
    };
    for name in wanted.keys() {
        let link = dir.join(name);
        match entry_at(&link, me)? {
            Entry::Missing => {
                match std::os::unix::fs::symlink(target, &link) {
                    Ok(()) => {}
                    // Another `secwrap run` made it meanwhile: replace
                    // it, atomically, if it is ours.
                    Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                        match entry_at(&link, me)? {
                            Entry::Ours(_) => replace_link(dir, name, target)?,
                            Entry::Foreign(what) => {
                                refresh.foreign.push(Foreign { link, what });
                                continue;
                            }
                            Entry::Missing => replace_link(dir, name, target)?,
                        }
                    }
                    Err(error) => {
                        return Err(error)
                            .with_context(|| format!("cannot make `{}`", link.display()));
                    }
                }
                refresh.changes.push(Change::Made {
                    link,
                    target: target.to_path_buf(),
                });
            }
            Entry::Ours(points_at) if points_at == target => {}
            Entry::Ours(was) => {
                replace_link(dir, name, target)?;
                refresh.changes.push(Change::Updated {
                    link,
                    target: target.to_path_buf(),
                    was,
                });
            }
            Entry::Foreign(what) => {
                refresh.foreign.push(Foreign { link, what });
                continue;
            }
        }
        refresh.links += 1;
    }
    for name in compiler_entries(dir)? {
        if wanted.contains_key(&name) {
            continue;
        }
        let link = dir.join(&name);
        if let Entry::Ours(_) = entry_at(&link, me)? {
            match std::fs::remove_file(&link) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("cannot remove `{}`", link.display()));
                }
            }
            refresh.changes.push(Change::Removed { link, why: stale });
        }
    }
    Ok(refresh)
}

/// The names in `dir` that are compiler names.
fn compiler_entries(dir: &Path) -> Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read `{}`", dir.display()))?
        .flatten()
        .map(|entry| entry.file_name())
        // Not another refresh's link on its way in (`replace_link`).
        .filter(|name| {
            !name
                .as_encoded_bytes()
                .starts_with(TEMPORARY_PREFIX.as_bytes())
        })
        .filter(|name| compiler_family(name).is_some())
        .collect();
    names.sort();
    Ok(names)
}

/// The name a new link has until it is renamed over the old one.
const TEMPORARY_PREFIX: &str = ".secwrap-tmp-";

/// Points `dir/name` at `target` by renaming a new link over it: the name
/// never goes missing for a build running meanwhile (`rename(2)` replaces
/// atomically), as `ln -sfn` does not (it unlinks first).
fn replace_link(dir: &Path, name: &OsStr, target: &Path) -> Result<()> {
    let mut temporary_name = OsString::from(TEMPORARY_PREFIX);
    temporary_name.push(std::process::id().to_string());
    temporary_name.push("-");
    temporary_name.push(name);
    let temporary = dir.join(temporary_name);
    let made = match std::os::unix::fs::symlink(target, &temporary) {
        // A crashed refresh of this pid's predecessor left one.
        Err(error) if error.kind() == ErrorKind::AlreadyExists => std::fs::remove_file(&temporary)
            .and_then(|()| std::os::unix::fs::symlink(target, &temporary)),
        result => result,
    };
    made.with_context(|| format!("cannot make `{}`", temporary.display()))?;
    let link = dir.join(name);
    std::fs::rename(&temporary, &link).with_context(|| {
        let _ = std::fs::remove_file(&temporary);
        format!("cannot replace `{}`", link.display())
    })
}

/// `secwrap shims --check`: whether `dir` is current and first on `PATH`,
/// one line per problem; writes nothing.
fn check_dir(
    dir: &Path,
    target: &Path,
    me: &SelfIdentity,
    asked: &[OsString],
    path_var: &OsStr,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    check_shim_dir(dir)
        .map_err(|why| anyhow::anyhow!("cannot use shim directory `{}`: {why}", dir.display()))?;
    let exists = dir.is_dir();
    let dir = if exists {
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve `{}`", dir.display()))?
    } else {
        dir.to_path_buf()
    };
    let wanted = wanted_compilers(path_var, &dir, me, asked)?;
    let mut problems = Vec::new();
    let refresh_fix = format!("run `secwrap shims {}`", dir.display());
    if !exists {
        problems.push(format!("`{}` does not exist: {refresh_fix}", dir.display()));
    } else {
        for (name, program) in &wanted {
            let link = dir.join(name);
            match entry_at(&link, me)? {
                Entry::Missing => problems.push(format!(
                    "`{}` is missing (`{}` is on PATH): {refresh_fix}",
                    link.display(),
                    program.display()
                )),
                Entry::Ours(points_at) if points_at == target => {}
                Entry::Ours(points_at) => problems.push(format!(
                    "`{}` points at `{}`, not at this secwrap (`{}`): {refresh_fix}",
                    link.display(),
                    points_at.display(),
                    target.display()
                )),
                Entry::Foreign(what) => problems.push(format!(
                    "`{}` is {what}, not a link secwrap made: remove it, then {refresh_fix}",
                    link.display()
                )),
            }
        }
        for name in compiler_entries(&dir)? {
            let link = dir.join(&name);
            if !wanted.contains_key(&name)
                && let Entry::Ours(_) = entry_at(&link, me)?
            {
                problems.push(format!(
                    "`{}` is stale: {}: {refresh_fix}",
                    link.display(),
                    if asked.is_empty() {
                        format!("no `{}` on PATH now", name.to_string_lossy())
                    } else {
                        "not among --compilers".to_string()
                    }
                ));
            }
        }
    }
    problems.extend(path_order_problems(&dir, &wanted, path_var));
    // Run from inside a launcher's compile (a build step under ccache):
    // whatever PATH says, that launcher runs first, as the shim would see.
    let launcher_vars: Vec<(&'static str, OsString)> = LAUNCHER_CHILD_VARS
        .iter()
        .filter_map(|(_, name)| Some((*name, std::env::var_os(name)?)))
        .collect();
    if let Some(above) = launcher_above_by_variable(&launcher_vars, Some(dir.clone())) {
        problems.push(above.message(OsStr::new("gcc")));
    }
    if problems.is_empty() {
        writeln!(
            out,
            "`{}` is current ({}) and first on PATH",
            dir.display(),
            plural(wanted.len(), "link")
        )?;
        return Ok(CommandStatus::Success);
    }
    for problem in &problems {
        writeln!(out, "{problem}")?;
    }
    Ok(CommandStatus::No)
}

/// Whether `dir` comes on `PATH` before every directory holding one of
/// the compilers it links: a real compiler there runs without secwrap, a
/// launcher's masquerade link there runs the launcher before secwrap
/// (said as the shim says it, `route::LauncherAbove`).
fn path_order_problems(
    dir: &Path,
    wanted: &BTreeMap<OsString, PathBuf>,
    path_var: &OsStr,
) -> Vec<String> {
    let entries: Vec<PathBuf> = std::env::split_paths(path_var).collect();
    let Some(position) = entries.iter().position(|entry| same_dir(entry, dir)) else {
        return vec![format!(
            "`{0}` is not on PATH: export PATH=\"{0}:$PATH\"",
            dir.display()
        )];
    };
    let mut problems = Vec::new();
    for entry in &entries[..position] {
        let mut real = Vec::new();
        for name in wanted.keys() {
            let program = entry.join(name);
            if !is_executable(&program) {
                continue;
            }
            match launcher_name(&program) {
                Some(launcher) => {
                    let above = LauncherAbove {
                        launcher,
                        evidence: Evidence::PathOrder,
                        own_dir: Some(dir.to_path_buf()),
                        launcher_dir: Some(entry.clone()),
                    };
                    problems.push(above.message(name));
                    // One line per launcher directory is enough.
                    real.clear();
                    break;
                }
                None => real.push(name.to_string_lossy().into_owned()),
            }
        }
        if !real.is_empty() {
            problems.push(format!(
                "`{}` comes before `{}` on PATH and holds {}: they run without secwrap; put `{}` first",
                entry.display(),
                dir.display(),
                real.join(", "),
                dir.display()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_path(dir: &str, path_var: &str, expected: &str) {
        let got = path_with_first(Path::new(dir), OsStr::new(path_var)).unwrap();
        assert_eq!(got, OsStr::new(expected), "{dir} on {path_var:?}");
    }

    /// The shim directory goes first, once, whatever the PATH had.
    #[test]
    fn the_shim_directory_goes_first_once() {
        check_path("/s", "/usr/bin:/bin", "/s:/usr/bin:/bin");
        check_path("/s", "", "/s:/bin:/usr/bin");
        check_path("/s", "/usr/bin::/bin", "/s:/usr/bin::/bin");
        check_path("/s", "/usr/bin:/s:/bin", "/s:/usr/bin:/bin");
        check_path("/s", "/s:/s:/bin", "/s:/bin");
        check_path("/s", "/s/:/bin", "/s:/bin");
    }

    #[track_caller]
    fn check_counts(changes: Vec<Change>, links: usize, expected: &str) {
        let refresh = Refresh {
            changes,
            foreign: Vec::new(),
            links,
        };
        assert_eq!(refresh.counts(Path::new("/s")), expected);
    }

    #[test]
    fn counts_are_plural_correct_and_leave_out_zeros() {
        let made = || Change::Made {
            link: "/s/gcc".into(),
            target: "/bin/secwrap".into(),
        };
        let updated = || Change::Updated {
            link: "/s/cc".into(),
            target: "/bin/secwrap".into(),
            was: "/old/secwrap".into(),
        };
        let removed = || Change::Removed {
            link: "/s/gcc-9".into(),
            why: Stale::NotOnPath,
        };
        check_counts(vec![], 0, "0 links in /s, none changed");
        check_counts(vec![], 1, "1 link in /s, none changed");
        check_counts(vec![made()], 1, "1 link in /s (1 made)");
        check_counts(
            vec![made(), made(), updated()],
            3,
            "3 links in /s (2 made, 1 updated)",
        );
        check_counts(vec![removed()], 2, "2 links in /s (1 removed)");
        check_counts(
            vec![made(), updated(), removed()],
            2,
            "2 links in /s (1 made, 1 updated, 1 removed)",
        );
    }

    #[test]
    fn changes_print_one_line_each() {
        for (change, expected) in [
            (
                Change::Made {
                    link: "/s/gcc".into(),
                    target: "/bin/secwrap".into(),
                },
                "made    /s/gcc -> /bin/secwrap",
            ),
            (
                Change::Updated {
                    link: "/s/cc".into(),
                    target: "/bin/secwrap".into(),
                    was: "/old/secwrap".into(),
                },
                "updated /s/cc -> /bin/secwrap (was /old/secwrap)",
            ),
            (
                Change::Removed {
                    link: "/s/gcc-9".into(),
                    why: Stale::NotOnPath,
                },
                "removed /s/gcc-9 (no such compiler on PATH now)",
            ),
            (
                Change::Removed {
                    link: "/s/cc".into(),
                    why: Stale::NotAsked,
                },
                "removed /s/cc (not among --compilers)",
            ),
        ] {
            assert_eq!(change.to_string(), expected);
        }
    }

    /// Links of secwrap's are known by their target's name (also a
    /// dangling one: secwrap moved) or by resolving to this binary.
    #[test]
    fn what_is_a_link_of_secwraps() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let me_path = std::env::current_exe().unwrap();
        let me = SelfIdentity::of(me_path.clone()).unwrap();
        std::fs::write(dir.join("file"), "").unwrap();
        for (name, target) in [
            ("old", Path::new("/gone/secwrap")),
            ("older", Path::new("/gone/secwrap-0.1")),
            ("me", me_path.as_path()),
            ("true", Path::new("/bin/true")),
            ("dangling", Path::new("/gone/gcc")),
        ] {
            std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
        }
        let kind = |name: &str| match entry_at(&dir.join(name), &me).unwrap() {
            Entry::Missing => "missing".to_string(),
            Entry::Ours(target) => format!("ours {}", target.display()),
            Entry::Foreign(what) => what.to_string(),
        };
        assert_eq!(kind("old"), "ours /gone/secwrap");
        assert_eq!(kind("older"), "ours /gone/secwrap-0.1");
        assert_eq!(kind("me"), format!("ours {}", me_path.display()));
        assert_eq!(kind("true"), "a symlink to another program");
        assert_eq!(kind("dangling"), "a symlink to another program");
        assert_eq!(kind("file"), "a regular file");
        assert_eq!(kind("nothing"), "missing");
    }
}
