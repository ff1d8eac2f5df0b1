/*
 * view: the database as JSON and text, for the CLI and the HTTP front.
 *
 * Each function appends one report to out: JSON when json is set (one
 * document, UTF-8), else text for a terminal. They only read.
 */
#ifndef PQ_VIEW_H
#define PQ_VIEW_H

#include "buf.h"
#include "config.h"
#include "store.h"

/* Counts of messages by kind, series, duplicates, unparsable mail. */
int pq_view_stats(struct pq_store *s, struct pq_buf *out, int json);
/* Every series with its patches. */
int pq_view_series_list(struct pq_store *s, struct pq_buf *out, int json);
/* One series: patches, cover, trailers per patch (with c's [alias] table,
 * c may be NULL; the held-back ones with their ids, those accepted or
 * counted by an alias with why), replies. PQ_ENOTFOUND. */
int pq_view_series_show(struct pq_store *s, const struct pq_config *c, long long id,
			struct pq_buf *out, int json);
/* Every message in arrival order. */
int pq_view_messages(struct pq_store *s, struct pq_buf *out, int json);
/* One message by Message-ID (angle brackets optional). PQ_ENOTFOUND. */
int pq_view_message(struct pq_store *s, const char *msgid, struct pq_buf *out, int json);
/* Messages that could not be parsed, with their reasons; only those stored
 * after message id after (0: all). */
int pq_view_unparsable(struct pq_store *s, long long after, struct pq_buf *out, int json);
/* The series applied to queue, in the order they went in, each with its
 * commits. */
int pq_view_queue(struct pq_store *s, const char *queue, struct pq_buf *out, int json);

/*
 * Appends len bytes of s to out as text fit for a terminal: control
 * characters other than newline and tab (ESC and its sequences, CR, BS,
 * DEL, the C1 range with CSI) and invalid UTF-8 become U+FFFD. The
 * executables pass all they print through it: text from mail reaches the
 * reports as it was sent.
 */
void pq_view_text_safe(struct pq_buf *out, const char *s, size_t len);

#endif
