/*
 * html_report.c - the dashboard page (see html_report.h).
 *
 * Colours are the Okabe-Ito palette, safe for colour-blind readers: cold is
 * vermillion, warm and p50 blue, p95 orange.  Slow agents are marked by a
 * colour and by the word "slow", never by colour alone.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "present/dash_format.h"
#include "present/html_report.h"

#define COLD   "#D55E00"
#define WARM   "#0072B2"
#define P95    "#E69F00"
#define SLOW_P "10000"

static const char STYLE[] =
    "body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:12px;"
    "color:#222}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}"
    "nav a{display:inline-block;padding:6px 14px;margin:0 4px 4px 0;border:1px solid #0072B2;"
    "border-radius:4px;color:#0072B2;text-decoration:none}"
    "nav a.on{background:#0072B2;color:#fff}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{flex:1 1 140px;border:1px solid #ccc;border-radius:6px;padding:8px 12px}"
    ".card b{display:block;font-size:1.6em}"
    ".wrap{overflow-x:auto}table{border-collapse:collapse;width:100%}"
    "th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}"
    "th:nth-child(2),td:nth-child(2){text-align:left}"
    "th{cursor:pointer;user-select:none;background:#f4f4f4}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}"
    "tr.slow td{background:#FBE3D6}tr.slow td:nth-child(2)::after{content:' (slow)';color:#A33F00}"
    "svg[role=img]{width:100%;height:auto;max-width:900px}"
    "svg text{font-size:12px;fill:#222}"
    "@media(max-width:600px){svg[role=img] text{font-size:20px}}"
    ".key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:middle}"
    "body.js section.range{display:none}body.js section.range.on{display:block}"
    /* narrow: a table row is a card of labelled cells, the headers sort buttons */
    "@media(max-width:600px){.wrap{overflow:visible}"
    "table.agents,table.phases,table.agents tbody,table.phases tbody{display:block}"
    "table.agents thead tr{display:flex;flex-wrap:wrap;gap:4px;margin-bottom:6px}"
    "table.agents th{border:1px solid #ccc;border-radius:4px;padding:2px 6px;font-size:.85em}"
    "table.phases thead{display:none}"
    "table.agents tbody tr,table.phases tbody tr{display:grid;grid-template-columns:repeat(4,1fr);"
    "border-bottom:1px solid #ccc;padding:4px 0}"
    "table.phases tbody tr{grid-template-columns:repeat(2,1fr)}"
    "table.agents td,table.phases td{border:0;text-align:left;white-space:normal;padding:2px 4px;"
    "min-width:0;overflow-wrap:anywhere}"
    "table.agents td::before,table.phases td::before{display:block;font-size:.75em;color:#555}"
    "table.agents td:nth-child(2){grid-column:span 3}tr.slow{background:#FBE3D6}}"
    "@media print{nav{display:none}body.js section.range{display:block}"
    "section.range{page-break-before:always}th{cursor:auto}tr.slow td{background:none;"
    "font-weight:bold}}";

/* Show the chosen range's section; sort a table by the clicked column
 * (numbers by data-v, else text), toggling the direction. */
static const char SCRIPT[] =
    "document.body.classList.add('js');"
    "function show(r){document.querySelectorAll('section.range').forEach(function(s){"
    "s.classList.toggle('on',s.dataset.range===r)});"
    "document.querySelectorAll('nav a').forEach(function(a){"
    "a.classList.toggle('on',a.dataset.range===r)})}"
    "document.querySelectorAll('nav a').forEach(function(a){a.addEventListener('click',"
    "function(e){e.preventDefault();show(a.dataset.range)})});"
    "show(document.body.dataset.selected);"
    "document.querySelectorAll('table.agents th').forEach(function(th,col){"
    "th.addEventListener('click',function(){var tb=th.closest('table').tBodies[0],"
    "asc=th.getAttribute('aria-sort')!=='ascending';"
    "th.parentNode.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort')});"
    "th.setAttribute('aria-sort',asc?'ascending':'descending');"
    "var rows=Array.prototype.slice.call(tb.rows);rows.sort(function(a,b){"
    "var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v,d;"
    "if(x!==undefined&&y!==undefined){x=x===''?-Infinity:+x;y=y===''?-Infinity:+y;d=x-y}"
    "else d=a.cells[col].textContent.localeCompare(b.cells[col].textContent);"
    "return asc?d:-d});rows.forEach(function(r){tb.appendChild(r)})})});";

