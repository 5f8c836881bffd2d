#!/bin/sh
# Benchmarks: fsec beside the raw primitives, side by side in one run.
# Prints markdown tables of medians and ratios. Not part of the tests.
#   sh scripts/bench.sh                 everything (the 1M-user database
#                                       takes about a minute to build once)
#   FSEC_BENCH_USERS="10000" sh scripts/bench.sh   smaller store sizes
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
mkdir -p build-bench/data
sizes=${FSEC_BENCH_USERS:-"10000 100000 1000000"}

echo "# fsec benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "## Engine"
echo
./build-bench/bench/bench_core
echo
echo "## Two-factor: TOTP check"
echo
./build-bench/bench/bench_otp
echo
echo "| through Lua      | runtime             | per call  | target |"
echo "|------------------|---------------------|-----------|--------|"
for lua in lua5.4 luajit; do
  sub=lua54; [ "$lua" = luajit ] && sub=luajit
  LUA_PATH="lua/?.lua;;" LUA_CPATH="build-bench/$sub/?.so;;" "$lua" bench/bench_token.lua
done
echo
echo "## Metrics: what counting adds to protect()'s success path (LuaJIT, resty.lrucache)"
echo
echo "| path                             | runtime             | per request |"
echo "|----------------------------------|---------------------|-------------|"
LUA_PATH="lua/?.lua;/usr/share/lua/5.1/?.lua;;" LUA_CPATH="build-bench/luajit/?.so;;" luajit bench/metrics_cost.lua
echo
echo "## Store (WAL, synchronous=FULL, 8 MiB page cache)"
echo
echo "| operation                         | fsec       | raw SQLite, same run            | ratio  | target  |"
echo "|-----------------------------------|------------|---------------------------------|--------|---------|"
for n in $sizes; do
  ./build-bench/bench/bench_store "build-bench/data/users-$n.db" "$n" 2>/dev/null
done
echo
echo "| path              | runtime             | database      | per call  |"
echo "|-------------------|---------------------|---------------|-----------|"
for n in $sizes; do
  for lua in lua5.4 luajit; do
    sub=lua54; [ "$lua" = luajit ] && sub=luajit
    LUA_PATH="lua/?.lua;;" LUA_CPATH="build-bench/$sub/?.so;;" "$lua" bench/bench_store.lua "build-bench/data/users-$n.db" "$n"
  done
done
