//! The log's summaries, and the index that keeps them beside the log so
//! that a question about recent builds reads only what was appended since.
//!
//! [`LogSummary::read`] reads a log into what `log builds`, `stats`, `log
//! changed`, `log export --build` and `log show --build` need: the count of
//! records, each build ([`Build`], its [`Stats`], the byte ranges of its
//! records: builds that share a log interleave), and the damaged lines.
//! The index, `<log>.index` (README, "The invocation log"), holds those for
//! a prefix of the log, with what identifies that prefix: the log's device
//! and inode, the prefix's length and line count, and SHA-256 hashes of its
//! first and last 64 KiB. A reader loads it, checks it still describes the
//! log, reads only the lines after the prefix and writes the index again
//! (a temporary renamed onto it) when it covered less.
//!
//! The index is a cache, never an authority: one that is missing, for
//! another log (another inode: `log prune`'s rewrite, a log replaced),
//! longer than the log, or whose hashed bytes differ (a log truncated and
//! grown again) is read again from the log. One that is damaged (its own
//! SHA-256 does not match: a hand edit, a torn write) or fails the checks
//! of a file secwrap writes by itself (`atomic::open_private`: a symlink,
//! another user's, writable by others) is also ignored, with a warning.
//! Records read through its ranges are checked against it (their build,
//! their count): a mismatch is a log edited in place, and the whole log is
//! read instead. The shim never reads or writes it: an append stays one
//! write under the log's lock. `log clear` and `log prune` remove it under
//! that lock.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read as _};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic::Refused;
use crate::cache::hex;
use crate::record::history::{Build, BuildsTally, RecordFacts, build_of};
use crate::record::reader::{Damage, Line, Parsed, for_each_line};
use crate::record::stats::Stats;
use crate::record::{BadLine, InvocationRecord};
use crate::trust::TrustedUsers;

/// Bumped when the index's meaning changes: another version is rebuilt.
const INDEX_VERSION: u32 = 1;

/// How much of the covered prefix's start and end is hashed.
const HASHED: u64 = 64 << 10;

/// Where the index of the log at `log` lives: beside it, `.index` added to
/// its name.
pub fn index_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(".index");
    PathBuf::from(name)
}

/// Removes the index of `log` (`log clear`, `log prune`, under the log's
/// lock); none there is fine.
pub fn remove_index(log: &Path) -> io::Result<()> {
    match std::fs::remove_file(index_path(log)) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// The records of one build between two offsets, in the log's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ByteRange {
    start: u64,
    end: u64,
    /// Records in it (damaged lines between them are not counted).
    records: usize,
}

/// A build's summary beyond [`Build`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct BuildExtra {
    stats: Stats,
    /// `stats.secwrap_time.total_ns`, which `secwrap stats --json` does
    /// not print.
    secwrap_ns: i64,
    ranges: Vec<ByteRange>,
}

/// What identifies the prefix of the log an index covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Covered {
    dev: u64,
    ino: u64,
    /// Bytes covered: complete lines only (a last line without its newline
    /// may still be being written, or be a fragment a later append turns
    /// into a torn line).
    len: u64,
    /// The number of the first line after them.
    next_line: usize,
    head_sha256: String,
    end_sha256: String,
}

/// The index file's body: the summaries of the covered prefix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Body {
    covered: Covered,
    records: usize,
    builds: Vec<Build>,
    extras: Vec<BuildExtra>,
    /// The position of the last record's build: a range goes on across
    /// the end of the prefix.
    last_build: Option<usize>,
    damage: Vec<Damage>,
}

/// The index file's first line.
#[derive(Serialize, Deserialize)]
struct Header {
    secwrap_log_index: u32,
    /// Of the rest of the file.
    sha256: String,
}

/// The summaries of a whole log.
pub struct LogSummary {
    /// The log as it was read: records are read from this file, even if
    /// the path names another by then.
    file: File,
    /// Where reading stopped.
    end: u64,
    records: usize,
    tally: BuildsTally,
    extras: Vec<BuildExtra>,
    last_build: Option<usize>,
    damage: Vec<Damage>,
}

/// What reading a log said besides its summaries: each line a warning
/// (about the index; the damaged lines are [`LogSummary::bad_lines`]).
pub type Warnings = Vec<String>;

