#!/bin/sh
# Every C file of the tree is formatted as .clang-format says (issue 21;
# ctest source.format):
# clang-format --dry-run -Werror fails on any line it would change.
# First a misformatted probe must fail, so a clang-format that checks
# nothing (a missing .clang-format, an option it ignores) cannot pass.
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: no clang-format (scripts/deps.sh test)"; exit 1; }
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cp .clang-format "$probe/"
printf 'int  f( int x ){\nreturn x+1 ;}\n' >"$probe/probe.c"
if clang-format --dry-run -Werror "$probe/probe.c" 2>/dev/null; then
  echo "check-format: a misformatted probe passed"; exit 1
fi
files=$(find core bindings fuzz bench -name '*.[ch]' -not -path '*/corpus/*' | LC_ALL=C sort)
if ! clang-format --dry-run -Werror $files; then
  echo "check-format: run clang-format -i on the files above"; exit 1
fi
echo "check-format: $(echo "$files" | wc -l) C files formatted as .clang-format says"
