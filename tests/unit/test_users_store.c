/*
 * test_users_store.c - users, API tokens, browser sessions and the event
 * log against a real, migrated Postgres (store/users.c, store/eventlog.c).
 *
 * Needs UPDRAFT_TEST_PG_URL; without it every test is skipped (make unit).
 * tests/integration/test_users_cli.sh runs this program against its own
 * database, where a skip is a failure. The rows it makes are named st_*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/credential.h"
#include "core/db.h"
#include "store/eventlog.h"
#include "store/users.h"

static db_t *db;
static char err[512];

static const char *pg_url(void)
{
    const char *u = getenv("UPDRAFT_TEST_PG_URL");
    return u && *u ? u : NULL;
}

static void sql(const char *text)
{
    if (db_exec(db, NULL, text, 0, NULL) < 0)
        fail_msg("%s: %s", text, db_error(db));
}

/* The one value of a query, as text ("" for SQL NULL); the caller frees it. */
static char *sql_value(const char *text, const char *param)
{
    const char *p[] = {param};
    PGresult *r = db_query(db, NULL, text, param ? 1 : 0, p);
    char *v;

    if (!r || PQntuples(r) < 1)
        fail_msg("%s: %s", text, db_error(db));
    v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void assert_sql(const char *expected, const char *text, const char *param)
{
    char *v = sql_value(text, param);
    assert_string_equal(v, expected);
    free(v);
}

static int setup(void **state)
{
    (void)state;
    if (!pg_url())
        return 0;
    db = db_connect(pg_url(), err, sizeof(err));
    if (!db) {
        fprintf(stderr, "cannot connect: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

/* Skips without a database; otherwise removes what earlier tests left. */
static void fresh(void)
{
    if (!db)
        skip();
    sql("DELETE FROM ab_user WHERE username LIKE 'st\\_%'");
    sql("DELETE FROM event_log WHERE event LIKE 'st\\_%'");
}

static const char *const ADMIN[] = {"admin"};
static const char *const USER_OP[] = {"User", "op", "OP"};

/* Creates username with password pw and the roles given; asserts it worked. */
static void make_user(const char *username, const char *email, const char *pw,
                      const char *const *roles, size_t n)
{
    user_fields_t f = {.username = username,
                       .first_name = "Ann",
                       .last_name = "Lee",
                       .email = email,
                       .password = pw,
                       .roles = roles,
                       .n_roles = n,
                       .active = -1};
    int64_t id = 0;
    int rc = users_create(db, &f, &id, err, sizeof(err));
    if (rc != 0)
        fail_msg("create %s: %d %s", username, rc, err);
    assert_true(id > 0);
}

static void test_users_are_created_once_with_a_hashed_password(void **state)
{
    (void)state;
    cJSON *u = NULL;
    char *text;

    fresh();
    make_user("st_ann", "st_ann@example.org", "Pw-Ann-1", ADMIN, 1);
    assert_sql("$y$", "SELECT left(password, 3) FROM ab_user WHERE username = $1", "st_ann");
    assert_sql("{Admin}", "SELECT roles::text FROM ab_user WHERE username = $1", "st_ann");
    assert_int_equal(users_get(db, "st_ann", &u, err, sizeof(err)), 0);
    text = cJSON_PrintUnformatted(u);
    assert_null(strstr(text, "Pw-Ann-1"));
    assert_null(strstr(text, "password"));
    assert_null(strstr(text, "$y$"));
    assert_non_null(strstr(text, "\"roles\":[{\"name\":\"Admin\"}]"));
    free(text);
    cJSON_Delete(u);

    user_fields_t dup = {.username = "st_ann",
                         .email = "st_other@example.org",
                         .password = "Pw-Dup-2",
                         .roles = ADMIN,
                         .n_roles = 1,
                         .active = -1};
    assert_int_equal(users_create(db, &dup, NULL, err, sizeof(err)), UPDRAFT_EEXISTS);
    assert_non_null(strstr(err, "st_ann"));
    assert_null(strstr(err, "Pw-Dup-2"));
    dup.username = "st_ann2";
    dup.email = "st_ann@example.org";
    assert_int_equal(users_create(db, &dup, NULL, err, sizeof(err)), UPDRAFT_EEXISTS);
    assert_non_null(strstr(err, "email"));
    assert_int_equal(users_get(db, "st_nobody", &u, err, sizeof(err)), UPDRAFT_ENOTFOUND);
}

static void test_bad_fields_are_refused_by_name(void **state)
{
    (void)state;
    static const char *const BOSS[] = {"Boss"};
    struct {
        user_fields_t f;
        const char *word;
    } cases[] = {
        {{.username = "st_a/b", .email = "a@b", .roles = ADMIN, .n_roles = 1}, "'/'"},
        {{.username = "st_tab\t", .email = "a@b", .roles = ADMIN, .n_roles = 1}, "username"},
        {{.username = "", .email = "a@b", .roles = ADMIN, .n_roles = 1}, "username"},
        {{.username = "st_x", .email = "no-at", .roles = ADMIN, .n_roles = 1}, "email"},
        {{.username = "st_x", .email = "", .roles = ADMIN, .n_roles = 1}, "email"},
        {{.username = "st_x", .roles = ADMIN, .n_roles = 1}, "email"},
        {{.username = "st_x", .email = "a@b", .roles = BOSS, .n_roles = 1}, "Boss"},
        {{.username = "st_x", .email = "a@b", .roles = ADMIN, .n_roles = 0}, "role"},
        {{.username = "st_x",
          .email = "a@b",
          .first_name = "\x1b[31m",
          .roles = ADMIN,
          .n_roles = 1},
         "first name"},
        {{.username = "st_x", .email = "a@b", .password = "", .roles = ADMIN, .n_roles = 1},
         "password"},
    };

    fresh();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_int_equal(users_create(db, &cases[i].f, NULL, err, sizeof(err)), UPDRAFT_EINVALID);
        if (!strstr(err, cases[i].word))
            fail_msg("case %zu: '%s' does not name '%s'", i, err, cases[i].word);
    }
    assert_sql("0", "SELECT count(*) FROM ab_user WHERE username LIKE $1", "st\\_%");
}

static void test_authentication_answers_alike_for_unknown_users_and_wrong_passwords(void **state)
{
    (void)state;
    principal_t who;
    char hash[CREDENTIAL_HASH_MAX];

    fresh();
    make_user("st_ann", "st_ann@example.org", "Pw-Ann-1", USER_OP, 3);
    assert_int_equal(users_authenticate(db, "st_ann", "wrong", true, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(who.user_id, 0);
    assert_int_equal(users_authenticate(db, "st_nobody", "Pw-Ann-1", true, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_authenticate(db, NULL, NULL, true, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_sql("1", "SELECT failed_login_count FROM ab_user WHERE username = $1", "st_ann");

    assert_int_equal(users_authenticate(db, "st_ann", "Pw-Ann-1", true, &who, err, sizeof(err)), 0);
    assert_true(who.user_id > 0);
    assert_string_equal(who.username, "st_ann");
    assert_string_equal(who.display, "Ann Lee");
    assert_int_equal(who.roles, ROLE_BIT(ROLE_USER) | ROLE_BIT(ROLE_OP));
    assert_false(who.via_session);
    assert_string_equal(who.csrf, "");
    assert_sql("1 0 true",
               "SELECT login_count || ' ' || failed_login_count || ' ' ||"
               " (last_login IS NOT NULL) FROM ab_user WHERE username = $1",
               "st_ann");
    /* Without counting (HTTP Basic on every request) nothing changes. */
    assert_int_equal(users_authenticate(db, "st_ann", "Pw-Ann-1", false, &who, err, sizeof(err)),
                     0);
    assert_sql("1", "SELECT login_count FROM ab_user WHERE username = $1", "st_ann");

    assert_int_equal(users_lookup(db, "st_ann", &who, hash, sizeof(hash), err, sizeof(err)), 0);
    assert_true(credential_verify_password("Pw-Ann-1", hash));

    user_fields_t off = {.active = 0};
    assert_int_equal(users_update(db, "st_ann", &off, err, sizeof(err)), 0);
    assert_int_equal(users_authenticate(db, "st_ann", "Pw-Ann-1", true, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_lookup(db, "st_ann", &who, hash, sizeof(hash), err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
}

static void test_roles_are_added_and_removed_but_never_the_last(void **state)
{
    (void)state;
    fresh();
    make_user("st_ann", "st_ann@example.org", "Pw-Ann-1", ADMIN, 1);
    assert_int_equal(users_change_role(db, "st_ann", "op", true, err, sizeof(err)), 0);
    assert_sql("{Admin,Op}", "SELECT roles::text FROM ab_user WHERE username = $1", "st_ann");
    assert_int_equal(users_change_role(db, "st_ann", "Op", true, err, sizeof(err)),
                     UPDRAFT_EEXISTS);
    assert_int_equal(users_change_role(db, "st_ann", "Viewer", false, err, sizeof(err)),
                     UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "not a member"));
    assert_int_equal(users_change_role(db, "st_ann", "Boss", true, err, sizeof(err)),
                     UPDRAFT_EINVALID);
    assert_int_equal(users_change_role(db, "st_nobody", "Op", true, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_change_role(db, "st_ann", "ADMIN", false, err, sizeof(err)), 0);
    assert_int_equal(users_change_role(db, "st_ann", "Op", false, err, sizeof(err)),
                     UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "last role"));
    assert_sql("{Op}", "SELECT roles::text FROM ab_user WHERE username = $1", "st_ann");
}

static void test_updates_rename_and_refuse_a_taken_email(void **state)
{
    (void)state;
    cJSON *u = NULL;
    long n = 0;

    fresh();
    make_user("st_ann", "st_ann@example.org", "Pw-Ann-1", ADMIN, 1);
    make_user("st_bob", "st_bob@example.org", "Pw-Bob-1", ADMIN, 1);
    user_fields_t f = {.email = "st_bob@example.org", .active = -1};
    assert_int_equal(users_update(db, "st_ann", &f, err, sizeof(err)), UPDRAFT_EEXISTS);
    f.email = NULL;
    f.username = "st_bob";
    assert_int_equal(users_update(db, "st_ann", &f, err, sizeof(err)), UPDRAFT_EEXISTS);
    f.username = "st_anne";
    f.last_name = "Lee-Smith";
    assert_int_equal(users_update(db, "st_ann", &f, err, sizeof(err)), 0);
    assert_int_equal(users_get(db, "st_anne", &u, err, sizeof(err)), 0);
    assert_string_equal(cJSON_GetObjectItem(u, "last_name")->valuestring, "Lee-Smith");
    assert_string_equal(cJSON_GetObjectItem(u, "first_name")->valuestring, "Ann");
    cJSON_Delete(u);
    user_fields_t gone = {.last_name = "X", .active = -1};
    assert_int_equal(users_update(db, "st_ann", &gone, err, sizeof(err)), UPDRAFT_ENOTFOUND);

    assert_int_equal(users_list(db, "-username", 1, 0, &u, &n, err, sizeof(err)), 0);
    assert_true(n >= 2);
    assert_int_equal(cJSON_GetArraySize(u), 1);
    cJSON_Delete(u);
    assert_int_equal(users_list(db, "password", 10, 0, &u, &n, err, sizeof(err)), UPDRAFT_EINVALID);
    assert_int_equal(users_delete(db, "st_bob", err, sizeof(err)), 0);
    assert_int_equal(users_delete(db, "st_bob", err, sizeof(err)), UPDRAFT_ENOTFOUND);
}

static void test_tokens_authenticate_until_revoked_or_expired(void **state)
{
    (void)state;
    char tok[CREDENTIAL_TOKEN_MAX], tok2[CREDENTIAL_TOKEN_MAX], digest[CREDENTIAL_DIGEST_LEN + 1];
    principal_t who;
    int64_t id = 0, id2 = 0;
    cJSON *list = NULL;
    char *text, ids[24];

    fresh();
    make_user("st_ann", "st_ann@example.org", "Pw-Ann-1", ADMIN, 1);
    assert_int_equal(users_token_create(db, "st_ann", 0, tok, sizeof(tok), &id, err, sizeof(err)),
                     0);
    assert_memory_equal(tok, "udt_", 4);
    assert_int_equal(
        users_token_create(db, "st_nobody", 0, tok2, sizeof(tok2), NULL, err, sizeof(err)),
        UPDRAFT_ENOTFOUND);
    assert_int_equal(
        users_token_create(db, "st_ann", -1, tok2, sizeof(tok2), NULL, err, sizeof(err)),
        UPDRAFT_EINVALID);

    /* Only the digest is stored. */
    credential_digest(tok, digest);
    assert_sql("1", "SELECT count(*) FROM api_token WHERE digest = $1", digest);
    assert_sql("0", "SELECT count(*) FROM api_token WHERE digest = $1 OR prefix = $1", tok);

    assert_int_equal(users_token_authenticate(db, tok, &who, err, sizeof(err)), 0);
    assert_string_equal(who.username, "st_ann");
    assert_int_equal(who.roles, ROLE_BIT(ROLE_ADMIN));
    assert_false(who.via_session);
    assert_int_equal(users_token_authenticate(db, "udt_not-a-token", &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_token_authenticate(db, "", &who, err, sizeof(err)), UPDRAFT_ENOTFOUND);
    assert_int_equal(users_token_authenticate(db, NULL, &who, err, sizeof(err)), UPDRAFT_ENOTFOUND);

    assert_int_equal(users_token_list(db, "st_ann", &list, err, sizeof(err)), 0);
    text = cJSON_PrintUnformatted(list);
    assert_null(strstr(text, tok + 4));
    assert_null(strstr(text, digest));
    cJSON_Delete(list);
    free(text);
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    assert_sql("t", "SELECT last_used_at IS NOT NULL FROM api_token WHERE id = $1::bigint", ids);
    char prefix[9];
    memcpy(prefix, tok, 8);
    prefix[8] = '\0';
    assert_sql(prefix, "SELECT prefix FROM api_token WHERE id = $1::bigint", ids);

    make_user("st_bob", "st_bob@example.org", "Pw-Bob-1", ADMIN, 1);
    assert_int_equal(users_token_revoke(db, "st_bob", id, err, sizeof(err)), UPDRAFT_ENOTFOUND);
    assert_int_equal(users_token_authenticate(db, tok, &who, err, sizeof(err)), 0);
    assert_int_equal(users_token_revoke(db, "st_ann", id, err, sizeof(err)), 0);
    assert_int_equal(users_token_revoke(db, NULL, id, err, sizeof(err)), 0);
    assert_int_equal(users_token_authenticate(db, tok, &who, err, sizeof(err)), UPDRAFT_ENOTFOUND);

    assert_int_equal(
        users_token_create(db, "st_ann", 3600, tok2, sizeof(tok2), &id2, err, sizeof(err)), 0);
    assert_int_equal(users_token_authenticate(db, tok2, &who, err, sizeof(err)), 0);
    snprintf(ids, sizeof(ids), "%lld", (long long)id2);
    assert_sql("1",
               "WITH u AS (UPDATE api_token SET expires_at = now() - interval '1 second'"
               " WHERE id = $1::bigint RETURNING 1) SELECT count(*) FROM u",
               ids);
    assert_int_equal(users_token_authenticate(db, tok2, &who, err, sizeof(err)), UPDRAFT_ENOTFOUND);

    /* A deleted user's tokens go with it. */
    assert_int_equal(users_delete(db, "st_ann", err, sizeof(err)), 0);
    assert_sql("0", "SELECT count(*) FROM api_token WHERE id = $1::bigint", ids);
}

static void test_sessions_end_on_idle_expiry_logout_and_password_change(void **state)
{
    (void)state;
    char sid[CREDENTIAL_TOKEN_MAX], digest[CREDENTIAL_DIGEST_LEN + 1],
        csrf[CREDENTIAL_DIGEST_LEN + 1];
    principal_t who;
    long purged = 0;

    fresh();
    make_user("st_ann", "st_ann@example.org", "Pw-Ann-1", ADMIN, 1);
    assert_int_equal(users_authenticate(db, "st_ann", "Pw-Ann-1", true, &who, err, sizeof(err)), 0);
    int64_t uid = who.user_id;
    assert_int_equal(
        users_session_open(db, uid, "127.0.0.1", 3600, sid, sizeof(sid), err, sizeof(err)), 0);
    assert_int_equal(strlen(sid), 43);
    credential_digest(sid, digest);
    assert_sql("1", "SELECT count(*) FROM web_session WHERE digest = $1", digest);
    assert_sql("0", "SELECT count(*) FROM web_session WHERE digest = $1", sid);

    assert_int_equal(users_session_authenticate(db, sid, 1800, &who, err, sizeof(err)), 0);
    assert_true(who.via_session);
    assert_string_equal(who.username, "st_ann");
    credential_hmac(sid, "csrf", csrf);
    assert_string_equal(who.csrf, csrf);
    assert_string_not_equal(who.csrf, sid);

    /* Idle for two hours: over a 30-minute idle limit, not without one. */
    sql("UPDATE web_session SET last_seen_at = now() - interval '2 hours'"
        " WHERE user_id IN (SELECT id FROM ab_user WHERE username = 'st_ann')");
    assert_int_equal(users_session_authenticate(db, sid, 1800, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_session_authenticate(db, sid, 0, &who, err, sizeof(err)), 0);
    /* That use moved last_seen_at: the idle limit holds it again. */
    assert_int_equal(users_session_authenticate(db, sid, 1800, &who, err, sizeof(err)), 0);

    /* Past its absolute end. */
    sql("UPDATE web_session SET expires_at = now() - interval '1 second'"
        " WHERE user_id IN (SELECT id FROM ab_user WHERE username = 'st_ann')");
    assert_int_equal(users_session_authenticate(db, sid, 0, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_purge_expired(db, 1800, &purged, err, sizeof(err)), 0);
    assert_true(purged >= 1);
    assert_sql("0", "SELECT count(*) FROM web_session WHERE digest = $1", digest);

    /* Logout. */
    assert_int_equal(users_session_open(db, uid, NULL, 3600, sid, sizeof(sid), err, sizeof(err)),
                     0);
    assert_int_equal(users_session_close(db, sid, err, sizeof(err)), 0);
    assert_int_equal(users_session_authenticate(db, sid, 0, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_session_close(db, sid, err, sizeof(err)), 0);

    /* A new password ends the sessions. */
    assert_int_equal(users_session_open(db, uid, NULL, 3600, sid, sizeof(sid), err, sizeof(err)),
                     0);
    user_fields_t f = {.password = "Pw-Ann-2", .active = -1};
    assert_int_equal(users_update(db, "st_ann", &f, err, sizeof(err)), 0);
    assert_int_equal(users_session_authenticate(db, sid, 0, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_authenticate(db, "st_ann", "Pw-Ann-1", false, &who, err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_authenticate(db, "st_ann", "Pw-Ann-2", false, &who, err, sizeof(err)),
                     0);

    assert_int_equal(users_session_open(db, 0, NULL, 3600, sid, sizeof(sid), err, sizeof(err)),
                     UPDRAFT_ENOTFOUND);
    assert_int_equal(users_session_open(db, uid, NULL, 0, sid, sizeof(sid), err, sizeof(err)),
                     UPDRAFT_EINVALID);
}

static void test_the_event_log_filters_orders_and_cuts(void **state)
{
    (void)state;
    char big[EVENTLOG_EXTRA_MAX + 500];
    eventlog_entry_t e = {.event = "st_a",
                          .dag_id = "st_dag",
                          .map_index = -2,
                          .execution_date = TS_NONE,
                          .owner = "ann",
                          .extra = "first"};
    eventlog_filter_t f = {
        .dag_id = "st_dag", .map_index = -2, .before = TS_NONE, .after = TS_NONE};
    cJSON *out = NULL, *one;
    long total = 0;

    fresh();
    assert_int_equal(eventlog_add(db, &e, err, sizeof(err)), 0);
    e.event = "st_b";
    e.run_id = "r1";
    e.task_id = "t1";
    e.map_index = 3;
    e.try_number = 2;
    e.execution_date = INT64_C(1704067200000000); /* 2024-01-01 */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    e.extra = big;
    assert_int_equal(eventlog_add(db, &e, err, sizeof(err)), 0);
    e = (eventlog_entry_t){.event = "st_c", .map_index = -2, .execution_date = TS_NONE};
    assert_int_equal(eventlog_add(db, &e, err, sizeof(err)), 0);
    e.event = "";
    assert_int_equal(eventlog_add(db, &e, err, sizeof(err)), UPDRAFT_EINVALID);

    assert_int_equal(eventlog_list(db, &f, NULL, 100, 0, &out, &total, err, sizeof(err)), 0);
    assert_int_equal(total, 2);
    one = cJSON_GetArrayItem(out, 0);
    assert_string_equal(cJSON_GetObjectItem(one, "event")->valuestring, "st_a");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(one, "map_index")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(one, "try_number")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(one, "execution_date")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(one, "run_id")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(one, "when")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(one, "event_log_id")));
    /* Airflow's EventLog members, and nothing more. */
    const char *keys[] = {"event_log_id",   "when",   "event",     "dag_id",
                          "task_id",        "run_id", "map_index", "try_number",
                          "execution_date", "owner",  "extra"};
    assert_int_equal(cJSON_GetArraySize(one), sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(one, keys[i]));
    one = cJSON_GetArrayItem(out, 1);
    assert_int_equal(strlen(cJSON_GetObjectItem(one, "extra")->valuestring), EVENTLOG_EXTRA_MAX);
    assert_int_equal(cJSON_GetObjectItem(one, "map_index")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(one, "try_number")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(one, "execution_date")->valuestring,
                        "2024-01-01T00:00:00.000000+00:00");
    int64_t id = (int64_t)cJSON_GetObjectItem(one, "event_log_id")->valuedouble;
    cJSON_Delete(out);

    assert_int_equal(eventlog_list(db, &f, "-event_log_id", 1, 0, &out, &total, err, sizeof(err)),
                     0);
    assert_int_equal(total, 2);
    assert_int_equal(cJSON_GetArraySize(out), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0), "event")->valuestring,
                        "st_b");
    cJSON_Delete(out);

    eventlog_filter_t g = {.map_index = -2,
                           .before = TS_NONE,
                           .after = TS_NONE,
                           .included_events = "st_a,st_c",
                           .excluded_events = "st_c"};
    assert_int_equal(eventlog_list(db, &g, "when", 100, 0, &out, &total, err, sizeof(err)), 0);
    assert_int_equal(total, 1);
    cJSON_Delete(out);
    g = (eventlog_filter_t){.event = "st_b",
                            .map_index = 3,
                            .try_number = 2,
                            .owner = "ann",
                            .run_id = "r1",
                            .task_id = "t1",
                            .before = TS_NONE,
                            .after = ts_now() - 3600 * TS_US_PER_SEC};
    assert_int_equal(eventlog_list(db, &g, NULL, 100, 0, &out, &total, err, sizeof(err)), 0);
    assert_int_equal(total, 1);
    cJSON_Delete(out);
    g.before = ts_now() - 3600 * TS_US_PER_SEC;
    assert_int_equal(eventlog_list(db, &g, NULL, 100, 0, &out, &total, err, sizeof(err)), 0);
    assert_int_equal(total, 0);
    cJSON_Delete(out);
    assert_int_equal(eventlog_list(db, &f, "extra", 100, 0, &out, &total, err, sizeof(err)),
                     UPDRAFT_EINVALID);
    assert_int_equal(
        eventlog_list(db, &f, "id; DROP TABLE event_log", 100, 0, &out, &total, err, sizeof(err)),
        UPDRAFT_EINVALID);

    assert_int_equal(eventlog_get(db, id, &out, err, sizeof(err)), 0);
    assert_string_equal(cJSON_GetObjectItem(out, "task_id")->valuestring, "t1");
    cJSON_Delete(out);
    assert_int_equal(eventlog_get(db, -1, &out, err, sizeof(err)), UPDRAFT_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_are_created_once_with_a_hashed_password),
        cmocka_unit_test(test_bad_fields_are_refused_by_name),
        cmocka_unit_test(test_authentication_answers_alike_for_unknown_users_and_wrong_passwords),
        cmocka_unit_test(test_roles_are_added_and_removed_but_never_the_last),
        cmocka_unit_test(test_updates_rename_and_refuse_a_taken_email),
        cmocka_unit_test(test_tokens_authenticate_until_revoked_or_expired),
        cmocka_unit_test(test_sessions_end_on_idle_expiry_logout_and_password_change),
        cmocka_unit_test(test_the_event_log_filters_orders_and_cuts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
