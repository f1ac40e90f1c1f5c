/*
 * wrender.c - rendering of a try's fields (see wrender.h).
 */
#include "worker/wrender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/taskrender.h"

/* Renders *field in place (when it has markup); its secrets go to lb's masks. */
static int render_field(const taskrender_t *tr, char **field, const char *what, logbuf_t *lb,
                        char *err, size_t errlen)
{
    template_result_t res;
    if (!*field || !template_has_markup(*field, strlen(*field)))
        return 0;
    if (taskrender_field(tr, *field, what, &res, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < res.nsecrets; i++) {
        if (logbuf_add_secret(lb, res.secrets[i]) < 0) {
            snprintf(err, errlen, "cannot render %s: too many or too long secret values", what);
            template_result_free(&res);
            return -1;
        }
    }
    free(*field);
    *field = res.text;
    res.text = NULL;
    template_result_free(&res);
    return 0;
}

static bool mentions_prev(const wtry_t *t)
{
    if (t->bash_command && strstr(t->bash_command, "prev_data_interval"))
        return true;
    for (size_t i = 0; i < t->n_env; i++)
        if (t->env[i].value && strstr(t->env[i].value, "prev_data_interval"))
            return true;
    return false;
}

int wrender_try(db_t *db, const secrets_keyring_t *ring, wtry_t *t, logbuf_t *lb, char *err,
                size_t errlen)
{
    taskrender_t tr;
    taskrender_init(&tr, db, ring);
    tr.ctx.dag_id = t->dag_id;
    tr.ctx.task_id = t->task_id;
    tr.ctx.run_id = t->run_id;
    tr.ctx.try_number = t->try_number;
    tr.ctx.map_index = t->map_index;
    tr.ctx.logical_date = t->logical_date;
    tr.ctx.data_interval_start = t->data_interval_start;
    tr.ctx.data_interval_end = t->data_interval_end;
    tr.ctx.params_json = t->conf_json;
    tr.ctx.conf_json = t->conf_json;
    if (mentions_prev(t) && taskrender_prev_interval(&tr, t->dag_run_id, err, errlen) < 0)
        return -1;
    if (render_field(&tr, &t->bash_command, "bash_command", lb, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < t->n_env; i++) {
        char what[300];
        snprintf(what, sizeof(what), "env %.256s", t->env[i].name);
        char *v = (char *)t->env[i].value;
        int rc = render_field(&tr, &v, what, lb, err, errlen);
        t->env[i].value = v;
        if (rc < 0)
            return -1;
    }
    return 0;
}
