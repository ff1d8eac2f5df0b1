/*
 * test_mail: one raw message to a decoded pq_mail. The fixtures are written
 * here: small hand-made messages (with their lengths where they hold NUL
 * bytes) and real ones made by `git format-patch` in a temporary repository
 * the test builds and removes. Every string a parse hands out is checked to
 * be valid UTF-8.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "error.h"
#include "mail.h"
#include "mbox.h"
#include "utf8_oracle.h"

/* ---- helpers ---- */

static int str_ok(const char *s)
{
	return s && utf8_ok(s, strlen(s));
}

/* The name of the first output field that is not valid UTF-8, or NULL. */
static const char *mail_bad_field(const struct pq_mail *m)
{
	size_t i;

	if (!str_ok(m->msgid))
		return "msgid";
	for (i = 0; i < m->nrefs; i++)
		if (!str_ok(m->refs[i]))
			return "refs";
	if (m->in_reply_to && !str_ok(m->in_reply_to))
		return "in_reply_to";
	if (!str_ok(m->subject))
		return "subject";
	if (!str_ok(m->from_name))
		return "from_name";
	if (!str_ok(m->from_email))
		return "from_email";
	if (!str_ok(m->date_raw))
		return "date_raw";
	if (!str_ok(m->to))
		return "to";
	if (!str_ok(m->cc))
		return "cc";
	if (!str_ok(m->list_id))
		return "list_id";
	if (!utf8_ok(pq_buf_str(&m->body), m->body.len))
		return "body";
	if (m->warning && !str_ok(m->warning))
		return "warning";
	return NULL;
}

/* Parses and checks every output is UTF-8; line is the caller's for the report. */
static int parse_at(struct pq_mail *m, const char *raw, size_t len,
		    const struct pq_mail_limits *lim, int line)
{
	int ret = pq_mail_parse(m, raw, len, lim);
	const char *bad = mail_bad_field(m);

	check_count++;
	if (bad) {
		fprintf(stderr, "%s:%d: output field %s is not valid UTF-8\n", __FILE__, line, bad);
		check_failures++;
	}
	return ret;
}

#define PARSE(m, s) parse_at(m, s, strlen(s), NULL, __LINE__)
#define PARSE_LEN(m, s, n) parse_at(m, s, n, NULL, __LINE__)
#define PARSE_LIM(m, s, lim) parse_at(m, s, strlen(s), lim, __LINE__)
/* A literal with its length, NUL bytes included. */
#define PARSE_LIT(m, lit) parse_at(m, lit, sizeof(lit) - 1, NULL, __LINE__)

static int is_derived_id(const char *id)
{
	size_t i;

	if (!id || strlen(id) != 40 + strlen("@patchq.invalid"))
		return 0;
	for (i = 0; i < 40; i++)
		if (!strchr("0123456789abcdef", id[i]))
			return 0;
	return !strcmp(id + 40, "@patchq.invalid");
}

static int hash_is_zero(const unsigned char *h)
{
	size_t i;

	for (i = 0; i < PQ_MAIL_HASH_LEN; i++)
		if (h[i])
			return 0;
	return 1;
}

static int body_has(const struct pq_mail *m, const char *needle)
{
	return m->body.ptr && memmem(m->body.ptr, m->body.len, needle, strlen(needle)) != NULL;
}

/* Runs fn(arg) in a child; 1 when it returned normally (no crash, no abort). */
static int survives(void (*fn)(const void *), const void *arg)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- a git repository for format-patch fixtures ---- */

static char tmp_root[] = "/tmp/pq-test-mail-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void write_file(const char *rel, const char *text)
{
	struct pq_buf p = PQ_BUF_INIT;
	FILE *f;

	pq_buf_addf(&p, "%s/%s", tmp_root, rel);
	f = fopen(p.ptr, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	pq_buf_free(&p);
}

/* Runs a git command in the repository; 0 on success. */
static int git(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int git(const char *fmt, ...)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	va_list ap;
	int rc;

	pq_buf_addf(&cmd,
		    "git -C '%s' -c user.name='J\xc3\xb6rg Doe' -c user.email=jd@example.org ",
		    tmp_root);
	va_start(ap, fmt);
	pq_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pq_buf_adds(&cmd, " >/dev/null 2>&1");
	rc = system(cmd.ptr);
	pq_buf_free(&cmd);
	return rc;
}

/* The standard output of a git command, into out. */
static void git_output(struct pq_buf *out, const char *args)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *p;

	pq_buf_reset(out);
	pq_buf_addf(&cmd,
		    "git -C '%s' -c user.name='J\xc3\xb6rg Doe' -c user.email=jd@example.org %s",
		    tmp_root, args);
	p = popen(cmd.ptr, "r");
	CHECK(p != NULL);
	if (p) {
		while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
			pq_buf_add(out, chunk, n);
		CHECK_INT(pclose(p), 0);
	}
	pq_buf_free(&cmd);
}

static int make_repo(void)
{
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_AUTHOR_DATE", "2024-03-01 10:00:00 +0100", 1);
	setenv("GIT_COMMITTER_DATE", "2024-03-01 10:00:00 +0100", 1);
	if (git("init -q") != 0)
		return -1;
	write_file("a.txt", "line one\n");
	if (git("add a.txt") || git("commit -q -m init"))
		return -1;
	write_file("a.txt", "line one\nline two\n");
	if (git("commit -q -a -m 'rust: fix \xc3\xbcn\xc3\xaf"
		"code handling' "
		"-m 'Explain the caf\xc3\xa9 change.' -m 'Signed-off-by: J\xc3\xb6rg Doe "
		"<jd@example.org>'"))
		return -1;
	write_file("b.txt", "plain ascii\n");
	if (git("add b.txt") || git("commit -q -m 'rust: add b' -m 'Signed-off-by: J\xc3\xb6rg Doe "
				    "<jd@example.org>'"))
		return -1;
	return 0;
}

/* The messages of an mbox, copied out. */
struct msgs {
	size_t n;
	char *raw[16];
	size_t len[16];
};

static int msgs_cb(void *ctx, const char *raw, size_t len, const char *cursor)
{
	struct msgs *ms = ctx;

	if (ms->n < 16) {
		ms->raw[ms->n] = pq_strndup(raw, len);
		ms->len[ms->n] = len;
		ms->n++;
	}
	return 0;
}

static void format_patch(struct msgs *ms, const char *args)
{
	struct pq_buf out = PQ_BUF_INIT, cmd = PQ_BUF_INIT;

	memset(ms, 0, sizeof(*ms));
	pq_buf_addf(&cmd, "format-patch --stdout %s", args);
	git_output(&out, cmd.ptr);
	pq_mbox_split(out.ptr ? out.ptr : "", out.len, msgs_cb, ms);
	pq_buf_free(&out);
	pq_buf_free(&cmd);
}

static void msgs_free(struct msgs *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		free(ms->raw[i]);
	memset(ms, 0, sizeof(*ms));
}

/* ---- Message-IDs and threading ---- */

static void test_msgid_with_and_without_brackets(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "Message-ID: <abc.123@example.org>\nSubject: s\n\nbody\n"), 0);
	CHECK_STR(m.msgid, "abc.123@example.org");
	CHECK_INT(m.msgid_derived, 0);
	pq_mail_free(&m);

	CHECK_INT(PARSE(&m, "message-id:   abc.123@example.org  \nSubject: s\n\nbody\n"), 0);
	CHECK_STR(m.msgid, "abc.123@example.org");
	CHECK_INT(m.msgid_derived, 0);
	pq_mail_free(&m);

	/* folded onto the next line */
	CHECK_INT(PARSE(&m, "Message-Id:\n <folded@example.org>\nSubject: s\n\nbody\n"), 0);
	CHECK_STR(m.msgid, "folded@example.org");
	pq_mail_free(&m);
}

static void test_msgid_first_of_several_is_kept(void)
{
	struct pq_mail m;

	/* A broken mailer repeating itself: the first id names the message. */
	CHECK_INT(PARSE(&m, "Message-ID: <first@x> <second@x>\nSubject: s\n\nb\n"), 0);
	CHECK_STR(m.msgid, "first@x");
	pq_mail_free(&m);
}

