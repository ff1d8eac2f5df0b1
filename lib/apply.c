/*
 * apply: a series onto a queue, recorded (see apply.h).
 *
 * The commits are composed from the mail by am.c and made by the libgit2
 * applier; the intent is committed before the branch moves and what landed
 * after, so recover.c can finish what a crash interrupted.
 */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "am.h"
#include "crash.h"
#include "error.h"
#include "ingest.h"
#include "note.h"
#include "reply.h"
#include "series.h"
#include "state.h"
#include "stop.h"

void pq_apply_plan_free(struct pq_apply_plan *p)
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
	pq_buf_free(&p->failure);
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

int pq_apply_plan_load(struct pq_store *s, const struct pq_config *c, long long id, long long upto,
		       struct pq_apply_plan *p)
{
	struct pq_am_options ao = { 0 };
	struct pq_note *notes;
	size_t i, nnotes;
	int ret;

	memset(p, 0, sizeof(*p));
	if ((ret = pq_series_load_conf(s, c, id, upto, &p->series)) < 0)
		return ret;
	if (!p->series->complete)
		return pq_error_set(PQ_EINVAL, "series %lld is incomplete: %d of %d patches", id,
				    p->series->received, p->series->total);
	if ((ret = pq_note_load(s, id, &notes, &nnotes)) < 0)
		return ret;
	snprintf(p->signoff, sizeof(p->signoff), "%s <%s>", c->committer_name, c->committer_email);
	ao.signoff = c->signoff ? p->signoff : NULL;
	ao.link = c->link;
	p->am = pq_calloc(p->series->npatches, sizeof(*p->am));
	p->patches = pq_calloc(p->series->npatches, sizeof(*p->patches));
	p->results = pq_calloc(p->series->npatches, sizeof(*p->results));
	p->messages = pq_calloc(p->series->npatches, sizeof(*p->messages));
	for (i = 0; i < p->series->npatches; i++) {
		const struct pq_series_patch *sp = &p->series->patches[i];
		struct pq_applier_patch *qp = &p->patches[i];
		struct pq_am_patch *a = &p->am[i];

		ao.note = pq_note_find(notes, nnotes, sp->index);
		if ((ret = pq_am_patch_load(s, sp, &ao, a)) < 0)
			break;
		p->n = i + 1;
		if (!a->patch.diff.len) {
			ret = pq_error_set(PQ_EINVAL, "<%s> carries no diff", sp->msgid);
			break;
		}
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
	pq_note_free(notes, nnotes);
	return ret;
}

static int run_queue(const struct pq_config *c, struct pq_repo *repo, const struct pq_queue_conf *q,
		     const char *base, struct pq_apply_plan *p, enum pq_apply_mode mode,
		     const char *merge_onto, const char *merge_message)
{
	struct pq_applier_opts o = {
		.committer_name = c->committer_name,
		.committer_email = c->committer_email,
		.git_fallback = c->git_fallback,
		.three_way = c->three_way,
		.where = q->name,
		.dry_run = mode != PQ_APPLY_MOVE,
		.keep_objects = mode == PQ_APPLY_CHAIN,
		.merge_onto = merge_onto,
		.merge_message = merge_message,
	};
	const struct pq_applier_result *last;
	int ret = pq_applier_run(repo, q->branch, base, p->patches, p->n, &o, p->results);

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
static int plan_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		    const struct pq_queue_conf *q, long long id, const char *tip,
		    struct pq_apply_plan *p, enum pq_apply_mode mode, struct pq_buf *report)
{
	struct pq_buf msg = PQ_BUF_INIT;
	struct pq_applier_result *on_tip, *swap;
	const char *first;
	char *base;
	size_t i;
	int ret = run_queue(c, repo, q, tip, p, mode, NULL, NULL);

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
	ret = run_queue(c, repo, q, base, p, mode, tip, msg.ptr);
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

int pq_apply_plan_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      const struct pq_queue_conf *q, long long id, const char *tip,
		      struct pq_apply_plan *p, enum pq_apply_mode mode, struct pq_buf *report)
{
	int ret = plan_run(s, c, repo, q, id, tip, p, mode, report);
	size_t i;

