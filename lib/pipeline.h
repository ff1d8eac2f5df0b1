/*
 * pipeline: one pass over everything that waits, in the order the flow
 * needs it.
 *
 *   recover  what a crash interrupted (when asked: at a daemon's start)
 *   triage   new complete series: dry runs, rules, automatic application
 *   rebuild  rebuildable queues whose base moved or that hold a series
 *            with a newer version (the base tips are kept in the database)
 *   recheck  series waiting for approval on a queue that moved: dry-run
 *            again; one that stopped applying is logged (no mail)
 *   checks   with PQ_PIPELINE_RUN_CHECKS, the checks not run yet on what
 *            waits (a few); then what waited for its checks goes in, or
 *            to a maintainer (checks.h)
 *   outbox   the replies due, when the configuration has [smtp]
 *
 * Each stage reads its work from the database and records its result
 * there, so a pass can be stopped anywhere (stop.h) and the next one goes
 * on. patchqd runs a pass after every batch of mail and on a timer;
 * `patchq run` runs one.
 */
#ifndef PQ_PIPELINE_H
#define PQ_PIPELINE_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "store.h"

enum {
	PQ_PIPELINE_RECOVER = 1 << 0, /* recover first: only where no application can be running */
	PQ_PIPELINE_NO_OUTBOX = 1 << 1, /* leave the replies where they are */
	/* run the checks of what waits (checks.h), at most PQ_PIPELINE_CHECKS
	 * series: `patchq run` does; patchqd runs them on a worker of their own */
	PQ_PIPELINE_RUN_CHECKS = 1 << 2,
};

/* Series checked in one pass with PQ_PIPELINE_RUN_CHECKS. */
#define PQ_PIPELINE_CHECKS 4

struct pq_pipeline_stats {
	size_t rebuilt; /* queues rebuilt */
	size_t sent;	/* replies delivered */
	size_t retry;	/* replies that failed for now */
	size_t failed;	/* replies refused for good */
};

/*
 * Runs one pass on c's repository (opened for the pass) at time now (for
 * the outbox). report gets what each stage did, a line per series, queue or
 * reply; a rebuild that fails is reported there and the pass goes on.
 * stats may be NULL. Returns 0, PQ_EDB, or the error that stopped the pass
 * (the repository cannot be opened; recovery failed).
 */
int pq_pipeline_run(struct pq_store *s, const struct pq_config *c, unsigned flags, int64_t now,
		    struct pq_buf *report, struct pq_pipeline_stats *stats);

#endif
