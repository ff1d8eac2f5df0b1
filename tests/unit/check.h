/*
 * check: the few assertion macros the unit tests share.
 *
 * A failed CHECK prints where and what, counts, and lets the test go on so
 * one run shows every failure; CHECK_DONE() ends main() with the verdict.
 */
#ifndef PQ_CHECK_H
#define PQ_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(expr)                                                                              \
	do {                                                                                     \
		check_count++;                                                                   \
		if (!(expr)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_INT(a, b)                                                                           \
	do {                                                                                      \
		long long a_ = (long long)(a), b_ = (long long)(b);                               \
		check_count++;                                                                    \
		if (a_ != b_) {                                                                   \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, \
				#a, a_, b_);                                                      \
			check_failures++;                                                         \
		}                                                                                 \
	} while (0)

#define CHECK_STR(a, b)                                                                     \
	do {                                                                                \
		const char *a_ = (a), *b_ = (b);                                            \
		check_count++;                                                              \
		if (!a_ || !b_ ? a_ != b_ : strcmp(a_, b_) != 0) {                          \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
				__LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");      \
			check_failures++;                                                   \
		}                                                                           \
	} while (0)

#define CHECK_DONE()                                                           \
	do {                                                                   \
		printf("%d checks, %d failed\n", check_count, check_failures); \
		return check_failures ? 1 : 0;                                 \
	} while (0)

#endif
