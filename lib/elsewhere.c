/* elsewhere: series another tree took (see elsewhere.h). */
#include "elsewhere.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "crash.h"
#include "digest.h"
#include "error.h"
#include "series.h"
#include "stop.h"

#define SCAN_BYTES (16 * 1024) /* of a reply's body */
#define SCAN_LINES 40	       /* of its own text */
#define TREE_MAX 200

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Whether [p, end) starts with word (any case) followed by a blank or the end. */
static int word_is(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) >= n && !strncasecmp(p, word, n) &&
	       (p + n == end || p[n] == ' ' || p[n] == '\t');
}

/* A character a tree or branch name may hold. */
static int tree_char(char c)
{
	return isalnum((unsigned char)c) || strchr("._/+-:@~", c);
}

/* Whether [p, e) holds "://" (a URL). */
static int is_url(const char *p, const char *e)
{
	for (; p + 3 <= e; p++)
		if (p[0] == ':' && p[1] == '/' && p[2] == '/')
			return 1;
	return 0;
}

/*
 * The tree an "Applied to X" line names, from p (after "to"): a name
 * ("linux-kbuild", "`rust-next`", "kbuild-next, thanks!", "the kbuild
 * tree"), or a URL with the branch after it in parentheses, shown as
 * "linux-kbuild (kbuild)" for ".../linux-kbuild.git (kbuild)". NULL when
 * none.
 */
static char *tree_name(const char *p, const char *end)
{
	struct pq_buf b = PQ_BUF_INIT;
	const char *e, *base;

	p = skip_blanks(p, end);
	if (word_is(p, end, "the"))
		p = skip_blanks(p + 3, end);
	else if (word_is(p, end, "my"))
		p = skip_blanks(p + 2, end);
	while (p < end && strchr("`'\"<", *p))
		p++;
	for (e = p; e < end && tree_char(*e); e++)
		;
	while (e > p && strchr(".:/", e[-1])) /* the end of the sentence, a URL's slash */
		e--;
	if (e == p)
		return NULL;
	if (!is_url(p, e)) {
		pq_buf_add(&b, p, (size_t)(e - p) > TREE_MAX ? TREE_MAX : (size_t)(e - p));
		return pq_buf_detach(&b);
	}
	/* a URL: its last part without .git, and the branch in (...) after it */
	for (base = e; base > p && base[-1] != '/'; base--)
		;
	if (e - base > 4 && !strncmp(e - 4, ".git", 4))
		e -= 4;
	if (e == base)
		return NULL;
	pq_buf_add(&b, base, (size_t)(e - base) > TREE_MAX / 2 ? TREE_MAX / 2 : (size_t)(e - base));
	for (e = base; e < end && *e != ' ' && *e != '\t'; e++)
		;
	p = skip_blanks(e, end);
	if (p < end && (*p == '(' || *p == '[')) {
		for (e = ++p; e < end && tree_char(*e); e++)
			;
		if (e > p && e < end && (*e == ')' || *e == ']')) {
			pq_buf_adds(&b, " (");
			pq_buf_add(&b, p,
				   (size_t)(e - p) > TREE_MAX / 2 - 3 ? TREE_MAX / 2 - 3
								      : (size_t)(e - p));
			pq_buf_addc(&b, ')');
		}
	}
	return pq_buf_detach(&b);
}

/*
 * Whether tree (up to " (") is one of c's queues or branches, in any case
 * (people write "Rust-Next"): then it is ours.
 */
static int ours(const struct pq_config *c, const char *tree)
{
	size_t n = strcspn(tree, " "), i;

	for (i = 0; c && i < c->nqueues; i++) {
		const struct pq_queue_conf *q = &c->queues[i];

		if ((strlen(q->name) == n && !strncasecmp(q->name, tree, n)) ||
		    (strlen(q->branch) == n && !strncasecmp(q->branch, tree, n)))
			return 1;
	}
	return 0;
}

