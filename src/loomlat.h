/*
 * loomlat.h - what the extension's C files share.
 */
#ifndef LOOMLAT_H
#define LOOMLAT_H

#include "fmgr.h"

/* loomlat.cold_start_threshold_ms: latencies above it are cold starts */
#define LOOMLAT_DEFAULT_COLD_START_THRESHOLD_MS 500.0
#define LOOMLAT_MAX_COLD_START_THRESHOLD_MS     86400000.0 /* one day */

extern double loomlat_cold_start_threshold_ms;

/* The aggregate's memory context; an error when fname is not called as an aggregate. */
extern MemoryContext loomlat_agg_context(FunctionCallInfo fcinfo, const char *fname);

#endif
