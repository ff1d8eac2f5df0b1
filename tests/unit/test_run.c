/*
 * test_run: the child-process runner, on real processes.
 *
 * The children are real programs (sh -c scripts, cat, env, grep). The test
 * makes itself a child subreaper, so that a grandchild left behind by a
 * child is reparented to it and its end (killed by SIGKILL, or alive) can
 * be checked with waitpid().
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "error.h"
#include "run.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs a /bin/sh script with the given stdin, caps and deadline. */
static int run_sh(struct pq_run_result *res, const char *script, const char *in, size_t in_len,
		  size_t max, long timeout_ms)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct pq_run_opts o = {
		.argv = argv,
		.in = in,
		.in_len = in_len,
		.out_max = max,
		.err_max = max,
		.timeout_ms = timeout_ms,
	};

	return pq_run_command(res, &o);
}

/*
 * Whether pid, a process a child left behind, was killed: reparented to us
 * and ended by SIGKILL, or already reaped by the child (a shell waiting for
 * any child of its own can collect it before its SIGKILL lands) and gone.
 * One still running after 3 s is killed here, and this says no.
 */
static int was_killed(pid_t pid)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	int ws, i;

	for (i = 0; i < 300; i++) {
		pid_t r = waitpid(pid, &ws, WNOHANG);

		if (r == pid)
			return WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL;
		if (r < 0 && errno == ECHILD)
			return kill(pid, 0) < 0 && errno == ESRCH;
		nanosleep(&nap, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &ws, 0);
	return 0;
}

static void test_exit_status_and_output(void)
{
	struct pq_run_result r;

	CHECK_INT(run_sh(&r, "echo out; echo err >&2; printf 'a\\0b'; exit 3", NULL, 0, 4096,
			 10000),
		  0);
	CHECK_INT(r.status, 3);
	CHECK_INT(r.signal, 0);
	CHECK_INT(r.timed_out, 0);
	CHECK_INT(r.cancelled, 0);
	CHECK_INT(r.out.len, 7);
	CHECK(r.out.len == 7 && !memcmp(r.out.ptr, "out\na\0b", 7));
	CHECK_STR(pq_buf_str(&r.err), "err\n");
	CHECK_INT(r.out_truncated, 0);
	CHECK_INT(r.err_truncated, 0);
	CHECK(r.duration_ms >= 0 && r.duration_ms < 5000);
	pq_run_result_free(&r);
	pq_run_result_free(&r);
	CHECK(r.out.ptr == NULL);

	CHECK_INT(run_sh(&r, "exit 0", NULL, 0, 4096, 10000), 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.out.len, 0);
	pq_run_result_free(&r);

	/* a signal is told apart from an exit status */
	CHECK_INT(run_sh(&r, "echo before; kill -TERM $$", NULL, 0, 4096, 10000), 0);
	CHECK_INT(r.status, -1);
	CHECK_INT(r.signal, SIGTERM);
	CHECK_INT(r.timed_out, 0);
	CHECK_STR(pq_buf_str(&r.out), "before\n");
	pq_run_result_free(&r);
}

static void test_stdin_is_fed(void)
{
	const char *cat[] = { "cat", NULL };
	struct pq_run_opts o = { .argv = cat, .out_max = 4 << 20, .timeout_ms = 20000 };
	struct pq_run_result r;
	size_t n = 3 << 20, i;
	char *big = malloc(n);

	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7 + i / 4096);
	/* more than a pipe holds both ways: only a pump that writes and reads at once ends */
	o.in = big;
	o.in_len = n;
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.out.len, n);
	CHECK(r.out.len == n && !memcmp(r.out.ptr, big, n));
	pq_run_result_free(&r);

	/* no stdin: /dev/null, so cat ends at once */
	o.in = NULL;
	o.in_len = 0;
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.out.len, 0);
	CHECK_INT(r.timed_out, 0);
	pq_run_result_free(&r);

	/* an empty stdin is end of file too */
	o.in = "";
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.timed_out, 0);
	pq_run_result_free(&r);

	/* a child that exits without reading 3 MB: no SIGPIPE for us, its status kept */
	signal(SIGPIPE, SIG_DFL);
	CHECK_INT(run_sh(&r, "exit 4", big, n, 4096, 20000), 0);
	CHECK_INT(r.status, 4);
	CHECK_INT(r.timed_out, 0);
	pq_run_result_free(&r);
	CHECK_INT(run_sh(&r, "head -c 10 >/dev/null; echo read", big, n, 4096, 20000), 0);
	CHECK_INT(r.status, 0);
	CHECK_STR(pq_buf_str(&r.out), "read\n");
	pq_run_result_free(&r);
	free(big);
}

