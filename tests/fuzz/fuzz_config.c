/*
 * fuzz_config: arbitrary bytes as a configuration file through
 * pq_config_load. The file is a memfd named by /proc/self/fd, so nothing
 * touches the disk. What config.h promises is checked: success gives a
 * configuration with the required keys and every rule's queue defined;
 * failure gives PQ_EINVAL or PQ_EIO with a message naming the file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "config.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pq_config *c = NULL;
	char path[64];
	size_t i;
	int fd = memfd_create("fuzz-config", 0), rc;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = pq_config_load(&c, path);
	if (rc == 0) {
		NEED(c && c->database && c->repository && c->committer_name && c->committer_email);
		NEED(c->reply.from_name && c->reply.from_email && c->reply.applied);
		for (i = 0; i < c->nrules; i++)
			NEED(pq_config_queue(c, c->rules[i].queue) != NULL);
		for (i = 0; i < c->nsources; i++)
			NEED(c->sources[i].type && c->sources[i].poll_interval >= 1);
	} else {
		NEED(c == NULL && (rc == PQ_EINVAL || rc == PQ_EIO));
		NEED(strstr(pq_error_last(), path) != NULL);
	}
	pq_config_free(c);
	close(fd);
	return 0;
}