impl LogSummary {
    /// Reads the log at `path`, through its index when that still describes
    /// it, and refreshes the index (as `users` may: `atomic::write_private`;
    /// one that cannot be written is left as it is, the answer being the
    /// same).
    pub fn read(path: &Path, users: TrustedUsers) -> io::Result<(LogSummary, Warnings)> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        let index = index_path(path);
        let mut warnings = Warnings::new();
        let loaded = match load(&index, users, &file, &metadata) {
            Ok(loaded) => loaded,
            Err(why) => {
                warnings.push(format!(
                    "{}: ignored the log's index ({why}); reading the whole log",
                    index.display()
                ));
                None
            }
        };
        let had_index = loaded.is_some();
        let (mut summary, mut covered) = match loaded {
            Some(body) => LogSummary::from_body(file, body),
            None => (
                LogSummary {
                    file,
                    end: 0,
                    records: 0,
                    tally: BuildsTally::default(),
                    extras: Vec::new(),
                    last_build: None,
                    damage: Vec::new(),
                },
                (0, 1),
            ),
        };
        let start = covered.0;
        // A last line without its newline is summarised after the index is
        // written, so that the index holds complete lines only.
        let mut unterminated: Option<(usize, u64, u64, Vec<u8>)> = None;
        let scanned = {
            let LogSummary { file, .. } = &summary;
            let file = file.try_clone()?;
            for_each_line(&file, start, covered.1, None, |line| {
                if line.bytes.last().is_some() && !line_has_newline(line) {
                    unterminated = Some((line.number, line.start, line.end, line.bytes.to_vec()));
                } else {
                    summary.add_line(line);
                }
                Ok(())
            })?
        };
        summary.end = scanned.end;
        if scanned.complete_end > start || !had_index {
            covered = (scanned.complete_end, scanned.next_number);
            // Best effort: a log in a directory this user cannot write is
            // read whole each time, with the same answer.
            let _ = summary.write_index(&index, users, &metadata, covered);
        }
        if let Some((number, start, end, bytes)) = unterminated {
            summary.add_line(&Line {
                number,
                start,
                end,
                bytes: &bytes,
            });
        }
        Ok((summary, warnings))
    }

    fn from_body(file: File, body: Body) -> (LogSummary, (u64, usize)) {
        let covered = (body.covered.len, body.covered.next_line);
        let mut extras = body.extras;
        for extra in &mut extras {
            extra.stats.secwrap_time.total_ns = extra.secwrap_ns;
        }
        (
            LogSummary {
                file,
                end: covered.0,
                records: body.records,
                tally: BuildsTally::from_builds(body.builds),
                extras,
                last_build: body.last_build,
                damage: body.damage,
            },
            covered,
        )
    }

    fn add_line(&mut self, line: &Line<'_>) {
        if line.is_blank() {
            return;
        }
        let parsed = Parsed::of(line.bytes);
        match parsed.facts() {
            Some(facts) => self.add_record(&facts, line),
            None => {
                if let Parsed::Bad { torn, error } = parsed {
                    self.damage.push(Damage {
                        line: line.number,
                        end: line.end,
                        torn,
                        error: if torn { String::new() } else { error },
                    });
                }
            }
        }
    }

    fn add_record(&mut self, facts: &RecordFacts<'_>, line: &Line<'_>) {
        let position = self.tally.add(facts, self.records);
        self.records += 1;
        if position == self.extras.len() {
            self.extras.push(BuildExtra::default());
        }
        let extra = &mut self.extras[position];
        extra.stats.add(facts);
        match extra.ranges.last_mut() {
            Some(range) if self.last_build == Some(position) => {
                range.end = line.end;
                range.records += 1;
            }
            _ => extra.ranges.push(ByteRange {
                start: line.start,
                end: line.end,
                records: 1,
            }),
        }
        self.last_build = Some(position);
    }

    fn write_index(
        &self,
        index: &Path,
        users: TrustedUsers,
        metadata: &std::fs::Metadata,
        (len, next_line): (u64, usize),
    ) -> io::Result<()> {
        let (head_sha256, end_sha256) = hashes(&self.file, len)?;
        let extras = self
            .extras
            .iter()
            .map(|extra| BuildExtra {
                secwrap_ns: extra.stats.secwrap_time.total_ns,
                ..extra.clone()
            })
            .collect();
        let body = Body {
            covered: Covered {
                dev: metadata.dev(),
                ino: metadata.ino(),
                len,
                next_line,
                head_sha256,
                end_sha256,
            },
            records: self.records,
            builds: self.tally.builds().to_vec(),
            extras,
            last_build: self.last_build,
            damage: self.damage.clone(),
        };
        let body = serde_json::to_vec(&body).map_err(io::Error::other)?;
        let header = Header {
            secwrap_log_index: INDEX_VERSION,
            sha256: hex(&Sha256::digest(&body)),
        };
        let mut bytes = serde_json::to_vec(&header).map_err(io::Error::other)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);
        crate::atomic::write_private(index, users, &bytes)
    }

    /// Every record, in the log's order.
    pub fn records(&self) -> usize {
        self.records
    }

    /// The builds, in the order they first appear (`history::builds`).
    pub fn builds(&self) -> &[Build] {
        self.tally.builds()
    }

    /// The sums over the records of the build at `position` in
    /// [`LogSummary::builds`].
    pub fn stats_of(&self, position: usize) -> &Stats {
        &self.extras[position].stats
    }

    /// The sums over every record: those of the builds added up.
    pub fn whole_log_stats(&self) -> Stats {
        let mut stats = Stats::default();
        for extra in &self.extras {
            stats.merge(&extra.stats);
        }
        stats
    }

    /// The lines that are not records, as `read_log` reports them.
    pub fn bad_lines(&self) -> Vec<BadLine> {
        self.damage
            .iter()
            .map(|damage| BadLine {
                line: damage.line,
                message: damage.message(self.end),
            })
            .collect()
    }

    /// Adds the records of the builds `ids` into what `start` makes, in the
    /// log's order, read through their byte ranges one record at a time
    /// (what a question about a few builds reads, holding only its answer).
    /// Records that do not match the summaries (a log edited in place) make
    /// it start again over the whole log, with a warning, and remove the
    /// index.
    pub fn fold_records_of<A>(
        &self,
        log: &Path,
        ids: &[&str],
        start: impl Fn() -> A,
        mut add: impl FnMut(&mut A, &InvocationRecord) -> io::Result<()>,
    ) -> io::Result<(A, Warnings)> {
        let mut answer = start();
        if self.visit_ranges_of(ids, |record| add(&mut answer, record))? {
            return Ok((answer, Warnings::new()));
        }
        let _ = remove_index(log);
        let wanted: HashSet<&str> = ids.iter().copied().collect();
        let mut answer = start();
        self.for_each_record(|record| {
            if wanted.contains(build_of(record)) {
                add(&mut answer, record)?;
            }
            Ok(())
        })?;
        Ok((
            answer,
            vec![format!(
                "{}: removed it and read the whole log",
                mismatch(log)
            )],
        ))
    }

    /// Calls `visit` with the records of the builds `ids` as they are read
    /// (`log show --build`, which prints as it goes): a mismatch found
    /// after some were printed is an error that says to run it again (the
    /// index is removed).
    pub fn stream_records_of(
        &self,
        log: &Path,
        ids: &[&str],
        visit: impl FnMut(&InvocationRecord) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.visit_ranges_of(ids, visit)? {
            return Ok(());
        }
        let _ = remove_index(log);
        Err(io::Error::other(format!(
            "{}: removed it; run the command again",
            mismatch(log)
        )))
    }

    /// Visits the records in the ranges of the builds `ids`, each range
    /// checked before its records are visited (a light pass: every record
    /// of that build, as many as the summaries say); `false` at the first
    /// range that does not match.
    fn visit_ranges_of(
        &self,
        ids: &[&str],
        mut visit: impl FnMut(&InvocationRecord) -> io::Result<()>,
    ) -> io::Result<bool> {
        let wanted: HashSet<&str> = ids.iter().copied().collect();
        let mut ranges: Vec<(&str, ByteRange)> = Vec::new();
        for (build, extra) in self.tally.builds().iter().zip(&self.extras) {
            if wanted.contains(build.id.as_str()) {
                ranges.extend(extra.ranges.iter().map(|range| (build.id.as_str(), *range)));
            }
        }
        ranges.sort_by_key(|(_, range)| range.start);
        for (id, range) in ranges {
            let (mut records, mut matches) = (0, true);
            for_each_line(&self.file, range.start, 0, Some(range.end), |line| {
                if !line.is_blank()
                    && let Some(facts) = Parsed::of(line.bytes).facts()
                {
                    records += 1;
                    matches &= facts.build == id;
                }
                Ok(())
            })?;
            if !matches || records != range.records {
                return Ok(false);
            }
            for_each_line(&self.file, range.start, 0, Some(range.end), |line| {
                // Damage was reported from the summaries.
                match (line.is_blank(), Parsed::whole(line.bytes)) {
                    (false, Parsed::Whole(record)) => visit(&record),
                    _ => Ok(()),
                }
            })?;
        }
        Ok(true)
    }

    /// Calls `visit` with every record, in the log's order, read whole
    /// one at a time (a question about every record: `log show`).
    pub fn for_each_record(
        &self,
        visit: impl FnMut(&InvocationRecord) -> io::Result<()>,
    ) -> io::Result<()> {
        crate::record::reader::for_each_record(&self.file, Some(self.end), visit)
    }
}

