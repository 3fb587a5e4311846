#!/usr/bin/env bash
# run-demo.sh: build examples/kconfig-demo through secwrap and show that it
# did its job: objects split per .config, boot/ left alone, one log record
# per compiler invocation.
#
#   cargo build --release && examples/run-demo.sh
#   SECWRAP=/path/to/secwrap examples/run-demo.sh
#   KEEP=1 examples/run-demo.sh   # keep the built tree; its path is the last line
#
# SECWRAP is relative to the repository root unless absolute. Everything
# secwrap-specific (kconfig, exclude list, log path) comes from the demo's
# secwrap.toml; this script only reads it to find the log.
set -euo pipefail

die() { echo "demo: FAIL: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The default build's place (.cargo/config.toml: target/<host triple>/);
# rustc is asked only when SECWRAP does not name the binary.
secwrap=${SECWRAP:-target/$(rustc -vV | sed -n 's/^host: //p')/release/secwrap}
case $secwrap in /*) ;; *) secwrap=$root/$secwrap ;; esac
[ -x "$secwrap" ] || die "no secwrap at $secwrap (run: cargo build --release)"
for tool in make gcc ld readelf; do
	command -v "$tool" >/dev/null || die "$tool not found on PATH"
done

# Build in a scratch copy so the source tree stays clean.
work=$(cd "$(mktemp -d)" && pwd -P)   # physical path, as getcwd() gives secwrap
# KEEP=1: leave the tree (objects, log, make.out) for a look, pass or fail.
finish() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "demo: kept $work/demo"
	else
		rm -rf "$work"
	fi
}
trap finish EXIT
cp -R "$root/examples/kconfig-demo" "$work/demo"
cd "$work/demo"
rm -rf build   # a leftover from a manual build would skew the counts
# Caller's overrides would bypass secwrap.toml, which is what we test.
unset SECWRAP_LOG SECWRAP_CONFIG

log=$(sed -n 's/^path *= *"\(.*\)"/\1/p' secwrap.toml)
[ -n "$log" ] || die "no [log] path in secwrap.toml"

echo "demo: make CC=\"$secwrap gcc\" in $work/demo"
if ! make CC="$secwrap gcc" >make.out 2>&1; then
	tail -n 15 make.out >&2
	die "make failed"
fi
orphans=$(grep -c 'orphan section' make.out || true)
[ "$orphans" -eq 0 ] || { grep 'orphan section' make.out | head -n 5 >&2; die "$orphans orphan-section warnings"; }

# Section names of an object, one per line.
sections() { readelf -SW "$1" | sed -n 's/^ *\[ *[0-9]*\] *\([^ ]*\).*/\1/p'; }
# Split sections are the per-item ones -f{function,data}-sections create.
# Left out: names compilers emit without those flags (.text.unlikely,
# clang's ".text.unlikely.", .text.startup, .rodata.str1.1, .rodata.cst16,
# .data.rel.ro ...) and explicit double-dot ones like .data..read_mostly.
count_text() {
	sections "$1" | grep -E '^\.text\.' |
		grep -cvE '^\.text\.(unlikely|hot|startup|exit)\.?$' || true
}
count_data() {
	sections "$1" | grep -E '^\.(data|bss|rodata)\.' |
		grep -cvE '^\.rodata\.(str|cst)[0-9]|^\.data\.\.|^\.data\.rel(\.ro)?(\.local)?$' || true
}

split=0 excluded=0 objs=0
printf '%-18s %7s %12s  %s\n' object '.text.*' 'data/bss/ro' 'log record'
while IFS= read -r obj; do
	rel=${obj#build/}
	nt=$(count_text "$obj")
	nd=$(count_data "$obj")
	# The compile record is the one naming this object as output.
	rec=$(grep -F "\"$PWD/$obj\"" "$log" || true)
	[ -n "$rec" ] || die "no log record with output $PWD/$obj"
	case $rel in
	boot/*) # excluded by secwrap.toml: exclude = ["boot/**"]
		[ "$nt" -eq 0 ] && [ "$nd" -eq 0 ] || die "$rel is excluded but has $nt .text.* / $nd data sections"
		grep -qE '"injected" *: *\[ *\]' <<<"$rec" || die "$rel is excluded but its record shows injected flags"
		note="nothing injected (excluded)"
		excluded=$((excluded + 1)) ;;
	*)
		[ "$nt" -gt 0 ] || die "$rel has no .text.<fn> sections: not split"
		grep -qE '"injected" *: *\[[^]]*"-ffunction-sections"' <<<"$rec" || die "$rel: record does not show -ffunction-sections injected"
		note="-ffunction-sections injected"
		split=$((split + 1)) ;;
	esac
	objs=$((objs + 1))
	printf '%-18s %7d %12d  %s\n' "$rel" "$nt" "$nd" "$note"
done < <(find build -name '*.o' ! -name demo.o | sort)
[ "$objs" -gt 0 ] || die "no objects were built"

# One record per compiler invocation: each compile, plus the final
# "$(CC) -nostdlib ... -o build/demo.elf" link (ld -r does not go through CC).
# Every count below is of log records, all kinds, as `log show` counts them.
total=$(grep -c . "$log" || true)
compiles=$(grep -cE '"kind" *: *"compile"' "$log" || true)
links=$(grep -cE '"kind" *: *"link_only"' "$log" || true)
records="$total records: $compiles compiles, $links link"
echo "orphan-section warnings: 0; $log: $records (for $objs objects and demo.elf)"
[ "$compiles" -eq "$objs" ] || die "$compiles compile records for $objs objects"
[ "$links" -eq 1 ] || die "$links link records, expected 1"
[ "$total" -eq $((compiles + links)) ] || die "$total records, expected $((compiles + links)) ($compiles compiles + $links link)"

echo "--- $(basename "$secwrap") log show --log $log"
shown=$("$secwrap" log show --log "$log") || die "secwrap log show failed"
head -n 15 <<<"$shown"
[ "$(wc -l <<<"$shown")" -le 15 ] || echo "... ($(wc -l <<<"$shown") lines, truncated)"
echo "---"
echo "demo: OK ($split objects split, $excluded excluded; $records)"
