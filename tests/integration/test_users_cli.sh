#!/usr/bin/env bash
# Users, roles and API tokens from the command line against a private
# Postgres: every `updraft users` verb and `roles list`, table and JSON
# output, the errors (duplicate user, unknown role, unknown user), the
# password kept only as a yescrypt hash (checked with the system's
# crypt(3) through perl) and never printed but for a random one, once;
# tokens shown once and listed by prefix; the event log rows every
# state-changing command leaves, with no password or token in any row or
# output; the standalone admin (deploy/standalone-admin.sh). Then the
# store's own tests (build/tests/test_users_store) on the same database:
# token and session authentication, expiry, the event log's filters.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
O=${O:-build}
U=$BIN/updraft

# The commands' own output (*.out) is shown too when a check failed.
t_cleanup_extra() {
  [ "${T_FAILED:-0}" -ne 0 ] || return 0
  for f in "$tmp"/*.out; do [ -f "$f" ] && { echo "# --- $f"; tail -20 "$f" | sed 's/^/# /'; }; done
  return 0
}
t_setup
check "db migrate" "$U" db migrate

# run NAME ARGS...: runs the CLI, stdout in $tmp/NAME.out, stderr in $tmp/NAME.err.out; sets $rc
run() { local name=$1; shift; "$U" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err.out" </dev/null; rc=$?; }
out() { cat "$tmp/$1.out"; }
err() { cat "$tmp/$1.err.out"; }
hash_of() { q "select password from ab_user where username = '$1'"; }
# pw_ok USER PASSWORD: the stored hash is yescrypt and PASSWORD matches it (crypt(3) via perl)
pw_ok() {
  local h; h=$(hash_of "$1")
  [[ $h == '$y$'* ]] && H=$h PW=$2 perl -e 'exit(crypt($ENV{PW}, $ENV{H}) eq $ENV{H} ? 0 : 1)'
}
events() { q "select count(*) from event_log where event = '$1'"; }
jq_ok() { jq -e "$2" "$1" >/dev/null; } # FILE FILTER

PW_ANN='Ann-pw with spaces 1'
PW_CAROL='carol-from-stdin-7'
PW_CAROL2='carol-second-pw-8'

# --- create -------------------------------------------------------------------
run create_ann users create --username ann --firstname Ann --lastname Lee --email ann@example.org --role Admin --password "$PW_ANN"
check_eq "users create with long flags exits 0" 0 "$rc"
check_eq "it says what it created" 'User "ann" created with role "Admin"' "$(out create_ann)"
check "the stored password is a yescrypt hash of it" pw_ok ann "$PW_ANN"
check "a wrong password does not match the hash" bash -c "! H='$(hash_of ann)' PW='Ann-pw' perl -e 'exit(crypt(\$ENV{PW}, \$ENV{H}) eq \$ENV{H} ? 0 : 1)'"

run create_bob users create -u bob -f Bob -l Ray -e bob@example.org -r viewer --use-random-password
check_eq "users create with short flags and --use-random-password exits 0" 0 "$rc"
bob_pw=$(sed -n 's/^Password (shown only this once): //p' "$tmp/create_bob.out")
check "the random password is printed" test -n "$bob_pw"
check_eq "it is printed once" 1 "$(grep -c -- "$bob_pw" "$tmp/create_bob.out")"
check "it is 20 letters and digits" bash -c "[[ '$bob_pw' =~ ^[A-Za-z0-9]{20}$ ]]"
check "the random password works" pw_ok bob "$bob_pw"
check_eq "the role is stored by its own name" "{Viewer}" "$(q "select roles from ab_user where username = 'bob'")"

printf '%s\n' "$PW_CAROL" | "$U" users create -u carol -f Carol -l Sun -e carol@example.org -r Op >"$tmp/create_carol.out" 2>&1
check_eq "without a password flag, the password is read from stdin off a terminal" 0 $?
check "the piped password works" pw_ok carol "$PW_CAROL"

# On a terminal (script(1) gives the command one): asked twice, without echo.
PW_TTY='Tty-pass-word-3'
if command -v script >/dev/null; then
  printf '%s\n%s\n' "$PW_TTY" "$PW_TTY" |
    script -qec "'$U' users create -u tina -f Tina -l T -e tina@example.org -r User" /dev/null >"$tmp/tty.log" 2>&1
  check_eq "on a terminal users create asks for the password and exits 0" 0 $?
  check "it asks twice" grep -q 'Repeat for confirmation' "$tmp/tty.log"
  check "the typed password works" pw_ok tina "$PW_TTY"
  printf '%s\n%s\n' "$PW_TTY-a" "$PW_TTY-b" |
    script -qec "'$U' users reset-password -u tina" /dev/null >"$tmp/tty2.log" 2>&1
  check_eq "two different passwords exit 1" 1 $?
  check "saying they did not match" grep -q 'passwords did not match' "$tmp/tty2.log"
  check "and the password is unchanged" pw_ok tina "$PW_TTY"
  "$U" users delete -u tina >/dev/null
else
  ok "a password typed on a terminal # SKIP script(1) is not installed"
fi

run dup users create -u ann -f A -l L -e other@example.org -r Op -p 'Dup-pw-9'
check_eq "a duplicate username exits 1" 1 "$rc"
check "with a clear message" grep -q 'user "ann" already exists' "$tmp/dup.err.out"
run dup_email users create -u ann2 -f A -l L -e ann@example.org -r Op -p 'Dup-pw-9'
check_eq "a duplicate email exits 1" 1 "$rc"
check "naming the email" grep -q 'email "ann@example.org"' "$tmp/dup_email.err.out"
run badrole users create -u dan -f D -l D -e dan@example.org -r Boss -p 'Dup-pw-9'
check_eq "an unknown role exits 1" 1 "$rc"
check "with the valid roles" grep -q '"Boss" is not a valid role; the roles are Public, Viewer, User, Op, Admin' "$tmp/badrole.err.out"
run noemail users create -u dan -f D -l D -r Op -p 'Dup-pw-9'
check_eq "a missing --email is a usage error (2)" 2 "$rc"
check "naming the flag" grep -q -- '--email is required' "$tmp/noemail.err.out"
run badname users create -u 'a/b' -f D -l D -e dan@example.org -r Op -p 'Dup-pw-9'
check_eq "a username with '/' exits 1" 1 "$rc"
run nopw users create -u dan -f D -l D -e dan@example.org -r Op
check_eq "no password on an empty stdin exits 1" 1 "$rc"
run both users create -u dan -f D -l D -e dan@example.org -r Op -p x --use-random-password
check_eq "--password with --use-random-password is a usage error" 2 "$rc"
check_eq "none of the refused users exists" 0 "$(q "select count(*) from ab_user where username in ('ann2', 'dan', 'a/b')")"

# --- list -----------------------------------------------------------------------
run list users list
check_eq "users list exits 0" 0 "$rc"
check "the table has a header" grep -qE '^username +\| email +\| first_name +\| last_name +\| roles +\| active' "$tmp/list.out"
check "and a row per user" grep -qE '^bob +\| bob@example.org +\| Bob +\| Ray +\| Viewer +\| True' "$tmp/list.out"
check_eq "three users" 4 "$(wc -l <"$tmp/list.out")"
run list_json users list -o json
check_eq "users list -o json exits 0" 0 "$rc"
check "the JSON has Airflow's user members" jq_ok "$tmp/list_json.out" '(map(.username) == ["ann", "bob", "carol"]) and (.[0].roles == [{"name": "Admin"}]) and (.[0] | has("email") and has("first_name") and has("last_name") and has("active") and has("login_count") and has("created_on"))'
run list_plain users list -o plain
check_eq "plain is tab-separated, usernames first" "ann bob carol" "$(cut -f1 "$tmp/list_plain.out" | xargs)"
no_hash_in_lists() { ! grep -q '\$y\$' "$tmp"/list*.out && ! grep -qi 'password' "$tmp"/list*.out; }
check "no list shows a hash or a password" no_hash_in_lists
run badfmt users list -o yaml
check_eq "an unknown output format is a usage error" 2 "$rc"

# --- roles ------------------------------------------------------------------------
run add_role users add-role -u bob -r op
check_eq "add-role exits 0" 0 "$rc"
check_eq "it says so" 'User "bob" added to role "Op"' "$(out add_role)"
check_eq "bob holds both roles" "{Viewer,Op}" "$(q "select roles from ab_user where username = 'bob'")"
run add_again users add-role -u bob -r Op
check_eq "adding a role held already exits 1" 1 "$rc"
check "with a clear message" grep -q 'already a member of role "Op"' "$tmp/add_again.err.out"
run rm_role users remove-role -u bob -r Viewer
check_eq "remove-role exits 0" 0 "$rc"
check_eq "it says so" 'User "bob" removed from role "Viewer"' "$(out rm_role)"
run rm_not users remove-role -u bob -r User
check_eq "removing a role not held exits 1" 1 "$rc"
run rm_last users remove-role -u bob -r Op
check_eq "removing the last role exits 1" 1 "$rc"
check "with a clear message" grep -q 'last role' "$tmp/rm_last.err.out"
run role_nouser users add-role -u nobody -r Op
check_eq "add-role of an unknown user exits 1" 1 "$rc"
check "naming the user" grep -q 'user "nobody" does not exist' "$tmp/role_nouser.err.out"
run role_bad users add-role -u bob -r Superuser
check_eq "add-role of an unknown role exits 1" 1 "$rc"

run roles roles list
check_eq "roles list exits 0" 0 "$rc"
check_eq "roles list prints the five roles" "name Public Viewer User Op Admin" "$(grep -v '^=' "$tmp/roles.out" | xargs)"
run roles_p roles list -p
check "roles list -p prints permissions" grep -qE '^Op +\| .*Connections\.can_read' "$tmp/roles_p.out"
check "Viewer cannot read connections" bash -c "! grep -E '^Viewer ' '$tmp/roles_p.out' | grep -q Connections"
run roles_json roles list -p -o json
check "roles list -p -o json" jq_ok "$tmp/roles_json.out" '(length == 5) and (.[0] == {"name": "Public", "permissions": []}) and (.[4].permissions | index("Users.can_create"))'

# --- reset-password ------------------------------------------------------------------
old_hash=$(hash_of carol)
printf '%s\n' "$PW_CAROL2" | "$U" users reset-password -u carol >"$tmp/reset_carol.out" 2>&1
check_eq "reset-password from stdin exits 0" 0 $?
check "the hash changed" test "$old_hash" != "$(hash_of carol)"
check "the new password works" pw_ok carol "$PW_CAROL2"
check "the old one does not" bash -c "! H='$(hash_of carol)' PW='$PW_CAROL' perl -e 'exit(crypt(\$ENV{PW}, \$ENV{H}) eq \$ENV{H} ? 0 : 1)'"
run reset_random users reset-password --username carol --use-random-password
check_eq "reset-password --use-random-password exits 0" 0 "$rc"
carol_pw=$(sed -n 's/^Password (shown only this once): //p' "$tmp/reset_random.out")
check "the new random password works" pw_ok carol "$carol_pw"
run reset_nouser users reset-password -u nobody -p 'Whatever-1'
check_eq "reset-password of an unknown user exits 1" 1 "$rc"

# --- tokens ---------------------------------------------------------------------------
run tok1 users token create -u ann --expires-in 30d
check_eq "token create exits 0" 0 "$rc"
tok1=$(out tok1)
check "stdout is the token alone" bash -c "[[ '$tok1' =~ ^udt_[A-Za-z0-9_-]{43}$ ]]"
check "stderr says it is shown once" grep -q 'shown only this once' "$tmp/tok1.err.out"
run tok2 users token create --username bob
tok2=$(out tok2)
check_eq "30d sets the expiry 30 days out" "t" "$(q "select abs(extract(epoch from expires_at - now()) - 30 * 86400) < 60 from api_token where prefix = '${tok1:0:8}'")"
check_eq "no --expires-in never expires" "t" "$(q "select expires_at is null from api_token where prefix = '${tok2:0:8}'")"
check_eq "only digests are stored" 0 "$(q "select count(*) from api_token where digest in ('$tok1', '$tok2') or prefix in ('$tok1', '$tok2')")"
run tok_list users token list
check_eq "token list exits 0" 0 "$rc"
check "it shows the prefix" grep -qE "^ +1 \| ann +\| ${tok1:0:8} " "$tmp/tok_list.out"
run tok_list_json users token list -u ann -o json
check "token list -u ann -o json: ann's token, its prefix, nothing more" jq_ok "$tmp/tok_list_json.out" "(length == 1) and (.[0].username == \"ann\") and (.[0].prefix == \"${tok1:0:8}\") and (.[0].revoked_at == null) and (.[0] | keys == [\"created_at\", \"expires_at\", \"id\", \"last_used_at\", \"prefix\", \"revoked_at\", \"username\"])"
no_token_in_lists() { ! grep -qF -e "${tok1:8}" -e "${tok2:8}" "$tmp"/tok_list*.out; }
check "no list shows a token" no_token_in_lists
run tok_badexp users token create -u ann --expires-in 3 days
check_eq "a bad --expires-in is a usage error" 2 "$rc"
run tok_badexp2 users token create -u ann --expires-in 10x
check_eq "an unknown unit is a usage error" 2 "$rc"
run tok_nouser users token create -u nobody
check_eq "token create for an unknown user exits 1" 1 "$rc"
run tok_list_nouser users token list -u nobody
check_eq "token list of an unknown user exits 1" 1 "$rc"
tok2_id=$(q "select id from api_token where prefix = '${tok2:0:8}'")
run tok_rev_wrong users token revoke --id "$tok2_id" -u ann
check_eq "revoking another user's token exits 1" 1 "$rc"
run tok_rev users token revoke --id "$tok2_id"
check_eq "token revoke exits 0" 0 "$rc"
check_eq "it is revoked" "t" "$(q "select revoked_at is not null from api_token where id = $tok2_id")"
run tok_rev_none users token revoke --id 999999
check_eq "revoking an unknown token exits 1" 1 "$rc"
check "naming it" grep -q 'token 999999 does not exist' "$tmp/tok_rev_none.err.out"

# --- delete -------------------------------------------------------------------------------
run del users delete -u bob
check_eq "users delete exits 0" 0 "$rc"
check_eq "it says so" 'User "bob" deleted' "$(out del)"
check_eq "bob and his token are gone" "0 0" "$(q "select (select count(*) from ab_user where username = 'bob') || ' ' || (select count(*) from api_token where id = $tok2_id)")"
run del_again users delete --username bob
check_eq "deleting an unknown user exits 1" 1 "$rc"
check "naming the user" grep -q 'user "bob" does not exist' "$tmp/del_again.err.out"

# --- the event log of the CLI -----------------------------------------------------------------
"$U" variables set greeting 'Var-s3cret-value' >"$tmp/var.out" 2>&1
"$U" pools set st_pool 3 'a pool' >"$tmp/pool.out" 2>&1
"$U" dags pause no_such_dag >"$tmp/pause.out" 2>&1
me=$(id -un)
ntina=0; command -v script >/dev/null && ntina=1
check_eq "users create wrote cli_users_create, once per user created" $((3 + ntina)) "$(events cli_users_create)"
check_eq "users delete once per user deleted" $((1 + ntina)) "$(events cli_users_delete)"
for ev in cli_users_add_role cli_users_remove_role cli_users_token_revoke cli_variables_set cli_pools_set; do
  check_eq "$ev was written once" 1 "$(events "$ev")"
done
check_eq "reset-password twice" 2 "$(events cli_users_reset_password)"
check_eq "token create twice" 2 "$(events cli_users_token_create)"
check_eq "failed commands write nothing" 0 "$(q "select count(*) from event_log where event in ('cli_dags_pause') or extra like '%Boss%' or extra like '%nobody%'")"
check_eq "reads write nothing" 0 "$(q "select count(*) from event_log where event like '%list%'")"
check_eq "the owner is the OS user, no address" "$me" "$(q "select distinct owner from event_log where address is null")"
check_eq "the command line is kept with its values masked" \
  "updraft users create --username ann --firstname *** --lastname *** --email *** --role Admin --password ***" \
  "$(q "select extra from event_log where event = 'cli_users_create' order by id limit 1")"
check_eq "a variable's value is masked, its key shown" "updraft variables set greeting ***" \
  "$(q "select extra from event_log where event = 'cli_variables_set'")"
q "select * from event_log" >"$tmp/event_log.dump"
secrets=("$PW_ANN" "$PW_TTY" "$bob_pw" "$PW_CAROL" "$PW_CAROL2" "$carol_pw" "Dup-pw-9" "Var-s3cret-value" "${tok1:8}" "${tok2:8}")
no_secret_in() { # FILE...: none of the secrets occurs
  local s
  for s in "${secrets[@]}"; do grep -qF -- "$s" "$@" && { echo "# found a secret in $*"; return 1; }; done
  return 0
}
check "no password or token in the event log" no_secret_in "$tmp/event_log.dump"
check "no password or token in any error output" no_secret_in "$tmp"/*.err.out

# A failed audit write: a warning, not a failure.
q "alter table event_log rename to event_log_away"
run audit_fail variables set other_key 'x'
check_eq "a command whose event log write fails still exits 0" 0 "$rc"
check "and warns on stderr" grep -q 'warning: the event log was not written' "$tmp/audit_fail.err.out"
q "alter table event_log_away rename to event_log"

# --- standalone's admin -----------------------------------------------------------------------------
source deploy/standalone-admin.sh
mkdir -p "$tmp/sa"
line1=$(standalone_admin "$BIN" "$tmp/sa" 2>"$tmp/sa1.err.out")
check_eq "standalone creates admin" 0 $?
admin_pw=$(sed -n 's/^Login with username: admin  password: //p' <<<"$line1")
check "and prints its login" test -n "$admin_pw"
check_eq "the password file is mode 600" 600 "$(stat -c %a "$tmp/sa/standalone_admin_password.txt")"
check_eq "it holds the password" "$admin_pw" "$(cat "$tmp/sa/standalone_admin_password.txt")"
check "the password works" pw_ok admin "$admin_pw"
check_eq "admin is an Admin" "{Admin}" "$(q "select roles from ab_user where username = 'admin'")"
line2=$(standalone_admin "$BIN" "$tmp/sa" 2>/dev/null)
check_eq "the next start prints the same login from the file" "$line1" "$line2"
check_eq "and creates no second admin" 1 "$(q "select count(*) from ab_user where username = 'admin'")"
rm "$tmp/sa/standalone_admin_password.txt"
check "without the file it says how to set a password" bash -c "source deploy/standalone-admin.sh; standalone_admin '$BIN' '$tmp/sa' | grep -q 'reset-password -u admin'"
secrets+=("$admin_pw")
q "select * from event_log" >"$tmp/event_log.dump"
check "no admin password in the event log" no_secret_in "$tmp/event_log.dump"

# --- the store, on this database -------------------------------------------------------------------
prog=$O/tests/test_users_store
[ -x "$prog" ] || make --no-print-directory -s "$prog" >/dev/null 2>&1 || true
if [ ! -x "$prog" ]; then
  not_ok "test program $prog is built"
else
  UPDRAFT_TEST_PG_URL=$UPDRAFT__DATABASE__URL timeout 120 "$prog" >"$tmp/store.log" 2>&1
  prc=$?
  while IFS= read -r line; do
    case "$line" in
      "[       OK ] "*) ok "store: ${line#\[       OK \] }" ;;
      "[  FAILED  ] test_"*) not_ok "store: ${line#\[  FAILED  \] }" ;;
      "[  SKIPPED ] test_"*) not_ok "store: ${line#\[  SKIPPED \] } (skipped)" ;;
    esac
  done < <(grep -E '^\[ +(OK|FAILED|SKIPPED) +\] test_' "$tmp/store.log" | sort -u)
  check_eq "test_users_store exit status" 0 "$prc"
fi

no_sanitizer_reports() { ! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp"/*.out "$tmp"/*.log 2>/dev/null; }
check "no sanitizer reports" no_sanitizer_reports
[ "$T_FAILED" -eq 0 ]
