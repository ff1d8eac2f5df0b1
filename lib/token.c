/*
 * token: maintainers' tokens, CSRF values and the record of actions (see token.h).
 */
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "digest.h"
#include "error.h"

static void hash_hex(const char *token, char out[PQ_TOKEN_HEX + 1])
{
	unsigned char d[PQ_DIGEST_LEN];

	pq_digest(d, token, strlen(token));
	pq_hex(d, sizeof(d), out);
}

int pq_token_new(struct pq_store *s, const char *name, long long now, char out[PQ_TOKEN_HEX + 1])
{
	unsigned char raw[32];
	char h[PQ_TOKEN_HEX + 1];
	sqlite3_stmt *st;
	const char *p;
	int rc;

	out[0] = '\0';
	if (!name || !*name)
		return pq_error_set(PQ_EINVAL, "a token needs a name");
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return pq_error_set(PQ_EINVAL, "a token's name has no control characters");
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return pq_error_set(PQ_EIO, "no randomness for a token");
	pq_hex(raw, sizeof(raw), out);
	hash_hex(out, h);
	st = pq_store_stmt(s, "INSERT INTO token (name, hash, created) VALUES (?, ?, ?)");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, name);
	pq_store_bind_text(st, 2, h);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		out[0] = '\0';
		return pq_error_set(PQ_EEXISTS, "%s has a token already (patchq token revoke %s)",
				    name, name);
	}
	if (rc != SQLITE_DONE) {
		out[0] = '\0';
		return pq_store_error(s, "storing a token");
	}
	return 0;
}

int pq_token_check(struct pq_store *s, const char *token, long long now, char **name)
{
	char h[PQ_TOKEN_HEX + 1];
	sqlite3_stmt *st;

	*name = NULL;
	if (!token || strlen(token) != PQ_TOKEN_HEX)
		return 0;
	hash_hex(token, h);
	st = pq_store_stmt(s, "SELECT name FROM token WHERE hash = ?");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, h);
	if (sqlite3_step(st) == SQLITE_ROW)
		*name = pq_store_col_dup(st, 0);
	sqlite3_reset(st);
	if (!*name)
		return 0;
	/* a write at most once a minute, not one per page a maintainer reads */
	st = pq_store_stmt(s, "UPDATE token SET used = ? WHERE hash = ?"
			      " AND (used IS NULL OR used < ? - 60)");
	if (st) {
		sqlite3_bind_int64(st, 1, now);
		pq_store_bind_text(st, 2, h);
		sqlite3_bind_int64(st, 3, now);
		pq_store_step_done(s, st); /* a busy moment is no reason to refuse */
	}
	return 1;
}

int pq_token_revoke(struct pq_store *s, const char *name)
{
	sqlite3_stmt *st = pq_store_stmt(s, "DELETE FROM token WHERE name = ?");
	int rc;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, name);
	if ((rc = pq_store_step_done(s, st)) < 0)
		return rc;
	if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
		return pq_error_set(PQ_ENOTFOUND, "no token named %s", name);
	return 0;
}

int pq_token_list(struct pq_store *s, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT name, created, used FROM token ORDER BY name");

	if (!st)
		return PQ_EDB;
	while (sqlite3_step(st) == SQLITE_ROW)
		pq_buf_addf(out, "%s\tmade %lld\tlast used %s\n", pq_store_col_text(st, 0),
			    (long long)sqlite3_column_int64(st, 1),
			    sqlite3_column_type(st, 2) == SQLITE_NULL ? "never"
								      : pq_store_col_text(st, 2));
	sqlite3_reset(st);
	return 0;
}

void pq_token_csrf(const char *token, char out[PQ_TOKEN_HEX + 1])
{
	struct pq_digest d;
	unsigned char b[PQ_DIGEST_LEN];

	pq_digest_begin(&d);
	pq_digest_add(&d, "patchq-csrf\n", 12);
	pq_digest_add(&d, token, strlen(token));
	pq_digest_end(&d, b);
	pq_hex(b, sizeof(b), out);
}

int pq_token_equal(const char *a, const char *b)
{
	size_t n = strlen(a), i;
	unsigned char diff = 0;

	if (n != strlen(b))
		return 0;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int pq_token_record(struct pq_store *s, long long series_id, const char *queue, const char *what,
		    const char *who, const char *reason, long long now)
{
	sqlite3_stmt *st = pq_store_stmt(s, "INSERT INTO action (series_id, queue, what, who,"
					    " reason, at) VALUES (?, ?, ?, ?, ?, ?)");

	if (!st)
		return PQ_EDB;
	if (series_id)
		sqlite3_bind_int64(st, 1, series_id);
	else
		sqlite3_bind_null(st, 1);
	pq_store_bind_text(st, 2, queue);
	pq_store_bind_text(st, 3, what);
	pq_store_bind_text(st, 4, who);
	pq_store_bind_text(st, 5, reason);
	sqlite3_bind_int64(st, 6, now);
	return pq_store_step_done(s, st);
}
