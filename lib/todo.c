/* todo: the maintainer's to-do, computed once, written three ways (see todo.h). */
#include "todo.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "html.h"
#include "json.h"
#include "outbox.h"
#include "series.h"
#include "state.h"

/* The columns every section reads of the series, from s: id, name, version, address, name. */
#define SERIES_COLUMNS "s.id, s.name, s.version, s.submitter, s.submitter_name, s.date"

static struct pq_todo_item *item_add(struct pq_todo_list *l, sqlite3_stmt *st)
{
	struct pq_todo_item *it;

	l->v = pq_reallocarray(l->v, l->n + 1, sizeof(*l->v));
	it = &l->v[l->n++];
	memset(it, 0, sizeof(*it));
	if (st) {
		it->series = sqlite3_column_int64(st, 0);
		it->name = pq_store_col_dup(st, 1);
		it->version = sqlite3_column_int(st, 2);
		it->submitter = pq_store_col_dup(st, 3);
		it->submitter_name = pq_store_col_dup(st, 4);
		it->when = sqlite3_column_int64(st, 5);
	}
	return it;
}

static void item_free(struct pq_todo_item *it)
{
	free(it->name);
	free(it->submitter);
	free(it->submitter_name);
	free(it->state);
	free(it->rule);
	free(it->reason);
	free(it->trailer);
	free(it->held);
	free(it->elsewhere);
	free(it->checks);
}

void pq_todo_list_free(struct pq_todo_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		item_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Steps st (bound) to the end, an item per row; columns 6.. are state, rule,
 * whether checked, applies, reason, held, taken elsewhere, the checks, and
 * when it came about when not the series' date. */
static int read_checked(struct pq_store *s, sqlite3_stmt *st, struct pq_todo_list *l)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pq_todo_item *it = item_add(l, st);

		it->state = pq_store_col_dup(st, 6);
		it->rule = pq_store_col_dup(st, 7);
		it->checked = sqlite3_column_type(st, 8) != SQLITE_NULL;
		it->applies = sqlite3_column_int(st, 8);
		it->reason = pq_store_col_dup(st, 9);
		it->held = pq_store_col_dup(st, 10);
		it->elsewhere = pq_store_col_dup(st, 11);
		it->checks = pq_store_col_dup(st, 12);
		if (sqlite3_column_type(st, 13) != SQLITE_NULL)
			it->when = sqlite3_column_int64(st, 13);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading the to-do");
}

/*
 * The rows of st, whose last parameter (at limit_at) is the LIMIT, then how
 * many there are in all: count, the same query's count(*) with the same
 * parameters but the limit (limit 0: all, and the total is what was read).
 */
static int read_some(struct pq_store *s, sqlite3_stmt *st, sqlite3_stmt *count, int limit_at,
		     size_t limit, struct pq_todo_list *l)
{
	long long total;
	int ret;

	sqlite3_bind_int64(st, limit_at, limit ? (long long)limit : -1);
	if ((ret = read_checked(s, st, l)) < 0)
		return ret;
	l->total = l->n;
	if (!limit || l->n < limit)
		return 0;
	if ((ret = pq_store_scalar(s, count, &total)) < 0)
		return ret;
	l->total = (size_t)total;
	return 0;
}

/*
 * The series on queue in state a (or b, when not NULL) with their rule and
 * latest dry run there, oldest first, at most limit (0: all); with
 * failed, only those whose dry run failed.
 */
