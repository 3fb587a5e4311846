#!/usr/bin/env python3
"""secwrap benchmark: overhead of the shim against plain gcc and the usual alternatives.

Run it through `scripts/bench [--quick]` (which builds the release binary first).
Python 3.11 standard library only. What it measures and how: benches/README.md.

Everything happens in a temporary directory that is removed at the end. The
report goes to stdout; progress goes to stderr; the numbers (with the raw
samples) go to benches/results/latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results" / "latest.json"
SPLIT_FLAGS = ["-ffunction-sections", "-fdata-sections"]
LINUX_TARBALL = "/usr/src/linux-source-6.1.tar.xz"
# The host triple, under which `.cargo/config.toml`'s `target = "host-tuple"` puts the binaries.
HOST = next((line.split(": ", 1)[1] for line in subprocess.run(["rustc", "-vV"], capture_output=True, text=True)
             .stdout.splitlines() if line.startswith("host: ")), "unknown")

# Records of one Linux 6.1 x86_64 tinyconfig build through `secwrap run` (issue 12).
LINUX_BUILD_RECORDS = 553

FULL = {
    # Rounds per workload in section 1. A 0.15 ms margin on a ~20 ms call
    # needs about a thousand interleaved rounds on a 2-core VM before its 95%
    # interval is narrower than the margin (issue 12).
    "compile_runs": 1000,
    "query_runs": 300,  # --version, -E, the cc-option probe
    "build_files": 300,  # generated C files in the whole-build project
    "build_runs": 5,  # per variant, whole build
    "rss_runs": 20,
    "scale_runs": 100,  # per variant, .config size / rules / log size
    "config_sizes": [10, 100, 1000, 10000],
    "rule_counts": [1, 10, 100],
    "log_records": 1_000_000,
    "jobs": [1, 2, 4, 8, 16],
    "jobs_runs": 3,  # per (-j, variant)
    # log_scale: 2,000 Linux tinyconfig builds of 553 records each.
    "log_scale_records": 2000 * LINUX_BUILD_RECORDS,
    "log_scale_runs": 5,  # warm runs per reader (median)
    "log_scale_appends": 300,  # per log, interleaved
    # livepatch_scale: objects per tree, timed runs per command, distinct real objects copied into the trees
    "lp_sizes": [2500, 5000, 10000, 20000],
    "lp_runs": 7,
    "lp_distinct": 200,
}
QUICK = {
    "compile_runs": 40,
    "query_runs": 20,
    "build_files": 60,
    "build_runs": 3,
    "rss_runs": 20,
    "scale_runs": 20,
    "config_sizes": [10, 10000],
    "rule_counts": [1, 100],
    "log_records": 100_000,
    "jobs": [1, 2, 8],
    "jobs_runs": 1,
    "log_scale_records": 100 * LINUX_BUILD_RECORDS,
    "log_scale_runs": 3,
    "log_scale_appends": 20,
    "lp_sizes": [500, 2000],
    "lp_runs": 2,
    "lp_distinct": 40,
}

# Tolerance for "appending to a 1e6-record log must not slow an append": the
# median of the per-round differences (big log - empty log; the runs are
# interleaved, so each round gives one pair) must stay under this. It is about
# the run-to-run noise of a ~15 ms compile on a busy 2-core machine; anything
# that reads even 1% of a 700 MiB log costs several times more.
LOG_TOLERANCE_MS = 0.5

# Section 1's variant names (also the keys of benches/results/latest.json).
FLOOR = "floor: static C spawn + wait"
EXEC_ONLY = "static C exec only"
MIN_RUST = "minimal static Rust spawn + wait"
SH_WRAPPER = "sh wrapper (exec gcc)"
PREFIX = "secwrap gcc"
MASQ = "secwrap masquerade (gcc -> secwrap)"
PREFIX_LOG_OFF = "secwrap gcc, log off"
MASQ_LOG_OFF = "secwrap masquerade, log off"
PREFIX_REFERENCE = "secwrap gcc (dynamic PIE build, for reference)"
PREFIX_COLD = "secwrap gcc, cold cache"


# The linked image of section 6: no catch-all for the split families, so ld makes each split input
# section name an orphan output section after `_etext`/`_edata`, as Xen before 6ff9a7e62b.
LP_IMAGE_LDS = """\
SECTIONS
{
  . = 0x400000;
  .text : { *(.text) }
  _etext = .;
  .rodata : { *(.rodata) }
  .data : { *(.data) }
  _edata = .;
  .bss : { *(.bss) }
}
"""

# The report's sections, in order (`--only` picks some).
SECTIONS = ["per_invocation", "whole_build", "peak_rss", "scale", "log_scale", "livepatch_scale"]


class BenchError(Exception):
    pass


T0 = time.monotonic()


def progress(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Process running and statistics


class Variant:
    """One way of running a command: program path, argv (argv[0] as typed), env, cwd."""

    def __init__(self, name: str, path: str, argv: list[str], env: dict[str, str], cwd: Path):
        self.name = name
        self.path = path
        self.argv = argv
        self.env = env
        self.cwd = cwd

    def describe(self) -> str:
        return " ".join(self.argv)


def run_once(v: Variant, stdout: str = os.devnull, stderr: str = os.devnull) -> tuple[int, int, int]:
    """Spawn v once; return (wall ns, exit status, ru_maxrss KiB of the child and its waited-for descendants).

    The timed region is posix_spawn + wait4 and nothing else; every variant
    pays the same harness cost, and nothing is subtracted.
    """
    os.chdir(v.cwd)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(v.path, v.argv, v.env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    return t1 - t0, os.waitstatus_to_exitcode(status), ru.ru_maxrss


def run_once_cpu(v: Variant) -> tuple[int, int, int]:
    """As run_once, with output discarded; returns (wall ns, exit status, CPU ns: user + sys of the child)."""
    os.chdir(v.cwd)
    actions = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(v.path, v.argv, v.env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    return t1 - t0, os.waitstatus_to_exitcode(status), int((ru.ru_utime + ru.ru_stime) * 1e9)


def run_checked(v: Variant, what: str) -> tuple[int, int]:
    """Run once; on failure rerun capturing output and fail loudly."""
    ns, code, rss = run_once(v)
    if code != 0:
        r = subprocess.run(v.argv, executable=v.path, env=v.env, cwd=v.cwd, capture_output=True, text=True)
        raise BenchError(
            f"{what}: variant `{v.name}` ({v.describe()}) in {v.cwd} exited {code}\n"
            f"--- stdout ---\n{r.stdout[-3000:]}\n--- stderr ---\n{r.stderr[-3000:]}"
        )
    return ns, rss


def interleaved(variants: list[Variant], runs: int, what: str, before=None) -> dict[str, list[int]]:
    """Run every variant `runs` times, round-robin (the order rotates each round
    so no variant always follows the same one). Returns ns samples per variant."""
    samples: dict[str, list[int]] = {v.name: [] for v in variants}
    n = len(variants)
    for r in range(runs):
        for k in range(n):
            v = variants[(r + k) % n]
            if before:
                before(v)
            ns, _ = run_checked(v, what)
            samples[v.name].append(ns)
    return samples


def stats_ms(samples_ns: list[int]) -> dict:
    ms = [s / 1e6 for s in samples_ns]
    if len(ms) >= 2:
        q = statistics.quantiles(ms, n=10, method="inclusive")
        p10, p90 = q[0], q[8]
    else:
        p10 = p90 = ms[0]
    return {"n": len(ms), "median": statistics.median(ms), "p10": p10, "p90": p90, "min": min(ms), "max": max(ms)}


def table_rows(samples: dict[str, list[int]], baseline: str) -> list[dict]:
    base = statistics.median(samples[baseline]) / 1e6
    rows = []
    for name, s in samples.items():
        st = stats_ms(s)
        st["variant"] = name
        st["overhead_ms"] = st["median"] - base
        st["ratio"] = st["median"] / base
        # Runs are interleaved, so sample i of every variant comes from the same
        # round: the median of the per-round differences is robust to drift.
        st["paired_ms"] = statistics.median(a - b for a, b in zip(s, samples[baseline])) / 1e6
        rows.append(st)
    return rows


def bootstrap_median(diffs_ms: list[float], resamples: int = 400) -> dict:
    """The median of per-round differences and its 95% bootstrap interval: the
    spread a margin has to beat before it means anything."""
    rng = random.Random(12)
    n = len(diffs_ms)
    meds = sorted(statistics.median(rng.choices(diffs_ms, k=n)) for _ in range(resamples))
    return {"median": statistics.median(diffs_ms), "lo": meds[int(0.025 * resamples)],
            "hi": meds[min(resamples - 1, int(0.975 * resamples))]}


def invocation_rows(samples: dict[str, list[int]]) -> list[dict]:
    """table_rows plus, per variant, the paired difference to the floor and to the
    sh wrapper (sample i of every variant is from round i), with intervals."""
    rows = table_rows(samples, "plain gcc")
    sh_overhead = next(r["overhead_ms"] for r in rows if r["variant"] == SH_WRAPPER)
    for r in rows:
        s = samples[r["variant"]]
        r["over_floor"] = bootstrap_median([(a - b) / 1e6 for a, b in zip(s, samples[FLOOR])])
        r["vs_sh_paired_ms"] = bootstrap_median([(a - b) / 1e6 for a, b in zip(s, samples[SH_WRAPPER])])
        r["vs_sh"] = r["overhead_ms"] / sh_overhead if sh_overhead > 0 else None
    return rows


def fmt_invocation_table(rows: list[dict]) -> str:
    out = [
        "| variant | median ms | p10 ms | p90 ms | overhead ms | over floor ms [95%] | vs sh |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        f = r["over_floor"]
        out.append(
            f"| {r['variant']} | {r['median']:.2f} | {r['p10']:.2f} | {r['p90']:.2f} | {r['overhead_ms']:+.2f} | "
            f"{f['median']:+.3f} [{f['lo']:+.3f}, {f['hi']:+.3f}] | "
            f"{'-' if r['vs_sh'] is None else format(r['vs_sh'], '.2f')} |"
        )
    return "\n".join(out)


def fmt_table(rows: list[dict], unit: str = "ms", first_col: str = "variant") -> str:
    sec = unit == "s"
    div = 1000.0 if sec else 1.0
    digits = 3 if sec else 2
    out = [
        f"| {first_col} | median {unit} | p10 {unit} | p90 {unit} | overhead ms | ratio | paired overhead ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(
            f"| {r['variant']} | {r['median'] / div:.{digits}f} | {r['p10'] / div:.{digits}f} | "
            f"{r['p90'] / div:.{digits}f} | {r['overhead_ms']:+.2f} | {r['ratio']:.4f} | {r['paired_ms']:+.2f} |"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------
# Environment, tools, machine


def sh(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = True) -> str:
    r = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise BenchError(f"`{' '.join(args)}` exited {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


def clean_path(secwrap: Path) -> str:
    """PATH without masquerade directories (ccache's, secwrap's), so `gcc` is the real gcc."""
    keep = []
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep):
        if not d:
            continue
        g = Path(d) / "gcc"
        if g.exists():
            real = g.resolve()
            if real.name == "ccache" or real == secwrap.resolve():
                continue
        keep.append(d)
    return os.pathsep.join(keep)


def base_env(path: str, cache_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECWRAP_", "CCACHE_", "MAKE", "MFLAGS", "GNUMAKE", "LD_PRELOAD", "CC", "CFLAGS"))
    }
    env["PATH"] = path
    env["LC_ALL"] = "C"
    env["SECWRAP_CACHE_DIR"] = str(cache_dir)
    return env


def which(prog: str, path: str) -> str:
    p = shutil.which(prog, path=path)
    if not p:
        raise BenchError(f"`{prog}` not found on PATH ({path})")
    return p


def first_line(*args: str) -> str:
    try:
        r = subprocess.run(list(args), capture_output=True, text=True, timeout=20)
        return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def machine_info(secwrap: Path, path: str) -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    env = {**os.environ, "PATH": path}
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                           capture_output=True, text=True)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "gcc": f"{first_line(which('gcc', path), '--version')} ({which('gcc', path)})",
        "clang": first_line("clang", "--version") if shutil.which("clang", path=path) else "not installed",
        "bear": first_line(which("bear", path), "--version"),
        "make": first_line(which("make", path), "--version"),
        "python": platform.python_version(),
        "secwrap": f"{first_line(str(secwrap), '--version')} ({secwrap}, git {git.stdout.strip() or '?'}"
        + (", src modified)" if dirty.stdout.strip() else ")"),
    }


# --------------------------------------------------------------------------
# Trees, sources and checks

TINY_C = "int bench_fn(int x) { return x + 1; }\nint bench_data = 1;\n"


def write_tree(d: Path, config_lines: list[str], extra_toml: str = "") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / ".config").write_text("\n".join(config_lines) + "\n")
    (d / "secwrap.toml").write_text(f'kconfig = ".config"\n\n[log]\npath = "secwrap.jsonl"\n{extra_toml}')
    (d / "x.c").write_text(TINY_C)
    return d


def kconfig_lines(n: int) -> list[str]:
    """A .config with n symbols, CONFIG_LIVEPATCH=y among them, in the mix of a real one."""
    lines = ["#", "# Automatically generated file; DO NOT EDIT.", "# secwrap bench", "#"]
    lp = n // 2
    for i in range(n):
        if i % 40 == 0:
            lines += ["", "#", f"# Section {i // 40}", "#"]
        if i == lp:
            lines.append("CONFIG_LIVEPATCH=y")
            continue
        k = i % 6
        name = f"CONFIG_BENCH_SYM_{i}"
        lines.append(
            [
                f"{name}=y",
                f"# {name} is not set",
                f"{name}=m",
                f'{name}="value {i}"',
                f"{name}=0x{i * 16:x}",
                f"{name}={i}",
            ][k]
        )
    return lines


def rules_toml(n: int) -> str:
    """n [[rule]]s: the split-sections one (applies) and n-1 others whose `when` is false."""
    out = [
        "",
        "[[rule]]",
        'name = "split-sections"',
        'when = "CC_SPLIT_SECTIONS || LIVEPATCH"',
        'cflags = ["-ffunction-sections", "-fdata-sections"]',
    ]
    for i in range(1, n):
        out += [
            "",
            "[[rule]]",
            f'name = "bench-rule-{i}"',
            f'when = "(BENCH_RULE_{i} || BENCH_SYM_{i} = m) && !LIVEPATCH"',
            # A flag a found secwrap.toml may set (README, "Trust"); the
            # rule never applies, so which one does not matter.
            f'cflags = ["-Wno-bench-rule-{i}"]',
            "required = false",
        ]
    return "\n".join(out) + "\n"


def section_names(obj: Path) -> set[str]:
    out = sh("readelf", "-SW", str(obj))
    names = set()
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("[") and "]" in line:
            rest = line.split("]", 1)[1].split()
            if rest:
                names.add(rest[0])
    return names


def assert_split(obj: Path, fn: str, expect: bool, what: str) -> None:
    if not obj.exists():
        raise BenchError(f"{what}: {obj} was not produced")
    names = section_names(obj)
    has = f".text.{fn}" in names
    if has != expect:
        raise BenchError(
            f"{what}: {obj} {'lacks' if expect else 'has'} section .text.{fn} "
            f"(sections: {' '.join(sorted(names))}); the benchmark would measure the wrong thing"
        )


def read_records(log: Path) -> list[dict]:
    if not log.exists():
        return []
    out = []
    with log.open() as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise BenchError(f"{log}:{i}: not JSON ({e})")
    return out


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            n += chunk.count(b"\n")
    return n



# --------------------------------------------------------------------------
# The whole-build project

BENCH_H = """\
#ifndef BENCH_H
#define BENCH_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_item {
\tuint32_t id;
\tuint32_t flags;
\tconst char *name;
\tint64_t value;
};

