#!/usr/bin/env bash
# SQL text lives in lib/store only. Flags every string literal, outside
# lib/store and tests/, that holds SQL statement text: SELECT, INSERT INTO,
# UPDATE <table> (... SET), DELETE FROM, WITH <name> AS (, LISTEN <channel>,
# NOTIFY <channel>, pg_notify(, pg_advisory_*. Prints each offending file:line (with the enclosing
# function or macro) and exits 1 when there is one.
#
# Deliberate exceptions are the allow-list below, one a line:
#   FILE-GLOB | CONTEXT-REGEX (function or #define the line is in; * = any) | reason
set -u
cd "$(dirname "$0")/../.."

ALLOW='
proto/*               | *              | the schema migrations and the queue codec are the contract below core
lib/core/db.c         | *              | the migration runner (schema_migrations, its advisory lock) and the LISTEN and statement plumbing every store module runs on
worker/op_sql.c       | *              | the sql operator and the sql sensor run the user'"'"'s own SQL
webserver/api_*.c     | _fields$       | the API'"'"'s column tables (api_field_t: JSON name, SQL expression, format), from which select lists and writers are generated
webserver/apiquery.c  | *              | the query builder that turns the column tables, filters and paging into one parameterized statement per list
lib/core/queue.c      | ^open_conn$    | Redis SELECT (the database number), not SQL
'

allowed() { # FILE CONTEXT
  local glob ctx reason
  while IFS='|' read -r glob ctx reason; do
    glob=$(echo "$glob" | xargs); ctx=$(echo "$ctx" | xargs)
    [ -z "$glob" ] && continue
    # shellcheck disable=SC2053
    [[ $1 == $glob ]] || continue
    [ "$ctx" = "*" ] && return 0
    [[ $2 =~ $ctx ]] && return 0
  done <<<"$ALLOW"
  return 1
}

# file:line:context for each literal with SQL text. The context is the
# #define the line continues, else the last function or table (an array
# definition) started at column 0. Comments are not statements.
scan() {
  awk '
    FNR == 1 { fn = "-"; def = "" }
    /^#[ \t]*define[ \t]+[A-Za-z_0-9]+/ { split($0, a, /[ \t(]+/); def = a[2] }
    /^[A-Za-z_][^;=]*[A-Za-z_0-9]+[ \t]*\(/ && !/^#/ {
      s = $0; sub(/\(.*/, "", s); n = split(s, w, /[ \t*]+/); fn = w[n]
    }
    /^[A-Za-z_][^;(]*[A-Za-z_0-9]+\[[^]]*\][ \t]*=/ {
      s = $0; sub(/\[.*/, "", s); n = split(s, w, /[ \t*]+/); fn = w[n]
    }
    /^[ \t]*(\/\*|\*)/ { next }
    {
      ctx = def != "" ? def : fn
      if ($0 ~ /"[^"]*(SELECT |INSERT INTO|UPDATE [a-z_]+|DELETE FROM|WITH [a-z_]+ AS|(LISTEN|NOTIFY) (%s|"|[a-z_]+("|;|,))|pg_notify\(|pg_advisory)/)
        print FILENAME ":" FNR ":" ctx
      if ($0 !~ /\\[ \t]*$/) def = ""
    }
  ' "$@"
}

n=0
files=$(find proto lib scheduler worker webserver cli -name '*.[ch]' -not -path 'lib/store/*' 2>/dev/null | sort)
while IFS=: read -r f line ctx; do
  [ -z "$f" ] && continue
  allowed "$f" "$ctx" && continue
  echo "$f:$line: SQL text outside lib/store (in $ctx)"
  n=$((n + 1))
done < <(scan $files)
echo "sql: $n statement line(s) outside lib/store"
[ "$n" -eq 0 ]
