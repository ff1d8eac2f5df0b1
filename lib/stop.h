/*
 * stop: a process-wide request to end long passes early.
 *
 * A daemon told to stop asks for it once; the passes that loop over many
 * series (triage, rebuild, the outbox) look at it between two series and
 * end there, leaving everything consistent (a rebuild then moves nothing).
 */
#ifndef PQ_STOP_H
#define PQ_STOP_H

/* Asks every pass in every thread to end after the item at hand; there is no undoing it. */
void pq_stop_request(void);

/* 1 once pq_stop_request() was called. */
int pq_stop_requested(void);

#endif
