/*
 * patch: the decoded body of a patch mail split into what git needs.
 *
 * mail.c hands over the text of one message; this module decides, in one
 * pass over its lines, what `git am` would take as the commit message and
 * what `git apply` would take as the patch, and picks up the in-body
 * headers, the files touched, the request-pull URL, base-commit and
 * change-id on the way. series.c and am.c use the result; nothing here
 * touches a repository.
 *
 * The body is read as a sequence of phases:
 *
 *   head   in-body From:/Subject:/Date: (after a scissors line or the
 *          "From <sha> Mon Sep 17 00:00:00 2001" line of an attached
 *          format-patch file, any header is accepted and the others dropped)
 *   msg    the commit message, up to "---" or the first diff line
 *   notes  between "---" and the diff
 *   diff   to the end, with the hunk line counts deciding where a hunk
 *          stops, so a removed "- " line ("-- ") is never taken for the
 *          signature that ends the diff
 *
 * A signature or a mailing-list footer in the message or the notes hides
 * what follows up to the diff, if any.
 */
#include "patch.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

struct line {
	const char *p;
	size_t len;  /* without "\n" and a "\r" before it */
	size_t full; /* with its line end, as in the body */
};

enum phase {
	P_HEAD,
	P_MSG,
	P_MSG_SIG, /* after a signature or footer in the message */
	P_NOTES,
	P_NOTES_SIG, /* after a signature or footer in the notes */
	P_DIFF,
	P_END, /* after the signature or footer that ends the diff */
};

enum diff_state {
	D_HDR,	  /* between hunks: file headers, or text git apply skips */
	D_HUNK,	  /* inside a hunk, old_left/new_left lines to go */
	D_BIN,	  /* inside a "GIT binary patch" block, up to a blank line */
	D_BINGAP, /* after a binary block: another "literal"/"delta" may follow */
};

enum hdr_kind {
	H_NONE,
	H_FROM,
	H_SUBJECT,
	H_DATE,
	H_OTHER, /* a header of an attached format-patch file we drop */
};

enum pull_state {
	PULL_NONE,
	PULL_SINCE, /* saw "The following changes since commit" */
	PULL_AT,    /* saw "are available in the git repository at:" */
	PULL_DONE,
};

struct hdr {
	struct pq_buf val;
	int seen;
};

struct ctx {
	struct pq_patch *p;
	enum phase phase;

	/* in-body headers */
	struct hdr hdr[H_OTHER]; /* indexed by H_FROM..H_DATE */
	enum hdr_kind cur;	 /* header a continuation line extends */
	int nhdr;		 /* headers taken in this block */
	int fmt_patch;		 /* block follows a format-patch From_ line */

	/* diff */
	enum diff_state dstate;
	unsigned long old_left, new_left;
	size_t diff_keep; /* diff length without trailing blank lines */
	int sec_git;	  /* file section named by its "diff --git" line */
	int sec_index;	  /* file section started by "Index:" */
	size_t sec_hunks;
	char *minus_name; /* "--- X" of a section without git header */

	/* files, with an open-addressing set of indices + 1 */
	size_t files_cap;
	size_t *set;
	size_t set_cap;
	size_t cur_file; /* index + 1 of the file the hunks are of; 0: none yet */

	enum pull_state pull;

	/* where the body had NUL bytes (pq_mail.nul_at), and the next to look at */
	const char *body;
	const size_t *nul_at;
	size_t nnul, next_nul;
	size_t diff_lines;
};

/* --- bytes and lines -------------------------------------------------- */

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

static char to_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int line_at(const char *body, size_t len, size_t pos, struct line *l)
{
	const char *nl;

	if (pos >= len)
		return 0;
	l->p = body + pos;
	nl = memchr(l->p, '\n', len - pos);
	l->len = nl ? (size_t)(nl - l->p) : len - pos;
	l->full = nl ? l->len + 1 : l->len;
	if (l->len && l->p[l->len - 1] == '\r')
		l->len--;
	return 1;
}

static int starts(const char *p, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(p, prefix, k) == 0;
}

static int istarts(const char *p, size_t n, const char *prefix)
{
	size_t i, k = strlen(prefix);

	if (n < k)
		return 0;
	for (i = 0; i < k; i++)
		if (to_lower(p[i]) != to_lower(prefix[i]))
			return 0;
	return 1;
}

static int lstarts(const struct line *l, const char *prefix)
{
	return starts(l->p, l->len, prefix);
}

