/*
 * elsewhere: series another tree took ("Applied to linux-kbuild").
 *
 * A reply in a series' thread from a maintainer of another tree (the
 * configuration's [elsewhere] sections) saying it was applied marks the
 * series taken there: triage leaves it to that tree, `approve` asks for
 * --force, and the listings say where it went. Only the reply's own text
 * is read (not what it quotes), and only its first lines; our own
 * maintainers' "Applied to rust-next" never counts (they cannot be in
 * [elsewhere], and a tree named like one of our queues is ours).
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

/*
 * Reads the replies stored since the last scan and records those from an
 * [elsewhere] maintainer of c that say the series was applied. report
 * (may be NULL) gets a line each. Nothing is read, and the mark stays,
 * when c has no [elsewhere]. Returns 0 or PQ_EDB.
 */
int pq_elsewhere_scan(struct pq_store *s, const struct pq_config *c, struct pq_buf *report);

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
