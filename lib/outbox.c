/*
 * outbox: delivering the replies (see outbox.h).
 */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "crash.h"
#include "error.h"
#include "header.h"
#include "json.h"
#include "mail.h"
#include "reply.h"
#include "series.h"
#include "smtp.h"
#include "state.h"
#include "stop.h"
#include "token.h"

/* The wait after a temporary failure: a minute, doubling, at most six hours. */
#define RETRY_FIRST 60
#define RETRY_MAX (6 * 3600)

struct pending {
	long long id;
	char *msgid;
	char *sender;
	char *recipients;
	char *message;
	int attempts;
	char *note; /* after delivery: recipients refused, or NULL */
};

static void pending_free(struct pending *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].msgid);
		free(p[i].sender);
		free(p[i].recipients);
		free(p[i].message);
		free(p[i].note);
	}
	free(p);
}

static int load_due(struct pq_store *s, int64_t now, int force, size_t max, struct pending **out,
		    size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(s,
					 "SELECT id, msgid, sender, recipients, message, attempts"
					 " FROM outbox WHERE state = 'pending' AND NOT held"
					 " AND (? OR next_attempt <= ?) ORDER BY id LIMIT ?");
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int(st, 1, force);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, max ? (long long)max : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pending *p;

		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = pq_reallocarray(*out, cap, sizeof(**out));
		}
		p = &(*out)[(*n)++];
		p->id = sqlite3_column_int64(st, 0);
		p->msgid = pq_store_col_dup(st, 1);
		p->sender = pq_store_col_dup(st, 2);
		p->recipients = pq_store_col_dup(st, 3);
		p->message = pq_store_col_dup(st, 4);
		p->attempts = sqlite3_column_int(st, 5);
		p->note = NULL;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pq_store_error(s, "outbox");
}

