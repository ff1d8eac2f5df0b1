/* rules: queue and policy for a series, first matching rule wins (see rules.h). */
#include "rules.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "am.h"
#include "error.h"
#include "patch.h"
#include "repo.h"
#include "series.h"

/* Adds s to a set; returns its index there. */
static size_t add_unique(char ***v, size_t *n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strlen((*v)[i]) == len && !strncmp((*v)[i], s, len))
			return i;
	*v = pq_reallocarray(*v, *n + 1, sizeof(**v));
	(*v)[*n] = pq_strndup(s, len);
	return (*n)++;
}

/* Appends the sep-separated words of s to a set. */
static void add_words(char ***v, size_t *n, const char *s, char sep)
{
	while (*s) {
		const char *e = strchr(s, sep);
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (len)
			add_unique(v, n, s, len);
		s += len + (e ? 1 : 0);
	}
}

static int count_reviews(const struct pq_trailers *t)
{
	size_t i;
	int n = 0;

	for (i = 0; i < t->n; i++)
		n += !strcasecmp(t->v[i].name, "Reviewed-by") ||
		     !strcasecmp(t->v[i].name, "Acked-by");
	return n;
}

/* Notes the Fixes: trailers of t, and the commit id each names first. */
static void add_fixes(struct pq_rules_input *in, const struct pq_trailers *t)
{
	size_t i, n;

	for (i = 0; i < t->n; i++) {
		const char *v = t->v[i].value;

		if (strcasecmp(t->v[i].name, "Fixes"))
			continue;
		in->has_fixes = 1;
		n = strspn(v, "0123456789abcdefABCDEF");
		if (n >= 7 && n <= 40)
			add_unique(&in->fixes, &in->nfixes, v, n);
	}
}

char *pq_rules_prefix(const char *name)
{
	const char *colon = name ? strchr(name, ':') : NULL, *p;
	char *out;
	size_t i;

	if (!colon || colon == name || (colon[1] && colon[1] != ' ' && colon[1] != '\t'))
		return NULL;
	for (p = name; p < colon; p++)
		if ((unsigned char)*p <= ' ' || strchr("\"'[]()<>", *p))
			return NULL;
	out = pq_strndup(name, (size_t)(colon - name));
	for (i = 0; out[i]; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return out;
}

static int local_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '+' || ch == '-';
}

