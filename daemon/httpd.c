/*
 * httpd: the desk over HTTP, with evhttp (see httpd.h).
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "alloc.h"
#include "buf.h"
#include "desk.h"
#include "deskcache.h"
#include "error.h"
#include "store.h"
#include "repo.h"
#include "sd.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

#define MAX_HEADERS_SIZE (8 * 1024)
#define LISTEN_BACKLOG 128
#define CACHE_BYTES (32 * 1024 * 1024) /* readers' pages kept, at most */

static const char csp[] = "default-src 'none'; style-src 'self'; img-src 'self'; "
			  "form-action 'self'; frame-ancestors 'none'";

struct httpd {
	struct event_base *base;
	struct evhttp *http;
	struct httpd_host host;
	int pending;		     /* jobs out on the workers */
	int *out;		     /* per reader: its jobs out; a page goes to the least busy */
	long long *seen;	     /* per reader: its connection's data_version (deskcache.h) */
	struct pq_desk_cache *cache; /* readers' pages, shared by the readers */
	int stopped;		     /* httpd_stop() ran */
	char *unix_path;	     /* the socket file made here, removed at stop */
};

/*
 * One request on its way through a worker. req is evhttp's: it is set to
 * NULL when evhttp frees it (the connection went away, the server
 * stopped), which the connection's close callback tells; when evhttp only
 * lets go of it (req->evcon cleared on a timeout or EOF), it is ours to
 * free (detached).
 */
struct http_job {
	struct job job;
	struct httpd *h;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	int detached;
	int action;
	int reader; /* the reader it went to, -1: an action, on the git worker */
	void *cfg_token;
	const struct pq_config *cfg;
	struct pq_desk_request rq; /* its strings are the fields below */
	char *method, *path, *query, *body, *authorization, *cookie, *if_none_match, *content_type;
	char *accept_encoding;
	struct pq_desk_response rs;
	int handled; /* rs was filled */
};

static const struct {
	enum evhttp_cmd_type type;
	const char *name;
} methods[] = {
	{ EVHTTP_REQ_GET, "GET" },	 { EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_HEAD, "HEAD" },	 { EVHTTP_REQ_PUT, "PUT" },
	{ EVHTTP_REQ_DELETE, "DELETE" }, { EVHTTP_REQ_OPTIONS, "OPTIONS" },
	{ EVHTTP_REQ_TRACE, "TRACE" },	 { EVHTTP_REQ_CONNECT, "CONNECT" },
	{ EVHTTP_REQ_PATCH, "PATCH" },
};

static const char *method_name(enum evhttp_cmd_type t)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].type == t)
			return methods[i].name;
	return NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? pq_strdup(s) : NULL;
}

static void job_free(struct http_job *j)
{
	pq_desk_response_free(&j->rs);
	free(j->method);
	free(j->path);
	free(j->query);
	free(j->body);
	free(j->authorization);
	free(j->cookie);
	free(j->if_none_match);
	free(j->content_type);
	free(j->accept_encoding);
	free(j);
}

/* The headers every answer carries. */
static void add_common_headers(struct evkeyvalq *out)
{
	evhttp_add_header(out, "Content-Security-Policy", csp);
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Referrer-Policy", "same-origin");
}

/* A short plain answer made on the loop (503, 500, 400). */
static void send_plain(struct evhttp_request *req, int status, const char *text)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evhttp_request_get_output_buffer(req);

	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	add_common_headers(out);
	if (status == 503)
		evhttp_add_header(out, "Retry-After", "1");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char len[32];

		snprintf(len, sizeof(len), "%zu", strlen(text) + 1);
		evhttp_add_header(out, "Content-Length", len);
	} else {
		evbuffer_add_printf(body, "%s\n", text);
	}
	evhttp_send_reply(req, status, NULL, NULL);
}

