/*
 * outbox: the replies waiting to leave, and their delivery.
 *
 * pq_reply_record() puts a reply in the outbox in the transaction of the
 * application it tells of. Delivery takes the due ones, oldest first, and
 * marks one sent only after the server accepted it (a crash in between
 * sends it once more, with the same Message-ID). A temporary failure (4xx,
 * the network) is retried later, the wait doubling from a minute to six
 * hours; a permanent one (5xx) is recorded with the server's words, shown,
 * and never retried in a loop.
 */
#ifndef PQ_OUTBOX_H
#define PQ_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "store.h"

struct pq_outbox_stats {
	size_t sent;	/* accepted by the server (or written, for a dry run) */
	size_t retry;	/* failed for now, tried again later */
	size_t failed;	/* refused for good */
	size_t waiting; /* pending and not due yet (left alone) */
};

/*
 * Delivers the pending replies due at now (every pending one with force)
 * through c->smtp: the SMTP server, the sendmail program, or, for a dry
 * run, the maildir (each written to new/ and marked sent). At most max
 * (0: all); a stop request (stop.h) ends it after the reply at hand.
 * report gets a line per reply. Returns 0, PQ_EINVAL when the
 * configuration has no [smtp], PQ_EDB.
 */
int pq_outbox_send(struct pq_store *s, const struct pq_config *c, int64_t now, int force,
		   size_t max, struct pq_buf *report, struct pq_outbox_stats *stats);

/*
 * Makes the failed reply id pending again, due at once: after the cause
 * of a permanent failure was fixed (a configuration, an address). Returns
 * 0, PQ_ENOTFOUND when there is no failed reply id, PQ_EDB.
 */
int pq_outbox_retry(struct pq_store *s, long long id);

/*
 * Holds (hold 1) the pending reply id: it is not sent until released; or
 * releases (hold 0) the held reply id: it goes with the next send. Returns
 * 0, PQ_ENOTFOUND when there is no such pending reply (not held, or held),
 * PQ_EDB.
 */
int pq_outbox_hold(struct pq_store *s, long long id, int hold);

/*
 * A maintainer's action on reply id, from the CLI or the desk: what is
 * "retry" (pq_outbox_retry()), "hold" or "release" (pq_outbox_hold()),
 * done and recorded (token.h) on the reply's series as "WHAT reply" by
 * who at now. Returns 0, PQ_EINVAL for another what, PQ_ENOTFOUND (no
 * such reply in a state the action applies to: nothing done), PQ_EDB.
 */
int pq_outbox_act(struct pq_store *s, long long id, const char *what, const char *who,
		  long long now);

/* A page of the outbox: the replies older than after (0: from the newest), at most limit. */
struct pq_outbox_page {
	long long after;
	int limit; /* at least 1 */
};

/*
 * The replies (id, series, queue, kind, Message-ID, state, attempts,
 * error...) appended to out as text lines or a JSON array: with pg NULL
 * every reply, oldest first; with pg one page, newest first, and *next
 * (when not NULL) the id to pass as the next page's after, 0 on the last
 * page. Returns 0 or PQ_EDB (out may hold part of the list).
 */
int pq_outbox_list(struct pq_store *s, const struct pq_outbox_page *pg, struct pq_buf *out,
		   int json, long long *next);

/*
 * What would go to the list for series id now: its pending or sent
 * replies as stored, and, for each queue holding it applied without a
 * reply, the reply as it would be composed now (with the trailers that
 * arrived since). Returns 0, PQ_ENOTFOUND, PQ_EDB.
 */
int pq_outbox_preview(struct pq_store *s, const struct pq_config *c, long long id,
		      struct pq_buf *out);

#endif
