/*
 * test_elsewhere: what a reply must say for a series to count as taken by
 * another tree, and what it must not (quoted text, our own queues, words
 * that only start like "applied"), on reply texts as maintainers write
 * them, b4's "ty" among them; and, on a real database, what the scan
 * records when [elsewhere] changes: a section added later finds the
 * replies stored before it, one removed takes its marks with it (triage
 * then decides on those series again), a new tree moves the mark, an
 * unchanged configuration reads nothing twice, and a rescan goes in
 * batches that a crash between two leaves to the next scan.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "queue_fixture.h"

#include "elsewhere.h"

/* The tree the reply body names (dflt for a bare "Applied"), or NULL. */
static char *parsed(const char *body, const struct pq_config *c)
{
	char *tree = (char *)1;
	int rc = pq_elsewhere_parse(body, "kbuild-default", c, &tree);

	CHECK(rc ? tree != NULL : tree == NULL);
	return rc ? tree : NULL;
}

#define EXPECT(body, want)                      \
	do {                                    \
		char *t_ = parsed(body, &conf); \
		CHECK_STR(t_, want);            \
		free(t_);                       \
	} while (0)

static void test_parse(void)
{
	struct pq_queue_conf queues[] = {
		{ .name = "rust-next", .branch = "rust-next" },
		{ .name = "fixes", .branch = "rust-fixes" },
	};
	struct pq_config conf = { .queues = queues, .nqueues = 2 };
	struct pq_buf big = PQ_BUF_INIT;
	int i;

	EXPECT("Applied to linux-kbuild\n", "linux-kbuild");
	EXPECT("Applied to kbuild-next, thanks!\n", "kbuild-next");
	EXPECT("applied to `kbuild-fixes` -- thanks everyone!\n", "kbuild-fixes");
	EXPECT("Applied into the kbuild tree.\n", "kbuild");
	EXPECT("  Applied to linux-kbuild.\r\n", "linux-kbuild");
	/* b4 ty: the attribution, the quote, a bare "Applied", the commits */
	EXPECT("On Tue, 01 Oct 2026 10:00:00 +0000, Alice wrote:\n"
	       "> Applied to rust-next? No: this is a quote.\n"
	       "> \n\n"
	       "Applied, thanks!\n\n"
	       "[1/2] kbuild: fix the thing\n"
	       "      commit: 0123456789ab\n\n"
	       "Best regards,\n-- \nMasahiro Yamada <masahiroy@kernel.org>\n",
	       "kbuild-default");
	/* a bare "Applied" followed by the tree on a line of its own */
	EXPECT("Applied, thanks!\n\n"
	       "Applied to https://git.kernel.org/pub/scm/linux/kernel/git/masahiroy/"
	       "linux-kbuild.git (kbuild)\n",
	       "linux-kbuild (kbuild)");
	EXPECT("Applied to git://git.kernel.org/pub/scm/foo/bar.git/\n", "bar");
	EXPECT("Applied.\n", "kbuild-default");

	/* quoted only: the words are someone else's */
	EXPECT("On Mon, Bob wrote:\n> Applied to linux-kbuild, thanks!\n\nThanks Bob.\n", NULL);
	EXPECT(">> Applied to linux-kbuild\n", NULL);
	/* our own trees are not "elsewhere" */
	EXPECT("Applied to rust-next, thanks everyone!\n", NULL);
	EXPECT("Applied to Rust-Next, thanks!\n", NULL); /* ours, in any case */
	EXPECT("Applied to `rust-fixes`\n", NULL);
	/* not a statement that it was applied */
	EXPECT("Applies cleanly on linux-kbuild.\n", NULL);
	EXPECT("Applied the first patch only; the rest needs work.\n", NULL);
	EXPECT("I have not applied this to linux-kbuild.\n", NULL);
	EXPECT("Not applied: please rebase.\n", NULL);
	EXPECT("Applied on top of next-20261110 and tested: works.\n", NULL);
	EXPECT("", NULL);
	CHECK(parsed(NULL, &conf) == NULL);
	/* after the signature */
	EXPECT("Looks good.\n-- \nApplied to linux-kbuild\n", NULL);
	/* only the first lines of the reply's own text */
	for (i = 0; i < 60; i++)
		pq_buf_addf(&big, "line %d of a long review\n", i);
	pq_buf_adds(&big, "Applied to linux-kbuild\n");
	EXPECT(pq_buf_str(&big), NULL);
	/* a long tree name is cut, and what no tree holds ends it */
	pq_buf_reset(&big);
	pq_buf_adds(&big, "Applied to ");
	for (i = 0; i < 500; i++)
		pq_buf_addc(&big, 'k');
	pq_buf_adds(&big, "\x1b[31m\n");
	{
		char *t = parsed(pq_buf_str(&big), &conf);

		CHECK(t && strlen(t) <= 200 && !strchr(t, '\x1b'));
		free(t);
	}
	pq_buf_free(&big);
}

