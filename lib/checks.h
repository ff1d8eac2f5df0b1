/*
 * checks: the maintainers' checks ([check "NAME"] in the configuration)
 * run on the tree a series makes on a queue, results stored.
 *
 * The series is applied in memory on the queue's tip (apply.h, the
 * branch never moves; the commits made are written to the repository as
 * a rebuild's are, unreferenced) and the resulting tree is materialised
 * (libgit2 checkout with a target directory, the repository's index and
 * work tree untouched) in a fresh directory under config->check_dir,
 * which patchq owns: each run's directory is named after the process
 * ("PID.XXXXXX") and removed when the command ends; one left by a
 * process that no longer exists is removed at the start of the next run.
 *
 * The command runs through run.h (the one child runner): argv as
 * configured, no shell; the work tree as its current directory and its
 * HOME; an environment of ours cut down to PATH, USER, LOGNAME, TZ,
 * RUSTUP_HOME, CARGO_HOME and RUSTUP_TOOLCHAIN, plus PATCHQ_SERIES (the
 * series id), PATCHQ_QUEUE and, per patch, PATCHQ_PATCH (a file holding
 * the patch as a mail: From, Subject, the message, "---", the diff) and
 * PATCHQ_PATCH_INDEX; stdin /dev/null; stdout and stderr together, the
 * first 1 MiB kept and its last 4 KiB stored; killed with its whole
 * process group at the check's timeout or when a stop is requested
 * (stop.h). Where bwrap (bubblewrap) is in PATH and works, the command
 * runs under it: the root read-only, /dev, /proc, a private /tmp, the
 * work tree writable, no network, its own pid namespace (everything it
 * started dies with it), and PATCHQ_PATCH bound read-only; otherwise it
 * runs as ourselves ("no sandbox" in the report).
 *
 * A check per series runs on the tree of the whole series; per patch,
 * once for each patch i on the tree after patches 1..i. A result is
 * keyed by check name, command, tree id and patch index: when one is
 * stored (for any series or queue) with state pass, fail or timeout, it
 * is copied, not run again. "error" (the command could not be run, the
 * tree not made) is never reused.
 */
#ifndef PQ_CHECKS_H
#define PQ_CHECKS_H

#include "buf.h"
#include "config.h"
#include "repo.h"
#include "store.h"

struct pq_checks_claims;

/*
 * Runs every enabled check of config c that runs on queue (pq_config_check_on())
 * on series id applied on queue's tip, stores each result (replacing the
 * series' earlier one for the same queue, check and patch), and appends a
 * line per result to report: "NAME [patch N]: STATE (exit E, S.Ss[,
 * reused][, no sandbox])" followed by the output's last lines for one
 * that did not pass. A stop request (stop.h) kills the running command
 * and ends the pass: nothing is stored for that check, "stopped" is
 * reported, and 0 returned.
 * Returns 0 when every check ran (whatever they found), PQ_EINVAL (no such
 * queue, or a frozen one; an incomplete series), PQ_ENOTFOUND (no such
 * series; neither the queue's branch nor its base exists), PQ_EGIT (the
 * series does not apply there: nothing run, the reason in pq_error_last()),
 * PQ_EIO (checkDir cannot be made), PQ_EDB. No directory of this run is
 * left behind on any return.
 */
int pq_checks_run(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo, long long id,
		  const char *queue, struct pq_buf *report);

/*
 * The stored results of series id (on queue only, unless NULL), by queue,
 * check name and patch, appended to out: text, one line each with the
 * output's tail indented below one that did not pass; or (json) a list of
 * objects {"name", "queue", "patch" (index or null), "state", "exit"
 * (status or null), "seconds", "output", "tree", "ran" (unix time),
 * "reused", "sandbox"}. Returns how many results did not pass (0 when
 * all passed or there are none), or PQ_EDB.
 */
int pq_checks_list(struct pq_store *s, long long id, const char *queue, int json,
		   struct pq_buf *out);

struct pq_json;
/* The same list as a JSON array value written into j (show --json's "check_results"). Returns 0 or PQ_EDB. */
int pq_checks_json(struct pq_store *s, long long id, const char *queue, struct pq_json *j);

/*
 * Holding automatic application for the checks. A series a rule would
 * apply automatically on queue waits there (queued, series_queue.held
 * PQ_CHECKS_WAIT) when the rule says `checks = pass` and some enabled
 * check runs on the queue, or when a blocking check runs on it.
 * pq_checks_pass() runs them; then the pipeline (pq_checks_settle())
 * applies it (all the checks the hold waits for passed: every one with
 * `checks = pass`, the blocking ones otherwise) or leaves it to a
 * maintainer, held with "held: check NAME failed ..." (why and the
 * to-do say so).
 */
#define PQ_CHECKS_WAIT_WHY "checks to pass first"
#define PQ_CHECKS_WAIT "held: " PQ_CHECKS_WAIT_WHY
#define PQ_CHECKS_HELD_PREFIX "held: check"

/* Whether rule r's automatic application on queue waits for checks: 1 or 0. */
int pq_checks_required(const struct pq_config *c, const struct pq_rule_conf *r, const char *queue);

/*
 * The checks' pass: on every queue an enabled check runs on, the series
 * waiting there (queued or approved) whose dry run applied on the queue's
 * tip and that lack a result on that tip of some check as configured now
 * (never checked there, or a check added or its command or per changed
 * since), oldest first, at most max of them in all (the others wait for
 * the next pass): pq_checks_run() on each (what it ran before on the same
 * tree is reused, not run again). It writes results, never a branch:
 * patchqd runs it on a worker of its own, so that a long build holds up
 * neither the pipeline nor the desk. report gets
 * what ran. A failure that is the series' (it no longer applies, checkDir
 * cannot be made) is reported and the pass goes on; a stop request ends
 * it. claims (may be NULL) is shared with the passes running at the same
 * time (below). Returns how many series were checked (>= 0), or PQ_EDB, or
 * the repository's error.
 */
int pq_checks_pass(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo, size_t max,
		   struct pq_checks_claims *claims, struct pq_buf *report);

/*
 * The series several check workers (patchq.checkJobs) have in hand, so
 * that two never take the same one: pq_checks_pass() with claims skips a
 * series another pass holds on the same queue. Thread-safe. Never NULL
 * (aborts on no memory); free once no pass uses it.
 */
struct pq_checks_claims *pq_checks_claims_new(void);
void pq_checks_claims_free(struct pq_checks_claims *cl);

/*
 * The pipeline's part: every series held for its checks on a queue whose
 * checks have results on the queue's tip is applied (they all passed) or
 * left to a maintainer, held with "held: check NAME failed (patchq
 * checks ID)"; report gets a line each. Returns 0, PQ_EDB, or the
 * repository's error.
 */
int pq_checks_settle(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		     struct pq_buf *report);

#endif