char *pq_rules_stable_address(const char *list)
{
	const char *at;

	for (at = list ? strchr(list, '@') : NULL; at; at = strchr(at + 1, '@')) {
		const char *start = at, *end = at + 1;
		size_t dlen;
		char *out, *p;

		while (start > list && local_char(start[-1]))
			start--;
		while (local_char(*end))
			end++;
		dlen = (size_t)(end - at - 1);
		while (dlen && at[dlen] == '.') /* "stable@kernel.org." ends a sentence */
			dlen--;
		if (at - start != 6 || strncasecmp(start, "stable", 6))
			continue;
		if (!((dlen == 10 && !strncasecmp(at + 1, "kernel.org", 10)) ||
		      (dlen > 11 && !strncasecmp(at + 1 + dlen - 11, ".kernel.org", 11))))
			continue;
		out = pq_strndup(start, (size_t)(at - start) + 1 + dlen);
		for (p = out; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		return out;
	}
	return NULL;
}

/* Notes the first stable@ address a Cc: trailer of t names. */
static void add_stable_trailer(struct pq_rules_input *in, const struct pq_trailers *t)
{
	size_t i;

	for (i = 0; i < t->n && !in->stable; i++)
		if (!strcasecmp(t->v[i].name, "Cc"))
			in->stable = pq_rules_stable_address(t->v[i].value);
}

void pq_rules_input_free(struct pq_rules_input *in)
{
	size_t i;

	for (i = 0; i < in->ntags; i++)
		free(in->tags[i]);
	for (i = 0; i < in->nfiles; i++)
		free(in->files[i]);
	for (i = 0; i < in->nfixes; i++)
		free(in->fixes[i]);
	for (i = 0; i < in->nfixes_on; i++)
		free(in->fixes_on[i]);
	for (i = 0; i < in->nprefixes; i++)
		free(in->prefixes[i]);
	free(in->prefixes);
	free(in->lines);
	free(in->stable);
	free(in->patch_reviews);
	free(in->fixes);
	free(in->fixes_on);
	free(in->tags);
	free(in->files);
	free(in->sender);
	memset(in, 0, sizeof(*in));
}

/* A * crosses /, as in MAINTAINERS: "rust/" followed by * is all of rust/. */
static int glob_any(char *const *globs, size_t nglobs, char *const *names, size_t nnames)
{
	size_t i, j;

	for (i = 0; i < nglobs; i++)
		for (j = 0; j < nnames; j++)
			if (!fnmatch(globs[i], names[j], 0))
				return 1;
	return 0;
}

static int tag_any(const struct pq_rule_conf *r, const struct pq_rules_input *in)
{
	size_t i, j;

	for (i = 0; i < r->ntags; i++)
		for (j = 0; j < in->ntags; j++)
			if (!strcasecmp(r->tags[i], in->tags[j]))
				return 1;
	return 0;
}

/* Whether a commit a Fixes: names is on queue (as the loader found it). */
static int fixes_in(const char *queue, const struct pq_rules_input *in)
{
	size_t i;

	for (i = 0; i < in->nfixes_on; i++)
		if (!strcmp(in->fixes_on[i], queue))
			return 1;
	return 0;
}

/*
 * The queues a fixesIn condition names on whose branch a commit of the
 * Fixes: trailers is: looked up now, so that deciding is pure. A
 * repository that cannot be read is an error, never a "no".
 */
static int load_fixes_on(const struct pq_config *c, struct pq_repo *repo, struct pq_rules_input *in)
{
	size_t i, k;

	for (i = 0; i < c->nrules; i++) {
		const struct pq_queue_conf *q =
			c->rules[i].fixes_in ? pq_config_queue(c, c->rules[i].fixes_in) : NULL;

		if (!q || fixes_in(q->name, in))
			continue;
		for (k = 0; k < in->nfixes; k++) {
			int rc = pq_repo_contains(repo, q->branch, in->fixes[k]);

			if (rc < 0)
				return rc;
			if (rc) {
				add_unique(&in->fixes_on, &in->nfixes_on, q->name, strlen(q->name));
				break;
			}
		}
	}
	return 0;
}

/* Whether some rule of c states a stable condition (stable), a share (share). */
static int rules_ask(const struct pq_config *c, int stable, int share)
{
	size_t i;

	for (i = 0; i < c->nrules; i++)
		if ((stable && c->rules[i].stable != PQ_COND_ANY) ||
		    (share && c->rules[i].min_share))
			return 1;
	return 0;
}

/* Adds the changed lines of each file of message id's diff to in->lines. */
static int add_lines(struct pq_store *s, long long id, struct pq_rules_input *in)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT diff FROM message WHERE id = ?");
	struct pq_patch p;
	size_t i, k, was;
	int rc;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : pq_store_error(s, "reading a diff");
	}
	pq_patch_parse(&p, pq_store_col_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_reset(st);
	for (i = 0; i < p.nfiles; i++) {
		was = in->nfiles;
		k = add_unique(&in->files, &in->nfiles, p.files[i], strlen(p.files[i]));
		if (in->nfiles > was) {
			in->lines = pq_reallocarray(in->lines, in->nfiles, sizeof(*in->lines));
			in->lines[k] = 0;
		}
		in->lines[k] += p.lines[i];
	}
	pq_patch_free(&p);
	return 0;
}

/* The To: and Cc: of messages stored before they were kept (0012): from the raw mail. */
static int stable_from_raw(struct pq_store *s, long long id, struct pq_rules_input *in)
{
	struct pq_mail m;
	int ret;

	memset(&m, 0, sizeof(m));
	if ((ret = pq_am_mail_load(s, id, &m)) == 0) {
		in->stable = pq_rules_stable_address(m.to);
		if (!in->stable)
			in->stable = pq_rules_stable_address(m.cc);
	}
	pq_mail_free(&m);
	/* a mail that no longer parses has no header to tell: only the database fails */
	return ret == PQ_EDB ? ret : 0;
}

