/*
 * test_policy: the triage and application state machine, end to end in
 * the library: mail made with `git format-patch` from a repository the
 * test builds, ingested into a real SQLite database, triaged by the rules
 * of a configuration the test writes, approved, rejected, applied to a
 * bare queue repository cloned from that repository, rebuilt, recovered
 * after a crash (a child killed at a crash point), and a whole pipeline
 * pass. Every assertion reads the states back from the database and the
 * branch tips from the repository.
 *
 * The mail (all by Alice, To the list):
 *   A   [PATCH 0/2] rust: str: helpers, two patches on str.rs, reviewed by
 *       Bob on the cover: the "dev" rule sends it to rust-dev, automatic
 *   A2  its v2 (different content)
 *   B   [PATCH rust-next] a new file: waits for approval on rust-next
 *   C   [PATCH 0/2] rust: print: levels, on print.rs: no rule; approved
 *       by hand while patch 2 is missing
 *   D   [PATCH rust-next] made on a commit never sent: applies nowhere
 *   E   [PATCH rust-fixes] a fix of print.rs
 *   F   [PATCH rust] aimed at the frozen queue
 *   G   a patch to lib.rs nobody reviewed yet: no rule, until a review
 *   H   a patch with Fixes: naming the base commit (on rust-next): the
 *       "fixes" rule (fixesIn = rust-next)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "queue_fixture.h"

#include "apply.h"
#include "approval.h"
#include "pipeline.h"
#include "rebuild.h"
#include "recover.h"
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
	"[queue \"rust\"]\n"       \
	"\tbranch = rust\n"        \
	"\tfrozen = true\n"        \
	"[rule \"frozen\"]\n"      \
	"\tqueue = rust\n"         \
	"\ttag = rust\n"           \
	"[rule \"fixes-tag\"]\n"   \
	"\tqueue = rust-fixes\n"   \
	"\ttag = rust-fixes\n"     \
	"[rule \"next\"]\n"        \
	"\tqueue = rust-next\n"    \
	"\ttag = rust-next\n"      \
	"[rule \"fixes\"]\n"       \
	"\tqueue = rust-fixes\n"   \
	"\tfixesIn = rust-next\n"  \
	"[rule \"dev\"]\n"         \
	"\tqueue = rust-dev\n"     \
	"\tfiles = rust/*\n"       \
	"\trfc = false\n"          \
	"\tminReviews = 1\n"       \
	"\tauto = true\n"

static struct fx_mail mail_a, mail_a2, mail_b, mail_c, mail_d, mail_e, mail_f, mail_g, mail_h;
static char *base; /* the base commit: where rust-next, rust-fixes and rust start */

/* ---- the fixture ---- */

static int make_mail(void)
{
	char *fixes;
	struct pq_buf t = PQ_BUF_INIT;
	int rc = 0;

	/* A and its v2 A2: two helpers on str.rs; B: a new file, for rust-next */
	rc |= fx_mail_str_helpers(&mail_a, &mail_a2);
	rc |= fx_mail_time(&mail_b);

	/* C: two patches on print.rs, sent without a tag */
	rc |= fx_topic("c", "base");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing.\n\n"
					     "pub fn pr_info(s: &str) {\n    let _ = s;\n}\n\n"
					     "pub fn pr_warn(s: &str) {\n    let _ = s;\n}\n");
	rc |= fx_commit("rust: print: add pr_warn()", "Warnings.", NULL);
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing.\n\n"
					     "pub fn pr_info(s: &str) {\n    let _ = s;\n}\n\n"
					     "pub fn pr_warn(s: &str) {\n    let _ = s;\n}\n\n"
					     "pub fn pr_err(s: &str) {\n    let _ = s;\n}\n");
	rc |= fx_commit("rust: print: add pr_err()", "Errors.", NULL);
	rc |= fx_format_patch(&mail_c, "rust: print: levels", "--cover-letter base..c");

	/* D: made on a rework that was never sent, so its context is nowhere */
	rc |= fx_topic("d", "base");
	fx_src_write("Documentation/rust/index.rst",
		     "Rust\n====\n\nline one\nline two\nline three\nline 4\nline 5\nline 6\n");
	rc |= fx_commit("docs: rust: spell out the first lines", NULL, NULL);
	fx_src_write("Documentation/rust/index.rst",
		     "Rust\n====\n\nline one\nline two\nline THREE\nline 4\nline 5\nline 6\n");
	rc |= fx_commit("docs: rust: stress line three", NULL, NULL);
	rc |= fx_format_patch(&mail_d, NULL, "--subject-prefix='PATCH rust-next' -1 d");

	/* E: a fix for rust-fixes */
	rc |= fx_topic("e", "base");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing.\n\n"
					     "pub fn pr_info(s: &str) {\n    drop(s);\n}\n");
	rc |= fx_commit("rust: print: use drop() in pr_info()", "Clearer.", NULL);
	rc |= fx_format_patch(&mail_e, NULL, "--subject-prefix='PATCH rust-fixes' -1 e");

	/* F: for the frozen branch */
	rc |= fx_topic("f", "base");
	fx_src_write("rust/kernel/lib.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! The kernel crate (old).\n\n"
					   "pub mod print;\npub mod str;\n");
	rc |= fx_commit("rust: kernel: the old way", NULL, NULL);
	rc |= fx_format_patch(&mail_f, NULL, "--subject-prefix='PATCH rust' -1 f");

	/* G: nobody reviewed it yet */
	rc |= fx_topic("g", "base");
	fx_src_write("rust/kernel/lib.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! The kernel crate, linked by every Rust driver.\n\n"
					   "pub mod print;\npub mod str;\n");
	rc |= fx_commit("rust: kernel: document the crate", NULL, NULL);
	rc |= fx_format_patch(&mail_g, NULL, "-1 g");

	/* H: Fixes: the base commit, which is on rust-next */
	rc |= fx_topic("h", "base");
	fx_src_write("rust/kernel/str.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! String helpers, in bytes.\n\n"
					   "pub fn len(s: &str) -> usize {\n    s.len()\n}\n");
	fixes = fx_out(fx_src, "git log -1 --format='%%h (\"%%s\")' --abbrev=12 base");
	pq_buf_addf(&t, "Fixes: %s", fixes);
	rc |= fx_commit("rust: str: say what len() counts", NULL, t.ptr);
	rc |= fx_format_patch(&mail_h, NULL, "-1 h");
	free(fixes);
	pq_buf_free(&t);
	return rc ? -1 : 0;
}