static void test_msgid_missing_is_derived_and_stable(void)
{
	static const char a[] = "From: A <a@example.org>\nSubject: no id\n\nsame body\n";
	static const char a_later[] = "Received: from relay by mx; Sat, 2 Mar 2024 00:00:00 +0000\n"
				      "From: A <a@example.org>\nSubject: no id\n"
				      "Date: Sat, 2 Mar 2024 00:00:00 +0000\n\nsame body\n";
	static const char b[] = "From: A <a@example.org>\nSubject: no id\n\nother body\n";
	struct pq_mail m1, m2, m3, m4;

	CHECK_INT(PARSE(&m1, a), 0);
	CHECK_INT(PARSE(&m2, a), 0);
	CHECK_INT(PARSE(&m3, b), 0);
	CHECK_INT(PARSE(&m4, a_later), 0);
	CHECK(is_derived_id(m1.msgid));
	CHECK_INT(m1.msgid_derived, 1);
	CHECK_STR(m1.msgid, m2.msgid);
	CHECK(strcmp(m1.msgid, m3.msgid) != 0);
	CHECK(is_derived_id(m3.msgid));
	/* the same mail delivered again names itself the same */
	CHECK_STR(m1.msgid, m4.msgid);
	pq_mail_free(&m1);
	pq_mail_free(&m2);
	pq_mail_free(&m3);
	pq_mail_free(&m4);

	/* empty brackets or white space are no Message-ID either */
	CHECK_INT(PARSE(&m1, "Message-ID: <>\nSubject: s\n\nb\n"), 0);
	CHECK(is_derived_id(m1.msgid));
	CHECK_INT(m1.msgid_derived, 1);
	pq_mail_free(&m1);
	CHECK_INT(PARSE(&m1, "Message-ID:    \nSubject: s\n\nb\n"), 0);
	CHECK(is_derived_id(m1.msgid));
	pq_mail_free(&m1);
}

static int refs_are(const struct pq_mail *m, size_t n, ...)
{
	va_list ap;
	size_t i;
	int ok = m->nrefs == n;

	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);

		if (ok && strcmp(m->refs[i], want))
			ok = 0;
	}
	va_end(ap);
	if (!ok) {
		fprintf(stderr, "  refs:");
		for (i = 0; i < m->nrefs; i++)
			fprintf(stderr, " <%s>", m->refs[i]);
		fprintf(stderr, "\n");
	}
	return ok;
}

static void test_refs_in_reply_to_last_no_duplicate(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "Message-ID: <m@x>\nReferences: <a@x> <b@x>\n <c@x>\n"
			    "In-Reply-To: <c@x>\n\nb\n"),
		  0);
	CHECK(refs_are(&m, 3, "a@x", "b@x", "c@x"));
	CHECK_STR(m.in_reply_to, "c@x");
	pq_mail_free(&m);

	/* In-Reply-To not in References: appended */
	CHECK_INT(PARSE(&m, "Message-ID: <m@x>\nReferences: <a@x> <b@x>\n"
			    "In-Reply-To: <d@x> (Joe's message of today)\n\nb\n"),
		  0);
	CHECK(refs_are(&m, 3, "a@x", "b@x", "d@x"));
	CHECK_STR(m.in_reply_to, "d@x");
	pq_mail_free(&m);

	/* only In-Reply-To */
	CHECK_INT(PARSE(&m, "Message-ID: <m@x>\nIn-Reply-To: <p@x>\n\nb\n"), 0);
	CHECK(refs_are(&m, 1, "p@x"));
	pq_mail_free(&m);

	/* none */
	CHECK_INT(PARSE(&m, "Message-ID: <m@x>\nSubject: s\n\nb\n"), 0);
	CHECK_INT(m.nrefs, 0);
	CHECK(m.in_reply_to == NULL);
	pq_mail_free(&m);
}

static void test_refs_in_reply_to_earlier_in_references_not_duplicated(void)
{
	struct pq_mail m;

	/* In-Reply-To names an older reference: it goes last, once. */
	CHECK_INT(PARSE(&m, "Message-ID: <m@x>\nReferences: <a@x> <b@x> <c@x>\n"
			    "In-Reply-To: <a@x>\n\nb\n"),
		  0);
	CHECK(refs_are(&m, 3, "b@x", "c@x", "a@x"));
	pq_mail_free(&m);
}

static void test_in_reply_to_first_id_kept(void)
{
	struct pq_mail m;

	/* mail.h: in_reply_to is the FIRST Message-ID of In-Reply-To */
	CHECK_INT(PARSE(&m, "Message-ID: <m@x>\nIn-Reply-To: <first@x> <second@x>\n\nb\n"), 0);
	CHECK_STR(m.in_reply_to, "first@x");
	pq_mail_free(&m);
}

static void test_refs_never_self(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "Message-ID: <me@x>\nReferences: <a@x> <me@x> <b@x>\n"
			    "In-Reply-To: <me@x>\n\nb\n"),
		  0);
	CHECK(refs_are(&m, 2, "a@x", "b@x"));
	pq_mail_free(&m);
}

static void test_refs_limit_keeps_most_recent(void)
{
	struct pq_mail_limits lim = pq_mail_default_limits;
	struct pq_mail m;

	lim.max_refs = 3;
	CHECK_INT(PARSE_LIM(&m,
			    "Message-ID: <m@x>\nReferences: <1@x> <2@x> <3@x> <4@x>"
			    " <5@x> <6@x>\n\nb\n",
			    &lim),
		  0);
	CHECK(refs_are(&m, 3, "4@x", "5@x", "6@x"));
	pq_mail_free(&m);

	CHECK_INT(PARSE_LIM(&m,
			    "Message-ID: <m@x>\nReferences: <1@x> <2@x> <3@x> <4@x>\n"
			    "In-Reply-To: <4@x>\n\nb\n",
			    &lim),
		  0);
	CHECK(refs_are(&m, 3, "2@x", "3@x", "4@x"));
	pq_mail_free(&m);

	/* a long chain: never more than the limit plus In-Reply-To */
	{
		struct pq_buf raw = PQ_BUF_INIT;
		int i;

		pq_buf_adds(&raw, "Message-ID: <m@x>\nReferences:");
		for (i = 0; i < 1000; i++)
			pq_buf_addf(&raw, " <r%d@x>\n", i);
		pq_buf_adds(&raw, "In-Reply-To: <r999@x>\n\nbody\n");
		CHECK_INT(PARSE_LEN(&m, raw.ptr, raw.len), 0);
		CHECK_INT(m.nrefs, pq_mail_default_limits.max_refs);
		CHECK_STR(m.nrefs ? m.refs[m.nrefs - 1] : NULL, "r999@x");
		CHECK_STR(m.nrefs ? m.refs[0] : NULL, "r744@x");
		pq_mail_free(&m);
		pq_buf_free(&raw);
	}
}

static void parse_with_no_refs_kept(const void *arg)
{
	struct pq_mail_limits lim = pq_mail_default_limits;
	struct pq_mail m;

	lim.max_refs = 0;
	pq_mail_parse(&m, arg, strlen(arg), &lim);
	pq_mail_free(&m);
}

static void test_refs_limit_zero_does_not_crash(void)
{
	/* max_refs = 0 ("keep no references") is a configurable bound */
	CHECK(survives(parse_with_no_refs_kept, "Message-ID: <m@x>\nReferences: <a@x>\n\nb\n"));
}

/* ---- header text ---- */

static void test_rfc2047_subject_and_from(void)
{
	static const struct {
		const char *subject, *want;
	} cases[] = {
		{ "=?UTF-8?Q?caf=C3=A9?=", "caf\xc3\xa9" },
		{ "=?utf-8?b?Y2Fmw6k=?=", "caf\xc3\xa9" },
		{ "=?ISO-8859-1?Q?caf=E9?=", "caf\xc3\xa9" },
		{ "=?iso-8859-1?B?Y2Fm6Q==?=", "caf\xc3\xa9" },
		{ "[PATCH 1/2] =?UTF-8?q?rust:=20fix=20=C3=BCn=C3=AFcode?=",
		  "[PATCH 1/2] rust: fix \xc3\xbcn\xc3\xaf"
		  "code" },
		{ "=?UTF-8?Q?a_b?= =?UTF-8?Q?_c?=", "a b c" },
		{ "=?UTF-8?Q?caf=C3=A9?= au lait", "caf\xc3\xa9 au lait" },
		{ "plain [PATCH] subject", "plain [PATCH] subject" },
	};
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pq_buf_reset(&raw);
		pq_buf_addf(&raw, "Message-ID: <s%zu@x>\nSubject: %s\n\nb\n", i, cases[i].subject);
		CHECK_INT(PARSE(&m, raw.ptr), 0);
		CHECK_STR(m.subject, cases[i].want);
		pq_mail_free(&m);
	}
	pq_buf_free(&raw);

	CHECK_INT(PARSE(&m, "From: =?UTF-8?q?J=C3=B6rg=20Doe?= <jd@example.org>\n\nb\n"), 0);
	CHECK_STR(m.from_name, "J\xc3\xb6rg Doe");
	CHECK_STR(m.from_email, "jd@example.org");
	pq_mail_free(&m);

	CHECK_INT(PARSE(&m, "From: =?iso-8859-1?b?SvZyZw==?= <jd@example.org>\n\nb\n"), 0);
	CHECK_STR(m.from_name, "J\xc3\xb6rg");
	CHECK_STR(m.from_email, "jd@example.org");
	pq_mail_free(&m);

	/* an encoded comma does not split the name */
	CHECK_INT(PARSE(&m, "From: =?UTF-8?Q?Doe=2C_Jane?= <jane@example.org>\n\nb\n"), 0);
	CHECK_STR(m.from_name, "Doe, Jane");
	CHECK_STR(m.from_email, "jane@example.org");
	pq_mail_free(&m);
}

