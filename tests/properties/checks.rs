//! The invariants, as plain functions that panic on a violation.
//!
//! Shared by the proptest suite (`tests/properties/`, which generates the
//! inputs) and the cargo-fuzz targets (`fuzz/fuzz_targets/`, which
//! `#[path]`-include this file and decode libFuzzer's bytes into the same
//! arguments), so both check exactly the same thing. Only std, secwrap,
//! serde_json and toml are used here: the fuzz crate lists the same.

#![allow(dead_code)] // each fuzz target includes this file and uses one check

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use secwrap::args::{Arg, ArgForm, DriverArgs};
use secwrap::classify::CompileArgs;
use secwrap::config::{Config, ConfigEnv, WantedFlag};
use secwrap::inject::{self, InjectionPolicy, injected_argv, plan};
use secwrap::kconfig::expr::{Expr, MAXIMUM_DEPTH};
use secwrap::kconfig::{KconfigFormat, KconfigValue, KconfigValues, Tristate};
use secwrap::record::index::{LogSummary, index_path};
use secwrap::record::stats::Stats;
use secwrap::record::{InvocationRecord, LogWriter, history, read_log};
use secwrap::response_file::{expand, tokenize_gnu};

// ---------------------------------------------------------------------------
// Argument model

/// Every word of `argv` is accounted for exactly once by `DriverArgs`: the
/// items come in index order without gaps, an option with a separate value
/// consumes exactly the next word (and that word is its value), a glued
/// value is the rest of the option's own word, and the walk ends at the end.
pub fn check_driver_args(argv: &[OsString]) {
    let mut cursor = 0;
    let mut after_end_of_options = false;
    let mut inputs = Vec::new();
    for (index, arg) in DriverArgs::new(argv) {
        assert_eq!(index, cursor, "word {cursor} skipped or repeated: {argv:?}");
        let word = argv[index].as_bytes();
        cursor += 1;
        match arg {
            Arg::Input(path) => {
                assert_eq!(path.as_bytes(), word, "an input is its word");
                inputs.push(path.to_os_string());
            }
            Arg::Unknown(unknown) => {
                assert!(!after_end_of_options, "an option after `--`: {argv:?}");
                assert_eq!(unknown.as_bytes(), word);
                assert!(
                    word.len() >= 2 && word[0] == b'-',
                    "unknown non-option {word:?}"
                );
            }
            Arg::MissingValue(spec) => {
                assert!(!after_end_of_options);
                assert_eq!(index + 1, argv.len(), "MissingValue not on the last word");
                assert_eq!(
                    spec.name.as_bytes(),
                    word,
                    "a missing value has no glued part"
                );
                assert!(matches!(
                    spec.form,
                    ArgForm::Separate | ArgForm::JoinedOrSeparate | ArgForm::EqualsOrSeparate
                ));
            }
            Arg::Option { spec, value } => {
                assert!(!after_end_of_options);
                let name = spec.name.as_bytes();
                assert!(word.starts_with(name), "{:?} is not {word:?}", spec.name);
                let rest = &word[name.len()..];
                match value {
                    None => {
                        assert!(rest.is_empty(), "{word:?}: glued text dropped");
                        assert!(matches!(spec.form, ArgForm::Flag | ArgForm::Joined));
                    }
                    Some(value) if !rest.is_empty() => {
                        // Glued: the value is the rest of this word (after
                        // the `=` for `--sysroot=`-style options).
                        let glued = match spec.form {
                            ArgForm::EqualsOrSeparate => rest.strip_prefix(b"=").unwrap_or(rest),
                            _ => rest,
                        };
                        assert_eq!(value.as_bytes(), glued, "{word:?}: glued value");
                        assert!(!matches!(spec.form, ArgForm::Flag | ArgForm::Separate));
                    }
                    Some(value) => {
                        // Separate: exactly the next word, by identity.
                        let next = argv.get(index + 1).expect("a separate value past the end");
                        assert!(
                            std::ptr::eq(value.as_bytes(), next.as_bytes()),
                            "{word:?}: the value is not word {}",
                            index + 1
                        );
                        cursor += 1;
                    }
                }
                if spec.name == "--" {
                    after_end_of_options = true;
                }
            }
        }
    }
    assert_eq!(cursor, argv.len(), "words left unvisited: {argv:?}");
    let parsed = CompileArgs::parse(argv);
    let parsed_inputs: Vec<OsString> = parsed.inputs.into_iter().map(|input| input.path).collect();
    assert_eq!(
        parsed_inputs, inputs,
        "classification invents or drops inputs"
    );
}

