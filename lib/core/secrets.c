/*
 * secrets.c - AES-256-GCM encryption at rest (see secrets.h).
 *
 * Why not Fernet itself: Fernet is AES-128-CBC + HMAC-SHA256 with its own
 * token format; the design asks for AES-256-GCM, which authenticates and
 * encrypts in one pass with OpenSSL's EVP interface. What is kept from
 * Airflow is the operator's model: a key list in one setting, first key
 * encrypts, any key decrypts, rotation re-encrypts under the first.
 *
 * Everything that held key material or plaintext is wiped with
 * OPENSSL_cleanse before it is freed.
 *
 * Pure crypto: the rotation frame that re-encrypts rows is in
 * store/rotate.c.
 */
#include "core/secrets.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/errbuf.h"

#define NONCE_BYTES 12
#define TAG_BYTES 16
#define PREFIX "v1:"
#define PREFIX_LEN 3
#define MAX_SPEC_LEN 4096
#define MAX_CONTEXT_LEN 1024

typedef struct ring_key {
    unsigned char key[SECRETS_KEY_BYTES];
    char id[SECRETS_KEY_ID_LEN + 1];
} ring_key_t;

struct secrets_keyring {
    ring_key_t keys[SECRETS_MAX_KEYS];
    size_t n;
};

/* ---- base64 ------------------------------------------------------------ */

/*
 * Decodes standard or URL-safe base64 (padding optional) of in[0..len)
 * into out (outcap bytes). Returns the decoded length or -1.
 */
static long b64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    char *norm;
    unsigned char *tmp;
    size_t n = 0, pad = 0, padded;
    long rc = -1;
    int got;

    while (len > 0 && in[len - 1] == '=') {
        len--;
        pad++;
    }
    if (pad > 2 || len % 4 == 1)
        return -1;
    padded = (len + 3) / 4 * 4;
    norm = malloc(padded + 1);
    tmp = malloc(padded / 4 * 3 + 1);
    if (!norm || !tmp)
        goto out;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        if (!isalnum((unsigned char)c) && c != '+' && c != '/')
            goto out;
        norm[n++] = c;
    }
    while (n < padded)
        norm[n++] = '=';
    norm[n] = '\0';
    if (n == 0) {
        rc = 0;
        goto out;
    }
    got = EVP_DecodeBlock(tmp, (const unsigned char *)norm, (int)n);
    if (got < 0)
        goto out;
    /* EVP_DecodeBlock counts the padding as zero bytes */
    got -= (int)(padded - len);
    if (got < 0 || (size_t)got > outcap)
        goto out;
    memcpy(out, tmp, (size_t)got);
    rc = got;
out:
    if (norm) {
        OPENSSL_cleanse(norm, padded + 1);
        free(norm);
    }
    if (tmp) {
        OPENSSL_cleanse(tmp, padded / 4 * 3 + 1);
        free(tmp);
    }
    return rc;
}

/* ---- keyring ----------------------------------------------------------- */

static void derive_key_id(const unsigned char *key, char *id)
{
    static const char label[] = "updraft-secrets-key-id\n";
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned char buf[sizeof(label) + SECRETS_KEY_BYTES];

    memcpy(buf, label, sizeof(label));
    memcpy(buf + sizeof(label), key, SECRETS_KEY_BYTES);
    SHA256(buf, sizeof(buf), md);
    OPENSSL_cleanse(buf, sizeof(buf));
    for (int i = 0; i < SECRETS_KEY_ID_LEN / 2; i++)
        snprintf(id + 2 * i, 3, "%02x", md[i]);
}

/*
 * Why a decoded key is not random, or NULL when nothing says so. Each test
 * fails a key from a random source with a probability below 1e-13
 * (printable text, the loosest, is (95/256)^32): what they catch is a key
 * somebody typed or padded by hand (all zero, one byte repeated, a short
 * block repeated, a counting sequence, a passphrase).
 */
static const char *weak_key_reason(const unsigned char *k)
{
    bool seen[256] = {false};
    size_t distinct = 0, printable = 0;
    bool step = true;

    for (size_t i = 0; i < SECRETS_KEY_BYTES; i++) {
        if (!seen[k[i]]) {
            seen[k[i]] = true;
            distinct++;
        }
        if (k[i] >= 0x20 && k[i] < 0x7f)
            printable++;
        if (i >= 2 && (unsigned char)(k[i] - k[i - 1]) != (unsigned char)(k[1] - k[0]))
            step = false;
    }
    if (distinct == 1)
        return "one byte repeated";
    if (step)
        return "a counting sequence";
    for (size_t period = 2; period <= SECRETS_KEY_BYTES / 2; period++) {
        size_t i = period;
        while (i < SECRETS_KEY_BYTES && k[i] == k[i - period])
            i++;
        if (i == SECRETS_KEY_BYTES)
            return "a short block repeated";
    }
    if (distinct < 16)
        return "too few distinct bytes";
    if (printable == SECRETS_KEY_BYTES)
        return "printable text, not random bytes";
    return NULL;
}

