/*
 * test_routing: the rule conditions of issue 12 on real mail, end to end
 * in the library: `git format-patch` mail from a repository the test
 * builds, ingested into a real SQLite database, explained (`why`) and
 * triaged with a configuration the test writes. What the loader gathers
 * is checked through what the rules say of it: the subsystem prefix of a
 * subject, Cc: stable in the header (also for a message stored before the
 * header was kept) or in a trailer, every / no file under a path, the
 * share of the changed lines, reviews patch by patch; and a series taken
 * for two queues at once (automatic on rust-dev, waiting on rust-next).
 *
 * The mail (all by Alice, To the list):
 *   A  [PATCH 0/2] rust: str: helpers, two patches on str.rs: prefix rust,
 *      every line under rust/, reviewed patch by patch
 *   S  [PATCH] rust: print: fix, on print.rs, Cc: stable in the header
 *   T  [PATCH] rust: print: another fix, Cc: stable as a trailer
 *   K  [PATCH] rust: kbuild: flags, 1 line in rust/Makefile, 9 in
 *      scripts/Makefile.rust: prefix rust, but 10% of its lines in rust/
 *   B  [PATCH] kbuild: a build fix in scripts/ alone: prefix kbuild
 *   L  [PATCH] rust: kernel: lib.rs, a file the dev rule excludes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "queue_fixture.h"

#include "approval.h"
#include "state.h"
#include "triage.h"

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
	"[rule \"dev\"]\n"         \
	"\tqueue = rust-dev\n"     \
	"\tallFiles = rust/*\n"    \
	"\tnotFiles = *lib.rs\n"   \
	"\tminReviews = 1\n"       \
	"\tcontinue = true\n"      \
	"[rule \"stable\"]\n"      \
	"\tqueue = rust-fixes\n"   \
	"\tstable = true\n"        \
	"[rule \"next\"]\n"        \
	"\tqueue = rust-next\n"    \
	"\tprefix = rust\n"        \
	"\tshareFiles = rust/*\n"  \
	"\tminShare = 50\n"

static struct fx_mail mail_a, mail_s, mail_t, mail_k, mail_b, mail_l;
static char *base;

static int make_mail(void)
{
	int rc = 0;

	rc |= fx_topic("a", "base");
	fx_src_write("rust/kernel/str.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! String helpers.\n\n"
		     "pub fn len(s: &str) -> usize {\n    s.len()\n}\n\n"
		     "pub fn is_empty(s: &str) -> bool {\n    s.is_empty()\n}\n");
	rc |= fx_commit("rust: str: add is_empty()", NULL, NULL);
	fx_src_write("rust/kernel/str.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! String helpers.\n\n"
		     "pub fn len(s: &str) -> usize {\n    s.len()\n}\n\n"
		     "pub fn is_empty(s: &str) -> bool {\n    s.is_empty()\n}\n\n"
		     "pub fn is_ascii(s: &str) -> bool {\n    s.is_ascii()\n}\n");
	rc |= fx_commit("rust: str: add is_ascii()", NULL, NULL);
	rc |= fx_format_patch(&mail_a, "rust: str: helpers", "--cover-letter base..a");

	rc |= fx_topic("s", "base");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing.\n\n"
					     "pub fn pr_info(s: &str) {\n    drop(s);\n}\n");
	rc |= fx_commit("rust: print: fix pr_info()", NULL, NULL);
	rc |= fx_format_patch(&mail_s, NULL, "--cc='Stable <stable@vger.kernel.org>' -1 s");

	rc |= fx_topic("t", "base");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing, fixed.\n\n"
					     "pub fn pr_info(s: &str) {\n    let _ = s;\n}\n");
	rc |= fx_commit("rust: print: fix the doc", NULL, "Cc: stable@vger.kernel.org # 6.12+");
	rc |= fx_format_patch(&mail_t, NULL, "-1 t");

	rc |= fx_topic("k", "base");
	fx_src_write("rust/Makefile", "RUSTFLAGS += -Cdebuginfo=2\n");
	fx_src_write("scripts/Makefile.rust", "a\nb\nc\nd\ne\nf\ng\nh\ni\n");
	rc |= fx_commit("rust: kbuild: pass the flags", NULL, NULL);
	rc |= fx_format_patch(&mail_k, NULL, "-1 k");

	rc |= fx_topic("b", "base");
	fx_src_write("scripts/Makefile.build", "all:\n");
	rc |= fx_commit("kbuild: a build fix", NULL, NULL);
	rc |= fx_format_patch(&mail_b, NULL, "-1 b");

	rc |= fx_topic("l", "base");
	fx_src_write("rust/kernel/lib.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! The kernel crate, documented.\n\n"
					   "pub mod print;\npub mod str;\n");
	rc |= fx_commit("rust: kernel: document the crate", NULL, NULL);
	rc |= fx_format_patch(&mail_l, NULL, "-1 l");
	return rc ? -1 : 0;
}

/* Bob's review of message i of m (0: the cover letter, when there is one). */
static int review(struct pq_store *s, const struct fx_mail *m, size_t i, const char *id)
{
	char *msgid = fx_msgid(m->v[i]);
	char *raw = fx_reply_mail("Bob Reviewer <bob@example.org>", id, msgid, "[PATCH] rust",
				  "Looks good.\n\nReviewed-by: Bob Reviewer <bob@example.org>\n");
	int rc = fx_ingest(s, raw);

	free(raw);
	free(msgid);
	return rc;
}

