//! Reading the log at disk speed: lines split with `memchr` in big reads
//! from any offset, and a light view of a record that borrows its strings
//! and keeps only what the summaries need (`history::RecordFacts`).
//!
//! # Why a second view of the schema, and why it cannot disagree
//! A Linux build's record is about 5 KB, most of it `argv` and `exec`;
//! deserialising a whole [`InvocationRecord`] allocates every word of
//! them. [`RecordView`] names every field [`InvocationRecord`] has, with
//! the same defaults, but checks `argv`, `exec` and the other words it does
//! not need without keeping them (serde_json still validates every byte).
//! Each of its field types accepts a subset of what the record's accepts
//! (a plain string, or `{"bytes": ...}`, where `OsText` also takes the
//! rarer spellings serde's untagged enums allow), and the struct is
//! derived the same way (missing and duplicate fields), so a line the view
//! reads is a line the record reads. A line it refuses is read again as a
//! whole record, which decides: a record after all (its facts taken from
//! it), or a bad line with exactly the error `read_log` reports.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, de::value::StrDeserializer};

use crate::classify::Classification;
use crate::inject::SkipReason;
use crate::record::history::{RecordFacts, UNNAMED_BUILD};
use crate::record::{InvocationRecord, OsText, Term, build_probe};

/// Bytes read at a time: big enough that a read costs nothing next to the
/// parse, small next to the memory a reader may use (a longer line grows
/// the buffer to fit it).
const CHUNK: usize = 4 << 20;

/// One line of the log (without its newline).
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    /// 1-based, blank lines counted, as `read_log` numbers them.
    pub number: usize,
    /// Offset of its first byte.
    pub start: u64,
    /// Offset just after its newline, or the end of the file for a last
    /// line without one.
    pub end: u64,
    pub bytes: &'a [u8],
}

impl Line<'_> {
    /// Holds nothing but blanks: not a record, and not a bad line either.
    pub fn is_blank(&self) -> bool {
        self.bytes.iter().all(u8::is_ascii_whitespace)
    }
}

/// Where [`for_each_line`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scanned {
    /// Just after the last newline read: where the complete lines end.
    pub complete_end: u64,
    /// The number the next line after `complete_end` gets.
    pub next_number: usize,
    /// Where reading stopped: the end of the file as read (or `until`).
    pub end: u64,
}