static int checked_list(struct pq_store *s, const char *queue, enum pq_state a,
			const enum pq_state *b, int failed, size_t limit, struct pq_todo_list *l)
{
#define CHECKED_FROM                                                                       \
	" FROM series_queue q JOIN series s ON s.id = q.series_id"                         \
	" LEFT JOIN check_result c ON c.series_id = q.series_id AND c.queue = q.queue"     \
	" WHERE q.queue = ?1 AND q.state IN (?2, ?3) AND (NOT ?4 OR (c.ok IS NOT NULL AND" \
	" NOT c.ok))"
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT " SERIES_COLUMNS ", q.state, q.rule, c.ok,"
				 " c.error, q.held, (SELECT e.tree || ' (by ' || e.by || ')'"
				 " FROM elsewhere_reply e JOIN ref r ON r.message_id ="
				 " e.message_id JOIN message t ON t.msgid = r.msgid"
				 " WHERE t.series_id = q.series_id ORDER BY e.message_id"
				 " LIMIT 1), (SELECT CASE WHEN count(*) = 0 THEN NULL"
				 "  WHEN total(k.state <> 'pass') = 0 THEN count(DISTINCT k.name)"
				 "  || ' pass' ELSE 'failed: ' || group_concat(DISTINCT CASE"
				 "  WHEN k.state <> 'pass' THEN k.name END) END FROM series_check k"
				 "  WHERE k.series_id = q.series_id AND k.queue = q.queue),"
				 " CASE WHEN ?4 THEN c.checked END" CHECKED_FROM
				 " ORDER BY q.series_id LIMIT ?5");
	sqlite3_stmt *count = pq_store_stmt(s, "SELECT count(*)" CHECKED_FROM);
#undef CHECKED_FROM
	int i;

	if (!st || !count)
		return PQ_EDB;
	for (i = 0; i < 2; i++) {
		sqlite3_stmt *q = i ? count : st;

		pq_store_bind_text(q, 1, queue);
		pq_store_bind_text(q, 2, pq_state_name(a));
		pq_store_bind_text(q, 3, pq_state_name(b ? *b : a));
		sqlite3_bind_int(q, 4, failed);
	}
	return read_some(s, st, count, 5, limit, l);
}

/* The series waiting on queue, oldest first, at most limit (0: all). */
static int waiting(struct pq_store *s, const char *queue, size_t limit, struct pq_todo_list *l)
{
	return checked_list(s, queue, PQ_STATE_QUEUED, NULL, 0, limit, l);
}

int pq_todo_waiting(struct pq_store *s, const char *queue, struct pq_todo_list *l)
{
	return waiting(s, queue, 0, l);
}

/* Queued or approved on queue, and the latest dry run there failed; at most limit. */
static int stopped(struct pq_store *s, const char *queue, size_t limit, struct pq_todo_list *l)
{
	static const enum pq_state approved = PQ_STATE_APPROVED;

	return checked_list(s, queue, PQ_STATE_QUEUED, &approved, 1, limit, l);
}

/*
 * Newer complete versions of the series on queue that are not on it
 * themselves, in the order the older ones went in: the chain of versions
 * followed as pq_series_newest() follows it, for the whole queue at once.
 */
static int new_versions(struct pq_store *s, const char *queue, struct pq_todo_list *l)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "WITH RECURSIVE onq(id, pos) AS (SELECT series_id, min(id) FROM application"
		   "  WHERE queue = ?1 AND active GROUP BY series_id),"
		   " chain(root, id, hops) AS (SELECT id, id, 0 FROM onq UNION ALL"
		   "  SELECT c.root, (SELECT max(n.id) FROM complete_series n"
		   "   WHERE n.supersedes = c.id), c.hops + 1 FROM chain c"
		   "  WHERE c.id IS NOT NULL AND c.hops < 64),"
		   " newest(root, id) AS (SELECT root, id FROM (SELECT root, id, hops,"
		   "  max(hops) OVER (PARTITION BY root) AS top FROM chain WHERE id IS NOT NULL)"
		   "  WHERE hops = top AND hops > 0)"
		   " SELECT " SERIES_COLUMNS ", w.root FROM newest w JOIN onq o ON o.id = w.root"
		   " JOIN series s ON s.id = w.id WHERE w.id NOT IN (SELECT id FROM onq)"
		   " ORDER BY o.pos");
	int rc;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, queue);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		item_add(l, st)->other = sqlite3_column_int64(st, 6);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading the new versions");
}

/*
 * The series on queue that a reply with trailers answered after they were
 * applied (after the oldest message their patches saw), in the order they
 * went in. The replies are linked as pq_series_load() links them, so no
 * series with a late trailer is left out, and few are read whole.
 */
