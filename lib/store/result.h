/*
 * result.h - the few helpers the store modules share: a statement whose
 * rows go to the caller, a PGresult turned into caller-owned values (a
 * field copied, NULL for SQL NULL; an epoch microseconds column read as a
 * timestamp), rows turned into JSON (a timestamp as Airflow's ISO text),
 * and the (err, errlen) buffers filled for the two failures every read can
 * end with. Internal to lib/store; nothing above includes it.
 */
#ifndef UPDRAFT_STORE_RESULT_H
#define UPDRAFT_STORE_RESULT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/db.h"
#include "core/timeutil.h"

/* An epoch-microseconds bigint column of a statement's select list. */
#define STORE_US_COL(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/*
 * Runs a statement whose rows go to the caller: 0 with *out (the caller
 * PQclear()s it), or UPDRAFT_EDB.
 */
int store_query_rows(db_t *db, const char *name, const char *sql, int nparams,
                     const char *const *params, PGresult **out);

/* Fills err with db_error(db) and returns UPDRAFT_EDB. */
int store_db_failed(db_t *db, char *err, size_t errlen);

/* Fills err with "out of memory" and returns UPDRAFT_ENOMEM. */
int store_out_of_memory(char *err, size_t errlen);

/* A malloc'd copy of field (row, col), NULL for SQL NULL; *oom set when the copy fails. */
char *store_dup_field(const PGresult *r, int row, int col, bool *oom);

/* Field (row, col), epoch microseconds, as a timestamp; TS_NONE for SQL NULL. */
ts_us_t store_get_ts(const PGresult *r, int row, int col);

/* Copies field text src (NULL: "") into dst[0..len), truncated, NUL-terminated. */
void store_copy_str(char *dst, size_t len, const char *src);

/* Adds t to o as name: ISO 8601 text (ts_format_iso), null for TS_NONE. False when out of memory.
 */
bool store_json_add_ts(cJSON *o, const char *name, ts_us_t t);

/* A JSON array of row(r, i) for every row of r; NULL when out of memory (row's NULL included). */
cJSON *store_json_rows(const PGresult *r, cJSON *(*row)(const PGresult *r, int i));

#endif