/* Bob's review of the message msgid (subject for the Re:). */
static int review(struct pq_store *s, const char *msgid, const char *subject, const char *id)
{
	char *raw = fx_reply_mail("Bob Reviewer <bob@example.org>", id, msgid, subject,
				  "Looks good.\n\nReviewed-by: Bob Reviewer <bob@example.org>\n");
	int rc = fx_ingest(s, raw);

	free(raw);
	return rc;
}

/* The series of the first message of m in w. */
static long long series_of(struct fx_world *w, const struct fx_mail *m)
{
	char *id = fx_msgid(m->v[0]);
	long long sid = fx_series_of(w->s, id);

	free(id);
	return sid;
}

static void check_state_at(struct pq_store *s, long long id, const char *queue, const char *want,
			   int line)
{
	char *got = queue ? fx_queue_state(s, id, queue) : fx_series_state(s, id);

	check_count++;
	if (!got != !want || (got && strcmp(got, want))) {
		fprintf(stderr, "%s:%d: series %lld%s%s is %s, expected %s\n", __FILE__, line, id,
			queue ? " on " : "", queue ? queue : "", got ? got : "(none)",
			want ? want : "(none)");
		check_failures++;
	}
	free(got);
}

/* series_queue.state of id on queue (or series.state when queue is NULL) is want (NULL: no row) */
#define CHECK_STATE(s, id, queue, want) check_state_at(s, id, queue, want, __LINE__)

static void check_tip_at(const struct fx_world *w, const char *branch, const char *want, int line)
{
	char *got = fx_tip(w, branch);

	check_count++;
	if (strcmp(got, want ? want : "")) {
		fprintf(stderr, "%s:%d: %s is at \"%s\", expected \"%s\"\n", __FILE__, line, branch,
			got, want ? want : "");
		check_failures++;
	}
	free(got);
}

#define CHECK_TIP(w, branch, want) check_tip_at(w, branch, want, __LINE__)

/* A line of report mentions series id. */
static int mentions(const struct pq_buf *report, long long id)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "series %lld:", id);
	return strstr(pq_buf_str(report), needle) != NULL;
}

static long long outbox_count(struct pq_store *s, long long id, const char *queue)
{
	return fx_num(s, "SELECT count(*) FROM outbox WHERE series_id = ? AND queue = ?", id,
		      queue);
}

static int triage(struct fx_world *w, struct pq_buf *report)
{
	int rc;

	pq_buf_reset(report);
	rc = pq_triage_run(w->s, w->c, w->repo, report);
	if (rc)
		fprintf(stderr, "triage: %d %s\n", rc, pq_error_last());
	return rc;
}

/* ---- triage, approval, rejection ---- */

