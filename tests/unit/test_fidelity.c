/*
 * test_fidelity: patchq's applier makes the tree `git am` makes, or
 * refuses where git refuses, with git's reason.
 *
 * Every shape where libgit2 and git can read a patch differently is made
 * here as a commit of a repository "src" (a base with an executable, a
 * symlink to a file and one to a directory, a gitlink, a binary file, an
 * empty file, CRLF content, a file without a final newline) and taken as
 * mail with `git format-patch`; a few shapes git never writes (a mode-only
 * change between a file and a symlink) are written by hand. Each mail is
 * then applied on the base twice:
 *   - by `git am` in a work tree of src ("am"),
 *   - by patchq: the mail through the mail and patch parsers the daemon
 *     uses, then pq_applier_run() on a bare clone ("pq.git"), once with
 *     the `git apply` fallback and once with libgit2 alone.
 * With the fallback the trees are equal, or both refuse for the same
 * reason: patchq's error carries git's first "error:" line, or says in
 * plain words (diagnose.h) what is wrong with the path git names. libgit2
 * alone must never make another tree: it gives git's tree or refuses, and
 * where a check of patchq's stands in for git's (symbolic links, file
 * types) it refuses for git's reason.
 */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "applier.h"
#include "buf.h"
#include "check.h"
#include "error.h"
#include "mail.h"
#include "patch.h"
#include "repo.h"

/* Stages everything in src but the gitlinks "sub" and "sub2", which have no work tree. */
#define ADD "git add -A -- . ':(exclude)sub' ':(exclude)sub2'"
/* Commits what a shape's commands did so far: an intermediate state. */
#define STEP " && " ADD " && git commit -q -m step && "

static char tmp_root[] = "/tmp/pq-test-fidelity-XXXXXX";
static char *src_dir, *am_dir, *pq_dir, *base_id;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char *path_in(const char *rel)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b, "%s/%s", tmp_root, rel);
	return pq_buf_detach(&b);
}

/* Runs the shell command fmt in dir, quietly; returns its exit status. */
static int sh(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(const char *dir, const char *fmt, ...)
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

/* The stdout (and stderr, with err) of the shell command fmt run in dir, trailing space removed. */
static char *out(const char *dir, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static char *out(const char *dir, int err, const char *fmt, ...)
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
	pq_buf_adds(&cmd, err ? ") 2>&1" : ") 2>/dev/null");
	f = popen(cmd.ptr, "r");
	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&res, chunk, n);
	if (f)
		pclose(f);
	pq_buf_free(&cmd);
	pq_buf_rtrim(&res);
	return pq_buf_detach(&res);
}

static int write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fputs(data, f) >= 0;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

/* What became of a mail: the tree made, or why not. */
struct outcome {
	char *tree;   /* hex, NULL when refused */
	char *error;  /* git's first "error:" line, or patchq's error; NULL when applied */
	char *cached; /* git am's refusal: what `git apply --cached` says (no work tree) */
	int path;     /* patchq's: libgit2 or git apply */
};

static void outcome_free(struct outcome *o)
{
	free(o->tree);
	free(o->error);
	free(o->cached);
	memset(o, 0, sizeof(*o));
}

/* The first "error: " line of git's output, without the prefix. */
static char *first_error(const char *text)
{
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, "error: ", 7)) {
			const char *nl = strchr(p, '\n');

			p += 7;
			return nl ? pq_strndup(p, (size_t)(nl - p)) : pq_strdup(p);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return pq_strdup(text);
}

