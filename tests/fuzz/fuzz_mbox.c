/*
 * fuzz_mbox: arbitrary bytes as an mbox through pq_mbox_split. The callback
 * checks what mbox.h promises: every message is non-empty and either lies
 * inside the input, in order and without overlap, or (unquoted) is no
 * longer than the input; cursors name an offset inside it; a non-zero
 * callback value stops the split and is returned. Each byte handed out is
 * read, so AddressSanitizer sees any read past the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mbox.h"

struct seen {
	const char *lo, *hi;
	const char *last_end; /* end of the last message handed out in place */
	size_t calls, total, last_offset;
	size_t stop_at; /* return 7 at this call (1-based), 0: never */
	unsigned sum;
	int stopped;
};

static int seen_cb(void *ctx, const char *raw, size_t len, const char *cursor)
{
	struct seen *s = ctx;
	size_t i, off;
	char *end;

	NEED(!s->stopped);
	NEED(raw != NULL && len > 0);
	NEED(cursor && !strncmp(cursor, "mbox:", 5));
	off = strtoul(cursor + 5, &end, 10);
	NEED(*end == '\0' && end != cursor + 5);
	NEED(off < (size_t)(s->hi - s->lo));
	NEED(s->calls == 0 || off > s->last_offset);
	s->last_offset = off;
	if (raw >= s->lo && raw < s->hi) {
		NEED(len <= (size_t)(s->hi - raw));
		NEED(!s->last_end || raw >= s->last_end);
		s->last_end = raw + len;
	} else {
		NEED(len <= (size_t)(s->hi - s->lo));
	}
	for (i = 0; i < len; i++)
		s->sum += (unsigned char)raw[i];
	s->calls++;
	s->total += len;
	NEED(s->total <= (size_t)(s->hi - s->lo));
	if (s->stop_at && s->calls == s->stop_at) {
		s->stopped = 1;
		return 7;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	char *copy;
	int ret;

	/* an exact-size heap copy, so a read one past the end is caught */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	s.lo = copy;
	s.hi = copy + size;
	ret = pq_mbox_split(copy, size, seen_cb, &s);
	NEED(ret == 0);
	if (size && s.calls) {
		/* blank lines before the first From_ line are skipped, as git
		 * mailsplit does; without a From_ line after them, not an mbox:
		 * the whole input, untouched */
		size_t lead = 0;

		while (lead < size && copy[lead] && strchr(" \t\r\n\v\f", copy[lead]))
			lead++;
		if (size - lead < 5 || memcmp(copy + lead, "From ", 5))
			NEED(s.calls == 1 && s.total == size);
	}
	if (s.calls > 1) {
		size_t calls = s.calls;

		memset(&s, 0, sizeof(s));
		s.lo = copy;
		s.hi = copy + size;
		s.stop_at = 1 + (size ? (unsigned char)copy[0] % calls : 0);
		ret = pq_mbox_split(copy, size, seen_cb, &s);
		NEED(ret == 7);
		NEED(s.calls == s.stop_at);
	}
	free(copy);
	return 0;
}
