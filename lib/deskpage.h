/*
 * deskpage: the desk's HTML pages of one thing (a series, a queue, the
 * outbox, a message), each a body fragment written into out between the
 * frame desk.c puts around it.
 *
 * Every value from mail or the database is escaped (html.h). The forms
 * of actions appear only for a maintainer (csrf non-NULL: the token each
 * form must carry back). Each returns 0, PQ_ENOTFOUND (nothing by that
 * name: the page is a 404) or PQ_EDB.
 */
#ifndef PQ_DESKPAGE_H
#define PQ_DESKPAGE_H

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

/*
 * Series id: its standing and dry run on every queue, why the rules send
 * it where they do (with repo; NULL leaves that out), its versions and
 * what changed since the one before (patch by patch, as range-diff), the
 * cover letter, each patch with its trailers (held-back ones flagged) and
 * its diff coloured by line type, the replies, the actions taken on it.
 * *title gets the page's title (malloc'd).
 */
int pq_deskpage_series(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		       long long id, const char *csrf, struct pq_buf *out, char **title);

/* Queue name: branch, tip and base, the series on it with their commits, waiting ones. */
int pq_deskpage_queue(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      const char *name, const char *csrf, struct pq_buf *out);

/*
 * The Atom feed of the series sent to queue name, newest first (the last
 * 50): each with its state there. Links are relative to the feed's URL.
 */
int pq_deskpage_queue_feed(struct pq_store *s, const struct pq_config *c, const char *name,
			   struct pq_buf *out);

struct pq_todo;

/*
 * The to-do t as an Atom feed: an entry per thing to do (a series waiting,
 * a new version, a late trailer, a series that stopped applying or was
 * dropped; a reply not sent), its id stable while it stays to do. The
 * to-do holds no times: every entry is dated now.
 */
void pq_deskpage_todo_feed(const struct pq_todo *t, long long now, struct pq_buf *out);

/* The replies, newest first, with their state, attempts and last error. */
int pq_deskpage_outbox(struct pq_store *s, const char *csrf, struct pq_buf *out);

/*
 * Reply id of the outbox: its state, envelope and the mail as it goes
 * out; while it is unsent, for a maintainer, the form that edits its
 * Subject and body (POST /outbox/ID/edit: csrf, subject, body).
 */
int pq_deskpage_reply(struct pq_store *s, long long id, const char *csrf, struct pq_buf *out);

/* One message by Message-ID: parsed (headers, body); raw: its bytes as stored. */
int pq_deskpage_message(struct pq_store *s, const char *msgid, int raw, struct pq_buf *out);

#endif
