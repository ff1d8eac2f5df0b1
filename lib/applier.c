/*
 * applier: patches onto a branch with libgit2, in memory (see applier.h).
 *
 * The apply stage of the flow: a series that triage sent to a queue comes
 * here as diffs and commit metadata. Each patch is applied to the tree of
 * the commit before it, in memory, and committed into the object database;
 * the branch moves once, at the end, by compare-and-swap on the tip read at
 * the start. No work tree, index or HEAD of the repository is touched.
 *
 * libgit2 1.5 refuses some patches git applies: a hunk whose lines moved
 * (it never searches for an offset), a diff without the "diff --git"
 * header, an empty file created or deleted (a header with no hunk). For
 * those `git apply --cached` runs against a temporary index file built
 * from the same tree. It also applies some that git refuses or applies
 * otherwise; check_deltas runs git's checks first and sends those to git.
 */
#include "applier.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/odb_backend.h>

#include "alloc.h"
#include "buf.h"
#include "diagnose.h"
#include "dir.h"
#include "error.h"
#include "packbuf.h"
#include "repo.h"
#include "run.h"

/* How much of a git child's stdout or stderr is kept. */
#define GIT_OUTPUT_MAX (64 * 1024)
/*
 * How long git apply may take on one patch before it is killed: it takes
 * well under a second on a kernel tree; this only bounds a git that hangs.
 */
#define GIT_APPLY_TIMEOUT_MS (120 * 1000)
/* A reference lock older than this was left by a writer that died (see lock_cleared). */
#define LOCK_STALE_MS 2000
/* How much of a hunk header is quoted in an error. */
#define HUNK_HEADER_MAX 100

static int line_starts(const char *p, size_t len, const char *prefix);

/* Why a patch did not apply, and where when it is known. */
struct apply_failure {
	struct pq_buf file; /* the path being patched */
	struct pq_buf hunk; /* its "@@ ... @@" line being applied */
	struct pq_buf why;  /* what libgit2 and git said */
	int whole_tree;	    /* git refuses it for what lies beyond the paths it names:
			       the fallback must see the whole tree */
	const char *where;  /* the tree's name in a reason ("rust-next") */
};

static void failure_free(struct apply_failure *f)
{
	pq_buf_free(&f->file);
	pq_buf_free(&f->hunk);
	pq_buf_free(&f->why);
}

/* Adds a separator before the next part of a failure's explanation. */
static void why_next(struct apply_failure *f)
{
	if (f->why.len)
		pq_buf_adds(&f->why, "; ");
}

/* Replaces b with s[0..len) less its line end, cut at max bytes. */
static void set_line(struct pq_buf *b, const char *s, size_t len, size_t max)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	pq_buf_reset(b);
	pq_buf_add(b, s, len < max ? len : max);
	if (len > max)
		pq_buf_adds(b, "...");
}

/* libgit2 reports each file before patching it: the last one is the culprit. */
static int on_apply_delta(const git_diff_delta *delta, void *payload)
{
	struct apply_failure *f = payload;
	const char *path = delta->new_file.path;

	if (delta->status == GIT_DELTA_DELETED || !path)
		path = delta->old_file.path;
	pq_buf_reset(&f->file);
	if (path)
		pq_buf_adds(&f->file, path);
	pq_buf_reset(&f->hunk);
	return 0;
}

static int on_apply_hunk(const git_diff_hunk *hunk, void *payload)
{
	struct apply_failure *f = payload;

	set_line(&f->hunk, hunk->header, hunk->header_len, HUNK_HEADER_MAX);
	return 0;
}

/* Whether the text deletion delta i of d removes exactly the blob's content. */
static int deletes_whole_file(git_repository *repo, git_diff *d, size_t i, const git_tree_entry *e)
{
	struct pq_buf pre = PQ_BUF_INIT;
	git_patch *p = NULL;
	git_blob *blob = NULL;
	size_t h, l, lines;
	int same = 1;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || git_patch_from_diff(&p, d, i) < 0 ||
	    git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0)
		goto out; /* libgit2 itself says what is wrong */
	for (h = 0; h < git_patch_num_hunks(p); h++) {
		const git_diff_hunk *hunk;

		if (git_patch_get_hunk(&hunk, &lines, p, h) < 0)
			goto out;
		for (l = 0; l < lines; l++) {
			const git_diff_line *line;

			if (git_patch_get_line_in_hunk(&line, p, h, l) < 0)
				goto out;
			if (line->origin == GIT_DIFF_LINE_DELETION ||
			    line->origin == GIT_DIFF_LINE_CONTEXT)
				pq_buf_add(&pre, line->content, line->content_len);
			else if (line->origin == GIT_DIFF_LINE_DEL_EOFNL && pre.len &&
				 pre.ptr[pre.len - 1] == '\n')
				pre.len--;
		}
	}
	same = (size_t)git_blob_rawsize(blob) == pre.len &&
	       (!pre.len || !memcmp(git_blob_rawcontent(blob), pre.ptr, pre.len));
out:
	git_blob_free(blob);
	git_patch_free(p);
	pq_buf_free(&pre);
	return same;
}

/* The origin of the last line of hunk h of p that is not an end-of-file mark. */
static char last_origin(git_patch *p, size_t h, size_t lines)
{
	const git_diff_line *line;

	while (lines--) {
		if (git_patch_get_line_in_hunk(&line, p, h, lines) < 0)
			return 0;
		if (line->origin == GIT_DIFF_LINE_CONTEXT ||
		    line->origin == GIT_DIFF_LINE_ADDITION ||
		    line->origin == GIT_DIFF_LINE_DELETION)
			return line->origin;
	}
	return 0;
}

/*
 * git makes a hunk with no context after it match at the end of the file;
 * libgit2 applies it wherever its line numbers say. Whether a hunk of the
 * text delta i of d would land elsewhere than the end (f->hunk says which).
 */
static int hunk_misses_end(git_repository *repo, git_diff *d, size_t i, const git_tree_entry *e,
			   struct apply_failure *f)
{
	git_patch *p = NULL;
	git_blob *blob = NULL;
	size_t h, lines, nlines = 0, end, size;
	const char *content;
	int misses = 0;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || git_patch_from_diff(&p, d, i) < 0)
		goto out;
	for (h = 0; h < git_patch_num_hunks(p) && !misses; h++) {
		const git_diff_hunk *hunk;

		if (git_patch_get_hunk(&hunk, &lines, p, h) < 0 ||
		    last_origin(p, h, lines) == GIT_DIFF_LINE_CONTEXT)
			continue;
		if (!blob) {
			if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0)
				goto out;
			content = git_blob_rawcontent(blob);
			size = (size_t)git_blob_rawsize(blob);
			while (size--)
				nlines += content[size] == '\n';
			size = (size_t)git_blob_rawsize(blob);
			nlines += size && content[size - 1] != '\n';
		}
		/* "-N,0" inserts after line N; "-N,M" covers lines N..N+M-1 */
		end = (size_t)hunk->old_start + (size_t)hunk->old_lines - (hunk->old_lines ? 1 : 0);
		if (end != nlines) {
			set_line(&f->hunk, hunk->header, hunk->header_len, HUNK_HEADER_MAX);
			misses = 1;
		}
	}
out:
	git_blob_free(blob);
	git_patch_free(p);
	return misses;
}

/* The bits of a mode git compares when it speaks of a file's type. */
#define MODE_TYPE(m) ((unsigned)(m)&0170000u)

/*
 * What the header of one file of a diff says of its modes, as git reads
 * it (apply.c, parse_git_diff_header): the old one from "old mode",
 * "deleted file mode" or the "index" line, the new one only from "new
 * mode" or "new file mode"; 0 where the header says nothing. libgit2 also
 * takes the index line's mode, or 100644, for the new mode; git keeps the
 * mode the file has.
 */
struct header_modes {
	unsigned old_mode;
	unsigned new_mode;
	int full_index; /* the "index" line names both blobs in full */
};

