/*
 * api_xcom.c - the XCom routes of the REST API: the entries of a task
 * instance (filtered by map_index and key) and one entry with its value.
 * Shapes follow Airflow 2's XComCollectionItem and XCom schemas.
 */
#include "webserver/api_int.h"

#include <stdint.h>
#include <string.h>

#include "webserver/http.h"

#define TS HTTP_SQL_TS

/*
 * The XCom schema, one row per member in answer order; the hidden rows
 * (the value in its three readings) are selected for one entry only.
 * Column-descriptor tables like this one are the one deliberate place
 * where SQL fragments live outside lib/store (see api_dags.c).
 */
static const api_field_t xcom_fields[] = {
    {"key", "x.key", API_STR},
    {"timestamp", TS("x.timestamp"), API_TS},
    {"execution_date", TS("dr.logical_date"), API_TS},
    {"task_id", "x.task_id", API_STR},
    {"dag_id", "x.dag_id", API_STR},
    {"map_index", "x.map_index", API_INT},
#define XF_JSON 6 /* the value as JSON text */
    {"value_json", "x.value::text", API_HIDDEN},
#define XF_TYPE 7 /* its JSON type */
    {"value_type", "jsonb_typeof(x.value)", API_HIDDEN},
#define XF_TEXT 8 /* a string value's text */
    {"value_text", "x.value #>> '{}'", API_HIDDEN},
};

#define XCOM_FROM "xcom x JOIN dag_run dr ON dr.id = x.dag_run_id"

/* A collection item: the fields before the value. */
static const api_resource_t xcom_item_resource = {XCOM_FROM, xcom_fields, XF_JSON};
static const api_resource_t xcom_entry_resource = {XCOM_FROM, xcom_fields,
                                                   API_NFIELDS(xcom_fields)};

/*
 * GET .../taskInstances/{task_id}/xcomEntries (GetXcomEntries): map_index
 * and xcom_key filter; limit/offset page.
 */
int api_get_xcom_entries(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    char err[256];
    int64_t map_index;
    int status = api_read_page(r, NULL, &p);

    if (status != 0)
        return status;
    if (httpq_get_i64(&r->q, "map_index", INT64_MIN, -1, INT32_MAX, &map_index, err, sizeof(err)) <
        0)
        return api_bad_request(r, err);
    sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    sqlb_add(&b, " AND x.task_id = $%d", sqlb_param(&b, r->cap[2]));
    if (map_index != INT64_MIN)
        sqlb_add(&b, " AND x.map_index = $%d::integer", sqlb_param_i64(&b, map_index));
    if (httpq_get(&r->q, "xcom_key"))
        sqlb_add(&b, " AND x.key = $%d", sqlb_param(&b, httpq_get(&r->q, "xcom_key")));
    return api_send_collection(r, "xcom_entries", &xcom_item_resource, &b, "x.map_index, x.key",
                               &p);
}

/*
 * value is a string, as in Airflow: a pushed string as its text, any other
 * JSON value as its JSON text; deserialize=true with stringify=false gives
 * the JSON value itself.
 */
static void write_value(jsonw_t *w, const PGresult *res, const api_colmap_t *m, bool deserialize,
                        bool stringify)
{
    const char *type = db_get_str(res, 0, m->col[XF_TYPE]);

    jsonw_key(w, "value");
    if (deserialize && !stringify)
        jsonw_pg_json(w, res, 0, m->col[XF_JSON]);
    else if (type && strcmp(type, "string") == 0)
        jsonw_pg_str(w, res, 0, m->col[XF_TEXT]);
    else
        jsonw_pg_str(w, res, 0, m->col[XF_JSON]);
}

/* GET .../xcomEntries/{key} (GetXcomEntry). */
int api_get_xcom_entry(api_req_t *r)
{
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res;
    char err[256];
    int64_t map_index;
    bool deserialize = false, stringify = true;
    int status;
    jsonw_t w;

    if (httpq_get_i64(&r->q, "map_index", -1, -1, INT32_MAX, &map_index, err, sizeof(err)) < 0 ||
        httpq_get_bool(&r->q, "deserialize", &deserialize, err, sizeof(err)) < 0 ||
        httpq_get_bool(&r->q, "stringify", &stringify, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    sqlb_add(&b, " AND x.task_id = $%d", sqlb_param(&b, r->cap[2]));
    sqlb_add(&b, " AND x.key = $%d", sqlb_param(&b, r->cap[3]));
    sqlb_add(&b, " AND x.map_index = $%d::integer", sqlb_param_i64(&b, map_index));
    status = api_fetch(r, &xcom_entry_resource, &b, &res, &m);
    if (status != 0)
        return status;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_not_found(r, "XCom entry not found",
                             "XCom entry with key: `%s` not found for task '%s' of DAG run '%s'",
                             r->cap[3], r->cap[2], r->cap[1]);
    }
    jsonw_init(&w, 1024);
    jsonw_obj_begin(&w);
    api_write_fields(&w, &xcom_entry_resource, &m, res, 0, 0);
    write_value(&w, res, &m, deserialize, stringify);
    jsonw_obj_end(&w);
    PQclear(res);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}
