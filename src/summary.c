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
#include "libpq/pqformat.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "loomlat.h"
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
PG_FUNCTION_INFO_V1(loomlat_latency_stats_combine);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_serialize);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_deserialize);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_combine);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_serialize);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_deserialize);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_combine);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_serialize);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_deserialize);

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

/* Adds the counts of src to dst (histograms of the same bounds). */
static void
histogram_absorb(Histogram *dst, const Histogram *src)
{
	for (int b = 0; b <= dst->bounds->nbounds; b++)
		dst->count[b] += src->count[b];
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

/* A capacity of at least needed elements of size bytes, doubling capacity. */
static int64
grown_capacity(int64 capacity, int64 needed, Size size)
{
	int64 grown = Max(Max(needed, capacity * 2), VALUES_INITIAL_CAPACITY);

	if ((uint64) grown > MaxAllocHugeSize / size)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("too many values in one latency_stats group")));
	return grown;
}

/* (Re)allocates ptr, of any size, to n elements of size bytes in mcxt. */
static void *
grow(void *ptr, int64 n, Size size, MemoryContext mcxt)
{
	return ptr == NULL ? MemoryContextAllocHuge(mcxt, mul_size(n, size))
	                   : repalloc_huge(ptr, mul_size(n, size));
}

/* Makes room in array for needed values. */
static inline void
values_reserve(ValueArray *array, int64 needed, MemoryContext mcxt)
{
	if (needed > array->capacity)
	{
		array->capacity = grown_capacity(array->capacity, needed, sizeof(double));
		array->values = grow(array->values, array->capacity, sizeof(double), mcxt);
	}
}

/* Makes room in stats for needed TTFTs and their classes. */
static inline void
ttft_reserve(LatencyStats *stats, int64 needed, MemoryContext mcxt)
{
	if (needed > stats->ttft_capacity)
	{
		stats->ttft_capacity = grown_capacity(stats->ttft_capacity, needed, sizeof(double));
		stats->ttft = grow(stats->ttft, stats->ttft_capacity, sizeof(double), mcxt);
		stats->ttft_class = grow(stats->ttft_class, stats->ttft_capacity, sizeof(uint8), mcxt);
	}
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

		ttft_reserve(stats, stats->nttft + 1, aggcontext);
		stats->ttft[stats->nttft] = ttft;
		stats->ttft_class[stats->nttft] = !cold_known ? TTFT_UNKNOWN : cold ? TTFT_COLD : TTFT_WARM;
		stats->nttft++;
		if (stats->histogram != NULL)
			histogram_add(stats->histogram, ttft);
	}
	if (!PG_ARGISNULL(arg + 1))
	{
		values_reserve(&stats->duration, stats->duration.count + 1, aggcontext);
		stats->duration.values[stats->duration.count++] = PG_GETARG_FLOAT8(arg + 1);
	}
}

/* Adds the rows of src to dst (histograms of the same bounds, or none). */
static void
stats_absorb(LatencyStats *dst, const LatencyStats *src, MemoryContext mcxt)
{
	dst->invocations += src->invocations;
	dst->cold_starts += src->cold_starts;
	/* an empty array has no storage yet: memcpy from NULL is undefined, even of 0 bytes */
	if (src->nttft > 0)
	{
		ttft_reserve(dst, dst->nttft + src->nttft, mcxt);
		memcpy(dst->ttft + dst->nttft, src->ttft, src->nttft * sizeof(double));
		memcpy(dst->ttft_class + dst->nttft, src->ttft_class, src->nttft);
		dst->nttft += src->nttft;
	}
	if (src->duration.count > 0)
	{
		values_reserve(&dst->duration, dst->duration.count + src->duration.count, mcxt);
		memcpy(dst->duration.values + dst->duration.count, src->duration.values,
		       src->duration.count * sizeof(double));
		dst->duration.count += src->duration.count;
	}
	if (dst->histogram != NULL)
		histogram_absorb(dst->histogram, src->histogram);
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
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, "latency_stats");
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

	loomlat_agg_context(fcinfo, "latency_stats");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "latency_stats must return a row type");
	PG_RETURN_DATUM(stats_datum(PG_ARGISNULL(0) ? NULL : (LatencyStats *) PG_GETARG_POINTER(0),
	                            BlessTupleDesc(tupdesc)));
}

