/*
 * reply: composing the mail to the list (see reply.h).
 *
 * Every header field goes through header.c, which refuses control
 * characters and folds: the values come from decoded mail (UTF-8), so a
 * display name or subject that is not ASCII goes out as RFC 2047 encoded
 * words, and a name with specials is quoted; an address header.c would
 * refuse is nobody the reply goes to. The body is UTF-8, sent 8bit, and
 * quotes the mail without its control characters.
 */
#include "reply.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "alloc.h"
#include "am.h"
#include "error.h"
#include "header.h"
#include "mail.h"
#include "note.h"

/* Lines of the original quoted at the top. */
#define QUOTE_LINES 6

/* ---- addresses ---- */

struct addr {
	char *name;
	char *email;
};

struct addrs {
	struct addr *v;
	size_t n;
};

static int same_email(const char *a, const char *b)
{
	return a && b && !strcasecmp(a, b);
}

/* Adds an address unless it is empty or already there (by address, any case). */
static void addrs_add(struct addrs *l, const char *name, const char *email)
{
	size_t i;

	/* what cannot go in a header and to SMTP as it is (a space, a '>', a
	 * control character) is nobody we can write to */
	if (!email || !pq_header_address_ok(email))
		return;
	for (i = 0; i < l->n; i++)
		if (same_email(l->v[i].email, email))
			return;
	l->v = pq_reallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n].name = pq_strdup(name ? name : "");
	l->v[l->n].email = pq_strdup(email);
	l->n++;
}

