/*
 * test_series: mail through pq_ingest into series, read back with
 * pq_series_list/pq_series_load. The mail is written here, by hand or by
 * `git format-patch` in a temporary repository the test builds; the store
 * is ":memory:" unless a test needs a second connection.
 */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "am.h"
#include "buf.h"
#include "check.h"
#include "config.h"
#include "error.h"
#include "ingest.h"
#include "mbox.h"
#include "series.h"
#include "store.h"

/* ---- a store with an ingest on it ---- */

struct env {
	struct pq_store *store;
	struct pq_ingest *ig;
};

static int env_open(struct env *e, const char *path, size_t batch)
{
	memset(e, 0, sizeof(*e));
	if (pq_store_open(&e->store, path) < 0) {
		fprintf(stderr, "store: %s\n", pq_error_last());
		return -1;
	}
	return pq_ingest_new(&e->ig, e->store, "test", batch, NULL);
}

static void env_close(struct env *e)
{
	CHECK_INT(pq_ingest_free(e->ig), 0);
	pq_store_close(e->store);
	memset(e, 0, sizeof(*e));
}

static void feed_at(struct env *e, const char *raw, int line)
{
	int ret = pq_ingest_message(e->ig, raw, strlen(raw), NULL);

	check_count++;
	if (ret) {
		fprintf(stderr, "%s:%d: pq_ingest_message = %d: %s\n", __FILE__, line, ret,
			pq_error_last());
		check_failures++;
	}
}

#define FEED(e, raw) feed_at(e, raw, __LINE__)

static long long count_rows(struct pq_store *s, sqlite3_stmt *st)
{
	long long n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

static long long count_messages(struct pq_store *s)
{
	return count_rows(s, pq_store_stmt(s, "SELECT count(*) FROM message"));
}

static size_t count_series(struct pq_store *s)
{
	long long *ids = NULL;
	size_t n = 0;

	CHECK_INT(pq_series_list(s, &ids, &n), 0);
	free(ids);
	return n;
}

/* The i-th series in creation order, or NULL. */
static struct pq_series *nth_series(struct pq_store *s, size_t i)
{
	struct pq_series *se = NULL;
	long long *ids = NULL;
	size_t n = 0;

	CHECK_INT(pq_series_list(s, &ids, &n), 0);
	if (i < n)
		CHECK_INT(pq_series_load(s, ids[i], &se), 0);
	free(ids);
	return se;
}

static const struct pq_series_patch *patch_at(const struct pq_series *se, int index)
{
	size_t i;

	for (i = 0; se && i < se->npatches; i++)
		if (se->patches[i].index == index)
			return &se->patches[i];
	return NULL;
}

static int has_trailer(const struct pq_trailers *t, const char *name, const char *value)
{
	return pq_trailers_contains(t, name, value);
}

/* Everything a series says, as one string, to compare two imports. */
static void describe(struct pq_buf *out, struct pq_store *s)
{
	long long *ids = NULL;
	size_t n = 0, i, j, k;

	pq_buf_reset(out);
	CHECK_INT(pq_series_list(s, &ids, &n), 0);
	for (i = 0; i < n; i++) {
		struct pq_series *se = NULL;

		if (pq_series_load(s, ids[i], &se) < 0)
			continue;
		pq_buf_addf(out, "[%s v%d %d/%d%s sup=%lld by=%lld cover=%s state=%s]\n",
			    se->name ? se->name : "(null)", se->version, se->received, se->total,
			    se->complete ? " complete" : "", se->supersedes, se->superseded_by,
			    se->cover_msgid ? se->cover_msgid : "-", se->state);
		for (j = 0; j < se->npatches; j++) {
			const struct pq_series_patch *p = &se->patches[j];

			pq_buf_addf(out, "  %d %s", p->index, p->msgid);
			for (k = 0; k < p->collected.n; k++)
				pq_buf_addf(out, " +%s:%s", p->collected.v[k].name,
					    p->collected.v[k].value);
			for (k = 0; k < p->mismatched.n; k++)
				pq_buf_addf(out, " ?%s:%s", p->mismatched.v[k].name,
					    p->mismatched.v[k].value);
			pq_buf_addc(out, '\n');
		}
		pq_series_free(se);
	}
	free(ids);
}

/* ---- hand-written mail ---- */

struct mail {
	const char *msgid; /* without brackets; NULL: no Message-ID */
	const char *from;
	const char *subject;
	const char *date;
	const char *irt;   /* In-Reply-To, without brackets */
	const char *refs;  /* References as written */
	const char *extra; /* more header lines, each ending in "\n" */
	const char *body;
};

static char *mail_text(const struct mail *m)
{
	struct pq_buf b = PQ_BUF_INIT;

	if (m->extra)
		pq_buf_adds(&b, m->extra);
	if (m->msgid)
		pq_buf_addf(&b, "Message-ID: <%s>\n", m->msgid);
	pq_buf_addf(&b, "From: %s\n", m->from ? m->from : "Ann Author <ann@example.org>");
	pq_buf_addf(&b, "Date: %s\n", m->date ? m->date : "Fri, 1 Mar 2024 10:00:00 +0000");
	pq_buf_addf(&b, "Subject: %s\n", m->subject);
	if (m->irt)
		pq_buf_addf(&b, "In-Reply-To: <%s>\n", m->irt);
	if (m->refs)
		pq_buf_addf(&b, "References: %s\n", m->refs);
	pq_buf_adds(&b, "To: rust-for-linux@vger.kernel.org\nMIME-Version: 1.0\n"
			"Content-Type: text/plain; charset=utf-8\n\n");
	pq_buf_adds(&b, m->body ? m->body : "no body\n");
	return pq_buf_detach(&b);
}

static void feed_mail_at(struct env *e, const struct mail *m, int line)
{
	char *raw = mail_text(m);

	feed_at(e, raw, line);
	free(raw);
}

#define FEED_MAIL(e, ...)                               \
	do {                                            \
		const struct mail m_ = { __VA_ARGS__ }; \
		feed_mail_at(e, &m_, __LINE__);         \
	} while (0)

/* A patch body that differs for every tag. */
static char *patch_body(const char *tag)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b,
		    "Change %s.\n\nSigned-off-by: Ann Author <ann@example.org>\n---\n"
		    " %s.c | 1 +\n 1 file changed, 1 insertion(+)\n\n"
		    "diff --git a/%s.c b/%s.c\nindex 1111111..2222222 100644\n"
		    "--- a/%s.c\n+++ b/%s.c\n@@ -1 +1,2 @@\n int x;\n+int %s;\n-- \n2.43.0\n",
		    tag, tag, tag, tag, tag, tag, tag);
	return pq_buf_detach(&b);
}

static const char cover_body[] = "This series does the thing.\n\nAnn Author (2):\n"
				 "  rust: first part\n  rust: second part\n\n-- \n2.43.0\n";

/* Series A: cover a0 and patches a1, a2 threaded to the cover (shallow). */
enum { A_COVER, A_P1, A_P2 };

static void feed_series_a(struct env *e, const int *order, size_t n)
{
	char *b1 = patch_body("first"), *b2 = patch_body("second");
	size_t i;

	for (i = 0; i < n; i++) {
		switch (order[i]) {
		case A_COVER:
			FEED_MAIL(e, .msgid = "a0@example.org",
				  .subject = "[PATCH 0/2] rust: add the thing", .body = cover_body);
			break;
		case A_P1:
			FEED_MAIL(e, .msgid = "a1@example.org",
				  .subject = "[PATCH 1/2] rust: first part",
				  .irt = "a0@example.org", .refs = "<a0@example.org>", .body = b1,
				  .date = "Fri, 1 Mar 2024 10:00:01 +0000");
			break;
		case A_P2:
			FEED_MAIL(e, .msgid = "a2@example.org",
				  .subject = "[PATCH 2/2] rust: second part",
				  .irt = "a0@example.org", .refs = "<a0@example.org>", .body = b2,
				  .date = "Fri, 1 Mar 2024 10:00:02 +0000");
			break;
		}
	}
	free(b1);
	free(b2);
}

