/*
 * row_asserts.h - checks on the phases of an invocation row, shared by the
 * unit tests of the row builder and of the invocation.  Include after
 * <cmocka.h>.
 */
#ifndef LOOMLAT_ROW_ASSERTS_H
#define LOOMLAT_ROW_ASSERTS_H

#include <math.h>
#include <string.h>

#include <jansson.h>

#define ROW_EPS 1e-9

/* The phase called name in row, or NULL. */
static inline json_t *
phase(json_t *row, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(row, "phases"), i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "phase")), name) == 0)
			return p;
	}
	return NULL;
}

/* The phase exists with these numbers (start NAN: JSON null). */
static inline void
assert_phase(json_t *row, const char *name, double start_ms, double duration_ms)
{
	json_t *p = phase(row, name);
	json_t *start;

	assert_non_null(p);
	start = json_object_get(p, "start_ms");
	if (isnan(start_ms))
		assert_true(json_is_null(start));
	else
		assert_float_equal(json_real_value(start), start_ms, ROW_EPS);
	assert_float_equal(json_real_value(json_object_get(p, "duration_ms")), duration_ms, ROW_EPS);
}

#endif
