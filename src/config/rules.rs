//! Rules: which flags a tree's Kconfig values ask for, the exclusions, and
//! the fingerprint of that decision.

use std::ffi::OsString;
use std::path::Path;

use globset::{GlobSet, GlobSetBuilder};
use serde::Serialize;

use super::Config;
use crate::cache::{DiskCache, FileIdentity};
use crate::error::BadInput;
use crate::kconfig::expr::Expr;
use crate::kconfig::{KconfigValue, KconfigValues};

/// The rules used when a config file has no `[[rule]]`: Xen's hidden
/// `CC_SPLIT_SECTIONS`, which `LIVEPATCH` selects (xen `6ff9a7e62b`), and
/// Linux's `LD_DEAD_CODE_DATA_ELIMINATION` (whose `KBUILD_CFLAGS_KERNEL`
/// adds the same two flags).
pub const DEFAULT_RULES: &[(&str, &str)] = &[
    ("xen-split-sections", "CC_SPLIT_SECTIONS || LIVEPATCH"),
    (
        "linux-dead-code-elimination",
        "LD_DEAD_CODE_DATA_ELIMINATION",
    ),
];
pub const SPLIT_FLAGS: &[&str] = &["-ffunction-sections", "-fdata-sections"];

/// One rule: when its expression holds, its flags are wanted.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub when: Expr,
    pub cflags: Vec<String>,
    pub ldflags: Vec<String>,
    pub required: bool,
}

/// A flag the config wants on this invocation, and the rule that wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedFlag {
    pub flag: OsString,
    pub rule: String,
    /// A compiler that rejects the rule's flags stops the build (`probe.rs`).
    pub required: bool,
}

/// The flags the rules want for one set of Kconfig values.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub cflags: Vec<WantedFlag>,
    pub ldflags: Vec<WantedFlag>,
    /// The flags of rules that read Kconfig symbols when no Kconfig values
    /// were found: what the rules would have decided is unknown, and the
    /// record must say so (`no_kconfig`) rather than show nothing.
    pub cflags_without_kconfig: Vec<WantedFlag>,
    pub ldflags_without_kconfig: Vec<WantedFlag>,
    /// Names of the rules whose condition held.
    pub fired: Vec<String>,
    pub fingerprint: String,
}

pub(super) fn default_rules() -> Vec<Rule> {
    DEFAULT_RULES
        .iter()
        .map(|(name, when)| Rule {
            name: (*name).to_string(),
            when: Expr::parse(when).expect("built-in rule expressions parse"),
            cflags: SPLIT_FLAGS.iter().map(|flag| (*flag).to_string()).collect(),
            ldflags: Vec::new(),
            required: true,
        })
        .collect()
}

/// The key of a `kconfig-` entry: the Kconfig file and the symbols read.
#[derive(Clone, Debug, Serialize)]
pub struct KconfigKey<'a> {
    /// Bumped when the values stored for a key change meaning.
    pub version: u32,
    pub kconfig: FileIdentity,
    /// Sorted, without duplicates.
    pub symbols: &'a [String],
}

impl Config {
    /// The values of just the symbols the rules read, through `cache` when
    /// there is one: keyed on the Kconfig file's identity and that symbol
    /// list, so a Linux-size `.config` (10,000 symbols) is parsed once per
    /// change, not once per compile. A bad line is an error as in
    /// [`Config::load_kconfig`], and errors are never cached.
    pub fn load_rule_values(&self, cache: Option<&DiskCache>) -> Result<KconfigValues, BadInput> {
        let Some(kconfig) = &self.kconfig else {
            return Ok(KconfigValues::default());
        };
        let mut symbols: Vec<String> = self
            .rules
            .iter()
            .flat_map(|rule| rule.when.symbols())
            .collect();
        symbols.sort();
        symbols.dedup();
        let compute = || -> Result<Vec<(String, KconfigValue)>, BadInput> {
            let values = self.load_kconfig()?;
            Ok(symbols
                .iter()
                .filter_map(|symbol| {
                    values
                        .get(symbol)
                        .map(|value| (symbol.clone(), value.clone()))
                })
                .collect())
        };
        let pairs = match (cache, FileIdentity::of(&kconfig.value)) {
            (Some(cache), Ok(identity)) => {
                let key = KconfigKey {
                    version: 1,
                    kconfig: identity,
                    symbols: &symbols,
                };
                cache.get_or_compute("kconfig", &key, compute)?.0
            }
            _ => compute()?,
        };
        let mut values = KconfigValues::default();
        for (name, value) in pairs {
            values.insert(&name, value);
        }
        Ok(values)
    }

