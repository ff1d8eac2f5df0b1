/*
 * diagnose: why a patch does not apply, in plain words (see diagnose.h).
 *
 * The diff is read as git apply reads it with -p1: a file's section starts
 * at "diff --git" (or at "---" and "+++" lines outside one), its header
 * says created, deleted, renamed or binary, and each "@@" hunk carries as
 * many old and new lines as its header counts. Each file's hunks are
 * matched, in order, against its content as the hunks before them left it,
 * searching outward from the hunk's line as git does, so a hunk that git
 * would place at an offset is not blamed.
 */
#include "diagnose.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

/* One line, with its "\n" unless it is the last of a file without one. */
struct line {
	const char *p;
	size_t len;
};

struct lines {
	struct line *v;
	size_t n, cap;
};

static void lines_push(struct lines *l, const char *p, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = pq_reallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].p = p;
	l->v[l->n++].len = len;
}

static void lines_split(struct lines *l, const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		lines_push(l, p, n);
		p += n;
	}
}

/* The file's header as read so far, and its content once loaded. */
struct file {
	struct pq_buf old_path, new_path; /* without "a/", "b/"; empty for /dev/null */
	int created, deleted, moved, binary;
	int checked;	     /* the file-level checks ran */
	int skip;	     /* its hunks are not judged (binary, not a regular blob) */
	git_blob *blob;	     /* the old content */
	struct lines image;  /* the content as the hunks so far left it */
	struct pq_buf added; /* storage of lines hunks added (image points into it) */
};

struct ctx {
	git_repository *repo;
	git_tree *tree;
	const char *where;
	struct pq_diagnosis *d;
};

static int line_is(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(p, prefix, n);
}

/* A path as git writes it (C-quoted when it must be), less its first component. */
static void set_path(struct pq_buf *out, const char *p, size_t len);

/* The path of a "rename from PATH" line and its kin, which has no "a/" to strip. */
static void header_path(struct pq_buf *out, const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	struct pq_buf tmp = PQ_BUF_INIT;

	sp = sp ? memchr(sp + 1, ' ', (size_t)(p + n - sp - 1)) : NULL;
	if (sp == NULL)
		return;
	pq_buf_adds(&tmp, "x/");
	pq_buf_add(&tmp, sp + 1, (size_t)(p + n - sp - 1));
	set_path(out, tmp.ptr, tmp.len);
	pq_buf_free(&tmp);
}

/*
 * "diff --git a/P b/P": both paths when the two names are the same (git
 * reads it so too), for a section without "---" and "+++" lines.
 */
static void git_line_paths(struct file *f, const char *p, size_t n)
{
	size_t k;

	p += 11, n -= 11;
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n < 5 || n % 2 == 0 || p[0] == '"')
		return;
	k = (n - 1) / 2;
	if (p[k] != ' ' || memcmp(p + 2, p + k + 3, k - 2) != 0)
		return;
	set_path(&f->old_path, p, k);
	set_path(&f->new_path, p + k + 1, k);
}

static void set_path(struct pq_buf *out, const char *p, size_t len)
{
	struct pq_buf raw = PQ_BUF_INIT;
	const char *s, *end = p + len;

	while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	pq_buf_reset(out);
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p != '\\' || p + 1 == end) {
				pq_buf_addc(&raw, *p);
				continue;
			}
			p++;
			if (*p >= '0' && *p <= '3' && end - p >= 3) {
				pq_buf_addc(&raw, (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 +
							 (p[2] - '0')));
				p += 2;
			} else {
				pq_buf_addc(&raw, *p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
			}
		}
	} else {
		/* a non-git diff may follow the name with a tab and a date */
		const char *tab = memchr(p, '\t', (size_t)(end - p));

		pq_buf_add(&raw, p, (size_t)((tab ? tab : end) - p));
	}
	s = pq_buf_str(&raw);
	if (strcmp(s, "/dev/null") != 0) {
		const char *slash = strchr(s, '/');

		pq_buf_adds(out, slash ? slash + 1 : s);
	}
	pq_buf_free(&raw);
}

static void file_reset(struct file *f)
{
	pq_buf_free(&f->old_path);
	pq_buf_free(&f->new_path);
	git_blob_free(f->blob);
	free(f->image.v);
	pq_buf_free(&f->added);
	memset(f, 0, sizeof(*f));
}

static const char *file_name(const struct file *f)
{
	return f->deleted || !f->new_path.len ? pq_buf_str(&f->old_path) : pq_buf_str(&f->new_path);
}

