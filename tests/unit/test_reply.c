/*
 * test_reply: the mail that tells the list a series landed or did not
 * apply, composed in the transaction of the application (reply.h) and read
 * back from the outbox, or composed now by pq_outbox_preview(). The
 * series come from `git format-patch` on a repository the test builds;
 * the reviews are replies the test writes; the applications are real.
 *
 *   S  [PATCH rust-next 0/2] rust: str: helpers, To the list, Cc Carol;
 *      patch 1 Suggested-by Eve; reviewed by Bob (cover), acked by the
 *      maintainer himself (cover), by Zoë (patch 1, a name that is not
 *      ASCII) and by Dave (patch 2)
 *   T  [PATCH rust-next] a single patch
 *   D  [PATCH rust-next] one that applies nowhere
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "queue_fixture.h"

#include "apply.h"
#include "approval.h"
#include "outbox.h"
#include "reply.h"
#include "series.h"
#include "triage.h"

#define URL "https://git.example.org/linux.git/commit/?id="

#define CONF                                                \
	"[queue \"rust-next\"]\n"                           \
	"\tbranch = rust-next\n"                            \
	"[queue \"rust-dev\"]\n"                            \
	"\tbranch = rust-dev\n"                             \
	"\tbase = rust-next\n"                              \
	"\trebuild = true\n"                                \
	"\treply = false\n"                                 \
	"[rule \"next\"]\n"                                 \
	"\tqueue = rust-next\n"                             \
	"\ttag = rust-next\n"                               \
	"[reply]\n"                                         \
	"\tapplied = Applied to `%s` -- thanks everyone!\n" \
	"\tcommitUrl = " URL "%s\n"                         \
	"\tsignature = Test\n"

static struct fx_mail mail_s, mail_t, mail_d;
static char *base;

static int make_mail(void)
{
	int rc = 0;

	rc |= fx_topic("s", "base");
	fx_src_write("rust/kernel/str.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! String helpers.\n\n"
		     "pub fn len(s: &str) -> usize {\n    s.len()\n}\n\n"
		     "pub fn is_empty(s: &str) -> bool {\n    s.is_empty()\n}\n");
	rc |= fx_commit("rust: str: add is_empty()", "Callers test for empty strings.",
			"Suggested-by: Eve Idea <eve@example.org>");
	fx_src_write("rust/kernel/str.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! String helpers.\n\n"
		     "pub fn len(s: &str) -> usize {\n    s.len()\n}\n\n"
		     "pub fn is_empty(s: &str) -> bool {\n    s.is_empty()\n}\n\n"
		     "pub fn is_ascii(s: &str) -> bool {\n    s.is_ascii()\n}\n");
	rc |= fx_commit("rust: str: add is_ascii()", "Callers test for ASCII.", NULL);
	rc |= fx_format_patch(&mail_s, "rust: str: helpers",
			      "--cover-letter --subject-prefix='PATCH rust-next'"
			      " --cc='Carol Cc <carol@example.org>' base..s");

	rc |= fx_topic("t", "base");
	fx_src_write("rust/kernel/time.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					    "//! Time.\n\n"
					    "pub const NSEC_PER_MSEC: i64 = 1_000_000;\n");
	rc |= fx_commit("rust: time: add the time module", "Drivers need time units.", NULL);
	rc |= fx_format_patch(&mail_t, NULL, "--subject-prefix='PATCH rust-next' -1 t");

	rc |= fx_topic("d", "base");
	fx_src_write("Documentation/rust/index.rst",
		     "Rust\n====\n\nline one\nline two\nline three\nline 4\nline 5\nline 6\n");
	rc |= fx_commit("docs: rust: spell out the first lines", NULL, NULL);
	fx_src_write("Documentation/rust/index.rst",
		     "Rust\n====\n\nline one\nline two\nline THREE\nline 4\nline 5\nline 6\n");
	rc |= fx_commit("docs: rust: stress line three", NULL, NULL);
	rc |= fx_format_patch(&mail_d, NULL, "--subject-prefix='PATCH rust-next' -1 d");
	return rc ? -1 : 0;
}

/* A reply by who to message n of m, with body (trailers), UTF-8. */
static int answer(struct pq_store *s, const struct fx_mail *m, size_t n, const char *who,
		  const char *id, const char *body)
{
	struct pq_buf raw = PQ_BUF_INIT;
	char *to = fx_msgid(m->v[n]);
	int rc;

	pq_buf_addf(&raw,
		    "From: %s\n"
		    "To: " FX_LIST "\n"
		    "Subject: Re: the series\n"
		    "Date: Tue, 10 Nov 2026 12:00:00 +0000\n"
		    "Message-ID: <%s>\n"
		    "In-Reply-To: <%s>\n"
		    "References: <%s>\n"
		    "MIME-Version: 1.0\n"
		    "Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n"
		    "\n"
		    "%s",
		    who, id, to, to, body);
	rc = fx_ingest(s, raw.ptr);
	pq_buf_free(&raw);
	free(to);
	return rc;
}