static void test_raw_8bit_headers_become_utf8(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "From: J\xc3\xb6rg Doe <jd@example.org>\n"
			    "Subject: [PATCH] caf\xc3\xa9 \xe2\x82\xac\n\nb\n"),
		  0);
	CHECK_STR(m.subject, "[PATCH] caf\xc3\xa9 \xe2\x82\xac");
	CHECK_STR(m.from_name, "J\xc3\xb6rg Doe");
	pq_mail_free(&m);

	/* Latin-1 written raw: read as Windows-1252 */
	CHECK_INT(PARSE(&m, "From: J\xf6rg Doe <jd@example.org>\nSubject: caf\xe9 \x80\n\nb\n"), 0);
	CHECK_STR(m.subject, "caf\xc3\xa9 \xe2\x82\xac");
	CHECK_STR(m.from_name, "J\xc3\xb6rg Doe");
	CHECK_STR(m.from_email, "jd@example.org");
	pq_mail_free(&m);

	/* raw Latin-1 beside an encoded word */
	CHECK_INT(PARSE(&m, "Subject: caf\xe9 =?UTF-8?Q?=C3=BC?=\n\nb\n"), 0);
	CHECK(strstr(m.subject, "\xc3\xbc") != NULL);
	pq_mail_free(&m);
}

static void test_invalid_bytes_in_encoded_words_give_utf8(void)
{
	static const char *const subjects[] = {
		"=?UTF-8?Q?bad=FF=FEend?=",
		"=?UTF-8?B?/w==?=",
		"=?utf-8?q?=C3?=",
		"=?utf-8?q?=ED=A0=80surrogate?=",
		"=?utf-8?q?=F4=90=80=80toohigh?=",
		"=?utf-8?q?=C0=AFoverlong?=",
		"=?x-unknown?Q?caf=E9?=",
		"=?none?B?Y2Fm6Q==?=",
		"=?UTF-8?Q?nul=00byte?=",
		"=?UTF-8?Q?unterminated",
		"=?UTF-8?X?bad-encoding?=",
		"=?UTF-8*en?Q?lang?=",
		"=??Q?nocharset?=",
		"=?UTF-16?B?2D3eAA==?=",
	};
	struct pq_buf raw = PQ_BUF_INIT, out = PQ_BUF_INIT;
	struct pq_mail m;
	size_t i;

	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		pq_buf_reset(&raw);
		pq_buf_addf(&raw, "Subject: %s\nFrom: %s <a@b>\n\nb\n", subjects[i], subjects[i]);
		CHECK_INT(PARSE(&m, raw.ptr), 0);
		pq_mail_free(&m);
		pq_mail_decode_header(&out, subjects[i], strlen(subjects[i]));
		CHECK(utf8_ok(pq_buf_str(&out), out.len));
	}
	pq_buf_free(&raw);
	pq_buf_free(&out);

	/* Latin-1 labelled and encoded: decoded properly */
	CHECK_INT(PARSE(&m, "Subject: =?x-unknown?Q?caf=C3=A9?=\n\nb\n"), 0);
	CHECK_STR(m.subject, "caf\xc3\xa9");
	pq_mail_free(&m);
}

static void test_folded_headers_unfolded(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "Subject: [PATCH v2 1/3] a very\n long\r\n\tsubject\nFrom: Jane\n"
			    " Doe <jane@example.org>\nMessage-ID:\n\t<f@x>\n\nb\n"),
		  0);
	CHECK_STR(m.subject, "[PATCH v2 1/3] a very long subject");
	CHECK_STR(m.from_name, "Jane Doe");
	CHECK_STR(m.from_email, "jane@example.org");
	CHECK_STR(m.msgid, "f@x");
	pq_mail_free(&m);

	/* encoded words split over lines, as git send-email folds them */
	CHECK_INT(PARSE(&m, "Subject: =?UTF-8?q?rust:=20fix=20?=\n =?UTF-8?q?caf=C3=A9?=\n\nb\n"),
		  0);
	CHECK_STR(m.subject, "rust: fix caf\xc3\xa9");
	pq_mail_free(&m);
}

static void test_addresses_quoted_comma_and_comment_forms(void)
{
	static const struct {
		const char *from, *name, *email;
	} cases[] = {
		{ "\"Doe, Jane\" <j@x.org>", "Doe, Jane", "j@x.org" },
		{ "j@x.org (Jane Doe)", "Jane Doe", "j@x.org" },
		/* git mailinfo: no name, the address is the name */
		{ "j@x.org", "j@x.org", "j@x.org" },
		{ "<j@x.org>", "j@x.org", "j@x.org" },
		{ "Jane Doe <j@x.org>", "Jane Doe", "j@x.org" },
		{ "\"Jane \\\"JD\\\" Doe\" <j@x.org>", "Jane \"JD\" Doe", "j@x.org" },
		{ "  Jane   <j@x.org>  ", "Jane", "j@x.org" },
	};
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name, *email;

		pq_buf_reset(&raw);
		pq_buf_addf(&raw, "From: %s\nSubject: s\n\nb\n", cases[i].from);
		CHECK_INT(PARSE(&m, raw.ptr), 0);
		CHECK_STR(m.from_name, cases[i].name);
		CHECK_STR(m.from_email, cases[i].email);
		pq_mail_free(&m);

		pq_mail_split_address(cases[i].from, &name, &email);
		CHECK_STR(name, cases[i].name);
		CHECK_STR(email, cases[i].email);
		free(name);
		free(email);
	}
	pq_buf_free(&raw);

	CHECK_INT(PARSE(&m, "Subject: no sender\n\nb\n"), 0);
	CHECK_STR(m.from_name, "");
	CHECK_STR(m.from_email, "");
	CHECK_STR(m.to, "");
	CHECK_STR(m.cc, "");
	CHECK_STR(m.list_id, "");
	CHECK_STR(m.date_raw, "");
	pq_mail_free(&m);

	CHECK_INT(PARSE(&m, "From: a@b\nTo: \"Doe, Jane\" <j@x.org>, b@c\nCc: =?UTF-8?Q?J=C3=B6rg?="
			    " <jd@x>\nList-Id: <rust-for-linux.vger.kernel.org>\n\nb\n"),
		  0);
	CHECK_STR(m.to, "\"Doe, Jane\" <j@x.org>, b@c");
	CHECK_STR(m.cc, "J\xc3\xb6rg <jd@x>");
	CHECK_STR(m.list_id, "<rust-for-linux.vger.kernel.org>");
	pq_mail_free(&m);
}

/* ---- dates ---- */

static void test_date_valid_with_zones(void)
{
	static const struct {
		const char *date;
		int64_t want;
	} cases[] = {
		{ "Fri, 1 Mar 2024 10:00:00 +0100", 1709283600 },
		{ "Fri, 01 Mar 2024 09:00:00 +0000", 1709283600 },
		{ "Thu, 29 Feb 2024 23:30:00 -0800", 1709278200 },
		{ "1 Mar 2024 10:00:00 +0000", 1709287200 },
		{ "Fri, 1 Mar 2024 14:30:00 +0530", 1709283600 },
		{ "Fri,  1 Mar 2024 10:00:00 +0100 (CET)", 1709283600 },
		{ "Fri, 01 Mar 2024 09:00:00 GMT", 1709283600 },
		{ "Thu, 1 Jan 1970 00:00:00 +0000", 0 },
	};
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pq_buf_reset(&raw);
		pq_buf_addf(&raw, "Date: %s\nSubject: s\n\nb\n", cases[i].date);
		CHECK_INT(PARSE(&m, raw.ptr), 0);
		CHECK_STR(m.date_raw, cases[i].date);
		CHECK_INT(m.date_valid, 1);
		CHECK_INT(m.date, cases[i].want);
		if (m.date != cases[i].want)
			fprintf(stderr, "  date: %s\n", cases[i].date);
		pq_mail_free(&m);
	}
	pq_buf_free(&raw);
}

