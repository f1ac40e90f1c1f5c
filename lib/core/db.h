/*
 * db.h - Postgres access for every updraft component.
 *
 * One db_t per thread (libpq connections are not shared). Statements are
 * parameterized only; named statements are prepared once per connection
 * and re-prepared after a reconnect. A lost connection is re-established
 * with capped, jittered backoff by db_ensure(); callers treat a NULL result
 * as "this attempt failed", roll back their unit of work and retry later.
 *
 * Behind a transaction-mode pooler (PgBouncer pool_mode=transaction) each
 * transaction, or each statement outside one, may run on another server
 * connection, so nothing may outlive it on the server: a pooled db_t runs
 * every statement unnamed (PQexecParams: parse, bind and execute in one
 * message sequence) and LISTENs over a second, direct connection to
 * Postgres that it opens on the first db_listen(). SET LOCAL, advisory
 * transaction locks and cursors inside a transaction are fine either way.
 */
#ifndef UPDRAFT_DB_H
#define UPDRAFT_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backoff.h"

typedef struct db db_t;

/*
 * Where a db_t connects (config: database.url, database.pooler,
 * database.direct_url). The strings are libpq keyword strings or
 * postgresql:// URIs.
 */
typedef struct db_target {
    char *url;        /* statements go here: Postgres, or a pooler */
    bool pooled;      /* url is a transaction-mode pooler */
    char *direct_url; /* pooled: Postgres itself, for LISTEN; NULL or "": none */
} db_target_t;

/* Copies src's strings into dst (dst's own, freed by db_target_clear). 0 or -1 (no memory). */
int db_target_copy(db_target_t *dst, const db_target_t *src);
void db_target_clear(db_target_t *t);

/*
 * Connects to t (copied). Makes one attempt; returns NULL and fills err on
 * failure. A pooled target's direct connection is opened by db_listen().
 */
db_t *db_open(const db_target_t *t, char *err, size_t errlen);
/* db_open retried as db_connect_retry() retries. */
db_t *db_open_retry(const db_target_t *t, backoff_t *b, volatile const bool *stop, char *err,
                    size_t errlen);
/* Whether db runs through a transaction-mode pooler. */
bool db_pooled(const db_t *db);

/*
 * Connects to conninfo, directly (db_open with a target that is not
 * pooled). Makes one attempt; returns NULL and fills err on failure. The
 * string is copied.
 */
db_t *db_connect(const char *conninfo, char *err, size_t errlen);
/*
 * Connects, retrying with the backoff b (backoff.h: its budget, and its nap
 * for a caller that must wake on its own events) until it succeeds, the
 * budget is used up, a nap gives up or *stop (may be NULL) is set; each
 * failed attempt is logged. NULL with the last error in err.
 */
db_t *db_connect_retry(const char *conninfo, backoff_t *b, volatile const bool *stop, char *err,
                       size_t errlen);
void db_close(db_t *db);

/*
 * Makes sure the connection is up, reconnecting if it is not. Waits between
 * attempts (100 ms doubling to 5 s, jittered) up to max_wait_ms in total;
 * max_wait_ms < 0 waits for as long as it takes unless *stop becomes true.
 * Returns 0 when connected, -1 otherwise. LISTENs are re-issued.
 */
int db_ensure(db_t *db, int max_wait_ms, volatile const bool *stop);
bool db_ok(const db_t *db);
PGconn *db_pg(db_t *db);

/*
 * Runs one statement. name non-NULL: prepared once per connection under that
 * name (same name, same sql, always; the name is copied; at most 512 names
 * per connection, further ones run unprepared). Returns the result (caller PQclear()s)
 * when the status is COMMAND_OK or TUPLES_OK; otherwise logs, remembers the
 * message for db_error() and returns NULL. params may hold NULLs (SQL NULL).
 */
PGresult *db_query(db_t *db, const char *name, const char *sql, int nparams,
                   const char *const *params);
/*
 * db_query with every result column in Postgres's binary format (int8 as 8
 * bytes in network order, timestamptz as int8 microseconds since
 * 2000-01-01, text as its bytes): for large results, where formatting and
 * parsing numbers as text costs more than the rest.
 */
PGresult *db_query_binary(db_t *db, const char *name, const char *sql, int nparams,
                          const char *const *params);
/* db_query for statements without rows; returns rows affected, or -1. */
long db_exec(db_t *db, const char *name, const char *sql, int nparams, const char *const *params);
/* Simple statements with no parameters (BEGIN, COMMIT, LISTEN x). 0 or -1. */
int db_simple(db_t *db, const char *sql);
int db_begin(db_t *db);
int db_commit(db_t *db);
void db_rollback(db_t *db);
/* SQLSTATE of the last failure ("" if none), and its message. */
const char *db_sqlstate(const db_t *db);
const char *db_error(const db_t *db);

/*
 * LISTEN on channel (remembered and re-issued after reconnects). Pooled:
 * on the direct connection, opened on the first call; -1 when the target
 * has no direct_url.
 */
int db_listen(db_t *db, const char *channel);
/* The socket to poll for notifications (pooled: the direct connection's), -1 when disconnected. */
int db_socket(db_t *db);
/*
 * Reads pending input and calls cb(payload, arg) for each notification
 * received since the last call (cb may be NULL). Returns how many arrived,
 * -1 when the connection broke.
 */
typedef void (*db_notify_fn)(const char *payload, void *arg);
int db_drain_notifies(db_t *db, db_notify_fn cb, void *arg);

/* Helpers for result fields. */
int64_t db_get_i64(const PGresult *r, int row, int col);
int db_get_int(const PGresult *r, int row, int col);
bool db_get_bool(const PGresult *r, int row, int col);
/* NULL when the field is SQL NULL. */
const char *db_get_str(const PGresult *r, int row, int col);

/*
 * Schema: applies the embedded migrations that are not yet applied, each in
 * its own transaction, serialized by an advisory transaction lock (so it
 * works through a pooler too). Returns 0 or -1.
 */
int db_migrate(db_t *db, int *applied);
/* 0 if the database is at the version this binary expects; -1 otherwise (err says why). */
int db_check_schema(db_t *db, char *err, size_t errlen);

#endif