static void test_output_past_the_cap(void)
{
	struct pq_run_result r;

	CHECK_INT(run_sh(&r, "head -c 300000 /dev/zero | tr '\\0' x; echo oops >&2", NULL, 0, 1000,
			 10000),
		  0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.out.len, 1000);
	CHECK_INT(r.out_truncated, 1);
	CHECK(r.out.len == 1000 && r.out.ptr[0] == 'x' && r.out.ptr[999] == 'x');
	CHECK_STR(pq_buf_str(&r.err), "oops\n");
	CHECK_INT(r.err_truncated, 0);
	pq_run_result_free(&r);

	/* exactly the cap is not truncated */
	CHECK_INT(run_sh(&r, "printf 12345", NULL, 0, 5, 10000), 0);
	CHECK_STR(pq_buf_str(&r.out), "12345");
	CHECK_INT(r.out_truncated, 0);
	pq_run_result_free(&r);

	/* a cap of 0 keeps nothing but says something came */
	CHECK_INT(run_sh(&r, "echo a; echo b >&2", NULL, 0, 0, 10000), 0);
	CHECK_INT(r.out.len, 0);
	CHECK_INT(r.err.len, 0);
	CHECK_INT(r.out_truncated, 1);
	CHECK_INT(r.err_truncated, 1);
	pq_run_result_free(&r);
}

static void test_stderr_to_stdout(void)
{
	const char *argv[] = { "/bin/sh", "-c", "echo a; echo b >&2; echo c", NULL };
	struct pq_run_opts o = {
		.argv = argv, .out_max = 100, .err_to_out = 1, .timeout_ms = 10000
	};
	struct pq_run_result r;

	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_STR(pq_buf_str(&r.out), "a\nb\nc\n");
	CHECK_INT(r.err.len, 0);
	pq_run_result_free(&r);
}

