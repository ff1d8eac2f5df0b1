/*
 * apply: a series onto a queue, recorded so that a crash at any point is
 * completed or undone by the next run.
 *
 * The commits are composed from the mail (am.c: subject without prefix,
 * body, the patch's own and the collected trailers, Link:, the
 * maintainer's Signed-off-by) and applied by queue.c. Before the branch
 * moves, the intent (series, queue, old tip) is committed to the
 * database; after, what landed (Message-ID to commit). A run that finds
 * an intent left by a crash recomputes the commits (they are reproducible)
 * and records them if the branch already holds them.
 */
#ifndef PQ_APPLY_H
#define PQ_APPLY_H

#include "buf.h"
#include "config.h"
#include "store.h"

/*
 * Applies series id to queue (or only checks, with dry_run). report gets
 * one line per patch (commit id and how it applied) or the reason it does
 * not apply (file and hunk). Returns 0 when applied (or would apply),
 * PQ_EGIT when a patch does not apply (branch untouched, failure recorded
 * unless dry_run), PQ_EINVAL for a frozen or unknown queue or an
 * incomplete series, PQ_EEXISTS when the branch moved meanwhile, PQ_EDB.
 */
int pq_apply_series(struct pq_store *s, const struct pq_config *c, long long id, const char *queue,
		    int dry_run, struct pq_buf *report);

/*
 * Dry-runs series id against every queue that is not frozen and records
 * each result (tip, ok, error). report gets a line per queue.
 */
int pq_apply_check(struct pq_store *s, const struct pq_config *c, long long id,
		   struct pq_buf *report);

/* Completes or clears the applications a crash interrupted. */
int pq_apply_recover(struct pq_store *s, const struct pq_config *c, struct pq_buf *report);

/*
 * Rebuilds a rebuildable queue (rust-dev) on its base (rust-next): the
 * series on it, in the order they went in, each replaced by its newest
 * complete version, are applied again on the base's tip with the trailers
 * collected since; a series that no longer applies is left out and
 * reported. The commits are reproducible, so a rebuild that changes
 * nothing changes no commit id. report gets a line per series.
 */
int pq_apply_rebuild(struct pq_store *s, const struct pq_config *c, const char *queue,
		     struct pq_buf *report);

/* 1 when a series applied to queue has a newer complete version (a rebuild takes it). */
int pq_apply_outdated(struct pq_store *s, const char *queue);

/*
 * Triage of every complete series still new: dry-runs it against every
 * queue, lets the rules pick its queue (queued, with the rule's name; a
 * frozen queue rejects it with a reason), and applies it at once where the
 * rule says it may go in automatically. report gets a line per series.
 */
int pq_apply_triage(struct pq_store *s, const struct pq_config *c, struct pq_buf *report);

/*
 * A maintainer's approval of series id for queue: applies it now when it
 * is complete, else records the approval, and triage applies it once the
 * missing patches arrive. Returns as pq_apply_series().
 */
int pq_apply_approve(struct pq_store *s, const struct pq_config *c, long long id, const char *queue,
		     struct pq_buf *report);

/* Records a maintainer's rejection of series id (on queue, or on every
 * queue when queue is NULL) with an optional reason. */
int pq_apply_reject(struct pq_store *s, long long id, const char *queue, const char *reason);

/*
 * Asks the passes running in any thread (triage, rebuild) to stop after
 * the series at hand, leaving everything consistent (a rebuild then moves
 * nothing): for a daemon that was told to stop. There is no undoing it.
 */
void pq_apply_stop(void);

#endif
