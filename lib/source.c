/*
 * source: where mail comes from, behind one interface (see source.h).
 *
 * The readers (mbox.c, maildir.c, pinbox.c, imap.c) know their formats;
 * this file knows positions: which cursor each kind stores, what it reads
 * after it, and when a maildir file may move.
 */
#include "source.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "imap.h"
#include "maildir.h"
#include "mbox.h"
#include "pinbox.h"

/* The progress callback runs every this many messages (a power of two). */
#define PROGRESS_EVERY 256

struct pq_source {
	enum pq_source_kind kind;
	char *path;
	char *name;
	char *watch; /* maildir: PATH/new */
	unsigned flags;
	void (*warn)(void *ctx, const char *msg);
	void (*progress)(void *ctx, const struct pq_ingest_stats *st);
	void *ctx;

	/* imap */
	char *host, *port, *ca_file, *user, *password_file, *credential, *mailbox;
	enum pq_imap_tls tls;
	int no_verify;
	int timeout;
	struct pq_imap *im;
	uint32_t uidvalidity, uidnext;
	/* a message the server announced small and sent huge, not asked for again */
	uint32_t liar;
	unsigned long long liar_size;
	int one_by_one; /* a lie in a batch: ask bodies one at a time to pin it */
	int idle_fd;
};

/* ---- detection ---- */

static int path_is(const char *base, const char *rel, int dir)
{
	struct pq_buf p = PQ_BUF_INIT;
	struct stat st;
	int ok;

	pq_buf_addf(&p, "%s/%s", base, rel);
	ok = stat(p.ptr, &st) == 0 && (!dir || S_ISDIR(st.st_mode));
	pq_buf_free(&p);
	return ok;
}

enum pq_source_kind pq_source_detect(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return PQ_SOURCE_UNKNOWN;
	if (S_ISREG(st.st_mode))
		return PQ_SOURCE_MBOX;
	if (!S_ISDIR(st.st_mode))
		return PQ_SOURCE_UNKNOWN;
	if (path_is(path, "cur", 1) || path_is(path, "new", 1))
		return PQ_SOURCE_MAILDIR;
	if (path_is(path, "git/0.git", 1))
		return PQ_SOURCE_PUBLIC_INBOX;
	/* a bare repository, or a work tree (.git may be a gitfile) */
	if ((path_is(path, "HEAD", 0) && path_is(path, "objects", 1)) || path_is(path, ".git", 0))
		return PQ_SOURCE_PUBLIC_INBOX;
	return PQ_SOURCE_UNKNOWN;
}

/* ---- the source object ---- */

static char *dup_or_null(const char *s)
{
	return s ? pq_strdup(s) : NULL;
}

static enum pq_source_kind kind_of_conf(const struct pq_source_conf *sc)
{
	switch (sc->type) {
	case PQ_SRC_IMAP:
		return PQ_SOURCE_IMAP;
	case PQ_SRC_MAILDIR:
		return PQ_SOURCE_MAILDIR;
	case PQ_SRC_PUBLIC_INBOX:
		return PQ_SOURCE_PUBLIC_INBOX;
	}
	return PQ_SOURCE_UNKNOWN;
}

static void copy_imap_conf(struct pq_source *src, const struct pq_source_conf *sc,
			   const char *mailbox)
{
	src->host = dup_or_null(sc->host);
	src->port = dup_or_null(sc->port);
	src->ca_file = dup_or_null(sc->ca_file);
	src->user = dup_or_null(sc->user);
	src->password_file = dup_or_null(sc->password_file);
	src->credential = dup_or_null(sc->credential);
	src->mailbox = pq_strdup(mailbox ? mailbox : sc->nmailboxes ? sc->mailboxes[0] : "INBOX");
	src->tls = sc->tls == PQ_TLS_STARTTLS ? PQ_IMAP_TLS_STARTTLS
		   : sc->tls == PQ_TLS_NONE   ? PQ_IMAP_TLS_NONE
					      : PQ_IMAP_TLS_IMPLICIT;
	src->no_verify = !sc->verify;
	src->timeout = sc->timeout;
}

