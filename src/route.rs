//! Route: which program chain a call runs, and whether secwrap wraps it or
//! only passes it through.
//!
//! Pure pass-through (the process is replaced by the compiler, nothing
//! recorded) happens for `SECWRAP_DISABLE=1`, for a secwrap run by another
//! secwrap's compiler (the recursion guard `SECWRAP_DEPTH` is set: the outer
//! one has already injected and recorded), for programs that are not
//! compilers (`CROSS_COMPILE="secwrap "` also sends `objcopy`, `ld`, `ar`),
//! and for a launcher asked about itself (`secwrap ccache -s`).
//!
//! A compiler is known by its name (`gcc`, `clang-14`, ...) or, for a
//! program of any other name that is not a known tool, identified by
//! asking it (`identify.rs`), only when its command line reads as a C/C++
//! compile. In masquerade mode the route also notes a launcher that runs
//! *above* secwrap ([`LauncherAbove`]): the wrong order, which `plan`
//! turns into an error (strict) or a warning (passthrough).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::cache::DiskCache;
use crate::classify::CompileArgs;
use crate::compiler::{self, Family, ResolvedCompiler};
use crate::exit::{DEPTH_VAR, EXIT_ERROR, EXIT_NOT_FOUND, MAX_DEPTH};
use crate::identify;
use crate::invocation::{Invocation, ParentProcess};
use crate::probe::Prober;
use crate::response_file;
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
    /// Plan, run and record.
    Wrap(Wrapped),
}

/// A call to wrap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapped {
    /// The chain as the user asked for it.
    pub chain: Chain,
    /// The family a compiler of unknown name was identified as by asking
    /// it; `None` when its name says what it is.
    pub identified: Option<Family>,
    /// A launcher running before secwrap (masquerade mode only).
    pub launcher_above: Option<LauncherAbove>,
}

/// A ccache/sccache/distcc/icecc that runs *before* secwrap instead of
/// after it: ccache hashes the command line before secwrap adds its flags
/// and serves hits without running secwrap, distcc preprocesses through
/// secwrap and compiles elsewhere without the flags, icecc loses the
/// distribution. Nothing goes wrong visibly, so secwrap says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LauncherAbove {
    pub launcher: &'static str,
    pub evidence: Evidence,
    /// The directory of secwrap's own masquerade link, when known.
    pub own_dir: Option<PathBuf>,
    /// The launcher's masquerade directory (`/usr/lib/ccache`), when known.
    pub launcher_dir: Option<PathBuf>,
}

/// How secwrap knows a launcher runs above it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// A masquerade link of the same name in a `PATH` entry before
    /// secwrap's own: the shell runs it first.
    PathOrder,
    /// secwrap's parent process runs this launcher executable.
    Parent(PathBuf),
    /// A variable only the launcher sets for what it runs
    /// (`compiler::LAUNCHER_CHILD_VARS`).
    Variable(&'static str),
}

impl LauncherAbove {
    /// The one line that says what is wrong and how to fix it, for the
    /// compiler `name` secwrap was called as.
    pub fn message(&self, name: &OsStr) -> String {
        let launcher = self.launcher;
        let name = name.to_string_lossy();
        let shown = |dir: &Option<PathBuf>| dir.as_ref().map(|dir| dir.display().to_string());
        let (own_dir, launcher_dir) = (shown(&self.own_dir), shown(&self.launcher_dir));
        // "an icecc", "a ccache": the article goes by the sound of the name.
        let article = if launcher.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let what = match &self.evidence {
            Evidence::PathOrder => format!(
                "`{}/{name}` ({article} {launcher} masquerade link) comes before secwrap's `{}` on PATH",
                launcher_dir.as_deref().unwrap_or("?"),
                own_dir.as_deref().unwrap_or("?"),
            ),
            Evidence::Parent(exe) => match (&launcher_dir, &own_dir) {
                (Some(launcher_dir), Some(own_dir)) => format!(
                    "secwrap runs under {launcher} (its parent process, `{}`), found through `{launcher_dir}` before secwrap's `{own_dir}` on PATH",
                    exe.display()
                ),
                _ => format!(
                    "secwrap runs under {launcher} (its parent process, `{}`)",
                    exe.display()
                ),
            },
            Evidence::Variable(variable) => format!(
                "secwrap runs under {launcher} (`{variable}` is set, as {launcher} sets it for the compiler it runs)"
            ),
        };
        let fix = match (&launcher_dir, &own_dir) {
            (Some(launcher_dir), Some(own_dir)) => format!(
                "put `{own_dir}` before `{launcher_dir}` on PATH, or take `{launcher_dir}` off PATH and use launcher = [\"{launcher}\"] in secwrap.toml"
            ),
            _ => format!(
                "run secwrap first: `secwrap {launcher} {name}`, or `{name}` with launcher = [\"{launcher}\"] in secwrap.toml"
            ),
        };
        format!(
            "{what}: {launcher} runs before secwrap, on the command line without secwrap's flags; {fix}"
        )
    }
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
    let launcher_above = (invocation.word_index == 0)
        .then(|| launcher_above(invocation, &resolved))
        .flatten();
    let chain = Chain {
        launcher: explicit_launcher
            .map(|(launcher, _)| launcher)
            .or(resolved.launcher),
        launcher_words: Vec::new(),
        compiler: resolved.compiler,
        args: rest.to_vec(),
    };
    if invocation.disabled || inner {
        return Ok(Route::PassThrough {
            chain,
            guard: inner,
        });
    }
    let identified = match compiler::compiler_family(compiler_name) {
        Some(_) => None,
        None => match identify_unknown(invocation, compiler_name, &chain)? {
            Some(family) => Some(family),
            None => {
                return Ok(Route::PassThrough {
                    chain,
                    guard: false,
                });
            }
        },
    };
    Ok(Route::Wrap(Wrapped {
        chain,
        identified,
        launcher_above,
    }))
}

