//! Kconfig configuration values, read from the files a configured Linux or Xen tree holds.
//!
//! Two formats are understood:
//!
//! - `.config` and `include/config/auto.conf`, read line by line as
//!   `scripts/kconfig/confdata.c` (`conf_read_simple`) reads them: `CONFIG_X=value`,
//!   `# CONFIG_X is not set` for a bool/tristate set to n, other `#` lines are comments, and
//!   inside a quoted value a backslash makes the next character literal.
//! - `include/generated/autoconf.h`, as `conf_write_autoconf` writes it through
//!   `print_symbol_for_c`: `#define CONFIG_X 1` for y, `#define CONFIG_X_MODULE 1` for m,
//!   n symbols are left out, strings are C string literals, ints and hex values are bare.
//!
//! Where confdata.c only warns and carries on, this module is stricter: every line it would
//! warn about, or silently misread, becomes a [`Diagnostic`]. Parsing still never fails as a
//! whole (good lines are kept), so one pass reports every bad line instead of the first.
//!
//! The module is pure: it works on bytes the caller has already read, does no I/O, and does
//! not panic on any input. [`expr`] evaluates `depends on`-style expressions over the values.

pub mod expr;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::path::Path;

/// Every symbol is written with this prefix in `.config`, `auto.conf` and `autoconf.h`.
const CONFIG_PREFIX: &str = "CONFIG_";

/// The message for a value that is none of Kconfig's forms. It does not
/// quote the value: the file may be one the config merely names (secwrap
/// never prints what it reads; README, "Trust").
const INVALID_VALUE: &str = "invalid value: not `y`, `m`, `n`, a number or a quoted string";

/// The message for a `.config` line that is neither an assignment nor a comment.
const EXPECTED_DOT_CONFIG_LINE: &str =
    "expected `CONFIG_<name>=<value>` or `# CONFIG_<name> is not set`";

/// Kconfig's three-valued logic; order n < m < y (as expr.c's tristate).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Tristate {
    N,
    M,
    Y,
}

impl Tristate {
    /// The value as Kconfig writes it: `"n"`, `"m"` or `"y"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tristate::N => "n",
            Tristate::M => "m",
            Tristate::Y => "y",
        }
    }
}

/// The value of one symbol.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KconfigValue {
    /// A bool or tristate symbol: y, m, or n (`# CONFIG_X is not set`).
    Tristate(Tristate),
    /// The unescaped content of a quoted value (also an empty `CONFIG_X=`).
    String(String),
    /// A decimal integer, possibly negative.
    Int(i64),
    /// A `0x`-prefixed hexadecimal value, kept as written (e.g. `"0x1000"`).
    Hex(String),
}

impl KconfigValue {
    /// The value as Kconfig prints it (`sym_get_string_value`): `"y"`, `"abc"`, `"12"`, `"0x1000"`.
    pub fn as_text(&self) -> String {
        match self {
            KconfigValue::Tristate(tristate) => tristate.as_str().to_owned(),
            KconfigValue::String(text) | KconfigValue::Hex(text) => text.clone(),
            KconfigValue::Int(number) => number.to_string(),
        }
    }
}

/// Which of the files Kconfig writes a text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KconfigFormat {
    /// `.config` (and `auto.conf` before Linux 5.17): `CONFIG_X=y`, `# CONFIG_X is not set`, `CONFIG_S="str"`.
    DotConfig,
    /// `include/config/auto.conf`: as `.config`, but since Linux 5.17 string
    /// values are written unquoted for Make (`CONFIG_CC_VERSION_TEXT=gcc
    /// (Debian 12.2.0-14) 12.2.0`, Kconfig's "do not quote string values in
    /// include/config/auto.conf"); a quoted value is read as `.config`
    /// reads it, so older trees (Xen's Kconfig, Linux before 5.17) still read
    /// the same.
    AutoConf,
    /// `include/generated/autoconf.h`: `#define CONFIG_X 1`, `#define CONFIG_X_MODULE 1` (X=m), `#define CONFIG_S "str"`, `#define CONFIG_H 0x10`.
    AutoconfHeader,
}

impl KconfigFormat {
    /// From the file name (`*.h` => header) and, failing that, the first non-blank, non-comment line (`#define` => header).
    ///
    /// Comments are `#` lines in `.config` (but `# CONFIG_X is not set` is a value) and
    /// `/* */` or `//` lines in `autoconf.h`. A `#` directly followed by a preprocessor
    /// directive (`#define`, `#ifndef`, ...) is not a `.config` comment, since Kconfig always
    /// writes `# ` with a space there. Anything else, including an empty text, is taken to be
    /// a `.config`.
    pub fn detect(file_name: &Path, text: &[u8]) -> KconfigFormat {
        let has_header_extension = file_name
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("h"));
        if has_header_extension {
            return KconfigFormat::AutoconfHeader;
        }
        let dot_config = if file_name
            .file_name()
            .is_some_and(|name| name == "auto.conf")
        {
            KconfigFormat::AutoConf
        } else {
            KconfigFormat::DotConfig
        };
        for line in text.split(|&byte| byte == b'\n') {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            if let Some(after_hash) = line.strip_prefix(b"#") {
                if starts_with_preprocessor_directive(after_hash) {
                    return KconfigFormat::AutoconfHeader;
                }
                // `# CONFIG_X is not set` is a value, not a comment.
                if after_hash.starts_with(b" CONFIG_") {
                    return dot_config;
                }
                continue;
            }
            let is_c_comment =
                line.starts_with(b"/*") || line.starts_with(b"*") || line.starts_with(b"//");
            if is_c_comment {
                continue;
            }
            return dot_config;
        }
        dot_config
    }
}

