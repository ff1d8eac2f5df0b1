/*
 * imap: one IMAP session over libetpan (see imap.h).
 *
 * The TCP connection is made here, not by libetpan, so that connecting is
 * bounded by the timeout, every resolved address is tried and the errno
 * reaches the message. libetpan then runs TLS (GnuTLS on Debian) and the
 * protocol. Its TLS layer verifies nothing, so the chain it hands over in
 * DER is checked with libcrypto before LOGIN; any doubt fails the connect.
 */
#include "imap.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
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

/* Messages per UID FETCH: bounds the bodies held in memory at once. */
#define FETCH_CHUNK 100
#define DEFAULT_TIMEOUT 60

struct pq_imap {
	mailimap *imap;
	char *host;
	time_t timeout;
	struct timespec op_start; /* when the current network operation began */
	int dead;		  /* the stream failed: no command may follow */
	int selected;
	int idling;
	int has_idle;
};

/* ---- SIGPIPE ---- */

/*
 * libetpan and GnuTLS write with send() without MSG_NOSIGNAL, so a peer
 * that went away would kill the process. Block SIGPIPE in this thread for
 * the duration of a call and swallow one we caused, as libpq does.
 */
struct sigpipe_guard {
	sigset_t old;
	int was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigemptyset(&pending);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_restore(struct sigpipe_guard *g)
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

/* ---- errors ---- */

static void op_begin(struct pq_imap *im)
{
	clock_gettime(CLOCK_MONOTONIC, &im->op_start);
}

/* 1 when the operation begun by op_begin() ran into the timeout. */
static int op_timed_out(const struct pq_imap *im)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - im->op_start.tv_sec >= im->timeout;
}

/*
 * Turns libetpan's code r for the step what into a PQ_E* code and message.
 * Failures of the stream or of parsing leave the session dead: its state is
 * unknown, so nothing more may be sent on it.
 */
static int session_error(struct pq_imap *im, int r, const char *what)
{
	const char *text = im->imap->imap_response;

	if (text == NULL || text[0] == '\0')
		text = "no reason given";
	switch (r) {
	case MAILIMAP_ERROR_STREAM:
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
		im->dead = 1;
		if (op_timed_out(im))
			return pq_error_set(PQ_EIO,
					    "IMAP %s: %s: no answer within %ld s (timed out)",
					    im->host, what, (long)im->timeout);
		return pq_error_set(PQ_EIO, "IMAP %s: %s: connection closed by the server",
				    im->host, what);
	case MAILIMAP_ERROR_PARSE:
		im->dead = 1;
		return pq_error_set(PQ_EIO,
				    "IMAP %s: %s: unparsable or cut-off answer from the server",
				    im->host, what);
	case MAILIMAP_ERROR_PROTOCOL: /* BAD, or an answer to another tag: out of step */
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: %s: protocol error: %s", im->host, what,
				    text);
	case MAILIMAP_ERROR_FATAL:
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: %s: server ended the session: %s", im->host,
				    what, text);
	case MAILIMAP_ERROR_MEMORY:
		im->dead = 1;
		return pq_error_set(PQ_ERROR, "IMAP %s: %s: libetpan ran out of memory", im->host,
				    what);
	case MAILIMAP_ERROR_BAD_STATE:
		return pq_error_set(PQ_EINVAL, "IMAP %s: %s: not allowed in this session state",
				    im->host, what);
	default:
		return pq_error_set(PQ_EIO, "IMAP %s: %s refused by the server: %s", im->host, what,
				    text);
	}
}

static int check_usable(const struct pq_imap *im, const char *what)
{
	if (im->dead)
		return pq_error_set(PQ_EIO, "IMAP %s: %s: the connection is closed; reconnect",
				    im->host, what);
	if (im->idling)
		return pq_error_set(PQ_EINVAL, "IMAP %s: %s: session is idling; call idle_done",
				    im->host, what);
	return 0;
}

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

/* Waits for a non-blocking connect() on fd; 0 or an errno value. */
static int connect_wait(int fd, int timeout)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	struct timespec start, now;
	socklen_t len = sizeof(int);
	int r, err = 0;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long)timeout * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
					       (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0)
			return ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			break;
		if (r == 0)
			return ETIMEDOUT;
		if (errno != EINTR)
			return errno;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/*
 * Connects to host:port, trying each address in turn; returns the blocking
 * socket (libetpan's TLS handshake wants one) and whether its peer is a
 * loopback address, or a negative PQ_E* code naming the last failure.
 */
