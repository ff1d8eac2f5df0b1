/*
 * test_patch: pq_patch_parse() on patches git itself produced in a
 * throw-away repository (format-patch, request-pull), and on hand-written
 * bodies for what mailers and people do to them.
 *
 * Every diff the parser returns from a real patch is handed back to
 * `git apply --check -R` in the repository that made it: the bytes must be
 * the ones git wrote.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "mail.h"
#include "patch.h"

#include "check.h"

#define GIT "git -c user.name=T -c user.email=t@example.com "

static char repo[] = "/tmp/pq-test-patch-XXXXXX";

/* Runs a shell command inside the repository; returns its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	va_list ap;
	int rc;

	pq_buf_addf(&cmd, "cd '%s' && { ", repo);
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pq_buf_adds(&cmd, "; } >/dev/null 2>&1");
	rc = system(cmd.ptr);
	pq_buf_free(&cmd);
	return rc;
}

/* The standard output of a command run inside the repository. */
static void capture(struct pq_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void capture(struct pq_buf *out, const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	char chunk[4096];
	va_list ap;
	FILE *f;
	size_t n;

	pq_buf_reset(out);
	pq_buf_addf(&cmd, "cd '%s' && ", repo);
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	f = popen(cmd.ptr, "r");
	CHECK(f != NULL);
	if (f) {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			pq_buf_add(out, chunk, n);
		CHECK_INT(pclose(f), 0);
	}
	pq_buf_free(&cmd);
}

/* The body of a format-patch mail: what follows the first blank line. */
static void parse_mail(struct pq_patch *p, const struct pq_buf *mail)
{
	const char *s = pq_buf_str(mail);
	const char *body = strstr(s, "\n\n");

	body = body ? body + 2 : s + mail->len;
	pq_patch_parse(p, body, mail->len - (size_t)(body - s));
}

static void parse_str(struct pq_patch *p, const char *body)
{
	pq_patch_parse(p, body, strlen(body));
}

static int has(const struct pq_buf *b, const char *needle)
{
	return b->len && memmem(b->ptr, b->len, needle, strlen(needle)) != NULL;
}

static size_t count(const struct pq_buf *b, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	const char *s = b->ptr, *end = b->ptr + b->len, *hit;

	while (s && s < end && (hit = memmem(s, (size_t)(end - s), needle, k))) {
		n++;
		s = hit + k;
	}
	return n;
}

static int ends_with(const struct pq_buf *b, const char *suffix)
{
	size_t k = strlen(suffix);

	return b->len >= k && !memcmp(b->ptr + b->len - k, suffix, k);
}

static int has_file(const struct pq_patch *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nfiles; i++)
		if (!strcmp(p->files[i], name))
			return 1;
	return 0;
}

/*
 * 1 when the diff undoes HEAD cleanly, i.e. it is HEAD's patch byte for
 * byte; opts go to git apply ("-p0" for --no-prefix patches).
 */
static int reverse_applies_opts(const struct pq_patch *p, const char *opts)
{
	struct pq_buf path = PQ_BUF_INIT;
	FILE *f;
	int ok;

	pq_buf_addf(&path, "%s/.git/test.diff", repo);
	f = fopen(path.ptr, "wb");
	if (!f) {
		pq_buf_free(&path);
		return 0;
	}
	fwrite(pq_buf_str(&p->diff), 1, p->diff.len, f);
	fclose(f);
	ok = sh("git apply %s --check -R .git/test.diff", opts) == 0;
	pq_buf_free(&path);
	return ok;
}

static int reverse_applies(const struct pq_patch *p)
{
	return reverse_applies_opts(p, "");
}

static void setup_repo(void)
{
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_AUTHOR_NAME", "T", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "T", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	setenv("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z", 1);
	setenv("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z", 1);
	setenv("LC_ALL", "C", 1);
	if (!mkdtemp(repo)) {
		perror("mkdtemp");
		exit(1);
	}
	CHECK_INT(sh("git init -q -b main . && printf 'one\\ntwo\\nthree\\n' >a.txt && "
		     "printf 'keep\\n' >b.txt && git add . && " GIT "commit -qm base"),
		  0);
}

static void test_plain_edit_splits_message_notes_and_diff(void)
{
	struct pq_buf mail = PQ_BUF_INIT, want = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("printf 'one\\n2\\nthree\\n' >a.txt && " GIT "commit -qam 'a: change two' "
		     "-m 'Two is a number.   ' -m 'Signed-off-by: T <t@example.com>'"),
		  0);
	capture(&mail, "git format-patch --stdout -1");
	parse_mail(&p, &mail);
	CHECK_STR(pq_buf_str(&p.message), "Two is a number.\n\nSigned-off-by: T <t@example.com>");
	CHECK(has(&p.notes, " a.txt | 2 +-"));
	CHECK(has(&p.notes, "1 file changed"));
	capture(&want, "git diff HEAD~1 HEAD");
	CHECK_STR(pq_buf_str(&p.diff), pq_buf_str(&want));
	CHECK(!has(&p.diff, "-- \n"));
	CHECK(reverse_applies(&p));
	CHECK_INT(p.nfiles, 1);
	CHECK_STR(p.nfiles ? p.files[0] : NULL, "a.txt");
	CHECK(p.from == NULL && p.subject == NULL && p.date == NULL);
	CHECK(p.pull_url == NULL && p.base_commit == NULL);
	CHECK_INT(p.trailers.n, 1);
	CHECK_STR(p.trailers.n ? p.trailers.v[0].name : NULL, "Signed-off-by");
	pq_patch_free(&p);
	pq_buf_free(&mail);
	pq_buf_free(&want);
}

