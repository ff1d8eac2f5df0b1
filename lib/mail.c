/*
 * mail: raw RFC 5322/MIME bytes to a decoded message (see mail.h).
 *
 * The top-level header is read here, by hand, because real mail carries NUL
 * bytes, raw 8-bit text and fused fields that a strict parser refuses; the
 * MIME body structure and transfer encodings are left to libetpan.
 */
#include "mail.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "alloc.h"
#include "digest.h"
#include "error.h"

const struct pq_mail_limits pq_mail_default_limits = {
	.max_size = 64u << 20,
	.max_headers = 2000,
	.max_depth = 16,
	.max_refs = 256,
};

/* A header field as it stands in the raw message: value still folded. */
struct field {
	const char *name;
	size_t namelen;
	const char *value;
	size_t len;
};

struct header {
	struct field *v;
	size_t n;
	const char *body; /* first byte after the blank line */
	size_t bodylen;
	int cr; /* lines end with a lone CR */
};

/* ---- UTF-8 ---- */

size_t pq_utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0];
	size_t n, i;

	*cp = c;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		*cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		*cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && *cp < 0x800) || (n == 4 && (*cp < 0x10000 || *cp > 0x10ffff)) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned cp;

	return pq_utf8_decode(s, len, &cp);
}

/* Length of the run of ASCII bytes other than NUL at s, eight at a time:
 * mail is mostly ASCII, and this runs over every byte of it. */
static size_t ascii_run(const unsigned char *s, size_t len)
{
	const uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
	size_t i = 0;
	uint64_t w;

	while (i + 8 <= len) {
		memcpy(&w, s + i, 8);
		if ((w & high) || ((w - ones) & ~w & high))
			break;
		i += 8;
	}
	while (i < len && s[i] && s[i] < 0x80)
		i++;
	return i;
}

/* Whether s is valid UTF-8; NUL bytes count as valid when keep_nul. */
static int utf8_valid(const char *s, size_t len, int keep_nul)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		i += ascii_run(p + i, len - i);
		if (i == len)
			break;
		n = p[i] ? utf8_seq(p + i, len - i) : (size_t)keep_nul;
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

/* pq_utf8_sanitize(), leaving NUL bytes as they are when keep_nul. */
static void utf8_sanitize(struct pq_buf *out, const char *s, size_t len, int keep_nul)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, n;

	pq_buf_grow(out, len);
	while (i < len) {
		i += ascii_run(p + i, len - i);
		if (i == len)
			break;
		n = p[i] ? utf8_seq(p + i, len - i) : (size_t)keep_nul;
		if (n) {
			i += n;
			continue;
		}
		pq_buf_add(out, s + start, i - start);
		pq_buf_adds(out, "\xef\xbf\xbd");
		start = ++i;
	}
	pq_buf_add(out, s + start, i - start);
}

void pq_utf8_sanitize(struct pq_buf *out, const char *s, size_t len)
{
	utf8_sanitize(out, s, len, 0);
}

/* Windows-1252 to UTF-8, by hand: it must work whatever iconv knows. A
 * NUL byte stays one when keep_nul, else it becomes U+FFFD. */
static void cp1252_to_utf8(struct pq_buf *out, const char *s, size_t len, int keep_nul)
{
	static const unsigned short high[32] = {
		0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
		0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd,
		0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
		0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
	};
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned c = (unsigned char)s[i];

		if (c == 0 && !keep_nul)
			c = 0xfffd;
		else if (c >= 0x80 && c < 0xa0)
			c = high[c - 0x80];
		if (c < 0x80) {
			pq_buf_addc(out, (char)c);
		} else if (c < 0x800) {
			pq_buf_addc(out, (char)(0xc0 | (c >> 6)));
			pq_buf_addc(out, (char)(0x80 | (c & 0x3f)));
		} else {
			pq_buf_addc(out, (char)(0xe0 | (c >> 12)));
			pq_buf_addc(out, (char)(0x80 | ((c >> 6) & 0x3f)));
			pq_buf_addc(out, (char)(0x80 | (c & 0x3f)));
		}
	}
}

static int charset_is_utf8(const char *cs)
{
	return !cs || !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") ||
	       !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii");
}

/* Latin-1 labels are read as Windows-1252, as browsers do: mail labelled
 * ISO-8859-1 that has bytes 0x80-0x9f meant Windows' quotes and dashes. */
static int charset_is_cp1252(const char *cs)
{
	return cs && (!strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "iso8859-1") ||
		      !strcasecmp(cs, "iso_8859-1") || !strcasecmp(cs, "latin1") ||
		      !strcasecmp(cs, "windows-1252") || !strcasecmp(cs, "cp1252"));
}

int pq_mail_is_ascii(const char *s, size_t len)
{
	return ascii_run((const unsigned char *)s, len) == len;
}

/*
 * Appends text in charset cs (NULL: unlabelled) to out as valid UTF-8. A
 * charset iconv does not know, or bytes that are not in it, fall back to
 * UTF-8 when the bytes are valid UTF-8 and to Windows-1252 otherwise, and
 * set *repaired. NUL bytes become U+FFFD, or stay NUL bytes when keep_nul
 * (the caller marks them itself); they never decide the charset.
 */
