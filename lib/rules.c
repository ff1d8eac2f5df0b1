/* rules: queue and policy for a series, first matching rule wins (see rules.h). */
#include "rules.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "repo.h"
#include "series.h"

static void add_unique(char ***v, size_t *n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strlen((*v)[i]) == len && !strncmp((*v)[i], s, len))
			return;
	*v = pq_reallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = pq_strndup(s, len);
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

int pq_rules_input_load(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			long long id, struct pq_rules_input *in)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT tags, files, rfc FROM message WHERE series_id = ? ORDER BY idx, id");
	struct pq_series *se;
	size_t i;
	int ret, least = -1;

	memset(in, 0, sizeof(*in));
	if (!st)
		return PQ_EDB;
	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		add_words(&in->tags, &in->ntags, pq_store_col_text(st, 0), ' ');
		add_words(&in->files, &in->nfiles, pq_store_col_text(st, 1), '\n');
		in->rfc |= sqlite3_column_int(st, 2);
	}
	sqlite3_reset(st);
	in->sender = pq_strdup(se->submitter ? se->submitter : "");
	in->version = se->version;
	for (i = 0; i < se->npatches; i++) {
		const struct pq_series_patch *p = &se->patches[i];
		int r = count_reviews(&p->own) + count_reviews(&p->collected);

		add_fixes(in, &p->own);
		add_fixes(in, &p->collected);
		if (least < 0 || r < least)
			least = r;
	}
	in->reviews = least < 0 ? 0 : least;
	pq_series_free(se);
	if (in->nfixes && (ret = load_fixes_on(c, repo, in)) < 0)
		pq_rules_input_free(in);
	return ret;
}

/* NULL when r matches in, else the first condition that does not hold. */
static const char *mismatch(const struct pq_rule_conf *r, const struct pq_rules_input *in,
			    struct pq_buf *why)
{
	char *sender = (char *)in->sender;

	pq_buf_reset(why);
	if (r->ntags && !tag_any(r, in))
		pq_buf_addf(why, "no subject tag %s%s", r->tags[0],
			    r->ntags > 1 ? " (or others)" : "");
	else if (r->fixes != PQ_COND_ANY && r->fixes != in->has_fixes)
		pq_buf_adds(why, r->fixes ? "no Fixes: trailer" : "has a Fixes: trailer");
	else if (r->rfc != PQ_COND_ANY && r->rfc != in->rfc)
		pq_buf_adds(why, r->rfc ? "not an RFC" : "is an RFC");
	else if (r->nfiles && !glob_any(r->files, r->nfiles, in->files, in->nfiles))
		pq_buf_addf(why, "touches no file matching %s%s", r->files[0],
			    r->nfiles > 1 ? " (or others)" : "");
	else if (r->nfrom && !glob_any(r->from, r->nfrom, &sender, 1))
		pq_buf_addf(why, "sender %s does not match %s%s", in->sender, r->from[0],
			    r->nfrom > 1 ? " (or others)" : "");
	else if (r->min_reviews && in->reviews < r->min_reviews)
		pq_buf_addf(why, "%d review(s), needs %d", in->reviews, r->min_reviews);
	else if (r->fixes_in && !fixes_in(r->fixes_in, in))
		pq_buf_addf(why, "fixes no commit on %s", r->fixes_in);
	else if (r->min_version && in->version < r->min_version)
		pq_buf_addf(why, "version %d, needs %d", in->version, r->min_version);
	return why->len ? pq_buf_str(why) : NULL;
}

int pq_rules_decide(const struct pq_config *c, const struct pq_rules_input *in,
		    struct pq_rules_verdict *v, struct pq_buf *explain)
{
	struct pq_buf why = PQ_BUF_INIT;
	size_t i;
	int found = 0;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < c->nrules && !found; i++) {
		const struct pq_rule_conf *r = &c->rules[i];
		const char *miss = mismatch(r, in, &why);

		if (explain)
			pq_buf_addf(explain, "rule \"%s\" (%s:%d): %s\n", r->name, r->file, r->line,
				    miss ? miss : "matches");
		if (miss)
			continue;
		v->rule = r;
		v->queue = pq_config_queue(c, r->queue);
		v->automatic = r->automatic != PQ_COND_ANY ? r->automatic
							   : v->queue && v->queue->automatic;
		found = 1;
	}
	for (; explain && i < c->nrules; i++)
		pq_buf_addf(explain,
			    "rule \"%s\" (%s:%d): not evaluated, an earlier rule matched\n",
			    c->rules[i].name, c->rules[i].file, c->rules[i].line);
	pq_buf_free(&why);
	return found;
}