/// Calls `visit` for each line of `file` from offset `start` (a line's
/// start, numbered `number`) up to `until` (a line's end) or the end of
/// the file as it is read, a last line without a newline included.
pub fn for_each_line(
    file: &File,
    start: u64,
    number: usize,
    until: Option<u64>,
    visit: impl FnMut(&Line<'_>) -> io::Result<()>,
) -> io::Result<Scanned> {
    for_each_line_in_chunks(file, start, number, until, CHUNK, visit)
}

/// [`for_each_line`] reading `chunk` bytes at a time (the tests make it
/// small, so that lines cross reads).
fn for_each_line_in_chunks(
    file: &File,
    start: u64,
    number: usize,
    until: Option<u64>,
    chunk: usize,
    mut visit: impl FnMut(&Line<'_>) -> io::Result<()>,
) -> io::Result<Scanned> {
    let mut buffer = vec![
        0u8;
        chunk
            .min(until.map_or(chunk, |until| {
                usize::try_from(until.saturating_sub(start)).unwrap_or(chunk)
            }))
            .max(1)
    ];
    // `buffer[..filled]` holds the file's bytes from `at`.
    let (mut at, mut filled, mut number) = (start, 0usize, number);
    let mut complete_end = start;
    loop {
        if filled == buffer.len() {
            buffer.resize(buffer.len() * 2, 0);
        }
        let room = buffer.len() - filled;
        let want = match until {
            Some(until) => room.min(usize::try_from(until - at - filled as u64).unwrap_or(room)),
            None => room,
        };
        let read = if want == 0 {
            0
        } else {
            loop {
                match file.read_at(&mut buffer[filled..filled + want], at + filled as u64) {
                    Ok(read) => break read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
        };
        // Only the new bytes can hold a newline: the rest was searched.
        let mut consumed = 0;
        let mut search = filled;
        filled += read;
        while let Some(newline) = memchr::memchr(b'\n', &buffer[search..filled]) {
            let end = search + newline;
            visit(&Line {
                number,
                start: at + consumed as u64,
                end: at + end as u64 + 1,
                bytes: &buffer[consumed..end],
            })?;
            number += 1;
            consumed = end + 1;
            search = consumed;
            complete_end = at + consumed as u64;
        }
        if read == 0 {
            if consumed < filled {
                visit(&Line {
                    number,
                    start: at + consumed as u64,
                    end: at + filled as u64,
                    bytes: &buffer[consumed..filled],
                })?;
            }
            return Ok(Scanned {
                complete_end,
                next_number: number,
                end: at + filled as u64,
            });
        }
        buffer.copy_within(consumed..filled, 0);
        at += consumed as u64;
        filled -= consumed;
    }
}

/// Calls `visit` with every record of `file` up to `until` (else its end
/// as read), in order, each read whole and dropped after (damaged lines
/// are skipped: the summaries report them).
pub fn for_each_record(
    file: &File,
    until: Option<u64>,
    mut visit: impl FnMut(&InvocationRecord) -> io::Result<()>,
) -> io::Result<()> {
    for_each_line(file, 0, 1, until, |line| {
        if line.is_blank() {
            return Ok(());
        }
        match Parsed::whole(line.bytes) {
            Parsed::Whole(record) => visit(&record),
            _ => Ok(()),
        }
    })?;
    Ok(())
}

/// A line that is not a record, as read: whether it was cut short (a
/// writer killed mid-write), else what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Damage {
    pub line: usize,
    /// Offset just after it: whether it is the log's last line depends on
    /// what was appended since.
    pub end: u64,
    pub torn: bool,
    /// The parse error, for a line that is not torn.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl Damage {
    /// What `read_log` says of it, in a log `log_end` bytes long.
    pub fn message(&self, log_end: u64) -> String {
        match (self.torn, self.end >= log_end) {
            (true, true) => "torn last line (a writer was killed mid-write); skipped".to_string(),
            // Cut short, with a record after it: the next writer started on
            // a fresh line.
            (true, false) => "torn line (a writer was killed mid-write); skipped".to_string(),
            (false, _) => format!("not a record: {}", self.error),
        }
    }
}

/// A line read: a record's light view, a whole record (a spelling the
/// view leaves to it), or damage.
pub enum Parsed<'a> {
    View(Box<RecordView<'a>>),
    Whole(Box<InvocationRecord>),
    Bad { torn: bool, error: String },
}

impl<'a> Parsed<'a> {
    pub fn of(bytes: &'a [u8]) -> Parsed<'a> {
        match serde_json::from_slice::<RecordView<'a>>(bytes) {
            Ok(view) => Parsed::View(Box::new(view)),
            Err(_) => Parsed::whole(bytes),
        }
    }

    /// The line read as a whole record, as `read_log` reads it.
    pub fn whole(bytes: &[u8]) -> Parsed<'a> {
        match serde_json::from_slice::<InvocationRecord>(bytes) {
            Ok(record) => Parsed::Whole(Box::new(record)),
            Err(error) => Parsed::Bad {
                torn: error.is_eof(),
                error: error.to_string(),
            },
        }
    }

    /// The record's facts; `None` for damage.
    pub fn facts(&self) -> Option<RecordFacts<'_>> {
        match self {
            Parsed::View(view) => Some(view.facts()),
            Parsed::Whole(record) => Some(RecordFacts::of(record)),
            Parsed::Bad { .. } => None,
        }
    }
}

/// A string of the record, borrowed from the line when it has no escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(value.to_string())))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A string checked and not kept.
#[derive(Clone, Copy, Debug)]
pub struct CheckedStr;

impl<'de> Deserialize<'de> for CheckedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CheckedVisitor;
        impl Visitor<'_> for CheckedVisitor {
            type Value = CheckedStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<CheckedStr, E> {
                Ok(CheckedStr)
            }
        }
        deserializer.deserialize_str(CheckedVisitor)
    }
}

