/*
 * buf: the one growable byte buffer used for all text building.
 *
 * A buffer is always NUL-terminated after ptr[len] (ptr is never NULL once a
 * byte was added; pq_buf_str() is safe on an empty buffer) and may hold NUL
 * bytes inside, so callers carry len.
 */
#ifndef PQ_BUF_H
#define PQ_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct pq_buf {
	char *ptr;
	size_t len;
	size_t cap;
};

#define PQ_BUF_INIT        \
	{                  \
		NULL, 0, 0 \
	}

void pq_buf_grow(struct pq_buf *b, size_t extra);
void pq_buf_add(struct pq_buf *b, const void *data, size_t len);
void pq_buf_adds(struct pq_buf *b, const char *s);
void pq_buf_addc(struct pq_buf *b, char c);
void pq_buf_addf(struct pq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pq_buf_vaddf(struct pq_buf *b, const char *fmt, va_list ap);
/* Empties the buffer, keeping its memory. */
void pq_buf_reset(struct pq_buf *b);
/* Shortens the buffer to len bytes (no-op if already shorter). */
void pq_buf_truncate(struct pq_buf *b, size_t len);
/* Removes trailing spaces, tabs, CRs and newlines. */
void pq_buf_rtrim(struct pq_buf *b);
/*
 * Makes the bytes from offset from on fit to show, as text from mail, a
 * server or a tool must be before a terminal, the log, a page or a mail
 * shows it: every control character (C0 but those in keep, DEL, and the
 * C1 controls U+0080-U+009F written in UTF-8) becomes one '?', so no
 * escape sequence or line break of its own survives. NUL is a control.
 */
void pq_buf_plain(struct pq_buf *b, size_t from, const char *keep);
/* Makes every CRLF from offset from on an LF; a lone CR stays. */
void pq_buf_lf(struct pq_buf *b, size_t from);

/* Appends all that fd gives until end of file (EINTR retried). Returns 0,
 * or -1 with errno set; what was read before stays in b. */
int pq_buf_read_fd(struct pq_buf *b, int fd);
/* The contents as a C string, "" when empty; borrowed from the buffer. */
const char *pq_buf_str(const struct pq_buf *b);
/* Hands the contents to the caller (free() them) and empties the buffer. */
char *pq_buf_detach(struct pq_buf *b);
void pq_buf_free(struct pq_buf *b);

#endif
