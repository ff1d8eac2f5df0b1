/*
 * imap: one IMAP session (libetpan) that a mail source reads from.
 *
 * Connects with implicit TLS, STARTTLS or (on loopback only) plain text,
 * verifies the server's certificate chain and name itself with libcrypto,
 * logs in, examines one mailbox and fetches new messages by UID in chunks,
 * raw bytes untouched, for ingest. For push, IDLE hands the socket to the
 * caller's event loop. The source cursor is (UIDVALIDITY, last UID).
 *
 * Every wait on the network (connect, TLS handshake, each read or write) is
 * bounded by the configured timeout, and each command's whole answer by a
 * deadline (twice the timeout, plus a second per 64 KiB of bodies it
 * carries) so a server that trickles cannot hold the caller; name
 * resolution too (it runs on a thread of its own, given up on at the
 * timeout or a stop). A silent, vanished or trickling
 * server ends the call with PQ_EIO and leaves the session dead (only
 * pq_imap_free() is then useful). A connection the peer closed fails at
 * once, whatever libetpan was reading.
 *
 * What a server sends is bounded: a literal announced over the limit
 * ("{4000000000}") is refused before a byte of it is read, and each answer
 * has a budget of bytes (16 MiB for ordinary commands; for bodies, twice
 * their announced sizes plus twice the message limit). Past a bound the
 * call fails with PQ_EIO naming it, and the session is dead.
 *
 * The socket is registered with the process-wide stop (stop.h): once a
 * stop is requested, whatever the session waits for ends at once (PQ_EIO,
 * "stopping"), so a stopping daemon never waits for a server.
 *
 * libetpan and GnuTLS write with plain send(): so that a vanished peer
 * cannot kill the process with SIGPIPE, these functions block SIGPIPE in the
 * calling thread while they work (and swallow one they caused).
 */
#ifndef PQ_IMAP_H
#define PQ_IMAP_H

#include <stddef.h>
#include <stdint.h>

enum pq_imap_tls {
	PQ_IMAP_TLS_IMPLICIT = 0, /* imaps, the default */
	PQ_IMAP_TLS_STARTTLS,
	PQ_IMAP_TLS_NONE, /* only to a loopback address */
};

struct pq_imap_conf {
	const char *host;
	const char *port; /* NULL: "993" for implicit TLS, "143" otherwise */
	enum pq_imap_tls tls;
	int no_verify;	     /* 1 turns certificate verification OFF; default (0) verifies */
	const char *ca_file; /* PEM CA bundle trusted besides the system store; NULL: system only */
	const char *user;
	const char *password;
	int timeout;	    /* seconds any one wait on the network may last; 0: 60 */
	size_t max_message; /* bytes of one message; 0: pq_mail_default_limits (mail.h) */
};

struct pq_imap;

/*
 * Connects to c->host (every address it resolves to, in order), does TLS as
 * configured and, unless c->no_verify, checks the server's certificate chain
 * against the system store plus c->ca_file and its name (DNS name or IP
 * address) against c->host before any credential is sent; then LOGIN. c is
 * not kept. Plain text (PQ_IMAP_TLS_NONE) is refused unless the connected
 * peer is a loopback address (127.0.0.0/8, ::1). On success *out is the
 * session (pq_imap_free() it). Errors: PQ_EIO (resolution, connection
 * refused, timeout, TLS handshake, "certificate not trusted: REASON", "host
 * name mismatch", an unusable CA file, STARTTLS refused), PQ_EAUTH (login rejected; the message
 * carries the server's text), PQ_EINVAL (missing host/user/password, bad
 * port, plain text to a non-loopback peer).
 */
int pq_imap_connect(struct pq_imap **out, const struct pq_imap_conf *c);

/* 1 when the server advertised IDLE in its capabilities after login. */
int pq_imap_has_idle(const struct pq_imap *im);

/*
 * EXAMINEs mailbox (read only; the name is sent as given, modified UTF-7
 * for non-ASCII) and reports its UIDVALIDITY and UIDNEXT, each 0 when the
 * server did not say. Either pointer may be NULL. PQ_ENOTFOUND when the
 * server refuses the mailbox (with its text), PQ_EIO on network failure.
 */
