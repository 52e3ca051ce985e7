/*
 * percentile.c
 *	  Exact percentile aggregates that select instead of sorting.
 *
 * loomlat.percentile(v, fraction), loomlat.percentiles(v, fractions[]) and
 * loomlat.latency_percentiles(v) return what
 * percentile_cont(...) WITHIN GROUP (ORDER BY v) returns, bit for bit, but
 * are plain aggregates: they hash-group, take FILTER and run in parallel.
 *
 * The state keeps every non-NULL value in one flat array of doubles in the
 * aggregate context (8 bytes a value plus growth slack, huge allocations
 * beyond 1 GB).  The final function moves NaNs to the end (PostgreSQL sorts
 * NaN above +Infinity), selects the wanted ranks in ascending order, each on
 * what the previous one left above it, and interpolates with the formula of
 * float8_lerp in orderedsetaggs.c.  Selection reorders the values but never
 * changes them, so the state stays valid for more rows and more final calls
 * (a window frame that grows): the aggregates are FINALFUNC_MODIFY =
 * READ_ONLY, and a test runs them as window functions.
 *
 * The fractions are an aggregated argument here, not a direct one: they are
 * read on a group's first row, compared on later rows unless the argument is
 * a constant, and compared again when states combine.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "loomlat.h"
#include "percentile.h"

/* Values a new group has room for before its array first grows. */
#define PERCENTILE_INITIAL_CAPACITY 32

/*
 * Selection on at least NARROW_MIN_VALUES values is first narrowed by a
 * sample of one value in NARROW_SAMPLE_DIVISOR (at most NARROW_MAX_SAMPLE),
 * when there are at most NARROW_MAX_RANKS distinct ranks to find.
 */
#define NARROW_MIN_VALUES     65536
#define NARROW_SAMPLE_DIVISOR 64
#define NARROW_MAX_SAMPLE     8192
#define NARROW_MAX_RANKS      8

/* First word of a serialized state: "LLP" and format version 1. */
#define PERCENTILE_WIRE_MAGIC 0x4C4C5001

/* The fractions of one group and the shape of the array they came in. */
typedef struct PercentileFractions
{
	int32 ndim; /* 0 only for an empty array */
	int32 nitems;
	int dims[MAXDIM];
	int lbs[MAXDIM];
	double value[FLEXIBLE_ARRAY_MEMBER]; /* nitems values, then nitems null flags */
} PercentileFractions;

#define FRACTIONS_SIZE(n)                                                                          \
	(offsetof(PercentileFractions, value) + (Size) (n) * (sizeof(double) + sizeof(bool)))
#define FRACTIONS_ISNULL(f) ((bool *) &(f)->value[(f)->nitems])

/* Transition state: the group's non-NULL values and its fractions. */
typedef struct PercentileState
{
	int64 nvalues;
	int64 capacity;
	double *values;
	const PercentileFractions *fractions; /* NULL when the argument was NULL */
	bool check_rows;                      /* the argument may vary: compare every row */
} PercentileState;

/*
 * Serialized state: this header, the fractions, zero padding up to
 * wire_values_offset(), then nvalues doubles.
 */
typedef struct PercentileWireHeader
{
	uint32 magic;
	int32 fractions_size; /* 0 when the fraction argument was NULL */
	int64 nvalues;
} PercentileWireHeader;

/* Reads the current row's fractions into mcxt; NULL when the argument is NULL. */
typedef PercentileFractions *(*FractionsReader)(FunctionCallInfo fcinfo, MemoryContext mcxt);

/* Query-lifetime cache of a constant fraction argument, kept in fn_extra. */
typedef struct FractionsCache
{
	const PercentileFractions *fractions;
} FractionsCache;