/* `git am` of the mail file on the base, in the work tree "am". */
static void am_outcome(const char *mail_path, struct outcome *o)
{
	char *log;

	memset(o, 0, sizeof(*o));
	/* a failed git am is aborted below, and leaves no file behind */
	if (sh(am_dir, "git checkout -q -f --detach %s", base_id)) {
		o->error = pq_strdup("cannot check out the base");
		return;
	}
	log = out(am_dir, 1, "git -c am.threeway=false -c am.keepcr=false am -q '%s'", mail_path);
	if (sh(am_dir, "git rev-parse HEAD | grep -qx %s", base_id) == 0) {
		o->error = first_error(log);
		sh(am_dir, "git am --abort");
		free(log);
		log = out(am_dir, 1,
			  "git mailinfo /dev/null patch <'%s' >/dev/null && "
			  "git apply --cached patch; git reset -q",
			  mail_path);
		o->cached = first_error(log);
	} else {
		o->tree = out(am_dir, 0, "git rev-parse HEAD^{tree}");
	}
	free(log);
}

/* patchq's applier on the mail, as the daemon reads it, onto branch of pq.git. */
static void pq_outcome(const char *mail, const char *branch, int fallback, struct outcome *o)
{
	struct pq_applier_opts opts = {
		.committer_name = "Queue Bot",
		.committer_email = "queue@example.org",
		.git_fallback = fallback,
	};
	struct pq_applier_patch p = {
		.msgid = "<fidelity@example.org>",
		.author_name = "A. U. Thor",
		.author_email = "author@example.org",
		.author_time = 1700000000,
		.committer_time = 1700000000,
		.message = "shape\n",
	};
	struct pq_applier_result res = { "", 0, NULL, "" };
	struct pq_mail m;
	struct pq_patch pp;
	struct pq_repo *r = NULL;
	int rc;

	memset(o, 0, sizeof(*o));
	memset(&pp, 0, sizeof(pp));
	if (pq_mail_parse(&m, mail, strlen(mail), NULL) < 0 ||
	    pq_patch_parse(&pp, m.body.ptr, m.body.len) < 0) {
		o->error = pq_strdup(pq_error_last());
		goto out;
	}
	p.diff = pp.diff.ptr;
	p.diff_len = pp.diff.len;
	rc = pq_repo_open(&r, pq_dir);
	if (rc == 0)
		rc = pq_applier_run(r, branch, base_id, &p, 1, &opts, &res);
	if (rc == 0) {
		o->tree = out(pq_dir, 0, "git rev-parse %s^{tree}", res.commit);
		o->path = res.path;
	} else {
		o->error = pq_strdup(res.error ? res.error : pq_error_last());
	}
	free(res.error);
	pq_repo_free(r);
out:
	pq_patch_free(&pp);
	pq_mail_free(&m);
}

enum git_says {
	GIT_APPLIES,
	GIT_REFUSES,
};

/* A mail around a hand-written diff, as format-patch would send it. */
static char *mail_around(const char *subject, const char *diff)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b,
		    "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
		    "From: Src <src@example.org>\nDate: Sun, 13 Sep 2020 12:26:40 +0000\n"
		    "Subject: [PATCH] %s\n\n%s\n---\n%s-- \n2.39.5\n\n",
		    subject, subject, diff);
	return pq_buf_detach(&b);
}

static int shapes_run, shapes_libgit2;

/*
 * The path git's refusal names: "patch failed: PATH:LINE", "unable to
 * write file 'PATH' ...", "PATH: does not exist in index" and its kin.
 * NULL when it names none. malloc'd.
 */
static char *git_path(const char *why)
{
	const char *p, *end;

	if (!why)
		return NULL;
	if ((p = strstr(why, "patch failed: ")) && (end = strrchr(p, ':')) && end > p + 14)
		return pq_strndup(p + 14, (size_t)(end - p - 14));
	if ((p = strchr(why, '\'')) && (end = strchr(p + 1, '\'')))
		return pq_strndup(p + 1, (size_t)(end - p - 1));
	if ((end = strstr(why, ": ")))
		return pq_strndup(why, (size_t)(end - why));
	return NULL;
}

/*
 * Whether ours gives git's reason: in git's words (git apply --cached's,
 * when git am's speak of a work tree), or in plain words (diagnose.h)
 * that begin with the path git names.
 */
