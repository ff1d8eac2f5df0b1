/*
 * test_rules: pq_rules_decide, the pure decision of which queue a series
 * goes to. Each configuration is a file the test writes (so the rules
 * carry a real file and line), each input is built by hand: first match
 * wins, every condition on its own, the automatic flag from the rule or
 * the queue, a frozen target, and the explanation line by line.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "config.h"
#include "error.h"
#include "rules.h"

static char tmp_root[] = "/tmp/pq-test-rules-XXXXXX";
static char *conf_path;

/* The required keys and four queues: 16 lines, so the rules start at line 17. */
#define HEAD                                             \
	"[patchq]\n"                                     \
	"\tdatabase = /srv/patchq.db\n"                  \
	"\trepository = /srv/linux.git\n"                \
	"\tcommitter = Test Maint <maint@example.org>\n" \
	"[queue \"rust-next\"]\n"                        \
	"\tbranch = rust-next\n"                         \
	"[queue \"rust-fixes\"]\n"                       \
	"\tbranch = rust-fixes\n"                        \
	"[queue \"rust-dev\"]\n"                         \
	"\tbranch = rust-dev\n"                          \
	"\tbase = rust-next\n"                           \
	"\trebuild = true\n"                             \
	"\tauto = true\n"                                \
	"[queue \"rust\"]\n"                             \
	"\tbranch = rust\n"                              \
	"\tfrozen = true\n"
#define FIRST_RULE_LINE 17

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/* The configuration HEAD followed by rules; NULL (and a failed check) when it does not load. */
static struct pq_config *load_at(const char *rules, int line)
{
	struct pq_config *c = NULL;
	FILE *f = fopen(conf_path, "w");
	int rc;

	CHECK(f != NULL);
	if (!f)
		return NULL;
	fputs(HEAD, f);
	fputs(rules, f);
	fclose(f);
	rc = pq_config_load(&c, conf_path);
	CHECK_INT(rc, 0);
	if (rc)
		fprintf(stderr, "  (test line %d) config: %s\n", line, pq_error_last());
	return c;
}

#define load(rules) load_at(rules, __LINE__)

/* Splits the space-separated words of s into a malloc'd list, as the loader would own it. */
static char **words(const char *s, size_t *n)
{
	char **v = NULL;

	*n = 0;
	while (s && *s) {
		size_t len = strcspn(s, " ");

		if (len) {
			v = pq_reallocarray(v, *n + 1, sizeof(*v));
			v[(*n)++] = pq_strndup(s, len);
		}
		s += len + (s[len] == ' ');
	}
	return v;
}

/* What a series looks like to the rules; the lists are space separated. */
struct spec {
	const char *tags;
	const char *files;
	const char *sender;
	int fixes;
	const char *fixes_on;
	int rfc;
	int version;
	int reviews;
};

static void input_from(struct pq_rules_input *in, const struct spec *sp)
{
	memset(in, 0, sizeof(*in));
	in->tags = words(sp->tags, &in->ntags);
	in->files = words(sp->files, &in->nfiles);
	in->sender = pq_strdup(sp->sender ? sp->sender : "alice@example.org");
	in->has_fixes = sp->fixes;
	if (sp->fixes)
		in->fixes = words("0123456789ab", &in->nfixes);
	in->fixes_on = words(sp->fixes_on, &in->nfixes_on);
	in->rfc = sp->rfc;
	in->version = sp->version ? sp->version : 1;
	in->reviews = sp->reviews;
}

/*
 * Decides on sp with c: the name of the rule that matched (NULL when
 * none) and, when asked, the automatic flag, the queue and the explanation.
 */
struct decision {
	int matched;
	const char *rule;
	const char *queue;
	int automatic;
	int frozen;
	char *explain;
};

static struct decision decide(const struct pq_config *c, const struct spec *sp)
{
	struct pq_rules_input in;
	struct pq_rules_verdict v;
	struct pq_buf explain = PQ_BUF_INIT;
	struct decision d;

