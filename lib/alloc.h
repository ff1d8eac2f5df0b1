/*
 * alloc: allocation that cannot fail silently.
 *
 * Running out of memory is not an input error: these wrappers print one line
 * and abort, so no caller carries a NULL check that is never tested.
 */
#ifndef PQ_ALLOC_H
#define PQ_ALLOC_H

#include <stddef.h>

void *pq_malloc(size_t size);
void *pq_calloc(size_t nmemb, size_t size);
void *pq_realloc(void *ptr, size_t size);
/* Grows an array of nmemb elements of size bytes, checking for overflow. */
void *pq_reallocarray(void *ptr, size_t nmemb, size_t size);
char *pq_strdup(const char *s);
/* Copies len bytes and terminates them; s may hold NUL bytes. */
char *pq_strndup(const char *s, size_t len);

#endif
