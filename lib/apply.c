/* apply: series onto queues, with crash recovery (see apply.h). */
#include "apply.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "am.h"
#include "crash.h"
#include "error.h"
#include "ingest.h"
#include "queue.h"
#include "reply.h"
#include "rules.h"
#include "series.h"

/* The commits a series becomes, ready for queue.c. */
struct plan {
	struct pq_series *series;
	struct pq_am_patch *am;
	struct pq_queue_patch *patches;
	struct pq_queue_result *results;
	struct pq_buf *messages;
	size_t n;
	char signoff[512];
	char tip[41]; /* where the branch goes: the last commit, or the merge */
};

static void plan_free(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		pq_am_patch_free(&p->am[i]);
		pq_buf_free(&p->messages[i]);
		free(p->results[i].error);
	}
	free(p->am);
	free(p->patches);
	free(p->results);
	free(p->messages);
	pq_series_free(p->series);
	memset(p, 0, sizeof(*p));
}

static void committer_date(const struct pq_config *c, const struct pq_am_patch *a, int64_t *t,
			   int *off)
{
	switch (c->committer_date) {
	case PQ_DATE_FIXED:
		*t = c->fixed_date;
		*off = 0;
		break;
	case PQ_DATE_MAIL:
		*t = a->mail.date_valid ? a->mail.date : a->time;
		*off = a->mail.date_valid ? a->mail.date_offset : a->offset;
		break;
	case PQ_DATE_AUTHOR:
		*t = a->time;
		*off = a->offset;
		break;
	}
}

static int plan_load(struct pq_store *s, const struct pq_config *c, long long id, long long upto,
		     struct plan *p)
{
	struct pq_am_options ao = { 0 };
	size_t i;
	int ret;

	memset(p, 0, sizeof(*p));
	if ((ret = pq_series_load_upto(s, id, upto, &p->series)) < 0)
		return ret;
	if (!p->series->complete)
		return pq_error_set(PQ_EINVAL, "series %lld is incomplete: %d of %d patches", id,
				    p->series->received, p->series->total);
	snprintf(p->signoff, sizeof(p->signoff), "%s <%s>", c->committer_name, c->committer_email);
	ao.signoff = c->signoff ? p->signoff : NULL;
	ao.link = c->link;
	p->am = pq_calloc(p->series->npatches, sizeof(*p->am));
	p->patches = pq_calloc(p->series->npatches, sizeof(*p->patches));
	p->results = pq_calloc(p->series->npatches, sizeof(*p->results));
	p->messages = pq_calloc(p->series->npatches, sizeof(*p->messages));
	for (i = 0; i < p->series->npatches; i++) {
		const struct pq_series_patch *sp = &p->series->patches[i];
		struct pq_queue_patch *qp = &p->patches[i];
		struct pq_am_patch *a = &p->am[i];

		if ((ret = pq_am_patch_load(s, sp, &ao, a)) < 0)
			return ret;
		p->n = i + 1;
		if (!a->patch.diff.len)
			return pq_error_set(PQ_EINVAL, "<%s> carries no diff", sp->msgid);
		pq_buf_addf(&p->messages[i], "%s\n\n%s", a->title, pq_buf_str(&a->message));
		pq_buf_rtrim(&p->messages[i]);
		pq_buf_addc(&p->messages[i], '\n');
		qp->msgid = sp->msgid;
		qp->author_name = sp->author;
		qp->author_email = sp->email;
		qp->author_time = a->time;
		qp->author_offset = a->offset;
		committer_date(c, a, &qp->committer_time, &qp->committer_offset);
		qp->message = p->messages[i].ptr;
		qp->diff = a->patch.diff.ptr;
		qp->diff_len = a->patch.diff.len;
	}
	return 0;
}

/* Set by pq_apply_stop(): long passes end after the series at hand. */
static atomic_int stop_asked;

void pq_apply_stop(void)
{
	atomic_store(&stop_asked, 1);
}

static int stopping(void)
{
	return atomic_load(&stop_asked);
}

/* How run_queue treats the branch. */
enum run_mode {
	RUN_MOVE,  /* apply and move the branch */
	RUN_CHECK, /* dry run: nothing written */
	RUN_CHAIN, /* write the commits, leave the branch (a rebuild moves it at the end) */
};

