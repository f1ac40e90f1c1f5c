/*
 * result.c - copying PGresult fields and filling error buffers for the
 * store modules (see result.h).
 */
#include "store/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/error.h"

int store_db_failed(db_t *db, char *err, size_t errlen)
{
    errbuf_set(err, errlen, "%s", db_error(db));
    return UPDRAFT_EDB;
}

int store_out_of_memory(char *err, size_t errlen)
{
    errbuf_set(err, errlen, "out of memory");
    return UPDRAFT_ENOMEM;
}

char *store_dup_field(const PGresult *r, int row, int col, bool *oom)
{
    const char *s = db_get_str(r, row, col);
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

ts_us_t store_get_ts(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? TS_NONE : (ts_us_t)db_get_i64(r, row, col);
}

void store_copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

int store_query_rows(db_t *db, const char *name, const char *sql, int nparams,
                     const char *const *params, PGresult **out)
{
    *out = db_query(db, name, sql, nparams, params);
    return *out ? UPDRAFT_OK : UPDRAFT_EDB;
}

bool store_json_add_ts(cJSON *o, const char *name, ts_us_t t)
{
    char buf[TS_ISO_LEN];

    if (t == TS_NONE)
        return cJSON_AddNullToObject(o, name) != NULL;
    return cJSON_AddStringToObject(o, name, ts_format_iso(t, buf)) != NULL;
}

cJSON *store_json_rows(const PGresult *r, cJSON *(*row)(const PGresult *r, int i))
{
    cJSON *arr = cJSON_CreateArray();

    for (int i = 0; arr && i < PQntuples(r); i++) {
        cJSON *o = row(r, i);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    return arr;
}
