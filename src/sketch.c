/*
 * sketch.c
 *	  loomlat.latency_sketch: a mergeable quantile sketch with a relative-error
 *	  guarantee (DDSketch's logarithmic buckets), its aggregates and accessors.
 *
 * Mapping.  For a relative accuracy alpha, gamma = (1 + alpha) / (1 - alpha).
 * A value of magnitude m in (SKETCH_ZERO_THRESHOLD, SKETCH_MAX_MAGNITUDE]
 * counts in bucket i = ceil(log(m) / log(gamma) - SKETCH_INDEX_SLACK) of the
 * positive or the negative store; a magnitude at or below the threshold counts
 * in the zero bucket; a larger magnitude, NaN or an infinity is an error.
 * Bucket i stands for 2 gamma^i / (gamma + 1), within alpha of every magnitude
 * in (gamma^(i-1), gamma^i].  SKETCH_INDEX_SLACK keeps exact powers of gamma
 * in the bucket they close despite the rounding of log().  The aggregates
 * look the index up instead of calling log(): each octave [2^e, 2^(e+1)) is
 * cut into slices narrower than a bucket by the leading mantissa bits, and a
 * slice knows its bucket and the one boundary it may hold; a value within
 * SKETCH_BOUNDARY_GUARD of that boundary takes the formula above, so every
 * index is the formula's.  An octave's slices are built on first use, once
 * the accuracy has served SKETCH_ROWS_PER_SLICE rows per slice: until then
 * the formula serves, so building never costs more than the formula would
 * have.  The slices of the last two accuracies are kept (groups of two
 * accuracies side by side); a query that cycles through more keeps using
 * the formula.
 *
 * Layout.  One flat varlena is both the stored value and the aggregate state:
 * a header with the exact count, sum, min and max, then each store as a dense
 * window of int64 counts, the negative store's first.  A stored value is
 * canonical (every window starts and ends with a non-zero count, an empty one
 * is 0:0), so equal sketches are equal bytes.  An aggregate state's windows
 * may have zero counts at their ends: room to grow geometrically, which the
 * final function, the text output and send leave out.  The transition and
 * combine functions update the state in place and only return a new, wider
 * copy when a bucket falls outside a window; nodeAgg then moves it into the
 * aggregate context and frees the old one.
 *
 * The sum is exact and order-independent: a 192-bit two's complement integer
 * in units of 2^-64, each value truncated toward zero to that unit.  So any
 * merge order, serial or parallel, gives the same bytes.
 *
 * Input (text and binary) is validated as untrusted bytes: every field, the
 * counts against the total, min and max against the buckets they must be in.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "loomlat.h"

#ifndef HAVE_INT128
#error "latency_sketch needs a 128-bit integer type for its exact sum"
#endif

#define SKETCH_VERSION        1
#define SKETCH_DEFAULT_ALPHA  0.01
#define SKETCH_MIN_ALPHA      0.001
#define SKETCH_MAX_ALPHA      0.5
#define SKETCH_ZERO_THRESHOLD 1e-9  /* magnitudes up to this count as zero */
#define SKETCH_MAX_MAGNITUDE  1e15  /* larger magnitudes are an error */
#define SKETCH_INDEX_SLACK    1e-9  /* in buckets: log() rounding at exact powers */
#define SKETCH_MIN_GROWTH     16    /* buckets a window grows by, at least */
#define SKETCH_BOUNDARY_GUARD 1e-12 /* relative: this near a boundary the formula decides */
#define SKETCH_FIRST_EXPONENT (-30) /* the octave of SKETCH_ZERO_THRESHOLD */
#define SKETCH_OCTAVES        80    /* through the octave of SKETCH_MAX_MAGNITUDE */
#define SKETCH_ROWS_PER_SLICE 4     /* formula rows that pay for building a slice */

#define SKETCH_NEG            0
#define SKETCH_POS            1

/* The bucket indexes [offset, offset + len) of one store's window. */
typedef struct SketchStore
{
	int32 offset;
	int32 len;
} SketchStore;

/* The varlena: a value of loomlat.latency_sketch and the aggregates' state. */
typedef struct LatencySketch
{
	int32 vl_len_;
	int32 version;
	double alpha;
	int64 count;      /* every value: the zero bucket and all the buckets */
	int64 zero_count; /* magnitudes <= SKETCH_ZERO_THRESHOLD */
	uint64 sum[3];    /* sum * 2^64, two's complement, least significant first */
	double min;
	double max;
	SketchStore store[2];                /* SKETCH_NEG (magnitudes), SKETCH_POS */
	int64 counts[FLEXIBLE_ARRAY_MEMBER]; /* the NEG window's counts, then POS's */
} LatencySketch;

#define SKETCH_HEADER_SIZE offsetof(LatencySketch, counts)

/* What alpha implies: gamma and the bucket index range. */
typedef struct SketchMapping
{
	double alpha;
	double gamma;
	double inv_log_gamma;
	int32 min_index; /* bucket of the smallest magnitude above the zero threshold */
	int32 max_index; /* bucket of SKETCH_MAX_MAGNITUDE */
} SketchMapping;

/*
 * A slice of an octave: the bucket of its smallest values, and the boundary
 * above which its values are in the next bucket (HUGE_VAL when it holds
 * none); within guard of the boundary (always, when guard is HUGE_VAL) the
 * formula decides.
 */
typedef struct BucketSlice
{
	double boundary;
	double guard;
	int32 index;
} BucketSlice;

/* One accuracy's mapping and its slices. */
typedef struct SketchIndex
{
	SketchMapping mapping;
	int slice_bits;                      /* leading mantissa bits that pick a slice */
	int64 formula_rows;                  /* rows the formula served since the mapping was set */
	MemoryContext mcxt;                  /* where the slices' context goes */
	MemoryContext slices_cxt;            /* the octaves' slices (NULL until one is built) */
	BucketSlice *octave[SKETCH_OCTAVES]; /* from SKETCH_FIRST_EXPONENT; NULL until built */
} SketchIndex;

/*
 * An aggregate's cache in fn_extra (see CheckAggCall): the indexes of the
 * last two accuracies it saw, so that groups of two accuracies side by side
 * keep their slices.
 */
typedef struct SketchIndexCache
{
	SketchIndex index[2];
	int current;
} SketchIndexCache;

