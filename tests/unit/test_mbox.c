/*
 * test_mbox: the readers of source.h: splitting mbox data, reading files,
 * listing, reading and claiming maildir files, reading public-inbox
 * repositories. Every fixture is built here, in memory or in a temporary
 * directory removed at the end.
 */
#include <fcntl.h>
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
#include "maildir.h"
#include "mbox.h"
#include "pinbox.h"
#include "source.h"

#define MAX_GOT 16

/* What the callback saw, copied out (raw is only valid during the call). */
struct got {
	int n;
	char *raw[MAX_GOT];
	size_t len[MAX_GOT];
	char *cursor[MAX_GOT];
	const char *lo, *hi; /* the data handed to pq_mbox_split */
	int pointed_into;    /* messages handed as pointers into [lo, hi) */
	int stop_at;	     /* return 42 from this call (1-based), 0: never */
};

static int got_cb(void *ctx, const char *raw, size_t len, const char *cursor)
{
	struct got *g = ctx;

	if (g->n < MAX_GOT) {
		g->raw[g->n] = pq_strndup(raw, len);
		g->len[g->n] = len;
		g->cursor[g->n] = pq_strdup(cursor);
	}
	if (g->lo && raw >= g->lo && raw + len <= g->hi)
		g->pointed_into++;
	g->n++;
	return g->stop_at && g->n == g->stop_at ? 42 : 0;
}

static void got_free(struct got *g)
{
	int i;

	for (i = 0; i < g->n && i < MAX_GOT; i++) {
		free(g->raw[i]);
		free(g->cursor[i]);
	}
	memset(g, 0, sizeof(*g));
}

static int got_is(const struct got *g, int i, const char *raw, size_t len)
{
	return i < g->n && g->len[i] == len && memcmp(g->raw[i], raw, len) == 0;
}

#define GOT_IS(g, i, s) CHECK(got_is(g, i, s, sizeof(s) - 1))

static int split(const char *data, size_t len, struct got *g)
{
	g->lo = data;
	g->hi = data + len;
	return pq_mbox_split(data, len, got_cb, g);
}

#define SPLIT(s, g) split(s, sizeof(s) - 1, g)

static char tmp_root[] = "/tmp/pq-test-mbox-XXXXXX";

static char *tmp_path(const char *rel)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b, "%s/%s", tmp_root, rel);
	return pq_buf_detach(&b);
}

static void write_file(const char *rel, const char *data, size_t len)
{
	char *p = tmp_path(rel);
	FILE *f = fopen(p, "wb");

	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(data, 1, len, f) == len);
		fclose(f);
	}
	free(p);
}

#define WRITE(rel, lit) write_file(rel, lit, sizeof(lit) - 1)

