//! Linker-script analysis for split objects: does a (preprocessed) GNU ld
//! script gather the per-item sections `-ffunction-sections
//! -fdata-sections` make, and does each catch-all come after the special
//! input sections the script keeps apart?
//!
//! ld puts an input section in the first input-section description, in
//! script order, whose file and section patterns match it (ld manual,
//! "Input Section Wildcard Patterns": "the linker will use the first
//! match in the linker script"). So:
//! - a family with no matching pattern (`.text.do_work` matched by
//!   nothing) makes one orphan output section per distinct name, placed by
//!   ld's orphan heuristics (Xen before 6ff9a7e62b: 4,409 orphans in
//!   `xen-syms`, and a `xen.efi` that does not link);
//! - a catch-all placed before a special pattern takes that pattern's
//!   sections: `*(.text.*)` before `*(.text.unlikely)` mixes cold code into
//!   the hot text, which Jan Beulich's review of the seed asked to avoid
//!   ("This coming after the "cold" and "unlikely" special sections"), and
//!   Linux's `TEXT_MAIN` (`.text.[0-9a-zA-Z_]*`, before
//!   `*(.text.unlikely .text.unlikely.*)`) did until 0043ecea2399.
//!
//! Parsing covers what those checks need: `SECTIONS { name ... : ... {
//! commands } trailers }` with comments, `KEEP()`, `SORT*()`, `REVERSE()`,
//! `EXCLUDE_FILE()`, `INPUT_SECTION_FLAGS()`, `/DISCARD/`, `OVERLAY`,
//! assignments and `ASSERT`s, and `ld --verbose` output (the script between
//! its `=====` lines). Anything else inside `SECTIONS` is skipped; only
//! broken structure (an unterminated comment or string, unbalanced
//! braces or parentheses, no `SECTIONS`) is an error. Pure: text in,
//! findings out.

use std::collections::BTreeSet;
use std::fmt;

use globset::{GlobBuilder, GlobMatcher};

/// A parse error, at a 1-based line and column of the text given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdsError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for LdsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// The `SECTIONS` of a script: its output sections in script order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub output_sections: Vec<OutputSection>,
}

/// One output-section description (`.text : { ... }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSection {
    /// `.text`, `/DISCARD/`.
    pub name: String,
    pub line: usize,
    /// Its input-section descriptions, in order.
    pub statements: Vec<InputStatement>,
}

/// One input-section description (`*(.text .text.*)`, `KEEP(*(.init))`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputStatement {
    pub line: usize,
    /// How many symbol assignments (`_stextentry = .;`, `PROVIDE(...)`) and
    /// moves of the location counter (`. = ALIGN(4096);`) come before it in
    /// its output section: a statement after more of them than a catch-all
    /// sits in a range the script marks, which the catch-all empties.
    pub marks_before: usize,
    /// Which files it takes sections from.
    pub files: FilePattern,
    /// Its section patterns, in order (`SORT*()` unwrapped).
    pub sections: Vec<SectionPattern>,
}

/// The file part of an input-section description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilePattern {
    /// `*`: every input file.
    All,
    /// `*` with an `EXCLUDE_FILE` before it.
    AllExcept,
    /// Some files only (`*crtbegin.o`, `built-in.a`).
    Some(String),
}

/// One section pattern of an input-section description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionPattern {
    /// As written (`.text.*`, `.text.[0-9a-zA-Z_]*`).
    pub pattern: String,
    /// An `EXCLUDE_FILE` applies to it: some files' sections are left for
    /// later patterns.
    pub excludes_files: bool,
}

impl InputStatement {
    /// The statement as a script would spell it, for messages:
    /// `*(.text.unlikely .text.unlikely.*)`.
    pub fn spelling(&self) -> String {
        let files = match &self.files {
            FilePattern::All => "*",
            FilePattern::AllExcept => "EXCLUDE_FILE(...) *",
            FilePattern::Some(files) => files,
        };
        let sections: Vec<&str> = self
            .sections
            .iter()
            .map(|section| section.pattern.as_str())
            .collect();
        format!("{files}({})", sections.join(" "))
    }
}

impl Script {
    /// The names of its output sections: an output section of a linked
    /// image named otherwise was made by ld from orphan input sections.
    pub fn output_section_names(&self) -> BTreeSet<&str> {
        self.output_sections
            .iter()
            .map(|section| section.name.as_str())
            .collect()
    }

    /// Every (output section, statement, section pattern), in script order.
    fn descriptions(
        &self,
    ) -> impl Iterator<Item = (&OutputSection, &InputStatement, &SectionPattern)> {
        self.output_sections.iter().flat_map(|output| {
            output.statements.iter().flat_map(move |statement| {
                statement
                    .sections
                    .iter()
                    .map(move |pattern| (output, statement, pattern))
            })
        })
    }
}

/// Every section pattern of a script in script order, compiled once (a
/// distribution's default script has some 300).
struct Descriptions<'s> {
    entries: Vec<Description<'s>>,
}

struct Description<'s> {
    output: &'s OutputSection,
    statement: &'s InputStatement,
    pattern: &'s SectionPattern,
    matcher: Option<GlobMatcher>,
    /// The split family this pattern gathers, if it is a catch-all.
    catch_all: Option<&'static CatchAll>,
}

impl Description<'_> {
    fn matches(&self, name: &str) -> bool {
        match &self.matcher {
            Some(matcher) => matcher.is_match(name),
            None => self.pattern.pattern == name,
        }
    }
}

impl<'s> Descriptions<'s> {
    fn new(script: &'s Script) -> Descriptions<'s> {
        let entries = script
            .descriptions()
            .map(|(output, statement, pattern)| {
                let mut description = Description {
                    output,
                    statement,
                    pattern,
                    matcher: glob(&pattern.pattern),
                    catch_all: None,
                };
                description.catch_all = CATCH_ALLS
                    .iter()
                    .find(|family| description.matches(family.samples[0]));
                description
            })
            .collect();
        Descriptions { entries }
    }

    /// Where ld puts input section `name` from an ordinary input file: the
    /// first description in script order whose file pattern takes every
    /// file and one of whose section patterns matches; `None` for an
    /// orphan.
    fn placement(&self, name: &str) -> Option<&Description<'s>> {
        self.entries.iter().find(|description| {
            !matches!(description.statement.files, FilePattern::Some(_))
                && description.matches(name)
        })
    }
}

