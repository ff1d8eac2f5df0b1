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
 * "reused", "sandbox"}. Returns 0 or PQ_EDB.
 */
int pq_checks_list(struct pq_store *s, long long id, const char *queue, int json,
		   struct pq_buf *out);

#endif
