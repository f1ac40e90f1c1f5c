/*
 * import_errors.c - reads of the import_error table (see import_errors.h).
 */
#include "store/import_errors.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/result.h"

static const char SQL_LIST_FILES[] =
    "SELECT filename FROM import_error ORDER BY filename COLLATE \"C\"";

int import_errors_list_files(db_t *db, PGresult **out)
{
    return store_query_rows(db, "import_errors_list_files", SQL_LIST_FILES, 0, NULL, out);
}

static const char SQL_LIST_TRACES[] = "SELECT stack_trace FROM import_error ORDER BY filename";

int import_errors_list_traces(db_t *db, char ***out, size_t *n, char *err, size_t errlen)
{
    PGresult *r = db_query(db, NULL, SQL_LIST_TRACES, 0, NULL);
    char **v;
    size_t count;
    bool oom = false;

    *out = NULL;
    *n = 0;
    if (!r)
        return store_db_failed(db, err, errlen);
    count = (size_t)PQntuples(r);
    v = calloc(count ? count : 1, sizeof(*v));
    for (size_t i = 0; v && i < count; i++)
        if (!(v[i] = strdup(PQgetvalue(r, (int)i, 0))))
            oom = true;
    PQclear(r);
    if (!v || oom) {
        import_errors_traces_free(v, count);
        return store_out_of_memory(err, errlen);
    }
    *out = v;
    *n = count;
    return 0;
}

void import_errors_traces_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
