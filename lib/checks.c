/*
 * checks: the configured checks on the tree a series makes (checks.h).
 */
#include "checks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "alloc.h"
#include "apply.h"
#include "dir.h"
#include "error.h"
#include "ingest.h"
#include "json.h"
#include "reply.h"
#include "run.h"
#include "series.h"
#include "state.h"
#include "stop.h"

extern char **environ;

#define OUT_MAX (1024 * 1024) /* output kept from a command */
#define TAIL_MAX 4096	      /* of it, stored */

/* What one run of a check gave. */
struct outcome {
	const char *state; /* pass, fail, timeout, error */
	int exit;	   /* -1: none */
	long long duration_ms;
	struct pq_buf output; /* the tail */
	int sandbox;
	long long ran;
	int reused;
};

/* ---- the directory patchq owns ---- */

static int make_dirs(const char *path)
{
	char *p = pq_strdup(path), *slash;
	int ret = 0;

	for (slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
		if (slash)
			*slash = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			ret = pq_error_set(PQ_EIO, "checkDir: cannot make %s: %s", p,
					   strerror(errno));
			break;
		}
		if (!slash)
			break;
		*slash = '/';
	}
	free(p);
	return ret;
}

/* The run directories ("PID.XXXXXX") of processes that are gone. */
static void remove_stale(const char *check_dir)
{
	struct pq_buf path = PQ_BUF_INIT;
	struct dirent *e;
	DIR *d = opendir(check_dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (end == e->d_name || *end != '.' || pid <= 0)
			continue;
		if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		pq_buf_reset(&path);
		pq_buf_addf(&path, "%s/%s", check_dir, e->d_name);
		pq_dir_remove(path.ptr);
	}
	closedir(d);
	pq_buf_free(&path);
}

/* ---- the tree ---- */

/* Writes the tree of commit (hex) into dir; its id into tree. Returns 0 or PQ_EGIT. */
static int materialise(struct pq_repo *repo, const char *commit, const char *dir, char tree[41])
{
	git_checkout_options o;
	git_repository *g = pq_repo_git(repo);
	git_commit *cm = NULL;
	git_tree *t = NULL;
	git_index *empty = NULL;
	git_oid oid;
	int ret = 0;

	if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&cm, g, &oid) < 0 ||
	    git_commit_tree(&t, cm) < 0) {
		ret = pq_error_set(PQ_EGIT, "commit %.12s: %s", commit, pq_repo_git_error());
		goto out;
	}
	git_oid_tostr(tree, 41, git_tree_id(t));
	git_checkout_options_init(&o, GIT_CHECKOUT_OPTIONS_VERSION);
	if (git_index_new(&empty) < 0) {
		ret = pq_error_set(PQ_EGIT, "index: %s", pq_repo_git_error());
		goto out;
	}
	o.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX |
			      GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	o.target_directory = dir;
	o.baseline_index = empty;
	if (git_checkout_tree(g, (const git_object *)t, &o) < 0)
		ret = pq_error_set(PQ_EGIT, "cannot write tree %.12s into %s: %s", tree, dir,
				   pq_repo_git_error());
out:
	git_index_free(empty);
	git_tree_free(t);
	git_commit_free(cm);
	return ret;
}

/* The tree of commit (hex) into tree, without writing it out. Returns 0 or PQ_EGIT. */
static int tree_of(struct pq_repo *repo, const char *commit, char tree[41])
{
	git_commit *cm = NULL;
	git_oid oid;

	if (git_oid_fromstr(&oid, commit) < 0 ||
	    git_commit_lookup(&cm, pq_repo_git(repo), &oid) < 0)
		return pq_error_set(PQ_EGIT, "commit %.12s: %s", commit, pq_repo_git_error());
	git_oid_tostr(tree, 41, git_commit_tree_id(cm));
	git_commit_free(cm);
	return 0;
}

/* ---- the sandbox ---- */

/* The path of prog in PATH (malloc'd) or NULL. */
static char *find_in_path(const char *prog)
{
	const char *path = getenv("PATH"), *p, *end;
	struct pq_buf b = PQ_BUF_INIT;

	for (p = path ? path : ""; *p; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		if (end == p)
			continue;
		pq_buf_reset(&b);
		pq_buf_add(&b, p, (size_t)(end - p));
		pq_buf_addf(&b, "/%s", prog);
		if (!access(b.ptr, X_OK))
			return pq_buf_detach(&b);
	}
	pq_buf_free(&b);
	return NULL;
}

