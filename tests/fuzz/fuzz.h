/*
 * fuzz: what every libFuzzer target here shares. NEED(cond) states what a
 * header promises; a broken promise traps, which libFuzzer reports as a
 * crash with the input that broke it.
 */
#ifndef PQ_FUZZ_H
#define PQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NEED(cond)                        \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* Runs sql on s with text bound at ?1 (when not NULL); what a target sets up must work. */
static inline void fz_exec(struct pq_store *s, const char *sql, const char *text)
{
	sqlite3_stmt *st = pq_store_stmt(s, sql);

	NEED(st != NULL);
	if (text)
		pq_store_bind_text(st, 1, text);
	NEED(pq_store_step_done(s, st) == 0);
}

#endif
