/*
 * test_outbox: the outbox state machine (outbox.h). The replies are real:
 * a patch made with `git format-patch` on a repository the test builds,
 * applied to queues that reply, each application putting its reply in the
 * outbox. They leave through a maildir (the dry run) or through a
 * sendmail program the test writes, a shell script that keeps every call
 * (arguments and mail) and exits with the status the test chose: 0
 * (accepted), 75 (EX_TEMPFAIL: pending, retried after a minute, then two,
 * four...), 1 or 69 (refused for good: failed, never retried until
 * pq_outbox_retry). The crash points "send" and "sent" kill a child
 * delivering; what the next delivery does is checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "queue_fixture.h"

#include "apply.h"
#include "note.h"
#include "outbox.h"

/* Three queues that reply, on three branches: one patch makes three replies. */
#define QUEUES                    \
	"[queue \"next\"]\n"      \
	"\tbranch = rust-next\n"  \
	"[queue \"fixes\"]\n"     \
	"\tbranch = rust-fixes\n" \
	"[queue \"dev\"]\n"       \
	"\tbranch = rust-dev\n"   \
	"\tbase = rust\n"         \
	"\trebuild = true\n"

static struct fx_mail mail_t;
static char *sendmail, *calls; /* the script, and where it keeps its calls */

static int make_fixture(void)
{
	struct pq_buf script = PQ_BUF_INIT;
	int rc = 0;

	rc |= fx_topic("t", "base");
	fx_src_write("rust/kernel/time.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					    "//! Time.\n\n"
					    "pub const NSEC_PER_MSEC: i64 = 1_000_000;\n");
	rc |= fx_commit("rust: time: add the time module", "Drivers need time units.", NULL);
	rc |= fx_format_patch(&mail_t, NULL, "-1 t");

	sendmail = fx_path("sendmail.sh");
	calls = fx_path("calls");
	pq_buf_addf(&script,
		    "#!/bin/sh\n"
		    "# a sendmail: keeps each call's arguments and mail, exits with $dir/status\n"
		    "dir='%s'\n"
		    "n=$(( $(cat \"$dir/count\" 2>/dev/null || echo 0) + 1 ))\n"
		    "echo $n > \"$dir/count\"\n"
		    "printf '%%s\\n' \"$@\" > \"$dir/args.$n\"\n"
		    "cat > \"$dir/mail.$n\"\n"
		    "status=$(cat \"$dir/status\")\n"
		    "[ \"$status\" = 0 ] || echo \"4.0.0 the test says $status\" >&2\n"
		    "exit $status\n",
		    calls);
	fx_write(sendmail, script.ptr);
	pq_buf_free(&script);
	rc |= fx_sh(fx_root, "chmod +x '%s' && mkdir -p '%s'", sendmail, calls);
	return rc ? -1 : 0;
}

/* What the script exits with from now on; its calls so far are forgotten. */
static void sendmail_reset(int status)
{
	fx_sh(calls, "rm -f count args.* mail.* && echo %d > status", status);
}

static void sendmail_status(int status)
{
	fx_sh(calls, "echo %d > status", status);
}

/* How many times the script ran. */
static int sendmail_calls(void)
{
	char *n = fx_out(calls, "cat count 2>/dev/null || echo 0");
	int v = atoi(n);

	free(n);
	return v;
}

/* What call n of the script got: "args.N" or "mail.N", malloc'd. */
static char *sendmail_got(const char *what, int n)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s.%d", calls, what, n);
	return fx_read(path);
}

/*
 * A world whose [smtp] is smtp, with T applied to nqueues of the three
 * queues: one pending reply each. Returns 0 or -1.
 */
