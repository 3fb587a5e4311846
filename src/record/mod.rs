//! The invocation record: one JSON object per line (JSON Lines), appended
//! for every invocation that reaches a compiler, injected or not.
//!
//! This module is the only one that knows the schema; [`InvocationRecord`]
//! documents every field. Schema version: [`SCHEMA_VERSION`].
//!
//! # Text encoding
//! Paths and arguments are bytes on Unix. A value that is valid UTF-8 is a
//! JSON string; any other is `{"bytes": "<base64>"}` (standard alphabet,
//! padded), so nothing is lost (ripgrep's JSON printer does the same with
//! `text`/`bytes`).
//!
//! # Concurrency and crashes
//! Under `make -j` many secwraps append to one file. Each record is
//! serialised first and written with one `write` on an `O_APPEND` file
//! descriptor while holding an exclusive `flock` on it (ccache needed both
//! after `ccache/ccache#350`), so records never interleave. Under the lock
//! the writer notes the file's length: a write that fails part-way (a full
//! disk) is truncated back to it, removing only that writer's own bytes,
//! and a record always starts on a fresh line. A process killed in the
//! middle of a write can still leave a torn line; the next record starts
//! after it, and [`read_log`] skips it and reports it instead of failing.
//!
//! `secwrap log clear` truncates the log under the same lock;
//! `secwrap log prune` renames a rewrite onto it under the lock, and a
//! writer that then gets the lock on the replaced file sees that the path
//! names another inode and reopens it ([`LogWriter::append`]), so neither
//! loses a record appended meanwhile.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::classify::Classification;
use crate::compiler::Family;
use crate::exec;
use crate::inject::SkipReason;
use crate::invocation::Invocation;
use crate::plan::Plan;
use crate::probe::ProbeMode;
use crate::trust::TrustedUsers;

pub mod build_probe;
pub mod export;
pub mod history;
pub mod index;
pub mod reader;
pub mod stats;

/// Bumped when a field changes meaning or disappears; adding fields does not.
pub const SCHEMA_VERSION: u32 = 1;

/// A byte string as JSON: a string when it is UTF-8, else base64 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OsText {
    Text(String),
    Bytes { bytes: String },
}

impl OsText {
    pub fn new(value: &OsStr) -> OsText {
        match value.to_str() {
            Some(text) => OsText::Text(text.to_string()),
            None => OsText::Bytes {
                bytes: BASE64.encode(value.as_bytes()),
            },
        }
    }

    /// The original bytes; `None` only for a record with bad base64.
    pub fn to_os_string(&self) -> Option<OsString> {
        match self {
            OsText::Text(text) => Some(OsString::from(text)),
            OsText::Bytes { bytes } => BASE64.decode(bytes).ok().map(OsString::from_vec),
        }
    }

    /// For display: lossy.
    pub fn display(&self) -> String {
        self.to_os_string()
            .map(|value| value.to_string_lossy().into_owned())
            .unwrap_or_else(|| "<bad bytes>".to_string())
    }
}

/// A word of the record's vocabulary (`kind`, a skip `reason`, a probe
/// `mode`): a value of the stage's enum, spelled by its serde name, or a
/// word a newer secwrap wrote. Old logs and newer logs both read; a reader
/// that meets a word it does not know sees [`Term::Unknown`] (shown as
/// `unknown`) instead of failing on the whole line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Term<T> {
    Known(T),
    /// The word as written, kept so that nothing read is lost.
    Unknown(String),
}

impl<T: PartialEq> Term<T> {
    /// Whether this is the known value `value`.
    pub fn is(&self, value: T) -> bool {
        matches!(self, Term::Known(known) if *known == value)
    }
}

impl<T> From<T> for Term<T> {
    fn from(value: T) -> Term<T> {
        Term::Known(value)
    }
}

impl<T: Serialize> fmt::Display for Term<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The serde name: the one spelling, so no table can drift from it.
            Term::Known(value) => match serde_json::to_value(value) {
                Ok(serde_json::Value::String(word)) => f.pad(&word),
                _ => f.pad("unknown"),
            },
            Term::Unknown(_) => f.pad("unknown"),
        }
    }
}

/// A flag not added, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFlag {
    pub flag: OsText,
    pub reason: Term<SkipReason>,
}

