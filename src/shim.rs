//! The shim: one compiler invocation, start to end.
//!
//! raw argv → compiler resolution → classification → config and Kconfig →
//! injection → exec → record. Every stage's decision lands in the record;
//! stdout is never written, and stderr only for secwrap's own errors.
//!
//! Pure pass-through (process replaced by the compiler, nothing recorded)
//! happens for `SECWRAP_DISABLE=1`, for a secwrap run by another secwrap's
//! compiler (the recursion guard `SECWRAP_DEPTH` is set: the outer one has
//! already injected and recorded), for programs that are not compilers
//! (`CROSS_COMPILE="secwrap "` also sends `objcopy`, `ld`, `ar`), and for a
//! launcher asked about itself (`secwrap ccache -s`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::args::end_of_options;
use crate::cache::DiskCache;
use crate::classify::{Classification, CompileArgs, Language};
use crate::compiler::{self, SelfIdentity};
use crate::config::{Config, ConfigEnv, OnError, WantedFlag};
use crate::error::{ConfigError, io_message};
use crate::exec;
use crate::exit::{DEPTH_VAR, EXIT_CANNOT_RUN, EXIT_ERROR, EXIT_NOT_FOUND, MAX_DEPTH};
use crate::inject::{self, Injection, InjectionPolicy, SkipReason, Skipped};
use crate::paths;
use crate::probe::{self, ProbeMode, ProbeRequest, Prober};
use crate::record::{
    InvocationRecord, KeptOriginal, LogWriter, OsText, ProbeRecord, SCHEMA_VERSION, SkippedFlag,
};
use crate::response_file::expand_response_files;