static void make_dir(const char *rel)
{
	char *p = tmp_path(rel);

	CHECK(mkdir(p, 0700) == 0);
	free(p);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void test_split_three_messages_exact_bytes(void)
{
	static const char data[] = "From alice@example.org Mon Sep 17 00:00:00 2001\n"
				   "Subject: one\n\nbody one\n\n"
				   "From bob@example.org Tue Oct  2 12:34:56 2001\n"
				   "Subject: two\n\nbody two\n\n"
				   "From carol@example.org Wed Oct  3 01:02:03 2001\n"
				   "Subject: three\n\nbody three\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 3);
	GOT_IS(&g, 0, "Subject: one\n\nbody one\n");
	GOT_IS(&g, 1, "Subject: two\n\nbody two\n");
	GOT_IS(&g, 2, "Subject: three\n\nbody three\n");
	CHECK_STR(g.cursor[0], "mbox:0");
	CHECK_INT(strtoul(g.cursor[1] + 5, NULL, 10), strstr(data, "From bob") - data);
	CHECK_INT(strtoul(g.cursor[2] + 5, NULL, 10), strstr(data, "From carol") - data);
	CHECK_INT(g.pointed_into, 3);
	got_free(&g);
}

static void test_split_last_message_blank_line_stripped(void)
{
	static const char data[] = "From x Mon Sep 17 00:00:00 2001\nA: 1\n\nlast\n\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 1);
	GOT_IS(&g, 0, "A: 1\n\nlast\n");
	got_free(&g);
}

static void test_split_only_one_blank_line_stripped(void)
{
	static const char data[] = "From x Mon Sep 17 00:00:00 2001\nA: 1\n\nbody\n\n\n"
				   "From y Mon Sep 17 00:00:00 2001\nA: 2\n\nno blank\n"
				   "From z Mon Sep 17 00:00:00 2001\nA: 3\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 3);
	GOT_IS(&g, 0, "A: 1\n\nbody\n\n");
	GOT_IS(&g, 1, "A: 2\n\nno blank\n");
	GOT_IS(&g, 2, "A: 3\n");
	got_free(&g);
}

static void test_split_mboxrd_unquotes_one_level(void)
{
	static const char data[] = "From mboxrd@z Thu Jan  1 00:00:00 1970\n"
				   "Subject: q\n\n>From here\n>>From there\n"
				   "a >From stays\n>>>From three\n> From not quoted\n\n"
				   "From mboxrd@z Thu Jan  1 00:00:00 1970\n"
				   ">From first line\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 2);
	GOT_IS(&g, 0,
	       "Subject: q\n\nFrom here\n>From there\na >From stays\n>>From three\n"
	       "> From not quoted\n");
	GOT_IS(&g, 1, "From first line\n");
	/* copies only for the quoted ones */
	CHECK_INT(g.pointed_into, 0);
	got_free(&g);
}

static void test_split_body_from_line_not_separator_stays(void)
{
	static const char data[] = "From a@b Mon Sep 17 00:00:00 2001\n"
				   "Subject: s\n\nFrom the looks of it, fine.\nFrom \n"
				   "From  12:00 double space\nFrom 10:30 to 11:00 daily\n"
				   "From x\n\n"
				   "From c@d Mon Sep 17 10:00:00 2001\nSubject: t\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 2);
	GOT_IS(&g, 0,
	       "Subject: s\n\nFrom the looks of it, fine.\nFrom \nFrom  12:00 double space\n"
	       "From 10:30 to 11:00 daily\nFrom x\n");
	GOT_IS(&g, 1, "Subject: t\n");
	got_free(&g);
}

static void test_split_separator_date_forms(void)
{
	static const char data[] = "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nA: 1\n\n"
				   "From a@b Wed, 03 Oct 2001 9:05:00 GMT\nA: 2\n\n"
				   "From ???@??? Mon Jan 01 00:00 2001\nA: 3\n\n"
				   "From a@b Thu Jan 1 00:00:00 1970 +0000\nA: 4\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 4);
	GOT_IS(&g, 0, "A: 1\n");
	GOT_IS(&g, 1, "A: 2\n");
	GOT_IS(&g, 2, "A: 3\n");
	GOT_IS(&g, 3, "A: 4\n");
	got_free(&g);
}

static void test_split_without_from_line_is_one_message(void)
{
	static const char data[] = "Subject: single\n\n>From kept quoted\n"
				   "From a@b Mon Sep 17 00:00:00 2001\ntrailing\n\n";
	struct got g = { 0 };

	/* not an mbox: the bytes are the message, even a separator inside */
	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 1);
	GOT_IS(&g, 0,
	       "Subject: single\n\n>From kept quoted\n"
	       "From a@b Mon Sep 17 00:00:00 2001\ntrailing\n\n");
	CHECK_STR(g.cursor[0], "mbox:0");
	CHECK_INT(g.pointed_into, 1);
	got_free(&g);
}