/* Names the file (and hunk) at fault; the caller adds why. Returns 1. */
static int found(struct ctx *c, const char *file, const char *hunk, size_t hunk_len)
{
	pq_buf_adds(&c->d->file, file);
	if (hunk)
		pq_buf_add(&c->d->hunk, hunk, hunk_len);
	return 1;
}

/* A reason about a whole file: fmt takes the path, then where. */
static int file_fault(struct ctx *c, const char *path, const char *fmt)
{
	found(c, path, NULL, 0);
	pq_buf_addf(&c->d->why, fmt, path, c->where);
	return 1;
}

/*
 * The checks of a file's header against the tree: what it changes exists
 * and is a file, what it creates does not. 1 when one fails.
 */
static int check_file(struct ctx *c, struct file *f)
{
	git_tree_entry *e = NULL;
	const char *old = pq_buf_str(&f->old_path), *new = pq_buf_str(&f->new_path);
	int rc;

	f->checked = 1;
	if (f->created) {
		if (!f->new_path.len)
			return 0;
		rc = git_tree_entry_bypath(&e, c->tree, new);
		git_tree_entry_free(e);
		if (rc == 0)
			return file_fault(c, new, "%s already exists on %s");
		return rc == GIT_ENOTFOUND ? 0 : pq_error_set(PQ_EGIT, "cannot read the tree");
	}
	if (!f->old_path.len)
		return 0;
	rc = git_tree_entry_bypath(&e, c->tree, old);
	if (rc == GIT_ENOTFOUND)
		return file_fault(c, old, "%s does not exist on %s");
	if (rc < 0)
		return pq_error_set(PQ_EGIT, "cannot read the tree");
	switch (git_tree_entry_type(e)) {
	case GIT_OBJECT_TREE:
		git_tree_entry_free(e);
		return file_fault(c, old, "%s is a directory on %s");
	case GIT_OBJECT_BLOB:
		break;
	default: /* a submodule: its one line is git's to judge */
		f->skip = 1;
		git_tree_entry_free(e);
		return 0;
	}
	if (f->moved && f->new_path.len && strcmp(old, new) != 0) {
		git_tree_entry *t = NULL;

		rc = git_tree_entry_bypath(&t, c->tree, new);
		git_tree_entry_free(t);
		if (rc == 0) {
			git_tree_entry_free(e);
			return file_fault(c, new, "%s already exists on %s");
		}
	}
	if (!f->binary && git_blob_lookup(&f->blob, c->repo, git_tree_entry_id(e)) < 0) {
		git_tree_entry_free(e);
		return pq_error_set(PQ_EGIT, "cannot read %s", old);
	}
	git_tree_entry_free(e);
	if (f->binary)
		f->skip = 1;
	else
		lines_split(&f->image, git_blob_rawcontent(f->blob),
			    (size_t)git_blob_rawsize(f->blob));
	return 0;
}

/* Whether pre matches img at pos. */
static int matches_at(const struct lines *img, size_t pos, const struct lines *pre)
{
	size_t i;

	if (pos + pre->n > img->n)
		return 0;
	for (i = 0; i < pre->n; i++)
		if (img->v[pos + i].len != pre->v[i].len ||
		    memcmp(img->v[pos + i].p, pre->v[i].p, pre->v[i].len))
			return 0;
	return 1;
}

/*
 * Where pre matches img, searching outward from want as git does; -1 when
 * nowhere. As in git, a hunk of the file's first line (old start 0 or 1)
 * must match at its beginning, and one with no context after its change
 * at its end (anchor: 1 beginning, 2 end, 3 both).
 */
static long find(const struct lines *img, size_t want, const struct lines *pre, int anchor)
{
	size_t d;

	if (pre->n > img->n)
		return -1;
	if (anchor & 2) {
		if ((anchor & 1) && pre->n != img->n)
			return -1;
		return matches_at(img, img->n - pre->n, pre) ? (long)(img->n - pre->n) : -1;
	}
	if (anchor & 1)
		return matches_at(img, 0, pre) ? 0 : -1;
	if (want > img->n - pre->n)
		want = img->n - pre->n;
	for (d = 0; d <= img->n; d++) {
		if (d <= want && matches_at(img, want - d, pre))
			return (long)(want - d);
		if (d && want + d + pre->n <= img->n && matches_at(img, want + d, pre))
			return (long)(want + d);
		if (d > want && want + d + pre->n > img->n)
			break;
	}
	return -1;
}