static void check_series_a(struct pq_store *s, int line)
{
	struct pq_series *se;
	int before = check_failures;

	CHECK_INT(count_series(s), 1);
	se = nth_series(s, 0);
	CHECK(se != NULL);
	if (se) {
		CHECK_STR(se->name, "rust: add the thing");
		CHECK_INT(se->total, 2);
		CHECK_INT(se->received, 2);
		CHECK_INT(se->complete, 1);
		CHECK_INT(se->version, 1);
		CHECK_STR(se->cover_msgid, "a0@example.org");
		CHECK_STR(se->submitter, "ann@example.org");
		CHECK_INT(se->npatches, 2);
		CHECK_STR(patch_at(se, 1) ? patch_at(se, 1)->msgid : NULL, "a1@example.org");
		CHECK_STR(patch_at(se, 2) ? patch_at(se, 2)->msgid : NULL, "a2@example.org");
		CHECK_STR(patch_at(se, 1) ? patch_at(se, 1)->name : NULL, "rust: first part");
	}
	pq_series_free(se);
	if (check_failures != before)
		fprintf(stderr, "  (series A checked from line %d)\n", line);
}

static void test_cover_and_two_patches_one_complete_series(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	CHECK_INT(pq_ingest_flush(e.ig), 0);
	check_series_a(e.store, __LINE__);
	CHECK_INT(pq_ingest_stats(e.ig)->stored, 3);
	CHECK_INT(pq_ingest_stats(e.ig)->read, 3);
	env_close(&e);
}

static void test_any_arrival_order_same_series(void)
{
	static const int orders[][3] = {
		{ A_P2, A_P1, A_COVER }, { A_P1, A_COVER, A_P2 }, { A_P2, A_COVER, A_P1 },
		{ A_COVER, A_P2, A_P1 }, { A_P1, A_P2, A_COVER },
	};
	size_t i;

	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		struct env e;

		if (env_open(&e, ":memory:", 0) < 0)
			return;
		feed_series_a(&e, orders[i], 3);
		check_series_a(e.store, __LINE__);
		env_close(&e);
	}
}

static void test_missing_patch_incomplete(void)
{
	static const int order[] = { A_COVER, A_P2 };
	struct pq_series *se;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 2);
	CHECK_INT(count_series(e.store), 1);
	se = nth_series(e.store, 0);
	if (se) {
		CHECK_INT(se->complete, 0);
		CHECK_INT(se->received, 1);
		CHECK_INT(se->total, 2);
		CHECK_STR(se->name, "rust: add the thing");
	}
	pq_series_free(se);
	env_close(&e);

	/* no cover, no patch 1: the series has no name yet */
	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order + 1, 1);
	se = nth_series(e.store, 0);
	if (se) {
		CHECK(se->name == NULL);
		CHECK_INT(se->complete, 0);
	}
	pq_series_free(se);
	env_close(&e);
}

static void test_unthreaded_same_sender_one_series(void)
{
	char *b[3] = { patch_body("u1"), patch_body("u2"), patch_body("u3") };
	struct pq_series *se;
	struct env e;
	int i;

	if (env_open(&e, ":memory:", 0) < 0)
		goto out;
	FEED_MAIL(&e, .msgid = "u3@x", .subject = "[PATCH 3/3] rust: part three", .body = b[2],
		  .date = "Fri, 1 Mar 2024 10:04:00 +0000");
	FEED_MAIL(&e, .msgid = "u1@x", .subject = "[PATCH 1/3] rust: part one", .body = b[0],
		  .date = "Fri, 1 Mar 2024 10:00:00 +0000");
	FEED_MAIL(&e, .msgid = "u2@x", .subject = "[PATCH 2/3] rust: part two", .body = b[1],
		  .date = "Fri, 1 Mar 2024 10:02:00 +0000");
	CHECK_INT(count_series(e.store), 1);
	se = nth_series(e.store, 0);
	if (se) {
		CHECK_INT(se->complete, 1);
		CHECK_INT(se->npatches, 3);
		CHECK_STR(se->name, "rust: part one");
	}
	pq_series_free(se);
	env_close(&e);

	/* the same three from two people at the same time: two series */
	if (env_open(&e, ":memory:", 0) < 0)
		goto out;
	for (i = 0; i < 3; i++) {
		char subj[64], id_a[32], id_b[32];

		snprintf(subj, sizeof(subj), "[PATCH %d/3] rust: part %d", i + 1, i + 1);
		snprintf(id_a, sizeof(id_a), "ua%d@x", i);
		snprintf(id_b, sizeof(id_b), "ub%d@x", i);
		FEED_MAIL(&e, .msgid = id_a, .subject = subj, .body = b[i]);
		FEED_MAIL(&e, .msgid = id_b, .subject = subj, .body = b[i],
			  .from = "Bob Other <bob@example.org>");
	}
	CHECK_INT(count_series(e.store), 2);
	for (i = 0; i < 2; i++) {
		se = nth_series(e.store, (size_t)i);
		if (se) {
			CHECK_INT(se->complete, 1);
			CHECK_INT(se->npatches, 3);
		}
		pq_series_free(se);
	}
	env_close(&e);

	/* a day apart: two postings, not one */
	if (env_open(&e, ":memory:", 0) < 0)
		goto out;
	FEED_MAIL(&e, .msgid = "d1@x", .subject = "[PATCH 1/2] rust: part one", .body = b[0],
		  .date = "Fri, 1 Mar 2024 10:00:00 +0000");
	FEED_MAIL(&e, .msgid = "d2@x", .subject = "[PATCH 1/2] rust: part one", .body = b[1],
		  .date = "Sat, 2 Mar 2024 10:00:00 +0000");
	CHECK_INT(count_series(e.store), 2);
	env_close(&e);
out:
	for (i = 0; i < 3; i++)
		free(b[i]);
}

/* Version 2 of series A: cover b0, patches b1, b2; in_reply_to: its cover's parent. */
static void feed_series_b(struct env *e, const char *name, const char *cover_parent,
			  const char *prefix)
{
	char *b1 = patch_body("first-v2"), *b2 = patch_body("second-v2");
	char subj[128], refs[128];

	snprintf(subj, sizeof(subj), "[%s 0/2] %s", prefix, name);
	if (cover_parent)
		snprintf(refs, sizeof(refs), "<%s>", cover_parent);
	FEED_MAIL(e, .msgid = "b0@example.org", .subject = subj, .body = cover_body,
		  .irt = cover_parent, .refs = cover_parent ? refs : NULL,
		  .date = "Mon, 4 Mar 2024 10:00:00 +0000");
	if (cover_parent)
		snprintf(refs, sizeof(refs), "<%s> <b0@example.org>", cover_parent);
	else
		snprintf(refs, sizeof(refs), "<b0@example.org>");
	snprintf(subj, sizeof(subj), "[%s 1/2] rust: first part", prefix);
	FEED_MAIL(e, .msgid = "b1@example.org", .subject = subj, .body = b1,
		  .irt = "b0@example.org", .refs = refs, .date = "Mon, 4 Mar 2024 10:00:01 +0000");
	snprintf(subj, sizeof(subj), "[%s 2/2] rust: second part", prefix);
	FEED_MAIL(e, .msgid = "b2@example.org", .subject = subj, .body = b2,
		  .irt = "b0@example.org", .refs = refs, .date = "Mon, 4 Mar 2024 10:00:02 +0000");
	free(b1);
	free(b2);
}

static void check_supersedes(struct pq_store *s, int version, int line)
{
	struct pq_series *v1 = nth_series(s, 0), *v2 = nth_series(s, 1);
	int before = check_failures;

	CHECK_INT(count_series(s), 2);
	CHECK(v1 && v2);
	if (v1 && v2) {
		CHECK_INT(v1->version, 1);
		CHECK_INT(v2->version, version);
		CHECK_INT(v2->complete, 1);
		CHECK_INT(v2->npatches, 2);
		CHECK_STR(v2->cover_msgid, "b0@example.org");
		CHECK_INT(v2->supersedes, v1->id);
		CHECK_INT(v1->superseded_by, v2->id);
		CHECK_INT(v1->supersedes, 0);
		CHECK_STR(v1->state, "superseded");
	}
	pq_series_free(v1);
	pq_series_free(v2);
	if (check_failures != before)
		fprintf(stderr, "  (supersession checked from line %d)\n", line);
}

