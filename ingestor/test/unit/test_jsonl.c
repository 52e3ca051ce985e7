/*
 * test_jsonl.c - the ingest line mapper: every class of bad line is refused
 * with its reason, both shapes map to record_invocations rows, derived ids
 * are stable and content-bound; and the bounded line reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sink/jsonl.h"
#include "util/line_reader.h"

static const struct jsonl_options OPTS = {7, 4096};

/* Map a NUL-terminated line; the row's text must be one JSON object
 * without duplicate keys. */
static json_t *
map(const char *line, char *why)
{
	size_t len;
	char *text = jsonl_map_line(line, strlen(line), &OPTS, &len, why, 256);
	json_t *row;

	if (text == NULL)
		return NULL;
	assert_int_equal(strlen(text), len);
	row = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	assert_true(json_is_object(row));
	free(text);
	return row;
}

/* The line is refused and the reason contains want. */
static void
refused(const char *line, size_t len, const char *want)
{
	char why[256] = "";
	size_t row_len;
	char *row = jsonl_map_line(line, len, &OPTS, &row_len, why, sizeof(why));

	if (row != NULL || strstr(why, want) == NULL)
		fail_msg("line %.60s: got %s, want a refusal with \"%s\"", line, row != NULL ? row : why,
		         want);
}

/* Each bad-line class with its reason. */
static void
bad_lines(void **state)
{
	static const struct
	{
		const char *line;
		const char *why;
	} cases[] = {
	    {"{\"invocation_id\": ", "invalid JSON"},
	    {"", "invalid JSON"},
	    {"{\"invocation_id\":\"a\"} x", "invalid JSON"},
	    {"{\"invocation_id\":\"a\",\"ttft_ms\":NaN}", "invalid JSON"},
	    {"{\"invocation_id\":\"a\",\"ttft_ms\":Infinity}", "invalid JSON"},
	    {"{\"invocation_id\":\"a\",\"ttft_ms\":1e999}", "invalid JSON"},
	    {"{\"invocation_id\":\"a\",\"input_tokens\":99999999999999999999}", "invalid JSON"},
	    {"{\"invocation_id\":\"a\",\"invocation_id\":\"b\"}", "invalid JSON"},
	    {"{\"invocation_id\":\"a\",\"session_id\":\"\\u0000\"}", "invalid JSON"},
	    {"[{\"invocation_id\":\"a\"}]", "not a JSON object"},
	    {"\"x\"", "invalid JSON"},
	    {"{\"invocation_id\":\"a\",\"ttft_ms\":\"1\"}", "\"ttft_ms\" must be a number"},
	    {"{\"invocation_id\":\"a\",\"agent_id\":1.5}", "\"agent_id\" must be an integer"},
	    {"{\"invocation_id\":1}", "\"invocation_id\" must be a string"},
	    {"{\"invocation_id\":\"a\",\"token_cache_hit\":1}", "must be a boolean"},
	    {"{\"invocation_id\":\"a\",\"client_invoke_time\":true}", "a string or a number"},
	    {"{\"invocation_id\":\"a\",\"phases\":{}}", "phase objects"},
	    {"{\"invocation_id\":\"a\",\"phases\":[{\"start_ms\":1}]}", "phase objects"},
	    {"{\"invocation_id\":\"a\",\"phases\":[{\"phase\":\"db\",\"duration_ms\":\"1\"}]}",
	     "phase objects"},
	    {"{\"invocation_id\":\"a\",\"was_cold_start\":true}", "unknown key \"was_cold_start\""},
	    {"{\"status\":\"complete\"}", "missing \"invocation_id\""},
	    {"{\"invocation_id\":null,\"client_invoke_time\":null}", "missing \"invocation_id\""},
	    {"{\"a\":[[[[[[[[1]]]]]]]]}", "nested deeper than 8"},
	    {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "nested deeper"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i].line, strlen(cases[i].line), cases[i].why);
	/* brackets inside strings do not count as nesting */
	{
		char why[256];
		json_t *row =
		    map("{\"invocation_id\":\"a\",\"error_message\":\"[[[[[[[[[[{{{{\\\"\"}", why);

		assert_non_null(row);
		json_decref(row);
	}
}

