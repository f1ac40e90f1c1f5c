/*
 * cmd_connections.c - `updraft connections get|add|delete|list|import|export`
 * and `updraft rotate-fernet-key`, with Airflow's flags and file formats:
 *
 *   JSON  {"my_db": {"conn_type": "postgres", "description": null,
 *          "login": "u", "password": "p", "host": "h", "port": 5432,
 *          "schema": "s", "extra": "{\"sslmode\": \"require\"}"}, ...}
 *         (import also takes "extra" as an object, "extra_dejson", or "uri")
 *   env   MY_DB=postgres://u:p@h:5432/s?sslmode=require   (one per line;
 *         the value may also be a JSON object; # starts a comment)
 *
 * Passwords and extras are stored encrypted (store/connections.h);
 * exported files hold them in clear and are created with mode 0600.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/connections.h"
#include "core/secrets.h"
#include "store/variables.h"

static void usage(FILE *f)
{
    fputs("usage: updraft connections get CONN_ID [-o table|json|plain]\n"
          "       updraft connections add CONN_ID (--conn-uri URI | --conn-json JSON |\n"
          "             --conn-type TYPE [--conn-host H] [--conn-login L] [--conn-password P]\n"
          "             [--conn-port N] [--conn-schema S] [--conn-extra JSON])\n"
          "             [--conn-description TEXT]\n"
          "       updraft connections delete CONN_ID\n"
          "       updraft connections list [--conn-id ID] [-o table|json|plain]\n"
          "       updraft connections import FILE [--overwrite]\n"
          "       updraft connections export FILE [--file-format json|env]\n"
          "             [--serialization-format uri|json]\n",
          f);
}

/* "type://login:***@host:port/schema" for messages: never the password. */
static void print_masked(FILE *f, const connection_t *c)
{
    fprintf(f, "%s://%s:%s@%s:", c->conn_type ? c->conn_type : "", c->login ? c->login : "",
            c->password ? "******" : "",
            connection_display_host(c) ? connection_display_host(c) : "");
    if (c->port >= 0)
        fprintf(f, "%d", c->port);
    fprintf(f, "/%s", c->schema ? c->schema : "");
}

static int cmd_get(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *id = NULL, *fmt = "table";
    connection_t *c = NULL;
    char err[512], *uri;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-o", "--output", &fmt))
            continue;
        if (argv[i][0] == '-' || id)
            return cli_usage_error(usage);
        id = argv[i];
    }
    if (!id)
        return cli_usage_error(usage);
    if (!cli_valid_output(fmt))
        return 2;
    rc = connections_lookup(db, ring, id, &c, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "Connection not found.\n");
        return cli_exit_status(rc);
    }
    if (rc < 0)
        return cli_fail(rc, err);
    uri = connection_to_uri(c);
    if (!strcmp(fmt, "json")) {
        cJSON *o = connection_to_json(c, true);
        cJSON_AddStringToObject(o, "conn_id", id);
        cJSON_AddStringToObject(o, "get_uri", uri ? uri : "");
        cli_print_json(o, "{}");
    } else {
        const char *names[] = {"conn_id", "conn_type", "description", "host",  "schema",
                               "login",   "password",  "port",        "extra", "get_uri"};
        char port[16];
        const char *vals[10];
        snprintf(port, sizeof(port), "%d", c->port);
        vals[0] = c->conn_id;
        vals[1] = c->conn_type;
        vals[2] = c->description;
        vals[3] = c->host;
        vals[4] = c->schema;
        vals[5] = c->login;
        vals[6] = c->password;
        vals[7] = c->port >= 0 ? port : NULL;
        vals[8] = c->extra;
        vals[9] = uri;
        for (int i = 0; i < 10; i++)
            printf(!strcmp(fmt, "plain") ? "%s\t%s\n" : "%-12s| %s\n", names[i],
                   vals[i] ? vals[i] : "None");
    }
    secrets_free_str(uri);
    connection_free(c);
    return 0;
}