/// A split family: the per-item input sections one flag makes, and the
/// catch-all the seed (Xen 6ff9a7e62b) adds for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatchAll {
    /// `.text.*`, as a pattern.
    pub pattern: &'static str,
    /// The output section it belongs in.
    pub output: &'static str,
    /// Per-item section names a compiler writes for this family, first the
    /// plain one: gcc 12 and clang 14 under the split flags (see
    /// `elf.rs`), a function `do_work`, gcc's clone `do_work.part.0`, a
    /// variable `counter`, gcc's static local `calls.0`.
    pub samples: &'static [&'static str],
    /// What to add, in the seed's order.
    pub advice: &'static str,
}

/// The four families the seed and the linker-script check care about.
pub const CATCH_ALLS: &[CatchAll] = &[
    CatchAll {
        pattern: ".text.*",
        output: ".text",
        samples: &[".text.do_work", ".text.do_work.part.0"],
        advice: "add `*(.text.*)` to the `.text` output section after the special text sections, in the seed's order `*(.text.cold)` `*(.text.unlikely)` `*(.text.*)` (Xen 6ff9a7e62b)",
    },
    CatchAll {
        pattern: ".data.*",
        output: ".data",
        samples: &[".data.counter", ".data.calls.0"],
        advice: "add `*(.data.*)` to the `.data` output section after the special data sections, in the seed's order `*(.data)` `*(.data.rel)` `*(.data.rel.*)` `*(.data.*)` (Xen 6ff9a7e62b)",
    },
    CatchAll {
        pattern: ".bss.*",
        output: ".bss",
        samples: &[".bss.zeroed", ".bss.calls.0"],
        advice: "add `*(.bss.*)` to the `.bss` output section after the special bss sections, in the seed's order `*(.bss)` `*(.bss.*)` (Xen 6ff9a7e62b)",
    },
    CatchAll {
        pattern: ".rodata.*",
        output: ".rodata",
        samples: &[".rodata.table", ".rodata.__func__.0"],
        advice: "add `*(.rodata.*)` to the `.rodata` output section after `*(.rodata)`, as Xen's script has it",
    },
];

/// Special input sections whose place inside their output section matters
/// (cold text apart from hot, ld's default script and Linux's
/// `TEXT_TEXT`; read-mostly data grouped on its cache lines, Xen's
/// `.data.read_mostly` and Linux's `.data..read_mostly`): a catch-all
/// before their own pattern in the same output section is a finding. A
/// catch-all in an earlier output section is a finding for any special
/// section, since it takes it out of the output section the script chose.
pub const KEEP_APART: &[&str] = &[
    ".text.cold",
    ".text.cold.*",
    ".text.unlikely",
    ".text.unlikely.*",
    ".text.*_unlikely",
    ".text.hot",
    ".text.hot.*",
    ".text.unknown",
    ".text.unknown.*",
    ".text.split",
    ".text.split.*",
    ".text.sorted.*",
    ".data.read_mostly",
    ".data..read_mostly",
    ".data.rel.ro",
    ".data.rel.ro.*",
];

/// Special sections a text catch-all may take: under `-ffunction-sections`
/// gcc puts a function named `startup` in `.text.startup` and `exit` in
/// `.text.exit`, where its constructors and destructors go without the
/// flag, so a script cannot free or discard these sections by name without
/// freeing or discarding such functions (Jan Beulich's follow-up to the
/// seed: "with -ffunction-sections startup code cannot reasonably be placed
/// in .text.startup"). The seed accepts that `.text.startup` ends up in
/// `.text` "and thus won't be freed"; `check OBJECT` reports the functions
/// with such names instead.
pub const TAKEN_BY_TEXT_CATCH_ALL: &[&str] = &[
    ".text.startup",
    ".text.startup.*",
    ".text.exit",
    ".text.exit.*",
];

/// What is wrong with a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptFindingKind {
    /// No pattern gathers a split family: its sections become orphans.
    NotGathered,
    /// A split family is gathered by `/DISCARD/`.
    Discarded,
    /// A catch-all comes before a special pattern and takes its sections.
    CatchAllFirst,
}

/// One problem of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptFinding {
    pub kind: ScriptFindingKind,
    /// The line to look at: the special pattern's, the gathering
    /// statement's, or the family's output section's (`None` when the
    /// script has none).
    pub line: Option<usize>,
    /// The family (`.text.*`) or the special pattern (`.text.unlikely`).
    pub item: String,
    pub message: String,
}

