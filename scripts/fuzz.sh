#!/bin/sh
# Run every fuzz target with libFuzzer (clang, ASan+UBSan) for SECONDS
# each (60), one after the other, and print the executions of each.
# New inputs go to build-fuzz/corpus-<target>, seeded from fuzz/corpus;
# a crash, leak or failed oracle stops the run (non-zero) with the input
# saved in build-fuzz/. AFL++ runs the same targets: scripts/fuzz-afl.sh.
# Usage: sh scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
# every target fuzz/CMakeLists.txt builds, unless some are named
targets=${*:-$(sed -n 's/^set(FSEC_FUZZ_[A-Z]*_TARGETS \(.*\))$/\1/p' fuzz/CMakeLists.txt | tr '\n' ' ')}
scripts/deps.sh build fuzz
command -v clang >/dev/null || { echo "fuzz.sh needs clang"; exit 1; }
# The whole library is compiled with coverage (fuzzer-no-link) and the
# sanitizers, not only the harnesses: libFuzzer then sees which branches
# of core/ an input reaches, and ASan checks every access in it.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFSEC_FUZZ=ON -DBUILD_TESTING=OFF \
      -DFSEC_BUILD_LUA=OFF -DCMAKE_C_FLAGS="$flags" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
for t in $targets; do
  cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" --target "fuzz_$t" >/dev/null
done

# Longest input tried per target: beyond what each parser accepts, so the
# length limits are exercised too.
max_len() {
  case $1 in redirect) echo 4096 ;; *) echo 8192 ;; esac
}

# The Lua targets keep garbage alive between inputs (Lua frees it at its
# next collection), so libFuzzer's per-input malloc/free balance would
# call LeakSanitizer after every input (100x slower); leaks are still
# checked when the process exits.
leaks() {
  case $1 in cookie|redirect) echo 0 ;; *) echo 1 ;; esac
}

summary=""
for t in $targets; do
  mkdir -p "build-fuzz/corpus-$t"
  cp fuzz/corpus/$t/* "build-fuzz/corpus-$t/"
  echo "== fuzz_$t for ${secs}s"
  dict=""
  [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
  # shellcheck disable=SC2086
  ./build-fuzz/fuzz/fuzz_$t $dict -max_total_time="$secs" -max_len="$(max_len "$t")" \
    -detect_leaks="$(leaks "$t")" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/ "build-fuzz/corpus-$t" > "build-fuzz/$t.log" 2>&1 \
    || { tail -30 "build-fuzz/$t.log"; echo "fuzz_$t failed; the input is in build-fuzz/"; exit 1; }
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/$t.log")
  cov=$(grep -E '^#[0-9]+' "build-fuzz/$t.log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  echo "fuzz_$t: $runs executions in ${secs}s ($((runs / secs))/s), coverage ${cov:-?} edges"
  summary="$summary$(printf '%-14s %12s %10s %8s' "fuzz_$t" "$runs" "$((runs / secs))" "${cov:-?}")
"
done
echo "== executions in ${secs}s per target (libFuzzer, ASan+UBSan)"
printf '%-14s %12s %10s %8s\n' target executions "per s" edges
printf '%s' "$summary"
