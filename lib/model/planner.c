/*
 * planner.c - see planner.h. Trigger rules follow Airflow 2's
 * TriggerRuleDep: a task without upstream is always ready; "done" means
 * success, failed, skipped or upstream_failed; removed upstream tasks do
 * not count; a rule that can no longer be met settles the task at once
 * (all_success with a failed upstream is upstream_failed without waiting
 * for the other upstream tasks).
 */
#include "model/planner.h"

#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[TI_STATE_COUNT] = {
    [TI_NONE] = "none",
    [TI_SCHEDULED] = "scheduled",
    [TI_QUEUED] = "queued",
    [TI_RUNNING] = "running",
    [TI_SUCCESS] = "success",
    [TI_FAILED] = "failed",
    [TI_SKIPPED] = "skipped",
    [TI_UPSTREAM_FAILED] = "upstream_failed",
    [TI_UP_FOR_RETRY] = "up_for_retry",
    [TI_UP_FOR_RESCHEDULE] = "up_for_reschedule",
    [TI_DEFERRED] = "deferred",
    [TI_REMOVED] = "removed",
    [TI_RESTARTING] = "restarting",
};

const char *planner_state_name(ti_state_t s)
{
    if ((int)s < 0 || s >= TI_STATE_COUNT)
        return "none";
    return state_names[s];
}

int planner_state_parse(const char *name, ti_state_t *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < TI_STATE_COUNT; i++) {
        if (!strcmp(name, state_names[i])) {
            *out = (ti_state_t)i;
            return 0;
        }
    }
    return -1;
}

bool planner_state_finished(ti_state_t s)
{
    return s == TI_SUCCESS || s == TI_FAILED || s == TI_SKIPPED || s == TI_UPSTREAM_FAILED ||
           s == TI_REMOVED;
}

void planner_upstream_init(planner_upstream_t *u)
{
    memset(u, 0, sizeof(*u));
}

void planner_upstream_add(planner_upstream_t *u, ti_state_t s)
{
    if ((int)s < 0 || s >= TI_STATE_COUNT)
        s = TI_NONE;
    u->total++;
    u->n[s]++;
}

typedef enum rule {
    RULE_ALL_SUCCESS = 0,
    RULE_ALL_FAILED,
    RULE_ALL_DONE,
    RULE_ALL_DONE_MIN_ONE_SUCCESS,
    RULE_ALL_SKIPPED,
    RULE_ONE_SUCCESS,
    RULE_ONE_FAILED,
    RULE_ONE_DONE,
    RULE_NONE_FAILED,
    RULE_NONE_FAILED_MIN_ONE_SUCCESS,
    RULE_NONE_SKIPPED,
    RULE_ALWAYS,
    RULE_UNKNOWN
} rule_t;

static const char *const rule_names[] = {
    [RULE_ALL_SUCCESS] = "all_success",
    [RULE_ALL_FAILED] = "all_failed",
    [RULE_ALL_DONE] = "all_done",
    [RULE_ALL_DONE_MIN_ONE_SUCCESS] = "all_done_min_one_success",
    [RULE_ALL_SKIPPED] = "all_skipped",
    [RULE_ONE_SUCCESS] = "one_success",
    [RULE_ONE_FAILED] = "one_failed",
    [RULE_ONE_DONE] = "one_done",
    [RULE_NONE_FAILED] = "none_failed",
    [RULE_NONE_FAILED_MIN_ONE_SUCCESS] = "none_failed_min_one_success",
    [RULE_NONE_SKIPPED] = "none_skipped",
    [RULE_ALWAYS] = "always",
};

static rule_t rule_parse(const char *name)
{
    if (!name)
        return RULE_UNKNOWN;
    for (int i = 0; i < RULE_UNKNOWN; i++)
        if (!strcmp(name, rule_names[i]))
            return (rule_t)i;
    /* Airflow 2 still accepts the old name. */
    if (!strcmp(name, "none_failed_or_skipped"))
        return RULE_NONE_FAILED_MIN_ONE_SUCCESS;
    return RULE_UNKNOWN;
}

bool planner_trigger_rule_known(const char *trigger_rule)
{
    return rule_parse(trigger_rule) != RULE_UNKNOWN;
}

