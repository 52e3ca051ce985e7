/*
 * latency_stats.c
 *	  One group's latency summary, and the loomlat.latency_stats aggregate.
 *
 * loomlat.latency_stats(ttft_ms, duration_ms, cold, bounds_ms) keeps the
 * group's TTFTs in one array per cold-start class (cold, warm, unknown) and
 * its durations, and counts invocations, cold starts and TTFTs per histogram
 * bucket: a row costs a few stores.  The final function selects with
 * PercentileCompute(), so every percentile is percentile_cont's, bit for
 * bit, over the non-NULL values: TTFT p50/p95/p99 over all classes, the TTFT
 * p50 of the cold and of the warm invocations, duration p50/p95.  It copies
 * or reorders the state's values but never changes them, so it is
 * READ_ONLY.  latency_stats_by_agent.c keeps one LatencyStats per agent
 * with the same functions (latency_stats.h).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"

#include "latency_stats.h"
#include "loomlat.h"
#include "percentile.h"

/* Magic word of a serialized latency_stats state: "LLS", version 2. */
#define STATS_WIRE_MAGIC WIRE_MAGIC('L', 'L', 'S', 2)

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

PG_FUNCTION_INFO_V1(loomlat_latency_stats_transfn);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_final);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_combine);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_serialize);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_deserialize);

/* An empty group's state in mcxt; bounds NULL for no histogram. */
LatencyStats *
LatencyStatsCreate(const HistogramBounds *bounds, MemoryContext mcxt)
{
	LatencyStats *stats = MemoryContextAllocZero(mcxt, sizeof(LatencyStats));

	if (bounds != NULL)
		stats->histogram = HistogramCreate(bounds, mcxt);
	return stats;
}

/*
 * Adds one row to stats: fcinfo arguments argno, argno + 1 and argno + 2 are
 * ttft_ms, duration_ms and cold, each possibly NULL.
 */
void
LatencyStatsAdd(LatencyStats *stats, FunctionCallInfo fcinfo, int argno, MemoryContext mcxt)
{
	bool cold_known = !PG_ARGISNULL(argno + 2);
	bool cold = cold_known && PG_GETARG_BOOL(argno + 2);

	stats->invocations++;
	stats->cold_starts += cold;
	if (!PG_ARGISNULL(argno))
	{
		double ttft = PG_GETARG_FLOAT8(argno);
		TtftClass class = !cold_known ? TTFT_UNKNOWN : cold ? TTFT_COLD : TTFT_WARM;

		ValueArrayPush(&stats->ttft[class], ttft, mcxt);
		if (stats->histogram != NULL)
			HistogramAdd(stats->histogram, ttft);
	}
	if (!PG_ARGISNULL(argno + 1))
		ValueArrayPush(&stats->duration, PG_GETARG_FLOAT8(argno + 1), mcxt);
}

/* Adds the rows of src to dst (histograms of the same bounds, or none). */
void
LatencyStatsAbsorb(LatencyStats *dst, const LatencyStats *src, MemoryContext mcxt)
{
	dst->invocations += src->invocations;
	dst->cold_starts += src->cold_starts;
	for (int c = 0; c < TTFT_NCLASSES; c++)
		ValueArrayAppend(&dst->ttft[c], src->ttft[c].values, src->ttft[c].count, mcxt);
	ValueArrayAppend(&dst->duration, src->duration.values, src->duration.count, mcxt);
	if (dst->histogram != NULL)
		HistogramAbsorb(dst->histogram, src->histogram);
}

/* Sets the n percentiles of v[0..count) into values/nulls; NULL when empty. */
static void
SetPercentiles(double *v, int64 count, const double *fraction, int n, Datum *values, bool *nulls)
{
	double result[3];

	Assert(n <= lengthof(result));
	if (count == 0)
		return;
	PercentileCompute(v, count, fraction, n, result);
	for (int i = 0; i < n; i++)
	{
		values[i] = Float8GetDatum(result[i]);
		nulls[i] = false;
	}
}