static void test_triage_and_approvals(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct fx_world w;
	long long a, b, c, d, e, f, g, h, n;
	char *tip, *marks, *commits, *log, *msgid, *reason;

	if (fx_world_open(&w, "flow", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_a, -1), 0);
	msgid = fx_msgid(mail_a.v[0]);
	CHECK_INT(review(w.s, msgid, "[PATCH 0/2] rust: str: helpers", "review-a@example.org"), 0);
	free(msgid);
	CHECK_INT(fx_ingest_mail(w.s, &mail_b, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_c, 2), 0); /* patch 2/2 is late */
	CHECK_INT(fx_ingest_mail(w.s, &mail_d, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_e, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_f, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_g, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_h, -1), 0);
	a = series_of(&w, &mail_a);
	b = series_of(&w, &mail_b);
	c = series_of(&w, &mail_c);
	d = series_of(&w, &mail_d);
	e = series_of(&w, &mail_e);
	f = series_of(&w, &mail_f);
	g = series_of(&w, &mail_g);
	h = series_of(&w, &mail_h);
	CHECK(a && b && c && d && e && f && g && h);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM series", 0, NULL), 8);

	/* ---- the first triage ---- */
	CHECK_INT(triage(&w, &report), 0);

	/* A: reviewed, under rust/: the dev rule applies it to rust-dev at once */
	CHECK_STATE(w.s, a, "rust-dev", "applied");
	CHECK_STATE(w.s, a, NULL, "applied");
	CHECK_TEXT(fx_text(w.s, "SELECT rule FROM series_queue WHERE series_id = ? AND queue = ?",
			   a, "rust-dev"),
		   "dev");
	commits = fx_applied_commits(w.s, a, "rust-dev");
	log = fx_out(fx_root, "git --git-dir='%s' rev-list --reverse %s..rust-dev", w.git, base);
	CHECK_STR(commits, log);
	CHECK_INT(fx_count_str(log, "\n"), 1); /* two commits */
	free(commits);
	free(log);
	log = fx_log(&w, "%s", "rust-next..rust-dev");
	CHECK_STR(log, "rust: str: add is_ascii()\nrust: str: add is_empty()");
	free(log);
	/* the commits carry the review, the Link: and the maintainer's sign-off */
	log = fx_log(&w, "%B", "-1 rust-dev");
	CHECK(strstr(log, "Reviewed-by: Bob Reviewer <bob@example.org>") != NULL);
	CHECK(strstr(log, "Link: https://lore.example.org/r/") != NULL);
	CHECK(strstr(log, "Signed-off-by: Test Maint <maint@example.org>") != NULL);
	free(log);
	/* rust-dev does not reply; nothing else moved */
	CHECK_INT(outbox_count(w.s, a, "rust-dev"), 0);
	CHECK_TIP(&w, "rust-next", base);
	CHECK_TIP(&w, "rust-fixes", base);
	CHECK_TIP(&w, "rust", base);
	/* dry runs against every queue that is not frozen */
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM check_result WHERE series_id = ? AND ok", a,
			 NULL),
		  3);
	CHECK_INT(fx_num(w.s,
			 "SELECT count(*) FROM check_result WHERE series_id = ?"
			 " AND queue = ?",
			 a, "rust"),
		  0);

	/* B: the next rule; a whole tag, so "rust-next" is not caught by the frozen rule's "rust" */
	CHECK_STATE(w.s, b, "rust-next", "queued");
	CHECK_STATE(w.s, b, NULL, "queued");
	CHECK_STATE(w.s, b, "rust", NULL);
	CHECK(strstr(pq_buf_str(&report), "waits for approval") != NULL);

	/* C: incomplete, not looked at */
	CHECK_STATE(w.s, c, NULL, "new");
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM series_queue WHERE series_id = ?", c, NULL), 0);
	CHECK(!mentions(&report, c));

	/* D: queued by its tag; its dry run failed, but it only waits for
	 * approval: the maintainer's business (the to-do), no mail to the list */
	CHECK_STATE(w.s, d, "rust-next", "queued");
	reason = fx_text(w.s, "SELECT error FROM check_result WHERE series_id = ? AND queue = ?", d,
			 "rust-next");
	CHECK(reason && strstr(reason, "Documentation/rust/index.rst"));
	free(reason);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = ?", d,
			 "failed"),
		  0);

	/* E: its tag; F: aimed at the frozen queue, refused with a reason */
	CHECK_STATE(w.s, e, "rust-fixes", "queued");
	CHECK_STATE(w.s, f, "rust", "rejected");
	CHECK_STATE(w.s, f, NULL, "rejected");
	reason = fx_queue_reason(w.s, f, "rust");
	CHECK_STR(reason, "aimed at rust, which is frozen");
	free(reason);

	/* G: no rule; H: its Fixes: names a commit on rust-next (fixesIn) */
	CHECK_STATE(w.s, g, NULL, "new");
	CHECK(strstr(pq_buf_str(&report), "no rule matches") != NULL && mentions(&report, g));
	CHECK_STATE(w.s, h, "rust-fixes", "queued");
	CHECK_TEXT(fx_text(w.s, "SELECT rule FROM series_queue WHERE series_id = ? AND queue = ?",
			   h, "rust-fixes"),
		   "fixes");

	/* ---- a second triage looks at nothing that did not change ---- */
	marks = fx_text(w.s,
			"SELECT group_concat(id || ':' || coalesce(triaged, '-'))"
			" FROM series",
			0, NULL);
	n = fx_num(w.s, "SELECT count(*) FROM check_result", 0, NULL);
	CHECK_INT(triage(&w, &report), 0);
	CHECK_STR(pq_buf_str(&report), "");
	CHECK_TEXT(fx_text(w.s,
			   "SELECT group_concat(id || ':' || coalesce(triaged, '-'))"
			   " FROM series",
			   0, NULL),
		   marks);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM check_result", 0, NULL), n);
	free(marks);

	/* ---- B approved: applied on rust-next, with a reply ---- */
	pq_buf_reset(&report);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, b, "rust-next", &report), 0);
	CHECK_STATE(w.s, b, "rust-next", "applied");
	CHECK_STATE(w.s, b, NULL, "applied");
	tip = fx_tip(&w, "rust-next");
	CHECK_TEXT(fx_applied_commits(w.s, b, "rust-next"), tip);
	log = fx_log(&w, "%P", "-1 rust-next");
	CHECK_STR(log, base);
	free(log);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = ?", b,
			 "applied"),
		  1);

	/* ---- C approved while incomplete: recorded, applied when patch 2 arrives ---- */
	pq_buf_reset(&report);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, c, "rust-next", &report), 0);
	CHECK(strstr(pq_buf_str(&report), "1 missing patch(es)") != NULL);
	CHECK_STATE(w.s, c, "rust-next", "approved");
	CHECK_TIP(&w, "rust-next", tip);
	CHECK_INT(triage(&w, &report), 0);
	CHECK_STATE(w.s, c, "rust-next", "approved");
	CHECK_TIP(&w, "rust-next", tip);
	CHECK_INT(fx_ingest(w.s, mail_c.v[2]), 0);
	CHECK_INT(triage(&w, &report), 0);
	CHECK(strstr(pq_buf_str(&report), "approved for rust-next and now complete") != NULL);
	CHECK_STATE(w.s, c, "rust-next", "applied");
	CHECK_STATE(w.s, c, NULL, "applied");
	log = fx_out(fx_root, "git --git-dir='%s' log --format=%%s %s..rust-next", w.git, tip);
	CHECK_STR(log, "rust: print: add pr_err()\nrust: print: add pr_warn()");
	free(log);
	free(tip);
	tip = fx_tip(&w, "rust-next");

	/* ---- D approved: does not apply; failed, the file named, the branch as it was ---- */
	pq_buf_reset(&report);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, d, "rust-next", &report), PQ_EGIT);
	CHECK_STATE(w.s, d, "rust-next", "failed");
	CHECK_STATE(w.s, d, NULL, "failed");
	reason = fx_queue_reason(w.s, d, "rust-next");
	CHECK(reason && strstr(reason, "Documentation/rust/index.rst"));
	free(reason);
	CHECK(strstr(pq_buf_str(&report), "does not apply") != NULL);
	CHECK_TIP(&w, "rust-next", tip);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM application WHERE series_id = ?", d, NULL), 0);
	/* approved by a maintainer, not applied automatically: still no mail */
	CHECK_INT(outbox_count(w.s, d, "rust-next"), 0);
	/* unless the maintainer asks for it, once */
	{
		long long reply = 0;
		char *msg;

		CHECK_INT(pq_apply_reply_rebase(w.s, w.c, d, "rust-next", (int64_t)time(NULL),
						&reply),
			  0);
		CHECK(reply > 0);
		CHECK_INT(outbox_count(w.s, d, "rust-next"), 1);
		msg = fx_text(w.s, "SELECT message FROM outbox WHERE id = ?", reply, NULL);
		CHECK(msg && strstr(msg, "Please rebase it on rust-next") &&
		      strstr(msg, "Documentation/rust/index.rst"));
		free(msg);
		CHECK_INT(pq_apply_reply_rebase(w.s, w.c, d, "rust-next", (int64_t)time(NULL),
						&reply),
			  PQ_EEXISTS);
		/* a series that applies there: nothing to ask */
		CHECK_INT(pq_apply_reply_rebase(w.s, w.c, c, "rust-next", (int64_t)time(NULL),
						&reply),
			  PQ_EINVAL);
		CHECK_INT(outbox_count(w.s, d, "rust-next"), 1);
	}
	/* a queue chosen by hand, not by a rule: no reply about it */
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, d, "rust-fixes", &report), PQ_EGIT);
	CHECK_STATE(w.s, d, "rust-fixes", "failed");
	CHECK_INT(outbox_count(w.s, d, "rust-fixes"), 0);
	CHECK_TIP(&w, "rust-fixes", base);

	/* ---- E rejected everywhere; H rejected on one queue ---- */
	CHECK_INT(pq_approval_reject(w.s, e, NULL, "not a fix after all"), 0);
	CHECK_STATE(w.s, e, "rust-fixes", "rejected");
	CHECK_STATE(w.s, e, NULL, "rejected");
	reason = fx_queue_reason(w.s, e, "rust-fixes");
	CHECK_STR(reason, "not a fix after all");
	free(reason);
	CHECK_INT(pq_approval_reject(w.s, h, "rust-fixes", NULL), 0);
	CHECK_STATE(w.s, h, "rust-fixes", "rejected");
	CHECK_TIP(&w, "rust-fixes", base);

	/* ---- what cannot be approved ---- */
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, g, "rust", &report), PQ_EINVAL);
	CHECK(strstr(pq_error_last(), "frozen") != NULL);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, g, "no-such-queue", &report), PQ_EINVAL);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, 9999, "rust-next", &report), PQ_ENOTFOUND);
	CHECK_STATE(w.s, g, "rust", NULL);
	CHECK_STATE(w.s, g, "no-such-queue", NULL);
	CHECK_TIP(&w, "rust", base);

	/* ---- a review of G arrives: triage looks at G again, and only at G ---- */
	msgid = fx_msgid(mail_g.v[0]);
	CHECK_INT(review(w.s, msgid, "rust: kernel: document the crate", "review-g@example.org"),
		  0);
	free(msgid);
	CHECK_INT(triage(&w, &report), 0);
	CHECK(mentions(&report, g));
	CHECK(!mentions(&report, a) && !mentions(&report, b) && !mentions(&report, d) &&
	      !mentions(&report, h));
	CHECK_STATE(w.s, g, "rust-dev", "applied");
	log = fx_log(&w, "%s", "rust-next..rust-dev");
	/* on top of A: rust-dev is not rebuilt by triage */
	CHECK_STR(log, "rust: kernel: document the crate\nrust: str: add is_ascii()\n"
		       "rust: str: add is_empty()");
	free(log);
	log = fx_out(fx_root, "git --git-dir='%s' rev-list --count %s..rust-dev", w.git, base);
	CHECK_STR(log, "3");
	free(log);

	free(tip);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* ---- rebuilding rust-dev ---- */

