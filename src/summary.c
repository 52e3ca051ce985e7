/*
 * summary.c
 *	  The aggregates behind latency_summary(): everything the summary shows
 *	  about a group of invocations, from one transition call per row.
 *
 * loomlat.latency_stats(ttft_ms, duration_ms, cold, bounds_ms) keeps the
 * group's TTFTs in three arrays by cold-start class (cold, warm, unknown) and
 * its durations in a fourth, and counts invocations, cold starts and TTFTs
 * per histogram bucket.  The final function selects with
 * percentile_compute(), so every percentile is percentile_cont's, bit for
 * bit, over the non-NULL values: TTFT p50/p95/p99 over all classes, the TTFT
 * p50 of the cold and of the warm invocations, duration p50/p95.  Selection
 * reorders the arrays but keeps their values, so the final function is
 * READ_ONLY.  loomlat.ttft_histogram_counts(ttft_ms, bounds_ms) is the
 * histogram alone.
 *
 * Histogram buckets are lower-inclusive: with n bounds, bucket 0 holds
 * ttft < bounds[0], bucket i holds bounds[i-1] <= ttft < bounds[i] and
 * bucket n everything from the last bound up, NaN included (PostgreSQL
 * orders NaN above every number).  The bounds must be finite, positive,
 * strictly increasing and the same for every row.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "percentile.h"

/* Room an array gets on its first value; it doubles from there. */
#define VALUES_INITIAL_CAPACITY 64

/* Columns of loomlat.latency_stats, in order. */
enum
{
	STATS_INVOCATIONS,
	STATS_COLD_STARTS,
	STATS_TTFT_P50,
	STATS_TTFT_P95,
	STATS_TTFT_P99,
	STATS_COLD_TTFT_P50,
	STATS_WARM_TTFT_P50,
	STATS_DURATION_P50,
	STATS_DURATION_P95,
	STATS_HISTOGRAM,
	STATS_NATTS
};

/* The cold-start class of an invocation: was_cold_start true, false, NULL. */
typedef enum TtftClass
{
	TTFT_COLD,
	TTFT_WARM,
	TTFT_UNKNOWN,
	TTFT_NCLASSES
} TtftClass;

/* A growing array of doubles in the aggregate context. */
typedef struct ValueArray
{
	int64 count;
	int64 capacity;
	double *values;
} ValueArray;

/* Validated histogram bounds, read once per call site. */
typedef struct HistogramBounds
{
	int nbounds;
	double bound[FLEXIBLE_ARRAY_MEMBER];
} HistogramBounds;

/* ttft_histogram_counts state: nbounds + 1 bucket counts. */
typedef struct Histogram
{
	const HistogramBounds *bounds;
	int64 count[FLEXIBLE_ARRAY_MEMBER];
} Histogram;

/* latency_stats state. */
typedef struct LatencyStats
{
	int64 invocations;
	int64 cold_starts;
	ValueArray ttft[TTFT_NCLASSES];
	ValueArray duration;
	Histogram *histogram; /* NULL when bounds_ms is NULL */
} LatencyStats;

/* fn_extra of a transition function: its bounds argument, parsed. */
typedef struct BoundsCache
{
	const HistogramBounds *bounds; /* NULL for a NULL argument */
} BoundsCache;

PG_FUNCTION_INFO_V1(loomlat_latency_stats_transfn);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_final);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_transfn);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_final);

/* Returns the aggregate context, or raises an error outside an aggregate. */
static MemoryContext
summary_aggcontext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("%s called in non-aggregate context", fname)));
	return aggcontext;
}

/* Raises the error for unusable histogram bounds. */
static void
bounds_invalid(const char *detail)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
	                errmsg("histogram bounds must be a non-empty one-dimensional array of finite, "
	                       "positive, strictly increasing milliseconds"),
	                errdetail("%s", detail)));
}

/* Validates the bounds array into a HistogramBounds allocated in mcxt. */
static const HistogramBounds *
bounds_parse(ArrayType *array, MemoryContext mcxt)
{
	Datum *elems;
	bool *nulls;
	int n;
	HistogramBounds *bounds;

	if (ARR_NDIM(array) != 1)
		bounds_invalid("The array must have exactly one dimension.");
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems,
	                  &nulls, &n);
	bounds = MemoryContextAlloc(
	    mcxt, add_size(offsetof(HistogramBounds, bound), mul_size(n, sizeof(double))));
	bounds->nbounds = n;
	for (int i = 0; i < n; i++)
	{
		double b;

		if (nulls[i])
			bounds_invalid("A bound is NULL.");
		b = DatumGetFloat8(elems[i]);
		if (!(b > 0) || isinf(b))
			bounds_invalid("A bound is not a positive finite number.");
		if (i > 0 && !(b > bounds->bound[i - 1]))
			bounds_invalid("The bounds do not increase strictly.");
		bounds->bound[i] = b;
	}
	return bounds;
}

