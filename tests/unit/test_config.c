/*
 * test_config: loading the git-config file: every key, the defaults, rule
 * order, and each mistake reported with the file and the exact line. Every
 * file is written by the test into a temporary directory removed at the end.
 */
#include <errno.h>
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

static char tmp_root[] = "/tmp/test_config.XXXXXX";

/* The three required keys: four lines, so what follows starts at line 5. */
#define HEAD                              \
	"[patchq]\n"                      \
	"\tdatabase = /srv/patchq.db\n"   \
	"\trepository = /srv/linux.git\n" \
	"\tcommitter = A U Thor <a@example.org>\n"

/* A queue q with branch q, lines 5 to 6. */
#define QUEUE_Q           \
	"[queue \"q\"]\n" \
	"\tbranch = q\n"

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/* Writes text to tmp_root/name; returns the path (free it). */
static char *write_conf(const char *name, const char *text)
{
	struct pq_buf path = PQ_BUF_INIT;
	FILE *f;

	pq_buf_addf(&path, "%s/%s", tmp_root, name);
	f = fopen(pq_buf_str(&path), "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return pq_buf_detach(&path);
}

/* Loads text, which must load cleanly; NULL (and a failed check) if not. */
static struct pq_config *load_ok(const char *text)
{
	struct pq_config *c = NULL;
	char *path = write_conf("ok.conf", text);
	int rc = pq_config_load(&c, path);

	CHECK_INT(rc, 0);
	if (rc)
		fprintf(stderr, "  error: %s\n", pq_error_last());
	free(path);
	return c;
}

/*
 * Loads text, which must fail with PQ_EINVAL and the message
 * "PATH:line: ...needle..." ("PATH: ...needle..." when line is 0).
 */
static void expect_error_at(const char *text, int line, const char *needle, int at)
{
	struct pq_config *c = (struct pq_config *)1;
	char *path = write_conf("bad.conf", text);
	struct pq_buf prefix = PQ_BUF_INIT;
	const char *msg;
	int rc;

	pq_error_clear();
	rc = pq_config_load(&c, path);
	msg = pq_error_last();
	if (line)
		pq_buf_addf(&prefix, "%s:%d: ", path, line);
	else
		pq_buf_addf(&prefix, "%s: ", path);
	CHECK_INT(rc, PQ_EINVAL);
	CHECK(c == NULL);
	CHECK(strncmp(msg, pq_buf_str(&prefix), prefix.len) == 0);
	CHECK(strstr(msg + (strlen(msg) >= prefix.len ? prefix.len : 0), needle) != NULL);
	if (strncmp(msg, pq_buf_str(&prefix), prefix.len) != 0 || !strstr(msg, needle))
		fprintf(stderr, "  (test line %d) got \"%s\", expected \"%s...%s\"\n", at, msg,
			pq_buf_str(&prefix), needle);
	pq_config_free(rc ? NULL : c);
	pq_buf_free(&prefix);
	free(path);
}

#define expect_error(text, line, needle) expect_error_at(text, line, needle, __LINE__)

static void test_full_file_with_every_key(void)
{
	struct pq_config *c = load_ok("[patchq]\n"
				      "\tdatabase = /var/lib/patchq/patchq.db\n"
				      "\trepository = /var/lib/patchq/linux.git\n"
				      "\tcommitter = Miguel Ojeda <ojeda@kernel.org>\n"
				      "\tsignoff = false\n"
				      "\tlink = https://lore.example.org/all/%s/\n"
				      "\tcommitterDate = mail\n"
				      "\tgitFallback = no\n"
				      "[queue \"rust-next\"]\n"
				      "\tbranch = rust-next\n"
				      "\tbase = v6.9-rc1\n"
				      "\trebuild = false\n"
				      "\tauto = false\n"
				      "\tfrozen = false\n"
				      "\tfastForward = true\n"
				      "\tuseBaseCommit = true\n"
				      "[queue \"rust-dev\"]\n"
				      "\tbranch = rust-dev\n"
				      "\tbase = rust-next\n"
				      "\trebuild = yes\n"
				      "\tauto = on\n"
				      "\tfrozen = 0\n"
				      "\tfastForward = off\n"
				      "\tuseBaseCommit = false\n"
				      "[rule \"fixes\"]\n"
				      "\tqueue = rust-next\n"
				      "\ttag = Rust-Fixes\n"
				      "\tfixes = true\n"
				      "\tfiles = rust/*\n"
				      "\tfrom = *@kernel.org\n"
				      "\tminReviews = 2\n"
				      "\trfc = false\n"
				      "\tminVersion = 3\n"
				      "\tauto = false\n");
	const struct pq_queue_conf *q;
	const struct pq_rule_conf *r;

	if (!c)
		return;
	CHECK_STR(c->database, "/var/lib/patchq/patchq.db");
	CHECK_STR(c->repository, "/var/lib/patchq/linux.git");
	CHECK_STR(c->committer_name, "Miguel Ojeda");
	CHECK_STR(c->committer_email, "ojeda@kernel.org");
	CHECK_INT(c->signoff, 0);
	CHECK_STR(c->link, "https://lore.example.org/all/%s/");
	CHECK_INT(c->committer_date, PQ_DATE_MAIL);
	CHECK_INT(c->git_fallback, 0);
	CHECK(strstr(c->path, "/ok.conf") != NULL);

	CHECK_INT(c->nqueues, 2);
	q = pq_config_queue(c, "rust-next");
	CHECK(q == &c->queues[0]);
	if (q) {
		CHECK_STR(q->name, "rust-next");
		CHECK_STR(q->branch, "rust-next");
		CHECK_STR(q->base, "v6.9-rc1");
		CHECK_INT(q->rebuild, 0);
		CHECK_INT(q->automatic, 0);
		CHECK_INT(q->frozen, 0);
		CHECK_INT(q->fast_forward, 1);
		CHECK_INT(q->use_base_commit, 1);
	}
	q = pq_config_queue(c, "rust-dev");
	CHECK(q == &c->queues[1]);
	if (q) {
		CHECK_STR(q->branch, "rust-dev");
		CHECK_STR(q->base, "rust-next");
		CHECK_INT(q->rebuild, 1);
		CHECK_INT(q->automatic, 1);
		CHECK_INT(q->frozen, 0);
		CHECK_INT(q->fast_forward, 0);
		CHECK_INT(q->use_base_commit, 0);
	}

	CHECK_INT(c->nrules, 1);
	r = &c->rules[0];
	CHECK_STR(r->name, "fixes");
	CHECK_STR(r->queue, "rust-next");
	CHECK_INT(r->ntags, 1);
	CHECK_STR(r->tags[0], "rust-fixes"); /* compared lower-case, like subjects */
	CHECK_INT(r->fixes, PQ_COND_YES);
	CHECK_INT(r->nfiles, 1);
	CHECK_STR(r->files[0], "rust/*");
	CHECK_INT(r->nfrom, 1);
	CHECK_STR(r->from[0], "*@kernel.org");
	CHECK_INT(r->min_reviews, 2);
	CHECK_INT(r->rfc, PQ_COND_NO);
	CHECK_INT(r->min_version, 3);
	CHECK_INT(r->automatic, PQ_COND_NO);
	CHECK_STR(r->file, c->path);
	CHECK_INT(r->line, 25);
	pq_config_free(c);
}

static void test_defaults(void)
{
	struct pq_config *c = load_ok(HEAD QUEUE_Q "[queue \"rebuilt\"]\n"
						   "\tbranch = rebuilt\n"
						   "\trebuild = true\n"
						   "[rule \"all\"]\n"
						   "\tqueue = q\n");
	const struct pq_queue_conf *q;
	const struct pq_rule_conf *r;

	if (!c)
		return;
	CHECK_INT(c->signoff, 1);
	CHECK_STR(c->link, "https://lore.kernel.org/r/%s");
	CHECK_INT(c->committer_date, PQ_DATE_AUTHOR);
	CHECK_INT(c->fixed_date, 0);
	CHECK_INT(c->git_fallback, 1);

	q = pq_config_queue(c, "q");
	CHECK(q != NULL);
	if (q) {
		CHECK(q->base == NULL);
		CHECK_INT(q->rebuild, 0);
		CHECK_INT(q->automatic, 0);
		CHECK_INT(q->frozen, 0);
		CHECK_INT(q->fast_forward, 1); /* not rebuilt: fast-forward */
		CHECK_INT(q->use_base_commit, 0);
	}
	q = pq_config_queue(c, "rebuilt");
	CHECK(q != NULL);
	if (q) {
		CHECK_INT(q->rebuild, 1);
		CHECK_INT(q->fast_forward, 0); /* rebuilt: not fast-forward */
	}

	CHECK_INT(c->nrules, 1);
	r = &c->rules[0];
	CHECK_INT(r->ntags, 0);
	CHECK(r->tags == NULL);
	CHECK_INT(r->nfiles, 0);
	CHECK_INT(r->nfrom, 0);
	CHECK_INT(r->fixes, PQ_COND_ANY);
	CHECK_INT(r->rfc, PQ_COND_ANY);
	CHECK_INT(r->min_reviews, 0);
	CHECK_INT(r->min_version, 0);
	CHECK_INT(r->automatic, PQ_COND_ANY);
	pq_config_free(c);
}

static void test_fixed_committer_date(void)
{
	struct pq_config *c = load_ok(HEAD "\tcommitterDate = fixed:1700000000\n");

	if (c) {
		CHECK_INT(c->committer_date, PQ_DATE_FIXED);
		CHECK_INT(c->fixed_date, 1700000000);
	}
	pq_config_free(c);
	c = load_ok(HEAD "\tcommitterDate = fixed:0\n");
	if (c) {
		CHECK_INT(c->committer_date, PQ_DATE_FIXED);
		CHECK_INT(c->fixed_date, 0);
	}
	pq_config_free(c);
}

static void test_rules_keep_file_order(void)
{
	/* Names out of alphabetical order, queues after the rules using them. */
	struct pq_config *c = load_ok(HEAD "[rule \"zeta\"]\n" /* 5 */
					   "\tqueue = q\n"
					   "\ttag = z\n"
					   "[rule \"alpha\"]\n" /* 8 */
					   "\tqueue = q\n"
					   "[rule \"mu\"]\n" /* 10 */
					   "\tqueue = q\n"
					   "\tfixes = true\n"
					   "[queue \"q\"]\n"
					   "\tbranch = q\n"
					   "[rule \"beta\"]\n" /* 15 */
					   "\tqueue = q\n"
					   "[rule \"zeta\"]\n" /* zeta again: keeps its place */
					   "\ttag = zz\n"
					   "[rule \"catch-all\"]\n" /* 19 */
					   "\tqueue = q\n");
	static const char *const names[] = { "zeta", "alpha", "mu", "beta", "catch-all" };
	static const int lines[] = { 5, 8, 10, 15, 19 };
	size_t i;

	if (!c)
		return;
	CHECK_INT(c->nrules, 5);
	for (i = 0; i < 5 && i < c->nrules; i++) {
		CHECK_STR(c->rules[i].name, names[i]);
		CHECK_INT(c->rules[i].line, lines[i]);
		CHECK_STR(c->rules[i].file, c->path);
	}
	if (c->nrules >= 1) {
		CHECK_INT(c->rules[0].ntags, 2);
		if (c->rules[0].ntags == 2)
			CHECK_STR(c->rules[0].tags[1], "zz");
	}
	pq_config_free(c);
}

static void test_repeatable_tags_files_from(void)
{
	struct pq_config *c = load_ok(HEAD QUEUE_Q "[rule \"many\"]\n"
						   "\tqueue = q\n"
						   "\ttag = rust-next\n"
						   "\tfiles = rust/*\n"
						   "\tfrom = *@kernel.org\n"
						   "\ttag = rust-fixes\n"
						   "\tfiles = scripts/*rust*\n"
						   "\tfiles = Documentation/rust/*\n"
						   "\tfrom = *@google.com\n"
						   "\ttag = rust\n");
	const struct pq_rule_conf *r;

	if (!c)
		return;
	r = &c->rules[0];
	CHECK_INT(r->ntags, 3);
	CHECK_INT(r->nfiles, 3);
	CHECK_INT(r->nfrom, 2);
	if (r->ntags == 3) {
		CHECK_STR(r->tags[0], "rust-next");
		CHECK_STR(r->tags[1], "rust-fixes");
		CHECK_STR(r->tags[2], "rust");
	}
	if (r->nfiles == 3) {
		CHECK_STR(r->files[0], "rust/*");
		CHECK_STR(r->files[1], "scripts/*rust*");
		CHECK_STR(r->files[2], "Documentation/rust/*");
	}
	if (r->nfrom == 2) {
		CHECK_STR(r->from[0], "*@kernel.org");
		CHECK_STR(r->from[1], "*@google.com");
	}
	pq_config_free(c);
}

/* The conditions of issue 12: stable, prefix, allFiles, notFiles, a share, continue. */
static void test_rule_conditions_stable_prefix_share(void)
{
	struct pq_config *c = load_ok(HEAD QUEUE_Q "[rule \"r\"]\n"
						   "\tqueue = q\n"
						   "\tstable = true\n"
						   "\tprefix = Rust  kbuild\n"
						   "\tprefix = docs\n"
						   "\tallFiles = rust/*\n"
						   "\tallFiles = samples/rust/*\n"
						   "\tnotFiles = tools/*\n"
						   "\tshareFiles = rust/*\n"
						   "\tminShare = 50\n"
						   "\tcontinue = true\n"
						   "[rule \"plain\"]\n"
						   "\tqueue = q\n");
	const struct pq_rule_conf *r;

	if (!c)
		return;
	r = &c->rules[0];
	CHECK_INT(r->stable, PQ_COND_YES);
	CHECK_INT(r->nprefixes, 3);
	if (r->nprefixes == 3) {
		/* blank-separated words, lower-case, and the key repeats */
		CHECK_STR(r->prefixes[0], "rust");
		CHECK_STR(r->prefixes[1], "kbuild");
		CHECK_STR(r->prefixes[2], "docs");
	}
	CHECK_INT(r->nall_files, 2);
	CHECK_INT(r->nnot_files, 1);
	CHECK_INT(r->nshare_files, 1);
	CHECK_INT(r->min_share, 50);
	CHECK_INT(r->continues, 1);
	/* not given: no condition, and no continue */
	r = &c->rules[1];
	CHECK_INT(r->stable, PQ_COND_ANY);
	CHECK_INT(r->nprefixes + r->nall_files + r->nnot_files + r->nshare_files, 0);
	CHECK_INT(r->min_share, 0);
	CHECK_INT(r->continues, 0);
	pq_config_free(c);

	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tstable = maybe\n",
		     9, "rule.r.stable: \"maybe\" is not a boolean");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tcontinue = later\n",
		     9, "rule.r.continue: \"later\" is not a boolean");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tprefix = rust: kbuild\n",
		     9, "rule.r.prefix: \"rust: kbuild\": a prefix is the word before");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tshareFiles = rust/*\n"
				  "\tminShare = 101\n",
		     10, "rule.r.minShare: 101 is not a percentage from 1 to 100");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tshareFiles = rust/*\n"
				  "\tminShare = 0\n",
		     10, "rule.r.minShare: 0 is not a percentage");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tminShare = 50\n",
		     9, "rule.r.minShare needs shareFiles");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tshareFiles = rust/*\n",
		     7, "rule.r.shareFiles needs minShare");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tall files = rust/*\n",
		     9, "");
}

static void test_keys_are_case_insensitive(void)
{
	struct pq_config *c = load_ok("[PatchQ]\n"
				      "\tDATABASE = /db\n"
				      "\tRepository = /repo\n"
				      "\tcommitter = A <a@b>\n"
				      "\tCOMMITTERDATE = mail\n"
				      "\tgitfallback = false\n"
				      "[QUEUE \"q\"]\n"
				      "\tBranch = q\n"
				      "\tFASTFORWARD = false\n"
				      "\tusebasecommit = true\n"
				      "[Rule \"r\"]\n"
				      "\tQueue = q\n"
				      "\tMINREVIEWS = 1\n"
				      "\tminversion = 2\n"
				      "\tTag = x\n"
				      "\tTAG = y\n");

	if (!c)
		return;
	CHECK_STR(c->database, "/db");
	CHECK_INT(c->committer_date, PQ_DATE_MAIL);
	CHECK_INT(c->git_fallback, 0);
	CHECK_INT(c->nqueues, 1);
	CHECK_INT(c->queues[0].fast_forward, 0);
	CHECK_INT(c->queues[0].use_base_commit, 1);
	CHECK_INT(c->rules[0].min_reviews, 1);
	CHECK_INT(c->rules[0].min_version, 2);
	CHECK_INT(c->rules[0].ntags, 2);
	pq_config_free(c);
}

static void test_subsection_case_is_kept(void)
{
	struct pq_config *c = load_ok(HEAD "[queue \"Rust-Next\"]\n"
					   "\tbranch = Rust-Next\n"
					   "[queue \"rust-next\"]\n"
					   "\tbranch = rust-next\n"
					   "[rule \"R\"]\n"
					   "\tqueue = Rust-Next\n"
					   "[rule \"r\"]\n"
					   "\tqueue = rust-next\n");

	if (!c)
		return;
	CHECK_INT(c->nqueues, 2);
	CHECK_STR(pq_config_queue(c, "Rust-Next")->branch, "Rust-Next");
	CHECK_STR(pq_config_queue(c, "rust-next")->branch, "rust-next");
	CHECK(pq_config_queue(c, "RUST-NEXT") == NULL);
	CHECK_INT(c->nrules, 2);
	CHECK_STR(c->rules[0].name, "R");
	CHECK_STR(c->rules[1].name, "r");
	pq_config_free(c);

	/* The queue a rule names is matched with its case. */
	expect_error(HEAD "[queue \"Q\"]\n"
			  "\tbranch = q\n"
			  "[rule \"r\"]\n"
			  "\tqueue = q\n",
		     8, "no queue \"q\"");
}

