/* rebuild: a rebuildable queue made again on its base (see rebuild.h). */
#include "rebuild.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "apply.h"
#include "error.h"
#include "json.h"
#include "reply.h"
#include "series.h"
#include "state.h"
#include "stop.h"

static int queue_series(struct pq_store *s, const char *queue, long long **ids, size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT series_id FROM queue_series WHERE queue = ?"
					    " ORDER BY position");

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

/*
 * A series a rebuild left out: the version tried, the one it replaced (or
 * 0), why; or (kept set) an earlier version a rebuild put a newer one in
 * the place of: id the newer, replaced the earlier.
 */
struct drop {
	long long id;
	long long replaced;
	char *reason;
	int kept;
};

/* "2026-12-06 10:31 UTC" for when, into b. */
static void add_time(struct pq_buf *b, time_t when)
{
	struct tm tm;
	char text[32];

	gmtime_r(&when, &tm);
	strftime(text, sizeof(text), "%Y-%m-%d %H:%M UTC", &tm);
	pq_buf_adds(b, text);
}

/*
 * Whether series id is on no queue any more (no application row active):
 * its own state says failed then, rather than applied.
 */
static int on_no_queue(struct pq_store *s, long long id, int *none)
{
	long long n;
	int ret = pq_store_scalar_id(
		s, "SELECT count(*) FROM application WHERE series_id = ? AND active", id, &n);

	*none = ret == 0 && n == 0;
	return ret;
}

/* Series id's own state, its name as state.c wrote it, into *state (static). */
static int own_state(struct pq_store *s, long long id, const char **state)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT state FROM series WHERE id = ?");
	enum pq_state e = PQ_STATE_NEW;
	int rc;

	*state = "";
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && pq_state_parse(pq_store_col_text(st, 0), &e) == 0)
		*state = pq_state_name(e);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading a state");
}

/*
 * What a rebuild did to one series on queue, in the caller's transaction:
 * a dropped series (and the version it was to replace) failed there with
 * "dropped by the rebuild of Q at T: why", and failed itself when it is on
 * no queue any more; a replaced version superseded there.
 */
/*
 * The short notice to the submitter of series id that the rebuild of
 * queue dropped it, when [reply] dropNotice asks for one (through the
 * outbox, held with [reply] hold), in the caller's transaction.
 */
static int notify_drop(struct pq_store *s, const struct pq_config *c, const char *queue,
		       long long id, const char *why, time_t now)
{
	struct pq_reply_about a = { .queue = queue, .dropped = why, .asked = 1, .now = now };
	struct pq_series *se;
	int ret;

	if (!c->reply.drop_notice)
		return 0;
	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret == PQ_EDB ? ret : 0;
	a.series = se;
	ret = pq_reply_record(s, c, &a);
	pq_series_free(se);
	return ret == PQ_EDB ? ret : 0;
}

static int record_drop(struct pq_store *s, const struct pq_config *c, const char *queue,
		       const struct drop *d, time_t now)
{
	struct pq_buf why = PQ_BUF_INIT;
	const char *state = "";
	int ret, none;

	if (d->kept) {
		pq_buf_addf(&why,
			    "replaced by its newer version, series %lld, in the rebuild of %s at ",
			    d->id, queue);
		add_time(&why, now);
		ret = pq_state_set_queue(s, d->replaced, queue, PQ_STATE_SUPERSEDED, why.ptr, NULL,
					 0);
		pq_buf_free(&why);
		return ret;
	}
	pq_buf_addf(&why, "dropped by the rebuild of %s at ", queue);
	add_time(&why, now);
	pq_buf_addf(&why, ": %s", d->reason);
	if ((ret = pq_state_set_queue(s, d->id, queue, PQ_STATE_FAILED, why.ptr, NULL, 0)) < 0 ||
	    (d->replaced && (ret = pq_state_set_queue(s, d->replaced, queue, PQ_STATE_FAILED,
						      why.ptr, NULL, 0)) < 0) ||
	    (ret = notify_drop(s, c, queue, d->id, d->reason, now)) < 0)
		goto out;
	/* the series' own state: applied no more, unless on another queue */
	if ((ret = on_no_queue(s, d->id, &none)) < 0 || !none ||
	    (ret = own_state(s, d->id, &state)) < 0)
		goto out;
	if (!strcmp(state, pq_state_name(PQ_STATE_APPLIED)))
		ret = pq_state_set_series(s, d->id, PQ_STATE_FAILED);
out:
	pq_buf_free(&why);
	return ret;
}

/*
 * Records the rebuild of queue on base (the branch now at tip) and what it
 * dropped, in the caller's transaction: each dropped series, and the
 * version it replaced, is failed on the queue with the reason (none of
 * its commits is on the branch any more); each version replaced by a
 * newer one is superseded there.
 */