static int late_candidates(struct pq_store *s, const char *queue, long long **ids, size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT a.series_id FROM (SELECT series_id, min(seen) AS seen, min(id) AS pos"
		   "  FROM application WHERE queue = ? AND active GROUP BY series_id) a"
		   " JOIN series s ON s.id = a.series_id"
		   " WHERE EXISTS (SELECT 1 FROM message t JOIN ref r ON r.msgid = t.msgid"
		   "  JOIN message m ON m.id = r.message_id"
		   "  WHERE t.series_id IN (s.id, s.reroll_of) AND m.kind = 'reply'"
		   "  AND m.id > a.seen AND EXISTS (SELECT 1 FROM trailer x"
		   "   WHERE x.message_id = m.id AND x.origin = 'reply'))"
		   " ORDER BY a.pos");
	int rc;

	*ids = NULL;
	*n = 0;
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, queue);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*ids = pq_reallocarray(*ids, *n + 1, sizeof(**ids));
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading the series on a queue");
}

/* The trailers of series id collected after its patches were applied to queue. */
static int late_trailers(struct pq_store *s, const struct pq_config *c, const char *queue,
			 long long id, struct pq_todo_list *l)
{
	sqlite3_stmt *st;
	struct pq_series *se;
	struct pq_buf b = PQ_BUF_INIT;
	size_t i, k;
	int ret, rc;

	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret == PQ_ENOTFOUND ? 0 : ret;
	for (i = 0; i < se->npatches && ret == 0; i++) {
		const struct pq_series_patch *p = &se->patches[i];
		long long seen;

		if (!p->collected.n)
			continue;
		st = pq_store_stmt(
			s, "SELECT seen FROM application WHERE message_id = ?"
			   " AND queue = ? AND active AND series_id = ? ORDER BY id LIMIT 1");
		if (!st) {
			ret = PQ_EDB;
			break;
		}
		sqlite3_bind_int64(st, 1, p->id);
		pq_store_bind_text(st, 2, queue);
		sqlite3_bind_int64(st, 3, id);
		rc = sqlite3_step(st);
		seen = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			ret = pq_store_error(s, "reading an application");
			break;
		}
		for (k = 0; seen >= 0 && k < p->collected.n; k++) {
			struct pq_todo_item *it;

			if (p->collected_from[k] <= seen)
				continue;
			it = item_add(l, NULL);
			it->series = se->id;
			it->name = se->name ? pq_strdup(se->name) : NULL;
			it->version = se->version;
			it->submitter = se->submitter ? pq_strdup(se->submitter) : NULL;
			it->submitter_name = se->submitter_name ? pq_strdup(se->submitter_name)
								: NULL;
			it->patch = p->index;
			pq_buf_reset(&b);
			pq_buf_addf(&b, "%s: %s", p->collected.v[k].name, p->collected.v[k].value);
			it->trailer = pq_strdup(pq_buf_str(&b));
			it->message = p->collected_from[k];
			if ((ret = pq_store_scalar_id(s,
						      "SELECT min(d.received) FROM message m"
						      " JOIN delivery d ON d.raw_id = m.raw_id"
						      " WHERE m.id = ?",
						      it->message, &it->when)) < 0)
				break;
		}
	}
	pq_buf_free(&b);
	pq_series_free(se);
	return ret;
}

/* What the last rebuild of queue left out. */
static int dropped(struct pq_store *s, struct pq_todo_queue *q)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT id, rebuilt FROM rebuild WHERE queue = ?"
					    " ORDER BY id DESC LIMIT 1");
	long long rebuild = 0;
	int rc;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, q->name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rebuild = sqlite3_column_int64(st, 0);
		q->rebuild = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return pq_store_error(s, "reading the last rebuild");
	if (!rebuild)
		return 0;
	st = pq_store_stmt(s,
			   "SELECT " SERIES_COLUMNS ", d.replaced, d.reason, q.state"
			   " FROM rebuild_drop d JOIN series s ON s.id = d.series_id"
			   " LEFT JOIN series_queue q ON q.series_id = d.series_id AND q.queue = ?2"
			   " WHERE d.rebuild_id = ?1 ORDER BY d.series_id");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, rebuild);
	pq_store_bind_text(st, 2, q->name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pq_todo_item *it = item_add(&q->dropped, st);

		it->other = sqlite3_column_int64(st, 6);
		it->reason = pq_store_col_dup(st, 7);
		it->state = pq_store_col_dup(st, 8);
		it->when = q->rebuild;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading what a rebuild dropped");
}