/* Invalid UTF-8, an embedded NUL, oversize. */
static void
bytes(void **state)
{
	static const char bad_utf8[] = "{\"invocation_id\":\"a\",\"session_id\":\"\xff\"}";
	static const char overlong[] = "{\"invocation_id\":\"a\",\"session_id\":\"\xc0\xaf\"}";
	static const char nul[] = "{\"invocation_id\":\"a\"}\0x";
	char *big = malloc(5000);

	refused(bad_utf8, sizeof(bad_utf8) - 1, "invalid JSON");
	refused(overlong, sizeof(overlong) - 1, "invalid JSON");
	refused(nul, sizeof(nul) - 1, "invalid JSON");
	memset(big, ' ', 5000);
	memcpy(big, "{}", 2);
	refused(big, 4097, "longer than --max-line-bytes 4096");
	free(big);
}

/* loomlat's shape passes through; the default agent only fills a gap. */
static void
own_shape(void **state)
{
	char why[256];
	json_t *row =
	    map("{\"invocation_id\":\"00000000-0000-4000-8000-000000000001\",\"agent_id\":3,"
	        "\"status\":\"complete\",\"client_invoke_time\":\"2026-11-29T10:00:00Z\","
	        "\"ttft_ms\":12.5,\"input_tokens\":9223372036854775807,\"error_message\":null,"
	        "\"phases\":[{\"phase\":\"db\",\"start_ms\":0,\"duration_ms\":1.5,\"x\":1}]}",
	        why);

	assert_non_null(row);
	assert_string_equal(json_string_value(json_object_get(row, "invocation_id")),
	                    "00000000-0000-4000-8000-000000000001");
	assert_int_equal(json_integer_value(json_object_get(row, "agent_id")), 3);
	assert_int_equal(json_integer_value(json_object_get(row, "input_tokens")), INT64_MAX);
	assert_null(json_object_get(row, "cold_start_latency_ms"));
	assert_int_equal(json_object_size(row), 8);
	json_decref(row);
}

/* The Loom backend's shape: Unix-second floats, no agent, no id; the
 * latency is left to the server. */
static void
loom_shape(void **state)
{
	char why[256];
	json_t *row = map("{\"session_id\":\"s-1\",\"status\":\"complete\","
	                  "\"client_invoke_time\":1793527200.25,\"agent_start_time\":1793527201.75}",
	                  why);

	assert_non_null(row);
	assert_int_equal(json_integer_value(json_object_get(row, "agent_id")), 7);
	assert_true(json_is_string(json_object_get(row, "invocation_id")));
	assert_null(json_object_get(row, "cold_start_latency_ms"));
	assert_float_equal(json_real_value(json_object_get(row, "agent_start_time")), 1793527201.75,
	                   1e-6);
	json_decref(row);
}

/* A line that lacks nothing is sent as it is from its brace on; lacking
 * keys are spliced in after the brace (spacing kept), or the row is encoded
 * again when a lacking key is there as null. */
static void
row_text(void **state)
{
	static const struct
	{
		const char *line;
		const char *text; /* NULL: another encoding, checked by map() */
	} cases[] = {
	    {" {\"invocation_id\":\"i\", \"agent_id\":3} ",
	     "{\"invocation_id\":\"i\", \"agent_id\":3} "},
	    {" { \"invocation_id\":\"i\"}", "{\"agent_id\":7, \"invocation_id\":\"i\"}"},
	    {"{\"invocation_id\":\"i\",\"agent_id\":null}", "{\"invocation_id\":\"i\",\"agent_id\":7}"},
	    {"{\"invocation_id\":null,\"client_invoke_time\":1,\"agent_id\":3}", NULL},
	    {"{\"client_invoke_time\":1}", NULL},
	};
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		size_t len;
		char *text =
		    jsonl_map_line(cases[i].line, strlen(cases[i].line), &OPTS, &len, why, sizeof(why));
		json_t *row = map(cases[i].line, why);

		assert_non_null(text);
		if (cases[i].text != NULL)
			assert_string_equal(text, cases[i].text);
		assert_true(json_is_string(json_object_get(row, "invocation_id")));
		assert_true(json_is_integer(json_object_get(row, "agent_id")));
		free(text);
		json_decref(row);
	}
}

