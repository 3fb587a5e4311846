//! The shim: one compiler invocation, start to end, as a pipeline of values.
//!
//! [`Invocation`] (all process input, read once) → [`route`] (pass through,
//! or wrap, with the resolved chain) → [`plan`] (classification, config and
//! Kconfig, injection, probes, originals, the argv to run) → `exec::run` →
//! [`InvocationRecord::new`] → append. Each stage returns
//! `Result<_, ShimError>`; only [`main`] prints, falls back to the unchanged
//! compiler, or exits. stdout is never written; stderr gets at most one
//! `secwrap:` line (the error, or the one warning the policy shows).

use std::ffi::{OsStr, OsString};
use std::time::{Instant, SystemTime};

use crate::compiler::{NotFound, NotFoundReason};
use crate::config::OnError;
use crate::error::{BadInput, io_message};
use crate::exec;
use crate::exit::{DEPTH_VAR, EXIT_CANNOT_RUN, EXIT_ERROR, EXIT_NOT_FOUND};
use crate::invocation::Invocation;
use crate::plan::{Plan, plan};
use crate::record::{InvocationRecord, LogWriter};
use crate::route::{Chain, Route, route};
use crate::run_report;
use crate::stages;
use crate::state;
use crate::warning::{self, BuildKey, Warning};

/// secwrap's own failure, with what the entry point does about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShimError {
    /// The exit status when secwrap stops.
    pub code: i32,
    /// The text after `secwrap: error: ` (or `warning: `, when falling back).
    pub message: String,
    /// `on_error = "passthrough"`: warn and run this chain, the compiler
    /// exactly as the user asked for it, instead of stopping.
    pub fallback: Option<Box<Fallback>>,
    /// The word no program was found for (`secwrap lgo show`), so the
    /// entry point can suggest the subcommand it is one edit from.
    pub missing_program: Option<OsString>,
}

/// The unchanged compiler to run instead of stopping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    pub chain: Chain,
    /// A quiet call (`Plan::is_quiet_call`): fall back without the warning.
    pub quiet_call: bool,
}

impl ShimError {
    /// An error that always stops secwrap.
    pub fn fatal(code: i32, message: impl Into<String>) -> ShimError {
        ShimError {
            code,
            message: message.into(),
            fallback: None,
            missing_program: None,
        }
    }

    /// Bad config, Kconfig, log or cache: stop (strict), or fall back to
    /// `unchanged` with a warning (passthrough).
    pub fn bad_input(
        error: &BadInput,
        on_error: OnError,
        unchanged: &Chain,
        quiet_call: bool,
    ) -> ShimError {
        ShimError {
            code: EXIT_ERROR,
            message: error.to_string(),
            fallback: (on_error == OnError::Passthrough).then(|| {
                Box::new(Fallback {
                    chain: unchanged.clone(),
                    quiet_call,
                })
            }),
            missing_program: None,
        }
    }

    /// No program behind the compiler word, or none that can run: the
    /// shell's status for it (127 or 126).
    pub fn compiler_not_found(not_found: &NotFound) -> ShimError {
        ShimError {
            missing_program: (not_found.reason == NotFoundReason::NotOnPath)
                .then(|| not_found.name.clone()),
            ..ShimError::fatal(not_found.exit_code(), not_found.to_string())
        }
    }
}

/// What the pipeline leaves for the entry point to do.
#[derive(Debug)]
pub enum Step {
    /// Replace secwrap with this chain (nothing recorded).
    PassThrough {
        chain: Chain,
        guard: Option<OsString>,
    },
    /// The compiler ran: end as it ended, after printing the warning.
    Finished {
        outcome: exec::Outcome,
        warning: Option<String>,
    },
}

/// Runs one invocation through the pipeline, in-process.
pub fn run(invocation: &Invocation) -> Result<Step, ShimError> {
    run_since(invocation, Instant::now())
}

