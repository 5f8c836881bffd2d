#!/bin/sh
# Install the Debian 12 packages fsec needs, if any are missing.
# Usage: scripts/deps.sh build|test|deb|fuzz|bench|cluster|contrib ...   (groups add up)
# Runs apt-get as root (directly, or through sudo when available).
set -eu

# lua-sql-sqlite3 and lua-sql-postgres (LuaSQL's drivers, for Lua 5.1 to
# 5.4): `fsec import flask-security` reads a Flask-Security SQLite file or
# PostgreSQL database with them (lua/fsec/import/).
# liboath-dev: TOTP codes (RFC 6238) for two-factor and unified sign-in;
# libqrencode-dev: the QR code of the authenticator's otpauth:// URI.
# zlib1g-dev: Flask's compressed session cookies and Flask-Security's
# compressed tokens (core/src/itsdangerous.c).
# libcbor-dev: WebAuthn's attestation objects and COSE keys
# (core/src/webauthn.c; OpenSSL checks the signatures).
# libzxcvbn-dev: the "zxcvbn" password complexity checker (core/src/strength.c).
# lua-socket and lua-sec: the SMTP sender of mail_server (lua/fsec/smtp.lua:
# TCP, STARTTLS and implicit TLS, for Lua 5.4 and LuaJIT alike).
BUILD="cmake gcc make pkg-config libsodium-dev libutf8proc-dev libidn2-dev libcrypt-dev
  libssl-dev libsqlite3-dev libpq-dev liboath-dev libqrencode-dev zlib1g-dev libzxcvbn-dev libcbor-dev lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev lua-cjson
  lua-argparse lua-sql-sqlite3 lua-sql-postgres lua-socket lua-sec"
# python3-zxcvbn: the reference zxcvbn (what Too calls) whose warnings
# spec/29-password_policy_spec.lua compares with fsec's.
# The peer (real Flask-Security) for the compatibility specs; LDoc and
# its Markdown formatter for the API reference (spec/check-ldoc.sh);
# luarocks for spec/check-rock.sh (the rockspec, built for real);
# clang-format for spec/check-format.sh (every C file as .clang-format says);
# postgresql: the real server the PostgreSQL specs start
# (spec/tools/postgres.lua); libpq-dev (build) is the store's client library;
# python3-psycopg2: the peer makes a Flask-Security PostgreSQL database
# for spec/52-import_postgres_spec.lua (SQLAlchemy's PostgreSQL driver).
# python3-qrcode, -phonenumbers, -cryptography: the peer's two-factor and
# unified sign-in; python3-pyotp and oathtool compute codes in the specs
# independently of fsec's own TOTP code; zbar-tools' zbarimg reads the
# setup page's QR code back from the browser's screenshot (spec/38).
# python3-bleach: the peer's USERNAME_ENABLE needs it (spec/33's compare).
# gunicorn serves the Flask-Security app of examples/flask-edge behind
# nginx + fsec (scripts/run-flask-edge.sh, spec/45-flask_edge_spec.lua).
# python3-flaskext.wtf (Flask-WTF; python3-flask-security pulls it in too):
# the example's form and spec/peer/wtf_csrf.py make its CSRF tokens
# (spec/08's Flask-WTF tests, spec/45).
# python3-prometheus-client: its parser reads fsec's metrics exposition
# (spec/49, spec/46); lua-socket: the syslog sink of security events on a
# Unix datagram socket outside nginx (spec/44; under nginx the cosocket).
# python3-fido2 (fido2.cbor) and python3-cryptography: the software
# authenticator of spec/tools/make_webauthn_fixtures.py, which writes
# spec/fixtures/webauthn/, and of spec/peer/fs_make_db.py --webauthn (the
# Flask-Security-Too keys spec/55-import_webauthn_spec.lua imports).
# python3-aiosmtpd: the real SMTP server the mail specs start on loopback
# (spec/tools/smtp_server.py: plain, STARTTLS, implicit TLS, AUTH).
TEST="lua-busted python3-flask-security python3-flask-sqlalchemy python3-flaskext.wtf gunicorn
  python3-sqlalchemy python3-passlib python3-argon2 python3-bcrypt sqlite3
  clang libclang-rt-14-dev valgrind lua-ldoc lua-markdown luarocks
  man-db clang-format lua-check postgresql python3-psycopg2
  python3-qrcode python3-phonenumbers python3-cryptography python3-pyotp oathtool zbar-tools python3-bleach
  python3-prometheus-client lua-socket python3-zxcvbn python3-aiosmtpd python3-fido2"  # man-db: spec/51 renders docs/fsec.1 with man --warnings;
                      # lua-check: luacheck for spec/check-luacheck.sh