static char *dup_opt(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int cmd_add(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *id = NULL, *uri = NULL, *json = NULL, *type = NULL, *host = NULL, *login = NULL,
               *password = NULL, *port = NULL, *schema = NULL, *extra = NULL, *desc = NULL;
    connection_t *c = NULL;
    char err[512];
    int rc = 1, r;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, NULL, "--conn-uri", &uri) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-json", &json) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-type", &type) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-host", &host) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-login", &login) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-password", &password) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-port", &port) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-schema", &schema) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-extra", &extra) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-description", &desc))
            continue;
        if (argv[i][0] == '-' || id) {
            fprintf(stderr, "updraft: unexpected argument '%s'\n", argv[i]);
            return cli_usage_error(usage);
        }
        id = argv[i];
    }
    if (!id)
        return cli_usage_error(usage);
    if ((uri != NULL) + (json != NULL) + (type != NULL) > 1 ||
        ((uri || json) && (host || login || password || port || schema || extra))) {
        fprintf(stderr, "updraft: give one of --conn-uri, --conn-json or --conn-type (with the "
                        "other --conn-* fields)\n");
        return 2;
    }
    if (!uri && !json && !type) {
        fprintf(stderr, "updraft: must supply either --conn-uri or --conn-json if not "
                        "supplying --conn-type\n");
        return 2;
    }
    if (uri)
        r = connection_parse_uri(id, uri, &c, err, sizeof(err));
    else if (json) {
        const char *p = json;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '{') {
            fprintf(stderr, "updraft: --conn-json must be a JSON object\n");
            return 2;
        }
        r = connection_parse_text(id, json, &c, err, sizeof(err));
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "conn_type", type);
        if (host)
            cJSON_AddStringToObject(o, "host", host);
        if (login)
            cJSON_AddStringToObject(o, "login", login);
        if (password)
            cJSON_AddStringToObject(o, "password", password);
        if (port)
            cJSON_AddStringToObject(o, "port", port);
        if (schema)
            cJSON_AddStringToObject(o, "schema", schema);
        if (extra) {
            cJSON *e = cJSON_Parse(extra);
            if (!cJSON_IsObject(e)) {
                cJSON_Delete(e);
                cJSON_Delete(o);
                fprintf(stderr, "updraft: --conn-extra must be a JSON object\n");
                return 2;
            }
            cJSON_AddItemToObject(o, "extra", e);
        }
        r = connection_from_json(id, o, &c, err, sizeof(err));
        cJSON_Delete(o);
    }
    if (r < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return 1;
    }
    if (desc) {
        free(c->description);
        c->description = dup_opt(desc);
    }
    r = connections_put(db, ring, c, false, err, sizeof(err));
    if (r == UPDRAFT_EEXISTS) {
        fprintf(stderr, "A connection with `conn_id`=%s already exists.\n", id);
        rc = cli_exit_status(r);
        goto out;
    }
    if (r < 0) {
        rc = cli_fail(r, err);
        goto out;
    }
    printf("Successfully added `conn_id`=%s : ", id);
    print_masked(stdout, c);
    putchar('\n');
    rc = 0;
out:
    connection_free(c);
    return rc;
}

static int cmd_delete(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    static const cli_delete_text_t text = {{"Did not find a connection with `conn_id`=", ""},
                                           {"Successfully deleted connection with `conn_id`=", ""}};

    (void)ring;
    return cli_delete(db, argc, argv, usage, connections_delete, &text);
}

/* A listing's row: the connection without password and extra, its host as listings show it. */
static cJSON *list_row(const connection_t *c)
{
    cJSON *o = connection_to_json(c, false);

    cJSON_DeleteItemFromObject(o, "extra");
    if (connection_display_host(c) != c->host)
        cJSON_ReplaceItemInObject(o, "host", cJSON_CreateString("***"));
    cJSON_AddStringToObject(o, "conn_id", c->conn_id);
    return o;
}

