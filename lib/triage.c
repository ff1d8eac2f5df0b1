/* triage: where each new complete series goes (see triage.h). */
#include "triage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "apply.h"
#include "approval.h"
#include "checks.h"
#include "elsewhere.h"
#include "error.h"
#include "ingest.h"
#include "json.h"
#include "rules.h"
#include "series.h"
#include "state.h"
#include "stop.h"

/* Approvals that waited for missing patches, now complete. */
static int apply_waiting_approvals(struct pq_store *s, const struct pq_config *c,
				   struct pq_repo *repo, struct pq_buf *report)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT q.series_id, q.queue FROM series_queue q"
					    " JOIN complete_series s ON s.id = q.series_id"
					    " WHERE q.state = ?");
	struct pq_buf queues = PQ_BUF_INIT;
	long long *ids = NULL;
	size_t n = 0, i;
	const char *q;
	int ret = 0, rc;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, pq_state_name(PQ_STATE_APPROVED));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids = pq_reallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
		pq_buf_add(&queues, pq_store_col_text(st, 1), strlen(pq_store_col_text(st, 1)) + 1);
	}
	if (rc != SQLITE_DONE)
		ret = pq_store_error(s, "reading the approved series");
	sqlite3_reset(st);
	for (i = 0, q = pq_buf_str(&queues); i < n && ret != PQ_EDB && !pq_stop_requested();
	     i++, q += strlen(q) + 1) {
		pq_buf_addf(report, "series %lld: approved for %s and now complete, applying\n",
			    ids[i], q);
		ret = pq_apply_series(s, c, repo, ids[i], q, 0, report);
	}
	free(ids);
	pq_buf_free(&queues);
	return ret == PQ_EDB ? ret : 0;
}

/*
 * The complete series still new, or queued only (waiting for approval
 * somewhere), that triage has not decided on since something arrived for
 * them: a message of the series, or one that refers to one of its
 * messages (a reply, perhaps with trailers). A queued series is looked
 * at again for the queues its rules add now (a review arrived: rust-dev
 * takes it while it waits on rust-next); the queues it is on keep their
 * state. A series approved or being applied somewhere (by hand: its own
 * state is still new) is left alone: its rule would put it back to
 * queued, losing the approval or the intent recovery needs; the approval
 * is applied above, the intent is recovery's.
 */
static int new_complete_series(struct pq_store *s, long long **ids, size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT s.id FROM complete_series s WHERE s.state IN (?, ?)"
		   " AND (s.triaged IS NULL"
		   " OR (SELECT max(id) FROM message WHERE series_id = s.id) > s.triaged"
		   " OR EXISTS (SELECT 1 FROM message sm JOIN ref r ON r.msgid = sm.msgid"
		   " WHERE sm.series_id = s.id AND r.message_id > s.triaged))"
		   " AND NOT EXISTS (SELECT 1 FROM series_queue q WHERE q.series_id = s.id"
		   " AND q.state IN (?, ?))"
		   " ORDER BY s.id");

	*ids = NULL;
	*n = 0;
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, pq_state_name(PQ_STATE_NEW));
	pq_store_bind_text(st, 2, pq_state_name(PQ_STATE_QUEUED));
	pq_store_bind_text(st, 3, pq_state_name(PQ_STATE_APPROVED));
	pq_store_bind_text(st, 4, pq_state_name(PQ_STATE_APPLYING));
	return pq_store_ids(s, st, ids, n);
}

/*
 * Keeps of v the queues series id is not on yet (nor frozen ones: a
 * series already taken somewhere is not refused for its tag); *was gets
 * whether it is on some queue already. Returns 0 or PQ_EDB.
 */
