#!/bin/sh
# The binding stays a binding (issue 21): bindings/ calls fsec_* functions,
# the Lua C API and plain libc, never a crypto, database or text library
# directly (that code belongs in core/, where it is tested and fuzzed).
#   sh spec/check-bindings.sh OBJECT...   (the fsec.core modules' objects)
# Reads what each binding object leaves undefined (nm -u: what it calls,
# macros and inline functions expanded), and what each source includes.
# First it plants a direct libsodium call in a probe object and insists
# on finding it, so a broken nm pipeline cannot pass silently.
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: check-bindings.sh OBJECT..."; exit 2; }
# libsodium, OpenSSL (libcrypto), SQLite, libcrypt, libidn2, utf8proc,
# liboath, libqrencode, zlib, libzxcvbn, libcbor
FORBIDDEN='^(sodium_|crypto_|randombytes_|SHA|MD5|EVP_|HMAC|PKCS5_|OPENSSL_|ERR_|RAND_|BN_|sqlite3_|crypt$|crypt_|idn2_|utf8proc_|oath_|QRcode_|QRinput_|inflate|deflate|compress|uncompress|Zxcvbn|cbor_)'
HEADERS='#[[:space:]]*include[[:space:]]*<(sodium|openssl/|sqlite3|crypt\.h|idn2|utf8proc|liboath/|qrencode|zlib\.h|zxcvbn\.h|cbor)'

# direct calls among an object's undefined symbols, as "object: symbol"
calls() {
  for o in "$@"; do
    nm -u "$o" | awk '{print $NF}' | grep -E "$FORBIDDEN" | sed "s|^|$(basename "$o"): |" || true
  done
}

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\nvoid sodium_memzero(void *, size_t);\nvoid probe(char *p) { sodium_memzero(p, 8); }\n' >"$probe/probe.c"
${CC:-cc} -c -o "$probe/probe.o" "$probe/probe.c"
if [ -z "$(calls "$probe/probe.o")" ]; then
  echo "check-bindings: the probe's sodium_memzero call went unseen (nm?)"; exit 1
fi

# ctest passes each target's objects as one ';'-separated argument
# shellcheck disable=SC2046
set -- $(printf '%s\n' "$@" | tr ';' '\n')
n=$#
srcs=$(ls bindings/*.c | wc -l)
# every binding source compiled, for both runtimes
if [ "$n" -lt $((2 * srcs)) ]; then
  echo "check-bindings: $n objects for $srcs sources in bindings/ (both runtimes?)"; exit 1
fi
bad=0
found=$(calls "$@")
if [ -n "$found" ]; then
  echo "check-bindings: bindings/ calls a library directly (move it to core/):"
  echo "$found"; bad=1
fi
if grep -nE "$HEADERS" bindings/*.c bindings/*.h; then
  echo "check-bindings: bindings/ includes a library header (move that code to core/)"; bad=1
fi
[ $bad -eq 0 ] && echo "check-bindings: $n objects call only fsec_*, Lua and libc"
exit $bad
