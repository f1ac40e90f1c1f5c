/*
 * import_errors.h - the import_error table: one row per DAG file that
 * failed to load, with the loader's diagnostics as its stack_trace.
 *
 * The processor writes these rows together with the file's dag_file row
 * and its DAGs, in one statement (dags_store_files, dags_forget_files in
 * store/dags.h); what lives here are the reads of the table. Functions
 * return 0 (UPDRAFT_OK) or UPDRAFT_EDB (core/error.h); rows go to the
 * caller as a PGresult (caller PQclear()s).
 */
#ifndef UPDRAFT_STORE_IMPORT_ERRORS_H
#define UPDRAFT_STORE_IMPORT_ERRORS_H

#include "core/db.h"

/* The files that have an import error. *out: (filename) by filename COLLATE "C". */
int import_errors_list_files(db_t *db, PGresult **out);

#endif
