/*
 * replay: libgit2's own history, v1.3.0..v1.9.0, mail by mail through the
 * code patchqd runs, each resulting tree compared with the one `git am`
 * made (corpus/replay, see the corpus README, "The replay case").
 *
 * A bare repository is cloned from the base bundle and configured as one
 * queue. Each of the 1,050 `git format-patch` mails is its own series:
 * its "[PATCH nnnn/1050]" becomes "[PATCH]" and it gets a Message-ID,
 * then it is ingested (ingest.h) into a real database and applied to the
 * queue with pq_apply_series(), as `patchq apply` and the daemon's triage
 * do. The queue's tree after patch n must be EXPECT.tsv's tree n.
 *
 * Where it is not (or the patch is refused), the failure names the patch
 * and the first path where patchq's tree and git's differ (git's tree
 * comes from `git mailinfo` and `git apply --cached` on the tree before
 * the patch); then the queue is set to git's tree so that every later
 * patch is judged on its own.
 *
 *   replay CORPUS_DIR [COUNT]      (or PATCHQ_REPLAY_COUNT=N in the environment)
 *
 * applies the first COUNT patches (all by default: a sanitizer build runs
 * a prefix, see tests/corpus/meson.build). Exits 77 when the corpus is
 * absent, 1 when a tree differs. The last line says how many trees are git's.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "alloc.h"
#include "apply.h"
#include "buf.h"
#include "config.h"
#include "error.h"
#include "ingest.h"
#include "mbox.h"
#include "repo.h"
#include "store.h"

#define STEM "replay/libgit2-1.3-1.9"
#define QUEUE "replay"

struct expect {
	char *commit;
	char *tree;
	char *subject;
};

struct mails {
	char **raw;
	size_t *len;
	size_t n, cap;
};

static char work[] = "/tmp/pq-replay-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Runs the shell command cmd; its exit status, -1 when it did not exit. */
static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The stdout of the shell command cmd, trailing newlines removed. */
static char *sh_out(const char *cmd)
{
	struct pq_buf res = PQ_BUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f = popen(cmd, "r");

	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&res, chunk, n);
	if (f)
		pclose(f);
	pq_buf_rtrim(&res);
	return pq_buf_detach(&res);
}

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(data, 1, len, f) == len;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

/* EXPECT.tsv: "n, commit, tree, subject" after a header line; rows in order from 1. */
static size_t read_expect(const char *path, struct expect **out)
{
	struct expect *e = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while ((len = getline(&line, &lcap, f)) > 0) {
		char *fields[4], *p = line, *tab;
		int i;

		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		for (i = 0; i < 4; i++) {
			fields[i] = p;
			tab = i < 3 ? strchr(p, '\t') : NULL;
			if (i < 3 && !tab)
				break;
			if (tab) {
				*tab = '\0';
				p = tab + 1;
			}
		}
		if (i < 4 || strtoul(fields[0], NULL, 10) != n + 1)
			continue; /* the header */
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			e = pq_realloc(e, cap * sizeof(*e));
		}
		e[n].commit = pq_strdup(fields[1]);
		e[n].tree = pq_strdup(fields[2]);
		e[n].subject = pq_strdup(fields[3]);
		n++;
	}
	free(line);
	fclose(f);
	*out = e;
	return n;
}

static int on_mail(void *ctx, const char *raw, size_t len, const char *cursor)
{
	struct mails *m = ctx;

	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->raw = pq_realloc(m->raw, m->cap * sizeof(*m->raw));
		m->len = pq_realloc(m->len, m->cap * sizeof(*m->len));
	}
	m->raw[m->n] = pq_strndup(raw, len);
	m->len[m->n] = len;
	m->n++;
	return 0;
}

/*
 * Mail n as its own one-patch series: a Message-ID, and the subject's
 * "[PATCH nnnn/1050]" as "[PATCH]" (unthreaded mails numbered out of
 * 1,050 would otherwise wait for each other as one series).
 */
