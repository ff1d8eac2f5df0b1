/* view: JSON and text reports over the database (see view.h). */
#include "view.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "html.h"
#include "checks.h"
#include "elsewhere.h"
#include "json.h"
#include "mail.h"
#include "series.h"
#include "state.h"
#include "todo.h"

static void json_col_int(struct pq_json *j, sqlite3_stmt *st, const char *key, int i)
{
	pq_json_key(j, key);
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		pq_json_null(j);
	else
		pq_json_int(j, sqlite3_column_int64(st, i));
}

static void json_col_str(struct pq_json *j, sqlite3_stmt *st, const char *key, int i)
{
	pq_json_kstr(j, key,
		     sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : pq_store_col_text(st, i));
}

/* full: also the text (commit message or reply) and the diff. */
/* ---- stats ---- */

int pq_view_stats(struct pq_store *s, struct pq_buf *out, int json)
{
	static const char *const names[] = {
		"messages",	 "deliveries", "msgids",	  "patches",	"covers",
		"replies",	 "pulls",      "other",		  "unparsable", "redelivered",
		"reused_msgids", "series",     "complete_series",
	};
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT (SELECT count(*) FROM message), (SELECT count(*) FROM delivery),"
		   " (SELECT count(DISTINCT msgid) FROM message),"
		   " (SELECT count(*) FROM message WHERE kind = 'patch'),"
		   " (SELECT count(*) FROM message WHERE kind = 'cover'),"
		   " (SELECT count(*) FROM message WHERE kind = 'reply'),"
		   " (SELECT count(*) FROM message WHERE kind = 'pull'),"
		   " (SELECT count(*) FROM message WHERE kind = 'other'),"
		   " (SELECT count(*) FROM message WHERE kind = 'unparsable'),"
		   " (SELECT count(*) FROM delivery WHERE duplicate),"
		   " (SELECT count(*) FROM message m WHERE EXISTS (SELECT 1 FROM message o"
		   "  WHERE o.msgid = m.msgid AND o.id < m.id)),"
		   " (SELECT count(*) FROM series),"
		   " (SELECT count(*) FROM complete_series)");
	struct pq_json j;
	size_t i;

	if (!st)
		return PQ_EDB;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return pq_store_error(s, "counting");
	}
	pq_json_init(&j, out, 1);
	if (json)
		pq_json_object_begin(&j);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (json)
			pq_json_kint(&j, names[i], sqlite3_column_int64(st, (int)i));
		else
			pq_buf_addf(out, "%-16s %lld\n", names[i],
				    (long long)sqlite3_column_int64(st, (int)i));
	}
	if (json) {
		/* patchwork's word for replies, so its users find it */
		pq_json_kint(&j, "comments", sqlite3_column_int64(st, 5));
		pq_json_object_end(&j);
	}
	sqlite3_reset(st);
	return 0;
}

/* ---- series ---- */

static void json_id_or_null(struct pq_json *j, const char *key, long long id)
{
	pq_json_key(j, key);
	if (id)
		pq_json_int(j, id);
	else
		pq_json_null(j);
}

static void json_trailers(struct pq_json *j, const char *key, const struct pq_trailers *t)
{
	size_t i;

	pq_json_key(j, key);
	pq_json_array_begin(j);
	for (i = 0; i < t->n; i++) {
		pq_json_object_begin(j);
		pq_json_kstr(j, "name", t->v[i].name);
		pq_json_kstr(j, "value", t->v[i].value);
		pq_json_object_end(j);
	}
	pq_json_array_end(j);
}

/* A trailer's id as `patchq trailer accept` takes it: "MESSAGE.POS". */
static void trailer_id(char *buf, size_t len, const struct pq_series_patch *p, size_t i)
{
	snprintf(buf, len, "%lld.%d", p->mismatched_from[i], p->mismatched_pos[i]);
}

/* The collected trailers with why those from another address count, and
 * the held-back ones with the id that accepts them. */
