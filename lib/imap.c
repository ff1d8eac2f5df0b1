/*
 * imap: one IMAP session over libetpan (see imap.h).
 *
 * The connection, TLS and the check of the server's certificate come from
 * tls.c; libetpan runs the protocol. The certificate is checked before
 * LOGIN; any doubt fails the connect.
 */
#include "imap.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "imapcode.h"
#include "mail.h"
#include "tls.h"

/* Messages per UID FETCH: bounds the bodies held in memory at once. */
#define FETCH_CHUNK 100
/* Bytes of bodies per UID FETCH, as the server announced their sizes (one message at least). */
#define FETCH_BYTES (32u << 20)
/* Bytes any answer but one carrying bodies may take: lines, and literals in them. */
#define ANSWER_MAX (16u << 20)
/* What is kept of a message over the size limit: the start of its header. */
#define HEADER_KEEP 65536
/* UIDs per UID SEARCH when no maximum is given: bounds the "* SEARCH" line. */
#define SEARCH_WINDOW 65536
/* Bytes per second a server sending bodies must keep up, on top of the timeout. */
#define MIN_RATE (64 * 1024)
#define DEFAULT_TIMEOUT 60
/*
 * Bytes of a line's start kept to screen its response code (imapcode.h):
 * a code not closed within them is refused (the longest real ones, a
 * CAPABILITY list, take some 500).
 */
#define HEAD_MAX 8192

struct pq_imap {
	mailimap *imap;
	char *host;
	time_t timeout;
	size_t max_message; /* bytes of one message */
	int dead;	    /* the stream failed: no command may follow */
	int selected;
	int idling;
	int has_idle;

	/* the operation at hand: what the server may send before it is refused */
	unsigned long long op_read; /* bytes read from the network since it began */
	unsigned long long op_budget;
	unsigned long long op_literal; /* bytes one literal may announce */
	long op_seconds;	       /* it must end within */
	struct pq_buf why;	       /* why filter() refused, for the message */

	/* where the server's byte stream stands in IMAP's syntax (filter()) */
	unsigned long long lit_left; /* bytes of a literal still to come */
	char tail[32];		     /* the end of the line read so far */
	size_t ntail;
	/* a body the server announced small and sent huge (pq_imap_lied()) */
	int in_bodies;	      /* fetch_bodies() is asking */
	uint32_t batch_first; /* and for these */
	size_t batch_n;
	uint32_t lied;		      /* the UID whose literal was refused, 0: none or unknown */
	int lied_batch;		      /* refused in a batch of several, UID unknown */
	unsigned long long lied_size; /* the literal it announced */
	uint32_t distrust;	      /* pq_imap_distrust(): not fetched, on record */
	unsigned long long distrust_size;
	int one_by_one;	     /* bodies one message at a time */
	char head[HEAD_MAX]; /* the start of the line, up to a literal (imapcode.h) */
	size_t nhead;
	int head_cut;	   /* the line went on past head */
	int after_literal; /* the line read so far announced a literal: what
			      follows it is no line start */
};

/* ---- bounds on what the server sends ---- */

/*
 * When the line read so far, t[0..len), ends in a literal's announcement,
 * "{N}" and CRLF (or two spaces: libetpan takes those for CRLF, for Lotus
 * Domino), sets *n and returns 1 for CRLF, 2 for the spaces; else 0. A
 * number too long for the tail kept counts as more than anyone allows.
 */
