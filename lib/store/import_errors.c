/*
 * import_errors.c - reads of the import_error table (see import_errors.h).
 */
#include "store/import_errors.h"

#include "core/error.h"

static const char SQL_LIST_FILES[] =
    "SELECT filename FROM import_error ORDER BY filename COLLATE \"C\"";

int import_errors_list_files(db_t *db, PGresult **out)
{
    *out = db_query(db, "import_errors_list_files", SQL_LIST_FILES, 0, NULL);
    return *out ? UPDRAFT_OK : UPDRAFT_EDB;
}
