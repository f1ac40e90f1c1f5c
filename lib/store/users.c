/*
 * users.c - users, their API tokens and browser sessions (see users.h).
 *
 * A password reaches this file in clear and leaves it only as the yescrypt
 * hash credential_hash_password makes; a token or session id exists in
 * clear only in the caller's buffer it is created into, and is found again
 * by its SHA-256 (credential_digest), which is what the tables keep. No
 * message built here quotes a password, a token, a session id or a hash.
 *
 * users_authenticate does one yescrypt verification whatever the outcome
 * (an unknown or inactive user is checked against credential.c's dummy
 * hash), so the time of an answer tells nothing about which usernames
 * exist.
 *
 * A token's and a session's "last seen" are written at most once a
 * minute, in the statement that finds them: a busy script does not turn
 * every request into a row update. A session's idle window is therefore
 * idle_sec minus up to a minute.
 */
#include "store/users.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/pgarray.h"
#include "core/utf8.h"
#include "store/result.h"

#define US(col) STORE_US_COL(col)

/* The longest a token may live (ten years); beyond it the interval arithmetic is pointless. */
#define TOKEN_MAX_LIFE_SEC (INT64_C(3660) * 86400)
#define TOKEN_PREFIX_LEN 8 /* "udt_" and four random characters, to tell tokens apart */
#define SQLSTATE_UNIQUE "23505"

/* ---- validation ---------------------------------------------------------- */

/* Whether s holds a control character (C0 or DEL). */
static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A text field: at most USERS_NAME_MAX bytes of UTF-8 without control characters. */
static int check_text(const char *what, const char *s, bool nonempty, char *err, size_t errlen)
{
    size_t n = strlen(s);

    if ((nonempty && n == 0) || n > USERS_NAME_MAX) {
        errbuf_set(err, errlen, "%s must have %d to %d bytes", what, nonempty ? 1 : 0,
                   USERS_NAME_MAX);
        return UPDRAFT_EINVALID;
    }
    if (!utf8_valid(s, n) || has_control(s)) {
        errbuf_set(err, errlen, "%s must be UTF-8 text without control characters", what);
        return UPDRAFT_EINVALID;
    }
    return 0;
}

static int check_roles(const user_fields_t *f, char *err, size_t errlen)
{
    if (f->n_roles == 0 || !f->roles) {
        errbuf_set(err, errlen, "a user needs at least one role");
        return UPDRAFT_EINVALID;
    }
    if (f->n_roles > USERS_MAX_ROLES) {
        errbuf_set(err, errlen, "at most %d roles", USERS_MAX_ROLES);
        return UPDRAFT_EINVALID;
    }
    for (size_t i = 0; i < f->n_roles; i++)
        if (roles_parse(f->roles[i]) < 0) {
            errbuf_set(
                err, errlen,
                "\"%.64s\" is not a valid role; the roles are Public, Viewer, User, Op, Admin",
                f->roles[i] ? f->roles[i] : "");
            return UPDRAFT_EINVALID;
        }
    return 0;
}

int users_validate(const user_fields_t *f, bool creating, char *err, size_t errlen)
{
    int rc;

    if (creating && !f->username) {
        errbuf_set(err, errlen, "username is required");
        return UPDRAFT_EINVALID;
    }
    if (creating && !f->email) {
        errbuf_set(err, errlen, "email is required");
        return UPDRAFT_EINVALID;
    }
    if (f->username) {
        if ((rc = check_text("username", f->username, true, err, errlen)) < 0)
            return rc;
        if (strchr(f->username, '/')) {
            errbuf_set(err, errlen, "username must not contain '/'");
            return UPDRAFT_EINVALID;
        }
    }
    if (f->first_name && (rc = check_text("first name", f->first_name, false, err, errlen)) < 0)
        return rc;
    if (f->last_name && (rc = check_text("last name", f->last_name, false, err, errlen)) < 0)
        return rc;
    if (f->email) {
        if ((rc = check_text("email", f->email, true, err, errlen)) < 0)
            return rc;
        if (!strchr(f->email, '@')) {
            errbuf_set(err, errlen, "email must contain '@'");
            return UPDRAFT_EINVALID;
        }
    }
    if (f->password) {
        size_t n = strlen(f->password);
        if (n == 0 || n > CREDENTIAL_PASSWORD_MAX) {
            errbuf_set(err, errlen, "a password must have 1 to %d bytes", CREDENTIAL_PASSWORD_MAX);
            return UPDRAFT_EINVALID;
        }
    }
    if ((creating || f->set_roles) && (rc = check_roles(f, err, errlen)) < 0)
        return rc;
    return 0;
}

