/*
 * cli_util.c - what the command groups share: the table from library
 * error codes to exit statuses, option parsing, the group dispatcher
 * (keyring + database around one verb), JSON and list output, and the
 * import/export frames around files that may hold secrets.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/secrets.h"

/* ---- exit statuses ----------------------------------------------------- */

static const struct {
    int err;
    int status;
} exit_statuses[] = {
    {UPDRAFT_OK, 0},       {UPDRAFT_ENOTFOUND, 1},    {UPDRAFT_EEXISTS, 1},
    {UPDRAFT_EINVALID, 1}, {UPDRAFT_ECONFLICT, 1},    {UPDRAFT_ENOKEY, 1},
    {UPDRAFT_EDB, 1},      {UPDRAFT_EUNAVAILABLE, 1}, {UPDRAFT_ENOMEM, 1},
    {UPDRAFT_EIO, 1},      {UPDRAFT_ELIMITED, 1},
};

int cli_exit_status(int err)
{
    for (size_t i = 0; i < sizeof(exit_statuses) / sizeof(exit_statuses[0]); i++)
        if (exit_statuses[i].err == err)
            return exit_statuses[i].status;
    return 1;
}

int cli_fail(int err, const char *msg)
{
    fprintf(stderr, "updraft: %s\n", msg);
    return cli_exit_status(err);
}

/* ---- keyring, files, options -------------------------------------------- */

secrets_keyring_t *cli_keyring(const config_t *cfg)
{
    char err[256];
    secrets_keyring_t *ring = secrets_keyring_new(cfg->core.fernet_key, err, sizeof(err));
    if (!ring)
        fprintf(stderr, "updraft: %s\n", err);
    return ring;
}

char *cli_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        fprintf(stderr, "updraft: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *p;
            cap = cap ? cap * 2 : 65536;
            p = realloc(buf, cap);
            if (!p) {
                fprintf(stderr, "updraft: out of memory reading %s\n", path);
                goto fail;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n > max) {
            fprintf(stderr, "updraft: %s is larger than %zu bytes\n", path, max);
            goto fail;
        }
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "updraft: cannot read %s\n", path);
        goto fail;
    }
    buf[n] = '\0';
    if (f != stdin)
        fclose(f);
    if (len)
        *len = n;
    return buf;
fail:
    free(buf);
    if (f != stdin)
        fclose(f);
    return NULL;
}

