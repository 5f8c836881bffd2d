#!/bin/sh
# Instruction-count guard: run hot_paths under callgrind, print the
# instructions per call of each C hot path beside the committed baseline,
# and fail when one grew by more than FSEC_CALLGRIND_TOLERANCE percent (5).
# Given lua_paths.lua instead of hot_paths, the same for the Lua hot paths
# of a request, as LuaJIT compiles them (see that file).
#
# Usage: sh bench/callgrind/check.sh HOT_PATHS BASELINE CONFIG [BUILD_DIR]
#   HOT_PATHS  the built bench/callgrind/hot_paths, or
#              bench/callgrind/lua_paths.lua (then BUILD_DIR: the build
#              whose luajit/fsec/core.so it loads)
#   BASELINE   bench/callgrind/baseline.txt (baseline_lua.txt)
#   CONFIG     compiler-version-buildtype of that build (CMake passes it)
# FSEC_CALLGRIND_UPDATE=1 rewrites BASELINE with this run's counts.
# ctest runs it as bench.callgrind and bench.callgrind.lua (with the build
# CI uses: build/, GCC, RelWithDebInfo). Exit: 0 ok, 1 regression or
# error, 77 skipped (the baseline was made with another compiler, build
# type or CPU architecture, so its counts say nothing about this build;
# other library versions are compared anyway, with a note).
# FSEC_REQUIRE_CALLGRIND=1 (CI, scripts/test.sh) makes that skip a failure.
set -eu
bin=$1 baseline=$2 config=$3 build=${4:-}
config_arg=$3
tolerance=${FSEC_CALLGRIND_TOLERANCE:-5}
update=${FSEC_CALLGRIND_UPDATE:-0}

# Always under /tmp (not $TMPDIR): SQLite keeps the absolute database
# name, and its length moves heap blocks, hence memcpy alignments, hence
# a few instructions per call.
dir=$(mktemp -d /tmp/fsec-callgrind.XXXXXX)
trap 'cd /; rm -rf "$dir"' EXIT INT TERM

