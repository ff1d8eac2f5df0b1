/*
 * smtp: the SMTP client and the sendmail runner under the outbox (see smtp.h).
 *
 * The connection, TLS and certificate check come from tls.c and travel in
 * a libetpan mailstream; the SMTP dialogue itself is written here. Debian's
 * libetpan 1.9.4 has an SMTP client (mailsmtp), but it cannot do what the
 * outbox needs: its EHLO name is always gethostname(); its AUTH goes only
 * through Cyrus SASL plugins (libsasl2-modules, not pulled in by
 * libetpan); its mailstream_send_data() puts CRLF before the final dot even
 * when the message ends with a line end, adding a blank line to every
 * message; and it formats commands into 513-byte buffers it truncates
 * silently. One command, one reply at a time (no PIPELINING).
 */
#include "smtp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sys/types.h>

#include <libetpan/libetpan.h>
#include <openssl/evp.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "run.h"
#include "stop.h"
#include "tls.h"

#define DEFAULT_TIMEOUT 60
#define MAX_ADDRESS 256	    /* RFC 5321 4.5.3.1.3: a path is at most 256 octets */
#define MAX_REPLY_LINE 4096 /* RFC 5321 says 512; be lenient, but bounded */
#define MAX_REPLY_LINES 100
#define SEND_CHUNK 65536
#define SENDMAIL_TIMEOUT 300
#define SENDMAIL_OUTPUT 512

/* What the server offered in its EHLO answer. */
enum {
	CAP_STARTTLS = 1 << 0,
	CAP_8BITMIME = 1 << 1,
	CAP_SMTPUTF8 = 1 << 2,
	CAP_SIZE = 1 << 3,
	CAP_AUTH_PLAIN = 1 << 4,
	CAP_AUTH_LOGIN = 1 << 5,
};

struct session {
	const struct pq_smtp_server *srv;
	const char *host;
	mailstream *s;
	int timeout;
	struct timespec op_start; /* when the current wait began */
	int loopback;		  /* the peer is a loopback address */
	int tls;		  /* the stream is encrypted (and checked, unless no_verify) */
	int broken;		  /* the stream failed or the server hung up: no QUIT */
	int code;		  /* of the last reply */
	struct pq_buf reply;	  /* the last reply, its lines separated by '\n' */
	struct pq_buf line;
	unsigned caps;
	unsigned long size_max;	  /* SIZE the server announced; 0: none said */
	struct pq_buf auth_offer; /* the AUTH mechanisms it offered, for messages */
};

/*
 * Whether the last failure of pq_smtp_send() in this thread was about the
 * message itself (a recipient or its content refused), not about the set-up,
 * the session or the sender, which are the configuration's or the server's.
 */
static _Thread_local int failed_on_message;

int pq_smtp_failure_is_message(void)
{
	return failed_on_message;
}

/* ---- refused recipients, per thread ---- */

struct refusals {
	struct pq_smtp_refusal *v;
	size_t n, cap;
};

static pthread_key_t refusals_key;
static int refusals_key_ok;
static pthread_once_t refusals_once = PTHREAD_ONCE_INIT;

static void refusals_clear(struct refusals *rf)
{
	size_t i;

	for (i = 0; i < rf->n; i++)
		free((char *)rf->v[i].reply);
	rf->n = 0;
}

static void refusals_destroy(void *p)
{
	struct refusals *rf = p;

	refusals_clear(rf);
	free(rf->v);
	free(rf);
}

/* The destructor frees a thread's list when the thread ends. */
static void refusals_key_make(void)
{
	refusals_key_ok = pthread_key_create(&refusals_key, refusals_destroy) == 0;
}

static struct refusals *refusals_get(void)
{
	struct refusals *rf;

	pthread_once(&refusals_once, refusals_key_make);
	if (!refusals_key_ok)
		return NULL; /* out of keys: refusals go unreported, mail still goes */
	rf = pthread_getspecific(refusals_key);
	if (rf == NULL) {
		rf = pq_calloc(1, sizeof(*rf));
		if (pthread_setspecific(refusals_key, rf) != 0) {
			free(rf);
			return NULL;
		}
	}
	return rf;
}