/// One flag-group probe and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub flags: Vec<OsText>,
    /// `option` (`cc-option`) or `disable_warning` (`cc-disable-warning`).
    pub mode: Term<ProbeMode>,
    pub supported: bool,
    pub cached: bool,
}

/// An object copied aside before a compile overwrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptOriginal {
    /// The object (its final name), absolute.
    pub object: OsText,
    /// The copy of the original, absolute.
    pub copy: OsText,
}

/// One compiler invocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// Schema version, [`SCHEMA_VERSION`].
    pub version: u32,
    /// secwrap's version.
    pub secwrap: String,
    /// When the compiler started, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// secwrap's process id.
    pub pid: u32,
    /// The build this invocation belongs to (`SECWRAP_BUILD_ID`, set by
    /// `secwrap run`); absent outside one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// Working directory, absolute.
    pub cwd: OsText,
    /// The real compiler run, absolute, as found on `PATH` (not canonicalised).
    pub compiler: OsText,
    /// Launcher run in front of it (ccache, distcc...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<OsText>,
    /// The family (`gcc`, `clang`) a compiler whose name says nothing
    /// (`mycc`, `kgcc`, a wrapper program) was identified as by asking it
    /// (`identify.rs`); absent when its name says what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified: Option<Term<Family>>,
    /// The command line as secwrap received it, argv[0] included.
    pub argv: Vec<OsText>,
    /// The command line as run: program first, response files unexpanded.
    pub exec: Vec<OsText>,
    /// What the invocation does (`classify::Classification`).
    pub kind: Term<Classification>,
    /// Flags secwrap added, in order.
    pub injected: Vec<OsText>,
    /// Flags the config wanted but secwrap did not add.
    pub skipped: Vec<SkippedFlag>,
    /// Positional inputs (response files expanded), absolute; `-` is stdin.
    pub inputs: Vec<OsText>,
    /// The file written (`-o`, or the driver's default name), absolute;
    /// null when none or when several are written (see `outputs`).
    pub output: Option<OsText>,
    /// Every file written when a job without `-o` writes several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OsText>,
    /// The objects this compile overwrote, and where each was copied first
    /// (`[livepatch] keep_originals`), as kpatch-cc keeps originals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub originals: Vec<KeptOriginal>,
    /// `-flto` in effect: the object holds IR, and splitting happens at link.
    pub lto: bool,
    /// Flag groups asked about before injecting (`probe.rs`); `cached`
    /// false means the probe ran during this invocation.
    #[serde(default)]
    pub probes: Vec<ProbeRecord>,
    /// Fingerprint of the effective config and the Kconfig values it read.
    pub config: String,
    /// The compiler's exit status; null when it died of a signal.
    pub status: Option<i32>,
    /// The signal that killed the compiler, if one did.
    pub signal: Option<i32>,
    /// Wall time of the compiler, milliseconds.
    pub duration_ms: f64,
    /// Wall time secwrap added, milliseconds: from the shim's start to the
    /// record, less the compiler's run (config, Kconfig, probes, copies of
    /// originals). Absent in records from before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secwrap_ms: Option<f64>,
    /// What secwrap warned about for this invocation (`secwrap: warning:`
    /// lines, also those it did not print: see README, "Errors and warnings").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// A build system's own question to the compiler (Kbuild's `cc-option`,
    /// configure's `conftest.c`, Meson's sanity check), not a compile of
    /// the tree: readers leave it out of builds' objects (`probe_kind`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub build_system_probe: bool,
}