/* Puts post in place of n lines of f's image at pos. */
static void replace(struct file *f, size_t pos, size_t n, const struct lines *post)
{
	struct lines next = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < pos; i++)
		lines_push(&next, f->image.v[i].p, f->image.v[i].len);
	for (i = 0; i < post->n; i++)
		lines_push(&next, post->v[i].p, post->v[i].len);
	for (i = pos + n; i < f->image.n; i++)
		lines_push(&next, f->image.v[i].p, f->image.v[i].len);
	free(f->image.v);
	f->image = next;
}

/* A decimal number at *p (before end), at most 9 digits; -1 when none. */
static long number_at(const char **p, const char *end)
{
	long n = 0;
	int digits = 0;

	while (*p < end && **p >= '0' && **p <= '9' && digits < 10) {
		n = n * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	return digits == 0 || digits > 9 ? -1 : n;
}

/*
 * "@@ -A[,B] +C[,D] @@": the numbers (B and D 1 when left out) and the
 * header's length; 0 when the line p[0..len) is no hunk header.
 */
static int hunk_header(const char *p, size_t len, long *a, long *b, long *c, long *dd,
		       size_t *header_len)
{
	const char *end = p + len, *q = p + 4;

	if (!line_is(p, len, "@@ -"))
		return 0;
	*a = number_at(&q, end);
	*b = 1;
	if (q < end && *q == ',') {
		q++;
		*b = number_at(&q, end);
	}
	if (end - q < 2 || q[0] != ' ' || q[1] != '+')
		return 0;
	q += 2;
	*c = number_at(&q, end);
	*dd = 1;
	if (q < end && *q == ',') {
		q++;
		*dd = number_at(&q, end);
	}
	if (*a < 0 || *b < 0 || *c < 0 || *dd < 0)
		return 0;
	for (; q + 1 < end && !(q[0] == '@' && q[1] == '@'); q++)
		;
	if (q + 1 >= end)
		return 0;
	*header_len = (size_t)(q + 2 - p);
	return 1;
}

/*
 * Reads the hunk whose header is at *pp and matches it against f's image.
 * Moves *pp past the hunk. 1 when it does not fit (c->d filled).
 */
static int check_hunk(struct ctx *c, struct file *f, const char **pp, const char *end)
{
	const char *p = *pp, *header = p;
	struct lines pre = { NULL, 0, 0 }, post = { NULL, 0, 0 };
	long a, b, cc, dd, pos;
	size_t header_len, len;
	int last = 0, rc = 0, anchor;
	size_t trailing = 0;
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
	if (!hunk_header(p, len, &a, &b, &cc, &dd, &header_len)) {
		*pp = p + len;
		return 0;
	}
	p += len;
	/* last: 1 after a line only in pre, 2 only in post, 3 in both;
	 * trailing: context lines since the last change */
	while (p < end && (b > 0 || dd > 0 || *p == '\\')) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (*p == '\\') { /* "\ No newline at end of file": the line before lacks it */
			if ((last & 1) && pre.n && pre.v[pre.n - 1].len)
				pre.v[pre.n - 1].len--;
			if ((last & 2) && post.n && post.v[post.n - 1].len)
				post.v[post.n - 1].len--;
			last = 0;
		} else if (*p == ' ' || *p == '\n' || (*p == '\r' && len == 2)) {
			/* a blank context line a mailer stripped of its space, too */
			size_t skip = *p == ' ' ? 1 : 0;

			lines_push(&pre, p + skip, len - skip);
			lines_push(&post, p + skip, len - skip);
			b--, dd--, last = 3, trailing++;
		} else if (*p == '-') {
			lines_push(&pre, p + 1, len - 1);
			b--, last = 1, trailing = 0;
		} else if (*p == '+') {
			lines_push(&post, p + 1, len - 1);
			dd--, last = 2, trailing = 0;
		} else {
			break;
		}
		p += len;
	}
	*pp = p;
	if (f->skip || c->d->why.len)
		goto out;
	anchor = (a <= 1 ? 1 : 0) | (trailing == 0 ? 2 : 0);
	pos = find(&f->image, cc > 0 ? (size_t)cc - 1 : 0, &pre, anchor);
	if (pos < 0 && f->deleted) {
		rc = file_fault(c, file_name(f),
				"%s on %s is not what the patch deletes: it changed");
		goto out;
	}
	if (pos < 0) {
		const char *name = file_name(f);

		rc = found(c, name, header, header_len);
		pq_buf_adds(&c->d->why, "hunk does not match: ");
		if (post.n && find(&f->image, cc > 0 ? (size_t)cc - 1 : 0, &post, 0) >= 0)
			pq_buf_addf(&c->d->why, "%s on %s already has this change", name, c->where);
		else if (a > 0 && (size_t)a - 1 + pre.n > f->image.n)
			pq_buf_addf(&c->d->why, "%s on %s has %zu lines, the hunk reaches line %ld",
				    name, c->where, f->image.n, a - 1 + (long)pre.n);
		else if ((anchor & 2) && find(&f->image, 0, &pre, 0) >= 0)
			pq_buf_addf(&c->d->why,
				    "it must end the file, and %s on %s goes on after it", name,
				    c->where);
		else
			pq_buf_adds(&c->d->why, "the context has changed");
		goto out;
	}
	replace(f, (size_t)pos, pre.n, &post);
out:
	free(pre.v);
	free(post.v);
	return rc;
}

