/*
 * am: a series as a git-am-ready mbox.
 *
 * Each patch is written as one message with the collected review trailers
 * placed after its own (a trailer given on the cover letter goes to every
 * patch), in the layout kernel tools (b4) produce, so `git am` applies it
 * with the review record intact.
 */
#ifndef PQ_AM_H
#define PQ_AM_H

#include "buf.h"
#include "store.h"

struct pq_am_options {
	const char *signoff; /* "Name <email>" to sign off last, or NULL */
	const char *link;    /* Link: template with %s for the Message-ID, or NULL */
};

/* Appends the mbox of series id to out. Returns 0, PQ_ENOTFOUND or PQ_EDB. */
int pq_am_write(struct pq_store *s, long long id, const struct pq_am_options *o,
		struct pq_buf *out);

#endif
