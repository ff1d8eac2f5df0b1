/*
 * am: a series as a git-am-ready mbox (see am.h).
 *
 * Each patch is re-read from its raw bytes so the text after its "---"
 * line (notes, diff, signature) is written exactly as it was sent.
 */
#include "am.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "header.h"
#include "mail.h"
#include "patch.h"
#include "series.h"
#include "subject.h"

struct line {
	const char *p;
	size_t len;  /* without the newline */
	size_t next; /* offset of the next line */
};

static int line_at(const char *s, size_t len, size_t pos, struct line *l)
{
	const char *nl;

	if (pos >= len)
		return 0;
	l->p = s + pos;
	nl = memchr(l->p, '\n', len - pos);
	l->len = nl ? (size_t)(nl - l->p) : len - pos;
	l->next = pos + l->len + (nl ? 1 : 0);
	return 1;
}

static int line_is(const struct line *l, const char *s)
{
	size_t n = l->len;

	while (n && (l->p[n - 1] == ' ' || l->p[n - 1] == '\t' || l->p[n - 1] == '\r'))
		n--;
	return n == strlen(s) && !memcmp(l->p, s, n);
}

static int line_starts(const struct line *l, const char *s)
{
	return l->len >= strlen(s) && !memcmp(l->p, s, strlen(s));
}

/*
 * Where the part after the commit message starts in body: after its "---"
 * line (*dashes set) or at the first diff line. Returns len when neither.
 */
static size_t find_rest(const char *body, size_t len, int *dashes)
{
	struct line l, n;
	size_t pos = 0;

	*dashes = 0;
	while (line_at(body, len, pos, &l)) {
		if (line_is(&l, "---")) {
			*dashes = 1;
			return l.next;
		}
		if (line_starts(&l, "diff --git ") || line_starts(&l, "Index: ") ||
		    (line_starts(&l, "--- ") && line_at(body, len, l.next, &n) &&
		     line_starts(&n, "+++ ")))
			return pos;
		pos = l.next;
	}
	return len;
}

/* Whether the text between "---" and the diff says anything (a diffstat,
 * a changelog): then the "---" line must stay so git am drops it. */
static int notes_present(const char *rest, size_t len)
{
	struct line l;
	size_t pos = 0;

	while (line_at(rest, len, pos, &l)) {
		if (line_starts(&l, "diff --git ") || line_starts(&l, "Index: ") ||
		    line_starts(&l, "--- "))
			return 0;
		if (!line_is(&l, ""))
			return 1;
		pos = l.next;
	}
	return 0;
}

static void add_trailer(struct pq_buf *out, const struct pq_trailer *t)
{
	pq_buf_addf(out, "%s: %s", t->name, t->value);
	if (t->extinfo && t->extinfo[0] != '\n' && !strchr(t->extinfo, '['))
		pq_buf_adds(out, t->extinfo);
	pq_buf_addc(out, '\n');
	if (t->extinfo && strchr(t->extinfo, '['))
		pq_buf_addf(out, "%s\n", t->extinfo);
}

/*
 * The commit message with the collected trailers, b4's way: after the
 * patch's own trailers, before the applier's sign-off when that already
 * closes the block. They join the last paragraph whenever that is the
 * trailer block as git reads it (trailers.c counts as git does, notes
 * such as "[ Reworded. - Name ]" inside it too), so `git interpret-trailers`
 * still sees the whole chain of sign-offs.
 */
static void message_with_trailers(struct pq_buf *out, const struct pq_patch *pp,
				  const struct pq_series_patch *sp, const struct pq_am_options *o)
{
	struct pq_buf sob = PQ_BUF_INIT;
	const struct pq_trailers *own = &pp->trailers;
	size_t i, msglen = pp->message.len;
	int sob_last = 0;

	if (o->signoff) {
		const char *last = pp->message.ptr ? pp->message.ptr : "";

		pq_buf_addf(&sob, "Signed-off-by: %s", o->signoff);
		/* the applier's sign-off is the message's last line (not a note
		 * after it): the collected trailers go before it */
		while (msglen && last[msglen - 1] != '\n')
			msglen--;
		sob_last = own->n && !strcasecmp(own->v[own->n - 1].name, "Signed-off-by") &&
			   !strcasecmp(own->v[own->n - 1].value, o->signoff) &&
			   !strncasecmp(last + msglen, "Signed-off-by:", 14);
		if (!sob_last)
			msglen = pp->message.len;
	}
	pq_buf_add(out, pp->message.ptr, msglen);
	if (!sob_last)
		pq_buf_addc(out, '\n');
	if (!own->n && (sp->collected.n || o->link || o->signoff || o->note))
		pq_buf_addc(out, '\n');
	for (i = 0; i < sp->collected.n; i++)
		add_trailer(out, &sp->collected.v[i]);
	if (o->link) {
		pq_buf_adds(out, "Link: ");
		for (const char *f = o->link; *f; f++) {
			if (f[0] == '%' && f[1] == 's') {
				pq_buf_adds(out, sp->msgid);
				f++;
			} else {
				pq_buf_addc(out, *f);
			}
		}
		pq_buf_addc(out, '\n');
	}
	/* the maintainer's note, where kernel maintainers put theirs: just
	 * above their Signed-off-by */
	if (o->note)
		pq_buf_addf(out, "%s\n", o->note);
	if (o->signoff)
		pq_buf_addf(out, "%s\n", pq_buf_str(&sob));
	pq_buf_free(&sob);
}

