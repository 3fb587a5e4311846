//! Generators: real gcc/clang spellings and Kconfig/TOML fragments mixed
//! with random bytes, non-UTF-8, `--`, `@file` words and cut-off input.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;

use secwrap::args::DRIVER_OPTIONS;
use secwrap::config::WantedFlag;
use secwrap::kconfig::expr::{Comparison, Expr, Operand};
use secwrap::kconfig::{KconfigValue, KconfigValues, Tristate};

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

pub fn os_bytes(max: usize) -> impl Strategy<Value = OsString> {
    bytes(max).prop_map(OsString::from_vec)
}

fn glue(head: &[u8], tail: &[u8]) -> OsString {
    let mut word = head.to_vec();
    word.extend_from_slice(tail);
    OsString::from_vec(word)
}

/// Words compile lines are made of.
const COMMON_WORDS: &[&str] = &[
    "-c",
    "-S",
    "-E",
    "-M",
    "a.c",
    "b.cc",
    "c.S",
    "d.s",
    "x.o",
    "lib.a",
    "-",
    "--",
    "-o",
    "out.o",
    "-x",
    "c",
    "c++",
    "assembler",
    "none",
    "-MD",
    "-MF",
    "dep.d",
    "-MT",
    "-ffunction-sections",
    "-fno-function-sections",
    "-fdata-sections",
    "-fno-data-sections",
    "-flto",
    "-fno-lto",
    "-m32",
    "--target=x86_64-linux-gnu",
    "-target",
    "-Xlinker",
    "--gc-sections",
    "-Wl,--gc-sections",
    "-v",
    "--version",
    "@",
    "-include",
    "h.h",
    "-fsyntax-only",
    "-O2",
];

/// One argv word: a table spelling alone or with a glued value, a common
/// word, an `@rspN` response file, random bytes or a random option.
pub fn word() -> impl Strategy<Value = OsString> {
    let spelling = select(DRIVER_OPTIONS).prop_map(|spec| spec.name);
    prop_oneof![
        4 => spelling.clone().prop_map(OsString::from),
        2 => (spelling, os_bytes(6)).prop_map(|(name, value)| glue(name.as_bytes(), value.as_bytes())),
        5 => select(COMMON_WORDS).prop_map(OsString::from),
        2 => (0..3usize).prop_map(|n| OsString::from(format!("@rsp{n}"))),
        1 => os_bytes(6),
        1 => os_bytes(5).prop_map(|rest| glue(b"-", rest.as_bytes())),
    ]
}

pub fn argv() -> impl Strategy<Value = Vec<OsString>> {
    prop_oneof![
        vec(word(), 0..10),
        // Mostly compiles, so that flags do get added.
        (vec(word(), 0..6), vec(word(), 0..4)).prop_map(|(before, after)| {
            let mut argv = before;
            argv.extend(["-c", "a.c"].map(OsString::from));
            argv.extend(after);
            argv
        }),
    ]
}

/// A separator run between response-file words.
pub fn separator() -> impl Strategy<Value = &'static [u8]> {
    const SEPARATORS: &[&[u8]] = &[b" ", b"\t", b"\n", b"  ", b"\r\n", b"\x0c", b" \t "];
    select(SEPARATORS)
}

