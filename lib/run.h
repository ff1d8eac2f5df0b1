/*
 * run: runs one child process to its end; the only way libpatchq runs a
 * program (git apply for the applier, sendmail for the outbox).
 *
 * Modelled on git's run-command: an argv, never a shell; an environment
 * made from ours with the caller's changes, and always LC_ALL=C with
 * LANGUAGE unset, so what the program says is untranslated and can be
 * parsed; stdin fed from memory, stdout and stderr captured to bounded
 * buffers; a deadline, and a cancel callback, past which the child's whole
 * process group is killed.
 *
 * The child is the leader of a process group of its own, starts with no
 * signal blocked and every signal at its default action (SIGPIPE fatal,
 * whatever the calling thread blocks or the process ignores), and holds
 * only fds 0, 1 and 2: every other descriptor of ours is closed in it. Its
 * stdin is a socket written with MSG_NOSIGNAL, so a child that exits
 * without reading cannot kill us with SIGPIPE; nothing about the calling
 * thread's signals is changed. Thread-safe.
 */
#ifndef PQ_RUN_H
#define PQ_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* What to run and how; the caller's, only read during the call. */
struct pq_run_opts {
	/* NULL-terminated; argv[0] is the program: a path when it holds a '/'
	 * (relative to dir), else looked up in our PATH. */
	const char *const *argv;
	/* NULL, or NULL-terminated changes to our environment: "NAME=VALUE"
	 * sets NAME, "NAME" (no '=') removes it. LC_ALL=C and no LANGUAGE
	 * are applied last, whatever env says. */
	const char *const *env;
	const char *dir; /* the child's working directory; NULL: ours */
	/* in_len bytes given to the child's stdin, then end of file; NULL
	 * (with in_len 0): stdin is /dev/null. Bytes the child leaves unread
	 * when it exits are dropped; that is not an error. */
	const char *in;
	size_t in_len;
	size_t out_max;	 /* bytes of stdout kept in result->out; the rest is read and dropped */
	size_t err_max;	 /* the same for stderr and result->err */
	int err_to_out;	 /* 1: stderr goes where stdout goes, interleaved, into out under out_max */
	long timeout_ms; /* the deadline, from the start; must be > 0 */
	/* NULL, or called at least every 100 ms while the child runs; when it
	 * returns nonzero the child's process group is killed. */
	int (*cancel)(void);
};

/* What became of the child; the caller owns it and frees it with pq_run_result_free(). */
struct pq_run_result {
	int status;	     /* the exit status 0..255; -1 when a signal ended the child */
	int signal;	     /* the signal that ended it; 0 when it exited */
	int timed_out;	     /* 1: killed (SIGKILL to its group) at the deadline */
	int cancelled;	     /* 1: killed the same way because cancel() asked */
	struct pq_buf out;   /* the first out_max bytes of its stdout (may hold NULs) */
	struct pq_buf err;   /* the first err_max bytes of its stderr; empty with err_to_out */
	int out_truncated;   /* 1: more than out_max bytes came; the rest was dropped */
	int err_truncated;   /* the same for err */
	int64_t duration_ms; /* from just before the start to the child reaped */
};

/*
 * Runs opts->argv as described above and waits for it. Returns 0 once the
 * child was started and reaped, whatever its exit: res says how it ended
 * (and which of timed_out and cancelled, at most one, is why it was
 * killed). A child that exits leaving a process that still holds its
 * stdout or stderr open does not hold us up: what it wrote before exiting
 * is kept, the rest is not waited for, and the process left over is not
 * killed (a sendmail may deliver in the background). When the child is
 * killed at the deadline or on cancel its whole process group goes with
 * it, and we stop reading at once.
 * Errors, with res emptied (pq_run_result_free() is still safe) and no
 * child left behind: PQ_EINVAL for no argv or program, a timeout_ms <= 0,
 * or in NULL with in_len > 0; PQ_EIO when it cannot be started ("cannot
 * run PROGRAM: No such file or directory"; also for no pipes or a bad
 * dir: "cannot run PROGRAM in DIR: ...") or cannot be reaped ("cannot
 * wait for PROGRAM: ...", as when the process ignores SIGCHLD).
 */
int pq_run_command(struct pq_run_result *res, const struct pq_run_opts *opts);

/* Frees the buffers of res (not res itself) and empties it; safe to call twice. */
void pq_run_result_free(struct pq_run_result *res);

#endif