case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $baseline in /*) ;; *) baseline=$PWD/$baseline ;; esac

# The Lua paths: each run under callgrind twice, N and 2N iterations; the
# difference over N is one iteration's count without the set-up (loading
# fsec, the database, the first whole checks). LuaJIT's interpreter runs
# them (lua_paths.lua says why): its count is fsec's Lua work.
lua_counts() {
  root=$(cd "$(dirname "$bin")/../.." && pwd)
  case $build in /*) ;; *) build=$root/$build ;; esac
  n=20000
  for p in hit_token hit_session check_token; do
    for k in 1 2; do
      (cd "$root" && valgrind --tool=callgrind --callgrind-out-file="$dir/lua-$p-$k.out" \
        luajit "$bin" "$build" "$p" $((n * k))) > "$dir/stdout" 2> "$dir/valgrind.log" \
        || { cat "$dir/valgrind.log"; echo "check.sh: lua_paths $p failed under callgrind"; exit 1; }
    done
    awk -v p="$p" -v n="$n" 'FNR == 1 { k++ } /^(totals|summary):/ { t[k] = $2 }
      END { printf "%s %d\n", p, (t[2] - t[1]) / n + 0.5 }' "$dir/lua-$p-1.out" "$dir/lua-$p-2.out"
  done > "$dir/current"
  lj=$(dpkg-query -W -f='${Version}' libluajit2-5.1-2 2>/dev/null || luajit -v | awk '{ print $2 }')
  config="$config-$(uname -m)-luajit-$lj"
  what="Lua hot paths in bench/callgrind/lua_paths.lua (LuaJIT), checked by ctest bench.callgrind.lua"
  rewrite="bench/callgrind/lua_paths.lua bench/callgrind/baseline_lua.txt $config_arg build"
}

c_counts() {
  # The 10k-user store is built natively (seconds), not under valgrind.
  cd "$dir"
  "$bin" --populate users.db

  # Pin the CPU dispatch of the libraries on the paths. OpenSSL (SHA-256 of
  # the token MACs) and glibc (memcpy, memcmp, strlen...) pick their code
  # at start from CPUID, and under valgrind CPUID is valgrind's synthetic
  # CPU: the host's features less those it cannot run (SHA-NI, AVX-512).
  # So the same binary counts differently on another machine: SHA-256 alone
  # is about 2,400 instructions per token more on the scalar path than on
  # the AVX2 one. Pinned to the baseline code every x86-64 has (OpenSSL's
  # scalar SHA-256, glibc's SSE2 string functions), the counts depend on
  # the build and the library versions (in the config), not on the CPU.
  # They are not the native counts (SHA-NI there): they measure fsec's work
  # on a fixed instruction set, which is what a regression changes.
  # fsec's own base64url decoder (core/src/b64url.c) takes its SSSE3 path
  # from CPUID too; it is not pinned: every x86-64 valgrind runs on has
  # SSSE3 (since about 2008), so its counts are those of that path.
  pin=""
  case $(uname -m) in
    x86_64|amd64)
      pin="OPENSSL_ia32cap=0:0 GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-AVX,-ERMS,-FSRM,-SSSE3,-SSE4_1,-SSE4_2,-BMI1,-BMI2,-LZCNT,-MOVBE,-POPCNT,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD" ;;
    aarch64|arm64) pin="OPENSSL_armcap=0" ;;
  esac
  # shellcheck disable=SC2086 # $pin is a list of NAME=value words
  env $pin valgrind --tool=callgrind --collect-atstart=no \
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
  libs=$(awk '$1 == "libs" { print "sqlite-" $3 "-sodium-" $5 "-openssl-" $7 }' "$dir/stdout")
  config="$config-$(uname -m)-$libs"
  # path iterations total -> path per-call (rounded)
  awk 'NR == FNR { iters[$1] = $2; next }
       ($1 in iters) { printf "%s %d\n", $1, ($2 / iters[$1]) + 0.5 }' \
    "$dir/stdout" "$dir/counts" > "$dir/current"
  what="C hot paths in bench/callgrind/hot_paths.c, checked by ctest bench.callgrind"
  rewrite="build/bench/callgrind/hot_paths bench/callgrind/baseline.txt $config_arg"
}

case $bin in *.lua) lua_counts ;; *) c_counts ;; esac
[ -s "$dir/current" ] || { cat "$dir/valgrind.log"; echo "check.sh: no counts"; exit 1; }

if [ "$update" = 1 ]; then
  {
    echo "# Instructions per call (callgrind Ir) of the $what (build/)."
    echo "# Rewrite: FSEC_CALLGRIND_UPDATE=1 sh bench/callgrind/check.sh \\"
    echo "#   $rewrite"
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
# The compiler, build type and CPU architecture must match. A library's
# Debian point update (a security fix of OpenSSL 3.0.x, say) changes its
# version but not its pinned scalar code: such a baseline is compared
# anyway, with a note, so a fresh CI machine with a newer patch release
# still runs the guard instead of failing or skipping it.
base_of() { printf '%s\n' "$1" | sed -e 's/-sqlite-.*//' -e 's/-luajit-.*//'; }
if [ "$want" != "$config" ] && [ "$(base_of "$want")" = "$(base_of "$config")" ]; then
  echo "check.sh: note: baseline libraries ${want#"$(base_of "$want")"-}, these ${config#"$(base_of "$config")"-}; compared anyway"
elif [ "$want" != "$config" ]; then
  echo "check.sh: SKIPPED: baseline made with $want, this build is $config."
  echo "Counts differ between compilers, build types and library versions;"
  echo "rerun with FSEC_CALLGRIND_UPDATE=1 on the CI build to move the baseline."
  [ "${FSEC_REQUIRE_CALLGRIND:-0}" = 1 ] && { echo "check.sh: FSEC_REQUIRE_CALLGRIND=1: a skip is a failure"; exit 1; }
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