static void json_patch_trailers(struct pq_json *j, const struct pq_series_patch *p)
{
	char id[48];
	size_t i;

	pq_json_key(j, "collected");
	pq_json_array_begin(j);
	for (i = 0; i < p->collected.n; i++) {
		pq_json_object_begin(j);
		pq_json_kstr(j, "name", p->collected.v[i].name);
		pq_json_kstr(j, "value", p->collected.v[i].value);
		if (p->collected_note[i])
			pq_json_kstr(j, "counts_because", p->collected_note[i]);
		pq_json_object_end(j);
	}
	pq_json_array_end(j);
	pq_json_key(j, "mismatched");
	pq_json_array_begin(j);
	for (i = 0; i < p->mismatched.n; i++) {
		trailer_id(id, sizeof(id), p, i);
		pq_json_object_begin(j);
		pq_json_kstr(j, "name", p->mismatched.v[i].name);
		pq_json_kstr(j, "value", p->mismatched.v[i].value);
		pq_json_kstr(j, "id", id);
		pq_json_object_end(j);
	}
	pq_json_array_end(j);
}

/* Trailers that arrived after patch p was applied to a queue, per queue. */
static void late_trailers(struct pq_store *s, const struct pq_series_patch *p, struct pq_json *j,
			  struct pq_buf *text)
{
	sqlite3_stmt *st = pq_store_stmt(
		s,
		"SELECT queue, seen FROM application WHERE message_id = ? AND active ORDER BY id");
	size_t i;

	if (j) {
		pq_json_key(j, "late");
		pq_json_array_begin(j);
	}
	if (st) {
		sqlite3_bind_int64(st, 1, p->id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (i = 0; i < p->collected.n; i++) {
				if (p->collected_from[i] <= sqlite3_column_int64(st, 1))
					continue;
				if (j) {
					pq_json_object_begin(j);
					pq_json_kstr(j, "queue", pq_store_col_text(st, 0));
					pq_json_kstr(j, "name", p->collected.v[i].name);
					pq_json_kstr(j, "value", p->collected.v[i].value);
					pq_json_object_end(j);
				} else {
					pq_buf_addf(text, "        after %s: %s: %s\n",
						    pq_store_col_text(st, 0),
						    p->collected.v[i].name,
						    p->collected.v[i].value);
				}
			}
		}
		sqlite3_reset(st);
	}
	if (j)
		pq_json_array_end(j);
}

/* Where the series stands on each queue, and its last dry runs. */
static void queue_states(struct pq_store *s, long long id, struct pq_json *j, struct pq_buf *text)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT q.queue, q.state, q.reason, q.rule, q.held FROM series_queue q"
		   " WHERE q.series_id = ? ORDER BY q.queue");
	struct pq_elsewhere_taken taken;
	int there = pq_elsewhere_find(s, id, &taken) > 0;

	if (j) {
		pq_json_key(j, "queues");
		pq_json_array_begin(j);
	}
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (j) {
				pq_json_object_begin(j);
				json_col_str(j, st, "queue", 0);
				json_col_str(j, st, "state", 1);
				json_col_str(j, st, "reason", 2);
				json_col_str(j, st, "rule", 3);
				json_col_str(j, st, "held", 4);
				pq_json_object_end(j);
			} else {
				pq_buf_addf(text, "  on %s: %s%s%s%s%s%s\n",
					    pq_store_col_text(st, 0), pq_store_col_text(st, 1),
					    sqlite3_column_type(st, 2) == SQLITE_NULL ? "" : ": ",
					    pq_store_col_text(st, 2),
					    sqlite3_column_type(st, 4) == SQLITE_NULL ? "" : " (",
					    pq_store_col_text(st, 4),
					    sqlite3_column_type(st, 4) == SQLITE_NULL ? "" : ")");
			}
		}
		sqlite3_reset(st);
	}
	if (j) {
		pq_json_array_end(j);
		pq_json_key(j, "checks");
		pq_json_array_begin(j);
	}
	st = pq_store_stmt(s, "SELECT queue, tip, ok, error FROM check_result WHERE series_id = ?"
			      " ORDER BY queue");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (j) {
				pq_json_object_begin(j);
				json_col_str(j, st, "queue", 0);
				json_col_str(j, st, "tip", 1);
				pq_json_kbool(j, "applies", sqlite3_column_int(st, 2));
				json_col_str(j, st, "error", 3);
				pq_json_object_end(j);
			} else {
				pq_buf_addf(text, "  check on %s at %.12s: %s\n",
					    pq_store_col_text(st, 0), pq_store_col_text(st, 1),
					    sqlite3_column_int(st, 2) ? "applies"
								      : pq_store_col_text(st, 3));
			}
		}
		sqlite3_reset(st);
	}
	if (j) {
		pq_json_array_end(j);
		pq_json_key(j, "taken_elsewhere");
		if (there) {
			pq_json_object_begin(j);
			pq_json_kstr(j, "tree", taken.tree);
			pq_json_kstr(j, "by", taken.by);
			pq_json_kstr(j, "msgid", taken.msgid);
			pq_json_object_end(j);
		} else {
			pq_json_null(j);
		}
	} else if (there) {
		pq_buf_adds(text, "  ");
		pq_elsewhere_describe(&taken, text);
		pq_buf_addc(text, '\n');
	}
	pq_elsewhere_taken_free(&taken);
	/* what the checks said (checks.h) */
	if (j) {
		/* "checks" are the dry runs: these are the [check] sections' */
		pq_json_key(j, "check_results");
		pq_checks_json(s, id, NULL, j);
	} else {
		long long n = 0;

		if (pq_store_scalar_id(s, "SELECT count(*) FROM series_check WHERE series_id = ?",
				       id, &n) == 0 &&
		    n) {
			struct pq_buf list = PQ_BUF_INIT;
			const char *line, *nl;

			pq_checks_list(s, id, NULL, 0, &list);
			for (line = pq_buf_str(&list); *line; line = nl + 1) {
				nl = strchr(line, '\n');
				if (!nl)
					break;
				pq_buf_addf(text, "  %s%.*s\n", *line == ' ' ? "" : "check ",
					    (int)(nl - line), line);
			}
			pq_buf_free(&list);
		}
	}
}

