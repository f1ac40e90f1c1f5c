/*
 * planner.h - the pure planning decisions shared by the scheduler and the
 * workers' mini-scheduler, with no I/O: task instance
 * states, the trigger-rule verdict for one waiting task instance given the
 * states of its upstream, and the state of a DAG run given the states of
 * its task instances. planrun.c applies these to rows.
 */
#ifndef UPDRAFT_PLANNER_H
#define UPDRAFT_PLANNER_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ti_state {
    TI_NONE = 0,
    TI_SCHEDULED,
    TI_QUEUED,
    TI_RUNNING,
    TI_SUCCESS,
    TI_FAILED,
    TI_SKIPPED,
    TI_UPSTREAM_FAILED,
    TI_UP_FOR_RETRY,
    TI_UP_FOR_RESCHEDULE,
    TI_DEFERRED,
    TI_REMOVED,
    TI_RESTARTING,
    TI_STATE_COUNT
} ti_state_t;

/* The task_instance.state text of s ("none", "scheduled", ...). */
const char *planner_state_name(ti_state_t s);
/* Parses a state name; -1 when unknown. */
int planner_state_parse(const char *name, ti_state_t *out);
/* success, failed, skipped, upstream_failed, removed. */
bool planner_state_finished(ti_state_t s);

/* How many upstream task instances are in each state. */
typedef struct planner_upstream {
    size_t total;
    size_t n[TI_STATE_COUNT];
} planner_upstream_t;

void planner_upstream_init(planner_upstream_t *u);
void planner_upstream_add(planner_upstream_t *u, ti_state_t s);

/*
 * The verdict for a task instance in state 'none' with trigger rule
 * trigger_rule (Airflow's names; NULL or unknown = all_success) and the
 * given upstream: TI_NONE (keep waiting), TI_SCHEDULED (ready to run),
 * TI_SKIPPED or TI_UPSTREAM_FAILED. Removed upstream tasks are ignored.
 */
ti_state_t planner_decide(const char *trigger_rule, const planner_upstream_t *up);

/* Whether trigger_rule is one planner_decide() knows. */
bool planner_trigger_rule_known(const char *trigger_rule);

typedef enum run_verdict { RUN_KEEP_RUNNING = 0, RUN_SUCCESS, RUN_FAILED } run_verdict_t;

/*
 * The state of a run whose task instances have the given counts (indexed by
 * ti_state_t): still running while any is unfinished; then failed when any
 * is failed or upstream_failed, else success. A run without tasks succeeds.
 */
run_verdict_t planner_run_verdict(const size_t counts[TI_STATE_COUNT]);

/*
 * Airflow's final state of a run: still running while any task instance
 * (counts) is unfinished; then failed when any leaf task instance (leaves:
 * those of tasks without downstream in the run's version) is failed or
 * upstream_failed, else success. A failure handled downstream (a leaf with
 * all_done or one_failed that ran) does not fail the run. Removed leaves
 * do not count.
 */
run_verdict_t planner_run_verdict_leaves(const size_t counts[TI_STATE_COUNT],
                                         const size_t leaves[TI_STATE_COUNT]);

/* Airflow's cap on any retry delay (MAX_RETRY_DELAY, one day). */
#define PLANNER_MAX_RETRY_DELAY 86400

/*
 * Seconds between the end of a failed try and the next one, as Airflow 2's
 * TaskInstance.next_retry_datetime: retry_delay_sec without exponential
 * backoff; with it, min = ceil(retry_delay * 2^(try_number - 1)) (at least
 * 1), plus a deterministic jitter of sha1("dag#task#logical_date#try") mod
 * min, so [min, 2 min), then capped at one day and at max_retry_delay_sec
 * when it is > 0. logical_date_iso is written as Airflow prints it
 * ("2024-01-01T00:00:00+00:00"); try_number is the try that failed.
 */
long long planner_retry_delay_sec(int retry_delay_sec, bool exponential, int max_retry_delay_sec,
                                  const char *dag_id, const char *task_id,
                                  const char *logical_date_iso, int try_number);

#endif