	memset(&d, 0, sizeof(d));
	if (!c)
		return d;
	input_from(&in, sp);
	d.matched = pq_rules_decide(c, &in, &v, &explain);
	pq_rules_input_free(&in);
	CHECK(in.tags == NULL && in.sender == NULL && in.ntags == 0);
	/* the verdict and the return value say the same */
	CHECK_INT(d.matched, v.rule != NULL);
	d.rule = v.rule ? v.rule->name : NULL;
	d.queue = v.queue ? v.queue->name : NULL;
	d.automatic = v.automatic;
	d.frozen = v.queue ? v.queue->frozen : 0;
	d.explain = pq_buf_detach(&explain);
	return d;
}

/* The rule that matches sp under c, or NULL; the explanation dropped. */
static const char *rule_for(const struct pq_config *c, const struct spec *sp)
{
	struct decision d = decide(c, sp);

	free(d.explain);
	return d.rule;
}

/* The explanation's line for rule name, without the "rule ... (file:line): " part. */
static char *why_line(const char *explain, const char *name)
{
	struct pq_buf head = PQ_BUF_INIT;
	const char *p, *colon, *nl;
	char *out = NULL;

	pq_buf_addf(&head, "rule \"%s\" (", name);
	for (p = explain; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		if (!strncmp(p, head.ptr, head.len) && (colon = strstr(p, "): ")) && colon < nl) {
			out = pq_strndup(colon + 3, (size_t)(nl - colon - 3));
			break;
		}
	}
	pq_buf_free(&head);
	return out;
}

/* Decides sp and checks what the explanation says of rule name. */
static void expect_why_at(const struct pq_config *c, const struct spec *sp, const char *name,
			  const char *why, int line)
{
	struct decision d = decide(c, sp);
	char *got = why_line(d.explain, name);

	check_count++;
	if (!got || strcmp(got, why)) {
		fprintf(stderr, "%s:%d: rule \"%s\": \"%s\", expected \"%s\"\n", __FILE__, line,
			name, got ? got : "(no line)", why);
		check_failures++;
	}
	free(got);
	free(d.explain);
}

#define expect_why(c, sp, name, why) expect_why_at(c, sp, name, why, __LINE__)

static void test_first_matching_rule_wins(void)
{
	struct pq_config *c = load("[rule \"one\"]\n"
				   "\tqueue = rust-next\n"
				   "\ttag = x\n"
				   "[rule \"two\"]\n"
				   "\tqueue = rust-fixes\n"
				   "\ttag = x\n"
				   "[rule \"three\"]\n"
				   "\tqueue = rust-dev\n");
	struct spec both = { .tags = "x" }, other = { .tags = "y" };
	struct decision d = decide(c, &both);

	CHECK_STR(d.rule, "one");
	CHECK_STR(d.queue, "rust-next");
	free(d.explain);
	/* the catch-all at the end takes what the others leave */
	CHECK_STR(rule_for(c, &other), "three");
	pq_config_free(c);

	/* the same rules in the other order: file order decides */
	c = load("[rule \"two\"]\n"
		 "\tqueue = rust-fixes\n"
		 "\ttag = x\n"
		 "[rule \"one\"]\n"
		 "\tqueue = rust-next\n"
		 "\ttag = x\n");
	d = decide(c, &both);
	CHECK_STR(d.rule, "two");
	CHECK_STR(d.queue, "rust-fixes");
	free(d.explain);
	CHECK(rule_for(c, &other) == NULL);
	pq_config_free(c);
}

static void test_tag_is_a_whole_token(void)
{
	struct pq_config *c = load("[rule \"frozen\"]\n"
				   "\tqueue = rust\n"
				   "\ttag = rust\n"
				   "[rule \"next\"]\n"
				   "\tqueue = rust-next\n"
				   "\ttag = RUST-NEXT\n"
				   "[rule \"either\"]\n"
				   "\tqueue = rust-fixes\n"
				   "\ttag = rust-fixes\n"
				   "\ttag = fixes\n");
	struct spec next = { .tags = "rust-next" }, rust = { .tags = "rust" },
		    both = { .tags = "rust-next rust" }, fmt = { .tags = "rustfmt" },
		    suffix = { .tags = "next" }, fixes = { .tags = "fixes" }, none = { .tags = "" };

	/* "rust" is not a prefix match of "rust-next", nor the other way */
	CHECK_STR(rule_for(c, &next), "next");
	CHECK_STR(rule_for(c, &rust), "frozen");
	CHECK_STR(rule_for(c, &both), "frozen");
	CHECK(rule_for(c, &fmt) == NULL);
	CHECK(rule_for(c, &suffix) == NULL);
	/* a repeated tag key: any of them */
	CHECK_STR(rule_for(c, &fixes), "either");
	CHECK(rule_for(c, &none) == NULL);
	expect_why(c, &next, "frozen", "no subject tag rust");
	expect_why(c, &rust, "next", "not evaluated, an earlier rule matched");
	/* the configuration's tag is kept lower-case */
	expect_why(c, &fmt, "next", "no subject tag rust-next");
	expect_why(c, &fmt, "either", "no subject tag rust-fixes (or others)");
	pq_config_free(c);
}

