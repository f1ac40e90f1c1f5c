/*
 * cmd_users.c - `updraft users ...` and `updraft roles list`, with
 * Airflow's verbs and flags:
 *
 *   users create -u U -f FIRST -l LAST -e EMAIL -r ROLE [-p P | --use-random-password]
 *   users list | delete | reset-password | add-role | remove-role
 *   users token create|list|revoke      (API tokens: updraft's own)
 *   roles list [-p]
 *
 * A password comes from --password, from --use-random-password (printed
 * once, here), or else is read without echo from the terminal, twice, or
 * as one line from stdin when stdin is not a terminal (for scripts: a
 * password on the command line is visible to every local user through
 * ps). Passwords are read byte by byte from the descriptor, never through
 * stdio's buffers, and every copy is wiped. A token is printed once, alone
 * on stdout, so that TOKEN=$(updraft users token create -u U) works.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/credential.h"
#include "model/roles.h"
#include "store/users.h"

#define USERS_CLI_MAX 1000000 /* users a listing prints */
#define RANDOM_PASSWORD_LEN 20

static void usage(FILE *f)
{
    fputs("usage: updraft users create -u USERNAME -f FIRSTNAME -l LASTNAME -e EMAIL -r ROLE\n"
          "             [-p PASSWORD | --use-random-password]\n"
          "       updraft users list [-o table|json|plain]\n"
          "       updraft users delete -u USERNAME\n"
          "       updraft users reset-password -u USERNAME [-p PASSWORD | --use-random-password]\n"
          "       updraft users add-role -u USERNAME -r ROLE\n"
          "       updraft users remove-role -u USERNAME -r ROLE\n"
          "       updraft users token create -u USERNAME [--expires-in 30d]\n"
          "       updraft users token list [-u USERNAME] [-o table|json|plain]\n"
          "       updraft users token revoke --id ID [-u USERNAME]\n"
          "Without -p or --use-random-password the password is read from the terminal\n"
          "(twice, without echo), or as one line from stdin when it is not a terminal.\n"
          "Roles: Public, Viewer, User, Op, Admin (updraft roles list -p).\n",
          f);
}

/* ---- options -------------------------------------------------------------- */

typedef struct user_opts {
    const char *username, *firstname, *lastname, *email, *role, *password, *output, *expires_in,
        *id;
    bool random_password;
} user_opts_t;

enum {
    O_USERNAME = 1 << 0,
    O_FIRSTNAME = 1 << 1,
    O_LASTNAME = 1 << 2,
    O_EMAIL = 1 << 3,
    O_ROLE = 1 << 4,
    O_PASSWORD = 1 << 5,
    O_RANDOM = 1 << 6,
    O_OUTPUT = 1 << 7,
    O_EXPIRES = 1 << 8,
    O_ID = 1 << 9,
};

static const struct {
    int bit;
    const char *s, *name;
    size_t off;
} value_opts[] = {
    {O_USERNAME, "-u", "--username", offsetof(user_opts_t, username)},
    {O_FIRSTNAME, "-f", "--firstname", offsetof(user_opts_t, firstname)},
    {O_LASTNAME, "-l", "--lastname", offsetof(user_opts_t, lastname)},
    {O_EMAIL, "-e", "--email", offsetof(user_opts_t, email)},
    {O_ROLE, "-r", "--role", offsetof(user_opts_t, role)},
    {O_PASSWORD, "-p", "--password", offsetof(user_opts_t, password)},
    {O_OUTPUT, "-o", "--output", offsetof(user_opts_t, output)},
    {O_EXPIRES, NULL, "--expires-in", offsetof(user_opts_t, expires_in)},
    {O_ID, NULL, "--id", offsetof(user_opts_t, id)},
};

/*
 * Reads argv[1..argc) as the options in allowed (O_* bits); need must all
 * be given. 0, or the usage exit status with a message.
 */
