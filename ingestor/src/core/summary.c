/*
 * summary.c - closing summary and exact percentiles (see summary.h).
 *
 * TTFT and duration percentiles are taken over the successful invocations,
 * the rows with status 'complete'; those without answer text (tool calls
 * only: ttft_ms NULL) are counted as "no text".  Errors are counted and the
 * most common messages listed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/summary.h"

#define TOP_ERRORS 3

struct summary
{
	double threshold_ms;
	struct summary_record *records;
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

/* Create an empty summary. */
struct summary *
summary_new(double threshold_ms)
{
	struct summary *summary = calloc(1, sizeof(*summary));

	if (summary != NULL)
		summary->threshold_ms = threshold_ms;
	return summary;
}

/* Free the records and their error strings. */
void
summary_free(struct summary *summary)
{
	if (summary == NULL)
		return;
	for (size_t i = 0; i < summary->n; i++)
		free((char *) summary->records[i].error);
	free(summary->records);
	free(summary->lags);
	free(summary);
}

/* Make room for one more element of size elem in *array (capacity *cap). */
static int
reserve(void **array, size_t *cap, size_t len, size_t elem)
{
	size_t new_cap;
	void *grown;

	if (len < *cap)
		return 0;
	new_cap = *cap ? *cap * 2 : 256;
	grown = realloc(*array, new_cap * elem);
	if (grown == NULL)
		return -1;
	*array = grown;
	*cap = new_cap;
	return 0;
}

/* Copy the record, duplicating its error message. */
int
summary_add(struct summary *summary, const struct summary_record *record)
{
	struct summary_record *copy;

	if (reserve((void **) &summary->records, &summary->cap, summary->n, sizeof(*copy)) != 0)
		return -1;
	copy = &summary->records[summary->n];
	*copy = *record;
	if (!record->ok)
	{
		copy->error = strdup(record->error ? record->error : "unknown error");
		if (copy->error == NULL)
			return -1;
		summary->errors++;
	}
	else
		copy->error = NULL;
	summary->n++;
	return 0;
}

/* Remember a schedule lag. */
int
summary_add_lag(struct summary *summary, double lag_ms)
{
	if (reserve((void **) &summary->lags, &summary->lag_cap, summary->n_lags, sizeof(double)) != 0)
		return -1;
	summary->lags[summary->n_lags++] = lag_ms;
	return 0;
}

/* Records added. */
size_t
summary_count(const struct summary *summary)
{
	return summary->n;
}

/* Records that failed. */
size_t
summary_errors(const struct summary *summary)
{
	return summary->errors;
}

/* PostgreSQL's percentile_cont: interpolate at position fraction * (n - 1). */
double
percentile_cont(const double *sorted, size_t n, double fraction)
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
start_kind_of(double cold_start_latency_ms, double threshold_ms)
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
	d.p50 = percentile_cont(values, n, 0.50);
	d.p95 = percentile_cont(values, n, 0.95);
	d.p99 = percentile_cont(values, n, 0.99);
	d.max = values[n - 1];
	return d;
}

/* Which values of the successful records to collect. */
enum metric
{
	METRIC_TTFT,
	METRIC_TTFT_WARM,
	METRIC_TTFT_COLD,
	METRIC_DURATION
};

/* The distribution of one metric over the successful records. */
static struct dist
summary_dist(const struct summary *summary, enum metric metric)
{
	double *values = malloc((summary->n ? summary->n : 1) * sizeof(double));
	struct dist d = {0, NAN, NAN, NAN, NAN};
	size_t n = 0;

	if (values == NULL)
		return d;
	for (size_t i = 0; i < summary->n; i++)
	{
		const struct summary_record *r = &summary->records[i];
		enum start_kind kind = start_kind_of(r->cold_start_latency_ms, summary->threshold_ms);
		double v = metric == METRIC_DURATION ? r->duration_ms : r->ttft_ms;

		if (!r->ok || isnan(v))
			continue;
		if ((metric == METRIC_TTFT_WARM && kind != START_WARM) ||
		    (metric == METRIC_TTFT_COLD && kind != START_COLD))
			continue;
		values[n++] = v;
	}
	d = dist_of(values, n);
	free(values);
	return d;
}

