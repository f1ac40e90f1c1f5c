/*
 * locks.h - every Postgres advisory lock updraft takes, in one place.
 *
 * Keys are text so that they splice into SQL constants. The two-key
 * locks are (class, hashtext(name)) pairs. When a transaction holds more
 * than one, it takes them in the order below, and never waits for an
 * earlier one while holding a later one (the try_ forms never wait), so
 * no two updraft processes can deadlock on them:
 *
 *   1. DB_MIGRATE_LOCK     held by each migration's transaction, alone
 *                          (lib/core/db.c: migrating is below this layer)
 *   2. LOCK_ENQUEUE        the scheduler's critical section (tried)
 *   3. LOCK_DAG_CLASS      per DAG: queueing its tasks (tried by planners
 *                          with the run row; a worker's refill waits for
 *                          it, DAGs in hashtext order, holding no later lock)
 *   4. LOCK_RUNS_CLASS     per DAG: starting queued runs (max_active_runs),
 *                          waited for while a queued run is planned
 *   5. LOCK_POOL_CLASS     per pool: its slots, in pool-name order
 *
 * All are transaction locks (pg_*advisory_xact_lock), released at commit or
 * rollback: none is a session lock, which a transaction-mode pooler
 * (database.pooler) would leave on a server connection another client
 * gets next.
 *
 * A backfill's row lock (store/backfill.h: the scheduler's step takes it
 * FOR UPDATE SKIP LOCKED, pause and cancel wait for it) is a row lock, not
 * one of these: it is taken before any of them, and no transaction waits
 * for it while holding one.
 */
#ifndef UPDRAFT_STORE_LOCKS_H
#define UPDRAFT_STORE_LOCKS_H

/* The critical section that moves 'scheduled' to 'queued' ("updr"). */
#define LOCK_ENQUEUE "1970300018"

/* Class of the per-DAG queueing lock: (LOCK_DAG_CLASS, hashtext(dag_id)). */
#define LOCK_DAG_CLASS "1970300019"

/* Class of the per-DAG run-start lock: (LOCK_RUNS_CLASS, hashtext(dag_id)). */
#define LOCK_RUNS_CLASS "1970300020"

/* Class of the per-pool lock: (LOCK_POOL_CLASS, hashtext(pool)). */
#define LOCK_POOL_CLASS "1970300021"

#endif
