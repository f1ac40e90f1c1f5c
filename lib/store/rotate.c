/*
 * rotate.c - the frame of a key rotation (see rotate.h). The statement
 * that selects the rows is the table module's (it knows its columns); the
 * transaction and the loop are here, so that variables and connections
 * differ only in how they re-seal a row.
 */
#include "store/rotate.h"

#include "core/errbuf.h"
#include "core/error.h"

int rotate_rows(db_t *db, const secrets_keyring_t *ring, const char *stmt, const char *sql,
                const char *what, rotate_reseal_fn reseal, long *count, char *err, size_t errlen)
{
    PGresult *r = NULL;
    int rc = UPDRAFT_EDB, rows;

    *count = 0;
    if (secrets_keyring_count(ring) == 0) {
        errbuf_set(err, errlen, "no encryption key is configured: set core.fernet_key");
        return UPDRAFT_ENOKEY;
    }
    if (db_begin(db) < 0) {
        errbuf_set(err, errlen, "cannot begin: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    r = db_query(db, stmt, sql, 0, NULL);
    if (!r) {
        errbuf_set(err, errlen, "cannot read %s: %s", what, db_error(db));
        goto out;
    }
    rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        int rr = reseal(db, ring, r, i, err, errlen);
        if (rr < 0) {
            rc = db_ok(db) ? rr : UPDRAFT_EDB;
            goto out;
        }
        (*count)++;
    }
    if (db_commit(db) < 0) {
        errbuf_set(err, errlen, "cannot commit: %s", db_error(db));
        goto out;
    }
    rc = UPDRAFT_OK;
out:
    PQclear(r);
    if (rc < 0) {
        db_rollback(db);
        *count = 0;
    }
    return rc;
}
