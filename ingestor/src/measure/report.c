/*
 * report.c - closing report and exact percentiles (see report.h).
 *
 * TTFT and duration percentiles are taken over the successful invocations,
 * the rows with status 'complete'; those without answer text (tool calls
 * only: ttft_ms NULL) are counted as "no text".  Errors are counted and the
 * most common messages listed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "measure/report.h"
#include "util/alloc.h"

#define TOP_ERRORS 3

struct report
{
	double threshold_ms;
	struct report_record *records;
	size_t n;
	size_t cap;
	size_t errors;
	double *lags;
	size_t n_lags;
	size_t lag_cap;
};

/* n, p50, p95, p99 and max of one set of values. */
struct dist
{
	size_t n;
	double p50;
	double p95;
	double p99;
	double max;
};

struct error_count
{
	const char *message;
	size_t count;
};

/* Create an empty report. */
struct report *
report_new(double threshold_ms)
{
	struct report *report = xcalloc(1, sizeof(*report));

	report->threshold_ms = threshold_ms;
	return report;
}

/* Free the records and their error strings. */
void
report_free(struct report *report)
{
	if (report == NULL)
		return;
	for (size_t i = 0; i < report->n; i++)
		free((char *) report->records[i].error);
	free(report->records);
	free(report->lags);
	free(report);
}

/* Make room for one more element of size elem in *array (capacity *cap). */
static void
reserve(void **array, size_t *cap, size_t len, size_t elem)
{
	if (len < *cap)
		return;
	*cap = *cap ? *cap * 2 : 256;
	*array = xrealloc(*array, *cap * elem);
}

/* Copy the record, duplicating its error message. */
void
report_add(struct report *report, const struct report_record *record)
{
	struct report_record *copy;

	reserve((void **) &report->records, &report->cap, report->n, sizeof(*copy));
	copy = &report->records[report->n];
	*copy = *record;
	if (!record->ok)
	{
		copy->error = xstrdup(record->error ? record->error : "unknown error");
		report->errors++;
	}
	else
		copy->error = NULL;
	report->n++;
}

/* Remember a schedule lag. */
void
report_add_lag(struct report *report, double lag_ms)
{
	reserve((void **) &report->lags, &report->lag_cap, report->n_lags, sizeof(double));
	report->lags[report->n_lags++] = lag_ms;
}

/* Records added. */
size_t
report_count(const struct report *report)
{
	return report->n;
}

/* Records that failed. */
size_t
report_errors(const struct report *report)
{
	return report->errors;
}

/* PostgreSQL's percentile_cont: interpolate at position fraction * (n - 1). */
double
report_percentile(const double *sorted, size_t n, double fraction)
{
	double pos;
	size_t lo;
	size_t hi;

	if (n == 0)
		return NAN;
	pos = fraction * (double) (n - 1);
	lo = (size_t) floor(pos);
	hi = (size_t) ceil(pos);
	if (hi >= n)
		hi = n - 1;
	if (lo == hi)
		return sorted[lo];
	return sorted[lo] + (pos - (double) lo) * (sorted[hi] - sorted[lo]);
}

/* Cold above the threshold, warm at or below it, unknown without a latency. */
enum start_kind
report_start_kind(double cold_start_latency_ms, double threshold_ms)
{
	if (isnan(cold_start_latency_ms) || isnan(threshold_ms))
		return START_UNKNOWN;
	return cold_start_latency_ms > threshold_ms ? START_COLD : START_WARM;
}

/* qsort orders for doubles, messages, and counts (descending). */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Sort values in place and take the distribution. */
static struct dist
dist_of(double *values, size_t n)
{
	struct dist d = {n, NAN, NAN, NAN, NAN};

	if (n == 0)
		return d;
	qsort(values, n, sizeof(double), cmp_double);
	d.p50 = report_percentile(values, n, 0.50);
	d.p95 = report_percentile(values, n, 0.95);
	d.p99 = report_percentile(values, n, 0.99);
	d.max = values[n - 1];
	return d;
}

