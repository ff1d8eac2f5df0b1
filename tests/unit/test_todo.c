/*
 * test_todo: the maintainer's to-do (todo.h) and the series listing
 * (pq_view_series_page), on a world the test makes happen: mail made with
 * `git format-patch`, triaged by real rules, applied to a bare queue
 * repository, queues moved by pushes, a rebuild, a reply a sendmail
 * refuses.
 *
 * The mail (by Alice unless said):
 *   A    [PATCH 0/2] rust: str: helpers, reviewed by Bob: the "dev" rule
 *        applies it to rust-dev at once
 *   A2   its v2
 *   B    [PATCH rust-next] a new file: waits for approval on rust-next
 *   D    [PATCH rust-next] made on a commit never sent: applies nowhere, its
 *        failure reply goes to the outbox
 *   E    [PATCH rust-fixes] a fix of print.rs: waits on rust-fixes
 *   X    B's patch sent by Eve, as "<script>alert(1)</script>", her name
 *        with both quotes: waits on rust-next
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "queue_fixture.h"

#include "apply.h"
#include "outbox.h"
#include "rebuild.h"
#include "state.h"
#include "todo.h"
#include "triage.h"
#include "view.h"

#define CONF                       \
	"[queue \"rust-next\"]\n"  \
	"\tbranch = rust-next\n"   \
	"[queue \"rust-fixes\"]\n" \
	"\tbranch = rust-fixes\n"  \
	"[queue \"rust-dev\"]\n"   \
	"\tbranch = rust-dev\n"    \
	"\tbase = rust-next\n"     \
	"\tauto = true\n"          \
	"\trebuild = true\n"       \
	"\treply = false\n"        \
	"[rule \"fixes-tag\"]\n"   \
	"\tqueue = rust-fixes\n"   \
	"\ttag = rust-fixes\n"     \
	"[rule \"next\"]\n"        \
	"\tqueue = rust-next\n"    \
	"\ttag = rust-next\n"      \
	"[rule \"dev\"]\n"         \
	"\tqueue = rust-dev\n"     \
	"\tfiles = rust/*\n"       \
	"\trfc = false\n"          \
	"\tminReviews = 1\n"       \
	"\tauto = true\n"

#define XSS "<script>alert(1)</script>"
#define EVE "\"Eve O'Hara \\\"the x\\\"\" <eve@example.org>"

static struct fx_mail mail_a, mail_a2, mail_b, mail_d, mail_e;
static char *mail_x;
static char *sendmail;

static int make_mail(void)
{
	struct pq_buf x = PQ_BUF_INIT;
	int rc = 0;

	rc |= fx_mail_str_helpers(&mail_a, &mail_a2);
	rc |= fx_mail_time(&mail_b);

	rc |= fx_topic("d", "base");
	fx_src_write("Documentation/rust/index.rst",
		     "Rust\n====\n\nline one\nline two\nline three\nline 4\nline 5\nline 6\n");
	rc |= fx_commit("docs: rust: spell out the first lines", NULL, NULL);
	fx_src_write("Documentation/rust/index.rst",
		     "Rust\n====\n\nline one\nline two\nline THREE\nline 4\nline 5\nline 6\n");
	rc |= fx_commit("docs: rust: stress line three", NULL, NULL);
	rc |= fx_format_patch(&mail_d, NULL, "--subject-prefix='PATCH rust-next' -1 d");

	rc |= fx_topic("e", "base");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing.\n\n"
					     "pub fn pr_info(s: &str) {\n    drop(s);\n}\n");
	rc |= fx_commit("rust: print: use drop() in pr_info()", "Clearer.", NULL);
	rc |= fx_format_patch(&mail_e, NULL, "--subject-prefix='PATCH rust-fixes' -1 e");

	/* X: B's patch, from Eve, with a subject that is markup */
	if (mail_b.n == 1) {
		pq_buf_adds(&x, mail_b.v[0]);
		fx_replace(&x, "rust: time: add the time module", XSS);
		fx_replace(&x, "From: " FX_AUTHOR " <" FX_EMAIL ">", "From: " EVE);
		fx_replace(&x, "Message-ID: <", "Message-ID: <eve.");
		fx_replace(&x, "Message-Id: <", "Message-Id: <eve.");
		mail_x = pq_buf_detach(&x);
	}

	/* commits that move the queues under the series */
	rc |= fx_topic("fixes-move", "base");
	fx_src_write("rust/kernel/print.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! Printing.\n\n"
		     "pub fn pr_info(s: &str) {\n    let _unused = s;\n}\n");
	rc |= fx_commit("rust: print: name the unused argument", NULL, NULL);
	rc |= fx_topic("next-move", "base");
	fx_src_write("rust/kernel/str.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! String helpers.\n\n"
					   "pub fn len(s: &str) -> usize { s.len() }\n");
	rc |= fx_commit("rust: str: len() on one line", NULL, NULL);

	sendmail = fx_path("sendmail.sh");
	fx_write(sendmail, "#!/bin/sh\n"
			   "# refuses every mail for good\n"
			   "cat >/dev/null\n"
			   "echo '550 5.1.1 no such list here' >&2\n"
			   "exit 69\n");
	rc |= fx_sh(fx_root, "chmod +x '%s'", sendmail);
	return rc || !mail_x ? -1 : 0;
}