static int same_reason(const char *ours, const struct outcome *am)
{
	char *path;
	int same;

	if (!ours || !am->error)
		return 0;
	if (strstr(ours, am->error) || (am->cached && strstr(ours, am->cached)))
		return 1;
	if (strstr(ours, "libgit2:") || strstr(ours, "git apply"))
		return 0;
	path = git_path(am->error);
	same = path && !strncmp(ours, path, strlen(path));
	free(path);
	path = same ? NULL : git_path(am->cached);
	same = same || (path && !strncmp(ours, path, strlen(path)));
	free(path);
	return same;
}

/*
 * Applies mail both ways and checks patchq against git am. git is what
 * git am must do (so a shape cannot pass by both refusing by accident);
 * ours_in_git_words: patchq refuses in git's words even without git.
 */
static void compare(const char *name, const char *mail, enum git_says git, int ours_in_git_words)
{
	struct outcome am, with_git, alone;
	struct pq_buf branch = PQ_BUF_INIT, mail_path = PQ_BUF_INIT;
	int failures = check_failures;

	shapes_run++;
	pq_buf_addf(&mail_path, "%s/%s.mbox", tmp_root, name);
	CHECK_INT(write_file(mail_path.ptr, mail), 0);
	am_outcome(mail_path.ptr, &am);
	pq_buf_addf(&branch, "fallback/%s", name);
	pq_outcome(mail, branch.ptr, 1, &with_git);
	pq_buf_reset(&branch);
	pq_buf_addf(&branch, "libgit2/%s", name);
	pq_outcome(mail, branch.ptr, 0, &alone);

	CHECK_INT(am.tree ? GIT_APPLIES : GIT_REFUSES, git);
	if (am.tree) {
		CHECK_STR(with_git.tree, am.tree);
		/* libgit2 alone: git's tree, or nothing */
		CHECK(!alone.tree || !strcmp(alone.tree, am.tree));
		if (alone.tree)
			shapes_libgit2++;
		else if (getenv("PQ_FIDELITY_VERBOSE"))
			printf("  %s: git applies it, libgit2 alone does not: %s\n", name,
			       alone.error);
	} else {
		CHECK_STR(with_git.tree, NULL);
		CHECK_STR(alone.tree, NULL);
		CHECK(same_reason(with_git.error, &am));
		if (ours_in_git_words)
			CHECK(same_reason(alone.error, &am));
	}
	if (check_failures != failures)
		fprintf(stderr,
			"  shape %s:\n    git am:           %s\n    patchq:           %s\n"
			"    patchq, libgit2:  %s\n",
			name, am.tree ? am.tree : am.error,
			with_git.tree ? with_git.tree : with_git.error,
			alone.tree ? alone.tree : alone.error);
	outcome_free(&am);
	outcome_free(&with_git);
	outcome_free(&alone);
	pq_buf_free(&branch);
	pq_buf_free(&mail_path);
}

/*
 * A shape made with git: cmds run in src on a new branch from the base
 * (committing intermediate states with STEP where the patch must come
 * from another state than the base), the rest is committed and the last
 * commit taken with `git format-patch fp_args` (and edited with sed, for
 * shapes git writes otherwise).
 */
static void shape_sed(const char *name, const char *cmds, const char *fp_args, const char *sed,
		      enum git_says git, int ours_in_git_words)
{
	char *mail;

	if (sh(src_dir,
	       "git checkout -q -f -B shape/%s base && (%s) && " ADD
	       " && git commit -q --allow-empty -m '%s'",
	       name, cmds, name)) {
		fprintf(stderr, "  shape %s: cannot make it\n", name);
		CHECK(0);
		return;
	}
	mail = out(src_dir, 0, "git format-patch -1 --stdout %s HEAD | sed '%s'",
		   fp_args ? fp_args : "", sed ? sed : "");
	{
		struct pq_buf b = PQ_BUF_INIT;

		/* out() took the blank line after the signature */
		pq_buf_addf(&b, "%s\n\n", mail);
		free(mail);
		mail = pq_buf_detach(&b);
	}
	compare(name, mail, git, ours_in_git_words);
	free(mail);
}

