//! What the shim tells an enclosing `secwrap run` about the calls it
//! stopped (strict mode) or ran unchanged (passthrough mode).
//!
//! Such a call's `secwrap: error:` line goes to the compiler's stderr, and
//! a build tool may keep that to itself: Meson's compiler sanity check and
//! configure's probes write it into their own logs and report only "the C
//! compiler cannot create executables", and a configure that then picks
//! another compiler builds unsplit. The run's summary must not then say
//! nothing ("never silently wrong"), and the record cannot say it either:
//! a stopped call makes none. So `secwrap run` names an empty file in
//! `SECWRAP_RUN_REPORT`, in a directory of its own (mode 0700), and every
//! such call appends one line to it; the run counts them at the end.
//!
//! A file named by the environment is not a file the user wrote: the shim
//! appends only to an existing regular file of its own user, opened without
//! following a symlink and never created, so the variable cannot make it
//! write anywhere else.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::exit::RUN_REPORT_VAR;
use crate::trust::effective_uid;

/// How the shim dealt with a call it could not run as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Strict mode: the call failed with secwrap's error.
    Stopped,
    /// Passthrough mode: the compiler ran unchanged, unsplit, unrecorded.
    Unchanged,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Stopped => "stopped",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Appends the call's line to the report `SECWRAP_RUN_REPORT` names, if
/// any; a report that cannot be written is left alone (the call's own
/// error or warning has been printed already).
pub fn note(outcome: Outcome, message: &str) {
    let Some(path) = std::env::var_os(RUN_REPORT_VAR).filter(|path| !path.is_empty()) else {
        return;
    };
    let _ = append(Path::new(&path), &line(outcome, message));
}

fn line(outcome: Outcome, message: &str) -> String {
    // One line per call: a message never spans lines in the report.
    format!("{}\t{}\n", outcome.word(), message.replace('\n', " "))
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() || metadata.uid() != effective_uid() {
        return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    }
    // One write with O_APPEND: the lines of concurrent jobs do not mix.
    file.write_all(line.as_bytes())
}

/// What the calls of a run reported: the messages of the stopped calls and
/// of those run unchanged, in the order they came.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub stopped: Vec<String>,
    pub unchanged: Vec<String>,
}

impl Report {
    /// Parses a report's text; a line of another shape (a newer secwrap's)
    /// is skipped.
    pub fn parse(text: &str) -> Report {
        let mut report = Report::default();
        for line in text.lines() {
            match line.split_once('\t') {
                Some(("stopped", message)) => report.stopped.push(message.to_string()),
                Some(("unchanged", message)) => report.unchanged.push(message.to_string()),
                _ => {}
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let text = [
            line(Outcome::Stopped, "secwrap runs under ccache"),
            line(Outcome::Unchanged, "two\nlines"),
            "garbage\n".to_string(),
            line(Outcome::Stopped, "again"),
        ]
        .concat();
        assert_eq!(
            Report::parse(&text),
            Report {
                stopped: vec!["secwrap runs under ccache".into(), "again".into()],
                unchanged: vec!["two lines".into()],
            }
        );
    }

    #[test]
    fn appends_only_to_an_existing_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report");
        assert!(append(&report, "x\n").is_err(), "created a missing report");
        std::fs::write(&report, "").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&report, &link).unwrap();
        assert!(append(&link, "x\n").is_err(), "followed a symlink");
        append(&report, "stopped\ta\n").unwrap();
        append(&report, "stopped\tb\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&report).unwrap(),
            "stopped\ta\nstopped\tb\n"
        );
    }
}
