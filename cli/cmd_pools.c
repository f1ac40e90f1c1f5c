/*
 * cmd_pools.c - `updraft pools list|get|set|delete|import|export`, with
 * Airflow's JSON file format:
 *
 *   {"pool_name": {"slots": 4, "description": "what it is",
 *                  "include_deferred": false}}
 *
 * include_deferred is optional on import (false for a new pool). An import
 * is all or nothing: one invalid entry and no pool changes.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/pools.h"

/* The most pools list/export print (Airflow deployments have a handful). */
#define POOLS_CLI_MAX 100000

static void usage(FILE *f)
{
    fputs("usage: updraft pools list [-o table|json|plain]\n"
          "       updraft pools get NAME [-o table|json|plain]\n"
          "       updraft pools set NAME SLOTS DESCRIPTION [--include-deferred]\n"
          "       updraft pools delete NAME\n"
          "       updraft pools import FILE\n"
          "       updraft pools export FILE\n",
          f);
}

/* Prints pools (a JSON array from pools_list/pools_get) in fmt; deletes it. */
static void print_pools(cJSON *pools, const char *fmt)
{
    static const cli_column_t cols[] = {{"name", -24},
                                        {"slots", 6},
                                        {"occupied_slots", 14},
                                        {"open_slots", 10},
                                        {"description", 0}};
    static const cli_list_layout_t layout = {cols, 5, false, true};

    cli_print_list(pools, fmt, &layout);
}

/* Reads "-o FMT" options; 0, or the usage exit status. */
static int read_output(int argc, char **argv, int first, const char **fmt, const char **arg)
{
    for (int i = first; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-o", "--output", fmt))
            continue;
        if (argv[i][0] == '-' || !arg || *arg)
            return cli_usage_error(usage);
        *arg = argv[i];
    }
    return cli_valid_output(*fmt) ? 0 : 2;
}

static int cmd_list(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    const char *fmt = "table";
    cJSON *pools = NULL;
    long total;
    int rc;

    (void)ring;
    if ((rc = read_output(argc, argv, 1, &fmt, NULL)) != 0)
        return rc;
    if ((rc = pools_list(db, POOLS_CLI_MAX, 0, &pools, &total)) < 0)
        return cli_fail(rc, db_error(db));
    print_pools(pools, fmt);
    return 0;
}

/* Prints one pool as a one-element list; 0, or 1 with a message. */
static int show_pool(db_t *db, const char *name, const char *fmt)
{
    cJSON *pool = NULL, *arr;
    int rc = pools_get(db, name, &pool);

    if (rc == UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "Pool %s does not exist\n", name);
        return cli_exit_status(rc);
    }
    if (rc < 0)
        return cli_fail(rc, db_error(db));
    arr = cJSON_CreateArray();
    if (!arr || !cJSON_AddItemToArray(arr, pool)) {
        cJSON_Delete(pool);
        cJSON_Delete(arr);
        fprintf(stderr, "updraft: out of memory\n");
        return 1;
    }
    print_pools(arr, fmt);
    return 0;
}

static int cmd_get(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    const char *fmt = "table", *name = NULL;
    int rc;

    (void)ring;
    if ((rc = read_output(argc, argv, 1, &fmt, &name)) != 0)
        return rc;
    if (!name)
        return cli_usage_error(usage);
    return show_pool(db, name, fmt);
}

/* SLOTS as an integer of -1 or more; false with a message. */
static bool parse_slots(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < -1 || v > INT_MAX) {
        fprintf(stderr, "updraft: SLOTS must be an integer of -1 (unlimited) or more: %s\n", s);
        return false;
    }
    *out = (int)v;
    return true;
}