/* git mailsplit skips blank lines before the first From_ line: so does patchq. */
static void test_split_leading_blank_lines_skipped(void)
{
	static const char data[] = "\n\r\n  \n"
				   "From alice@example.org Mon Sep 17 00:00:00 2001\n"
				   "Subject: one\n\nbody one\n\n"
				   "From bob@example.org Tue Oct  2 12:34:56 2001\n"
				   "Subject: two\n\nbody two\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 2);
	GOT_IS(&g, 0, "Subject: one\n\nbody one\n");
	GOT_IS(&g, 1, "Subject: two\n\nbody two\n");
	CHECK_INT(strtoul(g.cursor[0] + 5, NULL, 10), strstr(data, "From alice") - data);
	got_free(&g);
}

static void test_split_single_from_line_is_mbox(void)
{
	static const char data[] = "From 1234abcd Mon Sep 17 00:00:00 2001\n"
				   "Subject: [PATCH] x\n\n>From quoted\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 1);
	GOT_IS(&g, 0, "Subject: [PATCH] x\n\nFrom quoted\n");
	got_free(&g);
}

static void test_split_crlf_kept(void)
{
	static const char data[] = "From a@b Mon Sep 17 00:00:00 2001\r\n"
				   "Subject: one\r\n\r\nbody\r\n\r\n"
				   "From a@b Mon Sep 17 00:00:01 2001\r\n"
				   "Subject: two\r\n\r\nbody\r\n\n"
				   "From a@b Mon Sep 17 00:00:02 2001\n"
				   "Subject: three\r\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 3);
	GOT_IS(&g, 0, "Subject: one\r\n\r\nbody\r\n");
	GOT_IS(&g, 1, "Subject: two\r\n\r\nbody\r\n");
	GOT_IS(&g, 2, "Subject: three\r\n");
	got_free(&g);
}

static void test_split_nul_byte_kept(void)
{
	static const char data[] = "From a@b Mon Sep 17 00:00:00 2001\n"
				   "Subject: n\n\nbe\0fore\n\n"
				   "From a@b Mon Sep 17 00:00:00 2001\n"
				   ">From \0x\n";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 2);
	GOT_IS(&g, 0, "Subject: n\n\nbe\0fore\n");
	GOT_IS(&g, 1, "From \0x\n");
	got_free(&g);
}

static void test_split_callback_stop_returned(void)
{
	static const char data[] = "From a@b Mon Sep 17 00:00:00 2001\nA: 1\n\n"
				   "From a@b Mon Sep 17 00:00:00 2001\nA: 2\n\n"
				   "From a@b Mon Sep 17 00:00:00 2001\nA: 3\n";
	struct got g = { .stop_at = 2 };

	CHECK_INT(SPLIT(data, &g), 42);
	CHECK_INT(g.n, 2);
	got_free(&g);
}

static void test_split_empty_messages_skipped(void)
{
	static const char data[] = "From a@b Mon Sep 17 00:00:00 2001\n"
				   "From a@b Mon Sep 17 00:00:00 2001\n\n"
				   "From a@b Mon Sep 17 00:00:00 2001\nA: 1\n\n"
				   "From a@b Mon Sep 17 00:00:00 2001";
	struct got g = { 0 };

	CHECK_INT(SPLIT(data, &g), 0);
	CHECK_INT(g.n, 1);
	GOT_IS(&g, 0, "A: 1\n");
	got_free(&g);
	CHECK_INT(split("", 0, &g), 0);
	CHECK_INT(g.n, 0);
	got_free(&g);
}

static void test_read_file_maps_and_splits(void)
{
	static const char data[] = "From a@b Mon Sep 17 00:00:00 2001\nA: 1\n\n"
				   "From a@b Mon Sep 17 00:00:00 2001\n>From 2\n";
	struct got g = { 0 };
	char *p = tmp_path("file.mbox");

	write_file("file.mbox", data, sizeof(data) - 1);
	CHECK_INT(pq_mbox_read(p, got_cb, &g), 0);
	CHECK_INT(g.n, 2);
	GOT_IS(&g, 0, "A: 1\n");
	GOT_IS(&g, 1, "From 2\n");
	CHECK_STR(g.cursor[1], "mbox:40");
	got_free(&g);
	free(p);
}