static void test_fixes_condition(void)
{
	struct pq_config *c = load("[rule \"fix\"]\n"
				   "\tqueue = rust-fixes\n"
				   "\tfixes = true\n"
				   "[rule \"nofix\"]\n"
				   "\tqueue = rust-next\n"
				   "\tfixes = false\n");
	struct spec with = { .fixes = 1 }, without = { .fixes = 0 };

	CHECK_STR(rule_for(c, &with), "fix");
	CHECK_STR(rule_for(c, &without), "nofix");
	expect_why(c, &without, "fix", "no Fixes: trailer");
	pq_config_free(c);

	c = load("[rule \"nofix\"]\n"
		 "\tqueue = rust-next\n"
		 "\tfixes = false\n");
	CHECK(rule_for(c, &with) == NULL);
	expect_why(c, &with, "nofix", "has a Fixes: trailer");
	pq_config_free(c);
}

static void test_rfc_condition(void)
{
	struct pq_config *c = load("[rule \"final\"]\n"
				   "\tqueue = rust-next\n"
				   "\trfc = false\n"
				   "[rule \"rfc\"]\n"
				   "\tqueue = rust-dev\n"
				   "\trfc = true\n");
	struct spec rfc = { .rfc = 1 }, final = { .rfc = 0 };

	CHECK_STR(rule_for(c, &final), "final");
	CHECK_STR(rule_for(c, &rfc), "rfc");
	expect_why(c, &rfc, "final", "is an RFC");
	pq_config_free(c);

	c = load("[rule \"rfc\"]\n"
		 "\tqueue = rust-dev\n"
		 "\trfc = true\n");
	CHECK(rule_for(c, &final) == NULL);
	expect_why(c, &final, "rfc", "not an RFC");
	pq_config_free(c);
}

static void test_files_glob(void)
{
	struct pq_config *c = load("[rule \"rust\"]\n"
				   "\tqueue = rust-dev\n"
				   "\tfiles = rust/*\n"
				   "[rule \"docs-or-scripts\"]\n"
				   "\tqueue = rust-next\n"
				   "\tfiles = Documentation/rust/*\n"
				   "\tfiles = scripts/*.py\n");
	struct spec deep = { .files = "MAINTAINERS rust/kernel/sync/arc.rs" },
		    elsewhere = { .files = "drivers/gpu/nova/rust/x.rs" },
		    docs = { .files = "Documentation/rust/index.rst" },
		    script = { .files = "scripts/generate_rust_analyzer.py" },
		    other = { .files = "init/main.c" }, nothing = { .files = "" };

	/* a * crosses /, as in MAINTAINERS, but the glob is anchored at the start */
	CHECK_STR(rule_for(c, &deep), "rust");
	CHECK_STR(rule_for(c, &elsewhere), NULL);
	CHECK_STR(rule_for(c, &docs), "docs-or-scripts");
	CHECK_STR(rule_for(c, &script), "docs-or-scripts");
	CHECK(rule_for(c, &other) == NULL);
	CHECK(rule_for(c, &nothing) == NULL);
	expect_why(c, &other, "rust", "touches no file matching rust/*");
	expect_why(c, &other, "docs-or-scripts",
		   "touches no file matching Documentation/rust/* (or others)");
	pq_config_free(c);
}