/* The distribution of the schedule lags (sorted on a copy). */
static struct dist
lag_dist(const struct summary *summary)
{
	double *lags = malloc(summary->n_lags * sizeof(double));
	struct dist d = {0, NAN, NAN, NAN, NAN};

	if (lags == NULL)
		return d;
	memcpy(lags, summary->lags, summary->n_lags * sizeof(double));
	d = dist_of(lags, summary->n_lags);
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
top_errors(const struct summary *summary, struct error_count top[TOP_ERRORS])
{
	const char **messages = malloc((summary->errors ? summary->errors : 1) * sizeof(char *));
	struct error_count *counts;
	size_t n = 0;
	size_t distinct = 0;
	size_t out;

	if (messages == NULL)
		return 0;
	for (size_t i = 0; i < summary->n; i++)
		if (!summary->records[i].ok)
			messages[n++] = summary->records[i].error;
	qsort(messages, n, sizeof(char *), cmp_message);
	counts = malloc((n ? n : 1) * sizeof(*counts));
	if (counts == NULL)
	{
		free(messages);
		return 0;
	}
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
no_text(const struct summary *summary)
{
	size_t n = 0;

	for (size_t i = 0; i < summary->n; i++)
		n += summary->records[i].ok && isnan(summary->records[i].ttft_ms);
	return n;
}

/* Invocations whose token came from the cache. */
static size_t
cache_hits(const struct summary *summary)
{
	size_t hits = 0;

	for (size_t i = 0; i < summary->n; i++)
		hits += summary->records[i].token_cache_hit;
	return hits;
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

/* Text summary on out. */
void
summary_print(const struct summary *summary, const struct summary_totals *totals, FILE *out)
{
	struct error_count top[TOP_ERRORS];
	size_t n_top = top_errors(summary, top);

	fprintf(out, "%zu invocations, %zu ok, %zu errors in %.2f s\n", summary->n,
	        summary->n - summary->errors, summary->errors, totals->elapsed_s);
	if (no_text(summary) > 0)
		fprintf(out, "  no text: %zu complete without answer text (ttft_ms NULL)\n",
		        no_text(summary));
	fprintf(out, "  %-12s %7s %10s %10s %10s\n", "TTFT ms", "n", "p50", "p95", "p99");
	print_dist(out, "overall", summary_dist(summary, METRIC_TTFT), true);
	print_dist(out, "cold", summary_dist(summary, METRIC_TTFT_COLD), true);
	print_dist(out, "warm", summary_dist(summary, METRIC_TTFT_WARM), true);
	fprintf(out, "  %-12s %7s %10s %10s\n", "duration ms", "n", "p50", "p95");
	print_dist(out, "overall", summary_dist(summary, METRIC_DURATION), false);
	if (summary->n_lags > 0)
	{
		struct dist d = lag_dist(summary);

		fprintf(out, "  schedule lag ms: p50 %.2f, p99 %.2f, max %.2f\n", d.p50, d.p99, d.max);
	}
	fprintf(out, "  tokens: %lu requests, %zu cache hits\n", totals->token_requests,
	        cache_hits(summary));
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
record_json(const struct summary_record *r)
{
	double first_token_wall = isnan(r->ttft_ms) ? NAN : r->client_invoke_time + r->ttft_ms / 1e3;

	return json_pack("{s:s,s:s,s:o,s:o,s:f,s:o,s:o,s:o}", "invocation_id", r->invocation_id,
	                 "status", r->ok ? "complete" : "error", "ttft_ms", json_num(r->ttft_ms),
	                 "duration_ms", json_num(r->duration_ms), "client_invoke_time",
	                 r->client_invoke_time, "first_token_wall", json_num(first_token_wall),
	                 "cold_start_latency_ms", json_num(r->cold_start_latency_ms), "error",
	                 r->ok ? json_null() : json_string(r->error));
}

/* JSON summary. */
json_t *
summary_json(const struct summary *summary, const struct summary_totals *totals, bool with_records)
{
	struct error_count top[TOP_ERRORS];
	size_t n_top = top_errors(summary, top);
	json_t *errors = json_array();
	json_t *root;

	for (size_t i = 0; i < n_top; i++)
		json_array_append_new(errors, json_pack("{s:s,s:I}", "message", top[i].message, "count",
		                                        (json_int_t) top[i].count));
	root = json_pack(
	    "{s:I,s:I,s:I,s:I,s:f,s:{s:o,s:o,s:o},s:o,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "count",
	    (json_int_t) summary->n, "ok", (json_int_t) (summary->n - summary->errors), "errors",
	    (json_int_t) summary->errors, "no_text", (json_int_t) no_text(summary), "elapsed_s",
	    totals->elapsed_s, "ttft_ms", "overall", dist_json(summary_dist(summary, METRIC_TTFT)),
	    "cold", dist_json(summary_dist(summary, METRIC_TTFT_COLD)), "warm",
	    dist_json(summary_dist(summary, METRIC_TTFT_WARM)), "duration_ms",
	    dist_json(summary_dist(summary, METRIC_DURATION)), "token_requests",
	    (json_int_t) totals->token_requests, "token_cache_hits", (json_int_t) cache_hits(summary),
	    "rows_written", (json_int_t) totals->rows_written, "rows_unwritten",
	    (json_int_t) totals->rows_unwritten, "rows_in_doubt", (json_int_t) totals->rows_in_doubt,
	    "top_errors", errors, "cold_start_threshold_ms", json_num(summary->threshold_ms));
	if (root == NULL)
		return NULL;
	if (summary->n_lags > 0)
		json_object_set_new(root, "schedule_lag_ms", dist_json(lag_dist(summary)));
	if (with_records)
	{
		json_t *records = json_array();

		for (size_t i = 0; i < summary->n; i++)
			json_array_append_new(records, record_json(&summary->records[i]));
		json_object_set_new(root, "records", records);
	}
	return root;
}