PG_FUNCTION_INFO_V1(loomlat_percentile_transfn);
PG_FUNCTION_INFO_V1(loomlat_percentiles_transfn);
PG_FUNCTION_INFO_V1(loomlat_latency_percentiles_transfn);
PG_FUNCTION_INFO_V1(loomlat_percentile_combine);
PG_FUNCTION_INFO_V1(loomlat_percentile_serialize);
PG_FUNCTION_INFO_V1(loomlat_percentile_deserialize);
PG_FUNCTION_INFO_V1(loomlat_percentile_final);
PG_FUNCTION_INFO_V1(loomlat_percentiles_final);

/* Allocates empty fractions of the given count in mcxt. */
static PercentileFractions *
fractions_alloc(MemoryContext mcxt, int nitems)
{
	PercentileFractions *f = MemoryContextAllocZero(mcxt, FRACTIONS_SIZE(nitems));

	f->nitems = nitems;
	return f;
}

/* Copies a float8 array, its shape and its NULL entries into mcxt. */
static PercentileFractions *
fractions_from_array(ArrayType *array, MemoryContext mcxt)
{
	int nitems = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	PercentileFractions *f = fractions_alloc(mcxt, nitems);
	bool *isnull = FRACTIONS_ISNULL(f);
	array_iter iter;

	if (ARR_ELEMTYPE(array) != FLOAT8OID)
		elog(ERROR, "percentile fractions must be float8[], not type %u", ARR_ELEMTYPE(array));
	f->ndim = ARR_NDIM(array);
	memcpy(f->dims, ARR_DIMS(array), f->ndim * sizeof(int));
	memcpy(f->lbs, ARR_LBOUND(array), f->ndim * sizeof(int));
	array_iter_setup(&iter, (AnyArrayType *) array);
	for (int i = 0; i < nitems; i++)
	{
		Datum d =
		    array_iter_next(&iter, &isnull[i], i, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);

		f->value[i] = isnull[i] ? 0.0 : DatumGetFloat8(d);
	}
	return f;
}

/* Reads the float8 fraction of loomlat.percentile as a one-element array. */
static PercentileFractions *
read_scalar_fraction(FunctionCallInfo fcinfo, MemoryContext mcxt)
{
	PercentileFractions *f;

	if (PG_ARGISNULL(2))
		return NULL;
	f = fractions_alloc(mcxt, 1);
	f->ndim = 1;
	f->dims[0] = 1;
	f->lbs[0] = 1;
	f->value[0] = PG_GETARG_FLOAT8(2);
	return f;
}

/* Reads the float8[] fractions of loomlat.percentiles. */
static PercentileFractions *
read_array_fractions(FunctionCallInfo fcinfo, MemoryContext mcxt)
{
	if (PG_ARGISNULL(2))
		return NULL;
	return fractions_from_array(PG_GETARG_ARRAYTYPE_P(2), mcxt);
}

/* The fixed fractions of loomlat.latency_percentiles: {0.5, 0.95, 0.99}. */
static PercentileFractions *
read_latency_fractions(FunctionCallInfo fcinfo, MemoryContext mcxt)
{
	static const double latency[] = {0.5, 0.95, 0.99};
	PercentileFractions *f = fractions_alloc(mcxt, lengthof(latency));

	f->ndim = 1;
	f->dims[0] = lengthof(latency);
	f->lbs[0] = 1;
	memcpy(f->value, latency, sizeof(latency));
	return f;
}

/* True when two fraction sets (either may be NULL) ask the same question. */
static bool
fractions_equal(const PercentileFractions *a, const PercentileFractions *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->ndim != b->ndim || a->nitems != b->nitems ||
	    memcmp(a->dims, b->dims, a->ndim * sizeof(int)) != 0 ||
	    memcmp(a->lbs, b->lbs, a->ndim * sizeof(int)) != 0)
		return false;
	for (int i = 0; i < a->nitems; i++)
	{
		bool anull = FRACTIONS_ISNULL(a)[i];

		if (anull != FRACTIONS_ISNULL(b)[i])
			return false;
		/* == so that 0 and -0 agree; NaN is compared too, for the error */
		if (!anull && a->value[i] != b->value[i] && !(isnan(a->value[i]) && isnan(b->value[i])))
			return false;
	}
	return true;
}