static int only_new_queues(struct pq_store *s, long long id, struct pq_rules_verdict *v, int *was)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT count(*) FROM series_queue"
					    " WHERE series_id = ? AND (? IS NULL OR queue = ?)");
	long long count;
	size_t i, kept = 0;
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_null(st, 2);
	sqlite3_bind_null(st, 3);
	if ((ret = pq_store_scalar(s, st, &count)) < 0)
		return ret;
	*was = count > 0;
	if (!*was)
		return 0;
	for (i = 0; i < v->n; i++) {
		const char *q = v->v[i].rule->queue;

		if (!v->v[i].queue || v->v[i].queue->frozen)
			continue;
		sqlite3_bind_int64(st, 1, id);
		pq_store_bind_text(st, 2, q);
		pq_store_bind_text(st, 3, q);
		if ((ret = pq_store_scalar(s, st, &count)) < 0)
			return ret;
		if (!count)
			v->v[kept++] = v->v[i];
	}
	v->n = kept;
	return 0;
}

/* Whether the series id replaces (supersedes) is on queue: 1 or 0 into *yes. */
static int replaces_applied(struct pq_store *s, long long id, const char *queue, int *yes)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT count(*) FROM series n JOIN queue_series a"
					    " ON a.series_id = n.supersedes WHERE n.id = ?"
					    " AND a.queue = ?");
	long long count;
	int ret;

	*yes = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	if ((ret = pq_store_scalar(s, st, &count)) < 0)
		return ret;
	*yes = count > 0;
	return 0;
}

/*
 * Why automatic intake waits on each queue of c this pass (NULL: it does
 * not): the merge window, for a queue with holdInMergeWindow, looked at on
 * its base (or its branch) once per pass.
 */
static char **merge_window_holds(const struct pq_config *c, struct pq_repo *repo,
				 struct pq_buf *report)
{
	char **holds = pq_calloc(c->nqueues ? c->nqueues : 1, sizeof(*holds));
	size_t i;

	for (i = 0; i < c->nqueues; i++) {
		const struct pq_queue_conf *q = &c->queues[i];
		struct pq_buf why = PQ_BUF_INIT;
		int rc;

		if (!q->hold_in_merge_window)
			continue;
		pq_buf_adds(&why, "held: merge window open (");
		rc = pq_repo_merge_window(repo, q->base ? q->base : q->branch, &why);
		if (rc > 0) {
			pq_buf_addc(&why, ')');
			holds[i] = pq_buf_detach(&why);
		} else if (rc < 0 && rc != PQ_ENOTFOUND) {
			pq_buf_addf(report, "%s: cannot tell the merge window: %s\n", q->name,
				    pq_error_last());
		}
		pq_buf_free(&why);
	}
	return holds;
}

static void holds_free(const struct pq_config *c, char **holds)
{
	size_t i;

	for (i = 0; holds && i < c->nqueues; i++)
		free(holds[i]);
	free(holds);
}

/* The hold of queue q this pass, or NULL. */
static const char *hold_of(const struct pq_config *c, char **holds, const struct pq_queue_conf *q)
{
	return holds && q >= c->queues && q < c->queues + c->nqueues ? holds[q - c->queues] : NULL;
}

/* Whether the rule that sent series id to queue waits for its checks there: 1, 0, or PQ_EDB. */
static int waits_for_checks(struct pq_store *s, const struct pq_config *c, long long id,
			    const char *queue)
{
	const struct pq_rule_conf *r;
	int ret;

	if (!c->nchecks)
		return 0;
	if ((ret = pq_state_queue_rule(s, c, id, queue, &r, NULL)) < 0)
		return ret;
	return pq_checks_required(c, r, queue);
}

/*
 * The series held on a queue whose hold ended (the merge window closed):
 * approved as their rule said, and applied.
 */
