#!/usr/bin/env bash
# Include direction between the layers (docs/design.md "Layout"):
#   proto  proto only                 lib/core   core, proto
#   lib/model  core, model, proto     lib/store  core, model, store, proto
#   lib/sched  core .. sched, proto
#   a program (scheduler, worker, webserver, cli): lib/*, proto and itself,
#   never another program; tests/ may include anything (not scanned).
# System and third-party headers (<...>, or "x.h" that is none of ours) are
# not layers. Prints each violation as
#   file:line: includes X (layer A may not use layer B)
# and exits 1 when there is one. Run from anywhere: paths are repository-relative.
set -u
cd "$(dirname "$0")/../.."

PROGRAMS="scheduler worker webserver cli"

# layer_of_file PATH: the layer a source file belongs to
layer_of_file() {
  case $1 in
    proto/*) echo proto ;;
    lib/*/*) local l=${1#lib/}; echo "${l%%/*}" ;;
    *) echo "${1%%/*}" ;;
  esac
}

# allowed A B: may layer A include layer B?
allowed() {
  local a=$1 b=$2
  [ "$a" = "$b" ] && return 0
  case $a in
    proto) return 1 ;;
    core) [[ $b == proto ]] ;;
    model) [[ $b == proto || $b == core ]] ;;
    store) [[ $b == proto || $b == core || $b == model ]] ;;
    sched) [[ $b == proto || $b == core || $b == model || $b == store ]] ;;
    *) [[ $b == proto || $b == core || $b == model || $b == store || $b == sched ]] ;;
  esac
}

# layer_of_include FILE INCLUDED: the layer a quoted include resolves to
# (as the compiler finds it: the including file's folder, then -I. -Ilib);
# empty when it is not one of ours.
layer_of_include() {
  local dir inc=$2 first
  dir=$(dirname "$1")
  if [ -f "$dir/$inc" ]; then layer_of_file "$(realpath --relative-to=. "$dir/$inc")"; return; fi
  first=${inc%%/*}
  [ "$first" = "$inc" ] && return   # a bare name found elsewhere: third-party
  case $first in
    core | model | store | sched) [ -e "lib/$inc" ] && echo "$first" ;;
    lib) layer_of_file "$inc" ;;
    proto | scheduler | worker | webserver | cli) echo "$first" ;;
  esac
}

violations=0
files=$(find proto lib/core lib/model lib/store lib/sched $PROGRAMS -name '*.[ch]' 2>/dev/null | sort)
for f in $files; do
  a=$(layer_of_file "$f")
  while IFS=: read -r line inc; do
    b=$(layer_of_include "$f" "$inc")
    [ -z "$b" ] && continue
    if ! allowed "$a" "$b"; then
      echo "$f:$line: includes $inc (layer $a may not use layer $b)"
      violations=$((violations + 1))
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
             sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done
echo "layers: $violations violation(s)"
[ "$violations" -eq 0 ]
