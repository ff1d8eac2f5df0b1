/*
 * reply: the mail that tells the list a series landed, or did not apply.
 *
 * Composed from the database when the application is recorded, in the
 * same transaction, with its Message-ID fixed then: the outbox sends
 * exactly that mail, so the one resend a crash can cause is the same mail
 * and lists and clients drop it. The shape is the one maintainers already
 * send (b4 ty): a short quote of what was applied, the queue in the
 * configured words, one entry per patch with its commit, the trailers that
 * arrived after the commits were made, the maintainer's signature. It
 * answers the cover letter (or the single patch), To its author, Cc the
 * original To and Cc and everyone who gave a review trailer.
 */
#ifndef PQ_REPLY_H
#define PQ_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "series.h"
#include "store.h"

/* One applied patch: its number and title, and the commit made for it. */
struct pq_reply_patch {
	int index;
	const char *title;
	const char *commit; /* hex */
};

/* What the reply is about. */
struct pq_reply_about {
	const char *queue;
	const struct pq_series *series; /* loaded with every trailer (pq_series_load) */
	/* applied: the patches and their commits; seen is the newest message id
	 * the commits saw (trailers collected from later replies are listed as
	 * arrived after application) */
	const struct pq_reply_patch *patches;
	size_t n;
	long long seen;
	/* not applied: why (file and hunk), and the queue's tip */
	const char *failure;
	const char *tip;
	/* rejected by a maintainer (`patchq reject --reply`): why */
	const char *rejected;
	/* dropped from a queue by its rebuild: why; a short notice to the
	 * submitter alone, not the list ([reply] dropNotice) */
	const char *dropped;
	/* what the checks said ([reply] checks): the body's text, written by checks.c */
	const char *checks;
	int asked;   /* a maintainer asked for it: it goes even where the queue
			sends no replies (and failure replies are off) */
	int64_t now; /* the Date:, unix time */
};

/* A composed reply. */
struct pq_reply {
	char *msgid;	    /* without angle brackets */
	char *sender;	    /* the envelope sender */
	char *recipients;   /* envelope recipients, one per line */
	struct pq_buf text; /* the whole mail, LF line ends */
};

/*
 * Composes the reply about a. Returns 0, PQ_ENOTFOUND when the mail it
 * answers is gone, PQ_EDB. Free with pq_reply_free().
 */
int pq_reply_compose(struct pq_store *s, const struct pq_config *c, const struct pq_reply_about *a,
		     struct pq_reply *out);
void pq_reply_free(struct pq_reply *r);

/*
 * Composes the reply about a and adds it to the outbox, pending (held
 * with [reply] hold), within the caller's transaction. Nothing is added
 * when a.queue does not reply, and for a failure when failure replies are
 * off (unless a.asked), or this series (one version) already got one for
 * that queue. An applied reply lists the maintainer's notes (note.h).
 * Returns 0 or a PQ_E* code.
 */
int pq_reply_record(struct pq_store *s, const struct pq_config *c, const struct pq_reply_about *a);

/* As pq_reply_record(), with the new reply's id into *id (0: none was added). */
int pq_reply_record_id(struct pq_store *s, const struct pq_config *c,
		       const struct pq_reply_about *a, long long *id);

#endif