/* Raises the error for fractions that differ within one group. */
static void
fractions_mismatch(void)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
	                errmsg("percentile fractions must be the same for every row of a group"),
	                errhint("Pass the fractions as a constant or an expression of the grouping "
	                        "columns.")));
}

/* True when the fraction argument cannot change during this execution. */
static bool
fraction_arg_is_constant(FunctionCallInfo fcinfo)
{
	Aggref *aggref = AggGetAggref(fcinfo);
	Node *expr;

	if (aggref == NULL || list_length(aggref->args) < 2)
		return false;
	expr = (Node *) ((TargetEntry *) lsecond(aggref->args))->expr;
	return IsA(expr, Const) || (IsA(expr, Param) && ((Param *) expr)->paramkind == PARAM_EXTERN);
}

/* Creates a group's state in aggcontext, reading its fractions once. */
static PercentileState *
state_begin(FunctionCallInfo fcinfo, MemoryContext aggcontext, FractionsReader read, bool constant)
{
	PercentileState *state = MemoryContextAllocZero(aggcontext, sizeof(PercentileState));

	if (constant)
	{
		FractionsCache *cache = fcinfo->flinfo->fn_extra;

		if (cache == NULL)
		{
			cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FractionsCache));
			cache->fractions = read(fcinfo, fcinfo->flinfo->fn_mcxt);
			fcinfo->flinfo->fn_extra = cache;
		}
		state->fractions = cache->fractions;
	}
	else
		state->fractions = read(fcinfo, aggcontext);
	state->check_rows = !constant;
	state->capacity = PERCENTILE_INITIAL_CAPACITY;
	state->values = MemoryContextAlloc(aggcontext, state->capacity * sizeof(double));
	return state;
}

/* Makes room for at least needed values, doubling; beyond 1 GB as huge chunks. */
static void
state_reserve(PercentileState *state, int64 needed)
{
	int64 capacity = Max(needed, state->capacity * 2);

	if (needed <= state->capacity)
		return;
	if ((uint64) capacity > MaxAllocHugeSize / sizeof(double))
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("too many values in one percentile group")));
	state->values = repalloc_huge(state->values, mul_size(capacity, sizeof(double)));
	state->capacity = capacity;
}

/* Copies a state (values and fractions) into mcxt, sized to fit. */
static PercentileState *
state_copy(const PercentileState *src, MemoryContext mcxt)
{
	PercentileState *dst = MemoryContextAllocZero(mcxt, sizeof(PercentileState));
	Size nbytes = mul_size(Max(src->nvalues, 1), sizeof(double));

	if (src->fractions != NULL)
	{
		Size fsize = FRACTIONS_SIZE(src->fractions->nitems);
		PercentileFractions *f = MemoryContextAlloc(mcxt, fsize);

		memcpy(f, src->fractions, fsize);
		dst->fractions = f;
	}
	dst->check_rows = src->check_rows;
	dst->nvalues = src->nvalues;
	dst->capacity = Max(src->nvalues, 1);
	dst->values = MemoryContextAllocHuge(mcxt, nbytes);
	memcpy(dst->values, src->values, src->nvalues * sizeof(double));
	return dst;
}

/* Shared transition: create or check the state, then append a non-NULL value. */
static Datum
percentile_accum(FunctionCallInfo fcinfo, FractionsReader read, const char *fname)
{
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, fname);
	PercentileState *state;

	if (PG_ARGISNULL(0))
		state = state_begin(fcinfo, aggcontext, read,
		                    PG_NARGS() < 3 || fraction_arg_is_constant(fcinfo));
	else
	{
		state = (PercentileState *) PG_GETARG_POINTER(0);
		if (state->check_rows &&
		    !fractions_equal(state->fractions, read(fcinfo, CurrentMemoryContext)))
			fractions_mismatch();
	}

	if (!PG_ARGISNULL(1))
	{
		if (unlikely(state->nvalues == state->capacity))
			state_reserve(state, state->nvalues + 1);
		state->values[state->nvalues++] = PG_GETARG_FLOAT8(1);
	}
	PG_RETURN_POINTER(state);
}

