/*
 * httpd: the desk (lib/desk.h) served over HTTP with libevent's evhttp,
 * on patchqd's event loop.
 *
 * The loop only parses and answers: a request becomes a job, and the job
 * calls pq_desk_handle() on a worker thread, with that thread's own
 * database connection. Reads (GET, HEAD, and every method the desk
 * refuses) go to the "http" worker with the fewest jobs out, through one
 * page cache the readers share (lib/deskcache.h: pages for readers
 * without a token, given again while the database is unchanged, so that
 * while one reader makes a page the others answer); actions
 * (pq_desk_is_action(): POST) to the git worker, after or before a
 * pipeline pass but never during one.
 * Each job opens the queue repository (pages read it too: why a series
 * goes where, a queue's tip). The answer is sent back on the loop when the
 * job returns.
 *
 * Bounds: at most HTTPD_MAX_PENDING requests out on the workers (beyond
 * that: 503 at once, with Retry-After), headers of at most 8 KiB (evhttp
 * answers 400 and closes), a body of at most 64 KiB (evhttp: 413), and
 * [http] timeout seconds for a client to send a request or read an answer
 * (then the connection is closed without an answer). Every method evhttp
 * knows (GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, CONNECT, PATCH) is
 * let through, so that the desk answers 405 with Allow itself; a method
 * evhttp does not know (BREW) is answered 501 Not Implemented by evhttp,
 * as RFC 9110 (15.6.2) has it for a method the server does not recognise.
 * evhttp's own error answers (400, 413, 501) carry none of the headers
 * below: they have no content worth protecting.
 *
 * Every answer carries a Content-Security-Policy that allows nothing but
 * the desk's own stylesheet, images and forms, X-Content-Type-Options:
 * nosniff and Referrer-Policy: same-origin.
 */
#ifndef PQ_HTTPD_H
#define PQ_HTTPD_H

#include <event2/event.h>

#include "config.h"
#include "store.h"
#include "worker.h"

/* Requests queued or running on the workers at most. */
#define HTTPD_MAX_PENDING 64

struct httpd;

/* What patchqd lends the server: its workers, its configuration, its connections. */
struct httpd_host {
	void *arg;
	struct worker *readers; /* the http workers: pages go to them in turn */
	size_t nreaders;
	struct worker *actor; /* the git worker */
	/* on the loop: the configuration in force, held (token) until released */
	const struct pq_config *(*config_hold)(void *arg, void **token);
	void (*config_release)(void *token);
	/* on a worker thread: that thread's connection to path (NULL: failed) */
	struct pq_store *(*store)(struct worker *w, const char *path);
	/* on a worker thread, after a job: rc PQ_EDB closes the connection */
	void (*store_after)(struct worker *w, int rc);
};

/*
 * Starts serving on base: on the sockets systemd handed over (nfds
 * descriptors from 3, LISTEN_FDS), else on c's [http] listen, and logs the
 * address ("desk at http://127.0.0.1:41234/"). host is copied. Returns the
 * server, or NULL after logging why (the address is taken, the socket path
 * cannot be bound, ...). Call only when c has [http] or nfds > 0.
 */
struct httpd *httpd_start(struct event_base *base, const struct pq_config *c, int nfds,
			  const struct httpd_host *host);

/*
 * Stops accepting and closes every connection (the answers of running
 * jobs are dropped when they return). Idempotent; NULL is accepted.
 */
void httpd_stop(struct httpd *h);

/*
 * Frees the server after httpd_stop(), once no job is out: call it after
 * the workers were stopped and their returned jobs run. NULL is accepted.
 */
void httpd_free(struct httpd *h);

#endif