static unsigned octal_at(const char *p, const char *end)
{
	unsigned m = 0;
	int digits = 0;

	while (p < end && *p >= '0' && *p <= '7' && digits < 7) {
		m = m * 8 + (unsigned)(*p++ - '0');
		digits++;
	}
	return m;
}

/* Whether line p (len bytes) is a header line git reads; "@@ -" and others end the header. */
static int header_line(const char *p, size_t len)
{
	static const char *const known[] = {
		"--- ",
		"+++ ",
		"old mode ",
		"new mode ",
		"deleted file mode ",
		"new file mode ",
		"copy from ",
		"copy to ",
		"rename old ",
		"rename new ",
		"rename from ",
		"rename to ",
		"similarity index ",
		"dissimilarity index ",
		"index ",
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (line_starts(p, len, known[i]))
			return 1;
	return 0;
}

/* The modes of each "diff --git" section of diff, in order, into *out (caller frees); their count. */
static size_t header_modes(const char *diff, size_t len, struct header_modes **out)
{
	const char *p = diff, *end = diff + len;
	struct header_modes *h = NULL, *c = NULL;
	size_t n = 0, cap = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t l = (size_t)(eol - p);

		if (line_starts(p, l, "diff --git ")) {
			if (n == cap) {
				cap = cap ? 2 * cap : 8;
				h = pq_realloc(h, cap * sizeof(*h));
			}
			c = &h[n++];
			memset(c, 0, sizeof(*c));
		} else if (c && !header_line(p, l)) {
			c = NULL; /* a hunk, binary data or anything else: the header is over */
		} else if (c && line_starts(p, l, "old mode ")) {
			c->old_mode = octal_at(p + 9, eol);
		} else if (c && line_starts(p, l, "deleted file mode ")) {
			c->old_mode = octal_at(p + 18, eol);
		} else if (c && line_starts(p, l, "new mode ")) {
			c->new_mode = octal_at(p + 9, eol);
		} else if (c && line_starts(p, l, "new file mode ")) {
			c->new_mode = octal_at(p + 14, eol);
		} else if (c && line_starts(p, l, "index ")) {
			const char *dots = memmem(p, l, "..", 2), *sp = NULL;

			if (dots)
				sp = memchr(dots, ' ', (size_t)(eol - dots));
			if (sp)
				c->old_mode = octal_at(sp + 1, eol);
			c->full_index = dots && dots - (p + 6) == GIT_OID_HEXSZ &&
					(sp ? sp : eol) - (dots + 2) == GIT_OID_HEXSZ;
		}
		p = nl ? nl + 1 : end;
	}
	*out = h;
	return n;
}

/* The path delta dd reads (NULL for a new file) and the one it writes (NULL for a deletion). */
static const char *old_path(const git_diff_delta *dd)
{
	return dd->status == GIT_DELTA_ADDED ? NULL : dd->old_file.path;
}

static const char *new_path(const git_diff_delta *dd)
{
	return dd->status == GIT_DELTA_DELETED ? NULL : dd->new_file.path;
}

/*
 * A diff's paths sorted, so that the checks below cost a lookup each,
 * not a pass over the deltas: a treewide patch names thousands of files.
 */
struct path_ref {
	const char *path;
	size_t delta;
	int writes; /* the delta's new path; else its old path */
};

struct diff_paths {
	git_diff *d;
	const struct header_modes *h; /* by delta */
	struct path_ref *ref;
	size_t n;
};

static int path_ref_cmp(const void *a, const void *b)
{
	const struct path_ref *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	return x->delta < y->delta ? -1 : x->delta > y->delta;
}

static void diff_paths_init(struct diff_paths *p, git_diff *d, const struct header_modes *h)
{
	size_t i, n = git_diff_num_deltas(d);

	p->d = d;
	p->h = h;
	p->ref = pq_calloc(2 * n + 1, sizeof(*p->ref));
	p->n = 0;
	for (i = 0; i < n; i++) {
		const git_diff_delta *dd = git_diff_get_delta(d, i);

		if (old_path(dd))
			p->ref[p->n++] = (struct path_ref){ old_path(dd), i, 0 };
		if (new_path(dd))
			p->ref[p->n++] = (struct path_ref){ new_path(dd), i, 1 };
	}
	qsort(p->ref, p->n, sizeof(*p->ref), path_ref_cmp);
}

/* ref's path against key[0..len): <0, 0 (equal), >0. */
static int key_cmp(const char *ref, const char *key, size_t len)
{
	int c = strncmp(ref, key, len);

	return c ? c : ref[len] != '\0';
}

