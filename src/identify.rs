//! Identification: what a program of unknown name behind secwrap is, told
//! by asking it rather than guessed from its name.
//!
//! A compiler is called by whatever name the build gives it: a copy or
//! link named `mycc` or `kgcc`, a vendor driver, a wrapper program that
//! execs gcc. When the name is not a driver's (`compiler::compiler_family`)
//! nor a known tool's (`compiler::is_known_tool`), and the command line
//! reads as a C/C++ compile ([`worth_asking`]), the program is asked once
//! to preprocess [`MARKER_SOURCE`], as sccache's `detect_c_compiler`
//! preprocesses a test file for `__clang__` and `__GNUC__`: the macros a
//! compiler defines say what it is, whatever it calls itself. The answer
//! ([`family_from_preprocessed`]) is cached by the file's identity
//! (`probe::Prober::identify`), so each program is asked once.
//!
//! This module is the pure part: which calls are worth asking about and
//! what the output means. `probe.rs` runs the program, as it runs every
//! question secwrap asks a compiler.

use crate::classify::{Classification, CompileArgs};
use crate::compiler::Family;

/// The source the program is asked to preprocess (`-E -x c`). Each branch
/// leaves one string literal, which no macro can change. sccache's order:
/// nvcc, the NVIDIA HPC compilers and MSVC-compatible drivers (clang-cl
/// defines `_MSC_VER`) first, whatever else they define, then clang
/// (which also defines `__GNUC__`), then gcc.
pub const MARKER_SOURCE: &str = "\
#if defined(__NVCC__) || defined(__NVCOMPILER) || defined(_MSC_VER)
\"secwrap-family: other\"
#elif defined(__clang__)
\"secwrap-family: clang\"
#elif defined(__GNUC__)
\"secwrap-family: gcc\"
#else
\"secwrap-family: other\"
#endif
";

/// What a marker line of [`MARKER_SOURCE`] says, if `line` is one.
fn marker(line: &str) -> Option<Option<Family>> {
    match line.trim() {
        "\"secwrap-family: gcc\"" => Some(Some(Family::Gcc)),
        "\"secwrap-family: clang\"" => Some(Some(Family::Clang)),
        "\"secwrap-family: other\"" => Some(None),
        _ => None,
    }
}

/// The family the preprocessed [`MARKER_SOURCE`] names: exactly one
/// marker line must be left, as a preprocessor leaves it. A program that
/// echoes or copies its input (every branch still there) or prints
/// something else is no gcc- or clang-like compiler.
pub fn family_from_preprocessed(output: &str) -> Option<Family> {
    let mut markers = output.lines().filter_map(marker);
    let family = markers.next()?;
    match markers.next() {
        None => family,
        Some(_) => None,
    }
}

/// Whether a program of unknown name, called with this command line, is
/// worth asking what it is: only when the line reads as a compile of a
/// C-family source (`-c`, `-S`, `-E`, `-fsyntax-only` or a link, with a
/// `.c`/`.cc`/`-x c` input), so that `secwrap ./deploy.sh prod` is never
/// run with a probe's arguments.
pub fn worth_asking(args: &CompileArgs, classification: Classification) -> bool {
    matches!(
        classification,
        Classification::Compile
            | Classification::CompileAndLink
            | Classification::PreprocessOnly
            | Classification::SyntaxCheck
    ) && args.has_compiled_source()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_output(output: &str, expected: Option<Family>) {
        assert_eq!(family_from_preprocessed(output), expected, "{output:?}");
    }

    #[test]
    fn preprocessed_markers() {
        // gcc 12 and clang 14 on MARKER_SOURCE, line markers included.
        check_output(
            "# 0 \"/tmp/secwrap-probe-x/identify.c\"\n# 0 \"<built-in>\"\n\n\"secwrap-family: gcc\"\n",
            Some(Family::Gcc),
        );
        check_output(
            "# 1 \"/tmp/x/identify.c\"\n# 1 \"<built-in>\" 1\n\n\n\n\"secwrap-family: clang\"\n",
            Some(Family::Clang),
        );
        check_output("  \"secwrap-family: gcc\"  \r\n", Some(Family::Gcc));
        // nvcc, clang-cl, an unknown compiler.
        check_output("\"secwrap-family: other\"\n", None);
        // Not preprocessed: a `cat`, a script that copies its input.
        check_output(MARKER_SOURCE, None);
        check_output("\"secwrap-family: gcc\"\n\"secwrap-family: gcc\"\n", None);
        // Anything else a program prints.
        check_output("", None);
        check_output("deployed to production\n", None);
        check_output("secwrap-family: gcc\n", None);
        check_output("\"secwrap-family: gcc\" extra\n", None);
        check_output("\"secwrap-family: icc\"\n", None);
    }

    #[track_caller]
    fn check_asking(line: &[&str], expected: bool) {
        let args = CompileArgs::parse(line);
        let classification = args.classification();
        assert_eq!(worth_asking(&args, classification), expected, "{line:?}");
    }

    #[test]
    fn which_lines_are_worth_asking_about() {
        for line in [
            &["-c", "a.c"][..],
            &["-c", "a.c", "-o", "a.o"],
            &["-S", "b.cc"],
            &["a.c", "-o", "prog"],
            &["-E", "a.c"],
            &["-x", "c", "-E", "-"],
            &["-fsyntax-only", "a.cpp"],
            &["-c", "-x", "c", "config"],
            &["-c", "m.m"],
        ] {
            check_asking(line, true);
        }
        for line in [
            &["prod"][..],
            &["arg"],
            &[],
            &["--version"],
            &["-v"],
            &["--help"],
            &["-dumpmachine"],
            &["a.o", "b.o", "-o", "prog"],
            &["-c", "start.S"],
            &["-c", "x.s"],
            &["-c", "a.f90"],
            &["-x", "f95", "-c", "a"],
            &["-c"],
            &["deploy.sh", "--target", "prod"],
        ] {
            check_asking(line, false);
        }
    }
}
