/*
 * credential.h - passwords and random secrets (tokens, session ids).
 *
 * Passwords are hashed with yescrypt (libxcrypt's "$y$" method, its
 * default cost) and a fresh random salt; the hash is what is stored, the
 * password never is. Tokens and session ids are 32 random bytes (OpenSSL's
 * RAND_bytes), URL-safe base64 without padding, with a readable prefix
 * ("udt_" for API tokens, so a leaked one is recognisable by scanners);
 * the store keeps only their SHA-256 in hex (credential_digest): they
 * carry 256 bits of entropy, so a fast hash is as safe as a slow one and
 * lets every request be checked in microseconds.
 *
 * Every function wipes its copies of secrets before returning.
 */
#ifndef UPDRAFT_CREDENTIAL_H
#define UPDRAFT_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#define CREDENTIAL_HASH_MAX 128     /* a yescrypt hash, with its NUL */
#define CREDENTIAL_PASSWORD_MAX 256 /* bytes of a password accepted */
#define CREDENTIAL_TOKEN_MAX 64     /* a token or session id, with its NUL */
#define CREDENTIAL_DIGEST_LEN 64    /* hex SHA-256, without its NUL */
#define CREDENTIAL_TOKEN_PREFIX "udt_"

/*
 * Hashes password (1..CREDENTIAL_PASSWORD_MAX bytes) into out
 * (CREDENTIAL_HASH_MAX bytes). 0, or -1 with err filled (too long, no
 * random bytes, crypt failure); err never repeats the password.
 */
int credential_hash_password(const char *password, char *out, size_t outlen, char *err,
                             size_t errlen);

/*
 * Whether password matches stored (a hash from credential_hash_password).
 * The comparison takes the same time wherever the first difference is.
 * stored NULL or not a hash: the work of one hash is still done (against a
 * fixed dummy hash), so an unknown user answers as slowly as a wrong
 * password, and false is returned.
 */
bool credential_verify_password(const char *password, const char *stored);

/* A random password of len (8..64) characters from [A-Za-z0-9] into out (len + 1 bytes). 0 or -1.
 */
int credential_random_password(char *out, size_t len);

/*
 * A new random secret: prefix (may be "") then 43 URL-safe base64
 * characters (32 random bytes), into out (CREDENTIAL_TOKEN_MAX bytes).
 * 0, or -1 when no random bytes could be had.
 */
int credential_new_token(const char *prefix, char *out, size_t outlen);

/* The hex SHA-256 of secret into hex (CREDENTIAL_DIGEST_LEN + 1 bytes). */
void credential_digest(const char *secret, char *hex);

/*
 * The hex HMAC-SHA256 of msg under key into hex (CREDENTIAL_DIGEST_LEN + 1
 * bytes): a value derived from a secret that reveals nothing of it (the
 * CSRF token of a session is the HMAC of "csrf" under the session id).
 * "" only when out of memory: callers treat "" as no value.
 */
void credential_hmac(const char *key, const char *msg, char *hex);

/* Compares two NUL-terminated strings in time that depends only on their lengths. */
bool credential_equal(const char *a, const char *b);

/* Overwrites buf[0..len) in a way the compiler keeps. */
void credential_wipe(void *buf, size_t len);

#endif
