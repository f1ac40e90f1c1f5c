/*
 * variables.h - Airflow's Variables: named values tasks read at run time.
 *
 * Stored in the `variable` table (migration 0006). When a key is
 * configured (core.fernet_key) every value is stored encrypted, as Airflow
 * does with Fernet; without one, plain values are stored as they are but a
 * variable whose name is sensitive (secrets_name_is_sensitive: "password",
 * "secret", "api_key", ...) is refused rather than stored in clear.
 *
 * The environment wins over the database, as Airflow's secrets backends
 * do: UPDRAFT_VAR_<KEY> or AIRFLOW_VAR_<KEY> (KEY upper-cased). Environment
 * variables are never written to the database.
 *
 * Return conventions (core/error.h): 0, or UPDRAFT_ENOTFOUND, UPDRAFT_EEXISTS,
 * UPDRAFT_EINVALID (a bad key or a value too long), UPDRAFT_ENOKEY (a
 * sensitive name to store without a key, or a stored value that no
 * configured key decrypts), UPDRAFT_EDB or UPDRAFT_ENOMEM, with err filled
 * (names the key, never the value) for every error but UPDRAFT_ENOTFOUND.
 */
#ifndef UPDRAFT_VARIABLES_H
#define UPDRAFT_VARIABLES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/db.h"
#include "core/error.h"
#include "core/secrets.h"

#define VAR_MAX_KEY 250                 /* as Airflow's ID_LEN */
#define VAR_MAX_VALUE SECRETS_MAX_PLAIN /* bytes */

typedef struct variable {
    char *key;
    char *val;         /* NULL when not fetched */
    char *description; /* NULL = none */
    bool is_encrypted; /* as stored */
} variable_t;

/* Checks a key: 1..VAR_MAX_KEY bytes, no control characters. 0 or UPDRAFT_EINVALID. */
int variables_validate_key(const char *key, char *err, size_t errlen);

/*
 * The environment only: 0 with *val malloc'd (secrets_free_str),
 * UPDRAFT_ENOTFOUND when not set, UPDRAFT_ENOMEM.
 */
int variables_env_lookup(const char *key, char **val);

/*
 * The database row, decrypted: *val (free with secrets_free_str) and, when
 * description is not NULL, *description (malloc'd, may be NULL). 0, or
 * UPDRAFT_ENOTFOUND, UPDRAFT_ENOKEY, UPDRAFT_EDB, UPDRAFT_ENOMEM.
 */
int variables_get(db_t *db, const secrets_keyring_t *ring, const char *key, char **val,
                  char **description, char *err, size_t errlen);
/* What a task sees: the environment first, then the database. */
int variables_lookup(db_t *db, const secrets_keyring_t *ring, const char *key, char **val,
                     char *err, size_t errlen);

/*
 * Creates or replaces key (Airflow's Variable.set): val encrypted when a
 * key is configured; description NULL stores none. 0, UPDRAFT_EINVALID,
 * UPDRAFT_ENOKEY or UPDRAFT_EDB.
 */
int variables_set(db_t *db, const secrets_keyring_t *ring, const char *key, const char *val,
                  const char *description, char *err, size_t errlen);
/* Inserts only: UPDRAFT_EEXISTS when key exists already (nothing changed), else as variables_set.
 */
int variables_create(db_t *db, const secrets_keyring_t *ring, const char *key, const char *val,
                     const char *description, char *err, size_t errlen);
/* 0 deleted, UPDRAFT_ENOTFOUND, UPDRAFT_EDB. */
int variables_delete(db_t *db, const char *key, char *err, size_t errlen);

/*
 * Every stored variable ordered by key; with_values decrypts the values
 * (else val is NULL). Free with variables_list_free(). 0, UPDRAFT_ENOKEY,
 * UPDRAFT_EDB or UPDRAFT_ENOMEM.
 */
int variables_list(db_t *db, const secrets_keyring_t *ring, bool with_values, variable_t **out,
                   size_t *n, char *err, size_t errlen);
void variables_list_free(variable_t *list, size_t n);

/*
 * Re-encrypts every stored value under the first key, in one transaction.
 * 0, UPDRAFT_ENOKEY when ring has no key, else UPDRAFT_EDB for any failure
 * (err says which row); nothing is changed on failure.
 */
int variables_rotate(db_t *db, const secrets_keyring_t *ring, long *count, char *err,
                     size_t errlen);

#endif
