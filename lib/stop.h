/*
 * stop: a process-wide request to end long passes early.
 *
 * A daemon told to stop asks for it once; the passes that loop over many
 * series (triage, rebuild, the outbox) look at it between two series and
 * end there, leaving everything consistent (a rebuild then moves nothing).
 *
 * Network waits that may be cut short at any moment (reading mail over
 * IMAP, which repeats nothing and loses nothing when cut) register their
 * socket here: the stop request shuts them down, so a read blocked on a
 * silent server returns at once instead of after its timeout.
 */
#ifndef PQ_STOP_H
#define PQ_STOP_H

/*
 * Asks every pass in every thread to end after the item at hand, and shuts
 * down (shutdown(2), both ways) every socket registered with
 * pq_stop_watch_fd(); there is no undoing it. Call it from a thread, not
 * from an asynchronous signal handler (it takes a lock).
 */
void pq_stop_request(void);

/* 1 once pq_stop_request() was called. */
int pq_stop_requested(void);

/*
 * Registers the connected (or connecting) socket fd: pq_stop_request()
 * shuts it down. When the stop was already requested it is shut down at
 * once. The caller must pq_stop_unwatch_fd() it before closing it (else a
 * later stop could hit another file that reused the number).
 */
void pq_stop_watch_fd(int fd);

/* Forgets fd (nothing when it was not registered). */
void pq_stop_unwatch_fd(int fd);

#endif
