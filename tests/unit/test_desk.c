/*
 * test_desk: the desk's answers, asked directly (no sockets): the pages
 * and their JSON twins for a world with real mail and a real queue
 * repository; a hostile subject and name shown as text; 404 and 405 as
 * the protocol says; ETags; the actions refused without a token (401) or,
 * with the login cookie, without the form's CSRF value (403), and done
 * and recorded with them. The cache of readers' pages: a page kept while
 * the database is unchanged and a moment after, never for a reader with
 * credentials, 304 from a kept page, and nothing over its bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>

#include "check.h"
#include "queue_fixture.h"

#include "desk.h"
#include "elsewhere.h"
#include "deskcache.h"
#include "html.h"
#include "outbox.h"
#include "token.h"
#include "triage.h"

#define CONF                       \
	"[queue \"rust-next\"]\n"  \
	"\tbranch = rust-next\n"   \
	"[rule \"next\"]\n"        \
	"\tqueue = rust-next\n"    \
	"\ttag = rust-next\n"      \
	"[elsewhere \"kbuild\"]\n" \
	"\tfrom = kb@kernel.org\n"

#define HOSTILE "<script>alert(1)</script>"

static struct fx_mail mail_h, mail_h2;
static struct fx_world w;

static int make_mail(void)
{
	int rc = fx_topic("h", "base");

	fx_src_write("rust/kernel/str.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! String helpers.\n\n"
					   "pub fn len(s: &str) -> usize {\n    s.len()\n}\n"
					   "// a < b && c > d\n");
	rc |= fx_commit("rust: str: " HOSTILE, "Quotes \" and ' and <b>bold</b>.", NULL);
	rc |= fx_format_patch(&mail_h, NULL, "--subject-prefix='PATCH rust-next' -1 h");
	/* v2: the comment changed */
	rc |= fx_topic("h2", "base");
	fx_src_write("rust/kernel/str.rs", "// SPDX-License-Identifier: GPL-2.0\n\n"
					   "//! String helpers.\n\n"
					   "pub fn len(s: &str) -> usize {\n    s.len()\n}\n"
					   "// a <= b\n");
	rc |= fx_commit("rust: str: " HOSTILE, "Quotes \" and ' and <b>bold</b>.", NULL);
	rc |= fx_format_patch(&mail_h2, NULL, "-v2 --subject-prefix='PATCH rust-next' -1 h2");
	return rc;
}

/* Asks the desk; the response is the caller's to free. */
static void ask(const char *method, const char *path, const char *query, const char *body,
		const char *auth, const char *cookie, const char *inm, struct pq_desk_response *rs)
{
	struct pq_desk_env env = { w.s, w.c, w.repo, 1795000000 };
	struct pq_desk_request rq = {
		.method = method,
		.path = path,
		.query = query,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.authorization = auth,
		.cookie = cookie,
		.if_none_match = inm,
	};

	CHECK_INT(pq_desk_handle(&env, &rq, rs), 0);
}