impl InvocationRecord {
    /// The record of a wrapped call: what it received, what was planned
    /// for it, how the run went.
    pub fn new(
        invocation: &Invocation,
        plan: &Plan,
        run: &exec::Run,
        started: std::time::SystemTime,
        overhead: std::time::Duration,
    ) -> InvocationRecord {
        let texts = |values: &[OsString]| values.iter().map(|value| OsText::new(value)).collect();
        let paths = |values: &[PathBuf]| {
            values
                .iter()
                .map(|value| OsText::new(value.as_os_str()))
                .collect()
        };
        let (program, args) = plan.chain.command();
        let mut exec = vec![OsText::new(program.as_os_str())];
        exec.extend(args.iter().map(|arg| OsText::new(arg)));
        let (status, signal) = match run.outcome {
            exec::Outcome::Exited(code) => (Some(code), None),
            exec::Outcome::Signaled(signal) => (None, Some(signal)),
        };
        let single_output = plan.outputs.len() == 1;
        InvocationRecord {
            version: SCHEMA_VERSION,
            secwrap: env!("CARGO_PKG_VERSION").to_string(),
            time: humantime::format_rfc3339_millis(started).to_string(),
            pid: crate::invocation::own_pid(),
            build: invocation.build_id.clone(),
            cwd: OsText::new(invocation.cwd.as_os_str()),
            compiler: OsText::new(plan.chain.compiler.as_os_str()),
            launcher: plan
                .chain
                .launcher
                .as_ref()
                .map(|path| OsText::new(path.as_os_str())),
            identified: plan.identified.map(Term::from),
            argv: texts(&invocation.argv),
            exec,
            kind: plan.classification.into(),
            injected: texts(&plan.injection.added),
            skipped: plan
                .injection
                .skipped
                .iter()
                .map(|skipped| SkippedFlag {
                    flag: OsText::new(&skipped.flag),
                    reason: skipped.reason.into(),
                })
                .collect(),
            inputs: paths(&plan.inputs),
            output: single_output.then(|| OsText::new(plan.outputs[0].as_os_str())),
            outputs: if single_output {
                Vec::new()
            } else {
                paths(&plan.outputs)
            },
            originals: plan
                .originals
                .iter()
                .map(|(object, copy)| KeptOriginal {
                    object: OsText::new(object.as_os_str()),
                    copy: OsText::new(copy.as_os_str()),
                })
                .collect(),
            lto: plan.compile_args.lto,
            probes: plan
                .probes
                .iter()
                .map(|probe| ProbeRecord {
                    flags: texts(&probe.flags),
                    mode: probe.mode.into(),
                    supported: probe.answer.supported,
                    cached: probe.answer.cached,
                })
                .collect(),
            config: plan.fingerprint.clone(),
            status,
            signal,
            duration_ms: run.duration.as_secs_f64() * 1000.0,
            secwrap_ms: Some(overhead.as_secs_f64() * 1000.0),
            warnings: plan
                .warnings
                .iter()
                .map(|warning| warning.message.clone())
                .collect(),
            build_system_probe: plan.build_system_probe,
        }
    }

    /// A build system's test compile: marked by the shim, or, in a record
    /// from before the mark existed, judged from its paths.
    pub fn is_build_system_probe(&self) -> bool {
        fn paths<'a>(values: impl Iterator<Item = &'a OsText>) -> Vec<PathBuf> {
            values
                .filter_map(OsText::to_os_string)
                .map(PathBuf::from)
                .collect()
        }
        self.build_system_probe
            || build_probe::is_build_system_probe(
                &paths(self.inputs.iter()),
                &paths(self.output.iter().chain(&self.outputs)),
            )
    }
}

/// An open log, ready for one append.
pub struct LogWriter {
    file: File,
    path: PathBuf,
    users: TrustedUsers,
}

