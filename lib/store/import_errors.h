/*
 * import_errors.h - the import_error table: one row per DAG file that
 * failed to load, with the loader's diagnostics as its stack_trace.
 *
 * The processor writes these rows together with the file's dag_file row
 * and its DAGs, in one statement (dags_store_files, dags_forget_files in
 * store/dags.h); what lives here are the reads of the table: the files
 * with an error (for the processor) and the errors themselves (for `dags
 * list-import-errors`). Functions return 0 (UPDRAFT_OK) or a negative code
 * of core/error.h.
 */
#ifndef UPDRAFT_STORE_IMPORT_ERRORS_H
#define UPDRAFT_STORE_IMPORT_ERRORS_H

#include <stddef.h>

#include "core/db.h"

/*
 * The files that have an import error. *out: (filename) by filename
 * COLLATE "C" (caller PQclear()s). 0 or UPDRAFT_EDB.
 */
int import_errors_list_files(db_t *db, PGresult **out);

/*
 * The stack traces of the import errors by file name: *out (n strings);
 * free with import_errors_traces_free(). 0, or UPDRAFT_EDB / UPDRAFT_ENOMEM
 * with err filled.
 */
int import_errors_list_traces(db_t *db, char ***out, size_t *n, char *err, size_t errlen);
void import_errors_traces_free(char **v, size_t n);

#endif
