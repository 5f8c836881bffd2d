#!/bin/sh
# The rockspec for real: `luarocks make` a copy of the checkout into a
# temporary tree for Lua 5.4 and for LuaJIT (luarocks' 5.1), then, from
# another folder with only `luarocks path` added to the default paths,
# require every module of lua/ and fsec.core (each must come from the
# tree), hash and verify a password with the argon2 helper found beside
# the installed fsec.core, and run the installed `fsec` command. Finally
# a module and then fsec.core are taken out of a tree and the same check
# must fail. No network: see "--deps-mode=none" below.
# Usage: sh spec/check-rock.sh SOURCE_DIR
set -eu
src=$(cd "${1:-.}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-rock: $*" >&2; exit 1; }

# One rockspec, named for the version CMakeLists.txt gives the project.
version=$(sed -n 's/^project(fsec VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "no project(fsec VERSION ...) in CMakeLists.txt"
set -- "$src"/fsec-*.rockspec
[ $# -eq 1 ] || fail "want one fsec-*.rockspec at the top, found: $*"
[ "$(basename "$1")" = "fsec-$version-1.rockspec" ] ||
  fail "$(basename "$1") does not match CMakeLists.txt's version $version"
rockspec=$(basename "$1")

# A copy of the checkout without its builds: the rock must build from the
# sources alone, and luarocks' build.luarocks/ stays out of the checkout.
mkdir "$tmp/src"
(cd "$src" && tar -cf - --exclude=./.git --exclude=./build --exclude='./build-*' \
   --exclude=./var --exclude=node_modules .) | tar -xf - -C "$tmp/src"
# The Lua modules the rock must install, from the sources.
modules=$(cd "$src/lua" && find . -name '*.lua' | sed 's|^\./||; s|\.lua$||; s|/|.|g' | sort)
[ -n "$modules" ] || fail "no Lua modules under $src/lua"

# A clean luarocks: no user config, cache or user tree of this machine's.
export HOME="$tmp/home"
mkdir -p "$HOME" "$tmp/elsewhere"

# What a user of the installed rock runs (argument: the Lua version).
script='
local tree, version, want = os.getenv("TREE"), os.getenv("VERSION"), os.getenv("MODULES")
local function from_tree(name, path)
  local file = package.searchpath(name, path)
  assert(file and file:sub(1, #tree + 1) == tree .. "/",
         name .. " is not in the rock: " .. tostring(file))
end
for name in want:gmatch("%S+") do from_tree(name, package.path) end
from_tree("fsec.core", package.cpath)
for name in want:gmatch("%S+") do
  if name ~= "fsec.openresty" then require(name) end -- that one needs ngx
end
local fsec, core = require "fsec", require "fsec.core"
assert(fsec._VERSION == version, "fsec._VERSION " .. fsec._VERSION .. " ~= " .. version)
assert(core.argon2_helper_path():sub(1, #tree + 1) == tree .. "/", core.argon2_helper_path())
local sec = assert(fsec.new{ secret_key = string.rep("k", 32), password_salt = "salt",
                             database = os.getenv("DB"), argon2_helper = true })
-- the user the installed fsec command created
local u = assert(sec.datastore:find_user{ email = "rock@example.org" }, "user missing")
assert(sec:verify_password(os.getenv("PW"), u.password), "password does not verify")
assert(not sec:verify_password("wrong password", u.password))
local h = sec:hash_password("another password")
assert(h:find("^%$argon2id%$") and sec:verify_password("another password", h))
assert(core.argon2_helper_pid(), "no argon2 helper process ran")
print("ok rock " .. _VERSION .. (jit and (" " .. jit.version) or ""))'

# check LUA_VERSION INTERPRETER TREE: the installed rock works.
check() {
  lv=$1 lua=$2 tree=$3
  lpath=$(luarocks --lua-version="$lv" path --tree="$tree" --lr-path)
  lcpath=$(luarocks --lua-version="$lv" path --tree="$tree" --lr-cpath)
  db="$tmp/elsewhere/auth-$lv.db"
  rm -f "$db"*
  pw=rock-pass-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  cd "$tmp/elsewhere"
  # only the tree (and the interpreter's defaults, ";;") on the paths
  env -i HOME="$HOME" PATH=/usr/bin:/bin LUA_PATH="$lpath;;" LUA_CPATH="$lcpath;;" \
    "$tree/bin/fsec" --help > help.txt || return 1
  grep -q '^Usage: fsec ' help.txt || { cat help.txt; return 1; }
  printf '%s\n' "$pw" | env -i HOME="$HOME" PATH=/usr/bin:/bin LUA_PATH="$lpath;;" \
    LUA_CPATH="$lcpath;;" FSEC_SECRET_KEY=$(printf 'k%.0s' $(seq 32)) FSEC_PASSWORD_SALT=salt \
    "$tree/bin/fsec" --db "$db" users create rock@example.org --password-stdin || return 1
  env -i HOME="$HOME" PATH=/usr/bin:/bin LUA_PATH="$lpath;;" LUA_CPATH="$lcpath;;" \
    TREE="$tree" VERSION="$version" MODULES="$modules" DB="$db" PW="$pw" \
    "$lua" -e "$script" || return 1
  # the fsec command runs on the rock's interpreter
  head -c 300 "$tree/bin/fsec" | grep -q "$lua" || { echo "bin/fsec does not run $lua"; return 1; }
}

# Debian's lua-cjson and lua-argparse (the declared dependencies) are
# installed by apt, outside luarocks' manifest: checking dependencies
# would fetch them from luarocks.org. --deps-mode=none builds offline.
build() { # LUA_VERSION TREE [luarocks VAR=VALUE...]
  lv=$1 tree=$2; shift 2
  (cd "$tmp/src" && luarocks --lua-version="$lv" make "$rockspec" --tree="$tree" \
     --deps-mode=none "$@" > "$tmp/make-$lv.log" 2>&1) ||
    { cat "$tmp/make-$lv.log"; fail "luarocks make for Lua $lv failed"; }
  # luarocks' build is not -Werror's; the C must stay warning-free there too
  if grep -q 'warning:' "$tmp/make-$lv.log"; then
    grep -A3 'warning:' "$tmp/make-$lv.log"; fail "warnings in the Lua $lv rock's build"
  fi
  rm -rf "$tmp/src/build.luarocks"
}

incdir() { pkg-config --cflags-only-I "$1" | sed 's/^ *-I//; s/ .*//'; }

# Lua 5.4 with luarocks' defaults, as a Debian user types it.
build 5.4 "$tmp/t54"
check 5.4 "$(command -v lua5.4)" "$tmp/t54" || fail "the Lua 5.4 rock does not work"

# LuaJIT: luarocks' Lua 5.1 with LuaJIT's interpreter (the wrapper of
# bin/fsec runs it) and headers, from a config file (docs/install.md).
cat > "$tmp/luajit.lua" <<EOF
lua_interpreter = "luajit"
variables = { LUA_BINDIR = "$(dirname "$(command -v luajit)")", LUA_INCDIR = "$(incdir luajit)" }
EOF
export LUAROCKS_CONFIG="$tmp/luajit.lua"
build 5.1 "$tmp/t51"
check 5.1 "$(command -v luajit)" "$tmp/t51" || fail "the LuaJIT rock does not work"
unset LUAROCKS_CONFIG

# The check has teeth: a copy of the tree without one module, or without
# fsec.core, fails it (the system paths must not stand in for the tree).
mutant() { # FILE_IN_TREE WHAT: the check fails on the copy, naming WHAT
  rm -rf "$tmp/mutant" && cp -a "$tmp/t54" "$tmp/mutant" && rm "$tmp/mutant/$1"
  if check 5.4 "$(command -v lua5.4)" "$tmp/mutant" > "$tmp/mutant.log" 2>&1; then
    fail "a rock without $2 passed the check"
  fi
  grep -q "$2" "$tmp/mutant.log" || { cat "$tmp/mutant.log"; fail "the check failed, but not on $2"; }
}
mutant share/lua/5.4/fsec/datastore/sqlite.lua fsec.datastore.sqlite
mutant lib/lua/5.4/fsec/core.so fsec.core
echo "ok rock: luarocks make for Lua 5.4 and LuaJIT, fsec $version"