/* The first reference whose path is not before key[0..len). */
static size_t paths_lower(const struct diff_paths *p, const char *key, size_t len)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(p->ref[mid].path, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static git_delta_t status_of(const struct diff_paths *p, size_t delta)
{
	return git_diff_get_delta(p->d, delta)->status;
}

/*
 * Whether a delta before delta i writes path or takes it away: git then
 * reads what that delta left (previous_patch), which libgit2 does only
 * in part; a copy's source is only read.
 */
static int touched_before(const struct diff_paths *p, size_t i, const char *path)
{
	size_t len = strlen(path), k;

	for (k = paths_lower(p, path, len); k < p->n && !key_cmp(p->ref[k].path, path, len); k++) {
		const struct path_ref *r = &p->ref[k];

		if (r->delta < i && (r->writes || status_of(p, r->delta) == GIT_DELTA_RENAMED ||
				     status_of(p, r->delta) == GIT_DELTA_DELETED))
			return 1;
	}
	return 0;
}

/* Whether git removes path[0..len) from the index before it writes what the diff gives. */
static int removed_by(const struct diff_paths *p, const char *path, size_t len)
{
	size_t k;

	for (k = paths_lower(p, path, len); k < p->n && !key_cmp(p->ref[k].path, path, len); k++)
		if (!p->ref[k].writes && status_of(p, p->ref[k].delta) != GIT_DELTA_COPIED)
			return 1;
	return 0;
}

/*
 * Whether a delta writes (writes 1) or removes (0) a symbolic link at
 * path[0..len), by the mode its header states: what git knows of links
 * before it checks a path (prepare_symlink_changes).
 */
static int header_symlink(const struct diff_paths *p, const char *path, size_t len, int writes)
{
	size_t k;

	for (k = paths_lower(p, path, len); k < p->n && !key_cmp(p->ref[k].path, path, len); k++) {
		const struct path_ref *r = &p->ref[k];
		git_delta_t st = status_of(p, r->delta);

		if (r->writes != writes ||
		    (!writes && st != GIT_DELTA_DELETED && st != GIT_DELTA_RENAMED))
			continue;
		if (MODE_TYPE(writes ? p->h[r->delta].new_mode : p->h[r->delta].old_mode) ==
		    GIT_FILEMODE_LINK)
			return 1;
	}
	return 0;
}

/* Whether a delta before i writes path[0..len) (at) or a path beneath it (!at). */
static int written_before(const struct diff_paths *p, size_t i, const char *path, size_t len,
			  int at)
{
	struct pq_buf dir = PQ_BUF_INIT;
	size_t k;
	int found = 0;

	if (at) {
		for (k = paths_lower(p, path, len);
		     !found && k < p->n && !key_cmp(p->ref[k].path, path, len); k++)
			found = p->ref[k].writes && p->ref[k].delta < i;
		return found;
	}
	pq_buf_add(&dir, path, len);
	pq_buf_addc(&dir, '/');
	for (k = paths_lower(p, dir.ptr, dir.len);
	     !found && k < p->n && !strncmp(p->ref[k].path, dir.ptr, dir.len); k++)
		found = p->ref[k].writes && p->ref[k].delta < i;
	pq_buf_free(&dir);
	return found;
}

/* Whether path[0..len) names, in tree, an entry of type (0: any but a directory). */
static int tree_has(git_tree *tree, const char *path, size_t len, unsigned type)
{
	struct pq_buf p = PQ_BUF_INIT;
	git_tree_entry *e = NULL;
	int has = 0;

	pq_buf_add(&p, path, len);
	if (git_tree_entry_bypath(&e, tree, pq_buf_str(&p)) == 0) {
		unsigned m = MODE_TYPE(git_tree_entry_filemode(e));

		has = type ? m == type : m != GIT_FILEMODE_TREE;
	}
	git_tree_entry_free(e);
	pq_buf_free(&p);
	return has;
}

/*
 * Whether a leading directory of path is a symbolic link, as git decides
 * it before writing a file (path_is_beyond_symlink): one the diff creates
 * or keeps, else one of tree that the diff does not remove.
 */
static int beyond_symlink(git_tree *tree, const struct diff_paths *p, const char *path)
{
	size_t len = strlen(path);

	while (len) {
		do
			len--;
		while (len && path[len] != '/');
		if (!len)
			break;
		if (header_symlink(p, path, len, 1))
			return 1;
		if (header_symlink(p, path, len, 0))
			continue;
		if (tree_has(tree, path, len, GIT_FILEMODE_LINK))
			return 1;
	}
	return 0;
}

struct count_ctx {
	const struct diff_paths *p;
	const char *dir;
	size_t left; /* entries under dir the diff does not remove */
};

static int count_kept(const char *root, const git_tree_entry *e, void *payload)
{
	struct count_ctx *c = payload;
	struct pq_buf path = PQ_BUF_INIT;

	if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
		return 0;
	pq_buf_addf(&path, "%s/%s%s", c->dir, root, git_tree_entry_name(e));
	if (!removed_by(c->p, path.ptr, path.len))
		c->left++;
	pq_buf_free(&path);
	return c->left ? -1 : 0;
}

/* Whether tree's directory dir keeps an entry once the diff removed what it removes. */
static int directory_stays(git_repository *repo, git_tree *tree, const struct diff_paths *p,
			   const char *dir)
{
	struct count_ctx c = { p, dir, 0 };
	git_tree_entry *e = NULL;
	git_tree *sub = NULL;

	if (git_tree_entry_bypath(&e, tree, dir) == 0 &&
	    git_tree_entry_type(e) == GIT_OBJECT_TREE &&
	    git_tree_lookup(&sub, repo, git_tree_entry_id(e)) == 0)
		git_tree_walk(sub, GIT_TREEWALK_PRE, count_kept, &c);
	git_tree_free(sub);
	git_tree_entry_free(e);
	return c.left > 0;
}

/*
 * git writes a result into the index removals first, then each new path
 * in order, and fails on one with a file above it or entries beneath it
 * ("'P' appears as both a file and as a directory"): libgit2 replaces
 * them. The first such path, or NULL.
 */
static const char *file_directory_conflict(git_repository *repo, git_tree *tree,
					   const struct diff_paths *p)
{
	size_t i, n = git_diff_num_deltas(p->d);

	for (i = 0; i < n; i++) {
		const char *path = new_path(git_diff_get_delta(p->d, i));
		size_t len;

		if (!path)
			continue;
		for (len = 0; path[len]; len++) {
			if (path[len] != '/')
				continue;
			if (written_before(p, i, path, len, 1) ||
			    (tree_has(tree, path, len, 0) && !removed_by(p, path, len)))
				return path;
		}
		if (written_before(p, i, path, len, 0) || directory_stays(repo, tree, p, path))
			return path;
	}
	return NULL;
}

/* Records why the diff does not go through libgit2 (in git's words where git refuses it). */
static int refuse(struct apply_failure *f, const char *path, int whole_tree, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(struct apply_failure *f, const char *path, int whole_tree, const char *fmt, ...)
{
	va_list ap;

	pq_buf_reset(&f->file);
	pq_buf_adds(&f->file, path);
	why_next(f);
	va_start(ap, fmt);
	pq_buf_vaddf(&f->why, fmt, ap);
	va_end(ap);
	f->whole_tree = whole_tree;
	return -1;
}

/*
 * git applies a binary patch only to the blob its index line names in
 * full (apply_binary); libgit2 takes any blob its reverse half gives back.
 */
static int check_binary(const git_diff_delta *dd, const struct header_modes *h, const char *name,
			const git_tree_entry *e, struct apply_failure *f)
{
	char hex[GIT_OID_HEXSZ + 1];

	if (!h->full_index)
		return refuse(f, name, 0,
			      "cannot apply binary patch to '%s' without full index line", name);
	if (e && !git_oid_equal(git_tree_entry_id(e), &dd->old_file.id)) {
		git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(e));
		return refuse(f, name, 0,
			      "the patch applies to '%s' (%s), which does not match the current "
			      "contents.",
			      name, hex);
	}
	return 0;
}

/*
 * What git checks of one delta before applying it (check_preimage and
 * check_patch in git's apply.c), on tree: st is the mode the file has,
 * h what the header says. Sets *mode to the mode git gives the new path.
 */
static int check_delta(git_repository *repo, git_tree *tree, const struct diff_paths *p, size_t i,
		       unsigned *mode, struct apply_failure *f)
{
	git_diff *d = p->d;
	const struct header_modes *h = p->h;
	const git_diff_delta *dd = git_diff_get_delta(d, i);
	const char *old = old_path(dd), *new = new_path(dd);
	git_tree_entry *e = NULL, *at_new = NULL;
	unsigned st = 0, om, nm = 0;
	int rc = -1;

	if (old && touched_before(p, i, old)) {
		refuse(f, old, 0, "git reads %s after the earlier change to it", old);
		goto out;
	}
	if (old && git_tree_entry_bypath(&e, tree, old) < 0) {
		rc = 0; /* libgit2 says it does not exist, and so does git */
		goto out;
	}
	st = e ? git_tree_entry_filemode(e) : 0;
	if (e && MODE_TYPE(st) == GIT_FILEMODE_TREE) {
		refuse(f, old, 0, "%s: does not exist in index", old);
		goto out;
	}
	om = h[i].old_mode ? h[i].old_mode : st;
	if (old && MODE_TYPE(st) != MODE_TYPE(om)) {
		refuse(f, old, 0, "%s: wrong type", old);
		goto out;
	}
	if (new)
		nm = h[i].new_mode ? h[i].new_mode : old ? st : GIT_FILEMODE_BLOB;
	if (MODE_TYPE(nm) == GIT_FILEMODE_BLOB) /* as the index keeps it (create_ce_mode) */
		nm = nm & 0100 ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
	if (new && dd->status != GIT_DELTA_MODIFIED &&
	    git_tree_entry_bypath(&at_new, tree, new) == 0 &&
	    git_tree_entry_type(at_new) != GIT_OBJECT_TREE && !removed_by(p, new, strlen(new))) {
		refuse(f, new, 0, "%s: already exists in index", new);
		goto out;
	}
	if (old && new &&MODE_TYPE(om) != MODE_TYPE(nm)) {
		if (strcmp(old, new))
			refuse(f, new, 0, "new mode (%o) of %s does not match old mode (%o) of %s",
			       nm, new, om, old);
		else
			refuse(f, new, 0, "new mode (%o) of %s does not match old mode (%o)", nm,
			       new, om);
		goto out;
	}
	if (new &&beyond_symlink(tree, p, new)) {
		refuse(f, new, 1, "affected file '%s' is beyond a symbolic link", new);
		goto out;
	}
	if ((dd->flags & GIT_DIFF_FLAG_BINARY) &&
	    check_binary(dd, &h[i], old ? old : new, e, f) < 0)
		goto out;
	if (MODE_TYPE(st) == GIT_FILEMODE_COMMIT || MODE_TYPE(nm) == GIT_FILEMODE_COMMIT) {
		refuse(f, new ? new : old, 0,
		       "a submodule: libgit2 would write its \"Subproject commit\" line as a file");
		goto out;
	}
	if (dd->status == GIT_DELTA_DELETED && !(dd->flags & GIT_DIFF_FLAG_BINARY) &&
	    !deletes_whole_file(repo, d, i, e)) {
		refuse(f, old, 0, "the deletion does not match the content of the file");
		goto out;
	}
	if (!(dd->flags & GIT_DIFF_FLAG_BINARY) && old && new &&hunk_misses_end(repo, d, i, e, f)) {
		refuse(f, old, 0, "a hunk without context after it does not end the file");
		goto out;
	}
	*mode = nm;
	rc = 0;
out:
	git_tree_entry_free(e);
	git_tree_entry_free(at_new);
	return rc;
}

/*
 * libgit2 1.5 applies what git refuses, or applies it otherwise: a file
 * created, renamed or copied over one that exists or beneath a symbolic
 * link, over a directory or beneath a file; a mode change from a file to
 * a symbolic link or back; a deletion of less or other than the file's
 * content; a hunk with no context after it that does not end the file;
 * a submodule's "Subproject commit" line. It also gives a renamed, copied
 * or edited file the header's mode or 100644 where git keeps the file's.
 * Such a delta is refused here (in git's words where git refuses it too),
 * so that the patch goes to git, which applies it as git am would or says
 * why not; modes gets, for each delta, the mode git gives its new path.
 */
static int check_deltas(git_repository *repo, git_tree *tree, git_diff *d, const char *diff,
			size_t len, unsigned *modes, struct apply_failure *f)
{
	struct header_modes *h = NULL;
	struct diff_paths p = { NULL, NULL, NULL, 0 };
	size_t i, n = git_diff_num_deltas(d), nh = header_modes(diff, len, &h);
	const char *conflict;
	int rc = -1;

	if (nh != n) {
		refuse(f, "", 0, "libgit2 reads %zu files in the diff, git %zu", n, nh);
		goto out;
	}
	diff_paths_init(&p, d, h);
	for (i = 0; i < n; i++) {
		pq_buf_reset(&f->hunk);
		if (check_delta(repo, tree, &p, i, &modes[i], f) < 0)
			goto out;
	}
	if ((conflict = file_directory_conflict(repo, tree, &p))) {
		refuse(f, conflict, 1, "'%s' appears as both a file and as a directory", conflict);
		goto out;
	}
	rc = 0;
out:
	free(p.ref);
	free(h);
	return rc;
}

/*
 * Gives each path a delta of d writes in post the mode git gives it
 * (modes, by delta), and checks a binary patch gave the blob its index
 * line names, as git does.
 */
static int finish_post(git_diff *d, const unsigned *modes, git_index *post, struct apply_failure *f)
{
	size_t i, n = git_diff_num_deltas(d);

	for (i = 0; i < n; i++) {
		const git_diff_delta *dd = git_diff_get_delta(d, i);
		const char *p = new_path(dd);
		const git_index_entry *e = p ? git_index_get_bypath(post, p, 0) : NULL;
		git_index_entry fixed;
		char *path;
		int rc;

		if (e && (dd->flags & GIT_DIFF_FLAG_BINARY) &&
		    !git_oid_equal(&e->id, &dd->new_file.id)) {
			char want[GIT_OID_HEXSZ + 1], got[GIT_OID_HEXSZ + 1];

			git_oid_tostr(want, sizeof(want), &dd->new_file.id);
			git_oid_tostr(got, sizeof(got), &e->id);
			refuse(f, p, 0,
			       "binary patch to '%s' creates incorrect result (expecting %s, got %s)",
			       p, want, got);
			return -1;
		}
		if (!e || !modes[i] || e->mode == modes[i])
			continue;
		fixed = *e;
		path = pq_strdup(e->path);
		fixed.path = path;
		fixed.mode = modes[i];
		rc = git_index_add(post, &fixed);
		free(path);
		if (rc < 0) {
			why_next(f);
			pq_buf_addf(&f->why, "libgit2: %s", pq_repo_git_error());
			return -1;
		}
	}
	return 0;
}

/*
 * Applies d (the text diff, len bytes) to target with libgit2 into *post,
 * after checking it against full (the tree target is cut from, or target
 * itself).
 */
static int apply_libgit2(git_repository *repo, git_tree *full, git_tree *target, git_diff *d,
			 const char *diff, size_t len, git_index **post, struct apply_failure *f)
{
	unsigned *modes = pq_calloc(git_diff_num_deltas(d) + 1, sizeof(*modes));
	git_apply_options ao;
	int rc = -1;

	if (check_deltas(repo, full, d, diff, len, modes, f) < 0)
		goto out;
	git_apply_options_init(&ao, GIT_APPLY_OPTIONS_VERSION);
	ao.delta_cb = on_apply_delta;
	ao.hunk_cb = on_apply_hunk;
	ao.payload = f;
	if (git_apply_to_tree(post, repo, target, d, &ao) < 0) {
		why_next(f);
		pq_buf_addf(&f->why, "libgit2: %s", pq_repo_git_error());
		goto out;
	}
	if (finish_post(d, modes, *post, f) < 0) {
		git_index_free(*post);
		*post = NULL;
		goto out;
	}
	rc = 0;
out:
	free(modes);
	return rc;
}

/*
 * Runs `git --git-dir=gitdir args...` (no shell, LC_ALL=C) with diff on its
 * stdin, in an environment less what would point git at another
 * repository, index or object store than the one libgit2 opened (libgit2
 * ignores these variables), plus GIT_INDEX_FILE=index_file and a
 * quarantine: git writes its objects into objects (a directory of its
 * own) and reads the repository's as an alternate. Returns 0 with *res
 * filled whatever git's exit, or -1 with why set when git could not be
 * run.
 */
static int run_git(const char *gitdir, const char *index_file, const char *objects,
		   const char *const *args, const char *diff, size_t len, struct pq_run_result *res,
		   struct pq_buf *why)
{
	struct pq_buf dir_arg = PQ_BUF_INIT, index_var = PQ_BUF_INIT, objects_var = PQ_BUF_INIT,
		      alternate_var = PQ_BUF_INIT;
	const char *env[] = {
		"GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_NAMESPACE",
		NULL, /* GIT_INDEX_FILE=index_file */
		NULL, /* GIT_OBJECT_DIRECTORY=objects */
		NULL, /* GIT_ALTERNATE_OBJECT_DIRECTORIES=gitdir/objects */
		NULL,
	};
	struct pq_run_opts o = {
		.env = env,
		.in = diff,
		.in_len = len,
		.out_max = GIT_OUTPUT_MAX,
		.err_max = GIT_OUTPUT_MAX,
		.timeout_ms = GIT_APPLY_TIMEOUT_MS,
	};
	const char **argv;
	int rc, i;

	pq_buf_addf(&dir_arg, "--git-dir=%s", gitdir);
	pq_buf_addf(&index_var, "GIT_INDEX_FILE=%s", index_file);
	pq_buf_addf(&objects_var, "GIT_OBJECT_DIRECTORY=%s", objects);
	pq_buf_addf(&alternate_var, "GIT_ALTERNATE_OBJECT_DIRECTORIES=%s%sobjects", gitdir,
		    gitdir[0] && gitdir[strlen(gitdir) - 1] == '/' ? "" : "/");
	env[4] = index_var.ptr;
	env[5] = objects_var.ptr;
	env[6] = alternate_var.ptr;
	for (i = 0; args[i]; i++)
		;
	argv = pq_calloc((size_t)i + 3, sizeof(*argv));
	argv[0] = "git";
	argv[1] = dir_arg.ptr;
	for (i = 0; args[i]; i++)
		argv[i + 2] = args[i];
	o.argv = argv;
	rc = pq_run_command(res, &o);
	if (rc < 0)
		pq_buf_adds(why, pq_error_last());
	free(argv);
	pq_buf_free(&dir_arg);
	pq_buf_free(&index_var);
	pq_buf_free(&objects_var);
	pq_buf_free(&alternate_var);
	return rc < 0 ? -1 : 0;
}

/* Adds git's stderr as one line: its lines joined by "; ", "error: " left out. */
static void add_git_stderr(struct pq_buf *b, const struct pq_buf *err)
{
	const char *p = pq_buf_str(err), *end = p + err->len;
	int first = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (len > 7 && !memcmp(p, "error: ", 7)) {
			p += 7;
			len -= 7;
		}
		while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		if (len) {
			if (!first)
				pq_buf_adds(b, "; ");
			pq_buf_add(b, p, len);
			first = 0;
		}
		p += len;
		while (p < end && *p != '\n')
			p++;
		p++;
	}
	if (first)
		pq_buf_adds(b, "failed without a message");
}