/* Sends the desk's answer: its status, type, header lines and body (none for HEAD). */
static void send_response(struct evhttp_request *req, const struct pq_desk_response *rs)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *p = pq_buf_str(&rs->headers);
	int head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
	int bodiless = rs->status == 204 || rs->status == 304 || rs->status < 200;

	if (rs->content_type && !bodiless)
		evhttp_add_header(out, "Content-Type", rs->content_type);
	while (*p) {
		const char *nl = strchr(p, '\n'), *colon;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = pq_strndup(p, len);

		colon = strchr(line, ':');
		if (colon && colon > line) {
			const char *v = colon + 1;

			line[colon - line] = '\0';
			while (*v == ' ' || *v == '\t')
				v++;
			/* evhttp refuses a name or value holding CR or LF */
			if (evhttp_add_header(out, line, v) < 0)
				pq_log(LOG_WARNING, "desk: a response header was refused: %s",
				       line);
		}
		free(line);
		p += len + (nl != NULL);
	}
	add_common_headers(out);
	if (bodiless) {
		/* no body, no length */
	} else if (head) {
		char len[32];

		snprintf(len, sizeof(len), "%zu", rs->body.len);
		evhttp_add_header(out, "Content-Length", len);
	} else if (rs->body.len) {
		evbuffer_add(evhttp_request_get_output_buffer(req), rs->body.ptr, rs->body.len);
	}
	evhttp_send_reply(req, rs->status, NULL, NULL);
}

/* ---- on a worker ---- */

static void job_run(struct job *job, struct worker *w)
{
	struct http_job *j = container_of(job, struct http_job, job);
	const struct httpd_host *host = &j->h->host;
	struct pq_desk_env env = { .config = j->cfg, .now = (long long)time(NULL) };
	struct pq_repo *repo = NULL;
	int rc, snapshot;

	env.store = host->store(w, j->cfg->database);
	if (!env.store) {
		pq_log(LOG_ERR, "desk: %s", pq_error_last());
		return; /* answered 500 on the loop */
	}
	/* pages read it too (why a series goes where, a queue's tip); an action
	 * without it is refused (503), a page goes without those parts */
	if (pq_repo_open(&repo, j->cfg->repository) < 0 && j->action)
		pq_log(LOG_ERR, "desk: %s", pq_error_last());
	env.repo = repo;
	/* a page reads one snapshot: one read transaction for all its
	 * statements, not a lock taken and dropped by each */
	snapshot = !j->action && pq_store_begin_read(env.store) == 0;
	rc = j->reader < 0 ? pq_desk_handle(&env, &j->rq, &j->rs)
			   : pq_desk_cache_handle(j->h->cache, &j->h->seen[j->reader], &env, &j->rq,
						  &j->rs);
	/* commit: a page may have noted when a token was last used */
	if (snapshot && pq_store_commit(env.store) < 0)
		pq_store_rollback(env.store);
	j->handled = 1;
	if (rc < 0)
		pq_log(LOG_ERR, "desk: %s %s: %s", j->method, j->path, pq_error_last());
	pq_repo_free(repo);
	if (rc == PQ_EDB && j->reader >= 0)
		j->h->seen[j->reader] = -1; /* the connection is opened anew */
	host->store_after(w, rc);
}

/* ---- on the loop ---- */

/* evhttp is freeing the connection of a request whose job is out. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_job *j = arg;

	if (!j->req)
		return;
	/* a timeout or EOF let go of the request (it is ours now); anything
	 * else frees it with the connection, right after this call */
	if (evhttp_request_get_connection(j->req) == NULL)
		j->detached = 1;
	else
		j->req = NULL;
	j->evcon = NULL;
}

static void job_done(struct job *job)
{
	struct http_job *j = container_of(job, struct http_job, job);
	struct httpd *h = j->h;

	h->pending--;
	if (j->reader >= 0)
		h->out[j->reader]--;
	h->host.config_release(j->cfg_token);
	if (j->evcon)
		evhttp_connection_set_closecb(j->evcon, NULL, NULL);
	if (!j->req) {
		/* evhttp freed it: nobody to answer */
	} else if (j->detached) {
		evhttp_request_free(j->req);
	} else if (h->stopped || !job->ran) {
		send_plain(j->req, 503, "The desk is stopping.");
	} else if (!j->handled) {
		send_plain(j->req, 500, "The database cannot be opened; see patchqd's log.");
	} else {
		send_response(j->req, &j->rs);
	}
	job_free(j);
}

