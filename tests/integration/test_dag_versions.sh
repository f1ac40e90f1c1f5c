#!/usr/bin/env bash
# DAG versions and the text of each (migration 0018, docs/api.md "DAG
# versions and sources"): the DAG processor stores a DAG file's text with
# each version; a comment-only edit updates the latest version's text
# without a new version; a changed task makes version 2, and a run keeps
# the version it was created with. The webserver runs with a DAGs folder
# it cannot see, so every text it serves comes from the database.
# Also: two DAGs of one file, a file cut at the size limit, doc_md (DAG
# and task, written and from doc_md_file_path, and one outside the DAGs
# folder refused), the v2 routes' paging, ordering and 404s, and the
# permissions of the routes.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=25
t_setup
mkdir -p "$tmp/dags/docs"
chmod 777 "$tmp"

write_versioned() { # $1: the echo's text; $2: an extra comment line
  cat >"$tmp/dags/versioned.yaml" <<EOF
# the versioned DAG
versioned:
  doc_md: |
    ## Versioned DAG
    Runs <b>one</b> task.
    <img src="x" onerror="alert(1)">
  tasks:
    - task_id: hello
      operator: bash
      bash_command: 'echo $1'
      doc_md: "**hello** says $1"
$2
EOF
}
write_versioned first ''
cat >"$tmp/dags/pair.yaml" <<'EOF'
pair_a:
  doc_md_file_path: docs/pair.md
  tasks:
    - task_id: t
      operator: airflow.operators.empty.EmptyOperator
pair_b:
  tasks:
    - task_id: t
      operator: airflow.operators.empty.EmptyOperator
EOF
printf '# Pair\n\nFrom a file.\n' >"$tmp/dags/docs/pair.md"
printf '# Not a DAG document\n' >"$tmp/outside.md"
cat >"$tmp/dags/outside.yaml" <<EOF
outside:
  doc_md_file_path: $tmp/outside.md
  tasks:
    - task_id: t
      operator: airflow.operators.empty.EmptyOperator
EOF
# A file past the stored limit (1 MiB): a DAG and then a long comment.
{
  printf 'big:\n  tasks:\n    - task_id: t\n      operator: airflow.operators.empty.EmptyOperator\n'
  head -c 1500000 /dev/zero | tr '\0' 'x' | fold -w 99 | sed 's/^/# /'
} >"$tmp/dags/big.yaml"
big_size=$(stat -c %s "$tmp/dags/big.yaml")

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=true
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
base=http://127.0.0.1:$port
api=$base/api/v1
v2=$base/api/v2

check "db migrate" "$BIN/updraft" db migrate
start_scheduler scheduler
# The webserver does not see the DAGs folder.
UPDRAFT__CORE__DAGS_FOLDER=$tmp/nowhere start_webserver webserver

dags_up() { json_ok "$api/dags" '[.dags[].dag_id] | index("versioned") and index("pair_a") and index("pair_b") and index("big")'; }
check "DAGs load" wait_for 30 dags_up

get() { curl -s -o "$tmp/r.out" -w '%{http_code}' "$@"; }
is() { [ "$(get "$base$2")" = "$1" ] && jq -e "$3" "$tmp/r.out" >/dev/null; }
problem() { is "$1" "$2" ".status == $1 and (.detail | length > 0)"; }
text_of() { curl -sf -H 'Accept: text/plain' "$base$1"; }
trigger() {
  curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"dag_run_id\": \"$1\"}" "$api/dags/versioned/dagRuns"
}

# ---- routes --------------------------------------------------------------
"$BIN/updraft-webserver" --routes >"$tmp/routes.tsv"
check_eq "the routes and the permission each needs" \
  "GET /api/v1/dagSources/{} can_read DAG Code|GET /api/v2/dagSources/{} can_read DAG Code|GET /api/v2/dags/{}/dagVersions can_read DAGs|GET /api/v2/dags/{}/dagVersions/{} can_read DAGs" \
  "$(awk -F'\t' '$2 ~ /dagSources|dagVersions/ { printf "%s%s %s %s", sep, $1, $2, $3 " " $4; sep = "|" }' "$tmp/routes.tsv")"

# ---- version 1 -----------------------------------------------------------
check "versioned has one version" is 200 /api/v2/dags/versioned/dagVersions \
  '.total_entries == 1 and .dag_versions[0].version_number == 1 and .dag_versions[0].dag_id == "versioned"
   and (.dag_versions[0].id | type == "string") and .dag_versions[0].bundle_name == null
   and (.dag_versions[0].created_at | test("^20")) and .dag_versions[0].dag_display_name == "versioned"'
check_eq "v2 source, text/plain, is the file byte for byte" "$(cat "$tmp/dags/versioned.yaml")" \
  "$(text_of /api/v2/dagSources/versioned)"
check "v2 source as JSON" is 200 /api/v2/dagSources/versioned \
  '.dag_id == "versioned" and .version_number == 1 and (.content | contains("echo first"))
   and .dag_display_name == "versioned"'
token=$(curl -sf "$api/dags/versioned" | jq -r .file_token)
check "v1 source by file token, as JSON" is 200 "/api/v1/dagSources/$token" \
  '(keys == ["content"]) and (.content | startswith("# the versioned DAG"))'
check_eq "v1 source by file token, text/plain" "$(cat "$tmp/dags/versioned.yaml")" \
  "$(text_of "/api/v1/dagSources/$token")"
check_eq "run r1 created" 200 "$(trigger r1)"
check "r1 answers its version" is 200 /api/v1/dags/versioned/dagRuns/r1 \
  '.version_number == 1 and (.dag_version_id | test("^[0-9]+$"))'