/* percentile(value float8, fraction float8) transition. */
Datum
loomlat_percentile_transfn(PG_FUNCTION_ARGS)
{
	return percentile_accum(fcinfo, read_scalar_fraction, "loomlat_percentile_transfn");
}

/* percentiles(value float8, fractions float8[]) transition. */
Datum
loomlat_percentiles_transfn(PG_FUNCTION_ARGS)
{
	return percentile_accum(fcinfo, read_array_fractions, "loomlat_percentiles_transfn");
}

/* latency_percentiles(value float8) transition. */
Datum
loomlat_latency_percentiles_transfn(PG_FUNCTION_ARGS)
{
	return percentile_accum(fcinfo, read_latency_fractions, "loomlat_latency_percentiles_transfn");
}

/* Combines two partial states into the first, copying when the first is NULL. */
Datum
loomlat_percentile_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, "loomlat_percentile_combine");
	PercentileState *left = PG_ARGISNULL(0) ? NULL : (PercentileState *) PG_GETARG_POINTER(0);
	PercentileState *right = PG_ARGISNULL(1) ? NULL : (PercentileState *) PG_GETARG_POINTER(1);

	if (right == NULL)
	{
		if (left == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(left);
	}
	if (left == NULL)
		PG_RETURN_POINTER(state_copy(right, aggcontext));

	if (!fractions_equal(left->fractions, right->fractions))
		fractions_mismatch();
	state_reserve(left, left->nvalues + right->nvalues);
	memcpy(left->values + left->nvalues, right->values, right->nvalues * sizeof(double));
	left->nvalues += right->nvalues;
	PG_RETURN_POINTER(left);
}

/*
 * Offset of the values from the start of a serialized state's data: past the
 * header and fractions, padded so that the values are aligned for double when
 * the bytea itself is, which lets deserialize use them in place.
 */
static Size
wire_values_offset(Size fsize)
{
	return TYPEALIGN(sizeof(double), VARHDRSZ + sizeof(PercentileWireHeader) + fsize) - VARHDRSZ;
}

/* Serializes a state; refuses one too large for a bytea. */
Datum
loomlat_percentile_serialize(PG_FUNCTION_ARGS)
{
	PercentileState *state;
	PercentileWireHeader header;
	Size fsize;
	Size offset;
	bytea *result;
	char *data;

	loomlat_agg_context(fcinfo, "loomlat_percentile_serialize");
	state = (PercentileState *) PG_GETARG_POINTER(0);
	fsize = state->fractions ? FRACTIONS_SIZE(state->fractions->nitems) : 0;
	offset = wire_values_offset(fsize);
	if ((uint64) state->nvalues > (MaxAllocSize - VARHDRSZ - offset) / sizeof(double))
		ereport(ERROR,
		        (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		         errmsg("percentile state of %lld values is too large to pass between processes",
		                (long long) state->nvalues),
		         errdetail("A partial aggregate state is limited to 1 GB, about 134 million "
		                   "values."),
		         errhint("Aggregate this group without parallel workers (SET "
		                 "max_parallel_workers_per_gather = 0).")));

	header.magic = PERCENTILE_WIRE_MAGIC;
	header.fractions_size = (int32) fsize;
	header.nvalues = state->nvalues;

	result = palloc(VARHDRSZ + offset + state->nvalues * sizeof(double));
	SET_VARSIZE(result, VARHDRSZ + offset + state->nvalues * sizeof(double));
	data = VARDATA(result);
	memset(data, 0, offset);
	memcpy(data, &header, sizeof(header));
	if (fsize > 0)
		memcpy(data + sizeof(header), state->fractions, fsize);
	memcpy(data + offset, state->values, state->nvalues * sizeof(double));
	PG_RETURN_BYTEA_P(result);
}

