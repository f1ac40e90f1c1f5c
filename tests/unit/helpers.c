/*
 * helpers.c - shared fixtures of the cmocka unit tests (helpers.h).
 */
#include "helpers.h"

#include <string.h>

int ut_load_yaml(const char *name, const char *yaml, dag_list_t *dags, dag_diags_t *diags)
{
    dag_list_init(dags);
    dag_diags_init(diags);
    return dag_load_buffer(name, yaml, strlen(yaml), dags, diags);
}
