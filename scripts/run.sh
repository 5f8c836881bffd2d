#!/bin/sh
# The main job: the example app (OpenResty: nginx + fsec) on the embedded
# SQLite store, in the foreground on 127.0.0.1:${PORT:-8080}; Ctrl-C stops
# it. Installs missing Debian packages, builds fsec, creates the database
# and an admin user on first start and prints how to sign in.
#   PORT=9000 WORKERS=1 sh scripts/run.sh
# Data (database, mail, logs) lives in var/example, the owner's alone.
# The demo turns the development mailbox on (FSEC_DEV_MAILBOX=0 turns it
# off): nginx listens on 127.0.0.1 only, and the mailbox answers loopback
# clients asking for this site's Host only.
set -eu
FSEC_DEV_MAILBOX=${FSEC_DEV_MAILBOX:-1}
export FSEC_DEV_MAILBOX
cd "$(dirname "$0")/.."
scripts/deps.sh openresty
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec sh scripts/serve-example.sh "$(pwd)/var/example" "${PORT:-8080}" "${WORKERS:-2}"