/* The reader with the fewest jobs out: while one makes a page, the others answer. */
static int least_busy(const struct httpd *h)
{
	size_t r, best = 0;

	for (r = 1; r < h->host.nreaders; r++)
		if (h->out[r] < h->out[best])
			best = r;
	return (int)best;
}

/* Every request: copied into a job for a worker, or answered at once. */
static void on_request(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *input = evhttp_request_get_input_buffer(req);
	const char *method = method_name(evhttp_request_get_command(req));
	struct http_job *j;
	size_t len;
	int rc;

	if (h->stopped) {
		send_plain(req, 503, "The desk is stopping.");
		return;
	}
	if (!uri || !method || !evhttp_uri_get_path(uri)) {
		send_plain(req, 400, "Bad request.");
		return;
	}
	if (h->pending >= HTTPD_MAX_PENDING) {
		send_plain(req, 503, "The desk is busy; try again.");
		return;
	}
	j = pq_calloc(1, sizeof(*j));
	j->h = h;
	j->req = req;
	j->method = pq_strdup(method);
	j->path = pq_strdup(evhttp_uri_get_path(uri));
	j->query = dup_or_null(evhttp_uri_get_query(uri));
	j->authorization = dup_or_null(evhttp_find_header(in, "Authorization"));
	j->cookie = dup_or_null(evhttp_find_header(in, "Cookie"));
	j->if_none_match = dup_or_null(evhttp_find_header(in, "If-None-Match"));
	j->content_type = dup_or_null(evhttp_find_header(in, "Content-Type"));
	j->accept_encoding = dup_or_null(evhttp_find_header(in, "Accept-Encoding"));
	len = evbuffer_get_length(input);
	if (len > PQ_DESK_BODY_MAX) /* evhttp's own limit; never more */
		len = PQ_DESK_BODY_MAX;
	if (len) {
		j->body = pq_malloc(len + 1);
		evbuffer_copyout(input, j->body, len);
		j->body[len] = '\0';
	}
	j->rq = (struct pq_desk_request){
		.method = j->method,
		.path = j->path,
		.query = j->query,
		.body = j->body,
		.body_len = len,
		.authorization = j->authorization,
		.cookie = j->cookie,
		.if_none_match = j->if_none_match,
		.content_type = j->content_type,
		.accept_encoding = j->accept_encoding,
	};
	j->action = pq_desk_is_action(&j->rq);
	j->cfg = h->host.config_hold(h->host.arg, &j->cfg_token);
	j->job.run = job_run;
	j->job.done = job_done;
	j->reader = j->action ? -1 : least_busy(h);
	rc = worker_post(j->reader < 0 ? h->host.actor : &h->host.readers[j->reader], &j->job);
	if (rc < 0) {
		h->host.config_release(j->cfg_token);
		job_free(j);
		send_plain(req, 503, "The desk is stopping.");
		return;
	}
	h->pending++;
	if (j->reader >= 0)
		h->out[j->reader]++;
	j->evcon = evhttp_request_get_connection(req);
	if (j->evcon)
		evhttp_connection_set_closecb(j->evcon, on_conn_close, j);
}

/* ---- listening ---- */

static int is_loopback(const struct pq_http_conf *hc)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (hc->family == PQ_HTTP_UNIX)
		return 1;
	if (hc->family == PQ_HTTP_INET)
		return inet_pton(AF_INET, hc->host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, hc->host, &a6) == 1 &&
	       (IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
}

/* A unix socket at path; a stale socket file nobody listens on is replaced. */
static int listen_unix(struct httpd *h, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			errno = EADDRINUSE;
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	h->unix_path = pq_strdup(path);
	if (!evhttp_accept_socket_with_handle(h->http, fd)) {
		close(fd);
		return -1;
	}
	return 0;
}