static int release_holds(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			 char **holds, struct pq_buf *report)
{
	size_t qi, i, n;
	long long *ids;
	int ret = 0;

	for (qi = 0; qi < c->nqueues && ret != PQ_EDB && !pq_stop_requested(); qi++) {
		const struct pq_queue_conf *q = &c->queues[qi];
		sqlite3_stmt *st;

		if (holds[qi] || q->frozen)
			continue;
		/* the merge window's holds; those for the checks end in checks.c */
		st = pq_store_stmt(s, "SELECT series_id FROM series_queue WHERE queue = ?1"
				      " AND state = ?2 AND held IS NOT NULL"
				      " AND substr(held, 1, ?3) <> ?4 ORDER BY series_id");
		if (!st)
			return PQ_EDB;
		pq_store_bind_text(st, 1, q->name);
		pq_store_bind_text(st, 2, pq_state_name(PQ_STATE_QUEUED));
		sqlite3_bind_int(st, 3, (int)strlen(PQ_CHECKS_HELD_PREFIX));
		pq_store_bind_text(st, 4, PQ_CHECKS_HELD_PREFIX);
		if ((ret = pq_store_ids(s, st, &ids, &n)) < 0)
			return ret;
		for (i = 0; i < n && ret != PQ_EDB && !pq_stop_requested(); i++) {
			struct pq_elsewhere_taken taken;

			/* taken by another tree while it waited: no longer held, it waits
			 * for a maintainer (the to-do says where it went) */
			if ((ret = pq_elsewhere_find(s, ids[i], &taken)) < 0)
				break;
			if (ret) {
				pq_buf_addf(report, "series %lld: no longer held on %s, but ",
					    ids[i], q->name);
				pq_elsewhere_describe(&taken, report);
				pq_buf_adds(report, ": left to a maintainer\n");
				pq_elsewhere_taken_free(&taken);
				if ((ret = pq_state_hold(s, ids[i], q->name, NULL)) < 0)
					break;
				continue;
			}
			/* the window closed, and the checks are still to pass */
			if ((ret = waits_for_checks(s, c, ids[i], q->name)) < 0)
				break;
			if (ret) {
				pq_buf_addf(
					report,
					"series %lld: no longer held on %s, waits for its checks\n",
					ids[i], q->name);
				if ((ret = pq_state_hold(s, ids[i], q->name, PQ_CHECKS_WAIT)) < 0)
					break;
				continue;
			}
			pq_buf_addf(report, "series %lld: no longer held on %s, applying\n", ids[i],
				    q->name);
			if ((ret = pq_state_record(s, ids[i], q->name, PQ_STATE_APPROVED, NULL,
						   NULL, 0)) < 0)
				break;
			ret = pq_apply_series(s, c, repo, ids[i], q->name, 0, report);
			if (ret < 0 && ret != PQ_EDB) {
				pq_buf_addf(report, "  not applied: %s\n", pq_error_last());
				ret = 0;
			}
		}
		free(ids);
	}
	return ret == PQ_EDB ? ret : 0;
}

/* Whether an error leaves a series to the next pass rather than deciding on it. */
static int not_the_series(int ret)
{
	return ret < 0 && ret != PQ_EINVAL;
}

/*
 * Records the queues of v for series id in one transaction: a frozen (or
 * unknown) queue rejected with a reason, the others queued or, where the
 * rule lets it in automatically (auto[i]), approved, so that a crash
 * before the application leaves it to the next pass
 * (apply_waiting_approvals); held[i] (not NULL): queued, and held so.
 */
static int record_choices(struct pq_store *s, long long id, const struct pq_rules_verdict *v,
			  const int *automatic, const char *const *held)
{
	char reason[256];
	size_t i;
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	for (i = 0; i < v->n && !ret; i++) {
		const struct pq_rules_choice *ch = &v->v[i];
		enum pq_state st = automatic[i] ? PQ_STATE_APPROVED : PQ_STATE_QUEUED;

		reason[0] = '\0';
		if (!ch->queue || ch->queue->frozen) {
			snprintf(reason, sizeof(reason), "aimed at %s, which is frozen",
				 ch->rule->queue);
			st = PQ_STATE_REJECTED;
		}
		ret = pq_state_set_queue(s, id, ch->rule->queue, st, reason[0] ? reason : NULL,
					 NULL, 0);
		if (!ret)
			ret = pq_state_set_rule(s, id, ch->rule->queue, ch->rule->name);
		if (!ret && held[i] && st == PQ_STATE_QUEUED)
			ret = pq_state_set_held(s, id, ch->rule->queue, held[i]);
	}
	if (!ret)
		ret = pq_state_set_series(s, id, PQ_STATE_QUEUED);
	if (ret < 0) {
		pq_store_rollback(s);
		return ret;
	}
	return pq_store_commit(s);
}