/*
 * One line of the reply's own text: 0 when it says nothing, 1 for a bare
 * "Applied" ("Applied, thanks!", "Applied."), 2 with *tree for "Applied
 * to X" ("Applied to linux-kbuild", "Applied into kbuild-next, thanks!").
 */
static int applied_line(const char *p, const char *end, char **tree)
{
	*tree = NULL;
	if ((size_t)(end - p) < 7 || strncasecmp(p, "applied", 7))
		return 0;
	p += 7;
	if (p < end && !strchr(" \t,.!:;", *p)) /* "applies", "appliedness" */
		return 0;
	p = skip_blanks(p, end);
	if (word_is(p, end, "to"))
		p += 2;
	else if (word_is(p, end, "into"))
		p += 4;
	else if (p == end || strchr(",.!:;", *p))
		return 1;
	else
		return 0; /* "Applied the first two", "Applied on top of next-20261110" */
	*tree = tree_name(p, end);
	return *tree ? 2 : 0;
}

int pq_elsewhere_parse(const char *body, const char *dflt, const struct pq_config *c, char **tree)
{
	const char *p = body, *end, *nl, *line_end;
	int lines = 0, bare = 0, kind;
	char *named = NULL;

	*tree = NULL;
	if (!body)
		return 0;
	end = body + strnlen(body, SCAN_BYTES);
	for (; p < end && lines < SCAN_LINES && !named; p = nl < end ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		line_end = nl;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		if ((line_end - p == 3 && !strncmp(p, "-- ", 3)) ||
		    (line_end - p == 2 && !strncmp(p, "--", 2)))
			break; /* the signature */
		p = skip_blanks(p, line_end);
		if (p == line_end || *p == '>')
			continue; /* blank, or quoted: not the reply's own words */
		lines++;
		if (line_end - p >= 6 && !strncmp(line_end - 6, "wrote:", 6))
			continue; /* the attribution of the quote */
		kind = applied_line(p, line_end, &named);
		if (kind == 1)
			bare = 1;
	}
	if (named && ours(c, named)) {
		free(named);
		return 0;
	}
	if (!named && (!bare || !dflt))
		return 0;
	*tree = named ? named : pq_strdup(dflt);
	return 1;
}

/* A line of the fingerprint, malloc'd, lower-case when lower. */
static char *print_line(int lower, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *print_line(int lower, const char *fmt, ...)
{
	struct pq_buf b = PQ_BUF_INIT;
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	pq_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	for (i = 0; lower && i < b.len; i++)
		b.ptr[i] = (char)tolower((unsigned char)b.ptr[i]);
	return pq_buf_detach(&b);
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fingerprint's lines of c, unsorted, into *lines (each malloc'd). */
static size_t fingerprint_lines(const struct pq_config *c, char ***lines)
{
	size_t n = 0, i, j;

	*lines = NULL;
	for (i = 0; c && i < c->nelsewhere; i++) {
		const struct pq_elsewhere_conf *e = &c->elsewhere[i];

		*lines = pq_reallocarray(*lines, n + e->nfrom, sizeof(**lines));
		for (j = 0; j < e->nfrom; j++)
			(*lines)[n++] = print_line(0, "elsewhere\t%s\t%s\t%s\n", e->name, e->tree,
						   e->from[j]);
	}
	for (i = 0; c && i < c->nqueues; i++) {
		*lines = pq_reallocarray(*lines, n + 2, sizeof(**lines));
		(*lines)[n++] = print_line(1, "ours\t%s\n", c->queues[i].name);
		(*lines)[n++] = print_line(1, "ours\t%s\n", c->queues[i].branch);
	}
	return n;
}

char *pq_elsewhere_fingerprint(const struct pq_config *c)
{
	unsigned char d[PQ_DIGEST_LEN];
	char hex[2 * PQ_DIGEST_LEN + 1];
	struct pq_digest dg;
	char **lines;
	size_t n = fingerprint_lines(c, &lines), i;

	qsort(lines, n, sizeof(*lines), by_text);
	pq_digest_begin(&dg);
	for (i = 0; i < n; i++) {
		/* a queue named like its branch says it once */
		if (!i || strcmp(lines[i], lines[i - 1]))
			pq_digest_add(&dg, lines[i], strlen(lines[i]));
	}
	pq_digest_end(&dg, d);
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	pq_hex(d, sizeof(d), hex);
	return pq_strdup(hex);
}

/*
 * The mark: the last reply read into *seen (0: none), and the fingerprint
 * it was read under into *config (malloc'd, NULL: none).
 */
static int read_mark(struct pq_store *s, long long *seen, char **config)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT seen, config FROM elsewhere_mark WHERE id = 1");
	int rc;

	*seen = 0;
	*config = NULL;
	if (!st)
		return PQ_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seen = sqlite3_column_int64(st, 0);
		*config = pq_store_col_dup(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pq_store_error(s, "elsewhere_mark");
}

static int write_mark(struct pq_store *s, long long seen, const char *config)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "INSERT OR REPLACE INTO elsewhere_mark (id, seen, config) VALUES (1, ?, ?)");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, seen);
	pq_store_bind_text(st, 2, config);
	return pq_store_step_done(s, st);
}

