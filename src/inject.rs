//! Injection: which of the wanted flags go onto this command line, and where.
//!
//! Architecture invariant: pure. [`plan`] decides from the classified command
//! line and the policy the config produced; [`injected_argv`] builds the argv
//! to run. Everything the user wrote stays byte for byte and in order; the
//! added flags go at the end (before a `--`), so that with
//! `override_user_choice` they win as "last flag wins" says.
//!
//! Rules (prior-art §8, points 2, 7, 8 and 9):
//! - compiler flags only go to jobs that compile C-family sources
//!   (never `-E`, `-M`, info queries, `-fsyntax-only`, links, assembly:
//!   clang with `-Werror=unused-command-line-argument` fails on an unused flag);
//! - linker flags only go to jobs that link;
//! - never twice: a flag already on the line is not added (idempotent when
//!   secwrap ends up in the chain twice, or the build adds the flags itself);
//! - the user's explicit choice wins: the opposite spelling anywhere on the
//!   line (`-fno-function-sections`, `-fvisibility=default` against
//!   `-fvisibility=hidden`) keeps the flag out, unless the config overrides.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use serde::{Deserialize, Serialize};

use crate::args::end_of_options;
use crate::classify::{Classification, CompileArgs};
use crate::config::WantedFlag;

/// What the config and Kconfig decided for this invocation.
#[derive(Clone, Copy, Debug)]
pub struct InjectionPolicy<'a> {
    /// Flags for jobs that compile.
    pub cflags: &'a [WantedFlag],
    /// Flags for jobs that link.
    pub ldflags: &'a [WantedFlag],
    /// Flags rules reading Kconfig symbols would want, had Kconfig values
    /// been found: never added, recorded as `no_kconfig` where they would
    /// have gone on the line.
    pub cflags_without_kconfig: &'a [WantedFlag],
    pub ldflags_without_kconfig: &'a [WantedFlag],
    /// A source or the output matched an `exclude` glob.
    pub excluded: bool,
    /// Add flags even when the user wrote their opposite.
    pub override_user_choice: bool,
    /// The flags will go first on the line ([`flags_go_first`]): a setting
    /// the user wrote later wins whatever `override_user_choice` says, so
    /// it is respected (and planning again adds nothing).
    pub flags_go_first: bool,
}

/// Whether the added flags must go first on the line: a response file, not
/// the line itself, holds the `--` after which words are inputs. `original`
/// is the line as received, `expanded` with its response files read.
pub fn flags_go_first(original: &[OsString], expanded: &[OsString]) -> bool {
    end_of_options(original).is_none() && end_of_options(expanded).is_some()
}

/// Why a wanted flag was not added. Serialised in the record's `skipped`
/// (`record::Term`), spelled by serde.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The command line already has it.
    Present,
    /// The command line has its opposite (`-fno-...`), and the user wins.
    UserChoice,
    /// A source or the output matched an `exclude` glob.
    Excluded,
    /// A compiler flag, but this job compiles nothing (`-E`, `--version`, a link...).
    NotCompile,
    /// A linker flag, but this job does not link.
    NotLink,
    /// The job compiles, but no source is C, C++ or Objective-C.
    Language,
    /// The compiler rejects it (as Kbuild's `cc-option` asks) and its rule
    /// is optional.
    Unsupported,
    /// The line ends with an option missing its value (`-o`, `-MF`): an
    /// added flag would become that value, and the driver's error ("missing
    /// filename after `-o`") must stay the outcome.
    MissingValue,
    /// Its rule reads Kconfig symbols and no Kconfig values were found, so
    /// whether the rule applies is unknown.
    NoKconfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub flag: OsString,
    pub reason: SkipReason,
}

/// The outcome for one invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    pub added: Vec<OsString>,
    pub skipped: Vec<Skipped>,
}

