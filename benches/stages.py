#!/usr/bin/env python3
"""Where a shim call's time goes, stage by stage, beside the floor's (issue 12).

    python3 benches/stages.py [--rounds N] [--compiler noop|gcc] [--log-off]

Builds secwrap with the `stage-timing` feature (src/stages.rs) into
target/stage-timing and benches/floor.c with -DSTAGE_TIMES, then runs both,
interleaved, on the smallest compile in a tree like scripts/bench's (a
.config with CONFIG_LIVEPATCH=y, a log, a warm cache). Each program notes
the CLOCK_MONOTONIC time of its stages; this harness adds the time it
spawned the program and the time wait4 returned, so the first row is the
kernel's exec and the C runtime's start, and the last one the process's
exit and teardown. Prints the median of each stage over the rounds.
`--compiler noop` (the default) runs a static no-op `gcc`, so the
compiler's own time is small and steady; `gcc` runs the real one.

It also reads how much of each program's file is mapped while the compiler
runs (`RssFile` in /proc/PID/status, read by the no-op compiler), and adds
a third program: the floor made to map secwrap's binary and read one byte
in as many 64 KiB windows as secwrap maps more than the floor
(`FLOOR_TOUCH`, benches/floor.c). What that one costs over the floor is
what mapping so much of a binary costs by itself, at the faults and at
exit, with none of secwrap's work.

Python 3.11 standard library only; benches/README.md describes it.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (write_tree, kconfig_lines, HOST, ROOT)

SPLIT_FLAGS = ["-ffunction-sections", "-fdata-sections"]

# A static no-op `gcc`; with STAGES_RSS set it prints its parent's RssFile
# (KiB) on stderr, as `rss_file N`.
NOOP_COMPILER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
	char path[64], line[256];
	FILE *status;

	if (!getenv("STAGES_RSS"))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)getppid());
	status = fopen(path, "r");
	while (status && fgets(line, sizeof(line), status))
		if (!strncmp(line, "RssFile:", 8))
			fprintf(stderr, "rss_file %ld\n", atol(line + 8));
	return 0;
}
"""

# The stages every program has, each the sum of the intervals between its
# bounds: what the table of all programs compares.
SHARED = [
    ("start: exec and C runtime", "spawned by the harness", "main"),
    ("own work before the spawn", "main", "spawn"),
    ("posix_spawn", "spawn", "spawned"),
    ("the compiler", "spawned", "waited"),
    ("own work after the wait", "waited", "exit"),
    ("exit and teardown", "exit", "reaped"),
    ("whole call", "spawned by the harness", "reaped"),
]


def run(program: str, argv: list[str], env: dict, cwd: Path, want_stages: bool = True) -> list[tuple[str, int]]:
    """One spawn: the stages as (name, ns), between ("spawned by harness") and ("reaped");
    an `rss_file` line is kept as ("rss_file", KiB)."""
    read_end, write_end = os.pipe()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, write_end, 2),
    ]
    os.chdir(cwd)
    started = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    pid = os.posix_spawn(program, argv, env, file_actions=actions)
    _, status, _ = os.wait4(pid, 0)
    reaped = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stderr:
        text = stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} in {cwd} failed:\n{text}")
    stages = [("spawned by the harness", started)]
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "stage":
            stages.append((words[1], int(words[2])))
        elif len(words) == 2 and words[0] == "rss_file":
            stages.append(("rss_file", int(words[1])))
    if want_stages and len(stages) < 3:
        raise SystemExit(f"{program} printed no stages: was it built with stage timing?\n{text}")
    return stages + [("reaped", reaped)]


def intervals(stages: list[tuple[str, int]]) -> list[tuple[str, float]]:
    return [(f"{a} -> {b}", (tb - ta) / 1000) for (a, ta), (b, tb) in zip(stages, stages[1:])]