static int triage_one(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      char **holds, long long id, struct pq_buf *report)
{
	struct pq_rules_input in;
	struct pq_rules_verdict v = { 0 };
	struct pq_elsewhere_taken taken;
	struct pq_buf checks = PQ_BUF_INIT;
	char reason[256];
	int *automatic = NULL, *replaces = NULL;
	const char **held = NULL;
	size_t i, nfrozen = 0;
	int ret, was = 0;

	/* another tree took it: no rule of ours takes it */
	if ((ret = pq_elsewhere_find(s, id, &taken)) < 0)
		return ret;
	if (ret) {
		pq_buf_addf(report, "series %lld: ", id);
		pq_elsewhere_describe(&taken, report);
		pq_buf_adds(report, ", left to that tree\n");
		pq_elsewhere_taken_free(&taken);
		return 0;
	}

	if ((ret = pq_rules_input_load(s, c, repo, id, &in)) < 0)
		goto out;
	pq_rules_decide(c, &in, &v, NULL);
	pq_rules_input_free(&in);
	/* already waiting somewhere: only the queues added now, silently if none */
	if ((ret = only_new_queues(s, id, &v, &was)) < 0 || (was && !v.n))
		goto out;
	/* incomplete or without diffs (a pull request): the rules still look at it */
	ret = pq_apply_check(s, c, repo, id, &checks);
	if (not_the_series(ret))
		goto out;
	if (!v.n) {
		pq_buf_addf(report, "series %lld: no rule matches, left for a maintainer\n", id);
		ret = 0;
		goto out;
	}
	for (i = 0; i < v.n; i++)
		nfrozen += !v.v[i].queue || v.v[i].queue->frozen;
	if (nfrozen == v.n) {
		/* aimed only at frozen queues: refused, the series with it */
		for (i = 0; i < v.n && !ret; i++) {
			snprintf(reason, sizeof(reason), "aimed at %s, which is frozen",
				 v.v[i].rule->queue);
			pq_buf_addf(report, "series %lld: %s (rule %s)\n", id, reason,
				    v.v[i].rule->name);
			ret = pq_approval_reject(s, id, v.v[i].rule->queue, reason);
		}
		goto out;
	}
	automatic = pq_calloc(v.n, sizeof(*automatic));
	replaces = pq_calloc(v.n, sizeof(*replaces));
	held = pq_calloc(v.n, sizeof(*held));
	for (i = 0; i < v.n; i++) {
		const struct pq_rules_choice *ch = &v.v[i];

		if (!ch->queue || ch->queue->frozen)
			continue;
		/* a new version of a series on a rebuilt queue would not apply on top
		 * of the old one: the rebuild puts it in its place */
		if (ch->automatic && ch->queue->rebuild &&
		    (ret = replaces_applied(s, id, ch->queue->name, &replaces[i])) < 0)
			goto out;
		/* the merge window, or the checks: an automatic intake waits, queued */
		held[i] = ch->automatic && !replaces[i] ? hold_of(c, holds, ch->queue) : NULL;
		if (!held[i] && ch->automatic && !replaces[i] &&
		    pq_checks_required(c, ch->rule, ch->queue->name))
			held[i] = PQ_CHECKS_WAIT;
		automatic[i] = ch->automatic && !replaces[i] && !held[i];
	}
	if ((ret = record_choices(s, id, &v, automatic, held)) < 0)
		goto out;
	for (i = 0; i < v.n; i++) {
		const struct pq_rules_choice *ch = &v.v[i];

		if (!ch->queue || ch->queue->frozen)
			pq_buf_addf(report, "series %lld: aimed at %s, which is frozen (rule %s)\n",
				    id, ch->rule->queue, ch->rule->name);
		else
			pq_buf_addf(report, "series %lld: queued for %s (rule %s)%s%s\n", id,
				    ch->queue->name, ch->rule->name,
				    replaces[i]
					    ? ", replaces its earlier version there at the next "
					      "rebuild"
				    : held[i]	   ? ", "
				    : automatic[i] ? ", applying"
						   : ", waits for approval",
				    held[i] ? held[i] : "");
	}
	for (i = 0; i < v.n; i++) {
		const struct pq_rules_choice *ch = &v.v[i];

		if (!ch->queue || ch->queue->frozen)
			continue;
		if (!automatic[i])
			continue;
		ret = pq_apply_series(s, c, repo, id, ch->queue->name, 0, report);
		if (ret < 0 && ret != PQ_EDB) {
			pq_buf_addf(report, "  not applied: %s\n", pq_error_last());
			ret = 0;
		}
		if (ret < 0)
			goto out;
	}
out:
	free(automatic);
	free(replaces);
	free(held);
	pq_rules_verdict_free(&v);
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

int pq_triage_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		  struct pq_buf *report)
{
	long long *ids, mark;
	size_t n, i;
	char **holds;
	int ret;

	/* taken first: what arrives during the pass is newer, and is looked at next time */
	if ((ret = pq_ingest_last_message(s, &mark)) < 0 ||
	    (ret = pq_elsewhere_scan(s, c, report, NULL)) < 0 ||
	    (ret = apply_waiting_approvals(s, c, repo, report)) < 0)
		return ret;
	holds = merge_window_holds(c, repo, report);
	if ((ret = release_holds(s, c, repo, holds, report)) < 0 ||
	    (ret = new_complete_series(s, &ids, &n)) < 0) {
		holds_free(c, holds);
		return ret;
	}
	for (i = 0; i < n && ret != PQ_EDB && !pq_stop_requested(); i++) {
		ret = triage_one(s, c, repo, holds, ids[i], report);
		if (ret == 0)
			ret = mark_triaged(s, ids[i], mark);
		else if (ret != PQ_EDB) /* the repository: looked at again next pass */
			pq_buf_addf(report, "series %lld: not decided, will try again: %s\n",
				    ids[i], pq_error_last());
	}
	free(ids);
	holds_free(c, holds);
	return ret == PQ_EDB ? ret : 0;
}