/// The script's problems for split objects, in script order within each
/// check: families not gathered (or discarded), then catch-alls that come
/// first.
pub fn analyse(script: &Script) -> Vec<ScriptFinding> {
    let descriptions = Descriptions::new(script);
    let mut findings = Vec::new();
    for family in CATCH_ALLS {
        let output_line = script
            .output_sections
            .iter()
            .find(|output| output.name == family.output)
            .map(|output| output.line);
        let placements: Vec<(&str, Option<&Description<'_>>)> = family
            .samples
            .iter()
            .map(|sample| (*sample, descriptions.placement(sample)))
            .collect();
        if let Some((sample, _)) = placements.iter().find(|(_, placement)| placement.is_none()) {
            findings.push(ScriptFinding {
                kind: ScriptFindingKind::NotGathered,
                line: output_line,
                item: family.pattern.to_string(),
                message: format!(
                    "no input-section pattern gathers split `{}` sections (such as `{sample}`), so ld makes each an orphan output section and places it by guesswork; {}",
                    family.pattern, family.advice
                ),
            });
        } else if let Some((sample, Some(placement))) = placements
            .iter()
            .find(|(_, placement)| placement.is_some_and(|p| p.output.name == "/DISCARD/"))
        {
            findings.push(ScriptFinding {
                kind: ScriptFindingKind::Discarded,
                line: Some(placement.statement.line),
                item: family.pattern.to_string(),
                message: format!(
                    "`{}` in `/DISCARD/` takes split `{}` sections (such as `{sample}`) first: every function or variable in one is thrown away; {}",
                    placement.statement.spelling(),
                    family.pattern,
                    family.advice
                ),
            });
        }
    }
    findings.extend(catch_alls_first(&descriptions));
    findings
}

/// Special patterns an earlier catch-all takes the sections of.
fn catch_alls_first(descriptions: &Descriptions<'_>) -> Vec<ScriptFinding> {
    let keep_apart = matchers(KEEP_APART);
    let taken_by_text = matchers(TAKEN_BY_TEXT_CATCH_ALL);
    let catch_alls: Vec<(usize, &Description<'_>)> = descriptions
        .entries
        .iter()
        .enumerate()
        .filter(|(_, description)| description.catch_all.is_some())
        .collect();
    let mut findings = Vec::new();
    let mut reported = BTreeSet::new();
    for (index, description) in descriptions.entries.iter().enumerate() {
        let (output, statement, pattern) = (
            description.output,
            description.statement,
            description.pattern,
        );
        let representative = representative_name(&pattern.pattern);
        // Only statements before this one: the patterns of one statement
        // are alternatives, placed together in input order. ld takes the
        // first match in script order.
        let taker = catch_alls.iter().find(|(at, earlier)| {
            *at < index
                && !std::ptr::eq(earlier.statement, statement)
                && takes_everyones(earlier.statement, statement)
                && earlier.matches(&representative)
        });
        let Some((_, taker)) = taker else {
            continue;
        };
        let (taker_output, taker_statement) = (taker.output, taker.statement);
        let family = taker.catch_all.expect("a catch-all");
        let same_output = std::ptr::eq(taker_output, output);
        if family.pattern == ".text.*" && any_matches(&taken_by_text, &representative) {
            continue;
        }
        let leaves_marked_range = statement.marks_before > taker_statement.marks_before;
        if same_output && !leaves_marked_range && !any_matches(&keep_apart, &representative) {
            // Only the order inside the output section changes (Xen's
            // `*(.text.__x86_indirect_thunk_*)` right after its `*(.text.*)`).
            continue;
        }
        if !reported.insert((statement.line, pattern.pattern.clone())) {
            continue;
        }
        let (place, consequence) = if same_output && leaves_marked_range {
            (
                format!("comes first in `{}`", output.name),
                format!(
                    "so ld puts `{}` sections there, before the symbols or alignment this line comes after",
                    pattern.pattern
                ),
            )
        } else if same_output {
            (
                format!("comes first in `{}`", output.name),
                format!(
                    "so ld mixes `{}` sections in with the sections it takes instead of keeping them apart here",
                    pattern.pattern
                ),
            )
        } else {
            (
                format!("in `{}` comes first", taker_output.name),
                format!(
                    "so ld puts `{}` sections in `{}`, not in `{}` where this line wants them",
                    pattern.pattern, taker_output.name, output.name
                ),
            )
        };
        findings.push(ScriptFinding {
            kind: ScriptFindingKind::CatchAllFirst,
            line: Some(statement.line),
            item: pattern.pattern.clone(),
            message: format!(
                "the catch-all `{}` at line {} {place}, {consequence}; the catch-all must come after every special section it would match: {}",
                taker_statement.spelling(),
                taker_statement.line,
                family.advice
            ),
        });
    }
    findings
}

/// Whether `earlier`'s file pattern takes every file `later` names: a
/// catch-all limited to some files (`*crtbegin.o(...)`) takes nothing from
/// the others, and one with an `EXCLUDE_FILE` leaves those files to
/// patterns naming them.
fn takes_everyones(earlier: &InputStatement, later: &InputStatement) -> bool {
    matches!(
        (&earlier.files, &later.files),
        (FilePattern::All, _)
            | (
                FilePattern::AllExcept,
                FilePattern::All | FilePattern::AllExcept
            )
    )
}

fn matchers(patterns: &[&str]) -> Vec<GlobMatcher> {
    patterns
        .iter()
        .filter_map(|pattern| glob(pattern))
        .collect()
}

fn any_matches(matchers: &[GlobMatcher], name: &str) -> bool {
    matchers.iter().any(|matcher| matcher.is_match(name))
}

/// ld's wildcards are fnmatch(3)'s without flags: `*` and `?` match any
/// character (a `.` or `/` too), `[...]` a class, `\` quotes.
fn glob(pattern: &str) -> Option<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|glob| glob.compile_matcher())
}

/// Whether section pattern `pattern` matches section `name`; a pattern
/// globset cannot read (an unclosed `[`) only matches itself, as fnmatch
/// takes such a bracket literally.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    match glob(pattern) {
        Some(matcher) => matcher.is_match(name),
        None => pattern == name,
    }
}

/// A section name `pattern` matches, to ask what an earlier pattern does
/// with the sections this one wants: wildcards replaced by `x` (a class by
/// its first member), quoted characters kept.
pub fn representative_name(pattern: &str) -> String {
    let mut name = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => name.push('x'),
            '\\' => name.extend(chars.next()),
            '[' => {
                let negated = chars.next_if(|c| *c == '!' || *c == '^').is_some();
                let first = chars.next();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                }
                match (negated, first) {
                    (false, Some(first)) => name.push(first),
                    _ => name.push('x'),
                }
            }
            _ => name.push(c),
        }
    }
    name
}

/// Parses a preprocessed linker script, or `ld --verbose` output.
pub fn parse(text: &str) -> Result<Script, LdsError> {
    let (script, first_line) = internal_script(text);
    let tokens = lex(script, first_line)?;
    let pairs = match_brackets(&tokens)?;
    let mut output_sections = Vec::new();
    let mut found = false;
    let mut index = 0;
    while index < tokens.len() {
        if tokens[index].is_word("SECTIONS") && tokens.get(index + 1).is_some_and(|t| t.is('{')) {
            found = true;
            let close = pairs[index + 1];
            let mut parser = Parser {
                tokens: &tokens,
                pairs: &pairs,
            };
            parser.sections(index + 2, close, &mut output_sections);
            index = close + 1;
        } else {
            index += 1;
        }
    }
    if !found {
        return Err(LdsError {
            line: first_line,
            column: 1,
            message: "no `SECTIONS` command: give the linker script ld reads (the preprocessed `xen.lds` or `vmlinux.lds`, or `ld --verbose` output)".to_string(),
        });
    }
    Ok(Script { output_sections })
}

/// The script part of `ld --verbose` output, and the line it starts on;
/// any other text as it is.
fn internal_script(text: &str) -> (&str, usize) {
    const RULE: &str = "==================================================";
    let Some(heading) = text.find("using internal linker script:") else {
        return (text, 1);
    };
    let after_heading = &text[heading..];
    let Some(open) = after_heading.find(RULE) else {
        return (text, 1);
    };
    let start = heading + open + RULE.len();
    let end = text[start..]
        .find(RULE)
        .map_or(text.len(), |close| start + close);
    let first_line = text[..start].matches('\n').count() + 1;
    (&text[start..end], first_line)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    /// A name, pattern, number or operator.
    Word,
    /// A quoted string, without its quotes.
    Quoted,
    /// One of `{ } ( ) ; , : =`.
    Punct(char),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Token<'a> {
    kind: TokenKind,
    text: &'a str,
    line: usize,
    column: usize,
}

