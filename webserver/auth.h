/*
 * auth.h - who is calling, and whether they may (docs/security.md).
 *
 * A request names its caller in one of three ways, tried in this order:
 *
 *   Authorization: Basic base64(user:password)   Airflow's basic_auth API
 *                                                backend: scripts, the
 *                                                Airflow Python client
 *   Authorization: Bearer udt_...                 a token from
 *                                                `updraft users token create`
 *   Cookie: updraft_session=...                   a browser after /login
 *
 * and none at all makes it anonymous (the Public role). Credentials that
 * are present but wrong are refused (401), never downgraded to anonymous.
 *
 * Basic credentials are checked with yescrypt once, then remembered for a
 * few minutes as a keyed digest of (username, password, stored hash): a
 * script calling in a loop costs one indexed lookup per request, and a
 * changed password or a deactivated user takes effect on the next request
 * because the user's row is read every time.
 *
 * Failed logins (form or Basic) are limited per username and per client
 * address (ratelimit.h); a limited caller gets 429 with Retry-After before
 * any password is hashed.
 *
 * With webserver.auth "none" every caller is an anonymous Admin: the
 * webserver refuses that setting on a non-loopback address (server.c).
 */
#ifndef UPDRAFT_WEBSERVER_AUTH_H
#define UPDRAFT_WEBSERVER_AUTH_H

#include <civetweb.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/db.h"
#include "store/users.h"

#define AUTH_SESSION_COOKIE "updraft_session"
#define AUTH_CSRF_COOKIE "updraft_csrf"
#define AUTH_CSRF_HEADER "X-CSRF-Token"

typedef struct auth auth_t;

/* From the webserver section of cfg (borrowed). NULL on out of memory. */
auth_t *auth_new(const config_t *cfg);
void auth_free(auth_t *a);

/* Whether credentials are required at all (webserver.auth is not "none"). */
bool auth_enabled(const auth_t *a);

/*
 * Identifies the caller of conn: 0 with *who filled (user_id 0 for an
 * anonymous caller), or the HTTP status of the problem it answered: 401
 * (credentials present but not valid), 429 (too many failed logins), 503
 * (no database). address is the client's (proxies.h), which failed
 * Basic logins are counted against.
 */
int auth_identify(auth_t *a, struct mg_connection *conn, db_t *db, const char *address,
                  principal_t *who);

/* Answers 401 (with WWW-Authenticate) with detail; returns 401. */
int auth_unauthorized(struct mg_connection *conn, const char *detail);

/*
 * Whether a state-changing request of a session caller carries the
 * session's CSRF token (header X-CSRF-Token, or form_token from a form
 * field when not NULL). Callers by Basic or token need none: a browser
 * does not add those to a cross-site request on its own.
 */
bool auth_csrf_ok(const principal_t *who, struct mg_connection *conn, const char *form_token);

/*
 * A login attempt (the login page, or POST /login with JSON): 0 with *who
 * filled and a new session's id in sid (CREDENTIAL_TOKEN_MAX bytes),
 * UPDRAFT_ENOTFOUND for a wrong username or password alike, UPDRAFT_ELIMITED
 * with *retry_after seconds when the username or the address is limited,
 * UPDRAFT_EDB. Counts failures against both limits.
 */
int auth_login(auth_t *a, db_t *db, const char *address, const char *username, const char *password,
               principal_t *who, char *sid, size_t sidlen, int *retry_after);

/*
 * Decodes the base64 of "user:password" (an HTTP Basic credential) into
 * buf: true with buf holding the user and *pw pointing at the password
 * inside buf; false when it is not base64, holds a NUL, has no ':' or
 * does not fit.
 */
bool auth_basic_decode(const char *b64, char *buf, size_t buflen, char **pw);

/* Session cookie lifetime in seconds, and whether cookies are Secure (https base_url). */
int auth_session_max_sec(const auth_t *a);
bool auth_cookie_secure(const auth_t *a);

/* The session id of conn's cookie into sid (CREDENTIAL_TOKEN_MAX bytes); false when none. */
bool auth_session_cookie(struct mg_connection *conn, char *sid, size_t sidlen);

#endif