static void to_utf8_nul(struct pq_buf *out, const char *cs, const char *s, size_t len,
			int *repaired, int keep_nul)
{
	char *conv = NULL;
	size_t convlen = 0;

	if (pq_mail_is_ascii(s, len)) {
		pq_buf_add(out, s, len);
		return;
	}
	if (charset_is_cp1252(cs)) {
		cp1252_to_utf8(out, s, len, keep_nul);
		return;
	}
	if (cs && !charset_is_utf8(cs) && strlen(cs) < 64 &&
	    charconv_buffer("utf-8", cs, s, len, &conv, &convlen) == MAIL_CHARCONV_NO_ERROR) {
		utf8_sanitize(out, conv, convlen, keep_nul);
		charconv_buffer_free(conv);
		return;
	}
	if (utf8_valid(s, len, 1)) {
		if (cs && !charset_is_utf8(cs))
			*repaired = 1;
		utf8_sanitize(out, s, len, keep_nul);
		return;
	}
	*repaired = 1;
	cp1252_to_utf8(out, s, len, keep_nul);
}

static void to_utf8(struct pq_buf *out, const char *cs, const char *s, size_t len, int *repaired)
{
	to_utf8_nul(out, cs, s, len, repaired, 0);
}

/* ---- header fields ---- */

static int field_is(const struct field *f, const char *name)
{
	return f->namelen == strlen(name) && !strncasecmp(f->name, name, f->namelen);
}

static const struct field *header_get(const struct header *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (field_is(&h->v[i], name))
			return &h->v[i];
	return NULL;
}

/*
 * Where the line at p ends (its first byte of line end, or end) and where
 * the next one starts. Line ends are LF or CRLF; a lone CR too when cr (a
 * message written with CR line ends, as old Mac mailers did).
 */
static const char *line_end(const char *p, const char *end, int cr, const char **next)
{
	const char *e = p;

	if (!cr) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (!e) {
			*next = end;
			return end;
		}
		*next = e + 1;
		return e > p && e[-1] == '\r' ? e - 1 : e;
	}
	while (e < end && *e != '\r' && *e != '\n')
		e++;
	*next = e < end ? e + 1 : end;
	if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
		*next = e + 2;
	return e;
}

/*
 * Whether the message ends its lines with a lone CR: its first line end is
 * one, and no LF comes before the blank line ("\r\r") that would end such
 * a header (a stray CR in a header of LF mail is no line end). Python's
 * email package, so b4, reads such a header as lines; git mailinfo reads
 * the whole message as one line and loses every field but From:. The
 * header is read as lines; the body is left as it is.
 */
static int cr_line_ends(const char *raw, size_t len)
{
	const char *p = raw, *end = raw + len, *blank;

	while (p < end && *p != '\r' && *p != '\n')
		p++;
	if (p == end || *p != '\r' || (p + 1 < end && p[1] == '\n'))
		return 0;
	blank = memmem(p, (size_t)(end - p), "\r\r", 2);
	return !memchr(raw, '\n', (size_t)((blank ? blank : end) - raw));
}

/*
 * Splits the header into fields. A line that is neither a field nor a
 * continuation (no colon, a space in the name) is skipped, as git's
 * mailinfo does, and counted as a repair.
 */
static int header_parse(struct header *h, const char *raw, size_t len, size_t max_fields,
			int *repaired)
{
	const char *p = raw, *end = raw + len, *next;
	int cr = cr_line_ends(raw, len);
	size_t cap = 0;

	h->v = NULL;
	h->n = 0;
	h->cr = cr;
	while (p < end) {
		const char *eol = line_end(p, end, cr, &next), *colon, *q;
		size_t linelen = (size_t)(eol - p);

		if (linelen == 0) {
			p = next;
			break;
		}
		if ((*p == ' ' || *p == '\t') && h->n) {
			struct field *f = &h->v[h->n - 1];

			f->len = (size_t)(eol - f->value);
			p = next;
			continue;
		}
		colon = memchr(p, ':', linelen);
		for (q = p; colon && q < colon; q++)
			if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
				break;
		if (!colon || q != colon || colon == p) {
			*repaired = 1;
			p = next;
			continue;
		}
		if (h->n == max_fields)
			return pq_error_set(PQ_ELIMIT, "more than %zu header fields", max_fields);
		if (h->n == cap) {
			cap = cap ? cap * 2 : 32;
			h->v = pq_reallocarray(h->v, cap, sizeof(*h->v));
		}
		h->v[h->n].name = p;
		h->v[h->n].namelen = (size_t)(colon - p);
		h->v[h->n].value = colon + 1;
		h->v[h->n].len = (size_t)(eol - colon - 1);
		h->n++;
		p = next;
	}
	h->body = p;
	h->bodylen = (size_t)(end - p);
	return 0;
}

/* Unfolds a raw value: line breaks go (LF, CRLF, and a CR before the
 * white space of a fold in CR mail), control bytes become spaces,
 * surrounding white space is trimmed. */
static void unfold(struct pq_buf *out, const char *v, size_t len)
{
	size_t i;

	pq_buf_reset(out);
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	pq_buf_grow(out, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\n' || (c == '\r' && i + 1 < len &&
				  (v[i + 1] == '\n' || v[i + 1] == ' ' || v[i + 1] == '\t')))
			continue;
		out->ptr[out->len++] = c < ' ' || c == 0x7f ? ' ' : (char)c;
	}
	out->ptr[out->len] = '\0';
	pq_buf_rtrim(out);
}

/* ---- RFC 2047 encoded words ---- */

struct word {
	char charset[64];
	const char *text;
	size_t textlen;
	int b64;
	size_t len; /* of the whole "=?cs?X?text?=" */
};