/*
 * A loomlat.latency_stats row (tupdesc, blessed) for stats; NULL stats, a
 * group without rows, has zero counts and NULLs.  It copies or reorders the
 * state's values, never changes them.
 */
Datum
LatencyStatsDatum(const LatencyStats *stats, TupleDesc tupdesc)
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
		const ValueArray *cold = &stats->ttft[TTFT_COLD];
		const ValueArray *warm = &stats->ttft[TTFT_WARM];
		ValueArray ttft = {0};

		/*
		 * One copy of the TTFTs, cold first, then warm, then unknown: each
		 * class is selected in its segment, then all of them together.
		 */
		for (int c = 0; c < TTFT_NCLASSES; c++)
			ValueArrayAppend(&ttft, stats->ttft[c].values, stats->ttft[c].count,
			                 CurrentMemoryContext);
		SetPercentiles(ttft.values, cold->count, &median, 1, &values[STATS_COLD_TTFT_P50],
		               &nulls[STATS_COLD_TTFT_P50]);
		SetPercentiles(ttft.values + cold->count, warm->count, &median, 1,
		               &values[STATS_WARM_TTFT_P50], &nulls[STATS_WARM_TTFT_P50]);
		SetPercentiles(ttft.values, ttft.count, ttft_fractions, lengthof(ttft_fractions),
		               &values[STATS_TTFT_P50], &nulls[STATS_TTFT_P50]);
		if (ttft.values != NULL)
			pfree(ttft.values);

		SetPercentiles(stats->duration.values, stats->duration.count, duration_fractions,
		               lengthof(duration_fractions), &values[STATS_DURATION_P50],
		               &nulls[STATS_DURATION_P50]);
		if (stats->histogram != NULL)
		{
			values[STATS_HISTOGRAM] = HistogramDatum(stats->histogram);
			nulls[STATS_HISTOGRAM] = false;
		}
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * Puts one group on the wire: invocations, cold starts, then each value
 * array (count and values: cold, warm and unknown TTFTs, durations) and,
 * with a histogram, its counts.  The bounds are the caller's to put.
 */
void
LatencyStatsWrite(WireWriter *w, const LatencyStats *stats)
{
	WirePutInt64(w, stats->invocations);
	WirePutInt64(w, stats->cold_starts);
	for (int c = 0; c < TTFT_NCLASSES; c++)
	{
		WirePutInt64(w, stats->ttft[c].count);
		WirePutArray(w, stats->ttft[c].values, stats->ttft[c].count, sizeof(double));
	}
	WirePutInt64(w, stats->duration.count);
	WirePutArray(w, stats->duration.values, stats->duration.count, sizeof(double));
	if (stats->histogram != NULL)
		HistogramCountsWrite(w, stats->histogram);
}

/* Reads a value array whose count may not exceed max; its values stay in the bytea. */
static void
ValuesRead(WireReader *r, ValueArray *array, int64 max)
{
	array->count = WireGetCount(r, max);
	array->capacity = array->count;
	array->values = (double *) WireGetArray(r, array->count, sizeof(double));
}

/*
 * Reads one group written by LatencyStatsWrite, with histogram bounds
 * (or none), checking that its counts agree with each other.  The result is
 * only ever combined into another state, so its arrays stay in the bytea.
 */
LatencyStats *
LatencyStatsRead(WireReader *r, const HistogramBounds *bounds)
{
	LatencyStats *stats = LatencyStatsCreate(bounds, CurrentMemoryContext);
	int64 nttft;

	stats->invocations = WireGetCount(r, PG_INT64_MAX);
	stats->cold_starts = WireGetCount(r, stats->invocations);
	/* cold TTFTs come from cold starts, warm and unknown ones from the others */
	ValuesRead(r, &stats->ttft[TTFT_COLD], stats->cold_starts);
	ValuesRead(r, &stats->ttft[TTFT_WARM], stats->invocations - stats->cold_starts);
	ValuesRead(r, &stats->ttft[TTFT_UNKNOWN],
	           stats->invocations - stats->cold_starts - stats->ttft[TTFT_WARM].count);
	nttft = stats->ttft[TTFT_COLD].count + stats->ttft[TTFT_WARM].count +
	        stats->ttft[TTFT_UNKNOWN].count;
	ValuesRead(r, &stats->duration, stats->invocations);
	if (stats->histogram != NULL)
	{
		int64 counted = 0;

		HistogramCountsRead(r, stats->histogram);
		for (int b = 0; b <= bounds->nbounds; b++)
			counted += stats->histogram->count[b];
		if (counted != nttft)
			WireCorrupt(r, "histogram counts do not add up to the TTFTs");
	}
	return stats;
}

