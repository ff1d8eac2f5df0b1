/* crash: named points where the tests kill patchq (see crash.h). */
#include "crash.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void pq_crash_point(const char *name)
{
	const char *want = getenv("PATCHQ_CRASH");

	if (want && !strcmp(want, name))
		raise(SIGKILL);
}
