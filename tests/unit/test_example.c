/*
 * test_example: the rules of contrib/patchq.conf.example itself (its path
 * is argv[1]; only the database and repository paths are replaced), on
 * series shaped like the Rust-for-Linux list's: `git format-patch` mail
 * from a repository the test builds, ingested into a real database,
 * explained (`why`) and triaged. Where each lands is what the maintainers
 * did with such series: rust fixes to rust-fixes, rust features to
 * rust-dev (automatically, once reviewed) and rust-next (for approval),
 * and other subsystems' series, kbuild, perf, a kbuild revert and RFCs
 * nowhere.
 *
 * The mail (all by Alice, To the list), on a base with rust/, scripts/,
 * drivers/gpu/nova-core/ and tools/perf/ files:
 *   F  [PATCH] rust: str: fix len(), Fixes: the base commit
 *   S  [PATCH] rust: kbuild: allow a lint, the top Makefile only, Cc:
 *      stable as a trailer and no Fixes:, reviewed
 *   N  [PATCH 0/2] rust: kernel: add the time module, two patches under
 *      rust/kernel, reviewed on the cover letter once triaged (as patchqd
 *      does, the series is complete before its review comes)
 *   D  [PATCH 0/2] gpu: nova-core: GSP buffers: a "rust: dma: ..." helper
 *      and a driver patch with most of the lines, reviewed
 *   X  [PATCH 0/2] gpu: nova-core: fix the GSP allocation: the same shape,
 *      mostly in rust/, with a Fixes: (as drm-rust-fixes takes them)
 *   K  [PATCH] kbuild: fix the flags, scripts/ and one rust/Makefile line,
 *      Fixes: and Cc: stable
 *   P  [PATCH] perf tools: fix the build, tools/perf, Fixes:
 *   R  [PATCH] Revert "kbuild: add a flag", Fixes:
 *   V  [PATCH] Revert "rust: print: ...", rust/ only, Fixes:
 *   C  [RFC PATCH] rust: kernel: add sleep(), reviewed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "queue_fixture.h"

#include "approval.h"
#include "state.h"
#include "triage.h"

static const char *example;
static struct fx_mail mail_f, mail_s, mail_n, mail_d, mail_x, mail_k, mail_p, mail_r, mail_v,
	mail_c;
static char *base, *flag_commit;

/* base's files, and the kbuild commit R reverts; rust-next, rust-fixes, rust and base at it */
static int make_base(void)
{
	int rc = 0;

	fx_src_write("Makefile", "all:\n\t@true\n");
	fx_src_write("rust/Makefile", "RUSTFLAGS := -O\n");
	fx_src_write("scripts/Makefile.build",
		     "# the build\nCFLAGS := -O2\nLDFLAGS :=\nAFLAGS :=\nobj-y :=\n");
	fx_src_write("rust/kernel/dma.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! DMA.\n\npub struct Coherent;\n");
	fx_src_write("drivers/gpu/nova-core/gsp.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n//! GSP.\n\n"
		     "pub fn boot() {\n}\n\npub fn alloc() {\n}\n");
	fx_src_write("tools/perf/Makefile.perf", "perf:\n\t@true\n");
	rc |= fx_commit("kbuild: add the build files", NULL, NULL);
	fx_src_write("scripts/Makefile.build",
		     "# the build\nCFLAGS := -O2 -fno-strict-overflow\nLDFLAGS :=\nAFLAGS :=\n"
		     "obj-y :=\n");
	rc |= fx_commit("kbuild: add a flag", NULL, NULL);
	rc |= fx_git("tag -f base") | fx_git("branch -f rust-next") |
	      fx_git("branch -f rust-fixes") | fx_git("branch -f rust");
	return rc ? -1 : 0;
}