impl Token<'_> {
    fn is(&self, punct: char) -> bool {
        self.kind == TokenKind::Punct(punct)
    }

    fn is_word(&self, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text == word
    }

    fn is_name(&self) -> bool {
        matches!(self.kind, TokenKind::Word | TokenKind::Quoted)
    }
}

const PUNCTUATION: &[char] = &['{', '}', '(', ')', ';', ',', ':', '='];

/// Splits the script into tokens. Words run until blank space, a quote or
/// punctuation, so `*(.text.[0-9a-zA-Z_]*)` is `*`, `(`, the pattern, `)`,
/// and `/DISCARD/` one word; operators inside expressions come out as
/// words, which the parser skips. A line whose first non-blank character
/// is `#` is a cpp line marker or directive and is skipped.
fn lex(text: &str, first_line: usize) -> Result<Vec<Token<'_>>, LdsError> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let (mut at, mut line, mut line_start) = (0, first_line, 0);
    let mut at_line_start = true;
    let column = |at: usize, line_start: usize| text[line_start..at].chars().count() + 1;
    while at < bytes.len() {
        let c = bytes[at];
        if c == b'\n' {
            at += 1;
            line += 1;
            line_start = at;
            at_line_start = true;
            continue;
        }
        if c.is_ascii_whitespace() {
            at += 1;
            continue;
        }
        if at_line_start && c == b'#' {
            at = text[at..].find('\n').map_or(bytes.len(), |end| at + end);
            continue;
        }
        at_line_start = false;
        if text[at..].starts_with("/*") {
            let (start_line, start_column) = (line, column(at, line_start));
            let Some(end) = text[at + 2..].find("*/") else {
                return Err(LdsError {
                    line: start_line,
                    column: start_column,
                    message: "unterminated comment: no `*/` after this `/*`".to_string(),
                });
            };
            let comment = &text[at..at + 2 + end + 2];
            for (offset, _) in comment.match_indices('\n') {
                line += 1;
                line_start = at + offset + 1;
            }
            at += comment.len();
            continue;
        }
        let start_column = column(at, line_start);
        if c == b'"' {
            let Some(end) = text[at + 1..]
                .find(['"', '\n'])
                .filter(|end| bytes[at + 1 + end] == b'"')
            else {
                return Err(LdsError {
                    line,
                    column: start_column,
                    message: "unterminated string: no closing `\"` on this line".to_string(),
                });
            };
            tokens.push(Token {
                kind: TokenKind::Quoted,
                text: &text[at + 1..at + 1 + end],
                line,
                column: start_column,
            });
            at += end + 2;
            continue;
        }
        let ch = text[at..].chars().next().expect("not at the end");
        if PUNCTUATION.contains(&ch) {
            tokens.push(Token {
                kind: TokenKind::Punct(ch),
                text: &text[at..at + 1],
                line,
                column: start_column,
            });
            at += 1;
            continue;
        }
        let end = text[at..]
            .char_indices()
            .find(|(offset, c)| {
                c.is_whitespace()
                    || *c == '"'
                    || PUNCTUATION.contains(c)
                    || text[at + offset..].starts_with("/*")
            })
            .map_or(text.len(), |(offset, _)| at + offset);
        tokens.push(Token {
            kind: TokenKind::Word,
            text: &text[at..end],
            line,
            column: start_column,
        });
        at = end;
    }
    Ok(tokens)
}

/// For each `{` and `(`, the index of the token closing it (and the other
/// way round); an unbalanced one is an error at its position.
fn match_brackets(tokens: &[Token<'_>]) -> Result<Vec<usize>, LdsError> {
    let mut pairs = vec![usize::MAX; tokens.len()];
    let mut open: Vec<usize> = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let closing = match token.kind {
            TokenKind::Punct('{' | '(') => {
                open.push(index);
                continue;
            }
            TokenKind::Punct('}') => '{',
            TokenKind::Punct(')') => '(',
            _ => continue,
        };
        match open.pop() {
            Some(opener) if tokens[opener].is(closing) => {
                pairs[opener] = index;
                pairs[index] = opener;
            }
            Some(opener) => {
                let opened = &tokens[opener];
                return Err(LdsError {
                    line: token.line,
                    column: token.column,
                    message: format!(
                        "`{}` closes the `{}` opened at line {}, column {}",
                        token.text, opened.text, opened.line, opened.column
                    ),
                });
            }
            None => {
                return Err(LdsError {
                    line: token.line,
                    column: token.column,
                    message: format!("`{}` closes nothing", token.text),
                });
            }
        }
    }
    if let Some(&opener) = open.first() {
        let opened = &tokens[opener];
        return Err(LdsError {
            line: opened.line,
            column: opened.column,
            message: format!("this `{}` is never closed", opened.text),
        });
    }
    Ok(pairs)
}

/// Commands with a parenthesised argument that place no input section.
const SKIPPED_CALLS: &[&str] = &[
    "ASSERT",
    "ENTRY",
    "PROVIDE",
    "PROVIDE_HIDDEN",
    "HIDDEN",
    "BYTE",
    "SHORT",
    "LONG",
    "QUAD",
    "SQUAD",
    "FILL",
    "LINKER_VERSION",
    "INSERT",
    "NOCROSSREFS",
    "NOCROSSREFS_TO",
    "OUTPUT_FORMAT",
    "OUTPUT_ARCH",
    "SEARCH_DIR",
    "TARGET",
    "INPUT",
    "GROUP",
    "OUTPUT",
    "EXTERN",
    "REGION_ALIAS",
];

/// Commands without an argument that place no input section.
const SKIPPED_WORDS: &[&str] = &[
    "CONSTRUCTORS",
    "CREATE_OBJECT_SYMBOLS",
    "FORCE_COMMON_ALLOCATION",
    "INHIBIT_COMMON_ALLOCATION",
    "FORCE_GROUP_ALLOCATION",
    "LINKER_VERSION",
];

/// Operators that continue a fill expression after `=`.
const BINARY_OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "&&", "||",
];

struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    pairs: &'t [usize],
}