/* Whether some reply is recorded as taking its series: 1 or 0 into *any. */
static int any_recorded(struct pq_store *s, int *any)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT EXISTS (SELECT 1 FROM elsewhere_reply)");
	long long n = 0;
	int ret;

	if (!st)
		return PQ_EDB;
	ret = pq_store_scalar(s, st, &n);
	*any = n != 0;
	return ret;
}

/* A reply of the batch, and what was recorded of it (was: its tree, NULL when nothing). */
struct reply_row {
	long long id;
	char *email;
	char *msgid;
	char *was;
	char *was_by;
};

static void rows_free(struct reply_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].email);
		free(rows[i].msgid);
		free(rows[i].was);
		free(rows[i].was_by);
	}
	free(rows);
}

/* The next PQ_ELSEWHERE_BATCH replies after message id after into *rows (rows_free()). */
static int read_batch(struct pq_store *s, long long after, struct reply_row **rows, size_t *n)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT m.id, m.sender_email, m.msgid, e.tree, e.by FROM message m"
				 " LEFT JOIN elsewhere_reply e ON e.message_id = m.id"
				 " WHERE m.id > ? AND m.kind = 'reply' ORDER BY m.id LIMIT ?");
	int rc;

	*rows = NULL;
	*n = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, PQ_ELSEWHERE_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct reply_row *r;

		*rows = pq_reallocarray(*rows, *n + 1, sizeof(**rows));
		r = &(*rows)[(*n)++];
		r->id = sqlite3_column_int64(st, 0);
		r->email = pq_store_col_dup(st, 1);
		r->msgid = pq_store_col_dup(st, 2);
		r->was = pq_store_col_dup(st, 3);
		r->was_by = pq_store_col_dup(st, 4);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading the replies");
}

/* The start of message id's body into *body (malloc'd, NULL when it has none). */
static int read_body(struct pq_store *s, long long id, char **body)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT substr(body, 1, ?) FROM message WHERE id = ?");
	int rc;

	*body = NULL;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int(st, 1, SCAN_BYTES);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*body = pq_store_col_dup(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading a reply");
}

/* The tree c says reply r took its series into (malloc'd), or NULL. */
static int verdict(struct pq_store *s, const struct pq_config *c, const struct reply_row *r,
		   char **tree)
{
	const struct pq_elsewhere_conf *e = pq_config_elsewhere(c, r->email);
	char *body;
	int ret;

	*tree = NULL;
	if (!e)
		return 0;
	if ((ret = read_body(s, r->id, &body)) < 0)
		return ret;
	pq_elsewhere_parse(body, e->tree, c, tree);
	free(body);
	return 0;
}

