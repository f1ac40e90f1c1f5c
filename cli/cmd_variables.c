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
 * description. Values are encrypted at rest (store/variables.h).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/secrets.h"
#include "store/variables.h"

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

static int cmd_get(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *key = NULL, *def = NULL;
    bool json = false;
    char *val = NULL, err[512];
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-d", "--default", &def))
            continue;
        if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' || key)
            return cli_usage_error(usage);
        else
            key = argv[i];
    }
    if (!key)
        return cli_usage_error(usage);
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
        if (!j) {
            fprintf(stderr, "updraft: variable %s is not valid JSON\n", key);
            secrets_free_str(val);
            return 1;
        }
        cli_print_json(j, "");
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
        if (cli_opt_value(argc, argv, &i, NULL, "--description", &desc))
            continue;
        if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
            json = true;
        else if (!key)
            key = argv[i];
        else if (!val)
            val = argv[i];
        else
            return cli_usage_error(usage);
    }
    if (!key || !val)
        return cli_usage_error(usage);
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

static int cmd_delete(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    static const cli_delete_text_t text = {{"Variable ", " does not exist"},
                                           {"Variable ", " deleted"}};

    (void)ring;
    return cli_delete(db, argc, argv, usage, variables_delete, &text);
}

static int cmd_list(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *fmt = "table";
    variable_t *vars = NULL;
    size_t n = 0, width = 3;
    char err[512];

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-o", "--output", &fmt))
            continue;
        return cli_usage_error(usage);
    }
    if (!cli_valid_output(fmt))
        return 2;
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
        cli_print_json(arr, "[]");
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
        if (cli_opt_value(argc, argv, &i, "-a", "--action-on-existing-key", &action))
            continue;
        if (!cli_take_path(argv[i], &path))
            return cli_usage_error(usage);
    }
    if (!path)
        return cli_usage_error(usage);
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

    if (argc != 2)
        return cli_usage_error(usage);
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
    static const cli_verb_t verbs[] = {
        {"get", cmd_get},   {"set", cmd_set},       {"delete", cmd_delete},
        {"list", cmd_list}, {"import", cmd_import}, {"export", cmd_export},
    };

    return cli_run_verb(cfg, "variables", verbs, sizeof(verbs) / sizeof(verbs[0]), usage, argc,
                        argv);
}