static int parse_opts(int argc, char **argv, int allowed, int need, user_opts_t *o)
{
    int seen = 0;

    memset(o, 0, sizeof(*o));
    o->output = "table";
    for (int i = 1; i < argc; i++) {
        bool matched = false;
        if ((allowed & O_RANDOM) && !strcmp(argv[i], "--use-random-password")) {
            o->random_password = true;
            continue;
        }
        for (size_t k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]) && !matched; k++) {
            const char **slot = (const char **)((char *)o + value_opts[k].off);
            if ((allowed & value_opts[k].bit) &&
                cli_opt_value(argc, argv, &i, value_opts[k].s, value_opts[k].name, slot)) {
                seen |= value_opts[k].bit;
                matched = true;
            }
        }
        if (!matched) {
            /* Never echo what might be a password given to the wrong flag. */
            fprintf(stderr, "updraft: unexpected argument at position %d\n", i);
            return cli_usage_error(usage);
        }
    }
    if ((seen & need) != need) {
        for (size_t k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]); k++)
            if ((need & value_opts[k].bit) && !(seen & value_opts[k].bit)) {
                fprintf(stderr, "updraft: %s is required\n", value_opts[k].name);
                break;
            }
        return cli_usage_error(usage);
    }
    if (o->password && o->random_password) {
        fprintf(stderr, "updraft: give either --password or --use-random-password\n");
        return 2;
    }
    return (allowed & O_OUTPUT) && !cli_valid_output(o->output) ? 2 : 0;
}

/* ---- passwords ------------------------------------------------------------ */

/*
 * One line from fd into buf (size bytes), without the newline, read byte
 * by byte so that nothing stays behind in a stdio buffer. Returns its
 * length, -1 at end of input before any byte, -2 when the line is longer
 * than size - 1 (the rest of the line is read and dropped).
 */
static long read_line_fd(int fd, char *buf, size_t size)
{
    size_t n = 0;
    bool too_long = false, any = false;
    char c;

    for (;;) {
        ssize_t got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        any = true;
        if (c == '\n')
            break;
        if (n + 1 < size)
            buf[n++] = c;
        else
            too_long = true;
    }
    c = 0;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (too_long)
        return -2;
    return any ? (long)n : -1;
}

/* Reads one line from the terminal on stdin without echo, after prompt (on stderr). */
static long read_hidden(const char *prompt, char *buf, size_t size)
{
    struct termios old, quiet;
    bool restore = false;
    long n;

    fputs(prompt, stderr);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        restore = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
    }
    n = read_line_fd(STDIN_FILENO, buf, size);
    if (restore)
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    else
        fputc('\n', stderr);
    return n;
}

/*
 * The password of a create or reset into pw (CREDENTIAL_PASSWORD_MAX + 1
 * bytes): --password, a random one (*random set), or read as the file
 * comment says. 0, or the exit status after a message.
 */
static int get_password(const user_opts_t *o, char *pw, bool *random)
{
    char again[CREDENTIAL_PASSWORD_MAX + 2], line[CREDENTIAL_PASSWORD_MAX + 2];
    long n;
    int rc = 1;

    *random = false;
    if (o->password) {
        if (strlen(o->password) == 0 || strlen(o->password) > CREDENTIAL_PASSWORD_MAX) {
            fprintf(stderr, "updraft: a password must have 1 to %d bytes\n",
                    CREDENTIAL_PASSWORD_MAX);
            return 1;
        }
        memcpy(pw, o->password, strlen(o->password) + 1);
        return 0;
    }
    if (o->random_password) {
        if (credential_random_password(pw, RANDOM_PASSWORD_LEN) < 0) {
            fprintf(stderr, "updraft: cannot make a random password (no random bytes)\n");
            return 1;
        }
        *random = true;
        return 0;
    }
    if (isatty(STDIN_FILENO)) {
        n = read_hidden("Password: ", line, sizeof(line));
        if (n > 0 && read_hidden("Repeat for confirmation: ", again, sizeof(again)) != n)
            n = -3;
        else if (n > 0 && !credential_equal(line, again))
            n = -3;
    } else {
        n = read_line_fd(STDIN_FILENO, line, sizeof(line));
    }
    if (n == -3)
        fprintf(stderr, "updraft: passwords did not match\n");
    else if (n <= 0 || n > CREDENTIAL_PASSWORD_MAX)
        fprintf(stderr, "updraft: a password must have 1 to %d bytes (none was read)\n",
                CREDENTIAL_PASSWORD_MAX);
    else {
        memcpy(pw, line, (size_t)n + 1);
        rc = 0;
    }
    credential_wipe(line, sizeof(line));
    credential_wipe(again, sizeof(again));
    return rc;
}