static int line_starts(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(p, prefix, n);
}

static int line_has(const char *p, size_t len, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; n && i + n <= len; i++)
		if (!memcmp(p + i, s, n))
			return 1;
	return 0;
}

/*
 * From git's "patch failed: FILE:LINE", the file and the "@@ -LINE" hunk
 * header of that file in the diff. git's messages are translated, but
 * run_git runs it with LC_ALL=C (pq_run_command does, always), so the mark
 * is the English one whatever the system's locale.
 */
static void failure_from_git(struct apply_failure *f, const struct pq_buf *err, const char *diff,
			     size_t len)
{
	static const char mark[] = "patch failed: ";
	const char *s = strstr(pq_buf_str(err), mark), *colon, *eol, *p, *end = diff + len;
	struct pq_buf file = PQ_BUF_INIT, hunk = PQ_BUF_INIT;
	int in_file = 0;
	long line;
	char *num_end;

	if (!s)
		return;
	s += sizeof(mark) - 1;
	eol = strchr(s, '\n');
	if (!eol)
		eol = s + strlen(s);
	for (colon = eol; colon > s && *colon != ':'; colon--)
		;
	if (colon == s)
		return;
	line = strtol(colon + 1, &num_end, 10);
	if (num_end == colon + 1)
		return;
	pq_buf_add(&file, s, (size_t)(colon - s));
	pq_buf_reset(&f->file);
	pq_buf_add(&f->file, file.ptr, file.len);
	pq_buf_reset(&f->hunk);
	pq_buf_addf(&hunk, "@@ -%ld,", line);

	for (p = diff; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t l = (size_t)(next - p);

		if (line_starts(p, l, "diff --git ")) {
			in_file = line_has(p, l, file.ptr);
		} else if (line_starts(p, l, "--- ") &&
			   line_starts(next, (size_t)(end - next), "+++ ")) {
			const char *nl2 = memchr(next, '\n', (size_t)(end - next));
			size_t l2 = nl2 ? (size_t)(nl2 - next) : (size_t)(end - next);

			in_file = in_file || line_has(p, l, file.ptr) ||
				  line_has(next, l2, file.ptr);
		} else if (in_file && line_starts(p, l, "@@ -")) {
			/* "@@ -LINE," or, for a one-line hunk, "@@ -LINE " */
			if (line_starts(p, l, hunk.ptr) ||
			    (l > hunk.len - 1 && !memcmp(p, hunk.ptr, hunk.len - 1) &&
			     p[hunk.len - 1] == ' ')) {
				set_line(&f->hunk, p, l, HUNK_HEADER_MAX);
				break;
			}
		}
		p = next;
	}
	pq_buf_free(&file);
	pq_buf_free(&hunk);
}

