/*
 * report.h - the closing report of a run, with exact percentiles.
 *
 * Contract: every summarised invocation is added as one record; percentiles
 * are exact and follow PostgreSQL's percentile_cont (linear interpolation
 * between the two nearest ranks, position fraction * (n - 1)), so the client
 * prints the numbers a query over the written rows would return.  Cold and
 * warm follow the extension's rule: cold_start_latency_ms above the
 * threshold is cold, at or below it warm, and no latency is unknown.
 * Records are copied; the report owns its memory.
 *
 * With sessions of several calls (report_totals.calls_per_session > 1) the
 * report also sets the sessions' first calls beside their follow-ups: how
 * many, TTFT p50/p95 of the complete ones, and the cold-start share (cold
 * ones over all of them, unknown ones in the denominator only, as
 * latency_summary()'s cold_start_pct).
 */
#ifndef LOOMLAT_REPORT_H
#define LOOMLAT_REPORT_H

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

struct report_record
{
	char invocation_id[UUID_STR_LEN];
	double client_invoke_time;    /* Unix seconds */
	double ttft_ms;               /* NAN: no text arrived */
	double duration_ms;           /* NAN: unknown */
	double cold_start_latency_ms; /* NAN: not reported */
	bool ok;
	bool token_cache_hit;
	unsigned long session_call; /* 1: its session's first call, 2: the next, ...; 0: unknown */
	const char *error;          /* NULL when ok */
};

/* Figures that come from outside the records. */
struct report_totals
{
	unsigned long token_requests; /* during the summarised invocations */
	unsigned long rows_written;
	unsigned long rows_unwritten; /* spooled */
	unsigned long rows_in_doubt;  /* of those, maybe committed before the connection dropped */
	double elapsed_s;
	unsigned long calls_per_session; /* 0 or 1: no first/follow-up split */
};

struct report;

/* threshold_ms: the extension's cold-start threshold, NAN when unknown. */
struct report *report_new(double threshold_ms);
void report_free(struct report *report);

/* Copy one record in. */
void report_add(struct report *report, const struct report_record *record);

/* An open-loop start's lag behind its schedule. */
void report_add_lag(struct report *report, double lag_ms);

size_t report_count(const struct report *report);
size_t report_errors(const struct report *report);

/* PostgreSQL's percentile_cont(fraction) over n values sorted ascending; NAN when n == 0. */
double report_percentile(const double *sorted, size_t n, double fraction);

/* The extension's cold/warm rule. */
enum start_kind report_start_kind(double cold_start_latency_ms, double threshold_ms);

/* Human-readable report. */
void report_print(const struct report *report, const struct report_totals *totals, FILE *out);

/* The same as one JSON object (new reference);
 * with_records adds the per-invocation records. */
json_t *report_json(const struct report *report, const struct report_totals *totals,
                    bool with_records);

#endif