static int literal_announced(const char *t, size_t len, size_t cap, unsigned long long *n)
{
	size_t i, digits = 0;
	int kind;

	if (len < 4 || t[len - 3] != '}')
		return 0;
	if (t[len - 2] == '\r' && t[len - 1] == '\n')
		kind = 1;
	else if (t[len - 2] == ' ' && t[len - 1] == ' ')
		kind = 2;
	else
		return 0;
	for (i = len - 3; i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9'; i--)
		digits++;
	if (digits == 0)
		return 0;
	if (i == 0 && len == cap) { /* the digits fill the tail: far too many */
		*n = ~0ULL;
		return kind;
	}
	if (i == 0 || t[i - 1] != '{')
		return 0;
	*n = 0;
	for (; i < len - 3; i++) {
		if (*n > (~0ULL - 9) / 10) {
			*n = ~0ULL;
			return kind;
		}
		*n = *n * 10 + (unsigned long long)(t[i] - '0');
	}
	return kind;
}

/*
 * A body's literal over the limit while bodies whose RFC822.SIZE was within
 * it are fetched: which message lied, from "UID N" in its FETCH line before
 * the literal, else the batch's one message; size is what it announced.
 */
static void note_liar(struct pq_imap *im, unsigned long long size)
{
	size_t i;

	im->lied = 0;
	im->lied_batch = 0;
	im->lied_size = size;
	for (i = 0; i + 4 < im->nhead; i++) {
		unsigned long long uid = 0;
		size_t k = i + 4;

		if (strncasecmp(im->head + i, "UID ", 4) ||
		    (i && im->head[i - 1] != ' ' && im->head[i - 1] != '('))
			continue;
		while (k < im->nhead && im->head[k] >= '0' && im->head[k] <= '9' &&
		       uid <= UINT32_MAX)
			uid = uid * 10 + (unsigned long long)(im->head[k++] - '0');
		if (k > i + 4 && uid > 0 && uid <= UINT32_MAX) {
			im->lied = (uint32_t)uid;
			return;
		}
	}
	if (im->batch_n == 1)
		im->lied = im->batch_first;
	else
		im->lied_batch = 1;
}

/*
 * Shows the line start kept in head to the response-code screen when the
 * line, or its part before a literal, ended with the byte just read: a
 * malformed code is refused before libetpan, which parses a line only once
 * its CRLF has come, can read it. literal: the part ended in "{N}" CRLF.
 */
static int screen_line(struct pq_imap *im, int literal)
{
	const char *bad = NULL;
	size_t len = im->nhead;

	if (!im->after_literal) {
		if (!im->head_cut) /* the line's end: CRLF, or LF alone */
			len -= im->head[len - 1] == '\n' ? 1 : 0;
		if (!im->head_cut && len && im->head[len - 1] == '\r')
			len--;
		bad = pq_imap_code_check(im->head, len);
	}
	im->nhead = 0;
	im->head_cut = 0;
	im->after_literal = literal;
	if (bad == NULL)
		return 0;
	pq_buf_reset(&im->why);
	pq_buf_addf(&im->why, "the server sent %s (refused)", bad);
	return -1;
}

/*
 * Sees every byte the server sends before libetpan does (tls.h). It
 * follows IMAP's syntax, lines and the literals they announce, so that a
 * literal announced bigger than the operation allows is refused before
 * libetpan reads its announcement (libetpan would reserve the announced
 * size at once, and read it all), an answer past its budget of bytes is
 * cut, a line's response code is screened (screen_line()) and a NUL
 * byte outside a literal refused.
 */
static int filter(void *arg, const char *p, size_t n)
{
	struct pq_imap *im = arg;
	unsigned long long len;
	size_t k;
	int kind;

	im->op_read += n;
	if (im->op_read > im->op_budget) {
		pq_buf_reset(&im->why);
		pq_buf_addf(&im->why, "answer over %llu bytes (refused)", im->op_budget);
		return -1;
	}
	while (n > 0) {
		if (im->lit_left > 0) {
			k = n < im->lit_left ? n : (size_t)im->lit_left;
			p += k;
			n -= k;
			im->lit_left -= k;
			continue;
		}
		if (*p == '\0') {
			/* IMAP has no NUL outside literals, and libetpan reads lines as C
			 * strings: a line cut at one is not the line that was sent */
			pq_buf_reset(&im->why);
			pq_buf_adds(&im->why,
				    "the server sent a NUL byte outside a literal (refused)");
			return -1;
		}
		if (im->ntail == sizeof(im->tail))
			memmove(im->tail, im->tail + 1, --im->ntail);
		im->tail[im->ntail++] = *p;
		if (im->nhead < sizeof(im->head))
			im->head[im->nhead++] = *p;
		else
			im->head_cut = 1;
		p++;
		n--;
		kind = literal_announced(im->tail, im->ntail, sizeof(im->tail), &len);
		/* a "{N}" ending a status line is text to libetpan, not a literal */
		if (kind == 1 && !im->after_literal && pq_imap_line_is_text(im->head, im->nhead))
			kind = 0;
		if (kind && len > im->op_literal) {
			if (im->in_bodies)
				note_liar(im, len);
			pq_buf_reset(&im->why);
			pq_buf_addf(&im->why,
				    "the server announced a literal of %llu bytes, over the limit "
				    "of %llu (refused before reading it)",
				    len, im->op_literal);
			return -1;
		}
		if (kind == 1) {
			im->lit_left = len;
			im->ntail = 0;
			if (screen_line(im, 1) < 0)
				return -1;
		} else if (im->tail[im->ntail - 1] == '\n') {
			im->ntail = 0;
			if (screen_line(im, 0) < 0)
				return -1;
		}
	}
	return 0;
}

/*
 * Starts an operation that may read budget bytes, with literals of at most
 * literal bytes, and must end within seconds (each wait within the timeout).
 */
static void op_start(struct pq_imap *im, unsigned long long budget, unsigned long long literal,
		     long seconds)
{
	mailstream *s = im->imap->imap_stream;

	im->op_budget = budget;
	im->op_literal = literal;
	im->op_seconds = seconds;
	im->op_read = 0;
	if (s == NULL)
		return;
	pq_tls_deadline(s, seconds > INT32_MAX ? INT32_MAX : (int)seconds);
}

/* An ordinary command: a small answer, within twice the timeout. */
static void op_begin(struct pq_imap *im)
{
	op_start(im, ANSWER_MAX, im->max_message, 2 * (long)im->timeout);
}

/* ---- errors ---- */

/*
 * Turns libetpan's code r for the step what into a PQ_E* code and message.
 * Failures of the stream or of parsing leave the session dead: its state is
 * unknown, so nothing more may be sent on it.
 */
static int session_error(struct pq_imap *im, int r, const char *what)
{
	const char *text = im->imap->imap_response;
	mailstream *s = im->imap->imap_stream;

	if (text == NULL || text[0] == '\0')
		text = "no reason given";
	/* the connection's own failure says best what went wrong */
	switch (s ? pq_tls_failure(s) : PQ_TLS_OK) {
	case PQ_TLS_OK:
		break;
	case PQ_TLS_CLOSED:
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: %s: connection closed by the server",
				    im->host, what);
	case PQ_TLS_TIMEOUT:
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: %s: no answer within %ld s (timed out)",
				    im->host, what, (long)im->timeout);
	case PQ_TLS_DEADLINE:
		im->dead = 1;
		return pq_error_set(PQ_EIO,
				    "IMAP %s: %s: answer not complete within %ld s (timed out; the "
				    "server sends too slowly)",
				    im->host, what, im->op_seconds);
	case PQ_TLS_STOPPED:
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: %s: connection cut (stopping)", im->host,
				    what);
	case PQ_TLS_REFUSED:
		im->dead = 1;
		return pq_error_set(PQ_EIO, "IMAP %s: %s: %s", im->host, what,
				    pq_buf_str(&im->why));
	}
	switch (r) {
	case MAILIMAP_ERROR_STREAM:
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
		im->dead = 1;
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

/* Runs STARTTLS and swaps the session's plain stream for a TLS one. */
static int starttls(struct pq_imap *im)
{
	int r;

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
	r = pq_tls_starttls(im->imap->imap_stream, "IMAP", im->host, (int)im->timeout);
	if (r < 0)
		im->dead = 1;
	return r;
}

/* ---- session ---- */

/*
 * Reads the capability list libetpan keeps from the last answer that had
 * one. A server decides its shape ("[CAPABILITY]" with nothing in it, no
 * list at all), so every pointer is checked here rather than trusted.
 */
static int has_capability(struct pq_imap *im, const char *name)
{
	struct mailimap_connection_info *ci = im->imap->imap_connection_info;
	clistiter *it;

	if (ci == NULL || ci->imap_capability == NULL || ci->imap_capability->cap_list == NULL)
		return 0;
	for (it = clist_begin(ci->imap_capability->cap_list); it; it = clist_next(it)) {
		const struct mailimap_capability *cap = clist_content(it);

		if (cap != NULL && cap->cap_type == MAILIMAP_CAPABILITY_NAME &&
		    cap->cap_data.cap_name != NULL && strcasecmp(cap->cap_data.cap_name, name) == 0)
			return 1;
	}
	return 0;
}

static int login(struct pq_imap *im, const struct pq_imap_conf *c)
{
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
	/*
	 * Capabilities change with login; ask rather than trust the old list.
	 * Not through mailimap_capability(): it copies whatever list the
	 * server last left behind, and a server that left none, an empty
	 * "[CAPABILITY]" or a list freed by a later answer crashes it. The
	 * plain command lets the answer update the list has_capability()
	 * reads with its own checks.
	 */
	op_begin(im);
	r = mailimap_custom_command(im->imap, "CAPABILITY");
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "CAPABILITY");
	im->has_idle = has_capability(im, "IDLE");
	return 0;
}