// ---------------------------------------------------------------------------
// Injection

/// Whether `flag` alone is one option word the argument table does not
/// know: the flags a config adds (`-ffunction-sections`, `-Wl,--gc-sections`).
/// A config that adds `-o x`, `-m32` or `-flto` changes the command line's
/// meaning by design, so those are not what the invariants are about.
pub fn is_plain_flag(flag: &OsStr) -> bool {
    let words = [flag];
    let args: Vec<_> = DriverArgs::new(&words).collect();
    matches!(args.as_slice(), [(0, Arg::Unknown(_))]) && !flag.as_bytes().starts_with(b"@")
}

/// The facts of a line that injecting plain flags must leave alone.
fn meaning(args: &CompileArgs) -> impl PartialEq + std::fmt::Debug + use<> {
    (
        args.inputs.clone(),
        args.output.clone(),
        args.stop,
        args.preprocess_only,
        args.syntax_only,
        args.info_query,
        args.verbose,
        args.lto,
        args.target_args.clone(),
        args.missing_value.clone(),
        args.outputs(),
        args.classification(),
    )
}

/// Response files `@rsp0`, `@rsp1`... in `dir`, with these contents
/// (`None`: no such file, so the word stays literal).
pub fn write_response_files(dir: &Path, files: &[Option<Vec<u8>>]) {
    for (index, contents) in files.iter().enumerate() {
        let path = dir.join(format!("rsp{index}"));
        match contents {
            Some(contents) => std::fs::write(&path, contents).expect("write a response file"),
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => panic!("remove {}: {error}", path.display()),
            },
        }
    }
}

/// Injection as the shim does it (`plan.rs`): classify the expanded line,
/// plan, insert into the line as received. Then:
/// - every wanted flag is added or skipped, once;
/// - the line as received is a subsequence of the result, and what was
///   inserted is exactly `added`, in one run;
/// - nothing is added to a line that ends in an option missing its value;
/// - the meaning of the expanded line (inputs, languages, output, stop
///   stage, target args, outputs, classification) is unchanged;
/// - planning again on the injected line adds nothing (idempotent).
///
/// `original` may name `@rspN` files of `dir` (see `write_response_files`).
pub fn check_injection(
    dir: &Path,
    original: &[OsString],
    wanted: &[WantedFlag],
    excluded: bool,
    override_user_choice: bool,
) {
    let wanted: Vec<WantedFlag> = wanted
        .iter()
        .filter(|wanted| is_plain_flag(&wanted.flag))
        .cloned()
        .collect();
    let expanded = expand(original, dir).args;
    let flags_go_first = inject::flags_go_first(original, &expanded);
    let policy = InjectionPolicy {
        cflags: &wanted,
        ldflags: &wanted,
        cflags_without_kconfig: &[],
        ldflags_without_kconfig: &[],
        excluded,
        override_user_choice,
        flags_go_first,
    };
    let before = CompileArgs::parse(&expanded);
    let injection = plan(&before, &policy);
    assert_eq!(
        injection.added.len() + injection.skipped.len(),
        2 * wanted.len(),
        "a wanted flag neither added nor skipped, or both"
    );
    if before.missing_value.is_some() {
        assert!(injection.added.is_empty(), "added after a dangling option");
    }
    let injected = injected_argv(original, &injection.added, flags_go_first);
    let added = injection.added.len();
    assert_eq!(injected.len(), original.len() + added);
    let inserted_at = (0..=original.len()).find(|&at| {
        injected[..at] == original[..at]
            && injected[at..at + added] == injection.added[..]
            && injected[at + added..] == original[at..]
    });
    assert!(
        inserted_at.is_some(),
        "not the original plus the added flags: {original:?} -> {injected:?}"
    );

    let expanded_after = expand(&injected, dir).args;
    let after = CompileArgs::parse(&expanded_after);
    assert_eq!(
        meaning(&before),
        meaning(&after),
        "injecting {:?} changed the line's meaning: {original:?} (expanded {expanded:?}) -> {injected:?} (expanded {expanded_after:?})",
        injection.added
    );
    let again = plan(&after, &policy);
    assert!(
        again.added.is_empty(),
        "not idempotent: {:?} added again to {injected:?} (expanded {expanded_after:?})",
        again.added
    );
}