/* The queues series id was taken for, with its state on each: st bound and stepped. */
static sqlite3_stmt *series_queues(struct pq_store *s, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT queue, state FROM series_queue"
					    " WHERE series_id = ? ORDER BY queue");

	if (st)
		sqlite3_bind_int64(st, 1, id);
	return st;
}

static void series_json(struct pq_store *s, struct pq_json *j, const struct pq_series *se,
			int detail)
{
	size_t i;

	pq_json_object_begin(j);
	pq_json_kint(j, "id", se->id);
	pq_json_kstr(j, "name", se->name);
	pq_json_kint(j, "version", se->version);
	pq_json_kint(j, "total", se->total);
	pq_json_kint(j, "received", se->received);
	pq_json_kbool(j, "complete", se->complete);
	pq_json_kstr(j, "cover", se->cover_msgid);
	pq_json_kstr(j, "submitter", se->submitter);
	pq_json_kstr(j, "submitter_name", se->submitter_name);
	pq_json_kstr(j, "state", se->state);
	json_id_or_null(j, "supersedes", se->supersedes);
	json_id_or_null(j, "superseded_by", se->superseded_by);
	json_id_or_null(j, "reroll_of", se->reroll_of);
	pq_json_key(j, "patches");
	pq_json_array_begin(j);
	for (i = 0; i < se->npatches; i++) {
		const struct pq_series_patch *p = &se->patches[i];

		pq_json_object_begin(j);
		pq_json_kint(j, "index", p->index);
		pq_json_kstr(j, "msgid", p->msgid);
		pq_json_kstr(j, "subject", p->subject);
		json_id_or_null(j, "from_series", p->borrowed_from);
		if (detail) {
			pq_json_kstr(j, "author", p->author);
			pq_json_kstr(j, "email", p->email);
			json_trailers(j, "trailers", &p->own);
			json_patch_trailers(j, p);
			late_trailers(s, p, j, NULL);
		}
		pq_json_object_end(j);
	}
	pq_json_array_end(j);
	if (!detail) {
		sqlite3_stmt *st = series_queues(s, se->id);

		pq_json_key(j, "queues");
		pq_json_array_begin(j);
		while (st && sqlite3_step(st) == SQLITE_ROW) {
			pq_json_object_begin(j);
			json_col_str(j, st, "queue", 0);
			json_col_str(j, st, "state", 1);
			pq_json_object_end(j);
		}
		if (st)
			sqlite3_reset(st);
		pq_json_array_end(j);
	}
	if (detail) {
		queue_states(s, se->id, j, NULL);
		pq_json_key(j, "replies");
		pq_json_array_begin(j);
		for (i = 0; i < se->nreplies; i++) {
			const struct pq_series_reply *r = &se->replies[i];

			pq_json_object_begin(j);
			pq_json_kstr(j, "msgid", r->msgid);
			pq_json_kstr(j, "author", r->author);
			pq_json_kstr(j, "email", r->email);
			pq_json_kstr(j, "subject", r->subject);
			pq_json_key(j, "in_reply_to_patch");
			if (r->target >= 0)
				pq_json_int(j, r->target);
			else
				pq_json_null(j);
			pq_json_object_end(j);
		}
		pq_json_array_end(j);
	}
	pq_json_object_end(j);
}