static int session_open(struct pq_imap *im, const struct pq_imap_conf *c)
{
	const char *port = c->port;
	mailstream *stream;
	int fd, loopback = 0, preauth, r;

	if (port == NULL)
		port = c->tls == PQ_IMAP_TLS_IMPLICIT ? "993" : "143";
	if (c->tls != PQ_IMAP_TLS_IMPLICIT && c->tls != PQ_IMAP_TLS_STARTTLS &&
	    c->tls != PQ_IMAP_TLS_NONE)
		return pq_error_set(PQ_EINVAL, "IMAP %s: unknown TLS mode %d", im->host, c->tls);

	fd = pq_tls_dial("IMAP", im->host, port, (int)im->timeout, PQ_TLS_STOPPABLE, &loopback);
	if (fd < 0)
		return fd;
	if (c->tls == PQ_IMAP_TLS_NONE && !loopback) {
		pq_tls_close_fd(fd);
		return pq_error_set(PQ_EINVAL,
				    "IMAP %s: refusing to send the password in clear text to a "
				    "non-loopback address; use implicit TLS or STARTTLS",
				    im->host);
	}

	r = pq_tls_open(&stream, fd, c->tls == PQ_IMAP_TLS_IMPLICIT, "IMAP", im->host,
			(int)im->timeout);
	if (r < 0)
		return r;
	pq_tls_set_filter(stream, filter, im);
	/* the greeting: mailimap_connect() attaches the stream, so op_begin() cannot see it */
	op_begin(im);
	pq_tls_deadline(stream, 2 * (int)im->timeout);
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
		r = pq_tls_verify(im->imap->imap_stream, "IMAP", im->host, c->ca_file);
		if (r < 0) {
			im->dead = 1; /* never say a word more to an unverified server */
			/* imap.h promises PQ_EIO for a refused certificate. */
			return r == PQ_EPERM ? PQ_EIO : r;
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
	struct pq_tls_sigpipe guard;
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
	im->max_message = c->max_message ? c->max_message : pq_mail_default_limits.max_size;
	im->imap = mailimap_new(0, NULL);
	if (im->imap == NULL) {
		free(im->host);
		free(im);
		return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", c->host);
	}
	mailimap_set_timeout(im->imap, im->timeout);

	pq_tls_sigpipe_block(&guard);
	r = session_open(im, c);
	pq_tls_sigpipe_restore(&guard);
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
	struct pq_tls_sigpipe guard;
	int r;

	r = check_usable(im, "EXAMINE");
	if (r < 0)
		return r;
	im->selected = 0;
	pq_tls_sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_examine(im->imap, mailbox);
	pq_tls_sigpipe_restore(&guard);
	if (r == MAILIMAP_ERROR_EXAMINE) {
		const char *text = im->imap->imap_response;

		return pq_error_set(PQ_ENOTFOUND, "IMAP %s: cannot examine mailbox %s: %s",
				    im->host, mailbox, text && text[0] ? text : "no reason given");
	}
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "EXAMINE");
	sel = im->imap->imap_selection_info;
	if (sel != NULL) /* what EXAMINE says is the state, not news (pq_imap_idle_start()) */
		sel->sel_has_exists = 0;
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
 * does not make the server list the million each time; without one,
 * windows of SEARCH_WINDOW UIDs keep each answer small. The window that
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
	/* without a bound, windows all the same keep each answer small */
	window = max ? 4 * (uint64_t)max : SEARCH_WINDOW;
	if (window < 256)
		window = 256;
	/* an EXISTS from now on is news the search may miss (pq_imap_idle_start()) */
	if (im->imap->imap_selection_info != NULL)
		im->imap->imap_selection_info->sel_has_exists = 0;
	for (;;) {
		hi = top == 0 || lo + window >= top ? 0 : (uint32_t)(lo + window - 1);
		r = search_range(im, (uint32_t)lo, hi, &uids, &n, &cap);
		if (r < 0) {
			free(uids);
			return r;
		}
		if (hi == 0 || (max != 0 && n >= max))
			break;
		lo = (uint64_t)hi + 1;
		if (max != 0)
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
	uint32_t size; /* RFC822.SIZE */
	const char *raw;
	size_t len;
};

static int fetched_cmp(const void *a, const void *b)
{
	return uid_cmp(&((const struct fetched *)a)->uid, &((const struct fetched *)b)->uid);
}

/*
 * Finds the UID, and the RFC822.SIZE or the BODY[...] (as want says), of
 * one FETCH response; 0 when either is missing.
 */
static int fetched_parse(struct mailimap_msg_att *att, int want, struct fetched *f)
{
	clistiter *it;
	int have_uid = 0, have = 0;

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
		} else if (st->att_type == want && want == MAILIMAP_MSG_ATT_RFC822_SIZE) {
			f->size = st->att_data.att_rfc822_size;
			have = 1;
		} else if (st->att_type == want && st->att_data.att_body_section != NULL) {
			struct mailimap_msg_att_body_section *sec = st->att_data.att_body_section;

			/* NIL is an empty message, not a lost one. */
			f->raw = sec->sec_body_part ? sec->sec_body_part : "";
			f->len = sec->sec_body_part ? sec->sec_length : 0;
			have = 1;
		}
	}
	return have_uid && have;
}

