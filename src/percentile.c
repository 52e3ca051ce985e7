/*
 * percentile.c
 *	  Exact percentile aggregates that select instead of sorting.
 *
 * loomlat.percentile(v, fraction), loomlat.percentiles(v, fractions[]) and
 * loomlat.latency_percentiles(v) return what
 * percentile_cont(...) WITHIN GROUP (ORDER BY v) returns, bit for bit, but
 * are plain aggregates: they hash-group, take FILTER and run in parallel.
 *
 * The state keeps every non-NULL value in a ValueArray (8 bytes a value plus
 * growth slack, huge allocations beyond 1 GB); the final functions select
 * with PercentileCompute() (percentile_select.c).  Selection reorders the
 * values but never changes them, so the state stays valid for more rows and
 * more final calls (a window frame that grows): the aggregates are
 * FINALFUNC_MODIFY = READ_ONLY, and a test runs them as window functions.
 *
 * loomlat.percentiles_by_class(v, fractions[], cold) splits the same values
 * by cold-start class: one transition a row gives the count, sum and
 * percentiles of all rows, of the cold (true) and of the warm (false) ones,
 * where percentiles per class and a GROUP BY would scan twice.  Rows whose
 * class is NULL count in "all" only.  With NULL fractions no value is kept:
 * counts and sums alone.
 *
 * The fractions are an aggregated argument here, not a direct one: they are
 * read on a group's first row, compared on later rows unless the argument is
 * a constant, and compared again when states combine.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "loomlat.h"
#include "percentile.h"
#include "value_array.h"
#include "wire.h"

/* Magic words of serialized states: "LLP", format version 2; "LLC", version 1. */
#define PERCENTILE_WIRE_MAGIC WIRE_MAGIC('L', 'L', 'P', 2)
#define CLASS_WIRE_MAGIC      WIRE_MAGIC('L', 'L', 'C', 1)

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

/* What every state of this file starts with: the group's fractions. */
typedef struct FractionsHead
{
	const PercentileFractions *fractions; /* NULL when the argument was NULL */
	bool check_rows;                      /* the argument may vary: compare every row */
} FractionsHead;

/* Transition state: the group's fractions and non-NULL values. */
typedef struct PercentileState
{
	FractionsHead head;
	ValueArray values;
} PercentileState;

/* The cold-start classes of percentiles_by_class, by their row's cold flag. */
typedef enum RowClass
{
	ROW_COLD,
	ROW_WARM,
	ROW_UNKNOWN,
	ROW_NCLASSES
} RowClass;

/* One class's rows, its non-NULL values' count and sum, and the values when kept. */
typedef struct ClassPart
{
	int64 rows;
	int64 count;
	double sum;
	ValueArray values;
} ClassPart;

/* The columns of loomlat.class_percentiles: class, rows, count, sum, percentiles. */
#define CLASS_NATTS 5

/* percentiles_by_class state: the parts by class (no values kept when the
 * fractions are NULL), and the sum of all values in row order. */
typedef struct ClassState
{
	FractionsHead head;
	double sum_all;
	ClassPart part[ROW_NCLASSES];
} ClassState;

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
PG_FUNCTION_INFO_V1(loomlat_percentiles_by_class_transfn);
PG_FUNCTION_INFO_V1(loomlat_percentiles_by_class_combine);
PG_FUNCTION_INFO_V1(loomlat_percentiles_by_class_serialize);
PG_FUNCTION_INFO_V1(loomlat_percentiles_by_class_deserialize);
PG_FUNCTION_INFO_V1(loomlat_percentiles_by_class_final);

/* Allocates empty fractions of the given count in mcxt. */
static PercentileFractions *
FractionsAlloc(MemoryContext mcxt, int nitems)
{
	PercentileFractions *f = MemoryContextAllocZero(mcxt, FRACTIONS_SIZE(nitems));

	f->nitems = nitems;
	return f;
}

/* A copy of f (or NULL) in mcxt. */
static const PercentileFractions *
FractionsCopy(const PercentileFractions *f, MemoryContext mcxt)
{
	PercentileFractions *copy;

	if (f == NULL)
		return NULL;
	copy = MemoryContextAlloc(mcxt, FRACTIONS_SIZE(f->nitems));
	memcpy(copy, f, FRACTIONS_SIZE(f->nitems));
	return copy;
}

