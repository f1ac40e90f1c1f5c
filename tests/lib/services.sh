# Test harness entry point: the same private Postgres/Redis helpers that
# standalone mode uses (deploy/services.sh).
# shellcheck source=../../deploy/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/services.sh"

# The tests run as root in CI containers, and their tasks write into $tmp
# and read fixtures as root: a worker started by a test runs tasks that
# name no run_as_user as root, which updraft-worker refuses unless told
# (worker.allow_root_tasks, docs/security.md "Task isolation and secrets").
# A test about task isolation sets the key itself.
if [ "$(id -u)" -eq 0 ]; then
  export UPDRAFT__WORKER__ALLOW_ROOT_TASKS=${UPDRAFT__WORKER__ALLOW_ROOT_TASKS:-true}
fi