/* Whether the environment listing out has the line line. */
static int has_line(const struct pq_buf *out, const char *line)
{
	const char *p = pq_buf_str(out);
	size_t n = strlen(line);

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

static int count_prefix(const struct pq_buf *out, const char *prefix)
{
	const char *p = pq_buf_str(out);
	int k = 0;

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		k += !strncmp(p, prefix, strlen(prefix));
	return k;
}

static void test_environment(void)
{
	const char *env_argv[] = { "env", NULL };
	const char *changes[] = { "PQ_DROP",	 "PQ_SET=new", "PQ_ADD=added", "LC_ALL=de_DE.UTF-8",
				  "LANGUAGE=de", NULL };
	struct pq_run_opts o = {
		.argv = env_argv, .env = changes, .out_max = 1 << 20, .timeout_ms = 10000
	};
	struct pq_run_result r;

	setenv("LC_ALL", "fr_FR.UTF-8", 1);
	setenv("LANGUAGE", "fr:en", 1);
	setenv("LANG", "fr_FR.UTF-8", 1);
	setenv("PQ_DROP", "x", 1);
	setenv("PQ_SET", "old", 1);
	setenv("PQ_KEEP", "kept", 1);
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_INT(r.status, 0);
	CHECK(has_line(&r.out, "LC_ALL=C"));
	CHECK_INT(count_prefix(&r.out, "LC_ALL="), 1);
	CHECK_INT(count_prefix(&r.out, "LANGUAGE="), 0);
	CHECK_INT(count_prefix(&r.out, "PQ_DROP="), 0);
	CHECK(has_line(&r.out, "PQ_SET=new"));
	CHECK_INT(count_prefix(&r.out, "PQ_SET="), 1);
	CHECK(has_line(&r.out, "PQ_ADD=added"));
	CHECK(has_line(&r.out, "PQ_KEEP=kept"));
	CHECK(has_line(&r.out, "LANG=fr_FR.UTF-8")); /* LC_ALL overrides it; left alone */
	pq_run_result_free(&r);

	/* without changes, the same two are enforced */
	o.env = NULL;
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK(has_line(&r.out, "LC_ALL=C"));
	CHECK_INT(count_prefix(&r.out, "LANGUAGE="), 0);
	CHECK(has_line(&r.out, "PQ_DROP=x"));
	pq_run_result_free(&r);
	unsetenv("LC_ALL");
	unsetenv("LANGUAGE");
	unsetenv("LANG");
	unsetenv("PQ_DROP");
	unsetenv("PQ_SET");
	unsetenv("PQ_KEEP");
}

static void test_working_directory(void)
{
	const char *pwd[] = { "/bin/sh", "-c", "pwd -P", NULL };
	struct pq_run_opts o = { .argv = pwd, .dir = "/", .out_max = 100, .timeout_ms = 10000 };
	struct pq_run_result r;
	int rc;

	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_STR(pq_buf_str(&r.out), "/\n");
	pq_run_result_free(&r);

	o.dir = "/nonexistent/pq-dir";
	rc = pq_run_command(&r, &o);
	CHECK_INT(rc, PQ_EIO);
	CHECK(strstr(pq_error_last(), "cannot run /bin/sh in /nonexistent/pq-dir") != NULL);
	CHECK(r.out.ptr == NULL);
	pq_run_result_free(&r);
}

/* The deadline kills the child and the grandchild that holds its pipes. */
static void test_deadline_kills_the_group(void)
{
	struct pq_run_result r;
	int64_t t0 = now_ms();
	pid_t grandchild;

	CHECK_INT(run_sh(&r, "sleep 30 & echo $!; sleep 30", NULL, 0, 100, 500), 0);
	CHECK(r.duration_ms >= 500 && r.duration_ms < 2500);
	CHECK(now_ms() - t0 < 2500);
	CHECK_INT(r.timed_out, 1);
	CHECK_INT(r.cancelled, 0);
	CHECK_INT(r.status, -1);
	CHECK_INT(r.signal, SIGKILL);
	grandchild = (pid_t)atol(pq_buf_str(&r.out));
	CHECK(grandchild > 1);
	if (grandchild > 1) {
		CHECK(was_killed(grandchild));
		CHECK(kill(grandchild, 0) < 0 && errno == ESRCH);
	}
	pq_run_result_free(&r);

	/* a child that closed its output and runs on is killed at the deadline as well */
	t0 = now_ms();
	CHECK_INT(run_sh(&r, "exec >&- 2>&- </dev/null; sleep 30", NULL, 0, 100, 400), 0);
	CHECK_INT(r.timed_out, 1);
	CHECK_INT(r.signal, SIGKILL);
	CHECK(now_ms() - t0 < 2500);
	pq_run_result_free(&r);

	/* ...and one that never reads a stdin larger than the socket holds */
	{
		size_t n = 8 << 20;
		char *big = calloc(1, n);

		t0 = now_ms();
		CHECK_INT(run_sh(&r, "sleep 30", big, n, 100, 400), 0);
		CHECK_INT(r.timed_out, 1);
		CHECK(now_ms() - t0 < 2500);
		pq_run_result_free(&r);
		free(big);
	}
}

/* A child that exits leaving a process on its pipes returns at once; that process lives. */
static void test_exited_child_with_leftover(void)
{
	struct pq_run_result r;
	int64_t t0 = now_ms();
	pid_t left;

	CHECK_INT(run_sh(&r, "sleep 30 & echo $!; echo done; exit 5", NULL, 0, 100, 20000), 0);
	CHECK(now_ms() - t0 < 2000);
	CHECK_INT(r.status, 5);
	CHECK_INT(r.timed_out, 0);
	CHECK(strstr(pq_buf_str(&r.out), "done\n") != NULL);
	left = (pid_t)atol(pq_buf_str(&r.out));
	CHECK(left > 1);
	if (left > 1) {
		CHECK_INT(kill(left, 0), 0);
		kill(left, SIGKILL);
		CHECK(was_killed(left));
	}
	pq_run_result_free(&r);
}

static int64_t cancel_start;
static int64_t cancel_last, cancel_gap;
static int cancel_calls;

/* Asks to stop 300 ms after cancel_start; records the longest gap between two calls. */
static int cancel_after_300ms(void)
{
	int64_t t = now_ms();

	if (cancel_calls++ && t - cancel_last > cancel_gap)
		cancel_gap = t - cancel_last;
	cancel_last = t;
	return t - cancel_start >= 300;
}

static void test_cancel_kills_the_group(void)
{
	const char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL };
	struct pq_run_opts o = {
		.argv = argv, .out_max = 100, .timeout_ms = 20000, .cancel = cancel_after_300ms
	};
	struct pq_run_result r;
	pid_t grandchild;

	cancel_start = now_ms();
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_INT(r.cancelled, 1);
	CHECK_INT(r.timed_out, 0);
	CHECK_INT(r.signal, SIGKILL);
	CHECK(r.duration_ms >= 300 && r.duration_ms < 2000);
	CHECK(cancel_calls >= 3);
	CHECK(cancel_gap <= 250); /* polled every 100 ms, give or take a busy machine */
	grandchild = (pid_t)atol(pq_buf_str(&r.out));
	CHECK(grandchild > 1);
	if (grandchild > 1)
		CHECK(was_killed(grandchild));
	pq_run_result_free(&r);
}

