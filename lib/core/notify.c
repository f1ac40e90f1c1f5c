/*
 * notify.c - see notify.h.
 *
 * libsystemd's sd_notify() does the sending (it reads NOTIFY_SOCKET on
 * each call and returns 0 without it). sd_watchdog_enabled() checks
 * WATCHDOG_PID against our pid, so a variable inherited from a parent does
 * not make us send. The interval is halved as sd_watchdog_enabled(3)
 * advises, so one late turn of the loop does not cost a restart.
 */
#include "core/notify.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "core/log.h"
#include "core/timeutil.h"

static uint64_t g_watchdog_us;          /* 0: no watchdog; set once by notify_init */
static _Atomic int64_t g_last_watchdog; /* monotonic us of the last WATCHDOG=1 */
static atomic_bool g_ready;

void notify_init(void)
{
    uint64_t usec = 0;
    int rc = sd_watchdog_enabled(0, &usec);
    g_watchdog_us = rc > 0 ? usec : 0;
    atomic_store(&g_last_watchdog, ts_mono_us());
    if (g_watchdog_us)
        log_info("service manager watchdog on interval_ms=%" PRIu64, g_watchdog_us / 1000);
}

uint64_t notify_watchdog_usec(void)
{
    return g_watchdog_us;
}

/* Sends "NAME=1" and, when status is set, a STATUS= line after it. */
static void send_state(const char *state, const char *status)
{
    int rc = status ? sd_notifyf(0, "%s\nSTATUS=%s", state, status) : sd_notify(0, state);
    if (rc < 0)
        log_warn("cannot notify the service manager state=%s errno=%d", state, -rc);
}

void notify_ready(const char *status)
{
    if (atomic_exchange(&g_ready, true))
        return;
    send_state("READY=1", status);
}

void notify_status(const char *status)
{
    if (status && sd_notifyf(0, "STATUS=%s", status) < 0)
        log_warn("cannot notify the service manager state=STATUS");
}

void notify_stopping(const char *status)
{
    send_state("STOPPING=1", status);
}

void notify_watchdog(void)
{
    if (!g_watchdog_us)
        return;
    int64_t now = ts_mono_us(), last = atomic_load(&g_last_watchdog);
    if (now - last < (int64_t)(g_watchdog_us / 2))
        return;
    /* one sender per due time, should two threads ever call it */
    if (!atomic_compare_exchange_strong(&g_last_watchdog, &last, now))
        return;
    send_state("WATCHDOG=1", NULL);
}

int notify_wait_ms(int max_ms)
{
    if (!g_watchdog_us)
        return max_ms;
    int64_t due = atomic_load(&g_last_watchdog) + (int64_t)(g_watchdog_us / 2) - ts_mono_us();
    int ms = due <= 0 ? 0 : (int)((due + 999) / 1000);
    return max_ms >= 0 && max_ms < ms ? max_ms : ms;
}