static int run_queue(const struct pq_config *c, const struct pq_queue_conf *q, const char *base,
		     struct plan *p, enum run_mode mode, const char *merge_onto,
		     const char *merge_message)
{
	struct pq_queue_opts o = {
		.committer_name = c->committer_name,
		.committer_email = c->committer_email,
		.git_fallback = c->git_fallback,
		.dry_run = mode != RUN_MOVE,
		.keep_objects = mode == RUN_CHAIN,
		.merge_onto = merge_onto,
		.merge_message = merge_message,
	};
	const struct pq_queue_result *last;
	int ret = pq_queue_apply(c->repository, q->branch, base, p->patches, p->n, &o, p->results);

	last = &p->results[p->n - 1];
	snprintf(p->tip, sizeof(p->tip), "%s", last->merge[0] ? last->merge : last->commit);
	return ret;
}

/* The base-commit: the series names (its cover's, else a patch's), or NULL. */
static char *series_base_commit(struct pq_store *s, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT base_commit FROM message WHERE series_id = ?"
					    " AND base_commit IS NOT NULL ORDER BY idx LIMIT 1");
	char *base = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		base = pq_strdup(pq_store_col_text(st, 0));
	sqlite3_reset(st);
	return base;
}

/*
 * Applies plan p (series id) to queue q on tip, as run_queue. Where it
 * does not apply there and the queue takes base-commits, it is applied on
 * the base-commit the series names and merged onto tip instead (as b4
 * shazam --merge does); report (may be NULL) says so.
 */
static int run_series(struct pq_store *s, const struct pq_config *c, const struct pq_queue_conf *q,
		      long long id, const char *tip, struct plan *p, enum run_mode mode,
		      struct pq_buf *report)
{
	struct pq_buf msg = PQ_BUF_INIT;
	struct pq_queue_result *on_tip, *swap;
	const char *first;
	char *base;
	size_t i;
	int ret = run_queue(c, q, tip, p, mode, NULL, NULL);

	if (ret != PQ_EGIT || !q->use_base_commit || !tip || !(base = series_base_commit(s, id)))
		return ret;
	first = p->series->cover_msgid ? p->series->cover_msgid : p->patches[0].msgid;
	pq_buf_addf(&msg, "Merge series \"%s\" (v%d) from %s <%s>\n\n",
		    p->series->name ? p->series->name : "", p->series->version,
		    p->series->submitter_name ? p->series->submitter_name : "",
		    p->series->submitter ? p->series->submitter : "");
	pq_buf_addf(&msg,
		    "It does not apply on %.12s; it was applied on its base-commit\n%s and "
		    "merged.\n\nLink: ",
		    tip, base);
	pq_buf_addf(&msg, c->link, first ? first : "");
	pq_buf_addc(&msg, '\n');
	/* the results on tip stay the story unless the base-commit works */
	on_tip = p->results;
	p->results = pq_calloc(p->n, sizeof(*p->results));
	ret = run_queue(c, q, base, p, mode, tip, msg.ptr);
	if (ret == 0) {
		swap = on_tip;
		if (report)
			pq_buf_addf(report,
				    "  applied on its base-commit %.12s, merged onto %.12s\n", base,
				    tip);
	} else {
		swap = p->results;
		p->results = on_tip;
		if (report)
			pq_buf_addf(report, "  not on its base-commit %.12s either: %s\n", base,
				    pq_error_last());
		if (ret == PQ_ENOTFOUND) /* a base-commit the repository lacks */
			ret = PQ_EGIT;
	}
	for (i = 0; i < p->n; i++)
		free(swap[i].error);
	free(swap);
	free(base);
	pq_buf_free(&msg);
	return ret;
}

static void report_results(struct pq_buf *report, const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct pq_queue_result *r = &p->results[i];

		if (r->error)
			pq_buf_addf(report, "  [%d/%d] %s\n        does not apply: %s\n",
				    p->series->patches[i].index, p->series->total, p->am[i].title,
				    r->error);
		else if (r->commit[0])
			pq_buf_addf(report, "  [%d/%d] %s\n        %.12s%s\n",
				    p->series->patches[i].index, p->series->total, p->am[i].title,
				    r->commit, r->path == PQ_APPLY_GIT ? " (git apply)" : "");
	}
}

static const char *first_error(const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->results[i].error)
			return p->results[i].error;
	return NULL;
}

