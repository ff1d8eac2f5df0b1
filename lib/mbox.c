/*
 * mbox: where raw messages come from on disk (see mbox.h).
 *
 * Three readers share one callback: an mbox splitter that works on a
 * mapping of the whole file and hands out pointers into it, a maildir
 * reader, and a public-inbox reader on top of libgit2. Nothing here parses
 * a message; the bytes go to ingest as they are.
 */
#include "mbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

/*
 * Whether the line (len bytes, no newline) is an mbox separator. git's
 * mailsplit is the model: "From ", a non-empty token (the envelope
 * sender), a space, then a date: something like a time of day (H:MM) and
 * a run of four digits (the year, or a zone in RFC 2822 dates). That
 * covers ctime dates, "git format-patch"'s "Mon Sep 17 00:00:00 2001" and
 * the mboxrd "From mboxrd@z Thu Jan  1 00:00:00 1970", and leaves prose
 * such as "From the looks of it" or "From 10:30 to 11:00" in the body.
 */
static bool mbox_is_from_line(const char *line, size_t len)
{
	const char *p, *end = line + len, *tok;
	bool time = false;
	size_t digits = 0, run = 0;

	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return false;
	p = tok = line + 5;
	while (p < end && *p != ' ')
		p++;
	if (p == tok || p == end)
		return false;
	for (p++; p < end; p++) {
		if (isdigit((unsigned char)*p)) {
			if (++run > digits)
				digits = run;
			continue;
		}
		run = 0;
		if (*p == ':' && end - p > 2 && isdigit((unsigned char)p[-1]) &&
		    isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]))
			time = true;
	}
	return time && digits >= 4;
}

static bool mbox_is_from_at(const char *p, const char *end)
{
	const char *eol = memchr(p, '\n', (size_t)(end - p));

	return mbox_is_from_line(p, (size_t)((eol ? eol : end) - p));
}

/*
 * memmem(p, end - p, "<lead>From ", 6), eight bytes a step: a word is
 * looked at closer only when it holds <lead> followed by 'F', which is rare
 * ('F' alone is every 170 bytes of mail; glibc's memmem costs several
 * instructions a byte).
 */
static const char *find_from(const char *p, const char *end, char lead)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	const uint64_t want_lead = ones * (unsigned char)lead, want_f = ones * 'F';
	uint64_t x, y, t;
	int i;

	for (; end - p >= 9; p += 8) {
		memcpy(&x, p, 8);
		memcpy(&y, p + 1, 8);
		t = (x ^ want_lead) | (y ^ want_f); /* zero bytes: lead then 'F' */
		if (!((t - ones) & ~t & high))
			continue;
		for (i = 0; i < 8; i++)
			if (p[i] == lead && end - (p + i) >= 6 && !memcmp(p + i + 1, "From ", 5))
				return p + i;
	}
	for (; end - p >= 6; p++)
		if (*p == lead && !memcmp(p + 1, "From ", 5))
			return p;
	return NULL;
}

/*
 * The next separator line at or after body, which starts a line; NULL when
 * the rest is one message. Lines are never scanned twice: a rejected
 * candidate resumes the search at its own newline.
 */
static const char *mbox_next_from(const char *body, const char *end)
{
	const char *p = body, *hit, *eol;

	if (p < end && mbox_is_from_at(p, end))
		return p;
	while (p < end && (hit = find_from(p, end, '\n'))) {
		hit++;
		eol = memchr(hit, '\n', (size_t)(end - hit));
		if (mbox_is_from_line(hit, (size_t)((eol ? eol : end) - hit)))
			return hit;
		if (!eol)
			break;
		p = eol;
	}
	return NULL;
}

/*
 * Drops the blank line the mbox format puts after each message ("\n", or
 * "\r\n" in a file written with CRLF), so a message has the same bytes
 * wherever it sits in the file, the last one included.
 */
static const char *mbox_strip_blank(const char *body, const char *e)
{
	const char *l;

	if (e == body || e[-1] != '\n')
		return e;
	l = e - 1;
	if (l > body && l[-1] == '\r')
		l--;
	if (l == body || l[-1] == '\n')
		return l;
	return e;
}

/*
 * Finds the next mboxrd-quoted line (^>+From ) whose ">From " starts at or
 * after *scan. Returns the start of that line and moves *scan past the
 * match, or returns NULL.
 */