/// [`run`], with secwrap's own time (the record's `secwrap_ms`) counted
/// from `shim_started`: the entry point takes it before reading the
/// process, so that reading argv, the environment and `/proc` counts too.
fn run_since(invocation: &Invocation, shim_started: Instant) -> Result<Step, ShimError> {
    let child_depth = invocation.child_depth();
    let wrapped = match route(invocation)? {
        Route::PassThrough { chain, guard } => {
            return Ok(Step::PassThrough {
                chain,
                guard: guard.then_some(child_depth),
            });
        }
        Route::Wrap(wrapped) => wrapped,
    };
    stages::mark("routed");
    let mut plan = plan(invocation, &wrapped)?;
    stages::mark("planned");
    let log = prepare_writes(invocation, &mut plan, &wrapped.chain)?;
    stages::mark("writes_prepared");
    let (program, args) = plan.chain.command();
    if invocation.owns_process {
        exec::adopt_orphans();
    }
    let started = SystemTime::now();
    let run = exec::run(
        &program,
        &args,
        &[(DEPTH_VAR, child_depth.as_os_str())],
        // The process's own directory is the child's already.
        (!invocation.owns_process).then_some(invocation.cwd.as_path()),
        exec::SignalPolicy::ForwardAll,
    )
    .map_err(|error| {
        ShimError::fatal(
            shell_status(&error),
            format!("cannot run `{}`: {}", program.display(), io_message(&error)),
        )
    })?;
    if matches!(run.outcome, exec::Outcome::Signaled(_)) && invocation.owns_process {
        remove_outputs_written_since(&plan.outputs, started);
    }
    stages::mark("waited");
    if let Some(log) = log {
        // Everything but the compiler's own run, up to the record's
        // writing (its append, a lock and one write, is left out).
        let overhead = shim_started.elapsed().saturating_sub(run.duration);
        record(invocation, &mut plan, log, &run, started, overhead)?;
    }
    stages::mark("recorded");
    let warning = warning_to_show(invocation, &plan);
    Ok(Step::Finished {
        outcome: run.outcome,
        warning,
    })
}

/// The files the shim writes, readied just before the compiler runs: the
/// log opened (one that cannot be written is bad input: the compile must
/// not happen unrecorded), then the originals kept (none is copied for a
/// compile that is stopped unrecorded).
fn prepare_writes(
    invocation: &Invocation,
    plan: &mut Plan,
    unchanged: &Chain,
) -> Result<Option<LogWriter>, ShimError> {
    let users = invocation.config_env.users;
    let bad_input = |error: &BadInput, plan: &Plan| {
        ShimError::bad_input(error, plan.on_error, unchanged, plan.is_quiet_call())
    };
    let log = match &plan.log {
        Some(path) => Some(LogWriter::open(path, users).map_err(|error| {
            let error = BadInput {
                path: path.clone(),
                position: None,
                message: format!("cannot open the invocation log: {}", io_message(&error)),
            };
            bad_input(&error, plan)
        })?),
        None => None,
    };
    plan.keep_originals(invocation.build_id.as_deref(), users)
        .map_err(|error| bad_input(&error, plan))?;
    Ok(log)
}

/// A driver killed by a signal leaves what it was writing: gcc removes its
/// outputs when a signal stops it (its `delete_failure_queue`), which a
/// driver killed by SIGKILL cannot do, and its orphaned `as` may have
/// finished one before `exec` ended it. So secwrap removes the job's
/// outputs written since the compile started, and only those.
fn remove_outputs_written_since(outputs: &[std::path::PathBuf], started: SystemTime) {
    for output in outputs {
        let written_since = std::fs::symlink_metadata(output).is_ok_and(|metadata| {
            metadata.is_file()
                && metadata
                    .modified()
                    .is_ok_and(|modified| modified >= started)
        });
        if written_since {
            let _ = std::fs::remove_file(output);
        }
    }
}

