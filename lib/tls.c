/*
 * tls: connecting, TLS and certificate checks for the mail clients (see tls.h).
 *
 * The TCP connection is made here, not by libetpan, so that connecting is
 * bounded by the timeout, every resolved address is tried and the errno
 * reaches the message. libetpan's TLS layer verifies nothing, so the chain
 * it hands over in DER is checked here with libcrypto; any doubt fails.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libetpan/libetpan.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "alloc.h"
#include "error.h"
#include "stop.h"

/* A stopping process looks at a connect this often (ms). */
#define STOP_TICK_MS 200

/* ---- TCP ---- */

static int addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return 0;
}

static long ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/*
 * Waits for a non-blocking connect() on fd; 0 or an errno value (ECANCELED
 * when stoppable and a stop was requested).
 */
static int connect_wait(int fd, int timeout, int stoppable)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	struct timespec start;
	socklen_t len = sizeof(int);
	int r, err = 0;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (stoppable && pq_stop_requested())
			return ECANCELED;
		left = (long)timeout * 1000 - ms_since(&start);
		if (left <= 0)
			return ETIMEDOUT;
		if (stoppable && left > STOP_TICK_MS)
			left = STOP_TICK_MS;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			break;
		if (r < 0 && errno != EINTR)
			return errno;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

void pq_tls_close_fd(int fd)
{
	pq_stop_unwatch_fd(fd);
	close(fd);
}

/*
 * A name resolution on a thread of its own, so that the caller can give
 * up on it (a stop, the timeout) while the system resolver waits out its
 * own timeouts: whoever finishes last, the resolver or the caller, frees it.
 */
struct lookup {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int refs; /* the thread's and the caller's */
	int done;
	int rc;	 /* getaddrinfo()'s */
	int err; /* errno, for EAI_SYSTEM */
	struct addrinfo *res;
	char *host, *port;
};

static void lookup_put(struct lookup *l)
{
	int last;

	pthread_mutex_lock(&l->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res)
		freeaddrinfo(l->res);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->done_cond);
	free(l->host);
	free(l->port);
	free(l);
}

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(l->host, l->port, &hints, &res);
	pthread_mutex_lock(&l->lock);
	l->rc = rc;
	l->err = errno;
	l->res = rc == 0 ? res : NULL;
	l->done = 1;
	pthread_cond_signal(&l->done_cond);
	pthread_mutex_unlock(&l->lock);
	lookup_put(l);
	return NULL;
}

/*
 * getaddrinfo(host, port) that gives up at a stop request (with
 * stoppable) or after timeout seconds: 0 with *res (freeaddrinfo() it),
 * or a PQ_E* code with the message.
 */