/// Whether the text after a `#` is a C preprocessor directive such as `define` or `ifndef`.
fn starts_with_preprocessor_directive(after_hash: &[u8]) -> bool {
    const DIRECTIVES: [&[u8]; 10] = [
        b"define", b"undef", b"ifndef", b"ifdef", b"if", b"elif", b"else", b"endif", b"include",
        b"pragma",
    ];
    let word_length = after_hash
        .iter()
        .take_while(|byte| byte.is_ascii_alphabetic())
        .count();
    let word = after_hash.get(..word_length).unwrap_or_default();
    DIRECTIVES.contains(&word)
}

/// One bad line: 1-based line and column (column of the first offending byte), and what is wrong, lowercase, no trailing period.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Symbol values by name, without the `CONFIG_` prefix, iterated in name order.
///
/// A hash map: a Linux `.config` has ~10,000 symbols sharing long prefixes,
/// and the ordered map's string comparisons made parsing one cost ~57M
/// instructions (callgrind), most of a compile's overhead. Its hasher has
/// fixed keys: std's default one asks the kernel for random keys
/// (`getrandom`) on every call, and the names hashed are those of a file
/// secwrap already trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KconfigValues {
    values: HashMap<String, KconfigValue, BuildHasherDefault<DefaultHasher>>,
}

impl KconfigValues {
    /// Parsing never fails: good lines are kept, each bad line yields a Diagnostic (rust-analyzer's "(T, Vec<Error>)").
    ///
    /// A symbol assigned twice keeps its last value, as confdata.c does, but the second
    /// assignment is reported, since a generated file never contains one.
    pub fn parse(text: &[u8], format: KconfigFormat) -> (KconfigValues, Vec<Diagnostic>) {
        let mut values = KconfigValues::default();
        let mut diagnostics = Vec::new();
        for (line_index, raw_line) in text.split(|&byte| byte == b'\n').enumerate() {
            let line_number = line_index + 1;
            // Files written on or copied through Windows end lines with "\r\n".
            let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
            let outcome = match format {
                KconfigFormat::DotConfig => parse_dot_config_line(line, false),
                KconfigFormat::AutoConf => parse_dot_config_line(line, true),
                KconfigFormat::AutoconfHeader => parse_autoconf_header_line(line),
            };
            match outcome {
                Ok(None) => {}
                Ok(Some((name, value))) => {
                    if values.values.insert(name.clone(), value).is_some() {
                        // Rare, so the first line is found again only now.
                        let first_line = first_line_of(text, format, &name).unwrap_or(line_number);
                        diagnostics.push(Diagnostic {
                            line: line_number,
                            column: 1,
                            message: format!(
                                "`{CONFIG_PREFIX}{name}` set twice, first on line {first_line}"
                            ),
                        });
                    }
                }
                Err(error) => diagnostics.push(Diagnostic {
                    line: line_number,
                    column: error.column,
                    message: error.message,
                }),
            }
        }
        (values, diagnostics)
    }

    /// Lookup by name with or without the `CONFIG_` prefix.
    pub fn get(&self, name: &str) -> Option<&KconfigValue> {
        self.values.get(strip_config_prefix(name))
    }

    /// Lookup by the name exactly as stored, prefix already stripped: expressions strip
    /// `CONFIG_` once when parsing, so `CONFIG_CONFIG_X` must find the symbol `CONFIG_X`.
    fn get_exact(&self, name: &str) -> Option<&KconfigValue> {
        self.values.get(name)
    }

    /// The tristate a symbol has in an expression: its value for bool/tristate symbols; N when undefined or for string/int/hex symbols (as expr.c: non-tristate symbols are 'n' in a boolean context).
    pub fn tristate(&self, name: &str) -> Tristate {
        match self.get(name) {
            Some(KconfigValue::Tristate(tristate)) => *tristate,
            _ => Tristate::N,
        }
    }

    /// Sets a symbol, replacing any earlier value; a `CONFIG_` prefix on the name is stripped.
    pub fn insert(&mut self, name: &str, value: KconfigValue) {
        self.values
            .insert(strip_config_prefix(name).to_owned(), value);
    }

    /// The number of symbols with a value.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no symbol has a value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The symbols (without `CONFIG_` prefix) and their values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &KconfigValue)> {
        let mut entries: Vec<(&str, &KconfigValue)> = self
            .values
            .iter()
            .map(|(name, value)| (name.as_str(), value))
            .collect();
        entries.sort_unstable_by_key(|(name, _)| *name);
        entries.into_iter()
    }
}

/// `CONFIG_FOO` and `FOO` name the same symbol. A bare `CONFIG_` is left alone, so that no
/// name turns into the empty string.
fn strip_config_prefix(name: &str) -> &str {
    name.strip_prefix(CONFIG_PREFIX)
        .filter(|rest| !rest.is_empty())
        .unwrap_or(name)
}

/// Why one line was rejected: 1-based byte column and message.
struct LineError {
    column: usize,
    message: String,
}

impl LineError {
    fn new(column: usize, message: impl Into<String>) -> LineError {
        LineError {
            column,
            message: message.into(),
        }
    }
}

/// A line either carries nothing (blank, comment), or one symbol and its value, or is bad.
type LineOutcome = Result<Option<(String, KconfigValue)>, LineError>;