/*
 * Records that reply id took its series into tree, in the caller's
 * transaction; a reply recorded before gets the tree (found stays).
 */
static int record_reply(struct pq_store *s, long long id, const char *tree, const char *by)
{
	sqlite3_stmt *st = pq_store_stmt(
		s,
		"INSERT INTO elsewhere_reply (message_id, tree, by, found) VALUES (?, ?, ?, ?)"
		" ON CONFLICT (message_id) DO UPDATE SET tree = excluded.tree, by = excluded.by");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, tree);
	pq_store_bind_text(st, 3, by);
	sqlite3_bind_int64(st, 4, (long long)time(NULL));
	return pq_store_step_done(s, st);
}

/*
 * Forgets that reply r took its series, and has triage decide on each of
 * them again: triage looks at a series again only when something about it
 * changed, and this did (a rule of ours may take it now).
 */
static int forget_reply(struct pq_store *s, const struct reply_row *r, struct pq_buf *report)
{
	sqlite3_stmt *del = pq_store_stmt(s, "DELETE FROM elsewhere_reply WHERE message_id = ?");
	sqlite3_stmt *ids = pq_store_stmt(
		s, "SELECT DISTINCT t.series_id FROM ref f JOIN message t ON t.msgid = f.msgid"
		   " WHERE f.message_id = ? AND t.series_id IS NOT NULL ORDER BY t.series_id");
	long long *series;
	size_t n, i;
	int ret;

	if (!del || !ids)
		return PQ_EDB;
	sqlite3_bind_int64(del, 1, r->id);
	if ((ret = pq_store_step_done(s, del)) < 0)
		return ret;
	sqlite3_bind_int64(ids, 1, r->id);
	if ((ret = pq_store_ids(s, ids, &series, &n)) < 0)
		return ret;
	for (i = 0; i < n && ret == 0; i++) {
		ret = pq_series_retriage(s, series[i]);
		if (report && ret == 0)
			pq_buf_addf(report,
				    "series %lld: reply <%s> (%s, %s) no longer counts"
				    " ([elsewhere] changed): triage looks at it again\n",
				    series[i], r->msgid ? r->msgid : "",
				    r->was_by ? r->was_by : "?", r->was);
	}
	free(series);
	return ret;
}

/* Brings what is recorded of reply r in line with tree, c's verdict on it. */
static int settle(struct pq_store *s, const struct reply_row *r, const char *tree,
		  struct pq_buf *report, struct pq_elsewhere_counts *k)
{
	const char *msgid = r->msgid ? r->msgid : "";
	int ret = 0;

	if (tree && !r->was) {
		ret = record_reply(s, r->id, tree, r->email);
		if (report && ret == 0)
			pq_buf_addf(report, "reply <%s>: %s says it was applied to %s\n", msgid,
				    r->email, tree);
		k->added += ret == 0;
	} else if (tree && strcmp(tree, r->was)) {
		ret = record_reply(s, r->id, tree, r->email);
		if (report && ret == 0)
			pq_buf_addf(report,
				    "reply <%s>: %s: applied to %s, no longer %s"
				    " ([elsewhere] changed)\n",
				    msgid, r->email, tree, r->was);
		k->changed += ret == 0;
	} else if (!tree && r->was) {
		ret = forget_reply(s, r, report);
		k->removed += ret == 0;
	}
	return ret;
}

/*
 * The mark to read from in *seen: the stored one, or 0 when it was made
 * under another configuration than fp's (*fresh then 1).
 */
static int mark_for(struct pq_store *s, const char *fp, long long *seen, int *fresh,
		    struct pq_buf *report, struct pq_elsewhere_counts *k)
{
	char *config;
	int ret = read_mark(s, seen, &config);