static int set_state(struct pq_store *s, long long id, const char *queue, const char *state,
		     const char *reason, const char *tip, long long seen)
{
	sqlite3_stmt *st = pq_store_stmt(
		s,
		"INSERT INTO series_queue (series_id, queue, state, reason, tip, seen, updated)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6) ON CONFLICT (series_id, queue) DO UPDATE SET"
		" state = ?3, reason = ?4, tip = ?5, seen = ?7, updated = ?6");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	pq_store_bind_text(st, 3, state);
	pq_store_bind_text(st, 4, reason);
	pq_store_bind_text(st, 5, tip);
	sqlite3_bind_int64(st, 6, (long long)time(NULL));
	if (seen)
		sqlite3_bind_int64(st, 7, seen);
	return pq_store_step_done(s, st);
}

static int series_state(struct pq_store *s, long long id, const char *state)
{
	sqlite3_stmt *st = pq_store_stmt(s, "UPDATE series SET state = ? WHERE id = ?");

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, id);
	return pq_store_step_done(s, st);
}

static int rule_name(struct pq_store *s, long long id, const char *queue, const char *rule)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "UPDATE series_queue SET rule = ? WHERE series_id = ? AND queue = ?");

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, rule);
	sqlite3_bind_int64(st, 2, id);
	pq_store_bind_text(st, 3, queue);
	return pq_store_step_done(s, st);
}

/* One transaction: the state change alone. */
static int record_state(struct pq_store *s, long long id, const char *queue, const char *state,
			const char *reason, const char *tip, long long seen)
{
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	if ((ret = set_state(s, id, queue, state, reason, tip, seen)) < 0) {
		pq_store_rollback(s);
		return ret;
	}
	return pq_store_commit(s);
}

/* Every Message-ID of p to its commit, and the series applied. */
static int record_applied_rows(struct pq_store *s, const char *queue, const struct plan *p)
{
	sqlite3_stmt *st;
	size_t i;
	int ret;

	for (i = 0; i < p->n; i++) {
		st = pq_store_stmt(s,
				   "INSERT INTO application (queue, series_id, message_id, msgid,"
				   " commit_id, path, applied, seen) VALUES (?, ?, ?, ?, ?, ?, ?,"
				   " (SELECT coalesce(max(id), 0) FROM message))");
		if (!st)
			return PQ_EDB;
		pq_store_bind_text(st, 1, queue);
		sqlite3_bind_int64(st, 2, p->series->id);
		sqlite3_bind_int64(st, 3, p->series->patches[i].id);
		pq_store_bind_text(st, 4, p->series->patches[i].msgid);
		pq_store_bind_text(st, 5, p->results[i].commit);
		pq_store_bind_text(st, 6,
				   p->results[i].path == PQ_APPLY_GIT ? "git-apply" : "libgit2");
		sqlite3_bind_int64(st, 7, (long long)time(NULL));
		if ((ret = pq_store_step_done(s, st)) < 0)
			return ret;
	}
	if ((ret = set_state(s, p->series->id, queue, "applied", NULL, NULL, 0)) < 0)
		return ret;
	return series_state(s, p->series->id, "applied");
}

/* Whether a rule (not a maintainer by hand) sent series id to queue. */
static int sent_by_rule(struct pq_store *s, long long id, const char *queue)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT count(*) FROM series_queue WHERE series_id = ?"
					    " AND queue = ? AND rule IS NOT NULL");

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	return pq_store_scalar(st) > 0;
}

/*
 * The reply telling the list that series se does not apply to queue (at
 * tip): only for a queue a rule chose, once per series; in the caller's
 * transaction.
 */
static int reply_failure(struct pq_store *s, const struct pq_config *c, const char *queue,
			 const struct pq_series *se, const char *why, const char *tip)
{
	struct pq_reply_about a = { .queue = queue, .series = se, .failure = why, .tip = tip };

	if (!sent_by_rule(s, se->id, queue))
		return 0;
	a.now = (int64_t)time(NULL);
	return pq_reply_record(s, c, &a);
}

/* One transaction: the series did not apply to queue at tip, why, and the reply. */
static int record_failure(struct pq_store *s, const struct pq_config *c, const char *queue,
			  const struct plan *p, const char *why, const char *tip)
{
	long long id = p->series->id;
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	if ((ret = set_state(s, id, queue, "failed", why, NULL, 0)) < 0 ||
	    (ret = series_state(s, id, "failed")) < 0 ||
	    (ret = reply_failure(s, c, queue, p->series, why, tip)) < 0) {
		pq_store_rollback(s);
		return ret;
	}
	return pq_store_commit(s);
}

/*
 * One transaction: every Message-ID to its commit, the new states, and
 * the reply to the list.
 */
