//! Plan: everything secwrap decides before the compiler runs, as one value.
//!
//! classification (response files expanded for reading only) → config and
//! Kconfig → which flags go on the line (`inject::plan`) → whether the
//! compiler accepts them (`probe`, as Kbuild's `cc-option`) → the objects
//! to keep aside → the command line to run. Every decision lands in the
//! plan, and from there in the record.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::atomic;
use crate::cache::DiskCache;
use crate::classify::{Classification, CompileArgs, Language};
use crate::compiler::Family;
use crate::config::{Config, ConfigEnv, Decision, OnError, WantedFlag};
use crate::error::{BadInput, io_message};
use crate::exit::{DEPTH_VAR, EXIT_ERROR};
use crate::inject::{self, Injection, InjectionPolicy, SkipReason, Skipped};
use crate::invocation::Invocation;
use crate::paths;
use crate::probe::{ProbeAnswer, ProbeError, ProbeMode, ProbeRequest, Prober};
use crate::record::build_probe::is_build_system_probe;
use crate::response_file::{self, ExpansionProblem};
use crate::route::{Chain, Wrapped};
use crate::shim::ShimError;
use crate::stages;
use crate::trust::TrustedUsers;
use crate::warning::Warning;

/// What the call will run, and why.
pub struct Plan {
    pub compile_args: CompileArgs,
    pub classification: Classification,
    /// Positional inputs, absolute (`-` stays `-`).
    pub inputs: Vec<PathBuf>,
    /// Files the job writes, absolute.
    pub outputs: Vec<PathBuf>,
    /// A build system's test compile, not a compile of the tree.
    pub build_system_probe: bool,
    pub injection: Injection,
    /// The family a compiler of unknown name was identified as
    /// (`identify.rs`); `None` when its name said what it is.
    pub identified: Option<Family>,
    /// Each flag group asked about, and the answer.
    pub probes: Vec<FlagProbe>,
    /// `[livepatch] keep_originals`, absolute.
    pub keep_originals: Option<PathBuf>,
    /// (object, copy) for each original kept aside before this compile.
    pub originals: Vec<(PathBuf, PathBuf)>,
    /// Fingerprint of the config and the Kconfig values it read.
    pub fingerprint: String,
    /// What runs: the user's chain with the flags added (and a launcher
    /// from the config, if any).
    pub chain: Chain,
    /// The invocation log, if one is configured.
    pub log: Option<PathBuf>,
    pub on_error: OnError,
    /// The tree: the config file's directory, else the working directory.
    pub root: PathBuf,
    pub warnings: Vec<Warning>,
}

impl Plan {
    /// Info queries, `-E`/`-M` and build-system probes: build tools parse
    /// what these print (`$CC -v 2>&1` in libtool and configure), so
    /// secwrap's warnings stay off their stderr.
    pub fn is_quiet_call(&self) -> bool {
        is_quiet_call(self.classification, self.build_system_probe)
    }

    /// Keeps the originals this compile is about to overwrite (`originals`),
    /// when `[livepatch] keep_originals` asks for them, in the keep
    /// directory of build `build_id` (`SECWRAP_BUILD_ID`): the last step
    /// before the compiler runs, once the log is open, so that no copy is
    /// made for a compile that is then stopped unrecorded.
    pub fn keep_originals(
        &mut self,
        build_id: Option<&str>,
        users: TrustedUsers,
    ) -> Result<(), BadInput> {
        if let (Some(keep_dir), Classification::Compile) =
            (&self.keep_originals, self.classification)
        {
            let build_dir = keep_dir.join(build_directory_name(build_id));
            self.originals = keep_originals(&build_dir, &self.root, &self.outputs, users)?;
        }
        Ok(())
    }
}

fn is_quiet_call(classification: Classification, build_system_probe: bool) -> bool {
    build_system_probe
        || matches!(
            classification,
            Classification::InfoQuery | Classification::PreprocessOnly
        )
}