fn mismatch(log: &Path) -> String {
    format!(
        "{}: the log's index does not match the log (edited in place?)",
        index_path(log).display()
    )
}

fn line_has_newline(line: &Line<'_>) -> bool {
    line.end == line.start + line.bytes.len() as u64 + 1
}

/// SHA-256 of the first and of the last [`HASHED`] bytes of the prefix
/// `..len` of `file`.
fn hashes(file: &File, len: u64) -> io::Result<(String, String)> {
    let read = |start: u64, end: u64| -> io::Result<String> {
        let mut bytes = vec![0u8; usize::try_from(end - start).map_err(io::Error::other)?];
        file.read_exact_at(&mut bytes, start)?;
        Ok(hex(&Sha256::digest(&bytes)))
    };
    Ok((
        read(0, len.min(HASHED))?,
        read(len.saturating_sub(HASHED), len)?,
    ))
}

/// The index at `index`, if it describes a prefix of the log open as
/// `file`: `Ok(None)` when there is none or it is stale (for another file,
/// or the file changed), `Err` with the reason when it is refused or
/// damaged.
fn load(
    index: &Path,
    users: TrustedUsers,
    file: &File,
    metadata: &std::fs::Metadata,
) -> Result<Option<Body>, String> {
    let message = |error: io::Error| crate::error::io_message(&error);
    let mut opened = match crate::atomic::open_private(index, users) {
        Ok(Some(opened)) => opened,
        Ok(None) => return Ok(None),
        // A directory that fails the checks (another user's, writable by
        // others) holds no index of ours, and gets none: read the log
        // without a word, as each time.
        Err(error)
            if matches!(
                error
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<Refused>()),
                Some(
                    Refused::DirectoryOwner { .. }
                        | Refused::DirectoryWritable { .. }
                        | Refused::LinkOwner { .. }
                )
            ) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(message(error)),
    };
    let mut bytes = Vec::new();
    opened.read_to_end(&mut bytes).map_err(message)?;
    let damaged = || "damaged: its checksum does not match".to_string();
    let newline = memchr::memchr(b'\n', &bytes).ok_or_else(damaged)?;
    let (header, body) = (&bytes[..newline], &bytes[newline + 1..]);
    let Ok(header) = serde_json::from_slice::<Header>(header) else {
        return Err(damaged());
    };
    if header.secwrap_log_index != INDEX_VERSION {
        // Another secwrap's: rebuilt without a word.
        return Ok(None);
    }
    if header.sha256 != hex(&Sha256::digest(body)) {
        return Err(damaged());
    }
    let body: Body = serde_json::from_slice(body).map_err(|_| damaged())?;
    if !body.is_consistent() {
        return Err("damaged: its summaries do not add up".to_string());
    }
    let covered = &body.covered;
    if (covered.dev, covered.ino) != (metadata.dev(), metadata.ino())
        || covered.len > metadata.len()
    {
        return Ok(None);
    }
    let (head, end) = hashes(file, covered.len).map_err(message)?;
    if (head.as_str(), end.as_str()) != (covered.head_sha256.as_str(), covered.end_sha256.as_str())
    {
        return Ok(None);
    }
    Ok(Some(body))
}

impl Body {
    /// Whether its parts agree with each other (a checksum passes a
    /// consistent edit; this catches the rest of what could make a reader
    /// index out of bounds or read outside the prefix).
    fn is_consistent(&self) -> bool {
        let covered = &self.covered;
        let records: usize = self
            .extras
            .iter()
            .flat_map(|extra| &extra.ranges)
            .map(|range| range.records)
            .sum();
        let counted: usize = self.extras.iter().map(|extra| extra.stats.calls).sum();
        self.builds.len() == self.extras.len()
            && records == self.records
            && counted == self.records
            && self.last_build.is_none_or(|last| last < self.builds.len())
            && self
                .extras
                .iter()
                .flat_map(|extra| &extra.ranges)
                .all(|range| {
                    range.start < range.end && range.end <= covered.len && range.records > 0
                })
            && self
                .damage
                .iter()
                .all(|damage| damage.line < covered.next_line && damage.end <= covered.len)
    }
}
