/*
 * desk: the maintainer's desk (see desk.h).
 *
 * The router reads the path segment by segment, %-decoding each; a page
 * is its fragment (deskpage.c, todo.c, view.c) in the frame of html.c,
 * and its JSON twin the CLI's --json. Who asks is read from a Bearer
 * token or the login cookie; an action wants one of them, and with the
 * cookie also the form's CSRF value.
 */
#include "desk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "approval.h"
#include "apply.h"
#include "deskpage.h"
#include "digest.h"
#include "error.h"
#include "form.h"
#include "html.h"
#include "json.h"
#include "outbox.h"
#include "rebuild.h"
#include "state.h"
#include "todo.h"
#include "token.h"
#include "view.h"

#define HTML "text/html; charset=utf-8"
#define JSON "application/json"
/* Path segments the router looks at; more is a 404. */
#define MAX_SEGMENTS 4
#define COOKIE "patchq"
/* Series per growing section of the to-do a page shows (the rest: a link). */
#define TODO_LIMIT 25

struct ctx {
	const struct pq_desk_env *env;
	const struct pq_desk_request *rq;
	struct pq_desk_response *rs;
	struct pq_buf seg[MAX_SEGMENTS]; /* the path's segments, decoded */
	size_t nseg;
	char *who;		      /* the maintainer, or NULL */
	char token[PQ_TOKEN_HEX + 1]; /* theirs, when known */
	char csrf[PQ_TOKEN_HEX + 1];  /* its CSRF value, when from the cookie */
	int bearer;		      /* the token came as Authorization: Bearer */
	int api;		      /* under /api/: answers are JSON */
};

static int is(const struct ctx *x, size_t i, const char *s)
{
	return i < x->nseg && !strcmp(pq_buf_str(&x->seg[i]), s);
}

static const char *segment(const struct ctx *x, size_t i)
{
	return i < x->nseg ? pq_buf_str(&x->seg[i]) : "";
}

/* A whole number in [min, max] from s, else -1. */
static long long whole(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	if (!*s || strlen(s) > 18)
		return -1;
	v = strtoll(s, &end, 10);
	return *end || v < min || v > max ? -1 : v;
}

/* The id in segment i (a positive decimal), or 0. */
static long long seg_id(const struct ctx *x, size_t i)
{
	long long id = whole(segment(x, i), 1, 1LL << 62);

	return id < 0 ? 0 : id;
}

/* ---- answers ---- */

static void answer(struct ctx *x, int status, const char *type)
{
	x->rs->status = status;
	x->rs->content_type = type;
}

/* An error status: a small page, or {"error": what} under /api/. */
static void fail(struct ctx *x, int status, const char *what)
{
	pq_buf_reset(&x->rs->body);
	if (x->api) {
		answer(x, status, JSON);
		pq_buf_adds(&x->rs->body, "{\"error\": ");
		pq_json_quote(&x->rs->body, what);
		pq_buf_adds(&x->rs->body, "}\n");
		return;
	}
	answer(x, status, HTML);
	pq_html_begin(&x->rs->body, what, x->who);
	pq_html_end(&x->rs->body);
}

/* The error of a library call: 404 for what does not exist, else 500. */
static int fail_ret(struct ctx *x, int ret)
{
	fail(x, ret == PQ_ENOTFOUND ? 404 : 500,
	     ret == PQ_ENOTFOUND ? "Not found" : pq_error_last());
	return ret == PQ_EDB ? PQ_EDB : 0;
}

static void redirect(struct ctx *x, const char *to)
{
	answer(x, 303, HTML);
	pq_buf_adds(&x->rs->headers, "Location: ");
	pq_buf_adds(&x->rs->headers, to);
	pq_buf_addc(&x->rs->headers, '\n');
}

/* A page: title and the fragment body, framed. */
static void page(struct ctx *x, const char *title, const struct pq_buf *body)
{
	answer(x, 200, HTML);
	pq_html_begin(&x->rs->body, title, x->who);
	pq_buf_add(&x->rs->body, pq_buf_str(body), body->len);
	pq_html_end(&x->rs->body);
}

/*
 * A listing's JSON: {"items": ITEMS, "next": URL or null}; items is a JSON
 * array, next the next page's address (NULL: the last page).
 */
static void listing(struct ctx *x, const struct pq_buf *items, const char *next)
{
	struct pq_json j;

	answer(x, 200, JSON);
	pq_buf_adds(&x->rs->body, "{\"items\": ");
	pq_buf_add(&x->rs->body, pq_buf_str(items), items->len);
	pq_buf_adds(&x->rs->body, ", \"next\": ");
	pq_json_init(&j, &x->rs->body, 0);
	pq_json_str(&j, next);
	pq_buf_adds(&x->rs->body, "}\n");
}