static void test_read_empty_file_no_messages(void)
{
	struct got g = { 0 };
	char *p = tmp_path("empty.mbox");

	WRITE("empty.mbox", "");
	CHECK_INT(pq_mbox_read(p, got_cb, &g), 0);
	CHECK_INT(g.n, 0);
	got_free(&g);
	free(p);
}

static void test_read_directory_or_missing_is_eio(void)
{
	struct got g = { 0 };
	char *p = tmp_path("no-such-file");

	CHECK_INT(pq_mbox_read(tmp_root, got_cb, &g), PQ_EIO);
	CHECK(strstr(pq_error_last(), tmp_root) != NULL);
	CHECK(strstr(pq_error_last(), "directory") != NULL);
	CHECK_INT(pq_mbox_read(p, got_cb, &g), PQ_EIO);
	CHECK(strstr(pq_error_last(), "no-such-file") != NULL);
	CHECK_INT(g.n, 0);
	got_free(&g);
	free(p);
}

/*
 * Every message of a maildir listing, as pq_maildir_load() gives it, with
 * "new/NAME" or "cur/NAME" as the cursor; entries that are no message are
 * skipped. Returns the first error or 0.
 */
static int maildir_got(const char *dir, const char *after, struct got *g)
{
	struct pq_maildir_list l = PQ_MAILDIR_LIST_INIT;
	struct pq_buf b = PQ_BUF_INIT, where = PQ_BUF_INIT;
	const char *raw;
	size_t i, len;
	int rc;

	rc = pq_maildir_list(&l, dir, after);
	for (i = 0; i < l.n && rc == 0; i++) {
		rc = pq_maildir_load(dir, &l.v[i], &b, &raw, &len);
		if (rc == 1 || (rc == 0 && len == 0)) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		pq_buf_reset(&where);
		pq_buf_addf(&where, "%s/%s", l.v[i].in_new ? "new" : "cur", l.v[i].name);
		got_cb(g, raw, len, where.ptr);
	}
	pq_maildir_list_free(&l);
	pq_buf_free(&b);
	pq_buf_free(&where);
	return rc;
}

static void test_maildir_new_and_cur_in_name_order_tmp_ignored(void)
{
	struct got g = { 0 };
	char *p = tmp_path("md");

	make_dir("md");
	make_dir("md/new");
	make_dir("md/cur");
	make_dir("md/tmp");
	make_dir("md/cur/subdir");
	WRITE("md/new/200.b.host", "Subject: b\n\n>From kept\n");
	WRITE("md/cur/100.a.host:2,S", "Subject: a\r\n\r\nx\0y\n");
	WRITE("md/cur/300.c.host:2,", "From a@b Mon Sep 17 00:00:00 2001\nSubject: c\n");
	WRITE("md/new/.hidden", "Subject: hidden\n");
	WRITE("md/new/400.empty", "");
	WRITE("md/tmp/050.partial", "Subject: partial\n");

	CHECK_INT(maildir_got(p, NULL, &g), 0);
	CHECK_INT(g.n, 3);
	GOT_IS(&g, 0, "Subject: a\r\n\r\nx\0y\n");
	GOT_IS(&g, 1, "Subject: b\n\n>From kept\n");
	GOT_IS(&g, 2, "Subject: c\n"); /* procmail's From_ line dropped */
	CHECK_STR(g.cursor[0], "cur/100.a.host:2,S");
	CHECK_STR(g.cursor[1], "new/200.b.host");
	CHECK_STR(g.cursor[2], "cur/300.c.host:2,");
	got_free(&g);
	free(p);
}