/* Raises the error for a serialized state that fails validation. */
static void
wire_corrupt(const char *detail)
{
	ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("invalid percentile state"),
	                errdetail_internal("%s", detail)));
}

/* Validates serialized fractions and copies them into aligned memory. */
static PercentileFractions *
fractions_deserialize(const char *p, Size size)
{
	PercentileFractions *f;
	int64 nitems = 1;

	if (size < offsetof(PercentileFractions, value))
		wire_corrupt("fractions are truncated");
	f = palloc(size);
	memcpy(f, p, size);
	if (f->ndim < 0 || f->ndim > MAXDIM || f->nitems < 0 || f->nitems > (int32) MaxArraySize ||
	    size != FRACTIONS_SIZE(f->nitems))
		wire_corrupt("fraction count does not match its size");
	for (int d = 0; d < f->ndim; d++)
	{
		if (f->dims[d] <= 0 || (int64) f->lbs[d] + f->dims[d] - 1 > PG_INT32_MAX)
			wire_corrupt("fraction array bounds are invalid");
		nitems *= f->dims[d];
		if (nitems > (int64) MaxArraySize)
			wire_corrupt("fraction array is too large");
	}
	if ((f->ndim == 0 ? 0 : nitems) != f->nitems)
		wire_corrupt("fraction array dimensions do not match its count");
	for (int i = 0; i < f->nitems; i++)
		if (((const unsigned char *) FRACTIONS_ISNULL(f))[i] > 1)
			wire_corrupt("fraction null flag is invalid");
	return f;
}

/*
 * Rebuilds a state from its serialized form, validating every field.  The
 * result is only ever the second argument of combine, which reads it while
 * the bytea lives, so aligned values are used in place rather than copied.
 */
Datum
loomlat_percentile_deserialize(PG_FUNCTION_ARGS)
{
	bytea *bytes;
	const char *data;
	const char *values;
	Size len;
	Size fsize;
	Size offset;
	PercentileWireHeader header;
	PercentileState *state;

	loomlat_agg_context(fcinfo, "loomlat_percentile_deserialize");
	bytes = PG_GETARG_BYTEA_PP(0);
	data = VARDATA_ANY(bytes);
	len = VARSIZE_ANY_EXHDR(bytes);

	if (len < sizeof(header))
		wire_corrupt("header is truncated");
	memcpy(&header, data, sizeof(header));
	if (header.magic != PERCENTILE_WIRE_MAGIC)
		wire_corrupt("unknown format or version");
	if (header.fractions_size < 0 || (Size) header.fractions_size > len - sizeof(header))
		wire_corrupt("fraction size is out of range");
	fsize = header.fractions_size;
	offset = wire_values_offset(fsize);
	if (header.nvalues < 0 || offset > len || (len - offset) % sizeof(double) != 0 ||
	    (uint64) header.nvalues != (len - offset) / sizeof(double))
		wire_corrupt("value count does not match the data");

	state = palloc0(sizeof(PercentileState));
	state->fractions = fsize > 0 ? fractions_deserialize(data + sizeof(header), fsize) : NULL;
	state->nvalues = header.nvalues;
	state->capacity = header.nvalues;
	values = data + offset;
	if ((uintptr_t) values % sizeof(double) == 0)
		state->values = (double *) values;
	else
	{
		state->values = MemoryContextAllocHuge(CurrentMemoryContext,
		                                       mul_size(Max(header.nvalues, 1), sizeof(double)));
		memcpy(state->values, values, header.nvalues * sizeof(double));
	}
	PG_RETURN_POINTER(state);
}

/* Raises percentile_cont's error for a fraction outside [0, 1]. */
static void
check_fraction(double fraction)
{
	if (fraction < 0 || fraction > 1 || isnan(fraction))
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
		                errmsg("percentile value %g is not between 0 and 1", fraction)));
}