static int make_mail(void)
{
	struct pq_buf t = PQ_BUF_INIT;
	char *first = fx_rev("base~2");
	int rc = 0;

	/* F: a rust fix naming the commit it fixes */
	pq_buf_addf(&t, "Fixes: %.12s (\"rust: kernel: start the crate\")", first);
	rc |= fx_topic("f", "base");
	fx_src_write("rust/kernel/str.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! String helpers.\n\n"
					   "pub fn len(s: &str) -> usize {\n"
					   "    s.as_bytes().len()\n}\n");
	rc |= fx_commit("rust: str: fix len() for multibyte strings", NULL, t.ptr);
	rc |= fx_format_patch(&mail_f, NULL, "-1 f");

	/* S: Cc: stable only, in the top Makefile only */
	rc |= fx_topic("s", "base");
	fx_src_write("Makefile", "all:\n\t@true\nKBUILD_RUSTFLAGS += -Aunused_features\n");
	rc |= fx_commit("rust: kbuild: allow `unused_features`", NULL,
			"Cc: stable@vger.kernel.org # v6.12+");
	rc |= fx_format_patch(&mail_s, NULL, "-1 s");

	/* N: a rust feature under rust/kernel */
	rc |= fx_topic("n", "base");
	fx_src_write("rust/kernel/time.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! Time.\n\npub const NSEC_PER_SEC: u64 = 1_000_000_000;\n");
	fx_src_write("rust/kernel/lib.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! The kernel crate.\n\n"
					   "pub mod print;\npub mod str;\npub mod time;\n");
	rc |= fx_commit("rust: kernel: add the time module", NULL, NULL);
	fx_src_write("rust/kernel/time.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! Time.\n\npub const NSEC_PER_SEC: u64 = 1_000_000_000;\n\n"
		     "pub fn ms_to_ns(ms: u64) -> Option<u64> {\n"
		     "    ms.checked_mul(1_000_000)\n}\n");
	rc |= fx_commit("rust: time: add ms_to_ns()", NULL, NULL);
	rc |= fx_format_patch(&mail_n, "rust: kernel: add the time module",
			      "--cover-letter base..n");

	/* D: a driver series with a small rust helper */
	rc |= fx_topic("d", "base");
	fx_src_write("rust/kernel/dma.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! DMA.\n\npub struct Coherent;\n\n"
					   "impl Coherent {\n}\n");
	rc |= fx_commit("rust: dma: add an impl block", NULL, NULL);
	fx_src_write("drivers/gpu/nova-core/gsp.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n//! GSP.\n\n"
		     "pub fn boot() {\n    let a = 1;\n    let b = 2;\n    let c = 3;\n"
		     "    let d = 4;\n    let _ = a + b + c + d;\n}\n\n"
		     "pub fn alloc() {\n    let e = 5;\n    let f = 6;\n    let _ = e + f;\n}\n");
	rc |= fx_commit("gpu: nova-core: set up the GSP buffers", NULL, NULL);
	rc |= fx_format_patch(&mail_d, "gpu: nova-core: GSP buffers", "--cover-letter base..d");

	/* X: the same shape, mostly rust/, a fix: its driver's tree takes it */
	rc |= fx_topic("x", "base");
	fx_src_write("rust/kernel/dma.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! DMA.\n\npub struct Coherent;\n\n"
		     "impl Coherent {\n    pub fn read(&self) -> u32 {\n        0\n    }\n\n"
		     "    pub fn write(&self, _v: u32) {\n    }\n}\n");
	rc |= fx_commit("rust: dma: add read() and write()", NULL, NULL);
	fx_src_write("drivers/gpu/nova-core/gsp.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n//! GSP.\n\n"
		     "pub fn boot() {\n}\n\npub fn alloc() {\n    // on the heap\n}\n");
	rc |= fx_commit("gpu: nova-core: fix stack overflow in the GSP allocation", NULL, t.ptr);
	rc |= fx_format_patch(&mail_x, "gpu: nova-core: fix the GSP allocation",
			      "--cover-letter base..x");

	/* K: kbuild, mostly scripts/, one line of rust/Makefile */
	rc |= fx_topic("k", "base");
	fx_src_write("scripts/Makefile.build", "# the build, fixed\nCFLAGS := -O2\nLDFLAGS := -s\n"
					       "AFLAGS := -g\nobj-y := built-in.a\n");
	fx_src_write("rust/Makefile", "RUSTFLAGS := -O -g\n");
	pq_buf_adds(&t, "\nCc: stable@vger.kernel.org");
	rc |= fx_commit("kbuild: fix the flags", NULL, t.ptr);
	rc |= fx_format_patch(&mail_k, NULL, "-1 k");

	/* P: tools/perf, with a Fixes: */
	rc |= fx_topic("p", "base");
	fx_src_write("tools/perf/Makefile.perf", "perf:\n\t@true\n\nclean:\n\t@true\n");
	rc |= fx_commit("perf tools: fix the clean target", NULL, t.ptr);
	rc |= fx_format_patch(&mail_p, NULL, "-1 p");

	/* R: a revert of a kbuild commit, with a Fixes: */
	rc |= fx_topic("r", "base");
	rc |= fx_git("revert --no-edit HEAD");
	rc |= fx_git("reset -q --soft HEAD~1");
	pq_buf_reset(&t);
	pq_buf_addf(&t, "Fixes: %.12s (\"kbuild: add a flag\")", flag_commit);
	rc |= fx_commit("Revert \"kbuild: add a flag\"", "The flag breaks the build.", t.ptr);
	rc |= fx_format_patch(&mail_r, NULL, "-1 r");

	/* V: a revert of a rust commit, with a Fixes:: no prefix, all in rust/ */
	rc |= fx_topic("v", "base");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					     "//! Printing.\n\npub fn pr_info(_s: &str) {\n}\n");
	pq_buf_reset(&t);
	pq_buf_addf(&t, "Fixes: %.12s (\"rust: kernel: start the crate\")", first);
	rc |= fx_commit("Revert \"rust: print: use the argument\"", NULL, t.ptr);
	rc |= fx_format_patch(&mail_v, NULL, "-1 v");

	/* C: an RFC under rust/ */
	rc |= fx_topic("c", "base");
	fx_src_write("rust/kernel/lib.rs",
		     "// SPDX-License-Identifier: GPL-2.0\n\n"
		     "//! The kernel crate.\n\n"
		     "pub mod print;\npub mod str;\n\npub fn sleep(_ms: u64) {}\n");
	rc |= fx_commit("rust: kernel: add sleep()", NULL, NULL);
	rc |= fx_format_patch(&mail_c, NULL, "--rfc -1 c");

	free(first);
	pq_buf_free(&t);
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