/* ---- the scan on a real database ---- */

#define QUEUES                    \
	"[queue \"rust-next\"]\n" \
	"\tbranch = rust-next\n"  \
	"[rule \"next\"]\n"       \
	"\tqueue = rust-next\n"   \
	"\ttag = rust-next\n"
#define NET "[elsewhere \"net\"]\n\tfrom = kuba@kernel.org\n"
#define KBUILD(tree)                                        \
	"[elsewhere \"kbuild\"]\n"                          \
	"\tfrom = nathan@kernel.org masahiroy@kernel.org\n" \
	"\ttree = " tree "\n"

static struct fx_world w;
static struct fx_mail mail_a, mail_b;
static char *msgid_a, *msgid_b;
static long long series_a, series_b;

/* A configuration of w's [patchq] with extra, loaded (NULL on failure, said). */
static struct pq_config *conf(const char *extra)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_config *c = NULL;
	char *path = fx_path("alt.conf");

	pq_buf_addf(&b,
		    "[patchq]\n\tdatabase = el.db\n\trepository = el.git\n"
		    "\tcommitter = Test Maint <maint@example.org>\n"
		    "\tcommitterDate = fixed:1795000000\n%s",
		    extra);
	fx_write(path, b.ptr);
	if (pq_config_load(&c, path) < 0)
		fprintf(stderr, "config: %s\n", pq_error_last());
	free(path);
	pq_buf_free(&b);
	return c;
}

/* Two one-patch series for rust-next, on files of their own. */
static int make_mail(void)
{
	int rc = fx_topic("a", "base");

	fx_src_write("rust/kernel/str.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! String helpers.\n\n"
					   "pub fn len(s: &str) -> usize {\n    s.len()\n}\n"
					   "// counts bytes\n");
	rc |= fx_commit("rust: str: say what len counts", NULL, NULL);
	rc |= fx_format_patch(&mail_a, NULL, "--subject-prefix='PATCH rust-next' -1 a");
	rc |= fx_topic("b", "base");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing.\n\n"
					     "pub fn pr_info(s: &str) {\n    let _ = s;\n}\n"
					     "// at info level\n");
	rc |= fx_commit("rust: print: say the level", NULL, NULL);
	rc |= fx_format_patch(&mail_b, NULL, "--subject-prefix='PATCH rust-next' -1 b");
	return rc;
}

static int reply(const char *who, const char *msgid, const char *to, const char *body)
{
	char *raw = fx_reply_mail(who, msgid, to, "[PATCH rust-next] x", body);
	int rc = fx_ingest(w.s, raw);

	free(raw);
	return rc;
}

/* Where series id went: "TREE by ADDR", "" when it was not taken (malloc'd). */
static char *taken(long long id)
{
	struct pq_elsewhere_taken t;
	struct pq_buf b = PQ_BUF_INIT;
	int rc = pq_elsewhere_find(w.s, id, &t);

	CHECK(rc >= 0);
	if (rc > 0)
		pq_buf_addf(&b, "%s by %s", t.tree, t.by);
	pq_elsewhere_taken_free(&t);
	pq_buf_adds(&b, "");
	return pq_buf_detach(&b);
}

#define CHECK_TAKEN(id, want)         \
	do {                          \
		char *t_ = taken(id); \
		CHECK_STR(t_, want);  \
		free(t_);             \
	} while (0)

static long long mark_seen(void)
{
	return fx_num(w.s, "SELECT seen FROM elsewhere_mark WHERE id = 1", 0, NULL);
}

static int is_triaged(long long id)
{
	return fx_num(w.s, "SELECT triaged IS NOT NULL FROM series WHERE id = ?", id, NULL) == 1;
}

