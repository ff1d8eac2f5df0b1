/*
 * deskpage: the desk's pages of one thing (see deskpage.h).
 */
#include "deskpage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>

#include "alloc.h"
#include "elsewhere.h"
#include "error.h"
#include "html.h"
#include "outbox.h"
#include "series.h"
#include "state.h"
#include "todo.h"
#include "triage.h"

/* ---- small pieces ---- */

static void date_cell(struct pq_buf *out, long long t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm)) {
		pq_buf_adds(out, "<td></td>");
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
	pq_buf_addf(out, "<td>%s</td>", buf);
}

static void cell(struct pq_buf *out, const char *s)
{
	pq_buf_adds(out, "<td>");
	pq_html_text(out, s);
	pq_buf_adds(out, "</td>");
}

/* A row of a two-column table: label, then value as text. */
static void text_row(struct pq_buf *out, const char *label, const char *value)
{
	pq_buf_addf(out, "<tr><th>%s</th>", label);
	cell(out, value);
	pq_buf_adds(out, "</tr>\n");
}

static void date_row(struct pq_buf *out, const char *label, long long t)
{
	pq_buf_addf(out, "<tr><th>%s</th>", label);
	date_cell(out, t);
	pq_buf_adds(out, "</tr>\n");
}

static void series_link(struct pq_buf *out, long long id, const char *name)
{
	pq_buf_addf(out, "<a href=\"/series/%lld\">", id);
	if (name && *name)
		pq_html_text(out, name);
	else
		pq_buf_addf(out, "series %lld", id);
	pq_buf_adds(out, "</a>");
}

static void message_link(struct pq_buf *out, const char *msgid, const char *text)
{
	pq_buf_adds(out, "<a href=\"/messages/");
	pq_html_url(out, msgid);
	pq_buf_adds(out, "\">");
	pq_html_text(out, text);
	pq_buf_adds(out, "</a>");
}

/* A form's opening tag of class cls, for an action at url, and its hidden CSRF field. */
static void form_open(struct pq_buf *out, const char *cls, const char *url, const char *csrf)
{
	pq_buf_addf(out, "<form class=\"%s\" method=\"post\" action=\"", cls);
	pq_html_text(out, url);
	pq_buf_adds(out, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
	pq_html_text(out, csrf);
	pq_buf_adds(out, "\">");
}

/* form_open() of a form that sits in a line of text (a button). */
static void form_begin(struct pq_buf *out, const char *url, const char *csrf)
{
	form_open(out, "inline", url, csrf);
}

/* The button of what a maintainer may do with reply id in state (retry, hold, release). */
static void reply_form(struct pq_buf *out, long long id, const char *state, const char *csrf)
{
	const char *what = !strcmp(state, "failed")    ? "retry"
			   : !strcmp(state, "held")    ? "release"
			   : !strcmp(state, "pending") ? "hold"
						       : NULL;
	struct pq_buf url = PQ_BUF_INIT;

	if (!csrf || !what)
		return;
	pq_buf_addf(&url, "/outbox/%lld/%s", id, what);
	form_begin(out, url.ptr, csrf);
	pq_buf_addf(out, "<button type=\"submit\">%s reply %lld</button></form>\n", what, id);
	pq_buf_free(&url);
}

/*
 * The form that edits reply id, text its mail, for a maintainer (csrf
 * non-NULL) while it is unsent (PQ_OUTBOX_UNSENT): the Subject and the
 * body filled in, the other fields shown as they go.
 */
static void edit_form(struct pq_buf *out, long long id, int unsent, const char *text,
		      const char *csrf)
{
	struct pq_buf url = PQ_BUF_INIT;
	struct pq_outbox_parts p;

	if (!csrf || !unsent)
		return;
	if (pq_outbox_split(text, &p) == 0) {
		pq_buf_addf(&url, "/outbox/%lld/edit", id);
		pq_buf_adds(out, "<h2>Edit</h2>\n");
		form_open(out, "edit", url.ptr, csrf);
		pq_buf_adds(out, "\n<pre class=\"message\">");
		pq_html_text(out, p.fields);
		pq_buf_adds(out, "</pre>\n<p><label>Subject <input name=\"subject\" size=\"72\" "
				 "required value=\"");
		pq_html_text(out, p.subject);
		/* the line feed after the tag is the parser's: the body keeps its own */
		pq_buf_adds(out, "\"></label></p>\n<p><textarea name=\"body\" rows=\"20\" "
				 "cols=\"80\" aria-label=\"body\">\n");
		pq_html_text(out, p.body);
		pq_buf_addf(out,
			    "</textarea></p>\n<p><button type=\"submit\">save reply %lld</button> "
			    "<span class=\"meta\">Only the Subject and the body change; the edit "
			    "is recorded.</span></p></form>\n",
			    id);
	}
	pq_outbox_parts_free(&p);
	pq_buf_free(&url);
}

/*
 * What the checks (checks.h) said of series id: a row per queue, check
 * and patch, the output's tail behind a <details> (no script needed).
 */
static int series_checks(struct pq_store *s, long long id, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT queue, name, patch, state, exit, duration_ms, output, reused, sandbox"
		   " FROM series_check WHERE series_id = ? ORDER BY queue, name, IFNULL(patch, 0)");
	int rows = 0, rc;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!rows++)
			pq_buf_adds(out,
				    "<h2>Checks</h2>\n<table class=\"checks\">\n<tr><th>queue</th>"
				    "<th>check</th><th>patch</th><th>state</th><th>exit</th>"
				    "<th>seconds</th><th>output</th></tr>\n");
		pq_buf_adds(out, "<tr><td>");
		pq_html_text(out, pq_store_col_text(st, 0));
		pq_buf_adds(out, "</td><td>");
		pq_html_text(out, pq_store_col_text(st, 1));
		pq_buf_adds(out, "</td><td>");
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			pq_buf_addf(out, "%d", sqlite3_column_int(st, 2));
		pq_buf_addf(out, "</td><td class=\"%s\">",
			    strcmp(pq_store_col_text(st, 3), "pass") ? "bad" : "good");
		pq_html_text(out, pq_store_col_text(st, 3));
		pq_buf_adds(out, "</td><td>");
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			pq_buf_addf(out, "%d", sqlite3_column_int(st, 4));
		pq_buf_addf(out, "</td><td>%.1f%s%s</td><td>",
			    (double)sqlite3_column_int64(st, 5) / 1000.0,
			    sqlite3_column_int(st, 7) ? " (reused)" : "",
			    sqlite3_column_int(st, 8) ? "" : " (no sandbox)");
		if (*pq_store_col_text(st, 6)) {
			pq_buf_adds(out, "<details><summary>output</summary><pre>");
			pq_html_text(out, pq_store_col_text(st, 6));
			pq_buf_adds(out, "</pre></details>");
		}
		pq_buf_adds(out, "</td></tr>\n");
	}
	sqlite3_reset(st);
	if (rows)
		pq_buf_adds(out, "</table>\n");
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading the checks");
}

