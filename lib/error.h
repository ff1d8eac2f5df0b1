/*
 * error: error codes and the last-error message of libpatchq.
 *
 * Library functions return 0 or a negative PQ_E* code and, on failure, leave
 * a message with context here for the executables to print. The message is
 * per thread and replaced by the next failure.
 */
#ifndef PQ_ERROR_H
#define PQ_ERROR_H

enum {
	PQ_OK = 0,
	PQ_ERROR = -1,	   /* generic failure */
	PQ_ENOTFOUND = -2, /* the named object does not exist */
	PQ_EINVAL = -3,	   /* bad argument or malformed input */
	PQ_EIO = -4,	   /* a file, socket or process failed */
	PQ_EDB = -5,	   /* SQLite reported an error */
	PQ_EGIT = -6,	   /* libgit2 reported an error */
	PQ_ELIMIT = -7,	   /* input past a configured bound */
	PQ_EEXISTS = -8,   /* already present */
	PQ_EAUTH = -9,	   /* a server rejected our credentials */
	PQ_ETEMP = -10,	   /* failed for now; may work later (SMTP 4xx, timeout) */
	PQ_EPERM = -11,	   /* refused for good; retrying will not help (SMTP 5xx) */
};

/* Records a message for the current failure and returns code. */
int pq_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of the last failure in this thread, "" if none; borrowed. */
const char *pq_error_last(void);
void pq_error_clear(void);

#endif