/* The text[] literal of f's roles by their own names, each once; NULL when out of memory. */
static char *roles_literal(const user_fields_t *f)
{
    const char *names[USERS_MAX_ROLES];
    role_mask_t seen = 0;
    size_t n = 0;

    for (size_t i = 0; i < f->n_roles && i < USERS_MAX_ROLES; i++) {
        int r = roles_parse(f->roles[i]);
        if (r < 0 || (seen & ROLE_BIT(r)))
            continue;
        seen |= ROLE_BIT(r);
        names[n++] = roles_name((role_t)r);
    }
    return pgarray_text(names, n);
}

/* ---- rows as JSON and principals ---------------------------------------------- */

/* The columns users_list shows; roles as a JSON array of names. */
#define USER_SELECT                                                                                \
    "SELECT id, username, first_name, last_name, email, active, to_json(roles)::text,"             \
    " login_count, failed_login_count, " US("last_login") ", " US("created_on") ", " US(           \
        "changed_on") " FROM ab_user"

/* The roles column (a JSON array of names) as [{"name": ...}]; NULL when out of memory. */
static cJSON *roles_json(const char *text)
{
    cJSON *names = text ? cJSON_Parse(text) : NULL, *out = cJSON_CreateArray();
    const cJSON *n;

    cJSON_ArrayForEach(n, names)
    {
        cJSON *o = cJSON_CreateObject();
        if (!out || !o ||
            !cJSON_AddStringToObject(o, "name", cJSON_GetStringValue(n) ? n->valuestring : "") ||
            !cJSON_AddItemToArray(out, o)) {
            cJSON_Delete(o);
            cJSON_Delete(out);
            out = NULL;
            break;
        }
    }
    cJSON_Delete(names);
    return out;
}

/* One USER_SELECT row as users_list shows it; NULL when out of memory. */
static cJSON *user_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject(), *roles = roles_json(db_get_str(r, i, 6));
    bool ok = o && roles;

    ok = ok && cJSON_AddStringToObject(o, "username", PQgetvalue(r, i, 1));
    ok = ok && cJSON_AddStringToObject(o, "first_name", PQgetvalue(r, i, 2));
    ok = ok && cJSON_AddStringToObject(o, "last_name", PQgetvalue(r, i, 3));
    ok = ok && cJSON_AddStringToObject(o, "email", PQgetvalue(r, i, 4));
    ok = ok && cJSON_AddBoolToObject(o, "active", db_get_bool(r, i, 5));
    ok = ok && cJSON_AddItemToObject(o, "roles", roles);
    if (!ok) {
        cJSON_Delete(roles);
        cJSON_Delete(o);
        return NULL;
    }
    ok = cJSON_AddNumberToObject(o, "login_count", db_get_int(r, i, 7)) &&
         cJSON_AddNumberToObject(o, "failed_login_count", db_get_int(r, i, 8)) &&
         store_json_add_ts(o, "last_login", store_get_ts(r, i, 9)) &&
         store_json_add_ts(o, "created_on", store_get_ts(r, i, 10)) &&
         store_json_add_ts(o, "changed_on", store_get_ts(r, i, 11));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The role set of a roles column (a JSON array of names); unknown names count for nothing. */
static role_mask_t roles_mask(const char *text)
{
    cJSON *names = text ? cJSON_Parse(text) : NULL;
    const cJSON *n;
    role_mask_t m = 0;

    cJSON_ArrayForEach(n, names)
    {
        int r = roles_parse(cJSON_GetStringValue(n));
        if (r >= 0)
            m |= ROLE_BIT(r);
    }
    cJSON_Delete(names);
    return m;
}

/*
 * Fills who from a row whose first five columns are id, username,
 * first_name, last_name and the roles (a JSON array of names).
 */