static void test_from_glob(void)
{
	struct pq_config *c = load("[rule \"kernel.org\"]\n"
				   "\tqueue = rust-next\n"
				   "\tfrom = *@kernel.org\n"
				   "\tfrom = boqun.feng@gmail.com\n");
	struct spec ojeda = { .sender = "ojeda@kernel.org" },
		    boqun = { .sender = "boqun.feng@gmail.com" },
		    alice = { .sender = "alice@example.org" },
		    evil = { .sender = "ojeda@kernel.org.example.net" };

	CHECK_STR(rule_for(c, &ojeda), "kernel.org");
	CHECK_STR(rule_for(c, &boqun), "kernel.org");
	CHECK(rule_for(c, &alice) == NULL);
	CHECK(rule_for(c, &evil) == NULL);
	expect_why(c, &alice, "kernel.org",
		   "sender alice@example.org does not match *@kernel.org (or others)");
	pq_config_free(c);
}

static void test_min_reviews(void)
{
	struct pq_config *c = load("[rule \"reviewed\"]\n"
				   "\tqueue = rust-dev\n"
				   "\tminReviews = 2\n");
	struct spec none = { .reviews = 0 }, one = { .reviews = 1 }, two = { .reviews = 2 },
		    three = { .reviews = 3 };

	CHECK(rule_for(c, &none) == NULL);
	CHECK(rule_for(c, &one) == NULL);
	CHECK_STR(rule_for(c, &two), "reviewed");
	CHECK_STR(rule_for(c, &three), "reviewed");
	expect_why(c, &one, "reviewed", "1 review(s), needs 2");
	expect_why(c, &none, "reviewed", "0 review(s), needs 2");
	pq_config_free(c);
}

static void test_fixes_in_reads_fixes_on(void)
{
	struct pq_config *c = load("[rule \"fixes-next\"]\n"
				   "\tqueue = rust-fixes\n"
				   "\tfixesIn = rust-next\n");
	struct spec on_next = { .fixes = 1, .fixes_on = "rust-fixes rust-next" },
		    on_fixes = { .fixes = 1, .fixes_on = "rust-fixes" }, nowhere = { .fixes = 1 },
		    prefix = { .fixes = 1, .fixes_on = "rust-next-old" };

	CHECK_STR(rule_for(c, &on_next), "fixes-next");
	CHECK(rule_for(c, &on_fixes) == NULL);
	CHECK(rule_for(c, &nowhere) == NULL);
	/* a queue name, compared whole */
	CHECK(rule_for(c, &prefix) == NULL);
	expect_why(c, &nowhere, "fixes-next", "fixes no commit on rust-next");
	pq_config_free(c);
}

static void test_min_version(void)
{
	struct pq_config *c = load("[rule \"settled\"]\n"
				   "\tqueue = rust-next\n"
				   "\tminVersion = 3\n");
	struct spec v1 = { .version = 1 }, v2 = { .version = 2 }, v3 = { .version = 3 },
		    v7 = { .version = 7 };

	CHECK(rule_for(c, &v1) == NULL);
	CHECK(rule_for(c, &v2) == NULL);
	CHECK_STR(rule_for(c, &v3), "settled");
	CHECK_STR(rule_for(c, &v7), "settled");
	expect_why(c, &v2, "settled", "version 2, needs 3");
	pq_config_free(c);
}

/* Every condition must hold; the explanation names the first that does not, in a fixed order. */
static void test_all_conditions_together(void)
{
	struct pq_config *c = load("[rule \"strict\"]\n"
				   "\tqueue = rust-next\n"
				   "\ttag = rust-next\n"
				   "\tfixes = true\n"
				   "\trfc = false\n"
				   "\tfiles = rust/*\n"
				   "\tfrom = *@example.org\n"
				   "\tminReviews = 1\n"
				   "\tfixesIn = rust-fixes\n"
				   "\tminVersion = 2\n");
	struct spec ok = { .tags = "rust-next",
			   .fixes = 1,
			   .files = "rust/kernel/str.rs",
			   .sender = "alice@example.org",
			   .reviews = 1,
			   .fixes_on = "rust-fixes",
			   .version = 2 };
	struct spec s;

	CHECK_STR(rule_for(c, &ok), "strict");
	s = ok;
	s.tags = "rust";
	expect_why(c, &s, "strict", "no subject tag rust-next");
	s = ok;
	s.fixes = 0;
	s.fixes_on = NULL;
	expect_why(c, &s, "strict", "no Fixes: trailer");
	s = ok;
	s.rfc = 1;
	expect_why(c, &s, "strict", "is an RFC");
	s = ok;
	s.files = "init/main.c";
	expect_why(c, &s, "strict", "touches no file matching rust/*");
	s = ok;
	s.sender = "ojeda@kernel.org";
	expect_why(c, &s, "strict", "sender ojeda@kernel.org does not match *@example.org");
	s = ok;
	s.reviews = 0;
	expect_why(c, &s, "strict", "0 review(s), needs 1");
	s = ok;
	s.fixes_on = "rust-next";
	expect_why(c, &s, "strict", "fixes no commit on rust-fixes");
	s = ok;
	s.version = 1;
	expect_why(c, &s, "strict", "version 1, needs 2");
	/* two failures: the first in the order above is named */
	s = ok;
	s.rfc = 1;
	s.version = 1;
	expect_why(c, &s, "strict", "is an RFC");
	pq_config_free(c);
}

