/* deskcache: pages for readers without a token, kept a moment (see deskcache.h). */
#include "deskcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <zlib.h>

#include "alloc.h"

/* A page shorter than this goes as it is: gzip would save little. */
#define GZIP_MIN 1024

struct page {
	char *key; /* path '?' query; NULL: an empty slot */
	const struct pq_config *config;
	long long gen;		    /* the cache's generation it was made in */
	long long made;		    /* monotonic ms */
	long long outdated;	    /* when first found outdated (0: not yet) */
	long long used;		    /* for the least recently used */
	int making;		    /* a reader is making it again */
	struct pq_desk_response rs; /* its headers without the ETag */
	char *etag;		    /* the ETag header's value, or NULL */
	struct pq_buf gz;	    /* the body gzipped (empty: not worth it) */
	size_t size;
};

struct pq_desk_cache {
	pthread_mutex_t lock;
	long long gen;
	struct page pages[PQ_DESK_CACHE_SLOTS];
	size_t bytes, max_bytes;
	long long clock; /* use counter */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct pq_desk_cache *pq_desk_cache_new(size_t max_bytes)
{
	struct pq_desk_cache *c = pq_calloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->max_bytes = max_bytes;
	return c;
}

static void page_empty(struct pq_desk_cache *c, struct page *p)
{
	c->bytes -= p->size;
	free(p->etag);
	pq_desk_response_free(&p->rs);
	pq_buf_free(&p->gz);
	p->etag = NULL;
	p->size = 0;
}

static void page_drop(struct pq_desk_cache *c, struct page *p)
{
	if (!p->key)
		return;
	page_empty(c, p);
	free(p->key);
	memset(p, 0, sizeof(*p));
}

void pq_desk_cache_free(struct pq_desk_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < PQ_DESK_CACHE_SLOTS; i++)
		page_drop(c, &c->pages[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Whether anyone may be given the answer to rq: a GET with no credentials. */
static int cacheable(const struct pq_desk_request *rq)
{
	return rq->method && !strcmp(rq->method, "GET") && rq->path && !rq->authorization &&
	       !rq->cookie;
}

static char *make_key(const struct pq_desk_request *rq)
{
	struct pq_buf k = PQ_BUF_INIT;

	pq_buf_adds(&k, rq->path);
	if (rq->query) {
		pq_buf_addc(&k, '?');
		pq_buf_adds(&k, rq->query);
	}
	return pq_buf_detach(&k);
}

/* Copies headers into out without the ETag line; its value, or NULL. */
static char *split_etag(const struct pq_buf *headers, struct pq_buf *out)
{
	const char *h = pq_buf_str(headers), *e;
	char *etag = NULL;

	for (; (e = strchr(h, '\n')); h = e + 1) {
		if (!strncmp(h, "ETag: ", 6) && !etag)
			etag = pq_strndup(h + 6, (size_t)(e - h - 6));
		else
			pq_buf_add(out, h, (size_t)(e - h + 1));
	}
	return etag;
}

int pq_desk_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding;

	while (p && *p) {
		size_t n, len = strcspn(p, ",");
		const char *q;

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		n = strcspn(p, ";, \t");
		if (n > len)
			n = len;
		if ((n == 4 && !strncasecmp(p, "gzip", 4)) ||
		    (n == 6 && !strncasecmp(p, "x-gzip", 6))) {
			/* refused with q=0 (0.0, 0.000) */
			q = memchr(p, ';', len);
			if (!q)
				return 1;
			q++;
			while (*q == ' ' || *q == '\t')
				q++;
			if (strncasecmp(q, "q=", 2))
				return 1;
			q += 2;
			if (*q != '0')
				return 1;
			for (q++, q += *q == '.'; *q == '0'; q++)
				;
			return !(*q == '\0' || *q == ',' || *q == ' ' || *q == '\t' || *q == ';');
		}
		p += len + (p[len] == ',');
	}
	return 0;
}

/* body gzipped into out, when that is worth it (out left empty otherwise). */
static void gzip_body(const struct pq_buf *body, struct pq_buf *out)
{
	z_stream z;

	pq_buf_reset(out);
	if (body->len < GZIP_MIN)
		return;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	pq_buf_grow(out, deflateBound(&z, body->len));
	z.next_in = (Bytef *)body->ptr;
	z.avail_in = (uInt)body->len;
	z.next_out = (Bytef *)out->ptr;
	z.avail_out = (uInt)(out->cap - 1);
	if (deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < body->len)
		out->len = z.total_out;
	else
		pq_buf_free(out);
	deflateEnd(&z);
}

/*
 * Fills rs from p: gzipped when gzip is set and p has it, with the ETag of
 * what is sent (a gzipped body's ends in "-gzip"), or 304 and no body when
 * inm names that ETag.
 */
static void give(const struct page *p, int gzip, const char *inm, struct pq_desk_response *rs)
{
	struct pq_buf tag = PQ_BUF_INIT;

	gzip = gzip && p->gz.len;
	memset(rs, 0, sizeof(*rs));
	rs->status = p->rs.status;
	rs->content_type = p->rs.content_type;
	pq_buf_add(&rs->headers, pq_buf_str(&p->rs.headers), p->rs.headers.len);
	pq_buf_adds(&rs->headers, "Vary: Accept-Encoding\n");
	if (gzip)
		pq_buf_adds(&rs->headers, "Content-Encoding: gzip\n");
	if (p->etag) {
		/* "d1a2..." or "d1a2...-gzip" */
		pq_buf_add(&tag, p->etag, strlen(p->etag) - (gzip && p->etag[0] == '"'));
		if (gzip)
			pq_buf_adds(&tag, p->etag[0] == '"' ? "-gzip\"" : "-gzip");
		pq_buf_addf(&rs->headers, "ETag: %s\n", tag.ptr);
	}
	if (p->etag && inm && strstr(inm, tag.ptr))
		rs->status = 304;
	else if (gzip)
		pq_buf_add(&rs->body, p->gz.ptr, p->gz.len);
	else
		pq_buf_add(&rs->body, pq_buf_str(&p->rs.body), p->rs.body.len);
	pq_buf_free(&tag);
}

static struct page *find(struct pq_desk_cache *c, const char *key, const struct pq_config *cf)
{
	size_t i;

	for (i = 0; i < PQ_DESK_CACHE_SLOTS; i++)
		if (c->pages[i].key && c->pages[i].config == cf && !strcmp(c->pages[i].key, key))
			return &c->pages[i];
	return NULL;
}

/* Whether p may be given now (see the header for the rule). */
static int givable(struct pq_desk_cache *c, struct page *p, long long now)
{
	if (!p->size || now - p->made > PQ_DESK_CACHE_KEEP_MS)
		return 0;
	if (p->gen == c->gen || p->making)
		return 1;
	if (!p->outdated)
		p->outdated = now;
	return now - p->outdated <= PQ_DESK_CACHE_STALE_MS;
}

/* A slot for key with room for size more bytes, giving up the least recently used. */
static struct page *slot(struct pq_desk_cache *c, const char *key, const struct pq_config *cf,
			 size_t size)
{
	struct page *p, *lru;
	size_t i;

	for (;;) {
		lru = NULL;
		for (i = 0; i < PQ_DESK_CACHE_SLOTS; i++) {
			p = &c->pages[i];
			if (!p->key && c->bytes + size <= c->max_bytes)
				goto found;
			if (p->key && !p->making && (!lru || p->used < lru->used))
				lru = p;
		}
		if (!lru) /* every page is being made again: keep nothing now */
			return NULL;
		page_drop(c, lru);
	}
found:
	p->key = pq_strdup(key);
	p->config = cf;
	return p;
}

/* Keeps rs (a 200 made in generation gen) and its gzipped body as key's page; under the lock. */
static struct page *keep(struct pq_desk_cache *c, const char *key, const struct pq_config *cf,
			 long long gen, long long now, const struct pq_desk_response *rs,
			 struct pq_buf *gz)
{
	size_t size = rs->body.len + rs->headers.len + gz->len + strlen(key);
	struct page *p = find(c, key, cf);

	if (p) {
		p->making = 0;
		page_empty(c, p);
		if (c->bytes + size > c->max_bytes) {
			page_drop(c, p);
			p = NULL;
		}
	}
	if (size > c->max_bytes / 4 || (!p && !(p = slot(c, key, cf, size)))) {
		if (p)
			page_drop(c, p);
		return NULL;
	}
	p->gen = gen;
	p->made = now;
	p->outdated = 0;
	p->used = ++c->clock;
	p->rs.status = rs->status;
	p->rs.content_type = rs->content_type;
	p->etag = split_etag(&rs->headers, &p->rs.headers);
	pq_buf_add(&p->rs.body, pq_buf_str(&rs->body), rs->body.len);
	p->gz = *gz; /* taken */
	*gz = (struct pq_buf)PQ_BUF_INIT;
	p->size = size;
	c->bytes += size;
	return p;
}

int pq_desk_cache_handle(struct pq_desk_cache *c, long long *seen, const struct pq_desk_env *env,
			 const struct pq_desk_request *rq, struct pq_desk_response *rs)
{
	struct pq_buf gz = PQ_BUF_INIT;
	sqlite3_stmt *st;
	struct page *p;
	long long version, gen, now;
	int ret, gzip;
	char *key;

	if (!c || !cacheable(rq))
		return pq_desk_handle(env, rq, rs);
	/* the generation before the snapshot: see the header */
	pthread_mutex_lock(&c->lock);
	gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	if (!(st = pq_store_stmt(env->store, "PRAGMA data_version")) ||
	    pq_store_scalar(env->store, st, &version) < 0)
		return pq_desk_handle(env, rq, rs);
	gzip = pq_desk_accepts_gzip(rq->accept_encoding);
	key = make_key(rq);
	now = now_ms();
	pthread_mutex_lock(&c->lock);
	if (version != *seen) {
		c->gen++;
		*seen = version;
	}
	p = find(c, key, env->config);
	if (p && givable(c, p, now)) {
		p->used = ++c->clock;
		give(p, gzip, rq->if_none_match, rs);
		pthread_mutex_unlock(&c->lock);
		free(key);
		return 0;
	}
	if (p)
		p->making = 1;
	pthread_mutex_unlock(&c->lock);

	/* a 304 (the reader has it) is not a page to keep */
	ret = pq_desk_handle(env, rq, rs);
	if (ret == 0 && rs->status == 200)
		gzip_body(&rs->body, &gz);
	pthread_mutex_lock(&c->lock);
	p = NULL;
	if (ret == 0 && rs->status == 200)
		p = keep(c, key, env->config, gen, now, rs, &gz);
	else if ((p = find(c, key, env->config)))
		p->making = 0; /* a 304 or a failure: the old page stays as it was */
	if (p && ret == 0 && rs->status == 200) {
		pq_desk_response_free(rs);
		give(p, gzip, rq->if_none_match, rs);
	}
	pthread_mutex_unlock(&c->lock);
	pq_buf_free(&gz);
	free(key);
	return ret;
}