int cli_write_secret_file(const char *path, const char *text)
{
    FILE *f;
    int fd;

    if (!text) {
        /* the closing newline */
        if (strcmp(path, "-") == 0) {
            putchar('\n');
            return 0;
        }
        f = fopen(path, "a");
        if (!f || fputc('\n', f) == EOF || fclose(f) != 0) {
            fprintf(stderr, "updraft: cannot write %s: %s\n", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (strcmp(path, "-") == 0) {
        fputs(text, stdout);
        return 0;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        fprintf(stderr, "updraft: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fputs(text, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "updraft: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_usage_error(void (*usage)(FILE *))
{
    usage(stderr);
    return 2;
}

bool cli_opt_value(int argc, char **argv, int *i, const char *s, const char *name, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if ((s && strcmp(a, s) == 0) || strcmp(a, name) == 0) {
        if (*i + 1 >= argc)
            return false;
        *out = argv[++*i];
        return true;
    }
    if (strncmp(a, name, n) == 0 && a[n] == '=') {
        *out = a + n + 1;
        return true;
    }
    return false;
}

bool cli_take_path(const char *arg, const char **path)
{
    if ((arg[0] == '-' && arg[1]) || *path)
        return false;
    *path = arg;
    return true;
}

bool cli_valid_output(const char *fmt)
{
    if (!strcmp(fmt, "table") || !strcmp(fmt, "json") || !strcmp(fmt, "plain"))
        return true;
    fprintf(stderr, "updraft: unknown output format '%s' (table, json, plain)\n", fmt);
    return false;
}

void cli_print_json(cJSON *item, const char *fallback)
{
    char *text = item ? cJSON_Print(item) : NULL;

    puts(text ? text : fallback);
    secrets_free_str(text);
    cJSON_Delete(item);
}

int cli_delete(db_t *db, int argc, char **argv, void (*usage)(FILE *),
               int (*del)(db_t *db, const char *id, char *err, size_t errlen),
               const cli_delete_text_t *text)
{
    char err[512];
    int rc;

    if (argc != 2)
        return cli_usage_error(usage);
    rc = del(db, argv[1], err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "%s%s%s\n", text->missing[0], argv[1], text->missing[1]);
        return cli_exit_status(rc);
    }
    if (rc < 0)
        return cli_fail(rc, err);
    printf("%s%s%s\n", text->deleted[0], argv[1], text->deleted[1]);
    return 0;
}

int cli_run_verb(const config_t *cfg, const char *group, const cli_verb_t *verbs, size_t nverbs,
                 void (*usage)(FILE *), int argc, char **argv)
{
    const cli_verb_t *verb = NULL;
    secrets_keyring_t *ring = NULL;
    db_t *db = NULL;
    int rc = 1;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < nverbs && !verb; i++)
        if (!strcmp(argv[1], verbs[i].name))
            verb = &verbs[i];
    if (!verb) {
        fprintf(stderr, "updraft: unknown %s command '%s'\n", group, argv[1]);
        return cli_usage_error(usage);
    }
    ring = cli_keyring(cfg);
    if (!ring)
        return 1;
    db = cli_connect(cfg, true);
    if (!db)
        goto out;
    rc = verb->run(db, ring, argc - 1, argv + 1);
out:
    db_close(db);
    secrets_keyring_free(ring);
    return rc;
}

/* ---- import, export, list ------------------------------------------------ */

int cli_import(db_t *db, const secrets_keyring_t *ring, const char *path, const char *what,
               cli_import_fn apply, void *ud)
{
    cJSON *root = NULL;
    char *text = cli_read_file(path, CLI_MAX_IMPORT_BYTES, NULL);
    int rc = 1;

    if (!text)
        return 1;
    if (what) {
        root = cJSON_ParseWithOpts(text, NULL, 1);
        if (!cJSON_IsObject(root)) {
            fprintf(stderr, "updraft: %s: invalid %s file (expected a JSON object)\n", path, what);
            goto out;
        }
    }
    if (db_begin(db) < 0) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        goto out;
    }
    if (apply(db, ring, text, root, ud) != 0) {
        db_rollback(db);
        goto out;
    }
    if (db_commit(db) < 0) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    secrets_free_str(text);
    return rc;
}

int cli_export(const char *path, const char *text, bool newline, const char *done)
{
    if (!text) {
        fprintf(stderr, "updraft: out of memory\n");
        return 1;
    }
    if (cli_write_secret_file(path, text) < 0 || (newline && cli_write_secret_file(path, NULL) < 0))
        return 1;
    if (strcmp(path, "-") != 0)
        puts(done);
    return 0;
}

/* One cell of a listing: a string as is, a number as an integer, else empty. */
static const char *cell_text(const cJSON *row, const char *name, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, name);

    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(buf, len, "%d", v->valueint);
        return buf;
    }
    return "";
}

/* One line of cells (the headers when row is NULL) separated by sep. */
static void print_cells(const cJSON *row, const cli_list_layout_t *l, const char *sep, bool pad)
{
    char buf[32];

    for (size_t c = 0; c < l->ncols; c++) {
        const char *text =
            row ? cell_text(row, l->cols[c].name, buf, sizeof(buf)) : l->cols[c].name;
        printf("%s%*s", c ? sep : "", pad ? l->cols[c].width : 0, text);
    }
    putchar('\n');
}

/* A one-column table: the header padded to the widest cell (at least its own), a rule, the cells.
 */
static void print_ruled(const cJSON *rows, const cli_list_layout_t *l, bool table)
{
    const char *name = l->cols[0].name;
    const cJSON *row;
    size_t width = strlen(name);
    char buf[32];

    if (table) {
        cJSON_ArrayForEach(row, rows)
        {
            size_t n = strlen(cell_text(row, name, buf, sizeof(buf)));
            width = n > width ? n : width;
        }
        printf("%-*s\n", (int)width, name);
        for (size_t i = 0; i < width; i++)
            putchar('=');
        putchar('\n');
    }
    cJSON_ArrayForEach(row, rows)
    {
        printf("%s\n", cell_text(row, name, buf, sizeof(buf)));
    }
}

void cli_print_list(cJSON *rows, const char *fmt, const cli_list_layout_t *layout)
{
    bool table = !strcmp(fmt, "table");
    const cJSON *row;

    if (!strcmp(fmt, "json")) {
        cli_print_json(rows, "[]");
        return;
    }
    if (layout->ruled) {
        print_ruled(rows, layout, table);
    } else {
        if (table)
            print_cells(NULL, layout, " | ", true);
        cJSON_ArrayForEach(row, rows)
        {
            if (table || layout->plain_bars)
                print_cells(row, layout, " | ", true);
            else
                print_cells(row, layout, "\t", false);
        }
    }
    cJSON_Delete(rows);
}