int pq_source_open(struct pq_source **out, const struct pq_source_spec *spec)
{
	enum pq_source_kind kind = spec->conf ? kind_of_conf(spec->conf) : spec->kind;
	const char *path = spec->conf ? spec->conf->path : spec->path;
	struct pq_source *src;
	struct pq_buf watch = PQ_BUF_INIT;

	*out = NULL;
	if (!spec->name || !*spec->name)
		return pq_error_set(PQ_EINVAL, "a source needs a name for its cursor");
	if (kind == PQ_SOURCE_UNKNOWN && path)
		kind = pq_source_detect(path);
	if (kind == PQ_SOURCE_UNKNOWN)
		return pq_error_set(PQ_EINVAL, "%s: not an mbox file, maildir or public-inbox",
				    path ? path : spec->name);
	if (kind == PQ_SOURCE_IMAP && !spec->conf)
		return pq_error_set(PQ_EINVAL, "%s: an IMAP source needs its configuration",
				    spec->name);
	if (kind != PQ_SOURCE_IMAP && kind != PQ_SOURCE_STDIN && !path)
		return pq_error_set(PQ_EINVAL, "%s: no path", spec->name);

	src = pq_calloc(1, sizeof(*src));
	src->kind = kind;
	src->path = dup_or_null(kind == PQ_SOURCE_STDIN ? NULL : path);
	src->name = pq_strdup(spec->name);
	src->flags = spec->flags;
	src->warn = spec->warn;
	src->progress = spec->progress;
	src->ctx = spec->ctx;
	src->idle_fd = -1;
	if (kind == PQ_SOURCE_IMAP)
		copy_imap_conf(src, spec->conf, spec->mailbox);
	if (kind == PQ_SOURCE_MAILDIR) {
		pq_buf_addf(&watch, "%s/new", path);
		src->watch = pq_buf_detach(&watch);
	}
	*out = src;
	return 0;
}