static void test_relative_paths_resolve_from_file_directory(void)
{
	struct pq_buf dir = PQ_BUF_INIT, want = PQ_BUF_INIT;
	struct pq_config *c = NULL;
	char *cwd = getcwd(NULL, 0), *here, *path;
	int rc;

	pq_buf_addf(&dir, "%s/etc", tmp_root);
	CHECK(mkdir(pq_buf_str(&dir), 0700) == 0);
	path = write_conf("etc/patchq.conf", "[patchq]\n"
					     "\tdatabase = data/patchq.db\n"
					     "\trepository = ../linux.git\n"
					     "\tcommitter = A <a@b>\n");

	/* Given as an absolute path. */
	rc = pq_config_load(&c, path);
	CHECK_INT(rc, 0);
	if (!rc) {
		pq_buf_addf(&want, "%s/etc/data/patchq.db", tmp_root);
		CHECK_STR(c->database, pq_buf_str(&want));
		pq_buf_reset(&want);
		pq_buf_addf(&want, "%s/etc/../linux.git", tmp_root);
		CHECK_STR(c->repository, pq_buf_str(&want));
		pq_config_free(c);
	}

	/* Given relative to the current directory. */
	CHECK(chdir(tmp_root) == 0);
	here = getcwd(NULL, 0);
	rc = pq_config_load(&c, "etc/patchq.conf");
	CHECK_INT(rc, 0);
	if (!rc) {
		pq_buf_reset(&want);
		pq_buf_addf(&want, "%s/etc/data/patchq.db", here);
		CHECK_STR(c->database, pq_buf_str(&want));
		CHECK_STR(c->path, "etc/patchq.conf");
		pq_config_free(c);
	}
	CHECK(chdir("etc") == 0);
	rc = pq_config_load(&c, "patchq.conf");
	CHECK_INT(rc, 0);
	if (!rc) {
		pq_buf_reset(&want);
		pq_buf_addf(&want, "%s/etc/data/patchq.db", here);
		CHECK_STR(c->database, pq_buf_str(&want));
		pq_config_free(c);
	}
	CHECK(chdir(cwd) == 0);

	/* Absolute paths stay as written. */
	c = load_ok(HEAD);
	if (c) {
		CHECK_STR(c->database, "/srv/patchq.db");
		CHECK_STR(c->repository, "/srv/linux.git");
	}
	pq_config_free(c);
	free(here);
	free(cwd);
	free(path);
	pq_buf_free(&dir);
	pq_buf_free(&want);
}