/* The tables' columns, in order. */
static const char *const AGENT_COLUMNS[] = {"id",  "agent", "invocations", "cold",    "p50",
                                            "p95", "p99",   "cold p50",    "warm p50"};
static const char *const PHASE_COLUMNS[] = {
    "critical path", "phase", "cold: share of TTFT", "cold p50", "warm: share of TTFT", "warm p50"};
#define N_AGENT_COLUMNS ((int) (sizeof(AGENT_COLUMNS) / sizeof(AGENT_COLUMNS[0])))
#define N_PHASE_COLUMNS ((int) (sizeof(PHASE_COLUMNS) / sizeof(PHASE_COLUMNS[0])))

/* s with & < > " ' as character references. */
static void
put_escaped(FILE *out, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s)
		{
			case '&':
				fputs("&amp;", out);
				break;
			case '<':
				fputs("&lt;", out);
				break;
			case '>':
				fputs("&gt;", out);
				break;
			case '"':
				fputs("&quot;", out);
				break;
			case '\'':
				fputs("&#39;", out);
				break;
			default:
				fputc(*s, out);
		}
}

/* A number for data-v: "" when unknown. */
static void
put_value(FILE *out, double v)
{
	if (isfinite(v))
		fprintf(out, "%.17g", v);
}

/* One summary card. */
static void
put_card(FILE *out, const char *label, const char *value)
{
	fprintf(out, "<div class=\"card\">%s<b>%s</b></div>", label, value);
}

/* The largest finite rows[i][key], 0 when there is none. */
static double
column_max(const json_t *rows, const char *key)
{
	size_t i;
	const json_t *r;
	double max = 0;

	json_array_foreach(rows, i, r)
	{
		max = fmax(max, dash_num(r, key)); /* fmax skips NAN */
	}
	return max;
}

/* A count as a whole number. */
static const char *
fmt_count(double n, char buf[DASH_FMT_LEN])
{
	snprintf(buf, DASH_FMT_LEN, "%.0f", n);
	return buf;
}

/* One bar series of a chart: the member it reads and its colour. */
struct bars
{
	const char *key;
	const char *fill;
};

/* A horizontal bar chart: a row per element of rows, named by its label
 * member, with a bar per series scaled to the largest value of them all and
 * that value written after it by fmt (a missing value: no bar and "-"). */
static void
put_bar_chart(FILE *out, const char *title, const json_t *rows, const char *label,
              const struct bars *series, int n_series, const char *(*fmt)(double, char *) )
{
	double row_h = n_series * 12 + 14;
	double max = 0;
	size_t i;
	const json_t *r;
	char buf[DASH_FMT_LEN];

	for (int k = 0; k < n_series; k++)
		max = fmax(max, column_max(rows, series[k].key));
	fprintf(out, "<svg viewBox=\"0 0 600 %.0f\" role=\"img\"><title>%s</title>",
	        (double) json_array_size(rows) * row_h + 10, title);
	json_array_foreach(rows, i, r)
	{
		double y = (double) i * row_h + 5;

		/* a nested svg clips a long name at the bars */
		fprintf(out, "<svg y=\"%.0f\" width=\"165\" height=\"%.0f\"><text y=\"%d\">", y, row_h,
		        8 + 6 * n_series);
		put_escaped(out, dash_str(r, label));
		fputs("</text></svg>", out);
		for (int k = 0; k < n_series; k++)
		{
			double v = dash_num(r, series[k].key);
			double w = isfinite(v) && max > 0 ? v / max * 340 : 0;

			fprintf(out,
			        "<rect x=\"170\" y=\"%.0f\" width=\"%.1f\" height=\"11\" fill=\"%s\"/>"
			        "<text x=\"%.1f\" y=\"%.0f\">%s</text>",
			        y + k * 12 + 4, w, series[k].fill, 174 + w, y + k * 12 + 14,
			        isfinite(v) ? fmt(v, buf) : "-");
		}
	}
	fputs("</svg>", out);
}