/*
 * Why git apply --3way failed: the files whose merge conflicts ("U PATH"
 * in its output), or that the repository lacks the blobs the patch was
 * made from. Added to what f says already (why the patch itself does not
 * apply; apply_git() put the separator).
 */
static void merge_failure(struct apply_failure *f, const struct pq_run_result *res)
{
	const char *p = pq_buf_str(&res->err), *end = p + res->err.len;
	int n = 0;

	for (; p < end; p++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (line_starts(p, l, "U ")) {
			pq_buf_adds(&f->why, n++ ? ", " : "a three-way merge conflicts in ");
			pq_buf_add(&f->why, p + 2, l - 2);
		}
		p += l;
	}
	if (n == 0 && strstr(pq_buf_str(&res->err), "lacks the necessary blob"))
		pq_buf_adds(&f->why, "no three-way merge: the repository lacks the blobs the "
				     "patch was made from");
	else if (n == 0)
		pq_buf_adds(&f->why, "the three-way merge failed too");
}

struct import {
	git_odb *from, *to;
};

static int import_one(const git_oid *id, void *payload)
{
	struct import *im = payload;
	git_odb_object *o;
	git_oid written;
	int rc;

	if (git_odb_read(&o, im->from, id) < 0)
		return -1;
	rc = git_odb_write(&written, im->to, git_odb_object_data(o), git_odb_object_size(o),
			   git_odb_object_type(o));
	git_odb_object_free(o);
	return rc;
}

/*
 * The loose objects git wrote into the quarantine objects, written into
 * repo's database: into its packbuf, in memory, like every object an
 * application makes (on disk only with the application, never with a
 * dry run). Returns 0 or -1 with why set.
 */
