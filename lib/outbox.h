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

/*
 * SQL on an outbox row called o, so that "not sent" is written once:
 * PQ_OUTBOX_UNSENT holds for a reply still to go (pending, held or not)
 * or to be retried (failed); PQ_OUTBOX_SHOWN is its state as shown, with
 * "held" for a held pending one.
 */
#define PQ_OUTBOX_UNSENT " o.state IN ('pending', 'failed') "
#define PQ_OUTBOX_SHOWN " CASE WHEN o.held AND o.state = 'pending' THEN 'held' ELSE o.state END "

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

/*
 * Withdraws the replies of series id not sent yet (pending, held or not,
 * and failed), on queue or, with queue NULL, on every queue: they are
 * never sent (state withdrawn); a rejection does it. In the caller's
 * transaction; the count into *n (may be NULL). Returns 0 or PQ_EDB.
 */
int pq_outbox_withdraw(struct pq_store *s, long long series, const char *queue, size_t *n);

/*
 * Appends the text of reply id (the whole mail, LF line ends) to out,
 * for a maintainer to edit. Returns 0, PQ_ENOTFOUND, PQ_EPERM when it
 * was sent or withdrawn (no longer to be changed), PQ_EDB.
 */
int pq_outbox_text(struct pq_store *s, long long id, struct pq_buf *out);

/*
 * Replaces the text of reply id (pending or failed) by text, a
 * maintainer's edit of pq_outbox_text()'s: the Subject and the body may
 * change; every other field must stay as it was, byte for byte (From,
 * To, Cc, In-Reply-To, References, Message-ID: the envelope and the
 * thread), a changed Subject is written again through header.c (encoded
 * words, folded). A CR, a control character, invalid UTF-8, a line that is
 * no field, a missing or second Subject are refused. Stored and recorded
 * (token.h: "edit reply" by who at now) in one transaction; *changed is 0
 * when the text is the same (nothing done, nothing recorded). Returns 0,
 * PQ_EINVAL (the edit is refused, with the reason; nothing changed),
 * PQ_EPERM (the reply was sent or withdrawn: nothing changed),
 * PQ_ENOTFOUND, PQ_EDB.
 */
int pq_outbox_edit(struct pq_store *s, long long id, const char *text, const char *who,
		   long long now, int *changed);

/* A reply's mail in the pieces a form edits (the desk's); each malloc'd. */
struct pq_outbox_parts {
	char *subject; /* the Subject, unfolded, encoded words decoded: UTF-8 */
	char *fields;  /* every other header field as stored, in order, LF-ended */
	char *body;    /* what follows the empty line, LF line ends */
};

/*
 * Splits text, a reply's mail (pq_outbox_text()'s), into out (free with
 * pq_outbox_parts_free(), also after a failure). Returns 0, or PQ_EINVAL
 * for a header line that is no field.
 */
int pq_outbox_split(const char *text, struct pq_outbox_parts *out);

void pq_outbox_parts_free(struct pq_outbox_parts *p);

/*
 * pq_outbox_edit() of the mail made of reply id's stored fields but the
 * Subject, subject (one line, UTF-8, as typed: encoded when written) and
 * body (LF line ends): the desk's edit, checked as the CLI's is. A
 * control character in subject is refused here (PQ_EINVAL), the rest by
 * pq_outbox_edit(), whose returns these are.
 */
int pq_outbox_edit_parts(struct pq_store *s, long long id, const char *subject, const char *body,
			 const char *who, long long now, int *changed);

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
