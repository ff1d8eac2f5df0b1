/* alloc: allocation wrappers that abort on exhaustion (see alloc.h). */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
	fprintf(stderr, "patchq: out of memory allocating %zu bytes\n", size);
	abort();
}

void *pq_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		out_of_memory(size);
	return p;
}

void *pq_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		out_of_memory(nmemb * size);
	return p;
}

void *pq_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		out_of_memory(size);
	return p;
}

void *pq_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		out_of_memory(SIZE_MAX);
	return pq_realloc(ptr, nmemb * size);
}

char *pq_strdup(const char *s)
{
	return pq_strndup(s, strlen(s));
}

char *pq_strndup(const char *s, size_t len)
{
	char *p = pq_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