static int tcp_connect(const char *host, const char *port, int timeout, int *loopback)
{
	struct addrinfo hints, *res, *ai;
	char addr[INET6_ADDRSTRLEN] = "";
	int fd = -1, r, err = 0, flags;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return pq_error_set(PQ_EIO, "IMAP %s: cannot resolve host: %s", host,
				    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
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
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno;
			if (err == EINPROGRESS)
				err = connect_wait(fd, timeout);
		}
		if (err == 0) {
			*loopback = addr_is_loopback(ai->ai_addr);
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return pq_error_set(PQ_EIO, "IMAP %s: cannot connect to %s port %s: %s", host, addr,
				    port,
				    err == ETIMEDOUT	  ? "timed out"
				    : err == ECONNREFUSED ? "connection refused"
							  : strerror(err));
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		err = errno;
		close(fd);
		return pq_error_set(PQ_EIO, "IMAP %s: fcntl: %s", host, strerror(err));
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
	struct pq_imap *im = arg;

	if (ctx != NULL && !host_is_ip(im->host))
		mailstream_ssl_set_server_name(ctx, im->host);
}

static char *subject_of(X509 *x)
{
	char *s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	char *copy = pq_strdup(s ? s : "?");

	OPENSSL_free(s);
	return copy;
}

/*
 * Checks the certificate chain the server presented (leaf first, as DER)
 * against the system store plus ca_file, for TLS server use, and the
 * leaf's names against the host we dialled. Fails closed: no chain, an
 * unparsable certificate or a store that cannot be loaded is a failure.
 */
static int tls_verify(struct pq_imap *im, const char *ca_file)
{
	carray *chain = mailstream_get_certificate_chain(im->imap->imap_stream);
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL;
	char *subject;
	unsigned i;
	int ret = 0, ok, e;

	if (chain == NULL || carray_count(chain) == 0) {
		ret = pq_error_set(PQ_EIO, "IMAP %s: certificate not trusted: server sent none",
				   im->host);
		goto out;
	}
	untrusted = sk_X509_new_null();
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (untrusted == NULL || store == NULL || ctx == NULL) {
		ret = pq_error_set(PQ_ERROR, "IMAP %s: out of memory verifying certificate",
				   im->host);
		goto out;
	}
	for (i = 0; i < carray_count(chain); i++) {
		MMAPString *der = carray_get(chain, i);
		const unsigned char *p = (const unsigned char *)der->str;
		X509 *x = d2i_X509(NULL, &p, (long)der->len);

		if (x == NULL || p != (const unsigned char *)der->str + der->len) {
			X509_free(x);
			ret = pq_error_set(
				PQ_EIO,
				"IMAP %s: certificate not trusted: certificate %u of the "
				"chain does not parse",
				im->host, i);
			goto out;
		}
		if (i == 0)
			leaf = x;
		else if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			ret = pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
			goto out;
		}
	}
	if (X509_STORE_set_default_paths(store) != 1) {
		ret = pq_error_set(PQ_EIO, "IMAP %s: cannot load the system CA store", im->host);
		goto out;
	}
	if (ca_file != NULL && X509_STORE_load_file(store, ca_file) != 1) {
		const char *why = ERR_reason_error_string(ERR_peek_last_error());

		ret = pq_error_set(PQ_EIO, "IMAP %s: cannot load CA file %s: %s", im->host, ca_file,
				   why ? why : "unreadable or not PEM");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "ssl_server") != 1) {
		ret = pq_error_set(PQ_ERROR, "IMAP %s: cannot set up certificate verification",
				   im->host);
		goto out;
	}
	ok = X509_verify_cert(ctx);
	if (ok != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		subject = subject_of(leaf);
		ret = pq_error_set(PQ_EIO, "IMAP %s: certificate not trusted: %s (subject %s)",
				   im->host, X509_verify_cert_error_string(e), subject);
		free(subject);
		goto out;
	}
	if (host_is_ip(im->host))
		ok = X509_check_ip_asc(leaf, im->host, 0);
	else
		ok = X509_check_host(leaf, im->host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	if (ok != 1) {
		subject = subject_of(leaf);
		ret = pq_error_set(PQ_EIO,
				   "IMAP %s: host name mismatch: the server's certificate (subject "
				   "%s) does not name %s",
				   im->host, subject, im->host);
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

/* Runs STARTTLS and swaps the session's plain stream for a TLS one. */
static int starttls(struct pq_imap *im)
{
	mailstream_low *plain, *tls;
	int r, fd;

	op_begin(im);
	r = mailimap_starttls(im->imap);
	/*
	 * Anything the server sent after its OK arrived in clear text and would
	 * be read as if it came over TLS (CVE-2020-15953): refuse it. Debian's
	 * libetpan fails the command itself then; older ones do not.
	 */
	if (im->imap->imap_stream != NULL && im->imap->imap_stream->read_buffer_len != 0) {
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: server sent data after its STARTTLS answer",
				    im->host);
	}
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "STARTTLS");
	plain = mailstream_get_low(im->imap->imap_stream);
	fd = mailstream_low_get_fd(plain);
	tls = mailstream_low_tls_open_with_callback_timeout(fd, im->timeout, tls_on_setup, im);
	if (tls == NULL) {
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: TLS handshake after STARTTLS failed%s",
				    im->host, op_timed_out(im) ? " (timed out)" : "");
	}
	/* Frees the plain layer without closing fd, which tls now owns. */
	mailstream_low_free(plain);
	mailstream_set_low(im->imap->imap_stream, tls);
	return 0;
}

