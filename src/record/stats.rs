//! `secwrap stats`: what a set of records adds up to, as `ccache -s` sums
//! its counters. Pure: the records in, the numbers out, for the text and
//! the `--json` forms alike.
//!
//! Build-system probes (`record::build_probe`) are counted apart, as `log
//! show` counts them: a failed `cc-option` is an answer, not a failure, and
//! a probe's kind would swell the tree's compiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::Classification;
use crate::inject::SkipReason;
use crate::record::InvocationRecord;
use crate::record::history::RecordFacts;

/// The sums over some records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Every record, build-system probes included.
    pub calls: usize,
    /// The tree's calls by kind (the record's `kind`), probes left out.
    pub kinds: BTreeMap<String, usize>,
    /// The tree's compiles (`kind` `compile`), and those secwrap added
    /// flags to.
    pub compiles: usize,
    pub compiles_injected: usize,
    /// The tree's calls that did not get a flag, by the record's skip
    /// `reason` (a call counted once per reason). `not_compile` and
    /// `not_link`, a flag for another kind of job, are left out: the kinds
    /// show those. `secwrap run`'s summary counts the same.
    pub skipped: BTreeMap<String, usize>,
    /// secwrap's own flag probes (`probes[]`): answered from its cache, or
    /// run during the call.
    pub probe_cache: ProbeCache,
    /// The tree's calls that failed (exit status not 0, or a signal).
    pub failed: usize,
    /// Build-system probes, and how many of them failed.
    pub build_system_probes: usize,
    pub build_system_probes_failed: usize,
    /// The wall time secwrap added (`secwrap_ms`).
    pub secwrap_time: SecwrapTime,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeCache {
    pub hits: usize,
    pub misses: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecwrapTime {
    /// Sum over the records that have `secwrap_ms`.
    pub total_ms: f64,
    /// `total_ms / measured`; none when nothing was measured.
    pub mean_ms: Option<f64>,
    pub measured: usize,
    /// Records from before `secwrap_ms` existed.
    pub not_measured: usize,
    /// The sum kept in whole nanoseconds (what the shim measured: a
    /// `Duration`), so that sums of parts (builds, the log index's and its
    /// tail) add up to exactly the sum of the whole, in any grouping, as
    /// floats would not. `total_ms` is derived from it.
    #[serde(skip_serializing, default)]
    pub total_ns: i64,
}

impl SecwrapTime {
    fn add_ms(&mut self, ms: f64) {
        // `as` saturates: a hand-edited huge or NaN value cannot wrap.
        self.total_ns = self.total_ns.saturating_add((ms * 1e6).round() as i64);
        self.measured += 1;
        self.derive();
    }

    fn derive(&mut self) {
        self.total_ms = self.total_ns as f64 / 1e6;
        self.mean_ms = (self.measured > 0).then(|| self.total_ms / self.measured as f64);
    }
}

impl Stats {
    pub fn of<'r>(records: impl IntoIterator<Item = &'r InvocationRecord>) -> Stats {
        let mut stats = Stats::default();
        for record in records {
            stats.add(&RecordFacts::of(record));
        }
        stats
    }

    /// Counts one record.
    pub fn add(&mut self, facts: &RecordFacts<'_>) {
        let counts = facts.counts();
        self.calls += 1;
        if counts.probe {
            self.build_system_probes += 1;
            self.build_system_probes_failed += usize::from(counts.failed);
        } else {
            *self.kinds.entry(facts.kind.to_string()).or_default() += 1;
            self.failed += usize::from(counts.failed);
            if facts.kind.is(Classification::Compile) {
                self.compiles += 1;
                self.compiles_injected += usize::from(counts.injected);
            }
            let mut reasons: Vec<String> = facts
                .skip_reasons
                .iter()
                .filter(|reason| {
                    !reason.is(SkipReason::NotCompile) && !reason.is(SkipReason::NotLink)
                })
                .map(|reason| reason.to_string())
                .collect();
            reasons.sort();
            reasons.dedup();
            for reason in reasons {
                *self.skipped.entry(reason).or_default() += 1;
            }
        }
        self.probe_cache.hits += facts.probes_cached;
        self.probe_cache.misses += facts.probes_run;
        match facts.secwrap_ms {
            Some(ms) => self.secwrap_time.add_ms(ms),
            None => self.secwrap_time.not_measured += 1,
        }
    }

    /// Adds the sums of other records (another build's): the same as
    /// counting them here.
    pub fn merge(&mut self, other: &Stats) {
        let add = |into: &mut BTreeMap<String, usize>, from: &BTreeMap<String, usize>| {
            for (word, count) in from {
                *into.entry(word.clone()).or_default() += count;
            }
        };
        self.calls += other.calls;
        add(&mut self.kinds, &other.kinds);
        self.compiles += other.compiles;
        self.compiles_injected += other.compiles_injected;
        add(&mut self.skipped, &other.skipped);
        self.probe_cache.hits += other.probe_cache.hits;
        self.probe_cache.misses += other.probe_cache.misses;
        self.failed += other.failed;
        self.build_system_probes += other.build_system_probes;
        self.build_system_probes_failed += other.build_system_probes_failed;
        let time = &mut self.secwrap_time;
        time.total_ns = time.total_ns.saturating_add(other.secwrap_time.total_ns);
        time.measured += other.secwrap_time.measured;
        time.not_measured += other.secwrap_time.not_measured;
        time.derive();
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;
    use crate::inject::SkipReason;
    use crate::probe::ProbeMode;
    use crate::record::{OsText, ProbeRecord, SkippedFlag};

    /// A record of `kind` with `status`, compiling `input`.
    fn record(kind: Classification, input: &str, status: i32) -> InvocationRecord {
        let text = |value: &str| OsText::new(OsStr::new(value));
        InvocationRecord {
            version: 1,
            secwrap: "0".into(),
            time: "t".into(),
            pid: 1,
            build: None,
            cwd: text("/w"),
            compiler: text("/usr/bin/gcc"),
            launcher: None,
            identified: None,
            argv: vec![],
            exec: vec![],
            kind: kind.into(),
            injected: vec![],
            skipped: vec![],
            inputs: vec![text(input)],
            output: None,
            outputs: vec![],
            originals: vec![],
            lto: false,
            probes: vec![],
            config: "c".into(),
            status: Some(status),
            signal: None,
            duration_ms: 10.0,
            secwrap_ms: None,
            warnings: vec![],
            build_system_probe: false,
        }
    }

    fn injected(mut record: InvocationRecord, ms: f64, cached: &[bool]) -> InvocationRecord {
        record.injected = vec![OsText::new(OsStr::new("-ffunction-sections"))];
        record.secwrap_ms = Some(ms);
        record.probes = cached
            .iter()
            .map(|&cached| ProbeRecord {
                flags: vec![],
                mode: ProbeMode::Option.into(),
                supported: true,
                cached,
            })
            .collect();
        record
    }

    fn skipping(mut record: InvocationRecord, reasons: &[SkipReason]) -> InvocationRecord {
        record.skipped = reasons
            .iter()
            .map(|&reason| SkippedFlag {
                flag: OsText::new(OsStr::new("-fdata-sections")),
                reason: reason.into(),
            })
            .collect();
        record
    }

    #[track_caller]
    fn check(records: &[InvocationRecord], expected: Stats) {
        assert_eq!(Stats::of(records), expected);
    }

    /// Sums of parts merged are the sum of the whole, at any split (the
    /// log index keeps a build's sums and adds what came after).
    #[test]
    fn merged_parts_sum_as_the_whole() {
        use Classification::*;
        let records = [
            injected(record(Compile, "/w/a.c", 0), 0.1, &[false, true]),
            skipping(record(Compile, "/w/b.c", 1), &[SkipReason::Present]),
            injected(record(LinkOnly, "/w/a.o", 0), 0.2, &[true]),
            skipping(record(Compile, "/dev/null", 1), &[SkipReason::UserChoice]),
            injected(record(Compile, "/w/c.c", 0), 0.3, &[]),
        ];
        let whole = Stats::of(&records);
        assert_eq!(whole.secwrap_time.total_ms, 0.6);
        for split in 0..=records.len() {
            let mut merged = Stats::of(&records[..split]);
            merged.merge(&Stats::of(&records[split..]));
            assert_eq!(merged, whole, "split at {split}");
        }
    }

    #[test]
    fn sums_records() {
        use Classification::*;
        check(&[], Stats::default());
        let kinds = |pairs: &[(&str, usize)]| {
            pairs
                .iter()
                .map(|(kind, count)| (kind.to_string(), *count))
                .collect()
        };
        // Two compiles (one injected, one failed), a link, a failed
        // `cc-option` probe of /dev/null, one old record not measured.
        check(
            &[
                injected(record(Compile, "/w/a.c", 0), 1.5, &[false, true]),
                skipping(
                    record(Compile, "/w/bad.c", 1),
                    &[SkipReason::Present, SkipReason::Present],
                ),
                injected(record(LinkOnly, "/w/a.o", 0), 2.5, &[true]),
                skipping(record(Compile, "/dev/null", 1), &[SkipReason::UserChoice]),
            ],
            Stats {
                calls: 4,
                kinds: kinds(&[("compile", 2), ("link_only", 1)]),
                compiles: 2,
                compiles_injected: 1,
                // Once per call and reason; the probe's left out.
                skipped: kinds(&[("present", 1)]),
                probe_cache: ProbeCache { hits: 2, misses: 1 },
                failed: 1,
                build_system_probes: 1,
                build_system_probes_failed: 1,
                secwrap_time: SecwrapTime {
                    total_ms: 4.0,
                    mean_ms: Some(2.0),
                    measured: 2,
                    not_measured: 2,
                    total_ns: 4_000_000,
                },
            },
        );
        // A signal is a failure; nothing measured has no mean.
        let mut killed = record(Compile, "/w/a.c", 0);
        (killed.status, killed.signal) = (None, Some(9));
        check(
            &[killed],
            Stats {
                calls: 1,
                kinds: kinds(&[("compile", 1)]),
                compiles: 1,
                failed: 1,
                secwrap_time: SecwrapTime {
                    not_measured: 1,
                    ..SecwrapTime::default()
                },
                ..Stats::default()
            },
        );
    }
}