static int record_applied(struct pq_store *s, const struct pq_config *c, const char *queue,
			  const struct plan *p)
{
	struct pq_reply_patch *rp = pq_calloc(p->n ? p->n : 1, sizeof(*rp));
	struct pq_reply_about a = { .queue = queue, .series = p->series, .patches = rp, .n = p->n };
	size_t i;
	int ret;

	for (i = 0; i < p->n; i++) {
		rp[i].index = p->series->patches[i].index;
		rp[i].title = p->am[i].title;
		rp[i].commit = p->results[i].commit;
	}
	a.now = (int64_t)time(NULL);
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	/* the plan's trailers are those the commits saw: none arrived later */
	a.seen = pq_ingest_last_message(s);
	if ((ret = record_applied_rows(s, queue, p)) < 0 || (ret = pq_reply_record(s, c, &a)) < 0) {
		pq_store_rollback(s);
		goto out;
	}
	ret = pq_store_commit(s);
out:
	free(rp);
	return ret;
}

static const struct pq_queue_conf *target(const struct pq_config *c, const char *queue)
{
	const struct pq_queue_conf *q = pq_config_queue(c, queue);

	if (!q)
		pq_error_set(PQ_EINVAL, "no queue \"%s\" in %s", queue, c->path);
	else if (q->frozen)
		pq_error_set(PQ_EINVAL, "queue \"%s\" (%s) is frozen: nothing is applied to it",
			     queue, q->branch);
	return q && !q->frozen ? q : NULL;
}

int pq_apply_series(struct pq_store *s, const struct pq_config *c, long long id, const char *queue,
		    int dry_run, struct pq_buf *report)
{
	const struct pq_queue_conf *q = target(c, queue);
	/* commits are composed from what is stored now; recovery recomposes them
	 * from the same messages */
	long long seen = pq_ingest_last_message(s);
	struct plan p;
	char tip[41] = "";
	int ret;

	if (!q)
		return PQ_EINVAL;
	if ((ret = plan_load(s, c, id, seen, &p)) < 0)
		goto out;
	ret = pq_queue_tip(c->repository, q->branch, tip);
	if (ret == PQ_ENOTFOUND && q->base) {
		/* a queue that does not exist yet starts from its base */
		ret = pq_queue_tip(c->repository, q->base, tip);
	}
	if (ret < 0)
		goto out;
	/* the intent first: a crash from here on is completed by recovery */
	if (!dry_run && (ret = record_state(s, id, queue, "applying", NULL, tip, seen)) < 0)
		goto out;
	if (!dry_run)
		pq_crash_point("intent");
	ret = run_series(s, c, q, id, tip, &p, dry_run ? RUN_CHECK : RUN_MOVE, report);
	report_results(report, &p);
	if (dry_run)
		goto out;
	if (ret == 0)
		pq_crash_point("moved");
	if (ret == 0)
		ret = record_applied(s, c, queue, &p);
	else if (ret == PQ_EGIT)
		record_failure(s, c, queue, &p, first_error(&p) ? first_error(&p) : pq_error_last(),
			       tip);
	else /* the branch moved under us, the repository failed: it stands, to try again */
		record_state(s, id, queue, "approved", pq_error_last(), NULL, 0);
out:
	plan_free(&p);
	return ret;
}

int pq_apply_check(struct pq_store *s, const struct pq_config *c, long long id,
		   struct pq_buf *report)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < c->nqueues && ret != PQ_EDB; i++) {
		const struct pq_queue_conf *q = &c->queues[i];
		struct pq_buf one = PQ_BUF_INIT;
		sqlite3_stmt *st;
		char tip[41] = "";
		int r;

		if (q->frozen)
			continue;
		/* a queue not created yet starts from its base, as apply does */
		if (pq_queue_tip(c->repository, q->branch, tip) == PQ_ENOTFOUND && q->base)
			pq_queue_tip(c->repository, q->base, tip);
		r = pq_apply_series(s, c, id, q->name, 1, &one);
		pq_buf_addf(report, "%s (%s at %.12s): %s\n", q->name, q->branch,
			    tip[0] ? tip : "missing", r == 0 ? "applies" : pq_error_last());
		pq_buf_free(&one);
		if (r == PQ_EINVAL) { /* incomplete: nothing to record */
			ret = r;
			break;
		}
		st = pq_store_stmt(s, "INSERT OR REPLACE INTO check_result (series_id, queue, tip,"
				      " ok, error, checked) VALUES (?, ?, ?, ?, ?, ?)");
		if (!st)
			return PQ_EDB;
		sqlite3_bind_int64(st, 1, id);
		pq_store_bind_text(st, 2, q->name);
		pq_store_bind_text(st, 3, tip);
		sqlite3_bind_int(st, 4, r == 0);
		pq_store_bind_text(st, 5, r == 0 ? NULL : pq_error_last());
		sqlite3_bind_int64(st, 6, (long long)time(NULL));
		if (pq_store_step_done(s, st) < 0)
			ret = PQ_EDB;
	}
	return ret;
}

