/*
 * auth.c - authentication of webserver requests (see auth.h).
 */
#include "webserver/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/credential.h"
#include "core/error.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "webserver/http.h"
#include "webserver/ratelimit.h"

#define LIMIT_WINDOW_SEC 300
#define BASIC_CACHE_SLOTS 1024
#define BASIC_CACHE_TTL_US (300 * INT64_C(1000000))
#define BASIC_MAX (USERS_NAME_MAX + CREDENTIAL_PASSWORD_MAX + 2)

typedef struct basic_entry {
    unsigned char mac[32]; /* HMAC of (username, password, stored hash) */
    int64_t until_us;
} basic_entry_t;

struct auth {
    bool enabled;
    bool secure;
    int idle_sec, max_sec;
    ratelimit_t *per_user, *per_addr;
    unsigned char key[32]; /* per process: the Basic cache's digests */
    pthread_mutex_t mu;
    basic_entry_t basic[BASIC_CACHE_SLOTS];
};

auth_t *auth_new(const config_t *cfg)
{
    auth_t *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->enabled = strcmp(cfg->webserver.auth, "none") != 0;
    a->secure = strncasecmp(cfg->webserver.base_url, "https://", 8) == 0;
    a->idle_sec = cfg->webserver.session_idle_minutes * 60;
    a->max_sec = cfg->webserver.session_max_hours * 3600;
    a->per_user = ratelimit_new(cfg->webserver.login_failures_per_user, LIMIT_WINDOW_SEC);
    a->per_addr = ratelimit_new(cfg->webserver.login_failures_per_address, LIMIT_WINDOW_SEC);
    pthread_mutex_init(&a->mu, NULL);
    if (!a->per_user || !a->per_addr || RAND_bytes(a->key, sizeof(a->key)) != 1) {
        auth_free(a);
        return NULL;
    }
    return a;
}

void auth_free(auth_t *a)
{
    if (!a)
        return;
    ratelimit_free(a->per_user);
    ratelimit_free(a->per_addr);
    pthread_mutex_destroy(&a->mu);
    credential_wipe(a, sizeof(*a));
    free(a);
}

bool auth_enabled(const auth_t *a)
{
    return a->enabled;
}

int auth_session_max_sec(const auth_t *a)
{
    return a->max_sec;
}

bool auth_cookie_secure(const auth_t *a)
{
    return a->secure;
}

/* ---- failure limits ---------------------------------------------------------- */

/* The limiter keys of a username and an address, in separate name spaces. */
static void limit_keys(const char *username, const char *address, char *ukey, size_t ulen,
                       char *akey, size_t alen)
{
    snprintf(ukey, ulen, "u:%s", username ? username : "");
    snprintf(akey, alen, "a:%s", address ? address : "");
}

/* 0 when the attempt may go on, else the seconds to wait. */
static int limited(auth_t *a, const char *username, const char *address)
{
    char ukey[USERS_NAME_MAX + 8], akey[128];
    int64_t now = ts_mono_us();
    int wu, wa;

    limit_keys(username, address, ukey, sizeof(ukey), akey, sizeof(akey));
    wu = ratelimit_check(a->per_user, ukey, now);
    wa = ratelimit_check(a->per_addr, akey, now);
    return wu > wa ? wu : wa;
}

static void count_failure(auth_t *a, const char *username, const char *address)
{
    char ukey[USERS_NAME_MAX + 8], akey[128];
    int64_t now = ts_mono_us();

    limit_keys(username, address, ukey, sizeof(ukey), akey, sizeof(akey));
    ratelimit_fail(a->per_user, ukey, now);
    ratelimit_fail(a->per_addr, akey, now);
}

/* ---- answers ------------------------------------------------------------------ */

int auth_unauthorized(struct mg_connection *conn, const char *detail)
{
    static const char *const hdr[] = {"WWW-Authenticate", "Bearer realm=\"updraft\"", NULL};
    http_send_problem_h(conn, 401, hdr, "Unauthorized", "%s", detail);
    return 401;
}

static int too_many(struct mg_connection *conn, int wait)
{
    char secs[16];
    const char *hdr[] = {"Retry-After", secs, NULL};

    snprintf(secs, sizeof(secs), "%d", wait);
    http_send_problem_h(conn, 429, hdr, "Too Many Requests",
                        "too many failed logins: try again in %d seconds", wait);
    return 429;
}

/* ---- HTTP Basic ----------------------------------------------------------------- */