static void test_maildir_cur_after_filters_cur_only(void)
{
	struct pq_maildir_list l = PQ_MAILDIR_LIST_INIT;
	char *p = tmp_path("mda");

	make_dir("mda");
	make_dir("mda/new");
	make_dir("mda/cur");
	WRITE("mda/cur/100.a:2,S", "Subject: a\n");
	WRITE("mda/cur/200.b:2,", "Subject: b\n");
	WRITE("mda/cur/300.c:2,", "Subject: c\n");
	WRITE("mda/new/050.old", "Subject: old\n"); /* new/ is read whatever its name */
	WRITE("mda/new/300.c", "Subject: c again\n");

	CHECK_INT(pq_maildir_list(&l, p, "200.b"), 0);
	CHECK_INT(l.n, 3);
	if (l.n == 3) {
		CHECK_STR(l.v[0].name, "050.old");
		CHECK_INT(l.v[0].in_new, 1);
		CHECK_STR(l.v[1].name, "300.c"); /* new/ first on a tie */
		CHECK_INT(l.v[1].in_new, 1);
		CHECK_STR(l.v[2].name, "300.c:2,");
		CHECK_INT(l.v[2].in_new, 0);
	}
	pq_maildir_list_free(&l);
	CHECK_INT(l.n, 0);

	CHECK_INT(pq_maildir_list(&l, p, ""), 0);
	CHECK_INT(l.n, 5);
	pq_maildir_list_free(&l);
	CHECK_INT(pq_maildir_unique_len("123.x.host:2,S"), 10);
	CHECK_INT(pq_maildir_unique_len("123.x.host"), 10);
	free(p);
}

static void test_maildir_fifo_and_gone_are_no_message(void)
{
	struct pq_maildir_file fifo = { "100.fifo", 1 }, gone = { "200.gone", 1 },
			       dir = { "300.dir", 1 };
	struct pq_buf b = PQ_BUF_INIT;
	char *p = tmp_path("mdf"), *f = tmp_path("mdf/new/100.fifo");
	const char *raw;
	size_t len;

	make_dir("mdf");
	make_dir("mdf/new");
	make_dir("mdf/new/300.dir");
	CHECK_INT(mkfifo(f, 0600), 0);
	/* no writer: a blocking open would hang here */
	CHECK_INT(pq_maildir_load(p, &fifo, &b, &raw, &len), 1);
	CHECK_INT(pq_maildir_load(p, &gone, &b, &raw, &len), 1);
	CHECK_INT(pq_maildir_load(p, &dir, &b, &raw, &len), 1);
	CHECK_INT(len, 0);
	pq_buf_free(&b);
	free(f);
	free(p);
}

static void test_maildir_claim_moves_new_to_cur(void)
{
	struct pq_maildir_file plain = { "100.a", 1 }, flagged = { "200.b:2,S", 1 },
			       cur = { "300.c:2,", 0 }, gone = { "400.d", 1 };
	char *p = tmp_path("mdc"), *moved = tmp_path("mdc/cur/100.a:2,"),
	     *kept = tmp_path("mdc/cur/200.b:2,S"), *old = tmp_path("mdc/new/100.a");

	make_dir("mdc");
	make_dir("mdc/new");
	make_dir("mdc/cur");
	WRITE("mdc/new/100.a", "Subject: a\n");
	WRITE("mdc/new/200.b:2,S", "Subject: b\n");
	WRITE("mdc/cur/300.c:2,", "Subject: c\n");
	CHECK_INT(pq_maildir_claim(p, &plain), 0);
	CHECK_INT(pq_maildir_claim(p, &flagged), 0);
	CHECK_INT(pq_maildir_claim(p, &cur), 0);
	CHECK_INT(pq_maildir_claim(p, &gone), 1);
	CHECK(access(moved, F_OK) == 0);
	CHECK(access(kept, F_OK) == 0);
	CHECK(access(old, F_OK) != 0);
	free(p);
	free(moved);
	free(kept);
	free(old);
}