static size_t rtrim_len(const char *p, size_t n)
{
	while (n && is_space(p[n - 1]))
		n--;
	return n;
}

/* Trims both ends of p/n in place. */
static void trim(const char **p, size_t *n)
{
	while (*n && is_space(**p)) {
		(*p)++;
		(*n)--;
	}
	*n = rtrim_len(*p, *n);
}

static int is_blank(const struct line *l)
{
	return rtrim_len(l->p, l->len) == 0;
}

/* "--" and only whitespace; strict asks for the space of "-- ". */
static int is_sig(const struct line *l, int strict)
{
	if (!lstarts(l, "--") || rtrim_len(l->p, l->len) != 2)
		return 0;
	return !strict || l->len > 2;
}

/* "---" and only whitespace: git's manual separator of the notes. */
static int is_separator(const struct line *l)
{
	return lstarts(l, "---") && rtrim_len(l->p, l->len) == 3;
}

/* A line of three or more underscores: Mailman's footer rule. */
static int is_underscores(const struct line *l)
{
	size_t i, n = rtrim_len(l->p, l->len);

	if (n < 3)
		return 0;
	for (i = 0; i < n; i++)
		if (l->p[i] != '_')
			return 0;
	return 1;
}

static int contains_ci(const char *p, size_t n, const char *needle)
{
	size_t i, k = strlen(needle);

	for (i = 0; i + k <= n; i++)
		if (istarts(p + i, n - i, needle))
			return 1;
	return 0;
}

/* Outside the diff a rule only counts when the list name follows. */
static int is_footer(const struct line *l, const struct line *next)
{
	return is_underscores(l) && next && contains_ci(next->p, next->len, "mailing list");
}

static int is_diff_start(const struct line *l, const struct line *next)
{
	return lstarts(l, "diff -") || lstarts(l, "Index: ") ||
	       (lstarts(l, "--- ") && next && lstarts(next, "+++ "));
}

/* "From <sha1 or sha256> Mon Sep 17 00:00:00 2001", git format-patch's mbox line. */
static int is_format_patch_from(const struct line *l)
{
	static const char date[] = " Mon Sep 17 00:00:00 2001";
	size_t i, nhex;

	if (!lstarts(l, "From "))
		return 0;
	for (i = 5; i < l->len && is_hex(l->p[i]); i++)
		;
	nhex = i - 5;
	if (nhex != 40 && nhex != 64)
		return 0;
	return rtrim_len(l->p, l->len) == i + sizeof(date) - 1 &&
	       memcmp(l->p + i, date, sizeof(date) - 1) == 0;
}

/*
 * git mailinfo's rule: a perforation of dashes and scissors (">8", "8<",
 * ">%", "%<", U+2702) that fills more than a third of the visible line,
 * mostly without gaps. We accept it from 6 visible bytes so "--8<--" counts.
 */
static int is_scissors(const struct line *l)
{
	size_t i, first = SIZE_MAX, last = 0, visible;
	size_t scissors = 0, gap = 0, perforation = 0;
	int in_perforation = 0;

	/* every line of the message comes here: most have no mark at all */
	if (!memchr(l->p, '8', l->len) && !memchr(l->p, '%', l->len) &&
	    !memchr(l->p, '\xe2', l->len))
		return 0;
	for (i = 0; i < l->len; i++) {
		const char *c = l->p + i;
		size_t rest = l->len - i, mark = 0;

		if (is_space(*c)) {
			if (in_perforation) {
				perforation++;
				gap++;
			}
			continue;
		}
		if (first == SIZE_MAX)
			first = i;
		last = i;
		if (*c == '-') {
			in_perforation = 1;
			perforation++;
			continue;
		}
		if (rest >= 2 && (!memcmp(c, ">8", 2) || !memcmp(c, "8<", 2) ||
				  !memcmp(c, ">%", 2) || !memcmp(c, "%<", 2)))
			mark = 2;
		else if (rest >= 3 && !memcmp(c, "\xe2\x9c\x82", 3))
			mark = 3;
		if (mark) {
			in_perforation = 1;
			perforation += mark;
			scissors += mark;
			i += mark - 1;
			last = i;
			continue;
		}
		in_perforation = 0;
	}
	if (!scissors)
		return 0;
	visible = last - first + 1;
	return visible >= 6 && visible < perforation * 3 && gap * 2 < perforation;
}

/* --- files ------------------------------------------------------------ */