static void shape(const char *name, const char *cmds, const char *fp_args, enum git_says git,
		  int ours_in_git_words)
{
	shape_sed(name, cmds, fp_args, NULL, git, ours_in_git_words);
}

/* A shape written by hand: diff applied to the base. */
static void shape_by_hand(const char *name, const char *diff, enum git_says git,
			  int ours_in_git_words)
{
	char *mail = mail_around(name, diff);

	compare(name, mail, git, ours_in_git_words);
	free(mail);
}

static void test_renames_and_copies(void)
{
	shape("rename-exec-pure", "git mv exec.sh run.sh", NULL, GIT_APPLIES, 0);
	shape("rename-exec-edited", "git mv exec2.sh run2.sh && echo 21 >> run2.sh", NULL,
	      GIT_APPLIES, 0);
	shape("copy-exec-pure", "cp exec2.sh copy2.sh", "-C -C", GIT_APPLIES, 0);
	shape("copy-exec-edited", "cp exec2.sh copy2.sh && echo 21 >> copy2.sh", "-C -C",
	      GIT_APPLIES, 0);
	shape("rename-symlink-pure", "git mv link link2", NULL, GIT_APPLIES, 0);
	shape("rename-symlink-dir-pure", "git mv dirlink dirlink2", NULL, GIT_APPLIES, 0);
	shape("rename-symlink-edited", "git mv longlink longlink2 && ln -sfn dir/a.txt.x longlink2",
	      "-M10%", GIT_APPLIES, 0);
	shape("copy-symlink", "cp -P link link3", "-C -C", GIT_APPLIES, 0);
	shape("copy-and-edit-source", "cp plain.txt p2 && echo 21 >> plain.txt", "-C -C",
	      GIT_APPLIES, 0);
	shape("rename-and-edit-both",
	      "git mv plain.txt p2.txt && echo 21 >> p2.txt && "
	      "echo more >> exec.sh",
	      NULL, GIT_APPLIES, 0);
	shape("rename-swap", "git mv exec2.sh t && git mv plain.txt exec2.sh && git mv t plain.txt",
	      "-B -M", GIT_APPLIES, 0);
	shape("rename-onto-deleted", "git rm -q plain.txt && git mv exec2.sh plain.txt", "-M",
	      GIT_APPLIES, 0);
}