static const char *header_of(const struct pq_desk_response *rs, const char *name)
{
	static char value[512];
	const char *p = strstr(pq_buf_str(&rs->headers), name), *nl;

	if (!p)
		return NULL;
	p += strlen(name) + 2;
	nl = strchr(p, '\n');
	snprintf(value, sizeof(value), "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
	return value;
}

static int status_of(const char *method, const char *path)
{
	struct pq_desk_response rs;
	int st;

	ask(method, path, NULL, NULL, NULL, NULL, NULL, &rs);
	st = rs.status;
	pq_desk_response_free(&rs);
	return st;
}

static void test_pages(long long id)
{
	struct pq_desk_response rs;
	struct pq_buf path = PQ_BUF_INIT;
	const char *body;
	char *msgid = fx_msgid(mail_h.v[0]);

	/* the to-do: the series waits for approval on rust-next, its subject escaped */
	ask("GET", "/", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "/queues/rust-next") != NULL);
	pq_buf_addf(&path, "/series/%lld", id);
	CHECK(strstr(pq_buf_str(&rs.body), path.ptr) != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), HOSTILE) == NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "/feeds/queues/rust-next.atom") != NULL);
	pq_desk_response_free(&rs);
	ask("GET", "/api/todo", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "\"queues\"") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "\"waiting\"") != NULL);
	pq_desk_response_free(&rs);

	/* the series list with its filters; a page of the API and its next URL */
	ask("GET", "/series", "queue=rust-next&state=queued&search=str", NULL, NULL, NULL, NULL,
	    &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), path.ptr) != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "&lt;script&gt;") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), HOSTILE) == NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "<option selected>rust-next</option>") != NULL);
	pq_desk_response_free(&rs);
	ask("GET", "/series", "search=no-such-thing", NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), path.ptr) == NULL);
	pq_desk_response_free(&rs);
	ask("GET", "/api/series", "limit=1", NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(!strncmp(pq_buf_str(&rs.body), "{", 1) && strstr(pq_buf_str(&rs.body), "\"items\""));
	CHECK(strstr(pq_buf_str(&rs.body), "\"next\": null") != NULL);
	pq_desk_response_free(&rs);
	ask("GET", "/series", "limit=0", NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 400);
	pq_desk_response_free(&rs);
	ask("GET", "/api/series", "state=nonsense", NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 400);
	CHECK(strstr(pq_buf_str(&rs.body), "\"error\"") != NULL);
	pq_desk_response_free(&rs);
	ask("GET", "/series", "since=2026-13-45", NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 400);
	pq_desk_response_free(&rs);
	ask("GET", "/series", "search=%zz", NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 400);
	pq_desk_response_free(&rs);
	pq_buf_reset(&path);

	pq_buf_addf(&path, "/series/%lld", id);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	body = pq_buf_str(&rs.body);
	CHECK_INT(rs.status, 200);
	CHECK_STR(rs.content_type, "text/html; charset=utf-8");
	/* the hostile subject is text, never markup, in the title and the headings */
	CHECK(strstr(body, HOSTILE) == NULL);
	CHECK(strstr(body, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
	CHECK(strstr(body, "<b>bold</b>") == NULL);
	CHECK(strstr(body, "&lt;b&gt;bold&lt;/b&gt;") != NULL);
	/* the diff, coloured by line type, its own "<" escaped */
	CHECK(strstr(body, "<span class=\"add\">+// a &lt; b &amp;&amp; c &gt; d</span>") != NULL);
	CHECK(strstr(body, "<span class=\"hunk\">@@ ") != NULL);
	/* the queue it waits on, with the dry run, and why */
	CHECK(strstr(body, "<a href=\"/queues/rust-next\">rust-next</a>") != NULL);
	CHECK(strstr(body, "applies on") != NULL);
	CHECK(strstr(body, "<h2>Why</h2>") != NULL);
	/* the archive link from the configured template, the Message-ID %-encoded */
	CHECK(strstr(body, "https://lore.example.org/r/") != NULL);
	/* read-only without a token: no forms */
	CHECK(strstr(body, "<form") == NULL);
	pq_desk_response_free(&rs);

	/* the same as JSON, as `patchq --json show` prints it */
	pq_buf_reset(&path);
	pq_buf_addf(&path, "/api/series/%lld", id);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK_STR(rs.content_type, "application/json");
	CHECK(strstr(pq_buf_str(&rs.body), "\"rust: str: " HOSTILE "\"") != NULL);
	pq_desk_response_free(&rs);

	ask("GET", "/queues/rust-next", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "Waiting or failed") != NULL);
	pq_desk_response_free(&rs);
	ask("GET", "/api/queues/rust-next", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(!strncmp(pq_buf_str(&rs.body), "{\"items\": [", 11));
	CHECK(strstr(pq_buf_str(&rs.body), "\"next\": null}") != NULL);
	pq_desk_response_free(&rs);

	/* the queue's Atom feed: the series, its subject escaped */
	ask("GET", "/feeds/queues/rust-next.atom", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK_STR(rs.content_type, "application/atom+xml");
	CHECK(strstr(pq_buf_str(&rs.body), "<feed xmlns=\"http://www.w3.org/2005/Atom\">") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "&lt;script&gt;alert(1)&lt;/script&gt; (v1): queued") !=
	      NULL);
	CHECK(strstr(pq_buf_str(&rs.body), HOSTILE) == NULL);
	pq_desk_response_free(&rs);
	ask("GET", "/feeds/todo.atom", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "<id>urn:patchq:todo:rust-next:waiting:") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "rust-next: waiting for approval: rust: str: "
					   "&lt;script&gt;") != NULL);
	pq_desk_response_free(&rs);
	CHECK_INT(status_of("GET", "/feeds/queues/nowhere.atom"), 404);
	CHECK_INT(status_of("GET", "/feeds/queues/rust-next"), 404);

	/* a message by its Message-ID, %-encoded in the path, and raw */
	pq_buf_reset(&path);
	pq_buf_adds(&path, "/messages/");
	pq_html_url(&path, msgid);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), HOSTILE) == NULL);
	pq_desk_response_free(&rs);
	pq_buf_adds(&path, "/raw");
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK_STR(rs.content_type, "text/plain; charset=utf-8");
	CHECK(strcasestr(pq_buf_str(&rs.body), "Message-ID: <") != NULL);
	pq_desk_response_free(&rs);

	/* ETag: the same page again, named by its tag, is 304 without a body */
	ask("GET", "/outbox", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	{
		char *tag = pq_strdup(header_of(&rs, "ETag"));
		struct pq_desk_response again;

		CHECK(tag[0] == '"');
		ask("GET", "/outbox", NULL, NULL, NULL, NULL, tag, &again);
		CHECK_INT(again.status, 304);
		CHECK_INT(again.body.len, 0);
		pq_desk_response_free(&again);
		free(tag);
	}
	pq_desk_response_free(&rs);

	/* the protocol's answers */
	CHECK_INT(status_of("GET", "/nowhere"), 404);
	CHECK_INT(status_of("GET", "/series/0"), 404);
	CHECK_INT(status_of("GET", "/series/12abc"), 404);
	CHECK_INT(status_of("GET", "/series/999999"), 404);
	CHECK_INT(status_of("GET", "/queues/no-such-queue"), 404);
	CHECK_INT(status_of("GET", "/messages/%2e%2e/raw/x"), 404);
	CHECK_INT(status_of("GET", "/messages/nobody%40example.org"), 404);
	CHECK_INT(status_of("GET", "/series/%zz"), 404);
	CHECK_INT(status_of("GET", "/a/b/c/d/e/f"), 404);
	CHECK_INT(status_of("DELETE", "/"), 405);
	CHECK_INT(status_of("PUT", "/series/1"), 405);
	CHECK_INT(status_of("POST", "/outbox"), 405);
	CHECK_INT(status_of("POST", "/series/1/nothing"), 404);
	CHECK_INT(status_of("GET", "no-slash"), 400);
	CHECK_INT(status_of("HEAD", "/desk.css"), 200);
	pq_buf_free(&path);
	free(msgid);
}