/* The slot of an agent's stats (has_agent false: the rows without one); NULL when new. */
static LatencyStats **
agent_slot(AgentStats *state, bool has_agent, int64 agent_id)
{
	bool found;
	LatencyStats **stats;

	if (!has_agent)
		return &state->no_agent;
	stats = &agentmap_insert(state->agents, agent_id, &found)->stats;
	if (!found)
		*stats = NULL;
	return stats;
}

/* The stats of agent_id (or of the rows without an agent), created empty when new. */
static LatencyStats *
agent_stats_get(AgentStats *state, bool has_agent, int64 agent_id, MemoryContext mcxt)
{
	LatencyStats **stats = agent_slot(state, has_agent, agent_id);

	if (*stats == NULL)
		*stats = stats_create(state->bounds, mcxt);
	return *stats;
}

/* An empty by-agent state in mcxt. */
static AgentStats *
agent_stats_create(const HistogramBounds *bounds, MemoryContext mcxt)
{
	AgentStats *state = MemoryContextAllocZero(mcxt, sizeof(AgentStats));

	state->agents = agentmap_create(mcxt, 64, NULL);
	state->bounds = bounds;
	return state;
}

/* latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, bounds_ms) transition. */
Datum
loomlat_latency_stats_by_agent_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, "latency_stats_by_agent");
	AgentStats *state = PG_ARGISNULL(0) ? agent_stats_create(bounds_read(fcinfo, 5), aggcontext)
	                                    : (AgentStats *) PG_GETARG_POINTER(0);
	LatencyStats *stats = agent_stats_get(state, !PG_ARGISNULL(1),
	                                      PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1), aggcontext);

	stats_add(stats, aggcontext, fcinfo, 2);
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
	LatencyStats *total;
	Datum *agent_ids;
	bool *agent_nulls;
	Datum *agent_stats;
	Datum values[3];
	bool nulls[3] = {false, false, false};
	int dims[1];
	int lbs[1] = {1};

	loomlat_agg_context(fcinfo, "latency_stats_by_agent");
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

	total = NULL;
	if (nagents > 0)
	{
		total = stats_create(state->bounds, CurrentMemoryContext);
		for (int i = 0; i < nagents; i++)
			stats_absorb(total, parts[i], CurrentMemoryContext);
	}
	values[0] = stats_datum(total, stats_desc);
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
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, "ttft_histogram_counts");
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
	loomlat_agg_context(fcinfo, "ttft_histogram_counts");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(histogram_datum((Histogram *) PG_GETARG_POINTER(0)));
}

/*
 * Parallel aggregation.  A worker's state travels as bytea in this
 * process-local format (native byte order): the bounds (nbounds, -1 for
 * none, then the doubles), then the group(s): invocations, cold starts,
 * nttft, nduration, the TTFTs, their class bytes, the durations and, with
 * bounds, the bucket counts.  Combining appends one state's values to the
 * other's; the first state a combine sees is copied into the aggregate
 * context.
 */

/* Raises the error for a serialized state that does not parse. */
static void
state_corrupt(void)
{
	ereport(ERROR,
	        (errcode(ERRCODE_DATA_CORRUPTED), errmsg("invalid serialized latency_stats state")));
}

/* Appends count raw elements of size bytes. */
static void
send_raw(StringInfo buf, const void *data, int64 count, Size size)
{
	Size nbytes = mul_size(count, size);

	if (nbytes > MaxAllocSize - (Size) buf->len)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("latency_stats state too large to pass between processes")));
	appendBinaryStringInfo(buf, data, (int) nbytes);
}

/* Copies count raw elements of size bytes into a new chunk in mcxt. */
static void *
recv_raw(StringInfo buf, int64 count, Size size, MemoryContext mcxt)
{
	void *data;

	if (count < 0 || (uint64) count > (uint64) (buf->len - buf->cursor) / size)
		state_corrupt();
	data = MemoryContextAllocHuge(mcxt, mul_size(Max(count, 1), size));
	pq_copymsgbytes(buf, data, (int) (count * size));
	return data;
}

