/*
 * hash.h - the library's one non-cryptographic hash, FNV-1a (64 bit), for
 * in-memory hash tables and stable names of generated statements, and the
 * one hex writer of digests. Never for anything an attacker must not steer
 * or guess (secrets.h and credential.h do that).
 */
#ifndef UPDRAFT_CORE_HASH_H
#define UPDRAFT_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV64_OFFSET UINT64_C(14695981039346656037)
#define HASH_FNV64_PRIME UINT64_C(1099511628211)

/* FNV-1a of len bytes at p. */
uint64_t hash_bytes(const void *p, size_t len);

/* FNV-1a of a NUL-terminated string (its bytes, without the NUL). */
uint64_t hash_str(const char *s);

/* Lower-case hex of n bytes (a digest) into out (2n + 1 bytes). */
void hash_hex(const unsigned char *bytes, size_t n, char *out);

#endif