static int cmd_set(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL};
    int n = 0, slots, deferred = -1, rc;
    char err[512];

    (void)ring;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--include-deferred"))
            deferred = 1;
        else if (n < 3)
            pos[n++] = argv[i];
        else
            return cli_usage_error(usage);
    }
    if (n != 3)
        return cli_usage_error(usage);
    if (!parse_slots(pos[1], &slots))
        return 2;
    if ((rc = pools_set(db, pos[0], slots, pos[2], deferred, false, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
    printf("Pool %s created\n", pos[0]);
    return 0;
}

static int cmd_delete(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    int rc;

    (void)ring;
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage_error(usage);
    rc = pools_delete(db, argv[1]);
    if (rc == UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "Pool %s does not exist\n", argv[1]);
        return cli_exit_status(rc);
    }
    if (rc == UPDRAFT_EINVALID) {
        fprintf(stderr, "Default pool can't be deleted\n");
        return cli_exit_status(rc);
    }
    if (rc < 0)
        return cli_fail(rc, db_error(db));
    printf("Pool %s deleted\n", argv[1]);
    return 0;
}

/* Checks one import entry; 0, or -1 with err. */
static int import_entry(const cJSON *it, int *slots, const char **desc, int *deferred, char *err,
                        size_t errlen)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "slots");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "description");
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(it, "include_deferred");

    if (!cJSON_IsObject(it) || !pools_name_valid(it->string)) {
        snprintf(err, errlen, "invalid pool definition: %.256s", it->string);
        return -1;
    }
    if (!cJSON_IsNumber(s) || s->valuedouble != floor(s->valuedouble) || s->valuedouble < -1 ||
        s->valuedouble > INT_MAX) {
        snprintf(err, errlen, "pool %.256s: slots must be an integer of -1 or more", it->string);
        return -1;
    }
    if (d && !cJSON_IsString(d) && !cJSON_IsNull(d)) {
        snprintf(err, errlen, "pool %.256s: description must be a string", it->string);
        return -1;
    }
    if (inc && !cJSON_IsBool(inc)) {
        snprintf(err, errlen, "pool %.256s: include_deferred must be a boolean", it->string);
        return -1;
    }
    *slots = (int)s->valuedouble;
    *desc = cJSON_IsString(d) ? d->valuestring : "";
    *deferred = inc ? cJSON_IsTrue(inc) : -1;
    return 0;
}

/* cli_import's step: sets every pool of root, all or nothing; *ud counts them. */
static int import_pools(db_t *db, const struct secrets_keyring *ring, char *text, const cJSON *root,
                        void *ud)
{
    int *n = ud;
    char err[512];

    (void)ring;
    (void)text;
    for (const cJSON *it = root->child; it; it = it->next) {
        int slots, deferred;
        const char *desc;
        if (import_entry(it, &slots, &desc, &deferred, err, sizeof(err)) < 0 ||
            pools_set(db, it->string, slots, desc, deferred, false, err, sizeof(err)) < 0) {
            fprintf(stderr, "Pool import failed: %s; nothing was imported.\n", err);
            return -1;
        }
        (*n)++;
    }
    return 0;
}

static int cmd_import(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    const char *path = NULL;
    int n = 0;

    for (int i = 1; i < argc; i++)
        if (!cli_take_path(argv[i], &path))
            return cli_usage_error(usage);
    if (!path)
        return cli_usage_error(usage);
    if (cli_import(db, ring, path, "pools", import_pools, &n) != 0)
        return 1;
    printf("Uploaded %d pool(s)\n", n);
    return 0;
}

/* The export: an object of {slots, description, include_deferred} by pool name; NULL on OOM. */
static char *export_text(const cJSON *pools, int *n)
{
    cJSON *root = cJSON_CreateObject();
    const cJSON *p;
    char *text;

    cJSON_ArrayForEach(p, pools)
    {
        cJSON *o = cJSON_CreateObject();
        if (!root || !o) {
            cJSON_Delete(o);
            break;
        }
        cJSON_AddNumberToObject(o, "slots",
                                cJSON_GetObjectItemCaseSensitive(p, "slots")->valuedouble);
        cJSON_AddItemReferenceToObject(o, "description",
                                       cJSON_GetObjectItemCaseSensitive(p, "description"));
        cJSON_AddItemReferenceToObject(o, "include_deferred",
                                       cJSON_GetObjectItemCaseSensitive(p, "include_deferred"));
        cJSON_AddItemToObject(root, cJSON_GetObjectItemCaseSensitive(p, "name")->valuestring, o);
        (*n)++;
    }
    text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static int cmd_export(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    cJSON *pools = NULL;
    char *text, done[4096];
    long total;
    int rc, n = 0;

    (void)ring;
    if (argc != 2)
        return cli_usage_error(usage);
    if ((rc = pools_list(db, POOLS_CLI_MAX, 0, &pools, &total)) < 0)
        return cli_fail(rc, db_error(db));
    text = export_text(pools, &n);
    snprintf(done, sizeof(done), "Exported %d pools to %s", n, argv[1]);
    rc = cli_export(argv[1], text, true, done);
    cJSON_free(text);
    cJSON_Delete(pools);
    return rc;
}

int cli_pools(const config_t *cfg, int argc, char **argv)
{
    static const cli_verb_t verbs[] = {
        {"list", cmd_list},     {"get", cmd_get},       {"set", cmd_set},
        {"delete", cmd_delete}, {"import", cmd_import}, {"export", cmd_export},
    };

    return cli_run_verb(cfg, "pools", verbs, sizeof(verbs) / sizeof(verbs[0]), usage, argc, argv);
}
