#!/bin/sh
# Run every fuzz target with AFL++ for SECONDS each (60): the same
# harnesses as scripts/fuzz.sh (libFuzzer), built with afl-clang-fast,
# whose -fsanitize=fuzzer links AFL++'s driver for LLVMFuzzerTestOneInput;
# the library and the harnesses are instrumented and run under ASan+UBSan.
# Seeds come from fuzz/corpus/<target>, findings go to
# build-afl/out-<target>/default/. A crash (or a failed oracle, which
# aborts) fails the run.
# Usage: sh scripts/fuzz-afl.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
# every target fuzz/CMakeLists.txt builds, unless some are named
targets=${*:-$(sed -n 's/^set(FSEC_FUZZ_[A-Z]*_TARGETS \(.*\))$/\1/p' fuzz/CMakeLists.txt | tr '\n' ' ')}
scripts/deps.sh build fuzz
command -v afl-clang-fast >/dev/null || { echo "fuzz-afl.sh needs AFL++ (afl++)"; exit 1; }

cmake -S . -B build-afl -DCMAKE_C_COMPILER=afl-clang-fast -DFSEC_FUZZ=ON \
      -DBUILD_TESTING=OFF -DFSEC_BUILD_LUA=OFF \
      -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
for t in $targets; do
  AFL_QUIET=1 cmake --build build-afl -j "$(nproc 2>/dev/null || echo 2)" --target "fuzz_$t" >/dev/null
done

# No CPU-governor check (not ours to change on a shared machine), no
# curses screen, and no waiting for a core-dump helper.
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

stat() { sed -n "s/^$2 *: *//p" "$1" | head -1; }

summary=""
for t in $targets; do
  out=build-afl/out-$t
  rm -rf "$out"
  dict=""
  [ -f "fuzz/dict/$t.dict" ] && dict="-x fuzz/dict/$t.dict"
  echo "== AFL++ fuzz_$t for ${secs}s"
  # -m none: ASan reserves terabytes of address space. -V: stop after secs.
  # shellcheck disable=SC2086
  afl-fuzz -i "fuzz/corpus/$t" -o "$out" -m none -V "$secs" $dict \
    -- "build-afl/fuzz/fuzz_$t" > "build-afl/$t.log" 2>&1 \
    || { tail -30 "build-afl/$t.log"; echo "afl-fuzz failed on fuzz_$t"; exit 1; }
  st=$out/default/fuzzer_stats
  execs=$(stat "$st" execs_done)
  crashes=$(stat "$st" saved_crashes)
  hangs=$(stat "$st" saved_hangs)
  echo "fuzz_$t: $execs executions in ${secs}s, $(stat "$st" corpus_count) inputs in the queue," \
       "$crashes crashes, $hangs hangs"
  summary="$summary$(printf '%-14s %12s %10s %8s' "fuzz_$t" "$execs" "$((execs / secs))" "$crashes")
"
  if [ "${crashes:-0}" != 0 ]; then
    ls "$out/default/crashes/"
    echo "fuzz_$t: AFL++ saved crashing inputs in $out/default/crashes/"
    exit 1
  fi
done
echo "== executions in ${secs}s per target (AFL++, ASan+UBSan)"
printf '%-14s %12s %10s %8s\n' target executions "per s" crashes
printf '%s' "$summary"
