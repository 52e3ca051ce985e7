/*
 * test_parse_num.c - the strict integer parsers take digits within bounds,
 * the whole string or nothing, and leave *out untouched on failure.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/parse_num.h"

/* Text no parser takes, whatever the bounds. */
static const char *const not_decimal[] = {
    "",    "-1",  "+1",     " 1", "1 ",           "1\n", "1e3", "0x10",
    "1.0", "1,0", "1;DROP", "١",  "1' OR '1'='1", "--1", "\t7",
};

/* Bounds inclusive; *out untouched on failure. */
static void
ulongs(void **state)
{
	unsigned long v = 77;

	assert_int_equal(parse_ulong("1", 1, 10, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_ulong("10", 1, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_ulong("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_ulong("18446744073709551615", 0, ULONG_MAX, &v), 0);
	assert_true(v == ULONG_MAX);
	v = 77;
	assert_int_equal(parse_ulong("0", 1, 10, &v), -1);
	assert_int_equal(parse_ulong("11", 1, 10, &v), -1);
	assert_int_equal(parse_ulong("18446744073709551616", 0, ULONG_MAX, &v), -1);
	assert_int_equal(parse_ulong("99999999999999999999999", 0, ULONG_MAX, &v), -1);
	for (size_t i = 0; i < sizeof(not_decimal) / sizeof(not_decimal[0]); i++)
		assert_int_equal(parse_ulong(not_decimal[i], 0, ULONG_MAX, &v), -1);
	assert_int_equal(parse_ulong(NULL, 0, 10, &v), -1);
	assert_int_equal(v, 77);
}

/* 1 .. INT64_MAX. */
static void
ids(void **state)
{
	int64_t id = 42;

	assert_int_equal(parse_id("1", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(parse_id("9223372036854775807", &id), 0);
	assert_true(id == INT64_MAX);
	id = 42;
	assert_int_equal(parse_id("0", &id), -1);
	assert_int_equal(parse_id("9223372036854775808", &id), -1);
	assert_int_equal(parse_id("99999999999999999999", &id), -1);
	for (size_t i = 0; i < sizeof(not_decimal) / sizeof(not_decimal[0]); i++)
		assert_int_equal(parse_id(not_decimal[i], &id), -1);
	assert_int_equal(parse_id(NULL, &id), -1);
	assert_int_equal(id, 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ulongs),
	    cmocka_unit_test(ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