static const char *mbox_next_quoted(const char *body, const char **scan, const char *e)
{
	const char *hit, *q;

	while (*scan < e && (hit = find_from(*scan, e, '>'))) {
		*scan = hit + 1;
		q = hit;
		while (q > body && q[-1] == '>')
			q--;
		if (q == body || q[-1] == '\n')
			return q;
	}
	return NULL;
}

/* Hands one message to cb, unquoting into tmp only when it has to. */
static int mbox_deliver(const char *body, const char *e, size_t offset, struct pq_buf *tmp,
			pq_mbox_cb cb, void *ctx)
{
	char cursor[32];
	const char *scan = body, *from = body, *q;

	if (body == e)
		return 0;
	snprintf(cursor, sizeof(cursor), "mbox:%zu", offset);
	q = mbox_next_quoted(body, &scan, e);
	if (!q)
		return cb(ctx, body, (size_t)(e - body), cursor);

	pq_buf_reset(tmp);
	pq_buf_grow(tmp, (size_t)(e - body));
	do {
		pq_buf_add(tmp, from, (size_t)(q - from));
		from = q + 1; /* one '>' less */
	} while ((q = mbox_next_quoted(body, &scan, e)));
	pq_buf_add(tmp, from, (size_t)(e - from));
	return cb(ctx, tmp->ptr, tmp->len, cursor);
}

/* Mapped input is given back to the kernel in steps of this many bytes. */
#define MBOX_RELEASE_STEP (8u << 20)

/*
 * Splits data; when mapped, drops the pages already handed out, so the
 * memory a reader holds does not grow with the size of the mbox.
 */
static int mbox_split(const char *data, size_t len, int mapped, pq_mbox_cb cb, void *ctx)
{
	struct pq_buf tmp = PQ_BUF_INIT;
	const char *end = data + len, *sep, *body, *next, *nl;
	size_t released = 0, page = (size_t)sysconf(_SC_PAGESIZE);
	int rc = 0;

	if (len == 0)
		return 0;
	/* Not an mbox: one message, bytes untouched (a body may quote ">From "). */
	if (!mbox_is_from_at(data, end))
		return cb(ctx, data, len, "mbox:0");

	for (sep = data; sep && rc == 0; sep = next) {
		nl = memchr(sep, '\n', (size_t)(end - sep));
		body = nl ? nl + 1 : end;
		next = mbox_next_from(body, end);
		rc = mbox_deliver(body, mbox_strip_blank(body, next ? next : end),
				  (size_t)(sep - data), &tmp, cb, ctx);
		if (mapped && next && (size_t)(next - data) - released >= MBOX_RELEASE_STEP) {
			size_t upto = ((size_t)(next - data) / page) * page;

			madvise((char *)data + released, upto - released, MADV_DONTNEED);
			released = upto;
		}
	}
	pq_buf_free(&tmp);
	return rc;
}

int pq_mbox_split(const char *data, size_t len, pq_mbox_cb cb, void *ctx)
{
	return mbox_split(data, len, 0, cb, ctx);
}

/* Reads all of fd into b (appending); -1 with errno on failure. */
static int mbox_read_fd(int fd, struct pq_buf *b)
{
	ssize_t n;

	for (;;) {
		pq_buf_grow(b, 65536);
		n = read(fd, b->ptr + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->ptr[b->len] = '\0';
	return 0;
}

int pq_mbox_read(const char *path, pq_mbox_cb cb, void *ctx)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct stat st;
	void *map;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return pq_error_set(PQ_EIO, "%s: %s", path, strerror(EISDIR));
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		close(fd);
		return 0;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return pq_error_set(PQ_ELIMIT, "%s: too large to map", path);
	}

	map = MAP_FAILED;
	if (S_ISREG(st.st_mode))
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map != MAP_FAILED) {
		close(fd);
		madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
		rc = mbox_split(map, (size_t)st.st_size, 1, cb, ctx);
		munmap(map, (size_t)st.st_size);
		return rc;
	}

	/* A pipe, a device, or a file system that cannot map: read it. */
	if (mbox_read_fd(fd, &b) < 0) {
		rc = pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
		close(fd);
		pq_buf_free(&b);
		return rc;
	}
	close(fd);
	rc = pq_mbox_split(b.ptr ? b.ptr : "", b.len, cb, ctx);
	pq_buf_free(&b);
	return rc;
}

struct maildir_entry {
	char *name;
	int sub; /* index into maildir_subs */
};

