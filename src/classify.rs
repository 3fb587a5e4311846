//! Classification: what a compiler invocation is.
//!
//! [`CompileArgs::parse`] folds the typed arguments of `args.rs` into the
//! facts secwrap needs (inputs with their languages, output, which stage the
//! driver stops at, target arguments), and [`CompileArgs::classification`]
//! puts the invocation into one [`Classification`] of a closed set. Only
//! `Compile` and `CompileAndLink` jobs ever get compiler flags injected
//! (`inject.rs`).
//!
//! Architecture invariant: pure. No I/O, never fails; a command line the
//! compiler itself would reject is still classified, and still passes through
//! byte for byte.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::args::{Arg, ArgKind, DriverArgs};

/// The kind of a compiler invocation. Serialised in the invocation record as
/// `kind` (`record::Term`), spelled by serde.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// `-c` or `-S` (with or without `-MD`/`-MMD`): sources to objects or assembly.
    Compile,
    /// Sources without `-c`/`-S`: compiled and linked in one go.
    CompileAndLink,
    /// Only objects and archives: the driver runs the linker.
    LinkOnly,
    /// `-E`, `-M`, `-MM`: preprocessor output only.
    PreprocessOnly,
    /// `--version`, `-v` alone, `-dumpversion`, `-print-*`, `--help`, `-###`.
    InfoQuery,
    /// `-fsyntax-only`.
    SyntaxCheck,
    /// Every source is assembly (`.s`, `.S`, `-x assembler`).
    Assemble,
    /// Anything else, e.g. no input at all.
    Other,
}

impl Classification {
    /// Whether the driver produces code from sources, so compiler flags apply.
    pub fn compiles(self) -> bool {
        matches!(
            self,
            Classification::Compile | Classification::CompileAndLink
        )
    }
}

/// The language the driver gives an input, from `-x` or the file name, as
/// gcc's "Options Controlling the Kind of Output" lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Language {
    C,
    CHeader,
    /// `.i`: already preprocessed C.
    CPreprocessed,
    Cxx,
    CxxHeader,
    CxxPreprocessed,
    ObjC,
    ObjCxx,
    /// `.s`, `-x assembler`.
    Assembler,
    /// `.S`, `.sx`, `-x assembler-with-cpp`.
    AssemblerWithCpp,
    /// A language secwrap does not split (`-x f95`, `-x cuda`, ...).
    Other(String),
    /// Objects, archives, shared libraries and unknown suffixes: gcc passes
    /// them to the linker.
    LinkerInput,
}

impl Language {
    /// The language `-x NAME` selects; `None` for `-x none`, which returns
    /// to guessing from the file name.
    pub fn from_x(name: &OsStr) -> Option<Language> {
        Some(match name.as_bytes() {
            b"none" => return None,
            b"c" => Language::C,
            b"c-header" => Language::CHeader,
            b"cpp-output" | b"c-cpp-output" => Language::CPreprocessed,
            b"c++" => Language::Cxx,
            b"c++-header" => Language::CxxHeader,
            b"c++-cpp-output" => Language::CxxPreprocessed,
            b"objective-c" | b"objective-c-header" | b"objective-c-cpp-output" => Language::ObjC,
            b"objective-c++" | b"objective-c++-header" | b"objective-c++-cpp-output" => {
                Language::ObjCxx
            }
            b"assembler" => Language::Assembler,
            b"assembler-with-cpp" => Language::AssemblerWithCpp,
            other => Language::Other(String::from_utf8_lossy(other).into_owned()),
        })
    }