/* POST path with the form fields (values %-encoded here) as a browser sends them. */
static void post_form(const char *path, const char *csrf, const char *subject, const char *body,
		      const char *auth, const char *cookie, struct pq_desk_response *rs)
{
	struct pq_buf f = PQ_BUF_INIT;

	if (csrf)
		pq_buf_addf(&f, "csrf=%s&", csrf);
	if (subject) {
		pq_buf_adds(&f, "subject=");
		pq_html_url(&f, subject);
		pq_buf_addc(&f, '&');
	}
	if (body) {
		pq_buf_adds(&f, "body=");
		pq_html_url(&f, body);
	}
	ask("POST", path, NULL, pq_buf_str(&f), auth, cookie, NULL, rs);
	pq_buf_free(&f);
}

/* Sets reply's held and state, as a send or a hold would. */
static void set_reply(long long reply, int held, const char *state)
{
	sqlite3_stmt *st = pq_store_stmt(w.s, "UPDATE outbox SET held = ?, state = ? WHERE id = ?");

	CHECK(st != NULL);
	if (!st)
		return;
	sqlite3_bind_int(st, 1, held);
	pq_store_bind_text(st, 2, state);
	sqlite3_bind_int64(st, 3, reply);
	CHECK_INT(pq_store_step_done(w.s, st), 0);
}

static char *stored_reply(long long reply)
{
	return fx_text(w.s, "SELECT message FROM outbox WHERE id = ?", reply, NULL);
}

/* POST path is refused with status, its error saying what, and reply's mail stays before. */
static void edit_refused(const char *path, const char *csrf, const char *subject, const char *body,
			 const char *auth, const char *cookie, int status, const char *what,
			 long long reply, const char *before)
{
	struct pq_desk_response rs;
	char *after;

	post_form(path, csrf, subject, body, auth, cookie, &rs);
	if (rs.status != status || !strstr(pq_buf_str(&rs.body), what))
		fprintf(stderr, "edit %s: %d, wanted %d with \"%s\":\n%s\n", path, rs.status,
			status, what, pq_buf_str(&rs.body));
	CHECK_INT(rs.status, status);
	CHECK(strstr(pq_buf_str(&rs.body), what) != NULL);
	pq_desk_response_free(&rs);
	after = stored_reply(reply);
	CHECK_STR(after, before);
	free(after);
}

/*
 * The reply's edit on the desk: the form only for a maintainer and an
 * unsent reply, filled in and escaped; through it (the cookie and the
 * CSRF value, or the API's Bearer token) the Subject and the body change
 * and no other field, CRLF stored as LF, recorded; every refusal changes
 * nothing and says why.
 */