static int record_rebuild(struct pq_store *s, const struct pq_config *c, const char *queue,
			  const char *base, const char *tip, size_t kept, const struct drop *drops,
			  size_t ndrops)
{
	sqlite3_stmt *st = pq_store_stmt(s, "INSERT INTO rebuild (queue, base, tip, kept, rebuilt)"
					    " VALUES (?, ?, ?, ?, ?)");
	time_t now = time(NULL);
	long long rebuild;
	size_t i;
	int ret;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, queue);
	pq_store_bind_text(st, 2, base);
	pq_store_bind_text(st, 3, tip);
	sqlite3_bind_int64(st, 4, (long long)kept);
	sqlite3_bind_int64(st, 5, (long long)now);
	if ((ret = pq_store_step_done(s, st)) < 0)
		return ret;
	rebuild = pq_store_last_id(s);
	for (i = 0; i < ndrops; i++) {
		if (drops[i].kept) {
			if ((ret = record_drop(s, c, queue, &drops[i], now)) < 0)
				return ret;
			continue;
		}
		st = pq_store_stmt(s, "INSERT OR REPLACE INTO rebuild_drop (rebuild_id, series_id,"
				      " replaced, reason) VALUES (?, ?, ?, ?)");
		if (!st)
			return PQ_EDB;
		sqlite3_bind_int64(st, 1, rebuild);
		sqlite3_bind_int64(st, 2, drops[i].id);
		if (drops[i].replaced)
			sqlite3_bind_int64(st, 3, drops[i].replaced);
		pq_store_bind_text(st, 4, drops[i].reason);
		if ((ret = pq_store_step_done(s, st)) < 0 ||
		    (ret = record_drop(s, c, queue, &drops[i], now)) < 0)
			return ret;
	}
	return 0;
}

/* Remembers that queue was rebuilt on base tip, in the caller's transaction. */
static int remember_base(struct pq_store *s, const char *queue, const char *tip)
{
	sqlite3_stmt *st = pq_store_stmt(s,
					 "INSERT OR REPLACE INTO queue_base (queue, tip, rebuilt)"
					 " VALUES (?, ?, ?)");

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, queue);
	pq_store_bind_text(st, 2, tip);
	sqlite3_bind_int64(st, 3, (long long)time(NULL));
	return pq_store_step_done(s, st);
}

int pq_rebuild_due(struct pq_store *s, struct pq_repo *repo, const struct pq_queue_conf *q,
		   int *due, struct pq_buf *why)
{
	sqlite3_stmt *st;
	char tip[41];
	char *last = NULL;
	long long newer;
	int ret;

	*due = 0;
	if (!q->rebuild || !q->base || q->frozen)
		return 0;
	if ((ret = pq_repo_tip(repo, q->base, tip)) < 0)
		return ret;
	st = pq_store_stmt(s, "SELECT tip FROM queue_base WHERE queue = ?");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, q->name);
	ret = sqlite3_step(st);
	if (ret == SQLITE_ROW)
		last = pq_store_col_dup(st, 0);
	else if (ret != SQLITE_DONE)
		ret = pq_store_error(s, "reading the last rebuild");
	sqlite3_reset(st);
	if (ret < 0)
		return ret;
	if (!last || strcmp(last, tip)) {
		*due = 1;
		if (why)
			pq_buf_addf(why, last ? "%s moved to %.12s" : "%s at %.12s, never rebuilt",
				    q->base, tip);
		free(last);
		return 0;
	}
	free(last);
	st = pq_store_stmt(s, "SELECT count(*) FROM queue_series a JOIN complete_series n"
			      " ON n.supersedes = a.series_id WHERE a.queue = ?");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, q->name);
	if ((ret = pq_store_scalar(s, st, &newer)) < 0)
		return ret;
	*due = newer > 0;
	if (*due && why)
		pq_buf_addf(why, "%lld series on it ha%s a newer version", newer,
			    newer == 1 ? "s" : "ve");
	return 0;
}