static int resolve(const char *proto, const char *host, const char *port, int timeout,
		   int stoppable, struct addrinfo **res)
{
	struct lookup *l = pq_calloc(1, sizeof(*l));
	sigset_t all, old;
	struct timespec end, now;
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	*res = NULL;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->done_cond, NULL);
	l->refs = 2;
	l->host = pq_strdup(host);
	l->port = pq_strdup(port);
	/* the thread takes no signal: they are the daemon's loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, lookup_run, l);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		l->refs = 1;
		lookup_put(l);
		return pq_error_set(PQ_EIO, "%s %s: cannot resolve host: %s", proto, host,
				    strerror(rc));
	}
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout > 0 ? timeout : 60;
	pthread_mutex_lock(&l->lock);
	while (!l->done && !(stoppable && pq_stop_requested())) {
		struct timespec tick;

		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		tick = now;
		tick.tv_nsec += STOP_TICK_MS * 1000000L;
		if (tick.tv_nsec >= 1000000000L) {
			tick.tv_sec++;
			tick.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->done_cond, &l->lock, &tick);
	}
	if (l->done && l->rc == 0) {
		*res = l->res;
		l->res = NULL;
		rc = 0;
	} else if (l->done) {
		rc = pq_error_set(PQ_EIO, "%s %s: cannot resolve host: %s", proto, host,
				  l->rc == EAI_SYSTEM ? strerror(l->err) : gai_strerror(l->rc));
	} else if (stoppable && pq_stop_requested()) {
		rc = pq_error_set(PQ_EIO, "%s %s: cannot resolve host: stopping", proto, host);
	} else {
		rc = pq_error_set(PQ_EIO,
				  "%s %s: cannot resolve host: no answer within %d s "
				  "(timed out)",
				  proto, host, timeout > 0 ? timeout : 60);
	}
	pthread_mutex_unlock(&l->lock);
	lookup_put(l);
	return rc;
}

int pq_tls_dial(const char *proto, const char *host, const char *port, int timeout, unsigned flags,
		int *loopback)
{
	int stoppable = (flags & PQ_TLS_STOPPABLE) != 0;
	struct addrinfo *res, *ai;
	char addr[INET6_ADDRSTRLEN] = "";
	unsigned long n;
	char *end;
	int fd = -1, r, err = 0, fl;

	*loopback = 0;
	n = strtoul(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end != '\0' || n == 0 || n > 65535)
		return pq_error_set(PQ_EINVAL, "%s %s: bad port \"%s\"", proto, host, port);
	r = resolve(proto, host, port, timeout, stoppable, &res);
	if (r < 0)
		return r;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0,
			    NI_NUMERICHOST);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		err = 0;
		if (stoppable)
			pq_stop_watch_fd(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno;
			if (err == EINPROGRESS)
				err = connect_wait(fd, timeout, stoppable);
		}
		if (err == 0) {
			*loopback = addr_is_loopback(ai->ai_addr);
			break;
		}
		pq_tls_close_fd(fd);
		fd = -1;
		if (err == ECANCELED)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return pq_error_set(PQ_EIO, "%s %s: cannot connect to %s port %s: %s", proto, host,
				    addr, port,
				    err == ETIMEDOUT	  ? "timed out"
				    : err == ECONNREFUSED ? "connection refused"
				    : err == ECANCELED	  ? "stopping"
							  : strerror(err));
	/* libetpan's TLS handshake wants a blocking socket. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		err = errno;
		pq_tls_close_fd(fd);
		return pq_error_set(PQ_EIO, "%s %s: fcntl: %s", proto, host, strerror(err));
	}
	return fd;
}

/* ---- TLS ---- */

static int host_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Called by libetpan before the handshake: asks for the host's certificate (SNI). */
static void tls_on_setup(struct mailstream_ssl_context *ctx, void *arg)
{
	const char *host = arg;

	if (ctx != NULL && !host_is_ip(host))
		mailstream_ssl_set_server_name(ctx, (char *)host);
}

/* ---- the guard: the layer between libetpan and the connection ---- */

struct guard {
	mailstream_low *inner; /* the socket or TLS layer */
	int fd;
	time_t timeout;		  /* seconds, each wait */
	int has_deadline;	  /* the operation at hand ends by deadline */
	struct timespec deadline; /* CLOCK_MONOTONIC */
	int (*filter)(void *arg, const char *data, size_t len);
	void *filter_arg;
	enum pq_tls_fail fail; /* sticky: once failed, the stream is dead */
};