static void test_reply_edit(long long reply, const char *token, const char *csrf,
			    const char *cookie)
{
	struct pq_desk_response rs;
	struct pq_buf page = PQ_BUF_INIT, path = PQ_BUF_INIT, api = PQ_BUF_INIT, auth = PQ_BUF_INIT,
		      big = PQ_BUF_INIT;
	struct pq_outbox_parts before, after;
	char *text, *now;
	const char *b;
	size_t i;

	pq_buf_addf(&page, "/outbox/%lld", reply);
	pq_buf_addf(&path, "/outbox/%lld/edit", reply);
	pq_buf_addf(&api, "/api/outbox/%lld/edit", reply);
	pq_buf_addf(&auth, "Bearer %s", token);
	text = stored_reply(reply);
	CHECK_INT(pq_outbox_split(text ? text : "", &before), 0);

	/* a reader sees no form; a maintainer the Subject and body filled in, escaped */
	ask("GET", page.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body), "<textarea") == NULL);
	CHECK(strstr(pq_buf_str(&rs.body), path.ptr) == NULL);
	pq_desk_response_free(&rs);
	ask("GET", page.ptr, NULL, NULL, NULL, cookie, NULL, &rs);
	b = pq_buf_str(&rs.body);
	CHECK(strstr(b, "<form class=\"edit\" method=\"post\" action=\"/outbox/") != NULL);
	CHECK(strstr(b, path.ptr) != NULL && strstr(b, csrf) != NULL);
	CHECK(strstr(b, "<input name=\"subject\" size=\"72\" required value=\"Re: [PATCH "
			"rust-next] rust: str: &lt;script&gt;alert(1)&lt;/script&gt;\">") != NULL);
	CHECK(strstr(b, "<textarea name=\"body\"") != NULL);
	CHECK(strstr(b, HOSTILE) == NULL);
	pq_desk_response_free(&rs);

	/* without a token, without the CSRF value: refused, nothing changed */
	edit_refused(path.ptr, NULL, "Re: x", "y\n", NULL, NULL, 401, "Log in", reply, text);
	edit_refused(path.ptr, NULL, "Re: x", "y\n", NULL, cookie, 403, "CSRF", reply, text);
	edit_refused(path.ptr, "0000", "Re: x", "y\n", NULL, cookie, 403, "CSRF", reply, text);
	/* what the library refuses: its words, 400, nothing changed */
	edit_refused(path.ptr, csrf, "Re: x\nBcc: eve@example.com", "y\n", NULL, cookie, 400,
		     "one line", reply, text);
	edit_refused(path.ptr, csrf, "Re: x\r\nBcc: eve@example.com", "y\n", NULL, cookie, 400,
		     "one line", reply, text);
	edit_refused(path.ptr, csrf, " ", "y\n", NULL, cookie, 400, "one Subject, not empty", reply,
		     text);
	edit_refused(path.ptr, csrf, "Re: x", "a lone\rCR\r\n", NULL, cookie, 400, "a CR", reply,
		     text);
	edit_refused(path.ptr, csrf, "Re: x", "an \x1b[2J escape\n", NULL, cookie, 400,
		     "control character", reply, text);
	edit_refused(path.ptr, csrf, "Re: x", NULL, NULL, cookie, 422, "subject and a body", reply,
		     text);
	edit_refused(api.ptr, NULL, "Re: x", "\xff\n", auth.ptr, NULL, 400,
		     "\"error\": \"invalid UTF-8", reply, text);
	for (i = 0; i < PQ_DESK_BODY_MAX; i += 10)
		pq_buf_adds(&big, "0123456789");
	edit_refused(path.ptr, csrf, "Re: x", big.ptr, NULL, cookie, 413, "64 KiB", reply, text);
	edit_refused("/outbox/999999/edit", csrf, "Re: x", "y\n", NULL, cookie, 404,
		     "no reply 999999", reply, text);

	/* the form as the browser sends it: CRLF line ends, markup in the body */
	post_form(path.ptr, csrf, "Re: edited on the desk",
		  "Thanks!\r\n\r\n" HOSTILE " stays text.\r\n", NULL, cookie, &rs);
	CHECK_INT(rs.status, 303);
	CHECK(header_of(&rs, "Location") && !strcmp(header_of(&rs, "Location"), page.ptr));
	pq_desk_response_free(&rs);
	now = stored_reply(reply);
	CHECK(now && !strchr(now, '\r'));
	CHECK_INT(pq_outbox_split(now ? now : "", &after), 0);
	CHECK_STR(after.fields, before.fields); /* From, To, Cc, In-Reply-To, References,
						   Message-ID, byte for byte */
	CHECK(strstr(before.fields, "\nIn-Reply-To: <") &&
	      strstr(before.fields, "\nMessage-ID: <"));
	CHECK_STR(after.subject, "Re: edited on the desk");
	CHECK_STR(after.body, "Thanks!\n\n" HOSTILE " stays text.\n");
	CHECK_INT(fx_num(w.s,
			 "SELECT count(*) FROM action WHERE what = 'edit reply' AND who = ?2"
			 " AND reason = 'reply ' || ?1",
			 reply, "Test Maint"),
		  1);
	pq_outbox_parts_free(&after);
	free(now);
	/* shown escaped, in the mail and in the form */
	ask("GET", page.ptr, NULL, NULL, NULL, cookie, NULL, &rs);
	b = pq_buf_str(&rs.body);
	CHECK(strstr(b, HOSTILE) == NULL);
	CHECK(strstr(b, "\n&lt;script&gt;alert(1)&lt;/script&gt; stays text.\n</textarea>") !=
	      NULL);
	CHECK(strstr(b, "value=\"Re: edited on the desk\"") != NULL);
	pq_desk_response_free(&rs);

	/* the API's twin: JSON, the Bearer token; the same text again changes nothing */
	ask("POST", api.ptr, NULL, "subject=Re%3A+from+the+API&body=Hello.%0A", auth.ptr, NULL,
	    NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "\"ok\": true") &&
	      strstr(pq_buf_str(&rs.body), "edited"));
	pq_desk_response_free(&rs);
	ask("POST", api.ptr, NULL, "subject=Re%3A+from+the+API&body=Hello.%0D%0A", auth.ptr, NULL,
	    NULL, &rs);
	CHECK(rs.status == 200 && strstr(pq_buf_str(&rs.body), "unchanged"));
	pq_desk_response_free(&rs);
	CHECK_INT(fx_num(w.s,
			 "SELECT count(*) FROM action WHERE what = 'edit reply' AND"
			 " reason = 'reply ' || ?1",
			 reply, NULL),
		  2);

	/* held: still edited; sent: no form, refused (409), nothing changed */
	set_reply(reply, 1, "pending");
	ask("GET", page.ptr, NULL, NULL, NULL, cookie, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body), "<td>held</td>") &&
	      strstr(pq_buf_str(&rs.body), "<textarea"));
	pq_desk_response_free(&rs);
	set_reply(reply, 0, "sent");
	free(text);
	text = stored_reply(reply);
	ask("GET", page.ptr, NULL, NULL, NULL, cookie, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body), "<td>sent</td>") &&
	      !strstr(pq_buf_str(&rs.body), "<textarea") &&
	      !strstr(pq_buf_str(&rs.body), path.ptr));
	pq_desk_response_free(&rs);
	edit_refused(path.ptr, csrf, "Re: too late", "y\n", NULL, cookie, 409,
		     "can no longer be changed", reply, text);
	edit_refused(api.ptr, NULL, "Re: too late", "y\n", auth.ptr, NULL, 409,
		     "can no longer be changed", reply, text);
	set_reply(reply, 0, "pending");
	pq_outbox_parts_free(&before);
	free(text);
	pq_buf_free(&page);
	pq_buf_free(&path);
	pq_buf_free(&api);
	pq_buf_free(&auth);
	pq_buf_free(&big);
}

