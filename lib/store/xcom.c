/*
 * xcom.c - XCom rows (see xcom.h): pull, clear, push, the source a mapped
 * task expands over, and the parsing of a task's XCom file.
 */
#include "store/xcom.h"

#include "core/error.h"
#include "core/utf8.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_SQL                                                                                    \
    "SELECT CASE WHEN bool_and(map_index < 0) THEN (array_agg(value::text))[1]"                    \
    "            ELSE jsonb_agg(value ORDER BY map_index)::text END"                               \
    "  FROM xcom WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND key = $4"                  \
    " HAVING count(*) > 0"

int xcom_get(db_t *db, const char *dag_id, const char *run_id, const char *task_id, const char *key,
             char **json, char *err, size_t errlen)
{
    const char *params[] = {dag_id, run_id, task_id, key};
    PGresult *r = db_query(db, "xcom_get", GET_SQL, 4, params);
    int rc = 0;
    if (!r) {
        snprintf(err, errlen, "cannot read XCom: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    if (PQntuples(r) == 0) {
        rc = UPDRAFT_ENOTFOUND;
        goto out;
    }
    const char *v = db_get_str(r, 0, 0);
    if (!(*json = strdup(v ? v : "null"))) {
        snprintf(err, errlen, "out of memory");
        rc = UPDRAFT_ENOMEM;
    }
out:
    PQclear(r);
    return rc;
}

static const char SQL_CLEAR[] = "DELETE FROM xcom WHERE dag_run_id = $1::bigint AND task_id = $2"
                                " AND map_index = $3::integer";

int xcom_clear(db_t *db, int64_t dag_run_id, const char *task_id, int map_index)
{
    char run_s[24], mi_s[16];
    snprintf(run_s, sizeof(run_s), "%lld", (long long)dag_run_id);
    snprintf(mi_s, sizeof(mi_s), "%d", map_index);
    const char *params[] = {run_s, task_id, mi_s};
    long n = db_exec(db, "xcom_clear", SQL_CLEAR, 3, params);
    return n < 0 ? UPDRAFT_EDB : 0;
}

static const char SQL_PUT[] =
    "INSERT INTO xcom (dag_run_id, dag_id, run_id, task_id, map_index, key, value)"
    " VALUES ($1::bigint, $2, $3, $4, $5::integer, $6, $7::jsonb)"
    " ON CONFLICT ON CONSTRAINT xcom_unique"
    " DO UPDATE SET value = EXCLUDED.value, timestamp = now()";

int xcom_put(db_t *db, int64_t dag_run_id, const char *dag_id, const char *run_id,
             const char *task_id, int map_index, const char *key, const char *json)
{
    char run_s[24], mi_s[16];
    snprintf(run_s, sizeof(run_s), "%lld", (long long)dag_run_id);
    snprintf(mi_s, sizeof(mi_s), "%d", map_index);
    const char *params[] = {run_s, dag_id, run_id, task_id, mi_s, key, json};
    long n = db_exec(db, "xcom_put", SQL_PUT, 7, params);
    return n < 0 ? UPDRAFT_EDB : 0;
}

static const char SQL_MAP_SOURCE[] =
    "SELECT value::text FROM xcom WHERE dag_run_id = $1::bigint"
    " AND task_id = $2 AND map_index = -1 AND key = 'return_value'";

int xcom_map_source(db_t *db, int64_t dag_run_id, const char *task_id, char **json)
{
    char run_s[24];
    snprintf(run_s, sizeof(run_s), "%" PRId64, dag_run_id);
    const char *p[] = {run_s, task_id};
    *json = NULL;
    PGresult *r = db_query(db, "xcom_map_source", SQL_MAP_SOURCE, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    const char *text = PQntuples(r) == 1 ? db_get_str(r, 0, 0) : NULL;
    int rc = UPDRAFT_ENOTFOUND;
    if (text)
        rc = (*json = strdup(text)) ? UPDRAFT_OK : UPDRAFT_ENOMEM;
    PQclear(r);
    return rc;
}

void xcom_kv_free(xcom_kv_t *kv, size_t n)
{
    if (!kv)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].json);
    }
    free(kv);
}

int xcom_parse_file(const char *text, size_t len, size_t max_size, xcom_kv_t **out, size_t *n,
                    char *err, size_t errlen)
{
    cJSON *root = NULL;
    const cJSON *it;
    xcom_kv_t *kv = NULL;
    size_t cnt = 0, i = 0;
    int rc = UPDRAFT_EINVALID;

    *out = NULL;
    *n = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    if (i == len)
        return 0;
    if (!utf8_valid(text, len)) {
        snprintf(err, errlen, "%s is not UTF-8 text", XCOM_FILE_ENV);
        return UPDRAFT_EINVALID;
    }
    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s does not hold a JSON object", XCOM_FILE_ENV);
        goto out;
    }
    cJSON_ArrayForEach(it, root) cnt++;
    if (cnt > XCOM_FILE_MAX_KEYS) {
        snprintf(err, errlen, "%s has more than %d keys", XCOM_FILE_ENV, XCOM_FILE_MAX_KEYS);
        goto out;
    }
    if (cnt == 0) {
        rc = 0;
        goto out;
    }
    if (!(kv = calloc(cnt, sizeof(*kv)))) {
        snprintf(err, errlen, "out of memory");
        rc = UPDRAFT_ENOMEM;
        goto out;
    }
    i = 0;
    cJSON_ArrayForEach(it, root)
    {
        size_t klen = strlen(it->string);
        if (klen == 0 || klen > XCOM_MAX_KEY) {
            snprintf(err, errlen, "%s: an XCom key must be 1 to %d bytes", XCOM_FILE_ENV,
                     XCOM_MAX_KEY);
            goto out;
        }
        kv[i].key = strdup(it->string);
        kv[i].json = cJSON_PrintUnformatted(it);
        i++;
        if (!kv[i - 1].key || !kv[i - 1].json) {
            snprintf(err, errlen, "out of memory");
            rc = UPDRAFT_ENOMEM;
            goto out;
        }
        if (strlen(kv[i - 1].json) > max_size) {
            snprintf(err, errlen, "XCom '%.64s' is larger than %zu bytes", it->string, max_size);
            goto out;
        }
    }
    *out = kv;
    *n = cnt;
    kv = NULL;
    rc = 0;
out:
    xcom_kv_free(kv, i);
    cJSON_Delete(root);
    return rc;
}

cJSON *xcom_mappable(cJSON *v)
{
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        return v;
    if (!cJSON_IsString(v))
        return NULL;
    cJSON *inner = cJSON_ParseWithLengthOpts(v->valuestring, strlen(v->valuestring) + 1, NULL, 1);
    if (cJSON_IsArray(inner) || cJSON_IsObject(inner))
        return inner;
    cJSON_Delete(inner);
    return NULL;
}
