/*
 * envname.h - names of environment variables: which ones are updraft's own
 * (its settings and the secrets it is given), and lists of names an
 * operator allows (core.dag_env_allowlist, what $NAME in a DAG file may
 * read).
 *
 * updraft's own are every UPDRAFT_* name (UPDRAFT__SECTION__KEY settings
 * such as the fernet key and the database URL, UPDRAFT_CONN_* and
 * UPDRAFT_VAR_* connections and variables, UPDRAFT_CONFIG), Airflow's
 * equivalents (AIRFLOW__*, AIRFLOW_CONN_*, AIRFLOW_VAR_*, AIRFLOW_CONFIG),
 * libpq's PG* (PGPASSWORD, PGHOST, ...), REDISCLI_AUTH, and the service
 * manager's NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (a task must not
 * speak for the worker to systemd: core/notify.h). Names are
 * case-sensitive, as the environment is. A DAG file's $NAME never reads
 * them (dag_load) and a task never inherits them from the worker
 * (taskenv).
 */
#ifndef UPDRAFT_CORE_ENVNAME_H
#define UPDRAFT_CORE_ENVNAME_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the len bytes at name are one of updraft's own names (above). */
bool envname_reserved(const char *name, size_t len);

/*
 * The part of those that carries settings or secrets: UPDRAFT__*,
 * UPDRAFT_CONN_*, UPDRAFT_VAR_*, UPDRAFT_CONFIG and Airflow's, PG*,
 * REDISCLI_AUTH. The other UPDRAFT_* names are what a task is given at
 * run time (UPDRAFT_RUN_ID, UPDRAFT_XCOM_FILE, ...).
 */
bool envname_secret(const char *name, size_t len);

/*
 * Whether list is a valid allow-list: "" or items between commas (spaces
 * around them ignored), each a name of letters, digits and '_', or such a
 * prefix followed by '*' ("DAG_*"); a lone "*" is refused.
 */
bool envname_list_valid(const char *list);

/*
 * Whether the len bytes at name are allowed by list (as above; NULL
 * allows nothing): equal to an item, or starting with an item's prefix.
 * Says nothing about envname_reserved, which callers check first.
 */
bool envname_listed(const char *list, const char *name, size_t len);

#endif
