#!/bin/sh
# Run the README's two commands (sh scripts/test.sh, sh scripts/run.sh) in
# a fresh Debian 12 (bookworm) root made with debootstrap: what a new user
# gets, with nothing this machine happens to have (a newer Node, a tool
# installed by hand) leaking in. Contributors' check; needs root,
# debootstrap (scripts/deps.sh contrib) and the network (the Debian mirror
# and the npm registry only).
#   sudo sh scripts/fresh-check.sh [--quick] [--keep DIR]
#   --quick     instead of the full test command (25+ minutes): the build,
#               `ctest -R spec.luajit` (every spec under LuaJIT, the browser
#               test included) and the run.sh check
#   --keep DIR  make the root in DIR and keep it; a DIR that already holds
#               a root is reused (no second debootstrap)
# FSEC_FUZZ_SECONDS is passed through to scripts/test.sh. FSEC_CHECK_PORT
# (8080) is where run.sh serves. The root gets this machine's apt sources
# (same mirror), CA certificates and npm settings (registry, ~/.npmrc).
# The checkout's HEAD is cloned into it: commit what you want checked.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
. scripts/debian-root.sh
quick=0 keep=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --keep) [ $# -ge 2 ] || { echo "fresh-check: --keep needs a folder" >&2; exit 2; }
            keep=$2; shift ;;
    *) echo "usage: fresh-check.sh [--quick] [--keep DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: run as root (debootstrap, chroot, mounts)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "fresh-check: debootstrap missing: sh scripts/deps.sh contrib" >&2; exit 1; }
port=${FSEC_CHECK_PORT:-8080}
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null; then
  echo "fresh-check: port $port is busy here; set FSEC_CHECK_PORT" >&2; exit 1
fi

if [ -n "$keep" ]; then
  mkdir -p "$keep"; root=$(cd "$keep" && pwd)
else
  root=$(mktemp -d /var/tmp/fsec-fresh.XXXXXX)
  chmod 755 "$root"  # it becomes /: nginx's workers (nobody) must get through
fi
server=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null || true
  # an nginx of the root that outlived its start (a failed check)
  pidfile=$root/fsec/var/example/logs/nginx.pid
  [ -f "$pidfile" ] && kill -QUIT "$(cat "$pidfile")" 2>/dev/null || true
  debian_root_umount "$root"
  if [ -z "$keep" ]; then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# minbase: whatever the commands need must come from scripts/deps.sh.
# ca-certificates: for the npm registry (https).
if [ ! -x "$root/usr/bin/apt-get" ]; then
  debian_root_make "$root" ca-certificates || exit 1
fi

echo "== the host's apt sources, CA certificates, npm settings, DNS"
debian_root_host_settings "$root"
[ -f "$HOME/.npmrc" ] && cp "$HOME/.npmrc" "$root/root/.npmrc"
registry=$(npm config get registry 2>/dev/null || true)
[ -n "$registry" ] && echo "registry=$registry" >>"$root/root/.npmrc"

debian_root_mount "$root"

echo "== clone HEAD ($(git rev-parse --short HEAD)) into /fsec"
rm -rf "$root/fsec"
git clone -q --no-hardlinks "$src" "$root/fsec"
chmod 755 "$root/fsec"

# A login-like environment: nothing of the host's PATH or variables (the
# specs read FSEC_* settings: none leak in). Run it at the host's nice 0:
# spec/40 checks that nginx's event loop keeps nice 0 and hashes at 19.
# With inroot_exec=exec it replaces the calling (sub)shell, so that the
# pid of a background `( inroot_exec=exec; inroot ... ) &` is the command's.
inroot_exec=""
inroot() {
  $inroot_exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    FSEC_FUZZ_SECONDS="${FSEC_FUZZ_SECONDS:-60}" \
    sh -c "cd /fsec && $1"
}

if [ $quick = 1 ]; then
  echo "== quick: deps, build, every spec under LuaJIT (browser included)"
  inroot 'sh scripts/deps.sh test && (cd spec/browser && npm ci --no-audit --no-fund --loglevel=error) &&
    echo "node $(node --version) (playwright-core $(sed -n "s/.*\"version\": \"\(.*\)\".*/\1/p" spec/browser/node_modules/playwright-core/package.json))" &&
    cmake -S . -B build -DFSEC_WERROR=ON >/dev/null && cmake --build build -j "$(nproc)" >/dev/null &&
    cd build && FSEC_REQUIRE_PEER=1 FSEC_REQUIRE_BROWSER=1 FSEC_REQUIRE_PG=1 ctest --output-on-failure -R spec.luajit'
else
  echo "== sh scripts/test.sh"
  inroot 'sh scripts/test.sh'
fi

echo "== sh scripts/run.sh (port $port)"
# $server is nginx itself (chroot, env, sh and run.sh all exec), so the
# SIGINT below is what Ctrl-C sends it; a background subshell would
# ignore SIGINT and leave nginx running.
( inroot_exec=exec; inroot "PORT=$port WORKERS=1 exec sh scripts/run.sh" ) >"$root/run.log" 2>&1 &
server=$!
deadline=$(( $(date +%s) + 600 ))  # first start: deps, build
code=""
while [ "$(date +%s)" -lt $deadline ]; do
  kill -0 "$server" 2>/dev/null || { cat "$root/run.log" >&2; echo "fresh-check: run.sh ended early" >&2; exit 1; }
  code=$(curl -s -o "$root/home.html" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/" 2>/dev/null) || true
  [ "$code" = 200 ] && break
  sleep 1
done
[ "$code" = 200 ] || { cat "$root/run.log" >&2; echo "fresh-check: no 200 from run.sh in time" >&2; exit 1; }
grep -q 'href="/login' "$root/home.html" || { echo "fresh-check: home page without a sign-in link" >&2; exit 1; }
grep -q "fsec example: http://127.0.0.1:$port/" "$root/run.log" || { echo "fresh-check: run.sh printed no address" >&2; exit 1; }
# Ctrl-C: a background job ignores SIGINT in sh, nginx (exec'd at the
# end of run.sh) installs its own handler and shuts down fast.
kill -INT "$server"
deadline=$(( $(date +%s) + 30 ))
while kill -0 "$server" 2>/dev/null && [ "$(date +%s)" -lt $deadline ]; do sleep 0.2; done
if kill -0 "$server" 2>/dev/null; then echo "fresh-check: run.sh still running 30 s after SIGINT" >&2; exit 1; fi
wait "$server" || true
server=""
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
  echo "fresh-check: something still answers on $port after the stop" >&2; exit 1
fi
echo "fresh-check: both commands passed in a fresh Debian 12 root"
