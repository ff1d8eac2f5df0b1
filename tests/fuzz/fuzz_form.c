/*
 * fuzz_form: arbitrary bytes as a query string, a form body and a Cookie
 * header, through pq_form_value and pq_form_cookie, with a few names
 * (the empty one too). What form.h promises is checked: 1, 0 or PQ_EINVAL;
 * a value never holds a NUL byte and is never longer than the input;
 * PQ_EINVAL and 0 leave out empty; a found cookie is a piece of the header.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "buf.h"
#include "error.h"
#include "form.h"

static const char *const names[] = { "a", "name", "q", "csrf", "", "a b", "%41" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pq_buf out = PQ_BUF_INIT;
	char *copy = malloc(size ? size : 1), *cstr;
	size_t i;

	NEED(copy != NULL);
	/* exactly size bytes, so that a read past the end is caught */
	memcpy(copy, data, size);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = pq_form_value(copy, size, names[i], &out);

		NEED(rc == 1 || rc == 0 || rc == PQ_EINVAL);
		if (rc != 1)
			NEED(out.len == 0);
		NEED(out.len <= size);
		NEED(!out.len || memchr(out.ptr, '\0', out.len) == NULL);
	}
	/* the Cookie header is a C string: up to the first NUL */
	cstr = malloc(size + 1);
	NEED(cstr != NULL);
	memcpy(cstr, data, size);
	cstr[size] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = pq_form_cookie(cstr, names[i], &out);

		NEED(rc == 1 || rc == 0);
		if (rc == 0)
			NEED(out.len == 0);
		else
			NEED(out.len <= strlen(cstr) &&
			     (!out.len || memmem(cstr, strlen(cstr), out.ptr, out.len) != NULL));
	}
	pq_buf_free(&out);
	free(cstr);
	free(copy);
	return 0;
}