int pq_imap_select(struct pq_imap *im, const char *mailbox, uint32_t *uidvalidity,
		   uint32_t *uidnext);

/*
 * Calls fn for each message of the selected mailbox whose UID is above
 * after, in ascending UID order, at most max of them (0: all), with its raw
 * bytes as the server returns BODY.PEEK[] (\Seen is not set; IMAP servers
 * end every line with CRLF). raw is valid only during the call, which runs
 * with the caller's signal mask. UIDs come from UID SEARCH (over windows of
 * about 4 * max UIDs when max is given, of 65536 UIDs else, so a big
 * backlog is not listed whole on every call; 4 bytes kept per UID), then
 * UID FETCH asks for RFC822.SIZE, 100 at a time, and for the bodies, at
 * most 100 and about 32 MiB (as announced) at a time.
 *
 * A message announced over the size limit is not fetched: fn gets the
 * start of its header (64 KiB at most, maybe empty) as raw and the reason
 * in refused ("message of N bytes (RFC822.SIZE) is over the limit of M:
 * ..."); refused is NULL for every other message. A message expunged
 * meanwhile is skipped. Stops at the first non-zero value fn returns and
 * returns it; else 0, PQ_EINVAL when no mailbox is selected or the session
 * is idling, PQ_EIO on network or protocol failure, or an answer past its
 * bounds (a body's literal over twice the limit though its RFC822.SIZE was
 * within it, for one: pq_imap_lied() then says which message, for the
 * caller to pq_imap_distrust() it in the next session).
 */
int pq_imap_fetch_since(struct pq_imap *im, uint32_t after, size_t max,
			int (*fn)(const char *raw, size_t len, uint32_t uid, const char *refused,
				  void *arg),
			void *arg);

/*
 * After pq_imap_fetch_since() failed because the server sent a body as a
 * literal over twice the limit though its RFC822.SIZE was within it (the
 * literal refused unread, the session dead): the UID of that message, and
 * the literal's announced size in *size; 0 when there was none, or when
 * several bodies were asked at once and the FETCH line did not say whose
 * it was (then *batch is 1). The session is gone, but the caller keeps
 * this for the next one.
 */
uint32_t pq_imap_lied(const struct pq_imap *im, unsigned long long *size, int *batch);

/*
 * For the fetches of the session im: message uid (0: none) lied about its
 * size (a literal of size bytes): it is not fetched at all, fn gets it with
 * no bytes and the reason, so it is on record and the cursor moves past
 * it; with one_by_one, bodies are asked one message at a time (so that a
 * lie is pinned to one UID).
 */
void pq_imap_distrust(struct pq_imap *im, uint32_t uid, unsigned long long size, int one_by_one);

/*
 * Enters IDLE on the selected mailbox and returns the socket to watch for
 * readability (borrowed: do not close it; it stays valid until
 * pq_imap_free()), or PQ_EINVAL (no IDLE capability, nothing selected,
 * already idling) or PQ_EIO. *pending is set to 1 when the server's data
 * is already buffered in the session, or when the server announced new
 * mail after the last EXAMINE or fetch's UID SEARCH (in the answer to a later
 * command, so it will not say it again), so the caller should not wait on
 * the fd but call pq_imap_idle_done() at once; else 0. Only
 * pq_imap_idle_done() and pq_imap_free() may follow.
 */
int pq_imap_idle_start(struct pq_imap *im, int *pending);

/*
 * Leaves IDLE (DONE) and reads the server's completion, with whatever
 * untagged news came meanwhile, within the deadline of any command; fetch
 * again after it. 0, PQ_EINVAL when not idling, PQ_EIO.
 */
int pq_imap_idle_done(struct pq_imap *im);

/* NOOP: keeps the session alive and checks it is. 0 or PQ_EIO. */
int pq_imap_noop(struct pq_imap *im);

/*
 * Ends the session: DONE when idling, LOGOUT when the connection is alive
 * (each bounded by the timeout), then closes and frees. NULL is fine.
 */
void pq_imap_free(struct pq_imap *im);

#endif