/// Plans the wrapped call (`wrapped.chain`: the chain as the user asked
/// for it).
pub fn plan(invocation: &Invocation, wrapped: &Wrapped) -> Result<Plan, ShimError> {
    let unchanged = &wrapped.chain;
    let cwd = &invocation.cwd;
    let rest = &unchanged.args;
    let expansion = response_file::expand(rest, cwd);
    let expanded = expansion.args;
    let compile_args = CompileArgs::parse(&expanded);
    // Words in a pipe or device (`@/dev/stdin`) are the compiler's to read:
    // what they say is unknown, so no record may claim a compile.
    let classification = match expansion.problem {
        Some(ExpansionProblem::NotRegular { .. }) => Classification::Other,
        _ => compile_args.classification(),
    };
    let absolute = |path: &OsStr| {
        if path == "-" {
            PathBuf::from(path)
        } else {
            cwd.join(path)
        }
    };
    let inputs: Vec<PathBuf> = compile_args
        .inputs
        .iter()
        .map(|input| absolute(&input.path))
        .collect();
    let outputs: Vec<PathBuf> = compile_args
        .outputs()
        .iter()
        .map(|output| absolute(output))
        .collect();
    let build_system_probe = is_build_system_probe(&inputs, &outputs);
    // Bad input before the config says otherwise: strict, unless the
    // environment asks for passthrough.
    let bad_input = |error: BadInput, on_error: OnError| {
        ShimError::bad_input(
            &error,
            on_error,
            unchanged,
            is_quiet_call(classification, build_system_probe),
        )
    };

    // Out-of-tree builds: the config may be found from the source's side.
    let source_dir = compile_args
        .inputs
        .iter()
        .zip(&inputs)
        .find(|(input, path)| {
            // `-x c /dev/null` (Kbuild's probes) names no tree.
            input.language.is_compiled() && path.is_absolute() && !path.starts_with("/dev")
        })
        .and_then(|(_, path)| paths::normalize(path).parent().map(Path::to_path_buf));
    let config_env = ConfigEnv {
        source_dir,
        ..invocation.config_env.clone()
    };
    stages::mark("plan_args_parsed");
    let config = Config::load(&config_env)
        .map_err(|error| bad_input(error, config_env.on_error_before_file()))?;
    stages::mark("plan_config_loaded");
    let on_error = config.on_error.value;
    // A launcher above secwrap: strict stops before anything runs; in
    // passthrough the compile goes on as wrapped, with the warning once
    // per build on quiet calls too (distcc with a server lets only its
    // `-E` reach secwrap). Once among the quiet calls and once among the
    // others: ccache keeps its `-E` run's stderr to itself, so a warning
    // shown only there would never be seen.
    let launcher_above = wrapped.launcher_above.as_ref().map(|above| {
        let word = Path::new(invocation.word());
        above.message(word.file_name().unwrap_or(word.as_os_str()))
    });
    let launcher_above = match (launcher_above, on_error) {
        (Some(message), OnError::Strict) => return Err(ShimError::fatal(EXIT_ERROR, message)),
        (Some(message), OnError::Passthrough) => Some(Warning {
            message,
            once_per_build: Some(if is_quiet_call(classification, build_system_probe) {
                "launcher-above-quiet-call"
            } else {
                "launcher-above"
            }),
            on_quiet_calls: true,
        }),
        (None, _) => None,
    };
    let cache = invocation.cache_dir.clone().and_then(DiskCache::open);
    // Uncached is slower, not wrong; still worth saying once per build.
    let mut warnings: Vec<Warning> = match (&invocation.cache_dir, &cache) {
        (Some(dir), None) => vec![Warning {
            message: format!(
                "cache directory `{}` is not a private directory of yours (or cannot be made one): working without a cache",
                dir.display()
            ),
            once_per_build: Some("cache-unusable"),
            on_quiet_calls: false,
        }],
        _ => Vec::new(),
    };
    // First: of all this call may say, the one to show.
    if let Some(warning) = launcher_above {
        warnings.insert(0, warning);
    }
    if config.log.is_none() && !config.log_off {
        warnings.push(Warning {
            message: "not recording: no state directory for the default log (HOME and XDG_STATE_HOME unset); set `[log] path` or SECWRAP_LOG, or SECWRAP_LOG=off".to_string(),
            once_per_build: Some("no-log"),
            on_quiet_calls: false,
        });
    }
    if let Some(value) = &invocation.stray_depth {
        warnings.push(Warning {
            message: format!(
                "ignoring {DEPTH_VAR}={}: no secwrap above this one set it (left over in the environment?); this call is wrapped and recorded",
                value.to_string_lossy()
            ),
            once_per_build: Some("stray-depth"),
            on_quiet_calls: false,
        });
    }
    let kconfig_values = config
        .load_rule_values(cache.as_ref())
        .map_err(|error| bad_input(error, on_error))?;
    stages::mark("plan_kconfig_read");
    let mut chain = unchanged.clone();
    if chain.launcher.is_none() {
        configured_launcher(invocation, &config, &mut chain)
            .map_err(|error| bad_input(error, on_error))?;
    }

    let decision = config.evaluate(&kconfig_values);
    let wants_flags = !decision.cflags.is_empty() || !decision.ldflags.is_empty();
    // Past libiberty's limits, or with words secwrap may not read while
    // rules want flags: the line cannot be planned, which is bad input
    // (strict: stop; passthrough: the compiler unchanged, with a warning).
    match &expansion.problem {
        Some(problem) if problem.stops_expansion() || wants_flags => {
            return Err(bad_input(problem.bad_input(), on_error));
        }
        _ => {}
    }
    let sources = compile_args
        .inputs
        .iter()
        .zip(&inputs)
        .filter(|(input, _)| input.language != Language::LinkerInput)
        .map(|(_, path)| path.as_path());
    // Only a job that would get flags needs the exclusion globs matched.
    let undecided =
        !decision.cflags_without_kconfig.is_empty() || !decision.ldflags_without_kconfig.is_empty();
    let excluded = (wants_flags || undecided)
        && config.is_excluded(sources.chain(outputs.iter().map(PathBuf::as_path)));
    let flags_go_first = inject::flags_go_first(rest, &expanded);
    let mut injection = inject::plan(
        &compile_args,
        &InjectionPolicy {
            cflags: &decision.cflags,
            ldflags: &decision.ldflags,
            cflags_without_kconfig: &decision.cflags_without_kconfig,
            ldflags_without_kconfig: &decision.ldflags_without_kconfig,
            excluded,
            override_user_choice: config.override_user_choice,
            flags_go_first,
        },
    );
    if let Some(problem) = no_kconfig(&config, &decision, &injection, &config_env) {
        // The user's own rules cannot be decided: as bad as bad input. The
        // built-in rules (no file), a build system's test compile, or
        // passthrough: recorded as `no_kconfig`, and said once per build.
        match (&config.file, on_error) {
            (Some(_), OnError::Strict) if !build_system_probe => {
                return Err(bad_input(problem, on_error));
            }
            _ => warnings.push(Warning {
                message: problem.to_string(),
                once_per_build: Some("no-kconfig"),
                on_quiet_calls: false,
            }),
        }
    }
    stages::mark("plan_injection");
    let prober = Prober::new(cache, vec![(DEPTH_VAR.into(), invocation.child_depth())]);
    let probes = check_support(
        &prober,
        &chain.compiler,
        &compile_args.target_args,
        &decision.cflags,
        &mut injection,
    )
    .map_err(|unsupported| match unsupported {
        Unsupported::Required(message) => ShimError::fatal(EXIT_ERROR, message),
        // No compiler at all behind this name (or a loop back to secwrap):
        // report it as the missing compiler it is, whatever on_error says.
        Unsupported::CannotProbe(ProbeError {
            shell_status: Some(status),
            message,
            ..
        }) => ShimError::fatal(status, message),
        Unsupported::CannotProbe(error) => bad_input(
            BadInput {
                path: chain.compiler.clone(),
                position: None,
                message: format!("cannot probe the compiler: {error}"),
            },
            on_error,
        ),
    })?;
    stages::mark("plan_probed");
    // A cache lock someone held past the deadline: the answers were
    // computed without it; worth saying, once per build.
    warnings.extend(prober.cache_lock_given_up().map(|message| Warning {
        message,
        once_per_build: Some("cache-lock"),
        on_quiet_calls: false,
    }));
    chain.args = inject::injected_argv(rest, &injection.added, flags_go_first);

    Ok(Plan {
        compile_args,
        classification,
        inputs,
        outputs,
        build_system_probe,
        injection,
        identified: wrapped.identified,
        probes,
        keep_originals: config.keep_originals,
        originals: Vec::new(),
        fingerprint: decision.fingerprint,
        chain,
        log: config.log.map(|log| log.value),
        on_error,
        root: config.root,
        warnings,
    })
}

