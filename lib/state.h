/*
 * state: where a series stands, defined once.
 *
 * A series has one state of its own (series.state: how far it got
 * anywhere) and one per queue it was taken for (series_queue.state). This
 * module is the only place that names the states and the only one that
 * writes them; every query that selects by state binds pq_state_name().
 *
 *   new         complete or not, no rule has taken it yet
 *   queued      a rule sent it to a queue; it waits for a maintainer
 *   approved    a maintainer (or an automatic rule) let it go in; applied
 *               as soon as it is complete
 *   applying    the intent is recorded and the branch may be moving:
 *               recovery finishes or undoes it after a crash
 *   applied     its commits are on the queue
 *   failed      it did not apply (the reason says where)
 *   rejected    a maintainer said no (the reason says why)
 *   superseded  a newer version arrived before it was applied; on a queue:
 *               a rebuild put a newer version in its place (the reason
 *               says which)
 *
 * A series queued by an automatic rule may be held (series_queue.held:
 * why, such as an open merge window): it stays queued until the hold
 * ends, then goes in as the rule said.
 *
 * "Complete" and "on a queue" are the views complete_series and
 * queue_series of schema/0005-pipeline.sql.
 */
#ifndef PQ_STATE_H
#define PQ_STATE_H

#include "store.h"

struct pq_config;
struct pq_rule_conf;

enum pq_state {
	PQ_STATE_NEW,
	PQ_STATE_QUEUED,
	PQ_STATE_APPROVED,
	PQ_STATE_APPLYING,
	PQ_STATE_APPLIED,
	PQ_STATE_FAILED,
	PQ_STATE_REJECTED,
	PQ_STATE_SUPERSEDED,
};

/* The state's name as stored and printed ("queued"); static. */
const char *pq_state_name(enum pq_state st);

/* The state called name into *out. Returns 0, or PQ_EINVAL for an unknown name. */
int pq_state_parse(const char *name, enum pq_state *out);

/*
 * Sets series id's state on queue, with reason (a failure or rejection),
 * tip and seen (with applying: the tip the commits go on and the newest
 * message they saw; seen 0 keeps NULL), in the caller's transaction. A
 * hold ends (see pq_state_set_held()).
 * Returns 0 or PQ_EDB.
 */
int pq_state_set_queue(struct pq_store *s, long long id, const char *queue, enum pq_state st,
		       const char *reason, const char *tip, long long seen);

/* As pq_state_set_queue(), in a transaction of its own. */
int pq_state_record(struct pq_store *s, long long id, const char *queue, enum pq_state st,
		    const char *reason, const char *tip, long long seen);

/*
 * Holds series id on queue with why (NULL: no longer held), in the
 * caller's transaction; pq_state_set_queue() ends a hold. Returns 0 or
 * PQ_EDB.
 */
int pq_state_set_held(struct pq_store *s, long long id, const char *queue, const char *held);

/* As pq_state_set_held(), in a transaction of its own. */
int pq_state_hold(struct pq_store *s, long long id, const char *queue, const char *held);

/* Sets series id's own state, in the caller's transaction. Returns 0 or PQ_EDB. */
int pq_state_set_series(struct pq_store *s, long long id, enum pq_state st);

/* Records that rule (NULL: a maintainer by hand) sent series id to queue. Returns 0 or PQ_EDB. */
int pq_state_set_rule(struct pq_store *s, long long id, const char *queue, const char *rule);

/* Rejects series id on every queue it was taken for, with reason. Returns 0 or PQ_EDB. */
int pq_state_reject_everywhere(struct pq_store *s, long long id, const char *reason);

/*
 * Whether a rule (not a maintainer by hand) sent series id to queue: 1 or
 * 0 into *yes. Returns 0 or PQ_EDB.
 */
int pq_state_by_rule(struct pq_store *s, long long id, const char *queue, int *yes);

/*
 * Series id's row on queue: the rule of c that sent it there into *rule
 * (NULL when a maintainer did, the rule is no longer in c, or there is no
 * row), and, when held is not NULL, its hold into *held (malloc'd; NULL
 * when not held). Returns 0 or PQ_EDB (nothing to free then).
 */
int pq_state_queue_rule(struct pq_store *s, const struct pq_config *c, long long id,
			const char *queue, const struct pq_rule_conf **rule, char **held);

/*
 * The queues series id was taken for, in the order it was taken there:
 * *n names into *queues, each and the array the caller's to free (NULL
 * and 0 when none). Returns 0 or PQ_EDB (nothing to free then).
 */
int pq_state_queues(struct pq_store *s, long long id, char ***queues, size_t *n);

#endif