static size_t hash_name(const char *p, size_t n)
{
	size_t h = 2166136261u, i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

static void set_insert(struct ctx *c, size_t idx)
{
	const char *name = c->p->files[idx];
	size_t h = hash_name(name, strlen(name)) & (c->set_cap - 1);

	while (c->set[h])
		h = (h + 1) & (c->set_cap - 1);
	c->set[h] = idx + 1;
}

static void add_file(struct ctx *c, const char *name, size_t n)
{
	struct pq_patch *p = c->p;
	size_t h, i;

	if (!n || memchr(name, '\0', n))
		return;
	if (c->set_cap) {
		h = hash_name(name, n) & (c->set_cap - 1);
		for (; c->set[h]; h = (h + 1) & (c->set_cap - 1)) {
			const char *f = p->files[c->set[h] - 1];

			if (strlen(f) == n && !memcmp(f, name, n)) {
				c->cur_file = c->set[h];
				return;
			}
		}
	}
	if (p->nfiles == c->files_cap) {
		c->files_cap = c->files_cap ? c->files_cap * 2 : 8;
		p->files = pq_reallocarray(p->files, c->files_cap, sizeof(*p->files));
		p->lines = pq_reallocarray(p->lines, c->files_cap, sizeof(*p->lines));
	}
	p->lines[p->nfiles] = 0;
	p->files[p->nfiles++] = pq_strndup(name, n);
	c->cur_file = p->nfiles;
	/* keep the set at most half full */
	if (p->nfiles * 2 > c->set_cap) {
		c->set_cap = c->set_cap ? c->set_cap * 2 : 32;
		free(c->set);
		c->set = pq_calloc(c->set_cap, sizeof(*c->set));
		for (i = 0; i < p->nfiles; i++)
			set_insert(c, i);
	} else {
		set_insert(c, p->nfiles - 1);
	}
}

/*
 * Reads the C-quoted name git writes for unusual paths ("a/foo\tbar").
 * Returns it (caller frees) and sets *used to the bytes taken, or NULL when
 * p does not hold a closed quoted string.
 */
static char *unquote(const char *p, size_t n, size_t *used)
{
	struct pq_buf b = PQ_BUF_INIT;
	size_t i = 1;

	if (!n || p[0] != '"')
		return NULL;
	while (i < n && p[i] != '"') {
		char ch = p[i++];

		if (ch == '\\' && i < n) {
			static const char from[] = "abfnrtv", to[] = "\a\b\f\n\r\t\v";
			const char *e;

			ch = p[i++];
			e = ch ? strchr(from, ch) : NULL;
			if (e) {
				ch = to[e - from];
			} else if (ch >= '0' && ch <= '3' && i + 1 < n && p[i] >= '0' &&
				   p[i] <= '7' && p[i + 1] >= '0' && p[i + 1] <= '7') {
				ch = (char)(((ch - '0') << 6) | ((p[i] - '0') << 3) |
					    (p[i + 1] - '0'));
				i += 2;
			}
		}
		pq_buf_addc(&b, ch);
	}
	if (i >= n) {
		pq_buf_free(&b);
		return NULL;
	}
	*used = i + 1;
	return pq_buf_detach(&b); /* "" for an empty name */
}

/* The path without its first component ("a/x/y" -> "x/y"), as git apply -p1. */
static void strip1(const char **p, size_t *n)
{
	const char *slash = memchr(*p, '/', *n);

	if (slash && (size_t)(slash - *p) + 1 < *n) {
		*n -= (size_t)(slash - *p) + 1;
		*p = slash + 1;
	}
}

/* Adds a name as written after "rename from " and the like. */
static void add_plain_name(struct ctx *c, const char *p, size_t n, int strip)
{
	char *q;
	size_t used;

	trim(&p, &n);
	q = unquote(p, n, &used);
	if (q) {
		p = q;
		n = strlen(q);
	}
	if (strip)
		strip1(&p, &n);
	add_file(c, p, n);
	free(q);
}

/*
 * The new-side path of "diff --git A B", or NULL when the line does not tell
 * (renames without prefix: "rename to" will). A == B is a --no-prefix diff.
 */
static char *git_header_name(const char *p, size_t n)
{
	const char *a, *b;
	size_t an, bn, used;
	char *qa = NULL, *qb = NULL, *name = NULL;

	n = rtrim_len(p, n);
	if (n && p[0] == '"') {
		qa = unquote(p, n, &used);
		if (!qa)
			return NULL;
		a = qa;
		an = strlen(qa);
		p += used;
		n -= used;
		while (n && *p == ' ') {
			p++;
			n--;
		}
		qb = unquote(p, n, &used);
		b = qb ? qb : p;
		bn = qb ? strlen(qb) : n;
	} else if (n % 2 == 1 && p[n / 2] == ' ') {
		a = p;
		an = n / 2;
		b = p + n / 2 + 1;
		bn = n / 2;
	} else {
		const char *sp = NULL;
		size_t i;

		/* a rename with the default prefixes: "a/old b/new" */
		for (i = 0; i + 3 <= n; i++)
			if (!memcmp(p + i, " b/", 3)) {
				sp = p + i;
				break;
			}
		if (!sp || !starts(p, n, "a/"))
			return NULL;
		a = p;
		an = (size_t)(sp - p);
		b = sp + 1;
		bn = n - an - 1;
	}
	if (an == bn && !memcmp(a, b, an)) {
		name = pq_strndup(b, bn);
	} else {
		const char *sa = a, *sb = b;
		size_t san = an, sbn = bn;

		strip1(&sa, &san);
		strip1(&sb, &sbn);
		if ((san == sbn && !memcmp(sa, sb, san)) ||
		    (starts(a, an, "a/") && starts(b, bn, "b/")))
			name = pq_strndup(sb, sbn);
	}
	free(qa);
	free(qb);
	return name;
}

/* The path of a "--- X" or "+++ X" line, NULL for /dev/null; caller frees. */
static char *dash_name(const char *p, size_t n)
{
	const char *tab;
	size_t used;
	char *q;

	while (n && *p == ' ') {
		p++;
		n--;
	}
	q = unquote(p, n, &used);
	if (q)
		return q;
	tab = memchr(p, '\t', n);
	if (tab)
		n = (size_t)(tab - p);
	n = rtrim_len(p, n);
	if (!n || starts(p, n, "/dev/null"))
		return NULL;
	return pq_strndup(p, n);
}

static void section_reset(struct ctx *c)
{
	c->sec_git = 0;
	c->sec_index = 0;
	c->sec_hunks = 0;
	free(c->minus_name);
	c->minus_name = NULL;
}

/* Collects the paths a header line outside hunks names. */
static void files_line(struct ctx *c, const struct line *l)
{
	static const char *const renames[] = { "rename from ", "rename to ", "copy from ",
					       "copy to " };
	size_t i;

	if (lstarts(l, "diff --git ")) {
		char *name = git_header_name(l->p + 11, l->len - 11);

		section_reset(c);
		c->sec_git = name != NULL;
		if (name)
			add_file(c, name, strlen(name));
		free(name);
	} else if (lstarts(l, "diff ")) {
		/* CVS puts its "diff -u -p -r1.2 x" line after "Index:" */
		if (!c->sec_index || c->sec_hunks)
			section_reset(c);
	} else if (lstarts(l, "Index: ")) {
		section_reset(c);
		c->sec_index = 1;
		add_plain_name(c, l->p + 7, l->len - 7, 0);
	} else if (lstarts(l, "--- ")) {
		/* a plain diff's next file has no line of its own before "---" */
		if (c->sec_hunks)
			section_reset(c);
		if (!c->sec_git && !c->sec_index) {
			free(c->minus_name);
			c->minus_name = dash_name(l->p + 4, l->len - 4);
		}
	} else if (lstarts(l, "+++ ")) {
		if (!c->sec_git && !c->sec_index) {
			char *name = dash_name(l->p + 4, l->len - 4);

			if (!name) {
				name = c->minus_name;
				c->minus_name = NULL;
			}
			if (name)
				add_plain_name(c, name, strlen(name), 1);
			free(name);
		}
	} else {
		for (i = 0; i < sizeof(renames) / sizeof(renames[0]); i++)
			if (lstarts(l, renames[i])) {
				size_t k = strlen(renames[i]);

				add_plain_name(c, l->p + k, l->len - k, 0);
				break;
			}
	}
}

/* --- base-commit, change-id, request-pull ------------------------------ */

/* Takes "base-commit: <hex>" and "change-id: <id>" lines; 1 if l was one. */
static int meta_line(struct ctx *c, const struct line *l)
{
	const char *v;
	size_t n, i;

	if (istarts(l->p, l->len, "base-commit:")) {
		v = l->p + 12;
		n = l->len - 12;
		trim(&v, &n);
		if (n < 7)
			return 0;
		for (i = 0; i < n; i++)
			if (!is_hex(v[i]))
				return 0;
		if (!c->p->base_commit)
			c->p->base_commit = pq_strndup(v, n);
		return 1;
	}
	if (istarts(l->p, l->len, "change-id:")) {
		v = l->p + 10;
		n = l->len - 10;
		trim(&v, &n);
		if (!n)
			return 0;
		for (i = 0; i < n; i++)
			if (is_space(v[i]) || !v[i])
				return 0;
		if (!c->p->change_id)
			c->p->change_id = pq_strndup(v, n);
		return 1;
	}
	return 0;
}

/* "git://host/x", "https://...", "git+ssh://...", or scp-like "user@host:path". */
static int is_url(const char *p, size_t n)
{
	size_t i = 0;
	const char *at, *colon;

	if (n && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'))) {
		for (i = 1; i < n; i++) {
			char ch = p[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'))
				break;
		}
		if (n > i + 3 && !memcmp(p + i, "://", 3))
			return 1;
	}
	at = memchr(p, '@', n);
	if (!at || at == p)
		return 0;
	colon = memchr(at, ':', n - (size_t)(at - p));
	return colon && colon > at + 1 && colon + 1 < p + n;
}

/* A word that can be a branch or tag name (no spaces, no ref-forbidden bytes). */
static int is_refish(const char *p, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch <= ' ' || ch == 0x7f || strchr("~^:?*[\\", ch))
			return 0;
	}
	return 1;
}

