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
	const char *lines; /* changed lines per file, parallel to files; NULL: not counted */
	const char *prefixes;
	const char *stable; /* the stable@ address found, or NULL */
	const char *sender;
	int fixes;
	const char *fixes_on;
	int rfc;
	int version;
	int reviews;
	const char *patch_reviews; /* per patch; reviews is then their least */
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
	in->prefixes = words(sp->prefixes, &in->nprefixes);
	in->stable = sp->stable ? pq_strdup(sp->stable) : NULL;
	if (sp->lines) {
		size_t n, i;
		char **l = words(sp->lines, &n);

		CHECK_INT(n, in->nfiles);
		in->lines = pq_calloc(n ? n : 1, sizeof(*in->lines));
		for (i = 0; i < n; i++) {
			in->lines[i] = (size_t)atol(l[i]);
			free(l[i]);
		}
		free(l);
	}
	if (sp->patch_reviews) {
		size_t i;
		char **r = words(sp->patch_reviews, &in->npatches);

		in->patch_reviews = pq_calloc(in->npatches, sizeof(*in->patch_reviews));
		for (i = 0; i < in->npatches; i++) {
			in->patch_reviews[i] = atoi(r[i]);
			if (!i || in->patch_reviews[i] < in->reviews)
				in->reviews = in->patch_reviews[i];
			free(r[i]);
		}
		free(r);
	}
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
	char *queues; /* every queue chosen, "QUEUE:RULE:auto|manual" space separated */
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
	CHECK_INT(d.matched, v.n > 0);
	if (v.n) {
		struct pq_buf q = PQ_BUF_INIT;
		size_t i;

		d.rule = v.v[0].rule->name;
		d.queue = v.v[0].queue ? v.v[0].queue->name : NULL;
		d.automatic = v.v[0].automatic;
		d.frozen = v.v[0].queue ? v.v[0].queue->frozen : 0;
		for (i = 0; i < v.n; i++)
			pq_buf_addf(&q, "%s%s:%s:%s", i ? " " : "", v.v[i].rule->queue,
				    v.v[i].rule->name, v.v[i].automatic ? "auto" : "manual");
		d.queues = pq_buf_detach(&q);
	}
	pq_rules_verdict_free(&v);
	CHECK(v.v == NULL && v.n == 0);
	d.explain = pq_buf_detach(&explain);
	return d;
}

static void decision_free(struct decision *d)
{
	free(d->explain);
	free(d->queues);
	d->explain = d->queues = NULL;
}

/* The rule that matches sp under c, or NULL; the explanation dropped. */
static const char *rule_for(const struct pq_config *c, const struct spec *sp)
{
	struct decision d = decide(c, sp);

	decision_free(&d);
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
	decision_free(&d);
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
	decision_free(&d);
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
	decision_free(&d);
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
	expect_why(
		c, &one, "reviewed",
		"1 review(s) on the least reviewed patch; the rule needs every patch reviewed at "
		"least 2 time(s)");
	expect_why(
		c, &none, "reviewed",
		"0 review(s) on the least reviewed patch; the rule needs every patch reviewed at "
		"least 2 time(s)");
	pq_config_free(c);
}

/* A review count is explained patch by patch: how many are reviewed, which are short. */
static void test_reviews_explained(void)
{
	struct pq_config *c = load("[rule \"once\"]\n"
				   "\tqueue = rust-dev\n"
				   "\tminReviews = 1\n"
				   "[rule \"twice\"]\n"
				   "\tqueue = rust-next\n"
				   "\tminReviews = 2\n");
	struct spec two_of_three = { .patch_reviews = "1 3 0" }, all = { .patch_reviews = "2 2 4" },
		    single = { .patch_reviews = "0" },
		    many = { .patch_reviews = "0 0 0 0 0 0 0 0 1" };

	CHECK(rule_for(c, &two_of_three) == NULL);
	expect_why(c, &two_of_three, "once",
		   "2 of 3 patches reviewed; the rule needs every patch reviewed at least 1 "
		   "time(s); short: 3/3 (0)");
	expect_why(c, &two_of_three, "twice",
		   "1 of 3 patches reviewed enough; the rule needs every patch reviewed at least 2 "
		   "time(s); short: 1/3 (1), 3/3 (0)");
	CHECK_STR(rule_for(c, &all), "once");
	expect_why(c, &single, "once", "the patch has 0 review(s); the rule needs at least 1");
	/* a long list is cut after five */
	expect_why(c, &many, "once",
		   "1 of 9 patches reviewed; the rule needs every patch reviewed at least 1 "
		   "time(s); short: 1/9 (0), 2/9 (0), 3/9 (0), 4/9 (0), 5/9 (0) and 3 more");
	pq_config_free(c);
}