static void test_modes(void)
{
	shape("mode-exec-on", "chmod +x plain.txt", NULL, GIT_APPLIES, 0);
	shape("mode-exec-off", "chmod -x exec.sh", NULL, GIT_APPLIES, 0);
	shape("mode-and-edit", "chmod -x exec2.sh && echo 21 >> exec2.sh", NULL, GIT_APPLIES, 0);
	/* made where the file is not executable: git keeps the base's mode */
	shape("edit-exec-from-plain", "chmod -x exec2.sh" STEP "echo 21 >> exec2.sh", NULL,
	      GIT_APPLIES, 0);
	shape("edit-plain-from-exec", "chmod +x plain.txt" STEP "echo 21 >> plain.txt", NULL,
	      GIT_APPLIES, 0);
	shape("rename-exec-from-plain", "chmod -x exec.sh" STEP "git mv exec.sh r.sh", NULL,
	      GIT_APPLIES, 0);
	shape("delete-exec", "git rm -q exec.sh", NULL, GIT_APPLIES, 0);
	shape("delete-exec-from-plain", "chmod -x exec.sh" STEP "git rm -q exec.sh", NULL,
	      GIT_APPLIES, 0);
	shape_by_hand("mode-file-to-symlink",
		      "diff --git a/plain.txt b/plain.txt\nold mode 100644\nnew mode 120000\n",
		      GIT_REFUSES, 1);
	shape_by_hand("mode-symlink-to-file",
		      "diff --git a/link b/link\nold mode 120000\nnew mode 100644\n", GIT_REFUSES,
		      1);
	shape_by_hand("mode-file-to-gitlink",
		      "diff --git a/plain.txt b/plain.txt\nold mode 100644\nnew mode 160000\n",
		      GIT_REFUSES, 1);
	shape_by_hand("mode-of-wrong-type",
		      "diff --git a/link b/link\nold mode 100644\nnew mode 100755\n", GIT_REFUSES,
		      1);
	shape_by_hand("delete-of-wrong-type",
		      "diff --git a/link b/link\ndeleted file mode 100644\n"
		      "index 0bb3aa5..0000000\n--- a/link\n+++ /dev/null\n@@ -1 +0,0 @@\n"
		      "-plain.txt\n\\ No newline at end of file\n",
		      GIT_REFUSES, 1);
	shape_by_hand("edit-of-wrong-type",
		      "diff --git a/link b/link\nindex 0bb3aa5..9ef2ac5 100644\n--- a/link\n"
		      "+++ b/link\n@@ -1 +1 @@\n-plain.txt\n\\ No newline at end of file\n"
		      "+exec.sh\n\\ No newline at end of file\n",
		      GIT_REFUSES, 1);
	shape_by_hand("rename-and-mode-to-symlink",
		      "diff --git a/plain.txt b/p.txt\nold mode 100644\nnew mode 120000\n"
		      "similarity index 100%\nrename from plain.txt\nrename to p.txt\n",
		      GIT_REFUSES, 1);
}

static void test_type_changes(void)
{
	shape("file-to-symlink", "rm plain.txt && ln -s exec.sh plain.txt", NULL, GIT_APPLIES, 0);
	shape("symlink-to-file", "rm link && seq 5 > link", NULL, GIT_APPLIES, 0);
	shape("exec-to-symlink", "rm exec.sh && ln -s plain.txt exec.sh", NULL, GIT_APPLIES, 0);
	shape("file-to-directory", "git rm -q plain.txt && mkdir plain.txt && echo x > plain.txt/x",
	      NULL, GIT_APPLIES, 0);
	shape("directory-to-file", "git rm -q -r dir && echo d > dir", NULL, GIT_APPLIES, 0);
	shape("symlink-to-directory", "git rm -q dirlink && mkdir dirlink && echo n > dirlink/n",
	      NULL, GIT_APPLIES, 0);
	shape("directory-to-symlink", "git rm -q -r dir && ln -s plain.txt dir", NULL, GIT_APPLIES,
	      0);
	/* a new path where the base has a file or a directory in the way */
	shape("new-file-beneath-file",
	      "git rm -q plain.txt && mkdir plain.txt && echo a > plain.txt/a" STEP
	      "echo n > plain.txt/n",
	      NULL, GIT_REFUSES, 1);
	shape("new-file-over-directory", "git rm -q -r dir" STEP "echo n > dir", NULL, GIT_REFUSES,
	      1);
	shape("new-symlink-over-directory", "git rm -q -r dir" STEP "ln -s plain.txt dir", NULL,
	      GIT_REFUSES, 1);
}

