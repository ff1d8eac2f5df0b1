/*
 * header: writing header fields, folded and refusing (see header.h).
 *
 * reply.c and am.c build their fields here and nowhere else. The values
 * come from decoded mail, which mail.c already cleaned of control
 * characters; this is the second lock on the same door, so a value that
 * still holds one is refused, not repaired.
 */
#include "header.h"

#include <string.h>

#include <openssl/evp.h>

#include "error.h"
#include "mail.h"

/* pq_header_add_addresses() to pq_header_add(): fold after every comma. */
#define HEADER_LIST (1u << 8)

/* Bytes of text encoded in one encoded word: 39 give 52 base64 characters,
 * a word of 64, which fits a line after any field name up to 12 long. */
#define WORD_BYTES 39

/*
 * Length of the UTF-8 sequence at s that is a printable character (no C1
 * control), or 0 when it is invalid or a control character.
 */
static size_t printable_seq(const unsigned char *s, size_t len)
{
	unsigned cp;
	size_t n = pq_utf8_decode(s, len, &cp);

	if (n == 1)
		return cp >= 0x20 && cp != 0x7f;
	return cp >= 0x80 && cp < 0xa0 ? 0 : n;
}

/* 0 when s is printable UTF-8 (*ascii set when it is all ASCII), else the
 * offset + 1 of the first byte that is not. */
static size_t first_bad(const char *s, size_t len, int *ascii)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	*ascii = 1;
	while (i < len) {
		if (!(n = printable_seq(p + i, len - i)))
			return i + 1;
		if (n > 1)
			*ascii = 0;
		i += n;
	}
	return 0;
}

static int name_ok(const char *name)
{
	const char *p;

	if (!*name)
		return 0;
	for (p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == ':')
			return 0;
	return 1;
}

/* s as RFC 2047 encoded words (UTF-8, base64) separated by spaces; a UTF-8
 * sequence is never split between two words. */
static void add_encoded(struct pq_buf *b, const char *s, size_t len)
{
	size_t off = 0;

	while (off < len) {
		unsigned char out[4 * WORD_BYTES / 3 + 4];
		size_t n = len - off < WORD_BYTES ? len - off : WORD_BYTES;

		while (off + n < len && n > 1 && ((unsigned char)s[off + n] & 0xc0) == 0x80)
			n--;
		EVP_EncodeBlock(out, (const unsigned char *)s + off, (int)n);
		pq_buf_addf(b, "%s=?UTF-8?B?%s?=", off ? " " : "", out);
		off += n;
	}
}

/*
 * Appends value to out folded: a line break goes before a run of white
 * space (outside double quotes) when the word after it would take the
 * line past PQ_HEADER_LINE and the line holds a word already. col is the
 * length of the line so far. PQ_ELIMIT when a line passes the hard limit.
 */
static int add_folded(struct pq_buf *out, const char *field, const char *v, size_t col, int list)
{
	size_t i = 0, len = strlen(v), words = 0;
	int quoted = 0;

	while (i < len) {
		size_t start = i;
		/* an address list goes one address a line */
		int after_comma = list && i && v[i - 1] == ',' && !quoted;

		/* one segment: white space, then a word up to the next white space
		 * outside quotes */
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		for (; i < len; i++) {
			if (quoted && v[i] == '\\' && i + 1 < len) {
				i++;
				continue;
			}
			if (v[i] == '"')
				quoted = !quoted;
			else if (!quoted && (v[i] == ' ' || v[i] == '\t'))
				break;
		}
		if (words && start > 0 && (after_comma || col + (i - start) > PQ_HEADER_LINE)) {
			pq_buf_addc(out, '\n');
			col = 0;
		}
		pq_buf_add(out, v + start, i - start);
		col += i - start;
		words++;
		if (col > PQ_HEADER_LINE_MAX)
			return pq_error_set(
				PQ_ELIMIT,
				"header %s: a word of %zu characters does not fit a line", field,
				i - start);
	}
	return 0;
}