static int cmd_list(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    static const cli_column_t cols[] = {{"conn_id", -24}, {"conn_type", -12}, {"host", -24},
                                        {"port", -5},     {"schema", -16},    {"login", 0}};
    static const cli_list_layout_t layout = {cols, 6, false, false};
    const char *fmt = "table", *only = NULL;
    connection_t **list = NULL;
    size_t n = 0;
    char err[512];
    cJSON *rows;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-o", "--output", &fmt) ||
            cli_opt_value(argc, argv, &i, NULL, "--conn-id", &only))
            continue;
        return cli_usage_error(usage);
    }
    if (!cli_valid_output(fmt))
        return 2;
    if ((rc = connections_list(db, ring, false, &list, &n, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
    rows = cJSON_CreateArray();
    for (size_t i = 0; rows && i < n; i++)
        if (!only || !strcmp(only, list[i]->conn_id))
            cJSON_AddItemToArray(rows, list_row(list[i]));
    connections_list_free(list, n);
    cli_print_list(rows, fmt, &layout);
    return 0;
}

static const char *file_ext(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && !strchr(dot, '/') ? dot + 1 : "";
}

/* What an import does with ids that exist already, and what it counted. */
typedef struct import_counts {
    bool env; /* an env-format file, else JSON */
    bool overwrite;
    int imported, skipped;
} import_counts_t;

/* Reports one connections_put of an import: 0, or -1 (printed) when it failed. */
static int report_put(int r, const char *id, const char *err, import_counts_t *counts)
{
    if (r == UPDRAFT_EEXISTS) {
        printf("Could not import connection %s: connection already exists.\n", id);
        counts->skipped++;
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "updraft: %s\n", err);
        return -1;
    }
    printf("Imported connection %s\n", id);
    counts->imported++;
    return 0;
}

/* Imports an env-format file: one CONN_ID=URI (or JSON) per line. */
static int import_env(db_t *db, const secrets_keyring_t *ring, char *text, import_counts_t *counts)
{
    bool overwrite = counts->overwrite;
    char err[512];
    int lineno = 0;

    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq, *id, *val, *end;
        connection_t *c = NULL;
        int r;

        lineno++;
        while (isspace((unsigned char)*line))
            line++;
        end = line + strlen(line);
        while (end > line && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (!*line || *line == '#')
            continue;
        eq = strchr(line, '=');
        if (!eq) {
            fprintf(stderr, "updraft: line %d: expected CONN_ID=URI\n", lineno);
            return -1;
        }
        *eq = '\0';
        id = line;
        val = eq + 1;
        for (char *p = eq - 1; p >= id && isspace((unsigned char)*p); p--)
            *p = '\0';
        if (connection_parse_text(id, val, &c, err, sizeof(err)) < 0) {
            fprintf(stderr, "updraft: line %d: %s\n", lineno, err);
            return -1;
        }
        r = connections_put(db, ring, c, overwrite, err, sizeof(err));
        connection_free(c);
        if (report_put(r, id, err, counts) < 0)
            return -1;
    }
    return 0;
}

/* Imports a JSON file: an object of connections (URI strings or objects) by id. */
static int import_json(db_t *db, const secrets_keyring_t *ring, const char *text,
                       import_counts_t *counts)
{
    bool overwrite = counts->overwrite;
    cJSON *root = cJSON_ParseWithOpts(text, NULL, 1);
    char err[512];
    int rc = -1;

    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "updraft: invalid connections file (expected a JSON object of "
                        "connections by id)\n");
        goto out;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        connection_t *c = NULL;
        int r;
        if (cJSON_IsString(it))
            r = connection_parse_uri(it->string, it->valuestring, &c, err, sizeof(err));
        else
            r = connection_from_json(it->string, it, &c, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "updraft: %s\n", err);
            goto out;
        }
        r = connections_put(db, ring, c, overwrite, err, sizeof(err));
        connection_free(c);
        if (report_put(r, it->string, err, counts) < 0)
            goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* cli_import's step: the file by its format; a failure means nothing is imported. */
static int import_file(db_t *db, const secrets_keyring_t *ring, char *text, const cJSON *root,
                       void *ud)
{
    import_counts_t *counts = ud;
    int r;

    (void)root;
    r = counts->env ? import_env(db, ring, text, counts) : import_json(db, ring, text, counts);
    if (r < 0)
        fprintf(stderr, "updraft: nothing was imported\n");
    return r;
}

static int cmd_import(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *path = NULL, *ext;
    import_counts_t counts = {0};

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--overwrite"))
            counts.overwrite = true;
        else if (!cli_take_path(argv[i], &path))
            return cli_usage_error(usage);
    }
    if (!path)
        return cli_usage_error(usage);
    ext = file_ext(path);
    if (strcmp(ext, "json") && strcmp(ext, "env")) {
        fprintf(stderr, "updraft: unsupported file format '%s': use a .json or .env file\n", ext);
        return 1;
    }
    counts.env = !strcmp(ext, "env");
    return cli_import(db, ring, path, NULL, import_file, &counts);
}

