#!/usr/bin/env bash
# No file under tests/ includes a .c file: a test links the program's
# library and includes its header. (tests/fuzz/replay.c is a build source of
# the fuzz targets, compiled beside them, never included.) Prints each
# file:line and exits 1 when there is one.
set -u
cd "$(dirname "$0")/../.."
n=0
while IFS= read -r hit; do
  echo "$hit: includes a .c file"
  n=$((n + 1))
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^">]*\.c[">]' tests --include='*.[ch]' | sed 's/^\([^:]*:[0-9]*\):.*/\1/')
echo "test_includes: $n .c include(s) under tests/"
[ "$n" -eq 0 ]