/* latency_stats(ttft_ms, duration_ms, cold, bounds_ms) transition. */
Datum
loomlat_latency_stats_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = LoomlatAggContext(fcinfo, "latency_stats");
	LatencyStats *stats = PG_ARGISNULL(0)
	                          ? LatencyStatsCreate(HistogramBoundsArg(fcinfo, 4), aggcontext)
	                          : (LatencyStats *) PG_GETARG_POINTER(0);

	LatencyStatsAdd(stats, fcinfo, 1, aggcontext);
	PG_RETURN_POINTER(stats);
}

/* latency_stats final: a loomlat.latency_stats row. */
Datum
loomlat_latency_stats_final(PG_FUNCTION_ARGS)
{
	TupleDesc tupdesc;

	LoomlatAggContext(fcinfo, "latency_stats");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "latency_stats must return a row type");
	PG_RETURN_DATUM(LatencyStatsDatum(
	    PG_ARGISNULL(0) ? NULL : (LatencyStats *) PG_GETARG_POINTER(0), BlessTupleDesc(tupdesc)));
}

/* The bounds of a group's histogram, NULL without one. */
static const HistogramBounds *
StatsBounds(const LatencyStats *stats)
{
	return stats->histogram ? stats->histogram->bounds : NULL;
}

/* CombineOps: an empty group with src's bounds. */
static void *
StatsEmptyLike(const void *src, MemoryContext mcxt)
{
	return LatencyStatsCreate(HistogramBoundsCopy(StatsBounds(src), mcxt), mcxt);
}

/* CombineOps: both groups must have the same bounds. */
static void
StatsCheckSame(const void *dst, const void *src)
{
	if (!HistogramBoundsEqual(StatsBounds(dst), StatsBounds(src)))
		HistogramBoundsMismatch();
}

/* CombineOps: adds the rows of src. */
static void
StatsCombineAbsorb(void *dst, const void *src, MemoryContext mcxt)
{
	LatencyStatsAbsorb(dst, src, mcxt);
}

static const CombineOps stats_combine_ops = {StatsEmptyLike, StatsCheckSame, StatsCombineAbsorb};

/* latency_stats combine: the rows of both states in the first. */
Datum
loomlat_latency_stats_combine(PG_FUNCTION_ARGS)
{
	return LoomlatCombine(fcinfo, "latency_stats_combine", &stats_combine_ops);
}

/* latency_stats serialize: the bounds, then the group. */
Datum
loomlat_latency_stats_serialize(PG_FUNCTION_ARGS)
{
	LatencyStats *stats;
	WireWriter w;

	LoomlatAggContext(fcinfo, "latency_stats_serialize");
	stats = (LatencyStats *) PG_GETARG_POINTER(0);
	WireWriterBegin(&w, STATS_WIRE_MAGIC, "latency_stats");
	HistogramBoundsWrite(&w, StatsBounds(stats));
	LatencyStatsWrite(&w, stats);
	PG_RETURN_BYTEA_P(WireWriterEnd(&w));
}

/* latency_stats deserialize, validating every field. */
Datum
loomlat_latency_stats_deserialize(PG_FUNCTION_ARGS)
{
	WireReader r;
	LatencyStats *stats;

	LoomlatAggContext(fcinfo, "latency_stats_deserialize");
	WireReaderBegin(&r, PG_GETARG_BYTEA_PP(0), STATS_WIRE_MAGIC, "latency_stats");
	stats = LatencyStatsRead(&r, HistogramBoundsRead(&r));
	WireReaderEnd(&r);
	PG_RETURN_POINTER(stats);
}