static void test_rename_with_change_lists_both_paths(void)
{
	struct pq_buf mail = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("printf 'l1\\nl2\\nl3\\nl4\\nl5\\nl6\\n' >r.txt && git add r.txt && " GIT
		     "commit -qm add-r && git mv r.txt moved.txt && "
		     "printf 'l1\\nl2\\nl3\\nl4\\nl5\\nsix\\n' >moved.txt && " GIT
		     "commit -qam 'move r'"),
		  0);
	capture(&mail, "git format-patch -M --stdout -1");
	parse_mail(&p, &mail);
	CHECK(has(&p.diff, "diff --git a/r.txt b/moved.txt\n"));
	CHECK_INT(count(&p.diff, "\nrename from r.txt\n"), 1);
	CHECK_INT(count(&p.diff, "\nrename to moved.txt\n"), 1);
	CHECK_INT(count(&p.diff, "\n-l6\n+six\n"), 1);
	CHECK_INT(p.nfiles, 2);
	CHECK(has_file(&p, "moved.txt"));
	CHECK(has_file(&p, "r.txt"));
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);
	pq_buf_free(&mail);
}

/* Changed lines per file, as git diff --numstat counts them (added + removed), also when
 * the diff alone is parsed again (how the rules read a stored diff). */
static void test_lines_per_file_match_numstat(void)
{
	struct pq_buf mail = PQ_BUF_INIT, want = PQ_BUF_INIT, got = PQ_BUF_INIT;
	struct pq_patch p, again;
	char *numstat;
	size_t i;

	/* a removed "-- x" line reads "--- x" in the hunk: still a line, not a header */
	CHECK_INT(
		sh("printf -- '-- x\\nkeep\\n++ y\\n' >dash.txt && printf 'c1\\nc2\\nc3\\n' >c.txt &&"
		   " git add . && " GIT "commit -qm dashes && "
		   "printf 'keep\\n' >dash.txt && printf 'c1\\nC2\\nc3\\nc4\\nc5\\n' >c.txt && "
		   "printf 'new\\n' >n.txt && git add . && " GIT "commit -qm 'lines'"),
		0);
	capture(&mail, "git format-patch --stdout -1");
	parse_mail(&p, &mail);
	capture(&want, "git diff --numstat HEAD~1 HEAD | awk '{print $3 \" \" $1 + $2}'");
	for (i = 0; i < p.nfiles; i++)
		pq_buf_addf(&got, "%s %zu\n", p.files[i], p.lines[i]);
	numstat = pq_buf_detach(&want);
	CHECK_STR(pq_buf_str(&got), numstat);
	CHECK_STR(numstat, "c.txt 4\ndash.txt 2\nn.txt 1\n");
	pq_patch_parse(&again, p.diff.ptr, p.diff.len);
	CHECK_INT(again.nfiles, p.nfiles);
	for (i = 0; i < again.nfiles && i < p.nfiles; i++) {
		CHECK_STR(again.files[i], p.files[i]);
		CHECK_INT(again.lines[i], p.lines[i]);
	}
	free(numstat);
	pq_patch_free(&again);
	pq_patch_free(&p);
	pq_buf_free(&mail);
	pq_buf_free(&got);
}

static void test_mode_change_without_hunk_is_the_whole_diff(void)
{
	struct pq_buf mail = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("chmod +x b.txt && " GIT "commit -qam 'b: make executable'"), 0);
	capture(&mail, "git format-patch --stdout -1");
	parse_mail(&p, &mail);
	CHECK_STR(pq_buf_str(&p.diff),
		  "diff --git a/b.txt b/b.txt\nold mode 100644\nnew mode 100755\n");
	CHECK_INT(p.nfiles, 1);
	CHECK_STR(p.nfiles ? p.files[0] : NULL, "b.txt");
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);
	pq_buf_free(&mail);
}

static void test_new_empty_file_and_deletion_are_diffs(void)
{
	struct pq_buf mail = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh(": >empty.txt && git add empty.txt && " GIT "commit -qm 'add empty'"), 0);
	capture(&mail, "git format-patch --stdout -1");
	parse_mail(&p, &mail);
	CHECK(has(&p.diff, "diff --git a/empty.txt b/empty.txt\nnew file mode 100644\nindex "));
	CHECK(ends_with(&p.diff, "e69de29\n"));
	CHECK_INT(p.nfiles, 1);
	CHECK_STR(p.nfiles ? p.files[0] : NULL, "empty.txt");
	CHECK_STR(pq_buf_str(&p.message), "");
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);

	CHECK_INT(sh("git rm -q empty.txt moved.txt && " GIT "commit -qm 'remove two files'"), 0);
	capture(&mail, "git format-patch --stdout -1");
	parse_mail(&p, &mail);
	CHECK_INT(count(&p.diff, "deleted file mode 100644\n"), 2);
	CHECK(has(&p.diff, "--- a/moved.txt\n+++ /dev/null\n"));
	CHECK_INT(p.nfiles, 2);
	CHECK_STR(p.nfiles > 1 ? p.files[0] : NULL, "empty.txt");
	CHECK_STR(p.nfiles > 1 ? p.files[1] : NULL, "moved.txt");
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);
	pq_buf_free(&mail);
}

