/*
 * rebuild: a rebuildable queue (rust-dev) made again on its base
 * (rust-next).
 *
 * The series on the queue, in the order they went in, each replaced by its
 * newest complete version, are applied again on the base's tip with the
 * trailers collected since; a series that no longer applies is left out,
 * reported, and failed on the queue with its reason (and so is the older
 * version it was to replace: nothing of either is on the branch any more).
 * Each rebuild is recorded (table rebuild) with what it dropped
 * (rebuild_drop), in the transaction that records its commits. The commits are reproducible, so a rebuild that changes
 * nothing changes no commit id. The base tip of each rebuild is kept in
 * the database, so a restarted daemon rebuilds only what changed.
 */
#ifndef PQ_REBUILD_H
#define PQ_REBUILD_H

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

/*
 * Rebuilds queue on its base and records the base tip it was built on.
 * report gets a line per series. Returns 0 (also when series were left
 * out), PQ_EINVAL for a queue that is not rebuilt, PQ_ERROR when a stop
 * was requested (the branch stays), PQ_EEXISTS when the branch moved
 * meanwhile, PQ_EGIT or PQ_ENOTFOUND for the repository, PQ_EDB.
 */
int pq_rebuild_queue(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		     const char *queue, struct pq_buf *report);

/*
 * Whether queue q needs a rebuild: 1 into *due when its base moved since
 * the last rebuild (or it was never rebuilt), or a series on it has a newer
 * complete version; why (may be NULL) gets the reason. Returns 0, PQ_EDB,
 * or the repository's error.
 */
int pq_rebuild_due(struct pq_store *s, struct pq_repo *repo, const struct pq_queue_conf *q,
		   int *due, struct pq_buf *why);

/*
 * The last recorded rebuild of queue: how many series it dropped (left out
 * because they no longer applied) into *dropped, and, when out is not
 * NULL, the rebuild as JSON: {"queue", "base", "tip", "kept", "rebuilt"
 * (unix time), "dropped": [{"series", "replaced" (id or null), "reason"}],
 * "report" (report, or null)}; {"queue": Q, "rebuilt": null, ...} with no
 * rebuild recorded. Returns 0 or PQ_EDB.
 */
int pq_rebuild_last(struct pq_store *s, const char *queue, const char *report, struct pq_buf *out,
		    size_t *dropped);

#endif