/*
 * An ETag from the body; a request that has it already gets 304 and no
 * body. Only for a 200 to GET or HEAD.
 */
static void etag(struct ctx *x)
{
	unsigned char d[PQ_DIGEST_LEN];
	char tag[2 * 16 + 3];

	if (x->rs->status != 200)
		return;
	pq_digest(d, pq_buf_str(&x->rs->body), x->rs->body.len);
	/* half the digest is plenty to tell two versions of a page apart */
	tag[0] = '"';
	pq_hex(d, 16, tag + 1);
	tag[33] = '"';
	tag[34] = '\0';
	pq_buf_addf(&x->rs->headers, "ETag: %s\n", tag);
	if (x->rq->if_none_match && strstr(x->rq->if_none_match, tag)) {
		x->rs->status = 304;
		pq_buf_reset(&x->rs->body);
	}
}

/* ---- who asks ---- */

static int identify(struct ctx *x)
{
	const struct pq_desk_request *rq = x->rq;
	struct pq_buf v = PQ_BUF_INIT;
	int ret = 0;

	if (rq->authorization && !strncmp(rq->authorization, "Bearer ", 7)) {
		pq_buf_adds(&v, rq->authorization + 7);
		x->bearer = 1;
	} else if (!rq->cookie || pq_form_cookie(rq->cookie, COOKIE, &v) != 1) {
		goto out;
	}
	if (v.len == PQ_TOKEN_HEX &&
	    (ret = pq_token_check(x->env->store, v.ptr, x->env->now, &x->who)) == 1) {
		memcpy(x->token, v.ptr, PQ_TOKEN_HEX + 1);
		pq_token_csrf(x->token, x->csrf);
	}
	ret = ret < 0 ? ret : 0;
out:
	pq_buf_free(&v);
	return ret;
}

/* The form field name of a POST into out; 1 when there. */
static int field(struct ctx *x, const char *name, struct pq_buf *out)
{
	if (!x->rq->body)
		return 0;
	return pq_form_value(x->rq->body, x->rq->body_len, name, out) == 1;
}

/*
 * Whether the POST may act: 401 without a maintainer, 403 when the login
 * cookie comes without the form's CSRF value.
 */
static int may_act(struct ctx *x)
{
	struct pq_buf v = PQ_BUF_INIT;
	int ok;

	if (!x->who) {
		fail(x, 401, "Log in first: actions are for maintainers with a token");
		pq_buf_adds(&x->rs->headers, "WWW-Authenticate: Bearer realm=\"patchq\"\n");
		return 0;
	}
	if (x->bearer)
		return 1;
	ok = field(x, "csrf", &v) && pq_token_equal(pq_buf_str(&v), x->csrf);
	pq_buf_free(&v);
	if (!ok)
		fail(x, 403, "The form's CSRF value is missing or wrong: reload the page");
	return ok;
}

/* ---- pages ---- */

static int login_page(struct ctx *x)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_adds(&b,
		    "<form method=\"post\" action=\"/login\"><p><label>token <input "
		    "name=\"token\" type=\"password\" autocomplete=\"current-password\" "
		    "required></label> <button type=\"submit\">log in</button></p></form>\n"
		    "<p class=\"meta\">A maintainer's token is made with <code>patchq token new "
		    "NAME</code>.</p>\n");
	page(x, "Log in", &b);
	pq_buf_free(&b);
	return 0;
}

static int login(struct ctx *x)
{
	struct pq_buf v = PQ_BUF_INIT;
	char *who = NULL;
	int ret = 0;

	if (field(x, "token", &v) && v.len == PQ_TOKEN_HEX &&
	    (ret = pq_token_check(x->env->store, v.ptr, x->env->now, &who)) == 1) {
		redirect(x, "/");
		pq_buf_addf(&x->rs->headers,
			    "Set-Cookie: " COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict\n",
			    v.ptr);
		ret = 0;
	} else if (ret == 0) {
		fail(x, 403, "That is not a maintainer's token");
	}
	free(who);
	pq_buf_free(&v);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

static int logout_page(struct ctx *x)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_adds(&b, "<form method=\"post\" action=\"/logout\"><p><button type=\"submit\">"
			"log out</button></p></form>\n");
	page(x, "Log out", &b);
	pq_buf_free(&b);
	return 0;
}

