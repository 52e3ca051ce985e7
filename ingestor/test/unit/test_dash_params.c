/*
 * test_dash_params.c - the dashboard's argument parsers take exactly the
 * documented values and leave the output untouched otherwise; the number
 * formatting follows ttft_display()'s rule at its edges.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "present/dash_format.h"
#include "present/dash_params.h"

/* Exactly the four ranges. */
static void
ranges(void **state)
{
	const char *bad[] = {"", "1H", "24h ", " 24h", "2h", "7d;", "30d\n", "1h' OR '1'='1", "24"};
	const char *r = NULL;

	for (int i = 0; i < DASH_N_RANGES; i++)
	{
		assert_int_equal(dash_parse_range(dash_ranges[i], &r), 0);
		assert_ptr_equal(r, dash_ranges[i]);
	}
	r = "unchanged";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dash_parse_range(bad[i], &r), -1);
	assert_int_equal(dash_parse_range(NULL, &r), -1);
	assert_string_equal(r, "unchanged");
}

/* 8-4-4-4-12 hex. */
static void
uuids(void **state)
{
	const char *bad[] = {"",
	                     "0123456789ab-cdef-f0e1-d2c3b4a59687",
	                     "01234567-89ab-cdef-f0e1-d2c3b4a5968",
	                     "01234567-89ab-cdef-f0e1-d2c3b4a596877",
	                     "0123456g-89ab-cdef-f0e1-d2c3b4a59687",
	                     "01234567+89ab-cdef-f0e1-d2c3b4a59687",
	                     "{01234567-89ab-cdef-f0e1-d2c3b4a5968}",
	                     "01234567-89ab-cdef-f0e1-d2c3b4a5968'"};

	assert_true(dash_valid_uuid("01234567-89ab-cdef-F0E1-d2c3b4a59687"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(dash_valid_uuid(bad[i]));
	assert_false(dash_valid_uuid(NULL));
}

/* ttft_display()'s examples and edges. */
static void
durations(void **state)
{
	const struct
	{
		double ms;
		const char *shown;
	} cases[] = {{0, "0ms"},           {850, "850ms"},   {999.4, "999ms"},  {999.5, "1.0s"},
	             {1234, "1.2s"},       {59949, "59.9s"}, {59950, "1m 00s"}, {65000, "1m 05s"},
	             {3600000, "60m 00s"}, {NAN, "-"},       {-1, "-"}};
	char buf[DASH_FMT_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(dash_fmt_ms(cases[i].ms, buf), cases[i].shown);
	assert_string_equal(dash_fmt_pct(0.273, buf), "27.3%");
	assert_string_equal(dash_fmt_pct(NAN, buf), "-");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ranges),
	    cmocka_unit_test(uuids),
	    cmocka_unit_test(durations),
	};

	return cmocka_run_group_tests_name("dash_params", tests, NULL, NULL);
}