    /// The language gcc guesses from a file name's suffix.
    pub fn from_path(path: &OsStr) -> Language {
        let suffix = Path::new(path)
            .extension()
            .map(OsStrExt::as_bytes)
            .unwrap_or_default();
        match suffix {
            b"c" => Language::C,
            b"h" => Language::CHeader,
            b"i" => Language::CPreprocessed,
            b"cc" | b"cp" | b"cxx" | b"cpp" | b"CPP" | b"c++" | b"C" => Language::Cxx,
            b"hh" | b"H" | b"hp" | b"hxx" | b"hpp" | b"HPP" | b"h++" | b"tcc" => {
                Language::CxxHeader
            }
            b"ii" => Language::CxxPreprocessed,
            b"m" | b"mi" => Language::ObjC,
            b"mm" | b"M" | b"mii" => Language::ObjCxx,
            b"s" => Language::Assembler,
            b"S" | b"sx" => Language::AssemblerWithCpp,
            _ => Language::LinkerInput,
        }
    }

    /// Whether `-ffunction-sections` and friends act on this language: the C
    /// family is compiled to code by cc1/cc1plus/cc1obj. Assembly is not
    /// (clang warns the flag is unused on `.s`: seL4/sel4runtime#15).
    pub fn is_compiled(&self) -> bool {
        matches!(
            self,
            Language::C
                | Language::CHeader
                | Language::CPreprocessed
                | Language::Cxx
                | Language::CxxHeader
                | Language::CxxPreprocessed
                | Language::ObjC
                | Language::ObjCxx
        )
    }

    pub fn is_assembly(&self) -> bool {
        matches!(self, Language::Assembler | Language::AssemblerWithCpp)
    }
}

/// One positional input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// As written; `-` is stdin.
    pub path: OsString,
    pub language: Language,
}

/// Where the driver stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `-c`: objects.
    Object,
    /// `-S`: assembly.
    Assembly,
    /// Neither: the driver links.
    Link,
}

/// The facts of a command line that secwrap acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileArgs {
    pub inputs: Vec<Input>,
    /// The last `-o` value, as written.
    pub output: Option<OsString>,
    pub stop: Stop,
    pub preprocess_only: bool,
    pub syntax_only: bool,
    pub info_query: bool,
    pub verbose: bool,
    /// `-flto` in effect (the last of `-flto`/`-fno-lto` wins).
    pub lto: bool,
    /// Target-selecting arguments (`--target=`, `-m32`, `-march=`, ...), as
    /// written, in order; they take part in flag probes.
    pub target_args: Vec<OsString>,
    /// Every option word and glued value, for "is this flag already here"
    /// questions (`inject.rs`).
    pub option_words: Vec<OsString>,
    /// The option left without its value at the end of the line (`-o`,
    /// `-MF`, `-Xlinker`...), as written. The driver fails on it, and a flag
    /// appended to the line would become its value (`gcc -c a.c -o` would
    /// write an object named `-ffunction-sections`), so nothing may be.
    pub missing_value: Option<OsString>,
}

impl CompileArgs {
    /// Folds a command line (response files already expanded, program name
    /// excluded) into facts.
    pub fn parse<S: AsRef<OsStr>>(args: &[S]) -> CompileArgs {
        let mut facts = CompileArgs {
            inputs: Vec::new(),
            output: None,
            stop: Stop::Link,
            preprocess_only: false,
            syntax_only: false,
            info_query: false,
            verbose: false,
            lto: false,
            target_args: Vec::new(),
            option_words: Vec::new(),
            missing_value: None,
        };
        // `-x` applies to the inputs that follow it, until the next `-x`.
        let mut language: Option<Language> = None;
        for (index, arg) in DriverArgs::new(args) {
            match arg {
                Arg::Input(path) => facts.inputs.push(Input {
                    path: path.to_os_string(),
                    language: language
                        .clone()
                        .unwrap_or_else(|| Language::from_path(path)),
                }),
                Arg::Unknown(word) => facts.option_words.push(word.to_os_string()),
                // Only ever the last word. Its meaning (an output, a
                // language, a target) is not taken: it has no value.
                Arg::MissingValue(_) => {
                    let word = args[index].as_ref().to_os_string();
                    facts.option_words.push(word.clone());
                    facts.missing_value = Some(word);
                }
                Arg::Option { spec, value } => {
                    facts.option_words.push(args[index].as_ref().to_os_string());
                    match spec.kind {
                        ArgKind::CompileOnly => facts.stop = facts.stop.min_with(Stop::Object),
                        ArgKind::AssembleOnly => facts.stop = Stop::Assembly,
                        ArgKind::PreprocessOnly => facts.preprocess_only = true,
                        ArgKind::SyntaxOnly => facts.syntax_only = true,
                        ArgKind::InfoQuery => facts.info_query = true,
                        ArgKind::Verbose => facts.verbose = true,
                        ArgKind::Output => facts.output = value.map(OsStr::to_os_string),
                        ArgKind::Language => language = value.and_then(Language::from_x),
                        ArgKind::Lto => facts.lto = true,
                        ArgKind::NoLto => facts.lto = false,
                        ArgKind::Target => {
                            facts.target_args.push(args[index].as_ref().to_os_string());
                            if value.is_some() && args[index].as_ref().len() == spec.name.len() {
                                // Separate value (`-target x86_64-linux-gnu`).
                                facts
                                    .target_args
                                    .push(value.map(OsStr::to_os_string).unwrap_or_default());
                            }
                        }
                        ArgKind::EndOfOptions | ArgKind::TakesValue => {}
                    }
                }
            }
        }
        facts
    }