int pq_rules_input_load(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			long long id, struct pq_rules_input *in)
{
	sqlite3_stmt *st = pq_store_stmt(s,
					 "SELECT tags, files, rfc, name, to_header, cc_header, id"
					 " FROM message WHERE series_id = ? ORDER BY idx, id");
	int stable = rules_ask(c, 1, 0), share = rules_ask(c, 0, 1);
	struct pq_series *se;
	long long *old = NULL;
	size_t i, nold = 0;
	int ret = 0, least = -1, rc;

	memset(in, 0, sizeof(*in));
	if (!st)
		return PQ_EDB;
	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *prefix = pq_rules_prefix(pq_store_col_text(st, 3));

		add_words(&in->tags, &in->ntags, pq_store_col_text(st, 0), ' ');
		add_words(&in->files, &in->nfiles, pq_store_col_text(st, 1), '\n');
		in->rfc |= sqlite3_column_int(st, 2);
		if (prefix)
			add_unique(&in->prefixes, &in->nprefixes, prefix, strlen(prefix));
		free(prefix);
		if (!stable || in->stable)
			continue;
		if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
			old = pq_reallocarray(old, nold + 1, sizeof(*old));
			old[nold++] = sqlite3_column_int64(st, 6);
			continue;
		}
		in->stable = pq_rules_stable_address(pq_store_col_text(st, 4));
		if (!in->stable)
			in->stable = pq_rules_stable_address(pq_store_col_text(st, 5));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		ret = pq_store_error(s, "reading a series' messages");
	for (i = 0; i < nold && !ret && !in->stable; i++)
		ret = stable_from_raw(s, old[i], in);
	free(old);
	if (share && !ret) {
		in->lines = pq_calloc(in->nfiles ? in->nfiles : 1, sizeof(*in->lines));
		for (i = 0; i < se->npatches && !ret; i++)
			ret = add_lines(s, se->patches[i].id, in);
	}
	in->sender = pq_strdup(se->submitter ? se->submitter : "");
	in->version = se->version;
	in->npatches = se->npatches;
	in->patch_reviews = pq_calloc(se->npatches ? se->npatches : 1, sizeof(*in->patch_reviews));
	for (i = 0; i < se->npatches; i++) {
		const struct pq_series_patch *p = &se->patches[i];
		int r = count_reviews(&p->own) + count_reviews(&p->collected);

		add_fixes(in, &p->own);
		add_fixes(in, &p->collected);
		if (stable && !in->stable)
			add_stable_trailer(in, &p->own);
		if (stable && !in->stable)
			add_stable_trailer(in, &p->collected);
		in->patch_reviews[i] = r;
		if (least < 0 || r < least)
			least = r;
	}
	in->reviews = least < 0 ? 0 : least;
	pq_series_free(se);
	if (!ret && in->nfixes)
		ret = load_fixes_on(c, repo, in);
	if (ret < 0)
		pq_rules_input_free(in);
	return ret;
}

/* The first of names matching none of globs, or NULL. */
static const char *glob_none(char *const *globs, size_t nglobs, char *const *names, size_t nnames)
{
	size_t j;

	for (j = 0; j < nnames; j++)
		if (!glob_any(globs, nglobs, &names[j], 1))
			return names[j];
	return NULL;
}

/* The first of names some glob matches (that glob into *glob), or NULL. */
static const char *glob_first(char *const *globs, size_t nglobs, char *const *names, size_t nnames,
			      const char **glob)
{
	size_t i, j;

	for (j = 0; j < nnames; j++)
		for (i = 0; i < nglobs; i++)
			if (!fnmatch(globs[i], names[j], 0)) {
				*glob = globs[i];
				return names[j];
			}
	return NULL;
}

static int prefix_any(const struct pq_rule_conf *r, const struct pq_rules_input *in)
{
	size_t i, j;

	for (i = 0; i < r->nprefixes; i++)
		for (j = 0; j < in->nprefixes; j++)
			if (!strcmp(r->prefixes[i], in->prefixes[j]))
				return 1;
	return 0;
}