static void test_beneath_symlinks(void)
{
	/* made where dirlink is a directory, applied where it is a symlink */
	shape("new-file-beneath-symlink",
	      "git rm -q dirlink && mkdir dirlink && echo a > dirlink/a" STEP "echo n > dirlink/n",
	      NULL, GIT_REFUSES, 1);
	shape("new-file-deep-beneath-symlink",
	      "git rm -q dirlink && mkdir -p dirlink/x && echo a > dirlink/a" STEP
	      "echo n > dirlink/x/n",
	      NULL, GIT_REFUSES, 1);
	shape("new-file-beneath-file-symlink",
	      "git rm -q link && mkdir link && echo a > link/a" STEP "echo n > link/n", NULL,
	      GIT_REFUSES, 1);
	shape("edit-beneath-symlink",
	      "git rm -q dirlink && mkdir dirlink && seq 3 > dirlink/a" STEP "seq 4 > dirlink/a",
	      NULL, GIT_REFUSES, 0);
	shape("rename-beneath-symlink",
	      "git rm -q dirlink && mkdir dirlink && echo a > dirlink/a" STEP
	      "git mv plain.txt dirlink/plain.txt",
	      NULL, GIT_REFUSES, 1);
	shape("copy-beneath-symlink",
	      "git rm -q dirlink && mkdir dirlink && echo a > dirlink/a" STEP
	      "cp plain.txt dirlink/plain.txt",
	      "-C -C", GIT_REFUSES, 1);
	/* the patch itself makes the symlink, then puts a file beneath it */
	shape_by_hand("new-symlink-and-file-beneath",
		      "diff --git a/nl b/nl\nnew file mode 120000\nindex 0000000..0bb3aa5\n"
		      "--- /dev/null\n+++ b/nl\n@@ -0,0 +1 @@\n+dir\n"
		      "\\ No newline at end of file\n"
		      "diff --git a/nl/x b/nl/x\nnew file mode 100644\nindex 0000000..587be6b\n"
		      "--- /dev/null\n+++ b/nl/x\n@@ -0,0 +1 @@\n+x\n",
		      GIT_REFUSES, 1);
}

static void test_gitlinks(void)
{
	shape("gitlink-update",
	      "git update-index --cacheinfo 160000,2222222222222222222222222222222222222222,sub",
	      NULL, GIT_APPLIES, 0);
	shape("gitlink-add",
	      "git update-index --add --cacheinfo "
	      "160000,3333333333333333333333333333333333333333,sub2",
	      NULL, GIT_APPLIES, 0);
	shape("gitlink-delete", "git rm -q --cached sub", NULL, GIT_APPLIES, 0);
	shape("gitlink-to-file", "git rm -q --cached sub && rmdir sub && echo f > sub", NULL,
	      GIT_APPLIES, 0);
}

static void test_binary(void)
{
	shape("binary-literal-new", "seq 5000 9000 | gzip -n > new.bin", NULL, GIT_APPLIES, 0);
	shape("binary-delta", "seq 1 3000 | sed 's/^1000$/x/' | gzip -n > bin.dat", NULL,
	      GIT_APPLIES, 0);
	shape("binary-literal-edit", "seq 7000 9000 | gzip -n > bin.dat", NULL, GIT_APPLIES, 0);
	shape("binary-delete", "git rm -q bin.dat", NULL, GIT_APPLIES, 0);
	shape("binary-exec-rename", "git mv binexec.dat binexec2.dat", NULL, GIT_APPLIES, 0);
	/* git needs the full blob ids to apply a binary patch */
	shape_sed(
		"binary-abbreviated-index", "seq 1 3000 | sed 's/^1000$/x/' | gzip -n > bin.dat",
		NULL,
		"s/^index \\([0-9a-f]\\{7\\}\\)[0-9a-f]*\\.\\.\\([0-9a-f]\\{7\\}\\)[0-9a-f]*/index \\1..\\2/",
		GIT_REFUSES, 1);
	shape("binary-from-other-content",
	      "seq 1 10 | gzip -n > bin.dat" STEP "seq 1 20 | gzip -n > bin.dat", NULL, GIT_REFUSES,
	      1);
}

