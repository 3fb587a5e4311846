//! Raw argv: response files expanded for classification.
//!
//! gcc and clang read `@file` as more arguments (libiberty's `expandargv`):
//! whitespace separates words, single and double quotes group, a backslash
//! escapes the next character anywhere, `@file`s inside are expanded in turn,
//! and "if file does not exist, or cannot be read, then the option will be
//! treated literally, and not removed" (gcc manual, Overall Options). secwrap
//! classifies the expanded words but runs the command line as received, so
//! the compiler reads its response files itself.
//!
//! The expansion is bounded as libiberty bounds it, and never touches what
//! the compiler must read itself:
//! - at most [`EXPANSION_LIMIT`] `@` words on the whole line, counted as
//!   `expandargv` counts them (every word starting with `@`, readable or
//!   not, the words read from files included); gcc fails on the one past
//!   it with "too many @-files encountered", so a file naming itself twice
//!   ends after 2000 words instead of 2^64;
//! - only regular files are read (libiberty sizes the file with `fseek` and
//!   `ftell`, which a FIFO or pipe fails, so it keeps `@fifo` literally; a
//!   device such as `/dev/zero` sizes as 0). Reading a FIFO or a pipe
//!   (`<(...)` is `/dev/fd/N`) would take its data from the compiler;
//! - at most [`MAX_TOTAL_BYTES`] read in all.
//!
//! Past a limit the rest of the line is kept literally and the problem is
//! reported ([`Expanded::problem`]): the words alone then cannot show what
//! the compile is, and the caller must not claim that they do.

use std::ffi::{OsStr, OsString};
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::BadInput;

/// libiberty's `expandargv` starts `iteration_limit` at 2000 and fails when
/// `--iteration_limit == 0`, that is on the 2000th `@` word: 1999 are
/// expanded (a chain of 1999 files works with gcc 12, of 2000 does not).
pub const EXPANSION_LIMIT: usize = 2000;

/// The most secwrap reads from response files for one command line, in all.
/// gcc has no such cap; a line this long is not a compile anyone reviews,
/// and what secwrap holds stays bounded.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// Why the expansion stopped short, or left a `@file` to the compiler.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpansionProblem {
    /// The line names more `@` words than libiberty accepts: gcc fails
    /// with "too many @-files encountered" and compiles nothing. `path` is
    /// the `@file` at which the limit was reached.
    #[error("too many @-files (libiberty's limit, {EXPANSION_LIMIT})")]
    TooManyFiles { path: PathBuf },
    /// Reading `path` would take the response files past
    /// [`MAX_TOTAL_BYTES`]: it and the rest of the line are not expanded.
    #[error("response files larger than {} MiB in all: not read", MAX_TOTAL_BYTES >> 20)]
    TooLarge { path: PathBuf },
    /// `path` exists but is not a regular file (a FIFO, a pipe, a device,
    /// a directory): left, unread, for the compiler.
    #[error(
        "not a regular file: its words are left unread for the compiler, so no flag can be planned for them"
    )]
    NotRegular { path: PathBuf },
}

impl ExpansionProblem {
    /// The `@file` the problem is about (joined to the working directory).
    pub fn path(&self) -> &Path {
        match self {
            ExpansionProblem::TooManyFiles { path }
            | ExpansionProblem::TooLarge { path }
            | ExpansionProblem::NotRegular { path } => path,
        }
    }

    /// Whether the expansion stopped here, leaving the rest of the line
    /// unexpanded (a `NotRegular` file only leaves itself).
    pub fn stops_expansion(&self) -> bool {
        !matches!(self, ExpansionProblem::NotRegular { .. })
    }

    /// The problem as bad input, for the caller's `on_error` policy.
    pub fn bad_input(&self) -> BadInput {
        BadInput {
            path: self.path().to_path_buf(),
            position: None,
            message: self.to_string(),
        }
    }
}

/// A command line with its response files expanded, as far as they could be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    pub args: Vec<OsString>,
    /// The expansion's problem, if it had one: one that stopped it, else
    /// the first `@file` left to the compiler.
    pub problem: Option<ExpansionProblem>,
}

/// `args` with every readable `@file` replaced by its words. Paths are
/// relative to `cwd`, as the driver reads them.
pub fn expand_response_files(args: &[OsString], cwd: &Path) -> Vec<OsString> {
    expand(args, cwd).args
}

/// Expands `args` within libiberty's limits and secwrap's byte cap; see the
/// module documentation.
pub fn expand(args: &[OsString], cwd: &Path) -> Expanded {
    expand_within(args, cwd, MAX_TOTAL_BYTES)
}