static void addrs_free(struct addrs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].email);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Adds each address of a decoded To:/Cc: list (commas inside quotes or <> do not split). */
static void addrs_add_list(struct addrs *l, const char *list)
{
	const char *p = list, *start = list;
	int quoted = 0, angle = 0;

	for (;; p++) {
		if (*p == '"' && (p == list || p[-1] != '\\'))
			quoted = !quoted;
		else if (!quoted && *p == '<')
			angle = 1;
		else if (!quoted && *p == '>')
			angle = 0;
		if (*p == '\0' || (*p == ',' && !quoted && !angle)) {
			char *one = pq_strndup(start, (size_t)(p - start)), *name, *email;

			pq_mail_split_address(one, &name, &email);
			addrs_add(l, name, email);
			free(name);
			free(email);
			free(one);
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
}

/* ---- the mail answered ---- */

/* Text from mail in the body, without control characters (see pq_buf_plain()), tabs kept. */
static void add_clean(struct pq_buf *b, const char *p, size_t len)
{
	size_t at = b->len;

	pq_buf_add(b, p, len);
	pq_buf_plain(b, at, "\t");
}

/* "On DATE, NAME wrote:" and the first lines of the text, quoted. */
static void add_quote(struct pq_buf *b, const struct pq_mail *m)
{
	const char *p = pq_buf_str(&m->body), *nl;
	int lines = 0, started = 0;

	pq_buf_addf(b, "On %s, %s wrote:\n", *m->date_raw ? m->date_raw : "an earlier day",
		    *m->from_name ? m->from_name : m->from_email);
	for (; *p && lines < QUOTE_LINES; p = nl + 1) {
		size_t len;

		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (!started && !len)
			goto next;
		/* the quote ends with the first paragraph, or where the patch's notes start */
		if (started && (!len || (len == 3 && !strncmp(p, "---", 3))))
			break;
		started = 1;
		pq_buf_adds(b, "> ");
		add_clean(b, p, len);
		pq_buf_addc(b, '\n');
		lines++;
	next:
		if (!nl)
			break;
	}
	pq_buf_addc(b, '\n');
}

/* ---- the body ---- */

static void add_commit(struct pq_buf *b, const struct pq_config *c, const char *commit)
{
	pq_buf_adds(b, "      commit: ");
	if (c->reply.commit_url)
		pq_buf_addf(b, c->reply.commit_url, commit);
	else
		pq_buf_addf(b, "%.12s", commit);
	pq_buf_addc(b, '\n');
}

/* The trailers collected from replies after message seen, per patch. */
static void add_late_trailers(struct pq_buf *b, const struct pq_reply_about *a)
{
	const struct pq_series *se = a->series;
	size_t i, k;
	int any = 0;

	for (i = 0; i < se->npatches; i++) {
		const struct pq_series_patch *sp = &se->patches[i];

		for (k = 0; k < sp->collected.n; k++) {
			if (sp->collected_from[k] <= a->seen)
				continue;
			if (!any)
				pq_buf_adds(b, "\nArrived after the patches were applied:\n");
			any = 1;
			pq_buf_addf(b, "[%d/%d] %s: %s\n", sp->index, se->total,
				    sp->collected.v[k].name, sp->collected.v[k].value);
		}
	}
}

/* A maintainer's note (note.h), indented under what it is about. */
static void add_note(struct pq_buf *b, const char *indent, const char *note)
{
	const char *nl;

	for (; note; note = nl ? nl + 1 : NULL) {
		nl = strchr(note, '\n');
		pq_buf_adds(b, indent);
		add_clean(b, note, nl ? (size_t)(nl - note) : strlen(note));
		pq_buf_addc(b, '\n');
	}
}

static void add_body(struct pq_buf *b, const struct pq_config *c, const struct pq_reply_about *a,
		     const struct pq_queue_conf *q, const struct pq_note *notes, size_t nnotes)
{
	size_t i;

	if (a->rejected) {
		pq_buf_addf(b, "Thanks, but this will not be applied to %s (%s):\n\n", a->queue,
			    q ? q->branch : a->queue);
		add_note(b, "  ", a->rejected);
	} else if (a->checks) {
		add_note(b, "", a->checks); /* a tool's output: control characters made plain */
	} else if (a->dropped) {
		pq_buf_addf(b, "This was dropped from %s (%s) when it was rebuilt:\n\n", a->queue,
			    q ? q->branch : a->queue);
		add_note(b, "  ", a->dropped);
		pq_buf_addf(b,
			    "\nNothing else changed; a version that applies on %s will be\n"
			    "picked up again.\n",
			    q && q->base ? q->base : a->queue);
	} else if (a->failure) {
		pq_buf_addf(b, "This does not apply to %s (%s at %.12s):\n\n  %s\n\n", a->queue,
			    q ? q->branch : a->queue, a->tip ? a->tip : "?", a->failure);
		pq_buf_addf(b, "Please rebase it on %s and send a new version.\n",
			    q ? q->branch : a->queue);
	} else {
		pq_buf_addf(b, c->reply.applied, a->queue);
		pq_buf_adds(b, "\n\n");
		for (i = 0; i < a->n; i++) {
			pq_buf_addf(b, "[%d/%d] %s\n", a->patches[i].index, a->series->total,
				    a->patches[i].title);
			add_commit(b, c, a->patches[i].commit);
			if (pq_note_find(notes, nnotes, a->patches[i].index))
				add_note(b, "      ",
					 pq_note_find(notes, nnotes, a->patches[i].index));
		}
		if (pq_note_find(notes, nnotes, 0)) {
			pq_buf_addc(b, '\n');
			add_note(b, "", pq_note_find(notes, nnotes, 0));
		}
		add_late_trailers(b, a);
	}
	pq_buf_adds(b, "\nBest regards,\n-- \n");
	if (c->reply.signature)
		pq_buf_addf(b, "%s\n", c->reply.signature);
	else
		pq_buf_addf(b, "%s <%s>\n", c->reply.from_name, c->reply.from_email);
}

/* ---- composing ---- */

/* The outbox's kind of the reply about a. */
static const char *reply_kind(const struct pq_reply_about *a)
{
	return a->rejected  ? "rejected"
	       : a->checks  ? "checks"
	       : a->dropped ? "dropped"
	       : a->failure ? "failed"
			    : "applied";
}

static char *new_msgid(const struct pq_config *c, const struct pq_reply_about *a)
{
	const char *at = strrchr(c->reply.from_email, '@');
	unsigned char rnd[8];
	struct pq_buf b = PQ_BUF_INIT;
	const char *q;
	size_t i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	pq_buf_addf(&b, "patchq-%lld-", a->series->id);
	for (q = a->queue; *q; q++)
		pq_buf_addc(&b, isalnum((unsigned char)*q) || *q == '-' ? *q : '_');
	pq_buf_addf(&b, "-%s-%lld.", reply_kind(a), (long long)a->now);
	for (i = 0; i < sizeof(rnd); i++)
		pq_buf_addf(&b, "%02x", rnd[i]);
	pq_buf_addf(&b, "@%s", at && at[1] ? at + 1 : "patchq.invalid");
	return pq_buf_detach(&b);
}

/* Names as encoded words, addresses as they are (SMTPUTF8 takes those). */
#define ADDRESSES (PQ_HEADER_ENCODE | PQ_HEADER_UTF8)

/* The header, every field through the one header writer. */
static int add_header(struct pq_buf *b, const struct addrs *all, const struct addrs *to,
		      const struct addrs *cc, const char *subject, const char *date,
		      const char *msgid, const struct pq_mail *m, const struct pq_reply_about *a)
{
	struct pq_header_addr *v = pq_calloc(all->n + to->n + cc->n + 1, sizeof(*v));
	struct pq_buf val = PQ_BUF_INIT;
	size_t i, n = 0;
	int ret;

	v[n].name = all->v[0].name;
	v[n++].email = all->v[0].email;
	for (i = 0; i < to->n; i++, n++) {
		v[n].name = to->v[i].name;
		v[n].email = to->v[i].email;
	}
	for (i = 0; i < cc->n; i++, n++) {
		v[n].name = cc->v[i].name;
		v[n].email = cc->v[i].email;
	}
	pq_buf_addf(&val, "<%s>", msgid);
	if ((ret = pq_header_add_addresses(b, "From", v, 1, ADDRESSES)) < 0 ||
	    (ret = pq_header_add_addresses(b, "To", v + 1, to->n, ADDRESSES)) < 0 ||
	    (ret = pq_header_add_addresses(b, "Cc", v + 1 + to->n, cc->n, ADDRESSES)) < 0 ||
	    (ret = pq_header_add(b, "Subject", subject, PQ_HEADER_ENCODE)) < 0 ||
	    (ret = pq_header_add(b, "Date", date, 0)) < 0 ||
	    (ret = pq_header_add(b, "Message-ID", pq_buf_str(&val), PQ_HEADER_UTF8)) < 0)
		goto out;
	pq_buf_reset(&val);
	pq_buf_addf(&val, "<%s>", m->msgid);
	if ((ret = pq_header_add(b, "In-Reply-To", pq_buf_str(&val), PQ_HEADER_UTF8)) < 0)
		goto out;
	pq_buf_reset(&val);
	for (i = 0; i < m->nrefs; i++)
		pq_buf_addf(&val, "<%s> ", m->refs[i]);
	pq_buf_addf(&val, "<%s>", m->msgid);
	if ((ret = pq_header_add(b, "References", pq_buf_str(&val), PQ_HEADER_UTF8)) < 0 ||
	    (ret = pq_header_add(b, "MIME-Version", "1.0", 0)) < 0 ||
	    (ret = pq_header_add(b, "Content-Type", "text/plain; charset=utf-8", 0)) < 0 ||
	    (ret = pq_header_add(b, "Content-Transfer-Encoding", "8bit", 0)) < 0)
		goto out;
	pq_buf_reset(&val);
	pq_buf_addf(&val, "%s %s",
		    a->rejected	 ? "rejected on"
		    : a->checks	 ? "checked on"
		    : a->dropped ? "dropped from"
		    : a->failure ? "not applied to"
				 : "applied to",
		    a->queue);
	ret = pq_header_add(b, "X-Patchq", pq_buf_str(&val), PQ_HEADER_UTF8);
out:
	pq_buf_free(&val);
	free(v);
	return ret;
}

int pq_reply_compose(struct pq_store *s, const struct pq_config *c, const struct pq_reply_about *a,
		     struct pq_reply *out)
{
	const struct pq_series *se = a->series;
	long long answered = se->cover_id;
	const struct pq_queue_conf *q = pq_config_queue(c, a->queue);
	struct addrs to = { NULL, 0 }, cc = { NULL, 0 }, all = { NULL, 0 };
	struct pq_mail m;
	struct pq_buf subject = PQ_BUF_INIT, rcpt = PQ_BUF_INIT;
	struct pq_note *notes = NULL;
	size_t nnotes = 0;
	char date[64];
	struct tm tm;
	time_t now = (time_t)a->now;
	size_t i, k;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	if (!answered && se->npatches)
		answered = se->patches[0].id;
	if (!answered)
		return pq_error_set(PQ_ENOTFOUND, "series %lld has no mail to answer", se->id);
	if ((ret = pq_am_mail_load(s, answered, &m)) < 0)
		return ret;

	addrs_add(&to, m.from_name, m.from_email);
	/* a drop notice is the submitter's alone; every other reply goes to the thread */
	if (!a->dropped) {
		addrs_add_list(&cc, m.to);
		addrs_add_list(&cc, m.cc);
	}
	for (i = 0; i < se->npatches && !a->dropped; i++) {
		const struct pq_series_patch *sp = &se->patches[i];
		const struct pq_trailers *lists[2] = { &sp->own, &sp->collected };

		for (k = 0; k < 2; k++) {
			size_t t;

			for (t = 0; t < lists[k]->n; t++) {
				const struct pq_trailer *tr = &lists[k]->v[t];
				char *name, *email;

				/* the reviewers, not the chain of sign-offs */
				if (!tr->email || !strcasecmp(tr->name, "Signed-off-by"))
					continue;
				pq_mail_split_address(tr->value, &name, &email);
				addrs_add(&cc, name, tr->email);
				free(name);
				free(email);
			}
		}
	}
	/* nobody twice, and not ourselves */
	addrs_add(&all, c->reply.from_name, c->reply.from_email);
	if (!all.n) {
		ret = pq_error_set(PQ_EINVAL, "the reply's sender <%s> is no usable address",
				   c->reply.from_email);
		goto out;
	}
	for (i = 0; i < to.n; i++)
		addrs_add(&all, to.v[i].name, to.v[i].email);
	for (i = 0; i < cc.n;) {
		size_t before = all.n;

		addrs_add(&all, cc.v[i].name, cc.v[i].email);
		if (all.n == before) {
			free(cc.v[i].name);
			free(cc.v[i].email);
			memmove(&cc.v[i], &cc.v[i + 1], (cc.n - i - 1) * sizeof(*cc.v));
			cc.n--;
		} else {
			i++;
		}
	}

	out->msgid = new_msgid(c, a);
	out->sender = pq_strdup(c->reply.from_email);
	for (i = 1; i < all.n; i++)
		pq_buf_addf(&rcpt, "%s\n", all.v[i].email);
	out->recipients = pq_buf_detach(&rcpt);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	pq_buf_addf(&subject, "%s%s", strncasecmp(m.subject, "Re:", 3) ? "Re: " : "", m.subject);

	ret = add_header(&out->text, &all, &to, &cc, pq_buf_str(&subject), date, out->msgid, &m, a);
	if (ret == 0 && !a->failure && !a->rejected && !a->dropped && !a->checks)
		ret = pq_note_load(s, se->id, &notes, &nnotes);
	if (ret == 0) {
		pq_buf_addc(&out->text, '\n');
		add_quote(&out->text, &m);
		add_body(&out->text, c, a, q, notes, nnotes);
	} else {
		pq_reply_free(out);
	}
out:
	pq_note_free(notes, nnotes);
	pq_buf_free(&subject);
	addrs_free(&to);
	addrs_free(&cc);
	addrs_free(&all);
	pq_mail_free(&m);
	return ret;
}

void pq_reply_free(struct pq_reply *r)
{
	free(r->msgid);
	free(r->sender);
	free(r->recipients);
	pq_buf_free(&r->text);
	memset(r, 0, sizeof(*r));
}

int pq_reply_record(struct pq_store *s, const struct pq_config *c, const struct pq_reply_about *a)
{
	long long id;

	return pq_reply_record_id(s, c, a, &id);
}

int pq_reply_record_id(struct pq_store *s, const struct pq_config *c,
		       const struct pq_reply_about *a, long long *id)
{
	const struct pq_queue_conf *q = pq_config_queue(c, a->queue);
	struct pq_reply r;
	sqlite3_stmt *st;
	int ret;

	*id = 0;
	if (!q || (!a->asked && (!q->reply || (a->failure && !c->reply.failures))))
		return 0;
	if ((ret = pq_reply_compose(s, c, a, &r)) < 0)
		return ret == PQ_EDB ? ret : 0; /* nothing to answer: no reply */
	/* a failure reply only once per series and queue (the unique index) */
	st = pq_store_stmt(
		s, "INSERT OR IGNORE INTO outbox (series_id, queue, kind, msgid, sender,"
		   " recipients, message, created, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st) {
		pq_reply_free(&r);
		return PQ_EDB;
	}
	sqlite3_bind_int64(st, 1, a->series->id);
	pq_store_bind_text(st, 2, a->queue);
	pq_store_bind_text(st, 3, reply_kind(a));
	pq_store_bind_text(st, 4, r.msgid);
	pq_store_bind_text(st, 5, r.sender);
	pq_store_bind_text(st, 6, r.recipients);
	pq_store_bind_text(st, 7, pq_buf_str(&r.text));
	sqlite3_bind_int64(st, 8, (long long)a->now);
	sqlite3_bind_int(st, 9, c->reply.hold != 0);
	ret = pq_store_step_done(s, st);
	if (ret == 0 && sqlite3_changes(sqlite3_db_handle(st)) > 0)
		*id = pq_store_last_id(s);
	pq_reply_free(&r);
	return ret;
}
