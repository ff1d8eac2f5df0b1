/* error: per-thread last-error message (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

int pq_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return code;
}

const char *pq_error_last(void)
{
	return last_error;
}

void pq_error_clear(void)
{
	last_error[0] = '\0';
}