static void test_automatic_from_rule_or_queue(void)
{
	struct pq_config *c = load("[rule \"dev-default\"]\n"
				   "\tqueue = rust-dev\n"
				   "\ttag = a\n"
				   "[rule \"next-default\"]\n"
				   "\tqueue = rust-next\n"
				   "\ttag = b\n"
				   "[rule \"dev-manual\"]\n"
				   "\tqueue = rust-dev\n"
				   "\ttag = c\n"
				   "\tauto = false\n"
				   "[rule \"next-auto\"]\n"
				   "\tqueue = rust-next\n"
				   "\ttag = d\n"
				   "\tauto = true\n");
	struct spec a = { .tags = "a" }, b = { .tags = "b" }, cc = { .tags = "c" },
		    dd = { .tags = "d" };
	struct decision d;

	/* no auto in the rule: the queue's (rust-dev auto, rust-next not) */
	d = decide(c, &a);
	CHECK_STR(d.queue, "rust-dev");
	CHECK_INT(d.automatic, 1);
	free(d.explain);
	d = decide(c, &b);
	CHECK_STR(d.queue, "rust-next");
	CHECK_INT(d.automatic, 0);
	free(d.explain);
	/* the rule's auto overrides the queue's either way */
	d = decide(c, &cc);
	CHECK_STR(d.rule, "dev-manual");
	CHECK_INT(d.automatic, 0);
	free(d.explain);
	d = decide(c, &dd);
	CHECK_STR(d.rule, "next-auto");
	CHECK_INT(d.automatic, 1);
	free(d.explain);
	pq_config_free(c);
}

/* Deciding does not refuse a frozen queue: the verdict names it, triage refuses it. */
static void test_frozen_queue_is_the_target(void)
{
	struct pq_config *c = load("[rule \"frozen\"]\n"
				   "\tqueue = rust\n"
				   "\ttag = rust\n");
	struct spec rust = { .tags = "rust" };
	struct decision d = decide(c, &rust);

	CHECK_INT(d.matched, 1);
	CHECK_STR(d.rule, "frozen");
	CHECK_STR(d.queue, "rust");
	CHECK_INT(d.frozen, 1);
	CHECK_INT(d.automatic, 0);
	free(d.explain);
	pq_config_free(c);
}

