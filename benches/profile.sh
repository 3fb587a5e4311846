#!/usr/bin/env bash
# profile.sh: where secwrap's per-invocation time goes, against the floor.
#
# The compiler here is a static no-op program named `gcc`, so the figures
# are the wrappers' own cost, free of gcc's noise. Compared:
#   - the no-op compiler alone;
#   - a shell wrapper that execs it (no second process, nothing recorded);
#   - floor: a minimal static Rust program that spawns it and waits, which
#     any wrapper that records the exit status must do at the least;
#   - secwrap as built by `cargo build --release` and statically linked.
# Then callgrind's instruction count for one compile through secwrap, by
# function. Needs perf (linux-perf) and valgrind; run from the repository.
#
#   benches/profile.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-300}
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release -q
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -q --target "$host"
dynamic=$root/target/release/secwrap
static=$root/target/$host/release/secwrap

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/tree"
printf 'int main(void) { return 0; }\n' >"$work/noop.c"
gcc -static -O2 "$work/noop.c" -o "$work/bin/gcc"
cat >"$work/floor.rs" <<'EOF'
// Spawn the program named by the arguments, wait, exit with its status.
fn main() {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("program");
    let status = std::process::Command::new(program).args(args).status().expect("spawn");
    std::process::exit(status.code().unwrap_or(1));
}
EOF
rustc -O -C target-feature=+crt-static "$work/floor.rs" -o "$work/floor"
printf '#!/bin/sh\nexec gcc "$@"\n' >"$work/sh-wrapper"
chmod +x "$work/sh-wrapper"

cd "$work/tree"
printf 'CONFIG_LIVEPATCH=y\n' >.config
printf 'kconfig = ".config"\n[log]\npath = "log.jsonl"\n' >secwrap.toml
printf 'int x;\n' >x.c
export PATH="$work/bin:$PATH" SECWRAP_CACHE_DIR="$work/cache"
"$dynamic" gcc -c x.c -o x.o # warm the probe and Kconfig caches

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
measure "sh wrapper (exec)" "$work/sh-wrapper" -c x.c -o x.o
measure "floor: static spawn + wait" "$work/floor" "$work/bin/gcc" -c x.c -o x.o
measure "secwrap gcc (cargo build --release)" "$dynamic" gcc -c x.c -o x.o
measure "secwrap gcc (static)" "$static" gcc -c x.c -o x.o

echo
echo "# instructions for one compile through secwrap (callgrind, static build)"
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$static" gcc -c x.c -o x.o 2>"$work/cg.err"
grep -o 'refs: .*' "$work/cg.err" | sed 's/^/total /'
callgrind_annotate --inclusive=yes "$work/cg.out" 2>/dev/null |
	grep -E 'secwrap::(shim|config|cache|probe|exec|record|compiler|argv|classify|inject)::' |
	sed -E 's/ \[.*//; s/\?\?\?://' | head -14
