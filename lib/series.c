/* series: grouping patches into series and versions (see series.h). */
#include "series.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "state.h"

/* Unthreaded patches of one series are sent within this many seconds. */
#define UNTHREADED_WINDOW (12 * 3600)

struct candidate {
	long long id;
	int version;
	int version_explicit;
	int total;
	int has_cover;
	char submitter[320];
};

static int slot_taken(struct pq_store *s, long long series, int index, int *taken)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT 1 FROM message WHERE series_id = ? AND idx = ? LIMIT 1");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, series);
	sqlite3_bind_int(st, 2, index);
	*taken = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return 0;
}

static void read_candidate(sqlite3_stmt *st, struct candidate *c)
{
	c->id = sqlite3_column_int64(st, 0);
	c->version = sqlite3_column_int(st, 1);
	c->version_explicit = sqlite3_column_int(st, 2);
	c->total = sqlite3_column_int(st, 3);
	snprintf(c->submitter, sizeof(c->submitter), "%s", pq_store_col_text(st, 4));
	c->has_cover = sqlite3_column_type(st, 5) != SQLITE_NULL;
}

/* Whether m is a direct reply to a message of series id (into *yes). */
static int answers_member(struct pq_store *s, long long id, const struct pq_series_member *m,
			  int *yes)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT 1 FROM message WHERE series_id = ? AND msgid = ? LIMIT 1");

	*yes = 0;
	if (!m->nrefs)
		return 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, m->refs[m->nrefs - 1]);
	*yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return 0;
}

/*
 * Whether m may join c. by_own_id: c was found because its members
 * reference m, which makes m their parent (a late cover letter), so an
 * explicit version on m may settle an unversioned series.
 */
static int fits(struct pq_store *s, const struct candidate *c, const struct pq_series_member *m,
		int by_own_id, int *ok)
{
	int taken = 0, ret;

	*ok = 0;
	if (strcasecmp(c->submitter, m->submitter) || c->total != m->total)
		return 0;
	if (c->version != m->version && m->version_explicit && !(by_own_id && !c->version_explicit))
		return 0;
	/*
	 * A series that says it is another version: the v1 cover a v2 answers
	 * is not the v2's late cover, and an unversioned patch joins it only
	 * as the direct reply to one of its messages ("[PATCH v3 0/4]" with
	 * "[PATCH 1/4]"s under it), not because both refer to the v1 cover.
	 */
	if (c->version_explicit && c->version != m->version) {
		if (by_own_id)
			return 0;
		if ((ret = answers_member(s, c->id, m, &taken)) < 0)
			return ret;
		if (!taken)
			return 0;
	}
	if (m->index == 0) {
		taken = c->has_cover;
	} else if ((ret = slot_taken(s, c->id, m->index, &taken)) < 0) {
		return ret;
	}
	*ok = !taken;
	return 0;
}

/* The first series referencing msgid that m fits in, or 0. */
static int find_by_ref(struct pq_store *s, const struct pq_series_member *m, const char *msgid,
		       int by_own_id, long long *found)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT s.id, s.version, s.version_explicit, s.total, s.submitter, s.cover_id"
		   " FROM series_ref r JOIN series s ON s.id = r.series_id"
		   " WHERE r.msgid = ? ORDER BY s.id DESC");
	struct candidate c[8];
	size_t n = 0, i;
	int ok, ret;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, msgid);
	while (n < 8 && sqlite3_step(st) == SQLITE_ROW)
		read_candidate(st, &c[n++]);
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if ((ret = fits(s, &c[i], m, by_own_id, &ok)) < 0)
			return ret;
		if (ok) {
			*found = c[i].id;
			return 0;
		}
	}
	return 0;
}

/* Unthreaded patches: same sender, version and total, sent close together. */
static int find_unthreaded(struct pq_store *s, const struct pq_series_member *m, long long *found)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT id, version, version_explicit, total, submitter, cover_id FROM series"
		   " WHERE submitter = ? COLLATE NOCASE AND version = ? AND total = ?"
		   " AND date BETWEEN ? AND ? ORDER BY abs(date - ?) LIMIT 8");
	struct candidate c[8];
	size_t n = 0, i;
	int ok, ret;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, m->submitter);
	sqlite3_bind_int(st, 2, m->version);
	sqlite3_bind_int(st, 3, m->total);
	sqlite3_bind_int64(st, 4, m->date - UNTHREADED_WINDOW);
	sqlite3_bind_int64(st, 5, m->date + UNTHREADED_WINDOW);
	sqlite3_bind_int64(st, 6, m->date);
	while (n < 8 && sqlite3_step(st) == SQLITE_ROW)
		read_candidate(st, &c[n++]);
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if ((ret = fits(s, &c[i], m, 0, &ok)) < 0)
			return ret;
		if (ok) {
			*found = c[i].id;
			return 0;
		}
	}
	return 0;
}

