/*
 * smtp_probe: drives lib/smtp from the command line for test_smtp.py.
 *
 *   smtp_probe --host H [--port P] [--tls starttls|implicit|none] [--ca FILE]
 *              [--no-verify] [--user U --password-file F] [--helo NAME]
 *              [--timeout SECONDS] --from ADDR MESSAGE-FILE RCPT...
 *   smtp_probe --sendmail PROGRAM [--stop-after MS] --from ADDR MESSAGE-FILE RCPT...
 *
 * Sends the file's bytes as they are (pq_smtp_send() or pq_sendmail()) and
 * prints "result NAME" (OK, ETEMP, EPERM, EINVAL, ...), then on failure
 * "error MESSAGE", then "refused INDEX ETEMP|EPERM REPLY" per recipient the
 * server refused. Exits 0 on OK, 1 on a failure, 2 on a usage error.
 * --stop-after calls pq_stop_request() MS milliseconds after the start, as
 * patchqd does on SIGTERM.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "smtp.h"
#include "stop.h"

static void usage(void)
{
	fprintf(stderr, "usage: smtp_probe --host H [--port P] [--tls starttls|implicit|none] "
			"[--ca FILE] [--no-verify] [--user U --password-file F] [--helo NAME] "
			"[--timeout S] --from ADDR MESSAGE-FILE RCPT...\n"
			"       smtp_probe --sendmail PROGRAM [--stop-after MS] --from ADDR "
			"MESSAGE-FILE RCPT...\n");
	exit(2);
}

static char *read_file(const char *path, size_t *len)
{
	struct pq_buf b = PQ_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		fprintf(stderr, "smtp_probe: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return b.len ? pq_buf_detach(&b) : pq_strdup("");
}

static const char *code_name(int r)
{
	switch (r) {
	case 0:
		return "OK";
	case PQ_ETEMP:
		return "ETEMP";
	case PQ_EPERM:
		return "EPERM";
	case PQ_EINVAL:
		return "EINVAL";
	case PQ_EIO:
		return "EIO";
	case PQ_EAUTH:
		return "EAUTH";
	case PQ_ERROR:
		return "ERROR";
	default:
		return "OTHER";
	}
}

/* pq_stop_request() takes a lock: called from a thread, not a signal handler. */
static void *stop_later(void *arg)
{
	long ms = *(long *)arg;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	pq_stop_request();
	return NULL;
}

/* Asks to stop ms milliseconds from now. */
static void stop_after(long ms)
{
	static long delay;
	pthread_t t;

	delay = ms;
	if (pthread_create(&t, NULL, stop_later, &delay) == 0)
		pthread_detach(t);
}

int main(int argc, char **argv)
{
	struct pq_smtp_server srv;
	const struct pq_smtp_refusal *refused;
	const char *from = NULL, *program = NULL, *password_file = NULL;
	char *msg, *password = NULL;
	size_t len, nrefused, i;
	int a, r;

	memset(&srv, 0, sizeof(srv));
	for (a = 1; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		const char *opt = argv[a];

		if (strcmp(opt, "--no-verify") == 0) {
			srv.no_verify = 1;
			continue;
		}
		if (a + 1 >= argc)
			usage();
		if (strcmp(opt, "--host") == 0)
			srv.host = argv[++a];
		else if (strcmp(opt, "--port") == 0)
			srv.port = argv[++a];
		else if (strcmp(opt, "--tls") == 0) {
			const char *t = argv[++a];

			if (strcmp(t, "starttls") == 0)
				srv.tls = PQ_SMTP_TLS_STARTTLS;
			else if (strcmp(t, "implicit") == 0)
				srv.tls = PQ_SMTP_TLS_IMPLICIT;
			else if (strcmp(t, "none") == 0)
				srv.tls = PQ_SMTP_TLS_NONE;
			else
				usage();
		} else if (strcmp(opt, "--ca") == 0)
			srv.ca_file = argv[++a];
		else if (strcmp(opt, "--user") == 0)
			srv.user = argv[++a];
		else if (strcmp(opt, "--password-file") == 0)
			password_file = argv[++a];
		else if (strcmp(opt, "--helo") == 0)
			srv.helo = argv[++a];
		else if (strcmp(opt, "--timeout") == 0)
			srv.timeout = atoi(argv[++a]);
		else if (strcmp(opt, "--from") == 0)
			from = argv[++a];
		else if (strcmp(opt, "--sendmail") == 0)
			program = argv[++a];
		else if (strcmp(opt, "--stop-after") == 0)
			stop_after(atol(argv[++a]));
		else
			usage();
	}
	if (from == NULL || argc - a < 2 || (program == NULL && srv.host == NULL))
		usage();
	if (password_file != NULL) {
		size_t plen;

		password = read_file(password_file, &plen);
		/* A trailing newline from an editor is not part of the password. */
		while (plen > 0 && (password[plen - 1] == '\n' || password[plen - 1] == '\r'))
			password[--plen] = '\0';
		srv.password = password;
	}
	msg = read_file(argv[a], &len);

	if (program != NULL)
		r = pq_sendmail(program, from, (const char *const *)argv + a + 1,
				(size_t)(argc - a - 1), msg, len);
	else
		r = pq_smtp_send(&srv, from, (const char *const *)argv + a + 1,
				 (size_t)(argc - a - 1), msg, len);
	printf("result %s\n", code_name(r));
	if (r != 0)
		printf("error %s\n", pq_error_last());
	refused = pq_smtp_refused(&nrefused);
	for (i = 0; i < nrefused; i++)
		printf("refused %zu %s %s\n", refused[i].index, code_name(refused[i].code),
		       refused[i].reply);
	free(msg);
	free(password);
	return r == 0 ? 0 : 1;
}
