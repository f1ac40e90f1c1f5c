/*
 * processor.c - see processor.h.
 *
 * A scan is: list the folder with one stat() per entry; decide per file
 * whether it changed (stat identity against memory, then content hash
 * against memory, or against dag_file after a restart or a database
 * error); load the changed ones with dag_load_file() into a batch, turning
 * each DAG into its row and serialized document at once (the dag_t is
 * freed there and then); store each batch in one transaction; then forget
 * the files that are gone (their import errors deleted, their DAGs
 * deactivated). A database failure abandons the batch at hand (rolled
 * back; its files are retried on the next scan); a broken file is an
 * import_error row, never a reason to stop.
 *
 * A file is trusted unchanged on stat alone only when it was last modified
 * more than PROC_RACY_US before the scan that hashed it: a write landing in
 * the same timestamp tick as the read would otherwise go unseen.
 *
 * A DAG whose id is already active in another existing file is refused
 * for this file (an import error naming the other file). Inside a batch
 * the same rule holds: the file that owns the id in the database keeps it
 * while it still defines it (or is broken), else the first file in path
 * order takes it. DAGs that disappeared from a file are deactivated only
 * when the file loaded without errors: while a file is broken, its DAGs
 * keep running on their last good version.
 *
 * dag.next_dagrun is recomputed (runs_update_next) only for DAGs that are
 * new, reactivated, or whose schedule, start/end date or catchup changed;
 * a new DAG without a schedule keeps the NULLs it was inserted with.
 *
 * Each file parsed records its parse time (dag_processing.last_duration,
 * labelled with its path under the DAGs folder); each completed scan its
 * own time, and the active DAGs and import errors as the database counts
 * them after it (docs/metrics.md).
 *
 * The statements are store/dags.c's (the batch store),
 * store/import_errors.c's and store/gauges.c's; this file decides what they
 * are given.
 */
#include "scheduler/processor.h"
#include "scheduler/wake.h"

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

#include "model/dag.h"
#include "model/dagignore.h"
#include "core/db.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/regfile.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "scheduler/loop.h"
#include "scheduler/runs.h"
#include "store/dags.h"
#include "store/gauges.h"
#include "store/import_errors.h"

#define PROC_MAX_FILES 100000
#define PROC_MAX_DEPTH 64
#define PROC_BATCH_FILES 200       /* files per store transaction */
#define PROC_BATCH_DAGS 500        /* DAGs per store transaction (a file is never split) */
#define PROC_BATCH_BYTES (8 << 20) /* serialized DAG bytes per store transaction */
#define PROC_GONE_BATCH 1000       /* removed files per statement */
#define PROC_RACY_US 2000000LL
#define PROC_CODE_MAX (1 << 20) /* a DAG file's text kept per version, at most (cut beyond) */

/* ---- progress ---------------------------------------------------------- */

/* Marks progress now (status NULL: nobody listens). */
static void processor_progress(processor_status_t *status)
{
    if (status)
        atomic_store(&status->progress_us, ts_mono_us());
}

/* A scan (or the connection before one) starts, or ends. */
static void processor_busy(processor_status_t *status, bool busy)
{
    if (!status)
        return;
    atomic_store(&status->progress_us, ts_mono_us());
    atomic_store(&status->busy, busy);
}

int64_t processor_stalled_us(const processor_status_t *s)
{
    if (!atomic_load(&s->busy))
        return 0;
    int64_t d = ts_mono_us() - atomic_load(&s->progress_us);
    return d > 0 ? d : 0;
}

/* ---- hashing ---------------------------------------------------------- */

int processor_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
        return -1;
    hash_hex(md, n, out);
    return 0;
}

/*
 * Adds a file's name and content to the digest; a missing file adds
 * nothing, one that is not a regular file (a FIFO: never opened to wait)
 * its name and a mark, so that its appearing changes the hash.
 */
static int hash_file(EVP_MD_CTX *ctx, const char *path, bool with_name)
{
    char buf[65536];
    struct stat st;
    int fd, orc = regfile_open(path, 0, &fd, &st);
    if (orc == UPDRAFT_ENOTFOUND)
        return 0;
    if (orc == UPDRAFT_EINVALID) {
        static const char mark[] = "\0not a regular file";
        return EVP_DigestUpdate(ctx, path, strlen(path)) && EVP_DigestUpdate(ctx, mark, sizeof mark)
                   ? 0
                   : -1;
    }
    if (orc != UPDRAFT_OK)
        return -1;
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
    hash_hex(md, n, out);
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* ---- listing ---------------------------------------------------------- */

/* What stat() says about a file; equal stamps mean "not touched". */
typedef struct stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns, ctime_ns;
} stamp_t;

/* One listed file, and what the processor remembers of it between scans. */
typedef struct entry {
    char *path;
    stamp_t st;
    char hash[65];     /* content + defaults hash; "" when not known */
    bool stored;       /* dag_file holds this hash (the file needs no parse) */
    bool has_error;    /* stored with an import error: parsed again every scan, */
    bool parse_failed; /* unless its own content failed: then not until it changes */
    bool racy;         /* modified too recently to be trusted on stat alone */
    bool regular;      /* a regular file (else a FIFO, socket or device: an error) */
} entry_t;

typedef struct listing {
    entry_t *files; /* DAG files, sorted by path */
    size_t n, cap;
    entry_t *defaults; /* defaults.y*ml files, sorted by path (stamps only) */
    size_t nd, capd;
    dev_t *vdev; /* folders visited (symlinks are followed once) */
    ino_t *vino;
    size_t nv, capv;
    bool truncated;
} listing_t;

