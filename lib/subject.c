/*
 * subject: split a patch mail's subject into its bracket prefix and name
 * (see subject.h).
 *
 * The subject is read once from the left: reply markers ("Re:", "Aw:",
 * "Re[2]:"...), then leading bracket groups ("[dpdk-dev] [PATCH v2 1/3]"),
 * then the name. Inside a group, tokens are split on blanks and commas and
 * classified one by one; whatever is not understood becomes a tag. Every
 * byte is looked at a bounded number of times, so the work is linear in the
 * length of the subject whatever it holds.
 */
#include "subject.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

/* Numbers past this are not counters or versions but tags ("[PATCH 12345678901]"). */
#define SUBJECT_NUM_MAX 999999999

struct subject_tok {
	const char *p;
	size_t len;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Locale-independent: subjects are bytes, only ASCII letters fold. */
static int ascii_ncaseeq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return 0;
	return 1;
}

static const char *skip_blanks(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

static int tok_is(const struct subject_tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->len == n && ascii_ncaseeq(t->p, word, n);
}

/* Parses len decimal digits (leading zeros allowed) into *out. */
static int parse_num(const char *p, size_t len, int *out)
{
	long v = 0;
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return 0;
		v = v * 10 + (p[i] - '0');
		if (v > SUBJECT_NUM_MAX)
			return 0;
	}
	*out = (int)v;
	return 1;
}

/* "v3", "V10" */
static int parse_version(const char *p, size_t len, int *out)
{
	if (len < 2 || (p[0] != 'v' && p[0] != 'V'))
		return 0;
	return parse_num(p + 1, len - 1, out);
}

/* "2/3", "02/10", "3/2" (an extra patch past the announced total) */
static int parse_counter(const struct subject_tok *t, int *index, int *total)
{
	const char *slash = memchr(t->p, '/', t->len);
	size_t left;

	if (!slash)
		return 0;
	left = (size_t)(slash - t->p);
	return parse_num(t->p, left, index) && parse_num(slash + 1, t->len - left - 1, total);
}

/* The next token of a bracket group; blanks and commas separate tokens. */
static int tok_next(const char **pos, const char *end, struct subject_tok *t)
{
	const char *p = *pos;

	while (p < end && (is_blank(*p) || *p == ','))
		p++;
	if (p == end) {
		*pos = p;
		return 0;
	}
	t->p = p;
	while (p < end && !is_blank(*p) && *p != ',')
		p++;
	t->len = (size_t)(p - t->p);
	*pos = p;
	return 1;
}

/*
 * Markers mail clients put before a replied or forwarded subject. The last
 * two are "reply" in Chinese, as sent by Outlook and Foxmail to kernel lists.
 */
static const char *const reply_words[] = {
	"re",
	"aw",
	"sv",
	"antw",
	"fwd",
	"fw",
	"\xe5\x9b\x9e\xe5\xa4\x8d", /* 回复 */
	"\xe7\xad\x94\xe5\xa4\x8d", /* 答复 */
};

/*
 * If p starts with one reply marker ("Re:", "RE :", "Re[2]:", "Aw:"),
 * returns the position after its colon, else NULL.
 */
static const char *match_reply(const char *p)
{
	size_t i, n;
	const char *q;

	for (i = 0; i < sizeof(reply_words) / sizeof(reply_words[0]); i++) {
		n = strlen(reply_words[i]);
		/* stops at the first difference, so never reads past p's NUL */
		if (!ascii_ncaseeq(p, reply_words[i], n))
			continue;
		q = p + n;
		/* Re[2]: and Re(2): count earlier replies */
		if (*q == '[' || *q == '(') {
			char close = *q == '[' ? ']' : ')';
			const char *d = q + 1;

			while (is_digit(*d))
				d++;
			if (d == q + 1 || *d != close)
				continue;
			q = d + 1;
		}
		/* French typography puts a space before the colon */
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == ':')
			return q + 1;
		/* full-width colon, U+FF1A */
		if (q[0] == '\xef' && q[1] == '\xbc' && q[2] == '\x9a')
			return q + 3;
	}
	return NULL;
}

/* Skips any run of reply markers at p; returns p itself when there is none. */
static const char *skip_replies(const char *p)
{
	const char *q;

	for (;;) {
		q = match_reply(skip_blanks(p));
		if (!q)
			return p;
		p = q;
	}
}

static void subject_add_tag(struct pq_subject *s, const struct subject_tok *t)
{
	char *tag;
	size_t i;

	/* The capacity is the next power of two: grow when ntags reaches one. */
	if ((s->ntags & (s->ntags - 1)) == 0)
		s->tags = pq_reallocarray(s->tags, s->ntags ? s->ntags * 2 : 1, sizeof(*s->tags));
	tag = pq_strndup(t->p, t->len);
	for (i = 0; i < t->len; i++)
		tag[i] = ascii_lower(tag[i]);
	s->tags[s->ntags++] = tag;
}

/*
 * "PATCH", "RFC" or "RESEND", alone or glued to a version ("PATCHv2",
 * "RFCv3"). Returns which (KW_*), or 0 for another token.
 */
