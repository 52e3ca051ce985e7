/*
 * text_report.c - the terminal views (see text_report.h).
 */
#include <math.h>
#include <string.h>

#include "present/dash_format.h"
#include "present/text_report.h"

#define BAR_WIDTH   40
#define NAME_WIDTH  24
#define VALUE_WIDTH 87 /* 100 columns less the label of show's lines */
#define SLOW_MS     10000.0

#define BOLD        "\033[1m"
#define RED         "\033[31m"
#define BLUE        "\033[34m"
#define DIM         "\033[2m"
#define RESET       "\033[0m"

/* code when colouring, else "". */
static const char *
sgr(bool color, const char *code)
{
	return color ? code : "";
}

/* s cut to width columns (one per UTF-8 character) and, with pad, padded to
 * them; control characters as '?'. */
static void
put_field(FILE *out, const char *s, int width, bool pad)
{
	int n = 0;

	for (; *s != '\0'; s++)
	{
		unsigned char c = (unsigned char) *s;
		bool continuation = (c & 0xC0) == 0x80;

		if (!continuation && n == width)
			break;
		n += !continuation;
		fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
	for (; pad && n < width; n++)
		fputc(' ', out);
}

/* A bar of value/max * width block characters. */
static void
put_bar(FILE *out, double value, double max, int width)
{
	int n = max > 0 && isfinite(value) ? (int) lround(value / max * width) : 0;

	for (int i = 0; i < n && i < width; i++)
		fputs("#", out);
	for (int i = n; i < width; i++)
		fputc(' ', out);
}

/* The TTFT percentiles' keys in the summary and in a breakdown row. */
static const char *const SUMMARY_TTFT[3] = {"ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms"};
static const char *const ROW_TTFT[3] = {"p50_ms", "p95_ms", "p99_ms"};

/* "p50 1.2s  p95 8.0s  p99 12.1s" of obj's members named by key. */
static void
put_percentiles(FILE *out, const json_t *obj, const char *const key[3])
{
	char a[DASH_FMT_LEN], b[DASH_FMT_LEN], c[DASH_FMT_LEN];

	fprintf(out, "p50 %-8s p95 %-8s p99 %-8s", dash_fmt_ms(dash_num(obj, key[0]), a),
	        dash_fmt_ms(dash_num(obj, key[1]), b), dash_fmt_ms(dash_num(obj, key[2]), c));
}

/* Totals and TTFT, overall and cold vs warm (the breakdown's "(ttft)" rows)
 * with warm's improvement. */
static void
put_totals(FILE *out, const json_t *report, const json_t *summary, bool color)
{
	const json_t *rows = dash_array(report, "phase_breakdown");
	const json_t *cold = dash_find_row(rows, "class", "cold", "phase", "(ttft)");
	const json_t *warm = dash_find_row(rows, "class", "warm", "phase", "(ttft)");
	char pct[DASH_FMT_LEN];
	double total = dash_num(summary, "total_invocations");
	double share = dash_num(summary, "cold_start_pct");

	fprintf(out, "%sInvocations%s %-10.0f %sCold starts%s %s (%.0f)\n\n", sgr(color, BOLD),
	        sgr(color, RESET), total, sgr(color, BOLD), sgr(color, RESET), dash_fmt_pct(share, pct),
	        isfinite(share) ? round(share * total) : 0.0);
	fprintf(out, "%sTTFT%s   all   ", sgr(color, BOLD), sgr(color, RESET));
	put_percentiles(out, summary, SUMMARY_TTFT);
	fputc('\n', out);
	fprintf(out, "       cold  ");
	put_percentiles(out, cold, ROW_TTFT);
	fprintf(out, " (%.0f TTFTs)\n       warm  ",
	        cold != NULL ? dash_num(cold, "invocation_count") : 0.0);
	put_percentiles(out, warm, ROW_TTFT);
	fprintf(out, " (%.0f TTFTs)\n       warm is ",
	        warm != NULL ? dash_num(warm, "invocation_count") : 0.0);
	for (int i = 0; i < 3; i++)
	{
		double c = dash_num(cold, ROW_TTFT[i]);
		double w = dash_num(warm, ROW_TTFT[i]);

		if (isfinite(c) && isfinite(w) && c > 0)
			fprintf(out, "%s%.0f%% faster ", i > 0 ? "/ " : "", (1 - w / c) * 100);
		else
			fprintf(out, "%s- ", i > 0 ? "/ " : "");
	}
	fputs("than cold (p50 / p95 / p99)\n\n", out);
}

/* The agents of the summary; slow ones (p95 TTFT > 10 s) marked. */
static void
put_agents(FILE *out, const json_t *summary, bool color)
{
	size_t i;
	const json_t *a;
	char b[6][DASH_FMT_LEN];

	fprintf(out, "%sAgents%s (SLOW: TTFT p95 above 10 s)\n", sgr(color, BOLD), sgr(color, RESET));
	if (json_array_size(dash_array(summary, "agents")) == 0)
	{
		fputs("  none in this window\n\n", out);
		return;
	}
	fprintf(out, "  %-9s %-*s %7s %7s %8s %8s %8s %8s %8s\n", "id", NAME_WIDTH, "name", "invoc",
	        "cold", "p50", "p95", "p99", "cold p50", "warm p50");
	json_array_foreach(dash_array(summary, "agents"), i, a)
	{
		bool slow = json_is_true(json_object_get(a, "slow"));

		fprintf(out, "%s%s %-6.0f ", sgr(color && slow, RED), slow ? "SLOW" : "    ",
		        dash_num(a, "agent_id"));
		put_field(out, dash_str(a, "agent_name"), NAME_WIDTH, true);
		fprintf(out, " %7.0f %7s %8s %8s %8s %8s %8s%s\n", dash_num(a, "invocation_count"),
		        dash_fmt_pct(dash_num(a, "cold_start_pct"), b[0]),
		        dash_fmt_ms(dash_num(a, "ttft_p50_ms"), b[1]),
		        dash_fmt_ms(dash_num(a, "ttft_p95_ms"), b[2]),
		        dash_fmt_ms(dash_num(a, "ttft_p99_ms"), b[3]),
		        dash_fmt_ms(dash_num(a, "cold_start_ttft_p50_ms"), b[4]),
		        dash_fmt_ms(dash_num(a, "warm_ttft_p50_ms"), b[5]), sgr(color && slow, RESET));
	}
	fputc('\n', out);
}

/* The TTFT histogram as bars scaled to the fullest bucket. */
static void
put_histogram(FILE *out, const json_t *summary, bool color)
{
	const json_t *buckets = dash_array(summary, "ttft_histogram");
	double max = 0, sum = 0;
	size_t i;
	const json_t *b;
	char pct[DASH_FMT_LEN];

	json_array_foreach(buckets, i, b)
	{
		max = fmax(max, dash_num(b, "count"));
		sum += dash_num(b, "count");
	}
	fprintf(out, "%sTTFT histogram%s\n", sgr(color, BOLD), sgr(color, RESET));
	json_array_foreach(buckets, i, b)
	{
		double n = dash_num(b, "count");

		fprintf(out, "  %-6s %s", dash_str(b, "bucket"), sgr(color, BLUE));
		put_bar(out, n, max, BAR_WIDTH);
		fprintf(out, "%s %7.0f %6s\n", sgr(color, RESET), n,
		        dash_fmt_pct(sum > 0 ? n / sum : NAN, pct));
	}
	fputc('\n', out);
}

/* Each phase of class "all" with its p50 and share of TTFT, cold and warm. */
static void
put_phases(FILE *out, const json_t *report, bool color)
{
	const json_t *rows = dash_array(report, "phase_breakdown");
	size_t i;
	const json_t *row;

	fprintf(out, "%sWhere the time goes%s (share of TTFT, p50 duration)\n", sgr(color, BOLD),
	        sgr(color, RESET));
	if (json_array_size(rows) == 0)
	{
		fputs("  no phases in this window\n", out);
		return;
	}
	fprintf(out, "  %-18s %-30s %-30s\n", "phase", "cold", "warm");
	json_array_foreach(rows, i, row)
	{
		const char *phase = dash_str(row, "phase");

		if (strcmp(dash_str(row, "class"), "all") != 0 || !dash_is_phase_row(row))
			continue;
		fputs("  ", out);
		put_field(out, phase, 18, true);
		for (int c = 0; c < 2; c++)
		{
			const json_t *r =
			    dash_find_row(rows, "class", c == 0 ? "cold" : "warm", "phase", phase);
			double share = dash_num(r, "ttft_share");
			char pct[DASH_FMT_LEN], ms[DASH_FMT_LEN];

			fprintf(out, " %s", sgr(color, c == 0 ? RED : BLUE));
			put_bar(out, share, 1, 12);
			fprintf(out, "%s %6s %-9s", sgr(color, RESET), dash_fmt_pct(share, pct),
			        dash_fmt_ms(dash_num(r, "p50_ms"), ms));
		}
		fputc('\n', out);
	}
}

/* The whole report. */
void
text_report(FILE *out, const json_t *report, bool color)
{
	const json_t *summary = json_object_get(report, "summary");

	fprintf(out, "%sloomlat latency report%s: last %s up to %s\n\n", sgr(color, BOLD),
	        sgr(color, RESET), dash_str(summary, "range"), dash_str(summary, "as_of"));
	put_totals(out, report, summary, color);
	put_agents(out, summary, color);
	put_histogram(out, summary, color);
	put_phases(out, report, color);
}

/* One invocation and its phases on a timeline of BAR_WIDTH columns. */
void
text_invocation(FILE *out, const json_t *detail, bool color)
{
	char b[4][DASH_FMT_LEN];
	double total = dash_num(detail, "client_duration_ms");
	const json_t *phases = dash_array(detail, "phases");
	const char *badge = dash_str(detail, "badge");
	const char *error = dash_str(detail, "error_message");
	size_t i;
	const json_t *p;

	json_array_foreach(phases, i, p)
	{
		total = fmax(isfinite(total) ? total : 0, dash_num(p, "end_ms"));
	}
	fprintf(out, "%sinvocation%s %s\n", sgr(color, BOLD), sgr(color, RESET),
	        dash_str(detail, "invocation_id"));
	fputs("agent        ", out);
	put_field(out, dash_str(detail, "agent_name"), VALUE_WIDTH, false);
	fprintf(out, "\nTTFT         %s%s%s  %s%s%s\n", sgr(color, BOLD),
	        dash_str(detail, "ttft_display")[0] ? dash_str(detail, "ttft_display") : "-",
	        sgr(color, RESET), sgr(color, strcmp(badge, "cold") == 0 ? RED : BLUE),
	        badge[0] ? badge : "unknown", sgr(color, RESET));
	fprintf(out, "status       %s\n", dash_str(detail, "status"));
	fprintf(out, "duration     %s\n", dash_fmt_ms(dash_num(detail, "client_duration_ms"), b[0]));
	fprintf(out, "cold start   %s\n", dash_fmt_ms(dash_num(detail, "cold_start_latency_ms"), b[1]));
	fprintf(out, "token cache  %s\n",
	        json_is_true(json_object_get(detail, "token_cache_hit"))    ? "hit"
	        : json_is_false(json_object_get(detail, "token_cache_hit")) ? "miss"
	                                                                    : "-");
	if (error[0] != '\0')
	{
		fprintf(out, "error        %s", sgr(color, RED));
		put_field(out, error, VALUE_WIDTH, false);
		fprintf(out, "%s\n", sgr(color, RESET));
	}
	fprintf(out, "\n%sphases%s (offset, duration; the bar spans 0 .. %s)\n", sgr(color, BOLD),
	        sgr(color, RESET), dash_fmt_ms(total, b[2]));
	json_array_foreach(phases, i, p)
	{
		double start = dash_num(p, "start_ms");
		double len = dash_num(p, "duration_ms");
		int from = isfinite(start) && total > 0 ? (int) lround(start / total * BAR_WIDTH) : 0;
		int width = isfinite(len) && total > 0 ? (int) lround(len / total * BAR_WIDTH) : 0;

		fputs("  ", out);
		put_field(out, dash_str(p, "phase"), 18, true);
		fprintf(out, " %8s %8s |", dash_fmt_ms(start, b[0]), dash_fmt_ms(len, b[1]));
		from = from > BAR_WIDTH ? BAR_WIDTH : from;
		width = width < 1 && isfinite(start) ? 1 : width;
		width = from + width > BAR_WIDTH ? BAR_WIDTH - from : width;
		fprintf(out, "%*s%s", from, "",
		        sgr(color, json_is_true(json_object_get(p, "on_critical_path")) ? BLUE : DIM));
		for (int k = 0; k < width; k++)
			fputc(isfinite(start) ? '=' : '?', out);
		fprintf(out, "%s%*s|\n", sgr(color, RESET), BAR_WIDTH - from - width, "");
	}
}
