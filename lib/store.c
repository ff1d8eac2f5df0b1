/* store: SQLite connection, migrations and statement cache (see store.h). */
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

/* Generated from the schema directory by schema/embed.py. */
extern const char *const pq_schema_migrations[];
extern const size_t pq_schema_count;

#define STMT_SLOTS 128

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
};

struct pq_store {
	sqlite3 *db;
	char *path;
	struct stmt_slot slots[STMT_SLOTS];
};

int pq_store_schema_version(void)
{
	return (int)pq_schema_count;
}

int pq_store_error(struct pq_store *s, const char *what)
{
	return pq_error_set(PQ_EDB, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(struct pq_store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return pq_store_error(s, sql);
	return 0;
}

static int read_version(struct pq_store *s, int *version)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return pq_store_error(s, "reading the schema version");
	*version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

/*
 * Brings the schema up to date. The version is read again under the write
 * lock: patchqd and patchq started together after an upgrade must not both
 * apply a migration.
 */
static int migrate(struct pq_store *s)
{
	int version, ret;
	size_t i;

	if ((ret = read_version(s, &version)) < 0)
		return ret;
	if (version == (int)pq_schema_count)
		return 0;
	if (version < (int)pq_schema_count &&
	    ((ret = pq_store_begin(s)) < 0 || (ret = read_version(s, &version)) < 0))
		goto fail;
	if (version > (int)pq_schema_count) {
		ret = pq_error_set(PQ_EINVAL,
				   "%s: schema version %d is newer than this patchq (%zu)", s->path,
				   version, pq_schema_count);
		goto fail;
	}
	for (i = (size_t)version; i < pq_schema_count; i++) {
		char what[64];

		snprintf(what, sizeof(what), "migration %04zu", i + 1);
		if (sqlite3_exec(s->db, pq_schema_migrations[i], NULL, NULL, NULL) != SQLITE_OK) {
			ret = pq_store_error(s, what);
			goto fail;
		}
		snprintf(what, sizeof(what), "PRAGMA user_version = %zu", i + 1);
		if ((ret = exec(s, what)) < 0)
			goto fail;
	}
	return sqlite3_get_autocommit(s->db) ? 0 : pq_store_commit(s);
fail:
	pq_store_rollback(s);
	return ret;
}

int pq_store_open(struct pq_store **out, const char *path)
{
	struct pq_store *s = pq_calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	s->path = pq_strdup(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		ret = pq_error_set(PQ_EDB, "%s: cannot open database: %s", path,
				   s->db ? sqlite3_errmsg(s->db) : "out of memory");
		pq_store_close(s);
		return ret;
	}
	sqlite3_busy_timeout(s->db, 10000);
	sqlite3_extended_result_codes(s->db, 1);
	/* page size only takes on a new database; mail is blobs of kilobytes */
	if ((ret = exec(s, "PRAGMA page_size = 16384")) < 0 ||
	    (ret = exec(s, "PRAGMA journal_mode = WAL")) < 0 ||
	    (ret = exec(s, "PRAGMA synchronous = NORMAL")) < 0 ||
	    /* a batch of mail must not spill pages mid-transaction: 32 MiB */
	    (ret = exec(s, "PRAGMA cache_size = -32768")) < 0 ||
	    (ret = exec(s, "PRAGMA foreign_keys = ON")) < 0 || (ret = migrate(s)) < 0) {
		pq_store_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

void pq_store_close(struct pq_store *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < STMT_SLOTS; i++)
		sqlite3_finalize(s->slots[i].st);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int pq_store_begin(struct pq_store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

int pq_store_begin_read(struct pq_store *s)
{
	return exec(s, "BEGIN DEFERRED");
}

int pq_store_commit(struct pq_store *s)
{
	return exec(s, "COMMIT");
}

void pq_store_rollback(struct pq_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3_stmt *pq_store_stmt(struct pq_store *s, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) % STMT_SLOTS, i;

	for (i = 0; i < STMT_SLOTS; i++) {
		struct stmt_slot *slot = &s->slots[(h + i) % STMT_SLOTS];

		if (slot->sql == sql) {
			sqlite3_reset(slot->st);
			sqlite3_clear_bindings(slot->st);
			return slot->st;
		}
		if (!slot->sql) {
			if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->st,
					       NULL) != SQLITE_OK) {
				pq_store_error(s, sql);
				slot->st = NULL;
				return NULL;
			}
			slot->sql = sql;
			return slot->st;
		}
	}
	pq_error_set(PQ_EDB, "statement cache full (%d statements)", STMT_SLOTS);
	return NULL;
}

int pq_store_step_done(struct pq_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st), ret = 0;

	/* the message first: a reset may change it; then the reset, so that the
	 * statement can be bound and used again even after an error */
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = pq_store_error(s, sqlite3_sql(st));
	sqlite3_reset(st);
	return ret;
}

long long pq_store_last_id(struct pq_store *s)
{
	return sqlite3_last_insert_rowid(s->db);
}

int pq_store_ids(struct pq_store *s, sqlite3_stmt *st, long long **ids, size_t *n)
{
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*ids = pq_reallocarray(*ids, cap, sizeof(**ids));
		}
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, sqlite3_sql(st));
}

int pq_store_scalar(struct pq_store *s, sqlite3_stmt *st, long long *out)
{
	int rc = sqlite3_step(st);

	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = pq_store_error(s, "reading a value");
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return 0;
}

int pq_store_scalar_id(struct pq_store *s, const char *sql, long long id, long long *out)
{
	sqlite3_stmt *st = pq_store_stmt(s, sql);

	*out = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	return pq_store_scalar(s, st, out);
}

void pq_store_bind_text(sqlite3_stmt *st, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

const char *pq_store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

char *pq_store_col_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL
							 : pq_strdup(pq_store_col_text(st, i));
}