static void source_warn(struct pq_source *src, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void source_warn(struct pq_source *src, const char *fmt, ...)
{
	struct pq_buf b = PQ_BUF_INIT;
	va_list ap;

	if (!src->warn)
		return;
	va_start(ap, fmt);
	pq_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	src->warn(src->ctx, b.ptr);
	pq_buf_free(&b);
}

/* One message to ingest, with the progress callback now and then. */
static int source_ingest(struct pq_source *src, struct pq_ingest *ig, const char *raw, size_t len,
			 const char *cursor)
{
	int rc = pq_ingest_message(ig, raw, len, cursor);

	if (rc == 0 && src->progress && (pq_ingest_stats(ig)->read & (PROGRESS_EVERY - 1)) == 0)
		src->progress(src->ctx, pq_ingest_stats(ig));
	return rc;
}

/* ---- mbox and standard input ---- */

struct mbox_read {
	struct pq_source *src;
	struct pq_ingest *ig;
	int rc;
};

static int mbox_on_message(void *ctx, const char *raw, size_t len, const char *cursor)
{
	struct mbox_read *r = ctx;

	r->rc = source_ingest(r->src, r->ig, raw, len, cursor);
	return r->rc < 0;
}

static int mbox_read(struct pq_source *src, struct pq_ingest *ig)
{
	struct mbox_read r = { src, ig, 0 };
	int rc;

	rc = src->kind == PQ_SOURCE_STDIN ? pq_mbox_read_stdin(mbox_on_message, &r)
					  : pq_mbox_read(src->path, mbox_on_message, &r);
	return r.rc < 0 ? r.rc : rc;
}

/* ---- maildir ---- */

/*
 * The unique name a maildir cursor holds, as a copy: "maildir:NAME", or an
 * older "maildir:new/NAME" or "maildir:cur/NAME:INFO". NULL when none.
 */
static char *maildir_cursor_name(const char *cursor)
{
	const char *p;

	if (!cursor || strncmp(cursor, "maildir:", 8) != 0)
		return NULL;
	p = cursor + 8;
	if (!strncmp(p, "new/", 4) || !strncmp(p, "cur/", 4))
		p += 4;
	return *p ? pq_strndup(p, pq_maildir_unique_len(p)) : NULL;
}

/* Whether the unique part of name (ulen bytes) sorts after the unique name best. */
static int unique_after(const char *name, size_t ulen, const char *best)
{
	size_t lb = strlen(best);
	int c = memcmp(name, best, ulen < lb ? ulen : lb);

	return c > 0 || (c == 0 && ulen > lb);
}

static int maildir_read(struct pq_source *src, struct pq_store *s, struct pq_ingest *ig, size_t max,
			struct pq_source_stats *st)
{
	struct pq_maildir_list l = PQ_MAILDIR_LIST_INIT;
	struct pq_buf data = PQ_BUF_INIT, cursor = PQ_BUF_INIT;
	char *stored = NULL, *best;
	size_t *claim = NULL, nclaim = 0, n = 0, i, len, ulen;
	const char *raw;
	int rc, frc;

	if ((rc = pq_ingest_cursor(s, src->name, &stored)) < 0)
		return rc;
	best = maildir_cursor_name(stored);
	free(stored);
	if ((rc = pq_maildir_list(&l, src->path, best)) < 0)
		goto out;
	claim = pq_calloc(l.n ? l.n : 1, sizeof(*claim));

	for (i = 0; i < l.n && (!max || n < max); i++) {
		const struct pq_maildir_file *f = &l.v[i];

		rc = pq_maildir_load(src->path, f, &data, &raw, &len);
		if (rc == 1) { /* gone, or no file at all */
			rc = 0;
			continue;
		}
		if (rc < 0) {
			source_warn(src, "%s (skipped)", pq_error_last());
			st->unreadable++;
			rc = 0;
			continue;
		}
		if (f->in_new)
			claim[nclaim++] = i;
		if (len == 0)
			continue;
		/* the cursor never goes back, even for a file delivered with an old name */
		ulen = pq_maildir_unique_len(f->name);
		if (!best || unique_after(f->name, ulen, best)) {
			free(best);
			best = pq_strndup(f->name, ulen);
		}
		pq_buf_reset(&cursor);
		pq_buf_addf(&cursor, "maildir:%s", best);
		if ((rc = source_ingest(src, ig, raw, len, cursor.ptr)) < 0)
			goto out;
		n++;
	}
	st->more = max && n == max && i < l.n;
	st->backlog = l.n - i;

	/* moved only once committed: a crash before leaves the file in new/ */
	if ((rc = pq_ingest_flush(ig)) < 0 || !(src->flags & PQ_SOURCE_CLAIM))
		goto out;
	for (i = 0; i < nclaim; i++) {
		frc = pq_maildir_claim(src->path, &l.v[claim[i]]);
		if (frc < 0)
			source_warn(src, "%s", pq_error_last());
	}
out:
	pq_maildir_list_free(&l);
	pq_buf_free(&data);
	pq_buf_free(&cursor);
	free(claim);
	free(best);
	return rc;
}

/* ---- public-inbox ---- */

struct pi_fetch {
	struct pq_source *src;
	struct pq_ingest *ig;
	size_t max, n;
	int rc;
};

static int pi_on_message(void *ctx, const char *raw, size_t len, const char *cursor)
{
	struct pi_fetch *f = ctx;

	f->rc = source_ingest(f->src, f->ig, raw, len, cursor);
	if (f->rc < 0)
		return -1;
	return ++f->n == f->max; /* the next read goes on from the cursor */
}

static int pi_read(struct pq_source *src, struct pq_store *s, struct pq_ingest *ig, size_t max,
		   struct pq_source_stats *st)
{
	struct pi_fetch f = { src, ig, max, 0, 0 };
	char *cursor = NULL;
	int rc;

	if ((rc = pq_ingest_cursor(s, src->name, &cursor)) < 0)
		return rc;
	rc = pq_pi_read(src->path, cursor, pi_on_message, &f);
	free(cursor);
	if (f.rc < 0)
		return f.rc;
	st->more = max && f.n == max;
	return rc < 0 ? rc : 0;
}

/* ---- IMAP ---- */

static void imap_close(struct pq_source *src)
{
	pq_imap_free(src->im);
	src->im = NULL;
	src->idle_fd = -1;
}

/* Connects, logs in and selects the mailbox. */
static int imap_connect(struct pq_source *src)
{
	struct pq_buf password = PQ_BUF_INIT;
	struct pq_imap_conf ic = {
		.host = src->host,
		.port = src->port,
		.tls = src->tls,
		.no_verify = src->no_verify,
		.ca_file = src->ca_file,
		.user = src->user,
		.timeout = src->timeout,
	};
	int rc;

	/* room for all pq_config_secret() reads, so no copy is left behind by a realloc */
	pq_buf_grow(&password, 8192);
	rc = pq_config_secret(src->password_file, src->credential, &password);
	ic.password = password.ptr;
	if (rc == 0)
		rc = pq_imap_connect(&src->im, &ic);
	/* not left in freed memory */
	explicit_bzero(password.ptr, password.cap);
	pq_buf_free(&password);
	if (rc == 0)
		rc = pq_imap_select(src->im, src->mailbox, &src->uidvalidity, &src->uidnext);
	return rc;
}

/* "UIDVALIDITY:UID" of the last message committed, into *validity and *uid (0 0 when none). */
static void imap_parse_cursor(const char *cursor, uint32_t *validity, uint32_t *uid)
{
	unsigned long v = 0, u = 0;

	*validity = *uid = 0;
	if (cursor && sscanf(cursor, "%lu:%lu", &v, &u) == 2 && v <= UINT32_MAX &&
	    u <= UINT32_MAX) {
		*validity = (uint32_t)v;
		*uid = (uint32_t)u;
	}
}

struct imap_fetch {
	struct pq_source *src;
	struct pq_ingest *ig;
	uint32_t last;
	size_t n;
	int rc;
};

static int imap_on_message(const char *raw, size_t len, uint32_t uid, const char *refused,
			   void *arg)
{
	struct imap_fetch *f = arg;
	char cursor[32];

	snprintf(cursor, sizeof(cursor), "%" PRIu32 ":%" PRIu32, f->src->uidvalidity, uid);
	if (refused) {
		/* on record as unparsable, committed with the cursor: once, and not lost */
		source_warn(f->src, "%s UID %s: %s", f->src->mailbox, cursor, refused);
		f->rc = pq_ingest_refused(f->ig, raw, len, refused, cursor);
	} else {
		f->rc = source_ingest(f->src, f->ig, raw, len, cursor);
	}
	f->last = uid;
	f->n++;
	return f->rc < 0;
}

static int imap_read(struct pq_source *src, struct pq_store *s, struct pq_ingest *ig, size_t max,
		     struct pq_source_stats *st)
{
	struct imap_fetch f = { src, ig, 0, 0, 0 };
	uint32_t validity, after;
	char *cursor = NULL;
	int rc;

	if ((rc = pq_source_idle_stop(src)) < 0)
		return rc;
	if (!src->im && (rc = imap_connect(src)) < 0)
		goto fail;
	if ((rc = pq_ingest_cursor(s, src->name, &cursor)) < 0)
		goto fail;
	imap_parse_cursor(cursor, &validity, &after);
	free(cursor);
	if (validity && validity != src->uidvalidity) {
		/* every UID changed meaning: read it all again, ingest drops what it has */
		source_warn(src,
			    "UIDVALIDITY changed from %" PRIu32 " to %" PRIu32
			    "; reading the mailbox again",
			    validity, src->uidvalidity);
		after = 0;
	}
	pq_imap_distrust(src->im, src->liar, src->liar_size, src->one_by_one);
	rc = pq_imap_fetch_since(src->im, after, max, imap_on_message, &f);
	if (f.rc < 0)
		rc = f.rc;
	if (rc < 0) {
		unsigned long long size;
		int batch;
		uint32_t liar = pq_imap_lied(src->im, &size, &batch);

		/* the next session skips it (on record) rather than meet it for ever */
		if (liar) {
			src->liar = liar;
			src->liar_size = size;
			src->one_by_one = 0;
		} else if (batch) {
			src->one_by_one = 1;
		}
		goto fail;
	}
	if (f.last >= src->liar) { /* past it: on record, the cursor moved on */
		src->liar = 0;
		src->one_by_one = 0;
	}
	st->more = max && f.n == max;
	st->backlog = st->more && src->uidnext > f.last + 1 ? src->uidnext - 1 - f.last : 0;
	return 0;
fail:
	imap_close(src);
	return rc;
}

int pq_source_can_idle(const struct pq_source *src)
{
	return src->kind == PQ_SOURCE_IMAP && src->im && src->idle_fd < 0 &&
	       pq_imap_has_idle(src->im);
}

int pq_source_idle_start(struct pq_source *src, int *pending)
{
	int rc;

	*pending = 0;
	if (!pq_source_can_idle(src))
		return pq_error_set(PQ_EINVAL, "%s: cannot wait in IDLE", src->name);
	rc = pq_imap_idle_start(src->im, pending);
	if (rc < 0) {
		imap_close(src);
		return rc;
	}
	src->idle_fd = rc;
	return 0;
}

int pq_source_idle_stop(struct pq_source *src)
{
	int rc;

	if (src->idle_fd < 0)
		return 0;
	src->idle_fd = -1;
	rc = pq_imap_idle_done(src->im);
	if (rc < 0)
		imap_close(src);
	return rc;
}

int pq_source_idle_fd(const struct pq_source *src)
{
	return src->idle_fd;
}

int pq_source_connected(const struct pq_source *src)
{
	return src && src->im != NULL;
}

/* ---- reading ---- */

int pq_source_read(struct pq_source *src, struct pq_store *s, size_t max,
		   struct pq_source_stats *st)
{
	struct pq_ingest *ig = NULL;
	int rc, frc;

	memset(st, 0, sizeof(*st));
	if (max && (src->kind == PQ_SOURCE_MBOX || src->kind == PQ_SOURCE_STDIN))
		return pq_error_set(PQ_EINVAL, "%s: an mbox is read whole (max must be 0)",
				    src->name);
	/* max given: one transaction, committed with the cursor at the end */
	if ((rc = pq_ingest_new(&ig, s, src->name, max, NULL)) < 0)
		return rc;
	switch (src->kind) {
	case PQ_SOURCE_MAILDIR:
		rc = maildir_read(src, s, ig, max, st);
		break;
	case PQ_SOURCE_PUBLIC_INBOX:
		rc = pi_read(src, s, ig, max, st);
		break;
	case PQ_SOURCE_IMAP:
		rc = imap_read(src, s, ig, max, st);
		break;
	default:
		rc = mbox_read(src, ig);
		break;
	}
	/* what was read before a failure is committed with its own cursor */
	frc = pq_ingest_flush(ig);
	st->ingest = *pq_ingest_stats(ig);
	pq_ingest_free(ig);
	return rc < 0 ? rc : frc;
}

const char *pq_source_watch_dir(const struct pq_source *src)
{
	return src->watch;
}

void pq_source_free(struct pq_source *src)
{
	if (!src)
		return;
	imap_close(src);
	free(src->path);
	free(src->name);
	free(src->watch);
	free(src->host);
	free(src->port);
	free(src->ca_file);
	free(src->user);
	free(src->password_file);
	free(src->credential);
	free(src->mailbox);
	free(src);
}