static long long series_of(struct pq_store *s, const struct fx_mail *m)
{
	char *id = fx_msgid(m->v[0]);
	long long sid = fx_series_of(s, id);

	free(id);
	return sid;
}

/*
 * A world on the example: w's repository cloned from src, the example's
 * text with its database and repository paths replaced (nothing else), loaded.
 */
static int world_open(struct fx_world *w, const char *name)
{
	struct pq_buf b = PQ_BUF_INIT;
	char *text = fx_read(example);
	int rc = -1;

	memset(w, 0, sizeof(*w));
	w->name = pq_strdup(name);
	pq_buf_addf(&b, "%s.git", name);
	w->git = fx_path(b.ptr);
	pq_buf_reset(&b);
	pq_buf_addf(&b, "%s.conf", name);
	w->conf = fx_path(b.ptr);
	pq_buf_reset(&b);
	pq_buf_addf(&b, "%s.db", name);
	w->db = fx_path(b.ptr);
	pq_buf_reset(&b);
	if (!text || !strstr(text, "/var/lib/patchq/patchq.db") ||
	    !strstr(text, "/var/lib/patchq/linux.git")) {
		fprintf(stderr, "%s: no database or repository path to replace\n", example);
		goto out;
	}
	if (fx_sh(fx_root, "git clone -q --bare '%s' '%s'", fx_src, w->git))
		goto out;
	pq_buf_adds(&b, text);
	fx_replace(&b, "/var/lib/patchq/patchq.db", w->db);
	fx_replace(&b, "/var/lib/patchq/linux.git", w->git);
	fx_write(w->conf, pq_buf_str(&b));
	if (pq_config_load(&w->c, w->conf) < 0) {
		fprintf(stderr, "%s: %s\n", example, pq_error_last());
		goto out;
	}
	rc = fx_world_reopen(w) < 0 ? -1 : 0;
out:
	free(text);
	pq_buf_free(&b);
	return rc;
}

/* Whether why of id holds want; says what it holds when not. */
static int why_has(struct fx_world *w, long long id, const char *want)
{
	char *text = fx_why(w, id);
	int ok = text && strstr(text, want) != NULL;

	if (!ok)
		fprintf(stderr, "why %lld lacks \"%s\":\n%s", id, want, text ? text : "");
	free(text);
	return ok;
}

