/*
 * imapcode: the screen of an IMAP server's response codes (see imapcode.h).
 *
 * A small recursive-descent reader of RFC 3501's resp-text-code, with the
 * codes of UIDPLUS (RFC 4315) and CONDSTORE (RFC 7162) that libetpan parses
 * into structures, stricter than the RFC where patchq has no use for what
 * it allows (a BADCHARSET list). Every reader returns GOOD, BAD or SHORT
 * (the input ended first, which the caller refuses too).
 */
#include "imapcode.h"

#include <string.h>
#include <strings.h>

enum { GOOD = 0, BAD = -1, SHORT = -2 };

struct in {
	const char *p, *end;
};

/* ATOM-CHAR: any CHAR but atom-specials ("(" ")" "{" SP CTL "%" "*" '"' "\" "]"). */
static int atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

static int more(const struct in *in)
{
	return in->p < in->end;
}

/* The byte c next: GOOD and past it, SHORT at the end, else BAD. */
static int expect(struct in *in, char c)
{
	if (!more(in))
		return SHORT;
	if (*in->p != c)
		return BAD;
	in->p++;
	return GOOD;
}

/* One or more bytes for which ok() holds. */
static int run_of(struct in *in, int (*ok)(unsigned char))
{
	const char *start = in->p;

	while (more(in) && ok((unsigned char)*in->p))
		in->p++;
	if (in->p > start)
		return GOOD;
	return more(in) ? BAD : SHORT;
}

static int digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* sequence-set and uid-set characters: numbers, ranges, lists, "*" */
static int set_char(unsigned char c)
{
	return digit(c) || c == ':' || c == ',' || c == '*';
}

/* TEXT-CHAR but "]": what a code's free-form argument may hold */
static int code_text_char(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != ']';
}

/*
 * Past blanks: libetpan takes a run of spaces and tabs where IMAP has one
 * space, so the screen must find a code wherever libetpan would.
 */
static int blanks(struct in *in)
{
	const char *start = in->p;

	while (more(in) && (*in->p == ' ' || *in->p == '\t'))
		in->p++;
	return in->p > start;
}

static int atom(struct in *in)
{
	return run_of(in, atom_char);
}

static int number(struct in *in)
{
	const char *start = in->p;
	int r = run_of(in, digit);

	/* a number is 32 bits, a mod-sequence 63: 19 digits cover both */
	if (r == GOOD && in->p - start > 19)
		return BAD;
	return r;
}

/* flag-perm: "\*", "\" atom, or atom */
static int flag_perm(struct in *in)
{
	if (more(in) && *in->p == '\\') {
		in->p++;
		if (more(in) && *in->p == '*') {
			in->p++;
			return GOOD;
		}
	}
	return atom(in);
}

/* "(" [item *(SP item)] ")"; empty only where empty is allowed */
static int list(struct in *in, int (*item)(struct in *), int empty_ok)
{
	int r;

	if ((r = expect(in, '(')) != GOOD)
		return r;
	if (more(in) && *in->p == ')') {
		in->p++;
		return empty_ok ? GOOD : BAD;
	}
	for (;;) {
		if ((r = item(in)) != GOOD)
			return r;
		if (!more(in))
			return SHORT;
		if (*in->p == ')') {
			in->p++;
			return GOOD;
		}
		if ((r = expect(in, ' ')) != GOOD)
			return r;
	}
}

/* SP item, one or more times, up to the "]" */
static int spaced(struct in *in, int (*item)(struct in *))
{
	int r, n = 0;

	while (more(in) && *in->p == ' ') {
		in->p++;
		if ((r = item(in)) != GOOD)
			return r;
		n++;
	}
	if (!more(in))
		return SHORT;
	return n ? GOOD : BAD;
}

static int set(struct in *in)
{
	return run_of(in, set_char);
}

static int perm_flags(struct in *in)
{
	return list(in, flag_perm, 1);
}

