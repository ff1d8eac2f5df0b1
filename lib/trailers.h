/*
 * trailers: "Key: value" lines at the end of a commit message and review
 * tags given in replies (Reviewed-by, Acked-by, Tested-by, Fixes, Link...).
 *
 * Parsing only: which trailer applies to which patch is series' business.
 */
#ifndef PQ_TRAILERS_H
#define PQ_TRAILERS_H

#include <stddef.h>

struct pq_trailer {
	char *name;    /* as written, e.g. "Reviewed-by" */
	char *value;   /* trimmed; a wrapped address re-joined on one line */
	char *email;   /* lower-cased address from value for person trailers, else NULL */
	char *extinfo; /* a following "[...]" line or a "  # ..." note after the value,
			* verbatim with its leading blanks (several "[...]" lines are
			* joined with '\n'), or NULL */
};

struct pq_trailers {
	struct pq_trailer *v;
	size_t n;
};

enum pq_trailers_mode {
	/* The trailer block of a commit message: the last paragraph before
	 * "---", a diff or a signature, if it is all trailers, or holds a
	 * known one (Signed-off-by, Fixes...) and three lines in four are
	 * trailers. Indented lines continue the value before them. */
	PQ_TRAILERS_COMMIT,
	/* A reply: any unquoted, possibly indented line before the signature
	 * (or a diff) that is a person trailer ("Reviewed-by:", "Cc:" ...)
	 * with an address, or Fixes:, Link:, Closes:. */
	PQ_TRAILERS_REPLY,
};

/*
 * Appends the trailers found in text (len bytes, may hold NUL bytes; a line
 * holding one is never a trailer) to out, in order. Lines quoted with '>'
 * never count. Returns 0, or PQ_EINVAL for a NULL out, a NULL text with
 * len > 0 or an unknown mode. out starts zeroed and is released with
 * pq_trailers_free().
 */
int pq_trailers_parse(struct pq_trailers *out, const char *text, size_t len,
		      enum pq_trailers_mode mode);
/* Frees every trailer and leaves t empty; t may be NULL. */
void pq_trailers_free(struct pq_trailers *t);

/* Appends a copy of one trailer (email and extinfo may be NULL). */
void pq_trailers_add(struct pq_trailers *t, const char *name, const char *value, const char *email,
		     const char *extinfo);

/* 1 when t holds name: value already (both compared ignoring case). */
int pq_trailers_contains(const struct pq_trailers *t, const char *name, const char *value);

/* 1 for trailers that name a person (…-by, Cc; any case), 0 for Fixes, Link,
 * others and NULL. */
int pq_trailer_is_person(const char *name);

#endif