static void test_tilde_path_is_home(void)
{
	const char *old = getenv("HOME");
	char *saved = old ? pq_strdup(old) : NULL;
	struct pq_buf want = PQ_BUF_INIT;
	struct pq_config *c;

	setenv("HOME", tmp_root, 1);
	c = load_ok("[patchq]\n"
		    "\tdatabase = ~/patchq.db\n"
		    "\trepository = /repo\n"
		    "\tcommitter = A <a@b>\n");
	pq_buf_addf(&want, "%s/patchq.db", tmp_root);
	if (c)
		CHECK_STR(c->database, pq_buf_str(&want));
	pq_config_free(c);
	expect_error("[patchq]\n"
		     "\tdatabase = /db\n"
		     "\trepository = ~someone/linux.git\n",
		     3, "patchq.repository: \"~someone/linux.git\"");
	unsetenv("HOME");
	expect_error("[patchq]\n"
		     "\tdatabase = ~/patchq.db\n",
		     2, "~ needs HOME");
	if (saved)
		setenv("HOME", saved, 1);
	else
		unsetenv("HOME");
	free(saved);
	pq_buf_free(&want);
}

/* The shipped example, found from the source root or above the cwd. */
static char *find_example(void)
{
	const char *root = getenv("MESON_SOURCE_ROOT");
	struct pq_buf b = PQ_BUF_INIT;
	char *dir = getcwd(NULL, 0), *slash;

	if (root) {
		pq_buf_addf(&b, "%s/contrib/patchq.conf.example", root);
		if (access(pq_buf_str(&b), R_OK) == 0) {
			free(dir);
			return pq_buf_detach(&b);
		}
	}
	while (dir && *dir) {
		pq_buf_reset(&b);
		pq_buf_addf(&b, "%s/contrib/patchq.conf.example", dir);
		if (access(pq_buf_str(&b), R_OK) == 0) {
			free(dir);
			return pq_buf_detach(&b);
		}
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	free(dir);
	pq_buf_free(&b);
	return NULL;
}

static void test_example_file_loads(void)
{
	char *path = find_example();
	struct pq_config *c = NULL;
	const struct pq_queue_conf *q;
	int rc;

	if (!path) {
		printf("skipped: contrib/patchq.conf.example not found\n");
		return;
	}
	rc = pq_config_load(&c, path);
	CHECK_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "  error: %s\n", pq_error_last());
		free(path);
		return;
	}
	CHECK_INT(c->nqueues, 4);
	q = pq_config_queue(c, "rust-next");
	CHECK(q && !q->automatic && q->fast_forward && !q->rebuild && !q->frozen);
	q = pq_config_queue(c, "rust-fixes");
	CHECK(q && !q->automatic && q->fast_forward && !q->rebuild && !q->frozen);
	q = pq_config_queue(c, "rust-dev");
	CHECK(q && q->automatic && !q->fast_forward && q->rebuild && !q->frozen);
	CHECK(q && q->base && !strcmp(q->base, "rust-next"));
	q = pq_config_queue(c, "rust");
	CHECK(q && q->frozen);
	/* fixes first; rust-dev (continuing) before rust-next; test_example routes with them */
	CHECK(c->nrules >= 4);
	if (c->nrules >= 4) {
		const struct pq_rule_conf *last = &c->rules[c->nrules - 1];
		const struct pq_rule_conf *dev = &c->rules[c->nrules - 3];

		CHECK_STR(c->rules[0].queue, "rust-fixes");
		CHECK_STR(c->rules[1].queue, "rust-fixes");
		CHECK_INT(c->rules[1].fixes, PQ_COND_YES);
		CHECK(c->rules[1].nprefixes == 1 && !strcmp(c->rules[1].prefixes[0], "rust"));
		CHECK_STR(dev->queue, "rust-dev");
		CHECK(dev->continues);
		CHECK_INT(dev->rfc, PQ_COND_NO);
		CHECK_INT(dev->min_reviews, 1);
		CHECK_STR(last->queue, "rust-next");
		CHECK(!last->continues);
		CHECK_INT(last->rfc, PQ_COND_NO);
		CHECK_INT(last->min_share, 50);
	}
	pq_config_free(c);
	free(path);
}