static void fill_principal(principal_t *who, const PGresult *r, int i)
{
    const char *first = PQgetvalue(r, i, 2), *last = PQgetvalue(r, i, 3);

    memset(who, 0, sizeof(*who));
    who->user_id = db_get_i64(r, i, 0);
    store_copy_str(who->username, sizeof(who->username), PQgetvalue(r, i, 1));
    if (*first || *last) {
        size_t n = strlen(first) < USERS_NAME_MAX ? strlen(first) : USERS_NAME_MAX;
        memcpy(who->display, first, n);
        who->display[n] = '\0';
        if (*first && *last)
            who->display[n++] = ' ';
        store_copy_str(who->display + n, sizeof(who->display) - n, last);
    } else {
        store_copy_str(who->display, sizeof(who->display), who->username);
    }
    who->roles = roles_mask(db_get_str(r, i, 4));
}

/* ---- create, update, delete ------------------------------------------------ */

static const char SQL_CREATE[] =
    "INSERT INTO ab_user (username, first_name, last_name, email, password, roles, active)"
    " VALUES ($1, coalesce($2, ''), coalesce($3, ''), $4, $5, $6::text[],"
    " coalesce($7::boolean, true)) ON CONFLICT DO NOTHING RETURNING id";

/* Which of username and email another user than except (may be NULL) has. */
static const char SQL_TAKEN[] =
    "SELECT coalesce(bool_or(username = $1), false), coalesce(bool_or(email = $2), false)"
    " FROM ab_user WHERE (username = $1 OR email = $2) AND username IS DISTINCT FROM $3";

/* UPDRAFT_EEXISTS with err when username or email is another user's, else 0. */
static int check_taken(db_t *db, const char *username, const char *email, const char *except,
                       char *err, size_t errlen)
{
    const char *p[] = {username, email, except};
    PGresult *r = db_query(db, "users_taken", SQL_TAKEN, 3, p);
    int rc = 0;

    if (!r)
        return store_db_failed(db, err, errlen);
    if (db_get_bool(r, 0, 0)) {
        errbuf_set(err, errlen, "user \"%s\" already exists", username);
        rc = UPDRAFT_EEXISTS;
    } else if (db_get_bool(r, 0, 1)) {
        errbuf_set(err, errlen, "email \"%s\" belongs to another user", email);
        rc = UPDRAFT_EEXISTS;
    }
    PQclear(r);
    return rc;
}

/* The hash of f->password into hash (NULL *stored when there is none). */
static int hash_of(const user_fields_t *f, char *hash, const char **stored, char *err,
                   size_t errlen)
{
    *stored = NULL;
    if (!f->password)
        return 0;
    if (credential_hash_password(f->password, hash, CREDENTIAL_HASH_MAX, err, errlen) < 0)
        return UPDRAFT_EINVALID;
    *stored = hash;
    return 0;
}

int users_create(db_t *db, const user_fields_t *f, int64_t *id, char *err, size_t errlen)
{
    char hash[CREDENTIAL_HASH_MAX], *roles = NULL;
    const char *stored;
    PGresult *r;
    int rc;

    if ((rc = users_validate(f, true, err, errlen)) < 0)
        return rc;
    if ((rc = hash_of(f, hash, &stored, err, errlen)) < 0)
        return rc;
    if (!(roles = roles_literal(f)))
        return store_out_of_memory(err, errlen);
    const char *p[] = {f->username,
                       f->first_name,
                       f->last_name,
                       f->email,
                       stored,
                       roles,
                       f->active < 0 ? NULL
                       : f->active   ? "true"
                                     : "false"};
    r = db_query(db, "users_create", SQL_CREATE, 7, p);
    free(roles);
    if (!r)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        rc = check_taken(db, f->username, f->email, NULL, err, errlen);
        if (rc == 0) { /* gone again in between: still a conflict */
            errbuf_set(err, errlen, "user \"%s\" already exists", f->username);
            rc = UPDRAFT_EEXISTS;
        }
        return rc;
    }
    if (id)
        *id = db_get_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/*
 * The NULL parameters leave a column as it is. A new password or a
 * deactivation ends the user's browser sessions in the same statement.
 */
