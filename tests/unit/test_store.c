/*
 * test_store: opening, migrating and using the SQLite store. Databases are
 * ":memory:" or files in a temporary directory removed at the end.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "error.h"
#include "store.h"

static char tmp_root[] = "/tmp/pq-test-store-XXXXXX";

static char *tmp_path(const char *rel)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b, "%s/%s", tmp_root, rel);
	return pq_buf_detach(&b);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The integer a one-row query gives, or -1. */
static long long query_int(struct pq_store *s, sqlite3_stmt *st)
{
	long long v = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return v;
}

static long long user_version(struct pq_store *s)
{
	return query_int(s, pq_store_stmt(s, "PRAGMA user_version"));
}

static char *journal_mode(struct pq_store *s)
{
	sqlite3_stmt *st = pq_store_stmt(s, "PRAGMA journal_mode");
	char *mode = NULL;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		mode = pq_strdup(pq_store_col_text(st, 0));
	if (st)
		sqlite3_reset(st);
	return mode;
}

static int put_cursor(struct pq_store *s, const char *source, const char *pos)
{
	sqlite3_stmt *st = pq_store_stmt(s, "INSERT INTO cursor (source, position) VALUES (?, ?)");

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, source);
	pq_store_bind_text(st, 2, pos);
	return pq_store_step_done(s, st);
}

static long long count_cursors(struct pq_store *s)
{
	return query_int(s, pq_store_stmt(s, "SELECT count(*) FROM cursor"));
}

/* A raw connection, to prepare files the way another program would. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_memory_open_migrates(void)
{
	struct pq_store *s = NULL;
	char *mode;

	CHECK(pq_store_schema_version() >= 1);
	CHECK_INT(pq_store_open(&s, ":memory:"), 0);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(user_version(s), pq_store_schema_version());
	/* the tables of the schema are there */
	CHECK_INT(query_int(s, pq_store_stmt(s, "SELECT count(*) FROM sqlite_master WHERE"
						" type = 'table' AND name IN ('raw', 'message',"
						" 'series', 'cursor', 'trailer', 'ref')")),
		  6);
	mode = journal_mode(s);
	CHECK_STR(mode, "memory");
	free(mode);
	CHECK_INT(query_int(s, pq_store_stmt(s, "PRAGMA foreign_keys")), 1);
	pq_store_close(s);
}

static void test_file_wal_and_reopen_idempotent(void)
{
	char *path = tmp_path("reopen.db");
	struct pq_store *s = NULL;
	char *mode;

	CHECK_INT(pq_store_open(&s, path), 0);
	if (!s)
		goto out;
	CHECK_INT(user_version(s), pq_store_schema_version());
	mode = journal_mode(s);
	CHECK_STR(mode, "wal");
	free(mode);
	CHECK_INT(put_cursor(s, "test", "mbox:42"), 0);
	pq_store_close(s);

	/* again: nothing to migrate, data kept, still WAL */
	s = NULL;
	CHECK_INT(pq_store_open(&s, path), 0);
	if (!s)
		goto out;
	CHECK_INT(user_version(s), pq_store_schema_version());
	CHECK_INT(count_cursors(s), 1);
	mode = journal_mode(s);
	CHECK_STR(mode, "wal");
	free(mode);
	pq_store_close(s);

	s = NULL;
	CHECK_INT(pq_store_open(&s, path), 0);
	CHECK_INT(count_cursors(s), 1);
	pq_store_close(s);
out:
	free(path);
}

static void test_newer_database_refused(void)
{
	char *path = tmp_path("newer.db");
	struct pq_buf sql = PQ_BUF_INIT;
	struct pq_store *s = (struct pq_store *)1;

	pq_buf_addf(&sql, "PRAGMA user_version = %d", pq_store_schema_version() + 1);
	raw_exec(path, sql.ptr);
	pq_error_clear();
	CHECK_INT(pq_store_open(&s, path), PQ_EINVAL);
	CHECK(s == NULL);
	CHECK(strstr(pq_error_last(), path) != NULL);
	CHECK(strstr(pq_error_last(), "newer") != NULL);
	/* and left untouched */
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
		CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
		CHECK_INT(sqlite3_step(st), SQLITE_ROW);
		CHECK_INT(sqlite3_column_int(st, 0), pq_store_schema_version() + 1);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	pq_buf_free(&sql);
	free(path);
}

static void test_open_errors_name_the_path(void)
{
	char *bad_dir = tmp_path("no/such/dir/x.db");
	char *garbage = tmp_path("garbage.db");
	struct pq_store *s = (struct pq_store *)1;
	FILE *f;

	pq_error_clear();
	CHECK_INT(pq_store_open(&s, bad_dir), PQ_EDB);
	CHECK(s == NULL);
	CHECK(strstr(pq_error_last(), bad_dir) != NULL);

	f = fopen(garbage, "w");
	CHECK(f != NULL);
	if (f) {
		int i;

		for (i = 0; i < 200; i++)
			fputs("this is not an SQLite database at all\n", f);
		fclose(f);
	}
	s = (struct pq_store *)1;
	pq_error_clear();
	CHECK_INT(pq_store_open(&s, garbage), PQ_EDB);
	CHECK(s == NULL);
	CHECK(strstr(pq_error_last(), garbage) != NULL);
	free(bad_dir);
	free(garbage);
}