/* Scans with c into counts and report; 0 or the scan's failure. */
static int scan(const struct pq_config *c, struct pq_elsewhere_counts *k, struct pq_buf *report)
{
	pq_buf_reset(report);
	return pq_elsewhere_scan(w.s, c, report, k);
}

static void test_fingerprint(void)
{
	struct pq_config *a = conf(QUEUES NET KBUILD("linux-kbuild"));
	struct pq_config *b = conf(KBUILD("linux-kbuild") NET QUEUES);
	struct pq_config *c = conf(QUEUES NET KBUILD("kbuild-next"));
	struct pq_config *d = conf(QUEUES NET);
	char *fa = pq_elsewhere_fingerprint(a), *fb = pq_elsewhere_fingerprint(b);
	char *fc = pq_elsewhere_fingerprint(c), *fd = pq_elsewhere_fingerprint(d);

	CHECK(a && b && c && d);
	CHECK_INT(strlen(fa), 64);
	CHECK_STR(fa, fb); /* the order of sections does not matter */
	CHECK(strcmp(fa, fc) != 0 && strcmp(fa, fd) != 0 && strcmp(fc, fd) != 0);
	free(fa);
	free(fb);
	free(fc);
	free(fd);
	pq_config_free(a);
	pq_config_free(b);
	pq_config_free(c);
	pq_config_free(d);
}

/*
 * (a) replies read under a configuration without kbuild, kbuild added:
 * the next scan finds them; (d) unchanged, nothing is read again.
 */
static void test_section_added(struct pq_config *net, struct pq_config *kbuild)
{
	struct pq_elsewhere_counts k;
	struct pq_buf r = PQ_BUF_INIT;
	long long seen;

	CHECK_INT(scan(net, &k, &r), 0);
	CHECK_INT(k.read, 3);
	CHECK_INT(k.added, 0);
	CHECK_INT(k.rescan, 0); /* the first scan: nothing to read again */
	seen = mark_seen();
	CHECK(seen > 0);
	CHECK_TAKEN(series_a, "");
	CHECK_INT(scan(net, &k, &r), 0);
	CHECK_INT(k.read, 0);

	CHECK_INT(scan(kbuild, &k, &r), 0);
	CHECK_INT(k.rescan, 1);
	CHECK_INT(k.read, 3);
	CHECK_INT(k.added, 2);
	CHECK(strstr(pq_buf_str(&r), "reading them again from the first") != NULL);
	CHECK(strstr(pq_buf_str(&r),
		     "reply <ra@kernel.org>: nathan@kernel.org says it was applied to "
		     "linux-kbuild\n") != NULL);
	CHECK_TAKEN(series_a, "linux-kbuild by nathan@kernel.org");
	/* b4's bare "Applied, thanks!": the section's tree */
	CHECK_TAKEN(series_b, "linux-kbuild by masahiroy@kernel.org");
	CHECK_INT(mark_seen(), seen);

	/* (d) the same configuration: nothing old is read again */
	CHECK_INT(scan(kbuild, &k, &r), 0);
	CHECK_INT(k.rescan, 0);
	CHECK_INT(k.read, 0);
	CHECK_INT(k.added + k.changed + k.removed, 0);
	CHECK_STR(pq_buf_str(&r), "");
	CHECK_INT(mark_seen(), seen);
	pq_buf_free(&r);
}

/* (c) the section's tree renamed: the bare reply's mark moves, the named one stays. */
static void test_tree_renamed(struct pq_config *renamed)
{
	struct pq_elsewhere_counts k;
	struct pq_buf r = PQ_BUF_INIT;

	CHECK_INT(scan(renamed, &k, &r), 0);
	CHECK_INT(k.rescan, 1);
	CHECK_INT(k.changed, 1);
	CHECK_INT(k.added + k.removed, 0);
	CHECK(strstr(pq_buf_str(&r),
		     "reply <rb@kernel.org>: masahiroy@kernel.org: applied to kbuild-next, "
		     "no longer linux-kbuild") != NULL);
	CHECK_TAKEN(series_b, "kbuild-next by masahiroy@kernel.org");
	CHECK_TAKEN(series_a, "linux-kbuild by nathan@kernel.org");
	/* still taken: triage has nothing new to decide */
	CHECK(is_triaged(series_a) && is_triaged(series_b));
	pq_buf_free(&r);
}