impl LogWriter {
    /// Opens (creating it, and its missing directories 0700) for appending;
    /// never truncates what is there. The log is a file secwrap writes by
    /// itself, so `atomic::open_for_append` judges it and its directories
    /// for `users` (no symlink at the end, a regular file of a trusted
    /// user with one link, no directory others could swap it in): a
    /// refusal is an error that says why.
    pub fn open(path: &Path, users: TrustedUsers) -> std::io::Result<LogWriter> {
        Ok(LogWriter {
            file: crate::atomic::open_for_append(path, users)?,
            path: path.to_path_buf(),
            users,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line with one `write`, under an exclusive
    /// lock. A log that `secwrap log prune` replaced while this writer
    /// waited for the lock (a rename onto the path, under that lock) is
    /// reopened, so the record lands in the file the path now names, never
    /// in the unlinked old one.
    pub fn append(&mut self, record: &InvocationRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        // Each reopen follows a completed prune; a bound keeps a path that
        // changes under every lock from looping for ever.
        for _ in 0..100 {
            self.file.lock()?;
            if let Some(length) = self.length_if_still_the_log()? {
                let written = self.append_locked(&line, length);
                let unlocked = self.file.unlock();
                return written.and(unlocked);
            }
            self.file.unlock()?;
            self.file = crate::atomic::open_for_append(&self.path, self.users)?;
        }
        Err(std::io::Error::other(
            "the log was replaced 100 times while waiting to append",
        ))
    }

    /// The open file's length, if it is still the one at the path (same
    /// device and inode): `None` once a prune renamed its rewrite onto the
    /// path.
    fn length_if_still_the_log(&self) -> std::io::Result<Option<u64>> {
        use std::os::unix::fs::MetadataExt;
        let open = self.file.metadata()?;
        Ok(match std::fs::symlink_metadata(&self.path) {
            Ok(named) => {
                ((named.dev(), named.ino()) == (open.dev(), open.ino())).then_some(open.len())
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        })
    }

    /// The append proper, under the lock: every writer holds it, so the
    /// `length` read under it is where this record starts.
    fn append_locked(&mut self, line: &[u8], length: u64) -> std::io::Result<()> {
        // A writer killed mid-write (or a hand-made fragment) leaves a line
        // without its newline: start on a fresh line, so the fragment stays
        // one bad line and never swallows this record (hardening review 7).
        let mut last = [0u8];
        let fresh_line =
            length == 0 || (self.file.read_at(&mut last, length - 1)? == 1 && last[0] == b'\n');
        let mut bytes = Vec::with_capacity(line.len() + 1);
        if !fresh_line {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line);
        match write_whole(&mut self.file, &bytes) {
            Ok(()) => Ok(()),
            Err(error) => {
                // A full disk (ENOSPC) or a quota stops the write part-way:
                // take back our own partial bytes, and only ours (nothing
                // else was written since `length`, under the lock), so that
                // no fragment is left for the next record.
                let _ = self.file.set_len(length);
                Err(error)
            }
        }
    }
}

/// `write_all`, which stops at the first error: one `write` in the usual
/// case, a short one followed by the rest (or its error) on a full disk.
fn write_whole(file: &mut File, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match file.write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// What `secwrap log clear` removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleared {
    pub records: usize,
    pub bad_lines: usize,
}

/// Removes every record: the log truncated to nothing under its lock (as
/// `ccache -C` empties its cache in place), so its mode, owner and inode
/// stay and a writer waiting for the lock appends to the emptied file.
/// The log must exist and pass the checks every writer applies
/// (`atomic::open_existing`).
pub fn clear_log(path: &Path, users: TrustedUsers) -> std::io::Result<Cleared> {
    let file = crate::atomic::open_existing(path, users)?;
    file.lock()?;
    let cleared = (|| {
        // Counted as the readers read (a stream, light views), not loaded.
        let mut cleared = Cleared {
            records: 0,
            bad_lines: 0,
        };
        reader::for_each_line(&file, 0, 1, None, |line| {
            if !line.is_blank() {
                match reader::Parsed::of(line.bytes).facts() {
                    Some(_) => cleared.records += 1,
                    None => cleared.bad_lines += 1,
                }
            }
            Ok(())
        })?;
        // An index left behind could never describe the emptied log (it
        // is checked), but it is dead weight.
        index::remove_index(path)?;
        file.set_len(0)?;
        Ok(cleared)
    })();
    let unlocked = file.unlock();
    cleared.and_then(|cleared| unlocked.map(|()| cleared))
}

/// What `secwrap log prune` kept and removed (or would, with `--dry-run`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pruned {
    /// Build ids in the log's order (`history::builds`).
    pub kept_builds: Vec<String>,
    pub removed_builds: Vec<String>,
    pub kept_records: usize,
    pub removed_records: usize,
    /// Lines that are not records (torn, damaged): removed.
    pub removed_bad_lines: usize,
}

/// Keeps the records of the `keep` latest builds (latest by first record,
/// as `log builds` orders them; records outside `secwrap run` are the
/// build `-`). The log is read, and its rewrite renamed onto it, under
/// its lock, so no append is lost: a writer that waited for the lock on
/// the old file reopens the new one (`LogWriter::append`). The rewrite
/// keeps the log's mode and owner. With `dry_run`, nothing is written.
pub fn prune_log(
    path: &Path,
    users: TrustedUsers,
    keep: usize,
    dry_run: bool,
) -> std::io::Result<Pruned> {
    let file = crate::atomic::open_existing(path, users)?;
    file.lock()?;
    let pruned = (|| {
        // Two passes over the stream, as the readers read it: the builds
        // first, then the kept records' lines copied; only those are held.
        let mut tally = history::BuildsTally::default();
        let mut records = 0;
        reader::for_each_line(&file, 0, 1, None, |line| {
            if let Some(facts) = (!line.is_blank())
                .then(|| reader::Parsed::of(line.bytes))
                .as_ref()
                .and_then(reader::Parsed::facts)
            {
                tally.add(&facts, records);
                records += 1;
            }
            Ok(())
        })?;
        let builds = tally.into_builds();
        let split = builds.len().saturating_sub(keep);
        let (removed, kept) = builds.split_at(split);
        let kept_ids: std::collections::HashSet<&str> =
            kept.iter().map(|build| build.id.as_str()).collect();
        let mut text = Vec::new();
        let mut pruned = Pruned {
            kept_builds: kept.iter().map(|build| build.id.clone()).collect(),
            removed_builds: removed.iter().map(|build| build.id.clone()).collect(),
            kept_records: 0,
            removed_records: 0,
            removed_bad_lines: 0,
        };
        reader::for_each_line(&file, 0, 1, None, |line| {
            if line.is_blank() {
                return Ok(());
            }
            match reader::Parsed::of(line.bytes).facts() {
                Some(facts) if kept_ids.contains(facts.build) => {
                    pruned.kept_records += 1;
                    text.extend_from_slice(line.bytes);
                    text.push(b'\n');
                }
                Some(_) => pruned.removed_records += 1,
                None => pruned.removed_bad_lines += 1,
            }
            Ok(())
        })?;
        let changed = pruned.removed_records + pruned.removed_bad_lines > 0;
        if changed && !dry_run {
            // The rewrite is another inode, which an index of the old one
            // names: gone rather than checked and dropped by each reader.
            index::remove_index(path)?;
            crate::atomic::replace_file(path, &file, &text)?;
        }
        Ok(pruned)
    })();
    let unlocked = file.unlock();
    pruned.and_then(|pruned| unlocked.map(|()| pruned))
}

/// A line of the log that is not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Reads every record, keeping the good ones and naming the bad lines
/// (a torn last line from a killed writer among them).
pub fn read_log(path: &Path) -> std::io::Result<(Vec<InvocationRecord>, Vec<BadLine>)> {
    let reader = BufReader::new(File::open(path)?);
    let (mut records, mut bad_lines) = (Vec::new(), Vec::new());
    let mut lines = reader.split(b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<InvocationRecord>(&line) {
            Ok(record) => records.push(record),
            Err(error) => bad_lines.push(BadLine {
                line: index + 1,
                message: match (lines.peek().is_none(), error.is_eof()) {
                    (true, true) => {
                        "torn last line (a writer was killed mid-write); skipped".to_string()
                    }
                    // Cut short, with a record after it: the next writer
                    // started on a fresh line.
                    (false, true) => {
                        "torn line (a writer was killed mid-write); skipped".to_string()
                    }
                    _ => format!("not a record: {error}"),
                },
            }),
        }
    }
    Ok((records, bad_lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_record() -> InvocationRecord {
        let text = || OsText::new(OsStr::new("x"));
        InvocationRecord {
            version: SCHEMA_VERSION,
            secwrap: "0".into(),
            time: "t".into(),
            pid: 1,
            build: Some("b".into()),
            cwd: text(),
            compiler: text(),
            launcher: Some(text()),
            identified: Some(Family::Clang.into()),
            argv: vec![text()],
            exec: vec![text()],
            kind: Classification::Compile.into(),
            injected: vec![text()],
            skipped: vec![SkippedFlag {
                flag: text(),
                reason: SkipReason::Present.into(),
            }],
            inputs: vec![text()],
            output: Some(text()),
            outputs: vec![text()],
            originals: vec![KeptOriginal {
                object: text(),
                copy: text(),
            }],
            lto: false,
            probes: vec![ProbeRecord {
                flags: vec![text()],
                mode: ProbeMode::Option.into(),
                supported: true,
                cached: true,
            }],
            config: "c".into(),
            status: Some(0),
            signal: None,
            duration_ms: 1.0,
            secwrap_ms: Some(0.5),
            warnings: vec!["w".into()],
            build_system_probe: true,
        }
    }

    /// README's field table names exactly the fields a record can have.
    #[test]
    fn a_record_starts_on_a_fresh_line_after_a_fragment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let users = TrustedUsers::effective_user();
        LogWriter::open(&path, users)
            .unwrap()
            .append(&full_record())
            .unwrap();
        // A writer killed mid-write: its fragment has no newline.
        let mut text = std::fs::read(&path).unwrap();
        text.extend_from_slice(b"{\"version\":1,\"sec");
        std::fs::write(&path, &text).unwrap();
        let mut writer = LogWriter::open(&path, users).unwrap();
        writer.append(&full_record()).unwrap();
        writer.append(&full_record()).unwrap();
        let (records, bad_lines) = read_log(&path).unwrap();
        assert_eq!(records, vec![full_record(); 3]);
        assert_eq!(
            bad_lines,
            [BadLine {
                line: 2,
                message: "torn line (a writer was killed mid-write); skipped".into()
            }]
        );
        assert!(std::fs::read(&path).unwrap().ends_with(b"}\n"));
    }

    #[test]
    fn readme_schema_table_matches_the_record() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## The invocation record\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README has an invocation record section");
        let mut documented: Vec<&str> = section
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .flat_map(|line| {
                let names = line.split(" |").next().unwrap_or("");
                names.split(", ").map(|name| name.trim_matches('`'))
            })
            .collect();
        documented.sort();
        let serde_json::Value::Object(fields) = serde_json::to_value(full_record()).unwrap() else {
            panic!("a record is an object")
        };
        let mut actual: Vec<&str> = fields.keys().map(String::as_str).collect();
        actual.sort();
        assert_eq!(documented, actual);
    }

    #[test]
    fn vocabulary_keeps_its_spelling_and_reads_newer_words() {
        let json = serde_json::to_string(&full_record()).unwrap();
        assert!(json.contains(r#""kind":"compile""#), "{json}");
        assert!(json.contains(r#""reason":"present""#), "{json}");
        assert!(json.contains(r#""mode":"option""#), "{json}");
        assert!(json.contains(r#""identified":"clang""#), "{json}");
        let newer = json
            .replace(r#""kind":"compile""#, r#""kind":"link_time_optimise""#)
            .replace(r#""reason":"present""#, r#""reason":"future""#);
        let record: InvocationRecord = serde_json::from_str(&newer).unwrap();
        assert_eq!(record.kind, Term::Unknown("link_time_optimise".into()));
        assert_eq!(record.kind.to_string(), "unknown");
        assert!(!record.skipped[0].reason.is(SkipReason::Present));
        assert_eq!(
            format!("{:<9}|", Term::Known(Classification::Compile)),
            "compile  |"
        );
        // A record from before `warnings`, `build_system_probe`,
        // `identified` and `secwrap_ms` existed.
        let old = json
            .replace(r#","secwrap_ms":0.5"#, "")
            .replace(r#","warnings":["w"]"#, "")
            .replace(r#","build_system_probe":true"#, "")
            .replace(r#","identified":"clang""#, "");
        let record: InvocationRecord = serde_json::from_str(&old).unwrap();
        assert!(record.warnings.is_empty() && !record.build_system_probe);
        assert_eq!(record.identified, None);
        assert_eq!(record.secwrap_ms, None);
    }

    #[test]
    fn non_utf8_round_trips() {
        let raw = OsStr::from_bytes(b"caf\xe9.c");
        let text = OsText::new(raw);
        assert!(matches!(text, OsText::Bytes { .. }));
        let json = serde_json::to_string(&text).unwrap();
        assert_eq!(json, r#"{"bytes":"Y2Fm6S5j"}"#);
        let back: OsText = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_os_string().unwrap(), raw);
        assert_eq!(
            serde_json::to_string(&OsText::new(OsStr::new("a.c"))).unwrap(),
            r#""a.c""#
        );
    }
}
