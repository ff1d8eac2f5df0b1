/*
 * test_queue: applying patches to queue branches and pushing them.
 *
 * The fixture is built here with git: a work repository "src" whose base
 * commit is cloned into a bare "dst.git"; each test makes its change on a
 * branch of src, takes the patch with `git format-patch` or `git diff`,
 * applies it to dst.git and compares the trees with what git committed.
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
#include "push.h"
#include "repo.h"

#define GIT "git -c user.name=Src -c user.email=src@example.org"

static char tmp_root[] = "/tmp/pq-test-queue-XXXXXX";
static char *src_dir, *dst_dir, *base_id;

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

/* The stdout of the shell command fmt run in dir, trailing newlines kept. */
static char *out_raw(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *out_vraw(const char *dir, const char *fmt, va_list ap)
{
	struct pq_buf cmd = PQ_BUF_INIT, res = PQ_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f;

	pq_buf_addf(&cmd, "cd '%s' && (", dir);
	pq_buf_vaddf(&cmd, fmt, ap);
	pq_buf_adds(&cmd, ") 2>/dev/null");
	f = popen(cmd.ptr, "r");
	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&res, chunk, n);
	if (f)
		pclose(f);
	pq_buf_free(&cmd);
	pq_buf_adds(&res, "");
	return pq_buf_detach(&res);
}

static char *out_raw(const char *dir, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = out_vraw(dir, fmt, ap);
	va_end(ap);
	return s;
}

/* The stdout of the shell command fmt run in dir, trailing space removed. */
/* The applier on the repository at dir, opened for the call (PQ_EIO when it cannot be). */
static int apply_at(const char *dir, const char *branch, const char *base,
		    const struct pq_applier_patch *patches, size_t n,
		    const struct pq_applier_opts *opts, struct pq_applier_result *results)
{
	struct pq_repo *r;
	int rc = pq_repo_open(&r, dir);

	if (rc == 0)
		rc = pq_applier_run(r, branch, base, patches, n, opts, results);
	pq_repo_free(r);
	return rc;
}

static int tip_at(const char *dir, const char *branch, char tip[41])
{
	struct pq_repo *r;
	int rc = pq_repo_open(&r, dir);

	tip[0] = '\0';
	if (rc == 0)
		rc = pq_repo_tip(r, branch, tip);
	pq_repo_free(r);
	return rc;
}

static int push_at(const char *dir, const char *remote, char *const *branches, size_t n)
{
	struct pq_repo *r;
	int rc = pq_repo_open(&r, dir);

	if (rc == 0)
		rc = pq_push_branches(r, remote, branches, n);
	pq_repo_free(r);
	return rc;
}

