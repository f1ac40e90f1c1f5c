/*
 * api_dagsource.c - GET /api/v1/dagSources/{file_token} (Airflow 2's
 * get_dag_source): the text of a DAG file, as text/plain when the client
 * prefers it, else {"content": ...}.
 *
 * The token is the one the DAG answers carry (store/dags.h,
 * DAGS_FILE_TOKEN_SQL). It is never decoded into a path: the database
 * names the file whose token it is (a DAG's fileloc), and that file is
 * read only when its real path (symbolic links resolved) lies inside the
 * real path of core.dags_folder. Anything else, a file that is gone
 * included, is the same 404, so the answer tells nothing about the
 * filesystem. The webserver reads the file itself: it must see the DAGs
 * folder (on another host, every token is a 404).
 */
#include "webserver/api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/regfile.h"
#include "core/utf8.h"
#include "store/dags.h"
#include "webserver/http.h"

#define DAG_SOURCE_MAX (16 << 20) /* a DAG file larger than this is not served */
#define FILE_TOKEN_MAX 8192       /* the token of a path of PATH_MAX bytes fits */

/* Whether path lies strictly inside dir (both real paths). */
static bool path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (n == 1 && dir[0] == '/')
        return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

/*
 * Reads the regular file fileloc, when it lies inside dags_folder, into
 * *text (malloc'd, NUL-terminated) of *len bytes. UPDRAFT_OK,
 * UPDRAFT_ENOTFOUND (outside the folder, gone, not a regular file, too
 * large), UPDRAFT_EIO or UPDRAFT_ENOMEM.
 */
static int read_dag_file(const char *dags_folder, const char *fileloc, char **text, size_t *len)
{
    char folder[PATH_MAX], real[PATH_MAX];
    struct stat st;
    ssize_t got = 0;
    int fd, rc = UPDRAFT_ENOTFOUND;

    *text = NULL;
    *len = 0;
    if (!realpath(dags_folder, folder) || !realpath(fileloc, real) || !path_inside(real, folder))
        return UPDRAFT_ENOTFOUND;
    /* real holds no symbolic link; O_NOFOLLOW refuses one put there since.
     * A FIFO or device put there is not opened to wait (regfile.h). */
    if (regfile_open(real, O_NOFOLLOW, &fd, &st) != UPDRAFT_OK)
        return UPDRAFT_ENOTFOUND;
    if (st.st_size > DAG_SOURCE_MAX)
        goto out;
    rc = UPDRAFT_ENOMEM;
    if (!(*text = malloc((size_t)st.st_size + 1)))
        goto out;
    rc = UPDRAFT_EIO;
    while (*len < (size_t)st.st_size) {
        got = read(fd, *text + *len, (size_t)st.st_size - *len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* shrank while read: serve what was there */
        *len += (size_t)got;
    }
    if (got < 0)
        goto out;
    (*text)[*len] = '\0';
    rc = UPDRAFT_OK;
out:
    if (rc != UPDRAFT_OK) {
        free(*text);
        *text = NULL;
    }
    close(fd);
    return rc;
}

static int source_not_found(api_req_t *r)
{
    return api_not_found(r, "Dag source not found", "Dag source not found");
}

/* Sends the file's text in the form the client prefers. */
static int send_source(api_req_t *r, const char *text, size_t len)
{
    jsonw_t w;
    int status;

    if (http_prefers_text(r->conn)) {
        http_send(r->conn, 200, "text/plain", text, len);
        return 200;
    }
    if (strlen(text) != len || !utf8_valid(text, len)) {
        http_send_problem(r->conn, 500, NULL, "the DAG file is not UTF-8 text");
        return 500;
    }
    jsonw_init(&w, len + len / 8 + 32);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "content");
    jsonw_strn(&w, text, len);
    jsonw_obj_end(&w);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}

int api_get_dag_source(api_req_t *r)
{
    const char *token = r->cap[0];
    char *fileloc = NULL, *text = NULL;
    size_t len = 0;
    int rc, status;

    if (strlen(token) > FILE_TOKEN_MAX)
        return source_not_found(r);
    rc = dags_fileloc_of_token(r->db, token, &fileloc);
    if (rc == UPDRAFT_ENOTFOUND)
        return source_not_found(r);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    rc = read_dag_file(r->api->cfg->core.dags_folder, fileloc, &text, &len);
    if (rc == UPDRAFT_ENOTFOUND) {
        status = source_not_found(r);
    } else if (rc < 0) {
        log_warn("dag source unreadable error=\"%s\"", updraft_strerror(rc));
        status = api_fail(r, rc, NULL, "the DAG file could not be read");
    } else {
        status = send_source(r, text, len);
    }
    free(text);
    free(fileloc);
    return status;
}
