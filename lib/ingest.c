/* ingest: raw messages into the database, exactly once (see ingest.h). */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "digest.h"
#include "error.h"
#include "patch.h"
#include "series.h"
#include "subject.h"
#include "trailers.h"

struct pq_ingest {
	struct pq_store *store;
	char *source;
	char *cursor; /* position of the last message of the batch */
	size_t batch;
	size_t pending; /* messages in the open transaction */
	struct pq_mail_limits limits;
	struct pq_ingest_stats stats;
};

int pq_ingest_new(struct pq_ingest **out, struct pq_store *s, const char *source, size_t batch,
		  const struct pq_mail_limits *limits)
{
	struct pq_ingest *ig = pq_calloc(1, sizeof(*ig));

	ig->store = s;
	ig->source = pq_strdup(source);
	ig->batch = batch ? batch : 1000;
	ig->limits = limits ? *limits : pq_mail_default_limits;
	*out = ig;
	return 0;
}

const struct pq_ingest_stats *pq_ingest_stats(const struct pq_ingest *ig)
{
	return &ig->stats;
}

static int save_cursor(struct pq_ingest *ig)
{
	sqlite3_stmt *st;

	if (!ig->cursor)
		return 0;
	st = pq_store_stmt(ig->store,
			   "INSERT INTO cursor (source, position) VALUES (?, ?)"
			   " ON CONFLICT (source) DO UPDATE SET position = excluded.position");
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, ig->source);
	pq_store_bind_text(st, 2, ig->cursor);
	return pq_store_step_done(ig->store, st);
}

int pq_ingest_flush(struct pq_ingest *ig)
{
	int ret;

	if (!ig->pending)
		return 0;
	if ((ret = save_cursor(ig)) < 0 || (ret = pq_store_commit(ig->store)) < 0) {
		pq_store_rollback(ig->store);
		ig->pending = 0;
		return ret;
	}
	ig->pending = 0;
	return 0;
}

int pq_ingest_last_message(struct pq_store *s, long long *id)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT coalesce(max(id), 0) FROM message");

	*id = 0;
	return st ? pq_store_scalar(s, st, id) : PQ_EDB;
}

int pq_ingest_cursor(struct pq_store *s, const char *source, char **out)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT position FROM cursor WHERE source = ?");

	*out = NULL;
	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, source);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = pq_strdup(pq_store_col_text(st, 0));
	sqlite3_reset(st);
	return 0;
}

int pq_ingest_free(struct pq_ingest *ig)
{
	int ret;

	if (!ig)
		return 0;
	ret = pq_ingest_flush(ig);
	free(ig->source);
	free(ig->cursor);
	free(ig);
	return ret;
}

/* ---- one message ---- */

/* Everything derived from one parsed mail, ready to be stored. */
struct parsed {
	struct pq_mail mail;
	struct pq_subject subj;
	struct pq_patch patch;
	struct pq_trailers reply_trailers;
	const char *kind;
	char *error;  /* reason stored with the message */
	char *author; /* in-body From: wins */
	char *email;
	char *tags;
	char *files;
};

static const char *classify(const struct parsed *p)
{
	const struct pq_subject *s = &p->subj;

	if (p->patch.pull_url && !s->is_reply)
		return "pull";
	if (s->index == 0 && !s->is_reply && (s->is_patch || s->total > 0))
		return "cover";
	if (p->patch.diff.len && !s->is_reply)
		return "patch";
	if (p->mail.nrefs || s->is_reply)
		return "reply";
	return "other";
}

static char *join_words(char *const *v, size_t n, char sep)
{
	struct pq_buf b = PQ_BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			pq_buf_addc(&b, sep);
		pq_buf_adds(&b, v[i]);
	}
	return n ? pq_buf_detach(&b) : NULL;
}