static int import_quarantine(git_repository *repo, const char *objects, struct pq_buf *why)
{
	struct import im = { NULL, NULL };
	git_odb_backend *loose = NULL;
	int rc = -1;

	if (git_odb_new(&im.from) < 0 || git_odb_backend_loose(&loose, objects, -1, 0, 0, 0) < 0)
		goto out;
	if (git_odb_add_backend(im.from, loose, 1) < 0) {
		loose->free(loose);
		goto out;
	}
	if (git_repository_odb(&im.to, repo) < 0 || git_odb_foreach(im.from, import_one, &im) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		pq_buf_addf(why, "cannot take the objects git apply wrote: %s",
			    pq_repo_git_error());
	git_odb_free(im.from);
	git_odb_free(im.to);
	return rc;
}

/*
 * Applies the diff to tree with `git apply --cached` on a temporary index
 * holding tree, read back into *post. git works in a quarantine: it reads
 * the repository's objects and the blobs pb holds (copied there as a pack),
 * and writes its own there; those are taken into pb, and the quarantine
 * goes. The repository is never written.
 */
static int apply_git(git_repository *repo, struct pq_packbuf *pb, git_tree *tree, const char *diff,
		     size_t len, int three_way, git_index **post, struct apply_failure *f)
{
	/* options pinned, so the configuration cannot change what a patch gives */
	static const char *const apply_args[] = {
		"apply", "--cached", "--whitespace=nowarn", "--no-ignore-whitespace", "-", NULL,
	};
	static const char *const merge_args[] = {
		"apply", "--cached", "--whitespace=nowarn", "--no-ignore-whitespace", "--3way",
		"-",	 NULL,
	};
	struct pq_run_result res;
	struct pq_buf dir = PQ_BUF_INIT, idx_path = PQ_BUF_INIT, objects = PQ_BUF_INIT,
		      pack = PQ_BUF_INIT;
	const char *tmp = getenv("TMPDIR");
	git_index *idx = NULL;
	int rc = -1;

	memset(&res, 0, sizeof(res));
	why_next(f);
	pq_buf_addf(&dir, "%s/patchq-apply-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir.ptr)) {
		pq_buf_addf(&f->why, "git apply: cannot make a directory in %s: %s",
			    tmp && *tmp ? tmp : "/tmp", strerror(errno));
		pq_buf_free(&dir);
		return -1;
	}
	pq_buf_addf(&idx_path, "%s/index", dir.ptr);
	pq_buf_addf(&objects, "%s/objects", dir.ptr);
	pq_buf_addf(&pack, "%s/objects/pack", dir.ptr);
	if (mkdir(objects.ptr, 0700) < 0 || mkdir(pack.ptr, 0700) < 0) {
		pq_buf_addf(&f->why, "git apply: cannot make %s: %s", pack.ptr, strerror(errno));
		goto out;
	}
	if (git_index_open(&idx, idx_path.ptr) < 0 || git_index_read_tree(idx, tree) < 0 ||
	    git_index_write(idx) < 0) {
		pq_buf_addf(&f->why, "git apply: cannot write a temporary index: %s",
			    pq_repo_git_error());
		goto out;
	}
	/* git reads blobs (those the earlier patches made, held), never a tree */
	if (pq_packbuf_copy(pb, objects.ptr, GIT_OBJECT_BLOB) < 0) {
		pq_buf_addf(&f->why, "git apply: %s", pq_error_last());
		goto out;
	}

	if (run_git(git_repository_path(repo), idx_path.ptr, objects.ptr,
		    three_way ? merge_args : apply_args, diff, len, &res, &f->why) < 0)
		goto out;
	if (res.timed_out) {
		pq_buf_addf(&f->why, "git apply did not finish within %d s; killed",
			    GIT_APPLY_TIMEOUT_MS / 1000);
		goto out;
	}
	if (res.status && three_way) {
		merge_failure(f, &res);
		goto out;
	}
	if (res.status) {
		if (res.signal)
			pq_buf_addf(&f->why, "git apply was killed by signal %d%s", res.signal,
				    res.err.len ? "; " : "");
		if (!res.signal || res.err.len)
			add_git_stderr(&f->why, &res.err);
		failure_from_git(f, &res.err, diff, len);
		goto out;
	}
	if (import_quarantine(repo, objects.ptr, &f->why) < 0)
		goto out;
	if (git_index_read(idx, 1) < 0) {
		pq_buf_addf(&f->why, "cannot read the index git apply wrote: %s",
			    pq_repo_git_error());
		goto out;
	}
	*post = idx;
	idx = NULL;
	rc = 0;
out:
	git_index_free(idx);
	pq_dir_remove(dir.ptr);
	pq_buf_free(&dir);
	pq_buf_free(&idx_path);
	pq_buf_free(&objects);
	pq_buf_free(&pack);
	pq_run_result_free(&res);
	return rc;
}

/*
 * The paths a diff names and what the full tree holds at each. A patch
 * touches a few of a kernel tree's 80,000 files, and reading all of them
 * into an index for every patch is most of the cost of applying it; so the
 * diff is applied to a tree of only these paths and the result spliced
 * back into the full tree (see apply_patch).
 */
struct touched {
	const char **path;	/* borrowed from the diff */
	git_tree_entry **entry; /* in the full tree; NULL where it has none */
	size_t n;
};

static void touched_free(struct touched *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		git_tree_entry_free(t->entry[i]);
	free(t->path);
	free(t->entry);
	memset(t, 0, sizeof(*t));
}

static int touched_add(struct touched *t, git_tree *tree, const char *path)
{
	size_t i;
	int rc;

	if (!path)
		return -1;
	for (i = 0; i < t->n; i++)
		if (!strcmp(t->path[i], path))
			return 0;
	t->path[t->n] = path;
	t->entry[t->n] = NULL;
	rc = git_tree_entry_bypath(&t->entry[t->n], tree, path);
	if (rc < 0 && rc != GIT_ENOTFOUND)
		return -1;
	t->n++;
	return 0;
}

/* Collects the paths of d's deltas; -1 when one cannot be looked up. */
static int touched_collect(struct touched *t, git_tree *tree, git_diff *d)
{
	size_t i, n = git_diff_num_deltas(d);

	t->path = pq_calloc(2 * n + 1, sizeof(*t->path));
	t->entry = pq_calloc(2 * n + 1, sizeof(*t->entry));
	t->n = 0;
	for (i = 0; i < n; i++) {
		const git_diff_delta *dd = git_diff_get_delta(d, i);

		if (dd->status != GIT_DELTA_ADDED && touched_add(t, tree, dd->old_file.path) < 0)
			return -1;
		if (dd->status != GIT_DELTA_DELETED && touched_add(t, tree, dd->new_file.path) < 0)
			return -1;
	}
	return 0;
}

/* The tree of only the touched paths that tree has. */
static int small_tree(git_repository *repo, const struct touched *t, git_tree **out)
{
	git_tree_update *up = pq_calloc(t->n + 1, sizeof(*up));
	size_t i, k = 0;
	git_oid id;
	int rc;

	for (i = 0; i < t->n; i++) {
		if (!t->entry[i])
			continue;
		up[k].action = GIT_TREE_UPDATE_UPSERT;
		git_oid_cpy(&up[k].id, git_tree_entry_id(t->entry[i]));
		up[k].filemode = git_tree_entry_filemode(t->entry[i]);
		up[k].path = t->path[i];
		k++;
	}
	rc = git_tree_create_updated(&id, repo, NULL, k, up);
	if (rc == 0)
		rc = git_tree_lookup(out, repo, &id);
	free(up);
	return rc;
}

/*
 * Writes full with each touched path replaced by what post (the result of
 * applying the diff to the small tree) holds there, or removed. -1 when
 * post holds a path that is not touched (git read the diff otherwise than
 * libgit2, or a directory was touched as a whole): then the caller applies
 * the diff to the full tree instead.
 */
static int splice_back(git_repository *repo, git_tree *full, const struct touched *t,
		       git_index *post, git_oid *out)
{
	git_tree_update *up;
	size_t i, k = 0, found = 0;
	int rc;

	up = pq_calloc(t->n + 1, sizeof(*up));
	for (i = 0; i < t->n; i++) {
		const git_index_entry *e = git_index_get_bypath(post, t->path[i], 0);

		if (e) {
			up[k].action = GIT_TREE_UPDATE_UPSERT;
			git_oid_cpy(&up[k].id, &e->id);
			up[k].filemode = (git_filemode_t)e->mode;
			found++;
		} else if (t->entry[i]) {
			up[k].action = GIT_TREE_UPDATE_REMOVE;
		} else {
			continue;
		}
		up[k].path = t->path[i];
		k++;
	}
	rc = found == git_index_entrycount(post) ? git_tree_create_updated(out, repo, full, k, up)
						 : -1;
	free(up);
	return rc;
}

/* A real apply writes what it holds as a pack each time it holds this much. */
#define PACKBUF_FLUSH (16u << 20)

/*
 * Replaces what libgit2 and git said of a patch that does not apply by the
 * file, hunk and reason diagnose.h finds on tree, when it finds one.
 */
static void explain(git_repository *repo, git_tree *tree, const char *diff, size_t len,
		    struct apply_failure *f)
{
	struct pq_diagnosis d = PQ_DIAGNOSIS_INIT;

	if (pq_diagnose(repo, tree, diff, len, f->where, &d) == 1) {
		pq_buf_reset(&f->file);
		pq_buf_reset(&f->hunk);
		pq_buf_reset(&f->why);
		/* a reason about a whole file names it itself */
		if (d.hunk.len)
			pq_buf_add(&f->file, pq_buf_str(&d.file), d.file.len);
		pq_buf_add(&f->hunk, pq_buf_str(&d.hunk), d.hunk.len);
		pq_buf_add(&f->why, pq_buf_str(&d.why), d.why.len);
	}
	pq_diagnosis_free(&d);
}

/*
 * Applies one diff to tree into *tree_id: with libgit2, then with git
 * where libgit2 refuses and the options allow, then with git's three-way
 * merge; *path says which. All work on the small tree of the touched paths
 * when there is one. A patch none of them applies gets its reason from
 * explain(), and what the three-way merge found.
 */
static int apply_patch(git_repository *repo, struct pq_packbuf *pb, git_tree *tree,
		       const char *diff, size_t len, const struct pq_applier_opts *o,
		       git_oid *tree_id, enum pq_applier_path *path, struct apply_failure *f)
{
	struct touched t = { NULL, NULL, 0 };
	git_diff *d = NULL;
	git_tree *small = NULL, *target = tree;
	git_index *post = NULL;
	int rc = -1;

	if (git_diff_from_buffer(&d, diff, len) < 0) {
		why_next(f);
		pq_buf_addf(&f->why, "libgit2 cannot read the diff: %s", pq_repo_git_error());
		d = NULL;
	} else if (!git_diff_num_deltas(d)) {
		why_next(f);
		pq_buf_adds(&f->why, "libgit2 finds no file change in the diff");
	} else if (touched_collect(&t, tree, d) == 0 && small_tree(repo, &t, &small) == 0) {
		target = small;
	}
	*path = PQ_APPLIER_LIBGIT2;
	if (d && git_diff_num_deltas(d))
		rc = apply_libgit2(repo, tree, target, d, diff, len, &post, f);
	if (rc < 0 && o->git_fallback) {
		*path = PQ_APPLIER_GIT;
		/* git's words, not libgit2's, are the story from here */
		pq_buf_reset(&f->file);
		pq_buf_reset(&f->hunk);
		pq_buf_reset(&f->why);
		/* what git refuses beyond the paths the diff names, it must see */
		if (f->whole_tree)
			target = tree;
		rc = apply_git(repo, pb, target, diff, len, 0, &post, f);
		if (rc < 0)
			explain(repo, tree, diff, len, f);
		if (rc < 0 && o->three_way) {
			*path = PQ_APPLIER_THREEWAY;
			rc = apply_git(repo, pb, target, diff, len, 1, &post, f);
		}
	} else if (rc < 0) {
		explain(repo, tree, diff, len, f);
	}
	if (rc == 0 && target == small && splice_back(repo, tree, &t, post, tree_id) < 0) {
		/* the diff reached beyond its paths (git read it otherwise): redo in full */
		git_index_free(post);
		post = NULL;
		target = tree;
		rc = *path == PQ_APPLIER_LIBGIT2
			     ? apply_libgit2(repo, tree, tree, d, diff, len, &post, f)
			     : apply_git(repo, pb, tree, diff, len, *path == PQ_APPLIER_THREEWAY,
					 &post, f);
	}
	if (rc == 0 && target == tree && git_index_write_tree_to(tree_id, post, repo) < 0) {
		why_next(f);
		pq_buf_addf(&f->why, "cannot write the tree: %s", pq_repo_git_error());
		rc = -1;
	}
	git_index_free(post);
	git_tree_free(small);
	touched_free(&t);
	git_diff_free(d);
	return rc;
}

/* Commits tree_id on parent with the patch's author, message and dates. */
static int commit_patch(git_repository *repo, const struct pq_applier_patch *p,
			const struct pq_applier_opts *o, const git_oid *tree_id,
			const git_commit *parent, git_oid *out, struct pq_buf *why)
{
	git_signature *author = NULL, *committer = NULL;
	git_tree *tree = NULL;
	int rc = -1;

	if (git_signature_new(&author, p->author_name, p->author_email, (git_time_t)p->author_time,
			      p->author_offset) < 0) {
		pq_buf_addf(why, "bad author \"%s <%s>\": %s", p->author_name, p->author_email,
			    pq_repo_git_error());
		goto out;
	}
	if (git_signature_new(&committer, o->committer_name, o->committer_email,
			      (git_time_t)p->committer_time, p->committer_offset) < 0) {
		pq_buf_addf(why, "bad committer \"%s <%s>\": %s", o->committer_name,
			    o->committer_email, pq_repo_git_error());
		goto out;
	}
	if (git_tree_lookup(&tree, repo, tree_id) < 0 ||
	    git_commit_create(out, repo, NULL, author, committer, NULL, p->message, tree, 1,
			      &parent) < 0) {
		pq_buf_addf(why, "cannot make the commit: %s", pq_repo_git_error());
		goto out;
	}
	rc = 0;
out:
	git_tree_free(tree);
	git_signature_free(author);
	git_signature_free(committer);
	return rc;
}

/*
 * The merge of the commit merge_onto names and theirs (a series applied
 * on its base-commit) into *out; PQ_EGIT naming a file when it conflicts.
 */
static int merge_commit(git_repository *repo, const struct pq_applier_opts *o,
			const struct pq_applier_patch *last, git_commit *theirs, git_oid *out)
{
	git_object *obj = NULL;
	git_commit *ours = NULL;
	git_index *idx = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	const git_commit *parents[2];
	git_oid tree_id;
	int rc;

	if (git_revparse_single(&obj, repo, o->merge_onto) < 0 ||
	    git_object_peel((git_object **)&ours, obj, GIT_OBJECT_COMMIT) < 0) {
		rc = pq_error_set(PQ_ENOTFOUND, "merge onto %s: %s", o->merge_onto,
				  pq_repo_git_error());
		goto out;
	}
	if (git_merge_commits(&idx, repo, ours, theirs, NULL) < 0) {
		rc = pq_error_set(PQ_EGIT, "cannot merge onto %.12s: %s", o->merge_onto,
				  pq_repo_git_error());
		goto out;
	}
	if (git_index_has_conflicts(idx)) {
		git_index_conflict_iterator *it = NULL;
		const git_index_entry *anc, *our, *their;
		const char *path = "?";

		if (git_index_conflict_iterator_new(&it, idx) == 0 &&
		    git_index_conflict_next(&anc, &our, &their, it) == 0)
			path = our ? our->path : their ? their->path : anc->path;
		rc = pq_error_set(PQ_EGIT,
				  "it applies on its base-commit, but merging that onto %.12s "
				  "conflicts in %s",
				  o->merge_onto, path);
		git_index_conflict_iterator_free(it);
		goto out;
	}
	if (git_index_write_tree_to(&tree_id, idx, repo) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0 ||
	    git_signature_new(&sig, o->committer_name, o->committer_email,
			      (git_time_t)last->committer_time, last->committer_offset) < 0) {
		rc = pq_error_set(PQ_EGIT, "cannot write the merge: %s", pq_repo_git_error());
		goto out;
	}
	parents[0] = ours;
	parents[1] = theirs;
	rc = 0;
	if (git_commit_create(out, repo, NULL, sig, sig, NULL, o->merge_message, tree, 2, parents) <
	    0)
		rc = pq_error_set(PQ_EGIT, "cannot write the merge: %s", pq_repo_git_error());
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(idx);
	git_commit_free(ours);
	git_object_free(obj);
	return rc;
}

/* Turns a failure into results' error: "FILE, hunk HEADER: WHY". */
static char *failure_text(struct apply_failure *f)
{
	struct pq_buf b = PQ_BUF_INIT;

	if (f->file.len) {
		pq_buf_add(&b, f->file.ptr, f->file.len);
		if (f->hunk.len)
			pq_buf_addf(&b, ", hunk %s", f->hunk.ptr);
		pq_buf_adds(&b, ": ");
	}
	pq_buf_add(&b, pq_buf_str(&f->why), f->why.len);
	return pq_buf_detach(&b);
}

static int check_args(struct pq_repo *repo, const char *branch,
		      const struct pq_applier_patch *patches, size_t n,
		      const struct pq_applier_opts *opts, struct pq_applier_result *results)
{
	size_t i;

	if (!repo || !branch || !opts || !opts->committer_name || !opts->committer_email ||
	    (n && (!patches || !results)))
		return pq_error_set(PQ_EINVAL, "apply: missing repository, branch, "
					       "committer or patches");
	for (i = 0; i < n; i++) {
		const struct pq_applier_patch *p = &patches[i];

		if (!p->author_name || !p->author_email || !p->message || (!p->diff && p->diff_len))
			return pq_error_set(PQ_EINVAL,
					    "apply: patch %zu of %zu (%s) lacks an author, "
					    "a message or its diff",
					    i + 1, n, p->msgid ? p->msgid : "no Message-ID");
	}
	return 0;
}

/* Reads the tip of refname into tip; *missing when there is no such ref. */
static int read_tip(git_repository *repo, const char *refname, git_oid *tip, int *missing)
{
	git_reference *ref = NULL;
	int rc = git_reference_lookup(&ref, repo, refname);

	*missing = 0;
	if (rc == GIT_ENOTFOUND) {
		*missing = 1;
		return 0;
	}
	if (rc < 0)
		return pq_error_set(PQ_EGIT, "cannot read %s: %s", refname, pq_repo_git_error());
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		git_reference_free(ref);
		return pq_error_set(PQ_EINVAL, "%s is a symbolic reference, not a queue branch",
				    refname);
	}
	git_oid_cpy(tip, git_reference_target(ref));
	git_reference_free(ref);
	return 0;
}