/* A migration that fails (here: a table in the way) says why, with the path. */
static void test_failed_migration_message_has_reason(void)
{
	char *path = tmp_path("inway.db");
	struct pq_store *s = (struct pq_store *)1;
	const char *e;

	raw_exec(path, "CREATE TABLE cursor (x)");
	pq_error_clear();
	CHECK_INT(pq_store_open(&s, path), PQ_EDB);
	CHECK(s == NULL);
	e = pq_error_last();
	CHECK(strstr(e, path) != NULL);
	CHECK(strstr(e, "already exists") != NULL);
	if (!strstr(e, "already exists"))
		fprintf(stderr, "  message (%zu bytes) ends: ...%s\n", strlen(e),
			e + (strlen(e) > 60 ? strlen(e) - 60 : 0));
	/* rolled back: still at version 0, the other table untouched */
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
		CHECK_INT(
			sqlite3_prepare_v2(db,
					   "SELECT (SELECT user_version FROM pragma_user_version),"
					   " (SELECT count(*) FROM sqlite_master)",
					   -1, &st, NULL),
			SQLITE_OK);
		CHECK_INT(sqlite3_step(st), SQLITE_ROW);
		CHECK_INT(sqlite3_column_int(st, 0), 0);
		CHECK_INT(sqlite3_column_int(st, 1), 1);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	free(path);
}

static void test_stmt_cached_by_literal(void)
{
	struct pq_store *s = NULL;
	sqlite3_stmt *a, *b, *c;

	CHECK_INT(pq_store_open(&s, ":memory:"), 0);
	if (!s)
		return;
	a = pq_store_stmt(s, "SELECT 1");
	b = pq_store_stmt(s, "SELECT 1 + 1");
	c = pq_store_stmt(s, "SELECT 1");
	CHECK(a != NULL);
	CHECK(b != NULL);
	CHECK(a == c);
	CHECK(a != b);

	/* a statement comes back reset with its bindings cleared */
	a = pq_store_stmt(s, "SELECT ?");
	sqlite3_bind_int(a, 1, 7);
	CHECK_INT(sqlite3_step(a), SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(a, 0), 7);
	b = pq_store_stmt(s, "SELECT ?");
	CHECK(a == b);
	CHECK_INT(sqlite3_step(b), SQLITE_ROW);
	CHECK_INT(sqlite3_column_type(b, 0), SQLITE_NULL);
	sqlite3_reset(b);

	/* a syntax error: NULL and a message with the SQL, not cached */
	pq_error_clear();
	CHECK(pq_store_stmt(s, "SELEKT nonsense") == NULL);
	CHECK(strstr(pq_error_last(), "SELEKT nonsense") != NULL);
	CHECK(strstr(pq_error_last(), ":memory:") != NULL);
	CHECK(pq_store_stmt(s, "SELEKT nonsense") == NULL);
	pq_store_close(s);
}

static void test_stmt_cache_full_is_an_error(void)
{
	static char sql[160][32];
	struct pq_store *s = NULL;
	int i, got = 0, nulls = 0;

	CHECK_INT(pq_store_open(&s, ":memory:"), 0);
	if (!s)
		return;
	for (i = 0; i < 160; i++) {
		snprintf(sql[i], sizeof(sql[i]), "SELECT %d", i);
		if (pq_store_stmt(s, sql[i]))
			got++;
		else
			nulls++;
	}
	/* no crash, no overwritten slot: what was cached stays cached */
	CHECK(got >= 100);
	CHECK_INT(got + nulls, 160);
	CHECK(pq_store_stmt(s, sql[0]) != NULL);
	if (nulls)
		CHECK(strstr(pq_error_last(), "full") != NULL);
	pq_store_close(s);
}

static void test_transactions(void)
{
	struct pq_store *s = NULL;

	CHECK_INT(pq_store_open(&s, ":memory:"), 0);
	if (!s)
		return;
	CHECK_INT(pq_store_begin(s), 0);
	CHECK_INT(put_cursor(s, "a", "1"), 0);
	pq_store_rollback(s);
	CHECK_INT(count_cursors(s), 0);

	CHECK_INT(pq_store_begin(s), 0);
	CHECK_INT(put_cursor(s, "a", "1"), 0);
	CHECK_INT(put_cursor(s, "b", "2"), 0);
	CHECK_INT(pq_store_commit(s), 0);
	CHECK_INT(count_cursors(s), 2);

	/* no nesting; commit without a transaction fails; rollback is harmless */
	CHECK_INT(pq_store_begin(s), 0);
	pq_error_clear();
	CHECK_INT(pq_store_begin(s), PQ_EDB);
	CHECK(strstr(pq_error_last(), ":memory:") != NULL);
	pq_store_rollback(s);
	CHECK_INT(pq_store_commit(s), PQ_EDB);
	pq_store_rollback(s);
	pq_store_rollback(s);
	CHECK_INT(count_cursors(s), 2);

	/* a failing statement: PQ_EDB with context, the transaction goes on */
	CHECK_INT(pq_store_begin(s), 0);
	pq_error_clear();
	CHECK_INT(put_cursor(s, "a", "again"), PQ_EDB);
	CHECK(strstr(pq_error_last(), "UNIQUE") != NULL);
	CHECK(strstr(pq_error_last(), ":memory:") != NULL);
	CHECK_INT(put_cursor(s, "c", "3"), 0);
	CHECK_INT(pq_store_commit(s), 0);
	CHECK_INT(count_cursors(s), 3);
	CHECK(pq_store_last_id(s) > 0);
	pq_store_close(s);
}

