/*
 * todo: the maintainer's to-do, computed once for the CLI (`patchq todo`)
 * and the desk (its front page), and written in three forms (view.h).
 *
 * Per queue of the configuration, in its order:
 *   waiting         series a rule (or a maintainer) sent there, waiting
 *                   for approval (state queued), with the rule and the
 *                   latest dry run on that queue (check_result), why it is
 *                   held (the merge window) and where another tree took
 *                   it (elsewhere.h), if so
 *   new_versions    a newer complete version (series.supersedes chain, as
 *                   a rebuild follows it) of a series on the queue
 *                   (queue_series), itself not on the queue
 *   late_trailers   trailers collected from replies that arrived after
 *                   the patch was applied there (application.seen)
 *   stopped         series queued or approved there whose latest dry run
 *                   on it failed: the queue moved under them
 *   dropped         what the queue's last rebuild left out (rebuild_drop)
 * and, for the whole list, the replies to the list that failed or wait
 * (outbox, state pending or failed).
 *
 * Everything is read in one pass of indexed queries; the series whose
 * trailers are compared are only those on a queue that had a reply with
 * trailers since they were applied.
 */
#ifndef PQ_TODO_H
#define PQ_TODO_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "store.h"
#include "view.h"

/* One series in a section; which fields mean something depends on it. */
struct pq_todo_item {
	long long series;
	char *name; /* NULL until its cover or patch 1 arrived */
	int version;
	char *submitter; /* address */
	char *submitter_name;
	char *state;	   /* its state on the queue (waiting, stopped, dropped) */
	char *rule;	   /* waiting: the rule that sent it, NULL by hand */
	int checked;	   /* waiting, stopped: 1 when a dry run on the queue is recorded */
	int applies;	   /* and its verdict */
	char *reason;	   /* the dry run's error (waiting, stopped), why it was dropped */
	long long other;   /* new_versions: the series on the queue it is newer than;
			    dropped: the version that was on the queue, when a newer
			    one was tried; else 0 */
	int patch;	   /* late_trailers: the patch's number */
	char *trailer;	   /* late_trailers: "Reviewed-by: Bob <bob@example.org>" */
	long long message; /* late_trailers: the reply it came in (message id) */
	char *held;	   /* waiting, stopped: why automatic intake waits, or NULL */
	char *elsewhere;   /* waiting, stopped: "TREE (by ADDR)" another tree took it, or NULL */
	char *checks;	/* waiting, stopped: "N pass" or "failed: NAME,..." (checks.h), or NULL */
	long long when; /* unix time it came about, 0 unknown: the series' date (waiting,
			 * new versions), the failed dry run (stopped), the reply's
			 * arrival (late trailers), the rebuild (dropped) */
};

struct pq_todo_list {
	struct pq_todo_item *v;
	size_t n;
	size_t total; /* how many there are: n, or more when a limit cut the list */
};

struct pq_todo_queue {
	char *name;
	struct pq_todo_list waiting;
	struct pq_todo_list new_versions;
	struct pq_todo_list late_trailers;
	struct pq_todo_list stopped;
	struct pq_todo_list dropped;
	long long rebuild; /* the last rebuild's unix time, 0: never rebuilt */
};

/* A reply to the list that has not left: pending or failed. */
struct pq_todo_reply {
	long long id; /* `patchq outbox retry ID` */
	long long series;
	char *name;
	int version;
	char *queue;
	char *kind;  /* "applied" or "failed": what it tells */
	char *state; /* "pending" or "failed" */
	int attempts;
	char *error;		/* the server's last answer, or NULL */
	long long next_attempt; /* unix time, pending only */
	long long created;	/* unix time it was made */
};

struct pq_todo {
	struct pq_todo_queue *queues; /* the configuration's, in its order */
	size_t nqueues;
	struct pq_todo_reply *replies; /* oldest first */
	size_t nreplies;
	size_t replies_total; /* how many there are: more than nreplies past a limit */
};

/*
 * The to-do of c's queues from s into *out (free with pq_todo_free()).
 * Returns 0, PQ_EINVAL when c is NULL (the queues are the
 * configuration's), PQ_EDB; on failure *out is NULL.
 */
int pq_todo_load(struct pq_store *s, const struct pq_config *c, struct pq_todo **out);

/*
 * The same, with at most limit entries (0: all) in each section of each
 * queue and in the replies; each list's total (and replies_total) says
 * how many there are. What the desk's front page reads.
 */
int pq_todo_load_some(struct pq_store *s, const struct pq_config *c, size_t limit,
		      struct pq_todo **out);

/* Frees t and all it holds; NULL is fine. */
void pq_todo_free(struct pq_todo *t);

/*
 * The series waiting for approval on queue (state queued), oldest first,
 * each with its rule and latest dry run there, appended to list (free the
 * items with pq_todo_list_free()). What the to-do and `patchq queue` show.
 * Returns 0 or PQ_EDB.
 */
int pq_todo_waiting(struct pq_store *s, const char *queue, struct pq_todo_list *list);

/* Frees the items of list and empties it. */
void pq_todo_list_free(struct pq_todo_list *list);

/*
 * Appends t to out in f. Text: a block per queue with something to do,
 * then the replies ("nothing to do" when all is empty). JSON: {"queues":
 * [{"queue": NAME, "waiting": [...], "new_versions": [...],
 * "late_trailers": [...], "stopped_applying": [...], "dropped": [...],
 * "totals": {SECTION: N, ...}}],
 * "replies": [...], "replies_total": N}, every queue present. HTML: a fragment (no page
 * frame), a <section> with an <h2> per queue linking /queues/NAME, a
 * table per section linking /series/ID, every value escaped.
 */
void pq_todo_write(const struct pq_todo *t, enum pq_view_format f, struct pq_buf *out);

/* One section list as text lines (for `patchq queue`): "  ID  vN NAME <ADDR>  ..." */
void pq_todo_write_waiting(const struct pq_todo_list *list, struct pq_buf *out);

#endif
