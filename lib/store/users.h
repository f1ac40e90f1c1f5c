/*
 * users.h - users (table ab_user), their API tokens (api_token) and
 * browser sessions (web_session), migration 0013.
 *
 * Passwords arrive in clear and leave this module only as yescrypt hashes
 * (core/credential.h); tokens and session ids are returned once, on
 * creation, and stored as their SHA-256. Nothing here logs a password, a
 * token or a session id, nor puts one in an error message.
 *
 * Return conventions (core/error.h): 0, or UPDRAFT_ENOTFOUND,
 * UPDRAFT_EEXISTS (username or email taken), UPDRAFT_EINVALID (a bad
 * field, named in err), UPDRAFT_EDB, UPDRAFT_ENOMEM; err is filled for
 * every error but UPDRAFT_ENOTFOUND.
 */
#ifndef UPDRAFT_USERS_H
#define UPDRAFT_USERS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/credential.h"
#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "model/roles.h"

#define USERS_NAME_MAX 256 /* username, first and last name, email: bytes */
#define USERS_MAX_ROLES 8  /* role names a request may list */

/* Who a request or a command acts as, once authenticated. */
typedef struct principal {
    int64_t user_id; /* 0: nobody (anonymous, Public) */
    char username[USERS_NAME_MAX + 1];
    char display[2 * USERS_NAME_MAX + 2]; /* "First Last", or the username */
    role_mask_t roles;
    bool via_session;                     /* authenticated by a browser session cookie */
    char csrf[CREDENTIAL_DIGEST_LEN + 1]; /* the session's CSRF token ("" otherwise) */
} principal_t;

/* What users_create/users_update write; NULL members are left alone on update. */
typedef struct user_fields {
    const char *username;
    const char *first_name;
    const char *last_name;
    const char *email;
    const char *password;     /* clear text, hashed here; NULL: none / unchanged */
    const char *const *roles; /* role names (roles_parse), n_roles of them */
    size_t n_roles;
    bool set_roles; /* on update: replace the roles with roles[] */
    int active;     /* -1: default (true) / unchanged */
} user_fields_t;

/*
 * Checks the fields a new user needs (username, email, at least one role)
 * and their sizes, and that every role name is known. 0 or UPDRAFT_EINVALID.
 */
int users_validate(const user_fields_t *f, bool creating, char *err, size_t errlen);

/* Creates a user; *id (may be NULL) gets its id. */
int users_create(db_t *db, const user_fields_t *f, int64_t *id, char *err, size_t errlen);

/*
 * Updates the non-NULL fields of user username (a new username when
 * f->username is set). A new password or active = 0 also ends the user's
 * browser sessions.
 */
int users_update(db_t *db, const char *username, const user_fields_t *f, char *err, size_t errlen);

/* Deletes a user, its tokens and sessions. */
int users_delete(db_t *db, const char *username, char *err, size_t errlen);

/*
 * Adds (add true) or removes one role. Adding a role the user has is
 * UPDRAFT_EEXISTS; removing one it lacks, removing its last role, or an
 * unknown role is UPDRAFT_EINVALID.
 */
int users_change_role(db_t *db, const char *username, const char *role, bool add, char *err,
                      size_t errlen);

/*
 * The users as Airflow's API shows them (UserCollectionItem: username,
 * first_name, last_name, email, active, roles [{"name": ...}], login_count,
 * failed_login_count, last_login, created_on, changed_on), ordered by
 * order_by (NULL: "id"; one of id, username, first_name, last_name, email,
 * last_login, created_on, changed_on, with a leading '-' for descending:
 * anything else is UPDRAFT_EINVALID), limit/offset; *total: how many exist.
 * *out is a JSON array (caller frees).
 */
int users_list(db_t *db, const char *order_by, long limit, long offset, cJSON **out, long *total,
               char *err, size_t errlen);

/* One user, as users_list shows it. */
int users_get(db_t *db, const char *username, cJSON **out, char *err, size_t errlen);

/* How many users exist (to tell a fresh install). */
int users_count(db_t *db, long *n, char *err, size_t errlen);

/* ---- authentication -------------------------------------------------------- */

/*
 * Checks username and password: 0 with *who filled (an active user whose
 * password matches), UPDRAFT_ENOTFOUND for an unknown or inactive user or
 * a wrong password alike (after the same work: one yescrypt hash either
 * way), UPDRAFT_EDB. Counts the login (login_count, last_login) or the
 * failure (failed_login_count) when count is true (a login; false for
 * HTTP Basic on every request).
 */
int users_authenticate(db_t *db, const char *username, const char *password, bool count,
                       principal_t *who, char *err, size_t errlen);

/*
 * The stored password hash of an active user (for a verified-credentials
 * cache: a changed password changes it). UPDRAFT_ENOTFOUND for an unknown
 * or inactive user. *who is filled (roles, display name) without checking
 * any password: the caller does.
 */
int users_lookup(db_t *db, const char *username, principal_t *who, char *hash, size_t hashlen,
                 char *err, size_t errlen);

/* ---- API tokens ------------------------------------------------------------ */

/*
 * Creates a token for username that expires after expires_in_sec (0:
 * never): token (CREDENTIAL_TOKEN_MAX bytes) gets its only clear copy;
 * *id (may be NULL) its id.
 */
int users_token_create(db_t *db, const char *username, int64_t expires_in_sec, char *token,
                       size_t tokenlen, int64_t *id, char *err, size_t errlen);

/* Revokes token id (of username when username is not NULL); revoking it again is 0. */
int users_token_revoke(db_t *db, const char *username, int64_t id, char *err, size_t errlen);

/*
 * The tokens of username (NULL: everyone's) as a JSON array of {id,
 * username, prefix, created_at, expires_at, revoked_at, last_used_at}.
 */
int users_token_list(db_t *db, const char *username, cJSON **out, char *err, size_t errlen);

/*
 * The active user a live token (neither expired nor revoked) belongs to.
 * UPDRAFT_ENOTFOUND for any other token. Notes the use (last_used_at, at
 * most once a minute).
 */
int users_token_authenticate(db_t *db, const char *token, principal_t *who, char *err,
                             size_t errlen);

/* ---- browser sessions -------------------------------------------------------- */

/*
 * Opens a session for user_id from address (may be NULL) that ends after
 * max_sec at the latest: sid (CREDENTIAL_TOKEN_MAX bytes) gets the cookie
 * value, its only clear copy.
 */
int users_session_open(db_t *db, int64_t user_id, const char *address, int64_t max_sec, char *sid,
                       size_t sidlen, char *err, size_t errlen);

/*
 * The active user of a live session: not past its absolute end, and seen
 * within idle_sec. Extends its idle window (last_seen_at, at most once a
 * minute). UPDRAFT_ENOTFOUND otherwise. Fills who->csrf.
 */
int users_session_authenticate(db_t *db, const char *sid, int64_t idle_sec, principal_t *who,
                               char *err, size_t errlen);

/* Ends a session (logout). Ending one that does not exist is not an error. */
int users_session_close(db_t *db, const char *sid, char *err, size_t errlen);

/* Deletes ended sessions and tokens expired for a day or more; *n: how many. */
int users_purge_expired(db_t *db, int64_t idle_sec, long *n, char *err, size_t errlen);

#endif