/*
 * Why series id's automatic intake by a choice of the verdict waits ("" when
 * it does not): the merge window on its queue, or its checks there (what
 * they said, when they ran).
 */
static void choice_held(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			long long id, const struct pq_rules_choice *ch, struct pq_buf *held)
{
	const struct pq_queue_conf *q = ch->queue;
	const struct pq_rule_conf *r;
	char *was = NULL;

	pq_buf_reset(held);
	if (!ch->automatic || !q || q->frozen)
		return;
	/* the merge window (looked at on the base) */
	if (q->hold_in_merge_window) {
		pq_buf_adds(held, "merge window open (");
		if (pq_repo_merge_window(repo, q->base ? q->base : q->branch, held) > 0) {
			pq_buf_addc(held, ')');
			return;
		}
		pq_buf_reset(held);
	}
	if (!pq_checks_required(c, ch->rule, q->name))
		return;
	/* the hold as recorded ("held: check X failed ..."), without its "held: " */
	if (pq_state_queue_rule(s, c, id, q->name, &r, &was) == 0 && was &&
	    !strncmp(was, PQ_CHECKS_HELD_PREFIX, strlen(PQ_CHECKS_HELD_PREFIX)))
		pq_buf_adds(held, was + strlen("held: "));
	free(was);
	if (!held->len)
		pq_buf_adds(held, PQ_CHECKS_WAIT_WHY);
}

static void explain_text(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			 long long id, const struct pq_rules_verdict *v,
			 const struct pq_elsewhere_taken *taken, struct pq_buf *out)
{
	struct pq_buf held = PQ_BUF_INIT;
	size_t i;

	if (taken) {
		pq_elsewhere_describe(taken, out);
		pq_buf_addc(out, '\n');
	}
	pq_rules_explain(v, out);
	if (taken) {
		pq_buf_adds(out, "=> taken elsewhere: no rule of ours takes it\n");
		return;
	}
	if (!v->n)
		pq_buf_adds(out, "=> no rule matches: the series goes to no queue\n");
	for (i = 0; i < v->n; i++) {
		const struct pq_rules_choice *ch = &v->v[i];

		choice_held(s, c, repo, id, ch, &held);
		pq_buf_addf(out, "=> queue %s (%s), ",
			    ch->queue ? ch->queue->name : ch->rule->queue,
			    ch->queue ? ch->queue->branch : "?");
		if (ch->queue && ch->queue->frozen)
			pq_buf_adds(out, "frozen: refused");
		else if (held.len)
			pq_buf_addf(out, "held: %s", held.ptr);
		else
			pq_buf_adds(out, ch->automatic ? "applied automatically"
						       : "waits for a maintainer's approval");
		if (v->n > 1)
			pq_buf_addf(out, " (rule \"%s\")", ch->rule->name);
		pq_buf_addc(out, '\n');
	}
	pq_buf_free(&held);
}

