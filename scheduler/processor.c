/*
 * processor.c - see processor.h.
 *
 * A scan is: list the folder; read what Postgres remembers (dag_file hashes
 * and import_error file names); for every file whose hash differs (or that
 * has an import error) load it with dag_load_file() and store the result in
 * one transaction; then forget the files that are gone (their import
 * errors deleted, their DAGs deactivated). A database failure abandons the
 * file at hand (rolled back, retried on the next scan); a broken file is
 * an import_error row, never a reason to stop.
 *
 * A DAG whose id is already active in another existing file is refused
 * for this file (an import error naming the other file). DAGs that
 * disappeared from a file are deactivated only when the file loaded
 * without errors: while a file is broken, its DAGs keep running on their
 * last good version.
 */
#include "scheduler/processor.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dag.h"
#include "common/db.h"
#include "common/log.h"
#include "scheduler/loop.h"
#include "scheduler/runs.h"

#define PROC_MAX_FILES 100000
#define PROC_MAX_DEPTH 64
#define PROC_BACKOFF_MAX_MS 5000

/* ---- hashing ---------------------------------------------------------- */

static void to_hex(const unsigned char *md, unsigned n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
}

int processor_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
        return -1;
    to_hex(md, n, out);
    return 0;
}

/* Adds a file's name and content to the digest; a missing file adds nothing. */
static int hash_file(EVP_MD_CTX *ctx, const char *path, bool with_name)
{
    char buf[65536];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    if (with_name && !EVP_DigestUpdate(ctx, path, strlen(path) + 1))
        goto fail;
    if (st.st_size > DAG_FILE_MAX) {
        /* The loader refuses it anyway; the size stands for the content. */
        char sz[32];
        int n = snprintf(sz, sizeof(sz), "size:%lld", (long long)st.st_size);
        close(fd);
        return EVP_DigestUpdate(ctx, sz, (size_t)n) ? 0 : -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)r))
            goto fail;
    }
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}

/*
 * Hash of the file and of the defaults files that apply to it (its folder
 * and each parent up to root).
 */
static int hash_dag_file(const char *path, const char *root, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    char dir[PATH_MAX], cand[PATH_MAX + 16];
    int rc = -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        goto out;
    if (hash_file(ctx, path, false) < 0)
        goto out;
    snprintf(dir, sizeof(dir), "%s", path);
    size_t rootlen = strlen(root);
    for (int depth = 0; depth < PROC_MAX_DEPTH; depth++) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            break;
        *slash = '\0';
        if (strlen(dir) < rootlen)
            break;
        snprintf(cand, sizeof(cand), "%s/defaults.yml", dir);
        if (hash_file(ctx, cand, true) < 0)
            goto out;
        snprintf(cand, sizeof(cand), "%s/defaults.yaml", dir);
        if (hash_file(ctx, cand, true) < 0)
            goto out;
        if (!strcmp(dir, root))
            break;
    }
    if (!EVP_DigestFinal_ex(ctx, md, &n))
        goto out;
    to_hex(md, n, out);
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* ---- listing ---------------------------------------------------------- */

typedef struct file_list {
    char **paths;
    size_t n, cap;
    dev_t *vdev; /* folders visited (symlinks are followed once) */
    ino_t *vino;
    size_t nv, capv;
    bool truncated;
} file_list_t;

static void file_list_free(file_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->vdev);
    free(l->vino);
    memset(l, 0, sizeof(*l));
}

static int file_list_add(file_list_t *l, const char *path)
{
    if (l->n >= PROC_MAX_FILES) {
        l->truncated = true;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof(*p));
        if (!p)
            return -1;
        l->paths = p;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(path)))
        return -1;
    l->n++;
    return 0;
}

/* True when the folder was seen already; else remembers it. */
static bool visited(file_list_t *l, const struct stat *st)
{
    for (size_t i = 0; i < l->nv; i++)
        if (l->vdev[i] == st->st_dev && l->vino[i] == st->st_ino)
            return true;
    if (l->nv == l->capv) {
        size_t cap = l->capv ? l->capv * 2 : 32;
        dev_t *d = realloc(l->vdev, cap * sizeof(*d));
        if (d)
            l->vdev = d;
        ino_t *i = realloc(l->vino, cap * sizeof(*i));
        if (i)
            l->vino = i;
        if (!d || !i)
            return true; /* out of memory: do not descend */
        l->capv = cap;
    }
    l->vdev[l->nv] = st->st_dev;
    l->vino[l->nv] = st->st_ino;
    l->nv++;
    return false;
}

