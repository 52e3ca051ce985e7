/*
 * histogram.c
 *	  TTFT histograms: the rules for their bounds, their buckets, and the
 *	  loomlat.ttft_histogram_counts aggregate.
 *
 * The bound rules live here and nowhere else: bounds are a non-empty
 * one-dimensional float8[] of finite, positive, strictly increasing
 * milliseconds.  The aggregates read their bounds argument through
 * HistogramBoundsArg(), and SQL (loomlat.histogram_buckets) validates
 * through loomlat.check_histogram_bounds(), so both give the same error.
 * Bucket semantics are stated in latency_stats.h.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"

#include "latency_stats.h"
#include "loomlat.h"

/* Magic word of a serialized ttft_histogram_counts state: "LLH", version 1. */
#define HISTOGRAM_WIRE_MAGIC WIRE_MAGIC('L', 'L', 'H', 1)

/* fn_extra of a transition function: its bounds argument, parsed. */
typedef struct BoundsCache
{
	const HistogramBounds *bounds; /* NULL for a NULL argument */
} BoundsCache;

PG_FUNCTION_INFO_V1(loomlat_check_histogram_bounds);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_transfn);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_final);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_combine);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_serialize);
PG_FUNCTION_INFO_V1(loomlat_ttft_histogram_deserialize);

/* Bytes of a HistogramBounds of n bounds. */
static Size
BoundsSize(int n)
{
	return add_size(offsetof(HistogramBounds, bound), mul_size(n, sizeof(double)));
}

/* What is wrong with the bounds b[0..n), or NULL when they are valid. */
static const char *
BoundsProblem(const double *b, int n)
{
	if (n < 1)
		return "There are no bounds.";
	for (int i = 0; i < n; i++)
	{
		if (!(b[i] > 0) || isinf(b[i]))
			return "A bound is not a positive finite number.";
		if (i > 0 && !(b[i] > b[i - 1]))
			return "The bounds do not increase strictly.";
	}
	return NULL;
}

/* Raises the error for unusable bounds; array NULL for a NULL argument. */
static void
BoundsInvalid(ArrayType *array, const char *detail)
{
	ereport(ERROR,
	        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
	         errmsg("histogram bounds must be a non-empty one-dimensional array of finite, "
	                "positive, strictly increasing milliseconds, not %s",
	                array ? OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(array)) : "NULL"),
	         errdetail("%s", detail)));
}

/* Validates a float8[] of bounds into a HistogramBounds in mcxt. */
static const HistogramBounds *
BoundsParse(ArrayType *array, MemoryContext mcxt)
{
	Datum *elems;
	bool *nulls;
	int n;
	HistogramBounds *bounds;
	const char *problem;

	if (ARR_NDIM(array) != 1)
		BoundsInvalid(array, "The array must have exactly one dimension.");
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems,
	                  &nulls, &n);
	bounds = MemoryContextAlloc(mcxt, BoundsSize(n));
	bounds->nbounds = n;
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			BoundsInvalid(array, "A bound is NULL.");
		bounds->bound[i] = DatumGetFloat8(elems[i]);
	}
	problem = BoundsProblem(bounds->bound, n);
	if (problem != NULL)
		BoundsInvalid(array, problem);
	return bounds;
}

/*
 * The bounds argument (fcinfo argument argno), validated on the first call
 * and cached for the rest of the query: it must not vary from row to row.
 */
const HistogramBounds *
HistogramBoundsArg(FunctionCallInfo fcinfo, int argno)
{
	BoundsCache *cache = fcinfo->flinfo->fn_extra;

	if (cache == NULL)
	{
		if (!LoomlatArgIsStable(fcinfo, argno - 1))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("histogram bounds must be the same for every row"),
			                errhint("Pass the bounds as a constant or a parameter.")));
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BoundsCache));
		if (!PG_ARGISNULL(argno))
			cache->bounds = BoundsParse(PG_GETARG_ARRAYTYPE_P(argno), fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache->bounds;
}