static void test_empty_files(void)
{
	shape("empty-new", ": > empty2", NULL, GIT_APPLIES, 0);
	shape("empty-new-exec", ": > empty3 && chmod +x empty3", NULL, GIT_APPLIES, 0);
	shape("empty-delete", "git rm -q empty", NULL, GIT_APPLIES, 0);
	shape("empty-filled", "echo x > empty", NULL, GIT_APPLIES, 0);
	shape("emptied", ": > plain.txt", NULL, GIT_APPLIES, 0);
	shape("empty-rename", "git mv empty empty4", NULL, GIT_APPLIES, 0);
	shape("empty-new-exists", "git rm -q empty" STEP ": > empty", NULL, GIT_REFUSES, 0);
}

static void test_crlf(void)
{
	shape("crlf-new", "printf 'a\\r\\nb\\r\\n' > new-crlf.txt", NULL, GIT_APPLIES, 0);
	shape("crlf-added-to-lf", "printf 'x\\r\\n' >> plain.txt", NULL, GIT_APPLIES, 0);
	shape("crlf-edit", "printf 'one\\r\\nTWO\\r\\nthree\\r\\n' > crlf.txt", NULL, GIT_REFUSES,
	      0);
	shape("crlf-delete", "git rm -q crlf.txt", NULL, GIT_REFUSES, 0);
	shape("lone-cr", "printf 'a\\rb\\n' >> plain.txt", NULL, GIT_APPLIES, 0);
}

/* Names git quotes in a header ("a b" is not quoted, "\303\251" and a tab are). */
static void test_path_names(void)
{
	shape("name-with-space-new", "seq 3 > 'a b.txt'", NULL, GIT_APPLIES, 0);
	shape("name-with-space-rename", "git mv plain.txt 'p l a i n.txt'", NULL, GIT_APPLIES, 0);
	shape("name-utf8-new", "seq 3 > \"$(printf 'caf\\303\\251.txt')\"", NULL, GIT_APPLIES, 0);
	shape("name-utf8-rename", "git mv exec.sh \"$(printf '\\303\\251x\\303\\251c.sh')\"", NULL,
	      GIT_APPLIES, 0);
	shape("name-with-tab-and-quote", "seq 3 > \"$(printf 'q\\t\\042.txt')\"", NULL, GIT_APPLIES,
	      0);
	shape("name-like-prefix", "mkdir -p b/a && seq 3 > b/a/b", NULL, GIT_APPLIES, 0);
	shape("new-exec", "seq 3 > run.sh && chmod +x run.sh", NULL, GIT_APPLIES, 0);
	/* paths git never writes into an index (verify_path) */
	shape_by_hand(
		"path-into-dot-git",
		"diff --git a/.git/hooks/x b/.git/hooks/x\nnew file mode 100755\n"
		"index 0000000..587be6b\n--- /dev/null\n+++ b/.git/hooks/x\n@@ -0,0 +1 @@\n+x\n",
		GIT_REFUSES, 0);
	shape_by_hand(
		"path-with-dotdot",
		"diff --git a/dir/../../x b/dir/../../x\nnew file mode 100644\n"
		"index 0000000..587be6b\n--- /dev/null\n+++ b/dir/../../x\n@@ -0,0 +1 @@\n+x\n",
		GIT_REFUSES, 0);
	shape_by_hand("path-ntfs-short-name",
		      "diff --git a/git~1/x b/git~1/x\nnew file mode 100644\n"
		      "index 0000000..587be6b\n--- /dev/null\n+++ b/git~1/x\n@@ -0,0 +1 @@\n+x\n",
		      GIT_REFUSES, 0);
	shape_by_hand("path-dot-git-upper",
		      "diff --git a/.GIT/x b/.GIT/x\nnew file mode 100644\n"
		      "index 0000000..587be6b\n--- /dev/null\n+++ b/.GIT/x\n@@ -0,0 +1 @@\n+x\n",
		      GIT_REFUSES, 0);
	/* old git wrote group-writable modes: git reads them as 100644 */
	shape_sed("new-file-mode-664", "seq 3 > g.txt", NULL,
		  "s/^new file mode 100644/new file mode 100664/", GIT_APPLIES, 0);
	shape("two-files-one-patch-each-way",
	      "echo 21 >> plain.txt && git rm -q dir/b.txt && "
	      "echo c > dir/c.txt && chmod -x exec2.sh",
	      NULL, GIT_APPLIES, 0);
}

