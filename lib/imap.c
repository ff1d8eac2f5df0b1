/*
 * imap: one IMAP session over libetpan (see imap.h).
 *
 * The connection, TLS and the check of the server's certificate come from
 * tls.c; libetpan runs the protocol. The certificate is checked before
 * LOGIN; any doubt fails the connect.
 */
#include "imap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "alloc.h"
#include "error.h"
#include "tls.h"

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
	int fd, loopback = 0, preauth, r;

	if (port == NULL)
		port = c->tls == PQ_IMAP_TLS_IMPLICIT ? "993" : "143";
	if (c->tls != PQ_IMAP_TLS_IMPLICIT && c->tls != PQ_IMAP_TLS_STARTTLS &&
	    c->tls != PQ_IMAP_TLS_NONE)
		return pq_error_set(PQ_EINVAL, "IMAP %s: unknown TLS mode %d", im->host, c->tls);

	fd = pq_tls_dial("IMAP", im->host, port, (int)im->timeout, &loopback);
	if (fd < 0)
		return fd;
	if (c->tls == PQ_IMAP_TLS_NONE && !loopback) {
		close(fd);
		return pq_error_set(PQ_EINVAL,
				    "IMAP %s: refusing to send the password in clear text to a "
				    "non-loopback address; use implicit TLS or STARTTLS",
				    im->host);
	}

	r = pq_tls_open(&stream, fd, c->tls == PQ_IMAP_TLS_IMPLICIT, "IMAP", im->host,
			(int)im->timeout);
	if (r < 0)
		return r;
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
		       struct pq_tls_sigpipe *guard)
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
		pq_tls_sigpipe_restore(guard);
		ret = fn(got[i].raw, got[i].len, got[i].uid, arg);
		pq_tls_sigpipe_block(guard);
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

int pq_imap_idle_start(struct pq_imap *im, int *pending)
{
	struct pq_tls_sigpipe guard;
	int r;

	*pending = 0;
	r = check_usable(im, "IDLE");
	if (r < 0)
		return r;
	if (!im->selected)
		return pq_error_set(PQ_EINVAL, "IMAP %s: IDLE: no mailbox selected", im->host);
	if (!im->has_idle)
		return pq_error_set(PQ_EINVAL, "IMAP %s: server does not support IDLE", im->host);
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
	*pending = im->imap->imap_stream->read_buffer_len > 0;
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
	free(im->host);
	free(im);
}