static void basic_mac(const auth_t *a, const char *user, const char *pw, const char *hash,
                      unsigned char *mac)
{
    char buf[BASIC_MAX + CREDENTIAL_HASH_MAX + 2];
    size_t ul = strlen(user), pl = strlen(pw), hl = strlen(hash);
    unsigned int len = 32;

    memcpy(buf, user, ul + 1);
    memcpy(buf + ul + 1, pw, pl + 1);
    memcpy(buf + ul + pl + 2, hash, hl);
    HMAC(EVP_sha256(), a->key, sizeof(a->key), (const unsigned char *)buf, ul + pl + 2 + hl, mac,
         &len);
    credential_wipe(buf, sizeof(buf));
}

static basic_entry_t *basic_slot(auth_t *a, const unsigned char *mac)
{
    return &a->basic[(mac[0] | ((unsigned)mac[1] << 8)) % BASIC_CACHE_SLOTS];
}

static bool basic_cached(auth_t *a, const unsigned char *mac)
{
    basic_entry_t *e = basic_slot(a, mac);
    bool hit;

    pthread_mutex_lock(&a->mu);
    hit = e->until_us > ts_mono_us() && CRYPTO_memcmp(e->mac, mac, 32) == 0;
    pthread_mutex_unlock(&a->mu);
    return hit;
}

static void basic_remember(auth_t *a, const unsigned char *mac)
{
    basic_entry_t *e = basic_slot(a, mac);

    pthread_mutex_lock(&a->mu);
    memcpy(e->mac, mac, 32);
    e->until_us = ts_mono_us() + BASIC_CACHE_TTL_US;
    pthread_mutex_unlock(&a->mu);
}

bool auth_basic_decode(const char *b64, char *buf, size_t buflen, char **pw)
{
    size_t n = strlen(b64);
    int len, pad;
    char *colon;

    if (n == 0 || n % 4 != 0 || n / 4 * 3 >= buflen)
        return false;
    len = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return false;
    /* EVP_DecodeBlock counts the padding as data: at most two '=', at the end. */
    pad = (int)(strlen(b64) - strcspn(b64, "="));
    if (pad > 2 || strspn(b64 + n - (size_t)pad, "=") != (size_t)pad || len < pad)
        return false;
    len -= pad;
    buf[len] = '\0';
    if (strlen(buf) != (size_t)len) /* a NUL inside */
        return false;
    colon = strchr(buf, ':');
    if (!colon)
        return false;
    *colon = '\0';
    *pw = colon + 1;
    return true;
}

static int identify_basic(auth_t *a, struct mg_connection *conn, db_t *db, const char *address,
                          const char *b64, principal_t *who)
{
    char buf[BASIC_MAX + 4], hash[CREDENTIAL_HASH_MAX], err[256];
    unsigned char mac[32];
    char *pw = NULL;
    int rc, wait, status = 0;

    if (!auth_basic_decode(b64, buf, sizeof(buf), &pw) || !*buf || strlen(buf) > USERS_NAME_MAX ||
        strlen(pw) > CREDENTIAL_PASSWORD_MAX) {
        credential_wipe(buf, sizeof(buf));
        return auth_unauthorized(conn, "malformed Basic credentials");
    }
    /* The limit first, even for remembered credentials: a guesser held
     * by it must not learn that a guess was right. */
    if ((wait = limited(a, buf, address)) > 0) {
        status = too_many(conn, wait);
        goto out;
    }
    rc = users_lookup(db, buf, who, hash, sizeof(hash), err, sizeof(err));
    if (rc == UPDRAFT_EDB) {
        log_warn("cannot read a user error=\"%s\"", err);
        status = 503;
        http_send_problem(conn, 503, NULL, "the metadata database is unavailable");
        goto out;
    }
    if (rc == 0) {
        basic_mac(a, buf, pw, hash, mac);
        if (basic_cached(a, mac))
            goto out;
    }
    /* One yescrypt either way: an unknown user costs what a wrong password does. */
    if (credential_verify_password(pw, rc == 0 ? hash : NULL) && rc == 0) {
        basic_remember(a, mac);
        goto out;
    }
    count_failure(a, buf, address);
    status = auth_unauthorized(conn, "wrong username or password");
out:
    credential_wipe(buf, sizeof(buf));
    credential_wipe(hash, sizeof(hash));
    if (status)
        memset(who, 0, sizeof(*who));
    return status;
}

/* ---- tokens and sessions ---------------------------------------------------------- */

