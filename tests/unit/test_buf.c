/*
 * test_buf: the growable byte buffer every module builds text in.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"

static void test_empty_buffer_is_safe(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	char *s;

	CHECK(b.ptr == NULL);
	CHECK_STR(pq_buf_str(&b), "");
	pq_buf_truncate(&b, 0);
	pq_buf_truncate(&b, 10);
	pq_buf_rtrim(&b);
	pq_buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(pq_buf_str(&b), "");
	s = pq_buf_detach(&b);
	CHECK_STR(s, "");
	free(s);
	pq_buf_free(&b);
	pq_buf_free(&b);
	CHECK(b.ptr == NULL);

	/* adding nothing still gives a terminated string */
	pq_buf_add(&b, "", 0);
	CHECK(b.ptr != NULL);
	CHECK_INT(b.len, 0);
	CHECK_STR(pq_buf_str(&b), "");
	pq_buf_free(&b);
}

static void test_growth_keeps_contents(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	size_t i, bad = 0;

	for (i = 0; i < 100000; i++)
		pq_buf_addc(&b, (char)('a' + i % 26));
	CHECK_INT(b.len, 100000);
	CHECK(b.cap > b.len);
	CHECK_INT(b.ptr[b.len], '\0');
	for (i = 0; i < b.len; i++)
		if (b.ptr[i] != (char)('a' + i % 26))
			bad++;
	CHECK_INT(bad, 0);

	/* one big add past the doubling */
	{
		size_t n = 3u << 20;
		char *big = malloc(n);

		memset(big, 'x', n);
		pq_buf_add(&b, big, n);
		CHECK_INT(b.len, 100000 + n);
		CHECK_INT(b.ptr[b.len], '\0');
		CHECK(b.ptr[b.len - 1] == 'x' && b.ptr[99999] == 'a' + 99999 % 26);
		free(big);
	}

	/* grow reserves without changing the contents */
	pq_buf_reset(&b);
	pq_buf_adds(&b, "keep");
	pq_buf_grow(&b, 1000);
	CHECK(b.cap >= b.len + 1000 + 1);
	CHECK_STR(pq_buf_str(&b), "keep");
	pq_buf_free(&b);
}

static void test_nul_bytes_are_data(void)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_add(&b, "a\0b", 3);
	pq_buf_addc(&b, '\0');
	pq_buf_adds(&b, "c");
	CHECK_INT(b.len, 5);
	CHECK(memcmp(b.ptr, "a\0b\0c", 6) == 0);
	pq_buf_free(&b);
}

static void test_addf_short_and_long(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	char *longs = malloc(10001);
	size_t i;

	memset(longs, 'L', 10000);
	longs[10000] = '\0';
	pq_buf_addf(&b, "%d-%s", 42, "x");
	CHECK_STR(pq_buf_str(&b), "42-x");
	pq_buf_addf(&b, "[%s]", longs);
	CHECK_INT(b.len, 4 + 10002);
	CHECK(!strncmp(b.ptr, "42-x[LLL", 8));
	CHECK_INT(b.ptr[b.len - 1], ']');
	CHECK_INT(strlen(b.ptr), b.len);

	/* right at the edge of the space left: 63, 64 and 65 bytes */
	for (i = 62; i <= 66; i++) {
		struct pq_buf e = PQ_BUF_INIT;

		pq_buf_addf(&e, "%.*s", (int)i, longs);
		CHECK_INT(e.len, i);
		CHECK_INT(strlen(pq_buf_str(&e)), i);
		pq_buf_addf(&e, "%.*s", (int)i, longs);
		CHECK_INT(e.len, 2 * i);
		CHECK_INT(strlen(pq_buf_str(&e)), 2 * i);
		pq_buf_free(&e);
	}

	/* an empty format adds nothing */
	pq_buf_reset(&b);
	pq_buf_addf(&b, "%s", "");
	CHECK_INT(b.len, 0);
	CHECK_STR(pq_buf_str(&b), "");
	pq_buf_free(&b);
	free(longs);
}