/* ---- session ---- */

static int has_capability(struct pq_imap *im, const char *name)
{
	return mailimap_has_extension(im->imap, (char *)name) != 0;
}

static int login(struct pq_imap *im, const struct pq_imap_conf *c)
{
	struct mailimap_capability_data *caps = NULL;
	int r;

	op_begin(im);
	r = mailimap_login(im->imap, c->user, c->password);
	if (r == MAILIMAP_ERROR_LOGIN) {
		const char *text = im->imap->imap_response;

		return pq_error_set(PQ_EAUTH, "IMAP %s: login as %s rejected: %s", im->host,
				    c->user, text && text[0] ? text : "no reason given");
	}
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "LOGIN");
	/* Capabilities change with login; ask rather than trust the old list. */
	op_begin(im);
	r = mailimap_capability(im->imap, &caps);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "CAPABILITY");
	mailimap_capability_data_free(caps);
	im->has_idle = has_capability(im, "IDLE");
	return 0;
}

static int session_open(struct pq_imap *im, const struct pq_imap_conf *c)
{
	const char *port = c->port;
	mailstream *stream;
	char *end;
	unsigned long n;
	int fd, loopback = 0, preauth, r;

	if (port == NULL)
		port = c->tls == PQ_IMAP_TLS_IMPLICIT ? "993" : "143";
	n = strtoul(port, &end, 10);
	if (port[0] == '\0' || *end != '\0' || n == 0 || n > 65535)
		return pq_error_set(PQ_EINVAL, "IMAP %s: bad port \"%s\"", im->host, port);
	if (c->tls != PQ_IMAP_TLS_IMPLICIT && c->tls != PQ_IMAP_TLS_STARTTLS &&
	    c->tls != PQ_IMAP_TLS_NONE)
		return pq_error_set(PQ_EINVAL, "IMAP %s: unknown TLS mode %d", im->host, c->tls);

	fd = tcp_connect(im->host, port, (int)im->timeout, &loopback);
	if (fd < 0)
		return fd;
	if (c->tls == PQ_IMAP_TLS_NONE && !loopback) {
		close(fd);
		return pq_error_set(PQ_EINVAL,
				    "IMAP %s: refusing to send the password in clear text to a "
				    "non-loopback address; use implicit TLS or STARTTLS",
				    im->host);
	}

	op_begin(im);
	if (c->tls == PQ_IMAP_TLS_IMPLICIT)
		stream = mailstream_ssl_open_with_callback_timeout(fd, im->timeout, tls_on_setup,
								   im);
	else
		stream = mailstream_socket_open_timeout(fd, im->timeout);
	if (stream == NULL) {
		close(fd);
		if (c->tls == PQ_IMAP_TLS_IMPLICIT)
			return pq_error_set(PQ_EIO, "IMAP %s: TLS handshake failed%s", im->host,
					    op_timed_out(im) ? " (timed out)" : "");
		return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
	}
	/* From here the session owns the stream and closes it. */
	r = mailimap_connect(im->imap, stream);
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
		return session_error(im, r, "greeting");
	preauth = r == MAILIMAP_NO_ERROR_AUTHENTICATED;
	if (c->tls == PQ_IMAP_TLS_STARTTLS) {
		if (preauth) {
			im->dead = 1;
			return pq_error_set(
				PQ_EIO,
				"IMAP %s: server pre-authenticated the session, so "
				"STARTTLS is impossible; refusing to go on in clear text",
				im->host);
		}
		r = starttls(im);
		if (r < 0)
			return r;
	}
	if (c->tls != PQ_IMAP_TLS_NONE && !c->no_verify) {
		r = tls_verify(im, c->ca_file);
		if (r < 0) {
			im->dead = 1; /* never say a word more to an unverified server */
			return r;
		}
	}
	if (preauth) {
		im->has_idle = has_capability(im, "IDLE");
		return 0;
	}
	return login(im, c);
}