/* (b) the section removed: the marks go, and triage decides on the series again. */
static void test_section_removed(struct pq_config *net)
{
	struct pq_elsewhere_counts k;
	struct pq_buf r = PQ_BUF_INIT, want = PQ_BUF_INIT;

	CHECK_INT(scan(net, &k, &r), 0);
	CHECK_INT(k.rescan, 1);
	CHECK_INT(k.removed, 2);
	CHECK_INT(k.added + k.changed, 0);
	pq_buf_addf(&want,
		    "series %lld: reply <ra@kernel.org> (nathan@kernel.org, linux-kbuild) no "
		    "longer counts ([elsewhere] changed): triage looks at it again\n",
		    series_a);
	CHECK(strstr(pq_buf_str(&r), want.ptr) != NULL);
	CHECK_TAKEN(series_a, "");
	CHECK_TAKEN(series_b, "");
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM elsewhere_reply", 0, NULL), 0);
	CHECK(!is_triaged(series_a) && !is_triaged(series_b));
	/* the next pass queues them as their rule says */
	pq_buf_reset(&r);
	CHECK_INT(pq_triage_run(w.s, net, w.repo, &r), 0);
	pq_buf_reset(&want);
	pq_buf_addf(&want, "series %lld: queued for rust-next (rule next)", series_a);
	CHECK(strstr(pq_buf_str(&r), want.ptr) != NULL);
	CHECK(is_triaged(series_a) && is_triaged(series_b));
	pq_buf_free(&r);
	pq_buf_free(&want);
}

/* Without any [elsewhere]: the marks go once, then nothing is read at all. */
static void test_no_section(struct pq_config *kbuild, struct pq_config *none)
{
	struct pq_elsewhere_counts k;
	struct pq_buf r = PQ_BUF_INIT;

	CHECK_INT(scan(kbuild, &k, &r), 0);
	CHECK_INT(k.added, 2);
	CHECK_INT(scan(none, &k, &r), 0);
	CHECK_INT(k.removed, 2);
	CHECK_TAKEN(series_a, "");
	CHECK_INT(scan(none, &k, &r), 0);
	CHECK_INT(k.batches, 0);
	CHECK_INT(k.read, 0);
	pq_buf_free(&r);
}

/* A queue of ours named like the tree: "Applied to linux-kbuild" is ours, the bare one not. */
static void test_queue_named_like_it(struct pq_config *kbuild, struct pq_config *ours)
{
	struct pq_elsewhere_counts k;
	struct pq_buf r = PQ_BUF_INIT;

	CHECK_INT(scan(kbuild, &k, &r), 0);
	CHECK_TAKEN(series_a, "linux-kbuild by nathan@kernel.org");
	CHECK_INT(scan(ours, &k, &r), 0);
	CHECK_INT(k.rescan, 1);
	CHECK_INT(k.removed, 1);
	CHECK_TAKEN(series_a, "");
	CHECK_TAKEN(series_b, "linux-kbuild by masahiroy@kernel.org");
	pq_buf_free(&r);
}

static void scan_in_child(struct fx_world *wd, void *c)
{
	pq_elsewhere_scan(wd->s, c, NULL, NULL);
}

/*
 * Many replies: read PQ_ELSEWHERE_BATCH per transaction; a rescan killed
 * after its first batch goes on from there, not from the first reply.
 */