/*
 * The rows of st (bound, not stepped) as a table under heading (NULL:
 * none; nothing at all when there is no row). cols says what each cell is
 * made of, a letter per cell, each taking the next column(s) of the row:
 * 't' text, 'n' a number, 'd' a date (unix time), 'S' a link to a series
 * (its id, then its name), 'R' a link to a reply (its id); heads names
 * the cells, "|"-separated. Resets st. Returns the rows written.
 */
static int rows_table(struct pq_buf *out, sqlite3_stmt *st, const char *heading, const char *heads,
		      const char *cols)
{
	int rows = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *c;
		int i = 0;

		if (!rows++) {
			const char *h = heads;

			if (heading)
				pq_buf_addf(out, "<h2>%s</h2>\n", heading);
			pq_buf_adds(out, "<table>\n<tr>");
			while (*h) {
				size_t n = strcspn(h, "|");

				pq_buf_addf(out, "<th>%.*s</th>", (int)n, h);
				h += n + (h[n] == '|');
			}
			pq_buf_adds(out, "</tr>\n");
		}
		pq_buf_adds(out, "<tr>");
		for (c = cols; *c; c++, i++) {
			long long id = sqlite3_column_int64(st, i);

			switch (*c) {
			case 't':
				cell(out, pq_store_col_text(st, i));
				break;
			case 'n':
				pq_buf_addf(out, "<td>%lld</td>", id);
				break;
			case 'd':
				date_cell(out, id);
				break;
			case 'S':
				pq_buf_adds(out, "<td>");
				series_link(out, id, pq_store_col_text(st, ++i));
				pq_buf_adds(out, "</td>");
				break;
			case 'R':
				pq_buf_addf(out, "<td><a href=\"/outbox/%lld\">%lld</a></td>", id,
					    id);
				break;
			}
		}
		pq_buf_adds(out, "</tr>\n");
	}
	sqlite3_reset(st);
	if (rows)
		pq_buf_adds(out, "</table>\n");
	return rows;
}

/* text as a <pre>, each diff line in a span of its kind. */
static void diff_block(struct pq_buf *out, const char *text)
{
	const char *p = text;

	pq_buf_adds(out, "<pre class=\"diff\">");
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *cls = NULL;

		if (!strncmp(p, "+++", 3) || !strncmp(p, "---", 3) || !strncmp(p, "diff ", 5) ||
		    !strncmp(p, "index ", 6))
			cls = "meta";
		else if (!strncmp(p, "@@", 2))
			cls = "hunk";
		else if (*p == '+')
			cls = "add";
		else if (*p == '-')
			cls = "del";
		if (cls)
			pq_buf_addf(out, "<span class=\"%s\">", cls);
		pq_html_text_len(out, p, len);
		if (cls)
			pq_buf_adds(out, "</span>");
		pq_buf_addc(out, '\n');
		p = nl ? nl + 1 : NULL;
	}
	pq_buf_adds(out, "</pre>\n");
}