static void test_binary_patch_keeps_blank_separators(void)
{
	struct pq_buf mail = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("printf 'BM\\000\\001\\002\\377binary\\000' >pixel.bmp && "
		     "printf 'x\\n' >c.txt && git add . && " GIT "commit -qm 'add pixel'"),
		  0);
	capture(&mail, "git format-patch --binary --stdout -1");
	parse_mail(&p, &mail);
	CHECK(has(&p.diff, "diff --git a/pixel.bmp b/pixel.bmp\nnew file mode 100644\n"));
	CHECK(has(&p.diff, "GIT binary patch\nliteral "));
	CHECK(has(&p.diff, "\n\nliteral 0\n"));
	CHECK(has(&p.diff, "diff --git a/c.txt b/c.txt\n"));
	CHECK_INT(p.nfiles, 2);
	CHECK(has_file(&p, "pixel.bmp") && has_file(&p, "c.txt"));
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);

	/* binary last: the blank line ending the block must stay */
	CHECK_INT(sh("printf 'BM\\000\\003\\004more\\000' >pixel.bmp && " GIT
		     "commit -qam 'edit pixel'"),
		  0);
	capture(&mail, "git format-patch --binary --no-prefix --stdout -1");
	parse_mail(&p, &mail);
	CHECK(has(&p.diff, "diff --git pixel.bmp pixel.bmp\n"));
	CHECK(ends_with(&p.diff, "\n\n"));
	CHECK(!has(&p.diff, "-- \n"));
	CHECK_INT(p.nfiles, 1);
	CHECK_STR(p.nfiles ? p.files[0] : NULL, "pixel.bmp");
	CHECK(reverse_applies_opts(&p, "-p0"));
	pq_patch_free(&p);
	pq_buf_free(&mail);
}

static void test_no_newline_marker_stays_in_the_diff(void)
{
	struct pq_buf mail = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("printf 'x\\ny' >nn.txt && git add nn.txt && " GIT "commit -qm nn && "
		     "printf 'x\\nz' >nn.txt && " GIT "commit -qam 'nn: change last line' "
		     "-m 'The file has no newline at its end.'"),
		  0);
	capture(&mail, "git format-patch --stdout -1");
	parse_mail(&p, &mail);
	CHECK_STR(pq_buf_str(&p.message), "The file has no newline at its end.");
	CHECK_INT(count(&p.diff, "\\ No newline at end of file\n"), 2);
	CHECK(ends_with(&p.diff, "+z\n\\ No newline at end of file\n"));
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);
	pq_buf_free(&mail);
}

static void test_removed_dash_space_line_is_not_a_signature(void)
{
	struct pq_buf mail = PQ_BUF_INIT;
	struct pq_patch p;

	/* removing "-" and "- " at the end of a file gives hunk lines "--" and "-- " */
	CHECK_INT(sh("printf 'list\\n- item\\n-\\n- \\n' >dash.txt && git add dash.txt && " GIT
		     "commit -qm dash && printf 'list\\n' >dash.txt && " GIT
		     "commit -qam 'dash: drop items'"),
		  0);
	capture(&mail, "git format-patch --stdout -1");
	CHECK(has(&mail, "\n-- item\n--\n-- \n-- \n"));
	parse_mail(&p, &mail);
	CHECK(ends_with(&p.diff, "@@ -1,4 +1 @@\n list\n-- item\n--\n-- \n"));
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);
	pq_buf_free(&mail);
}

static void test_notes_and_base_commit_are_separated(void)
{
	struct pq_buf mail = PQ_BUF_INIT, base = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("printf 'one\\n2\\n3\\n' >a.txt && " GIT
		     "commit -qam 'a: three' -m 'Body.' && "
		     "git notes add -m 'v2: reworded the message'"),
		  0);
	capture(&base, "git rev-parse HEAD~1");
	pq_buf_rtrim(&base);
	capture(&mail, "git format-patch --notes --base=HEAD~1 --stdout -1");
	parse_mail(&p, &mail);
	CHECK_STR(pq_buf_str(&p.message), "Body.");
	CHECK(has(&p.notes, "Notes:\n    v2: reworded the message\n"));
	CHECK(has(&p.notes, " a.txt | 2 +-"));
	CHECK_STR(p.base_commit, pq_buf_str(&base));
	CHECK(!has(&p.diff, "base-commit"));
	CHECK(ends_with(&p.diff, "+3\n"));
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);
	pq_buf_free(&mail);
	pq_buf_free(&base);
}