/* ---- users ------------------------------------------------------------------ */

/* 0 when username is free; else the exit status after a message. */
static int user_exists(db_t *db, const char *username)
{
    cJSON *u = NULL;
    char err[512];
    int rc = users_get(db, username, &u, err, sizeof(err));

    cJSON_Delete(u);
    if (rc == UPDRAFT_ENOTFOUND)
        return 0;
    if (rc < 0)
        return cli_fail(rc, err);
    fprintf(stderr, "updraft: user \"%s\" already exists\n", username);
    return cli_exit_status(UPDRAFT_EEXISTS);
}

static int cmd_create(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    user_opts_t o;
    char pw[CREDENTIAL_PASSWORD_MAX + 1], err[512];
    bool random;
    int rc;

    (void)ring;
    rc =
        parse_opts(argc, argv,
                   O_USERNAME | O_FIRSTNAME | O_LASTNAME | O_EMAIL | O_ROLE | O_PASSWORD | O_RANDOM,
                   O_USERNAME | O_FIRSTNAME | O_LASTNAME | O_EMAIL | O_ROLE, &o);
    if (rc != 0)
        return rc;
    if (roles_parse(o.role) < 0) {
        fprintf(stderr,
                "updraft: \"%s\" is not a valid role; the roles are Public, Viewer, User, Op, "
                "Admin\n",
                o.role);
        return 1;
    }
    const char *roles[] = {o.role};
    user_fields_t f = {.username = o.username,
                       .first_name = o.firstname,
                       .last_name = o.lastname,
                       .email = o.email,
                       .roles = roles,
                       .n_roles = 1,
                       .active = -1};
    /* Refuse what cannot be created before asking for a password. */
    if ((rc = users_validate(&f, true, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
    if ((rc = user_exists(db, o.username)) != 0)
        return rc;
    if ((rc = get_password(&o, pw, &random)) != 0)
        return rc;
    f.password = pw;
    rc = users_create(db, &f, NULL, err, sizeof(err));
    if (rc < 0) {
        credential_wipe(pw, sizeof(pw));
        return cli_fail(rc, err);
    }
    printf("User \"%s\" created with role \"%s\"\n", o.username, roles_name(roles_parse(o.role)));
    if (random)
        printf("Password (shown only this once): %s\n", pw);
    credential_wipe(pw, sizeof(pw));
    return 0;
}

/* The table row of one user of users_list: the roles joined by commas. */
static cJSON *table_row(const cJSON *u)
{
    static const char *const fields[] = {"username", "email", "first_name", "last_name"};
    cJSON *row = cJSON_CreateObject();
    const cJSON *r;
    char roles[128] = "";
    size_t len = 0;

    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(u, "roles"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "name"));
        int w =
            snprintf(roles + len, sizeof(roles) - len, "%s%s", len ? "," : "", name ? name : "");
        if (w > 0)
            len = len + (size_t)w < sizeof(roles) ? len + (size_t)w : sizeof(roles) - 1;
    }
    for (size_t i = 0; row && i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, fields[i]));
        cJSON_AddStringToObject(row, fields[i], v ? v : "");
    }
    if (row) {
        cJSON_AddStringToObject(row, "roles", roles);
        cJSON_AddStringToObject(
            row, "active",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "active")) ? "True" : "False");
    }
    return row;
}

