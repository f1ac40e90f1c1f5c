/*
 * pools.h - Airflow's pools (table slot_pool) and the one statement pair
 * that moves 'scheduled' task instances to 'queued' within every limit:
 * the DAG's max_active_tasks, each task's max_active_tis_per_dag and
 * max_active_tis_per_dagrun, and its pool's slots. The scheduler's
 * critical section and the workers' mini-scheduler both queue through
 * pools_queue_scheduled, so they enforce the same limits under the same
 * locks.
 */
#ifndef UPDRAFT_POOLS_H
#define UPDRAFT_POOLS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"

#define POOLS_NAME_MAX 256
#define POOLS_DEFAULT "default_pool"

/*
 * Inside the caller's transaction, whose DAG advisory locks
 * (LOCK_DAG_CLASS) are held for every DAG in dags_arr (a text[]
 * literal): takes up to max 'scheduled' task instances of those DAGs (and
 * of ids_arr, a bigint[] literal, when not NULL) by priority_weight DESC,
 * id, tries the advisory locks of their pools in a statement of its own
 * (a pool held by another planner waits for the next pass), and queues
 * (try_number + 1) those within every limit, in one statement. A task
 * whose pool does not exist stays scheduled, with a warning. Returns the
 * rows queued (id, try_number, queue), or NULL on a database error (or out
 * of memory). *n_starving (when not NULL): candidates left scheduled for
 * lack of pool slots (Airflow's scheduler.tasks.starving), from the same
 * statement.
 */
PGresult *pools_queue_scheduled(db_t *db, const char *dags_arr, const char *ids_arr, int max,
                                size_t *n_starving);

/* Whether name is a valid pool name (1-256 bytes, no control characters). */
bool pools_name_valid(const char *name);

/*
 * The pools as Airflow's REST API shows them (name, slots, description,
 * include_deferred, occupied/running/queued/scheduled/deferred/open_slots),
 * by name, with limit/offset; *total: how many exist. *out is a JSON
 * array (caller frees). Returns 0, UPDRAFT_EDB or UPDRAFT_ENOMEM.
 */
int pools_list(db_t *db, long limit, long offset, cJSON **out, long *total);

/* One pool, as pools_list shows it: 0, UPDRAFT_ENOTFOUND, UPDRAFT_EDB or UPDRAFT_ENOMEM. */
int pools_get(db_t *db, const char *name, cJSON **out);

/*
 * Creates or updates a pool. description NULL keeps the current one (""
 * for a new pool); include_deferred -1 keeps it (false for a new pool).
 * create_only: UPDRAFT_EEXISTS when it exists already. Returns 0, or
 * UPDRAFT_EEXISTS, UPDRAFT_EINVALID (name or slots) or UPDRAFT_EDB, with err.
 */
int pools_set(db_t *db, const char *name, int slots, const char *description, int include_deferred,
              bool create_only, char *err, size_t errlen);

/*
 * Deletes a pool: 0, UPDRAFT_ENOTFOUND, UPDRAFT_EINVALID for default_pool
 * (never deleted), UPDRAFT_EDB.
 */
int pools_delete(db_t *db, const char *name);

#endif