/* The whole explanation: one line per rule, with file and line, "not evaluated" after a match. */
static void test_explain_text(void)
{
	struct pq_config *c = load("[rule \"frozen\"]\n"    /* 17 */
				   "\tqueue = rust\n"	    /* 18 */
				   "\ttag = rust\n"	    /* 19 */
				   "[rule \"fixes\"]\n"	    /* 20 */
				   "\tqueue = rust-fixes\n" /* 21 */
				   "\tfixes = true\n"	    /* 22 */
				   "[rule \"dev\"]\n"	    /* 23 */
				   "\tqueue = rust-dev\n"   /* 24 */
				   "\tfiles = rust/*\n"	    /* 25 */
				   "\trfc = false\n"	    /* 26 */
				   "\tminReviews = 1\n"	    /* 27 */
				   "[rule \"next\"]\n"	    /* 28 */
				   "\tqueue = rust-next\n"  /* 29 */
				   "\ttag = rust-next\n"    /* 30 */
				   "[rule \"rest\"]\n"	    /* 31 */
				   "\tqueue = rust-next\n");
	struct spec dev = { .tags = "rust-next", .files = "rust/kernel/str.rs", .reviews = 2 };
	struct spec none = { .files = "rust/kernel/str.rs", .rfc = 1 };
	struct pq_buf want = PQ_BUF_INIT;
	struct decision d;
	int l = FIRST_RULE_LINE;

	d = decide(c, &dev);
	CHECK_STR(d.rule, "dev");
	pq_buf_addf(&want, "rule \"frozen\" (%s:%d): no subject tag rust\n", conf_path, l);
	pq_buf_addf(&want, "rule \"fixes\" (%s:%d): no Fixes: trailer\n", conf_path, l + 3);
	pq_buf_addf(&want, "rule \"dev\" (%s:%d): matches\n", conf_path, l + 6);
	pq_buf_addf(&want,
		    "rule \"next\" (%s:%d): not evaluated, an earlier rule matched\n"
		    "rule \"rest\" (%s:%d): not evaluated, an earlier rule matched\n",
		    conf_path, l + 11, conf_path, l + 14);
	CHECK_STR(d.explain, pq_buf_str(&want));
	free(d.explain);
	pq_config_free(c);

	/* without the catch-all nothing matches: every rule says why */
	c = load("[rule \"dev\"]\n"
		 "\tqueue = rust-dev\n"
		 "\tfiles = rust/*\n"
		 "\trfc = false\n"
		 "[rule \"next\"]\n"
		 "\tqueue = rust-next\n"
		 "\ttag = rust-next\n");
	d = decide(c, &none);
	CHECK_INT(d.matched, 0);
	CHECK(d.rule == NULL && d.queue == NULL && d.automatic == 0);
	pq_buf_reset(&want);
	pq_buf_addf(&want,
		    "rule \"dev\" (%s:%d): is an RFC\n"
		    "rule \"next\" (%s:%d): no subject tag rust-next\n",
		    conf_path, l, conf_path, l + 4);
	CHECK_STR(d.explain, pq_buf_str(&want));
	free(d.explain);
	pq_config_free(c);

	/* no rules: no verdict, nothing to explain */
	c = load("");
	d = decide(c, &dev);
	CHECK_INT(d.matched, 0);
	CHECK_STR(d.explain, "");
	free(d.explain);
	pq_config_free(c);
	pq_buf_free(&want);
}

/* Explaining is optional and changes nothing. */
static void test_explain_null_same_verdict(void)
{
	struct pq_config *c = load("[rule \"a\"]\n"
				   "\tqueue = rust-dev\n"
				   "\tminReviews = 1\n"
				   "[rule \"b\"]\n"
				   "\tqueue = rust-next\n");
	struct spec s = { .reviews = 1 };
	struct pq_rules_input in;
	struct pq_rules_verdict v;

	if (!c)
		return;
	input_from(&in, &s);
	CHECK_INT(pq_rules_decide(c, &in, &v, NULL), 1);
	CHECK_STR(v.rule ? v.rule->name : NULL, "a");
	CHECK(v.queue == pq_config_queue(c, "rust-dev"));
	CHECK_INT(v.automatic, 1);
	in.reviews = 0;
	CHECK_INT(pq_rules_decide(c, &in, &v, NULL), 1);
	CHECK_STR(v.rule ? v.rule->name : NULL, "b");
	CHECK_INT(v.automatic, 0);
	pq_rules_input_free(&in);
	pq_config_free(c);
}

int main(void)
{
	struct pq_buf p = PQ_BUF_INIT;

	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	pq_buf_addf(&p, "%s/rules.conf", tmp_root);
	conf_path = pq_buf_detach(&p);

	test_first_matching_rule_wins();
	test_tag_is_a_whole_token();
	test_fixes_condition();
	test_rfc_condition();
	test_files_glob();
	test_from_glob();
	test_min_reviews();
	test_fixes_in_reads_fixes_on();
	test_min_version();
	test_all_conditions_together();
	test_automatic_from_rule_or_queue();
	test_frozen_queue_is_the_target();
	test_explain_text();
	test_explain_null_same_verdict();

	free(conf_path);
	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_DONE();
}
