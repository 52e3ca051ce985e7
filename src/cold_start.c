/*
 * cold_start.c
 *	  Cold-start classification: the rule, the setting's value, and the
 *	  trigger that keeps was_cold_start right.
 *
 * The rule (a latency strictly above the threshold is a cold start) is
 * IsColdStart() and nowhere else: loomlat.is_cold_start() exposes it to SQL
 * and the trigger applies it when a row is written or its latency changes,
 * so a summary's what-if threshold and the stored flag can never disagree
 * about what the threshold means.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "loomlat.h"

PG_FUNCTION_INFO_V1(loomlat_cold_start_threshold);
PG_FUNCTION_INFO_V1(loomlat_is_cold_start);
PG_FUNCTION_INFO_V1(loomlat_is_cold_start_threshold);
PG_FUNCTION_INFO_V1(loomlat_classify_cold_start);

/* Reject a latency that is not a finite number of milliseconds. */
static void
CheckFiniteMs(double value, const char *what)
{
	if (isnan(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
		                errmsg("%s must be a number of milliseconds, not NaN", what)));
	if (isinf(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
		                errmsg("%s must be a finite number of milliseconds, not %s", what,
		                       value > 0 ? "Infinity" : "-Infinity")));
}

/* Reject a threshold outside the range the setting itself accepts. */
static void
CheckThreshold(double threshold_ms)
{
	if (isnan(threshold_ms) || threshold_ms < 0 ||
	    threshold_ms > LOOMLAT_MAX_COLD_START_THRESHOLD_MS)
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		         errmsg("cold-start threshold must be between 0 and %.0f ms, not %s",
		                LOOMLAT_MAX_COLD_START_THRESHOLD_MS, float8out_internal(threshold_ms))));
}

/* The rule: a cold start is a latency strictly above the threshold. */
static bool
IsColdStart(double latency_ms, double threshold_ms)
{
	CheckFiniteMs(latency_ms, "cold_start_latency_ms");
	return latency_ms > threshold_ms;
}

/* Current value of loomlat.cold_start_threshold_ms, in milliseconds. */
Datum
loomlat_cold_start_threshold(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(loomlat_cold_start_threshold_ms);
}

/* is_cold_start(latency): classify against the setting. */
Datum
loomlat_is_cold_start(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(IsColdStart(PG_GETARG_FLOAT8(0), loomlat_cold_start_threshold_ms));
}

/* is_cold_start(latency, threshold): classify against an explicit threshold. */
Datum
loomlat_is_cold_start_threshold(PG_FUNCTION_ARGS)
{
	double threshold_ms = PG_GETARG_FLOAT8(1);

	CheckThreshold(threshold_ms);
	PG_RETURN_BOOL(IsColdStart(PG_GETARG_FLOAT8(0), threshold_ms));
}

/* Convert a numeric column value to double, whatever its numeric type. */
static double
DatumGetMs(Datum value, Oid typid)
{
	switch (typid)
	{
		case FLOAT8OID:
			return DatumGetFloat8(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, value));
		default:
			ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
			                errmsg("column type %s is not a number of milliseconds",
			                       format_type_be(typid))));
	}
	pg_unreachable();
}

/* Find a column by name; 0 when the table has none (or it was dropped). */
static int
ColumnNumber(TupleDesc tupdesc, const char *name)
{
	int attnum = SPI_fnumber(tupdesc, name);

	return attnum > 0 ? attnum : 0;
}

/* Read a millisecond column of a tuple; false when it is NULL. */
static bool
GetMsColumn(HeapTuple tuple, TupleDesc tupdesc, int attnum, double *value)
{
	bool isnull;
	Datum datum = heap_getattr(tuple, attnum, tupdesc, &isnull);

	if (isnull)
		return false;
	*value = DatumGetMs(datum, TupleDescAttr(tupdesc, attnum - 1)->atttypid);
	return true;
}

/* Reject NaN and infinite values in an optional millisecond column. */
static void
CheckOptionalMsColumn(HeapTuple tuple, TupleDesc tupdesc, const char *name)
{
	int attnum = ColumnNumber(tupdesc, name);
	double value;

	if (attnum != 0 && GetMsColumn(tuple, tupdesc, attnum, &value))
		CheckFiniteMs(value, name);
}

/*
 * BEFORE INSERT OR UPDATE OF cold_start_latency_ms ... FOR EACH ROW trigger:
 * set was_cold_start from cold_start_latency_ms and the setting.  On UPDATE
 * the row is reclassified only when the latency really changed, so a later
 * status update never reclassifies under a different threshold.
 */
Datum
loomlat_classify_cold_start(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc tupdesc;
	HeapTuple tuple;
	int latency_att;
	int flag_att;
	double latency = 0;
	bool has_latency;
	Datum flag;
	bool flag_isnull;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
		                errmsg("classify_cold_start() must be called as a trigger")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
	    !(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
	      TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(
		    ERROR,
		    (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
		     errmsg("classify_cold_start() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple
	                                                    : trigdata->tg_trigtuple;

	latency_att = ColumnNumber(tupdesc, "cold_start_latency_ms");
	flag_att = ColumnNumber(tupdesc, "was_cold_start");
	if (latency_att == 0 || flag_att == 0)
		ereport(ERROR,
		        (errcode(ERRCODE_UNDEFINED_COLUMN),
		         errmsg("table \"%s\" needs columns cold_start_latency_ms and was_cold_start",
		                RelationGetRelationName(trigdata->tg_relation)),
		         errhint("Use loomlat.track() to prepare a table for this trigger.")));
	if (TupleDescAttr(tupdesc, flag_att - 1)->atttypid != BOOLOID)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
		                errmsg("column was_cold_start of table \"%s\" must be boolean",
		                       RelationGetRelationName(trigdata->tg_relation))));

	CheckOptionalMsColumn(tuple, tupdesc, "ttft_ms");
	CheckOptionalMsColumn(tuple, tupdesc, "client_duration_ms");
	has_latency = GetMsColumn(tuple, tupdesc, latency_att, &latency);
	if (has_latency)
		CheckFiniteMs(latency, "cold_start_latency_ms");

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		double old_latency = 0;
		bool had_latency = GetMsColumn(trigdata->tg_trigtuple, tupdesc, latency_att, &old_latency);

		if (had_latency == has_latency && (!has_latency || old_latency == latency))
			return PointerGetDatum(tuple);
	}

	flag_isnull = !has_latency;
	flag = BoolGetDatum(has_latency && IsColdStart(latency, loomlat_cold_start_threshold_ms));
	return PointerGetDatum(
	    heap_modify_tuple_by_cols(tuple, tupdesc, 1, &flag_att, &flag, &flag_isnull));
}