static void explain_json(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			 long long id, const struct pq_rules_verdict *v,
			 const struct pq_elsewhere_taken *taken, struct pq_buf *out)
{
	struct pq_buf held = PQ_BUF_INIT, first = PQ_BUF_INIT, reason = PQ_BUF_INIT;
	struct pq_json j;
	size_t i;

	pq_json_init(&j, out, 1);
	pq_json_object_begin(&j);
	pq_json_key(&j, "queues");
	pq_json_array_begin(&j);
	for (i = 0; !taken && i < v->n; i++) {
		const struct pq_rules_choice *ch = &v->v[i];

		choice_held(s, c, repo, id, ch, &held);
		if (held.len && !first.len)
			pq_buf_add(&first, held.ptr, held.len);
		pq_json_object_begin(&j);
		pq_json_kstr(&j, "queue", ch->queue ? ch->queue->name : ch->rule->queue);
		pq_json_kstr(&j, "rule", ch->rule->name);
		pq_json_kbool(&j, "automatic", ch->automatic);
		pq_json_object_end(&j);
	}
	pq_json_array_end(&j);
	pq_json_kstr(&j, "taken_elsewhere", taken ? taken->tree : NULL);
	pq_json_kstr(&j, "held", first.len ? first.ptr : NULL);
	pq_json_key(&j, "rules");
	pq_json_array_begin(&j);
	for (i = 0; i < v->nsteps; i++) {
		const struct pq_rules_step *st = &v->steps[i];
		struct pq_rules_verdict one = { .steps = v->steps + i, .nsteps = 1 };
		const char *text;

		/* the reason as the text says it, without "rule NAME (FILE:LINE): " */
		pq_buf_reset(&reason);
		pq_rules_explain(&one, &reason);
		pq_buf_rtrim(&reason);
		text = strstr(reason.ptr, "): ");
		pq_json_object_begin(&j);
		pq_json_kstr(&j, "rule", st->rule->name);
		pq_json_kbool(&j, "matches", st->matches);
		pq_json_kstr(&j, "reason", text ? text + 3 : reason.ptr);
		pq_json_object_end(&j);
	}
	pq_json_array_end(&j);
	pq_json_object_end(&j);
	pq_buf_addc(out, '\n');
	pq_buf_free(&held);
	pq_buf_free(&first);
	pq_buf_free(&reason);
}

int pq_triage_explain(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      long long id, int json, struct pq_buf *report)
{
	struct pq_rules_input in;
	struct pq_rules_verdict v;
	struct pq_elsewhere_taken taken;
	int ret, elsewhere;

	if ((elsewhere = pq_elsewhere_find(s, id, &taken)) < 0)
		return elsewhere;
	if ((ret = pq_rules_input_load(s, c, repo, id, &in)) < 0) {
		if (elsewhere)
			pq_elsewhere_taken_free(&taken);
		return ret;
	}
	/* taken elsewhere: the rules are shown, but no rule of ours takes it */
	pq_rules_decide(c, &in, &v, NULL);
	if (json)
		explain_json(s, c, repo, id, &v, elsewhere ? &taken : NULL, report);
	else
		explain_text(s, c, repo, id, &v, elsewhere ? &taken : NULL, report);
	if (elsewhere)
		pq_elsewhere_taken_free(&taken);
	pq_rules_verdict_free(&v);
	pq_rules_input_free(&in);
	return 0;
}