int pq_rebuild_queue(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		     const char *queue, struct pq_buf *report)
{
	const struct pq_queue_conf *q = pq_apply_target(c, queue);
	struct pq_applier_opts o = { 0 };
	struct pq_apply_plan *plans = NULL;
	struct drop *drops = NULL;
	long long *ids = NULL;
	char tip[41] = "", base[41] = "", cur[41] = "";
	size_t n = 0, i, kept = 0, ndrops = 0;
	int ret;

	if (!q)
		return PQ_EINVAL;
	if (!q->rebuild || !q->base)
		return pq_error_set(PQ_EINVAL,
				    "queue \"%s\" is not rebuilt (it needs rebuild = true"
				    " and a base)",
				    queue);
	if ((ret = pq_repo_tip(repo, q->base, base)) < 0)
		return ret;
	memcpy(cur, base, sizeof(cur));
	if ((ret = pq_repo_tip(repo, q->branch, tip)) < 0 && ret != PQ_ENOTFOUND)
		return ret;
	if ((ret = queue_series(s, queue, &ids, &n)) < 0)
		return ret;
	plans = pq_calloc(n ? n : 1, sizeof(*plans));
	drops = pq_calloc(n ? n : 1, sizeof(*drops)); /* one per series on the queue */
	pq_buf_addf(report, "rebuilding %s on %s (%.12s)\n", queue, q->base, cur);
	for (i = 0; i < n; i++) {
		struct pq_apply_plan *p = &plans[kept];
		long long id;

		if (pq_stop_requested()) {
			ret = pq_error_set(PQ_ERROR, "rebuild of %s stopped: the branch stays",
					   queue);
			goto out;
		}
		if ((ret = pq_series_newest(s, ids[i], &id)) < 0)
			goto out;
		if (id != ids[i])
			pq_buf_addf(report, "  series %lld replaced by its newer version %lld\n",
				    ids[i], id);
		if ((ret = pq_apply_plan_load(s, c, id, 0, p)) < 0 ||
		    (ret = pq_apply_plan_run(s, c, repo, q, id, cur, p, PQ_APPLY_CHAIN, report)) <
			    0) {
			const char *why = pq_apply_plan_error(p);

			if (ret != PQ_EGIT && ret != PQ_EINVAL) /* not the series' fault */
				goto out;
			pq_buf_addf(report, "  series %lld no longer applies: %s\n", id,
				    why ? why : pq_error_last());
			/* recorded with the new branch: until it moves, the series is on it */
			drops[ndrops].id = id;
			drops[ndrops].replaced = id != ids[i] ? ids[i] : 0;
			drops[ndrops++].reason = pq_strdup(why ? why : pq_error_last());
			pq_apply_plan_free(p);
			continue;
		}
		memcpy(cur, p->tip, sizeof(cur));
		pq_buf_addf(report, "  series %lld: %zu patch(es), now %.12s\n", id, p->n, cur);
		kept++;
		if (id != ids[i]) { /* the earlier version is superseded there */
			drops[ndrops].id = id;
			drops[ndrops].replaced = ids[i];
			drops[ndrops++].kept = 1;
		}
	}
	/* move the branch once, from the tip we saw to the new one */
	o.committer_name = c->committer_name;
	o.committer_email = c->committer_email;
	if (strcmp(tip, cur) && (ret = pq_applier_run(repo, q->branch, cur, NULL, 0, &o, NULL)) < 0)
		goto out;
	pq_buf_addf(report, "%s: %s%.12s\n", queue, strcmp(tip, cur) ? "now " : "unchanged at ",
		    cur);
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	if ((ret = retire(s, queue)) < 0)
		goto rollback;
	for (i = 0; i < kept; i++)
		if ((ret = pq_apply_record_rows(s, queue, &plans[i])) < 0)
			goto rollback;
	if ((ret = remember_base(s, queue, base)) < 0 ||
	    (ret = record_rebuild(s, c, queue, base, cur, kept, drops, ndrops)) < 0)
		goto rollback;
	ret = pq_store_commit(s);
	goto out;
rollback:
	pq_store_rollback(s);
out:
	for (i = 0; i < kept; i++)
		pq_apply_plan_free(&plans[i]);
	if (kept < n)
		pq_apply_plan_free(&plans[kept]);
	free(plans);
	for (i = 0; i < ndrops; i++)
		free(drops[i].reason);
	free(drops);
	free(ids);
	return ret;
}

int pq_rebuild_last(struct pq_store *s, const char *queue, const char *report, struct pq_buf *out,
		    size_t *dropped)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT id, base, tip, kept, rebuilt FROM rebuild"
					    " WHERE queue = ? ORDER BY id DESC LIMIT 1");
	struct pq_json j;
	long long id = 0;
	int rc;

	*dropped = 0;
	if (!st)
		return PQ_EDB;
	if (out) {
		pq_json_init(&j, out, 1);
		pq_json_object_begin(&j);
		pq_json_kstr(&j, "queue", queue);
	}
	pq_store_bind_text(st, 1, queue);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		if (out) {
			pq_json_kstr(&j, "base", pq_store_col_text(st, 1));
			pq_json_kstr(&j, "tip", pq_store_col_text(st, 2));
			pq_json_kint(&j, "kept", sqlite3_column_int64(st, 3));
			pq_json_kint(&j, "rebuilt", sqlite3_column_int64(st, 4));
		}
	} else if (out) {
		pq_json_key(&j, "rebuilt");
		pq_json_null(&j);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return pq_store_error(s, "reading the last rebuild");
	st = pq_store_stmt(s, "SELECT series_id, replaced, reason FROM rebuild_drop"
			      " WHERE rebuild_id = ? ORDER BY series_id");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if (out) {
		pq_json_key(&j, "dropped");
		pq_json_array_begin(&j);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		(*dropped)++;
		if (!out)
			continue;
		pq_json_object_begin(&j);
		pq_json_kint(&j, "series", sqlite3_column_int64(st, 0));
		pq_json_key(&j, "replaced");
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			pq_json_null(&j);
		else
			pq_json_int(&j, sqlite3_column_int64(st, 1));
		pq_json_kstr(&j, "reason", pq_store_col_text(st, 2));
		pq_json_object_end(&j);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return pq_store_error(s, "reading what a rebuild dropped");
	if (out) {
		pq_json_array_end(&j);
		pq_json_key(&j, "report");
		if (report)
			pq_json_str(&j, report);
		else
			pq_json_null(&j);
		pq_json_object_end(&j);
		pq_buf_addc(out, '\n');
	}
	return 0;
}