static long long series_of(struct fx_world *w, const struct fx_mail *m)
{
	char *id = fx_msgid(m->v[0]);
	long long sid = fx_series_of(w->s, id);

	free(id);
	return sid;
}

static void test_conditions_on_real_mail(void)
{
	struct fx_world w;
	long long a, s, t, k, b, l;
	char *text;

	if (fx_world_open(&w, "cond", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_a, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_s, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_t, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_k, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_b, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_l, -1), 0);
	a = series_of(&w, &mail_a);
	s = series_of(&w, &mail_s);
	t = series_of(&w, &mail_t);
	k = series_of(&w, &mail_k);
	b = series_of(&w, &mail_b);
	l = series_of(&w, &mail_l);
	CHECK(a && s && t && k && b && l);

	/* the headers are kept at ingest */
	text = fx_text(w.s, "SELECT cc_header FROM message WHERE series_id = ?", s, NULL);
	CHECK(text && strstr(text, "stable@vger.kernel.org"));
	free(text);
	CHECK_TEXT(fx_text(w.s, "SELECT to_header FROM message WHERE series_id = ?", s, NULL),
		   FX_LIST);

	/* reviews, patch by patch: none yet, then the first patch only */
	CHECK_TEXT(fx_why_rule(&w, a, "dev"),
		   "0 of 2 patches reviewed; the rule needs every patch reviewed at least 1 "
		   "time(s); short: 1/2 (0), 2/2 (0)");
	CHECK_INT(review(w.s, &mail_a, 1, "r1@example.org"), 0);
	CHECK_TEXT(fx_why_rule(&w, a, "dev"),
		   "1 of 2 patches reviewed; the rule needs every patch reviewed at least 1 "
		   "time(s); short: 2/2 (0)");
	/* the prefix "rust" of "rust: str: ..." and all its lines under rust/ */
	CHECK_TEXT(fx_why_rule(&w, a, "next"), "matches");
	CHECK_INT(review(w.s, &mail_a, 2, "r2@example.org"), 0);
	CHECK_TEXT(fx_why_rule(&w, a, "dev"),
		   "matches; continue: later rules may add other queues");

	/* Cc: stable in the header; in a trailer */
	CHECK_TEXT(fx_why_rule(&w, s, "stable"), "matches");
	CHECK_TEXT(fx_why_rule(&w, t, "stable"), "matches");
	CHECK_TEXT(fx_why_rule(&w, a, "stable"),
		   "no Cc: to stable@ (neither a Cc: trailer nor the mails' To/Cc)");
	/* a message stored before 0012 kept no header: the raw mail tells */
	CHECK_INT(pq_store_step_done(w.s, pq_store_stmt(w.s, "UPDATE message SET to_header = NULL,"
							     " cc_header = NULL")),
		  0);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM message WHERE cc_header IS NOT NULL", 0, NULL),
		  0);
	CHECK_TEXT(fx_why_rule(&w, s, "stable"), "matches");
	CHECK_TEXT(fx_why_rule(&w, a, "stable"),
		   "no Cc: to stable@ (neither a Cc: trailer nor the mails' To/Cc)");

	/* allFiles, share, prefix, notFiles */
	CHECK_TEXT(fx_why_rule(&w, k, "dev"),
		   "touches scripts/Makefile.rust, which does not match rust/*");
	CHECK_TEXT(fx_why_rule(&w, k, "next"),
		   "10% of the changed lines (1 of 10) in files matching rust/*, needs 50%");
	CHECK_TEXT(fx_why_rule(&w, b, "next"),
		   "no subject prefix rust:; the subjects have kbuild:");
	CHECK_TEXT(fx_why_rule(&w, l, "dev"), "touches rust/kernel/lib.rs, which matches *lib.rs");
	text = fx_why(&w, b);
	CHECK(strstr(text, "=> no rule matches: the series goes to no queue\n") != NULL);
	free(text);

	fx_world_close(&w);
}

