/*
 * db.c - see db.h.
 *
 * A db_t owns one PGconn, the names of the statements prepared on it, and
 * the channels it LISTENs on. Prepared statements and LISTENs belong to a
 * server session, so both are forgotten / re-issued on reconnect. Errors are
 * logged once, with the SQLSTATE, never with parameters (they may hold
 * secrets).
 *
 * A pooled db_t (db.h) prepares nothing: PQexecParams sends parse, bind
 * and execute of the unnamed statement before one sync, which a
 * transaction-mode pooler keeps on one server connection. Its LISTENs live
 * on a second PGconn to direct_url, opened by the first db_listen() and
 * re-opened by db_ensure(); its socket is the one db_socket() returns. The
 * session's time zone (SET TIME ZONE at connect) is a parameter PgBouncer
 * tracks per client and sets again on whichever server connection it lends.
 */
#include "core/db.h"
#include "core/pgarray.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "core/log.h"
#include "proto/migrate.h"

#define DB_MAX_PREPARED 512
#define DB_MAX_LISTEN 8
#define DB_ERR_LEN 512
/* Advisory lock key that serializes migrations: "updraft" in ASCII. */
#define DB_MIGRATE_LOCK "7598755685212532"

struct db {
    PGconn *pg;
    char *conninfo;
    bool pooled;
    char *direct;                    /* pooled: conninfo of the LISTEN connection, NULL: none */
    PGconn *lpg;                     /* pooled: the LISTEN connection, once db_listen() opened it */
    char *prepared[DB_MAX_PREPARED]; /* names of statements prepared on this connection */
    int nprepared;
    char *listen[DB_MAX_LISTEN];
    int nlisten;
    char sqlstate[6];
    char error[DB_ERR_LEN];
};

static void set_error(db_t *db, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg)
        msg = db->pg ? PQerrorMessage(db->pg) : "not connected";
    snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
    snprintf(db->error, sizeof(db->error), "%s", msg);
    size_t n = strlen(db->error);
    while (n > 0 && (db->error[n - 1] == '\n' || db->error[n - 1] == ' '))
        db->error[--n] = '\0';
    /* One event, one log line: libpq's messages span lines. */
    for (char *p = db->error; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

static PGconn *open_conn(const char *conninfo, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (!pg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(pg));
        size_t n = strlen(err);
        while (n > 0 && err[n - 1] == '\n')
            err[--n] = '\0';
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        PQfinish(pg);
        return NULL;
    }
    /* All timestamps are exchanged in UTC. */
    PGresult *r = PQexec(pg, "SET TIME ZONE 'UTC'");
    PQclear(r);
    return pg;
}

int db_target_copy(db_target_t *dst, const db_target_t *src)
{
    dst->pooled = src->pooled;
    dst->url = strdup(src->url ? src->url : "");
    dst->direct_url = src->direct_url ? strdup(src->direct_url) : NULL;
    if (!dst->url || (src->direct_url && !dst->direct_url)) {
        db_target_clear(dst);
        return -1;
    }
    return 0;
}

void db_target_clear(db_target_t *t)
{
    if (!t)
        return;
    free(t->url);
    free(t->direct_url);
    t->url = t->direct_url = NULL;
}

