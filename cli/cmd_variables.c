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
#include "core/error.h"
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
    if (rc == UPDRAFT_ENOTFOUND) {
        if (!def) {
            fprintf(stderr, "Variable %s does not exist\n", key);
            return cli_exit_status(rc);
        }
        puts(def);
        return 0;
    }
    if (rc < 0)
        return cli_fail(rc, err);
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
    int rc;

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
    if ((rc = variables_set(db, ring, key, val, desc, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
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
    static const cli_column_t cols[] = {{"key", 0}};
    static const cli_list_layout_t layout = {cols, 1, true, false};
    const char *fmt = "table";
    variable_t *vars = NULL;
    size_t n = 0;
    char err[512];
    cJSON *rows;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-o", "--output", &fmt))
            continue;
        return cli_usage_error(usage);
    }
    if (!cli_valid_output(fmt))
        return 2;
    if ((rc = variables_list(db, ring, false, &vars, &n, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
    rows = cJSON_CreateArray();
    for (size_t i = 0; rows && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", vars[i].key);
        cJSON_AddItemToArray(rows, o);
    }
    variables_list_free(vars, n);
    cli_print_list(rows, fmt, &layout);
    return 0;
}

/* What an import does with keys that exist already, and what it counted. */
typedef struct import_state {
    const char *action; /* overwrite, fail or skip */
    int total, ok, skipped;
} import_state_t;

/* Whether key is stored (a row that does not decrypt still exists). */
static bool key_exists(db_t *db, const secrets_keyring_t *ring, const char *key)
{
    char *v = NULL, err[512];
    int got = variables_get(db, ring, key, &v, NULL, err, sizeof(err));
    secrets_free_str(v);
    return got != UPDRAFT_ENOTFOUND;
}

/* -a fail: refuses the whole file when any of its keys exists. */
static int check_none_exist(db_t *db, const secrets_keyring_t *ring, const cJSON *root)
{
    cJSON *exists = cJSON_CreateArray();
    int rc = 0;

    for (const cJSON *it = root->child; it; it = it->next)
        if (key_exists(db, ring, it->string))
            cJSON_AddItemToArray(exists, cJSON_CreateString(it->string));
    if (cJSON_GetArraySize(exists) > 0) {
        char *list = cJSON_PrintUnformatted(exists);
        fprintf(stderr, "Failed. These keys: %s already exists.\n", list ? list : "");
        cJSON_free(list);
        rc = -1;
    }
    cJSON_Delete(exists);
    return rc;
}

/*
 * The value and description of one entry: an object with a truthy
 * "value" is value + description, anything else the value itself.
 */
static const cJSON *entry_value(const cJSON *it, const cJSON **desc)
{
    *desc = NULL;
    if (cJSON_IsObject(it)) {
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(it, "value");
        if (inner && !cJSON_IsNull(inner) && !cJSON_IsFalse(inner) &&
            !(cJSON_IsString(inner) && !inner->valuestring[0]) &&
            !(cJSON_IsNumber(inner) && inner->valuedouble == 0)) {
            *desc = cJSON_GetObjectItemCaseSensitive(it, "description");
            return inner;
        }
    }
    return it;
}

/* Stores every entry of root, all or nothing (cli_import rolls back on failure). */
static int import_variables(db_t *db, const secrets_keyring_t *ring, char *text, const cJSON *root,
                            void *ud)
{
    import_state_t *st = ud;
    char err[512];

    (void)text;
    if (!strcmp(st->action, "fail") && check_none_exist(db, ring, root) < 0)
        return -1;
    for (const cJSON *it = root->child; it; it = it->next) {
        const cJSON *d, *v = entry_value(it, &d);
        char *owned = NULL;
        const char *val;
        int r;

        st->total++;
        if (cJSON_IsString(v)) {
            val = v->valuestring;
        } else {
            owned = cJSON_PrintUnformatted(v);
            val = owned;
        }
        if (!strcmp(st->action, "skip") && key_exists(db, ring, it->string)) {
            st->skipped++;
            secrets_free_str(owned);
            continue;
        }
        r = val ? variables_set(db, ring, it->string, val,
                                cJSON_IsString(d) ? d->valuestring : NULL, err, sizeof(err))
                : UPDRAFT_ENOMEM;
        secrets_free_str(owned);
        if (r < 0) {
            fprintf(stderr, "Variable import failed: %s\n", val ? err : "out of memory");
            fputs("1 variable(s) failed to be updated; nothing was imported.\n", stderr);
            return -1;
        }
        st->ok++;
    }
    return 0;
}

static int cmd_import(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *path = NULL;
    import_state_t st = {.action = "overwrite"};

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-a", "--action-on-existing-key", &st.action))
            continue;
        if (!cli_take_path(argv[i], &path))
            return cli_usage_error(usage);
    }
    if (!path)
        return cli_usage_error(usage);
    if (strcmp(st.action, "overwrite") && strcmp(st.action, "fail") && strcmp(st.action, "skip")) {
        fprintf(stderr, "updraft: --action-on-existing-key must be overwrite, fail or skip\n");
        return 2;
    }
    if (cli_import(db, ring, path, "variables", import_variables, &st) != 0)
        return 1;
    printf("%d of %d variables successfully updated.\n", st.ok, st.total);
    if (st.skipped)
        printf("%d variable(s) skipped.\n", st.skipped);
    return 0;
}

static int cmd_export(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    variable_t *vars = NULL;
    size_t n = 0;
    char err[512], done[4096], *text = NULL;
    cJSON *root = NULL;
    int rc;

    if (argc != 2)
        return cli_usage_error(usage);
    if ((rc = variables_list(db, ring, true, &vars, &n, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
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
    snprintf(done, sizeof(done), "%zu variables successfully exported to %s", n, argv[1]);
    rc = cli_export(argv[1], text, true, done);
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