/* What an interrupted application left: the branch moved or not. */
static int recover_one(struct pq_store *s, const struct pq_config *c, long long id,
		       const char *queue, const char *old_tip, long long seen,
		       struct pq_buf *report)
{
	const struct pq_queue_conf *q = target(c, queue);
	struct plan p;
	char tip[41] = "";
	int ret;

	if (!q)
		return record_state(s, id, queue, "failed", pq_error_last(), NULL, 0);
	if ((ret = plan_load(s, c, id, seen, &p)) < 0 ||
	    (ret = run_series(s, c, q, id, old_tip[0] ? old_tip : NULL, &p, RUN_CHECK, NULL)) < 0) {
		plan_free(&p);
		return record_state(s, id, queue, "failed", pq_error_last(), NULL, 0);
	}
	pq_queue_tip(c->repository, q->branch, tip);
	if (!strcmp(tip, p.tip)) {
		pq_buf_addf(report, "series %lld: found on %s, recorded\n", id, queue);
		ret = record_applied(s, c, queue, &p);
	} else if (!strcmp(tip, old_tip)) {
		/* the application was asked for (a maintainer, or a rule): it stands */
		pq_buf_addf(report,
			    "series %lld: %s never moved, the application will be tried "
			    "again\n",
			    id, queue);
		ret = record_state(s, id, queue, "approved", NULL, NULL, 0);
	} else {
		pq_buf_addf(report, "series %lld: %s moved meanwhile (at %.12s, not %.12s)\n", id,
			    queue, tip, p.tip);
		ret = record_state(s, id, queue, "failed",
				   "the branch moved during the application", NULL, 0);
	}
	plan_free(&p);
	return ret;
}

int pq_apply_recover(struct pq_store *s, const struct pq_config *c, struct pq_buf *report)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT series_id, queue, coalesce(tip, ''), coalesce(seen, 0)"
				 " FROM series_queue WHERE state = 'applying' ORDER BY updated");
	struct todo {
		long long id;
		char *queue;
		char *tip;
		long long seen;
	} *todo = NULL;
	size_t n = 0, i;
	int ret = 0;

	if (!st)
		return PQ_EDB;
	while (sqlite3_step(st) == SQLITE_ROW) {
		todo = pq_reallocarray(todo, n + 1, sizeof(*todo));
		todo[n].id = sqlite3_column_int64(st, 0);
		todo[n].queue = pq_strdup(pq_store_col_text(st, 1));
		todo[n].tip = pq_strdup(pq_store_col_text(st, 2));
		todo[n].seen = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if (!ret)
			ret = recover_one(s, c, todo[i].id, todo[i].queue, todo[i].tip,
					  todo[i].seen, report);
		free(todo[i].queue);
		free(todo[i].tip);
	}
	free(todo);
	return ret;
}

static int reject_everywhere(struct pq_store *s, long long id, const char *reason)
{
	sqlite3_stmt *st = pq_store_stmt(s, "UPDATE series_queue SET state = 'rejected',"
					    " reason = ?, updated = ? WHERE series_id = ?");

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, reason);
	sqlite3_bind_int64(st, 2, (long long)time(NULL));
	sqlite3_bind_int64(st, 3, id);
	return pq_store_step_done(s, st);
}

int pq_apply_reject(struct pq_store *s, long long id, const char *queue, const char *reason)
{
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	ret = queue ? set_state(s, id, queue, "rejected", reason, NULL, 0)
		    : reject_everywhere(s, id, reason);
	if (!ret)
		ret = series_state(s, id, "rejected");
	if (ret < 0) {
		pq_store_rollback(s);
		return ret;
	}
	return pq_store_commit(s);
}

/* ---- rebuild ---- */