/* Splits the recipients (one per line) into rcpt, pointing into list (modified). */
static size_t split_recipients(char *list, const char ***rcpt)
{
	size_t n = 0;
	char *p, *save = NULL;

	*rcpt = NULL;
	for (p = strtok_r(list, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		*rcpt = pq_reallocarray(*rcpt, n + 1, sizeof(**rcpt));
		(*rcpt)[n++] = p;
	}
	return n;
}

static int mkdir_p(const char *dir)
{
	return mkdir(dir, 0750) == 0 || errno == EEXIST ? 0 : -1;
}

/* A dry run: the reply written to the maildir's new/, as a delivery would. */
static int to_maildir(const char *dir, const struct pending *p, int64_t now)
{
	struct pq_buf tmp = PQ_BUF_INIT, new = PQ_BUF_INIT, sub = PQ_BUF_INIT;
	const char *subs[] = { "tmp", "new", "cur" };
	size_t len = strlen(p->message), i;
	int fd = -1, rc = 0;

	if (mkdir_p(dir) < 0)
		rc = -1;
	for (i = 0; i < 3 && rc == 0; i++) {
		pq_buf_reset(&sub);
		pq_buf_addf(&sub, "%s/%s", dir, subs[i]);
		rc = mkdir_p(sub.ptr);
	}
	pq_buf_addf(&tmp, "%s/tmp/%lld.patchq-outbox-%lld", dir, (long long)now, p->id);
	pq_buf_addf(&new, "%s/new/%lld.patchq-outbox-%lld", dir, (long long)now, p->id);
	if (rc == 0)
		fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, p->message, len) != (ssize_t)len || fsync(fd) < 0 ||
	    close(fd) < 0 || rename(tmp.ptr, new.ptr) < 0) {
		rc = pq_error_set(PQ_ETEMP, "maildir %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	pq_buf_free(&tmp);
	pq_buf_free(&new);
	pq_buf_free(&sub);
	return rc;
}

/* Recipients the server refused while taking the mail for the others: kept as its note. */
static void note_refused(struct pending *p, const char **rcpt)
{
	struct pq_buf b = PQ_BUF_INIT;
	const struct pq_smtp_refusal *r;
	size_t n, i;

	r = pq_smtp_refused(&n);
	for (i = 0; i < n; i++)
		pq_buf_addf(&b, "%s%s refused: %s", i ? "; " : "", rcpt[r[i].index], r[i].reply);
	free(p->note);
	p->note = b.len ? pq_buf_detach(&b) : NULL;
	pq_buf_free(&b);
}

/*
 * Hands reply p to the way out. *for_good tells a failure that retrying
 * cannot cure (a 5xx to a recipient or the content, a malformed address)
 * from one of the set-up (a password, a certificate, AUTH, TLS, the
 * sender): that is the configuration's, not the reply's, and the reply
 * stays pending until the configuration is fixed.
 */
static int deliver(const struct pq_config *c, struct pending *p, int64_t now, int *for_good)
{
	const struct pq_smtp_conf *m = &c->smtp;
	struct pq_buf password = PQ_BUF_INIT;
	const char **rcpt;
	size_t n;
	int rc;

	*for_good = 0;
	if (m->maildir)
		return to_maildir(m->maildir, p, now);
	n = split_recipients(p->recipients, &rcpt);
	if (!n) {
		rc = pq_error_set(PQ_EPERM, "no recipients");
		*for_good = 1;
	} else if (m->sendmail) {
		rc = pq_sendmail(m->sendmail, p->sender, rcpt, n, p->message, strlen(p->message));
		*for_good = rc == PQ_EPERM || rc == PQ_EINVAL;
	} else {
		struct pq_smtp_server srv = {
			.host = m->host,
			.port = m->port,
			.tls = m->tls == PQ_TLS_IMPLICIT ? PQ_SMTP_TLS_IMPLICIT
			       : m->tls == PQ_TLS_NONE	 ? PQ_SMTP_TLS_NONE
							 : PQ_SMTP_TLS_STARTTLS,
			.no_verify = !m->verify,
			.ca_file = m->ca_file,
			.user = m->user,
		};

		rc = 0;
		if (m->user)
			rc = pq_config_secret(m->password_file, m->credential, &password);
		srv.password = password.ptr;
		if (rc == 0) {
			rc = pq_smtp_send(&srv, p->sender, rcpt, n, p->message, strlen(p->message));
			if (rc == 0)
				note_refused(p, rcpt);
			*for_good = (rc == PQ_EPERM || rc == PQ_EINVAL) &&
				    pq_smtp_failure_is_message();
		} else {
			rc = PQ_ETEMP; /* the secret may appear: not the mail's fault */
		}
		if (password.ptr) /* not left in freed memory */
			explicit_bzero(password.ptr, password.len);
		pq_buf_free(&password);
	}
	free(rcpt);
	return rc;
}

static int mark(struct pq_store *s, const struct pending *p, int rc, int for_good, int64_t now)
{
	sqlite3_stmt *st;
	int64_t wait = RETRY_FIRST;
	int k;

	for (k = 0; k < p->attempts && wait < RETRY_MAX; k++)
		wait *= 2;
	if (wait > RETRY_MAX)
		wait = RETRY_MAX;
	st = pq_store_stmt(s, "UPDATE outbox SET state = ?, attempts = attempts + 1,"
			      " next_attempt = ?, error = ?, sent = ? WHERE id = ?");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, rc == 0 ? "sent" : for_good ? "failed" : "pending");
	sqlite3_bind_int64(st, 2, rc == 0 || for_good ? 0 : now + wait);
	pq_store_bind_text(st, 3, rc == 0 ? p->note : pq_error_last());
	if (rc == 0)
		sqlite3_bind_int64(st, 4, now);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, p->id);
	return pq_store_step_done(s, st);
}

int pq_outbox_send(struct pq_store *s, const struct pq_config *c, int64_t now, int force,
		   size_t max, struct pq_buf *report, struct pq_outbox_stats *stats)
{
	struct pending *due;
	size_t n, i;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (!c->has_smtp)
		return pq_error_set(
			PQ_EINVAL, "%s has no [smtp] section: replies stay in the outbox", c->path);
	if ((rc = load_due(s, now, force, max, &due, &n)) < 0)
		return rc;
	for (i = 0; i < n && !pq_stop_requested(); i++) {
		int r, for_good;

		pq_crash_point("send");
		r = deliver(c, &due[i], now, &for_good);
		if (r == 0)
			pq_crash_point("sent");
		if ((rc = mark(s, &due[i], r, for_good, now)) < 0)
			break;
		if (r == 0) {
			stats->sent++;
			pq_buf_addf(report, "reply %lld <%s>: %s\n", due[i].id, due[i].msgid,
				    c->smtp.maildir ? "written to the maildir (dry run)" : "sent");
		} else if (for_good) {
			stats->failed++;
			pq_buf_addf(report, "reply %lld <%s>: refused for good: %s\n", due[i].id,
				    due[i].msgid, pq_error_last());
		} else {
			stats->retry++;
			pq_buf_addf(report, "reply %lld <%s>: will retry: %s\n", due[i].id,
				    due[i].msgid, pq_error_last());
		}
	}
	pending_free(due, n);
	if (rc == 0 && !force) {
		sqlite3_stmt *st = pq_store_stmt(s,
						 "SELECT count(*) FROM outbox"
						 " WHERE state = 'pending' AND next_attempt > ?");
		long long waiting;

		if (!st)
			return PQ_EDB;
		sqlite3_bind_int64(st, 1, now);
		if ((rc = pq_store_scalar(s, st, &waiting)) < 0)
			return rc;
		stats->waiting = (size_t)waiting;
	}
	return rc;
}