static void test_stable_condition(void)
{
	struct pq_config *c = load("[rule \"stable\"]\n"
				   "\tqueue = rust-fixes\n"
				   "\tstable = yes\n"
				   "[rule \"not-stable\"]\n"
				   "\tqueue = rust-next\n"
				   "\tstable = false\n");
	struct spec cc = { .stable = "stable@vger.kernel.org" }, none = { .stable = NULL };

	CHECK_STR(rule_for(c, &cc), "stable");
	CHECK_STR(rule_for(c, &none), "not-stable");
	expect_why(c, &none, "stable",
		   "no Cc: to stable@ (neither a Cc: trailer nor the mails' To/Cc)");
	pq_config_free(c);
	c = load("[rule \"not-stable\"]\n"
		 "\tqueue = rust-next\n"
		 "\tstable = false\n");
	expect_why(c, &cc, "not-stable", "Cc: stable@vger.kernel.org, a fix for stable");
	pq_config_free(c);
}

static void test_stable_address(void)
{
	static const struct {
		const char *list, *want;
	} cases[] = {
		{ "stable@vger.kernel.org", "stable@vger.kernel.org" },
		{ "Alice <alice@example.org>, \"Stable\" <Stable@VGER.kernel.org>",
		  "stable@vger.kernel.org" },
		{ "stable@kernel.org # 6.6.x", "stable@kernel.org" },
		{ "<stable@kernel.org>.", "stable@kernel.org" },
		{ "rust-for-linux@vger.kernel.org, linux-kernel@vger.kernel.org", NULL },
		{ "unstable@vger.kernel.org", NULL },
		{ "stable@example.org", NULL },
		{ "stable@notkernel.org", NULL },
		{ "stable@kernel.org.example.net", NULL },
		{ "", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = pq_rules_stable_address(cases[i].list);

		CHECK_STR(got, cases[i].want);
		free(got);
	}
	CHECK(pq_rules_stable_address(NULL) == NULL);
}

static void test_prefix_condition(void)
{
	struct pq_config *c = load("[rule \"rust\"]\n"
				   "\tqueue = rust-next\n"
				   "\tprefix = rust  RUST-analyzer\n"
				   "\tprefix = docs\n");
	struct spec rust = { .prefixes = "rust" }, ra = { .prefixes = "kbuild rust-analyzer" },
		    kbuild = { .prefixes = "kbuild perf" }, none = { .prefixes = NULL };

	CHECK_STR(rule_for(c, &rust), "rust");
	CHECK_STR(rule_for(c, &ra), "rust");
	CHECK(rule_for(c, &kbuild) == NULL);
	expect_why(c, &kbuild, "rust",
		   "no subject prefix rust: (or others); the subjects have kbuild:, perf:");
	expect_why(c, &none, "rust", "no subject prefix rust: (or others); the subjects have none");
	pq_config_free(c);
}

static void test_prefix_of_a_name(void)
{
	static const struct {
		const char *name, *want;
	} cases[] = {
		{ "rust: kernel: add Foo", "rust" },
		{ "Kbuild: rust: use --sysroot", "kbuild" },
		{ "drm/nova: probe", "drm/nova" },
		{ "rust:", "rust" },
		{ "Revert \"rust: x\"", NULL },
		{ "perf tools: fix", NULL },
		{ "rust:kernel: x", NULL },
		{ ": nothing", NULL },
		{ "no colon", NULL },
		{ "", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = pq_rules_prefix(cases[i].name);

		CHECK_STR(got, cases[i].want);
		free(got);
	}
	CHECK(pq_rules_prefix(NULL) == NULL);
}

static void test_all_and_not_files(void)
{
	struct pq_config *c = load("[rule \"only-rust\"]\n"
				   "\tqueue = rust-next\n"
				   "\tallFiles = rust/*\n"
				   "\tallFiles = samples/rust/*\n"
				   "[rule \"no-tools\"]\n"
				   "\tqueue = rust-fixes\n"
				   "\tfiles = rust/*\n"
				   "\tnotFiles = tools/*\n"
				   "\tnotFiles = scripts/*\n");
	struct spec rust = { .files = "rust/kernel/str.rs samples/rust/minimal.rs" },
		    mixed = { .files = "rust/kernel/str.rs init/main.c" },
		    tools = { .files = "rust/kernel/str.rs tools/perf/x.c" },
		    nothing = { .files = "" };

	CHECK_STR(rule_for(c, &rust), "only-rust");
	/* some file under rust/ is not enough for allFiles, it is for files */
	CHECK_STR(rule_for(c, &mixed), "no-tools");
	CHECK(rule_for(c, &tools) == NULL);
	CHECK(rule_for(c, &nothing) == NULL);
	expect_why(c, &mixed, "only-rust",
		   "touches init/main.c, which does not match rust/* (or others)");
	expect_why(c, &tools, "no-tools", "touches tools/perf/x.c, which matches tools/*");
	expect_why(c, &nothing, "only-rust", "touches no file");
	pq_config_free(c);

	/* notFiles alone: a series that touches nothing has nothing excluded */
	c = load("[rule \"no-tools\"]\n"
		 "\tqueue = rust-fixes\n"
		 "\tnotFiles = tools/*\n");
	CHECK_STR(rule_for(c, &nothing), "no-tools");
	CHECK_STR(rule_for(c, &mixed), "no-tools");
	pq_config_free(c);
}

static void test_share_of_lines(void)
{
	struct pq_config *c = load("[rule \"mostly-rust\"]\n"
				   "\tqueue = rust-next\n"
				   "\tshareFiles = rust/*\n"
				   "\tshareFiles = samples/rust/*\n"
				   "\tminShare = 50\n");
	struct spec half = { .files = "rust/a.rs init/main.c", .lines = "10 10" },
		    both = { .files = "rust/a.rs samples/rust/b.rs init/main.c", .lines = "3 3 5" },
		    little = { .files = "rust/a.rs init/main.c", .lines = "1 9" },
		    none = { .files = "rust/a.rs", .lines = "0" };

	/* exactly the share asked for is enough */
	CHECK_STR(rule_for(c, &half), "mostly-rust");
	CHECK_STR(rule_for(c, &both), "mostly-rust");
	CHECK(rule_for(c, &little) == NULL);
	CHECK(rule_for(c, &none) == NULL);
	expect_why(c, &little, "mostly-rust",
		   "10% of the changed lines (1 of 10) in files matching rust/* (or others), "
		   "needs 50%");
	expect_why(c, &none, "mostly-rust", "changes no line: no share of lines to count");
	pq_config_free(c);
}

/* continue: a series taken for several queues, the first match per queue wins. */
static void test_continue_several_queues(void)
{
	struct pq_config *c = load("[rule \"dev\"]\n"	    /* 17 */
				   "\tqueue = rust-dev\n"   /* 18 */
				   "\tfiles = rust/*\n"	    /* 19 */
				   "\tcontinue = true\n"    /* 20 */
				   "[rule \"dev-again\"]\n" /* 21 */
				   "\tqueue = rust-dev\n"   /* 22 */
				   "\tauto = false\n"	    /* 23 */
				   "[rule \"fixes\"]\n"	    /* 24 */
				   "\tqueue = rust-fixes\n" /* 25 */
				   "\tfixes = true\n"	    /* 26 */
				   "[rule \"next\"]\n"	    /* 27 */
				   "\tqueue = rust-next\n"  /* 28 */
				   "\tprefix = rust\n"	    /* 29 */
				   "[rule \"rest\"]\n"	    /* 30 */
				   "\tqueue = rust-fixes\n");
	struct spec rust = { .files = "rust/a.rs", .prefixes = "rust" },
		    fix = { .files = "rust/a.rs", .prefixes = "rust", .fixes = 1 },
		    other = { .files = "init/main.c", .prefixes = "init" };
	struct pq_buf want = PQ_BUF_INIT;
	struct decision d;
	int l = FIRST_RULE_LINE;

	/* dev (automatic on rust-dev); dev-again passed over (rust-dev is taken), it does not
	 * end the evaluation; next adds rust-next and ends it */
	d = decide(c, &rust);
	CHECK_INT(d.matched, 1);
	CHECK_STR(d.rule, "dev");
	CHECK_STR(d.queues, "rust-dev:dev:auto rust-next:next:manual");
	pq_buf_addf(&want,
		    "rule \"dev\" (%s:%d): matches; continue: later rules may add other queues\n",
		    conf_path, l);
	pq_buf_addf(&want,
		    "rule \"dev-again\" (%s:%d): matches, but rust-dev is already chosen "
		    "(rule \"dev\"): passed over\n",
		    conf_path, l + 4);
	pq_buf_addf(&want, "rule \"fixes\" (%s:%d): no Fixes: trailer\n", conf_path, l + 7);
	pq_buf_addf(&want, "rule \"next\" (%s:%d): matches\n", conf_path, l + 10);
	pq_buf_addf(&want, "rule \"rest\" (%s:%d): not evaluated, an earlier rule matched\n",
		    conf_path, l + 13);
	CHECK_STR(d.explain, pq_buf_str(&want));
	decision_free(&d);
	/* a fix: fixes (no continue) ends it before next */
	d = decide(c, &fix);
	CHECK_STR(d.queues, "rust-dev:dev:auto rust-fixes:fixes:manual");
	decision_free(&d);
	/* dev does not match: without its continue, first match wins as always */
	d = decide(c, &other);
	CHECK_STR(d.queues, "rust-dev:dev-again:manual");
	decision_free(&d);
	pq_config_free(c);

	/* a continue rule that matches last: the one queue it chose */
	c = load("[rule \"dev\"]\n"
		 "\tqueue = rust-dev\n"
		 "\tcontinue = true\n"
		 "[rule \"next\"]\n"
		 "\tqueue = rust-next\n"
		 "\ttag = rust-next\n");
	d = decide(c, &rust);
	CHECK_STR(d.queues, "rust-dev:dev:auto");
	decision_free(&d);
	pq_config_free(c);
	pq_buf_free(&want);
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
	expect_why(
		c, &s, "strict",
		"0 review(s) on the least reviewed patch; the rule needs every patch reviewed at "
		"least 1 time(s)");
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
	decision_free(&d);
	d = decide(c, &b);
	CHECK_STR(d.queue, "rust-next");
	CHECK_INT(d.automatic, 0);
	decision_free(&d);
	/* the rule's auto overrides the queue's either way */
	d = decide(c, &cc);
	CHECK_STR(d.rule, "dev-manual");
	CHECK_INT(d.automatic, 0);
	decision_free(&d);
	d = decide(c, &dd);
	CHECK_STR(d.rule, "next-auto");
	CHECK_INT(d.automatic, 1);
	decision_free(&d);
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
	decision_free(&d);
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
	decision_free(&d);
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
	decision_free(&d);
	pq_config_free(c);

	/* no rules: no verdict, nothing to explain */
	c = load("");
	d = decide(c, &dev);
	CHECK_INT(d.matched, 0);
	CHECK_STR(d.explain, "");
	decision_free(&d);
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
	CHECK_INT(v.n, 1);
	CHECK_STR(v.n ? v.v[0].rule->name : NULL, "a");
	CHECK(v.n && v.v[0].queue == pq_config_queue(c, "rust-dev"));
	CHECK_INT(v.n ? v.v[0].automatic : -1, 1);
	pq_rules_verdict_free(&v);
	in.reviews = 0;
	CHECK_INT(pq_rules_decide(c, &in, &v, NULL), 1);
	CHECK_INT(v.n, 1);
	CHECK_STR(v.n ? v.v[0].rule->name : NULL, "b");
	CHECK_INT(v.n ? v.v[0].automatic : -1, 0);
	pq_rules_verdict_free(&v);
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
	test_reviews_explained();
	test_stable_condition();
	test_stable_address();
	test_prefix_condition();
	test_prefix_of_a_name();
	test_all_and_not_files();
	test_share_of_lines();
	test_continue_several_queues();
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