/* The body and diff of message id (columns of the message table). */
static int message_text(struct pq_store *s, long long id, char **body, char **diff)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT body, diff FROM message WHERE id = ?");

	*body = *diff = NULL;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*body = pq_store_col_dup(st, 0);
		*diff = pq_store_col_dup(st, 1);
	}
	sqlite3_reset(st);
	return 0;
}

/* ---- a series ---- */

static int series_queues(struct pq_store *s, const struct pq_config *c, long long id,
			 const char *csrf, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT q.queue, q.state, q.rule, coalesce(q.held, q.reason), q.updated, k.ok,"
		   " k.error, k.tip"
		   " FROM series_queue q LEFT JOIN check_result k"
		   " ON k.series_id = q.series_id AND k.queue = q.queue"
		   " WHERE q.series_id = ? ORDER BY q.queue");
	size_t i;

	if (!st)
		return PQ_EDB;
	pq_buf_adds(out, "<h2>Queues</h2>\n<table>\n<tr><th>queue</th><th>state</th><th>rule</th>"
			 "<th>reason</th><th>since</th><th>dry run</th></tr>\n");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		pq_buf_adds(out, "<tr><td><a href=\"/queues/");
		pq_html_url(out, pq_store_col_text(st, 0));
		pq_buf_adds(out, "\">");
		pq_html_text(out, pq_store_col_text(st, 0));
		pq_buf_adds(out, "</a></td>");
		cell(out, pq_store_col_text(st, 1));
		cell(out, pq_store_col_text(st, 2));
		cell(out, pq_store_col_text(st, 3));
		date_cell(out, sqlite3_column_int64(st, 4));
		if (sqlite3_column_type(st, 5) == SQLITE_NULL)
			pq_buf_adds(out, "<td class=\"meta\">not checked</td>");
		else if (sqlite3_column_int(st, 5))
			pq_buf_addf(out, "<td class=\"good\">applies on %.12s</td>",
				    pq_store_col_text(st, 7));
		else {
			pq_buf_adds(out, "<td class=\"bad\">");
			pq_html_text(out, pq_store_col_text(st, 6));
			pq_buf_adds(out, "</td>");
		}
		pq_buf_adds(out, "</tr>\n");
	}
	sqlite3_reset(st);
	pq_buf_adds(out, "</table>\n");
	if (!csrf)
		return 0;
	/* the actions: approve or apply to a queue, reject with a reason */
	pq_buf_adds(out, "<p>");
	for (i = 0; i < c->nqueues; i++) {
		struct pq_buf url = PQ_BUF_INIT;

		if (c->queues[i].frozen)
			continue;
		pq_buf_addf(&url, "/series/%lld/approve", id);
		form_begin(out, url.ptr, csrf);
		pq_buf_adds(out, "<input type=\"hidden\" name=\"queue\" value=\"");
		pq_html_text(out, c->queues[i].name);
		pq_buf_adds(out, "\"><button type=\"submit\">approve for ");
		pq_html_text(out, c->queues[i].name);
		pq_buf_adds(out, "</button></form> ");
		pq_buf_free(&url);
	}
	pq_buf_adds(out, "</p>\n");
	{
		struct pq_buf url = PQ_BUF_INIT;

		pq_buf_addf(&url, "/series/%lld/reject", id);
		form_begin(out, url.ptr, csrf);
		pq_buf_adds(out, "<label>queue <select name=\"queue\">");
		for (i = 0; i < c->nqueues; i++) {
			pq_buf_adds(out, "<option>");
			pq_html_text(out, c->queues[i].name);
			pq_buf_adds(out, "</option>");
		}
		pq_buf_adds(out, "</select></label> <label>reason <input name=\"reason\" "
				 "required></label> <label><input type=\"checkbox\" name=\"reply\" "
				 "value=\"1\"> tell the list why</label> "
				 "<button type=\"submit\">reject</button></form>\n");
		pq_buf_free(&url);
	}
	return 0;
}

static int series_versions(struct pq_store *s, const struct pq_series *se, struct pq_buf *out)
{
	sqlite3_stmt *down = pq_store_stmt(s, "SELECT supersedes FROM series WHERE id = ?");
	sqlite3_stmt *row =
		pq_store_stmt(s, "SELECT version, name, state FROM series WHERE id = ?");
	sqlite3_stmt *up = pq_store_stmt(s, "SELECT id FROM series WHERE supersedes = ? LIMIT 1");
	long long ids[64], id = se->id;
	int n = 0, i;

	if (!down || !row || !up)
		return PQ_EDB;
	/* the oldest first: walk down, then up from the series */
	while (id && n < 32) {
		ids[n++] = id;
		sqlite3_bind_int64(down, 1, id);
		id = sqlite3_step(down) == SQLITE_ROW ? sqlite3_column_int64(down, 0) : 0;
		sqlite3_reset(down);
	}
	for (i = 0; i < n / 2; i++) {
		long long t = ids[i];

		ids[i] = ids[n - 1 - i];
		ids[n - 1 - i] = t;
	}
	id = se->id;
	while (n < 64) {
		sqlite3_bind_int64(up, 1, id);
		id = sqlite3_step(up) == SQLITE_ROW ? sqlite3_column_int64(up, 0) : 0;
		sqlite3_reset(up);
		if (!id)
			break;
		ids[n++] = id;
	}
	if (n < 2)
		return 0;
	pq_buf_adds(out, "<h2>Versions</h2>\n<ul>\n");
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(row, 1, ids[i]);
		if (sqlite3_step(row) == SQLITE_ROW) {
			pq_buf_addf(out, "<li>v%d ", sqlite3_column_int(row, 0));
			if (ids[i] == se->id)
				pq_buf_adds(out, "<b>this one</b>");
			else
				series_link(out, ids[i], pq_store_col_text(row, 1));
			pq_buf_adds(out, " <span class=\"meta\">");
			pq_html_text(out, pq_store_col_text(row, 2));
			pq_buf_adds(out, "</span></li>\n");
		}
		sqlite3_reset(row);
	}
	pq_buf_adds(out, "</ul>\n");
	return 0;
}

