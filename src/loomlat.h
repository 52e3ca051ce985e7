/*
 * loomlat.h
 *	  What every C file of the extension shares: the module's settings and
 *	  the helpers all of its aggregates use.
 *
 * Every aggregate support function first calls LoomlatAggContext(), so none
 * of them runs on a forged state outside an aggregate.  A transition function
 * that must see the same argument on every row asks LoomlatArgIsStable()
 * whether the planner can vouch for it.  Every combine function is
 * LoomlatCombine() over a CombineOps that knows one kind of state.
 *
 * Naming: functions callable from SQL are snake_case and start with
 * loomlat_ (their names are bound by the install scripts and never change);
 * every other C function is CamelCase.
 */
#ifndef LOOMLAT_H
#define LOOMLAT_H

#include "fmgr.h"

/* loomlat.cold_start_threshold_ms: latencies above it are cold starts */
#define LOOMLAT_DEFAULT_COLD_START_THRESHOLD_MS 500.0
#define LOOMLAT_MAX_COLD_START_THRESHOLD_MS     86400000.0 /* one day */

extern double loomlat_cold_start_threshold_ms;

/* How LoomlatCombine() merges one kind of transition state. */
typedef struct CombineOps
{
	/* an empty state in mcxt, built with src's parameters (copied into mcxt) */
	void *(*empty_like)(const void *src, MemoryContext mcxt);
	/* raises an error unless dst and src were built with the same parameters */
	void (*check_same)(const void *dst, const void *src);
	/* adds the rows of src to dst, allocating in mcxt */
	void (*absorb)(void *dst, const void *src, MemoryContext mcxt);
} CombineOps;

/* The aggregate's memory context; an error when fname is not called as an aggregate. */
extern MemoryContext LoomlatAggContext(FunctionCallInfo fcinfo, const char *fname);

/* True when aggregated argument argno (0-based) cannot change during this execution. */
extern bool LoomlatArgIsStable(FunctionCallInfo fcinfo, int argno);

/* Raises percentile_cont's error for a fraction outside [0, 1] (or NaN). */
extern void LoomlatCheckFraction(double fraction);

/* A combine function: the rows of argument 1 added to argument 0, NULLs handled. */
extern Datum LoomlatCombine(FunctionCallInfo fcinfo, const char *fname, const CombineOps *ops);

#endif
