#!/bin/sh
# Lint: luacheck (Debian's lua-check) reports 0 warnings on lua/, bin/,
# examples/ and spec/ with the committed .luacheckrc (its standards: Lua
# 5.4 + LuaJIT everywhere, ngx only where nginx runs the file, busted in
# spec/). A global by accident, a shadowed or unused variable, an unused
# result fails the test command.
# Usage: sh spec/check-luacheck.sh   (from anywhere)
set -eu
cd "$(dirname "$0")/.."
command -v luacheck >/dev/null 2>&1 || {
  echo "check-luacheck: luacheck is missing (apt-get install lua-check; scripts/deps.sh test)"
  exit 1
}
# --config: this file, whatever LUACHECKRC or a parent folder says
luacheck --config .luacheckrc --formatter plain --codes -- lua bin examples spec || {
  echo "check-luacheck: luacheck found the warnings above (.luacheckrc)"
  exit 1
}
echo "check-luacheck: 0 warnings"