static void series_text_line(struct pq_buf *out, const struct pq_series *se)
{
	pq_buf_addf(out, "%6lld  v%-2d %3d/%-3d %-8s %-10s %s <%s>", se->id, se->version,
		    se->received, se->total, se->complete ? "complete" : "partial", se->state,
		    se->name ? se->name : "(unnamed)", se->submitter ? se->submitter : "");
	if (se->supersedes)
		pq_buf_addf(out, "  supersedes %lld", se->supersedes);
	if (se->reroll_of)
		pq_buf_addf(out, " (partial reroll: the rest from %lld)", se->reroll_of);
}

/* One row of a listing: the series as `patchq series` shows it, and its queues. */
static int series_row(struct pq_store *s, struct pq_json *j, enum pq_view_format fmt,
		      struct pq_buf *out, const struct pq_series *se)
{
	sqlite3_stmt *st = series_queues(s, se->id);
	int rc, n = 0;

	if (!st)
		return PQ_EDB;
	if (fmt == PQ_VIEW_JSON) {
		sqlite3_reset(st);
		series_json(s, j, se, 0);
		return 0;
	}
	if (fmt == PQ_VIEW_TEXT) {
		series_text_line(out, se);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			pq_buf_addf(out, "%s%s: %s", n++ ? ", " : "  [", pq_store_col_text(st, 0),
				    pq_store_col_text(st, 1));
		if (n)
			pq_buf_addc(out, ']');
		pq_buf_addc(out, '\n');
	} else if (fmt == PQ_VIEW_HTML) {
		pq_buf_addf(out, "<tr><td><a href=\"/series/%lld\">%lld</a></td><td>v%d</td><td>",
			    se->id, se->id, se->version);
		pq_html_text(out, se->name ? se->name : "(unnamed)");
		pq_buf_adds(out, "</td><td>");
		pq_html_text(out, se->submitter_name);
		if (se->submitter) {
			pq_buf_adds(out, se->submitter_name ? " &lt;" : "&lt;");
			pq_html_text(out, se->submitter);
			pq_buf_adds(out, "&gt;");
		}
		pq_buf_addf(out, "</td><td>%d/%d</td><td>", se->received, se->total);
		pq_html_text(out, se->state);
		pq_buf_adds(out, "</td><td>");
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			pq_buf_adds(out, n++ ? ", <a href=\"/queues/" : "<a href=\"/queues/");
			pq_html_url(out, pq_store_col_text(st, 0));
			pq_buf_adds(out, "\">");
			pq_html_text(out, pq_store_col_text(st, 0));
			pq_buf_adds(out, "</a>: ");
			pq_html_text(out, pq_store_col_text(st, 1));
		}
		pq_buf_adds(out, "</td></tr>\n");
	} else {
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return pq_store_error(s, "reading a series' queues");
	}
	sqlite3_reset(st);
	return 0;
}

/* The conditions of a listing: ?1 the cursor, ?2 queue, ?3 state, ?4 the
 * LIKE pattern, ?5 since. Read by the rowid, the primary key of
 * series_queue for a queue. */
#define SERIES_FILTER                                                                         \
	" WHERE (?2 IS NULL OR EXISTS (SELECT 1 FROM series_queue q WHERE q.series_id = s.id" \
	" AND q.queue = ?2 AND (?3 IS NULL OR q.state = ?3)))"                                \
	" AND (?2 IS NOT NULL OR ?3 IS NULL OR s.state = ?3)"                                 \
	" AND (?4 IS NULL OR s.name LIKE ?4 ESCAPE '\\' OR s.submitter LIKE ?4 ESCAPE '\\'"   \
	" OR s.submitter_name LIKE ?4 ESCAPE '\\')"                                           \
	" AND (?5 IS NULL OR s.date >= ?5)"

