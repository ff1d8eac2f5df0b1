/*
 * fuzz: what every libFuzzer target here shares. NEED(cond) states what a
 * header promises; a broken promise traps, which libFuzzer reports as a
 * crash with the input that broke it.
 */
#ifndef PQ_FUZZ_H
#define PQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NEED(cond)                        \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

#endif