static int find_series(struct pq_store *s, const struct pq_series_member *m, long long *found,
		       int *by_own_id)
{
	size_t i;
	int ret;

	*found = 0;
	*by_own_id = 0;
	if ((ret = find_by_ref(s, m, m->msgid, 1, found)) < 0 || *found) {
		*by_own_id = 1;
		return ret;
	}
	for (i = m->nrefs; i-- > 0;)
		if ((ret = find_by_ref(s, m, m->refs[i], 0, found)) < 0 || *found)
			return ret;
	if (!m->nrefs && m->total > 1 && m->date)
		return find_unthreaded(s, m, found);
	return 0;
}

static int create_series(struct pq_store *s, const struct pq_series_member *m, long long *id)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "INSERT INTO series (version, version_explicit, total, submitter,"
				 " submitter_name, date) VALUES (?, ?, ?, ?, ?, ?)");
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int(st, 1, m->version);
	sqlite3_bind_int(st, 2, m->version_explicit);
	sqlite3_bind_int(st, 3, m->total);
	pq_store_bind_text(st, 4, m->submitter);
	pq_store_bind_text(st, 5, m->submitter_name);
	if (m->date)
		sqlite3_bind_int64(st, 6, m->date);
	if ((ret = pq_store_step_done(s, st)) < 0)
		return ret;
	*id = pq_store_last_id(s);
	return 0;
}

static int add_refs(struct pq_store *s, const struct pq_series_member *m, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "INSERT OR IGNORE INTO series_ref (msgid, series_id) VALUES (?, ?)");
	size_t i;
	int ret;

	if (!st)
		return PQ_EDB;
	for (i = 0; i <= m->nrefs; i++) {
		pq_store_bind_text(st, 1, i < m->nrefs ? m->refs[i] : m->msgid);
		sqlite3_bind_int64(st, 2, id);
		if ((ret = pq_store_step_done(s, st)) < 0)
			return ret;
	}
	return 0;
}

static int settle_version(struct pq_store *s, const struct pq_series_member *m, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "UPDATE series SET version = ?, version_explicit = 1 WHERE id = ?");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int(st, 1, m->version);
	sqlite3_bind_int64(st, 2, id);
	return pq_store_step_done(s, st);
}

static int join(struct pq_store *s, const struct pq_series_member *m, long long id)
{
	sqlite3_stmt *st;
	int ret;

	if (m->index == 0) {
		st = pq_store_stmt(s, "UPDATE series SET cover_id = ?,"
				      " change_id = coalesce(change_id, ?) WHERE id = ?");
		if (!st)
			return PQ_EDB;
		sqlite3_bind_int64(st, 1, m->message_id);
		pq_store_bind_text(st, 2, m->change_id);
		sqlite3_bind_int64(st, 3, id);
		if ((ret = pq_store_step_done(s, st)) < 0)
			return ret;
	}
	/* a series is named by its cover letter, else by its first patch */
	st = pq_store_stmt(s, "UPDATE series SET name = coalesce("
			      " (SELECT name FROM message WHERE id = series.cover_id),"
			      " (SELECT name FROM message WHERE series_id = series.id AND idx = 1"
			      "  ORDER BY id LIMIT 1)),"
			      " date = min(coalesce(date, ?2), coalesce(?2, date)) WHERE id = ?1");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if (m->date)
		sqlite3_bind_int64(st, 2, m->date);
	if ((ret = pq_store_step_done(s, st)) < 0)
		return ret;
	return add_refs(s, m, id);
}

