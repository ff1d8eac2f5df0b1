/*
 * series: patches and cover letters grouped into series and versions.
 *
 * A patch or cover letter joins the series its threading points to (its own
 * Message-ID referenced by earlier arrivals, its In-Reply-To, then older
 * References) when that series has the same sender and total, a free slot
 * for its number, and a version that does not contradict it. Unthreaded
 * mail is grouped by sender, version, total and a 12-hour window. Anything
 * else starts a new series, which is linked to the version it supersedes by
 * b4 change-id, threading, or sender and name. Runs inside ingest's
 * transaction, so any arrival order gives the same grouping.
 */
#ifndef PQ_SERIES_H
#define PQ_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "store.h"
#include "trailers.h"

struct pq_series_member {
	long long message_id;
	const char *msgid;
	char *const *refs; /* oldest first, In-Reply-To last */
	size_t nrefs;
	const char *name;      /* subject without prefix */
	const char *submitter; /* sender address */
	const char *submitter_name;
	int version;
	int version_explicit;
	int index; /* 0 for a cover letter, 1 for a lone patch */
	int total; /* 1 for a lone patch */
	int resend;
	int64_t date;	       /* unix time, 0 when unknown */
	const char *change_id; /* b4 change-id of a cover letter, or NULL */
};

/*
 * Finds the series m belongs in, creating one when none fits, before m is
 * stored (so its row is written once, with the series in it). Call inside
 * a transaction, then store m and call pq_series_join(). Returns 0 and the
 * series in *series_id, or PQ_EDB.
 */
int pq_series_place(struct pq_store *s, const struct pq_series_member *m, long long *series_id);

/*
 * Records the stored m (m->message_id set) in series_id: cover letter,
 * name, the Message-IDs later arrivals find it by, and the version it
 * supersedes. Returns 0 or PQ_EDB.
 */
int pq_series_join(struct pq_store *s, const struct pq_series_member *m, long long series_id);

/* ---- reading a series back ---- */

struct pq_series_patch {
	long long id;
	char *msgid;
	int index;
	char *subject;
	char *name;
	char *author; /* in-body From: wins */
	char *email;
	char *date_raw;
	long long borrowed_from;       /* 0, or the series (an earlier version) this patch
					  is taken from: the series is a partial reroll */
	struct pq_trailers own;	       /* the patch's own trailers */
	struct pq_trailers collected;  /* from replies (to it or to the cover), arrival order */
	long long *collected_from;     /* the reply (message id) each collected trailer came in */
	char **collected_note;	       /* per collected trailer: NULL, or why one whose address
					  is not its sender's counts ("alias NAME", "accepted by
					  WHO on YYYY-MM-DD HH:MM UTC") */
	struct pq_trailers mismatched; /* address differs from the reply's sender: not applied */
	long long *mismatched_from;    /* per mismatched trailer: its reply (message id) */
	int *mismatched_pos;	       /* and its position there: the trailer id
					  "MESSAGE.POS" `patchq trailer accept` takes */
};

struct pq_series_reply {
	long long id;
	char *msgid;
	char *author;
	char *email;
	char *subject;
	int target; /* index of the patch it answers, 0: the cover */
};

struct pq_series {
	long long id;
	char *name; /* NULL until the cover or patch 1 arrived */
	int version;
	int total;
	int received; /* distinct patch numbers present (3/2 counts) */
	int complete; /* every number 1..total present */
	char *submitter;
	char *submitter_name;
	char *state;
	long long supersedes; /* 0: none */
	long long superseded_by;
	long long cover_id;  /* 0: none */
	long long reroll_of; /* 0, or the version this partial reroll takes patches from */
	char *cover_msgid;
	char *cover_subject;
	struct pq_series_patch *patches; /* by index, then arrival */
	size_t npatches;
	struct pq_series_reply *replies; /* arrival order */
	size_t nreplies;
};

/*
 * Loads series id with its patches, the trailers collected from replies and
 * the replies themselves. Returns 0, PQ_ENOTFOUND or PQ_EDB. Free the result
 * with pq_series_free().
 */
int pq_series_load(struct pq_store *s, long long id, struct pq_series **out);
/* The same, seeing only the replies stored up to message id upto (0: all):
 * what the series looked like at that moment, for reproducing commits. */
int pq_series_load_upto(struct pq_store *s, long long id, long long upto, struct pq_series **out);
/*
 * The same, with c's [alias] table (c may be NULL): a reply's person
 * trailer counts (collected, with a note) when its address and the reply's
 * sender are one person's. pq_series_load() and _upto() know no aliases.
 */
int pq_series_load_conf(struct pq_store *s, const struct pq_config *c, long long id, long long upto,
			struct pq_series **out);
void pq_series_free(struct pq_series *se);

/*
 * A maintainer accepts for series id trailers held back because their
 * address is not their reply's sender's (mismatched): what is a trailer id
 * "MESSAGE.POS" as `patchq show` prints it, or the Message-ID of a reply
 * (every such trailer of it, angle brackets optional). who (the
 * maintainer, "Name <email>") and now are recorded with each, in one
 * transaction; triage looks at the series again. A line per trailer goes
 * to report (may be NULL). Returns 0, PQ_ENOTFOUND (no such series,
 * message or trailer, or none of it held back on this series), PQ_EDB.
 */
int pq_series_trailer_accept(struct pq_store *s, const struct pq_config *c, long long id,
			     const char *what, const char *who, int64_t now, struct pq_buf *report);

/*
 * Has triage decide on series id again at its next pass (something it
 * decided on changed: a trailer counted, a reply that took it forgotten),
 * in the caller's transaction. Returns 0 or PQ_EDB.
 */
int pq_series_retriage(struct pq_store *s, long long id);

/* The ids of every series in creation order, into a malloc'd array. */
int pq_series_list(struct pq_store *s, long long **ids, size_t *n);

/*
 * The newest complete version of series id (following the versions that
 * supersede it, as a rebuild takes them) into *out; id itself when there
 * is none. Returns 0 or PQ_EDB.
 */
int pq_series_newest(struct pq_store *s, long long id, long long *out);

#endif