/* bwrap when it is in PATH and can make its namespaces here (not in every container); else NULL, why in why. */
static char *find_sandbox(struct pq_buf *why)
{
	char *bwrap = find_in_path("bwrap");
	const char *argv[] = { bwrap,		"--ro-bind",	     "/",  "/",	   "--unshare-net",
			       "--unshare-pid", "--die-with-parent", "--", "true", NULL };
	struct pq_run_opts o = {
		.argv = argv, .out_max = 512, .err_to_out = 1, .timeout_ms = 10000
	};
	struct pq_run_result r = { 0 };

	if (!bwrap) {
		pq_buf_adds(why, "no sandbox (bwrap is not in PATH)");
		return NULL;
	}
	if (pq_run_command(&r, &o) < 0 || r.status != 0) {
		pq_buf_addf(why, "no sandbox (%s does not work here: ", bwrap);
		pq_buf_add(why, r.out.ptr ? r.out.ptr : "", r.out.len);
		pq_buf_rtrim(why);
		pq_buf_addc(why, ')');
		free(bwrap);
		bwrap = NULL;
	}
	pq_run_result_free(&r);
	return bwrap;
}

/* ---- one run ---- */

static int cancel(void)
{
	return pq_stop_requested();
}

/* Our environment's variables a check may not see, as "NAME" removals; then the check's own. */
static void make_env(char ***env, size_t *n, const char *home, const char *patch, long long id,
		     const char *queue, int index)
{
	static const char *const keep[] = { "PATH",	   "USER",	 "LOGNAME",	    "TZ",
					    "RUSTUP_HOME", "CARGO_HOME", "RUSTUP_TOOLCHAIN" };
	struct pq_buf b = PQ_BUF_INIT;
	char **e;
	size_t k;

	*n = 0;
	*env = NULL;
	for (e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);

		for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (strlen(keep[k]) == len && !strncmp(keep[k], *e, len))
				break;
		if (k < sizeof(keep) / sizeof(keep[0]))
			continue;
		*env = pq_reallocarray(*env, *n + 1, sizeof(**env));
		(*env)[(*n)++] = pq_strndup(*e, len);
	}
	*env = pq_reallocarray(*env, *n + 6, sizeof(**env));
	pq_buf_addf(&b, "HOME=%s", home);
	(*env)[(*n)++] = pq_buf_detach(&b);
	pq_buf_addf(&b, "PATCHQ_SERIES=%lld", id);
	(*env)[(*n)++] = pq_buf_detach(&b);
	pq_buf_addf(&b, "PATCHQ_QUEUE=%s", queue);
	(*env)[(*n)++] = pq_buf_detach(&b);
	if (patch) {
		pq_buf_addf(&b, "PATCHQ_PATCH=%s", patch);
		(*env)[(*n)++] = pq_buf_detach(&b);
		pq_buf_addf(&b, "PATCHQ_PATCH_INDEX=%d", index);
		(*env)[(*n)++] = pq_buf_detach(&b);
	}
	(*env)[*n] = NULL;
}

/* The last TAIL_MAX bytes of out as text: no NUL, starting on a UTF-8 character. */
static void keep_tail(struct pq_buf *tail, const struct pq_run_result *r)
{
	const char *p = r->out.ptr ? r->out.ptr : "";
	size_t start = r->out.len > TAIL_MAX ? r->out.len - TAIL_MAX : 0, at;

	while (start < r->out.len && ((unsigned char)p[start] & 0xc0) == 0x80)
		start++;
	/* a tool's words about mail's content reach terminals, the log, pages and mail */
	at = tail->len;
	pq_buf_add(tail, p + start, r->out.len - start);
	pq_buf_plain(tail, at, "\n\t");
	if (r->out_truncated)
		pq_buf_adds(tail, "\n[patchq: output past 1 MiB was dropped]\n");
	pq_buf_adds(tail, "");
}

/*
 * Runs check k in a fresh directory under run with the tree of commit;
 * patch (may be NULL) is the file for PATCHQ_PATCH. Returns 0 with *o
 * filled (state error when the tree or the command failed), 1 when a stop
 * request cut it short (nothing to store).
 */