/// Decides, flag by flag, what to add.
pub fn plan(compile_args: &CompileArgs, policy: &InjectionPolicy<'_>) -> Injection {
    let classification = compile_args.classification();
    let mut injection = Injection::default();
    let compile_gate = if !classification.compiles() {
        Some(if classification == Classification::Assemble {
            SkipReason::Language
        } else {
            SkipReason::NotCompile
        })
    } else if !compile_args.has_compiled_source() {
        Some(SkipReason::Language)
    } else {
        None
    };
    let link_gate = (!compile_args.links()).then_some(SkipReason::NotLink);
    let override_user_choice = policy.override_user_choice && !policy.flags_go_first;
    let missing_value = compile_args
        .missing_value
        .is_some()
        .then_some(SkipReason::MissingValue);
    let lists = [
        (policy.cflags, compile_gate, None),
        (policy.ldflags, link_gate, None),
        (
            policy.cflags_without_kconfig,
            compile_gate,
            Some(SkipReason::NoKconfig),
        ),
        (
            policy.ldflags_without_kconfig,
            link_gate,
            Some(SkipReason::NoKconfig),
        ),
    ];
    for (wanted_flags, gate, otherwise) in lists {
        for (index, wanted) in wanted_flags.iter().enumerate() {
            let reason = gate
                .or(missing_value)
                .or(policy.excluded.then_some(SkipReason::Excluded))
                .or_else(|| {
                    line_state(
                        &compile_args.option_words,
                        &wanted.flag,
                        override_user_choice,
                    )
                })
                .or_else(|| {
                    // Two rules may want the same flag, or two settings of
                    // one switch (`-ffunction-sections` and its `-fno-`):
                    // the first wanted decides the switch, so planning again
                    // over the injected line adds nothing more.
                    let switch = FlagSetting::of(wanted.flag.as_bytes()).key;
                    let decided = wanted_flags[..index]
                        .iter()
                        .any(|earlier| FlagSetting::of(earlier.flag.as_bytes()).key == switch);
                    decided.then_some(SkipReason::Present)
                })
                .or(otherwise);
            match reason {
                None => injection.added.push(wanted.flag.clone()),
                Some(reason) => injection.skipped.push(Skipped {
                    flag: wanted.flag.clone(),
                    reason,
                }),
            }
        }
    }
    injection
}

/// The argv to run: `original` (as received, response files unexpanded)
/// with `added` inserted before the first `--`, or appended. When a response
/// file holds the `--` ([`flags_go_first`]), the flags go first instead,
/// where they are still options.
pub fn injected_argv(
    original: &[OsString],
    added: &[OsString],
    flags_go_first: bool,
) -> Vec<OsString> {
    let at = match end_of_options(original) {
        Some(index) => index,
        None if flags_go_first => 0,
        None => original.len(),
    };
    let mut argv = Vec::with_capacity(original.len() + added.len());
    argv.extend_from_slice(&original[..at]);
    argv.extend_from_slice(added);
    argv.extend_from_slice(&original[at..]);
    argv
}

/// Why `flag` must not be added given the words already on the line, if so.
fn line_state(words: &[OsString], flag: &OsStr, override_user_choice: bool) -> Option<SkipReason> {
    let wanted = FlagSetting::of(flag.as_bytes());
    let mut last_relevant: Option<&OsString> = None;
    let mut user_choice = false;
    for word in words {
        let setting = FlagSetting::of(word.as_bytes());
        if setting.key != wanted.key {
            continue;
        }
        last_relevant = Some(word);
        user_choice |= setting != wanted;
    }
    match last_relevant {
        None => None,
        Some(last) if override_user_choice => (last == flag).then_some(SkipReason::Present),
        Some(_) if user_choice => Some(SkipReason::UserChoice),
        Some(_) => Some(SkipReason::Present),
    }
}

/// A flag seen as "which switch, set how": `-ffunction-sections` and
/// `-fno-function-sections` are the switch `-ffunction-sections` set on and
/// off; `-fvisibility=hidden` sets the switch `-fvisibility` to `hidden`.
/// gcc's `-f`, `-m` and `-W` families take a `no-` negation.
#[derive(Debug, PartialEq, Eq)]
struct FlagSetting<'a> {
    key: (&'a [u8], &'a [u8]),
    negated: bool,
    value: Option<&'a [u8]>,
}