/* The commit to build on: base, or the branch tip when base is NULL. */
static int resolve_base(git_repository *repo, const char *branch, const char *base,
			const git_oid *tip, int missing, git_commit **out)
{
	git_object *obj = NULL;
	int rc;

	if (!base) {
		if (missing)
			return pq_error_set(PQ_ENOTFOUND,
					    "branch %s does not exist and no base was given",
					    branch);
		if (git_commit_lookup(out, repo, tip) < 0)
			return pq_error_set(PQ_EGIT, "the tip of %s is not a commit: %s", branch,
					    pq_repo_git_error());
		return 0;
	}
	if (git_revparse_single(&obj, repo, base) < 0)
		return pq_error_set(PQ_ENOTFOUND, "base %s: %s", base, pq_repo_git_error());
	rc = git_object_peel((git_object **)out, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (rc < 0)
		return pq_error_set(PQ_ENOTFOUND, "base %s is not a commit: %s", base,
				    pq_repo_git_error());
	return 0;
}

/*
 * Whether the lock on refname went away, waiting for it at most
 * LOCK_STALE_MS: a writer holds a reference lock for a millisecond or so
 * (git, or another patchq), so a lock that stays longer was left by a
 * writer killed in between, and would block the queue for ever: it is
 * removed. Returns 1 when the update may be tried again.
 */
static int lock_cleared(git_repository *repo, const char *refname)
{
	struct pq_buf lock = PQ_BUF_INIT;
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	struct stat st;
	int waited, cleared = 0;

	pq_buf_addf(&lock, "%s%s.lock", git_repository_commondir(repo), refname);
	for (waited = 0; !cleared && waited <= LOCK_STALE_MS; waited += 50) {
		if (lstat(lock.ptr, &st) < 0)
			cleared = errno == ENOENT;
		else if (waited == LOCK_STALE_MS || time(NULL) - st.st_mtime > LOCK_STALE_MS / 1000)
			cleared = unlink(lock.ptr) == 0 || errno == ENOENT;
		else
			nanosleep(&nap, NULL);
	}
	pq_buf_free(&lock);
	return cleared;
}

/*
 * Moves refname from old (missing: creates it) to new, failing with
 * PQ_EEXISTS when it is no longer where it was.
 */
static int move_branch(git_repository *repo, const char *refname, const git_oid *old, int missing,
		       const git_oid *new_tip, size_t n)
{
	struct pq_buf msg = PQ_BUF_INIT;
	git_reference *ref = NULL;
	git_oid now;
	int now_missing, rc, tries = 0;

	if (!missing && git_oid_equal(old, new_tip)) {
		/* nothing to write, but the caller must still learn of a move */
		rc = read_tip(repo, refname, &now, &now_missing);
		if (rc < 0)
			return rc;
		if (now_missing || !git_oid_equal(&now, old))
			return pq_error_set(PQ_EEXISTS, "%s moved while patches were applied",
					    refname);
		return 0;
	}
	pq_buf_addf(&msg, "patchq: apply %zu patch%s", n, n == 1 ? "" : "es");
	do {
		git_reference_free(ref);
		ref = NULL;
		if (missing)
			rc = git_reference_create(&ref, repo, refname, new_tip, 0, msg.ptr);
		else
			rc = git_reference_create_matching(&ref, repo, refname, new_tip, 1, old,
							   msg.ptr);
	} while (rc == GIT_ELOCKED && ++tries < 3 && lock_cleared(repo, refname));
	pq_buf_free(&msg);
	git_reference_free(ref);
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS)
		return pq_error_set(PQ_EEXISTS, "%s %s while patches were applied", refname,
				    missing ? "was created" : "moved");
	if (rc == GIT_ELOCKED)
		return pq_error_set(PQ_EEXISTS, "%s is being updated by another process: %s",
				    refname, pq_repo_git_error());
	if (rc < 0)
		return pq_error_set(PQ_EGIT, "cannot update %s: %s", refname, pq_repo_git_error());
	return 0;
}