static const char *const maildir_subs[] = { "new", "cur" };

static int maildir_entry_cmp(const void *a, const void *b)
{
	const struct maildir_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->sub - y->sub;
}

/* Appends the names of sub/ to *list; a missing sub/ is no error. */
static int maildir_list(const char *dir, int sub, struct maildir_entry **list, size_t *n,
			size_t *alloc, bool *seen)
{
	struct pq_buf path = PQ_BUF_INIT;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	pq_buf_addf(&path, "%s/%s", dir, maildir_subs[sub]);
	d = opendir(path.ptr);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = pq_error_set(PQ_EIO, "%s: %s", path.ptr, strerror(errno));
		pq_buf_free(&path);
		return rc;
	}
	*seen = true;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == *alloc) {
			*alloc = *alloc ? *alloc * 2 : 64;
			*list = pq_reallocarray(*list, *alloc, sizeof(**list));
		}
		(*list)[*n].name = pq_strdup(de->d_name);
		(*list)[*n].sub = sub;
		(*n)++;
	}
	if (errno)
		rc = pq_error_set(PQ_EIO, "%s: %s", path.ptr, strerror(errno));
	closedir(d);
	pq_buf_free(&path);
	return rc;
}

/*
 * Reads one maildir file into b. Returns 1 when the file is to be skipped
 * (gone since the listing, because a mail client moved it, or not a
 * regular file), 0 when read, or a negative code.
 */
static int maildir_read_file(const char *path, struct pq_buf *b)
{
	struct stat st;
	int fd, rc = 0;

	pq_buf_reset(b);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0)
		rc = pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = 1;
	else if (mbox_read_fd(fd, b) < 0)
		rc = pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int pq_maildir_read(const char *dir, pq_mbox_cb cb, void *ctx)
{
	struct maildir_entry *list = NULL;
	struct pq_buf path = PQ_BUF_INIT, data = PQ_BUF_INIT, cursor = PQ_BUF_INIT;
	size_t n = 0, alloc = 0, i;
	bool seen = false;
	const char *raw, *nl;
	size_t len;
	int rc = 0;

	for (i = 0; i < 2 && rc == 0; i++)
		rc = maildir_list(dir, (int)i, &list, &n, &alloc, &seen);
	if (rc == 0 && !seen)
		rc = pq_error_set(PQ_EIO, "%s: not a maildir (no new/ or cur/)", dir);
	if (rc == 0 && n > 1)
		qsort(list, n, sizeof(*list), maildir_entry_cmp);

	for (i = 0; i < n && rc == 0; i++) {
		pq_buf_reset(&path);
		pq_buf_addf(&path, "%s/%s/%s", dir, maildir_subs[list[i].sub], list[i].name);
		rc = maildir_read_file(path.ptr, &data);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		raw = data.ptr ? data.ptr : "";
		len = data.len;
		/* procmail and some fetchers keep the envelope line */
		if (len && mbox_is_from_at(raw, raw + len)) {
			nl = memchr(raw, '\n', len);
			len = nl ? len - (size_t)(nl + 1 - raw) : 0;
			raw = nl ? nl + 1 : raw + data.len;
		}
		if (len == 0)
			continue;
		pq_buf_reset(&cursor);
		pq_buf_addf(&cursor, "maildir:%s/%s", maildir_subs[list[i].sub], list[i].name);
		rc = cb(ctx, raw, len, cursor.ptr);
	}

	for (i = 0; i < n; i++)
		free(list[i].name);
	free(list);
	pq_buf_free(&path);
	pq_buf_free(&data);
	pq_buf_free(&cursor);
	return rc;
}

static bool path_is_dir(const char *base, const char *rel)
{
	struct pq_buf p = PQ_BUF_INIT;
	struct stat st;
	bool ok;

	pq_buf_addf(&p, "%s/%s", base, rel);
	ok = stat(p.ptr, &st) == 0 && S_ISDIR(st.st_mode);
	pq_buf_free(&p);
	return ok;
}

static bool path_exists(const char *base, const char *rel)
{
	struct pq_buf p = PQ_BUF_INIT;
	struct stat st;
	bool ok;

	pq_buf_addf(&p, "%s/%s", base, rel);
	ok = stat(p.ptr, &st) == 0;
	pq_buf_free(&p);
	return ok;
}