#[derive(Clone, Debug)]
pub enum ResponseFile {
    Missing,
    Words(Vec<OsString>, Vec<u8>, Vec<&'static [u8]>),
    Raw(Vec<u8>),
}

fn response_file() -> impl Strategy<Value = ResponseFile> {
    prop_oneof![
        1 => Just(ResponseFile::Missing),
        4 => (vec(word(), 0..6), bytes(6), vec(separator(), 1..3))
            .prop_map(|(words, styles, separators)| ResponseFile::Words(words, styles, separators)),
        1 => vec(select(&b" \t\n'\"\\-@cxo"[..]), 0..16).prop_map(ResponseFile::Raw),
        1 => bytes(16).prop_map(ResponseFile::Raw),
    ]
}

/// Contents of `rsp0`..`rsp2`. A file names only files after it (an
/// earlier one becomes the absent `@rsp9`), so that expansion stays a few
/// reads: cycles run into libiberty's 2000-file limit, which
/// `tests/it/bounded.rs` covers.
pub fn response_files() -> impl Strategy<Value = Vec<Option<Vec<u8>>>> {
    vec(response_file(), 3).prop_map(|files| {
        files
            .into_iter()
            .enumerate()
            .map(|(index, file)| match file {
                ResponseFile::Missing => None,
                ResponseFile::Raw(bytes) => Some(bytes),
                ResponseFile::Words(words, styles, separators) => {
                    let words: Vec<OsString> = words
                        .into_iter()
                        .map(
                            |word| match word.to_str().and_then(|w| w.strip_prefix("@rsp")) {
                                Some(n) if n.parse::<usize>().is_ok_and(|n| n <= index) => {
                                    OsString::from("@rsp9")
                                }
                                _ => word,
                            },
                        )
                        .collect();
                    Some(crate::checks::join_quoted(&words, &styles, &separators))
                }
            })
            .collect()
    })
}

const FLAGS: &[&str] = &[
    "-ffunction-sections",
    "-fdata-sections",
    "-fno-function-sections",
    "-fvisibility=hidden",
    "-Wl,--gc-sections",
    "-fzero-call-used-regs=used",
    "-Wno-error",
    "-mindirect-branch=thunk",
];

pub fn wanted_flags() -> impl Strategy<Value = Vec<WantedFlag>> {
    let flag = prop_oneof![
        4 => select(FLAGS).prop_map(OsString::from),
        1 => "-f[a-z-]{1,8}".prop_map(OsString::from),
        // Not plain flags (`checks::is_plain_flag`): filtered out again.
        1 => select(&["-o", "-c", "-m32", "-flto", "--", "@rsp0", "x.c"][..]).prop_map(OsString::from),
    ];
    vec(flag, 0..4).prop_map(|flags| {
        // Two settings of one switch are kept on purpose: `inject::plan`
        // lets the first decide it (this property found it did not).
        flags
            .into_iter()
            .map(|flag| WantedFlag {
                flag,
                rule: "property".to_string(),
                required: true,
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------
// Kconfig

const KCONFIG_FRAGMENTS: &[&str] = &[
    "CONFIG_A=y",
    "CONFIG_A=m",
    "CONFIG_B=n",
    "# CONFIG_C is not set",
    "# CONFIG_ is not set",
    "# CONFIG_C-D is not set",
    "# comment",
    "#",
    "CONFIG_S=\"x\\\"y\\\\\"",
    "CONFIG_S=\"unterminated",
    "CONFIG_S=\"a\" trailing",
    "CONFIG_I=-12",
    "CONFIG_I=99999999999999999999",
    "CONFIG_H=0x1F",
    "CONFIG_H=0x",
    "CONFIG_E=",
    "CONFIG_=y",
    "CONFIG_A-B=y",
    "CONFIG_X",
    "CONFIG_CONFIG_A=y",
    "#define CONFIG_A 1",
    "#define CONFIG_D_MODULE 1",
    "#define CONFIG_S \"t\\n\\t\\\\\"",
    "#define CONFIG_S \"\\q\"",
    "#define CONFIG_H 0x10",
    "#define CONFIG_X(a) 1",
    "#define CONFIG_Y",
    "  #  define\tCONFIG_Z  2",
    "#ifndef __AUTOCONF_H",
    "/* comment */",
    " * comment",
    "\u{e9}",
    "\t",
    "",
];

/// `.config`/`autoconf.h` text: fragments with random bytes between.
pub fn kconfig_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => select(KCONFIG_FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        1 => bytes(8),
        1 => select(ODD_BYTES).prop_map(<[u8]>::to_vec),
    ];
    const ODD_BYTES: &[&[u8]] = &[b"\xff", b"\r", b"\0", b"\xc3", b"\n"];
    const LINE_ENDS: &[&[u8]] = &[b"\n", b"\r\n", b"", b"\n\n"];
    let line_end = select(LINE_ENDS);
    prop_oneof![
        4 => vec((piece, line_end), 0..16).prop_map(|pieces| {
            pieces.into_iter().flat_map(|(piece, end)| [piece, end.to_vec()]).flatten().collect()
        }),
        1 => bytes(200),
    ]
}

fn kconfig_value(newlines: bool) -> impl Strategy<Value = KconfigValue> {
    prop_oneof![
        select(&[Tristate::Y, Tristate::M, Tristate::N][..]).prop_map(KconfigValue::Tristate),
        any::<String>()
            .prop_map(move |text| if newlines {
                text
            } else {
                text.replace('\n', "")
            })
            .prop_map(KconfigValue::String),
        any::<i64>().prop_map(KconfigValue::Int),
        "0[xX][0-9a-fA-F]{1,12}".prop_map(KconfigValue::Hex),
    ]
}

/// Values a `.config` can hold: no newline in a string.
pub fn dot_config_values() -> impl Strategy<Value = std::collections::BTreeMap<String, KconfigValue>>
{
    btree_map("[A-Za-z0-9_]{1,12}", kconfig_value(false), 0..24)
}

/// Values an `autoconf.h` can tell apart: no `_MODULE` name, no int 1.
pub fn autoconf_values() -> impl Strategy<Value = std::collections::BTreeMap<String, KconfigValue>>
{
    btree_map(
        "[A-Za-z0-9_]{1,12}".prop_filter("`_MODULE` reads as m", |name| !name.ends_with("_MODULE")),
        kconfig_value(true).prop_filter("int 1 reads as y", |value| *value != KconfigValue::Int(1)),
        0..24,
    )
}

/// Values for evaluating expressions over the symbols they use.
pub fn kconfig_values() -> impl Strategy<Value = KconfigValues> {
    vec(
        (
            select(&["A", "B", "C", "S", "I", "H", "CONFIG_B"][..]),
            kconfig_value(true),
        ),
        0..6,
    )
    .prop_map(|pairs| {
        let mut values = KconfigValues::default();
        for (name, value) in pairs {
            values.insert(name, value);
        }
        values
    })
}

// ---------------------------------------------------------------------------
// Expressions

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        4 => prop_oneof![
            "[A-Za-z_][A-Za-z0-9_]{0,8}",
            "CONFIG_[A-Z0-9_]{0,6}",
            // Names that print with a `CONFIG_` prefix to stay symbols.
            "[0-9]{1,3}|0x[0-9a-f]{0,3}|[ymn]",
        ]
        .prop_map(Operand::Symbol),
        1 => select(&[Tristate::Y, Tristate::M, Tristate::N][..]).prop_map(Operand::Constant),
        1 => any::<String>().prop_map(Operand::String),
        1 => prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            "0[xX][0-9a-fA-F]{1,8}",
        ]
        .prop_map(Operand::Number),
    ]
}

fn comparison() -> impl Strategy<Value = Comparison> {
    select(
        &[
            Comparison::Equal,
            Comparison::NotEqual,
            Comparison::Less,
            Comparison::LessOrEqual,
            Comparison::Greater,
            Comparison::GreaterOrEqual,
        ][..],
    )
}

/// A chain's first term is never a chain of the same operator: the parser
/// flattens `(A && B) && C` (see `Expr::And`), so that shape has no text.
fn chain(mut terms: Vec<Expr>, same: fn(&Expr) -> bool) -> Vec<Expr> {
    if same(&terms[0]) {
        terms[0] = Expr::Not(Box::new(terms[0].clone()));
    }
    terms
}

/// Expressions of the shapes the parser builds.
pub fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        3 => operand().prop_map(Expr::Operand),
        1 => (comparison(), operand(), operand())
            .prop_map(|(comparison, left, right)| Expr::Compare(comparison, left, right)),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            vec(inner.clone(), 2..5)
                .prop_map(|terms| Expr::And(chain(terms, |e| matches!(e, Expr::And(_))))),
            vec(inner, 2..5).prop_map(|terms| Expr::Or(chain(terms, |e| matches!(e, Expr::Or(_))))),
        ]
    })
}

