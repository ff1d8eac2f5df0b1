/*
 * trailers: find "Name: value" trailers in a commit message or in a reply.
 *
 * The mail layer hands us a decoded body; we return the trailers it carries,
 * in order, and series decides which patch they belong to. Two readings:
 * COMMIT takes the trailer block of a patch (the last paragraph before the
 * "---" that starts the diffstat, as git interpret-trailers sees it), REPLY
 * picks review tags out of a reviewer's answer, where quoted text and prose
 * that happens to contain a colon must not count.
 *
 * Every line is visited once; values grow in a pq_buf, so the work stays
 * linear in the length of the text whatever shape the input has.
 */
#include "trailers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "mail.h"

/* One line of text without its "\n" or "\r\n"; may hold NUL bytes. */
struct line {
	const char *p;
	size_t len;
};

/* A "Name: value  # note" line taken apart; pointers into the text. */
struct trailer_line {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	const char *note; /* "  # note" with its leading blanks, or NULL */
	size_t note_len;
};

/* The trailers found so far, with room to grow without rescanning. */
struct trailer_list {
	struct pq_trailer *v;
	size_t n;
	size_t cap;
};

/* The trailer being read: continuation and extinfo lines still may follow. */
struct builder {
	enum pq_trailers_mode mode;
	struct trailer_list list;
	int open;
	int person;
	int addr_joined;
	int folded; /* continuation lines a reply's trailer took */
	const char *name;
	size_t name_len;
	struct pq_buf value;
	struct pq_buf extinfo;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of a counted name with a literal. */
static int name_is(const char *name, size_t len, const char *lit)
{
	size_t i;

	if (strlen(lit) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (to_lower(name[i]) != to_lower(lit[i]))
			return 0;
	return 1;
}

static int name_is_person(const char *name, size_t len)
{
	if (len > 3 && name_is(name + len - 3, 3, "-by"))
		return 1;
	return name_is(name, len, "cc");
}

/* Utility trailers a reviewer may give in a reply. */
static int name_is_reply_utility(const char *name, size_t len)
{
	return name_is(name, len, "fixes") || name_is(name, len, "link") ||
	       name_is(name, len, "closes");
}

/* Whatever else a reply says with a colon is prose ("Note: ..."). */
static int name_counts_in_reply(const char *name, size_t len)
{
	return name_is_person(name, len) || name_is_reply_utility(name, len);
}

/* Trailers that tell a commit's trailer block from prose ending in "Foo: bar". */
static int name_is_known(const char *name, size_t len)
{
	return name_is_person(name, len) || name_is_reply_utility(name, len) ||
	       name_is(name, len, "message-id") || name_is(name, len, "change-id") ||
	       name_is(name, len, "buglink");
}

int pq_trailer_is_person(const char *name)
{
	if (!name)
		return 0;
	return name_is_person(name, strlen(name));
}

/* Cuts the line that starts at *pos; 0 once the text is used up. */
static int next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	l->p = text + *pos;
	nl = memchr(l->p, '\n', len - *pos);
	l->len = nl ? (size_t)(nl - l->p) : len - *pos;
	*pos += l->len + (nl ? 1 : 0);
	if (l->len && l->p[l->len - 1] == '\r')
		l->len--;
	return 1;
}

static size_t rtrim_len(const char *p, size_t len)
{
	while (len && is_space(p[len - 1]))
		len--;
	return len;
}

static size_t indent_len(const struct line *l)
{
	size_t i = 0;

	while (i < l->len && is_blank(l->p[i]))
		i++;
	return i;
}

static int line_is_empty(const struct line *l)
{
	return rtrim_len(l->p, l->len) == 0;
}

static int line_has_nul(const struct line *l)
{
	return l->len && memchr(l->p, '\0', l->len) != NULL;
}

static int line_is_quoted(const struct line *l)
{
	size_t i = indent_len(l);

	return i < l->len && l->p[i] == '>';
}

/*
 * Where the commit message ends: the "---" before the diffstat, a diff
 * itself, or the "-- " of a signature (some mailers drop its space).
 */
static int line_ends_message(const struct line *l)
{
	size_t n = rtrim_len(l->p, l->len);

	if ((n == 2 || n == 3) && !memcmp(l->p, "---", n))
		return 1;
	if (l->len >= 4 && !memcmp(l->p, "--- ", 4))
		return 1;
	return l->len >= 10 && !memcmp(l->p, "diff --git", 10);
}

/* git's own note in a backport's chain of custody: no prose, no trailer. */
static int line_is_cherry_pick(const struct line *l)
{
	static const char prefix[] = "(cherry picked from commit ";

	return l->len >= sizeof(prefix) - 1 && !memcmp(l->p, prefix, sizeof(prefix) - 1);
}

/* "[note]" on the line after a trailer, kept verbatim with its indent. */
static int line_is_extinfo(const struct line *l, size_t *len)
{
	size_t i = indent_len(l), n = rtrim_len(l->p, l->len);

	if (i >= n || l->p[i] != '[' || l->p[n - 1] != ']')
		return 0;
	*len = n;
	return 1;
}

/* "local@domain": one '@' inside, none of the characters that delimit one. */
static int is_address(const char *p, size_t len)
{
	size_t i, at = 0, ats = 0;

	for (i = 0; i < len; i++) {
		if (is_space(p[i]) || p[i] == '\0' || strchr("\"'(),:;<>[]", p[i]))
			return 0;
		if (p[i] == '@') {
			at = i;
			ats++;
		}
	}
	return ats == 1 && at > 0 && at < len - 1;
}

/* "<someone@example.com>" alone: the end of a person trailer that wrapped. */
static int line_is_address(const struct line *l, const char **p, size_t *len)
{
	size_t i = indent_len(l), n = rtrim_len(l->p, l->len);

	if (n < i + 2 || l->p[i] != '<' || l->p[n - 1] != '>')
		return 0;
	if (!is_address(l->p + i + 1, n - i - 2))
		return 0;
	*p = l->p + i;
	*len = n - i;
	return 1;
}

static char *lower_dup(const char *p, size_t len)
{
	char *s = pq_strndup(p, len);
	size_t i;

	for (i = 0; i < len; i++)
		s[i] = to_lower(s[i]);
	return s;
}

static int is_token_punct(char c)
{
	return c && strchr("\"'(),;:<>[]", c) != NULL;
}

/*
 * The address of a person trailer: the first "<...>" holding one, else a
 * bare word with an '@' in it ("Cc: stable@vger.kernel.org"). Lower-cased,
 * the caller frees it; NULL when the value names nobody reachable.
 */
static char *find_email(const char *v, size_t len)
{
	size_t i, j, a, b;

	for (i = 0; i < len; i++) {
		if (v[i] != '<')
			continue;
		for (j = i + 1; j < len && v[j] != '>' && v[j] != '<' && !is_space(v[j]); j++)
			;
		if (j < len && v[j] == '>' && is_address(v + i + 1, j - i - 1))
			return lower_dup(v + i + 1, j - i - 1);
		i = j - 1; /* resume at v[j], which may open the next "<" */
	}
	for (i = 0; i < len; i = j) {
		while (i < len && is_space(v[i]))
			i++;
		for (j = i; j < len && !is_space(v[j]); j++)
			;
		a = i;
		b = j;
		while (a < b && is_token_punct(v[a]))
			a++;
		while (b > a && is_token_punct(v[b - 1]))
			b--;
		if (is_address(v + a, b - a))
			return lower_dup(v + a, b - a);
	}
	return NULL;
}

/*
 * Takes "Name: value" apart. A space must follow the colon so that
 * "https://..." is no trailer named "https"; the value must not be empty.
 * A "# " after a blank starts a note ("Cc: stable@vger.kernel.org # 6.1").
 */
static int parse_trailer_line(const struct line *l, int allow_indent, struct trailer_line *t)
{
	size_t i = allow_indent ? indent_len(l) : 0, end, j;

	if (i >= l->len || !is_alnum(l->p[i]))
		return 0;
	t->name = l->p + i;
	while (i < l->len && (is_alnum(l->p[i]) || l->p[i] == '-'))
		i++;
	t->name_len = (size_t)(l->p + i - t->name);
	if (i + 1 >= l->len || l->p[i] != ':' || !is_space(l->p[i + 1]))
		return 0;
	for (i++; i < l->len && is_space(l->p[i]); i++)
		;
	end = rtrim_len(l->p, l->len);
	if (i >= end)
		return 0;
	t->value = l->p + i;
	t->value_len = end - i;
	t->note = NULL;
	t->note_len = 0;
	for (j = i + 1; j < end; j++) {
		/* "# note", not the "#123" of an issue number inside a title */
		if (l->p[j] != '#' || !is_blank(l->p[j - 1]) ||
		    (j + 1 < end && !is_blank(l->p[j + 1])))
			continue;
		t->value_len = rtrim_len(t->value, j - i);
		t->note = t->value + t->value_len;
		t->note_len = end - (size_t)(t->note - l->p);
		break;
	}
	return 1;
}

static void trailer_clear(struct pq_trailer *t)
{
	free(t->name);
	free(t->value);
	free(t->email);
	free(t->extinfo);
}

static void list_push(struct trailer_list *list, struct pq_trailer *t)
{
	if (list->n == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->v = pq_reallocarray(list->v, list->cap, sizeof(*list->v));
	}
	list->v[list->n++] = *t;
}

static void list_free(struct trailer_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		trailer_clear(&list->v[i]);
	free(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
}

/* Appends what was found to the caller's array in one step. */
static void list_move(struct pq_trailers *out, struct trailer_list *list)
{
	if (list->n) {
		out->v = pq_reallocarray(out->v, out->n + list->n, sizeof(*out->v));
		memcpy(out->v + out->n, list->v, list->n * sizeof(*list->v));
		out->n += list->n;
	}
	free(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
}

/*
 * Ends the trailer being read. A reply's person trailer that never got an
 * address is somebody's prose ("Reviewed-by: me, once this is fixed").
 */
/*
 * A value as it is kept, on one line: control characters (a tab, a lone
 * CR, an escape sequence) become spaces, what HTML mailers append to an address
 * ("a@b<mailto:a@b>") goes, and the ends are trimmed.
 */
static void clean_text(struct pq_buf *v)
{
	size_t i, start;

	if (!v->len)
		return;
	for (i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->ptr[i];

		if (c < 0x20 || c == 0x7f)
			v->ptr[i] = ' ';
		else if (c == 0xc2 && i + 1 < v->len && (unsigned char)v->ptr[i + 1] >= 0x80 &&
			 (unsigned char)v->ptr[i + 1] <= 0x9f)
			v->ptr[i] = v->ptr[i + 1] = ' ';
	}
	if (pq_mail_strip_mailto(v->ptr))
		v->len = strlen(v->ptr);
	pq_buf_rtrim(v);
	for (start = 0; start < v->len && is_blank(v->ptr[start]); start++)
		;
	if (start) {
		memmove(v->ptr, v->ptr + start, v->len - start);
		pq_buf_truncate(v, v->len - start);
	}
}

static void builder_flush(struct builder *b)
{
	struct pq_trailer t;

	if (!b->open)
		return;
	b->open = 0;
	clean_text(&b->value);
	t.email = b->person ? find_email(b->value.ptr, b->value.len) : NULL;
	if (b->mode == PQ_TRAILERS_REPLY && b->person && !t.email) {
		pq_buf_reset(&b->value);
		pq_buf_reset(&b->extinfo);
		return;
	}
	for (size_t i = 0; i < b->extinfo.len; i++)
		if ((unsigned char)b->extinfo.ptr[i] < 0x20 && b->extinfo.ptr[i] != '\n' &&
		    b->extinfo.ptr[i] != '\t')
			b->extinfo.ptr[i] = ' ';
	t.name = pq_strndup(b->name, b->name_len);
	t.value = pq_strndup(pq_buf_str(&b->value), b->value.len);
	t.extinfo = b->extinfo.len ? pq_strndup(b->extinfo.ptr, b->extinfo.len) : NULL;
	pq_buf_reset(&b->value);
	pq_buf_reset(&b->extinfo);
	list_push(&b->list, &t);
}

static void builder_start(struct builder *b, const struct trailer_line *t)
{
	builder_flush(b);
	b->open = 1;
	b->name = t->name;
	b->name_len = t->name_len;
	b->person = name_is_person(t->name, t->name_len);
	b->addr_joined = 0;
	b->folded = 0;
	pq_buf_add(&b->value, t->value, t->value_len);
	if (t->note)
		pq_buf_add(&b->extinfo, t->note, t->note_len);
}

static void builder_add_extinfo(struct builder *b, const char *p, size_t len)
{
	if (b->extinfo.len)
		pq_buf_addc(&b->extinfo, '\n');
	pq_buf_add(&b->extinfo, p, len);
}

/* Folds a continuation line, or a wrapped address, into the value. */
static void builder_fold(struct builder *b, const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && is_space(p[i]))
		i++;
	len = rtrim_len(p, len);
	if (i >= len)
		return;
	pq_buf_addc(&b->value, ' ');
	pq_buf_add(&b->value, p + i, len - i);
}

/*
 * "Signed-off-by: Some Name" with "<some@example.com>" on the next line:
 * the mailer wrapped it. Looked at once per trailer, so this stays linear.
 */
static int builder_take_address(struct builder *b, const struct line *l)
{
	const char *p;
	size_t len;
	char *email;

	if (!b->open || !b->person || b->addr_joined || !line_is_address(l, &p, &len))
		return 0;
	b->addr_joined = 1;
	email = find_email(b->value.ptr, b->value.len);
	if (email) {
		free(email);
		return 0;
	}
	builder_fold(b, p, len);
	return 1;
}

static void builder_free(struct builder *b)
{
	list_free(&b->list);
	pq_buf_free(&b->value);
	pq_buf_free(&b->extinfo);
}

/*
 * The trailer block is the last paragraph of the message. Lines in it that
 * are no trailer make it prose, unless a known trailer is there and at
 * least three lines in four are trailers (git's rule, made stricter).
 */
/*
 * git's reading of one line of a trailer block (trailer.c,
 * find_trailer_block_start()): a token of letters, digits and '-', white
 * space, then ':' makes a trailer line; an indented line continues the one
 * above. Counts into g.
 */
struct git_view {
	size_t trailers;
	size_t others;
	int after_trailer; /* an indented line continues a trailer */
	int recognized;	   /* a Signed-off-by: or "(cherry picked from commit" */
};

static void git_view_line(struct git_view *g, const struct line *l)
{
	static const char sob[] = "Signed-off-by: ", cherry[] = "(cherry picked from commit ";
	size_t i;
	int space = 0;

	if ((l->len >= sizeof(sob) - 1 && !memcmp(l->p, sob, sizeof(sob) - 1)) ||
	    (l->len >= sizeof(cherry) - 1 && !memcmp(l->p, cherry, sizeof(cherry) - 1))) {
		g->trailers++;
		g->recognized = 1;
		g->after_trailer = 1;
		return;
	}
	if (l->len && is_blank(l->p[0])) {
		if (!g->after_trailer)
			g->others++;
		return;
	}
	for (i = 0; i < l->len; i++) {
		if (l->p[i] == ':')
			break;
		if (!space && (is_alnum(l->p[i]) || l->p[i] == '-'))
			continue;
		if (i && is_blank(l->p[i])) {
			space = 1;
			continue;
		}
		i = l->len;
	}
	if (i >= 1 && i < l->len) {
		g->trailers++;
		g->after_trailer = 1;
	} else {
		g->others++;
		g->after_trailer = 0;
	}
}

/* Whether git takes the paragraph it counted as a trailer block: all
 * trailers, or a Signed-off-by among at least one trailer line in four. */
static int git_view_block(const struct git_view *g)
{
	return g->trailers && (!g->others || (g->recognized && g->trailers * 3 >= g->others));
}

static void parse_commit(struct builder *b, const char *text, size_t len)
{
	size_t pos = 0, here, start = 0, end = 0, trailers = 0, others = 0, n;
	int in_para = 0, known = 0;
	struct git_view g = { 0 };
	struct trailer_line t;
	struct line l;

	for (here = pos; next_line(text, len, &pos, &l); here = pos) {
		if (line_ends_message(&l))
			break;
		if (line_is_empty(&l)) {
			in_para = 0;
			continue;
		}
		if (!in_para)
			start = here;
		in_para = 1;
		end = pos;
	}

	for (pos = start; next_line(text, end, &pos, &l);) {
		git_view_line(&g, &l);
		if (line_has_nul(&l)) {
			/* never copied: a value must not hide bytes behind a NUL */
			builder_flush(b);
			others++;
			continue;
		}
		if (parse_trailer_line(&l, 0, &t)) {
			builder_start(b, &t);
			trailers++;
			known |= name_is_known(t.name, t.name_len);
			continue;
		}
		if (b->open && line_is_extinfo(&l, &n)) {
			builder_add_extinfo(b, l.p, n);
			continue;
		}
		if (b->open && indent_len(&l) > 0) {
			builder_fold(b, l.p, l.len);
			continue;
		}
		if (builder_take_address(b, &l))
			continue;
		builder_flush(b);
		if (!line_is_cherry_pick(&l))
			others++;
	}
	builder_flush(b);

	/* ours, or git's: what git sees as the block (a maintainer's note in it
	 * included) must be the block collected trailers are added to */
	if (!trailers || (others && (!known || trailers < 3 * others) && !git_view_block(&g)))
		list_free(&b->list);
}

/* How many '(' of the value are still open, and whether a '"' is. */
static void value_open(const struct pq_buf *v, int *parens, int *quote)
{
	size_t i;

	*parens = 0;
	*quote = 0;
	for (i = 0; i < v->len; i++) {
		if (v->ptr[i] == '"')
			*quote = !*quote;
		else if (v->ptr[i] == '(' && !*quote)
			(*parens)++;
		else if (v->ptr[i] == ')' && !*quote && *parens)
			(*parens)--;
	}
}

/*
 * Whether line l continues the reply's trailer being read, as a mail
 * client wraps a long Fixes: line. An indented line does when the value
 * is not finished (a '(' or '"' open, a Fixes: without its "(title)");
 * any line does that closes an open "(title" with its ')' (b4's rule).
 * Two such lines at most: past them it is prose.
 */
static int reply_continues(const struct builder *b, const struct line *l)
{
	size_t n = rtrim_len(l->p, l->len);
	int parens, quote;

	if (!b->open || b->folded >= 2 || !n)
		return 0;
	value_open(&b->value, &parens, &quote);
	if (parens && l->p[n - 1] == ')')
		return 1;
	return indent_len(l) > 0 && (parens || quote ||
				     (name_is(b->name, b->name_len, "fixes") &&
				      !memchr(b->value.ptr, '(', b->value.len)));
}

/* "Link: https://... [1]": the reference of a footnote in a discussion,
 * not a trailer for the patch. */
static int is_footnote(const struct trailer_line *t)
{
	const char *v = t->value;
	size_t n = t->value_len, i;

	if (!name_is(t->name, t->name_len, "link") && !name_is(t->name, t->name_len, "closes") &&
	    !name_is(t->name, t->name_len, "buglink"))
		return 0;
	/* "[N]" at the start or the end of the value */
	if (n >= 3 && v[0] == '[') {
		for (i = 1; i < n && v[i] >= '0' && v[i] <= '9'; i++)
			;
		if (i > 1 && i < n && v[i] == ']')
			return 1;
	}
	if (n >= 3 && v[n - 1] == ']') {
		for (i = n - 1; i > 0 && v[i - 1] >= '0' && v[i - 1] <= '9'; i--)
			;
		if (i < n - 1 && i > 0 && v[i - 1] == '[')
			return 1;
	}
	return 0;
}

/*
 * A reply: review tags anywhere in what the reviewer wrote, not in what
 * they quoted, up to their signature or a patch of their own.
 */
static void parse_reply(struct builder *b, const char *text, size_t len)
{
	struct trailer_line t;
	struct line l;
	size_t pos = 0, n;

	while (next_line(text, len, &pos, &l)) {
		if (line_ends_message(&l))
			break;
		if (line_has_nul(&l) || line_is_quoted(&l)) {
			builder_flush(b);
			continue;
		}
		if (parse_trailer_line(&l, 1, &t) && name_counts_in_reply(t.name, t.name_len)) {
			if (is_footnote(&t)) {
				builder_flush(b);
				continue;
			}
			builder_start(b, &t);
			continue;
		}
		if (b->open && line_is_extinfo(&l, &n)) {
			builder_add_extinfo(b, l.p, n);
			continue;
		}
		if (builder_take_address(b, &l))
			continue;
		if (reply_continues(b, &l)) {
			builder_fold(b, l.p, l.len);
			b->folded++;
			continue;
		}
		builder_flush(b);
	}
	builder_flush(b);
}

int pq_trailers_parse(struct pq_trailers *out, const char *text, size_t len,
		      enum pq_trailers_mode mode)
{
	struct builder b;

	if (!out || (!text && len))
		return pq_error_set(PQ_EINVAL, "trailers: %s is NULL", out ? "text" : "output");
	if (mode != PQ_TRAILERS_COMMIT && mode != PQ_TRAILERS_REPLY)
		return pq_error_set(PQ_EINVAL, "trailers: unknown mode %d", (int)mode);
	if (!len)
		return 0;

	memset(&b, 0, sizeof(b));
	b.mode = mode;
	if (mode == PQ_TRAILERS_COMMIT)
		parse_commit(&b, text, len);
	else
		parse_reply(&b, text, len);
	list_move(out, &b.list);
	builder_free(&b);
	return 0;
}

void pq_trailers_free(struct pq_trailers *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		trailer_clear(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

void pq_trailers_add(struct pq_trailers *t, const char *name, const char *value, const char *email,
		     const char *extinfo)
{
	struct pq_trailer *n;

	t->v = pq_reallocarray(t->v, t->n + 1, sizeof(*t->v));
	n = &t->v[t->n++];
	n->name = pq_strdup(name);
	n->value = pq_strdup(value);
	n->email = email ? pq_strdup(email) : NULL;
	n->extinfo = extinfo ? pq_strdup(extinfo) : NULL;
}

int pq_trailers_contains(const struct pq_trailers *t, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (!strcasecmp(t->v[i].name, name) && !strcasecmp(t->v[i].value, value))
			return 1;
	return 0;
}
