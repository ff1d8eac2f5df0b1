/*
 * patchqd: the daemon that keeps the queues while nobody watches.
 *
 * One libevent loop owns the sources (IMAP connections in IDLE, maildirs
 * under inotify, public-inbox archives), the timers and the signals. It
 * never blocks: the work goes to two worker threads (worker.h), one that
 * fetches and ingests mail in short transactions, one that runs the
 * pipeline (triage, dry-run checks, automatic application, the rebuild of
 * rebuildable queues when their base moves or a series on them has a newer
 * version, the replies to the list). Every stage records its result in
 * the database, and a source's position is committed with the
 * messages it covers, so kill -9 at any moment loses and repeats nothing.
 * With [check] sections the "check" workers (patchq.checkJobs, one by
 * default) run the checks (checks.h) of what waits on the queues, one
 * series a job each, after each pipeline pass: a long build holds up
 * neither the pipeline nor the desk, and SIGTERM kills the running checks
 * with everything they started.
 *
 * With [http] (or a socket systemd hands over) the loop also serves the
 * desk (httpd.h): two more workers, "http", answer the pages, each
 * from its own database connection, and the desk's actions run on the git
 * worker.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "alloc.h"
#include "buf.h"
#include "checks.h"
#include "config.h"
#include "error.h"
#include "httpd.h"
#include "pipeline.h"
#include "repo.h"
#include "sd.h"
#include "source.h"
#include "stop.h"
#include "store.h"
#include "worker.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* Messages per ingest job: one transaction, and a bound on how long a job holds its source. */
#define CHUNK 200
/* Watchdog intervals of database failures after which the watchdog is no longer fed. */
#define NO_PROGRESS_TICKS 3
/* A job that has not come back after this long is stuck (a rebuild of a big queue takes minutes). */
#define JOB_STUCK_SEC (15 * 60)
/* IDLE is re-issued this often (RFC 2177: servers may drop it after 30 minutes). */
#define IDLE_REFRESH_SEC 1200
/* After a database error a source tries again within this. */
#define DB_RETRY_MAX_SEC 10
/* Reconnection backoff doubles up to this. */
#define BACKOFF_MAX_SEC 300
/* The pipeline also runs this often, to see queues moved by `patchq approve`. */
#define PIPELINE_TICK_SEC 60
/* Worker threads that read the desk's pages, each with its connection (WAL: they read at once). */
#define HTTP_READERS 2
/* READY=1 at the latest this long after start, even when a source is slow to answer. */
#define READY_WAIT_SEC 15

static const char usage_text[] =
	"usage: patchqd [-c FILE] [--check-config]\n"
	"\n"
	"patchqd reads patch mail from the sources of the configuration (IMAP with\n"
	"IDLE, maildirs, public-inbox archives), records it in the database, and\n"
	"keeps the queues: every complete series is checked against every queue,\n"
	"the rules queue it, and it is applied at once where a rule lets it go in\n"
	"automatically; a queue that is rebuilt (rust-dev) is rebuilt when its base\n"
	"moves or a series on it has a newer version. The replies to the list that\n"
	"the applications wrote go out through [smtp], retried while the server\n"
	"answers 4xx. Maintainers approve, reject and inspect with patchq(1) on the\n"
	"same database, beside the daemon.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   the configuration (default /etc/patchq/patchq.conf);\n"
	"                      see contrib/patchq.conf.example for [source] sections\n"
	"      --check-config  load the configuration, report the first problem with\n"
	"                      its file and line, and exit (0 when it is good)\n"
	"  -h, --help          this text\n"
	"  -V, --version       the version\n"
	"\n"
	"Signals:\n"
	"  SIGHUP    reload the configuration; a bad one is reported and the\n"
	"            running one kept\n"
	"  SIGTERM   finish the running transaction and exit 0 (SIGINT too); an\n"
	"            IMAP read in progress is cut at once\n"
	"\n"
	"systemd: run it as Type=notify (contrib/patchqd.service): READY=1 once the\n"
	"database is open and every source has been tried, STATUS= with the\n"
	"backlog, WATCHDOG=1 when WatchdogSec= is set. Logs go to standard error,\n"
	"with syslog priorities when journald reads it. An IMAP password comes from\n"
	"passwordFile, or from credential: a file in $CREDENTIALS_DIRECTORY\n"
	"(LoadCredential=).\n"
	"\n"
	"The desk: with an [http] section patchqd serves the maintainer's desk on\n"
	"its listen address (logged at start: \"desk at http://127.0.0.1:8080/\"),\n"
	"or on the socket systemd hands over (contrib/patchqd.socket).\n"
	"\n"
	"Exit status: 0 after SIGTERM, 1 when the configuration or the database\n"
	"cannot be used at start, 2 for a usage error.\n";