static void test_actions(long long id)
{
	struct pq_desk_response rs;
	struct pq_buf path = PQ_BUF_INIT, cookie = PQ_BUF_INIT, auth = PQ_BUF_INIT,
		      form = PQ_BUF_INIT;
	char token[PQ_TOKEN_HEX + 1], csrf[PQ_TOKEN_HEX + 1], other[PQ_TOKEN_HEX + 1];
	char *state;

	CHECK_INT(pq_token_new(w.s, "Test Maint", 1795000000, token), 0);
	CHECK_INT(pq_token_new(w.s, "Test Maint", 1795000000, other), PQ_EEXISTS);
	pq_token_csrf(token, csrf);
	pq_buf_addf(&path, "/series/%lld/approve", id);

	/* no token: 401, and nothing happened */
	ask("POST", path.ptr, NULL, "queue=rust-next", NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 401);
	CHECK(header_of(&rs, "WWW-Authenticate") != NULL);
	pq_desk_response_free(&rs);
	pq_buf_addf(&auth, "Bearer %064d", 0);
	ask("POST", path.ptr, NULL, "queue=rust-next", auth.ptr, NULL, NULL, &rs);
	CHECK_INT(rs.status, 401);
	pq_desk_response_free(&rs);

	/* logging in sets the cookie: HttpOnly, SameSite=Strict */
	pq_buf_addf(&form, "token=%s", token);
	ask("POST", "/login", NULL, form.ptr, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 303);
	CHECK(header_of(&rs, "Set-Cookie") && strstr(header_of(&rs, "Set-Cookie"), "HttpOnly") &&
	      strstr(header_of(&rs, "Set-Cookie"), "SameSite=Strict"));
	pq_desk_response_free(&rs);
	ask("POST", "/login", NULL, "token=0123", NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 403);
	pq_desk_response_free(&rs);
	/* logging out: a page with the button, and the cookie cleared */
	ask("GET", "/logout", NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "action=\"/logout\"") != NULL);
	pq_desk_response_free(&rs);
	ask("POST", "/logout", NULL, "", NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 303);
	CHECK(header_of(&rs, "Set-Cookie") && strstr(header_of(&rs, "Set-Cookie"), "Max-Age=0"));
	pq_desk_response_free(&rs);

	/* the cookie without the form's CSRF value: 403, and nothing happened */
	pq_buf_addf(&cookie, "other=1; patchq=%s", token);
	ask("POST", path.ptr, NULL, "queue=rust-next", NULL, cookie.ptr, NULL, &rs);
	CHECK_INT(rs.status, 403);
	pq_desk_response_free(&rs);
	ask("POST", path.ptr, NULL, "queue=rust-next&csrf=0000", NULL, cookie.ptr, NULL, &rs);
	CHECK_INT(rs.status, 403);
	pq_desk_response_free(&rs);
	state = fx_queue_state(w.s, id, "rust-next");
	CHECK_STR(state, "queued");
	free(state);

	/* with the cookie the page carries the forms and their CSRF value */
	{
		struct pq_buf page_path = PQ_BUF_INIT;

		pq_buf_addf(&page_path, "/series/%lld", id);
		ask("GET", page_path.ptr, NULL, NULL, NULL, cookie.ptr, NULL, &rs);
		CHECK(strstr(pq_buf_str(&rs.body), csrf) != NULL);
		CHECK(strstr(pq_buf_str(&rs.body), "approve for rust-next") != NULL);
		CHECK(strstr(pq_buf_str(&rs.body), "Test Maint") != NULL);
		pq_desk_response_free(&rs);
		pq_buf_free(&page_path);
	}

	/* the form as the browser sends it: approved, applied, recorded */
	pq_buf_reset(&form);
	pq_buf_addf(&form, "csrf=%s&queue=rust-next", csrf);
	ask("POST", path.ptr, NULL, form.ptr, NULL, cookie.ptr, NULL, &rs);
	CHECK_INT(rs.status, 303);
	pq_desk_response_free(&rs);
	state = fx_queue_state(w.s, id, "rust-next");
	CHECK_STR(state, "applied");
	free(state);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM action WHERE series_id = ? AND who = ?", id,
			 "Test Maint"),
		  1);

	/* its reply: on the series page with the preview, and on a page of its own */
	{
		long long reply =
			fx_num(w.s, "SELECT max(id) FROM outbox WHERE series_id = ?", id, NULL);
		struct pq_buf p2 = PQ_BUF_INIT;

		CHECK(reply > 0);
		pq_buf_addf(&p2, "/series/%lld", id);
		ask("GET", p2.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
		CHECK(strstr(pq_buf_str(&rs.body), "<h2>Replies</h2>") != NULL);
		CHECK(strstr(pq_buf_str(&rs.body), "Preview: what goes") != NULL);
		pq_desk_response_free(&rs);
		pq_buf_reset(&p2);
		pq_buf_addf(&p2, "/outbox/%lld", reply);
		ask("GET", p2.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
		CHECK_INT(rs.status, 200);
		CHECK(strstr(pq_buf_str(&rs.body), "pending") != NULL);
		CHECK(strstr(pq_buf_str(&rs.body), "In-Reply-To: &lt;") != NULL);
		CHECK(strstr(pq_buf_str(&rs.body), HOSTILE) == NULL);
		pq_desk_response_free(&rs);

		/* hold it, then release it, through the forms; both recorded */
		pq_buf_reset(&p2);
		pq_buf_addf(&p2, "/outbox/%lld/hold", reply);
		ask("POST", p2.ptr, NULL, form.ptr, NULL, cookie.ptr, NULL, &rs);
		CHECK_INT(rs.status, 303);
		pq_desk_response_free(&rs);
		CHECK_INT(fx_num(w.s, "SELECT held FROM outbox WHERE id = ?", reply, NULL), 1);
		pq_buf_reset(&p2);
		pq_buf_addf(&p2, "/outbox/%lld", reply);
		ask("GET", p2.ptr, NULL, NULL, NULL, cookie.ptr, NULL, &rs);
		CHECK(strstr(pq_buf_str(&rs.body), "<td>held</td>") != NULL);
		CHECK(strstr(pq_buf_str(&rs.body), "release reply") != NULL);
		pq_desk_response_free(&rs);
		pq_buf_reset(&p2);
		pq_buf_addf(&p2, "/outbox/%lld/release", reply);
		ask("POST", p2.ptr, NULL, form.ptr, NULL, cookie.ptr, NULL, &rs);
		CHECK_INT(rs.status, 303);
		pq_desk_response_free(&rs);
		ask("POST", p2.ptr, NULL, form.ptr, NULL, cookie.ptr, NULL, &rs);
		CHECK_INT(rs.status, 404); /* not held any more */
		pq_desk_response_free(&rs);
		CHECK_INT(fx_num(w.s, "SELECT held FROM outbox WHERE id = ?", reply, NULL), 0);
		CHECK_INT(fx_num(w.s,
				 "SELECT count(*) FROM action WHERE series_id = ? AND what LIKE "
				 "'% reply'",
				 id, NULL),
			  2);
		test_reply_edit(reply, token, csrf, cookie.ptr);
		pq_buf_free(&p2);
	}

	/* the API with the Bearer token needs no CSRF value; a reject, with its reason */
	pq_buf_reset(&auth);
	pq_buf_addf(&auth, "Bearer %s", token);
	pq_buf_reset(&path);
	pq_buf_addf(&path, "/api/series/%lld/reject", id);
	ask("POST", path.ptr, NULL, "queue=rust-next&reason=not+this+cycle", auth.ptr, NULL, NULL,
	    &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "\"ok\": true") != NULL);
	pq_desk_response_free(&rs);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM action WHERE series_id = ? AND reason = ?", id,
			 "not this cycle"),
		  1);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = ?", id,
			 "rejected"),
		  0);
	/* the rejection withdrew the reply: no longer edited (409) */
	{
		long long reply =
			fx_num(w.s, "SELECT max(id) FROM outbox WHERE series_id = ?", id, NULL);
		struct pq_buf p2 = PQ_BUF_INIT;
		char *before = stored_reply(reply), *now;

		now = fx_text(w.s, "SELECT state FROM outbox WHERE id = ?", reply, NULL);
		CHECK_STR(now, "withdrawn");
		free(now);
		pq_buf_addf(&p2, "/api/outbox/%lld/edit", reply);
		edit_refused(p2.ptr, NULL, "Re: x", "y\n", auth.ptr, NULL, 409, "is withdrawn",
			     reply, before);
		pq_buf_free(&p2);
		free(before);
	}
	/* reply=1 (the form's checkbox): the reason goes to the list too */
	ask("POST", path.ptr, NULL, "queue=rust-next&reason=next+cycle+please&reply=1", auth.ptr,
	    NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	pq_desk_response_free(&rs);
	CHECK_INT(fx_num(w.s,
			 "SELECT count(*) FROM outbox WHERE series_id = ? AND kind = 'rejected'"
			 " AND message LIKE ?",
			 id, "%next cycle please%"),
		  1);
	ask("POST", path.ptr, NULL, "queue=nowhere", auth.ptr, NULL, NULL, &rs);
	CHECK_INT(rs.status, 422);
	pq_desk_response_free(&rs);

	/* the actions show on the series page */
	pq_buf_reset(&path);
	pq_buf_addf(&path, "/series/%lld", id);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body), "<h2>Actions</h2>") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "not this cycle") != NULL);
	pq_desk_response_free(&rs);

	CHECK_INT(pq_token_revoke(w.s, "Test Maint"), 0);
	CHECK_INT(pq_token_revoke(w.s, "Test Maint"), PQ_ENOTFOUND);
	pq_buf_reset(&path);
	pq_buf_addf(&path, "/api/series/%lld/approve", id);
	ask("POST", path.ptr, NULL, "queue=rust-next", auth.ptr, NULL, NULL, &rs);
	CHECK_INT(rs.status, 401);
	pq_desk_response_free(&rs);
	pq_buf_free(&path);
	pq_buf_free(&cookie);
	pq_buf_free(&auth);
	pq_buf_free(&form);
}