/// One line of `.config` / `auto.conf`, as `conf_read_simple` reads it;
/// `unquoted_strings` for `auto.conf` ([`KconfigFormat::AutoConf`]).
fn parse_dot_config_line(line: &[u8], unquoted_strings: bool) -> LineOutcome {
    if line.trim_ascii().is_empty() {
        return Ok(None);
    }
    if line.starts_with(b"#") {
        return parse_not_set_comment(line);
    }
    let line = line_as_utf8(line)?;
    let Some(after_prefix) = line.strip_prefix(CONFIG_PREFIX) else {
        return Err(LineError::new(1, EXPECTED_DOT_CONFIG_LINE));
    };
    let name_start = CONFIG_PREFIX.len();
    let (name, after_name) = split_symbol_name(after_prefix);
    if name.is_empty() {
        return Err(missing_symbol_name(name_start + 1));
    }
    let after_name_column = name_start + name.len() + 1;
    let Some(value) = after_name.strip_prefix('=') else {
        // A character that cannot be in a name, followed later by `=`, is most likely a typo
        // in the name (`CONFIG_A-B=y`); without any `=` the assignment itself is missing.
        return Err(match after_name.chars().next() {
            Some(character) if after_name.contains('=') => {
                invalid_name_character(after_name_column, character)
            }
            _ => LineError::new(
                after_name_column,
                format!("missing `=` after `{CONFIG_PREFIX}{name}`"),
            ),
        });
    };
    let value = match parse_dot_config_value(value, after_name_column + 1) {
        // Not y/m/n, a number or a quoted string: in auto.conf, a string.
        Err(_) if unquoted_strings && !value.starts_with('"') => {
            KconfigValue::String(value.to_owned())
        }
        parsed => parsed?,
    };
    Ok(Some((name.to_owned(), value)))
}

/// A `#` line of `.config`. confdata.c takes `# CONFIG_<name> is not set` (exactly, name up to
/// the first space) as n and skips every other `#` line as a comment.
fn parse_not_set_comment(line: &[u8]) -> LineOutcome {
    const NOT_SET_START: &[u8] = b"# CONFIG_";
    const NOT_SET_END: &[u8] = b" is not set";
    let name_bytes = line
        .strip_prefix(NOT_SET_START)
        .and_then(|rest| rest.strip_suffix(NOT_SET_END));
    let Some(name_bytes) = name_bytes else {
        return Ok(None);
    };
    if name_bytes.contains(&b' ') {
        return Ok(None);
    }
    let line = line_as_utf8(line)?;
    let name_column = NOT_SET_START.len() + 1;
    let name = line
        .get(NOT_SET_START.len()..line.len().saturating_sub(NOT_SET_END.len()))
        .unwrap_or_default();
    if name.is_empty() {
        return Err(missing_symbol_name(name_column));
    }
    let (valid_part, invalid_part) = split_symbol_name(name);
    if let Some(character) = invalid_part.chars().next() {
        return Err(invalid_name_character(
            name_column + valid_part.len(),
            character,
        ));
    }
    Ok(Some((name.to_owned(), KconfigValue::Tristate(Tristate::N))))
}

/// The part of a `.config` line after `=`. `value_column` is its 1-based column.
fn parse_dot_config_value(value: &str, value_column: usize) -> Result<KconfigValue, LineError> {
    match value {
        // conf_read_simple accepts an empty value; for a string symbol it is the empty string.
        "" => Ok(KconfigValue::String(String::new())),
        "y" => Ok(KconfigValue::Tristate(Tristate::Y)),
        "m" => Ok(KconfigValue::Tristate(Tristate::M)),
        "n" => Ok(KconfigValue::Tristate(Tristate::N)),
        _ if value.starts_with('"') => {
            parse_whole_quoted_value(value, value_column, EscapeStyle::Kconfig)
        }
        _ => parse_number_value(value, value_column),
    }
}

/// One line of `autoconf.h`: only `#define CONFIG_...` lines carry values, everything else
/// (comments, include guards, other directives) is skipped.
fn parse_autoconf_header_line(line: &[u8]) -> LineOutcome {
    let Some(name_start) = symbol_start_after_define(line) else {
        return Ok(None);
    };
    let line = line_as_utf8(line)?;
    let after_prefix = line.get(name_start..).unwrap_or_default();
    let (name, after_name) = split_symbol_name(after_prefix);
    if name.is_empty() {
        return Err(missing_symbol_name(name_start + 1));
    }
    let after_name_column = name_start + name.len() + 1;
    let after_name = after_name.trim_end_matches([' ', '\t']);
    match after_name.chars().next() {
        None => {
            return Err(LineError::new(
                after_name_column,
                format!("missing value for `{CONFIG_PREFIX}{name}`"),
            ));
        }
        Some(' ' | '\t') => {}
        // `#define CONFIG_X(a) ...` or similar: not something Kconfig writes.
        Some(character) => return Err(invalid_name_character(after_name_column, character)),
    }
    let value = after_name.trim_start_matches([' ', '\t']);
    let value_column = after_name_column + (after_name.len() - value.len());
    if value.starts_with('"') {
        let text = parse_whole_quoted_value(value, value_column, EscapeStyle::C)?;
        return Ok(Some((name.to_owned(), text)));
    }
    if value == "1" {
        // print_symbol_for_c writes a tristate symbol set to m as `CONFIG_<name>_MODULE 1`
        // and leaves `CONFIG_<name>` undefined.
        if let Some(module_name) = name.strip_suffix("_MODULE").filter(|base| !base.is_empty()) {
            return Ok(Some((
                module_name.to_owned(),
                KconfigValue::Tristate(Tristate::M),
            )));
        }
        return Ok(Some((name.to_owned(), KconfigValue::Tristate(Tristate::Y))));
    }
    let number = parse_number_value(value, value_column)?;
    Ok(Some((name.to_owned(), number)))
}