enum pq_source_kind pq_source_detect(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return PQ_SOURCE_UNKNOWN;
	if (S_ISREG(st.st_mode))
		return PQ_SOURCE_MBOX;
	if (!S_ISDIR(st.st_mode))
		return PQ_SOURCE_UNKNOWN;
	if (path_is_dir(path, "cur") || path_is_dir(path, "new"))
		return PQ_SOURCE_MAILDIR;
	if (path_is_dir(path, "git/0.git"))
		return PQ_SOURCE_PUBLIC_INBOX;
	/* a bare repository, or a work tree (.git may be a gitfile) */
	if ((path_exists(path, "HEAD") && path_is_dir(path, "objects")) ||
	    path_exists(path, ".git"))
		return PQ_SOURCE_PUBLIC_INBOX;
	return PQ_SOURCE_UNKNOWN;
}

/* State of one pq_pi_read() across the epochs. */
struct pi_read {
	pq_mbox_cb cb;
	void *ctx;
	git_oid since;
	bool has_since;
	bool since_found;
};

static int pi_git_error(const char *path)
{
	const git_error *e = git_error_last();

	return pq_error_set(PQ_EGIT, "%s: %s", path, e && e->message ? e->message : "git error");
}

/*
 * The commit to walk back from: HEAD, or when HEAD is unborn (a mirror
 * whose HEAD names a branch it does not have) refs/heads/master, then the
 * first branch by name. Returns 0, GIT_ENOTFOUND for a repository without
 * commits, or another libgit2 error.
 */
static int pi_find_tip(git_repository *repo, git_oid *tip)
{
	git_branch_iterator *it;
	git_reference *ref, *best = NULL;
	git_branch_t type;
	int rc;

	rc = git_reference_name_to_id(tip, repo, "HEAD");
	if (rc != GIT_ENOTFOUND)
		return rc;
	rc = git_reference_name_to_id(tip, repo, "refs/heads/master");
	if (rc != GIT_ENOTFOUND)
		return rc;
	rc = git_branch_iterator_new(&it, repo, GIT_BRANCH_LOCAL);
	if (rc < 0)
		return rc;
	while ((rc = git_branch_next(&ref, &type, it)) == 0) {
		if (!best || strcmp(git_reference_name(ref), git_reference_name(best)) < 0) {
			git_reference_free(best);
			best = ref;
		} else {
			git_reference_free(ref);
		}
	}
	git_branch_iterator_free(it);
	if (rc != GIT_ITEROVER) {
		git_reference_free(best);
		return rc;
	}
	if (!best)
		return GIT_ENOTFOUND;
	rc = git_reference_name_to_id(tip, repo, git_reference_name(best));
	git_reference_free(best);
	return rc;
}

/* Whether pr->since is tip or one of its ancestors: 1, 0 or a libgit2 error. */
static int pi_has_since(git_repository *repo, const git_oid *tip, struct pi_read *pr)
{
	git_odb *odb;
	int exists, rc;

	if (git_oid_equal(tip, &pr->since))
		return 1;
	rc = git_repository_odb(&odb, repo);
	if (rc < 0)
		return rc;
	exists = git_odb_exists(odb, &pr->since);
	git_odb_free(odb);
	if (!exists)
		return 0;
	return git_graph_descendant_of(repo, tip, &pr->since);
}

/*
 * Hands blob "m" of commit id to the callback, if the commit has one.
 * Returns 0, the callback's value, or PQ_EGIT.
 */
static int pi_deliver(git_repository *repo, const char *path, const git_oid *id, struct pi_read *pr)
{
	char cursor[GIT_OID_HEXSZ + 4];
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	const git_tree_entry *te;
	int rc = 0;

	if (git_commit_lookup(&commit, repo, id) < 0 || git_commit_tree(&tree, commit) < 0)
		goto git_fail;
	te = git_tree_entry_byname(tree, "m");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB)
		goto out; /* a deletion ("d") or some other commit */
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(te)) < 0)
		goto git_fail;
	memcpy(cursor, "pi:", 3);
	git_oid_tostr(cursor + 3, sizeof(cursor) - 3, id);
	rc = pr->cb(pr->ctx, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), cursor);
	goto out;

git_fail:
	rc = pi_git_error(path);
out:
	git_blob_free(blob);
	git_tree_free(tree);
	git_commit_free(commit);
	return rc;
}