// ---------------------------------------------------------------------------
// Response-file tokeniser

/// libiberty's whitespace as `tokenize_gnu` has it (`u8::is_ascii_whitespace`).
fn is_separator(byte: u8) -> bool {
    byte.is_ascii_whitespace()
}

/// Any bytes: no panic, no byte invented (the words together are never
/// longer than the text), and without quotes or backslashes the words are
/// exactly the whitespace-separated runs.
pub fn check_tokenize_bytes(contents: &[u8]) {
    let words = tokenize_gnu(contents);
    let total: usize = words.iter().map(|word| word.len()).sum();
    assert!(
        total <= contents.len(),
        "bytes invented: {contents:?} -> {words:?}"
    );
    let plain = !contents
        .iter()
        .any(|byte| matches!(byte, b'\\' | b'\'' | b'"'));
    if plain {
        let runs: Vec<OsString> = contents
            .split(|&byte| is_separator(byte))
            .filter(|run| !run.is_empty())
            .map(|run| OsString::from_vec(run.to_vec()))
            .collect();
        assert_eq!(words, runs, "unquoted text: {contents:?}");
    }
    for word in &words {
        if word.as_bytes().iter().copied().any(is_separator) {
            assert!(
                !plain,
                "a separator inside a word of unquoted text: {word:?}"
            );
        }
    }
}

/// How the words are written with libiberty quoting: each quoted with the
/// style given (0: backslash before every special byte, 1: single quotes,
/// 2: double quotes), between runs of separators.
pub fn join_quoted(words: &[OsString], styles: &[u8], separators: &[&[u8]]) -> Vec<u8> {
    let mut text = Vec::new();
    for (index, word) in words.iter().enumerate() {
        let separator = separators.get(index % separators.len().max(1)).copied();
        text.extend_from_slice(separator.unwrap_or(b" "));
        let style = styles.get(index).copied().unwrap_or(0) % 3;
        let (open, close): (&[u8], &[u8]) = match style {
            1 => (b"'", b"'"),
            2 => (b"\"", b"\""),
            _ => (b"", b""),
        };
        text.extend_from_slice(open);
        for &byte in word.as_bytes() {
            // Inside quotes only the backslash and the closing quote need
            // an escape; bare, every separator, quote and backslash does.
            let escape = match style {
                1 => matches!(byte, b'\\' | b'\''),
                2 => matches!(byte, b'\\' | b'"'),
                _ => is_separator(byte) || matches!(byte, b'\\' | b'\'' | b'"'),
            };
            if escape {
                text.push(b'\\');
            }
            text.push(byte);
        }
        text.extend_from_slice(close);
        // An empty bare word cannot be written; quote it.
        if style == 0 && word.is_empty() {
            text.extend_from_slice(b"''");
        }
    }
    text.extend_from_slice(separators.first().copied().unwrap_or(b""));
    text
}

/// tokenize(join-quoted(words)) == words.
pub fn check_tokenize_round_trip(words: &[OsString], styles: &[u8], separators: &[&[u8]]) {
    let text = join_quoted(words, styles, separators);
    assert_eq!(
        tokenize_gnu(&text),
        words,
        "text: {:?}",
        String::from_utf8_lossy(&text)
    );
}

// ---------------------------------------------------------------------------
// Kconfig reader