/* The value of header name in the mail text (to the end of the line), malloc'd, or NULL. */
static char *header(const char *text, const char *name)
{
	size_t len = strlen(name);
	const char *p = text, *nl;

	for (; p && *p && *p != '\n'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (!strncasecmp(p, name, len) && p[len] == ':' && p[len + 1] == ' ')
			return pq_strndup(p + len + 2,
					  nl ? (size_t)(nl - p - len - 2) : strlen(p + len + 2));
	}
	return NULL;
}

/* The body of the mail text (after the first empty line), or "". */
static const char *body_of(const char *text)
{
	const char *b = text ? strstr(text, "\n\n") : NULL;

	return b ? b + 2 : "";
}

/* The mail in the outbox about series id on queue, malloc'd, or NULL. */
static char *outbox_message(struct pq_store *s, long long id, const char *queue)
{
	return fx_text(s, "SELECT message FROM outbox WHERE series_id = ? AND queue = ?", id,
		       queue);
}

static long long series_of(struct pq_store *s, const struct fx_mail *m)
{
	char *id = fx_msgid(m->v[0]);
	long long sid = fx_series_of(s, id);

	free(id);
	return sid;
}

/* ---- the reply to an applied series ---- */

static void test_applied_series_reply(void)
{
	struct pq_buf report = PQ_BUF_INIT, want = PQ_BUF_INIT, preview = PQ_BUF_INIT;
	struct fx_world w;
	long long s_id, t_id;
	char *msg, *cover, *onbranch, *commits, *c2, *v, *p1, *t_msgid, *msgid;

	if (fx_world_open(&w, "reply", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_s, -1), 0);
	CHECK_INT(answer(w.s, &mail_s, 0, "Bob Reviewer <bob@example.org>", "r1@example.org",
			 "Reviewed-by: Bob Reviewer <bob@example.org>\n"),
		  0);
	CHECK_INT(answer(w.s, &mail_s, 0, "Test Maint <maint@example.org>", "r2@example.org",
			 "Acked-by: Test Maint <maint@example.org>\n"),
		  0);
	CHECK_INT(answer(w.s, &mail_s, 2, "Dave Acker <dave@example.org>", "r3@example.org",
			 "Acked-by: Dave Acker <dave@example.org>\n"),
		  0);
	CHECK_INT(answer(w.s, &mail_s, 1, "=?UTF-8?B?Wm/DqyBSZXZpZXdlcg==?= <zoe@example.org>",
			 "r4@example.org", "Reviewed-by: Zo\xc3\xab Reviewer <zoe@example.org>\n"),
		  0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_t, -1), 0);
	s_id = series_of(w.s, &mail_s);
	t_id = series_of(w.s, &mail_t);
	CHECK_INT(pq_triage_run(w.s, w.c, w.repo, &report), 0);
	CHECK_TEXT(fx_queue_state(w.s, s_id, "rust-next"), "queued");
	/* nothing is said before the series goes in */
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox", 0, NULL), 0);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, s_id, "rust-next", &report), 0);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = ?", s_id,
			 "applied"),
		  1);

	msg = outbox_message(w.s, s_id, "rust-next");
	cover = fx_msgid(mail_s.v[0]);
	p1 = header(mail_s.v[0], "Date");
	CHECK(msg != NULL && p1 != NULL);
	if (!msg || !p1)
		goto out;

	/* To the author, Cc the list, the Cc of the cover and every reviewer; not ourselves */
	CHECK(!strncmp(msg, "From: Test Maint <maint@example.org>\n", 37));
	CHECK_TEXT(header(msg, "To"), "Alice Rustacean <alice@example.org>");
	CHECK(strstr(msg, "Cc: " FX_LIST ",\n"
			  " Carol Cc <carol@example.org>,\n"
			  " Eve Idea <eve@example.org>,\n"
			  " Bob Reviewer <bob@example.org>,\n"
			  " =?UTF-8?B?Wm/DqyBSZXZpZXdlcg==?= <zoe@example.org>,\n"
			  " Dave Acker <dave@example.org>\n") != NULL);
	CHECK_INT(fx_count_str(msg, "<maint@example.org>"), 1); /* From: only */
	CHECK_INT(fx_count_str(msg, "<alice@example.org>"), 1); /* To: only */
	CHECK_TEXT(fx_text(w.s, "SELECT recipients FROM outbox WHERE series_id = ?", s_id, NULL),
		   "alice@example.org\n" FX_LIST "\ncarol@example.org\neve@example.org\n"
		   "bob@example.org\nzoe@example.org\ndave@example.org\n");
	CHECK_TEXT(fx_text(w.s, "SELECT sender FROM outbox WHERE series_id = ?", s_id, NULL),
		   "maint@example.org");

	/* an answer to the cover letter */
	CHECK_TEXT(header(msg, "Subject"), "Re: [PATCH rust-next 0/2] rust: str: helpers");
	pq_buf_addf(&want, "<%s>", cover);
	CHECK_TEXT(header(msg, "In-Reply-To"), want.ptr);
	CHECK_TEXT(header(msg, "References"), want.ptr);
	msgid = fx_text(w.s, "SELECT msgid FROM outbox WHERE series_id = ?", s_id, NULL);
	pq_buf_reset(&want);
	pq_buf_addf(&want, "<%s>", msgid ? msgid : "?");
	CHECK_TEXT(header(msg, "Message-ID"), want.ptr);
	CHECK(msgid && !strncmp(msgid, "patchq-", 7) && strstr(msgid, "-rust-next-applied-") &&
	      strstr(msgid, "@example.org"));
	free(msgid);
	v = header(msg, "Date");
	CHECK(v && strlen(v) > 6 && !strcmp(v + strlen(v) - 6, " +0000"));
	free(v);
	CHECK_TEXT(header(msg, "X-Patchq"), "applied to rust-next");
	CHECK_TEXT(header(msg, "Content-Type"), "text/plain; charset=utf-8");

	/* the body: a quote, the queue in the configured words, each patch with its commit */
	commits = fx_applied_commits(w.s, s_id, "rust-next");
	CHECK(commits && strlen(commits) == 81);
	c2 = commits && strlen(commits) == 81 ? commits + 41 : "?";
	if (commits && strlen(commits) == 81)
		commits[40] = '\0';
	pq_buf_reset(&want);
	pq_buf_addf(&want,
		    "On %s, Alice Rustacean wrote:\n"
		    "> What the series is for.\n"
		    "\n"
		    "Applied to `rust-next` -- thanks everyone!\n"
		    "\n"
		    "[1/2] rust: str: add is_empty()\n"
		    "      commit: " URL "%s\n"
		    "[2/2] rust: str: add is_ascii()\n"
		    "      commit: " URL "%s\n"
		    "\n"
		    "Best regards,\n"
		    "-- \n"
		    "Test\n",
		    p1, commits ? commits : "?", c2);
	CHECK_STR(body_of(msg), want.ptr);
	/* the ids are those on the branch */
	onbranch = fx_out(fx_root,
			  "git --git-dir='%s' rev-list --reverse %s..rust-next | tr '\\n' ' '",
			  w.git, base);
	pq_buf_reset(&want);
	pq_buf_addf(&want, "%s %s ", commits ? commits : "?", c2);
	CHECK_STR(onbranch, want.ptr);
	free(onbranch);
	free(commits);

	/* the preview shows the stored reply as it is */
	CHECK_INT(pq_outbox_preview(w.s, w.c, s_id, &preview), 0);
	CHECK(strstr(pq_buf_str(&preview), " about rust-next, pending\n") != NULL);
	CHECK(strstr(pq_buf_str(&preview), msg) != NULL);

	/* a single patch: the answer is to the patch itself */
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, t_id, "rust-next", &report), 0);
	free(msg);
	msg = outbox_message(w.s, t_id, "rust-next");
	t_msgid = fx_msgid(mail_t.v[0]);
	pq_buf_reset(&want);
	pq_buf_addf(&want, "<%s>", t_msgid);
	CHECK_TEXT(header(msg, "In-Reply-To"), want.ptr);
	CHECK_TEXT(header(msg, "Subject"), "Re: [PATCH rust-next] rust: time: add the time module");
	CHECK_TEXT(header(msg, "Cc"), FX_LIST);
	commits = fx_tip(&w, "rust-next");
	pq_buf_reset(&want);
	pq_buf_addf(&want, "[1/1] rust: time: add the time module\n      commit: " URL "%s\n",
		    commits);
	CHECK(strstr(body_of(msg), want.ptr) != NULL);
	free(commits);
	free(t_msgid);