/// If the line is `#define CONFIG_...` (blanks allowed around `#` and after `define`, as
/// the C preprocessor allows), the 0-based byte offset where the symbol name starts.
fn symbol_start_after_define(line: &[u8]) -> Option<usize> {
    let hash = skip_blanks(line, 0);
    if line.get(hash) != Some(&b'#') {
        return None;
    }
    let directive = skip_blanks(line, hash + 1);
    if !line.get(directive..)?.starts_with(b"define") {
        return None;
    }
    let after_directive = directive + b"define".len();
    let macro_name = skip_blanks(line, after_directive);
    if macro_name == after_directive {
        return None;
    }
    let is_config_symbol = line
        .get(macro_name..)?
        .starts_with(CONFIG_PREFIX.as_bytes());
    is_config_symbol.then_some(macro_name + CONFIG_PREFIX.len())
}

/// The offset of the first byte at or after `offset` that is not a space or tab.
fn skip_blanks(line: &[u8], offset: usize) -> usize {
    let blanks = line
        .get(offset..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&byte| byte == b' ' || byte == b'\t')
        .count();
    offset + blanks
}

/// The whole line as text, or a diagnostic pointing at the first byte that is not UTF-8.
fn line_as_utf8(line: &[u8]) -> Result<&str, LineError> {
    std::str::from_utf8(line)
        .map_err(|error| LineError::new(error.valid_up_to() + 1, "line is not valid UTF-8"))
}

/// Whether a character may appear in a Kconfig symbol name.
fn is_symbol_name_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// Splits text into its leading symbol name (possibly empty) and the rest.
fn split_symbol_name(text: &str) -> (&str, &str) {
    let name_length = text
        .find(|character: char| !is_symbol_name_character(character))
        .unwrap_or(text.len());
    text.split_at_checked(name_length).unwrap_or((text, ""))
}

/// Text for a message: control characters escaped so that a message stays on one line,
/// everything else (quotes included) as it is.
fn escape_control_characters(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_control() {
            escaped.extend(character.escape_default());
        } else {
            escaped.push(character);
        }
    }
    escaped
}

fn missing_symbol_name(column: usize) -> LineError {
    LineError::new(
        column,
        format!("missing symbol name after `{CONFIG_PREFIX}`"),
    )
}

fn invalid_name_character(column: usize, character: char) -> LineError {
    LineError::new(
        column,
        format!(
            "invalid character `{}` in symbol name",
            escape_control_characters(character.encode_utf8(&mut [0; 4]))
        ),
    )
}

/// How a backslash inside a quoted value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EscapeStyle {
    /// confdata.c and the Kconfig lexer: a backslash makes the next character literal.
    Kconfig,
    /// A C string literal in autoconf.h: `\"`, `\\`, `\n` and `\t`; anything else is refused
    /// rather than guessed at, since `print_symbol_for_c` only ever writes `\"` and `\\`.
    C,
}

/// Why a quoted string could not be read: 0-based byte offset into the quoted text.
struct QuotedStringError {
    offset: usize,
    message: String,
}

/// Reads the quoted string at the start of `text` (which starts with `"` or `'`; the same
/// character closes it). Returns the unescaped content and the number of bytes read,
/// closing quote included.
fn parse_quoted_string(
    text: &str,
    escape_style: EscapeStyle,
) -> Result<(String, usize), QuotedStringError> {
    let unterminated = QuotedStringError {
        offset: 0,
        message: "unterminated string".to_owned(),
    };
    let mut characters = text.char_indices();
    let Some((_, quote)) = characters.next() else {
        return Err(unterminated);
    };
    let mut content = String::new();
    while let Some((offset, character)) = characters.next() {
        if character == quote {
            return Ok((content, offset + character.len_utf8()));
        }
        if character != '\\' {
            content.push(character);
            continue;
        }
        let Some((_, escaped)) = characters.next() else {
            return Err(unterminated);
        };
        let unescaped = match (escape_style, escaped) {
            (EscapeStyle::Kconfig, _) | (EscapeStyle::C, '"' | '\\') => escaped,
            (EscapeStyle::C, 'n') => '\n',
            (EscapeStyle::C, 't') => '\t',
            (EscapeStyle::C, _) => {
                return Err(QuotedStringError {
                    offset,
                    message: "unsupported escape sequence".to_owned(),
                });
            }
        };
        content.push(unescaped);
    }
    Err(unterminated)
}

/// A value that must be one quoted string and nothing after it.
fn parse_whole_quoted_value(
    value: &str,
    value_column: usize,
    escape_style: EscapeStyle,
) -> Result<KconfigValue, LineError> {
    let (content, quoted_length) = parse_quoted_string(value, escape_style)
        .map_err(|error| LineError::new(value_column + error.offset, error.message))?;
    if quoted_length < value.len() {
        return Err(LineError::new(
            value_column + quoted_length,
            "unexpected text after the closing quote",
        ));
    }
    Ok(KconfigValue::String(content))
}

/// An unquoted value other than y/m/n: a decimal int or a `0x` hex value.
fn parse_number_value(value: &str, value_column: usize) -> Result<KconfigValue, LineError> {
    if is_hex_literal(value) {
        return Ok(KconfigValue::Hex(value.to_owned()));
    }
    if is_decimal_literal(value) {
        return value
            .parse::<i64>()
            .map(KconfigValue::Int)
            .map_err(|_| LineError::new(value_column, "integer out of range"));
    }
    Err(LineError::new(value_column, INVALID_VALUE))
}

/// `123` or `-123`.
fn is_decimal_literal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// `0x1f` or `0X1F`: at least one hex digit after the prefix, as `sym_string_valid` requires.
fn is_hex_literal(text: &str) -> bool {
    hex_digits(text).is_some()
}