/* refused: the source did not take the message whole, for that reason (else NULL). */
static void parse(struct parsed *p, const char *raw, size_t len, const struct pq_mail_limits *lim,
		  const char *refused, int *ok)
{
	memset(p, 0, sizeof(*p));
	*ok = pq_mail_parse(&p->mail, raw, len, lim) == 0 && !refused;
	if (!*ok) {
		p->kind = "unparsable";
		p->error = pq_strdup(refused ? refused : pq_error_last());
		return;
	}
	if (p->mail.warning)
		p->error = pq_strdup(p->mail.warning);
	pq_subject_parse(&p->subj, p->mail.subject);
	pq_patch_parse_mail(&p->patch, &p->mail);
	if (p->patch.error) {
		/* stored, with why it will not be applied */
		struct pq_buf e = PQ_BUF_INIT;

		pq_buf_addf(&e, "%s%s%s", p->error ? p->error : "", p->error ? "; " : "",
			    p->patch.error);
		free(p->error);
		p->error = pq_buf_detach(&e);
	}
	if (p->subj.is_pull && !p->subj.is_reply)
		pq_patch_find_pull(&p->patch, p->mail.body.ptr, p->mail.body.len);
	p->kind = classify(p);
	if (!strcmp(p->kind, "patch") && p->patch.from) {
		pq_mail_split_address(p->patch.from, &p->author, &p->email);
		if (!*p->email) { /* "From: Name" alone: keep the sender's address */
			free(p->email);
			p->email = pq_strdup(p->mail.from_email);
		}
	} else {
		p->author = pq_strdup(p->mail.from_name);
		p->email = pq_strdup(p->mail.from_email);
	}
	if (!strcmp(p->kind, "reply"))
		pq_trailers_parse(&p->reply_trailers, p->mail.body.ptr ? p->mail.body.ptr : "",
				  p->mail.body.len, PQ_TRAILERS_REPLY);
	p->tags = join_words(p->subj.tags, p->subj.ntags, ' ');
	p->files = join_words(p->patch.files, p->patch.nfiles, '\n');
}

static void parsed_free(struct parsed *p)
{
	pq_mail_free(&p->mail);
	pq_subject_free(&p->subj);
	pq_patch_free(&p->patch);
	pq_trailers_free(&p->reply_trailers);
	free(p->error);
	free(p->author);
	free(p->email);
	free(p->tags);
	free(p->files);
}

static int is_series_member(const struct parsed *p)
{
	/* a pull request is a series of its own, as patchwork counts it */
	return !strcmp(p->kind, "patch") || !strcmp(p->kind, "cover") || !strcmp(p->kind, "pull");
}

/* The message id of (msgid, content) if stored, else 0; *other_content is
 * set when the Message-ID is taken by different content. */
static int find_message(struct pq_store *s, const struct pq_mail *m, long long *id,
			int *other_content)
{
	sqlite3_stmt *st = pq_store_stmt(
		s, "SELECT id, content_hash = ? FROM message WHERE msgid = ? ORDER BY 2 DESC, id");

	*id = 0;
	*other_content = 0;
	if (!st)
		return PQ_EDB;
	sqlite3_bind_blob(st, 1, m->content_hash, PQ_MAIL_HASH_LEN, SQLITE_STATIC);
	pq_store_bind_text(st, 2, m->msgid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 1))
			*id = sqlite3_column_int64(st, 0);
		else
			*other_content = 1;
	}
	sqlite3_reset(st);
	return 0;
}

static int insert_raw(struct pq_ingest *ig, const char *raw, size_t len, const unsigned char *hash,
		      long long *raw_id)
{
	sqlite3_stmt *st = pq_store_stmt(ig->store, "INSERT INTO raw (hash, bytes) VALUES (?, ?)");
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_blob(st, 1, hash, PQ_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, raw, len, SQLITE_STATIC);
	ret = pq_store_step_done(ig->store, st);
	*raw_id = pq_store_last_id(ig->store);
	return ret;
}

