/*
 * test_json: the streaming JSON writer behind the HTTP API and --json
 * output: commas, escaping, nesting and the pretty layout.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "json.h"

static void test_compact_object(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_json j;

	pq_json_init(&j, &b, 0);
	pq_json_object_begin(&j);
	pq_json_kstr(&j, "s", "x");
	pq_json_kint(&j, "n", -5);
	pq_json_kint(&j, "big", 9007199254740993LL);
	pq_json_kbool(&j, "t", 1);
	pq_json_kbool(&j, "f", 0);
	pq_json_key(&j, "z");
	pq_json_null(&j);
	pq_json_kstr(&j, "nullstr", NULL);
	pq_json_key(&j, "o");
	pq_json_object_begin(&j);
	pq_json_key(&j, "k");
	pq_json_array_begin(&j);
	pq_json_int(&j, 1);
	pq_json_str(&j, "two");
	pq_json_object_begin(&j);
	pq_json_object_end(&j);
	pq_json_array_begin(&j);
	pq_json_array_end(&j);
	pq_json_bool(&j, 0);
	pq_json_array_end(&j);
	pq_json_object_end(&j);
	pq_json_key(&j, "e");
	pq_json_array_begin(&j);
	pq_json_array_end(&j);
	pq_json_key(&j, "eo");
	pq_json_object_begin(&j);
	pq_json_object_end(&j);
	pq_json_object_end(&j);
	CHECK_STR(pq_buf_str(&b), "{\"s\":\"x\",\"n\":-5,\"big\":9007199254740993,\"t\":true,"
				  "\"f\":false,\"z\":null,\"nullstr\":null,"
				  "\"o\":{\"k\":[1,\"two\",{},[],false]},\"e\":[],\"eo\":{}}");
	pq_buf_free(&b);
}

static void test_empty_containers_top_level(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_json j;

	pq_json_init(&j, &b, 0);
	pq_json_array_begin(&j);
	pq_json_array_end(&j);
	CHECK_STR(pq_buf_str(&b), "[]");
	pq_buf_reset(&b);
	pq_json_init(&j, &b, 1);
	pq_json_object_begin(&j);
	pq_json_object_end(&j);
	CHECK_STR(pq_buf_str(&b), "{}\n");
	pq_buf_free(&b);
}

static void test_escaping(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_json j;

	pq_json_quote(&b, "say \"hi\" \\ back\\slash");
	CHECK_STR(pq_buf_str(&b), "\"say \\\"hi\\\" \\\\ back\\\\slash\"");
	pq_buf_reset(&b);
	pq_json_quote(&b, "a\nb\tc\rd\x01"
			  "e\x1f"
			  "f\b\f\x7f");
	/* DEL too: a terminal showing the output raw would act on it */
	CHECK_STR(pq_buf_str(&b), "\"a\\nb\\tc\\rd\\u0001e\\u001ff\\u0008\\u000c\\u007f\"");
	pq_buf_reset(&b);
	/* the C1 controls (CSI U+009B starts an escape sequence), not U+00A0 */
	pq_json_quote(&b, "a\xc2\x9b"
			  "31m\xc2\x80\xc2\x9f\xc2\xa0z");
	CHECK_STR(pq_buf_str(&b), "\"a\\u009b31m\\u0080\\u009f\xc2\xa0z\"");
	pq_buf_reset(&b);
	pq_json_quote(&b, "caf\xc3\xa9 \xf0\x9f\xa6\x80 </script>");
	CHECK_STR(pq_buf_str(&b), "\"caf\xc3\xa9 \xf0\x9f\xa6\x80 </script>\"");
	pq_buf_reset(&b);
	pq_json_quote(&b, "");
	CHECK_STR(pq_buf_str(&b), "\"\"");

	/* keys are escaped too */
	pq_buf_reset(&b);
	pq_json_init(&j, &b, 0);
	pq_json_object_begin(&j);
	pq_json_kstr(&j, "a\"b", "c\\d");
	pq_json_object_end(&j);
	CHECK_STR(pq_buf_str(&b), "{\"a\\\"b\":\"c\\\\d\"}");
	pq_buf_free(&b);
}

static void test_pretty_layout_stable(void)
{
	static const char want[] = "{\n"
				   "  \"a\": 1,\n"
				   "  \"b\": [\n"
				   "    1,\n"
				   "    {\n"
				   "      \"x\": \"y\"\n"
				   "    }\n"
				   "  ],\n"
				   "  \"c\": {},\n"
				   "  \"d\": [],\n"
				   "  \"e\": null\n"
				   "}\n";
	struct pq_buf b = PQ_BUF_INIT;
	int round;

	for (round = 0; round < 2; round++) {
		struct pq_json j;

		pq_buf_reset(&b);
		pq_json_init(&j, &b, 1);
		pq_json_object_begin(&j);
		pq_json_kint(&j, "a", 1);
		pq_json_key(&j, "b");
		pq_json_array_begin(&j);
		pq_json_int(&j, 1);
		pq_json_object_begin(&j);
		pq_json_kstr(&j, "x", "y");
		pq_json_object_end(&j);
		pq_json_array_end(&j);
		pq_json_key(&j, "c");
		pq_json_object_begin(&j);
		pq_json_object_end(&j);
		pq_json_key(&j, "d");
		pq_json_array_begin(&j);
		pq_json_array_end(&j);
		pq_json_kstr(&j, "e", NULL);
		pq_json_object_end(&j);
		CHECK_STR(pq_buf_str(&b), want);
	}
	pq_buf_free(&b);
}

static void test_top_level_array_of_objects(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_json j;
	int i;

	pq_json_init(&j, &b, 0);
	pq_json_array_begin(&j);
	for (i = 0; i < 3; i++) {
		pq_json_object_begin(&j);
		pq_json_kint(&j, "id", i);
		pq_json_object_end(&j);
	}
	pq_json_array_end(&j);
	CHECK_STR(pq_buf_str(&b), "[{\"id\":0},{\"id\":1},{\"id\":2}]");
	pq_buf_free(&b);
}

/* Nesting deeper than PQ_JSON_MAX_DEPTH must still give balanced, valid
 * JSON (the writer must not lose track of commas on the way back up). */
static void test_deep_nesting_stays_valid(void)
{
	struct pq_buf b = PQ_BUF_INIT, want = PQ_BUF_INIT;
	struct pq_json j;
	int i, n = PQ_JSON_MAX_DEPTH + 8;

	pq_json_init(&j, &b, 0);
	for (i = 0; i < n; i++) {
		pq_json_array_begin(&j);
		pq_json_int(&j, i);
	}
	for (i = 0; i < n; i++) {
		pq_json_array_end(&j);
		if (i < n - 1)
			pq_json_int(&j, 100 + i); /* a sibling in the enclosing array */
	}
	for (i = 0; i < n; i++)
		pq_buf_addf(&want, "%s[%d", i ? "," : "", i);
	for (i = 0; i < n; i++) {
		pq_buf_addc(&want, ']');
		if (i < n - 1)
			pq_buf_addf(&want, ",%d", 100 + i);
	}
	CHECK_STR(pq_buf_str(&b), pq_buf_str(&want));
	pq_buf_free(&b);
	pq_buf_free(&want);
}

int main(void)
{
	test_compact_object();
	test_empty_containers_top_level();
	test_escaping();
	test_pretty_layout_stable();
	test_top_level_array_of_objects();
	test_deep_nesting_stays_valid();
	CHECK_DONE();
}
