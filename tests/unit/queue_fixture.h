/*
 * queue_fixture: what the policy tests (test_policy, test_reply,
 * test_outbox) build their cases from, written by the tests themselves:
 *
 *   - a temporary directory, removed at the end;
 *   - a source repository "src" the test commits to (fixed identities and
 *     dates), with a base commit holding a small rust/ tree;
 *   - mail made from it with `git format-patch`, split into messages;
 *   - a "world": a bare queue repository cloned from src, a configuration
 *     file naming it, a SQLite database, all opened;
 *   - the states read back from the database.
 *
 * Header-only like check.h (include it after check.h); every function is
 * static and marked unused, so a test takes only what it needs.
 */
#ifndef PQ_QUEUE_FIXTURE_H
#define PQ_QUEUE_FIXTURE_H

#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "error.h"
#include "ingest.h"
#include "mbox.h"
#include "repo.h"
#include "store.h"
#include "triage.h"

#define FX_UNUSED __attribute__((unused))

#define FX_AUTHOR "Alice Rustacean"
#define FX_EMAIL "alice@example.org"
#define FX_LIST "rust-for-linux@vger.example.org"
/* the first commit's date; each later commit is a minute later */
#define FX_EPOCH 1793527200LL

static char fx_root[256];
static char fx_src[512];
static int fx_commits;
static int fx_mailings;

/* ---- the temporary directory and the shell ---- */

static int fx_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/* Makes the temporary directory /tmp/pq-NAME-XXXXXX and a git that reads no user configuration. */
static FX_UNUSED int fx_init(const char *name)
{
	snprintf(fx_root, sizeof(fx_root), "/tmp/pq-%s-XXXXXX", name);
	if (!mkdtemp(fx_root)) {
		perror("mkdtemp");
		return -1;
	}
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	unsetenv("GIT_AUTHOR_DATE");
	unsetenv("GIT_COMMITTER_DATE");
	unsetenv("PATCHQ_CRASH");
	return 0;
}

/* Removes the temporary directory, unless PQ_KEEP_TMP is set (to look at it after a failure). */
static FX_UNUSED void fx_cleanup(void)
{
	if (getenv("PQ_KEEP_TMP"))
		fprintf(stderr, "kept %s\n", fx_root);
	else if (fx_root[0])
		nftw(fx_root, fx_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* fx_root/rel, malloc'd. */
static FX_UNUSED char *fx_path(const char *rel)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b, "%s/%s", fx_root, rel);
	return pq_buf_detach(&b);
}

