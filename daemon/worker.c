/*
 * worker: job threads for the event loop (see worker.h).
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

int job_returns_init(struct job_returns *r)
{
	memset(r, 0, sizeof(*r));
	if (pipe2(r->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

void job_returns_fini(struct job_returns *r)
{
	close(r->pipe[0]);
	close(r->pipe[1]);
	pthread_mutex_destroy(&r->lock);
}

static void give_back(struct job_returns *r, struct job *j)
{
	char one = 1;
	ssize_t n;

	j->next = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	pthread_mutex_unlock(&r->lock);
	/* a full pipe already holds a wake-up */
	do
		n = write(r->pipe[1], &one, 1);
	while (n < 0 && errno == EINTR);
}

void job_returns_run(struct job_returns *r)
{
	char drain[256];
	struct job *j, *next;

	while (read(r->pipe[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&r->lock);
	j = r->head;
	r->head = r->tail = NULL;
	pthread_mutex_unlock(&r->lock);
	for (; j; j = next) {
		next = j->next;
		j->done(j);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;

		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		j->run(j, w);
		j->ran = 1;
		give_back(w->returns, j);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int worker_start(struct worker *w, const char *name, struct job_returns *r, void *ctx)
{
	sigset_t all, old;
	int err;

	memset(w, 0, sizeof(*w));
	w->name = name;
	w->returns = r;
	w->ctx = ctx;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	/* signals are the loop's business */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		return -1;
	}
	/* top -H and /proc/PID/task/TID/comm tell the workers apart */
	pthread_setname_np(w->thread, name);
	w->start = 1;
	return 0;
}

int worker_post(struct worker *w, struct job *j)
{
	int rc = 0;

	j->next = NULL;
	j->ran = 0;
	pthread_mutex_lock(&w->lock);
	if (w->stop) {
		rc = -1;
	} else {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void worker_stop(struct worker *w)
{
	struct job *j, *next;

	if (!w->start)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	j = w->head;
	w->head = w->tail = NULL;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->start = 0;
	for (; j; j = next) {
		next = j->next;
		give_back(w->returns, j);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}