static int insert_delivery(struct pq_ingest *ig, long long raw_id, long long message_id,
			   const char *cursor, int duplicate)
{
	sqlite3_stmt *st = pq_store_stmt(
		ig->store, "INSERT INTO delivery (raw_id, message_id, source, received, duplicate)"
			   " VALUES (?, ?, ?, ?, ?)");
	struct pq_buf where = PQ_BUF_INIT;
	int ret;

	if (!st)
		return PQ_EDB;
	pq_buf_adds(&where, ig->source);
	if (cursor)
		pq_buf_addf(&where, " %s", cursor);
	sqlite3_bind_int64(st, 1, raw_id);
	sqlite3_bind_int64(st, 2, message_id);
	pq_store_bind_text(st, 3, pq_buf_str(&where));
	sqlite3_bind_int64(st, 4, (long long)time(NULL));
	sqlite3_bind_int(st, 5, duplicate);
	ret = pq_store_step_done(ig->store, st);
	pq_buf_free(&where);
	return ret;
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int v, int present)
{
	if (present)
		sqlite3_bind_int(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static int insert_message(struct pq_ingest *ig, const struct parsed *p, long long raw_id,
			  long long series, long long *id)
{
	sqlite3_stmt *st = pq_store_stmt(
		ig->store,
		"INSERT INTO message (raw_id, msgid, msgid_derived, content_hash, kind, error,"
		" subject, name, author, email, sender_email, date, date_raw, in_reply_to,"
		" version, idx, total, tags, rfc, resend, body, diff, files, pull_url,"
		" pull_branch, base_commit, change_id, series_id, to_header, cc_header) VALUES"
		" (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
		" ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)");
	const struct pq_mail *m = &p->mail;
	int member = is_series_member(p), lone = member && p->subj.index < 0;
	int ret;

	if (!st)
		return PQ_EDB;
	sqlite3_bind_int64(st, 1, raw_id);
	pq_store_bind_text(st, 2, m->msgid);
	sqlite3_bind_int(st, 3, m->msgid_derived);
	sqlite3_bind_blob(st, 4, m->content_hash, PQ_MAIL_HASH_LEN, SQLITE_STATIC);
	pq_store_bind_text(st, 5, p->kind);
	pq_store_bind_text(st, 6, p->error);
	pq_store_bind_text(st, 7, m->subject);
	pq_store_bind_text(st, 8, p->subj.name);
	pq_store_bind_text(st, 9, p->author);
	pq_store_bind_text(st, 10, p->email);
	pq_store_bind_text(st, 11, m->from_email);
	if (m->date_valid)
		sqlite3_bind_int64(st, 12, m->date);
	pq_store_bind_text(st, 13, m->date_raw);
	pq_store_bind_text(st, 14, m->in_reply_to);
	bind_int_or_null(st, 15, p->subj.version, !!p->subj.name);
	bind_int_or_null(st, 16, lone ? 1 : p->subj.index, member);
	bind_int_or_null(st, 17, lone ? 1 : p->subj.total, member);
	pq_store_bind_text(st, 18, p->tags);
	sqlite3_bind_int(st, 19, p->subj.is_rfc);
	sqlite3_bind_int(st, 20, p->subj.is_resend);
	if (!strcmp(p->kind, "unparsable"))
		sqlite3_bind_null(st, 21);
	else if (!strcmp(p->kind, "patch"))
		pq_store_bind_text(st, 21, pq_buf_str(&p->patch.message));
	else
		pq_store_bind_text(st, 21, pq_buf_str(&m->body));
	if (p->patch.diff.len)
		pq_store_bind_text(st, 22, p->patch.diff.ptr);
	pq_store_bind_text(st, 23, p->files);
	pq_store_bind_text(st, 24, p->patch.pull_url);
	pq_store_bind_text(st, 25, p->patch.pull_branch);
	pq_store_bind_text(st, 26, p->patch.base_commit);
	pq_store_bind_text(st, 27, p->patch.change_id);
	if (series)
		sqlite3_bind_int64(st, 28, series);
	/* an unparsable mail's headers are unknown: NULL, as before 0012 */
	if (strcmp(p->kind, "unparsable")) {
		pq_store_bind_text(st, 29, m->to ? m->to : "");
		pq_store_bind_text(st, 30, m->cc ? m->cc : "");
	}
	if ((ret = pq_store_step_done(ig->store, st)) < 0)
		return ret;
	*id = pq_store_last_id(ig->store);
	return 0;
}

static int insert_refs(struct pq_ingest *ig, const struct pq_mail *m, long long id)
{
	sqlite3_stmt *st = pq_store_stmt(
		ig->store, "INSERT INTO ref (message_id, pos, msgid) VALUES (?, ?, ?)");
	size_t i;
	int ret;

	if (!st)
		return PQ_EDB;
	for (i = 0; i < m->nrefs; i++) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (long long)i);
		pq_store_bind_text(st, 3, m->refs[i]);
		if ((ret = pq_store_step_done(ig->store, st)) < 0)
			return ret;
	}
	return 0;
}

static int insert_trailers(struct pq_ingest *ig, const struct pq_trailers *t, const char *origin,
			   long long id)
{
	sqlite3_stmt *st = pq_store_stmt(
		ig->store, "INSERT INTO trailer (message_id, pos, origin, name, value, email,"
			   " extinfo) VALUES (?, ?, ?, ?, ?, ?, ?)");
	size_t i;
	int ret;

	if (!st)
		return PQ_EDB;
	for (i = 0; i < t->n; i++) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (long long)i);
		pq_store_bind_text(st, 3, origin);
		pq_store_bind_text(st, 4, t->v[i].name);
		pq_store_bind_text(st, 5, t->v[i].value);
		pq_store_bind_text(st, 6, t->v[i].email);
		pq_store_bind_text(st, 7, t->v[i].extinfo);
		if ((ret = pq_store_step_done(ig->store, st)) < 0)
			return ret;
	}
	return 0;
}