static char *out(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *out(const char *dir, const char *fmt, ...)
{
	va_list ap;
	char *s;
	size_t n;

	va_start(ap, fmt);
	s = out_vraw(dir, fmt, ap);
	va_end(ap);
	n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

/*
 * The diff part of `git format-patch` output, as the patch module gives
 * it: from the first "diff --git" line, without the "-- " signature.
 */
static char *diff_part(const char *mail)
{
	const char *start = strstr(mail, "\ndiff --git "), *end;

	if (!start)
		return pq_strdup("");
	start++;
	end = strstr(start, "\n-- \n");
	if (!end)
		end = start + strlen(start) - 1;
	return pq_strndup(start, (size_t)(end - start) + 1);
}

/* The diff of commit rev in src, by format-patch. */
static char *patch_of(const char *rev)
{
	char *mail = out_raw(src_dir, "git format-patch -1 --stdout %s", rev);
	char *d = diff_part(mail);

	free(mail);
	return d;
}

static char *src_tree(const char *rev)
{
	return out(src_dir, "git rev-parse %s^{tree}", rev);
}

static char *dst_rev(const char *rev)
{
	return out(dst_dir, "git rev-parse -q --verify %s", rev);
}

/* A patch with fixed identities and dates; diff is borrowed. */
static struct pq_applier_patch patch_with(const char *diff, const char *message, int k)
{
	struct pq_applier_patch p = {
		.msgid = "<patch@example.org>",
		.author_name = "A. U. Thor",
		.author_email = "author@example.org",
		.author_time = 1700000000 + k,
		.author_offset = 60,
		.committer_time = 1700100000 + k,
		.committer_offset = -300,
		.message = message,
		.diff = diff,
		.diff_len = strlen(diff),
	};
	return p;
}

static const struct pq_applier_opts opts_default = {
	.committer_name = "Queue Bot",
	.committer_email = "queue@example.org",
	.git_fallback = 1,
};

static const struct pq_applier_opts opts_libgit2_only = {
	.committer_name = "Queue Bot",
	.committer_email = "queue@example.org",
};

static void results_free(struct pq_applier_result *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(r[i].error);
}

/* Starts branch name of src at base. */
static void src_branch(const char *name)
{
	CHECK_INT(sh(src_dir, "git checkout -q -B %s base", name), 0);
}

/* Commits all changes in src with message msg. */
static void src_commit(const char *msg)
{
	CHECK_INT(sh(src_dir, "git add -A && " GIT " commit -q -m '%s'", msg), 0);
}

/*
 * Applies the diff of src's HEAD as one patch to a new branch of dst on
 * base and checks the commit's tree is HEAD's; returns the path taken.
 */
static int apply_head(const char *branch, const char *diff_cmd)
{
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	char *diff, *want, *got, *tip;
	int path;

	diff = diff_cmd ? out_raw(src_dir, "%s", diff_cmd) : patch_of("HEAD");
	p = patch_with(diff, "change\n", 0);
	CHECK_INT(apply_at(dst_dir, branch, base_id, &p, 1, &opts_default, res), 0);
	CHECK_STR(res[0].error, NULL);
	want = src_tree("HEAD");
	got = out(dst_dir, "git rev-parse %s^{tree}", res[0].commit);
	CHECK_STR(got, want);
	tip = dst_rev(branch);
	CHECK_STR(tip, res[0].commit);
	path = res[0].path;
	results_free(res, 1);
	free(diff);
	free(want);
	free(got);
	free(tip);
	return path;
}

static void test_plain_edit_applies_with_libgit2(void)
{
	src_branch("plain");
	CHECK_INT(sh(src_dir, "sed -i 's/^10$/ten/' a.txt"), 0);
	src_commit("plain edit");
	CHECK_INT(apply_head("q-plain", NULL), PQ_APPLIER_LIBGIT2);
}

static void test_new_file(void)
{
	src_branch("newfile");
	CHECK_INT(sh(src_dir, "printf 'new\\nfile\\n' > sub/new.txt"), 0);
	src_commit("new file");
	CHECK_INT(apply_head("q-newfile", NULL), PQ_APPLIER_LIBGIT2);
}

static void test_deleted_file(void)
{
	src_branch("delete");
	CHECK_INT(sh(src_dir, "git rm -q gone.txt"), 0);
	src_commit("delete");
	CHECK_INT(apply_head("q-delete", NULL), PQ_APPLIER_LIBGIT2);
}

/* libgit2 1.5 cannot read a header-only diff of an empty file: git does it. */
static void test_empty_new_file(void)
{
	src_branch("empty");
	CHECK_INT(sh(src_dir, ": > empty && printf 'y\\n' >> b.txt"), 0);
	src_commit("empty file");
	apply_head("q-empty", NULL);
}

static void test_rename(void)
{
	src_branch("rename");
	CHECK_INT(sh(src_dir, "git mv sub/c.txt sub/renamed.txt"), 0);
	src_commit("rename");
	CHECK_INT(apply_head("q-rename", NULL), PQ_APPLIER_LIBGIT2);
}

static void test_rename_with_content_change(void)
{
	src_branch("rename-edit");
	CHECK_INT(sh(src_dir, "git mv sub/c.txt c2.txt && sed -i 's/^110$/hundred ten/' c2.txt"),
		  0);
	src_commit("rename and edit");
	CHECK_INT(apply_head("q-rename-edit", NULL), PQ_APPLIER_LIBGIT2);
}

static void test_mode_change(void)
{
	src_branch("mode");
	CHECK_INT(sh(src_dir, "chmod +x exe.sh"), 0);
	src_commit("mode");
	CHECK_INT(apply_head("q-mode", NULL), PQ_APPLIER_LIBGIT2);
	CHECK_INT(sh(dst_dir, "git ls-tree q-mode exe.sh | grep -q '^100755 '"), 0);
}

static void test_rename_with_mode_change(void)
{
	src_branch("rename-mode");
	CHECK_INT(sh(src_dir, "git mv exe.sh run.sh && chmod +x run.sh"), 0);
	src_commit("rename and mode");
	apply_head("q-rename-mode", NULL);
}

static void test_binary_file(void)
{
	src_branch("binary");
	CHECK_INT(sh(src_dir, "seq 5000 9000 | gzip -n > bin2.dat && seq 1 10 >> bin.dat"), 0);
	src_commit("binary");
	CHECK_INT(apply_head("q-binary", "git diff --binary base HEAD"), PQ_APPLIER_LIBGIT2);
}

/* The applied diff is spliced back into the full tree: a directory it empties goes. */
static void test_last_file_of_directory_deleted(void)
{
	src_branch("rmdir");
	CHECK_INT(sh(src_dir, "git rm -q -r sub && test ! -e sub"), 0);
	src_commit("remove sub");
	CHECK_INT(apply_head("q-rmdir", NULL), PQ_APPLIER_LIBGIT2);
	CHECK_INT(sh(dst_dir, "git ls-tree q-rmdir | grep -q sub"), 1);
}

static void test_file_replaced_by_directory(void)
{
	src_branch("file-to-dir");
	CHECK_INT(sh(src_dir, "git rm -q gone.txt && mkdir gone.txt && echo in > gone.txt/inner"),
		  0);
	src_commit("file to directory");
	apply_head("q-file-to-dir", NULL);
}

static void test_directory_replaced_by_file(void)
{
	src_branch("dir-to-file");
	CHECK_INT(sh(src_dir, "git rm -q -r sub && echo now a file > sub"), 0);
	src_commit("directory to file");
	apply_head("q-dir-to-file", NULL);
}

/* A patch deep in a tree with siblings at every level keeps all of them. */
static void test_nested_edit_keeps_siblings(void)
{
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	char *diff, *want, *got;

	src_branch("nested");
	CHECK_INT(sh(src_dir, "mkdir -p x/y/z && seq 1 30 > x/y/z/deep.txt && seq 1 5 > x/y/s1 && "
			      "seq 1 6 > x/s2"),
		  0);
	src_commit("nested files");
	CHECK_INT(apply_head("q-nested", NULL), PQ_APPLIER_LIBGIT2);
	CHECK_INT(sh(src_dir, "sed -i 's/^15$/fifteen/' x/y/z/deep.txt && echo more >> x/s2 && "
			      "git rm -q x/y/s1"),
		  0);
	src_commit("nested edit");
	diff = patch_of("HEAD");
	p = patch_with(diff, "nested edit\n", 1);
	/* on the branch's tip, the commit made from the first diff */
	CHECK_INT(apply_at(dst_dir, "q-nested", NULL, &p, 1, &opts_default, res), 0);
	CHECK_INT(res[0].path, PQ_APPLIER_LIBGIT2);
	want = src_tree("HEAD");
	got = out(dst_dir, "git rev-parse q-nested^{tree}");
	CHECK_STR(got, want);
	results_free(res, 1);
	free(diff);
	free(want);
	free(got);
}

static void test_series_of_three_matches_git_trees(void)
{
	struct pq_applier_result res[3];
	struct pq_applier_patch p[3];
	char *diffs[3], *want, *got, *tip, *parent;
	const char *revs[3] = { "HEAD~2", "HEAD~1", "HEAD" };
	size_t i;

	src_branch("series");
	CHECK_INT(sh(src_dir, "sed -i 's/^5$/five/' a.txt"), 0);
	src_commit("one");
	CHECK_INT(sh(src_dir, "sed -i 's/^6$/six/' a.txt && printf 'z\\n' > sub/z.txt"), 0);
	src_commit("two");
	CHECK_INT(sh(src_dir, "git mv sub/z.txt z.txt && sed -i '$d' a.txt"), 0);
	src_commit("three");
	for (i = 0; i < 3; i++) {
		diffs[i] = patch_of(revs[i]);
		p[i] = patch_with(diffs[i], "series patch\n", (int)i);
	}
	CHECK_INT(apply_at(dst_dir, "q-series", base_id, p, 3, &opts_default, res), 0);
	for (i = 0; i < 3; i++) {
		want = src_tree(revs[i]);
		got = out(dst_dir, "git rev-parse %s^{tree}", res[i].commit);
		CHECK_STR(got, want);
		CHECK_INT(res[i].path, PQ_APPLIER_LIBGIT2);
		CHECK_STR(res[i].error, NULL);
		parent = out(dst_dir, "git rev-parse %s^", res[i].commit);
		CHECK_STR(parent, i ? res[i - 1].commit : base_id);
		free(want);
		free(got);
		free(parent);
		free(diffs[i]);
	}
	tip = dst_rev("q-series");
	CHECK_STR(tip, res[2].commit);
	free(tip);
	results_free(res, 3);
}

static void test_author_committer_message_exact(void)
{
	static const char msg[] = "net: fix the thing\n\nThe thing was broken.\n\n"
				  "Signed-off-by: J\xc3\xbcrgen Gro\xc3\x9f <jg@example.org>\n"
				  "Link: https://lore.kernel.org/r/patch@example.org\n";
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	struct pq_buf want = PQ_BUF_INIT;
	char *diff, *got, *tree;

	src_branch("exact");
	CHECK_INT(sh(src_dir, "sed -i 's/^20$/twenty/' a.txt"), 0);
	src_commit("exact");
	diff = patch_of("HEAD");
	p = patch_with(diff, msg, 0);
	p.author_name = "J\xc3\xbcrgen Gro\xc3\x9f";
	p.author_email = "jg@example.org";
	p.author_offset = 330;
	CHECK_INT(apply_at(dst_dir, "q-exact", base_id, &p, 1, &opts_default, res), 0);
	tree = src_tree("HEAD");
	pq_buf_addf(&want,
		    "tree %s\nparent %s\n"
		    "author J\xc3\xbcrgen Gro\xc3\x9f <jg@example.org> 1700000000 +0530\n"
		    "committer Queue Bot <queue@example.org> 1700100000 -0500\n\n%s",
		    tree, base_id, msg);
	got = out_raw(dst_dir, "git cat-file commit %s", res[0].commit);
	CHECK_STR(got, want.ptr);
	free(got);
	free(tree);
	free(diff);
	pq_buf_free(&want);
	results_free(res, 1);
}

/* The patches of a [good, does not apply, good] series. */
static void failing_series(char **diffs)
{
	src_branch("fail-other");
	CHECK_INT(sh(src_dir, "sed -i 's/^30$/thirty/' a.txt"), 0);
	src_commit("prerequisite never sent");
	CHECK_INT(sh(src_dir, "sed -i 's/^thirty$/THIRTY/' a.txt"), 0);
	src_commit("depends on it");
	diffs[1] = patch_of("HEAD");
	src_branch("fail");
	CHECK_INT(sh(src_dir, "sed -i 's/^1$/one/' a.txt"), 0);
	src_commit("good one");
	diffs[0] = patch_of("HEAD");
	CHECK_INT(sh(src_dir, "sed -i 's/^x$/ex/' b.txt"), 0);
	src_commit("good two");
	diffs[2] = patch_of("HEAD");
}

static void check_failure(const char *branch, const struct pq_applier_opts *o)
{
	struct pq_applier_result res[3];
	struct pq_applier_patch p[3];
	char *diffs[3], *before, *after;
	size_t i;
	int rc;

	failing_series(diffs);
	for (i = 0; i < 3; i++)
		p[i] = patch_with(diffs[i], "fail\n", (int)i);
	CHECK_INT(sh(dst_dir, "git branch %s %s", branch, base_id), 0);
	before = dst_rev(branch);
	rc = apply_at(dst_dir, branch, NULL, p, 3, o, res);
	CHECK_INT(rc, PQ_EGIT);
	after = dst_rev(branch);
	CHECK_STR(after, before);
	CHECK(strlen(res[0].commit) == 40);
	CHECK_STR(res[0].error, NULL);
	CHECK_STR(res[1].commit, "");
	CHECK(res[1].error && strstr(res[1].error, "a.txt"));
	CHECK(res[1].error && strstr(res[1].error, "hunk @@ -27,7 +27,7 @@"));
	CHECK_STR(res[1].error,
		  "a.txt, hunk @@ -27,7 +27,7 @@: hunk does not match: the context has changed");
	CHECK_STR(res[2].commit, "");
	CHECK_STR(res[2].error, NULL);
	CHECK(strstr(pq_error_last(), "patch 2 of 3") != NULL);
	CHECK(strstr(pq_error_last(), "a.txt") != NULL);
	/* the good first patch is not on the branch, not even in the
	 * repository: git read it from its quarantine */
	CHECK_INT(sh(dst_dir, "git merge-base --is-ancestor %s %s", res[0].commit, branch), 128);
	results_free(res, 3);
	for (i = 0; i < 3; i++)
		free(diffs[i]);
	free(before);
	free(after);
}

static void test_patch_not_applying_fails_and_leaves_branch(void)
{
	check_failure("q-fail", &opts_libgit2_only);
}

static void test_patch_not_applying_with_fallback_names_file_and_hunk(void)
{
	check_failure("q-fail-git", &opts_default);
}

/* Sets name to value (NULL: unsets it), returning the old value (free() it). */
static char *swap_env(const char *name, const char *value)
{
	const char *old = getenv(name);
	char *saved = old ? pq_strdup(old) : NULL;

	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
	return saved;
}

/*
 * The file and hunk come from git's "patch failed: FILE:LINE", which git
 * translates: in a German environment (git's catalogue is there when
 * /usr/share/locale/de/LC_MESSAGES/git.mo is) they are found all the same,
 * because git runs with LC_ALL=C.
 */
static void test_fallback_failure_is_read_in_any_locale(void)
{
	static const char *const names[] = { "LC_ALL", "LANGUAGE", "LANG" };
	static const char *const german[] = { "C.UTF-8", "de", "C.UTF-8" };
	char *saved[3];
	size_t i;

	for (i = 0; i < 3; i++)
		saved[i] = swap_env(names[i], german[i]);
	if (system("git apply /nonexistent 2>&1 | grep -q Fehler"))
		printf("git has no German messages here: the locale test proves less\n");
	check_failure("q-fail-de", &opts_default);
	for (i = 0; i < 3; i++) {
		free(swap_env(names[i], saved[i]));
		free(saved[i]);
	}
}

/* Applies [first, second] to a new branch and checks the second is refused. */
static void check_refused(const char *branch, const char *first, const char *second,
			  const char *file, const char *reason)
{
	const struct pq_applier_opts *o[2] = { &opts_libgit2_only, &opts_default };
	struct pq_applier_result res[2];
	struct pq_applier_patch p[2];
	char *tip;
	int k;

	p[0] = patch_with(first, "first\n", 0);
	p[1] = patch_with(second, "second\n", 1);
	for (k = 0; k < 2; k++) {
		CHECK_INT(apply_at(dst_dir, branch, base_id, p, 2, o[k], res), PQ_EGIT);
		CHECK(strlen(res[0].commit) == 40);
		CHECK_STR(res[1].commit, "");
		CHECK(res[1].error && !strncmp(res[1].error, file, strlen(file)));
		CHECK(res[1].error && strstr(res[1].error, reason));
		/* plain words: neither libgit2's nor git's */
		CHECK(res[1].error && !strstr(res[1].error, "libgit2") &&
		      !strstr(res[1].error, "git apply"));
		if (res[1].error)
			printf("refused: %s\n", res[1].error);
		tip = dst_rev(branch);
		CHECK_STR(tip, "");
		free(tip);
		results_free(res, 2);
	}
}

/* libgit2 1.5 would overwrite the file; git refuses, and so do we. */
static void test_new_file_over_existing_file_is_refused(void)
{
	char *diff;

	src_branch("twice");
	CHECK_INT(sh(src_dir, "echo once > sub/once.txt"), 0);
	src_commit("new file");
	diff = patch_of("HEAD");
	check_refused("q-twice", diff, diff, "sub/once.txt", "already exists");
	free(diff);
}

/* libgit2 1.5 would delete a file whatever its content; git refuses. */
static void test_deletion_of_changed_file_is_refused(void)
{
	char *edit, *del;

	src_branch("del-changed");
	CHECK_INT(sh(src_dir, "git rm -q gone.txt"), 0);
	src_commit("delete");
	del = patch_of("HEAD");
	src_branch("del-changed");
	CHECK_INT(sh(src_dir, "echo changed >> gone.txt"), 0);
	src_commit("change");
	edit = patch_of("HEAD");
	check_refused("q-del-changed", edit, del, "gone.txt", "is not what the patch deletes");
	free(edit);
	free(del);
}

/*
 * A hunk with no context after it must end the file, as in git: libgit2
 * 1.5 would put line 51 between 50 and the line appended meanwhile.
 */
static void test_hunk_without_trailing_context_must_end_file(void)
{
	char *append, *other;

	src_branch("append");
	CHECK_INT(sh(src_dir, "echo 51 >> a.txt"), 0);
	src_commit("append 51");
	append = patch_of("HEAD");
	src_branch("append");
	CHECK_INT(sh(src_dir, "echo 60 >> a.txt"), 0);
	src_commit("append 60");
	other = patch_of("HEAD");
	check_refused("q-append", other, append, "a.txt, hunk @@ -48,3 +48,4 @@", "end the file");
	free(append);
	free(other);
}

/* ---- why a patch does not apply, in plain words (diagnose.h) ---- */

/*
 * Applies first (may be NULL) then second on a new branch at base, with
 * opts, and returns the second's error (malloc'd; NULL when it applied).
 */
static char *second_error(const char *branch, const char *first, const char *second,
			  const struct pq_applier_opts *o, enum pq_applier_path *path)
{
	struct pq_applier_result res[2];
	struct pq_applier_patch p[2];
	size_t n = 0;
	char *why;

	if (first)
		p[n++] = patch_with(first, "first\n", 0);
	p[n++] = patch_with(second, "second\n", 1);
	apply_at(dst_dir, branch, base_id, p, n, o, res);
	why = res[n - 1].error ? pq_strdup(res[n - 1].error) : NULL;
	if (path)
		*path = res[n - 1].path;
	results_free(res, n);
	return why;
}

/* Found on Rust-for-Linux: "the path 'rust' does not exist in the given tree". */
static void test_missing_file_is_named(void)
{
	char *edit, *why;

	src_branch("missing");
	CHECK_INT(sh(src_dir, "printf 'fn a() {}\\n' > sub/new.rs"), 0);
	src_commit("add new.rs");
	CHECK_INT(sh(src_dir, "printf 'fn b() {}\\n' >> sub/new.rs"), 0);
	src_commit("edit new.rs");
	edit = patch_of("HEAD");
	why = second_error("q-missing", NULL, edit, &opts_default, NULL);
	CHECK_STR(why, "sub/new.rs does not exist on q-missing");
	free(why);
	free(edit);
}

/*
 * The hunk blamed is the one that does not fit: the first hunk of the
 * patch sits 3 lines off (git places it there), the second's context
 * changed.
 */
static void test_hunk_blamed_is_the_one_that_does_not_fit(void)
{
	struct pq_applier_opts where = opts_default;
	char *moved, *edit, *why;

	src_branch("blame");
	CHECK_INT(sh(src_dir, "sed -i 's/^10$/ten/; s/^40$/forty/' a.txt"), 0);
	src_commit("edit 10 and 40");
	edit = patch_of("HEAD");
	src_branch("blame");
	CHECK_INT(sh(src_dir, "sed -i '1i top1\\ntop2\\ntop3' a.txt && sed -i 's/^41$/41!/' a.txt"),
		  0);
	src_commit("three on top, 41 changed");
	moved = patch_of("HEAD");
	where.where = "rust-next";
	why = second_error("q-blame", moved, edit, &where, NULL);
	CHECK_STR(why,
		  "a.txt, hunk @@ -37,7 +37,7 @@: hunk does not match: the context has changed");
	free(why);
	/* and the file blamed is the one that does not fit */
	free(edit);
	src_branch("blame2");
	CHECK_INT(sh(src_dir, "sed -i 's/^5$/five/' a.txt && sed -i 's/^115$/x/' sub/c.txt"), 0);
	src_commit("edit a.txt and c.txt");
	edit = patch_of("HEAD");
	free(moved);
	src_branch("blame2");
	CHECK_INT(sh(src_dir, "sed -i 's/^114$/y/' sub/c.txt"), 0);
	src_commit("c.txt changed");
	moved = patch_of("HEAD");
	why = second_error("q-blame2", moved, edit, &where, NULL);
	CHECK_STR(why, "sub/c.txt, hunk @@ -13,7 +13,7 @@: hunk does not match: the context has "
		       "changed");
	free(why);
	free(edit);
	free(moved);
}

static void test_change_already_there_is_said(void)
{
	char *edit, *why;

	src_branch("twice-edit");
	CHECK_INT(sh(src_dir, "sed -i 's/^20$/twenty/' a.txt"), 0);
	src_commit("edit 20");
	edit = patch_of("HEAD");
	why = second_error("q-twice-edit", edit, edit, &opts_default, NULL);
	CHECK_STR(why, "a.txt, hunk @@ -17,7 +17,7 @@: hunk does not match: a.txt on q-twice-edit "
		       "already has this change");
	free(why);
	free(edit);
}

/*
 * git am -3: a patch whose context changed is merged with the blob its
 * index line names, into the tree git am -3 makes; a conflict names the
 * file.
 */
static void test_three_way_merge_as_git_am_3(void)
{
	struct pq_applier_opts three = opts_default;
	enum pq_applier_path path = 0;
	char *near, *clash, *p, *why, *want, *got;

	three.three_way = 1;
	src_branch("tw-p");
	CHECK_INT(sh(src_dir, "sed -i 's/^25$/twenty-five/' a.txt"), 0);
	src_commit("edit 25");
	p = patch_of("HEAD");
	src_branch("tw-near");
	CHECK_INT(sh(src_dir, "sed -i 's/^22$/22!/; s/^28$/28!/' a.txt"), 0);
	src_commit("edit 22 and 28");
	near = patch_of("HEAD");
	/* what git am -3 makes of it */
	CHECK_INT(sh(src_dir, "git format-patch -q -1 --stdout tw-p > ../tw.mbox && " GIT
			      " am -q -3 ../tw.mbox"),
		  0);
	want = src_tree("HEAD");

	why = second_error("q-tw-plain", near, p, &opts_default, NULL);
	CHECK_STR(why,
		  "a.txt, hunk @@ -22,7 +22,7 @@: hunk does not match: the context has changed");
	free(why);
	why = second_error("q-tw", near, p, &three, &path);
	CHECK_STR(why, NULL);
	CHECK_INT(path, PQ_APPLIER_THREEWAY);
	got = out(dst_dir, "git rev-parse q-tw^{tree}");
	CHECK_STR(got, want);
	free(got);
	free(why);

	src_branch("tw-clash");
	CHECK_INT(sh(src_dir, "sed -i 's/^25$/XXV/' a.txt"), 0);
	src_commit("edit 25 otherwise");
	clash = patch_of("HEAD");
	why = second_error("q-tw-clash", clash, p, &three, NULL);
	CHECK_STR(why, "a.txt, hunk @@ -22,7 +22,7 @@: hunk does not match: the context has "
		       "changed; a three-way merge conflicts in a.txt");
	got = dst_rev("q-tw-clash");
	CHECK_STR(got, "");
	free(got);
	free(why);
	free(near);
	free(clash);
	free(p);
	free(want);
}

/* An author git cannot record is the patch's error, not a crash or a commit. */
static void test_bad_author_is_reported(void)
{
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	char *diff = patch_of("plain");

	p = patch_with(diff, "bad author\n", 0);
	p.author_name = "Mallory <evil";
	CHECK_INT(apply_at(dst_dir, "q-bad-author", base_id, &p, 1, &opts_default, res), PQ_EGIT);
	CHECK_STR(res[0].commit, "");
	CHECK(res[0].error && strstr(res[0].error, "bad author"));
	CHECK(strstr(pq_error_last(), "cannot be committed") != NULL);
	results_free(res, 1);
	free(diff);
}

static void test_missing_branch_without_base_is_not_found(void)
{
	struct pq_applier_result res[1];
	struct pq_applier_patch p = patch_with("", "x\n", 0);

	CHECK_INT(apply_at(dst_dir, "q-nowhere", NULL, &p, 1, &opts_default, res), PQ_ENOTFOUND);
	CHECK_INT(apply_at(dst_dir, "q-nowhere", "no-such-ref", &p, 1, &opts_default, res),
		  PQ_ENOTFOUND);
	CHECK_INT(apply_at(tmp_root, "q-nowhere", base_id, &p, 1, &opts_default, res), PQ_EIO);
	CHECK_INT(apply_at(dst_dir, "bad..name", base_id, &p, 1, &opts_default, res), PQ_EINVAL);
}

/* A new branch starts at base, which may be a ref name. */
static void test_base_by_ref_name_creates_branch(void)
{
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	char *diff, *tip, *parent;

	src_branch("byname");
	CHECK_INT(sh(src_dir, "sed -i 's/^12$/twelve/' a.txt"), 0);
	src_commit("by name");
	diff = patch_of("HEAD");
	p = patch_with(diff, "by name\n", 0);
	CHECK_INT(apply_at(dst_dir, "q-byname", "refs/tags/base", &p, 1, &opts_default, res), 0);
	tip = dst_rev("q-byname");
	parent = dst_rev("q-byname^");
	CHECK_STR(tip, res[0].commit);
	CHECK_STR(parent, base_id);
	free(diff);
	free(tip);
	free(parent);
	results_free(res, 1);
}

static void test_no_patches_moves_branch_to_base(void)
{
	char *tip;

	CHECK_INT(sh(dst_dir, "git branch q-reset q-plain"), 0);
	CHECK_INT(apply_at(dst_dir, "q-reset", base_id, NULL, 0, &opts_default, NULL), 0);
	tip = dst_rev("q-reset");
	CHECK_STR(tip, base_id);
	free(tip);
}

/* A lock a killed writer left (empty, old) would block the queue for ever: it is removed. */
static void test_stale_lock_is_removed(void)
{
	char *tip;

	CHECK_INT(sh(dst_dir, "git branch q-locked q-plain"), 0);
	CHECK_INT(sh(dst_dir, ": > refs/heads/q-locked.lock && touch -d '1 minute ago' "
			      "refs/heads/q-locked.lock"),
		  0);
	CHECK_INT(apply_at(dst_dir, "q-locked", base_id, NULL, 0, &opts_default, NULL), 0);
	tip = dst_rev("q-locked");
	CHECK_STR(tip, base_id);
	free(tip);
	CHECK_INT(sh(dst_dir, "test -e refs/heads/q-locked.lock"), 1);
	/* a fresh one is waited for, then taken as stale too */
	CHECK_INT(sh(dst_dir, ": > refs/heads/q-locked.lock"), 0);
	CHECK_INT(apply_at(dst_dir, "q-locked", "q-plain", NULL, 0, &opts_default, NULL), 0);
	CHECK_INT(sh(dst_dir, "test -e refs/heads/q-locked.lock"), 1);
}

static void test_dry_run_leaves_branch(void)
{
	struct pq_applier_opts o = opts_default;
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	char *diff, *before, *after, *type, *objects, *objects_after;

	o.dry_run = 1;
	src_branch("dry");
	CHECK_INT(sh(src_dir, "sed -i 's/^44$/forty-four/' a.txt"), 0);
	src_commit("dry");
	diff = patch_of("HEAD");
	p = patch_with(diff, "dry\n", 0);
	CHECK_INT(sh(dst_dir, "git branch q-dry %s", base_id), 0);
	before = dst_rev("q-dry");
	objects = out(dst_dir, "git count-objects -v | grep -v size");
	CHECK_INT(apply_at(dst_dir, "q-dry", NULL, &p, 1, &o, res), 0);
	CHECK(strlen(res[0].commit) == 40);
	after = dst_rev("q-dry");
	CHECK_STR(after, before);
	/* nothing is written: the commit, its tree and blob stayed in memory */
	type = out(dst_dir, "git cat-file -t %s", res[0].commit);
	CHECK_STR(type, "");
	objects_after = out(dst_dir, "git count-objects -v | grep -v size");
	CHECK_STR(objects_after, objects);
	results_free(res, 1);
	/* a missing branch is not created either */
	CHECK_INT(apply_at(dst_dir, "q-dry-new", base_id, &p, 1, &o, res), 0);
	free(after);
	after = dst_rev("q-dry-new");
	CHECK_STR(after, "");
	results_free(res, 1);
	free(diff);
	free(before);
	free(after);
	free(type);
	free(objects);
	free(objects_after);
}

/*
 * One open repository, a dry run and then the real thing, as triage does
 * (it checks every queue, then applies): the same patch gives the same
 * commit, and it must reach the disk all the same, with its tree and
 * blob, however many runs came before on that repository.
 */
static void test_apply_after_dry_run_on_same_repo_writes_objects(void)
{
	struct pq_applier_opts dry = opts_default;
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	struct pq_repo *r = NULL;
	char *diff, *tip;
	char commit[41] = "";

	dry.dry_run = 1;
	src_branch("dry-then-real");
	CHECK_INT(sh(src_dir, "sed -i 's/^45$/forty-five/' a.txt"), 0);
	src_commit("dry, then real");
	diff = patch_of("HEAD");
	p = patch_with(diff, "dry, then real\n", 0);
	CHECK_INT(pq_repo_open(&r, dst_dir), 0);
	if (!r) {
		free(diff);
		return;
	}
	CHECK_INT(pq_applier_run(r, "q-dry-real", base_id, &p, 1, &dry, res), 0);
	snprintf(commit, sizeof(commit), "%s", res[0].commit);
	results_free(res, 1);
	CHECK_INT(pq_applier_run(r, "q-dry-real", base_id, &p, 1, &dry, res), 0);
	results_free(res, 1);
	CHECK_INT(pq_applier_run(r, "q-dry-real", base_id, &p, 1, &opts_default, res), 0);
	CHECK_STR(res[0].commit, commit);
	results_free(res, 1);
	pq_repo_free(r);
	tip = dst_rev("q-dry-real");
	CHECK_STR(tip, commit);
	/* git, another process, finds every object the branch needs */
	CHECK_INT(sh(dst_dir, "git cat-file -e %s", commit), 0);
	CHECK_INT(sh(dst_dir, "git cat-file -e %s:a.txt", commit), 0);
	CHECK_INT(sh(dst_dir, "git fsck --connectivity-only --no-dangling"), 0);
	free(tip);
	free(diff);
}

/*
 * Patch P edits line 40 of the base; A, applied first, adds lines above
 * it, so P's hunk is 3 lines off: libgit2 1.5 never looks for an offset,
 * git apply does. want is the tree git gets by making both changes.
 */
static void offset_series(char **diffs, char **want)
{
	src_branch("offset-p");
	CHECK_INT(sh(src_dir, "sed -i 's/^40$/forty/' a.txt"), 0);
	src_commit("edit line 40");
	diffs[1] = patch_of("HEAD");
	src_branch("offset-a");
	CHECK_INT(sh(src_dir, "sed -i '1i top1\\ntop2\\ntop3' a.txt"), 0);
	src_commit("three lines on top");
	diffs[0] = patch_of("HEAD");
	CHECK_INT(sh(src_dir, "sed -i 's/^40$/forty/' a.txt"), 0);
	src_commit("edit line 40 again");
	*want = src_tree("HEAD");
}

static void test_offset_hunk_falls_back_to_git_apply(void)
{
	struct pq_applier_opts dry = opts_default;
	struct pq_applier_result res[2];
	struct pq_applier_patch p[2];
	char *diffs[2], *want, *got, *tip, *objects, *objects_after, dry_commit[41];

	dry.dry_run = 1;
	offset_series(diffs, &want);
	p[0] = patch_with(diffs[0], "top\n", 0);
	p[1] = patch_with(diffs[1], "forty\n", 1);

	CHECK_INT(apply_at(dst_dir, "q-offset", base_id, p, 2, &opts_libgit2_only, res), PQ_EGIT);
	CHECK(res[1].error && strstr(res[1].error, "a.txt, hunk @@ -37,7 +37,7 @@"));
	tip = dst_rev("q-offset");
	CHECK_STR(tip, "");
	free(tip);
	results_free(res, 2);

	/* a dry run through git writes nothing into the repository (git reads
	 * the first patch's objects from its quarantine, and writes there);
	 * the second patch's commit is the one the real apply makes */
	objects = out(dst_dir, "git count-objects -v | grep -v size; ls objects/pack");
	CHECK_INT(apply_at(dst_dir, "q-offset", base_id, p, 2, &dry, res), 0);
	CHECK_INT(res[1].path, PQ_APPLIER_GIT);
	memcpy(dry_commit, res[1].commit, sizeof(dry_commit));
	objects_after = out(dst_dir, "git count-objects -v | grep -v size; ls objects/pack");
	CHECK_STR(objects_after, objects);
	tip = dst_rev("q-offset");
	CHECK_STR(tip, "");
	free(tip);
	results_free(res, 2);

	CHECK_INT(apply_at(dst_dir, "q-offset", base_id, p, 2, &opts_default, res), 0);
	CHECK_INT(res[0].path, PQ_APPLIER_LIBGIT2);
	CHECK_INT(res[1].path, PQ_APPLIER_GIT);
	CHECK_STR(res[1].commit, dry_commit);
	got = out(dst_dir, "git rev-parse q-offset^{tree}");
	CHECK_STR(got, want);
	tip = dst_rev("q-offset");
	CHECK_STR(tip, res[1].commit);
	/* the real one wrote every object it names, the blob git made too */
	CHECK_INT(sh(dst_dir, "git rev-list --objects q-offset >/dev/null 2>&1"), 0);
	results_free(res, 2);
	free(diffs[0]);
	free(diffs[1]);
	free(want);
	free(got);
	free(tip);
	free(objects);
	free(objects_after);
}

/* A diff without the "diff --git" header (quilt, diff -u): only git reads it. */
static void test_plain_unified_diff_falls_back_to_git_apply(void)
{
	struct pq_applier_result res[1];
	struct pq_applier_patch p;
	char *diff, *want, *got;

	src_branch("unified");
	CHECK_INT(sh(src_dir, "sed -i 's/^102$/one hundred two/' sub/c.txt"), 0);
	src_commit("unified");
	diff = out_raw(src_dir, "git diff base HEAD | sed -e '/^diff --git/d' -e '/^index /d'");
	CHECK(!strncmp(diff, "--- a/sub/c.txt\n", 16));
	p = patch_with(diff, "unified\n", 0);
	CHECK_INT(apply_at(dst_dir, "q-unified", base_id, &p, 1, &opts_default, res), 0);
	CHECK_INT(res[0].path, PQ_APPLIER_GIT);
	want = src_tree("HEAD");
	got = out(dst_dir, "git rev-parse q-unified^{tree}");
	CHECK_STR(got, want);
	results_free(res, 1);
	free(diff);
	free(want);
	free(got);
}

static void test_tip_reads_branch_or_full_ref(void)
{
	char tip[41], *want = dst_rev("q-plain");

	CHECK_INT(tip_at(dst_dir, "q-plain", tip), 0);
	CHECK_STR(tip, want);
	CHECK_INT(sh(dst_dir, GIT " tag -a -m annotated v-annotated %s", base_id), 0);
	CHECK_INT(tip_at(dst_dir, "refs/tags/v-annotated", tip), 0);
	CHECK_STR(tip, base_id);
	CHECK_INT(tip_at(dst_dir, "q-missing", tip), PQ_ENOTFOUND);
	CHECK_STR(tip, "");
	CHECK_INT(tip_at(tmp_root, "q-plain", tip), PQ_EIO);
	free(want);
}

/* Makes a git wrapper in tmp/bin that first runs git with pre_args. */
static void git_wrapper(const char *pre_args)
{
	char *real = out(tmp_root, "command -v git");

	CHECK_INT(sh(tmp_root,
		     "mkdir -p bin && printf '#!/bin/sh\\n%s --git-dir=%s %s\\nexec %s \"$@\"\\n' "
		     "> bin/git && chmod +x bin/git",
		     real, dst_dir, pre_args, real),
		  0);
	free(real);
}

/* Applies the offset series to branch with git's PATH set to tmp/bin. */
static int apply_with_wrapper(const char *branch, struct pq_applier_result *res)
{
	struct pq_applier_patch p[2];
	struct pq_buf path = PQ_BUF_INIT;
	char *diffs[2], *want, *old_path = pq_strdup(getenv("PATH"));
	int rc;

	offset_series(diffs, &want);
	p[0] = patch_with(diffs[0], "top\n", 0);
	p[1] = patch_with(diffs[1], "forty\n", 1);
	pq_buf_addf(&path, "%s/bin:%s", tmp_root, old_path);
	setenv("PATH", path.ptr, 1);
	rc = apply_at(dst_dir, branch, base_id, p, 2, &opts_default, res);
	setenv("PATH", old_path, 1);
	CHECK_INT(res[1].path, PQ_APPLIER_GIT);
	pq_buf_free(&path);
	free(old_path);
	free(diffs[0]);
	free(diffs[1]);
	free(want);
	return rc;
}

/*
 * Another process moves the branch while the series is being applied (the
 * git apply of the fallback does it): the branch stays where it was moved.
 */
static void test_branch_moved_during_apply_is_eexists(void)
{
	struct pq_applier_result res[2];
	char *tip, *moved_to = dst_rev("q-plain");
	struct pq_buf pre = PQ_BUF_INIT;

	CHECK_INT(sh(dst_dir, "git branch q-cas %s", base_id), 0);
	pq_buf_addf(&pre, "update-ref refs/heads/q-cas %s", moved_to);
	git_wrapper(pre.ptr);
	CHECK_INT(apply_with_wrapper("q-cas", res), PQ_EEXISTS);
	CHECK(strstr(pq_error_last(), "q-cas") != NULL);
	tip = dst_rev("q-cas");
	CHECK_STR(tip, moved_to);
	CHECK(strlen(res[1].commit) == 40);
	results_free(res, 2);
	free(tip);

	/* the same when the branch did not exist and was created meanwhile */
	pq_buf_reset(&pre);
	pq_buf_addf(&pre, "update-ref refs/heads/q-cas-new %s", moved_to);
	git_wrapper(pre.ptr);
	CHECK_INT(apply_with_wrapper("q-cas-new", res), PQ_EEXISTS);
	tip = dst_rev("q-cas-new");
	CHECK_STR(tip, moved_to);
	results_free(res, 2);
	free(tip);
	free(moved_to);
	pq_buf_free(&pre);
}

static void test_same_series_twice_gives_same_commits(void)
{
	struct pq_applier_opts dry = opts_default;
	struct pq_applier_result r1[2], r2[2], r3[2];
	struct pq_applier_patch p[2];
	char *diffs[2], *want;
	size_t i;

	dry.dry_run = 1;
	offset_series(diffs, &want);
	p[0] = patch_with(diffs[0], "top\n", 0);
	p[1] = patch_with(diffs[1], "forty\n", 1);
	CHECK_INT(apply_at(dst_dir, "q-repro1", base_id, p, 2, &opts_default, r1), 0);
	CHECK_INT(apply_at(dst_dir, "q-repro2", base_id, p, 2, &opts_default, r2), 0);
	CHECK_INT(apply_at(dst_dir, "q-repro3", base_id, p, 2, &dry, r3), 0);
	for (i = 0; i < 2; i++) {
		CHECK(strlen(r1[i].commit) == 40);
		CHECK_STR(r2[i].commit, r1[i].commit);
		CHECK_STR(r3[i].commit, r1[i].commit);
	}
	results_free(r1, 2);
	results_free(r2, 2);
	results_free(r3, 2);
	free(diffs[0]);
	free(diffs[1]);
	free(want);
}

static void test_push_to_local_bare_repository(void)
{
	char *remote = path_in("pushed.git"), *got, *want;
	char *branches[] = { "q-series", "q-plain" };
	char *one[] = { "q-plain" }, *none[] = { "q-none" };

	CHECK_INT(sh(tmp_root, "git init -q --bare pushed.git"), 0);
	CHECK_INT(push_at(dst_dir, remote, branches, 2), 0);
	got = out(remote, "git rev-parse q-series q-plain");
	want = out(dst_dir, "git rev-parse q-series q-plain");
	CHECK_STR(got, want);
	free(got);
	free(want);

	/* by remote name, and a fast-forward */
	CHECK_INT(sh(dst_dir, "git remote add mirror '%s'", remote), 0);
	CHECK_INT(sh(dst_dir, "git branch -f q-plain $(" GIT
			      " commit-tree -p q-plain -m ff q-plain^{tree})"),
		  0);
	CHECK_INT(push_at(dst_dir, "mirror", one, 1), 0);
	got = out(remote, "git rev-parse q-plain");
	want = out(dst_dir, "git rev-parse q-plain");
	CHECK_STR(got, want);
	CHECK(strcmp(got, "") != 0);
	free(got);

	/* not a fast-forward: refused, the remote keeps its branch */
	CHECK_INT(sh(dst_dir, "git branch -f q-plain %s", base_id), 0);
	CHECK_INT(push_at(dst_dir, "mirror", one, 1), PQ_EGIT);
	CHECK(strstr(pq_error_last(), "fast-forward") != NULL);
	got = out(remote, "git rev-parse q-plain");
	CHECK_STR(got, want);
	free(got);
	free(want);

	CHECK_INT(push_at(dst_dir, "mirror", none, 1), PQ_ENOTFOUND);
	free(remote);
}

/* Remote URLs are rewritten by insteadOf and, for pushing, pushInsteadOf. */
static void test_push_follows_insteadof(void)
{
	char *two[] = { "q-series", "q-rename" }, *got, *want;

	CHECK_INT(sh(tmp_root, "git init -q --bare rewritten.git"), 0);
	CHECK_INT(sh(dst_dir, "git config 'url.%s/.insteadOf' example:", tmp_root), 0);
	CHECK_INT(push_at(dst_dir, "example:rewritten.git", two, 1), 0);
	CHECK_INT(sh(dst_dir,
		     "git remote add ro nowhere:rewritten.git && "
		     "git config 'url.%s/.pushInsteadOf' nowhere:",
		     tmp_root),
		  0);
	CHECK_INT(push_at(dst_dir, "ro", two, 2), 0);
	got = out(tmp_root, "git --git-dir=rewritten.git rev-parse q-series q-rename");
	want = out(dst_dir, "git rev-parse q-series q-rename");
	CHECK_STR(got, want);
	free(got);
	free(want);
}

/* The source repository with a tagged base commit, cloned bare into dst. */
static int fixture_new(void)
{
	if (!mkdtemp(tmp_root))
		return -1;
	setenv("HOME", tmp_root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_DATE", "1600000000 +0000", 1);
	setenv("GIT_COMMITTER_DATE", "1600000000 +0000", 1);
	src_dir = path_in("src");
	dst_dir = path_in("dst.git");
	if (sh(tmp_root, "git init -q -b master src") ||
	    sh(src_dir,
	       "seq 1 50 > a.txt && echo x > b.txt && mkdir sub && "
	       "seq 100 130 > sub/c.txt && printf '#!/bin/sh\\necho hi\\n' > exe.sh && "
	       "echo bye > gone.txt && seq 1 3000 | gzip -n > bin.dat && git add -A && " GIT
	       " commit -q -m base && git tag base") ||
	    sh(tmp_root, "git clone -q --bare src dst.git"))
		return -1;
	base_id = out(src_dir, "git rev-parse base");
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
	test_plain_edit_applies_with_libgit2();
	test_new_file();
	test_deleted_file();
	test_empty_new_file();
	test_rename();
	test_rename_with_content_change();
	test_mode_change();
	test_rename_with_mode_change();
	test_binary_file();
	test_last_file_of_directory_deleted();
	test_file_replaced_by_directory();
	test_directory_replaced_by_file();
	test_nested_edit_keeps_siblings();
	test_series_of_three_matches_git_trees();
	test_author_committer_message_exact();
	test_patch_not_applying_fails_and_leaves_branch();
	test_patch_not_applying_with_fallback_names_file_and_hunk();
	test_fallback_failure_is_read_in_any_locale();
	test_new_file_over_existing_file_is_refused();
	test_deletion_of_changed_file_is_refused();
	test_hunk_without_trailing_context_must_end_file();
	test_bad_author_is_reported();
	test_missing_file_is_named();
	test_hunk_blamed_is_the_one_that_does_not_fit();
	test_change_already_there_is_said();
	test_three_way_merge_as_git_am_3();
	test_missing_branch_without_base_is_not_found();
	test_base_by_ref_name_creates_branch();
	test_no_patches_moves_branch_to_base();
	test_stale_lock_is_removed();
	test_dry_run_leaves_branch();
	test_apply_after_dry_run_on_same_repo_writes_objects();
	test_tip_reads_branch_or_full_ref();
	test_offset_hunk_falls_back_to_git_apply();
	test_plain_unified_diff_falls_back_to_git_apply();
	test_branch_moved_during_apply_is_eexists();
	test_same_series_twice_gives_same_commits();
	test_push_to_local_bare_repository();
	test_push_follows_insteadof();

	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(src_dir);
	free(dst_dir);
	free(base_id);
	CHECK_DONE();
}