/* Keeps the first limit items of l (0: all); its total is what was found. */
static void cut(struct pq_todo_list *l, size_t limit)
{
	l->total = l->n;
	while (limit && l->n > limit)
		item_free(&l->v[--l->n]);
}

static int load_queue(struct pq_store *s, const struct pq_config *c, size_t limit,
		      struct pq_todo_queue *q)
{
	long long *ids;
	size_t n, i;
	int ret;

	if ((ret = waiting(s, q->name, limit, &q->waiting)) < 0 ||
	    (ret = stopped(s, q->name, limit, &q->stopped)) < 0 || (ret = dropped(s, q)) < 0 ||
	    (ret = new_versions(s, q->name, &q->new_versions)) < 0 ||
	    (ret = late_candidates(s, q->name, &ids, &n)) < 0)
		return ret;
	for (i = 0; i < n && ret == 0; i++)
		ret = late_trailers(s, c, q->name, ids[i], &q->late_trailers);
	free(ids);
	cut(&q->new_versions, limit);
	cut(&q->late_trailers, limit);
	cut(&q->dropped, limit);
	return ret;
}

/* The replies not sent, oldest first, at most limit (0: all), and how many in all. */
static int load_replies(struct pq_store *s, size_t limit, struct pq_todo *t)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT o.id, o.series_id, s.name, s.version, o.queue, o.kind, o.state,"
		   " o.attempts, o.error, o.next_attempt, o.created FROM outbox o"
		   " JOIN series s ON s.id = o.series_id"
		   " WHERE" PQ_OUTBOX_UNSENT "ORDER BY o.id LIMIT ?");
	sqlite3_stmt *count =
		pq_store_stmt(s, "SELECT count(*) FROM outbox o WHERE" PQ_OUTBOX_UNSENT);
	long long total;
	int rc;

	if (!st || !count)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, limit ? (long long)limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pq_todo_reply *r;

		t->replies = pq_reallocarray(t->replies, t->nreplies + 1, sizeof(*t->replies));
		r = &t->replies[t->nreplies++];
		r->id = sqlite3_column_int64(st, 0);
		r->series = sqlite3_column_int64(st, 1);
		r->name = pq_store_col_dup(st, 2);
		r->version = sqlite3_column_int(st, 3);
		r->queue = pq_store_col_dup(st, 4);
		r->kind = pq_store_col_dup(st, 5);
		r->state = pq_store_col_dup(st, 6);
		r->attempts = sqlite3_column_int(st, 7);
		r->error = pq_store_col_dup(st, 8);
		r->next_attempt = sqlite3_column_int64(st, 9);
		r->created = sqlite3_column_int64(st, 10);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return pq_store_error(s, "reading the outbox");
	t->replies_total = t->nreplies;
	if (!limit || t->nreplies < limit)
		return 0;
	if ((rc = pq_store_scalar(s, count, &total)) < 0)
		return rc;
	t->replies_total = (size_t)total;
	return 0;
}

int pq_todo_load(struct pq_store *s, const struct pq_config *c, struct pq_todo **out)
{
	return pq_todo_load_some(s, c, 0, out);
}

int pq_todo_load_some(struct pq_store *s, const struct pq_config *c, size_t limit,
		      struct pq_todo **out)
{
	struct pq_todo *t;
	size_t i;
	int ret = 0;

