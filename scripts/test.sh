#!/bin/sh
# Run every test: builds fsec, runs the C tests, the busted specs under
# Lua 5.4 and LuaJIT, and the install check through ctest; then the same
# again with AddressSanitizer + UBSan. Installs missing Debian packages.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc 2>/dev/null || echo 2)
# In CI a missing Flask-Security peer, browser or PostgreSQL server is a
# failure, not a skipped spec; so is a callgrind baseline made for another
# build (bench/callgrind/check.sh: the instruction-count guard must run).
export FSEC_REQUIRE_PEER=1 FSEC_REQUIRE_BROWSER=1 FSEC_REQUIRE_PG=1 FSEC_REQUIRE_CALLGRIND=1
# playwright-core (npm) drives Debian's Chromium; screenshots land in
# build/artifacts/browser.
(cd spec/browser && npm ci --no-audit --no-fund --loglevel=error)

echo "== build (warnings are errors)"
cmake -S . -B build -DFSEC_WERROR=ON >/dev/null
cmake --build build -j "$jobs" >/dev/null
echo "== tests"
(cd build && ctest --output-on-failure)
echo "== load test: logins, token requests and registrations together for 60 s"
sh bench/load.sh 60

# The Lua 5.4 specs under valgrind (memcheck): any report fails the run.
# (LuaJIT is not run under valgrind: its allocator needs a special build.)
echo "== Lua 5.4 specs under valgrind"
FSEC_BUILD_DIR=build valgrind -q --error-exitcode=99 --leak-check=no lua5.4 /usr/bin/busted \
  spec/01-config_spec.lua spec/02-password_spec.lua spec/03-token_spec.lua \
  spec/10-datastore_conformance_spec.lua spec/11-sqlite_store_spec.lua spec/20-session_spec.lua \
  spec/21-authz_spec.lua spec/30-answers_spec.lua spec/30-login_spec.lua spec/30-recovery_spec.lua \
  spec/30-register_spec.lua spec/31-redirect_spec.lua spec/32-pages_spec.lua \
  spec/12-otp_core_spec.lua spec/36-twofactor_spec.lua spec/37-unified_signin_spec.lua \
  spec/12-webauthn_core_spec.lua

echo "== fuzzing: every target for ${FSEC_FUZZ_SECONDS:-60}s (libFuzzer, ASan+UBSan)"
sh scripts/fuzz.sh "${FSEC_FUZZ_SECONDS:-60}"

echo "== tests under AddressSanitizer + UBSan"
cmake -S . -B build-asan -DFSEC_SANITIZE=ON -DFSEC_WERROR=ON >/dev/null
cmake --build build-asan -j "$jobs" >/dev/null
(cd build-asan && ctest --output-on-failure)