static void test_date_absurd_invalid_raw_kept(void)
{
	static const char *const dates[] = {
		"Fri, 1 Mar 99999 10:00:00 +0000",
		"Fri, 32 Mar 2024 10:00:00 +0000",
		"Fri, 1 Mar 2024 25:00:00 +0000",
		"Fri, 1 Mar 2024 10:61:00 +0000",
		"Fri, 1 Mar 2024 10:00:00 +9999",
		"Fri, 1 Mar 2024 10:00:00 +0199",
		"Fri, 1 Foo 2024 10:00:00 +0000",
		"yesterday",
		"Fri, 99999999999999999999 Mar 2024 10:00:00 +0000",
		"",
	};
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m;
	size_t i;

	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		pq_buf_reset(&raw);
		pq_buf_addf(&raw, "Date: %s\nSubject: s\n\nb\n", dates[i]);
		CHECK_INT(PARSE(&m, raw.ptr), 0);
		CHECK_STR(m.date_raw, dates[i]);
		CHECK_INT(m.date_valid, 0);
		if (m.date_valid)
			fprintf(stderr, "  accepted: %s -> %lld\n", dates[i], (long long)m.date);
		pq_mail_free(&m);
	}
	pq_buf_free(&raw);

	CHECK_INT(PARSE(&m, "Subject: no date\n\nb\n"), 0);
	CHECK_INT(m.date_valid, 0);
	CHECK_STR(m.date_raw, "");
	pq_mail_free(&m);
}

static void test_date_day_past_month_end_invalid(void)
{
	struct pq_mail m;

	/* 31 February does not exist; it must not become 2 March */
	CHECK_INT(PARSE(&m, "Date: Sat, 31 Feb 2024 10:00:00 +0000\n\nb\n"), 0);
	CHECK_INT(m.date_valid, 0);
	pq_mail_free(&m);
}

static void test_date_two_digit_year(void)
{
	struct pq_mail m;

	/* RFC 5322 4.3: obs-year 00-49 is 2000-2049, 50-99 is 1950-1999 */
	CHECK_INT(PARSE(&m, "Date: Fri, 1 Mar 24 10:00:00 +0100\n\nb\n"), 0);
	CHECK_INT(m.date_valid, 1);
	CHECK_INT(m.date, 1709283600);
	pq_mail_free(&m);
}

/* ---- bodies ---- */

static void test_multipart_alternative_text_only(void)
{
	static const char raw[] =
		"Message-ID: <alt@x>\nSubject: s\nMIME-Version: 1.0\n"
		"Content-Type: multipart/alternative; boundary=\"XX\"\n\n"
		"preamble\n--XX\nContent-Type: text/plain; charset=utf-8\n\nplain text here\n"
		"--XX\nContent-Type: text/html; charset=utf-8\n\n<html><b>html text</b></html>\n"
		"--XX--\nepilogue\n";
	struct pq_mail m;

	CHECK_INT(PARSE_LIT(&m, raw), 0);
	CHECK(body_has(&m, "plain text here"));
	CHECK(!body_has(&m, "html"));
	CHECK(!body_has(&m, "preamble"));
	CHECK(!body_has(&m, "epilogue"));
	pq_mail_free(&m);

	/* HTML alone: no text, and a warning says so */
	CHECK_INT(PARSE(&m, "Subject: s\nMIME-Version: 1.0\nContent-Type: text/html\n\n"
			    "<p>only html</p>\n"),
		  0);
	CHECK(!body_has(&m, "only html"));
	CHECK(m.warning && strstr(m.warning, "HTML"));
	pq_mail_free(&m);
}

static void test_multipart_mixed_patch_attachments_included(void)
{
	static const char x_patch[] =
		"Message-ID: <mixed1@x>\nSubject: [PATCH] s\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"=-=-=\"\n\n"
		"--=-=-=\nContent-Type: text/plain\n\nSee the attached patch.\n"
		"--=-=-=\nContent-Type: text/x-patch; name=\"one.patch\"\n"
		"Content-Disposition: attachment; filename=\"one.patch\"\n\n"
		"diff --git a/one b/one\n--- a/one\n+++ b/one\n@@ -1 +1 @@\n-x\n+y\n"
		"--=-=-=\nContent-Type: image/png; name=\"x.png\"\n"
		"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
		"--=-=-=\nContent-Type: application/pgp-signature\n\n"
		"-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n"
		"--=-=-=--\n";
	static const char octet_stream[] =
		"Message-ID: <mixed2@x>\nSubject: [PATCH] s\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"=-=-=\"\n\n"
		"--=-=-=\nContent-Type: text/plain\n\nSee the attached patch.\n"
		"--=-=-=\nContent-Type: application/octet-stream; name=\"foo.patch\"\n"
		"Content-Transfer-Encoding: base64\n"
		"Content-Disposition: attachment; filename=foo.patch\n\n"
		"ZGlmZiAtLWdpdCBhL2ZvbyBiL2ZvbwotLS0gYS9mb28KKysrIGIvZm9vCg==\n"
		"--=-=-=--\n";
	struct pq_mail m;

	CHECK_INT(PARSE_LIT(&m, x_patch), 0);
	CHECK(body_has(&m, "See the attached patch.\n"));
	CHECK(body_has(&m, "diff --git a/one b/one\n"));
	CHECK(!body_has(&m, "PNG"));
	CHECK(!body_has(&m, "PGP SIGNATURE"));
	/* parts follow each other on their own lines */
	CHECK(body_has(&m, "patch.\ndiff --git a/one"));
	pq_mail_free(&m);

	CHECK_INT(PARSE_LIT(&m, octet_stream), 0);
	CHECK(body_has(&m, "See the attached patch.\n"));
	CHECK(body_has(&m, "diff --git a/foo b/foo\n--- a/foo\n+++ b/foo\n"));
	pq_mail_free(&m);
}

static void test_two_different_patch_attachments_both_kept(void)
{
	/* mail.h: attached patches are joined into the body; two different
	 * files are two patches, not a copy of one */
	static const char raw[] =
		"Message-ID: <two@x>\nSubject: [PATCH] s\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"=-=-=\"\n\n"
		"--=-=-=\nContent-Type: text/plain\n\nTwo fixes attached.\n"
		"--=-=-=\nContent-Type: text/x-patch; name=\"one.patch\"\n\n"
		"diff --git a/one b/one\n--- a/one\n+++ b/one\n@@ -1 +1 @@\n-x\n+y\n"
		"--=-=-=\nContent-Type: application/octet-stream; name=\"foo.patch\"\n"
		"Content-Transfer-Encoding: base64\n"
		"Content-Disposition: attachment; filename=foo.patch\n\n"
		"ZGlmZiAtLWdpdCBhL2ZvbyBiL2ZvbwotLS0gYS9mb28KKysrIGIvZm9vCg==\n"
		"--=-=-=--\n";
	struct pq_mail m;

	CHECK_INT(PARSE_LIT(&m, raw), 0);
	CHECK(body_has(&m, "diff --git a/one b/one\n"));
	CHECK(body_has(&m, "diff --git a/foo b/foo\n"));
	CHECK(m.warning == NULL || !strstr(m.warning, "second time"));
	pq_mail_free(&m);
}

static void test_same_patch_inline_and_attached_kept_once(void)
{
	static const char raw[] =
		"Message-ID: <dup@x>\nSubject: [PATCH] s\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: text/plain\n\nFix.\n---\n"
		"diff --git a/one b/one\n--- a/one\n+++ b/one\n@@ -1 +1 @@\n-x\n+y\n"
		"--b\nContent-Type: text/x-patch; name=\"0001-fix.patch\"\n\n"
		"diff --git a/one b/one\n--- a/one\n+++ b/one\n@@ -1 +1 @@\n-x\n+y\n"
		"--b--\n";
	struct pq_mail m;
	const char *first;

	CHECK_INT(PARSE_LIT(&m, raw), 0);
	first = m.body.ptr ? strstr(m.body.ptr, "diff --git") : NULL;
	CHECK(first != NULL);
	CHECK(first && strstr(first + 1, "diff --git") == NULL);
	pq_mail_free(&m);
}

