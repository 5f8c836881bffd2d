#!/bin/sh
# Benchmarks: fsec beside the raw primitives, side by side in one run.
# Prints markdown tables of medians and ratios. Not part of the tests.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
echo "# fsec benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
./build-bench/bench/bench_core "$@"
echo
echo "| through Lua      | runtime             | per call  | target |"
echo "|------------------|---------------------|-----------|--------|"
for lua in lua5.4 luajit; do
  sub=lua54; [ "$lua" = luajit ] && sub=luajit
  LUA_PATH="lua/?.lua;;" LUA_CPATH="build-bench/$sub/?.so;;" "$lua" bench/bench_token.lua
done
