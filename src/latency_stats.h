/*
 * latency_stats.h
 *	  The state behind the summary aggregates: what they share and the
 *	  contract each of their files keeps.
 *
 * histogram.c owns the histogram rules: HistogramBounds are finite,
 * positive, strictly increasing milliseconds, validated in one place for C
 * and SQL alike (loomlat.check_histogram_bounds), and buckets are
 * lower-inclusive: with n bounds, bucket 0 holds ttft < bounds[0], bucket i
 * holds bounds[i-1] <= ttft < bounds[i] and bucket n everything from the
 * last bound up, NaN included (PostgreSQL orders NaN above every number).
 * It also defines the loomlat.ttft_histogram_counts aggregate.
 *
 * latency_stats.c owns LatencyStats, one group's invocations: counts, the
 * TTFTs split by cold-start class, the durations and, with bounds, the
 * histogram; and the loomlat.latency_stats aggregate over one such group.
 *
 * latency_stats_by_agent.c keeps a LatencyStats per agent in a hash table
 * and defines loomlat.latency_stats_by_agent.
 *
 * All states live in the aggregate context; bounds are shared, never
 * changed once parsed, and copied when a state is copied into another
 * context.  Every state travels between processes in the format of wire.h.
 */
#ifndef LOOMLAT_LATENCY_STATS_H
#define LOOMLAT_LATENCY_STATS_H

#include "fmgr.h"
#include "access/tupdesc.h"

#include "value_array.h"
#include "wire.h"

/* Validated histogram bounds. */
typedef struct HistogramBounds
{
	int nbounds;
	double bound[FLEXIBLE_ARRAY_MEMBER];
} HistogramBounds;

/* TTFT counts per bucket: nbounds + 1 of them. */
typedef struct Histogram
{
	const HistogramBounds *bounds;
	int64 count[FLEXIBLE_ARRAY_MEMBER];
} Histogram;

/* The cold-start class of an invocation: was_cold_start true, false, NULL. */
typedef enum TtftClass
{
	TTFT_COLD,
	TTFT_WARM,
	TTFT_UNKNOWN,
	TTFT_NCLASSES
} TtftClass;

/* One group of invocations. */
typedef struct LatencyStats
{
	int64 invocations;
	int64 cold_starts;
	ValueArray ttft[TTFT_NCLASSES]; /* the non-NULL TTFTs, by class */
	ValueArray duration;            /* the non-NULL durations */
	Histogram *histogram;           /* NULL when there are no bounds */
} LatencyStats;

/* histogram.c */
extern const HistogramBounds *HistogramBoundsArg(FunctionCallInfo fcinfo, int argno);
extern const HistogramBounds *HistogramBoundsCopy(const HistogramBounds *bounds,
                                                  MemoryContext mcxt);
extern bool HistogramBoundsEqual(const HistogramBounds *a, const HistogramBounds *b);
extern pg_attribute_noreturn() void HistogramBoundsMismatch(void);
extern void HistogramBoundsWrite(WireWriter *w, const HistogramBounds *bounds);
extern const HistogramBounds *HistogramBoundsRead(WireReader *r);
extern Histogram *HistogramCreate(const HistogramBounds *bounds, MemoryContext mcxt);
extern void HistogramAdd(Histogram *histogram, double ttft);
extern void HistogramAbsorb(Histogram *dst, const Histogram *src);
extern Datum HistogramDatum(const Histogram *histogram);
extern void HistogramCountsWrite(WireWriter *w, const Histogram *histogram);
extern void HistogramCountsRead(WireReader *r, Histogram *histogram);

/* latency_stats.c */
extern LatencyStats *LatencyStatsCreate(const HistogramBounds *bounds, MemoryContext mcxt);
extern void LatencyStatsAdd(LatencyStats *stats, FunctionCallInfo fcinfo, int argno,
                            MemoryContext mcxt);
extern void LatencyStatsAbsorb(LatencyStats *dst, const LatencyStats *src, MemoryContext mcxt);
extern Datum LatencyStatsDatum(const LatencyStats *stats, TupleDesc tupdesc);
extern void LatencyStatsWrite(WireWriter *w, const LatencyStats *stats);
extern LatencyStats *LatencyStatsRead(WireReader *r, const HistogramBounds *bounds);

#endif