static int run_one(struct pq_repo *repo, const struct pq_check_conf *k, const char *run,
		   const char *commit, const char *bwrap, const char *patch, long long id,
		   const char *queue, int index, struct outcome *o)
{
	struct pq_buf work = PQ_BUF_INIT;
	struct pq_run_result r = { 0 };
	const char **argv;
	char **env = NULL, tree[41];
	size_t n = 0, nenv = 0, i;
	int ret = 0;

	o->exit = -1;
	o->sandbox = bwrap != NULL;
	o->ran = (long long)time(NULL);
	pq_buf_addf(&work, "%s/tree", run);
	if (mkdir(work.ptr, 0700) < 0)
		pq_error_set(PQ_EIO, "cannot make %s: %s", work.ptr, strerror(errno));
	if (access(work.ptr, F_OK) < 0 || materialise(repo, commit, work.ptr, tree) < 0) {
		o->state = "error";
		pq_buf_addf(&o->output, "patchq: %s\n", pq_error_last());
		goto out;
	}
	argv = pq_calloc(k->argc + 24, sizeof(*argv));
	if (bwrap) {
		const char *pre[] = { bwrap,	"--ro-bind", "/",      "/",	  "--dev",
				      "/dev",	"--proc",    "/proc",  "--tmpfs", "/tmp",
				      "--bind", work.ptr,    work.ptr, NULL };

		for (i = 0; pre[i]; i++)
			argv[n++] = pre[i];
		if (patch) {
			argv[n++] = "--ro-bind";
			argv[n++] = patch;
			argv[n++] = patch;
		}
		argv[n++] = "--unshare-net";
		argv[n++] = "--unshare-pid";
		argv[n++] = "--die-with-parent";
		argv[n++] = "--chdir";
		argv[n++] = work.ptr;
		argv[n++] = "--";
	}
	for (i = 0; i < k->argc; i++)
		argv[n++] = k->argv[i];
	argv[n] = NULL;
	make_env(&env, &nenv, work.ptr, patch, id, queue, index);
	{
		struct pq_run_opts ro = {
			.argv = argv,
			.env = (const char *const *)env,
			.dir = work.ptr,
			.out_max = OUT_MAX,
			.err_to_out = 1,
			.timeout_ms = (long)k->timeout * 1000,
			.cancel = cancel,
		};

		if (pq_run_command(&r, &ro) < 0) {
			o->state = "error";
			pq_buf_addf(&o->output, "patchq: %s\n", pq_error_last());
		} else if (r.cancelled) {
			ret = 1;
		} else {
			o->duration_ms = r.duration_ms;
			if (r.timed_out)
				o->state = "timeout";
			else
				o->state = r.status == 0 ? "pass" : "fail";
			o->exit = r.status;
			keep_tail(&o->output, &r);
			if (r.timed_out)
				pq_buf_addf(&o->output,
					    "[patchq: killed after the timeout, %d s]\n",
					    k->timeout);
			else if (r.signal)
				pq_buf_addf(&o->output, "[patchq: killed by signal %d]\n",
					    r.signal);
		}
	}
	pq_run_result_free(&r);
	free(argv);
	for (i = 0; i < nenv; i++)
		free(env[i]);
	free(env);
out:
	pq_dir_remove(work.ptr);
	pq_buf_free(&work);
	return ret;
}

/* ---- the store ---- */

/* A result stored for k on tree with patch index (0: per series) that can stand: 1 found, 0 not, PQ_EDB. */
static int find_reusable(struct pq_store *s, const struct pq_check_conf *k, const char *tree,
			 int index, struct outcome *o)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT state, exit, duration_ms, output, sandbox, ran FROM series_check"
		   " WHERE name = ? AND tree = ? AND command = ? AND patch IS ?"
		   " AND state IN ('pass', 'fail', 'timeout') ORDER BY reused, ran DESC LIMIT 1");
	int rc, found = 0;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, k->name);
	pq_store_bind_text(st, 2, tree);
	pq_store_bind_text(st, 3, k->command);
	if (index)
		sqlite3_bind_int(st, 4, index);
	else
		sqlite3_bind_null(st, 4);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *state = pq_store_col_text(st, 0);

		o->state = !strcmp(state, "pass")   ? "pass"
			   : !strcmp(state, "fail") ? "fail"
						    : "timeout";
		o->exit = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1
								    : sqlite3_column_int(st, 1);
		o->duration_ms = sqlite3_column_int64(st, 2);
		pq_buf_adds(&o->output, pq_store_col_text(st, 3));
		o->sandbox = sqlite3_column_int(st, 4);
		o->ran = sqlite3_column_int64(st, 5);
		o->reused = 1;
		found = 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return pq_store_error(s, "series_check");
	return found;
}

static int store_outcome(struct pq_store *s, long long id, const char *queue, const char *tip,
			 const struct pq_check_conf *k, int index, const char *tree,
			 const struct outcome *o)
{
	sqlite3_stmt *st;
	int ret;

	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	st = pq_store_stmt(s, "DELETE FROM series_check WHERE series_id = ? AND queue = ?"
			      " AND name = ? AND patch IS ?");
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	pq_store_bind_text(st, 3, k->name);
	if (index)
		sqlite3_bind_int(st, 4, index);
	else
		sqlite3_bind_null(st, 4);
	if (pq_store_step_done(s, st) < 0)
		goto fail;
	st = pq_store_stmt(s,
			   "INSERT INTO series_check (series_id, queue, name, patch, tree,"
			   " command, state, exit, duration_ms, output, sandbox, ran, reused, tip)"
			   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	pq_store_bind_text(st, 3, k->name);
	if (index)
		sqlite3_bind_int(st, 4, index);
	else
		sqlite3_bind_null(st, 4);
	pq_store_bind_text(st, 5, tree);
	pq_store_bind_text(st, 6, k->command);
	pq_store_bind_text(st, 7, o->state);
	if (o->exit >= 0)
		sqlite3_bind_int(st, 8, o->exit);
	else
		sqlite3_bind_null(st, 8);
	sqlite3_bind_int64(st, 9, o->duration_ms);
	pq_store_bind_text(st, 10, pq_buf_str(&o->output));
	sqlite3_bind_int(st, 11, o->sandbox);
	sqlite3_bind_int64(st, 12, o->ran);
	sqlite3_bind_int(st, 13, o->reused);
	pq_store_bind_text(st, 14, tip);
	if (pq_store_step_done(s, st) < 0)
		goto fail;
	return pq_store_commit(s);
fail:
	pq_store_rollback(s);
	return PQ_EDB;
}

/* The last few lines of text, indented, into report. */
static void report_tail(struct pq_buf *report, const char *text)
{
	size_t len = strlen(text), lines = 0;
	const char *p = text + len;

	while (p > text && (p[-1] == '\n' || p[-1] == ' '))
		p--;
	len = (size_t)(p - text);
	while (p > text && lines < 10) {
		p--;
		if (*p == '\n')
			lines++;
	}
	if (*p == '\n')
		p++;
	while (p < text + len) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);

		pq_buf_adds(report, "    ");
		pq_buf_add(report, p, l);
		pq_buf_addc(report, '\n');
		p += l + (nl ? 1 : 0);
	}
}