static void test_attached_format_patch_file_gives_inbody_headers(void)
{
	struct pq_buf file = PQ_BUF_INIT, body = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("printf 'one\\n2\\n3\\n4\\n' >a.txt && " GIT "commit -qam 'a: add a line to "
		     "a file with a rather long subject that format-patch folds' -m 'Why: tests.'"),
		  0);
	capture(&file, "git format-patch --stdout -1");
	/* a covering note, then the patch file as a concatenated attachment */
	pq_buf_adds(&body, "Hi, my mailer mangles patches, so it is attached.\n\n");
	pq_buf_add(&body, file.ptr, file.len);
	pq_patch_parse(&p, body.ptr, body.len);
	CHECK_STR(p.from, "T <t@example.com>");
	CHECK_STR(p.subject, "[PATCH] a: add a line to a file with a rather long subject that "
			     "format-patch folds");
	CHECK_STR(p.date, "Wed, 1 Jan 2020 00:00:00 +0000");
	CHECK_STR(pq_buf_str(&p.message), "Why: tests.");
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);

	/* the file alone, as git am would read it */
	pq_patch_parse(&p, file.ptr, file.len);
	CHECK_STR(p.from, "T <t@example.com>");
	CHECK_STR(pq_buf_str(&p.message), "Why: tests.");
	CHECK(has(&p.diff, "+4\n"));
	pq_patch_free(&p);
	pq_buf_free(&file);
	pq_buf_free(&body);
}

static void test_quoted_and_no_prefix_paths(void)
{
	struct pq_buf mail = PQ_BUF_INIT;
	struct pq_patch p;

	CHECK_INT(sh("printf 'q\\n' >'sp ace.txt' && printf 'q\\n' >\"$(printf 'ta\\tb.txt')\" && "
		     "mkdir -p dir && printf 'q\\n' >dir/a.txt && git add . && " GIT
		     "commit -qm quoted"),
		  0);
	capture(&mail, "git format-patch --stdout -1");
	parse_mail(&p, &mail);
	CHECK(has(&p.diff, "diff --git \"a/ta\\tb.txt\" \"b/ta\\tb.txt\"\n"));
	CHECK_INT(p.nfiles, 3);
	CHECK(has_file(&p, "dir/a.txt"));
	CHECK(has_file(&p, "sp ace.txt"));
	CHECK(has_file(&p, "ta\tb.txt"));
	CHECK(reverse_applies(&p));
	pq_patch_free(&p);

	capture(&mail, "git format-patch --no-prefix --stdout -1");
	parse_mail(&p, &mail);
	CHECK_INT(p.nfiles, 3);
	CHECK(has_file(&p, "dir/a.txt"));
	CHECK(has_file(&p, "sp ace.txt"));
	CHECK(has_file(&p, "ta\tb.txt"));
	pq_patch_free(&p);
	pq_buf_free(&mail);
}

static void test_request_pull_from_git(void)
{
	struct pq_buf out = PQ_BUF_INIT, url = PQ_BUF_INIT;
	struct pq_patch p;

	pq_buf_addf(&url, "file://%s", repo);
	CHECK_INT(sh("git tag -a -m 'Tag for the pull' v1"), 0);
	capture(&out, "git request-pull HEAD~2 %s main", url.ptr);
	pq_patch_parse(&p, out.ptr, out.len);
	CHECK_STR(p.pull_url, url.ptr);
	CHECK_STR(p.pull_branch, "main");
	CHECK_INT(p.diff.len, 0);
	CHECK(has(&p.message, "are available in the Git repository at:"));
	pq_patch_free(&p);

	capture(&out, "git request-pull -p HEAD~2 %s v1", url.ptr);
	pq_patch_parse(&p, out.ptr, out.len);
	CHECK_STR(p.pull_url, url.ptr);
	CHECK_STR(p.pull_branch, "tags/v1");
	CHECK(has(&p.diff, "diff --git a/a.txt b/a.txt\n"));
	CHECK(has(&p.message, "Tag for the pull"));
	pq_patch_free(&p);
	pq_buf_free(&out);
	pq_buf_free(&url);
}

