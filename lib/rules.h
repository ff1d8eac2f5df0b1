/*
 * rules: which queues a complete series goes to, and whether it may go in
 * on each without a maintainer's approval.
 *
 * The configuration's [rule] sections are evaluated in file order and the
 * first that matches wins. A rule matches when every condition it states
 * holds: a subject tag (a whole token: "rust" never matches "rust-next"),
 * a subsystem prefix of a subject ("rust: "), a Fixes: trailer, a Cc: to
 * stable, some / every / no touched file matching globs, a share of the
 * changed lines in files matching globs, the sender matching a glob, a
 * number of reviews on every patch, RFC or not, a minimum version.
 *
 * A matching rule with continue = true does not end the evaluation: each
 * later matching rule whose queue is not chosen yet adds its queue (the
 * first match per queue wins; a matching rule for a queue already chosen
 * is passed over), until a matching rule without continue adds its queue
 * and ends it. Without continue anywhere, one queue at most, as before.
 */
#ifndef PQ_RULES_H
#define PQ_RULES_H

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

/* What the rules look at, gathered from a series. */
struct pq_rules_input {
	char **tags; /* subject tags of the cover letter and patches, lower-case */
	size_t ntags;
	char **files; /* every file the series touches */
	size_t nfiles;
	size_t *lines;	 /* parallel to files: lines added + removed there; NULL: not
			  counted (no rule asks for a share) */
	char **prefixes; /* subsystem prefixes of the subjects ("rust"), lower-case */
	size_t nprefixes;
	char *stable;  /* the stable@ address a Cc: trailer or header names, or NULL */
	char *sender;  /* the submitter's address */
	int has_fixes; /* some patch carries a Fixes: trailer (own or collected) */
	char **fixes;  /* the commit ids those Fixes: name */
	size_t nfixes;
	char **fixes_on; /* the queues (named by a fixesIn) holding one of those commits */
	size_t nfixes_on;
	int rfc; /* the cover letter or a patch is marked RFC */
	int version;
	int reviews;	    /* Reviewed-by + Acked-by on the least reviewed patch */
	int *patch_reviews; /* the same for each patch, in order; NULL: only reviews known */
	size_t npatches;
};

/* One queue a series goes to. */
struct pq_rules_choice {
	const struct pq_rule_conf *rule;
	const struct pq_queue_conf *queue; /* NULL if the rule's queue is not configured */
	int automatic;			   /* may be applied without approval */
};

/* The queues chosen, in the order of the rules that chose them. */
struct pq_rules_verdict {
	struct pq_rules_choice *v; /* NULL when n is 0 */
	size_t n;
};

/*
 * Gathers what the rules of c look at for series id, looking up in repo
 * the branches a fixesIn names. The changed lines per file are counted
 * (from the stored diffs) only when a rule has minShare; the To/Cc of a
 * message stored before migration 0012 are read from its raw mail only
 * when a rule has a stable condition. Returns 0, PQ_ENOTFOUND, PQ_EDB, or
 * PQ_EGIT when the repository cannot be read (in is then empty: a rule
 * never decides on a failure). Free with pq_rules_input_free().
 */
int pq_rules_input_load(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			long long id, struct pq_rules_input *in);
void pq_rules_input_free(struct pq_rules_input *in);

/*
 * Evaluates the rules of c on in (see above): a pure decision, nothing is
 * read. When explain is not NULL, one line per rule is appended: which
 * condition failed, that it matched, or that it was not evaluated. v is
 * overwritten; the caller frees it with pq_rules_verdict_free() (also
 * when nothing matched). Returns 1 when a rule matched (v->n >= 1), 0
 * when none (v->n == 0).
 */
int pq_rules_decide(const struct pq_config *c, const struct pq_rules_input *in,
		    struct pq_rules_verdict *v, struct pq_buf *explain);
void pq_rules_verdict_free(struct pq_rules_verdict *v);

/*
 * The subsystem prefix of a patch name (the subject without its bracket
 * prefix): the word before the first ": " (or a final ':'), lower-case,
 * malloc'd; NULL when there is none (no colon, or blanks, quotes or
 * brackets before it: "Revert \"rust: x\"" has none). "rust: kernel: x"
 * gives "rust".
 */
char *pq_rules_prefix(const char *name);

/*
 * Whether the decoded address list (a To:/Cc: value, or one address)
 * names a stable@ address: local part "stable" at kernel.org or one of
 * its subdomains (stable@vger.kernel.org). Returns that address, malloc'd
 * and lower-case, or NULL.
 */
char *pq_rules_stable_address(const char *list);

#endif
