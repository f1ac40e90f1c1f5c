/*
 * dbclean.h - purging old rows of the metadata database, as Airflow's
 * `airflow db clean` (cli/cmd_dbclean.c is the command), and dropping the
 * archive tables the purge leaves.
 *
 * Each cleanable table has a recency column (task_instance: start_date,
 * dag_run: start_date, xcom: timestamp, ...) and rows older than a
 * timestamp go, except what the system still needs: nothing of a live run
 * (queued or running) or a live task instance, and the latest run of each
 * DAG that was not triggered from outside (as Airflow keeps it). Rows go in
 * batches, each its own short transaction (one statement), walking the
 * table by its key, so that no lock is held for long and a batch that would
 * wait more than DBCLEAN_LOCK_TIMEOUT for a row lock fails instead of
 * queueing the scheduler behind it. Deleted rows are first copied into an
 * archive table _updraft_deleted__<table>__<YYYYMMDDHHMMSS> in the same
 * statement, unless the caller skips archiving.
 *
 * Rows that reference a deleted row go with it through the schema's ON
 * DELETE CASCADE (a run's task instances, XComs and logs); they are not
 * archived, as in Airflow. Cleaning the child tables first (the order of
 * dbclean_table_name) keeps those cascades small.
 */
#ifndef UPDRAFT_STORE_DBCLEAN_H
#define UPDRAFT_STORE_DBCLEAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"

/* The rows one batch deletes by default, and the largest batch allowed. */
#define DBCLEAN_DEFAULT_BATCH 5000
#define DBCLEAN_MAX_BATCH 100000
/* How long one batch waits for a row lock before giving up. */
#define DBCLEAN_LOCK_TIMEOUT "5s"
/* Archive tables are named DBCLEAN_ARCHIVE_PREFIX TABLE "__" YYYYMMDDHHMMSS. */
#define DBCLEAN_ARCHIVE_PREFIX "_updraft_deleted__"
/* Room for an archive table's name (Postgres identifiers are at most 63 bytes). */
#define DBCLEAN_NAME_MAX 64

/* How many tables can be cleaned; their names in cleaning order (children first). */
size_t dbclean_table_count(void);
const char *dbclean_table_name(size_t i);
/* The index of the table called name, or -1. */
int dbclean_find_table(const char *name);

/*
 * The rows of table i that a clean before `before` (a timestamp Postgres
 * reads, with its offset) would delete, in *count. 0 or UPDRAFT_EDB.
 */
int dbclean_count(db_t *db, size_t i, const char *before, long *count);

/*
 * Creates the archive table of table i (same columns, no rows, no
 * indexes) named for stamp (14 digits, YYYYMMDDHHMMSS) unless it exists,
 * and writes its name into archive (DBCLEAN_NAME_MAX bytes). 0,
 * UPDRAFT_EINVALID (stamp is not 14 digits) or UPDRAFT_EDB.
 */
int dbclean_archive_create(db_t *db, size_t i, const char *stamp, char *archive);

/*
 * One batch: deletes at most batch rows of table i older than before whose
 * key (id; ti_id for rendered_task_instance_fields) is above *last_id, copying them into archive
 * first unless archive is NULL, in one transaction. *last_id moves past the rows looked at,
 * *deleted is how many went, *more is false once no row was left to look
 * at. Returns 0, UPDRAFT_ECONFLICT (a row lock was held longer than
 * DBCLEAN_LOCK_TIMEOUT: nothing of this batch was deleted, the batch may
 * be run again) or UPDRAFT_EDB.
 */
int dbclean_batch(db_t *db, size_t i, const char *before, const char *archive, int batch,
                  int64_t *last_id, long *deleted, bool *more);

/*
 * The archive tables there are, of the tables named in only (NULL: all),
 * in *names (a malloc'd array of malloc'd names, *n of them; free with
 * dbclean_names_free). 0, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int dbclean_list_archives(db_t *db, const char *const *only, size_t nonly, char ***names,
                          size_t *n);
void dbclean_names_free(char **names, size_t n);

/*
 * Drops archive table name (one that dbclean_list_archives returned).
 * 0, UPDRAFT_EINVALID (not an archive table's name) or UPDRAFT_EDB.
 */
int dbclean_drop_archive(db_t *db, const char *name);

#endif
