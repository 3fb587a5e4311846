//! A typed model of the gcc/clang driver's command line.
//!
//! Every option secwrap must understand is one row of [`DRIVER_OPTIONS`]: its
//! spelling, how it takes a value ([`ArgForm`]) and what it means
//! ([`ArgKind`]). [`DriverArgs`] walks an argv with that table and yields
//! typed [`Arg`]s; classification (`classify.rs`) folds them into facts.
//! This is the shape sccache uses (`src/compiler/args.rs`, `gcc.rs`), whose
//! gcc table is in turn "mostly taken from" ccache's `compopt.cpp`.
//!
//! Architecture invariant: no I/O, no allocation of argv copies, never fails.
//! A word that is not in the table and starts with `-` is
//! [`Arg::Unknown`] and passes through untouched; the table only has to list
//! options that change the classification or that consume the next word
//! (otherwise that word would be mistaken for an input file).
//!
//! Response files (`@file`) are expanded before this stage (`argv.rs`);
//! a literal `@file` left over (unreadable, as gcc keeps it) is an input.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// How an option takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgForm {
    /// `-c`: the word alone, no value.
    Flag,
    /// `-Xlinker VALUE`: always the next word.
    Separate,
    /// `-std=c11`, `-print-file-name=x`: the value is glued on (the spelling
    /// in the table includes any `=`).
    Joined,
    /// `-o FILE` or `-oFILE`.
    JoinedOrSeparate,
    /// `--sysroot=DIR` or `--sysroot DIR`.
    EqualsOrSeparate,
}

/// What an option means to secwrap. Options with no meaning beyond taking a
/// value are [`ArgKind::TakesValue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `-c`: stop after producing objects.
    CompileOnly,
    /// `-S`: stop after producing assembly.
    AssembleOnly,
    /// `-E`, and `-M`/`-MM` (which imply `-E` even next to `-MD`, as gcc does).
    PreprocessOnly,
    /// `-fsyntax-only`.
    SyntaxOnly,
    /// `--version`, `-dumpversion`, `-print-*`, `--help`, `-###`: the driver
    /// answers a question and compiles nothing.
    InfoQuery,
    /// `-v`: an info query when there is no input, verbose otherwise.
    Verbose,
    /// `-o FILE`.
    Output,
    /// `-x LANG`: the language of the inputs that follow.
    Language,
    /// `-flto`, `-flto=...`: the object will hold IR, not split code.
    Lto,
    /// `-fno-lto`.
    NoLto,
    /// Selects the target; takes part in probes (`--target=`, `-m32`, ...).
    Target,
    /// `--`: every following word is an input (clang).
    EndOfOptions,
    /// Consumes a value and means nothing else to secwrap.
    TakesValue,
}

/// One row of the option table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: &'static str,
    pub form: ArgForm,
    pub kind: ArgKind,
}