/* The address a TCP socket is bound to, as a URL's host and port. */
static void log_bound(evutil_socket_t fd, const char *how)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		pq_log(LOG_NOTICE, "desk at http://%s:%d/%s", host, port, how);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		pq_log(LOG_NOTICE, "desk at http://[%s]:%d/%s", host, port, how);
	} else if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		pq_log(LOG_NOTICE, "desk at unix:%s%s",
		       len > offsetof(struct sockaddr_un, sun_path) ? un->sun_path : "?", how);
	}
}

static void free_readers(struct httpd *h)
{
	pq_desk_cache_free(h->cache);
	free(h->out);
	free(h->seen);
}

struct httpd *httpd_start(struct event_base *base, const struct pq_config *c, int nfds,
			  const struct httpd_host *host)
{
	const struct pq_http_conf *hc = &c->http;
	struct httpd *h = pq_calloc(1, sizeof(*h));
	struct evhttp_bound_socket *bs;
	size_t r;
	int i;

	h->base = base;
	h->host = *host;
	h->out = pq_calloc(host->nreaders, sizeof(*h->out));
	h->seen = pq_calloc(host->nreaders, sizeof(*h->seen));
	for (r = 0; r < host->nreaders; r++)
		h->seen[r] = -1;
	h->cache = pq_desk_cache_new(CACHE_BYTES);
	h->http = evhttp_new(base);
	if (!h->http) {
		pq_log(LOG_ERR, "desk: cannot set up the HTTP server");
		free_readers(h);
		free(h);
		return NULL;
	}
	evhttp_set_max_headers_size(h->http, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(h->http, PQ_DESK_BODY_MAX);
	evhttp_set_timeout(h->http, c->has_http ? hc->timeout : 30);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(h->http, NULL);
	evhttp_set_gencb(h->http, on_request, h);

	if (nfds > 0) {
		if (c->has_http)
			pq_log(LOG_NOTICE,
			       "desk: http.listen (%s) is not used: systemd handed "
			       "over the socket",
			       hc->listen);
		for (i = 0; i < nfds; i++) {
			evutil_make_socket_nonblocking(3 + i);
			if (!evhttp_accept_socket_with_handle(h->http, 3 + i)) {
				pq_log(LOG_ERR, "desk: cannot accept on descriptor %d", 3 + i);
				goto fail;
			}
			log_bound(3 + i, " (from systemd)");
		}
		return h;
	}
	if (hc->family == PQ_HTTP_UNIX) {
		if (listen_unix(h, hc->host) < 0) {
			pq_log(LOG_ERR, "desk: cannot listen on unix:%s: %s", hc->host,
			       strerror(errno));
			goto fail;
		}
		pq_log(LOG_NOTICE, "desk at unix:%s", hc->host);
		return h;
	}
	bs = evhttp_bind_socket_with_handle(h->http, hc->host, (ev_uint16_t)hc->port);
	if (!bs) {
		pq_log(LOG_ERR, "desk: cannot listen on %s: %s", hc->listen, strerror(errno));
		goto fail;
	}
	if (!is_loopback(hc))
		pq_log(LOG_WARNING,
		       "desk: listening on %s, which is not a loopback address: put the desk "
		       "behind a reverse proxy that checks who comes in",
		       hc->listen);
	log_bound(evhttp_bound_socket_get_fd(bs), "");
	return h;
fail:
	evhttp_free(h->http);
	free_readers(h);
	free(h->unix_path);
	free(h);
	return NULL;
}

void httpd_stop(struct httpd *h)
{
	if (!h || h->stopped)
		return;
	h->stopped = 1;
	/* closes the listeners and every connection; the close callbacks
	 * tell the jobs still out that their request is gone */
	evhttp_free(h->http);
	h->http = NULL;
	if (h->unix_path)
		unlink(h->unix_path);
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	httpd_stop(h);
	if (h->pending)
		pq_log(LOG_WARNING, "desk: %d requests still out at exit", h->pending);
	free_readers(h);
	free(h->unix_path);
	free(h);
}