/* " (or others)" when a list holds more than one. */
static const char *others(size_t n)
{
	return n > 1 ? " (or others)" : "";
}

static void why_prefix(const struct pq_rule_conf *r, const struct pq_rules_input *in,
		       struct pq_buf *why)
{
	size_t i;

	pq_buf_addf(why, "no subject prefix %s:%s", r->prefixes[0], others(r->nprefixes));
	if (!in->nprefixes) {
		pq_buf_adds(why, "; the subjects have none");
		return;
	}
	pq_buf_adds(why, "; the subjects have ");
	for (i = 0; i < in->nprefixes; i++)
		pq_buf_addf(why, "%s%s:", i ? ", " : "", in->prefixes[i]);
}

/* Whether the changed lines in files matching r's shareFiles reach its minShare. */
static int share_holds(const struct pq_rule_conf *r, const struct pq_rules_input *in,
		       unsigned long long *part, unsigned long long *total)
{
	size_t i;

	*part = *total = 0;
	for (i = 0; in->lines && i < in->nfiles; i++) {
		*total += in->lines[i];
		if (glob_any(r->share_files, r->nshare_files, &in->files[i], 1))
			*part += in->lines[i];
	}
	return *total && *part * 100 >= (unsigned long long)r->min_share * *total;
}

/* Every patch reviewed at least r's minReviews times; else the count, and the patches short. */
static void why_reviews(const struct pq_rule_conf *r, const struct pq_rules_input *in,
			struct pq_buf *why)
{
	size_t i, ok = 0, listed = 0, n = in->npatches;

	if (!in->patch_reviews || !n) {
		pq_buf_addf(why,
			    "%d review(s) on the least reviewed patch; the rule needs every patch "
			    "reviewed at least %d time(s)",
			    in->reviews, r->min_reviews);
		return;
	}
	for (i = 0; i < n; i++)
		ok += in->patch_reviews[i] >= r->min_reviews;
	if (n == 1) {
		pq_buf_addf(why, "the patch has %d review(s); the rule needs at least %d",
			    in->patch_reviews[0], r->min_reviews);
		return;
	}
	pq_buf_addf(why,
		    "%zu of %zu patches reviewed%s; the rule needs every patch reviewed at least "
		    "%d time(s); short:",
		    ok, n, r->min_reviews > 1 ? " enough" : "", r->min_reviews);
	for (i = 0; i < n; i++) {
		if (in->patch_reviews[i] >= r->min_reviews)
			continue;
		if (listed++ == 5) {
			pq_buf_addf(why, " and %zu more", n - ok - 5);
			break;
		}
		pq_buf_addf(why, "%s %zu/%zu (%d)", listed > 1 ? "," : "", i + 1, n,
			    in->patch_reviews[i]);
	}
}

/* NULL when r matches in, else the first condition that does not hold. */
static const char *mismatch(const struct pq_rule_conf *r, const struct pq_rules_input *in,
			    struct pq_buf *why)
{
	char *sender = (char *)in->sender;

	const char *f, *g;
	unsigned long long part, total;

