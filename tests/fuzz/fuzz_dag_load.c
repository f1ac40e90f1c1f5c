/*
 * fuzz_dag_load.c - dag_load_buffer on arbitrary bytes: YAML parsing,
 * merge keys and aliases, defaults merging, validation and the topological
 * sort must never crash, hang or leak, whatever the input. Every DAG that
 * loads is also serialized and read back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/dag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dag_list_t dags;
    dag_diags_t diags;
    char err[256];

    dag_list_init(&dags);
    dag_diags_init(&diags);
    int rc = dag_load_buffer("fuzz.yaml", (const char *)data, size, "HOME,FUZZ_*", &dags, &diags);
    if (rc > 0 && dag_diags_errors(&diags) == 0)
        abort(); /* errors counted but none reported */
    for (size_t i = 0; i < dags.n; i++) {
        cJSON *j = dag_to_json(dags.items[i]);
        if (!j)
            continue;
        dag_t *back = dag_from_json(j, err, sizeof err);
        if (!back)
            abort(); /* what we write we must read */
        dag_free(back);
        cJSON_Delete(j);
    }
    free(dag_diags_format(&diags, true));
    dag_list_free(&dags);
    dag_diags_free(&diags);
    return 0;
}