impl Parser<'_, '_> {
    /// The commands of a `SECTIONS` block, tokens `start..end`.
    fn sections(&mut self, start: usize, end: usize, into: &mut Vec<OutputSection>) {
        let mut index = start;
        while index < end {
            let token = self.tokens[index];
            if token.is(';') || token.is(',') {
                index += 1;
                continue;
            }
            if let Some(next) = self.skip_call_or_word(index, end) {
                index = next;
                continue;
            }
            if token.is_word("INCLUDE") {
                index += 2;
                continue;
            }
            // An assignment ends at `;`; an output section opens `{` first.
            let Some(stop) = (index..end).find(|&at| {
                let t = self.tokens[at];
                t.is(';') || t.is('{') || t.is('}')
            }) else {
                return;
            };
            let stop = self.skip_groups(index, stop, end);
            if stop >= end || !self.tokens[stop].is('{') {
                index = stop + 1;
                continue;
            }
            let close = self.pairs[stop];
            if token.is_word("OVERLAY") {
                self.overlay(stop + 1, close, into);
            } else if token.is_name() {
                into.push(OutputSection {
                    name: token.text.to_string(),
                    line: token.line,
                    statements: self.body(stop + 1, close),
                });
            }
            index = self.trailers(close + 1, end);
        }
    }

    /// The first `;`, `{` or `}` at parenthesis depth 0 from `index`, given
    /// `stop`, the first at any depth: `ALIGN(. != 0 ? 8 : 1)` holds no
    /// statement end.
    fn skip_groups(&self, index: usize, stop: usize, end: usize) -> usize {
        let mut at = index;
        while at < end {
            let t = self.tokens[at];
            if t.is('(') {
                at = self.pairs[at] + 1;
                continue;
            }
            if t.is(';') || t.is('{') || t.is('}') {
                return at;
            }
            at += 1;
        }
        stop.max(end)
    }

    /// Past `ASSERT(...)`, `PROVIDE(...)`, `CONSTRUCTORS` and the like.
    fn skip_call_or_word(&self, index: usize, end: usize) -> Option<usize> {
        let token = self.tokens[index];
        if token.kind != TokenKind::Word {
            return None;
        }
        let opens = index + 1 < end && self.tokens[index + 1].is('(');
        if opens && SKIPPED_CALLS.contains(&token.text) {
            return Some(self.pairs[index + 1] + 1);
        }
        (SKIPPED_WORDS.contains(&token.text) && !opens).then_some(index + 1)
    }

    /// Past what may follow an output section's `}`: `>region`,
    /// `AT>region`, `:phdr`..., `=fill`, `,`.
    fn trailers(&self, mut index: usize, end: usize) -> usize {
        while index < end {
            let token = self.tokens[index];
            let next_is_name = index + 1 < end && self.tokens[index + 1].is_name();
            if token.is(':') && next_is_name {
                index += 2;
            } else if token.is(',') {
                index += 1;
            } else if token.kind == TokenKind::Word
                && (token.text.starts_with('>') || token.text.starts_with("AT>"))
            {
                index += if token.text == ">" || token.text == "AT>" {
                    2
                } else {
                    1
                };
            } else if token.is_word("AT")
                && index + 1 < end
                && self.tokens[index + 1].text.starts_with('>')
            {
                index += if self.tokens[index + 1].text == ">" {
                    3
                } else {
                    2
                };
            } else if token.is('=') {
                index = self.expression(index + 1, end);
            } else {
                break;
            }
        }
        index.min(end)
    }

    /// Past one fill expression: operands joined by binary operators.
    fn expression(&self, mut index: usize, end: usize) -> usize {
        loop {
            if index >= end {
                return end;
            }
            index = if self.tokens[index].is('(') {
                self.pairs[index] + 1
            } else if index + 1 < end
                && self.tokens[index].kind == TokenKind::Word
                && self.tokens[index + 1].is('(')
            {
                self.pairs[index + 1] + 1
            } else {
                index + 1
            };
            if index < end
                && self.tokens[index].kind == TokenKind::Word
                && BINARY_OPERATORS.contains(&self.tokens[index].text)
            {
                index += 1;
            } else {
                return index;
            }
        }
    }

    /// `OVERLAY ... { name { ... } ... }`: its sections are output sections.
    fn overlay(&mut self, start: usize, end: usize, into: &mut Vec<OutputSection>) {
        let mut index = start;
        while index < end {
            let token = self.tokens[index];
            if token.is_name() && index + 1 < end && self.tokens[index + 1].is('{') {
                let close = self.pairs[index + 1];
                into.push(OutputSection {
                    name: token.text.to_string(),
                    line: token.line,
                    statements: self.body(index + 2, close),
                });
                index = self.trailers(close + 1, end);
            } else {
                index += 1;
            }
        }
    }

    /// The commands of an output section, tokens `start..end`.
    fn body(&self, start: usize, end: usize) -> Vec<InputStatement> {
        let mut statements = Vec::new();
        let mut marks = 0;
        let mut index = start;
        while index < end {
            let token = self.tokens[index];
            if token.kind != TokenKind::Word {
                index += 1;
                continue;
            }
            if let Some(next) = self.skip_call_or_word(index, end) {
                if matches!(token.text, "PROVIDE" | "PROVIDE_HIDDEN" | "HIDDEN") {
                    marks += 1;
                }
                index = next;
                continue;
            }
            if token.text == "INCLUDE" {
                index += 2;
                continue;
            }
            // `sym = expr;`, `. = ALIGN(8);`, `x += 4;` (`+` and `=` apart).
            let assigns = (index + 1 < end && self.tokens[index + 1].is('='))
                || (index + 2 < end
                    && self.tokens[index + 1].kind == TokenKind::Word
                    && self.tokens[index + 2].is('='));
            if assigns {
                marks += 1;
                index = (index..end)
                    .find(|&at| self.tokens[at].is(';'))
                    .map_or(end, |at| at + 1);
                continue;
            }
            let opens = index + 1 < end && self.tokens[index + 1].is('(');
            let (statement, next) = if token.text == "KEEP" && opens {
                let close = self.pairs[index + 1];
                (self.description(index + 2, close).0, close + 1)
            } else {
                self.description(index, end)
            };
            statements.extend(statement.map(|statement| InputStatement {
                marks_before: marks,
                ..statement
            }));
            index = next;
        }
        statements
    }