/* Copies a float8 array, its shape and its NULL entries into mcxt. */
static PercentileFractions *
FractionsFromArray(ArrayType *array, MemoryContext mcxt)
{
	int nitems = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	PercentileFractions *f = FractionsAlloc(mcxt, nitems);
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
ReadScalarFraction(FunctionCallInfo fcinfo, MemoryContext mcxt)
{
	PercentileFractions *f;

	if (PG_ARGISNULL(2))
		return NULL;
	f = FractionsAlloc(mcxt, 1);
	f->ndim = 1;
	f->dims[0] = 1;
	f->lbs[0] = 1;
	f->value[0] = PG_GETARG_FLOAT8(2);
	return f;
}

/* Reads the float8[] fractions of loomlat.percentiles. */
static PercentileFractions *
ReadArrayFractions(FunctionCallInfo fcinfo, MemoryContext mcxt)
{
	if (PG_ARGISNULL(2))
		return NULL;
	return FractionsFromArray(PG_GETARG_ARRAYTYPE_P(2), mcxt);
}

/* The fixed fractions of loomlat.latency_percentiles: {0.5, 0.95, 0.99}. */
static PercentileFractions *
ReadLatencyFractions(FunctionCallInfo fcinfo, MemoryContext mcxt)
{
	static const double latency[] = {0.5, 0.95, 0.99};
	PercentileFractions *f = FractionsAlloc(mcxt, lengthof(latency));

	f->ndim = 1;
	f->dims[0] = lengthof(latency);
	f->lbs[0] = 1;
	memcpy(f->value, latency, sizeof(latency));
	return f;
}

/* True when two fraction sets (either may be NULL) ask the same question. */
static bool
FractionsEqual(const PercentileFractions *a, const PercentileFractions *b)
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
FractionsMismatch(void)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
	                errmsg("percentile fractions must be the same for every row of a group"),
	                errhint("Pass the fractions as a constant or an expression of the grouping "
	                        "columns.")));
}

/*
 * A group's fractions, read on its first row: once per query into fn_extra
 * when the argument is constant (*check_rows false), else into aggcontext.
 */
static const PercentileFractions *
FractionsBegin(FunctionCallInfo fcinfo, MemoryContext aggcontext, FractionsReader read,
               bool *check_rows)
{
	FractionsCache *cache = fcinfo->flinfo->fn_extra;

	*check_rows = PG_NARGS() >= 3 && !LoomlatArgIsStable(fcinfo, 1);
	if (*check_rows)
		return read(fcinfo, aggcontext);
	if (cache == NULL)
	{
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FractionsCache));
		cache->fractions = read(fcinfo, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache->fractions;
}

/* On a group's later rows: the row's fractions must be the group's. */
static void
FractionsCheckRow(FunctionCallInfo fcinfo, FractionsReader read, const PercentileFractions *group)
{
	if (!FractionsEqual(group, read(fcinfo, CurrentMemoryContext)))
		FractionsMismatch();
}

/* Shared transition: create or check the state, then append a non-NULL value. */
static Datum
PercentileAccum(FunctionCallInfo fcinfo, FractionsReader read, const char *fname)
{
	MemoryContext aggcontext = LoomlatAggContext(fcinfo, fname);
	PercentileState *state;

	if (PG_ARGISNULL(0))
	{
		state = MemoryContextAllocZero(aggcontext, sizeof(PercentileState));
		state->head.fractions = FractionsBegin(fcinfo, aggcontext, read, &state->head.check_rows);
	}
	else
	{
		state = (PercentileState *) PG_GETARG_POINTER(0);
		if (state->head.check_rows)
			FractionsCheckRow(fcinfo, read, state->head.fractions);
	}

	if (!PG_ARGISNULL(1))
		ValueArrayPush(&state->values, PG_GETARG_FLOAT8(1), aggcontext);
	PG_RETURN_POINTER(state);
}

/* percentile(value float8, fraction float8) transition. */
Datum
loomlat_percentile_transfn(PG_FUNCTION_ARGS)
{
	return PercentileAccum(fcinfo, ReadScalarFraction, "loomlat_percentile_transfn");
}