/// The family of a program whose name is neither a driver's nor a known
/// tool's, by asking it (`identify.rs`), when its command line reads as a
/// C/C++ compile; `None` means it is passed through. A program that
/// cannot be started is passed through too: the shell's error for it then
/// comes from running it, as without secwrap.
fn identify_unknown(
    invocation: &Invocation,
    name: &OsStr,
    chain: &Chain,
) -> Result<Option<Family>, ShimError> {
    if compiler::is_known_tool(name) {
        return Ok(None);
    }
    // Read as `plan` reads it: response files expanded; a line that
    // cannot be read in full is not asked about.
    let expansion = response_file::expand(&chain.args, &invocation.cwd);
    let args = CompileArgs::parse(&expansion.args);
    if expansion.problem.is_some() || !identify::worth_asking(&args, args.classification()) {
        return Ok(None);
    }
    let cache = invocation.cache_dir.clone().and_then(DiskCache::open);
    let prober = Prober::new(cache, vec![(DEPTH_VAR.into(), invocation.child_depth())]);
    match prober.identify(&chain.compiler) {
        Ok(family) => Ok(family),
        Err(error) if error.shell_status.is_some() => Ok(None),
        Err(error) => Err(ShimError::fatal(
            EXIT_ERROR,
            format!("cannot identify `{}`: {error}", chain.compiler.display()),
        )),
    }
}

/// A launcher running above secwrap, by the evidence in order of how much
/// it says: a masquerade link ahead of secwrap's own on `PATH`, the parent
/// process, a variable only a launcher sets.
fn launcher_above(invocation: &Invocation, resolved: &ResolvedCompiler) -> Option<LauncherAbove> {
    let own_dir = resolved
        .own_entry
        .as_deref()
        .or_else(|| {
            let word = Path::new(invocation.word());
            word.as_os_str().as_bytes().contains(&b'/').then_some(word)
        })
        .and_then(Path::parent)
        .map(|dir| invocation.cwd.join(dir));
    if let Some(link) = &resolved.launcher_ahead {
        return Some(LauncherAbove {
            launcher: compiler::launcher_name(link)?,
            evidence: Evidence::PathOrder,
            own_dir,
            launcher_dir: link.parent().map(Path::to_path_buf),
        });
    }
    if let Some(parent) = &invocation.parent
        && let Some(launcher) = compiler::launcher_name(&parent.exe)
    {
        return Some(LauncherAbove {
            launcher,
            evidence: Evidence::Parent(parent.exe.clone()),
            own_dir,
            launcher_dir: masquerade_dir_of(parent, &invocation.cwd),
        });
    }
    launcher_above_by_variable(&invocation.launcher_vars, own_dir)
}