/* The earlier version this series replaces, if it can be told. */
static int link_predecessor(struct pq_store *s, const struct pq_series_member *m, long long id)
{
	sqlite3_stmt *st;
	long long prev = 0;
	int ret;

	st = pq_store_stmt(s, "SELECT 1 FROM series WHERE id = ? AND supersedes IS NULL");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	ret = sqlite3_step(st);
	sqlite3_reset(st);
	if (ret != SQLITE_ROW)
		return 0;

	/* b4 change-id, then threading, then same sender and name */
	st = pq_store_stmt(s,
			   "SELECT p.id FROM series p, series s WHERE s.id = ?1 AND p.id != s.id"
			   " AND s.change_id IS NOT NULL AND p.change_id = s.change_id"
			   " AND p.version < s.version ORDER BY p.version DESC, p.id DESC LIMIT 1");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		prev = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);

	/* sent in reply to an earlier posting (a new version or a resend): one
	 * of its references is a message of that posting, whichever came first */
	st = pq_store_stmt(
		s, "SELECT p.id FROM series_ref r JOIN message pm ON pm.msgid = r.msgid"
		   " JOIN series p ON p.id = pm.series_id, series s"
		   " WHERE r.series_id = ?1 AND s.id = ?1 AND p.id != s.id"
		   " AND p.submitter = s.submitter COLLATE NOCASE AND (p.version < s.version"
		   " OR (p.version = s.version AND p.id < s.id AND p.name = s.name))"
		   " ORDER BY p.version DESC, p.id DESC LIMIT 1");
	if (!prev && st) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			prev = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	} else if (!st) {
		return PQ_EDB;
	}

	if (!prev) {
		st = pq_store_stmt(
			s, "SELECT p.id FROM series p, series s WHERE s.id = ?1 AND p.id != s.id"
			   " AND s.name IS NOT NULL AND p.name = s.name"
			   " AND p.submitter = s.submitter COLLATE NOCASE"
			   " AND (p.version < s.version OR (?2 AND p.version = s.version"
			   " AND p.id < s.id))"
			   " ORDER BY p.version DESC, p.id DESC LIMIT 1");
		if (!st)
			return PQ_EDB;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, m->resend);
		if (sqlite3_step(st) == SQLITE_ROW)
			prev = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	if (!prev)
		return 0;

	st = pq_store_stmt(s, "UPDATE series SET supersedes = ? WHERE id = ?");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, prev);
	sqlite3_bind_int64(st, 2, id);
	if ((ret = pq_store_step_done(s, st)) < 0)
		return ret;
	st = pq_store_stmt(s, "UPDATE series SET state = ? WHERE id = ? AND state IN (?, ?)");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, pq_state_name(PQ_STATE_SUPERSEDED));
	sqlite3_bind_int64(st, 2, prev);
	pq_store_bind_text(st, 3, pq_state_name(PQ_STATE_NEW));
	pq_store_bind_text(st, 4, pq_state_name(PQ_STATE_QUEUED));
	return pq_store_step_done(s, st);
}

int pq_series_place(struct pq_store *s, const struct pq_series_member *m, long long *series_id)
{
	long long id = 0;
	int by_own_id, ret;

	*series_id = 0;
	if ((ret = find_series(s, m, &id, &by_own_id)) < 0)
		return ret;
	if (!id)
		ret = create_series(s, m, &id);
	else if (by_own_id && m->version_explicit)
		ret = settle_version(s, m, id);
	if (ret < 0)
		return ret;
	*series_id = id;
	return 0;
}

/*
 * The newer versions that arrived before this one was complete enough to
 * be told as their predecessor (a v2 before its v1): they look again.
 */
static int link_successors(struct pq_store *s, const struct pq_series_member *m, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT n.id FROM series n, series p WHERE p.id = ?1 AND n.id != p.id"
		   " AND n.supersedes IS NULL AND n.version > p.version"
		   " AND n.submitter = p.submitter COLLATE NOCASE AND (n.name = p.name"
		   " OR EXISTS (SELECT 1 FROM series_ref r JOIN message pm ON pm.msgid = r.msgid"
		   " WHERE r.series_id = n.id AND pm.series_id = p.id))"
		   " ORDER BY n.version, n.id");
	long long *ids = NULL;
	size_t n = 0, i;
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if ((ret = pq_store_ids(s, st, &ids, &n)) < 0)
		return ret;
	for (i = 0; i < n && ret == 0; i++)
		ret = link_predecessor(s, m, ids[i]);
	free(ids);
	return ret;
}

/*
 * Whether series id is a partial reroll of the version it supersedes, as
 * b4 tells one: an explicit version one above it, the same number of
 * patches, and each patch it has sent in reply to that version's patch of
 * the same number.
 * Records it (or that it is not one) in series.reroll_of; a series named
 * only by such patches takes the earlier version's name.
 */