secrets_keyring_t *secrets_keyring_new(const char *spec, char *err, size_t errlen)
{
    secrets_keyring_t *ring = calloc(1, sizeof(*ring));
    const char *p;

    if (!ring) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    if (!spec || !*spec)
        return ring;
    if (strlen(spec) > MAX_SPEC_LEN) {
        errbuf_set(err, errlen, "core.fernet_key: longer than %d bytes", MAX_SPEC_LEN);
        goto fail;
    }
    p = spec;
    for (size_t idx = 1;; idx++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        unsigned char key[SECRETS_KEY_BYTES + 3];
        long got;

        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len == 0) {
            errbuf_set(err, errlen, "core.fernet_key: key %zu is empty", idx);
            goto fail;
        }
        if (ring->n == SECRETS_MAX_KEYS) {
            errbuf_set(err, errlen, "core.fernet_key: more than %d keys", SECRETS_MAX_KEYS);
            goto fail;
        }
        got = b64_decode(p, len, key, sizeof(key));
        if (got != SECRETS_KEY_BYTES) {
            OPENSSL_cleanse(key, sizeof(key));
            errbuf_set(err, errlen,
                       "core.fernet_key: key %zu is not the base64 encoding of 32 bytes "
                       "(make one with: openssl rand -base64 32)",
                       idx);
            goto fail;
        }
        const char *weak = weak_key_reason(key);
        if (weak) {
            OPENSSL_cleanse(key, sizeof(key));
            errbuf_set(err, errlen,
                       "core.fernet_key: key %zu is not random (%s); make one with: openssl "
                       "rand -base64 32",
                       idx, weak);
            goto fail;
        }
        memcpy(ring->keys[ring->n].key, key, SECRETS_KEY_BYTES);
        OPENSSL_cleanse(key, sizeof(key));
        derive_key_id(ring->keys[ring->n].key, ring->keys[ring->n].id);
        ring->n++;
        if (!end)
            break;
        p = end + 1;
    }
    return ring;
fail:
    secrets_keyring_free(ring);
    return NULL;
}

void secrets_keyring_free(secrets_keyring_t *ring)
{
    if (!ring)
        return;
    OPENSSL_cleanse(ring, sizeof(*ring));
    free(ring);
}

size_t secrets_keyring_count(const secrets_keyring_t *ring)
{
    return ring ? ring->n : 0;
}

const char *secrets_keyring_key_id(const secrets_keyring_t *ring, size_t i)
{
    return ring && i < ring->n ? ring->keys[i].id : NULL;
}

/* ---- AEAD -------------------------------------------------------------- */

/* The additional data: "v1:<kid>:" then the context. */
static int build_aad(const char *kid, const char *context, unsigned char **aad, size_t *len)
{
    size_t clen = context ? strlen(context) : 0;

    if (clen > MAX_CONTEXT_LEN)
        return -1;
    *len = PREFIX_LEN + SECRETS_KEY_ID_LEN + 1 + clen;
    *aad = malloc(*len + 1);
    if (!*aad)
        return -1;
    snprintf((char *)*aad, *len + 1, "%s%s:%s", PREFIX, kid, context ? context : "");
    return 0;
}

int secrets_encrypt(const secrets_keyring_t *ring, const char *context, const char *plain,
                    size_t len, char **out, char *err, size_t errlen)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *blob = NULL, *aad = NULL;
    size_t bloblen = 0, aadlen = 0, outcap;
    char *text = NULL;
    int n, rc = -1;

    *out = NULL;
    if (!ring || ring->n == 0) {
        errbuf_set(err, errlen,
                   "no encryption key is configured: set core.fernet_key "
                   "(UPDRAFT__CORE__FERNET_KEY)");
        return -1;
    }
    if (len > SECRETS_MAX_PLAIN) {
        errbuf_set(err, errlen, "value longer than %d bytes", SECRETS_MAX_PLAIN);
        return -1;
    }
    if (build_aad(ring->keys[0].id, context, &aad, &aadlen) < 0) {
        errbuf_set(err, errlen, "context too long or out of memory");
        return -1;
    }
    bloblen = NONCE_BYTES + len + TAG_BYTES;
    blob = malloc(bloblen);
    ctx = EVP_CIPHER_CTX_new();
    if (!blob || !ctx) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    if (RAND_bytes(blob, NONCE_BYTES) != 1) {
        errbuf_set(err, errlen, "no random bytes for a nonce");
        goto out;
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, ring->keys[0].key, blob) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1 ||
        (len > 0 && EVP_EncryptUpdate(ctx, blob + NONCE_BYTES, &n, (const unsigned char *)plain,
                                      (int)len) != 1) ||
        EVP_EncryptFinal_ex(ctx, blob + NONCE_BYTES + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, blob + NONCE_BYTES + len) != 1) {
        errbuf_set(err, errlen, "encryption failed");
        goto out;
    }
    outcap = PREFIX_LEN + SECRETS_KEY_ID_LEN + 1 + (bloblen + 2) / 3 * 4 + 1;
    text = malloc(outcap);
    if (!text) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    n = snprintf(text, outcap, "%s%s:", PREFIX, ring->keys[0].id);
    EVP_EncodeBlock((unsigned char *)text + n, blob, (int)bloblen);
    *out = text;
    text = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (blob) {
        OPENSSL_cleanse(blob, bloblen);
        free(blob);
    }
    free(aad);
    free(text);
    return rc;
}