int pq_outbox_retry(struct pq_store *s, long long id)
{
	sqlite3_stmt *st;
	long long failed;
	int rc;

	if ((rc = pq_store_scalar_id(
		     s, "SELECT count(*) FROM outbox WHERE id = ? AND state = 'failed'", id,
		     &failed)) < 0)
		return rc;
	if (!failed)
		return pq_error_set(PQ_ENOTFOUND, "no failed reply %lld in the outbox", id);
	st = pq_store_stmt(s, "UPDATE outbox SET state = 'pending', next_attempt = 0 WHERE id = ?");
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	return pq_store_step_done(s, st);
}

int pq_outbox_hold(struct pq_store *s, long long id, int hold)
{
	sqlite3_stmt *st = pq_store_stmt(s, "UPDATE outbox SET held = ? WHERE id = ?"
					    " AND state = 'pending' AND held = ?");
	int rc;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int(st, 1, hold != 0);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int(st, 3, hold == 0);
	if ((rc = pq_store_step_done(s, st)) < 0)
		return rc;
	if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
		return pq_error_set(PQ_ENOTFOUND, "no reply %lld %s in the outbox", id,
				    hold ? "pending and not held" : "held");
	return 0;
}

int pq_outbox_withdraw(struct pq_store *s, long long series, const char *queue, size_t *n)
{
	sqlite3_stmt *st = pq_store_stmt(s, "UPDATE outbox AS o SET state = 'withdrawn', held = 0"
					    " WHERE series_id = ?1 AND" PQ_OUTBOX_UNSENT
					    " AND (?2 IS NULL OR queue = ?2)");
	int ret;

	if (n)
		*n = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, series);
	pq_store_bind_text(st, 2, queue);
	if ((ret = pq_store_step_done(s, st)) == 0 && n)
		*n = (size_t)sqlite3_changes(sqlite3_db_handle(st));
	return ret;
}

int pq_outbox_text(struct pq_store *s, long long id, struct pq_buf *out)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT state, message FROM outbox WHERE id = ?");
	int ret = 0, rc;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (!strcmp(pq_store_col_text(st, 0), "pending") ||
				 !strcmp(pq_store_col_text(st, 0), "failed")))
		pq_buf_adds(out, pq_store_col_text(st, 1));
	else if (rc == SQLITE_ROW)
		ret = pq_error_set(PQ_EPERM, "reply %lld is %s: it can no longer be changed", id,
				   pq_store_col_text(st, 0));
	else if (rc == SQLITE_DONE)
		ret = pq_error_set(PQ_ENOTFOUND, "no reply %lld in the outbox", id);
	else
		ret = pq_store_error(s, "reading the outbox");
	sqlite3_reset(st);
	return ret;
}

/* Length of the valid UTF-8 sequence at p (at most len bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t len)
{
	size_t n, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* The header block of mail text (up to and with its last field's LF) and where the body starts. */
static size_t header_len(const char *text)
{
	const char *end = strstr(text, "\n\n");

	return end ? (size_t)(end - text) + 1 : strlen(text);
}

/*
 * Appends to out the header fields of head[0..len) but Subject, each with
 * its folded lines; the Subject's value (unfolded) into *subject (NULL
 * when none), *nsubject counts them. Returns 0, or PQ_EINVAL for a line
 * that is no field.
 */