static int update_reroll(struct pq_store *s, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT p.id FROM series n JOIN series p ON p.id = n.supersedes"
		   " WHERE n.id = ?1 AND n.version_explicit AND n.version = p.version + 1"
		   " AND n.total = p.total AND n.total > 1"
		   " AND EXISTS (SELECT 1 FROM message o WHERE o.series_id = n.id"
		   "  AND o.kind IN ('patch', 'pull'))"
		   " AND NOT EXISTS (SELECT 1 FROM message o WHERE o.series_id = n.id"
		   "  AND o.kind IN ('patch', 'pull') AND NOT EXISTS (SELECT 1 FROM message r"
		   "  WHERE r.msgid = o.in_reply_to AND r.series_id = p.id AND r.idx = o.idx"
		   "  AND r.kind IN ('patch', 'pull')))"
		   " AND (SELECT count(DISTINCT idx) FROM message WHERE series_id = n.id"
		   "  AND idx BETWEEN 1 AND n.total) < n.total");
	long long of = 0;
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if ((ret = sqlite3_step(st)) == SQLITE_ROW)
		of = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (ret != SQLITE_ROW && ret != SQLITE_DONE)
		return pq_store_error(s, "looking for a partial reroll");
	st = pq_store_stmt(s,
			   "UPDATE series SET reroll_of = ?1,"
			   " name = coalesce(name, (SELECT p.name FROM series p WHERE p.id = ?1))"
			   " WHERE id = ?2 AND reroll_of IS NOT ?1");
	if (!st)
		return PQ_EDB;
	if (of)
		sqlite3_bind_int64(st, 1, of);
	sqlite3_bind_int64(st, 2, id);
	return pq_store_step_done(s, st);
}

/* update_reroll() for id and for the series that supersede it (a patch of
 * the earlier version may arrive after the reroll). */
static int update_rerolls(struct pq_store *s, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT id FROM series WHERE supersedes = ?");
	long long *ids = NULL;
	size_t n = 0, i;
	int ret;

	if ((ret = update_reroll(s, id)) < 0)
		return ret;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if ((ret = pq_store_ids(s, st, &ids, &n)) < 0)
		return ret;
	for (i = 0; i < n && ret == 0; i++)
		ret = update_reroll(s, ids[i]);
	free(ids);
	return ret;
}

int pq_series_join(struct pq_store *s, const struct pq_series_member *m, long long series_id)
{
	int ret;

	if ((ret = join(s, m, series_id)) < 0 || (ret = link_predecessor(s, m, series_id)) < 0 ||
	    (ret = link_successors(s, m, series_id)) < 0)
		return ret;
	return update_rerolls(s, series_id);
}

/* ---- reading a series back ---- */

static int load_head(struct pq_store *s, struct pq_series *se)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT s.name, s.version, s.total, s.submitter, s.submitter_name, s.state,"
		   " s.supersedes, (SELECT max(n.id) FROM series n WHERE n.supersedes = s.id),"
		   " s.cover_id, c.msgid, c.subject,"
		   " (SELECT count(DISTINCT idx) FROM message WHERE (series_id = s.id AND idx >= 1)"
		   "  OR (series_id = s.reroll_of AND idx BETWEEN 1 AND s.total)),"
		   " EXISTS (SELECT 1 FROM complete_series c WHERE c.id = s.id), s.reroll_of"
		   " FROM series s LEFT JOIN message c ON c.id = s.cover_id WHERE s.id = ?");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, se->id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return pq_error_set(PQ_ENOTFOUND, "no series %lld", se->id);
	}
	se->name = pq_store_col_dup(st, 0);
	se->version = sqlite3_column_int(st, 1);
	se->total = sqlite3_column_int(st, 2);
	se->submitter = pq_store_col_dup(st, 3);
	se->submitter_name = pq_store_col_dup(st, 4);
	se->state = pq_store_col_dup(st, 5);
	se->supersedes = sqlite3_column_int64(st, 6);
	se->superseded_by = sqlite3_column_int64(st, 7);
	se->cover_id = sqlite3_column_int64(st, 8);
	se->cover_msgid = pq_store_col_dup(st, 9);
	se->cover_subject = pq_store_col_dup(st, 10);
	se->received = sqlite3_column_int(st, 11);
	se->complete = sqlite3_column_int(st, 12);
	se->reroll_of = sqlite3_column_int64(st, 13);
	sqlite3_reset(st);
	return 0;
}

/* A trailer as stored, with its place (message id and position). */
struct stored_trailer {
	struct pq_trailer t;
	long long message_id;
	int pos;
};

