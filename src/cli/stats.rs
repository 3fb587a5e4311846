//! `secwrap stats`: the log's counters, as `ccache -s` shows its own.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::record::history;
use crate::record::stats::Stats;

use super::{CommandStatus, no_build, plural, read_summary};

/// `--json`: one document.
#[derive(Serialize)]
struct StatsDocument<'a> {
    log: String,
    records: usize,
    builds: usize,
    /// Absent with `--build`.
    #[serde(skip_serializing_if = "Option::is_none")]
    whole_log: Option<Stats>,
    /// `--build B`, else the latest build; null in an empty log.
    build: Option<BuildStats<'a>>,
}

#[derive(Serialize)]
struct BuildStats<'a> {
    id: &'a str,
    first_time: &'a str,
    last_time: &'a str,
    #[serde(flatten)]
    stats: Stats,
}

pub(super) fn stats(
    build: Option<&str>,
    json: bool,
    log: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let (path, summary) = read_summary(log)?;
    let builds = summary.builds();
    let position = match build {
        Some(id) => Some(
            builds
                .iter()
                .position(|build| build.id == id)
                .ok_or_else(|| no_build(id, &path))?,
        ),
        None => builds.len().checked_sub(1),
    };
    let build_stats = position.map(|position| {
        let build = &builds[position];
        BuildStats {
            id: &build.id,
            first_time: &build.first_time,
            last_time: &build.last_time,
            stats: summary.stats_of(position).clone(),
        }
    });
    let whole_log = build.is_none().then(|| summary.whole_log_stats());
    let records = summary.records();
    if json {
        let document = StatsDocument {
            log: path.display().to_string(),
            records,
            builds: builds.len(),
            whole_log,
            build: build_stats,
        };
        serde_json::to_writer_pretty(&mut *out, &document).map_err(std::io::Error::other)?;
        writeln!(out)?;
        return Ok(CommandStatus::Success);
    }
    writeln!(
        out,
        "log {}: {} in {}",
        path.display(),
        plural(records, "record"),
        plural(builds.len(), "build")
    )?;
    if let Some(stats) = &whole_log {
        writeln!(out, "\nwhole log:")?;
        write_stats(out, stats)?;
    }
    if let Some(build_stats) = &build_stats {
        let name = if build_stats.id == history::UNNAMED_BUILD {
            "build `-` (records outside `secwrap run`)".to_string()
        } else {
            format!("build `{}`", build_stats.id)
        };
        writeln!(
            out,
            "\n{}{name}, {} .. {}:",
            if build.is_none() { "latest " } else { "" },
            build_stats.first_time,
            build_stats.last_time
        )?;
        write_stats(out, &build_stats.stats)?;
    }
    Ok(CommandStatus::Success)
}

/// `3 compile, 1 link_only` or `none`.
fn counts(map: &std::collections::BTreeMap<String, usize>) -> String {
    if map.is_empty() {
        return "none".to_string();
    }
    map.iter()
        .map(|(word, count)| format!("{count} {word}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `excluded in 2, present in 1`: calls that did not get a flag, by reason,
/// as `secwrap run`'s summary says it.
pub(super) fn skipped_by_reason(skipped: &std::collections::BTreeMap<String, usize>) -> String {
    skipped
        .iter()
        .map(|(reason, count)| format!("{reason} in {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_stats(out: &mut dyn Write, stats: &Stats) -> std::io::Result<()> {
    if stats.calls == 0 {
        return writeln!(out, "  no records");
    }
    let probes = if stats.build_system_probes == 0 {
        String::new()
    } else {
        format!(
            "; {}",
            plural(stats.build_system_probes, "build-system probe")
        )
    };
    writeln!(
        out,
        "  calls:                {} ({}{probes})",
        stats.calls,
        counts(&stats.kinds)
    )?;
    writeln!(
        out,
        "  flags injected:       into {} of {}",
        stats.compiles_injected,
        plural(stats.compiles, "compile")
    )?;
    writeln!(
        out,
        "  flags skipped:        {}",
        if stats.skipped.is_empty() {
            "none".to_string()
        } else {
            skipped_by_reason(&stats.skipped)
        }
    )?;
    let cache = stats.probe_cache;
    writeln!(
        out,
        "  flag-probe cache:     {}, {}",
        plural(cache.hits, "hit"),
        plural(cache.misses, "miss")
    )?;
    writeln!(out, "  failed:               {}", stats.failed)?;
    if stats.build_system_probes > 0 {
        writeln!(
            out,
            "  build-system probes:  {}, {} failed (an answer, not a failure)",
            stats.build_system_probes, stats.build_system_probes_failed
        )?;
    }
    let time = stats.secwrap_time;
    let not_measured = if time.not_measured == 0 {
        String::new()
    } else {
        format!(
            " ({} from before secwrap measured it)",
            plural(time.not_measured, "call")
        )
    };
    match time.mean_ms {
        Some(mean) => writeln!(
            out,
            "  time secwrap added:   {:.1} ms in all, {:.1} ms per call{not_measured}",
            time.total_ms, mean
        ),
        None => writeln!(out, "  time secwrap added:   not measured{not_measured}"),
    }
}
