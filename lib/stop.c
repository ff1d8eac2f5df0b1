/* stop: a process-wide request to end long passes early (see stop.h). */
#include "stop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <sys/socket.h>

#include "alloc.h"

static atomic_int asked;

/* The registered sockets: a few (one per IMAP connection), so a plain array. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int *fds;
static size_t nfds, capfds;

void pq_stop_request(void)
{
	size_t i;

	pthread_mutex_lock(&lock);
	atomic_store(&asked, 1);
	for (i = 0; i < nfds; i++)
		shutdown(fds[i], SHUT_RDWR);
	pthread_mutex_unlock(&lock);
}

int pq_stop_requested(void)
{
	return atomic_load(&asked);
}

void pq_stop_watch_fd(int fd)
{
	pthread_mutex_lock(&lock);
	if (nfds == capfds) {
		capfds = capfds ? 2 * capfds : 8;
		fds = pq_reallocarray(fds, capfds, sizeof(*fds));
	}
	fds[nfds++] = fd;
	if (atomic_load(&asked))
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&lock);
}

void pq_stop_unwatch_fd(int fd)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nfds; i++) {
		if (fds[i] == fd) {
			fds[i] = fds[--nfds];
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}
