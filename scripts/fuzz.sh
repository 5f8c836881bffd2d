#!/bin/sh
# Run every fuzz target with libFuzzer (clang) for SECONDS each (60).
# New inputs go to build-fuzz/corpus-<target>, seeded from fuzz/corpus.
# Usage: sh scripts/fuzz.sh [SECONDS]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
scripts/deps.sh build
command -v clang >/dev/null || { echo "fuzz.sh needs clang"; exit 1; }
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFSEC_FUZZ=ON -DBUILD_TESTING=OFF \
      -DFSEC_BUILD_LUA=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
for t in token hash identity; do
  mkdir -p "build-fuzz/corpus-$t"
  cp fuzz/corpus/$t/* "build-fuzz/corpus-$t/"
  echo "== fuzz_$t for ${secs}s"
  # a crash, leak or failed oracle stops the run with a non-zero status
  ./build-fuzz/fuzz/fuzz_$t -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/ "build-fuzz/corpus-$t" > "build-fuzz/$t.log" 2>&1 \
    || { tail -30 "build-fuzz/$t.log"; echo "fuzz_$t failed; the input is in build-fuzz/"; exit 1; }
  grep -E "^Done|^stat::number_of_executed_units" "build-fuzz/$t.log"
done