/* percentiles(value float8, fractions float8[]) transition. */
Datum
loomlat_percentiles_transfn(PG_FUNCTION_ARGS)
{
	return PercentileAccum(fcinfo, ReadArrayFractions, "loomlat_percentiles_transfn");
}

/* latency_percentiles(value float8) transition. */
Datum
loomlat_latency_percentiles_transfn(PG_FUNCTION_ARGS)
{
	return PercentileAccum(fcinfo, ReadLatencyFractions, "loomlat_latency_percentiles_transfn");
}

/* An empty state of size bytes in mcxt with the fractions of src, whose state starts with a head.
 */
static void *
HeadEmptyLike(const void *src, Size size, MemoryContext mcxt)
{
	const FractionsHead *from = src;
	FractionsHead *head = MemoryContextAllocZero(mcxt, size);

	head->fractions = FractionsCopy(from->fractions, mcxt);
	head->check_rows = from->check_rows;
	return head;
}

/* CombineOps of every state here: both must have the same fractions. */
static void
HeadCheckSame(const void *dst, const void *src)
{
	if (!FractionsEqual(((const FractionsHead *) dst)->fractions,
	                    ((const FractionsHead *) src)->fractions))
		FractionsMismatch();
}

/* CombineOps: an empty state with src's fractions. */
static void *
StateEmptyLike(const void *src, MemoryContext mcxt)
{
	return HeadEmptyLike(src, sizeof(PercentileState), mcxt);
}

/* CombineOps: appends the values of src. */
static void
StateAbsorb(void *dst, const void *src, MemoryContext mcxt)
{
	const ValueArray *from = &((const PercentileState *) src)->values;

	ValueArrayAppend(&((PercentileState *) dst)->values, from->values, from->count, mcxt);
}

static const CombineOps percentile_combine_ops = {StateEmptyLike, HeadCheckSame, StateAbsorb};

/* Combines two partial states into the first. */
Datum
loomlat_percentile_combine(PG_FUNCTION_ARGS)
{
	return LoomlatCombine(fcinfo, "loomlat_percentile_combine", &percentile_combine_ops);
}

/* Puts fractions on the wire: their count (-1 for NULL), shape, values and null flags. */
static void
FractionsWrite(WireWriter *w, const PercentileFractions *f)
{
	WirePutInt32(w, f ? f->nitems : -1);
	if (f == NULL)
		return;
	WirePutInt32(w, f->ndim);
	WirePutArray(w, f->dims, f->ndim, sizeof(int));
	WirePutArray(w, f->lbs, f->ndim, sizeof(int));
	WirePutArray(w, f->value, f->nitems, sizeof(double));
	WirePutArray(w, FRACTIONS_ISNULL(f), f->nitems, sizeof(bool));
}

/* Serializes a state: its fractions, then the value count and the values. */
Datum
loomlat_percentile_serialize(PG_FUNCTION_ARGS)
{
	PercentileState *state;
	WireWriter w;

	LoomlatAggContext(fcinfo, "loomlat_percentile_serialize");
	state = (PercentileState *) PG_GETARG_POINTER(0);
	WireWriterBegin(&w, PERCENTILE_WIRE_MAGIC, "percentile");
	FractionsWrite(&w, state->head.fractions);
	WirePutInt64(&w, state->values.count);
	WirePutArray(&w, state->values.values, state->values.count, sizeof(double));
	PG_RETURN_BYTEA_P(WireWriterEnd(&w));
}

