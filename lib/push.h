/*
 * push: the queue branches to a remote, as `git push` would send them.
 *
 * The last stage a maintainer runs by hand (`patchq push`): the queues
 * patchq moved go to the tree's public repository.
 */
#ifndef PQ_PUSH_H
#define PQ_PUSH_H

#include <stddef.h>

#include "config.h"
#include "repo.h"

/*
 * Pushes the given branches of r to the same names on remote (a configured
 * remote's name, or a URL or path; pushurl, insteadOf and pushInsteadOf
 * apply as git applies them). Only a branch written "+name" (a rebuilt
 * queue) is forced. Returns 0 (also for n == 0), PQ_EINVAL for a missing
 * argument, PQ_ENOTFOUND for a missing branch or remote, PQ_EGIT when the
 * push failed or was refused (a non-fast-forward says so).
 */
int pq_push_branches(struct pq_repo *r, const char *remote, char *const *branches, size_t n);

/*
 * Pushes every queue branch of c that is not frozen to remote, the
 * rebuilt ones forced; *pushed gets how many. Returns as
 * pq_push_branches().
 */
int pq_push_queues(struct pq_repo *r, const struct pq_config *c, const char *remote,
		   size_t *pushed);

#endif