static int load_trailers(struct pq_store *s, long long message_id, struct pq_trailers *t, int **pos)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT name, value, email, extinfo, pos FROM trailer WHERE message_id = ?"
		   " ORDER BY pos");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, message_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		pq_trailers_add(
			t, pq_store_col_text(st, 0), pq_store_col_text(st, 1),
			sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : pq_store_col_text(st, 2),
			sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL
								  : pq_store_col_text(st, 3));
		if (pos) {
			*pos = pq_reallocarray(*pos, t->n, sizeof(**pos));
			(*pos)[t->n - 1] = sqlite3_column_int(st, 4);
		}
	}
	sqlite3_reset(st);
	return 0;
}

/*
 * The patches: the series' own, and for a partial reroll the rerolled
 * version's in the places it leaves empty (borrowed_from set).
 */
static int load_patches(struct pq_store *s, struct pq_series *se)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT id, msgid, idx, subject, name, author, email, date_raw, series_id"
		   " FROM message m WHERE kind IN ('patch', 'pull') AND (series_id = ?1"
		   " OR (?2 AND series_id = ?2 AND idx BETWEEN 1 AND ?3 AND NOT EXISTS"
		   " (SELECT 1 FROM message o WHERE o.series_id = ?1 AND o.idx = m.idx)))"
		   " ORDER BY idx, id");
	size_t cap = 0, i;
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, se->id);
	sqlite3_bind_int64(st, 2, se->reroll_of);
	sqlite3_bind_int(st, 3, se->total);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct pq_series_patch *p;

		if (se->npatches == cap) {
			cap = cap ? cap * 2 : 8;
			se->patches = pq_reallocarray(se->patches, cap, sizeof(*se->patches));
		}
		p = &se->patches[se->npatches++];
		memset(p, 0, sizeof(*p));
		p->id = sqlite3_column_int64(st, 0);
		p->msgid = pq_store_col_dup(st, 1);
		p->index = sqlite3_column_int(st, 2);
		p->subject = pq_store_col_dup(st, 3);
		p->name = pq_store_col_dup(st, 4);
		p->author = pq_store_col_dup(st, 5);
		p->email = pq_store_col_dup(st, 6);
		p->date_raw = pq_store_col_dup(st, 7);
		if (sqlite3_column_int64(st, 8) != se->id)
			p->borrowed_from = sqlite3_column_int64(st, 8);
	}
	sqlite3_reset(st);
	for (i = 0; i < se->npatches; i++)
		if ((ret = load_trailers(s, se->patches[i].id, &se->patches[i].own, NULL)) < 0)
			return ret;
	return 0;
}

/*
 * Which member (patch index, 0 for the cover) of this series a reply
 * answers: the nearest patch or cover letter in its references, newest
 * first, of any series. -1 when that is another series' (a review of v2
 * sent in reply to v1's thread is v2's; a review of the patch a partial
 * reroll replaced is not the reroll's) or there is none.
 */
static int reply_target(struct pq_store *s, const struct pq_series *se, long long reply)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT m.series_id, m.idx, m.id FROM ref r JOIN message m ON m.msgid = r.msgid"
		   " WHERE r.message_id = ? AND m.kind IN ('patch', 'cover', 'pull')"
		   " ORDER BY r.pos DESC, m.id LIMIT 1");
	int target = -1;
	size_t i;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, reply);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) == se->id)
			target = sqlite3_column_int(st, 1);
		for (i = 0; target < 0 && i < se->npatches; i++)
			if (se->patches[i].borrowed_from &&
			    se->patches[i].id == sqlite3_column_int64(st, 2))
				target = se->patches[i].index;
	}
	sqlite3_reset(st);
	return target;
}

/* A maintainer's acceptance of one trailer (trailer_accept). */
struct accepted {
	long long message_id;
	int pos;
	char *who;
	long long when;
};

struct collect_ctx {
	const struct pq_config *conf;
	struct accepted *acc;
	size_t nacc;
};

static int load_accepted(struct pq_store *s, struct pq_series *se, struct collect_ctx *cx)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT message_id, pos, who, accepted"
					    " FROM trailer_accept WHERE series_id = ?");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, se->id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct accepted *a;

		cx->acc = pq_reallocarray(cx->acc, cx->nacc + 1, sizeof(*cx->acc));
		a = &cx->acc[cx->nacc++];
		a->message_id = sqlite3_column_int64(st, 0);
		a->pos = sqlite3_column_int(st, 1);
		a->who = pq_store_col_dup(st, 2);
		a->when = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return 0;
}

static const struct accepted *find_accepted(const struct collect_ctx *cx, long long reply, int pos)
{
	size_t i;

	for (i = 0; i < cx->nacc; i++)
		if (cx->acc[i].message_id == reply && cx->acc[i].pos == pos)
			return &cx->acc[i];
	return NULL;
}

