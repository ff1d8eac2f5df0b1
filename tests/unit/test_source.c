/*
 * test_source: the source object (source.h) over real files and a real
 * database: what a read stores, the cursor each kind keeps, and what a
 * maildir read moves. Fixtures are made here in a temporary directory
 * removed at the end; databases are in memory.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "error.h"
#include "source.h"
#include "store.h"

static char tmp_root[] = "/tmp/pq-test-source-XXXXXX";

static char *tmp_path(const char *rel)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b, "%s/%s", tmp_root, rel);
	return pq_buf_detach(&b);
}

static void write_file(const char *rel, const char *data)
{
	char *p = tmp_path(rel);
	FILE *f = fopen(p, "wb");

	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(data, 1, strlen(data), f) == strlen(data));
		fclose(f);
	}
	free(p);
}

static void make_dir(const char *rel)
{
	char *p = tmp_path(rel);

	CHECK(mkdir(p, 0700) == 0);
	free(p);
}

static int exists(const char *rel)
{
	char *p = tmp_path(rel);
	int ok = access(p, F_OK) == 0;

	free(p);
	return ok;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static struct pq_store *db(void)
{
	struct pq_store *s = NULL;

	CHECK_INT(pq_store_open(&s, ":memory:"), 0);
	return s;
}

/* The raw table, in id order, as one buffer of "length:bytes" records. */
static void raw_rows(struct pq_store *s, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT bytes FROM raw ORDER BY id");

	pq_buf_reset(out);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		pq_buf_addf(out, "%d:", sqlite3_column_bytes(st, 0));
		pq_buf_add(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	}
	if (st)
		sqlite3_reset(st);
}

static char *cursor_of(struct pq_store *s, const char *name)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT position FROM cursor WHERE source = ?");
	char *out = NULL;

	pq_store_bind_text(st, 1, name);
	if (sqlite3_step(st) == SQLITE_ROW)
		out = pq_store_col_dup(st, 0);
	sqlite3_reset(st);
	return out;
}

static void set_cursor(struct pq_store *s, const char *name, const char *position)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "INSERT OR REPLACE INTO cursor (source, position) VALUES (?, ?)");

	pq_store_bind_text(st, 1, name);
	pq_store_bind_text(st, 2, position);
	CHECK_INT(pq_store_step_done(s, st), 0);
}

static int read_path(struct pq_store *s, const char *rel, const char *name, unsigned flags,
		     size_t max, struct pq_source_stats *st)
{
	char *p = tmp_path(rel);
	struct pq_source_spec spec = { .path = p, .name = name, .flags = flags };
	struct pq_source *src = NULL;
	int rc;

	rc = pq_source_open(&src, &spec);
	free(p);
	if (rc == 0)
		rc = pq_source_read(src, s, max, st);
	pq_source_free(src);
	return rc;
}

#define MSG(id) "From: a@example.org\nSubject: m" id "\nMessage-ID: <" id "@x>\n\nbody " id "\n"