/* The histogram's five buckets with their counts. */
static void
put_histogram(FILE *out, const json_t *summary)
{
	static const struct bars counts[] = {{"count", WARM}};

	put_bar_chart(out, "TTFT histogram", dash_array(summary, "ttft_histogram"), "bucket", counts, 1,
	              fmt_count);
}

/* The table's opening and its header row. */
static void
put_table_head(FILE *out, const char *table, const char *const *columns, int n)
{
	fprintf(out, "<div class=\"wrap\"><table class=\"%s\"><thead><tr>", table);
	for (int i = 0; i < n; i++)
		fprintf(out, "<th>%s</th>", columns[i]);
	fputs("</tr></thead><tbody>", out);
}

/* For the narrow layout, where a row is a card: each cell labelled with its
 * column's name. */
static void
put_cell_labels(FILE *out, const char *table, const char *const *columns, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(out, "table.%s td:nth-child(%d)::before{content:\"%s\"}", table, i + 1, columns[i]);
}

/* A table cell with its sort value and its shown text. */
static void
put_ms_cell(FILE *out, double ms)
{
	char buf[DASH_FMT_LEN];

	fputs("<td data-v=\"", out);
	put_value(out, ms);
	fprintf(out, "\">%s</td>", dash_fmt_ms(ms, buf));
}

/* The agents, sortable by every column, slow rows marked. */
static void
put_agents(FILE *out, const json_t *summary)
{
	size_t i;
	const json_t *a;
	char pct[DASH_FMT_LEN];

	put_table_head(out, "agents", AGENT_COLUMNS, N_AGENT_COLUMNS);
	json_array_foreach(dash_array(summary, "agents"), i, a)
	{
		bool slow = json_is_true(json_object_get(a, "slow"));

		fprintf(out, "<tr%s><td data-v=\"%.0f\">%.0f</td><td>", slow ? " class=\"slow\"" : "",
		        dash_num(a, "agent_id"), dash_num(a, "agent_id"));
		put_escaped(out, dash_str(a, "agent_name"));
		fprintf(out, "</td><td data-v=\"%.0f\">%.0f</td><td data-v=\"",
		        dash_num(a, "invocation_count"), dash_num(a, "invocation_count"));
		put_value(out, dash_num(a, "cold_start_pct"));
		fprintf(out, "\">%s</td>", dash_fmt_pct(dash_num(a, "cold_start_pct"), pct));
		put_ms_cell(out, dash_num(a, "ttft_p50_ms"));
		put_ms_cell(out, dash_num(a, "ttft_p95_ms"));
		put_ms_cell(out, dash_num(a, "ttft_p99_ms"));
		put_ms_cell(out, dash_num(a, "cold_start_ttft_p50_ms"));
		put_ms_cell(out, dash_num(a, "warm_ttft_p50_ms"));
		fputs("</tr>", out);
	}
	fputs("</tbody></table></div>", out);
}

/* Per agent, cold and warm TTFT p50 as two bars. */
static void
put_cold_warm(FILE *out, const json_t *summary)
{
	static const struct bars p50[] = {{"cold_start_ttft_p50_ms", COLD}, {"warm_ttft_p50_ms", WARM}};

	fputs("<p class=\"key\"><span style=\"background:" COLD "\"></span>cold p50"
	      "<span style=\"background:" WARM "\"></span>warm p50</p>",
	      out);
	put_bar_chart(out, "Cold vs warm TTFT p50 per agent", dash_array(summary, "agents"),
	              "agent_name", p50, 2, dash_fmt_ms);
}

