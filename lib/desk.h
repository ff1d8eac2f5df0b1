/*
 * desk: the maintainer's desk, the pages and the JSON API patchqd serves
 * over HTTP.
 *
 * One call answers one request: pq_desk_handle() reads the database (and,
 * for an action, the queue repository) and fills a response; it knows
 * nothing of sockets or of libevent, which are patchqd's (daemon/httpd.c),
 * so it runs on a worker thread, never on the event loop, and the tests
 * call it directly. The request's strings are the client's, untrusted:
 * every value shown is escaped (html.h), every path outside the routes is
 * 404, every method a route does not take is 405.
 *
 * Routes (GET and HEAD; POST only for actions):
 *   /                     the to-do               /api/todo
 *   /series?...           the series list         /api/series?...
 *   /series/ID            one series              /api/series/ID
 *   /queues/NAME          one queue               /api/queues/NAME
 *   /outbox               the replies             /api/outbox
 *   /messages/MSGID       one message, parsed     /messages/MSGID/raw
 *   /feeds/queues/NAME.atom   the series sent to a queue, as an Atom feed
 *   /desk.css             the stylesheet
 * A listing's JSON is {"items": [...], "next": URL or null}.
 *
 * Actions (POST, form fields; the same under /api/, answered as JSON):
 *   /series/ID/approve|reject|apply    queue, reason, reply, force
 *   /queues/NAME/rebuild
 *   /outbox/ID/retry|hold|release
 *   /outbox/ID/edit                    subject, body (CRLF taken as LF)
 * A body over PQ_DESK_BODY_MAX is refused (413).
 */
#ifndef PQ_DESK_H
#define PQ_DESK_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

/* The largest request body the desk reads (patchqd's limit too). */
#define PQ_DESK_BODY_MAX (64 * 1024)

struct pq_desk_request {
	const char *method; /* "GET", "HEAD", "POST", ... as sent */
	const char *path;   /* the path as sent, %-encoded, without the query */
	const char *query;  /* the query string without '?', or NULL */
	const char *body;   /* a POST's body (application/x-www-form-urlencoded), or NULL */
	size_t body_len;
	/* header values as sent, or NULL */
	const char *authorization;
	const char *cookie;
	const char *if_none_match;
	const char *content_type;
	const char *accept_encoding; /* read only by the page cache (deskcache.h) */
};

struct pq_desk_response {
	int status;		  /* an HTTP status code */
	const char *content_type; /* static */
	struct pq_buf headers;	  /* more header lines, "Name: value\n" each */
	struct pq_buf body;
};

/* What a request is answered from; borrowed, owned by the caller's thread. */
struct pq_desk_env {
	struct pq_store *store;
	const struct pq_config *config;
	struct pq_repo *repo; /* NULL: actions are refused (503) */
	long long now;	      /* unix time, for the login cookie and the records */
};

/*
 * Answers rq into rs (initialised here; free with pq_desk_response_free()).
 * Always fills a response: a client's mistake is its 4xx, a database error
 * a 500 whose body says so. Returns 0, or PQ_EDB when the database failed
 * (the caller may reopen it).
 */
int pq_desk_handle(const struct pq_desk_env *env, const struct pq_desk_request *rq,
		   struct pq_desk_response *rs);

/* Whether rq is an action (it writes: POST): patchqd runs those where git runs. */
int pq_desk_is_action(const struct pq_desk_request *rq);

void pq_desk_response_free(struct pq_desk_response *rs);

#endif
