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
    mut visit: impl FnMut(&Line<'_>) -> io::Result<()>,
) -> io::Result<Scanned> {
    let mut buffer = vec![0u8; CHUNK.min(until.map_or(CHUNK, |until| {
        usize::try_from(until.saturating_sub(start)).unwrap_or(CHUNK)
    }))
    .max(1)];
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
        Ok(self.keep.then(|| Text::Text(Cow::Borrowed(value))))
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