static int due(struct fx_world *w, const char *queue, struct pq_buf *why)
{
	int d = -1, rc;

	pq_buf_reset(why);
	rc = pq_rebuild_due(w->s, w->repo, pq_config_queue(w->c, queue), &d, why);
	CHECK_INT(rc, 0);
	return rc ? -1 : d;
}

static void test_rebuild(void)
{
	struct pq_buf report = PQ_BUF_INIT, why = PQ_BUF_INIT;
	struct fx_world w;
	long long a, a2;
	char *tip0, *tip, *next, *msgid, *str, *rows, *list;

	if (fx_world_open(&w, "rebuild", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_a, -1), 0);
	msgid = fx_msgid(mail_a.v[0]);
	CHECK_INT(review(w.s, msgid, "[PATCH 0/2] rust: str: helpers", "review-a@example.org"), 0);
	free(msgid);
	CHECK_INT(fx_ingest_mail(w.s, &mail_b, -1), 0);
	a = series_of(&w, &mail_a);
	CHECK_INT(triage(&w, &report), 0);
	CHECK_STATE(w.s, a, "rust-dev", "applied");
	tip0 = fx_tip(&w, "rust-dev");

	/* never rebuilt: due; queues that are not rebuilt never are */
	CHECK_INT(due(&w, "rust-dev", &why), 1);
	CHECK(strstr(pq_buf_str(&why), "never rebuilt") != NULL);
	CHECK_INT(due(&w, "rust-next", &why), 0);
	CHECK_INT(due(&w, "rust", &why), 0);

	/* a rebuild on the same base with the same series changes no commit */
	pq_buf_reset(&report);
	CHECK_INT(pq_rebuild_queue(w.s, w.c, w.repo, "rust-dev", &report), 0);
	CHECK_TIP(&w, "rust-dev", tip0);
	CHECK_TEXT(fx_text(w.s, "SELECT tip FROM queue_base WHERE queue = ?2", 0, "rust-dev"),
		   base);
	CHECK_INT(due(&w, "rust-dev", &why), 0);
	CHECK_INT(pq_rebuild_queue(w.s, w.c, w.repo, "rust-next", &report), PQ_EINVAL);

	/* the base tip is kept in the database: a new connection agrees */
	CHECK_INT(fx_world_reopen(&w), 0);
	CHECK_INT(due(&w, "rust-dev", &why), 0);

	/* what arrives for no series on the queue changes nothing */
	CHECK_INT(fx_ingest_mail(w.s, &mail_g, -1), 0);
	CHECK_INT(triage(&w, &report), 0);
	CHECK_INT(due(&w, "rust-dev", &why), 0);

	/* the base moves (B approved on rust-next): due, and rebuilt on it */
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, series_of(&w, &mail_b), "rust-next", &report),
		  0);
	next = fx_tip(&w, "rust-next");
	CHECK(strcmp(next, base) != 0);
	CHECK_INT(due(&w, "rust-dev", &why), 1);
	CHECK(strstr(pq_buf_str(&why), "rust-next moved to") != NULL);
	pq_buf_reset(&report);
	CHECK_INT(pq_rebuild_queue(w.s, w.c, w.repo, "rust-dev", &report), 0);
	tip = fx_tip(&w, "rust-dev");
	CHECK(strcmp(tip, tip0) != 0);
	CHECK_INT(fx_sh(fx_root, "git --git-dir='%s' merge-base --is-ancestor rust-next rust-dev",
			w.git),
		  0);
	list = fx_out(fx_root, "git --git-dir='%s' rev-list --reverse rust-next..rust-dev", w.git);
	rows = fx_applied_commits(w.s, a, "rust-dev");
	CHECK_STR(rows, list);
	CHECK_INT(fx_count_str(list, "\n"), 1);
	free(rows);
	free(list);
	/* each rebuild records its commits anew and retires (keeps) the rows before */
	CHECK_INT(fx_num(w.s,
			 "SELECT count(*) FROM application WHERE series_id = ? AND queue = ?"
			 " AND NOT active",
			 a, "rust-dev"),
		  4);
	CHECK_INT(due(&w, "rust-dev", &why), 0);
	CHECK_INT(fx_world_reopen(&w), 0);
	CHECK_INT(due(&w, "rust-dev", &why), 0);

	/* a newer version of a series on it: due, and it takes the old one's place */
	CHECK_INT(fx_ingest_mail(w.s, &mail_a2, -1), 0);
	a2 = series_of(&w, &mail_a2);
	CHECK(a2 != 0 && a2 != a);
	CHECK_INT(fx_num(w.s, "SELECT supersedes FROM series WHERE id = ?", a2, NULL), a);
	CHECK_INT(due(&w, "rust-dev", &why), 1);
	CHECK(strstr(pq_buf_str(&why), "1 series on it has a newer version") != NULL);
	CHECK_TIP(&w, "rust-dev", tip); /* nothing moves until the rebuild */
	pq_buf_reset(&report);
	CHECK_INT(pq_rebuild_queue(w.s, w.c, w.repo, "rust-dev", &report), 0);
	CHECK(strstr(pq_buf_str(&report), "replaced by its newer version") != NULL);
	str = fx_out(fx_root, "git --git-dir='%s' show rust-dev:rust/kernel/str.rs", w.git);
	CHECK_INT(fx_count_str(str, "#[inline]"), 2);
	free(str);
	list = fx_out(fx_root, "git --git-dir='%s' rev-list --reverse rust-next..rust-dev", w.git);
	CHECK_TEXT(fx_applied_commits(w.s, a2, "rust-dev"), list);
	CHECK_TEXT(fx_applied_commits(w.s, a, "rust-dev"), NULL);
	CHECK_STATE(w.s, a2, "rust-dev", "applied");
	free(list);
	CHECK_INT(due(&w, "rust-dev", &why), 0);
	CHECK_INT(fx_world_reopen(&w), 0);
	CHECK_INT(due(&w, "rust-dev", &why), 0);

	free(tip0);
	free(tip);
	free(next);
	pq_buf_free(&report);
	pq_buf_free(&why);
	fx_world_close(&w);
}

