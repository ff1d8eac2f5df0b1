/*
 * recover: what a crash interrupted, finished or undone.
 *
 * The first stage of every pipeline pass. An application records its
 * intent (state applying, the old tip, the newest message its commits saw)
 * before the branch moves; after a crash the commits are composed again
 * from the same messages (they are reproducible) and compared with the
 * branch.
 */
#ifndef PQ_RECOVER_H
#define PQ_RECOVER_H

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

/*
 * For every series left applying: when the branch holds its commits, the
 * application is recorded (rows and reply) as if it had finished; when the
 * branch never moved, the series goes back to approved and the next
 * triage applies it; when the branch moved elsewhere, it failed. report
 * gets a line per series. Returns 0, PQ_EDB, or the repository's error
 * (the series then stays applying, for the next run).
 */
int pq_recover_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		   struct pq_buf *report);

#endif
