/*
 * credential.c - passwords and random secrets (see credential.h).
 *
 * Passwords go through libxcrypt's yescrypt ("$y$", its default cost, a
 * salt libxcrypt draws from the kernel). struct crypt_data is 32 KiB, so
 * it lives on the heap (a webserver thread's stack may be small) and is
 * wiped before it is freed: it holds a copy of the password.
 *
 * Verifying always costs one hash. When the stored value is missing or is
 * not a hash libxcrypt accepts, the password is hashed against a fixed
 * dummy hash instead (its password is no secret: the result is thrown
 * away), so a caller that looks a user up and verifies answers as slowly
 * for an unknown user as for a wrong password.
 *
 * Random secrets come from OpenSSL's RAND_bytes; digests and HMACs are
 * SHA-256 and printed in lower-case hex.
 */
#include "core/credential.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/hash.h"

/* A yescrypt hash at libxcrypt's default cost, of a password that is no secret. */
static const char DUMMY_HASH[] =
    "$y$j9T$ELRxlY3Tk2gcMPUuzAt6c.$yG/0eArQWQnT.VH2TPcS2n4PfGOsWl8GrE/vyLJk7U/";

#define TOKEN_RANDOM_BYTES 32
#define TOKEN_RANDOM_CHARS 43 /* URL-safe base64 of 32 bytes, without padding */

void credential_wipe(void *buf, size_t len)
{
    if (buf && len)
        OPENSSL_cleanse(buf, len);
}

/* Whether s has the shape of a yescrypt hash: "$y$", then crypt's alphabet and '$'. */
static bool looks_like_hash(const char *s)
{
    size_t n;

    if (!s || strncmp(s, "$y$", 3) != 0)
        return false;
    n = strlen(s);
    if (n >= CREDENTIAL_HASH_MAX)
        return false;
    for (size_t i = 3; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/' || c == '$'))
            return false;
    }
    return true;
}

/*
 * crypt_rn of password under setting into out (outlen bytes); true when it
 * gave a yescrypt hash that fits. The work area is wiped.
 */
static bool run_crypt(const char *password, const char *setting, char *out, size_t outlen)
{
    struct crypt_data *data = calloc(1, sizeof(*data));
    const char *h;
    bool ok = false;

    if (!data)
        return false;
    h = crypt_rn(password, setting, data, (int)sizeof(*data));
    if (h && strncmp(h, "$y$", 3) == 0 && strlen(h) < outlen) {
        memcpy(out, h, strlen(h) + 1);
        ok = true;
    }
    credential_wipe(data, sizeof(*data));
    free(data);
    return ok;
}

int credential_hash_password(const char *password, char *out, size_t outlen, char *err,
                             size_t errlen)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    size_t n = password ? strlen(password) : 0;

    if (outlen)
        out[0] = '\0';
    if (n == 0 || n > CREDENTIAL_PASSWORD_MAX) {
        errbuf_set(err, errlen, "a password must have 1 to %d bytes", CREDENTIAL_PASSWORD_MAX);
        return -1;
    }
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting))) {
        errbuf_set(err, errlen, "cannot make a salt for the password hash");
        return -1;
    }
    if (!run_crypt(password, setting, out,
                   outlen < CREDENTIAL_HASH_MAX ? outlen : CREDENTIAL_HASH_MAX)) {
        errbuf_set(err, errlen, "cannot hash the password");
        if (outlen)
            out[0] = '\0';
        return -1;
    }
    return 0;
}

bool credential_verify_password(const char *password, const char *stored)
{
    char got[CREDENTIAL_HASH_MAX];
    size_t n = password ? strlen(password) : 0;
    /* An over-long or missing password is hashed as "" so the work is the same. */
    const char *pw = n > 0 && n <= CREDENTIAL_PASSWORD_MAX ? password : "";
    bool usable = pw != password ? false : looks_like_hash(stored);
    bool ok = false;

    if (usable && run_crypt(pw, stored, got, sizeof(got))) {
        ok = credential_equal(got, stored);
    } else {
        /* Not a hash libxcrypt takes (or no password): the dummy's work instead. */
        (void)run_crypt(pw, DUMMY_HASH, got, sizeof(got));
        ok = false;
    }
    credential_wipe(got, sizeof(got));
    return ok;
}

int credential_random_password(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char buf[64];
    size_t got = 0;

    if (!out || len < 8 || len > 64)
        return -1;
    /* Rejection sampling: 248 = 4 * 62, so every character is equally likely. */
    while (got < len) {
        if (RAND_bytes(buf, (int)sizeof(buf)) != 1) {
            credential_wipe(buf, sizeof(buf));
            credential_wipe(out, got);
            out[0] = '\0';
            return -1;
        }
        for (size_t i = 0; i < sizeof(buf) && got < len; i++)
            if (buf[i] < 248)
                out[got++] = alphabet[buf[i] % 62];
    }
    out[len] = '\0';
    credential_wipe(buf, sizeof(buf));
    return 0;
}

int credential_new_token(const char *prefix, char *out, size_t outlen)
{
    unsigned char raw[TOKEN_RANDOM_BYTES];
    unsigned char b64[4 * ((TOKEN_RANDOM_BYTES + 2) / 3) + 1];
    size_t plen = prefix ? strlen(prefix) : 0;

    if (!out || outlen == 0)
        return -1;
    out[0] = '\0';
    if (plen + TOKEN_RANDOM_CHARS + 1 > outlen ||
        plen + TOKEN_RANDOM_CHARS + 1 > CREDENTIAL_TOKEN_MAX)
        return -1;
    if (RAND_bytes(raw, (int)sizeof(raw)) != 1) {
        credential_wipe(raw, sizeof(raw));
        return -1;
    }
    EVP_EncodeBlock(b64, raw, (int)sizeof(raw));
    for (size_t i = 0; i < TOKEN_RANDOM_CHARS; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    memcpy(out, prefix ? prefix : "", plen);
    memcpy(out + plen, b64, TOKEN_RANDOM_CHARS);
    out[plen + TOKEN_RANDOM_CHARS] = '\0';
    credential_wipe(raw, sizeof(raw));
    credential_wipe(b64, sizeof(b64));
    return 0;
}

void credential_digest(const char *secret, char *hex)
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)(secret ? secret : ""), secret ? strlen(secret) : 0, md);
    hash_hex(md, sizeof(md), hex);
    credential_wipe(md, sizeof(md));
}

void credential_hmac(const char *key, const char *msg, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const char *k = key ? key : "", *m = msg ? msg : "";

    if (!HMAC(EVP_sha256(), k, (int)strlen(k), (const unsigned char *)m, strlen(m), md, &len) ||
        len != SHA256_DIGEST_LENGTH) {
        /* Out of memory: "" (no token), never a constant a client could guess. */
        hex[0] = '\0';
        return;
    }
    hash_hex(md, len, hex);
    credential_wipe(md, sizeof(md));
}

bool credential_equal(const char *a, const char *b)
{
    size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;

    if (!a || !b)
        return false;
    if (la != lb) {
        (void)CRYPTO_memcmp(a, a, la);
        return false;
    }
    return CRYPTO_memcmp(a, b, la) == 0;
}