/* Reads and validates serialized fractions; NULL when none were sent. */
static const PercentileFractions *
FractionsRead(WireReader *r)
{
	int32 nitems = WireGetInt32(r);
	PercentileFractions *f;
	const bool *isnull;
	int64 product = 1;

	if (nitems == -1)
		return NULL;
	if (nitems < 0 || nitems > (int32) MaxArraySize ||
	    (Size) nitems > WireRemaining(r) / (sizeof(double) + sizeof(bool)))
		WireCorrupt(r, "fraction count is out of range");
	f = FractionsAlloc(CurrentMemoryContext, nitems);
	f->ndim = WireGetInt32(r);
	if (f->ndim < 0 || f->ndim > MAXDIM)
		WireCorrupt(r, "fraction array has an invalid number of dimensions");
	memcpy(f->dims, WireGetArray(r, f->ndim, sizeof(int)), f->ndim * sizeof(int));
	memcpy(f->lbs, WireGetArray(r, f->ndim, sizeof(int)), f->ndim * sizeof(int));
	for (int d = 0; d < f->ndim; d++)
	{
		if (f->dims[d] <= 0 || (int64) f->lbs[d] + f->dims[d] - 1 > PG_INT32_MAX)
			WireCorrupt(r, "fraction array bounds are invalid");
		product *= f->dims[d];
		if (product > (int64) MaxArraySize)
			WireCorrupt(r, "fraction array is too large");
	}
	if ((f->ndim == 0 ? 0 : product) != nitems)
		WireCorrupt(r, "fraction array dimensions do not match its count");
	memcpy(f->value, WireGetArray(r, nitems, sizeof(double)), nitems * sizeof(double));
	isnull = WireGetArray(r, nitems, sizeof(bool));
	for (int i = 0; i < nitems; i++)
	{
		if (((const unsigned char *) isnull)[i] > 1)
			WireCorrupt(r, "fraction null flag is invalid");
		FRACTIONS_ISNULL(f)[i] = isnull[i];
	}
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
	PercentileState *state;
	WireReader r;

	LoomlatAggContext(fcinfo, "loomlat_percentile_deserialize");
	WireReaderBegin(&r, PG_GETARG_BYTEA_PP(0), PERCENTILE_WIRE_MAGIC, "percentile");
	state = palloc0(sizeof(PercentileState));
	state->head.fractions = FractionsRead(&r);
	state->values.count = WireGetCount(&r, PG_INT64_MAX);
	state->values.capacity = state->values.count;
	state->values.values = (double *) WireGetArray(&r, state->values.count, sizeof(double));
	WireReaderEnd(&r);
	PG_RETURN_POINTER(state);
}

/* percentile(value, fraction) final: percentile_cont(fraction). */
Datum
loomlat_percentile_final(PG_FUNCTION_ARGS)
{
	PercentileState *state;
	double result;

	LoomlatAggContext(fcinfo, "loomlat_percentile_final");
	state = (PercentileState *) PG_GETARG_POINTER(0);

	/* like percentile_cont: a NULL fraction gives NULL, a bad one fails first */
	if (state->head.fractions == NULL)
		PG_RETURN_NULL();
	if (state->head.fractions->nitems != 1)
		elog(ERROR, "percentile state holds %d fractions, not 1", state->head.fractions->nitems);
	LoomlatCheckFraction(state->head.fractions->value[0]);
	if (state->values.count == 0)
		PG_RETURN_NULL();

	PercentileCompute(state->values.values, state->values.count, state->head.fractions->value, 1,
	                  &result);
	PG_RETURN_FLOAT8(result);
}

/*
 * percentile_cont(f) over v[0..count) as an array of f's shape; NULL (with
 * *isnull) when there are no values or no fractions.  Reorders v.
 */
