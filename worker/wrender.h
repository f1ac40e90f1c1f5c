/*
 * wrender.h - prepares a claimed try's fields just before it runs: a mapped
 * instance's expand values (dynamic task mapping), then the templated
 * fields (model/template.h): bash_command, every env value, and every
 * string inside the operator arguments that model/operator.h marks
 * templated.
 *
 * The context is the try's: ids, try number, map index, the run's logical
 * date and data interval, the previous successful run's interval (looked up
 * only when a field names it), params and dag_run.conf (the run's conf,
 * params' defaults already merged into it), variables and connections
 * (environment first, then the database, decrypted with the worker's
 * core.fernet_key) and XComs of the same DAG run.
 */
#ifndef UPDRAFT_WORKER_WRENDER_H
#define UPDRAFT_WORKER_WRENDER_H

#include <stddef.h>

#include "core/db.h"
#include "core/secrets.h"
#include "worker/logbuf.h"
#include "worker/wtry.h"

/*
 * Dynamic task mapping: when t's spec has "expand", applies this
 * instance's element of every expand key (literal lists from the spec;
 * {"xcom_task": id} is the return_value XCom of that task, map index -1,
 * in the same DAG run: a JSON array, or an object whose items count as
 * [key, value] pairs, or either as JSON text, see xcom_mappable). The element is picked by
 * Airflow's index decomposition (opsem_map_pick) and applied: bash_command (a value that is not a
 * string becomes its JSON text), env (an object merged over the task's env), op_args (a value that
 * is not a list becomes [value]), op_kwargs (an object merged over partial's op_kwargs), any other
 * argument replaced. Returns 0 (nothing to do when t is not mapped), or
 * -1 with err filled: an instance without a map index, a missing or
 * unusable XCom, a map index out of range, a database error.
 */
int wrender_apply_map(db_t *db, wtry_t *t, char *err, size_t errlen);

/*
 * Renders t's bash_command, env values and templated arguments in place. Every secret value the
 * render met (connection passwords and extras, sensitive variables, values
 * under secret-looking keys of JSON documents) is added to lb's masks, and
 * so are the values under secret-looking keys of the run's conf, which
 * the task also sees in its environment. Returns 0, or -1 with err filled: "bash_command:
 * line 1, column 6: 'x' is undefined" (the try must fail). ring may be
 * NULL (no key: encrypted values cannot be read).
 */
int wrender_try(db_t *db, const secrets_keyring_t *ring, wtry_t *t, logbuf_t *lb, char *err,
                size_t errlen);

/*
 * The try's templated fields as wrender_try left them, as the JSON text
 * of Airflow's rendered_fields: one member per template field of the
 * operator (operator_template_fields: bash_command, env and cwd for the
 * bash family, then the templated arguments; null when unset). Masked as
 * the try's log is: the values under secret-looking keys of env and of
 * the arguments (model/sensitive.h), then every secret value in lb
 * (logbuf_mask_copy). A string, or the JSON text of an object or list,
 * longer than max_len characters becomes Airflow's truncated form (a
 * string that starts "Truncated. You can change this behaviour in
 * [core]max_templated_field_length. "). The caller frees the text; NULL
 * when out of memory.
 */
char *wrender_fields_json(const wtry_t *t, const logbuf_t *lb, size_t max_len);

#endif
