/*
 * apply: a series onto a queue, recorded so that a crash at any point is
 * completed or undone by the next run.
 *
 * The commits are composed from the mail (am.c: subject without prefix,
 * body, the patch's own and the collected trailers, Link:, the
 * maintainer's Signed-off-by) and made by the libgit2 applier
 * (applier.h). Before the branch moves, the intent (series, queue, old
 * tip) is committed to the database; after, what landed (Message-ID to
 * commit) and the reply to the list. recover.c finds an intent left by a
 * crash and recomputes the commits (they are reproducible).
 *
 * The policy modules (triage, approval, rebuild, recover) build on the
 * plan calls below; the shells call pq_apply_series() and pq_apply_check().
 */
#ifndef PQ_APPLY_H
#define PQ_APPLY_H

#include <stdint.h>

#include "am.h"
#include "applier.h"
#include "buf.h"
#include "config.h"
#include "repo.h"
#include "series.h"
#include "store.h"

/*
 * Applies series id to queue (or only checks, with dry_run). report gets
 * one line per patch (commit id and how it applied) or the reason it does
 * not apply (file and hunk). Returns 0 when applied (or would apply),
 * PQ_EGIT when a patch does not apply (branch untouched, failure recorded
 * unless dry_run), PQ_EINVAL for a frozen or unknown queue or an
 * incomplete series, PQ_ENOTFOUND when neither the queue's branch nor its
 * base exists, PQ_EEXISTS when the branch moved meanwhile (the series
 * stays approved, to try again), PQ_EDB.
 */
int pq_apply_series(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		    long long id, const char *queue, int dry_run, struct pq_buf *report);

/*
 * Dry-runs series id against every queue that is not frozen and records
 * each result (tip, ok, error). report gets a line per queue. Returns 0,
 * PQ_EINVAL for an incomplete series (nothing recorded), PQ_EDB, or the
 * repository's error when a queue's tip cannot be read (no verdict is
 * recorded on a failure that is not the series').
 */
int pq_apply_check(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		   long long id, struct pq_buf *report);

/*
 * When a queue moved: every complete series waiting there for approval
 * whose last dry run applied on another tip is dry-run again on the tip
 * and the result recorded (the to-do's "stopped applying"); one that no
 * longer applies gets a line in report (the daemon's log), and no reply
 * to the list. A stop request (stop.h) ends it early. Returns 0, PQ_EDB,
 * or the repository's error.
 */
int pq_apply_recheck_waiting(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			     struct pq_buf *report);

/* The tip of q's branch, or of its base when the branch does not exist yet. As pq_repo_tip(). */
int pq_apply_tip(struct pq_repo *repo, const struct pq_queue_conf *q, char tip[41]);

/* q named queue when it exists and is not frozen; else NULL with the error set (PQ_EINVAL). */
const struct pq_queue_conf *pq_apply_target(const struct pq_config *c, const char *queue);

/* ---- for the policy modules ---- */

/* The commits a series becomes, ready for the applier. */
struct pq_apply_plan {
	struct pq_series *series;
	struct pq_am_patch *am;
	struct pq_applier_patch *patches;
	struct pq_applier_result *results;
	struct pq_buf *messages;
	size_t n;
	char signoff[512];
	char tip[41];	       /* where the branch goes: the last commit, or the merge */
	struct pq_buf failure; /* "[3/7] title: FILE, hunk H: REASON" (pq_apply_plan_error) */
};

/* How pq_apply_plan_run() treats the branch. */
enum pq_apply_mode {
	PQ_APPLY_MOVE,	/* apply and move the branch */
	PQ_APPLY_CHECK, /* dry run: nothing written */
	PQ_APPLY_CHAIN, /* write the commits, leave the branch (a rebuild moves it at the end) */
};

/*
 * The plan of series id with the trailers of messages up to upto (0: all).
 * Returns 0, PQ_EINVAL for an incomplete series or a patch without a diff,
 * PQ_ENOTFOUND, PQ_EDB. Free with pq_apply_plan_free() whatever it returned.
 */
int pq_apply_plan_load(struct pq_store *s, const struct pq_config *c, long long id, long long upto,
		       struct pq_apply_plan *p);
void pq_apply_plan_free(struct pq_apply_plan *p);

/*
 * Applies plan p (series id) to queue q on tip, in mode. Where it does not
 * apply there and the queue takes base-commits, it is applied on the
 * base-commit the series names and merged onto tip (as b4 shazam --merge
 * does); report (may be NULL) says so. Returns as pq_applier_run().
 */
int pq_apply_plan_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      const struct pq_queue_conf *q, long long id, const char *tip,
		      struct pq_apply_plan *p, enum pq_apply_mode mode, struct pq_buf *report);

/*
 * Why p did not apply, fit for the list: the first patch that failed as
 * "[3/7] title: " and its result's error; NULL when no patch failed (a
 * merge conflict or a repository error: pq_error_last() says). Borrowed
 * from p.
 */
const char *pq_apply_plan_error(const struct pq_apply_plan *p);

/* Every Message-ID of p to its commit on queue, and the series applied; in the caller's
 * transaction. Returns 0 or PQ_EDB. */
int pq_apply_record_rows(struct pq_store *s, const char *queue, const struct pq_apply_plan *p);

/* In one transaction: pq_apply_record_rows() and the reply to the list. Returns 0 or PQ_EDB. */
int pq_apply_record_applied(struct pq_store *s, const struct pq_config *c, const char *queue,
			    const struct pq_apply_plan *p);

/*
 * The reply telling the list that series se does not apply to queue at
 * tip (why: file and hunk): only for a series the rule that chose queue
 * applies automatically (one waiting for a maintainer's approval gets no
 * mail), never for the maintainer's own series (pq_apply_own_series()),
 * once per series; in the caller's transaction. Returns 0 or PQ_EDB.
 */
int pq_apply_reply_failure(struct pq_store *s, const struct pq_config *c, const char *queue,
			   const struct pq_series *se, const char *why, const char *tip);

/*
 * A maintainer asks for the "please rebase" reply of series id on queue
 * (`patchq reply rebase`): composed from its failure there, or its latest
 * failed dry run, and put in the outbox (held with [reply] hold) even
 * where the queue sends no replies; its id into *reply. Returns 0,
 * PQ_EINVAL (an unknown queue; the series is the maintainer's own; it did
 * not fail there), PQ_EEXISTS (it already has one for that queue),
 * PQ_ENOTFOUND (no such series, or no mail to answer), PQ_EDB.
 */
int pq_apply_reply_rebase(struct pq_store *s, const struct pq_config *c, long long id,
			  const char *queue, int64_t now, long long *reply);

/* 1 when series se was sent by the maintainer (the reply's From or the committer). */
int pq_apply_own_series(const struct pq_config *c, const struct pq_series *se);

#endif
