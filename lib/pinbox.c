/*
 * pinbox: public-inbox archives read on top of libgit2 (see pinbox.h).
 *
 * Each commit of an inbox adds one message as blob "m" (or removes one,
 * "d"); the history is linear and append-only, so a commit id is an exact
 * position to go on from.
 */
#include "pinbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "repo.h"

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

	pq_repo_init();
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
	return rc;
}
