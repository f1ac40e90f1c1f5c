# The admin user of `updraft standalone`, as `airflow standalone` makes
# its own: created once, with role Admin and a random password that is
# kept in DIR/standalone_admin_password.txt (mode 0600, readable only by
# whoever runs standalone), then the login is shown at every start.
#
#   standalone_admin BIN DIR   creates admin when it does not exist; prints
#                              "Login with username: admin  password: ..."
#                              (or how to set a password when the file is gone)
#
# The password reaches `updraft users create` on stdin, never on its
# command line (which every local user can read through ps).
standalone_admin() {
  local bin=$1 dir=$2
  local file=$dir/standalone_admin_password.txt users pw
  users=$("$bin/updraft" users list -o plain) || return 1
  if ! awk -F'\t' '$1 == "admin" { found = 1 } END { exit !found }' <<<"$users"; then
    # 24 random bytes, base64, letters and digits only, 20 of them.
    pw=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-20)
    [ "${#pw}" -eq 20 ] || { echo "standalone: cannot make a random password" >&2; return 1; }
    (umask 077 && printf '%s\n' "$pw" >"$file")
    chmod 600 "$file"
    "$bin/updraft" users create --username admin --firstname Admin --lastname User \
      --email admin@example.com --role Admin <"$file" >/dev/null || return 1
  elif [ -r "$file" ]; then
    chmod 600 "$file"
    pw=$(head -n 1 "$file")
  else
    echo "User admin exists; its password is not in $file (set one: $bin/updraft users reset-password -u admin)"
    return 0
  fi
  echo "Login with username: admin  password: $pw"
}
