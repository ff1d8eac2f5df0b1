/* state: where a series stands, defined once (see state.h). */
#include "state.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "config.h"
#include "error.h"

static const char *const names[] = {
	[PQ_STATE_NEW] = "new",		  [PQ_STATE_QUEUED] = "queued",
	[PQ_STATE_APPROVED] = "approved", [PQ_STATE_APPLYING] = "applying",
	[PQ_STATE_APPLIED] = "applied",	  [PQ_STATE_FAILED] = "failed",
	[PQ_STATE_REJECTED] = "rejected", [PQ_STATE_SUPERSEDED] = "superseded",
};

const char *pq_state_name(enum pq_state st)
{
	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

int pq_state_parse(const char *name, enum pq_state *out)
{
	size_t i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(names[i], name)) {
			*out = (enum pq_state)i;
			return 0;
		}
	}
	return pq_error_set(PQ_EINVAL, "no series state \"%s\"", name ? name : "");
}

int pq_state_set_queue(struct pq_store *s, long long id, const char *queue, enum pq_state st,
		       const char *reason, const char *tip, long long seen)
{
	sqlite3_stmt *q = pq_store_stmt(
		s,
		"INSERT INTO series_queue (series_id, queue, state, reason, tip, seen, updated)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6) ON CONFLICT (series_id, queue) DO UPDATE SET"
		" state = ?3, reason = ?4, tip = ?5, seen = ?7, updated = ?6, held = NULL");

	if (!q)
		return PQ_EDB;
	sqlite3_bind_int64(q, 1, id);
	pq_store_bind_text(q, 2, queue);
	pq_store_bind_text(q, 3, pq_state_name(st));
	pq_store_bind_text(q, 4, reason);
	pq_store_bind_text(q, 5, tip);
	sqlite3_bind_int64(q, 6, (long long)time(NULL));
	if (seen)
		sqlite3_bind_int64(q, 7, seen);
	return pq_store_step_done(s, q);
}

int pq_state_record(struct pq_store *s, long long id, const char *queue, enum pq_state st,
		    const char *reason, const char *tip, long long seen)
{
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	if ((ret = pq_state_set_queue(s, id, queue, st, reason, tip, seen)) < 0) {
		pq_store_rollback(s);
		return ret;
	}
	return pq_store_commit(s);
}

int pq_state_hold(struct pq_store *s, long long id, const char *queue, const char *held)
{
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	if ((ret = pq_state_set_held(s, id, queue, held)) < 0) {
		pq_store_rollback(s);
		return ret;
	}
	return pq_store_commit(s);
}

int pq_state_set_held(struct pq_store *s, long long id, const char *queue, const char *held)
{
	sqlite3_stmt *q = pq_store_stmt(
		s, "UPDATE series_queue SET held = ? WHERE series_id = ? AND queue = ?");

	if (!q)
		return PQ_EDB;
	pq_store_bind_text(q, 1, held);
	sqlite3_bind_int64(q, 2, id);
	pq_store_bind_text(q, 3, queue);
	return pq_store_step_done(s, q);
}

int pq_state_set_series(struct pq_store *s, long long id, enum pq_state st)
{
	sqlite3_stmt *q = pq_store_stmt(s, "UPDATE series SET state = ? WHERE id = ?");

	if (!q)
		return PQ_EDB;
	pq_store_bind_text(q, 1, pq_state_name(st));
	sqlite3_bind_int64(q, 2, id);
	return pq_store_step_done(s, q);
}

int pq_state_set_rule(struct pq_store *s, long long id, const char *queue, const char *rule)
{
	sqlite3_stmt *q = pq_store_stmt(
		s, "UPDATE series_queue SET rule = ? WHERE series_id = ? AND queue = ?");

	if (!q)
		return PQ_EDB;
	pq_store_bind_text(q, 1, rule);
	sqlite3_bind_int64(q, 2, id);
	pq_store_bind_text(q, 3, queue);
	return pq_store_step_done(s, q);
}

int pq_state_reject_everywhere(struct pq_store *s, long long id, const char *reason)
{
	sqlite3_stmt *q = pq_store_stmt(s, "UPDATE series_queue SET state = ?,"
					   " reason = ?, updated = ? WHERE series_id = ?");

	if (!q)
		return PQ_EDB;
	pq_store_bind_text(q, 1, pq_state_name(PQ_STATE_REJECTED));
	pq_store_bind_text(q, 2, reason);
	sqlite3_bind_int64(q, 3, (long long)time(NULL));
	sqlite3_bind_int64(q, 4, id);
	return pq_store_step_done(s, q);
}

int pq_state_by_rule(struct pq_store *s, long long id, const char *queue, int *yes)
{
	sqlite3_stmt *q = pq_store_stmt(s, "SELECT count(*) FROM series_queue WHERE series_id = ?"
					   " AND queue = ? AND rule IS NOT NULL");
	long long n;
	int ret;

	*yes = 0;
	if (!q)
		return PQ_EDB;
	sqlite3_bind_int64(q, 1, id);
	pq_store_bind_text(q, 2, queue);
	if ((ret = pq_store_scalar(s, q, &n)) < 0)
		return ret;
	*yes = n > 0;
	return 0;
}

int pq_state_queues(struct pq_store *s, long long id, char ***queues, size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT queue FROM series_queue WHERE series_id = ? ORDER BY rowid");
	int rc;

	*queues = NULL;
	*n = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*queues = pq_reallocarray(*queues, *n + 1, sizeof(**queues));
		(*queues)[(*n)++] = pq_store_col_dup(st, 0);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	while (*n)
		free((*queues)[--*n]);
	free(*queues);
	*queues = NULL;
	return pq_store_error(s, "series_queue");
}

int pq_state_queue_rule(struct pq_store *s, const struct pq_config *c, long long id,
			const char *queue, const struct pq_rule_conf **rule, char **held)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT rule, held FROM series_queue WHERE series_id = ? AND queue = ?");
	int rc;

	*rule = NULL;
	if (held)
		*held = NULL;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*rule = pq_config_rule(c, (const char *)sqlite3_column_text(st, 0));
		if (held)
			*held = pq_store_col_dup(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pq_store_error(s, "series_queue");
}
