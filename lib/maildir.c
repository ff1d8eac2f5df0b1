/* maildir: the message files of a maildir (see maildir.h). */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "mbox.h"

static const char *const maildir_subs[] = { "cur", "new" }; /* by in_new */

size_t pq_maildir_unique_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon ? (size_t)(colon - name) : strlen(name);
}

/* strcmp() of the unique parts of a and b (b a unique name or a file name). */
static int unique_cmp(const char *a, const char *b)
{
	size_t la = pq_maildir_unique_len(a), lb = pq_maildir_unique_len(b);
	int c = memcmp(a, b, la < lb ? la : lb);

	return c ? c : (la > lb) - (la < lb);
}

static int file_cmp(const void *x, const void *y)
{
	const struct pq_maildir_file *a = x, *b = y;
	int c = unique_cmp(a->name, b->name);

	if (c)
		return c;
	if (a->in_new != b->in_new)
		return b->in_new - a->in_new;
	return strcmp(a->name, b->name);
}

/* Appends the entries of new/ or cur/ to out; a missing directory is no error. */
static int list_sub(struct pq_maildir_list *out, const char *dir, int in_new, const char *after,
		    int *seen)
{
	struct pq_buf path = PQ_BUF_INIT;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	pq_buf_addf(&path, "%s/%s", dir, maildir_subs[in_new]);
	d = opendir(path.ptr);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = pq_error_set(PQ_EIO, "%s: %s", path.ptr, strerror(errno));
		pq_buf_free(&path);
		return rc;
	}
	*seen = 1;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!in_new && after && *after && unique_cmp(de->d_name, after) <= 0)
			continue;
		if (out->n == out->alloc) {
			out->alloc = out->alloc ? out->alloc * 2 : 64;
			out->v = pq_reallocarray(out->v, out->alloc, sizeof(*out->v));
		}
		out->v[out->n].name = pq_strdup(de->d_name);
		out->v[out->n].in_new = in_new;
		out->n++;
	}
	if (errno)
		rc = pq_error_set(PQ_EIO, "%s: %s", path.ptr, strerror(errno));
	closedir(d);
	pq_buf_free(&path);
	return rc;
}

int pq_maildir_list(struct pq_maildir_list *out, const char *dir, const char *cur_after)
{
	int seen = 0, rc;

	rc = list_sub(out, dir, 1, NULL, &seen);
	if (rc == 0)
		rc = list_sub(out, dir, 0, cur_after, &seen);
	if (rc == 0 && !seen)
		rc = pq_error_set(PQ_EIO, "%s: not a maildir (no new/ or cur/)", dir);
	if (rc == 0 && out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), file_cmp);
	return rc;
}

void pq_maildir_list_free(struct pq_maildir_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

int pq_maildir_load(const char *dir, const struct pq_maildir_file *f, struct pq_buf *b,
		    const char **raw, size_t *len)
{
	struct pq_buf path = PQ_BUF_INIT;
	const char *nl;
	struct stat st;
	int fd, rc = 0;

	pq_buf_reset(b);
	*raw = "";
	*len = 0;
	pq_buf_addf(&path, "%s/%s/%s", dir, maildir_subs[f->in_new], f->name);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path.ptr, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		/* gone, or a socket (ENXIO): no message either way */
		if (errno == ENOENT || errno == ENXIO)
			rc = 1;
		else
			rc = pq_error_set(PQ_EIO, "%s: %s", path.ptr, strerror(errno));
		pq_buf_free(&path);
		return rc;
	}
	if (fstat(fd, &st) < 0)
		rc = pq_error_set(PQ_EIO, "%s: %s", path.ptr, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = 1;
	if (rc == 0 && S_ISREG(st.st_mode)) {
		pq_buf_grow(b, (size_t)st.st_size + 1); /* one allocation for most files */
		if (pq_buf_read_fd(b, fd) < 0)
			rc = pq_error_set(PQ_EIO, "%s: %s", path.ptr, strerror(errno));
	}
	close(fd);
	pq_buf_free(&path);
	if (rc)
		return rc;

	*raw = b->ptr ? b->ptr : "";
	*len = b->len;
	nl = *len ? memchr(*raw, '\n', *len) : NULL;
	if (*len && pq_mbox_is_from_line(*raw, nl ? (size_t)(nl - *raw) : *len)) {
		*len = nl ? *len - (size_t)(nl + 1 - *raw) : 0;
		*raw = nl ? nl + 1 : *raw + b->len;
	}
	return 0;
}

int pq_maildir_claim(const char *dir, const struct pq_maildir_file *f)
{
	struct pq_buf from = PQ_BUF_INIT, to = PQ_BUF_INIT;
	int rc = 0;

	if (!f->in_new)
		return 0;
	pq_buf_addf(&from, "%s/new/%s", dir, f->name);
	pq_buf_addf(&to, "%s/cur/%s%s", dir, f->name, strchr(f->name, ':') ? "" : ":2,");
	if (rename(from.ptr, to.ptr) < 0) {
		if (errno == ENOENT && access(from.ptr, F_OK) < 0)
			rc = 1;
		else
			rc = pq_error_set(PQ_EIO, "cannot move %s to cur/: %s", f->name,
					  strerror(errno));
	}
	pq_buf_free(&from);
	pq_buf_free(&to);
	return rc;
}
