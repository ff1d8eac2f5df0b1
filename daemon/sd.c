/*
 * sd: logging for journald and sd_notify datagrams (see sd.h).
 */
#include "sd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *prog = "patchqd";
static int journal;

void pq_log_init(const char *program)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	prog = program;
	journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		  (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void pq_log(int prio, const char *fmt, ...)
{
	static const char *const level[] = { "emergency", "alert",  "critical", "error",
					     "warning",	  "notice", "info",	"debug" };
	char line[4096];
	va_list ap;
	int n;

	prio &= 7;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* one write per line, so lines of several threads never interleave */
	if (journal)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else if (prio <= LOG_WARNING)
		fprintf(stderr, "%s: %s: %s\n", prog, level[prio], line);
	else
		fprintf(stderr, "%s: %s\n", prog, line);
}

int pq_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t salen;
	ssize_t sent;
	int fd;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* the abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	do
		/* never wait on a reader that stopped reading: the loop must go on */
		sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
			      (struct sockaddr *)&sa, salen);
	while (sent < 0 && errno == EINTR);
	close(fd);
	return sent < 0 ? -1 : 1;
}

uint64_t pq_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	uint64_t v;

	if (!usec)
		return 0;
	if (pid && strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	return errno || *end || end == usec ? 0 : v;
}

int pq_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long n;
	int fd;

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (!pid || !fds || strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	errno = 0;
	n = strtol(fds, &end, 10);
	if (errno || *end || end == fds || n < 1 || n > 64)
		return 0;
	for (fd = 3; fd < 3 + n; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return (int)n;
}