/* The env export: CONN_ID=URI (or compact JSON) lines; NULL on OOM. */
static char *env_text(connection_t **list, size_t n, bool uri)
{
    size_t cap = 1, len = 0;
    char *text = calloc(1, 1);

    for (size_t i = 0; text && i < n; i++) {
        char *v = NULL, *line = NULL;
        if (uri) {
            v = connection_to_uri(list[i]);
        } else {
            cJSON *o = connection_to_json(list[i], true);
            v = o ? cJSON_PrintUnformatted(o) : NULL;
            cJSON_Delete(o);
        }
        if (!v || asprintf(&line, "%s=%s\n", list[i]->conn_id, v) < 0) {
            secrets_free_str(v);
            secrets_free_str(text);
            return NULL;
        }
        secrets_free_str(v);
        size_t l = strlen(line);
        char *grown = realloc(text, cap + l);
        if (!grown) {
            secrets_free_str(line);
            secrets_free_str(text);
            return NULL;
        }
        text = grown;
        memcpy(text + len, line, l + 1);
        len += l;
        cap += l;
        secrets_free_str(line);
    }
    return text;
}

/* The JSON export: an object of connections (with passwords) by id; NULL on OOM. */
static char *json_text(connection_t **list, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    char *text;

    for (size_t i = 0; root && i < n; i++)
        cJSON_AddItemToObject(root, list[i]->conn_id, connection_to_json(list[i], true));
    text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static int cmd_export(db_t *db, const secrets_keyring_t *ring, int argc, char **argv)
{
    const char *path = NULL, *ffmt = NULL, *sfmt = "uri";
    connection_t **list = NULL;
    size_t n = 0;
    char err[512], done[4096], *text = NULL;
    bool json;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, NULL, "--file-format", &ffmt) ||
            cli_opt_value(argc, argv, &i, NULL, "--format", &ffmt) ||
            cli_opt_value(argc, argv, &i, NULL, "--serialization-format", &sfmt))
            continue;
        if (!cli_take_path(argv[i], &path))
            return cli_usage_error(usage);
    }
    if (!path)
        return cli_usage_error(usage);
    if (!ffmt)
        ffmt = strcmp(path, "-") == 0 ? "json" : file_ext(path);
    if (strcmp(ffmt, "json") && strcmp(ffmt, "env")) {
        fprintf(stderr, "updraft: unsupported file format '%s': use json or env\n", ffmt);
        return 2;
    }
    if (strcmp(sfmt, "uri") && strcmp(sfmt, "json")) {
        fprintf(stderr, "updraft: --serialization-format must be uri or json\n");
        return 2;
    }
    if ((rc = connections_list(db, ring, true, &list, &n, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
    json = !strcmp(ffmt, "json");
    text = json ? json_text(list, n) : env_text(list, n, !strcmp(sfmt, "uri"));
    snprintf(done, sizeof(done), "Connections successfully exported to %s.", path);
    rc = cli_export(path, text, json, done);
    secrets_free_str(text);
    connections_list_free(list, n);
    return rc;
}

int cli_connections(const config_t *cfg, int argc, char **argv)
{
    static const cli_verb_t verbs[] = {
        {"get", cmd_get},   {"add", cmd_add},       {"delete", cmd_delete},
        {"list", cmd_list}, {"import", cmd_import}, {"export", cmd_export},
    };

    return cli_run_verb(cfg, "connections", verbs, sizeof(verbs) / sizeof(verbs[0]), usage, argc,
                        argv);
}

int cli_rotate_fernet_key(const config_t *cfg, int argc, char **argv)
{
    secrets_keyring_t *ring;
    db_t *db = NULL;
    long nvars = 0, nconns = 0;
    char err[512];
    int rc = 1;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: updraft rotate-fernet-key\n");
        return 2;
    }
    ring = cli_keyring(cfg);
    if (!ring)
        return 1;
    if (secrets_keyring_count(ring) == 0) {
        fprintf(stderr, "updraft: no encryption key is configured: set core.fernet_key "
                        "(UPDRAFT__CORE__FERNET_KEY) to NEW_KEY,OLD_KEY first\n");
        goto out;
    }
    db = cli_connect(cfg, true);
    if (!db)
        goto out;
    if ((rc = variables_rotate(db, ring, &nvars, err, sizeof(err))) < 0 ||
        (rc = connections_rotate(db, ring, &nconns, err, sizeof(err))) < 0) {
        rc = cli_fail(rc, err);
        goto out;
    }
    printf("re-encrypted %ld variable%s and %ld connection%s with key %s\n", nvars,
           nvars == 1 ? "" : "s", nconns, nconns == 1 ? "" : "s", secrets_keyring_key_id(ring, 0));
    rc = 0;
out:
    db_close(db);
    secrets_keyring_free(ring);
    return rc;
}
