/*
 * rotate.h - the frame of a key rotation (`updraft rotate-fernet-key`),
 * shared by the tables that hold secrets: one transaction over the rows to
 * re-encrypt, each re-sealed by a callback of the table's own module
 * (store/variables.c, store/connections.c). The crypto stays in
 * core/secrets.h; this is the I/O around it.
 */
#ifndef UPDRAFT_STORE_ROTATE_H
#define UPDRAFT_STORE_ROTATE_H

#include <stddef.h>

#include "core/db.h"
#include "core/secrets.h"

/*
 * Re-encrypts one row of a rotation query under the first key of ring
 * (decrypting with whichever key sealed it) and writes it back. 0, or an
 * error code (core/error.h) with err filled.
 */
typedef int (*rotate_reseal_fn)(db_t *db, const secrets_keyring_t *ring, const PGresult *r, int row,
                                char *err, size_t errlen);

/*
 * In one transaction (the caller has none open), runs the statement stmt
 * (sql: a SELECT ... FOR UPDATE of the rows to re-encrypt, no parameters)
 * and calls reseal for each row, then commits. Any error rolls everything
 * back. what names the rows in messages ("variables"). *count is the
 * number of rows re-encrypted (0 on error). Returns 0, UPDRAFT_ENOKEY (the
 * ring is empty, or a value no key of ring opens), UPDRAFT_EDB, or what
 * reseal returned for the row it stopped at; err is filled on every error.
 */
int rotate_rows(db_t *db, const secrets_keyring_t *ring, const char *stmt, const char *sql,
                const char *what, rotate_reseal_fn reseal, long *count, char *err, size_t errlen);

#endif
