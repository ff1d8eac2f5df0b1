/*
 * token: who may act on the desk.
 *
 * A maintainer's token is 32 random bytes, shown once as 64 hex digits
 * when made (`patchq token new NAME`); the database keeps only its
 * SHA-256, so a copy of the database gives no one the right to act. A
 * request carries the token as "Authorization: Bearer TOKEN" (the API) or
 * in the HttpOnly cookie the login form sets (the pages). Forms carry a
 * CSRF value derived from the token, which another site cannot know.
 */
#ifndef PQ_TOKEN_H
#define PQ_TOKEN_H

#include "buf.h"
#include "store.h"

#define PQ_TOKEN_HEX 64

/*
 * Makes a token for name and stores its hash; the token goes to out
 * (PQ_TOKEN_HEX hex digits and a NUL). Returns 0, PQ_EEXISTS (name has
 * one: revoke it first), PQ_EINVAL (an empty name or one with control
 * characters), PQ_EIO (no randomness), PQ_EDB.
 */
int pq_token_new(struct pq_store *s, const char *name, long long now, char out[PQ_TOKEN_HEX + 1]);

/*
 * Whose token is token: 1 with *name (malloc'd) when it is one, and its
 * use recorded at now (to the minute: at most one write a minute); 0 when
 * it is not; PQ_EDB. Compares hashes, so the time taken says nothing
 * about how much of a token was right.
 */
int pq_token_check(struct pq_store *s, const char *token, long long now, char **name);

/* Removes name's token. Returns 0, PQ_ENOTFOUND, PQ_EDB. */
int pq_token_revoke(struct pq_store *s, const char *name);

/* The tokens' names, made and last used, one per line, into out. Returns 0 or PQ_EDB. */
int pq_token_list(struct pq_store *s, struct pq_buf *out);

/* The CSRF value of forms for a session holding token (hex, PQ_TOKEN_HEX digits and a NUL). */
void pq_token_csrf(const char *token, char out[PQ_TOKEN_HEX + 1]);

/* Whether a and b are equal, in a time that does not depend on where they differ. */
int pq_token_equal(const char *a, const char *b);

/*
 * Records an action: what (approve, reject, apply, rebuild, retry, ...)
 * by who on series_id (0: none) and queue (may be NULL), with reason (may
 * be NULL), at now. Returns 0 or PQ_EDB.
 */
int pq_token_record(struct pq_store *s, long long series_id, const char *queue, const char *what,
		    const char *who, const char *reason, long long now);

#endif