enum { KW_PATCH = 1, KW_RFC, KW_RESEND };

static int subject_take_keyword(struct pq_subject *s, const struct subject_tok *t)
{
	static const char *const words[] = { "patch", "rfc", "resend" };
	size_t i, n;
	int v;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i]);
		if (t->len < n || !ascii_ncaseeq(t->p, words[i], n))
			continue;
		if (t->len > n) {
			if (!parse_version(t->p + n, t->len - n, &v))
				continue;
			s->version = v;
			s->version_explicit = 1;
		}
		if (i == 0)
			s->is_patch = 1;
		else if (i == 1)
			s->is_rfc = 1;
		else
			s->is_resend = 1;
		return (int)i + KW_PATCH;
	}
	return 0;
}

/* Classifies the tokens of one bracket group, [p, end) without the brackets. */
static void subject_parse_group(struct pq_subject *s, const char *p, const char *end)
{
	struct subject_tok t, t2, t3;
	const char *ahead;
	int git = 0, patch = 0, after_pull = 0;
	int v, idx, tot;

	while (tok_next(&p, end, &t)) {
		int was_pull = after_pull, kw;

		after_pull = 0;
		kw = subject_take_keyword(s, &t);
		if (kw) {
			patch |= kw == KW_PATCH;
			continue;
		}
		if (parse_version(t.p, t.len, &v)) {
			s->version = v;
			s->version_explicit = 1;
			continue;
		}
		/* "v 2" */
		ahead = p;
		if (tok_is(&t, "v") && tok_next(&ahead, end, &t2) && parse_num(t2.p, t2.len, &v)) {
			s->version = v;
			s->version_explicit = 1;
			p = ahead;
			continue;
		}
		if (parse_counter(&t, &idx, &tot)) {
			s->index = idx;
			s->total = tot;
			continue;
		}
		/* Mercurial's "1 of 2" */
		ahead = p;
		if (parse_num(t.p, t.len, &idx) && tok_next(&ahead, end, &t2) &&
		    tok_is(&t2, "of") && tok_next(&ahead, end, &t3) &&
		    parse_num(t3.p, t3.len, &tot)) {
			s->index = idx;
			s->total = tot;
			p = ahead;
			continue;
		}
		if (tok_is(&t, "git")) {
			git = 1;
			continue;
		}
		if (tok_is(&t, "pull")) {
			s->is_pull = 1;
			after_pull = 1;
			continue;
		}
		/* "[GIT PULL REQUEST]" */
		if (was_pull && tok_is(&t, "request"))
			continue;
		subject_add_tag(s, &t);
	}
	/* "[GIT]" asks for a pull; in "[GIT PATCH]" git is just a tag. */
	if (git && !patch)
		s->is_pull = 1;
	else if (git)
		subject_add_tag(s, &(struct subject_tok){ "git", 3 });
}

/* The name: blank runs (folding leftovers, tabs) become one space, ends trimmed. */
static char *subject_make_name(const char *p)
{
	struct pq_buf b = PQ_BUF_INIT;
	const char *start;

	p = skip_blanks(p);
	while (*p) {
		start = p;
		while (*p && !is_blank(*p))
			p++;
		pq_buf_add(&b, start, (size_t)(p - start));
		p = skip_blanks(p);
		if (*p)
			pq_buf_addc(&b, ' ');
	}
	if (!b.ptr)
		return pq_strdup("");
	return pq_buf_detach(&b);
}

int pq_subject_parse(struct pq_subject *out, const char *subject)
{
	const char *p, *q, *close;
	int seen_group = 0;

	if (!out)
		return pq_error_set(PQ_EINVAL, "subject: no result to parse into");
	memset(out, 0, sizeof(*out));
	if (!subject)
		return pq_error_set(PQ_EINVAL, "subject: NULL subject");
	out->version = 1;
	out->index = -1;
	out->total = -1;

	p = skip_replies(subject);
	out->is_reply = p != subject;
	for (;;) {
		p = skip_blanks(p);
		q = p;
		/*
		 * A list tag may come before the reply marker
		 * ("[dpdk-dev] Re: [PATCH] x"); "[PATCH] Re: x" keeps it in the name.
		 */
		if (seen_group) {
			q = skip_blanks(skip_replies(p));
			if (q != p && *q != '[')
				break;
		}
		if (*q != '[')
			break;
		close = strchr(q + 1, ']');
		if (!close)
			break;
		if (q != p)
			out->is_reply = 1;
		subject_parse_group(out, q + 1, close);
		seen_group = 1;
		p = close + 1;
		/* "[Patch 2/2]: powerpc/mm: Fix" */
		if (*p == ':')
			p++;
	}
	out->name = subject_make_name(p);
	return 0;
}

void pq_subject_free(struct pq_subject *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

int pq_subject_has_tag(const struct pq_subject *s, const char *tag)
{
	size_t i, n;

	if (!s || !tag)
		return 0;
	n = strlen(tag);
	for (i = 0; i < s->ntags; i++)
		if (strlen(s->tags[i]) == n && ascii_ncaseeq(s->tags[i], tag, n))
			return 1;
	return 0;
}