static void test_maildir_without_new_or_cur_is_error(void)
{
	struct pq_maildir_list l = PQ_MAILDIR_LIST_INIT;
	char *p = tmp_path("notmd");

	make_dir("notmd");
	CHECK_INT(pq_maildir_list(&l, p, NULL), PQ_EIO);
	CHECK(strstr(pq_error_last(), "notmd") != NULL);
	CHECK_INT(l.n, 0);
	pq_maildir_list_free(&l);
	free(p);
}

/* Commits one tree holding name = data on top of refname's tip; id out. */
static void pi_commit(git_repository *repo, const char *refname, const char *name, const char *data,
		      git_oid *id)
{
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_oid blob, tree_id, parent_id;
	int nparents = 0;

	CHECK_INT(git_blob_create_from_buffer(&blob, repo, data, strlen(data)), 0);
	CHECK_INT(git_treebuilder_new(&tb, repo, NULL), 0);
	CHECK_INT(git_treebuilder_insert(NULL, tb, name, &blob, GIT_FILEMODE_BLOB), 0);
	CHECK_INT(git_treebuilder_write(&tree_id, tb), 0);
	CHECK_INT(git_tree_lookup(&tree, repo, &tree_id), 0);
	CHECK_INT(git_signature_new(&sig, "PI Test", "pi@example.org", 1700000000, 0), 0);
	if (git_reference_name_to_id(&parent_id, repo, refname) == 0) {
		CHECK_INT(git_commit_lookup(&parent, repo, &parent_id), 0);
		nparents = 1;
	}
	CHECK_INT(git_commit_create_v(id, repo, refname, sig, sig, NULL, "m", tree, nparents,
				      parent),
		  0);
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
}

/*
 * A repository at rel with the given messages as blob "m", one commit
 * each, on refs/heads/master; a NULL message makes a deletion commit ("d").
 */
static void pi_make(const char *rel, int bare, const char *const *msgs, int n, git_oid *ids)
{
	git_repository *repo = NULL;
	char *p = tmp_path(rel);
	int i;

	CHECK_INT(git_repository_init(&repo, p, bare), 0);
	CHECK_INT(git_repository_set_head(repo, "refs/heads/master"), 0);
	for (i = 0; i < n; i++)
		pi_commit(repo, "refs/heads/master", msgs[i] ? "m" : "d",
			  msgs[i] ? msgs[i] : "deleted\n", &ids[i]);
	git_repository_free(repo);
	free(p);
}

static void pi_cursor(const git_oid *id, char *out, size_t size)
{
	memcpy(out, "pi:", 4);
	git_oid_tostr(out + 3, size - 3, id);
}