static int cmd_list(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    static const cli_column_t cols[] = {{"username", -20},  {"email", -28}, {"first_name", -14},
                                        {"last_name", -14}, {"roles", -16}, {"active", 0}};
    /* plain: tab-separated, for scripts (cut -f1 gives the usernames) */
    static const cli_list_layout_t layout = {cols, 6, false, false};
    user_opts_t o;
    cJSON *users = NULL, *rows;
    const cJSON *u;
    char err[512];
    long total;
    int rc;

    (void)ring;
    if ((rc = parse_opts(argc, argv, O_OUTPUT, 0, &o)) != 0)
        return rc;
    if ((rc = users_list(db, "id", USERS_CLI_MAX, 0, &users, &total, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
    if (!strcmp(o.output, "json")) {
        cli_print_json(users, "[]");
        return 0;
    }
    rows = cJSON_CreateArray();
    cJSON_ArrayForEach(u, users)
    {
        cJSON *row = table_row(u);
        if (!rows || !row || !cJSON_AddItemToArray(rows, row)) {
            cJSON_Delete(row);
            cJSON_Delete(rows);
            cJSON_Delete(users);
            fprintf(stderr, "updraft: out of memory\n");
            return 1;
        }
    }
    cJSON_Delete(users);
    cli_print_list(rows, o.output, &layout);
    return 0;
}

/* The message for a user that is not there; the exit status. */
static int no_such_user(const char *username)
{
    fprintf(stderr, "updraft: user \"%s\" does not exist\n", username);
    return cli_exit_status(UPDRAFT_ENOTFOUND);
}

static int cmd_delete(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    user_opts_t o;
    char err[512];
    int rc;

    (void)ring;
    if ((rc = parse_opts(argc, argv, O_USERNAME, O_USERNAME, &o)) != 0)
        return rc;
    rc = users_delete(db, o.username, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND)
        return no_such_user(o.username);
    if (rc < 0)
        return cli_fail(rc, err);
    printf("User \"%s\" deleted\n", o.username);
    return 0;
}

static int cmd_reset_password(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    user_opts_t o;
    char pw[CREDENTIAL_PASSWORD_MAX + 1], err[512];
    cJSON *exists = NULL;
    bool random;
    int rc;

    (void)ring;
    if ((rc = parse_opts(argc, argv, O_USERNAME | O_PASSWORD | O_RANDOM, O_USERNAME, &o)) != 0)
        return rc;
    /* Ask for a password only for a user that exists. */
    rc = users_get(db, o.username, &exists, err, sizeof(err));
    cJSON_Delete(exists);
    if (rc == UPDRAFT_ENOTFOUND)
        return no_such_user(o.username);
    if (rc < 0)
        return cli_fail(rc, err);
    if ((rc = get_password(&o, pw, &random)) != 0)
        return rc;
    user_fields_t f = {.password = pw, .active = -1};
    rc = users_update(db, o.username, &f, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND)
        rc = no_such_user(o.username);
    else if (rc < 0)
        rc = cli_fail(rc, err);
    else {
        printf("Password of user \"%s\" reset\n", o.username);
        if (random)
            printf("Password (shown only this once): %s\n", pw);
    }
    credential_wipe(pw, sizeof(pw));
    return rc;
}

static int change_role(db_t *db, int argc, char **argv, bool add)
{
    user_opts_t o;
    char err[512];
    int rc;

    if ((rc = parse_opts(argc, argv, O_USERNAME | O_ROLE, O_USERNAME | O_ROLE, &o)) != 0)
        return rc;
    rc = users_change_role(db, o.username, o.role, add, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND)
        return no_such_user(o.username);
    if (rc < 0)
        return cli_fail(rc, err);
    printf(add ? "User \"%s\" added to role \"%s\"\n" : "User \"%s\" removed from role \"%s\"\n",
           o.username, roles_name(roles_parse(o.role)));
    return 0;
}

static int cmd_add_role(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    (void)ring;
    return change_role(db, argc, argv, true);
}

static int cmd_remove_role(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    (void)ring;
    return change_role(db, argc, argv, false);
}

/* ---- tokens ------------------------------------------------------------------ */

int cli_parse_duration(const char *s, int64_t *sec)
{
    static const struct {
        char unit;
        int64_t mult;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    char *end;
    long long v;

    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || v < 0)
        return -1;
    if (*end == '\0') {
        *sec = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (end[0] == units[i].unit && end[1] == '\0') {
            if (v > INT64_MAX / units[i].mult)
                return -1;
            *sec = v * units[i].mult;
            return 0;
        }
    return -1;
}

static int token_create(db_t *db, int argc, char **argv)
{
    user_opts_t o;
    char token[CREDENTIAL_TOKEN_MAX], err[512];
    int64_t secs = 0, id = 0;
    int rc;

    if ((rc = parse_opts(argc, argv, O_USERNAME | O_EXPIRES, O_USERNAME, &o)) != 0)
        return rc;
    if (o.expires_in && cli_parse_duration(o.expires_in, &secs) < 0) {
        fprintf(stderr,
                "updraft: --expires-in takes a duration such as 3600s, 90m, 12h or 30d: %s\n",
                o.expires_in);
        return 2;
    }
    rc = users_token_create(db, o.username, secs, token, sizeof(token), &id, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND)
        return no_such_user(o.username);
    if (rc < 0)
        return cli_fail(rc, err);
    /* The token alone on stdout (TOKEN=$(...)); what it is on stderr. */
    puts(token);
    fflush(stdout);
    fprintf(stderr, "Token %" PRId64 " (%.8s...) created for user \"%s\"; it %s%s. ", id, token,
            o.username, secs ? "expires in " : "never expires", secs ? o.expires_in : "");
    fprintf(stderr, "It is shown only this once.\n");
    credential_wipe(token, sizeof(token));
    return 0;
}

static int token_list(db_t *db, int argc, char **argv)
{
    static const cli_column_t cols[] = {
        {"id", 6},           {"username", -20},   {"prefix", -10},     {"created_at", -32},
        {"expires_at", -32}, {"revoked_at", -32}, {"last_used_at", 0},
    };
    static const cli_list_layout_t layout = {cols, 7, false, true};
    user_opts_t o;
    cJSON *tokens = NULL;
    char err[512];
    int rc;

    if ((rc = parse_opts(argc, argv, O_USERNAME | O_OUTPUT, 0, &o)) != 0)
        return rc;
    if ((rc = users_token_list(db, o.username, &tokens, err, sizeof(err))) < 0)
        return cli_fail(rc, err);
    if (o.username && cJSON_GetArraySize(tokens) == 0) {
        cJSON *exists = NULL;
        rc = users_get(db, o.username, &exists, err, sizeof(err));
        cJSON_Delete(exists);
        if (rc < 0) {
            cJSON_Delete(tokens);
            return rc == UPDRAFT_ENOTFOUND ? no_such_user(o.username) : cli_fail(rc, err);
        }
    }
    cli_print_list(tokens, o.output, &layout);
    return 0;
}

static int token_revoke(db_t *db, int argc, char **argv)
{
    user_opts_t o;
    char err[512], *end;
    long long id;
    int rc;

    if ((rc = parse_opts(argc, argv, O_USERNAME | O_ID, O_ID, &o)) != 0)
        return rc;
    errno = 0;
    id = strtoll(o.id, &end, 10);
    if (errno || end == o.id || *end || id <= 0) {
        fprintf(stderr, "updraft: --id takes a token id (a positive number): %s\n", o.id);
        return 2;
    }
    rc = users_token_revoke(db, o.username, (int64_t)id, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        fprintf(stderr, "updraft: token %lld%s%s%s does not exist\n", id,
                o.username ? " of user \"" : "", o.username ? o.username : "",
                o.username ? "\"" : "");
        return cli_exit_status(rc);
    }
    if (rc < 0)
        return cli_fail(rc, err);
    printf("Token %lld revoked\n", id);
    return 0;
}

static int cmd_token(db_t *db, const struct secrets_keyring *ring, int argc, char **argv)
{
    (void)ring;
    if (argc >= 2 && !strcmp(argv[1], "create"))
        return token_create(db, argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return token_list(db, argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "revoke"))
        return token_revoke(db, argc - 1, argv + 1);
    fprintf(stderr, "updraft: users token create|list|revoke ...\n");
    return cli_usage_error(usage);
}

int cli_users(const config_t *cfg, int argc, char **argv)
{
    static const cli_verb_t verbs[] = {
        {"create", cmd_create},     {"list", cmd_list},
        {"delete", cmd_delete},     {"reset-password", cmd_reset_password},
        {"add-role", cmd_add_role}, {"remove-role", cmd_remove_role},
        {"token", cmd_token},
    };

    return cli_run_verb(cfg, "users", verbs, sizeof(verbs) / sizeof(verbs[0]), usage, argc, argv);
}

/* ---- roles -------------------------------------------------------------------- */

static void roles_usage(FILE *f)
{
    fputs("usage: updraft roles list [-p|--permission] [-o table|json|plain]\n", f);
}

/* Role r's permissions as Airflow's `roles list -p` names them ("DAGs.can_read"). */
static cJSON *role_permissions(role_t r)
{
    size_t n;
    const perm_t *t = roles_table(&n);
    cJSON *arr = cJSON_CreateArray();
    char name[96];

    for (size_t i = 0; arr && i < n; i++) {
        if (!roles_allow(ROLE_BIT(r), t[i].action, t[i].resource))
            continue;
        snprintf(name, sizeof(name), "%s.%s", roles_resource_name(t[i].resource),
                 roles_action_name(t[i].action));
        cJSON_AddItemToArray(arr, cJSON_CreateString(name));
    }
    return arr;
}

/* The permissions joined for a table cell; NULL when out of memory. */
static char *joined(const cJSON *perms)
{
    const cJSON *p;
    size_t len = 1;
    char *s;

    cJSON_ArrayForEach(p, perms) len += strlen(p->valuestring) + 2;
    if (!(s = malloc(len)))
        return NULL;
    s[0] = '\0';
    cJSON_ArrayForEach(p, perms)
    {
        if (s[0])
            strcat(s, ", ");
        strcat(s, p->valuestring);
    }
    return s;
}

/* One row of `roles list`: the name, and the permissions (a JSON array, or joined for a table). */
static cJSON *role_row(role_t r, bool with_perms, bool json)
{
    cJSON *o = cJSON_CreateObject(), *p = NULL;
    char *cell = NULL;

    if (!o || !cJSON_AddStringToObject(o, "name", roles_name(r)))
        goto fail;
    if (!with_perms)
        return o;
    if (!(p = role_permissions(r)))
        goto fail;
    if (json) {
        if (!cJSON_AddItemToObject(o, "permissions", p))
            goto fail;
        return o;
    }
    cell = joined(p);
    cJSON_Delete(p);
    p = NULL;
    if (!cell || !cJSON_AddStringToObject(o, "permissions", cell))
        goto fail;
    free(cell);
    return o;
fail:
    free(cell);
    cJSON_Delete(p);
    cJSON_Delete(o);
    return NULL;
}

int cli_roles(int argc, char **argv)
{
    static const cli_column_t name_col[] = {{"name", 0}};
    static const cli_column_t perm_cols[] = {{"name", -8}, {"permissions", 0}};
    static const cli_list_layout_t names = {name_col, 1, true, false};
    static const cli_list_layout_t perms = {perm_cols, 2, false, true};
    const char *fmt = "table";
    bool with_perms = false;
    cJSON *rows;

    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        roles_usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "list") != 0)
        return cli_usage_error(roles_usage);
    for (int i = 2; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "-o", "--output", &fmt))
            continue;
        if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--permission"))
            with_perms = true;
        else
            return cli_usage_error(roles_usage);
    }
    if (!cli_valid_output(fmt))
        return 2;
    rows = cJSON_CreateArray();
    for (int r = ROLE_PUBLIC; rows && r < ROLE__COUNT; r++) {
        cJSON *o = role_row((role_t)r, with_perms, !strcmp(fmt, "json"));
        if (!o || !cJSON_AddItemToArray(rows, o)) {
            cJSON_Delete(o);
            cJSON_Delete(rows);
            rows = NULL;
        }
    }
    if (!rows) {
        fprintf(stderr, "updraft: out of memory\n");
        return 1;
    }
    cli_print_list(rows, fmt, with_perms ? &perms : &names);
    return 0;
}