static void test_cannot_run(void)
{
	const char *missing[] = { "pq-no-such-program", "arg", NULL };
	const char *missing_path[] = { "/nonexistent/pq-prog", NULL };
	const char *none[] = { NULL };
	struct pq_run_opts o = { .argv = missing, .timeout_ms = 1000 };
	struct pq_run_result r;

	CHECK_INT(pq_run_command(&r, &o), PQ_EIO);
	CHECK_STR(pq_error_last(), "cannot run pq-no-such-program: No such file or directory");
	pq_run_result_free(&r);
	o.argv = missing_path;
	CHECK_INT(pq_run_command(&r, &o), PQ_EIO);
	CHECK_STR(pq_error_last(), "cannot run /nonexistent/pq-prog: No such file or directory");
	pq_run_result_free(&r);

	o.argv = none;
	CHECK_INT(pq_run_command(&r, &o), PQ_EINVAL);
	o.argv = NULL;
	CHECK_INT(pq_run_command(&r, &o), PQ_EINVAL);
	o.argv = missing;
	o.timeout_ms = 0;
	CHECK_INT(pq_run_command(&r, &o), PQ_EINVAL);
	o.timeout_ms = 1000;
	o.in_len = 5;
	CHECK_INT(pq_run_command(&r, &o), PQ_EINVAL);
}

/* The child holds 0, 1 and 2 only: not our unrelated fds, not the other ends of its pipes. */
static void test_no_fd_leaks(void)
{
	const char *ls[] = { "/bin/sh", "-c", "ls /proc/$$/fd", NULL };
	struct pq_run_opts o = {
		.argv = ls, .in = "x", .in_len = 1, .out_max = 4096, .timeout_ms = 10000
	};
	struct pq_run_result r;
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, on purpose */

	CHECK(fd >= 0);
	CHECK(dup2(fd, 47) == 47);
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_STR(pq_buf_str(&r.out), "0\n1\n2\n");
	pq_run_result_free(&r);
	close(47);
	close(fd);
}

/*
 * No signal blocked and none of 1..31 ignored in the child, whatever the
 * calling thread has. (glibc's posix_spawn leaves its own two internal
 * real-time signals, 32 and 33, ignored in every child it starts.)
 */
static void test_signals_reset(void)
{
	const char *grep[] = { "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL };
	const char *pgrp[] = { "/bin/sh", "-c", "echo $$ $(cut -d' ' -f5 /proc/$$/stat)", NULL };
	struct pq_run_opts o = { .argv = grep, .out_max = 4096, .timeout_ms = 10000 };
	struct pq_run_result r;
	sigset_t block, old;
	char pid[32], group[32];
	unsigned long long blocked = ~0ULL, ignored = ~0ULL;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_INT(sscanf(pq_buf_str(&r.out), "SigBlk: %llx SigIgn: %llx", &blocked, &ignored), 2);
	CHECK_INT(blocked, 0);
	CHECK_INT(ignored & 0x7fffffffULL, 0);
	pq_run_result_free(&r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);

	/* the leader of a process group of its own */
	o.argv = pgrp;
	CHECK_INT(pq_run_command(&r, &o), 0);
	CHECK_INT(sscanf(pq_buf_str(&r.out), "%31s %31s", pid, group), 2);
	CHECK_STR(pid, group);
	CHECK(atol(group) != (long)getpgrp());
	pq_run_result_free(&r);
}

int main(void)
{
	/* grandchildren left behind come to us, to be checked with waitpid() */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_exit_status_and_output();
	test_stdin_is_fed();
	test_output_past_the_cap();
	test_stderr_to_stdout();
	test_environment();
	test_working_directory();
	test_deadline_kills_the_group();
	test_exited_child_with_leftover();
	test_cancel_kills_the_group();
	test_cannot_run();
	test_no_fd_leaks();
	test_signals_reset();
	CHECK_DONE();
}