PG_FUNCTION_INFO_V1(loomlat_latency_sketch_in);
PG_FUNCTION_INFO_V1(loomlat_latency_sketch_out);
PG_FUNCTION_INFO_V1(loomlat_latency_sketch_recv);
PG_FUNCTION_INFO_V1(loomlat_latency_sketch_send);
PG_FUNCTION_INFO_V1(loomlat_sketch_add);
PG_FUNCTION_INFO_V1(loomlat_sketch_add_accuracy);
PG_FUNCTION_INFO_V1(loomlat_sketch_merge);
PG_FUNCTION_INFO_V1(loomlat_sketch_final);
PG_FUNCTION_INFO_V1(loomlat_sketch_quantile);
PG_FUNCTION_INFO_V1(loomlat_sketch_quantiles);
PG_FUNCTION_INFO_V1(loomlat_sketch_count);
PG_FUNCTION_INFO_V1(loomlat_sketch_mean);
PG_FUNCTION_INFO_V1(loomlat_sketch_min);
PG_FUNCTION_INFO_V1(loomlat_sketch_max);
PG_FUNCTION_INFO_V1(loomlat_sketch_relative_accuracy);

#define DatumGetSketchP(d)    ((LatencySketch *) PG_DETOAST_DATUM(d))
#define PG_GETARG_SKETCH_P(n) DatumGetSketchP(PG_GETARG_DATUM(n))

/*
 * The bucket of a magnitude in (SKETCH_ZERO_THRESHOLD, SKETCH_MAX_MAGNITUDE]:
 * ceil(log(m) / log(gamma) - SKETCH_INDEX_SLACK), the pinned convention.
 */
static int32
BucketIndex(const SketchMapping *m, double magnitude)
{
	double t = log(magnitude) * m->inv_log_gamma - SKETCH_INDEX_SLACK;
	int32 i = (int32) t; /* toward zero: the ceiling unless t > 0 has a fraction */

	return i + (i < t);
}

/* The magnitude bucket i stands for: 2 gamma^i / (gamma + 1). */
static double
BucketValue(const SketchMapping *m, int32 i)
{
	return 2 * pow(m->gamma, i) / (m->gamma + 1);
}

/* Raises the error for a relative accuracy outside [SKETCH_MIN_ALPHA, SKETCH_MAX_ALPHA]. */
static void
CheckAlpha(double alpha, int code)
{
	if (!(alpha >= SKETCH_MIN_ALPHA && alpha <= SKETCH_MAX_ALPHA))
		ereport(ERROR, (errcode(code),
		                errmsg("latency_sketch relative accuracy must be between %g and %g, not %g",
		                       SKETCH_MIN_ALPHA, SKETCH_MAX_ALPHA, alpha)));
}

/* Fills in the mapping of a valid alpha. */
static void
MappingInit(SketchMapping *m, double alpha)
{
	m->alpha = alpha;
	m->gamma = (1 + alpha) / (1 - alpha);
	m->inv_log_gamma = 1 / log(m->gamma);
	m->min_index = BucketIndex(m, nextafter(SKETCH_ZERO_THRESHOLD, HUGE_VAL));
	m->max_index = BucketIndex(m, SKETCH_MAX_MAGNITUDE);
}

/*
 * Refuses a call outside an aggregate (the state is updated in place), once
 * per FmgrInfo: its fn_extra is then the cache MappingFor fills.
 */
static inline void
CheckAggCall(FunctionCallInfo fcinfo, const char *fname)
{
	if (unlikely(fcinfo->flinfo->fn_extra == NULL))
	{
		SketchIndexCache *cache;

		LoomlatAggContext(fcinfo, fname);
		/* alpha 0 is never valid, so MappingFor fills an index on first use */
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SketchIndexCache));
		cache->index[0].mcxt = cache->index[1].mcxt = fcinfo->flinfo->fn_mcxt;
		fcinfo->flinfo->fn_extra = cache;
	}
}

/*
 * Makes the other of the cache's two indexes current, set to alpha (validated)
 * unless it already is; its old slices are dropped.  A slice is narrower than
 * a bucket (2^-slice_bits < gamma - 1), so it normally holds one boundary at
 * most.
 */
static pg_noinline SketchIndex *
IndexSwitch(SketchIndexCache *cache, double alpha)
{
	SketchIndex *ix;

	cache->current = 1 - cache->current;
	ix = &cache->index[cache->current];
	if (ix->mapping.alpha != alpha)
	{
		CheckAlpha(alpha, ERRCODE_INVALID_PARAMETER_VALUE);
		MappingInit(&ix->mapping, alpha);
		ix->slice_bits = 0;
		while (ldexp(1, -ix->slice_bits) >= ix->mapping.gamma - 1)
			ix->slice_bits++;
		ix->formula_rows = 0;
		if (ix->slices_cxt != NULL)
			MemoryContextReset(ix->slices_cxt);
		memset(ix->octave, 0, sizeof(ix->octave));
	}
	return ix;
}

/* The index of alpha, from the cache in fn_extra (see CheckAggCall). */
static inline SketchIndex *
MappingFor(FunctionCallInfo fcinfo, double alpha)
{
	SketchIndexCache *cache = fcinfo->flinfo->fn_extra;
	SketchIndex *ix = &cache->index[cache->current];

	if (unlikely(ix->mapping.alpha != alpha))
		ix = IndexSwitch(cache, alpha);
	return ix;
}

/* The upper boundary of bucket i: the largest magnitudes the formula puts there are near it. */
static double
BucketBoundary(const SketchMapping *m, int32 i)
{
	return exp((i + SKETCH_INDEX_SLACK) / m->inv_log_gamma);
}

/*
 * Builds the slices of octave e, in a context of its own.  A slice is
 * left to the formula (guard HUGE_VAL) when a boundary lies within the guard
 * of its ends or it holds two, which a slice narrower than a bucket does not.
 */