static void test_missing_file_is_eio(void)
{
	struct pq_config *c = (struct pq_config *)1;
	struct pq_buf path = PQ_BUF_INIT;

	pq_buf_addf(&path, "%s/nonexistent.conf", tmp_root);
	CHECK_INT(pq_config_load(&c, pq_buf_str(&path)), PQ_EIO);
	CHECK(c == NULL);
	CHECK(strstr(pq_error_last(), pq_buf_str(&path)) != NULL);
	CHECK(strstr(pq_error_last(), strerror(ENOENT)) != NULL);

	/* A directory cannot be read as a file either. */
	CHECK_INT(pq_config_load(&c, tmp_root), PQ_EIO);
	pq_buf_free(&path);
}

static void test_unknown_section_names_line(void)
{
	expect_error(HEAD "[imap]\n"
			  "\thost = imap.example.org\n",
		     6, "imap.host: unknown section [imap]");
	/* Empty, it still does not belong here. */
	expect_error(HEAD "\n[pop3]\n", 6, "[pop3]: unknown section");
}

static void test_unknown_key_names_line(void)
{
	expect_error(HEAD "\tdatbase = /x\n", 5, "patchq.datbase: unknown key");
	expect_error(HEAD QUEUE_Q "\tbrnach = q\n", 7,
		     "queue.q.brnach: unknown key: [queue] takes branch");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\n"
				  "\t# comment\n"
				  "\tmaxReviews = 1\n",
		     11, "rule.r.maxreviews: unknown key");
}

static void test_bad_boolean_names_line(void)
{
	expect_error(HEAD "\tsignoff = maybe\n", 5, "patchq.signoff: \"maybe\" is not a boolean");
	expect_error(HEAD QUEUE_Q "\tfrozen = frozen\n", 7, "queue.q.frozen: \"frozen\"");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\trfc = sometimes\n",
		     9, "rule.r.rfc: \"sometimes\" is not a boolean");
}

static void test_bad_integer_names_line(void)
{
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tminReviews = two\n",
		     9, "rule.r.minReviews: \"two\" is not a number");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tminVersion = -1\n",
		     9, "rule.r.minVersion: -1 is out of range");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tminVersion = 99999999999\n",
		     9, "out of range");
}

static void test_bad_committer_names_line(void)
{
	static const char *const bad[] = {
		"Miguel Ojeda",		       /* no address */
		"ojeda@kernel.org",	       /* no name */
		"<ojeda@kernel.org>",	       /* no name */
		"Miguel <>",		       /* empty address */
		"Miguel <ojeda@kernel.org",    /* not closed */
		"Miguel <ojeda@kernel.org> x", /* text after it */
		"Miguel <a <b>",	       /* nested */
		"Mig>uel <a@b>",	       /* bracket in the name */
		"Miguel <a b@c>",	       /* space in the address */
	};
	struct pq_buf text = PQ_BUF_INIT;
	struct pq_config *c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pq_buf_reset(&text);
		pq_buf_addf(&text, "[patchq]\n\tdatabase = /db\n\n\tcommitter = %s\n", bad[i]);
		expect_error(pq_buf_str(&text), 4, "patchq.committer: \"");
		expect_error(pq_buf_str(&text), 4, "is not of the form \"Name <email>\"");
	}
	pq_buf_free(&text);

	/* Spaces around it and inside the name are fine. */
	c = load_ok("[patchq]\n\tdatabase = /db\n\trepository = /r\n"
		    "\tcommitter = \"  Björn  Roy Baron   <bjorn3_gh@protonmail.com>  \"\n");
	if (c) {
		CHECK_STR(c->committer_name, "Björn  Roy Baron");
		CHECK_STR(c->committer_email, "bjorn3_gh@protonmail.com");
	}
	pq_config_free(c);
}

static void test_bad_committer_date_names_line(void)
{
	static const char *const bad[] = {
		"now",	   "Author",	"fixed",
		"fixed:",  "fixed:12x", "fixed: 12",
		"fixed:-", "mail ",	"fixed:99999999999999999999",
	};
	struct pq_buf text = PQ_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pq_buf_reset(&text);
		pq_buf_addf(&text, HEAD "\tcommitterDate = \"%s\"\n", bad[i]);
		expect_error(pq_buf_str(&text), 5, "is not author, mail or fixed:<unix time>");
		expect_error(pq_buf_str(&text), 5, "patchq.committerDate");
	}
	pq_buf_free(&text);
}

static void test_link_needs_exactly_one_percent_s(void)
{
	static const char *const bad[] = {
		"https://lore.kernel.org/r/",
		"https://lore.kernel.org/r/%s/%s",
		"https://lore.kernel.org/r/%d",
		"https://lore.kernel.org/%s/%",
	};
	struct pq_buf text = PQ_BUF_INIT;
	struct pq_config *c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pq_buf_reset(&text);
		pq_buf_addf(&text, HEAD "\tlink = %s\n", bad[i]);
		expect_error(pq_buf_str(&text), 5, "patchq.link: \"");
		expect_error(pq_buf_str(&text), 5, "exactly once");
	}
	pq_buf_free(&text);

	c = load_ok(HEAD "\tlink = https://example.org/100%%/%s\n");
	if (c)
		CHECK_STR(c->link, "https://example.org/100%%/%s");
	pq_config_free(c);
}

static void test_rule_queue_must_be_defined(void)
{
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\ttag = x\n"
				  "\tqueue = rust-next\n",
		     9, "rule.r.queue: no queue \"rust-next\" is defined");
}

static void test_rule_fixes_in_must_name_a_queue(void)
{
	struct pq_config *c = NULL;

	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tfixesIn = rust-next\n",
		     9, "rule.r.fixesIn: no queue \"rust-next\" is defined");
	c = load_ok(HEAD QUEUE_Q "[rule \"r\"]\n"
				 "\tqueue = q\n"
				 "\tfixesIn = q\n");
	CHECK(c && c->nrules == 1 && c->rules[0].fixes_in && !strcmp(c->rules[0].fixes_in, "q"));
	pq_config_free(c);
}

static void test_queue_without_branch_names_header(void)
{
	expect_error(HEAD "\n"
			  "[queue \"nobranch\"]\n"
			  "\tauto = true\n",
		     6, "queue.nobranch.branch is missing");
	/* An empty section is a queue without branch too. */
	expect_error(HEAD QUEUE_Q "[queue \"empty\"]\n", 7, "queue.empty.branch is missing");
}

static void test_two_queues_same_branch_names_second(void)
{
	expect_error(HEAD QUEUE_Q "[queue \"other\"]\n"
				  "\tauto = true\n"
				  "\tbranch = q\n",
		     9, "queue.other.branch: \"q\" is already the branch of queue \"q\"");
}

static void test_rule_without_queue_names_header(void)
{
	expect_error(HEAD QUEUE_Q "\n"
				  "[rule \"lost\"]\n"
				  "\ttag = x\n",
		     8, "rule.lost.queue is missing");
	expect_error(HEAD QUEUE_Q "[rule \"empty\"]\n", 7, "rule.empty.queue is missing");
}