static void refusals_add(size_t index, int code, const char *reply)
{
	struct refusals *rf = refusals_get();

	if (rf == NULL)
		return;
	if (rf->n == rf->cap) {
		rf->cap = rf->cap ? 2 * rf->cap : 8;
		rf->v = pq_reallocarray(rf->v, rf->cap, sizeof(*rf->v));
	}
	rf->v[rf->n].index = index;
	rf->v[rf->n].code = code;
	rf->v[rf->n].reply = pq_strdup(reply);
	rf->n++;
}

const struct pq_smtp_refusal *pq_smtp_refused(size_t *count)
{
	struct refusals *rf = refusals_get();

	*count = rf ? rf->n : 0;
	return rf && rf->n ? rf->v : NULL;
}

/* ---- checking what we are asked to send ---- */

static int has_8bit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * An address goes between angle brackets on a command line, or into a
 * program's argv: nothing that could end the line, the brackets or the
 * argument. The mailbox syntax itself is the server's business.
 */
static int check_address(const char *proto, const char *what, const char *a)
{
	size_t i, len;

	if (a == NULL)
		return pq_error_set(PQ_EINVAL, "%s: no %s address", proto, what);
	len = strlen(a);
	if (len > MAX_ADDRESS)
		return pq_error_set(PQ_EINVAL, "%s: %s address of %zu bytes is over %d", proto,
				    what, len, MAX_ADDRESS);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>') {
			/* Shown with '?' for what must not reach a log line. */
			char *shown = pq_strdup(a);
			int r;

			for (i = 0; i < len; i++)
				if ((unsigned char)shown[i] < ' ' || shown[i] == 0x7f)
					shown[i] = '?';
			r = pq_error_set(PQ_EINVAL,
					 "%s: %s address \"%s\" holds a space, a control character "
					 "or an angle bracket",
					 proto, what, shown);
			free(shown);
			return r;
		}
	}
	if (a[0] == '-')
		return pq_error_set(PQ_EINVAL, "%s: %s address \"%s\" starts with '-'", proto, what,
				    a);
	return 0;
}

static int check_envelope(const char *proto, const char *sender, const char *const *rcpt, size_t n)
{
	size_t i;
	int r;

	if (sender == NULL)
		return pq_error_set(PQ_EINVAL, "%s: no sender", proto);
	if (sender[0] != '\0') {
		r = check_address(proto, "sender", sender);
		if (r < 0)
			return r;
	}
	if (n == 0)
		return pq_error_set(PQ_EINVAL, "%s: no recipient", proto);
	for (i = 0; i < n; i++) {
		failed_on_message = 1;
		if (rcpt[i] == NULL || rcpt[i][0] == '\0')
			return pq_error_set(PQ_EINVAL, "%s: recipient %zu is empty", proto, i);
		r = check_address(proto, "recipient", rcpt[i]);
		if (r < 0)
			return r;
		failed_on_message = 0;
	}
	return 0;
}

/* ---- the wire ---- */

static void op_begin(struct session *ss)
{
	clock_gettime(CLOCK_MONOTONIC, &ss->op_start);
}

static int op_timed_out(const struct session *ss)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - ss->op_start.tv_sec >= ss->timeout;
}

/* The stream failed during step: the server is gone, silent or unreadable. */
static int stream_error(struct session *ss, const char *step)
{
	ss->broken = 1;
	if (op_timed_out(ss))
		return pq_error_set(PQ_ETEMP, "SMTP %s: %s: no answer within %d s (timed out)",
				    ss->host, step, ss->timeout);
	return pq_error_set(PQ_ETEMP, "SMTP %s: %s: connection closed by the server", ss->host,
			    step);
}

static int send_raw(struct session *ss, const char *step, const char *data, size_t len)
{
	op_begin(ss);
	if (len > 0 && mailstream_write(ss->s, data, len) < 0)
		return stream_error(ss, step);
	return 0;
}

static int flush(struct session *ss, const char *step)
{
	op_begin(ss);
	if (mailstream_flush(ss->s) < 0)
		return stream_error(ss, step);
	return 0;
}

/*
 * Reads one line into ss->line without its line end, control characters
 * made '?' (the text ends up in messages and logs). 0; -1 when the stream
 * failed or ended, or the time since op_begin() ran out (a server that
 * trickles a byte at a time is not waited for forever); -2 when the line
 * is too long.
 */