static void test_transfer_encodings_decoded(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "Subject: qp\nMIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=utf-8\n"
			    "Content-Transfer-Encoding: quoted-printable\n\n"
			    "caf=C3=A9 and a soft=\n break, a =3D sign\n"),
		  0);
	CHECK_STR(pq_buf_str(&m.body), "caf\xc3\xa9 and a soft break, a = sign\n");
	pq_mail_free(&m);

	CHECK_INT(PARSE(&m, "Subject: b64\nMIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=utf-8\n"
			    "Content-Transfer-Encoding: base64\n\n"
			    "Y2Fmw6kKZGlmZiAtLWdpdCBhL3ggYi94Cg==\n"),
		  0);
	CHECK_STR(pq_buf_str(&m.body), "caf\xc3\xa9\ndiff --git a/x b/x\n");
	pq_mail_free(&m);

	/* a broken base64 body is not fatal */
	CHECK_INT(PARSE(&m, "Subject: b64\nMIME-Version: 1.0\nContent-Type: text/plain\n"
			    "Content-Transfer-Encoding: base64\n\n!!!! not base64 at all \xff\n"),
		  0);
	pq_mail_free(&m);
}

static void test_body_charsets_to_utf8(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "Subject: l1\nMIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=iso-8859-1\n"
			    "Content-Transfer-Encoding: 8bit\n\ncaf\xe9\n"),
		  0);
	CHECK_STR(pq_buf_str(&m.body), "caf\xc3\xa9\n");
	pq_mail_free(&m);

	CHECK_INT(PARSE(&m, "Subject: l1qp\nMIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=\"ISO-8859-1\"\n"
			    "Content-Transfer-Encoding: quoted-printable\n\ncaf=E9\n"),
		  0);
	CHECK_STR(pq_buf_str(&m.body), "caf\xc3\xa9\n");
	pq_mail_free(&m);

	/* bogus charset, valid UTF-8 bytes: kept as they are */
	CHECK_INT(PARSE(&m, "Subject: none\nMIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=none\n\ncaf\xc3\xa9\n"),
		  0);
	CHECK_STR(pq_buf_str(&m.body), "caf\xc3\xa9\n");
	CHECK(m.warning != NULL);
	pq_mail_free(&m);

	/* bogus charset, not UTF-8: Windows-1252 */
	CHECK_INT(PARSE(&m, "Subject: unk\nMIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=x-unknown\n\ncaf\xe9 \x93q\x94\n"),
		  0);
	CHECK_STR(pq_buf_str(&m.body), "caf\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d\n");
	CHECK(m.warning != NULL);
	pq_mail_free(&m);

	/* labelled UTF-8 but not: still valid UTF-8 out */
	CHECK_INT(PARSE(&m, "Subject: lie\nMIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=utf-8\n\ncaf\xe9\n"),
		  0);
	CHECK_STR(pq_buf_str(&m.body), "caf\xc3\xa9\n");
	pq_mail_free(&m);

	/* no MIME at all, 8-bit UTF-8 */
	CHECK_INT(PARSE(&m, "Subject: raw\n\n\xe2\x82\xac 5\n"), 0);
	CHECK_STR(pq_buf_str(&m.body), "\xe2\x82\xac 5\n");
	pq_mail_free(&m);
}

static void test_crlf_input_gives_lf_body(void)
{
	static const char raw[] =
		"Message-ID: <crlf@x>\r\nSubject: [PATCH] crlf\r\nFrom: A <a@x>\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\nMIME-Version: 1.0\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n"
		"--b\r\nContent-Type: text/x-patch\r\n\r\n+added\r\n--b--\r\n";
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "Message-ID: <crlf@x>\r\nSubject: crlf\r\n\r\none\r\ntwo\r\n"), 0);
	CHECK_STR(m.msgid, "crlf@x");
	CHECK_STR(m.subject, "crlf");
	CHECK_STR(pq_buf_str(&m.body), "one\ntwo\n");
	pq_mail_free(&m);

	CHECK_INT(PARSE_LIT(&m, raw), 0);
	CHECK_STR(m.subject, "[PATCH] crlf");
	CHECK_STR(m.from_email, "a@x");
	CHECK(!memchr(pq_buf_str(&m.body), '\r', m.body.len));
	CHECK(body_has(&m, "line one\nline two\n"));
	CHECK(body_has(&m, "+added"));
	pq_mail_free(&m);
}

static void test_content_hash_ignores_transport_headers(void)
{
	static const char a[] = "Message-ID: <h@x>\nFrom: A <a@x>\nSubject: s\n"
				"Date: Fri, 1 Mar 2024 10:00:00 +0000\n\nthe body\n";
	static const char b[] = "Received: from a by b; Fri, 1 Mar 2024 10:00:05 +0000\n"
				"Return-Path: <a@x>\nMessage-ID: <h@x>\nFrom: A <a@x>\nSubject: s\n"
				"Date: Fri, 1 Mar 2024 11:00:00 +0100\n\nthe body\n";
	static const char c[] = "Message-ID: <h@x>\nFrom: A <a@x>\nSubject: s\n"
				"Date: Fri, 1 Mar 2024 10:00:00 +0000\n\nanother body\n";
	struct pq_mail ma, mb, mc;

	CHECK_INT(PARSE(&ma, a), 0);
	CHECK_INT(PARSE(&mb, b), 0);
	CHECK_INT(PARSE(&mc, c), 0);
	CHECK(!hash_is_zero(ma.content_hash));
	CHECK(memcmp(ma.content_hash, mb.content_hash, PQ_MAIL_HASH_LEN) == 0);
	CHECK(memcmp(ma.content_hash, mc.content_hash, PQ_MAIL_HASH_LEN) != 0);
	pq_mail_free(&ma);
	pq_mail_free(&mb);
	pq_mail_free(&mc);
}

/* ---- bounds and broken input ---- */

static void test_limit_size(void)
{
	struct pq_mail_limits lim = pq_mail_default_limits;
	struct pq_mail m;

	lim.max_size = 40;
	pq_error_clear();
	CHECK_INT(PARSE_LIM(&m, "Message-ID: <big@x>\nSubject: too big for the limit\n\nbody\n",
			    &lim),
		  PQ_ELIMIT);
	CHECK(strstr(pq_error_last(), "limit") != NULL);
	CHECK(m.msgid != NULL && *m.msgid);
	CHECK(is_derived_id(m.msgid));
	CHECK(!hash_is_zero(m.content_hash));
	CHECK_STR(m.subject, "");
	pq_mail_free(&m);

	/* exactly at the limit is fine */
	lim.max_size = strlen("Subject: s\n\nb\n");
	CHECK_INT(PARSE_LIM(&m, "Subject: s\n\nb\n", &lim), 0);
	pq_mail_free(&m);
}

static void test_limit_headers(void)
{
	struct pq_mail_limits lim = pq_mail_default_limits;
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m, m2;
	int i;

	lim.max_headers = 5;
	pq_buf_adds(&raw, "Message-ID: <many@x>\n");
	for (i = 0; i < 10; i++)
		pq_buf_addf(&raw, "X-Header-%d: v\n", i);
	pq_buf_adds(&raw, "\nbody\n");
	pq_error_clear();
	CHECK_INT(parse_at(&m, raw.ptr, raw.len, &lim, __LINE__), PQ_ELIMIT);
	CHECK(strstr(pq_error_last(), "header") != NULL);
	CHECK(m.msgid != NULL && *m.msgid);
	CHECK(!hash_is_zero(m.content_hash));
	/* stable: the same bytes give the same name */
	CHECK_INT(parse_at(&m2, raw.ptr, raw.len, &lim, __LINE__), PQ_ELIMIT);
	CHECK_STR(m.msgid, m2.msgid);
	CHECK(memcmp(m.content_hash, m2.content_hash, PQ_MAIL_HASH_LEN) == 0);
	pq_mail_free(&m);
	pq_mail_free(&m2);

	lim.max_headers = 11;
	CHECK_INT(parse_at(&m, raw.ptr, raw.len, &lim, __LINE__), 0);
	pq_mail_free(&m);
	pq_buf_free(&raw);
}

/* A message whose body is depth nested multiparts around one text part. */
static void nested_mime(struct pq_buf *raw, int depth)
{
	int i;

	pq_buf_reset(raw);
	pq_buf_adds(raw, "Message-ID: <deep@x>\nSubject: deep\nMIME-Version: 1.0\n");
	pq_buf_adds(raw, "Content-Type: multipart/mixed; boundary=\"b0\"\n\n");
	for (i = 0; i < depth; i++)
		pq_buf_addf(raw, "--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n", i,
			    i + 1);
	pq_buf_addf(raw, "--b%d\nContent-Type: text/plain\n\ninnermost text\n--b%d--\n", depth,
		    depth);
	for (i = depth - 1; i >= 0; i--)
		pq_buf_addf(raw, "--b%d--\n", i);
}

