#!/usr/bin/env bash
# profile.sh: where secwrap's per-invocation time goes, against the floor.
#
# The compiler here is a static no-op program named `gcc`, so the figures
# are the wrappers' own cost, free of gcc's noise. Compared:
#   - the no-op compiler alone;
#   - exec only: benches/exec_only.c built static (one exec, no second
#     process: below what a recording wrapper can do);
#   - a shell wrapper that execs it (no second process, nothing recorded);
#   - the floor: benches/floor.c built static, posix_spawnp + waitpid, which
#     any wrapper that records the exit status must do at the least;
#   - secwrap as `cargo build --release` builds it (static, non-PIE, LTO:
#     .cargo/config.toml and Cargo.toml's release profile), and the same
#     sources as a plain dynamic PIE build without LTO, for reference.
# Then callgrind's instruction count for one compile through each secwrap,
# and the reference build's by function (the default build is stripped). Needs perf (linux-perf) and
# valgrind; run from the repository.
#
#   benches/profile.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-300}
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release -q --locked
RUSTFLAGS="" CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=false \
	CARGO_TARGET_DIR=target/bench-reference cargo build --release -q --locked
default=$root/target/$host/release/secwrap
reference=$root/target/bench-reference/$host/release/secwrap

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/tree"
printf 'int main(void) { return 0; }\n' >"$work/noop.c"
gcc -static -O2 "$work/noop.c" -o "$work/bin/gcc"
gcc -static -O2 benches/floor.c -o "$work/floor"
gcc -static -O2 benches/exec_only.c -o "$work/exec_only"
printf '#!/bin/sh\nexec gcc "$@"\n' >"$work/sh-wrapper"
chmod +x "$work/sh-wrapper"

cd "$work/tree"
printf 'CONFIG_LIVEPATCH=y\n' >.config
printf 'kconfig = ".config"\n[log]\npath = "log.jsonl"\n' >secwrap.toml
printf 'int x;\n' >x.c
export PATH="$work/bin:$PATH" SECWRAP_CACHE_DIR="$work/cache"
"$default" gcc -c x.c -o x.o # warm the probe and Kconfig caches

echo "# per invocation, $runs runs each (perf stat -r): wall time, page faults"
echo "| variant | wall ms | page faults |"
echo "| --- | ---: | ---: |"
measure() {
	local name=$1
	shift
	perf stat -r "$runs" -e page-faults -x, -o "$work/stat" "$@" >/dev/null 2>&1
	local faults
	faults=$(grep page-faults "$work/stat" | cut -d, -f1)
	# perf -x, does not print the elapsed time; time the same runs.
	local start end
	start=$(date +%s%N)
	for ((i = 0; i < runs; i++)); do "$@" >/dev/null 2>&1; done
	end=$(date +%s%N)
	printf '| %s | %.3f | %s |\n' "$name" "$(echo "($end - $start) / $runs / 1000000" | bc -l)" "$faults"
}
measure "no-op compiler alone" "$work/bin/gcc" -c x.c -o x.o
measure "exec only (static C)" "$work/exec_only" gcc -c x.c -o x.o
measure "sh wrapper (exec)" "$work/sh-wrapper" -c x.c -o x.o
measure "floor: static C spawn + wait" "$work/floor" gcc -c x.c -o x.o
measure "secwrap gcc (default build: static, non-PIE, LTO)" "$default" gcc -c x.c -o x.o
measure "secwrap gcc (dynamic PIE, no LTO: reference)" "$reference" gcc -c x.c -o x.o

echo
for variant in default reference; do
	echo
	echo "# instructions for one compile through secwrap (callgrind, $variant build)"
	valgrind --tool=callgrind --callgrind-out-file="$work/cg.$variant" "${!variant}" gcc -c x.c -o x.o 2>"$work/cg.err"
	grep -o 'refs: .*' "$work/cg.err" | sed 's/^/total /'
done
echo
echo "# by function, reference build (inclusive; the default build is stripped)"
callgrind_annotate --inclusive=yes "$work/cg.reference" 2>/dev/null |
	grep -E 'secwrap::(shim|config|cache|probe|exec|record|compiler|argv|classify|inject)::' |
	sed -E 's/ \[.*//; s/\?\?\?://' | head -14
