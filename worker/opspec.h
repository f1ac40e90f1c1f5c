/*
 * opspec.h - the spec file the worker hands the operator runner
 * (worker/ops.h describes its layout; worker/opexec.c reads it).
 *
 * The file holds the try's arguments (mapped values applied, templates
 * rendered), its context, the connections its arguments name (passwords
 * included) and, for the operators that read or write updraft's own
 * tables, the database URL. It is created 0600 in $TMPDIR and the runner
 * unlinks it as soon as it has read it; every secret it holds is added to
 * the try's log masks first.
 */
#ifndef UPDRAFT_WORKER_OPSPEC_H
#define UPDRAFT_WORKER_OPSPEC_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/db.h"
#include "core/secrets.h"
#include "worker/logbuf.h"
#include "worker/wtry.h"

#define OPSPEC_PATH_LEN 96

typedef struct opspec_opts {
    size_t max_xcom_size;
    const char *db_url;      /* the worker's database URL (metadata_db), may be NULL */
    bool db_pooled;          /* db_url is a transaction pooler (metadata_db_pooled) */
    const char *result_path; /* the result file the runner writes (reschedule delay) */
} opspec_opts_t;

/*
 * Creates an empty 0600 file $TMPDIR/updraft-<what>-XXXXXX (path:
 * OPSPEC_PATH_LEN bytes). Returns its open descriptor, or -1 with err
 * filled and path "".
 */
int opspec_temp_file(char *path, const char *what, char *err, size_t errlen);

/*
 * The connection ids t's arguments name: http_conn_id (default
 * "http_default") for the HTTP operator and sensor; conn_id or
 * postgres_conn_id (default "postgres_default") for the SQL operator and
 * sensor; fs_conn_id for the file sensor when it is given. Fills ids (up
 * to max) and returns how many.
 */
size_t opspec_conn_ids(const wtry_t *t, const char **ids, size_t max);

/*
 * Writes t's spec into a new file (path: OPSPEC_PATH_LEN bytes).
 * Connections are looked up as templates see them (environment first,
 * then the database, decrypted with ring); a connection that does not
 * exist is left out (the operator reports it). Their passwords and extras
 * (and sensitive extra values), and the password in db_url, are added to
 * lb's masks. Returns 0, or -1 with err filled (nothing left behind).
 */
int opspec_write(db_t *db, const secrets_keyring_t *ring, const wtry_t *t, const opspec_opts_t *o,
                 logbuf_t *lb, char *path, char *err, size_t errlen);

/*
 * Opens for reading a file the task had in its hands (the XCom file, the
 * runner's result file): only a regular file owned by owner, never
 * through a symlink and never blocking (a task that put a FIFO, or a link
 * to a file of the worker's, in its place gets an error, not the worker's
 * file). NULL with errno set (ENOENT: the task removed it; ELOOP, EINVAL
 * for anything but a regular file, EPERM for another owner).
 */
FILE *opspec_open_task_file(const char *path, uid_t owner);

/*
 * Reads the result file the runner wrote: {"reschedule_delay": seconds}
 * (opened as opspec_open_task_file does). Returns the delay, or -1 when
 * the file has none.
 */
long long opspec_read_reschedule(const char *path, uid_t owner);

#endif