/* The newest complete version of series id (id itself when none). */
static long long newest_version(struct pq_store *s, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(
		s,
		"SELECT n.id FROM series n WHERE n.supersedes = ? AND (SELECT count(DISTINCT idx)"
		" FROM message WHERE series_id = n.id AND idx BETWEEN 1 AND n.total) = n.total"
		" ORDER BY n.id DESC LIMIT 1");
	long long next;
	int hops;

	for (hops = 0; st && hops < 64; hops++) {
		sqlite3_bind_int64(st, 1, id);
		next = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		if (!next)
			break;
		id = next;
	}
	return id;
}

static int queue_series(struct pq_store *s, const char *queue, long long **ids, size_t *n)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT series_id FROM application WHERE queue = ? AND active"
				 " GROUP BY series_id ORDER BY min(id)");

	*ids = NULL;
	*n = 0;
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, queue);
	return pq_store_ids(s, st, ids, n);
}

static int retire(struct pq_store *s, const char *queue)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "UPDATE application SET active = 0 WHERE queue = ? AND active");

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, queue);
	return pq_store_step_done(s, st);
}

int pq_apply_outdated(struct pq_store *s, const char *queue)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT count(*) FROM application a JOIN series n ON n.supersedes = a.series_id"
		   " WHERE a.queue = ? AND a.active AND (SELECT count(DISTINCT idx) FROM message"
		   " WHERE series_id = n.id AND idx BETWEEN 1 AND n.total) = n.total");

	if (!st)
		return 0;
	pq_store_bind_text(st, 1, queue);
	return pq_store_scalar(st) > 0;
}

int pq_apply_rebuild(struct pq_store *s, const struct pq_config *c, const char *queue,
		     struct pq_buf *report)
{
	const struct pq_queue_conf *q = target(c, queue);
	struct pq_queue_opts o = { 0 };
	struct plan *plans = NULL;
	long long *ids = NULL;
	char tip[41] = "", cur[41] = "";
	size_t n = 0, i, kept = 0;
	int ret;

	if (!q)
		return PQ_EINVAL;
	if (!q->rebuild || !q->base)
		return pq_error_set(PQ_EINVAL,
				    "queue \"%s\" is not rebuilt (it needs rebuild = true"
				    " and a base)",
				    queue);
	if ((ret = pq_queue_tip(c->repository, q->base, cur)) < 0)
		return ret;
	pq_queue_tip(c->repository, q->branch, tip);
	if ((ret = queue_series(s, queue, &ids, &n)) < 0)
		return ret;
	plans = pq_calloc(n ? n : 1, sizeof(*plans));
	pq_buf_addf(report, "rebuilding %s on %s (%.12s)\n", queue, q->base, cur);
	for (i = 0; i < n; i++) {
		long long id = newest_version(s, ids[i]);
		struct plan *p = &plans[kept];

		if (stopping()) {
			ret = pq_error_set(PQ_ERROR, "rebuild of %s stopped: the branch stays",
					   queue);
			goto out;
		}
		if (id != ids[i])
			pq_buf_addf(report, "  series %lld replaced by its newer version %lld\n",
				    ids[i], id);
		if ((ret = plan_load(s, c, id, 0, p)) < 0 ||
		    (ret = run_series(s, c, q, id, cur, p, RUN_CHAIN, report)) < 0) {
			pq_buf_addf(report, "  series %lld no longer applies: %s\n", id,
				    first_error(p) ? first_error(p) : pq_error_last());
			if (p->series)
				record_state(s, id, queue, "failed", pq_error_last(), NULL, 0);
			plan_free(p);
			if (ret == PQ_EDB)
				goto out;
			continue;
		}
		memcpy(cur, p->tip, sizeof(cur));
		pq_buf_addf(report, "  series %lld: %zu patch(es), now %.12s\n", id, p->n, cur);
		kept++;
	}
	/* move the branch once, from the tip we saw to the new one */
	o.committer_name = c->committer_name;
	o.committer_email = c->committer_email;
	if (strcmp(tip, cur) &&
	    (ret = pq_queue_apply(c->repository, q->branch, cur, NULL, 0, &o, NULL)) < 0)
		goto out;
	pq_buf_addf(report, "%s: %s%.12s\n", queue, strcmp(tip, cur) ? "now " : "unchanged at ",
		    cur);
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	if ((ret = retire(s, queue)) < 0)
		goto rollback;
	for (i = 0; i < kept; i++)
		if ((ret = record_applied_rows(s, queue, &plans[i])) < 0)
			goto rollback;
	ret = pq_store_commit(s);
	goto out;
rollback:
	pq_store_rollback(s);
out:
	for (i = 0; i < kept; i++)
		plan_free(&plans[i]);
	free(plans);
	free(ids);
	return ret;
}