/* The same maildir through the daemon's way (claim, in chunks) and the CLI's (all, no move). */
static void test_maildir_claim_and_import_store_the_same(void)
{
	struct pq_store *a = db(), *b = db();
	struct pq_buf ra = PQ_BUF_INIT, rb = PQ_BUF_INIT;
	struct pq_source_stats st;
	char *fifo = tmp_path("md/new/150.fifo"), *ca, *cb;

	make_dir("md");
	make_dir("md/new");
	make_dir("md/cur");
	make_dir("md/tmp");
	write_file("md/cur/100.a.host:2,S", MSG("1"));
	CHECK_INT(mkfifo(fifo, 0600), 0);
	make_dir("md/new/160.dir");
	write_file("md/new/200.b.host",
		   "From procmail@example.org Mon Sep 17 00:00:00 2001\n" MSG("2"));
	write_file("md/new/250.empty", "");
	write_file("md/new/300.c.host", MSG("3"));
	write_file("md/tmp/400.partial", MSG("4"));

	/* the CLI: everything, nothing moved */
	CHECK_INT(read_path(b, "md", "cli", 0, 0, &st), 0);
	CHECK_INT(st.ingest.read, 3);
	CHECK_INT(st.ingest.stored, 3);
	CHECK(exists("md/new/200.b.host") && exists("md/new/300.c.host") &&
	      exists("md/new/150.fifo"));
	cb = cursor_of(b, "cli");
	CHECK_STR(cb, "maildir:300.c.host");

	/* the daemon: two at a time, each file moved once committed */
	CHECK_INT(read_path(a, "md", "daemon", PQ_SOURCE_CLAIM, 2, &st), 0);
	CHECK_INT(st.ingest.stored, 2);
	CHECK_INT(st.more, 1);
	CHECK(st.backlog >= 1);
	CHECK(exists("md/cur/200.b.host:2,") && !exists("md/new/200.b.host"));
	CHECK(exists("md/cur/100.a.host:2,S") && exists("md/new/300.c.host"));
	CHECK(exists("md/new/150.fifo") && exists("md/new/160.dir"));
	CHECK_INT(read_path(a, "md", "daemon", PQ_SOURCE_CLAIM, 2, &st), 0);
	CHECK_INT(st.ingest.read, 1);
	CHECK_INT(st.more, 0);
	CHECK(exists("md/cur/300.c.host:2,") && exists("md/cur/250.empty:2,"));
	ca = cursor_of(a, "daemon");
	CHECK_STR(ca, "maildir:300.c.host");

	raw_rows(a, &ra);
	raw_rows(b, &rb);
	CHECK(ra.len > 0 && ra.len == rb.len && memcmp(ra.ptr, rb.ptr, ra.len) == 0);
	CHECK(strstr(pq_buf_str(&ra), "From procmail") == NULL);

	/* what it moved is not read again; a later file a client put in cur/ is */
	CHECK_INT(read_path(a, "md", "daemon", PQ_SOURCE_CLAIM, 2, &st), 0);
	CHECK_INT(st.ingest.read, 0);
	write_file("md/cur/500.e.host:2,S", MSG("5"));
	CHECK_INT(read_path(a, "md", "daemon", PQ_SOURCE_CLAIM, 2, &st), 0);
	CHECK_INT(st.ingest.read, 1);
	CHECK_INT(st.ingest.stored, 1);
	free(ca);
	ca = cursor_of(a, "daemon");
	CHECK_STR(ca, "maildir:500.e.host");

	pq_buf_free(&ra);
	pq_buf_free(&rb);
	free(ca);
	free(cb);
	free(fifo);
	pq_store_close(a);
	pq_store_close(b);
}

/* The cursor never goes back, and the form older versions stored is understood. */
static void test_maildir_cursor_old_form_and_never_back(void)
{
	struct pq_store *s = db();
	struct pq_source_stats st;
	char *c;

	make_dir("mo");
	make_dir("mo/new");
	make_dir("mo/cur");
	write_file("mo/cur/100.a:2,S", MSG("10"));
	write_file("mo/cur/200.b:2,S", MSG("20"));
	set_cursor(s, "md", "maildir:cur/100.a:2,S");
	CHECK_INT(read_path(s, "mo", "md", PQ_SOURCE_CLAIM, 0, &st), 0);
	CHECK_INT(st.ingest.read, 1); /* only 200.b: 100.a is at the cursor */
	c = cursor_of(s, "md");
	CHECK_STR(c, "maildir:200.b");
	free(c);

	write_file("mo/new/050.late", MSG("30")); /* delivered with an old name */
	CHECK_INT(read_path(s, "mo", "md", PQ_SOURCE_CLAIM, 0, &st), 0);
	CHECK_INT(st.ingest.stored, 1);
	c = cursor_of(s, "md");
	CHECK_STR(c, "maildir:200.b");
	free(c);
	CHECK(exists("mo/cur/050.late:2,"));
	pq_store_close(s);
}