/// Runs the compiler named by `argv[word_index]`; the arguments follow it.
/// `argv[0]` is how secwrap was called (`secwrap`, or a masquerade name).
pub fn main(argv: Vec<OsString>, word_index: usize) -> ! {
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => fail(
            EXIT_ERROR,
            &format!("cannot read the working directory: {}", io_message(&error)),
        ),
    };
    let depth: u32 = std::env::var(DEPTH_VAR)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let me = match SelfIdentity::current() {
        Ok(me) => me,
        Err(error) => fail(
            EXIT_ERROR,
            &format!(
                "cannot find secwrap's own executable: {}",
                io_message(&error)
            ),
        ),
    };
    let path_var = std::env::var_os("PATH");
    let disabled =
        std::env::var_os("SECWRAP_DISABLE").is_some_and(|value| !value.is_empty() && value != "0");
    let inner = depth > 0;
    let child_depth = (depth + 1).to_string();
    let guard = (DEPTH_VAR, child_depth.as_str());
    let word = &argv[word_index];
    let name = Path::new(word).file_name().unwrap_or(word.as_os_str());
    if depth >= MAX_DEPTH {
        fail(
            EXIT_NOT_FOUND,
            &format!(
                "`{}` leads back to secwrap {depth} times: a wrapper on PATH after secwrap calls `{}` again; no real compiler reached",
                word.to_string_lossy(),
                name.to_string_lossy()
            ),
        );
    }

    // `secwrap ccache gcc ...`: the compiler is the word after the launcher.
    let mut rest = &argv[word_index + 1..];
    let explicit_launcher = match compiler::launcher_name(Path::new(word)) {
        Some(_) => {
            let Some(launcher) = compiler::resolve_program(word, path_var.as_deref(), &cwd, &me)
            else {
                fail(
                    EXIT_NOT_FOUND,
                    &format!("launcher `{}` not found on PATH", word.to_string_lossy()),
                );
            };
            match rest.first() {
                Some(next) if !next.as_bytes().starts_with(b"-") => {}
                // The launcher's own options (`ccache -s`): not a compile.
                _ => pass_through(&launcher, None, rest, None),
            }
            Some(launcher)
        }
        None => None,
    };
    let compiler_word = match explicit_launcher {
        Some(_) => {
            let (first, others) = rest.split_first().expect("checked above");
            rest = others;
            first
        }
        None => word,
    };
    let compiler_name = Path::new(compiler_word)
        .file_name()
        .unwrap_or(compiler_word.as_os_str());
    let use_launchers = !inner && !disabled && explicit_launcher.is_none();
    let resolved = match compiler::resolve(
        compiler_word,
        path_var.as_deref(),
        &cwd,
        &me,
        use_launchers,
        word_index == 0,
    ) {
        Ok(resolved) => resolved,
        Err(not_found) => fail(
            EXIT_NOT_FOUND,
            &format!(
                "compiler `{}` not found on PATH (secwrap itself skipped)",
                not_found.name.to_string_lossy()
            ),
        ),
    };
    let launcher = explicit_launcher.or_else(|| resolved.launcher.clone());
    if disabled || inner || compiler::compiler_family(compiler_name).is_none() {
        pass_through(
            &resolved.compiler,
            launcher.as_deref(),
            rest,
            inner.then_some(guard),
        );
    }

    let fallback = Fallback {
        compiler: resolved.compiler.clone(),
        launcher: launcher.clone(),
        args: rest,
    };
    let env = ConfigEnv::from_process(cwd.clone());
    let config = match Config::load(&env) {
        Ok(config) => config,
        Err(error) => fallback.bad_input(&error, env.on_error_before_file()),
    };
    let cache = crate::cache::default_dir().and_then(DiskCache::open);
    let kconfig_values = match config.load_rule_values(cache.as_ref()) {
        Ok(values) => values,
        Err(error) => fallback.bad_input(&error, config.on_error.value),
    };
    // A launcher named in the config (`launcher = ["ccache"]`), unless the
    // command line or PATH already put one in front: its first word is
    // resolved like a compiler word, the rest are passed to it as they are.
    let (launcher, launcher_words) = match (launcher, config.launcher.split_first()) {
        (Some(launcher), _) => (Some(launcher), &[][..]),
        (None, None) => (None, &[][..]),
        (None, Some((first, words))) => {
            match compiler::resolve_program(first, path_var.as_deref(), &cwd, &me) {
                Some(launcher) => (Some(launcher), words),
                None => fallback.bad_input(
                    &ConfigError {
                        path: config
                            .file
                            .as_ref()
                            .map(|file| file.value.clone())
                            .unwrap_or_default(),
                        position: config.launcher_position,
                        message: format!(
                            "launcher `{}` not found on PATH",
                            first.to_string_lossy()
                        ),
                    },
                    config.on_error.value,
                ),
            }
        }
    };

    let expanded = expand_response_files(rest, &cwd);
    let compile_args = CompileArgs::parse(&expanded);
    let classification = compile_args.classification();
    let decision = config.evaluate(&kconfig_values);
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
    let sources = compile_args
        .inputs
        .iter()
        .zip(&inputs)
        .filter(|(input, _)| input.language != Language::LinkerInput)
        .map(|(_, path)| path.as_path());
    // Only a job that would get flags needs the exclusion globs matched.
    let wants_flags = !decision.cflags.is_empty() || !decision.ldflags.is_empty();
    let excluded =
        wants_flags && config.is_excluded(sources.chain(outputs.iter().map(PathBuf::as_path)));
    let mut injection = inject::plan(
        &compile_args,
        &InjectionPolicy {
            cflags: &decision.cflags,
            ldflags: &decision.ldflags,
            excluded,
            override_user_choice: config.override_user_choice,
        },
    );
    let prober = Prober::new(cache, vec![(DEPTH_VAR.into(), child_depth.clone().into())]);
    let probes = match check_support(
        &prober,
        &resolved.compiler,
        &compile_args.target_args,
        &decision.cflags,
        &mut injection,
    ) {
        Ok(probes) => probes,
        Err(Unsupported::Required(message)) => fail(EXIT_ERROR, &message),
        // No compiler at all behind this name (or a loop back to secwrap):
        // report it as the missing compiler it is, whatever on_error says.
        Err(Unsupported::CannotProbe(error)) if error.compiler_missing => {
            fail(EXIT_NOT_FOUND, &error.message)
        }
        Err(Unsupported::CannotProbe(error)) => {
            let error = ConfigError {
                path: resolved.compiler.clone(),
                position: None,
                message: format!("cannot probe the compiler: {error}"),
            };
            fallback.bad_input(&error, config.on_error.value)
        }
    };
    let response_file_ends_options =
        end_of_options(rest).is_none() && end_of_options(&expanded).is_some();
    let compiler_args = inject::injected_argv(rest, &injection.added, response_file_ends_options);

    let mut log = match &config.log {
        Some(log) => match LogWriter::open(&log.value) {
            Ok(writer) => Some(writer),
            Err(error) => {
                let error = ConfigError {
                    path: log.value.clone(),
                    position: None,
                    message: format!("cannot open the invocation log: {}", io_message(&error)),
                };
                fallback.bad_input(&error, config.on_error.value)
            }
        },
        None => None,
    };

    let originals = match (&config.keep_originals, classification) {
        (Some(keep_dir), Classification::Compile) => {
            match keep_originals(keep_dir, &config.root, &outputs) {
                Ok(originals) => originals,
                Err(error) => fallback.bad_input(&error, config.on_error.value),
            }
        }
        _ => Vec::new(),
    };

    let (program, program_args) = chain(
        &resolved.compiler,
        launcher.as_deref(),
        launcher_words,
        &compiler_args,
    );
    let started = SystemTime::now();
    let run = match exec::run(
        &program,
        &program_args,
        &[(guard.0, OsStr::new(guard.1))],
        exec::SignalPolicy::ForwardAll,
    ) {
        Ok(run) => run,
        Err(error) => fail(
            EXIT_CANNOT_RUN,
            &format!("cannot run `{}`: {}", program.display(), io_message(&error)),
        ),
    };

    if let Some(log) = &mut log {
        let (status, signal) = match run.outcome {
            exec::Outcome::Exited(code) => (Some(code), None),
            exec::Outcome::Signaled(signal) => (None, Some(signal)),
        };
        let os_texts = |values: &[OsString]| {
            values
                .iter()
                .map(|value| OsText::new(value))
                .collect::<Vec<_>>()
        };
        let path_texts = |values: &[PathBuf]| {
            values
                .iter()
                .map(|value| OsText::new(value.as_os_str()))
                .collect::<Vec<_>>()
        };
        let mut exec_argv = vec![program.clone().into_os_string()];
        exec_argv.extend(program_args.iter().cloned());
        let record = InvocationRecord {
            version: SCHEMA_VERSION,
            secwrap: env!("CARGO_PKG_VERSION").to_string(),
            time: humantime::format_rfc3339_millis(started).to_string(),
            pid: std::process::id(),
            build: std::env::var("SECWRAP_BUILD_ID")
                .ok()
                .filter(|build| !build.is_empty()),
            cwd: OsText::new(cwd.as_os_str()),
            compiler: OsText::new(resolved.compiler.as_os_str()),
            launcher: launcher
                .as_deref()
                .map(|path| OsText::new(path.as_os_str())),
            argv: os_texts(&argv),
            exec: os_texts(&exec_argv),
            kind: classification.as_str().to_string(),
            injected: os_texts(&injection.added),
            skipped: injection
                .skipped
                .iter()
                .map(|skipped| SkippedFlag {
                    flag: OsText::new(&skipped.flag),
                    reason: skipped.reason.as_str().to_string(),
                })
                .collect(),
            inputs: path_texts(&inputs),
            output: (outputs.len() == 1).then(|| OsText::new(outputs[0].as_os_str())),
            outputs: if outputs.len() > 1 {
                path_texts(&outputs)
            } else {
                Vec::new()
            },
            originals: originals
                .iter()
                .map(|(object, copy)| KeptOriginal {
                    object: OsText::new(object.as_os_str()),
                    copy: OsText::new(copy.as_os_str()),
                })
                .collect(),
            lto: compile_args.lto,
            probes,
            config: decision.fingerprint.clone(),
            status,
            signal,
            duration_ms: run.duration.as_secs_f64() * 1000.0,
        };
        if let Err(error) = log.append(&record) {
            let message = format!(
                "{}: cannot append the invocation record: {}",
                log.path().display(),
                io_message(&error)
            );
            match config.on_error.value {
                // The compile happened but its record is lost: fail, so the
                // build does not go on without it.
                OnError::Strict => fail(EXIT_ERROR, &message),
                OnError::Passthrough => eprintln!("secwrap: warning: {message}"),
            }
        }
    }
    run.outcome.exit()
}