/* ---- crashes ---- */

struct apply_args {
	long long id;
	const char *queue;
};

static void apply_in_child(struct fx_world *w, void *arg)
{
	const struct apply_args *a = arg;
	struct pq_buf report = PQ_BUF_INIT;

	pq_apply_series(w->s, w->c, w->repo, a->id, a->queue, 0, &report);
	pq_buf_free(&report);
}

static void test_crash_points(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct fx_world w;
	struct apply_args args = { 0, "rust-fixes" };
	long long b, e, h;
	char *tip, *list, *rows;

	if (fx_world_open(&w, "crash", CONF) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_e, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_h, -1), 0);
	e = series_of(&w, &mail_e);
	h = series_of(&w, &mail_h);
	CHECK_INT(triage(&w, &report), 0);
	CHECK_STATE(w.s, e, "rust-fixes", "queued");

	/* killed after the intent: recorded, the branch has not moved */
	args.id = e;
	CHECK(fx_killed_at(&w, "intent", apply_in_child, &args));
	CHECK_STATE(w.s, e, "rust-fixes", "applying");
	CHECK_TEXT(fx_text(w.s, "SELECT tip FROM series_queue WHERE series_id = ? AND queue = ?", e,
			   "rust-fixes"),
		   base);
	CHECK_TIP(&w, "rust-fixes", base);
	pq_buf_reset(&report);
	CHECK_INT(pq_recover_run(w.s, w.c, w.repo, &report), 0);
	CHECK(strstr(pq_buf_str(&report), "never moved") != NULL);
	CHECK_STATE(w.s, e, "rust-fixes", "approved");
	CHECK_TIP(&w, "rust-fixes", base);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM application WHERE series_id = ?", e, NULL), 0);

	/* killed after the branch moved: recovery records what is on the branch */
	CHECK(fx_killed_at(&w, "moved", apply_in_child, &args));
	CHECK_STATE(w.s, e, "rust-fixes", "applying");
	tip = fx_tip(&w, "rust-fixes");
	CHECK(strcmp(tip, base) != 0);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM application WHERE series_id = ?", e, NULL), 0);
	pq_buf_reset(&report);
	CHECK_INT(pq_recover_run(w.s, w.c, w.repo, &report), 0);
	CHECK(strstr(pq_buf_str(&report), "found on rust-fixes, recorded") != NULL);
	CHECK_STATE(w.s, e, "rust-fixes", "applied");
	CHECK_STATE(w.s, e, NULL, "applied");
	CHECK_TIP(&w, "rust-fixes", tip);
	list = fx_out(fx_root, "git --git-dir='%s' rev-list --reverse %s..rust-fixes", w.git, base);
	rows = fx_applied_commits(w.s, e, "rust-fixes");
	CHECK_STR(rows, list);
	CHECK_STR(rows, tip);
	free(rows);
	free(list);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = ?", e,
			 "applied"),
		  1);
	/* a second recovery finds nothing to do */
	pq_buf_reset(&report);
	CHECK_INT(pq_recover_run(w.s, w.c, w.repo, &report), 0);
	CHECK_STR(pq_buf_str(&report), "");
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM application WHERE series_id = ?", e, NULL), 1);

	/*
	 * B, not triaged yet, interrupted after the intent: triage leaves an
	 * application in flight to recovery (its rule would have queued it)
	 */
	CHECK_INT(fx_ingest_mail(w.s, &mail_b, -1), 0);
	b = series_of(&w, &mail_b);
	args.id = b;
	args.queue = "rust-next";
	CHECK(fx_killed_at(&w, "intent", apply_in_child, &args));
	CHECK_STATE(w.s, b, "rust-next", "applying");
	CHECK_INT(triage(&w, &report), 0);
	CHECK_STATE(w.s, b, "rust-next", "applying");
	CHECK(!mentions(&report, b));
	CHECK_INT(pq_recover_run(w.s, w.c, w.repo, &report), 0);
	CHECK_STATE(w.s, b, "rust-next", "approved");
	CHECK_INT(triage(&w, &report), 0);
	CHECK_STATE(w.s, b, "rust-next", "applied");
	rows = fx_applied_commits(w.s, b, "rust-next");
	CHECK_TIP(&w, "rust-next", rows);
	CHECK(rows && strcmp(rows, base) != 0);
	free(rows);
	args.queue = "rust-fixes";

	/* killed after the intent, and the branch moved elsewhere meanwhile: failed */
	args.id = h;
	CHECK(fx_killed_at(&w, "intent", apply_in_child, &args));
	CHECK_STATE(w.s, h, "rust-fixes", "applying");
	CHECK_INT(fx_sh(fx_root, "git --git-dir='%s' update-ref refs/heads/rust-fixes %s", w.git,
			base),
		  0);
	pq_buf_reset(&report);
	CHECK_INT(pq_recover_run(w.s, w.c, w.repo, &report), 0);
	CHECK(strstr(pq_buf_str(&report), "moved meanwhile") != NULL);
	CHECK_STATE(w.s, h, "rust-fixes", "failed");
	CHECK_TIP(&w, "rust-fixes", base);

	free(tip);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* ---- the pipeline ---- */

