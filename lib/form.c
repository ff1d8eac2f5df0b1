/*
 * form: query strings, form bodies and cookies (see form.h).
 */
#include "form.h"

#include <string.h>

#include "digest.h"
#include "error.h"

/* Decodes v[0..len) into out ('+' a space when plus); PQ_EINVAL on a bad escape or a NUL. */
static int decode(const char *v, size_t len, int plus, struct pq_buf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = v[i];

		if (c == '+' && plus) {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				goto bad;
			hi = pq_hex_digit(v[i + 1]);
			lo = pq_hex_digit(v[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			goto bad;
		pq_buf_addc(out, c);
	}
	return 0;
bad:
	pq_buf_reset(out);
	return pq_error_set(PQ_EINVAL, "a form value holds a bad %%-escape or a NUL byte");
}

int pq_form_value(const char *s, size_t len, const char *name, struct pq_buf *out)
{
	const char *p = s, *end = s + len;
	size_t n = strlen(name);

	pq_buf_reset(out);
	while (p && p < end) {
		const char *sep = p, *eq;

		while (sep < end && *sep != '&' && *sep != ';')
			sep++;
		eq = memchr(p, '=', (size_t)(sep - p));
		if ((size_t)((eq ? eq : sep) - p) == n && !memcmp(p, name, n)) {
			if (!eq)
				return 1;
			return decode(eq + 1, (size_t)(sep - eq - 1), 1, out) < 0 ? PQ_EINVAL : 1;
		}
		p = sep < end ? sep + 1 : end;
	}
	return 0;
}

int pq_form_path(const char *s, size_t len, struct pq_buf *out)
{
	pq_buf_reset(out);
	return decode(s, len, 0, out);
}

int pq_form_cookie(const char *header, const char *name, struct pq_buf *out)
{
	const char *p = header;
	size_t n = strlen(name);

	pq_buf_reset(out);
	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = end ? (size_t)(end - p) : strlen(p);
		if (len > n && p[n] == '=' && !memcmp(p, name, n)) {
			pq_buf_add(out, p + n + 1, len - n - 1);
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}
