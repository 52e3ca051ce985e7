/*
 * loomlat.c
 *	  Module entry point, settings, and the helpers every aggregate shares.
 *
 * The helpers live here rather than in each aggregate's file so that every
 * aggregate checks its calling context, judges a per-group argument and
 * combines partial states the same way (see loomlat.h).
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "nodes/primnodes.h"
#include "utils/guc.h"

#include "loomlat.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

double loomlat_cold_start_threshold_ms = LOOMLAT_DEFAULT_COLD_START_THRESHOLD_MS;

/*
 * The aggregate's memory context, where transition states live.  Every
 * support function of the aggregates calls this, so none of them can be
 * called with a forged state from outside an aggregate.
 */
MemoryContext
LoomlatAggContext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("%s called in non-aggregate context", fname)));
	return aggcontext;
}

/*
 * True when aggregated argument argno (0-based, the state excluded) is a
 * constant or an external parameter: then it is the same for every row and
 * a transition function may read it once per query.
 */
bool
LoomlatArgIsStable(FunctionCallInfo fcinfo, int argno)
{
	Aggref *aggref = AggGetAggref(fcinfo);
	Node *expr;

	if (aggref == NULL || list_length(aggref->args) <= argno)
		return false;
	expr = (Node *) ((TargetEntry *) list_nth(aggref->args, argno))->expr;
	return IsA(expr, Const) || (IsA(expr, Param) && ((Param *) expr)->paramkind == PARAM_EXTERN);
}

/*
 * The one combine skeleton: a NULL source leaves the destination as it is
 * (NULL when both are); a NULL destination becomes an empty state like the
 * source in the aggregate context; otherwise both must have been built with
 * the same parameters.  Then the source's rows are added to the destination.
 */
Datum
LoomlatCombine(FunctionCallInfo fcinfo, const char *fname, const CombineOps *ops)
{
	MemoryContext aggcontext = LoomlatAggContext(fcinfo, fname);
	void *dst = PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0);
	void *src = PG_ARGISNULL(1) ? NULL : PG_GETARG_POINTER(1);

	if (src == NULL)
	{
		if (dst == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(dst);
	}
	if (dst == NULL)
		dst = ops->empty_like(src, aggcontext);
	else
		ops->check_same(dst, src);
	ops->absorb(dst, src, aggcontext);
	PG_RETURN_POINTER(dst);
}

/*
 * Define the settings.  The threshold is PGC_SUSET: ops set it in
 * postgresql.conf or with ALTER SYSTEM / DATABASE / ROLE (or GRANT SET), so
 * two writers cannot classify the same latency differently by accident.
 */
void
_PG_init(void)
{
	DefineCustomRealVariable(
	    "loomlat.cold_start_threshold_ms",
	    "Cold-start latency above which an invocation is a cold start.",
	    "Compared with invocations.cold_start_latency_ms when a row is "
	    "written or its latency changes.",
	    &loomlat_cold_start_threshold_ms, LOOMLAT_DEFAULT_COLD_START_THRESHOLD_MS, 0.0,
	    LOOMLAT_MAX_COLD_START_THRESHOLD_MS, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	MarkGUCPrefixReserved("loomlat");
}

/* percentile_cont's own check and message, for every fraction argument. */
void
LoomlatCheckFraction(double fraction)
{
	if (fraction < 0 || fraction > 1 || isnan(fraction))
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
		                errmsg("percentile value %g is not between 0 and 1", fraction)));
}