static void test_rule_without_condition_is_catch_all(void)
{
	struct pq_config *c = load_ok(HEAD QUEUE_Q "[rule \"everything\"]\n"
						   "\tqueue = q\n");

	if (!c)
		return;
	CHECK_INT(c->nrules, 1);
	CHECK_STR(c->rules[0].name, "everything");
	CHECK_INT(c->rules[0].line, 7);
	pq_config_free(c);
}

static void test_required_keys_missing_name_file(void)
{
	expect_error("[patchq]\n"
		     "\trepository = /r\n"
		     "\tcommitter = A <a@b>\n",
		     0, "patchq.database is missing");
	expect_error("[patchq]\n"
		     "\tdatabase = /d\n"
		     "\tcommitter = A <a@b>\n",
		     0, "patchq.repository is missing");
	expect_error("[patchq]\n"
		     "\tdatabase = /d\n"
		     "\trepository = /r\n",
		     0, "patchq.committer is missing");
	expect_error("", 0, "patchq.database is missing");
}

static void test_include_not_supported(void)
{
	char *other = write_conf("other.conf", "[patchq]\n\tsignoff = false\n");
	char *broken = write_conf("broken.conf", "[patchq\n");
	struct pq_buf text = PQ_BUF_INIT;

	pq_buf_addf(&text, HEAD "[include]\n\tpath = %s\n", other);
	expect_error(pq_buf_str(&text), 6, "include.path: include files are not supported");
	pq_buf_reset(&text);
	pq_buf_addf(&text, HEAD "[includeIf \"gitdir:/srv/\"]\n\tpath = %s\n", other);
	expect_error(pq_buf_str(&text), 6, "include files are not supported");
	/* A broken included file is not what to report. */
	pq_buf_reset(&text);
	pq_buf_addf(&text, HEAD "\n[include]\n\tpath = %s\n", broken);
	expect_error(pq_buf_str(&text), 7, "include files are not supported");
	/* Nor a missing one. */
	expect_error(HEAD "[include]\n\tpath = /nonexistent/patchq.conf\n", 6,
		     "include files are not supported");
	pq_buf_free(&text);
	free(other);
	free(broken);
}

static void test_key_set_twice_names_both_lines(void)
{
	expect_error(HEAD "\tdatabase = /other.db\n", 5,
		     "patchq.database is set twice (first at line 2)");
	expect_error(HEAD QUEUE_Q "[queue \"q\"]\n"
				  "\tbranch = q2\n",
		     8, "queue.q.branch is set twice (first at line 6)");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tauto = true\n"
				  "\tauto = false\n",
		     10, "rule.r.auto is set twice (first at line 9)");
}

static void test_value_needed(void)
{
	expect_error(HEAD QUEUE_Q "\tbase =\n", 7, "queue.q.base needs a value");
	expect_error(HEAD QUEUE_Q "\tbase\n", 7, "queue.q.base needs a value");
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\tfiles = \"\"\n",
		     9, "rule.r.files needs a value");
}

static void test_boolean_without_value_is_true(void)
{
	struct pq_config *c = load_ok(HEAD "\tsignoff = false\n" QUEUE_Q "\tfrozen\n"
					   "[rule \"r\"]\n"
					   "\tqueue = q\n"
					   "\tfixes\n");

	if (!c)
		return;
	CHECK_INT(c->queues[0].frozen, 1);
	CHECK_INT(c->rules[0].fixes, PQ_COND_YES);
	pq_config_free(c);
}

static void test_parse_error_names_line(void)
{
	expect_error(HEAD "[queue \"q\"\n\tbranch = q\n", 5, "missing ']'");
	expect_error(HEAD QUEUE_Q "\t= value\n", 7, "");
}

static void test_rebuilt_queue_cannot_be_fast_forward(void)
{
	expect_error(HEAD "[queue \"dev\"]\n"
			  "\tbranch = dev\n"
			  "\tfastForward = true\n"
			  "\trebuild = true\n",
		     7, "queue.dev.fastForward: a queue that is rebuilt cannot be fast-forward");
}

static void test_section_name_needed_or_refused(void)
{
	expect_error(HEAD "[queue]\n\tbranch = q\n", 6, "queue.branch: a queue needs a name");
	expect_error(HEAD "[rule]\n", 5, "[rule]: a rule needs a name");
	expect_error(HEAD "[queue \"\"]\n\tbranch = q\n", 6, "a queue needs a name");
	expect_error(HEAD "[patchq \"x\"]\n\tsignoff = true\n", 6, "[patchq] takes no name");
}

static void test_bad_branch_name(void)
{
	expect_error(HEAD "[queue \"q\"]\n\tbranch = a..b\n", 6,
		     "queue.q.branch: \"a..b\" is not a valid branch name");
	expect_error(HEAD "[queue \"q\"]\n\tbranch = refs/heads/q\n", 6, "without refs/heads/");
}

static void test_bad_tag(void)
{
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\ttag = \"rust next\"\n",
		     9, "rule.r.tag: \"rust next\" is not one subject tag");
}

static void test_lines_counted_across_continuations_and_comments(void)
{
	expect_error("# a comment with [brackets] and key = value\n"
		     "; another\n"
		     "[patchq]\n"
		     "\tdatabase = /db # trailing comment ; \n"
		     "\trepository = \"/repo # not a comment\" \\\n"
		     "\t\tcontinued = here\n"
		     "\tlink = \"https://x/%s\" ; a \\\n"
		     "\tcommitter = A <a@b>\n"
		     "\n"
		     "[queue \"a \\\"quoted\\\" name\"]\n"
		     "\tbranch = q\n"
		     "\tbase = \"rust-\\\n"
		     "next\" \\\n"
		     "\t\t-and-more\n"
		     "\tbogus = 1\n",
		     15, "queue.a \"quoted\" name.bogus: unknown key");
}

static void test_repeated_key_error_uses_occurrence_line(void)
{
	expect_error(HEAD QUEUE_Q "[rule \"r\"]\n"
				  "\tqueue = q\n"
				  "\ttag = good\n"
				  "\ttag = another-good\n"
				  "\ttag = not good\n",
		     11, "rule.r.tag: \"not good\"");
	/* The same key name in two rules: the second rule's line. */
	expect_error(HEAD QUEUE_Q "[rule \"a\"]\n"
				  "\tqueue = q\n"
				  "\trfc = false\n"
				  "[rule \"b\"]\n"
				  "\tqueue = q\n"
				  "\trfc = nope\n",
		     12, "rule.b.rfc");
}

static void test_key_on_header_line(void)
{
	struct pq_config *c;

	expect_error(HEAD "[queue \"q\"] branch = q\n"
			  "[rule \"r\"] queue = q\n"
			  "[rule \"s\"] queue = q\n"
			  "\trfc = x\n",
		     8, "rule.s.rfc");
	c = load_ok(HEAD "[queue \"q\"] branch = q\n"
			 "[rule \"r\"] queue = q\n");
	if (c)
		CHECK_INT(c->rules[0].line, 6);
	pq_config_free(c);
}

static void test_old_subsection_syntax_is_lower_case(void)
{
	struct pq_config *c = load_ok(HEAD "[queue.Dev]\n"
					   "\tbranch = dev\n");

	if (c) {
		CHECK(pq_config_queue(c, "dev") != NULL);
		CHECK(pq_config_queue(c, "Dev") == NULL);
	}
	pq_config_free(c);
	expect_error(HEAD "[queue.Dev]\n\tbranch = dev\n\tbogus = 1\n", 7, "queue.dev.bogus");
}

static void test_first_problem_is_reported(void)
{
	expect_error(HEAD "\tsignoff = maybe\n"
			  "\tlink = none\n",
		     5, "patchq.signoff");
	/* Entry errors before the cross-checks (missing committer, no queue). */
	expect_error("[patchq]\n"
		     "\tdatabase = /d\n"
		     "[rule \"r\"]\n"
		     "\tqueue = missing\n"
		     "\tbogus = 1\n",
		     5, "rule.r.bogus");
}