int pq_header_add(struct pq_buf *out, const char *name, const char *value, unsigned flags)
{
	struct pq_buf enc = PQ_BUF_INIT;
	size_t before = out->len, bad, len = strlen(value);
	int ascii, ret;

	if (!name_ok(name))
		return pq_error_set(PQ_EINVAL, "\"%s\" is not a header field name", name);
	if ((bad = first_bad(value, len, &ascii)))
		return pq_error_set(PQ_EINVAL,
				    "header %s: refused, a control character or invalid UTF-8 at "
				    "byte %zu of its value",
				    name, bad);
	if (!ascii && !(flags & (PQ_HEADER_ENCODE | PQ_HEADER_UTF8)))
		return pq_error_set(PQ_EINVAL, "header %s: refused, its value is not ASCII", name);
	if (!ascii && (flags & PQ_HEADER_ENCODE)) {
		add_encoded(&enc, value, len);
		value = pq_buf_str(&enc);
	}
	pq_buf_addf(out, "%s:", name);
	if (*value) {
		pq_buf_addc(out, ' ');
		ret = add_folded(out, name, value, strlen(name) + 2, !!(flags & HEADER_LIST));
		if (ret == PQ_ELIMIT && (flags & PQ_HEADER_ENCODE) && !enc.len) {
			/* a word longer than a line: encoded words can be cut anywhere */
			pq_buf_truncate(out, before);
			pq_buf_addf(out, "%s: ", name);
			add_encoded(&enc, value, len);
			ret = add_folded(out, name, pq_buf_str(&enc), strlen(name) + 2, 0);
		}
		if (ret < 0) {
			pq_buf_truncate(out, before);
			pq_buf_free(&enc);
			return ret;
		}
	}
	pq_buf_addc(out, '\n');
	pq_buf_free(&enc);
	return 0;
}

int pq_header_address_ok(const char *email)
{
	const char *at = strchr(email, '@');
	size_t len = strlen(email), i;
	int ascii;

	if (!at || at == email || !at[1] || strchr(at + 1, '@') || len > 254 ||
	    first_bad(email, len, &ascii))
		return 0;
	for (i = 0; i < len; i++)
		if (email[i] == ' ' || strchr("<>()[],;:\\\"", email[i]))
			return 0;
	return 1;
}

/* A display name as a phrase: encoded when not ASCII (unless raw UTF-8 is
 * allowed and encoding not asked for), quoted when it holds specials, as it
 * is otherwise. */
static void add_phrase(struct pq_buf *b, const char *name, unsigned flags)
{
	const char *p;
	int ascii;

	if (first_bad(name, strlen(name), &ascii) ||
	    (!ascii && ((flags & PQ_HEADER_ENCODE) || !(flags & PQ_HEADER_UTF8)))) {
		/* a bad one is refused by pq_header_add() all the same */
		add_encoded(b, name, strlen(name));
		return;
	}
	if (!name[strcspn(name, "()<>[]:;@\\,.\"")]) {
		pq_buf_adds(b, name);
		return;
	}
	pq_buf_addc(b, '"');
	for (p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			pq_buf_addc(b, '\\');
		pq_buf_addc(b, *p);
	}
	pq_buf_addc(b, '"');
}

int pq_header_add_addresses(struct pq_buf *out, const char *name, const struct pq_header_addr *v,
			    size_t n, unsigned flags)
{
	struct pq_buf value = PQ_BUF_INIT;
	size_t i;
	int ret, ascii;

	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		const char *dn = v[i].name;

		if (!v[i].email || !pq_header_address_ok(v[i].email)) {
			pq_buf_free(&value);
			return pq_error_set(PQ_EINVAL, "header %s: refused the address \"%s\"",
					    name, v[i].email ? v[i].email : "");
		}
		if (dn && first_bad(dn, strlen(dn), &ascii)) {
			pq_buf_free(&value);
			return pq_error_set(PQ_EINVAL,
					    "header %s: refused, a control character or invalid "
					    "UTF-8 in the name of <%s>",
					    name, v[i].email);
		}
		if (i)
			pq_buf_adds(&value, ", ");
		if (dn && *dn && strcmp(dn, v[i].email)) {
			add_phrase(&value, dn, flags);
			pq_buf_addf(&value, " <%s>", v[i].email);
		} else {
			pq_buf_adds(&value, v[i].email);
		}
	}
	ret = pq_header_add(out, name, pq_buf_str(&value),
			    (flags & ~(unsigned)PQ_HEADER_ENCODE) | HEADER_LIST);
	pq_buf_free(&value);
	return ret;
}