int pq_imap_connect(struct pq_imap **out, const struct pq_imap_conf *c)
{
	struct sigpipe_guard guard;
	struct pq_imap *im;
	int r;

	*out = NULL;
	if (c->host == NULL || c->host[0] == '\0')
		return pq_error_set(PQ_EINVAL, "IMAP: no host");
	if (c->user == NULL || c->password == NULL)
		return pq_error_set(PQ_EINVAL, "IMAP %s: no user or password", c->host);
	im = pq_calloc(1, sizeof(*im));
	im->host = pq_strdup(c->host);
	im->timeout = c->timeout > 0 ? c->timeout : DEFAULT_TIMEOUT;
	im->imap = mailimap_new(0, NULL);
	if (im->imap == NULL) {
		free(im->host);
		free(im);
		return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", c->host);
	}
	mailimap_set_timeout(im->imap, im->timeout);

	sigpipe_block(&guard);
	r = session_open(im, c);
	sigpipe_restore(&guard);
	if (r < 0) {
		im->dead = 1;
		pq_imap_free(im);
		return r;
	}
	*out = im;
	return 0;
}

int pq_imap_has_idle(const struct pq_imap *im)
{
	return im->has_idle;
}

int pq_imap_select(struct pq_imap *im, const char *mailbox, uint32_t *uidvalidity,
		   uint32_t *uidnext)
{
	struct mailimap_selection_info *sel;
	struct sigpipe_guard guard;
	int r;

	r = check_usable(im, "EXAMINE");
	if (r < 0)
		return r;
	im->selected = 0;
	sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_examine(im->imap, mailbox);
	sigpipe_restore(&guard);
	if (r == MAILIMAP_ERROR_EXAMINE) {
		const char *text = im->imap->imap_response;

		return pq_error_set(PQ_ENOTFOUND, "IMAP %s: cannot examine mailbox %s: %s",
				    im->host, mailbox, text && text[0] ? text : "no reason given");
	}
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "EXAMINE");
	sel = im->imap->imap_selection_info;
	if (uidvalidity != NULL)
		*uidvalidity = sel ? sel->sel_uidvalidity : 0;
	if (uidnext != NULL)
		*uidnext = sel ? sel->sel_uidnext : 0;
	im->selected = 1;
	return 0;
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends to *uids the UIDs in [lo, hi] (hi 0: "*") that UID SEARCH finds. */
static int search_range(struct pq_imap *im, uint32_t lo, uint32_t hi, uint32_t **uids, size_t *n,
			size_t *cap)
{
	struct mailimap_search_key *key;
	struct mailimap_set *set;
	clist *result = NULL;
	clistiter *it;
	int r;

	set = mailimap_set_new_interval(lo, hi); /* 0 is "*" */
	key = set ? mailimap_search_key_new_uid(set) : NULL;
	if (key == NULL) {
		if (set != NULL)
			mailimap_set_free(set);
		return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
	}
	op_begin(im);
	r = mailimap_uid_search(im->imap, NULL, key, &result);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "UID SEARCH");
	if (result == NULL) /* no "* SEARCH" line at all: nothing found */
		return 0;
	for (it = clist_begin(result); it != NULL; it = clist_next(it)) {
		uint32_t *uid = clist_content(it);

		/* "n:*" names the last message even when its UID is below n. */
		if (uid == NULL || *uid < lo || (hi != 0 && *uid > hi))
			continue;
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 256;
			*uids = pq_reallocarray(*uids, *cap, sizeof(**uids));
		}
		(*uids)[(*n)++] = *uid;
	}
	mailimap_search_result_free(result);
	return 0;
}

/*
 * The UIDs above after, ascending and distinct, in *out (free() it): at
 * least max of them when there are (0: all). With a bound, the search
 * walks UID windows that start at 4 * max and double while they come back
 * short, so a caller that takes 200 at a time from a backlog of a million
 * does not make the server list the million each time. The window that
 * reaches the UIDNEXT seen at EXAMINE ends in "*", for what came since.
 */