static void test_request_pull_shapes(void)
{
	static const char since[] = "Please pull.\n\nThe following changes since commit "
				    "e10117d36ef758da0690c95ecffc09d5dd7da479:\n\n  Linux 1.0\n\n";
	struct {
		const char *text, *url, *branch;
	} cases[] = {
		{ "are available in the git repository at:\n\n"
		  "  git://git.example.org/pub/scm/x.git next\n\nShortlog\n",
		  "git://git.example.org/pub/scm/x.git", "next" },
		{ "are available in the Git repository at:\n\n"
		  "  https://git.example.org/x.git/\ntags/x-for-v5.5\n\nfor you\n",
		  "https://git.example.org/x.git/", "tags/x-for-v5.5" },
		{ "are available in the Git repository at:   \n   \n"
		  "  git://git.example.org/net \n\nfor you to fetch changes up to\n",
		  "git://git.example.org/net", NULL },
		{ "are available in the git repository at:\n\n"
		  "  git+ssh://git.example.org/x.git    for-linus   \n\n",
		  "git+ssh://git.example.org/x.git", "for-linus" },
		{ "are available in the git repository at:\n\n"
		  "  ssh://git.example.org/x.git master\n",
		  "ssh://git.example.org/x.git", "master" },
		{ "are available in the git repository at:\n\n"
		  "  http://git.example.org/x.git master\n",
		  "http://git.example.org/x.git", "master" },
		{ "are available in the git repository at:\n\n"
		  "  git@gitlab.example.org:group/x.git topic/y\r\n",
		  "git@gitlab.example.org:group/x.git", "topic/y" },
		{ "are available in the git repository at:\n\n"
		  "  not a url at all\n",
		  NULL, NULL },
	};
	struct pq_buf body = PQ_BUF_INIT;
	struct pq_patch p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pq_buf_reset(&body);
		pq_buf_adds(&body, since);
		pq_buf_adds(&body, cases[i].text);
		pq_patch_parse(&p, body.ptr, body.len);
		CHECK_STR(p.pull_url, cases[i].url);
		CHECK_STR(p.pull_branch, cases[i].branch);
		pq_patch_free(&p);
	}

	/* the "since" line wrapped by the mailer */
	parse_str(&p, "The following changes since commit\n"
		      "e10117d36ef758da0690c95ecffc09d5dd7da479:\n"
		      "  Linus Torvalds (1):\n        Merge\n\n"
		      "are available in the git repository at:\n\n"
		      "  git://git.example.org/benh/powerpc.git next\n\nA (1):\n");
	CHECK_STR(p.pull_url, "git://git.example.org/benh/powerpc.git");
	CHECK_STR(p.pull_branch, "next");
	pq_patch_free(&p);

	/* the sentence alone, with no request-pull text before, is prose */
	parse_str(&p, "are available in the git repository at:\n\n  git://x.example.org/y z\n");
	CHECK(p.pull_url == NULL);
	pq_patch_free(&p);
	pq_buf_free(&body);
}

static void test_inbody_headers_override_and_fold(void)
{
	struct pq_patch p;

	parse_str(&p, "\n\nfrom: Alice Example <alice@example.org>\n"
		      "Subject: [PATCH] net: a subject that was\n"
		      "\tfolded by the mailer\n"
		      "DATE: Tue, 2 Jan 2024 10:00:00 +0100\n"
		      "\n"
		      "The fix.\n\nSigned-off-by: Alice Example <alice@example.org>\n"
		      "---\n"
		      "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n");
	CHECK_STR(p.from, "Alice Example <alice@example.org>");
	CHECK_STR(p.subject, "[PATCH] net: a subject that was folded by the mailer");
	CHECK_STR(p.date, "Tue, 2 Jan 2024 10:00:00 +0100");
	CHECK_STR(pq_buf_str(&p.message),
		  "The fix.\n\nSigned-off-by: Alice Example <alice@example.org>");
	CHECK_STR(pq_buf_str(&p.notes), "");
	CHECK_STR(pq_buf_str(&p.diff),
		  "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n");
	pq_patch_free(&p);

	/* only at the very start: later "From:" lines are message text */
	parse_str(&p, "Fix it.\n\nFrom: someone\n");
	CHECK(p.from == NULL);
	CHECK_STR(pq_buf_str(&p.message), "Fix it.\n\nFrom: someone");
	pq_patch_free(&p);

	/* the header block ends at a line that is no header, as in git mailinfo */
	parse_str(&p, "From: Bob <bob@example.org>\nThe message.\n");
	CHECK_STR(p.from, "Bob <bob@example.org>");
	CHECK_STR(pq_buf_str(&p.message), "The message.");
	pq_patch_free(&p);

	/* other headers are not in-body overrides in a plain body */
	parse_str(&p, "Cc: carol@example.org\n\nText.\n");
	CHECK(p.from == NULL && p.subject == NULL);
	CHECK_STR(pq_buf_str(&p.message), "Cc: carol@example.org\n\nText.");
	pq_patch_free(&p);
}

static void test_scissors_drop_what_is_above(void)
{
	static const char *const marks[] = {
		"-- >8 --",
		"--8<--",
		"------------------------ >8 ------------------------",
		" - - >8 - - remove everything above this line - - >8 - -",
		"-- \xe2\x9c\x82 --",
	};
	struct pq_buf body = PQ_BUF_INIT;
	struct pq_patch p;
	size_t i;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		pq_buf_reset(&body);
		pq_buf_addf(&body,
			    "From: Wrong <w@example.org>\n\nOn Monday you wrote:\n> quoted\n\n"
			    "I think this is better:\n\n%s\nSubject: [PATCH] Right subject\n\n"
			    "The real message.\n---\n x | 2 +-\n\n"
			    "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
			    marks[i]);
		pq_patch_parse(&p, body.ptr, body.len);
		CHECK_STR(p.from, NULL);
		CHECK_STR(p.subject, "[PATCH] Right subject");
		CHECK_STR(pq_buf_str(&p.message), "The real message.");
		CHECK_STR(pq_buf_str(&p.notes), " x | 2 +-");
		CHECK(ends_with(&p.diff, "+b\n"));
		pq_patch_free(&p);
	}

	/* dashes and a few words are no scissors */
	parse_str(&p, "Numbers >8 are big --- really.\n-- 8 --\n");
	CHECK_STR(pq_buf_str(&p.message), "Numbers >8 are big --- really.\n-- 8 --");
	pq_patch_free(&p);
	pq_buf_free(&body);
}