const EXPR_TOKENS: &[&str] = &[
    "(",
    ")",
    "!",
    "&&",
    "||",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "A",
    "B",
    "CONFIG_B",
    "CONFIG_",
    "y",
    "m",
    "n",
    "0x10",
    "-3",
    "8",
    "\"s\\\"q\"",
    "'x'",
    "\"",
    "'",
    "&",
    "|",
    "-",
    "-x",
    "$",
    "\u{e9}",
    " ",
    "\t",
    "\n",
];

/// Expression-like text: token soup, printed expressions cut anywhere,
/// any string.
pub fn expr_source() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vec((select(EXPR_TOKENS), any::<bool>()), 0..16).prop_map(|tokens| {
            tokens
                .into_iter()
                .map(|(token, space)| if space { format!("{token} ") } else { token.to_string() })
                .collect()
        }),
        2 => (expr(), any::<prop::sample::Index>()).prop_map(|(expr, index)| {
            let text = expr.to_string();
            let mut cut = index.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text[..cut].to_string()
        }),
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------
// TOML

/// A TOML basic string, and whether it was written without escapes (so a
/// position inside it is a position in the source).
pub fn toml_string(text: &str) -> (String, bool) {
    let mut quoted = String::from("\"");
    let mut plain = true;
    for character in text.chars() {
        match character {
            '"' | '\\' => {
                plain = false;
                quoted.push('\\');
                quoted.push(character);
            }
            c if c.is_control() => {
                plain = false;
                quoted.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    (quoted, plain)
}

fn string_array(words: &[String]) -> String {
    let words: Vec<String> = words.iter().map(|word| toml_string(word).0).collect();
    format!("[{}]", words.join(", "))
}

#[derive(Clone, Debug)]
pub struct TomlDocument {
    pub text: Vec<u8>,
    /// The rules' `when` sources in order, if every one was written plain
    /// and the text was not damaged afterwards; empty otherwise.
    pub plain_whens: Vec<String>,
}

fn top_level_line() -> impl Strategy<Value = String> {
    let any_word = "[ -~]{0,8}";
    prop_oneof![
        select(&["\"k.config\"", "\"missing/.config\"", "\"\"", "1", "[]"][..])
            .prop_map(|v| format!("kconfig = {v}")),
        select(&["\"strict\"", "\"passthrough\"", "\"bogus\"", "42"][..])
            .prop_map(|v| format!("on_error = {v}")),
        select(&["[\"ccache\"]", "\"ccache\"", "[]", "[1, \"x\"]"][..])
            .prop_map(|v| format!("launcher = {v}")),
        vec(
            prop_oneof![
                select(&["*.c", "[", "a/**/b", "{x", "drivers/**", "\\"][..])
                    .prop_map(String::from),
                any_word.prop_map(String::from),
            ],
            0..3
        )
        .prop_map(|globs| format!("exclude = {}", string_array(&globs))),
        select(&["true", "false", "\"yes\""][..])
            .prop_map(|v| format!("override_user_choice = {v}")),
        select(
            &[
                "safe_dirs = [\"x\"]",
                "unknown_key = 1",
                "a.b = 2",
                "= 3",
                "kconfig ="
            ][..]
        )
        .prop_map(String::from),
    ]
}

fn table() -> impl Strategy<Value = (String, Option<String>)> {
    let flags = vec(
        prop_oneof![
            select(FLAGS).prop_map(String::from),
            "[ -~]{0,6}".prop_map(String::from)
        ],
        0..3,
    );
    let when = prop_oneof![
        3 => expr_source(),
        2 => expr().prop_map(|expr| expr.to_string()),
    ];
    prop_oneof![
        3 => (
            proptest::option::of("[a-z]{1,6}"),
            when,
            flags.clone(),
            flags,
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(name, when, cflags, ldflags, required)| {
                let (quoted, plain) = toml_string(&when);
                let mut text = String::from("[[rule]]\n");
                if let Some(name) = name {
                    text.push_str(&format!("name = \"{name}\"\n"));
                }
                text.push_str(&format!("when = {quoted}\n"));
                text.push_str(&format!("cflags = {}\n", string_array(&cflags)));
                text.push_str(&format!("ldflags = {}\n", string_array(&ldflags)));
                if let Some(required) = required {
                    text.push_str(&format!("required = {required}\n"));
                }
                (text, Some(when).filter(|_| plain))
            }),
        1 => select(&[
            "[log]\npath = \"log.jsonl\"\n",
            "[log]\npath = 1\n",
            "[log]\nbad = 1\n",
            "[livepatch]\nkeep_originals = \"orig\"\n",
            "[livepatch]\n",
            "[rule]\nwhen = \"A\"\n",
            "[[rule]]\ncflags = [\"-ffunction-sections\"]\n",
            "[[rule]]\nwhen = \"A\"\nbogus = 1\n",
            "[table\n",
        ][..])
        .prop_map(|text| (text.to_string(), None)),
    ]
}

/// A secwrap.toml: keys and tables of the schema with right and wrong
/// values, then perhaps damaged, or random bytes.
pub fn toml_document() -> impl Strategy<Value = TomlDocument> {
    prop_oneof![
        6 => undamaged_document(),
        3 => (undamaged_document(), any::<prop::sample::Index>(), bytes(4), 0..3usize).prop_map(
            |(document, index, inserted, removed)| {
                let mut text = document.text;
                let at = index.index(text.len() + 1);
                let end = (at + removed).min(text.len());
                text.splice(at..end, inserted);
                TomlDocument { text, plain_whens: Vec::new() }
            }
        ),
        1 => bytes(64).prop_map(|text| TomlDocument { text, plain_whens: Vec::new() }),
    ]
}

fn undamaged_document() -> impl Strategy<Value = TomlDocument> {
    (vec(top_level_line(), 0..5), vec(table(), 0..4)).prop_map(|(lines, tables)| {
        let mut text = String::new();
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        let mut plain_whens = Vec::new();
        let mut all_plain = true;
        for (table, when) in tables {
            text.push_str(&table);
            match when {
                Some(when) => plain_whens.push(when),
                None => all_plain &= !table.contains("when"),
            }
        }
        if !all_plain {
            plain_whens.clear();
        }
        TomlDocument {
            text: text.into_bytes(),
            plain_whens,
        }
    })
}

// ---------------------------------------------------------------------------
// Records

pub use secwrap::record::{InvocationRecord, KeptOriginal, OsText, ProbeRecord, SkippedFlag, Term};

pub fn os_text() -> impl Strategy<Value = OsText> {
    prop_oneof![
        any::<String>().prop_map(|text| OsText::new(OsStr::new(&text))),
        bytes(12).prop_map(|bytes| OsText::new(OsStr::from_bytes(&bytes))),
    ]
}

fn os_texts() -> impl Strategy<Value = Vec<OsText>> {
    vec(os_text(), 0..4)
}

/// A known value of `T`, or a word no `T` is spelled as.
fn term<T>(known: &'static [T]) -> impl Strategy<Value = Term<T>>
where
    T: Clone + std::fmt::Debug + serde::de::DeserializeOwned + 'static,
{
    prop_oneof![
        3 => select(known).prop_map(Term::Known),
        1 => "[a-z_]{0,12}"
            .prop_filter("spells a known value", |word| {
                serde_json::from_value::<T>(serde_json::Value::String(word.clone())).is_err()
            })
            .prop_map(Term::Unknown),
    ]
}

pub fn record() -> impl Strategy<Value = InvocationRecord> {
    use secwrap::classify::Classification as C;
    use secwrap::inject::SkipReason as S;
    use secwrap::probe::ProbeMode as P;
    let kinds: &'static [C] = &[
        C::Compile,
        C::CompileAndLink,
        C::LinkOnly,
        C::PreprocessOnly,
        C::InfoQuery,
        C::SyntaxCheck,
        C::Assemble,
        C::Other,
    ];
    let reasons: &'static [S] = &[
        S::Present,
        S::UserChoice,
        S::Excluded,
        S::NotCompile,
        S::NotLink,
        S::Language,
        S::Unsupported,
        S::MissingValue,
    ];
    let modes: &'static [P] = &[P::Option, P::DisableWarning];
    let families: &'static [secwrap::compiler::Family] = &[
        secwrap::compiler::Family::Gcc,
        secwrap::compiler::Family::Clang,
    ];
    let skipped = vec(
        (os_text(), term(reasons)).prop_map(|(flag, reason)| SkippedFlag { flag, reason }),
        0..3,
    );
    let probes = vec(
        (os_texts(), term(modes), any::<bool>(), any::<bool>()).prop_map(
            |(flags, mode, supported, cached)| ProbeRecord {
                flags,
                mode,
                supported,
                cached,
            },
        ),
        0..2,
    );
    let originals = vec(
        (os_text(), os_text()).prop_map(|(object, copy)| KeptOriginal { object, copy }),
        0..2,
    );
    let identity = (
        any::<u32>(),
        any::<String>(),
        any::<String>(),
        any::<u32>(),
        proptest::option::of(any::<String>()),
        os_text(),
        os_text(),
        proptest::option::of(os_text()),
        proptest::option::of(term(families)),
    );
    let command = (
        os_texts(),
        os_texts(),
        term(kinds),
        os_texts(),
        skipped,
        os_texts(),
    );
    let outcome = (
        proptest::option::of(os_text()),
        os_texts(),
        originals,
        any::<bool>(),
        probes,
        any::<String>(),
        proptest::option::of(any::<i32>()),
        proptest::option::of(any::<i32>()),
        duration_ms(),
        proptest::option::of(duration_ms()),
        vec(any::<String>(), 0..2),
        any::<bool>(),
    );
    (identity, command, outcome).prop_map(
        |(
            (version, secwrap, time, pid, build, cwd, compiler, launcher, identified),
            (argv, exec, kind, injected, skipped, inputs),
            (
                output,
                outputs,
                originals,
                lto,
                probes,
                config,
                status,
                signal,
                duration_ms,
                secwrap_ms,
                warnings,
                build_system_probe,
            ),
        )| InvocationRecord {
            version,
            secwrap,
            time,
            pid,
            build,
            cwd,
            compiler,
            launcher,
            identified,
            argv,
            exec,
            kind,
            injected,
            skipped,
            inputs,
            output,
            outputs,
            originals,
            lto,
            probes,
            config,
            status,
            signal,
            duration_ms,
            secwrap_ms,
            warnings,
            build_system_probe,
        },
    )
}

/// Durations as the shim computes them (`Duration::as_secs_f64() *
/// 1000.0`), up to ten days at nanosecond resolution: they must read back
/// exactly, which serde_json does with its `float_roundtrip` feature (15 ns
/// used to be written `0.000014999999999999999` and read as `1.5e-5`).
fn duration_ms() -> impl Strategy<Value = f64> {
    (0..10 * 86_400 * 1_000_000_000u64)
        .prop_map(|ns| std::time::Duration::from_nanos(ns).as_secs_f64() * 1000.0)
}

/// What a crash or another program leaves between records.
pub fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(Vec::new()),
        1 => bytes(24),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"  \t\n".to_vec()),
        1 => Just(b"\x0c\n".to_vec()),
        1 => Just(b"{\"version\":1}\n".to_vec()),
        1 => (record(), any::<prop::sample::Index>()).prop_map(|(record, index)| {
            // A torn line: a record cut anywhere, as a killed writer leaves it.
            let line = serde_json::to_vec(&record).expect("serialise");
            line[..index.index(line.len())].to_vec()
        }),
    ]
}
