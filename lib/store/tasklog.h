/*
 * tasklog.h - reading the output of task tries back from task_log, for the
 * REST API's log endpoint and the commands that print a try's log (`dags
 * test`).
 *
 * The worker (worker/reporter.c) and the reaper append rows; a try's log is
 * the concatenation of its rows in id order. Readers page through it by
 * row id, so a client that holds the id of the last row it has can ask for
 * what came after without the server keeping any state.
 */
#ifndef UPDRAFT_STORE_TASKLOG_H
#define UPDRAFT_STORE_TASKLOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/db.h"

/*
 * The row id of the task instance (dag_id, run_id, task_id, map_index) in
 * *ti_id. Returns 0, UPDRAFT_ENOTFOUND when there is no such task instance,
 * or UPDRAFT_EDB.
 */
int tasklog_find_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                    int64_t map_index, int64_t *ti_id);

/*
 * The log of try try_number of task instance ti_id after row *last_id, up
 * to max_bytes: whole rows only, but always at least one row when there is
 * one (a row longer than max_bytes comes alone). *content is malloc'd and
 * NUL-terminated ("" when nothing is new; the caller frees it), *len its
 * length; *last_id moves to the last row read (unchanged when none).
 * Returns 0, UPDRAFT_EDB or UPDRAFT_ENOMEM (then *content is NULL).
 */
int tasklog_read(db_t *db, int64_t ti_id, int64_t try_number, size_t max_bytes, int64_t *last_id,
                 char **content, size_t *len);

/*
 * Calls each(chunk, ud) for every row of the log of try try_number of task
 * instance ti_id, in id order, each row as it was written (a chunk need
 * not end with a newline). Returns 0 or UPDRAFT_EDB (the chunks before the
 * failure were handed over).
 */
int tasklog_each(db_t *db, int64_t ti_id, int64_t try_number,
                 void (*each)(const char *chunk, void *ud), void *ud);

/* The oldest rows one retention statement looks at (and deletes at most). */
#define TASKLOG_PRUNE_BATCH 5000

/*
 * Retention (logging.retention_days): deletes log rows written more than
 * days ago, oldest first, in statements of at most TASKLOG_PRUNE_BATCH rows
 * (each its own transaction), at most max_batches of them; it stops early
 * once a statement finds fewer old rows than that. The cost of a call is
 * bounded by max_batches, not by the table's size. *deleted: rows deleted
 * (also when a later statement failed). Returns 0 or UPDRAFT_EDB.
 */
int tasklog_prune(db_t *db, int days, int max_batches, long *deleted);

#endif