static int list_dir(file_list_t *l, const char *dir, int depth)
{
    struct stat st;
    if (depth > PROC_MAX_DEPTH || stat(dir, &st) < 0 || visited(l, &st))
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("cannot list folder path=%s error=\"%s\"", dir, strerror(errno));
        return 0;
    }
    int rc = 0;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* hidden, . and .. */
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        if (stat(path, &st) < 0)
            continue; /* dangling symlink, or gone */
        if (S_ISDIR(st.st_mode)) {
            if (list_dir(l, path, depth + 1) < 0) {
                rc = -1;
                break;
            }
        } else if (S_ISREG(st.st_mode) && dag_is_dag_file(e->d_name)) {
            if (file_list_add(l, path) < 0) {
                rc = -1;
                break;
            }
        }
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- storing ---------------------------------------------------------- */

typedef struct proc {
    processor_args_t *a;
    db_t *db;
    char root[PATH_MAX];
    file_list_t files;
} proc_t;

static bool file_listed(const proc_t *p, const char *path)
{
    return bsearch(&path, p->files.paths, p->files.n, sizeof(char *), cmp_str) != NULL;
}

static const char *ts_param(ts_us_t t, char *buf)
{
    return t == TS_NONE ? NULL : ts_format_iso(t, buf);
}

/* Appends a line to a malloc'd text (*text may be NULL). -1 on OOM. */
static int append_line(char **text, const char *line)
{
    size_t old = *text ? strlen(*text) : 0, add = strlen(line);
    char *t = realloc(*text, old + add + 2);
    if (!t)
        return -1;
    if (old && t[old - 1] != '\n')
        t[old++] = '\n';
    memcpy(t + old, line, add + 1);
    *text = t;
    return 0;
}