	pq_buf_reset(why);
	if (r->ntags && !tag_any(r, in))
		pq_buf_addf(why, "no subject tag %s%s", r->tags[0], others(r->ntags));
	else if (r->nprefixes && !prefix_any(r, in))
		why_prefix(r, in, why);
	else if (r->fixes != PQ_COND_ANY && r->fixes != in->has_fixes)
		pq_buf_adds(why, r->fixes ? "no Fixes: trailer" : "has a Fixes: trailer");
	else if (r->stable != PQ_COND_ANY && r->stable != (in->stable != NULL))
		pq_buf_addf(
			why,
			r->stable ? "no Cc: to stable@ (neither a Cc: trailer nor the mails' To/Cc)"
				  : "Cc: %s, a fix for stable",
			in->stable);
	else if (r->rfc != PQ_COND_ANY && r->rfc != in->rfc)
		pq_buf_adds(why, r->rfc ? "not an RFC" : "is an RFC");
	else if (r->nfiles && !glob_any(r->files, r->nfiles, in->files, in->nfiles))
		pq_buf_addf(why, "touches no file matching %s%s", r->files[0], others(r->nfiles));
	else if (r->nall_files && !in->nfiles)
		pq_buf_adds(why, "touches no file");
	else if (r->nall_files &&
		 (f = glob_none(r->all_files, r->nall_files, in->files, in->nfiles)))
		pq_buf_addf(why, "touches %s, which does not match %s%s", f, r->all_files[0],
			    others(r->nall_files));
	else if (r->nnot_files &&
		 (f = glob_first(r->not_files, r->nnot_files, in->files, in->nfiles, &g)))
		pq_buf_addf(why, "touches %s, which matches %s", f, g);
	else if (r->min_share && !share_holds(r, in, &part, &total) && !total)
		pq_buf_adds(why, "changes no line: no share of lines to count");
	else if (r->min_share && !share_holds(r, in, &part, &total))
		pq_buf_addf(why,
			    "%llu%% of the changed lines (%llu of %llu) in files matching %s%s, "
			    "needs %d%%",
			    part * 100 / total, part, total, r->share_files[0],
			    others(r->nshare_files), r->min_share);
	else if (r->nfrom && !glob_any(r->from, r->nfrom, &sender, 1))
		pq_buf_addf(why, "sender %s does not match %s%s", in->sender, r->from[0],
			    others(r->nfrom));
	else if (r->min_reviews && in->reviews < r->min_reviews)
		why_reviews(r, in, why);
	else if (r->fixes_in && !fixes_in(r->fixes_in, in))
		pq_buf_addf(why, "fixes no commit on %s", r->fixes_in);
	else if (r->min_version && in->version < r->min_version)
		pq_buf_addf(why, "version %d, needs %d", in->version, r->min_version);
	return why->len ? pq_buf_str(why) : NULL;
}

/* The choice of v on queue, or NULL. */
static const struct pq_rules_choice *chosen(const struct pq_rules_verdict *v, const char *queue)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->v[i].rule->queue, queue))
			return &v->v[i];
	return NULL;
}

int pq_rules_decide(const struct pq_config *c, const struct pq_rules_input *in,
		    struct pq_rules_verdict *v, struct pq_buf *explain)
{
	struct pq_buf why = PQ_BUF_INIT;
	size_t i;
	int stop = 0;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < c->nrules && !stop; i++) {
		const struct pq_rule_conf *r = &c->rules[i];
		const char *miss = mismatch(r, in, &why);
		const struct pq_rules_choice *had = miss ? NULL : chosen(v, r->queue);
		struct pq_rules_choice *ch;

		if (explain) {
			pq_buf_addf(explain, "rule \"%s\" (%s:%d): %s", r->name, r->file, r->line,
				    miss ? miss : "matches");
			if (had)
				pq_buf_addf(explain,
					    ", but %s is already chosen (rule \"%s\"): passed over",
					    r->queue, had->rule->name);
			else if (!miss && r->continues)
				pq_buf_adds(explain,
					    "; continue: later rules may add other queues");
			pq_buf_addc(explain, '\n');
		}
		/* a queue already chosen: the rule neither adds it again nor ends it */
		if (miss || had)
			continue;
		stop = !r->continues;
		v->v = pq_reallocarray(v->v, v->n + 1, sizeof(*v->v));
		ch = &v->v[v->n++];
		ch->rule = r;
		ch->queue = pq_config_queue(c, r->queue);
		ch->automatic = r->automatic != PQ_COND_ANY ? r->automatic
							    : ch->queue && ch->queue->automatic;
	}
	for (; explain && i < c->nrules; i++)
		pq_buf_addf(explain,
			    "rule \"%s\" (%s:%d): not evaluated, an earlier rule matched\n",
			    c->rules[i].name, c->rules[i].file, c->rules[i].line);
	pq_buf_free(&why);
	return v->n > 0;
}

void pq_rules_verdict_free(struct pq_rules_verdict *v)
{
	free(v->v);
	v->v = NULL;
	v->n = 0;
}