	pq_buf_reset(&p->failure);
	for (i = 0; ret == PQ_EGIT && i < p->n; i++) {
		if (!p->results[i].error)
			continue;
		pq_buf_addf(&p->failure, "[%d/%d] %s: %s", p->series->patches[i].index,
			    p->series->total, p->am[i].title, p->results[i].error);
		pq_error_set(PQ_EGIT, "%s", p->failure.ptr);
		break;
	}
	return ret;
}

static void report_results(struct pq_buf *report, const struct pq_apply_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct pq_applier_result *r = &p->results[i];

		if (r->error)
			pq_buf_addf(report, "  [%d/%d] %s\n        does not apply: %s\n",
				    p->series->patches[i].index, p->series->total, p->am[i].title,
				    r->error);
		else if (r->commit[0])
			pq_buf_addf(report, "  [%d/%d] %s\n        %.12s%s\n",
				    p->series->patches[i].index, p->series->total, p->am[i].title,
				    r->commit,
				    r->path == PQ_APPLIER_GIT	     ? " (git apply)"
				    : r->path == PQ_APPLIER_THREEWAY ? " (three-way merge)"
								     : "");
	}
}

const char *pq_apply_plan_error(const struct pq_apply_plan *p)
{
	return p->failure.len ? p->failure.ptr : NULL;
}

/* How a patch went in, as the application table names it. */
static const char *path_name(enum pq_applier_path path)
{
	switch (path) {
	case PQ_APPLIER_GIT:
		return "git-apply";
	case PQ_APPLIER_THREEWAY:
		return "three-way";
	default:
		return "libgit2";
	}
}

/* Every Message-ID of p to its commit, and the series applied. */
int pq_apply_record_rows(struct pq_store *s, const char *queue, const struct pq_apply_plan *p)
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
		pq_store_bind_text(st, 6, path_name(p->results[i].path));
		sqlite3_bind_int64(st, 7, (long long)time(NULL));
		if ((ret = pq_store_step_done(s, st)) < 0)
			return ret;
	}
	if ((ret = pq_state_set_queue(s, p->series->id, queue, PQ_STATE_APPLIED, NULL, NULL, 0)) <
	    0)
		return ret;
	return pq_state_set_series(s, p->series->id, PQ_STATE_APPLIED);
}

/* Whether the rule that sent series id to queue applies it without approval: 1 or 0 into *yes. */
static int automatic_rule(struct pq_store *s, const struct pq_config *c, long long id,
			  const char *queue, int *yes)
{
	const struct pq_queue_conf *q = pq_config_queue(c, queue);
	const struct pq_rule_conf *r;
	int ret;

	*yes = 0;
	/* a maintainer's choice, or a rule no longer in the configuration, decides nothing */
	if ((ret = pq_state_queue_rule(s, c, id, queue, &r, NULL)) < 0 || !r)
		return ret;
	*yes = r->automatic != PQ_COND_ANY ? r->automatic == PQ_COND_YES : q && q->automatic;
	return 0;
}

int pq_apply_own_series(const struct pq_config *c, const struct pq_series *se)
{
	return se->submitter && (pq_config_same_person(c, se->submitter, c->reply.from_email) ||
				 pq_config_same_person(c, se->submitter, c->committer_email));
}

/*
 * The reply telling the list that series se does not apply to queue (at
 * tip): only for a series the rule that chose queue applies automatically
 * (one waiting for approval is the maintainer's business, not the
 * list's), never for the maintainer's own series, once per series; in the
 * caller's transaction.
 */
int pq_apply_reply_failure(struct pq_store *s, const struct pq_config *c, const char *queue,
			   const struct pq_series *se, const char *why, const char *tip)
{
	struct pq_reply_about a = { .queue = queue, .series = se, .failure = why, .tip = tip };
	int automatic, ret;

	if ((ret = automatic_rule(s, c, se->id, queue, &automatic)) < 0 || !automatic ||
	    pq_apply_own_series(c, se))
		return ret;
	a.now = (int64_t)time(NULL);
	return pq_reply_record(s, c, &a);
}

int pq_apply_reply_rebase(struct pq_store *s, const struct pq_config *c, long long id,
			  const char *queue, int64_t now, long long *reply)
{
	sqlite3_stmt *st;
	struct pq_series *se = NULL;
	struct pq_reply_about a = { .queue = queue, .now = now, .asked = 1 };
	char *why = NULL, *tip = NULL;
	int ret, rc;

	*reply = 0;
	if (!pq_config_queue(c, queue))
		return pq_error_set(PQ_EINVAL, "no queue \"%s\" in %s", queue, c->path);
	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret;
	if (pq_apply_own_series(c, se)) {
		ret = pq_error_set(PQ_EINVAL, "series %lld is your own (%s): no mail to yourself",
				   id, se->submitter);
		goto out;
	}
	/* why: its failure there, else its latest dry run there */
	st = pq_store_stmt(s, "SELECT reason, NULL FROM series_queue WHERE series_id = ?1"
			      " AND queue = ?2 AND state = ?3 AND reason IS NOT NULL"
			      " UNION ALL SELECT error, tip FROM check_result WHERE series_id = ?1"
			      " AND queue = ?2 AND NOT ok");
	if (!st) {
		ret = PQ_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	pq_store_bind_text(st, 3, pq_state_name(PQ_STATE_FAILED));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!why)
			why = pq_store_col_dup(st, 0);
		if (!tip && sqlite3_column_type(st, 1) != SQLITE_NULL)
			tip = pq_store_col_dup(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		ret = pq_store_error(s, "reading why a series does not apply");
		goto out;
	}
	if (!why) {
		ret = pq_error_set(PQ_EINVAL,
				   "series %lld did not fail on %s, nor its dry run there"
				   " (patchq check %lld): nothing to ask",
				   id, queue, id);
		goto out;
	}
	a.series = se;
	a.failure = why;
	a.tip = tip;
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	if ((ret = pq_reply_record_id(s, c, &a, reply)) < 0) {
		pq_store_rollback(s);
		goto out;
	}
	if ((ret = pq_store_commit(s)) == 0 && !*reply)
		ret = pq_error_set(PQ_EEXISTS, "series %lld already has its rebase reply for %s",
				   id, queue);
out:
	free(why);
	free(tip);
	pq_series_free(se);
	return ret;
}

