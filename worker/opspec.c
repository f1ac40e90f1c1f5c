/*
 * opspec.c - the operator runner's spec file (see opspec.h).
 */
#include "worker/opspec.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "store/connections.h"
#include "model/taskenv.h"
#include "model/template.h"

#define MAX_CONNS 4
#define RESULT_MAX 4096

int opspec_temp_file(char *path, const char *what, char *err, size_t errlen)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strlen(dir) > 48)
        dir = "/tmp";
    snprintf(path, OPSPEC_PATH_LEN, "%s/updraft-%s-XXXXXX", dir, what);
    int fd = mkstemp(path); /* 0600 */
    if (fd < 0) {
        snprintf(err, errlen, "cannot create the %s file: %s", what, strerror(errno));
        path[0] = '\0';
    }
    return fd;
}

static const char *arg_str(const wtry_t *t, const char *key)
{
    const cJSON *v = t->args ? cJSON_GetObjectItemCaseSensitive(t->args, key) : NULL;
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

size_t opspec_conn_ids(const wtry_t *t, const char **ids, size_t max)
{
    size_t n = 0;
    const char *id = NULL;
    switch (t->op) {
    case DAG_OP_HTTP:
    case DAG_OP_HTTP_SENSOR:
        id = arg_str(t, "http_conn_id");
        if (!id)
            id = "http_default";
        break;
    case DAG_OP_SQL:
    case DAG_OP_SQL_SENSOR:
        id = arg_str(t, "conn_id");
        if (!id)
            id = arg_str(t, "postgres_conn_id");
        if (!id)
            id = "postgres_default";
        break;
    case DAG_OP_FILE_SENSOR:
        id = arg_str(t, "fs_conn_id"); /* only when given: a path needs no connection */
        break;
    default:
        break;
    }
    if (id && n < max)
        ids[n++] = id;
    return n;
}

static bool add_str_or_null(cJSON *o, const char *key, const char *v)
{
    return (v ? cJSON_AddStringToObject(o, key, v) : cJSON_AddNullToObject(o, key)) != NULL;
}

static bool add_time(cJSON *o, const char *key, ts_us_t t)
{
    char buf[TASKENV_DATE_LEN];
    return add_str_or_null(o, key, t == TS_NONE ? NULL : taskenv_format_date(t, buf));
}

/* One connection as the spec writes it; its secrets go to lb. NULL on error (err). */
static cJSON *conn_json(const connection_t *c, logbuf_t *lb, char *err, size_t errlen)
{
    cJSON *o = cJSON_CreateObject(), *extra = NULL;
    bool ok = o != NULL;
    ok = ok && add_str_or_null(o, "conn_type", c->conn_type);
    ok = ok && add_str_or_null(o, "host", c->host);
    ok = ok && (c->port >= 0 ? cJSON_AddNumberToObject(o, "port", c->port)
                             : cJSON_AddNullToObject(o, "port")) != NULL;
    ok = ok && add_str_or_null(o, "login", c->login);
    ok = ok && add_str_or_null(o, "password", c->password);
    ok = ok && add_str_or_null(o, "schema", c->schema);
    ok = ok && add_str_or_null(o, "extra", c->extra);
    if (ok && c->extra && *c->extra) {
        extra = cJSON_Parse(c->extra);
        if (cJSON_IsObject(extra)) {
            ok = logbuf_add_json_secrets(lb, extra) == 0;
            if (!ok)
                snprintf(err, errlen, "too many or too long secret values");
            ok = ok && cJSON_AddItemToObject(o, "extra_dejson", extra);
            if (ok)
                extra = NULL;
        }
    }
    if (ok && ((c->password && logbuf_add_secret(lb, c->password) < 0) ||
               (c->extra && logbuf_add_secret(lb, c->extra) < 0))) {
        snprintf(err, errlen, "too many or too long secret values");
        ok = false;
    }
    cJSON_Delete(extra);
    if (!ok) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The password of a libpq URL or keyword string, masked in the log. */
static int mask_db_password(const char *url, logbuf_t *lb)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    int rc = 0;
    PQfreemem(perr);
    if (!opts)
        return 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && *o->val &&
            logbuf_add_secret(lb, o->val) < 0)
            rc = -1;
    PQconninfoFree(opts);
    return rc;
}