/* Why a trailer whose address is not its sender's counts, or NULL when it
 * does not: the alias table, or a maintainer's acceptance. */
static char *counts_anyway(const struct collect_ctx *cx, const struct pq_trailer *t,
			   const char *sender, long long reply, int pos)
{
	const struct accepted *a = find_accepted(cx, reply, pos);
	struct pq_buf why = PQ_BUF_INIT;
	size_t i;

	if (cx->conf && pq_config_same_person(cx->conf, t->email, sender)) {
		for (i = 0; i < cx->conf->naliases && !why.len; i++)
			if (pq_config_same_person(cx->conf, cx->conf->aliases[i].addresses[0],
						  sender))
				pq_buf_addf(&why, "alias %s", cx->conf->aliases[i].name);
		return pq_buf_detach(&why);
	}
	if (a) {
		time_t when = (time_t)a->when;
		char date[32] = "?";
		struct tm tm;

		if (gmtime_r(&when, &tm))
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
		pq_buf_addf(&why, "accepted by %s on %s", a->who, date);
		return pq_buf_detach(&why);
	}
	return NULL;
}

static void add_collected(struct pq_series_patch *p, const struct pq_trailer *t, long long reply,
			  char *note)
{
	pq_trailers_add(&p->collected, t->name, t->value, t->email, t->extinfo);
	p->collected_from =
		pq_reallocarray(p->collected_from, p->collected.n, sizeof(*p->collected_from));
	p->collected_from[p->collected.n - 1] = reply;
	p->collected_note =
		pq_reallocarray(p->collected_note, p->collected.n, sizeof(*p->collected_note));
	p->collected_note[p->collected.n - 1] = note;
}

/* Adds one reply trailer to a patch: a person's tag counts only when the
 * reply comes from that person (or an alias of theirs), or a maintainer
 * accepted it. */
static void collect(const struct collect_ctx *cx, struct pq_series_patch *p,
		    const struct pq_trailer *t, const char *sender, long long reply, int pos)
{
	char *note = NULL;
	size_t i;

	if (pq_trailers_contains(&p->own, t->name, t->value) ||
	    pq_trailers_contains(&p->collected, t->name, t->value))
		return;
	if (pq_trailer_is_person(t->name) && (!t->email || strcasecmp(t->email, sender)) &&
	    !(t->email && (note = counts_anyway(cx, t, sender, reply, pos)))) {
		if (pq_trailers_contains(&p->mismatched, t->name, t->value))
			return;
		pq_trailers_add(&p->mismatched, t->name, t->value, t->email, t->extinfo);
		p->mismatched_from = pq_reallocarray(p->mismatched_from, p->mismatched.n,
						     sizeof(*p->mismatched_from));
		p->mismatched_from[p->mismatched.n - 1] = reply;
		p->mismatched_pos = pq_reallocarray(p->mismatched_pos, p->mismatched.n,
						    sizeof(*p->mismatched_pos));
		p->mismatched_pos[p->mismatched.n - 1] = pos;
	} else {
		/* held back when someone else relayed it, it counts from its owner */
		for (i = 0; i < p->mismatched.n; i++) {
			if (strcasecmp(p->mismatched.v[i].name, t->name) ||
			    strcasecmp(p->mismatched.v[i].value, t->value))
				continue;
			free(p->mismatched.v[i].name);
			free(p->mismatched.v[i].value);
			free(p->mismatched.v[i].email);
			free(p->mismatched.v[i].extinfo);
			memmove(&p->mismatched.v[i], &p->mismatched.v[i + 1],
				(p->mismatched.n - i - 1) * sizeof(*p->mismatched.v));
			memmove(&p->mismatched_from[i], &p->mismatched_from[i + 1],
				(p->mismatched.n - i - 1) * sizeof(*p->mismatched_from));
			memmove(&p->mismatched_pos[i], &p->mismatched_pos[i + 1],
				(p->mismatched.n - i - 1) * sizeof(*p->mismatched_pos));
			p->mismatched.n--;
			break;
		}
		add_collected(p, t, reply, note);
	}
}

static void reply_free(struct pq_series_reply *r)
{
	free(r->msgid);
	free(r->author);
	free(r->email);
	free(r->subject);
}