static inline uint32_t bench_mix(uint32_t x)
{
\tx ^= x >> 16;
\tx *= 0x7feb352dU;
\tx ^= x >> 15;
\tx *= 0x846ca68bU;
\tx ^= x >> 16;
\treturn x;
}
#endif
"""

MODULE_C = """\
#include "bench.h"

static struct bench_item items_@[16] = {
@ITEMS@
};
int mod_@_counter;
const char mod_@_name[] = "mod_@";

static int mod_@_helper(int x)
{
\tint r = x * @N@;
\tfor (int i = 0; i < (x & 7); i++)
\t\tr = (r << 1) ^ (int)bench_mix((uint32_t)(r + i));
\treturn r;
}

int mod_@_sum(int n)
{
\tint s = 0;
\tfor (int i = 0; i < n; i++)
\t\ts += mod_@_helper(i) ^ (int)items_@[i & 15].value;
\treturn s;
}

int mod_@_find(const char *name)
{
\tfor (size_t i = 0; i < sizeof(items_@) / sizeof(items_@[0]); i++)
\t\tif (strcmp(items_@[i].name, name) == 0)
\t\t\treturn (int)i;
\treturn -1;
}

void mod_@_sort(int *a, int n)
{
\tfor (int i = 1; i < n; i++) {
\t\tint v = a[i], j = i - 1;
\t\twhile (j >= 0 && a[j] > v) {
\t\t\ta[j + 1] = a[j];
\t\t\tj--;
\t\t}
\t\ta[j + 1] = v;
\t}
}

uint32_t mod_@_hash(const char *s)
{
\tuint32_t h = 2166136261u;
\twhile (*s) {
\t\th ^= (unsigned char)*s++;
\t\th *= 16777619u;
\t}
\treturn bench_mix(h);
}

int mod_@_format(char *buf, size_t len, int v)
{
\treturn snprintf(buf, len, "%s:%d:%u", mod_@_name, v, (unsigned)mod_@_hash(mod_@_name));
}

