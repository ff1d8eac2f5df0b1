/*
 * approval: a maintainer's decisions on a series, approve or reject.
 *
 * What `patchq approve` and `patchq reject` (and later the desk) call. An
 * approval applies the series at once when it is complete; otherwise it
 * is recorded and triage applies the series once its missing patches
 * arrive.
 */
#ifndef PQ_APPROVAL_H
#define PQ_APPROVAL_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

/*
 * A maintainer's approval of series id for queue: applies it now when it
 * is complete, else records the approval. Returns as pq_apply_series(),
 * PQ_ENOTFOUND for an unknown series.
 */
int pq_approval_grant(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      long long id, const char *queue, struct pq_buf *report);

/*
 * What a maintainer should know before approving series id: that it is
 * superseded (a newer version of it exists), an RFC, or taken by another
 * tree (elsewhere.h); one sentence each, "; "-separated, into warning
 * (nothing when none). `patchq approve` and the desk refuse such an
 * approval unless forced; pq_approval_grant() itself does not look.
 * Returns 0, PQ_ENOTFOUND for an unknown series, PQ_EDB.
 */
int pq_approval_warnings(struct pq_store *s, long long id, struct pq_buf *warning);

/*
 * Records a maintainer's rejection of series id (on queue, or on every
 * queue it was taken for when queue is NULL) with an optional reason, and
 * withdraws the series' replies not sent yet there (pq_outbox_withdraw():
 * a "please rebase" never goes out after the rejection). Returns 0 or
 * PQ_EDB.
 */
int pq_approval_reject(struct pq_store *s, long long id, const char *queue, const char *reason);

/*
 * As pq_approval_reject(), and in the same transaction a reply to the
 * list with the reason (`patchq reject --reply`), about queue or else the
 * first queue the series was taken for; it goes through the outbox (held
 * with [reply] hold) even where the queue sends no replies. Its id into
 * *reply. Returns 0, PQ_EINVAL (no reason, an unknown queue, a series
 * taken for no queue and no queue given), PQ_ENOTFOUND (no such series or
 * no mail to answer), PQ_EDB.
 */
int pq_approval_reject_reply(struct pq_store *s, const struct pq_config *c, long long id,
			     const char *queue, const char *reason, int64_t now, long long *reply);

#endif
