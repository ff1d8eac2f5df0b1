/* note: a maintainer's notes on a series (see note.h). */
#include "note.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

int pq_note_parse(const char *arg, struct pq_note *out)
{
	const char *p = arg, *end;
	struct pq_buf b = PQ_BUF_INIT;
	long idx = 0;

	memset(out, 0, sizeof(*out));
	while (isdigit((unsigned char)*p))
		p++;
	if (p != arg && *p == ':' && p - arg <= 6) {
		idx = strtol(arg, NULL, 10);
		if (idx < 1)
			return pq_error_set(PQ_EINVAL, "--note %s: patches are numbered from 1",
					    arg);
		p++;
	} else {
		p = arg;
	}
	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (end == p)
		return pq_error_set(PQ_EINVAL, "--note %s: the note is empty", arg);
	for (const char *q = p; q < end; q++) {
		unsigned char ch = (unsigned char)*q;

		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
			return pq_error_set(PQ_EINVAL, "--note: a control character (0x%02x)", ch);
		if (ch == '\n') {
			const char *r = q + 1;

			while (r < end && (*r == ' ' || *r == '\t'))
				r++;
			if (*r == '\n')
				return pq_error_set(PQ_EINVAL,
						    "--note: an empty line would end the commit's"
						    " trailers");
		}
	}
	pq_buf_add(&b, p, (size_t)(end - p));
	out->idx = (int)idx;
	out->text = pq_buf_detach(&b);
	pq_buf_free(&b);
	return 0;
}

int pq_note_set(struct pq_store *s, long long id, const struct pq_note *v, size_t n)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT total FROM series WHERE id = ?");
	long long total = -1;
	size_t i, k;
	int ret, rc;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return pq_store_error(s, "reading a series");
	if (total < 0)
		return pq_error_set(PQ_ENOTFOUND, "no series %lld", id);
	for (i = 0; i < n; i++) {
		if (v[i].idx > total)
			return pq_error_set(PQ_EINVAL, "series %lld has no patch %d (%lld patches)",
					    id, v[i].idx, total);
		for (k = 0; k < i; k++)
			if (v[k].idx == v[i].idx)
				return pq_error_set(PQ_EINVAL, "two notes for %s %d",
						    v[i].idx ? "patch" : "the series", v[i].idx);
	}
	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	st = pq_store_stmt(s, "DELETE FROM note WHERE series_id = ?");
	if (!st) {
		ret = PQ_EDB;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, id);
	if ((ret = pq_store_step_done(s, st)) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		st = pq_store_stmt(s, "INSERT INTO note (series_id, idx, text) VALUES (?, ?, ?)");
		if (!st) {
			ret = PQ_EDB;
			goto fail;
		}
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, v[i].idx);
		pq_store_bind_text(st, 3, v[i].text);
		if ((ret = pq_store_step_done(s, st)) < 0)
			goto fail;
	}
	return pq_store_commit(s);
fail:
	pq_store_rollback(s);
	return ret;
}

int pq_note_load(struct pq_store *s, long long id, struct pq_note **v, size_t *n)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT idx, text FROM note WHERE series_id = ? ORDER BY idx");
	int rc;

	*v = NULL;
	*n = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = pq_reallocarray(*v, *n + 1, sizeof(**v));
		(*v)[*n].idx = sqlite3_column_int(st, 0);
		(*v)[*n].text = pq_store_col_dup(st, 1);
		(*n)++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		pq_note_free(*v, *n);
		*v = NULL;
		*n = 0;
		return pq_store_error(s, "reading the notes");
	}
	return 0;
}

const char *pq_note_find(const struct pq_note *v, size_t n, int idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].idx == idx)
			return v[i].text;
	return NULL;
}

void pq_note_free(struct pq_note *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}