def shared(stages: list[tuple[str, int]]) -> list[tuple[str, float]]:
    at = dict(stages)
    return [(name, (at[end] - at[start]) / 1000) for name, start, end in SHARED]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--compiler", choices=["noop", "gcc"], default="noop")
    ap.add_argument("--log-off", action="store_true", help="SECWRAP_LOG=off for secwrap")
    ap.add_argument("--secwrap", action="append",
                    help="a secwrap built with --features stage-timing (default: build one); "
                         "given again, another build measured beside it")
    args = ap.parse_args()

    builds = [str(Path(path).resolve()) for path in args.secwrap or []]
    if not builds:
        subprocess.run(["cargo", "build", "--release", "--locked", "--features", "stage-timing",
                        "--target-dir", str(bench.ROOT / "target" / "stage-timing")], check=True, cwd=bench.ROOT)
        builds = [str(bench.ROOT / "target" / "stage-timing" / bench.HOST / "release" / "secwrap")]
    with tempfile.TemporaryDirectory(prefix="secwrap-stages-") as tmp:
        tmp = Path(tmp)
        floor = tmp / "floor"
        subprocess.run(["gcc", "-static", "-O2", "-DSTAGE_TIMES", "-o", str(floor),
                        str(bench.ROOT / "benches" / "floor.c")], check=True)
        fakebin = tmp / "fakebin"
        fakebin.mkdir()
        (tmp / "noop.c").write_text(NOOP_COMPILER)
        subprocess.run(["gcc", "-static", "-O2", "-s", "-o", str(fakebin / "gcc"), str(tmp / "noop.c")], check=True)
        noop_path = f"{fakebin}:/usr/bin:/bin"
        path = noop_path if args.compiler == "noop" else "/usr/bin:/bin"
        tree = bench.write_tree(tmp / "tree", bench.kconfig_lines(10))
        env = {"PATH": path, "HOME": str(tmp), "SECWRAP_CACHE_DIR": str(tmp / "cache"), "LC_ALL": "C",
               "SECWRAP_STAGE_TIMES": "1"}
        secwrap_env = {**env, **({"SECWRAP_LOG": "off"} if args.log_off else {})}
        compile_args = ["-c", "x.c", "-o", "x.o"]
        variants = {"floor": (str(floor), ["floor", "gcc", *compile_args, *SPLIT_FLAGS], env)}
        for index, secwrap in enumerate(builds):
            name = "secwrap" if index == 0 else f"secwrap ({secwrap})"
            variants[name] = (secwrap, [secwrap, "gcc", *compile_args], secwrap_env)
        # How much of its file each maps while the compiler runs.
        rss = {}
        for name, (program, argv, e) in variants.items():
            run(program, argv, e, tree)  # warm the cache and the page cache
            measured = dict(run(program, argv, {**e, "PATH": noop_path, "STAGES_RSS": "1"}, tree))
            rss[name] = measured["rss_file"]
        windows = max(0, round((rss["secwrap"] - rss["floor"]) / 64))
        touching = f"floor touching {windows} windows"
        variants[touching] = (str(floor), ["floor", "gcc", *compile_args, *SPLIT_FLAGS],
                              {**env, "FLOOR_TOUCH": f"{builds[0]}:{windows}"})
        rss[touching] = dict(run(*variants[touching][:2], {**variants[touching][2], "PATH": noop_path,
                                                            "STAGES_RSS": "1"}, tree))["rss_file"]
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in variants}
        compared: dict[str, dict[str, list[float]]] = {name: {} for name in variants}
        for round_ in range(args.rounds):
            # Rotated each round, so no variant always follows the same one.
            names = list(variants)
            order = names[round_ % len(names):] + names[:round_ % len(names)]
            for name in order:
                program, argv, e = variants[name]
                stages = run(program, argv, e, tree)
                for interval, us in intervals(stages):
                    samples[name].setdefault(interval, []).append(us)
                for stage, us in shared(stages):
                    compared[name].setdefault(stage, []).append(us)

    log = ", log off" if args.log_off else ""
    print(f"# Stages of the smallest compile ({args.compiler} compiler{log}), medians of {args.rounds} "
          f"interleaved rounds, µs\n")
    names = list(variants)
    print("| stage | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for stage, _, _ in SHARED:
        print(f"| {stage} | " + " | ".join(f"{statistics.median(compared[n][stage]):.1f}" for n in names) + " |")
    print("| RssFile while the compiler runs | " + " | ".join(f"{rss[n]} KiB" for n in names) + " |")
    print()
    for name in variants:
        print(f"## {name}\n")
        print("| stage | median µs |")
        print("| --- | ---: |")
        for interval, values in samples[name].items():
            print(f"| {interval} | {statistics.median(values):.1f} |")
        print()


if __name__ == "__main__":
    main()