/* The same content gives the same id, whatever its key order or spacing;
 * other content another id; the id is a version 8, variant 10 UUID. */
static void
derived_ids(void **state)
{
	char why[256];
	json_t *a = map("{\"client_invoke_time\":1793527200.25,\"session_id\":\"s-1\"}", why);
	json_t *b = map(" { \"session_id\" : \"s-1\", \"client_invoke_time\" : 1793527200.25 } ", why);
	json_t *c = map("{\"client_invoke_time\":1793527200.26,\"session_id\":\"s-1\"}", why);
	const char *ida = json_string_value(json_object_get(a, "invocation_id"));
	const char *idb = json_string_value(json_object_get(b, "invocation_id"));
	const char *idc = json_string_value(json_object_get(c, "invocation_id"));

	assert_string_equal(ida, idb);
	assert_string_not_equal(ida, idc);
	assert_int_equal(strlen(ida), 36);
	assert_int_equal(ida[14], '8');
	assert_non_null(strchr("89ab", ida[19]));
	/* the derivation is part of the data's identity and must not drift: this value was
	 * computed apart, by FNV-1a-128 in Python over the sorted compact text */
	assert_string_equal(ida, "c411c741-6f80-8683-9660-a31f500336d7");
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* Feed the reader through a pipe. */
static int
pipe_with(const char *data, size_t len)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, len), (ssize_t) len);
	close(fds[1]);
	return fds[0];
}

/* Lines, offsets, an oversize line skipped, the unterminated tail. */
static void
reader(void **state)
{
	static const char data[] = "one\n\ntoo long a line\nthree\ntail";
	int fd = pipe_with(data, sizeof(data) - 1);
	struct line_reader *r = line_reader_new(fd, 8, 100);
	const char *line;
	size_t len;

	assert_int_equal(line_reader_next(r, false, &line, &len), LR_LINE);
	assert_int_equal(len, 3);
	assert_memory_equal(line, "one", 3);
	assert_int_equal(line_reader_offset(r), 104);
	assert_int_equal(line_reader_next(r, false, &line, &len), LR_LINE);
	assert_int_equal(len, 0);
	assert_int_equal(line_reader_next(r, false, &line, &len), LR_OVERSIZE);
	assert_int_equal(len, 15);
	assert_int_equal(line_reader_offset(r), 121);
	assert_int_equal(line_reader_next(r, false, &line, &len), LR_LINE);
	assert_memory_equal(line, "three", 5);
	assert_int_equal(line_reader_next(r, false, &line, &len), LR_EOF);
	assert_int_equal(line_reader_offset(r), 127);
	assert_int_equal(line_reader_next(r, true, &line, &len), LR_LINE);
	assert_memory_equal(line, "tail", 4);
	assert_int_equal(line_reader_offset(r), 131);
	assert_int_equal(line_reader_next(r, true, &line, &len), LR_EOF);
	line_reader_free(r);
	close(fd);
}

/* A long line is skipped without being buffered whole. */
static void
reader_long(void **state)
{
	size_t n = 1 << 20;
	char *data = malloc(n + 4);
	int fds[2];
	struct line_reader *r;
	const char *line;
	size_t len;

	memset(data, 'x', n);
	memcpy(data + n, "\nok\n", 4);
	assert_int_equal(pipe(fds), 0);
	r = line_reader_new(fds[0], 1000, 0);
	if (fork() == 0)
	{
		_exit(write(fds[1], data, n + 4) == (ssize_t) (n + 4) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(line_reader_next(r, true, &line, &len), LR_OVERSIZE);
	assert_int_equal(len, n);
	assert_int_equal(line_reader_next(r, true, &line, &len), LR_LINE);
	assert_memory_equal(line, "ok", 2);
	line_reader_free(r);
	close(fds[0]);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_lines),   cmocka_unit_test(bytes),       cmocka_unit_test(own_shape),
	    cmocka_unit_test(loom_shape),  cmocka_unit_test(derived_ids), cmocka_unit_test(reader),
	    cmocka_unit_test(reader_long), cmocka_unit_test(row_text),
	};

	return cmocka_run_group_tests_name("jsonl", tests, NULL, NULL);
}