/* Sends bounds, NULL included. */
static void
bounds_send(StringInfo buf, const HistogramBounds *bounds)
{
	pq_sendint32(buf, bounds ? bounds->nbounds : -1);
	if (bounds != NULL)
		send_raw(buf, bounds->bound, bounds->nbounds, sizeof(double));
}

/* Receives bounds into mcxt; NULL when none were sent. */
static const HistogramBounds *
bounds_recv(StringInfo buf, MemoryContext mcxt)
{
	int n = (int) pq_getmsgint(buf, 4);
	HistogramBounds *bounds;
	double *bound;

	if (n < 0)
		return NULL;
	bounds = MemoryContextAlloc(
	    mcxt, add_size(offsetof(HistogramBounds, bound), mul_size(n, sizeof(double))));
	bounds->nbounds = n;
	bound = recv_raw(buf, n, sizeof(double), CurrentMemoryContext);
	memcpy(bounds->bound, bound, n * sizeof(double));
	return bounds;
}

/* True when a and b are both absent or hold the same bounds. */
static bool
bounds_equal(const HistogramBounds *a, const HistogramBounds *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->nbounds == b->nbounds && memcmp(a->bound, b->bound, a->nbounds * sizeof(double)) == 0;
}

/* Sends one group's rows. */
static void
stats_send(StringInfo buf, const LatencyStats *stats)
{
	pq_sendint64(buf, stats->invocations);
	pq_sendint64(buf, stats->cold_starts);
	pq_sendint64(buf, stats->nttft);
	pq_sendint64(buf, stats->duration.count);
	send_raw(buf, stats->ttft, stats->nttft, sizeof(double));
	send_raw(buf, stats->ttft_class, stats->nttft, sizeof(uint8));
	send_raw(buf, stats->duration.values, stats->duration.count, sizeof(double));
	if (stats->histogram != NULL)
		send_raw(buf, stats->histogram->count, stats->histogram->bounds->nbounds + 1,
		         sizeof(int64));
}

/* Receives one group's rows into mcxt, checking every class byte. */
static LatencyStats *
stats_recv(StringInfo buf, const HistogramBounds *bounds, MemoryContext mcxt)
{
	LatencyStats *stats = stats_create(bounds, mcxt);

	stats->invocations = pq_getmsgint64(buf);
	stats->cold_starts = pq_getmsgint64(buf);
	stats->nttft = pq_getmsgint64(buf);
	stats->duration.count = pq_getmsgint64(buf);
	if (stats->invocations < 0 || stats->cold_starts < 0 ||
	    stats->cold_starts > stats->invocations || stats->nttft > stats->invocations ||
	    stats->duration.count > stats->invocations)
		state_corrupt();
	stats->ttft = recv_raw(buf, stats->nttft, sizeof(double), mcxt);
	stats->ttft_class = recv_raw(buf, stats->nttft, sizeof(uint8), mcxt);
	stats->ttft_capacity = Max(stats->nttft, 1);
	for (int64 i = 0; i < stats->nttft; i++)
		if (stats->ttft_class[i] >= TTFT_NCLASSES)
			state_corrupt();
	stats->duration.values = recv_raw(buf, stats->duration.count, sizeof(double), mcxt);
	stats->duration.capacity = Max(stats->duration.count, 1);
	if (bounds != NULL)
	{
		int64 *count = recv_raw(buf, bounds->nbounds + 1, sizeof(int64), CurrentMemoryContext);

		memcpy(stats->histogram->count, count, (bounds->nbounds + 1) * sizeof(int64));
	}
	return stats;
}

/* A bytea of buf's contents. */
static bytea *
buf_bytea(StringInfo buf)
{
	bytea *result = palloc(add_size(VARHDRSZ, buf->len));

	SET_VARSIZE(result, VARHDRSZ + buf->len);
	memcpy(VARDATA(result), buf->data, buf->len);
	return result;
}

/* A read cursor over a serialized state. */
static void
buf_from_bytea(StringInfo buf, bytea *state)
{
	buf->data = VARDATA_ANY(state);
	buf->len = VARSIZE_ANY_EXHDR(state);
	buf->maxlen = 0;
	buf->cursor = 0;
}