fn expand_within(args: &[OsString], cwd: &Path, max_total_bytes: u64) -> Expanded {
    let mut out = Vec::with_capacity(args.len());
    let mut problem: Option<ExpansionProblem> = None;
    // Words still to look at, the next one last: a file's words go on top,
    // so they are looked at (and `@file`s in them expanded) in place, as
    // `expandargv` rescans what it has spliced in. A loop, not recursion:
    // nesting is bounded only by the count.
    let mut pending: Vec<OsString> = args.iter().rev().cloned().collect();
    let mut at_words = 0;
    let mut bytes_read = 0;
    while let Some(word) = pending.pop() {
        let Some(name) = word.as_bytes().strip_prefix(b"@") else {
            out.push(word);
            continue;
        };
        at_words += 1;
        let path = cwd.join(OsStr::from_bytes(name));
        if at_words >= EXPANSION_LIMIT {
            problem = Some(ExpansionProblem::TooManyFiles { path });
        } else if name.is_empty() {
            // `@` alone: counted, as libiberty counts it, and kept.
            out.push(word);
            continue;
        } else {
            match read_regular(&path, max_total_bytes - bytes_read) {
                Contents::Words(contents) => {
                    bytes_read += contents.len() as u64;
                    pending.extend(tokenize_gnu(&contents).into_iter().rev());
                    continue;
                }
                Contents::Unreadable => {
                    out.push(word);
                    continue;
                }
                Contents::NotRegular => {
                    problem.get_or_insert(ExpansionProblem::NotRegular { path });
                    out.push(word);
                    continue;
                }
                Contents::TooLarge => problem = Some(ExpansionProblem::TooLarge { path }),
            }
        }
        // Stopped: this word and everything after it stay as they are.
        out.push(word);
        out.extend(pending.into_iter().rev());
        break;
    }
    Expanded { args: out, problem }
}

/// What reading one `@file` gave.
enum Contents {
    Words(Vec<u8>),
    /// Missing, or could not be opened or read: kept literally, as gcc does.
    Unreadable,
    NotRegular,
    /// Larger than what is left of the byte budget.
    TooLarge,
}