static int load_replies(struct pq_store *s, const struct pq_config *c, struct pq_series *se,
			long long upto)
{
	/* replies to the series' own messages, and to the patches of the version
	 * a partial reroll takes some from (reply_target() keeps those) */
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT DISTINCT m.id, m.msgid, m.author, m.email, m.subject FROM message m"
		   " JOIN ref r ON r.message_id = m.id JOIN message t ON t.msgid = r.msgid"
		   " WHERE (t.series_id = ?1 OR (?3 AND t.series_id = ?3 AND t.kind IN ('patch',"
		   " 'pull'))) AND m.kind = 'reply' AND (?2 = 0 OR m.id <= ?2)"
		   " ORDER BY m.id");
	struct collect_ctx cx = { .conf = c };
	size_t i, j, k, kept;
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, se->id);
	sqlite3_bind_int64(st, 2, upto);
	sqlite3_bind_int64(st, 3, se->reroll_of);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct pq_series_reply *r;

		se->replies = pq_reallocarray(se->replies, se->nreplies + 1, sizeof(*se->replies));
		r = &se->replies[se->nreplies++];
		r->id = sqlite3_column_int64(st, 0);
		r->msgid = pq_store_col_dup(st, 1);
		r->author = pq_store_col_dup(st, 2);
		r->email = pq_store_col_dup(st, 3);
		r->subject = pq_store_col_dup(st, 4);
	}
	sqlite3_reset(st);
	if ((ret = load_accepted(s, se, &cx)) < 0)
		goto out;
	/* keep the replies that answer this series, and collect their trailers */
	for (i = kept = 0; i < se->nreplies; i++) {
		struct pq_series_reply r = se->replies[i];
		struct pq_trailers t = { 0 };
		int *pos = NULL;

		r.target = reply_target(s, se, r.id);
		if (r.target < 0) {
			reply_free(&r);
			continue;
		}
		se->replies[kept++] = r;
		if ((ret = load_trailers(s, r.id, &t, &pos)) < 0) {
			for (j = i + 1; j < se->nreplies; j++)
				reply_free(&se->replies[j]);
			se->nreplies = kept;
			pq_trailers_free(&t);
			free(pos);
			goto out;
		}
		for (j = 0; j < se->npatches; j++)
			if (r.target == 0 || se->patches[j].index == r.target)
				for (k = 0; k < t.n; k++)
					collect(&cx, &se->patches[j], &t.v[k],
						r.email ? r.email : "", r.id, pos[k]);
		pq_trailers_free(&t);
		free(pos);
	}
	se->nreplies = kept;
out:
	for (i = 0; i < cx.nacc; i++)
		free(cx.acc[i].who);
	free(cx.acc);
	return ret;
}

int pq_series_load(struct pq_store *s, long long id, struct pq_series **out)
{
	return pq_series_load_conf(s, NULL, id, 0, out);
}

int pq_series_load_upto(struct pq_store *s, long long id, long long upto, struct pq_series **out)
{
	return pq_series_load_conf(s, NULL, id, upto, out);
}

int pq_series_load_conf(struct pq_store *s, const struct pq_config *c, long long id, long long upto,
			struct pq_series **out)
{
	struct pq_series *se = pq_calloc(1, sizeof(*se));
	int ret;

	*out = NULL;
	se->id = id;
	if ((ret = load_head(s, se)) < 0 || (ret = load_patches(s, se)) < 0 ||
	    (ret = load_replies(s, c, se, upto)) < 0) {
		pq_series_free(se);
		return ret;
	}
	*out = se;
	return 0;
}

void pq_series_free(struct pq_series *se)
{
	size_t i, k;

	if (!se)
		return;
	for (i = 0; i < se->npatches; i++) {
		struct pq_series_patch *p = &se->patches[i];

		free(p->msgid);
		free(p->subject);
		free(p->name);
		free(p->author);
		free(p->email);
		free(p->date_raw);
		pq_trailers_free(&p->own);
		for (k = 0; k < p->collected.n; k++)
			free(p->collected_note[k]);
		free(p->collected_note);
		pq_trailers_free(&p->collected);
		free(p->collected_from);
		pq_trailers_free(&p->mismatched);
		free(p->mismatched_from);
		free(p->mismatched_pos);
	}
	free(se->patches);
	for (i = 0; i < se->nreplies; i++)
		reply_free(&se->replies[i]);
	free(se->replies);
	free(se->name);
	free(se->submitter);
	free(se->submitter_name);
	free(se->state);
	free(se->cover_msgid);
	free(se->cover_subject);
	free(se);
}

/* ---- a maintainer's word on one trailer ---- */