	*out = NULL;
	if (!c)
		return pq_error_set(PQ_EINVAL, "the to-do needs the configuration (its queues)");
	t = pq_calloc(1, sizeof(*t));
	t->queues = pq_calloc(c->nqueues ? c->nqueues : 1, sizeof(*t->queues));
	t->nqueues = c->nqueues;
	for (i = 0; i < c->nqueues; i++)
		t->queues[i].name = pq_strdup(c->queues[i].name);
	for (i = 0; i < c->nqueues && ret == 0; i++)
		ret = load_queue(s, c, limit, &t->queues[i]);
	if (ret == 0)
		ret = load_replies(s, limit, t);
	if (ret < 0) {
		pq_todo_free(t);
		return ret;
	}
	*out = t;
	return 0;
}

void pq_todo_free(struct pq_todo *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nqueues; i++) {
		struct pq_todo_queue *q = &t->queues[i];

		free(q->name);
		pq_todo_list_free(&q->waiting);
		pq_todo_list_free(&q->new_versions);
		pq_todo_list_free(&q->late_trailers);
		pq_todo_list_free(&q->stopped);
		pq_todo_list_free(&q->dropped);
	}
	for (i = 0; i < t->nreplies; i++) {
		free(t->replies[i].name);
		free(t->replies[i].queue);
		free(t->replies[i].kind);
		free(t->replies[i].state);
		free(t->replies[i].error);
	}
	free(t->queues);
	free(t->replies);
	free(t);
}

/* ---- writing ---- */

enum section { WAITING, NEW_VERSIONS, LATE, STOPPED, DROPPED, NSECTIONS };

static const struct {
	const char *key;   /* JSON */
	const char *title; /* text and HTML */
} sections[NSECTIONS] = {
	[WAITING] = { "waiting", "waiting for approval" },
	[NEW_VERSIONS] = { "new_versions", "new versions of series on the queue" },
	[LATE] = { "late_trailers", "trailers that arrived after applying" },
	[STOPPED] = { "stopped_applying", "stopped applying since the queue moved" },
	[DROPPED] = { "dropped", "dropped by the last rebuild" },
};

static const struct pq_todo_list *section_list(const struct pq_todo_queue *q, enum section k)
{
	switch (k) {
	case WAITING:
		return &q->waiting;
	case NEW_VERSIONS:
		return &q->new_versions;
	case LATE:
		return &q->late_trailers;
	case STOPPED:
		return &q->stopped;
	default:
		return &q->dropped;
	}
}

/* What a row says besides the series: the rule and dry run, the reason, the older version. */
static void item_detail(struct pq_buf *b, enum section k, const struct pq_todo_item *it)
{
	if ((k == WAITING || k == STOPPED) && it->elsewhere)
		pq_buf_addf(b, "taken elsewhere: %s; ", it->elsewhere);
	if ((k == WAITING || k == STOPPED) && it->held)
		pq_buf_addf(b, "%s; ", it->held);
	if ((k == WAITING || k == STOPPED) && it->checks)
		pq_buf_addf(b, "checks: %s; ", it->checks);
	switch (k) {
	case WAITING:
		pq_buf_addf(b, "%s%s; ", it->rule ? "rule " : "by hand", it->rule ? it->rule : "");
		if (!it->checked)
			pq_buf_adds(b, "no dry run yet");
		else if (it->applies)
			pq_buf_adds(b, "dry run: applies");
		else
			pq_buf_addf(b, "dry run: %s", it->reason ? it->reason : "does not apply");
		break;
	case NEW_VERSIONS:
		pq_buf_addf(b, "newer than %lld on the queue", it->other);
		break;
	case LATE:
		pq_buf_addf(b, "[%d] %s", it->patch, it->trailer);
		break;
	case STOPPED:
		pq_buf_addf(b, "%s: %s", it->state, it->reason ? it->reason : "does not apply");
		break;
	default:
		if (it->other)
			pq_buf_addf(b, "in place of %lld: ", it->other);
		pq_buf_adds(b, it->reason ? it->reason : "");
		break;
	}
}