typedef int (*fetch_fn)(const char *raw, size_t len, uint32_t uid, const char *refused, void *arg);

/* A UID set for uids[0..n) (ascending), ranges joined. NULL when out of memory. */
static struct mailimap_set *uid_set(const uint32_t *uids, size_t n)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	size_t i, start;

	if (set == NULL)
		return NULL;
	for (start = 0, i = 1; i <= n; i++) {
		if (i < n && uids[i] == uids[i - 1] + 1)
			continue;
		if (mailimap_set_add_interval(set, uids[start], uids[i - 1]) != MAILIMAP_NO_ERROR) {
			mailimap_set_free(set);
			return NULL;
		}
		start = i;
	}
	return set;
}

/*
 * UID FETCHes (UID att) for uids[0..n) and collects, in ascending UID order
 * without repeats, the answers for those UIDs that carry want (see
 * fetched_parse()) into *got (free() it; the bytes point into *result,
 * mailimap_fetch_list_free() it). Unsolicited FETCH answers (flag changes)
 * are skipped, and so is a message expunged meanwhile.
 */
static int fetch_list(struct pq_imap *im, const uint32_t *uids, size_t n,
		      struct mailimap_fetch_att *att, int want, clist **result,
		      struct fetched **got, size_t *ngot)
{
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_fetch_att *uid_att = NULL;
	struct mailimap_set *set = uid_set(uids, n);
	clistiter *it;
	size_t i, k = 0;
	int r;