static void test_mbox_cursor_max_and_unknown(void)
{
	struct pq_store *s = db();
	struct pq_source_spec spec = { .name = "x" };
	struct pq_source_stats st;
	struct pq_source *src = NULL;
	char *c, *none = tmp_path("none");

	write_file("a.mbox", "From x@y Mon Sep 17 00:00:00 2001\n" MSG(
				     "m1") "\n"
					   "From x@y Mon Sep 17 00:00:00 2001\n" MSG("m2"));
	CHECK_INT(read_path(s, "a.mbox", "mb", 0, 5, &st), PQ_EINVAL);
	CHECK_INT(read_path(s, "a.mbox", "mb", 0, 0, &st), 0);
	CHECK_INT(st.ingest.stored, 2);
	c = cursor_of(s, "mb");
	CHECK(c && !strncmp(c, "mbox:", 5) && atoi(c + 5) > 0);
	free(c);

	make_dir("none");
	spec.path = none;
	CHECK_INT(pq_source_open(&src, &spec), PQ_EINVAL);
	CHECK(strstr(pq_error_last(), "not an mbox file, maildir or public-inbox") != NULL);
	CHECK(src == NULL);
	spec.name = NULL;
	CHECK_INT(pq_source_open(&src, &spec), PQ_EINVAL);
	free(none);
	pq_store_close(s);
}

/* One commit holding blob "m" = data on top of refs/heads/master; id out. */
static void pi_commit(git_repository *repo, const char *data, git_oid *id)
{
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_oid blob, tree_id, parent_id;
	int nparents = 0;

	CHECK_INT(git_blob_create_from_buffer(&blob, repo, data, strlen(data)), 0);
	CHECK_INT(git_treebuilder_new(&tb, repo, NULL), 0);
	CHECK_INT(git_treebuilder_insert(NULL, tb, "m", &blob, GIT_FILEMODE_BLOB), 0);
	CHECK_INT(git_treebuilder_write(&tree_id, tb), 0);
	CHECK_INT(git_tree_lookup(&tree, repo, &tree_id), 0);
	CHECK_INT(git_signature_new(&sig, "PI", "pi@example.org", 1700000000, 0), 0);
	if (git_reference_name_to_id(&parent_id, repo, "refs/heads/master") == 0) {
		CHECK_INT(git_commit_lookup(&parent, repo, &parent_id), 0);
		nparents = 1;
	}
	CHECK_INT(git_commit_create_v(id, repo, "refs/heads/master", sig, sig, NULL, "m", tree,
				      nparents, parent),
		  0);
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
}

static void test_public_inbox_cursor_is_the_commit(void)
{
	struct pq_store *s = db();
	struct pq_source_stats st;
	git_repository *repo = NULL;
	char *p = tmp_path("pi.git"), *c, want[64];
	git_oid ids[3];

	CHECK_INT(git_repository_init(&repo, p, 1), 0);
	CHECK_INT(git_repository_set_head(repo, "refs/heads/master"), 0);
	pi_commit(repo, MSG("p1"), &ids[0]);
	pi_commit(repo, MSG("p2"), &ids[1]);
	CHECK_INT(read_path(s, "pi.git", "pi", PQ_SOURCE_CLAIM, 1, &st), 0);
	CHECK_INT(st.ingest.stored, 1);
	CHECK_INT(st.more, 1);
	CHECK_INT(read_path(s, "pi.git", "pi", PQ_SOURCE_CLAIM, 1, &st), 0);
	CHECK_INT(st.ingest.stored, 1);
	memcpy(want, "pi:", 4);
	git_oid_tostr(want + 3, sizeof(want) - 3, &ids[1]);
	c = cursor_of(s, "pi");
	CHECK_STR(c, want);
	free(c);
	pi_commit(repo, MSG("p3"), &ids[2]);
	CHECK_INT(read_path(s, "pi.git", "pi", 0, 0, &st), 0);
	CHECK_INT(st.ingest.read, 1);
	CHECK_INT(st.more, 0);
	git_repository_free(repo);
	free(p);
	pq_store_close(s);
}

int main(void)
{
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	git_libgit2_init();

	test_maildir_claim_and_import_store_the_same();
	test_maildir_cursor_old_form_and_never_back();
	test_mbox_cursor_max_and_unknown();
	test_public_inbox_cursor_is_the_commit();

	git_libgit2_shutdown();
	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_DONE();
}