static int fields_but_subject(const char *head, size_t len, struct pq_buf *out, char **subject,
			      int *nsubject)
{
	const char *p = head, *end = head + len;
	struct pq_buf subj = PQ_BUF_INIT;
	int in_subject = 0, ret = 0;

	*subject = NULL;
	*nsubject = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *colon = memchr(p, ':', l);

		if (*p == ' ' || *p == '\t') {
			if (p == head) {
				ret = pq_error_set(PQ_EINVAL, "the mail starts with a folded line");
				goto out;
			}
		} else {
			const char *q;

			if (!colon || colon == p) {
				ret = pq_error_set(PQ_EINVAL,
						   "a header line that is no field: %.*s",
						   (int)(l > 60 ? 60 : l), p);
				goto out;
			}
			for (q = p; q < colon; q++)
				if (*q <= ' ' || *q >= 0x7f) {
					ret = pq_error_set(PQ_EINVAL, "a bad field name: %.*s",
							   (int)(colon - p), p);
					goto out;
				}
			in_subject = colon - p == 7 && !strncasecmp(p, "Subject", 7);
			if (in_subject) {
				(*nsubject)++;
				pq_buf_reset(&subj);
				p = colon + 1;
				l = nl ? (size_t)(nl - p) : (size_t)(end - p);
			}
		}
		if (in_subject)
			pq_buf_add(&subj, p, l); /* unfolding: the line end goes, the blank stays */
		else
			pq_buf_add(out, p, l + (nl ? 1 : 0));
		p = nl ? nl + 1 : end;
	}
	if (*nsubject) {
		const char *v = pq_buf_str(&subj);

		pq_buf_rtrim(&subj);
		while (*v == ' ' || *v == '\t')
			v++;
		*subject = pq_strdup(v);
	}
out:
	pq_buf_free(&subj);
	return ret;
}

/*
 * The edited mail made fit to go: the header as before but for the
 * Subject (written again through header.c when it changed), the body
 * plain text. Into out.
 */
static int edited_mail(const char *old, const char *new, struct pq_buf *out)
{
	struct pq_buf old_fields = PQ_BUF_INIT, new_fields = PQ_BUF_INIT;
	size_t ohl = header_len(old), nhl = header_len(new), i, len = strlen(new);
	char *osubj = NULL, *nsubj = NULL;
	int ret, on, nn;

	for (i = 0; i < len;) {
		unsigned char ch = (unsigned char)new[i];
		size_t k = utf8_len((const unsigned char *)new + i, len - i);

		if (!k)
			return pq_error_set(PQ_EINVAL, "invalid UTF-8 at byte %zu", i);
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
			return pq_error_set(PQ_EINVAL,
					    "a control character (0x%02x) at byte %zu: %s", ch, i,
					    ch == '\r' ? "a CR (the mail's lines end in LF)"
						       : "not in mail text");
		i += k;
	}
	if (!strstr(new, "\n\n"))
		return pq_error_set(PQ_EINVAL, "no empty line between the header and the body");
	if ((ret = fields_but_subject(old, ohl, &old_fields, &osubj, &on)) < 0 ||
	    (ret = fields_but_subject(new, nhl, &new_fields, &nsubj, &nn)) < 0)
		goto out;
	if (nn != 1 || !*nsubj) {
		ret = pq_error_set(PQ_EINVAL, "the reply needs one Subject, not empty");
		goto out;
	}
	if (old_fields.len != new_fields.len ||
	    memcmp(old_fields.ptr, new_fields.ptr, old_fields.len)) {
		ret = pq_error_set(PQ_EINVAL,
				   "only the Subject and the body may change: From, To, Cc,"
				   " In-Reply-To, References and the other fields stay as"
				   " they were");
		goto out;
	}
	/* the fields in their order, the Subject where it was */
	ret = 0;
	{
		const char *p = old, *end = old + ohl;
		int done = 0;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
			int subj = !strncasecmp(p, "Subject:", 8);

			if (subj && !done) {
				if (osubj && !strcmp(osubj, nsubj)) {
					/* as it was, folded lines and all */
					do {
						pq_buf_add(out, p, l);
						p += l;
						nl = p < end ? memchr(p, '\n', (size_t)(end - p))
							     : NULL;
						l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
					} while (p < end && (*p == ' ' || *p == '\t'));
					done = 1;
					continue;
				}
				if ((ret = pq_header_add(out, "Subject", nsubj, PQ_HEADER_ENCODE)) <
				    0)
					goto out;
				done = 1;
				for (p += l; p < end && (*p == ' ' || *p == '\t');) {
					nl = memchr(p, '\n', (size_t)(end - p));
					p = nl ? nl + 1 : end;
				}
				continue;
			}
			pq_buf_add(out, p, l);
			p += l;
		}
	}
	pq_buf_adds(out, new + nhl);
	pq_buf_rtrim(out);
	pq_buf_addc(out, '\n');