/* ---- one series ---- */

/* The patch i of plan p as a mail, into a file in run; its path into path. */
static int write_patch(const struct pq_apply_plan *p, size_t i, const char *run,
		       struct pq_buf *path)
{
	const struct pq_series_patch *sp = &p->series->patches[i];
	const struct pq_am_patch *a = &p->am[i];
	struct pq_buf b = PQ_BUF_INIT;
	int fd, ret = 0;

	pq_buf_reset(path);
	pq_buf_addf(path, "%s/patch-%d.mbox", run, sp->index);
	pq_buf_addf(&b, "From: %s <%s>\nSubject: %s\n\n", sp->author ? sp->author : "",
		    sp->email ? sp->email : "", sp->subject ? sp->subject : a->title);
	pq_buf_add(&b, a->patch.message.ptr ? a->patch.message.ptr : "", a->patch.message.len);
	pq_buf_adds(&b, "\n---\n");
	pq_buf_add(&b, a->patch.diff.ptr ? a->patch.diff.ptr : "", a->patch.diff.len);
	fd = open(path->ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, b.ptr, b.len) != (ssize_t)b.len)
		ret = pq_error_set(PQ_EIO, "%s: %s", path->ptr, strerror(errno));
	if (fd >= 0)
		close(fd);
	pq_buf_free(&b);
	return ret;
}

/* Check k on the trees of p; 1 when a stop request ended it. */
static int run_check(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		     long long id, const char *queue, const char *tip,
		     const struct pq_check_conf *k, struct pq_apply_plan *p, const char *bwrap,
		     const char *no_sandbox, struct pq_buf *report)
{
	struct pq_buf run = PQ_BUF_INIT, patch = PQ_BUF_INIT;
	size_t i, first = k->per == PQ_CHECK_PER_PATCH ? 0 : p->n - 1;
	int ret = 0;

	for (i = first; i < p->n && !ret; i++) {
		int index = k->per == PQ_CHECK_PER_PATCH ? p->series->patches[i].index : 0;
		const char *commit = k->per == PQ_CHECK_PER_PATCH ? p->results[i].commit : p->tip;
		struct outcome o = { .output = PQ_BUF_INIT };
		char tree[41];
		int r;

		if ((ret = tree_of(repo, commit, tree)) < 0)
			break;
		if ((r = find_reusable(s, k, tree, index, &o)) < 0) {
			ret = r;
			break;
		}
		if (!r && pq_stop_requested()) {
			pq_buf_addf(report, "%s: stopped\n", k->name);
			ret = 1;
			break;
		}
		if (!r) {
			pq_buf_reset(&run);
			pq_buf_addf(&run, "%s/%ld.XXXXXX", c->check_dir, (long)getpid());
			if (!mkdtemp(run.ptr)) {
				ret = pq_error_set(PQ_EIO, "checkDir: cannot make %s: %s", run.ptr,
						   strerror(errno));
				break;
			}
			if (index && (ret = write_patch(p, i, run.ptr, &patch)) < 0) {
				pq_dir_remove(run.ptr);
				break;
			}
			r = run_one(repo, k, run.ptr, commit, bwrap, index ? patch.ptr : NULL, id,
				    queue, index, &o);
			pq_dir_remove(run.ptr);
			if (r) {
				pq_buf_addf(report, "%s: stopped\n", k->name);
				pq_buf_free(&o.output);
				ret = 1;
				break;
			}
		}
		if ((ret = store_outcome(s, id, queue, tip, k, index, tree, &o)) < 0) {
			pq_buf_free(&o.output);
			break;
		}
		pq_buf_adds(report, k->name);
		if (index)
			pq_buf_addf(report, " [patch %d]", index);
		pq_buf_addf(report, ": %s (", o.state);
		if (o.exit >= 0)
			pq_buf_addf(report, "exit %d, ", o.exit);
		pq_buf_addf(report, "%lld.%lds", o.duration_ms / 1000,
			    (long)(o.duration_ms % 1000) / 100);
		if (o.reused)
			pq_buf_adds(report, ", reused");
		if (!o.sandbox)
			pq_buf_addf(report, ", %s", no_sandbox);
		pq_buf_adds(report, ")\n");
		if (strcmp(o.state, "pass"))
			report_tail(report, pq_buf_str(&o.output));
		pq_buf_free(&o.output);
	}
	pq_buf_free(&run);
	pq_buf_free(&patch);
	return ret;
}