out:
	free(msg);
	free(cover);
	free(p1);
	pq_buf_free(&report);
	pq_buf_free(&want);
	pq_buf_free(&preview);
	fx_world_close(&w);
}

/*
 * A queue that sends no reply: nothing in the outbox, but the preview
 * composes it now, with the trailers that arrived after the application;
 * and without [reply], the defaults: the committer, the plain wording,
 * commit ids without a URL.
 */
static void test_preview_composes_now(void)
{
	struct pq_buf report = PQ_BUF_INIT, out = PQ_BUF_INIT, want = PQ_BUF_INIT;
	struct pq_config *plain = NULL;
	struct fx_world w;
	char *conf, *commits, *c2;
	long long s_id, t_id;
	const char *text;

	if (fx_world_open(&w, "preview", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_s, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_t, -1), 0);
	s_id = series_of(w.s, &mail_s);
	t_id = series_of(w.s, &mail_t);

	/* not applied anywhere yet */
	CHECK_INT(pq_outbox_preview(w.s, w.c, s_id, &out), 0);
	pq_buf_addf(&want, "series %lld: nothing to send (not applied to a queue yet)\n", s_id);
	CHECK_STR(pq_buf_str(&out), want.ptr);
	pq_buf_reset(&out);
	CHECK_INT(pq_outbox_preview(w.s, w.c, 9999, &out), PQ_ENOTFOUND);

	CHECK_INT(pq_apply_series(w.s, w.c, w.repo, s_id, "rust-dev", 0, &report), 0);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox", 0, NULL), 0);
	/* a test report on patch 2 after the commits were made */
	CHECK_INT(answer(w.s, &mail_s, 2, "Frank Tester <frank@example.org>", "late@example.org",
			 "Tested-by: Frank Tester <frank@example.org>\n"),
		  0);
	pq_buf_reset(&out);
	CHECK_INT(pq_outbox_preview(w.s, w.c, s_id, &out), 0);
	text = pq_buf_str(&out);
	CHECK(!strncmp(text,
		       "# reply about rust-dev, not in the outbox (this queue sends none):"
		       " as it would be composed now\n",
		       91));
	CHECK(strstr(text, "X-Patchq: applied to rust-dev\n") != NULL);
	CHECK(strstr(text, "Applied to `rust-dev` -- thanks everyone!\n") != NULL);
	CHECK(strstr(text, "\nArrived after the patches were applied:\n"
			   "[2/2] Tested-by: Frank Tester <frank@example.org>\n") != NULL);
	CHECK(strstr(text, " Frank Tester <frank@example.org>") != NULL); /* in Cc */

	/* the same with a configuration that leaves [reply] to its defaults */
	conf = fx_path("preview-plain.conf");
	pq_buf_reset(&want);
	pq_buf_addf(&want,
		    "[patchq]\n"
		    "\tdatabase = preview.db\n"
		    "\trepository = preview.git\n"
		    "\tcommitter = Test Maint <maint@example.org>\n"
		    "%s",
		    "[queue \"rust-next\"]\n\tbranch = rust-next\n"
		    "[queue \"rust-dev\"]\n\tbranch = rust-dev\n\tbase = rust-next\n"
		    "\trebuild = true\n\treply = false\n");
	fx_write(conf, want.ptr);
	CHECK_INT(pq_config_load(&plain, conf), 0);
	if (plain) {
		pq_buf_reset(&out);
		CHECK_INT(pq_outbox_preview(w.s, plain, s_id, &out), 0);
		commits = fx_applied_commits(w.s, s_id, "rust-dev");
		c2 = commits && strlen(commits) == 81 ? commits + 41 : "?";
		pq_buf_reset(&want);
		pq_buf_addf(&want,
			    "Applied to rust-dev, thanks!\n\n"
			    "[1/2] rust: str: add is_empty()\n"
			    "      commit: %.12s\n"
			    "[2/2] rust: str: add is_ascii()\n"
			    "      commit: %.12s\n",
			    commits ? commits : "?", c2);
		CHECK(strstr(pq_buf_str(&out), want.ptr) != NULL);
		CHECK(strstr(pq_buf_str(&out),
			     "Best regards,\n-- \nTest Maint <maint@example.org>\n") != NULL);
		free(commits);
	}
	pq_config_free(plain);
	free(conf);

	/* T on rust-next (which replies): the stored one is shown, nothing composed */
	CHECK_INT(pq_apply_series(w.s, w.c, w.repo, t_id, "rust-next", 0, &report), 0);
	pq_buf_reset(&out);
	CHECK_INT(pq_outbox_preview(w.s, w.c, t_id, &out), 0);
	CHECK(strstr(pq_buf_str(&out), " about rust-next, pending\n") != NULL);
	CHECK(strstr(pq_buf_str(&out), "as it would be composed now") == NULL);

	pq_buf_free(&report);
	pq_buf_free(&out);
	pq_buf_free(&want);
	fx_world_close(&w);
}