static void test_limit_depth(void)
{
	struct pq_mail_limits lim = pq_mail_default_limits;
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m;

	nested_mime(&raw, 2);
	CHECK_INT(parse_at(&m, raw.ptr, raw.len, NULL, __LINE__), 0);
	CHECK(body_has(&m, "innermost text"));
	pq_mail_free(&m);

	lim.max_depth = 4;
	nested_mime(&raw, 10);
	pq_error_clear();
	CHECK_INT(parse_at(&m, raw.ptr, raw.len, &lim, __LINE__), PQ_ELIMIT);
	CHECK(strstr(pq_error_last(), "nesting") != NULL);
	CHECK(m.msgid && *m.msgid);
	CHECK(!hash_is_zero(m.content_hash));
	pq_mail_free(&m);

	nested_mime(&raw, 40);
	CHECK_INT(parse_at(&m, raw.ptr, raw.len, NULL, __LINE__), PQ_ELIMIT);
	pq_mail_free(&m);
	pq_buf_free(&raw);
}

static void *parse_deep_thread(void *arg)
{
	struct pq_buf raw = PQ_BUF_INIT;
	struct pq_mail m;

	nested_mime(&raw, *(const int *)arg);
	pq_mail_parse(&m, raw.ptr, raw.len, NULL);
	pq_mail_free(&m);
	pq_buf_free(&raw);
	return NULL;
}

/* Parses depth nested multiparts on a thread with a 256 KiB stack. */
static void parse_deep_small_stack(const void *arg)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	if (pthread_create(&t, &attr, parse_deep_thread, (void *)arg) == 0)
		pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
}

static void test_limit_depth_hostile_nesting_does_not_crash(void)
{
	/*
	 * The depth bound (16) must hold before anything recurses deeper:
	 * then a parse needs a few KiB of stack whatever the input. 3,000
	 * nested multiparts are 200 KB of mail; on the main thread's 8 MiB
	 * stack about 30,000 (2 MB, far under max_size) crash the process
	 * the same way, after ~20 s of quadratic work.
	 */
	static const int depth = 3000, shallow = 20;

	/* the small stack is plenty for ordinary mail past the bound */
	CHECK(survives(parse_deep_small_stack, &shallow));
	CHECK(survives(parse_deep_small_stack, &depth));
}

static void test_no_header_is_einval(void)
{
	struct pq_mail m;

	CHECK_INT(PARSE(&m, "\nonly a body\n"), PQ_EINVAL);
	CHECK(is_derived_id(m.msgid));
	CHECK(!hash_is_zero(m.content_hash));
	pq_mail_free(&m);

	CHECK_INT(PARSE_LEN(&m, "", 0), PQ_EINVAL);
	CHECK(m.msgid != NULL);
	pq_mail_free(&m);

	CHECK_INT(PARSE_LEN(&m, NULL, 0), PQ_EINVAL);
	pq_mail_free(&m);

	CHECK_INT(PARSE(&m, "no colon on this line\nnor on this\n\nbody\n"), PQ_EINVAL);
	pq_mail_free(&m);

	/* a leading From_ line is skipped, the rest is a message */
	CHECK_INT(PARSE(&m, "From jd@x Mon Sep 17 00:00:00 2001\nSubject: s\n\nb\n"), 0);
	CHECK_STR(m.subject, "s");
	pq_mail_free(&m);
}

static void test_nul_bytes_no_crash_utf8_out(void)
{
	static const char raw[] = "Message-ID: <n\0ul@x>\nSubject: a\0b\nFrom: X\0Y <x\0y@z>\n"
				  "X-\0Bad: v\nReferences: <r\0@x>\n"
				  "Content-Type: text/plain; charset=iso-8859-1\0\n\n"
				  "body\0with nul \xe9\n\0";
	static const char raw2[] = "Subject: s\n\nplain\0body\n";
	static const char raw3[] = "\0\0\0\0";
	struct pq_mail m;

	CHECK_INT(PARSE_LIT(&m, raw), 0);
	CHECK_STR(m.subject, "a b");
	CHECK_STR(m.msgid, "nul@x");
	CHECK(body_has(&m, "body\xef\xbf\xbdwith nul \xc3\xa9\n"));
	pq_mail_free(&m);

	CHECK_INT(PARSE_LIT(&m, raw2), 0);
	CHECK(body_has(&m, "plain\xef\xbf\xbd"
			   "body"));
	pq_mail_free(&m);

	PARSE_LIT(&m, raw3);
	pq_mail_free(&m);
}

static void test_assorted_hostile_inputs(void)
{
	static const char *const inputs[] = {
		"Subject:\n\n",
		":\n\n",
		"A:\n \n \n",
		"Content-Type: multipart/mixed\n\n--\n--\n",
		"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\n----\n",
		"Content-Type: multipart/mixed; boundary=x\n\n--x\n",
		"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: "
		"message/rfc822\n\nSubject: inner\n\ninner body\n--x--\n",
		"Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n",
		"Content-Type: text/plain; charset=\"\n\nx\n",
		"Content-Type: text/plain; charset=utf-16\n\n\xff\xfe"
		"a\0b\0",
		"Content-Transfer-Encoding: quoted-printable\n\n=\n=4=\n=ZZ\n=",
		"Content-Transfer-Encoding: base64\n\n====\n",
		"Content-Type: text/plain; name*=utf-8''%C3%A9.patch\n\nx\n",
		"From: <<<<>>>>\nReferences: <<<<\nIn-Reply-To: >>>><\n\n",
		"From: (\nTo: \"\n\n",
		"From: \"\\\n\n",
		"Subject: =?=?=?=?\n\n",
		"Date: , , , , ,\n\n",
	};
	size_t i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct pq_mail m;

		PARSE(&m, inputs[i]);
		CHECK(m.msgid != NULL);
		pq_mail_free(&m);
	}
}

static void test_decode_header_and_sanitize(void)
{
	struct pq_buf out = PQ_BUF_INIT;

	pq_mail_decode_header(&out, " a\n b ", 6);
	CHECK_STR(pq_buf_str(&out), "a b");
	pq_mail_decode_header(&out, "=?UTF-8?Q?x?=", 13);
	CHECK_STR(pq_buf_str(&out), "x");
	pq_mail_decode_header(&out, "", 0);
	CHECK_STR(pq_buf_str(&out), "");

	pq_buf_reset(&out);
	pq_utf8_sanitize(&out,
			 "a\xff"
			 "b\0c",
			 5);
	CHECK_INT(out.len, 9);
	CHECK(memcmp(out.ptr,
		     "a\xef\xbf\xbd"
		     "b\xef\xbf\xbd"
		     "c",
		     9) == 0);
	pq_buf_reset(&out);
	pq_utf8_sanitize(&out, "\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82", 11);
	CHECK(utf8_ok(pq_buf_str(&out), out.len));
	pq_buf_reset(&out);
	pq_utf8_sanitize(&out, "caf\xc3\xa9 \xf0\x9f\xa6\x80", 10);
	CHECK_STR(pq_buf_str(&out), "caf\xc3\xa9 \xf0\x9f\xa6\x80");
	pq_buf_free(&out);
}

/* ---- what mail must not smuggle into what patchq writes ---- */

/* No byte below 0x20, DEL or C1 control in s. */
static int no_controls(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f))
			return 0;
	}
	return 1;
}