static void test_cvs_index_diff(void)
{
	static const char diff[] =
		"Index: bfd/elf-bfd.h\n"
		"===================================================================\n"
		"RCS file: /cvs/src/src/bfd/elf-bfd.h,v\n"
		"retrieving revision 1.329\n"
		"diff -u -p -r1.329 elf-bfd.h\n"
		"--- bfd/elf-bfd.h\t17 Aug 2011 00:39:38 -0000\t1.329\n"
		"+++ bfd/elf-bfd.h\t5 Dec 2011 23:58:34 -0000\n"
		"@@ -1,2 +1,3 @@\n"
		" a\n"
		"+b\n"
		" c\n"
		"Index: bfd/elflink.c\n"
		"===================================================================\n"
		"--- bfd/elflink.c\t(revision 12)\n"
		"+++ bfd/elflink.c\t(working copy)\n"
		"@@ -1 +1 @@\n"
		"-x\n"
		"+y\n";
	struct pq_buf body = PQ_BUF_INIT;
	struct pq_patch p;

	pq_buf_adds(&body, "The pr11138 testcase fails.\n\n"
			   "2011-12-05  A Developer  <dev@example.org>\n\n"
			   "\t* elf-bfd.h (elf_link_hash_entry): Add field.\n\n");
	pq_buf_adds(&body, diff);
	pq_buf_adds(&body, "\n\n");
	pq_patch_parse(&p, body.ptr, body.len);
	CHECK_STR(pq_buf_str(&p.diff), diff);
	CHECK(!has(&p.message, "Index:"));
	CHECK(has(&p.message, "\t* elf-bfd.h (elf_link_hash_entry): Add field."));
	CHECK_INT(p.nfiles, 2);
	CHECK_STR(p.nfiles > 1 ? p.files[0] : NULL, "bfd/elf-bfd.h");
	CHECK_STR(p.nfiles > 1 ? p.files[1] : NULL, "bfd/elflink.c");
	pq_patch_free(&p);
	pq_buf_free(&body);
}

static void test_plain_unified_diff_without_header_line(void)
{
	struct pq_patch p;

	parse_str(&p,
		  "Fix the thing.\n\n--- linux.orig/drivers/x.c\n+++ linux/drivers/x.c\n"
		  "@@ -1 +1 @@\n-a\n+b\n--- /dev/null\n+++ linux/drivers/new.c\n@@ -0,0 +1 @@\n+n\n"
		  "--- linux.orig/drivers/gone.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-g\n");
	CHECK_STR(pq_buf_str(&p.message), "Fix the thing.");
	CHECK(!strncmp(pq_buf_str(&p.diff), "--- linux.orig/drivers/x.c\n", 27));
	CHECK_INT(p.nfiles, 3);
	CHECK_STR(p.nfiles > 2 ? p.files[0] : NULL, "drivers/x.c");
	CHECK_STR(p.nfiles > 2 ? p.files[1] : NULL, "drivers/new.c");
	CHECK_STR(p.nfiles > 2 ? p.files[2] : NULL, "drivers/gone.c");
	pq_patch_free(&p);

	/* "--- " in prose is no diff without its "+++ " */
	parse_str(&p, "Before.\n--- not a diff\nAfter.\n");
	CHECK_STR(pq_buf_str(&p.message), "Before.\n--- not a diff\nAfter.");
	CHECK_INT(p.diff.len, 0);
	pq_patch_free(&p);
}

static void test_signature_and_list_footer_are_removed(void)
{
	static const char diff[] = "diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n"
				   "@@ -1,2 +1,2 @@\n a\n-b\n+c\n";
	static const char *const tails[] = {
		"-- \n2.7.4\n",
		"-- \nA Developer\nhttps://example.org/\n",
		"--\nmangled signature separator\n",
		("\n_______________________________________________\nLinuxppc-dev mailing list\n"
		 "Linuxppc-dev@lists.ozlabs.org\nhttps://lists.ozlabs.org/listinfo/linuxppc-dev\n"),
		"-- \n2.7.4\n\n_______________________________________________\nX mailing list\n",
		"\n\n\n",
	};
	struct pq_buf body = PQ_BUF_INIT;
	struct pq_patch p;
	size_t i;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		pq_buf_reset(&body);
		pq_buf_addf(&body, "Message.\n---\n%s%s", diff, tails[i]);
		pq_patch_parse(&p, body.ptr, body.len);
		CHECK_STR(pq_buf_str(&p.diff), diff);
		CHECK_STR(pq_buf_str(&p.message), "Message.");
		pq_patch_free(&p);
	}

	/* a cover letter: signature and footer do not reach the message */
	parse_str(&p, "This series does X.\n\nThanks,\nA\n-- \nA Developer | Example Corp\n"
		      "_______________________________________________\nfoo mailing list\n");
	CHECK_STR(pq_buf_str(&p.message), "This series does X.\n\nThanks,\nA");
	pq_patch_free(&p);
	parse_str(&p, "A pull request.\n\n_______________________________________________\n"
		      "Foo mailing list\nfoo@lists.example.org\n");
	CHECK_STR(pq_buf_str(&p.message), "A pull request.");
	pq_patch_free(&p);

	/* a diff sent after a signature, as a second text part */
	parse_str(&p,
		  "See attachment.\n-- \nA\n\nIndex: x\n===\n--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b\n");
	CHECK_STR(pq_buf_str(&p.message), "See attachment.");
	CHECK_STR(pq_buf_str(&p.diff), "Index: x\n===\n--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b\n");
	pq_patch_free(&p);
	pq_buf_free(&body);
}

