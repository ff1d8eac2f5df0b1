/*
 * store: the SQLite database, the single source of truth.
 *
 * Opens (creating if needed) the database in WAL mode, applies the embedded
 * migrations of schema/ in order under PRAGMA user_version, and hands out
 * prepared statements that are compiled once per connection and reused.
 * Every other module reads and writes through it.
 */
#ifndef PQ_STORE_H
#define PQ_STORE_H

#include <stddef.h>

#include <sqlite3.h>

struct pq_store;

/* Opens path (":memory:" works), applying pending migrations in one
 * transaction. Returns 0, PQ_EDB with the path and SQLite's message, or
 * PQ_EINVAL when the database is newer than this program. Free with
 * pq_store_close(). */
int pq_store_open(struct pq_store **out, const char *path);
void pq_store_close(struct pq_store *s);

/* The schema version this program writes (the number of migrations). */
int pq_store_schema_version(void);

/* Transactions: BEGIN IMMEDIATE, so a writer never fails half-way with a
 * lock upgrade. Each returns 0 or PQ_EDB. */
int pq_store_begin(struct pq_store *s);
int pq_store_commit(struct pq_store *s);
void pq_store_rollback(struct pq_store *s);
/* A read transaction (BEGIN DEFERRED): the statements up to the next
 * pq_store_commit() or pq_store_rollback() read one snapshot, and take
 * the database's locks once instead of once per statement. A write in it
 * becomes a write transaction, which may fail with SQLITE_BUSY when
 * another connection wrote since the snapshot was taken. 0 or PQ_EDB. */
int pq_store_begin_read(struct pq_store *s);

/*
 * The prepared statement for sql, reset and with its bindings cleared. sql
 * must be a string literal (it is cached by address). Returns NULL and sets
 * the error on a syntax error. The statement stays owned by the store.
 */
sqlite3_stmt *pq_store_stmt(struct pq_store *s, const char *sql);

/* Runs a statement to completion (SQLITE_DONE) and resets it, whatever happened (so it
 * can be used again). Returns 0 or PQ_EDB. */
int pq_store_step_done(struct pq_store *s, sqlite3_stmt *st);

/* The id of the last inserted row. */
long long pq_store_last_id(struct pq_store *s);

/* Sets the error from the connection's message with context; returns PQ_EDB. */
int pq_store_error(struct pq_store *s, const char *what);

/* Steps st to the end, collecting column 0 of every row into a malloc'd
 * array; resets st. Returns 0 or PQ_EDB. */
int pq_store_ids(struct pq_store *s, sqlite3_stmt *st, long long **ids, size_t *n);

/* Column 0 of the first row of st into *out (0 when there is no row); resets st.
 * Returns 0 or PQ_EDB, so that a failure is never read as a count of 0. */
int pq_store_scalar(struct pq_store *s, sqlite3_stmt *st, long long *out);

/* The same for sql (prepared once, pq_store_stmt()) with id bound to its one parameter. */
int pq_store_scalar_id(struct pq_store *s, const char *sql, long long id, long long *out);

/* Binds a C string or NULL (as SQL NULL) as text at index i. */
void pq_store_bind_text(sqlite3_stmt *st, int i, const char *text);

/* The text column i, "" for NULL; borrowed until the next step. */
const char *pq_store_col_text(sqlite3_stmt *st, int i);

/* Column i as a copy of its text (caller frees), NULL for SQL NULL. */
char *pq_store_col_dup(sqlite3_stmt *st, int i);

#endif