static int reply_from(struct pq_store *s, const char *who, const char *addr, const char *msgid,
		      const char *subject, const char *id)
{
	struct pq_buf body = PQ_BUF_INIT;
	char *raw;
	int rc;

	pq_buf_addf(&body, "Looks good.\n\nReviewed-by: %s\n", addr);
	raw = fx_reply_mail(who, id, msgid, subject, body.ptr);
	rc = fx_ingest(s, raw);
	free(raw);
	pq_buf_free(&body);
	return rc;
}

static long long series_of(struct fx_world *w, const char *raw)
{
	char *id = fx_msgid(raw);
	long long sid = fx_series_of(w->s, id);

	free(id);
	return sid;
}

static const struct pq_todo_queue *todo_queue(const struct pq_todo *t, const char *name)
{
	size_t i;

	for (i = 0; t && i < t->nqueues; i++)
		if (!strcmp(t->queues[i].name, name))
			return &t->queues[i];
	return NULL;
}

/* Whether list holds series id. */
static const struct pq_todo_item *has(const struct pq_todo_list *l, long long id)
{
	size_t i;

	for (i = 0; l && i < l->n; i++)
		if (l->v[i].series == id)
			return &l->v[i];
	return NULL;
}

static struct pq_todo *load(struct fx_world *w)
{
	struct pq_todo *t = NULL;

	CHECK_INT(pq_todo_load(w->s, w->c, &t), 0);
	return t;
}

static void check_state_at(struct pq_store *s, long long id, const char *queue, const char *want,
			   int line)
{
	char *got = fx_queue_state(s, id, queue);

	check_count++;
	if (!got != !want || (got && strcmp(got, want))) {
		fprintf(stderr, "%s:%d: series %lld on %s is %s, expected %s\n", __FILE__, line, id,
			queue, got ? got : "(none)", want ? want : "(none)");
		check_failures++;
	}
	free(got);
}

#define CHECK_STATE(s, id, queue, want) check_state_at(s, id, queue, want, __LINE__)

/* Every value from mail in html is escaped: no markup of the sender's survives. */
static void check_escaped(const char *html)
{
	CHECK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
	CHECK(strstr(html, "<script") == NULL);
	CHECK(strstr(html, "Eve O&#39;Hara &quot;the x&quot;") != NULL);
	CHECK(strstr(html, "O'Hara") == NULL);
	CHECK(strstr(html, "\"the x\"") == NULL);
}