	*result = NULL;
	*got = NULL;
	*ngot = 0;
	if (ft == NULL || set == NULL)
		goto nomem;
	uid_att = mailimap_fetch_att_new_uid();
	if (uid_att == NULL || mailimap_fetch_type_new_fetch_att_list_add(ft, uid_att) != 0)
		goto nomem;
	uid_att = NULL;
	if (mailimap_fetch_type_new_fetch_att_list_add(ft, att) != 0)
		goto nomem;
	att = NULL;

	r = mailimap_uid_fetch(im->imap, set, ft, result);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "UID FETCH");

	*got = pq_reallocarray(NULL, (*result ? clist_count(*result) : 0) + 1, sizeof(**got));
	for (it = *result ? clist_begin(*result) : NULL; it != NULL; it = clist_next(it)) {
		struct fetched f = { 0, 0, NULL, 0 };

		if (fetched_parse(clist_content(it), want, &f) &&
		    bsearch(&f.uid, uids, n, sizeof(*uids), uid_cmp) != NULL)
			(*got)[k++] = f;
	}
	if (k > 1)
		qsort(*got, k, sizeof(**got), fetched_cmp);
	for (i = 0, *ngot = 0; i < k; i++)
		if (*ngot == 0 || (*got)[*ngot - 1].uid != (*got)[i].uid)
			(*got)[(*ngot)++] = (*got)[i];
	return 0;

