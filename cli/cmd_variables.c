/*
 * cmd_variables.c - `updraft variables get|set|delete|list|import|export`,
 * with Airflow's flags, messages and JSON file format:
 *
 *   {"key": "text value", "json_key": {"any": ["json"]},
 *    "described": {"value": "v", "description": "what it is"}}
 *
 * A value that is not a string is stored as its JSON text; an object with
 * a truthy "value" member is read as value + description (Airflow 2.10's
 * form), which is also how export writes a variable that has a
 * description. Values are encrypted at rest (common/variables.h).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/secrets.h"
#include "common/variables.h"

#define CLI_MAX_IMPORT_BYTES (64 << 20)

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

static void usage(FILE *f)
{
    fputs("usage: updraft variables get KEY [-d|--default VAL] [-j|--json]\n"
          "       updraft variables set KEY VALUE [--description TEXT] [-j|--json]\n"
          "       updraft variables delete KEY\n"
          "       updraft variables list [-o table|json|plain]\n"
          "       updraft variables import FILE [-a|--action-on-existing-key "
          "overwrite|fail|skip]\n"
          "       updraft variables export FILE\n",
          f);
}

/* Finds "--name VALUE" / "--name=VALUE" / "-s VALUE" at argv[*i]. */
static bool opt_value(int argc, char **argv, int *i, const char *s, const char *name,
                      const char **out)
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

static int cmd_get(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *key = NULL, *def = NULL;
    bool json = false;
    char *val = NULL, err[512];
    int rc;

    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, "-d", "--default", &def))
            continue;
        if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' || key) {
            usage(stderr);
            return 2;
        } else
            key = argv[i];
    }
    if (!key) {
        usage(stderr);
        return 2;
    }
    rc = variables_lookup(db, ring, key, &val, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return 1;
    }
    if (rc == 0) {
        if (!def) {
            fprintf(stderr, "Variable %s does not exist\n", key);
            return 1;
        }
        puts(def);
        return 0;
    }
    if (json) {
        cJSON *j = cJSON_Parse(val);
        char *pretty = j ? cJSON_Print(j) : NULL;
        if (!j) {
            fprintf(stderr, "updraft: variable %s is not valid JSON\n", key);
            secrets_free_str(val);
            return 1;
        }
        puts(pretty ? pretty : "");
        if (pretty)
            secrets_free_str(pretty);
        cJSON_Delete(j);
    } else {
        puts(val);
    }
    secrets_free_str(val);
    return 0;
}

static int cmd_set(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *key = NULL, *val = NULL, *desc = NULL;
    bool json = false;
    char err[512];

    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, NULL, "--description", &desc))
            continue;
        if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
            json = true;
        else if (!key)
            key = argv[i];
        else if (!val)
            val = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!key || !val) {
        usage(stderr);
        return 2;
    }
    if (json) {
        cJSON *j = cJSON_Parse(val);
        if (!j) {
            fprintf(stderr, "updraft: the value of %s is not valid JSON\n", key);
            return 1;
        }
        cJSON_Delete(j);
    }
    if (variables_set(db, ring, key, val, desc, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return 1;
    }
    printf("Variable %s created\n", key);
    return 0;
}

static int cmd_delete(db_t *db, int argc, char **argv)
{
    char err[512];
    int rc;

    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    rc = variables_delete(db, argv[1], err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return 1;
    }
    if (rc == 0) {
        fprintf(stderr, "Variable %s does not exist\n", argv[1]);
        return 1;
    }
    printf("Variable %s deleted\n", argv[1]);
    return 0;
}

static int cmd_list(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *fmt = "table";
    variable_t *vars = NULL;
    size_t n = 0, width = 3;
    char err[512];

    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, "-o", "--output", &fmt))
            continue;
        usage(stderr);
        return 2;
    }
    if (strcmp(fmt, "table") && strcmp(fmt, "json") && strcmp(fmt, "plain")) {
        fprintf(stderr, "updraft: unknown output format '%s' (table, json, plain)\n", fmt);
        return 2;
    }
    if (variables_list(db, ring, false, &vars, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return 1;
    }
    if (!strcmp(fmt, "json")) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "key", vars[i].key);
            cJSON_AddItemToArray(arr, o);
        }
        char *text = arr ? cJSON_Print(arr) : NULL;
        puts(text ? text : "[]");
        cJSON_free(text);
        cJSON_Delete(arr);
    } else {
        for (size_t i = 0; i < n; i++)
            if (strlen(vars[i].key) > width)
                width = strlen(vars[i].key);
        if (!strcmp(fmt, "table")) {
            printf("%-*s\n", (int)width, "key");
            for (size_t i = 0; i < width; i++)
                putchar('=');
            putchar('\n');
        }
        for (size_t i = 0; i < n; i++)
            printf("%s\n", vars[i].key);
    }
    variables_list_free(vars, n);
    return 0;
}