static void test_b4_cover_letter_metadata(void)
{
	struct pq_patch p;

	parse_str(&p, "This series cleans things up.\n\n"
		      "Signed-off-by: A Developer <a@example.org>\n---\n"
		      "A Developer (2):\n      x: one\n      y: two\n\n"
		      " x | 1 +\n 2 files changed\n---\n"
		      "base-commit: 1da177e4c3f41524e886b7f1b8a0c1fc7321cac2\n"
		      "change-id: 20240102-cleanup-3f2a1b\n\nBest regards,\n"
		      "-- \nA Developer <a@example.org>\n");
	CHECK_STR(p.base_commit, "1da177e4c3f41524e886b7f1b8a0c1fc7321cac2");
	CHECK_STR(p.change_id, "20240102-cleanup-3f2a1b");
	CHECK_STR(pq_buf_str(&p.message),
		  "This series cleans things up.\n\nSigned-off-by: A Developer <a@example.org>");
	CHECK(!has(&p.notes, "base-commit") && !has(&p.notes, "change-id"));
	CHECK(has(&p.notes, "Best regards,"));
	CHECK(!has(&p.notes, "A Developer <a@example.org>"));
	CHECK_INT(p.diff.len, 0);
	pq_patch_free(&p);

	/* not a commit id: stays text */
	parse_str(&p, "base-commit: see the cover letter\n");
	CHECK(p.base_commit == NULL);
	CHECK_STR(pq_buf_str(&p.message), "base-commit: see the cover letter");
	pq_patch_free(&p);
}

static void test_hunk_counts_survive_mailer_damage(void)
{
	struct pq_patch p;

	/* a context line " " whose space was eaten, and CRLF line ends */
	parse_str(&p, "M\r\n---\r\ndiff --git a/x b/x\r\n--- a/x\r\n+++ b/x\r\n@@ -1,3 +1,3 @@\r\n"
		      " a\r\n\r\n-b\r\n+c\r\n-- \r\nsig\r\n");
	CHECK_STR(pq_buf_str(&p.message), "M");
	CHECK_STR(pq_buf_str(&p.diff),
		  "diff --git a/x b/x\r\n--- a/x\r\n+++ b/x\r\n@@ -1,3 +1,3 @@\r\n"
		  " a\r\n\r\n-b\r\n+c\r\n");
	pq_patch_free(&p);

	/* a missing final newline is supplied */
	parse_str(&p, "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b");
	CHECK_STR(pq_buf_str(&p.diff),
		  "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
	CHECK_STR(pq_buf_str(&p.message), "");
	pq_patch_free(&p);
}

static void test_message_whitespace_is_normalised(void)
{
	struct pq_patch p;

	parse_str(&p, "\n \n\t\nFirst line.   \n\n\n\nSecond\tparagraph.\t\n\n \n");
	CHECK_STR(pq_buf_str(&p.message), "First line.\n\nSecond\tparagraph.");
	pq_patch_free(&p);

	parse_str(&p, "Subject line.\n---  \nnotes only\n\n");
	CHECK_STR(pq_buf_str(&p.message), "Subject line.");
	CHECK_STR(pq_buf_str(&p.notes), "notes only");
	pq_patch_free(&p);
}

static void test_odd_input_is_data(void)
{
	static const char nul[] = "Msg\0with NUL\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n"
				  "@@ -1 +1 @@\n-\0\n+b\n";
	static const char *const odd[] = {
		"",
		"\n",
		"---",
		"---\n",
		"-- \n",
		"diff -",
		"@@ -1 +1 @@\n",
		"From: \n",
		"Subject:",
		"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
		"diff --git \"a/unterminated\n",
		("diff --git a/x b/x\n@@ -99999999999999999999999,1 "
		 "+1,99999999999999999999 @@\n-x\n"),
		"GIT binary patch\nliteral 5\n",
		"--- a\n+++ b\n@@ -1 +1 @@",
		"Index: \n",
		"rename from \"\"\n",
		"The following changes since commit\nare available in the git repository at:\n",
	};
	struct pq_patch p;
	size_t i;

	pq_patch_parse(&p, nul, sizeof(nul) - 1);
	CHECK_INT(p.message.len, 12);
	CHECK(!memcmp(pq_buf_str(&p.message), "Msg\0with NUL", 12));
	CHECK_INT(p.diff.len, sizeof(nul) - 1 - 17);
	CHECK_INT(p.nfiles, 1);
	pq_patch_free(&p);

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		CHECK_INT(pq_patch_parse(&p, odd[i], strlen(odd[i])), 0);
		pq_patch_free(&p);
	}
	CHECK_INT(pq_patch_parse(&p, NULL, 0), 0);
	pq_patch_free(&p);
	pq_patch_free(&p); /* twice is harmless */
}

