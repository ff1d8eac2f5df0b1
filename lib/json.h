/*
 * json: a small streaming JSON writer into a pq_buf.
 *
 * The caller opens and closes objects and arrays; commas and string
 * escaping are handled here. Strings are expected to be UTF-8 (mail.c
 * sanitizes at the edge); control characters are escaped.
 */
#ifndef PQ_JSON_H
#define PQ_JSON_H

#include <stdint.h>

#include "buf.h"

#define PQ_JSON_MAX_DEPTH 32

struct pq_json {
	struct pq_buf *out;
	int depth;
	int first[PQ_JSON_MAX_DEPTH]; /* no member written yet at this depth */
	int pretty;
	int after_key; /* a key was written: the value takes no comma */
};

void pq_json_init(struct pq_json *j, struct pq_buf *out, int pretty);
/* A key inside an object; follow it with exactly one value call. */
void pq_json_key(struct pq_json *j, const char *key);
void pq_json_object_begin(struct pq_json *j);
void pq_json_object_end(struct pq_json *j);
void pq_json_array_begin(struct pq_json *j);
void pq_json_array_end(struct pq_json *j);
/* A string value, or null when s is NULL. */
void pq_json_str(struct pq_json *j, const char *s);
void pq_json_int(struct pq_json *j, int64_t v);
/* v thousandths as a number with three decimals (1500 -> 1.500): milliseconds as seconds. */
void pq_json_milli(struct pq_json *j, int64_t v);
void pq_json_bool(struct pq_json *j, int v);
void pq_json_null(struct pq_json *j);

/* Shorthands for "key": value inside an object. */
void pq_json_kstr(struct pq_json *j, const char *key, const char *s);
void pq_json_kint(struct pq_json *j, const char *key, int64_t v);
void pq_json_kbool(struct pq_json *j, const char *key, int v);

/* Appends s as a quoted JSON string to out. */
void pq_json_quote(struct pq_buf *out, const char *s);

#endif
