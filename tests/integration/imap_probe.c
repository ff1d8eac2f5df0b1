/*
 * imap_probe: drives lib/imap from the command line for test_imap.py.
 *
 *   imap_probe --host H [--port P] [--tls implicit|starttls|none] [--ca FILE]
 *              [--no-verify] --user U --password-file F [--mailbox M]
 *              [--timeout SECONDS] CMD [ARGS]
 *
 * CMD:
 *   connect                 prints "connected idle=yes|no"
 *   list AFTER [MAX [STOP]] prints "uidvalidity N uidnext N", then
 *                           "UID SIZE SHA256" per message above AFTER (at
 *                           most MAX, 0: all), "UID SIZE SHA256 refused:
 *                           REASON" for one over the size limit (SIZE and
 *                           SHA256 then of the header kept); with STOP the callback
 *                           returns 42 after STOP messages, and the probe
 *                           prints "stopped 42"
 *   idle AFTER SECONDS      examines, enters IDLE, prints "idling", waits on
 *                           the fd up to SECONDS and prints "woke",
 *                           "pending" or "timeout"; then DONE and the list
 *                           lines of messages above AFTER
 *   noop                    prints "noop ok"
 *
 * Failures print the library's message on stderr and exit 1.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "imap.h"

struct list_state {
	size_t seen;
	size_t stop; /* 0: never */
};

static void usage(void)
{
	fprintf(stderr, "usage: imap_probe --host H [--port P] [--tls implicit|starttls|none] "
			"[--ca FILE] [--no-verify] --user U --password-file F [--mailbox M] "
			"[--timeout S] connect|list|idle|noop [ARGS]\n");
	exit(2);
}

static void die(const char *what, int code)
{
	fprintf(stderr, "imap_probe: %s: %s (%d)\n", what, pq_error_last(), code);
	exit(1);
}

static char *read_password(const char *path)
{
	struct pq_buf b = PQ_BUF_INIT;
	char chunk[256];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "imap_probe: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&b, chunk, n);
	fclose(f);
	/* A trailing newline from an editor is not part of the password. */
	while (b.len > 0 && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
		pq_buf_truncate(&b, b.len - 1);
	return b.len ? pq_buf_detach(&b) : pq_strdup("");
}

static int print_message(const char *raw, size_t len, uint32_t uid, const char *refused, void *arg)
{
	struct list_state *st = arg;
	unsigned char d[PQ_DIGEST_LEN];
	size_t i;

	pq_digest(d, raw, len);
	printf("%u %zu ", uid, len);
	for (i = 0; i < sizeof(d); i++)
		printf("%02x", d[i]);
	if (refused)
		printf(" refused: %s", refused);
	printf("\n");
	st->seen++;
	if (st->stop != 0 && st->seen >= st->stop)
		return 42;
	return 0;
}

static unsigned long number(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0')
		usage();
	return v;
}

static void list(struct pq_imap *im, uint32_t after, size_t max, size_t stop)
{
	struct list_state st = { 0, stop };
	int r = pq_imap_fetch_since(im, after, max, print_message, &st);

	if (r == 42)
		printf("stopped 42\n");
	else if (r != 0)
		die("fetch", r);
}

static void idle(struct pq_imap *im, uint32_t after, int seconds)
{
	struct pollfd pfd;
	int pending, fd, r;

	fd = pq_imap_idle_start(im, &pending);
	if (fd < 0)
		die("idle", fd);
	printf("idling\n");
	fflush(stdout);
	if (pending) {
		printf("pending\n");
	} else {
		pfd.fd = fd;
		pfd.events = POLLIN;
		do
			r = poll(&pfd, 1, seconds * 1000);
		while (r < 0 && errno == EINTR);
		printf("%s\n", r > 0 ? "woke" : "timeout");
	}
	fflush(stdout);
	r = pq_imap_idle_done(im);
	if (r < 0)
		die("idle done", r);
	list(im, after, 0, 0);
}

int main(int argc, char **argv)
{
	struct pq_imap_conf c = { 0 };
	const char *mailbox = "INBOX", *password_file = NULL, *cmd;
	struct pq_imap *im;
	uint32_t uidvalidity, uidnext;
	char *password;
	int i, r;

	/*
	 * SIGPIPE keeps its default action, which would kill the probe: lib/imap
	 * must keep a peer that reset the connection from doing that.
	 */
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *opt = argv[i];

		if (strcmp(opt, "--no-verify") == 0) {
			c.no_verify = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(opt, "--host") == 0)
			c.host = argv[++i];
		else if (strcmp(opt, "--port") == 0)
			c.port = argv[++i];
		else if (strcmp(opt, "--ca") == 0)
			c.ca_file = argv[++i];
		else if (strcmp(opt, "--user") == 0)
			c.user = argv[++i];
		else if (strcmp(opt, "--password-file") == 0)
			password_file = argv[++i];
		else if (strcmp(opt, "--mailbox") == 0)
			mailbox = argv[++i];
		else if (strcmp(opt, "--timeout") == 0)
			c.timeout = (int)number(argv[++i]);
		else if (strcmp(opt, "--tls") == 0) {
			const char *m = argv[++i];

			if (strcmp(m, "implicit") == 0)
				c.tls = PQ_IMAP_TLS_IMPLICIT;
			else if (strcmp(m, "starttls") == 0)
				c.tls = PQ_IMAP_TLS_STARTTLS;
			else if (strcmp(m, "none") == 0)
				c.tls = PQ_IMAP_TLS_NONE;
			else
				usage();
		} else
			usage();
	}
	if (i >= argc || password_file == NULL)
		usage();
	cmd = argv[i++];
	password = read_password(password_file);
	c.password = password;

	r = pq_imap_connect(&im, &c);
	if (r < 0)
		die("connect", r);
	if (strcmp(cmd, "connect") == 0) {
		printf("connected idle=%s\n", pq_imap_has_idle(im) ? "yes" : "no");
	} else if (strcmp(cmd, "noop") == 0) {
		r = pq_imap_noop(im);
		if (r < 0)
			die("noop", r);
		printf("noop ok\n");
	} else if (strcmp(cmd, "list") == 0 || strcmp(cmd, "idle") == 0) {
		if (i >= argc)
			usage();
		r = pq_imap_select(im, mailbox, &uidvalidity, &uidnext);
		if (r < 0)
			die("select", r);
		printf("uidvalidity %u uidnext %u\n", uidvalidity, uidnext);
		if (strcmp(cmd, "list") == 0)
			list(im, (uint32_t)number(argv[i]), i + 1 < argc ? number(argv[i + 1]) : 0,
			     i + 2 < argc ? number(argv[i + 2]) : 0);
		else if (i + 1 < argc)
			idle(im, (uint32_t)number(argv[i]), (int)number(argv[i + 1]));
		else
			usage();
	} else {
		usage();
	}
	pq_imap_free(im);
	free(password);
	return 0;
}