static void test_v2_unthreaded_supersedes_v1(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	feed_series_b(&e, "rust: add the thing", NULL, "PATCH v2");
	check_supersedes(e.store, 2, __LINE__);
	env_close(&e);
}

static void test_v2_in_reply_to_v1_cover_supersedes_v1(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	/* renamed, so only the threading can tell */
	feed_series_b(&e, "rust: add the renamed thing", "a0@example.org", "PATCH v2");
	check_supersedes(e.store, 2, __LINE__);
	env_close(&e);
}

static void test_resend_supersedes_original(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	feed_series_b(&e, "rust: add the thing", NULL, "PATCH RESEND");
	check_supersedes(e.store, 1, __LINE__);
	env_close(&e);
}

static void test_redelivery_no_extra_message_or_series(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	char *p1 = patch_body("first");
	char *raw, *again;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		goto out;
	feed_series_a(&e, order, 3);
	CHECK_INT(count_messages(e.store), 3);

	/* identical bytes */
	feed_series_a(&e, order + 1, 1);
	CHECK_INT(pq_ingest_stats(e.ig)->same_bytes, 1);
	CHECK_INT(count_messages(e.store), 3);

	/* the same mail through another relay */
	{
		const struct mail m = { .msgid = "a1@example.org",
					.subject = "[PATCH 1/2] rust: first part",
					.irt = "a0@example.org",
					.refs = "<a0@example.org>",
					.body = p1,
					.date = "Fri, 1 Mar 2024 10:00:01 +0000",
					.extra = "Received: from relay2 by mx; Fri, 1 Mar 2024\n"
						 " 10:00:09 +0000\n" };

		raw = mail_text(&m);
		FEED(&e, raw);
	}
	CHECK_INT(pq_ingest_stats(e.ig)->redelivered, 1);
	CHECK_INT(pq_ingest_stats(e.ig)->stored, 3);
	CHECK_INT(count_messages(e.store), 3);
	CHECK_INT(count_series(e.store), 1);
	/* and that delivery's bytes, once more: byte-identical now */
	FEED(&e, raw);
	CHECK_INT(pq_ingest_stats(e.ig)->same_bytes, 2);
	check_series_a(e.store, __LINE__);

	/* the Message-ID reused for something else: kept as its own message */
	{
		const struct mail m = { .msgid = "a1@example.org",
					.subject = "Re: [PATCH 1/2] rust: first part",
					.from = "Mallory <m@example.org>",
					.body = "Not the same mail at all.\n" };

		again = mail_text(&m);
		FEED(&e, again);
	}
	CHECK_INT(pq_ingest_stats(e.ig)->reused_id, 1);
	CHECK_INT(count_messages(e.store), 4);
	check_series_a(e.store, __LINE__);
	free(raw);
	free(again);
	env_close(&e);
out:
	free(p1);
}

static void test_unparsable_mail_stored(void)
{
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	FEED(&e, "\nno header at all\n");
	CHECK_INT(pq_ingest_stats(e.ig)->unparsable, 1);
	CHECK_INT(pq_ingest_stats(e.ig)->stored, 1);
	CHECK_INT(count_messages(e.store), 1);
	CHECK_INT(count_series(e.store), 0);
	env_close(&e);
}

/*
 * A mail past a bound is stored raw as unparsable. The same mail arriving
 * again through another relay (a different Received: line) is a
 * re-delivery, not a second message under a reused Message-ID.
 */
static void test_unparsable_redelivery_not_reused_id(void)
{
	struct pq_mail_limits lim = pq_mail_default_limits;
	static const char deep[] = "Message-ID: <deep@x>\nSubject: deep\nMIME-Version: 1.0\n"
				   "Content-Type: multipart/mixed; boundary=a\n\n"
				   "--a\nContent-Type: multipart/mixed; boundary=b\n\n"
				   "--b\nContent-Type: multipart/mixed; boundary=c\n\n"
				   "--c\nContent-Type: text/plain\n\ndeep\n--c--\n--b--\n--a--\n";
	struct pq_buf relayed = PQ_BUF_INIT;
	struct pq_store *s = NULL;
	struct pq_ingest *ig = NULL;

	lim.max_depth = 2;
	if (pq_store_open(&s, ":memory:") < 0)
		return;
	CHECK_INT(pq_ingest_new(&ig, s, "test", 0, &lim), 0);
	CHECK_INT(pq_ingest_message(ig, deep, strlen(deep), NULL), 0);
	CHECK_INT(pq_ingest_stats(ig)->unparsable, 1);
	pq_buf_addf(&relayed, "Received: from relay2 by mx; Fri, 1 Mar 2024 10:00:09 +0000\n%s",
		    deep);
	CHECK_INT(pq_ingest_message(ig, relayed.ptr, relayed.len, NULL), 0);
	CHECK_INT(pq_ingest_stats(ig)->reused_id, 0);
	CHECK_INT(pq_ingest_stats(ig)->redelivered, 1);
	CHECK_INT(count_messages(s), 1);
	CHECK_INT(pq_ingest_free(ig), 0);
	pq_store_close(s);
	pq_buf_free(&relayed);
}

/* ---- trailers from replies ---- */

static void test_reply_to_cover_collected_on_every_patch(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	struct pq_series *se;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	FEED_MAIL(&e, .msgid = "r0@x", .from = "Rita Reviewer <rita@example.org>",
		  .subject = "Re: [PATCH 0/2] rust: add the thing", .irt = "a0@example.org",
		  .refs = "<a0@example.org>",
		  .body = "On Fri, Ann wrote:\n> This series does the thing.\n\n"
			  "For the series:\n\nReviewed-by: Rita Reviewer <rita@example.org>\n");
	se = nth_series(e.store, 0);
	if (se) {
		size_t i;

		CHECK_INT(se->nreplies, 1);
		CHECK_INT(se->nreplies ? se->replies[0].target : -1, 0);
		for (i = 0; i < se->npatches; i++) {
			CHECK_INT(se->patches[i].collected.n, 1);
			CHECK(has_trailer(&se->patches[i].collected, "Reviewed-by",
					  "Rita Reviewer <rita@example.org>"));
			CHECK_INT(se->patches[i].mismatched.n, 0);
		}
	}
	pq_series_free(se);
	env_close(&e);
}

static void test_reply_to_patch_only_that_patch_quotes_ignored(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	const struct pq_series_patch *p1, *p2;
	struct pq_series *se;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	FEED_MAIL(&e, .msgid = "r2@x", .from = "Al Acker <al@example.org>",
		  .subject = "Re: [PATCH 2/2] rust: second part", .irt = "a2@example.org",
		  .refs = "<a0@example.org> <a2@example.org>",
		  .body = "On Fri, Ann wrote:\n> Acked-by: Quoted Person <q@example.org>\n"
			  "> +int second;\n\nAcked-by: Al Acker <al@example.org>\n");
	se = nth_series(e.store, 0);
	p1 = patch_at(se, 1);
	p2 = patch_at(se, 2);
	CHECK(p1 && p2);
	if (p1 && p2) {
		CHECK_INT(p1->collected.n, 0);
		CHECK_INT(p2->collected.n, 1);
		CHECK(has_trailer(&p2->collected, "Acked-by", "Al Acker <al@example.org>"));
		CHECK(!has_trailer(&p2->collected, "Acked-by", "Quoted Person <q@example.org>"));
		CHECK_INT(p2->mismatched.n, 0);
		CHECK_INT(se->nreplies ? se->replies[0].target : -1, 2);
	}
	pq_series_free(se);
	env_close(&e);
}