/* Upserts the dag row and, when changed, a new version. -1 on a database error. */
static int store_dag(proc_t *p, const dag_t *dag, bool *changed)
{
    const config_t *cfg = p->a->cfg;
    char sd[TS_ISO_LEN], ed[TS_ISO_LEN], mar[16], mat[16], hash[65], vnum[16];
    char *tags = NULL, *doc = NULL;
    cJSON *tj = NULL, *json = NULL;
    PGresult *r = NULL;
    int rc = -1;

    tj = cJSON_CreateArray();
    for (size_t i = 0; tj && i < dag->n_tags; i++)
        cJSON_AddItemToArray(tj, cJSON_CreateString(dag->tags[i]));
    json = dag_to_json(dag);
    if (!tj || !json || !(tags = cJSON_PrintUnformatted(tj)) ||
        !(doc = cJSON_PrintUnformatted(json)) || processor_sha256_hex(doc, strlen(doc), hash) < 0) {
        log_error("out of memory storing dag_id=%s", dag->dag_id);
        goto out;
    }
    bool catchup = dag->catchup < 0 ? cfg->scheduler.catchup_by_default : dag->catchup != 0;
    bool paused = dag->is_paused_upon_creation < 0 ? cfg->core.dags_are_paused_at_creation
                                                   : dag->is_paused_upon_creation != 0;
    snprintf(mar, sizeof(mar), "%d", dag->max_active_runs);
    snprintf(mat, sizeof(mat), "%d", dag->max_active_tasks);
    const char *p1[] = {dag->dag_id,
                        dag->fileloc,
                        dag->description,
                        dag->schedule,
                        catchup ? "true" : "false",
                        ts_param(dag->start_date, sd),
                        ts_param(dag->end_date, ed),
                        tags,
                        dag->owner ? dag->owner : "airflow",
                        mar,
                        mat,
                        paused ? "true" : "false"};
    if (db_exec(p->db, "proc_upsert_dag",
                "INSERT INTO dag (dag_id, fileloc, description, schedule, catchup, start_date,"
                " end_date, tags, owners, max_active_runs, max_active_tasks, is_paused, is_active,"
                " last_parsed_time)"
                " VALUES ($1, $2, $3, $4, $5::bool, $6, $7,"
                "  ARRAY(SELECT jsonb_array_elements_text($8::jsonb)), $9, $10::int, $11::int,"
                "  $12::bool, true, now())"
                " ON CONFLICT (dag_id) DO UPDATE SET fileloc = EXCLUDED.fileloc,"
                "  description = EXCLUDED.description, schedule = EXCLUDED.schedule,"
                "  catchup = EXCLUDED.catchup, start_date = EXCLUDED.start_date,"
                "  end_date = EXCLUDED.end_date, tags = EXCLUDED.tags, owners = EXCLUDED.owners,"
                "  max_active_runs = EXCLUDED.max_active_runs,"
                "  max_active_tasks = EXCLUDED.max_active_tasks, is_active = true,"
                "  last_parsed_time = now()",
                12, p1) < 0)
        goto out;

    const char *p2[] = {dag->dag_id};
    r = db_query(p->db, "proc_latest_version",
                 "SELECT id, hash, version_number FROM dag_version WHERE dag_id = $1"
                 " ORDER BY version_number DESC LIMIT 1",
                 1, p2);
    if (!r)
        goto out;
    int prev = 0;
    if (PQntuples(r) > 0) {
        prev = db_get_int(r, 0, 2);
        if (!strcmp(PQgetvalue(r, 0, 1), hash)) {
            const char *p3[] = {dag->dag_id, PQgetvalue(r, 0, 0)};
            if (db_exec(p->db, "proc_set_version",
                        "UPDATE dag SET version_id = $2::bigint WHERE dag_id = $1"
                        " AND version_id IS DISTINCT FROM $2::bigint",
                        2, p3) < 0)
                goto out;
            rc = 0;
            goto next;
        }
    }
    PQclear(r);
    snprintf(vnum, sizeof(vnum), "%d", prev + 1);
    const char *p4[] = {dag->dag_id, vnum, hash, doc, dag->fileloc};
    r = db_query(p->db, "proc_insert_version",
                 "WITH v AS (INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)"
                 "  VALUES ($1, $2::int, $3, $4::jsonb, $5) RETURNING id)"
                 " UPDATE dag SET version_id = (SELECT id FROM v) WHERE dag_id = $1"
                 " RETURNING version_id",
                 5, p4);
    if (!r)
        goto out;
    log_info("dag version stored dag_id=%s version=%d", dag->dag_id, prev + 1);
    *changed = true;
    rc = 0;
next:
    if (runs_update_next(p->db, dag->dag_id) < 0)
        rc = -1;
out:
    PQclear(r);
    cJSON_Delete(tj);
    cJSON_Delete(json);
    cJSON_free(tags);
    cJSON_free(doc);
    return rc;
}

/*
 * Loads and stores one file. Returns 0 (also for a broken file), or -1 on
 * a database error (rolled back).
 */
