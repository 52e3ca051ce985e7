/*
 * value_array.c
 *	  The growable array of doubles behind every aggregate state.
 *
 * The percentile and summary aggregates keep every non-NULL value of a
 * group, so one implementation owns growth, its overflow checks and the
 * error for a group that no allocation can hold (see value_array.h).
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "value_array.h"

/* The most values one array may hold: a huge allocation's limit. */
#define VALUE_ARRAY_MAX_CAPACITY ((int64) (MaxAllocHugeSize / sizeof(double)))

/* Makes room for at least needed values, doubling the capacity. */
void
ValueArrayReserve(ValueArray *array, int64 needed, MemoryContext mcxt)
{
	int64 capacity;
	Size nbytes;

	if (needed <= array->capacity)
		return;
	if (needed > VALUE_ARRAY_MAX_CAPACITY)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("too many values in one aggregate group"),
		                errdetail("One group holds at most %lld values.",
		                          (long long) VALUE_ARRAY_MAX_CAPACITY)));
	capacity = Max(needed, VALUE_ARRAY_INITIAL_CAPACITY);
	if (array->capacity <= VALUE_ARRAY_MAX_CAPACITY / 2)
		capacity = Max(capacity, array->capacity * 2);
	nbytes = mul_size((Size) capacity, sizeof(double));
	array->values = array->values == NULL ? MemoryContextAllocHuge(mcxt, nbytes)
	                                      : repalloc_huge(array->values, nbytes);
	array->capacity = capacity;
}

/* Appends v[0..n); memcpy never sees NULL, even for 0 bytes. */
void
ValueArrayAppend(ValueArray *array, const double *v, int64 n, MemoryContext mcxt)
{
	if (n <= 0)
		return;
	ValueArrayReserve(array, add_size((Size) array->count, (Size) n), mcxt);
	memcpy(array->values + array->count, v, mul_size((Size) n, sizeof(double)));
	array->count += n;
}