int mod_@_entry(void)
{
\tint a[8] = { @N@, 3, 9, 1, 7, 2, 8, 5 };
\tchar buf[64];
\tmod_@_sort(a, 8);
\tmod_@_counter += mod_@_sum(a[0] + 8) + mod_@_find("a3") + mod_@_format(buf, sizeof buf, a[7]);
\treturn mod_@_counter;
}
"""

MAKEFILE = """\
CFLAGS = -O2 -Wall -Iinclude
SRCS := $(sort $(wildcard src/*.c))
OBJS := $(SRCS:.c=.o)

prog: $(OBJS)
\t$(CC) -o $@ $(OBJS)

src/%.o: src/%.c include/bench.h
\t$(CC) $(CFLAGS) -c $< -o $@

clean:
\trm -f prog src/*.o

.PHONY: clean
"""


def make_project(d: Path, n: int) -> Path:
    write_tree(d, kconfig_lines(10))
    (d / "x.c").unlink()
    (d / "include").mkdir()
    (d / "src").mkdir()
    (d / "include" / "bench.h").write_text(BENCH_H)
    (d / "Makefile").write_text(MAKEFILE)
    for i in range(n):
        tag = f"{i:04d}"
        items = ",\n".join(f'\t{{ {j}, {j * 3 % 7}, "a{j}", {i * 31 + j} }}' for j in range(16))
        (d / "src" / f"mod_{tag}.c").write_text(
            MODULE_C.replace("@ITEMS@", items).replace("@N@", str(i + 1)).replace("@", tag)
        )
    decls = "".join(f"int mod_{i:04d}_entry(void);\n" for i in range(n))
    calls = "".join(f"\ts += mod_{i:04d}_entry();\n" for i in range(n))
    (d / "src" / "main.c").write_text(
        f'#include "bench.h"\n{decls}\nint main(void)\n{{\n\tint s = 0;\n{calls}\tprintf("%d\\n", s);\n\treturn 0;\n}}\n'
    )
    return d


# --------------------------------------------------------------------------
# The benchmark


class Bench:
    def __init__(self, tmp: Path, secwrap: Path, p: dict, quick: bool, secwrap_reference: Path | None = None,
                 only: list[str] | None = None, linux_rounds: int = 0, lp_before: Path | None = None):
        self.tmp = tmp
        # Optional: another build (an earlier commit's) that livepatch_scale times beside secwrap.
        self.lp_before = lp_before
        self.linux_rounds = linux_rounds
        self.only = only
        self.secwrap = secwrap
        # Optional: the same sources built as a plain `cargo build --release`
        # without the repository's .cargo/config.toml (dynamic, PIE, no LTO),
        # measured beside the default install to show what the static build saves.
        self.secwrap_reference = secwrap_reference
        self.p = p
        self.quick = quick
        self.path = clean_path(secwrap)
        self.cache = tmp / "cache"
        self.env = base_env(self.path, self.cache)
        self.gcc = which("gcc", self.path)
        if Path(self.gcc).resolve().name in ("ccache", "secwrap"):
            raise BenchError(f"`gcc` on PATH resolves to {Path(self.gcc).resolve()}, not a real gcc")
        self.make = which("make", self.path)
        self.bear = which("bear", self.path)
        # masquerade directory: a symlink named gcc to secwrap, first on PATH
        self.masq = tmp / "masq"
        self.masq.mkdir()
        (self.masq / "gcc").symlink_to(secwrap)
        # the trivial shell wrapper
        self.shwrap = tmp / "wrap" / "gcc-wrapper.sh"
        self.shwrap.parent.mkdir()
        self.shwrap.write_text('#!/bin/sh\nexec gcc "$@"\n')
        self.shwrap.chmod(0o755)
        self.results: dict = {"params": p, "quick": quick}
        self.report: list[str] = []
        self.targets: list[dict] = []

    def out(self, s: str = "") -> None:
        self.report.append(s)
        print(s, flush=True)

    def target(self, name: str, met: bool, figure: str) -> None:
        self.targets.append({"target": name, "met": met, "measured": figure})

    # -- variants --------------------------------------------------------

    def helper(self, name: str) -> Path:
        """benches/NAME.c built static (-O2) with the system compiler: the floor programs and maxrss."""
        exe = self.tmp / "helpers" / name
        exe.parent.mkdir(exist_ok=True)
        src = ROOT / "benches" / f"{name}.c"
        r = subprocess.run([self.gcc, "-static", "-O2", "-s", "-o", str(exe), str(src)], capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"cannot build {src} static (libc6-dev's static libc is needed): {r.stderr[-1000:]}")
        return exe

    def rust_helper(self, name: str) -> Path:
        """benches/NAME.rs built as secwrap's default build is (static glibc, non-PIE, -O, stripped)."""
        exe = self.tmp / "helpers" / name
        exe.parent.mkdir(exist_ok=True)
        src = ROOT / "benches" / f"{name}.rs"
        r = subprocess.run(["rustc", "--edition", "2024", "-O", "-C", "target-feature=+crt-static", "-C",
                            "relocation-model=static", "-C", "strip=symbols", "--target", HOST, "-o", str(exe),
                            str(src)], capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"cannot build {src} with rustc: {r.stderr[-1000:]}")
        return exe

    def invocation_variants(self, cwd: Path, args: list[str], cold: bool, injected: list[str]) -> list[Variant]:
        """The wrappers compared per invocation, all running the real gcc with `args`. The
        others are given the flags secwrap injects (`injected`), so every variant asks gcc
        for the same work and the differences are the wrappers' own."""
        e = self.env
        same = [*args, *injected]
        masq_env = {**e, "PATH": f"{self.masq}{os.pathsep}{self.path}"}
        log_off = {"SECWRAP_LOG": "off"}
        vs = [
            Variant("plain gcc", self.gcc, ["gcc", *same], e, cwd),
            Variant(FLOOR, str(self.floor), [str(self.floor), "gcc", *same], e, cwd),
            Variant(EXEC_ONLY, str(self.exec_only), [str(self.exec_only), "gcc", *same], e, cwd),
            Variant(MIN_RUST, str(self.min_rust), [str(self.min_rust), "gcc", *same], e, cwd),
            Variant(SH_WRAPPER, str(self.shwrap), [str(self.shwrap), *same], e, cwd),
            Variant(PREFIX, str(self.secwrap), [str(self.secwrap), "gcc", *args], e, cwd),
            Variant(MASQ, str(self.masq / "gcc"), ["gcc", *args], masq_env, cwd),
            Variant(PREFIX_LOG_OFF, str(self.secwrap), [str(self.secwrap), "gcc", *args], {**e, **log_off}, cwd),
            Variant(MASQ_LOG_OFF, str(self.masq / "gcc"), ["gcc", *args], {**masq_env, **log_off}, cwd),
        ]
        if self.secwrap_reference:
            vs.append(Variant(PREFIX_REFERENCE, str(self.secwrap_reference),
                              [str(self.secwrap_reference), "gcc", *args], e, cwd))
        if cold:
            # Its own cache directory, emptied before each of its runs (the
            # others keep theirs warm): every call probes and identifies anew.
            vs.append(Variant(PREFIX_COLD, str(self.secwrap), [str(self.secwrap), "gcc", *args],
                              {**e, "SECWRAP_CACHE_DIR": str(self.cold_cache)}, cwd))
        return vs

    # -- 1. per invocation ------------------------------------------------

    def per_invocation(self) -> None:
        self.floor = self.helper("floor")
        self.exec_only = self.helper("exec_only")
        self.min_rust = self.rust_helper("min_spawn")
        self.cold_cache = self.tmp / "cache-cold"
        tree = self.small_tree()
        log = tree / "secwrap.jsonl"
        self.out("## 1. Per invocation, against the floor")
        self.out()
        self.out("Every table is one interleaved run (round-robin, the order rotating each round) of the real gcc "
                 "called directly and through each wrapper; wall time of posix_spawn + wait4, nothing subtracted. "
                 f"The **floor** is `benches/floor.c` built static: posix_spawnp the compiler and waitpid, the least "
                 "any wrapper that records the exit status must do. `exec_only` (`benches/exec_only.c`, static) "
                 "just execvp()s the compiler: below the floor, it records nothing. `benches/min_spawn.rs` is the "
                 "floor in Rust, built as secwrap is (static, non-PIE): what a Rust binary costs by itself. Columns: overhead = "
                 "median(variant) - median(plain gcc); over floor = median over rounds of (variant - floor) in the "
                 "same round, with its 95% bootstrap interval (the spread); vs sh = overhead / the sh wrapper's "
                 "overhead. cwd is a tree whose .config has CONFIG_LIVEPATCH=y; log on unless the row says off; "
                 "probe cache warm unless it says cold.")
        self.out()
        workloads = [
            ("smallest compile", "compile", ["-c", "x.c", "-o", "x.o"], True, "compile_runs"),
            ("--version", "version", ["--version"], False, "query_runs"),
            ("-E (preprocess)", "preprocess", ["-E", "x.c", "-o", "x.i"], False, "query_runs"),
            # As Kbuild's cc-option: `$(CC) -Werror ... FLAG -c -x c /dev/null -o $$TMP`.
            ("cc-option probe", "cc_option", ["-Werror", "-fno-stack-protector", "-c", "-x", "c", "/dev/null",
                                               "-o", "probe.o"], True, "query_runs"),
        ]
        self.invocation = {}
        for title, key, args, cold, runs_key in workloads:
            runs = self.p[runs_key]
            # What secwrap adds to this call, read off its record.
            run_checked(Variant(PREFIX, str(self.secwrap), [str(self.secwrap), "gcc", *args], self.env, tree), title)
            injected = read_records(log)[-1]["injected"]
            vs = self.invocation_variants(tree, args, cold, injected)
            self.check_invocation(vs, title, log, args, bool(injected))
            progress(f"1. {title}: {len(vs)} variants x {runs} runs, interleaved")
            samples = interleaved(vs, runs, title, before=self.before_invocation)
            rows = invocation_rows(samples)
            self.results[f"per_invocation_{key}"] = {"rows": rows, "samples_ns": samples}
            self.invocation[key] = {r["variant"]: r for r in rows}
            given = f" (secwrap adds `{' '.join(injected)}`; the others are given it)" if injected else ""
            self.out(f"### {title}: `gcc {' '.join(args)}`{given}, {runs} rounds")
            self.out()
            self.out(fmt_invocation_table(rows))
            self.out()
        self.invocation_targets()

    def before_invocation(self, v: Variant) -> None:
        if v.name == PREFIX_COLD:
            shutil.rmtree(self.cold_cache, ignore_errors=True)

    def check_invocation(self, vs: list[Variant], title: str, log: Path, args: list[str], split: bool) -> None:
        """Each variant does what its name says: a record exactly when secwrap runs with the log on,
        and the same object from every variant (warms the caches too)."""
        obj = log.parent / "x.o"
        for v in vs:
            self.before_invocation(v)
            obj.unlink(missing_ok=True)
            before = len(read_records(log))
            run_checked(v, f"{title} (check)")
            recs = read_records(log)
            secwrap = v.name.startswith("secwrap")
            logged = secwrap and "log off" not in v.name
            if len(recs) - before != int(logged):
                raise BenchError(f"{title} via {v.name}: {len(recs) - before} new records, expected {int(logged)}")
            if logged and recs[-1]["compiler"] != str(Path(self.gcc)):
                raise BenchError(f"{title} via {v.name}: the record names {recs[-1]['compiler']}, not {self.gcc}")
            if args[:1] == ["-c"]:
                assert_split(obj, "bench_fn", split, f"{title} via {v.name}")

    def invocation_targets(self) -> None:
        c = self.invocation["compile"]
        for name in (PREFIX, MASQ):
            r = c[name]
            vs_sh = r["vs_sh_paired_ms"]
            self.target(f"smallest compile: {name} below the sh wrapper (paired, 95% interval below 0)",
                        vs_sh["hi"] < 0, f"{vs_sh['median']:+.3f} ms [{vs_sh['lo']:+.3f}, {vs_sh['hi']:+.3f}]")
            of = r["over_floor"]
            self.target(f"smallest compile: {name} <= floor + 0.15 ms (95% interval)", of["hi"] <= 0.15,
                        f"over floor {of['median']:+.3f} ms [{of['lo']:+.3f}, {of['hi']:+.3f}]")
        v = self.invocation["version"][PREFIX]
        self.target("--version: secwrap gcc below the sh wrapper (paired, 95% interval below 0)",
                    v["vs_sh_paired_ms"]["hi"] < 0,
                    f"{v['vs_sh_paired_ms']['median']:+.3f} ms [{v['vs_sh_paired_ms']['lo']:+.3f}, "
                    f"{v['vs_sh_paired_ms']['hi']:+.3f}]")

    # -- 2. whole build ---------------------------------------------------

    def make_variant(self, name: str, proj: Path, jobs: int, cc: str, bear_out: Path | None = None) -> Variant:
        argv = ["make", f"-j{jobs}", f"CC={cc}"]
        if bear_out:
            return Variant(name, self.bear, ["bear", "--output", str(bear_out), "--", *argv], self.env, proj)
        return Variant(name, self.make, argv, self.env, proj)

    def build_once(self, v: Variant, proj: Path, what: str) -> int:
        """make clean, then one timed build; returns ns."""
        sh(self.make, "clean", cwd=proj, env=self.env)
        errf = str(self.tmp / "make.stderr")
        ns, code, _ = run_once(v, stdout=os.devnull, stderr=errf)
        if code != 0:
            raise BenchError(f"{what}: `{v.describe()}` exited {code}:\n{Path(errf).read_text()[-4000:]}")
        if not (proj / "prog").exists():
            raise BenchError(f"{what}: `{v.describe()}` did not produce prog")
        return ns

    def check_build(self, kind: str, proj: Path, log: Path, n_compiles: int, what: str,
                    bear_out: Path | None = None) -> dict:
        """Effects of one build. Returns probe counts for secwrap builds."""
        obj = proj / "src" / "mod_0000.o"
        info: dict = {}
        if kind == "plain":
            assert_split(obj, "mod_0000_sum", False, f"{what} (plain gcc)")
            if log.exists() and log.stat().st_size:
                raise BenchError(f"{what}: plain build wrote secwrap records")
        elif kind == "bear":
            assert_split(obj, "mod_0000_sum", False, f"{what} (bear)")
            entries = json.loads(bear_out.read_text())
            if len(entries) < n_compiles:
                raise BenchError(f"{what}: bear recorded {len(entries)} entries, expected >= {n_compiles}")
            info["bear_entries"] = len(entries)
        else:
            assert_split(obj, "mod_0000_sum", True, f"{what} (secwrap)")
            recs = read_records(log)
            compiles = [r for r in recs if r["kind"] == "compile"]
            links = [r for r in recs if r["kind"] != "compile"]
            if len(compiles) != n_compiles or len(recs) != n_compiles + 1:
                raise BenchError(f"{what}: {len(recs)} records ({len(compiles)} compiles), expected "
                                 f"{n_compiles} compiles + 1 link")
            bad = [r for r in compiles if r["injected"] != SPLIT_FLAGS or r["status"] != 0]
            if bad:
                raise BenchError(f"{what}: {len(bad)} compile records without the flags, e.g. {bad[0]}")
            if links[0]["kind"] != "link_only":
                raise BenchError(f"{what}: the link was recorded as {links[0]['kind']}")
            per_key: dict[str, int] = {}
            for r in recs:
                for pr in r.get("probes") or []:
                    if pr.get("cached") is False:
                        key = f"{r['compiler']} {' '.join(pr['flags'])}"
                        per_key[key] = per_key.get(key, 0) + 1
            info["uncached_probes"] = sum(per_key.values())
            info["uncached_probes_max_per_key"] = max(per_key.values(), default=0)
            info["uncached_probes_per_key"] = per_key
        return info

    def whole_build(self) -> None:
        n = self.p["build_files"]
        runs = self.p["build_runs"]
        proj = make_project(self.tmp / "proj", n)
        self.proj = proj
        n_compiles = n + 1  # + main.c
        log = proj / "secwrap.jsonl"
        bear_out = self.tmp / "cc.json"
        sw_cc = f"{self.secwrap} gcc"
        variants = [
            ("plain gcc", "plain", self.make_variant("plain gcc", proj, 2, "gcc")),
            ("secwrap gcc (warm probe cache)", "warm", self.make_variant("secwrap gcc (warm probe cache)", proj, 2, sw_cc)),
            ("secwrap gcc (cold probe cache)", "cold", self.make_variant("secwrap gcc (cold probe cache)", proj, 2, sw_cc)),
            *([("secwrap gcc, dynamic PIE build (warm)", "warm",
                self.make_variant("secwrap gcc, dynamic PIE build (warm)", proj, 2, f"{self.secwrap_reference} gcc"))]
              if self.secwrap_reference else []),
            ("bear -- make (plain gcc)", "bear",
             self.make_variant("bear -- make (plain gcc)", proj, 2, "gcc", bear_out=bear_out)),
        ]
        # One untimed build each to warm the page cache, the probe cache and check effects.
        progress(f"2. whole build: project of {n} generated files (+ main.c), warm-up builds")
        for name, kind, v in variants:
            self._prepare_build(kind, log, bear_out)
            self.build_once(v, proj, f"whole build warm-up, {name}")
            self.check_build("secwrap" if kind in ("warm", "cold") else kind, proj, log, n_compiles,
                             f"whole build warm-up, {name}", bear_out)
        samples: dict[str, list[int]] = {name: [] for name, _, _ in variants}
        probes = {"warm": [], "cold": []}
        for r in range(runs):
            progress(f"2. whole build: round {r + 1}/{runs} (make -j2, {len(variants)} variants)")
            for k in range(len(variants)):
                name, kind, v = variants[(r + k) % len(variants)]
                self._prepare_build(kind, log, bear_out)
                samples[name].append(self.build_once(v, proj, f"whole build, {name}"))
                info = self.check_build("secwrap" if kind in ("warm", "cold") else kind, proj, log, n_compiles,
                                        f"whole build, {name}", bear_out)
                if kind in probes:
                    probes[kind].append(info)
        rows = table_rows(samples, "plain gcc")
        self.results["whole_build"] = {"files": n_compiles, "jobs": 2, "rows": rows, "samples_ns": samples,
                                       "probes": probes}
        self.out(f"## 2. Whole build ({n_compiles} C files + 1 link, `make -j2`, -O2, {runs} runs per variant, "
                 "`make clean` between runs, interleaved)")
        self.out()
        self.out(fmt_table(rows, unit="s"))
        self.out()
        cold_max = max(i["uncached_probes_max_per_key"] for i in probes["cold"])
        cold_tot = [i["uncached_probes"] for i in probes["cold"]]
        warm_tot = [i["uncached_probes"] for i in probes["warm"]]
        keys = sorted({k for i in probes["cold"] for k in i["uncached_probes_per_key"]})
        self.out(f"Probes not answered from the cache (`probes[].cached == false`) per build: cold {cold_tot}, "
                 f"warm {warm_tot}; (compiler, flag group) keys probed cold: {len(keys)} "
                 f"({'; '.join(keys)}); max per key in one build: {cold_max}")
        self.out()
        by = {r["variant"]: r for r in rows}
        w, b, c = by["secwrap gcc (warm probe cache)"], by["bear -- make (plain gcc)"], by["secwrap gcc (cold probe cache)"]
        self.target("whole build: secwrap wall time within 2% of plain gcc", w["ratio"] <= 1.02,
                    f"ratio {w['ratio']:.4f} ({w['overhead_ms']:+.0f} ms; cold cache ratio {c['ratio']:.4f})")
        self.target("whole build: secwrap faster than bear -- make", w["median"] < b["median"],
                    f"secwrap {w['median'] / 1000:.3f} s vs bear {b['median'] / 1000:.3f} s "
                    f"(bear ratio {b['ratio']:.4f})")
        self.target("cold probe cache: at most one probe per (compiler, flag group) per build", cold_max <= 1,
                    f"max {cold_max} per key, {len(keys)} key(s), totals per build {cold_tot}")

    def _prepare_build(self, kind: str, log: Path, bear_out: Path) -> None:
        log.unlink(missing_ok=True)
        bear_out.unlink(missing_ok=True)
        if kind == "cold":
            shutil.rmtree(self.cache, ignore_errors=True)

    # -- 3. peak RSS ------------------------------------------------------

    def small_tree(self) -> Path:
        """The tree of section 1's calls, shared with section 4 (made by whichever runs first)."""
        tree = self.tmp / "small"
        return tree if tree.exists() else write_tree(tree, kconfig_lines(10))

    def fake_compiler(self) -> tuple[Path, str]:
        """A static no-op `gcc` in its own directory (made once, for sections 3 and 4)."""
        d = self.tmp / "fakebin"
        if (d / "gcc").exists():
            return d, getattr(self, "fake_linkage", "static")
        d.mkdir()
        src = self.tmp / "fake.c"
        src.write_text("int main(void){return 0;}\n")
        r = subprocess.run([self.gcc, "-static", "-O2", "-s", "-o", str(d / "gcc"), str(src)], capture_output=True)
        linkage = "static"
        if r.returncode != 0:
            sh(self.gcc, "-O2", "-s", "-o", str(d / "gcc"), str(src))
            linkage = "dynamic"
        self.fake_linkage = linkage
        return d, linkage

    def rss_variants(self, tree: Path, fakebin: Path, log_env: dict | None = None) -> list[Variant]:
        args = ["-c", "x.c", "-o", "x.o"]
        e = {**self.env, "PATH": f"{fakebin}{os.pathsep}{self.path}", **(log_env or {})}
        return [
            Variant("secwrap gcc", str(self.secwrap), [str(self.secwrap), "gcc", *args], e, tree),
            Variant("secwrap masquerade", str(self.masq / "gcc"), ["gcc", *args],
                    {**e, "PATH": f"{self.masq}{os.pathsep}{fakebin}{os.pathsep}{self.path}"}, tree),
        ]

    def rss_helper(self) -> Path:
        """A tiny static program that forks, execs its arguments and reports the child's ru_maxrss.

        Measuring from Python directly is wrong: posix_spawn's child shares
        Python's address space (vfork) and a fork child copies it, and at
        exec Linux folds the old address space's high-water mark into the
        new process's ru_maxrss, so every child "peaks" at Python's own RSS
        (tens of MiB). The helper's own address space is a few hundred KiB.
        """
        return self.helper("maxrss")

    def rss_once(self, v: Variant, what: str) -> int:
        """ru_maxrss (KiB) of v's process and its waited-for descendants, via the helper."""
        res = self.tmp / "maxrss.out"
        res.unlink(missing_ok=True)
        h = Variant(v.name, str(self.maxrss), [str(self.maxrss), str(res), v.path, *v.argv], v.env, v.cwd)
        run_checked(h, what)
        kib, status = (int(x) for x in res.read_text().split())
        if status != 0:
            raise BenchError(f"{what}: `{v.describe()}` exited {status}")
        return kib

    def measure_rss(self, variants: list[Variant], runs: int, what: str) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {v.name: [] for v in variants}
        for _ in range(runs):
            for v in variants:
                out[v.name].append(self.rss_once(v, what))
        return out

    def peak_rss(self) -> None:
        runs = self.p["rss_runs"]
        fakebin, linkage = self.fake_compiler()
        tree = write_tree(self.tmp / "rss", kconfig_lines(10))
        log = tree / "secwrap.jsonl"
        vs = self.rss_variants(tree, fakebin)
        for v in vs:  # warm the probe cache for the fake compiler, check the record
            run_checked(v, "peak RSS (check)")
            rec = read_records(log)[-1]
            if rec["compiler"] != str(fakebin / "gcc") or rec["injected"] != SPLIT_FLAGS:
                raise BenchError(f"peak RSS via {v.name}: secwrap did not run the fake compiler with the flags: {rec}")
        fake = Variant("fake compiler alone (reference)", str(fakebin / "gcc"), ["gcc", "-c", "x.c", "-o", "x.o"],
                       self.env, tree)
        self.maxrss = self.rss_helper()
        progress(f"3. peak RSS: {runs} runs per variant")
        kib = self.measure_rss([*vs, fake], runs, "peak RSS")
        # For the record: what a naive wait4 from Python reports for the same fake compiler.
        naive = [run_checked(fake, "peak RSS (naive)")[1] for _ in range(3)]
        self.results["peak_rss"] = {"fake_compiler": linkage, "kib": kib, "naive_python_wait4_fake_kib": naive}
        self.out(f"## 3. Peak RSS of secwrap itself ({runs} runs; the compiler is a {linkage} `int main(){{return 0;}}` "
                 "named gcc after secwrap on PATH; ru_maxrss from wait4 covers secwrap and its waited-for child)")
        self.out()
        self.out("| process | median MiB | min MiB | max MiB |")
        self.out("| --- | ---: | ---: | ---: |")
        for name, s in kib.items():
            self.out(f"| {name} | {statistics.median(s) / 1024:.2f} | {min(s) / 1024:.2f} | {max(s) / 1024:.2f} |")
        self.out()
        self.out(f"(Measured by a tiny static helper that forks, execs and calls wait4. A wait4 straight from "
                 f"Python reports {statistics.median(naive) / 1024:.2f} MiB even for the fake compiler alone: the "
                 "spawned child starts from Python's address space and Linux carries its high-water mark across exec.)")
        self.out()
        worst = max(statistics.median(kib[v.name]) for v in vs) / 1024
        self.target("peak RSS of secwrap <= 4 MiB", worst <= 4.0,
                    f"{worst:.2f} MiB (worst median of prefix and masquerade; fake child alone "
                    f"{statistics.median(kib[fake.name]) / 1024:.2f} MiB)")

    # -- 4. scale ---------------------------------------------------------

    def scale(self) -> None:
        runs = self.p["scale_runs"]
        args = ["-c", "x.c", "-o", "x.o"]
        plain_tree = self.small_tree()
        plain = Variant("plain gcc", self.gcc, ["gcc", *args], self.env, plain_tree)
        self.out(f"## 4. Scale ({runs} runs per variant, interleaved; smallest compile through `secwrap gcc`, "
                 "overhead and ratio against plain gcc in the same run)")
        self.out()

        # a) .config size
        vs = [plain]
        for n in self.p["config_sizes"]:
            t = write_tree(self.tmp / f"cfg{n}", kconfig_lines(n))
            v = Variant(f".config {n} symbols", str(self.secwrap), [str(self.secwrap), "gcc", *args], self.env, t)
            run_checked(v, f".config {n} (check)")
            assert_split(t / "x.o", "bench_fn", True, f".config of {n} symbols")
            vs.append(v)
        progress(f"4a. .config size {self.p['config_sizes']}")
        s = interleaved(vs, runs, ".config size")
        rows = table_rows(s, "plain gcc")
        self.results["scale_config"] = {"rows": rows, "samples_ns": s}
        self.out("### .config size")
        self.out()
        self.out(fmt_table(rows, first_col="secwrap gcc with"))
        self.out()
        big_cfg = vs[-1].cwd

        # b) number of rules
        vs = [plain]
        for n in self.p["rule_counts"]:
            t = write_tree(self.tmp / f"rules{n}", kconfig_lines(10), rules_toml(n))
            v = Variant(f"{n} [[rule]]s", str(self.secwrap), [str(self.secwrap), "gcc", *args], self.env, t)
            run_checked(v, f"{n} rules (check)")
            assert_split(t / "x.o", "bench_fn", True, f"{n} rules")
            rec = read_records(t / "secwrap.jsonl")[-1]
            if rec["injected"] != SPLIT_FLAGS:
                raise BenchError(f"{n} rules: expected only the split flags injected, got {rec['injected']}")
            vs.append(v)
        progress(f"4b. rules {self.p['rule_counts']}")
        s = interleaved(vs, runs, "rule count")
        rows = table_rows(s, "plain gcc")
        self.results["scale_rules"] = {"rows": rows, "samples_ns": s}
        self.out("### Number of rules (one applies; the others' `when` evaluates to n)")
        self.out()
        self.out(fmt_table(rows, first_col="secwrap gcc with"))
        self.out()
        big_rules = vs[-1].cwd

        # c) log size
        nrec = self.p["log_records"]
        t = write_tree(self.tmp / "logsize", kconfig_lines(10))
        seed = t / "seed.jsonl"
        sv = Variant("seed", str(self.secwrap), [str(self.secwrap), "gcc", *args],
                     {**self.env, "SECWRAP_LOG": str(seed)}, t)
        run_checked(sv, "log seed")
        line = seed.read_bytes().splitlines()[-1] + b"\n"
        json.loads(line)
        big = t / "big.jsonl"
        empty = t / "empty.jsonl"
        t0 = time.monotonic()
        chunk = line * 10_000
        with big.open("wb") as f:
            left = nrec
            while left >= 10_000:
                f.write(chunk)
                left -= 10_000
            f.write(line * left)
        gen_s = time.monotonic() - t0
        big_size0 = big.stat().st_size
        progress(f"4c. log size: pre-filled {nrec} records ({big_size0 / 2**20:.0f} MiB) in {gen_s:.1f} s")
        empty.write_bytes(b"")
        ve = Variant("empty log", str(self.secwrap), [str(self.secwrap), "gcc", *args],
                     {**self.env, "SECWRAP_LOG": str(empty)}, t)
        vb = Variant(f"log of {nrec:,} records", str(self.secwrap), [str(self.secwrap), "gcc", *args],
                     {**self.env, "SECWRAP_LOG": str(big)}, t)
        s = interleaved([plain, ve, vb], runs, "log size")
        n_empty = len(read_records(empty))
        n_big = count_lines(big)
        if n_empty != runs or n_big != nrec + runs:
            raise BenchError(f"log size: empty log has {n_empty} records (expected {runs}), big log "
                             f"{n_big} lines (expected {nrec + runs})")
        with big.open("rb") as f:
            f.seek(max(0, big.stat().st_size - 4 * len(line)))
            last = json.loads(f.read().splitlines()[-1])
        if last["pid"] == json.loads(line)["pid"] or last["injected"] != SPLIT_FLAGS:
            raise BenchError(f"log size: the last record of the big log is not a fresh one: {last}")
        rows = table_rows(s, "plain gcc")
        self.results["scale_log"] = {"records": nrec, "record_bytes": len(line), "bytes": big_size0,
                                     "generate_s": gen_s, "rows": rows, "samples_ns": s}
        self.out(f"### Log size (SECWRAP_LOG = an empty log vs a log pre-filled with {nrec:,} records, "
                 f"{big_size0 / 2**20:.0f} MiB, one {len(line)}-byte real record repeated)")
        self.out()
        self.out(fmt_table(rows, first_col="secwrap gcc appending to"))
        self.out()
        by = {r["variant"]: r for r in rows}
        d = by[vb.name]["median"] - by["empty log"]["median"]
        paired = statistics.median(b - e for b, e in zip(s[vb.name], s["empty log"])) / 1e6
        self.results["scale_log"]["paired_median_diff_ms"] = paired
        self.out(f"Big log minus empty log: difference of medians {d:+.2f} ms, median of the per-round "
                 f"differences {paired:+.2f} ms.")
        self.out()
        self.target(f"appending to a log of {nrec:,} records is not slower than to an empty log "
                    f"(median per-round difference <= {LOG_TOLERANCE_MS} ms)", paired <= LOG_TOLERANCE_MS,
                    f"{paired:+.2f} ms (medians: big {by[vb.name]['median']:.2f} ms, "
                    f"empty {by['empty log']['median']:.2f} ms)")

        # peak RSS under the largest inputs (fake compiler)
        if not hasattr(self, "maxrss"):  # section 3 did not run
            self.maxrss = self.rss_helper()
        progress("4. peak RSS under the largest .config, rule count and log")
        extra = {}
        for label, tree, log_env in [
            (f".config {self.p['config_sizes'][-1]} symbols", big_cfg, None),
            (f"{self.p['rule_counts'][-1]} rules", big_rules, None),
            (f"log of {nrec:,} records", t, {"SECWRAP_LOG": str(big)}),
        ]:
            v = self.rss_variants(tree, self.fake_compiler()[0], log_env)[0]
            run_checked(v, f"peak RSS, {label} (warm)")
            extra[label] = self.measure_rss([v], self.p["rss_runs"], f"peak RSS, {label}")[v.name]
        self.results.setdefault("peak_rss", {})["scale_kib"] = extra
        self.out(f"### Peak RSS of `secwrap gcc` (fake compiler) under the largest inputs ({self.p['rss_runs']} runs)")
        self.out()
        self.out("| input | median MiB | max MiB |")
        self.out("| --- | ---: | ---: |")
        for label, kib in extra.items():
            self.out(f"| {label} | {statistics.median(kib) / 1024:.2f} | {max(kib) / 1024:.2f} |")
        self.out()
        worst = max(statistics.median(k) for k in extra.values()) / 1024
        self.target("peak RSS of secwrap < 8 MiB under the largest .config / rules / log", worst < 8.0,
                    f"{worst:.2f} MiB (worst median)")
        big.unlink()

        # d) parallel jobs
        self.jobs_scale()

    def jobs_scale(self) -> None:
        # Section 2's project, or the same one made here when it did not run.
        proj = getattr(self, "proj", None) or make_project(self.tmp / "proj", self.p["build_files"])
        runs = self.p["jobs_runs"]
        jobs = self.p["jobs"]
        n_compiles = self.p["build_files"] + 1
        log = proj / "secwrap.jsonl"
        bear_out = self.tmp / "cc.json"
        sw_cc = f"{self.secwrap} gcc"
        samples: dict[int, dict[str, list[int]]] = {j: {"plain gcc": [], "secwrap gcc": []} for j in jobs}
        pairs = [(j, name, self.make_variant(name, proj, j, "gcc" if name == "plain gcc" else sw_cc))
                 for j in jobs for name in ("plain gcc", "secwrap gcc")]
        for r in range(runs):
            progress(f"4d. parallel jobs: round {r + 1}/{runs} (-j {jobs}, plain and secwrap)")
            order = pairs if r % 2 == 0 else [p for i in range(0, len(pairs), 2) for p in (pairs[i + 1], pairs[i])]
            for j, name, v in order:
                self._prepare_build("plain" if name == "plain gcc" else "warm", log, bear_out)
                samples[j][name].append(self.build_once(v, proj, f"make -j{j}, {name}"))
                self.check_build("plain" if name == "plain gcc" else "secwrap", proj, log, n_compiles,
                                 f"make -j{j}, {name}")
        rows = []
        for j in jobs:
            p = stats_ms(samples[j]["plain gcc"])
            s = stats_ms(samples[j]["secwrap gcc"])
            rows.append({"jobs": j, "plain": p, "secwrap": s, "overhead_ms": s["median"] - p["median"],
                         "ratio": s["median"] / p["median"]})
        self.results["scale_jobs"] = {"rows": rows, "samples_ns": {str(j): v for j, v in samples.items()}}
        self.out(f"### Parallel jobs (whole build of {n_compiles} files, {runs} run(s) per cell, "
                 f"{len(os.sched_getaffinity(0))} usable CPUs)")
        self.out()
        self.out("| make | plain median s | secwrap median s | secwrap p10 s | secwrap p90 s | overhead ms | ratio |")
        self.out("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            self.out(f"| -j{r['jobs']} | {r['plain']['median'] / 1000:.3f} | {r['secwrap']['median'] / 1000:.3f} | "
                     f"{r['secwrap']['p10'] / 1000:.3f} | {r['secwrap']['p90'] / 1000:.3f} | "
                     f"{r['overhead_ms']:+.0f} | {r['ratio']:.4f} |")
        self.out()

    # -- 5. a real workload (--linux) --------------------------------------

    def linux_source(self) -> Path:
        """The pristine Linux 6.1 tree: the one tests/it/linux.rs unpacked into
        target/tmp if it is there (read only here: every build is O=), else
        unpacked from Debian's linux-source-6.1 into the temporary directory."""
        tarball = Path(LINUX_TARBALL)
        if not tarball.is_file():
            raise BenchError(f"--linux needs {tarball} (Debian's linux-source-6.1)")
        st = tarball.stat()
        cached = ROOT / "target" / "tmp" / f"linux-source-6.1-{st.st_size}-{int(st.st_mtime)}" / "linux-source-6.1"
        if (cached / "Makefile").is_file():
            return cached
        progress("7. unpacking linux-source-6.1 (about 20 s)")
        sh("tar", "--no-same-owner", "-xf", str(tarball), "-C", str(self.tmp))
        return self.tmp / "linux-source-6.1"

    def linux(self) -> None:
        rounds = self.linux_rounds
        src = self.linux_source()
        common = ["-C", str(src), "ARCH=x86_64", "HOSTCC=gcc", "-j2"]
        # The split flags cost gcc, as and ld work of their own (more sections): the third build is
        # given them by hand (KCFLAGS), so the wrapper's own cost is secwrap's build minus that one.
        trees = {"plain gcc": (self.tmp / "linux-plain", "gcc"),
                 "plain gcc + split flags": (self.tmp / "linux-flags", "gcc"),
                 "secwrap gcc": (self.tmp / "linux-secwrap", f"{self.secwrap} gcc")}
        kcflags = {"plain gcc + split flags": ["KCFLAGS=" + " ".join(SPLIT_FLAGS)]}
        for name, (obj, _) in trees.items():
            obj.mkdir()
            sh(self.make, *common, f"O={obj}", "tinyconfig", env=self.env)
        sw_obj = trees["secwrap gcc"][0]
        (sw_obj / "secwrap.toml").write_text(
            '[log]\npath = "secwrap.jsonl"\n\n[[rule]]\nname = "always-split"\nwhen = "y"\n'
            'cflags = ["-ffunction-sections", "-fdata-sections"]\n')
        samples: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in trees}
        for r in range(rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                obj, cc = trees[name]
                sh(self.make, *common, f"O={obj}", "clean", env=self.env)
                log = obj / "secwrap.jsonl"
                log.unlink(missing_ok=True)
                progress(f"7. Linux tinyconfig: round {r + 1}/{rounds}, {name}")
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.monotonic()
                sh(self.make, *common, f"O={obj}", f"CC={cc}", *kcflags.get(name, []), env=self.env)
                wall = time.monotonic() - t0
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                if not (obj / "vmlinux").is_file():
                    raise BenchError(f"Linux tinyconfig via {name}: no vmlinux")
                if name == "secwrap gcc":
                    recs = read_records(log)
                    compiles = [x for x in recs if x["kind"] == "compile"]
                    if len(compiles) < 300 or not any(x["injected"] for x in compiles):
                        raise BenchError(f"Linux tinyconfig via secwrap: {len(compiles)} compiles recorded, "
                                         "expected hundreds with the split flags")
                    assert_split(obj / "kernel" / "fork.o", "copy_process", True, "Linux kernel/fork.o")
                    samples[name]["records"] = len(recs)
                samples[name]["wall"].append(wall)
                samples[name]["cpu"].append(cpu)
        self.results["linux_tinyconfig"] = samples
        pw, fw, sw = (statistics.median(samples[n]["wall"]) for n in trees)
        pc, fc, sc = (statistics.median(samples[n]["cpu"]) for n in trees)
        self.out(f"## 7. A real workload: Linux 6.1 x86_64 tinyconfig, `make -j2` ({rounds} interleaved pairs, "
                 "`make clean` between; CPU = user + sys of make and everything it ran)")
        self.out()
        self.out("| build | median wall s | median CPU s |")
        self.out("| --- | ---: | ---: |")
        self.out(f"| plain gcc | {pw:.1f} | {pc:.1f} |")
        self.out(f"| plain gcc + split flags (KCFLAGS) | {fw:.1f} ({fw / pw - 1:+.1%}) | {fc:.1f} ({fc / pc - 1:+.1%}) |")
        self.out(f"| secwrap gcc ({samples['secwrap gcc']['records']} records) | {sw:.1f} ({sw / pw - 1:+.1%}) | "
                 f"{sc:.1f} ({sc / pc - 1:+.1%}) |")
        self.out()

    # -- 5. log scale -----------------------------------------------------

    def log_scale_seed(self, d: Path) -> bytes:
        """One real record of a compile with a Linux-like ~5 KB command line (as Kbuild's: -Wp,-MMD,
        -nostdinc, -I and -include, dozens of -W/-f flags, -D with quoted values), its build id, time,
        pid and file names replaced by markers for log_scale_block."""
        write_tree(d, kconfig_lines(10))
        (d / "include" / "generated").mkdir(parents=True)
        (d / "include" / "generated" / "autoconf.h").write_text("#define CONFIG_SEED 1\n")
        (d / "SEEDSRC.c").write_text("int seed_fn(void) { return 1; }\n")
        args = ["-Wp,-MMD,./.SEEDOBJ.o.d", "-nostdinc", "-I./include", "-I./include/generated",
                "-include", "./include/generated/autoconf.h", "-D__KERNEL__", "-std=gnu11", "-O2"]
        args += [f"-W{w}" for w in ("all", "undef", "strict-prototypes", "no-trigraphs", "no-format-security",
                                    "declaration-after-statement", "vla", "no-pointer-sign", "cast-function-type",
                                    "no-stringop-truncation", "no-array-bounds", "implicit-fallthrough=5")]
        args += [f"-f{f}" for f in ("no-strict-aliasing", "no-common", "no-PIE",
                                    "no-asynchronous-unwind-tables", "no-delete-null-pointer-checks",
                                    "no-allow-store-data-races", "stack-protector-strong", "no-omit-frame-pointer",
                                    "macro-prefix-map=./=")]
        n = 0
        while len(" ".join(args)) < 1800:
            args.append(f"-DCONFIG_BENCH_OPTION_{n:03}=1")
            n += 1
        args += ['-DKBUILD_MODFILE="kernel/SEEDSRC"', '-DKBUILD_BASENAME="SEEDSRC"', '-DKBUILD_MODNAME="SEEDSRC"',
                 "-c", "-o", "SEEDOBJ.o", "SEEDSRC.c"]
        seed = d / "seed.jsonl"
        env = {**self.env, "SECWRAP_LOG": str(seed), "SECWRAP_BUILD_ID": "@BUILD@"}
        run_checked(Variant("seed", str(self.secwrap), [str(self.secwrap), "gcc", *args], env, d), "log_scale seed")
        rec = json.loads(seed.read_bytes().splitlines()[-1])
        if rec.get("build") != "@BUILD@" or rec["injected"] != SPLIT_FLAGS:
            raise BenchError(f"log_scale: unexpected seed record {rec}")
        rec["time"] = "@DAY@T@CLOCK@Z"
        rec["pid"] = 1  # replaced below
        line = json.dumps(rec, separators=(",", ":")).replace('"pid":1,', '"pid":@PID@,')
        return line.encode()

    @staticmethod
    def log_scale_block(seed: bytes) -> bytes:
        """The records of one build: LINUX_BUILD_RECORDS objects, each its own source and time of day."""
        lines = []
        for j in range(LINUX_BUILD_RECORDS):
            clock = f"{j // 3600 % 24:02}:{j // 60 % 60:02}:{j % 60:02}.{j % 1000:03}"
            lines.append(seed.replace(b"SEEDSRC", b"src%03d" % j).replace(b"SEEDOBJ", b"obj%03d" % j)
                         .replace(b"@CLOCK@", clock.encode()).replace(b"@PID@", b"@PID@%03d" % j))
        return b"\n".join(lines) + b"\n"

    def log_scale_run(self, name: str, argv: list[str], cwd: Path, env: dict, stdout: Path) -> tuple[float, float]:
        """One run of `secwrap ARGV` under the maxrss helper: (wall s, peak RSS MiB)."""
        res = self.tmp / "maxrss.out"
        res.unlink(missing_ok=True)
        v = Variant(name, str(self.maxrss), [str(self.maxrss), str(res), str(self.secwrap), "secwrap", *argv],
                    env, cwd)
        ns, code, _ = run_once(v, stdout=str(stdout), stderr=str(self.tmp / "log_scale.err"))
        kib, status = (int(x) for x in res.read_text().split())
        if code != 0 or status != 0:
            raise BenchError(f"log_scale: `secwrap {' '.join(argv)}` exited {status}: "
                             f"{(self.tmp / 'log_scale.err').read_text()[-2000:]}")
        err = (self.tmp / "log_scale.err").read_text()
        if err.strip() and "wrote" not in err:
            raise BenchError(f"log_scale: `secwrap {' '.join(argv)}` warned: {err[-2000:]}")
        return ns / 1e9, kib / 1024

    def log_scale(self) -> None:
        nrec = self.p["log_scale_records"]
        nbuilds = nrec // LINUX_BUILD_RECORDS
        runs = self.p["log_scale_runs"]
        d = self.tmp / "log_scale"
        seed = self.log_scale_seed(d)
        block = self.log_scale_block(seed)
        log = d / "big.jsonl"
        index = d / "big.jsonl.index"
        ids = [f"b{i:04}" for i in range(nbuilds)]
        t0 = time.monotonic()
        day0 = datetime.date(2020, 1, 1)
        with log.open("wb", buffering=0) as f:
            for i, build in enumerate(ids):
                day = (day0 + datetime.timedelta(days=i)).isoformat().encode()
                f.write(block.replace(b"@BUILD@", build.encode()).replace(b"@DAY@", day)
                        .replace(b"@PID@", b"%d" % (i + 1)))
        gen_s = time.monotonic() - t0
        size = log.stat().st_size
        progress(f"5. log scale: generated {nrec:,} records in {nbuilds:,} builds ({size / 1e9:.2f} GB, "
                 f"{size // nrec:,} bytes a record) in {gen_s:.1f} s")
        self.maxrss = getattr(self, "maxrss", None) or self.rss_helper()
        env = {**self.env, "SECWRAP_LOG": str(log)}
        out = d / "out.txt"
        latest, previous, middle = ids[-1], ids[-2], ids[len(ids) // 2]
        readers = [
            ("log builds", ["log", "builds"]),
            (f"log changed --since {previous}", ["log", "changed", "--since", previous]),
            (f"log export --build {latest}", ["log", "export", "--build", latest, "-o", str(d / "cc.json")]),
            (f"log export --build {middle}", ["log", "export", "--build", middle, "-o", str(d / "cc.json")]),
            ("stats (whole log and latest build)", ["stats"]),
            (f"stats --build {middle}", ["stats", "--build", middle]),
            (f"log show --build {latest}", ["log", "show", "--build", latest]),
            # Linear: every build but the first, read through the index's ranges, each record whole.
            (f"log changed --since {ids[0]}", ["log", "changed", "--since", ids[0]]),
        ]
        linear = {f"log changed --since {ids[0]}"}
        # Page cache warm for the first, index-building run: what is measured is the reader, not the disk.
        with log.open("rb") as f:
            while f.read(16 << 20):
                pass
        rows = []
        for name, argv in readers:
            index.unlink(missing_ok=True)
            cold = self.log_scale_run(name, argv, d, env, out)
            if not index.is_file():
                raise BenchError(f"log_scale: `{name}` wrote no index")
            warm = [self.log_scale_run(name, argv, d, env, out) for _ in range(1 if name in linear else runs)]
            rows.append({"reader": name, "cold_s": cold[0], "cold_mib": cold[1],
                         "warm_s": statistics.median(w[0] for w in warm), "warm_mib": max(w[1] for w in warm)})
            progress(f"5. {name}: index built in {cold[0]:.2f} s ({cold[1]:.1f} MiB), warm {rows[-1]['warm_s']:.3f} s")
            self.log_scale_check(name, out, d, nrec, nbuilds, latest)
        # Every record read whole, one at a time: the linear full scan.
        full = self.log_scale_run("log show", ["log", "show"], d, env, out)
        lines = count_lines(out)
        if lines != nrec + 1:
            raise BenchError(f"log_scale: `log show` printed {lines} lines, expected {nrec + 1}")
        rows.append({"reader": "log show (every record, read whole)", "cold_s": None, "cold_mib": None,
                     "warm_s": full[0], "warm_mib": full[1]})
        scan_s = min(r["cold_s"] for r in rows if r["cold_s"] is not None)
        rate = size / 1e6 / scan_s
        self.results["log_scale"] = {"records": nrec, "builds": nbuilds, "bytes": size, "generate_s": gen_s,
                                     "rows": rows, "scan_mb_s": rate, "show_mb_s": size / 1e6 / full[0]}

        # Appends to that log (the index present) against an empty log.
        appends = self.p["log_scale_appends"]
        args = ["-c", "x.c", "-o", "x.o"]
        t = write_tree(self.tmp / "log_scale_append", kconfig_lines(10))
        empty = t / "empty.jsonl"
        empty.write_bytes(b"")
        ve = Variant("empty log", str(self.secwrap), [str(self.secwrap), "gcc", *args],
                     {**self.env, "SECWRAP_LOG": str(empty)}, t)
        vb = Variant(f"log of {nrec:,} records, index beside it", str(self.secwrap),
                     [str(self.secwrap), "gcc", *args], {**self.env, "SECWRAP_LOG": str(log)}, t)
        run_checked(ve, "log_scale append (check)")
        s = interleaved([ve, vb], appends, "log_scale append")
        arows = table_rows(s, "empty log")
        paired = statistics.median(b - e for b, e in zip(s[vb.name], s[ve.name])) / 1e6
        self.results["log_scale"]["append"] = {"rows": arows, "samples_ns": s, "paired_median_diff_ms": paired}

        self.out(f"## 5. Log scale ({nrec:,} records in {nbuilds:,} builds of {LINUX_BUILD_RECORDS}, "
                 f"{size / 1e9:.2f} GB, {size // nrec:,} bytes a record: one real record of a compile with a "
                 f"Linux-like command line, replicated with distinct build ids, times, pids and objects)")
        self.out()
        self.out(f"First run: the index removed, so the reader reads the whole log and writes `<log>.index`. "
                 f"Warm: the median of {runs} runs with the index (one for `log changed --since {ids[0]}`, "
                 "which reads every build but the first, and for `log show`, which reads every record). "
                 "Peak RSS from the maxrss helper (warm: the largest of the runs). Page cache warm.")
        self.out()
        self.out("| reader | first run s | first run MiB | warm s | warm MiB |")
        self.out("| --- | ---: | ---: | ---: | ---: |")
        fmt = lambda x, f: "-" if x is None else format(x, f)
        for r in rows:
            self.out(f"| {r['reader']} | {fmt(r['cold_s'], '.2f')} | {fmt(r['cold_mib'], '.1f')} | "
                     f"{r['warm_s']:.3f} | {r['warm_mib']:.1f} |")
        self.out()
        self.out(f"Full scan (the fastest first run, which reads every line): {rate:,.0f} MB/s; `log show` of "
                 f"every record, each read whole and printed: {size / 1e6 / full[0]:,.0f} MB/s.")
        self.out()
        self.out(f"Appending ({appends} interleaved rounds, smallest compile): median per-round difference, "
                 f"big log with index minus empty log: {paired:+.2f} ms.")
        self.out()
        self.out(fmt_table(arows, first_col="secwrap gcc appending to"))
        self.out()
        worst_warm = max(r["warm_s"] for r in rows if r["cold_s"] is not None and r["reader"] not in linear)
        worst_mib = max(max(r["warm_mib"], r["cold_mib"] or 0) for r in rows)
        self.target(f"log readers on {nrec:,} records < 1 s warm (the latest builds; not the linear rows)",
                    worst_warm < 1.0, f"slowest {worst_warm:.3f} s")
        self.target(f"log readers on {nrec:,} records <= 64 MiB RSS", worst_mib <= 64.0, f"largest {worst_mib:.1f} MiB")
        self.target("full scan >= 300 MB/s from page cache", rate >= 300, f"{rate:,.0f} MB/s")
        self.target(f"appending to a log of {nrec:,} records with its index is not slower than to an empty log "
                    f"(median per-round difference <= {LOG_TOLERANCE_MS} ms)", paired <= LOG_TOLERANCE_MS,
                    f"{paired:+.2f} ms")
        log.unlink()
        index.unlink(missing_ok=True)

    def log_scale_check(self, name: str, out: Path, d: Path, nrec: int, nbuilds: int, latest: str) -> None:
        """What each reader printed is the answer for the generated log."""
        text = out.read_text(errors="replace")
        if name == "log builds":
            ok = text.count("\n") == nbuilds and f"{LINUX_BUILD_RECORDS} invocations" in text.splitlines()[-1]
        elif name.startswith("log changed"):
            ok = text.splitlines() == [f"obj{j:03}.o" for j in range(LINUX_BUILD_RECORDS)]
        elif name.startswith("log export"):
            ok = len(json.loads((d / "cc.json").read_text())) == LINUX_BUILD_RECORDS
        elif name.startswith("stats --build"):
            ok = f"calls:                {LINUX_BUILD_RECORDS} " in text
        elif name.startswith("stats"):
            ok = f"{nrec:,}".replace(",", "") in text.replace(",", "") and f"latest build `{latest}`" in text
        elif name.startswith("log show"):
            ok = text.splitlines()[-1].startswith(f"{LINUX_BUILD_RECORDS} records")
        else:
            ok = False
        if not ok:
            raise BenchError(f"log_scale: `{name}` printed an unexpected answer: {text[-1500:]}")

    # -- 6. livepatch commands at scale -------------------------------------

    def lp_compile(self, base: Path, tag: str, source: str, through_secwrap: bool) -> tuple[bytes, dict | None]:
        """Compile one module of the livepatch tree; returns the object's bytes and, through secwrap, its record."""
        src = base / "src" / f"{tag}.c"
        src.write_text(source)
        obj = base / "obj" / f"{tag}.o"
        args = ["-O2", "-Iinclude", "-c", f"src/{tag}.c", "-o", f"obj/{tag}.o"]
        log = base / "secwrap.jsonl"
        before = count_lines(log) if log.exists() else 0
        if through_secwrap:
            sh(str(self.secwrap), "gcc", *args, cwd=base, env=self.env)
            records = read_records(log)
            if len(records) != before + 1 or records[-1]["injected"] != SPLIT_FLAGS:
                raise BenchError(f"livepatch scale: compiling {src} through secwrap did not record one split compile")
            return obj.read_bytes(), records[-1]
        sh(self.gcc, *args, cwd=base, env=self.env)
        return obj.read_bytes(), None

    def lp_tree(self, d: Path, n: int, objects: dict[str, bytes], template: dict, unsplit: list[str],
                patched: list[str], distinct: list[str]) -> dict:
        """A tree of n objects on each side (`orig/`, `patched/`), copies of the distinct real objects under
        distinct paths, and a log of 2n compile records (builds `orig`, then `patched`) made from a real record
        of secwrap's. A few copies are unsplit objects whose records say split (check finds them), a few
        patched objects differ (diff finds them). Returns what the commands must report."""
        positions_unsplit = [7, n // 2, n - 3][: len(unsplit)]
        # Position k of every len(distinct) holds distinct[k]: these hold the patched ones.
        step = len(distinct)
        positions_patched = [n // 6 * (k + 1) // step * step + k for k in range(len(patched))]
        rel = [Path(f"d{i // 1000:02d}") / f"m{i:05d}.o" for i in range(n)]
        for side in ("orig", "patched"):
            for sub in {r.parent for r in rel}:
                (d / side / sub).mkdir(parents=True, exist_ok=True)
        tags = []
        for i in range(n):
            if i in positions_unsplit:
                tag = unsplit[positions_unsplit.index(i)]
            else:
                tag = distinct[i % len(distinct)]
            tags.append(tag)
            (d / "orig" / rel[i]).write_bytes(objects[tag])
            new = objects[f"{tag}_patched"] if i in positions_patched else objects[tag]
            (d / "patched" / rel[i]).write_bytes(new)
        # The records come after the files, as a compile's record follows its object.
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        src_word = template["_src"]
        obj_word = template["_obj"]
        lines = []
        for side in ("orig", "patched"):
            root = d / side
            for i in range(n):
                src = f"src/m{i:05d}.c"
                out = str(rel[i])
                r = {k: v for k, v in template.items() if not k.startswith("_")}
                swap = {src_word: src, obj_word: out}
                r["argv"] = [swap.get(w, w) for w in template["argv"]]
                r["exec"] = [swap.get(w, w) for w in template["exec"]]
                r["cwd"] = str(root)
                r["inputs"] = [str(root / src)]
                r["output"] = str(root / out)
                r["time"] = now
                r["build"] = side
                lines.append(json.dumps(r, separators=(",", ":")))
        log = d / "secwrap.jsonl"
        log.write_text("\n".join(lines) + "\n")
        # An image linked from every patched object by a script without the catch-alls: orphans.
        lds = d / "image.lds"
        lds.write_text(LP_IMAGE_LDS)
        rsp = d / "image.rsp"
        rsp.write_text("\n".join(str(d / "patched" / r) for r in rel) + "\n")
        t0 = time.monotonic()
        sh("ld", "-o", str(d / "image"), "-e", "0", "-z", "muldefs", "--unresolved-symbols=ignore-all",
           "-T", str(lds), f"@{rsp}", cwd=d)
        return {
            "link_s": time.monotonic() - t0,
            "log_mib": log.stat().st_size / 2**20,
            "objects_mib": sum(len(objects[t]) for t in tags) / 2**20,
            "changed": [str(rel[i]) for i in positions_patched],
            "unsplit": [str(d / "patched" / rel[i]) for i in positions_unsplit],
        }

    def lp_run(self, variants: list[Variant], expect_status: int, runs: int) -> list[dict]:
        """Each variant run once to warm the page cache and check, then `runs` rounds of every variant
        (the order alternating each round), then `runs // 2` rounds under the RSS helper. Returns per variant
        its samples (wall ns, CPU ns, maxrss KiB) and the stdout and stderr of its checked run."""
        out, err = self.tmp / "lp.out", self.tmp / "lp.err"
        results = []
        for v in variants:
            _, code, _ = run_once(v, str(out), str(err))
            stdout, stderr = out.read_text(), err.read_text()
            if code != expect_status:
                raise BenchError(f"livepatch scale: `{v.describe()}` in {v.cwd} exited {code}, expected "
                                 f"{expect_status}\n--- stdout ---\n{stdout[-2000:]}\n--- stderr ---\n{stderr[-2000:]}")
            results.append({"wall_ns": [], "cpu_ns": [], "maxrss_kib": [], "stdout": stdout, "stderr": stderr})
        order = list(range(len(variants)))
        for r in range(runs):
            for k in (order if r % 2 == 0 else order[::-1]):
                ns, code, cpu = run_once_cpu(variants[k])
                if code != expect_status:
                    raise BenchError(f"livepatch scale: `{variants[k].describe()}` exited {code} on a later run")
                results[k]["wall_ns"].append(ns)
                results[k]["cpu_ns"].append(cpu)
        res = self.tmp / "maxrss.out"
        for _ in range(max(1, runs // 2)):
            for v, result in zip(variants, results):
                res.unlink(missing_ok=True)
                h = Variant(v.name, str(self.lp_maxrss), [str(self.lp_maxrss), str(res), v.path, *v.argv], v.env,
                            v.cwd)
                run_once(h)
                kib, status = (int(x) for x in res.read_text().split())
                if status != expect_status:
                    raise BenchError(f"livepatch scale: `{v.describe()}` exited {status} under the RSS helper")
                result["maxrss_kib"].append(kib)
        for result in results:
            result["median_s"] = statistics.median(result["wall_ns"]) / 1e9
            result["median_cpu_s"] = statistics.median(result["cpu_ns"]) / 1e9
            result["maxrss_mib"] = max(result["maxrss_kib"]) / 1024
        return results

    def livepatch_scale(self) -> None:
        sizes = self.p["lp_sizes"]
        runs = self.p["lp_runs"]
        distinct_count = self.p["lp_distinct"]
        self.lp_maxrss = self.helper("maxrss")
        base = write_tree(self.tmp / "lp-base", kconfig_lines(10))
        (base / "include").mkdir()
        (base / "include" / "bench.h").write_text(BENCH_H)
        (base / "src").mkdir()
        (base / "obj").mkdir()
        progress(f"6. livepatch scale: compiling {distinct_count} distinct objects through secwrap")
        objects: dict[str, bytes] = {}
        template = None
        distinct = []
        patched = []
        for k in range(distinct_count):
            tag = f"lp{k:04d}"
            source = MODULE_C.replace("@ITEMS@", "\t{ 1, 2, \"a3\", 4 }").replace("@N@", str(k + 1)).replace("@", tag)
            objects[tag], record = self.lp_compile(base, tag, source, True)
            distinct.append(tag)
            if template is None:
                template = {**record, "_src": f"src/{tag}.c", "_obj": f"obj/{tag}.o"}
            if k < 5:
                # The patch: one function's body changes.
                changed = source.replace("h *= 16777619u;", "h *= 16777619u;\n\t\th += 0x5bd1e995u;")
                objects[f"{tag}_patched"], _ = self.lp_compile(base, f"{tag}_patched", changed, True)
                patched.append(tag)
        unsplit = []
        for k in range(3):
            tag = f"unsplit{k}"
            source = MODULE_C.replace("@ITEMS@", "\t{ 1, 2, \"a3\", 4 }").replace("@N@", str(k + 1)).replace("@", tag)
            objects[tag], _ = self.lp_compile(base, tag, source, False)
            assert_split(base / "obj" / f"{tag}.o", f"mod_{tag}_sum", False, "livepatch scale: unsplit object")
            unsplit.append(tag)
        assert_split(base / "obj" / f"{distinct[0]}.o", f"mod_{distinct[0]}_sum", True, "livepatch scale: split object")
        rows = []
        for n in sizes:
            d = self.tmp / f"lp{n}"
            progress(f"6. livepatch scale: {n:,} objects per tree (copies, log, image link)")
            info = self.lp_tree(d, n, objects, template, unsplit, patched, distinct)
            log_arg = ["--log", str(d / "secwrap.jsonl")]
            cmds = [
                ("diff DIR1 DIR2", ["diff", *log_arg, "orig", "patched"], 1),
                ("check --build", ["check", *log_arg, "--build", "patched"], 1),
                ("check --image", ["check", "--image", "image"], 1),
                ("log builds (reads the log only)", ["log", "builds", *log_arg], 0),
            ]
            progress(f"6. livepatch scale: {n:,} objects: timing {len(cmds)} commands, {runs} runs each")
            row = {"objects": n, **info, "commands": {}}
            if self.lp_before:
                row["before"] = {}
            for name, args, status in cmds:
                vs = [Variant(name, str(b), [str(b), *args], self.env, d)
                      for b in [self.secwrap, *([self.lp_before] if self.lp_before else [])]]
                results = self.lp_run(vs, status, runs)
                self.lp_verify(name, n, results[0]["stdout"], results[0]["stderr"], info)
                if self.lp_before:
                    # The same answer, byte for byte, from the other build.
                    if (results[1]["stdout"], results[1]["stderr"]) != (results[0]["stdout"], results[0]["stderr"]):
                        raise BenchError(f"livepatch scale: `{name}` at {n} objects: {self.lp_before} printed "
                                         f"something else than {self.secwrap}")
                    row["before"][name] = results[1]
                row["commands"][name] = results[0]
            rows.append(row)
        self.results["livepatch_scale"] = {"distinct_objects": distinct_count, "rows": rows}
        names = list(rows[0]["commands"])
        self.out(f"## 6. Livepatch commands at scale ({distinct_count} distinct objects compiled through "
                 "`secwrap gcc`, copied under distinct paths into two trees with a log of two builds; "
                 f"5 objects differ, 3 unsplit ones recorded as split; the image is `ld` of every patched object "
                 f"with a script lacking the catch-alls; median of {runs} warm runs, peak RSS the max under the helper)")
        self.out()
        self.out("Each cell: median wall s / median CPU s (user + sys) / peak RSS MiB.")
        self.out()
        for key, title in [("commands", str(self.secwrap)), ("before", str(self.lp_before))]:
            if key not in rows[0]:
                continue
            self.out(f"`{title}`:")
            self.out()
            self.out("| objects per tree | log MiB | " + " | ".join(names) + " |")
            self.out("| ---: | ---: | " + " | ".join("---:" for _ in names) + " |")
            for row in rows:
                cells = [f"{row[key][c]['median_s']:.3f} / {row[key][c]['median_cpu_s']:.3f} / "
                         f"{row[key][c]['maxrss_mib']:.0f}" for c in names]
                self.out(f"| {row['objects']:,} | {row['log_mib']:.1f} | " + " | ".join(cells) + " |")
            self.out()
        for row in rows:
            for key in ("commands", "before"):
                for result in row.get(key, {}).values():
                    result.pop("stdout", None)
                    result.pop("stderr", None)
        last = rows[-1]
        for c in names[:3]:
            wall = last["commands"][c]["median_s"]
            self.target(f"`{c}` < 1 s at {last['objects']:,} objects (warm)", wall < 1.0,
                        f"{wall:.3f} s, peak RSS {last['commands'][c]['maxrss_mib']:.0f} MiB")

    def lp_verify(self, name: str, n: int, stdout: str, stderr: str, info: dict) -> None:
        """Each command reports what the tree holds, so the timing is of real work."""
        if name == "diff DIR1 DIR2":
            changed = {line.split(":", 1)[0] for line in stdout.splitlines()}
            skipped = f"secwrap: skipped {n - len(info['changed']):,} files: {n - len(info['changed'])} identical"
            if changed != set(info["changed"]) or skipped.replace(",", "") not in stderr.replace(",", ""):
                raise BenchError(f"livepatch scale: diff at {n} objects reported {sorted(changed)} (expected "
                                 f"{info['changed']}), stderr {stderr[-500:]!r}")
        elif name == "check --build":
            subjects = {line.split(": ", 1)[0] for line in stdout.splitlines()}
            if subjects != set(info["unsplit"]):
                raise BenchError(f"livepatch scale: check --build at {n} objects reported {sorted(subjects)[:10]} "
                                 f"(expected the unsplit {info['unsplit']})")
        elif name == "check --image":
            if ".text.*" not in stdout or "orphan section" not in stdout:
                raise BenchError(f"livepatch scale: check --image at {n} objects found no orphan: {stdout[-500:]!r}")
        elif "patched" not in stdout:
            raise BenchError(f"livepatch scale: log builds at {n} objects: {stdout[-500:]!r}")

    # -- all --------------------------------------------------------------

    def run(self) -> None:
        m = machine_info(self.secwrap, self.path)
        self.results["machine"] = m
        self.out(f"# secwrap benchmark{' (--quick: fewer runs, smaller sizes)' if self.quick else ''}")
        self.out()
        for k, v in m.items():
            self.out(f"- {k}: {v}")
        self.out()
        for section in SECTIONS:
            if self.only is None or section in self.only:
                getattr(self, section)()
        if self.linux_rounds:
            self.linux()
        self.results["machine"]["loadavg_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        self.out(f"Load average at end: {self.results['machine']['loadavg_at_end']} "
                 f"(at start: {self.results['machine']['loadavg_at_start']})")
        self.out()
        self.out("## Targets")
        self.out()
        for t in self.targets:
            self.out(f"- {'MET' if t['met'] else 'NOT MET'}: {t['target']} — {t['measured']}")
        self.out()
        self.results["targets"] = self.targets


def main() -> int:
    ap = argparse.ArgumentParser(description="secwrap benchmark (see benches/README.md)")
    ap.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes: a smoke check (< 2 min)")
    ap.add_argument("--secwrap", default=str(ROOT / "target" / HOST / "release" / "secwrap"),
                    help="the secwrap binary (default: target/<host>/release/secwrap, as the repository's "
                         ".cargo/config.toml builds it)")
    ap.add_argument("--secwrap-reference", default=None,
                    help="a dynamically linked PIE secwrap to measure beside it (scripts/bench builds one)")
    ap.add_argument("--only", action="append", choices=[*SECTIONS, "linux"],
                    help="run only this section (repeatable; `linux`: only the --linux workload)")
    ap.add_argument("--linux", type=int, default=0, metavar="ROUNDS",
                    help="also build Linux 6.1 tinyconfig ROUNDS times with plain gcc and through secwrap, "
                         "interleaved (about 6 min a round on 2 cores; needs linux-source-6.1)")
    ap.add_argument("--log-records", type=int, default=None, metavar="N",
                    help=f"log_scale: records in the generated log, in builds of {LINUX_BUILD_RECORDS} "
                         "(default 1,106,000: 2,000 builds, about 5.5 GB; --quick 55,300)")
    ap.add_argument("--lp-before", default=None, metavar="BINARY",
                    help="livepatch_scale also times BINARY (another build of secwrap, e.g. of an earlier commit) "
                         "on the same trees, round by round with secwrap, and checks it prints the same")
    ap.add_argument("--compile-rounds", type=int, default=None, metavar="N",
                    help="rounds of the smallest compile in section 1 (default 1,000; --quick 40): more "
                         "narrow the intervals, for a margin smaller than 1,000 rounds can show")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (for debugging)")
    ap.add_argument("--output", default=str(RESULTS), help="where to write the JSON results")
    a = ap.parse_args()
    if a.only and "linux" in a.only and not a.linux:
        ap.error("--only linux needs --linux ROUNDS")
    secwrap = Path(a.secwrap).resolve()
    if not (secwrap.is_file() and os.access(secwrap, os.X_OK)):
        print(f"bench: {secwrap} is not an executable; run scripts/bench (it builds it)", file=sys.stderr)
        return 2
    params = dict(QUICK if a.quick else FULL)
    if a.log_records is not None:
        if a.log_records < 2 * LINUX_BUILD_RECORDS:
            print(f"bench: --log-records must be at least {2 * LINUX_BUILD_RECORDS} (two builds)", file=sys.stderr)
            return 2
        params["log_scale_records"] = a.log_records
    if a.compile_rounds is not None:
        if a.compile_rounds < 10:
            print("bench: --compile-rounds must be at least 10", file=sys.stderr)
            return 2
        params["compile_runs"] = a.compile_rounds
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="secwrap-bench-"))
    cwd = os.getcwd()
    try:
        secwrap_reference = Path(a.secwrap_reference).resolve() if a.secwrap_reference else None
        lp_before = Path(a.lp_before).resolve() if a.lp_before else None
        b = Bench(tmp, secwrap, params, a.quick, secwrap_reference, a.only, a.linux, lp_before)
        b.run()
        total = time.monotonic() - start
        b.results["total_wall_s"] = total
        b.results["report"] = "\n".join(b.report)
        out = Path(a.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(b.results, indent=1) + "\n")
        print(f"Total wall time: {total:.0f} s. Results: {out}")
        return 0
    except BenchError as e:
        print(f"\nbench: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        os.chdir(cwd)
        if a.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