/// One parsed command-line argument, borrowing from argv.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    /// A table option; `value` is `None` exactly for the forms that take
    /// none (`Flag`, and `Joined` spelled without a value, `--help`).
    Option {
        spec: &'static ArgSpec,
        value: Option<&'a OsStr>,
    },
    /// The last word of the line is an option whose value must be the next
    /// word (`-o`, `-MF`, `-Xlinker`, `--sysroot`), and there is none. The
    /// driver fails ("missing filename after `-o`"); a word appended after
    /// it would become its value.
    MissingValue(&'static ArgSpec),
    /// A word starting with `-` that the table does not know.
    Unknown(&'a OsStr),
    /// A positional word: a file, `-` for stdin, or a literal `@file`.
    Input(&'a OsStr),
}

const fn spec(name: &'static str, form: ArgForm, kind: ArgKind) -> ArgSpec {
    ArgSpec { name, form, kind }
}

use ArgForm::*;
use ArgKind::*;

/// The gcc and clang driver options secwrap interprets, sorted by spelling
/// (bytewise) so lookup can binary-search; a unit test keeps it sorted and
/// unique. Sources: gcc's `gcc/common.opt`, `gcc/c-family/c.opt`, clang's
/// `Options.td`, ccache's `compopt.cpp`. Clang-only spellings are marked.
pub static DRIVER_OPTIONS: &[ArgSpec] = &[
    spec("-###", Flag, InfoQuery),
    spec("--", Flag, EndOfOptions),
    spec("--dumpmachine", Flag, InfoQuery),
    spec("--dumpversion", Flag, InfoQuery),
    spec("--gcc-toolchain=", Joined, TakesValue), // clang
    spec("--help", Joined, InfoQuery),            // also --help=...
    spec("--output", EqualsOrSeparate, Output),
    spec("--param", EqualsOrSeparate, TakesValue),
    spec("--print-", Joined, InfoQuery),
    spec("--serialize-diagnostics", Separate, TakesValue), // clang
    spec("--sysroot", EqualsOrSeparate, Target),
    spec("--target-help", Flag, InfoQuery),
    spec("--target=", Joined, Target), // clang
    spec("--version", Flag, InfoQuery),
    spec("-A", JoinedOrSeparate, TakesValue),
    spec("-B", JoinedOrSeparate, TakesValue),
    spec("-D", JoinedOrSeparate, TakesValue),
    spec("-E", Flag, PreprocessOnly),
    spec("-F", JoinedOrSeparate, TakesValue),
    spec("-I", JoinedOrSeparate, TakesValue),
    spec("-L", JoinedOrSeparate, TakesValue),
    spec("-M", Flag, PreprocessOnly),
    spec("-MF", JoinedOrSeparate, TakesValue),
    spec("-MJ", JoinedOrSeparate, TakesValue), // clang
    spec("-MM", Flag, PreprocessOnly),
    spec("-MQ", JoinedOrSeparate, TakesValue),
    spec("-MT", JoinedOrSeparate, TakesValue),
    spec("-S", Flag, AssembleOnly),
    spec("-T", JoinedOrSeparate, TakesValue),
    spec("-U", JoinedOrSeparate, TakesValue),
    spec("-Xanalyzer", Separate, TakesValue), // clang
    spec("-Xassembler", Separate, TakesValue),
    spec("-Xclang", Separate, TakesValue), // clang
    spec("-Xlinker", Separate, TakesValue),
    spec("-Xpreprocessor", Separate, TakesValue),
    spec("-arch", Separate, Target), // clang (Darwin)
    spec("-aux-info", Separate, TakesValue),
    spec("-c", Flag, CompileOnly),
    spec("-cxx-isystem", JoinedOrSeparate, TakesValue), // clang
    spec("-dumpbase", Separate, TakesValue),
    spec("-dumpbase-ext", Separate, TakesValue),
    spec("-dumpdir", Separate, TakesValue),
    spec("-dumpfullversion", Flag, InfoQuery),
    spec("-dumpmachine", Flag, InfoQuery),
    spec("-dumpspecs", Flag, InfoQuery),
    spec("-dumpversion", Flag, InfoQuery),
    spec("-e", JoinedOrSeparate, TakesValue),
    spec("-flto", Flag, Lto),
    spec("-flto=", Joined, Lto), // -flto=auto, -flto=thin; not -flto-partition=
    spec("-fno-lto", Flag, NoLto),
    spec("-fsyntax-only", Flag, SyntaxOnly),
    spec("-gcc-toolchain", Separate, TakesValue), // clang
    spec("-help", Flag, InfoQuery),               // clang
    spec("-idirafter", JoinedOrSeparate, TakesValue),
    spec("-iframework", JoinedOrSeparate, TakesValue), // clang
    spec("-imacros", JoinedOrSeparate, TakesValue),
    spec("-imultiarch", JoinedOrSeparate, TakesValue),
    spec("-imultilib", JoinedOrSeparate, TakesValue),
    spec("-include", JoinedOrSeparate, TakesValue),
    spec("-include-pch", Separate, TakesValue), // clang
    spec("-iprefix", JoinedOrSeparate, TakesValue),
    spec("-iquote", JoinedOrSeparate, TakesValue),
    spec("-isysroot", JoinedOrSeparate, TakesValue),
    spec("-isystem", JoinedOrSeparate, TakesValue),
    spec("-isystem-after", JoinedOrSeparate, TakesValue), // clang
    spec("-ivfsoverlay", JoinedOrSeparate, TakesValue),   // clang
    spec("-iwithprefix", JoinedOrSeparate, TakesValue),
    spec("-iwithprefixbefore", JoinedOrSeparate, TakesValue),
    spec("-l", JoinedOrSeparate, TakesValue),
    spec("-m16", Flag, Target),
    spec("-m32", Flag, Target),
    spec("-m64", Flag, Target),
    spec("-mabi=", Joined, Target),
    spec("-march=", Joined, Target),
    spec("-mllvm", Separate, TakesValue), // clang
    spec("-mx32", Flag, Target),
    spec("-o", JoinedOrSeparate, Output),
    spec("-print-", Joined, InfoQuery),
    spec("-resource-dir", Separate, TakesValue), // clang
    spec("-target", Separate, Target),           // clang
    spec("-u", JoinedOrSeparate, TakesValue),
    spec("-v", Flag, Verbose),
    spec("-working-directory", JoinedOrSeparate, TakesValue), // clang
    spec("-wrapper", Separate, TakesValue),
    spec("-x", JoinedOrSeparate, Language),
    spec("-z", Separate, TakesValue),
];

/// The option `word` spells, and the value glued to it, if any.
///
/// The longest table spelling that matches wins, so `-include-pch` beats
/// `-include` and `-MF` beats `-M` (sccache: "the last match is the one
/// actually matching").
fn lookup(word: &[u8]) -> Option<(&'static ArgSpec, Option<&[u8]>)> {
    // Every spelling that is a prefix of `word` sorts at or before it, and
    // shares its first two bytes, so walk back from the insertion point.
    let end = DRIVER_OPTIONS.partition_point(|spec| spec.name.as_bytes() <= word);
    let head = &word[..word.len().min(2)];
    DRIVER_OPTIONS[..end]
        .iter()
        .rev()
        .take_while(|spec| spec.name.as_bytes().starts_with(head))
        .find_map(|spec| {
            let name = spec.name.as_bytes();
            let rest = word.strip_prefix(name)?;
            match (spec.form, rest.is_empty()) {
                (_, true) => Some((spec, None)),
                (Joined | JoinedOrSeparate, false) => Some((spec, Some(rest))),
                (EqualsOrSeparate, false) => Some((spec, Some(rest.strip_prefix(b"=")?))),
                (Flag | Separate, false) => None,
            }
        })
}

/// Walks a driver command line (without the program name), yielding each
/// argument with its index in `args` (the index of the option word for
/// options that take the next word).
pub struct DriverArgs<'a, S> {
    args: &'a [S],
    next: usize,
    end_of_options: bool,
}

impl<'a, S: AsRef<OsStr>> DriverArgs<'a, S> {
    pub fn new(args: &'a [S]) -> Self {
        DriverArgs {
            args,
            next: 0,
            end_of_options: false,
        }
    }
}

impl<'a, S: AsRef<OsStr>> Iterator for DriverArgs<'a, S> {
    type Item = (usize, Arg<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.next;
        let word = self.args.get(index)?.as_ref();
        self.next += 1;
        let bytes = word.as_bytes();
        if self.end_of_options || bytes.len() < 2 || bytes[0] != b'-' {
            // Includes `-` alone, which is stdin.
            return Some((index, Arg::Input(word)));
        }
        let Some((spec, glued)) = lookup(bytes) else {
            return Some((index, Arg::Unknown(word)));
        };
        let value = match (spec.form, glued) {
            (_, Some(glued)) => Some(OsStr::from_bytes(glued)),
            (Separate | JoinedOrSeparate | EqualsOrSeparate, None) => {
                let Some(value) = self.args.get(self.next) else {
                    return Some((index, Arg::MissingValue(spec)));
                };
                self.next += 1;
                Some(value.as_ref())
            }
            (Flag | Joined, None) => None,
        };
        if spec.kind == EndOfOptions {
            self.end_of_options = true;
        }
        Some((index, Arg::Option { spec, value }))
    }
}

/// The index of the `--` that ends the options, if the line has one (a
/// `--` that is the value of `-Xlinker` and the like does not count).
pub fn end_of_options<S: AsRef<OsStr>>(args: &[S]) -> Option<usize> {
    DriverArgs::new(args).find_map(|(index, arg)| match arg {
        Arg::Option { spec, .. } if spec.kind == EndOfOptions => Some(index),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in DRIVER_OPTIONS.windows(2) {
            assert!(
                pair[0].name.as_bytes() < pair[1].name.as_bytes(),
                "`{}` can't precede `{}`",
                pair[0].name,
                pair[1].name
            );
        }
    }

    /// Renders what the iterator makes of `argv`, one token per argument:
    /// `name=value` for options, `?word` for unknown options, `<word>` for inputs.
    #[track_caller]
    fn check(argv: &[&str], expected: &[&str]) {
        let args: Vec<OsString> = argv.iter().map(OsString::from).collect();
        let rendered: Vec<String> = DriverArgs::new(&args)
            .map(|(_, arg)| match arg {
                Arg::Option { spec, value: None } => spec.name.to_string(),
                Arg::Option {
                    spec,
                    value: Some(value),
                } => format!("{}={}", spec.name, value.to_string_lossy()),
                Arg::MissingValue(spec) => format!("{}=!missing", spec.name),
                Arg::Unknown(word) => format!("?{}", word.to_string_lossy()),
                Arg::Input(word) => format!("<{}>", word.to_string_lossy()),
            })
            .collect();
        assert_eq!(rendered, expected, "argv: {argv:?}");
    }

    #[test]
    fn value_forms() {
        check(&["-o", "a.o"], &["-o=a.o"]);
        check(&["-oa.o"], &["-o=a.o"]);
        check(&["-xc", "-x", "c++"], &["-x=c", "-x=c++"]);
        check(
            &["--sysroot=/s", "--sysroot", "/t"],
            &["--sysroot=/s", "--sysroot=/t"],
        );
        check(
            &["--param", "a=1", "--param=b=2"],
            &["--param=a=1", "--param=b=2"],
        );
        check(&["-Xlinker", "-c"], &["-Xlinker=-c"]);
        check(&["-march=x86-64", "-m32"], &["-march==x86-64", "-m32"]);
        check(&["-D", "X", "-DY=1"], &["-D=X", "-D=Y=1"]);
    }

    #[test]
    fn longest_spelling_wins() {
        check(&["-include-pch", "x.pch"], &["-include-pch=x.pch"]);
        check(&["-include", "x.h"], &["-include=x.h"]);
        check(
            &["-MF", "d", "-MFe", "-M", "-MM"],
            &["-MF=d", "-MF=e", "-M", "-MM"],
        );
        check(
            &["-isystem-after", "d", "-isystemd"],
            &["-isystem-after=d", "-isystem=d"],
        );
        check(&["-dumpbase-ext", ".c"], &["-dumpbase-ext=.c"]);
    }

    #[test]
    fn flags_do_not_take_glued_values() {
        // `-MD`, `-MMD`, `-cfoo` and `-S2` are not `-M`, `-c`, `-S` with values.
        check(&["-MD", "-MMD", "-MP"], &["?-MD", "?-MMD", "?-MP"]);
        check(&["-cfoo", "-ST"], &["?-cfoo", "?-ST"]);
        check(&["-fno-lto", "-fno-ltox"], &["-fno-lto", "?-fno-ltox"]);
        check(
            &["-flto", "-flto=thin", "-flto-partition=one"],
            &["-flto", "-flto==thin", "?-flto-partition=one"],
        );
    }

    #[test]
    fn inputs_and_unknown_options() {
        check(
            &["a.c", "-", "@missing.rsp"],
            &["<a.c>", "<->", "<@missing.rsp>"],
        );
        check(
            &["-Wall", "-ffunction-sections"],
            &["?-Wall", "?-ffunction-sections"],
        );
        check(&["-Wp,-MMD,dep.d", "-O2"], &["?-Wp,-MMD,dep.d", "?-O2"]);
    }

    #[test]
    fn info_queries() {
        check(
            &["-print-file-name=libgcc.a"],
            &["-print-=file-name=libgcc.a"],
        );
        check(
            &["--help=warnings", "--help"],
            &["--help==warnings", "--help"],
        );
        check(&["-###", "--version", "-v"], &["-###", "--version", "-v"]);
    }

    #[test]
    fn end_of_options_makes_inputs() {
        check(&["--", "-c", "-o"], &["--", "<-c>", "<-o>"]);
    }

    #[test]
    fn missing_separate_value_at_end() {
        check(&["a.c", "-o"], &["<a.c>", "-o=!missing"]);
        for option in [
            "-o",
            "-MF",
            "-MT",
            "-MQ",
            "-MJ",
            "-B",
            "-target",
            "-Xlinker",
            "-Xassembler",
            "-Xpreprocessor",
            "-x",
            "-include",
            "-I",
            "-D",
            "-U",
            "-L",
            "-A",
            "-isystem",
            "--sysroot",
            "--param",
            "--output",
            "-arch",
            "-wrapper",
            "-z",
        ] {
            let expected = format!("{option}=!missing");
            check(&["-c", "a.c", option], &["-c", "<a.c>", &expected]);
        }
        // Not at the end, the next word is the value, whatever it looks like.
        check(&["-o", "-c"], &["-o=-c"]);
        // Glued values and flags need no next word.
        check(&["-c", "a.c", "-oa.o"], &["-c", "<a.c>", "-o=a.o"]);
        check(&["a.c", "--sysroot=/s"], &["<a.c>", "--sysroot=/s"]);
        check(&["a.c", "-c"], &["<a.c>", "-c"]);
        check(&["a.c", "--help"], &["<a.c>", "--help"]);
        // After `--`, `-o` is an input.
        check(&["--", "-o"], &["--", "<-o>"]);
    }
}
