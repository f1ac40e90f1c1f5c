/*
 * variables.c - Variables in the `variable` table and the environment
 * (see variables.h). Values are bound to their key by the encryption
 * context "variable:<key>".
 */
#include "store/variables.h"
#include "store/rotate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/error.h"

#define CTX_MAX (VAR_MAX_KEY + 16)

int variables_validate_key(const char *key, char *err, size_t errlen)
{
    size_t n = key ? strlen(key) : 0;

    if (n == 0 || n > VAR_MAX_KEY) {
        errbuf_set(err, errlen, "variable key must have 1 to %d characters", VAR_MAX_KEY);
        return UPDRAFT_EINVALID;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) {
            errbuf_set(err, errlen, "variable key contains a control character");
            return UPDRAFT_EINVALID;
        }
    return 0;
}

int variables_env_lookup(const char *key, char **val)
{
    static const char *const prefixes[] = {"UPDRAFT_VAR_", "AIRFLOW_VAR_"};
    char name[VAR_MAX_KEY + 16];

    *val = NULL;
    if (!key || !*key || strlen(key) > VAR_MAX_KEY)
        return UPDRAFT_ENOTFOUND;
    for (size_t i = 0; i < 2; i++) {
        size_t n = (size_t)snprintf(name, sizeof(name), "%s%s", prefixes[i], key);
        const char *v;
        for (size_t j = strlen(prefixes[i]); j < n; j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        v = getenv(name);
        if (!v)
            continue;
        *val = strdup(v);
        return *val ? 0 : UPDRAFT_ENOMEM;
    }
    return UPDRAFT_ENOTFOUND;
}

static int open_value(const secrets_keyring_t *ring, const char *key, const char *stored,
                      bool encrypted, char **val, char *err, size_t errlen)
{
    char ctx[CTX_MAX];

    *val = NULL;
    if (!stored)
        return 0;
    if (!encrypted) {
        *val = strdup(stored);
        if (!*val)
            errbuf_set(err, errlen, "out of memory");
        return *val ? 0 : UPDRAFT_ENOMEM;
    }
    snprintf(ctx, sizeof(ctx), "variable:%s", key);
    if (secrets_decrypt(ring, ctx, stored, val, NULL, err, errlen) < 0) {
        char inner[256];
        snprintf(inner, sizeof(inner), "%s", err ? err : "");
        errbuf_set(err, errlen, "variable '%s': cannot decrypt: %s", key, inner);
        return UPDRAFT_ENOKEY;
    }
    return 0;
}

/* The stored form of val: ciphertext with a key, else val itself (NULL *sealed). */
static int seal(const secrets_keyring_t *ring, const char *key, const char *val, char **sealed,
                char *err, size_t errlen)
{
    char ctx[CTX_MAX];

    *sealed = NULL;
    if (strlen(val) > VAR_MAX_VALUE) {
        errbuf_set(err, errlen, "variable '%s': value longer than %d bytes", key, VAR_MAX_VALUE);
        return UPDRAFT_EINVALID;
    }
    if (secrets_keyring_count(ring) == 0) {
        if (secrets_name_is_sensitive(key)) {
            errbuf_set(err, errlen,
                       "variable '%s' has a sensitive name and would be stored in clear: set "
                       "core.fernet_key (UPDRAFT__CORE__FERNET_KEY) to store it encrypted",
                       key);
            return UPDRAFT_ENOKEY;
        }
        return 0;
    }
    snprintf(ctx, sizeof(ctx), "variable:%s", key);
    return secrets_encrypt(ring, ctx, val, strlen(val), sealed, err, errlen) < 0 ? UPDRAFT_EINVALID
                                                                                 : 0;
}

int variables_get(db_t *db, const secrets_keyring_t *ring, const char *key, char **val,
                  char **description, char *err, size_t errlen)
{
    const char *params[1] = {key};
    PGresult *r;
    int rc;

    *val = NULL;
    if (description)
        *description = NULL;
    r = db_query(db, "var_get",
                 "SELECT val, is_encrypted, description FROM variable WHERE key = $1", 1, params);
    if (!r) {
        errbuf_set(err, errlen, "cannot read variable '%s': %s", key, db_error(db));
        return UPDRAFT_EDB;
    }
    if (PQntuples(r) == 0) {
        rc = UPDRAFT_ENOTFOUND;
        goto out;
    }
    rc = open_value(ring, key, db_get_str(r, 0, 0), db_get_bool(r, 0, 1), val, err, errlen);
    if (rc < 0)
        goto out;
    rc = UPDRAFT_ENOMEM;
    if (!*val && !(*val = strdup(""))) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    if (description && db_get_str(r, 0, 2) && !(*description = strdup(db_get_str(r, 0, 2)))) {
        secrets_free_str(*val);
        *val = NULL;
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    PQclear(r);
    return rc;
}

int variables_lookup(db_t *db, const secrets_keyring_t *ring, const char *key, char **val,
                     char *err, size_t errlen)
{
    int rc = variables_env_lookup(key, val);
    if (rc == UPDRAFT_ENOMEM)
        errbuf_set(err, errlen, "out of memory");
    if (rc != UPDRAFT_ENOTFOUND)
        return rc;
    return variables_get(db, ring, key, val, NULL, err, errlen);
}

static int store(db_t *db, const secrets_keyring_t *ring, const char *key, const char *val,
                 const char *description, bool upsert, char *err, size_t errlen)
{
    char *sealed = NULL;
    const char *params[4];
    long n;
    int rc;

    if ((rc = variables_validate_key(key, err, errlen)) < 0)
        return rc;
    if (!val) {
        errbuf_set(err, errlen, "variable '%s': missing value", key);
        return UPDRAFT_EINVALID;
    }
    if ((rc = seal(ring, key, val, &sealed, err, errlen)) < 0)
        return rc;
    params[0] = key;
    params[1] = sealed ? sealed : val;
    params[2] = description;
    params[3] = sealed ? "true" : "false";
    if (upsert)
        n = db_exec(db, "var_upsert",
                    "INSERT INTO variable (key, val, description, is_encrypted)"
                    " VALUES ($1, $2, $3, $4::boolean) ON CONFLICT (key) DO UPDATE SET"
                    " val = EXCLUDED.val, description = EXCLUDED.description,"
                    " is_encrypted = EXCLUDED.is_encrypted",
                    4, params);
    else
        n = db_exec(db, "var_insert",
                    "INSERT INTO variable (key, val, description, is_encrypted)"
                    " VALUES ($1, $2, $3, $4::boolean) ON CONFLICT (key) DO NOTHING",
                    4, params);
    free(sealed);
    if (n < 0) {
        errbuf_set(err, errlen, "cannot store variable '%s': %s", key, db_error(db));
        return UPDRAFT_EDB;
    }
    return n == 0 ? UPDRAFT_EEXISTS : 0;
}

int variables_set(db_t *db, const secrets_keyring_t *ring, const char *key, const char *val,
                  const char *description, char *err, size_t errlen)
{
    return store(db, ring, key, val, description, true, err, errlen);
}

int variables_create(db_t *db, const secrets_keyring_t *ring, const char *key, const char *val,
                     const char *description, char *err, size_t errlen)
{
    return store(db, ring, key, val, description, false, err, errlen);
}

int variables_delete(db_t *db, const char *key, char *err, size_t errlen)
{
    const char *params[1] = {key};
    long n = db_exec(db, "var_delete", "DELETE FROM variable WHERE key = $1", 1, params);
    if (n < 0) {
        errbuf_set(err, errlen, "cannot delete variable '%s': %s", key, db_error(db));
        return UPDRAFT_EDB;
    }
    return n > 0 ? 0 : UPDRAFT_ENOTFOUND;
}

void variables_list_free(variable_t *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++) {
        free(list[i].key);
        secrets_free_str(list[i].val);
        free(list[i].description);
    }
    free(list);
}

int variables_list(db_t *db, const secrets_keyring_t *ring, bool with_values, variable_t **out,
                   size_t *n, char *err, size_t errlen)
{
    variable_t *list = NULL;
    PGresult *r;
    size_t got = 0;
    int rows, rc = UPDRAFT_ENOMEM;

    *out = NULL;
    *n = 0;
    r = db_query(db, "var_list",
                 "SELECT key, val, is_encrypted, description FROM variable ORDER BY key", 0, NULL);
    if (!r) {
        errbuf_set(err, errlen, "cannot list variables: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    rows = PQntuples(r);
    list = calloc(rows > 0 ? (size_t)rows : 1, sizeof(*list));
    if (!list) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        variable_t *v = &list[got++];
        const char *d = db_get_str(r, i, 3);
        v->key = strdup(db_get_str(r, i, 0));
        v->description = d ? strdup(d) : NULL;
        v->is_encrypted = db_get_bool(r, i, 2);
        if (!v->key || (d && !v->description)) {
            errbuf_set(err, errlen, "out of memory");
            goto out;
        }
        if (with_values && (rc = open_value(ring, v->key, db_get_str(r, i, 1), v->is_encrypted,
                                            &v->val, err, errlen)) < 0)
            goto out;
        rc = UPDRAFT_ENOMEM;
        if (with_values && !v->val && !(v->val = strdup(""))) {
            errbuf_set(err, errlen, "out of memory");
            goto out;
        }
    }
    *out = list;
    *n = got;
    list = NULL;
    rc = 0;
out:
    variables_list_free(list, got);
    PQclear(r);
    return rc;
}

/* Re-seals one row of (key, val, is_encrypted). */
static int reseal_row(db_t *db, const secrets_keyring_t *ring, const PGresult *r, int row,
                      char *err, size_t errlen)
{
    const char *key = db_get_str(r, row, 0);
    char *val = NULL, *sealed = NULL;
    const char *params[2];
    long n;
    int rc;

    rc = open_value(ring, key, db_get_str(r, row, 1), db_get_bool(r, row, 2), &val, err, errlen);
    if (rc < 0)
        return rc;
    rc = seal(ring, key, val, &sealed, err, errlen);
    secrets_free_str(val);
    if (rc < 0)
        return rc;
    params[0] = key;
    params[1] = sealed;
    n = db_exec(db, "var_rotate_upd",
                "UPDATE variable SET val = $2, is_encrypted = true WHERE key = $1", 2, params);
    free(sealed);
    if (n < 0) {
        errbuf_set(err, errlen, "cannot update variable '%s': %s", key, db_error(db));
        return UPDRAFT_EDB;
    }
    return 0;
}

int variables_rotate(db_t *db, const secrets_keyring_t *ring, long *count, char *err, size_t errlen)
{
    return rotate_rows(db, ring, "var_rotate_sel",
                       "SELECT key, val, is_encrypted FROM variable WHERE val IS NOT NULL"
                       " ORDER BY key FOR UPDATE",
                       "variables", reseal_row, count, err, errlen);
}