/* Moves the NaNs of v[0..n) behind the other values; returns how many others. */
static int64
partition_nans(double *v, int64 n)
{
	int64 end = n;

	for (int64 i = 0; i < end;)
	{
		if (isnan(v[i]))
		{
			double t = v[i];

			v[i] = v[--end];
			v[end] = t;
		}
		else
			i++;
	}
	return end;
}

static inline void
swap_values(double *a, double *b)
{
	double t = *a;

	*a = *b;
	*b = t;
}

/* Restores the max-heap v[0..n) below root. */
static void
sift_down(double *v, int64 root, int64 n)
{
	for (;;)
	{
		int64 child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n && v[child + 1] > v[child])
			child++;
		if (!(v[child] > v[root]))
			return;
		swap_values(&v[root], &v[child]);
		root = child;
	}
}

/* Heapsorts v[0..n): the O(n log n) bound behind select_rank. */
static void
heap_sort(double *v, int64 n)
{
	for (int64 i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (int64 end = n - 1; end > 0; end--)
	{
		swap_values(&v[0], &v[end]);
		sift_down(v, 0, end);
	}
}

/*
 * Puts into v[k] the value sorted order puts there, with no greater value
 * before it and no smaller one after it in v[lo..hi] (NaN-free).  Hoare
 * partitioning around a median-of-3 pivot, which makes sorted, reversed and
 * equal runs linear; after 2*log2(n) rounds it heapsorts what is left, so no
 * input costs more than O(n log n).  Extremes are found by one scan.
 */
static void
select_rank(double *v, int64 lo, int64 hi, int64 k)
{
	int rounds = 2 * (pg_leftmost_one_pos64((uint64) (hi - lo + 1)) + 1);

	while (lo < hi)
	{
		int64 mid = lo + (hi - lo) / 2;
		int64 i = lo;
		int64 j = hi;
		double pivot;

		CHECK_FOR_INTERRUPTS();
		if (k == lo || k == hi)
		{
			int64 best = k;

			for (int64 x = lo; x <= hi; x++)
				if (k == lo ? v[x] < v[best] : v[x] > v[best])
					best = x;
			swap_values(&v[k], &v[best]);
			return;
		}
		if (rounds-- == 0)
		{
			heap_sort(v + lo, hi - lo + 1);
			return;
		}

		if (v[mid] < v[lo])
			swap_values(&v[mid], &v[lo]);
		if (v[hi] < v[mid])
		{
			swap_values(&v[hi], &v[mid]);
			if (v[mid] < v[lo])
				swap_values(&v[mid], &v[lo]);
		}
		pivot = v[mid];

		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
				swap_values(&v[i++], &v[j--]);
		}
		/* now v[lo..j] <= pivot, v[j+1..i-1] == pivot, v[i..hi] >= pivot */
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/*
 * The value of sorted rank r once the ranks are selected: a NaN from the
 * tail at or above ordered, else the selected position of r.
 */
static double
rank_value(const double *v, int64 ordered, const int64 *rank, const int64 *where, int nrank,
           int64 r)
{
	int lo = 0;
	int hi = nrank - 1;

	if (r >= ordered)
		return v[r];
	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (rank[mid] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	Assert(rank[lo] == r);
	return v[where[lo]];
}

/* qsort comparator for NaN-free doubles. */
static int
double_cmp(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return (x > y) - (x < y);
}

/* qsort comparator for ranks. */
static int
rank_cmp(const void *a, const void *b)
{
	int64 x = *(const int64 *) a;
	int64 y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Sorts rank[0..nrank) and keeps the distinct ranks below ordered (those at
 * or above it fall among the NaNs and need no selection); returns how many.
 */
static int
distinct_ranks_below(int64 *rank, int nrank, int64 ordered)
{
	int distinct = 0;

	qsort(rank, nrank, sizeof(int64), rank_cmp);
	for (int r = 0; r < nrank && rank[r] < ordered; r++)
		if (distinct == 0 || rank[r] != rank[distinct - 1])
			rank[distinct++] = rank[r];
	return distinct;
}

/*
 * Narrows the selection of the sorted ranks rank[0..nrank) in the NaN-free
 * v[0..n) to a short prefix of v, Floyd-Rivest style.  A sorted, evenly
 * spaced sample gives each rank a value bracket that holds it with high
 * probability; one branch-free pass counts the values below each bracket
 * and swaps those inside to the front.  On success it stores in where[i]
 * the position rank[i] has in that prefix and returns the prefix length;
 * when a rank falls outside its bracket (an unlucky sample) it returns -1.
 * Either way v keeps the same values.
 */
static int64
narrow_ranks(double *v, int64 n, const int64 *rank, int nrank, int64 *where)
{
	int64 nsample = Min(n / NARROW_SAMPLE_DIVISOR, NARROW_MAX_SAMPLE);
	int64 stride = n / nsample;
	double *sample = palloc(nsample * sizeof(double));
	double lo[NARROW_MAX_RANKS];
	double hi[NARROW_MAX_RANKS];
	int64 hist[4][2 * NARROW_MAX_RANKS + 1] = {{0}};
	int bracket_of[NARROW_MAX_RANKS];
	int nbracket = 0;
	int64 front = 0;

	for (int64 i = 0; i < nsample; i++)
		sample[i] = v[i * stride];
	qsort(sample, nsample, sizeof(double), double_cmp);

	/* brackets of about four standard deviations of the sample rank */
	for (int r = 0; r < nrank; r++)
	{
		double p = (double) rank[r] / (n - 1);
		double delta = 4 * sqrt(nsample * p * (1 - p)) + 4;
		int64 a = (int64) floor(p * (nsample - 1) - delta);
		int64 b = (int64) ceil(p * (nsample - 1) + delta);
		double blo = a > 0 ? sample[a] : -get_float8_infinity();
		double bhi = b < nsample - 1 ? sample[b] : get_float8_infinity();

		if (nbracket > 0 && blo <= hi[nbracket - 1])
			hi[nbracket - 1] = Max(hi[nbracket - 1], bhi);
		else
		{
			lo[nbracket] = blo;
			hi[nbracket] = bhi;
			nbracket++;
		}
		bracket_of[r] = nbracket - 1;
	}
	pfree(sample);

	/*
	 * slot 2k + 1: inside bracket k; slot 2k: between brackets k - 1 and k.
	 * Four interleaved histograms keep the increments independent.
	 */
	CHECK_FOR_INTERRUPTS();
	for (int64 i = 0; i < n; i++)
	{
		double x = v[i];
		int slot = 0;

		for (int k = 0; k < nbracket; k++)
			slot += (x >= lo[k]) + (x > hi[k]);
		hist[i & 3][slot]++;
		/* v[0..front) are inside a bracket, v[front..i) are not */
		v[i] = v[front];
		v[front] = x;
		front += slot & 1;
	}

	for (int r = 0; r < nrank; r++)
	{
		int k = bracket_of[r];
		int64 below = 0;
		int64 inside = 0;
		int64 before = 0;

		for (int h = 0; h < 4; h++)
		{
			for (int slot = 0; slot < 2 * k; slot++)
			{
				below += hist[h][slot];
				before += (slot & 1) ? hist[h][slot] : 0;
			}
			below += hist[h][2 * k];
			inside += hist[h][2 * k + 1];
		}
		if (rank[r] < below || rank[r] >= below + inside)
			return -1;
		where[r] = rank[r] - below + before;
	}
	return front;
}

/*
 * Sets result[i] to percentile_cont at fraction[i] over v[0..count)
 * (count > 0, n > 0 fractions, all in [0, 1]).  Reorders the values.
 */
void
percentile_compute(double *v, int64 count, const double *fraction, int n, double *result)
{
	int64 ordered = partition_nans(v, count);
	int64 *rank = palloc(mul_size(n, 2 * sizeof(int64)));
	int64 *where = palloc(mul_size(n, 2 * sizeof(int64)));
	int nrank = 0;
	int64 len = ordered;
	int64 next = 0;

	Assert(count > 0);
	/* the rows percentile_cont reads: floor and ceil of p * (N - 1) */
	for (int i = 0; i < n; i++)
	{
		double pos = fraction[i] * (count - 1);

		rank[nrank++] = (int64) floor(pos);
		rank[nrank++] = (int64) ceil(pos);
	}
	nrank = distinct_ranks_below(rank, nrank, ordered);

	memcpy(where, rank, nrank * sizeof(int64));
	if (ordered >= NARROW_MIN_VALUES && nrank > 0 && nrank <= NARROW_MAX_RANKS)
	{
		int64 prefix = narrow_ranks(v, ordered, rank, nrank, where);

		if (prefix >= 0)
			len = prefix;
		else
			memcpy(where, rank, nrank * sizeof(int64));
	}
	for (int r = 0; r < nrank; r++)
	{
		select_rank(v, next, len - 1, where[r]);
		next = where[r] + 1;
	}

	for (int i = 0; i < n; i++)
	{
		double pos = fraction[i] * (count - 1);
		double lo = rank_value(v, ordered, rank, where, nrank, (int64) floor(pos));
		double hi = rank_value(v, ordered, rank, where, nrank, (int64) ceil(pos));

		/* float8_lerp, to the operation, when the two rows differ */
		if (ceil(pos) > floor(pos))
			result[i] = lo + ((pos - floor(pos)) * (hi - lo));
		else
			result[i] = lo;
	}
	pfree(where);
	pfree(rank);
}

/* percentile(value, fraction) final: percentile_cont(fraction). */
Datum
loomlat_percentile_final(PG_FUNCTION_ARGS)
{
	PercentileState *state;
	double result;

	loomlat_agg_context(fcinfo, "loomlat_percentile_final");
	state = (PercentileState *) PG_GETARG_POINTER(0);

	/* like percentile_cont: a NULL fraction gives NULL, a bad one fails first */
	if (state->fractions == NULL)
		PG_RETURN_NULL();
	if (state->fractions->nitems != 1)
		elog(ERROR, "percentile state holds %d fractions, not 1", state->fractions->nitems);
	check_fraction(state->fractions->value[0]);
	if (state->nvalues == 0)
		PG_RETURN_NULL();

	percentile_compute(state->values, state->nvalues, state->fractions->value, 1, &result);
	PG_RETURN_FLOAT8(result);
}

/* percentiles and latency_percentiles final: percentile_cont(fractions[]). */
Datum
loomlat_percentiles_final(PG_FUNCTION_ARGS)
{
	PercentileState *state;
	const PercentileFractions *f;
	double *wanted;
	double *result;
	Datum *datums;
	int nwanted = 0;

	loomlat_agg_context(fcinfo, "loomlat_percentiles_final");
	state = (PercentileState *) PG_GETARG_POINTER(0);
	f = state->fractions;

	/* like percentile_cont: no values, or NULL fractions, give NULL */
	if (state->nvalues == 0 || f == NULL)
		PG_RETURN_NULL();
	if (f->nitems == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));

	wanted = palloc(mul_size(f->nitems, sizeof(double)));
	result = palloc(mul_size(f->nitems, sizeof(double)));
	datums = palloc0(mul_size(f->nitems, sizeof(Datum)));
	for (int i = 0; i < f->nitems; i++)
	{
		if (FRACTIONS_ISNULL(f)[i])
			continue;
		check_fraction(f->value[i]);
		wanted[nwanted++] = f->value[i];
	}
	if (nwanted > 0)
		percentile_compute(state->values, state->nvalues, wanted, nwanted, result);
	for (int i = 0, w = 0; i < f->nitems; i++)
		if (!FRACTIONS_ISNULL(f)[i])
			datums[i] = Float8GetDatum(result[w++]);

	PG_RETURN_ARRAYTYPE_P(construct_md_array(datums, FRACTIONS_ISNULL(f), f->ndim, (int *) f->dims,
	                                         (int *) f->lbs, FLOAT8OID, sizeof(float8),
	                                         FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