/* The repository line after "are available in the git repository at:". */
static int pull_url_line(struct ctx *c, const struct line *l, const struct line *next)
{
	const char *s = l->p, *rest, *br = NULL;
	size_t n = l->len, un = 0, rn, bn = 0;

	trim(&s, &n);
	while (un < n && !is_space(s[un]))
		un++;
	if (!is_url(s, un))
		return 0;
	rest = s + un;
	rn = n - un;
	trim(&rest, &rn);
	if (rn == 1 && rest[0] == '\\')
		rn = 0; /* "URL \" continued on the next line */
	if (rn) {
		br = rest;
		while (bn < rn && !is_space(br[bn]))
			bn++;
	} else if (next) {
		/* the ref wrapped onto the next line */
		const char *t = next->p;
		size_t tn = next->len;

		trim(&t, &tn);
		if (is_refish(t, tn)) {
			br = t;
			bn = tn;
		}
	}
	if (memchr(s, '\0', un) || (br && memchr(br, '\0', bn)))
		return 0;
	c->p->pull_url = pq_strndup(s, un);
	if (br)
		c->p->pull_branch = pq_strndup(br, bn);
	return 1;
}

static void pull_line(struct ctx *c, const struct line *l, const struct line *next)
{
	const char *s = l->p;
	size_t n = l->len;

	switch (c->pull) {
	case PULL_NONE:
	case PULL_SINCE:
		trim(&s, &n);
		if (starts(s, n, "The following changes since commit")) {
			c->pull = PULL_SINCE;
		} else if (c->pull == PULL_SINCE &&
			   n == strlen("are available in the git repository at:") &&
			   istarts(s, n, "are available in the git repository at:")) {
			c->pull = PULL_AT;
		}
		break;
	case PULL_AT:
		if (is_blank(l))
			break;
		c->pull = pull_url_line(c, l, next) ? PULL_DONE : PULL_SINCE;
		break;
	case PULL_DONE:
		break;
	}
}

