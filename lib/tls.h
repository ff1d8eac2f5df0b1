/*
 * tls: the connection layer the mail clients (imap, smtp) share.
 *
 * A TCP connect bounded by a timeout over every address a name resolves
 * to; a libetpan stream over it, clear or TLS (GnuTLS underneath, which
 * checks nothing), also after a STARTTLS; the check of the server's
 * certificate chain and name with libcrypto that must follow every
 * handshake before a credential or a message is sent; and the guard that
 * keeps SIGPIPE from killing the process while libetpan writes.
 *
 * Messages start with "PROTO HOST: ", PROTO being the caller's protocol
 * name ("IMAP", "SMTP"), so a failure says which connection it was.
 *
 * Every stream pq_tls_open() makes reads and writes through a guard: a
 * peer that closed the connection fails the read (libetpan would take the
 * 0 of end of file for "nothing yet" and loop on it for ever), each wait
 * is bounded by the timeout and, when the caller set one, by the deadline
 * of the operation at hand, a caller's filter sees every byte read before
 * libetpan does and can refuse them, and the guard remembers why the
 * stream failed. Once a read or
 * write failed, every later one fails at once: the stream is dead.
 */
#ifndef PQ_TLS_H
#define PQ_TLS_H

#include <signal.h>

#include <libetpan/mailstream.h>

/* Flags of pq_tls_dial(). */
enum {
	/*
	 * The socket is registered with pq_stop_watch_fd() (stop.h) from its
	 * creation until the stream over it is closed: a stop request cuts
	 * the connection at once, whatever it waits for. For connections
	 * that may be cut at any point without harm (reading mail), not for
	 * one that sends (a cut SMTP DATA may be delivered and sent again).
	 */
	PQ_TLS_STOPPABLE = 1,
};

/*
 * Connects to host:port (port "1".."65535"), trying each resolved address
 * in turn, each bounded by timeout seconds; the name resolution too (it
 * runs on a thread of its own, given up on after timeout seconds or, with
 * PQ_TLS_STOPPABLE, at a stop request). Returns the connected socket,
 * blocking and close-on-exec (the caller owns it: pq_tls_open() it, or
 * pq_tls_close_fd() it), and sets *loopback to 1 when the peer is a
 * loopback address (127.0.0.0/8, ::1, v4-mapped 127/8). flags: 0 or
 * PQ_TLS_STOPPABLE. Errors: PQ_EINVAL (bad port), PQ_EIO ("cannot resolve
 * host", "cannot connect to ADDR port P: connection refused|timed
 * out|...", "stopping" once a stop was requested for a stoppable one).
 */
int pq_tls_dial(const char *proto, const char *host, const char *port, int timeout, unsigned flags,
		int *loopback);

/* Closes a socket from pq_tls_dial() that was not handed to pq_tls_open(). */
void pq_tls_close_fd(int fd);

/*
 * Wraps the connected socket fd in a libetpan stream whose every read and
 * write waits at most timeout seconds: clear text when tls is 0, else
 * after a TLS handshake (asking for host's certificate by SNI unless host
 * is an IP address). The certificate is NOT checked: call
 * pq_tls_verify() next. On success *out owns fd (mailstream_close() it);
 * on failure fd is closed. Errors: PQ_EIO ("TLS handshake failed", with
 * "(timed out)" when it ran out of time), PQ_ERROR (out of memory).
 */
int pq_tls_open(mailstream **out, int fd, int tls, const char *proto, const char *host,
		int timeout);

/*
 * Turns the clear-text stream s into a TLS one in place, once the server
 * answered the protocol's STARTTLS with its go-ahead. Refuses when the
 * server already sent more (it would be read as if it had come over TLS,
 * as in CVE-2020-15953). Does not verify: call pq_tls_verify() next.
 * 0, or PQ_EIO (early data, handshake failed or timed out); then s is
 * unusable and only mailstream_close() may follow.
 */
int pq_tls_starttls(mailstream *s, const char *proto, const char *host, int timeout);

/*
 * Checks the certificate chain the TLS stream s received against the
 * system store plus ca_file (a PEM bundle; NULL: system store only), for
 * TLS server use, and the leaf's names against host (DNS name, no partial
 * wildcards, or IP address). Fails closed. 0, or PQ_EPERM naming the
 * reason ("certificate not trusted: REASON (subject S)", "host name
 * mismatch", "server sent none", "cannot load CA file F"), PQ_EIO (the
 * system store cannot be loaded), PQ_ERROR (out of memory).
 */
int pq_tls_verify(mailstream *s, const char *proto, const char *host, const char *ca_file);

/* Why a stream from pq_tls_open() failed (pq_tls_failure()). */
enum pq_tls_fail {
	PQ_TLS_OK = 0,	 /* it has not failed */
	PQ_TLS_CLOSED,	 /* the peer closed or reset it, or TLS failed */
	PQ_TLS_TIMEOUT,	 /* a wait ran out of time */
	PQ_TLS_DEADLINE, /* the operation ran out of the time pq_tls_deadline() gave it */
	PQ_TLS_STOPPED,	 /* the connection was cut by a stop request (stop.h) */
	PQ_TLS_REFUSED,	 /* the filter set with pq_tls_set_filter() refused what came */
};

/*
 * Starts an operation on s: from now on it may last at most seconds in all
 * (each wait still at most the stream's timeout); 0 lifts the bound.
 */
void pq_tls_deadline(mailstream *s, int seconds);

/*
 * Sets filter, called with the bytes of each read from the network on s
 * (decrypted, for TLS) before libetpan sees them; a negative return drops
 * them and fails the read (PQ_TLS_REFUSED). NULL removes it. arg is
 * borrowed.
 */
void pq_tls_set_filter(mailstream *s, int (*filter)(void *arg, const char *data, size_t len),
		       void *arg);

/* Why s failed: PQ_TLS_OK while it works. */
enum pq_tls_fail pq_tls_failure(mailstream *s);

/*
 * libetpan and GnuTLS write with send() without MSG_NOSIGNAL, so a peer
 * that went away would kill the process with SIGPIPE. Block it in the
 * calling thread around the network work and restore the mask after: one
 * SIGPIPE raised meanwhile (and not pending before) is swallowed.
 */
struct pq_tls_sigpipe {
	sigset_t old;
	int was_pending;
};

void pq_tls_sigpipe_block(struct pq_tls_sigpipe *g);
void pq_tls_sigpipe_restore(struct pq_tls_sigpipe *g);

#endif