nomem:
	if (uid_att != NULL)
		mailimap_fetch_att_free(uid_att);
	if (att != NULL)
		mailimap_fetch_att_free(att);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
}

/* BODY.PEEK[] or, with partial, BODY.PEEK[HEADER]<0.partial>; NULL when out of memory. */
static struct mailimap_fetch_att *body_att(uint32_t partial)
{
	struct mailimap_section *section = partial ? mailimap_section_new_header()
						   : mailimap_section_new(NULL);
	struct mailimap_fetch_att *att;

	if (section == NULL)
		return NULL;
	att = partial ? mailimap_fetch_att_new_body_peek_section_partial(section, 0, partial)
		      : mailimap_fetch_att_new_body_peek_section(section);
	if (att == NULL)
		mailimap_section_free(section);
	return att;
}

/* Hands got[0..n) to fn in order, with the caller's signal mask; stops at its first non-zero. */
static int hand_out(const struct fetched *got, size_t n, const char *refused, fetch_fn fn,
		    void *arg, struct pq_tls_sigpipe *guard)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n && ret == 0; i++) {
		pq_tls_sigpipe_restore(guard);
		ret = fn(got[i].raw, got[i].len, got[i].uid, refused, arg);
		pq_tls_sigpipe_block(guard);
	}
	return ret;
}

/*
 * The RFC822.SIZE of uids[0..n) (ascending) into *out (free() it), in UID
 * order; expunged messages are missing.
 */
static int fetch_sizes(struct pq_imap *im, const uint32_t *uids, size_t n, struct fetched **out,
		       size_t *nout)
{
	struct mailimap_fetch_att *att = mailimap_fetch_att_new_rfc822_size();
	clist *result;
	int r;

	if (att == NULL)
		return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
	op_begin(im);
	r = fetch_list(im, uids, n, att, MAILIMAP_MSG_ATT_RFC822_SIZE, &result, out, nout);
	if (result != NULL)
		mailimap_fetch_list_free(result);
	return r;
}

/*
 * UID FETCHes BODY.PEEK[] of the messages of m[0..n) (ascending, their
 * sizes announced) and hands them out in order. The answer may take twice
 * the announced bytes (a server may count line ends its own way) and one
 * message up to twice the limit more; each literal at most twice the limit
 * (ingest keeps one over the limit as unparsable).
 */
static int fetch_bodies(struct pq_imap *im, const struct fetched *m, size_t n, fetch_fn fn,
			void *arg, struct pq_tls_sigpipe *guard)
{
	unsigned long long announced = 0, budget;
	struct mailimap_fetch_att *att = body_att(0);
	struct fetched *got = NULL;
	clist *result = NULL;
	uint32_t *uids;
	size_t i, ngot;
	int r;

	if (att == NULL)
		return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
	uids = pq_reallocarray(NULL, n, sizeof(*uids));
	for (i = 0; i < n; i++) {
		uids[i] = m[i].uid;
		announced += m[i].size;
	}
	budget = 2 * announced + 2 * (unsigned long long)im->max_message + (1u << 20);
	op_start(im, budget, 2 * (unsigned long long)im->max_message,
		 2 * (long)im->timeout + (long)((2 * announced) / MIN_RATE));
	im->in_bodies = 1;
	im->batch_first = uids[0];
	im->batch_n = n;
	r = fetch_list(im, uids, n, att, MAILIMAP_MSG_ATT_BODY_SECTION, &result, &got, &ngot);
	im->in_bodies = 0;
	free(uids);
	if (r == 0)
		r = hand_out(got, ngot, NULL, fn, arg, guard);
	free(got);
	if (result != NULL)
		mailimap_fetch_list_free(result);
	return r;
}

