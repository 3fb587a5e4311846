//! The flags a `secwrap.toml` found upward may ask for (README, "Trust").
//!
//! Owning a file does not prove writing it (a tarball unpacked by the user
//! is the user's), so, as ccache keeps "unsafe options" out of its
//! directory config, a found file may only add flags that change code
//! generation and diagnostics: none that run a program (`-wrapper`,
//! `-fplugin`, `-B`, `-fuse-ld=`, `-specs`), read a file (`@file`,
//! `-include`, `-imacros`, `-fprofile-use=`), write one (`-fdump-*`,
//! `-fprofile-*`), or pass words to another tool (`-Wl,`, `-Wa,`, `-Wp,`,
//! `-Xlinker`, `-Xassembler`). Everything else needs the user's own config,
//! `SECWRAP_CONFIG`, or a `safe_dirs` entry.

/// `-f` options that read, write or load files even without a value.
const UNSAFE_F_PREFIXES: &[&str] = &[
    "auto-profile",
    "callgraph-info",
    "dump-",
    "plugin",
    "profile-",
    "save-optimization-record",
    "sanitize",
    "use-ld",
];

/// `-f` options that may take a value, and only a plain one.
const F_WITH_VALUE: &[&str] = &[
    "cf-protection",
    "min-function-alignment",
    "patchable-function-entry",
    "visibility",
    "zero-call-used-regs",
];

/// Whether a found file may add `flag` (one word).
pub fn is_safe_flag(flag: &str) -> bool {
    if let Some(rest) = flag.strip_prefix("-f") {
        let option = rest.strip_prefix("no-").unwrap_or(rest);
        if UNSAFE_F_PREFIXES
            .iter()
            .any(|prefix| option.starts_with(prefix))
        {
            return false;
        }
        return match option.split_once('=') {
            None => is_name(option),
            Some((name, value)) => F_WITH_VALUE.contains(&name) && is_plain_value(value),
        };
    }
    if let Some(rest) = flag.strip_prefix("-m") {
        // Target options select code generation (`-mfentry`,
        // `-mindirect-branch=thunk-extern`); none runs or reads anything.
        return match rest.split_once('=') {
            None => is_name(rest),
            Some((name, value)) => is_name(name) && is_plain_value(value),
        };
    }
    if let Some(rest) = flag.strip_prefix("-W") {
        // `-Wl,`, `-Wa,` and `-Wp,` pass words on: a comma is never allowed.
        return match rest.split_once('=') {
            None => is_name(rest),
            Some((name, value)) => is_name(name) && is_plain_value(value),
        };
    }
    if let Some(level) = flag.strip_prefix("-O") {
        return matches!(level, "" | "0" | "1" | "2" | "3" | "s" | "z" | "g" | "fast");
    }
    if let Some(rest) = flag.strip_prefix("-g") {
        return rest.is_empty() || is_name(rest);
    }
    false
}

/// An option name: lowercase letters, digits and inner dashes.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// A value that can name no file: letters, digits, `,`, `-`, `_`, `.`
/// (no `/`), and not starting with `.`.
fn is_plain_value(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('.')
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b',' | b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_livepatch_builds_use_is_safe() {
        for flag in [
            "-ffunction-sections",
            "-fdata-sections",
            "-fno-ipa-sra",
            "-fno-reorder-functions",
            "-fno-inline-functions-called-once",
            "-fno-optimize-sibling-calls",
            "-mfentry",
            "-mrecord-mcount",
            "-mindirect-branch=thunk-extern",
            "-fpatchable-function-entry=16,8",
            "-fzero-call-used-regs=used-gpr",
            "-Wvla",
            "-Wno-vla",
            "-Werror=implicit-function-declaration",
            "-Wframe-larger-than=2048",
            "-O2",
            "-Os",
            "-Og",
            "-g",
            "-gdwarf-4",
        ] {
            assert!(is_safe_flag(flag), "{flag}");
        }
    }

    #[test]
    fn what_runs_reads_or_writes_files_is_not() {
        for flag in [
            "-B",
            "-B/tmp/evil",
            "-wrapper",
            "/tmp/evil.sh",
            "-fplugin=/tmp/x.so",
            "-fplugin-arg-x-y=z",
            "-fno-plugin",
            "-specs=/tmp/s",
            "@/root/secret",
            "-include",
            "-include/etc/passwd",
            "-imacros",
            "-fuse-ld=/tmp/ld",
            "-fuse-ld=gold",
            "-Wl,--gc-sections",
            "-Wa,-adhln=/tmp/listing",
            "-Wp,-MD,/etc/x",
            "-Xlinker",
            "-Xassembler",
            "-fdump-tree-all",
            "-fprofile-generate=/tmp/p",
            "-fprofile-use",
            "-fauto-profile=/tmp/p",
            "-fsanitize-blacklist=/etc/shadow",
            "-fsave-optimization-record",
            "-fvisibility=../x",
            "-fpatchable-function-entry=/x",
            "-mstack-protector-guard-symbol=/x",
            "-Werror=/x",
            "-O9",
            "-o",
            "-ffunction-sections -wrapper",
            "-fFoo",
            "-f",
            "-m",
            "-W",
            "",
        ] {
            assert!(!is_safe_flag(flag), "{flag}");
        }
    }
}