/* Seconds the next wait may last, or 0 when the deadline has passed. */
static time_t guard_wait(struct guard *g)
{
	struct timespec now;
	long long left_ms;

	if (!g->has_deadline)
		return g->timeout;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left_ms = (long long)(g->deadline.tv_sec - now.tv_sec) * 1000 +
		  (g->deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (left_ms <= 0)
		return 0;
	if (left_ms < (long long)g->timeout * 1000)
		return (time_t)((left_ms + 999) / 1000);
	return g->timeout;
}

/* Records why a read or write that waited at most wait seconds from start failed. */
static void guard_failed(struct guard *g, ssize_t r, time_t wait, const struct timespec *start)
{
	if (pq_stop_requested())
		g->fail = PQ_TLS_STOPPED;
	else if (r < 0 && ms_since(start) >= (long)wait * 1000 - 50)
		g->fail = wait < g->timeout ? PQ_TLS_DEADLINE : PQ_TLS_TIMEOUT;
	else
		g->fail = PQ_TLS_CLOSED;
}

/*
 * Before a read or write: -1 when the stream failed already or the
 * operation's deadline passed; else 0, the inner stream's timeout set to
 * the wait allowed (*wait) and *start the time the wait begins.
 */
static int guard_begin(struct guard *g, time_t *wait, struct timespec *start)
{
	if (g->fail)
		return -1;
	*wait = guard_wait(g);
	if (*wait == 0) {
		g->fail = PQ_TLS_DEADLINE;
		return -1;
	}
	mailstream_low_set_timeout(g->inner, *wait);
	clock_gettime(CLOCK_MONOTONIC, start);
	return 0;
}

static ssize_t guard_read(mailstream_low *s, void *buf, size_t count)
{
	struct guard *g = s->data;
	struct timespec start;
	time_t wait;
	ssize_t r;

	if (guard_begin(g, &wait, &start) < 0)
		return -1;
	r = mailstream_low_read(g->inner, buf, count);
	if (r > 0) {
		if (g->filter != NULL && g->filter(g->filter_arg, buf, (size_t)r) < 0) {
			g->fail = PQ_TLS_REFUSED;
			return -1;
		}
		return r;
	}
	/* 0 is end of file: libetpan would read again, for ever */
	guard_failed(g, r, wait, &start);
	return -1;
}

static ssize_t guard_write(mailstream_low *s, const void *buf, size_t count)
{
	struct guard *g = s->data;
	struct timespec start;
	time_t wait;
	ssize_t r;

	if (guard_begin(g, &wait, &start) < 0)
		return -1;
	r = mailstream_low_write(g->inner, buf, count);
	if (r > 0 || count == 0)
		return r;
	guard_failed(g, r, wait, &start);
	return -1;
}

static int guard_close(mailstream_low *s)
{
	struct guard *g = s->data;

	/* before the number can be reused by another file */
	pq_stop_unwatch_fd(g->fd);
	return mailstream_low_close(g->inner);
}

static int guard_get_fd(mailstream_low *s)
{
	return mailstream_low_get_fd(((struct guard *)s->data)->inner);
}

static void guard_free(mailstream_low *s)
{
	struct guard *g = s->data;

	mailstream_low_free(g->inner);
	free(g);
	free(s);
}

static void guard_cancel(mailstream_low *s)
{
	mailstream_low_cancel(((struct guard *)s->data)->inner);
}

static struct mailstream_cancel *guard_get_cancel(mailstream_low *s)
{
	return mailstream_low_get_cancel(((struct guard *)s->data)->inner);
}

static carray *guard_get_certificate_chain(mailstream_low *s)
{
	return mailstream_low_get_certificate_chain(((struct guard *)s->data)->inner);
}

static int guard_setup_idle(mailstream_low *s)
{
	return mailstream_low_setup_idle(((struct guard *)s->data)->inner);
}

static int guard_unsetup_idle(mailstream_low *s)
{
	return mailstream_low_unsetup_idle(((struct guard *)s->data)->inner);
}

static int guard_interrupt_idle(mailstream_low *s)
{
	return mailstream_low_interrupt_idle(((struct guard *)s->data)->inner);
}

static mailstream_low_driver guard_driver = {
	.mailstream_read = guard_read,
	.mailstream_write = guard_write,
	.mailstream_close = guard_close,
	.mailstream_get_fd = guard_get_fd,
	.mailstream_free = guard_free,
	.mailstream_cancel = guard_cancel,
	.mailstream_get_cancel = guard_get_cancel,
	.mailstream_get_certificate_chain = guard_get_certificate_chain,
	.mailstream_setup_idle = guard_setup_idle,
	.mailstream_unsetup_idle = guard_unsetup_idle,
	.mailstream_interrupt_idle = guard_interrupt_idle,
};

/* The guard of a stream from pq_tls_open(). */
static struct guard *guard_of(mailstream *s)
{
	mailstream_low *low = mailstream_get_low(s);

	return low->driver == &guard_driver ? low->data : NULL;
}

void pq_tls_deadline(mailstream *s, int seconds)
{
	struct guard *g = guard_of(s);

	if (g == NULL)
		return;
	g->has_deadline = seconds > 0;
	clock_gettime(CLOCK_MONOTONIC, &g->deadline);
	g->deadline.tv_sec += seconds;
}

void pq_tls_set_filter(mailstream *s, int (*filter)(void *arg, const char *data, size_t len),
		       void *arg)
{
	struct guard *g = guard_of(s);

	if (g == NULL)
		return;
	g->filter = filter;
	g->filter_arg = arg;
}

enum pq_tls_fail pq_tls_failure(mailstream *s)
{
	struct guard *g = guard_of(s);

	return g ? g->fail : PQ_TLS_OK;
}

/* " (timed out)" or " (stopping)" after a handshake that failed, begun at start. */
static const char *handshake_why(const struct timespec *start, int timeout)
{
	if (pq_stop_requested())
		return " (stopping)";
	return ms_since(start) >= (long)timeout * 1000 - 50 ? " (timed out)" : "";
}

int pq_tls_open(mailstream **out, int fd, int tls, const char *proto, const char *host, int timeout)
{
	struct timespec start;
	mailstream_low *low;
	struct guard *g;

	*out = NULL;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (tls)
		*out = mailstream_ssl_open_with_callback_timeout(fd, timeout, tls_on_setup,
								 (void *)host);
	else
		*out = mailstream_socket_open_timeout(fd, timeout);
	if (*out == NULL) {
		pq_tls_close_fd(fd);
		if (tls)
			return pq_error_set(PQ_EIO, "%s %s: TLS handshake failed%s", proto, host,
					    handshake_why(&start, timeout));
		return pq_error_set(PQ_ERROR, "%s %s: out of memory", proto, host);
	}
	g = pq_calloc(1, sizeof(*g));
	g->inner = mailstream_get_low(*out);
	g->fd = fd;
	g->timeout = timeout > 0 ? timeout : 1;
	low = mailstream_low_new(g, &guard_driver);
	if (low == NULL) {
		free(g);
		pq_stop_unwatch_fd(fd);
		mailstream_close(*out);
		*out = NULL;
		return pq_error_set(PQ_ERROR, "%s %s: out of memory", proto, host);
	}
	mailstream_set_low(*out, low);
	return 0;
}

int pq_tls_starttls(mailstream *s, const char *proto, const char *host, int timeout)
{
	struct guard *g = guard_of(s);
	mailstream_low *tls;
	struct timespec start;

	if (g == NULL)
		return pq_error_set(PQ_ERROR, "%s %s: STARTTLS on a stream not from pq_tls_open",
				    proto, host);
	if (s->read_buffer_len != 0)
		return pq_error_set(PQ_EIO, "%s %s: server sent data after its STARTTLS answer",
				    proto, host);
	clock_gettime(CLOCK_MONOTONIC, &start);
	tls = mailstream_low_tls_open_with_callback_timeout(g->fd, timeout, tls_on_setup,
							    (void *)host);
	if (tls == NULL)
		return pq_error_set(PQ_EIO, "%s %s: TLS handshake after STARTTLS failed%s", proto,
				    host, handshake_why(&start, timeout));
	/* Frees the plain layer without closing fd, which tls now owns. */
	mailstream_low_free(g->inner);
	g->inner = tls;
	return 0;
}

static char *subject_of(X509 *x)
{
	char *s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	char *copy = pq_strdup(s ? s : "?");

	OPENSSL_free(s);
	return copy;
}

int pq_tls_verify(mailstream *s, const char *proto, const char *host, const char *ca_file)
{
	carray *chain = mailstream_get_certificate_chain(s);
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL;
	char *subject;
	unsigned i;
	int ret = 0, ok, e;

	if (chain == NULL || carray_count(chain) == 0) {
		ret = pq_error_set(PQ_EPERM, "%s %s: certificate not trusted: server sent none",
				   proto, host);
		goto out;
	}
	untrusted = sk_X509_new_null();
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (untrusted == NULL || store == NULL || ctx == NULL) {
		ret = pq_error_set(PQ_ERROR, "%s %s: out of memory verifying certificate", proto,
				   host);
		goto out;
	}
	for (i = 0; i < carray_count(chain); i++) {
		MMAPString *der = carray_get(chain, i);
		const unsigned char *p = (const unsigned char *)der->str;
		X509 *x = d2i_X509(NULL, &p, (long)der->len);

		if (x == NULL || p != (const unsigned char *)der->str + der->len) {
			X509_free(x);
			ret = pq_error_set(PQ_EPERM,
					   "%s %s: certificate not trusted: certificate %u of the "
					   "chain does not parse",
					   proto, host, i);
			goto out;
		}
		if (i == 0)
			leaf = x;
		else if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			ret = pq_error_set(PQ_ERROR, "%s %s: out of memory", proto, host);
			goto out;
		}
	}
	if (X509_STORE_set_default_paths(store) != 1) {
		ret = pq_error_set(PQ_EIO, "%s %s: cannot load the system CA store", proto, host);
		goto out;
	}
	if (ca_file != NULL && access(ca_file, R_OK) != 0) {
		ret = pq_error_set(PQ_EPERM, "%s %s: cannot load CA file %s: %s", proto, host,
				   ca_file, strerror(errno));
		goto out;
	}
	if (ca_file != NULL && X509_STORE_load_file(store, ca_file) != 1) {
		const char *why = ERR_reason_error_string(ERR_peek_last_error());

		ret = pq_error_set(PQ_EPERM, "%s %s: cannot load CA file %s: %s", proto, host,
				   ca_file, why ? why : "unreadable or not PEM");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "ssl_server") != 1) {
		ret = pq_error_set(PQ_ERROR, "%s %s: cannot set up certificate verification", proto,
				   host);
		goto out;
	}
	ok = X509_verify_cert(ctx);
	if (ok != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		subject = subject_of(leaf);
		ret = pq_error_set(PQ_EPERM, "%s %s: certificate not trusted: %s (subject %s)",
				   proto, host, X509_verify_cert_error_string(e), subject);
		free(subject);
		goto out;
	}
	if (host_is_ip(host))
		ok = X509_check_ip_asc(leaf, host, 0);
	else
		ok = X509_check_host(leaf, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	if (ok != 1) {
		subject = subject_of(leaf);
		ret = pq_error_set(PQ_EPERM,
				   "%s %s: host name mismatch: the server's certificate (subject "
				   "%s) does not name %s",
				   proto, host, subject, host);
		free(subject);
		goto out;
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	ERR_clear_error();
	return ret;
}

/* ---- SIGPIPE ---- */

void pq_tls_sigpipe_block(struct pq_tls_sigpipe *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigemptyset(&pending);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

void pq_tls_sigpipe_restore(struct pq_tls_sigpipe *g)
{
	sigset_t set, pending;
	const struct timespec zero = { 0, 0 };

	if (!g->was_pending) {
		sigemptyset(&pending);
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE) == 1) {
			sigemptyset(&set);
			sigaddset(&set, SIGPIPE);
			while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
				;
		}
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}
