/*
 * sd: what patchqd says to systemd, without libsystemd.
 *
 * Logs go to standard error, one line each; when journald reads it (it
 * sets JOURNAL_STREAM to the device and inode of our stderr) every line
 * starts with its syslog priority, "<3>" and so on, which journald turns
 * into the entry's priority. Readiness, status and watchdog pings go to
 * $NOTIFY_SOCKET as sd_notify(3) datagrams.
 */
#ifndef PQ_SD_H
#define PQ_SD_H

#include <stdint.h>
#include <syslog.h>

/* Decides once whether stderr is journald's; call before logging. */
void pq_log_init(const char *program);

/* Logs one line at prio (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG). */
void pq_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Sends state ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1",
 * "RELOADING=1") to $NOTIFY_SOCKET. Returns 1 when sent, 0 when there is
 * no socket, -1 when sending failed.
 */
int pq_notify(const char *state);

/*
 * The watchdog interval systemd asks for (WatchdogSec=, through
 * WATCHDOG_USEC, for this process when WATCHDOG_PID is set), in
 * microseconds; 0 when there is none.
 */
uint64_t pq_watchdog_usec(void);

/*
 * The sockets systemd handed over (socket activation: LISTEN_FDS for this
 * process, LISTEN_PID), from descriptor 3 on: how many, 0 when none. The
 * variables are removed, so that no child takes them, and the descriptors
 * made close-on-exec.
 */
int pq_listen_fds(void);

#endif
