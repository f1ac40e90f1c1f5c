/*
 * queue_msg.h - the "run this try" message carried by the Redis streams
 * (see proto/PROTOCOL.md). The codec validates everything it reads: a
 * message comes from the network and may be anything.
 */
#ifndef UPDRAFT_QUEUE_MSG_H
#define UPDRAFT_QUEUE_MSG_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_MSG_VERSION 1
#define QUEUE_MSG_NFIELDS 4 /* v, ti, try, t */
#define QUEUE_MSG_MAX_FIELD 32

typedef struct queue_msg {
    int64_t ti_id;       /* task_instance.id, > 0 */
    int32_t try_number;  /* >= 1 */
    int64_t enqueued_us; /* scheduler's clock at XADD, for latency figures; 0 = unknown */
} queue_msg_t;

/* Field/value text of one message; storage is inside the struct. */
typedef struct queue_msg_fields {
    const char *argv[QUEUE_MSG_NFIELDS * 2];
    size_t argvlen[QUEUE_MSG_NFIELDS * 2];
    char buf[QUEUE_MSG_NFIELDS][QUEUE_MSG_MAX_FIELD];
} queue_msg_fields_t;

/* Fills f with the field/value pairs for XADD. Returns 0, or -1 if m is invalid. */
int queue_msg_encode(const queue_msg_t *m, queue_msg_fields_t *f);

/*
 * Decodes n field/value pairs (keys[i] -> vals[i], with lengths; not
 * NUL-terminated). Unknown fields are ignored (newer senders); missing or
 * malformed required fields are an error. Returns 0, or -1 with err filled.
 */
int queue_msg_decode(const char *const *keys, const size_t *klens, const char *const *vals,
                     const size_t *vlens, size_t n, queue_msg_t *out, char *err, size_t errlen);

#endif