/* The configuration, shared by the jobs that started under it (loop thread only). */
struct conf_ref {
	struct pq_config *c;
	int refs;
};

static struct conf_ref *conf_hold(struct conf_ref *r)
{
	r->refs++;
	return r;
}

static void conf_drop(struct conf_ref *r)
{
	if (r && --r->refs == 0) {
		pq_config_free(r->c);
		free(r);
	}
}

/* A worker's own database connection, opened on its thread. */
struct thread_db {
	struct pq_store *store;
	char *path;
};

static struct pq_store *db_for(struct thread_db *db, const char *path)
{
	if (db->store && !strcmp(db->path, path))
		return db->store;
	pq_store_close(db->store);
	free(db->path);
	db->store = NULL;
	db->path = NULL;
	if (pq_store_open(&db->store, path) < 0)
		return NULL;
	db->path = pq_strdup(path);
	return db->store;
}

static void db_close(struct thread_db *db)
{
	pq_store_close(db->store);
	free(db->path);
	db->store = NULL;
	db->path = NULL;
}

/*
 * After a database error the connection is closed, and the next job opens
 * it again: an I/O error (a full disk, a lost file system) can leave a
 * connection that fails for ever while a new one works.
 */
static void db_after(struct thread_db *db, int rc)
{
	if (rc == PQ_EDB)
		db_close(db);
}

struct daemon;

/*
 * One source: an IMAP mailbox, a maildir or a public-inbox archive, read
 * through source.h. It has one job, which is either queued or running
 * (busy) or idle; the reader and the fields below "results" are the job's
 * while it runs, the loop's between runs.
 */
struct source {
	struct source *next;
	struct daemon *d;
	struct conf_ref *cfg;
	const struct pq_source_conf *sc;
	char *name; /* its cursor's name in the database, and in logs */
	struct pq_source *reader;
	struct job job;
	int busy;	     /* the job is queued or running */
	time_t since;	     /* when it was queued (monotonic seconds) */
	time_t db_failing;   /* see db_health() */
	int again;	     /* something happened meanwhile: run once more */
	_Atomic int closing; /* removed by a reload or by stopping (read by the running job) */
	int tried;	     /* the first job has finished */
	int failing;	     /* the last job failed (logged once until it works again) */
	int backoff;	     /* seconds before the next attempt after a failure */
	struct event *timer;
	struct event *watch; /* the IDLE socket or the inotify descriptor */
	int inotify_fd;
	int idle_fd;	/* >= 0: the reader waits in IDLE on this socket (loop's copy) */
	size_t backlog; /* messages waiting after the last run (loop's copy) */

	/* results of the last run */
	int rc;
	char err[512];
	struct pq_source_stats st;
	int pending; /* the server spoke during IDLE start: fetch again */
};

/* The pipeline (pipeline.h): recovery, triage, rebuilds, the replies. */
struct pipeline {
	struct job job;
	struct daemon *d;
	struct conf_ref *cfg;
	int busy, again;
	time_t since;	   /* when the running pass was queued (monotonic seconds) */
	time_t db_failing; /* see db_health() */
	int recovered;	   /* recovery has run since start */
	struct pq_buf report;
	int rc;
	char err[512];
};

/*
 * The checks (checks.h), on workers of their own (patchq.checkJobs, read
 * at start), one series a job: a long build holds up neither the pipeline
 * nor the desk's actions, and the pipeline applies what waited for them at
 * its next pass. The claims keep two workers off the same series.
 */
struct checker {
	struct job job;
	struct daemon *d;
	struct conf_ref *cfg;
	int busy, again;
	int checked; /* series the last job checked (the worker writes it before done) */
	struct pq_buf report;
	int rc;
	char err[512];
};

