# Test harness entry point: the same private Postgres/Redis helpers that
# standalone mode uses (deploy/services.sh).
# shellcheck source=../../deploy/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/services.sh"
