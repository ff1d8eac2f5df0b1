/*
 * elsewhere: series another tree took ("Applied to linux-kbuild").
 *
 * A reply in a series' thread from a maintainer of another tree (the
 * configuration's [elsewhere] sections) saying it was applied marks the
 * series taken there: triage leaves it to that tree, `approve` asks for
 * --force, and the listings say where it went. Only the reply's own text
 * is read (not what it quotes), and only its first lines; our own
 * maintainers' "Applied to rust-next" never counts (they cannot be in
 * [elsewhere], and a tree named like one of our queues is ours). A change
 * of [elsewhere] (or of our queues' names) has the replies read again
 * under it: what still holds is kept, what no longer does is forgotten.
 */
#ifndef PQ_ELSEWHERE_H
#define PQ_ELSEWHERE_H

#include "buf.h"
#include "config.h"
#include "store.h"

/*
 * Whether a reply's body says the series was applied: 1 with the tree it
 * names (malloc'd, printable, at most 200 bytes; dflt when the reply names
 * none, as b4's bare "Applied, thanks!") in *tree, else 0 and *tree NULL.
 * Reads the first 40 lines of the reply's own text (quoted '>' lines, the
 * "On ... wrote:" line and what follows a "-- " signature line are not),
 * within the first 16 KiB. A tree named like one of c's queues or
 * branches (in any case) is ours: 0. c may be NULL.
 */
int pq_elsewhere_parse(const char *body, const char *dflt, const struct pq_config *c, char **tree);

/* The replies one transaction of pq_elsewhere_scan() reads at most. */
#define PQ_ELSEWHERE_BATCH 256

/* What one pq_elsewhere_scan() did. */
struct pq_elsewhere_counts {
	size_t read;	/* replies looked at */
	size_t added;	/* recorded as taking their series */
	size_t changed; /* recorded before, with another tree now */
	size_t removed; /* recorded before, no longer held: forgotten */
	size_t batches; /* transactions committed */
	int rescan;	/* the configuration changed: read again from the first reply */
};

/*
 * Reads the replies stored since the last scan, PQ_ELSEWHERE_BATCH per
 * transaction (each commits the mark with what it recorded), and records
 * those from an [elsewhere] maintainer of c that say the series was
 * applied. The mark carries pq_elsewhere_fingerprint(c): when c's differs,
 * every reply is read again from the first, a recorded one c no longer
 * holds is forgotten (its series then decided on again by triage), one
 * whose tree changed is moved; a crash or a stop request between two
 * batches leaves the next scan to go on from the last. Nothing is read
 * when c is NULL, or has no [elsewhere] and nothing is recorded. report
 * (may be NULL) gets a line each; counts (may be NULL) is filled. Returns
 * 0 or PQ_EDB (that batch rolled back, the ones before it kept).
 */
int pq_elsewhere_scan(struct pq_store *s, const struct pq_config *c, struct pq_buf *report,
		      struct pq_elsewhere_counts *counts);

/*
 * What the scan's verdicts depend on in c, as 64 hex digits (malloc'd):
 * the SHA-256 of the sorted lines "elsewhere NAME TREE ADDRESS" (one per
 * address) and "ours NAME" (each queue's name and branch, lower-case).
 * The order of sections and addresses does not change it. c may be NULL.
 */
char *pq_elsewhere_fingerprint(const struct pq_config *c);

/* Where a series went: the first recorded reply that took it. */
struct pq_elsewhere_taken {
	char *tree;
	char *by;    /* the sender's address */
	char *msgid; /* the reply's Message-ID, without angle brackets */
	long long message_id;
};

/*
 * Whether series id was taken elsewhere: 1 and *out filled (free with
 * pq_elsewhere_taken_free()), or 0 and *out zeroed, or PQ_EDB.
 */
int pq_elsewhere_find(struct pq_store *s, long long id, struct pq_elsewhere_taken *out);
void pq_elsewhere_taken_free(struct pq_elsewhere_taken *t);

/* "taken elsewhere: TREE (by ADDR in <MSGID>)" into b. */
void pq_elsewhere_describe(const struct pq_elsewhere_taken *t, struct pq_buf *b);

#endif
