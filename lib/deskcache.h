/*
 * deskcache: the desk's pages for readers without a token, kept a moment.
 *
 * A public desk is read by many who all see the same pages, and a page of
 * a big series or the to-do costs milliseconds to make; a maintainer who
 * acts must see the effect at once. So only what anyone may read is kept:
 * a GET without Authorization or a cookie, answered 200.
 *
 * When is a kept page still good? Each reader thread has its own database
 * connection, and SQLite's data_version on a connection changes when
 * anything (another connection, another process) committed since that
 * connection last looked. Every request looks first; a reader that sees a
 * change moves the cache's generation on, and a page is current while the
 * generation it was made in is the cache's. The generation a page is made
 * in is read before its snapshot of the database is taken, so a page never
 * passes for current while it lacks a commit someone has seen.
 *
 * What is given: a current page, for at most PQ_DESK_CACHE_KEEP_MS; an
 * outdated one for PQ_DESK_CACHE_STALE_MS after it was first found so, or
 * while another reader is making it again (so one reader makes a page
 * while the others keep answering). A reader without a token may so see a
 * page up to about a second behind the database; a maintainer never does.
 *
 * A kept page is also kept gzipped, and given so (Content-Encoding: gzip,
 * an ETag of its own) to a reader whose Accept-Encoding takes gzip; every
 * answer from the cache says Vary: Accept-Encoding.
 *
 * The cache is shared by the reader threads (a mutex; pages are copied in
 * and out under it). Its memory is bounded: at most PQ_DESK_CACHE_SLOTS
 * pages and max_bytes of them (a page over a quarter of that is never
 * kept), the least recently used given up first.
 */
#ifndef PQ_DESKCACHE_H
#define PQ_DESKCACHE_H

#include <stddef.h>

#include "desk.h"

#define PQ_DESK_CACHE_SLOTS 64
#define PQ_DESK_CACHE_KEEP_MS 10000
#define PQ_DESK_CACHE_STALE_MS 1000

struct pq_desk_cache;

/* An empty cache of at most max_bytes of pages. Never NULL (aborts on no memory). */
struct pq_desk_cache *pq_desk_cache_new(size_t max_bytes);

/* Frees c and its pages, once no thread uses it; NULL is fine. */
void pq_desk_cache_free(struct pq_desk_cache *c);

/*
 * Answers rq as pq_desk_handle() does, from c when it has a page it may
 * give (an If-None-Match that names the page's ETag gets 304 with no body,
 * as from the desk), else by pq_desk_handle(), keeping the answer when it
 * may. seen is the calling thread's: the data_version its connection
 * (env->store) last showed, -1 for a connection not yet asked (set it to
 * -1 again when the connection is opened anew). c may be NULL (nothing
 * kept). Returns what pq_desk_handle() returns; rs is filled in every
 * case (free with pq_desk_response_free()).
 */
int pq_desk_cache_handle(struct pq_desk_cache *c, long long *seen, const struct pq_desk_env *env,
			 const struct pq_desk_request *rq, struct pq_desk_response *rs);

/*
 * Whether an Accept-Encoding value (NULL: none sent) takes gzip: a gzip or
 * x-gzip coding in the list, not refused with q=0.
 */
int pq_desk_accepts_gzip(const char *accept_encoding);

#endif
