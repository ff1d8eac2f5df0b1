/*
 * rules: which queue a complete series goes to, and whether it may go in
 * without a maintainer's approval.
 *
 * The configuration's [rule] sections are evaluated in file order and the
 * first that matches wins. A rule matches when every condition it states
 * holds: a subject tag (a whole token: "rust" never matches "rust-next"),
 * a Fixes: trailer, a touched file matching a glob, the sender matching a
 * glob, a number of reviews, RFC or not, a minimum version.
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
	char *sender;  /* the submitter's address */
	int has_fixes; /* some patch carries a Fixes: trailer (own or collected) */
	char **fixes;  /* the commit ids those Fixes: name */
	size_t nfixes;
	char **fixes_on; /* the queues (named by a fixesIn) holding one of those commits */
	size_t nfixes_on;
	int rfc; /* the cover letter or a patch is marked RFC */
	int version;
	int reviews; /* Reviewed-by + Acked-by on the least reviewed patch */
};

struct pq_rules_verdict {
	const struct pq_rule_conf *rule; /* NULL: no rule matched */
	const struct pq_queue_conf *queue;
	int automatic; /* may be applied without approval */
};

/*
 * Gathers what the rules of c look at for series id, looking up in repo
 * the branches a fixesIn names. Returns 0, PQ_ENOTFOUND, PQ_EDB, or
 * PQ_EGIT when the repository cannot be read (in is then empty: a rule
 * never decides on a failure). Free with pq_rules_input_free().
 */
int pq_rules_input_load(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
			long long id, struct pq_rules_input *in);
void pq_rules_input_free(struct pq_rules_input *in);

/*
 * Evaluates the rules of c on in, first match wins: a pure decision,
 * nothing is read. When explain is not
 * NULL, one line per rule evaluated is appended: which condition failed,
 * or that it matched. Returns 1 when a rule matched (v filled), 0 when none.
 */
int pq_rules_decide(const struct pq_config *c, const struct pq_rules_input *in,
		    struct pq_rules_verdict *v, struct pq_buf *explain);

#endif