int pq_checks_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo, long long id,
		  const char *queue, struct pq_buf *report)
{
	const struct pq_queue_conf *q = pq_apply_target(c, queue);
	struct pq_buf no_sandbox = PQ_BUF_INIT;
	struct pq_apply_plan p;
	char tip[41] = "", *bwrap = NULL;
	long long seen;
	size_t i, n = 0;
	int ret;

	memset(&p, 0, sizeof(p));
	if (!q)
		return PQ_EINVAL;
	for (i = 0; i < c->nchecks; i++)
		n += pq_config_check_on(&c->checks[i], queue);
	if (!n) {
		pq_buf_addf(report, "no check runs on %s\n", queue);
		return 0;
	}
	if ((ret = pq_ingest_last_message(s, &seen)) < 0 ||
	    (ret = pq_apply_plan_load(s, c, id, seen, &p)) < 0 ||
	    (ret = pq_apply_tip(repo, q, tip)) < 0)
		goto out;
	/* the commits are written (unreferenced, as a rebuild's) so that their trees can be read */
	if ((ret = pq_apply_plan_run(s, c, repo, q, id, tip, &p, PQ_APPLY_CHAIN, NULL)) < 0)
		goto out;
	if ((ret = make_dirs(c->check_dir)) < 0)
		goto out;
	remove_stale(c->check_dir);
	bwrap = find_sandbox(&no_sandbox);
	pq_buf_addf(report, "%s (%s at %.12s), %s:\n", queue, q->branch, tip,
		    bwrap ? "sandboxed by bwrap" : pq_buf_str(&no_sandbox));
	for (i = 0; i < c->nchecks && !ret; i++)
		if (pq_config_check_on(&c->checks[i], queue))
			ret = run_check(s, c, repo, id, queue, tip, &c->checks[i], &p, bwrap,
					pq_buf_str(&no_sandbox), report);
	if (ret > 0)
		ret = 0;
out:
	free(bwrap);
	pq_buf_free(&no_sandbox);
	pq_apply_plan_free(&p);
	return ret;
}

/*
 * The rows of series id (on queue, or all): as text into out, or (j not
 * NULL) a JSON array into j; how many there are into *rows and how many
 * did not pass into *failing.
 */
static int list_rows(struct pq_store *s, long long id, const char *queue, struct pq_json *j,
		     struct pq_buf *out, int *rows, int *failing)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT name, queue, patch, state, exit, duration_ms, output, tree, ran, reused,"
		   " sandbox FROM series_check WHERE series_id = ?1 AND (?2 IS NULL OR queue = ?2)"
		   " ORDER BY queue, name, IFNULL(patch, 0)");
	int rc;

	*rows = *failing = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	if (j)
		pq_json_array_begin(j);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = pq_store_col_text(st, 3);
		long long ms = sqlite3_column_int64(st, 5);
		int has_patch = sqlite3_column_type(st, 2) != SQLITE_NULL;
		int has_exit = sqlite3_column_type(st, 4) != SQLITE_NULL;

		(*rows)++;
		*failing += strcmp(state, "pass") != 0;
		if (!j) {
			pq_buf_addf(out, "%s on %s", pq_store_col_text(st, 0),
				    pq_store_col_text(st, 1));
			if (has_patch)
				pq_buf_addf(out, " [patch %d]", sqlite3_column_int(st, 2));
			pq_buf_addf(out, ": %s (", state);
			if (has_exit)
				pq_buf_addf(out, "exit %d, ", sqlite3_column_int(st, 4));
			pq_buf_addf(out, "%lld.%lds, tree %.12s%s%s)\n", ms / 1000,
				    (long)(ms % 1000) / 100, pq_store_col_text(st, 7),
				    sqlite3_column_int(st, 9) ? ", reused" : "",
				    sqlite3_column_int(st, 10) ? "" : ", no sandbox");
			if (strcmp(state, "pass"))
				report_tail(out, pq_store_col_text(st, 6));
			continue;
		}
		pq_json_object_begin(j);
		pq_json_kstr(j, "name", pq_store_col_text(st, 0));
		pq_json_kstr(j, "queue", pq_store_col_text(st, 1));
		pq_json_key(j, "patch");
		if (has_patch)
			pq_json_int(j, sqlite3_column_int(st, 2));
		else
			pq_json_null(j);
		pq_json_kstr(j, "state", state);
		pq_json_key(j, "exit");
		if (has_exit)
			pq_json_int(j, sqlite3_column_int(st, 4));
		else
			pq_json_null(j);
		pq_json_key(j, "seconds");
		pq_json_milli(j, ms);
		pq_json_kstr(j, "output", pq_store_col_text(st, 6));
		pq_json_kstr(j, "tree", pq_store_col_text(st, 7));
		pq_json_kint(j, "ran", sqlite3_column_int64(st, 8));
		pq_json_kbool(j, "reused", sqlite3_column_int(st, 9));
		pq_json_kbool(j, "sandbox", sqlite3_column_int(st, 10));
		pq_json_object_end(j);
	}
	sqlite3_reset(st);
	if (j)
		pq_json_array_end(j);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "series_check");
}