out:
	free(osubj);
	free(nsubj);
	pq_buf_free(&old_fields);
	pq_buf_free(&new_fields);
	return ret;
}

int pq_outbox_edit(struct pq_store *s, long long id, const char *text, const char *who,
		   long long now, int *changed)
{
	struct pq_buf old = PQ_BUF_INIT, mail = PQ_BUF_INIT, reply = PQ_BUF_INIT;
	sqlite3_stmt *st;
	long long series;
	int ret;

	*changed = 0;
	if ((ret = pq_store_begin(s)) < 0)
		return ret;
	if ((ret = pq_outbox_text(s, id, &old)) < 0 ||
	    (ret = edited_mail(pq_buf_str(&old), text, &mail)) < 0)
		goto fail;
	if (!strcmp(pq_buf_str(&old), pq_buf_str(&mail))) {
		ret = pq_store_commit(s);
		goto out;
	}
	st = pq_store_stmt(s,
			   "UPDATE outbox AS o SET message = ? WHERE id = ? AND" PQ_OUTBOX_UNSENT);
	if (!st) {
		ret = PQ_EDB;
		goto fail;
	}
	pq_store_bind_text(st, 1, pq_buf_str(&mail));
	sqlite3_bind_int64(st, 2, id);
	if ((ret = pq_store_step_done(s, st)) < 0)
		goto fail;
	if ((ret = pq_store_scalar_id(s, "SELECT series_id FROM outbox WHERE id = ?", id,
				      &series)) < 0)
		goto fail;
	pq_buf_addf(&reply, "reply %lld", id);
	if ((ret = pq_token_record(s, series, NULL, "edit reply", who, reply.ptr, now)) < 0)
		goto fail;
	if ((ret = pq_store_commit(s)) == 0)
		*changed = 1;
	goto out;
fail:
	pq_store_rollback(s);
out:
	pq_buf_free(&old);
	pq_buf_free(&mail);
	pq_buf_free(&reply);
	return ret;
}

void pq_outbox_parts_free(struct pq_outbox_parts *p)
{
	free(p->subject);
	free(p->fields);
	free(p->body);
	memset(p, 0, sizeof(*p));
}

int pq_outbox_split(const char *text, struct pq_outbox_parts *out)
{
	struct pq_buf fields = PQ_BUF_INIT, subject = PQ_BUF_INIT;
	size_t hl = header_len(text);
	char *raw = NULL;
	int n, ret;

	memset(out, 0, sizeof(*out));
	ret = fields_but_subject(text, hl, &fields, &raw, &n);
	if (ret == 0) {
		if (raw)
			pq_mail_decode_header(&subject, raw, strlen(raw));
		out->subject = pq_strdup(pq_buf_str(&subject));
		out->fields = pq_strdup(pq_buf_str(&fields));
		out->body = pq_strdup(text + hl + (text[hl] == '\n'));
	}
	free(raw);
	pq_buf_free(&fields);
	pq_buf_free(&subject);
	return ret;
}