/* Raises the error for states built with different histogram bounds. */
static void
bounds_mismatch(void)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
	                errmsg("histogram bounds must be the same for every row")));
}

/* A copy of bounds in mcxt. */
static const HistogramBounds *
bounds_copy(const HistogramBounds *bounds, MemoryContext mcxt)
{
	Size size;
	HistogramBounds *copy;

	if (bounds == NULL)
		return NULL;
	size = add_size(offsetof(HistogramBounds, bound), mul_size(bounds->nbounds, sizeof(double)));
	copy = MemoryContextAlloc(mcxt, size);
	memcpy(copy, bounds, size);
	return copy;
}

/* latency_stats combine: the rows of both states in the first. */
Datum
loomlat_latency_stats_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, "latency_stats_combine");
	LatencyStats *dst = PG_ARGISNULL(0) ? NULL : (LatencyStats *) PG_GETARG_POINTER(0);
	LatencyStats *src = PG_ARGISNULL(1) ? NULL : (LatencyStats *) PG_GETARG_POINTER(1);
	const HistogramBounds *src_bounds;

	if (src == NULL)
		PG_RETURN_POINTER(dst);
	src_bounds = src->histogram ? src->histogram->bounds : NULL;
	if (dst == NULL)
		dst = stats_create(bounds_copy(src_bounds, aggcontext), aggcontext);
	else if (!bounds_equal(dst->histogram ? dst->histogram->bounds : NULL, src_bounds))
		bounds_mismatch();
	stats_absorb(dst, src, aggcontext);
	PG_RETURN_POINTER(dst);
}

/* latency_stats serialize. */
Datum
loomlat_latency_stats_serialize(PG_FUNCTION_ARGS)
{
	LatencyStats *stats;
	StringInfoData buf;

	loomlat_agg_context(fcinfo, "latency_stats_serialize");
	stats = (LatencyStats *) PG_GETARG_POINTER(0);
	initStringInfo(&buf);
	bounds_send(&buf, stats->histogram ? stats->histogram->bounds : NULL);
	stats_send(&buf, stats);
	PG_RETURN_BYTEA_P(buf_bytea(&buf));
}

/* latency_stats deserialize. */
Datum
loomlat_latency_stats_deserialize(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	LatencyStats *stats;

	loomlat_agg_context(fcinfo, "latency_stats_deserialize");
	buf_from_bytea(&buf, PG_GETARG_BYTEA_PP(0));
	stats = stats_recv(&buf, bounds_recv(&buf, CurrentMemoryContext), CurrentMemoryContext);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(stats);
}

/* latency_stats_by_agent combine: every agent's rows of both states in the first. */
Datum
loomlat_latency_stats_by_agent_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, "latency_stats_by_agent_combine");
	AgentStats *dst = PG_ARGISNULL(0) ? NULL : (AgentStats *) PG_GETARG_POINTER(0);
	AgentStats *src = PG_ARGISNULL(1) ? NULL : (AgentStats *) PG_GETARG_POINTER(1);
	agentmap_iterator it;
	AgentEntry *entry;

	if (src == NULL)
		PG_RETURN_POINTER(dst);
	if (dst == NULL)
		dst = agent_stats_create(bounds_copy(src->bounds, aggcontext), aggcontext);
	else if (!bounds_equal(dst->bounds, src->bounds))
		bounds_mismatch();

	agentmap_start_iterate(src->agents, &it);
	while ((entry = agentmap_iterate(src->agents, &it)) != NULL)
		stats_absorb(agent_stats_get(dst, true, entry->agent_id, aggcontext), entry->stats,
		             aggcontext);
	if (src->no_agent != NULL)
		stats_absorb(agent_stats_get(dst, false, 0, aggcontext), src->no_agent, aggcontext);
	PG_RETURN_POINTER(dst);
}