int pq_checks_json(struct pq_store *s, long long id, const char *queue, struct pq_json *j)
{
	int rows, failing;

	return list_rows(s, id, queue, j, NULL, &rows, &failing);
}

int pq_checks_list(struct pq_store *s, long long id, const char *queue, int json,
		   struct pq_buf *out)
{
	struct pq_json j;
	int rows, failing, ret;

	pq_json_init(&j, out, 1);
	if ((ret = list_rows(s, id, queue, json ? &j : NULL, out, &rows, &failing)) < 0)
		return ret;
	if (json)
		pq_buf_addc(out, '\n');
	else if (!rows)
		pq_buf_addf(out, "no check results for series %lld%s%s\n", id, queue ? " on " : "",
			    queue ? queue : "");
	return failing;
}

/* Whether some enabled check runs on queue. */
static int any_check_on(const struct pq_config *c, const char *queue)
{
	size_t i;

	for (i = 0; i < c->nchecks; i++)
		if (pq_config_check_on(&c->checks[i], queue))
			return 1;
	return 0;
}

int pq_checks_required(const struct pq_config *c, const struct pq_rule_conf *r, const char *queue)
{
	size_t i;

	for (i = 0; i < c->nchecks; i++)
		if (pq_config_check_on(&c->checks[i], queue) &&
		    ((r && r->checks) || c->checks[i].blocking))
			return 1;
	return 0;
}

/*
 * What the checks the hold of series id on queue waits for said on tip:
 * 1 when they all passed; 0 with the first that did not (malloc'd) in
 * *failed; 0 with *failed NULL when one has no result on tip yet (it was
 * stopped: the hold stays).
 */
static int held_checks_passed(struct pq_store *s, const struct pq_config *c,
			      const struct pq_rule_conf *r, long long id, const char *queue,
			      const char *tip, char **failed)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT count(*), total(state = 'pass') FROM series_check"
				 " WHERE series_id = ? AND queue = ? AND tip = ? AND name = ?");
	size_t i;
	int rc = SQLITE_ROW;

	*failed = NULL;
	if (!st)
		return PQ_EDB;
	for (i = 0; i < c->nchecks; i++) {
		const struct pq_check_conf *k = &c->checks[i];
		long long ran;
		double passed;

		if (!pq_config_check_on(k, queue) || !((r && r->checks) || k->blocking))
			continue;
		sqlite3_bind_int64(st, 1, id);
		pq_store_bind_text(st, 2, queue);
		pq_store_bind_text(st, 3, tip);
		pq_store_bind_text(st, 4, k->name);
		rc = sqlite3_step(st);
		ran = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		passed = rc == SQLITE_ROW ? sqlite3_column_double(st, 1) : 0;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			return pq_store_error(s, "series_check");
		if (!ran)
			return 0;
		if (passed < (double)ran) {
			*failed = pq_strdup(k->name);
			return 0;
		}
	}
	return 1;
}

/* After its checks ran on tip: series id held for them on queue is applied, or stays held. */
static int settle(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo, long long id,
		  const char *queue, const char *tip, struct pq_buf *report)
{
	const struct pq_rule_conf *r;
	struct pq_buf why = PQ_BUF_INIT;
	char *held, *failed = NULL;
	int ret;

	if ((ret = pq_state_queue_rule(s, c, id, queue, &r, &held)) < 0)
		return ret;
	if (!held || strncmp(held, PQ_CHECKS_HELD_PREFIX, strlen(PQ_CHECKS_HELD_PREFIX)) ||
	    (ret = held_checks_passed(s, c, r, id, queue, tip, &failed)) < 0)
		goto out;
	if (!ret && !failed)
		goto out; /* not all ran (a stop): held as it is */
	if (failed) {
		pq_buf_addf(&why, "held: check %s failed (patchq checks %lld)", failed, id);
		pq_buf_addf(report, "series %lld: %s on %s, left to a maintainer\n", id, why.ptr,
			    queue);
		ret = pq_state_hold(s, id, queue, why.ptr);
		goto out;
	}
	pq_buf_addf(report, "series %lld: its checks passed on %s, applying\n", id, queue);
	if ((ret = pq_state_record(s, id, queue, PQ_STATE_APPROVED, NULL, NULL, 0)) < 0)
		goto out;
	ret = pq_apply_series(s, c, repo, id, queue, 0, report);
	if (ret < 0 && ret != PQ_EDB) {
		pq_buf_addf(report, "  not applied: %s\n", pq_error_last());
		ret = 0;
	}
out:
	free(held);
	free(failed);
	pq_buf_free(&why);
	return ret;
}