/* A new version: its page says what changed since the one before, as range-diff does. */
/* The checks' results on the series page: a row each, the output behind it, escaped. */
static void test_checks_shown(long long id)
{
	struct pq_desk_response rs;
	struct pq_buf path = PQ_BUF_INIT;
	sqlite3_stmt *st = pq_store_stmt(
		w.s,
		"INSERT INTO series_check (series_id, queue, name, patch, tree, tip, command,"
		" state, exit, duration_ms, output, sandbox, ran) VALUES (?, 'rust-next',"
		" 'rustfmt', NULL, 'tree', 'tip', 'rustfmt --check', 'fail', 1, 1500, ?, 1, 0)");

	CHECK(st != NULL);
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, id);
	pq_store_bind_text(st, 2, "Diff in rust/kernel/str.rs:\n+" HOSTILE "\n");
	CHECK_INT(pq_store_step_done(w.s, st), 0);
	pq_buf_addf(&path, "/series/%lld", id);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body), "<h2>Checks</h2>") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "<td>rustfmt</td><td></td><td class=\"bad\">fail</td>"
					   "<td>1</td><td>1.5</td>") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "<details><summary>output</summary><pre>Diff in "
					   "rust/kernel/str.rs:\n+&lt;script&gt;") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "+" HOSTILE) == NULL);
	pq_desk_response_free(&rs);
	pq_buf_free(&path);
}

