/*
 * desk: the maintainer's desk (see desk.h).
 */
#include "desk.h"

#include <string.h>

#include "error.h"
#include "html.h"

static void respond(struct pq_desk_response *rs, int status, const char *type)
{
	rs->status = status;
	rs->content_type = type;
}

/* A plain page for an error status: what went wrong, escaped. */
static void error_page(struct pq_desk_response *rs, int status, const char *what)
{
	pq_buf_reset(&rs->body);
	respond(rs, status, "text/html; charset=utf-8");
	pq_html_begin(&rs->body, what, NULL);
	pq_html_end(&rs->body);
}

int pq_desk_is_action(const struct pq_desk_request *rq)
{
	return rq->method && !strcmp(rq->method, "POST");
}

int pq_desk_handle(const struct pq_desk_env *env, const struct pq_desk_request *rq,
		   struct pq_desk_response *rs)
{
	(void)env;
	memset(rs, 0, sizeof(*rs));
	if (!rq->path || rq->path[0] != '/') {
		error_page(rs, 400, "Bad request");
		return 0;
	}
	if (!strcmp(rq->path, "/desk.css")) {
		if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
			error_page(rs, 405, "Method not allowed");
			pq_buf_adds(&rs->headers, "Allow: GET, HEAD\n");
			return 0;
		}
		respond(rs, 200, "text/css; charset=utf-8");
		pq_buf_adds(&rs->body, pq_html_css);
		return 0;
	}
	error_page(rs, 404, "Not found");
	return 0;
}

void pq_desk_response_free(struct pq_desk_response *rs)
{
	pq_buf_free(&rs->headers);
	pq_buf_free(&rs->body);
}
