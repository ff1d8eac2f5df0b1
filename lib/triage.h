/*
 * triage: where each new complete series goes.
 *
 * A pipeline stage: every complete series still new that something
 * arrived for since the last look (and that is not approved or being
 * applied somewhere already) is dry-run against every queue, the
 * rules (rules.h) pick its queues, and it is applied at once where the
 * rule lets it in automatically. A series only waiting for approval
 * that something arrived for (a review) is looked at again for the
 * queues its rules add now; the queues it is on keep their state.
 * Approvals that waited for missing patches are applied once the series
 * is complete.
 */
#ifndef PQ_TRIAGE_H
#define PQ_TRIAGE_H

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

/*
 * One triage pass. report gets a line per series. A series whose rules
 * input or dry run hit a repository error waits for the next pass (the
 * error is in report) rather than being decided on. Returns 0 or PQ_EDB;
 * stops after the series at hand when a stop was requested (stop.h).
 */
int pq_triage_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		  struct pq_buf *report);

/*
 * Why series id goes where it goes, into report. As text: where another
 * tree took it, one line per rule (which condition failed, or that it
 * matched) and a "=> queue ..." line per queue chosen (applied
 * automatically, waits for approval, frozen, or held by the merge
 * window). With json: {"queues": [{"queue": NAME, "rule": NAME,
 * "automatic": BOOL}] (empty when no rule takes it, or it was taken
 * elsewhere), "taken_elsewhere": TREE or null, "held": REASON (the first
 * queue's whose automatic intake waits) or null, "rules": [{"rule": NAME,
 * "matches": BOOL, "reason": TEXT}] (every rule, in order)}. Returns 0,
 * PQ_ENOTFOUND, PQ_EDB or the repository's error.
 */
int pq_triage_explain(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      long long id, int json, struct pq_buf *report);

#endif