/* The queues of series id with their states, "queue:state" by queue, blank-separated. */
static char *queues_of(struct pq_store *s, long long id)
{
	char *text = fx_text(s,
			     "SELECT group_concat(queue || ':' || state, ' ') FROM (SELECT queue,"
			     " state FROM series_queue WHERE series_id = ? ORDER BY queue)",
			     id, NULL);

	return text ? text : pq_strdup("");
}

static void test_example_routes_as_maintainers_do(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct fx_world w;
	long long f, s, n, d, x, k, p, r, v, c;
	char *next_tip, *fixes_tip, *text;

	if (world_open(&w, "example") < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(fx_ingest_mail(w.s, &mail_f, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_s, -1), 0);
	CHECK_INT(review(w.s, &mail_s, 0, "rs@example.org"), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_n, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_d, -1), 0);
	CHECK_INT(review(w.s, &mail_d, 0, "rd@example.org"), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_x, -1), 0);
	CHECK_INT(review(w.s, &mail_x, 0, "rx@example.org"), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_k, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_p, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_r, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_v, -1), 0);
	CHECK_INT(fx_ingest_mail(w.s, &mail_c, -1), 0);
	CHECK_INT(review(w.s, &mail_c, 0, "rc@example.org"), 0);
	f = series_of(w.s, &mail_f);
	s = series_of(w.s, &mail_s);
	n = series_of(w.s, &mail_n);
	d = series_of(w.s, &mail_d);
	x = series_of(w.s, &mail_x);
	k = series_of(w.s, &mail_k);
	p = series_of(w.s, &mail_p);
	r = series_of(w.s, &mail_r);
	v = series_of(w.s, &mail_v);
	c = series_of(w.s, &mail_c);
	CHECK(f && s && n && d && x && k && p && r && v && c);

	/* N before its review: rust-next only, and why rust-dev waits */
	CHECK_TEXT(fx_why_rule(&w, n, "dev"),
		   "0 of 2 patches reviewed; the rule needs every patch reviewed at least 1 "
		   "time(s); short: 1/2 (0), 2/2 (0)");
	CHECK_TEXT(fx_why_rule(&w, n, "next"), "matches");
	/* triaged so, as patchqd does when the series is complete: waits on rust-next */
	next_tip = fx_tip(&w, "rust-next");
	fixes_tip = fx_tip(&w, "rust-fixes");
	CHECK_INT(pq_triage_run(w.s, w.c, w.repo, &report), 0);
	CHECK_TEXT(queues_of(w.s, n), "rust-next:queued");
	/* the review arrives: the next pass adds rust-dev, rust-next keeps waiting */
	CHECK_INT(review(w.s, &mail_n, 0, "rn@example.org"), 0);

	/* the fixes: Fixes:, or only Cc: stable (reviewed: still no feature for rust-dev) */
	CHECK_TEXT(fx_why_rule(&w, f, "fixes"), "matches");
	CHECK(why_has(&w, f,
		      "=> queue rust-fixes (rust-fixes), waits for a maintainer's approval\n"));
	CHECK_TEXT(fx_why_rule(&w, f, "dev"), "not evaluated, an earlier rule matched");
	CHECK_TEXT(fx_why_rule(&w, s, "fixes"), "no Fixes: trailer");
	CHECK_TEXT(fx_why_rule(&w, s, "stable"), "matches");
	CHECK(why_has(&w, s,
		      "=> queue rust-fixes (rust-fixes), waits for a maintainer's approval\n"));
	/* a revert has no prefix: its lines, all in rust/, make it a rust fix */
	CHECK_TEXT(fx_why_rule(&w, v, "fixes"), "no subject prefix rust:; the subjects have none");
	CHECK_TEXT(fx_why_rule(&w, v, "fixes-rust-lines"), "matches");
	/* the feature: two queues */
	CHECK(why_has(&w, n,
		      "=> queue rust-dev (rust-dev), applied automatically (rule \"dev\")\n"
		      "=> queue rust-next (rust-next), waits for a maintainer's approval "
		      "(rule \"next\")\n"));
	/* not the Rust tree's */
	CHECK_TEXT(fx_why_rule(&w, d, "next"),
		   "27% of the changed lines (3 of 11) in files matching rust/* (or others), "
		   "needs 50%");
	CHECK_TEXT(fx_why_rule(&w, x, "fixes"),
		   "touches drivers/gpu/nova-core/gsp.rs, which matches drivers/*");
	CHECK_TEXT(fx_why_rule(&w, x, "dev"), "has a Fixes: trailer");
	CHECK_TEXT(fx_why_rule(&w, k, "stable"),
		   "no subject prefix rust:; the subjects have kbuild:");
	CHECK_TEXT(fx_why_rule(&w, p, "fixes"), "no subject prefix rust:; the subjects have none");
	CHECK_TEXT(fx_why_rule(&w, r, "fixes-rust-lines"),
		   "0% of the changed lines (0 of 2) in files matching rust/* (or others), "
		   "needs 50%");
	CHECK_TEXT(fx_why_rule(&w, c, "dev"), "is an RFC");
	CHECK(why_has(&w, c, "=> no rule matches: the series goes to no queue\n"));

	pq_buf_reset(&report);
	CHECK_INT(pq_triage_run(w.s, w.c, w.repo, &report), 0);
	if (check_failures)
		fprintf(stderr, "%s", pq_buf_str(&report));
	/* the second pass looked only at N: nothing else arrived */
	CHECK(strstr(pq_buf_str(&report), "queued for rust-dev (rule dev), applying") != NULL);
	CHECK(strstr(pq_buf_str(&report), "rust-next") == NULL);
	CHECK(strstr(pq_buf_str(&report), "rust-fixes") == NULL);

	CHECK_TEXT(queues_of(w.s, f), "rust-fixes:queued");
	CHECK_TEXT(queues_of(w.s, s), "rust-fixes:queued");
	CHECK_TEXT(queues_of(w.s, v), "rust-fixes:queued");
	CHECK_TEXT(queues_of(w.s, n), "rust-dev:applied rust-next:queued");
	CHECK_TEXT(fx_text(w.s, "SELECT rule FROM series_queue WHERE series_id = ? AND queue = ?",
			   s, "rust-fixes"),
		   "stable");
	CHECK_TEXT(queues_of(w.s, d), "");
	CHECK_TEXT(queues_of(w.s, x), "");
	CHECK_TEXT(queues_of(w.s, k), "");
	CHECK_TEXT(queues_of(w.s, p), "");
	CHECK_TEXT(queues_of(w.s, r), "");
	CHECK_TEXT(queues_of(w.s, c), "");
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM series_queue", 0, NULL), 5);

	/* only rust-dev moved: rust-next and rust-fixes wait for a maintainer */
	text = fx_tip(&w, "rust-next");
	CHECK_STR(text, next_tip);
	free(text);
	text = fx_tip(&w, "rust-fixes");
	CHECK_STR(text, fixes_tip);
	free(text);
	text = fx_log(&w, "%s", "rust-next..rust-dev");
	CHECK_STR(text, "rust: time: add ms_to_ns()\nrust: kernel: add the time module");
	free(text);

	/* the maintainer approves the fix: rust-fixes takes it */
	pq_buf_reset(&report);
	CHECK_INT(pq_approval_grant(w.s, w.c, w.repo, f, "rust-fixes", &report), 0);
	CHECK_TEXT(queues_of(w.s, f), "rust-fixes:applied");
	text = fx_log(&w, "%s", "base..rust-fixes");
	CHECK_STR(text, "rust: str: fix len() for multibyte strings");
	free(text);

	free(next_tip);
	free(fixes_tip);
	pq_buf_free(&report);
	fx_world_close(&w);
}

int main(int argc, char **argv)
{
	int ready;

	if (argc != 2) {
		fprintf(stderr, "usage: test_example PATH/contrib/patchq.conf.example\n");
		return 2;
	}
	example = argv[1];
	if (fx_init("example") < 0)
		return 1;
	ready = fx_src_init() == 0 && make_base() == 0;
	if (ready) {
		base = fx_rev("base");
		flag_commit = fx_rev("base");
		ready = make_mail() == 0;
	}
	CHECK(ready);
	if (ready)
		test_example_routes_as_maintainers_do();
	free(base);
	free(flag_commit);
	fx_mail_free(&mail_f);
	fx_mail_free(&mail_s);
	fx_mail_free(&mail_n);
	fx_mail_free(&mail_d);
	fx_mail_free(&mail_x);
	fx_mail_free(&mail_k);
	fx_mail_free(&mail_p);
	fx_mail_free(&mail_r);
	fx_mail_free(&mail_v);
	fx_mail_free(&mail_c);
	fx_cleanup();
	CHECK_DONE();
}