static void own_series(struct pq_buf *out, const char *raw, size_t len, size_t n)
{
	const char *subj = NULL, *p, *end = raw + len;

	for (p = raw; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (p == nl)
			break; /* end of the header */
		if ((size_t)(end - p) > 9 && !memcmp(p, "Subject: ", 9)) {
			subj = p + 9;
			break;
		}
		p = nl ? nl + 1 : end;
	}
	pq_buf_reset(out);
	pq_buf_addf(out, "Message-ID: <replay-%04zu@patchq.invalid>\n", n);
	if (subj && !memcmp(subj, "[PATCH ", 7) && (p = memchr(subj, ']', (size_t)(end - subj)))) {
		pq_buf_add(out, raw, (size_t)(subj - raw));
		pq_buf_adds(out, "[PATCH");
		pq_buf_add(out, p, (size_t)(end - p));
	} else {
		pq_buf_add(out, raw, len);
	}
}

static long long series_of(struct pq_store *s, size_t n)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT series_id FROM message WHERE msgid = ?");
	char msgid[64];
	long long id = 0;

	if (!st)
		return 0;
	snprintf(msgid, sizeof(msgid), "replay-%04zu@patchq.invalid", n);
	pq_store_bind_text(st, 1, msgid);
	if (pq_store_scalar(s, st, &id) < 0)
		return 0;
	return id;
}

/* The tree of the queue's tip into out (hex), "" when there is none. */
static void tip_tree(git_repository *repo, char out[41])
{
	git_oid id;
	git_commit *c = NULL;

	out[0] = '\0';
	if (git_reference_name_to_id(&id, repo, "refs/heads/" QUEUE) == 0 &&
	    git_commit_lookup(&c, repo, &id) == 0)
		git_oid_tostr(out, 41, git_commit_tree_id(c));
	git_commit_free(c);
}

/*
 * git's tree for mail n: `git mailinfo` and `git apply --cached` on an
 * index of prev (a tree id), as `git am` does. NULL with git's message
 * in why when git refuses.
 */
static char *git_tree_for(const char *repo, const char *mail, size_t len, const char *prev,
			  struct pq_buf *why)
{
	struct pq_buf cmd = PQ_BUF_INIT, path = PQ_BUF_INIT;
	char *tree = NULL, *err;

	pq_buf_addf(&path, "%s/mail", work);
	if (write_file(path.ptr, mail, len) < 0) {
		pq_buf_adds(why, "cannot write the mail");
		goto out;
	}
	pq_buf_addf(&cmd,
		    "cd %s && rm -f index && export GIT_DIR='%s' GIT_INDEX_FILE=%s/index && "
		    "git read-tree %s && git mailinfo msg patch <mail >info && "
		    "git apply --cached patch 2>err && git write-tree",
		    work, repo, work, prev);
	tree = sh_out(cmd.ptr);
	if (strlen(tree) != 40) {
		free(tree);
		tree = NULL;
		pq_buf_reset(&cmd);
		pq_buf_addf(&cmd, "cat %s/err", work);
		err = sh_out(cmd.ptr);
		pq_buf_addf(why, "git refuses it too: %s", err);
		free(err);
	}
out:
	pq_buf_free(&cmd);
	pq_buf_free(&path);
	return tree;
}

/* Describes an entry of a diff side: "MODE ID" or "absent". */
static void side(struct pq_buf *b, const git_diff_file *f)
{
	char hex[41];

	if (!(f->flags & GIT_DIFF_FLAG_EXISTS) || !f->mode) {
		pq_buf_adds(b, "absent");
		return;
	}
	git_oid_tostr(hex, sizeof(hex), &f->id);
	pq_buf_addf(b, "%06o %.12s", f->mode, hex);
}