struct daemon {
	struct event_base *base;
	const char *conf_path;
	struct conf_ref *cfg;
	struct job_returns returns;
	struct event *returns_ev;
	struct worker ingest, git, check[PQ_CHECK_JOBS_MAX], http[HTTP_READERS];
	struct thread_db ingest_db, git_db, check_db[PQ_CHECK_JOBS_MAX], http_db[HTTP_READERS];
	struct httpd *httpd; /* NULL: no desk */
	int listen_fds;	     /* sockets systemd handed over */
	struct source *sources;
	struct pipeline pipe;
	struct checker checkers[PQ_CHECK_JOBS_MAX];
	size_t ncheckers; /* check workers started */
	struct pq_checks_claims *claims;
	struct event *sig_hup, *sig_term, *sig_int, *watchdog, *tick, *ready_timer;
	int stopping, ready;
	unsigned long long stored, read;
	int starved; /* the watchdog is no longer fed (logged once) */
};

static void source_post(struct source *src);
static void pipeline_kick(struct daemon *d);
static void checker_kick(struct daemon *d);
static void checker_post(struct daemon *d, struct checker *k);

static time_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Since when a job's runs have failed on the database (0: the last one did
 * not), per job: a pass that only reads may work while every write fails.
 */
static void db_health(time_t *failing, int rc)
{
	if (rc != PQ_EDB)
		*failing = 0;
	else if (!*failing)
		*failing = now_sec();
}

/* ---- status ---- */

static void status_update(struct daemon *d)
{
	struct pq_buf b = PQ_BUF_INIT;
	size_t n = 0, up = 0, backlog = 0;
	struct source *src;

	for (src = d->sources; src; src = src->next) {
		if (src->closing)
			continue;
		n++;
		up += src->tried && !src->failing;
		backlog += src->backlog;
	}
	pq_buf_addf(&b,
		    "STATUS=%zu of %zu sources up, backlog %zu messages, %llu stored since start%s",
		    up, n, backlog, d->stored, d->pipe.busy ? ", pipeline running" : "");
	pq_notify(b.ptr);
	pq_buf_free(&b);
}

static void maybe_ready(struct daemon *d)
{
	struct source *src;

	if (d->ready || d->stopping)
		return;
	for (src = d->sources; src; src = src->next)
		if (!src->closing && !src->tried)
			return;
	d->ready = 1;
	pq_notify("READY=1");
	pq_log(LOG_INFO, "ready");
	status_update(d);
}

static void on_ready_timer(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	if (!d->ready) {
		pq_log(LOG_WARNING, "a source is slow to answer; ready without it");
		d->ready = 1;
		pq_notify("READY=1");
		status_update(d);
	}
}

/* ---- sources: the jobs, on the ingest worker ---- */

/* A reader's warning (a file skipped, UIDVALIDITY changed), on the worker. */
static void on_source_warning(void *ctx, const char *msg)
{
	struct source *src = ctx;

	pq_log(LOG_WARNING, "%s: %s", src->name, msg);
}

/* Reads a chunk after the cursor; with nothing more waiting, an IMAP reader goes into IDLE. */
static void source_run(struct job *j, struct worker *w)
{
	struct source *src = container_of(j, struct source, job);
	struct pq_store *s;

	src->rc = 0;
	src->err[0] = '\0';
	src->pending = 0;
	memset(&src->st, 0, sizeof(src->st));
	if (src->closing) {
		pq_source_free(src->reader); /* logs out here, not on the loop */
		src->reader = NULL;
		return;
	}
	s = db_for(w->ctx, src->cfg->c->database);
	if (!s) {
		src->rc = PQ_EDB;
	} else {
		src->rc = pq_source_read(src->reader, s, CHUNK, &src->st);
		if (src->rc == 0 && !src->st.more && pq_source_can_idle(src->reader))
			src->rc = pq_source_idle_start(src->reader, &src->pending);
	}
	if (src->rc < 0)
		snprintf(src->err, sizeof(src->err), "%s", pq_error_last());
	db_after(w->ctx, src->rc);
}

/* ---- sources: on the loop ---- */

static void source_free(struct source *src)
{
	struct source **pp;

	for (pp = &src->d->sources; *pp; pp = &(*pp)->next) {
		if (*pp == src) {
			*pp = src->next;
			break;
		}
	}
	if (src->timer)
		event_free(src->timer);
	if (src->watch)
		event_free(src->watch);
	if (src->inotify_fd >= 0)
		close(src->inotify_fd);
	pq_source_free(src->reader);
	conf_drop(src->cfg);
	free(src->name);
	free(src);
}