/* ---- the reply to a series that does not apply ---- */

static void test_failure_reply_names_file_and_hunk(void)
{
	struct pq_buf report = PQ_BUF_INIT, want = PQ_BUF_INIT;
	struct fx_world w;
	long long d_id;
	char *msg = NULL, *why = NULL, *d_msgid;

	if (fx_world_open(&w, "failure", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_d, -1), 0);
	d_id = series_of(w.s, &mail_d);
	/* queued by its rule, the dry run failed: it waits for approval, so no
	 * mail goes to the list until a maintainer asks for it */
	CHECK_INT(pq_triage_run(w.s, w.c, w.repo, &report), 0);
	CHECK_TEXT(fx_queue_state(w.s, d_id, "rust-next"), "queued");
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = ?", d_id,
			 "failed"),
		  0);
	{
		long long reply;

		CHECK_INT(pq_apply_reply_rebase(w.s, w.c, d_id, "rust-next", (int64_t)time(NULL),
						&reply),
			  0);
	}
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = ?", d_id,
			 "failed"),
		  1);
	msg = fx_text(w.s, "SELECT message FROM outbox WHERE series_id = ? AND kind = ?", d_id,
		      "failed");
	why = fx_text(w.s, "SELECT error FROM check_result WHERE series_id = ? AND queue = ?", d_id,
		      "rust-next");
	CHECK(msg && why);
	if (!msg || !why)
		goto out;
	/* the patch, the file and hunk as the patch writes them, plain words */
	CHECK(!strncmp(
		why, "[1/1] docs: rust: stress line three: Documentation/rust/index.rst, hunk @@ -",
		strlen("[1/1] docs: rust: stress line three: Documentation/rust/index.rst, hunk @@ -")));
	CHECK(strstr(why, " @@: hunk does not match: the context has changed") != NULL);
	CHECK(strstr(why, "libgit2") == NULL && strstr(why, "git apply") == NULL);
	CHECK_TEXT(header(msg, "X-Patchq"), "not applied to rust-next");
	CHECK_TEXT(header(msg, "To"), "Alice Rustacean <alice@example.org>");
	CHECK_TEXT(header(msg, "Subject"), "Re: [PATCH rust-next] docs: rust: stress line three");
	d_msgid = fx_msgid(mail_d.v[0]);
	pq_buf_addf(&want, "<%s>", d_msgid);
	CHECK_TEXT(header(msg, "In-Reply-To"), want.ptr);
	free(d_msgid);
	pq_buf_reset(&want);
	pq_buf_addf(&want,
		    "This does not apply to rust-next (rust-next at %.12s):\n\n  %s\n\n"
		    "Please rebase it on rust-next and send a new version.\n",
		    base, why);
	CHECK(strstr(body_of(msg), want.ptr) != NULL);
	CHECK(strstr(msg, "Applied to") == NULL);

	/* approved anyway: it fails again, and the list is not told twice */
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, d_id, "rust-next", &report), PQ_EGIT);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ?", d_id, NULL), 1);