/* The first path where trees ours and theirs differ, with both sides. */
static void first_difference(git_repository *repo, const char *ours, const char *theirs,
			     struct pq_buf *out)
{
	git_diff_options o;
	git_tree *a = NULL, *b = NULL;
	git_diff *d = NULL;
	git_oid ia, ib;

	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	o.flags |= GIT_DIFF_INCLUDE_TYPECHANGE;
	if (git_oid_fromstr(&ia, ours) < 0 || git_oid_fromstr(&ib, theirs) < 0 ||
	    git_tree_lookup(&a, repo, &ia) < 0 || git_tree_lookup(&b, repo, &ib) < 0 ||
	    git_diff_tree_to_tree(&d, repo, a, b, &o) < 0) {
		pq_buf_addf(out, "cannot compare the trees: %s", pq_repo_git_error());
	} else if (!git_diff_num_deltas(d)) {
		pq_buf_adds(out, "no path differs");
	} else {
		const git_diff_delta *dd = git_diff_get_delta(d, 0);

		pq_buf_addf(out, "first differing path %s: patchq ",
			    dd->old_file.path ? dd->old_file.path : dd->new_file.path);
		side(out, &dd->old_file);
		pq_buf_adds(out, ", git ");
		side(out, &dd->new_file);
		if (git_diff_num_deltas(d) > 1)
			pq_buf_addf(out, " (%zu paths differ)", git_diff_num_deltas(d));
	}
	git_diff_free(d);
	git_tree_free(a);
	git_tree_free(b);
}