/* ---- triage ---- */

/* Approvals that waited for missing patches, now complete. */
static int apply_waiting_approvals(struct pq_store *s, const struct pq_config *c,
				   struct pq_buf *report)
{
	sqlite3_stmt *st = pq_store_stmt(
		s,
		"SELECT q.series_id, q.queue FROM series_queue q JOIN series s ON s.id = q.series_id"
		" WHERE q.state = 'approved' AND (SELECT count(DISTINCT idx) FROM message"
		" WHERE series_id = s.id AND idx BETWEEN 1 AND s.total) = s.total");
	struct pq_buf queues = PQ_BUF_INIT;
	long long *ids = NULL;
	size_t n = 0, i;
	const char *q;
	int ret = 0;

	if (!st)
		return PQ_EDB;
	while (sqlite3_step(st) == SQLITE_ROW) {
		ids = pq_reallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
		pq_buf_add(&queues, pq_store_col_text(st, 1), strlen(pq_store_col_text(st, 1)) + 1);
	}
	sqlite3_reset(st);
	for (i = 0, q = pq_buf_str(&queues); i < n && ret != PQ_EDB && !stopping();
	     i++, q += strlen(q) + 1) {
		pq_buf_addf(report, "series %lld: approved for %s and now complete, applying\n",
			    ids[i], q);
		ret = pq_apply_series(s, c, ids[i], q, 0, report);
	}
	free(ids);
	pq_buf_free(&queues);
	return ret == PQ_EDB ? ret : 0;
}

/*
 * The complete series still new that triage has not decided on since
 * something arrived for them: a message of the series, or one that
 * refers to one of its messages (a reply, perhaps with trailers).
 */
static int new_complete_series(struct pq_store *s, long long **ids, size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT s.id FROM series s WHERE s.state = 'new' AND (SELECT count(DISTINCT idx)"
		   " FROM message WHERE series_id = s.id AND idx BETWEEN 1 AND s.total) = s.total"
		   " AND (s.triaged IS NULL"
		   " OR (SELECT max(id) FROM message WHERE series_id = s.id) > s.triaged"
		   " OR EXISTS (SELECT 1 FROM message sm JOIN ref r ON r.msgid = sm.msgid"
		   " WHERE sm.series_id = s.id AND r.message_id > s.triaged))"
		   " ORDER BY s.id");

	*ids = NULL;
	*n = 0;
	return st ? pq_store_ids(s, st, ids, n) : PQ_EDB;
}

/* Whether the series id replaces supersedes is applied to queue. */
static int replaces_applied(struct pq_store *s, long long id, const char *queue)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT count(*) FROM series n JOIN application a"
					    " ON a.series_id = n.supersedes WHERE n.id = ?"
					    " AND a.queue = ? AND a.active");

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	return pq_store_scalar(st) > 0;
}

/*
 * A series queued for approval whose dry run failed on that queue: the
 * list hears at once (once per series) rather than at approval time.
 */
static int reply_if_check_failed(struct pq_store *s, const struct pq_config *c, long long id,
				 const char *queue)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT error, tip FROM check_result"
					    " WHERE series_id = ? AND queue = ? AND NOT ok");
	struct pq_series *se = NULL;
	char *why = NULL, *tip = NULL;
	int ret = 0;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	if (sqlite3_step(st) == SQLITE_ROW) {
		why = pq_strdup(pq_store_col_text(st, 0) ? pq_store_col_text(st, 0) : "");
		tip = pq_strdup(pq_store_col_text(st, 1) ? pq_store_col_text(st, 1) : "");
	}
	sqlite3_reset(st);
	if (!why)
		return 0;
	if ((ret = pq_series_load(s, id, &se)) < 0 || (ret = pq_store_begin(s)) < 0)
		goto out;
	if ((ret = reply_failure(s, c, queue, se, why, tip)) < 0)
		pq_store_rollback(s);
	else
		ret = pq_store_commit(s);
out:
	pq_series_free(se);
	free(why);
	free(tip);
	return ret == PQ_EDB ? ret : 0;
}

static int triage_one(struct pq_store *s, const struct pq_config *c, long long id,
		      struct pq_buf *report)
{
	struct pq_rules_input in;
	struct pq_rules_verdict v;
	struct pq_buf checks = PQ_BUF_INIT;
	char reason[256];
	int ret, matched, replaces, automatic;