static int read_line(struct session *ss)
{
	char c;
	ssize_t r;

	pq_buf_reset(&ss->line);
	for (;;) {
		r = mailstream_read(ss->s, &c, 1);
		if (r <= 0 || op_timed_out(ss))
			return -1;
		if (c == '\n')
			break;
		if (ss->line.len >= MAX_REPLY_LINE)
			return -2;
		pq_buf_addc(&ss->line, c);
	}
	if (ss->line.len > 0 && ss->line.ptr[ss->line.len - 1] == '\r')
		pq_buf_truncate(&ss->line, ss->line.len - 1);
	pq_buf_plain(&ss->line, 0, "");
	return 0;
}

/*
 * Reads a whole reply ("250-a", "250 b") into ss->code and ss->reply; it
 * must come within the timeout. Returns the code, or a negative PQ_ETEMP
 * when the stream failed or the reply does not parse (the session is then
 * broken).
 */
static int read_reply(struct session *ss, const char *step)
{
	const char *p;
	int lines = 0, r, code;

	pq_buf_reset(&ss->reply);
	ss->code = 0;
	op_begin(ss);
	for (;;) {
		r = read_line(ss);
		if (r == -1)
			return stream_error(ss, step);
		p = pq_buf_str(&ss->line);
		if (r == -2 || ss->line.len < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' ||
		    p[1] > '9' || p[2] < '0' || p[2] > '9' ||
		    (p[3] != '\0' && p[3] != ' ' && p[3] != '-') || ++lines > MAX_REPLY_LINES) {
			ss->broken = 1;
			return pq_error_set(PQ_ETEMP,
					    "SMTP %s: %s: malformed reply from the server",
					    ss->host, step);
		}
		code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (ss->code == 0)
			ss->code = code;
		if (ss->reply.len > 0)
			pq_buf_addc(&ss->reply, '\n');
		pq_buf_add(&ss->reply, p, ss->line.len);
		if (p[3] != '-')
			break;
	}
	return ss->code;
}

/* The last reply on one line: "550 5.1.1 no such user", continuation codes dropped. */
static void reply_text(const struct session *ss, struct pq_buf *out)
{
	const char *p = pq_buf_str(&ss->reply), *nl;

	pq_buf_reset(out);
	pq_buf_addf(out, "%d", ss->code);
	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if (nl - p > 4) {
			pq_buf_addc(out, ' ');
			pq_buf_add(out, p + 4, (size_t)(nl - p - 4));
		}
		p = *nl ? nl + 1 : nl;
	}
}

/*
 * The last reply was not the one step wanted: 4xx may pass, 5xx will not;
 * anything else means we are out of step with the server.
 */
static int reply_error(struct session *ss, const char *step)
{
	struct pq_buf text = PQ_BUF_INIT;
	int code;

	reply_text(ss, &text);
	if (ss->code / 100 == 5)
		code = PQ_EPERM;
	else if (ss->code / 100 == 4)
		code = PQ_ETEMP;
	else {
		ss->broken = 1;
		code = pq_error_set(PQ_ETEMP, "SMTP %s: %s: unexpected reply: %s", ss->host, step,
				    pq_buf_str(&text));
		pq_buf_free(&text);
		return code;
	}
	/* 421: the server is closing the connection. */
	if (ss->code == 421)
		ss->broken = 1;
	code = pq_error_set(code, "SMTP %s: %s: %s", ss->host, step, pq_buf_str(&text));
	pq_buf_free(&text);
	return code;
}