/* Points the queue at a commit of tree (git's), on its current tip when it has one. */
static int reset_queue(const char *repo, const char *tree)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	int rc;

	pq_buf_addf(&cmd,
		    "export GIT_DIR='%s' && p=$(git rev-parse -q --verify refs/heads/" QUEUE
		    " || git rev-parse base) && c=$(echo resync | GIT_AUTHOR_NAME=r "
		    "GIT_AUTHOR_EMAIL=r@x GIT_COMMITTER_NAME=r GIT_COMMITTER_EMAIL=r@x "
		    "git commit-tree %s -p $p) && git update-ref refs/heads/" QUEUE " $c",
		    repo, tree);
	rc = sh(cmd.ptr);
	pq_buf_free(&cmd);
	return rc;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct pq_buf path = PQ_BUF_INIT, cmd = PQ_BUF_INIT, mail = PQ_BUF_INIT,
		      report = PQ_BUF_INIT;
	struct mails m = { 0 };
	struct expect *ex = NULL;
	struct pq_config *conf = NULL;
	struct pq_store *store = NULL;
	struct pq_repo *repo = NULL;
	struct pq_ingest *ig = NULL;
	const char *corpus = argc > 1 ? argv[1] : NULL;
	const char *count_s = argc > 2 ? argv[2] : getenv("PATCHQ_REPLAY_COUNT");
	char *data = NULL, *repo_dir = NULL, *base_tree = NULL;
	size_t nexpect, count, i, equal = 0, by_git = 0;
	double t0 = now();
	int rc = 1;

	if (!corpus) {
		fprintf(stderr, "usage: replay CORPUS_DIR [COUNT]\n");
		return 2;
	}
	pq_buf_addf(&path, "%s/" STEM ".EXPECT.tsv", corpus);
	if (!exists(path.ptr)) {
		printf("replay: no corpus at %s: skipped\n", corpus);
		return 77;
	}
	nexpect = read_expect(path.ptr, &ex);
	count = count_s && *count_s ? strtoul(count_s, NULL, 10) : nexpect;
	if (!count || count > nexpect)
		count = nexpect;

	pq_buf_reset(&path);
	pq_buf_addf(&path, "zstd -dc <'%s/" STEM ".mbox.zst'", corpus);
	data = sh_out(path.ptr);
	if (pq_mbox_split(data, strlen(data), on_mail, &m) != 0 || m.n != nexpect) {
		fprintf(stderr, "replay: %zu mails for %zu expected trees\n", m.n, nexpect);
		goto out;
	}
	free(data);
	data = NULL;

	if (!mkdtemp(work)) {
		perror("mkdtemp");
		goto out;
	}
	pq_buf_reset(&path);
	pq_buf_addf(&path, "%s/repo.git", work);
	repo_dir = pq_buf_detach(&path);
	pq_buf_addf(&cmd, "git clone -q --bare '%s/" STEM ".base.bundle' %s", corpus, repo_dir);
	if (sh(cmd.ptr) != 0) {
		fprintf(stderr, "replay: cannot clone the base bundle\n");
		goto out;
	}
	pq_buf_reset(&cmd);
	pq_buf_addf(&cmd, "git --git-dir=%s rev-parse base^{tree}", repo_dir);
	base_tree = sh_out(cmd.ptr);
	pq_buf_addf(&path, "%s/patchq.conf", work);
	pq_buf_reset(&cmd);
	pq_buf_addf(&cmd, "[patchq]\n\tdatabase = patchq.db\n\trepository = repo.git\n"
			  "\tcommitter = Replay <replay@patchq.invalid>\n\tsignoff = false\n"
			  "[queue \"" QUEUE "\"]\n\tbranch = " QUEUE
			  "\n\tbase = base\n\treply = false\n");
	if (write_file(path.ptr, cmd.ptr, cmd.len) < 0 || pq_config_load(&conf, path.ptr) < 0 ||
	    pq_store_open(&store, conf->database) < 0 ||
	    pq_repo_open(&repo, conf->repository) < 0 ||
	    pq_ingest_new(&ig, store, "replay", 1, NULL) < 0) {
		fprintf(stderr, "replay: %s\n", pq_error_last());
		goto out;
	}

	for (i = 0; i < count; i++) {
		struct pq_buf why = PQ_BUF_INIT;
		const char *prev = i ? ex[i - 1].tree : base_tree;
		char tree[41], *gtree = NULL;
		long long sid;
		int ret;

		own_series(&mail, m.raw[i], m.len[i], i + 1);
		if (pq_ingest_message(ig, mail.ptr, mail.len, NULL) < 0 ||
		    pq_ingest_flush(ig) < 0 || !(sid = series_of(store, i + 1))) {
			fprintf(stderr, "replay: cannot ingest mail %zu: %s\n", i + 1,
				pq_error_last());
			goto out;
		}
		pq_buf_reset(&report);
		ret = pq_apply_series(store, conf, repo, sid, QUEUE, 0, &report);
		tip_tree(pq_repo_git(repo), tree);
		if (ret == 0 && strstr(report.ptr, "(git apply)"))
			by_git++;
		if (ret == 0 && !strcmp(tree, ex[i].tree)) {
			equal++;
			continue;
		}
		printf("FAIL %04zu %s\n", i + 1, ex[i].subject);
		if (ret < 0)
			printf("     patchq refuses it: %s\n", pq_error_last());
		gtree = git_tree_for(repo_dir, m.raw[i], m.len[i], prev, &why);
		if (!gtree) {
			printf("     %s\n", why.ptr);
		} else {
			if (strcmp(gtree, ex[i].tree))
				printf("     git apply --cached gives %.12s, not the expected %.12s\n",
				       gtree, ex[i].tree);
			if (ret == 0) {
				pq_buf_reset(&why);
				first_difference(pq_repo_git(repo), tree, gtree, &why);
				printf("     %s\n", why.ptr);
			}
			if (reset_queue(repo_dir, gtree) != 0) {
				fprintf(stderr, "replay: cannot reset the queue\n");
				free(gtree);
				pq_buf_free(&why);
				goto out;
			}
		}
		free(gtree);
		pq_buf_free(&why);
		fflush(stdout);
	}
	rc = equal == count ? 0 : 1;
	printf("replay: %zu patches applied in %.1f s, %zu through git apply\n", count, now() - t0,
	       by_git);
	printf("replay: %zu of %zu trees equal git's\n", equal, count);
out:
	if (ig)
		pq_ingest_free(ig);
	pq_repo_free(repo);
	if (store)
		pq_store_close(store);
	pq_config_free(conf);
	if (strcmp(work + strlen(work) - 6, "XXXXXX") && !getenv("PATCHQ_REPLAY_KEEP"))
		nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	for (i = 0; i < m.n; i++)
		free(m.raw[i]);
	free(m.raw);
	free(m.len);
	for (i = 0; i < nexpect; i++) {
		free(ex[i].commit);
		free(ex[i].tree);
		free(ex[i].subject);
	}
	free(ex);
	free(data);
	free(repo_dir);
	free(base_tree);
	pq_buf_free(&path);
	pq_buf_free(&cmd);
	pq_buf_free(&mail);
	pq_buf_free(&report);
	return rc;
}