static long long maildir_files(const char *dir)
{
	char *n = fx_out(dir, "ls new | wc -l");
	long long v = atoll(n);

	free(n);
	return v;
}

static void test_pipeline(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct pq_pipeline_stats st;
	struct apply_args args = { 0, "rust-fixes" };
	struct fx_world w;
	long long a, b, d, e;
	char *msgid, *maildir = fx_path("outbox-dry-run");
	int64_t now = (int64_t)time(NULL);

	if (fx_world_open(&w, "pipe", CONF "[smtp]\n\tmaildir = outbox-dry-run\n") < 0) {
		CHECK(0);
		free(maildir);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_a, -1), 0);
	msgid = fx_msgid(mail_a.v[0]);
	CHECK_INT(review(w.s, msgid, "[PATCH 0/2] rust: str: helpers", "review-a@example.org"), 0);
	free(msgid);
	CHECK_INT(fx_ingest_mail(w.s, &mail_b, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_d, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_e, -1), 0);
	a = series_of(&w, &mail_a);
	b = series_of(&w, &mail_b);
	d = series_of(&w, &mail_d);
	e = series_of(&w, &mail_e);

	/* an application a crash interrupted, before any pass */
	args.id = e;
	CHECK(fx_killed_at(&w, "intent", apply_in_child, &args));
	CHECK_STATE(w.s, e, "rust-fixes", "applying");

	/* a pass without recovery leaves it; the rest flows */
	CHECK_INT(pq_pipeline_run(w.s, w.c, 0, now, &report, &st), 0);
	CHECK_STATE(w.s, e, "rust-fixes", "applying");
	CHECK_STATE(w.s, a, "rust-dev", "applied");
	CHECK_STATE(w.s, b, "rust-next", "queued");
	CHECK_STATE(w.s, d, "rust-next", "queued");
	CHECK_INT(st.rebuilt, 1); /* rust-dev was never rebuilt */
	CHECK(strstr(pq_buf_str(&report), "rust-dev: rebuild due") != NULL);
	/* D does not apply but only waits for approval: no mail to the list */
	CHECK_INT(st.sent, 0);
	CHECK_INT(st.retry + st.failed, 0);
	CHECK_INT(maildir_files(maildir), 0);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox", 0, NULL), 0);
	/* until the maintainer asks for it */
	{
		long long reply;

		CHECK_INT(pq_apply_reply_rebase(w.s, w.c, d, "rust-next", now, &reply), 0);
	}

	/* with recovery: E goes back to approved and the same pass applies it;
	 * its reply and the one asked for D go */
	pq_buf_reset(&report);
	CHECK_INT(pq_pipeline_run(w.s, w.c, PQ_PIPELINE_RECOVER, now, &report, &st), 0);
	CHECK(strstr(pq_buf_str(&report), "never moved") != NULL);
	CHECK_STATE(w.s, e, "rust-fixes", "applied");
	CHECK_INT(st.rebuilt, 0);
	CHECK_INT(st.sent, 2);
	CHECK_INT(maildir_files(maildir), 2);

	/* B approved, a pass that leaves the outbox alone, then one that sends */
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, b, "rust-next", &report), 0);
	pq_buf_reset(&report);
	CHECK_INT(pq_pipeline_run(w.s, w.c, PQ_PIPELINE_NO_OUTBOX, now, &report, &st), 0);
	CHECK_INT(st.sent, 0);
	CHECK_INT(st.rebuilt, 1); /* rust-next moved under rust-dev */
	CHECK_INT(fx_sh(fx_root, "git --git-dir='%s' merge-base --is-ancestor rust-next rust-dev",
			w.git),
		  0);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE state = ?2", 0, "pending"), 1);
	pq_buf_reset(&report);
	CHECK_INT(pq_pipeline_run(w.s, w.c, PQ_PIPELINE_RECOVER, now, &report, &st), 0);
	CHECK_INT(st.sent, 1);
	CHECK_INT(st.rebuilt, 0);
	CHECK_INT(maildir_files(maildir), 3);

	/* nothing left: a pass does nothing */
	pq_buf_reset(&report);
	CHECK_INT(pq_pipeline_run(w.s, w.c, PQ_PIPELINE_RECOVER, now, &report, &st), 0);
	CHECK_STR(pq_buf_str(&report), "");
	CHECK_INT(st.sent + st.rebuilt + st.retry + st.failed, 0);
	CHECK_INT(maildir_files(maildir), 3);

	free(maildir);
	pq_buf_free(&report);
	fx_world_close(&w);
}

int main(void)
{
	int ready;

	if (fx_init("policy") < 0)
		return 1;
	ready = fx_src_init() == 0 && make_mail() == 0;
	CHECK(ready);
	if (ready) {
		base = fx_rev("base");
		test_triage_and_approvals();
		test_rebuild();
		test_crash_points();
		test_pipeline();
		free(base);
	}
	fx_mail_free(&mail_a);
	fx_mail_free(&mail_a2);
	fx_mail_free(&mail_b);
	fx_mail_free(&mail_c);
	fx_mail_free(&mail_d);
	fx_mail_free(&mail_e);
	fx_mail_free(&mail_f);
	fx_mail_free(&mail_g);
	fx_mail_free(&mail_h);
	fx_cleanup();
	CHECK_DONE();
}
