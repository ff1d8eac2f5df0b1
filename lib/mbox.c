/*
 * mbox: mbox and mboxrd files split into messages (see mbox.h).
 *
 * The splitter works on a mapping of the whole file and hands out pointers
 * into it. Nothing here parses a message; the bytes go to ingest as they
 * are.
 */
#include "mbox.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"

/*
 * Whether the line (len bytes, no newline) is an mbox separator. git's
 * mailsplit is the model: "From ", a non-empty token (the envelope
 * sender), a space, then a date: something like a time of day (H:MM) and
 * a run of four digits (the year, or a zone in RFC 2822 dates). That
 * covers ctime dates, "git format-patch"'s "Mon Sep 17 00:00:00 2001" and
 * the mboxrd "From mboxrd@z Thu Jan  1 00:00:00 1970", and leaves prose
 * such as "From the looks of it" or "From 10:30 to 11:00" in the body.
 */
int pq_mbox_is_from_line(const char *line, size_t len)
{
	const char *p, *end = line + len, *tok;
	bool time = false;
	size_t digits = 0, run = 0;

	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return 0;
	p = tok = line + 5;
	while (p < end && *p != ' ')
		p++;
	if (p == tok || p == end)
		return 0;
	for (p++; p < end; p++) {
		if (isdigit((unsigned char)*p)) {
			if (++run > digits)
				digits = run;
			continue;
		}
		run = 0;
		if (*p == ':' && end - p > 2 && isdigit((unsigned char)p[-1]) &&
		    isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]))
			time = true;
	}
	return time && digits >= 4;
}

static bool mbox_is_from_at(const char *p, const char *end)
{
	const char *eol = memchr(p, '\n', (size_t)(end - p));

	return pq_mbox_is_from_line(p, (size_t)((eol ? eol : end) - p));
}

/*
 * memmem(p, end - p, "<lead>From ", 6), eight bytes a step: a word is
 * looked at closer only when it holds <lead> followed by 'F', which is rare
 * ('F' alone is every 170 bytes of mail; glibc's memmem costs several
 * instructions a byte).
 */
static const char *find_from(const char *p, const char *end, char lead)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	const uint64_t want_lead = ones * (unsigned char)lead, want_f = ones * 'F';
	uint64_t x, y, t;
	int i;

	for (; end - p >= 9; p += 8) {
		memcpy(&x, p, 8);
		memcpy(&y, p + 1, 8);
		t = (x ^ want_lead) | (y ^ want_f); /* zero bytes: lead then 'F' */
		if (!((t - ones) & ~t & high))
			continue;
		for (i = 0; i < 8; i++)
			if (p[i] == lead && end - (p + i) >= 6 && !memcmp(p + i + 1, "From ", 5))
				return p + i;
	}
	for (; end - p >= 6; p++)
		if (*p == lead && !memcmp(p + 1, "From ", 5))
			return p;
	return NULL;
}

/*
 * The next separator line at or after body, which starts a line; NULL when
 * the rest is one message. Lines are never scanned twice: a rejected
 * candidate resumes the search at its own newline.
 */
static const char *mbox_next_from(const char *body, const char *end)
{
	const char *p = body, *hit, *eol;

	if (p < end && mbox_is_from_at(p, end))
		return p;
	while (p < end && (hit = find_from(p, end, '\n'))) {
		hit++;
		eol = memchr(hit, '\n', (size_t)(end - hit));
		if (pq_mbox_is_from_line(hit, (size_t)((eol ? eol : end) - hit)))
			return hit;
		if (!eol)
			break;
		p = eol;
	}
	return NULL;
}

/*
 * Drops the blank line the mbox format puts after each message ("\n", or
 * "\r\n" in a file written with CRLF), so a message has the same bytes
 * wherever it sits in the file, the last one included.
 */
static const char *mbox_strip_blank(const char *body, const char *e)
{
	const char *l;

	if (e == body || e[-1] != '\n')
		return e;
	l = e - 1;
	if (l > body && l[-1] == '\r')
		l--;
	if (l == body || l[-1] == '\n')
		return l;
	return e;
}

/*
 * Finds the next mboxrd-quoted line (^>+From ) whose ">From " starts at or
 * after *scan. Returns the start of that line and moves *scan past the
 * match, or returns NULL.
 */
static const char *mbox_next_quoted(const char *body, const char **scan, const char *e)
{
	const char *hit, *q;

	while (*scan < e && (hit = find_from(*scan, e, '>'))) {
		*scan = hit + 1;
		q = hit;
		while (q > body && q[-1] == '>')
			q--;
		if (q == body || q[-1] == '\n')
			return q;
	}
	return NULL;
}