/// The launcher a variable only it sets says runs above secwrap
/// (`compiler::LAUNCHER_CHILD_VARS`, with the values read), if any; also
/// what `secwrap shims --check` asks of its own environment.
pub fn launcher_above_by_variable(
    launcher_vars: &[(&'static str, OsString)],
    own_dir: Option<PathBuf>,
) -> Option<LauncherAbove> {
    launcher_vars.iter().find_map(|(variable, value)| {
        let (launcher, _) = compiler::LAUNCHER_CHILD_VARS
            .iter()
            .find(|(_, name)| name == variable)?;
        // icecc's guard is 1 under `icerun` (which may run a whole make)
        // and 2 or more once icecc ran a compiler (`SafeguardStep`).
        let icerun_only = *launcher == "icecc"
            && value
                .to_str()
                .and_then(|value| value.parse::<u32>().ok())
                .is_some_and(|level| level < 2);
        (!icerun_only).then(|| LauncherAbove {
            launcher,
            evidence: Evidence::Variable(variable),
            own_dir: own_dir.clone(),
            launcher_dir: None,
        })
    })
}

/// The masquerade directory a launcher parent was started from: its
/// `argv[0]` as a path, or looked up on the `PATH` it was started with,
/// when that is a link to the launcher under another name
/// (`/usr/lib/distcc/gcc`), not the launcher itself (`ccache gcc`).
fn masquerade_dir_of(parent: &ParentProcess, cwd: &Path) -> Option<PathBuf> {
    let argv0 = parent.argv0.as_deref()?;
    let found = if argv0.as_bytes().contains(&b'/') {
        Path::new(argv0)
            .is_absolute()
            .then(|| PathBuf::from(argv0))?
    } else {
        which::which_in_all(argv0, parent.path_var.as_deref(), cwd)
            .ok()?
            .next()?
    };
    let by_its_own_name = found
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| compiler::LAUNCHERS.contains(&name));
    (!by_its_own_name && compiler::launcher_name(&found).is_some())
        .then(|| found.parent().map(Path::to_path_buf))
        .flatten()
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;
    use crate::compiler::SelfIdentity;
    use crate::config::ConfigEnv;

    /// Masquerade mode (`gcc` a link to secwrap), nothing else known.
    fn masquerade(dir: &Path) -> Invocation {
        Invocation {
            argv: vec!["gcc".into(), "-c".into(), "a.c".into()],
            word_index: 0,
            cwd: dir.to_path_buf(),
            path_var: None,
            depth: 0,
            stray_depth: None,
            disabled: false,
            build_id: None,
            config_env: ConfigEnv::default(),
            cache_dir: None,
            state_dir: None,
            session: (1, 1),
            me: SelfIdentity::of(std::env::current_exe().unwrap()).unwrap(),
            owns_process: false,
            parent: None,
            launcher_vars: Vec::new(),
        }
    }

    fn resolved(own_entry: Option<&str>, launcher_ahead: Option<&str>) -> ResolvedCompiler {
        ResolvedCompiler {
            compiler: "/usr/bin/gcc".into(),
            launcher: None,
            own_entry: own_entry.map(PathBuf::from),
            launcher_ahead: launcher_ahead.map(PathBuf::from),
        }
    }

    fn executable(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn evidence_of_a_launcher_above() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (ccache, make) = (root.join("bin/ccache"), root.join("bin/make"));
        executable(&ccache);
        executable(&make);
        std::fs::create_dir(root.join("links")).unwrap();
        symlink(&ccache, root.join("links/gcc")).unwrap();
        let mask = Some("/mask/gcc");
        let check = |invocation: &Invocation,
                     resolved: &ResolvedCompiler,
                     expected: Option<(&str, Evidence)>| {
            let found = launcher_above(invocation, resolved);
            assert_eq!(
                found
                    .as_ref()
                    .map(|above| (above.launcher, above.evidence.clone())),
                expected,
                "{found:?}"
            );
        };
        let plain = masquerade(root);
        check(&plain, &resolved(mask, None), None);
        // A masquerade link ahead on PATH: named, with both directories.
        let link = root.join("links/gcc");
        let ahead = resolved(mask, link.to_str());
        let found = launcher_above(&plain, &ahead).unwrap();
        assert_eq!(
            (found.launcher, found.own_dir, found.launcher_dir),
            ("ccache", Some("/mask".into()), Some(root.join("links")))
        );
        // The parent's executable.
        let under = |exe: &Path| Invocation {
            parent: Some(ParentProcess {
                exe: exe.to_path_buf(),
                argv0: None,
                path_var: None,
            }),
            ..masquerade(root)
        };
        check(
            &under(&ccache),
            &resolved(mask, None),
            Some(("ccache", Evidence::Parent(ccache.clone()))),
        );
        check(&under(&make), &resolved(mask, None), None);
        // Variables only launchers set; icecc's 1 is `icerun`'s.
        let with = |variable: &'static str, value: &str| Invocation {
            launcher_vars: vec![(variable, value.into())],
            ..masquerade(root)
        };
        for (variable, value, expected) in [
            ("UNCACHED_ERR_FD", "3", Some("ccache")),
            ("_DISTCC_SAFEGUARD", "1", Some("distcc")),
            ("_ICECC_SAFEGUARD", "2", Some("icecc")),
            ("_ICECC_SAFEGUARD", "3", Some("icecc")),
            ("_ICECC_SAFEGUARD", "1", None),
        ] {
            check(
                &with(variable, value),
                &resolved(mask, None),
                expected.map(|launcher| (launcher, Evidence::Variable(variable))),
            );
        }
        // The strongest evidence wins.
        let everything = Invocation {
            launcher_vars: vec![("UNCACHED_ERR_FD", "3".into())],
            ..under(&ccache)
        };
        check(
            &everything,
            &resolved(mask, link.to_str()),
            Some(("ccache", Evidence::PathOrder)),
        );
    }

    #[test]
    fn a_launcher_parents_masquerade_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let distcc = root.join("bin/distcc");
        executable(&distcc);
        std::fs::create_dir_all(root.join("lib/distcc")).unwrap();
        symlink(&distcc, root.join("lib/distcc/gcc")).unwrap();
        let path = std::env::join_paths([root.join("lib/distcc"), root.join("bin")]).unwrap();
        let parent = |argv0: &str| ParentProcess {
            exe: distcc.clone(),
            argv0: Some(argv0.into()),
            path_var: Some(path.clone()),
        };
        let link = root.join("lib/distcc/gcc");
        for (argv0, expected) in [
            // Found on the PATH the launcher was started with.
            ("gcc", Some(root.join("lib/distcc"))),
            // Called by its path.
            (link.to_str().unwrap(), Some(root.join("lib/distcc"))),
            // Called as itself (`distcc gcc ...`): no masquerade directory.
            ("distcc", None),
            (distcc.to_str().unwrap(), None),
            ("lib/distcc/gcc", None),
            ("cc", None),
        ] {
            assert_eq!(
                masquerade_dir_of(&parent(argv0), root),
                expected,
                "argv0: {argv0}"
            );
        }
    }

    #[test]
    fn launcher_above_messages() {
        let above = |evidence, launcher_dir: Option<&str>| LauncherAbove {
            launcher: "ccache",
            evidence,
            own_dir: Some("/home/me/.secwrap-bin".into()),
            launcher_dir: launcher_dir.map(PathBuf::from),
        };
        let icecc = |evidence, launcher_dir: Option<&str>| LauncherAbove {
            launcher: "icecc",
            evidence,
            own_dir: Some("/home/me/.secwrap-bin".into()),
            launcher_dir: launcher_dir.map(PathBuf::from),
        };
        for (above, expected) in [
            (
                above(Evidence::PathOrder, Some("/usr/lib/ccache")),
                "`/usr/lib/ccache/gcc` (a ccache masquerade link) comes before secwrap's `/home/me/.secwrap-bin` on PATH: ccache runs before secwrap, on the command line without secwrap's flags; put `/home/me/.secwrap-bin` before `/usr/lib/ccache` on PATH, or take `/usr/lib/ccache` off PATH and use launcher = [\"ccache\"] in secwrap.toml",
            ),
            (
                above(
                    Evidence::Parent("/usr/bin/ccache".into()),
                    Some("/usr/lib/ccache"),
                ),
                "secwrap runs under ccache (its parent process, `/usr/bin/ccache`), found through `/usr/lib/ccache` before secwrap's `/home/me/.secwrap-bin` on PATH: ccache runs before secwrap, on the command line without secwrap's flags; put `/home/me/.secwrap-bin` before `/usr/lib/ccache` on PATH, or take `/usr/lib/ccache` off PATH and use launcher = [\"ccache\"] in secwrap.toml",
            ),
            (
                above(Evidence::Parent("/usr/bin/ccache".into()), None),
                "secwrap runs under ccache (its parent process, `/usr/bin/ccache`): ccache runs before secwrap, on the command line without secwrap's flags; run secwrap first: `secwrap ccache gcc`, or `gcc` with launcher = [\"ccache\"] in secwrap.toml",
            ),
            (
                above(Evidence::Variable("UNCACHED_ERR_FD"), None),
                "secwrap runs under ccache (`UNCACHED_ERR_FD` is set, as ccache sets it for the compiler it runs): ccache runs before secwrap, on the command line without secwrap's flags; run secwrap first: `secwrap ccache gcc`, or `gcc` with launcher = [\"ccache\"] in secwrap.toml",
            ),
            (
                icecc(Evidence::PathOrder, Some("/usr/lib/icecc/bin")),
                "`/usr/lib/icecc/bin/gcc` (an icecc masquerade link) comes before secwrap's `/home/me/.secwrap-bin` on PATH: icecc runs before secwrap, on the command line without secwrap's flags; put `/home/me/.secwrap-bin` before `/usr/lib/icecc/bin` on PATH, or take `/usr/lib/icecc/bin` off PATH and use launcher = [\"icecc\"] in secwrap.toml",
            ),
            (
                icecc(Evidence::Variable("_ICECC_SAFEGUARD"), None),
                "secwrap runs under icecc (`_ICECC_SAFEGUARD` is set, as icecc sets it for the compiler it runs): icecc runs before secwrap, on the command line without secwrap's flags; run secwrap first: `secwrap icecc gcc`, or `gcc` with launcher = [\"icecc\"] in secwrap.toml",
            ),
        ] {
            assert_eq!(above.message(OsStr::new("gcc")), expected);
        }
    }
}