/* A series on two queues: automatic on rust-dev, waiting for approval on rust-next. */
static void test_two_queues(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct fx_world w;
	long long a, k;
	char *text, *tip;

	if (fx_world_open(&w, "two", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_a, -1), 0);
	CHECK_INT(review(w.s, &mail_a, 0, "cover-review@example.org"), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_k, -1), 0);
	a = series_of(&w, &mail_a);
	k = series_of(&w, &mail_k);
	tip = fx_tip(&w, "rust-next");

	text = fx_why(&w, a);
	CHECK(strstr(text, "=> queue rust-dev (rust-dev), applied automatically (rule \"dev\")\n"
			   "=> queue rust-next (rust-next), waits for a maintainer's approval "
			   "(rule \"next\")\n") != NULL);
	CHECK(strstr(text, "goes to no queue") == NULL);
	free(text);
	/* the same as data: both queues, in the rules' order */
	CHECK_INT(pq_triage_explain(w.s, w.c, w.repo, a, 1, &report), 0);
	CHECK(strstr(pq_buf_str(&report),
		     "\"queues\": [\n    {\n      \"queue\": \"rust-dev\",\n      \"rule\": \"dev\",\n"
		     "      \"automatic\": true\n    },\n    {\n      \"queue\": \"rust-next\",\n"
		     "      \"rule\": \"next\",\n      \"automatic\": false\n    }\n  ],\n"
		     "  \"taken_elsewhere\": null,\n  \"held\": null,") != NULL);
	CHECK(strstr(pq_buf_str(&report), "\"reason\": \"matches; continue: later rules may add "
					  "other queues\"") != NULL);
	pq_buf_reset(&report);

	CHECK_INT(pq_triage_run(w.s, w.c, w.repo, &report), 0);
	CHECK(strstr(pq_buf_str(&report), "queued for rust-dev (rule dev), applying") != NULL);
	CHECK(strstr(pq_buf_str(&report), "queued for rust-next (rule next), waits for approval") !=
	      NULL);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM series_queue WHERE series_id = ?", a, NULL), 2);
	CHECK_TEXT(fx_queue_state(w.s, a, "rust-dev"), "applied");
	CHECK_TEXT(fx_queue_state(w.s, a, "rust-next"), "queued");
	CHECK_TEXT(fx_text(w.s, "SELECT rule FROM series_queue WHERE series_id = ? AND queue = ?",
			   a, "rust-next"),
		   "next");
	/* applied on rust-dev only */
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM application WHERE series_id = ? AND queue = ?",
			 a, "rust-dev"),
		  2);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM application WHERE series_id = ? AND queue = ?",
			 a, "rust-next"),
		  0);
	text = fx_tip(&w, "rust-next");
	CHECK_STR(text, tip);
	free(text);
	text = fx_log(&w, "%s", "rust-next..rust-dev");
	CHECK_STR(text, "rust: str: add is_ascii()\nrust: str: add is_empty()");
	free(text);
	/* the maintainer approves it on rust-next later: both queues hold it */
	pq_buf_reset(&report);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, a, "rust-next", &report), 0);
	CHECK_TEXT(fx_queue_state(w.s, a, "rust-next"), "applied");
	CHECK_TEXT(fx_queue_state(w.s, a, "rust-dev"), "applied");
	text = fx_log(&w, "%s", "base..rust-next");
	CHECK_STR(text, "rust: str: add is_ascii()\nrust: str: add is_empty()");
	free(text);
	/* K matched no rule: left alone, no row */
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM series_queue WHERE series_id = ?", k, NULL), 0);
	CHECK_TEXT(fx_series_state(w.s, k), "new");

	free(tip);
	pq_buf_free(&report);
	fx_world_close(&w);
}

int main(void)
{
	int ready;

	if (fx_init("routing") < 0)
		return 1;
	ready = fx_src_init() == 0 && make_mail() == 0;
	CHECK(ready);
	if (ready) {
		base = fx_rev("base");
		test_conditions_on_real_mail();
		test_two_queues();
		free(base);
	}
	fx_mail_free(&mail_a);
	fx_mail_free(&mail_s);
	fx_mail_free(&mail_t);
	fx_mail_free(&mail_k);
	fx_mail_free(&mail_b);
	fx_mail_free(&mail_l);
	fx_cleanup();
	CHECK_DONE();
}
