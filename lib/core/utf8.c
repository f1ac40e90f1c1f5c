/*
 * utf8.c - see utf8.h.
 */
#include "core/utf8.h"

int utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    int need;
    uint32_t v;

    if (c == 0)
        return UTF8_INVALID;
    if (c < 0x80) {
        if (cp)
            *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return UTF8_INVALID;
    }
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= avail)
            return UTF8_INCOMPLETE;
        unsigned char b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return UTF8_INVALID;
        v = (v << 6) | (b & 0x3F);
    }
    if (cp)
        *cp = v;
    return need;
}

size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] >= 0x01 && s[i] < 0x80) { /* fast path for ASCII */
            i++;
            continue;
        }
        int n = utf8_decode(s + i, len - i, NULL);
        if (n <= 0)
            break;
        i += (size_t)n;
    }
    return i;
}

bool utf8_valid(const char *s, size_t len)
{
    return utf8_valid_prefix((const unsigned char *)s, len) == len;
}

size_t utf8_count(const char *s)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80; /* every byte but a continuation byte starts one */
    return n;
}