	/* pull requests are not applied from mail */
	if ((ret = pq_apply_check(s, c, id, &checks)) == PQ_EDB)
		goto out;
	if ((ret = pq_rules_input_load(s, id, &in)) < 0)
		goto out;
	matched = pq_rules_decide(c, &in, &v, NULL);
	pq_rules_input_free(&in);
	if (!matched) {
		pq_buf_addf(report, "series %lld: no rule matches, left for a maintainer\n", id);
		ret = 0;
		goto out;
	}
	if (!v.queue || v.queue->frozen) {
		snprintf(reason, sizeof(reason), "aimed at %s, which is frozen", v.rule->queue);
		pq_buf_addf(report, "series %lld: %s (rule %s)\n", id, reason, v.rule->name);
		ret = pq_apply_reject(s, id, v.rule->queue, reason);
		goto out;
	}
	/* a new version of a series on a rebuilt queue would not apply on top
	 * of the old one: the rebuild puts it in its place */
	replaces = v.automatic && v.queue->rebuild && replaces_applied(s, id, v.queue->name);
	automatic = v.automatic && !replaces;
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	/* automatic: approved by the rule, so that a crash before the application
	 * leaves it to the next pass (apply_waiting_approvals) */
	if ((ret = set_state(s, id, v.queue->name, automatic ? "approved" : "queued", NULL, NULL,
			     0)) < 0 ||
	    (ret = rule_name(s, id, v.queue->name, v.rule->name)) < 0 ||
	    (ret = series_state(s, id, "queued")) < 0) {
		pq_store_rollback(s);
		goto out;
	}
	if ((ret = pq_store_commit(s)) < 0)
		goto out;
	pq_buf_addf(report, "series %lld: queued for %s (rule %s)%s\n", id, v.queue->name,
		    v.rule->name,
		    replaces	? ", replaces its earlier version there at the next rebuild"
		    : automatic ? ", applying"
				: ", waits for approval");
	if (!v.automatic && (ret = reply_if_check_failed(s, c, id, v.queue->name)) < 0)
		goto out;
	if (automatic) {
		ret = pq_apply_series(s, c, id, v.queue->name, 0, report);
		if (ret < 0 && ret != PQ_EDB) {
			pq_buf_addf(report, "  not applied: %s\n", pq_error_last());
			ret = 0;
		}
	}
out:
	pq_buf_free(&checks);
	return ret;
}

/* Marks series id as decided on with everything up to message mark in view. */
static int mark_triaged(struct pq_store *s, long long id, long long mark)
{
	sqlite3_stmt *st = pq_store_stmt(s, "UPDATE series SET triaged = ? WHERE id = ?");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, mark);
	sqlite3_bind_int64(st, 2, id);
	return pq_store_step_done(s, st);
}

int pq_apply_triage(struct pq_store *s, const struct pq_config *c, struct pq_buf *report)
{
	long long *ids, mark;
	size_t n, i;
	int ret;

	/* taken first: what arrives during the pass is newer, and is looked at next time */
	mark = pq_ingest_last_message(s);
	if ((ret = apply_waiting_approvals(s, c, report)) < 0 ||
	    (ret = new_complete_series(s, &ids, &n)) < 0)
		return ret;
	for (i = 0; i < n && ret != PQ_EDB && !stopping(); i++) {
		ret = triage_one(s, c, ids[i], report);
		if (ret != PQ_EDB)
			ret = mark_triaged(s, ids[i], mark);
	}
	free(ids);
	return ret == PQ_EDB ? ret : 0;
}

int pq_apply_approve(struct pq_store *s, const struct pq_config *c, long long id, const char *queue,
		     struct pq_buf *report)
{
	struct pq_series *se;
	int ret;

	if (!target(c, queue))
		return PQ_EINVAL;
	if ((ret = pq_series_load(s, id, &se)) < 0)
		return ret;
	if (!se->complete) {
		pq_buf_addf(report,
			    "series %lld: approval recorded for %s; it goes in once its"
			    " %d missing patch(es) arrive (patchq triage)\n",
			    id, queue, se->total - se->received);
		pq_series_free(se);
		return record_state(s, id, queue, "approved", NULL, NULL, 0);
	}
	pq_series_free(se);
	if ((ret = record_state(s, id, queue, "approved", NULL, NULL, 0)) < 0 ||
	    (ret = pq_apply_series(s, c, id, queue, 0, report)) < 0)
		return ret;
	pq_buf_addf(report, "series %lld approved and applied on %s\n", id, queue);
	return 0;
}