static Datum
PercentilesDatum(double *v, int64 count, const PercentileFractions *f, bool *isnull)
{
	double *wanted;
	double *result;
	Datum *datums;
	int nwanted = 0;

	*isnull = count == 0 || f == NULL;
	if (*isnull)
		return (Datum) 0;
	if (f->nitems == 0)
		return PointerGetDatum(construct_empty_array(FLOAT8OID));

	wanted = palloc(mul_size(f->nitems, sizeof(double)));
	result = palloc(mul_size(f->nitems, sizeof(double)));
	datums = palloc0(mul_size(f->nitems, sizeof(Datum)));
	for (int i = 0; i < f->nitems; i++)
	{
		if (FRACTIONS_ISNULL(f)[i])
			continue;
		LoomlatCheckFraction(f->value[i]);
		wanted[nwanted++] = f->value[i];
	}
	if (nwanted > 0)
		PercentileCompute(v, count, wanted, nwanted, result);
	for (int i = 0, w = 0; i < f->nitems; i++)
		if (!FRACTIONS_ISNULL(f)[i])
			datums[i] = Float8GetDatum(result[w++]);

	return PointerGetDatum(construct_md_array(datums, FRACTIONS_ISNULL(f), f->ndim, (int *) f->dims,
	                                          (int *) f->lbs, FLOAT8OID, sizeof(float8),
	                                          FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* percentiles and latency_percentiles final: percentile_cont(fractions[]). */
Datum
loomlat_percentiles_final(PG_FUNCTION_ARGS)
{
	PercentileState *state;
	Datum result;
	bool isnull;

	LoomlatAggContext(fcinfo, "loomlat_percentiles_final");
	state = (PercentileState *) PG_GETARG_POINTER(0);

	/* like percentile_cont: no values, or NULL fractions, give NULL */
	result =
	    PercentilesDatum(state->values.values, state->values.count, state->head.fractions, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* percentiles_by_class(value, fractions, cold) transition. */
Datum
loomlat_percentiles_by_class_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = LoomlatAggContext(fcinfo, "loomlat_percentiles_by_class_transfn");
	ClassState *state;
	ClassPart *part;

	if (PG_ARGISNULL(0))
	{
		state = MemoryContextAllocZero(aggcontext, sizeof(ClassState));
		state->head.fractions =
		    FractionsBegin(fcinfo, aggcontext, ReadArrayFractions, &state->head.check_rows);
	}
	else
	{
		state = (ClassState *) PG_GETARG_POINTER(0);
		if (state->head.check_rows)
			FractionsCheckRow(fcinfo, ReadArrayFractions, state->head.fractions);
	}

	part = &state->part[PG_ARGISNULL(3) ? ROW_UNKNOWN : PG_GETARG_BOOL(3) ? ROW_COLD : ROW_WARM];
	part->rows++;
	if (!PG_ARGISNULL(1))
	{
		double value = PG_GETARG_FLOAT8(1);

		part->count++;
		part->sum += value;
		state->sum_all += value;
		if (state->head.fractions != NULL)
			ValueArrayPush(&part->values, value, aggcontext);
	}
	PG_RETURN_POINTER(state);
}

/* CombineOps: an empty state with src's fractions. */
static void *
ClassStateEmptyLike(const void *src, MemoryContext mcxt)
{
	return HeadEmptyLike(src, sizeof(ClassState), mcxt);
}

/* CombineOps: adds the rows, counts, sums and values of src, class by class. */
static void
ClassStateAbsorb(void *dst, const void *src, MemoryContext mcxt)
{
	ClassState *to = dst;
	const ClassState *from = src;

	to->sum_all += from->sum_all;
	for (int c = 0; c < ROW_NCLASSES; c++)
	{
		to->part[c].rows += from->part[c].rows;
		to->part[c].count += from->part[c].count;
		to->part[c].sum += from->part[c].sum;
		ValueArrayAppend(&to->part[c].values, from->part[c].values.values,
		                 from->part[c].values.count, mcxt);
	}
}

static const CombineOps class_combine_ops = {ClassStateEmptyLike, HeadCheckSame, ClassStateAbsorb};

/* Combines two partial percentiles_by_class states into the first. */
Datum
loomlat_percentiles_by_class_combine(PG_FUNCTION_ARGS)
{
	return LoomlatCombine(fcinfo, "loomlat_percentiles_by_class_combine", &class_combine_ops);
}

/* Serializes a state: fractions, the sum of all values, then per class rows, count, sum, values. */
Datum
loomlat_percentiles_by_class_serialize(PG_FUNCTION_ARGS)
{
	ClassState *state;
	WireWriter w;

	LoomlatAggContext(fcinfo, "loomlat_percentiles_by_class_serialize");
	state = (ClassState *) PG_GETARG_POINTER(0);
	WireWriterBegin(&w, CLASS_WIRE_MAGIC, "percentiles_by_class");
	FractionsWrite(&w, state->head.fractions);
	WirePutArray(&w, &state->sum_all, 1, sizeof(double));
	for (int c = 0; c < ROW_NCLASSES; c++)
	{
		const ClassPart *part = &state->part[c];

		WirePutInt64(&w, part->rows);
		WirePutInt64(&w, part->count);
		WirePutArray(&w, &part->sum, 1, sizeof(double));
		WirePutArray(&w, part->values.values, part->values.count, sizeof(double));
	}
	PG_RETURN_BYTEA_P(WireWriterEnd(&w));
}

/*
 * Rebuilds a state from its serialized form: counts within 0 <= count <=
 * rows, rows whose sum over the classes fits an int64 (the class "all"),
 * and exactly count values when the fractions keep them, else none.  Values
 * are used in place, as in percentile_deserialize.
 */
Datum
loomlat_percentiles_by_class_deserialize(PG_FUNCTION_ARGS)
{
	ClassState *state;
	WireReader r;
	int64 rows = 0;

	LoomlatAggContext(fcinfo, "loomlat_percentiles_by_class_deserialize");
	WireReaderBegin(&r, PG_GETARG_BYTEA_PP(0), CLASS_WIRE_MAGIC, "percentiles_by_class");
	state = palloc0(sizeof(ClassState));
	state->head.fractions = FractionsRead(&r);
	memcpy(&state->sum_all, WireGetArray(&r, 1, sizeof(double)), sizeof(double));
	for (int c = 0; c < ROW_NCLASSES; c++)
	{
		ClassPart *part = &state->part[c];
		int64 nvalues;

		part->rows = WireGetCount(&r, PG_INT64_MAX - rows);
		rows += part->rows;
		part->count = WireGetCount(&r, part->rows);
		memcpy(&part->sum, WireGetArray(&r, 1, sizeof(double)), sizeof(double));
		nvalues = state->head.fractions != NULL ? part->count : 0;
		part->values.count = part->values.capacity = nvalues;
		part->values.values = (double *) WireGetArray(&r, nvalues, sizeof(double));
	}
	WireReaderEnd(&r);
	PG_RETURN_POINTER(state);
}

/* One loomlat.class_percentiles value: class, rows, count, sum and percentiles of v. */
static Datum
ClassDatum(TupleDesc tupdesc, const char *name, int64 rows, int64 count, double sum, double *v,
           const PercentileFractions *f)
{
	Datum values[CLASS_NATTS];
	bool nulls[CLASS_NATTS] = {false, false, false, count == 0, false};

	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum(rows);
	values[2] = Int64GetDatum(count);
	values[3] = Float8GetDatum(sum);
	values[4] = PercentilesDatum(v, count, f, &nulls[4]);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * percentiles_by_class final: the classes all, cold and warm.  The values
 * are copied once, cold first, then warm, then unknown: each class is
 * selected in its segment, then all of them together.
 */
Datum
loomlat_percentiles_by_class_final(PG_FUNCTION_ARGS)
{
	ClassState *state;
	const ClassPart *cold;
	const ClassPart *warm;
	const ClassPart *unknown;
	Oid elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	TupleDesc tupdesc;
	ValueArray all = {0};
	Datum classes[3];
	int16 typlen;
	bool typbyval;
	char typalign;

	LoomlatAggContext(fcinfo, "loomlat_percentiles_by_class_final");
	state = (ClassState *) PG_GETARG_POINTER(0);
	cold = &state->part[ROW_COLD];
	warm = &state->part[ROW_WARM];
	unknown = &state->part[ROW_UNKNOWN];
	if (!OidIsValid(elemtype))
		elog(ERROR, "percentiles_by_class must return an array of loomlat.class_percentiles");
	tupdesc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(elemtype, -1));
	if (tupdesc->natts != CLASS_NATTS)
		elog(ERROR, "loomlat.class_percentiles must have %d columns", CLASS_NATTS);

	for (int c = 0; c < ROW_NCLASSES; c++)
		ValueArrayAppend(&all, state->part[c].values.values, state->part[c].values.count,
		                 CurrentMemoryContext);
	classes[1] = ClassDatum(tupdesc, "cold", cold->rows, cold->count, cold->sum, all.values,
	                        state->head.fractions);
	classes[2] = ClassDatum(tupdesc, "warm", warm->rows, warm->count, warm->sum,
	                        all.values + cold->values.count, state->head.fractions);
	classes[0] = ClassDatum(tupdesc, "all", cold->rows + warm->rows + unknown->rows,
	                        cold->count + warm->count + unknown->count, state->sum_all, all.values,
	                        state->head.fractions);

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(
	    construct_array(classes, lengthof(classes), elemtype, typlen, typbyval, typalign));
}