/* "MESSAGE.POS" as show prints a trailer's id: 1 and the parts, else 0. */
static int trailer_id(const char *what, long long *message_id, int *pos)
{
	char *end;
	long long m, p;

	m = strtoll(what, &end, 10);
	if (end == what || *end != '.' || m <= 0)
		return 0;
	what = end + 1;
	p = strtoll(what, &end, 10);
	if (end == what || *end || p < 0 || p > 1000000)
		return 0;
	*message_id = m;
	*pos = (int)p;
	return 1;
}

/* The message id of a stored reply named by its Message-ID, or 0. */
static int reply_by_msgid(struct pq_store *s, const char *msgid, long long *id)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT id FROM message WHERE msgid = ? ORDER BY id"
					    " LIMIT 1");
	char *bare = pq_strdup(msgid + (*msgid == '<'));
	size_t n = strlen(bare);

	*id = 0;
	if (n && bare[n - 1] == '>')
		bare[n - 1] = '\0';
	if (!st) {
		free(bare);
		return PQ_EDB;
	}
	pq_store_bind_text(st, 1, bare);
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	free(bare);
	return 0;
}

static int record_accept(struct pq_store *s, long long series, long long reply, int pos,
			 const char *who, int64_t now)
{
	sqlite3_stmt *st = pq_store_stmt(s,
					 "INSERT OR IGNORE INTO trailer_accept (series_id,"
					 " message_id, pos, who, accepted) VALUES (?, ?, ?, ?, ?)");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, series);
	sqlite3_bind_int64(st, 2, reply);
	sqlite3_bind_int(st, 3, pos);
	pq_store_bind_text(st, 4, who);
	sqlite3_bind_int64(st, 5, (long long)now);
	return pq_store_step_done(s, st);
}

int pq_series_retriage(struct pq_store *s, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(s, "UPDATE series SET triaged = NULL WHERE id = ?");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	return pq_store_step_done(s, st);
}

int pq_series_trailer_accept(struct pq_store *s, const struct pq_config *c, long long id,
			     const char *what, const char *who, int64_t now, struct pq_buf *report)
{
	struct pq_series *se;
	long long reply = 0;
	size_t i, k, accepted = 0;
	int pos = -1, ret;

	if (!trailer_id(what, &reply, &pos)) {
		if ((ret = reply_by_msgid(s, what, &reply)) < 0)
			return ret;
		if (!reply)
			return pq_error_set(PQ_ENOTFOUND,
					    "\"%s\" is no stored Message-ID, nor a trailer id "
					    "(MESSAGE.POS) as `patchq show` prints it",
					    what);
	}
	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret;
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	for (i = 0; i < se->npatches && ret == 0; i++) {
		const struct pq_series_patch *p = &se->patches[i];

		for (k = 0; k < p->mismatched.n && ret == 0; k++) {
			if (p->mismatched_from[k] != reply ||
			    (pos >= 0 && p->mismatched_pos[k] != pos))
				continue;
			ret = record_accept(s, se->id, reply, p->mismatched_pos[k], who, now);
			if (ret == 0 && report)
				pq_buf_addf(report, "series %lld [%d/%d]: accepted %s: %s\n",
					    se->id, p->index, se->total, p->mismatched.v[k].name,
					    p->mismatched.v[k].value);
			accepted++;
		}
	}
	/* triage decides on the series again with the trailer counted */
	if (ret == 0 && accepted)
		ret = pq_series_retriage(s, se->id);
	if (ret == 0 && !accepted)
		ret = pq_error_set(
			PQ_ENOTFOUND,
			"series %lld has no trailer from \"%s\" held back for its address", se->id,
			what);
	if (ret < 0)
		pq_store_rollback(s);
	else
		ret = pq_store_commit(s);
out:
	pq_series_free(se);
	return ret;
}

int pq_series_list(struct pq_store *s, long long **ids, size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT id FROM series ORDER BY id");

	*ids = NULL;
	*n = 0;
	return st ? pq_store_ids(s, st, ids, n) : PQ_EDB;
}

int pq_series_newest(struct pq_store *s, long long id, long long *out)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT max(id) FROM complete_series"
					    " WHERE supersedes = ?");
	long long next;
	int hops, ret;

	*out = id;
	if (!st)
		return PQ_EDB;
	/* a chain of versions is short; the bound only stops a cycle */
	for (hops = 0; hops < 64; hops++) {
		sqlite3_bind_int64(st, 1, *out);
		if ((ret = pq_store_scalar(s, st, &next)) < 0)
			return ret;
		if (!next)
			break;
		*out = next;
	}
	return 0;
}
