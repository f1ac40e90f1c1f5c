/*
 * channels.h - the Postgres NOTIFY channels that wake updraft's processes,
 * in one place (proto/PROTOCOL.md "Notifications" is the contract).
 *
 * The *_SQL forms splice a channel into statement text; the bare names are
 * for db_listen().
 */
#ifndef UPDRAFT_STORE_CHANNELS_H
#define UPDRAFT_STORE_CHANNELS_H

/* Wakes the schedulers: payload a dag_run id whose tasks changed, or "". */
#define CHANNEL_SCHEDULER "updraft_scheduler"
#define CHANNEL_SCHEDULER_SQL "'updraft_scheduler'"

/* Wakes the alert senders: a callback event or delivery is waiting. */
#define CHANNEL_ALERTS "updraft_alerts"
#define CHANNEL_ALERTS_SQL "'updraft_alerts'"

/* Invalidates the webservers' response caches. */
#define CHANNEL_API "updraft_api"
#define CHANNEL_API_SQL "'updraft_api'"

#endif
