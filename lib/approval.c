/* approval: a maintainer's decisions on a series (see approval.h). */
#include "approval.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "apply.h"
#include "elsewhere.h"
#include "error.h"
#include "outbox.h"
#include "reply.h"
#include "series.h"
#include "state.h"

/* The queue a rejection reply of series id is about: the first it was taken for (NULL: none). */
static int first_queue(struct pq_store *s, long long id, char **q)
{
	char **queues;
	size_t n, i;
	int ret = pq_state_queues(s, id, &queues, &n);

	*q = NULL;
	if (ret < 0)
		return ret;
	if (n)
		*q = queues[0];
	for (i = 1; i < n; i++)
		free(queues[i]);
	free(queues);
	return 0;
}

/*
 * The rejection, the withdrawal of the series' unsent replies (there, or
 * everywhere) and, with c, the reply saying so: one transaction.
 */
static int reject(struct pq_store *s, const struct pq_config *c, long long id, const char *queue,
		  const char *reason, int64_t now, long long *reply)
{
	struct pq_reply_about a = { .rejected = reason, .now = now, .asked = 1 };
	struct pq_series *se = NULL;
	char *about = NULL;
	int ret;

	if (c) {
		if (!reason || !*reason)
			return pq_error_set(PQ_EINVAL, "a rejection's reply needs its --reason");
		if (queue && !pq_config_queue(c, queue))
			return pq_error_set(PQ_EINVAL, "no queue \"%s\" in %s", queue, c->path);
		if (queue)
			about = pq_strdup(queue);
		else if ((ret = first_queue(s, id, &about)) < 0)
			return ret;
		if (!about)
			return pq_error_set(PQ_EINVAL,
					    "series %lld was taken for no queue: give the"
					    " --queue the reply is about",
					    id);
		if ((ret = pq_series_load_conf(s, c, id, 0, &se)) < 0)
			goto out;
		a.series = se;
		a.queue = about;
	}
	if ((ret = pq_store_begin(s)) < 0)
		goto out;
	ret = queue ? pq_state_set_queue(s, id, queue, PQ_STATE_REJECTED, reason, NULL, 0)
		    : pq_state_reject_everywhere(s, id, reason);
	if (!ret)
		ret = pq_state_set_series(s, id, PQ_STATE_REJECTED);
	/* what was to go out about it no longer goes (a "please rebase") */
	if (!ret)
		ret = pq_outbox_withdraw(s, id, queue, NULL);
	if (!ret && c)
		ret = pq_reply_record_id(s, c, &a, reply);
	if (ret < 0) {
		pq_store_rollback(s);
		goto out;
	}
	ret = pq_store_commit(s);
out:
	pq_series_free(se);
	free(about);
	return ret;
}

int pq_approval_reject(struct pq_store *s, long long id, const char *queue, const char *reason)
{
	return reject(s, NULL, id, queue, reason, 0, NULL);
}

int pq_approval_reject_reply(struct pq_store *s, const struct pq_config *c, long long id,
			     const char *queue, const char *reason, int64_t now, long long *reply)
{
	*reply = 0;
	return reject(s, c, id, queue, reason, now, reply);
}

int pq_approval_grant(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		      long long id, const char *queue, struct pq_buf *report)
{
	struct pq_series *se;
	int ret, complete, missing;

	if (!pq_apply_target(c, queue))
		return PQ_EINVAL;
	if ((ret = pq_series_load(s, id, &se)) < 0)
		return ret;
	complete = se->complete;
	missing = se->total - se->received;
	pq_series_free(se);
	if ((ret = pq_state_record(s, id, queue, PQ_STATE_APPROVED, NULL, NULL, 0)) < 0)
		return ret;
	if (!complete) {
		pq_buf_addf(report,
			    "series %lld: approval recorded for %s; it goes in once its"
			    " %d missing patch(es) arrive (patchq triage)\n",
			    id, queue, missing);
		return 0;
	}
	if ((ret = pq_apply_series(s, c, repo, id, queue, 0, report)) < 0)
		return ret;
	pq_buf_addf(report, "series %lld approved and applied on %s\n", id, queue);
	return 0;
}

/* Whether any message of series id is marked RFC: 1 or 0 into *rfc. */
static int series_rfc(struct pq_store *s, long long id, int *rfc)
{
	long long n;
	int ret = pq_store_scalar_id(s, "SELECT count(*) FROM message WHERE series_id = ? AND rfc",
				     id, &n);

	*rfc = n > 0;
	return ret;
}

int pq_approval_warnings(struct pq_store *s, long long id, struct pq_buf *warning)
{
	struct pq_elsewhere_taken taken;
	struct pq_series *se;
	int ret, rfc;

	if ((ret = pq_series_load(s, id, &se)) < 0)
		return ret;
	if (se->superseded_by)
		pq_buf_addf(warning, "series %lld is superseded by its newer version, series %lld",
			    id, se->superseded_by);
	else if (se->state && !strcmp(se->state, pq_state_name(PQ_STATE_SUPERSEDED)))
		pq_buf_addf(warning, "series %lld is superseded by a newer version", id);
	pq_series_free(se);
	if ((ret = series_rfc(s, id, &rfc)) < 0)
		return ret;
	if (rfc)
		pq_buf_addf(warning, "%sseries %lld is an RFC (a request for comments)",
			    warning->len ? "; " : "", id);
	if ((ret = pq_elsewhere_find(s, id, &taken)) < 0)
		return ret;
	if (ret) {
		pq_buf_addf(warning, "%sseries %lld was ", warning->len ? "; " : "", id);
		pq_elsewhere_describe(&taken, warning);
		pq_elsewhere_taken_free(&taken);
	}
	return 0;
}