/* A copy of bounds (or NULL) in mcxt. */
const HistogramBounds *
HistogramBoundsCopy(const HistogramBounds *bounds, MemoryContext mcxt)
{
	HistogramBounds *copy;

	if (bounds == NULL)
		return NULL;
	copy = MemoryContextAlloc(mcxt, BoundsSize(bounds->nbounds));
	memcpy(copy, bounds, BoundsSize(bounds->nbounds));
	return copy;
}

/* True when a and b are both absent or hold the same bounds. */
bool
HistogramBoundsEqual(const HistogramBounds *a, const HistogramBounds *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->nbounds == b->nbounds && memcmp(a->bound, b->bound, a->nbounds * sizeof(double)) == 0;
}

/* Raises the error for states built with different bounds. */
void
HistogramBoundsMismatch(void)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
	                errmsg("histogram bounds must be the same for every row")));
}

/* Puts bounds on the wire: their count (-1 for none), then the bounds. */
void
HistogramBoundsWrite(WireWriter *w, const HistogramBounds *bounds)
{
	WirePutInt32(w, bounds ? bounds->nbounds : -1);
	if (bounds != NULL)
		WirePutArray(w, bounds->bound, bounds->nbounds, sizeof(double));
}

/* Reads bounds from the wire, held to the same rules as parsed ones. */
const HistogramBounds *
HistogramBoundsRead(WireReader *r)
{
	int32 n = WireGetInt32(r);
	HistogramBounds *bounds;

	if (n == -1)
		return NULL;
	if (n < 1 || n > (int32) MaxArraySize || (Size) n > WireRemaining(r) / sizeof(double))
		WireCorrupt(r, "bound count is out of range");
	bounds = palloc(BoundsSize(n));
	bounds->nbounds = n;
	memcpy(bounds->bound, WireGetArray(r, n, sizeof(double)), n * sizeof(double));
	if (BoundsProblem(bounds->bound, n) != NULL)
		WireCorrupt(r, "bounds are invalid");
	return bounds;
}

/* A histogram with every bucket at zero, in mcxt. */
Histogram *
HistogramCreate(const HistogramBounds *bounds, MemoryContext mcxt)
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
void
HistogramAdd(Histogram *histogram, double ttft)
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
void
HistogramAbsorb(Histogram *dst, const Histogram *src)
{
	for (int b = 0; b <= dst->bounds->nbounds; b++)
		dst->count[b] += src->count[b];
}

/* The bucket counts as a bigint[]. */
Datum
HistogramDatum(const Histogram *histogram)
{
	int nbuckets = histogram->bounds->nbounds + 1;
	Datum *counts = palloc(mul_size(nbuckets, sizeof(Datum)));

	for (int i = 0; i < nbuckets; i++)
		counts[i] = Int64GetDatum(histogram->count[i]);
	return PointerGetDatum(construct_array(counts, nbuckets, INT8OID, sizeof(int64),
	                                       FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Puts the bucket counts on the wire (their number follows from the bounds). */
void
HistogramCountsWrite(WireWriter *w, const Histogram *histogram)
{
	WirePutArray(w, histogram->count, histogram->bounds->nbounds + 1, sizeof(int64));
}

/* Reads the bucket counts into histogram; none may be negative. */
void
HistogramCountsRead(WireReader *r, Histogram *histogram)
{
	int nbuckets = histogram->bounds->nbounds + 1;

	memcpy(histogram->count, WireGetArray(r, nbuckets, sizeof(int64)), nbuckets * sizeof(int64));
	for (int b = 0; b < nbuckets; b++)
		if (histogram->count[b] < 0)
			WireCorrupt(r, "a bucket count is negative");
}

/*
 * check_histogram_bounds(bounds_ms): raises the bounds error unless
 * bounds_ms is usable, for the SQL functions that take bounds.
 */
Datum
loomlat_check_histogram_bounds(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		BoundsInvalid(NULL, "The bounds are NULL.");
	BoundsParse(PG_GETARG_ARRAYTYPE_P(0), CurrentMemoryContext);
	PG_RETURN_VOID();
}

/* ttft_histogram_counts(ttft_ms, bounds_ms) transition. */
Datum
loomlat_ttft_histogram_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = LoomlatAggContext(fcinfo, "ttft_histogram_counts");
	Histogram *histogram;

	if (PG_ARGISNULL(0))
	{
		const HistogramBounds *bounds = HistogramBoundsArg(fcinfo, 2);

		if (bounds == NULL)
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			                errmsg("histogram bounds must not be NULL")));
		histogram = HistogramCreate(bounds, aggcontext);
	}
	else
		histogram = (Histogram *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1))
		HistogramAdd(histogram, PG_GETARG_FLOAT8(1));
	PG_RETURN_POINTER(histogram);
}