static struct fx_world w;
static long long a, a2, b, d, e, x;

static void test_todo_sections(void)
{
	struct pq_buf report = PQ_BUF_INIT, out = PQ_BUF_INIT;
	const struct pq_todo_queue *q;
	const struct pq_todo_item *it;
	struct pq_outbox_stats st;
	struct pq_todo *t;
	char *msgid, *reason;
	long long rebuilds;

	CHECK_INT(fx_ingest_mail(w.s, &mail_a, -1), 0);
	msgid = fx_msgid(mail_a.v[0]);
	CHECK_INT(reply_from(w.s, "Bob Reviewer <bob@example.org>",
			     "Bob Reviewer <bob@example.org>", msgid,
			     "[PATCH 0/2] rust: str: helpers", "review-a@example.org"),
		  0);
	free(msgid);
	CHECK_INT(fx_ingest_mail(w.s, &mail_b, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_d, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_e, -1), 0);
	CHECK_INT(fx_ingest(w.s, mail_x), 0);
	a = series_of(&w, mail_a.v[0]);
	b = series_of(&w, mail_b.v[0]);
	d = series_of(&w, mail_d.v[0]);
	e = series_of(&w, mail_e.v[0]);
	x = series_of(&w, mail_x);
	CHECK(a && b && d && e && x && x != b);

	/* nothing triaged: nothing to do */
	t = load(&w);
	CHECK(t && t->nqueues == 3 && !strcmp(t->queues[0].name, "rust-next") &&
	      !strcmp(t->queues[2].name, "rust-dev"));
	pq_todo_write(t, PQ_VIEW_TEXT, &out);
	CHECK_STR(pq_buf_str(&out), "nothing to do\n");
	pq_todo_free(t);

	/* ---- waiting for approval: the rule and the dry run ---- */
	CHECK_INT(pq_triage_run(w.s, w.c, w.repo, &report), 0);
	CHECK_STATE(w.s, a, "rust-dev", "applied");
	t = load(&w);
	q = todo_queue(t, "rust-next");
	CHECK(q && q->waiting.n == 3);
	/* D only waits for approval: the maintainer sees it does not apply,
	 * the list hears nothing unless a maintainer asks */
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox", 0, NULL), 0);
	{
		long long reply;

		CHECK_INT(pq_apply_reply_rebase(w.s, w.c, d, "rust-next", (int64_t)time(NULL),
						&reply),
			  0);
		CHECK(reply > 0);
	}
	it = has(q ? &q->waiting : NULL, b);
	CHECK(it && it->rule && !strcmp(it->rule, "next") && it->checked && it->applies);
	CHECK(it && it->name && !strcmp(it->name, "rust: time: add the time module"));
	it = has(q ? &q->waiting : NULL, d);
	CHECK(it && it->checked && !it->applies && it->reason &&
	      strstr(it->reason, "Documentation/rust/index.rst"));
	CHECK(has(q ? &q->waiting : NULL, x) != NULL);
	q = todo_queue(t, "rust-fixes");
	CHECK(q && q->waiting.n == 1 && has(&q->waiting, e));
	CHECK(q && q->stopped.n == 0);
	q = todo_queue(t, "rust-dev");
	CHECK(q && q->waiting.n == 0 && q->new_versions.n == 0 && q->late_trailers.n == 0 &&
	      q->dropped.n == 0);
	pq_buf_reset(&out);
	pq_todo_write(t, PQ_VIEW_TEXT, &out);
	CHECK(strstr(pq_buf_str(&out), "rust-next\n  waiting for approval (3):\n") != NULL);
	CHECK(strstr(pq_buf_str(&out), "rule next; dry run: applies") != NULL);
	pq_todo_free(t);

	/* a limit cuts the growing sections and says how many there are */
	t = NULL;
	CHECK_INT(pq_todo_load_some(w.s, w.c, 2, &t), 0);
	q = todo_queue(t, "rust-next");
	CHECK(q && q->waiting.n == 2 && q->waiting.total == 3);
	pq_buf_reset(&out);
	pq_todo_write(t, PQ_VIEW_TEXT, &out);
	CHECK(strstr(pq_buf_str(&out), "waiting for approval (3):\n") != NULL);
	CHECK(strstr(pq_buf_str(&out), "  ... and 1 more\n") != NULL);
	pq_buf_reset(&out);
	pq_todo_write(t, PQ_VIEW_HTML, &out);
	CHECK(strstr(pq_buf_str(&out), "and 1 more: <a href=\"/series?queue=rust-next&amp;"
				       "state=queued\">") != NULL);
	pq_buf_reset(&out);
	pq_todo_write(t, PQ_VIEW_JSON, &out);
	CHECK(strstr(pq_buf_str(&out), "\"totals\"") != NULL);
	CHECK(strstr(pq_buf_str(&out), "\"when\": 1") != NULL); /* a unix time, 2001 or later */
	pq_todo_free(t);

	/* `patchq queue` says what waits there too */
	pq_buf_reset(&out);
	CHECK_INT(pq_view_queue(w.s, "rust-fixes", &out, 0), 0);
	CHECK(strstr(pq_buf_str(&out), "nothing applied to rust-fixes yet\n") != NULL);
	CHECK(strstr(pq_buf_str(&out), "waiting for approval on rust-fixes (1):") != NULL);
	CHECK(strstr(pq_buf_str(&out), "rust: print: use drop() in pr_info()") != NULL);

	/* ---- a late Reviewed-by on A's first patch, after it was applied ---- */
	msgid = fx_msgid(mail_a.v[1]);
	CHECK_INT(reply_from(w.s, "Carol Checker <carol@example.org>",
			     "Carol Checker <carol@example.org>", msgid,
			     "[PATCH 1/2] rust: str: add is_empty()", "late-a@example.org"),
		  0);
	free(msgid);
	t = load(&w);
	q = todo_queue(t, "rust-dev");
	CHECK(q && q->late_trailers.n == 1);
	it = has(q ? &q->late_trailers : NULL, a);
	CHECK(it && it->patch == 1 && it->trailer &&
	      !strcmp(it->trailer, "Reviewed-by: Carol Checker <carol@example.org>"));
	/* dated by the reply's arrival */
	CHECK(it && it->when > 0 &&
	      it->when == fx_num(w.s,
				 "SELECT d.received FROM delivery d JOIN message m"
				 " ON d.raw_id = m.raw_id WHERE m.id = ?1",
				 it->message, NULL));
	/* Bob's review came before: not late */
	CHECK(q && q->late_trailers.n == 1);
	pq_todo_free(t);

	/* ---- a newer version of A, which is on rust-dev ---- */
	CHECK_INT(fx_ingest_mail(w.s, &mail_a2, -1), 0);
	a2 = series_of(&w, mail_a2.v[0]);
	CHECK(a2 && a2 != a);
	t = load(&w);
	q = todo_queue(t, "rust-dev");
	it = has(q ? &q->new_versions : NULL, a2);
	CHECK(q && q->new_versions.n == 1 && it && it->other == a && it->version == 2);
	/* dated by the newer series */
	CHECK(it && it->when > 0 &&
	      it->when == fx_num(w.s, "SELECT date FROM series WHERE id = ?1", a2, NULL));
	CHECK(todo_queue(t, "rust-next")->new_versions.n == 0);
	pq_todo_free(t);

	/* ---- rust-fixes moves under E: its dry run fails there now ---- */
	CHECK_INT(fx_git("push -q '%s' fixes-move:rust-fixes", w.git), 0);
	pq_buf_reset(&report);
	CHECK_INT(pq_apply_check(w.s, w.c, w.repo, e, &report), 0);
	t = load(&w);
	q = todo_queue(t, "rust-fixes");
	it = has(q ? &q->stopped : NULL, e);
	CHECK(q && q->stopped.n == 1 && it && it->state && !strcmp(it->state, "queued") &&
	      it->reason && strstr(it->reason, "rust/kernel/print.rs"));
	/* stopped: dated by the dry run that failed; waiting: by the series */
	CHECK(it && it->when > 0 &&
	      it->when == fx_num(w.s,
				 "SELECT checked FROM check_result WHERE series_id = ?1"
				 " AND queue = ?2",
				 e, "rust-fixes"));
	it = has(q ? &q->waiting : NULL, e);
	CHECK(it && it->when == fx_num(w.s, "SELECT date FROM series WHERE id = ?1", e, NULL));
	CHECK(it && it->checked && !it->applies);
	pq_todo_free(t);

	/* ---- rust-next moves under rust-dev: the rebuild drops A2, in A's place ---- */
	CHECK_INT(fx_git("push -q '%s' next-move:rust-next", w.git), 0);
	pq_buf_reset(&report);
	CHECK_INT(pq_rebuild_queue(w.s, w.c, w.repo, "rust-dev", &report), 0);
	CHECK(strstr(pq_buf_str(&report), "no longer applies") != NULL);
	/* neither version is on rust-dev: neither says "applied" there */
	CHECK_STATE(w.s, a2, "rust-dev", "failed");
	CHECK_STATE(w.s, a, "rust-dev", "failed");
	reason = fx_queue_reason(w.s, a, "rust-dev");
	CHECK(reason && strstr(reason, "rust/kernel/str.rs"));
	free(reason);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM application WHERE queue = ?2 AND active", 0,
			 "rust-dev"),
		  0);
	rebuilds = fx_num(w.s, "SELECT count(*) FROM rebuild WHERE queue = ?2", 0, "rust-dev");
	CHECK_INT(rebuilds, 1);
	t = load(&w);
	q = todo_queue(t, "rust-dev");
	it = has(q ? &q->dropped : NULL, a2);
	CHECK(q && q->dropped.n == 1 && it && it->other == a && it->reason &&
	      strstr(it->reason, "rust/kernel/str.rs") && it->state &&
	      !strcmp(it->state, "failed"));
	CHECK(q && q->rebuild > 0 && it && it->when == q->rebuild);
	/* nothing on rust-dev any more: no new version, no late trailer */
	CHECK(q && q->new_versions.n == 0 && q->late_trailers.n == 0);
	pq_todo_free(t);
	/* the next rebuild, dropping nothing, empties the section */
	pq_buf_reset(&report);
	CHECK_INT(pq_rebuild_queue(w.s, w.c, w.repo, "rust-dev", &report), 0);
	t = load(&w);
	CHECK(todo_queue(t, "rust-dev")->dropped.n == 0);
	pq_todo_free(t);

	/* ---- D's failure reply (asked for), refused for good by the sendmail ---- */
	t = load(&w);
	CHECK(t && t->nreplies == 1 && t->replies[0].series == d &&
	      !strcmp(t->replies[0].state, "pending"));
	pq_todo_free(t);
	pq_buf_reset(&report);
	CHECK_INT(pq_outbox_send(w.s, w.c, (int64_t)time(NULL), 1, 0, &report, &st), 0);
	CHECK_INT(st.failed, 1);
	t = load(&w);
	CHECK(t && t->nreplies == 1 && t->replies[0].series == d &&
	      !strcmp(t->replies[0].state, "failed") && !strcmp(t->replies[0].kind, "failed") &&
	      t->replies[0].error && strstr(t->replies[0].error, "no such list"));

	/* ---- the three forms ---- */
	pq_buf_reset(&out);
	pq_todo_write(t, PQ_VIEW_TEXT, &out);
	CHECK(strstr(pq_buf_str(&out), "replies not sent (1):") != NULL);
	CHECK(strstr(pq_buf_str(&out), "stopped applying since the queue moved (1):") != NULL);
	pq_buf_reset(&out);
	pq_todo_write(t, PQ_VIEW_JSON, &out);
	CHECK(strncmp(pq_buf_str(&out), "{", 1) == 0);
	CHECK(strstr(pq_buf_str(&out), "\"queue\": \"rust-fixes\"") != NULL);
	CHECK(strstr(pq_buf_str(&out), "\"stopped_applying\": [") != NULL);
	CHECK(strstr(pq_buf_str(&out), "\"replies\": [") != NULL);
	CHECK(strstr(pq_buf_str(&out), "\"name\": \"" XSS "\"") != NULL);
	pq_buf_reset(&out);
	pq_todo_write(t, PQ_VIEW_HTML, &out);
	check_escaped(pq_buf_str(&out));
	CHECK(strstr(pq_buf_str(&out), "<html") == NULL);
	CHECK(strstr(pq_buf_str(&out), "<h2><a href=\"/queues/rust-next\">rust-next</a></h2>") !=
	      NULL);
	{
		char link[64];

		snprintf(link, sizeof(link), "<a href=\"/series/%lld\">", x);
		CHECK(strstr(pq_buf_str(&out), link) != NULL);
	}
	pq_todo_free(t);

	CHECK_INT(pq_todo_load(w.s, NULL, &t), PQ_EINVAL);
	CHECK(t == NULL);
	pq_buf_free(&out);
	pq_buf_free(&report);
}

