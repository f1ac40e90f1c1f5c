/*
 * utf8.h - checking and decoding UTF-8, the library's one implementation.
 *
 * "Valid" is the Unicode standard's well-formed byte sequences (table 3-7):
 * no overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF.
 * A NUL byte is never valid here: every text updraft stores or sends
 * (logs, XCom values, Slack messages) must survive C strings and Postgres
 * text, which cannot hold one.
 */
#ifndef UPDRAFT_CORE_UTF8_H
#define UPDRAFT_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* utf8_decode's verdicts besides a length. */
#define UTF8_INVALID 0     /* not a valid sequence (or a NUL byte) */
#define UTF8_INCOMPLETE -1 /* a valid start, cut off by the end of the bytes */

/*
 * Decodes the character at s (avail >= 1 bytes). Returns its length (1..4)
 * and sets *cp (may be NULL) when valid; UTF8_INVALID or UTF8_INCOMPLETE
 * otherwise.
 */
int utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp);

/* Length of the longest valid prefix of s[0..len). */
size_t utf8_valid_prefix(const unsigned char *s, size_t len);

/* Whether all of s[0..len) is valid (and holds no NUL). */
bool utf8_valid(const char *s, size_t len);

/* The characters of the valid, NUL-terminated string s (its length as Python's len). */
size_t utf8_count(const char *s);

#endif
