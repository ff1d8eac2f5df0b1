/*
 * test_header: the one writer of header fields. What it refuses (control
 * characters from mail that would start a header or a line of their own,
 * invalid UTF-8, a bad field name, an address SMTP would choke on), how it
 * folds (78 where the words allow, never past 998), and that what it
 * writes reads back, through pq_mail_parse(), as the value it was given.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "error.h"
#include "header.h"
#include "mail.h"

/* Every line of text (LF-separated) at most max long; the longest into *longest. */
static int lines_within(const char *text, size_t max, size_t *longest)
{
	const char *p = text, *nl;
	int ok = 1;

	*longest = 0;
	for (; *p; p = nl + 1) {
		size_t n;

		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p) - 1;
		n = (size_t)(nl - p);
		if (n > *longest)
			*longest = n;
		if (n > max)
			ok = 0;
	}
	return ok;
}

/* Parses "field\n\nbody" back and returns the decoded value of name (malloc'd). */
static char *read_back(const char *fields, const char *name)
{
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m;
	char *v = NULL;

	pq_buf_addf(&raw, "%sMessage-ID: <x@y>\n\nbody\n", fields);
	if (pq_mail_parse(&m, raw.ptr, raw.len, NULL) == 0) {
		if (!strcmp(name, "Subject"))
			v = strdup(m.subject);
		else if (!strcmp(name, "To"))
			v = strdup(m.to);
		else if (!strcmp(name, "From"))
			v = strdup(m.from_name);
	}
	pq_mail_free(&m);
	pq_buf_free(&raw);
	return v;
}

static void test_control_characters_refused(void)
{
	static const char *const bad[] = {
		"x\r\nBcc: evil@example.com",
		"x\nBcc: evil@example.com",
		"x\rBcc: evil@example.com",
		"a\x1b[2Jb",
		"tab\there",
		"del\x7f",
		"csi \xc2\x9b"
		"31m",
		"bad \xff utf-8",
		"half \xe2\x82",
	};
	struct pq_buf out = PQ_BUF_INIT;
	size_t i;

	pq_buf_adds(&out, "Before: 1\n");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(pq_header_add(&out, "Subject", bad[i], PQ_HEADER_ENCODE), PQ_EINVAL);
		CHECK(strstr(pq_error_last(), "Subject") != NULL);
		CHECK_INT(pq_header_add(&out, "Subject", bad[i], PQ_HEADER_UTF8), PQ_EINVAL);
		CHECK_INT(pq_header_add(&out, "X-Test", bad[i], 0), PQ_EINVAL);
	}
	/* nothing was written by a refusal */
	CHECK_STR(pq_buf_str(&out), "Before: 1\n");

	/* nor with a NUL inside: the C string ends there, the rest never goes out */
	CHECK_INT(pq_header_add(&out, "Subject", "a\0Bcc: x@y", 0), 0);
	CHECK_STR(pq_buf_str(&out), "Before: 1\nSubject: a\n");
	pq_buf_free(&out);
}

static void test_field_names_checked(void)
{
	struct pq_buf out = PQ_BUF_INIT;

	CHECK_INT(pq_header_add(&out, "", "v", 0), PQ_EINVAL);
	CHECK_INT(pq_header_add(&out, "Bad Name", "v", 0), PQ_EINVAL);
	CHECK_INT(pq_header_add(&out, "Bad:Name", "v", 0), PQ_EINVAL);
	CHECK_INT(pq_header_add(&out, "X\nBcc", "v", 0), PQ_EINVAL);
	CHECK_INT(out.len, 0);
	CHECK_INT(pq_header_add(&out, "X-Patchq", "applied to rust-dev", 0), 0);
	CHECK_STR(pq_buf_str(&out), "X-Patchq: applied to rust-dev\n");
	pq_buf_reset(&out);
	CHECK_INT(pq_header_add(&out, "Subject", "", 0), 0);
	CHECK_STR(pq_buf_str(&out), "Subject:\n");
	pq_buf_free(&out);
}