/* latency_stats_by_agent serialize: the bounds, then each agent flagged and its rows. */
Datum
loomlat_latency_stats_by_agent_serialize(PG_FUNCTION_ARGS)
{
	AgentStats *state;
	StringInfoData buf;
	agentmap_iterator it;
	AgentEntry *entry;

	loomlat_agg_context(fcinfo, "latency_stats_by_agent_serialize");
	state = (AgentStats *) PG_GETARG_POINTER(0);
	initStringInfo(&buf);
	bounds_send(&buf, state->bounds);
	pq_sendint32(&buf, state->agents->members + (state->no_agent != NULL));
	agentmap_start_iterate(state->agents, &it);
	while ((entry = agentmap_iterate(state->agents, &it)) != NULL)
	{
		pq_sendbyte(&buf, 1);
		pq_sendint64(&buf, entry->agent_id);
		stats_send(&buf, entry->stats);
	}
	if (state->no_agent != NULL)
	{
		pq_sendbyte(&buf, 0);
		pq_sendint64(&buf, 0);
		stats_send(&buf, state->no_agent);
	}
	PG_RETURN_BYTEA_P(buf_bytea(&buf));
}

/* latency_stats_by_agent deserialize. */
Datum
loomlat_latency_stats_by_agent_deserialize(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	AgentStats *state;
	int nentries;

	loomlat_agg_context(fcinfo, "latency_stats_by_agent_deserialize");
	buf_from_bytea(&buf, PG_GETARG_BYTEA_PP(0));
	state = agent_stats_create(bounds_recv(&buf, CurrentMemoryContext), CurrentMemoryContext);
	nentries = (int) pq_getmsgint(&buf, 4);
	for (int i = 0; i < nentries; i++)
	{
		int has_agent = pq_getmsgbyte(&buf);
		int64 agent_id = pq_getmsgint64(&buf);
		LatencyStats **stats;

		if (has_agent != 0 && has_agent != 1)
			state_corrupt();
		stats = agent_slot(state, has_agent, agent_id);
		if (*stats != NULL)
			state_corrupt();
		*stats = stats_recv(&buf, state->bounds, CurrentMemoryContext);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* ttft_histogram_counts combine: the counts of both states in the first. */
Datum
loomlat_ttft_histogram_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = loomlat_agg_context(fcinfo, "ttft_histogram_combine");
	Histogram *dst = PG_ARGISNULL(0) ? NULL : (Histogram *) PG_GETARG_POINTER(0);
	Histogram *src = PG_ARGISNULL(1) ? NULL : (Histogram *) PG_GETARG_POINTER(1);

	if (src == NULL)
		PG_RETURN_POINTER(dst);
	if (dst == NULL)
		dst = histogram_create(bounds_copy(src->bounds, aggcontext), aggcontext);
	else if (!bounds_equal(dst->bounds, src->bounds))
		bounds_mismatch();
	histogram_absorb(dst, src);
	PG_RETURN_POINTER(dst);
}

/* ttft_histogram_counts serialize: the bounds, then the counts. */
Datum
loomlat_ttft_histogram_serialize(PG_FUNCTION_ARGS)
{
	Histogram *histogram;
	StringInfoData buf;

	loomlat_agg_context(fcinfo, "ttft_histogram_serialize");
	histogram = (Histogram *) PG_GETARG_POINTER(0);
	initStringInfo(&buf);
	bounds_send(&buf, histogram->bounds);
	send_raw(&buf, histogram->count, histogram->bounds->nbounds + 1, sizeof(int64));
	PG_RETURN_BYTEA_P(buf_bytea(&buf));
}

/* ttft_histogram_counts deserialize. */
Datum
loomlat_ttft_histogram_deserialize(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	const HistogramBounds *bounds;
	Histogram *histogram;
	int64 *count;

	loomlat_agg_context(fcinfo, "ttft_histogram_deserialize");
	buf_from_bytea(&buf, PG_GETARG_BYTEA_PP(0));
	bounds = bounds_recv(&buf, CurrentMemoryContext);
	if (bounds == NULL)
		state_corrupt();
	histogram = histogram_create(bounds, CurrentMemoryContext);
	count = recv_raw(&buf, bounds->nbounds + 1, sizeof(int64), CurrentMemoryContext);
	memcpy(histogram->count, count, (bounds->nbounds + 1) * sizeof(int64));
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(histogram);
}