/// Copies each object a compile is about to overwrite into `keep_dir`,
/// under its path relative to `root`, unless a copy is already there: the
/// first compile of a patched build keeps the original build's object
/// (kpatch-cc copies to `orig/` the same way). Returns (object, copy) for
/// each copy made.
fn keep_originals(
    keep_dir: &Path,
    root: &Path,
    outputs: &[PathBuf],
) -> Result<Vec<(PathBuf, PathBuf)>, ConfigError> {
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
        // Already kept (by an earlier build, or anything at all in its
        // place, not followed): skip the copy. `copy_noclobber` decides
        // the race with a concurrent compile of the same object.
        if std::fs::symlink_metadata(&copy).is_ok() {
            continue;
        }
        let failed = |error: std::io::Error| ConfigError {
            path: copy.clone(),
            position: None,
            message: format!("cannot keep the original object: {}", io_message(&error)),
        };
        std::fs::create_dir_all(copy.parent().unwrap_or(keep_dir)).map_err(failed)?;
        if crate::atomic::copy_noclobber(&object, &copy).map_err(failed)? {
            kept.push((object, copy));
        }
    }
    Ok(kept)
}

/// Why flags to inject cannot all be used.
enum Unsupported {
    /// A required rule's flags are rejected: the message says by what.
    Required(String),
    /// The compiler could not even be asked.
    CannotProbe(probe::ProbeError),
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
) -> Result<Vec<ProbeRecord>, Unsupported> {
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
        records.push(ProbeRecord {
            flags: group.iter().map(|flag| OsText::new(flag)).collect(),
            mode: mode.as_str().to_string(),
            supported: answer.supported,
            cached: answer.cached,
        });
        if answer.supported {
            continue;
        }
        let flags: Vec<_> = group.iter().map(|flag| flag.to_string_lossy()).collect();
        if required {
            return Err(Unsupported::Required(format!(
                "`{}` does not support `{}`, required by rule `{rule}`: {}",
                compiler.display(),
                flags.join(" "),
                if answer.message.is_empty() {
                    "the probe failed"
                } else {
                    &answer.message
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

/// The program to start and its arguments: the launcher (if any) runs the
/// compiler by absolute path.
fn chain(
    compiler: &Path,
    launcher: Option<&Path>,
    launcher_words: &[OsString],
    args: &[OsString],
) -> (PathBuf, Vec<OsString>) {
    match launcher {
        Some(launcher) => {
            let mut launcher_args = Vec::with_capacity(launcher_words.len() + args.len() + 1);
            launcher_args.extend_from_slice(launcher_words);
            launcher_args.push(compiler.as_os_str().to_os_string());
            launcher_args.extend_from_slice(args);
            (launcher.to_path_buf(), launcher_args)
        }
        None => (compiler.to_path_buf(), args.to_vec()),
    }
}

/// Replaces secwrap with the compiler (behind its launcher, if any), args unchanged.
fn pass_through(
    compiler: &Path,
    launcher: Option<&Path>,
    args: &[OsString],
    guard: Option<(&str, &str)>,
) -> ! {
    let (program, program_args) = chain(compiler, launcher, &[], args);
    let error = exec::exec_replace(&program, &program_args, guard);
    let code = if error.kind() == std::io::ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    };
    fail(
        code,
        &format!("cannot run `{}`: {}", program.display(), io_message(&error)),
    )
}

/// What runs when secwrap's own input is bad: the compiler as it was asked
/// for, unchanged.
struct Fallback<'a> {
    compiler: PathBuf,
    launcher: Option<PathBuf>,
    args: &'a [OsString],
}

impl Fallback<'_> {
    /// Bad config, Kconfig, log or cache: stop (strict), or warn once and
    /// run the compiler unchanged (passthrough).
    fn bad_input(&self, error: &ConfigError, on_error: OnError) -> ! {
        match on_error {
            OnError::Strict => fail(EXIT_ERROR, &error.to_string()),
            OnError::Passthrough => {
                eprintln!("secwrap: warning: {error}; running the compiler unchanged");
                pass_through(&self.compiler, self.launcher.as_deref(), self.args, None)
            }
        }
    }
}

/// secwrap's own error: one line on stderr, and the exit code.
fn fail(code: i32, message: &str) -> ! {
    eprintln!("secwrap: error: {message}");
    std::process::exit(code)
}