static void test_sources(void)
{
	struct pq_config *c = load_ok(HEAD "[source \"lkml\"]\n"
					   "\ttype = imap\n"
					   "\thost = imap.example.org\n"
					   "\ttls = starttls\n"
					   "\tuser = patchq\n"
					   "\tcredential = imap.pass\n"
					   "\tmailbox = rust\n"
					   "\tmailbox = kbuild\n"
					   "[source \"drop\"]\n"
					   "\ttype = maildir\n"
					   "\tpath = /srv/mail\n"
					   "\tpollInterval = 5\n"
					   "[source \"lore\"]\n"
					   "\ttype = imap\n"
					   "\thost = 127.0.0.1\n"
					   "\tverify = false\n"
					   "\tuser = u\n"
					   "\tpasswordFile = pw\n"
					   "\ttimeout = 7\n");

	if (!c)
		return;
	CHECK_INT((int)c->nsources, 3);
	CHECK_INT(c->sources[0].type, PQ_SRC_IMAP);
	CHECK_INT(c->sources[0].tls, PQ_TLS_STARTTLS);
	CHECK_INT(c->sources[0].verify, 1);
	CHECK_INT((int)c->sources[0].nmailboxes, 2);
	CHECK_STR(c->sources[0].mailboxes[1], "kbuild");
	CHECK_STR(c->sources[0].credential, "imap.pass");
	CHECK_INT(c->sources[0].poll_interval, 60);
	CHECK_INT(c->sources[0].timeout, 60);
	CHECK_INT(c->sources[2].timeout, 7);
	CHECK_INT(c->sources[1].type, PQ_SRC_MAILDIR);
	CHECK_STR(c->sources[1].path, "/srv/mail");
	CHECK_INT(c->sources[1].poll_interval, 5);
	CHECK_INT(c->sources[2].tls, PQ_TLS_IMPLICIT);
	CHECK_INT(c->sources[2].verify, 0);
	CHECK_INT((int)c->sources[2].nmailboxes, 1);
	CHECK_STR(c->sources[2].mailboxes[0], "INBOX");
	CHECK(strstr(c->sources[2].password_file, "/pw") != NULL);
	pq_config_free(c);
}

static void test_source_errors_name_line(void)
{
	expect_error(HEAD "[source \"s\"]\n\tpath = /x\n", 5, "source.s.type is missing");
	expect_error(HEAD "[source \"s\"]\n\ttype = pop3\n", 6,
		     "source.s.type: \"pop3\" is not imap, maildir or public-inbox");
	expect_error(HEAD "[source \"s\"]\n\ttype = maildir\n", 5, "source.s.path is missing");
	expect_error(HEAD "[source \"s\"]\n\ttype = maildir\n\tpath = /x\n\thost = h\n", 8,
		     "source.s.host: only an imap source takes it");
	expect_error(HEAD "[source \"s\"]\n\ttype = imap\n\thost = h\n\tuser = u\n", 5,
		     "needs exactly one of passwordFile and credential");
	expect_error(HEAD "[source \"s\"]\n\ttype = imap\n\thost = h\n\tuser = u\n"
			  "\tcredential = c\n\ttls = ssl\n",
		     10, "source.s.tls: \"ssl\" is not imaps, starttls or none");
	expect_error(HEAD "[source \"s\"]\n\ttype = maildir\n\tpath = /x\n\tpollInterval = 0\n", 8,
		     "pollInterval: at least 1");
	expect_error(HEAD "[source \"s\"]\n\ttype = maildir\n\tpath = /x\n\tport = 1\n", 8,
		     "source.s.port: only an imap source takes it");
	expect_error(HEAD "[source \"s\"]\n\ttype = maildir\n\tpath = /x\n\ttimeout = 5\n", 8,
		     "source.s.timeout: only an imap source takes it");
	expect_error(HEAD "[source \"s\"]\n\ttype = imap\n\thost = h\n\tuser = u\n"
			  "\tcredential = c\n\ttimeout = 0\n",
		     10, "source.s.timeout: at least 1 (second)");
	expect_error(HEAD "[source \"s\"]\n\ttype = imap\n\thost = h\n\tuser = u\n"
			  "\tcredential = c\n\tport = 0\n",
		     10, "source.s.port: \"0\" is not a port (1 to 65535)");
	expect_error(HEAD "[source \"s\"]\n\ttype = imap\n\thost = h\n\tuser = u\n"
			  "\tcredential = c\n\tport = 70000\n",
		     10, "source.s.port: \"70000\" is not a port");
	expect_error(HEAD "[smtp]\n\thost = h\n\tport = no-such-service\n", 7,
		     "smtp.port: \"no-such-service\" is neither a port number nor a known service");
}

/* A password file others can read is refused, as ssh refuses such a key. */
static void test_open_password_file_is_refused(void)
{
	struct pq_config *c;
	struct pq_buf text = PQ_BUF_INIT, pw = PQ_BUF_INIT;
	char *path = write_conf("password", "s3cret\n");

	CHECK_INT(chmod(path, 0644), 0);
	pq_buf_addf(&text, HEAD "[smtp]\n\thost = h\n\tuser = u\n\tpasswordFile = %s\n", path);
	expect_error(pq_buf_str(&text), 8, "smtp.passwordFile: ");
	expect_error(pq_buf_str(&text), 8, "is readable or writable by others (mode 0644)");
	CHECK_INT(pq_config_secret(path, NULL, &pw), PQ_EPERM);
	pq_buf_reset(&pw);
	CHECK_INT(chmod(path, 0600), 0);
	c = load_ok(pq_buf_str(&text));
	CHECK(c != NULL);
	CHECK_INT(pq_config_secret(path, NULL, &pw), 0);
	CHECK_STR(pq_buf_str(&pw), "s3cret");
	pq_config_free(c);
	pq_buf_free(&pw);
	pq_buf_free(&text);
	free(path);
}

static void test_reply_and_smtp(void)
{
	struct pq_config *c = load_ok(HEAD QUEUE_Q
				      "\treply = false\n"
				      "[reply]\n"
				      "\tapplied = Applied to `%s` -- thanks everyone!\n"
				      "\tcommitUrl = https://git.example.org/c/%s\n"
				      "[smtp]\n"
				      "\thost = smtp.example.org\n"
				      "\tuser = patchq\n"
				      "\tcredential = smtp.pass\n");

	if (c) {
		CHECK_INT(c->queues[0].reply, 0);
		CHECK_STR(c->reply.from_name, "A U Thor");
		CHECK_STR(c->reply.from_email, "a@example.org");
		CHECK_STR(c->reply.applied, "Applied to `%s` -- thanks everyone!");
		CHECK_STR(c->reply.commit_url, "https://git.example.org/c/%s");
		CHECK_INT(c->reply.failures, 1);
		CHECK_INT(c->has_smtp, 1);
		CHECK_INT(c->smtp.tls, PQ_TLS_STARTTLS);
		CHECK_INT(c->smtp.verify, 1);
		CHECK_STR(c->smtp.credential, "smtp.pass");
	}
	pq_config_free(c);
	c = load_ok(HEAD QUEUE_Q "[reply]\n\tfrom = Bot <bot@example.org>\n"
				 "[smtp]\n\tmaildir = out\n");
	if (c) {
		CHECK_INT(c->queues[0].reply, 1);
		CHECK_STR(c->reply.from_name, "Bot");
		CHECK_STR(c->reply.applied, "Applied to %s, thanks!");
		CHECK(strstr(c->smtp.maildir, "/out") != NULL);
	}
	pq_config_free(c);
	expect_error(HEAD "[smtp]\n\thost = h\n\tmaildir = m\n", 5,
		     "smtp needs exactly one of host, sendmail and maildir");
	expect_error(HEAD "[smtp]\n\tsendmail = /usr/sbin/sendmail\n\tport = 25\n", 7,
		     "smtp.port: only with smtp.host");
	expect_error(HEAD "[smtp]\n\thost = h\n\ttls = ssl\n", 7,
		     "smtp.tls: \"ssl\" is not smtps, starttls or none");
	expect_error(HEAD "[smtp]\n\thost = h\n\tuser = u\n", 7,
		     "smtp.user needs exactly one of passwordFile and credential");
	expect_error(HEAD "[reply]\n\tapplied = Applied %s to %s\n", 6,
		     "reply.applied: \"Applied %s to %s\" must hold %s exactly once");
	expect_error(HEAD "[reply]\n\tfrom = nobody\n", 6,
		     "reply.from: \"nobody\" is not of the form");
}