/* Which values of the successful records to collect. */
enum metric
{
	METRIC_TTFT,
	METRIC_TTFT_WARM,
	METRIC_TTFT_COLD,
	METRIC_TTFT_FIRST,     /* a session's first call */
	METRIC_TTFT_FOLLOW_UP, /* its later calls */
	METRIC_DURATION
};

/* Whether record r is a session's first call (follow_up false) or a later one. */
static bool
at_position(const struct report_record *r, bool follow_up)
{
	return follow_up ? r->session_call >= 2 : r->session_call == 1;
}

/* The distribution of one metric over the successful records. */
static struct dist
report_dist(const struct report *report, enum metric metric)
{
	double *values = xmalloc(report->n * sizeof(double));
	struct dist d;
	size_t n = 0;

	for (size_t i = 0; i < report->n; i++)
	{
		const struct report_record *r = &report->records[i];
		enum start_kind kind = report_start_kind(r->cold_start_latency_ms, report->threshold_ms);
		double v = metric == METRIC_DURATION ? r->duration_ms : r->ttft_ms;

		if (!r->ok || isnan(v))
			continue;
		if ((metric == METRIC_TTFT_WARM && kind != START_WARM) ||
		    (metric == METRIC_TTFT_COLD && kind != START_COLD) ||
		    (metric == METRIC_TTFT_FIRST && !at_position(r, false)) ||
		    (metric == METRIC_TTFT_FOLLOW_UP && !at_position(r, true)))
			continue;
		values[n++] = v;
	}
	d = dist_of(values, n);
	free(values);
	return d;
}

/* The distribution of the schedule lags (sorted on a copy). */
static struct dist
lag_dist(const struct report *report)
{
	double *lags = xmalloc(report->n_lags * sizeof(double));
	struct dist d;

	memcpy(lags, report->lags, report->n_lags * sizeof(double));
	d = dist_of(lags, report->n_lags);
	free(lags);
	return d;
}

static int
cmp_message(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int
cmp_count_desc(const void *a, const void *b)
{
	const struct error_count *x = a;
	const struct error_count *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->message, y->message);
}

/* The most common error messages, at most TOP_ERRORS; returns how many. */
static size_t
top_errors(const struct report *report, struct error_count top[TOP_ERRORS])
{
	const char **messages = xmalloc(report->errors * sizeof(char *));
	struct error_count *counts;
	size_t n = 0;
	size_t distinct = 0;
	size_t out;

	for (size_t i = 0; i < report->n; i++)
		if (!report->records[i].ok)
			messages[n++] = report->records[i].error;
	qsort(messages, n, sizeof(char *), cmp_message);
	counts = xmalloc(n * sizeof(*counts));
	for (size_t i = 0; i < n; i++)
	{
		if (distinct > 0 && strcmp(counts[distinct - 1].message, messages[i]) == 0)
			counts[distinct - 1].count++;
		else
			counts[distinct++] = (struct error_count){messages[i], 1};
	}
	qsort(counts, distinct, sizeof(*counts), cmp_count_desc);
	out = distinct < TOP_ERRORS ? distinct : TOP_ERRORS;
	memcpy(top, counts, out * sizeof(*counts));
	free(counts);
	free(messages);
	return out;
}

/* Complete invocations without answer text (ttft_ms NULL). */
static size_t
no_text(const struct report *report)
{
	size_t n = 0;

	for (size_t i = 0; i < report->n; i++)
		n += report->records[i].ok && isnan(report->records[i].ttft_ms);
	return n;
}

/* Invocations whose token came from the cache. */
static size_t
cache_hits(const struct report *report)
{
	size_t hits = 0;

	for (size_t i = 0; i < report->n; i++)
		hits += report->records[i].token_cache_hit;
	return hits;
}

/* A session position: its invocations, how many were cold, and their TTFT. */
struct position
{
	size_t n;
	size_t cold;
	struct dist ttft;
};

