/*
 * digest: SHA-256 of mail bytes, the identity of raw deliveries and of
 * message content. OpenSSL's implementation uses the CPU's SHA extensions,
 * several times faster than a portable one; hostile mail cannot make two
 * messages collide, which a non-cryptographic hash would allow.
 */
#ifndef PQ_DIGEST_H
#define PQ_DIGEST_H

#include <stddef.h>

#define PQ_DIGEST_LEN 32

struct pq_digest {
	void *ctx;
};

void pq_digest_begin(struct pq_digest *d);
void pq_digest_add(struct pq_digest *d, const void *data, size_t len);
/* Writes the digest and releases d. */
void pq_digest_end(struct pq_digest *d, unsigned char out[PQ_DIGEST_LEN]);

/* The digest of len bytes at data, in one call. */
void pq_digest(unsigned char out[PQ_DIGEST_LEN], const void *data, size_t len);

/* Writes b[0..n) as 2n lower-case hex digits and a NUL to out (2n + 1 bytes). */
void pq_hex(const unsigned char *b, size_t n, char *out);

/* The value of hex digit c (either case), or -1 when c is not one. */
int pq_hex_digit(char c);

#endif