static void listing_free(listing_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->files[i].path);
    for (size_t i = 0; i < l->nd; i++)
        free(l->defaults[i].path);
    free(l->files);
    free(l->defaults);
    free(l->vdev);
    free(l->vino);
    memset(l, 0, sizeof(*l));
}

static void stamp_from(stamp_t *s, const struct stat *st)
{
    s->dev = st->st_dev;
    s->ino = st->st_ino;
    s->size = st->st_size;
    s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    s->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static bool stamp_eq(const stamp_t *a, const stamp_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static int entries_add(entry_t **v, size_t *n, size_t *cap, const char *path, const struct stat *st)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        entry_t *p = realloc(*v, ncap * sizeof(*p));
        if (!p)
            return -1;
        *v = p;
        *cap = ncap;
    }
    entry_t *e = &(*v)[*n];
    memset(e, 0, sizeof(*e));
    if (!(e->path = strdup(path)))
        return -1;
    stamp_from(&e->st, st);
    e->regular = S_ISREG(st->st_mode);
    (*n)++;
    return 0;
}

/* True when the folder was seen already; else remembers it. */
static bool visited(listing_t *l, const struct stat *st)
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

static bool is_defaults_name(const char *name)
{
    return !strcmp(name, "defaults.yml") || !strcmp(name, "defaults.yaml");
}

/*
 * The walk's .airflowignore state (model/dagignore.h): the rules of the
 * folders from the root down to the one being listed, and which ignore
 * files were reported as holding bad lines (one warning per version of a
 * file, not one per scan).
 */
static int append_line(char **text, const char *line);

typedef struct walk {
    dagignore_t *ig;
    size_t root_len;
    char *reported;     /* "path:size:mtime" lines reported by the previous scan */
    char *reported_now; /* the same, for this scan */
} walk_t;

/*
 * Adds dir's .airflowignore, if it has one, to the walk's rules. rel is
 * dir relative to the root ("" for the root). -1 only when out of memory.
 */
static int load_ignore_file(walk_t *w, const char *dir, const char *rel)
{
    char path[PATH_MAX], err[512], key[PATH_MAX + 64];
    struct stat st;
    int fd = -1, rc = 0;
    char *text = NULL;

    int n = snprintf(path, sizeof(path), "%s/%s", dir, DAGIGNORE_FILE);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    int e = regfile_open(path, 0, &fd, &st);
    if (e == UPDRAFT_ENOTFOUND)
        return 0;
    if (e != 0) {
        log_warn("cannot read ignore file path=%s error=\"%s\"", path,
                 e == UPDRAFT_EINVALID ? "not a regular file" : strerror(errno));
        return 0;
    }
    if (st.st_size > DAGIGNORE_MAX_BYTES) {
        log_warn("ignore file too large, not read path=%s bytes=%lld max=%d", path,
                 (long long)st.st_size, DAGIGNORE_MAX_BYTES);
        goto out;
    }
    if (!(text = malloc((size_t)st.st_size + 1))) {
        rc = -1;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* shrank while read: take what is there */
        got += (size_t)r;
    }
    int skipped = dagignore_add(w->ig, rel, text, got, err, sizeof(err));
    if (skipped < 0) {
        rc = -1;
        goto out;
    }
    if (skipped > 0) {
        snprintf(key, sizeof(key), "%s:%lld:%lld", path, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
        if (append_line(&w->reported_now, key) < 0) {
            rc = -1;
            goto out;
        }
        size_t klen = strlen(key);
        const char *seen = w->reported;
        bool known = false;
        while (seen && (seen = strstr(seen, key)) != NULL && !known) {
            known = (seen == w->reported || seen[-1] == '\n') &&
                    (seen[klen] == '\n' || seen[klen] == '\0');
            seen += klen;
        }
        if (!known)
            log_warn("ignore file patterns skipped path=%s count=%d first=\"%s\"", path, skipped,
                     err);
    }
out:
    free(text);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int list_dir(listing_t *l, processor_status_t *status, walk_t *w, const char *dir, int depth)
{
    struct stat st;
    if (depth > PROC_MAX_DEPTH || stat(dir, &st) < 0 || visited(l, &st))
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("cannot list folder path=%s error=\"%s\"", dir, strerror(errno));
        return 0;
    }
    processor_progress(status);
    size_t mark = dagignore_mark(w->ig);
    const char *rel_dir = strlen(dir) > w->root_len ? dir + w->root_len + 1 : "";
    int rc = load_ignore_file(w, dir, rel_dir);
    struct dirent *e;
    char path[PATH_MAX];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* hidden, . and .. */
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        if (stat(path, &st) < 0)
            continue; /* dangling symlink, or gone */
        if (dagignore_match(w->ig, path + w->root_len + 1, S_ISDIR(st.st_mode)))
            continue; /* as if it were not there: a folder is not entered */
        /* Anything but a folder under a DAG or defaults file's name is
         * listed, so that a FIFO or a device there becomes an import
         * error; none is ever opened to wait (regfile.h). */
        if (S_ISDIR(st.st_mode)) {
            rc = list_dir(l, status, w, path, depth + 1);
        } else if (dag_is_dag_file(e->d_name)) {
            if (l->n >= PROC_MAX_FILES)
                l->truncated = true;
            else
                rc = entries_add(&l->files, &l->n, &l->cap, path, &st);
        } else if (is_defaults_name(e->d_name)) {
            rc = entries_add(&l->defaults, &l->nd, &l->capd, path, &st);
        }
        if (rc < 0)
            break;
    }
    closedir(d);
    dagignore_truncate(w->ig, mark);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->path, ((const entry_t *)b)->path);
}