static void test_pi_v2_epochs_oldest_first_with_cursor(void)
{
	static const char *const e0[] = { "Subject: 1\n", "Subject: 2\n", "Subject: 3\n" };
	static const char *const e1[] = { "Subject: 4\n", NULL, "Subject: 5\n" };
	git_oid id0[3], id1[3], id10[1];
	static const char *const e10[] = { "Subject: 6\n" };
	char want[64], *top = tmp_path("inbox");
	struct got g = { 0 };

	make_dir("inbox");
	make_dir("inbox/git");
	pi_make("inbox/git/0.git", 1, e0, 3, id0);
	pi_make("inbox/git/1.git", 1, e1, 3, id1);
	pi_make("inbox/git/10.git", 1, e10, 1, id10); /* numeric, not name order */
	CHECK_INT(pq_source_detect(top), PQ_SOURCE_PUBLIC_INBOX);

	CHECK_INT(pq_pi_read(top, NULL, got_cb, &g), 0);
	CHECK_INT(g.n, 6);
	GOT_IS(&g, 0, "Subject: 1\n");
	GOT_IS(&g, 1, "Subject: 2\n");
	GOT_IS(&g, 2, "Subject: 3\n");
	GOT_IS(&g, 3, "Subject: 4\n");
	GOT_IS(&g, 4, "Subject: 5\n");
	GOT_IS(&g, 5, "Subject: 6\n");
	pi_cursor(&id0[0], want, sizeof(want));
	CHECK_STR(g.cursor[0], want);
	pi_cursor(&id1[2], want, sizeof(want));
	CHECK_STR(g.cursor[4], want);
	got_free(&g);

	/* since: strictly after, across epochs, with or without "pi:" */
	pi_cursor(&id0[1], want, sizeof(want));
	CHECK_INT(pq_pi_read(top, want, got_cb, &g), 0);
	CHECK_INT(g.n, 4);
	GOT_IS(&g, 0, "Subject: 3\n");
	GOT_IS(&g, 3, "Subject: 6\n");
	got_free(&g);

	pi_cursor(&id0[2], want, sizeof(want));
	CHECK_INT(pq_pi_read(top, want + 3, got_cb, &g), 0);
	CHECK_INT(g.n, 3);
	GOT_IS(&g, 0, "Subject: 4\n");
	got_free(&g);

	pi_cursor(&id1[1], want, sizeof(want)); /* the deletion commit */
	CHECK_INT(pq_pi_read(top, want, got_cb, &g), 0);
	CHECK_INT(g.n, 2);
	GOT_IS(&g, 0, "Subject: 5\n");
	got_free(&g);

	pi_cursor(&id10[0], want, sizeof(want));
	CHECK_INT(pq_pi_read(top, want, got_cb, &g), 0);
	CHECK_INT(g.n, 0);
	got_free(&g);

	g.stop_at = 4;
	CHECK_INT(pq_pi_read(top, NULL, got_cb, &g), 42);
	CHECK_INT(g.n, 4);
	got_free(&g);
	free(top);
}

static void test_pi_plain_repository_and_since(void)
{
	static const char *const msgs[] = { "Subject: a\n\nx\n", "Subject: b\n", "Subject: c\n" };
	char want[64], *bare = tmp_path("bare.git"), *work = tmp_path("work");
	struct got g = { 0 };
	git_oid ids[3], wids[3];

	pi_make("bare.git", 1, msgs, 3, ids);
	pi_make("work", 0, msgs, 3, wids);
	CHECK_INT(pq_source_detect(bare), PQ_SOURCE_PUBLIC_INBOX);
	CHECK_INT(pq_source_detect(work), PQ_SOURCE_PUBLIC_INBOX);

	CHECK_INT(pq_pi_read(bare, NULL, got_cb, &g), 0);
	CHECK_INT(g.n, 3);
	GOT_IS(&g, 0, "Subject: a\n\nx\n");
	GOT_IS(&g, 2, "Subject: c\n");
	pi_cursor(&ids[2], want, sizeof(want));
	CHECK_STR(g.cursor[2], want);
	got_free(&g);

	CHECK_INT(pq_pi_read(work, NULL, got_cb, &g), 0);
	CHECK_INT(g.n, 3);
	GOT_IS(&g, 1, "Subject: b\n");
	got_free(&g);

	pi_cursor(&ids[0], want, sizeof(want));
	CHECK_INT(pq_pi_read(bare, want, got_cb, &g), 0);
	CHECK_INT(g.n, 2);
	GOT_IS(&g, 0, "Subject: b\n");
	GOT_IS(&g, 1, "Subject: c\n");
	got_free(&g);

	CHECK_INT(pq_pi_read(work, "0123456789abcdef0123456789abcdef01234567", got_cb, &g),
		  PQ_ENOTFOUND);
	CHECK(strstr(pq_error_last(), "work") != NULL);
	CHECK_INT(g.n, 0);
	CHECK_INT(pq_pi_read(work, "not-hex", got_cb, &g), PQ_EINVAL);
	got_free(&g);
	free(bare);
	free(work);
}

