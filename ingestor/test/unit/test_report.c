/*
 * test_report.c - percentile_cont semantics, the cold/warm rule and the
 * closing report's counts (and the sessions' first calls beside their
 * follow-ups), against values worked out by hand from
 * PostgreSQL's definition (position = fraction * (n - 1), linear between
 * the neighbouring ranks).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "measure/report.h"

#define EPS 1e-9

/* 1..10: p50 = 5.5, p95 = 9.55, p99 = 9.91; the ends are the extremes. */
static void
percentile_one_to_ten(void **state)
{
	const double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

	assert_float_equal(report_percentile(v, 10, 0.50), 5.5, EPS);
	assert_float_equal(report_percentile(v, 10, 0.95), 9.55, EPS);
	assert_float_equal(report_percentile(v, 10, 0.99), 9.91, EPS);
	assert_float_equal(report_percentile(v, 10, 0.0), 1, EPS);
	assert_float_equal(report_percentile(v, 10, 1.0), 10, EPS);
}

/* Small and skewed inputs; an empty set has no percentile. */
static void
percentile_edges(void **state)
{
	const double one[] = {42};
	const double two[] = {10, 20};
	const double skew[] = {10, 20, 30, 1000};

	assert_float_equal(report_percentile(one, 1, 0.99), 42, EPS);
	assert_float_equal(report_percentile(two, 2, 0.5), 15, EPS);
	assert_float_equal(report_percentile(two, 2, 0.95), 19.5, EPS);
	/* position 0.99 * 3 = 2.97: 30 + 0.97 * 970 */
	assert_float_equal(report_percentile(skew, 4, 0.99), 970.9, EPS);
	assert_true(isnan(report_percentile(NULL, 0, 0.5)));
}

/* Above the threshold is cold, at or below warm, no latency or threshold unknown. */
static void
cold_warm_rule(void **state)
{
	assert_int_equal(report_start_kind(500.001, 500), START_COLD);
	assert_int_equal(report_start_kind(500, 500), START_WARM);
	assert_int_equal(report_start_kind(-3, 500), START_WARM);
	assert_int_equal(report_start_kind(NAN, 500), START_UNKNOWN);
	assert_int_equal(report_start_kind(900, NAN), START_UNKNOWN);
}

/* A record with the given numbers. */
static struct report_record
record(int i, double ttft, double cold_latency, const char *error)
{
	struct report_record r = {.client_invoke_time = 1700000000.0 + i,
	                          .ttft_ms = ttft,
	                          .duration_ms = ttft + 100,
	                          .cold_start_latency_ms = cold_latency,
	                          .ok = error == NULL,
	                          .token_cache_hit = i > 0,
	                          .error = error};

	snprintf(r.invocation_id, sizeof(r.invocation_id), "00000000-0000-7000-8000-%012d", i);
	return r;
}

/* Counts, per-kind percentiles and the most common errors in the JSON report. */
static void
report_json_counts(void **state)
{
	struct report *s = report_new(500);
	struct report_totals totals = {.token_requests = 1, .rows_written = 15, .elapsed_s = 2};
	json_t *j;
	json_t *ttft;
	json_t *errors;
	int i = 0;

	/* warm TTFTs 1..10 (latency 20 ms), cold TTFTs 1000 and 3000 (latency 900 ms) */
	for (int k = 1; k <= 10; k++, i++)
	{
		struct report_record r = record(i, k, 20, NULL);

		report_add(s, &r);
	}
	for (int k = 1; k <= 3; k += 2, i++)
	{
		struct report_record r = record(i, k * 1000.0, 900, NULL);

		report_add(s, &r);
	}
	for (int k = 0; k < 3; k++, i++)
	{
		struct report_record r = record(i, NAN, NAN, k < 2 ? "HTTP 500: boom" : "stream cut");

		report_add(s, &r);
	}
	assert_int_equal(report_count(s), 15);
	assert_int_equal(report_errors(s), 3);

	j = report_json(s, &totals, true);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 15);
	assert_int_equal(json_integer_value(json_object_get(j, "ok")), 12);
	assert_int_equal(json_integer_value(json_object_get(j, "errors")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "token_requests")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "token_cache_hits")), 14);
	ttft = json_object_get(j, "ttft_ms");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ttft, "warm"), "count")),
	                 10);
	assert_float_equal(json_real_value(json_object_get(json_object_get(ttft, "warm"), "p95")), 9.55,
	                   EPS);
	assert_float_equal(json_real_value(json_object_get(json_object_get(ttft, "cold"), "p50")), 2000,
	                   EPS);
	/* overall: 1..10, 1000, 3000 -> position 0.5 * 11 = 5.5 between 6 and 7 */
	assert_float_equal(json_real_value(json_object_get(json_object_get(ttft, "overall"), "p50")),
	                   6.5, EPS);
	errors = json_object_get(j, "top_errors");
	assert_int_equal(json_array_size(errors), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
	                    "HTTP 500: boom");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 0), "count")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "records")), 15);
	{
		json_t *first = json_array_get(json_object_get(j, "records"), 0);

		assert_float_equal(json_real_value(json_object_get(first, "first_token_wall")),
		                   1700000000.0 + 0.001, 1e-6);
		assert_string_equal(json_string_value(json_object_get(first, "status")), "complete");
	}
	json_decref(j);
	report_free(s);
}