static void test_nested_reply_targets_the_patch(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	const struct pq_series_patch *p1;
	struct pq_series *se;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	FEED_MAIL(&e, .msgid = "q1@x", .from = "Rita Reviewer <rita@example.org>",
		  .subject = "Re: [PATCH 1/2] rust: first part", .irt = "a1@example.org",
		  .refs = "<a0@example.org> <a1@example.org>", .body = "Why this way?\n");
	FEED_MAIL(&e, .msgid = "q2@x", .from = "Tom Tester <tom@example.org>",
		  .subject = "Re: [PATCH 1/2] rust: first part", .irt = "q1@x",
		  .refs = "<a0@example.org> <a1@example.org> <q1@x>",
		  .body = "Works here.\n\nTested-by: Tom Tester <tom@example.org>\n");
	se = nth_series(e.store, 0);
	p1 = patch_at(se, 1);
	CHECK(p1 != NULL);
	if (p1) {
		CHECK_INT(p1->collected.n, 1);
		CHECK(has_trailer(&p1->collected, "Tested-by", "Tom Tester <tom@example.org>"));
	}
	CHECK_INT(patch_at(se, 2) ? patch_at(se, 2)->collected.n : 99, 0);
	CHECK_INT(se ? se->nreplies : 0, 2);
	pq_series_free(se);
	env_close(&e);
}

static void test_in_body_from_is_the_author(void)
{
	char *body = patch_body("forwarded"), *full;
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_series *se;
	struct env e;

	pq_buf_addf(&b, "From: Real Author <real@example.org>\n\n%s", body);
	full = pq_buf_detach(&b);
	if (env_open(&e, ":memory:", 0) < 0)
		goto out;
	FEED_MAIL(&e, .msgid = "fw@x", .subject = "[PATCH] rust: forwarded fix", .body = full,
		  .from = "Sam Sender <sam@example.org>");
	se = nth_series(e.store, 0);
	CHECK(se != NULL);
	if (se) {
		CHECK_INT(se->complete, 1);
		CHECK_INT(se->total, 1);
		CHECK_STR(se->submitter, "sam@example.org");
		CHECK_STR(se->npatches ? se->patches[0].author : NULL, "Real Author");
		CHECK_STR(se->npatches ? se->patches[0].email : NULL, "real@example.org");
	}
	pq_series_free(se);
	env_close(&e);
out:
	free(body);
	free(full);
}

static void test_trailer_for_someone_else_mismatched(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	const struct pq_series_patch *p1;
	struct pq_series *se;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	FEED_MAIL(&e, .msgid = "r1@x", .from = "Mel Middle <mel@example.org>",
		  .subject = "Re: [PATCH 1/2] rust: first part", .irt = "a1@example.org",
		  .refs = "<a0@example.org> <a1@example.org>",
		  .body = "Tested on my box by a colleague:\n\n"
			  "Tested-by: Tom Tester <tom@example.org>\n"
			  "Reviewed-by: Mel Middle <MEL@example.org>\n");
	se = nth_series(e.store, 0);
	p1 = patch_at(se, 1);
	CHECK(p1 != NULL);
	if (p1) {
		CHECK_INT(p1->mismatched.n, 1);
		CHECK(has_trailer(&p1->mismatched, "Tested-by", "Tom Tester <tom@example.org>"));
		CHECK_INT(p1->collected.n, 1);
		CHECK(has_trailer(&p1->collected, "Reviewed-by", "Mel Middle <MEL@example.org>"));
	}
	CHECK_INT(patch_at(se, 2) ? patch_at(se, 2)->mismatched.n : 99, 0);
	pq_series_free(se);
	env_close(&e);
}

static void test_reply_before_patch_still_counts(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	const struct pq_series_patch *p2;
	struct pq_series *se;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	FEED_MAIL(&e, .msgid = "early@x", .from = "Al Acker <al@example.org>",
		  .subject = "Re: [PATCH 2/2] rust: second part", .irt = "a2@example.org",
		  .refs = "<a0@example.org> <a2@example.org>",
		  .body = "Acked-by: Al Acker <al@example.org>\n");
	feed_series_a(&e, order, 3);
	se = nth_series(e.store, 0);
	p2 = patch_at(se, 2);
	CHECK(p2 != NULL);
	if (p2) {
		CHECK_INT(p2->collected.n, 1);
		CHECK(has_trailer(&p2->collected, "Acked-by", "Al Acker <al@example.org>"));
	}
	CHECK_INT(patch_at(se, 1) ? patch_at(se, 1)->collected.n : 99, 0);
	pq_series_free(se);
	env_close(&e);
}

/*
 * v2 posted in reply to v1's cover (git format-patch --in-reply-to): a
 * review of a v2 patch references v1's cover too, but it is about v2 and
 * must not be collected on v1's patches.
 */
static void test_review_of_v2_not_collected_on_v1(void)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };
	struct pq_series *v1, *v2;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	feed_series_b(&e, "rust: add the thing", "a0@example.org", "PATCH v2");
	FEED_MAIL(&e, .msgid = "rv2@x", .from = "Rita Reviewer <rita@example.org>",
		  .subject = "Re: [PATCH v2 1/2] rust: first part", .irt = "b1@example.org",
		  .refs = "<a0@example.org> <b0@example.org> <b1@example.org>",
		  .body = "Reviewed-by: Rita Reviewer <rita@example.org>\n");
	v1 = nth_series(e.store, 0);
	v2 = nth_series(e.store, 1);
	CHECK(v1 && v2);
	if (v1 && v2) {
		CHECK_INT(patch_at(v2, 1) ? patch_at(v2, 1)->collected.n : 99, 1);
		CHECK_INT(patch_at(v2, 2) ? patch_at(v2, 2)->collected.n : 99, 0);
		CHECK_INT(patch_at(v1, 1) ? patch_at(v1, 1)->collected.n : 99, 0);
		CHECK_INT(patch_at(v1, 2) ? patch_at(v1, 2)->collected.n : 99, 0);
		CHECK_INT(v1->nreplies, 0);
	}
	pq_series_free(v1);
	pq_series_free(v2);
	env_close(&e);
}

static void test_ingest_twice_same_series(void)
{
	static const int order[] = { A_P2, A_COVER, A_P1 };
	struct pq_buf once = PQ_BUF_INIT, twice = PQ_BUF_INIT;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_a(&e, order, 3);
	feed_series_b(&e, "rust: add the thing", "a0@example.org", "PATCH v2");
	FEED_MAIL(&e, .msgid = "r0@x", .from = "Rita Reviewer <rita@example.org>",
		  .subject = "Re: [PATCH 0/2] rust: add the thing", .irt = "a0@example.org",
		  .refs = "<a0@example.org>",
		  .body = "Reviewed-by: Rita Reviewer <rita@example.org>\n");
	describe(&once, e.store);
	feed_series_a(&e, order, 3);
	feed_series_b(&e, "rust: add the thing", "a0@example.org", "PATCH v2");
	FEED_MAIL(&e, .msgid = "r0@x", .from = "Rita Reviewer <rita@example.org>",
		  .subject = "Re: [PATCH 0/2] rust: add the thing", .irt = "a0@example.org",
		  .refs = "<a0@example.org>",
		  .body = "Reviewed-by: Rita Reviewer <rita@example.org>\n");
	describe(&twice, e.store);
	CHECK_STR(pq_buf_str(&twice), pq_buf_str(&once));
	CHECK_INT(pq_ingest_stats(e.ig)->same_bytes, 7);
	CHECK_INT(count_messages(e.store), 7);
	env_close(&e);
	pq_buf_free(&once);
	pq_buf_free(&twice);
}

/* ---- batches and the cursor ---- */

static char tmp_root[] = "/tmp/pq-test-series-XXXXXX";

