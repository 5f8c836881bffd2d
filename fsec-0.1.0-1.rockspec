-- fsec as a rock, built from a checkout: `luarocks make` (docs/install.md,
-- "LuaRocks"). The version is CMakeLists.txt's project()
-- version; spec/check-rock.sh fails when the two differ.
rockspec_format = "3.0"
package = "fsec"
version = "0.1.0-1"
-- No published home yet: this rockspec is for `luarocks make` in a
-- checkout, which builds the files in place and fetches nothing.
source = {
  url = "git+file://./fsec",
}
description = {
  summary = "Flask-Security for Lua and OpenResty: an embedded auth engine in C",
  detailed = [[
Password hashing (argon2id) and every Flask-Security hash format, signed
expiring tokens, a SQLite user and role store with Flask-Security's
datastore API, sessions, access checks, the login/register/confirm/reset
endpoints with CSRF and lockout, an OpenResty adapter, and the `fsec`
command. Lua 5.4 and LuaJIT.]],
}
-- lua-cjson (tokens, JSON) and argparse (the fsec command) are on
-- luarocks.org and in Debian (lua-cjson, lua-argparse); Debian's packages
-- are not in luarocks' manifest, so there use --deps-mode=none.
-- `fsec import` also needs luasql-sqlite3 (Debian: lua-sql-sqlite3), and
-- luasql-postgres (lua-sql-postgres) for a PostgreSQL source. Sending
-- mail over SMTP (mail_server) needs luasocket and luasec (Debian:
-- lua-socket, lua-sec).
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson",
  "argparse",
}
-- C libraries found by CMake through pkg-config, as Debian's -dev
-- packages install them (scripts/deps.sh build).
external_dependencies = {}
build = {
  type = "cmake",
  variables = {
    FSEC_ROCK = "ON",
    BUILD_TESTING = "OFF",
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    FSEC_ROCK_INCDIR = "$(LUA_INCDIR)",
    -- fsec.core and its fsec-argon2 helper, side by side
    FSEC_ROCK_LIBDIR = "$(LIBDIR)",
    FSEC_ROCK_LUADIR = "$(LUADIR)",
  },
  install = {
    bin = { fsec = "bin/fsec" },
  },
  copy_directories = {},
}
