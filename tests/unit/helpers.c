/*
 * helpers.c - shared fixtures of the cmocka unit tests (helpers.h).
 */
#include "helpers.h"

#include <string.h>

int ut_load_yaml_env(const char *name, const char *yaml, const char *env_allowlist,
                     dag_list_t *dags, dag_diags_t *diags)
{
    dag_list_init(dags);
    dag_diags_init(diags);
    return dag_load_buffer(name, yaml, strlen(yaml), env_allowlist, dags, diags);
}

int ut_load_yaml(const char *name, const char *yaml, dag_list_t *dags, dag_diags_t *diags)
{
    return ut_load_yaml_env(name, yaml, NULL, dags, diags);
}