/* ---- the listing ---- */

static void test_series_page(void)
{
	struct pq_series_filter f = { 0 };
	struct pq_buf out = PQ_BUF_INIT;
	long long all[64], got[64], next, after = 0, total;
	size_t n, seen = 0, i;
	int pages = 0;

	total = fx_num(w.s, "SELECT count(*) FROM series", 0, NULL);
	CHECK(total >= 6);
	/* every series, newest first, in pages of 2: none twice, none missed */
	f.limit = 2;
	do {
		f.after = after;
		pq_buf_reset(&out);
		CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_JSON, &out, &next), 0);
		/* the ids of the items, inside {"items": [...]} */
		n = 0;
		{
			const char *p = pq_buf_str(&out);

			while ((p = strstr(p, "\n      \"id\": ")) && n < 64) {
				p += strlen("\n      \"id\": ");
				got[n++] = atoll(p);
			}
		}
		CHECK(n >= 1 && n <= 2);
		for (i = 0; i < n && seen < 64; i++)
			all[seen++] = got[i];
		if (next) {
			CHECK(strstr(pq_buf_str(&out), "\"next\": ") != NULL);
			CHECK_INT(next, got[n - 1]);
		} else {
			CHECK(strstr(pq_buf_str(&out), "\"next\": null") != NULL);
		}
		after = next;
		pages++;
	} while (next && pages < 64);
	CHECK_INT((long long)seen, total);
	for (i = 1; i < seen; i++)
		CHECK(all[i] < all[i - 1]);
	CHECK_INT(all[0], fx_num(w.s, "SELECT max(id) FROM series", 0, NULL));
	CHECK_INT(pages, (total + 1) / 2);

	/* the text form: a line per series with its queues */
	f.after = 0;
	f.limit = 0;
	f.queue = "rust-next";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, &next), 0);
	CHECK_INT(next, 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 3); /* B, D, X */
	CHECK(strstr(pq_buf_str(&out), "[rust-next: queued]") != NULL);
	CHECK(strstr(pq_buf_str(&out), "rust: str: helpers") == NULL);

	/* state on the queue; the series' own without one */
	f.state = "queued";
	f.queue = "rust-fixes";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 1);
	CHECK(strstr(pq_buf_str(&out), "rust: print: use drop() in pr_info()") != NULL);
	f.queue = "rust-dev";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_STR(pq_buf_str(&out), "");
	f.queue = NULL;
	f.state = "applied"; /* A's own state: it got that far somewhere */
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 1);
	CHECK(strstr(pq_buf_str(&out), "rust: str: helpers") != NULL);
	CHECK(strstr(pq_buf_str(&out), "rust-dev: failed") != NULL);
	f.state = "pending";
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), PQ_EINVAL);
	f.state = NULL;

	/* search: name or submitter, any case, wildcards taken literally */
	f.search = "SCRIPT>ALERT";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 1);
	f.search = "EVE@example";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 1);
	f.search = "o'hara";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 1);
	f.search = "%";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_STR(pq_buf_str(&out), "");
	f.search = "rust_str";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_STR(pq_buf_str(&out), "");
	f.search = "str: helpers";
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 2); /* v1 and v2 */
	f.search = NULL;

	/* since: the first message's date */
	f.since = (long long)time(NULL) + 86400LL * 365 * 50;
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_STR(pq_buf_str(&out), "");
	f.since = 1;
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), total);
	f.since = 0;

	/* filters and the cursor together: rust-next's three, by one */
	f.queue = "rust-next";
	f.limit = 1;
	f.after = 0;
	seen = 0;
	do {
		pq_buf_reset(&out);
		CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, &next), 0);
		CHECK_INT(fx_count_str(pq_buf_str(&out), "\n"), 1);
		f.after = next;
		seen++;
	} while (next && seen < 10);
	CHECK_INT((long long)seen, 3);
	f.limit = -1;
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_TEXT, &out, NULL), PQ_EINVAL);

	/* the HTML fragment escapes what mail said */
	memset(&f, 0, sizeof(f));
	f.limit = 100;
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_page(w.s, &f, PQ_VIEW_HTML, &out, &next), 0);
	CHECK_INT(next, 0);
	CHECK(strncmp(pq_buf_str(&out), "<table class=\"series\">", 22) == 0);
	CHECK(strstr(pq_buf_str(&out), "<a href=\"/queues/rust-next\">rust-next</a>: queued") !=
	      NULL);
	check_escaped(pq_buf_str(&out));
	CHECK_INT(fx_count_str(pq_buf_str(&out), "<tr><td><a href=\"/series/"), total);

	/* the listing as `patchq series` always printed it: creation order, an array */
	pq_buf_reset(&out);
	CHECK_INT(pq_view_series_list(w.s, &out, 1), 0);
	CHECK(pq_buf_str(&out)[0] == '[');
	n = 0;
	{
		const char *p = pq_buf_str(&out);

		while ((p = strstr(p, "\n    \"id\": ")) && n < 64) {
			p += strlen("\n    \"id\": ");
			got[n++] = atoll(p);
		}
	}
	CHECK_INT((long long)n, total);
	for (i = 1; i < n; i++)
		CHECK(got[i] > got[i - 1]);
	CHECK(strstr(pq_buf_str(&out), "\"queues\": [") != NULL);
	pq_buf_free(&out);
}

int main(void)
{
	struct pq_buf conf = PQ_BUF_INIT;
	int ready;

	if (fx_init("todo") < 0)
		return 1;
	ready = fx_src_init() == 0 && make_mail() == 0;
	CHECK(ready);
	if (ready) {
		pq_buf_addf(&conf, "%s[smtp]\n\tsendmail = %s\n", CONF, sendmail);
		ready = fx_world_open(&w, "todo", conf.ptr) == 0;
		CHECK(ready);
	}
	if (ready) {
		test_todo_sections();
		test_series_page();
		fx_world_close(&w);
	}
	pq_buf_free(&conf);
	fx_mail_free(&mail_a);
	fx_mail_free(&mail_a2);
	fx_mail_free(&mail_b);
	fx_mail_free(&mail_d);
	fx_mail_free(&mail_e);
	free(mail_x);
	free(sendmail);
	fx_cleanup();
	CHECK_DONE();
}