/* "%TEXT%" with LIKE's wildcards and the escape character escaped. */
static char *like_pattern(const char *text)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addc(&b, '%');
	for (; *text; text++) {
		if (*text == '%' || *text == '_' || *text == '\\')
			pq_buf_addc(&b, '\\');
		pq_buf_addc(&b, *text);
	}
	pq_buf_addc(&b, '%');
	return pq_buf_detach(&b);
}

/* The ids f selects: a page (newest first, one more than the limit, to know
 * whether another follows), or every match in creation order. */
static int series_ids(struct pq_store *s, const struct pq_series_filter *f, long long **ids,
		      size_t *n)
{
	sqlite3_stmt *st = f->limit ? pq_store_stmt(s, "SELECT s.id FROM series s" SERIES_FILTER
						       " AND s.id < ?1 ORDER BY s.id DESC LIMIT ?6")
				    : pq_store_stmt(s, "SELECT s.id FROM series s" SERIES_FILTER
						       " AND s.id > ?1 ORDER BY s.id");
	char *like = f->search && *f->search ? like_pattern(f->search) : NULL;
	int ret;

	*ids = NULL;
	*n = 0;
	if (!st) {
		free(like);
		return PQ_EDB;
	}
	if (f->limit)
		sqlite3_bind_int64(st, 1, f->after ? f->after : INT64_MAX);
	else
		sqlite3_bind_int64(st, 1, 0);
	pq_store_bind_text(st, 2, f->queue && *f->queue ? f->queue : NULL);
	pq_store_bind_text(st, 3, f->state && *f->state ? f->state : NULL);
	pq_store_bind_text(st, 4, like);
	if (f->since)
		sqlite3_bind_int64(st, 5, f->since);
	if (f->limit)
		sqlite3_bind_int64(st, 6, (long long)f->limit + 1);
	ret = pq_store_ids(s, st, ids, n);
	free(like);
	return ret;
}

int pq_view_series_page(struct pq_store *s, const struct pq_series_filter *f,
			enum pq_view_format fmt, struct pq_buf *out, long long *next)
{
	static const struct pq_series_filter none = { 0 };
	enum pq_state state;
	struct pq_json j;
	long long *ids;
	size_t n, i, shown;
	int ret;

	if (next)
		*next = 0;
	if (!f)
		f = &none;
	if (f->state && *f->state && (ret = pq_state_parse(f->state, &state)) < 0)
		return ret;
	if (f->limit < 0 || f->after < 0)
		return pq_error_set(PQ_EINVAL, "a listing's limit and cursor are not negative");
	if ((ret = series_ids(s, f, &ids, &n)) < 0)
		return ret;
	shown = f->limit && n > (size_t)f->limit ? (size_t)f->limit : n;
	pq_json_init(&j, out, 1);
	if (fmt == PQ_VIEW_JSON && f->limit) {
		pq_json_object_begin(&j);
		pq_json_key(&j, "items");
	}
	if (fmt == PQ_VIEW_JSON)
		pq_json_array_begin(&j);
	else if (fmt == PQ_VIEW_HTML)
		pq_buf_adds(out, "<table class=\"series\">\n<thead><tr><th>series</th>"
				 "<th>version</th><th>name</th><th>submitter</th><th>patches</th>"
				 "<th>state</th><th>queues</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < shown && ret == 0; i++) {
		struct pq_series *se;

		if ((ret = pq_series_load(s, ids[i], &se)) < 0)
			break;
		ret = series_row(s, &j, fmt, out, se);
		pq_series_free(se);
	}
	if (ret == 0 && fmt == PQ_VIEW_JSON) {
		pq_json_array_end(&j);
		if (f->limit) {
			pq_json_key(&j, "next");
			if (n > shown && f->next_url) {
				struct pq_buf url = PQ_BUF_INIT;

				pq_buf_addf(&url, "%s%lld", f->next_url, ids[shown - 1]);
				pq_json_str(&j, url.ptr);
				pq_buf_free(&url);
			} else if (n > shown) {
				pq_json_int(&j, ids[shown - 1]);
			} else {
				pq_json_null(&j);
			}
			pq_json_object_end(&j);
		}
	} else if (ret == 0 && fmt == PQ_VIEW_HTML) {
		pq_buf_adds(out, "</tbody>\n</table>\n");
	}
	if (ret == 0 && next && n > shown)
		*next = ids[shown - 1];
	free(ids);
	return ret;
}