static int process_file(proc_t *p, const char *path, const char *hash, bool *changed)
{
    dag_list_t dags;
    dag_diags_t diags;
    char *errors = NULL, line[2 * PATH_MAX + DAG_ID_MAX + 64];
    cJSON *ids = cJSON_CreateArray();
    char *ids_text = NULL;
    PGresult *r = NULL;
    int rc = -1;
    bool ok = true;

    dag_list_init(&dags);
    dag_diags_init(&diags);
    int nerr = dag_load_file(path, p->root, &dags, &diags);
    if (nerr != 0) {
        ok = false;
        errors = dag_diags_format(&diags, false);
    }
    if (!ids) {
        log_error("out of memory");
        goto out;
    }
    if (db_begin(p->db) < 0)
        goto out;
    for (size_t i = 0; i < dags.n; i++) {
        const dag_t *dag = dags.items[i];
        const char *pd[] = {dag->dag_id, path};
        r = db_query(p->db, "proc_dup",
                     "SELECT fileloc FROM dag WHERE dag_id = $1 AND is_active AND fileloc <> $2"
                     " FOR UPDATE",
                     2, pd);
        if (!r)
            goto out;
        if (PQntuples(r) > 0 && file_listed(p, PQgetvalue(r, 0, 0))) {
            snprintf(line, sizeof(line), "%s: dag '%s' is already defined in '%s'", path,
                     dag->dag_id, PQgetvalue(r, 0, 0));
            if (append_line(&errors, line) < 0)
                goto out;
            log_warn("duplicate dag id dag_id=%s path=%s other=%s", dag->dag_id, path,
                     PQgetvalue(r, 0, 0));
            ok = false;
            PQclear(r);
            r = NULL;
            continue;
        }
        PQclear(r);
        r = NULL;
        if (store_dag(p, dag, changed) < 0)
            goto out;
        cJSON_AddItemToArray(ids, cJSON_CreateString(dag->dag_id));
    }
    if (!(ids_text = cJSON_PrintUnformatted(ids)))
        goto out;
    const char *pf[] = {path, ids_text};
    if (ok) {
        long n = db_exec(p->db, "proc_deactivate_vanished",
                         "UPDATE dag SET is_active = false WHERE fileloc = $1 AND is_active"
                         " AND dag_id <> ALL (ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))",
                         2, pf);
        if (n < 0)
            goto out;
        if (n > 0) {
            log_info("dags removed from file deactivated path=%s count=%ld", path, n);
            *changed = true;
        }
        if (db_exec(p->db, "proc_clear_error", "DELETE FROM import_error WHERE filename = $1", 1,
                    pf) < 0)
            goto out;
    } else {
        const char *pe[] = {path, errors ? errors : "unknown error"};
        if (db_exec(p->db, "proc_set_error",
                    "INSERT INTO import_error (filename, stack_trace) VALUES ($1, $2)"
                    " ON CONFLICT (filename) DO UPDATE SET stack_trace = EXCLUDED.stack_trace,"
                    "  \"timestamp\" = now()"
                    " WHERE import_error.stack_trace IS DISTINCT FROM EXCLUDED.stack_trace",
                    2, pe) < 0)
            goto out;
    }
    const char *pr[] = {path, hash, ids_text};
    if (db_exec(p->db, "proc_file",
                "INSERT INTO dag_file (path, hash, dag_ids, last_parsed_at)"
                " VALUES ($1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), now())"
                " ON CONFLICT (path) DO UPDATE SET hash = EXCLUDED.hash,"
                "  dag_ids = EXCLUDED.dag_ids, last_parsed_at = now()",
                3, pr) < 0)
        goto out;
    if (db_commit(p->db) < 0)
        goto out;
    if (ok)
        log_debug("dag file stored path=%s dags=%zu", path, dags.n);
    else
        log_warn("dag file has errors path=%s dags=%zu", path, dags.n);
    rc = 0;
out:
    if (rc < 0)
        db_rollback(p->db);
    PQclear(r);
    cJSON_Delete(ids);
    cJSON_free(ids_text);
    free(errors);
    dag_list_free(&dags);
    dag_diags_free(&diags);
    return rc;
}

/* A file that is gone: its errors go, its DAGs are deactivated. */
static int forget_file(proc_t *p, const char *path)
{
    const char *pp[] = {path};
    if (db_begin(p->db) < 0)
        goto fail;
    long n;
    if (db_exec(p->db, "proc_gone_error", "DELETE FROM import_error WHERE filename = $1", 1, pp) <
            0 ||
        (n = db_exec(p->db, "proc_gone_dags",
                     "UPDATE dag SET is_active = false WHERE fileloc = $1 AND is_active", 1, pp)) <
            0 ||
        db_exec(p->db, "proc_gone_file", "DELETE FROM dag_file WHERE path = $1", 1, pp) < 0 ||
        db_commit(p->db) < 0)
        goto fail;
    log_info("dag file removed path=%s dags_deactivated=%ld", path, n);
    return 0;
fail:
    db_rollback(p->db);
    return -1;
}