/* The first calls of the sessions (follow_up false) or their follow-ups. */
static struct position
position_of(const struct report *report, bool follow_up)
{
	struct position p = {0};

	for (size_t i = 0; i < report->n; i++)
	{
		const struct report_record *r = &report->records[i];

		if (!at_position(r, follow_up))
			continue;
		p.n++;
		p.cold += report_start_kind(r->cold_start_latency_ms, report->threshold_ms) == START_COLD;
	}
	p.ttft = report_dist(report, follow_up ? METRIC_TTFT_FOLLOW_UP : METRIC_TTFT_FIRST);
	return p;
}

/* The cold-start share of a position, a fraction; NAN without invocations or threshold. */
static double
cold_share(const struct report *report, struct position p)
{
	if (p.n == 0 || isnan(report->threshold_ms))
		return NAN;
	return (double) p.cold / (double) p.n;
}

/* The first calls and the follow-ups, one line each. */
static void
print_positions(const struct report *report, unsigned long calls, FILE *out)
{
	fprintf(out, "  %-12s %7s %10s %10s %10s   (sessions of %lu calls)\n", "by call", "n",
	        "TTFT p50", "TTFT p95", "cold %", calls);
	for (int follow_up = 0; follow_up <= 1; follow_up++)
	{
		struct position p = position_of(report, follow_up);
		double share = cold_share(report, p);

		fprintf(out, "  %-12s %7zu", follow_up ? "follow-ups" : "first calls", p.n);
		if (p.ttft.n == 0)
			fprintf(out, " %10s %10s", "-", "-");
		else
			fprintf(out, " %10.2f %10.2f", p.ttft.p50, p.ttft.p95);
		if (isnan(share))
			fprintf(out, " %10s\n", "-");
		else
			fprintf(out, " %9.1f%%\n", 100.0 * share);
	}
}

/* One table line of a distribution; "-" for missing values. */
static void
print_dist(FILE *out, const char *label, struct dist d, bool with_p99)
{
	fprintf(out, "  %-12s %7zu", label, d.n);
	if (d.n == 0)
	{
		fprintf(out, " %10s %10s%s\n", "-", "-", with_p99 ? "          -" : "");
		return;
	}
	fprintf(out, " %10.2f %10.2f", d.p50, d.p95);
	if (with_p99)
		fprintf(out, " %10.2f", d.p99);
	fputc('\n', out);
}

/* Text report on out. */
void
report_print(const struct report *report, const struct report_totals *totals, FILE *out)
{
	struct error_count top[TOP_ERRORS];
	size_t n_top = top_errors(report, top);

	fprintf(out, "%zu invocations, %zu ok, %zu errors in %.2f s\n", report->n,
	        report->n - report->errors, report->errors, totals->elapsed_s);
	if (no_text(report) > 0)
		fprintf(out, "  no text: %zu complete without answer text (ttft_ms NULL)\n",
		        no_text(report));
	fprintf(out, "  %-12s %7s %10s %10s %10s\n", "TTFT ms", "n", "p50", "p95", "p99");
	print_dist(out, "overall", report_dist(report, METRIC_TTFT), true);
	print_dist(out, "cold", report_dist(report, METRIC_TTFT_COLD), true);
	print_dist(out, "warm", report_dist(report, METRIC_TTFT_WARM), true);
	fprintf(out, "  %-12s %7s %10s %10s\n", "duration ms", "n", "p50", "p95");
	print_dist(out, "overall", report_dist(report, METRIC_DURATION), false);
	if (totals->calls_per_session > 1)
		print_positions(report, totals->calls_per_session, out);
	if (report->n_lags > 0)
	{
		struct dist d = lag_dist(report);

		fprintf(out, "  schedule lag ms: p50 %.2f, p99 %.2f, max %.2f\n", d.p50, d.p99, d.max);
	}
	fprintf(out, "  tokens: %lu requests, %zu cache hits\n", totals->token_requests,
	        cache_hits(report));
	fprintf(out, "  rows: %lu written, %lu unwritten", totals->rows_written,
	        totals->rows_unwritten);
	if (totals->rows_in_doubt > 0)
		fprintf(out, " (%lu of them in doubt)", totals->rows_in_doubt);
	fputc('\n', out);
	for (size_t i = 0; i < n_top; i++)
		fprintf(out, "  error x%zu: %s\n", top[i].count, top[i].message);
}