static void test_http(void)
{
	struct pq_config *c = load_ok(HEAD "[http]\n\tlisten = 127.0.0.1:0\n");

	if (c) {
		CHECK_INT(c->has_http, 1);
		CHECK_INT(c->http.family, PQ_HTTP_INET);
		CHECK_STR(c->http.host, "127.0.0.1");
		CHECK_INT(c->http.port, 0);
		CHECK_INT(c->http.timeout, 30);
	}
	pq_config_free(c);
	c = load_ok(HEAD "[http]\n\tlisten = [::1]:8080\n\ttimeout = 2\n");
	if (c) {
		CHECK_INT(c->http.family, PQ_HTTP_INET6);
		CHECK_STR(c->http.host, "::1");
		CHECK_INT(c->http.port, 8080);
		CHECK_INT(c->http.timeout, 2);
	}
	pq_config_free(c);
	c = load_ok(HEAD "[http]\n\tlisten = unix:/run/patchq/desk.sock\n");
	if (c) {
		CHECK_INT(c->http.family, PQ_HTTP_UNIX);
		CHECK_STR(c->http.host, "/run/patchq/desk.sock");
	}
	pq_config_free(c);
	c = load_ok(HEAD);
	if (c)
		CHECK_INT(c->has_http, 0);
	pq_config_free(c);
	expect_error(HEAD "[http]\n\tlisten = 127.0.0.1:70000\n", 6,
		     "http.listen: \"127.0.0.1:70000\": the port is not 0 to 65535");
	expect_error(HEAD "[http]\n\tlisten = 127.0.0.1\n", 6,
		     "http.listen: \"127.0.0.1\" is not ADDRESS:PORT");
	expect_error(HEAD "[http]\n\tlisten = 127.0.0.1:\n", 6, "the port is not 0 to 65535");
	expect_error(HEAD "[http]\n\tlisten = localhost:80\n", 6, "is not ADDRESS:PORT");
	expect_error(HEAD "[http]\n\tlisten = ::1:80\n", 6, "is not ADDRESS:PORT");
	expect_error(HEAD "[http]\n\tlisten = [::1]80\n", 6, "is not ADDRESS:PORT");
	expect_error(HEAD "[http]\n\tlisten = 127.0.0.1:-1\n", 6, "the port is not 0 to 65535");
	expect_error(HEAD "[http]\n\tlisten = unix:desk.sock\n", 6, "unix: takes an absolute path");
	expect_error(HEAD "[http]\n\ttimeout = 5\n", 5, "http.listen is missing");
	expect_error(HEAD "[http]\n\tlisten = 127.0.0.1:1\n\ttimeout = 0\n", 7,
		     "http.timeout: at least 1");
	expect_error(HEAD "[http]\n\tport = 80\n", 6, "http.port: unknown key");
}

/* Found by fuzz_config: libgit2 hands a key before any section without a dot. */
static void test_key_before_any_section(void)
{
	expect_error("repository = x\n" HEAD, 0, "\"repository\": a key outside any section");
}

static void test_free_and_lookup_accept_null(void)
{
	pq_config_free(NULL);
	CHECK(pq_config_queue(NULL, "q") == NULL);
}

static void test_alias_addresses(void)
{
	struct pq_config *c = load_ok(HEAD "[alias \"Miguel Ojeda\"]\n"
					   "\taddress = ojeda@kernel.org\n"
					   "\taddress = Miguel.Ojeda.Sandonis@gmail.com\n"
					   "[alias \"Bob\"]\n"
					   "\taddress = bob@example.org\n"
					   "\taddress = bob@work.example\n");

	if (!c)
		return;
	CHECK_INT(c->naliases, 2);
	CHECK_STR(c->aliases[0].name, "Miguel Ojeda");
	CHECK_INT(c->aliases[0].naddresses, 2);
	/* kept lower-case */
	CHECK_STR(c->aliases[0].naddresses == 2 ? c->aliases[0].addresses[1] : NULL,
		  "miguel.ojeda.sandonis@gmail.com");
	CHECK(pq_config_same_person(c, "ojeda@kernel.org", "miguel.ojeda.sandonis@gmail.com"));
	CHECK(pq_config_same_person(c, "OJEDA@kernel.org", "Miguel.Ojeda.Sandonis@Gmail.com"));
	CHECK(pq_config_same_person(c, "anyone@example.org", "ANYONE@example.org"));
	CHECK(!pq_config_same_person(c, "ojeda@kernel.org", "bob@example.org"));
	CHECK(!pq_config_same_person(c, "ojeda@kernel.org", "someone@gmail.com"));
	CHECK(!pq_config_same_person(c, "bob@work.example", ""));
	CHECK(!pq_config_same_person(c, NULL, "bob@work.example"));
	CHECK(pq_config_same_person(NULL, "a@b", "A@B"));
	CHECK(!pq_config_same_person(NULL, "a@b", "c@d"));
	pq_config_free(c);
}

static void test_alias_mistakes_name_line(void)
{
	expect_error(HEAD "[alias \"M\"]\n"
			  "\taddress = Miguel Ojeda <ojeda@kernel.org>\n",
		     6, "alias.M.address: \"Miguel Ojeda <ojeda@kernel.org>\" is not one address");
	expect_error(HEAD "[alias \"M\"]\n"
			  "\taddress = ojeda@kernel.org\n"
			  "\taddress = nobody\n",
		     7, "alias.M.address: \"nobody\" is not one address");
	expect_error(HEAD "[alias \"M\"]\n"
			  "\taddress = ojeda@kernel.org\n"
			  "\taddress = m@gmail.com\n"
			  "[alias \"N\"]\n"
			  "\taddress = x@example.org\n"
			  "\taddress = Ojeda@Kernel.org\n",
		     10, "alias.N.address: ojeda@kernel.org is already an address of alias \"M\"");
	expect_error(HEAD "\n[alias \"alone\"]\n"
			  "\taddress = one@example.org\n",
		     6, "alias.alone needs two addresses or more");
	expect_error(HEAD "[alias \"empty\"]\n", 5, "alias.empty needs two addresses or more");
	expect_error(HEAD "[alias]\n"
			  "\taddress = one@example.org\n",
		     6, "alias.address: an alias needs a name");
	expect_error(HEAD "[alias \"M\"]\n"
			  "\taddress = a@example.org\n"
			  "\tname = M\n",
		     7, "alias.M.name: unknown key: [alias] takes address");
}

static void test_elsewhere(void)
{
	struct pq_config *c = load_ok(HEAD "[queue \"q\"]\n"
					   "\tbranch = q\n"
					   "\tholdInMergeWindow = true\n"
					   "[elsewhere \"kbuild\"]\n"
					   "\tfrom = Masahiroy@kernel.org  nathan@kernel.org\n"
					   "\tfrom = nicolas@fjasle.eu\n"
					   "\ttree = linux-kbuild\n"
					   "[elsewhere \"net\"]\n"
					   "\tfrom = kuba@kernel.org\n");

	if (!c)
		return;
	CHECK_INT(c->queues[0].hold_in_merge_window, 1);
	CHECK_INT(c->nelsewhere, 2);
	CHECK_INT(c->elsewhere[0].nfrom, 3);
	CHECK_STR(c->elsewhere[0].from[0], "masahiroy@kernel.org");
	CHECK_STR(c->elsewhere[0].tree, "linux-kbuild");
	CHECK_STR(c->elsewhere[1].tree, "net"); /* the name by default */
	CHECK(pq_config_elsewhere(c, "NATHAN@kernel.org") == &c->elsewhere[0]);
	CHECK(pq_config_elsewhere(c, "kuba@kernel.org") == &c->elsewhere[1]);
	CHECK(pq_config_elsewhere(c, "a@example.org") == NULL);
	CHECK(pq_config_elsewhere(NULL, "kuba@kernel.org") == NULL);
	pq_config_free(c);
	c = load_ok(HEAD);
	if (c)
		CHECK_INT(c->nqueues ? c->queues[0].hold_in_merge_window : 0, 0);
	pq_config_free(c);
}