/* One transaction: the series did not apply to queue at tip, why, and the reply. */
static int record_failure(struct pq_store *s, const struct pq_config *c, const char *queue,
			  const struct pq_apply_plan *p, const char *why, const char *tip)
{
	long long id = p->series->id;
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	if ((ret = pq_state_set_queue(s, id, queue, PQ_STATE_FAILED, why, NULL, 0)) < 0 ||
	    (ret = pq_state_set_series(s, id, PQ_STATE_FAILED)) < 0 ||
	    (ret = pq_apply_reply_failure(s, c, queue, p->series, why, tip)) < 0) {
		pq_store_rollback(s);
		return ret;
	}
	return pq_store_commit(s);
}

/*
 * One transaction: every Message-ID to its commit, the new states, and
 * the reply to the list.
 */
int pq_apply_record_applied(struct pq_store *s, const struct pq_config *c, const char *queue,
			    const struct pq_apply_plan *p)
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
	if ((ret = pq_ingest_last_message(s, &a.seen)) < 0 ||
	    (ret = pq_apply_record_rows(s, queue, p)) < 0 ||
	    (ret = pq_reply_record(s, c, &a)) < 0) {
		pq_store_rollback(s);
		goto out;
	}
	ret = pq_store_commit(s);
out:
	free(rp);
	return ret;
}

const struct pq_queue_conf *pq_apply_target(const struct pq_config *c, const char *queue)
{
	const struct pq_queue_conf *q = pq_config_queue(c, queue);

	if (!q)
		pq_error_set(PQ_EINVAL, "no queue \"%s\" in %s", queue, c->path);
	else if (q->frozen)
		pq_error_set(PQ_EINVAL, "queue \"%s\" (%s) is frozen: nothing is applied to it",
			     queue, q->branch);
	return q && !q->frozen ? q : NULL;
}

int pq_apply_tip(struct pq_repo *repo, const struct pq_queue_conf *q, char tip[41])
{
	int ret = pq_repo_tip(repo, q->branch, tip);

	if (ret == PQ_ENOTFOUND && q->base)
		ret = pq_repo_tip(repo, q->base, tip);
	return ret;
}

int pq_apply_series(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		    long long id, const char *queue, int dry_run, struct pq_buf *report)
{
	const struct pq_queue_conf *q = pq_apply_target(c, queue);
	struct pq_apply_plan p;
	long long seen;
	char tip[41] = "";
	int ret;

	memset(&p, 0, sizeof(p));
	if (!q)
		return PQ_EINVAL;
	/* commits are composed from what is stored now; recovery recomposes them
	 * from the same messages */
	if ((ret = pq_ingest_last_message(s, &seen)) < 0)
		goto out;
	if ((ret = pq_apply_plan_load(s, c, id, seen, &p)) < 0) {
		/* a patch patchq will not apply (a NUL byte in its diff) fails the
		 * series with its reason, as a patch git refuses does */
		if (ret == PQ_EGIT && !dry_run && p.series) {
			char *why = pq_strdup(pq_error_last());

			if (pq_apply_tip(repo, q, tip) < 0)
				tip[0] = '\0';
			if (record_failure(s, c, queue, &p, why, tip[0] ? tip : NULL) == PQ_EDB)
				ret = PQ_EDB;
			else
				pq_error_set(PQ_EGIT, "%s", why);
			free(why);
		}
		goto out;
	}
	if ((ret = pq_apply_tip(repo, q, tip)) < 0)
		goto out;
	/* the intent first: a crash from here on is completed by recovery */
	if (!dry_run &&
	    (ret = pq_state_record(s, id, queue, PQ_STATE_APPLYING, NULL, tip, seen)) < 0)
		goto out;
	if (!dry_run)
		pq_crash_point("intent");
	ret = pq_apply_plan_run(s, c, repo, q, id, tip, &p,
				dry_run ? PQ_APPLY_CHECK : PQ_APPLY_MOVE, report);
	report_results(report, &p);
	if (dry_run)
		goto out;
	if (ret == 0)
		pq_crash_point("moved");
	if (ret == 0) {
		ret = pq_apply_record_applied(s, c, queue, &p);
	} else if (ret == PQ_EGIT) {
		const char *why = pq_apply_plan_error(&p);

		if (record_failure(s, c, queue, &p, why ? why : pq_error_last(), tip) == PQ_EDB)
			ret = PQ_EDB;
	} else if (ret != PQ_EDB) {
		/* the branch moved under us, the repository failed: it stands, to try again */
		if (pq_state_record(s, id, queue, PQ_STATE_APPROVED, pq_error_last(), NULL, 0) ==
		    PQ_EDB)
			ret = PQ_EDB;
	}
out:
	pq_apply_plan_free(&p);
	return ret;
}