ti_state_t planner_decide(const char *trigger_rule, const planner_upstream_t *up)
{
    size_t total = up->total - up->n[TI_REMOVED];
    size_t success = up->n[TI_SUCCESS];
    size_t skipped = up->n[TI_SKIPPED];
    size_t failed = up->n[TI_FAILED] + up->n[TI_UPSTREAM_FAILED];
    size_t done = success + skipped + failed;
    bool all_done = done >= total;

    if (total == 0)
        return TI_SCHEDULED;
    rule_t rule = rule_parse(trigger_rule);
    switch (rule) {
    case RULE_UNKNOWN:
    case RULE_ALL_SUCCESS:
        if (failed)
            return TI_UPSTREAM_FAILED;
        if (skipped)
            return TI_SKIPPED;
        return success >= total ? TI_SCHEDULED : TI_NONE;
    case RULE_ALL_FAILED:
        if (success || skipped)
            return TI_SKIPPED;
        return failed >= total ? TI_SCHEDULED : TI_NONE;
    case RULE_ALL_DONE:
        return all_done ? TI_SCHEDULED : TI_NONE;
    case RULE_ALL_DONE_MIN_ONE_SUCCESS:
        /* Airflow 3.1: a skipped upstream is not "done" for this rule. */
        if (skipped)
            return TI_SKIPPED;
        if (!all_done)
            return TI_NONE;
        return success ? TI_SCHEDULED : TI_UPSTREAM_FAILED;
    case RULE_ALL_SKIPPED:
        if (success || failed)
            return TI_SKIPPED;
        return skipped >= total ? TI_SCHEDULED : TI_NONE;
    case RULE_ONE_SUCCESS:
        if (success)
            return TI_SCHEDULED;
        if (all_done)
            return skipped >= total ? TI_SKIPPED : TI_UPSTREAM_FAILED;
        return TI_NONE;
    case RULE_ONE_FAILED:
        if (failed)
            return TI_SCHEDULED;
        return all_done ? TI_SKIPPED : TI_NONE;
    case RULE_ONE_DONE:
        if (success || up->n[TI_FAILED])
            return TI_SCHEDULED;
        return all_done ? TI_SKIPPED : TI_NONE;
    case RULE_NONE_FAILED:
        if (failed)
            return TI_UPSTREAM_FAILED;
        return all_done ? TI_SCHEDULED : TI_NONE;
    case RULE_NONE_FAILED_MIN_ONE_SUCCESS:
        if (failed)
            return TI_UPSTREAM_FAILED;
        if (!all_done)
            return TI_NONE;
        return skipped >= total ? TI_SKIPPED : TI_SCHEDULED;
    case RULE_NONE_SKIPPED:
        if (skipped)
            return TI_SKIPPED;
        return all_done ? TI_SCHEDULED : TI_NONE;
    case RULE_ALWAYS:
        return TI_SCHEDULED;
    }
    return TI_NONE;
}

run_verdict_t planner_run_verdict(const size_t counts[TI_STATE_COUNT])
{
    return planner_run_verdict_leaves(counts, counts);
}

run_verdict_t planner_run_verdict_leaves(const size_t counts[TI_STATE_COUNT],
                                         const size_t leaves[TI_STATE_COUNT])
{
    for (int i = 0; i < TI_STATE_COUNT; i++) {
        if (counts[i] && !planner_state_finished((ti_state_t)i))
            return RUN_KEEP_RUNNING;
    }
    return leaves[TI_FAILED] + leaves[TI_UPSTREAM_FAILED] ? RUN_FAILED : RUN_SUCCESS;
}

/* The remainder of the 160-bit big-endian number h modulo m (m > 0). */
static uint64_t digest_mod(const unsigned char *h, size_t n, uint64_t m)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++)
        r = (r * 256 + h[i]) % m;
    return r;
}

long long planner_retry_delay_sec(int retry_delay_sec, bool exponential, int max_retry_delay_sec,
                                  const char *dag_id, const char *task_id,
                                  const char *logical_date_iso, int try_number)
{
    long long delay = retry_delay_sec < 0 ? 0 : retry_delay_sec;
    if (!exponential)
        return delay;
    /* min_backoff = ceil(delay * 2^(try - 1)), at least 1, without overflow. */
    int shift = try_number < 1 ? 0 : try_number - 1;
    long long min_backoff = delay;
    for (int i = 0; i < shift && min_backoff <= PLANNER_MAX_RETRY_DELAY; i++)
        min_backoff *= 2;
    if (shift < 0 || min_backoff > PLANNER_MAX_RETRY_DELAY)
        min_backoff = PLANNER_MAX_RETRY_DELAY;
    if (min_backoff < 1)
        min_backoff = 1;
    char key[1024];
    unsigned char h[SHA_DIGEST_LENGTH];
    int len =
        snprintf(key, sizeof(key), "%s#%s#%s#%d", dag_id ? dag_id : "", task_id ? task_id : "",
                 logical_date_iso ? logical_date_iso : "None", try_number);
    if (len < 0)
        len = 0;
    if ((size_t)len >= sizeof(key))
        len = (int)sizeof(key) - 1;
    SHA1((const unsigned char *)key, (size_t)len, h);
    long long d = min_backoff + (long long)digest_mod(h, sizeof(h), (uint64_t)min_backoff);
    if (d > PLANNER_MAX_RETRY_DELAY)
        d = PLANNER_MAX_RETRY_DELAY;
    if (max_retry_delay_sec > 0 && d > max_retry_delay_sec)
        d = max_retry_delay_sec;
    return d;
}