static void write_text(const struct pq_todo *t, struct pq_buf *out)
{
	struct pq_buf d = PQ_BUF_INIT;
	size_t i, j;
	int k, any = 0;

	for (i = 0; i < t->nqueues; i++) {
		const struct pq_todo_queue *q = &t->queues[i];
		int head = 0;

		for (k = 0; k < NSECTIONS; k++) {
			const struct pq_todo_list *l = section_list(q, (enum section)k);

			if (!l->n)
				continue;
			if (!head++)
				pq_buf_addf(out, "%s%s\n", any++ ? "\n" : "", q->name);
			pq_buf_addf(out, "  %s (%zu):\n", sections[k].title, l->total);
			for (j = 0; j < l->n; j++) {
				const struct pq_todo_item *it = &l->v[j];

				pq_buf_reset(&d);
				item_detail(&d, (enum section)k, it);
				pq_buf_addf(out, "  %6lld  v%-2d %s <%s>\n          %s\n",
					    it->series, it->version,
					    it->name ? it->name : "(unnamed)",
					    it->submitter ? it->submitter : "", pq_buf_str(&d));
			}
			if (l->total > l->n)
				pq_buf_addf(out, "  ... and %zu more\n", l->total - l->n);
		}
	}
	if (t->nreplies)
		pq_buf_addf(out, "%sreplies not sent (%zu):\n", any++ ? "\n" : "",
			    t->replies_total);
	for (j = 0; j < t->nreplies; j++) {
		const struct pq_todo_reply *r = &t->replies[j];

		pq_buf_addf(out, "  %6lld  %-7s series %lld v%d %s, %s on %s, %d attempt%s%s%s\n",
			    r->id, r->state, r->series, r->version, r->name ? r->name : "(unnamed)",
			    r->kind, r->queue, r->attempts, r->attempts == 1 ? "" : "s",
			    r->error ? ": " : "", r->error ? r->error : "");
	}
	if (t->replies_total > t->nreplies)
		pq_buf_addf(out, "  ... and %zu more\n", t->replies_total - t->nreplies);
	if (!any)
		pq_buf_adds(out, "nothing to do\n");
	pq_buf_free(&d);
}

void pq_todo_write_waiting(const struct pq_todo_list *l, struct pq_buf *out)
{
	struct pq_buf d = PQ_BUF_INIT;
	size_t j;

	for (j = 0; j < l->n; j++) {
		const struct pq_todo_item *it = &l->v[j];

		pq_buf_reset(&d);
		item_detail(&d, WAITING, it);
		pq_buf_addf(out, "%6lld  v%d %s <%s>\n        %s\n", it->series, it->version,
			    it->name ? it->name : "(unnamed)", it->submitter ? it->submitter : "",
			    pq_buf_str(&d));
	}
	pq_buf_free(&d);
}

static void json_item(struct pq_json *j, enum section k, const struct pq_todo_item *it)
{
	pq_json_object_begin(j);
	pq_json_kint(j, "series", it->series);
	pq_json_kstr(j, "name", it->name);
	pq_json_kint(j, "version", it->version);
	pq_json_kstr(j, "submitter", it->submitter);
	pq_json_kstr(j, "submitter_name", it->submitter_name);
	pq_json_key(j, "when");
	if (it->when)
		pq_json_int(j, it->when);
	else
		pq_json_null(j);
	switch (k) {
	case WAITING:
	case STOPPED:
		pq_json_kstr(j, "state", it->state);
		pq_json_kstr(j, "rule", it->rule);
		pq_json_key(j, "applies");
		if (it->checked)
			pq_json_bool(j, it->applies);
		else
			pq_json_null(j);
		pq_json_kstr(j, "reason", it->reason);
		pq_json_kstr(j, "held", it->held);
		pq_json_kstr(j, "taken_elsewhere", it->elsewhere);
		pq_json_kstr(j, "checks", it->checks);
		break;
	case NEW_VERSIONS:
		pq_json_kint(j, "newer_than", it->other);
		break;
	case LATE:
		pq_json_kint(j, "patch", it->patch);
		pq_json_kstr(j, "trailer", it->trailer);
		pq_json_kint(j, "message", it->message);
		break;
	default:
		pq_json_key(j, "replaced");
		if (it->other)
			pq_json_int(j, it->other);
		else
			pq_json_null(j);
		pq_json_kstr(j, "reason", it->reason);
		pq_json_kstr(j, "state", it->state);
		break;
	}
	pq_json_object_end(j);
}