/* The "diff" of a patch, never NULL. */
static const char *patch_diff(const struct pq_applier_patch *p)
{
	return p->diff ? p->diff : "";
}

static int apply_all(git_repository *repo, struct pq_packbuf *pb, const char *branch,
		     const char *base, const struct pq_applier_patch *patches, size_t n,
		     const struct pq_applier_opts *opts, struct pq_applier_result *results)
{
	struct pq_buf refname = PQ_BUF_INIT;
	git_commit *head = NULL;
	git_oid old_tip, tip;
	int missing = 0, rc, valid = 0, applied;
	size_t i;

	memset(&old_tip, 0, sizeof(old_tip));
	pq_buf_addf(&refname, "refs/heads/%s", branch);
	if (git_reference_name_is_valid(&valid, refname.ptr) < 0 || !valid) {
		rc = pq_error_set(PQ_EINVAL, "bad branch name \"%s\"", branch);
		goto out;
	}
	rc = read_tip(repo, refname.ptr, &old_tip, &missing);
	if (rc < 0)
		goto out;
	rc = resolve_base(repo, branch, base, &old_tip, missing, &head);
	if (rc < 0)
		goto out;
	/* the reflog entry names the configured identity, not the host's */
	git_repository_set_ident(repo, opts->committer_name, opts->committer_email);

	for (i = 0; i < n; i++) {
		const struct pq_applier_patch *p = &patches[i];
		struct apply_failure f = { PQ_BUF_INIT, PQ_BUF_INIT, PQ_BUF_INIT, 0,
					   opts->where ? opts->where : branch };
		git_commit *next = NULL;
		git_tree *tree = NULL;
		git_oid tree_id, commit_id;

		rc = git_commit_tree(&tree, head);
		if (rc == 0)
			rc = apply_patch(repo, pb, tree, patch_diff(p), p->diff_len, opts, &tree_id,
					 &results[i].path, &f);
		else
			pq_buf_addf(&f.why, "cannot read the tree: %s", pq_repo_git_error());
		applied = rc == 0;
		if (applied) {
			/* what libgit2 said before git applied it is no longer the story */
			pq_buf_reset(&f.file);
			pq_buf_reset(&f.hunk);
			pq_buf_reset(&f.why);
			rc = commit_patch(repo, p, opts, &tree_id, head, &commit_id, &f.why);
		}
		if (rc == 0 && git_commit_lookup(&next, repo, &commit_id) < 0) {
			pq_buf_addf(&f.why, "cannot read back the commit: %s", pq_repo_git_error());
			rc = -1;
		}
		git_tree_free(tree);
		if (rc < 0) {
			results[i].path = 0;
			results[i].error = failure_text(&f);
			rc = pq_error_set(PQ_EGIT, "patch %zu of %zu (%s) %s: %s", i + 1, n,
					  p->msgid ? p->msgid : "no Message-ID",
					  applied ? "cannot be committed" : "does not apply",
					  results[i].error);
			failure_free(&f);
			goto out;
		}
		failure_free(&f);
		git_oid_tostr(results[i].commit, sizeof(results[i].commit), &commit_id);
		/* memory stays bounded however long the series */
		if ((!opts->dry_run || opts->keep_objects) && pq_packbuf_size(pb) > PACKBUF_FLUSH &&
		    (rc = pq_packbuf_flush(pb)) < 0)
			goto out;
		git_commit_free(head);
		head = next;
	}

	rc = 0;
	git_oid_cpy(&tip, git_commit_id(head));
	if (opts->merge_onto && n) {
		if ((rc = merge_commit(repo, opts, &patches[n - 1], head, &tip)) < 0)
			goto out;
		git_oid_tostr(results[n - 1].merge, sizeof(results[n - 1].merge), &tip);
	}
	/* the objects are in the repository before the branch names them */
	if (!opts->dry_run || opts->keep_objects)
		rc = pq_packbuf_flush(pb);
	if (rc == 0 && !opts->dry_run)
		rc = move_branch(repo, refname.ptr, &old_tip, missing, &tip, n);
out:
	/* a dry run's or a failure's objects go; the repository serves the next call */
	pq_packbuf_discard(pb);
	git_commit_free(head);
	pq_buf_free(&refname);
	return rc;
}

int pq_applier_run(struct pq_repo *repo, const char *branch, const char *base,
		   const struct pq_applier_patch *patches, size_t n,
		   const struct pq_applier_opts *opts, struct pq_applier_result *results)
{
	int rc;

	if (results && n)
		memset(results, 0, n * sizeof(*results));
	rc = check_args(repo, branch, patches, n, opts, results);
	if (rc < 0)
		return rc;
	return apply_all(pq_repo_git(repo), pq_repo_packbuf(repo), branch, base, patches, n, opts,
			 results);
}