int pq_am_mail_load(struct pq_store *s, long long message_id, struct pq_mail *m)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT r.bytes FROM message m JOIN raw r ON r.id = m.raw_id WHERE m.id = ?");
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, message_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return pq_error_set(PQ_ENOTFOUND, "raw bytes of message %lld missing", message_id);
	}
	ret = pq_mail_parse(m, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			    NULL);
	sqlite3_reset(st);
	return ret;
}

int pq_am_patch_load(struct pq_store *s, const struct pq_series_patch *sp,
		     const struct pq_am_options *o, struct pq_am_patch *out)
{
	struct pq_subject subj;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = pq_am_mail_load(s, sp->id, &out->mail)) < 0) {
		pq_mail_free(&out->mail);
		return ret;
	}
	pq_patch_parse_mail(&out->patch, &out->mail);
	if (out->patch.error) {
		/* refused as git's refusals are: a verdict on the patch */
		ret = pq_error_set(PQ_EGIT, "<%s>: %s", sp->msgid, out->patch.error);
		pq_am_patch_free(out);
		return ret;
	}
	message_with_trailers(&out->message, &out->patch, sp, o);
	/* git am's rules: an in-body Subject: and Date: win over the header's */
	pq_subject_parse(&subj, out->patch.subject ? out->patch.subject : out->mail.subject);
	out->title = pq_strdup(subj.name);
	pq_subject_free(&subj);
	out->date_valid = out->mail.date_valid;
	out->time = out->mail.date;
	out->offset = out->mail.date_offset;
	if (out->patch.date)
		out->date_valid = pq_mail_parse_date(out->patch.date, &out->time, &out->offset);
	return 0;
}

void pq_am_patch_free(struct pq_am_patch *p)
{
	pq_mail_free(&p->mail);
	pq_patch_free(&p->patch);
	pq_buf_free(&p->message);
	free(p->title);
	memset(p, 0, sizeof(*p));
}

static int write_patch(struct pq_store *s, const struct pq_series_patch *sp,
		       const struct pq_am_options *o, struct pq_buf *out)
{
	struct pq_am_patch ap;
	struct pq_header_addr from;
	struct pq_buf head = PQ_BUF_INIT, id = PQ_BUF_INIT;
	const char *body;
	size_t rest, len;
	int ret, dashes;

	if ((ret = pq_am_patch_load(s, sp, o, &ap)) < 0)
		return ret;
	body = pq_buf_str(&ap.mail.body);
	len = ap.mail.body.len;
	rest = find_rest(body, len, &dashes);

	from.name = sp->author;
	from.email = sp->email;
	pq_buf_addf(&id, "<%s>", sp->msgid);
	pq_buf_adds(&head, "From git@z Thu Jan  1 00:00:00 1970\n");
	/* the fields as git am reads them back: the author's name as it is, in
	 * an 8bit mbox (b4's layout), the subject encoded where it must be */
	if ((ret = pq_header_add(&head, "Subject", ap.mail.subject, PQ_HEADER_ENCODE)) < 0 ||
	    (ret = pq_header_add_addresses(&head, "From", &from, 1, PQ_HEADER_UTF8)) < 0 ||
	    (ret = pq_header_add(&head, "Date", ap.patch.date ? ap.patch.date : ap.mail.date_raw,
				 PQ_HEADER_UTF8)) < 0 ||
	    (ret = pq_header_add(&head, "Message-Id", pq_buf_str(&id), PQ_HEADER_UTF8)) < 0 ||
	    (ret = pq_header_add(&head, "MIME-Version", "1.0", 0)) < 0 ||
	    (ret = pq_header_add(&head, "Content-Type", "text/plain; charset=\"utf-8\"", 0)) < 0 ||
	    (ret = pq_header_add(
		     &head, "Content-Transfer-Encoding",
		     pq_mail_is_ascii(pq_buf_str(&head), head.len) &&
				     pq_mail_is_ascii(pq_buf_str(&ap.mail.body), ap.mail.body.len) &&
				     pq_mail_is_ascii(pq_buf_str(&ap.message), ap.message.len)
			     ? "7bit"
			     : "8bit",
		     0)) < 0) {
		char *why = pq_strdup(pq_error_last());

		pq_buf_free(&head);
		pq_buf_free(&id);
		pq_am_patch_free(&ap);
		ret = pq_error_set(ret, "<%s>: %s", sp->msgid, why);
		free(why);
		return ret;
	}
	pq_buf_addc(&head, '\n');
	pq_buf_add(out, head.ptr, head.len);
	pq_buf_add(out, ap.message.ptr, ap.message.len);
	if (dashes && notes_present(body + rest, len - rest)) {
		pq_buf_adds(out, "---\n");
	} else {
		pq_buf_addc(out, '\n');
		while (rest < len && body[rest] == '\n')
			rest++;
	}
	pq_buf_add(out, body + rest, len - rest);
	if (out->len && out->ptr[out->len - 1] != '\n')
		pq_buf_addc(out, '\n');
	pq_buf_addc(out, '\n');

	pq_buf_free(&head);
	pq_buf_free(&id);
	pq_am_patch_free(&ap);
	return 0;
}

int pq_am_write(struct pq_store *s, long long id, const struct pq_am_options *o, struct pq_buf *out)
{
	static const struct pq_am_options none;
	struct pq_series *se;
	size_t i;
	int ret = 0;

	if (!o)
		o = &none;
	if ((ret = pq_series_load_conf(s, o->config, id, 0, &se)) < 0)
		return ret;
	for (i = 0; i < se->npatches && !ret; i++)
		ret = write_patch(s, &se->patches[i], o, out);
	pq_series_free(se);
	return ret;
}