static pg_noinline BucketSlice *
OctaveBuild(SketchIndex *ix, int e)
{
	const SketchMapping *m = &ix->mapping;
	int slices = 1 << ix->slice_bits;
	BucketSlice *octave;

	if (ix->slices_cxt == NULL)
		ix->slices_cxt =
		    AllocSetContextCreate(ix->mcxt, "latency_sketch slices", ALLOCSET_SMALL_SIZES);
	octave = MemoryContextAlloc(ix->slices_cxt, slices * sizeof(BucketSlice));

	for (int j = 0; j < slices; j++)
	{
		double start = ldexp(1 + (double) j / slices, e);
		double end = ldexp(1 + (double) (j + 1) / slices, e);
		int32 i = BucketIndex(m, start);
		double below = BucketBoundary(m, i - 1);
		double boundary = BucketBoundary(m, i);
		BucketSlice *slice = &octave[j];

		slice->index = i;
		slice->boundary = HUGE_VAL;
		slice->guard = 0;
		if (below >= start * (1 - SKETCH_BOUNDARY_GUARD))
			slice->guard = HUGE_VAL;
		else if (boundary < end * (1 + SKETCH_BOUNDARY_GUARD))
		{
			slice->boundary = boundary;
			slice->guard = boundary * SKETCH_BOUNDARY_GUARD;
			if (boundary <= start * (1 + SKETCH_BOUNDARY_GUARD) ||
			    boundary >= end * (1 - SKETCH_BOUNDARY_GUARD) ||
			    BucketBoundary(m, i + 1) < end * (1 + SKETCH_BOUNDARY_GUARD))
				slice->guard = HUGE_VAL;
		}
	}
	ix->octave[e - SKETCH_FIRST_EXPONENT] = octave;
	return octave;
}

/*
 * BucketIndex by the octave's slices: the formula's index without log();
 * the formula itself until the mapping has served enough rows to pay for
 * building them.
 */
static inline int32
BucketIndexCached(SketchIndex *ix, double magnitude)
{
	uint64 bits;
	int e;
	const BucketSlice *octave;
	const BucketSlice *slice;

	memcpy(&bits, &magnitude, sizeof(bits));
	e = (int) (bits >> 52) - 1023;
	Assert(e >= SKETCH_FIRST_EXPONENT && e < SKETCH_FIRST_EXPONENT + SKETCH_OCTAVES);
	octave = ix->octave[e - SKETCH_FIRST_EXPONENT];
	if (unlikely(octave == NULL))
	{
		if (ix->formula_rows < ((int64) SKETCH_ROWS_PER_SLICE << ix->slice_bits))
		{
			ix->formula_rows++;
			return BucketIndex(&ix->mapping, magnitude);
		}
		octave = OctaveBuild(ix, e);
	}
	slice = &octave[(bits & ((UINT64CONST(1) << 52) - 1)) >> (52 - ix->slice_bits)];
	if (unlikely(fabs(magnitude - slice->boundary) <= slice->guard))
		return BucketIndex(&ix->mapping, magnitude);
	return slice->index + (magnitude > slice->boundary);
}

/* The counts of store s: its window's first bucket is counts[0]. */
static inline int64 *
StoreCounts(const LatencySketch *sk, int s)
{
	return (int64 *) sk->counts + (s == SKETCH_NEG ? 0 : sk->store[SKETCH_NEG].len);
}

/* The part of store s's window between its first and last non-zero counts. */
static SketchStore
StoreUsed(const LatencySketch *sk, int s)
{
	const int64 *c = StoreCounts(sk, s);
	SketchStore used = sk->store[s];
	int32 skip = 0;

	while (used.len > 0 && c[used.len - 1] == 0)
		used.len--;
	while (skip < used.len && c[skip] == 0)
		skip++;
	used.offset = used.len > skip ? used.offset + skip : 0;
	used.len -= skip;
	return used;
}

/*
 * A copy of sk's header with the given windows, their counts copied from sk
 * where the windows overlap and zero elsewhere; in the current context.
 */
static LatencySketch *
SketchRewindow(const LatencySketch *sk, const SketchStore *window)
{
	Size size = SKETCH_HEADER_SIZE + (Size) (window[0].len + window[1].len) * sizeof(int64);
	LatencySketch *copy = palloc0(size);

	memcpy(copy, sk, SKETCH_HEADER_SIZE);
	SET_VARSIZE(copy, size);
	copy->store[SKETCH_NEG] = window[SKETCH_NEG];
	copy->store[SKETCH_POS] = window[SKETCH_POS];
	for (int s = 0; s < 2; s++)
	{
		const int64 *from = StoreCounts(sk, s);
		int64 *to = StoreCounts(copy, s);
		int32 lo = Max(sk->store[s].offset, window[s].offset);
		int32 hi = Min(sk->store[s].offset + sk->store[s].len, window[s].offset + window[s].len);

		if (lo < hi)
			memcpy(to + (lo - window[s].offset), from + (lo - sk->store[s].offset),
			       (hi - lo) * sizeof(int64));
	}
	return copy;
}

/*
 * A copy of sk whose store s window also covers buckets [lo, hi], with room
 * of half its width (at least SKETCH_MIN_GROWTH) on each side that grew,
 * within the mapping's index range.
 */
static pg_noinline LatencySketch *
SketchWiden(const LatencySketch *sk, const SketchMapping *m, int s, int32 lo, int32 hi)
{
	SketchStore window[2] = {sk->store[0], sk->store[1]};
	SketchStore old = sk->store[s];
	int32 first = old.len > 0 ? Min(lo, old.offset) : lo;
	int32 last = old.len > 0 ? Max(hi, old.offset + old.len - 1) : hi;
	int32 room = Max(SKETCH_MIN_GROWTH, (last - first + 1) / 2);

	if (old.len == 0 || lo < old.offset)
		first = Max(first - room, m->min_index);
	if (old.len == 0 || hi >= old.offset + old.len)
		last = Min(last + room, m->max_index);
	window[s].offset = first;
	window[s].len = last - first + 1;
	return SketchRewindow(sk, window);
}

/* A canonical copy of sk: each window trimmed to its non-zero counts. */
static LatencySketch *
SketchTrim(const LatencySketch *sk)
{
	SketchStore window[2] = {StoreUsed(sk, SKETCH_NEG), StoreUsed(sk, SKETCH_POS)};

	return SketchRewindow(sk, window);
}

