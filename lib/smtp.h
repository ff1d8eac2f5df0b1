/*
 * smtp: hands one message to a mail server (SMTP submission) or to a
 * sendmail-compatible program; the transport under the outbox.
 *
 * One call, one connection, one message: connect (every resolved address,
 * each wait bounded by the timeout), TLS as configured, the server's
 * certificate checked with libcrypto before anything else is said, AUTH
 * when configured, then MAIL FROM, RCPT TO for each recipient, DATA.
 * Results sort into what may work later (PQ_ETEMP) and what will not
 * (PQ_EPERM), so the outbox knows whether to retry.
 *
 * pq_smtp_send() blocks SIGPIPE in the calling thread while it works (a
 * vanished peer cannot kill the process); pq_sendmail() runs its program
 * with pq_run_command() (run.h), whose stdin cannot raise SIGPIPE. Both
 * are thread-safe.
 */
#ifndef PQ_SMTP_H
#define PQ_SMTP_H

#include <stddef.h>

enum pq_smtp_tls {
	PQ_SMTP_TLS_STARTTLS = 0, /* the default: EHLO, STARTTLS, TLS, check, EHLO again */
	PQ_SMTP_TLS_IMPLICIT,	  /* smtps: TLS from the first byte */
	PQ_SMTP_TLS_NONE,	  /* clear text: only to a loopback address */
};

struct pq_smtp_server {
	const char *host;
	const char *port; /* NULL: "465" for implicit TLS, "587" otherwise */
	enum pq_smtp_tls tls;
	int no_verify;	     /* 1 turns certificate verification OFF; default (0) verifies */
	const char *ca_file; /* PEM CA bundle trusted besides the system store; NULL: system only */
	const char *user;    /* AUTH PLAIN (else LOGIN) as user when non-NULL; needs password */
	const char *password;
	const char *helo; /* the EHLO name; NULL: this host's name (gethostname()) */
	int timeout;	  /* seconds any one wait on the network may last; 0: 60 */
};

/*
 * Sends msg (len bytes; LF, CRLF or CR line ends, all sent as CRLF, lines
 * starting with "." dot-stuffed, a missing final line end added; bytes are
 * otherwise untouched) from sender ("" for the null sender <>) to rcpt[0..n).
 * srv and the strings are not kept.
 *
 * The certificate (unless srv->no_verify) is checked right after the
 * handshake: with implicit TLS before the greeting is read, with STARTTLS
 * before the second EHLO; a refused one ends the connection at once. AUTH
 * is only ever sent over TLS or to a loopback peer. MAIL FROM carries
 * BODY=8BITMIME when the message has 8-bit bytes and the server offers it,
 * SIZE= when it offers SIZE (a message over its limit is PQ_EPERM before
 * MAIL FROM), SMTPUTF8 when an address has 8-bit bytes (PQ_EPERM if the
 * server does not offer it). Lines are not folded: a server may refuse
 * lines over 998 bytes (5xx, so PQ_EPERM).
 *
 * Returns:
 * - 0: the server accepted the message (2xx to the end of DATA) for every
 *   recipient but those pq_smtp_refused() lists (each refused with 5xx).
 * - PQ_ETEMP: nothing was delivered; it may work later: a 4xx reply at any
 *   step (also for one RCPT TO: the transaction is then given up for all,
 *   so one retry state per message suffices), connection refused, reset
 *   or timed out, name resolution failed, TLS handshake failed, a reply
 *   that does not parse. Beware one case: a connection lost or timed out
 *   after the final "." but before the server's reply; the server may
 *   have taken the message, and a retry may deliver it twice.
 * - PQ_EPERM: it will not work as configured: a 5xx reply at any step
 *   (550 to every RCPT TO, 535 to AUTH, 554 greeting...), a certificate
 *   that fails verification ("certificate not trusted: ...", "host name
 *   mismatch: ..."; nothing was said after the handshake), STARTTLS not
 *   offered, no AUTH PLAIN or LOGIN offered, SIZE or SMTPUTF8 as above.
 * - PQ_EINVAL: nothing was sent: no host, bad port or TLS mode, n == 0,
 *   user without password, a bad EHLO name, an address that is longer
 *   than 256 bytes or holds control characters, spaces, '<' or '>'; clear
 *   text asked for to a non-loopback peer.
 * - PQ_ERROR: out of memory inside libetpan or libcrypto.
 * On failure pq_error_last() says "SMTP HOST: STEP: REPLY", STEP being
 * greeting, EHLO, STARTTLS, AUTH PLAIN as USER, MAIL FROM <x>, RCPT TO
 * <x>, DATA or end of DATA, and REPLY the server's words ("550 5.1.1 no
 * such user", lines of a multi-line reply joined by spaces).
 */
int pq_smtp_send(const struct pq_smtp_server *srv, const char *sender, const char *const *rcpt,
		 size_t n, const char *msg, size_t len);

/*
 * 1 when the last pq_smtp_send() of this thread failed on the message
 * itself: a recipient address it cannot take, a 5xx reply to RCPT TO or
 * DATA, SIZE or SMTPUTF8 limits. 0 when it failed before (the set-up, the
 * connection, TLS, AUTH, the sender at MAIL FROM): a matter of the
 * configuration or the server, which retrying may cure once it is fixed.
 */
int pq_smtp_failure_is_message(void);

/* A recipient the server refused at RCPT TO. */
struct pq_smtp_refusal {
	size_t index;	   /* which one: an index into the rcpt[] passed */
	int code;	   /* PQ_EPERM for a 5xx reply, PQ_ETEMP for a 4xx one */
	const char *reply; /* the server's reply, e.g. "550 5.1.1 <x>: no such user" */
};

/*
 * The recipients the last pq_smtp_send() of this thread saw refused at RCPT
 * TO, in rcpt[] order; *count is set to their number (0 when none, or when
 * the session ended before RCPT TO). After a 0 return they are the ones
 * the message did NOT go to, all PQ_EPERM; after PQ_ETEMP or PQ_EPERM they
 * say which recipients were at fault. Borrowed: valid until the next
 * pq_smtp_send() in this thread (freed with the thread).
 */
const struct pq_smtp_refusal *pq_smtp_refused(size_t *count);

/*
 * The same through a sendmail-compatible program: runs `program -i -f
 * sender -- rcpt...` (no shell; program is looked up in PATH when it has
 * no '/'; LC_ALL=C, see run.h) with msg on its standard input, CRLF line
 * ends turned into LF, and waits for it. Returns 0 on exit status 0;
 * PQ_ETEMP on status 75 (EX_TEMPFAIL), when it cannot be run, when a
 * signal killed it, when it did not finish within 5 minutes, or when
 * pq_stop_requested() (stop.h) became true while it ran, looked at every
 * 100 ms (in both cases it is killed with its process group; as with an
 * SMTP timeout after the final ".", it may have taken the message, and a
 * retry may deliver it twice); PQ_EPERM on any other status; PQ_EINVAL
 * for bad arguments (as pq_smtp_send()). The message then carries the
 * status and the program's output (stdout and stderr, the first 512
 * bytes, on one line).
 */
int pq_sendmail(const char *program, const char *sender, const char *const *rcpt, size_t n,
		const char *msg, size_t len);

#endif