static void on_source_timer(evutil_socket_t fd, short what, void *arg)
{
	source_post(arg);
}

/* The IDLE socket spoke (or the refresh time passed): leave IDLE and fetch. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	source_post(arg);
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	source_post(arg);
}

static void source_done(struct job *j)
{
	struct source *src = container_of(j, struct source, job);
	struct daemon *d = src->d;
	struct timeval tv = { 0, 0 };

	src->busy = 0;
	src->idle_fd = src->reader ? pq_source_idle_fd(src->reader) : -1;
	if (src->closing || !j->ran) {
		if (pq_source_connected(src->reader) && !d->stopping) {
			src->busy = 1; /* once more, to log out on the worker */
			src->since = now_sec();
			if (worker_post(&d->ingest, &src->job) == 0)
				return;
		}
		source_free(src);
		maybe_ready(d);
		return;
	}
	src->tried = 1;
	src->backlog = src->st.backlog;
	if (src->rc == 0) { /* a failed job's batch was rolled back */
		d->read += src->st.ingest.read;
		d->stored += src->st.ingest.stored;
	}
	if (src->rc == 0 && src->st.ingest.stored) {
		pq_log(LOG_INFO, "%s: %zu new message%s%s", src->name, src->st.ingest.stored,
		       src->st.ingest.stored == 1 ? "" : "s",
		       src->st.more ? " (more to read)" : "");
		pipeline_kick(d);
	}
	db_health(&src->db_failing, src->rc);
	if (src->rc < 0) {
		if (!src->failing || src->backoff >= BACKOFF_MAX_SEC)
			pq_log(LOG_ERR, "%s: %s", src->name, src->err);
		src->failing = 1;
		src->backoff = src->backoff ? src->backoff * 2 : 1;
		if (src->backoff > BACKOFF_MAX_SEC)
			src->backoff = BACKOFF_MAX_SEC;
		/* the database is local: tried again soon, so a disk that was
		 * cleared is noticed without a server's patience */
		if (src->rc == PQ_EDB && src->backoff > DB_RETRY_MAX_SEC)
			src->backoff = DB_RETRY_MAX_SEC;
		tv.tv_sec = src->backoff;
		evtimer_add(src->timer, &tv);
	} else {
		if (src->failing)
			pq_log(LOG_NOTICE, "%s: working again", src->name);
		src->failing = 0;
		src->backoff = 0;
		if (src->again || src->st.more || src->pending) {
			source_post(src);
		} else if (src->idle_fd >= 0) {
			tv.tv_sec = IDLE_REFRESH_SEC;
			if (src->watch)
				event_free(src->watch);
			src->watch = event_new(d->base, src->idle_fd, EV_READ, on_idle, src);
			event_add(src->watch, &tv);
		} else {
			tv.tv_sec = src->sc->poll_interval;
			evtimer_add(src->timer, &tv);
		}
	}
	maybe_ready(d);
	status_update(d);
}

static void source_post(struct source *src)
{
	struct daemon *d = src->d;

	if (src->closing || d->stopping)
		return;
	if (src->busy) {
		src->again = 1;
		return;
	}
	evtimer_del(src->timer);
	if (src->watch && src->idle_fd >= 0)
		event_del(src->watch); /* the socket is the worker's until the job is done */
	src->idle_fd = -1;
	src->again = 0;
	src->busy = 1;
	src->since = now_sec();
	if (worker_post(&d->ingest, &src->job) < 0)
		src->busy = 0;
}

static struct source *source_new(struct daemon *d, const struct pq_source_conf *sc,
				 const char *mailbox)
{
	struct pq_source_spec spec = {
		.conf = sc,
		.mailbox = mailbox,
		.flags = PQ_SOURCE_CLAIM,
		.warn = on_source_warning,
	};
	struct source *src = pq_calloc(1, sizeof(*src));
	struct pq_buf name = PQ_BUF_INIT;

	pq_buf_addf(&name, "source %s", sc->name);
	if (mailbox)
		pq_buf_addf(&name, "/%s", mailbox);
	spec.name = name.ptr;
	spec.ctx = src;
	if (pq_source_open(&src->reader, &spec) < 0) {
		pq_log(LOG_ERR, "%s: %s", name.ptr, pq_error_last());
		pq_buf_free(&name);
		free(src);
		return NULL;
	}
	src->d = d;
	src->cfg = conf_hold(d->cfg);
	src->sc = sc;
	src->inotify_fd = -1;
	src->idle_fd = -1;
	src->name = pq_buf_detach(&name);
	src->job.run = source_run;
	src->job.done = source_done;
	src->timer = evtimer_new(d->base, on_source_timer, src);
	src->next = d->sources;
	d->sources = src;
	return src;
}

