/* repo: the queue repository and libgit2's lifetime (see repo.h). */
#include "repo.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "packbuf.h"

struct pq_repo {
	git_repository *git;
	struct pq_packbuf *pb; /* owned by git's object database */
	char *path;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
	git_libgit2_init();
	/* the trees and commits patchq writes refer to objects just made or read */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
}

void pq_repo_init(void)
{
	pthread_once(&init_once, init);
}

const char *pq_repo_git_error(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

int pq_repo_open(struct pq_repo **out, const char *path)
{
	git_repository *git = NULL;

	*out = NULL;
	if (!path)
		return pq_error_set(PQ_EINVAL, "no repository configured");
	pq_repo_init();
	if (git_repository_open_ext(&git, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return pq_error_set(PQ_EIO, "cannot open repository %s: %s", path,
				    pq_repo_git_error());
	*out = pq_calloc(1, sizeof(**out));
	(*out)->git = git;
	(*out)->path = pq_strdup(path);
	if (pq_packbuf_attach(&(*out)->pb, git) < 0) {
		pq_repo_free(*out);
		*out = NULL;
		return PQ_EGIT;
	}
	return 0;
}

void pq_repo_free(struct pq_repo *r)
{
	if (!r)
		return;
	git_repository_free(r->git);
	free(r->path);
	free(r);
}

const char *pq_repo_path(const struct pq_repo *r)
{
	return r->path;
}

struct git_repository *pq_repo_git(struct pq_repo *r)
{
	return r->git;
}

struct pq_packbuf *pq_repo_packbuf(struct pq_repo *r)
{
	return r->pb;
}

int pq_repo_tip(struct pq_repo *r, const char *branch, char tip[41])
{
	struct pq_buf refname = PQ_BUF_INIT;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	int rc;

	tip[0] = '\0';
	if (!branch)
		return pq_error_set(PQ_EINVAL, "queue tip: no branch");
	if (strncmp(branch, "refs/", 5))
		pq_buf_adds(&refname, "refs/heads/");
	pq_buf_adds(&refname, branch);
	rc = git_reference_lookup(&ref, r->git, refname.ptr);
	if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) {
		rc = pq_error_set(PQ_ENOTFOUND, "no branch %s in %s", branch, r->path);
		goto out;
	}
	if (rc < 0 || git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0) {
		rc = pq_error_set(PQ_EGIT, "cannot read %s in %s: %s", refname.ptr, r->path,
				  pq_repo_git_error());
		goto out;
	}
	git_oid_tostr(tip, 41, git_object_id(obj));
	rc = 0;
out:
	git_object_free(obj);
	git_reference_free(ref);
	pq_buf_free(&refname);
	return rc;
}

int pq_repo_contains(struct pq_repo *r, const char *branch, const char *rev)
{
	git_object *obj = NULL, *commit = NULL;
	git_oid tip;
	char hex[41];
	int rc = pq_repo_tip(r, branch, hex);

	if (rc == PQ_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	git_oid_fromstr(&tip, hex);
	rc = git_revparse_single(&obj, r->git, rev);
	if (rc == GIT_ENOTFOUND || rc == GIT_EAMBIGUOUS || rc == GIT_EINVALIDSPEC) {
		rc = 0; /* a commit this repository never saw is on no branch of it */
		goto out;
	}
	if (rc < 0 || git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		rc = rc < 0 ? pq_error_set(PQ_EGIT, "cannot look up %s in %s: %s", rev, r->path,
					   pq_repo_git_error())
			    : 0; /* not a commit: fixes nothing */
		goto out;
	}
	rc = git_oid_equal(&tip, git_object_id(commit));
	if (!rc) {
		rc = git_graph_descendant_of(r->git, &tip, git_object_id(commit));
		if (rc < 0)
			rc = pq_error_set(PQ_EGIT, "cannot walk %s in %s: %s", branch, r->path,
					  pq_repo_git_error());
	}
out:
	git_object_free(commit);
	git_object_free(obj);
	return rc;
}

/* A kernel version tag: "vX.Y" (rc 0) or "vX.Y-rcN"; 1 when name is one. */
static int parse_version_tag(const char *name, int *major, int *minor, int *rc)
{
	char tail[2];
	int n = 0;

	*rc = 0;
	if (sscanf(name, "v%9d.%9d%n", major, minor, &n) != 2 || *major < 0 || *minor < 0 ||
	    !isdigit((unsigned char)name[1]))
		return 0;
	if (!name[n])
		return 1;
	return sscanf(name + n, "-rc%9d%1s", rc, tail) == 1 && *rc > 0 &&
	       !strncmp(name + n, "-rc", 3) && isdigit((unsigned char)name[n + 3]);
}

struct release {
	int major, minor;
	const char *name;
};

static int release_newer_first(const void *a, const void *b)
{
	const struct release *x = a, *y = b;

	if (x->major != y->major)
		return x->major < y->major ? 1 : -1;
	return x->minor < y->minor ? 1 : x->minor > y->minor ? -1 : 0;
}

int pq_repo_merge_window(struct pq_repo *r, const char *branch, struct pq_buf *why)
{
	git_strarray tags = { NULL, 0 };
	struct release *rel = NULL;
	git_object *obj = NULL;
	git_oid tip;
	char hex[41];
	size_t i, n = 0;
	int rc, major, minor, rcn, open = 0;

	if ((rc = pq_repo_tip(r, branch, hex)) < 0)
		return rc;
	git_oid_fromstr(&tip, hex);
	if (git_tag_list_match(&tags, "v*", r->git) < 0)
		return pq_error_set(PQ_EGIT, "cannot list the tags of %s: %s", r->path,
				    pq_repo_git_error());
	rel = pq_calloc(tags.count ? tags.count : 1, sizeof(*rel));
	for (i = 0; i < tags.count; i++)
		if (parse_version_tag(tags.strings[i], &major, &minor, &rcn) && !rcn)
			rel[n++] = (struct release){ major, minor, tags.strings[i] };
	qsort(rel, n, sizeof(*rel), release_newer_first);
	/* the newest release on the branch */
	for (i = 0, rc = 0; i < n && !rc; i++) {
		struct pq_buf spec = PQ_BUF_INIT;

		pq_buf_addf(&spec, "refs/tags/%s^{commit}", rel[i].name);
		rc = git_revparse_single(&obj, r->git, pq_buf_str(&spec));
		pq_buf_free(&spec);
		if (rc < 0) { /* a tag of something that is no commit: not a release */
			rc = 0;
			continue;
		}
		rc = git_oid_equal(&tip, git_object_id(obj)) ||
		     git_graph_descendant_of(r->git, &tip, git_object_id(obj));
		git_object_free(obj);
		obj = NULL;
		if (rc < 0) {
			rc = pq_error_set(PQ_EGIT, "cannot walk %s in %s: %s", branch, r->path,
					  pq_repo_git_error());
			goto out;
		}
	}
	if (!rc)
		goto out; /* no release on it: nothing to wait for */
	major = rel[i - 1].major;
	minor = rel[i - 1].minor;
	open = 1;
	/* its next -rc1 anywhere in the repository closes the window */
	for (i = 0; i < tags.count && open; i++) {
		int ma, mi, rn;

		if (parse_version_tag(tags.strings[i], &ma, &mi, &rn) && rn == 1 &&
		    ((ma == major && mi == minor + 1) || (ma == major + 1 && mi == 0)))
			open = 0;
	}
	if (open && why)
		pq_buf_addf(why, "v%d.%d tagged, no v%d.%d-rc1 yet", major, minor, major,
			    minor + 1);
	rc = open;
out:
	free(rel);
	git_strarray_dispose(&tags);
	return rc;
}