/* True when aggregate argument argno (0-based, state excluded) cannot vary. */
static bool
agg_arg_is_stable(FunctionCallInfo fcinfo, int argno)
{
	Aggref *aggref = AggGetAggref(fcinfo);
	Node *expr;

	if (aggref == NULL || list_length(aggref->args) <= argno)
		return false;
	expr = (Node *) ((TargetEntry *) list_nth(aggref->args, argno))->expr;
	return IsA(expr, Const) || (IsA(expr, Param) && ((Param *) expr)->paramkind == PARAM_EXTERN);
}

/*
 * The bounds argument (fcinfo argument argno), validated on the first call
 * and cached for the rest of the query: it must not vary from row to row.
 */
static const HistogramBounds *
bounds_read(FunctionCallInfo fcinfo, int argno)
{
	BoundsCache *cache = fcinfo->flinfo->fn_extra;

	if (cache == NULL)
	{
		if (!agg_arg_is_stable(fcinfo, argno - 1))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("histogram bounds must be the same for every row"),
			                errhint("Pass the bounds as a constant or a parameter.")));
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BoundsCache));
		if (!PG_ARGISNULL(argno))
			cache->bounds = bounds_parse(PG_GETARG_ARRAYTYPE_P(argno), fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache->bounds;
}

/* A histogram with every bucket at zero, in mcxt. */
static Histogram *
histogram_create(const HistogramBounds *bounds, MemoryContext mcxt)
{
	Histogram *histogram = MemoryContextAllocZero(
	    mcxt, add_size(offsetof(Histogram, count), mul_size(bounds->nbounds + 1, sizeof(int64))));

	histogram->bounds = bounds;
	return histogram;
}

/* Counts ttft in its bucket: the number of bounds at or below it. */
static void
histogram_add(Histogram *histogram, double ttft)
{
	const HistogramBounds *bounds = histogram->bounds;
	int lo = 0;
	int hi = bounds->nbounds;

	if (isnan(ttft))
		lo = hi;
	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (bounds->bound[mid] <= ttft)
			lo = mid + 1;
		else
			hi = mid;
	}
	histogram->count[lo]++;
}

/* The bucket counts as a bigint[]. */
static Datum
histogram_datum(const Histogram *histogram)
{
	int nbuckets = histogram->bounds->nbounds + 1;
	Datum *counts = palloc(mul_size(nbuckets, sizeof(Datum)));

	for (int i = 0; i < nbuckets; i++)
		counts[i] = Int64GetDatum(histogram->count[i]);
	return PointerGetDatum(construct_array(counts, nbuckets, INT8OID, sizeof(int64),
	                                       FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Appends value to array, allocating in aggcontext; doubles when full. */
static void
values_append(ValueArray *array, MemoryContext aggcontext, double value)
{
	if (array->count == array->capacity)
	{
		int64 capacity = Max(VALUES_INITIAL_CAPACITY, array->capacity * 2);

		if ((uint64) capacity > MaxAllocHugeSize / sizeof(double))
			ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			                errmsg("too many values in one latency_stats group")));
		array->values = array->values == NULL
		                    ? MemoryContextAllocHuge(aggcontext, mul_size(capacity, sizeof(double)))
		                    : repalloc_huge(array->values, mul_size(capacity, sizeof(double)));
		array->capacity = capacity;
	}
	array->values[array->count++] = value;
}

/* Sets the n percentiles of v[0..count) into values/nulls; NULL when empty. */
static void
set_percentiles(double *v, int64 count, const double *fraction, int n, Datum *values, bool *nulls)
{
	double result[3];

	Assert(n <= lengthof(result));
	if (count == 0)
		return;
	percentile_compute(v, count, fraction, n, result);
	for (int i = 0; i < n; i++)
	{
		values[i] = Float8GetDatum(result[i]);
		nulls[i] = false;
	}
}

/*
 * latency_stats(ttft_ms, duration_ms, cold, bounds_ms) transition: one call
 * per row; NULL arguments are allowed and skipped where they carry nothing.
 */
Datum
loomlat_latency_stats_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = summary_aggcontext(fcinfo, "latency_stats");
	LatencyStats *stats;

	if (PG_ARGISNULL(0))
	{
		const HistogramBounds *bounds = bounds_read(fcinfo, 4);

		stats = MemoryContextAllocZero(aggcontext, sizeof(LatencyStats));
		if (bounds != NULL)
			stats->histogram = histogram_create(bounds, aggcontext);
	}
	else
		stats = (LatencyStats *) PG_GETARG_POINTER(0);

	stats->invocations++;
	if (!PG_ARGISNULL(3) && PG_GETARG_BOOL(3))
		stats->cold_starts++;
	if (!PG_ARGISNULL(1))
	{
		double ttft = PG_GETARG_FLOAT8(1);
		TtftClass class = PG_ARGISNULL(3)     ? TTFT_UNKNOWN
		                  : PG_GETARG_BOOL(3) ? TTFT_COLD
		                                      : TTFT_WARM;

		values_append(&stats->ttft[class], aggcontext, ttft);
		if (stats->histogram != NULL)
			histogram_add(stats->histogram, ttft);
	}
	if (!PG_ARGISNULL(2))
		values_append(&stats->duration, aggcontext, PG_GETARG_FLOAT8(2));
	PG_RETURN_POINTER(stats);
}