    /// The input-section description starting at `index` (`FILES(...)`,
    /// `EXCLUDE_FILE(...) FILES(...)`, `INPUT_SECTION_FLAGS(...) FILES(...)`,
    /// `SORT(FILES)(...)`), and the index after it. A file name alone
    /// (`crt0.o`, all its sections) is no statement: no split family
    /// depends on one.
    fn description(&self, start: usize, end: usize) -> (Option<InputStatement>, usize) {
        let mut index = start;
        let mut excludes = false;
        while index < end {
            let token = self.tokens[index];
            let opens = index + 1 < end && self.tokens[index + 1].is('(');
            if token.kind != TokenKind::Word || !opens {
                return (None, index + 1);
            }
            let close = self.pairs[index + 1];
            match token.text {
                "EXCLUDE_FILE" => excludes = true,
                "INPUT_SECTION_FLAGS" => {}
                text if is_sort(text) && close + 1 < end && self.tokens[close + 1].is('(') => {
                    // `SORT(*.o)(.text)`: sorted file names, then sections.
                    let files = FilePattern::Some(self.words(index + 2, close).join(" "));
                    let sections_close = self.pairs[close + 1];
                    let statement = self.statement(token.line, files, close + 2, sections_close);
                    return (statement, sections_close + 1);
                }
                text => {
                    let files = match (text, excludes) {
                        ("*", false) => FilePattern::All,
                        ("*", true) => FilePattern::AllExcept,
                        (other, _) => FilePattern::Some(other.to_string()),
                    };
                    return (
                        self.statement(token.line, files, index + 2, close),
                        close + 1,
                    );
                }
            }
            index = close + 1;
        }
        (None, end)
    }

    fn statement(
        &self,
        line: usize,
        files: FilePattern,
        start: usize,
        end: usize,
    ) -> Option<InputStatement> {
        let mut sections = Vec::new();
        self.section_list(start, end, false, &mut sections);
        (!sections.is_empty()).then_some(InputStatement {
            line,
            marks_before: 0,
            files,
            sections,
        })
    }

    /// The section patterns of `( ... )`, tokens `start..end`, with the
    /// `SORT*()` and `REVERSE()` wrappers taken off; an `EXCLUDE_FILE()`
    /// applies to the pattern after it (ld manual: "If the EXCLUDE_FILE is
    /// placed inside the section list, it only applies to the section
    /// immediately following").
    fn section_list(
        &self,
        start: usize,
        end: usize,
        mut excludes: bool,
        into: &mut Vec<SectionPattern>,
    ) {
        let mut index = start;
        while index < end {
            let token = self.tokens[index];
            let opens = index + 1 < end && self.tokens[index + 1].is('(');
            if token.kind == TokenKind::Word && opens {
                let close = self.pairs[index + 1];
                if token.text == "EXCLUDE_FILE" {
                    excludes = true;
                } else {
                    self.section_list(index + 2, close, excludes, into);
                    excludes = false;
                }
                index = close + 1;
                continue;
            }
            if token.is_name() {
                into.push(SectionPattern {
                    pattern: token.text.to_string(),
                    excludes_files: excludes,
                });
                excludes = false;
            }
            index += 1;
        }
    }

    fn words(&self, start: usize, end: usize) -> Vec<&str> {
        self.tokens[start..end]
            .iter()
            .filter(|token| token.is_name())
            .map(|token| token.text)
            .collect()
    }
}