/* Patch idx of series id as its commit message and diff, or NULL when it has none. */
static char *patch_text(struct pq_store *s, long long id, int idx)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT body, diff FROM message WHERE series_id = ?"
					    " AND idx = ? AND kind = 'patch' ORDER BY id LIMIT 1");
	struct pq_buf b = PQ_BUF_INIT;
	int found = 0;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, idx);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pq_buf_addf(&b, "%s\n---\n%s", pq_store_col_text(st, 0), pq_store_col_text(st, 1));
		found = 1;
	}
	sqlite3_reset(st);
	if (!found) {
		pq_buf_free(&b);
		return NULL;
	}
	return pq_buf_detach(&b);
}

/*
 * What changed since the version se supersedes, patch by patch, as git
 * range-diff shows it: a diff of each patch (message and diff) of the
 * earlier version against the same-numbered patch of this one.
 */
static void interdiff(struct pq_store *s, const struct pq_series *se, struct pq_buf *out)
{
	git_diff_options o;
	int i;

	if (!se->supersedes)
		return;
	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	pq_buf_adds(out, "<h2 id=\"interdiff\">Changes since ");
	series_link(out, se->supersedes, "the previous version");
	pq_buf_adds(out, "</h2>\n");
	o.context_lines = 2;
	for (i = 1; i <= se->total; i++) {
		char *old = patch_text(s, se->supersedes, i), *new = patch_text(s, se->id, i);
		git_patch *patch = NULL;
		git_buf text = GIT_BUF_INIT;

		pq_buf_addf(out, "<p>[%d/%d] ", i, se->total);
		if (!old || !new)
			pq_buf_adds(out, old ? "dropped" : "new in this version");
		else if (!strcmp(old, new))
			pq_buf_adds(out, "unchanged");
		else if (git_patch_from_buffers(&patch, old, strlen(old), "previous", new,
						strlen(new), "this", &o) == 0 &&
			 git_patch_to_buf(&text, patch) == 0)
			pq_buf_adds(out, "changed:");
		pq_buf_adds(out, "</p>\n");
		if (text.ptr)
			diff_block(out, text.ptr);
		git_buf_dispose(&text);
		git_patch_free(patch);
		free(old);
		free(new);
	}
}

static void trailer_rows(struct pq_buf *out, const struct pq_trailers *t, const char *cls,
			 const char *label)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		pq_buf_addf(out, "<li class=\"%s\">", cls);
		if (label)
			pq_buf_addf(out, "%s ", label);
		pq_html_text(out, t->v[i].name);
		pq_buf_adds(out, ": ");
		pq_html_text(out, t->v[i].value);
		pq_buf_adds(out, "</li>\n");
	}
}

static int series_patch(struct pq_store *s, const struct pq_series *se,
			const struct pq_series_patch *p, struct pq_buf *out)
{
	char *body = NULL, *diff = NULL;
	int ret = message_text(s, p->id, &body, &diff);

	if (ret < 0)
		return ret;
	pq_buf_addf(out, "<h2 id=\"patch-%d\">[%d/%d] ", p->index, p->index, se->total);
	pq_html_text(out, p->name ? p->name : p->subject);
	pq_buf_adds(out, "</h2>\n<p class=\"meta\">From ");
	pq_html_text(out, p->author);
	pq_buf_adds(out, " &lt;");
	pq_html_text(out, p->email);
	pq_buf_adds(out, "&gt;, ");
	pq_html_text(out, p->date_raw);
	pq_buf_adds(out, " - ");
	message_link(out, p->msgid, "the mail");
	pq_buf_adds(out, "</p>\n<ul class=\"trailers\">\n");
	trailer_rows(out, &p->own, "own", NULL);
	trailer_rows(out, &p->collected, "good", "+");
	trailer_rows(out, &p->mismatched, "bad", "held back (sender differs):");
	pq_buf_adds(out, "</ul>\n");
	if (body && *body) {
		pq_buf_adds(out, "<pre class=\"message\">");
		pq_html_text(out, body);
		pq_buf_adds(out, "</pre>\n");
	}
	if (diff && *diff)
		diff_block(out, diff);
	free(body);
	free(diff);
	return 0;
}