static void write_json(const struct pq_todo *t, struct pq_buf *out)
{
	struct pq_json j;
	size_t i, n;
	int k;

	pq_json_init(&j, out, 1);
	pq_json_object_begin(&j);
	pq_json_key(&j, "queues");
	pq_json_array_begin(&j);
	for (i = 0; i < t->nqueues; i++) {
		const struct pq_todo_queue *q = &t->queues[i];

		pq_json_object_begin(&j);
		pq_json_kstr(&j, "queue", q->name);
		for (k = 0; k < NSECTIONS; k++) {
			const struct pq_todo_list *l = section_list(q, (enum section)k);

			pq_json_key(&j, sections[k].key);
			pq_json_array_begin(&j);
			for (n = 0; n < l->n; n++)
				json_item(&j, (enum section)k, &l->v[n]);
			pq_json_array_end(&j);
		}
		/* how many each section holds, when a limit showed fewer */
		pq_json_key(&j, "totals");
		pq_json_object_begin(&j);
		for (k = 0; k < NSECTIONS; k++)
			pq_json_kint(&j, sections[k].key,
				     (int64_t)section_list(q, (enum section)k)->total);
		pq_json_object_end(&j);
		pq_json_object_end(&j);
	}
	pq_json_array_end(&j);
	pq_json_key(&j, "replies");
	pq_json_array_begin(&j);
	for (i = 0; i < t->nreplies; i++) {
		const struct pq_todo_reply *r = &t->replies[i];

		pq_json_object_begin(&j);
		pq_json_kint(&j, "id", r->id);
		pq_json_kint(&j, "series", r->series);
		pq_json_kstr(&j, "name", r->name);
		pq_json_kint(&j, "version", r->version);
		pq_json_kstr(&j, "queue", r->queue);
		pq_json_kstr(&j, "kind", r->kind);
		pq_json_kstr(&j, "state", r->state);
		pq_json_kint(&j, "attempts", r->attempts);
		pq_json_kstr(&j, "error", r->error);
		pq_json_kint(&j, "next_attempt", r->next_attempt);
		pq_json_object_end(&j);
	}
	pq_json_array_end(&j);
	pq_json_kint(&j, "replies_total", (int64_t)t->replies_total);
	pq_json_object_end(&j);
	pq_buf_addc(out, '\n');
}

/* <a href="/series/ID">ID</a> */
static void html_series_link(struct pq_buf *out, long long id)
{
	pq_buf_addf(out, "<a href=\"/series/%lld\">%lld</a>", id, id);
}

static void html_item(struct pq_buf *out, enum section k, const struct pq_todo_item *it)
{
	struct pq_buf d = PQ_BUF_INIT;

	pq_buf_adds(out, "<tr><td>");
	html_series_link(out, it->series);
	pq_buf_addf(out, "</td><td>v%d</td><td>", it->version);
	pq_html_text(out, it->name ? it->name : "(unnamed)");
	pq_buf_adds(out, "</td><td>");
	pq_html_text(out, it->submitter_name);
	if (it->submitter) {
		pq_buf_adds(out, it->submitter_name ? " &lt;" : "&lt;");
		pq_html_text(out, it->submitter);
		pq_buf_adds(out, "&gt;");
	}
	pq_buf_adds(out, "</td><td>");
	if ((k == NEW_VERSIONS || k == DROPPED) && it->other) {
		pq_buf_adds(out, k == NEW_VERSIONS ? "newer than " : "in place of ");
		html_series_link(out, it->other);
		pq_buf_adds(out, k == DROPPED ? ": " : "");
		if (k == DROPPED)
			pq_html_text(out, it->reason);
	} else {
		item_detail(&d, k, it);
		pq_html_text(out, pq_buf_str(&d));
	}
	pq_buf_adds(out, "</td></tr>\n");
	pq_buf_free(&d);
}