static int search_since(struct pq_imap *im, uint32_t after, size_t max, uint32_t **out,
			size_t *count)
{
	const struct mailimap_selection_info *sel = im->imap->imap_selection_info;
	uint64_t lo = (uint64_t)after + 1, window, top;
	uint32_t *uids = NULL, hi;
	size_t n = 0, cap = 0, i, j;
	int r;

	top = sel ? sel->sel_uidnext : 0;
	window = max ? 4 * (uint64_t)max : 0;
	if (window != 0 && window < 256)
		window = 256;
	for (;;) {
		hi = window == 0 || top == 0 || lo + window >= top ? 0
								   : (uint32_t)(lo + window - 1);
		r = search_range(im, (uint32_t)lo, hi, &uids, &n, &cap);
		if (r < 0) {
			free(uids);
			return r;
		}
		if (hi == 0 || n >= max)
			break;
		lo = (uint64_t)hi + 1;
		window *= 2;
	}
	if (n > 1)
		qsort(uids, n, sizeof(*uids), uid_cmp);
	for (i = j = 0; i < n; i++)
		if (j == 0 || uids[j - 1] != uids[i])
			uids[j++] = uids[i];
	*out = uids;
	*count = j;
	return 0;
}

struct fetched {
	uint32_t uid;
	const char *raw;
	size_t len;
};

static int fetched_cmp(const void *a, const void *b)
{
	return uid_cmp(&((const struct fetched *)a)->uid, &((const struct fetched *)b)->uid);
}

/* Finds the UID and the BODY[] of one FETCH response; 0 when either is missing. */
static int fetched_parse(struct mailimap_msg_att *att, struct fetched *f)
{
	clistiter *it;
	int have_uid = 0, have_body = 0;

	for (it = clist_begin(att->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		if (st == NULL)
			continue;
		if (st->att_type == MAILIMAP_MSG_ATT_UID) {
			f->uid = st->att_data.att_uid;
			have_uid = 1;
		} else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION &&
			   st->att_data.att_body_section != NULL) {
			struct mailimap_msg_att_body_section *sec = st->att_data.att_body_section;

			/* NIL is an empty message, not a lost one. */
			f->raw = sec->sec_body_part ? sec->sec_body_part : "";
			f->len = sec->sec_body_part ? sec->sec_length : 0;
			have_body = 1;
		}
	}
	return have_uid && have_body;
}

typedef int (*fetch_fn)(const char *raw, size_t len, uint32_t uid, void *arg);

/* UID FETCHes BODY.PEEK[] of uids[0..n) (ascending) and hands them out in order. */
static int fetch_chunk(struct pq_imap *im, const uint32_t *uids, size_t n, fetch_fn fn, void *arg,
		       struct sigpipe_guard *guard)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_fetch_att *att;
	struct mailimap_section *section;
	struct mailimap_set *set;
	struct fetched *got;
	clist *result = NULL;
	clistiter *it;
	size_t i, start, ngot = 0;
	int r, ret = 0;

	set = mailimap_set_new_empty();
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	if (set == NULL || ft == NULL)
		goto nomem;
	for (start = 0, i = 1; i <= n; i++) {
		if (i < n && uids[i] == uids[i - 1] + 1)
			continue;
		if (mailimap_set_add_interval(set, uids[start], uids[i - 1]) != MAILIMAP_NO_ERROR)
			goto nomem;
		start = i;
	}
	att = mailimap_fetch_att_new_uid();
	if (att == NULL)
		goto nomem;
	if (mailimap_fetch_type_new_fetch_att_list_add(ft, att) != 0) {
		mailimap_fetch_att_free(att);
		goto nomem;
	}
	section = mailimap_section_new(NULL);
	att = section ? mailimap_fetch_att_new_body_peek_section(section) : NULL;
	if (att == NULL || mailimap_fetch_type_new_fetch_att_list_add(ft, att) != 0) {
		if (att != NULL)
			mailimap_fetch_att_free(att);
		else if (section != NULL)
			mailimap_section_free(section);
		goto nomem;
	}

	op_begin(im);
	r = mailimap_uid_fetch(im->imap, set, ft, &result);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "UID FETCH");

	got = pq_reallocarray(NULL, (result ? clist_count(result) : 0) + 1, sizeof(*got));
	for (it = result ? clist_begin(result) : NULL; it != NULL; it = clist_next(it)) {
		struct fetched f = { 0, NULL, 0 };

		/* Unsolicited FETCH responses (flag changes) carry no body: skip them. */
		if (fetched_parse(clist_content(it), &f) &&
		    bsearch(&f.uid, uids, n, sizeof(*uids), uid_cmp) != NULL)
			got[ngot++] = f;
	}
	if (ngot > 1)
		qsort(got, ngot, sizeof(*got), fetched_cmp);
	for (i = 0; i < ngot && ret == 0; i++) {
		if (i > 0 && got[i].uid == got[i - 1].uid)
			continue;
		/* The callback runs with the caller's own signal mask. */
		sigpipe_restore(guard);
		ret = fn(got[i].raw, got[i].len, got[i].uid, arg);
		sigpipe_block(guard);
	}
	free(got);
	if (result != NULL)
		mailimap_fetch_list_free(result);
	return ret;