db_t *db_open(const db_target_t *t, char *err, size_t errlen)
{
    db_t *db = calloc(1, sizeof(*db));
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->pooled = t->pooled;
    db->conninfo = strdup(t->url ? t->url : "");
    if (t->pooled && t->direct_url && t->direct_url[0])
        db->direct = strdup(t->direct_url);
    if (!db->conninfo || (t->pooled && t->direct_url && t->direct_url[0] && !db->direct)) {
        db_close(db);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->pg = open_conn(db->conninfo, err, errlen);
    if (!db->pg) {
        db_close(db);
        return NULL;
    }
    return db;
}

db_t *db_connect(const char *conninfo, char *err, size_t errlen)
{
    db_target_t t = {.url = (char *)conninfo};
    return db_open(&t, err, errlen);
}

bool db_pooled(const db_t *db)
{
    return db->pooled;
}

/* Prepared statements live in the server session: forget them with it. */
static void forget_prepared(db_t *db)
{
    for (int i = 0; i < db->nprepared; i++)
        free(db->prepared[i]);
    db->nprepared = 0;
}

void db_close(db_t *db)
{
    if (!db)
        return;
    forget_prepared(db);
    if (db->pg)
        PQfinish(db->pg);
    if (db->lpg)
        PQfinish(db->lpg);
    for (int i = 0; i < db->nlisten; i++)
        free(db->listen[i]);
    free(db->conninfo);
    free(db->direct);
    free(db);
}

static bool conn_ok(const PGconn *pg)
{
    return pg && PQstatus(pg) == CONNECTION_OK;
}

/* Where notifications arrive: the direct connection of a pooled db_t. */
static PGconn *notify_conn(const db_t *db)
{
    return db->pooled ? db->lpg : db->pg;
}

bool db_ok(const db_t *db)
{
    return db && conn_ok(db->pg) && (!db->pooled || db->nlisten == 0 || conn_ok(db->lpg));
}

PGconn *db_pg(db_t *db)
{
    return db->pg;
}

/* Issues every remembered LISTEN on pg; 0 or -1 (db's error set). */
static int relisten(db_t *db, PGconn *pg)
{
    for (int i = 0; i < db->nlisten; i++) {
        char *ident = PQescapeIdentifier(pg, db->listen[i], strlen(db->listen[i]));
        if (!ident)
            return -1;
        char sql[256];
        snprintf(sql, sizeof(sql), "LISTEN %s", ident);
        PQfreemem(ident);
        PGresult *r = PQexec(pg, sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            set_error(db, r);
        PQclear(r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Opens the direct connection of a pooled db_t and LISTENs there. 0 or -1 (db's error set). */
static int open_listener(db_t *db)
{
    char err[DB_ERR_LEN];
    if (db->lpg)
        PQfinish(db->lpg);
    db->lpg = NULL;
    if (!db->direct) {
        snprintf(db->error, sizeof(db->error),
                 "LISTEN needs database.direct_url behind a transaction pooler");
        return -1;
    }
    db->lpg = open_conn(db->direct, err, sizeof(err));
    if (!db->lpg) {
        snprintf(db->error, sizeof(db->error), "%s", err);
        return -1;
    }
    if (relisten(db, db->lpg) != 0) {
        PQfinish(db->lpg);
        db->lpg = NULL;
        return -1;
    }
    return 0;
}

db_t *db_connect_retry(const char *conninfo, backoff_t *b, volatile const bool *stop, char *err,
                       size_t errlen)
{
    db_target_t t = {.url = (char *)conninfo};
    return db_open_retry(&t, b, stop, err, errlen);
}

db_t *db_open_retry(const db_target_t *t, backoff_t *b, volatile const bool *stop, char *err,
                    size_t errlen)
{
    for (;;) {
        db_t *db = db_open(t, err, errlen);
        if (db)
            return db;
        log_warn("database unreachable, retrying in %d ms error=\"%s\"", backoff_next_ms(b), err);
        if (!backoff_wait(b, stop))
            return NULL;
    }
}

int db_ensure(db_t *db, int max_wait_ms, volatile const bool *stop)
{
    if (db_ok(db))
        return 0;
    backoff_t b;
    backoff_init(&b, max_wait_ms);
    for (;;) {
        if (!conn_ok(db->pg)) {
            if (db->pg)
                PQfinish(db->pg);
            forget_prepared(db);
            char err[DB_ERR_LEN];
            db->pg = open_conn(db->conninfo, err, sizeof(err));
            if (!db->pg)
                snprintf(db->error, sizeof(db->error), "%s", err);
            else if (!db->pooled && relisten(db, db->pg) != 0) {
                PQfinish(db->pg);
                db->pg = NULL;
            }
        }
        if (db->pg && db->pooled && db->nlisten > 0 && !conn_ok(db->lpg))
            open_listener(db);
        if (db_ok(db)) {
            log_info("database connection established");
            return 0;
        }
        log_warn("database unreachable, retrying in %d ms error=\"%s\"", backoff_next_ms(&b),
                 db->error);
        if (!backoff_wait(&b, stop))
            return -1;
    }
}

static bool is_prepared(const db_t *db, const char *name)
{
    for (int i = 0; i < db->nprepared; i++)
        if (!strcmp(db->prepared[i], name))
            return true;
    return false;
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* db_query with its results in result_format (0: text, 1: binary). */
static PGresult *run_query(db_t *db, const char *name, const char *sql, int nparams,
                           const char *const *params, int result_format)
{
    PGresult *r;
    db->sqlstate[0] = '\0';
    db->error[0] = '\0';
    if (!db->pg) {
        snprintf(db->error, sizeof(db->error), "not connected");
        return NULL;
    }
    if (name && !db->pooled && db->nprepared < DB_MAX_PREPARED) {
        if (!is_prepared(db, name)) {
            r = PQprepare(db->pg, name, sql, nparams, NULL);
            if (!result_ok(r)) {
                set_error(db, r);
                log_error("prepare failed statement=%s sqlstate=%s error=\"%s\"", name,
                          db->sqlstate, db->error);
                PQclear(r);
                return NULL;
            }
            PQclear(r);
            char *copy = strdup(name);
            if (copy)
                db->prepared[db->nprepared++] = copy;
        }
        r = PQexecPrepared(db->pg, name, nparams, params, NULL, NULL, result_format);
    } else {
        r = PQexecParams(db->pg, sql, nparams, NULL, params, NULL, NULL, result_format);
    }
    if (!r || !result_ok(r)) {
        set_error(db, r);
        /* Constraint violations are answers callers handle, not faults. */
        if (strncmp(db->sqlstate, "23", 2) != 0 && strcmp(db->sqlstate, "55P03") != 0)
            log_warn("query failed statement=%s sqlstate=%s error=\"%s\"", name ? name : "-",
                     db->sqlstate, db->error);
        PQclear(r);
        return NULL;
    }
    return r;
}

PGresult *db_query(db_t *db, const char *name, const char *sql, int nparams,
                   const char *const *params)
{
    return run_query(db, name, sql, nparams, params, 0);
}

PGresult *db_query_binary(db_t *db, const char *name, const char *sql, int nparams,
                          const char *const *params)
{
    return run_query(db, name, sql, nparams, params, 1);
}

long db_exec(db_t *db, const char *name, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = db_query(db, name, sql, nparams, params);
    if (!r)
        return -1;
    const char *n = PQcmdTuples(r);
    long rows = (n && *n) ? strtol(n, NULL, 10) : 0;
    PQclear(r);
    return rows;
}

int db_simple(db_t *db, const char *sql)
{
    if (!db->pg)
        return -1;
    PGresult *r = PQexec(db->pg, sql);
    if (!result_ok(r)) {
        set_error(db, r);
        log_warn("statement failed sql=\"%s\" sqlstate=%s error=\"%s\"", sql, db->sqlstate,
                 db->error);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

int db_begin(db_t *db)
{
    return db_simple(db, "BEGIN");
}
int db_commit(db_t *db)
{
    return db_simple(db, "COMMIT");
}

void db_rollback(db_t *db)
{
    if (db->pg && PQtransactionStatus(db->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(db->pg, "ROLLBACK");
        PQclear(r);
    }
}

const char *db_sqlstate(const db_t *db)
{
    return db->sqlstate;
}
const char *db_error(const db_t *db)
{
    return db->error;
}

int db_listen(db_t *db, const char *channel)
{
    for (int i = 0; i < db->nlisten; i++)
        if (!strcmp(db->listen[i], channel))
            return 0;
    if (db->nlisten >= DB_MAX_LISTEN)
        return -1;
    if (db->pooled && !db->direct) {
        snprintf(db->error, sizeof(db->error),
                 "LISTEN needs database.direct_url behind a transaction pooler");
        return -1;
    }
    db->listen[db->nlisten] = strdup(channel);
    if (!db->listen[db->nlisten])
        return -1;
    db->nlisten++;
    if (db->pooled) {
        /* The first channel opens the connection; later ones LISTEN on it. */
        if (!conn_ok(db->lpg))
            return open_listener(db);
        return relisten(db, db->lpg);
    }
    if (!db->pg)
        return -1;
    char *ident = PQescapeIdentifier(db->pg, channel, strlen(channel));
    if (!ident)
        return -1;
    char sql[256];
    snprintf(sql, sizeof(sql), "LISTEN %s", ident);
    PQfreemem(ident);
    return db_simple(db, sql);
}

int db_socket(db_t *db)
{
    PGconn *pg = notify_conn(db) ? notify_conn(db) : db->pg;
    return pg ? PQsocket(pg) : -1;
}

int db_drain_notifies(db_t *db, db_notify_fn cb, void *arg)
{
    PGconn *pg = notify_conn(db);
    if (!pg) {
        /* Pooled and not listening: nothing can arrive. */
        return db->pooled && db->nlisten == 0 && conn_ok(db->pg) ? 0 : -1;
    }
    if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
        return -1;
    int n = 0;
    PGnotify *nt;
    while ((nt = PQnotifies(pg)) != NULL) {
        if (cb)
            cb(nt->extra, arg);
        n++;
        PQfreemem(nt);
    }
    return n;
}

int64_t db_get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int db_get_int(const PGresult *r, int row, int col)
{
    return (int)db_get_i64(r, row, col);
}

bool db_get_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

const char *db_get_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Highest applied migration, 0 when none, -1 on error. */
static int schema_version(db_t *db)
{
    PGresult *r =
        db_query(db, NULL, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
    if (!r)
        return -1;
    int v = db_get_int(r, 0, 0);
    PQclear(r);
    return v;
}

/* How many of this binary's migrations the database has not recorded; -1 on error. */
static int missing_migrations(db_t *db)
{
    int *v = malloc(sizeof(int) * (size_t)(migrations_count ? migrations_count : 1));
    if (!v)
        return -1;
    for (int i = 0; i < migrations_count; i++)
        v[i] = migrations[i].version;
    char *arr = pgarray_int(v, (size_t)migrations_count);
    free(v);
    if (!arr)
        return -1;
    const char *p[] = {arr};
    PGresult *r =
        db_query(db, NULL,
                 "SELECT count(*) FROM unnest($1::int[]) k(v)"
                 " WHERE NOT EXISTS (SELECT 1 FROM schema_migrations m WHERE m.version = k.v)",
                 1, p);
    free(arr);
    if (!r)
        return -1;
    int n = db_get_int(r, 0, 0);
    PQclear(r);
    return n;
}

/* Begins a transaction that holds the migration lock (a transaction lock,
 * so it holds through a pooler and cannot outlive a broken connection). */
static int begin_locked(db_t *db)
{
    if (db_begin(db) != 0)
        return -1;
    if (db_simple(db, "SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK ")") != 0) {
        db_rollback(db);
        return -1;
    }
    return 0;
}

/* Whether migration version v is recorded: 1 yes, 0 no, -1 error. */
static int is_applied(db_t *db, int version)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", version);
    const char *pv[] = {v};
    PGresult *r = db_query(db, NULL, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, pv);
    if (!r)
        return -1;
    int done = PQntuples(r) > 0;
    PQclear(r);
    return done;
}

int db_migrate(db_t *db, int *applied)
{
    int n = 0, rc = -1;
    *applied = 0;
    /* Two concurrent CREATE TABLE IF NOT EXISTS can collide: under the lock too. */
    if (begin_locked(db) != 0)
        return -1;
    if (db_simple(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version integer PRIMARY KEY, name text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now())") != 0 ||
        db_commit(db) != 0) {
        db_rollback(db);
        return -1;
    }
    /* Every migration not yet recorded is applied, also one numbered below
     * the highest applied (branches merged in another order). Each is
     * looked for again under the lock, in the transaction that applies it. */
    for (int i = 0; i < migrations_count; i++) {
        const migration_t *m = &migrations[i];
        int done = is_applied(db, m->version);
        if (done < 0)
            goto out;
        if (done)
            continue;
        if (begin_locked(db) != 0)
            goto out;
        done = is_applied(db, m->version);
        if (done != 0) {
            if (done < 0 || db_commit(db) != 0) {
                db_rollback(db);
                goto out;
            }
            continue;
        }
        if (db_simple(db, m->sql) != 0) {
            log_error("migration failed version=%d name=%s error=\"%s\"", m->version, m->name,
                      db->error);
            db_rollback(db);
            goto out;
        }
        char ver[16];
        snprintf(ver, sizeof(ver), "%d", m->version);
        const char *params[] = {ver, m->name};
        if (db_exec(db, NULL, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                    params) != 1 ||
            db_commit(db) != 0) {
            db_rollback(db);
            goto out;
        }
        log_info("migration applied version=%d name=%s", m->version, m->name);
        n++;
    }
    rc = 0;
out:
    *applied = n;
    return rc;
}

int db_check_schema(db_t *db, char *err, size_t errlen)
{
    int want = migrations_count > 0 ? migrations[migrations_count - 1].version : 0;
    PGresult *r =
        db_query(db, NULL, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL);
    if (!r) {
        snprintf(err, errlen, "cannot read the schema version: %s", db->error);
        return -1;
    }
    bool exists = db_get_bool(r, 0, 0);
    PQclear(r);
    int have = exists ? schema_version(db) : 0;
    if (have < 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", db->error);
        return -1;
    }
    int missing = exists ? missing_migrations(db) : migrations_count;
    if (missing < 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", db->error);
        return -1;
    }
    if (have <= want && missing > 0) {
        snprintf(
            err, errlen,
            "database schema lacks %d of this binary's %d migrations: run 'updraft db migrate'",
            missing, migrations_count);
        return -1;
    }
    if (have < want) {
        snprintf(err, errlen,
                 "database schema is at version %d, this binary needs %d: run 'updraft db migrate'",
                 have, want);
        return -1;
    }
    if (have > want) {
        snprintf(err, errlen,
                 "database schema is at version %d, newer than this binary's %d: upgrade updraft",
                 have, want);
        return -1;
    }
    return 0;
}
