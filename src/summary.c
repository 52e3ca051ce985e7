/*
 * summary.c
 *	  The aggregates behind latency_summary(): everything the summary shows
 *	  about a group of invocations, from one transition call per row.
 *
 * loomlat.latency_stats(ttft_ms, duration_ms, cold, bounds_ms) keeps the
 * group's TTFTs with a byte for their cold-start class (cold, warm, unknown)
 * and its durations, and counts invocations, cold starts and TTFTs per
 * histogram bucket: a row costs a few stores.  The final function selects
 * with percentile_compute(), so every percentile is percentile_cont's, bit
 * for bit, over the non-NULL values: TTFT p50/p95/p99 over all classes, the
 * TTFT p50 of the cold and of the warm invocations, duration p50/p95.  It
 * copies or reorders the state's values but never changes them, so it is
 * READ_ONLY.
 *
 * loomlat.latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold,
 * bounds_ms) keeps such a state per agent in its own hash table (cheaper
 * than a GROUP BY, and no second grouping set for the total) and returns
 * every agent's row, by agent_id, and the total's, computed over all of their
 * values.  loomlat.ttft_histogram_counts(ttft_ms, bounds_ms) is the
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
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

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
	int64 nttft;         /* non-NULL TTFTs: ttft[i], of class ttft_class[i] */
	int64 ttft_capacity; /* room in ttft and ttft_class */
	double *ttft;
	uint8 *ttft_class;
	ValueArray duration;
	Histogram *histogram; /* NULL when bounds_ms is NULL */
} LatencyStats;

/* An agent's entry in the by-agent hash table. */
typedef struct AgentEntry
{
	int64 agent_id;
	char status; /* simplehash's */
	LatencyStats *stats;
} AgentEntry;

#define SH_PREFIX            agentmap
#define SH_ELEMENT_TYPE      AgentEntry
#define SH_KEY_TYPE          int64
#define SH_KEY               agent_id
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(tb, a, b)   ((a) == (b))
#define SH_SCOPE             static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* latency_stats_by_agent state. */
typedef struct AgentStats
{
	agentmap_hash *agents;
	LatencyStats *no_agent;        /* rows whose agent_id is NULL, or NULL */
	const HistogramBounds *bounds; /* NULL: no histograms */
} AgentStats;

/* fn_extra of a transition function: its bounds argument, parsed. */
typedef struct BoundsCache
{
	const HistogramBounds *bounds; /* NULL for a NULL argument */
} BoundsCache;

PG_FUNCTION_INFO_V1(loomlat_latency_stats_transfn);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_final);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_transfn);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_final);
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

/*
 * Counts ttft in its bucket: the number of bounds at or below it, found by a
 * binary search whose steps compile to conditional moves.
 */
static void
histogram_add(Histogram *histogram, double ttft)
{
	const HistogramBounds *bounds = histogram->bounds;
	const double *base = bounds->bound;
	int len = bounds->nbounds;
	int bucket;

	if (isnan(ttft))
		bucket = bounds->nbounds;
	else
	{
		while (len > 1)
		{
			int half = len / 2;

			base = base[half] <= ttft ? base + half : base;
			len -= half;
		}
		bucket = (int) (base - bounds->bound) + (*base <= ttft);
	}
	histogram->count[bucket]++;
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

/* The doubled capacity for an array of count elements of size bytes. */
static int64
grown_capacity(int64 count, Size size)
{
	int64 capacity = Max(VALUES_INITIAL_CAPACITY, count * 2);

	if ((uint64) capacity > MaxAllocHugeSize / size)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("too many values in one latency_stats group")));
	return capacity;
}

/* (Re)allocates ptr, of any size, to n elements of size bytes in aggcontext. */
static void *
grow(void *ptr, int64 n, Size size, MemoryContext aggcontext)
{
	return ptr == NULL ? MemoryContextAllocHuge(aggcontext, mul_size(n, size))
	                   : repalloc_huge(ptr, mul_size(n, size));
}

/* Appends value to array, allocating in aggcontext; doubles when full. */
static void
values_append(ValueArray *array, MemoryContext aggcontext, double value)
{
	if (array->count == array->capacity)
	{
		array->capacity = grown_capacity(array->count, sizeof(double));
		array->values = grow(array->values, array->capacity, sizeof(double), aggcontext);
	}
	array->values[array->count++] = value;
}

