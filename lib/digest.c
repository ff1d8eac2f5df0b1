/* digest: SHA-256 through OpenSSL's libcrypto (see digest.h). */
#include "digest.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

/* A digest that cannot be computed is a broken installation, not input. */
static void broken(const char *what)
{
	fprintf(stderr, "patchq: libcrypto SHA-256 failed in %s\n", what);
	abort();
}

void pq_digest_begin(struct pq_digest *d)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		broken("init");
	d->ctx = ctx;
}

void pq_digest_add(struct pq_digest *d, const void *data, size_t len)
{
	if (len && !EVP_DigestUpdate(d->ctx, data, len))
		broken("update");
}

void pq_digest_end(struct pq_digest *d, unsigned char out[PQ_DIGEST_LEN])
{
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(d->ctx, out, &n) || n != PQ_DIGEST_LEN)
		broken("final");
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

void pq_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

void pq_digest(unsigned char out[PQ_DIGEST_LEN], const void *data, size_t len)
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != PQ_DIGEST_LEN)
		broken("one-shot");
}

int pq_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