/*
 * The replies of series id: those in the outbox with their state, and
 * what would go to the list now (pq_outbox_preview()).
 */
static int series_replies(struct pq_store *s, const struct pq_config *c, long long id,
			  struct pq_buf *out)
{
	struct pq_buf preview = PQ_BUF_INIT;
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT o.id, o.queue, o.kind," PQ_OUTBOX_SHOWN ", o.attempts,"
				 " o.error, o.created FROM outbox o WHERE o.series_id = ?"
				 " ORDER BY o.id");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rows_table(out, st, "Replies", "reply|queue|kind|state|attempts|last error|made",
		   "Rtttntd");
	if (pq_outbox_preview(s, c, id, &preview) == 0 && preview.len) {
		pq_buf_adds(out, "<h3>Preview: what goes or would go to the list</h3>\n<pre "
				 "class=\"message\">");
		pq_html_text(out, preview.ptr);
		pq_buf_adds(out, "</pre>\n");
	}
	pq_buf_free(&preview);
	return 0;
}

static int series_actions(struct pq_store *s, long long id, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT what, queue, who, reason, at FROM action"
					    " WHERE series_id = ? ORDER BY id");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rows_table(out, st, "Actions", "action|queue|by|reason|when", "ttttd");
	return 0;
}

int pq_deskpage_series(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		       long long id, const char *csrf, struct pq_buf *out, char **title)
{
	struct pq_series *se = NULL;
	struct pq_buf why = PQ_BUF_INIT;
	struct pq_elsewhere_taken taken;
	const char *first;
	size_t i;
	int ret;

	*title = NULL;
	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret;
	{
		struct pq_buf t = PQ_BUF_INIT;

		pq_buf_addf(&t, "%s (v%d)", se->name ? se->name : "(no name yet)", se->version);
		*title = pq_buf_detach(&t);
	}
	pq_buf_addf(out, "<p class=\"meta\">series %lld, %s, %d of %d patches, from ", se->id,
		    se->complete ? "complete" : "incomplete", se->received, se->total);
	pq_html_text(out, se->submitter_name);
	pq_buf_adds(out, " &lt;");
	pq_html_text(out, se->submitter);
	pq_buf_adds(out, "&gt;; state ");
	pq_html_text(out, se->state);
	if (se->superseded_by) {
		pq_buf_adds(out, "; superseded by ");
		series_link(out, se->superseded_by, NULL);
	}
	if ((ret = pq_elsewhere_find(s, id, &taken)) < 0)
		goto out;
	if (ret) { /* another tree took it: where, who said so, in which reply */
		pq_buf_adds(out, "; <strong>taken elsewhere: ");
		pq_html_text(out, taken.tree);
		pq_buf_adds(out, "</strong> (by ");
		pq_html_text(out, taken.by);
		pq_buf_adds(out, " in ");
		message_link(out, taken.msgid, taken.msgid);
		pq_buf_adds(out, ")");
		pq_elsewhere_taken_free(&taken);
	}
	first = se->cover_msgid ? se->cover_msgid : se->npatches ? se->patches[0].msgid : NULL;
	if (first && c->link) {
		struct pq_buf url = PQ_BUF_INIT, enc = PQ_BUF_INIT;

		pq_html_url(&enc, first);
		pq_buf_addf(&url, c->link, enc.ptr);
		pq_buf_adds(out, "; <a href=\"");
		pq_html_text(out, url.ptr);
		pq_buf_adds(out, "\">on the archive</a>");
		pq_buf_free(&url);
		pq_buf_free(&enc);
	}
	pq_buf_adds(out, "</p>\n");
	if ((ret = series_queues(s, c, id, csrf, out)) < 0)
		goto out;
	if (repo && pq_triage_explain(s, c, repo, id, 0, &why) == 0) {
		pq_buf_adds(out, "<h2>Why</h2>\n<pre>");
		pq_html_text(out, pq_buf_str(&why));
		pq_buf_adds(out, "</pre>\n");
	}
	if ((ret = series_checks(s, id, out)) < 0)
		goto out;
	if ((ret = series_versions(s, se, out)) < 0)
		goto out;
	interdiff(s, se, out);
	if (se->cover_id) {
		char *body = NULL, *diff = NULL;

		if ((ret = message_text(s, se->cover_id, &body, &diff)) < 0)
			goto out;
		pq_buf_adds(out, "<h2 id=\"cover\">");
		pq_html_text(out, se->cover_subject);
		pq_buf_adds(out, "</h2>\n<pre class=\"message\">");
		pq_html_text(out, body);
		pq_buf_adds(out, "</pre>\n");
		free(body);
		free(diff);
	}
	for (i = 0; i < se->npatches; i++)
		if ((ret = series_patch(s, se, &se->patches[i], out)) < 0)
			goto out;
	if ((ret = series_replies(s, c, id, out)) < 0 || (ret = series_actions(s, id, out)) < 0)
		goto out;
	ret = 0;
out:
	pq_buf_free(&why);
	pq_series_free(se);
	return ret;
}

/* ---- a queue ---- */