/* Appends a TTFT and its class; doubles both arrays when full. */
static void
ttft_append(LatencyStats *stats, MemoryContext aggcontext, double ttft, TtftClass class)
{
	if (stats->nttft == stats->ttft_capacity)
	{
		stats->ttft_capacity = grown_capacity(stats->nttft, sizeof(double));
		stats->ttft = grow(stats->ttft, stats->ttft_capacity, sizeof(double), aggcontext);
		stats->ttft_class =
		    grow(stats->ttft_class, stats->ttft_capacity, sizeof(uint8), aggcontext);
	}
	stats->ttft[stats->nttft] = ttft;
	stats->ttft_class[stats->nttft] = (uint8) class;
	stats->nttft++;
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

/* An empty group's state in aggcontext; bounds NULL for no histogram. */
static LatencyStats *
stats_create(const HistogramBounds *bounds, MemoryContext aggcontext)
{
	LatencyStats *stats = MemoryContextAllocZero(aggcontext, sizeof(LatencyStats));

	if (bounds != NULL)
		stats->histogram = histogram_create(bounds, aggcontext);
	return stats;
}

/*
 * Adds one row to stats: fcinfo arguments arg, arg + 1 and arg + 2 are
 * ttft_ms, duration_ms and cold, each possibly NULL.
 */
static void
stats_add(LatencyStats *stats, MemoryContext aggcontext, FunctionCallInfo fcinfo, int arg)
{
	bool cold_known = !PG_ARGISNULL(arg + 2);
	bool cold = cold_known && PG_GETARG_BOOL(arg + 2);

	stats->invocations++;
	stats->cold_starts += cold;
	if (!PG_ARGISNULL(arg))
	{
		double ttft = PG_GETARG_FLOAT8(arg);

		ttft_append(stats, aggcontext, ttft,
		            !cold_known ? TTFT_UNKNOWN
		            : cold      ? TTFT_COLD
		                        : TTFT_WARM);
		if (stats->histogram != NULL)
			histogram_add(stats->histogram, ttft);
	}
	if (!PG_ARGISNULL(arg + 1))
		values_append(&stats->duration, aggcontext, PG_GETARG_FLOAT8(arg + 1));
}

/*
 * One state holding the rows of parts[0..n) (n >= 1, all with or all
 * without a histogram), in CurrentMemoryContext.
 */
static LatencyStats *
stats_merge(LatencyStats *const *parts, int n)
{
	LatencyStats *all = palloc0(sizeof(LatencyStats));

	for (int i = 0; i < n; i++)
	{
		all->invocations += parts[i]->invocations;
		all->cold_starts += parts[i]->cold_starts;
		all->nttft += parts[i]->nttft;
		all->duration.count += parts[i]->duration.count;
	}
	all->ttft =
	    MemoryContextAllocHuge(CurrentMemoryContext, mul_size(Max(all->nttft, 1), sizeof(double)));
	all->ttft_class = MemoryContextAllocHuge(CurrentMemoryContext, Max(all->nttft, 1));
	all->duration.values = MemoryContextAllocHuge(
	    CurrentMemoryContext, mul_size(Max(all->duration.count, 1), sizeof(double)));
	all->ttft_capacity = all->nttft;
	all->duration.capacity = all->duration.count;
	if (parts[0]->histogram != NULL)
		all->histogram = histogram_create(parts[0]->histogram->bounds, CurrentMemoryContext);

	all->nttft = all->duration.count = 0;
	for (int i = 0; i < n; i++)
	{
		const LatencyStats *part = parts[i];

		memcpy(all->ttft + all->nttft, part->ttft, part->nttft * sizeof(double));
		memcpy(all->ttft_class + all->nttft, part->ttft_class, part->nttft);
		all->nttft += part->nttft;
		memcpy(all->duration.values + all->duration.count, part->duration.values,
		       part->duration.count * sizeof(double));
		all->duration.count += part->duration.count;
		if (all->histogram != NULL)
			for (int b = 0; b <= all->histogram->bounds->nbounds; b++)
				all->histogram->count[b] += part->histogram->count[b];
	}
	return all;
}

/*
 * A loomlat.latency_stats row (tupdesc, blessed) for stats; NULL stats, a
 * group without rows, has zero counts and NULLs.  It copies or reorders the
 * state's values, never changes them.
 */
static Datum
stats_datum(const LatencyStats *stats, TupleDesc tupdesc)
{
	static const double ttft_fractions[] = {0.5, 0.95, 0.99};
	static const double duration_fractions[] = {0.5, 0.95};
	static const double median = 0.5;
	Datum values[STATS_NATTS];
	bool nulls[STATS_NATTS];

	if (tupdesc->natts != STATS_NATTS)
		elog(ERROR, "loomlat.latency_stats must have %d columns", STATS_NATTS);
	memset(nulls, true, sizeof(nulls));
	values[STATS_INVOCATIONS] = Int64GetDatum(stats ? stats->invocations : 0);
	values[STATS_COLD_STARTS] = Int64GetDatum(stats ? stats->cold_starts : 0);
	nulls[STATS_INVOCATIONS] = nulls[STATS_COLD_STARTS] = false;

	if (stats != NULL)
	{
		int64 nclass[TTFT_NCLASSES] = {0};
		int64 start[TTFT_NCLASSES] = {0};
		double *ttft;

		/*
		 * A copy grouped by class, cold first, then warm, then unknown: the
		 * state keeps its rows aligned with their classes.  Each class is
		 * selected in its segment, then all of them together.
		 */
		for (int64 i = 0; i < stats->nttft; i++)
			nclass[stats->ttft_class[i]]++;
		for (int c = 1; c < TTFT_NCLASSES; c++)
			start[c] = start[c - 1] + nclass[c - 1];
		ttft = MemoryContextAllocHuge(CurrentMemoryContext,
		                              mul_size(Max(stats->nttft, 1), sizeof(double)));
		for (int64 i = 0; i < stats->nttft; i++)
			ttft[start[stats->ttft_class[i]]++] = stats->ttft[i];
		set_percentiles(ttft, nclass[TTFT_COLD], &median, 1, &values[STATS_COLD_TTFT_P50],
		                &nulls[STATS_COLD_TTFT_P50]);
		set_percentiles(ttft + nclass[TTFT_COLD], nclass[TTFT_WARM], &median, 1,
		                &values[STATS_WARM_TTFT_P50], &nulls[STATS_WARM_TTFT_P50]);
		set_percentiles(ttft, stats->nttft, ttft_fractions, lengthof(ttft_fractions),
		                &values[STATS_TTFT_P50], &nulls[STATS_TTFT_P50]);
		pfree(ttft);

		set_percentiles(stats->duration.values, stats->duration.count, duration_fractions,
		                lengthof(duration_fractions), &values[STATS_DURATION_P50],
		                &nulls[STATS_DURATION_P50]);
		if (stats->histogram != NULL)
		{
			values[STATS_HISTOGRAM] = histogram_datum(stats->histogram);
			nulls[STATS_HISTOGRAM] = false;
		}
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* latency_stats(ttft_ms, duration_ms, cold, bounds_ms) transition. */
Datum
loomlat_latency_stats_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = summary_aggcontext(fcinfo, "latency_stats");
	LatencyStats *stats = PG_ARGISNULL(0) ? stats_create(bounds_read(fcinfo, 4), aggcontext)
	                                      : (LatencyStats *) PG_GETARG_POINTER(0);

	stats_add(stats, aggcontext, fcinfo, 1);
	PG_RETURN_POINTER(stats);
}

/* latency_stats final: a loomlat.latency_stats row. */
Datum
loomlat_latency_stats_final(PG_FUNCTION_ARGS)
{
	TupleDesc tupdesc;

	summary_aggcontext(fcinfo, "latency_stats");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "latency_stats must return a row type");
	PG_RETURN_DATUM(stats_datum(PG_ARGISNULL(0) ? NULL : (LatencyStats *) PG_GETARG_POINTER(0),
	                            BlessTupleDesc(tupdesc)));
}

/* latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, bounds_ms) transition. */
Datum
loomlat_latency_stats_by_agent_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = summary_aggcontext(fcinfo, "latency_stats_by_agent");
	AgentStats *state;
	LatencyStats **stats;

	if (PG_ARGISNULL(0))
	{
		state = MemoryContextAllocZero(aggcontext, sizeof(AgentStats));
		state->agents = agentmap_create(aggcontext, 64, NULL);
		state->bounds = bounds_read(fcinfo, 5);
	}
	else
		state = (AgentStats *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1))
		stats = &state->no_agent;
	else
	{
		bool found;

		stats = &agentmap_insert(state->agents, PG_GETARG_INT64(1), &found)->stats;
		if (!found)
			*stats = NULL;
	}
	if (*stats == NULL)
		*stats = stats_create(state->bounds, aggcontext);
	stats_add(*stats, aggcontext, fcinfo, 2);
	PG_RETURN_POINTER(state);
}

