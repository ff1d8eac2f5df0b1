/*
 * form: the values of a query string or an
 * application/x-www-form-urlencoded body, and of a Cookie header.
 *
 * Both come from any client on the network: every function is bounded by
 * the length it is given, never reads past it, and decodes into a buffer
 * the caller owns.
 */
#ifndef PQ_FORM_H
#define PQ_FORM_H

#include <stddef.h>

#include "buf.h"

/*
 * Finds name in s[0..len) ("a=1&b=two+words&c=%3C"; ';' separates too)
 * and appends its value, '+' made a space and %XX decoded, to out (reset
 * first). Returns 1 when found (the first of several), 0 when not,
 * PQ_EINVAL when its value holds a bad %-escape or a NUL byte (out then
 * empty).
 */
int pq_form_value(const char *s, size_t len, const char *name, struct pq_buf *out);

/*
 * Appends the path segment s[0..len) with its %XX escapes decoded ('+'
 * stays itself) to out (reset first). Returns 0, or PQ_EINVAL for a bad
 * escape or a NUL byte (out then empty).
 */
int pq_form_path(const char *s, size_t len, struct pq_buf *out);

/*
 * Finds the cookie name in a Cookie header value ("a=1; b=2") and appends
 * its value, as sent (no decoding), to out (reset first). Returns 1 when
 * found, 0 when not.
 */
int pq_form_cookie(const char *header, const char *name, struct pq_buf *out);

#endif