out:
	free(msg);
	free(why);
	pq_buf_free(&report);
	pq_buf_free(&want);
	fx_world_close(&w);
}

/* [reply] failures = false: a series that does not apply gets no reply. */
static void test_failure_replies_off(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct fx_world w;
	long long d_id;

	if (fx_world_open(&w, "quiet", CONF "\tfailures = false\n") < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_d, -1), 0);
	d_id = series_of(w.s, &mail_d);
	CHECK_INT(pq_triage_run(w.s, w.c, w.repo, &report), 0);
	CHECK_TEXT(fx_queue_state(w.s, d_id, "rust-next"), "queued");
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, d_id, "rust-next", &report), PQ_EGIT);
	CHECK_TEXT(fx_queue_state(w.s, d_id, "rust-next"), "failed");
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox", 0, NULL), 0);
	pq_buf_free(&report);
	fx_world_close(&w);
}

int main(void)
{
	int ready;

	if (fx_init("reply") < 0)
		return 1;
	ready = fx_src_init() == 0 && make_mail() == 0;
	CHECK(ready);
	if (ready) {
		base = fx_rev("base");
		test_applied_series_reply();
		test_preview_composes_now();
		test_failure_reply_names_file_and_hunk();
		test_failure_replies_off();
		free(base);
	}
	fx_mail_free(&mail_s);
	fx_mail_free(&mail_t);
	fx_mail_free(&mail_d);
	fx_cleanup();
	CHECK_DONE();
}