static cJSON *context_json(const wtry_t *t)
{
    cJSON *c = cJSON_CreateObject(), *conf = NULL;
    bool ok = c != NULL;
    template_dates_t d;
    bool dates = t->logical_date != TS_NONE &&
                 template_dates_compute(t->logical_date, t->data_interval_start,
                                        t->data_interval_end, &d) == 0;
    ok = ok && cJSON_AddStringToObject(c, "dag_id", t->dag_id);
    ok = ok && cJSON_AddStringToObject(c, "task_id", t->task_id);
    ok = ok && cJSON_AddStringToObject(c, "run_id", t->run_id);
    ok = ok && cJSON_AddNumberToObject(c, "map_index", t->map_index);
    ok = ok && cJSON_AddNumberToObject(c, "try_number", t->try_number);
    ok = ok && cJSON_AddNumberToObject(c, "max_tries", t->max_tries);
    ok = ok && add_time(c, "logical_date", t->logical_date);
    ok = ok && add_time(c, "data_interval_start", t->data_interval_start);
    ok = ok && add_time(c, "data_interval_end", t->data_interval_end);
    ok = ok && add_str_or_null(c, "ds", dates ? d.ds : NULL);
    ok = ok && add_str_or_null(c, "ds_nodash", dates ? d.ds_nodash : NULL);
    ok = ok && add_str_or_null(c, "ts", dates ? d.ts : NULL);
    ok = ok && add_str_or_null(c, "ts_nodash", dates ? d.ts_nodash : NULL);
    if (ok && t->conf_json)
        conf = cJSON_Parse(t->conf_json);
    if (ok && !cJSON_IsObject(conf)) {
        cJSON_Delete(conf);
        conf = cJSON_CreateObject();
    }
    ok = ok && conf && cJSON_AddItemToObject(c, "conf", conf);
    if (!ok)
        cJSON_Delete(conf);
    ok = ok && add_time(c, "first_poke_at", t->first_poke_at);
    ok = ok && cJSON_AddNumberToObject(c, "poke_count", t->poke_count);
    ok = ok && add_time(c, "start_date", t->start_date != TS_NONE ? t->start_date : ts_now());
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static bool uses_metadata_db(dag_operator_t op)
{
    return op == DAG_OP_EXTERNAL_TASK_SENSOR || op == DAG_OP_TRIGGER_DAG_RUN;
}

int opspec_write(db_t *db, const secrets_keyring_t *ring, const wtry_t *t, const opspec_opts_t *o,
                 logbuf_t *lb, char *path, char *err, size_t errlen)
{
    int rc = -1, fd = -1;
    char *text = NULL;
    cJSON *spec = cJSON_CreateObject(), *conns = NULL, *item;
    const char *ids[MAX_CONNS];
    err[0] = '\0';
    path[0] = '\0';
    if (!spec)
        goto oom;
    if (!cJSON_AddStringToObject(spec, "operator", operator_short_name(t->op)))
        goto oom;
    item = t->args ? cJSON_Duplicate(t->args, 1) : cJSON_CreateObject();
    if (!item || !cJSON_AddItemToObject(spec, "args", item)) {
        cJSON_Delete(item);
        goto oom;
    }
    item = context_json(t);
    if (!item || !cJSON_AddItemToObject(spec, "context", item)) {
        cJSON_Delete(item);
        goto oom;
    }
    if (!(conns = cJSON_AddObjectToObject(spec, "connections")))
        goto oom;
    size_t n = opspec_conn_ids(t, ids, MAX_CONNS);
    for (size_t i = 0; i < n; i++) {
        connection_t *c = NULL;
        char cerr[512];
        int lr = connections_lookup(db, ring, ids[i], &c, cerr, sizeof(cerr));
        if (lr < 0 && lr != UPDRAFT_ENOTFOUND) {
            snprintf(err, errlen, "cannot read connection %s: %s", ids[i], cerr);
            goto out;
        }
        if (lr == UPDRAFT_ENOTFOUND || cJSON_GetObjectItemCaseSensitive(conns, ids[i]))
            continue;
        item = conn_json(c, lb, err, errlen);
        connection_free(c);
        if (!item)
            goto out;
        if (!cJSON_AddItemToObject(conns, ids[i], item)) {
            cJSON_Delete(item);
            goto oom;
        }
    }
    if (uses_metadata_db(t->op) && o->db_url) {
        if (mask_db_password(o->db_url, lb) < 0) {
            snprintf(err, errlen, "too many or too long secret values");
            goto out;
        }
        if (!cJSON_AddStringToObject(spec, "metadata_db", o->db_url) ||
            (o->db_pooled && !cJSON_AddBoolToObject(spec, "metadata_db_pooled", true)))
            goto oom;
    }
    if (!cJSON_AddNumberToObject(spec, "max_xcom_size", (double)o->max_xcom_size) ||
        !cJSON_AddBoolToObject(spec, "do_xcom_push", t->do_xcom_push) ||
        !cJSON_AddStringToObject(spec, "result_file", o->result_path ? o->result_path : ""))
        goto oom;
    item = t->downstream ? cJSON_Duplicate(t->downstream, 1) : cJSON_CreateArray();
    if (!item || !cJSON_AddItemToObject(spec, "downstream_task_ids", item)) {
        cJSON_Delete(item);
        goto oom;
    }
    if (!(text = cJSON_PrintUnformatted(spec)))
        goto oom;
    if ((fd = opspec_temp_file(path, "op", err, errlen)) < 0)
        goto out;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write the operator spec: %s", strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "cannot write the operator spec: %s", strerror(errno));
        goto out;
    }
    fd = -1;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && path[0]) {
        unlink(path);
        path[0] = '\0';
    }
    if (text) {
        secrets_free_str(text); /* it held the passwords */
    }
    cJSON_Delete(spec);
    return rc;
}

FILE *opspec_open_task_file(const char *path, uid_t owner)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    FILE *f;

    if (fd < 0)
        return NULL;
    int e = fstat(fd, &st) != 0 ? errno : 0;
    if (!e && !S_ISREG(st.st_mode))
        e = EINVAL;
    else if (!e && st.st_uid != owner)
        e = EPERM;
    if (e) {
        close(fd);
        errno = e;
        return NULL;
    }
    if (!(f = fdopen(fd, "rb")))
        close(fd);
    return f;
}

long long opspec_read_reschedule(const char *path, uid_t owner)
{
    char buf[RESULT_MAX + 1];
    long long v = -1;
    FILE *f = path && *path ? opspec_open_task_file(path, owner) : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, RESULT_MAX, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_ParseWithLengthOpts(buf, n + 1, NULL, 1);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "reschedule_delay");
    if (cJSON_IsNumber(d) && d->valuedouble >= 0 && d->valuedouble < 1e12)
        v = (long long)(d->valuedouble + 0.999999); /* whole seconds, rounded up */
    cJSON_Delete(o);
    return v;
}
