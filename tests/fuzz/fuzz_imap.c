/*
 * fuzz_imap: arbitrary bytes as everything an IMAP server says in one
 * session, through the client ingest runs (imap.h): connect and LOGIN in
 * clear text to a loopback server, EXAMINE INBOX, fetch up to 10 messages,
 * IDLE and DONE when offered, then free. The server is a thread of this
 * process on 127.0.0.1: it writes the input at once, ends its side of the
 * connection (so the client never waits out a timeout on a short answer)
 * and reads what the client sends until it closes. Whatever the server
 * says, nothing may crash, leak or hang, every call returns a code its
 * contract lists, and every message handed out is sane; a violation traps
 * so libFuzzer keeps the input.
 *
 * PQ_FUZZ_IMAP_TRACE=1 in the environment prints what the client sent, to
 * write seeds (tests/fuzz/seeds/imap) that answer it command by command.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "error.h"
#include "imap.h"

/* The size limit of one message: small, so the refused path is in reach. */
#define MAX_MESSAGE 4096

struct server {
	int lfd; /* listening socket */
	const uint8_t *data;
	size_t size;
	int trace;
};

static int listen_fd = -1;
static char port[16];

/* Opens the listening socket once: 127.0.0.1, a port the kernel picks. */
static int listen_once(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd;

	if (listen_fd >= 0)
		return 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)ntohs(a.sin_port));
	listen_fd = fd;
	return 0;
}

/* Waits at most 10 s for fd to be ready for events: 1 when it is. */
static int ready(int fd, short events)
{
	struct pollfd p = { fd, events, 0 };
	int r;

	do
		r = poll(&p, 1, 10000);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* One connection: the input as the server's whole side, then drain. */
static void *serve(void *arg)
{
	struct server *s = arg;
	size_t off = 0;
	ssize_t n;
	char buf[4096];
	int fd;

	if (!ready(s->lfd, POLLIN))
		return NULL;
	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	while (off < s->size && ready(fd, POLLOUT)) {
		n = send(fd, s->data + off, s->size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while (ready(fd, POLLIN)) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (s->trace)
			fwrite(buf, 1, (size_t)n, stderr);
	}
	close(fd);
	return NULL;
}

struct seen {
	uint32_t last_uid;
	size_t n;
};

static int on_message(const char *raw, size_t len, uint32_t uid, const char *refused, void *arg)
{
	struct seen *seen = arg;

	NEED(raw != NULL);
	/* ascending UIDs, each once, above the "after" of 0 */
	NEED(uid > seen->last_uid);
	seen->last_uid = uid;
	seen->n++;
	NEED(seen->n <= 10);
	if (refused != NULL)
		NEED(strstr(refused, "over the limit") != NULL);
	else
		NEED(len <= 2 * (size_t)MAX_MESSAGE);
	/* every byte is readable: ASan checks the whole range */
	if (len > 0)
		NEED(memchr(raw, raw[len - 1], len) != NULL);
	return 0;
}

static void session(void)
{
	struct pq_imap_conf c = {
		.host = "127.0.0.1",
		.port = port,
		.tls = PQ_IMAP_TLS_NONE,
		.user = "user",
		.password = "secret",
		.timeout = 1,
		.max_message = MAX_MESSAGE,
	};
	struct seen seen = { 0, 0 };
	struct pq_imap *im = NULL;
	uint32_t uidvalidity = 0, uidnext = 0;
	int r, pending = -1;

	r = pq_imap_connect(&im, &c);
	if (r < 0) {
		NEED(im == NULL);
		NEED(r == PQ_EIO || r == PQ_EAUTH || r == PQ_ERROR);
		return;
	}
	NEED(im != NULL);
	r = pq_imap_select(im, "INBOX", &uidvalidity, &uidnext);
	NEED(r == 0 || r == PQ_ENOTFOUND || r == PQ_EIO || r == PQ_ERROR);
	if (r == 0) {
		r = pq_imap_fetch_since(im, 0, 10, on_message, &seen);
		NEED(r == 0 || r == PQ_EIO || r == PQ_ERROR);
	}
	if (r == 0 && pq_imap_has_idle(im)) {
		r = pq_imap_idle_start(im, &pending);
		NEED(r >= 0 || r == PQ_EIO || r == PQ_ERROR);
		if (r >= 0) {
			NEED(pending == 0 || pending == 1);
			r = pq_imap_idle_done(im);
			NEED(r == 0 || r == PQ_EIO || r == PQ_ERROR);
		}
	}
	pq_imap_free(im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server s = { -1, data, size, 0 };
	pthread_t t;

	if (listen_once() < 0)
		return 0;
	s.lfd = listen_fd;
	s.trace = getenv("PQ_FUZZ_IMAP_TRACE") != NULL;
	if (pthread_create(&t, NULL, serve, &s) != 0)
		return 0;
	session();
	pthread_join(t, NULL);
	return 0;
}