/// `SORT`, `SORT_BY_NAME`, `SORT_BY_ALIGNMENT`, `SORT_BY_INIT_PRIORITY`,
/// `SORT_NONE`, `REVERSE`.
fn is_sort(word: &str) -> bool {
    word.starts_with("SORT") || word == "REVERSE"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of each output section, spelled back.
    fn outline(script: &Script) -> Vec<(String, Vec<String>)> {
        script
            .output_sections
            .iter()
            .map(|output| {
                (
                    output.name.clone(),
                    output
                        .statements
                        .iter()
                        .map(InputStatement::spelling)
                        .collect(),
                )
            })
            .collect()
    }

    #[track_caller]
    fn check_outline(text: &str, expected: &[(&str, &[&str])]) {
        let script = parse(text).unwrap_or_else(|error| panic!("{error}\n{text}"));
        let expected: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(name, statements)| {
                (
                    name.to_string(),
                    statements.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(outline(&script), expected, "{text}");
    }

    #[test]
    fn parse_table() {
        check_outline(
            "SECTIONS { .text : { *(.text) *(.text.*) } }",
            &[(".text", &["*(.text)", "*(.text.*)"])],
        );
        // Comments, KEEP, SORT, assignments, fill and phdr trailers.
        check_outline(
            "/* head */ SECTIONS {\n  . = 0x100000; /* a { brace */\n  .text : {\n    _stext = .;\n    KEEP(*(.head.text))\n    *(SORT(.text.sorted.*))\n    *(.text.cold .text.cold.*) . = ALIGN(16);\n  } :text = 0x9090\n  .rodata ALIGN(4096) : AT(ADDR(.rodata) - 0x1000) { *(.rodata .rodata.*) } :text\n}",
            &[
                (
                    ".text",
                    &[
                        "*(.head.text)",
                        "*(.text.sorted.*)",
                        "*(.text.cold .text.cold.*)",
                    ],
                ),
                (".rodata", &["*(.rodata .rodata.*)"]),
            ],
        );
        // ld's default script's forms.
        check_outline(
            "SECTIONS\n{\n  PROVIDE (__executable_start = SEGMENT_START(\"text-segment\", 0x400000)); . = SEGMENT_START(\"text-segment\", 0x400000) + SIZEOF_HEADERS;\n  .init           :\n  {\n    KEEP (*(SORT_NONE(.init)))\n  }\n  .ctors          :\n  {\n    KEEP (*crtbegin.o(.ctors))\n    KEEP (*(EXCLUDE_FILE (*crtend.o *crtend?.o ) .ctors))\n    KEEP (*(SORT(.ctors.*)))\n  }\n  .gcc_except_table   : ONLY_IF_RO { *(.gcc_except_table .gcc_except_table.*) }\n  . = DATA_SEGMENT_RELRO_END (SIZEOF (.got.plt) >= 24 ? 24 : 0, .);\n  .bss            :\n  {\n   *(.dynbss)\n   *(.bss .bss.* .gnu.linkonce.b.*)\n   *(COMMON)\n   . = ALIGN(. != 0 ? 64 / 8 : 1);\n  }\n  /DISCARD/ : { *(.note.GNU-stack) *(.gnu_debuglink) *(.gnu.lto_*) }\n}\n",
            &[
                (".init", &["*(.init)"]),
                (
                    ".ctors",
                    &["*crtbegin.o(.ctors)", "*(.ctors)", "*(.ctors.*)"],
                ),
                (
                    ".gcc_except_table",
                    &["*(.gcc_except_table .gcc_except_table.*)"],
                ),
                (
                    ".bss",
                    &[
                        "*(.dynbss)",
                        "*(.bss .bss.* .gnu.linkonce.b.*)",
                        "*(COMMON)",
                    ],
                ),
                (
                    "/DISCARD/",
                    &["*(.note.GNU-stack)", "*(.gnu_debuglink)", "*(.gnu.lto_*)"],
                ),
            ],
        );
        // Xen's DECL_SECTION expansion, PHDRS outside SECTIONS, ASSERT
        // without `;`, a cpp line marker, CONSTRUCTORS.
        check_outline(
            "# 1 \"xen.lds.S\"\nPHDRS { text PT_LOAD ; }\nSECTIONS {\n .data : AT(ADDR(\".data\") - 0xffff82d040000000) {\n *(.data.page_aligned)\n *(.data)\n CONSTRUCTORS\n } :text\n ASSERT(1, \"x\")\n .bss (NOLOAD) : { *(.bss .bss.*) } >ram AT>rom\n}\nASSERT(_end - _start <= 16M, \"too large\")\n",
            &[
                (".data", &["*(.data.page_aligned)", "*(.data)"]),
                (".bss", &["*(.bss .bss.*)"]),
            ],
        );
        // An OVERLAY's sections, EXCLUDE_FILE before the file pattern, a
        // sorted file list, two SECTIONS commands.
        check_outline(
            "SECTIONS { OVERLAY 0x1000 : AT (0x4000) { .ov1 { *(.ov1) } .ov2 { *(.ov2) } } }\nSECTIONS { .text : { EXCLUDE_FILE(*boot.o) *(.text .text.*) SORT(*.o)(.init) } }",
            &[
                (".ov1", &["*(.ov1)"]),
                (".ov2", &["*(.ov2)"]),
                (
                    ".text",
                    &["EXCLUDE_FILE(...) *(.text .text.*)", "*.o(.init)"],
                ),
            ],
        );
    }

    #[test]
    fn parse_errors_table() {
        let table = [
            (
                "SECTIONS {\n  /* never closed\n}",
                2,
                3,
                "unterminated comment",
            ),
            ("SECTIONS {\n .text : { *(.text) \n}", 1, 10, "never closed"),
            (
                "SECTIONS { .text : { *(.text } }",
                1,
                30,
                "closes the `(` opened at line 1, column 23",
            ),
            ("SECTIONS { }\n}", 2, 1, "closes nothing"),
            ("ENTRY(\"start)\nSECTIONS {}", 1, 7, "unterminated string"),
            (
                "MEMORY { ram : ORIGIN = 0, LENGTH = 1M }",
                1,
                1,
                "no `SECTIONS` command",
            ),
        ];
        for (text, line, column, message) in table {
            let error = parse(text).expect_err(text);
            assert_eq!(
                (error.line, error.column),
                (line, column),
                "{text}: {error}"
            );
            assert!(error.message.contains(message), "{text}: {error}");
        }
    }

    /// Cut anywhere, a script parses or is an error inside the text: it
    /// never panics or loops, and an error's position is in the text.
    #[test]
    fn any_cut_of_a_script_parses_or_errs() {
        let script = include_str!("../../tests/it/fixtures/lds/wrong-order.lds");
        let lines = script.lines().count();
        // Every third character: every kind of token is cut somewhere, in
        // a second of a debug build.
        let boundaries: Vec<usize> = (0..=script.len())
            .step_by(3)
            .filter(|at| script.is_char_boundary(*at))
            .collect();
        for &at in &boundaries {
            for text in [&script[..at], &script[at..]] {
                match parse(text) {
                    Ok(parsed) => {
                        analyse(&parsed);
                    }
                    Err(error) => {
                        assert!(error.line >= 1 && error.line <= lines + 1, "{error}");
                        assert!(error.column >= 1, "{error}");
                    }
                }
            }
        }
    }

    #[test]
    fn ld_verbose_output_is_read_between_its_rules() {
        let text = "GNU ld (GNU Binutils) 2.40\n  Supported emulations:\n   elf_x86_64\nusing internal linker script:\n==================================================\nSECTIONS\n{\n  .text : { *(.text .text.*) }\n  .oops : { *(.oops\n}\n\n\n==================================================\n";
        let error = parse(text).expect_err("unbalanced on purpose");
        // Line numbers are the output's, not the extracted script's.
        assert_eq!((error.line, error.column), (10, 1), "{error}");
        assert!(error.message.contains("opened at line 9"), "{error}");
        let fixed = text.replace("*(.oops\n", "*(.oops) }\n");
        check_outline(
            &fixed,
            &[(".text", &["*(.text .text.*)"]), (".oops", &["*(.oops)"])],
        );
    }

    #[test]
    fn representative_name_table() {
        let table = [
            (".text.unlikely", ".text.unlikely"),
            (".text.unlikely.*", ".text.unlikely.x"),
            (".text.*_unlikely", ".text.x_unlikely"),
            (".text.[0-9a-zA-Z_]*", ".text.0x"),
            (".text.[!a]", ".text.x"),
            (".bss.page_aligned*", ".bss.page_alignedx"),
            (".a\\*b", ".a*b"),
            ("?", "x"),
        ];
        for (pattern, expected) in table {
            assert_eq!(representative_name(pattern), expected, "{pattern}");
        }
    }

    #[test]
    fn pattern_matches_table() {
        let table = [
            (".text.*", ".text.do_work", true),
            (".text.*", ".text.do_work.part.0", true),
            (".text.*", ".text", false),
            (".text*", ".text", true),
            (".text.[0-9a-zA-Z_]*", ".text.do_work", true),
            (".text.[0-9a-zA-Z_]*", ".text.unlikely", true),
            (".data.[0-9a-zA-Z_]*", ".data..percpu", false),
            (".data.*", ".data..percpu", true),
            (".text.*_unlikely", ".text.x_unlikely", true),
            ("*crtend?.o", "/usr/lib/crtendS.o", true),
            (".text.[", ".text.[", true),
            (".text.[", ".text.x", false),
        ];
        for (pattern, name, expected) in table {
            assert_eq!(pattern_matches(pattern, name), expected, "{pattern} {name}");
        }
    }

    /// (kind, line, item) of each finding.
    fn summary(text: &str) -> Vec<(ScriptFindingKind, Option<usize>, String)> {
        let script = parse(text).unwrap_or_else(|error| panic!("{error}\n{text}"));
        analyse(&script)
            .into_iter()
            .map(|finding| (finding.kind, finding.line, finding.item))
            .collect()
    }

    #[track_caller]
    fn check_analysis(text: &str, expected: &[(ScriptFindingKind, Option<usize>, &str)]) {
        let expected: Vec<(ScriptFindingKind, Option<usize>, String)> = expected
            .iter()
            .map(|(kind, line, item)| (*kind, *line, item.to_string()))
            .collect();
        assert_eq!(summary(text), expected, "{text}");
    }

    #[test]
    fn analysis_table() {
        use ScriptFindingKind::*;
        // The seed's order, every family gathered: clean.
        check_analysis(
            "SECTIONS {\n.text : {\n*(.text)\n*(.text.cold)\n*(.text.unlikely)\n*(.text.*)\n}\n.rodata : { *(.rodata) *(.rodata.*) }\n.data.read_mostly : { *(.data.read_mostly) }\n.data : {\n*(.data)\n*(.data.rel)\n*(.data.rel.*)\n*(.data.*)\n}\n.init.text : { *(.init.text) *(.text.startup) }\n.bss : { *(.bss) *(.bss.*) }\n/DISCARD/ : { *(.text.exit) *(.exit.text) }\n}",
            &[],
        );
        // Before the seed: three families not gathered, each at its
        // output section's line; none at all for a script without one.
        check_analysis(
            "SECTIONS {\n.text : { *(.text) *(.text.cold) *(.text.unlikely) }\n.rodata : { *(.rodata) *(.rodata.*) }\n.data : { *(.data) *(.data.rel) *(.data.rel.*) }\n.bss : { *(.bss) }\n}",
            &[
                (NotGathered, Some(2), ".text.*"),
                (NotGathered, Some(4), ".data.*"),
                (NotGathered, Some(5), ".bss.*"),
            ],
        );
        check_analysis(
            "SECTIONS { .all : { *(.text .text.* .data .data.* .bss .bss.*) } }",
            &[(NotGathered, None, ".rodata.*")],
        );
        // A catch-all before the special patterns of its own output
        // section, and in an earlier output section.
        check_analysis(
            "SECTIONS {\n.text : {\n*(.text .text.*)\n*(.text.unlikely .text.unlikely.*)\n*(.text.hot)\n*(.text.__x86_indirect_thunk_*)\n}\n.rodata : { *(.rodata .rodata.*) }\n.data : { *(.data .data.*) }\n.data.read_mostly : { *(.data.read_mostly) }\n.data..percpu : { *(.data..percpu) }\n.bss : { *(.bss .bss.*) }\n}",
            &[
                (CatchAllFirst, Some(4), ".text.unlikely"),
                (CatchAllFirst, Some(4), ".text.unlikely.*"),
                (CatchAllFirst, Some(5), ".text.hot"),
                (CatchAllFirst, Some(10), ".data.read_mostly"),
                (CatchAllFirst, Some(11), ".data..percpu"),
            ],
        );
        // Linux's TEXT_MAIN under LD_DEAD_CODE_DATA_ELIMINATION before
        // 0043ecea2399; its DATA_MAIN spares `.data..percpu`.
        check_analysis(
            "SECTIONS {\n.text : {\n*(.text.hot .text.hot.*)\n*(.text .text.[0-9a-zA-Z_]* .text.fixup)\n*(.text.unlikely .text.unlikely.*)\n*(.text.asan.* .text.tsan.*)\n}\n.rodata : { *(.rodata) *(.rodata.*) }\n.data : { *(.data .data.[0-9a-zA-Z_]* .data..L*) }\n.data..percpu : { *(.data..percpu) }\n.init.text : { *(.init.text .init.text.*) *(.text.startup) }\n.bss : { *(.bss .bss.[0-9a-zA-Z_]*) }\n/DISCARD/ : { *(.exit.text) *(.text.exit) }\n}",
            &[
                (CatchAllFirst, Some(5), ".text.unlikely"),
                (CatchAllFirst, Some(5), ".text.unlikely.*"),
            ],
        );
        // A range the script marks (Xen's entry text between
        // `_stextentry` and `_etextentry`) emptied by an earlier catch-all;
        // a statement right after the catch-all only changes order.
        check_analysis(
            "SECTIONS {\n.text : {\n*(.text)\n*(.text.*)\n*(.text.__x86_indirect_thunk_*)\n. = ALIGN(4096);\n_stextentry = .;\n*(.text.entry)\nPROVIDE(_etextentry = .);\nKEEP(*(.text.kexec))\n}\n.rodata : { *(.rodata .rodata.*) }\n.data : { *(.data .data.*) }\n.bss : { *(.bss .bss.*) }\n}",
            &[
                (CatchAllFirst, Some(8), ".text.entry"),
                (CatchAllFirst, Some(10), ".text.kexec"),
            ],
        );
        // A family discarded; a catch-all limited to some files gathers
        // nothing for the rest, one with EXCLUDE_FILE does.
        check_analysis(
            "SECTIONS {\n.text : { *(.text) *boot.o(.text.*) EXCLUDE_FILE(*boot.o) *(.text.*) }\n.rodata : { *(.rodata .rodata.*) }\n/DISCARD/ : { *(.data.*) }\n.data : { *(.data) }\n.bss : { *(.bss .bss.*) }\n}",
            &[(Discarded, Some(4), ".data.*")],
        );
        check_analysis(
            "SECTIONS {\n.text : { *(.text) *boot.o(.text.*) }\n.rodata : { *(.rodata .rodata.*) }\n.data : { *(.data .data.*) }\n.bss : { *(.bss .bss.*) }\n}",
            &[(NotGathered, Some(2), ".text.*")],
        );
    }

    #[test]
    fn messages_name_the_catch_all_and_the_seeds_order() {
        let script = parse(
            "SECTIONS {\n.text : { *(.text .text.*) }\n.init.text : { *(.text.unlikely) }\n.rodata : { *(.rodata .rodata.*) }\n.data : { *(.data .data.*) }\n}",
        )
        .expect("parses");
        let findings = analyse(&script);
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert_eq!(
            findings[0].message,
            "no input-section pattern gathers split `.bss.*` sections (such as `.bss.zeroed`), so ld makes each an orphan output section and places it by guesswork; add `*(.bss.*)` to the `.bss` output section after the special bss sections, in the seed's order `*(.bss)` `*(.bss.*)` (Xen 6ff9a7e62b)"
        );
        assert_eq!(
            findings[1].message,
            "the catch-all `*(.text .text.*)` at line 2 in `.text` comes first, so ld puts `.text.unlikely` sections in `.text`, not in `.init.text` where this line wants them; the catch-all must come after every special section it would match: add `*(.text.*)` to the `.text` output section after the special text sections, in the seed's order `*(.text.cold)` `*(.text.unlikely)` `*(.text.*)` (Xen 6ff9a7e62b)"
        );
    }
}