static const char SQL_UPDATE[] =
    "WITH u AS (UPDATE ab_user SET username = coalesce($2, username),"
    " first_name = coalesce($3, first_name), last_name = coalesce($4, last_name),"
    " email = coalesce($5, email), password = coalesce($6, password),"
    " roles = coalesce($7::text[], roles), active = coalesce($8::boolean, active),"
    " changed_on = now() WHERE username = $1 RETURNING id),"
    " s AS (DELETE FROM web_session WHERE ($6::text IS NOT NULL OR $8::boolean IS false)"
    " AND user_id IN (SELECT id FROM u))"
    " SELECT id FROM u";

int users_update(db_t *db, const char *username, const user_fields_t *f, char *err, size_t errlen)
{
    char hash[CREDENTIAL_HASH_MAX], *roles = NULL;
    const char *stored;
    PGresult *r;
    int rc;

    if ((rc = users_validate(f, false, err, errlen)) < 0)
        return rc;
    if ((f->username || f->email) &&
        (rc = check_taken(db, f->username, f->email, username, err, errlen)) < 0)
        return rc;
    if ((rc = hash_of(f, hash, &stored, err, errlen)) < 0)
        return rc;
    if (f->set_roles && !(roles = roles_literal(f)))
        return store_out_of_memory(err, errlen);
    const char *p[] = {
        username, f->username, f->first_name, f->last_name,
        f->email, stored,      roles,         f->active < 0 ? NULL : f->active ? "true" : "false"};
    r = db_query(db, "users_update", SQL_UPDATE, 8, p);
    free(roles);
    if (!r) {
        if (strcmp(db_sqlstate(db), SQLSTATE_UNIQUE) == 0) {
            errbuf_set(err, errlen, "the username or email belongs to another user");
            return UPDRAFT_EEXISTS;
        }
        return store_db_failed(db, err, errlen);
    }
    rc = PQntuples(r) > 0 ? 0 : UPDRAFT_ENOTFOUND;
    PQclear(r);
    return rc;
}

static const char SQL_DELETE[] = "DELETE FROM ab_user WHERE username = $1";

int users_delete(db_t *db, const char *username, char *err, size_t errlen)
{
    const char *p[] = {username};
    long n = db_exec(db, "users_delete", SQL_DELETE, 1, p);

    if (n < 0)
        return store_db_failed(db, err, errlen);
    return n > 0 ? 0 : UPDRAFT_ENOTFOUND;
}

static const char SQL_ROLE_ADD[] =
    "UPDATE ab_user SET roles = array_append(roles, $2::text), changed_on = now()"
    " WHERE username = $1 AND NOT ($2::text = ANY (roles)) RETURNING id";
static const char SQL_ROLE_REMOVE[] =
    "UPDATE ab_user SET roles = array_remove(roles, $2::text), changed_on = now()"
    " WHERE username = $1 AND $2::text = ANY (roles) AND cardinality(roles) > 1 RETURNING id";
static const char SQL_ROLE_OF[] = "SELECT $2::text = ANY (roles) FROM ab_user WHERE username = $1";

int users_change_role(db_t *db, const char *username, const char *role, bool add, char *err,
                      size_t errlen)
{
    int ri = roles_parse(role);
    const char *p[2];
    PGresult *r;
    int rc;

    if (ri < 0) {
        errbuf_set(err, errlen,
                   "\"%.64s\" is not a valid role; the roles are Public, Viewer, User, Op, Admin",
                   role ? role : "");
        return UPDRAFT_EINVALID;
    }
    p[0] = username;
    p[1] = roles_name((role_t)ri);
    r = add ? db_query(db, "users_role_add", SQL_ROLE_ADD, 2, p)
            : db_query(db, "users_role_remove", SQL_ROLE_REMOVE, 2, p);
    if (!r)
        return store_db_failed(db, err, errlen);
    rc = PQntuples(r) > 0 ? 0 : 1;
    PQclear(r);
    if (rc == 0)
        return 0;
    /* Nothing changed: say why. */
    if (!(r = db_query(db, "users_role_of", SQL_ROLE_OF, 2, p)))
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        rc = UPDRAFT_ENOTFOUND;
    } else if (add) {
        errbuf_set(err, errlen, "user \"%s\" is already a member of role \"%s\"", username, p[1]);
        rc = UPDRAFT_EEXISTS;
    } else if (!db_get_bool(r, 0, 0)) {
        errbuf_set(err, errlen, "user \"%s\" is not a member of role \"%s\"", username, p[1]);
        rc = UPDRAFT_EINVALID;
    } else {
        errbuf_set(err, errlen, "role \"%s\" is the last role of user \"%s\"; a user needs one",
                   p[1], username);
        rc = UPDRAFT_EINVALID;
    }
    PQclear(r);
    return rc;
}