static void test_encoded_control_characters_become_spaces(void)
{
	struct pq_mail m;

	/* "x\r\nBcc: evil@example.com" in a B word, and in Q words with NUL,
	 * ESC and CSI (U+009B) too */
	CHECK_INT(PARSE(&m, "Subject: =?UTF-8?B?eA0KQmNjOiBldmlsQGV4YW1wbGUuY29t?=\n"
			    "From: =?UTF-8?Q?Mal=0D=0AX-Evil:_1?= <mallory@example.org>\n"
			    "To: =?UTF-8?Q?Ann=00=1B[2J=C2=9B31m?= <ann@example.org>\n"
			    "Cc: =?ISO-8859-1?Q?Bo=0Db?= <bob@example.org>\n"
			    "Message-ID: <c@x>\n\nbody\n"),
		  0);
	CHECK_STR(m.subject, "x  Bcc: evil@example.com");
	CHECK_STR(m.from_name, "Mal X-Evil: 1");
	CHECK_STR(m.from_email, "mallory@example.org");
	CHECK_STR(m.to, "Ann  [2J 31m <ann@example.org>");
	CHECK_STR(m.cc, "Bo b <bob@example.org>");
	CHECK(no_controls(m.subject) && no_controls(m.from_name) && no_controls(m.to) &&
	      no_controls(m.cc));
	pq_mail_free(&m);

	/* a name that decodes to an address is git's "not a name": the address */
	CHECK_INT(PARSE(&m, "From: =?UTF-8?B?eA0KQmNjOiBldmlsQGV4YW1wbGUuY29t?= <ann@example.org>\n"
			    "Subject: s\n\nb\n"),
		  0);
	CHECK_STR(m.from_name, "ann@example.org");
	CHECK_STR(m.from_email, "ann@example.org");
	pq_mail_free(&m);

	/* C1 controls leave a Message-ID as the C0 ones do */
	CHECK_INT(PARSE(&m, "Message-ID: <a\xc2\x9b"
			    "31m\x1b[2J@x>\nIn-Reply-To: <\xc2\x9b>\nSubject: s\n\nb\n"),
		  0);
	CHECK_STR(m.msgid, "a31m[2J@x");
	CHECK(m.in_reply_to == NULL);
	pq_mail_free(&m);
}

static void test_cr_line_ends_read_as_lines(void)
{
	static const char raw[] = "From: Ann Author <ann@example.org>\r"
				  "Subject: [PATCH] widget: fix\r"
				  " the frobnicator\r"
				  "Message-ID: <cr@example.org>\r"
				  "Date: Mon, 1 Jan 2024 10:00:00 +0000\r"
				  "\r"
				  "Body line one.\r"
				  "\r"
				  "Signed-off-by: Ann Author <ann@example.org>\r";
	struct pq_mail m;

	/* git mailinfo reads this as one line (its Author: is the address, the
	 * rest is lost); Python's email package, so b4, reads the header as
	 * lines, and so does patchq */
	CHECK_INT(PARSE_LIT(&m, raw), 0);
	CHECK_STR(m.subject, "[PATCH] widget: fix the frobnicator");
	CHECK_STR(m.msgid, "cr@example.org");
	CHECK_INT(m.msgid_derived, 0);
	CHECK_STR(m.from_name, "Ann Author");
	CHECK_STR(m.from_email, "ann@example.org");
	CHECK_INT(m.date_valid, 1);
	CHECK(m.warning && strstr(m.warning, "lone CR"));
	/* the body is left as it came: no line of it is a line for git either */
	CHECK(body_has(&m, "Body line one.\r\rSigned-off-by"));
	pq_mail_free(&m);

	/* a lone CR inside a header line of LF mail is no line end */
	CHECK_INT(PARSE(&m, "Subject: a\rb\nMessage-ID: <lf@x>\n\nbody\n"), 0);
	CHECK_STR(m.subject, "a b");
	CHECK(m.warning == NULL || !strstr(m.warning, "lone CR"));
	pq_mail_free(&m);
	CHECK_INT(PARSE(&m, "Subject: crlf\r\nMessage-ID: <crlf@x>\r\n\r\nbody\r\n"), 0);
	CHECK_STR(m.subject, "crlf");
	CHECK(m.warning == NULL);
	pq_mail_free(&m);
}

static void test_nul_places_kept(void)
{
	static const char raw[] = "Subject: s\nContent-Type: text/plain; charset=utf-8\n\n"
				  "caf\xc3\xa9\0x\n\0\n";
	struct pq_mail m;
	const char *b;

	CHECK_INT(PARSE_LIT(&m, raw), 0);
	b = pq_buf_str(&m.body);
	/* valid UTF-8 around a NUL stays UTF-8 (not read as Windows-1252) */
	CHECK(body_has(&m, "caf\xc3\xa9\xef\xbf\xbdx\n\xef\xbf\xbd\n"));
	CHECK_INT(m.nnul, 2);
	CHECK(m.nnul == 2 && !memcmp(b + m.nul_at[0], "\xef\xbf\xbd", 3) &&
	      !memcmp(b + m.nul_at[1], "\xef\xbf\xbd", 3) && m.nul_at[0] == 5 && m.nul_at[1] == 10);
	CHECK(m.warning && strstr(m.warning, "NUL"));
	pq_mail_free(&m);

	CHECK_INT(PARSE(&m, "Subject: s\n\nno nul\n"), 0);
	CHECK_INT(m.nnul, 0);
	CHECK(m.nul_at == NULL);
	pq_mail_free(&m);
}

/* What `git mailinfo` says the author of the mail in path is. */
static int git_mailinfo_author(const char *path, struct pq_buf *name, struct pq_buf *email)
{
	struct pq_buf cmd = PQ_BUF_INIT;
	char line[1024];
	FILE *p;
	int ok;

	pq_buf_addf(&cmd, "git mailinfo /dev/null /dev/null < '%s' 2>/dev/null", path);
	p = popen(cmd.ptr, "r");
	pq_buf_free(&cmd);
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "Author: ", 8))
			pq_buf_adds(name, line + 8);
		else if (!strncmp(line, "Email: ", 7))
			pq_buf_adds(email, line + 7);
	}
	ok = pclose(p) == 0;
	return ok ? 0 : -1;
}

static void test_author_as_git_mailinfo_gives_it(void)
{
	/* written here and compared with what git mailinfo prints for each */
	static const char *const froms[] = {
		"Alice   Q.\t Example <alice@example.org>",
		"alice@example.org (Alice Example)",
		"Alice (the dev) <alice@example.org>",
		"\"Example, Alice\" <alice@example.org>",
		"\"Alice \\\"Al\\\" Example\" <alice@example.org>",
		"Alice Example <alice@example.org> (work)",
		"Alice Example <alice@example.org> (work (nested))",
		"Alice\tExample  (comment  here)  <alice@example.org>",
		"=?UTF-8?Q?Alice=20=20Ex?=  ample <alice@example.org>",
		"=?ISO-8859-1?Q?J=F6rg_M=FCller?= <jm@example.org>",
		"\"Alice Example\" (comment) <alice@example.org>",
		"Alice Example <\"alice\"@example.org>",
		"(Alice) alice@example.org",
		"alice@example.org",
		"<alice@example.org>",
		"Alice <alice@example.org",
		"Li <li@example.org>",
		"Aaaaaaaaaa Bbbbbbbbbb Cccccccccc Dddddddddd Eeeeeeeeee Ffffffffff G <l@example.org>",
		"\"Dr. Alice\" <alice@example.org>",
		"Al\\ice <alice@example.org>",
	};
	struct pq_buf raw = PQ_BUF_INIT, path = PQ_BUF_INIT;
	size_t i;

	pq_buf_addf(&path, "%s/from.eml", tmp_root);
	for (i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
		struct pq_buf gname = PQ_BUF_INIT, gemail = PQ_BUF_INIT;
		struct pq_mail m;
		FILE *f;

		pq_buf_reset(&raw);
		pq_buf_addf(&raw, "From: %s\nSubject: s\nMessage-ID: <f@x>\n\nbody\n", froms[i]);
		f = fopen(path.ptr, "w");
		CHECK(f != NULL);
		if (!f)
			break;
		fwrite(raw.ptr, 1, raw.len, f);
		fclose(f);
		CHECK_INT(git_mailinfo_author(path.ptr, &gname, &gemail), 0);
		CHECK_INT(PARSE(&m, raw.ptr), 0);
		if (strcmp(m.from_name, pq_buf_str(&gname)) ||
		    strcmp(m.from_email, pq_buf_str(&gemail)))
			fprintf(stderr, "  From: %s: git \"%s\" <%s>, patchq \"%s\" <%s>\n",
				froms[i], pq_buf_str(&gname), pq_buf_str(&gemail), m.from_name,
				m.from_email);
		CHECK_STR(m.from_name, pq_buf_str(&gname));
		CHECK_STR(m.from_email, pq_buf_str(&gemail));
		pq_mail_free(&m);
		pq_buf_free(&gname);
		pq_buf_free(&gemail);
	}
	pq_buf_free(&raw);
	pq_buf_free(&path);
}

/* ---- real mail from git format-patch ---- */