    /// The one kind this invocation is. Order matters and mirrors the
    /// driver: an info query exits before compiling, `-E`/`-M` stop before
    /// compiling, `-fsyntax-only` produces nothing.
    pub fn classification(&self) -> Classification {
        let sources = || {
            self.inputs
                .iter()
                .filter(|input| input.language != Language::LinkerInput)
        };
        if self.info_query || (self.verbose && self.inputs.is_empty()) {
            return Classification::InfoQuery;
        }
        if self.preprocess_only {
            return Classification::PreprocessOnly;
        }
        if self.syntax_only {
            return Classification::SyntaxCheck;
        }
        if sources().next().is_none() {
            return match (self.stop, self.inputs.is_empty()) {
                (Stop::Link, false) => Classification::LinkOnly,
                _ => Classification::Other,
            };
        }
        if sources().all(|input| input.language.is_assembly()) {
            return Classification::Assemble;
        }
        match self.stop {
            Stop::Object | Stop::Assembly => Classification::Compile,
            Stop::Link => Classification::CompileAndLink,
        }
    }

    /// Whether the driver ends by running the linker.
    pub fn links(&self) -> bool {
        self.stop == Stop::Link
            && !matches!(
                self.classification(),
                Classification::InfoQuery
                    | Classification::PreprocessOnly
                    | Classification::SyntaxCheck
                    | Classification::Other
            )
    }

    /// Whether any input is in a language the split flags act on.
    pub fn has_compiled_source(&self) -> bool {
        self.inputs.iter().any(|input| input.language.is_compiled())
    }

    /// The files this job writes, as the driver names them: `-o`, else
    /// `<stem>.o` / `<stem>.s` in the working directory for each source, else
    /// `a.out` when linking. Stdin and preprocessed output to stdout write
    /// none.
    pub fn outputs(&self) -> Vec<OsString> {
        if let Some(output) = &self.output {
            return vec![output.clone()];
        }
        let suffix: &[u8] = match (self.classification(), self.stop) {
            (Classification::Compile | Classification::Assemble, Stop::Object) => b".o",
            (Classification::Compile | Classification::Assemble, Stop::Assembly) => b".s",
            (Classification::CompileAndLink | Classification::LinkOnly, _)
            | (Classification::Assemble, Stop::Link) => return vec![OsString::from("a.out")],
            _ => return Vec::new(),
        };
        self.inputs
            .iter()
            .filter(|input| input.language != Language::LinkerInput && input.path != "-")
            .filter_map(|input| Path::new(&input.path).file_stem())
            .map(|stem| {
                let mut name = stem.as_bytes().to_vec();
                name.extend_from_slice(suffix);
                OsStr::from_bytes(&name).to_os_string()
            })
            .collect()
    }
}