static void test_cursor_committed_with_batch(void)
{
	struct pq_buf path = PQ_BUF_INIT;
	struct pq_store *other = NULL;
	char *cursor = NULL;
	struct env e;
	int i;

	pq_buf_addf(&path, "%s/batch.db", tmp_root);
	if (env_open(&e, path.ptr, 10) < 0)
		goto out;
	CHECK_INT(pq_store_open(&other, path.ptr), 0);
	for (i = 1; i <= 5; i++) {
		char raw[128], pos[16];

		snprintf(raw, sizeof(raw), "Message-ID: <c%d@x>\nSubject: note %d\n\nbody %d\n", i,
			 i, i);
		snprintf(pos, sizeof(pos), "mbox:%d", i * 100);
		CHECK_INT(pq_ingest_message(e.ig, raw, strlen(raw), pos), 0);
	}
	/* nothing is visible outside until the batch commits, cursor included */
	CHECK_INT(pq_ingest_cursor(e.store, "test", &cursor), 0);
	CHECK(cursor == NULL);
	free(cursor);
	if (other) {
		CHECK_INT(count_messages(other), 0);
		CHECK_INT(pq_ingest_cursor(other, "test", &cursor), 0);
		CHECK(cursor == NULL);
		free(cursor);
	}
	CHECK_INT(pq_ingest_flush(e.ig), 0);
	CHECK_INT(pq_ingest_cursor(e.store, "test", &cursor), 0);
	CHECK_STR(cursor, "mbox:500");
	free(cursor);
	if (other) {
		CHECK_INT(count_messages(other), 5);
		CHECK_INT(pq_ingest_cursor(other, "test", &cursor), 0);
		CHECK_STR(cursor, "mbox:500");
		free(cursor);
	}
	/* flushing with nothing pending is harmless */
	CHECK_INT(pq_ingest_flush(e.ig), 0);
	env_close(&e);
	pq_store_close(other);

	/* batch of 2: every second message commits */
	if (pq_store_open(&other, ":memory:") < 0)
		goto out;
	{
		struct pq_ingest *ig = NULL;

		CHECK_INT(pq_ingest_new(&ig, other, "small", 2, NULL), 0);
		for (i = 1; i <= 5; i++) {
			char raw[128], pos[16];

			snprintf(raw, sizeof(raw), "Message-ID: <s%d@x>\nSubject: s\n\nbody %d\n",
				 i, i);
			snprintf(pos, sizeof(pos), "mbox:%d", i);
			CHECK_INT(pq_ingest_message(ig, raw, strlen(raw), pos), 0);
		}
		/* read from inside the open transaction: the last committed cursor */
		CHECK_INT(pq_ingest_cursor(other, "small", &cursor), 0);
		CHECK_STR(cursor, "mbox:4");
		free(cursor);
		CHECK_INT(pq_ingest_free(ig), 0);
		CHECK_INT(pq_ingest_cursor(other, "small", &cursor), 0);
		CHECK_STR(cursor, "mbox:5");
		free(cursor);
		CHECK_INT(pq_ingest_cursor(other, "nosuchsource", &cursor), 0);
		CHECK(cursor == NULL);
	}
	pq_store_close(other);
out:
	pq_buf_free(&path);
}

static void test_load_missing_series(void)
{
	struct pq_store *s = NULL;
	struct pq_series *se = (struct pq_series *)1;
	long long *ids = (long long *)1;
	size_t n = 99;

	CHECK_INT(pq_store_open(&s, ":memory:"), 0);
	if (!s)
		return;
	CHECK_INT(pq_series_load(s, 42, &se), PQ_ENOTFOUND);
	CHECK(se == NULL);
	CHECK_INT(pq_series_list(s, &ids, &n), 0);
	CHECK_INT(n, 0);
	free(ids);
	pq_series_free(NULL);
	pq_store_close(s);
}

/* ---- git format-patch ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char repo[4096];

#define V1_DATE "2024-03-01 10:00:00 +0000"
#define V2_DATE "2024-03-04 10:00:00 +0000"

static int git(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int git(const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	va_list ap;
	int rc;

	pq_buf_addf(&cmd,
		    "git -C '%s' -c user.name='J\xc3\xb6rg Doe' -c user.email=jd@example.org ",
		    repo);
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pq_buf_adds(&cmd, " >/dev/null 2>&1");
	rc = system(cmd.ptr);
	pq_buf_free(&cmd);
	return rc;
}

static void write_file(const char *rel, const char *text)
{
	struct pq_buf p = PQ_BUF_INIT;
	FILE *f;

	pq_buf_addf(&p, "%s/%s", repo, rel);
	f = fopen(p.ptr, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	pq_buf_free(&p);
}

/* Output of `git format-patch --stdout ARGS` on date (the cover letter's),
 * with every occurrence of from replaced by to (to give a second run its
 * own Message-IDs). */
static void format_patch(struct pq_buf *out, const char *date, const char *args, const char *from,
			 const char *to)
{
	struct pq_buf cmd = PQ_BUF_INIT, raw = PQ_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *p;

	pq_buf_reset(out);
	pq_buf_addf(&cmd,
		    "GIT_COMMITTER_DATE='%s' git -C '%s' -c user.name='J\xc3\xb6rg Doe'"
		    " -c user.email=jd@example.org format-patch --stdout %s",
		    date, repo, args);
	p = popen(cmd.ptr, "r");
	CHECK(p != NULL);
	if (p) {
		while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
			pq_buf_add(&raw, chunk, n);
		CHECK_INT(pclose(p), 0);
	}
	if (from && raw.len) {
		const char *s = raw.ptr, *hit;

		while ((hit = strstr(s, from))) {
			pq_buf_add(out, s, (size_t)(hit - s));
			pq_buf_adds(out, to);
			s = hit + strlen(from);
		}
		pq_buf_adds(out, s);
	} else {
		pq_buf_add(out, pq_buf_str(&raw), raw.len);
	}
	pq_buf_free(&raw);
	pq_buf_free(&cmd);
}

static int ingest_cb(void *ctx, const char *raw, size_t len, const char *cursor)
{
	return pq_ingest_message(ctx, raw, len, cursor);
}

static void feed_mbox(struct env *e, const struct pq_buf *mbox)
{
	CHECK(mbox->len > 0);
	CHECK_INT(pq_mbox_split(pq_buf_str(mbox), mbox->len, ingest_cb, e->ig), 0);
}

static int make_repo(void)
{
	snprintf(repo, sizeof(repo), "%s/repo", tmp_root);
	if (mkdir(repo, 0700) < 0)
		return -1;
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_AUTHOR_DATE", V1_DATE, 1);
	setenv("GIT_COMMITTER_DATE", V1_DATE, 1);
	if (git("init -q -b main"))
		return -1;
	write_file("lib.rs", "fn a() {}\n");
	if (git("add lib.rs") || git("commit -q -m init") || git("tag base"))
		return -1;
	/* v1: two patches */
	write_file("lib.rs", "fn a() {}\nfn b() {}\n");
	if (git("commit -q -a -m 'rust: add b' -m 'Signed-off-by: J\xc3\xb6rg Doe "
		"<jd@example.org>'"))
		return -1;
	write_file("lib.rs", "fn a() {}\nfn b() {}\nfn c() {}\n");
	if (git("commit -q -a -m 'rust: add c' -m 'Signed-off-by: J\xc3\xb6rg Doe "
		"<jd@example.org>'") ||
	    git("tag v1"))
		return -1;
	/* v2: the same two, reworked */
	setenv("GIT_AUTHOR_DATE", V2_DATE, 1);
	setenv("GIT_COMMITTER_DATE", V2_DATE, 1);
	if (git("checkout -q -b v2 base"))
		return -1;
	write_file("lib.rs", "fn a() {}\npub fn b() {}\n");
	if (git("commit -q -a -m 'rust: add b' -m 'Signed-off-by: J\xc3\xb6rg Doe "
		"<jd@example.org>'"))
		return -1;
	write_file("lib.rs", "fn a() {}\npub fn b() {}\npub fn c() {}\n");
	if (git("commit -q -a -m 'rust: add c' -m 'Signed-off-by: J\xc3\xb6rg Doe "
		"<jd@example.org>'") ||
	    git("tag v2tip"))
		return -1;
	return 0;
}

