/*
 * push: the queue branches to the tree's public repository (see push.h).
 *
 * The URL is found as git finds it (pushurl, url, pushInsteadOf, insteadOf)
 * and the refs are pushed with libgit2; only a rebuilt queue is forced.
 */
#include "push.h"

#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

/* What the remote said of each ref it was asked to update. */
struct push_state {
	struct pq_buf rejected;
};

static int on_push_update(const char *refname, const char *status, void *payload)
{
	struct push_state *ps = payload;

	if (status) {
		if (ps->rejected.len)
			pq_buf_adds(&ps->rejected, "; ");
		pq_buf_addf(&ps->rejected, "%s: %s", refname, status);
	}
	return 0;
}

/*
 * Rewrites url by the longest matching url.<base>.<key> prefix of cfg, key
 * "insteadof" or "pushinsteadof", as git does. Returns 1 when it did.
 */
static int url_rewrite(git_config *cfg, const char *key, const char *url, struct pq_buf *out)
{
	git_config_iterator *it;
	git_config_entry *e;
	size_t best = 0;
	int found = 0;

	if (git_config_iterator_new(&it, cfg) < 0)
		return 0;
	while (git_config_next(&e, it) == 0) {
		const char *dot = strrchr(e->name, '.');
		size_t len = e->value ? strlen(e->value) : 0;

		if (strncmp(e->name, "url.", 4) || dot <= e->name + 4 || strcmp(dot + 1, key) ||
		    len <= best || strncmp(url, e->value, len))
			continue;
		best = len;
		pq_buf_reset(out);
		pq_buf_add(out, e->name + 4, (size_t)(dot - e->name - 4));
		pq_buf_adds(out, url + len);
		found = 1;
	}
	git_config_iterator_free(it);
	return found;
}

/*
 * The URL git pushes to for remote_arg: a configured remote's pushurl or
 * url, else remote_arg itself, rewritten by pushInsteadOf and insteadOf.
 * (Done here rather than by git_remote_lookup(): libgit2 1.5 leaks a
 * PCRE2 match block, 20 KiB, per configuration entry when it does it.)
 */
static int push_url(git_repository *repo, const char *remote_arg, struct pq_buf *url)
{
	struct pq_buf key = PQ_BUF_INIT;
	const char *pushurl = NULL, *plain = NULL;
	git_config *cfg = NULL;
	int valid = 0;

	if (git_repository_config_snapshot(&cfg, repo) < 0)
		return pq_error_set(PQ_EGIT, "cannot read the configuration: %s",
				    pq_repo_git_error());
	if (git_remote_name_is_valid(&valid, remote_arg) == 0 && valid) {
		pq_buf_addf(&key, "remote.%s.pushurl", remote_arg);
		if (git_config_get_string(&pushurl, cfg, key.ptr) < 0)
			pushurl = NULL;
		pq_buf_reset(&key);
		pq_buf_addf(&key, "remote.%s.url", remote_arg);
		if (git_config_get_string(&plain, cfg, key.ptr) < 0)
			plain = NULL;
	}
	if (!pushurl && !plain)
		plain = remote_arg;
	if (pushurl) {
		if (!url_rewrite(cfg, "insteadof", pushurl, url))
			pq_buf_adds(url, pushurl);
	} else if (!url_rewrite(cfg, "pushinsteadof", plain, url) &&
		   !url_rewrite(cfg, "insteadof", plain, url)) {
		pq_buf_adds(url, plain);
	}
	pq_buf_free(&key);
	git_config_free(cfg);
	return 0;
}

int pq_push_branches(struct pq_repo *r, const char *remote_arg, char *const *branches, size_t n)
{
	git_repository *repo = pq_repo_git(r);
	git_push_options po;
	struct push_state ps = { PQ_BUF_INIT };
	struct pq_buf names = PQ_BUF_INIT;
	git_strarray specs = { NULL, 0 };
	git_remote_create_options co;
	struct pq_buf url = PQ_BUF_INIT;
	git_remote *remote = NULL;
	size_t i;
	int rc;

	if (!remote_arg || (n && !branches))
		return pq_error_set(PQ_EINVAL, "push: missing remote or branches");
	if (!n)
		return 0;
	rc = push_url(repo, remote_arg, &url);
	if (rc < 0)
		return rc;
	git_remote_create_options_init(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	co.repository = repo;
	co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url.ptr, &co) < 0) {
		rc = pq_error_set(PQ_ENOTFOUND, "no remote or URL \"%s\": %s", remote_arg,
				  pq_repo_git_error());
		pq_buf_free(&url);
		return rc;
	}
	pq_buf_free(&url);
	specs.strings = pq_calloc(n ? n : 1, sizeof(*specs.strings));
	for (i = 0; i < n; i++) {
		struct pq_buf spec = PQ_BUF_INIT;
		const char *branch = branches[i] + (branches[i][0] == '+');
		char tip[41];

		rc = pq_repo_tip(r, branch, tip);
		if (rc == PQ_ENOTFOUND)
			rc = pq_error_set(PQ_ENOTFOUND, "no branch %s to push", branch);
		if (rc < 0)
			goto out;
		/* "+": a rebuilt queue, which the remote must take rewritten */
		pq_buf_addf(&spec, "%srefs/heads/%s:refs/heads/%s",
			    branch == branches[i] ? "" : "+", branch, branch);
		specs.strings[specs.count++] = pq_buf_detach(&spec);
		pq_buf_addf(&names, "%s%s", i ? ", " : "", branches[i]);
	}
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks.push_update_reference = on_push_update;
	po.callbacks.payload = &ps;
	rc = git_remote_push(remote, &specs, &po);
	if (rc == GIT_ENONFASTFORWARD)
		rc = pq_error_set(PQ_EGIT, "push of %s to %s refused: not a fast-forward (%s)",
				  names.ptr, remote_arg, pq_repo_git_error());
	else if (rc < 0)
		rc = pq_error_set(PQ_EGIT, "push of %s to %s failed: %s", names.ptr, remote_arg,
				  pq_repo_git_error());
	else if (ps.rejected.len)
		rc = pq_error_set(PQ_EGIT, "%s rejected the push: %s", remote_arg, ps.rejected.ptr);
out:
	for (i = 0; i < specs.count; i++)
		free(specs.strings[i]);
	free(specs.strings);
	pq_buf_free(&names);
	pq_buf_free(&ps.rejected);
	git_remote_free(remote);
	return rc;
}

int pq_push_queues(struct pq_repo *r, const struct pq_config *c, const char *remote, size_t *pushed)
{
	char **branches = pq_calloc(c->nqueues ? c->nqueues : 1, sizeof(*branches));
	size_t i, n = 0;
	int rc;

	for (i = 0; i < c->nqueues; i++) {
		const struct pq_queue_conf *q = &c->queues[i];
		struct pq_buf b = PQ_BUF_INIT;

		if (q->frozen)
			continue;
		/* a rebuilt queue is rewritten by design: the remote takes it forced */
		pq_buf_addf(&b, "%s%s", q->rebuild ? "+" : "", q->branch);
		branches[n++] = pq_buf_detach(&b);
	}
	rc = pq_push_branches(r, remote, branches, n);
	for (i = 0; i < n; i++)
		free(branches[i]);
	free(branches);
	*pushed = rc == 0 ? n : 0;
	return rc;
}