/// The digits of a `0x`/`0X` literal, if `text` is one.
fn hex_digits(text: &str) -> Option<&str> {
    text.strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// The first line of `text` that sets `name`, for the "set twice" message.
fn first_line_of(text: &[u8], format: KconfigFormat, name: &str) -> Option<usize> {
    text.split(|&byte| byte == b'\n')
        .enumerate()
        .find_map(|(index, raw_line)| {
            let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
            let parsed = match format {
                KconfigFormat::DotConfig => parse_dot_config_line(line, false),
                KconfigFormat::AutoConf => parse_dot_config_line(line, true),
                KconfigFormat::AutoconfHeader => parse_autoconf_header_line(line),
            };
            matches!(parsed, Ok(Some((found, _))) if found == name).then_some(index + 1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use KconfigFormat::{AutoConf, AutoconfHeader, DotConfig};

    /// Values as `NAME=value` (strings quoted, so `S="y"` and `S=y` differ), then each
    /// diagnostic as `| line:column: message`, all joined by spaces.
    fn render(input: &[u8], format: KconfigFormat) -> String {
        let (values, diagnostics) = KconfigValues::parse(input, format);
        let mut parts: Vec<String> = values
            .iter()
            .map(|(name, value)| match value {
                KconfigValue::String(text) => format!("{name}={text:?}"),
                other => format!("{name}={}", other.as_text()),
            })
            .collect();
        parts.extend(
            diagnostics
                .iter()
                .map(|diagnostic| format!("| {diagnostic}")),
        );
        parts.join(" ")
    }

    #[track_caller]
    fn check(format: KconfigFormat, input: &[u8], expected: &str) {
        let input_text = String::from_utf8_lossy(input);
        assert_eq!(render(input, format), expected, "input: {input_text:?}");
    }

    #[track_caller]
    fn check_config(input: &[u8], expected: &str) {
        check(DotConfig, input, expected);
    }

    #[track_caller]
    fn check_header(input: &[u8], expected: &str) {
        check(AutoconfHeader, input, expected);
    }

    #[track_caller]
    fn check_detect(file_name: &str, text: &[u8], expected: KconfigFormat) {
        assert_eq!(KconfigFormat::detect(Path::new(file_name), text), expected);
    }

    /// Looks `name` up in a fixed set of values: the text of `get` and the `tristate`.
    #[track_caller]
    fn check_lookup(name: &str, expected_text: Option<&str>, expected_tristate: Tristate) {
        let input = b"CONFIG_BOOL=y\nCONFIG_MOD=m\n# CONFIG_OFF is not set\n\
            CONFIG_STRING=\"y\"\nCONFIG_EMPTY=\nCONFIG_INT=1\nCONFIG_HEX=0x1\n";
        let (values, diagnostics) = KconfigValues::parse(input, DotConfig);
        assert_eq!(diagnostics, []);
        let text = values.get(name).map(KconfigValue::as_text);
        assert_eq!(text.as_deref(), expected_text, "get({name:?})");
        assert_eq!(
            values.tristate(name),
            expected_tristate,
            "tristate({name:?})"
        );
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_tristates() {
        check_config(b"CONFIG_A=y\n", "A=y");
        check_config(b"CONFIG_A=m\n", "A=m");
        check_config(b"CONFIG_A=n\n", "A=n");
        check_config(b"# CONFIG_A is not set\n", "A=n");
        check_config(b"CONFIG_A=y", "A=y");
        check_config(b"CONFIG_64BIT=y", "64BIT=y");
        check_config(b"CONFIG_B=y\nCONFIG_A=m\n# CONFIG_C is not set\n", "A=m B=y C=n");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_strings() {
        check_config(br#"CONFIG_S="abc""#, r#"S="abc""#);
        check_config(br#"CONFIG_S="""#, r#"S="""#);
        check_config(br#"CONFIG_S="a\"b""#, r#"S="a\"b""#);
        check_config(br#"CONFIG_S="a\\b""#, r#"S="a\\b""#);
        check_config(br#"CONFIG_S="a\qb""#, r#"S="aqb""#);
        check_config(br#"CONFIG_S="\\""#, r#"S="\\""#);
        check_config(br#"CONFIG_S="a b  c""#, r#"S="a b  c""#);
        check_config(br#"CONFIG_S="y""#, r#"S="y""#);
        check_config(br#"CONFIG_S="12""#, r#"S="12""#);
        check_config(br##"CONFIG_S="# not a comment""##, r##"S="# not a comment""##);
        check_config(br#"CONFIG_CMDLINE="console=ttyS0 root=/dev/sda""#, r#"CMDLINE="console=ttyS0 root=/dev/sda""#);
        check_config("CONFIG_S=\"h\u{e9}llo\"".as_bytes(), "S=\"h\u{e9}llo\"");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_empty_value_is_empty_string() {
        check_config(b"CONFIG_S=", r#"S="""#);
        check_config(b"CONFIG_S=\n", r#"S="""#);
        check_config(b"CONFIG_S=\r\n", r#"S="""#);
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_numbers() {
        check_config(b"CONFIG_N=12", "N=12");
        check_config(b"CONFIG_N=0", "N=0");
        check_config(b"CONFIG_N=007", "N=7");
        check_config(b"CONFIG_N=-3", "N=-3");
        check_config(b"CONFIG_N=9223372036854775807", "N=9223372036854775807");
        check_config(b"CONFIG_N=-9223372036854775808", "N=-9223372036854775808");
        check_config(b"CONFIG_H=0x1000", "H=0x1000");
        check_config(b"CONFIG_H=0X1f", "H=0X1f");
        check_config(b"CONFIG_H=0xdeadBEEF", "H=0xdeadBEEF");
        check_config(b"CONFIG_H=0x00000000000000000000001", "H=0x00000000000000000000001");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_line_endings_comments_and_blanks() {
        check_config(b"CONFIG_A=y\r\nCONFIG_S=\"x\"\r\n", r#"A=y S="x""#);
        check_config(b"# CONFIG_A is not set\r\n", "A=n");
        check_config(b"\r\n\r\nCONFIG_A=y\r\n", "A=y");
        check_config(b"", "");
        check_config(b"\n\n", "");
        check_config(b"   \n\t\n", "");
        check_config(b"#\n# Automatically generated file; DO NOT EDIT.\n#\n", "");
        check_config(b"# comment\n\nCONFIG_A=y\n# another\n", "A=y");
        check_config(b"#CONFIG_A is not set", "");
        check_config(b"# CONFIG_A is not set but", "");
        check_config(b"# CONFIG_A B is not set", "");
        check_config(b"# CONFIG_A is not set ", "");
        check_config(b"# CONFIG_A=y", "");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_lines_that_are_not_assignments() {
        let expected_line =
            "| 1:1: expected `CONFIG_<name>=<value>` or `# CONFIG_<name> is not set`";
        check_config(b"FOO=y", expected_line);
        check_config(b"garbage", expected_line);
        check_config(b" CONFIG_A=y", expected_line);
        check_config(b"config_A=y", expected_line);
        check_config(b"CONFIG", expected_line);
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_bad_names_and_missing_equals() {
        check_config(b"CONFIG_A", "| 1:9: missing `=` after `CONFIG_A`");
        check_config(b"CONFIG_ABC y", "| 1:11: missing `=` after `CONFIG_ABC`");
        check_config(b"CONFIG_=y", "| 1:8: missing symbol name after `CONFIG_`");
        check_config(b"CONFIG_", "| 1:8: missing symbol name after `CONFIG_`");
        check_config(b"CONFIG_A-B=y", "| 1:9: invalid character `-` in symbol name");
        check_config(b"CONFIG_A.B=y", "| 1:9: invalid character `.` in symbol name");
        check_config(b"CONFIG_A =y", "| 1:9: invalid character ` ` in symbol name");
        check_config(b"# CONFIG_ is not set", "| 1:10: missing symbol name after `CONFIG_`");
        check_config(b"# CONFIG_AB-C is not set", "| 1:12: invalid character `-` in symbol name");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_bad_values() {
        check_config(b"CONFIG_S=\"abc", "| 1:10: unterminated string");
        check_config(br#"CONFIG_S="abc\""#, "| 1:10: unterminated string");
        check_config(br#"CONFIG_S="abc\"#, "| 1:10: unterminated string");
        check_config(br#"CONFIG_S="abc"x"#, "| 1:15: unexpected text after the closing quote");
        check_config(br#"CONFIG_S="abc" "#, "| 1:15: unexpected text after the closing quote");
        check_config(br#"CONFIG_S="a""b""#, "| 1:13: unexpected text after the closing quote");
        check_config(b"CONFIG_A=abc", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A=Y", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A= y", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A=y ", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A=0x", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A=0xg", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A=1.5", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A=+1", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A=-", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_A='x'", "| 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_config(b"CONFIG_N=9223372036854775808", "| 1:10: integer out of range");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_keeps_good_lines_around_bad_ones() {
        check_config(
            b"CONFIG_A=y\nbad\nCONFIG_B=m\nCONFIG_C=\"x\n# CONFIG_D is not set\n",
            "A=y B=m D=n | 2:1: expected `CONFIG_<name>=<value>` or `# CONFIG_<name> is not set` \
             | 4:10: unterminated string",
        );
        check_config(b"CONFIG_A=q\r\nCONFIG_B=y\r\n", "B=y | 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_symbol_set_twice_keeps_last_value() {
        check_config(b"CONFIG_A=y\nCONFIG_A=m", "A=m | 2:1: `CONFIG_A` set twice, first on line 1");
        check_config(b"CONFIG_A=y\n# CONFIG_A is not set", "A=n | 2:1: `CONFIG_A` set twice, first on line 1");
        check_config(b"CONFIG_A=y\n\nCONFIG_A=m\nCONFIG_A=\"s\"", r#"A="s" | 3:1: `CONFIG_A` set twice, first on line 1 | 4:1: `CONFIG_A` set twice, first on line 1"#);
        check_config(b"CONFIG_A=bad\nCONFIG_A=y", "A=y | 1:10: invalid value: not `y`, `m`, `n`, a number or a quoted string");
    }

    #[rustfmt::skip]
    #[test]
    fn dot_config_line_not_utf8() {
        check_config(b"CONFIG_A=y\nCONFIG_S=\"\xff\"\nCONFIG_B=y", "A=y B=y | 2:11: line is not valid UTF-8");
        check_config(b"\xfe", "| 1:1: line is not valid UTF-8");
        check_config(b"CONFIG_\xc3=y", "| 1:8: line is not valid UTF-8");
        check_config(b"# CONFIG_\xff is not set", "| 1:10: line is not valid UTF-8");
        // A comment carries no value, so its bytes do not matter.
        check_config(b"# compiler: \xff\nCONFIG_A=y", "A=y");
    }

    #[rustfmt::skip]
    #[test]
    fn header_values() {
        check_header(b"#define CONFIG_A 1", "A=y");
        check_header(b"#define CONFIG_A_MODULE 1", "A=m");
        check_header(b"#define CONFIG_A 1\n#define CONFIG_B_MODULE 1\n", "A=y B=m");
        check_header(br#"#define CONFIG_S "abc""#, r#"S="abc""#);
        check_header(br#"#define CONFIG_S """#, r#"S="""#);
        check_header(br#"#define CONFIG_S "a\"b\\c\nd\te""#, r#"S="a\"b\\c\nd\te""#);
        check_header(b"#define CONFIG_N 123", "N=123");
        check_header(b"#define CONFIG_N -5", "N=-5");
        check_header(b"#define CONFIG_N 0", "N=0");
        check_header(b"#define CONFIG_N 2", "N=2");
        check_header(b"#define CONFIG_H 0x10", "H=0x10");
        check_header(b"#define CONFIG_A_MODULE 2", "A_MODULE=2");
        check_header(br#"#define CONFIG_A_MODULE "x""#, r#"A_MODULE="x""#);
        check_header(b"#define CONFIG__MODULE 1", "_MODULE=y");
        check_header(b"#define CONFIG_A 1\r\n", "A=y");
        check_header(b"  #  define\tCONFIG_A\t1  ", "A=y");
    }

    #[rustfmt::skip]
    #[test]
    fn header_lines_that_are_skipped() {
        check_header(b"/*\n * Automatically generated file; DO NOT EDIT.\n */\n", "");
        check_header(b"// comment\n/* one line */\n", "");
        check_header(b"#ifndef __AUTOCONF_H\n#define __AUTOCONF_H\n#endif\n", "");
        check_header(b"#define FOO 1\n#undef CONFIG_A\n#include <x.h>\n", "");
        check_header(b"#defineCONFIG_A 1", "");
        check_header(b"CONFIG_A=y\n# CONFIG_B is not set\n", "");
        check_header(b"/* \xff */\n#define CONFIG_A 1", "A=y");
        check_header(
            b"/*\n * Linux/x86 6.6.0 Kernel Configuration\n */\n\
              #define CONFIG_CC_VERSION_TEXT \"gcc (GCC) 13.2.0\"\n#define CONFIG_64BIT 1\n\
              #define CONFIG_EXT4_FS_MODULE 1\n#define CONFIG_NR_CPUS 64\n\
              #define CONFIG_PHYSICAL_START 0x1000000\n",
            r#"64BIT=y CC_VERSION_TEXT="gcc (GCC) 13.2.0" EXT4_FS=m NR_CPUS=64 PHYSICAL_START=0x1000000"#,
        );
    }

    #[rustfmt::skip]
    #[test]
    fn header_malformed_defines() {
        check_header(b"#define CONFIG_A", "| 1:17: missing value for `CONFIG_A`");
        check_header(b"#define CONFIG_A   ", "| 1:17: missing value for `CONFIG_A`");
        check_header(b"#define CONFIG_ 1", "| 1:16: missing symbol name after `CONFIG_`");
        check_header(b"#define CONFIG_A(x) x", "| 1:17: invalid character `(` in symbol name");
        check_header(b"#define CONFIG_S \"abc", "| 1:18: unterminated string");
        check_header(br#"#define CONFIG_S "a\qb""#, "| 1:20: unsupported escape sequence");
        check_header(br#"#define CONFIG_S "a" x"#, "| 1:21: unexpected text after the closing quote");
        check_header(b"#define CONFIG_A yes", "| 1:18: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_header(b"#define CONFIG_A 1 /* x */", "| 1:18: invalid value: not `y`, `m`, `n`, a number or a quoted string");
        check_header(b"#define CONFIG_S \"\xff\"", "| 1:19: line is not valid UTF-8");
        check_header(b"#define CONFIG_A 1\n#define CONFIG_B\n#define CONFIG_C 1", "A=y C=y | 2:17: missing value for `CONFIG_B`");
        check_header(b"#define CONFIG_A 1\n#define CONFIG_A_MODULE 1", "A=m | 2:1: `CONFIG_A` set twice, first on line 1");
    }

    #[rustfmt::skip]
    #[test]
    fn lookup_with_and_without_prefix() {
        check_lookup("BOOL", Some("y"), Tristate::Y);
        check_lookup("CONFIG_BOOL", Some("y"), Tristate::Y);
        check_lookup("MOD", Some("m"), Tristate::M);
        check_lookup("CONFIG_MOD", Some("m"), Tristate::M);
        check_lookup("OFF", Some("n"), Tristate::N);
        check_lookup("CONFIG_OFF", Some("n"), Tristate::N);
        check_lookup("MISSING", None, Tristate::N);
        check_lookup("CONFIG_MISSING", None, Tristate::N);
        check_lookup("bool", None, Tristate::N);
        check_lookup("CONFIG_", None, Tristate::N);
        check_lookup("", None, Tristate::N);
    }

    #[rustfmt::skip]
    #[test]
    fn lookup_of_non_tristate_symbols_is_n() {
        check_lookup("STRING", Some("y"), Tristate::N);
        check_lookup("EMPTY", Some(""), Tristate::N);
        check_lookup("INT", Some("1"), Tristate::N);
        check_lookup("HEX", Some("0x1"), Tristate::N);
    }

    #[test]
    fn value_text() {
        let cases = [
            (KconfigValue::Tristate(Tristate::Y), "y"),
            (KconfigValue::Tristate(Tristate::M), "m"),
            (KconfigValue::Tristate(Tristate::N), "n"),
            (KconfigValue::String("a\"b".to_owned()), "a\"b"),
            (KconfigValue::Int(-12), "-12"),
            (KconfigValue::Hex("0x1000".to_owned()), "0x1000"),
        ];
        for (value, expected) in cases {
            assert_eq!(value.as_text(), expected, "{value:?}");
        }
        assert!(Tristate::N < Tristate::M && Tristate::M < Tristate::Y);
    }

    #[test]
    fn insert_len_and_iteration_order() {
        let mut values = KconfigValues::default();
        assert!(values.is_empty());
        values.insert("CONFIG_B", KconfigValue::Int(1));
        values.insert("A", KconfigValue::Tristate(Tristate::M));
        values.insert("B", KconfigValue::Int(2));
        assert_eq!(values.len(), 2);
        assert!(!values.is_empty());
        let entries: Vec<(&str, &KconfigValue)> = values.iter().collect();
        assert_eq!(
            entries,
            [
                ("A", &KconfigValue::Tristate(Tristate::M)),
                ("B", &KconfigValue::Int(2))
            ]
        );
    }

    /// Random lines built from fragments that matter to the parsers: none may panic, and
    /// every diagnostic must point inside its line (or just past its end).
    #[test]
    fn random_input_never_panics() {
        const FRAGMENTS: [&[u8]; 26] = [
            b"CONFIG_",
            b"A",
            b"_MODULE",
            b"=",
            b"\"",
            b"\\",
            b" ",
            b"\n",
            b"\r",
            b"y",
            b"m",
            b"n",
            b"0x",
            b"1",
            b"-",
            b"#",
            b"# CONFIG_",
            b" is not set",
            b"#define ",
            b"\xff",
            b"\xc3",
            b"\t",
            b"'",
            b"(",
            b"\xc3\xa9",
            b"q",
        ];
        let mut random_state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next_random = move || {
            random_state ^= random_state << 13;
            random_state ^= random_state >> 7;
            random_state ^= random_state << 17;
            usize::try_from(random_state % 1024).unwrap_or_default()
        };
        for _ in 0..20_000 {
            let fragment_count = next_random() % 12;
            let input: Vec<u8> = (0..fragment_count)
                .flat_map(|_| FRAGMENTS[next_random() % FRAGMENTS.len()].iter().copied())
                .collect();
            let lines: Vec<&[u8]> = input.split(|&byte| byte == b'\n').collect();
            for format in [DotConfig, AutoconfHeader] {
                let (_, diagnostics) = KconfigValues::parse(&input, format);
                for diagnostic in diagnostics {
                    let line = lines[diagnostic.line - 1];
                    assert!(
                        diagnostic.column >= 1 && diagnostic.column <= line.len() + 1,
                        "{diagnostic} in {:?}",
                        String::from_utf8_lossy(&input)
                    );
                }
            }
            KconfigFormat::detect(Path::new("file"), &input);
        }
    }

    #[rustfmt::skip]
    #[test]
    fn detect_by_file_name() {
        check_detect("autoconf.h", b"", AutoconfHeader);
        check_detect("include/generated/autoconf.h", b"CONFIG_A=y\n", AutoconfHeader);
        check_detect("AUTOCONF.H", b"", AutoconfHeader);
        check_detect(".config", b"", DotConfig);
        check_detect("include/config/auto.conf", b"CONFIG_A=y\n", AutoConf);
        check_detect("include/config/auto.conf", b"#define CONFIG_A 1\n", AutoconfHeader);
    }

    /// Linux 5.17+ writes auto.conf's strings unquoted (for Make); older
    /// trees quote them as `.config` does. Both read the same; `.config`
    /// itself stays strict.
    #[rustfmt::skip]
    #[test]
    fn auto_conf_strings_quoted_or_not() {
        let cases: &[(&[u8], &str)] = &[
            (b"CONFIG_CC_VERSION_TEXT=gcc (Debian 12.2.0-14) 12.2.0", "CC_VERSION_TEXT=\"gcc (Debian 12.2.0-14) 12.2.0\""),
            (b"CONFIG_CC_VERSION_TEXT=\"gcc (Debian) 12.2.0\"", "CC_VERSION_TEXT=\"gcc (Debian) 12.2.0\""),
            (b"CONFIG_LOCALVERSION=", "LOCALVERSION=\"\""),
            (b"CONFIG_LIVEPATCH=y\nCONFIG_X=0x10\nCONFIG_N=-3", "LIVEPATCH=y N=-3 X=0x10"),
            (b"CONFIG_DEFAULT_HOSTNAME=(none)", "DEFAULT_HOSTNAME=\"(none)\""),
            // A value that starts with a quote is a quoted string, checked.
            (b"CONFIG_S=\"open", "| 1:10: unterminated string"),
        ];
        for (input, expected) in cases {
            check(AutoConf, input, expected);
        }
        check_config(b"CONFIG_DEFAULT_HOSTNAME=(none)", "| 1:25: invalid value: not `y`, `m`, `n`, a number or a quoted string");
    }

    #[rustfmt::skip]
    #[test]
    fn detect_by_content() {
        check_detect("x", b"#define CONFIG_A 1\n", AutoconfHeader);
        check_detect("x", b"\n\n  #define CONFIG_A 1", AutoconfHeader);
        check_detect("x", b"/*\n * Automatically generated file; DO NOT EDIT.\n */\n#define CONFIG_A 1\n", AutoconfHeader);
        check_detect("x", b"// generated\n#define CONFIG_A 1\n", AutoconfHeader);
        check_detect("x", b"#ifndef AUTOCONF_H\n", AutoconfHeader);
        check_detect(".config", b"#define CONFIG_A 1\n", AutoconfHeader);
        check_detect("x", b"#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_A=y\n", DotConfig);
        check_detect("x", b"# CONFIG_A is not set\n#define CONFIG_B 1\n", DotConfig);
        check_detect("x", b"# if this were a directive it would have no space\nCONFIG_A=y", DotConfig);
        check_detect("x", b"#defined\nCONFIG_A=y", DotConfig);
        check_detect("x", b"CONFIG_A=y\n#define CONFIG_B 1\n", DotConfig);
        check_detect("x", b"garbage", DotConfig);
        check_detect("x", b"", DotConfig);
        check_detect("x", b"\xff\xfe", DotConfig);
    }
}