static void test_batches(struct pq_config *kbuild, struct pq_config *renamed)
{
	const size_t many = 2 * PQ_ELSEWHERE_BATCH + 10;
	struct pq_elsewhere_counts k;
	struct pq_buf r = PQ_BUF_INIT, id = PQ_BUF_INIT;
	struct pq_ingest *ig;
	long long total, first;
	size_t i;

	CHECK_INT(scan(kbuild, &k, &r), 0); /* up to date: only the new replies are read */
	CHECK_INT(pq_ingest_new(&ig, w.s, "test", 0, NULL), 0);
	for (i = 0; i < many; i++) {
		char *raw;

		pq_buf_reset(&id);
		pq_buf_addf(&id, "many-%zu@example.org", i);
		raw = fx_reply_mail(i % 2 ? "Random <random@example.org>"
					  : "Nathan <nathan@kernel.org>",
				    id.ptr, msgid_a, "[PATCH rust-next] x",
				    i % 2 ? "Applied to linux-kbuild, thanks!\n" : "Looks good.\n");
		CHECK_INT(pq_ingest_message(ig, raw, strlen(raw), NULL), 0);
		free(raw);
	}
	CHECK_INT(pq_ingest_free(ig), 0);
	total = fx_num(w.s, "SELECT count(*) FROM message WHERE kind = 'reply'", 0, NULL);
	CHECK_INT(total, (long long)many + 3);
	CHECK_INT(scan(kbuild, &k, &r), 0);
	CHECK_INT(k.rescan, 0);
	CHECK_INT(k.read, many);
	CHECK_INT(k.batches, 3);

	/* the tree renamed, the rescan killed after its first batch */
	CHECK(fx_killed_at(&w, "elsewhere", scan_in_child, renamed));
	first = fx_num(w.s,
		       "SELECT id FROM message WHERE kind = 'reply' ORDER BY id LIMIT 1 OFFSET ?",
		       PQ_ELSEWHERE_BATCH - 1, NULL);
	CHECK_INT(mark_seen(), first);
	CHECK_TAKEN(series_b, "kbuild-next by masahiroy@kernel.org"); /* in the first batch */
	CHECK_INT(scan(renamed, &k, &r), 0);
	CHECK_INT(k.rescan, 0);
	CHECK_INT(k.read, total - PQ_ELSEWHERE_BATCH);
	CHECK_INT(k.changed + k.added + k.removed, 0);
	CHECK_TAKEN(series_b, "kbuild-next by masahiroy@kernel.org");
	CHECK_TAKEN(series_a, "linux-kbuild by nathan@kernel.org");
	pq_buf_free(&r);
	pq_buf_free(&id);
}

static void test_rescan(void)
{
	struct pq_config *net = conf(QUEUES NET);
	struct pq_config *kbuild = conf(QUEUES NET KBUILD("linux-kbuild"));
	struct pq_config *renamed = conf(QUEUES NET KBUILD("kbuild-next"));
	struct pq_config *none = conf(QUEUES);
	struct pq_config *ours =
		conf(QUEUES "[queue \"kb\"]\n\tbranch = linux-kbuild\n" NET KBUILD("linux-kbuild"));
	int ready = net && kbuild && renamed && none && ours && fx_src_init() == 0 &&
		    make_mail() == 0 && fx_world_open(&w, "el", QUEUES NET) == 0;

	CHECK(ready);
	if (ready) {
		msgid_a = fx_msgid(mail_a.v[0]);
		msgid_b = fx_msgid(mail_b.v[0]);
		CHECK_INT(fx_ingest_mail(w.s, &mail_a, -1), 0);
		CHECK_INT(fx_ingest_mail(w.s, &mail_b, -1), 0);
		series_a = fx_series_of(w.s, msgid_a);
		series_b = fx_series_of(w.s, msgid_b);
		CHECK(series_a > 0 && series_b > 0 && series_a != series_b);
		CHECK_INT(reply("Nathan <nathan@kernel.org>", "ra@kernel.org", msgid_a,
				"Applied to linux-kbuild, thanks!\n"),
			  0);
		CHECK_INT(reply("Masahiro <masahiroy@kernel.org>", "rb@kernel.org", msgid_b,
				"Applied, thanks!\n"),
			  0);
		CHECK_INT(reply("Random <random@example.org>", "rr@example.org", msgid_b,
				"Applied to linux-kbuild, thanks!\n"),
			  0);
		test_section_added(net, kbuild);
		/* triage leaves them to that tree */
		{
			struct pq_buf r = PQ_BUF_INIT;

			CHECK_INT(pq_triage_run(w.s, kbuild, w.repo, &r), 0);
			CHECK(strstr(pq_buf_str(&r), "left to that tree") != NULL);
			CHECK(is_triaged(series_a));
			pq_buf_free(&r);
		}
		test_tree_renamed(renamed);
		test_section_removed(net);
		test_no_section(kbuild, none);
		test_queue_named_like_it(kbuild, ours);
		test_batches(kbuild, renamed);
	}
	free(msgid_a);
	free(msgid_b);
	fx_mail_free(&mail_a);
	fx_mail_free(&mail_b);
	if (w.s)
		fx_world_close(&w);
	pq_config_free(net);
	pq_config_free(kbuild);
	pq_config_free(renamed);
	pq_config_free(none);
	pq_config_free(ours);
}

int main(void)
{
	test_parse();
	if (fx_init("elsewhere") < 0)
		return 1;
	test_fingerprint();
	test_rescan();
	fx_cleanup();
	CHECK_DONE();
}