static void test_error_and_text_helpers(void)
{
	char *path = tmp_path("helpers.db");
	struct pq_store *s = NULL;
	sqlite3_stmt *st;

	CHECK_INT(pq_store_open(&s, path), 0);
	if (!s)
		goto out;
	pq_error_clear();
	CHECK_INT(pq_store_error(s, "doing something"), PQ_EDB);
	CHECK(strstr(pq_error_last(), path) != NULL);
	CHECK(strstr(pq_error_last(), "doing something") != NULL);

	st = pq_store_stmt(s, "SELECT ?, ?");
	pq_store_bind_text(st, 1, NULL);
	pq_store_bind_text(st, 2, "caf\xc3\xa9");
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(sqlite3_column_type(st, 0), SQLITE_NULL);
	CHECK_STR(pq_store_col_text(st, 0), "");
	CHECK_STR(pq_store_col_text(st, 1), "caf\xc3\xa9");
	sqlite3_reset(st);
	pq_store_close(s);
out:
	free(path);
}

static void test_two_connections_share_wal(void)
{
	char *path = tmp_path("shared.db");
	struct pq_store *a = NULL, *b = NULL;

	CHECK_INT(pq_store_open(&a, path), 0);
	CHECK_INT(pq_store_open(&b, path), 0);
	if (a && b) {
		CHECK_INT(pq_store_begin(a), 0);
		CHECK_INT(put_cursor(a, "daemon", "1"), 0);
		/* a reader is not blocked by the open write transaction */
		CHECK_INT(count_cursors(b), 0);
		CHECK_INT(pq_store_commit(a), 0);
		CHECK_INT(count_cursors(b), 1);
	}
	pq_store_close(a);
	pq_store_close(b);
	free(path);
}

/*
 * Two programs (patchqd and the patchq CLI) opening a database that needs
 * a migration at the same moment: both must succeed. A third process holds
 * the write lock so that both openers get past reading the schema version
 * before either can migrate; then it lets go. (Processes, not one process
 * forking with a connection open: SQLite's locks do not survive a fork.)
 */
static void test_concurrent_first_open_both_succeed(void)
{
	char *path = tmp_path("race.db");
	pid_t holder, kids[2];
	int pfd[2], i, ok = 0, status;
	char c = 0;

	CHECK_INT(pipe(pfd), 0);
	fflush(NULL);
	holder = fork();
	if (holder == 0) {
		sqlite3 *hold = NULL;
		int bad = sqlite3_open(path, &hold) != SQLITE_OK ||
			  sqlite3_exec(hold, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) ||
			  sqlite3_exec(hold, "BEGIN IMMEDIATE", NULL, NULL, NULL);

		c = bad ? 'x' : 'k';
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		usleep(700 * 1000);
		sqlite3_exec(hold, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(hold);
		_exit(bad);
	}
	CHECK(read(pfd[0], &c, 1) == 1);
	CHECK(c == 'k');
	close(pfd[0]);
	close(pfd[1]);
	for (i = 0; i < 2; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct pq_store *s = NULL;
			int ret = pq_store_open(&s, path);

			if (ret < 0)
				fprintf(stderr, "  concurrent open: %.160s...\n", pq_error_last());
			else if (user_version(s) != pq_store_schema_version())
				ret = -1;
			pq_store_close(s);
			_exit(ret < 0 ? 1 : 0);
		}
	}
	for (i = 0; i < 2; i++)
		if (kids[i] > 0 && waitpid(kids[i], &status, 0) == kids[i] && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			ok++;
	CHECK(waitpid(holder, &status, 0) == holder && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	CHECK_INT(ok, 2);
	free(path);
}

int main(void)
{
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	test_memory_open_migrates();
	test_file_wal_and_reopen_idempotent();
	test_newer_database_refused();
	test_open_errors_name_the_path();
	test_failed_migration_message_has_reason();
	test_stmt_cached_by_literal();
	test_stmt_cache_full_is_an_error();
	test_transactions();
	test_error_and_text_helpers();
	test_two_connections_share_wal();
	test_concurrent_first_open_both_succeed();

	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_DONE();
}
