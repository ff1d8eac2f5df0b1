/*
 * ingest: raw messages into the database, exactly once.
 *
 * For each raw message: keep the bytes (a byte-identical delivery is
 * skipped), parse it, recognise a re-delivery of a stored message (same
 * Message-ID and content) or a reused Message-ID (different content, kept
 * as its own message), classify it (patch, cover, reply, pull, other),
 * record threading and trailers, and place patches into series. Messages
 * are committed in batches, each batch in one transaction together with the
 * source's cursor, so a crash loses or repeats nothing.
 */
#ifndef PQ_INGEST_H
#define PQ_INGEST_H

#include <stddef.h>

#include "mail.h"
#include "store.h"

struct pq_ingest_stats {
	size_t read;	    /* messages handed in */
	size_t stored;	    /* new messages stored (unparsable ones included) */
	size_t same_bytes;  /* byte-identical to something stored: skipped */
	size_t redelivered; /* same Message-ID and content, other headers: raw kept, linked */
	size_t unparsable;  /* stored raw with a reason */
	size_t reused_id;   /* Message-ID already used by different content */
};

struct pq_ingest;

/*
 * Starts ingesting into s for the source named source (a path, "stdin",
 * "imap:..."); cursors are stored under that name. batch is the number of
 * messages per transaction (0: 1000). limits may be NULL for the defaults.
 * Free with pq_ingest_free(), which commits what is pending.
 */
int pq_ingest_new(struct pq_ingest **out, struct pq_store *s, const char *source, size_t batch,
		  const struct pq_mail_limits *limits);

/*
 * Ingests one raw message. cursor (may be NULL) is recorded as the
 * source's position when the batch holding this message commits. A bad
 * message is data: it is stored as unparsable and 0 is returned. Returns a
 * negative code only when the database fails; the batch is then rolled back.
 */
int pq_ingest_message(struct pq_ingest *ig, const char *raw, size_t len, const char *cursor);

/*
 * Records a message the source did not take whole (over the size limit, so
 * not fetched): raw is what was kept of it (the start of its header, maybe
 * empty), stored as an unparsable message whose error is reason, with
 * cursor as for pq_ingest_message(), so the loss is on record and counted
 * once; byte-identical raw is skipped as there. Returns 0, or a negative
 * code when the database fails (the batch is then rolled back).
 */
int pq_ingest_refused(struct pq_ingest *ig, const char *raw, size_t len, const char *reason,
		      const char *cursor);

/* Commits the pending batch. Returns 0 or PQ_EDB. */
int pq_ingest_flush(struct pq_ingest *ig);

const struct pq_ingest_stats *pq_ingest_stats(const struct pq_ingest *ig);

/* The id of the newest message stored into *id, 0 when there is none. Returns 0 or PQ_EDB. */
int pq_ingest_last_message(struct pq_store *s, long long *id);

/* The source's stored cursor into *out (caller frees), NULL when none. */
int pq_ingest_cursor(struct pq_store *s, const char *source, char **out);

/* Flushes and frees; returns the flush's result. */
int pq_ingest_free(struct pq_ingest *ig);

#endif