static void test_format_patch_plain(void)
{
	struct msgs ms;
	struct pq_mail m;
	size_t i;

	format_patch(&ms, "HEAD~2");
	CHECK_INT(ms.n, 2);
	if (ms.n != 2) {
		msgs_free(&ms);
		return;
	}
	CHECK_INT(PARSE_LEN(&m, ms.raw[0], ms.len[0]), 0);
	CHECK_STR(m.subject, "[PATCH 1/2] rust: fix \xc3\xbcn\xc3\xaf"
			     "code handling");
	CHECK_STR(m.from_name, "J\xc3\xb6rg Doe");
	CHECK_STR(m.from_email, "jd@example.org");
	CHECK_INT(m.date_valid, 1);
	CHECK_INT(m.date, 1709283600);
	/* format-patch without threading writes no Message-ID */
	CHECK_INT(m.msgid_derived, 1);
	CHECK(is_derived_id(m.msgid));
	CHECK(body_has(&m, "Explain the caf\xc3\xa9 change.\n"));
	CHECK(body_has(&m, "diff --git a/a.txt b/a.txt\n"));
	CHECK(body_has(&m, "+line two\n"));
	CHECK(m.warning == NULL);
	pq_mail_free(&m);

	for (i = 0; i < ms.n; i++) {
		struct pq_mail again;

		CHECK_INT(PARSE_LEN(&m, ms.raw[i], ms.len[i]), 0);
		CHECK_INT(PARSE_LEN(&again, ms.raw[i], ms.len[i]), 0);
		CHECK_STR(m.msgid, again.msgid);
		pq_mail_free(&m);
		pq_mail_free(&again);
	}
	msgs_free(&ms);
}

static void test_format_patch_threaded_cover(void)
{
	struct msgs ms;
	struct pq_mail cover, p1, p2;

	format_patch(&ms, "--cover-letter --thread=shallow -v2 HEAD~2");
	CHECK_INT(ms.n, 3);
	if (ms.n != 3) {
		msgs_free(&ms);
		return;
	}
	CHECK_INT(PARSE_LEN(&cover, ms.raw[0], ms.len[0]), 0);
	CHECK_INT(PARSE_LEN(&p1, ms.raw[1], ms.len[1]), 0);
	CHECK_INT(PARSE_LEN(&p2, ms.raw[2], ms.len[2]), 0);
	CHECK_INT(cover.msgid_derived, 0);
	CHECK(!strncmp(cover.msgid, "cover.", 6));
	/* the cover letter's From: is raw UTF-8 in git's output */
	CHECK_STR(cover.from_name, "J\xc3\xb6rg Doe");
	CHECK_STR(cover.subject, "[PATCH v2 0/2] *** SUBJECT HERE ***");
	CHECK_INT(cover.nrefs, 0);
	CHECK(refs_are(&p1, 1, cover.msgid));
	CHECK_STR(p1.in_reply_to, cover.msgid);
	CHECK(refs_are(&p2, 1, cover.msgid));
	CHECK_STR(p2.subject, "[PATCH v2 2/2] rust: add b");
	CHECK(body_has(&p2, "diff --git a/b.txt b/b.txt\nnew file mode"));
	pq_mail_free(&cover);
	pq_mail_free(&p1);
	pq_mail_free(&p2);
	msgs_free(&ms);

	format_patch(&ms, "--thread=deep HEAD~2");
	CHECK_INT(ms.n, 2);
	if (ms.n == 2) {
		CHECK_INT(PARSE_LEN(&p1, ms.raw[0], ms.len[0]), 0);
		CHECK_INT(PARSE_LEN(&p2, ms.raw[1], ms.len[1]), 0);
		CHECK(refs_are(&p2, 1, p1.msgid));
		pq_mail_free(&p1);
		pq_mail_free(&p2);
	}
	msgs_free(&ms);
}

static void test_format_patch_attach_and_qp(void)
{
	struct msgs ms;
	struct pq_mail m;

	format_patch(&ms, "--attach HEAD~1");
	CHECK_INT(ms.n, 1);
	if (ms.n == 1) {
		CHECK_INT(PARSE_LEN(&m, ms.raw[0], ms.len[0]), 0);
		CHECK_STR(m.subject, "[PATCH] rust: add b");
		CHECK(body_has(&m, "diff --git a/b.txt b/b.txt\n"));
		CHECK(body_has(&m, "+plain ascii\n"));
		pq_mail_free(&m);
	}
	msgs_free(&ms);

	format_patch(&ms, "--inline HEAD~2..HEAD~1");
	CHECK_INT(ms.n, 1);
	if (ms.n == 1) {
		CHECK_INT(PARSE_LEN(&m, ms.raw[0], ms.len[0]), 0);
		CHECK(body_has(&m, "Explain the caf\xc3\xa9 change."));
		CHECK(body_has(&m, "+line two\n"));
		pq_mail_free(&m);
	}
	msgs_free(&ms);

	/* the same patch sent as quoted-printable decodes to the same text */
	format_patch(&ms, "HEAD~2..HEAD~1");
	CHECK_INT(ms.n, 1);
	if (ms.n == 1) {
		static const char cte8[] = "Content-Transfer-Encoding: 8bit\n";
		const char *hdr_end = strstr(ms.raw[0], "\n\n");
		const char *cte = strstr(ms.raw[0], cte8);
		struct pq_buf raw = PQ_BUF_INIT;
		struct pq_mail qp;
		const char *p;

		CHECK(hdr_end && cte && cte < hdr_end);
		if (hdr_end && cte && cte < hdr_end) {
			pq_buf_add(&raw, ms.raw[0], (size_t)(cte - ms.raw[0]));
			pq_buf_adds(&raw, "Content-Transfer-Encoding: quoted-printable\n");
			pq_buf_add(&raw, cte + strlen(cte8),
				   (size_t)(hdr_end + 2 - cte - strlen(cte8)));
			for (p = hdr_end + 2; *p; p++) {
				unsigned char c = (unsigned char)*p;

				if (c >= 0x80 || c == '=')
					pq_buf_addf(&raw, "=%02X", c);
				else
					pq_buf_addc(&raw, (char)c);
			}
			CHECK_INT(PARSE_LEN(&m, ms.raw[0], ms.len[0]), 0);
			CHECK_INT(PARSE_LEN(&qp, raw.ptr, raw.len), 0);
			CHECK(strstr(raw.ptr, "caf=C3=A9") != NULL);
			CHECK_STR(pq_buf_str(&qp.body), pq_buf_str(&m.body));
			CHECK(memcmp(m.content_hash, qp.content_hash, PQ_MAIL_HASH_LEN) == 0);
			pq_mail_free(&m);
			pq_mail_free(&qp);
		}
		pq_buf_free(&raw);
	}
	msgs_free(&ms);
}

int main(void)
{
	int have_git;

	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	git_libgit2_init();

	test_msgid_with_and_without_brackets();
	test_msgid_first_of_several_is_kept();
	test_msgid_missing_is_derived_and_stable();
	test_refs_in_reply_to_last_no_duplicate();
	test_refs_in_reply_to_earlier_in_references_not_duplicated();
	test_in_reply_to_first_id_kept();
	test_refs_never_self();
	test_refs_limit_keeps_most_recent();
	test_refs_limit_zero_does_not_crash();
	test_rfc2047_subject_and_from();
	test_raw_8bit_headers_become_utf8();
	test_invalid_bytes_in_encoded_words_give_utf8();
	test_folded_headers_unfolded();
	test_addresses_quoted_comma_and_comment_forms();
	test_date_valid_with_zones();
	test_date_absurd_invalid_raw_kept();
	test_date_day_past_month_end_invalid();
	test_date_two_digit_year();
	test_multipart_alternative_text_only();
	test_multipart_mixed_patch_attachments_included();
	test_two_different_patch_attachments_both_kept();
	test_same_patch_inline_and_attached_kept_once();
	test_transfer_encodings_decoded();
	test_body_charsets_to_utf8();
	test_crlf_input_gives_lf_body();
	test_content_hash_ignores_transport_headers();
	test_limit_size();
	test_limit_headers();
	test_limit_depth();
	test_limit_depth_hostile_nesting_does_not_crash();
	test_no_header_is_einval();
	test_nul_bytes_no_crash_utf8_out();
	test_assorted_hostile_inputs();
	test_decode_header_and_sanitize();
	test_encoded_control_characters_become_spaces();
	test_cr_line_ends_read_as_lines();
	test_nul_places_kept();

	have_git = make_repo() == 0;
	CHECK(have_git);
	if (have_git) {
		test_author_as_git_mailinfo_gives_it();
		test_format_patch_plain();
		test_format_patch_threaded_cover();
		test_format_patch_attach_and_qp();
	}

	git_libgit2_shutdown();
	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_DONE();
}
