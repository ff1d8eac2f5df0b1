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
#include "config.h"
#include "mail.h"
#include "patch.h"
#include "series.h"
#include "store.h"

struct pq_am_options {
	const char *signoff;		/* "Name <email>" to sign off last, or NULL */
	const char *link;		/* Link: template with %s for the Message-ID, or NULL */
	const char *note;		/* the maintainer's note on the patch ("[ Reworded.
					   - Name ]", note.h), last before the sign-off, or
					   NULL */
	const struct pq_config *config; /* its [alias] table decides whose trailers
					   count (pq_am_write()); NULL: none */
};

/* One patch of a series as git am would take it. */
struct pq_am_patch {
	struct pq_mail mail;   /* the mail, re-read from its raw bytes */
	struct pq_patch patch; /* its body split */
	struct pq_buf message; /* commit message body: the mail's, then the
				   collected trailers, Link:, sign-off */
	char *title;	       /* the subject without its bracket prefix
				   (an in-body Subject: wins) */
	int64_t time;	       /* author date (an in-body Date: wins) */
	int offset;	       /* its zone, minutes east of UTC */
	int date_valid;
};

/* Parses the stored raw bytes of message message_id into m. Returns 0,
 * PQ_ENOTFOUND, PQ_EDB or pq_mail_parse()'s error. */
int pq_am_mail_load(struct pq_store *s, long long message_id, struct pq_mail *m);

/*
 * Loads patch sp of a series: re-reads the raw mail and composes the commit
 * message with the trailers collected for it. Returns 0, PQ_ENOTFOUND,
 * PQ_EDB, or PQ_EGIT for a patch that must not be applied (a NUL byte in
 * its diff), with the patch and the reason in pq_error_last(). Free with
 * pq_am_patch_free() (also after a failure).
 */
int pq_am_patch_load(struct pq_store *s, const struct pq_series_patch *sp,
		     const struct pq_am_options *o, struct pq_am_patch *out);
void pq_am_patch_free(struct pq_am_patch *p);

/* Appends the mbox of series id to out. Returns 0, PQ_ENOTFOUND, PQ_EDB, or
 * PQ_EGIT when a patch must not be applied (see pq_am_patch_load()). */
int pq_am_write(struct pq_store *s, long long id, const struct pq_am_options *o,
		struct pq_buf *out);

#endif