/// Reads `path` if it is a regular file of at most `budget` bytes.
fn read_regular(path: &Path, budget: u64) -> Contents {
    // `stat` before opening, as `expandargv` does: a FIFO is never opened,
    // because opening it for reading would release a writer blocked in its
    // own `open`, whose data would then go nowhere instead of to the
    // compiler.
    match std::fs::metadata(path) {
        Err(_) => return Contents::Unreadable,
        Ok(metadata) if !metadata.is_file() => return Contents::NotRegular,
        Ok(_) => {}
    }
    // The `fstat` of the opened file decides. `O_NONBLOCK` in case the path
    // became a FIFO since the `stat`: then the open does not wait for a
    // writer either (and `O_NOCTTY`, in case it became a terminal).
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    else {
        return Contents::Unreadable;
    };
    let Ok(metadata) = file.metadata() else {
        return Contents::Unreadable;
    };
    if !metadata.is_file() {
        return Contents::NotRegular;
    }
    if metadata.len() > budget {
        return Contents::TooLarge;
    }
    let mut contents = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or_default());
    // One byte more than the budget: a file that grows while it is read
    // still cannot take secwrap past the cap.
    match file.take(budget + 1).read_to_end(&mut contents) {
        Ok(_) if contents.len() as u64 > budget => Contents::TooLarge,
        Ok(_) => Contents::Words(contents),
        Err(_) => Contents::Unreadable,
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
    use std::os::fd::{FromRawFd, OwnedFd};

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

    /// What `expand` made of `args` in `dir`: the words, and the problem
    /// as `kind:path` (relative to `dir` when inside it).
    fn expand_in(dir: &Path, args: &[&str], max_total_bytes: u64) -> (Vec<String>, String) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let expanded = expand_within(&args, dir, max_total_bytes);
        let words = expanded
            .args
            .iter()
            .map(|word| word.to_string_lossy().into_owned())
            .collect();
        let problem = match &expanded.problem {
            None => String::new(),
            Some(problem) => {
                let kind = match problem {
                    ExpansionProblem::TooManyFiles { .. } => "too_many_files",
                    ExpansionProblem::TooLarge { .. } => "too_large",
                    ExpansionProblem::NotRegular { .. } => "not_regular",
                };
                let path = problem.path();
                let shown = path.strip_prefix(dir).unwrap_or(path);
                format!("{kind}:{}", shown.display())
            }
        };
        (words, problem)
    }

    /// A response file per (name, contents) in a fresh directory.
    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents).unwrap();
        }
        dir
    }

    /// (args, expected words, expected problem) against one tree.
    #[track_caller]
    fn check_expansion(files: &[(&str, &str)], cases: &[(&[&str], &[&str], &str)]) {
        check_expansion_in(tree(files).path(), cases);
    }

    #[test]
    fn expands_nested_and_keeps_unreadable_literally() {
        check_expansion(
            &[
                ("outer.rsp", "-c @inner.rsp @missing.rsp"),
                ("inner.rsp", "'x y.c' -o out.o"),
                ("empty.rsp", " \n"),
                ("a.c", ""),
            ],
            &[
                (
                    &["@outer.rsp", "-O2", "@"],
                    &["-c", "x y.c", "-o", "out.o", "@missing.rsp", "-O2", "@"],
                    "",
                ),
                (&["-c", "@empty.rsp", "a.c"], &["-c", "a.c"], ""),
                // Open fails (a path through a file): literal.
                (&["@a.c/x"], &["@a.c/x"], ""),
            ],
        );
    }

    #[test]
    fn open_failures_stay_literal() {
        let dir = tree(&[]);
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("dangling")).unwrap();
        assert_eq!(
            expand_in(dir.path(), &["@loop", "@dangling"], MAX_TOTAL_BYTES),
            (vec!["@loop".into(), "@dangling".into()], String::new())
        );
    }

    #[test]
    fn counts_at_words_as_libiberty() {
        // A chain of 1999 files expands; of 2000, the 2000th `@` word is one
        // too many (gcc 12: "too many @-files encountered"), and so is the
        // 2001st file's: the rest stays literal.
        let dir = tree(&[]);
        for length in [EXPANSION_LIMIT - 1, EXPANSION_LIMIT + 1] {
            for index in 1..length {
                let next = format!("@c{}.rsp", index + 1);
                std::fs::write(dir.path().join(format!("c{index}.rsp")), next).unwrap();
            }
            std::fs::write(dir.path().join(format!("c{length}.rsp")), "-c a.c").unwrap();
            let (words, problem) = expand_in(dir.path(), &["@c1.rsp", "-O2"], MAX_TOTAL_BYTES);
            if length < EXPANSION_LIMIT {
                assert_eq!(
                    (words, problem),
                    (vec!["-c".into(), "a.c".into(), "-O2".into()], String::new())
                );
            } else {
                let last = format!("@c{EXPANSION_LIMIT}.rsp");
                assert_eq!(words, [last.as_str(), "-O2"]);
                assert_eq!(problem, format!("too_many_files:c{EXPANSION_LIMIT}.rsp"));
            }
        }
        // Words that are not files count too, as `expandargv` counts them
        // before it looks.
        let missing: Vec<String> = (0..EXPANSION_LIMIT)
            .map(|index| format!("@m{index}"))
            .collect();
        let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
        let (words, problem) = expand_in(dir.path(), &missing, MAX_TOTAL_BYTES);
        assert_eq!(words, missing);
        assert_eq!(problem, format!("too_many_files:m{}", EXPANSION_LIMIT - 1));
    }

    #[test]
    fn self_reference_ends_at_the_limit() {
        let dir = tree(&[
            ("loop.rsp", "@loop.rsp"),
            ("self2.rsp", "-c a.c -o a.o @self2.rsp @self2.rsp"),
        ]);
        assert_eq!(
            expand_in(dir.path(), &["@loop.rsp", "-O2"], MAX_TOTAL_BYTES),
            (
                vec!["@loop.rsp".into(), "-O2".into()],
                "too_many_files:loop.rsp".into()
            )
        );
        // 2^64 words unbounded; bounded, each of the 1999 expansions adds
        // at most its file's six words.
        let (words, problem) = expand_in(dir.path(), &["@self2.rsp"], MAX_TOTAL_BYTES);
        assert_eq!(problem, "too_many_files:self2.rsp");
        assert!(words.len() <= 6 * EXPANSION_LIMIT, "{} words", words.len());
        assert_eq!(words[..4], ["-c", "a.c", "-o", "a.o"]);
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tree(&[("inner.rsp", "-c a.c")]);
        let fifo = dir.path().join("args.fifo");
        let fifo_name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo_name.as_ptr(), 0o600) }, 0);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        check_expansion_in(
            dir.path(),
            &[
                (&["@/dev/zero"], &["@/dev/zero"], "not_regular:/dev/zero"),
                (&["@/dev/null"], &["@/dev/null"], "not_regular:/dev/null"),
                (&["@args.fifo"], &["@args.fifo"], "not_regular:args.fifo"),
                (&["@sub"], &["@sub"], "not_regular:sub"),
                // The others are still expanded; the first one is reported.
                (
                    &["@args.fifo", "@inner.rsp", "@/dev/zero"],
                    &["@args.fifo", "-c", "a.c", "@/dev/zero"],
                    "not_regular:args.fifo",
                ),
            ],
        );
    }

    #[track_caller]
    fn check_expansion_in(dir: &Path, cases: &[(&[&str], &[&str], &str)]) {
        for (args, words, problem) in cases {
            let expected = (
                words
                    .iter()
                    .map(|word| word.to_string())
                    .collect::<Vec<_>>(),
                problem.to_string(),
            );
            assert_eq!(
                expand_in(dir, args, MAX_TOTAL_BYTES),
                expected,
                "args: {args:?}"
            );
        }
    }

    #[test]
    fn pipes_are_left_to_the_compiler() {
        // `gcc @<(echo -c a.c)`: the shell passes `/dev/fd/N`, or
        // `/proc/self/fd/N`; its data must still be there afterwards.
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut writer = std::fs::File::from(writer);
        std::io::Write::write_all(&mut writer, b"-c a.c -o p.o").unwrap();
        drop(writer);
        let dir = tree(&[]);
        let names = [
            format!("/dev/fd/{}", fds[0]),
            format!("/proc/self/fd/{}", fds[0]),
        ];
        for name in &names {
            let word = format!("@{name}");
            assert_eq!(
                expand_in(dir.path(), &[&word], MAX_TOTAL_BYTES),
                (vec![word.clone()], format!("not_regular:{name}"))
            );
        }
        let mut left = String::new();
        std::fs::File::from(reader)
            .read_to_string(&mut left)
            .unwrap();
        assert_eq!(left, "-c a.c -o p.o");
        // `@/dev/stdin` is whatever the test's stdin is: read only if that
        // is a regular file, as libiberty reads it then too.
        if std::fs::metadata("/dev/stdin").is_ok_and(|metadata| !metadata.is_file()) {
            assert_eq!(
                expand_in(dir.path(), &["@/dev/stdin"], MAX_TOTAL_BYTES),
                (vec!["@/dev/stdin".into()], "not_regular:/dev/stdin".into())
            );
        }
    }

    #[test]
    fn bytes_are_capped_across_all_files() {
        let dir = tree(&[
            ("a.rsp", "-c a.c"),
            ("b.rsp", "-o a.o"),
            ("outer.rsp", "@a.rsp @b.rsp"),
        ]);
        // 65 MiB, sparse: refused from its size, never read.
        let big = std::fs::File::create(dir.path().join("big.rsp")).unwrap();
        big.set_len(MAX_TOTAL_BYTES + (1 << 20)).unwrap();
        assert_eq!(
            expand_in(
                dir.path(),
                &["@a.rsp", "@big.rsp", "@b.rsp"],
                MAX_TOTAL_BYTES
            ),
            (
                vec![
                    "-c".into(),
                    "a.c".into(),
                    "@big.rsp".into(),
                    "@b.rsp".into()
                ],
                "too_large:big.rsp".into()
            )
        );
        // The cap counts every file read: 13 bytes for outer, 6 for a, so
        // b's 6 do not fit in 19, and do in 25.
        let (words, problem) = expand_in(dir.path(), &["@outer.rsp", "-O2"], 19);
        assert_eq!(words, ["-c", "a.c", "@b.rsp", "-O2"]);
        assert_eq!(problem, "too_large:b.rsp");
        let (words, problem) = expand_in(dir.path(), &["@outer.rsp", "-O2"], 25);
        assert_eq!(words, ["-c", "a.c", "-o", "a.o", "-O2"]);
        assert_eq!(problem, "");
    }

    #[test]
    fn a_limit_outranks_a_file_left_to_the_compiler() {
        let dir = tree(&[("loop.rsp", "@loop.rsp")]);
        let (_, problem) = expand_in(dir.path(), &["@/dev/zero", "@loop.rsp"], MAX_TOTAL_BYTES);
        assert_eq!(problem, "too_many_files:loop.rsp");
    }

    #[test]
    fn problems_read_as_errors() {
        let problem = ExpansionProblem::TooManyFiles {
            path: PathBuf::from("/t/self.rsp"),
        };
        assert_eq!(
            problem.bad_input().to_string(),
            "/t/self.rsp: too many @-files (libiberty's limit, 2000)"
        );
        let problem = ExpansionProblem::TooLarge {
            path: PathBuf::from("/t/big.rsp"),
        };
        assert_eq!(
            problem.bad_input().to_string(),
            "/t/big.rsp: response files larger than 64 MiB in all: not read"
        );
    }
}