/* Runs the shell command fmt in dir, quietly; returns its exit status. */
static int fx_sh(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static FX_UNUSED int fx_sh(const char *dir, const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	va_list ap;
	int st;

	pq_buf_addf(&cmd, "cd '%s' && (", dir);
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pq_buf_adds(&cmd, ") >/dev/null 2>&1");
	st = system(cmd.ptr);
	pq_buf_free(&cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The stdout of the shell command fmt run in dir, trailing newlines removed; malloc'd. */
static char *fx_out(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static FX_UNUSED char *fx_out(const char *dir, const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT, res = PQ_BUF_INIT;
	char chunk[4096];
	va_list ap;
	size_t n;
	FILE *f;

	pq_buf_addf(&cmd, "cd '%s' && (", dir);
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pq_buf_adds(&cmd, ") 2>/dev/null");
	f = popen(cmd.ptr, "r");
	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&res, chunk, n);
	if (f)
		pclose(f);
	pq_buf_free(&cmd);
	while (res.len && res.ptr[res.len - 1] == '\n')
		pq_buf_truncate(&res, res.len - 1);
	pq_buf_adds(&res, "");
	return pq_buf_detach(&res);
}

/* Writes text to path, making the directories on the way. */
static FX_UNUSED void fx_write(const char *path, const char *text)
{
	char *dir = pq_strdup(path), *slash;
	FILE *f;

	for (slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(dir, 0700);
		*slash = '/';
	}
	free(dir);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s\n", path);
		return;
	}
	fputs(text, f);
	fclose(f);
}

/* The whole file at path, malloc'd, or NULL. */
static FX_UNUSED char *fx_read(const char *path)
{
	struct pq_buf b = PQ_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&b, chunk, n);
	fclose(f);
	pq_buf_adds(&b, "");
	return pq_buf_detach(&b);
}

/* How many times needle occurs in s. */
static FX_UNUSED int fx_count_str(const char *s, const char *needle)
{
	int n = 0;

	while (s && (s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* ---- the source repository ---- */

/* git in src as the author, quietly; returns its exit status. */
static int fx_git(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static FX_UNUSED int fx_git(const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	va_list ap;
	int st;

	pq_buf_addf(&cmd, "git -C '%s' -c user.name='%s' -c user.email=%s ", fx_src, FX_AUTHOR,
		    FX_EMAIL);
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pq_buf_adds(&cmd, " >/dev/null 2>&1");
	st = system(cmd.ptr);
	pq_buf_free(&cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes src/file (text NULL: removes it). */
static FX_UNUSED void fx_src_write(const char *file, const char *text)
{
	struct pq_buf p = PQ_BUF_INIT;

	pq_buf_addf(&p, "%s/%s", fx_src, file);
	if (text)
		fx_write(p.ptr, text);
	else
		remove(p.ptr);
	pq_buf_free(&p);
}

/*
 * Commits everything in src's work tree as the author, with subject,
 * body and trailers (besides the Signed-off-by), each commit a minute
 * after the one before. Returns git's status.
 */
static FX_UNUSED int fx_commit(const char *subject, const char *body, const char *trailers)
{
	struct pq_buf msg = PQ_BUF_INIT, path = PQ_BUF_INIT;
	long long t = FX_EPOCH + 60LL * fx_commits++;
	int rc;

	pq_buf_addf(&msg, "%s\n\n%s\n\n%s%sSigned-off-by: %s <%s>\n", subject,
		    body ? body : "A change.", trailers ? trailers : "", trailers ? "\n" : "",
		    FX_AUTHOR, FX_EMAIL);
	pq_buf_addf(&path, "%s/.git/fx-message", fx_src);
	fx_write(path.ptr, msg.ptr);
	/* the committer date too, so that a commit (and its id) is the same every run */
	pq_buf_reset(&msg);
	pq_buf_addf(&msg, "%lld +0000", t);
	setenv("GIT_COMMITTER_DATE", msg.ptr, 1);
	rc = fx_git("add -A");
	if (rc == 0)
		rc = fx_git("commit -q -F .git/fx-message --date='%lld +0000'", t);
	pq_buf_free(&msg);
	pq_buf_free(&path);
	return rc;
}

/* The commit rev names in src, hex, malloc'd ("" when unknown). */
static FX_UNUSED char *fx_rev(const char *rev)
{
	return fx_out(fx_src, "git rev-parse -q --verify '%s^{commit}'", rev);
}

/*
 * Creates src with a base commit on main: rust/kernel/{lib,str,print}.rs
 * and Documentation/rust/index.rst, branches rust-next, rust-fixes and
 * rust at it, tag "base". Returns 0 or -1.
 */
static FX_UNUSED int fx_src_init(void)
{
	snprintf(fx_src, sizeof(fx_src), "%s/src", fx_root);
	if (mkdir(fx_src, 0700) < 0 || fx_git("init -q -b main"))
		return -1;
	fx_src_write("rust/kernel/lib.rs", "// SPDX-License-Identifier: GPL-2.0\n"
					   "\n"
					   "//! The kernel crate.\n"
					   "\n"
					   "pub mod print;\n"
					   "pub mod str;\n");
	fx_src_write("rust/kernel/str.rs", "// SPDX-License-Identifier: GPL-2.0\n"
					   "\n"
					   "//! String helpers.\n"
					   "\n"
					   "pub fn len(s: &str) -> usize {\n"
					   "    s.len()\n"
					   "}\n");
	fx_src_write("rust/kernel/print.rs", "// SPDX-License-Identifier: GPL-2.0\n"
					     "\n"
					     "//! Printing.\n"
					     "\n"
					     "pub fn pr_info(s: &str) {\n"
					     "    let _ = s;\n"
					     "}\n");
	fx_src_write("Documentation/rust/index.rst", "Rust\n"
						     "====\n"
						     "\n"
						     "line 1\n"
						     "line 2\n"
						     "line 3\n"
						     "line 4\n"
						     "line 5\n"
						     "line 6\n");
	if (fx_commit("rust: kernel: start the crate", "The crate drivers link against.", NULL) ||
	    fx_git("tag base") || fx_git("branch rust-next") || fx_git("branch rust-fixes") ||
	    fx_git("branch rust"))
		return -1;
	return 0;
}

/* Starts a topic branch in src at rev. */
static FX_UNUSED int fx_topic(const char *name, const char *rev)
{
	return fx_git("checkout -q -b '%s' '%s'", name, rev);
}

/* ---- mail ---- */

/* The messages of an mbox, in order, each malloc'd. */
struct fx_mail {
	char **v;
	size_t n;
};

static int fx_mail_add(void *ctx, const char *raw, size_t len, const char *cursor)
{
	struct fx_mail *m = ctx;

	m->v = pq_reallocarray(m->v, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = pq_strndup(raw, len);
	return 0;
}

static FX_UNUSED void fx_mail_free(struct fx_mail *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Replaces every from in b by to. */
static FX_UNUSED void fx_replace(struct pq_buf *b, const char *from, const char *to)
{
	struct pq_buf out = PQ_BUF_INIT;
	const char *s = pq_buf_str(b), *hit;

	while ((hit = strstr(s, from))) {
		pq_buf_add(&out, s, (size_t)(hit - s));
		pq_buf_adds(&out, to);
		s = hit + strlen(from);
	}
	pq_buf_adds(&out, s);
	pq_buf_free(b);
	*b = out;
}

/*
 * `git format-patch --stdout --thread=shallow ARGS` in src, by the
 * author, To the list, with title as the cover letter's subject and blurb
 * (when there is one), split into messages. The cover letter's Date: is
 * the committer date, a minute later each call; each call has Message-IDs
 * of its own.
 */
static FX_UNUSED int fx_format_patch(struct fx_mail *m, const char *title, const char *args)
{
	struct pq_buf cmd = PQ_BUF_INIT, raw = PQ_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *p;
	int rc;

	memset(m, 0, sizeof(*m));
	pq_buf_addf(&cmd,
		    "GIT_COMMITTER_DATE='%lld +0000' git -C '%s' -c user.name='%s'"
		    " -c user.email=%s format-patch --stdout --thread=shallow --to=%s %s",
		    FX_EPOCH + 86400 + 60LL * fx_mailings++, fx_src, FX_AUTHOR, FX_EMAIL, FX_LIST,
		    args);
	p = popen(cmd.ptr, "r");
	if (!p) {
		pq_buf_free(&cmd);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		pq_buf_add(&raw, chunk, n);
	rc = pclose(p);
	pq_buf_reset(&cmd);
	/* git makes Message-IDs from the time and the address: two calls in
	 * one second would share the cover letter's */
	pq_buf_addf(&cmd, "%d." FX_EMAIL ">", fx_mailings);
	fx_replace(&raw, "." FX_EMAIL ">", cmd.ptr);
	if (title) {
		fx_replace(&raw, "*** SUBJECT HERE ***", title);
		fx_replace(&raw, "*** BLURB HERE ***", "What the series is for.");
	}
	if (rc == 0 && raw.len)
		pq_mbox_split(raw.ptr, raw.len, fx_mail_add, m);
	pq_buf_free(&cmd);
	pq_buf_free(&raw);
	return rc == 0 && m->n ? 0 : -1;
}

/*
 * The series several policy tests share, each on a topic branch from
 * "base": A "rust: str: helpers" (cover letter, is_empty() then is_ascii()
 * in rust/kernel/str.rs) on "a", its v2 A2 (the same, #[inline]) on "a2";
 * B, one patch adding rust/kernel/time.rs, tagged rust-next, on "b".
 * Returns 0 or -1.
 */
static FX_UNUSED int fx_mail_str_helpers(struct fx_mail *a, struct fx_mail *a2)
{
	static const char head[] = "// SPDX-License-Identifier: GPL-2.0\n\n"
				   "//! String helpers.\n\n"
				   "pub fn len(s: &str) -> usize {\n    s.len()\n}\n\n";
	struct pq_buf s = PQ_BUF_INIT;
	int rc = 0, v;

	for (v = 1; v <= 2; v++) {
		const char *in = v == 2 ? "#[inline]\n" : "";

		rc |= fx_topic(v == 2 ? "a2" : "a", "base");
		pq_buf_reset(&s);
		pq_buf_addf(&s, "%s%spub fn is_empty(s: &str) -> bool {\n    s.is_empty()\n}\n",
			    head, in);
		fx_src_write("rust/kernel/str.rs", s.ptr);
		rc |= fx_commit("rust: str: add is_empty()", "Callers test for empty strings.",
				NULL);
		pq_buf_addf(&s, "\n%spub fn is_ascii(s: &str) -> bool {\n    s.is_ascii()\n}\n",
			    in);
		fx_src_write("rust/kernel/str.rs", s.ptr);
		rc |= fx_commit("rust: str: add is_ascii()", "Callers test for ASCII.", NULL);
		rc |= fx_format_patch(v == 2 ? a2 : a, "rust: str: helpers",
				      v == 2 ? "--cover-letter -v2 base..a2"
					     : "--cover-letter base..a");
	}
	pq_buf_free(&s);
	return rc ? -1 : 0;
}

static FX_UNUSED int fx_mail_time(struct fx_mail *b)
{
	int rc = fx_topic("b", "base");

	fx_src_write("rust/kernel/time.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					    "//! Time.\n\n"
					    "pub const NSEC_PER_MSEC: i64 = 1_000_000;\n");
	rc |= fx_commit("rust: time: add the time module", "Drivers need time units.", NULL);
	rc |= fx_format_patch(b, NULL, "--subject-prefix='PATCH rust-next' -1 b");
	return rc ? -1 : 0;
}

/* The Message-ID of raw without the angle brackets, malloc'd ("" when none). */
static FX_UNUSED char *fx_msgid(const char *raw)
{
	const char *p = raw;

	while (p && *p && *p != '\n') {
		if (!strncasecmp(p, "Message-ID: <", 13)) {
			const char *end = strchr(p + 13, '>');

			return end ? pq_strndup(p + 13, (size_t)(end - p - 13)) : pq_strdup("");
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return pq_strdup("");
}

/* A reply from who ("Name <addr>") to the message in_reply_to, with body. */
static FX_UNUSED char *fx_reply_mail(const char *who, const char *msgid, const char *in_reply_to,
				     const char *subject, const char *body)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b,
		    "From: %s\n"
		    "To: " FX_LIST "\n"
		    "Subject: Re: %s\n"
		    "Date: Tue, 10 Nov 2026 12:00:00 +0000\n"
		    "Message-ID: <%s>\n"
		    "In-Reply-To: <%s>\n"
		    "References: <%s>\n"
		    "\n"
		    "%s",
		    who, subject, msgid, in_reply_to, in_reply_to, body);
	return pq_buf_detach(&b);
}

/* Ingests one message into s, committed. Returns pq_ingest's result. */
static FX_UNUSED int fx_ingest(struct pq_store *s, const char *raw)
{
	struct pq_ingest *ig;
	int rc = pq_ingest_new(&ig, s, "test", 0, NULL);

	if (rc < 0)
		return rc;
	rc = pq_ingest_message(ig, raw, strlen(raw), NULL);
	if (pq_ingest_free(ig) < 0 && rc == 0)
		rc = PQ_EDB;
	return rc;
}

/* Ingests the messages of m but the one at skip (-1: all). Returns the first failure or 0. */
static FX_UNUSED int fx_ingest_mail(struct pq_store *s, const struct fx_mail *m, int skip)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < m->n && rc == 0; i++)
		if ((int)i != skip)
			rc = fx_ingest(s, m->v[i]);
	return rc;
}

/* ---- a world: a queue repository, its configuration, a database ---- */

struct fx_world {
	char *name;
	char *git;  /* the bare queue repository, cloned from src */
	char *conf; /* the configuration file */
	char *db;
	struct pq_config *c;
	struct pq_store *s;
	struct pq_repo *repo;
};

/* Closes the store and the repository, keeping the files (for a reopen or a fork). */
static FX_UNUSED void fx_world_shut(struct fx_world *w)
{
	pq_store_close(w->s);
	pq_repo_free(w->repo);
	w->s = NULL;
	w->repo = NULL;
}

/* Opens the store and the repository again. Returns 0 or the failure. */
static FX_UNUSED int fx_world_reopen(struct fx_world *w)
{
	int rc;

	fx_world_shut(w);
	if ((rc = pq_store_open(&w->s, w->db)) < 0 || (rc = pq_repo_open(&w->repo, w->git)) < 0)
		fprintf(stderr, "world %s: %s\n", w->name, pq_error_last());
	return rc;
}

/*
 * A world called name: NAME.git cloned (bare) from src, NAME.conf with
 * the [patchq] section (database NAME.db, that repository, committer Test
 * Maint <maint@example.org>, a fixed committer date) followed by conf,
 * loaded, and the store and repository opened. Returns 0 or -1.
 */
static FX_UNUSED int fx_world_open(struct fx_world *w, const char *name, const char *conf)
{
	struct pq_buf b = PQ_BUF_INIT;
	int rc;

	memset(w, 0, sizeof(*w));
	w->name = pq_strdup(name);
	pq_buf_addf(&b, "%s.git", name);
	w->git = fx_path(b.ptr);
	pq_buf_reset(&b);
	pq_buf_addf(&b, "%s.conf", name);
	w->conf = fx_path(b.ptr);
	pq_buf_reset(&b);
	pq_buf_addf(&b, "%s.db", name);
	w->db = fx_path(b.ptr);
	if (fx_sh(fx_root, "git clone -q --bare '%s' '%s'", fx_src, w->git)) {
		fprintf(stderr, "world %s: git clone failed\n", name);
		pq_buf_free(&b);
		return -1;
	}
	pq_buf_reset(&b);
	pq_buf_addf(&b,
		    "[patchq]\n"
		    "\tdatabase = %s.db\n"
		    "\trepository = %s.git\n"
		    "\tcommitter = Test Maint <maint@example.org>\n"
		    "\tcommitterDate = fixed:1795000000\n"
		    "\tlink = https://lore.example.org/r/%%s\n"
		    "%s",
		    name, name, conf);
	fx_write(w->conf, b.ptr);
	pq_buf_free(&b);
	if ((rc = pq_config_load(&w->c, w->conf)) < 0) {
		fprintf(stderr, "world %s: %s\n", name, pq_error_last());
		return -1;
	}
	return fx_world_reopen(w) < 0 ? -1 : 0;
}

static FX_UNUSED void fx_world_close(struct fx_world *w)
{
	fx_world_shut(w);
	pq_config_free(w->c);
	free(w->name);
	free(w->git);
	free(w->conf);
	free(w->db);
	memset(w, 0, sizeof(*w));
}

/*
 * Runs fn(w, arg) in a child process with PATCHQ_CRASH=point, on a store
 * and repository of its own (SQLite connections do not cross a fork: the
 * parent's are closed meanwhile and opened again after). Returns 1 when
 * SIGKILL ended the child, as the crash point does, else 0 (and says how
 * it ended).
 */
static FX_UNUSED int fx_killed_at(struct fx_world *w, const char *point,
				  void (*fn)(struct fx_world *, void *), void *arg)
{
	pid_t pid;
	int status = 0;

	fx_world_shut(w);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		setenv("PATCHQ_CRASH", point, 1);
		if (fx_world_reopen(w) < 0)
			_exit(2);
		fn(w, arg);
		_exit(3); /* the crash point was not reached */
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	fx_world_reopen(w);
	if (pid > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1;
	fprintf(stderr, "  child at crash point %s: %s %d\n", point,
		WIFSIGNALED(status) ? "killed by signal" : "exited with status",
		WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	return 0;
}

/* The commit branch points at in w's queue repository, hex, malloc'd ("" when missing). */
static FX_UNUSED char *fx_tip(const struct fx_world *w, const char *branch)
{
	return fx_out(fx_root, "git --git-dir='%s' rev-parse -q --verify 'refs/heads/%s'", w->git,
		      branch);
}

/* `git log --format=FORMAT RANGE` in w's queue repository, malloc'd. */
static FX_UNUSED char *fx_log(const struct fx_world *w, const char *format, const char *range)
{
	return fx_out(fx_root, "git --git-dir='%s' log --format='%s' %s", w->git, format, range);
}

/* ---- reading the database ---- */

/*
 * Column 0 of the first row of sql (a string literal, for the store's
 * cache) with id bound at ?1 and text at ?2 when sql has them, malloc'd;
 * NULL when there is no row or it is NULL.
 */
static FX_UNUSED char *fx_text(struct pq_store *s, const char *sql, long long id, const char *text)
{
	sqlite3_stmt *st = pq_store_stmt(s, sql);
	char *out = NULL;

	if (!st)
		return NULL;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 2)
		pq_store_bind_text(st, 2, text);
	if (sqlite3_step(st) == SQLITE_ROW)
		out = pq_store_col_dup(st, 0);
	sqlite3_reset(st);
	return out;
}

/* As fx_text(), the column as a number (-1 when there is no row). */
static FX_UNUSED long long fx_num(struct pq_store *s, const char *sql, long long id,
				  const char *text)
{
	sqlite3_stmt *st = pq_store_stmt(s, sql);
	long long out = -1;

	if (!st)
		return -1;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 2)
		pq_store_bind_text(st, 2, text);
	if (sqlite3_step(st) == SQLITE_ROW)
		out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return out;
}

/* The series the message msgid went into (0: none). */
static FX_UNUSED long long fx_series_of(struct pq_store *s, const char *msgid)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT series_id FROM message WHERE msgid = ?");
	long long id = 0;

	if (!st)
		return 0;
	pq_store_bind_text(st, 1, msgid);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

/* series.state of id, malloc'd, NULL when there is no such series. */
static FX_UNUSED char *fx_series_state(struct pq_store *s, long long id)
{
	return fx_text(s, "SELECT state FROM series WHERE id = ?", id, NULL);
}

/* series_queue.state of id on queue, malloc'd, NULL when it was never taken there. */
static FX_UNUSED char *fx_queue_state(struct pq_store *s, long long id, const char *queue)
{
	return fx_text(s, "SELECT state FROM series_queue WHERE series_id = ? AND queue = ?", id,
		       queue);
}

/* series_queue.reason of id on queue, malloc'd, NULL when none. */
static FX_UNUSED char *fx_queue_reason(struct pq_store *s, long long id, const char *queue)
{
	return fx_text(s, "SELECT reason FROM series_queue WHERE series_id = ? AND queue = ?", id,
		       queue);
}

/* The active application rows of id on queue: their commits, one per line, in order. */
static FX_UNUSED char *fx_applied_commits(struct pq_store *s, long long id, const char *queue)
{
	return fx_text(s,
		       "SELECT group_concat(commit_id, char(10)) FROM (SELECT commit_id"
		       " FROM application WHERE series_id = ? AND queue = ? AND active"
		       " ORDER BY id)",
		       id, queue);
}

/* Checks that got (malloc'd, freed here) is want; NULL is only NULL. */
static FX_UNUSED void fx_check_text(char *got, const char *want, const char *expr, int line)
{
	check_count++;
	if (!got != !want || (got && strcmp(got, want))) {
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, line, expr,
			got ? got : "(null)", want ? want : "(null)");
		check_failures++;
	}
	free(got);
}

#define CHECK_TEXT(got, want) fx_check_text(got, want, #got, __LINE__)

/* What `why` says of series id in w, malloc'd (a failure is a failed check). */
static FX_UNUSED char *fx_why(struct fx_world *w, long long id)
{
	struct pq_buf b = PQ_BUF_INIT;
	int rc = pq_triage_explain(w->s, w->c, w->repo, id, 0, &b);

	CHECK_INT(rc, 0);
	if (rc)
		fprintf(stderr, "why %lld: %s\n", id, pq_error_last());
	return pq_buf_detach(&b);
}

/* why's line for rule name, without the "rule ... (file:line): " part. */
static FX_UNUSED char *fx_why_rule(struct fx_world *w, long long id, const char *name)
{
	char *all = fx_why(w, id), *out = NULL, *p, *nl;
	struct pq_buf head = PQ_BUF_INIT;

	pq_buf_addf(&head, "rule \"%s\" (", name);
	for (p = all; p && *p; p = nl + 1) {
		char *colon;

		nl = strchr(p, '\n');
		if (!nl)
			break;
		if (!strncmp(p, head.ptr, head.len) && (colon = strstr(p, "): ")) && colon < nl) {
			out = pq_strndup(colon + 3, (size_t)(nl - colon - 3));
			break;
		}
	}
	if (!out)
		fprintf(stderr, "no line for rule %s in:\n%s", name, all);
	pq_buf_free(&head);
	free(all);
	return out;
}

#endif