/// An `OsText` as the view reads it: a string, or `{"bytes": "<base64>"}`
/// with that key alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Text<'a> {
    Text(Cow<'a, str>),
    Bytes(Cow<'a, str>),
}

impl Text<'_> {
    fn to_path(&self) -> Option<PathBuf> {
        let text = match self {
            Text::Text(text) => OsText::Text(text.to_string()),
            Text::Bytes(bytes) => OsText::Bytes {
                bytes: bytes.to_string(),
            },
        };
        text.to_os_string().map(PathBuf::from)
    }
}

/// The one visitor behind [`Text`] and [`CheckedText`]: `keep` false
/// checks the shape without copying a string.
struct TextVisitor {
    keep: bool,
}

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<Text<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or {\"bytes\": string}")
    }
    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(self.keep.then_some(Text::Text(Cow::Borrowed(value))))
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(self.keep.then(|| Text::Text(Cow::Owned(value.to_string()))))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Exactly one key, `bytes`: anything else is left to `OsText`.
        let key: Str<'de> = map
            .next_key()?
            .ok_or_else(|| de::Error::custom("no bytes"))?;
        if key.0 != "bytes" {
            return Err(de::Error::custom("not bytes"));
        }
        let value = if self.keep {
            let bytes: Str<'de> = map.next_value()?;
            Some(Text::Bytes(bytes.0))
        } else {
            map.next_value::<CheckedStr>()?;
            None
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("more than bytes"));
        }
        Ok(value)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(TextVisitor { keep: true })?
            .ok_or_else(|| de::Error::custom("a text"))
    }
}

/// An `OsText` checked and not kept.
#[derive(Clone, Copy, Debug)]
pub struct CheckedText;

impl<'de> Deserialize<'de> for CheckedText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor { keep: false })?;
        Ok(CheckedText)
    }
}

#[derive(Deserialize)]
pub struct SkippedView<'a> {
    #[serde(rename = "flag")]
    _flag: CheckedText,
    #[serde(borrow)]
    reason: Str<'a>,
}

#[derive(Deserialize)]
pub struct ProbeView {
    #[serde(rename = "flags")]
    _flags: Vec<CheckedText>,
    #[serde(rename = "mode")]
    _mode: CheckedStr,
    #[serde(rename = "supported")]
    _supported: bool,
    cached: bool,
}

#[derive(Deserialize)]
pub struct KeptOriginalView {
    #[serde(rename = "object")]
    _object: CheckedText,
    #[serde(rename = "copy")]
    _copy: CheckedText,
}

/// A record as the summaries read it: every field of [`InvocationRecord`]
/// with its defaults, those they do not need checked and dropped (the
/// vectors of [`CheckedText`] hold nothing: it has no size).
#[derive(Deserialize)]
pub struct RecordView<'a> {
    #[serde(rename = "version")]
    _version: u32,
    #[serde(rename = "secwrap")]
    _secwrap: CheckedStr,
    #[serde(borrow)]
    time: Str<'a>,
    #[serde(rename = "pid")]
    _pid: u32,
    #[serde(default, borrow)]
    build: Option<Str<'a>>,
    #[serde(rename = "cwd")]
    _cwd: CheckedText,
    #[serde(rename = "compiler")]
    _compiler: CheckedText,
    #[serde(default, rename = "launcher")]
    _launcher: Option<CheckedText>,
    #[serde(default, rename = "identified")]
    _identified: Option<CheckedStr>,
    #[serde(rename = "argv")]
    _argv: Vec<CheckedText>,
    #[serde(rename = "exec")]
    _exec: Vec<CheckedText>,
    #[serde(borrow)]
    kind: Str<'a>,
    injected: Vec<CheckedText>,
    #[serde(borrow)]
    skipped: Vec<SkippedView<'a>>,
    #[serde(borrow)]
    inputs: Vec<Text<'a>>,
    #[serde(borrow)]
    output: Option<Text<'a>>,
    #[serde(default, borrow)]
    outputs: Vec<Text<'a>>,
    #[serde(default, rename = "originals")]
    _originals: Vec<KeptOriginalView>,
    #[serde(rename = "lto")]
    _lto: bool,
    #[serde(default)]
    probes: Vec<ProbeView>,
    #[serde(borrow)]
    config: Str<'a>,
    status: Option<i32>,
    #[serde(rename = "signal")]
    _signal: Option<i32>,
    #[serde(rename = "duration_ms")]
    _duration_ms: f64,
    #[serde(default)]
    secwrap_ms: Option<f64>,
    #[serde(default, rename = "warnings")]
    _warnings: Vec<CheckedStr>,
    #[serde(default)]
    build_system_probe: bool,
}