static int logout(struct ctx *x)
{
	redirect(x, "/");
	pq_buf_adds(&x->rs->headers, "Set-Cookie: " COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
				     "Max-Age=0\n");
	return 0;
}

static int series_page(struct ctx *x, long long id)
{
	struct pq_buf b = PQ_BUF_INIT;
	char *title = NULL;
	int ret;

	if (x->api) {
		ret = pq_view_series_show(x->env->store, x->env->config, id, &b, 1);
		if (ret == 0) {
			answer(x, 200, JSON);
			pq_buf_add(&x->rs->body, pq_buf_str(&b), b.len);
		}
	} else {
		ret = pq_deskpage_series(x->env->store, x->env->config, x->env->repo, id,
					 x->who ? x->csrf : NULL, &b, &title);
		if (ret == 0)
			page(x, title, &b);
	}
	free(title);
	pq_buf_free(&b);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

static int queue_page(struct ctx *x, const char *name)
{
	struct pq_buf b = PQ_BUF_INIT;
	int ret;

	if (!pq_config_queue(x->env->config, name))
		ret = pq_error_set(PQ_ENOTFOUND, "no queue %s", name);
	else if (x->api)
		ret = pq_view_queue(x->env->store, name, &b, 1);
	else
		ret = pq_deskpage_queue(x->env->store, x->env->config, x->env->repo, name,
					x->who ? x->csrf : NULL, &b);
	if (ret == 0 && x->api)
		listing(x, &b, NULL);
	else if (ret == 0)
		page(x, name, &b);
	pq_buf_free(&b);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

static int todo_page(struct ctx *x)
{
	struct pq_todo *t = NULL;
	struct pq_buf b = PQ_BUF_INIT;
	int ret = pq_todo_load_some(x->env->store, x->env->config, TODO_LIMIT, &t);

	if (ret == 0 && x->api) {
		answer(x, 200, JSON);
		pq_todo_write(t, PQ_VIEW_JSON, &x->rs->body);
	} else if (ret == 0) {
		size_t i;

		pq_todo_write(t, PQ_VIEW_HTML, &b);
		pq_buf_adds(&b, "<p class=\"meta\">Feeds: <a href=\"/feeds/todo.atom\">to-do</a>");
		for (i = 0; i < x->env->config->nqueues; i++) {
			pq_buf_adds(&b, " <a href=\"/feeds/queues/");
			pq_html_url(&b, x->env->config->queues[i].name);
			pq_buf_adds(&b, ".atom\">");
			pq_html_text(&b, x->env->config->queues[i].name);
			pq_buf_adds(&b, "</a>");
		}
		pq_buf_adds(&b, "</p>\n");
		page(x, "To do", &b);
	}
	pq_todo_free(t);
	pq_buf_free(&b);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

/* The series list's filters, as the query gives them (values in x's buffers). */
struct listing_query {
	struct pq_buf queue, state, search, since, after, limit;
};

static void listing_query_free(struct listing_query *q)
{
	pq_buf_free(&q->queue);
	pq_buf_free(&q->state);
	pq_buf_free(&q->search);
	pq_buf_free(&q->since);
	pq_buf_free(&q->after);
	pq_buf_free(&q->limit);
}

/* A query value; "" when absent. -1 for a malformed one. */
static int query_value(struct ctx *x, const char *name, struct pq_buf *out)
{
	const char *q = x->rq->query;
	int r;

	pq_buf_reset(out);
	if (!q)
		return 0;
	r = pq_form_value(q, strlen(q), name, out);
	return r < 0 ? -1 : 0;
}

/* YYYY-MM-DD (UTC midnight) or a unix time; -1 when it is neither. */
static long long day_or_time(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && !*end)
		return (long long)timegm(&tm);
	return whole(s, 0, 1LL << 40);
}

/* Appends "name=value&" (value %-encoded) when value is not empty. */
static void query_add(struct pq_buf *q, const char *name, const struct pq_buf *value)
{
	if (!value->len)
		return;
	pq_buf_adds(q, name);
	pq_buf_addc(q, '=');
	pq_html_url(q, value->ptr);
	pq_buf_addc(q, '&');
}

/* The filter form of the series list, filled with what was asked. */
static void listing_form(struct ctx *x, const struct listing_query *q, struct pq_buf *b)
{
	size_t i;

	pq_buf_adds(b, "<form method=\"get\" action=\"/series\"><p><label>queue <select "
		       "name=\"queue\"><option value=\"\">any</option>");
	for (i = 0; i < x->env->config->nqueues; i++) {
		const char *name = x->env->config->queues[i].name;

		pq_buf_addf(b, "<option%s>",
			    !strcmp(pq_buf_str(&q->queue), name) ? " selected" : "");
		pq_html_text(b, name);
		pq_buf_adds(b, "</option>");
	}
	pq_buf_adds(b, "</select></label> <label>state <select name=\"state\"><option "
		       "value=\"\">any</option>");
	for (i = PQ_STATE_NEW; i <= PQ_STATE_SUPERSEDED; i++) {
		const char *name = pq_state_name((enum pq_state)i);

		pq_buf_addf(b, "<option%s>%s</option>",
			    !strcmp(pq_buf_str(&q->state), name) ? " selected" : "", name);
	}
	pq_buf_adds(b, "</select></label> <label>text <input name=\"search\" value=\"");
	pq_html_text(b, pq_buf_str(&q->search));
	pq_buf_adds(b, "\"></label> <label>since <input name=\"since\" placeholder=\"YYYY-MM-DD\" "
		       "size=\"10\" value=\"");
	pq_html_text(b, pq_buf_str(&q->since));
	pq_buf_adds(b, "\"></label> <button type=\"submit\">show</button></p></form>\n");
}

/* The series list: filters in the query, newest first, a page at a time. */
static int series_list(struct ctx *x)
{
	struct listing_query q;
	struct pq_series_filter f;
	struct pq_buf b = PQ_BUF_INIT, base = PQ_BUF_INIT, next_url = PQ_BUF_INIT;
	long long next = 0, limit;
	int ret = 0;

	memset(&q, 0, sizeof(q));
	memset(&f, 0, sizeof(f));
	if (query_value(x, "queue", &q.queue) < 0 || query_value(x, "state", &q.state) < 0 ||
	    query_value(x, "search", &q.search) < 0 || query_value(x, "since", &q.since) < 0 ||
	    query_value(x, "after", &q.after) < 0 || query_value(x, "limit", &q.limit) < 0) {
		fail(x, 400, "A filter holds a bad %-escape");
		goto out;
	}
	limit = q.limit.len ? whole(q.limit.ptr, 1, 500) : 50;
	f.after = q.after.len ? whole(q.after.ptr, 1, 1LL << 62) : 0;
	f.since = q.since.len ? day_or_time(q.since.ptr) : 0;
	if (limit < 0 || f.after < 0 || f.since < 0 ||
	    (q.queue.len && !pq_config_queue(x->env->config, q.queue.ptr))) {
		fail(x, 400,
		     "A filter is not one the list knows: limit 1 to 500, after an id, "
		     "since YYYY-MM-DD, a configured queue");
		goto out;
	}
	f.limit = (int)limit;
	f.queue = q.queue.len ? q.queue.ptr : NULL;
	f.state = q.state.len ? q.state.ptr : NULL;
	f.search = q.search.len ? q.search.ptr : NULL;
	query_add(&base, "queue", &q.queue);
	query_add(&base, "state", &q.state);
	query_add(&base, "search", &q.search);
	query_add(&base, "since", &q.since);
	query_add(&base, "limit", &q.limit);
	pq_buf_addf(&next_url, "%s?%safter=", x->api ? "/api/series" : "/series",
		    pq_buf_str(&base));
	f.next_url = next_url.ptr;
	if (x->api) {
		ret = pq_view_series_page(x->env->store, &f, PQ_VIEW_JSON, &x->rs->body, &next);
		if (ret == 0)
			answer(x, 200, JSON);
	} else {
		listing_form(x, &q, &b);
		ret = pq_view_series_page(x->env->store, &f, PQ_VIEW_HTML, &b, &next);
		if (ret == 0 && next) {
			struct pq_buf link = PQ_BUF_INIT;

			pq_buf_addf(&link, "%s%lld", next_url.ptr, next);
			pq_buf_adds(&b, "<p><a rel=\"next\" href=\"");
			pq_html_text(&b, link.ptr);
			pq_buf_adds(&b, "\">older series</a></p>\n");
			pq_buf_free(&link);
		}
		if (ret == 0)
			page(x, "Series", &b);
	}
	if (ret == PQ_EINVAL) {
		pq_buf_reset(&x->rs->body);
		fail(x, 400, pq_error_last());
		ret = 0;
	}
out:
	listing_query_free(&q);
	pq_buf_free(&b);
	pq_buf_free(&base);
	pq_buf_free(&next_url);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

static int todo_feed(struct ctx *x)
{
	struct pq_todo *t = NULL;
	int ret = pq_todo_load_some(x->env->store, x->env->config, TODO_LIMIT, &t);

	if (ret == 0) {
		answer(x, 200, "application/atom+xml");
		pq_deskpage_todo_feed(t, x->env->now, &x->rs->body);
	}
	pq_todo_free(t);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

static int queue_feed(struct ctx *x, const char *file)
{
	struct pq_buf name = PQ_BUF_INIT;
	size_t len = strlen(file);
	int ret;

	if (len <= 5 || strcmp(file + len - 5, ".atom")) {
		fail(x, 404, "Not found");
		return 0;
	}
	pq_buf_add(&name, file, len - 5);
	ret = pq_deskpage_queue_feed(x->env->store, x->env->config, name.ptr, &x->rs->body);
	pq_buf_free(&name);
	if (ret < 0) {
		pq_buf_reset(&x->rs->body);
		return fail_ret(x, ret);
	}
	answer(x, 200, "application/atom+xml");
	return 0;
}

/* The outbox: a page; the API's newest first, limit (1 to 500) at a time. */
static int outbox_page(struct ctx *x)
{
	struct pq_buf b = PQ_BUF_INIT, after = PQ_BUF_INIT, limit = PQ_BUF_INIT;
	struct pq_buf next_url = PQ_BUF_INIT;
	struct pq_outbox_page pg = { 0 };
	long long next = 0;
	int ret = 0;

	if (!x->api) {
		ret = pq_deskpage_outbox(x->env->store, x->who ? x->csrf : NULL, &b);
		if (ret == 0)
			page(x, "Outbox", &b);
		goto out;
	}
	if (query_value(x, "after", &after) < 0 || query_value(x, "limit", &limit) < 0 ||
	    (pg.after = after.len ? whole(after.ptr, 1, 1LL << 62) : 0) < 0 ||
	    (pg.limit = limit.len ? (int)whole(limit.ptr, 1, 500) : 50) < 0) {
		fail(x, 400, "The outbox is read with limit 1 to 500 and after a reply id");
		goto out;
	}
	ret = pq_outbox_list(x->env->store, &pg, &b, 1, &next);
	if (ret == 0 && next) {
		pq_buf_addf(&next_url, "/api/outbox?");
		if (limit.len)
			pq_buf_addf(&next_url, "limit=%d&", pg.limit);
		pq_buf_addf(&next_url, "after=%lld", next);
	}
	if (ret == 0)
		listing(x, &b, next ? next_url.ptr : NULL);
out:
	pq_buf_free(&b);
	pq_buf_free(&after);
	pq_buf_free(&limit);
	pq_buf_free(&next_url);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

static int reply_page(struct ctx *x, long long id)
{
	struct pq_buf b = PQ_BUF_INIT, t = PQ_BUF_INIT;
	int ret = pq_deskpage_reply(x->env->store, id, x->who ? x->csrf : NULL, &b);

	pq_buf_addf(&t, "Reply %lld", id);
	if (ret == 0)
		page(x, t.ptr, &b);
	pq_buf_free(&b);
	pq_buf_free(&t);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

static int message_page(struct ctx *x, const char *msgid, int raw)
{
	struct pq_buf b = PQ_BUF_INIT;
	int ret = pq_deskpage_message(x->env->store, msgid, raw, &b);

	if (ret == 0 && raw) {
		answer(x, 200, "text/plain; charset=utf-8");
		pq_buf_add(&x->rs->body, pq_buf_str(&b), b.len);
	} else if (ret == 0) {
		struct pq_buf t = PQ_BUF_INIT;

		pq_buf_addf(&t, "<%s>", msgid);
		page(x, t.ptr, &b);
		pq_buf_free(&t);
	}
	pq_buf_free(&b);
	return ret < 0 ? fail_ret(x, ret) : 0;
}

/* ---- actions ---- */

/* An action's outcome as the API's JSON, with status; ret is the library's. */
static void outcome(struct ctx *x, int status, int ret, const struct pq_buf *report)
{
	answer(x, status, JSON);
	pq_buf_addf(&x->rs->body, "{\"ok\": %s, \"report\": ", ret == 0 ? "true" : "false");
	pq_json_quote(&x->rs->body, pq_buf_str(report));
	pq_buf_adds(&x->rs->body, ", \"error\": ");
	if (ret == 0)
		pq_buf_adds(&x->rs->body, "null");
	else
		pq_json_quote(&x->rs->body, pq_error_last());
	pq_buf_adds(&x->rs->body, "}\n");
}

/*
 * The end of an action: the outcome as JSON for the API, else back to the
 * page at back. ret is the library's; report what it said.
 */
static int acted(struct ctx *x, int ret, const struct pq_buf *report, const char *back)
{
	if (ret == PQ_EDB)
		return fail_ret(x, ret);
	if (x->api) {
		outcome(x, ret == 0 ? 200 : ret == PQ_ENOTFOUND ? 404 : 409, ret, report);
		return 0;
	}
	if (ret == PQ_ENOTFOUND)
		return fail_ret(x, ret);
	redirect(x, back);
	return 0;
}

static int series_action(struct ctx *x, long long id, const char *what)
{
	const struct pq_desk_env *e = x->env;
	struct pq_buf queue = PQ_BUF_INIT, reason = PQ_BUF_INIT, report = PQ_BUF_INIT,
		      back = PQ_BUF_INIT, warning = PQ_BUF_INIT, force = PQ_BUF_INIT,
		      tell = PQ_BUF_INIT;
	int ret;

	if (!field(x, "queue", &queue) || !pq_config_queue(e->config, queue.ptr)) {
		fail(x, 422, "Which queue? The form names none the configuration has");
		ret = 0;
		goto out;
	}
	pq_buf_addf(&back, "/series/%lld", id);
	if (!strcmp(what, "reject")) {
		long long reply;

		field(x, "reason", &reason);
		/* reply=1: the reason goes to the list too, through the outbox */
		field(x, "reply", &tell);
		if (!strcmp(pq_buf_str(&tell), "1"))
			ret = pq_approval_reject_reply(e->store, e->config, id, queue.ptr,
						       reason.len ? reason.ptr : NULL, e->now,
						       &reply);
		else
			ret = pq_approval_reject(e->store, id, queue.ptr,
						 reason.len ? reason.ptr : NULL);
	} else if (!e->repo) {
		fail(x, 503, "The queue repository is not open here");
		ret = 0;
		goto out;
	} else if (!strcmp(what, "approve")) {
		/* superseded, RFC, taken elsewhere: refused unless the form says force=1 */
		if ((ret = pq_approval_warnings(e->store, id, &warning)) < 0) {
			ret = acted(x, ret, &report, back.ptr);
			goto out;
		}
		field(x, "force", &force);
		if (warning.len && strcmp(pq_buf_str(&force), "1")) {
			pq_error_set(
				PQ_EPERM,
				"Not approved: %s. Approve it anyway with patchq approve --force"
				" (or force=1)",
				pq_buf_str(&warning));
			if (x->api) {
				ret = acted(x, PQ_EPERM, &report, back.ptr);
			} else {
				fail(x, 409, pq_error_last());
				ret = 0;
			}
			goto out;
		}
		if (warning.len)
			pq_buf_addf(&reason, "forced: %s", pq_buf_str(&warning));
		ret = pq_approval_grant(e->store, e->config, e->repo, id, queue.ptr, &report);
	} else {
		ret = pq_apply_series(e->store, e->config, e->repo, id, queue.ptr, 0, &report);
	}
	if (ret != PQ_EDB && ret != PQ_ENOTFOUND &&
	    pq_token_record(e->store, id, queue.ptr, what, x->who,
			    ret == 0 ? (reason.len ? reason.ptr : NULL) : pq_error_last(),
			    e->now) == PQ_EDB)
		ret = PQ_EDB;
	ret = acted(x, ret, &report, back.ptr);
out:
	pq_buf_free(&queue);
	pq_buf_free(&reason);
	pq_buf_free(&report);
	pq_buf_free(&back);
	pq_buf_free(&warning);
	pq_buf_free(&force);
	pq_buf_free(&tell);
	return ret;
}

static int rebuild_action(struct ctx *x, const char *name)
{
	const struct pq_desk_env *e = x->env;
	struct pq_buf report = PQ_BUF_INIT, back = PQ_BUF_INIT;
	int ret;

	if (!pq_config_queue(e->config, name)) {
		fail(x, 404, "Not found");
		return 0;
	}
	if (!e->repo) {
		fail(x, 503, "The queue repository is not open here");
		return 0;
	}
	ret = pq_rebuild_queue(e->store, e->config, e->repo, name, &report);
	if (ret != PQ_EDB && pq_token_record(e->store, 0, name, "rebuild", x->who,
					     ret ? pq_error_last() : NULL, e->now) == PQ_EDB)
		ret = PQ_EDB;
	pq_buf_adds(&back, "/queues/");
	pq_html_url(&back, name);
	ret = acted(x, ret, &report, back.ptr);
	pq_buf_free(&report);
	pq_buf_free(&back);
	return ret;
}

/* retry, hold or release reply id, recorded on its series. */
static int reply_action(struct ctx *x, long long id, const char *what)
{
	struct pq_buf report = PQ_BUF_INIT, back = PQ_BUF_INIT;
	int ret = pq_outbox_act(x->env->store, id, what, x->who, x->env->now);

	pq_buf_addf(&back, "/outbox/%lld", id);
	ret = acted(x, ret, &report, back.ptr);
	pq_buf_free(&report);
	pq_buf_free(&back);
	return ret;
}

/* A refused edit: the library's words; 404, 409 (sent or withdrawn) or 400. */
static void edit_refused(struct ctx *x, int ret)
{
	struct pq_buf none = PQ_BUF_INIT;
	int status = ret == PQ_ENOTFOUND ? 404 : ret == PQ_EPERM ? 409 : 400;

	if (x->api)
		outcome(x, status, ret, &none);
	else
		fail(x, status, pq_error_last());
}

/*
 * edit reply id: the form's subject and body through the library's check
 * (pq_outbox_edit_parts()), recorded there.
 */
static int edit_action(struct ctx *x, long long id)
{
	struct pq_buf subject = PQ_BUF_INIT, body = PQ_BUF_INIT, report = PQ_BUF_INIT,
		      back = PQ_BUF_INIT;
	int changed = 0, ret = 0;

	if (!field(x, "subject", &subject) || !field(x, "body", &body)) {
		fail(x, 422, "The form needs a subject and a body");
		goto out;
	}
	pq_buf_lf(&body, 0); /* a browser's textarea sends CRLF */
	ret = pq_outbox_edit_parts(x->env->store, id, pq_buf_str(&subject), pq_buf_str(&body),
				   x->who, x->env->now, &changed);
	pq_buf_addf(&report, "reply %lld %s", id, changed ? "edited" : "unchanged");
	pq_buf_addf(&back, "/outbox/%lld", id);
	if (ret == 0 || ret == PQ_EDB) {
		ret = acted(x, ret, &report, back.ptr);
	} else {
		edit_refused(x, ret);
		ret = 0;
	}
out:
	pq_buf_free(&subject);
	pq_buf_free(&body);
	pq_buf_free(&report);
	pq_buf_free(&back);
	return ret;
}

/* ---- the routes ---- */

/* Splits the path into decoded segments; 0, or -1 for a path the router refuses. */
static int split(struct ctx *x)
{
	const char *p = x->rq->path + 1;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (x->nseg == MAX_SEGMENTS || len == 0)
			return -1;
		if (pq_form_path(p, len, &x->seg[x->nseg]) < 0)
			return -1;
		if (!strcmp(x->seg[x->nseg].ptr ? x->seg[x->nseg].ptr : "", "..") ||
		    !x->seg[x->nseg].len)
			return -1;
		x->nseg++;
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* GET and HEAD. */
static int get(struct ctx *x)
{
	size_t n = x->nseg;

	if (n == 0 || (x->api && n == 1 && is(x, 0, "todo")))
		return todo_page(x);
	if (n == 1 && is(x, 0, "series"))
		return series_list(x);
	if (!x->api && n == 1 && is(x, 0, "desk.css")) {
		answer(x, 200, "text/css; charset=utf-8");
		pq_buf_adds(&x->rs->body, pq_html_css);
		return 0;
	}
	if (!x->api && n == 1 && is(x, 0, "login"))
		return login_page(x);
	if (!x->api && n == 1 && is(x, 0, "logout"))
		return logout_page(x);
	if (n == 2 && is(x, 0, "series") && seg_id(x, 1))
		return series_page(x, seg_id(x, 1));
	if (n == 2 && is(x, 0, "queues"))
		return queue_page(x, segment(x, 1));
	if (n == 1 && is(x, 0, "outbox"))
		return outbox_page(x);
	if (!x->api && n == 2 && is(x, 0, "outbox") && seg_id(x, 1))
		return reply_page(x, seg_id(x, 1));
	if (!x->api && n == 2 && is(x, 0, "feeds") && is(x, 1, "todo.atom"))
		return todo_feed(x);
	if (!x->api && n == 3 && is(x, 0, "feeds") && is(x, 1, "queues"))
		return queue_feed(x, segment(x, 2));
	if (!x->api && (n == 2 || (n == 3 && is(x, 2, "raw"))) && is(x, 0, "messages"))
		return message_page(x, segment(x, 1), n == 3);
	fail(x, 404, "Not found");
	return 0;
}

/* Whether the path is one of get()'s pages (a POST to it is 405, not 404). */
static int is_page(const struct ctx *x)
{
	size_t n = x->nseg;

	return n == 0 ||
	       (n == 1 && (is(x, 0, "desk.css") || is(x, 0, "outbox") || is(x, 0, "series") ||
			   is(x, 0, "todo") || is(x, 0, "login") || is(x, 0, "logout"))) ||
	       (n == 2 && (is(x, 0, "series") || is(x, 0, "queues") || is(x, 0, "outbox") ||
			   is(x, 0, "messages"))) ||
	       (n == 3 && (is(x, 0, "messages") || is(x, 0, "feeds"))) ||
	       (n == 2 && is(x, 0, "feeds"));
}

/* POST: the actions. */
static int post(struct ctx *x)
{
	size_t n = x->nseg;

	if (x->rq->body_len > PQ_DESK_BODY_MAX) {
		fail(x, 413, "The form is larger than the desk takes (64 KiB)");
		return 0;
	}
	if (!x->api && n == 1 && is(x, 0, "login"))
		return login(x);
	if (!x->api && n == 1 && is(x, 0, "logout"))
		return logout(x);
	if (!((n == 3 && is(x, 0, "series") && seg_id(x, 1) &&
	       (is(x, 2, "approve") || is(x, 2, "reject") || is(x, 2, "apply"))) ||
	      (n == 3 && is(x, 0, "queues") && is(x, 2, "rebuild")) ||
	      (n == 3 && is(x, 0, "outbox") && seg_id(x, 1) &&
	       (is(x, 2, "retry") || is(x, 2, "hold") || is(x, 2, "release") ||
		is(x, 2, "edit"))))) {
		if (is_page(x)) {
			fail(x, 405, "Method not allowed");
			pq_buf_adds(&x->rs->headers, "Allow: GET, HEAD\n");
		} else {
			fail(x, 404, "Not found");
		}
		return 0;
	}
	if (!may_act(x))
		return 0;
	if (is(x, 0, "series"))
		return series_action(x, seg_id(x, 1), segment(x, 2));
	if (is(x, 0, "queues"))
		return rebuild_action(x, segment(x, 1));
	if (is(x, 2, "edit"))
		return edit_action(x, seg_id(x, 1));
	return reply_action(x, seg_id(x, 1), segment(x, 2));
}

int pq_desk_is_action(const struct pq_desk_request *rq)
{
	return rq->method && !strcmp(rq->method, "POST");
}

int pq_desk_handle(const struct pq_desk_env *env, const struct pq_desk_request *rq,
		   struct pq_desk_response *rs)
{
	struct ctx x;
	size_t i;
	int ret = 0, head;

	memset(rs, 0, sizeof(*rs));
	memset(&x, 0, sizeof(x));
	x.env = env;
	x.rq = rq;
	x.rs = rs;
	if (!rq->method || !rq->path || rq->path[0] != '/' || split(&x) < 0) {
		fail(&x, rq->path && rq->path[0] == '/' ? 404 : 400,
		     rq->path && rq->path[0] == '/' ? "Not found" : "Bad request");
		goto out;
	}
	if (is(&x, 0, "api")) {
		/* the same routes, as JSON */
		pq_buf_free(&x.seg[0]);
		memmove(&x.seg[0], &x.seg[1], sizeof(x.seg[0]) * (x.nseg - 1));
		memset(&x.seg[x.nseg - 1], 0, sizeof(x.seg[0]));
		x.nseg--;
		x.api = 1;
	}
	if ((ret = identify(&x)) < 0) {
		ret = fail_ret(&x, ret);
		goto out;
	}
	head = !strcmp(rq->method, "HEAD");
	if (head || !strcmp(rq->method, "GET")) {
		ret = get(&x);
		etag(&x);
	} else if (!strcmp(rq->method, "POST")) {
		ret = post(&x);
	} else {
		fail(&x, 405, "Method not allowed");
		pq_buf_adds(&rs->headers, "Allow: GET, HEAD, POST\n");
	}
	/* nothing a maintainer sees is kept by a shared cache */
	pq_buf_adds(&rs->headers,
		    x.who ? "Cache-Control: private, no-cache\n" : "Cache-Control: no-cache\n");
out:
	for (i = 0; i < MAX_SEGMENTS; i++)
		pq_buf_free(&x.seg[i]);
	free(x.who);
	return ret;
}

void pq_desk_response_free(struct pq_desk_response *rs)
{
	pq_buf_free(&rs->headers);
	pq_buf_free(&rs->body);
}