int pq_deskpage_queue(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      const char *name, const char *csrf, struct pq_buf *out)
{
	const struct pq_queue_conf *q = pq_config_queue(c, name);
	sqlite3_stmt *st;
	char tip[41] = "", base[41] = "";
	long long last = 0;

	if (!q)
		return pq_error_set(PQ_ENOTFOUND, "no queue \"%s\"", name);
	if (repo) {
		if (pq_repo_tip(repo, q->branch, tip) < 0)
			snprintf(tip, sizeof(tip), "%s", "missing");
		if (q->base && pq_repo_tip(repo, q->base, base) < 0)
			snprintf(base, sizeof(base), "%s", "missing");
	}
	pq_buf_adds(out, "<p class=\"meta\">branch ");
	pq_html_text(out, q->branch);
	pq_buf_addf(out, " at %.12s", tip[0] ? tip : "?");
	if (q->base) {
		pq_buf_adds(out, "; base ");
		pq_html_text(out, q->base);
		pq_buf_addf(out, " at %.12s", base[0] ? base : "?");
	}
	pq_buf_addf(out, "; %s%s%s</p>\n", q->automatic ? "automatic" : "by approval",
		    q->rebuild ? ", rebuilt when its base moves" : "", q->frozen ? ", frozen" : "");
	if (csrf && q->rebuild) {
		struct pq_buf url = PQ_BUF_INIT;

		pq_buf_adds(&url, "/queues/");
		pq_html_url(&url, q->name);
		pq_buf_adds(&url, "/rebuild");
		form_begin(out, url.ptr, csrf);
		pq_buf_adds(out, "<button type=\"submit\">rebuild now</button></form>\n");
		pq_buf_free(&url);
	}

	st = pq_store_stmt(s,
			   "SELECT a.series_id, s.name, s.version, a.msgid, a.commit_id,"
			   " a.path, m.name FROM application a JOIN series s ON s.id = a.series_id"
			   " JOIN message m ON m.id = a.message_id"
			   " WHERE a.queue = ? AND a.active ORDER BY a.id");
	if (!st)
		return PQ_EDB;
	pq_buf_adds(out, "<h2>On the queue</h2>\n<table>\n<tr><th>series</th><th>commit</th>"
			 "<th>patch</th><th>how</th></tr>\n");
	pq_store_bind_text(st, 1, q->name);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);

		pq_buf_adds(out, "<tr><td>");
		if (id != last) {
			series_link(out, id, pq_store_col_text(st, 1));
			pq_buf_addf(out, " v%d", sqlite3_column_int(st, 2));
		}
		last = id;
		pq_buf_addf(out, "</td><td><code>%.12s</code></td><td>", pq_store_col_text(st, 4));
		message_link(out, pq_store_col_text(st, 3), pq_store_col_text(st, 6));
		pq_buf_adds(out, "</td>");
		cell(out, pq_store_col_text(st, 5));
		pq_buf_adds(out, "</tr>\n");
	}
	sqlite3_reset(st);
	pq_buf_adds(out, "</table>\n");

	st = pq_store_stmt(
		s, "SELECT q.series_id, s.name || ' (v' || s.version || ')', q.state,"
		   " q.rule, q.reason FROM series_queue q JOIN series s ON s.id = q.series_id"
		   " WHERE q.queue = ? AND q.state IN (?, ?, ?)"
		   " ORDER BY q.series_id DESC LIMIT 200");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, q->name);
	pq_store_bind_text(st, 2, pq_state_name(PQ_STATE_QUEUED));
	pq_store_bind_text(st, 3, pq_state_name(PQ_STATE_APPROVED));
	pq_store_bind_text(st, 4, pq_state_name(PQ_STATE_FAILED));
	rows_table(out, st, "Waiting or failed", "series|state|rule|reason", "Sttt");
	return 0;
}

/* t as RFC 3339 in UTC, for Atom. */
static void rfc3339(struct pq_buf *out, long long t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pq_buf_adds(out, buf);
}

int pq_deskpage_queue_feed(struct pq_store *s, const struct pq_config *c, const char *name,
			   struct pq_buf *out)
{
	const struct pq_queue_conf *q = pq_config_queue(c, name);
	sqlite3_stmt *st;
	int first = 1;

