#!/usr/bin/env bash
# Every .c/.h of lib, proto, the programs and tests is formatted as the
# committed .clang-format says (clang-format 14; `make format` rewrites).
# Prints clang-format's complaints (file:line:col: ...), then one line per
# file that differs, and exits 1 when there is one.
set -u
cd "$(dirname "$0")/../.."
CF=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format)}
[ -n "$CF" ] || { echo "format: clang-format not found (apt-get install clang-format)"; exit 1; }

mapfile -t files < <(find lib proto scheduler worker webserver cli tests -name '*.[ch]' | sort)
# One clang-format run over all files (one process is much faster than one per file).
out=$("$CF" --dry-run --Werror "${files[@]}" 2>&1)
bad=$(grep -oE '^[^ :]+\.[ch]:[0-9]+:[0-9]+: (error|warning)' <<<"$out" | cut -d: -f1 | uniq)
n=0
for f in $bad; do
  grep -m3 -E "^$f:[0-9]+:[0-9]+: (error|warning)" <<<"$out"
  echo "$f: not formatted"
  n=$((n + 1))
done
echo "format: $n of ${#files[@]} file(s) not formatted"
[ "$n" -eq 0 ]
