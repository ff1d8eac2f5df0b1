/*
 * fuzz_mail: arbitrary bytes as one raw message through the whole parse
 * that ingest runs: pq_mail_parse, then the subject, the body split and the
 * trailers of both modes. Whatever the input, nothing may crash or leak and
 * every string handed out must be valid UTF-8 (mail.c is the edge where
 * bytes become text); a violation traps so libFuzzer keeps the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "fuzz.h"
#include "buf.h"
#include "error.h"
#include "header.h"
#include "mail.h"
#include "patch.h"
#include "subject.h"
#include "trailers.h"
#include "../unit/utf8_oracle.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static void need_str(const char *s)
{
	NEED(s != NULL);
	NEED(utf8_ok(s, strlen(s)));
}

static void need_opt(const char *s)
{
	if (s)
		need_str(s);
}

static void need_buf(const struct pq_buf *b)
{
	NEED(b->len == 0 || b->ptr != NULL);
	NEED(b->ptr == NULL || b->ptr[b->len] == '\0');
	NEED(utf8_ok(pq_buf_str(b), b->len));
}

static void need_line(const char *s);

static void need_trailers(const struct pq_trailers *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		need_str(t->v[i].name);
		need_line(t->v[i].value);
		need_opt(t->v[i].email);
		need_opt(t->v[i].extinfo);
	}
}

/* A decoded header value: one line of text, no control character (C0,
 * DEL, C1) whatever an encoded word said. */
static void need_line(const char *s)
{
	need_str(s);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		NEED(c >= 0x20 && c != 0x7f);
		NEED(!(c == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f));
	}
}

/* What patchq writes from a parsed mail: the header writer takes every
 * decoded value, and no line of what it writes passes 998. */
static void check_header_writer(const struct pq_mail *m)
{
	struct pq_header_addr a = { m->from_name, m->from_email };
	struct pq_buf out = PQ_BUF_INIT;
	const char *p, *nl;

	NEED(pq_header_add(&out, "Subject", m->subject, PQ_HEADER_ENCODE) == 0);
	NEED(pq_header_add(&out, "Subject", m->subject, PQ_HEADER_UTF8) != PQ_EINVAL);
	if (pq_header_address_ok(m->from_email))
		NEED(pq_header_add_addresses(&out, "From", &a, 1,
					     PQ_HEADER_ENCODE | PQ_HEADER_UTF8) == 0);
	for (p = pq_buf_str(&out); *p; p = nl + 1) {
		nl = strchr(p, '\n');
		NEED(nl != NULL && (size_t)(nl - p) <= PQ_HEADER_LINE_MAX);
	}
	pq_buf_free(&out);
}

static void check_mail(const struct pq_mail *m)
{
	size_t i;

	need_line(m->msgid);
	need_line(m->subject);
	need_line(m->from_name);
	need_line(m->from_email);
	need_line(m->to);
	need_line(m->cc);
	need_line(m->list_id);
	need_line(m->date_raw);
	for (i = 0; i < m->nrefs; i++)
		need_line(m->refs[i]);
	for (i = 0; i < m->nnul; i++) {
		NEED(m->nul_at[i] + 3 <= m->body.len);
		NEED(!memcmp(m->body.ptr + m->nul_at[i], "\xef\xbf\xbd", 3));
		NEED(i == 0 || m->nul_at[i] > m->nul_at[i - 1]);
	}
	need_str(m->msgid);
	NEED(*m->msgid);
	for (i = 0; i < m->nrefs; i++) {
		need_str(m->refs[i]);
		NEED(strcmp(m->refs[i], m->msgid) != 0); /* never itself */
	}
	need_opt(m->in_reply_to);
	need_str(m->subject);
	need_str(m->from_name);
	need_str(m->from_email);
	need_str(m->date_raw);
	need_str(m->to);
	need_str(m->cc);
	need_str(m->list_id);
	need_buf(&m->body);
	need_opt(m->warning);
}