	if (!q)
		return pq_error_set(PQ_ENOTFOUND, "no queue \"%s\"", name);
	st = pq_store_stmt(s, "SELECT q.series_id, s.name, s.version, q.state, q.updated,"
			      " s.submitter_name, s.submitter FROM series_queue q"
			      " JOIN series s ON s.id = q.series_id WHERE q.queue = ?"
			      " ORDER BY q.updated DESC, q.series_id DESC LIMIT 50");
	if (!st)
		return PQ_EDB;
	pq_buf_adds(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			 "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>patchq: ");
	pq_html_text(out, q->name);
	pq_buf_adds(out, "</title>\n<id>urn:patchq:queue:");
	pq_html_text(out, q->name);
	pq_buf_adds(out, "</id>\n<link href=\"/queues/");
	pq_html_url(out, q->name);
	pq_buf_adds(out, "\"/>\n");
	pq_store_bind_text(st, 1, q->name);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);

		if (first) {
			pq_buf_adds(out, "<updated>");
			rfc3339(out, sqlite3_column_int64(st, 4));
			pq_buf_adds(out, "</updated>\n");
			first = 0;
		}
		pq_buf_addf(out, "<entry>\n<id>urn:patchq:series:%lld:", id);
		pq_html_text(out, q->name);
		pq_buf_adds(out, ":");
		pq_html_text(out, pq_store_col_text(st, 3));
		pq_buf_adds(out, "</id>\n<title>");
		pq_html_text(out, pq_store_col_text(st, 1));
		pq_buf_addf(out, " (v%d): ", sqlite3_column_int(st, 2));
		pq_html_text(out, pq_store_col_text(st, 3));
		pq_buf_adds(out, "</title>\n<updated>");
		rfc3339(out, sqlite3_column_int64(st, 4));
		pq_buf_addf(out, "</updated>\n<link href=\"/series/%lld\"/>\n<author><name>", id);
		pq_html_text(out, pq_store_col_text(st, 5));
		pq_buf_adds(out, "</name><email>");
		pq_html_text(out, pq_store_col_text(st, 6));
		pq_buf_adds(out, "</email></author>\n</entry>\n");
	}
	sqlite3_reset(st);
	if (first) {
		pq_buf_adds(out, "<updated>");
		rfc3339(out, 0);
		pq_buf_adds(out, "</updated>\n");
	}
	pq_buf_adds(out, "</feed>\n");
	return 0;
}

static void feed_entries(struct pq_buf *out, const char *queue, const char *section,
			 const char *label, const struct pq_todo_list *l, long long now)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const struct pq_todo_item *it = &l->v[i];

		pq_buf_adds(out, "<entry>\n<id>urn:patchq:todo:");
		pq_html_text(out, queue);
		pq_buf_addf(out, ":%s:%lld", section, it->series);
		if (it->message)
			pq_buf_addf(out, ":%lld", it->message);
		pq_buf_adds(out, "</id>\n<title>");
		pq_html_text(out, queue);
		pq_buf_addf(out, ": %s: ", label);
		pq_html_text(out, it->name ? it->name : "(no name yet)");
		pq_buf_addf(out, " (v%d)", it->version);
		if (it->trailer) {
			pq_buf_adds(out, ": ");
			pq_html_text(out, it->trailer);
		}
		pq_buf_adds(out, "</title>\n<updated>");
		rfc3339(out, it->when ? it->when : now);
		pq_buf_addf(out, "</updated>\n<link href=\"/series/%lld\"/>\n", it->series);
		if (it->reason) {
			pq_buf_adds(out, "<summary>");
			pq_html_text(out, it->reason);
			pq_buf_adds(out, "</summary>\n");
		}
		pq_buf_adds(out, "</entry>\n");
	}
}

void pq_deskpage_todo_feed(const struct pq_todo *t, long long now, struct pq_buf *out)
{
	size_t i;

	pq_buf_adds(out,
		    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		    "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>patchq: to do</title>\n"
		    "<id>urn:patchq:todo</id>\n<link href=\"/\"/>\n<author><name>patchq</name>"
		    "</author>\n<updated>");
	rfc3339(out, now);
	pq_buf_adds(out, "</updated>\n");
	for (i = 0; i < t->nqueues; i++) {
		const struct pq_todo_queue *q = &t->queues[i];

		feed_entries(out, q->name, "waiting", "waiting for approval", &q->waiting, now);
		feed_entries(out, q->name, "new", "a new version", &q->new_versions, now);
		feed_entries(out, q->name, "trailer", "a trailer after applying", &q->late_trailers,
			     now);
		feed_entries(out, q->name, "stopped", "stopped applying", &q->stopped, now);
		feed_entries(out, q->name, "dropped", "dropped by the last rebuild", &q->dropped,
			     now);
	}
	for (i = 0; i < t->nreplies; i++) {
		const struct pq_todo_reply *r = &t->replies[i];

		pq_buf_addf(out, "<entry>\n<id>urn:patchq:todo:reply:%lld:", r->id);
		pq_html_text(out, r->state);
		pq_buf_adds(out, "</id>\n<title>reply ");
		pq_html_text(out, r->state);
		pq_buf_adds(out, ": ");
		pq_html_text(out, r->name ? r->name : "(no name yet)");
		pq_buf_adds(out, "</title>\n<updated>");
		rfc3339(out, r->created);
		pq_buf_addf(out, "</updated>\n<link href=\"/outbox/%lld\"/>\n</entry>\n", r->id);
	}
	pq_buf_adds(out, "</feed>\n");
}

/* ---- the outbox ---- */