/// Why the rules could not decide this job's flags, when they could not:
/// some rule reads Kconfig symbols, no Kconfig values were found, and the
/// job would otherwise have taken its flags (`SkipReason::NoKconfig`).
fn no_kconfig(
    config: &Config,
    decision: &Decision,
    injection: &Injection,
    env: &ConfigEnv,
) -> Option<BadInput> {
    let mut rules: Vec<&str> = decision
        .cflags_without_kconfig
        .iter()
        .chain(&decision.ldflags_without_kconfig)
        .filter(|wanted| {
            injection.skipped.iter().any(|skipped| {
                skipped.reason == SkipReason::NoKconfig && skipped.flag == wanted.flag
            })
        })
        .map(|wanted| wanted.rule.as_str())
        .collect();
    rules.dedup();
    if rules.is_empty() {
        return None;
    }
    let whose = match &config.file {
        Some(_) => format!("rule `{}` reads", rules.join("`, `")),
        None => "no secwrap.toml here, and the built-in rules read".to_string(),
    };
    // Nothing found because the search stopped at someone else's directory.
    let stopped: String = crate::config::searches_stopped(env)
        .iter()
        .map(|(dir, uid)| {
            format!(
                " (the search stopped before `{}`, owned by uid {uid})",
                dir.display()
            )
        })
        .collect();
    Some(BadInput {
        path: config
            .file
            .as_ref()
            .map_or_else(|| env.cwd.clone(), |file| file.value.clone()),
        position: None,
        message: format!(
            "{whose} Kconfig symbols, but no Kconfig values were found (no `kconfig` key, no include/config/auto.conf or .config upward{stopped}): nothing added; name them with `kconfig = ...`, or split every compile with `when = \"y\"` (`secwrap init --always`)"
        ),
    })
}

