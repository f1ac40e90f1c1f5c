/*
 * notify.h - telling the service manager how the daemon is doing (the
 * sd_notify protocol of systemd's Type=notify units, through libsystemd).
 *
 * Every function is a no-op when the process was not started with
 * NOTIFY_SOCKET set (not under systemd, or a unit without Type=notify), so
 * the daemons call them unconditionally.
 *
 *   READY=1     once the daemon is usable: connected to what it needs and,
 *               for the webserver, listening (notify_ready);
 *   STATUS=...  one line shown by `systemctl status` (notify_status);
 *   WATCHDOG=1  sent by the daemon's own main loop (notify_watchdog) at
 *               half the interval the unit's WatchdogSec= gives: a loop
 *               that stops turning stops sending it and systemd restarts
 *               the service after WatchdogSec=;
 *   STOPPING=1  when a stop begins (notify_stopping).
 *
 * State: the watchdog interval read once by notify_init and the time of the
 * last WATCHDOG=1 (atomic), process-wide like the logger, since the
 * service manager talks to the process. Safe to call from any thread.
 */
#ifndef UPDRAFT_NOTIFY_H
#define UPDRAFT_NOTIFY_H

#include <stdint.h>

/*
 * Reads NOTIFY_SOCKET and the watchdog settings (WATCHDOG_USEC, and
 * WATCHDOG_PID when set must be this process). Call once in main before
 * any thread starts. Children started later do not need these variables:
 * the worker leaves them out of task environments (envname.h).
 */
void notify_init(void);

/* READY=1 with STATUS=status (NULL: none); only the first call sends. */
void notify_ready(const char *status);

/* STATUS=status. */
void notify_status(const char *status);

/* STOPPING=1 with STATUS=status (NULL: none). */
void notify_stopping(const char *status);

/*
 * WATCHDOG=1 when half the watchdog interval has passed since the last
 * one; cheap otherwise. Call it from each turn of the loop whose progress
 * proves the daemon alive, never from a timer of its own.
 */
void notify_watchdog(void);

/*
 * The longest a loop may wait before its next notify_watchdog call:
 * max_ms capped by the time until a WATCHDOG=1 is due (0 when due now).
 * max_ms < 0 means no limit of the caller's own (then -1 without a
 * watchdog, as poll() takes it).
 */
int notify_wait_ms(int max_ms);

/* The watchdog interval in microseconds, 0 when there is none. */
uint64_t notify_watchdog_usec(void);

#endif
