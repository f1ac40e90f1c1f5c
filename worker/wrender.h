/*
 * wrender.h - renders a claimed try's templated fields just before it runs
 * (common/template.h): bash_command and every env value.
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

#include "common/db.h"
#include "common/secrets.h"
#include "worker/logbuf.h"
#include "worker/wtry.h"

/*
 * Renders t's bash_command and env values in place. Every secret value the
 * render met (connection passwords and extras, sensitive variables) is
 * added to lb's masks. Returns 0, or -1 with err filled: "bash_command:
 * line 1, column 6: 'x' is undefined" (the try must fail). ring may be
 * NULL (no key: encrypted values cannot be read).
 */
int wrender_try(db_t *db, const secrets_keyring_t *ring, wtry_t *t, logbuf_t *lb, char *err,
                size_t errlen);

#endif
