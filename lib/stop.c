/* stop: a process-wide request to end long passes early (see stop.h). */
#include "stop.h"

#include <stdatomic.h>

static atomic_int asked;

void pq_stop_request(void)
{
	atomic_store(&asked, 1);
}

int pq_stop_requested(void)
{
	return atomic_load(&asked);
}