/* ---- reads ------------------------------------------------------------------ */

/* users_list's order_by names and their columns. */
static const struct {
    const char *name, *col;
} user_orders[] = {
    {"id", "id"},
    {"username", "username"},
    {"first_name", "first_name"},
    {"last_name", "last_name"},
    {"email", "email"},
    {"last_login", "last_login"},
    {"created_on", "created_on"},
    {"changed_on", "changed_on"},
};

int users_list(db_t *db, const char *order_by, long limit, long offset, cJSON **out, long *total,
               char *err, size_t errlen)
{
    const char *col = NULL, *name = order_by ? order_by : "id";
    bool desc = name[0] == '-';
    char sql[1024], lb[24], ob[24];
    PGresult *r;
    int rc;

    *out = NULL;
    *total = 0;
    for (size_t i = 0; i < sizeof(user_orders) / sizeof(user_orders[0]) && !col; i++)
        if (strcmp(name + desc, user_orders[i].name) == 0)
            col = user_orders[i].col;
    if (!col) {
        errbuf_set(err, errlen, "cannot order users by \"%.64s\"", name);
        return UPDRAFT_EINVALID;
    }
    snprintf(lb, sizeof(lb), "%ld", limit);
    snprintf(ob, sizeof(ob), "%ld", offset > 0 ? offset : 0);
    const char *p[] = {limit < 0 ? NULL : lb, ob};
    /* col is one of the constants above, never the caller's text. */
    snprintf(sql, sizeof(sql),
             USER_SELECT " ORDER BY %s %s NULLS LAST, id LIMIT $1::bigint OFFSET $2::bigint", col,
             desc ? "DESC" : "ASC");
    if ((rc = store_query_rows(db, NULL, sql, 2, p, &r)) < 0)
        return store_db_failed(db, err, errlen);
    *out = store_json_rows(r, user_json);
    PQclear(r);
    if (!*out)
        return store_out_of_memory(err, errlen);
    if ((rc = users_count(db, total, err, errlen)) < 0) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return rc;
}

int users_get(db_t *db, const char *username, cJSON **out, char *err, size_t errlen)
{
    const char *p[] = {username};
    PGresult *r;

    *out = NULL;
    if (store_query_rows(db, "users_get", USER_SELECT " WHERE username = $1", 1, p, &r) < 0)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    *out = user_json(r, 0);
    PQclear(r);
    return *out ? 0 : store_out_of_memory(err, errlen);
}