/* --- in-body headers ---------------------------------------------------- */

static void restart(struct ctx *c, int fmt_patch)
{
	int i;

	pq_buf_reset(&c->p->message);
	for (i = H_FROM; i < H_OTHER; i++) {
		pq_buf_reset(&c->hdr[i].val);
		c->hdr[i].seen = 0;
	}
	c->cur = H_NONE;
	c->nhdr = 0;
	c->fmt_patch = fmt_patch;
	c->phase = P_HEAD;
}

static void hdr_append(struct pq_buf *b, const char *v, size_t n)
{
	trim(&v, &n);
	if (!n)
		return;
	if (b->len)
		pq_buf_addc(b, ' ');
	pq_buf_add(b, v, n);
}

/* Takes a "Name: value" line of the in-body header block; 0 if it is not one. */
static int header_line(struct ctx *c, const struct line *l)
{
	static const char *const names[] = {
		[H_FROM] = "from", [H_SUBJECT] = "subject", [H_DATE] = "date"
	};
	enum hdr_kind kind = H_OTHER;
	size_t i, k;

	for (i = 0; i < l->len && l->p[i] != ':'; i++)
		if ((unsigned char)l->p[i] <= ' ' || (unsigned char)l->p[i] >= 0x7f)
			return 0;
	if (i == 0 || i == l->len)
		return 0;
	for (k = H_FROM; k < H_OTHER; k++)
		if (strlen(names[k]) == i && istarts(l->p, i, names[k]))
			kind = (enum hdr_kind)k;
	if (!c->fmt_patch && (kind == H_OTHER || c->hdr[kind].seen))
		return 0;
	c->nhdr++;
	if (kind != H_OTHER && c->hdr[kind].seen)
		kind = H_OTHER; /* a repeated header of an attached patch file */
	c->cur = kind;
	if (kind != H_OTHER) {
		c->hdr[kind].seen = 1;
		hdr_append(&c->hdr[kind].val, l->p + i + 1, l->len - i - 1);
	}
	return 1;
}

