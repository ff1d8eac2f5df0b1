/*
 * pinbox: the messages of a public-inbox archive (v1 or v2), oldest first.
 *
 * A public-inbox archive is one git repository (v1), or a v2 top directory
 * whose git/0.git, git/1.git, ... are epochs of one history. Each commit
 * holds one message as blob "m"; its commit id names the message's
 * position, so a reader can go on after the last commit it read.
 */
#ifndef PQ_PINBOX_H
#define PQ_PINBOX_H

#include "mbox.h"

/*
 * Every message of a public-inbox archive, oldest commit first (all epochs
 * git/N.git of a v2 inbox in numeric order, or path as one repository),
 * the raw mail read from blob "m" of each commit on HEAD (or, HEAD unborn,
 * on master, else on the first branch by name); commits without "m"
 * (deletions) are skipped. The cursor handed with each message is
 * "pi:COMMIT-ID" (40 hex digits). When since is a 40-hex commit id (a
 * "pi:" cursor is accepted too), only commits after it are read. Returns
 * 0, the callback's value, PQ_EINVAL for a malformed since, PQ_ENOTFOUND
 * when since is in no epoch's history, PQ_EIO for an unreadable git/
 * directory, or PQ_EGIT with libgit2's message.
 */
int pq_pi_read(const char *path, const char *since, pq_mbox_cb cb, void *ctx);

#endif
