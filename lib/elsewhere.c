/* elsewhere: series another tree took (see elsewhere.h). */
#include "elsewhere.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "error.h"

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

static int read_mark(struct pq_store *s, long long *mark)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT coalesce(max(seen), 0) FROM elsewhere_mark");

	if (!st)
		return PQ_EDB;
	return pq_store_scalar(s, st, mark);
}

/* Records one reply that took a series, and the mark, in the caller's transaction. */
static int record_reply(struct pq_store *s, long long id, const char *tree, const char *by)
{
	sqlite3_stmt *st = pq_store_stmt(s, "INSERT OR IGNORE INTO elsewhere_reply"
					    " (message_id, tree, by, found) VALUES (?, ?, ?, ?)");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, tree);
	pq_store_bind_text(st, 3, by);
	sqlite3_bind_int64(st, 4, (long long)time(NULL));
	return pq_store_step_done(s, st);
}

static int write_mark(struct pq_store *s, long long mark)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "INSERT OR REPLACE INTO elsewhere_mark (id, seen) VALUES (1, ?)");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, mark);
	return pq_store_step_done(s, st);
}

/* The body of message id into *body (malloc'd, NULL when it has none). */
static int read_body(struct pq_store *s, long long id, char **body, char **msgid)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT body, msgid FROM message WHERE id = ?");
	int rc;

	*body = *msgid = NULL;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*body = pq_store_col_dup(st, 0);
		*msgid = pq_store_col_dup(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading a reply");
}

int pq_elsewhere_scan(struct pq_store *s, const struct pq_config *c, struct pq_buf *report)
{
	sqlite3_stmt *st;
	long long mark, last, *ids = NULL;
	struct pq_buf from = PQ_BUF_INIT;
	size_t n = 0, i;
	const char *f;
	int ret, rc;

	if (!c || !c->nelsewhere)
		return 0;
	if ((ret = read_mark(s, &mark)) < 0)
		return ret;
	last = mark;
	st = pq_store_stmt(s, "SELECT id, sender_email FROM message WHERE id > ? AND kind = 'reply'"
			      " ORDER BY id");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, mark);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *email = pq_store_col_text(st, 1);

		last = sqlite3_column_int64(st, 0);
		if (!pq_config_elsewhere(c, email))
			continue;
		ids = pq_reallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = last;
		pq_buf_add(&from, email, strlen(email) + 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		ret = pq_store_error(s, "reading the replies");
		goto out;
	}
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	for (i = 0, f = pq_buf_str(&from); i < n; i++, f += strlen(f) + 1) {
		const struct pq_elsewhere_conf *e = pq_config_elsewhere(c, f);
		char *body, *msgid, *tree;

		if ((ret = read_body(s, ids[i], &body, &msgid)) < 0)
			goto rollback;
		if (pq_elsewhere_parse(body, e->tree, c, &tree)) {
			ret = record_reply(s, ids[i], tree, f);
			if (report && ret == 0)
				pq_buf_addf(report, "reply <%s>: %s says it was applied to %s\n",
					    msgid ? msgid : "", f, tree);
			free(tree);
		}
		free(body);
		free(msgid);
		if (ret < 0)
			goto rollback;
	}
	if (last > mark && (ret = write_mark(s, last)) < 0)
		goto rollback;
	ret = pq_store_commit(s);
	goto out;
rollback:
	pq_store_rollback(s);
out:
	free(ids);
	pq_buf_free(&from);
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
