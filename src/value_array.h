/*
 * value_array.h
 *	  The growable array of doubles that every aggregate state keeps its
 *	  values in.
 *
 * A zeroed ValueArray is empty and owns no memory; the first value
 * allocates room for VALUE_ARRAY_INITIAL_CAPACITY values and the capacity
 * doubles from there, in huge chunks past 1 GB, so one group may hold more
 * values than a plain palloc allows.  values is NULL while count is 0 and
 * nothing was reserved.  All memory comes from the context the caller names,
 * the aggregate context for a transition state.
 */
#ifndef LOOMLAT_VALUE_ARRAY_H
#define LOOMLAT_VALUE_ARRAY_H

/* Values a new array has room for when it first allocates. */
#define VALUE_ARRAY_INITIAL_CAPACITY 32

typedef struct ValueArray
{
	int64 count;
	int64 capacity;
	double *values;
} ValueArray;

/* Makes room for at least needed values in mcxt. */
extern void ValueArrayReserve(ValueArray *array, int64 needed, MemoryContext mcxt);

/* Appends the n values v[0..n) (v may be NULL when n is 0). */
extern void ValueArrayAppend(ValueArray *array, const double *v, int64 n, MemoryContext mcxt);

/* Appends one value: the transition functions' hot path. */
static inline void
ValueArrayPush(ValueArray *array, double value, MemoryContext mcxt)
{
	if (unlikely(array->count == array->capacity))
		ValueArrayReserve(array, array->count + 1, mcxt);
	array->values[array->count++] = value;
}

#endif
