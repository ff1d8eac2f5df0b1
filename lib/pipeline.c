/* pipeline: one pass over everything that waits (see pipeline.h). */
#include "pipeline.h"

#include <string.h>

#include "apply.h"
#include "checks.h"
#include "error.h"
#include "outbox.h"
#include "rebuild.h"
#include "recover.h"
#include "repo.h"
#include "stop.h"
#include "triage.h"

/* Rebuilds each rebuildable queue that is due; a failure is reported and the others go on. */
static int rebuild_due(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		       struct pq_buf *report, struct pq_pipeline_stats *stats)
{
	struct pq_buf why = PQ_BUF_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; i < c->nqueues && ret != PQ_EDB && !pq_stop_requested(); i++) {
		const struct pq_queue_conf *q = &c->queues[i];
		int due;

		pq_buf_reset(&why);
		ret = pq_rebuild_due(s, repo, q, &due, &why);
		if (ret == 0 && !due)
			continue;
		if (ret == 0) {
			pq_buf_addf(report, "%s: rebuild due: %s\n", q->name, pq_buf_str(&why));
			ret = pq_rebuild_queue(s, c, repo, q->name, report);
			stats->rebuilt += ret == 0;
		}
		if (ret < 0 && ret != PQ_EDB)
			pq_buf_addf(report, "rebuild of %s: %s\n", q->name, pq_error_last());
	}
	pq_buf_free(&why);
	return ret == PQ_EDB ? ret : 0;
}

int pq_pipeline_run(struct pq_store *s, const struct pq_config *c, unsigned flags, int64_t now,
		    struct pq_buf *report, struct pq_pipeline_stats *stats)
{
	struct pq_pipeline_stats none;
	struct pq_repo *repo = NULL;
	int ret;

	if (!stats)
		stats = &none;
	memset(stats, 0, sizeof(*stats));
	if ((ret = pq_repo_open(&repo, c->repository)) < 0)
		return ret;
	if (flags & PQ_PIPELINE_RECOVER)
		ret = pq_recover_run(s, c, repo, report);
	if (ret == 0)
		ret = pq_triage_run(s, c, repo, report);
	if (ret == 0)
		ret = rebuild_due(s, c, repo, report, stats);
	/* a queue that moved: what waits there for approval may no longer apply */
	if (ret == 0)
		ret = pq_apply_recheck_waiting(s, c, repo, report);
	/* the checks: what waits for them goes in or to a maintainer; with the
	 * flag, those not run yet run here (patchqd runs them elsewhere) */
	if (ret == 0 && c->nchecks && (flags & PQ_PIPELINE_RUN_CHECKS)) {
		int n = pq_checks_pass(s, c, repo, PQ_PIPELINE_CHECKS, NULL, report);

		ret = n < 0 ? n : 0;
	}
	if (ret == 0 && c->nchecks)
		ret = pq_checks_settle(s, c, repo, report);
	pq_repo_free(repo);
	/* the replies the applications wrote, and those due for another try */
	if (ret == 0 && c->has_smtp && !(flags & PQ_PIPELINE_NO_OUTBOX)) {
		struct pq_outbox_stats ost;

		ret = pq_outbox_send(s, c, now, 0, 0, report, &ost);
		stats->sent = ost.sent;
		stats->retry = ost.retry;
		stats->failed = ost.failed;
	}
	return ret;
}