/* The x of bucket i of n on the time axis (50 .. 590). */
static double
series_x(size_t i, size_t n)
{
	return 50 + (n > 1 ? (double) i / (double) (n - 1) : 0.5) * 540;
}

/* One series of latency_over_time as a path; a bucket without a value breaks
 * the line, and a value with no neighbour is drawn as a dot. */
static void
put_series(FILE *out, const json_t *rows, const char *key, double max, const char *colour)
{
	size_t n = json_array_size(rows);
	size_t i;
	const json_t *r;
	bool pen = false;

	fprintf(out, "<g fill=\"%s\"><path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", colour,
	        colour);
	json_array_foreach(rows, i, r)
	{
		double v = dash_num(r, key);

		if (!isfinite(v))
			pen = false;
		else
		{
			fprintf(out, "%c%.1f %.1f", pen ? 'L' : 'M', series_x(i, n), 180 - v / max * 160);
			pen = true;
		}
	}
	fputs("\"/>", out);
	json_array_foreach(rows, i, r)
	{
		double v = dash_num(r, key);

		if (isfinite(v) && !isfinite(dash_num(json_array_get(rows, i - 1), key)) &&
		    !isfinite(dash_num(json_array_get(rows, i + 1), key)))
			fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", series_x(i, n),
			        180 - v / max * 160);
	}
	fputs("</g>", out);
}

/* TTFT p50 and p95 per bucket over the window. */
static void
put_over_time(FILE *out, const json_t *report)
{
	const json_t *rows = dash_array(report, "latency_over_time");
	double max = column_max(rows, "ttft_p95_ms");
	char buf[DASH_FMT_LEN];

	fputs("<p class=\"key\"><span style=\"background:" WARM "\"></span>p50"
	      "<span style=\"background:" P95 "\"></span>p95</p>"
	      "<svg viewBox=\"0 0 600 210\" role=\"img\"><title>TTFT p50 and p95 over time</title>"
	      "<line x1=\"50\" y1=\"180\" x2=\"590\" y2=\"180\" stroke=\"#999\"/>",
	      out);
	if (max > 0)
	{
		fprintf(out, "<text x=\"0\" y=\"24\">%s</text><text x=\"0\" y=\"180\">0</text>",
		        dash_fmt_ms(max, buf));
		put_series(out, rows, "ttft_p50_ms", max, WARM);
		put_series(out, rows, "ttft_p95_ms", max, P95);
	}
	else
		fputs("<text x=\"200\" y=\"100\">no TTFT in this window</text>", out);
	if (json_array_size(rows) > 0)
	{
		char from[17], to[17];

		/* the first and last bucket's bounds, to the minute */
		snprintf(from, sizeof(from), "%s", dash_str(json_array_get(rows, 0), "bucket_start"));
		snprintf(to, sizeof(to), "%s",
		         dash_str(json_array_get(rows, json_array_size(rows) - 1), "bucket_end"));
		fputs("<text x=\"50\" y=\"200\">", out);
		put_escaped(out, from);
		fputs("</text><text x=\"590\" y=\"200\" text-anchor=\"end\">", out);
		put_escaped(out, to);
		fputs("</text>", out);
	}
	fputs("</svg>", out);
}

