/*
 * test_uuid.c - version 7 ids: layout, time prefix, uniqueness.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/uuid.h"

#define N_IDS 10000

/* The canonical text form of known bytes. */
static void
formats_canonically(void **state)
{
	const uint8_t bytes[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	                           0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87};
	char out[UUID_STR_LEN];

	uuid_format(bytes, out);
	assert_string_equal(out, "01234567-89ab-cdef-f0e1-d2c3b4a59687");
}

/* 48-bit millisecond prefix, version 7, RFC variant. */
static void
v7_layout(void **state)
{
	char id[UUID_STR_LEN];

	assert_int_equal(uuid_v7(UINT64_C(0x0123456789ab), id), 0);
	assert_int_equal(strlen(id), 36);
	assert_memory_equal(id, "01234567-89ab-7", 15);
	assert_non_null(strchr("89ab", id[19]));
	for (int i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(id[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", id[i]));
	}
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Ten thousand ids in the same millisecond are distinct, and later ones sort later. */
static void
unique_and_time_ordered(void **state)
{
	static char ids[N_IDS][UUID_STR_LEN];
	char later[UUID_STR_LEN];

	for (int i = 0; i < N_IDS; i++)
		assert_int_equal(uuid_v7(1700000000000, ids[i]), 0);
	qsort(ids, N_IDS, UUID_STR_LEN, cmp_id);
	for (int i = 1; i < N_IDS; i++)
		assert_int_not_equal(strcmp(ids[i - 1], ids[i]), 0);
	assert_int_equal(uuid_v7(1700000000001, later), 0);
	assert_true(strcmp(ids[N_IDS - 1], later) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(formats_canonically),
	    cmocka_unit_test(v7_layout),
	    cmocka_unit_test(unique_and_time_ordered),
	};

	return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}
