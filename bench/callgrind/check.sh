#!/bin/sh
# Instruction-count guard: run hot_paths under callgrind, print the
# instructions per call of each C hot path beside the committed baseline,
# and fail when one grew by more than FSEC_CALLGRIND_TOLERANCE percent (10).
#
# Usage: sh bench/callgrind/check.sh HOT_PATHS BASELINE CONFIG
#   HOT_PATHS  the built bench/callgrind/hot_paths
#   BASELINE   bench/callgrind/baseline.txt
#   CONFIG     compiler-version-buildtype of that build (CMake passes it)
# FSEC_CALLGRIND_UPDATE=1 rewrites BASELINE with this run's counts.
# ctest runs it as bench.callgrind (with the build CI uses: build/, GCC,
# RelWithDebInfo). Exit: 0 ok, 1 regression or error, 77 skipped (the
# baseline was made with another compiler, build type or library
# versions, so its counts say nothing about this build).
set -eu
bin=$1 baseline=$2 config=$3
tolerance=${FSEC_CALLGRIND_TOLERANCE:-10}
update=${FSEC_CALLGRIND_UPDATE:-0}

# Always under /tmp (not $TMPDIR): SQLite keeps the absolute database
# name, and its length moves heap blocks, hence memcpy alignments, hence
# a few instructions per call.
dir=$(mktemp -d /tmp/fsec-callgrind.XXXXXX)
trap 'cd /; rm -rf "$dir"' EXIT INT TERM

case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $baseline in /*) ;; *) baseline=$PWD/$baseline ;; esac

# The 10k-user store is built natively (seconds), not under valgrind.
cd "$dir"
"$bin" --populate users.db
valgrind --tool=callgrind --collect-atstart=no \
  --callgrind-out-file="$dir/cg.out" "$bin" users.db \
  > "$dir/stdout" 2> "$dir/valgrind.log" \
  || { cat "$dir/valgrind.log"; echo "check.sh: hot_paths failed under callgrind"; exit 1; }

# One dump per path (CALLGRIND_DUMP_STATS_AT): its "desc: Trigger: Client
# Request: <path>" line names it, "totals:" or "summary:" gives the count.
: > "$dir/counts"
for f in "$dir"/cg.out.*; do
  awk '/^desc: Trigger: Client Request: / { name = $NF }
       /^(totals|summary):/ { total = $2 }
       END { if (name != "") print name, total }' "$f" >> "$dir/counts"
done
libs=$(awk '$1 == "libs" { print $3 "-" $5 }' "$dir/stdout")
config="$config-sqlite-${libs%-*}-sodium-${libs#*-}"
# path iterations total -> path per-call (rounded)
awk 'NR == FNR { iters[$1] = $2; next }
     ($1 in iters) { printf "%s %d\n", $1, ($2 / iters[$1]) + 0.5 }' \
  "$dir/stdout" "$dir/counts" > "$dir/current"
[ -s "$dir/current" ] || { cat "$dir/valgrind.log"; echo "check.sh: no counts"; exit 1; }

if [ "$update" = 1 ]; then
  {
    echo "# Instructions per call (callgrind Ir) of the C hot paths in"
    echo "# bench/callgrind/hot_paths.c, checked by ctest bench.callgrind (build/)."
    echo "# Rewrite: FSEC_CALLGRIND_UPDATE=1 sh bench/callgrind/check.sh \\"
    echo "#   build/bench/callgrind/hot_paths bench/callgrind/baseline.txt $3"
    echo "# 'config' is what the counts depend on; another one skips the check."
    echo "config $config"
    cat "$dir/current"
  } > "$baseline"
  echo "baseline written: $baseline"
  cat "$baseline"
  exit 0
fi

[ -f "$baseline" ] || { echo "check.sh: no baseline $baseline (FSEC_CALLGRIND_UPDATE=1 makes one)"; exit 1; }
want=$(awk '$1 == "config" { print $2 }' "$baseline")
if [ "$want" != "$config" ]; then
  echo "check.sh: SKIPPED: baseline made with $want, this build is $config."
  echo "Counts differ between compilers, build types and library versions;"
  echo "rerun with FSEC_CALLGRIND_UPDATE=1 on the CI build to move the baseline."
  exit 77
fi

# Table; a path missing on either side is an error too.
awk -v tol="$tolerance" '
  NR == FNR { if ($1 != "config" && $1 !~ /^#/) base[$1] = $2; next }
  { cur[$1] = $2; order[++n] = $1 }
  END {
    printf "%-18s %12s %12s %8s  %s\n", "path", "baseline Ir", "now Ir", "change", "status"
    bad = 0
    for (i = 1; i <= n; i++) {
      p = order[i]
      if (!(p in base)) { printf "%-18s %12s %12d %8s  NEW (not in baseline)\n", p, "-", cur[p], "-"; bad = 1; continue }
      d = (cur[p] - base[p]) * 100 / base[p]
      st = d > tol ? "REGRESSION (> +" tol " %)" : (d < -tol ? "ok (faster: update the baseline)" : "ok")
      if (d > tol) bad = 1
      printf "%-18s %12d %12d %+7.1f%%  %s\n", p, base[p], cur[p], d, st
    }
    for (p in base) if (!(p in cur)) { printf "%-18s %12d %12s %8s  MISSING\n", p, base[p], "-", "-"; bad = 1 }
    exit bad
  }' "$baseline" "$dir/current" && exit 0
echo "check.sh: instruction counts above the baseline by more than $tolerance % (or paths differ)."
echo "If the growth is intended, rewrite the baseline: FSEC_CALLGRIND_UPDATE=1 (see the header of $baseline)."
exit 1
