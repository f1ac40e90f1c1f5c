/*
 * secrets.h - encryption at rest for connection passwords, extras and
 * variable values, and the names that count as sensitive.
 *
 * Key material comes from core.fernet_key (or UPDRAFT__CORE__FERNET_KEY):
 * one or more base64-encoded 32-byte keys, comma-separated. As Airflow's
 * MultiFernet, the first key encrypts and every key decrypts, so a key is
 * rotated by putting the new one first, running `updraft rotate-fernet-key`
 * and then dropping the old one. Keys are never stored in the database and
 * never logged.
 *
 * Ciphertext is text, so it fits a text column:
 *
 *     v1:<key id>:<base64(nonce[12] | ciphertext | tag[16])>
 *
 * AES-256-GCM (OpenSSL EVP), a random nonce per value. The key id is 8 hex
 * digits derived from the key by SHA-256 (it identifies the key without
 * revealing it), so decryption picks the right key at once. The additional
 * authenticated data binds the version, the key id and a caller-supplied
 * context ("variable:<key>", "connection:<id>:password"), so a ciphertext
 * copied into another row does not decrypt.
 */
#ifndef UPDRAFT_SECRETS_H
#define UPDRAFT_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#define SECRETS_KEY_BYTES 32
#define SECRETS_MAX_KEYS 8
#define SECRETS_MAX_PLAIN (1024 * 1024) /* bytes of plaintext accepted */
#define SECRETS_KEY_ID_LEN 8            /* hex digits */

typedef struct secrets_keyring secrets_keyring_t;

/*
 * Parses spec ("KEY[,KEY...]", standard or URL-safe base64 of 32 bytes
 * each, spaces around commas ignored). NULL or "" gives an empty keyring
 * (no key configured: nothing can be encrypted). Returns NULL with err
 * filled for a malformed key, a key that is not random (all zero, one
 * byte or a short block repeated, a counting sequence, printable text:
 * "core.fernet_key: key 2 is not random (...)"; the message never repeats
 * the key) or on out of memory. config_load applies the same check to
 * core.fernet_key, so a program refuses such a key when it starts. Free with
 * secrets_keyring_free(), which wipes the keys.
 */
secrets_keyring_t *secrets_keyring_new(const char *spec, char *err, size_t errlen);
void secrets_keyring_free(secrets_keyring_t *ring);
/* Number of keys (0 when none is configured). */
size_t secrets_keyring_count(const secrets_keyring_t *ring);
/* Key id (8 hex digits) of key i, borrowed; NULL past the end. */
const char *secrets_keyring_key_id(const secrets_keyring_t *ring, size_t i);

/*
 * Encrypts plain[0..len) under the first key, bound to context (may be
 * NULL, meaning ""). *out is a malloc'd NUL-terminated "v1:..." string.
 * Returns 0, or -1 with err (no key configured, too long, OpenSSL failure).
 */
int secrets_encrypt(const secrets_keyring_t *ring, const char *context, const char *plain,
                    size_t len, char **out, char *err, size_t errlen);

/*
 * Decrypts a "v1:..." string made with the same context by any key of the
 * ring. *out is malloc'd and NUL-terminated (free with secrets_free_str);
 * *outlen (may be NULL) its length. Returns 0, or -1 with err: malformed,
 * no configured key has its key id, or authentication failed (tampered,
 * wrong context).
 */
int secrets_decrypt(const secrets_keyring_t *ring, const char *context, const char *ciphertext,
                    char **out, size_t *outlen, char *err, size_t errlen);

/* True when s looks like this module's ciphertext ("v1:xxxxxxxx:..."). */
bool secrets_is_ciphertext(const char *s);

/*
 * True when a variable name or connection extra key names a secret, as
 * Airflow's sensitive_var_conn_names: it contains (case-insensitively)
 * access_token, api_key, apikey, authorization, passphrase, passwd,
 * password, private_key, secret, token, keyfile_dict or service_account.
 */
bool secrets_name_is_sensitive(const char *name);

/* Wipes and frees a string that held a secret; NULL is a no-op. */
void secrets_free_str(char *s);

/* Writes a new random key (base64 of 32 bytes, 44 chars + NUL) into buf. 0 or -1. */
int secrets_generate_key(char *buf, size_t buflen);

#endif