/* Hands one message to cb, unquoting into tmp only when it has to. */
static int mbox_deliver(const char *body, const char *e, size_t offset, struct pq_buf *tmp,
			pq_mbox_cb cb, void *ctx)
{
	char cursor[32];
	const char *scan = body, *from = body, *q;

	if (body == e)
		return 0;
	snprintf(cursor, sizeof(cursor), "mbox:%zu", offset);
	q = mbox_next_quoted(body, &scan, e);
	if (!q)
		return cb(ctx, body, (size_t)(e - body), cursor);

	pq_buf_reset(tmp);
	pq_buf_grow(tmp, (size_t)(e - body));
	do {
		pq_buf_add(tmp, from, (size_t)(q - from));
		from = q + 1; /* one '>' less */
	} while ((q = mbox_next_quoted(body, &scan, e)));
	pq_buf_add(tmp, from, (size_t)(e - from));
	return cb(ctx, tmp->ptr, tmp->len, cursor);
}

/* Mapped input is given back to the kernel in steps of this many bytes. */
#define MBOX_RELEASE_STEP (8u << 20)

/*
 * Splits data; when mapped, drops the pages already handed out, so the
 * memory a reader holds does not grow with the size of the mbox.
 */
static int mbox_split(const char *data, size_t len, int mapped, pq_mbox_cb cb, void *ctx)
{
	struct pq_buf tmp = PQ_BUF_INIT;
	const char *end = data + len, *sep, *body, *next, *nl;
	size_t released = 0, page = (size_t)sysconf(_SC_PAGESIZE);
	int rc = 0;

	if (len == 0)
		return 0;
	/* blank lines before the first From_ line are skipped, as git mailsplit does */
	for (sep = data; sep < end && *sep && strchr(" \t\r\n\v\f", *sep); sep++)
		;
	/* Not an mbox: one message, bytes untouched (a body may quote ">From "). */
	if (sep == end || !mbox_is_from_at(sep, end))
		return cb(ctx, data, len, "mbox:0");

	for (; sep && rc == 0; sep = next) {
		nl = memchr(sep, '\n', (size_t)(end - sep));
		body = nl ? nl + 1 : end;
		next = mbox_next_from(body, end);
		rc = mbox_deliver(body, mbox_strip_blank(body, next ? next : end),
				  (size_t)(sep - data), &tmp, cb, ctx);
		if (mapped && next && (size_t)(next - data) - released >= MBOX_RELEASE_STEP) {
			size_t upto = ((size_t)(next - data) / page) * page;

			madvise((char *)data + released, upto - released, MADV_DONTNEED);
			released = upto;
		}
	}
	pq_buf_free(&tmp);
	return rc;
}

int pq_mbox_split(const char *data, size_t len, pq_mbox_cb cb, void *ctx)
{
	return mbox_split(data, len, 0, cb, ctx);
}

/* Reads fd (not closed here), named what in errors: mapped when it is a regular file. */
static int mbox_read_fd(int fd, const char *what, pq_mbox_cb cb, void *ctx)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct stat st;
	void *map;
	int rc;

	if (fstat(fd, &st) < 0)
		return pq_error_set(PQ_EIO, "%s: %s", what, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return pq_error_set(PQ_EIO, "%s: %s", what, strerror(EISDIR));
	if (S_ISREG(st.st_mode) && st.st_size == 0)
		return 0;
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > SIZE_MAX)
		return pq_error_set(PQ_ELIMIT, "%s: too large to map", what);

	map = MAP_FAILED;
	if (S_ISREG(st.st_mode))
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map != MAP_FAILED) {
		madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
		rc = mbox_split(map, (size_t)st.st_size, 1, cb, ctx);
		munmap(map, (size_t)st.st_size);
		return rc;
	}

	/* A pipe, a device, or a file system that cannot map: read it. */
	if (pq_buf_read_fd(&b, fd) < 0) {
		rc = pq_error_set(PQ_EIO, "%s: %s", what, strerror(errno));
		pq_buf_free(&b);
		return rc;
	}
	rc = pq_mbox_split(b.ptr ? b.ptr : "", b.len, cb, ctx);
	pq_buf_free(&b);
	return rc;
}

int pq_mbox_read(const char *path, pq_mbox_cb cb, void *ctx)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
	rc = mbox_read_fd(fd, path, cb, ctx);
	close(fd);
	return rc;
}

int pq_mbox_read_stdin(pq_mbox_cb cb, void *ctx)
{
	return mbox_read_fd(STDIN_FILENO, "standard input", cb, ctx);
}