static int identify_token(struct mg_connection *conn, db_t *db, const char *token, principal_t *who)
{
    char err[256];
    int rc;

    if (strlen(token) >= CREDENTIAL_TOKEN_MAX)
        return auth_unauthorized(conn, "invalid or expired token");
    rc = users_token_authenticate(db, token, who, err, sizeof(err));
    if (rc == 0)
        return 0;
    memset(who, 0, sizeof(*who));
    if (rc == UPDRAFT_EDB) {
        log_warn("cannot check a token error=\"%s\"", err);
        http_send_problem(conn, 503, NULL, "the metadata database is unavailable");
        return 503;
    }
    return auth_unauthorized(conn, "invalid, expired or revoked token");
}

bool auth_session_cookie(struct mg_connection *conn, char *sid, size_t sidlen)
{
    const char *cookies = mg_get_header(conn, "Cookie");

    if (!cookies || mg_get_cookie(cookies, AUTH_SESSION_COOKIE, sid, sidlen) <= 0)
        return false;
    return true;
}

static int identify_session(auth_t *a, struct mg_connection *conn, db_t *db, const char *sid,
                            principal_t *who)
{
    char err[256];
    int rc = users_session_authenticate(db, sid, a->idle_sec, who, err, sizeof(err));

    if (rc == 0) {
        who->via_session = true;
        return 0;
    }
    memset(who, 0, sizeof(*who));
    if (rc == UPDRAFT_EDB) {
        log_warn("cannot check a session error=\"%s\"", err);
        http_send_problem(conn, 503, NULL, "the metadata database is unavailable");
        return 503;
    }
    return auth_unauthorized(conn, "the session has ended: log in again");
}

int auth_identify(auth_t *a, struct mg_connection *conn, db_t *db, const char *address,
                  principal_t *who)
{
    const char *authz = mg_get_header(conn, "Authorization");
    char sid[CREDENTIAL_TOKEN_MAX];
    int status;

    memset(who, 0, sizeof(*who));
    if (!a->enabled) {
        snprintf(who->username, sizeof(who->username), "anonymous");
        snprintf(who->display, sizeof(who->display), "anonymous");
        who->roles = ROLE_BIT(ROLE_ADMIN);
        return 0;
    }
    if (authz) {
        if (!db) {
            http_send_problem(conn, 503, NULL, "the metadata database is unavailable");
            return 503;
        }
        if (strncasecmp(authz, "Basic ", 6) == 0)
            return identify_basic(a, conn, db, address, authz + 6 + strspn(authz + 6, " "), who);
        if (strncasecmp(authz, "Bearer ", 7) == 0)
            return identify_token(conn, db, authz + 7 + strspn(authz + 7, " "), who);
        return auth_unauthorized(conn, "unsupported Authorization scheme (use Basic or Bearer)");
    }
    if (!auth_session_cookie(conn, sid, sizeof(sid)))
        return 0; /* anonymous */
    if (!db) {
        credential_wipe(sid, sizeof(sid));
        http_send_problem(conn, 503, NULL, "the metadata database is unavailable");
        return 503;
    }
    status = identify_session(a, conn, db, sid, who);
    credential_wipe(sid, sizeof(sid));
    return status;
}

bool auth_csrf_ok(const principal_t *who, struct mg_connection *conn, const char *form_token)
{
    const char *sent = mg_get_header(conn, AUTH_CSRF_HEADER);

    if (!who->via_session)
        return true;
    if (!sent)
        sent = form_token;
    return sent && who->csrf[0] && credential_equal(sent, who->csrf);
}

int auth_login(auth_t *a, db_t *db, const char *address, const char *username, const char *password,
               principal_t *who, char *sid, size_t sidlen, int *retry_after)
{
    char err[256];
    int rc;

    *retry_after = 0;
    memset(who, 0, sizeof(*who));
    if ((*retry_after = limited(a, username, address)) > 0)
        return UPDRAFT_ELIMITED;
    rc = users_authenticate(db, username, password, true, who, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        count_failure(a, username, address);
        return rc;
    }
    if (rc < 0) {
        log_warn("cannot check a login error=\"%s\"", err);
        return rc;
    }
    rc = users_session_open(db, who->user_id, address, a->max_sec, sid, sidlen, err, sizeof(err));
    if (rc < 0) {
        log_warn("cannot open a session error=\"%s\"", err);
        return rc;
    }
    credential_hmac(sid, "csrf", who->csrf);
    who->via_session = true;
    return 0;
}
