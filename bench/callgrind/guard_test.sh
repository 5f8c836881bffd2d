#!/bin/sh
# The guard's own test (ctest bench.callgrind.guard_lower): check.sh
# against copies of the baseline with every count lowered, as if each hot
# path had grown since.
#   lowered by 10 %  (+11 % now)  check.sh must fail and name every path
#                                  REGRESSION
#   lowered by 4 %   (+4.2 % now) check.sh must pass: within the 5 %
# Usage: sh bench/callgrind/guard_test.sh HOT_PATHS BASELINE CONFIG
# Exit: 0 both held, 1 not, 77 check.sh skipped (another build config).
set -eu
bin=$1 baseline=$2 config=$3
here=$(cd "$(dirname "$0")" && pwd)
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
tmp=$(mktemp -d /tmp/fsec-guard.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

# BASELINE with each path's count times $1, the config line kept.
scaled() {
  awk -v f="$1" '$1 == "config" || /^#/ { print; next }
                 { printf "%s %d\n", $1, $2 * f }' "$baseline" > "$tmp/base-$1.txt"
}
paths=$(awk '$1 != "config" && !/^#/ { print $1 }' "$baseline")
[ -n "$paths" ] || { echo "guard_test.sh: no paths in $baseline"; exit 1; }

scaled 0.90
rc=0
sh "$here/check.sh" "$bin" "$tmp/base-0.90.txt" "$config" > "$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" = 77 ] && exit 77
[ "$rc" = 1 ] || { echo "guard_test.sh: FAIL: 10 % over the baseline gave exit $rc, not 1"; exit 1; }
for p in $paths; do
  grep -q "^$p .*REGRESSION" "$tmp/out" ||
    { echo "guard_test.sh: FAIL: $p not reported as a REGRESSION"; exit 1; }
done

scaled 0.96
rc=0
sh "$here/check.sh" "$bin" "$tmp/base-0.96.txt" "$config" > "$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" = 0 ] || { echo "guard_test.sh: FAIL: 4 % over the baseline gave exit $rc, not 0"; exit 1; }
echo "guard_test.sh: ok: +11 % fails on every path, +4 % passes"