/* One scan. Returns 0, or -1 when a database error cut it short. */
static int scan(proc_t *p, bool *changed)
{
    PGresult *known = NULL, *errs = NULL;
    int rc = -1;
    char real[PATH_MAX];

    file_list_free(&p->files);
    if (!realpath(p->a->cfg->core.dags_folder, real)) {
        log_warn("dags folder unavailable, skipping scan path=%s error=\"%s\"",
                 p->a->cfg->core.dags_folder, strerror(errno));
        return 0;
    }
    snprintf(p->root, sizeof(p->root), "%s", real);
    if (list_dir(&p->files, p->root, 0) < 0) {
        log_error("out of memory listing the dags folder");
        return 0;
    }
    if (p->files.truncated)
        log_warn("too many files in the dags folder; reading the first max=%d", PROC_MAX_FILES);
    qsort(p->files.paths, p->files.n, sizeof(char *), cmp_str);

    known = db_query(p->db, "proc_known",
                     "SELECT path, hash FROM dag_file ORDER BY path COLLATE \"C\"", 0, NULL);
    errs = db_query(p->db, "proc_errors",
                    "SELECT filename FROM import_error ORDER BY filename COLLATE \"C\"", 0, NULL);
    if (!known || !errs)
        goto out;
    int nk = PQntuples(known), ne = PQntuples(errs), k = 0, e = 0;
    for (size_t i = 0; i < p->files.n && !*p->a->stop; i++) {
        const char *path = p->files.paths[i];
        char hash[65];
        while (k < nk && strcmp(PQgetvalue(known, k, 0), path) < 0)
            k++;
        while (e < ne && strcmp(PQgetvalue(errs, e, 0), path) < 0)
            e++;
        bool has_error = e < ne && !strcmp(PQgetvalue(errs, e, 0), path);
        if (hash_dag_file(path, p->root, hash) < 0) {
            log_warn("cannot read dag file path=%s error=\"%s\"", path, strerror(errno));
            continue;
        }
        if (!has_error && k < nk && !strcmp(PQgetvalue(known, k, 0), path) &&
            !strcmp(PQgetvalue(known, k, 1), hash))
            continue;
        log_debug("parsing dag file path=%s", path);
        bool before = *changed;
        *changed = true; /* import errors and dag rows may have changed */
        if (process_file(p, path, hash, changed) < 0) {
            *changed = before;
            if (!db_ok(p->db))
                goto out;
        }
    }
    /* Files that are gone. Skipped when the listing was cut short. */
    for (int i = 0; i < nk && !p->files.truncated && !*p->a->stop; i++) {
        const char *path = PQgetvalue(known, i, 0);
        if (file_listed(p, path))
            continue;
        if (forget_file(p, path) < 0)
            goto out;
        *changed = true;
    }
    rc = 0;
out:
    PQclear(known);
    PQclear(errs);
    return rc;
}

static void wait_on(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) > 0) {
        uint64_t v;
        ssize_t r = read(fd, &v, sizeof(v));
        (void)r;
    }
}

void *processor_thread(void *arg)
{
    processor_args_t *a = arg;
    proc_t p = {.a = a};
    int backoff = 100;

    while (!*a->stop && !p.db) {
        char err[512];
        p.db = db_connect(a->cfg->database.url, err, sizeof(err));
        if (!p.db) {
            log_warn("database unavailable, retrying error=\"%s\"", err);
            wait_on(a->wake_fd, backoff);
            backoff = backoff * 2 > PROC_BACKOFF_MAX_MS ? PROC_BACKOFF_MAX_MS : backoff * 2;
        }
    }
    while (!*a->stop) {
        if (!db_ok(p.db) && db_ensure(p.db, -1, a->stop) < 0)
            break;
        bool changed = false;
        int64_t t0 = ts_mono_us();
        int rc = scan(&p, &changed);
        if (changed)
            loop_wake(a->loop_wake_fd);
        log_debug("dags folder scanned files=%zu ms=%lld", p.files.n,
                  (long long)((ts_mono_us() - t0) / 1000));
        if (rc < 0)
            log_warn("dag scan interrupted by a database error error=\"%s\"", db_error(p.db));
        if (*a->stop)
            break;
        wait_on(a->wake_fd, a->cfg->scheduler.dag_dir_list_interval * 1000);
    }
    file_list_free(&p.files);
    db_close(p.db);
    log_info("dag processor stopped");
    return NULL;
}
