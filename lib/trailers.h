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
	char *extinfo; /* a following "[...]" or "# ..." note, verbatim, or NULL */
};

struct pq_trailers {
	struct pq_trailer *v;
	size_t n;
};

enum pq_trailers_mode {
	/* The trailer block of a commit message: the last paragraph. */
	PQ_TRAILERS_COMMIT,
	/* A reply: any unquoted line before the signature that is a known
	 * review trailer ("Reviewed-by:", "Acked-by:" ...) with a value. */
	PQ_TRAILERS_REPLY,
};

/*
 * Appends the trailers found in text (UTF-8, len bytes) to out, in order.
 * Lines quoted with '>' never count. Returns 0; out is released with
 * pq_trailers_free().
 */
int pq_trailers_parse(struct pq_trailers *out, const char *text, size_t len,
		      enum pq_trailers_mode mode);
void pq_trailers_free(struct pq_trailers *t);

/* 1 for trailers that name a person (…-by, Cc), 0 for Fixes, Link and others. */
int pq_trailer_is_person(const char *name);

#endif