/// A word of the vocabulary as `Term` reads it (any string reads).
fn term<'de, T: Deserialize<'de>>(word: &'de str) -> Term<T> {
    match T::deserialize(StrDeserializer::<de::value::Error>::new(word)) {
        Ok(value) => Term::Known(value),
        Err(_) => Term::Unknown(word.to_string()),
    }
}

impl RecordView<'_> {
    /// The build it belongs to (`history::build_of`).
    pub fn build(&self) -> &str {
        self.build.as_ref().map_or(UNNAMED_BUILD, |build| &build.0)
    }

    pub fn facts(&self) -> RecordFacts<'_> {
        let paths = |texts: &mut dyn Iterator<Item = &Text<'_>>| -> Vec<PathBuf> {
            texts.filter_map(Text::to_path).collect()
        };
        let probe = self.build_system_probe
            || build_probe::is_build_system_probe(
                &paths(&mut self.inputs.iter()),
                &paths(&mut self.output.iter().chain(&self.outputs)),
            );
        let cached = self.probes.iter().filter(|probe| probe.cached).count();
        RecordFacts {
            build: self.build(),
            time: &self.time.0,
            kind: term::<Classification>(&self.kind.0),
            probe,
            injected: !self.injected.is_empty(),
            status: self.status,
            config: &self.config.0,
            skip_reasons: self
                .skipped
                .iter()
                .map(|skipped| term::<SkipReason>(&skipped.reason.0))
                .collect(),
            probes_cached: cached,
            probes_run: self.probes.len() - cached,
            secwrap_ms: self.secwrap_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{SCHEMA_VERSION, read_log};

    /// Lines as (number, start, end, text) for `text` read from `start`
    /// (a line's start) in chunks of every size from 1 up.
    #[track_caller]
    fn check_lines(
        text: &str,
        start: u64,
        until: Option<u64>,
        expected: &[(usize, u64, u64, &str)],
        end: (u64, usize, u64),
    ) {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        for chunk in 1..=text.len() + 1 {
            let mut lines = Vec::new();
            let scanned = for_each_line_in_chunks(&file, start, 1, until, chunk, |line| {
                lines.push((
                    line.number,
                    line.start,
                    line.end,
                    String::from_utf8(line.bytes.to_vec()).unwrap(),
                ));
                Ok(())
            })
            .unwrap();
            let lines: Vec<(usize, u64, u64, &str)> = lines
                .iter()
                .map(|(number, start, end, text)| (*number, *start, *end, text.as_str()))
                .collect();
            assert_eq!(lines, expected, "{text:?} in chunks of {chunk}");
            assert_eq!(
                (scanned.complete_end, scanned.next_number, scanned.end),
                end,
                "{text:?} in chunks of {chunk}"
            );
        }
    }

    #[test]
    fn lines_in_any_chunks() {
        check_lines("", 0, None, &[], (0, 1, 0));
        check_lines("a\n", 0, None, &[(1, 0, 2, "a")], (2, 2, 2));
        check_lines(
            "ab\n\ncd",
            0,
            None,
            &[(1, 0, 3, "ab"), (2, 3, 4, ""), (3, 4, 6, "cd")],
            (4, 3, 6),
        );
        // From a line's start, numbered from 1 there; up to a line's end.
        check_lines(
            "ab\ncde\nf\n",
            3,
            None,
            &[(1, 3, 7, "cde"), (2, 7, 9, "f")],
            (9, 3, 9),
        );
        check_lines(
            "ab\ncde\nf\n",
            0,
            Some(7),
            &[(1, 0, 3, "ab"), (2, 3, 7, "cde")],
            (7, 3, 7),
        );
    }

    fn line_of(record: &InvocationRecord) -> String {
        serde_json::to_string(record).unwrap()
    }

    /// The view reads a line only if the whole record reads it, and then
    /// its facts are the record's; the damage is what `read_log` reports.
    #[track_caller]
    fn check_view(line: &str) {
        let whole = serde_json::from_str::<InvocationRecord>(line);
        let view = serde_json::from_str::<RecordView<'_>>(line);
        if view.is_ok() {
            assert!(
                whole.is_ok(),
                "the view read what the record does not: {line}"
            );
        }
        let parsed = Parsed::of(line.as_bytes());
        match (&whole, parsed.facts()) {
            (Ok(record), Some(facts)) => assert_eq!(facts, RecordFacts::of(record), "{line}"),
            (Err(_), None) => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("log.jsonl");
                std::fs::write(&path, format!("{line}\n{}\n", line_of(&sample()))).unwrap();
                let (_, bad) = read_log(&path).unwrap();
                let Parsed::Bad { torn, error } = parsed else {
                    panic!("{line}")
                };
                let damage = Damage {
                    line: 1,
                    end: line.len() as u64 + 1,
                    torn,
                    error,
                };
                assert_eq!(bad[0].message, damage.message(u64::MAX), "{line}");
            }
            (whole, facts) => panic!("{line}: record {whole:?}, facts {facts:?}"),
        }
    }

    fn sample() -> InvocationRecord {
        serde_json::from_value(serde_json::json!({
            "version": SCHEMA_VERSION, "secwrap": "0", "time": "t", "pid": 7, "build": "b",
            "cwd": "/w", "compiler": {"bytes": "L3Vzci9iaW4vZ2Nj"}, "launcher": "/usr/bin/ccache",
            "identified": "clang", "argv": ["gcc", "-DX=\"y\"", "-c", "a.c"],
            "exec": ["gcc", {"bytes": "/w=="}], "kind": "compile",
            "injected": ["-ffunction-sections"],
            "skipped": [{"flag": "-fdata-sections", "reason": "present"},
                        {"flag": "-x", "reason": "a_newer_reason"}],
            "inputs": ["/w/a.c"], "output": {"bytes": "L3cvYS5v"}, "outputs": [],
            "originals": [{"object": "/w/a.o", "copy": "/k/a.o"}], "lto": false,
            "probes": [{"flags": ["-ffunction-sections"], "mode": "option", "supported": true, "cached": false}],
            "config": "c", "status": 0, "signal": null, "duration_ms": 1.5, "secwrap_ms": 0.25,
            "warnings": ["w"], "build_system_probe": false,
        }))
        .unwrap()
    }

    #[test]
    fn view_agrees_with_the_record() {
        let line = line_of(&sample());
        check_view(&line);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let serde_json::Value::Object(fields) = &value else {
            panic!()
        };
        // Each field missing, null, of another type, or spelled as serde's
        // untagged enums also allow (a struct as an array).
        for key in fields.keys() {
            for replacement in [
                None,
                Some(serde_json::Value::Null),
                Some(serde_json::json!(5)),
                Some(serde_json::json!("word")),
                Some(serde_json::json!(["x"])),
                Some(serde_json::json!({"bytes": "eA==", "more": 1})),
                Some(serde_json::json!([{"bytes": "eA=="}])),
                Some(serde_json::json!([["-f", "present"]])),
                Some(serde_json::json!([4294967296u64])),
            ] {
                let mut changed = value.clone();
                match &replacement {
                    None => {
                        changed.as_object_mut().unwrap().remove(key);
                    }
                    Some(replacement) => changed[key] = replacement.clone(),
                }
                check_view(&changed.to_string());
            }
        }
        // Duplicate fields, escapes, damage, a probe by its paths, a
        // record outside a build.
        check_view(&line.replacen("\"pid\":7", "\"pid\":7,\"pid\":8", 1));
        check_view(&line.replace("\"time\":\"t\"", "\"time\":\"\\u0074\\n\""));
        check_view(&line[..line.len() - 10]);
        check_view("not json");
        check_view("[]");
        check_view(&line.replace("/w/a.c", "/dev/null"));
        check_view(&line.replace("\"build\":\"b\",", ""));
    }
}
