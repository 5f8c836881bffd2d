#!/bin/sh
# docs/catalogue.md stays true: it has one row for each of the 77 checks of
# the catalogue's §7 and for each of issue 19's 13 items (W19-NN), each
# with a known status, a reason when not done, and tests cited as
# `file::name` that exist: the file is in the tree and the name is in it
# (a busted test's text, a C test function, a line a script prints).
# Usage: sh spec/check-catalogue.sh   (from anywhere)
set -eu
cd "$(dirname "$0")/.."
doc=docs/catalogue.md
[ -f "$doc" ] || { echo "check-catalogue: $doc is missing"; exit 1; }
IDS="P-01 P-02 P-03 P-04 P-05 P-06 P-07 P-08 P-09 P-10
E-01 E-02 E-03 E-04 E-05 E-06 E-07
T-01 T-02 T-03 T-04 T-05 T-06 T-07 T-08 T-09 T-10 T-11 T-12 T-13 T-14
S-01 S-02 S-03 S-04 S-05 S-06 C-30 C-33 C-34 C-35 C-36
I-01 I-02 I-03 I-04 I-05 I-06 I-07 R-01 R-02 R-03
A-01 A-02 A-03 A-04 A-05 A-06 A-07 L-01 L-02 L-03 L-04 L-05 L-06
F-01 F-02 F-03 F-04 F-05 F-06 F-07 F-08 F-09 K-01 K-03 G-01"
bad=0
rows=$(mktemp); cites=$(mktemp)
trap 'rm -f "$rows" "$cites"' EXIT
grep -E '^\| ([A-Z]|W19)-[0-9][0-9] \|' "$doc" > "$rows" || true
n=0
for id in $IDS; do
  n=$((n + 1))
  c=$(grep -c "^| $id |" "$rows" || true)
  [ "$c" -eq 1 ] || { echo "check-catalogue: $id appears $c times in $doc (want 1)"; bad=1; }
done
[ "$n" -eq 77 ] || { echo "check-catalogue: the id list has $n rows, not 77"; bad=1; }
# Issue 19's rows: one per numbered item (W19-13: the access log).
for i in 01 02 03 04 05 06 07 08 09 10 11 12 13; do
  c=$(grep -c "^| W19-$i |" "$rows" || true)
  [ "$c" -eq 1 ] || { echo "check-catalogue: W19-$i appears $c times in $doc (want 1)"; bad=1; }
done
extra=$(awk -F'|' '{ gsub(/ /, "", $2); print $2 }' "$rows" | while read -r id; do
  case $id in W19-*) continue ;; esac
  case " $(echo $IDS) " in *" $id "*) ;; *) echo "$id" ;; esac; done)
[ -z "$extra" ] || { echo "check-catalogue: rows not in the catalogue: $extra"; bad=1; }
# columns: | row | what | tests | status | notes |
while IFS= read -r line; do
  id=$(echo "$line" | awk -F'|' '{ gsub(/^ +| +$/, "", $2); print $2 }')
  tests=$(echo "$line" | awk -F'|' '{ print $4 }')
  status=$(echo "$line" | awk -F'|' '{ gsub(/^ +| +$/, "", $5); print $5 }')
  notes=$(echo "$line" | awk -F'|' '{ gsub(/^ +| +$/, "", $6); print $6 }')
  case $status in
    done|"done (benchmark)") ;;
    n/a|open) [ -n "$notes" ] || { echo "check-catalogue: $id is $status without a reason"; bad=1; } ;;
    *) echo "check-catalogue: $id has an unknown status '$status'"; bad=1 ;;
  esac
  if [ "$status" != n/a ] && ! echo "$tests" | grep -q '`[^`]*::[^`]*`'; then
    echo "check-catalogue: $id ($status) cites no test"; bad=1
  fi
  echo "$tests" | grep -o '`[^`]*::[^`]*`' | sed "s/^\`//; s/\`\$//; s/^/$id /" >> "$cites" || true
done < "$rows"
total=0
while IFS= read -r c; do
  total=$((total + 1))
  id=${c%% *}; rest=${c#* }
  file=${rest%%::*}; name=${rest#*::}
  if [ ! -f "$file" ]; then
    echo "check-catalogue: $id cites $file, which does not exist"; bad=1
  elif ! grep -qF -- "$name" "$file"; then
    echo "check-catalogue: $id cites a test that is not in $file: $name"; bad=1
  fi
done < "$cites"
if [ $bad -eq 0 ]; then
  echo "check-catalogue: 77 + 13 (issue 19) rows, $total cited tests, every one found"
fi
exit $bad