static void test_format_patch_threading_modes(void)
{
	static const char *const modes[] = {
		"--cover-letter --thread=shallow base..v1",
		"--cover-letter --thread=deep base..v1",
		"--cover-letter --no-thread base..v1",
		"--thread=shallow base..v1",
	};
	struct pq_buf mbox = PQ_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct pq_series *se;
		struct env e;
		int cover = strstr(modes[i], "cover") != NULL, before = check_failures;

		if (env_open(&e, ":memory:", 0) < 0)
			break;
		format_patch(&mbox, V1_DATE, modes[i], NULL, NULL);
		feed_mbox(&e, &mbox);
		CHECK_INT(pq_ingest_stats(e.ig)->stored, cover ? 3 : 2);
		CHECK_INT(count_series(e.store), 1);
		se = nth_series(e.store, 0);
		if (se) {
			CHECK_INT(se->complete, 1);
			CHECK_INT(se->total, 2);
			CHECK_INT(se->npatches, 2);
			CHECK_STR(se->name, cover ? "*** SUBJECT HERE ***" : "rust: add b");
			CHECK(!cover || se->cover_id != 0);
			CHECK_STR(se->submitter, "jd@example.org");
			CHECK_STR(se->submitter_name, "J\xc3\xb6rg Doe");
			CHECK_STR(se->npatches ? se->patches[0].author : NULL, "J\xc3\xb6rg Doe");
			CHECK_INT(se->npatches ? se->patches[0].own.n : 0, 1);
		}
		if (check_failures != before) {
			struct pq_buf d = PQ_BUF_INIT;

			describe(&d, e.store);
			fprintf(stderr, "  (format-patch %s)\n%s", modes[i], pq_buf_str(&d));
			pq_buf_free(&d);
		}
		pq_series_free(se);
		env_close(&e);
	}
	pq_buf_free(&mbox);
}

static void test_format_patch_v2_supersedes(void)
{
	struct pq_buf v1 = PQ_BUF_INIT, v2 = PQ_BUF_INIT, cmd = PQ_BUF_INIT;
	struct pq_series *a, *b;
	const char *cover_id;
	char cover[256] = "";
	struct env e;
	int threaded;

	format_patch(&v1, V1_DATE, "--cover-letter --thread=shallow base..v1", NULL, NULL);
	cover_id = strstr(pq_buf_str(&v1), "Message-Id: <cover.");
	if (cover_id)
		sscanf(cover_id, "Message-Id: <%255[^>]>", cover);
	CHECK(cover[0] != '\0');
	for (threaded = 0; threaded < 2; threaded++) {
		if (env_open(&e, ":memory:", 0) < 0)
			break;
		pq_buf_reset(&cmd);
		pq_buf_adds(&cmd, "--cover-letter --thread=shallow -v2 base..v2tip");
		if (threaded)
			pq_buf_addf(&cmd, " --in-reply-to='<%s>'", cover);
		/* the same second gives format-patch the same cover Message-ID */
		format_patch(&v2, V2_DATE, cmd.ptr, ".git.jd@", ".git.v2.jd@");
		feed_mbox(&e, &v1);
		feed_mbox(&e, &v2);
		CHECK_INT(count_series(e.store), 2);
		a = nth_series(e.store, 0);
		b = nth_series(e.store, 1);
		CHECK(a && b);
		if (a && b) {
			CHECK_INT(a->version, 1);
			CHECK_INT(b->version, 2);
			CHECK_INT(a->complete, 1);
			CHECK_INT(b->complete, 1);
			CHECK_INT(b->supersedes, a->id);
			CHECK_INT(a->superseded_by, b->id);
		}
		pq_series_free(a);
		pq_series_free(b);
		env_close(&e);
	}
	pq_buf_free(&v1);
	pq_buf_free(&v2);
	pq_buf_free(&cmd);
}

/* ---- partial rerolls ---- */

/* Series C, v2: cover c0 and patches c1..c3 threaded to it. */
static void feed_series_c(struct env *e, int skip)
{
	static const char *const ids[] = { "c1@example.org", "c2@example.org", "c3@example.org" };
	struct pq_buf subject = PQ_BUF_INIT;
	int i;

	FEED_MAIL(e, .msgid = "c0@example.org", .subject = "[PATCH v2 0/3] rust: widgets",
		  .body = cover_body);
	for (i = 1; i <= 3; i++) {
		char tag[16], *b;

		if (i == skip)
			continue;
		snprintf(tag, sizeof(tag), "c%d", i);
		b = patch_body(tag);
		pq_buf_reset(&subject);
		pq_buf_addf(&subject, "[PATCH v2 %d/3] rust: widget part %d", i, i);
		FEED_MAIL(e, .msgid = ids[i - 1], .subject = subject.ptr, .irt = "c0@example.org",
			  .refs = "<c0@example.org>", .body = b);
		free(b);
	}
	pq_buf_free(&subject);
}

static void feed_c2(struct env *e)
{
	char *b = patch_body("c2");

	FEED_MAIL(e, .msgid = "c2@example.org", .subject = "[PATCH v2 2/3] rust: widget part 2",
		  .irt = "c0@example.org", .refs = "<c0@example.org>", .body = b);
	free(b);
}

/* Reviews of v2: one on the cover, one on 1/3, one on 2/3. */
static void feed_c_reviews(struct env *e)
{
	FEED_MAIL(e, .msgid = "cr0@x", .from = "Rita Reviewer <rita@example.org>",
		  .subject = "Re: [PATCH v2 0/3] rust: widgets", .irt = "c0@example.org",
		  .refs = "<c0@example.org>",
		  .body = "Reviewed-by: Rita Reviewer <rita@example.org>\n");
	FEED_MAIL(e, .msgid = "cr1@x", .from = "Al Acker <al@example.org>",
		  .subject = "Re: [PATCH v2 1/3] rust: widget part 1", .irt = "c1@example.org",
		  .refs = "<c0@example.org> <c1@example.org>",
		  .body = "Acked-by: Al Acker <al@example.org>\n");
	FEED_MAIL(e, .msgid = "cr2@x", .from = "Tom Tester <tom@example.org>",
		  .subject = "Re: [PATCH v2 2/3] rust: widget part 2", .irt = "c2@example.org",
		  .refs = "<c0@example.org> <c2@example.org>",
		  .body = "Tested-by: Tom Tester <tom@example.org>\n");
}

/* "[PATCH v3 2/3]" sent in reply to v2's 2/3, and a review of it. */
static void feed_v3_2(struct env *e, const char *irt)
{
	char *b = patch_body("c2-v3");
	struct pq_buf refs = PQ_BUF_INIT;

	pq_buf_addf(&refs, "<c0@example.org> <%s>", irt);
	FEED_MAIL(e, .msgid = "d2@example.org", .subject = "[PATCH v3 2/3] rust: widget part 2",
		  .irt = irt, .refs = refs.ptr, .body = b,
		  .date = "Sat, 2 Mar 2024 10:00:00 +0000");
	FEED_MAIL(e, .msgid = "dr2@x", .from = "Dee Dev <dee@example.org>",
		  .subject = "Re: [PATCH v3 2/3] rust: widget part 2", .irt = "d2@example.org",
		  .refs = "<c0@example.org> <c2@example.org> <d2@example.org>",
		  .body = "Reviewed-by: Dee Dev <dee@example.org>\n");
	pq_buf_free(&refs);
	free(b);
}

