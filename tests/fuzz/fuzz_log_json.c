/*
 * fuzz_log_json.c - log_json_line (logging.format json) on arbitrary event
 * text: the first byte picks the output size (from LOG_JSON_MIN_CAP up)
 * and whether the text counts as cut, the rest is the text, as a format
 * string's expansion may hold anything a log line quotes (paths, errors,
 * task names). Checks that the result fits, is one line of valid UTF-8
 * without control bytes, and parses as one JSON object whose members are
 * strings (but "truncated", true), the first four being the header's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[8192 + 1];
    if (size < 1)
        return 0;
    size_t cap = LOG_JSON_MIN_CAP + (size_t)(data[0] >> 1) * 62; /* 256..8130 */
    bool cut = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (len > 4095)
        len = 4095;

    out[cap] = 'X'; /* a guard byte just past the buffer given */
    size_t n =
        log_json_line(out, cap, "2026-01-02T03:04:05.678Z", "warning", "scheduler", text, len, cut);
    if (n < 3 || n >= cap || out[n] != '\0' || out[n - 1] != '\n' || out[cap] != 'X')
        abort();
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f)
            abort();
    }
    if (!utf8_valid(out, n))
        abort();
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(out, n - 1, &end, 0);
    if (!j || !cJSON_IsObject(j) || end != out + n - 1)
        abort();
    static const char *const head[] = {"timestamp", "level", "component", "message"};
    const cJSON *m = j->child;
    for (size_t i = 0; i < 4; i++, m = m->next)
        if (!m || strcmp(m->string, head[i]) != 0 || !cJSON_IsString(m))
            abort();
    for (; m; m = m->next) {
        bool flag = !strcmp(m->string, "truncated");
        if (flag ? !cJSON_IsTrue(m) : !cJSON_IsString(m))
            abort();
        if (flag && m->next)
            abort(); /* it ends the object */
    }
    if (cut && !cJSON_GetObjectItemCaseSensitive(j, "truncated"))
        abort();
    cJSON_Delete(j);
    return 0;
}