int pq_view_series_list(struct pq_store *s, struct pq_buf *out, int json)
{
	return pq_view_series_page(s, NULL, json ? PQ_VIEW_JSON : PQ_VIEW_TEXT, out, NULL);
}

static void trailers_text(struct pq_buf *out, const char *label, const struct pq_trailers *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		pq_buf_addf(out, "        %s%s: %s\n", label, t->v[i].name, t->v[i].value);
}

static void patch_trailers_text(struct pq_buf *out, const struct pq_series_patch *p)
{
	char id[48];
	size_t i;

	trailers_text(out, "", &p->own);
	for (i = 0; i < p->collected.n; i++) {
		pq_buf_addf(out, "        + %s: %s", p->collected.v[i].name,
			    p->collected.v[i].value);
		if (p->collected_note[i])
			pq_buf_addf(out, "  (%s)", p->collected_note[i]);
		pq_buf_addc(out, '\n');
	}
	for (i = 0; i < p->mismatched.n; i++) {
		trailer_id(id, sizeof(id), p, i);
		pq_buf_addf(out, "        ? (sender differs, %s) %s: %s\n", id,
			    p->mismatched.v[i].name, p->mismatched.v[i].value);
	}
}

int pq_view_series_show(struct pq_store *s, const struct pq_config *c, long long id,
			struct pq_buf *out, int json)
{
	struct pq_series *se;
	struct pq_json j;
	size_t i;
	int ret;

	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret;
	if (json) {
		pq_json_init(&j, out, 1);
		series_json(s, &j, se, 1);
		pq_series_free(se);
		return 0;
	}
	series_text_line(out, se);
	pq_buf_addc(out, '\n');
	if (se->superseded_by)
		pq_buf_addf(out, "        superseded by series %lld\n", se->superseded_by);
	if (se->cover_msgid)
		pq_buf_addf(out, "  [0/%d] %s\n        <%s>\n", se->total, se->cover_subject,
			    se->cover_msgid);
	for (i = 0; i < se->npatches; i++) {
		const struct pq_series_patch *p = &se->patches[i];

		pq_buf_addf(out, "  [%d/%d] %s\n        <%s>\n        From: %s <%s>\n", p->index,
			    se->total, p->name, p->msgid, p->author, p->email);
		if (p->borrowed_from)
			pq_buf_addf(out, "        (from series %lld)\n", p->borrowed_from);
		patch_trailers_text(out, p);
		late_trailers(s, p, NULL, out);
	}
	queue_states(s, se->id, NULL, out);
	if (se->nreplies)
		pq_buf_adds(out, "  replies:\n");
	for (i = 0; i < se->nreplies; i++) {
		const struct pq_series_reply *r = &se->replies[i];

		pq_buf_addf(out, "    %s <%s>: %s\n", r->author, r->email, r->subject);
	}
	pq_series_free(se);
	return 0;
}

/* ---- messages ---- */

#define MESSAGE_COLUMNS                                                                  \
	"SELECT id, msgid, kind, subject, name, author, email, date, date_raw, version," \
	" idx, total, pull_url, pull_branch, diff IS NOT NULL, files, series_id, error," \
	" in_reply_to, tags, base_commit, change_id, body, diff FROM message"