static int cmd_import(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *path = NULL, *action = "overwrite";
    char *text = NULL, err[512];
    cJSON *root = NULL;
    int total = 0, ok = 0, skipped = 0, failed = 0, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, "-a", "--action-on-existing-key", &action))
            continue;
        if ((argv[i][0] == '-' && argv[i][1]) || path) {
            usage(stderr);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    if (strcmp(action, "overwrite") && strcmp(action, "fail") && strcmp(action, "skip")) {
        fprintf(stderr, "updraft: --action-on-existing-key must be overwrite, fail or skip\n");
        return 2;
    }
    text = cli_read_file(path, CLI_MAX_IMPORT_BYTES, NULL);
    if (!text)
        return 1;
    root = cJSON_ParseWithOpts(text, NULL, 1);
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "updraft: %s: invalid variables file (expected a JSON object)\n", path);
        goto out;
    }
    if (db_begin(db) < 0) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        goto out;
    }
    if (!strcmp(action, "fail")) {
        cJSON *exists = cJSON_CreateArray();
        for (const cJSON *it = root->child; it; it = it->next) {
            char *v = NULL;
            int got = variables_get(db, ring, it->string, &v, NULL, err, sizeof(err));
            secrets_free_str(v);
            /* a row that does not decrypt still exists */
            if (got != 0)
                cJSON_AddItemToArray(exists, cJSON_CreateString(it->string));
        }
        if (cJSON_GetArraySize(exists) > 0) {
            char *list = cJSON_PrintUnformatted(exists);
            fprintf(stderr, "Failed. These keys: %s already exists.\n", list ? list : "");
            cJSON_free(list);
            cJSON_Delete(exists);
            db_rollback(db);
            goto out;
        }
        cJSON_Delete(exists);
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        const cJSON *v = it, *d = NULL;
        char *owned = NULL;
        const char *val;
        int r;

        total++;
        if (cJSON_IsObject(it)) {
            const cJSON *inner = cJSON_GetObjectItemCaseSensitive(it, "value");
            if (inner && !cJSON_IsNull(inner) && !cJSON_IsFalse(inner) &&
                !(cJSON_IsString(inner) && !inner->valuestring[0]) &&
                !(cJSON_IsNumber(inner) && inner->valuedouble == 0)) {
                v = inner;
                d = cJSON_GetObjectItemCaseSensitive(it, "description");
            }
        }
        if (cJSON_IsString(v)) {
            val = v->valuestring;
        } else {
            owned = cJSON_PrintUnformatted(v);
            val = owned;
        }
        if (!strcmp(action, "skip")) {
            char *cur = NULL;
            int got = variables_get(db, ring, it->string, &cur, NULL, err, sizeof(err));
            secrets_free_str(cur);
            if (got != 0) {
                skipped++;
                secrets_free_str(owned);
                continue;
            }
        }
        r = val ? variables_set(db, ring, it->string, val,
                                cJSON_IsString(d) ? d->valuestring : NULL, err, sizeof(err))
                : -1;
        secrets_free_str(owned);
        if (r < 0) {
            fprintf(stderr, "Variable import failed: %s\n", val ? err : "out of memory");
            failed++;
            break; /* all or nothing: the transaction is rolled back */
        }
        ok++;
    }
    if (failed > 0) {
        db_rollback(db);
        fprintf(stderr, "%d variable(s) failed to be updated; nothing was imported.\n", failed);
        goto out;
    }
    if (db_commit(db) < 0) {
        fprintf(stderr, "updraft: %s\n", db_error(db));
        goto out;
    }
    printf("%d of %d variables successfully updated.\n", ok, total);
    if (skipped)
        printf("%d variable(s) skipped.\n", skipped);
    rc = 0;
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

static int cmd_export(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    variable_t *vars = NULL;
    size_t n = 0;
    char err[512], *text = NULL;
    cJSON *root = NULL;
    int rc = 1;

    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    if (variables_list(db, ring, true, &vars, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return 1;
    }
    root = cJSON_CreateObject();
    for (size_t i = 0; root && i < n; i++) {
        cJSON *v = cJSON_Parse(vars[i].val);
        if (!v)
            v = cJSON_CreateString(vars[i].val);
        if (vars[i].description) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "value", v);
            cJSON_AddStringToObject(o, "description", vars[i].description);
            v = o;
        }
        cJSON_AddItemToObject(root, vars[i].key, v);
    }
    text = root ? cJSON_Print(root) : NULL;
    if (!text) {
        fprintf(stderr, "updraft: out of memory\n");
        goto out;
    }
    if (cli_write_secret_file(argv[1], text) < 0 || cli_write_secret_file(argv[1], NULL) < 0)
        goto out;
    if (strcmp(argv[1], "-") != 0)
        printf("%zu variables successfully exported to %s\n", n, argv[1]);
    rc = 0;
out:
    secrets_free_str(text);
    cJSON_Delete(root);
    variables_list_free(vars, n);
    return rc;
}

int cli_variables(const config_t *cfg, int argc, char **argv)
{
    secrets_keyring_t *ring = NULL;
    db_t *db = NULL;
    const char *verb;
    int rc = 1;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    verb = argv[1];
    if (strcmp(verb, "get") && strcmp(verb, "set") && strcmp(verb, "delete") &&
        strcmp(verb, "list") && strcmp(verb, "import") && strcmp(verb, "export")) {
        fprintf(stderr, "updraft: unknown variables command '%s'\n", verb);
        usage(stderr);
        return 2;
    }
    ring = cli_keyring(cfg);
    if (!ring)
        return 1;
    db = cli_connect(cfg, true);
    if (!db)
        goto out;
    argc--;
    argv++;
    if (!strcmp(verb, "get"))
        rc = cmd_get(db, ring, argc, argv);
    else if (!strcmp(verb, "set"))
        rc = cmd_set(db, ring, argc, argv);
    else if (!strcmp(verb, "delete"))
        rc = cmd_delete(db, argc, argv);
    else if (!strcmp(verb, "list"))
        rc = cmd_list(db, ring, argc, argv);
    else if (!strcmp(verb, "import"))
        rc = cmd_import(db, ring, argc, argv);
    else
        rc = cmd_export(db, ring, argc, argv);
out:
    db_close(db);
    secrets_keyring_free(ring);
    return rc;
}