int users_count(db_t *db, long *n, char *err, size_t errlen)
{
    PGresult *r = db_query(db, "users_count", "SELECT count(*) FROM ab_user", 0, NULL);

    *n = 0;
    if (!r)
        return store_db_failed(db, err, errlen);
    *n = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* ---- authentication -------------------------------------------------------- */

static const char SQL_FIND[] =
    "SELECT id, username, first_name, last_name, to_json(roles)::text, password, active"
    " FROM ab_user WHERE username = $1";

static const char SQL_LOGIN_OK[] = "UPDATE ab_user SET login_count = login_count + 1,"
                                   " failed_login_count = 0, last_login = now() WHERE id = $1";
static const char SQL_LOGIN_FAILED[] =
    "UPDATE ab_user SET failed_login_count = failed_login_count + 1 WHERE id = $1";

/* SQL_FIND's row for username, or none (*r NULL) when username cannot be one. */
static int find_user(db_t *db, const char *username, PGresult **r, char *err, size_t errlen)
{
    const char *p[] = {username};

    *r = NULL;
    if (!username || !*username || strlen(username) > USERS_NAME_MAX)
        return 0;
    if (store_query_rows(db, "users_find", SQL_FIND, 1, p, r) < 0)
        return store_db_failed(db, err, errlen);
    return 0;
}

int users_authenticate(db_t *db, const char *username, const char *password, bool count,
                       principal_t *who, char *err, size_t errlen)
{
    PGresult *r;
    bool found, ok;
    int rc = find_user(db, username, &r, err, errlen);

    memset(who, 0, sizeof(*who));
    found = r && PQntuples(r) > 0;
    /* One yescrypt verification, whoever asks: the dummy hash for nobody. */
    ok = credential_verify_password(password,
                                    found && db_get_bool(r, 0, 6) ? db_get_str(r, 0, 5) : NULL);
    if (rc < 0) {
        PQclear(r);
        return rc;
    }
    if (found && count) {
        char id[24];
        snprintf(id, sizeof(id), "%" PRId64, db_get_i64(r, 0, 0));
        const char *p[] = {id};
        if (db_exec(db, ok ? "users_login_ok" : "users_login_failed",
                    ok ? SQL_LOGIN_OK : SQL_LOGIN_FAILED, 1, p) < 0) {
            PQclear(r);
            return store_db_failed(db, err, errlen);
        }
    }
    if (ok)
        fill_principal(who, r, 0);
    PQclear(r);
    return ok ? 0 : UPDRAFT_ENOTFOUND;
}

int users_lookup(db_t *db, const char *username, principal_t *who, char *hash, size_t hashlen,
                 char *err, size_t errlen)
{
    PGresult *r;
    int rc = find_user(db, username, &r, err, errlen);

    memset(who, 0, sizeof(*who));
    if (hashlen)
        hash[0] = '\0';
    if (rc < 0)
        return rc;
    if (!r || PQntuples(r) == 0 || !db_get_bool(r, 0, 6)) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    fill_principal(who, r, 0);
    store_copy_str(hash, hashlen, db_get_str(r, 0, 5));
    PQclear(r);
    return 0;
}

/* ---- API tokens ------------------------------------------------------------ */

static const char SQL_TOKEN_CREATE[] =
    "INSERT INTO api_token (user_id, digest, prefix, expires_at)"
    " SELECT id, $2, $3, CASE WHEN $4::bigint > 0 THEN now() + $4::bigint * interval '1 second'"
    " END FROM ab_user WHERE username = $1 RETURNING id";

int users_token_create(db_t *db, const char *username, int64_t expires_in_sec, char *token,
                       size_t tokenlen, int64_t *id, char *err, size_t errlen)
{
    char digest[CREDENTIAL_DIGEST_LEN + 1], prefix[TOKEN_PREFIX_LEN + 1], secs[24];
    PGresult *r;
    int rc = 0;

    if (tokenlen)
        token[0] = '\0';
    if (expires_in_sec < 0 || expires_in_sec > TOKEN_MAX_LIFE_SEC) {
        errbuf_set(err, errlen, "a token expires after 0 (never) to %" PRId64 " seconds",
                   TOKEN_MAX_LIFE_SEC);
        return UPDRAFT_EINVALID;
    }
    if (credential_new_token(CREDENTIAL_TOKEN_PREFIX, token, tokenlen) < 0) {
        errbuf_set(err, errlen, "cannot make a token (no random bytes or too small a buffer)");
        return UPDRAFT_EINVALID;
    }
    credential_digest(token, digest);
    store_copy_str(prefix, sizeof(prefix), token);
    snprintf(secs, sizeof(secs), "%" PRId64, expires_in_sec);
    const char *p[] = {username, digest, prefix, secs};
    if (store_query_rows(db, "users_token_create", SQL_TOKEN_CREATE, 4, p, &r) < 0)
        rc = store_db_failed(db, err, errlen);
    else if (PQntuples(r) == 0)
        rc = UPDRAFT_ENOTFOUND;
    else if (id)
        *id = db_get_i64(r, 0, 0);
    PQclear(r);
    if (rc < 0)
        credential_wipe(token, tokenlen);
    return rc;
}

/* Revoking a revoked token again keeps its first revocation time. */
static const char SQL_TOKEN_REVOKE[] =
    "UPDATE api_token t SET revoked_at = coalesce(t.revoked_at, now()) WHERE t.id = $1::bigint"
    " AND ($2::text IS NULL OR t.user_id = (SELECT id FROM ab_user WHERE username = $2))";

int users_token_revoke(db_t *db, const char *username, int64_t id, char *err, size_t errlen)
{
    char ids[24];
    long n;

    snprintf(ids, sizeof(ids), "%" PRId64, id);
    const char *p[] = {ids, username};
    if ((n = db_exec(db, "users_token_revoke", SQL_TOKEN_REVOKE, 2, p)) < 0)
        return store_db_failed(db, err, errlen);
    return n > 0 ? 0 : UPDRAFT_ENOTFOUND;
}

static const char SQL_TOKEN_LIST[] =
    "SELECT t.id, u.username, t.prefix, " US("t.created_at") ", " US("t.expires_at") ", " US(
        "t.revoked_at") ", " US("t.last_used_at") " FROM api_token t JOIN ab_user u ON u.id ="
                                                  " t.user_id WHERE $1::text IS NULL OR"
                                                  " u.username = $1 ORDER BY t.id";

static cJSON *token_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddNumberToObject(o, "id", (double)db_get_i64(r, i, 0)) &&
              cJSON_AddStringToObject(o, "username", PQgetvalue(r, i, 1)) &&
              cJSON_AddStringToObject(o, "prefix", PQgetvalue(r, i, 2)) &&
              store_json_add_ts(o, "created_at", store_get_ts(r, i, 3)) &&
              store_json_add_ts(o, "expires_at", store_get_ts(r, i, 4)) &&
              store_json_add_ts(o, "revoked_at", store_get_ts(r, i, 5)) &&
              store_json_add_ts(o, "last_used_at", store_get_ts(r, i, 6));

    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int users_token_list(db_t *db, const char *username, cJSON **out, char *err, size_t errlen)
{
    const char *p[] = {username};
    PGresult *r;

    *out = NULL;
    if (store_query_rows(db, "users_token_list", SQL_TOKEN_LIST, 1, p, &r) < 0)
        return store_db_failed(db, err, errlen);
    *out = store_json_rows(r, token_json);
    PQclear(r);
    return *out ? 0 : store_out_of_memory(err, errlen);
}

/* The user of a live token, noting its use at most once a minute. */
static const char SQL_TOKEN_AUTH[] =
    "WITH hit AS (SELECT t.id AS token_id, u.id, u.username, u.first_name, u.last_name,"
    " to_json(u.roles)::text AS roles FROM api_token t JOIN ab_user u ON u.id = t.user_id"
    " WHERE t.digest = $1 AND t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.active),"
    " touch AS (UPDATE api_token SET last_used_at = now() WHERE id IN (SELECT token_id FROM hit)"
    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))"
    " SELECT id, username, first_name, last_name, roles FROM hit";