/* Watches a maildir's new/ for deliveries; the periodic rescan stays as a safety net. */
static void source_watch(struct source *src)
{
	const char *dir = pq_source_watch_dir(src->reader);

	if (!dir)
		return;
	src->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (src->inotify_fd < 0 ||
	    inotify_add_watch(src->inotify_fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		pq_log(LOG_WARNING, "%s: cannot watch %s (%s); rescanning every %d s", src->name,
		       dir, strerror(errno), src->sc->poll_interval);
		if (src->inotify_fd >= 0)
			close(src->inotify_fd);
		src->inotify_fd = -1;
	} else {
		src->watch = event_new(src->d->base, src->inotify_fd, EV_READ | EV_PERSIST,
				       on_inotify, src);
		event_add(src->watch, NULL);
	}
}

static void sources_start(struct daemon *d)
{
	const struct pq_config *c = d->cfg->c;
	struct source *src;
	size_t i, k;

	for (i = 0; i < c->nsources; i++) {
		const struct pq_source_conf *sc = &c->sources[i];

		for (k = 0; k < (sc->type == PQ_SRC_IMAP ? sc->nmailboxes : 1); k++) {
			src = source_new(d, sc, sc->type == PQ_SRC_IMAP ? sc->mailboxes[k] : NULL);
			if (!src)
				continue;
			source_watch(src);
			source_post(src);
		}
	}
	if (!c->nsources)
		pq_log(LOG_WARNING, "%s has no [source] section: nothing to read", c->path);
}

/* Stops a source: freed now when idle, else when its job comes back. */
static void source_close(struct source *src)
{
	src->closing = 1;
	evtimer_del(src->timer);
	if (src->watch)
		event_del(src->watch);
	if (src->busy)
		return;
	if (pq_source_connected(src->reader) && !src->d->stopping) {
		src->busy = 1;
		src->since = now_sec();
		if (worker_post(&src->d->ingest, &src->job) == 0)
			return;
	}
	source_free(src);
}

/* ---- the pipeline, on the git worker ---- */

static void pipeline_run(struct job *j, struct worker *w)
{
	struct pipeline *p = container_of(j, struct pipeline, job);
	const struct pq_config *c = p->cfg->c;
	struct pq_store *s = db_for(w->ctx, c->database);

	pq_buf_reset(&p->report);
	p->err[0] = '\0';
	p->rc = s ? pq_pipeline_run(s, c, p->recovered ? 0 : PQ_PIPELINE_RECOVER,
				    (int64_t)time(NULL), &p->report, NULL)
		  : PQ_EDB;
	if (p->rc == 0)
		p->recovered = 1;
	else
		snprintf(p->err, sizeof(p->err), "%s", pq_error_last());
	db_after(w->ctx, p->rc);
}

/* A report's lines, each a line of the log. */
static void log_report(const struct pq_buf *report)
{
	const char *line = pq_buf_str(report), *nl;

	for (; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line) - 1;
		if (nl > line)
			pq_log(LOG_INFO, "%.*s", (int)(nl - line + (*nl != '\n')), line);
	}
}

static void pipeline_done(struct job *j)
{
	struct pipeline *p = container_of(j, struct pipeline, job);
	struct daemon *d = p->d;

	p->busy = 0;
	conf_drop(p->cfg);
	p->cfg = NULL;
	if (!j->ran)
		return;
	log_report(&p->report);
	if (p->rc < 0)
		pq_log(LOG_ERR, "pipeline: %s", p->err);
	db_health(&p->db_failing, p->rc);
	if (p->again)
		pipeline_kick(d);
	/* the pass may have queued series, or moved queues: their checks */
	checker_kick(d);
	status_update(d);
}