static void test_non_ascii_needs_a_flag(void)
{
	struct pq_buf out = PQ_BUF_INIT;
	char *back;

	CHECK_INT(pq_header_add(&out, "Subject", "caf\xc3\xa9", 0), PQ_EINVAL);
	CHECK_INT(out.len, 0);
	CHECK_INT(pq_header_add(&out, "Subject", "caf\xc3\xa9", PQ_HEADER_UTF8), 0);
	CHECK_STR(pq_buf_str(&out), "Subject: caf\xc3\xa9\n");
	pq_buf_reset(&out);
	CHECK_INT(pq_header_add(&out, "Subject", "Re: caf\xc3\xa9 \xf0\x9f\xa6\x80",
				PQ_HEADER_ENCODE),
		  0);
	CHECK(pq_mail_is_ascii(out.ptr, out.len));
	CHECK(strstr(out.ptr, "=?UTF-8?B?") != NULL);
	back = read_back(out.ptr, "Subject");
	CHECK_STR(back, "Re: caf\xc3\xa9 \xf0\x9f\xa6\x80");
	free(back);
	pq_buf_free(&out);
}

static void test_long_values_fold_and_read_back(void)
{
	struct pq_buf value = PQ_BUF_INIT, out = PQ_BUF_INIT, utf = PQ_BUF_INIT;
	size_t longest, i;
	char *back;

	pq_buf_adds(&value, "Re: [PATCH v7 03/12]");
	for (i = 0; i < 30; i++)
		pq_buf_addf(&value, " word%zu", i);
	CHECK_INT(pq_header_add(&out, "Subject", value.ptr, PQ_HEADER_ENCODE), 0);
	CHECK(lines_within(out.ptr, PQ_HEADER_LINE, &longest));
	CHECK(strchr(out.ptr, '\n') != out.ptr + out.len - 1); /* folded */
	back = read_back(out.ptr, "Subject");
	CHECK_STR(back, value.ptr);
	free(back);

	/* not ASCII: encoded words of their own lines, decoding to the value */
	for (i = 0; i < 40; i++)
		pq_buf_adds(&utf, "\xc3\xa9t\xc3\xa9 ");
	pq_buf_rtrim(&utf);
	pq_buf_reset(&out);
	CHECK_INT(pq_header_add(&out, "Subject", utf.ptr, PQ_HEADER_ENCODE), 0);
	CHECK(lines_within(out.ptr, PQ_HEADER_LINE, &longest));
	back = read_back(out.ptr, "Subject");
	CHECK_STR(back, utf.ptr);
	free(back);

	/* a word too long for any line: kept whole while it fits 998 */
	pq_buf_reset(&value);
	pq_buf_adds(&value, "<");
	for (i = 0; i < 200; i++)
		pq_buf_adds(&value, "abcd");
	pq_buf_adds(&value, "@example.org>");
	pq_buf_reset(&out);
	CHECK_INT(pq_header_add(&out, "References", value.ptr, 0), 0);
	CHECK(lines_within(out.ptr, PQ_HEADER_LINE_MAX, &longest));
	CHECK(longest > PQ_HEADER_LINE);
	/* and refused past it, leaving out as it was */
	for (i = 0; i < 60; i++)
		pq_buf_adds(&value, "abcd");
	pq_buf_reset(&out);
	pq_buf_adds(&out, "A: b\n");
	CHECK_INT(pq_header_add(&out, "References", value.ptr, 0), PQ_ELIMIT);
	CHECK_STR(pq_buf_str(&out), "A: b\n");
	/* unless it is text: then encoded words, which fold anywhere */
	CHECK_INT(pq_header_add(&out, "Subject", value.ptr, PQ_HEADER_ENCODE), 0);
	CHECK(lines_within(out.ptr, PQ_HEADER_LINE, &longest));
	back = read_back(out.ptr + 5, "Subject");
	CHECK_STR(back, value.ptr);
	free(back);
	pq_buf_free(&value);
	pq_buf_free(&utf);
	pq_buf_free(&out);
}