/* Dry-runs series id on q (at tip, "" when missing) and records the result; 1 or 0 into *ok. */
static int check_queue(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		       long long id, const struct pq_queue_conf *q, const char *tip, int *ok)
{
	struct pq_buf one = PQ_BUF_INIT;
	sqlite3_stmt *st;
	int r;

	*ok = 0;
	r = pq_apply_series(s, c, repo, id, q->name, 1, &one);
	pq_buf_free(&one);
	/* incomplete: nothing to record; a failure of the repository or the
	 * database is no verdict on the series */
	if (r < 0 && r != PQ_EGIT && r != PQ_ENOTFOUND)
		return r;
	*ok = r == 0;
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
	return pq_store_step_done(s, st);
}

int pq_apply_check(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		   long long id, struct pq_buf *report)
{
	size_t i;

	for (i = 0; i < c->nqueues; i++) {
		const struct pq_queue_conf *q = &c->queues[i];
		char tip[41] = "";
		int r, ok;

		if (q->frozen)
			continue;
		if ((r = pq_apply_tip(repo, q, tip)) < 0 && r != PQ_ENOTFOUND)
			return r;
		if ((r = check_queue(s, c, repo, id, q, tip, &ok)) < 0)
			return r;
		pq_buf_addf(report, "%s (%s at %.12s): %s\n", q->name, q->branch,
			    tip[0] ? tip : "missing", ok ? "applies" : pq_error_last());
	}
	return 0;
}

int pq_apply_recheck_waiting(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			     struct pq_buf *report)
{
	size_t i, k;
	int ret = 0;

	for (i = 0; i < c->nqueues && ret != PQ_EDB && !pq_stop_requested(); i++) {
		const struct pq_queue_conf *q = &c->queues[i];
		sqlite3_stmt *st;
		long long *ids = NULL;
		size_t n = 0;
		char tip[41] = "";
		int r;

		if (q->frozen)
			continue;
		if ((r = pq_apply_tip(repo, q, tip)) < 0) {
			if (r != PQ_ENOTFOUND)
				ret = r;
			continue;
		}
		/* waiting there, complete, and last checked (and applying) on another tip */
		st = pq_store_stmt(s, "SELECT q.series_id FROM series_queue q"
				      " JOIN complete_series cs ON cs.id = q.series_id"
				      " JOIN check_result k ON k.series_id = q.series_id"
				      " AND k.queue = q.queue WHERE q.queue = ? AND q.state = ?"
				      " AND k.ok AND k.tip <> ? ORDER BY q.series_id");
		if (!st)
			return PQ_EDB;
		pq_store_bind_text(st, 1, q->name);
		pq_store_bind_text(st, 2, pq_state_name(PQ_STATE_QUEUED));
		pq_store_bind_text(st, 3, tip);
		if ((ret = pq_store_ids(s, st, &ids, &n)) < 0)
			return ret;
		for (k = 0; k < n && !pq_stop_requested(); k++) {
			int ok;

			if ((r = check_queue(s, c, repo, ids[k], q, tip, &ok)) < 0) {
				ret = r;
				break;
			}
			/* the maintainer's to-do and this line say it; the list hears nothing */
			if (!ok)
				pq_buf_addf(report,
					    "series %lld: no longer applies to %s since it moved"
					    " to %.12s (%s); it waits for approval: in the to-do,"
					    " no mail to the list\n",
					    ids[k], q->name, tip, pq_error_last());
		}
		free(ids);
	}
	return ret;
}