/*
 * A message whose announced size is over the limit: not fetched. The start
 * of its header (HEADER_KEEP bytes at most) goes to fn with the reason, so
 * that what was left out is on record.
 */
static int fetch_refused(struct pq_imap *im, const struct fetched *m, fetch_fn fn, void *arg,
			 struct pq_tls_sigpipe *guard)
{
	struct mailimap_fetch_att *att = body_att(HEADER_KEEP);
	struct fetched *got = NULL;
	struct pq_buf why = PQ_BUF_INIT;
	clist *result = NULL;
	size_t ngot;
	int r;

	if (att == NULL)
		return pq_error_set(PQ_ERROR, "IMAP %s: out of memory", im->host);
	op_start(im, ANSWER_MAX, 2 * HEADER_KEEP, 2 * (long)im->timeout);
	r = fetch_list(im, &m->uid, 1, att, MAILIMAP_MSG_ATT_BODY_SECTION, &result, &got, &ngot);
	if (r == 0) {
		pq_buf_addf(&why,
			    "message of %" PRIu32 " bytes (RFC822.SIZE) is over the limit of %zu: "
			    "not fetched, only the start of its header is kept",
			    m->size, im->max_message);
		r = hand_out(got, ngot, why.ptr, fn, arg, guard);
	}
	pq_buf_free(&why);
	free(got);
	if (result != NULL)
		mailimap_fetch_list_free(result);
	return r;
}

/*
 * The message that lied about its size (pq_imap_distrust()): nothing of it
 * is asked again (a server that lies once may lie about its header too);
 * fn gets no bytes and the reason, so it is on record.
 */
static int distrusted(struct pq_imap *im, const struct fetched *m, fetch_fn fn, void *arg,
		      struct pq_tls_sigpipe *guard)
{
	struct fetched none = { m->uid, m->size, "", 0 };
	struct pq_buf why = PQ_BUF_INIT;
	int r;

	pq_buf_addf(&why,
		    "message of %" PRIu32 " bytes (RFC822.SIZE) came as a literal of %llu "
		    "bytes, over the limit of %zu: not fetched, nothing of it is kept",
		    m->size, im->distrust_size, im->max_message);
	r = hand_out(&none, 1, why.ptr, fn, arg, guard);
	pq_buf_free(&why);
	return r;
}

/*
 * Fetches uids[0..n) (ascending): their sizes first, then the bodies of
 * those within the limit in batches of FETCH_BYTES announced bytes, in UID
 * order with the refused ones between them.
 */
static int fetch_chunk(struct pq_imap *im, const uint32_t *uids, size_t n, fetch_fn fn, void *arg,
		       struct pq_tls_sigpipe *guard)
{
	struct fetched *m = NULL;
	unsigned long long bytes;
	size_t nm, i, j;
	int r;

	r = fetch_sizes(im, uids, n, &m, &nm);
	for (i = 0; r == 0 && i < nm; i = j) {
		j = i + 1;
		if (m[i].uid == im->distrust) {
			r = distrusted(im, &m[i], fn, arg, guard);
			continue;
		}
		if (m[i].size > im->max_message) {
			r = fetch_refused(im, &m[i], fn, arg, guard);
			continue;
		}
		bytes = m[i].size;
		for (; j < nm && !im->one_by_one && m[j].uid != im->distrust &&
		       m[j].size <= im->max_message && bytes + m[j].size <= FETCH_BYTES;
		     j++)
			bytes += m[j].size;
		r = fetch_bodies(im, m + i, j - i, fn, arg, guard);
	}
	free(m);
	return r;
}