int pq_outbox_edit_parts(struct pq_store *s, long long id, const char *subject, const char *body,
			 const char *who, long long now, int *changed)
{
	struct pq_buf text = PQ_BUF_INIT;
	struct pq_outbox_parts p;
	const unsigned char *c;
	int ret;

	*changed = 0;
	for (c = (const unsigned char *)subject; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return pq_error_set(PQ_EINVAL,
					    "the Subject is one line of text: a control character"
					    " (0x%02x) in it",
					    *c);
	if ((ret = pq_outbox_text(s, id, &text)) < 0)
		return ret;
	ret = pq_outbox_split(pq_buf_str(&text), &p);
	if (ret == 0) {
		/* the Subject's place among the fields is kept by pq_outbox_edit() */
		pq_buf_reset(&text);
		pq_buf_addf(&text, "%sSubject: %s\n\n%s", p.fields, subject, body);
		ret = pq_outbox_edit(s, id, pq_buf_str(&text), who, now, changed);
	}
	pq_outbox_parts_free(&p);
	pq_buf_free(&text);
	return ret;
}

int pq_outbox_act(struct pq_store *s, long long id, const char *what, const char *who,
		  long long now)
{
	struct pq_buf action = PQ_BUF_INIT, reply = PQ_BUF_INIT;
	long long series;
	int ret;

	if (!strcmp(what, "retry"))
		ret = pq_outbox_retry(s, id);
	else if (!strcmp(what, "hold") || !strcmp(what, "release"))
		ret = pq_outbox_hold(s, id, !strcmp(what, "hold"));
	else
		return pq_error_set(PQ_EINVAL, "no action \"%s\" on a reply", what);
	if (ret < 0)
		return ret;
	if ((ret = pq_store_scalar_id(s, "SELECT series_id FROM outbox WHERE id = ?", id,
				      &series)) < 0)
		return ret;
	pq_buf_addf(&action, "%s reply", what);
	pq_buf_addf(&reply, "reply %lld", id);
	ret = pq_token_record(s, series, NULL, action.ptr, who, reply.ptr, now);
	pq_buf_free(&action);
	pq_buf_free(&reply);
	return ret;
}

int pq_outbox_list(struct pq_store *s, const struct pq_outbox_page *pg, struct pq_buf *out,
		   int json, long long *next)
{
	static const char *const keys[] = { "id",    "series",	"queue",    "kind",
					    "msgid", "state",	"attempts", "next_attempt",
					    "error", "created", "sent",	    "recipients" };
#define OUTBOX_COLUMNS                                                                    \
	"SELECT id, series_id, queue, kind, msgid, state, attempts, next_attempt, error," \
	" created, sent, recipients, held FROM outbox"
	sqlite3_stmt *st = pg ? pq_store_stmt(s, OUTBOX_COLUMNS " WHERE ?1 = 0 OR id < ?1"
								" ORDER BY id DESC LIMIT ?2")
			      : pq_store_stmt(s, OUTBOX_COLUMNS " ORDER BY id");
#undef OUTBOX_COLUMNS
	struct pq_json j;
	long long last = 0;
	int rows = 0, rc;
	size_t k;

	if (next)
		*next = 0;
	if (!st)
		return PQ_EDB;
	if (pg) {
		sqlite3_bind_int64(st, 1, pg->after);
		sqlite3_bind_int(st, 2, pg->limit + 1); /* one more: is there a next page? */
	}
	pq_json_init(&j, out, 1);
	if (json)
		pq_json_array_begin(&j);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (pg && rows++ == pg->limit) {
			if (next)
				*next = last;
			break;
		}
		last = sqlite3_column_int64(st, 0);
		if (!json) {
			pq_buf_addf(out, "%4lld  series %lld  %-8s %-7s %-10s <%s>", last,
				    sqlite3_column_int64(st, 1),
				    sqlite3_column_int(st, 12) &&
						    !strcmp(pq_store_col_text(st, 5), "pending")
					    ? "held"
					    : pq_store_col_text(st, 5),
				    pq_store_col_text(st, 3), pq_store_col_text(st, 2),
				    pq_store_col_text(st, 4));
			if (sqlite3_column_int(st, 6))
				pq_buf_addf(out, "  %d attempt%s", sqlite3_column_int(st, 6),
					    sqlite3_column_int(st, 6) == 1 ? "" : "s");
			if (sqlite3_column_type(st, 8) != SQLITE_NULL)
				pq_buf_addf(out, "\n      %s", pq_store_col_text(st, 8));
			pq_buf_addc(out, '\n');
			continue;
		}
		pq_json_object_begin(&j);
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			pq_json_key(&j, keys[k]);
			if (sqlite3_column_type(st, (int)k) == SQLITE_NULL)
				pq_json_null(&j);
			else if (sqlite3_column_type(st, (int)k) == SQLITE_INTEGER)
				pq_json_int(&j, sqlite3_column_int64(st, (int)k));
			else
				pq_json_str(&j, pq_store_col_text(st, (int)k));
		}
		pq_json_kbool(&j, "held", sqlite3_column_int(st, 12));
		pq_json_object_end(&j);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return pq_store_error(s, "reading the outbox");
	if (json)
		pq_json_array_end(&j);
	return 0;
}