/* Returns 1 when the header block took the line. */
static int head_line(struct ctx *c, const struct line *l)
{
	if (is_blank(l)) {
		if (c->nhdr || c->fmt_patch)
			c->phase = P_MSG;
		c->cur = H_NONE;
		return 1;
	}
	if (c->cur != H_NONE && (l->p[0] == ' ' || l->p[0] == '\t') && !is_scissors(l)) {
		if (c->cur != H_OTHER)
			hdr_append(&c->hdr[c->cur].val, l->p, l->len);
		return 1;
	}
	if (!c->nhdr && !c->fmt_patch && is_format_patch_from(l)) {
		c->fmt_patch = 1;
		return 1;
	}
	if (header_line(c, l))
		return 1;
	c->phase = P_MSG;
	return 0;
}

/* --- the diff ------------------------------------------------------------ */

/*
 * A diff line that had a NUL byte in the mail: the text holds U+FFFD in its
 * place, which is not what the file holds. The patch is refused with the
 * reason, once, rather than applied with the wrong bytes.
 */
static void diff_check_nul(struct ctx *c, const struct line *l)
{
	size_t start = (size_t)(l->p - c->body), end = start + l->full;
	struct pq_buf why = PQ_BUF_INIT;

	c->diff_lines++;
	while (c->next_nul < c->nnul && c->nul_at[c->next_nul] < start)
		c->next_nul++;
	if (c->next_nul == c->nnul || c->nul_at[c->next_nul] >= end || c->p->error)
		return;
	pq_buf_addf(&why, "line %zu of the diff", c->diff_lines);
	if (c->p->nfiles)
		pq_buf_addf(&why, " (%s)", c->p->files[c->p->nfiles - 1]);
	pq_buf_adds(&why, " holds a NUL byte, which mail cannot carry as text: the patch is not "
			  "applied; it needs to be sent as a binary patch or an attachment");
	c->p->error = pq_buf_detach(&why);
}

static void diff_add(struct ctx *c, const struct line *l, int keep)
{
	struct pq_buf *d = &c->p->diff;

	if (c->nnul)
		diff_check_nul(c, l);

	pq_buf_add(d, l->p, l->full);
	if (l->full == l->len || l->p[l->full - 1] != '\n')
		pq_buf_addc(d, '\n');
	if (keep)
		c->diff_keep = d->len;
}

static int parse_count(const char **s, const char *end, unsigned long *out)
{
	const char *q = *s;
	unsigned long v = 0;

	if (q >= end || *q < '0' || *q > '9')
		return 0;
	for (; q < end && *q >= '0' && *q <= '9'; q++)
		v = v > (ULONG_MAX - 9) / 10 ? ULONG_MAX / 10 : v * 10 + (unsigned long)(*q - '0');
	*s = q;
	*out = v;
	return 1;
}

/* "@@ -a[,b] +c[,d] @@": the old and new line counts b and d (1 if left out). */
static int parse_hunk(const struct line *l, unsigned long *old, unsigned long *new)
{
	const char *s = l->p + 4, *end = l->p + l->len;
	unsigned long start;

	*old = *new = 1;
	if (!parse_count(&s, end, &start))
		return 0;
	if (s < end && *s == ',' && (s++, !parse_count(&s, end, old)))
		return 0;
	if (end - s < 2 || memcmp(s, " +", 2))
		return 0;
	s += 2;
	if (!parse_count(&s, end, &start))
		return 0;
	if (s < end && *s == ',' && (s++, !parse_count(&s, end, new)))
		return 0;
	return end - s >= 3 && !memcmp(s, " @@", 3);
}