/* ttft_histogram_counts final: the counts per bucket; NULL without rows. */
Datum
loomlat_ttft_histogram_final(PG_FUNCTION_ARGS)
{
	LoomlatAggContext(fcinfo, "ttft_histogram_counts");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(HistogramDatum((Histogram *) PG_GETARG_POINTER(0)));
}

/* CombineOps: an empty histogram with src's bounds. */
static void *
HistogramEmptyLike(const void *src, MemoryContext mcxt)
{
	return HistogramCreate(HistogramBoundsCopy(((const Histogram *) src)->bounds, mcxt), mcxt);
}

/* CombineOps: both histograms must have the same bounds. */
static void
HistogramCheckSame(const void *dst, const void *src)
{
	if (!HistogramBoundsEqual(((const Histogram *) dst)->bounds, ((const Histogram *) src)->bounds))
		HistogramBoundsMismatch();
}

/* CombineOps: adds the counts of src. */
static void
HistogramCombineAbsorb(void *dst, const void *src, MemoryContext mcxt)
{
	HistogramAbsorb(dst, src);
}

static const CombineOps histogram_combine_ops = {HistogramEmptyLike, HistogramCheckSame,
                                                 HistogramCombineAbsorb};

/* ttft_histogram_counts combine: the counts of both states in the first. */
Datum
loomlat_ttft_histogram_combine(PG_FUNCTION_ARGS)
{
	return LoomlatCombine(fcinfo, "ttft_histogram_combine", &histogram_combine_ops);
}

/* ttft_histogram_counts serialize: the bounds, then the counts. */
Datum
loomlat_ttft_histogram_serialize(PG_FUNCTION_ARGS)
{
	Histogram *histogram;
	WireWriter w;

	LoomlatAggContext(fcinfo, "ttft_histogram_serialize");
	histogram = (Histogram *) PG_GETARG_POINTER(0);
	WireWriterBegin(&w, HISTOGRAM_WIRE_MAGIC, "ttft_histogram_counts");
	HistogramBoundsWrite(&w, histogram->bounds);
	HistogramCountsWrite(&w, histogram);
	PG_RETURN_BYTEA_P(WireWriterEnd(&w));
}

/* ttft_histogram_counts deserialize, validating every field. */
Datum
loomlat_ttft_histogram_deserialize(PG_FUNCTION_ARGS)
{
	WireReader r;
	const HistogramBounds *bounds;
	Histogram *histogram;

	LoomlatAggContext(fcinfo, "ttft_histogram_deserialize");
	WireReaderBegin(&r, PG_GETARG_BYTEA_PP(0), HISTOGRAM_WIRE_MAGIC, "ttft_histogram_counts");
	bounds = HistogramBoundsRead(&r);
	if (bounds == NULL)
		WireCorrupt(&r, "bounds are missing");
	histogram = HistogramCreate(bounds, CurrentMemoryContext);
	HistogramCountsRead(&r, histogram);
	WireReaderEnd(&r);
	PG_RETURN_POINTER(histogram);
}