/* Reads one repository (one epoch). */
static int pi_read_repo(const char *path, struct pi_read *pr)
{
	git_repository *repo = NULL;
	git_revwalk *walk = NULL;
	git_oid tip, id;
	bool hide = false;
	int rc, has;

	if (git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return pi_git_error(path);
	rc = pi_find_tip(repo, &tip);
	if (rc == GIT_ENOTFOUND) {
		rc = 0; /* no commits yet */
		goto out;
	}
	if (rc < 0)
		goto git_fail;
	if (pr->has_since && !pr->since_found) {
		has = pi_has_since(repo, &tip, pr);
		if (has < 0)
			goto git_fail;
		if (!has)
			goto out; /* an epoch wholly before since */
		pr->since_found = true;
		if (git_oid_equal(&tip, &pr->since))
			goto out;
		hide = true;
	}

	if (git_revwalk_new(&walk, repo) < 0 ||
	    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) < 0 ||
	    git_revwalk_push(walk, &tip) < 0)
		goto git_fail;
	/* public-inbox history is linear: "after since" is "not below since" */
	if (hide && git_revwalk_hide(walk, &pr->since) < 0)
		goto git_fail;
	while ((rc = git_revwalk_next(&id, walk)) == 0) {
		rc = pi_deliver(repo, path, &id, pr);
		if (rc != 0)
			goto out;
	}
	if (rc == GIT_ITEROVER) {
		rc = 0;
		goto out;
	}

git_fail:
	rc = pi_git_error(path);
out:
	git_revwalk_free(walk);
	git_repository_free(repo);
	return rc;
}

struct pi_epoch {
	unsigned long n;
	char *path;
};

static int pi_epoch_cmp(const void *a, const void *b)
{
	const struct pi_epoch *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

/* Whether name is an epoch directory name, N.git. */
static bool pi_is_epoch_name(const char *name)
{
	const char *p = name;

	while (isdigit((unsigned char)*p))
		p++;
	return p > name && strcmp(p, ".git") == 0;
}

/* The git/N.git epochs of a v2 inbox in numeric order; none if not v2. */
static int pi_list_epochs(const char *path, struct pi_epoch **list, size_t *n)
{
	struct pq_buf dir = PQ_BUF_INIT, p = PQ_BUF_INIT;
	struct dirent *de;
	size_t alloc = 0;
	DIR *d;
	int rc = 0;

	*list = NULL;
	*n = 0;
	pq_buf_addf(&dir, "%s/git", path);
	d = opendir(dir.ptr);
	if (!d) {
		pq_buf_free(&dir);
		return 0;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!pi_is_epoch_name(de->d_name))
			continue;
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 8;
			*list = pq_reallocarray(*list, alloc, sizeof(**list));
		}
		pq_buf_addf(&p, "%s/%s", dir.ptr, de->d_name);
		(*list)[*n].n = strtoul(de->d_name, NULL, 10);
		(*list)[*n].path = pq_buf_detach(&p);
		(*n)++;
	}
	if (errno)
		rc = pq_error_set(PQ_EIO, "%s: %s", dir.ptr, strerror(errno));
	closedir(d);
	pq_buf_free(&dir);
	if (*n > 1)
		qsort(*list, *n, sizeof(**list), pi_epoch_cmp);
	return rc;
}

int pq_pi_read(const char *path, const char *since, pq_mbox_cb cb, void *ctx)
{
	struct pi_read pr = { .cb = cb, .ctx = ctx };
	struct pi_epoch *epochs = NULL;
	size_t n = 0, i;
	int rc;

	if (since && strncmp(since, "pi:", 3) == 0)
		since += 3;
	if (since && *since) {
		if (strlen(since) != GIT_OID_HEXSZ || git_oid_fromstr(&pr.since, since) < 0)
			return pq_error_set(PQ_EINVAL, "%s: bad commit id \"%s\"", path, since);
		pr.has_since = true;
	}

	git_libgit2_init();
	rc = pi_list_epochs(path, &epochs, &n);
	if (rc == 0 && n == 0)
		rc = pi_read_repo(path, &pr);
	for (i = 0; i < n && rc == 0; i++)
		rc = pi_read_repo(epochs[i].path, &pr);
	if (rc == 0 && pr.has_since && !pr.since_found)
		rc = pq_error_set(PQ_ENOTFOUND, "%s: commit %s is not in the history", path, since);
	for (i = 0; i < n; i++)
		free(epochs[i].path);
	free(epochs);
	git_libgit2_shutdown();
	return rc;
}