impl<'a> FlagSetting<'a> {
    fn of(word: &'a [u8]) -> FlagSetting<'a> {
        let (name, value) = match word.iter().position(|&byte| byte == b'=') {
            Some(at) => (&word[..at], Some(&word[at + 1..])),
            None => (word, None),
        };
        for family in [&b"-f"[..], b"-m", b"-W"] {
            if let Some(rest) = name.strip_prefix(family) {
                let (negated, rest) = match rest.strip_prefix(b"no-") {
                    Some(positive) => (true, positive),
                    None => (false, rest),
                };
                return FlagSetting {
                    key: (family, rest),
                    negated,
                    value,
                };
            }
        }
        FlagSetting {
            key: (name, b""),
            negated: false,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(flags: &[&str]) -> Vec<WantedFlag> {
        flags
            .iter()
            .map(|flag| WantedFlag {
                flag: OsString::from(flag),
                rule: "test".to_string(),
                required: true,
            })
            .collect()
    }

    /// Renders the plan as `+flag` for added and `-flag:reason` for skipped.
    #[track_caller]
    fn check_with(
        argv: &str,
        cflags: &[&str],
        ldflags: &[&str],
        excluded: bool,
        override_user_choice: bool,
        expected: &str,
    ) {
        let args: Vec<&str> = argv.split_whitespace().collect();
        let cflags = wanted(cflags);
        let ldflags = wanted(ldflags);
        let policy = InjectionPolicy {
            flags_go_first: false,
            cflags: &cflags,
            ldflags: &ldflags,
            cflags_without_kconfig: &[],
            ldflags_without_kconfig: &[],
            excluded,
            override_user_choice,
        };
        let injection = plan(&CompileArgs::parse(&args), &policy);
        let mut rendered: Vec<String> = injection
            .added
            .iter()
            .map(|flag| format!("+{}", flag.to_string_lossy()))
            .collect();
        rendered.extend(injection.skipped.iter().map(|skipped| {
            format!(
                "-{}:{}",
                skipped.flag.to_string_lossy(),
                serde_json::to_value(skipped.reason)
                    .unwrap()
                    .as_str()
                    .unwrap()
            )
        }));
        assert_eq!(rendered.join(" "), expected, "argv: {argv}");
    }

    const SPLIT: &[&str] = &["-ffunction-sections", "-fdata-sections"];

    #[track_caller]
    fn check(argv: &str, expected: &str) {
        check_with(argv, SPLIT, &[], false, false, expected);
    }

    #[test]
    fn adds_to_compile_jobs() {
        check("-c a.c -o a.o", "+-ffunction-sections +-fdata-sections");
        check("-S a.c", "+-ffunction-sections +-fdata-sections");
        check("-c -MD a.c", "+-ffunction-sections +-fdata-sections");
        check("a.c -o prog", "+-ffunction-sections +-fdata-sections");
        check("-c a.c b.s", "+-ffunction-sections +-fdata-sections");
        check("-c -x c -", "+-ffunction-sections +-fdata-sections");
    }

    #[test]
    fn skips_jobs_that_compile_nothing() {
        check(
            "-E a.c",
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
        check(
            "-M a.c",
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
        check(
            "--version",
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
        check(
            "-fsyntax-only a.c",
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
        check(
            "a.o -o prog",
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
        check(
            "-c",
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
    }

    #[test]
    fn skips_assembly_and_other_languages() {
        check(
            "-c a.s",
            "--ffunction-sections:language --fdata-sections:language",
        );
        check(
            "-c a.S",
            "--ffunction-sections:language --fdata-sections:language",
        );
        check(
            "-c -x f95 a.f",
            "--ffunction-sections:language --fdata-sections:language",
        );
    }

    /// A response file holds the `--`, so the flags go first: the user's
    /// later `-fno-` wins even with `override_user_choice`, and is recorded
    /// so (found by the injection property, tests/properties).
    #[test]
    fn flags_that_go_first_cannot_override() {
        let original: Vec<OsString> = ["@rsp", "-fno-function-sections"]
            .iter()
            .map(OsString::from)
            .collect();
        let expanded: Vec<OsString> = ["-c", "--", "a.c", "-fno-function-sections"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(flags_go_first(&original, &expanded));
        assert!(!flags_go_first(&expanded, &expanded));
        let compile_args = CompileArgs::parse(&["-c", "a.c", "-fno-function-sections"]);
        let cflags = wanted(&["-ffunction-sections"]);
        let injection = plan(
            &compile_args,
            &InjectionPolicy {
                cflags: &cflags,
                ldflags: &[],
                cflags_without_kconfig: &[],
                ldflags_without_kconfig: &[],
                excluded: false,
                override_user_choice: true,
                flags_go_first: true,
            },
        );
        assert!(injection.added.is_empty());
        assert_eq!(injection.skipped[0].reason, SkipReason::UserChoice);
    }

    /// Flags of rules that could not be decided for want of Kconfig values:
    /// recorded as `no_kconfig` exactly where they would have gone, and
    /// under the reasons that keep them off the line anyway.
    #[test]
    fn flags_without_kconfig_are_recorded_never_added() {
        let cases: &[(&str, bool, &str)] = &[
            (
                "-c a.c",
                false,
                "-ffunction-sections:no_kconfig -Wl,-z,now:not_link",
            ),
            (
                "-c a.c -ffunction-sections",
                false,
                "-ffunction-sections:present -Wl,-z,now:not_link",
            ),
            (
                "-c a.c",
                true,
                "-ffunction-sections:excluded -Wl,-z,now:not_link",
            ),
            (
                "-E a.c",
                false,
                "-ffunction-sections:not_compile -Wl,-z,now:not_link",
            ),
            (
                "-c a.S",
                false,
                "-ffunction-sections:language -Wl,-z,now:not_link",
            ),
            (
                "a.o -o prog",
                false,
                "-ffunction-sections:not_compile -Wl,-z,now:no_kconfig",
            ),
        ];
        let cflags = wanted(&["-ffunction-sections"]);
        let ldflags = wanted(&["-Wl,-z,now"]);
        for (argv, excluded, expected) in cases {
            let args: Vec<&str> = argv.split_whitespace().collect();
            let injection = plan(
                &CompileArgs::parse(&args),
                &InjectionPolicy {
                    cflags: &[],
                    ldflags: &[],
                    cflags_without_kconfig: &cflags,
                    ldflags_without_kconfig: &ldflags,
                    excluded: *excluded,
                    override_user_choice: false,
                    flags_go_first: false,
                },
            );
            assert!(injection.added.is_empty(), "{argv}");
            let rendered: Vec<String> = injection
                .skipped
                .iter()
                .map(|skipped| {
                    let reason = serde_json::to_value(skipped.reason).unwrap();
                    format!(
                        "{}:{}",
                        skipped.flag.to_string_lossy(),
                        reason.as_str().unwrap()
                    )
                })
                .collect();
            assert_eq!(rendered.join(" "), *expected, "{argv}");
        }
    }

    #[test]
    fn is_idempotent() {
        check(
            "-c -ffunction-sections a.c",
            "+-fdata-sections --ffunction-sections:present",
        );
        check(
            "-c -ffunction-sections -fdata-sections a.c",
            "--ffunction-sections:present --fdata-sections:present",
        );
        check_with(
            "-c a.c",
            &["-ffunction-sections", "-ffunction-sections"],
            &[],
            false,
            false,
            "+-ffunction-sections --ffunction-sections:present",
        );
        // Two settings of one switch from the rules, even overriding the
        // user: the first is added, and a second pass adds nothing (found
        // by the injection property, tests/properties).
        check_with(
            "-c a.c",
            &["-ffunction-sections", "-fno-function-sections"],
            &[],
            false,
            true,
            "+-ffunction-sections --fno-function-sections:present",
        );
        check_with(
            "-c a.c -ffunction-sections",
            &["-ffunction-sections", "-fno-function-sections"],
            &[],
            false,
            true,
            "--ffunction-sections:present --fno-function-sections:present",
        );
    }

    #[test]
    fn user_choice_wins_anywhere_on_the_line() {
        check(
            "-c -fno-function-sections a.c",
            "+-fdata-sections --ffunction-sections:user_choice",
        );
        check(
            "-c a.c -fno-data-sections -O2",
            "+-ffunction-sections --fdata-sections:user_choice",
        );
        check(
            "-fno-function-sections -ffunction-sections -c a.c",
            "+-fdata-sections --ffunction-sections:user_choice",
        );
        check_with(
            "-c -fvisibility=default a.c",
            &["-fvisibility=hidden"],
            &[],
            false,
            false,
            "--fvisibility=hidden:user_choice",
        );
        check_with(
            "-c -Wno-vla a.c",
            &["-Wvla"],
            &[],
            false,
            false,
            "--Wvla:user_choice",
        );
    }

    #[test]
    fn override_user_choice_adds_after_the_users_flag() {
        check_with(
            "-c -fno-function-sections a.c",
            SPLIT,
            &[],
            false,
            true,
            "+-ffunction-sections +-fdata-sections",
        );
        check_with(
            "-c -fno-function-sections -ffunction-sections a.c",
            SPLIT,
            &[],
            false,
            true,
            "+-fdata-sections --ffunction-sections:present",
        );
    }

    #[test]
    fn exclusion() {
        check_with(
            "-c boot/a.c",
            SPLIT,
            &[],
            true,
            false,
            "--ffunction-sections:excluded --fdata-sections:excluded",
        );
        // A job that does not compile reports that, not the exclusion.
        check_with(
            "-E boot/a.c",
            SPLIT,
            &[],
            true,
            false,
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
    }

    #[test]
    fn nothing_after_an_option_missing_its_value() {
        const MISSING: &str = "--ffunction-sections:missing_value --fdata-sections:missing_value";
        for argv in [
            "-c a.c -o",
            "-c a.c -MD -MF",
            "-c a.c -MT",
            "-c a.c -MQ",
            "-c a.c -B",
            "-c a.c -target",
            "-c a.c -Xlinker",
            "-c a.c -Xassembler",
            "-c a.c -Xpreprocessor",
            "-c a.c -x",
            "-c a.c -include",
            "-c a.c -I",
            "-c a.c -D",
            "-c a.c -U",
            "-c a.c -isystem",
            "-c a.c --sysroot",
            "a.c -o",
        ] {
            check(argv, MISSING);
        }
        check_with(
            "a.o -o",
            &[],
            &["-Wl,--gc-sections"],
            false,
            false,
            "--Wl,--gc-sections:missing_value",
        );
        // A job that compiles nothing says so first.
        check(
            "-E a.c -o",
            "--ffunction-sections:not_compile --fdata-sections:not_compile",
        );
        // With the value there, or glued, the flags go on.
        check("-c a.c -o a.o", "+-ffunction-sections +-fdata-sections");
        check("-c a.c -oa.o", "+-ffunction-sections +-fdata-sections");
    }

    #[test]
    fn linker_flags_only_on_links() {
        check_with(
            "a.o -o prog",
            &[],
            &["-Wl,--gc-sections"],
            false,
            false,
            "+-Wl,--gc-sections",
        );
        check_with(
            "a.c -o prog",
            SPLIT,
            &["-Wl,--gc-sections"],
            false,
            false,
            "+-ffunction-sections +-fdata-sections +-Wl,--gc-sections",
        );
        check_with(
            "-c a.c",
            &[],
            &["-Wl,--gc-sections"],
            false,
            false,
            "--Wl,--gc-sections:not_link",
        );
        check_with(
            "-E a.c",
            &[],
            &["-Wl,--gc-sections"],
            false,
            false,
            "--Wl,--gc-sections:not_link",
        );
    }

    #[test]
    fn flag_settings() {
        assert_eq!(
            FlagSetting::of(b"-fno-data-sections").key,
            FlagSetting::of(b"-fdata-sections").key
        );
        assert_ne!(
            FlagSetting::of(b"-fno-data-sections"),
            FlagSetting::of(b"-fdata-sections")
        );
        assert_eq!(
            FlagSetting::of(b"-mno-red-zone").key,
            FlagSetting::of(b"-mred-zone").key
        );
        assert_ne!(
            FlagSetting::of(b"-fdata-sections").key,
            FlagSetting::of(b"-ffunction-sections").key
        );
        assert_eq!(FlagSetting::of(b"-O2").key, (&b"-O2"[..], &b""[..]));
    }

    #[track_caller]
    fn check_argv(original: &[&str], in_response_file: bool, expected: &[&str]) {
        let original: Vec<OsString> = original.iter().map(OsString::from).collect();
        let added = [OsString::from("-ffunction-sections")];
        assert_eq!(injected_argv(&original, &added, in_response_file), expected);
    }

    #[test]
    fn argv_placement() {
        check_argv(&["-c", "a.c"], false, &["-c", "a.c", "-ffunction-sections"]);
        check_argv(
            &["-c", "--", "a.c"],
            false,
            &["-c", "-ffunction-sections", "--", "a.c"],
        );
        // `--` as the value of `-Xlinker` is not the end of options.
        check_argv(
            &["-Xlinker", "--", "a.c"],
            false,
            &["-Xlinker", "--", "a.c", "-ffunction-sections"],
        );
        check_argv(&["@args.rsp"], true, &["-ffunction-sections", "@args.rsp"]);
    }
}