/* qsort comparator: agent entries by agent_id. */
static int
agent_entry_cmp(const void *a, const void *b)
{
	int64 x = (*(AgentEntry *const *) a)->agent_id;
	int64 y = (*(AgentEntry *const *) b)->agent_id;

	return (x > y) - (x < y);
}

/*
 * latency_stats_by_agent final: a loomlat.latency_stats_by_agent row, the
 * total over every row, then the agents (a NULL agent_id last) and their
 * rows in agent_id order.
 */
Datum
loomlat_latency_stats_by_agent_final(PG_FUNCTION_ARGS)
{
	AgentStats *state = PG_ARGISNULL(0) ? NULL : (AgentStats *) PG_GETARG_POINTER(0);
	TupleDesc tupdesc;
	TupleDesc stats_desc;
	Oid stats_type;
	int nagents = 0;
	LatencyStats **parts;
	Datum *agent_ids;
	bool *agent_nulls;
	Datum *agent_stats;
	Datum values[3];
	bool nulls[3] = {false, false, false};
	int dims[1];
	int lbs[1] = {1};

	summary_aggcontext(fcinfo, "latency_stats_by_agent");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE || tupdesc->natts != 3)
		elog(ERROR, "latency_stats_by_agent must return a row of 3 columns");
	tupdesc = BlessTupleDesc(tupdesc);
	stats_type = TupleDescAttr(tupdesc, 0)->atttypid;
	stats_desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(stats_type, -1));

	if (state != NULL)
		nagents = state->agents->members + (state->no_agent != NULL);
	parts = palloc(mul_size(Max(nagents, 1), sizeof(LatencyStats *)));
	agent_ids = palloc(mul_size(Max(nagents, 1), sizeof(Datum)));
	agent_nulls = palloc0(mul_size(Max(nagents, 1), sizeof(bool)));
	agent_stats = palloc(mul_size(Max(nagents, 1), sizeof(Datum)));
	if (state != NULL)
	{
		AgentEntry **entries =
		    palloc(mul_size(Max(state->agents->members, 1), sizeof(AgentEntry *)));
		agentmap_iterator it;
		AgentEntry *entry;
		int n = 0;

		agentmap_start_iterate(state->agents, &it);
		while ((entry = agentmap_iterate(state->agents, &it)) != NULL)
			entries[n++] = entry;
		qsort(entries, n, sizeof(AgentEntry *), agent_entry_cmp);
		for (int i = 0; i < n; i++)
		{
			parts[i] = entries[i]->stats;
			agent_ids[i] = Int64GetDatum(entries[i]->agent_id);
		}
		if (state->no_agent != NULL)
		{
			parts[n] = state->no_agent;
			agent_nulls[n] = true;
		}
		for (int i = 0; i < nagents; i++)
			agent_stats[i] = stats_datum(parts[i], stats_desc);
	}

	values[0] = stats_datum(nagents > 0 ? stats_merge(parts, nagents) : NULL, stats_desc);
	dims[0] = nagents;
	values[1] =
	    PointerGetDatum(construct_md_array(agent_ids, agent_nulls, 1, dims, lbs, INT8OID,
	                                       sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(
	    construct_array(agent_stats, nagents, stats_type, -1, false, TYPALIGN_DOUBLE));
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