/*
 * Adds x (|x| <= SKETCH_MAX_MAGNITUDE) to a 192-bit sum, in units of 2^-64
 * truncated toward zero.  |x| = m 2^(e-52) with a 53-bit integer m, so it is
 * m shifted left by e + 12 units, or right (truncating) by -(e + 12): integer
 * operations on x's bits, exact, with no conversion.  Zero and subnormals
 * shift out entirely.
 */
static inline void
SumAdd(uint64 *sum, double x)
{
	uint64 bits;
	uint64 m;
	int shift;
	int128 units;
	uint128 low;
	uint128 next;

	memcpy(&bits, &x, sizeof(bits));
	m = (bits & ((UINT64CONST(1) << 52) - 1)) | (UINT64CONST(1) << 52);
	shift = (int) ((bits >> 52) & 0x7ff) - 1023 + 12; /* <= 62: |x| < 2^50 */
	units = shift >= 0 ? (int128) ((uint128) m << shift) : (int128) (m >> Min(-shift, 63));
	low = ((uint128) sum[1] << 64) | sum[0];
	if (x < 0)
		units = -units;
	next = low + (uint128) units;
	sum[2] += (units < 0 ? PG_UINT64_MAX : 0) + (next < low);
	sum[1] = (uint64) (next >> 64);
	sum[0] = (uint64) next;
}

/* Adds one 192-bit sum to another. */
static void
SumMerge(uint64 *sum, const uint64 *other)
{
	uint64 carry = 0;

	for (int w = 0; w < 3; w++)
	{
		uint128 t = (uint128) sum[w] + other[w] + carry;

		sum[w] = (uint64) t;
		carry = (uint64) (t >> 64);
	}
}

/* Sets magnitude to |sum| and returns whether sum is negative. */
static bool
SumMagnitude(const uint64 *sum, uint64 *magnitude)
{
	bool negative = (int64) sum[2] < 0;
	uint64 carry = 1;

	for (int w = 0; w < 3; w++)
	{
		magnitude[w] = negative ? ~sum[w] + carry : sum[w];
		carry = negative && carry && magnitude[w] == 0;
	}
	return negative;
}

/* The sum as a double. */
static double
SumValue(const uint64 *sum)
{
	uint64 m[3];
	bool negative = SumMagnitude(sum, m);
	double v = ldexp((double) m[2], 64) + (double) m[1] + ldexp((double) m[0], -64);

	return negative ? -v : v;
}

/* Raises the error for a value the sketch cannot hold. */
static inline void
CheckValue(double x)
{
	if (unlikely(!(fabs(x) <= SKETCH_MAX_MAGNITUDE))) /* NaN too */
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
		                errmsg("value %g is out of range for type latency_sketch", x),
		                errdetail("A latency_sketch holds finite values of magnitude up to %g.",
		                          SKETCH_MAX_MAGNITUDE)));
}

/* Adds count to sk->count, refusing an overflow. */
static inline void
CountAdd(LatencySketch *sk, int64 count)
{
	if (unlikely(pg_add_s64_overflow(sk->count, count, &sk->count)))
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
		                errmsg("latency_sketch count is out of range")));
}

/*
 * Adds one value to sk (a new sketch has min and max set to it already), in
 * place when its bucket is in the window; returns sk or a wider copy.
 */
static LatencySketch *
SketchInsert(LatencySketch *sk, SketchIndex *ix, double x)
{
	double magnitude = fabs(x);

	CheckValue(x);
	x += 0.0; /* -0 is 0, so that min and max do not depend on the order */
	if (magnitude <= SKETCH_ZERO_THRESHOLD)
		sk->zero_count++;
	else
	{
		int s = x < 0 ? SKETCH_NEG : SKETCH_POS;
		int32 i = BucketIndexCached(ix, magnitude);

		if (i < sk->store[s].offset || i >= sk->store[s].offset + sk->store[s].len)
			sk = SketchWiden(sk, &ix->mapping, s, i, i);
		StoreCounts(sk, s)[i - sk->store[s].offset]++;
	}
	CountAdd(sk, 1);
	SumAdd(sk->sum, x);
	sk->min = Min(sk->min, x);
	sk->max = Max(sk->max, x);
	return sk;
}

/* The state argument n, detoasted (a merge's first input may be toasted). */
static inline LatencySketch *
StateArg(FunctionCallInfo fcinfo, int n)
{
	Datum d = PG_GETARG_DATUM(n);

	if (likely(!VARATT_IS_EXTENDED(DatumGetPointer(d))))
		return (LatencySketch *) DatumGetPointer(d);
	return DatumGetSketchP(d);
}

/*
 * An empty sketch whose min and max are the first value (the insert checks
 * it), out of the transition's line so that its frame stays small.
 */
static pg_noinline LatencySketch *
SketchCreate(double alpha, double first)
{
	SketchStore empty[2] = {{0, 0}, {0, 0}};
	LatencySketch head = {0};

	head.version = SKETCH_VERSION;
	head.alpha = alpha;
	head.min = head.max = first + 0.0;
	return SketchRewindow(&head, empty);
}

/* Shared transition: the first non-NULL value creates the state, later ones are added in place. */
static Datum
SketchAccum(FunctionCallInfo fcinfo, double alpha, const char *fname)
{
	SketchIndex *ix;
	LatencySketch *sk;

	CheckAggCall(fcinfo, fname);
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ix = MappingFor(fcinfo, alpha);
	if (PG_ARGISNULL(0))
		sk = SketchCreate(alpha, PG_GETARG_FLOAT8(1));
	else
	{
		sk = StateArg(fcinfo, 0);
		if (sk->alpha != alpha)
			ereport(ERROR,
			        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			         errmsg("relative_accuracy must be the same for every row of a group"),
			         errdetail("The group's sketch has %g, this row %g.", sk->alpha, alpha)));
	}
	PG_RETURN_POINTER(SketchInsert(sk, ix, PG_GETARG_FLOAT8(1)));
}

/* sketch(value float8) transition, at the default relative accuracy. */
Datum
loomlat_sketch_add(PG_FUNCTION_ARGS)
{
	return SketchAccum(fcinfo, SKETCH_DEFAULT_ALPHA, "loomlat_sketch_add");
}

/* sketch(value float8, relative_accuracy float8) transition. */
Datum
loomlat_sketch_add_accuracy(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(1) && PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("relative_accuracy must not be NULL")));
	return SketchAccum(fcinfo, PG_ARGISNULL(2) ? 0 : PG_GETARG_FLOAT8(2),
	                   "loomlat_sketch_add_accuracy");
}

