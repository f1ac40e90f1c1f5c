/*
 * api_importerrors.c - the import error routes of the REST API: the DAG
 * files the last parse could not load, listed and by id (Airflow 2's
 * ImportError schema). Both are answered from the response cache.
 */
#include "webserver/api_int.h"

#include <errno.h>
#include <stdlib.h>

#include "webserver/http.h"

#define TS HTTP_SQL_TS

/*
 * The ImportError schema, one row per member in answer order.
 * Column-descriptor tables like this one are the one deliberate place
 * where SQL fragments live outside lib/store (see api_dags.c).
 */
static const api_field_t ie_fields[] = {
    {"import_error_id", "ie.id", API_INT},
    {"timestamp", TS("ie.\"timestamp\""), API_TS},
    {"filename", "ie.filename", API_STR},
    {"stack_trace", "ie.stack_trace", API_STR},
};

static const api_resource_t ie_resource = {"import_error ie", ie_fields, API_NFIELDS(ie_fields)};

static const httpq_sort_t ie_sorts[] = {
    {"import_error_id", "ie.id"},
    {"timestamp", "ie.\"timestamp\""},
    {"filename", "ie.filename"},
};

static const api_sorting_t ie_sorting = {ie_sorts, API_NFIELDS(ie_sorts), "import_error_id", false,
                                         "ie.id"};

int api_get_import_errors(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    int status = api_read_page(r, &ie_sorting, &p);

    if (status != 0)
        return status;
    return api_send_collection(r, "import_errors", &ie_resource, &b, p.order, &p);
}

int api_get_import_error(api_req_t *r)
{
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res;
    char *end;
    long long id;
    int status;

    errno = 0;
    id = strtoll(r->cap[0], &end, 10);
    if (!*r->cap[0] || *end || errno || id < 0)
        return api_bad_request(r, "import_error_id must be an integer");
    sqlb_add(&b, " AND ie.id = $%d", sqlb_param(&b, r->cap[0]));
    status = api_fetch(r, &ie_resource, &b, &res, &m);
    if (status != 0)
        return status;
    if (PQntuples(res) == 0)
        status =
            api_not_found(r, "Import error not found",
                          "The ImportError with import_error_id: `%s` was not found", r->cap[0]);
    else
        status = api_send_row(r, &ie_resource, &m, res);
    PQclear(res);
    return status;
}