int pq_imap_fetch_since(struct pq_imap *im, uint32_t after, size_t max, fetch_fn fn, void *arg)
{
	struct pq_tls_sigpipe guard;
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
	pq_tls_sigpipe_block(&guard);
	r = search_since(im, after, max, &uids, &n);
	if (r == 0 && max != 0 && n > max)
		n = max;
	for (i = 0; r == 0 && i < n; i += FETCH_CHUNK)
		r = fetch_chunk(im, uids + i, n - i < FETCH_CHUNK ? n - i : FETCH_CHUNK, fn, arg,
				&guard);
	pq_tls_sigpipe_restore(&guard);
	free(uids);
	return r;
}

uint32_t pq_imap_lied(const struct pq_imap *im, unsigned long long *size, int *batch)
{
	*size = im->lied_size;
	*batch = im->lied_batch;
	return im->lied;
}

void pq_imap_distrust(struct pq_imap *im, uint32_t uid, unsigned long long size, int one_by_one)
{
	im->distrust = uid;
	im->distrust_size = size;
	im->one_by_one = one_by_one;
}

int pq_imap_idle_start(struct pq_imap *im, int *pending)
{
	struct mailimap_selection_info *sel = im->imap->imap_selection_info;
	struct pq_tls_sigpipe guard;
	int news;
	int r;

	*pending = 0;
	r = check_usable(im, "IDLE");
	if (r < 0)
		return r;
	if (!im->selected)
		return pq_error_set(PQ_EINVAL, "IMAP %s: IDLE: no mailbox selected", im->host);
	if (!im->has_idle)
		return pq_error_set(PQ_EINVAL, "IMAP %s: server does not support IDLE", im->host);
	/*
	 * Mail delivered after the last EXAMINE or UID SEARCH was announced
	 * ("* N EXISTS") in the answer to a later command, and will not be
	 * again: it is news all the same (mailimap_idle() forgets it).
	 */
	news = sel != NULL && sel->sel_has_exists;
	pq_tls_sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_idle(im->imap);
	pq_tls_sigpipe_restore(&guard);
	if (r != MAILIMAP_NO_ERROR) {
		/* libetpan says PARSE when a tagged answer came instead of "+". */
		if (r == MAILIMAP_ERROR_PARSE && !im->dead && im->imap->imap_response != NULL)
			return pq_error_set(PQ_EIO, "IMAP %s: IDLE refused by the server: %s",
					    im->host, im->imap->imap_response);
		return session_error(im, r, "IDLE");
	}
	im->idling = 1;
	/* What arrived with the "+ idling" line sits in libetpan's buffer. */
	*pending = news || im->imap->imap_stream->read_buffer_len > 0;
	return mailimap_idle_get_fd(im->imap);
}

int pq_imap_idle_done(struct pq_imap *im)
{
	struct pq_tls_sigpipe guard;
	int r;

	if (im->dead)
		return pq_error_set(PQ_EIO, "IMAP %s: DONE: the connection is closed; reconnect",
				    im->host);
	if (!im->idling)
		return pq_error_set(PQ_EINVAL, "IMAP %s: DONE: not idling", im->host);
	im->idling = 0;
	pq_tls_sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_idle_done(im->imap);
	pq_tls_sigpipe_restore(&guard);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "IDLE DONE");
	return 0;
}

int pq_imap_noop(struct pq_imap *im)
{
	struct pq_tls_sigpipe guard;
	int r;

	r = check_usable(im, "NOOP");
	if (r < 0)
		return r;
	pq_tls_sigpipe_block(&guard);
	op_begin(im);
	r = mailimap_noop(im->imap);
	pq_tls_sigpipe_restore(&guard);
	if (r != MAILIMAP_NO_ERROR)
		return session_error(im, r, "NOOP");
	return 0;
}

void pq_imap_free(struct pq_imap *im)
{
	struct pq_tls_sigpipe guard;

	if (im == NULL)
		return;
	pq_tls_sigpipe_block(&guard);
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
	pq_tls_sigpipe_restore(&guard);
	pq_buf_free(&im->why);
	free(im->host);
	free(im);
}