/*
 * At the end of a file's section: the file-level checks of a section with
 * no hunk (a file created or deleted empty, a pure rename), and nothing
 * left of a deleted file.
 */
static int file_end(struct ctx *c, struct file *f)
{
	int rc;

	if (!f->checked && (f->created || f->deleted || f->moved) && (rc = check_file(c, f)) != 0)
		return rc;
	if (!f->deleted || f->skip || !f->checked || !f->image.n)
		return 0;
	return file_fault(c, pq_buf_str(&f->old_path),
			  "%s on %s holds more than the patch deletes");
}

int pq_diagnose(git_repository *repo, git_tree *tree, const char *diff, size_t len,
		const char *where, struct pq_diagnosis *d)
{
	struct ctx c = { repo, tree, where, d };
	struct file f;
	const char *p = diff, *end = diff + len;
	int in_file = 0, rc = 0;

	memset(&f, 0, sizeof(f));
	pq_buf_reset(&d->file);
	pq_buf_reset(&d->hunk);
	pq_buf_reset(&d->why);
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		const char *next = p + n;

		if (line_is(p, n, "diff --git ") || (!in_file && line_is(p, n, "--- ") &&
						     line_is(next, (size_t)(end - next), "+++ "))) {
			if (in_file && (rc = file_end(&c, &f)) != 0)
				break;
			file_reset(&f);
			in_file = 1;
			if (line_is(p, n, "--- ")) {
				set_path(&f.old_path, p + 4, n - 4);
				p = next;
				continue;
			}
			git_line_paths(&f, p, n);
		} else if (!in_file) {
		} else if (line_is(p, n, "@@ -")) {
			if (!f.checked && (rc = check_file(&c, &f)) != 0)
				break;
			rc = check_hunk(&c, &f, &p, end);
			continue;
		} else if (f.checked) {
			/* after the hunks: the next file's header, or the mail's end */
		} else if (line_is(p, n, "new file mode")) {
			f.created = 1;
		} else if (line_is(p, n, "deleted file mode")) {
			f.deleted = 1;
		} else if (line_is(p, n, "rename from ") || line_is(p, n, "copy from ")) {
			f.moved = 1;
			header_path(&f.old_path, p, n);
		} else if (line_is(p, n, "rename to ") || line_is(p, n, "copy to ")) {
			header_path(&f.new_path, p, n);
		} else if (line_is(p, n, "--- ")) {
			if (!f.moved)
				set_path(&f.old_path, p + 4, n - 4);
			if (!f.old_path.len)
				f.created = 1;
		} else if (line_is(p, n, "+++ ")) {
			if (!f.moved)
				set_path(&f.new_path, p + 4, n - 4);
			if (!f.new_path.len)
				f.deleted = 1;
		} else if (line_is(p, n, "GIT binary patch") || line_is(p, n, "Binary files ")) {
			f.binary = 1;
		}
		p = next;
	}
	if (rc == 0 && in_file)
		rc = file_end(&c, &f);
	file_reset(&f);
	/* a path or hunk header comes from mail, and the reason goes into a
	 * reply's body, where a line break would let a patch write lines of its own */
	pq_buf_plain(&d->file, 0, "");
	pq_buf_plain(&d->hunk, 0, "");
	pq_buf_plain(&d->why, 0, "");
	return rc;
}

void pq_diagnosis_free(struct pq_diagnosis *d)
{
	pq_buf_free(&d->file);
	pq_buf_free(&d->hunk);
	pq_buf_free(&d->why);
}
