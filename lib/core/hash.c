/*
 * hash.c - see hash.h.
 */
#include "core/hash.h"

uint64_t hash_bytes(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t h = HASH_FNV64_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= HASH_FNV64_PRIME;
    }
    return h;
}

uint64_t hash_str(const char *s)
{
    uint64_t h = HASH_FNV64_OFFSET;
    for (const unsigned char *b = (const unsigned char *)s; *b; b++) {
        h ^= *b;
        h *= HASH_FNV64_PRIME;
    }
    return h;
}

void hash_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}
