#!/bin/sh
# Install the build into a temporary prefix and require "fsec" from it
# under Lua 5.4 and LuaJIT, with LUA_PATH/LUA_CPATH pointing there only
# (the source and build trees are not on the path). Also builds a C
# program against the installed fsec.pc.
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
# (fsec.openresty's parts, and the seam its cache goes through, included)
for f in share/lua/5.4/fsec.lua share/lua/5.4/fsec/config.lua lib/lua/5.4/fsec/core.so \
         share/lua/5.1/fsec.lua share/lua/5.1/fsec/config.lua lib/lua/5.1/fsec/core.so \
         share/lua/5.1/fsec/cache.lua share/lua/5.1/fsec/openresty/request.lua \
         share/lua/5.1/fsec/openresty/jobs.lua share/lua/5.1/fsec/openresty/thread.lua \
         share/lua/5.1/fsec/openresty/cache.lua share/lua/5.1/fsec/openresty/options.lua \
         share/lua/5.4/fsec/lang/fr.lua share/lua/5.1/fsec/lang/de.lua share/lua/5.1/fsec/templates.lua \
         lib/lua/5.4/fsec/fsec-argon2 lib/lua/5.1/fsec/fsec-argon2 \
         include/fsec.h include/fsec/token.h lib/pkgconfig/fsec.pc; do
  find "$prefix" -path "$prefix/$f" | grep -q . || { echo "missing $f"; exit 1; }
done
script='local fsec = require "fsec"
local sec = fsec.new{ secret_key = string.rep("k", 32), password_salt = "s" }
assert(package.searchpath("fsec.core", package.cpath):find(os.getenv("P"), 1, true))
local tok = sec:generate_token("confirm", { uid = "abc" })
local e, i, d = sec:get_token_status(tok, "confirm", 60)
assert(not e and not i and d.uid == "abc")
-- the argon2 helper is found beside the installed module
local core = require "fsec.core"
local h = assert(core.new{ secret_keys = { string.rep("k", 32) }, argon2_helper = true, argon2_memory_kib = 1024 })
assert(h:verify_password("pw", assert(h:hash_password("pw"))))
assert(core.argon2_helper_path():find(os.getenv("P"), 1, true))
-- the OpenResty adapter and its parts load from the prefix (without ngx)
for _, m in ipairs{ "fsec.openresty", "fsec.openresty.options", "fsec.openresty.request",
                    "fsec.openresty.jobs", "fsec.openresty.cache", "fsec.openresty.thread", "fsec.cache" } do
  assert(package.searchpath(m, package.path):find(os.getenv("P"), 1, true), m)
  require(m)
end
print("ok " .. _VERSION)'
cd "$prefix"
P=$prefix LUA_PATH="$prefix/share/lua/5.4/?.lua;;" LUA_CPATH="$prefix/lib/lua/5.4/?.so;;" \
  lua5.4 -e "$script"
# LuaJIT lacks package.searchpath only in 2.0; 2.1 has it.
P=$prefix LUA_PATH="$prefix/share/lua/5.1/?.lua;;" LUA_CPATH="$prefix/lib/lua/5.1/?.so;;" \
  luajit -e "$script"
# The modules must not link liblua (the interpreter provides it).
if ldd "$prefix"/lib/lua/5.*/fsec/core.so | grep -Eq 'liblua|libluajit'; then
  echo "fsec.core links a Lua library"; exit 1
fi
cat > t.c <<'C'
#include <fsec.h>
#include <stdio.h>
int main(void) { char id[64]; if (fsec_random_id(id, sizeof id, 16)) return 1;
  printf("ok C %s %s\n", fsec_version(), id); return 0; }
C
cc t.c $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs fsec) \
  -Wl,-rpath,"$prefix/lib" -o t
./t
