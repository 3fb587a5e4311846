//! Raw argv: response files expanded for classification.
//!
//! gcc and clang read `@file` as more arguments (libiberty's `expandargv`):
//! whitespace separates words, single and double quotes group, a backslash
//! escapes the next character anywhere, `@file`s inside are expanded in turn,
//! and "if file does not exist, or cannot be read, then the option will be
//! treated literally, and not removed" (gcc manual, Overall Options). secwrap
//! classifies the expanded words but runs the command line as received, so
//! the compiler reads its response files itself.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// How deep `@file`s may nest before the rest is kept literally; libiberty
/// stops at 2000 iterations, and a cycle would otherwise never end.
const MAX_RESPONSE_FILE_DEPTH: usize = 64;

/// `args` with every readable `@file` replaced by its words. Paths are
/// relative to `cwd`, as the driver reads them.
pub fn expand_response_files(args: &[OsString], cwd: &Path) -> Vec<OsString> {
    let mut expanded = Vec::with_capacity(args.len());
    for arg in args {
        expand_into(arg, cwd, 0, &mut expanded);
    }
    expanded
}

fn expand_into(arg: &OsStr, cwd: &Path, depth: usize, out: &mut Vec<OsString>) {
    let bytes = arg.as_bytes();
    let contents = match bytes.strip_prefix(b"@") {
        Some(name) if !name.is_empty() && depth < MAX_RESPONSE_FILE_DEPTH => {
            std::fs::read(cwd.join(OsStr::from_bytes(name))).ok()
        }
        _ => None,
    };
    match contents {
        Some(contents) => {
            for word in tokenize_gnu(&contents) {
                expand_into(&word, cwd, depth + 1, out);
            }
        }
        None => out.push(arg.to_os_string()),
    }
}

/// Splits a response file's contents into words as libiberty's `buildargv`.
pub fn tokenize_gnu(contents: &[u8]) -> Vec<OsString> {
    let mut words = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let (mut in_single, mut in_double, mut escaped) = (false, false, false);
    for &byte in contents {
        if escaped {
            escaped = false;
            word.get_or_insert_with(Vec::new).push(byte);
        } else if byte == b'\\' {
            escaped = true;
            word.get_or_insert_with(Vec::new);
        } else if in_single {
            if byte == b'\'' {
                in_single = false;
            } else {
                word.get_or_insert_with(Vec::new).push(byte);
            }
        } else if in_double {
            if byte == b'"' {
                in_double = false;
            } else {
                word.get_or_insert_with(Vec::new).push(byte);
            }
        } else if byte.is_ascii_whitespace() {
            words.extend(word.take().map(OsString::from_vec));
        } else {
            let current = word.get_or_insert_with(Vec::new);
            match byte {
                b'\'' => in_single = true,
                b'"' => in_double = true,
                _ => current.push(byte),
            }
        }
    }
    words.extend(word.map(OsString::from_vec));
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(contents: &str, expected: &[&str]) {
        assert_eq!(
            tokenize_gnu(contents.as_bytes()),
            expected,
            "contents: {contents:?}"
        );
    }

    #[test]
    fn tokenizes_like_buildargv() {
        check("", &[]);
        check("  -c\ta.c\n-o  a.o \n", &["-c", "a.c", "-o", "a.o"]);
        check("'a b' \"c d\"", &["a b", "c d"]);
        check(r#"-DX=\"str\" a\ b"#, &["-DX=\"str\"", "a b"]);
        check(r#"'it''s' "x\"y""#, &["its", "x\"y"]);
        check(r#""" ''"#, &["", ""]);
        check("a\"b c\"d", &["ab cd"]);
        check(r"trailing\", &["trailing"]);
    }

    #[test]
    fn non_utf8_bytes_survive() {
        let words = tokenize_gnu(b"-c caf\xe9.c");
        assert_eq!(words[1].as_bytes(), b"caf\xe9.c");
    }

    #[test]
    fn expands_nested_and_keeps_unreadable_literally() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("outer.rsp"), "-c @inner.rsp @missing.rsp").unwrap();
        std::fs::write(dir.path().join("inner.rsp"), "'x y.c' -o out.o").unwrap();
        std::fs::write(dir.path().join("loop.rsp"), "@loop.rsp").unwrap();
        let args: Vec<OsString> = ["@outer.rsp", "-O2", "@", "@loop.rsp"]
            .iter()
            .map(OsString::from)
            .collect();
        let expanded = expand_response_files(&args, dir.path());
        assert_eq!(
            expanded,
            [
                "-c",
                "x y.c",
                "-o",
                "out.o",
                "@missing.rsp",
                "-O2",
                "@",
                "@loop.rsp"
            ]
        );
    }
}