/// One flag group the compiler was asked about.
#[derive(Clone, Debug)]
pub struct FlagProbe {
    pub flags: Vec<OsString>,
    pub mode: ProbeMode,
    pub answer: ProbeAnswer,
}

/// A launcher named in the config (`launcher = ["ccache"]`), unless the
/// command line or PATH already put one in front: its first word is
/// resolved like a compiler word, the rest are passed to it as they are.
fn configured_launcher(
    invocation: &Invocation,
    config: &Config,
    chain: &mut Chain,
) -> Result<(), BadInput> {
    let Some((first, words)) = config.launcher.split_first() else {
        return Ok(());
    };
    let path_var = invocation.path_var.as_deref();
    match crate::compiler::resolve_program(first, path_var, &invocation.cwd, &invocation.me) {
        Some(launcher) => {
            chain.launcher = Some(launcher);
            chain.launcher_words = words.to_vec();
            Ok(())
        }
        None => Err(BadInput {
            path: match &config.file {
                _ if config.launcher_from_env => PathBuf::from(crate::exit::LAUNCHER_VAR),
                Some(file) => file.value.clone(),
                None => PathBuf::new(),
            },
            position: config.launcher_position,
            message: format!("launcher `{}` not found on PATH", first.to_string_lossy()),
        }),
    }
}

/// The directory of `keep_originals = "DIR"` that holds the copies a build
/// keeps: `DIR/<build id>/`, so that each build keeps the objects as they
/// were before it overwrote them (a second patched build keeps the first
/// one's objects, and `secwrap diff --build` can pair every build with the
/// baseline). A compile outside a build (no `SECWRAP_BUILD_ID`) uses `-`,
/// the name `secwrap log builds` gives those records. A build id is one
/// directory name whatever it holds: `/`, `%` and a leading `.` are
/// written `%2F`, `%25` and `%2E` (so `..` cannot leave `DIR`), an empty id
/// is `%`.
fn build_directory_name(build_id: Option<&str>) -> String {
    let Some(id) = build_id else {
        return crate::record::history::UNNAMED_BUILD.to_string();
    };
    if id.is_empty() {
        return "%".to_string();
    }
    let mut name = String::with_capacity(id.len());
    for (index, character) in id.char_indices() {
        match character {
            '/' => name.push_str("%2F"),
            '%' => name.push_str("%25"),
            '.' if index == 0 => name.push_str("%2E"),
            other => name.push(other),
        }
    }
    name
}