	*fresh = ret == 0 && (!config || strcmp(config, fp));
	if (*fresh && (config || *seen)) {
		k->rescan = 1;
		if (report)
			pq_buf_adds(report, "[elsewhere] changed since the replies were read:"
					    " reading them again from the first\n");
	}
	if (*fresh)
		*seen = 0;
	free(config);
	return ret;
}

/* One batch of the scan in one transaction, the mark with it; *more: another may follow. */
static int scan_batch(struct pq_store *s, const struct pq_config *c, const char *fp,
		      struct pq_buf *report, struct pq_elsewhere_counts *k, int *more)
{
	struct reply_row *rows = NULL;
	long long seen;
	size_t n = 0, i;
	int ret, fresh;

	*more = 0;
	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	if ((ret = mark_for(s, fp, &seen, &fresh, report, k)) < 0 ||
	    (ret = read_batch(s, seen, &rows, &n)) < 0)
		goto rollback;
	for (i = 0; i < n; i++) {
		char *tree;

		if ((ret = verdict(s, c, &rows[i], &tree)) == 0)
			ret = settle(s, &rows[i], tree, report, k);
		free(tree);
		if (ret < 0)
			goto rollback;
	}
	if ((n || fresh) && (ret = write_mark(s, n ? rows[n - 1].id : seen, fp)) < 0)
		goto rollback;
	rows_free(rows, n);
	if ((ret = pq_store_commit(s)) < 0)
		return ret;
	k->read += n;
	k->batches++;
	*more = n == PQ_ELSEWHERE_BATCH;
	if (*more)
		pq_crash_point("elsewhere");
	return 0;
rollback:
	pq_store_rollback(s);
	rows_free(rows, n);
	return ret;
}

int pq_elsewhere_scan(struct pq_store *s, const struct pq_config *c, struct pq_buf *report,
		      struct pq_elsewhere_counts *counts)
{
	struct pq_elsewhere_counts none;
	char *fp;
	int ret, more, any;

	if (!counts)
		counts = &none;
	memset(counts, 0, sizeof(*counts));
	if (!c)
		return 0;
	/* nothing to read nor to forget: the mark stays for the configuration it was made under */
	if (!c->nelsewhere && ((ret = any_recorded(s, &any)) < 0 || !any))
		return ret;
	fp = pq_elsewhere_fingerprint(c);
	do
		ret = scan_batch(s, c, fp, report, counts, &more);
	while (ret == 0 && more && !pq_stop_requested());
	free(fp);
	return ret;
}

int pq_elsewhere_find(struct pq_store *s, long long id, struct pq_elsewhere_taken *out)
{
	/* a recorded reply that refers to one of the series' messages */
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT e.message_id, e.tree, e.by, m.msgid FROM elsewhere_reply e"
		   " JOIN message m ON m.id = e.message_id WHERE EXISTS (SELECT 1 FROM ref r"
		   " JOIN message t ON t.msgid = r.msgid WHERE r.message_id = e.message_id"
		   " AND t.series_id = ?) ORDER BY e.message_id LIMIT 1");
	int rc;

	memset(out, 0, sizeof(*out));
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->message_id = sqlite3_column_int64(st, 0);
		out->tree = pq_store_col_dup(st, 1);
		out->by = pq_store_col_dup(st, 2);
		out->msgid = pq_store_col_dup(st, 3);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading where a series went");
}

void pq_elsewhere_taken_free(struct pq_elsewhere_taken *t)
{
	if (!t)
		return;
	free(t->tree);
	free(t->by);
	free(t->msgid);
	memset(t, 0, sizeof(*t));
}

void pq_elsewhere_describe(const struct pq_elsewhere_taken *t, struct pq_buf *b)
{
	pq_buf_addf(b, "taken elsewhere: %s (by %s in <%s>)", t->tree ? t->tree : "?",
		    t->by ? t->by : "?", t->msgid ? t->msgid : "");
}