static void test_interdiff(long long v1)
{
	struct pq_desk_response rs;
	struct pq_buf path = PQ_BUF_INIT;
	char *msgid = fx_msgid(mail_h2.v[0]);
	long long v2;

	CHECK_INT(fx_ingest_mail(w.s, &mail_h2, -1), 0);
	v2 = fx_series_of(w.s, msgid);
	CHECK(v2 > v1);
	pq_buf_addf(&path, "/series/%lld", v2);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK_INT(rs.status, 200);
	CHECK(strstr(pq_buf_str(&rs.body), "Changes since") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "[1/1] changed:") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "<span class=\"del\">-+// a &lt; b &amp;&amp; c &gt; "
					   "d</span>") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "<span class=\"add\">++// a &lt;= b</span>") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), HOSTILE) == NULL);
	pq_desk_response_free(&rs);
	pq_buf_free(&path);
	free(msgid);
}

/*
 * Approving a superseded series: refused with the reason, through the API
 * (409, the error says which and how to force) and the form (a page that
 * says so, not a silent redirect); with force=1 it goes ahead.
 */
static void test_approve_superseded(long long v1)
{
	struct pq_desk_response rs;
	struct pq_buf path = PQ_BUF_INIT, auth = PQ_BUF_INIT, cookie = PQ_BUF_INIT,
		      form = PQ_BUF_INIT;
	char token[PQ_TOKEN_HEX + 1], csrf[PQ_TOKEN_HEX + 1];

	CHECK_INT(pq_token_new(w.s, "Other Maint", 1795000000, token), 0);
	pq_token_csrf(token, csrf);
	pq_buf_addf(&auth, "Bearer %s", token);
	pq_buf_addf(&path, "/api/series/%lld/approve", v1);
	ask("POST", path.ptr, NULL, "queue=rust-next", auth.ptr, NULL, NULL, &rs);
	CHECK_INT(rs.status, 409);
	CHECK(strstr(pq_buf_str(&rs.body), "\"ok\": false") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "is superseded by its newer version") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "--force") != NULL);
	pq_desk_response_free(&rs);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM action WHERE series_id = ? AND who = ?", v1,
			 "Other Maint"),
		  0);

	pq_buf_addf(&cookie, "patchq=%s", token);
	pq_buf_addf(&form, "csrf=%s&queue=rust-next", csrf);
	pq_buf_reset(&path);
	pq_buf_addf(&path, "/series/%lld/approve", v1);
	ask("POST", path.ptr, NULL, form.ptr, NULL, cookie.ptr, NULL, &rs);
	CHECK_INT(rs.status, 409);
	CHECK(strstr(pq_buf_str(&rs.body), "is superseded by its newer version") != NULL);
	pq_desk_response_free(&rs);

	pq_buf_reset(&path);
	pq_buf_addf(&path, "/api/series/%lld/approve", v1);
	ask("POST", path.ptr, NULL, "queue=rust-next&force=1", auth.ptr, NULL, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body), "Not approved") == NULL);
	pq_desk_response_free(&rs);
	CHECK_INT(fx_num(w.s, "SELECT count(*) FROM action WHERE series_id = ? AND who = ?", v1,
			 "Other Maint"),
		  1);
	pq_buf_free(&path);
	pq_buf_free(&auth);
	pq_buf_free(&cookie);
	pq_buf_free(&form);
}

/* Another tree took the series: its page and its JSON say where, who, in which reply. */
static void test_taken_elsewhere(long long id)
{
	struct pq_desk_response rs;
	struct pq_buf path = PQ_BUF_INIT;
	char *msgid = fx_msgid(mail_h.v[0]);
	char *reply = fx_reply_mail("KB <kb@kernel.org>", "kb-1@kernel.org", msgid, "[PATCH] x",
				    "Applied to kbuild-next, thanks!\n");

	CHECK_INT(fx_ingest(w.s, reply), 0);
	CHECK_INT(pq_elsewhere_scan(w.s, w.c, NULL, NULL), 0);
	pq_buf_addf(&path, "/series/%lld", id);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body),
		     "taken elsewhere: kbuild-next</strong> (by "
		     "kb@kernel.org in <a href=\"/messages/kb-1%40kernel.org\">") != NULL);
	pq_desk_response_free(&rs);
	pq_buf_reset(&path);
	pq_buf_addf(&path, "/api/series/%lld", id);
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	CHECK(strstr(pq_buf_str(&rs.body), "\"taken_elsewhere\": {") != NULL);
	CHECK(strstr(pq_buf_str(&rs.body), "\"tree\": \"kbuild-next\"") != NULL);
	pq_desk_response_free(&rs);
	pq_buf_free(&path);
	free(reply);
	free(msgid);
}

/* GET path through cache (with cookie and If-None-Match as given); the body's copy is the caller's. */
static char *cached_get(struct pq_desk_cache *cache, long long *seen, const char *path,
			const char *cookie, const char *inm, int *status)
{
	struct pq_desk_env env = { w.s, w.c, w.repo, 1795000000 };
	struct pq_desk_request rq = {
		.method = "GET", .path = path, .cookie = cookie, .if_none_match = inm
	};
	struct pq_desk_response rs;
	char *body;

	CHECK_INT(pq_desk_cache_handle(cache, seen, &env, &rq, &rs), 0);
	*status = rs.status;
	body = pq_strdup(pq_buf_str(&rs.body));
	pq_desk_response_free(&rs);
	return body;
}