static void check_text(const char *text, size_t len)
{
	struct pq_subject subj;
	struct pq_patch patch;
	struct pq_trailers t = { 0 };
	size_t i;

	/* the subject parser on the body's first line is cheap extra input */
	if (pq_subject_parse(&subj, text) == 0) {
		need_str(subj.name);
		for (i = 0; i < subj.ntags; i++)
			need_str(subj.tags[i]);
	}
	pq_subject_free(&subj);

	memset(&patch, 0, sizeof(patch));
	NEED(pq_patch_parse(&patch, text, len) == 0);
	need_buf(&patch.message);
	need_buf(&patch.notes);
	need_buf(&patch.diff);
	need_opt(patch.from);
	need_opt(patch.subject);
	need_opt(patch.date);
	for (i = 0; i < patch.nfiles; i++)
		need_str(patch.files[i]);
	need_trailers(&patch.trailers);
	pq_patch_find_pull(&patch, text, len);
	need_opt(patch.pull_url);
	need_opt(patch.pull_branch);
	need_opt(patch.base_commit);
	need_opt(patch.change_id);
	pq_patch_free(&patch);
	pq_patch_free(&patch);

	NEED(pq_trailers_parse(&t, text, len, PQ_TRAILERS_COMMIT) == 0);
	need_trailers(&t);
	NEED(pq_trailers_parse(&t, text, len, PQ_TRAILERS_REPLY) == 0);
	need_trailers(&t);
	pq_trailers_free(&t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	git_libgit2_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *raw = (const char *)data;
	struct pq_mail_limits lim = pq_mail_default_limits;
	struct pq_buf tmp = PQ_BUF_INIT;
	struct pq_subject subj;
	struct pq_mail m;
	char *copy, *name, *email;
	int ret;

	/* small bounds, so the limit paths are reached too */
	lim.max_headers = 64;
	lim.max_depth = 8;
	lim.max_refs = 16;
	ret = pq_mail_parse(&m, raw, size, &lim);
	NEED(ret == 0 || ret == PQ_ELIMIT || ret == PQ_EINVAL);
	check_mail(&m);
	if (ret == 0) {
		NEED(m.nrefs <= lim.max_refs + 1);
		if (pq_subject_parse(&subj, m.subject) == 0) {
			size_t i;

			need_str(subj.name);
			for (i = 0; i < subj.ntags; i++)
				need_str(subj.tags[i]);
		}
		pq_subject_free(&subj);
		check_text(pq_buf_str(&m.body), m.body.len);
		check_header_writer(&m);
		{
			struct pq_patch patch;

			NEED(pq_patch_parse_mail(&patch, &m) == 0);
			need_opt(patch.error);
			NEED(!patch.error || m.nnul);
			pq_patch_free(&patch);
		}
	}
	pq_mail_free(&m);

	/* the helpers the executables use on raw header text */
	pq_mail_decode_header(&tmp, raw, size);
	need_buf(&tmp);
	pq_buf_reset(&tmp);
	pq_utf8_sanitize(&tmp, raw, size);
	need_buf(&tmp);
	copy = malloc(size + 1);
	if (copy) {
		memcpy(copy, raw, size);
		copy[size] = '\0';
		pq_mail_split_address(pq_buf_str(&tmp), &name, &email);
		need_str(name);
		need_str(email);
		free(name);
		free(email);
		/* the body parsers take any bytes, NUL included */
		{
			struct pq_patch p;
			struct pq_trailers t = { 0 };

			memset(&p, 0, sizeof(p));
			NEED(pq_patch_parse(&p, copy, size) == 0);
			pq_patch_free(&p);
			NEED(pq_trailers_parse(&t, copy, size, PQ_TRAILERS_REPLY) == 0);
			pq_trailers_free(&t);
		}
		free(copy);
	}
	pq_buf_free(&tmp);
	return 0;
}