/* Counts one line of a hunk; 0 if it cannot belong to it. */
static int hunk_line(struct ctx *c, const struct line *l)
{
	/* an empty line is a context line whose space a mailer ate */
	switch (l->len ? l->p[0] : ' ') {
	case ' ':
		if (!c->old_left || !c->new_left)
			return 0;
		c->old_left--;
		c->new_left--;
		break;
	case '-':
		if (!c->old_left)
			return 0;
		c->old_left--;
		if (c->cur_file)
			c->p->lines[c->cur_file - 1]++;
		break;
	case '+':
		if (!c->new_left)
			return 0;
		c->new_left--;
		if (c->cur_file)
			c->p->lines[c->cur_file - 1]++;
		break;
	case '\\': /* "\ No newline at end of file" */
		break;
	default:
		return 0;
	}
	if (!c->old_left && !c->new_left)
		c->dstate = D_HDR;
	return 1;
}

static void diff_line(struct ctx *c, const struct line *l)
{
	unsigned long old, new;

	switch (c->dstate) {
	case D_HUNK:
		if (hunk_line(c, l)) {
			diff_add(c, l, 1);
			return;
		}
		c->dstate = D_HDR;
		break;
	case D_BIN:
		/* the blank line ending a block is part of it for git apply */
		diff_add(c, l, 1);
		if (l->len == 0)
			c->dstate = D_BINGAP;
		return;
	case D_BINGAP:
		if (lstarts(l, "literal ") || lstarts(l, "delta ")) {
			c->dstate = D_BIN;
			diff_add(c, l, 1);
			return;
		}
		c->dstate = D_HDR;
		break;
	case D_HDR:
		break;
	}

	if (is_sig(l, 0) || is_underscores(l)) {
		c->phase = P_END;
		return;
	}
	if (meta_line(c, l) || lstarts(l, "prerequisite-patch-id: "))
		return;
	if (lstarts(l, "@@ -") && parse_hunk(l, &old, &new)) {
		c->sec_hunks++;
		c->old_left = old;
		c->new_left = new;
		if (old || new)
			c->dstate = D_HUNK;
		diff_add(c, l, 1);
		return;
	}
	if (lstarts(l, "GIT binary patch")) {
		c->sec_hunks++;
		c->dstate = D_BIN;
		diff_add(c, l, 1);
		return;
	}
	files_line(c, l);
	diff_add(c, l, !is_blank(l));
}

/* --- message and notes ---------------------------------------------------- */

static void msg_line(struct ctx *c, const struct line *l, const struct line *next)
{
	if (is_format_patch_from(l)) {
		restart(c, 1);
	} else if (is_scissors(l)) {
		restart(c, 0);
	} else if (is_diff_start(l, next)) {
		c->phase = P_DIFF;
		diff_line(c, l);
	} else if (is_separator(l)) {
		c->phase = P_NOTES;
	} else if (is_sig(l, 1) || is_footer(l, next)) {
		c->phase = P_MSG_SIG;
	} else if (!meta_line(c, l)) {
		pull_line(c, l, next);
		pq_buf_add(&c->p->message, l->p, l->len);
		pq_buf_addc(&c->p->message, '\n');
	}
}

static void notes_line(struct ctx *c, const struct line *l, const struct line *next)
{
	if (is_diff_start(l, next)) {
		c->phase = P_DIFF;
		diff_line(c, l);
	} else if (is_sig(l, 1) || is_footer(l, next)) {
		c->phase = P_NOTES_SIG;
	} else if (!meta_line(c, l)) {
		pull_line(c, l, next);
		pq_buf_add(&c->p->notes, l->p, l->len);
		pq_buf_addc(&c->p->notes, '\n');
	}
}

static void one_line(struct ctx *c, const struct line *l, const struct line *next)
{
	switch (c->phase) {
	case P_HEAD:
		if (head_line(c, l))
			break;
		msg_line(c, l, next);
		break;
	case P_MSG:
		msg_line(c, l, next);
		break;
	case P_MSG_SIG:
	case P_NOTES_SIG:
		if (c->phase == P_MSG_SIG && is_format_patch_from(l)) {
			restart(c, 1);
		} else if (is_diff_start(l, next)) {
			c->phase = P_DIFF;
			diff_line(c, l);
		}
		break;
	case P_NOTES:
		notes_line(c, l, next);
		break;
	case P_DIFF:
		diff_line(c, l);
		break;
	case P_END:
		break;
	}
}