static void test_elsewhere_mistakes_name_line(void)
{
	expect_error(HEAD "[elsewhere \"kbuild\"]\n"
			  "\ttree = linux-kbuild\n",
		     5, "elsewhere.kbuild.from is missing");
	expect_error(HEAD "[elsewhere \"kbuild\"]\n"
			  "\tfrom = masahiroy@kernel.org Masahiro <m@kernel.org>\n",
		     6, "elsewhere.kbuild.from: \"masahiro\" is not an address");
	/* our own committer is not another tree's maintainer */
	expect_error(HEAD "[elsewhere \"kbuild\"]\n"
			  "\tfrom = A@example.org\n",
		     5, "elsewhere.kbuild.from: a@example.org is our own address");
	expect_error(HEAD "[elsewhere \"kbuild\"]\n"
			  "\tfrom = m@kernel.org\n"
			  "[elsewhere \"next\"]\n"
			  "\tfrom = x@kernel.org m@kernel.org\n",
		     7,
		     "elsewhere.next.from: m@kernel.org is already a maintainer of elsewhere "
		     "\"kbuild\"");
	expect_error(HEAD "[elsewhere]\n"
			  "\tfrom = m@kernel.org\n",
		     6, "elsewhere.from: an elsewhere needs a name");
	expect_error(HEAD "[elsewhere \"k\"]\n"
			  "\tfrom = m@kernel.org\n"
			  "\ttree = a\n"
			  "\ttree = b\n",
		     8, "elsewhere.k.tree is set twice");
	expect_error(HEAD "[queue \"q\"]\n"
			  "\tbranch = q\n"
			  "\tholdInMergeWindow = maybe\n",
		     7, "queue.q.holdInMergeWindow: \"maybe\" is not a boolean");
}

static void test_checks(void)
{
	struct pq_config *c = load_ok(HEAD QUEUE_Q
				      "[queue \"r\"]\n"
				      "\tbranch = r\n"
				      "[check \"fmt\"]\n"
				      "\tcommand = \"sh -c 'rustfmt --check \\\"$F\\\"; x'\"\n"
				      "\tqueues = r\n"
				      "\tper = patch\n"
				      "\ttimeout = 30\n"
				      "\tblocking = true\n"
				      "[check \"doc\"]\n"
				      "\tcommand = make LLVM=1 rustdoc\n"
				      "\tqueues = all\n"
				      "[check \"off\"]\n"
				      "\tcommand = false\n"
				      "\tenabled = false\n");
	const struct pq_check_conf *k;

	if (!c)
		return;
	CHECK_STR(c->check_dir, "/srv/checks"); /* next to the database */
	CHECK_INT(c->nchecks, 3);
	k = &c->checks[0];
	CHECK_STR(k->name, "fmt");
	CHECK_INT(k->argc, 3);
	if (k->argc == 3) {
		CHECK_STR(k->argv[0], "sh");
		CHECK_STR(k->argv[1], "-c");
		CHECK_STR(k->argv[2], "rustfmt --check \"$F\"; x");
		CHECK(k->argv[3] == NULL);
	}
	CHECK_INT(k->per, PQ_CHECK_PER_PATCH);
	CHECK_INT(k->timeout, 30);
	CHECK_INT(k->blocking, 1);
	CHECK(pq_config_check_on(k, "r") && !pq_config_check_on(k, "q"));
	k = &c->checks[1];
	CHECK_INT(k->argc, 3);
	CHECK_INT(k->per, PQ_CHECK_PER_SERIES); /* the defaults */
	CHECK_INT(k->timeout, 600);
	CHECK_INT(k->blocking, 0);
	CHECK_INT(k->nqueues, 0); /* all */
	CHECK(pq_config_check_on(k, "r") && pq_config_check_on(k, "q"));
	CHECK(!pq_config_check_on(&c->checks[2], "q")); /* disabled */
	pq_config_free(c);

	expect_error(HEAD QUEUE_Q "[check \"x\"]\n\tqueues = q\n", 7, "check.x.command is missing");
	expect_error(HEAD QUEUE_Q "[check \"x\"]\n\tcommand = a\n\tqueues = q z\n", 9,
		     "check.x.queues: no queue \"z\" is defined");
	expect_error(HEAD QUEUE_Q "[check \"x\"]\n\tcommand = a\n\ttimeout = 0\n", 9,
		     "check.x.timeout: 0 is not 1 to 86400");
	expect_error(HEAD QUEUE_Q "[check \"x\"]\n\tcommand = a\n\tper = commit\n", 9,
		     "\"commit\" is not patch or series");
	expect_error(HEAD QUEUE_Q "[check \"x\"]\n\tcommand = a 'b\n", 8,
		     "check.x.command: ' without its closing '");
	expect_error(HEAD QUEUE_Q "[check \"x\"]\n\tcommand = a\n\tcommand = b\n", 9,
		     "check.x.command is set twice");
}

static void test_split_argv(void)
{
	char **v;
	size_t n;

	CHECK_INT(pq_config_split_argv("  a  'b c'\"d \\\" e\"f\\ g  ", &v, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0], "a");
		CHECK_STR(v[1], "b cd \" ef g");
		CHECK(v[2] == NULL);
	}
	while (n)
		free(v[--n]);
	free(v);
	CHECK_INT(pq_config_split_argv("''", &v, &n), 0); /* an empty word is a word */
	CHECK(n == 1 && !strcmp(v[0], ""));
	free(v[0]);
	free(v);
	CHECK_INT(pq_config_split_argv("   ", &v, &n), PQ_EINVAL);
	CHECK(v == NULL && n == 0);
	CHECK_INT(pq_config_split_argv("a \"b", &v, &n), PQ_EINVAL);
}

int main(void)
{
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	test_full_file_with_every_key();
	test_checks();
	test_split_argv();
	test_defaults();
	test_alias_addresses();
	test_alias_mistakes_name_line();
	test_elsewhere();
	test_elsewhere_mistakes_name_line();
	test_fixed_committer_date();
	test_rules_keep_file_order();
	test_repeatable_tags_files_from();
	test_rule_conditions_stable_prefix_share();
	test_keys_are_case_insensitive();
	test_subsection_case_is_kept();
	test_relative_paths_resolve_from_file_directory();
	test_tilde_path_is_home();
	test_example_file_loads();
	test_missing_file_is_eio();
	test_unknown_section_names_line();
	test_unknown_key_names_line();
	test_bad_boolean_names_line();
	test_bad_integer_names_line();
	test_bad_committer_names_line();
	test_bad_committer_date_names_line();
	test_link_needs_exactly_one_percent_s();
	test_rule_queue_must_be_defined();
	test_rule_fixes_in_must_name_a_queue();
	test_queue_without_branch_names_header();
	test_two_queues_same_branch_names_second();
	test_rule_without_queue_names_header();
	test_rule_without_condition_is_catch_all();
	test_required_keys_missing_name_file();
	test_include_not_supported();
	test_key_set_twice_names_both_lines();
	test_value_needed();
	test_boolean_without_value_is_true();
	test_parse_error_names_line();
	test_rebuilt_queue_cannot_be_fast_forward();
	test_section_name_needed_or_refused();
	test_bad_branch_name();
	test_bad_tag();
	test_lines_counted_across_continuations_and_comments();
	test_repeated_key_error_uses_occurrence_line();
	test_key_on_header_line();
	test_old_subsection_syntax_is_lower_case();
	test_first_problem_is_reported();
	test_sources();
	test_reply_and_smtp();
	test_http();
	test_key_before_any_section();
	test_source_errors_name_line();
	test_open_password_file_is_refused();
	test_free_and_lookup_accept_null();

	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_DONE();
}