static void pipeline_kick(struct daemon *d)
{
	struct pipeline *p = &d->pipe;

	if (d->stopping)
		return;
	if (p->busy) {
		p->again = 1;
		return;
	}
	p->again = 0;
	p->busy = 1;
	p->since = now_sec();
	p->cfg = conf_hold(d->cfg);
	if (worker_post(&d->git, &p->job) < 0) {
		p->busy = 0;
		conf_drop(p->cfg);
		p->cfg = NULL;
	}
}

static void pipeline_free(struct pipeline *p)
{
	pq_buf_free(&p->report);
}

/* ---- the checks, on the check worker ---- */

static void checker_run(struct job *j, struct worker *w)
{
	struct checker *k = container_of(j, struct checker, job);
	const struct pq_config *c = k->cfg->c;
	struct pq_store *s = db_for(w->ctx, c->database);
	struct pq_repo *repo = NULL;
	int n;

	pq_buf_reset(&k->report);
	k->err[0] = '\0';
	k->checked = 0;
	k->rc = s ? pq_repo_open(&repo, c->repository) : PQ_EDB;
	if (k->rc == 0) {
		n = pq_checks_pass(s, c, repo, 1, k->d->claims, &k->report);
		k->rc = n < 0 ? n : 0;
		k->checked = n > 0 ? n : 0;
	}
	if (k->rc < 0)
		snprintf(k->err, sizeof(k->err), "%s", pq_error_last());
	pq_repo_free(repo);
	db_after(w->ctx, k->rc);
}

static void checker_done(struct job *j)
{
	struct checker *k = container_of(j, struct checker, job);
	struct daemon *d = k->d;

	k->busy = 0;
	conf_drop(k->cfg);
	k->cfg = NULL;
	if (!j->ran)
		return;
	log_report(&k->report);
	if (k->rc < 0)
		pq_log(LOG_ERR, "checks: %s", k->err);
	/* a series checked: the pipeline applies it if it waited for that;
	 * and there may be more to check */
	if (k->checked) {
		pipeline_kick(d);
		k->again = 1;
	}
	if (k->again)
		checker_post(d, k);
}

static void checker_post(struct daemon *d, struct checker *k)
{
	if (d->stopping || !d->cfg->c->nchecks)
		return;
	if (k->busy) {
		k->again = 1;
		return;
	}
	k->again = 0;
	k->busy = 1;
	k->cfg = conf_hold(d->cfg);
	if (worker_post(&d->check[k - d->checkers], &k->job) < 0) {
		k->busy = 0;
		conf_drop(k->cfg);
		k->cfg = NULL;
	}
}

static void checker_kick(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->ncheckers; i++)
		checker_post(d, &d->checkers[i]);
}

/* ---- the desk's server: what it borrows from the daemon ---- */

static const struct pq_config *http_config_hold(void *arg, void **token)
{
	struct daemon *d = arg;
	struct conf_ref *r = conf_hold(d->cfg);

	*token = r;
	return r->c;
}

static void http_config_release(void *token)
{
	conf_drop(token);
}

static struct pq_store *http_store(struct worker *w, const char *path)
{
	return db_for(w->ctx, path);
}

static void http_store_after(struct worker *w, int rc)
{
	db_after(w->ctx, rc);
}

static int desk_start(struct daemon *d)
{
	struct httpd_host host = {
		.arg = d,
		.readers = d->http,
		.nreaders = HTTP_READERS,
		.actor = &d->git,
		.config_hold = http_config_hold,
		.config_release = http_config_release,
		.store = http_store,
		.store_after = http_store_after,
	};

	size_t i;

	if (!d->cfg->c->has_http && !d->listen_fds)
		return 0;
	for (i = 0; i < HTTP_READERS; i++) {
		if (worker_start(&d->http[i], "http", &d->returns, &d->http_db[i]) < 0) {
			pq_log(LOG_ERR, "cannot start a thread: %s", strerror(errno));
			return -1;
		}
	}
	d->httpd = httpd_start(d->base, d->cfg->c, d->listen_fds, &host);
	return d->httpd ? 0 : -1;
}

/* ---- the loop ---- */