/// Any bytes, both formats: no panic; at most one diagnostic per line, in
/// line order, each inside its line (column 1 to the line's length + 1);
/// each line parsed alone gives the same value or diagnostic as in the
/// whole text, so no line is silently dropped or merged with another.
pub fn check_kconfig_bytes(text: &[u8]) {
    for format in [
        KconfigFormat::DotConfig,
        KconfigFormat::AutoConf,
        KconfigFormat::AutoconfHeader,
    ] {
        let (values, diagnostics) = KconfigValues::parse(text, format);
        let lines: Vec<&[u8]> = text.split(|&byte| byte == b'\n').collect();
        let mut previous_line = 0;
        for diagnostic in &diagnostics {
            assert!(
                diagnostic.line > previous_line,
                "two diagnostics for line {} or out of order: {diagnostics:?}",
                diagnostic.line
            );
            previous_line = diagnostic.line;
            let line = lines
                .get(diagnostic.line - 1)
                .expect("diagnostic past the last line");
            assert!(
                (1..=line.len() + 1).contains(&diagnostic.column),
                "column {} outside line {} ({} bytes)",
                diagnostic.column,
                diagnostic.line,
                line.len()
            );
            assert!(!diagnostic.message.is_empty());
        }
        // Line by line: the union of what each line says alone.
        let mut expected = BTreeMap::new();
        let mut expected_lines_with_diagnostics = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let (alone, alone_diagnostics) = KconfigValues::parse(line, format);
            assert!(
                alone.len() + alone_diagnostics.len() <= 1,
                "one line, two outcomes"
            );
            let mut repeated = false;
            for (name, value) in alone.iter() {
                repeated = expected.insert(name.to_string(), value.clone()).is_some();
            }
            if !alone_diagnostics.is_empty() || repeated {
                expected_lines_with_diagnostics.push(index + 1);
            }
        }
        let lines_with_diagnostics: Vec<usize> = diagnostics.iter().map(|d| d.line).collect();
        assert_eq!(
            lines_with_diagnostics, expected_lines_with_diagnostics,
            "{format:?}"
        );
        let expected: Vec<(String, KconfigValue)> = expected.into_iter().collect();
        assert_eq!(sorted(&values), expected, "{format:?}");
    }
}

fn sorted(values: &KconfigValues) -> Vec<(String, KconfigValue)> {
    values
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

/// A `.config` or `autoconf.h` written from these values, as Kconfig's
/// `conf_write` and `conf_write_autoconf` write them.
pub fn write_kconfig(values: &BTreeMap<String, KconfigValue>, format: KconfigFormat) -> Vec<u8> {
    let mut text = String::new();
    match format {
        KconfigFormat::DotConfig | KconfigFormat::AutoConf => {
            text.push_str("#\n# Automatically generated file; DO NOT EDIT.\n#\n");
            for (name, value) in values {
                match value {
                    KconfigValue::Tristate(Tristate::N) => {
                        let _ = writeln!(text, "# CONFIG_{name} is not set");
                    }
                    // Linux 5.17+ auto.conf: strings unquoted, for Make.
                    // One that would read as something else (empty, y/m/n,
                    // a number, a leading quote) is written quoted, as
                    // older auto.conf files write every string.
                    KconfigValue::String(content)
                        if format == KconfigFormat::AutoConf && unquoted_reads_back(content) =>
                    {
                        let _ = writeln!(text, "CONFIG_{name}={content}");
                    }
                    KconfigValue::String(content) => {
                        let escaped = content.replace('\\', "\\\\").replace('"', "\\\"");
                        let _ = writeln!(text, "CONFIG_{name}=\"{escaped}\"");
                    }
                    other => {
                        let _ = writeln!(text, "CONFIG_{name}={}", other.as_text());
                    }
                }
            }
        }
        KconfigFormat::AutoconfHeader => {
            text.push_str("/*\n * Automatically generated file; DO NOT EDIT.\n */\n");
            for (name, value) in values {
                match value {
                    KconfigValue::Tristate(Tristate::N) => {}
                    KconfigValue::Tristate(Tristate::M) => {
                        let _ = writeln!(text, "#define CONFIG_{name}_MODULE 1");
                    }
                    KconfigValue::Tristate(Tristate::Y) => {
                        let _ = writeln!(text, "#define CONFIG_{name} 1");
                    }
                    KconfigValue::String(content) => {
                        let escaped = content
                            .replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', "\\n")
                            .replace('\t', "\\t");
                        let _ = writeln!(text, "#define CONFIG_{name} \"{escaped}\"");
                    }
                    other => {
                        let _ = writeln!(text, "#define CONFIG_{name} {}", other.as_text());
                    }
                }
            }
        }
    }
    text.into_bytes()
}

/// Whether `content`, written unquoted in an auto.conf, reads back as this
/// string: not empty, not y/m/n or a number, no leading quote.
fn unquoted_reads_back(content: &str) -> bool {
    let number = content.parse::<i64>().is_ok()
        || content
            .strip_prefix("0x")
            .or_else(|| content.strip_prefix("0X"))
            .is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit())
            });
    !(content.is_empty()
        || matches!(content, "y" | "m" | "n")
        || number
        || content.starts_with('"')
        || content.contains(['\n', '\r']))
}