/*
 * [reply] checks: the reply telling the list what the checks said of
 * series id on queue at tip, through the outbox (and its hold), once per
 * series (the unique index): the Ksquirrel bot's answer, by patchq.
 */
static int checks_reply(struct pq_store *s, const struct pq_config *c, long long id,
			const char *queue, const char *tip)
{
	const struct pq_queue_conf *q = pq_config_queue(c, queue);
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT name, patch, state, output FROM series_check WHERE series_id = ?"
		   " AND queue = ? AND tip = ? ORDER BY patch IS NULL, patch, name");
	struct pq_reply_about a = { .queue = queue, .asked = 1, .now = (int64_t)time(NULL) };
	struct pq_buf body = PQ_BUF_INIT;
	struct pq_series *se = NULL;
	int ret, rc, rows = 0;

	if (!st || !q)
		return PQ_EDB;
	if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return ret == PQ_EDB ? ret : 0;
	pq_buf_addf(&body, "The checks of %s, on this series applied on %s at %.12s:\n\n", queue,
		    q->branch, tip);
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, queue);
	pq_store_bind_text(st, 3, tip);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows++;
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			pq_buf_adds(&body, "  the series");
		else
			pq_buf_addf(&body, "  [%d/%d]", sqlite3_column_int(st, 1), se->total);
		pq_buf_addf(&body, " %s: %s\n", pq_store_col_text(st, 0), pq_store_col_text(st, 2));
		if (strcmp(pq_store_col_text(st, 2), "pass"))
			report_tail(&body, pq_store_col_text(st, 3));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		ret = pq_store_error(s, "series_check");
	else if (rows && (ret = pq_store_begin(s)) == 0) {
		a.series = se;
		a.checks = body.ptr;
		if ((ret = pq_reply_record(s, c, &a)) < 0)
			pq_store_rollback(s);
		else
			ret = pq_store_commit(s);
	}
	pq_buf_free(&body);
	pq_series_free(se);
	return ret;
}

struct pq_checks_claims {
	pthread_mutex_t lock;
	struct claim {
		long long id;
		const char *queue; /* the pass's configuration's, alive while it holds it */
	} v[PQ_CHECK_JOBS_MAX];
	size_t n;
};

struct pq_checks_claims *pq_checks_claims_new(void)
{
	struct pq_checks_claims *cl = pq_calloc(1, sizeof(*cl));

	pthread_mutex_init(&cl->lock, NULL);
	return cl;
}