static void test_large_input_stays_linear(void)
{
	struct pq_buf body = PQ_BUF_INIT;
	struct pq_patch p;
	clock_t t0;
	size_t i;

	/* a long scissors line first, then the patch */
	for (i = 0; i < 200000; i++)
		pq_buf_adds(&body, "-- >8 -- ");
	pq_buf_adds(&body, "\nTree-wide rename.\n---\n");
	for (i = 0; i < 50000; i++)
		pq_buf_addf(&body,
			    "diff --git a/d%zu/f.c b/d%zu/f.c\n--- a/d%zu/f.c\n+++ b/d%zu/f.c\n"
			    "@@ -1 +1 @@\n-a\n+b\n",
			    i % 25000, i % 25000, i % 25000, i % 25000);
	t0 = clock();
	pq_patch_parse(&p, body.ptr, body.len);
	CHECK_STR(pq_buf_str(&p.message), "Tree-wide rename.");
	CHECK_INT(p.nfiles, 25000);
	CHECK_STR(p.nfiles ? p.files[p.nfiles - 1] : NULL, "d24999/f.c");
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
	pq_patch_free(&p);
	pq_buf_free(&body);
}

/* A NUL byte in the mail: in the diff it refuses the patch, elsewhere not. */
static void test_nul_in_diff_refuses_the_patch(void)
{
	static const char in_diff[] =
		"Subject: [PATCH] data: add the table\nMessage-ID: <nul@x>\n\n"
		"Add it.\n\nSigned-off-by: T <t@example.com>\n---\n"
		"diff --git a/table.txt b/table.txt\n--- a/table.txt\n+++ b/table.txt\n"
		"@@ -1 +1,2 @@\n one\n+tw\0o\n";
	static const char in_message[] =
		"Subject: [PATCH] data: add the table\nMessage-ID: <nul2@x>\n\n"
		"Add it\0.\n\nSigned-off-by: T <t@example.com>\n---\n"
		"diff --git a/table.txt b/table.txt\n--- a/table.txt\n+++ b/table.txt\n"
		"@@ -1 +1,2 @@\n one\n+two\n";
	struct pq_mail m;
	struct pq_patch p;

	CHECK(pq_mail_parse(&m, in_diff, sizeof(in_diff) - 1, NULL) == 0);
	pq_patch_parse_mail(&p, &m);
	CHECK(p.diff.len > 0);
	CHECK(p.error != NULL);
	CHECK(p.error && strstr(p.error, "line 6 of the diff (table.txt)") &&
	      strstr(p.error, "NUL byte") && strstr(p.error, "not applied"));
	pq_patch_free(&p);
	/* pq_patch_parse() alone knows nothing of NUL bytes */
	pq_patch_parse(&p, m.body.ptr, m.body.len);
	CHECK(p.error == NULL);
	pq_patch_free(&p);
	pq_mail_free(&m);

	CHECK(pq_mail_parse(&m, in_message, sizeof(in_message) - 1, NULL) == 0);
	CHECK_INT(m.nnul, 1);
	pq_patch_parse_mail(&p, &m);
	CHECK(p.diff.len > 0);
	CHECK(p.error == NULL);
	pq_patch_free(&p);
	pq_mail_free(&m);
}

int main(void)
{
	setup_repo();
	test_nul_in_diff_refuses_the_patch();
	test_plain_edit_splits_message_notes_and_diff();
	test_rename_with_change_lists_both_paths();
	test_lines_per_file_match_numstat();
	test_mode_change_without_hunk_is_the_whole_diff();
	test_new_empty_file_and_deletion_are_diffs();
	test_binary_patch_keeps_blank_separators();
	test_no_newline_marker_stays_in_the_diff();
	test_removed_dash_space_line_is_not_a_signature();
	test_notes_and_base_commit_are_separated();
	test_attached_format_patch_file_gives_inbody_headers();
	test_quoted_and_no_prefix_paths();
	test_request_pull_from_git();
	test_request_pull_shapes();
	test_inbody_headers_override_and_fold();
	test_scissors_drop_what_is_above();
	test_cvs_index_diff();
	test_plain_unified_diff_without_header_line();
	test_signature_and_list_footer_are_removed();
	test_b4_cover_letter_metadata();
	test_hunk_counts_survive_mailer_damage();
	test_message_whitespace_is_normalised();
	test_odd_input_is_data();
	test_large_input_stays_linear();
	sh("cd / && rm -rf '%s'", repo);
	CHECK_DONE();
}