static void test_pi_unborn_head_falls_back_to_branch(void)
{
	static const char *const msgs[] = { "Subject: only\n" };
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	char *p = tmp_path("mirror.git");
	struct got g = { 0 };
	git_oid id;

	CHECK_INT(git_repository_init(&repo, p, 1), 0);
	pi_commit(repo, "refs/heads/zzz", "m", "Subject: not me\n", &id);
	pi_commit(repo, "refs/heads/main", "m", msgs[0], &id);
	CHECK_INT(git_reference_symbolic_create(&ref, repo, "HEAD", "refs/heads/gone", 1, NULL), 0);
	git_reference_free(ref);
	git_repository_free(repo);

	CHECK_INT(pq_pi_read(p, NULL, got_cb, &g), 0);
	CHECK_INT(g.n, 1);
	GOT_IS(&g, 0, "Subject: only\n");
	got_free(&g);
	free(p);
}

static void test_pi_not_a_repository_is_egit(void)
{
	struct got g = { 0 };
	char *p = tmp_path("plain-dir");

	make_dir("plain-dir");
	CHECK_INT(pq_pi_read(p, NULL, got_cb, &g), PQ_EGIT);
	CHECK(strstr(pq_error_last(), "plain-dir") != NULL);
	CHECK_INT(g.n, 0);
	free(p);
}

static void test_source_detect_all_kinds(void)
{
	char *mbox = tmp_path("detect.mbox"), *md = tmp_path("detect-md"),
	     *mdc = tmp_path("detect-mdc"), *none = tmp_path("detect-none"),
	     *missing = tmp_path("detect-missing");

	WRITE("detect.mbox", "x");
	make_dir("detect-md");
	make_dir("detect-md/new");
	make_dir("detect-mdc");
	make_dir("detect-mdc/cur");
	make_dir("detect-none");
	CHECK_INT(pq_source_detect(mbox), PQ_SOURCE_MBOX);
	CHECK_INT(pq_source_detect(md), PQ_SOURCE_MAILDIR);
	CHECK_INT(pq_source_detect(mdc), PQ_SOURCE_MAILDIR);
	CHECK_INT(pq_source_detect(none), PQ_SOURCE_UNKNOWN);
	CHECK_INT(pq_source_detect(missing), PQ_SOURCE_UNKNOWN);
	CHECK_INT(pq_source_detect("/dev/null"), PQ_SOURCE_UNKNOWN);
	free(mbox);
	free(md);
	free(mdc);
	free(none);
	free(missing);
}

int main(void)
{
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	git_libgit2_init();

	test_split_three_messages_exact_bytes();
	test_split_last_message_blank_line_stripped();
	test_split_only_one_blank_line_stripped();
	test_split_mboxrd_unquotes_one_level();
	test_split_body_from_line_not_separator_stays();
	test_split_separator_date_forms();
	test_split_without_from_line_is_one_message();
	test_split_leading_blank_lines_skipped();
	test_split_single_from_line_is_mbox();
	test_split_crlf_kept();
	test_split_nul_byte_kept();
	test_split_callback_stop_returned();
	test_split_empty_messages_skipped();
	test_read_file_maps_and_splits();
	test_read_empty_file_no_messages();
	test_read_directory_or_missing_is_eio();
	test_maildir_new_and_cur_in_name_order_tmp_ignored();
	test_maildir_cur_after_filters_cur_only();
	test_maildir_fifo_and_gone_are_no_message();
	test_maildir_claim_moves_new_to_cur();
	test_maildir_without_new_or_cur_is_error();
	test_pi_v2_epochs_oldest_first_with_cursor();
	test_pi_plain_repository_and_since();
	test_pi_unborn_head_falls_back_to_branch();
	test_pi_not_a_repository_is_egit();
	test_source_detect_all_kinds();

	git_libgit2_shutdown();
	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_DONE();
}