static void series_member(struct pq_series_member *m, const struct parsed *p)
{
	const struct pq_subject *s = &p->subj;

	memset(m, 0, sizeof(*m));
	m->msgid = p->mail.msgid;
	m->refs = p->mail.refs;
	m->nrefs = p->mail.nrefs;
	m->name = s->name;
	m->submitter = p->mail.from_email;
	m->submitter_name = p->mail.from_name;
	m->version = s->version;
	m->version_explicit = s->version_explicit;
	m->index = s->index < 0 ? 1 : s->index;
	m->total = s->total < 0 ? 1 : s->total;
	m->resend = s->is_resend;
	m->date = p->mail.date_valid ? p->mail.date : 0;
	m->change_id = p->patch.change_id;
}

static int store_message(struct pq_ingest *ig, const char *raw, size_t len, const char *refused,
			 const char *cursor, const unsigned char *hash)
{
	struct pq_series_member member;
	struct parsed p;
	long long existing, raw_id, id, series = 0;
	int ok, other_content, ret;

	parse(&p, raw, len, &ig->limits, refused, &ok);
	if ((ret = find_message(ig->store, &p.mail, &existing, &other_content)) < 0)
		goto out;
	if (existing) {
		ig->stats.redelivered++;
		if ((ret = insert_raw(ig, raw, len, hash, &raw_id)) == 0)
			ret = insert_delivery(ig, raw_id, existing, cursor, 1);
		goto out;
	}
	if (other_content) {
		struct pq_buf e = PQ_BUF_INIT;

		ig->stats.reused_id++;
		pq_buf_adds(&e, "Message-ID already used by a message with other content");
		if (p.error)
			pq_buf_addf(&e, "; %s", p.error);
		free(p.error);
		p.error = pq_buf_detach(&e);
	}
	if (ok && is_series_member(&p)) {
		series_member(&member, &p);
		if ((ret = pq_series_place(ig->store, &member, &series)) < 0)
			goto out;
	}
	if ((ret = insert_raw(ig, raw, len, hash, &raw_id)) < 0 ||
	    (ret = insert_message(ig, &p, raw_id, series, &id)) < 0 ||
	    (ret = insert_delivery(ig, raw_id, id, cursor, 0)) < 0)
		goto out;
	ig->stats.stored++;
	if (!ok) {
		ig->stats.unparsable++;
		goto out;
	}
	if ((ret = insert_refs(ig, &p.mail, id)) < 0)
		goto out;
	if (!strcmp(p.kind, "patch") &&
	    (ret = insert_trailers(ig, &p.patch.trailers, "commit", id)) < 0)
		goto out;
	if ((ret = insert_trailers(ig, &p.reply_trailers, "reply", id)) < 0)
		goto out;
	if (series) {
		member.message_id = id;
		ret = pq_series_join(ig->store, &member, series);
	}
out:
	parsed_free(&p);
	return ret;
}

static int raw_known(struct pq_store *s, const unsigned char *hash, int *known)
{
	sqlite3_stmt *st = pq_store_stmt(s, "SELECT 1 FROM raw WHERE hash = ?");

	if (!st)
		return PQ_EDB;
	sqlite3_bind_blob(st, 1, hash, PQ_DIGEST_LEN, SQLITE_STATIC);
	*known = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return 0;
}

static int ingest_one(struct pq_ingest *ig, const char *raw, size_t len, const char *refused,
		      const char *cursor)
{
	unsigned char hash[PQ_DIGEST_LEN];
	int known, ret;

	ig->stats.read++;
	if (!ig->pending && (ret = pq_store_begin(ig->store)) < 0)
		return ret;
	ig->pending++;
	free(ig->cursor);
	ig->cursor = cursor ? pq_strdup(cursor) : NULL;
	pq_digest(hash, raw, len);
	if ((ret = raw_known(ig->store, hash, &known)) < 0)
		goto fail;
	if (known)
		ig->stats.same_bytes++;
	else if ((ret = store_message(ig, raw, len, refused, cursor, hash)) < 0)
		goto fail;
	if (ig->pending >= ig->batch)
		return pq_ingest_flush(ig);
	return 0;
fail:
	pq_store_rollback(ig->store);
	ig->pending = 0;
	return ret;
}

int pq_ingest_message(struct pq_ingest *ig, const char *raw, size_t len, const char *cursor)
{
	return ingest_one(ig, raw, len, NULL, cursor);
}

int pq_ingest_refused(struct pq_ingest *ig, const char *raw, size_t len, const char *reason,
		      const char *cursor)
{
	return ingest_one(ig, raw, len, reason, cursor);
}
