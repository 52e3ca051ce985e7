/*
 * loomlat.c - module entry point and settings.
 */
#include "postgres.h"

#include "fmgr.h"
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
loomlat_agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("%s called in non-aggregate context", fname)));
	return aggcontext;
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