int pq_deskpage_outbox(struct pq_store *s, const char *csrf, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(
		s,
		"SELECT o.id, o.series_id, s.name, o.queue, o.kind," PQ_OUTBOX_SHOWN ", o.attempts,"
		" o.error, o.created FROM outbox o JOIN series s ON s.id = o.series_id"
		" ORDER BY o.id DESC LIMIT 500");
	sqlite3_stmt *open_ = pq_store_stmt(s, "SELECT o.id," PQ_OUTBOX_SHOWN " FROM outbox o"
					       " WHERE" PQ_OUTBOX_UNSENT
					       " ORDER BY o.id DESC LIMIT 100");

	if (!st || !open_)
		return PQ_EDB;
	if (!rows_table(out, st, NULL, "reply|series|queue|kind|state|attempts|last error|made",
			"RStttntd"))
		pq_buf_adds(out, "<p>No reply yet.</p>\n");
	while (csrf && sqlite3_step(open_) == SQLITE_ROW)
		reply_form(out, sqlite3_column_int64(open_, 0), pq_store_col_text(open_, 1), csrf);
	sqlite3_reset(open_);
	return 0;
}

int pq_deskpage_reply(struct pq_store *s, long long id, const char *csrf, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT o.series_id, s.name, o.queue, o.kind," PQ_OUTBOX_SHOWN
		   ", o.attempts, o.error,"
		   " o.sender, o.recipients, o.message, o.created, o.sent, (" PQ_OUTBOX_UNSENT ")"
		   " FROM outbox o JOIN series s ON s.id = o.series_id WHERE o.id = ?");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return pq_error_set(PQ_ENOTFOUND, "no reply %lld", id);
	}
	pq_buf_adds(out, "<table>\n<tr><th>series</th><td>");
	series_link(out, sqlite3_column_int64(st, 0), pq_store_col_text(st, 1));
	pq_buf_adds(out, "</td></tr>\n");
	text_row(out, "queue", pq_store_col_text(st, 2));
	text_row(out, "kind", pq_store_col_text(st, 3));
	text_row(out, "state", pq_store_col_text(st, 4));
	pq_buf_addf(out, "<tr><th>attempts</th><td>%d</td></tr>\n", sqlite3_column_int(st, 5));
	text_row(out, "last error", pq_store_col_text(st, 6));
	text_row(out, "envelope from", pq_store_col_text(st, 7));
	text_row(out, "envelope to", pq_store_col_text(st, 8));
	date_row(out, "made", sqlite3_column_int64(st, 10));
	date_row(out, "sent", sqlite3_column_int64(st, 11));
	pq_buf_adds(out, "</table>\n");
	reply_form(out, id, pq_store_col_text(st, 4), csrf);
	pq_buf_adds(out, "<pre class=\"message\">");
	pq_html_text(out, pq_store_col_text(st, 9));
	pq_buf_adds(out, "</pre>\n");
	edit_form(out, id, sqlite3_column_int(st, 12), pq_store_col_text(st, 9), csrf);
	sqlite3_reset(st);
	return 0;
}

/* ---- a message ---- */

int pq_deskpage_message(struct pq_store *s, const char *msgid, int raw, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT m.id, m.subject, m.author, m.email, m.date_raw, m.kind, m.series_id,"
		   " m.body, m.diff, m.error, r.bytes FROM message m JOIN raw r ON r.id = m.raw_id"
		   " WHERE m.msgid = ? ORDER BY m.id LIMIT 1");

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, msgid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return pq_error_set(PQ_ENOTFOUND, "no message <%s>", msgid);
	}
	if (raw) {
		pq_buf_add(out, sqlite3_column_blob(st, 10), (size_t)sqlite3_column_bytes(st, 10));
		sqlite3_reset(st);
		return 0;
	}
	pq_buf_adds(out, "<table>\n");
	text_row(out, "Subject", pq_store_col_text(st, 1));
	pq_buf_adds(out, "<tr><th>From</th><td>");
	pq_html_text(out, pq_store_col_text(st, 2));
	pq_buf_adds(out, " &lt;");
	pq_html_text(out, pq_store_col_text(st, 3));
	pq_buf_adds(out, "&gt;</td></tr>\n");
	text_row(out, "Date", pq_store_col_text(st, 4));
	pq_buf_adds(out, "<tr><th>Message-ID</th><td>&lt;");
	pq_html_text(out, msgid);
	pq_buf_adds(out, "&gt;</td></tr>\n");
	text_row(out, "Kind", pq_store_col_text(st, 5));
	if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
		pq_buf_adds(out, "<tr><th>Series</th><td>");
		series_link(out, sqlite3_column_int64(st, 6), NULL);
		pq_buf_adds(out, "</td></tr>\n");
	}
	if (sqlite3_column_type(st, 9) != SQLITE_NULL)
		text_row(out, "Error", pq_store_col_text(st, 9));
	pq_buf_adds(out, "</table>\n<p><a href=\"/messages/");
	pq_html_url(out, msgid);
	pq_buf_adds(out, "/raw\">raw</a></p>\n<pre class=\"message\">");
	pq_html_text(out, pq_store_col_text(st, 7));
	pq_buf_adds(out, "</pre>\n");
	if (sqlite3_column_type(st, 8) != SQLITE_NULL)
		diff_block(out, pq_store_col_text(st, 8));
	sqlite3_reset(st);
	return 0;
}