static void iso_date(char *buf, size_t len, sqlite3_int64 t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

static int message_json(struct pq_store *s, struct pq_json *j, sqlite3_stmt *st, int full)
{
	struct pq_trailers t = { 0 };
	char date[64];
	const char *files = pq_store_col_text(st, 15);
	int ret;

	pq_json_object_begin(j);
	json_col_str(j, st, "msgid", 1);
	json_col_str(j, st, "kind", 2);
	json_col_str(j, st, "subject", 3);
	json_col_str(j, st, "name", 4);
	json_col_str(j, st, "author", 5);
	json_col_str(j, st, "email", 6);
	if (sqlite3_column_type(st, 7) == SQLITE_NULL) {
		pq_json_kstr(j, "date", NULL);
	} else {
		iso_date(date, sizeof(date), sqlite3_column_int64(st, 7));
		pq_json_kstr(j, "date", date);
	}
	json_col_str(j, st, "date_raw", 8);
	json_col_int(j, st, "version", 9);
	json_col_int(j, st, "index", 10);
	json_col_int(j, st, "total", 11);
	json_col_str(j, st, "pull_url", 12);
	json_col_str(j, st, "pull_branch", 13);
	pq_json_kbool(j, "diff", sqlite3_column_int(st, 14));
	pq_json_key(j, "files");
	pq_json_array_begin(j);
	while (*files) {
		const char *nl = strchr(files, '\n');
		size_t len = nl ? (size_t)(nl - files) : strlen(files);
		char *f = pq_strndup(files, len);

		pq_json_str(j, f);
		free(f);
		files += len + (nl ? 1 : 0);
	}
	pq_json_array_end(j);
	json_col_int(j, st, "series", 16);
	json_col_str(j, st, "error", 17);
	json_col_str(j, st, "in_reply_to", 18);
	pq_json_key(j, "tags");
	pq_json_array_begin(j);
	{
		char *tags = pq_strdup(pq_store_col_text(st, 19)), *save = NULL, *tok;

		for (tok = strtok_r(tags, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			pq_json_str(j, tok);
		free(tags);
	}
	pq_json_array_end(j);
	json_col_str(j, st, "base_commit", 20);
	json_col_str(j, st, "change_id", 21);
	if (full) {
		json_col_str(j, st, "body", 22);
		json_col_str(j, st, "diff_text", 23);
	}
	{
		sqlite3_stmt *ts = pq_store_stmt(
			s, "SELECT name, value, email, extinfo FROM trailer WHERE message_id = ?"
			   " ORDER BY pos");

		if (!ts)
			return PQ_EDB;
		sqlite3_bind_int64(ts, 1, sqlite3_column_int64(st, 0));
		while ((ret = sqlite3_step(ts)) == SQLITE_ROW)
			pq_trailers_add(&t, pq_store_col_text(ts, 0), pq_store_col_text(ts, 1),
					NULL, NULL);
		sqlite3_reset(ts);
	}
	json_trailers(j, "trailers", &t);
	pq_trailers_free(&t);
	pq_json_object_end(j);
	return 0;
}

static void message_text(struct pq_buf *out, sqlite3_stmt *st)
{
	pq_buf_addf(out, "%6lld  %-10s %s\n        <%s>  %s <%s>\n",
		    (long long)sqlite3_column_int64(st, 0), pq_store_col_text(st, 2),
		    pq_store_col_text(st, 3), pq_store_col_text(st, 1), pq_store_col_text(st, 5),
		    pq_store_col_text(st, 6));
	if (sqlite3_column_type(st, 17) != SQLITE_NULL)
		pq_buf_addf(out, "        note: %s\n", pq_store_col_text(st, 17));
}

/* Every row of st (MESSAGE_COLUMNS, bound) as a list. */
static int message_list(struct pq_store *s, sqlite3_stmt *st, struct pq_buf *out, int json)
{
	struct pq_json j;
	int ret = 0;

	pq_json_init(&j, out, 1);
	if (json)
		pq_json_array_begin(&j);
	/* message_json runs its own statements: st is a different one */
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!json)
			message_text(out, st);
		else if ((ret = message_json(s, &j, st, 0)) < 0)
			break;
	}
	sqlite3_reset(st);
	if (json && !ret)
		pq_json_array_end(&j);
	return ret;
}

int pq_view_messages(struct pq_store *s, struct pq_buf *out, int json)
{
	sqlite3_stmt *st = pq_store_stmt(s, MESSAGE_COLUMNS " ORDER BY id");

	return st ? message_list(s, st, out, json) : PQ_EDB;
}

int pq_view_message(struct pq_store *s, const char *msgid, struct pq_buf *out, int json)
{
	sqlite3_stmt *st = pq_store_stmt(s, MESSAGE_COLUMNS " WHERE msgid = ? ORDER BY id");
	char *id = pq_strdup(msgid + (*msgid == '<'));
	struct pq_json j;
	int ret = 0, found = 0;

	if (!st) {
		free(id);
		return PQ_EDB;
	}
	if (*id && id[strlen(id) - 1] == '>')
		id[strlen(id) - 1] = '\0';
	pq_store_bind_text(st, 1, id);
	pq_json_init(&j, out, 1);
	/* A reused Message-ID names several messages: show the first, as
	 * threading does, and the others' existence in the text form. */
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!found && json)
			ret = message_json(s, &j, st, 1);
		else if (!json)
			message_text(out, st);
		found++;
		if (json)
			break;
	}
	sqlite3_reset(st);
	if (!found)
		ret = pq_error_set(PQ_ENOTFOUND, "no message <%s>", id);
	free(id);
	return ret;
}