static void check_reroll(struct pq_store *s, int line)
{
	struct pq_series *v2 = nth_series(s, 0), *v3 = nth_series(s, 1);
	const struct pq_series_patch *p1, *p2, *p3;
	int before = check_failures;

	CHECK(v2 && v3);
	if (!v2 || !v3)
		goto out;
	CHECK_INT(v3->version, 3);
	CHECK_INT(v3->reroll_of, v2->id);
	CHECK_INT(v3->supersedes, v2->id);
	CHECK_STR(v2->state, "superseded");
	CHECK_INT(v3->complete, 1);
	CHECK_INT(v3->received, 3);
	CHECK_STR(v3->name, "rust: widgets");
	CHECK_INT(v3->npatches, 3);
	p1 = patch_at(v3, 1);
	p2 = patch_at(v3, 2);
	p3 = patch_at(v3, 3);
	CHECK(p1 && p2 && p3);
	if (!p1 || !p2 || !p3)
		goto out;
	/* the rest of v2, with the trailers their own reviews gave them */
	CHECK_STR(p1->msgid, "c1@example.org");
	CHECK_INT(p1->borrowed_from, v2->id);
	CHECK(has_trailer(&p1->collected, "Acked-by", "Al Acker <al@example.org>"));
	CHECK_STR(p3->msgid, "c3@example.org");
	CHECK_INT(p3->borrowed_from, v2->id);
	CHECK_INT(p3->collected.n, 0);
	/* v2's cover letter review is for v2 */
	CHECK(!has_trailer(&p1->collected, "Reviewed-by", "Rita Reviewer <rita@example.org>"));
	/* the new 2/3: its own review, not the one of the patch it replaces */
	CHECK_STR(p2->msgid, "d2@example.org");
	CHECK_INT(p2->borrowed_from, 0);
	CHECK(has_trailer(&p2->collected, "Reviewed-by", "Dee Dev <dee@example.org>"));
	CHECK(!has_trailer(&p2->collected, "Tested-by", "Tom Tester <tom@example.org>"));
	CHECK_INT(p2->collected.n, 1);
	/* and v2 is what it was */
	CHECK_INT(v2->reroll_of, 0);
	CHECK_INT(v2->npatches, 3);
	CHECK(patch_at(v2, 2) && has_trailer(&patch_at(v2, 2)->collected, "Tested-by",
					     "Tom Tester <tom@example.org>"));
out:
	pq_series_free(v2);
	pq_series_free(v3);
	if (check_failures != before)
		fprintf(stderr, "  (partial reroll checked from line %d)\n", line);
}

static void test_partial_reroll_takes_the_rest_of_v2(void)
{
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_c(&e, 0);
	feed_c_reviews(&e);
	feed_v3_2(&e, "c2@example.org");
	CHECK_INT(count_series(e.store), 2);
	check_reroll(e.store, __LINE__);
	CHECK_INT(count_rows(e.store, pq_store_stmt(e.store, "SELECT count(*) FROM complete_series"
							     " WHERE version = 3")),
		  1);
	env_close(&e);

	/* the replaced patch of v2 arriving after the reroll */
	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_c(&e, 2);
	feed_v3_2(&e, "c2@example.org");
	feed_c2(&e);
	feed_c_reviews(&e);
	check_reroll(e.store, __LINE__);
	env_close(&e);
}

static void test_v3_patch_not_answering_its_v2_patch_is_no_reroll(void)
{
	struct pq_series *v3;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_c(&e, 0);
	/* in reply to the v2 cover, not to the 2/3 it would replace */
	feed_v3_2(&e, "c0@example.org");
	v3 = nth_series(e.store, 1);
	CHECK(v3 != NULL);
	if (v3) {
		CHECK_INT(v3->reroll_of, 0);
		CHECK_INT(v3->complete, 0);
		CHECK_INT(v3->npatches, 1);
	}
	pq_series_free(v3);
	env_close(&e);

	/* b4 rerolls from the version just before only: a v4 of v2's 2/3 is not */
	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_series_c(&e, 0);
	{
		char *b = patch_body("c2-v4");

		FEED_MAIL(&e, .msgid = "v4-2@example.org",
			  .subject = "[PATCH v4 2/3] rust: widget part 2", .irt = "c2@example.org",
			  .refs = "<c0@example.org> <c2@example.org>", .body = b);
		free(b);
	}
	v3 = nth_series(e.store, 1);
	CHECK(v3 && v3->version == 4 && v3->reroll_of == 0 && !v3->complete);
	pq_series_free(v3);
	env_close(&e);
}

/* ---- trailers from another address of the reviewer ---- */

static void feed_acked_from_other_address(struct env *e)
{
	static const int order[] = { A_COVER, A_P1, A_P2 };

	feed_series_a(e, order, 3);
	/* a maintainer's Acked-by, sent from their second address */
	FEED_MAIL(e, .msgid = "mo1@x", .from = "Miguel Ojeda <miguel.ojeda.sandonis@gmail.com>",
		  .subject = "Re: [PATCH 1/2] rust: first part", .irt = "a1@example.org",
		  .refs = "<a0@example.org> <a1@example.org>",
		  .body = "Acked-by: Miguel Ojeda <ojeda@kernel.org>\n"
			  "Tested-by: Someone Else <else@example.org>\n");
}

static void test_alias_makes_a_trailer_count(void)
{
	char *addresses[] = { "ojeda@kernel.org", "miguel.ojeda.sandonis@gmail.com" };
	struct pq_alias_conf alias = { "Miguel Ojeda", addresses, 2 };
	struct pq_config c;
	struct pq_series *se = NULL;
	const struct pq_series_patch *p1;
	struct env e;

	memset(&c, 0, sizeof(c));
	c.aliases = &alias;
	c.naliases = 1;
	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_acked_from_other_address(&e);
	/* without the alias table: held back */
	se = nth_series(e.store, 0);
	p1 = patch_at(se, 1);
	CHECK(p1 && p1->mismatched.n == 2 && p1->collected.n == 0);
	pq_series_free(se);
	/* with it: counts, and says why */
	CHECK_INT(pq_series_load_conf(e.store, &c, 1, 0, &se), 0);
	p1 = patch_at(se, 1);
	CHECK(p1 != NULL);
	if (p1) {
		CHECK_INT(p1->collected.n, 1);
		CHECK(has_trailer(&p1->collected, "Acked-by", "Miguel Ojeda <ojeda@kernel.org>"));
		CHECK_STR(p1->collected.n ? p1->collected_note[0] : NULL, "alias Miguel Ojeda");
		/* someone else's trailer is still someone else's */
		CHECK_INT(p1->mismatched.n, 1);
		CHECK(has_trailer(&p1->mismatched, "Tested-by", "Someone Else <else@example.org>"));
	}
	pq_series_free(se);
	env_close(&e);
}

static void test_trailer_accept_recorded_and_counted(void)
{
	struct pq_buf report = PQ_BUF_INIT, id = PQ_BUF_INIT;
	struct pq_series *se = NULL;
	const struct pq_series_patch *p1;
	struct env e;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	feed_acked_from_other_address(&e);
	CHECK_INT(pq_ingest_flush(e.ig), 0);
	se = nth_series(e.store, 0);
	p1 = patch_at(se, 1);
	CHECK(p1 && p1->mismatched.n == 2);
	if (!p1) {
		pq_series_free(se);
		env_close(&e);
		return;
	}
	/* the trailer id show prints: reply message id and position */
	pq_buf_addf(&id, "%lld.%d", p1->mismatched_from[0], p1->mismatched_pos[0]);
	pq_series_free(se);

	CHECK_INT(pq_series_trailer_accept(e.store, NULL, 1, "nonsense", "Test Maint <m@x>", 1000,
					   &report),
		  PQ_ENOTFOUND);
	CHECK_INT(pq_series_trailer_accept(e.store, NULL, 1, "999.0", "Test Maint <m@x>", 1000,
					   &report),
		  PQ_ENOTFOUND);
	CHECK_INT(pq_series_trailer_accept(e.store, NULL, 1, id.ptr, "Test Maint <m@x>", 1000,
					   &report),
		  0);
	CHECK(strstr(pq_buf_str(&report), "accepted Acked-by: Miguel Ojeda <ojeda@kernel.org>") !=
	      NULL);
	CHECK_INT(count_rows(e.store, pq_store_stmt(e.store, "SELECT count(*) FROM trailer_accept"
							     " WHERE who = 'Test Maint <m@x>'"
							     " AND accepted = 1000")),
		  1);
	se = nth_series(e.store, 0);
	p1 = patch_at(se, 1);
	CHECK(p1 != NULL);
	if (p1) {
		CHECK(has_trailer(&p1->collected, "Acked-by", "Miguel Ojeda <ojeda@kernel.org>"));
		CHECK_STR(p1->collected.n ? p1->collected_note[0] : NULL,
			  "accepted by Test Maint <m@x> on 1970-01-01 00:16 UTC");
		CHECK_INT(p1->mismatched.n, 1);
	}
	pq_series_free(se);
	/* once accepted, it is held back no more */
	CHECK_INT(pq_series_trailer_accept(e.store, NULL, 1, id.ptr, "Test Maint <m@x>", 1001,
					   &report),
		  PQ_ENOTFOUND);
	/* by Message-ID: every held-back trailer of that reply */
	CHECK_INT(pq_series_trailer_accept(e.store, NULL, 1, "<mo1@x>", "Test Maint <m@x>", 1002,
					   &report),
		  0);
	se = nth_series(e.store, 0);
	p1 = patch_at(se, 1);
	CHECK(p1 && p1->mismatched.n == 0 && p1->collected.n == 2);
	/* it was for this series only */
	CHECK(patch_at(se, 2) && patch_at(se, 2)->collected.n == 0);
	pq_series_free(se);
	pq_buf_free(&report);
	pq_buf_free(&id);
	env_close(&e);
}