static void on_returns(evutil_socket_t fd, short what, void *arg)
{
	job_returns_run(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	pipeline_kick(arg);
}

/*
 * WATCHDOG=1, unless the daemon makes no progress: every job has failed on
 * the database for NO_PROGRESS_TICKS watchdog intervals (a reopened
 * connection did not help), or a job has not come back for JOB_STUCK_SEC.
 * systemd then restarts it (Restart=on-failure).
 */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	time_t now = now_sec(), since = 0;
	time_t limit = (time_t)(pq_watchdog_usec() * NO_PROGRESS_TICKS / 1000000);
	const char *why = NULL;
	struct source *src;

	if (limit < 1)
		limit = 1;
	if (d->pipe.db_failing && now - d->pipe.db_failing > limit) {
		why = "the pipeline has failed on the database for";
		since = d->pipe.db_failing;
	} else if (d->pipe.busy && now - d->pipe.since > JOB_STUCK_SEC) {
		why = "the pipeline has not come back for";
		since = d->pipe.since;
	}
	for (src = d->sources; src && !why; src = src->next) {
		if (src->db_failing && now - src->db_failing > limit) {
			why = "a source has failed on the database for";
			since = src->db_failing;
		} else if (src->busy && now - src->since > JOB_STUCK_SEC) {
			why = "a source has not come back for";
			since = src->since;
		}
	}
	if (!why) {
		if (d->starved)
			pq_log(LOG_NOTICE, "working again: the watchdog is fed");
		d->starved = 0;
		pq_notify("WATCHDOG=1");
	} else if (!d->starved) {
		d->starved = 1;
		pq_log(LOG_CRIT, "no progress: %s %lld s; the watchdog is no longer fed", why,
		       (long long)(now - since));
	}
}

/* Checks that the database opens (and is migrated) before saying ready. */
static int check_database(const struct pq_config *c)
{
	struct pq_store *s = NULL;
	int rc = pq_store_open(&s, c->database);

	pq_store_close(s);
	return rc;
}

static void on_hup(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct pq_config *c = NULL;
	struct conf_ref *r;
	struct source *src, *next;

	pq_notify("RELOADING=1");
	pq_log(LOG_NOTICE, "reloading %s", d->conf_path);
	if (pq_config_load(&c, d->conf_path) < 0 || check_database(c) < 0) {
		pq_log(LOG_ERR, "reload: %s; keeping the running configuration", pq_error_last());
		pq_config_free(c);
		pq_notify("READY=1");
		return;
	}
	if (!d->listen_fds && (c->has_http != d->cfg->c->has_http ||
			       (c->has_http && (strcmp(c->http.listen, d->cfg->c->http.listen) ||
						c->http.timeout != d->cfg->c->http.timeout))))
		pq_log(LOG_WARNING, "reload: [http] changed: the desk keeps its socket and "
				    "timeout until patchqd restarts");
	r = pq_calloc(1, sizeof(*r));
	r->c = c;
	conf_drop(d->cfg);
	d->cfg = conf_hold(r);
	/* the sources start again from the cursors the database holds */
	for (src = d->sources; src; src = next) {
		next = src->next;
		if (!src->closing)
			source_close(src);
	}
	sources_start(d);
	pipeline_kick(d);
	pq_notify("READY=1");
	status_update(d);
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	if (d->stopping)
		return;
	pq_notify("STOPPING=1");
	pq_log(LOG_NOTICE, "stopping");
	d->stopping = 1;
	/* no new request; the answers of the running ones are dropped */
	httpd_stop(d->httpd);
	/* the running jobs finish their transaction (a pass ends after the
	 * series or reply at hand; an IMAP read is cut at once: the stop
	 * request shuts its socket down); finish() waits for them outside
	 * the loop */
	pq_stop_request();
	event_base_loopexit(d->base, NULL);
}

