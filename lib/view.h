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

/* The three forms a listing is written in: for a terminal, for programs,
 * for the desk (an HTML fragment, every value escaped by html.h). */
enum pq_view_format { PQ_VIEW_TEXT, PQ_VIEW_JSON, PQ_VIEW_HTML };

/* Counts of messages by kind, series, duplicates, unparsable mail. */
int pq_view_stats(struct pq_store *s, struct pq_buf *out, int json);
/* Every series with its patches, in creation order (as
 * pq_view_series_page() with no filter and no limit). */
int pq_view_series_list(struct pq_store *s, struct pq_buf *out, int json);

/*
 * Which series a listing shows; every field is optional (NULL or 0: no
 * condition). queue: those taken for that queue (a row in series_queue:
 * waiting there, approved, applied, failed, rejected). state: a name of
 * state.h; with queue, the state on that queue, else the series' own.
 * search: a substring of the name, the submitter's address or name,
 * case-insensitive for ASCII, taken literally (LIKE's % and _ escaped).
 * since: the series' first message dated at or after this unix time.
 * after: a cursor, the id to continue below (a page's *next). limit: the
 * page's size; 0 lists every match in creation order, as `patchq series`
 * always did. next_url: JSON's "next" is this string with the cursor
 * appended (the desk's "/api/series?...&after="), not the bare id.
 */
struct pq_series_filter {
	const char *queue;
	const char *state;
	const char *search;
	long long since;
	long long after;
	int limit;
	const char *next_url;
};

/*
 * Appends to out the series f selects, in fmt: with a limit, the newest
 * first, at most limit of them below the cursor, and the cursor of the
 * next page in *next (0 when this is the last; next may be NULL). Each
 * row is what `patchq series` prints, with the queues the series was taken
 * for and its state on each. JSON: with a limit {"items": [...], "next":
 * ID or null}, without one an array. HTML: a <table> fragment linking
 * /series/ID and /queues/NAME. Reads by index only (the rowid, the
 * primary keys of series_queue), stopping at the page's end. Returns 0,
 * PQ_EINVAL for a state name state.h does not know or a negative limit or
 * cursor (nothing appended), PQ_EDB.
 */
int pq_view_series_page(struct pq_store *s, const struct pq_series_filter *f,
			enum pq_view_format fmt, struct pq_buf *out, long long *next);
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
 * commits; in text, then the series waiting there for approval (as the
 * to-do lists them, todo.h). Returns 0 or PQ_EDB. */
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