/* Each phase's share of TTFT and p50, cold next to warm, as a table with bars. */
static void
put_phases(FILE *out, const json_t *report)
{
	const json_t *rows = dash_array(report, "phase_breakdown");
	size_t i;
	const json_t *row;

	if (json_array_size(rows) == 0)
	{
		fputs("<p>No phases in this window.</p>", out);
		return;
	}
	put_table_head(out, "phases", PHASE_COLUMNS, N_PHASE_COLUMNS);
	json_array_foreach(rows, i, row)
	{
		if (strcmp(dash_str(row, "class"), "all") != 0 || !dash_is_phase_row(row))
			continue;
		fprintf(out, "<tr><td>%s</td><td>",
		        json_is_true(json_object_get(row, "on_critical_path")) ? "yes" : "");
		put_escaped(out, dash_str(row, "phase"));
		fputs("</td>", out);
		for (int c = 0; c < 2; c++)
		{
			const json_t *r = dash_find_row(rows, "class", c == 0 ? "cold" : "warm", "phase",
			                                dash_str(row, "phase"));
			double share = dash_num(r, "ttft_share");
			char pct[DASH_FMT_LEN];

			fprintf(out,
			        "<td><svg viewBox=\"0 0 100 10\" style=\"width:80px;vertical-align:middle\">"
			        "<rect width=\"%.1f\" height=\"10\" fill=\"%s\"/></svg> %s</td>",
			        isfinite(share) ? fmin(share, 1) * 100 : 0, c == 0 ? COLD : WARM,
			        dash_fmt_pct(share, pct));
			put_ms_cell(out, dash_num(r, "p50_ms"));
		}
		fputs("</tr>", out);
	}
	fputs("</tbody></table></div>", out);
}

/* One range's section: cards, histogram, agents, charts, phases. */
static void
put_range(FILE *out, const json_t *report)
{
	const json_t *summary = json_object_get(report, "summary");
	const char *range = dash_str(report, "range");
	char buf[4][DASH_FMT_LEN];

	fputs("<section class=\"range\" data-range=\"", out);
	put_escaped(out, range);
	fputs("\" id=\"r-", out);
	put_escaped(out, range);
	fputs("\"><h2>Last ", out);
	put_escaped(out, range);
	fputs(" up to ", out);
	put_escaped(out, dash_str(summary, "as_of"));
	fputs("</h2><div class=\"cards\">", out);
	snprintf(buf[0], sizeof(buf[0]), "%.0f", dash_num(summary, "total_invocations"));
	put_card(out, "Invocations", buf[0]);
	put_card(out, "Cold starts", dash_fmt_pct(dash_num(summary, "cold_start_pct"), buf[1]));
	put_card(out, "TTFT p50", dash_fmt_ms(dash_num(summary, "ttft_p50_ms"), buf[2]));
	put_card(out, "TTFT p95", dash_fmt_ms(dash_num(summary, "ttft_p95_ms"), buf[3]));
	fputs("</div><h2>TTFT histogram</h2>", out);
	put_histogram(out, summary);
	fputs("<h2>Agents</h2><p>Slow: TTFT p95 above " SLOW_P " ms. Click a column to sort.</p>", out);
	put_agents(out, summary);
	fputs("<h2>Cold vs warm TTFT per agent</h2>", out);
	put_cold_warm(out, summary);
	fputs("<h2>TTFT over time</h2>", out);
	put_over_time(out, report);
	fputs("<h2>Where the time goes</h2>", out);
	put_phases(out, report);
	fputs("</section>", out);
}

/* The page. */
void
html_report(FILE *out, const json_t *reports, const char *selected)
{
	size_t i;
	const json_t *r;

	fputs("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	      "<title>loomlat latency</title><style>",
	      out);
	fputs(STYLE, out);
	fputs("@media(max-width:600px){", out);
	put_cell_labels(out, "agents", AGENT_COLUMNS, N_AGENT_COLUMNS);
	put_cell_labels(out, "phases", PHASE_COLUMNS, N_PHASE_COLUMNS);
	fputs("}</style></head><body data-selected=\"", out);
	put_escaped(out, selected);
	fputs("\"><h1>loomlat: time to first token and cold starts</h1><nav>", out);
	json_array_foreach(reports, i, r)
	{
		const char *range = dash_str(r, "range");

		fputs("<a href=\"#r-", out);
		put_escaped(out, range);
		fputs("\" data-range=\"", out);
		put_escaped(out, range);
		fprintf(out, "\"%s>", strcmp(range, selected) == 0 ? " class=\"on\"" : "");
		put_escaped(out, range);
		fputs("</a>", out);
	}
	fputs("</nav>", out);
	json_array_foreach(reports, i, r)
	{
		put_range(out, r);
	}
	fputs("<script>", out);
	fputs(SCRIPT, out);
	fputs("</script></body></html>\n", out);
}