    /// The flags the rules want under `values`.
    pub fn evaluate(&self, values: &KconfigValues) -> Decision {
        let mut decision = Decision::default();
        for rule in &self.rules {
            let wanted = |flag: &String| WantedFlag {
                flag: OsString::from(flag),
                rule: rule.name.clone(),
                required: rule.required,
            };
            if rule.when.eval(values) == crate::kconfig::Tristate::N {
                if self.kconfig.is_none() && !rule.when.symbols().is_empty() {
                    // Each flag once: the built-in rules want the same two.
                    for (flags, undecided) in [
                        (&rule.cflags, &mut decision.cflags_without_kconfig),
                        (&rule.ldflags, &mut decision.ldflags_without_kconfig),
                    ] {
                        for flag in flags {
                            if !undecided.iter().any(|seen| seen.flag == **flag) {
                                undecided.push(wanted(flag));
                            }
                        }
                    }
                }
                continue;
            }
            decision.fired.push(rule.name.clone());
            decision.cflags.extend(rule.cflags.iter().map(wanted));
            decision.ldflags.extend(rule.ldflags.iter().map(wanted));
        }
        decision.fingerprint = self.fingerprint(values);
        decision
    }

    /// Whether any of `paths` (absolute) matches an `exclude` glob, taken
    /// relative to the config root.
    pub fn is_excluded<'a>(&self, paths: impl IntoIterator<Item = &'a Path>) -> bool {
        if self.exclude_globs.is_empty() {
            return false;
        }
        let matcher = self.exclude.get_or_init(|| {
            let mut builder = GlobSetBuilder::new();
            self.exclude_globs.iter().for_each(|glob| {
                builder.add(glob.clone());
            });
            // Each glob compiled on its own at load, so the set does too.
            builder.build().unwrap_or_else(|_| GlobSet::empty())
        });
        paths.into_iter().any(|path| {
            let relative = path.strip_prefix(&self.root).unwrap_or(path);
            matcher.is_match(relative)
        })
    }

    /// A short hash of everything that decides what secwrap adds: the rules,
    /// exclusions and override switch, and the values of the Kconfig
    /// symbols the rules read. Two compiles with equal fingerprints got the
    /// same treatment. SipHash-1-3, as the cache's entry names: it tells
    /// one config from the next (`check --build`'s stale objects), it
    /// guards nothing, and the portable SHA-256 it replaced was a tenth of
    /// a warm compile's instructions.
    fn fingerprint(&self, values: &KconfigValues) -> String {
        use siphasher::sip128::{Hasher128, SipHasher13};
        use std::hash::Hasher;
        let mut hasher = SipHasher13::new();
        let mut feed = |parts: &[&[u8]]| {
            parts.iter().for_each(|part| hasher.write(part));
            hasher.write_u8(0);
        };
        for rule in &self.rules {
            feed(&[rule.name.as_bytes()]);
            feed(&[rule.when.to_string().as_bytes()]);
            rule.cflags.iter().for_each(|flag| feed(&[flag.as_bytes()]));
            feed(&[if rule.required {
                "required"
            } else {
                "optional"
            }
            .as_bytes()]);
            feed(&[b"--ldflags".as_slice()]);
            rule.ldflags
                .iter()
                .for_each(|flag| feed(&[flag.as_bytes()]));
            for symbol in rule.when.symbols() {
                let value = values.get(&symbol).map(KconfigValue::as_text);
                let value = value.as_deref().unwrap_or("<undefined>");
                feed(&[symbol.as_bytes(), b"=", value.as_bytes()]);
            }
        }
        self.exclude_patterns
            .iter()
            .for_each(|pattern| feed(&[pattern.as_bytes()]));
        feed(&[if self.override_user_choice {
            "override"
        } else {
            "respect"
        }
        .as_bytes()]);
        crate::cache::hex(&hasher.finish128().as_bytes()[..8])
    }
}
