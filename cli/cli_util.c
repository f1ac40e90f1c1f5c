/*
 * cli_util.c - what the `variables` and `connections` command groups
 * share: option parsing, the group dispatcher (keyring + database around
 * one verb), JSON output, and import/export files that may hold secrets.
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
#include "core/secrets.h"

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
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return 1;
    }
    if (rc == 0) {
        fprintf(stderr, "%s%s%s\n", text->missing[0], argv[1], text->missing[1]);
        return 1;
    }
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