int pq_view_unparsable(struct pq_store *s, long long after, struct pq_buf *out, int json)
{
	sqlite3_stmt *st = pq_store_stmt(s, MESSAGE_COLUMNS
					 " WHERE kind = 'unparsable' AND id > ? ORDER BY id");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, after);
	return message_list(s, st, out, json);
}

/* After the series on queue: those waiting there, as the to-do lists them. */
static int queue_waiting_text(struct pq_store *s, const char *queue, struct pq_buf *out,
			      int applied)
{
	struct pq_todo_list l = { 0 };
	int ret;

	if ((ret = pq_todo_waiting(s, queue, &l)) < 0)
		return ret;
	if (!applied)
		pq_buf_addf(out, "nothing applied to %s yet\n", queue);
	if (l.n) {
		pq_buf_addf(out, "\nwaiting for approval on %s (%zu):\n", queue, l.n);
		pq_todo_write_waiting(&l, out);
	}
	pq_todo_list_free(&l);
	return 0;
}

int pq_view_queue(struct pq_store *s, const char *queue, struct pq_buf *out, int json)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT a.series_id, s.name, s.version, a.msgid, a.commit_id, a.path, m.name"
		   " FROM application a JOIN series s ON s.id = a.series_id"
		   " JOIN message m ON m.id = a.message_id"
		   " WHERE a.queue = ? AND a.active ORDER BY a.id");
	struct pq_json j;
	long long last = 0;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, queue);
	pq_json_init(&j, out, 1);
	if (json)
		pq_json_array_begin(&j);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);

		if (id != last && json) {
			if (last) {
				pq_json_array_end(&j);
				pq_json_object_end(&j);
			}
			pq_json_object_begin(&j);
			pq_json_kint(&j, "series", id);
			json_col_str(&j, st, "name", 1);
			pq_json_kint(&j, "version", sqlite3_column_int(st, 2));
			pq_json_key(&j, "patches");
			pq_json_array_begin(&j);
		} else if (id != last) {
			pq_buf_addf(out, "%6lld  v%d %s\n", id, sqlite3_column_int(st, 2),
				    pq_store_col_text(st, 1));
		}
		last = id;
		if (json) {
			pq_json_object_begin(&j);
			json_col_str(&j, st, "msgid", 3);
			json_col_str(&j, st, "subject", 6);
			json_col_str(&j, st, "commit", 4);
			json_col_str(&j, st, "path", 5);
			pq_json_object_end(&j);
		} else {
			pq_buf_addf(out, "        %.12s %s\n", pq_store_col_text(st, 4),
				    pq_store_col_text(st, 6));
		}
	}
	sqlite3_reset(st);
	if (json) {
		if (last) {
			pq_json_array_end(&j);
			pq_json_object_end(&j);
		}
		pq_json_array_end(&j);
		return 0;
	}
	return queue_waiting_text(s, queue, out, last != 0);
}

/* ---- text for a terminal ---- */

/* Length of the valid UTF-8 sequence at s (2 to 4 bytes) that is not a C1
 * control character, or 0. */
static size_t printable_seq(const unsigned char *s, size_t len)
{
	unsigned cp;
	size_t n = pq_utf8_decode(s, len, &cp);

	return n < 2 || (cp >= 0x80 && cp < 0xa0) ? 0 : n;
}

void pq_view_text_safe(struct pq_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, n;

	pq_buf_grow(out, len);
	while (i < len) {
		if (p[i] >= 0x20 && p[i] < 0x7f) {
			i++;
			continue;
		}
		if (p[i] == '\n' || p[i] == '\t') {
			i++;
			continue;
		}
		if (p[i] >= 0x80 && (n = printable_seq(p + i, len - i))) {
			i += n;
			continue;
		}
		pq_buf_add(out, s + start, i - start);
		pq_buf_adds(out, "\xef\xbf\xbd");
		/* a C1 control is one character of two bytes */
		i += p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f ? 2 : 1;
		start = i;
	}
	pq_buf_add(out, s + start, i - start);
}
