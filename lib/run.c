/*
 * run: one child process, start to finish (see run.h).
 *
 * Under the applier (git apply --cached) and the outbox (sendmail). The
 * child is spawned with posix_spawn as the leader of its own process
 * group; one poll() loop then feeds its stdin, reads its stdout and
 * stderr, and every TICK_MS looks at the deadline, the cancel callback and
 * whether the child has exited (without reaping it, so that its pid, and
 * so its group id, cannot be reused before we are done killing it).
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"

extern char **environ;

/* How often the deadline, the cancel callback and the child's exit are looked at. */
#define TICK_MS 100

/* Our ends of the child's stdin, stdout and stderr; -1 once closed. */
struct ends {
	int in, out, err;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Moves fd above 0..2 so the child's dup2() onto those cannot clobber it. */
static int fd_above_stdio(int fd)
{
	int moved;

	if (fd < 0 || fd > 2)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return moved;
}

/* Whether the environment entry e ("NAME=VALUE") is for the variable name[0..len). */
static int names(const char *e, const char *name, size_t len)
{
	return !strncmp(e, name, len) && e[len] == '=';
}

/* Whether e is for a variable that one of changes sets or removes, or that we set. */
static int changed(const char *e, const char *const *changes)
{
	size_t i;

	if (names(e, "LC_ALL", 6) || names(e, "LANGUAGE", 8))
		return 1;
	for (i = 0; changes && changes[i]; i++) {
		const char *eq = strchr(changes[i], '=');

		if (names(e, changes[i], eq ? (size_t)(eq - changes[i]) : strlen(changes[i])))
			return 1;
	}
	return 0;
}

/*
 * The child's environment: ours less what changes names, then the
 * settings of changes, then LC_ALL=C. The strings are borrowed (from
 * environ, changes and a literal); the caller frees the array.
 */
static char **child_environ(const char *const *changes)
{
	static char lc_all[] = "LC_ALL=C";
	size_t n = 0, c = 0, k = 0, i;
	char **env;

	while (environ && environ[n])
		n++;
	while (changes && changes[c])
		c++;
	env = pq_calloc(n + c + 2, sizeof(*env));
	for (i = 0; i < n; i++)
		if (!changed(environ[i], changes))
			env[k++] = environ[i];
	for (i = 0; i < c; i++)
		if (strchr(changes[i], '=') && !changed(changes[i], NULL))
			env[k++] = (char *)changes[i];
	env[k] = lc_all;
	return env;
}

/* Adds data to b within max bytes, flagging what is dropped. */
static void keep(struct pq_buf *b, size_t max, int *truncated, const char *data, size_t len)
{
	size_t room = b->len < max ? max - b->len : 0;

	if (len > room)
		*truncated = 1;
	if (len && room)
		pq_buf_add(b, data, len < room ? len : room);
}

/*
 * Reads what fd has now into b (bounded); closes it at end of file or on
 * an error. With drain, reads until nothing is left, else one chunk.
 */
static void take(int *fd, struct pq_buf *b, size_t max, int *truncated, int drain)
{
	char chunk[16384];
	ssize_t r;

	do {
		r = read(*fd, chunk, sizeof(chunk));
		if (r > 0)
			keep(b, max, truncated, chunk, (size_t)r);
		else if (r == 0 || (errno != EAGAIN && errno != EINTR))
			close_fd(fd);
	} while (drain && *fd >= 0 && (r > 0 || (r < 0 && errno == EINTR)));
}

/* Whether the child has exited, leaving it unreaped (a zombie keeps its group id ours). */
static int has_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR; /* ECHILD: reaped behind our back; nothing to wait for */
	return si.si_pid == pid;
}