/*
 * merge(latency_sketch) transition and every sketch aggregate's combine
 * function: adds the second sketch to the first, in place when its buckets
 * fit the first's windows.  Sketches of different accuracy are refused.
 */
Datum
loomlat_sketch_merge(PG_FUNCTION_ARGS)
{
	LatencySketch *sk;
	const LatencySketch *other;
	const SketchMapping *m;

	CheckAggCall(fcinfo, "loomlat_sketch_merge");
	sk = StateArg(fcinfo, 0);
	other = PG_GETARG_SKETCH_P(1);
	if (sk->alpha != other->alpha)
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		         errmsg("cannot merge latency sketches of different relative accuracy (%g and %g)",
		                sk->alpha, other->alpha),
		         errhint("Build the sketches to be merged with the same relative_accuracy.")));
	m = &MappingFor(fcinfo, sk->alpha)->mapping;
	for (int s = 0; s < 2; s++)
	{
		SketchStore used = StoreUsed(other, s);
		const int64 *from = StoreCounts(other, s) + (used.offset - other->store[s].offset);
		int64 *to;

		if (used.len == 0)
			continue;
		if (used.offset < sk->store[s].offset ||
		    used.offset + used.len > sk->store[s].offset + sk->store[s].len)
			sk = SketchWiden(sk, m, s, used.offset, used.offset + used.len - 1);
		to = StoreCounts(sk, s) + (used.offset - sk->store[s].offset);
		for (int32 j = 0; j < used.len; j++)
			to[j] += from[j];
	}
	CountAdd(sk, other->count);
	sk->zero_count += other->zero_count;
	SumMerge(sk->sum, other->sum);
	sk->min = Min(sk->min, other->min);
	sk->max = Max(sk->max, other->max);
	PG_RETURN_POINTER(sk);
}

/* Final function of the sketch aggregates: the state, canonical (trimmed). */
Datum
loomlat_sketch_final(PG_FUNCTION_ARGS)
{
	LoomlatAggContext(fcinfo, "loomlat_sketch_final");
	PG_RETURN_POINTER(SketchTrim(StateArg(fcinfo, 0)));
}

/* Raises the error for input that fails validation. */
static void
SketchInvalid(int code, const char *detail)
{
	ereport(ERROR,
	        (errcode(code), errmsg("invalid latency_sketch"), errdetail_internal("%s", detail)));
}

/* True when |x| belongs to bucket i of store s (or to the zero bucket, for s < 0). */
static bool
ValueInPlace(const SketchMapping *m, double x, int s, int32 i)
{
	double magnitude = fabs(x);

	if (s < 0)
		return magnitude <= SKETCH_ZERO_THRESHOLD;
	return (s == SKETCH_NEG ? x < 0 : x > 0) && magnitude > SKETCH_ZERO_THRESHOLD &&
	       BucketIndex(m, magnitude) == i;
}

/*
 * Validates a sketch built from untrusted input (text or binary, code says
 * which error to raise): accuracy, canonical windows within the index range,
 * non-negative counts that add up, finite min <= max in the buckets that must
 * hold them, and a mean between them.
 */
static void
SketchValidate(const LatencySketch *sk, int code)
{
	SketchMapping m;
	int64 total = sk->zero_count;
	double mean;
	double slack;
	int min_store;
	int max_store;
	int32 min_index = 0;
	int32 max_index = 0;

	if (sk->version != SKETCH_VERSION)
		SketchInvalid(code, "unknown version");
	CheckAlpha(sk->alpha, code);
	MappingInit(&m, sk->alpha);
	if (sk->count < 1 || sk->zero_count < 0)
		SketchInvalid(code, "counts must be positive");
	for (int s = 0; s < 2; s++)
	{
		const SketchStore *st = &sk->store[s];
		const int64 *c = StoreCounts(sk, s);

		if (st->len == 0)
		{
			if (st->offset != 0)
				SketchInvalid(code, "an empty store must be 0:0");
			continue;
		}
		if (st->offset < m.min_index || st->offset > m.max_index ||
		    st->len > m.max_index - st->offset + 1)
			SketchInvalid(code, "bucket index out of range");
		if (c[0] == 0 || c[st->len - 1] == 0)
			SketchInvalid(code, "a store must start and end with a non-zero count");
		for (int32 j = 0; j < st->len; j++)
			if (c[j] < 0 || pg_add_s64_overflow(total, c[j], &total))
				SketchInvalid(code, "bucket counts must be non-negative and add up to the count");
	}
	if (total != sk->count)
		SketchInvalid(code, "bucket counts do not add up to the count");

	if (!isfinite(sk->min) || !isfinite(sk->max) || fabs(sk->min) > SKETCH_MAX_MAGNITUDE ||
	    fabs(sk->max) > SKETCH_MAX_MAGNITUDE || sk->min > sk->max ||
	    (sk->count == 1 && sk->min != sk->max))
		SketchInvalid(code, "min and max must be finite, in range and ordered");
	/* min is in the lowest non-empty bucket, max in the highest */
	if (sk->store[SKETCH_NEG].len > 0)
	{
		min_store = SKETCH_NEG;
		min_index = sk->store[SKETCH_NEG].offset + sk->store[SKETCH_NEG].len - 1;
	}
	else if (sk->zero_count > 0)
		min_store = -1;
	else
	{
		min_store = SKETCH_POS;
		min_index = sk->store[SKETCH_POS].offset;
	}
	if (sk->store[SKETCH_POS].len > 0)
	{
		max_store = SKETCH_POS;
		max_index = sk->store[SKETCH_POS].offset + sk->store[SKETCH_POS].len - 1;
	}
	else if (sk->zero_count > 0)
		max_store = -1;
	else
	{
		max_store = SKETCH_NEG;
		max_index = sk->store[SKETCH_NEG].offset;
	}
	if (!ValueInPlace(&m, sk->min, min_store, min_index) ||
	    !ValueInPlace(&m, sk->max, max_store, max_index))
		SketchInvalid(code, "min or max is not in the buckets");

	mean = SumValue(sk->sum) / sk->count;
	slack = 1e-12 * Max(fabs(sk->min), fabs(sk->max)) + 1e-18;
	if (!(mean >= sk->min - slack && mean <= sk->max + slack))
		SketchInvalid(code, "the sum does not fit min, max and count");
}