static int parse_word(const char *s, size_t len, struct word *w)
{
	size_t i = 2, cs, end;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	for (cs = i; i < len && s[i] != '?'; i++)
		if ((unsigned char)s[i] <= ' ')
			return 0;
	if (i == cs || i - cs >= sizeof(w->charset) || i + 3 >= len || s[i + 2] != '?')
		return 0;
	memcpy(w->charset, s + cs, i - cs);
	w->charset[i - cs] = '\0';
	w->charset[strcspn(w->charset, "*")] = '\0'; /* RFC 2231 language */
	if (s[i + 1] == 'B' || s[i + 1] == 'b')
		w->b64 = 1;
	else if (s[i + 1] == 'Q' || s[i + 1] == 'q')
		w->b64 = 0;
	else
		return 0;
	w->text = s + i + 3;
	for (end = i + 3; end + 1 < len; end++) {
		if (s[end] == '?' && s[end + 1] == '=')
			break;
		if (s[end] == ' ' || s[end] == '\t')
			return 0;
	}
	if (end + 1 >= len)
		return 0;
	w->textlen = end - (i + 3);
	w->len = end + 2;
	return 1;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Appends the bytes a word stands for; padding may be missing. */
static void word_bytes(struct pq_buf *out, const struct word *w)
{
	size_t i;

	if (w->b64) {
		unsigned acc = 0;
		int bits = 0, v;

		for (i = 0; i < w->textlen; i++) {
			if ((v = b64val(w->text[i])) < 0)
				continue;
			acc = (acc << 6) | (unsigned)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				pq_buf_addc(out, (char)((acc >> bits) & 0xff));
			}
		}
		return;
	}
	for (i = 0; i < w->textlen; i++) {
		char c = w->text[i];
		int hi, lo;

		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < w->textlen &&
			   (hi = pq_hex_digit(w->text[i + 1])) >= 0 &&
			   (lo = pq_hex_digit(w->text[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		pq_buf_addc(out, c);
	}
}

/* Converts the bytes of a run of words in one charset; words are joined
 * before conversion since a character may be split between two. */
static void flush_words(struct pq_buf *out, const char *cs, struct pq_buf *bytes)
{
	int repaired = 0;

	if (!bytes->len)
		return;
	/* a NUL stays, to become a space with the other control characters */
	if (charset_is_utf8(cs))
		utf8_sanitize(out, bytes->ptr, bytes->len, 1);
	else
		to_utf8_nul(out, cs, bytes->ptr, bytes->len, &repaired, 1);
	pq_buf_reset(bytes);
}

/*
 * Control characters (C0 with NUL, CR and LF, DEL, and C1 U+0080-U+009F)
 * become spaces: a decoded value is one line of text, whatever an encoded
 * word said, so nothing downstream can write a line break from it.
 */
static void controls_to_space(struct pq_buf *b)
{
	size_t r, w;

	for (r = w = 0; r < b->len; r++) {
		unsigned char c = (unsigned char)b->ptr[r];

		if (c < 0x20 || c == 0x7f) {
			c = ' ';
		} else if (c == 0xc2 && r + 1 < b->len && (unsigned char)b->ptr[r + 1] >= 0x80 &&
			   (unsigned char)b->ptr[r + 1] <= 0x9f) {
			c = ' ';
			r++;
		}
		b->ptr[w++] = (char)c;
	}
	pq_buf_truncate(b, w);
	pq_buf_rtrim(b);
	for (r = 0; r < b->len && b->ptr[r] == ' '; r++)
		;
	if (r) {
		memmove(b->ptr, b->ptr + r, b->len - r);
		pq_buf_truncate(b, b->len - r);
	}
}

static int all_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

void pq_mail_decode_header(struct pq_buf *out, const char *value, size_t len)
{
	struct pq_buf raw = PQ_BUF_INIT, bytes = PQ_BUF_INIT;
	char charset[64] = "";
	const char *s, *p;
	size_t n, i = 0, plain = 0;
	int repaired = 0, after_word = 0;
	struct word w;

	unfold(&raw, value, len);
	pq_buf_reset(out);
	s = pq_buf_str(&raw);
	n = raw.len;
	while ((p = memmem(s + i, n - i, "=?", 2))) {
		i = (size_t)(p - s);
		if (!parse_word(s + i, n - i, &w)) {
			i += 2;
			continue;
		}
		/* white space between two words is not text */
		if (!(after_word && all_blank(s + plain, i - plain))) {
			flush_words(out, charset, &bytes);
			to_utf8(out, NULL, s + plain, i - plain, &repaired);
		}
		if (strcasecmp(charset, w.charset)) {
			flush_words(out, charset, &bytes);
			memcpy(charset, w.charset, sizeof(charset));
		}
		word_bytes(&bytes, &w);
		i += w.len;
		plain = i;
		after_word = 1;
	}
	flush_words(out, charset, &bytes);
	to_utf8(out, NULL, s + plain, n - plain, &repaired);
	controls_to_space(out);
	pq_buf_free(&bytes);
	pq_buf_free(&raw);
}

static char *field_decoded(const struct header *h, const char *name, struct pq_buf *tmp)
{
	const struct field *f = header_get(h, name);

	if (!f)
		return pq_strdup("");
	pq_mail_decode_header(tmp, f->value, f->len);
	return pq_strdup(pq_buf_str(tmp));
}

/* ---- addresses, as git mailinfo reads them ---- */

static int is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * git's unquote_quoted_pair(): quoted strings lose their quotes and
 * backslashes, comments keep their parentheses (nested ones too) and lose
 * their backslashes. Control characters become spaces on the way.
 */
static void unquote_pairs(struct pq_buf *out, const char *s)
{
	int c1;

	while ((c1 = (unsigned char)*s++)) {
		int depth = 0, literal = 0;

		if (c1 != '"' && c1 != '(') {
			pq_buf_addc(out, c1 < 0x20 || c1 == 0x7f ? ' ' : (char)c1);
			continue;
		}
		if (c1 == '(') {
			pq_buf_addc(out, '(');
			depth = 1;
		}
		for (; *s; s++) {
			unsigned char c = (unsigned char)*s;

			if (literal) {
				literal = 0;
			} else if (c == '\\') {
				literal = 1;
				continue;
			} else if (c1 == '"' && c == '"') {
				s++;
				break;
			} else if (c1 == '(' && c == '(') {
				depth++;
			} else if (c1 == '(' && c == ')' && !--depth) {
				pq_buf_addc(out, ')');
				s++;
				break;
			}
			pq_buf_addc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
		}
	}
}

/* git's cleanup_space() and strbuf_trim(): runs of white space become one
 * space, none at either end; C1 control characters count as white space. */
static void fold_space(struct pq_buf *b)
{
	size_t r, w = 0;
	int space = 0;

	for (r = 0; r < b->len; r++) {
		unsigned char c = (unsigned char)b->ptr[r];

		if (c == 0xc2 && r + 1 < b->len && (unsigned char)b->ptr[r + 1] >= 0x80 &&
		    (unsigned char)b->ptr[r + 1] <= 0x9f) {
			r++;
			space = 1;
			continue;
		}
		if (is_wsp((char)c)) {
			space = 1;
			continue;
		}
		if (space && w)
			b->ptr[w++] = ' ';
		space = 0;
		b->ptr[w++] = (char)c;
	}
	pq_buf_truncate(b, w);
}

size_t pq_mail_strip_mailto(char *s)
{
	char *r = s, *w = s;
	size_t removed = 0;

	while (*r) {
		if (*r == '<' && !strncasecmp(r + 1, "mailto:", 7)) {
			size_t n = strcspn(r + 8, "<>");

			if (r[8 + n] == '>' && n && r > s && r[-1] != ' ' && r[-1] != '\t') {
				r += 8 + n + 1;
				removed++;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
	return removed;
}

void pq_mail_split_address(const char *addr, char **name, char **email)
{
	struct pq_buf f = PQ_BUF_INIT, e = PQ_BUF_INIT;
	const char *lt = NULL, *gt = NULL, *at, *s;
	size_t i;

	unquote_pairs(&f, addr);
	if (f.ptr && pq_mail_strip_mailto(f.ptr))
		f.len = strlen(f.ptr);
	s = pq_buf_str(&f);
	/* the address in the last <...> that holds an '@' */
	for (i = 0; i < f.len; i++) {
		const char *close;

		if (s[i] != '<' || !(close = memchr(s + i, '>', f.len - i)))
			continue;
		if (memchr(s + i, '@', (size_t)(close - s - i)) &&
		    !memchr(s + i + 1, '<', (size_t)(close - s - i - 1))) {
			lt = s + i;
			gt = close;
		}
	}
	if (lt) {
		pq_buf_add(&e, lt + 1, (size_t)(gt - lt - 1));
		memmove(f.ptr + (lt - s), gt + 1, f.len - (size_t)(gt + 1 - s) + 1);
		f.len -= (size_t)(gt + 1 - lt);
	} else if ((at = strchr(s, '@'))) {
		/* git's way: the word around the first '@' ("a@b (Name)", "Name <a@b") */
		const char *start = at, *stop;

		while (start > s && !is_wsp(start[-1]) && start[-1] != '<')
			start--;
		if (start > s && start[-1] == '<')
			f.ptr[start - 1 - s] = ' ';
		for (stop = at; *stop && !is_wsp(*stop) && *stop != '>'; stop++)
			;
		pq_buf_add(&e, start, (size_t)(stop - start));
		if (*stop)
			stop++;
		memmove(f.ptr + (start - s), stop, f.len - (size_t)(stop - s) + 1);
		f.len -= (size_t)(stop - start);
	} else if ((lt = strchr(s, '<')) && (gt = strchr(lt, '>'))) {
		/* "Name <local>": git's parse_bogus_from() */
		pq_buf_add(&e, lt + 1, (size_t)(gt - lt - 1));
		pq_buf_truncate(&f, (size_t)(lt - s));
	}
	fold_space(&e);
	fold_space(&f);
	if (f.len >= 2 && f.ptr[0] == '(' && f.ptr[f.len - 1] == ')') {
		memmove(f.ptr, f.ptr + 1, f.len - 2);
		pq_buf_truncate(&f, f.len - 2);
		fold_space(&f);
	}
	/* git's get_sane_name(): a name too short, too long or that looks like
	 * an address is replaced by the address */
	if (e.len && (!f.len || f.len > 60 || strpbrk(pq_buf_str(&f), "@<>"))) {
		pq_buf_reset(&f);
		pq_buf_add(&f, e.ptr, e.len);
	}
	*name = pq_strdup(pq_buf_str(&f));
	*email = pq_strdup(pq_buf_str(&e));
	pq_buf_free(&f);
	pq_buf_free(&e);
}

/* ---- Message-IDs ---- */

/* C1 control characters (U+0080-U+009F, a terminal's CSI among them) leave
 * a Message-ID, as the C0 ones and spaces already did. */
static void drop_c1(struct pq_buf *b)
{
	size_t r, w;

	for (r = w = 0; r < b->len; r++) {
		if ((unsigned char)b->ptr[r] == 0xc2 && r + 1 < b->len &&
		    (unsigned char)b->ptr[r + 1] >= 0x80 && (unsigned char)b->ptr[r + 1] <= 0x9f) {
			r++;
			continue;
		}
		b->ptr[w++] = b->ptr[r];
	}
	pq_buf_truncate(b, w);
}

/*
 * Appends the <id>s of a raw field to a list, as clean UTF-8 strings. Past
 * max entries, the oldest are dropped when keep_latest (References: the
 * recent ones matter for threading), else the later ones are ignored.
 */
static void msgid_list(char ***list, size_t *n, const char *v, size_t len, size_t max,
		       int keep_latest)
{
	const char *p = v, *end = v + len;
	struct pq_buf id = PQ_BUF_INIT, clean = PQ_BUF_INIT;

	while (max && p < end && (p = memchr(p, '<', (size_t)(end - p)))) {
		const char *gt = memchr(p, '>', (size_t)(end - p)), *q;

		if (!gt)
			break;
		pq_buf_reset(&id);
		for (q = p + 1; q < gt; q++)
			if ((unsigned char)*q > ' ' && *q != 0x7f && *q != '<')
				pq_buf_addc(&id, *q);
		p = gt + 1;
		if (!id.len || id.len > 998)
			continue;
		pq_buf_reset(&clean);
		pq_utf8_sanitize(&clean, id.ptr, id.len);
		drop_c1(&clean);
		if (!clean.len)
			continue;
		if (*n == max) {
			if (!keep_latest)
				break;
			free((*list)[0]);
			memmove(*list, *list + 1, (max - 1) * sizeof(**list));
			(*n)--;
		}
		*list = pq_reallocarray(*list, *n + 1, sizeof(**list));
		(*list)[(*n)++] = pq_buf_detach(&clean);
	}
	pq_buf_free(&id);
	pq_buf_free(&clean);
}

static void refs_remove(struct pq_mail *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->nrefs; i++) {
		if (!strcmp(m->refs[i], id)) {
			free(m->refs[i]);
			memmove(m->refs + i, m->refs + i + 1,
				(m->nrefs - i - 1) * sizeof(*m->refs));
			m->nrefs--;
			i--;
		}
	}
}

static void parse_ids(struct pq_mail *m, const struct header *h, size_t max_refs)
{
	const struct field *f;
	char **ids = NULL;
	size_t n = 0;

	if ((f = header_get(h, "Message-ID"))) {
		msgid_list(&ids, &n, f->value, f->len, 1, 0);
		if (n) {
			m->msgid = ids[0];
		} else {
			/* "Message-ID: foo@bar" without brackets still names it */
			struct pq_buf v = PQ_BUF_INIT;

			unfold(&v, f->value, f->len);
			if (v.len && v.len <= 998 && !strpbrk(v.ptr, " \t<>")) {
				struct pq_buf clean = PQ_BUF_INIT;

				pq_utf8_sanitize(&clean, v.ptr, v.len);
				drop_c1(&clean);
				m->msgid = pq_buf_detach(&clean);
			}
			pq_buf_free(&v);
		}
		free(ids);
		ids = NULL;
		n = 0;
	}
	if ((f = header_get(h, "References")))
		msgid_list(&m->refs, &m->nrefs, f->value, f->len, max_refs, 1);
	if ((f = header_get(h, "In-Reply-To")))
		msgid_list(&ids, &n, f->value, f->len, 1, 0);
	if (n) {
		/* the parent closes the list, once */
		m->in_reply_to = ids[0];
		refs_remove(m, ids[0]);
		if (max_refs && m->nrefs == max_refs) {
			free(m->refs[0]);
			memmove(m->refs, m->refs + 1, (m->nrefs - 1) * sizeof(*m->refs));
			m->nrefs--;
		}
		if (max_refs) {
			m->refs = pq_reallocarray(m->refs, m->nrefs + 1, sizeof(*m->refs));
			m->refs[m->nrefs++] = pq_strdup(ids[0]);
		}
	}
	free(ids);
	/* a message never references itself */
	if (m->msgid)
		refs_remove(m, m->msgid);
}

/* ---- dates ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

int pq_mail_parse_date(const char *s, int64_t *t, int *offset)
{
	struct mailimf_date_time *dt = NULL;
	size_t idx = 0;
	int zone, year, ok = 0;

	if (mailimf_date_time_parse(s, strlen(s), &idx, &dt) != MAILIMF_NO_ERROR)
		return 0;
	zone = dt->dt_zone;
	year = dt->dt_year;
	/* RFC 5322 4.3: two-digit years before 50 are 20xx, three-digit ones 1900 + */
	if (year >= 0 && year < 50)
		year += 2000;
	else if (year >= 50 && year < 1000)
		year += 1900;
	if (year >= 1970 && year <= 9999 && dt->dt_month >= 1 && dt->dt_month <= 12 &&
	    dt->dt_day >= 1 && dt->dt_day <= days_in_month(year, dt->dt_month) &&
	    dt->dt_hour >= 0 && dt->dt_hour <= 23 && dt->dt_min >= 0 && dt->dt_min <= 59 &&
	    dt->dt_sec >= 0 && dt->dt_sec <= 60 && zone >= -2400 && zone <= 2400 &&
	    abs(zone % 100) < 60) {
		int64_t u =
			days_from_civil(year, (unsigned)dt->dt_month, (unsigned)dt->dt_day) * 86400;

		u += dt->dt_hour * 3600 + dt->dt_min * 60 + dt->dt_sec;
		*offset = (zone / 100) * 60 + zone % 100;
		*t = u - *offset * 60;
		ok = 1;
	}
	mailimf_date_time_free(dt);
	return ok;
}

static void parse_date(struct pq_mail *m, const char *s)
{
	m->date_valid = pq_mail_parse_date(s, &m->date, &m->date_offset);
}

/* ---- MIME body ---- */

struct walk {
	struct pq_buf *body;
	unsigned max_depth;
	int repaired;
	int too_deep;
	int skipped_html;
	int text_parts;
	int dropped_copy; /* a second copy of the patch was left out */
};

static const char *param_get(struct mailmime_content *ct, const char *name)
{
	clistiter *it;

	if (!ct || !ct->ct_parameters)
		return NULL;
	for (it = clist_begin(ct->ct_parameters); it; it = clist_next(it)) {
		struct mailmime_parameter *p = clist_content(it);

		if (p->pa_name && !strcasecmp(p->pa_name, name))
			return p->pa_value;
	}
	return NULL;
}

static const char *part_filename(struct mailmime *mm)
{
	clistiter *it;

	if (mm->mm_mime_fields) {
		for (it = clist_begin(mm->mm_mime_fields->fld_list); it; it = clist_next(it)) {
			struct mailmime_field *f = clist_content(it);
			clistiter *pi;

			if (f->fld_type != MAILMIME_FIELD_DISPOSITION ||
			    !f->fld_data.fld_disposition)
				continue;
			for (pi = clist_begin(f->fld_data.fld_disposition->dsp_parms); pi;
			     pi = clist_next(pi)) {
				struct mailmime_disposition_parm *dp = clist_content(pi);

				if (dp->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME)
					return dp->pa_data.pa_filename;
			}
		}
	}
	return param_get(mm->mm_content_type, "name");
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcasecmp(s + n - k, suffix);
}

/* Which leaf parts carry the text of a patch mail: plain text and attached
 * patches. HTML, images and signatures do not. */
static int part_wanted(struct mailmime *mm, struct walk *w)
{
	struct mailmime_content *ct = mm->mm_content_type;
	const char *sub = ct && ct->ct_subtype ? ct->ct_subtype : "plain";
	const char *fn = part_filename(mm);
	int text = !ct || !ct->ct_type ||
		   (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
		    ct->ct_type->tp_data.tp_discrete_type->dt_type == MAILMIME_DISCRETE_TYPE_TEXT);

	if (fn && (ends_with(fn, ".patch") || ends_with(fn, ".diff")))
		return 1;
	if (text && !strcasecmp(sub, "html")) {
		w->skipped_html = 1;
		return 0;
	}
	if (text &&
	    (!strcasecmp(sub, "plain") || !strcasecmp(sub, "x-patch") ||
	     !strcasecmp(sub, "x-diff") || !strcasecmp(sub, "diff") || !strcasecmp(sub, "patch")))
		return 1;
	if (!text && (!strcasecmp(sub, "x-patch") || !strcasecmp(sub, "x-diff")))
		return 1;
	return 0;
}

/* Appends decoded text, with CRLF turned into LF. */
static void add_text(struct pq_buf *body, const struct pq_buf *t)
{
	size_t at;

	if (body->len && body->ptr[body->len - 1] != '\n')
		pq_buf_addc(body, '\n');
	at = body->len;
	pq_buf_add(body, pq_buf_str(t), t->len);
	pq_buf_lf(body, at);
}

/*
 * Whether the patch in t is a copy of one already in the body: every
 * "diff --git" line of t is there. Mail clients re-wrap or re-space the
 * inline copy, so the hunks need not match byte for byte; the file headers
 * do.
 */
static int diff_already_in(const struct pq_buf *body, const struct pq_buf *t)
{
	const char *p = pq_buf_str(t), *end = p + t->len;
	int seen = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol + 1 - p) : (size_t)(end - p);

		if (n > 11 && !memcmp(p, "diff --git ", 11)) {
			if (!memmem(pq_buf_str(body), body->len, p, n))
				return 0;
			seen = 1;
		}
		p += n;
	}
	return seen;
}

static void decode_leaf(struct mailmime *mm, struct walk *w)
{
	struct mailmime_data *d = mm->mm_data.mm_single;
	struct pq_buf text = PQ_BUF_INIT, lf = PQ_BUF_INIT;
	char *dec = NULL;
	size_t declen = 0, idx = 0;
	const char *cs;

	if (!d || d->dt_type != MAILMIME_DATA_TEXT)
		return;
	cs = param_get(mm->mm_content_type, "charset");
	if (d->dt_encoded && d->dt_encoding != MAILMIME_MECHANISM_7BIT &&
	    d->dt_encoding != MAILMIME_MECHANISM_8BIT &&
	    d->dt_encoding != MAILMIME_MECHANISM_BINARY) {
		if (mailmime_part_parse(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length,
					&idx, d->dt_encoding, &dec, &declen) != MAILIMF_NO_ERROR) {
			w->repaired = 1;
			dec = NULL;
		}
	}
	/* NUL bytes stay for now: pq_mail_parse() marks where they were */
	if (dec) {
		to_utf8_nul(&text, cs, dec, declen, &w->repaired, 1);
		mailmime_decoded_part_free(dec);
	} else {
		to_utf8_nul(&text, cs, d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length,
			    &w->repaired, 1);
	}
	/* A patch sent inline and attached again (some mailers do both): the
	 * first copy is the mail's text; a second would be a second patch. */
	add_text(&lf, &text);
	if (diff_already_in(w->body, &lf))
		w->dropped_copy = 1;
	else
		add_text(w->body, &lf);
	pq_buf_free(&lf);
	w->text_parts++;
	pq_buf_free(&text);
}

static void walk_mime(struct mailmime *mm, struct walk *w, unsigned depth)
{
	clistiter *it;

	if (depth > w->max_depth) {
		w->too_deep = 1;
		return;
	}
	switch (mm->mm_type) {
	case MAILMIME_SINGLE:
		if (part_wanted(mm, w))
			decode_leaf(mm, w);
		break;
	case MAILMIME_MULTIPLE:
		for (it = clist_begin(mm->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
			walk_mime(clist_content(it), w, depth + 1);
		break;
	case MAILMIME_MESSAGE:
		/* the top level only: a forwarded mail is not our text */
		if (depth == 0 && mm->mm_data.mm_message.mm_msg_mime)
			walk_mime(mm->mm_data.mm_message.mm_msg_mime, w, depth + 1);
		break;
	}
}

/* Appends a folded value with every line end (LF, CRLF, a lone CR) as CRLF. */
static void add_crlf(struct pq_buf *out, const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (v[i] == '\r' || v[i] == '\n') {
			if (v[i] == '\r' && i + 1 < len && v[i + 1] == '\n')
				i++;
			pq_buf_adds(out, "\r\n");
		} else {
			pq_buf_addc(out, v[i]);
		}
	}
}

/*
 * What libetpan needs to see of the message: its MIME header fields and
 * the body. Handing it the whole header would have it parse every address
 * list, which costs more than the rest of the parse together.
 */
static void mime_input(struct pq_buf *out, const struct header *h)
{
	size_t i;

	pq_buf_reset(out);
	for (i = 0; i < h->n; i++) {
		const struct field *f = &h->v[i];

		if (f->namelen < 8 || strncasecmp(f->name, "Content-", 8))
			continue;
		pq_buf_add(out, f->name, f->namelen);
		pq_buf_addc(out, ':');
		add_crlf(out, f->value, f->len);
		pq_buf_adds(out, "\r\n");
	}
	pq_buf_adds(out, "\r\n");
	pq_buf_add(out, h->body, h->bodylen);
}

/*
 * How many multipart containers the MIME input declares, counting at most
 * limit + 1. libetpan recurses once per nesting level before our depth
 * check can run, so hostile nesting must be refused before it parses.
 */
static size_t multipart_count(const struct pq_buf *in, size_t limit)
{
	const char *p = pq_buf_str(in), *end = p + in->len;
	size_t n = 0;

	while (p < end && n <= limit) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;

		if ((size_t)(end - p) > 13 && !strncasecmp(p, "content-type:", 13)) {
			const char *v = p + 13;
			size_t span = (size_t)(end - v) < 256 ? (size_t)(end - v) : 256, i;

			/* the field's value: up to a line that is not a continuation */
			for (i = 0; i < span; i++)
				if (v[i] == '\n' &&
				    (i + 1 == span || (v[i + 1] != ' ' && v[i + 1] != '\t')))
					span = i;
			for (i = 0; i + 10 <= span; i++)
				if (!strncasecmp(v + i, "multipart/", 10)) {
					n++;
					break;
				}
		}
		p = next;
	}
	return n;
}

/* The body when libetpan cannot make a MIME tree of it: the raw text in the
 * charset the header names. */
static void plain_body(struct pq_mail *m, const struct header *h, int *repaired)
{
	struct pq_buf text = PQ_BUF_INIT;

	to_utf8_nul(&text, NULL, h->body, h->bodylen, repaired, 1);
	add_text(&m->body, &text);
	pq_buf_free(&text);
}

/*
 * The NUL bytes the body kept become U+FFFD, as everywhere text enters, and
 * their places are kept in m->nul_at, so that a diff that held one can be
 * refused rather than applied with U+FFFD in a file. Returns their count.
 */
static size_t mark_nuls(struct pq_mail *m)
{
	struct pq_buf out = PQ_BUF_INIT;
	const char *p = m->body.ptr, *end, *nul;
	size_t cap = 0;

	if (!p || !memchr(p, '\0', m->body.len))
		return 0;
	end = p + m->body.len;
	while ((nul = memchr(p, '\0', (size_t)(end - p)))) {
		pq_buf_add(&out, p, (size_t)(nul - p));
		if (m->nnul == cap) {
			cap = cap ? cap * 2 : 8;
			m->nul_at = pq_reallocarray(m->nul_at, cap, sizeof(*m->nul_at));
		}
		m->nul_at[m->nnul++] = out.len;
		pq_buf_adds(&out, "\xef\xbf\xbd");
		p = nul + 1;
	}
	pq_buf_add(&out, p, (size_t)(end - p));
	pq_buf_free(&m->body);
	m->body = out;
	return m->nnul;
}

static void add_warning(struct pq_buf *w, const char *what)
{
	if (w->len)
		pq_buf_adds(w, "; ");
	pq_buf_adds(w, what);
}

/* Dates and transport headers stay out: a series sent twice is the same
 * content delivered twice. */
static void content_hash(struct pq_mail *m)
{
	struct pq_digest d;

	pq_digest_begin(&d);
	pq_digest_add(&d, m->from_email, strlen(m->from_email));
	pq_digest_add(&d, "\n", 1);
	pq_digest_add(&d, m->subject, strlen(m->subject));
	pq_digest_add(&d, "\n", 1);
	pq_digest_add(&d, m->body.ptr, m->body.len);
	pq_digest_end(&d, m->content_hash);
}

/* A Message-ID for mail that has none, stable across deliveries: 160 bits
 * of the content hash, in hex. */
#define DERIVED_ID_BYTES 20

static void derive_msgid(struct pq_mail *m)
{
	char hex[2 * DERIVED_ID_BYTES + 1];
	struct pq_buf id = PQ_BUF_INIT;

	pq_hex(m->content_hash, DERIVED_ID_BYTES, hex);
	pq_buf_addf(&id, "%s@patchq.invalid", hex);
	free(m->msgid);
	m->msgid = pq_buf_detach(&id);
	m->msgid_derived = 1;
}

static void fill_empty(struct pq_mail *m)
{
	char **s[] = { &m->subject, &m->from_name, &m->from_email, &m->date_raw,
		       &m->to,	    &m->cc,	   &m->list_id };
	size_t i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (!*s[i])
			*s[i] = pq_strdup("");
}

int pq_mail_parse(struct pq_mail *m, const char *raw, size_t len, const struct pq_mail_limits *lim)
{
	struct header h = { 0 };
	struct pq_buf tmp = PQ_BUF_INIT, warn = PQ_BUF_INIT;
	struct mailmime *mime = NULL;
	char *from;
	size_t idx = 0;
	int repaired = 0, ret = 0;

	memset(m, 0, sizeof(*m));
	if (!lim)
		lim = &pq_mail_default_limits;
	if (!raw) {
		raw = "";
		len = 0;
	}
	if (len > lim->max_size) {
		ret = pq_error_set(PQ_ELIMIT, "message of %zu bytes is over the limit of %zu", len,
				   lim->max_size);
		goto fail;
	}
	if ((ret = header_parse(&h, raw, len, lim->max_headers, &repaired)) < 0)
		goto fail;
	if (!h.n) {
		ret = pq_error_set(PQ_EINVAL, "no header fields");
		goto fail;
	}
	if (repaired)
		add_warning(&warn, "malformed header lines skipped");

	m->subject = field_decoded(&h, "Subject", &tmp);
	from = field_decoded(&h, "From", &tmp);
	pq_mail_split_address(from, &m->from_name, &m->from_email);
	free(from);
	m->date_raw = field_decoded(&h, "Date", &tmp);
	parse_date(m, m->date_raw);
	m->to = field_decoded(&h, "To", &tmp);
	m->cc = field_decoded(&h, "Cc", &tmp);
	m->list_id = field_decoded(&h, "List-Id", &tmp);
	parse_ids(m, &h, lim->max_refs);

	repaired = 0;
	mime_input(&tmp, &h);
	if (multipart_count(&tmp, 4 * lim->max_depth) > 4 * lim->max_depth) {
		ret = pq_error_set(PQ_ELIMIT, "more than %u multipart containers",
				   4 * lim->max_depth);
		goto fail;
	}
	if (mailmime_parse(tmp.ptr, tmp.len, &idx, &mime) == MAILIMF_NO_ERROR && mime) {
		struct walk w = { .body = &m->body, .max_depth = lim->max_depth };

		walk_mime(mime, &w, 0);
		mailmime_free(mime);
		if (w.too_deep) {
			ret = pq_error_set(PQ_ELIMIT, "MIME nesting deeper than %u",
					   lim->max_depth);
			goto fail;
		}
		repaired = w.repaired;
		if (!w.text_parts && w.skipped_html)
			add_warning(&warn, "HTML only: no text part");
		if (w.dropped_copy)
			add_warning(&warn, "patch attached a second time: the copy is left out");
	} else {
		plain_body(m, &h, &repaired);
		add_warning(&warn, "MIME structure unreadable: body taken as plain text");
	}
	if (repaired)
		add_warning(&warn, "bogus charset or encoding repaired");
	if (mark_nuls(m))
		add_warning(&warn, "NUL bytes in the text, shown as U+FFFD");
	if (h.cr)
		add_warning(&warn, "lines end with a lone CR: the header read as lines");
	if (warn.len)
		m->warning = pq_buf_detach(&warn);
	fill_empty(m);
	content_hash(m);
	if (!m->msgid)
		derive_msgid(m);
	pq_buf_free(&tmp);
	pq_buf_free(&warn);
	free(h.v);
	return 0;

fail:
	/* Keep enough to store the raw bytes as unparsable, under a stable
	 * name: the content is the body, so a re-delivery with other transport
	 * headers is recognised as one. */
	{
		const char *body = memmem(raw, len, "\n\n", 2), *crlf;

		crlf = memmem(raw, len, "\r\n\r\n", 4);
		if (crlf && (!body || crlf < body))
			body = crlf + 2;
		if (cr_line_ends(raw, len) && (crlf = memmem(raw, len, "\r\r", 2)) &&
		    (!body || crlf < body))
			body = crlf;
		body = body ? body + 2 : raw;
		pq_digest(m->content_hash, body, len - (size_t)(body - raw));
	}
	fill_empty(m);
	if (!m->msgid)
		derive_msgid(m);
	pq_buf_free(&tmp);
	pq_buf_free(&warn);
	free(h.v);
	return ret;
}

void pq_mail_free(struct pq_mail *m)
{
	size_t i;

	free(m->msgid);
	for (i = 0; i < m->nrefs; i++)
		free(m->refs[i]);
	free(m->refs);
	free(m->in_reply_to);
	free(m->subject);
	free(m->from_name);
	free(m->from_email);
	free(m->date_raw);
	free(m->to);
	free(m->cc);
	free(m->list_id);
	pq_buf_free(&m->body);
	free(m->nul_at);
	free(m->warning);
	memset(m, 0, sizeof(*m));
}