static void vadd(struct pq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vadd(struct pq_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pq_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

static void test_vaddf(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	char big[300];

	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vadd(&b, "%s|%s", big, big);
	CHECK_INT(b.len, 2 * 299 + 1);
	CHECK_INT(b.ptr[299], '|');
	pq_buf_free(&b);
}

static void test_truncate_and_reset(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	char *before;
	size_t cap;

	pq_buf_adds(&b, "hello world");
	pq_buf_truncate(&b, 100);
	CHECK_STR(pq_buf_str(&b), "hello world");
	pq_buf_truncate(&b, 5);
	CHECK_STR(pq_buf_str(&b), "hello");
	CHECK_INT(b.len, 5);
	before = b.ptr;
	cap = b.cap;
	pq_buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(pq_buf_str(&b), "");
	CHECK(b.ptr == before);
	CHECK_INT(b.cap, cap);
	pq_buf_free(&b);
}

static void test_rtrim(void)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_adds(&b, "  text \t\r\n \n");
	pq_buf_rtrim(&b);
	CHECK_STR(pq_buf_str(&b), "  text");
	CHECK_INT(b.len, 6);
	pq_buf_reset(&b);
	pq_buf_adds(&b, " \t\r\n");
	pq_buf_rtrim(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(pq_buf_str(&b), "");
	pq_buf_reset(&b);
	pq_buf_adds(&b, "x\v\f");
	pq_buf_rtrim(&b);
	CHECK_INT(b.len, 3);
	pq_buf_free(&b);
}

static void test_rtrim_keeps_trailing_nul_byte(void)
{
	struct pq_buf b = PQ_BUF_INIT;

	/* buf.h: rtrim removes spaces, tabs, CRs and newlines; a NUL is data */
	pq_buf_add(&b, "a\0", 2);
	pq_buf_rtrim(&b);
	CHECK_INT(b.len, 2);
	pq_buf_reset(&b);
	pq_buf_add(&b, "a\0 \n", 4);
	pq_buf_rtrim(&b);
	CHECK_INT(b.len, 2);
	pq_buf_free(&b);
}

static void test_detach(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	char *s;

	pq_buf_adds(&b, "owned by the caller");
	s = pq_buf_detach(&b);
	CHECK_STR(s, "owned by the caller");
	CHECK(b.ptr == NULL);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.cap, 0);
	/* the buffer is usable again */
	pq_buf_adds(&b, "again");
	CHECK_STR(pq_buf_str(&b), "again");
	CHECK(b.ptr != s);
	free(s);
	pq_buf_free(&b);
}

/* Text from outside made fit to show: controls become one '?' each, from the offset on. */
static void test_plain(void)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_plain(&b, 0, ""); /* an empty buffer stays empty */
	CHECK_INT(b.len, 0);
	pq_buf_adds(&b, "\x1b[kept ");
	pq_buf_add(&b, "a\x1b[2Jb\rc\nd\te\0f\x7fg", 16);
	pq_buf_plain(&b, 7, "\t");
	CHECK_STR(pq_buf_str(&b), "\x1b[kept a?[2Jb?c?d\te?f?g");
	CHECK_INT(b.len, 23);

	/* C1 controls in UTF-8 (CSI U+009B) are one '?'; U+00A0 and U+00E9 stay */
	pq_buf_reset(&b);
	pq_buf_adds(&b, "x\xc2\x9b"
			"2Jy\xc2\xa0\xc3\xa9\xc2\x80\n\xc2");
	pq_buf_plain(&b, 0, "\n");
	CHECK_STR(pq_buf_str(&b), "x?2Jy\xc2\xa0\xc3\xa9?\n\xc2");
	pq_buf_free(&b);
}

/* CRLF made LF from the offset on; a lone CR, and what comes before, stay. */
static void test_lf(void)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_lf(&b, 0);
	CHECK_INT(b.len, 0);
	pq_buf_adds(&b, "a\r\nb\r\nc\rd\r\n\r\r\ne\r");
	pq_buf_lf(&b, 3);
	CHECK_STR(pq_buf_str(&b), "a\r\nb\nc\rd\n\r\ne\r");
	CHECK_INT(b.len, 13);
	pq_buf_free(&b);
}

int main(void)
{
	test_empty_buffer_is_safe();
	test_growth_keeps_contents();
	test_nul_bytes_are_data();
	test_addf_short_and_long();
	test_vaddf();
	test_truncate_and_reset();
	test_rtrim();
	test_rtrim_keeps_trailing_nul_byte();
	test_detach();
	test_plain();
	test_lf();
	CHECK_DONE();
}