static int world_with_replies(struct fx_world *w, const char *name, const char *smtp, int nqueues)
{
	static const char *const queues[] = { "next", "fixes", "dev" };
	struct pq_buf conf = PQ_BUF_INIT, report = PQ_BUF_INIT;
	char *msgid;
	long long id;
	int i, rc;

	pq_buf_addf(&conf, "%s%s", QUEUES, smtp);
	rc = fx_world_open(w, name, conf.ptr);
	pq_buf_free(&conf);
	if (rc < 0)
		return -1;
	CHECK_INT(fx_ingest_mail(w->s, &mail_t, -1), 0);
	msgid = fx_msgid(mail_t.v[0]);
	id = fx_series_of(w->s, msgid);
	free(msgid);
	for (i = 0; i < nqueues; i++)
		CHECK_INT(pq_apply_series(w->s, w->c, w->repo, id, queues[i], 0, &report), 0);
	pq_buf_free(&report);
	CHECK_INT(fx_num(w->s, "SELECT count(*) FROM outbox WHERE state = ?2", 0, "pending"),
		  nqueues);
	return 0;
}

static long long reply_id(struct fx_world *w, int nth)
{
	return fx_num(w->s, "SELECT id FROM outbox ORDER BY id LIMIT 1 OFFSET ?", nth, NULL);
}

static char *reply_col_state(struct fx_world *w, long long id)
{
	return fx_text(w->s, "SELECT state FROM outbox WHERE id = ?", id, NULL);
}

static long long reply_attempts(struct fx_world *w, long long id)
{
	return fx_num(w->s, "SELECT attempts FROM outbox WHERE id = ?", id, NULL);
}

static long long reply_next(struct fx_world *w, long long id)
{
	return fx_num(w->s, "SELECT next_attempt FROM outbox WHERE id = ?", id, NULL);
}

static int send_at(struct fx_world *w, int64_t now, int force, size_t max,
		   struct pq_outbox_stats *st, struct pq_buf *report)
{
	pq_buf_reset(report);
	return pq_outbox_send(w->s, w->c, now, force, max, report, st);
}

/* ---- the dry run ---- */

static void test_maildir_dry_run(void)
{
	struct pq_buf report = PQ_BUF_INIT, path = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;
	int64_t now = (int64_t)time(NULL);
	char *md = fx_path("dry-run"), *n;
	int i;

	if (world_with_replies(&w, "maildir", "[smtp]\n\tmaildir = dry-run\n", 3) < 0) {
		CHECK(0);
		free(md);
		return;
	}
	/* at most one */
	CHECK_INT(send_at(&w, now, 0, 1, &st, &report), 0);
	CHECK_INT(st.sent, 1);
	CHECK(strstr(pq_buf_str(&report), "written to the maildir (dry run)") != NULL);
	/* then the rest */
	CHECK_INT(send_at(&w, now, 0, 0, &st, &report), 0);
	CHECK_INT(st.sent, 2);
	CHECK_INT(st.retry + st.failed + st.waiting, 0);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE state = ?2 AND sent = ?1", now,
			 "sent"),
		  3);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE attempts = ? AND error IS NULL", 1,
			 NULL),
		  3);
	/* one file per reply in new/, each the reply as stored; nothing left in tmp/ */
	n = fx_out(md, "ls new | wc -l; ls tmp | wc -l");
	CHECK_STR(n, "3\n0");
	free(n);
	for (i = 0; i < 3; i++) {
		long long id = reply_id(&w, i);
		char *stored = fx_text(w.s, "SELECT message FROM outbox WHERE id = ?", id, NULL);

		pq_buf_reset(&path);
		pq_buf_addf(&path, "%s/new/%lld.patchq-outbox-%lld", md, (long long)now, id);
		CHECK_TEXT(fx_read(path.ptr), stored);
		free(stored);
	}
	/* nothing is written twice */
	CHECK_INT(send_at(&w, now + 3600, 1, 0, &st, &report), 0);
	CHECK_INT(st.sent, 0);
	n = fx_out(md, "ls new | wc -l");
	CHECK_STR(n, "3");
	free(n);
	free(md);
	pq_buf_free(&path);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/*
 * [reply] hold = true: every reply waits for a maintainer; one released
 * goes with the next send, one held again does not; the rest stay.
 */
