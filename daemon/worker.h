/*
 * worker: a thread that runs jobs one after the other for the event loop.
 *
 * The loop thread never blocks on the network, the database or git: it
 * queues a job on a worker, and when the job has run, the job comes back
 * to the loop (through a pipe the loop watches) and its done() runs there.
 * patchqd has two workers: one for the sources (fetching and ingesting
 * mail, in short transactions) and one for git (triage, application,
 * rebuilds), so a long rebuild never delays ingestion.
 */
#ifndef PQ_WORKER_H
#define PQ_WORKER_H

#include <pthread.h>

struct worker;

struct job {
	struct job *next;
	void (*run)(struct job *j, struct worker *w); /* on the worker thread */
	void (*done)(struct job *j);		      /* back on the loop thread */
	int ran;				      /* run() was called */
};

/* Where finished jobs wait for the loop. */
struct job_returns {
	pthread_mutex_t lock;
	struct job *head, *tail;
	int pipe[2]; /* a byte written to [1] wakes the loop, which reads [0] */
};

struct worker {
	const char *name;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	int stop;  /* finish the running job, drop the rest, exit */
	int start; /* the thread was started */
	struct job_returns *returns;
	void *ctx; /* the owner's per-thread state (database connection, ...) */
};

int job_returns_init(struct job_returns *r);
void job_returns_fini(struct job_returns *r);
/* On the loop: runs done() of every returned job; call when pipe[0] is readable. */
void job_returns_run(struct job_returns *r);

/* Starts the thread (all signals blocked in it). */
int worker_start(struct worker *w, const char *name, struct job_returns *r, void *ctx);
/* Queues j; returns -1 (j not queued) once the worker is stopping. */
int worker_post(struct worker *w, struct job *j);
/*
 * Stops the worker after its running job and waits for it. Jobs still
 * queued are handed back with ran 0: their done() runs at the next
 * job_returns_run(), and must expect that.
 */
void worker_stop(struct worker *w);

#endif