/* ---- the commit message with the collected trailers ---- */

/* Runs sh -c cmd with stdin from the file in, into out; 0 on success. */
static int shell(const char *cmd, struct pq_buf *out)
{
	char buf[4096];
	size_t n;
	FILE *p = popen(cmd, "r");

	if (!p)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		pq_buf_add(out, buf, n);
	return pclose(p) == 0 ? 0 : -1;
}

static void test_am_trailers_join_the_sign_off_chain(void)
{
	static const char body[] = "Change the thing.\n\n"
				   "Signed-off-by: Ann Author <ann@example.org>\n"
				   "[ Reworded the commit message and moved the\n"
				   "  helper to the other file. - Miguel ]\n"
				   "Signed-off-by: Miguel Ojeda <ojeda@kernel.org>\n"
				   "---\n"
				   " thing.c | 1 +\n\n"
				   "diff --git a/thing.c b/thing.c\n--- a/thing.c\n+++ b/thing.c\n"
				   "@@ -1 +1,2 @@\n int x;\n+int thing;\n";
	struct pq_am_options o = { .signoff = "Miguel Ojeda <ojeda@kernel.org>" };
	struct pq_buf mbox = PQ_BUF_INIT, cmd = PQ_BUF_INIT, parsed = PQ_BUF_INIT;
	struct env e;
	FILE *f;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	FEED_MAIL(&e, .msgid = "chain@x", .subject = "[PATCH] rust: the thing", .body = body);
	FEED_MAIL(&e, .msgid = "chain-r@x", .from = "Rita Reviewer <rita@example.org>",
		  .subject = "Re: [PATCH] rust: the thing", .irt = "chain@x", .refs = "<chain@x>",
		  .body = "Reviewed-by: Rita Reviewer <rita@example.org>\n");
	CHECK_INT(pq_am_write(e.store, 1, &o, &mbox), 0);
	pq_buf_addf(&cmd, "%s/chain.mbox", tmp_root);
	f = fopen(cmd.ptr, "w");
	CHECK(f != NULL);
	if (f) {
		fwrite(mbox.ptr, 1, mbox.len, f);
		fclose(f);
	}
	pq_buf_reset(&cmd);
	pq_buf_addf(&cmd,
		    "cd '%s' && git mailinfo msg patch < chain.mbox >/dev/null && "
		    "git interpret-trailers --parse < msg",
		    tmp_root);
	CHECK_INT(shell(cmd.ptr, &parsed), 0);
	/* git sees the whole chain: the review goes in before the applier's
	 * sign-off, which is not doubled, and the note stays where it was */
	CHECK_STR(pq_buf_str(&parsed), "Signed-off-by: Ann Author <ann@example.org>\n"
				       "Reviewed-by: Rita Reviewer <rita@example.org>\n"
				       "Signed-off-by: Miguel Ojeda <ojeda@kernel.org>\n");
	CHECK(strstr(pq_buf_str(&mbox),
		     "  helper to the other file. - Miguel ]\n"
		     "Reviewed-by: Rita Reviewer <rita@example.org>\n"
		     "Signed-off-by: Miguel Ojeda <ojeda@kernel.org>\n---\n") != NULL);
	pq_buf_free(&mbox);
	pq_buf_free(&cmd);
	pq_buf_free(&parsed);
	env_close(&e);
}

static void test_am_refuses_a_diff_with_a_nul_byte(void)
{
	static const char raw[] =
		"Message-ID: <nul@x>\nFrom: Ann Author <ann@example.org>\n"
		"Date: Fri, 1 Mar 2024 10:00:00 +0000\nSubject: [PATCH] data: the table\n\n"
		"Add it.\n\nSigned-off-by: Ann Author <ann@example.org>\n---\n"
		"diff --git a/table.txt b/table.txt\n--- a/table.txt\n+++ b/table.txt\n"
		"@@ -1 +1,2 @@\n one\n+tw\0o\n";
	struct pq_buf mbox = PQ_BUF_INIT;
	struct env e;
	char *error;

	if (env_open(&e, ":memory:", 0) < 0)
		return;
	CHECK_INT(pq_ingest_message(e.ig, raw, sizeof(raw) - 1, NULL), 0);
	CHECK_INT(pq_ingest_flush(e.ig), 0);
	/* stored as a patch, with why it will not be applied */
	{
		sqlite3_stmt *st = pq_store_stmt(e.store, "SELECT kind, error FROM message");

		CHECK(st && sqlite3_step(st) == SQLITE_ROW);
		CHECK_STR(st ? pq_store_col_text(st, 0) : NULL, "patch");
		error = st ? pq_strdup(pq_store_col_text(st, 1)) : NULL;
		if (st)
			sqlite3_reset(st);
	}
	CHECK(error && strstr(error, "line 6 of the diff (table.txt) holds a NUL byte"));
	free(error);
	CHECK_INT(pq_am_write(e.store, 1, NULL, &mbox), PQ_EGIT);
	CHECK(strstr(pq_error_last(), "<nul@x>: line 6 of the diff (table.txt)") != NULL);
	pq_buf_free(&mbox);
	env_close(&e);
}

int main(void)
{
	int have_git;

	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	test_cover_and_two_patches_one_complete_series();
	test_any_arrival_order_same_series();
	test_missing_patch_incomplete();
	test_unthreaded_same_sender_one_series();
	test_v2_unthreaded_supersedes_v1();
	test_v2_in_reply_to_v1_cover_supersedes_v1();
	test_resend_supersedes_original();
	test_redelivery_no_extra_message_or_series();
	test_unparsable_mail_stored();
	test_unparsable_redelivery_not_reused_id();
	test_reply_to_cover_collected_on_every_patch();
	test_reply_to_patch_only_that_patch_quotes_ignored();
	test_trailer_for_someone_else_mismatched();
	test_nested_reply_targets_the_patch();
	test_in_body_from_is_the_author();
	test_reply_before_patch_still_counts();
	test_review_of_v2_not_collected_on_v1();
	test_ingest_twice_same_series();
	test_cursor_committed_with_batch();
	test_load_missing_series();
	test_partial_reroll_takes_the_rest_of_v2();
	test_v3_patch_not_answering_its_v2_patch_is_no_reroll();
	test_alias_makes_a_trailer_count();
	test_trailer_accept_recorded_and_counted();

	have_git = make_repo() == 0;
	CHECK(have_git);
	if (have_git) {
		test_am_trailers_join_the_sign_off_chain();
		test_am_refuses_a_diff_with_a_nul_byte();
		test_format_patch_threading_modes();
		test_format_patch_v2_supersedes();
	}

	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_DONE();
}