static int start(struct daemon *d)
{
	struct timeval tick = { PIPELINE_TICK_SEC, 0 }, ready = { READY_WAIT_SEC, 0 };
	uint64_t wd = pq_watchdog_usec();

	d->base = event_base_new();
	if (!d->base || job_returns_init(&d->returns) < 0) {
		pq_log(LOG_ERR, "cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	d->returns_ev = event_new(d->base, d->returns.pipe[0], EV_READ | EV_PERSIST, on_returns,
				  &d->returns);
	event_add(d->returns_ev, NULL);
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	d->sig_term = evsignal_new(d->base, SIGTERM, on_term, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_term, d);
	evsignal_add(d->sig_hup, NULL);
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);
	d->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	evtimer_add(d->tick, &tick);
	d->ready_timer = evtimer_new(d->base, on_ready_timer, d);
	evtimer_add(d->ready_timer, &ready);
	if (wd) {
		struct timeval half = { (time_t)(wd / 2000000), (suseconds_t)(wd / 2 % 1000000) };

		d->watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
		evtimer_add(d->watchdog, &half);
	}
	if (worker_start(&d->ingest, "ingest", &d->returns, &d->ingest_db) < 0 ||
	    worker_start(&d->git, "git", &d->returns, &d->git_db) < 0) {
		pq_log(LOG_ERR, "cannot start a thread: %s", strerror(errno));
		return -1;
	}
	d->claims = pq_checks_claims_new();
	for (; d->ncheckers < (size_t)d->cfg->c->check_jobs; d->ncheckers++) {
		struct checker *k = &d->checkers[d->ncheckers];

		if (worker_start(&d->check[d->ncheckers], "check", &d->returns,
				 &d->check_db[d->ncheckers]) < 0) {
			pq_log(LOG_ERR, "cannot start a thread: %s", strerror(errno));
			return -1;
		}
		k->d = d;
		k->job.run = checker_run;
		k->job.done = checker_done;
	}
	d->pipe.d = d;
	d->pipe.job.run = pipeline_run;
	d->pipe.job.done = pipeline_done;
	if (desk_start(d) < 0)
		return -1;
	sources_start(d);
	pipeline_kick(d);
	maybe_ready(d);
	status_update(d);
	return 0;
}

static void finish(struct daemon *d)
{
	struct event *evs[] = { d->returns_ev, d->sig_hup, d->sig_term,	  d->sig_int,
				d->watchdog,   d->tick,	   d->ready_timer };
	size_t i;

	httpd_stop(d->httpd);
	worker_stop(&d->ingest);
	worker_stop(&d->git);
	for (i = 0; i < d->ncheckers; i++)
		worker_stop(&d->check[i]);
	for (i = 0; i < HTTP_READERS; i++)
		worker_stop(&d->http[i]);
	if (d->base)
		job_returns_run(&d->returns);
	httpd_free(d->httpd);
	while (d->sources)
		source_free(d->sources);
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (d->base) {
		job_returns_fini(&d->returns);
		event_base_free(d->base);
	}
	db_close(&d->ingest_db);
	db_close(&d->git_db);
	for (i = 0; i < d->ncheckers; i++) {
		db_close(&d->check_db[i]);
		pq_buf_free(&d->checkers[i].report);
	}
	pq_checks_claims_free(d->claims);
	for (i = 0; i < HTTP_READERS; i++)
		db_close(&d->http_db[i]);
	pipeline_free(&d->pipe);
	conf_drop(d->cfg);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	struct pq_config *c = NULL;
	int opt, check_only = 0, rc = 1;

	memset(&d, 0, sizeof(d));
	d.conf_path = "/etc/patchq/patchq.conf";
	while ((opt = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.conf_path = optarg;
			break;
		case 'k':
			check_only = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("patchqd %s\n", PATCHQ_VERSION);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "patchqd: unexpected argument \"%s\"\n%s", argv[optind],
			usage_text);
		return 2;
	}
	pq_log_init("patchqd");
	signal(SIGPIPE, SIG_IGN);
	d.listen_fds = pq_listen_fds();
	if (pq_config_load(&c, d.conf_path) < 0) {
		pq_log(LOG_ERR, "%s", pq_error_last());
		return 1;
	}
	if (check_only) {
		printf("%s: good (%zu queues, %zu rules, %zu sources)\n", d.conf_path, c->nqueues,
		       c->nrules, c->nsources);
		pq_config_free(c);
		return 0;
	}
	if (check_database(c) < 0) {
		pq_log(LOG_ERR, "%s", pq_error_last());
		pq_config_free(c);
		return 1;
	}
	d.cfg = pq_calloc(1, sizeof(*d.cfg));
	d.cfg->c = c;
	d.cfg->refs = 1;
	/* libgit2 once for the process: its per-thread state goes with each thread */
	pq_repo_init();
	pq_log(LOG_NOTICE, "patchqd %s starting with %s", PATCHQ_VERSION, d.conf_path);
	if (start(&d) == 0 && event_base_dispatch(d.base) == 0 && d.stopping)
		rc = 0;
	finish(&d);
	if (rc == 0)
		pq_log(LOG_NOTICE, "stopped");
	return rc;
}