/* Sends one command line (CRLF added) and reads its reply: the code or a negative error. */
static int command(struct session *ss, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int command(struct session *ss, const char *step, const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	va_list ap;
	int r, len;

	/* Sized at once: a growing buffer would leave copies of a credential behind. */
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	pq_buf_grow(&cmd, (size_t)(len > 0 ? len : 0) + 64 + 2); /* vaddf wants 64 spare */
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pq_buf_add(&cmd, "\r\n", 2);
	r = send_raw(ss, step, cmd.ptr, cmd.len);
	if (r == 0)
		r = flush(ss, step);
	/* A command may carry a credential: do not leave it in freed memory. */
	explicit_bzero(cmd.ptr, cmd.len);
	pq_buf_free(&cmd);
	if (r < 0)
		return r;
	return read_reply(ss, step);
}

/* ---- the session ---- */

static void parse_ehlo(struct session *ss)
{
	const char *p = pq_buf_str(&ss->reply), *nl, *kw, *end;
	size_t len;

	ss->caps = 0;
	ss->size_max = 0;
	pq_buf_reset(&ss->auth_offer);
	/* The first line is the server's name; each later one an extension. */
	nl = strchr(p, '\n');
	while (nl != NULL) {
		p = nl + 1;
		nl = strchr(p, '\n');
		end = nl ? nl : p + strlen(p);
		if (end - p < 4)
			continue;
		kw = p + 4;
		len = (size_t)(end - kw);
		if (len == 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
			ss->caps |= CAP_STARTTLS;
		else if (len == 8 && strncasecmp(kw, "8BITMIME", 8) == 0)
			ss->caps |= CAP_8BITMIME;
		else if (len == 8 && strncasecmp(kw, "SMTPUTF8", 8) == 0)
			ss->caps |= CAP_SMTPUTF8;
		else if (len >= 4 && strncasecmp(kw, "SIZE", 4) == 0 &&
			 (len == 4 || kw[4] == ' ')) {
			ss->caps |= CAP_SIZE;
			if (len > 5)
				ss->size_max = strtoul(kw + 5, NULL, 10);
		} else if (len > 5 && strncasecmp(kw, "AUTH", 4) == 0 &&
			   (kw[4] == ' ' || kw[4] == '=')) {
			const char *m = kw + 5;

			while (m < end) {
				const char *me = m;

				while (me < end && *me != ' ')
					me++;
				if (me - m == 5 && strncasecmp(m, "PLAIN", 5) == 0)
					ss->caps |= CAP_AUTH_PLAIN;
				else if (me - m == 5 && strncasecmp(m, "LOGIN", 5) == 0)
					ss->caps |= CAP_AUTH_LOGIN;
				if (me > m) {
					if (ss->auth_offer.len > 0)
						pq_buf_addc(&ss->auth_offer, ' ');
					pq_buf_add(&ss->auth_offer, m, (size_t)(me - m));
				}
				m = me + 1;
			}
		}
	}
}

static int ehlo(struct session *ss, const char *name)
{
	int r;

	r = command(ss, "EHLO", "EHLO %s", name);
	if (r < 0)
		return r;
	if (r / 100 == 2) {
		parse_ehlo(ss);
		return 0;
	}
	/*
	 * A server from before ESMTP: HELO does, unless TLS or AUTH must be
	 * negotiated, which only EHLO can.
	 */
	if (r / 100 == 5 && ss->srv->tls != PQ_SMTP_TLS_STARTTLS && ss->srv->user == NULL) {
		r = command(ss, "HELO", "HELO %s", name);
		if (r < 0)
			return r;
		if (r / 100 == 2) {
			ss->caps = 0;
			return 0;
		}
		return reply_error(ss, "HELO");
	}
	return reply_error(ss, "EHLO");
}

static char *base64(const void *data, size_t len)
{
	char *out = pq_malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static void wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int auth(struct session *ss)
{
	const char *user = ss->srv->user, *pass = ss->srv->password;
	size_t ulen = strlen(user), plen = strlen(pass);
	char step[64 + MAX_ADDRESS];
	char *token = NULL, *b64;
	int r;

	/* tls.c's dial said whether the peer is local; never risk a password otherwise. */
	if (!ss->tls && !ss->loopback)
		return pq_error_set(PQ_EINVAL, "SMTP %s: refusing AUTH in clear text", ss->host);
	if (ss->caps & CAP_AUTH_PLAIN) {
		snprintf(step, sizeof(step), "AUTH PLAIN as %.*s", MAX_ADDRESS, user);
		/* authorization id (empty), NUL, user, NUL, password */
		token = pq_malloc(ulen + plen + 2);
		token[0] = '\0';
		memcpy(token + 1, user, ulen);
		token[ulen + 1] = '\0';
		memcpy(token + ulen + 2, pass, plen);
		b64 = base64(token, ulen + plen + 2);
		explicit_bzero(token, ulen + plen + 2);
		free(token);
		r = command(ss, step, "AUTH PLAIN %s", b64);
		/* A server that ignores the initial response asks with an empty 334. */
		if (r == 334)
			r = command(ss, step, "%s", b64);
		wipe_free(b64);
	} else if (ss->caps & CAP_AUTH_LOGIN) {
		snprintf(step, sizeof(step), "AUTH LOGIN as %.*s", MAX_ADDRESS, user);
		r = command(ss, step, "AUTH LOGIN");
		if (r == 334) {
			b64 = base64(user, ulen);
			r = command(ss, step, "%s", b64);
			wipe_free(b64);
		}
		if (r == 334) {
			b64 = base64(pass, plen);
			r = command(ss, step, "%s", b64);
			wipe_free(b64);
		}
	} else {
		if (ss->auth_offer.len == 0)
			return pq_error_set(
				PQ_EPERM, "SMTP %s: cannot log in as %s: the server offers no AUTH",
				ss->host, user);
		return pq_error_set(PQ_EPERM,
				    "SMTP %s: cannot log in as %s: the server offers no AUTH PLAIN "
				    "or LOGIN, only %s",
				    ss->host, user, pq_buf_str(&ss->auth_offer));
	}
	if (r < 0)
		return r;
	if (r == 235)
		return 0;
	if (r == 334) {
		/* Still asking after all was said: give up on the exchange. */
		ss->broken = 1;
		return pq_error_set(PQ_ETEMP,
				    "SMTP %s: %s: the server asks for more than "
				    "a user and password",
				    ss->host, step);
	}
	return reply_error(ss, step);
}

/* The EHLO name: the configured one, else this host's name. */
static int helo_name(const struct pq_smtp_server *srv, char *buf, size_t size)
{
	const char *name = srv->helo;
	size_t i;

	if (name == NULL) {
		if (gethostname(buf, size) != 0 || buf[0] == '\0')
			snprintf(buf, size, "localhost");
		buf[size - 1] = '\0';
	} else {
		if (strlen(name) >= size || name[0] == '\0')
			return pq_error_set(PQ_EINVAL, "SMTP %s: bad EHLO name", srv->host);
		snprintf(buf, size, "%s", name);
	}
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] >= 0x7f)
			return pq_error_set(PQ_EINVAL,
					    "SMTP %s: EHLO name \"%s\" is not printable ASCII "
					    "without spaces",
					    srv->host, buf);
	return 0;
}

/* Connects, does TLS as configured, greets and logs in: ready for MAIL FROM. */
static int session_open(struct session *ss, const char *helo)
{
	const struct pq_smtp_server *srv = ss->srv;
	const char *port = srv->port;
	int fd, r;

	if (port == NULL)
		port = srv->tls == PQ_SMTP_TLS_IMPLICIT ? "465" : "587";
	fd = pq_tls_dial("SMTP", ss->host, port, ss->timeout, 0, &ss->loopback);
	if (fd < 0)
		return fd == PQ_EIO ? PQ_ETEMP : fd;
	if (srv->tls == PQ_SMTP_TLS_NONE && !ss->loopback) {
		close(fd);
		return pq_error_set(PQ_EINVAL,
				    "SMTP %s: refusing clear text to a non-loopback address; use "
				    "STARTTLS or implicit TLS",
				    ss->host);
	}
	r = pq_tls_open(&ss->s, fd, srv->tls == PQ_SMTP_TLS_IMPLICIT, "SMTP", ss->host,
			ss->timeout);
	if (r < 0)
		return r == PQ_EIO ? PQ_ETEMP : r;
	if (srv->tls == PQ_SMTP_TLS_IMPLICIT) {
		if (!srv->no_verify) {
			r = pq_tls_verify(ss->s, "SMTP", ss->host, srv->ca_file);
			if (r < 0) {
				ss->broken = 1; /* not a word more to an unverified server */
				return r == PQ_EIO ? PQ_ETEMP : r;
			}
		}
		ss->tls = 1;
	}

	r = read_reply(ss, "greeting");
	if (r < 0)
		return r;
	if (r != 220) {
		ss->broken = 1; /* a server that will not serve hangs up */
		return reply_error(ss, "greeting");
	}
	r = ehlo(ss, helo);
	if (r < 0)
		return r;

	if (srv->tls == PQ_SMTP_TLS_STARTTLS) {
		if (!(ss->caps & CAP_STARTTLS))
			return pq_error_set(PQ_EPERM,
					    "SMTP %s: the server does not offer STARTTLS; refusing "
					    "to go on in clear text",
					    ss->host);
		r = command(ss, "STARTTLS", "STARTTLS");
		if (r < 0)
			return r;
		if (r != 220)
			return reply_error(ss, "STARTTLS");
		r = pq_tls_starttls(ss->s, "SMTP", ss->host, ss->timeout);
		if (r < 0) {
			ss->broken = 1;
			return r == PQ_EIO ? PQ_ETEMP : r;
		}
		if (!srv->no_verify) {
			r = pq_tls_verify(ss->s, "SMTP", ss->host, srv->ca_file);
			if (r < 0) {
				ss->broken = 1;
				return r == PQ_EIO ? PQ_ETEMP : r;
			}
		}
		ss->tls = 1;
		/* What the server offers may change with TLS: ask again. */
		r = ehlo(ss, helo);
		if (r < 0)
			return r;
	}
	if (srv->user != NULL)
		return auth(ss);
	return 0;
}

/*
 * The bytes on the wire for msg: every line end made CRLF, a line that
 * starts with '.' given another, the last line ended, then ".\r\n".
 * Written in chunks; with ss NULL only counted. *wire: their number.
 */
static int send_body(struct session *ss, const char *msg, size_t len, size_t *wire)
{
	struct pq_buf out = PQ_BUF_INIT;
	size_t i = 0, j, total = 0;
	int line_start = 1, r = 0;

	while (i < len && r == 0) {
		if (line_start && msg[i] == '.')
			pq_buf_addc(&out, '.');
		for (j = i; j < len && msg[j] != '\r' && msg[j] != '\n'; j++)
			;
		pq_buf_add(&out, msg + i, j - i);
		line_start = j < len;
		if (j < len) {
			pq_buf_add(&out, "\r\n", 2);
			if (msg[j] == '\r' && j + 1 < len && msg[j + 1] == '\n')
				j++;
			j++;
		}
		i = j;
		if (out.len >= SEND_CHUNK) {
			total += out.len;
			if (ss != NULL)
				r = send_raw(ss, "DATA", out.ptr, out.len);
			pq_buf_reset(&out);
		}
	}
	if (r == 0) {
		if (!line_start)
			pq_buf_add(&out, "\r\n", 2);
		pq_buf_add(&out, ".\r\n", 3);
		total += out.len;
		if (ss != NULL) {
			r = send_raw(ss, "DATA", out.ptr, out.len);
			if (r == 0)
				r = flush(ss, "DATA");
		}
	}
	pq_buf_free(&out);
	if (wire != NULL)
		*wire = total;
	return r;
}

static int transaction(struct session *ss, const char *sender, const char *const *rcpt, size_t n,
		       const char *msg, size_t len)
{
	struct pq_buf params = PQ_BUF_INIT, text = PQ_BUF_INIT, why = PQ_BUF_INIT;
	char step[32 + MAX_ADDRESS];
	size_t i, accepted = 0, size, nrefused = 0, which = n;
	int utf8 = has_8bit(sender, strlen(sender)), r, code = 0;

	for (i = 0; i < n; i++)
		utf8 |= has_8bit(rcpt[i], strlen(rcpt[i]));
	/* from here on, a refusal is about this message */
	failed_on_message = 1;
	if (utf8 && !(ss->caps & CAP_SMTPUTF8))
		return pq_error_set(PQ_EPERM,
				    "SMTP %s: an address has non-ASCII characters, but the server "
				    "does not offer SMTPUTF8",
				    ss->host);
	send_body(NULL, msg, len, &size);
	if ((ss->caps & CAP_SIZE) && ss->size_max > 0 && size > ss->size_max)
		return pq_error_set(PQ_EPERM,
				    "SMTP %s: the message of %zu bytes is over the server's limit "
				    "of %lu",
				    ss->host, size, ss->size_max);
	if ((ss->caps & CAP_8BITMIME) && has_8bit(msg, len))
		pq_buf_adds(&params, " BODY=8BITMIME");
	if (ss->caps & CAP_SIZE)
		pq_buf_addf(&params, " SIZE=%zu", size);
	if (utf8)
		pq_buf_adds(&params, " SMTPUTF8");

	/* the sender is the configuration's: refused, it is no verdict on the message */
	failed_on_message = 0;
	snprintf(step, sizeof(step), "MAIL FROM <%s>", sender);
	r = command(ss, step, "MAIL FROM:<%s>%s", sender, pq_buf_str(&params));
	pq_buf_free(&params);
	if (r < 0)
		return r;
	if (r / 100 != 2)
		return reply_error(ss, step);
	failed_on_message = 1;

	for (i = 0; i < n; i++) {
		snprintf(step, sizeof(step), "RCPT TO <%s>", rcpt[i]);
		r = command(ss, step, "RCPT TO:<%s>", rcpt[i]);
		if (r < 0)
			return r;
		if (r / 100 == 2) {
			accepted++;
			continue;
		}
		if (r / 100 != 4 && r / 100 != 5)
			return reply_error(ss, step);
		reply_text(ss, &text);
		refusals_add(i, r / 100 == 4 ? PQ_ETEMP : PQ_EPERM, pq_buf_str(&text));
		nrefused++;
		/* The message names the first 4xx refusal, else the first 5xx one. */
		if (which == n || (r / 100 == 4 && code == PQ_EPERM)) {
			which = i;
			code = r / 100 == 4 ? PQ_ETEMP : PQ_EPERM;
			pq_buf_reset(&why);
			pq_buf_add(&why, text.ptr, text.len);
		}
		if (r == 421) {
			ss->broken = 1;
			break;
		}
	}
	pq_buf_free(&text);
	if (accepted == 0 || code == PQ_ETEMP) {
		if (nrefused > 1)
			r = pq_error_set(
				code, "SMTP %s: RCPT TO <%s>: %s (%zu of %zu recipients refused%s)",
				ss->host, rcpt[which], pq_buf_str(&why), nrefused, n,
				accepted ? "; nothing sent to the others" : "");
		else
			r = pq_error_set(code, "SMTP %s: RCPT TO <%s>: %s%s", ss->host, rcpt[which],
					 pq_buf_str(&why),
					 accepted ? " (nothing sent to the others)" : "");
		pq_buf_free(&why);
		return r;
	}
	pq_buf_free(&why);

	r = command(ss, "DATA", "DATA");
	if (r < 0)
		return r;
	if (r != 354)
		return reply_error(ss, "DATA");
	r = send_body(ss, msg, len, NULL);
	if (r < 0)
		return r;
	r = read_reply(ss, "end of DATA");
	if (r < 0)
		return r;
	if (r / 100 != 2)
		return reply_error(ss, "end of DATA");
	return 0;
}

/* Says goodbye when the connection is sound (never changing the error) and closes. */
static void session_close(struct session *ss)
{
	static const char quit[] = "QUIT\r\n";

	if (ss->s == NULL)
		return;
	op_begin(ss);
	if (!ss->broken && mailstream_write(ss->s, quit, sizeof(quit) - 1) >= 0 &&
	    mailstream_flush(ss->s) >= 0)
		read_line(ss); /* the 221, or nothing: it does not matter now */
	mailstream_close(ss->s);
	ss->s = NULL;
}

int pq_smtp_send(const struct pq_smtp_server *srv, const char *sender, const char *const *rcpt,
		 size_t n, const char *msg, size_t len)
{
	struct pq_tls_sigpipe guard;
	struct session ss;
	struct refusals *rf = refusals_get();
	char helo[256];
	int r;

	if (rf != NULL)
		refusals_clear(rf);
	failed_on_message = 0;
	if (srv->host == NULL || srv->host[0] == '\0')
		return pq_error_set(PQ_EINVAL, "SMTP: no host");
	if (srv->tls != PQ_SMTP_TLS_STARTTLS && srv->tls != PQ_SMTP_TLS_IMPLICIT &&
	    srv->tls != PQ_SMTP_TLS_NONE)
		return pq_error_set(PQ_EINVAL, "SMTP %s: unknown TLS mode %d", srv->host, srv->tls);
	if (srv->user != NULL && srv->password == NULL)
		return pq_error_set(PQ_EINVAL, "SMTP %s: user %s has no password", srv->host,
				    srv->user);
	if (srv->user != NULL && (srv->user[0] == '\0' || strlen(srv->user) > MAX_ADDRESS))
		return pq_error_set(PQ_EINVAL, "SMTP %s: bad user name", srv->host);
	if (msg == NULL && len > 0)
		return pq_error_set(PQ_EINVAL, "SMTP %s: no message", srv->host);
	r = check_envelope("SMTP", sender, rcpt, n);
	if (r < 0)
		return r;
	r = helo_name(srv, helo, sizeof(helo));
	if (r < 0)
		return r;

	memset(&ss, 0, sizeof(ss));
	ss.srv = srv;
	ss.host = srv->host;
	ss.timeout = srv->timeout > 0 ? srv->timeout : DEFAULT_TIMEOUT;
	pq_tls_sigpipe_block(&guard);
	r = session_open(&ss, helo);
	if (r == 0)
		r = transaction(&ss, sender, rcpt, n, msg ? msg : "", len);
	session_close(&ss);
	pq_tls_sigpipe_restore(&guard);
	pq_buf_free(&ss.reply);
	pq_buf_free(&ss.line);
	pq_buf_free(&ss.auth_offer);
	return r;
}

/* ---- sendmail ---- */

/* The program's output on one line: control characters (newlines) become single spaces. */
static void one_line(struct pq_buf *line, const struct pq_buf *out)
{
	size_t i;

	for (i = 0; i < out->len; i++) {
		unsigned char c = (unsigned char)out->ptr[i];

		if (c < ' ' || c == 0x7f) {
			if (line->len > 0 && line->ptr[line->len - 1] != ' ')
				pq_buf_addc(line, ' ');
		} else {
			pq_buf_addc(line, (char)c);
		}
	}
	pq_buf_rtrim(line);
}

int pq_sendmail(const char *program, const char *sender, const char *const *rcpt, size_t n,
		const char *msg, size_t len)
{
	struct pq_buf in = PQ_BUF_INIT, output = PQ_BUF_INIT;
	struct pq_run_result res;
	struct pq_run_opts o = {
		.out_max = SENDMAIL_OUTPUT,
		.err_to_out = 1,
		.timeout_ms = SENDMAIL_TIMEOUT * 1000L,
		/* a daemon told to stop must not wait for a slow sendmail */
		.cancel = pq_stop_requested,
	};
	const char **argv;
	int r;
	size_t i;

	memset(&res, 0, sizeof(res));
	if (program == NULL || program[0] == '\0')
		return pq_error_set(PQ_EINVAL, "sendmail: no program");
	if (msg == NULL && len > 0)
		return pq_error_set(PQ_EINVAL, "sendmail: no message");
	r = check_envelope("sendmail", sender, rcpt, n);
	if (r < 0)
		return r;

	argv = pq_reallocarray(NULL, n + 6, sizeof(*argv));
	argv[0] = program;
	argv[1] = "-i";
	argv[2] = "-f";
	argv[3] = sender;
	argv[4] = "--";
	for (i = 0; i < n; i++)
		argv[5 + i] = rcpt[i];
	argv[5 + n] = NULL;
	/* sendmail reads LF line ends. */
	for (i = 0; i < len; i++)
		if (!(msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			pq_buf_addc(&in, msg[i]);
	o.argv = argv;
	o.in = in.len ? in.ptr : "";
	o.in_len = in.len;

	r = pq_run_command(&res, &o);
	if (r < 0) {
		/* "cannot run PROGRAM: ...": it may be installed later */
		pq_buf_adds(&output, pq_error_last());
		r = pq_error_set(PQ_ETEMP, "sendmail: %s", output.ptr);
		goto out_free;
	}
	one_line(&output, &res.out);

	if (res.cancelled)
		r = pq_error_set(PQ_ETEMP, "sendmail: %s was stopped (patchq is stopping); killed",
				 program);
	else if (res.timed_out)
		r = pq_error_set(PQ_ETEMP, "sendmail: %s did not finish within %d s; killed",
				 program, SENDMAIL_TIMEOUT);
	else if (res.signal)
		r = pq_error_set(PQ_ETEMP, "sendmail: %s was killed by signal %d%s%s", program,
				 res.signal, output.len ? ": " : "", pq_buf_str(&output));
	else if (res.status == 0)
		r = 0;
	else
		r = pq_error_set(res.status == 75 ? PQ_ETEMP : PQ_EPERM,
				 "sendmail: %s exited with status %d%s%s", program, res.status,
				 output.len ? ": " : "", pq_buf_str(&output));
out_free:
	pq_run_result_free(&res);
	pq_buf_free(&in);
	pq_buf_free(&output);
	free(argv);
	return r;
}
