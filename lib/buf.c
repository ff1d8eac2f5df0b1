/* buf: growable NUL-terminated byte buffer (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

void pq_buf_grow(struct pq_buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		pq_malloc(SIZE_MAX); /* reports and aborts */
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap < 64)
		b->cap = 64;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->ptr = pq_realloc(b->ptr, b->cap);
}

void pq_buf_add(struct pq_buf *b, const void *data, size_t len)
{
	pq_buf_grow(b, len);
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void pq_buf_adds(struct pq_buf *b, const char *s)
{
	pq_buf_add(b, s, strlen(s));
}

void pq_buf_addc(struct pq_buf *b, char c)
{
	pq_buf_add(b, &c, 1);
}

void pq_buf_vaddf(struct pq_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	pq_buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		pq_buf_grow(b, (size_t)n);
		vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void pq_buf_addf(struct pq_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pq_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void pq_buf_reset(struct pq_buf *b)
{
	pq_buf_truncate(b, 0);
}

void pq_buf_truncate(struct pq_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->ptr[len] = '\0';
	}
}

void pq_buf_rtrim(struct pq_buf *b)
{
	size_t n = b->len;

	while (n && (b->ptr[n - 1] == ' ' || b->ptr[n - 1] == '\t' || b->ptr[n - 1] == '\r' ||
		     b->ptr[n - 1] == '\n'))
		n--;
	pq_buf_truncate(b, n);
}

void pq_buf_plain(struct pq_buf *b, size_t from, const char *keep)
{
	size_t i, j;

	for (i = j = from; i < b->len; i++, j++) {
		unsigned char c = (unsigned char)b->ptr[i];

		if (c == 0xc2 && i + 1 < b->len && ((unsigned char)b->ptr[i + 1] & 0xe0) == 0x80) {
			b->ptr[j] = '?'; /* U+0080-U+009F: two bytes, one '?' */
			i++;
		} else if ((c < 0x20 && !(c && strchr(keep, c))) || c == 0x7f) {
			b->ptr[j] = '?';
		} else {
			b->ptr[j] = (char)c;
		}
	}
	pq_buf_truncate(b, j);
}

void pq_buf_lf(struct pq_buf *b, size_t from)
{
	size_t i, j;

	for (i = j = from; i < b->len; i++)
		if (!(b->ptr[i] == '\r' && i + 1 < b->len && b->ptr[i + 1] == '\n'))
			b->ptr[j++] = b->ptr[i];
	pq_buf_truncate(b, j);
}

const char *pq_buf_str(const struct pq_buf *b)
{
	return b->ptr ? b->ptr : "";
}

char *pq_buf_detach(struct pq_buf *b)
{
	char *p = b->ptr ? b->ptr : pq_strdup("");

	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void pq_buf_free(struct pq_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

int pq_buf_read_fd(struct pq_buf *b, int fd)
{
	ssize_t n;

	for (;;) {
		if (b->cap - b->len < 4097)
			pq_buf_grow(b, 65536);
		n = read(fd, b->ptr + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->ptr[b->len] = '\0';
	return 0;
}