/* Without a threshold nothing is cold or warm, but the overall numbers stand. */
static void
report_without_threshold(void **state)
{
	struct report *s = report_new(NAN);
	struct report_totals totals = {0};
	struct report_record r = record(0, 12.5, 900, NULL);
	json_t *j;

	report_add(s, &r);
	j = report_json(s, &totals, false);
	assert_true(json_is_null(
	    json_object_get(json_object_get(json_object_get(j, "ttft_ms"), "cold"), "p50")));
	assert_float_equal(json_real_value(json_object_get(
	                       json_object_get(json_object_get(j, "ttft_ms"), "overall"), "p99")),
	                   12.5, EPS);
	assert_null(json_object_get(j, "records"));
	json_decref(j);
	report_free(s);
}

/* The written, spooled and in-doubt row counts, in the text and the JSON. */
static void
report_rows_in_doubt(void **state)
{
	struct report *s = report_new(500);
	struct report_totals totals = {.rows_written = 7, .rows_unwritten = 5, .rows_in_doubt = 2};
	struct report_record r = record(0, 10, 20, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	json_t *j;

	assert_non_null(out);
	report_add(s, &r);
	report_print(s, &totals, out);
	fclose(out);
	assert_non_null(strstr(text, "rows: 7 written, 5 unwritten (2 of them in doubt)\n"));
	free(text);

	j = report_json(s, &totals, false);
	assert_int_equal(json_integer_value(json_object_get(j, "rows_written")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "rows_unwritten")), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "rows_in_doubt")), 2);
	json_decref(j);

	totals.rows_in_doubt = 0;
	out = open_memstream(&text, &len);
	assert_non_null(out);
	report_print(s, &totals, out);
	fclose(out);
	assert_non_null(strstr(text, "rows: 7 written, 5 unwritten\n"));
	free(text);
	report_free(s);
}

/* Sessions of three calls: first calls (TTFT 1000, 2000; cold) beside the
 * follow-ups (TTFT 100..400, warm, and one error), in the JSON and the text. */
static void
report_session_calls(void **state)
{
	struct report *s = report_new(500);
	struct report_totals totals = {.calls_per_session = 3};
	const double first[] = {1000, 2000};
	const double follow[] = {100, 200, 300, 400};
	json_t *j, *split, *f, *u;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int i = 0;

	for (int k = 0; k < 2; k++, i++)
	{
		struct report_record r = record(i, first[k], 900, NULL);

		r.session_call = 1;
		report_add(s, &r);
	}
	for (int k = 0; k < 5; k++, i++)
	{
		struct report_record r = record(i, k < 4 ? follow[k] : NAN, 0, k < 4 ? NULL : "cut");

		r.session_call = 2 + (unsigned long) (k % 2);
		report_add(s, &r);
	}
	j = report_json(s, &totals, true);
	assert_int_equal(json_integer_value(json_object_get(j, "calls_per_session")), 3);
	split = json_object_get(j, "by_session_call");
	f = json_object_get(split, "first");
	u = json_object_get(split, "follow_up");
	assert_int_equal(json_integer_value(json_object_get(f, "count")), 2);
	assert_int_equal(json_integer_value(json_object_get(u, "count")), 5);
	/* 1000, 2000: position 0.5 -> 1500; 0.95 -> 1950 */
	assert_float_equal(json_real_value(json_object_get(json_object_get(f, "ttft_ms"), "p50")), 1500,
	                   EPS);
	assert_float_equal(json_real_value(json_object_get(json_object_get(f, "ttft_ms"), "p95")), 1950,
	                   EPS);
	/* 100..400 (the error has no TTFT): position 1.5 -> 250; 2.85 -> 385 */
	assert_float_equal(json_real_value(json_object_get(json_object_get(u, "ttft_ms"), "p50")), 250,
	                   EPS);
	assert_float_equal(json_real_value(json_object_get(json_object_get(u, "ttft_ms"), "p95")), 385,
	                   EPS);
	assert_float_equal(json_real_value(json_object_get(f, "cold_start_pct")), 1, EPS);
	assert_float_equal(json_real_value(json_object_get(u, "cold_start_pct")), 0, EPS);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(j, "records"), 3), "session_call")),
	                 3);
	json_decref(j);

	out = open_memstream(&text, &len);
	assert_non_null(out);
	report_print(s, &totals, out);
	fclose(out);
	assert_non_null(strstr(text, "(sessions of 3 calls)\n"));
	assert_non_null(strstr(text, "  first calls        2    1500.00    1950.00     100.0%\n"));
	assert_non_null(strstr(text, "  follow-ups         5     250.00     385.00       0.0%\n"));
	free(text);

	totals.calls_per_session = 1; /* one call per session: no split */
	j = report_json(s, &totals, false);
	assert_null(json_object_get(j, "by_session_call"));
	assert_int_equal(json_integer_value(json_object_get(j, "calls_per_session")), 1);
	json_decref(j);
	report_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(percentile_one_to_ten),    cmocka_unit_test(percentile_edges),
	    cmocka_unit_test(cold_warm_rule),           cmocka_unit_test(report_json_counts),
	    cmocka_unit_test(report_without_threshold), cmocka_unit_test(report_rows_in_doubt),
	    cmocka_unit_test(report_session_calls),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
