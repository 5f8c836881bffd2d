#!/bin/sh
# The Debian packages for real: scripts/build-deb.sh (dpkg-buildpackage
# -us -uc on a copy of the sources, never a developer's build/), then
# `apt-get install` of the .debs in a fresh Debian 12 root, so that their
# Depends are resolved from the Debian archive (a missing one fails a check below). From the
# installed files, in a folder outside any checkout: the plain Lua
# example with lua5.4 and with LuaJIT, `fsec --help`, `man -w fsec`, a
# `fsec --db ... users create` whose user Lua then finds and verifies
# (argon2 helper included), require "fsec" from the system paths on both
# runtimes, a C program built against the installed libfsec-dev, and the
# OpenResty example started from /usr/share/fsec/examples.
# Needs root (debootstrap, chroot, mounts) and the Debian mirror.
#   sh spec/check-deb.sh SOURCE_DIR
# The pristine root is kept as a tarball under /var/tmp for the day
# (FSEC_DEB_ROOT_CACHE=0: none); every run extracts a fresh copy.
set -eu
src=$(cd "${1:-.}" && pwd)
fail() { echo "check-deb: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] ||
  fail "needs root (debootstrap, chroot, mounts): run it as root, e.g. sudo sh spec/check-deb.sh ."
# what building needs, as docs/debian.md has users install it
sh "$src/scripts/deps.sh" deb >/dev/null || fail "cannot install the build dependencies"
for t in debootstrap curl; do
  command -v $t >/dev/null || fail "$t missing: sh scripts/deps.sh test"
done
. "$src/scripts/debian-root.sh"

tmp=$(mktemp -d /var/tmp/fsec-deb.XXXXXX)
root=$tmp/root
server=""
cleanup() {
  [ -z "$server" ] || kill -TERM "$server" 2>/dev/null || true
  if [ -f "$root/srv/user/example/logs/nginx.pid" ]; then
    kill -QUIT "$(cat "$root/srv/user/example/logs/nginx.pid")" 2>/dev/null || true
  fi
  debian_root_umount "$root"
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start=$(date +%s)

echo "== sh scripts/build-deb.sh (dpkg-buildpackage -us -uc)"
sh "$src/scripts/build-deb.sh" "$tmp/debs" || fail "the packages do not build"
echo "   built in $(( $(date +%s) - start )) s"
version=$(sed -n 's/^project(fsec VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
debversion=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)

# The pristine root: debootstrap minbase with the host's sources, its
# package lists fetched, man-db (for `man -w`), and no daemon started by
# a package's postinst (policy-rc.d: nginx must not start on install).
cache=/var/tmp/fsec-deb-root-bookworm-v1-$(date -u +%Y%m%d).tar
if [ "${FSEC_DEB_ROOT_CACHE:-1}" != 0 ] && [ -f "$cache" ]; then
  echo "== a fresh root from $cache"
  mkdir "$root" && tar -xf "$cache" -C "$root"
else
  mkdir "$root"
  chmod 755 "$root"  # it becomes /: nginx's workers (nobody) must get through
  debian_root_make "$root" ca-certificates,man-db || fail "debootstrap failed"
  debian_root_host_settings "$root"
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  chroot "$root" apt-get update -qq || fail "apt-get update failed in the root"
  if [ "${FSEC_DEB_ROOT_CACHE:-1}" != 0 ]; then
    rm -f /var/tmp/fsec-deb-root-bookworm-v1-*.tar  # older days'
    tar -cf "$cache.$$" -C "$root" . && mv "$cache.$$" "$cache"
  fi
fi
debian_root_mount "$root"
# inroot COMMAND: a login-like environment, in a folder that is no
# checkout (the root has none); FSEC_* settings of the host stay out.
inroot() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive sh -c "mkdir -p /srv/elsewhere && cd /srv/elsewhere && $1"
}

echo "== apt-get install ./*.deb in the root"
mkdir "$root/srv/debs" && cp "$tmp"/debs/*.deb "$root/srv/debs/"
inroot 'apt-get install -y -qq --no-install-recommends /srv/debs/*.deb' > "$tmp/install.log" 2>&1 ||
  { tail -n 30 "$tmp/install.log"; fail "the .debs do not install"; }

# The user the installed command creates; Lua then finds and checks it.
key=$(printf 'k%.0s' $(seq 32))
pw=deb-pass-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
check_lua() { # INTERPRETER LUA_VERSION
  inroot "cat > /srv/elsewhere/check.lua" <<'LUA'
local lua, ver, pw = arg[1], arg[2], arg[3]
local function from(name, path, want)
  local file = package.searchpath(name, path)
  assert(file == want, name .. " is " .. tostring(file) .. ", not " .. want)
end
from("fsec", package.path, "/usr/share/lua/" .. ver .. "/fsec.lua")
from("fsec.datastore.sqlite", package.path, "/usr/share/lua/" .. ver .. "/fsec/datastore/sqlite.lua")
local core = require "fsec.core"
local cfile = package.searchpath("fsec.core", package.cpath)
assert(cfile and cfile:find("^/usr/lib/[^/]+/lua/" .. ver:gsub("%.", "%%.") .. "/fsec/core%.so$"),
       "fsec.core is " .. tostring(cfile))
local fsec = require "fsec"
local sec = assert(fsec.new{ secret_key = string.rep("k", 32), password_salt = "salt",
                             database = "/srv/elsewhere/users.db", argon2_helper = true })
local u = assert(sec.datastore:find_user{ email = "deb@example.org" }, "the user fsec created is missing")
assert(sec:verify_password(pw, u.password), "the password fsec set does not verify")
assert(not sec:verify_password("wrong password", u.password))
local h = assert(sec:hash_password("another password"))
assert(h:find("^%$argon2id%$") and sec:verify_password("another password", h))
assert(core.argon2_helper_pid(), "no argon2 helper process ran")
print("ok deb " .. _VERSION .. (jit and (" " .. jit.version) or "") .. ", helper " .. core.argon2_helper_path())
LUA
  inroot "$1 /srv/elsewhere/check.lua $1 $2 $pw" || fail "require \"fsec\" from the packages fails on $1"
  # the example prints its steps; the last ones need every part to work
  inroot "$1 /usr/share/fsec/examples/auth_flow.lua" > "$tmp/example-$1.txt" 2>&1 ||
    { cat "$tmp/example-$1.txt"; fail "examples/auth_flow.lua fails on $1 from the packages"; }
  grep -Eq "alice signs out, then her old cookies open /admin: 40[13] " "$tmp/example-$1.txt" ||
    { cat "$tmp/example-$1.txt"; fail "examples/auth_flow.lua on $1 did not finish as it should"; }
  echo "   $1: the example ran ($(wc -l < "$tmp/example-$1.txt") lines), require \"fsec\" ok"
}

echo "== the fsec command, its man page"
inroot 'fsec --help' > "$tmp/help.txt" 2>&1 || { cat "$tmp/help.txt"; fail "fsec --help fails"; }
grep -q '^Usage: fsec ' "$tmp/help.txt" || { cat "$tmp/help.txt"; fail "fsec --help printed no usage"; }
man=$(inroot 'man -w fsec') || fail "man -w fsec finds no page"
[ "$man" = /usr/share/man/man1/fsec.1.gz ] || fail "man -w fsec gives $man"
inroot 'zcat /usr/share/man/man1/fsec.1.gz' | grep -q '^\.TH FSEC 1' || fail "the man page is no fsec(1)"
printf '%s\n' "$pw" | inroot "FSEC_SECRET_KEY=$key FSEC_PASSWORD_SALT=salt fsec --db /srv/elsewhere/users.db users create deb@example.org --password-stdin" \
  > "$tmp/create.txt" 2>&1 || { cat "$tmp/create.txt"; fail "fsec users create fails"; }
inroot "FSEC_SECRET_KEY=$key FSEC_PASSWORD_SALT=salt fsec --db /srv/elsewhere/users.db users list" |
  grep -q 'deb@example.org' || fail "fsec users list does not show the user it created"

echo "== Lua 5.4 (installed as a dependency)"
check_lua lua5.4 5.4
echo "== LuaJIT (luajit2, the other runtime lua-fsec supports)"
inroot 'apt-get install -y -qq --no-install-recommends luajit2' > "$tmp/luajit.log" 2>&1 ||
  { tail -n 20 "$tmp/luajit.log"; fail "cannot install luajit2"; }
check_lua luajit 5.1

echo "== a C program against libfsec-dev"
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
cat > "$tmp/t.c" <<'C'
#include <fsec.h>
#include <stdio.h>
int main(void) { char id[64]; if (fsec_random_id(id, sizeof id, 16)) return 1;
  printf("ok C %s %s\n", fsec_version(), id); return 0; }
C
# the installed fsec.pc, relocated into the root by its own ${pcfiledir}
pc() { PKG_CONFIG_PATH="$root/usr/lib/$ma/pkgconfig" pkg-config "$@" fsec; }
[ "$(realpath "$(pc --variable=includedir)")" = "$root/usr/include" ] &&
  [ "$(realpath "$(pc --variable=libdir)")" = "$root/usr/lib/$ma" ] ||
  fail "fsec.pc points elsewhere: $(pc --cflags --libs)"
flags=$(pc --cflags --libs)
cc "$tmp/t.c" $flags -o "$root/srv/elsewhere/t" || fail "a C program does not build against libfsec-dev"
out=$(inroot './t') || fail "the C program does not run against libfsec0"
case $out in "ok C $version "*) echo "   $out" ;; *) fail "the C program printed: $out" ;; esac

echo "== the OpenResty example from /usr/share/fsec/examples"
inroot 'apt-get install -y -qq --no-install-recommends nginx libnginx-mod-http-lua lua-resty-core lua-filesystem luajit2' \
  > "$tmp/nginx.log" 2>&1 || { tail -n 20 "$tmp/nginx.log"; fail "cannot install nginx with the Lua module"; }
# a port nothing listens on (the root shares the host's network)
port=""
for i in 1 2 3 4 5 6 7 8 9 10; do
  p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 ))
  if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then port=$p; break; fi
done
[ -n "$port" ] || fail "no free port found"
# as a user, as docs/debian.md says (nobody here: minbase has no useradd)
mkdir "$root/srv/user" && chown nobody:nogroup "$root/srv/user"
inroot "FSEC_ADMIN_PASSWORD=$pw HOME=/srv/user exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
  sh /usr/share/fsec/examples/openresty/serve.sh /srv/user/example $port 1" > "$tmp/serve.log" 2>&1 &
server=$!
deadline=$(( $(date +%s) + 60 ))
code=""
while [ "$(date +%s)" -lt $deadline ]; do
  kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.log"; fail "the example's serve.sh ended early"; }
  code=$(curl -s -o "$tmp/home.html" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/" 2>/dev/null) || true
  [ "$code" = 200 ] && break
  sleep 0.2
done
[ "$code" = 200 ] || { cat "$tmp/serve.log"; fail "the example gave no 200 at / within 60 s"; }
grep -q 'href="/login' "$tmp/home.html" || fail "the example's home page has no sign-in link"
# the admin serve.sh created signs in (JSON, Flask-Security's API: the
# CSRF token from a GET of the form, then the POST with it)
jar=$tmp/cookies.txt
csrf=$(curl -s -c "$jar" -b "$jar" --max-time 10 -H 'Accept: application/json' "http://127.0.0.1:$port/login" |
  sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
[ -n "$csrf" ] || fail "the example's /login gave no CSRF token"
code=$(curl -s -o "$tmp/login.json" -w '%{http_code}' --max-time 30 -c "$jar" -b "$jar" \
  -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d "{\"email\":\"admin@example.org\",\"password\":\"$pw\"}" "http://127.0.0.1:$port/login") || true
[ "$code" = 200 ] || { cat "$tmp/login.json" "$root/srv/user/example/logs/error.log"; fail "the example's admin cannot sign in ($code)"; }
# no module of a checkout: nginx loaded the packages' fsec
[ ! -e "$root/srv/user/example/lib/fsec.lua" ] || fail "serve.sh copied fsec modules beside the example"
kill -QUIT "$(cat "$root/srv/user/example/logs/nginx.pid")"
wait "$server" || true
server=""
echo "ok deb: fsec $debversion built, installed and run in a fresh Debian 12 root ($(( $(date +%s) - start )) s)"
