/* recover: what a crash interrupted, finished or undone (see recover.h). */
#include "recover.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "apply.h"
#include "error.h"
#include "state.h"

/* What an interrupted application left: the branch moved or not. */
static int recover_one(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		       long long id, const char *queue, const char *old_tip, long long seen,
		       struct pq_buf *report)
{
	const struct pq_queue_conf *q = pq_apply_target(c, queue);
	struct pq_apply_plan p;
	char tip[41] = "";
	int ret;

	memset(&p, 0, sizeof(p));
	if (!q)
		return pq_state_record(s, id, queue, PQ_STATE_FAILED, pq_error_last(), NULL, 0);
	ret = pq_apply_plan_load(s, c, id, seen, &p);
	if (ret == 0)
		ret = pq_apply_plan_run(s, c, repo, q, id, old_tip[0] ? old_tip : NULL, &p,
					PQ_APPLY_CHECK, NULL);
	if (ret == 0)
		ret = pq_repo_tip(repo, q->branch, tip);
	if (ret < 0 && ret != PQ_EGIT && ret != PQ_EINVAL && ret != PQ_ENOTFOUND) {
		/* the database or the repository: the intent stays for the next run */
		pq_apply_plan_free(&p);
		return ret;
	}
	if (ret < 0) {
		pq_apply_plan_free(&p);
		return pq_state_record(s, id, queue, PQ_STATE_FAILED, pq_error_last(), NULL, 0);
	}
	if (!strcmp(tip, p.tip)) {
		pq_buf_addf(report, "series %lld: found on %s, recorded\n", id, queue);
		ret = pq_apply_record_applied(s, c, queue, &p);
	} else if (!strcmp(tip, old_tip)) {
		/* the application was asked for (a maintainer, or a rule): it stands */
		pq_buf_addf(report,
			    "series %lld: %s never moved, the application will be tried "
			    "again\n",
			    id, queue);
		ret = pq_state_record(s, id, queue, PQ_STATE_APPROVED, NULL, NULL, 0);
	} else {
		pq_buf_addf(report, "series %lld: %s moved meanwhile (at %.12s, not %.12s)\n", id,
			    queue, tip, p.tip);
		ret = pq_state_record(s, id, queue, PQ_STATE_FAILED,
				      "the branch moved during the application", NULL, 0);
	}
	pq_apply_plan_free(&p);
	return ret;
}

int pq_recover_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		   struct pq_buf *report)
{
	sqlite3_stmt *st =
		pq_store_stmt(s, "SELECT series_id, queue, coalesce(tip, ''), coalesce(seen, 0)"
				 " FROM series_queue WHERE state = ? ORDER BY updated");
	struct todo {
		long long id;
		char *queue;
		char *tip;
		long long seen;
	} *todo = NULL;
	size_t n = 0, i;
	int ret = 0, rc;

	if (!st)
		return PQ_EDB;
	pq_store_bind_text(st, 1, pq_state_name(PQ_STATE_APPLYING));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		todo = pq_reallocarray(todo, n + 1, sizeof(*todo));
		todo[n].id = sqlite3_column_int64(st, 0);
		todo[n].queue = pq_strdup(pq_store_col_text(st, 1));
		todo[n].tip = pq_strdup(pq_store_col_text(st, 2));
		todo[n].seen = sqlite3_column_int64(st, 3);
		n++;
	}
	if (rc != SQLITE_DONE)
		ret = pq_store_error(s, "reading interrupted applications");
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if (!ret)
			ret = recover_one(s, c, repo, todo[i].id, todo[i].queue, todo[i].tip,
					  todo[i].seen, report);
		free(todo[i].queue);
		free(todo[i].tip);
	}
	free(todo);
	return ret;
}