/// Written, then read: the same values and no diagnostic (`autoconf.h`
/// leaves n out). Names are `[A-Za-z0-9_]+`; strings hold no newline in a
/// `.config` (Kconfig cannot write one); in `autoconf.h` no name ends in
/// `_MODULE` and no int is `1`, which the format cannot tell from m and y.
pub fn check_kconfig_round_trip(values: &BTreeMap<String, KconfigValue>, format: KconfigFormat) {
    let text = write_kconfig(values, format);
    let (read, diagnostics) = KconfigValues::parse(&text, format);
    assert_eq!(diagnostics, [], "text:\n{}", String::from_utf8_lossy(&text));
    let expected: Vec<(String, KconfigValue)> = values
        .iter()
        .filter(|(_, value)| {
            format != KconfigFormat::AutoconfHeader
                || **value != KconfigValue::Tristate(Tristate::N)
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    assert_eq!(
        sorted(&read),
        expected,
        "text:\n{}",
        String::from_utf8_lossy(&text)
    );
    if !expected.is_empty() {
        // An `autoconf.h` without a `#define` looks like an empty `.config`.
        let file_name = match format {
            KconfigFormat::AutoConf => "include/config/auto.conf",
            _ => "values",
        };
        assert_eq!(KconfigFormat::detect(Path::new(file_name), &text), format);
    }
}

// ---------------------------------------------------------------------------
// Kconfig expressions

/// Any source: no panic; an error's offset is a character boundary within
/// the source; a parsed expression prints to a text that parses back to
/// the same expression and prints the same again, and evaluates.
pub fn check_expr_source(source: &str, values: &KconfigValues) {
    match Expr::parse(source) {
        Ok(expr) => {
            check_expr_round_trip(&expr);
            let _ = expr.eval(values);
            let _ = expr.symbols();
        }
        Err(error) => {
            assert!(
                error.offset <= source.len() && source.is_char_boundary(error.offset),
                "offset {} outside {} bytes or inside a character: {error}",
                error.offset,
                source.len()
            );
            assert!(!error.message.is_empty());
        }
    }
}

/// `Expr::parse(e.to_string()) == e` for an expression of the shape the
/// parser builds, and printing is a fixpoint.
pub fn check_expr_round_trip(expr: &Expr) {
    let printed = expr.to_string();
    let parsed =
        Expr::parse(&printed).unwrap_or_else(|error| panic!("`{printed}` does not parse: {error}"));
    assert_eq!(&parsed, expr, "printed as `{printed}`");
    assert_eq!(parsed.to_string(), printed);
}

/// Nesting past the limit is refused at the token that crosses it (for any
/// depth, 100,000 included), and a flat chain of any length parses,
/// prints, evaluates and drops without deep recursion.
pub fn check_expr_hostile(depth: usize, chain: usize) {
    let values = KconfigValues::default();
    for (open, close) in [("(", ")"), ("!", ""), ("!(", ")")] {
        let source = format!("{}A{}", open.repeat(depth), close.repeat(depth));
        let levels_per_repeat = open.len();
        let result = Expr::parse(&source);
        if depth * levels_per_repeat <= MAXIMUM_DEPTH {
            let expr = result.unwrap_or_else(|error| panic!("depth {depth} of `{open}`: {error}"));
            check_expr_round_trip(&expr);
            let _ = expr.eval(&values);
        } else {
            let error = result.expect_err("nesting past the limit accepted");
            // The token that takes the nesting past MAXIMUM_DEPTH: each
            // level is one byte of `open`.
            assert_eq!(error.offset, MAXIMUM_DEPTH, "`{open}` x {depth}: {error}");
        }
    }
    for operator in [" || ", " && "] {
        let source = vec!["A"; chain].join(operator);
        let expr = Expr::parse(&source).unwrap_or_else(|error| panic!("chain: {error}"));
        if chain > 1 {
            check_expr_round_trip(&expr);
        }
        let _ = expr.eval(&values);
    }
}

// ---------------------------------------------------------------------------
// Config loader

/// Asserts that a 1-based line and column (in characters, as
/// `Config::load` reports them) is inside `text`: a line that exists, a
/// column up to one past its last character. Returns the character there
/// (a newline past the end of the line).
fn assert_inside(text: &str, (line, column): (usize, usize)) -> char {
    let lines: Vec<&str> = text.split('\n').collect();
    let Some(line_text) = lines.get(line.wrapping_sub(1)) else {
        panic!("line {line} of {}: {text:?}", lines.len());
    };
    let characters = line_text.chars().count();
    assert!(
        (1..=characters + 1).contains(&column),
        "column {column} outside line {line} ({characters} characters): {text:?}"
    );
    line_text.chars().nth(column - 1).unwrap_or('\n')
}

/// Loads `text` as the config file `dir/secwrap.toml` (named by
/// `SECWRAP_CONFIG`, so trust does not come into it). No panic; an error
/// about the file that has a position has it inside the file; text that is
/// not TOML fails with a position; a bad `when` (in `plain_whens`, the
/// `when` strings written without escapes, in order) is reported at the
/// very character the expression parser names.
pub fn check_config(dir: &Path, text: &[u8], plain_whens: &[String]) {
    let path = dir.join("secwrap.toml");
    std::fs::write(&path, text).expect("write the config");
    let env = ConfigEnv {
        cwd: dir.to_path_buf(),
        secwrap_config: Some(path.clone().into_os_string()),
        ..ConfigEnv::default()
    };
    let result = Config::load(&env);
    let Ok(text) = std::str::from_utf8(text) else {
        let error = result.expect_err("a config that is not UTF-8 loaded");
        assert_eq!(error.path, path);
        return;
    };
    let syntax_ok = text.parse::<toml::Table>().is_ok();
    let error = match result {
        Ok(config) => {
            assert!(syntax_ok, "not TOML, yet loaded: {text:?}");
            assert_eq!(config.root, dir);
            return;
        }
        Err(error) => error,
    };
    if !syntax_ok {
        assert_eq!(error.path, path, "{error}");
        assert!(
            error.position.is_some(),
            "a TOML error without a position: {error}"
        );
    }
    if error.path == path
        && let Some(position) = error.position
    {
        let at = assert_inside(text, position);
        if let Some(rest) = error.message.strip_prefix("rule `when`: ")
            && let Some(source) = plain_whens.iter().find(|when| Expr::parse(when).is_err())
        {
            let expr_error = Expr::parse(source).expect_err("found above");
            assert_eq!(rest, expr_error.message);
            let expected = source[expr_error.offset..].chars().next().unwrap_or('"');
            assert_eq!(at, expected, "`when = \"{source}\"`: {error}");
        }
    }
}

// ---------------------------------------------------------------------------
// Log writer and reader

const JSON_WHITESPACE: &[u8] = b" \t\r";

fn trim_json_whitespace(mut line: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = line
        && JSON_WHITESPACE.contains(first)
    {
        line = rest;
    }
    while let [rest @ .., last] = line
        && JSON_WHITESPACE.contains(last)
    {
        line = rest;
    }
    line
}

/// `garbage[0]`, record 0, `garbage[1]`, record 1, ..., appended to a new
/// log in `dir` (records through `LogWriter::append`, garbage written
/// straight to the file). `read_log` gives back every record whose line is
/// intact, equal to what was written, in order, and names exactly the
/// other non-blank lines as bad: damage never costs an intact line. The
/// streaming readers (`record::index::LogSummary`) agree with it, with no
/// index, with one made half-way (the rest read as its tail), and with one
/// covering the whole log.
pub fn check_log(dir: &Path, records: &[InvocationRecord], garbage: &[Vec<u8>]) {
    let path: PathBuf = dir.join("log.jsonl");
    for stale in [path.clone(), index_path(&path)] {
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("remove {}: {error}", stale.display()),
        }
    }
    let mut writer = LogWriter::open(&path, secwrap::trust::TrustedUsers::effective_user())
        .expect("open the log");
    let mut raw = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open the log for garbage");
    let serialised: Vec<Vec<u8>> = records
        .iter()
        .map(|record| serde_json::to_vec(record).expect("serialise"))
        .collect();
    for (index, record) in records.iter().enumerate() {
        if let Some(bytes) = garbage.get(index) {
            raw.write_all(bytes).expect("write garbage");
        }
        if index == records.len() / 2 {
            // An index of the first half.
            LogSummary::read(&path, secwrap::trust::TrustedUsers::effective_user())
                .expect("read the first half");
        }
        writer.append(record).expect("append");
    }
    for bytes in garbage.iter().skip(records.len()) {
        raw.write_all(bytes).expect("write garbage");
    }
    drop((writer, raw));

    let contents = std::fs::read(&path).expect("read the log back");
    let mut expected_records = Vec::new();
    let mut expected_bad = Vec::new();
    for (index, line) in contents.split(|&byte| byte == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let trimmed = trim_json_whitespace(line);
        match serialised
            .iter()
            .position(|written| written[..] == *trimmed)
        {
            Some(at) => expected_records.push(records[at].clone()),
            None => expected_bad.push(index + 1),
        }
    }
    let (read, bad) = read_log(&path).expect("read_log");
    let bad_lines: Vec<usize> = bad.iter().map(|bad| bad.line).collect();
    assert_eq!(bad_lines, expected_bad, "bad lines: {bad:?}");
    assert_eq!(
        read.len(),
        expected_records.len(),
        "records lost or invented"
    );
    for (read, expected) in read.iter().zip(&expected_records) {
        assert_eq!(read, expected);
    }
    if garbage
        .iter()
        .all(|bytes| bytes.is_empty() || bytes.ends_with(b"\n"))
    {
        // Damage that ends its own line harms no record.
        assert_eq!(read.len(), records.len(), "an intact record lost");
    }
    for pass in ["an index of a prefix", "an index of it all", "no index"] {
        if pass == "no index" {
            let _ = std::fs::remove_file(index_path(&path));
        }
        check_summary(&path, &read, &bad, pass);
    }
}

/// `LogSummary` reads what `read_log` read (`records`, `bad`).
fn check_summary(
    path: &Path,
    records: &[InvocationRecord],
    bad: &[secwrap::record::BadLine],
    pass: &str,
) {
    let (summary, warnings) =
        LogSummary::read(path, secwrap::trust::TrustedUsers::effective_user())
            .expect("LogSummary::read");
    assert_eq!(warnings, Vec::<String>::new(), "{pass}");
    assert_eq!(summary.bad_lines(), bad, "{pass}: bad lines");
    assert_eq!(summary.records(), records.len(), "{pass}: records");
    assert_eq!(summary.builds(), history::builds(records), "{pass}: builds");
    assert_eq!(
        summary.whole_log_stats(),
        Stats::of(records),
        "{pass}: stats"
    );
    let mut streamed = Vec::new();
    summary
        .for_each_record(|record| {
            streamed.push(record.clone());
            Ok(())
        })
        .expect("for_each_record");
    assert_eq!(streamed, records, "{pass}: every record");
    for (position, build) in summary.builds().iter().enumerate() {
        let of_build: Vec<InvocationRecord> = records
            .iter()
            .filter(|record| history::build_of(record) == build.id)
            .cloned()
            .collect();
        let (read, warnings) = summary
            .fold_records_of(path, &[&build.id], Vec::new, |read, record| {
                read.push(record.clone());
                Ok(())
            })
            .expect("fold_records_of");
        assert_eq!(warnings, Vec::<String>::new(), "{pass}");
        assert_eq!(read, of_build, "{pass}: the records of `{}`", build.id);
        assert_eq!(
            summary.stats_of(position),
            &Stats::of(&of_build),
            "{pass}: stats of `{}`",
            build.id
        );
    }
}