impl Stop {
    /// `-c` does not undo `-S` (gcc stops at the earliest stage asked for).
    fn min_with(self, other: Stop) -> Stop {
        match self {
            Stop::Assembly => Stop::Assembly,
            _ => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(argv: &str, expected: Classification) {
        let args: Vec<&str> = argv.split_whitespace().collect();
        let facts = CompileArgs::parse(&args);
        assert_eq!(facts.classification(), expected, "argv: {argv}");
    }

    #[test]
    fn compiles() {
        check("-c a.c", Classification::Compile);
        check("-c a.c -o a.o", Classification::Compile);
        check("-S a.c", Classification::Compile);
        check("-S -c a.c", Classification::Compile);
        check("-c -MD a.c -o a.o", Classification::Compile);
        check("-c -MMD -MF a.d a.c", Classification::Compile);
        check("-c -Wp,-MMD,dep.d a.c", Classification::Compile);
        check("-c a.c b.cc c.m", Classification::Compile);
        check("-c -x c - -o x.o", Classification::Compile);
        check("-c -x c foo.txt", Classification::Compile);
        check("-c a.i", Classification::Compile);
        check("-c a.c b.s", Classification::Compile);
        check("-v -c a.c", Classification::Compile);
        check("-c -o out.o -- a.c", Classification::Compile);
        check("-c -x c++-header a.h", Classification::Compile);
    }

    #[test]
    fn compile_and_link() {
        check("a.c", Classification::CompileAndLink);
        check("a.c b.o -o prog -lm", Classification::CompileAndLink);
        check("-x c - -o prog", Classification::CompileAndLink);
    }

    #[test]
    fn link_only() {
        check("a.o b.o -o prog", Classification::LinkOnly);
        check("a.o libx.a -shared -o libx.so", Classification::LinkOnly);
        check("-Wl,--gc-sections a.o", Classification::LinkOnly);
    }

    #[test]
    fn preprocess_only() {
        check("-E a.c", Classification::PreprocessOnly);
        check("-E -x c -", Classification::PreprocessOnly);
        check("-M a.c", Classification::PreprocessOnly);
        check("-MM a.c", Classification::PreprocessOnly);
        // gcc: -M implies -E even next to -MD (checked: the object is empty).
        check("-M -MD -c a.c -o a.o", Classification::PreprocessOnly);
        check("-E -dM -x c /dev/null", Classification::PreprocessOnly);
    }

    #[test]
    fn info_queries() {
        check("--version", Classification::InfoQuery);
        check("-v", Classification::InfoQuery);
        check("-dumpversion", Classification::InfoQuery);
        check("-dumpfullversion", Classification::InfoQuery);
        check("-dumpmachine", Classification::InfoQuery);
        check("-print-file-name=libgcc.a", Classification::InfoQuery);
        check("-print-search-dirs", Classification::InfoQuery);
        check("--print-prog-name=cc1", Classification::InfoQuery);
        check("--help", Classification::InfoQuery);
        check("--help=optimizers", Classification::InfoQuery);
        check("-### -c a.c", Classification::InfoQuery);
        check("--version -c a.c", Classification::InfoQuery);
    }

    #[test]
    fn syntax_check() {
        check("-fsyntax-only a.c", Classification::SyntaxCheck);
        check("-c -fsyntax-only a.c", Classification::SyntaxCheck);
    }

    #[test]
    fn assembly() {
        check("-c a.s", Classification::Assemble);
        check("-c a.S -o a.o", Classification::Assemble);
        check("-c -x assembler foo", Classification::Assemble);
        check("-c -x assembler-with-cpp foo.c", Classification::Assemble);
        check("-c -x assembler a -x none b.c", Classification::Compile);
        check("a.s -o prog", Classification::Assemble);
    }

    #[test]
    fn other() {
        check("", Classification::Other);
        check("-c", Classification::Other);
        check("-c a.o", Classification::Other);
        check("-O2 -Wall", Classification::Other);
    }

    #[test]
    fn language_follows_x_until_reset() {
        let facts = CompileArgs::parse(&["-x", "c", "a.txt", "-x", "none", "b.txt", "c.cc"]);
        let languages: Vec<&Language> = facts.inputs.iter().map(|i| &i.language).collect();
        assert_eq!(
            languages,
            [&Language::C, &Language::LinkerInput, &Language::Cxx]
        );
    }

    #[test]
    fn language_splits_only_c_family() {
        let split = |argv: &[&str]| CompileArgs::parse(argv).has_compiled_source();
        assert!(split(&["-c", "a.c"]));
        assert!(split(&["-c", "a.cpp"]));
        assert!(split(&["-c", "a.m"]));
        assert!(split(&["-c", "a.i"]));
        assert!(!split(&["-c", "a.s"]));
        assert!(!split(&["-c", "a.S"]));
        assert!(!split(&["-c", "-x", "f95", "a.f"]));
        assert!(!split(&["a.o"]));
    }

    #[test]
    fn outputs() {
        let outputs = |argv: &[&str]| CompileArgs::parse(argv).outputs();
        assert_eq!(outputs(&["-c", "a.c", "-o", "x/a.o"]), ["x/a.o"]);
        assert_eq!(outputs(&["-c", "-ox/b.o", "b.c"]), ["x/b.o"]);
        assert_eq!(outputs(&["-c", "src/a.c", "b.c"]), ["a.o", "b.o"]);
        assert_eq!(outputs(&["-S", "a.c"]), ["a.s"]);
        assert_eq!(outputs(&["a.c"]), ["a.out"]);
        assert_eq!(outputs(&["-E", "a.c"]), Vec::<OsString>::new());
        assert_eq!(outputs(&["-c", "-x", "c", "-"]), Vec::<OsString>::new());
    }

    #[test]
    fn lto_last_wins() {
        assert!(CompileArgs::parse(&["-c", "-flto", "a.c"]).lto);
        assert!(CompileArgs::parse(&["-c", "-flto=thin", "a.c"]).lto);
        assert!(!CompileArgs::parse(&["-c", "-flto", "-fno-lto", "a.c"]).lto);
    }

    /// (argv, the option left without a value) for each case.
    #[test]
    fn missing_value_at_end() {
        for (argv, expected) in [
            ("-c a.c -o", Some("-o")),
            ("-c a.c -MD -MF", Some("-MF")),
            ("-c a.c -target", Some("-target")),
            ("-c a.c --sysroot", Some("--sysroot")),
            ("-c a.c -x", Some("-x")),
            ("-c a.c -Xlinker", Some("-Xlinker")),
            ("-c a.c -I", Some("-I")),
            ("-c a.c -o a.o", None),
            ("-c a.c -oa.o", None),
            ("-c a.c -o -c", None),
            ("-c -- a.c -o", None),
        ] {
            let args: Vec<&str> = argv.split_whitespace().collect();
            let facts = CompileArgs::parse(&args);
            assert_eq!(
                facts.missing_value.as_deref(),
                expected.map(OsStr::new),
                "argv: {argv}"
            );
        }
        // What it would have meant is not taken: no output, no target.
        let facts = CompileArgs::parse(&["-c", "a.c", "-o"]);
        assert_eq!(
            (facts.output.clone(), facts.outputs()),
            (None, vec![OsString::from("a.o")])
        );
        assert_eq!(facts.classification(), Classification::Compile);
        assert!(
            CompileArgs::parse(&["-c", "a.c", "-target"])
                .target_args
                .is_empty()
        );
    }

    #[test]
    fn target_args_keep_separate_values() {
        let facts = CompileArgs::parse(&[
            "-target",
            "aarch64-linux-gnu",
            "--target=x",
            "-m32",
            "-march=armv8-a",
            "--sysroot",
            "/s",
            "-O2",
            "-c",
            "a.c",
        ]);
        assert_eq!(
            facts.target_args,
            [
                "-target",
                "aarch64-linux-gnu",
                "--target=x",
                "-m32",
                "-march=armv8-a",
                "--sysroot",
                "/s"
            ]
        );
    }
}