/*
 * latency_stats final: a loomlat.latency_stats row.  A group without rows
 * (the empty grouping set of an empty window) has zero counts and NULLs.
 */
Datum
loomlat_latency_stats_final(PG_FUNCTION_ARGS)
{
	static const double ttft_fractions[] = {0.5, 0.95, 0.99};
	static const double duration_fractions[] = {0.5, 0.95};
	static const double median = 0.5;
	LatencyStats *stats;
	TupleDesc tupdesc;
	Datum values[STATS_NATTS];
	bool nulls[STATS_NATTS];

	summary_aggcontext(fcinfo, "latency_stats");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
	    tupdesc->natts != STATS_NATTS)
		elog(ERROR, "latency_stats must return a row of %d columns", STATS_NATTS);
	tupdesc = BlessTupleDesc(tupdesc);

	memset(nulls, true, sizeof(nulls));
	values[STATS_INVOCATIONS] = Int64GetDatum(0);
	values[STATS_COLD_STARTS] = Int64GetDatum(0);
	nulls[STATS_INVOCATIONS] = nulls[STATS_COLD_STARTS] = false;

	if (!PG_ARGISNULL(0))
	{
		int64 nttft = 0;
		double *ttft;

		stats = (LatencyStats *) PG_GETARG_POINTER(0);
		values[STATS_INVOCATIONS] = Int64GetDatum(stats->invocations);
		values[STATS_COLD_STARTS] = Int64GetDatum(stats->cold_starts);

		/* all classes together, in a copy: the state keeps its arrays */
		for (int c = 0; c < TTFT_NCLASSES; c++)
			nttft += stats->ttft[c].count;
		ttft =
		    MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(nttft, 1), sizeof(double)));
		nttft = 0;
		for (int c = 0; c < TTFT_NCLASSES; c++)
		{
			memcpy(ttft + nttft, stats->ttft[c].values, stats->ttft[c].count * sizeof(double));
			nttft += stats->ttft[c].count;
		}
		set_percentiles(ttft, nttft, ttft_fractions, lengthof(ttft_fractions),
		                &values[STATS_TTFT_P50], &nulls[STATS_TTFT_P50]);
		pfree(ttft);

		set_percentiles(stats->ttft[TTFT_COLD].values, stats->ttft[TTFT_COLD].count, &median, 1,
		                &values[STATS_COLD_TTFT_P50], &nulls[STATS_COLD_TTFT_P50]);
		set_percentiles(stats->ttft[TTFT_WARM].values, stats->ttft[TTFT_WARM].count, &median, 1,
		                &values[STATS_WARM_TTFT_P50], &nulls[STATS_WARM_TTFT_P50]);
		set_percentiles(stats->duration.values, stats->duration.count, duration_fractions,
		                lengthof(duration_fractions), &values[STATS_DURATION_P50],
		                &nulls[STATS_DURATION_P50]);
		if (stats->histogram != NULL)
		{
			values[STATS_HISTOGRAM] = histogram_datum(stats->histogram);
			nulls[STATS_HISTOGRAM] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ttft_histogram_counts(ttft_ms, bounds_ms) transition. */
Datum
loomlat_ttft_histogram_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = summary_aggcontext(fcinfo, "ttft_histogram_counts");
	Histogram *histogram;

	if (PG_ARGISNULL(0))
	{
		const HistogramBounds *bounds = bounds_read(fcinfo, 2);

		if (bounds == NULL)
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			                errmsg("histogram bounds must not be NULL")));
		histogram = histogram_create(bounds, aggcontext);
	}
	else
		histogram = (Histogram *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1))
		histogram_add(histogram, PG_GETARG_FLOAT8(1));
	PG_RETURN_POINTER(histogram);
}

/* ttft_histogram_counts final: the counts per bucket; NULL without rows. */
Datum
loomlat_ttft_histogram_final(PG_FUNCTION_ARGS)
{
	summary_aggcontext(fcinfo, "ttft_histogram_counts");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(histogram_datum((Histogram *) PG_GETARG_POINTER(0)));
}