# The Debian packages (debian/, scripts/build-deb.sh); spec/check-deb.sh
# builds them and installs them in a fresh Debian 12 root (debootstrap;
# ss of iproute2 finds a free port for the example there).
DEB="build-essential debhelper dpkg-dev fakeroot"  # build-essential: dpkg-checkbuilddeps requires it
DEB_CHECK="$DEB debootstrap iproute2"
# Fuzzing: libFuzzer (clang) and AFL++, for scripts/fuzz.sh and
# scripts/fuzz-afl.sh.
FUZZ="clang libclang-rt-14-dev afl++"
# OpenResty stack (Debian's nginx with the Lua module) for the example app
# and its end-to-end tests.
# lua-filesystem: the development mailbox page reads its folder (no shell).
OPENRESTY="nginx libnginx-mod-http-lua lua-resty-core lua-filesystem curl"
# The scale-out example (scripts/run-cluster.sh): the example's stack and
# a local PostgreSQL server (scripts/pg-local.sh); libpq for fsec's store.
CLUSTER="$OPENRESTY postgresql libpq-dev"
# A real browser for the end-to-end test of the HTML pages.
BROWSER="chromium"
# Benchmarks: the example app under wrk, and the peer (Flask-Security on
# gunicorn) for the side-by-side HTTP comparison; gnuplot draws the plot.
# On PostgreSQL (bench/pg.sh, bench/bench_pg, bench/pg_capacity.sh): the
# server and pgbench (postgresql), libpq-dev for bench_pg, the peer's
# driver (python3-psycopg2) and pgbouncer for the pooler's figures.
BENCH_PG="postgresql libpq-dev python3-psycopg2 pgbouncer"
BENCH="$OPENRESTY wrk gunicorn gnuplot-nox python3-flask-security
  python3-flask-sqlalchemy python3-sqlalchemy python3-passlib python3-argon2
  python3-email-validator sqlite3 $BENCH_PG"

# Contributors' checks: scripts/fresh-check.sh makes a Debian 12 root.
CONTRIB="debootstrap git curl"

want=""
for group in "$@"; do
  case $group in
    build) want="$want $BUILD" ;;
    test) want="$want $BUILD $TEST $DEB_CHECK $OPENRESTY $BROWSER wrk strace $BENCH_PG" ;;  # wrk: bench/load.sh; strace: where nginx fsyncs; BENCH_PG: ctest bench.pg
    deb) want="$want $BUILD $DEB" ;;
    openresty) want="$want $BUILD $OPENRESTY" ;;
    cluster) want="$want $BUILD $CLUSTER" ;;
    fuzz) want="$want $BUILD $FUZZ" ;;
    bench) want="$want $BUILD $BENCH" ;;
    contrib) want="$want $CONTRIB" ;;
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  case " $missing " in *" $p "*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
# Node.js drives the browser (playwright-core from npm, pinned in
# spec/browser/package.json to a version whose engines allow Debian 12's
# Node 18). A node already on the machine is used if it is new enough for
# that pin; a missing or older one (or a node without npm) gets Debian's
# nodejs + npm.
case " $* " in *" test "*)
  need=$(sed -n 's/.*"node": *">=\([0-9]*\).*/\1/p' "$(dirname "$0")/../spec/browser/package-lock.json" | head -n 1)
  have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$have" -lt "${need:-18}" ] || ! command -v npm >/dev/null 2>&1; then
    [ "$have" -gt 0 ] && echo "fsec: node $have is older than the $need the pinned playwright-core needs"
    missing="$missing nodejs npm"
  fi ;;
esac
[ -z "$missing" ] && exit 0

echo "fsec: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "fsec: run as root, or install them yourself: apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