bool secrets_is_ciphertext(const char *s)
{
    if (!s || strncmp(s, PREFIX, PREFIX_LEN) != 0)
        return false;
    for (int i = 0; i < SECRETS_KEY_ID_LEN; i++)
        if (!isxdigit((unsigned char)s[PREFIX_LEN + i]))
            return false;
    return s[PREFIX_LEN + SECRETS_KEY_ID_LEN] == ':';
}

int secrets_decrypt(const secrets_keyring_t *ring, const char *context, const char *ciphertext,
                    char **out, size_t *outlen, char *err, size_t errlen)
{
    const ring_key_t *key = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *blob = NULL, *aad = NULL;
    char *plain = NULL, kid[SECRETS_KEY_ID_LEN + 1];
    size_t b64len, cap = 0, aadlen, ctlen = 0;
    long bloblen;
    int n, rc = -1;

    *out = NULL;
    if (outlen)
        *outlen = 0;
    if (!secrets_is_ciphertext(ciphertext)) {
        errbuf_set(err, errlen, "not an encrypted value");
        return -1;
    }
    memcpy(kid, ciphertext + PREFIX_LEN, SECRETS_KEY_ID_LEN);
    kid[SECRETS_KEY_ID_LEN] = '\0';
    for (size_t i = 0; ring && i < ring->n && !key; i++)
        if (strcasecmp(ring->keys[i].id, kid) == 0)
            key = &ring->keys[i];
    if (!key) {
        if (!ring || ring->n == 0)
            errbuf_set(err, errlen,
                       "value is encrypted with key %s but no key is configured "
                       "(core.fernet_key)",
                       kid);
        else
            errbuf_set(err, errlen,
                       "value is encrypted with key %s, which is not among the configured keys "
                       "(core.fernet_key)",
                       kid);
        return -1;
    }
    b64len = strlen(ciphertext + PREFIX_LEN + SECRETS_KEY_ID_LEN + 1);
    if (b64len > (size_t)SECRETS_MAX_PLAIN / 3 * 4 + 64) {
        errbuf_set(err, errlen, "encrypted value too long");
        return -1;
    }
    cap = b64len / 4 * 3 + 3;
    blob = malloc(cap);
    if (!blob) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    bloblen = b64_decode(ciphertext + PREFIX_LEN + SECRETS_KEY_ID_LEN + 1, b64len, blob, cap);
    if (bloblen < NONCE_BYTES + TAG_BYTES) {
        errbuf_set(err, errlen, "malformed encrypted value");
        goto out;
    }
    ctlen = (size_t)bloblen - NONCE_BYTES - TAG_BYTES;
    if (build_aad(key->id, context, &aad, &aadlen) < 0) {
        errbuf_set(err, errlen, "context too long or out of memory");
        goto out;
    }
    plain = malloc(ctlen + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!plain || !ctx) {
        errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key->key, blob) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1 ||
        (ctlen > 0 &&
         EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, blob + NONCE_BYTES, (int)ctlen) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, blob + NONCE_BYTES + ctlen) !=
            1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + ctlen, &n) != 1) {
        errbuf_set(err, errlen,
                   "encrypted value failed authentication with key %s (tampered, or stored for "
                   "another row)",
                   kid);
        goto out;
    }
    plain[ctlen] = '\0';
    *out = plain;
    if (outlen)
        *outlen = ctlen;
    plain = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (blob) {
        OPENSSL_cleanse(blob, cap);
        free(blob);
    }
    if (plain) {
        OPENSSL_cleanse(plain, ctlen + 1);
        free(plain);
    }
    free(aad);
    return rc;
}

/* ---- names and helpers ------------------------------------------------- */

bool secrets_name_is_sensitive(const char *name)
{
    static const char *const words[] = {
        "access_token", "api_key",     "apikey", "authorization", "passphrase",   "passwd",
        "password",     "private_key", "secret", "token",         "keyfile_dict", "service_account",
    };

    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasestr(name, words[i]))
            return true;
    return false;
}

void secrets_free_str(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

int secrets_generate_key(char *buf, size_t buflen)
{
    unsigned char key[SECRETS_KEY_BYTES];

    if (buflen < 45 || RAND_bytes(key, sizeof(key)) != 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)buf, key, sizeof(key));
    OPENSSL_cleanse(key, sizeof(key));
    return 0;
}