/*
 * Builds a sketch from a header and each store's counts (untrusted, not yet
 * validated; the store lengths are already bounded).
 */
static LatencySketch *
SketchAssemble(const LatencySketch *head, int64 *const *counts)
{
	Size size =
	    SKETCH_HEADER_SIZE + (Size) (head->store[0].len + head->store[1].len) * sizeof(int64);
	LatencySketch *sk = palloc(size);

	memcpy(sk, head, SKETCH_HEADER_SIZE);
	SET_VARSIZE(sk, size);
	for (int s = 0; s < 2; s++)
		if (head->store[s].len > 0)
			memcpy(StoreCounts(sk, s), counts[s], head->store[s].len * sizeof(int64));
	return sk;
}

/* Text-form parser state: the input and the current position. */
typedef struct SketchParser
{
	const char *input;
	const char *p;
} SketchParser;

/* Raises the syntax error at the parser's position. */
static void
ParseError(const SketchParser *ps, const char *expected)
{
	ereport(ERROR,
	        (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
	         errmsg("invalid input syntax for type latency_sketch"),
	         errdetail("Expected %s at character %d.", expected, (int) (ps->p - ps->input) + 1)));
}

/* Consumes the literal text, or fails. */
static void
ParseLiteral(SketchParser *ps, const char *literal)
{
	size_t len = strlen(literal);

	if (strncmp(ps->p, literal, len) != 0)
	{
		char quoted[32];

		snprintf(quoted, sizeof(quoted), "\"%s\"", literal);
		ParseError(ps, quoted);
	}
	ps->p += len;
}

/* Consumes a decimal integer (a sign only when negative allows). */
static int64
ParseInt(SketchParser *ps, bool negative)
{
	bool minus = negative && *ps->p == '-';
	int64 v = 0;
	const char *start;

	if (minus)
		ps->p++;
	start = ps->p;
	for (; *ps->p >= '0' && *ps->p <= '9'; ps->p++)
		if (pg_mul_s64_overflow(v, 10, &v) ||
		    pg_add_s64_overflow(v, minus ? -(*ps->p - '0') : *ps->p - '0', &v))
			ParseError(ps, "an integer in range");
	if (ps->p == start)
		ParseError(ps, "an integer");
	return v;
}

/* Consumes an int32 (bucket index or store length). */
static int32
ParseInt32(SketchParser *ps, bool negative)
{
	int64 v = ParseInt(ps, negative);

	if (v < PG_INT32_MIN || v > PG_INT32_MAX)
		ParseError(ps, "an integer in range");
	return (int32) v;
}

/* Consumes a float written by the output (finite, no leading space). */
static double
ParseFloat(SketchParser *ps)
{
	char *end;
	double v;

	if (!(*ps->p == '-' || *ps->p == '.' || (*ps->p >= '0' && *ps->p <= '9')))
		ParseError(ps, "a number");
	v = strtod(ps->p, &end);
	if (end == ps->p || !isfinite(v))
		ParseError(ps, "a finite number");
	ps->p = end;
	return v;
}

/* Consumes the sum: an optional minus and up to 48 hex digits of sum * 2^64. */
static void
ParseSum(SketchParser *ps, uint64 *sum)
{
	bool minus = *ps->p == '-';
	uint64 magnitude[3] = {0, 0, 0};
	uint64 zero[3] = {0, 0, 0};
	int digits = 0;

	if (minus)
		ps->p++;
	for (; isxdigit((unsigned char) *ps->p); ps->p++, digits++)
	{
		int d = (*ps->p <= '9') ? *ps->p - '0' : (*ps->p | 0x20) - 'a' + 10;

		if (magnitude[2] >> 60 != 0)
			ParseError(ps, "a sum in range");
		magnitude[2] = magnitude[2] << 4 | magnitude[1] >> 60;
		magnitude[1] = magnitude[1] << 4 | magnitude[0] >> 60;
		magnitude[0] = magnitude[0] << 4 | d;
	}
	if (digits == 0)
		ParseError(ps, "a hexadecimal sum");
	if (magnitude[2] >> 63 != 0)
		ParseError(ps, "a sum in range");
	if (minus)
	{
		/* sum = 0 - magnitude */
		for (int w = 0; w < 3; w++)
			magnitude[w] = ~magnitude[w];
		zero[0] = 1;
		SumMerge(magnitude, zero);
	}
	memcpy(sum, magnitude, sizeof(magnitude));
}

/*
 * Consumes a store: empty, or "offset:count,count,..." where "count*run"
 * stands for run equal counts.  At most max_len counts; they go to a new
 * array in *counts.
 */
static void
ParseStore(SketchParser *ps, SketchStore *st, int64 **counts, int32 max_len)
{
	int32 capacity = SKETCH_MIN_GROWTH;

	st->offset = 0;
	st->len = 0;
	*counts = NULL;
	if (*ps->p == ';' || *ps->p == '\0')
		return;
	st->offset = ParseInt32(ps, true);
	ParseLiteral(ps, ":");
	*counts = palloc(capacity * sizeof(int64));
	for (;;)
	{
		int64 count = ParseInt(ps, false);
		int32 run = 1;

		if (*ps->p == '*')
		{
			ps->p++;
			run = ParseInt32(ps, false);
		}
		if (run < 1 || run > max_len - st->len)
			ParseError(ps, "fewer buckets");
		while (st->len + run > capacity)
		{
			capacity *= 2;
			*counts = repalloc(*counts, capacity * sizeof(int64));
		}
		while (run-- > 0)
			(*counts)[st->len++] = count;
		if (*ps->p != ',')
			break;
		ps->p++;
	}
}

/*
 * Text input:
 * v1;a=ALPHA;n=COUNT;s=SUM;min=MIN;max=MAX;neg=STORE;z=ZERO;pos=STORE
 * where STORE is empty or OFFSET:COUNT,COUNT,... and a COUNT may be
 * COUNT*RUN, RUN equal counts.
 */