/* The codes libetpan parses into structures, and what follows each name. */
static const struct code {
	const char *name;
	/*
	 * each letter one argument: "n" SP number, "s" SP sequence set, "F" SP
	 * flag list, "C" one or more SP capability
	 */
	const char *args;
	int text; /* text must follow the "]": libetpan copies it without looking */
} codes[] = {
	{ "ALERT", "", 1 },
	{ "PARSE", "", 1 },
	{ "READ-ONLY", "", 0 },
	{ "READ-WRITE", "", 0 },
	{ "TRYCREATE", "", 0 },
	{ "NOMODSEQ", "", 0 },
	{ "UIDNEXT", "n", 0 },
	{ "UIDVALIDITY", "n", 0 },
	{ "UNSEEN", "n", 0 },
	{ "HIGHESTMODSEQ", "n", 0 },
	{ "MODIFIED", "s", 0 },
	{ "APPENDUID", "ns", 0 },
	{ "COPYUID", "nss", 0 },
	{ "PERMANENTFLAGS", "F", 0 },
	{ "CAPABILITY", "C", 0 },
	/* patchq never searches by charset: the list a BADCHARSET may carry
	 * (on which libetpan crashes in more than one way) has no business here */
	{ "BADCHARSET", "", 0 },
};

static int code_args(struct in *in, const char *args)
{
	int r = GOOD;

	for (; *args && r == GOOD; args++) {
		if (*args == 'C') {
			r = spaced(in, atom);
			break;
		}
		if ((r = expect(in, ' ')) != GOOD)
			break;
		switch (*args) {
		case 'n':
			r = number(in);
			break;
		case 's':
			r = set(in);
			break;
		case 'F':
			r = perm_flags(in);
			break;
		}
	}
	return r;
}

/* resp-text-code "]", in is just past the "[" */
static int code(struct in *in)
{
	const char *name = in->p;
	size_t i, len;
	int r;

	if ((r = atom(in)) != GOOD)
		return r;
	len = (size_t)(in->p - name);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strlen(codes[i].name) == len && !strncasecmp(codes[i].name, name, len))
			break;
	if (i < sizeof(codes) / sizeof(codes[0]))
		r = code_args(in, codes[i].args);
	else if (more(in) && *in->p == ' ') /* any other atom [SP text] */
		in->p++, r = run_of(in, code_text_char);
	if (r == GOOD)
		r = expect(in, ']');
	if (r == GOOD && i < sizeof(codes) / sizeof(codes[0]) && codes[i].text) {
		blanks(in);
		if (!more(in))
			return BAD;
	}
	return r;
}

/* Past a word w (any case) and blanks; 0 when the line does not go so. */
static int word(struct in *in, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(in->end - in->p) < n + 1 || strncasecmp(in->p, w, n) ||
	    (in->p[n] != ' ' && in->p[n] != '\t'))
		return 0;
	in->p += n;
	blanks(in);
	return 1;
}

/*
 * A tag, then blanks: any run of bytes but blanks and line ends, as far as
 * this screen is concerned, since libetpan is more lenient than the RFC's
 * tag and the screen must not miss a line libetpan would take as tagged.
 */
static int tag(struct in *in)
{
	const char *start = in->p;

	while (more(in) && !strchr(" \t\r\n", *in->p))
		in->p++;
	return in->p > start && blanks(in);
}

/*
 * Past the start of a line whose rest is resp-text: a continuation
 * request ("+") or a status response, tagged or not; 0 for another line.
 */
static int text_start(struct in *in)
{
	blanks(in); /* libetpan skips blanks a line starts with */
	if (more(in) && *in->p == '+') {
		in->p++;
		blanks(in);
		return 1;
	}
	if (more(in) && *in->p == '*') {
		in->p++;
		return blanks(in) && (word(in, "OK") || word(in, "NO") || word(in, "BAD") ||
				      word(in, "BYE") || word(in, "PREAUTH"));
	}
	return tag(in) && (word(in, "OK") || word(in, "NO") || word(in, "BAD"));
}

int pq_imap_line_is_text(const char *line, size_t len)
{
	struct in in = { line, line + len };

	return text_start(&in);
}

const char *pq_imap_code_check(const char *line, size_t len)
{
	struct in in = { line, line + len };
	int r;

	if (!text_start(&in))
		return NULL;
	if (!more(&in) || *in.p != '[')
		return NULL;
	in.p++;
	r = code(&in);
	if (r == BAD)
		return "a malformed response code";
	if (r == SHORT)
		return "a response code that is not closed";
	return NULL;
}