/* The entry for path in a sorted array, or NULL. */
static entry_t *entries_find(entry_t *v, size_t n, const char *path)
{
    entry_t key = {.path = (char *)path};
    return n ? bsearch(&key, v, n, sizeof(*v), cmp_entry) : NULL;
}

/*
 * Folders whose defaults files appeared, vanished or were touched since the
 * previous listing: every DAG file below them must be hashed again.
 */
typedef struct dirty_dirs {
    char **dirs;
    size_t n;
} dirty_dirs_t;

static void dirty_free(dirty_dirs_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->dirs[i]);
    free(d->dirs);
    memset(d, 0, sizeof(*d));
}

static int dirty_add(dirty_dirs_t *d, const char *defaults_path)
{
    const char *slash = strrchr(defaults_path, '/');
    size_t len = slash ? (size_t)(slash - defaults_path) : 0;
    char **v = realloc(d->dirs, (d->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    d->dirs = v;
    if (!(v[d->n] = strndup(defaults_path, len)))
        return -1;
    d->n++;
    return 0;
}

static int dirty_collect(dirty_dirs_t *d, const listing_t *old, const listing_t *now)
{
    size_t i = 0, j = 0;
    while (i < old->nd || j < now->nd) {
        int c = i == old->nd   ? 1
                : j == now->nd ? -1
                               : strcmp(old->defaults[i].path, now->defaults[j].path);
        if (c < 0) {
            if (dirty_add(d, old->defaults[i].path) < 0)
                return -1;
            i++;
        } else if (c > 0) {
            if (dirty_add(d, now->defaults[j].path) < 0)
                return -1;
            j++;
        } else {
            if (!stamp_eq(&old->defaults[i].st, &now->defaults[j].st) &&
                dirty_add(d, now->defaults[j].path) < 0)
                return -1;
            i++;
            j++;
        }
    }
    return 0;
}

static bool dirty_covers(const dirty_dirs_t *d, const char *path)
{
    for (size_t i = 0; i < d->n; i++) {
        size_t len = strlen(d->dirs[i]);
        if (!strncmp(path, d->dirs[i], len) && path[len] == '/')
            return true;
    }
    return false;
}

/* ---- batches ---------------------------------------------------------- */

typedef struct bfile {
    entry_t *e;    /* in the new listing */
    bool parse_ok; /* loaded without errors (before duplicate checks) */
    bool unread;   /* could not be read at all (I/O, memory): worth another try */
    bool ok;       /* and no DAG refused as a duplicate */
    char *errors;  /* import error text, malloc'd */
    cJSON *ids;    /* ids stored from this file (array) */
    cJSON *code;   /* fileloc, source, source_hash, source_size, truncated; NULL = none */
} bfile_t;

typedef struct bdag {
    char *dag_id;
    size_t file;    /* index into batch.files */
    cJSON *row;     /* dag row (object) */
    cJSON *version; /* dag_id, fileloc, hash, data (object) */
    bool refused;
} bdag_t;

typedef struct batch {
    bfile_t *files;
    size_t nf, capf;
    bdag_t *dags;
    size_t nd, capd;
    size_t bytes;
} batch_t;

static void batch_clear(batch_t *b)
{
    for (size_t i = 0; i < b->nf; i++) {
        free(b->files[i].errors);
        cJSON_Delete(b->files[i].ids);
        cJSON_Delete(b->files[i].code);
    }
    for (size_t i = 0; i < b->nd; i++) {
        free(b->dags[i].dag_id);
        cJSON_Delete(b->dags[i].row);
        cJSON_Delete(b->dags[i].version);
    }
    b->nf = b->nd = b->bytes = 0;
}

static void batch_free(batch_t *b)
{
    batch_clear(b);
    free(b->files);
    free(b->dags);
    memset(b, 0, sizeof(*b));
}

typedef struct proc {
    processor_args_t *a;
    db_t *db;
    char root[PATH_MAX];
    listing_t mem;         /* the previous scan's listing: what change detection needs */
    listing_t now;         /* the scan in progress */
    bool synced;           /* mem matches the database (else dag_file is the reference) */
    char *ignore_reported; /* ignore files whose bad lines were logged (walk_t) */
    batch_t batch;
    int parsed, changed, removed, errors;
} proc_t;

static bool file_listed(const proc_t *p, const char *path)
{
    return entries_find(p->now.files, p->now.n, path) != NULL;
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

static cJSON *add_ts(cJSON *o, const char *name, ts_us_t t)
{
    char buf[TS_ISO_LEN];
    return t == TS_NONE ? cJSON_AddNullToObject(o, name)
                        : cJSON_AddStringToObject(o, name, ts_format_iso(t, buf));
}

static cJSON *add_str(cJSON *o, const char *name, const char *v)
{
    return v ? cJSON_AddStringToObject(o, name, v) : cJSON_AddNullToObject(o, name);
}

/*
 * Turns one DAG into its dag row and its version document. The dag_t is
 * not kept: only these (and the document's hash) travel to the database.
 */
static int batch_add_dag(proc_t *p, const dag_t *dag)
{
    const config_t *cfg = p->a->cfg;
    batch_t *b = &p->batch;
    cJSON *json = NULL, *row = NULL, *ver = NULL, *tags;
    char *doc = NULL, hash[65];
    int rc = -1;

    if (b->nd == b->capd) {
        size_t cap = b->capd ? b->capd * 2 : 256;
        bdag_t *v = realloc(b->dags, cap * sizeof(*v));
        if (!v)
            return -1;
        b->dags = v;
        b->capd = cap;
    }
    json = dag_to_json(dag);
    if (!json || !(doc = cJSON_PrintUnformatted(json)) ||
        processor_sha256_hex(doc, strlen(doc), hash) < 0)
        goto out;
    bool catchup = dag->catchup < 0 ? cfg->scheduler.catchup_by_default : dag->catchup != 0;
    bool paused = dag->is_paused_upon_creation < 0 ? cfg->core.dags_are_paused_at_creation
                                                   : dag->is_paused_upon_creation != 0;
    row = cJSON_CreateObject();
    ver = cJSON_CreateObject();
    if (!row || !ver || !add_str(row, "dag_id", dag->dag_id) ||
        !add_str(row, "fileloc", dag->fileloc) || !add_str(row, "description", dag->description) ||
        !add_str(row, "schedule", dag->schedule) ||
        !cJSON_AddBoolToObject(row, "catchup", catchup) ||
        !add_ts(row, "start_date", dag->start_date) || !add_ts(row, "end_date", dag->end_date) ||
        !(tags = cJSON_AddArrayToObject(row, "tags")) ||
        !add_str(row, "owners", dag->owner ? dag->owner : "airflow") ||
        !cJSON_AddNumberToObject(row, "max_active_runs", dag->max_active_runs) ||
        !cJSON_AddNumberToObject(row, "max_active_tasks", dag->max_active_tasks) ||
        !cJSON_AddBoolToObject(row, "is_paused", paused) || !add_str(ver, "dag_id", dag->dag_id) ||
        !add_str(ver, "fileloc", dag->fileloc) || !add_str(ver, "hash", hash))
        goto out;
    for (size_t i = 0; i < dag->n_tags; i++) {
        cJSON *t = cJSON_CreateString(dag->tags[i]);
        if (!t || !cJSON_AddItemToArray(tags, t)) {
            cJSON_Delete(t);
            goto out;
        }
    }
    /* The document as printed (and hashed) goes in raw, not re-printed. */
    cJSON *raw = cJSON_CreateRaw(doc);
    if (!raw || !cJSON_AddItemToObject(ver, "data", raw)) {
        cJSON_Delete(raw);
        goto out;
    }
    bdag_t *d = &b->dags[b->nd];
    if (!(d->dag_id = strdup(dag->dag_id)))
        goto out;
    d->file = b->nf - 1;
    d->row = row;
    d->version = ver;
    d->refused = false;
    row = ver = NULL;
    b->nd++;
    b->bytes += strlen(doc);
    rc = 0;
out:
    cJSON_Delete(json);
    cJSON_Delete(row);
    cJSON_Delete(ver);
    cJSON_free(doc);
    return rc;
}

/*
 * The file's text as its versions keep it (dag_code): cut at PROC_CODE_MAX
 * on a character boundary, with its full size and hash. Text that is not
 * UTF-8 (or holds a NUL) is not kept: *out stays NULL. -1 on OOM.
 */
static int code_record(const char *path, const char *text, size_t len, cJSON **out)
{
    char hash[65];
    size_t keep = len;
    char *cut = NULL;
    cJSON *o = NULL;

    *out = NULL;
    if (!text || strlen(text) != len || processor_sha256_hex(text, len, hash) < 0)
        return 0;
    if (keep > PROC_CODE_MAX)
        keep = utf8_valid_prefix((const unsigned char *)text, PROC_CODE_MAX);
    if (!utf8_valid(text, keep))
        return 0;
    if (keep < len && !(cut = strndup(text, keep)))
        return -1;
    if (!(o = cJSON_CreateObject()) || !add_str(o, "fileloc", path) ||
        !add_str(o, "source", cut ? cut : text) || !add_str(o, "source_hash", hash) ||
        !cJSON_AddNumberToObject(o, "source_size", (double)len) ||
        !cJSON_AddBoolToObject(o, "truncated", keep < len)) {
        cJSON_Delete(o);
        free(cut);
        return -1;
    }
    free(cut);
    *out = o;
    return 0;
}

/* Loads one file into the batch. -1 on out-of-memory only. */
/* dag_processing.last_duration of one file, named relative to the DAGs folder. */
static void record_parse_time(const proc_t *p, const char *path, int64_t us)
{
    size_t n = strlen(p->root);
    const char *rel = path;
    if (!strncmp(path, p->root, n) && path[n] == '/')
        rel = path + n + 1;
    metric_gauge(M_DAG_PROCESSING_LAST_DURATION, (double)us / 1e6, rel, NULL, NULL);
}

static int batch_add_file(proc_t *p, entry_t *e)
{
    batch_t *b = &p->batch;
    dag_list_t dags;
    dag_diags_t diags;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    if (b->nf == b->capf) {
        size_t cap = b->capf ? b->capf * 2 : 64;
        bfile_t *v = realloc(b->files, cap * sizeof(*v));
        if (!v)
            return -1;
        b->files = v;
        b->capf = cap;
    }
    dag_list_init(&dags);
    dag_diags_init(&diags);
    bfile_t *f = &b->files[b->nf];
    memset(f, 0, sizeof(*f));
    f->e = e;
    if (!(f->ids = cJSON_CreateArray()))
        goto out;
    b->nf++;
    log_debug("parsing dag file path=%s", e->path);
    int64_t t0 = ts_mono_us();
    int nerr = dag_load_file_text(e->path, p->root, p->a->cfg->core.dag_env_allowlist, &dags,
                                  &diags, &text, &len);
    record_parse_time(p, e->path, ts_mono_us() - t0);
    f->parse_ok = f->ok = nerr == 0;
    f->unread = nerr < 0 && e->regular;
    processor_progress(p->a->status);
    if (nerr != 0 && !(f->errors = dag_diags_format(&diags, false)))
        goto out;
    /* The text goes to the database once per file, whatever its DAG count. */
    if (dags.n > 0) {
        if (code_record(e->path, text, len, &f->code) < 0)
            goto out;
        if (f->code)
            b->bytes += len < PROC_CODE_MAX ? len : PROC_CODE_MAX;
    }
    for (size_t i = 0; i < dags.n; i++)
        if (batch_add_dag(p, dags.items[i]) < 0)
            goto out;
    rc = 0;
out:
    free(text);
    dag_list_free(&dags);
    dag_diags_free(&diags);
    return rc;
}

/* ---- storing ---------------------------------------------------------- */

typedef struct owner {
    const char *dag_id;
    const char *fileloc;
} owner_t;

static int cmp_owner(const void *a, const void *b)
{
    return strcmp(((const owner_t *)a)->dag_id, ((const owner_t *)b)->dag_id);
}

/* A batch DAG's id and position, sorted by id then position (file order). */
typedef struct dkey {
    const char *dag_id;
    size_t idx;
} dkey_t;

static int cmp_dkey(const void *a, const void *b)
{
    const dkey_t *x = a, *y = b;
    int c = strcmp(x->dag_id, y->dag_id);
    return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The batch file at path (batch files are in path order), or NULL. */
static const bfile_t *batch_find_file(const batch_t *b, const char *path)
{
    size_t lo = 0, hi = b->nf;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(b->files[mid].e->path, path);
        if (!c)
            return &b->files[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int refuse(batch_t *b, bdag_t *d, const char *other)
{
    bfile_t *f = &b->files[d->file];
    char line[2 * PATH_MAX + DAG_ID_MAX + 64];
    snprintf(line, sizeof(line), "%s: dag '%s' is already defined in '%s'", f->e->path, d->dag_id,
             other);
    log_warn("duplicate dag id dag_id=%s path=%s other=%s", d->dag_id, f->e->path, other);
    d->refused = true;
    f->ok = false;
    return append_line(&f->errors, line);
}

/*
 * Decides which file keeps each DAG id of the batch (see the top of the
 * file); the others are refused. owners: active dag rows of the batch's
 * ids, sorted by dag_id. -1 on out-of-memory.
 */
static int resolve_duplicates(proc_t *p, const owner_t *owners, size_t no)
{
    batch_t *b = &p->batch;
    dkey_t *keys = malloc((b->nd ? b->nd : 1) * sizeof(*keys));
    int rc = -1;

    if (!keys)
        return -1;
    for (size_t i = 0; i < b->nd; i++)
        keys[i] = (dkey_t){b->dags[i].dag_id, i};
    qsort(keys, b->nd, sizeof(*keys), cmp_dkey);
    for (size_t s = 0, e; s < b->nd; s = e) {
        for (e = s + 1; e < b->nd && !strcmp(keys[e].dag_id, keys[s].dag_id); e++)
            ;
        owner_t key = {.dag_id = keys[s].dag_id};
        const owner_t *o = no ? bsearch(&key, owners, no, sizeof(*owners), cmp_owner) : NULL;
        const char *other = o && file_listed(p, o->fileloc) ? o->fileloc : NULL;
        size_t claimer = keys[s].idx;
        bool keep_none = false;
        if (other) {
            bool found = false;
            for (size_t k = s; k < e && !found; k++)
                if (!strcmp(b->files[b->dags[keys[k].idx].file].e->path, other)) {
                    claimer = keys[k].idx;
                    found = true;
                }
            if (!found) {
                /* The owner keeps the id unless it is in this batch, loaded
                 * cleanly, and no longer defines it. */
                const bfile_t *of = batch_find_file(b, other);
                keep_none = !of || !of->parse_ok;
            }
        }
        const char *by = keep_none ? other : b->files[b->dags[claimer].file].e->path;
        for (size_t k = s; k < e; k++) {
            if (!keep_none && keys[k].idx == claimer)
                continue;
            if (refuse(b, &b->dags[keys[k].idx], by) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    free(keys);
    return rc;
}

/* Prints a cJSON array for a jsonb parameter; NULL on OOM. */
static char *print_array(const cJSON *a)
{
    return cJSON_PrintUnformatted(a);
}

/* The per-file records for dags_store_files. NULL on OOM. */
static char *files_param(const batch_t *b)
{
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;
    if (!arr)
        return NULL;
    for (size_t i = 0; i < b->nf; i++) {
        const bfile_t *f = &b->files[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto out;
        }
        cJSON *ids = cJSON_Duplicate(f->ids, true);
        if (!add_str(o, "path", f->e->path) || !add_str(o, "hash", f->e->hash) ||
            !add_ts(o, "mtime", f->e->st.mtime_ns / 1000) ||
            !cJSON_AddNumberToObject(o, "size", (double)f->e->st.size) ||
            !cJSON_AddBoolToObject(o, "ok", f->ok) ||
            !add_str(o, "errors",
                     f->ok       ? NULL
                     : f->errors ? f->errors
                                 : "unknown error") ||
            !ids || !cJSON_AddItemToObject(o, "dag_ids", ids)) {
            cJSON_Delete(ids);
            goto out;
        }
    }
    text = print_array(arr);
out:
    cJSON_Delete(arr);
    return text;
}

/*
 * Stores the batch in one transaction and empties it. Returns 0, -1 on a
 * database error (rolled back; the files stay unstored and are parsed
 * again next scan), -2 on out-of-memory.
 */
static int batch_flush(proc_t *p)
{
    batch_t *b = &p->batch;
    PGresult *own = NULL, *r = NULL;
    cJSON *ids = NULL, *rows = NULL, *vers = NULL, *codes = NULL;
    char *ids_t = NULL, *rows_t = NULL, *vers_t = NULL, *files_t = NULL, *codes_t = NULL;
    owner_t *owners = NULL;
    int rc = -2;

    if (b->nf == 0)
        return 0;
    if (!(ids = cJSON_CreateArray()))
        goto out;
    for (size_t i = 0; i < b->nd; i++) {
        cJSON *s = cJSON_CreateString(b->dags[i].dag_id);
        if (!s || !cJSON_AddItemToArray(ids, s)) {
            cJSON_Delete(s);
            goto out;
        }
    }
    if (!(ids_t = print_array(ids)))
        goto out;
    rc = -1;
    if (db_begin(p->db) < 0)
        goto out;
    if (dags_lock_active_owners(p->db, ids_t, &own) < 0)
        goto out;
    size_t no = (size_t)PQntuples(own);
    rc = -2;
    if (!(owners = malloc((no ? no : 1) * sizeof(*owners))))
        goto out;
    for (size_t i = 0; i < no; i++)
        owners[i] = (owner_t){PQgetvalue(own, (int)i, 0), PQgetvalue(own, (int)i, 1)};
    if (resolve_duplicates(p, owners, no) < 0)
        goto out;

    if (!(rows = cJSON_CreateArray()) || !(vers = cJSON_CreateArray()))
        goto out;
    size_t nkept = 0;
    for (size_t i = 0; i < b->nd; i++) {
        bdag_t *d = &b->dags[i];
        cJSON *s;
        if (d->refused)
            continue;
        /* Move the objects into the arrays; batch_clear skips NULLs. */
        if (!cJSON_AddItemToArray(rows, d->row))
            goto out;
        d->row = NULL;
        if (!cJSON_AddItemToArray(vers, d->version))
            goto out;
        d->version = NULL;
        if (!(s = cJSON_CreateString(d->dag_id)) ||
            !cJSON_AddItemToArray(b->files[d->file].ids, s)) {
            cJSON_Delete(s);
            goto out;
        }
        nkept++;
    }
    if (!(files_t = files_param(b)) || !(codes = cJSON_CreateArray()))
        goto out;
    for (size_t i = 0; i < b->nf; i++) {
        if (!b->files[i].code)
            continue;
        if (!cJSON_AddItemToArray(codes, b->files[i].code))
            goto out;
        b->files[i].code = NULL;
    }
    rc = -1;
    if (nkept > 0) {
        if (!(rows_t = print_array(rows)) || !(vers_t = print_array(vers)) ||
            !(codes_t = print_array(codes))) {
            rc = -2;
            goto out;
        }
        if (dags_upsert_batch(p->db, rows_t, &r) < 0)
            goto out;
        /* Each recomputation runs inside this transaction (runs.h). */
        for (int i = 0; i < PQntuples(r); i++)
            if (runs_update_next(p->db, PQgetvalue(r, i, 0)) < 0)
                goto out;
        PQclear(r);
        r = NULL;
        if (dags_store_versions(p->db, vers_t, codes_t, &r) < 0)
            goto out;
        for (int i = 0; i < PQntuples(r); i++)
            log_info("dag version stored dag_id=%s version=%s", PQgetvalue(r, i, 0),
                     PQgetvalue(r, i, 1));
        PQclear(r);
        r = NULL;
    }
    if (dags_store_files(p->db, files_t, &r) < 0)
        goto out;
    if (db_commit(p->db) < 0)
        goto out;
    for (int i = 0; i < PQntuples(r); i++)
        log_info("dags removed from file deactivated path=%s count=%s", PQgetvalue(r, i, 0),
                 PQgetvalue(r, i, 1));
    for (size_t i = 0; i < b->nf; i++) {
        bfile_t *f = &b->files[i];
        f->e->stored = true;
        f->e->has_error = !f->ok;
        f->e->parse_failed = !f->parse_ok && !f->unread;
        if (!f->ok) {
            p->errors++;
            log_warn("dag file has errors path=%s dags=%d", f->e->path, cJSON_GetArraySize(f->ids));
        } else {
            log_debug("dag file stored path=%s dags=%d", f->e->path, cJSON_GetArraySize(f->ids));
        }
    }
    rc = 0;
out:
    if (rc == -2)
        log_error("out of memory storing dag files count=%zu", b->nf);
    if (rc < 0) {
        db_rollback(p->db);
        for (size_t i = 0; i < b->nf; i++)
            b->files[i].e->stored = false;
    }
    PQclear(own);
    PQclear(r);
    free(owners);
    cJSON_Delete(ids);
    cJSON_Delete(rows);
    cJSON_Delete(vers);
    cJSON_Delete(codes);
    cJSON_free(codes_t);
    cJSON_free(ids_t);
    cJSON_free(rows_t);
    cJSON_free(vers_t);
    cJSON_free(files_t);
    batch_clear(b);
    return rc;
}

static bool batch_full(const batch_t *b)
{
    return b->nf >= PROC_BATCH_FILES || b->nd >= PROC_BATCH_DAGS || b->bytes >= PROC_BATCH_BYTES;
}

/*
 * Flushes the batch; when a batch fails on something other than a lost
 * connection (one file's data the database refuses), its files are stored
 * one by one so that one file cannot hold the others back.
 */
static int flush(proc_t *p)
{
    size_t nf = p->batch.nf;
    entry_t **ents = nf > 1 ? malloc(nf * sizeof(*ents)) : NULL;
    int rc;

    for (size_t i = 0; ents && i < nf; i++)
        ents[i] = p->batch.files[i].e;
    rc = batch_flush(p);
    processor_progress(p->a->status);
    if (rc == -1 && ents && db_ok(p->db)) {
        log_warn("storing a batch of dag files failed, storing them one by one count=%zu", nf);
        for (size_t i = 0; i < nf; i++) {
            if (batch_add_file(p, ents[i]) < 0) {
                batch_clear(&p->batch);
                rc = -2;
                break;
            }
            rc = batch_flush(p);
            processor_progress(p->a->status);
            if (rc == -1 && !db_ok(p->db))
                break;
        }
    }
    free(ents);
    return rc;
}

/* Files that are gone: their errors go, their DAGs are deactivated. One statement. */
static int forget_files(proc_t *p, cJSON *paths)
{
    char *text = print_array(paths);
    int rc = -1;
    if (!text) {
        log_error("out of memory forgetting dag files");
        return -1;
    }
    PGresult *r = NULL;
    if (dags_forget_files(p->db, text, &r) == 0) {
        for (int i = 0; i < PQntuples(r); i++)
            log_info("dag file removed path=%s dags_deactivated=%s", PQgetvalue(r, i, 0),
                     PQgetvalue(r, i, 1));
        p->removed += PQntuples(r);
        rc = 0;
    }
    PQclear(r);
    cJSON_free(text);
    return rc;
}

/* Forgets what is in the reference but not listed (in chunks). */
static int forget_gone(proc_t *p, const PGresult *known)
{
    cJSON *paths = NULL;
    int rc = 0, n = 0;
    size_t total = p->synced ? p->mem.n : (size_t)PQntuples(known);

    for (size_t i = 0; i <= total && rc == 0 && !*p->a->stop; i++) {
        if (i == total || n == PROC_GONE_BATCH) {
            if (n > 0)
                rc = forget_files(p, paths);
            cJSON_Delete(paths);
            paths = NULL;
            n = 0;
            if (i == total)
                break;
        }
        const char *path = p->synced ? p->mem.files[i].path : PQgetvalue(known, (int)i, 0);
        if (file_listed(p, path))
            continue;
        cJSON *s = NULL;
        if ((!paths && !(paths = cJSON_CreateArray())) || !(s = cJSON_CreateString(path)) ||
            !cJSON_AddItemToArray(paths, s)) {
            cJSON_Delete(s);
            log_error("out of memory forgetting dag files");
            rc = -1;
            break;
        }
        n++;
    }
    cJSON_Delete(paths);
    return rc;
}

/* ---- scanning --------------------------------------------------------- */

/* The row of a sorted (path COLLATE "C") result holding path, or -1. */
static int result_find(const PGresult *r, const char *path)
{
    int lo = 0, hi = r ? PQntuples(r) : 0;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(PQgetvalue(r, mid, 0), path);
        if (!c)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/*
 * Decides whether e must be parsed, filling its hash and remembered state.
 * Returns 1 to parse, 0 when unchanged, -1 when it cannot be read.
 */
static int classify(proc_t *p, entry_t *e, const entry_t *old, const dirty_dirs_t *dirty,
                    const PGresult *known, const PGresult *errs, bool *content_changed)
{
    *content_changed = false;
    if (p->synced && old && old->stored && !old->racy && stamp_eq(&old->st, &e->st) &&
        !dirty_covers(dirty, e->path)) {
        memcpy(e->hash, old->hash, sizeof(e->hash));
        e->stored = true;
        e->has_error = old->has_error;
        e->parse_failed = old->parse_failed;
        return e->has_error && !e->parse_failed ? 1 : 0;
    }
    if (hash_dag_file(e->path, p->root, e->hash) < 0) {
        log_warn("cannot read dag file path=%s error=\"%s\"", e->path, strerror(errno));
        e->hash[0] = '\0';
        return -1;
    }
    const char *ref = NULL;
    bool had_error;
    if (p->synced) {
        ref = old && old->stored ? old->hash : NULL;
        had_error = old && old->has_error;
    } else {
        int k = result_find(known, e->path);
        ref = k >= 0 ? PQgetvalue(known, k, 1) : NULL;
        had_error = result_find(errs, e->path) >= 0;
    }
    if (ref && !strcmp(ref, e->hash)) {
        /* What failed on its own content fails again: not parsed again.
         * After a restart the cause is not known, so it is, once. */
        e->stored = true;
        e->has_error = had_error;
        e->parse_failed = p->synced && old && old->parse_failed;
        return had_error && !e->parse_failed ? 1 : 0;
    }
    *content_changed = true;
    return 1;
}

/* One scan. Returns 0, or -1 when a database error cut it short. */
static int scan(proc_t *p, bool *changed)
{
    PGresult *known = NULL, *errs = NULL;
    dirty_dirs_t dirty = {0};
    int rc = -1;
    char real[PATH_MAX];

    p->parsed = p->changed = p->removed = p->errors = 0;
    listing_free(&p->now);
    if (!realpath(p->a->cfg->core.dags_folder, real)) {
        log_warn("dags folder unavailable, skipping scan path=%s error=\"%s\"",
                 p->a->cfg->core.dags_folder, strerror(errno));
        return 0;
    }
    if (strcmp(p->root, real) != 0) {
        /* Another folder: nothing remembered applies. */
        listing_free(&p->mem);
        p->synced = false;
        snprintf(p->root, sizeof(p->root), "%s", real);
    }
    int64_t now_ns = ts_now() * 1000;
    dagignore_syntax_t syntax = DAGIGNORE_GLOB;
    (void)dagignore_parse_syntax(p->a->cfg->core.dag_ignore_file_syntax, &syntax);
    walk_t w = {
        .ig = dagignore_new(syntax), .root_len = strlen(p->root), .reported = p->ignore_reported};
    int lrc = w.ig ? list_dir(&p->now, p->a->status, &w, p->root, 0) : -1;
    dagignore_free(w.ig);
    if (lrc < 0) {
        free(w.reported_now);
        listing_free(&p->now);
        log_error("out of memory listing the dags folder");
        return 0;
    }
    free(p->ignore_reported);
    p->ignore_reported = w.reported_now;
    if (p->now.truncated)
        log_warn("too many files in the dags folder; reading the first max=%d", PROC_MAX_FILES);
    /* qsort's pointer must not be NULL, even for zero elements. */
    if (p->now.n)
        qsort(p->now.files, p->now.n, sizeof(entry_t), cmp_entry);
    if (p->now.nd)
        qsort(p->now.defaults, p->now.nd, sizeof(entry_t), cmp_entry);
    if (p->synced && dirty_collect(&dirty, &p->mem, &p->now) < 0) {
        log_error("out of memory listing the dags folder");
        p->synced = false;
    }
    if (!p->synced) {
        if (dags_list_files(p->db, &known) < 0 || import_errors_list_files(p->db, &errs) < 0)
            goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->now.n && !*p->a->stop; i++) {
        entry_t *e = &p->now.files[i];
        const entry_t *old = NULL;
        bool content_changed;
        while (k < p->mem.n && strcmp(p->mem.files[k].path, e->path) < 0)
            k++;
        if (k < p->mem.n && !strcmp(p->mem.files[k].path, e->path))
            old = &p->mem.files[k];
        e->racy = (e->st.mtime_ns > e->st.ctime_ns ? e->st.mtime_ns : e->st.ctime_ns) >
                  now_ns - PROC_RACY_US * 1000;
        int c = classify(p, e, old, &dirty, known, errs, &content_changed);
        processor_progress(p->a->status);
        if (c <= 0)
            continue;
        p->parsed++;
        if (content_changed)
            p->changed++;
        *changed = true; /* import errors and dag rows may change */
        if (batch_add_file(p, e) < 0) {
            log_error("out of memory parsing dag file path=%s", e->path);
            batch_clear(&p->batch);
            goto out;
        }
        if (batch_full(&p->batch) && flush(p) == -1 && !db_ok(p->db))
            goto out;
    }
    if (flush(p) == -1 && !db_ok(p->db))
        goto out;
    /* Files that are gone. Skipped when the listing was cut short. */
    if (!p->now.truncated && !*p->a->stop) {
        if (forget_gone(p, known) < 0)
            goto out;
        if (p->removed)
            *changed = true;
    }
    rc = 0;
out:
    batch_clear(&p->batch);
    /* What this scan saw becomes the memory; a cut-short scan is not trusted. */
    listing_free(&p->mem);
    p->mem = p->now;
    memset(&p->now, 0, sizeof(p->now));
    p->synced = rc == 0 && !*p->a->stop && db_ok(p->db);
    dirty_free(&dirty);
    PQclear(known);
    PQclear(errs);
    return rc;
}

/*
 * The gauges of a completed scan: its duration (dag_processing.total_parse_time),
 * and from the database, which every scheduler's processor shares, the
 * active DAGs (dagbag_size) and the files with import errors.
 */
static void record_bag(proc_t *p, int64_t scan_us)
{
    long dags = 0, errors = 0;
    metric_gauge(M_DAG_PROCESSING_TOTAL_PARSE_TIME, (double)scan_us / 1e6, NULL, NULL, NULL);
    if (gauges_dagbag(p->db, &dags, &errors) < 0) {
        log_warn("cannot count the dags error=\"%s\"", db_error(p->db));
        return;
    }
    metric_gauge(M_DAGBAG_SIZE, (double)dags, NULL, NULL, NULL);
    metric_gauge(M_DAG_PROCESSING_IMPORT_ERRORS, (double)errors, NULL, NULL, NULL);
}

void *processor_thread(void *arg)
{
    processor_args_t *a = arg;
    proc_t p = {.a = a};
    char err[512];
    backoff_t b;

    backoff_init(&b, -1);
    backoff_set_nap(&b, wake_nap, &a->wake_fd);
    processor_busy(a->status, true);
    db_target_t t;
    config_db_target(a->cfg, &t);
    p.db = db_open_retry(&t, &b, a->stop, err, sizeof(err));
    while (!*a->stop) {
        processor_busy(a->status, true);
        if (!db_ok(p.db) && db_ensure(p.db, -1, a->stop) < 0)
            break;
        bool changed = false;
        int64_t t0 = ts_mono_us();
        int rc = scan(&p, &changed);
        processor_busy(a->status, false);
        if (changed)
            loop_wake(a->loop_wake_fd);
        log_info("dag folder scanned files=%zu parsed=%d changed=%d ms=%lld removed=%d errors=%d",
                 p.mem.n, p.parsed, p.changed, (long long)((ts_mono_us() - t0) / 1000), p.removed,
                 p.errors);
        if (rc < 0)
            log_warn("dag scan interrupted by a database error error=\"%s\"", db_error(p.db));
        else
            record_bag(&p, ts_mono_us() - t0);
        if (*a->stop)
            break;
        wake_wait(a->wake_fd, a->cfg->scheduler.dag_dir_list_interval * 1000);
    }
    batch_free(&p.batch);
    listing_free(&p.mem);
    listing_free(&p.now);
    free(p.ignore_reported);
    db_close(p.db);
    log_info("dag processor stopped");
    return NULL;
}
