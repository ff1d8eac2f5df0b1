/* json: streaming JSON writer (see json.h). */
#include "json.h"

#include <inttypes.h>

void pq_json_init(struct pq_json *j, struct pq_buf *out, int pretty)
{
	j->out = out;
	j->depth = 0;
	j->first[0] = 1;
	j->pretty = pretty;
	j->after_key = 0;
}

static void newline(struct pq_json *j)
{
	int i;

	if (!j->pretty)
		return;
	pq_buf_addc(j->out, '\n');
	for (i = 0; i < j->depth; i++)
		pq_buf_adds(j->out, "  ");
}

/* Before a value or key: the comma and indentation it needs. */
static void separate(struct pq_json *j)
{
	if (!j->first[j->depth])
		pq_buf_addc(j->out, ',');
	j->first[j->depth] = 0;
	if (j->depth)
		newline(j);
}

static void value_start(struct pq_json *j)
{
	if (j->after_key)
		j->after_key = 0;
	else
		separate(j);
}

void pq_json_key(struct pq_json *j, const char *key)
{
	separate(j);
	pq_json_quote(j->out, key);
	pq_buf_adds(j->out, j->pretty ? ": " : ":");
	j->after_key = 1;
}

static void container_open(struct pq_json *j, char c)
{
	value_start(j);
	pq_buf_addc(j->out, c);
	if (j->depth < PQ_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = 1;
}

static void container_close(struct pq_json *j, char c)
{
	int empty = j->first[j->depth];

	if (j->depth)
		j->depth--;
	if (!empty)
		newline(j);
	pq_buf_addc(j->out, c);
	if (!j->depth)
		newline(j);
}

void pq_json_object_begin(struct pq_json *j)
{
	container_open(j, '{');
}

void pq_json_object_end(struct pq_json *j)
{
	container_close(j, '}');
}

void pq_json_array_begin(struct pq_json *j)
{
	container_open(j, '[');
}

void pq_json_array_end(struct pq_json *j)
{
	container_close(j, ']');
}

void pq_json_quote(struct pq_buf *out, const char *s)
{
	const char *start = s;

	pq_buf_addc(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		/* DEL and the C1 controls (U+0080-U+009F) are escaped too: a
		 * terminal acts on them when the output is shown as it is */
		if (c == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f) {
			pq_buf_add(out, start, (size_t)(s - start));
			pq_buf_addf(out, "\\u%04x", (unsigned char)s[1]);
			start = s + 2;
			s++;
			continue;
		}
		if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\')
			continue;
		pq_buf_add(out, start, (size_t)(s - start));
		start = s + 1;
		switch (c) {
		case '"':
			pq_buf_adds(out, "\\\"");
			break;
		case '\\':
			pq_buf_adds(out, "\\\\");
			break;
		case '\n':
			pq_buf_adds(out, "\\n");
			break;
		case '\t':
			pq_buf_adds(out, "\\t");
			break;
		case '\r':
			pq_buf_adds(out, "\\r");
			break;
		default:
			pq_buf_addf(out, "\\u%04x", c);
		}
	}
	pq_buf_add(out, start, (size_t)(s - start));
	pq_buf_addc(out, '"');
}

void pq_json_str(struct pq_json *j, const char *s)
{
	if (!s) {
		pq_json_null(j);
		return;
	}
	value_start(j);
	pq_json_quote(j->out, s);
}

void pq_json_int(struct pq_json *j, int64_t v)
{
	value_start(j);
	pq_buf_addf(j->out, "%" PRId64, v);
}

void pq_json_milli(struct pq_json *j, int64_t v)
{
	value_start(j);
	if (v < 0) {
		pq_buf_addc(j->out, '-');
		v = v == INT64_MIN ? INT64_MAX : -v;
	}
	pq_buf_addf(j->out, "%" PRId64 ".%03" PRId64, v / 1000, v % 1000);
}

void pq_json_bool(struct pq_json *j, int v)
{
	value_start(j);
	pq_buf_adds(j->out, v ? "true" : "false");
}

void pq_json_null(struct pq_json *j)
{
	value_start(j);
	pq_buf_adds(j->out, "null");
}

void pq_json_kstr(struct pq_json *j, const char *key, const char *s)
{
	pq_json_key(j, key);
	pq_json_str(j, s);
}

void pq_json_kint(struct pq_json *j, const char *key, int64_t v)
{
	pq_json_key(j, key);
	pq_json_int(j, v);
}

void pq_json_kbool(struct pq_json *j, const char *key, int v)
{
	pq_json_key(j, key);
	pq_json_bool(j, v);
}