void pq_checks_claims_free(struct pq_checks_claims *cl)
{
	if (!cl)
		return;
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

/* Takes series id on queue for this pass: 1, or 0 when another pass has it (or no room). */
static int claim(struct pq_checks_claims *cl, long long id, const char *queue)
{
	size_t i;
	int ok = 1;

	if (!cl)
		return 1;
	pthread_mutex_lock(&cl->lock);
	for (i = 0; i < cl->n && ok; i++)
		ok = !(cl->v[i].id == id && !strcmp(cl->v[i].queue, queue));
	if (ok && cl->n < PQ_CHECK_JOBS_MAX) {
		cl->v[cl->n].id = id;
		cl->v[cl->n++].queue = queue;
	} else {
		ok = 0;
	}
	pthread_mutex_unlock(&cl->lock);
	return ok;
}

static void unclaim(struct pq_checks_claims *cl, long long id, const char *queue)
{
	size_t i;

	if (!cl)
		return;
	pthread_mutex_lock(&cl->lock);
	for (i = 0; i < cl->n; i++)
		if (cl->v[i].id == id && !strcmp(cl->v[i].queue, queue)) {
			cl->v[i] = cl->v[--cl->n];
			break;
		}
	pthread_mutex_unlock(&cl->lock);
}

/*
 * Whether checks run on queue q: 1 with its tip in tip, 0 when none runs
 * there (or its branch does not exist yet), or the repository's error.
 */
static int checked_tip(const struct pq_config *c, struct pq_repo *repo,
		       const struct pq_queue_conf *q, char tip[41])
{
	int ret;

	if (q->frozen || !any_check_on(c, q->name))
		return 0;
	ret = pq_apply_tip(repo, q, tip);
	return ret == PQ_ENOTFOUND ? 0 : ret < 0 ? ret : 1;
}

/*
 * The checks that run on queue as configured now, into out as a JSON array
 * of [name, command, per patch (0 or 1)]: a series whose results on the
 * tip lack one of them (a check added, its command changed) is due.
 */
static void checks_on_json(const struct pq_config *c, const char *queue, struct pq_buf *out)
{
	struct pq_json j;
	size_t i;

	pq_buf_reset(out);
	pq_json_init(&j, out, 0);
	pq_json_array_begin(&j);
	for (i = 0; i < c->nchecks; i++) {
		const struct pq_check_conf *k = &c->checks[i];

		if (!pq_config_check_on(k, queue))
			continue;
		pq_json_array_begin(&j);
		pq_json_str(&j, k->name);
		pq_json_str(&j, k->command);
		pq_json_int(&j, k->per == PQ_CHECK_PER_PATCH);
		pq_json_array_end(&j);
	}
	pq_json_array_end(&j);
}

int pq_checks_pass(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo, size_t max,
		   struct pq_checks_claims *claims, struct pq_buf *report)
{
	struct pq_buf on = PQ_BUF_INIT;
	size_t qi, i, n, done = 0;
	long long *ids;
	int ret = 0;

	for (qi = 0; qi < c->nqueues && done < max && !pq_stop_requested(); qi++) {
		const struct pq_queue_conf *q = &c->queues[qi];
		sqlite3_stmt *st;
		char tip[41];

		if ((ret = checked_tip(c, repo, q, tip)) < 0)
			break;
		if (!ret)
			continue;
		ret = 0;
		st = pq_store_stmt(
			s, "SELECT q.series_id FROM series_queue q JOIN check_result r"
			   " ON r.series_id = q.series_id AND r.queue = q.queue"
			   " WHERE q.queue = ?1 AND q.state IN (?2, ?3) AND r.ok AND r.tip = ?4"
			   " AND EXISTS (SELECT 1 FROM json_each(?6) c WHERE NOT EXISTS"
			   " (SELECT 1 FROM series_check k WHERE k.series_id = q.series_id"
			   " AND k.queue = q.queue AND k.tip = ?4"
			   " AND k.name = json_extract(c.value, '$[0]')"
			   " AND k.command = json_extract(c.value, '$[1]')"
			   " AND (k.patch IS NOT NULL) = json_extract(c.value, '$[2]')))"
			   " ORDER BY q.series_id LIMIT ?5");
		if (!st) {
			ret = PQ_EDB;
			break;
		}
		checks_on_json(c, q->name, &on);
		pq_store_bind_text(st, 1, q->name);
		pq_store_bind_text(st, 2, pq_state_name(PQ_STATE_QUEUED));
		pq_store_bind_text(st, 3, pq_state_name(PQ_STATE_APPROVED));
		pq_store_bind_text(st, 4, tip);
		/* past the ones other passes hold */
		sqlite3_bind_int64(st, 5, (long long)(max - done + PQ_CHECK_JOBS_MAX));
		pq_store_bind_text(st, 6, pq_buf_str(&on));
		if ((ret = pq_store_ids(s, st, &ids, &n)) < 0)
			break;
		for (i = 0; i < n && done < max && ret != PQ_EDB && !pq_stop_requested(); i++) {
			if (!claim(claims, ids[i], q->name))
				continue;
			done++;
			pq_buf_addf(report, "series %lld: checks on ", ids[i]);
			ret = pq_checks_run(s, c, repo, ids[i], q->name, report);
			if (ret == 0 && c->reply.checks)
				ret = checks_reply(s, c, ids[i], q->name, tip);
			unclaim(claims, ids[i], q->name);
			if (ret < 0 && ret != PQ_EDB) {
				pq_buf_addf(report, "series %lld: checks not run on %s: %s\n",
					    ids[i], q->name, pq_error_last());
				ret = 0;
			}
		}
		free(ids);
		if (ret == PQ_EDB)
			break;
	}
	pq_buf_free(&on);
	return ret < 0 ? ret : (int)done;
}

int pq_checks_settle(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		     struct pq_buf *report)
{
	size_t qi, i, n;
	long long *ids;
	int ret = 0;

	for (qi = 0; qi < c->nqueues && ret != PQ_EDB && !pq_stop_requested(); qi++) {
		const struct pq_queue_conf *q = &c->queues[qi];
		sqlite3_stmt *st;
		char tip[41];

		if ((ret = checked_tip(c, repo, q, tip)) <= 0) {
			if (ret < 0)
				return ret;
			continue;
		}
		ret = 0;
		st = pq_store_stmt(s,
				   "SELECT q.series_id FROM series_queue q WHERE q.queue = ?1"
				   " AND q.state = ?2 AND substr(q.held, 1, ?3) = ?4"
				   " AND EXISTS (SELECT 1 FROM series_check k WHERE k.series_id ="
				   " q.series_id AND k.queue = q.queue AND k.tip = ?5)"
				   " ORDER BY q.series_id");
		if (!st)
			return PQ_EDB;
		pq_store_bind_text(st, 1, q->name);
		pq_store_bind_text(st, 2, pq_state_name(PQ_STATE_QUEUED));
		sqlite3_bind_int(st, 3, (int)strlen(PQ_CHECKS_HELD_PREFIX));
		pq_store_bind_text(st, 4, PQ_CHECKS_HELD_PREFIX);
		pq_store_bind_text(st, 5, tip);
		if ((ret = pq_store_ids(s, st, &ids, &n)) < 0)
			return ret;
		for (i = 0; i < n && ret != PQ_EDB && !pq_stop_requested(); i++)
			ret = settle(s, c, repo, ids[i], q->name, tip, report);
		free(ids);
	}
	return ret == PQ_EDB ? ret : 0;
}