# ---- a comment-only edit: the same version, its text updated ---------------
write_versioned first '# a comment edited'
code_updated() { text_of /api/v2/dagSources/versioned | grep -q 'a comment edited'; }
check "a comment-only edit updates the stored text" wait_for 30 code_updated
check "... without a new version" is 200 /api/v2/dags/versioned/dagVersions '.total_entries == 1'
check_eq "... in place (one dag_code row for the DAG)" 1 \
  "$(q "SELECT count(*) FROM dag_code c JOIN dag_version v ON v.id = c.dag_version_id WHERE v.dag_id = 'versioned'")"

# ---- a changed task: version 2 ---------------------------------------------
write_versioned second ''
check "a changed task makes version 2" wait_for 30 json_ok "$v2/dags/versioned/dagVersions" '.total_entries == 2'
check_eq "run r2 created" 200 "$(trigger r2)"
check "r2 uses version 2, r1 still version 1" is 200 "/api/v1/dags/versioned/dagRuns?order_by=dag_run_id" \
  '[.dag_runs[] | "\(.dag_run_id)=\(.version_number)"] == ["r1=1", "r2=2"]'
check "version 1's text is the one it was parsed from (with the comment)" is 200 \
  "/api/v2/dagSources/versioned?version_number=1" \
  '.version_number == 1 and (.content | contains("echo first")) and (.content | contains("a comment edited"))'
check "version 2's text" is 200 "/api/v2/dagSources/versioned?version_number=2" \
  '.version_number == 2 and (.content | contains("echo second")) and (.content | contains("a comment") | not)'
check "the latest is version 2" is 200 /api/v2/dagSources/versioned '.version_number == 2'
check "v1 serves the latest text" is 200 "/api/v1/dagSources/$token" '.content | contains("echo second")'
check "versions newest first" is 200 "/api/v2/dags/versioned/dagVersions?order_by=-version_number" \
  '[.dag_versions[].version_number] == [2, 1]'
check "a page of one" is 200 "/api/v2/dags/versioned/dagVersions?limit=1&offset=1" \
  '[.dag_versions[].version_number] == [2] and .total_entries == 2'
check "filtered by version_number" is 200 "/api/v2/dags/versioned/dagVersions?version_number=1" \
  '[.dag_versions[].version_number] == [1] and .total_entries == 1'
check "one version" is 200 /api/v2/dags/versioned/dagVersions/2 \
  '.version_number == 2 and .dag_id == "versioned" and .bundle_url == null'

# ---- 404 and 400 ------------------------------------------------------------
check "an unknown version's source is 404" problem 404 "/api/v2/dagSources/versioned?version_number=9"
check "an unknown DAG's source is 404" problem 404 /api/v2/dagSources/nosuch
check "an unknown token is 404" problem 404 /api/v1/dagSources/bm9zdWNo
check "an unknown version is 404" problem 404 /api/v2/dags/versioned/dagVersions/9
check "an unknown DAG's versions are 404" problem 404 /api/v2/dags/nosuch/dagVersions
check "a bad version_number is 400" problem 400 "/api/v2/dagSources/versioned?version_number=x"
check "version 0 is 400" problem 400 /api/v2/dags/versioned/dagVersions/0
check "an unknown order_by is 400" problem 400 "/api/v2/dags/versioned/dagVersions?order_by=hash"
check "an unknown parameter is 400" problem 400 "/api/v2/dags/versioned/dagVersions?bundle_name=x"

# A version parsed before texts were kept has no dag_code row.
q "DELETE FROM dag_code WHERE dag_version_id = (SELECT id FROM dag_version WHERE dag_id = 'versioned' AND version_number = 1)"
check "a version without stored text: content null" is 200 "/api/v2/dagSources/versioned?version_number=1" \
  '.content == null and .version_number == 1 and .dag_id == "versioned"'

# ---- two DAGs of one file, a file past the limit -----------------------------
check_eq "both DAGs of one file keep its text" "$(cat "$tmp/dags/pair.yaml")|$(cat "$tmp/dags/pair.yaml")" \
  "$(text_of /api/v2/dagSources/pair_a)|$(text_of /api/v2/dagSources/pair_b)"
check_eq "a file past the limit is stored cut, with its size" "t|1048576|$big_size" \
  "$(q "SELECT c.truncated, octet_length(c.source_code), c.source_size FROM dag_code c JOIN dag d ON d.version_id = c.dag_version_id WHERE d.dag_id = 'big'" | tr -d ' ' | tr '\n' '|' | sed 's/|$//')"
check "... and served with a closing note" is 200 /api/v2/dagSources/big \
  "(.content | startswith(\"big:\")) and (.content | endswith(\"# updraft: the file has $big_size bytes; only the first 1048576 are stored\n\"))"

# ---- doc_md -------------------------------------------------------------------
check "the DAG's doc_md" is 200 /api/v1/dags/versioned/details \
  '.doc_md | startswith("## Versioned DAG\n")'
check "the task's doc_md" is 200 /api/v1/dags/versioned/tasks/hello '.doc_md == "**hello** says second"'
check "a task without one" is 200 /api/v1/dags/pair_b/tasks '.tasks[0].doc_md == null'
check "doc_md_file_path, relative to the DAG file" is 200 /api/v1/dags/pair_a/details \
  '.doc_md == "# Pair\n\nFrom a file.\n"'
check "doc_md_file_path outside the DAGs folder is an import error" wait_for 30 json_ok "$api/importErrors" \
  '[.import_errors[] | select(.filename | endswith("outside.yaml")) | .stack_trace | test("outside.yaml:2:[0-9]+: doc_md_file_path .* is not inside the DAGs folder")] == [true]'

echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