/* A number, or JSON null for NAN. */
static json_t *
json_num(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

/* {"count","p50","p95","p99"} */
static json_t *
dist_json(struct dist d)
{
	return json_pack("{s:I,s:o,s:o,s:o,s:o}", "count", (json_int_t) d.n, "p50", json_num(d.p50),
	                 "p95", json_num(d.p95), "p99", json_num(d.p99), "max", json_num(d.max));
}

/* One per-invocation record. */
static json_t *
record_json(const struct report_record *r)
{
	double first_token_wall = isnan(r->ttft_ms) ? NAN : r->client_invoke_time + r->ttft_ms / 1e3;

	return json_pack("{s:s,s:s,s:o,s:o,s:f,s:o,s:o,s:o,s:o}", "invocation_id", r->invocation_id,
	                 "status", r->ok ? "complete" : "error", "ttft_ms", json_num(r->ttft_ms),
	                 "duration_ms", json_num(r->duration_ms), "client_invoke_time",
	                 r->client_invoke_time, "first_token_wall", json_num(first_token_wall),
	                 "cold_start_latency_ms", json_num(r->cold_start_latency_ms), "session_call",
	                 r->session_call ? json_integer((json_int_t) r->session_call) : json_null(),
	                 "error", r->ok ? json_null() : json_string(r->error));
}

/* {"count", "ttft_ms": {...}, "cold_start_pct"} of a session position (a fraction, as
 * latency_summary()'s). */
static json_t *
position_json(const struct report *report, bool follow_up)
{
	struct position p = position_of(report, follow_up);

	return json_pack("{s:I,s:o,s:o}", "count", (json_int_t) p.n, "ttft_ms", dist_json(p.ttft),
	                 "cold_start_pct", json_num(cold_share(report, p)));
}

/* JSON report. */
json_t *
report_json(const struct report *report, const struct report_totals *totals, bool with_records)
{
	struct error_count top[TOP_ERRORS];
	size_t n_top = top_errors(report, top);
	json_t *errors = json_array();
	json_t *root;

	for (size_t i = 0; i < n_top; i++)
		json_array_append_new(errors, json_pack("{s:s,s:I}", "message", top[i].message, "count",
		                                        (json_int_t) top[i].count));
	root = json_pack(
	    "{s:I,s:I,s:I,s:I,s:f,s:{s:o,s:o,s:o},s:o,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "count",
	    (json_int_t) report->n, "ok", (json_int_t) (report->n - report->errors), "errors",
	    (json_int_t) report->errors, "no_text", (json_int_t) no_text(report), "elapsed_s",
	    totals->elapsed_s, "ttft_ms", "overall", dist_json(report_dist(report, METRIC_TTFT)),
	    "cold", dist_json(report_dist(report, METRIC_TTFT_COLD)), "warm",
	    dist_json(report_dist(report, METRIC_TTFT_WARM)), "duration_ms",
	    dist_json(report_dist(report, METRIC_DURATION)), "token_requests",
	    (json_int_t) totals->token_requests, "token_cache_hits", (json_int_t) cache_hits(report),
	    "rows_written", (json_int_t) totals->rows_written, "rows_unwritten",
	    (json_int_t) totals->rows_unwritten, "rows_in_doubt", (json_int_t) totals->rows_in_doubt,
	    "top_errors", errors, "cold_start_threshold_ms", json_num(report->threshold_ms));
	if (report->n_lags > 0)
		json_object_set_new(root, "schedule_lag_ms", dist_json(lag_dist(report)));
	json_object_set_new(
	    root, "calls_per_session",
	    json_integer((json_int_t) (totals->calls_per_session ? totals->calls_per_session : 1)));
	if (totals->calls_per_session > 1)
		json_object_set_new(root, "by_session_call",
		                    json_pack("{s:o,s:o}", "first", position_json(report, false),
		                              "follow_up", position_json(report, true)));
	if (with_records)
	{
		json_t *records = json_array();

		for (size_t i = 0; i < report->n; i++)
			json_array_append_new(records, record_json(&report->records[i]));
		json_object_set_new(root, "records", records);
	}
	return root;
}
