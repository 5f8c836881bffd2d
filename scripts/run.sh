#!/bin/sh
# The main job: build fsec and run the example. Installs missing Debian
# packages. Until the OpenResty example app exists this runs the plain
# Lua examples (examples/basic.lua, examples/auth_flow.lua) under Lua 5.4
# and LuaJIT.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
for lua in lua5.4 luajit; do
  sub=lua54; [ "$lua" = luajit ] && sub=luajit
  for ex in basic auth_flow; do
    echo "== examples/$ex.lua under $lua"
    LUA_PATH="lua/?.lua;;" LUA_CPATH="build/$sub/?.so;;" "$lua" "examples/$ex.lua"
  done
done