/* Runs a statement that finds a principal by the digest of secret (and more params). */
static int auth_by_digest(db_t *db, const char *name, const char *sql, const char *secret,
                          const char *more, principal_t *who, char *err, size_t errlen)
{
    char digest[CREDENTIAL_DIGEST_LEN + 1];
    PGresult *r;
    int rc = UPDRAFT_ENOTFOUND;

    memset(who, 0, sizeof(*who));
    if (!secret || !*secret || strlen(secret) >= CREDENTIAL_TOKEN_MAX)
        return UPDRAFT_ENOTFOUND;
    credential_digest(secret, digest);
    const char *p[] = {digest, more};
    if (store_query_rows(db, name, sql, more ? 2 : 1, p, &r) < 0)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) > 0) {
        fill_principal(who, r, 0);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int users_token_authenticate(db_t *db, const char *token, principal_t *who, char *err,
                             size_t errlen)
{
    return auth_by_digest(db, "users_token_auth", SQL_TOKEN_AUTH, token, NULL, who, err, errlen);
}

/* ---- browser sessions -------------------------------------------------------- */

static const char SQL_SESSION_OPEN[] =
    "INSERT INTO web_session (digest, user_id, expires_at, address)"
    " SELECT $1, id, now() + $3::bigint * interval '1 second', $4 FROM ab_user"
    " WHERE id = $2::bigint AND active RETURNING user_id";

int users_session_open(db_t *db, int64_t user_id, const char *address, int64_t max_sec, char *sid,
                       size_t sidlen, char *err, size_t errlen)
{
    char digest[CREDENTIAL_DIGEST_LEN + 1], uid[24], secs[24];
    PGresult *r;
    int rc = 0;

    if (sidlen)
        sid[0] = '\0';
    if (max_sec <= 0 || max_sec > TOKEN_MAX_LIFE_SEC) {
        errbuf_set(err, errlen, "a session lasts 1 to %" PRId64 " seconds", TOKEN_MAX_LIFE_SEC);
        return UPDRAFT_EINVALID;
    }
    if (credential_new_token("", sid, sidlen) < 0) {
        errbuf_set(err, errlen, "cannot make a session id (no random bytes or too small a buffer)");
        return UPDRAFT_EINVALID;
    }
    credential_digest(sid, digest);
    snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    snprintf(secs, sizeof(secs), "%" PRId64, max_sec);
    const char *p[] = {digest, uid, secs, address};
    if (store_query_rows(db, "users_session_open", SQL_SESSION_OPEN, 4, p, &r) < 0)
        rc = store_db_failed(db, err, errlen);
    else if (PQntuples(r) == 0)
        rc = UPDRAFT_ENOTFOUND;
    PQclear(r);
    if (rc < 0)
        credential_wipe(sid, sidlen);
    return rc;
}

/* The user of a live session (idle_sec <= 0: no idle limit), extending it at most once a minute. */
static const char SQL_SESSION_AUTH[] =
    "WITH hit AS (SELECT s.digest, u.id, u.username, u.first_name, u.last_name,"
    " to_json(u.roles)::text AS roles FROM web_session s JOIN ab_user u ON u.id = s.user_id"
    " WHERE s.digest = $1 AND s.expires_at > now() AND u.active"
    " AND ($2::bigint <= 0 OR s.last_seen_at > now() - $2::bigint * interval '1 second')),"
    " touch AS (UPDATE web_session w SET last_seen_at = now() FROM hit"
    " WHERE w.digest = hit.digest AND w.last_seen_at < now() - interval '1 minute')"
    " SELECT id, username, first_name, last_name, roles FROM hit";

int users_session_authenticate(db_t *db, const char *sid, int64_t idle_sec, principal_t *who,
                               char *err, size_t errlen)
{
    char idle[24];
    int rc;

    snprintf(idle, sizeof(idle), "%" PRId64, idle_sec);
    rc = auth_by_digest(db, "users_session_auth", SQL_SESSION_AUTH, sid, idle, who, err, errlen);
    if (rc == 0) {
        who->via_session = true;
        credential_hmac(sid, "csrf", who->csrf);
    }
    return rc;
}

int users_session_close(db_t *db, const char *sid, char *err, size_t errlen)
{
    char digest[CREDENTIAL_DIGEST_LEN + 1];

    if (!sid || !*sid || strlen(sid) >= CREDENTIAL_TOKEN_MAX)
        return 0;
    credential_digest(sid, digest);
    const char *p[] = {digest};
    if (db_exec(db, "users_session_close", "DELETE FROM web_session WHERE digest = $1", 1, p) < 0)
        return store_db_failed(db, err, errlen);
    return 0;
}

static const char SQL_PURGE[] =
    "WITH s AS (DELETE FROM web_session WHERE expires_at <= now()"
    " OR ($1::bigint > 0 AND last_seen_at <= now() - $1::bigint * interval '1 second')"
    " RETURNING 1),"
    " t AS (DELETE FROM api_token WHERE expires_at <= now() - interval '1 day' RETURNING 1)"
    " SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM t)";

int users_purge_expired(db_t *db, int64_t idle_sec, long *n, char *err, size_t errlen)
{
    char idle[24];
    PGresult *r;

    *n = 0;
    snprintf(idle, sizeof(idle), "%" PRId64, idle_sec);
    const char *p[] = {idle};
    if (store_query_rows(db, "users_purge", SQL_PURGE, 1, p, &r) < 0)
        return store_db_failed(db, err, errlen);
    *n = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return 0;
}