nomem:
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
}

int pq_imap_fetch_since(struct pq_imap *im, uint32_t after, size_t max, fetch_fn fn, void *arg)
{
	struct sigpipe_guard guard;
	uint32_t *uids = NULL;
	size_t n = 0, i;
	int r;

	r = check_usable(im, "UID FETCH");
	if (r < 0)
		return r;
	if (!im->selected)
		return pq_error_set(PQ_EINVAL, "IMAP %s: no mailbox selected", im->host);
	if (after == UINT32_MAX)
		return 0;
	sigpipe_block(&guard);
	r = search_since(im, after, max, &uids, &n);
	if (r == 0 && max != 0 && n > max)
		n = max;
	for (i = 0; r == 0 && i < n; i += FETCH_CHUNK)
		r = fetch_chunk(im, uids + i, n - i < FETCH_CHUNK ? n - i : FETCH_CHUNK, fn, arg,
				&guard);
	sigpipe_restore(&guard);
	free(uids);
	return r;
}

int pq_imap_idle_start(struct pq_imap *im, int *pending)
{
	struct sigpipe_guard guard;
	int r;

	*pending = 0;
	r = check_usable(im, "IDLE");
	if (r < 0)
		return r;
	if (!im->selected)
		return pq_error_set(PQ_EINVAL, "IMAP %s: IDLE: no mailbox selected", im->host);
	if (!im->has_idle)
		return pq_error_set(PQ_EINVAL, "IMAP %s: server does not support IDLE", im->host);
	sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_idle(im->imap);
	sigpipe_restore(&guard);
	if (r != MAILIMAP_NO_ERROR) {
		/* libetpan says PARSE when a tagged answer came instead of "+". */
		if (r == MAILIMAP_ERROR_PARSE && !im->dead && im->imap->imap_response != NULL)
			return pq_error_set(PQ_EIO, "IMAP %s: IDLE refused by the server: %s",
					    im->host, im->imap->imap_response);
		return session_error(im, r, "IDLE");
	}
	im->idling = 1;
	/* What arrived with the "+ idling" line sits in libetpan's buffer. */
	*pending = im->imap->imap_stream->read_buffer_len > 0;
	return mailimap_idle_get_fd(im->imap);
}

int pq_imap_idle_done(struct pq_imap *im)
{
	struct sigpipe_guard guard;
	int r;

	if (im->dead)
		return pq_error_set(PQ_EIO, "IMAP %s: DONE: the connection is closed; reconnect",
				    im->host);
	if (!im->idling)
		return pq_error_set(PQ_EINVAL, "IMAP %s: DONE: not idling", im->host);
	im->idling = 0;
	sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_idle_done(im->imap);
	sigpipe_restore(&guard);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "IDLE DONE");
	return 0;
}

int pq_imap_noop(struct pq_imap *im)
{
	struct sigpipe_guard guard;
	int r;

	r = check_usable(im, "NOOP");
	if (r < 0)
		return r;
	sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_noop(im->imap);
	sigpipe_restore(&guard);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "NOOP");
	return 0;
}

void pq_imap_free(struct pq_imap *im)
{
	struct sigpipe_guard guard;

	if (im == NULL)
		return;
	sigpipe_block(&guard);
	if (!im->dead && im->idling) {
		op_begin(im);
		if (mailimap_idle_done(im->imap) != MAILIMAP_NO_ERROR)
			im->dead = 1;
	}
	if (im->imap->imap_stream != NULL) {
		if (im->dead) {
			/* mailimap_free() would LOGOUT and wait: just close. */
			mailstream_close(im->imap->imap_stream);
			im->imap->imap_stream = NULL;
		} else {
			op_begin(im);
			mailimap_logout(im->imap); /* closes the stream */
		}
	}
	mailimap_free(im->imap);
	sigpipe_restore(&guard);
	free(im->host);
	free(im);
}