/* Renames series id from another connection, as another process would. */
static void rename_elsewhere(long long id, const char *name)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	CHECK_INT(sqlite3_open(w.db, &db), SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(db, "UPDATE series SET name = ? WHERE id = ?", -1, &st, NULL),
		  SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Accept-Encoding as read, and a page given gzipped that unpacks to the page. */
static void test_gzip(struct pq_desk_cache *cache, long long *seen, const char *path,
		      const char *plain)
{
	struct pq_desk_env env = { w.s, w.c, w.repo, 1795000000 };
	struct pq_desk_request rq = { .method = "GET", .path = path };
	struct pq_desk_response rs;
	size_t len = strlen(plain);
	unsigned char *out = malloc(len + 1);
	const char *tag;
	z_stream z;

	CHECK(pq_desk_accepts_gzip("gzip"));
	CHECK(pq_desk_accepts_gzip("deflate, GZIP;q=0.5, br"));
	CHECK(pq_desk_accepts_gzip("x-gzip"));
	CHECK(!pq_desk_accepts_gzip(NULL));
	CHECK(!pq_desk_accepts_gzip("gzip;q=0"));
	CHECK(!pq_desk_accepts_gzip("gzip; q=0.000, br"));
	CHECK(!pq_desk_accepts_gzip("gzipped, identity"));
	CHECK(!pq_desk_accepts_gzip("deflate,"));

	rq.accept_encoding = "gzip, deflate, br";
	CHECK_INT(pq_desk_cache_handle(cache, seen, &env, &rq, &rs), 0);
	CHECK_INT(rs.status, 200);
	CHECK(header_of(&rs, "Content-Encoding") &&
	      !strcmp(header_of(&rs, "Content-Encoding"), "gzip"));
	CHECK(header_of(&rs, "Vary") && !strcmp(header_of(&rs, "Vary"), "Accept-Encoding"));
	tag = header_of(&rs, "ETag");
	CHECK(tag && strlen(tag) > 6 && !strcmp(tag + strlen(tag) - 6, "-gzip\""));
	CHECK(rs.body.len < len / 2);
	memset(&z, 0, sizeof(z));
	CHECK_INT(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (unsigned char *)rs.body.ptr;
	z.avail_in = (unsigned)rs.body.len;
	z.next_out = out;
	z.avail_out = (unsigned)len + 1;
	CHECK_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
	CHECK(z.total_out == len && !memcmp(out, plain, len));
	inflateEnd(&z);
	pq_desk_response_free(&rs);
	free(out);
}

static void test_cache(long long id)
{
	struct pq_desk_cache *cache = pq_desk_cache_new(1 << 22), *tiny = pq_desk_cache_new(64);
	struct pq_buf path = PQ_BUF_INIT, inm = PQ_BUF_INIT;
	struct pq_desk_response rs;
	long long seen = -1, tiny_seen = -1;
	char *a, *b;
	int st;

	pq_buf_addf(&path, "/series/%lld", id);
	a = cached_get(cache, &seen, path.ptr, NULL, NULL, &st);
	CHECK_INT(st, 200);
	CHECK(strstr(a, "renamed") == NULL);
	rename_elsewhere(id, "renamed elsewhere");
	/* kept a moment after the change: the same page */
	b = cached_get(cache, &seen, path.ptr, NULL, NULL, &st);
	CHECK_INT(st, 200);
	CHECK_STR(b, a);
	free(b);
	/* with a cookie (a maintainer's browser) never from the cache */
	b = cached_get(cache, &seen, path.ptr, "x=y", NULL, &st);
	CHECK(strstr(b, "renamed elsewhere") != NULL);
	free(b);
	/* a cache too small for the page keeps nothing */
	b = cached_get(tiny, &tiny_seen, path.ptr, NULL, NULL, &st);
	free(b);
	rename_elsewhere(id, "renamed again");
	b = cached_get(tiny, &tiny_seen, path.ptr, NULL, NULL, &st);
	CHECK(strstr(b, "renamed again") != NULL);
	free(b);
	/* past the moment, made again */
	usleep((PQ_DESK_CACHE_STALE_MS + 200) * 1000);
	b = cached_get(cache, &seen, path.ptr, NULL, NULL, &st);
	CHECK(strstr(b, "renamed again") != NULL);
	test_gzip(cache, &seen, path.ptr, b);
	free(b);
	/* the kept page's ETag gets a 304 from the cache */
	ask("GET", path.ptr, NULL, NULL, NULL, NULL, NULL, &rs);
	pq_buf_adds(&inm, header_of(&rs, "ETag"));
	pq_desk_response_free(&rs);
	b = cached_get(cache, &seen, path.ptr, NULL, inm.ptr, &st);
	CHECK_INT(st, 304);
	CHECK_STR(b, "");
	free(b);
	free(a);
	pq_buf_free(&path);
	pq_buf_free(&inm);
	pq_desk_cache_free(cache);
	pq_desk_cache_free(tiny);
}

int main(void)
{
	struct pq_buf report = PQ_BUF_INIT;
	long long id = 0;
	int ready;

	if (fx_init("desk") < 0)
		return 1;
	ready = fx_src_init() == 0 && make_mail() == 0 && fx_world_open(&w, "desk", CONF) == 0 &&
		fx_ingest_mail(w.s, &mail_h, -1) == 0 &&
		pq_triage_run(w.s, w.c, w.repo, &report) == 0;
	CHECK(ready);
	if (ready) {
		char *msgid = fx_msgid(mail_h.v[0]);

		id = fx_series_of(w.s, msgid);
		free(msgid);
		CHECK(id > 0);
		test_pages(id);
		test_actions(id);
		test_interdiff(id);
		test_approve_superseded(id);
		test_taken_elsewhere(id);
		test_cache(id);
		test_checks_shown(id);
	}
	pq_buf_free(&report);
	if (ready)
		fx_world_close(&w);
	fx_mail_free(&mail_h);
	fx_mail_free(&mail_h2);
	fx_cleanup();
	CHECK_DONE();
}