static void test_final_newline(void)
{
	shape("newline-added", "echo >> nonl.txt", NULL, GIT_APPLIES, 0);
	shape("newline-removed", "printf %%s \"$(cat plain.txt)\" > plain.txt", NULL, GIT_APPLIES,
	      0);
	shape("last-line-without-newline-edited", "printf 'first\\nLAST' > nonl.txt", NULL,
	      GIT_APPLIES, 0);
	shape("line-added-after-no-newline", "printf 'first\\nlast\\nmore' > nonl.txt", NULL,
	      GIT_APPLIES, 0);
	shape("new-file-without-newline", "printf 'x' > nonl2.txt", NULL, GIT_APPLIES, 0);
	shape("symlink-retargeted", "ln -sfn exec.sh link", NULL, GIT_APPLIES, 0);
}

/* The source repository and its base, a work tree of it for git am, a bare clone for patchq. */
static int fixture_new(void)
{
	if (!mkdtemp(tmp_root))
		return -1;
	setenv("HOME", tmp_root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "Src", 1);
	setenv("GIT_AUTHOR_EMAIL", "src@example.org", 1);
	setenv("GIT_COMMITTER_NAME", "Src", 1);
	setenv("GIT_COMMITTER_EMAIL", "src@example.org", 1);
	setenv("GIT_AUTHOR_DATE", "1600000000 +0000", 1);
	setenv("GIT_COMMITTER_DATE", "1600000000 +0000", 1);
	src_dir = path_in("src");
	am_dir = path_in("am");
	pq_dir = path_in("pq.git");
	if (sh(tmp_root, "git init -q -b master src") ||
	    sh(src_dir,
	       "git config core.autocrlf false && "
	       "printf '#!/bin/sh\\necho exec\\n' > exec.sh && seq 1 20 > exec2.sh && "
	       "chmod +x exec.sh exec2.sh && seq 1 20 > plain.txt && ln -s plain.txt link && "
	       "ln -s dir dirlink && ln -s plain.txt.with.a.long.enough.target longlink && "
	       "mkdir dir && seq 30 40 > dir/a.txt && echo b > dir/b.txt && "
	       "printf 'one\\r\\ntwo\\r\\nthree\\r\\n' > crlf.txt && "
	       "printf 'first\\nlast' > nonl.txt && : > empty && "
	       "seq 1 3000 | gzip -n > bin.dat && seq 1 500 | gzip -n > binexec.dat && "
	       "chmod +x binexec.dat && " ADD " && git update-index --add --cacheinfo "
	       "160000,1111111111111111111111111111111111111111,sub && "
	       "git commit -q -m base && git tag base && mkdir -p sub") ||
	    sh(src_dir, "git worktree add -q --detach ../am base") ||
	    sh(tmp_root, "git clone -q --bare --shared src pq.git"))
		return -1;
	base_id = out(src_dir, 0, "git rev-parse base");
	return 0;
}

int main(void)
{
	if (system("git --version >/dev/null 2>&1")) {
		printf("git not found: skipped\n");
		return 77;
	}
	if (fixture_new() < 0) {
		fprintf(stderr, "cannot build the git fixture in %s\n", tmp_root);
		return 1;
	}
	test_renames_and_copies();
	test_modes();
	test_type_changes();
	test_beneath_symlinks();
	test_gitlinks();
	test_binary();
	test_empty_files();
	test_crlf();
	test_path_names();
	test_final_newline();
	printf("%d shapes, %d of those git applies applied by libgit2 alone\n", shapes_run,
	       shapes_libgit2);

	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(src_dir);
	free(am_dir);
	free(pq_dir);
	free(base_id);
	CHECK_DONE();
}
