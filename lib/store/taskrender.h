/*
 * taskrender.h - a task's template context backed by the database: what
 * the worker renders a try's fields with, and what `updraft tasks render`
 * shows (model/template.h does the rendering).
 *
 * Variables and connections are looked up as a task sees them (the
 * environment first, then the database, decrypted with ring); xcom_pull
 * reads the xcom table for the same DAG run; prev_data_interval_*_success
 * come from the latest earlier successful run of the DAG.
 */
#ifndef UPDRAFT_TASKRENDER_H
#define UPDRAFT_TASKRENDER_H

#include <stdint.h>

#include "core/db.h"
#include "core/secrets.h"
#include "model/template.h"

typedef struct taskrender {
    template_ctx_t ctx; /* fill the identity, dates and conf; callbacks are set */
    db_t *db;
    const secrets_keyring_t *ring;
} taskrender_t;

/*
 * Zeroes tr (template_ctx_init) and wires the callbacks to db and ring (ring
 * may be NULL). The callbacks point at tr: do not copy it afterwards.
 */
void taskrender_init(taskrender_t *tr, db_t *db, const secrets_keyring_t *ring);

/*
 * Sets the prev_data_interval_*_success fields from the DAG run dag_run_id's
 * predecessors. 0, or UPDRAFT_EDB with err filled.
 */
int taskrender_prev_interval(taskrender_t *tr, int64_t dag_run_id, char *err, size_t errlen);

/*
 * Renders src with tr's context into *res (template_render), prefixing an
 * error with what ("bash_command", "env NAME"): "cannot render
 * bash_command: line 1, column 6: ...". A result holding a NUL is refused.
 * 0, or UPDRAFT_EINVALID with err filled (a lookup's failure included).
 */
int taskrender_field(const taskrender_t *tr, const char *src, const char *what,
                     template_result_t *res, char *err, size_t errlen);

#endif
