/*
 * summary.h - the closing summary of a run, with exact percentiles.
 *
 * Contract: every summarised invocation is added as one record; percentiles
 * are exact and follow PostgreSQL's percentile_cont (linear interpolation
 * between the two nearest ranks, position fraction * (n - 1)), so the client
 * prints the numbers a query over the written rows would return.  Cold and
 * warm follow the extension's rule: cold_start_latency_ms above the
 * threshold is cold, at or below it warm, and no latency is unknown.
 * Records are copied; the summary owns its memory.
 */
#ifndef LOOMLAT_SUMMARY_H
#define LOOMLAT_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "util/uuid.h"

enum start_kind
{
	START_UNKNOWN = 0,
	START_WARM,
	START_COLD
};

struct summary_record
{
	char invocation_id[UUID_STR_LEN];
	double client_invoke_time;    /* Unix seconds */
	double ttft_ms;               /* NAN: no text arrived */
	double duration_ms;           /* NAN: unknown */
	double cold_start_latency_ms; /* NAN: not reported */
	bool ok;
	bool token_cache_hit;
	const char *error; /* NULL when ok */
};

/* Figures that come from outside the records. */
struct summary_totals
{
	unsigned long token_requests; /* during the summarised invocations */
	unsigned long rows_written;
	unsigned long rows_unwritten; /* spooled */
	unsigned long rows_in_doubt;  /* of those, maybe committed before the connection dropped */
	double elapsed_s;
};

struct summary;

/* threshold_ms: the extension's cold-start threshold, NAN when unknown. */
struct summary *summary_new(double threshold_ms);
void summary_free(struct summary *summary);

/* Copy one record in. */
void summary_add(struct summary *summary, const struct summary_record *record);

/* An open-loop start's lag behind its schedule. */
void summary_add_lag(struct summary *summary, double lag_ms);

size_t summary_count(const struct summary *summary);
size_t summary_errors(const struct summary *summary);

/* percentile_cont(fraction) over n values sorted ascending; NAN when n == 0. */
double percentile_cont(const double *sorted, size_t n, double fraction);

/* The extension's cold/warm rule. */
enum start_kind start_kind_of(double cold_start_latency_ms, double threshold_ms);

/* Human-readable summary. */
void summary_print(const struct summary *summary, const struct summary_totals *totals, FILE *out);

/* The same as one JSON object (new reference);
 * with_records adds the per-invocation records. */
json_t *summary_json(const struct summary *summary, const struct summary_totals *totals,
                     bool with_records);

#endif