/* The reply for series se applied to queue, composed now from what the database holds. */
static int preview_applied(struct pq_store *s, const struct pq_config *c,
			   const struct pq_series *se, const char *queue, struct pq_buf *out)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT message_id, commit_id, seen FROM application"
				 " WHERE series_id = ? AND queue = ? AND active ORDER BY id");
	struct pq_reply_about a = { .queue = queue, .series = se };
	struct pq_reply_patch *rp = NULL;
	struct pq_reply r;
	char **commits = NULL;
	size_t n = 0, i;
	int rc;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, se->id);
	pq_store_bind_text(st, 2, queue);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long mid = sqlite3_column_int64(st, 0);

		rp = pq_reallocarray(rp, n + 1, sizeof(*rp));
		commits = pq_reallocarray(commits, n + 1, sizeof(*commits));
		commits[n] = pq_store_col_dup(st, 1);
		rp[n].commit = commits[n];
		rp[n].index = 0;
		rp[n].title = "";
		for (i = 0; i < se->npatches; i++) {
			if (se->patches[i].id == mid) {
				rp[n].index = se->patches[i].index;
				rp[n].title = se->patches[i].name ? se->patches[i].name : "";
			}
		}
		if (sqlite3_column_int64(st, 2) > a.seen)
			a.seen = sqlite3_column_int64(st, 2);
		n++;
	}
	sqlite3_reset(st);
	a.patches = rp;
	a.n = n;
	a.now = (int64_t)time(NULL);
	rc = pq_reply_compose(s, c, &a, &r);
	if (rc == 0) {
		pq_buf_addf(out,
			    "# reply about %s, not in the outbox%s: as it would be composed now\n",
			    queue,
			    pq_config_queue(c, queue) && pq_config_queue(c, queue)->reply
				    ? ""
				    : " (this queue sends none)");
		pq_buf_add(out, pq_buf_str(&r.text), r.text.len);
		pq_reply_free(&r);
	}
	for (i = 0; i < n; i++)
		free(commits[i]);
	free(commits);
	free(rp);
	return rc;
}

int pq_outbox_preview(struct pq_store *s, const struct pq_config *c, long long id,
		      struct pq_buf *out)
{
	sqlite3_stmt *st;
	struct pq_series *se = NULL;
	char **queues = NULL;
	size_t nq = 0, i;
	int rc, shown = 0;

	if ((rc = pq_series_load_conf(s, c, id, 0, &se)) < 0)
		return rc;
	st = pq_store_stmt(s, "SELECT id, state, queue, message FROM outbox WHERE series_id = ?"
			      " ORDER BY id");
	if (!st) {
		rc = PQ_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		pq_buf_addf(out, "# reply %lld about %s, %s\n", sqlite3_column_int64(st, 0),
			    pq_store_col_text(st, 2), pq_store_col_text(st, 1));
		pq_buf_adds(out, pq_store_col_text(st, 3));
		pq_buf_addc(out, '\n');
		shown++;
	}
	sqlite3_reset(st);
	st = pq_store_stmt(s, "SELECT q.queue FROM series_queue q WHERE q.series_id = ?"
			      " AND q.state = ? AND NOT EXISTS (SELECT 1 FROM outbox o"
			      " WHERE o.series_id = q.series_id AND o.queue = q.queue"
			      " AND o.kind = 'applied') ORDER BY q.queue");
	if (!st) {
		rc = PQ_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, pq_state_name(PQ_STATE_APPLIED));
	while (sqlite3_step(st) == SQLITE_ROW) {
		queues = pq_reallocarray(queues, nq + 1, sizeof(*queues));
		queues[nq++] = pq_store_col_dup(st, 0);
	}
	sqlite3_reset(st);
	for (i = 0; i < nq && rc == 0; i++) {
		rc = preview_applied(s, c, se, queues[i], out);
		shown++;
	}
	if (rc == 0 && !shown)
		pq_buf_addf(out, "series %lld: nothing to send (not applied to a queue yet)\n", id);
out:
	for (i = 0; i < nq; i++)
		free(queues[i]);
	free(queues);
	pq_series_free(se);
	return rc;
}
