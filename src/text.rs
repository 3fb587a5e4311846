//! Words for people: counts with their noun, the one way every message
//! says "1 object", "2 objects" (CLI summaries and `livepatch` reports).

/// `1 invocation`, `2 invocations`, `0 entries`, `2 misses`: a count and
/// its noun, singular for exactly one. A noun ending in a consonant and `y`
/// takes `ies` (`entry`), one ending in `s`, `x`, `z`, `ch` or `sh` takes
/// `es` (`miss`), any other an `s`; the CLI's counted nouns are regular.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        return format!("1 {noun}");
    }
    let bytes = noun.as_bytes();
    match bytes {
        [.., before, b'y'] if !b"aeiou".contains(before) => {
            format!("{count} {}ies", &noun[..noun.len() - 1])
        }
        [.., b's' | b'x' | b'z'] | [.., b'c' | b's', b'h'] => format!("{count} {noun}es"),
        _ => format!("{count} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_plural(count: usize, noun: &str, expected: &str) {
        assert_eq!(plural(count, noun), expected, "{count} {noun}");
    }

    #[test]
    fn plural_is_singular_for_one_only() {
        check_plural(0, "invocation", "0 invocations");
        check_plural(1, "invocation", "1 invocation");
        check_plural(2, "invocation", "2 invocations");
        check_plural(1, "entry", "1 entry");
        check_plural(0, "entry", "0 entries");
        check_plural(3, "entry", "3 entries");
        check_plural(2, "key", "2 keys");
        check_plural(1, "build-system probe", "1 build-system probe");
        check_plural(5, "build-system probe", "5 build-system probes");
        check_plural(2, "bad line", "2 bad lines");
        check_plural(1, "Kconfig symbol", "1 Kconfig symbol");
        check_plural(12, "object", "12 objects");
        check_plural(2, "miss", "2 misses");
        check_plural(1, "miss", "1 miss");
        check_plural(0, "cache hit", "0 cache hits");
        check_plural(3, "patch", "3 patches");
        check_plural(2, "day", "2 days");
    }
}
