/*
 * Fuzz target for the queue message codec: the input is split on NUL bytes
 * into alternating field names and values, as a stream entry arrives.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/queue_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *parts[64];
    size_t lens[64];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 64; i++) {
        if (i == size || data[i] == 0) {
            parts[n] = (const char *)data + start;
            lens[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    size_t pairs = n / 2;
    const char *keys[32], *vals[32];
    size_t kl[32], vl[32];
    for (size_t i = 0; i < pairs; i++) {
        keys[i] = parts[2 * i];
        kl[i] = lens[2 * i];
        vals[i] = parts[2 * i + 1];
        vl[i] = lens[2 * i + 1];
    }
    queue_msg_t m;
    char err[128];
    if (queue_msg_decode(keys, kl, vals, vl, pairs, &m, err, sizeof(err)) == 0) {
        queue_msg_fields_t f;
        /* Whatever decodes must encode again. */
        if (queue_msg_encode(&m, &f) != 0)
            __builtin_trap();
    }
    return 0;
}