static void test_addresses(void)
{
	const struct pq_header_addr list[] = {
		{ "Alice Rustacean", "alice@example.org" },   { "Doe, Jane", "jane@example.org" },
		{ "Zo\xc3\xab Reviewer", "zoe@example.org" }, { NULL, "list@vger.example.org" },
		{ "bob@example.org", "bob@example.org" },
	};
	const struct pq_header_addr evil[] = {
		{ "Mallory", "mallory@example.org>\r\nBcc: evil@example.com" },
	};
	const struct pq_header_addr evil_name[] = {
		{ "Mallory\r\nBcc: evil@example.com", "mallory@example.org" },
	};
	struct pq_buf out = PQ_BUF_INIT;
	char *back;

	CHECK_INT(pq_header_add_addresses(&out, "To", list, 5, PQ_HEADER_ENCODE | PQ_HEADER_UTF8),
		  0);
	CHECK_STR(pq_buf_str(&out), "To: Alice Rustacean <alice@example.org>,\n"
				    " \"Doe, Jane\" <jane@example.org>,\n"
				    " =?UTF-8?B?Wm/DqyBSZXZpZXdlcg==?= <zoe@example.org>,\n"
				    " list@vger.example.org,\n"
				    " bob@example.org\n");
	back = read_back(out.ptr, "To");
	CHECK_STR(back, "Alice Rustacean <alice@example.org>, \"Doe, Jane\" <jane@example.org>, "
			"Zo\xc3\xab Reviewer <zoe@example.org>, list@vger.example.org, "
			"bob@example.org");
	free(back);

	/* an 8bit mbox for git am: the name as it is */
	pq_buf_reset(&out);
	CHECK_INT(pq_header_add_addresses(&out, "From", list + 2, 1, PQ_HEADER_UTF8), 0);
	CHECK_STR(pq_buf_str(&out), "From: Zo\xc3\xab Reviewer <zoe@example.org>\n");

	pq_buf_reset(&out);
	CHECK_INT(pq_header_add_addresses(&out, "Cc", evil, 1, PQ_HEADER_ENCODE), PQ_EINVAL);
	CHECK_INT(pq_header_add_addresses(&out, "Cc", evil_name, 1, PQ_HEADER_ENCODE), PQ_EINVAL);
	CHECK_INT(out.len, 0);
	CHECK_INT(pq_header_add_addresses(&out, "Cc", list, 0, 0), 0);
	CHECK_INT(out.len, 0);
	pq_buf_free(&out);
}

static void test_address_ok(void)
{
	CHECK(pq_header_address_ok("a@b"));
	CHECK(pq_header_address_ok("first.last+tag@sub.example.org"));
	CHECK(pq_header_address_ok("j\xc3\xb6rg@example.org"));
	CHECK(!pq_header_address_ok(""));
	CHECK(!pq_header_address_ok("nobody"));
	CHECK(!pq_header_address_ok("@example.org"));
	CHECK(!pq_header_address_ok("a@"));
	CHECK(!pq_header_address_ok("a@b@c"));
	CHECK(!pq_header_address_ok("a b@c"));
	CHECK(!pq_header_address_ok("a@b>"));
	CHECK(!pq_header_address_ok("<a@b"));
	CHECK(!pq_header_address_ok("a@b\r\nRCPT TO:<c@d>"));
	CHECK(!pq_header_address_ok("a@b\x1b"));
	CHECK(!pq_header_address_ok("a,b@c"));
	CHECK(!pq_header_address_ok("a@\xff"));
}

int main(void)
{
	test_control_characters_refused();
	test_field_names_checked();
	test_non_ascii_needs_a_flag();
	test_long_values_fold_and_read_back();
	test_addresses();
	test_address_ok();
	CHECK_DONE();
}
