#!/usr/bin/env bash
# livepatch-demo.sh: the livepatch workflow on examples/kconfig-demo.
#
#   1. build the tree through secwrap (build "orig"), originals kept aside;
#   2. apply patches/timer-hz-bound.patch (a one-line fix in timer_init);
#   3. rebuild (build "patched"): make rebuilds only drivers/timer.o;
#   4. `secwrap log changed --since orig` names exactly that object, the
#      list livepatch-build/kpatch read as `changed_objs`;
#   5. `secwrap diff --build patched` (each object the build compiled
#      against the original kept in build/orig/patched/) names exactly the
#      changed function;
#   6. `secwrap check --build patched` finds nothing wrong with the split.
#
#   cargo build --release && examples/livepatch-demo.sh
#   SECWRAP=/path/to/secwrap CC=clang examples/livepatch-demo.sh
set -euo pipefail

die() { echo "livepatch-demo: FAIL: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The default build's place (.cargo/config.toml: target/<host triple>/);
# rustc is asked only when SECWRAP does not name the binary.
secwrap=${SECWRAP:-target/$(rustc -vV | sed -n 's/^host: //p')/release/secwrap}
case $secwrap in /*) ;; *) secwrap=$root/$secwrap ;; esac
[ -x "$secwrap" ] || die "no secwrap at $secwrap (run: cargo build --release)"
cc=${CC:-gcc}
command -v patch >/dev/null || die "patch not found on PATH"

work=$(cd "$(mktemp -d)" && pwd -P)
trap 'rm -rf "$work"' EXIT
cp -R "$root/examples/kconfig-demo" "$work/demo"
cd "$work/demo"
rm -rf build
unset SECWRAP_LOG SECWRAP_CONFIG SECWRAP_BUILD_ID
export SECWRAP_CACHE_DIR="$work/cache"
# Keep each object's original before the patched build overwrites it.
printf '\n[livepatch]\nkeep_originals = "build/orig"\n' >> secwrap.toml

build() {
	"$secwrap" run --build-id "$1" -- make CC="$secwrap $cc" >"make-$1.out" 2>&1 ||
		{ tail -n 15 "make-$1.out" >&2; die "build $1 failed"; }
	grep '^secwrap: build' "make-$1.out"
}

build orig
patch -s -p1 <patches/timer-hz-bound.patch
build patched

echo "--- secwrap log changed --since orig"
changed=$("$secwrap" log changed --since orig)
echo "$changed"
[ "$changed" = "build/drivers/timer.o" ] || die "expected exactly build/drivers/timer.o"

echo "--- secwrap diff --build patched"
[ -f build/orig/patched/build/drivers/timer.o ] || die "no original kept in build/orig/patched/"
status=0
diff=$("$secwrap" diff --build patched) || status=$?
echo "$diff"
[ "$status" -eq 1 ] || die "secwrap diff exited $status, expected 1 (differences)"
[ "$(echo "$diff" | wc -l)" -eq 1 ] && echo "$diff" | grep -q 'changed function `timer_init`' ||
	die "expected exactly one change: function timer_init"

echo "--- secwrap check --build patched"
"$secwrap" check --build patched || die "secwrap check found problems"

echo "livepatch-demo: OK (1 object changed, 1 function changed: timer_init)"