/*
 * What git am's stripspace does to a commit message: trailing whitespace of
 * each line, leading and trailing blank lines and runs of blank lines go.
 * The result does not end with a newline.
 */
static void strip_message(struct pq_buf *msg)
{
	struct pq_buf out = PQ_BUF_INIT;
	size_t pos = 0;
	int blank = 0;
	struct line l;

	while (line_at(msg->ptr, msg->len, pos, &l)) {
		size_t n = rtrim_len(l.p, l.len);

		pos += l.full;
		if (!n) {
			blank = out.len != 0;
			continue;
		}
		if (out.len)
			pq_buf_add(&out, blank ? "\n\n" : "\n", blank ? 2 : 1);
		pq_buf_add(&out, l.p, n);
		blank = 0;
	}
	pq_buf_free(msg);
	*msg = out;
}

/* Leading blank lines and trailing whitespace go; the rest is kept as sent. */
static void strip_notes(struct pq_buf *notes)
{
	size_t pos = 0;
	struct line l;

	while (line_at(notes->ptr, notes->len, pos, &l) && is_blank(&l))
		pos += l.full;
	if (pos) {
		memmove(notes->ptr, notes->ptr + pos, notes->len - pos);
		pq_buf_truncate(notes, notes->len - pos);
	}
	pq_buf_rtrim(notes);
}

static char *hdr_take(struct hdr *h)
{
	if (!h->seen)
		return NULL;
	if (!h->val.len)
		return pq_strdup("");
	/* a NUL inside would cut the C string short anyway */
	return pq_strdup(pq_buf_str(&h->val));
}

static int parse(struct pq_patch *out, const char *body, size_t len, const size_t *nul_at,
		 size_t nnul)
{
	struct ctx c;
	struct line cur, next;
	int have, have_next;
	size_t pos = 0;
	int i;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.p = out;
	c.phase = P_HEAD;
	c.body = body;
	c.nul_at = nul_at;
	c.nnul = body ? nnul : 0;

	have = body ? line_at(body, len, pos, &cur) : 0;
	while (have) {
		pos += cur.full;
		have_next = line_at(body, len, pos, &next);
		one_line(&c, &cur, have_next ? &next : NULL);
		cur = next;
		have = have_next;
	}

	out->from = hdr_take(&c.hdr[H_FROM]);
	out->subject = hdr_take(&c.hdr[H_SUBJECT]);
	out->date = hdr_take(&c.hdr[H_DATE]);
	for (i = H_FROM; i < H_OTHER; i++)
		pq_buf_free(&c.hdr[i].val);
	free(c.minus_name);
	free(c.set);

	pq_buf_truncate(&out->diff, c.diff_keep);
	strip_message(&out->message);
	strip_notes(&out->notes);
	pq_trailers_parse(&out->trailers, pq_buf_str(&out->message), out->message.len,
			  PQ_TRAILERS_COMMIT);
	return 0;
}

int pq_patch_parse(struct pq_patch *out, const char *body, size_t len)
{
	return parse(out, body, len, NULL, 0);
}

int pq_patch_parse_mail(struct pq_patch *out, const struct pq_mail *m)
{
	return parse(out, m->body.ptr ? m->body.ptr : "", m->body.len, m->nul_at, m->nnul);
}

int pq_patch_find_pull(struct pq_patch *p, const char *body, size_t len)
{
	struct ctx c;
	struct line cur, next;
	size_t pos = 0;
	int have, have_next;

	if (p->pull_url)
		return 1;
	memset(&c, 0, sizeof(c));
	c.p = p;
	have = body ? line_at(body, len, pos, &cur) : 0;
	while (have) {
		pos += cur.full;
		have_next = line_at(body, len, pos, &next);
		if (cur.len && is_space(cur.p[0]) &&
		    pull_url_line(&c, &cur, have_next ? &next : NULL))
			return 1;
		cur = next;
		have = have_next;
	}
	return 0;
}

void pq_patch_free(struct pq_patch *p)
{
	size_t i;

	if (!p)
		return;
	pq_buf_free(&p->message);
	pq_buf_free(&p->notes);
	pq_buf_free(&p->diff);
	free(p->from);
	free(p->subject);
	free(p->date);
	for (i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->lines);
	pq_trailers_free(&p->trailers);
	free(p->pull_url);
	free(p->pull_branch);
	free(p->base_commit);
	free(p->change_id);
	free(p->error);
	memset(p, 0, sizeof(*p));
}