/// Copies each object a compile is about to overwrite into `keep_dir` (the
/// build's own directory, [`build_directory_name`]), under its path
/// relative to `root`, unless a copy is already there: the first compile of
/// the object in a build keeps it as it was before that build. (kpatch-cc
/// copies to `$TEMPDIR/orig/` before every compile; keeping the first copy
/// means an object compiled twice in one build still has its original.)
/// Returns (object, copy) for each copy made.
///
/// The copies are files secwrap writes by itself (`atomic.rs`): the keep
/// directory and the directories on the way must be fit to hold them
/// (trusted owners, none writable by others unless sticky; missing ones
/// created 0700, as kpatch-build's private `~/.kpatch/tmp/orig`), and a
/// copy already there must be a regular file of a trusted user. Anything
/// else in its place (a symlink, another user's "original") is an error,
/// never taken as kept: `secwrap diff` would read a planted original as
/// the truth about what the patch changes.
fn keep_originals(
    keep_dir: &Path,
    root: &Path,
    outputs: &[PathBuf],
    users: TrustedUsers,
) -> Result<Vec<(PathBuf, PathBuf)>, BadInput> {
    let mut kept = Vec::new();
    for object in outputs
        .iter()
        .filter_map(|output| paths::final_object(output))
    {
        if !object.is_file() {
            continue;
        }
        let relative = paths::relative_to(&object, root);
        let copy = keep_dir.join(relative.strip_prefix("/").unwrap_or(&relative));
        let failed = |error: std::io::Error| BadInput {
            path: copy.clone(),
            position: None,
            message: format!("cannot keep the original object: {}", io_message(&error)),
        };
        let directory =
            atomic::prepare_directory(copy.parent().unwrap_or(keep_dir), users).map_err(failed)?;
        // Already kept (by an earlier build) when a copy of ours is there;
        // `copy_noclobber` decides the race with a concurrent compile of
        // the same object, and the winner's copy is judged the same way.
        let already_kept = |copy: &Path| match std::fs::symlink_metadata(copy) {
            Ok(metadata) => atomic::check_owned(&metadata, users, &directory)
                .map(|()| true)
                .map_err(|refused| failed(refused.into())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(failed(error)),
        };
        if already_kept(&copy)? {
            continue;
        }
        if atomic::copy_noclobber(&object, &copy).map_err(failed)? {
            kept.push((object, copy));
        } else {
            already_kept(&copy)?;
        }
    }
    Ok(kept)
}

/// Why flags to inject cannot all be used.
enum Unsupported {
    /// A required rule's flags are rejected: the message says by what.
    Required(String),
    /// The compiler could not even be asked.
    CannotProbe(crate::probe::ProbeError),
}

/// Asks the compiler about each rule's flags that are about to be added,
/// as one group per rule (`cc-option` takes several flags at once).
/// Optional groups it rejects move to `skipped` as `unsupported`.
fn check_support(
    prober: &Prober,
    compiler: &Path,
    target_args: &[OsString],
    wanted: &[WantedFlag],
    injection: &mut Injection,
) -> Result<Vec<FlagProbe>, Unsupported> {
    let mut records = Vec::new();
    let mut rules: Vec<(&str, bool)> = Vec::new();
    for flag in wanted
        .iter()
        .filter(|flag| injection.added.contains(&flag.flag))
    {
        if !rules.iter().any(|(rule, _)| *rule == flag.rule) {
            rules.push((&flag.rule, flag.required));
        }
    }
    for (rule, required) in rules {
        let group: Vec<OsString> = wanted
            .iter()
            .filter(|flag| flag.rule == rule && injection.added.contains(&flag.flag))
            .map(|flag| flag.flag.clone())
            .collect();
        let mode = ProbeMode::for_flags(&group);
        let answer = prober
            .probe(&ProbeRequest {
                compiler,
                target_args,
                flags: &group,
                mode,
            })
            .map_err(Unsupported::CannotProbe)?;
        let supported = answer.supported;
        let message = answer.message.clone();
        records.push(FlagProbe {
            flags: group.clone(),
            mode,
            answer,
        });
        if supported {
            continue;
        }
        let flags: Vec<_> = group.iter().map(|flag| flag.to_string_lossy()).collect();
        if required {
            return Err(Unsupported::Required(format!(
                "`{}` does not support `{}`, required by rule `{rule}`: {}",
                compiler.display(),
                flags.join(" "),
                if message.is_empty() {
                    "the probe failed"
                } else {
                    &message
                }
            )));
        }
        injection.added.retain(|flag| !group.contains(flag));
        injection
            .skipped
            .extend(group.into_iter().map(|flag| Skipped {
                flag,
                reason: SkipReason::Unsupported,
            }));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(build_id: Option<&str>, expected: &str) {
        assert_eq!(build_directory_name(build_id), expected, "{build_id:?}");
    }

    #[test]
    fn build_directory_names() {
        check(None, "-");
        check(Some("orig"), "orig");
        check(Some("20261201T120000Z-4242"), "20261201T120000Z-4242");
        check(Some("patch.1"), "patch.1");
        check(Some("with space"), "with space");
        // One directory name, never a way out of the keep directory.
        check(Some("a/b"), "a%2Fb");
        check(Some("../../etc"), "%2E.%2F..%2Fetc");
        check(Some("."), "%2E");
        check(Some(".."), "%2E.");
        check(Some(".hidden"), "%2Ehidden");
        // `%` is escaped, so that no two ids share a directory.
        check(Some("a%2Fb"), "a%252Fb");
        check(Some(""), "%");
        check(Some("%"), "%25");
    }
}