static void test_hold_and_release(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;
	int64_t now = (int64_t)time(NULL);
	long long first, second;
	char *state;

	if (world_with_replies(&w, "hold", "[reply]\n\thold = true\n[smtp]\n\tmaildir = held\n",
			       2) < 0) {
		CHECK(0);
		return;
	}
	first = reply_id(&w, 0);
	second = reply_id(&w, 1);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE held = ?", 1, NULL), 2);
	/* held: not sent, even when forced */
	CHECK_INT(send_at(&w, now, 1, 0, &st, &report), 0);
	CHECK_INT(st.sent, 0);
	/* released: it goes; the other stays */
	CHECK_INT(pq_outbox_hold(w.s, first, 0), 0);
	CHECK_INT(pq_outbox_hold(w.s, first, 0), PQ_ENOTFOUND);
	CHECK_INT(send_at(&w, now, 0, 0, &st, &report), 0);
	CHECK_INT(st.sent, 1);
	state = reply_col_state(&w, first);
	CHECK_STR(state, "sent");
	free(state);
	state = reply_col_state(&w, second);
	CHECK_STR(state, "pending");
	free(state);
	/* a sent reply cannot be held; a released one can be held again */
	CHECK_INT(pq_outbox_hold(w.s, first, 1), PQ_ENOTFOUND);
	CHECK_INT(pq_outbox_hold(w.s, second, 0), 0);
	CHECK_INT(pq_outbox_hold(w.s, second, 1), 0);
	CHECK_INT(send_at(&w, now, 1, 0, &st, &report), 0);
	CHECK_INT(st.sent, 0);
	/* the listing says which wait */
	pq_buf_reset(&report);
	CHECK_INT(pq_outbox_list(w.s, NULL, &report, 1, NULL), 0);
	CHECK(strstr(pq_buf_str(&report), "\"held\": true") != NULL);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* Without [smtp] the replies stay where they are. */
static void test_no_smtp_section(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;

	if (world_with_replies(&w, "nosmtp", "", 1) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(send_at(&w, (int64_t)time(NULL), 1, 0, &st, &report), PQ_EINVAL);
	CHECK(strstr(pq_error_last(), "[smtp]") != NULL);
	CHECK_TEXT(reply_col_state(&w, reply_id(&w, 0)), "pending");
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* ---- sendmail ---- */

static void test_sendmail_accepts(void)
{
	struct pq_buf report = PQ_BUF_INIT, want = PQ_BUF_INIT, conf = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;
	long long id;
	char *recipients, *msg, *p;

	pq_buf_addf(&conf, "[smtp]\n\tsendmail = %s\n", sendmail);
	if (world_with_replies(&w, "accept", conf.ptr, 1) < 0) {
		CHECK(0);
		pq_buf_free(&conf);
		return;
	}
	sendmail_reset(0);
	id = reply_id(&w, 0);
	CHECK_INT(send_at(&w, 1000, 0, 0, &st, &report), 0);
	CHECK_INT(st.sent, 1);
	CHECK_INT(sendmail_calls(), 1);
	CHECK_TEXT(reply_col_state(&w, id), "sent");
	/* sendmail -i -f SENDER -- RECIPIENTS..., the mail on its input as stored */
	recipients = fx_text(w.s, "SELECT recipients FROM outbox WHERE id = ?", id, NULL);
	pq_buf_addf(&want, "-i\n-f\nmaint@example.org\n--\n%s", recipients ? recipients : "?");
	CHECK_TEXT(sendmail_got("args", 1), want.ptr);
	CHECK(recipients && strstr(recipients, "alice@example.org\n") != NULL);
	msg = fx_text(w.s, "SELECT message FROM outbox WHERE id = ?", id, NULL);
	p = sendmail_got("mail", 1);
	CHECK_STR(p, msg);
	free(p);
	free(msg);
	free(recipients);
	pq_buf_free(&want);
	pq_buf_free(&conf);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* Exit status 75: pending, tried again after 60 s, then 120, 240... at most six hours. */
static void test_sendmail_temporary_failure_backs_off(void)
{
	struct pq_buf report = PQ_BUF_INIT, conf = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;
	int64_t now = 1800000000, wait = 60;
	long long id;
	char *err;
	int k;

	pq_buf_addf(&conf, "[smtp]\n\tsendmail = %s\n", sendmail);
	if (world_with_replies(&w, "temporary", conf.ptr, 1) < 0) {
		CHECK(0);
		pq_buf_free(&conf);
		return;
	}
	sendmail_reset(75);
	id = reply_id(&w, 0);
	CHECK_INT(send_at(&w, now, 0, 0, &st, &report), 0);
	CHECK_INT(st.retry, 1);
	CHECK_INT(st.sent + st.failed, 0);
	CHECK_INT(st.waiting, 1);
	CHECK(strstr(pq_buf_str(&report), "will retry") != NULL);
	CHECK_TEXT(reply_col_state(&w, id), "pending");
	CHECK_INT(reply_attempts(&w, id), 1);
	CHECK_INT(reply_next(&w, id), now + 60);
	err = fx_text(w.s, "SELECT error FROM outbox WHERE id = ?", id, NULL);
	CHECK(err && strstr(err, "exited with status 75") && strstr(err, "the test says 75"));
	free(err);

	/* not due a second early: left alone, not run */
	CHECK_INT(send_at(&w, now + 59, 0, 0, &st, &report), 0);
	CHECK_INT(st.sent + st.retry + st.failed, 0);
	CHECK_INT(st.waiting, 1);
	CHECK_INT(sendmail_calls(), 1);
	CHECK_INT(reply_attempts(&w, id), 1);

	/* due: tried, and the wait doubles each time, up to the cap (60 s << 9 > 6 h) */
	now += 60;
	for (k = 1; k < 10; k++) {
		wait *= 2;
		CHECK_INT(send_at(&w, now, 0, 0, &st, &report), 0);
		CHECK_INT(st.retry, 1);
		CHECK_INT(reply_attempts(&w, id), k + 1);
		CHECK_INT(reply_next(&w, id), now + (wait < 6 * 3600 ? wait : 6 * 3600));
		now = reply_next(&w, id);
	}
	CHECK_INT(sendmail_calls(), 10);

	/* the server takes it at last */
	sendmail_status(0);
	CHECK_INT(send_at(&w, now, 0, 0, &st, &report), 0);
	CHECK_INT(st.sent, 1);
	CHECK_TEXT(reply_col_state(&w, id), "sent");
	CHECK_INT(reply_attempts(&w, id), 11);
	CHECK_TEXT(fx_text(w.s, "SELECT error FROM outbox WHERE id = ?", id, NULL), NULL);
	CHECK_INT(fx_num(w.s, "SELECT sent FROM outbox WHERE id = ?", id, NULL), now);
	pq_buf_free(&conf);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* Exit status 1 or 69: failed, never tried again until pq_outbox_retry(). */
static void test_sendmail_permanent_failure_until_retry(void)
{
	struct pq_buf report = PQ_BUF_INIT, conf = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;
	int64_t now = 1800000000;
	long long r1, r2, r3;
	char *err;

	pq_buf_addf(&conf, "[smtp]\n\tsendmail = %s\n", sendmail);
	if (world_with_replies(&w, "permanent", conf.ptr, 3) < 0) {
		CHECK(0);
		pq_buf_free(&conf);
		return;
	}
	r1 = reply_id(&w, 0);
	r2 = reply_id(&w, 1);
	r3 = reply_id(&w, 2);
	sendmail_reset(1);
	CHECK_INT(send_at(&w, now, 0, 1, &st, &report), 0);
	CHECK_INT(st.failed, 1);
	CHECK(strstr(pq_buf_str(&report), "refused for good") != NULL);
	sendmail_status(69);
	CHECK_INT(send_at(&w, now, 0, 1, &st, &report), 0);
	CHECK_INT(st.failed, 1);
	CHECK_INT(st.retry + st.sent, 0);
	CHECK_TEXT(reply_col_state(&w, r1), "failed");
	CHECK_TEXT(reply_col_state(&w, r2), "failed");
	CHECK_INT(reply_attempts(&w, r1), 1);
	CHECK_INT(reply_next(&w, r1), 0);
	err = fx_text(w.s, "SELECT error FROM outbox WHERE id = ?", r1, NULL);
	CHECK(err && strstr(err, "exited with status 1:"));
	free(err);
	err = fx_text(w.s, "SELECT error FROM outbox WHERE id = ?", r2, NULL);
	CHECK(err && strstr(err, "exited with status 69:"));
	free(err);
	/* the list shows them with the server's words */
	pq_buf_reset(&report);
	CHECK_INT(pq_outbox_list(w.s, NULL, &report, 0, NULL), 0);
	CHECK_INT(fx_count_str(pq_buf_str(&report), " failed "), 2);
	CHECK(strstr(pq_buf_str(&report), "the test says 69") != NULL);

	/* never again, however late, even forced: only the third is tried */
	sendmail_status(0);
	CHECK_INT(send_at(&w, now + 30 * 86400, 1, 0, &st, &report), 0);
	CHECK_INT(st.sent, 1);
	CHECK_INT(sendmail_calls(), 3);
	CHECK_TEXT(reply_col_state(&w, r3), "sent");
	CHECK_TEXT(reply_col_state(&w, r1), "failed");
	CHECK_INT(send_at(&w, now + 60 * 86400, 1, 0, &st, &report), 0);
	CHECK_INT(st.sent + st.retry + st.failed, 0);
	CHECK_INT(sendmail_calls(), 3);

	/* its cause fixed, retry makes it pending and due at once */
	CHECK_INT(pq_outbox_retry(w.s, r1), 0);
	CHECK_TEXT(reply_col_state(&w, r1), "pending");
	CHECK_INT(reply_next(&w, r1), 0);
	CHECK_INT(pq_outbox_retry(w.s, r1), PQ_ENOTFOUND); /* not failed any more */
	CHECK_INT(pq_outbox_retry(w.s, r3), PQ_ENOTFOUND); /* sent */
	CHECK_INT(pq_outbox_retry(w.s, 9999), PQ_ENOTFOUND);
	CHECK_INT(send_at(&w, now, 0, 0, &st, &report), 0);
	CHECK_INT(st.sent, 1);
	CHECK_INT(sendmail_calls(), 4);
	CHECK_TEXT(reply_col_state(&w, r1), "sent");
	CHECK_INT(reply_attempts(&w, r1), 2);
	CHECK_TEXT(reply_col_state(&w, r2), "failed");
	pq_buf_free(&conf);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* ---- crashes ---- */

static void send_in_child(struct fx_world *w, void *arg)
{
	struct pq_buf report = PQ_BUF_INIT;
	struct pq_outbox_stats st;

	pq_outbox_send(w->s, w->c, *(const int64_t *)arg, 0, 0, &report, &st);
	pq_buf_free(&report);
}

static void test_crash_points(void)
{
	struct pq_buf report = PQ_BUF_INIT, conf = PQ_BUF_INIT, want = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;
	int64_t now = 1800000000;
	long long id;
	char *msgid, *m1, *m2;

	pq_buf_addf(&conf, "[smtp]\n\tsendmail = %s\n", sendmail);
	if (world_with_replies(&w, "crash", conf.ptr, 1) < 0) {
		CHECK(0);
		pq_buf_free(&conf);
		return;
	}
	sendmail_reset(0);
	id = reply_id(&w, 0);

	/* killed before the hand-over: nothing left, nothing recorded */
	CHECK(fx_killed_at(&w, "send", send_in_child, &now));
	CHECK_INT(sendmail_calls(), 0);
	CHECK_TEXT(reply_col_state(&w, id), "pending");
	CHECK_INT(reply_attempts(&w, id), 0);

	/* killed after the server took it, before it was marked: sent once more */
	CHECK(fx_killed_at(&w, "sent", send_in_child, &now));
	CHECK_INT(sendmail_calls(), 1);
	CHECK_TEXT(reply_col_state(&w, id), "pending");
	CHECK_INT(reply_attempts(&w, id), 0);
	CHECK_INT(send_at(&w, now, 0, 0, &st, &report), 0);
	CHECK_INT(st.sent, 1);
	CHECK_INT(sendmail_calls(), 2);
	CHECK_TEXT(reply_col_state(&w, id), "sent");
	CHECK_INT(reply_attempts(&w, id), 1);
	/* the same mail both times, with the same Message-ID, so lists drop the second */
	msgid = fx_text(w.s, "SELECT msgid FROM outbox WHERE id = ?", id, NULL);
	m1 = sendmail_got("mail", 1);
	m2 = sendmail_got("mail", 2);
	CHECK(m1 && m2 && !strcmp(m1, m2));
	pq_buf_addf(&want, "\nMessage-ID: <%s>\n", msgid ? msgid : "?");
	CHECK(m1 && strstr(m1, want.ptr) != NULL);
	CHECK_INT(fx_count_str(m1, "Message-ID: "), 1);
	free(m1);
	free(m2);
	free(msgid);
	/* and only once more */
	CHECK_INT(send_at(&w, now + 86400, 1, 0, &st, &report), 0);
	CHECK_INT(st.sent, 0);
	CHECK_INT(sendmail_calls(), 2);
	pq_buf_free(&want);
	pq_buf_free(&conf);
	pq_buf_free(&report);
	fx_world_close(&w);
}

/* ---- a maintainer's edit, a withdrawal, the notes' syntax ---- */

/* text with the first occurrence of from replaced by to (caller frees). */
static char *replaced(const char *text, const char *from, const char *to)
{
	struct pq_buf b = PQ_BUF_INIT;
	const char *at = strstr(text, from);

	if (!at)
		return NULL;
	pq_buf_add(&b, text, (size_t)(at - text));
	pq_buf_adds(&b, to);
	pq_buf_adds(&b, at + strlen(from));
	return pq_buf_detach(&b);
}

/*
 * The desk's edit of reply id (its Subject already encoded words): split
 * into the form's pieces, given back unchanged it changes nothing; a
 * Subject of two lines is refused; a new Subject and body change those
 * and no other field.
 */
static void edit_in_parts(struct fx_world *w, long long id, long long series)
{
	struct pq_buf text = PQ_BUF_INIT;
	struct pq_outbox_parts before, after;
	int changed = 1;

	CHECK_INT(pq_outbox_text(w->s, id, &text), 0);
	CHECK_INT(pq_outbox_split(pq_buf_str(&text), &before), 0);
	CHECK(!strncmp(before.subject, "Grüße, Re: ", strlen("Grüße, Re: ")));
	CHECK(!strncmp(before.fields, "From: ", 6) && strstr(before.fields, "\nTo: ") &&
	      !strcasestr(before.fields, "Subject:"));
	CHECK(strstr(before.body, "Danke schön, best regards") && before.body[0] != '\n');
	CHECK_INT(pq_outbox_edit_parts(w->s, id, before.subject, before.body, "Desk", 8, &changed),
		  0);
	CHECK_INT(changed, 0);
	CHECK_INT(pq_outbox_edit_parts(w->s, id, "one\nBcc: eve@example.com", before.body, "Desk",
				       8, &changed),
		  PQ_EINVAL);
	CHECK(strstr(pq_error_last(), "one line") != NULL);
	CHECK_INT(pq_outbox_edit_parts(w->s, id, "Re: edited", "New body.\n", "Desk", 8, &changed),
		  0);
	CHECK_INT(changed, 1);
	pq_buf_reset(&text);
	CHECK_INT(pq_outbox_text(w->s, id, &text), 0);
	CHECK_INT(pq_outbox_split(pq_buf_str(&text), &after), 0);
	CHECK_STR(after.fields, before.fields);
	CHECK_STR(after.subject, "Re: edited");
	CHECK_STR(after.body, "New body.\n");
	CHECK_INT(fx_num(w->s, "SELECT count(*) FROM action WHERE what = ?2 AND who = 'Desk'",
			 series, "edit reply"),
		  1);
	pq_outbox_parts_free(&before);
	pq_outbox_parts_free(&after);
	pq_buf_free(&text);
}

static void test_edit_and_withdraw(void)
{
	struct pq_buf text = PQ_BUF_INIT, report = PQ_BUF_INIT;
	struct pq_outbox_stats st;
	struct fx_world w;
	long long id, series;
	char *edited, *stored, *bad, *state;
	int changed;
	size_t n;
	static const struct {
		const char *from, *to, *why;
	} refused[] = {
		{ "\nTo: ", "\nTo: Eve <eve@example.com>, ", "a recipient added" },
		{ "\nSubject: ", "\nBcc: eve@example.com\nSubject: ", "a field added" },
		{ "\nIn-Reply-To: <", "\nIn-Reply-To: <x", "the thread changed" },
		{ "\nSubject: ", "\nSubject: one\nSubject: ", "two Subjects" },
		{ "\nSubject: ", "\nX-Subject: ", "no Subject" },
		{ "\nSubject: ", "\nSubject: a\r", "a CR" },
		{ "Best regards", "Best \x1b[2J regards", "an escape sequence" },
		{ "Best regards", "Best \xff regards", "invalid UTF-8" },
		{ "\nSubject: ", "\nnot a field\nSubject: ", "a line that is no field" },
	};

	if (world_with_replies(&w, "edit", "[smtp]\n\tmaildir = edited\n", 1) < 0) {
		CHECK(0);
		return;
	}
	id = reply_id(&w, 0);
	series = fx_num(w.s, "SELECT series_id FROM outbox WHERE id = ?", id, NULL);
	CHECK_INT(pq_outbox_text(w.s, id, &text), 0);
	CHECK(strstr(pq_buf_str(&text), "\nSubject: Re: ") != NULL);
	for (n = 0; n < sizeof(refused) / sizeof(refused[0]); n++) {
		bad = replaced(pq_buf_str(&text), refused[n].from, refused[n].to);
		CHECK(bad != NULL);
		if (!bad)
			continue;
		if (pq_outbox_edit(w.s, id, bad, "Test", 1, &changed) != PQ_EINVAL || changed)
			fprintf(stderr, "edit with %s: not refused\n", refused[n].why);
		CHECK_INT(pq_outbox_edit(w.s, id, bad, "Test", 1, &changed), PQ_EINVAL);
		free(bad);
	}
	stored = fx_text(w.s, "SELECT message FROM outbox WHERE id = ?", id, NULL);
	CHECK_STR(stored, pq_buf_str(&text));
	free(stored);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM action WHERE what = ?2", 0, "edit reply"), 0);
	/* unchanged: nothing done */
	CHECK_INT(pq_outbox_edit(w.s, id, pq_buf_str(&text), "Test", 1, &changed), 0);
	CHECK_INT(changed, 0);
	/* a Subject that is not ASCII is written as encoded words; the body as typed */
	bad = replaced(pq_buf_str(&text), "\nSubject: ", "\nSubject: Grüße, ");
	edited = bad ? replaced(bad, "Best regards", "Danke schön, best regards") : NULL;
	free(bad);
	CHECK(edited != NULL);
	CHECK_INT(pq_outbox_edit(w.s, id, edited ? edited : "", "Test", 7, &changed), 0);
	CHECK_INT(changed, 1);
	stored = fx_text(w.s, "SELECT message FROM outbox WHERE id = ?", id, NULL);
	CHECK(stored && strstr(stored, "\nSubject: =?UTF-8?B?") &&
	      strstr(stored, "Danke schön, best regards") && !strstr(stored, "Grüße"));
	free(stored);
	free(edited);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM action WHERE what = ?2 AND series_id = ?1",
			 series, "edit reply"),
		  1);
	edit_in_parts(&w, id, series);

	/* withdrawn: never sent, no longer edited */
	CHECK_INT(pq_store_begin(w.s), 0);
	CHECK_INT(pq_outbox_withdraw(w.s, series, NULL, &n), 0);
	CHECK_INT(pq_store_commit(w.s), 0);
	CHECK_INT((long long)n, 1);
	state = reply_col_state(&w, id);
	CHECK_STR(state, "withdrawn");
	free(state);
	CHECK_INT(pq_outbox_edit(w.s, id, pq_buf_str(&text), "Test", 1, &changed), PQ_EPERM);
	CHECK_INT(pq_outbox_hold(w.s, id, 0), PQ_ENOTFOUND);
	CHECK_INT(send_at(&w, (int64_t)time(NULL), 1, 0, &st, &report), 0);
	CHECK_INT(st.sent, 0);
	pq_buf_free(&text);
	pq_buf_free(&report);
	fx_world_close(&w);
}

static void test_note_syntax(void)
{
	struct pq_note nt;

	CHECK_INT(pq_note_parse("2:[ Reworded the title. - Miguel ]", &nt), 0);
	CHECK_INT(nt.idx, 2);
	CHECK_STR(nt.text, "[ Reworded the title. - Miguel ]");
	free(nt.text);
	CHECK_INT(pq_note_parse("  [ Applied with a fixup. ]\n", &nt), 0);
	CHECK_INT(nt.idx, 0);
	CHECK_STR(nt.text, "[ Applied with a fixup. ]");
	free(nt.text);
	CHECK_INT(pq_note_parse("12:[ a ]\n[ b ]", &nt), 0);
	CHECK_INT(nt.idx, 12);
	free(nt.text);
	/* "rust: x" has no number: the series' note */
	CHECK_INT(pq_note_parse("rust: x", &nt), 0);
	CHECK_INT(nt.idx, 0);
	free(nt.text);
	CHECK_INT(pq_note_parse("0:x", &nt), PQ_EINVAL);
	CHECK_INT(pq_note_parse("2:   ", &nt), PQ_EINVAL);
	CHECK_INT(pq_note_parse("[ a ]\n\n[ b ]", &nt), PQ_EINVAL);
	CHECK_INT(pq_note_parse("[ a \x1b[2J ]", &nt), PQ_EINVAL);
	CHECK_INT(pq_note_parse("[ a \r ]", &nt), PQ_EINVAL);
}

int main(void)
{
	int ready;

	if (fx_init("outbox") < 0)
		return 1;
	ready = fx_src_init() == 0 && make_fixture() == 0;
	CHECK(ready);
	if (ready) {
		test_maildir_dry_run();
		test_hold_and_release();
		test_edit_and_withdraw();
		test_note_syntax();
		test_no_smtp_section();
		test_sendmail_accepts();
		test_sendmail_temporary_failure_backs_off();
		test_sendmail_permanent_failure_until_retry();
		test_crash_points();
	}
	fx_mail_free(&mail_t);
	free(sendmail);
	free(calls);
	fx_cleanup();
	CHECK_DONE();
}