/// Appends the call's record. A record that cannot
/// be written fails the call in strict mode (the compile happened, but the
/// build must not go on without its record) and is a warning otherwise.
fn record(
    invocation: &Invocation,
    plan: &mut Plan,
    mut log: LogWriter,
    run: &exec::Run,
    started: SystemTime,
    overhead: std::time::Duration,
) -> Result<(), ShimError> {
    let record = InvocationRecord::new(invocation, plan, run, started, overhead);
    if let Err(error) = log.append(&record) {
        let message = format!(
            "{}: cannot append the invocation record: {}",
            log.path().display(),
            io_message(&error)
        );
        match plan.on_error {
            OnError::Strict => return Err(ShimError::fatal(EXIT_ERROR, message)),
            OnError::Passthrough => plan.warnings.push(Warning::every_call(message)),
        }
    }
    Ok(())
}

/// The one warning line this call prints, per the policy in `warning.rs`.
fn warning_to_show(invocation: &Invocation, plan: &Plan) -> Option<String> {
    let build = match &invocation.build_id {
        Some(id) => BuildKey::Id(id),
        None => BuildKey::Session {
            root: &plan.root,
            process_group: invocation.session.0,
            session: invocation.session.1,
        },
    };
    let state_dir = invocation.state_dir.as_deref();
    warning::to_show(&plan.warnings, plan.is_quiet_call(), |name| {
        state::first_to_claim(state_dir, &(&build, name))
    })
    .map(|warning| warning.message.clone())
}

/// The entry point for compiler calls: runs the pipeline, then prints,
/// falls back or exits, as the pipeline decided. `suggest` names the
/// subcommand a missing program's word is a typo of (prefix mode only).
pub fn main(
    argv: Vec<OsString>,
    word_index: usize,
    suggest: impl Fn(&OsStr) -> Option<&'static str>,
) -> ! {
    let shim_started = Instant::now();
    let word = argv[word_index].clone();
    let step = Invocation::from_process(argv, word_index).and_then(|invocation| {
        stages::mark("invocation");
        run_since(&invocation, shim_started)
    });
    match step {
        Ok(Step::PassThrough { chain, guard }) => pass_through(&chain, guard.as_deref()),
        Ok(Step::Finished { outcome, warning }) => {
            if let Some(warning) = warning {
                eprintln!("secwrap: warning: {warning}");
            }
            stages::mark("exit");
            stages::report();
            outcome.exit()
        }
        Err(ShimError {
            message,
            fallback: Some(fallback),
            ..
        }) => {
            if !fallback.quiet_call {
                eprintln!("secwrap: warning: {message}; running the compiler unchanged");
            }
            run_report::note(run_report::Outcome::Unchanged, &message);
            pass_through(&fallback.chain, None)
        }
        Err(error) => {
            let hint = error
                .missing_program
                .as_ref()
                .filter(|name| word_index == 1 && **name == word)
                .and_then(|name| suggest(name));
            // A missing compiler is the shell's own answer (127), which
            // build tools read as such; every other stop is secwrap's.
            if error.missing_program.is_none() {
                run_report::note(run_report::Outcome::Stopped, &error.message);
            }
            match hint {
                Some(subcommand) => fail(
                    error.code,
                    &format!("{}; did you mean `secwrap {subcommand}`?", error.message),
                ),
                None => fail(error.code, &error.message),
            }
        }
    }
}

/// Replaces secwrap with the chain, arguments unchanged.
fn pass_through(chain: &Chain, depth: Option<&OsStr>) -> ! {
    let (program, args) = chain.command();
    let error = exec::exec_replace(&program, &args, depth.map(|depth| (DEPTH_VAR, depth)));
    fail(
        shell_status(&error),
        &format!("cannot run `{}`: {}", program.display(), io_message(&error)),
    )
}

/// A shell's status for a program it cannot start: 127 when `execve`
/// finds nothing (a missing `#!` interpreter too), 126 otherwise.
fn shell_status(error: &std::io::Error) -> i32 {
    if error.kind() == std::io::ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    }
}

/// secwrap's own error: one line on stderr, and the exit code.
fn fail(code: i32, message: &str) -> ! {
    eprintln!("secwrap: error: {message}");
    std::process::exit(code)
}

#[cfg(test)]
mod tests;