/* Kills the child and its process group (a child that left the group goes too). */
static void kill_group(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/*
 * Feeds opts->in to the child and collects its output until it exited
 * (then what is left in the pipes is read, and what a process it left
 * behind may write later is not waited for), or the deadline passed or
 * cancel asked (then its group is killed and we stop reading). Closes
 * every end; the child is left to reap.
 */
static void pump(struct ends *e, pid_t pid, const struct pq_run_opts *o, int64_t deadline,
		 struct pq_run_result *res)
{
	size_t off = 0;
	int exited = 0, idle = 1;

	if (e->in >= 0 && !o->in_len)
		close_fd(&e->in);
	for (;;) {
		struct pollfd pfd[3];
		int64_t left;
		int k = 0, i, ms;

		if (o->cancel && o->cancel()) {
			res->cancelled = 1;
			kill_group(pid);
			break;
		}
		left = deadline - now_ms();
		if (left <= 0) {
			res->timed_out = 1;
			kill_group(pid);
			break;
		}
		if (exited) {
			/* all it wrote is in the pipes, which a process it left may hold open */
			if (e->out >= 0)
				take(&e->out, &res->out, o->out_max, &res->out_truncated, 1);
			if (e->err >= 0)
				take(&e->err, &res->err, o->err_max, &res->err_truncated, 1);
			break;
		}
		if (e->in >= 0)
			pfd[k++] = (struct pollfd){ .fd = e->in, .events = POLLOUT };
		if (e->out >= 0)
			pfd[k++] = (struct pollfd){ .fd = e->out, .events = POLLIN };
		if (e->err >= 0)
			pfd[k++] = (struct pollfd){ .fd = e->err, .events = POLLIN };
		/*
		 * With its pipes closed the child is most likely exiting: look
		 * again soon, then less often (it may also run on without them).
		 */
		ms = k ? TICK_MS : idle;
		if (!k && idle < TICK_MS)
			idle *= 2;
		if (left < ms)
			ms = (int)left;
		if (poll(pfd, (nfds_t)k, ms) < 0 && errno != EINTR) {
			/* cannot happen with valid fds; the deadline still holds */
			struct timespec pause = { 0, TICK_MS * 1000000L };

			nanosleep(&pause, NULL);
		}
		for (i = 0; i < k; i++) {
			ssize_t r;

			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == e->in) {
				r = send(e->in, o->in + off, o->in_len - off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
				if (r > 0)
					off += (size_t)r;
				/* EPIPE: it stopped reading; its exit will say why */
				if ((r < 0 && errno != EAGAIN && errno != EINTR) ||
				    off == o->in_len)
					close_fd(&e->in);
			} else if (pfd[i].fd == e->out) {
				take(&e->out, &res->out, o->out_max, &res->out_truncated, 0);
			} else {
				take(&e->err, &res->err, o->err_max, &res->err_truncated, 0);
			}
		}
		exited = has_exited(pid);
	}
	close_fd(&e->in);
	close_fd(&e->out);
	close_fd(&e->err);
}

/* Makes our ends and the child's (above stdio, close-on-exec, ours non-blocking reads). */
static int make_ends(const struct pq_run_opts *o, struct ends *ours, struct ends *theirs)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, i, saved;

	if ((o->in && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0) ||
	    pipe2(out, O_CLOEXEC) < 0 || (!o->err_to_out && pipe2(err, O_CLOEXEC) < 0))
		goto fail;
	for (i = 0; i < 2; i++) {
		in[i] = fd_above_stdio(in[i]);
		out[i] = fd_above_stdio(out[i]);
		err[i] = fd_above_stdio(err[i]);
	}
	if ((o->in && (in[0] < 0 || in[1] < 0)) || out[0] < 0 || out[1] < 0 ||
	    (!o->err_to_out && (err[0] < 0 || err[1] < 0)))
		goto fail;
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 ||
	    (err[0] >= 0 && fcntl(err[0], F_SETFL, O_NONBLOCK) < 0))
		goto fail;
	*ours = (struct ends){ in[0], out[0], err[0] };
	*theirs = (struct ends){ in[1], out[1], err[1] };
	return 0;
fail:
	saved = errno;
	for (i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&err[i]);
	}
	errno = saved;
	return -1;
}

static void close_ends(struct ends *e)
{
	close_fd(&e->in);
	close_fd(&e->out);
	close_fd(&e->err);
}

/* Starts the child with its ends as 0, 1, 2; 0 or an errno value. */
static int spawn(pid_t *pid, const struct pq_run_opts *o, const struct ends *theirs, char **env)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	posix_spawn_file_actions_init(&fa);
	if (o->in)
		posix_spawn_file_actions_adddup2(&fa, theirs->in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, theirs->out, 1);
	posix_spawn_file_actions_adddup2(&fa, o->err_to_out ? theirs->out : theirs->err, 2);
	/* whatever another thread or library opened without O_CLOEXEC stays with us */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (o->dir)
		posix_spawn_file_actions_addchdir_np(&fa, o->dir);

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(pid, o->argv[0], &fa, &attr, (char *const *)o->argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

static int cannot_run(const struct pq_run_opts *o, int err)
{
	if (o->dir)
		return pq_error_set(PQ_EIO, "cannot run %s in %s: %s", o->argv[0], o->dir,
				    strerror(err));
	return pq_error_set(PQ_EIO, "cannot run %s: %s", o->argv[0], strerror(err));
}

int pq_run_command(struct pq_run_result *res, const struct pq_run_opts *o)
{
	struct ends ours = { -1, -1, -1 }, theirs = { -1, -1, -1 };
	char **env;
	int64_t start = now_ms();
	pid_t pid;
	int rc, ws;

	memset(res, 0, sizeof(*res));
	if (!o || !o->argv || !o->argv[0] || !o->argv[0][0])
		return pq_error_set(PQ_EINVAL, "run: no program");
	if (o->timeout_ms <= 0)
		return pq_error_set(PQ_EINVAL, "run %s: no deadline", o->argv[0]);
	if (!o->in && o->in_len)
		return pq_error_set(PQ_EINVAL, "run %s: %zu bytes of stdin but no data", o->argv[0],
				    o->in_len);
	if (make_ends(o, &ours, &theirs) < 0)
		return cannot_run(o, errno);
	env = child_environ(o->env);
	rc = spawn(&pid, o, &theirs, env);
	free(env);
	close_ends(&theirs);
	if (rc) {
		close_ends(&ours);
		return cannot_run(o, rc);
	}

	pump(&ours, pid, o, start + o->timeout_ms, res);
	while ((rc = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
		;
	res->duration_ms = now_ms() - start;
	if (rc < 0) {
		rc = pq_error_set(PQ_EIO, "cannot wait for %s: %s", o->argv[0], strerror(errno));
		pq_run_result_free(res);
		return rc;
	}
	if (WIFSIGNALED(ws)) {
		res->status = -1;
		res->signal = WTERMSIG(ws);
	} else {
		res->status = WEXITSTATUS(ws);
	}
	return 0;
}

void pq_run_result_free(struct pq_run_result *res)
{
	pq_buf_free(&res->out);
	pq_buf_free(&res->err);
	memset(res, 0, sizeof(*res));
}