Datum
loomlat_latency_sketch_in(PG_FUNCTION_ARGS)
{
	SketchParser ps = {PG_GETARG_CSTRING(0), PG_GETARG_CSTRING(0)};
	LatencySketch head = {0};
	SketchMapping m;
	int64 *counts[2];
	LatencySketch *sk;

	ParseLiteral(&ps, "v1;a=");
	head.version = SKETCH_VERSION;
	head.alpha = ParseFloat(&ps);
	CheckAlpha(head.alpha, ERRCODE_INVALID_TEXT_REPRESENTATION);
	MappingInit(&m, head.alpha);
	ParseLiteral(&ps, ";n=");
	head.count = ParseInt(&ps, false);
	ParseLiteral(&ps, ";s=");
	ParseSum(&ps, head.sum);
	ParseLiteral(&ps, ";min=");
	head.min = ParseFloat(&ps) + 0.0;
	ParseLiteral(&ps, ";max=");
	head.max = ParseFloat(&ps) + 0.0;
	ParseLiteral(&ps, ";neg=");
	ParseStore(&ps, &head.store[SKETCH_NEG], &counts[SKETCH_NEG], m.max_index - m.min_index + 1);
	ParseLiteral(&ps, ";z=");
	head.zero_count = ParseInt(&ps, false);
	ParseLiteral(&ps, ";pos=");
	ParseStore(&ps, &head.store[SKETCH_POS], &counts[SKETCH_POS], m.max_index - m.min_index + 1);
	if (*ps.p != '\0')
		ParseError(&ps, "the end of the input");

	sk = SketchAssemble(&head, counts);
	SketchValidate(sk, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(sk);
}

/* Appends a float in its shortest form that reads back exactly. */
static void
AppendFloat(StringInfo out, double x)
{
	char buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(x, buf);
	appendStringInfoString(out, buf);
}

/* Appends a store's used buckets: empty, or "offset:count,count,...", a run of zeros as "0*run". */
static void
AppendStore(StringInfo out, const LatencySketch *sk, int s)
{
	SketchStore used = StoreUsed(sk, s);
	const int64 *c = StoreCounts(sk, s) + (used.offset - sk->store[s].offset);

	if (used.len == 0)
		return;
	appendStringInfo(out, "%d:", used.offset);
	for (int32 j = 0; j < used.len; j++)
	{
		int32 run = 1;

		if (j > 0)
			appendStringInfoChar(out, ',');
		while (c[j] == 0 && c[j + run] == 0)
			run++;
		if (run > 1)
			appendStringInfo(out, "0*%d", run);
		else
			appendStringInfo(out, INT64_FORMAT, c[j]);
		j += run - 1;
	}
}

/* Text output, canonical: see loomlat_latency_sketch_in. */
Datum
loomlat_latency_sketch_out(PG_FUNCTION_ARGS)
{
	const LatencySketch *sk = PG_GETARG_SKETCH_P(0);
	StringInfoData out;
	uint64 m[3];

	initStringInfo(&out);
	appendStringInfoString(&out, "v1;a=");
	AppendFloat(&out, sk->alpha);
	appendStringInfo(&out, ";n=" INT64_FORMAT ";s=%s", sk->count,
	                 SumMagnitude(sk->sum, m) ? "-" : "");
	if (m[2] != 0)
		appendStringInfo(&out, "%llx%016llx%016llx", (unsigned long long) m[2],
		                 (unsigned long long) m[1], (unsigned long long) m[0]);
	else if (m[1] != 0)
		appendStringInfo(&out, "%llx%016llx", (unsigned long long) m[1], (unsigned long long) m[0]);
	else
		appendStringInfo(&out, "%llx", (unsigned long long) m[0]);
	appendStringInfoString(&out, ";min=");
	AppendFloat(&out, sk->min);
	appendStringInfoString(&out, ";max=");
	AppendFloat(&out, sk->max);
	appendStringInfoString(&out, ";neg=");
	AppendStore(&out, sk, SKETCH_NEG);
	appendStringInfo(&out, ";z=" INT64_FORMAT ";pos=", sk->zero_count);
	AppendStore(&out, sk, SKETCH_POS);
	PG_RETURN_CSTRING(out.data);
}

/* Raises the error for binary input shorter than what comes next. */
static void
RecvNeed(StringInfo buf, Size nbytes)
{
	if ((Size) (buf->len - buf->cursor) < nbytes)
		SketchInvalid(ERRCODE_INVALID_BINARY_REPRESENTATION, "the data is truncated");
}

/* Reads a store: offset, length (at most max_len) and counts, into a new array. */
static void
RecvStore(StringInfo buf, SketchStore *st, int64 **counts, int32 max_len)
{
	RecvNeed(buf, 2 * sizeof(int32));
	st->offset = (int32) pq_getmsgint(buf, 4);
	st->len = (int32) pq_getmsgint(buf, 4);
	if (st->len < 0 || st->len > max_len)
		SketchInvalid(ERRCODE_INVALID_BINARY_REPRESENTATION, "store length out of range");
	RecvNeed(buf, (Size) st->len * sizeof(int64));
	*counts = palloc(Max(st->len, 1) * sizeof(int64));
	for (int32 j = 0; j < st->len; j++)
		(*counts)[j] = pq_getmsgint64(buf);
}

/*
 * Binary input: version byte, alpha, count, sum (most significant word
 * first), min, max, negative store, zero count, positive store; a store is
 * int32 offset, int32 length, then int64 counts.
 */
Datum
loomlat_latency_sketch_recv(PG_FUNCTION_ARGS)
{
	StringInfo buf = (StringInfo) PG_GETARG_POINTER(0);
	LatencySketch head = {0};
	SketchMapping m;
	int64 *counts[2];
	LatencySketch *sk;

	RecvNeed(buf, 1 + 3 * sizeof(double) + 5 * sizeof(int64));
	head.version = pq_getmsgbyte(buf);
	if (head.version != SKETCH_VERSION)
		SketchInvalid(ERRCODE_INVALID_BINARY_REPRESENTATION, "unknown version");
	head.alpha = pq_getmsgfloat8(buf);
	CheckAlpha(head.alpha, ERRCODE_INVALID_BINARY_REPRESENTATION);
	MappingInit(&m, head.alpha);
	head.count = pq_getmsgint64(buf);
	for (int w = 2; w >= 0; w--)
		head.sum[w] = (uint64) pq_getmsgint64(buf);
	head.min = pq_getmsgfloat8(buf) + 0.0;
	head.max = pq_getmsgfloat8(buf) + 0.0;
	RecvStore(buf, &head.store[SKETCH_NEG], &counts[SKETCH_NEG], m.max_index - m.min_index + 1);
	RecvNeed(buf, sizeof(int64));
	head.zero_count = pq_getmsgint64(buf);
	RecvStore(buf, &head.store[SKETCH_POS], &counts[SKETCH_POS], m.max_index - m.min_index + 1);
	if (buf->cursor != buf->len)
		SketchInvalid(ERRCODE_INVALID_BINARY_REPRESENTATION, "trailing data");

	sk = SketchAssemble(&head, counts);
	SketchValidate(sk, ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(sk);
}

/* Sends a store's used buckets. */
static void
SendStore(StringInfo buf, const LatencySketch *sk, int s)
{
	SketchStore used = StoreUsed(sk, s);
	const int64 *c = StoreCounts(sk, s) + (used.offset - sk->store[s].offset);

	pq_sendint32(buf, used.offset);
	pq_sendint32(buf, used.len);
	for (int32 j = 0; j < used.len; j++)
		pq_sendint64(buf, c[j]);
}

/* Binary output, canonical: see loomlat_latency_sketch_recv. */
Datum
loomlat_latency_sketch_send(PG_FUNCTION_ARGS)
{
	const LatencySketch *sk = PG_GETARG_SKETCH_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, SKETCH_VERSION);
	pq_sendfloat8(&buf, sk->alpha);
	pq_sendint64(&buf, sk->count);
	for (int w = 2; w >= 0; w--)
		pq_sendint64(&buf, (int64) sk->sum[w]);
	pq_sendfloat8(&buf, sk->min);
	pq_sendfloat8(&buf, sk->max);
	SendStore(&buf, sk, SKETCH_NEG);
	pq_sendint64(&buf, sk->zero_count);
	SendStore(&buf, sk, SKETCH_POS);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * The estimate of the value of 0-based rank k in sorted order: the value of
 * the bucket holding it (negatives first, by falling magnitude, then the
 * zero bucket, then the positives), clamped to [min, max].
 */
static double
RankValue(const LatencySketch *sk, const SketchMapping *m, int64 k)
{
	const SketchStore *neg = &sk->store[SKETCH_NEG];
	const SketchStore *pos = &sk->store[SKETCH_POS];
	const int64 *c = StoreCounts(sk, SKETCH_NEG);
	double v = 0;

	for (int32 j = neg->len - 1; j >= 0 && k >= 0; k -= c[j], j--)
		if (k < c[j])
			v = -BucketValue(m, neg->offset + j);
	k -= sk->zero_count;
	c = StoreCounts(sk, SKETCH_POS);
	for (int32 j = 0; j < pos->len && k >= 0; k -= c[j], j++)
		if (k < c[j])
			v = BucketValue(m, pos->offset + j);
	return Min(Max(v, sk->min), sk->max);
}

/*
 * The estimate of percentile_cont(fraction), fraction in [0, 1]: like
 * percentile_cont, the values of ranks floor and ceil of
 * fraction * (count - 1), interpolated.
 */
static double
SketchQuantile(const LatencySketch *sk, const SketchMapping *m, double fraction)
{
	double pos = fraction * (sk->count - 1);
	double lo = RankValue(sk, m, (int64) floor(pos));
	double hi;

	if (ceil(pos) == floor(pos))
		return lo;
	hi = RankValue(sk, m, (int64) ceil(pos));
	return lo + ((pos - floor(pos)) * (hi - lo));
}

/* quantile(sketch, fraction): the estimate of percentile_cont(fraction). */
Datum
loomlat_sketch_quantile(PG_FUNCTION_ARGS)
{
	const LatencySketch *sk = PG_GETARG_SKETCH_P(0);
	double fraction = PG_GETARG_FLOAT8(1);
	SketchMapping m;

	LoomlatCheckFraction(fraction);
	MappingInit(&m, sk->alpha);
	PG_RETURN_FLOAT8(SketchQuantile(sk, &m, fraction));
}

/* quantiles(sketch, fractions[]): an array of the fractions' shape, NULL for NULL. */
Datum
loomlat_sketch_quantiles(PG_FUNCTION_ARGS)
{
	const LatencySketch *sk = PG_GETARG_SKETCH_P(0);
	ArrayType *fractions = PG_GETARG_ARRAYTYPE_P(1);
	SketchMapping m;
	Datum *values;
	bool *nulls;
	int n;

	if (ARR_ELEMTYPE(fractions) != FLOAT8OID)
		elog(ERROR, "quantile fractions must be float8[], not type %u", ARR_ELEMTYPE(fractions));
	if (ARR_NDIM(fractions) == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));
	deconstruct_array(fractions, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
	                  &values, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			LoomlatCheckFraction(DatumGetFloat8(values[i]));
	MappingInit(&m, sk->alpha);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			values[i] = Float8GetDatum(SketchQuantile(sk, &m, DatumGetFloat8(values[i])));
	PG_RETURN_ARRAYTYPE_P(construct_md_array(values, nulls, ARR_NDIM(fractions),
	                                         ARR_DIMS(fractions), ARR_LBOUND(fractions), FLOAT8OID,
	                                         sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* sketch_count(sketch): the exact number of values. */
Datum
loomlat_sketch_count(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_SKETCH_P(0)->count);
}

/* sketch_mean(sketch): the mean of the values, from the exact sum. */
Datum
loomlat_sketch_mean(PG_FUNCTION_ARGS)
{
	const LatencySketch *sk = PG_GETARG_SKETCH_P(0);

	PG_RETURN_FLOAT8(SumValue(sk->sum) / sk->count);
}

/* sketch_min(sketch): the exact smallest value. */
Datum
loomlat_sketch_min(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(PG_GETARG_SKETCH_P(0)->min);
}

/* sketch_max(sketch): the exact largest value. */
Datum
loomlat_sketch_max(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(PG_GETARG_SKETCH_P(0)->max);
}

/* sketch_relative_accuracy(sketch): its alpha. */
Datum
loomlat_sketch_relative_accuracy(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(PG_GETARG_SKETCH_P(0)->alpha);
}
