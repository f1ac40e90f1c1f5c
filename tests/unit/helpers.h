/*
 * helpers.h - shared fixtures of the cmocka unit tests.
 *
 * ut_load_yaml is the one YAML-to-DAG loader of the tests: it loads YAML
 * text as the DAG file NAME through dag_load_buffer (no environment
 * variable allowed), the same parser that
 * dag_load_file runs on a file's bytes, so diagnostics read "NAME:line:col:
 * message" exactly as a user sees them for a file of that name.
 */
#ifndef UPDRAFT_TESTS_UNIT_HELPERS_H
#define UPDRAFT_TESTS_UNIT_HELPERS_H

#include "model/dag.h"

/*
 * Initialises *dags and *diags and loads YAML (a NUL-terminated string) as
 * the file NAME into them. Returns what dag_load_buffer returns: the number
 * of errors added (0 = clean), or -1. The caller frees both with
 * dag_list_free and dag_diags_free.
 */
int ut_load_yaml(const char *name, const char *yaml, dag_list_t *dags, dag_diags_t *diags);

/* The same with $NAME expansion allowed for env_allowlist (core.dag_env_allowlist). */
int ut_load_yaml_env(const char *name, const char *yaml, const char *env_allowlist,
                     dag_list_t *dags, dag_diags_t *diags);

#endif