static void write_html(const struct pq_todo *t, struct pq_buf *out)
{
	size_t i, n;
	int k, any = 0;

	for (i = 0; i < t->nqueues; i++) {
		const struct pq_todo_queue *q = &t->queues[i];
		int empty = 1;

		pq_buf_adds(out, "<section class=\"todo-queue\">\n<h2><a href=\"/queues/");
		pq_html_url(out, q->name);
		pq_buf_adds(out, "\">");
		pq_html_text(out, q->name);
		pq_buf_adds(out, "</a></h2>\n");
		for (k = 0; k < NSECTIONS; k++) {
			const struct pq_todo_list *l = section_list(q, (enum section)k);

			if (!l->n)
				continue;
			empty = 0;
			any = 1;
			pq_buf_addf(out,
				    "<h3>%s (%zu)</h3>\n<table class=\"%s\">\n<thead><tr>"
				    "<th>series</th><th>version</th><th>name</th><th>submitter</th>"
				    "<th></th></tr></thead>\n<tbody>\n",
				    sections[k].title, l->total, sections[k].key);
			for (n = 0; n < l->n; n++)
				html_item(out, (enum section)k, &l->v[n]);
			pq_buf_adds(out, "</tbody>\n</table>\n");
			if (l->total > l->n && k != WAITING && k != STOPPED) {
				pq_buf_addf(out,
					    "<p>and %zu more: <code>patchq todo</code> lists"
					    " them all</p>\n",
					    l->total - l->n);
			} else if (l->total > l->n) {
				pq_buf_addf(out, "<p>and %zu more: <a href=\"/series?queue=",
					    l->total - l->n);
				pq_html_url(out, q->name);
				pq_buf_addf(out, "&amp;state=%s\">the list</a></p>\n",
					    pq_state_name(k == WAITING ? PQ_STATE_QUEUED
								       : PQ_STATE_APPROVED));
			}
		}
		if (empty)
			pq_buf_adds(out, "<p>Nothing to do.</p>\n");
		pq_buf_adds(out, "</section>\n");
	}
	pq_buf_addf(out,
		    "<section class=\"todo-replies\">\n<h2><a href=\"/outbox\">Replies not"
		    " sent</a> (%zu)</h2>\n",
		    t->replies_total);
	if (t->nreplies)
		pq_buf_adds(out,
			    "<table class=\"replies\">\n<thead><tr><th>reply</th><th>state</th>"
			    "<th>series</th><th>name</th><th>queue</th><th>tells</th>"
			    "<th>attempts</th><th>last answer</th></tr></thead>\n<tbody>\n");
	for (n = 0; n < t->nreplies; n++) {
		const struct pq_todo_reply *r = &t->replies[n];

		pq_buf_addf(out, "<tr><td>%lld</td><td>", r->id);
		pq_html_text(out, r->state);
		pq_buf_adds(out, "</td><td>");
		html_series_link(out, r->series);
		pq_buf_addf(out, "</td><td>v%d ", r->version);
		pq_html_text(out, r->name ? r->name : "(unnamed)");
		pq_buf_adds(out, "</td><td><a href=\"/queues/");
		pq_html_url(out, r->queue);
		pq_buf_adds(out, "\">");
		pq_html_text(out, r->queue);
		pq_buf_adds(out, "</a></td><td>");
		pq_html_text(out, r->kind);
		pq_buf_addf(out, "</td><td>%d</td><td>", r->attempts);
		pq_html_text(out, r->error);
		pq_buf_adds(out, "</td></tr>\n");
	}
	if (t->nreplies)
		pq_buf_adds(out, "</tbody>\n</table>\n");
	if (t->replies_total > t->nreplies)
		pq_buf_addf(out, "<p>and %zu more: <a href=\"/outbox\">the outbox</a></p>\n",
			    t->replies_total - t->nreplies);
	else if (!t->nreplies && !any)
		pq_buf_adds(out, "<p>Nothing to do.</p>\n");
	pq_buf_adds(out, "</section>\n");
}

void pq_todo_write(const struct pq_todo *t, enum pq_view_format f, struct pq_buf *out)
{
	switch (f) {
	case PQ_VIEW_JSON:
		write_json(t, out);
		break;
	case PQ_VIEW_HTML:
		write_html(t, out);
		break;
	default:
		write_text(t, out);
		break;
	}
}
